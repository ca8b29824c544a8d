from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from course_lib import density, viz
from course_lib.models import VAE

W = torch.randn(2, 28 * 28, generator=torch.Generator().manual_seed(0))


def decode(z):
    """A tiny fixed decoder: z (n, 2) -> (n, 1, 28, 28) in [0, 1]."""
    return torch.sigmoid(z @ W).reshape(-1, 1, 28, 28)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled(ax):
    return ax.get_title() and (ax.get_xlabel() or ax.get_ylabel())


@pytest.mark.parametrize("images", [
    torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8),
    torch.rand(6, 3, 32, 32),
    np.random.rand(6, 1, 28, 28).astype(np.float32),
])
def test_show_images_handles_grey_rgb_uint8_float(images):
    ax = viz.show_images(images, title="Some images", nrow=3, row_labels=["first", "second"],
                         col_labels=["a", "b", "c"])
    assert ax.get_title() == "Some images" and "6 images" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first", "second"]
    shown = ax.get_images()[0].get_array()
    assert shown.shape[:2] == (2 * 28 + 2, 3 * 28 + 4) or shown.shape[:2] == (2 * 32 + 2, 3 * 32 + 4)


def test_show_images_scales_uint8_to_the_same_picture_as_float():
    x = torch.rand(2, 1, 8, 8)
    as_uint8 = (x * 255).round().to(torch.uint8)
    assert torch.allclose(viz.as_images(as_uint8), viz.as_images(x), atol=1 / 255)


@pytest.mark.parametrize("images, message", [
    (torch.rand(4, 2, 28, 28), "C = 1"),
    (torch.rand(28, 28), "shape"),
    (torch.rand(2, 1, 4, 4) * 2 - 1, r"\[0, 1\]"),
    (torch.full((1, 1, 2, 2), float("nan")), r"\[0, 1\]"),
    (torch.ones(1, 1, 2, 2, dtype=torch.int64), "dtype"),
])
def test_show_images_rejects_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        viz.show_images(images, title="t")


def test_show_images_checks_label_counts():
    with pytest.raises(ValueError, match="row_labels"):
        viz.show_images(torch.rand(4, 1, 5, 5), title="t", nrow=2, row_labels=["only one"])
    with pytest.raises(ValueError, match="col_labels"):
        viz.show_images(torch.rand(4, 1, 5, 5), title="t", nrow=2, col_labels=["a", "b", "c"])


def test_to_png_is_a_nearest_neighbour_enlargement():
    x = torch.rand(3, 7, 5)
    picture = Image.open(__import__("io").BytesIO(viz.to_png(x, scale=4)))
    assert picture.size == (20, 28) and picture.mode == "RGB"
    pixels = np.asarray(picture)
    expected = (x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(pixels[::4, ::4], expected) and np.array_equal(pixels[3::4, 3::4], expected)
    grey = Image.open(__import__("io").BytesIO(viz.to_png(torch.rand(1, 1, 28, 28))))
    assert grey.mode == "L" and grey.size == (112, 112)
    with pytest.raises(ValueError, match="scale"):
        viz.to_png(x, scale=0)
    with pytest.raises(ValueError, match="single image"):
        viz.to_png(torch.rand(2, 1, 4, 4))


def test_plot_latent_colours_by_label_with_class_names():
    z, labels = torch.randn(300, 2), torch.arange(300) % 3
    ax = viz.plot_latent(z, labels, classes=["cat", "dog", "owl"], title="Latent map")
    assert labelled(ax) and ax.get_xlabel() == "z[0]" and ax.get_ylabel() == "z[1]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog", "owl"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 300
    ax = viz.plot_latent(z, title="Unlabelled", max_points=50)
    assert len(ax.collections[0].get_offsets()) == 50


def test_plot_latent_rejects_bad_input():
    with pytest.raises(ValueError, match="z must have shape"):
        viz.plot_latent(torch.randn(10, 3), title="t")
    with pytest.raises(ValueError, match="labels must have shape"):
        viz.plot_latent(torch.randn(10, 2), torch.zeros(9), title="t")


def test_plot_decoded_grid_places_images_by_latent_coordinates():
    fig, (left, right) = plt.subplots(1, 2)
    ax = viz.plot_decoded_grid(decode, n=5, extent=(-2, 2), ax=left)
    assert ax is left and labelled(ax) and ax.get_xlabel() == "z[0]" and ax.get_ylabel() == "z[1]"
    grid = ax.get_images()[0].get_array()
    assert grid.shape == (5 * 28, 5 * 28)
    # top-left cell is z = (-2, 2): rows run from large z[1] at the top to small at the bottom
    expected = decode(torch.tensor([[-2.0, 2.0]]))[0, 0].numpy()
    assert np.allclose(grid[:28, :28], expected, atol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "-2"
    q = viz.plot_decoded_grid(decode, n=4, grid_values="quantiles", ax=right)
    assert "quantiles" in q.get_xlabel()
    first = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.125)).item()
    assert np.allclose(q.get_images()[0].get_array()[:28, :28], decode(torch.tensor([[first, -first]]))[0, 0],
                       atol=1e-5)


