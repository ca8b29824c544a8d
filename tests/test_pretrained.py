"""The committed checkpoints of notebook 05 are found wherever the course is installed, load, are small, and
reproduce the figures the script measured; the claims notebook 05b makes about those figures hold for figures
recomputed here."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib import config, density, models, pretrained, train

REPOSITORY = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPOSITORY / "notebooks" / "checkpoints"


@pytest.fixture(scope="module")
def figures():
    return pretrained.load_figures()


@pytest.fixture(scope="module")
def data():
    return pretrained.binarised_fashion_mnist("train"), pretrained.binarised_fashion_mnist("test")


@pytest.fixture(scope="module")
def recomputed(data):
    """Every figure of figures.json that the suite can afford, measured again from the data and the checkpoints:
    on the full test set, and on the first CHECK_IMAGES test images (the subset the IWAE check uses)."""
    train_images, test_images = data
    first = test_images[:pretrained.CHECK_IMAGES]
    independent = density.IndependentBernoulli().fit(train_images)
    mixture = density.BernoulliMixture(**pretrained.MIXTURE).fit(train_images)
    full = {"independent pixels": independent.score(test_images), "Bernoulli mixture (K=100)": mixture.score(test_images)}
    subset = {"independent pixels": independent.score(first), "Bernoulli mixture (K=100)": mixture.score(first)}
    for name in ("vae_2d", "vae_16d"):
        model = pretrained.load(name).model
        config.seed(0)
        full[name] = {"elbo": -train.evaluate(model, test_images, device="cpu")}
        subset[name] = pretrained.check_figures(model, test_images)
    return full, subset


def test_checkpoints_are_committed_small_and_load():
    assert pretrained.checkpoint_folder() == CHECKPOINTS  # this clone's own folder
    total = 0
    for name, (cls, latent_dim) in pretrained.MODELS.items():
        total += (CHECKPOINTS / f"{name}.pt").stat().st_size
        checkpoint = pretrained.load(name)
        assert type(checkpoint.model) is cls and checkpoint.model.latent_dim == latent_dim
        assert checkpoint.model.widths == pretrained.WIDTHS
        epochs = sum(epochs for epochs, _ in pretrained.STAGES)
        assert checkpoint.history is not None and len(checkpoint.history.train_loss) == epochs
    assert total < 5_000_000, f"checkpoints take {total / 1e6:.1f} MB; keep them to a few MB"
    with pytest.raises(ValueError, match="vae_3d"):
        pretrained.load("vae_3d")


def test_the_recomputed_figures_match_the_committed_ones(figures, recomputed):
    full, subset = recomputed
    m = figures["models"]
    assert figures["n_test"] == 10_000 and "binarised by sampling" in figures["likelihood"]
    assert figures["recipe"]["stages"] == [list(stage) for stage in pretrained.STAGES]
    for label in ("independent pixels", "Bernoulli mixture (K=100)"):  # deterministic fits: the very same numbers
        assert full[label] == pytest.approx(m[label]["log_likelihood"], abs=0.01), label
        assert m[label]["bpd"] == pytest.approx(density.bits_per_dim(full[label]), abs=1e-4)
    for name in ("vae_2d", "vae_16d"):
        assert full[name]["elbo"] == pytest.approx(m[name]["elbo"], abs=0.3), name  # one z per image: noisy
        for key, value in subset[name].items():  # the same seeds: the same numbers
            assert value == pytest.approx(m[name][key], abs=0.05), (name, key)
        assert 0 < m[name]["elbo_bpd"] == pytest.approx(density.bits_per_dim(m[name]["elbo"]))


def test_notebook_05_claims_hold(figures):
    """Notebook 05b's table and what it says of it (the test above ties these figures to the checkpoints)."""
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
    # notebook 05b: the 16-D VAE's decoder "has about 40 600 parameters against the mixture's 78 500; the encoder's
    # other 56 000 only serve to fit and evaluate it"
    vae = pretrained.build("vae_16d")
    decoder, encoder = (sum(p.numel() for p in part.parameters()) for part in (vae.decoder, vae.encoder))
    assert round(decoder, -2) == 40_600 and round(encoder, -3) == 56_000
    assert decoder + encoder == vae.num_parameters()
    assert isinstance(pretrained.build("ae_2d"), models.Autoencoder)


