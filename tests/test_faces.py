"""The claims notebook 06 makes about a conv VAE trained on faces, checked on the drawn CelebA stand-in:
adding an attribute vector makes a classifier see more of the attribute, and a trained faces model survives a
save -> load by path; and the workshop checkpoint that `python -m course_lib.pretrained faces` makes for it."""
import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from course_lib import celeba, config, models, pretrained, train
from course_lib.latent import attribute_vector, classifier_pixels

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_faces.ipynb"




@pytest.fixture(scope="module")
def standin_faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("celeba")
    celeba.make_standin_celeba(folder, n=600, seed=3)
    faces = celeba.load_celeba(root=folder, size=32)
    assert faces.is_standin and len(faces) == 600
    return faces


@pytest.fixture(scope="module")
def faces_vae(standin_faces):
    config.seed(0)
    model = models.VAE(kind="conv", latent_dim=16, widths=(16, 32, 64), image_shape=(3, 32, 32))
    history = train.fit(model, standin_faces.images[:500], epochs=6, batch_size=32, lr=3e-3, progress=False)
    return model, history


@pytest.mark.parametrize("name", ["Smiling", "Eyeglasses", "Blond_Hair", "Male"])  # the four notebook 06 shows
def test_adding_an_attribute_vector_raises_a_classifier_score(standin_faces, faces_vae, name):
    model, _ = faces_vae
    x = standin_faces.as_float()
    has = standin_faces.attribute(name)
    train_x, train_has, held_x, held_has = x[:500], has[:500], x[500:], has[500:]
    classifier = LogisticRegression(C=0.1, max_iter=1000).fit(classifier_pixels(train_x), train_has.numpy())
    # the judge itself is good: on faces with and on faces without the attribute (50% would be guessing)
    assert balanced_accuracy_score(held_has.numpy(), classifier.predict(classifier_pixels(held_x))) > 0.8
    with torch.no_grad():
        z = model.encode(train_x)
        direction = attribute_vector(z, train_has)
        base = model.encode(held_x[~held_has])  # held-out faces without the attribute
        strengths = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        scores = [classifier.predict_proba(classifier_pixels(model.decode(base + s * direction)))[:, 1].mean()
                  for s in strengths]
    shown = f"{name}: scores {np.round(scores, 3)} for strengths {strengths}"
    assert scores[-1] > scores[2] + 0.05 and scores[-1] > scores[0] + 0.1, shown  # "all four curves rise"
    assert all(b > a - 0.02 for a, b in zip(scores, scores[1:])), shown


def test_faces_model_saves_and_loads_by_path(standin_faces, faces_vae, tmp_path):
    model, history = faces_vae
    path = train.save_checkpoint(model, tmp_path / "faces_vae.pt", history=history, extra={"attribute": "demo"})
    loaded = train.load_checkpoint(str(path))
    assert isinstance(loaded.model, models.VAE) and loaded.extra == {"attribute": "demo"}
    x = standin_faces.as_float()[:8]
    with torch.no_grad():
        assert torch.allclose(loaded.model.encode(x), model.cpu().encode(x), atol=1e-6)
        z = torch.randn(4, 16)
        assert torch.allclose(loaded.model.decode(z), model.decode(z), atol=1e-6)
    assert loaded.history.train_loss == history.train_loss


# ---- the workshop checkpoint: `python -m course_lib.pretrained faces` ----

@pytest.fixture
def standin_data_dir(tmp_path, monkeypatch):
    """A data folder holding 300 drawn faces, as COURSE_DATA_DIR; no cache, no mirror, no FACES_CHECKPOINT."""
    folder = celeba.make_standin_celeba(tmp_path / "data", n=300, seed=4)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_CELEBA_URL", "http://127.0.0.1:9/nobody")
    monkeypatch.delenv("FACES_CHECKPOINT", raising=False)
    return folder