def test_decoder_of_finds_the_decode_method_and_device_of_a_model():
    torch.manual_seed(0)
    model = VAE("mlp", latent_dim=2, widths=(8,)).eval()
    for source in (model, model.decode):
        decode, device = viz.decoder_of(source)
        assert decode == model.decode and device == torch.device("cpu")
    sequential = torch.nn.Sequential(torch.nn.Linear(2, 4)).eval()
    assert viz.decoder_of(sequential)[0] is sequential  # a module that is itself a decoder
    assert viz.decoder_of(model.to("meta"))[1] == torch.device("meta")  # the model's own device, not the CPU
    assert viz.decoder_of(lambda z: model.decode(z))[1] == torch.device("cpu")  # a function: nothing to read
    with pytest.raises(TypeError, match="got a int"):
        viz.decoder_of(3)


def test_plot_decoded_grid_takes_a_model_and_warns_in_training_mode():
    torch.manual_seed(0)
    model = VAE("mlp", latent_dim=2, widths=(8,))
    with pytest.warns(UserWarning, match="training mode") as caught:
        viz.plot_decoded_grid(model, n=3)
    assert caught[0].filename == __file__
    ax = viz.plot_decoded_grid(model.eval(), n=3)
    with torch.no_grad():
        corner = model.decode(torch.tensor([[-3.0, 3.0]]))[0, 0].numpy()
    assert np.allclose(ax.get_images()[0].get_array()[:28, :28], corner, atol=1e-6)


def test_plot_decoded_grid_explains_a_wrong_latent_size():
    wide = torch.nn.Linear(8, 784)
    with pytest.raises(ValueError, match="2-D latent space"):
        viz.plot_decoded_grid(lambda z: torch.sigmoid(wide(z)).reshape(-1, 1, 28, 28), n=3)


def test_plot_history_draws_train_and_test():
    history = SimpleNamespace(train_loss=[3.0, 2.0, 1.5], test_loss=[3.2, 2.4, 2.0], loss_name="loss (nats/image)")
    ax = viz.plot_history(history, title="Autoencoder training")
    assert ax.get_title() == "Autoencoder training" and ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss (nats/image)"
    assert [line.get_label() for line in ax.get_lines()] == ["train", "test"]
    assert list(ax.get_lines()[1].get_ydata()) == [3.2, 2.4, 2.0]
    only_train = viz.plot_history(SimpleNamespace(train_loss=[1.0], test_loss=[], loss_name="nll"))
    assert len(only_train.get_lines()) == 1
    with pytest.raises(ValueError, match="train_loss"):
        viz.plot_history(SimpleNamespace(loss_name="x"))


def test_plot_density_2d_draws_the_density_into_the_given_axes_or_its_own_figure():
    x, y = density.make_two_class_data(100)
    model = density.GaussianClassifier().fit(x, y)
    fig, (left, right) = plt.subplots(1, 2)
    ax = viz.plot_density_2d(model.score_samples, ax=right, points=x, labels=y, title="p(x)", grid=30)
    assert ax is right and not left.collections and labelled(ax) and ax.get_title() == "p(x)"
    assert len(fig.axes) == 3  # the two axes and the colour bar of the right one
    assert ax.get_xlim() == (-4.5, 4.5) and ax.get_ylim() == (-4.0, 4.0)
    scatter = [c for c in ax.collections if len(c.get_offsets()) == 100]
    assert len(scatter) == 1 and np.allclose(scatter[0].get_offsets(), x.numpy())
    # the densest filled level lies around the mode of the model's density
    standard = viz.plot_density_2d(lambda q: torch.distributions.MultivariateNormal(
        torch.zeros(2), torch.eye(2)).log_prob(q), title="N(0, I)", grid=41)
    assert standard.figure is not fig and standard.figure.axes[0] is standard  # its own figure, not plt.gca()
    contours = standard.collections[0]  # one filled region per level, the densest last
    assert contours.levels.max() == pytest.approx(1 / (2 * np.pi), rel=0.1)  # the peak of N(0, I)
    top = contours.get_paths()[-1].vertices
    assert len(top) and np.abs(top.mean(0)).max() < 0.5 and np.abs(top).max() < 1.5
    with pytest.raises(ValueError, match=r"log densities \(m,\); for m = 100 it returned shape \(100, 2\)"):
        viz.plot_density_2d(lambda q: q, title="t", grid=10)
    with pytest.raises(ValueError, match="xlim"):
        viz.plot_density_2d(model.score_samples, title="t", xlim=(1, -1))
