"""The claims notebook 06 makes about a conv VAE trained on faces, checked on the drawn CelebA stand-in:
adding an attribute vector makes a classifier see more of the attribute, and a trained faces model survives a
save -> load by path."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from course_lib import celeba, config, models, train
from course_lib.latent import attribute_vector


def pixels(x: torch.Tensor) -> np.ndarray:
    """The classifier's input: images (n, 3, 32, 32) averaged down to 16x16, as (n, 768)."""
    return torch.nn.functional.avg_pool2d(x, 2).flatten(1).numpy()


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
    classifier = LogisticRegression(C=0.1, max_iter=1000).fit(pixels(train_x), train_has.numpy())
    # the judge itself is good: on faces with and on faces without the attribute (50% would be guessing)
    assert balanced_accuracy_score(held_has.numpy(), classifier.predict(pixels(held_x))) > 0.8
    with torch.no_grad():
        z = model.encode(train_x)
        direction = attribute_vector(z, train_has)
        base = model.encode(held_x[~held_has])  # held-out faces without the attribute
        strengths = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        scores = [classifier.predict_proba(pixels(model.decode(base + s * direction)))[:, 1].mean()
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
