"""The committed checkpoints of notebook 05 load, are small, and reproduce the figures the script measured."""
import pytest
import torch

from course_lib import config, density, models, pretrained, train

NOTEBOOK_02 = {"independent pixels": -385.056, "Bernoulli mixture (K=100)": -256.128}  # notebook 02's figures


@pytest.fixture(scope="module")
def figures():
    return pretrained.load_figures()


@pytest.fixture(scope="module")
def test_images():
    return pretrained.binarised_fashion_mnist("test")


def test_checkpoints_are_committed_small_and_load():
    total = 0
    for name, (cls, latent_dim) in pretrained.MODELS.items():
        path = pretrained.FOLDER / f"{name}.pt"
        total += path.stat().st_size
        checkpoint = pretrained.load(name)
        assert type(checkpoint.model) is cls and checkpoint.model.latent_dim == latent_dim
        assert checkpoint.model.widths == pretrained.WIDTHS
        epochs = sum(epochs for epochs, _ in pretrained.STAGES)
        assert checkpoint.history is not None and len(checkpoint.history.train_loss) == epochs
    assert total < 5_000_000, f"checkpoints take {total / 1e6:.1f} MB; keep them to a few MB"


def test_figures_describe_the_shared_likelihood_definition(figures):
    assert figures["n_test"] == 10_000 and "binarised by sampling" in figures["likelihood"]
    assert figures["recipe"]["stages"] == [list(stage) for stage in pretrained.STAGES]
    for label, reference in NOTEBOOK_02.items():  # the script refits notebook 02's models and gets its figures
        assert figures["models"][label]["log_likelihood"] == pytest.approx(reference, abs=0.01)
    assert figures["models"]["independent pixels"]["bpd"] == pytest.approx(0.7086, abs=1e-4)
    assert figures["models"]["Bernoulli mixture (K=100)"]["bpd"] == pytest.approx(0.4713, abs=1e-4)


def test_independent_pixel_figure_is_recomputed(figures, test_images):
    model = density.IndependentBernoulli().fit(pretrained.binarised_fashion_mnist("train"))
    assert model.score(test_images) == pytest.approx(figures["models"]["independent pixels"]["log_likelihood"],
                                                     abs=1e-3)


@pytest.mark.parametrize("name", ["vae_2d", "vae_16d"])
def test_checkpoints_reproduce_the_reported_figures(name, figures, test_images):
    entry, model = figures["models"][name], pretrained.load(name).model
    config.seed(0)
    assert -train.evaluate(model, test_images, device="cpu") == pytest.approx(entry["elbo"], abs=0.3)
    check = pretrained.check_figures(model, test_images)  # the first 1000 images, ELBO and IWAE with K=100
    for key, value in check.items():
        assert value == pytest.approx(entry[key], abs=0.05), key
    assert 0 < entry["elbo_bpd"] == pytest.approx(density.bits_per_dim(entry["elbo"]))


def test_likelihood_table_ordering_claims_hold(figures):
    m = figures["models"]
    independent, mixture = m["independent pixels"]["log_likelihood"], m["Bernoulli mixture (K=100)"]["log_likelihood"]
    vae2, vae16 = m["vae_2d"], m["vae_16d"]
    for vae in (vae2, vae16):
        assert vae["elbo"] < vae["iwae"] < 0  # the ELBO is the looser lower bound
    assert mixture - independent == pytest.approx(129, abs=1)  # "the mixture gains about 129 nats"
    assert independent < vae2["elbo"] < vae2["iwae"] < mixture  # "the 2-D VAE is still behind the mixture ..."
    assert mixture - vae2["iwae"] == pytest.approx(3, abs=0.5)  # "... by about 3 nats"
    assert vae16["iwae"] > vae16["elbo"] > mixture  # "the 16-D VAE beats the mixture, even by its ELBO ..."
    assert vae16["elbo"] - mixture == pytest.approx(18, abs=1)  # "... by about 18 nats"
    assert -vae16["gap_to_reference"] == pytest.approx(5.8, abs=0.05)  # "5.8 nats per image below" -228.70
    assert vae16["iwae"] > vae2["iwae"]


def test_prior_samples_of_the_checkpoints_are_images_in_range():
    for name in ("vae_2d", "vae_16d"):
        model = pretrained.load(name).model
        samples = model.sample(16, generator=torch.Generator().manual_seed(0))
        assert samples.shape == (16, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
        assert samples.std(0).mean() > 0.05  # different z give different images
        again = model.sample(16, generator=torch.Generator().manual_seed(0))
        assert torch.equal(samples, again)


def test_vae_parameter_count_claim():
    # the notebook says the 16-D VAE has "about 97 000 parameters against the mixture's 78 500"
    assert 90_000 < pretrained.build("vae_16d").num_parameters() < 100_000
    assert isinstance(pretrained.build("ae_2d"), models.Autoencoder)
