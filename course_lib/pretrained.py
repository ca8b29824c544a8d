"""Pretrained models for notebook 05, and the script that makes them: `python -m course_lib.pretrained`.

Trains, with fixed seeds, on binarised Fashion-MNIST (threshold 0.5, `density.binarize`):
- ae_2d:  a conv Autoencoder with a 2-D latent (for the AE-vs-VAE latent map);
- vae_2d: a conv VAE with a 2-D latent (for pictures);
- vae_16d: a conv VAE with a 16-D latent (for quality);
then scores every density model of the course on the full binarised test set with Bernoulli pixel likelihoods
(the independent-pixel model and the mixture of notebook 02, and the two VAEs: negative ELBO and the
importance-weighted estimate of log p(x) with K samples) and writes the checkpoints plus `figures.json`
(nats per image and bits per dimension) to notebooks/checkpoints/. Takes a few minutes on a laptop CPU.

The checkpoints live in the repository's notebooks/checkpoints/, not in the installed package.
`checkpoint_folder()` finds them wherever the course is installed (see `search_dirs`): $COURSE_CHECKPOINTS when
set, else the repository around the package (a clone on PYTHONPATH, or an editable install), else checkpoints/
in the working folder (a notebook in notebooks/) or notebooks/checkpoints in it or a folder above it (after
`pip install .`, run from inside the clone).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from course_lib import config, density, models, train
from course_lib.data import load_fashion_mnist

ENV = "COURSE_CHECKPOINTS"  # a folder that holds the checkpoints, searched instead of the places below
REPOSITORY_FOLDER = Path(__file__).resolve().parent.parent / "notebooks" / "checkpoints"
WIDTHS = (16, 32, 64)
# name -> (class, latent_dim); all conv, all trained with RECIPE through train.fit
MODELS = {"ae_2d": (models.Autoencoder, 2), "vae_2d": (models.VAE, 2), "vae_16d": (models.VAE, 16)}
RECIPE = dict(epochs=3, batch_size=128, lr=2e-3)
IWAE_K = 100
CHECK_IMAGES = 1000  # the first test images, scored again (IWAE too) by tests/test_pretrained.py
MIXTURE = dict(n_components=100, max_iter=30, seed=0)
FILES = [f"{name}.pt" for name in MODELS] + ["figures.json"]  # what a checkpoint folder holds


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


def search_dirs() -> list[tuple[str, Path]]:
    """The folders that may hold the checkpoints, in the order they are searched, each with why it is searched."""
    if os.environ.get(ENV):
        return [(f"${ENV}", Path(os.environ[ENV]).expanduser())]
    here = Path.cwd()
    candidates = [("the repository around course_lib", REPOSITORY_FOLDER),
                  ("the working folder", here / "checkpoints")]
    candidates += [("the working folder" if d == here else "a folder above the working folder",
                    d / "notebooks" / "checkpoints") for d in (here, *here.parents)]
    found: dict[Path, str] = {}
    for why, path in candidates:
        found.setdefault(path, why)
    return [(why, path) for path, why in found.items()]


def find_checkpoints() -> Path | None:
    """The first folder of `search_dirs` that holds every checkpoint and figures.json, or None."""
    for _, folder in search_dirs():
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def checkpoint_folder() -> Path:
    """The folder of the pretrained checkpoints, or a FileNotFoundError that says where they were looked for and
    where to put them."""
    found = find_checkpoints()
    if found is None:
        looked = "\n".join(f"  {path} ({why})" for why, path in search_dirs())
        raise FileNotFoundError(
            f"The pretrained checkpoints ({', '.join(FILES)}) were not found. Looked in:\n{looked}\n"
            f"They are in the course repository's notebooks/checkpoints/. Run the notebooks from inside the cloned "
            f"repository, or set the environment variable {ENV} to the folder that holds them (e.g. "
            f"{ENV}=/path/to/course/notebooks/checkpoints), or make them with `python -m course_lib.pretrained "
            f"--out FOLDER` (a few minutes).")
    return found


def load(name: str, folder: str | Path | None = None) -> train.Checkpoint:
    """The committed checkpoint of model `name` (a key of MODELS), from `folder` (default: the one
    `checkpoint_folder()` finds)."""
    if name not in MODELS:
        raise ValueError(f"name={name!r} is not one of the pretrained models {list(MODELS)}.")
    return train.load_checkpoint(Path(folder or checkpoint_folder()) / f"{name}.pt")


def load_figures(folder: str | Path | None = None) -> dict:
    """The test figures that `main` measured and wrote next to the checkpoints."""
    path = Path(folder or checkpoint_folder()) / "figures.json"
    if not path.is_file():
        raise FileNotFoundError(f"No {path}: run `python -m course_lib.pretrained` to make it.")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the checkpoints and figures.json (default: the repository's "
                             "notebooks/checkpoints, when course_lib runs from a clone)")
    args = parser.parse_args(argv)
    if args.out is None:
        if not REPOSITORY_FOLDER.parent.is_dir():
            parser.error(f"course_lib is installed outside the course repository ({REPOSITORY_FOLDER.parent} does "
                         "not exist): pass --out FOLDER.")
        args.out = REPOSITORY_FOLDER
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
