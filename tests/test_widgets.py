import io

import ipywidgets
import pytest
import torch
from PIL import Image

from course_lib import viz, widgets
from course_lib.latent import lerp, slerp
from course_lib.models import VAE

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
W2 = torch.randn(2, 28 * 28, generator=torch.Generator().manual_seed(0))
W8 = torch.randn(8, 3 * 32 * 32, generator=torch.Generator().manual_seed(1))


def decode(z):
    """Tiny fixed grey decoder: z (n, 2) -> (n, 1, 28, 28) in [0, 1]."""
    return torch.sigmoid(z @ W2).reshape(-1, 1, 28, 28)


def decode_rgb(z):
    """Tiny fixed RGB decoder: z (n, 8) -> (n, 3, 32, 32) in [0, 1]."""
    return torch.sigmoid(z @ W8).reshape(-1, 3, 32, 32)


def png_size(data):
    return Image.open(io.BytesIO(data)).size


def test_latent_sliders_update_the_same_image_in_place():
    s = widgets.latent_sliders(decode, 2, value_range=(-2, 2))
    image, children, before = s.image_widget, s.widget.children, s.image_bytes
    assert [slider.description for slider in s.sliders] == ["z[0]", "z[1]"]
    s.sliders[1].value = 1.5  # fires the callback synchronously
    assert s.image_bytes != before and s.image_widget is image and s.widget.children is children
    assert torch.equal(s.z, torch.tensor([0.0, 1.5]))
    assert torch.allclose(s.image, decode(torch.tensor([[0.0, 1.5]]))[0])
    assert png_size(s.image_bytes) == (28 * 7, 28 * 7)  # automatic scale: about 200 pixels across


def test_latent_sliders_set_decodes_once(monkeypatch):
    s = widgets.latent_sliders(decode, 2)
    calls = []
    monkeypatch.setattr(s, "decode", lambda z: calls.append(z) or decode(z))
    s.set([1.0, -1.0])
    assert len(calls) == 1 and torch.equal(calls[0], torch.tensor([[1.0, -1.0]]))


def test_latent_sliders_hold_other_coordinates_at_start():
    start = torch.arange(8.0) / 10
    s = widgets.latent_sliders(decode_rgb, 8, start=start, dims=[2, 5], scale=2)
    s.set([1.0, -1.0])
    expected = start.clone()
    expected[2], expected[5] = 1.0, -1.0
    assert torch.allclose(s.z, expected) and png_size(s.image_bytes) == (64, 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"latent_dim": 0}, "latent_dim"),
    ({"latent_dim": 2, "value_range": (3, -3)}, "value_range"),
    ({"latent_dim": 2, "start": torch.zeros(3)}, "start"),
    ({"latent_dim": 2, "dims": [2]}, r"dims\[0\]=2 must be a whole number from 0 to 1"),
    ({"latent_dim": 2, "dims": [1, 1]}, "distinct"),
    ({"latent_dim": 2, "scale": 0}, "scale=0 must be a whole number from 1 to 32"),
    ({"latent_dim": 2, "start": torch.tensor([0.0, float("nan")])}, "start contains NaN"),
    ({"latent_dim": 40}, "dims="),
])
def test_latent_sliders_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        widgets.latent_sliders(decode, **kwargs)


def test_a_decoder_breaking_the_contract_is_named():
    with pytest.raises(ValueError, match=r"decode\(z\) must return images"):
        widgets.latent_sliders(lambda z: z, 2)
    with pytest.raises(TypeError, match="model must be a model with a decode method .* got a str"):
        widgets.latent_sliders("model", 2)


def explorers_of(model):
    """Each explorer built on `model` (a 2-D latent model, a bound method or a function)."""
    return [lambda: widgets.latent_sliders(model, 2), lambda: widgets.latent_map(model, torch.randn(50, 2)),
            lambda: widgets.interpolation(model, torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])),
            lambda: widgets.attribute_slider(model, torch.zeros(2), torch.ones(2))]


