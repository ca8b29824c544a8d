"""The claims notebook 06 makes about a conv VAE trained on faces, checked on the drawn CelebA stand-in:
adding an attribute vector makes a classifier see more of the attribute, and a trained faces model survives a
save -> load by path."""
import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from course_lib import celeba, config, models, train
from course_lib.latent import attribute_vector

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_faces.ipynb"


def notebook_function(name: str):
    """The function `name` as notebook 06 defines it, run with the notebook's imports: the test measures with the
    notebook's own helper, not a copy of it."""
    cells = [ast.parse("".join(cell["source"])) for cell in json.loads(NOTEBOOK.read_text())["cells"]
             if cell["cell_type"] == "code"]
    imports = [node for tree in cells for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    found = [node for tree in cells for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert len(found) == 1, f"notebook 06 should define {name}() once; it defines it {len(found)} times"
    namespace: dict = {}
    exec(compile(ast.Module(body=imports + found, type_ignores=[]), str(NOTEBOOK), "exec"), namespace)
    return namespace[name]


pixels = notebook_function("pixels")  # the attribute classifier's input, as the notebook computes it


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


@pytest.mark.parametrize("name", ["Eyeglasses", "Blond_Hair"])
def test_adding_an_attribute_vector_raises_a_classifier_score(standin_faces, faces_vae, name):
    model, _ = faces_vae
    x = standin_faces.as_float()
    has = standin_faces.attribute(name)
    train_x, train_has, held_x, held_has = x[:500], has[:500], x[500:], has[500:]
    classifier = LogisticRegression(C=0.1, max_iter=1000).fit(pixels(train_x), train_has.numpy())
    assert classifier.score(pixels(held_x), held_has.numpy()) > 0.9  # the judge itself is good
    with torch.no_grad():
        z = model.encode(train_x)
        direction = attribute_vector(z, train_has)
        base = model.encode(held_x[~held_has])  # held-out faces without the attribute
        strengths = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        scores = [classifier.predict_proba(pixels(model.decode(base + s * direction)))[:, 1].mean()
                  for s in strengths]
    shown = f"{name}: scores {np.round(scores, 3)} for strengths {strengths}"
    assert scores[-1] > scores[2] + 0.1 and scores[-1] > scores[0] + 0.15, shown
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