# ---- finding the checkpoints ------------------------------------------------------------------------------------

def test_the_environment_variable_wins_and_a_folder_without_them_is_explained(tmp_path, monkeypatch):
    copy = tmp_path / "mine"
    shutil.copytree(CHECKPOINTS, copy)
    monkeypatch.setenv(pretrained.ENV, str(copy))
    assert pretrained.checkpoint_folder() == copy and pretrained.load_figures() == json.loads(
        (CHECKPOINTS / "figures.json").read_text())
    (copy / "vae_16d.pt").unlink()
    with pytest.raises(FileNotFoundError) as error:
        pretrained.load("vae_2d")
    message = str(error.value)
    assert f"{copy} ($COURSE_CHECKPOINTS)" in message and "vae_16d.pt" in message and "COURSE_CHECKPOINTS=" in message
    assert pretrained.find_checkpoints() is None


def test_found_after_pip_install_into_site_packages(tmp_path):
    """`pip install .` copies course_lib away from the repository; the checkpoints are then found from the
    working folder (notebooks/, the repository, solutions/), or an error says where to put them."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    shutil.copytree(REPOSITORY / "course_lib", source / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--disable-pip-version-check", "--target", str(site), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)
    probe = f"""
import json, os
import course_lib, course_lib.pretrained as p
out = {{"module": course_lib.__file__}}
for where in {[str(REPOSITORY / "notebooks"), str(REPOSITORY), str(REPOSITORY / "solutions"), str(tmp_path)]!r}:
    os.chdir(where)
    try:
        out[where] = str(p.checkpoint_folder()) if p.load("vae_2d").model.latent_dim == 2 else "wrong model"
    except FileNotFoundError as error:
        out[where] = str(error)
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", pretrained.ENV)} | {"PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    assert found.pop("module").startswith(str(site))  # the installed copy, not this clone
    outside = found.pop(str(tmp_path))
    assert all(where == str(CHECKPOINTS) for where in found.values()), found
    assert "were not found" in outside and "COURSE_CHECKPOINTS" in outside and "notebooks/checkpoints" in outside


def test_the_stored_collapse_sweep_is_consistent():
    """collapse.json: the recipe and settings of pretrained, counts that match the stored activities, pictures in
    range, and rate and distortion that are nats per image of sensible size."""
    sweep = pretrained.load_collapse(CHECKPOINTS)
    recipe = sweep["recipe"]
    assert recipe == {**pretrained.COLLAPSE_RECIPE, "widths": list(pretrained.COLLAPSE_RECIPE["widths"]), "n_test": 10_000}
    steps = recipe["epochs"] * -(-recipe["n_train"] // recipe["batch_size"])
    assert list(sweep["settings"]) == list(pretrained.COLLAPSE_SETTINGS)
    for label, entry in sweep["settings"].items():
        setting = pretrained.COLLAPSE_SETTINGS[label]
        assert (entry["beta"], entry["free_bits"]) == (setting["beta"], setting["free_bits"])
        assert entry["kl_warmup"] == round(setting["warmup"] * steps)
        assert len(entry["activity"]) == recipe["latent_dim"]
        assert entry["active_units"] == sum(a > 0.01 for a in entry["activity"])
        assert 0 < entry["rate"] < 100 and 150 < entry["distortion"] < 400
        for pictures in pretrained.collapse_pictures(entry):
            assert pictures.shape == (pretrained.COLLAPSE_SHOWN, 1, 28, 28)
            assert 0 <= pictures.min() and pictures.max() <= 1


def test_a_missing_collapse_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_lib.pretrained collapse"):
        pretrained.load_collapse(tmp_path)