def test_every_explorer_takes_the_model_and_warns_when_it_is_in_training_mode(recwarn):
    torch.manual_seed(0)
    model = VAE("mlp", latent_dim=2, widths=(8,))  # a new model is in training mode
    for make in explorers_of(model) + explorers_of(model.decode):
        with pytest.warns(UserWarning, match="training mode; call model.eval") as caught:
            make()
        assert caught[0].filename == __file__  # the warning points at the learner's line
    model.eval()
    for make in explorers_of(model) + explorers_of(model.decode) + explorers_of(lambda z: model.decode(z)):
        w = make()
        with torch.no_grad():
            assert torch.allclose(w.image, model.decode(w.z[None])[0])  # the model's decode, at the point shown
    assert not [w for w in recwarn if "training mode" in str(w.message)]


def test_latent_map_moves_the_marker_and_decodes_the_chosen_point():
    z, labels = torch.randn(400, 2), torch.arange(400) % 4
    m = widgets.latent_map(decode, z, labels, classes=["a", "b", "c", "d"])
    image, scatter, before_map = m.image_widget, m.map_widget, m.map_widget.value
    m.x_slider.value = 1.0
    assert m.map_widget.value != before_map and m.map_widget is scatter and m.image_widget is image
    m.set(-1.0, 0.5)
    assert torch.allclose(m.image, decode(torch.tensor([[-1.0, 0.5]]))[0])
    x, y = (round(v) for v in m._to_pixel(-1.0, 0.5))
    red = Image.open(io.BytesIO(m.map_widget.value)).convert("RGB").getpixel((x, y))
    assert red[0] > 180 and red[1] < 60 and red[2] < 60  # the marker is drawn where the point is
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        widgets.latent_map(decode, torch.randn(10, 3))


def test_interpolation_ends_are_the_decoded_endpoints():
    torch.manual_seed(0)
    a, b = torch.randn(8), torch.randn(8)
    w = widgets.interpolation(decode_rgb, a, b, steps=10)
    image = w.image_widget
    ends = decode_rgb(torch.stack([a, b]))
    w.set(t=0.0)
    assert torch.allclose(w.image, ends[0], atol=1e-6)
    w.set(t=1.0)
    assert torch.allclose(w.image, ends[1], atol=1e-6)
    w.set(t=0.5, method="slerp")
    assert torch.allclose(w.z, slerp(a, b, 0.5)) and torch.allclose(w.image, decode_rgb(slerp(a, b, 0.5)[None])[0])
    w.method_buttons.value = "linear"  # the buttons fire the same callback
    assert torch.allclose(w.z, lerp(a, b, 0.5)) and w.image_widget is image
    with pytest.raises(ValueError, match="method='cubic'"):
        widgets.interpolation(decode_rgb, a, b, method="cubic")
    with pytest.raises(ValueError, match="z_end"):
        widgets.interpolation(decode_rgb, a, torch.randn(7))


def test_interpolation_between_opposite_or_zero_ends_offers_the_straight_line_only():
    a = torch.randn(8)
    for end in (-2 * a, torch.zeros(8)):
        with pytest.raises(ValueError, match="slerp: "):
            widgets.interpolation(decode_rgb, a, end, method="slerp")
        w = widgets.interpolation(decode_rgb, a, end)
        assert w.method_buttons.options == ("linear",) and w.static_png().startswith(b"\x89PNG")
        with pytest.raises(ValueError, match="not one of \\('linear',\\) for these ends"):
            w.set(method="slerp")


def test_attribute_slider_adds_the_direction():
    z, direction = torch.randn(8), torch.randn(8)
    w = widgets.attribute_slider(decode_rgb, z[None], direction, strength_range=(-2, 2), name="smile")
    assert torch.allclose(w.image, decode_rgb(z[None])[0])  # starts at strength 0: the original
    before = w.image_bytes
    w.strength_slider.value = 1.5
    assert w.image_bytes != before
    assert torch.allclose(w.image, decode_rgb((z + 1.5 * direction)[None])[0], atol=1e-6)
    with pytest.raises(ValueError, match="strength_range"):
        widgets.attribute_slider(decode_rgb, z, direction, strength_range=(1, 1))