def test_the_faces_command_writes_a_labelled_checkpoint_with_measured_figures(standin_data_dir, capsys):
    path = pretrained.main(["faces", "--n", "300", "--epochs", "2", "--no-download"])
    assert path == standin_data_dir / "faces_vae_32px_STANDIN.pt" and "STAND-IN" in capsys.readouterr().out
    checkpoint = train.load_checkpoint(path)
    figures = json.loads((standin_data_dir / "faces_vae_32px_STANDIN_figures.json").read_text())
    assert figures == checkpoint.extra and figures["is_standin"] and "DRAWN STAND-IN" in figures["data"]
    assert figures["train_faces"] == 270 and figures["epochs"] == 2 == len(checkpoint.history.train_loss)
    assert tuple(checkpoint.model.config["image_shape"]) == (3, 32, 32) and checkpoint.model.latent_dim == 32
    # the figures are what the saved model measures: recomputed here from the checkpoint and the same faces
    faces = celeba.load_celeba(size=32, n=300)
    again = pretrained.faces_figures(checkpoint.model, faces, 270)
    assert again["held_out_loss"] == pytest.approx(figures["held_out_loss"], rel=1e-4)
    for name in pretrained.FACES_ATTRIBUTES:
        entry = figures["attributes"][name]
        assert entry["scores"] == pytest.approx(again["attributes"][name]["scores"], abs=1e-6)
        assert len(entry["scores"]) == len(pretrained.FACES_STRENGTHS) and 0 < entry["classifier_accuracy"] <= 1


def test_notebook_06_finds_the_checkpoint_in_the_data_folder(standin_data_dir, monkeypatch):
    assert pretrained.find_faces_checkpoint(standin=True) is None
    made = standin_data_dir / pretrained.faces_file(32, standin=True)
    made.write_bytes(b"")
    assert pretrained.find_faces_checkpoint(standin=True) == made
    assert pretrained.find_faces_checkpoint(standin=False) is None  # a stand-in model is never used for CelebA
    monkeypatch.setenv("FACES_CHECKPOINT", str(standin_data_dir / "mine.pt"))
    with pytest.raises(FileNotFoundError, match="FACES_CHECKPOINT=.*mine.pt is not a file"):
        pretrained.find_faces_checkpoint()
    (standin_data_dir / "mine.pt").write_bytes(b"")
    assert pretrained.find_faces_checkpoint() == standin_data_dir / "mine.pt"


def test_a_model_of_celeba_is_never_written_into_the_repository(standin_data_dir, monkeypatch):
    (standin_data_dir / celeba.STANDIN_MARKER).unlink()  # to the loader, these faces are now CelebA
    inside = Path(pretrained.__file__).resolve().parent.parent / "notebooks" / "checkpoints"
    monkeypatch.setattr(pretrained.train, "fit", None)  # it must refuse before training
    with pytest.raises(SystemExit, match="Refusing to write a model trained on CelebA into .*inside"):
        pretrained.faces_main(["--n", "300", "--no-download", "--out", str(inside)])
    assert not list(inside.glob("faces_vae*"))


def test_the_workshop_recipe_is_notebook_06s():
    cells = json.loads((Path(__file__).parents[1] / "notebooks" / "06_faces.ipynb").read_text())["cells"]
    code = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    full = {name: ast.literal_eval(re.search(pattern, code).group(1)) for name, pattern in [
        ("widths", r"widths = config\.pick\(full=(\([^)]*\))"), ("batch_size", r"batch_size=config\.pick\(full=(\d+)"),
        ("lr", r"lr=config\.pick\(full=([0-9.e-]+)"), ("n", r"n=config\.pick\(full=([0-9_]+)"),
        ("latent_dim", r"LATENT_DIM = (\d+)"), ("size", r"load_celeba\(size=(\d+)")]}
    assert full == pretrained.FACES_RECIPE
    assert "epochs = config.pick(full=pretrained.faces_epochs(n_train)" in code
    assert pretrained.faces_epochs(1800) == 10 and pretrained.faces_epochs(18_000) == 2
