"""Pretrained models for notebook 05, and the script that makes them: `python -m course_lib.pretrained`.

Trains, with fixed seeds, on binarised Fashion-MNIST (threshold 0.5, `density.binarize`):
- ae_2d:  a conv Autoencoder with a 2-D latent (for the AE-vs-VAE latent map);
- vae_2d: a conv VAE with a 2-D latent (for pictures);
- vae_16d: a conv VAE with a 16-D latent (for quality);
then scores every density model of the course on the full binarised test set with Bernoulli pixel likelihoods
(the independent-pixel model and the mixture of notebook 02, and the two VAEs: negative ELBO and the
importance-weighted estimate of log p(x) with K samples) and writes the checkpoints plus `figures.json`
(nats per image and bits per dimension) to notebooks/checkpoints/. Takes a few minutes on a laptop CPU.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_lib import config, density, models, train
from course_lib.data import load_fashion_mnist

FOLDER = Path(__file__).resolve().parent.parent / "notebooks" / "checkpoints"
WIDTHS = (16, 32, 64)
# name -> (class, latent_dim); all conv, all trained with RECIPE through train.fit
MODELS = {"ae_2d": (models.Autoencoder, 2), "vae_2d": (models.VAE, 2), "vae_16d": (models.VAE, 16)}
RECIPE = dict(epochs=3, batch_size=128, lr=2e-3)
IWAE_K = 100
CHECK_IMAGES = 1000  # the first test images, scored again (IWAE too) by tests/test_pretrained.py
MIXTURE = dict(n_components=100, max_iter=30, seed=0)


def binarised_fashion_mnist(split: str, n: int | None = None) -> torch.Tensor:
    """Fashion-MNIST `split` binarised at 0.5: float (n, 1, 28, 28) with values 0 and 1."""
    return density.binarize(load_fashion_mnist(split, n=n).as_float())


def build(name: str) -> torch.nn.Module:
    """The untrained model `name` (a key of MODELS), seeded so that its initial weights repeat."""
    cls, latent_dim = MODELS[name]
    config.seed(0)
    return cls("conv", latent_dim=latent_dim, widths=WIDTHS)


def train_model(name: str, train_images: torch.Tensor, test_images: torch.Tensor | None = None, *,
                progress: bool = True, **recipe) -> tuple[torch.nn.Module, train.History]:
    """Build and fit model `name` with RECIPE (keywords override it); returns (model on the CPU, history)."""
    model = build(name)
    history = train.fit(model, train_images, test_images, progress=progress, **{**RECIPE, **recipe})
    return model.cpu(), history


def vae_figures(model: models.VAE, test_images: torch.Tensor, *, k: int = IWAE_K, seed: int = 0) -> dict:
    """Test log-likelihood figures of a VAE, nats per image (mean over images): the ELBO (one z per image)
    and the importance-weighted estimate with k samples, both also in bits per dimension."""
    config.seed(seed)
    elbo = -train.evaluate(model, test_images, device="cpu")
    iwae = models.iwae_log_likelihood(model, test_images, k=k,
                                      generator=torch.Generator().manual_seed(seed)).mean().item()
    dims = test_images[0].numel()
    return dict(elbo=elbo, elbo_bpd=density.bits_per_dim(elbo, dims), iwae=iwae, iwae_k=k,
                iwae_bpd=density.bits_per_dim(iwae, dims))


def check_figures(model: models.VAE, test_images: torch.Tensor, *, k: int = IWAE_K, seed: int = 0) -> dict:
    """vae_figures on the first CHECK_IMAGES test images: cheap enough for a test to recompute."""
    return {f"first_{CHECK_IMAGES}_{key}": value
            for key, value in vae_figures(model, test_images[:CHECK_IMAGES], k=k, seed=seed).items()
            if key in ("elbo", "iwae")}


def load(name: str, folder: str | Path = FOLDER) -> train.Checkpoint:
    """The committed checkpoint of model `name` (a key of MODELS)."""
    return train.load_checkpoint(Path(folder) / f"{name}.pt")


def load_figures(folder: str | Path = FOLDER) -> dict:
    """The test figures that `main` measured and wrote next to the checkpoints."""
    path = Path(folder) / "figures.json"
    if not path.is_file():
        raise FileNotFoundError(f"No {path}: run `python -m course_lib.pretrained` to make it.")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FOLDER, help="folder for the checkpoints and figures.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    train_images, test_images = binarised_fashion_mnist("train"), binarised_fashion_mnist("test")
    figures: dict = {"likelihood": "binarised Fashion-MNIST (threshold 0.5), Bernoulli pixels, full test set; "
                                   "log-likelihood in nats per image (mean over images)",
                     "n_test": len(test_images), "recipe": RECIPE, "widths": list(WIDTHS),
                     "torch": torch.__version__, "machine": platform.machine(), "models": {}}
    independent = density.IndependentBernoulli().fit(train_images)
    mixture = density.BernoulliMixture(**MIXTURE).fit(train_images)
    for label, model in [("independent pixels", independent), ("Bernoulli mixture (K=100)", mixture)]:
        ll = model.score(test_images)
        figures["models"][label] = dict(log_likelihood=ll, bpd=density.bits_per_dim(ll))
        print(f"{label}: {ll:.3f} nats per image")
    for name in MODELS:
        model, history = train_model(name, train_images, test_images)
        extra = {"recipe": RECIPE, "data": "binarised Fashion-MNIST, threshold 0.5, all 60000 training images"}
        train.save_checkpoint(model, args.out / f"{name}.pt", history=history, extra=extra)
        entry = dict(test_loss=history.test_loss[-1], seconds=history.seconds)
        if isinstance(model, models.VAE):
            entry.update(vae_figures(model, test_images))
            entry.update(check_figures(model, test_images))
        figures["models"][name] = entry
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()})
    figures["seconds"] = time.perf_counter() - start
    (args.out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"wrote {args.out} in {figures['seconds']:.0f} s")


if __name__ == "__main__":
    main()