def all_widgets():
    return [
        widgets.latent_sliders(decode, 2),
        widgets.latent_map(decode, torch.randn(100, 2), torch.arange(100) % 3),
        widgets.interpolation(decode_rgb, torch.randn(8), torch.randn(8)),
        widgets.attribute_slider(decode_rgb, torch.randn(8), torch.randn(8)),
    ]


def test_display_offers_the_widget_and_a_static_picture(monkeypatch):
    monkeypatch.delenv("COURSE_STATIC_WIDGETS", raising=False)
    for w in all_widgets():
        bundle = w._repr_mimebundle_()
        assert bundle[WIDGET_VIEW]["model_id"] == w.widget.model_id
        assert bundle["image/png"].startswith(b"\x89PNG") and min(png_size(bundle["image/png"])) > 100
        assert not bundle["text/plain"].startswith(("VBox", "HBox")) and "static picture" in bundle["text/plain"]
        assert isinstance(w.widget, ipywidgets.VBox)


def test_static_mode_shows_only_the_picture(monkeypatch):
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    bundle = widgets.latent_sliders(decode, 2)._repr_mimebundle_()
    assert WIDGET_VIEW not in bundle and bundle["image/png"].startswith(b"\x89PNG")


def test_every_move_decodes_one_point_on_one_thread_and_shows_it(monkeypatch):
    """The hot path (its speed is measured by benchmarks/widget_latency.py): one decode of one point per move,
    on one thread (the thread count is restored after), and the picture is that point's image."""
    s = widgets.latent_sliders(decode, 2, scale=3)
    threads, calls = torch.get_num_threads(), []

    def counting(z):
        calls.append((z.clone(), torch.get_num_threads()))
        return decode(z)

    monkeypatch.setattr(s, "decode", counting)
    for k in range(20):
        s.sliders[k % 2].value = -2 + 0.2 * k
        z = s.z[None]
        assert len(calls) == k + 1 and torch.equal(calls[-1][0], z) and calls[-1][1] == 1
        assert s.image_bytes == viz.to_png(decode(z)[0], scale=3)
    assert torch.get_num_threads() == threads


def test_widgets_carry_the_css_classes_the_browser_test_finds_them_by():
    kinds = ["course-latent-sliders", "course-latent-map", "course-interpolation", "course-attribute-slider"]
    for w, kind in zip(all_widgets(), kinds):
        assert w.widget._dom_classes == ("course-latent-widget", kind)
        assert "course-decoded-image" in w.image_widget._dom_classes
        images = [c for c in _descendants(w.widget) if "course-decoded-image" in getattr(c, "_dom_classes", ())]
        assert images == [w.image_widget]  # exactly one decoded image, and it is inside the panel
    m = all_widgets()[1]
    assert "course-map-image" in m.map_widget._dom_classes and m.map_widget in _descendants(m.widget)


def _descendants(widget):
    for child in getattr(widget, "children", ()):
        yield child
        yield from _descendants(child)


def test_static_pictures_are_not_cut_off_at_the_edges():
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    ten_classes = widgets.latent_map(decode, torch.randn(300, 2), torch.arange(300) % 10, classes=fashion)
    for w in [*all_widgets(), ten_classes]:
        grey = Image.open(io.BytesIO(w.static_png())).convert("L")
        width, height = grey.size
        frame = [grey.crop(box) for box in ((0, 0, width, 1), (0, height - 1, width, height),
                                            (0, 0, 1, height), (width - 1, 0, width, height))]
        assert all(edge.getextrema() == (255, 255) for edge in frame), f"{type(w).__name__}: drawn past the edge"
