"""Pretrained models for notebook 05, and the script that makes them: `python -m course_lib.pretrained`.

Data, the convention of the papers the course stands beside (density.py says more): Fashion-MNIST binarised by
sampling each pixel from its grey value. The networks see a fresh binary sample of every training batch
("dynamic binarisation", `train.fit(transform=...)`); notebook 02's independent-pixel model and mixture, fitted
once, see one sample of the training set (density.TRAIN_SEED); every model is scored on one sample of the full
test set (density.TEST_SEED).

Models, conv, trained with STAGES through train.fit:
- ae_2d:  an Autoencoder with a 2-D latent (for the AE-vs-VAE latent map);
- vae_2d: a VAE with a 2-D latent (for pictures);
- vae_16d: a VAE with a 16-D latent (for quality).
Figures, written to figures.json next to the checkpoints (nats per image, mean over the test images, and bits
per dimension): the test log-likelihood of notebook 02's models; for each VAE the test ELBO (one z per image),
the importance-weighted estimate of log p(x) with IWAE_K samples, how that estimate moves with K on the first
SWEEP_IMAGES test images, cheap check figures that tests recompute, and the gap to the published figure.

The committed files came from `OMP_NUM_THREADS=1 python -m course_lib.pretrained` (one thread was fastest on a
shared 2-core CPU) in 93 minutes: 10 to 37 minutes of training per model, depending on the other load, and the
importance-weighted figures most of the rest. Another thread count or machine gives slightly different weights.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from functools import partial
from pathlib import Path

import torch

from course_lib import config, density, models, train
from course_lib.data import load_fashion_mnist

FOLDER = Path(__file__).resolve().parent.parent / "notebooks" / "checkpoints"
WIDTHS = (16, 32, 64)
# name -> (class, latent_dim); all conv, all trained with STAGES through train.fit
MODELS = {"ae_2d": (models.Autoencoder, 2), "vae_2d": (models.VAE, 2), "vae_16d": (models.VAE, 16)}
# (epochs, learning rate) per stage; each stage is one train.fit call with a fresh Adam, so the rate steps down
STAGES = ((16, 2e-3), (5, 5e-4), (3, 1e-4))
BATCH_SIZE = 128
IWAE_K = 300                              # importance samples for the table (the sweep shows it is enough)
K_SWEEP = (1, 10, 100, 300, 1000, 3000)   # how the estimate moves with K ...
SWEEP_IMAGES = 300                        # ... on the first test images
CHECK_IMAGES = 1000                       # the first test images, scored again (IWAE K=100 too) by the tests
CHECK_K = 100
MIXTURE = dict(n_components=100, max_iter=30, seed=0)
# Published test log-likelihoods, nats per image, log p(x) estimated by importance sampling.
PUBLISHED = {
    "Fashion-MNIST, VAE with a Gaussian prior (Norouzi et al. 2020)": -228.70,
    "Fashion-MNIST, VAE with a VampPrior (Norouzi et al. 2020)": -227.35,
    "Fashion-MNIST, Exemplar VAE (Norouzi et al. 2020)": -226.75,
    "MNIST (digits), one-layer VAE (Burda et al. 2015)": -86.76,
    "MNIST (digits), one-layer IWAE, k=50 (Burda et al. 2015)": -84.78,
}
REFERENCE = "Fashion-MNIST, VAE with a Gaussian prior (Norouzi et al. 2020)"  # the row the gap is measured to
LIKELIHOOD = ("Fashion-MNIST binarised by sampling each pixel from its grey value (test set: one sample, seed "
              f"{density.TEST_SEED}; networks: a fresh sample per training batch; notebook 02's models: one sample "
              f"of the training set, seed {density.TRAIN_SEED}), Bernoulli pixels, full 10 000-image test set; "
              "log-likelihoods in nats per image (mean over images)")


def binarised_fashion_mnist(split: str, n: int | None = None) -> torch.Tensor:
    """Fashion-MNIST `split`, one binary sample of it (seed TEST_SEED or TRAIN_SEED): float (n, 1, 28, 28) in {0, 1}."""
    seed = density.TEST_SEED if split == "test" else density.TRAIN_SEED
    return density.binarize(load_fashion_mnist(split, n=n).as_float(), seed=seed)


def build(name: str) -> torch.nn.Module:
    """The untrained model `name` (a key of MODELS), seeded so that its initial weights repeat."""
    cls, latent_dim = MODELS[name]
    config.seed(0)
    return cls("conv", latent_dim=latent_dim, widths=WIDTHS)


def train_model(name: str, train_images, test_images: torch.Tensor | None = None, *, stages=STAGES,
                batch_size: int = BATCH_SIZE, progress: bool = True) -> tuple[torch.nn.Module, train.History]:
    """Build model `name` and fit it stage by stage on a fresh binary sample of every batch of `train_images`
    (grey, uint8 or float in [0, 1]); test_images: binary. Returns (model on the CPU, the stages' joint history)."""
    model = build(name)
    histories = []
    for seed, (epochs, lr) in enumerate(stages):
        histories.append(train.fit(model, train_images, test_images, epochs=epochs, batch_size=batch_size, lr=lr,
                                   seed=seed, progress=progress, transform=partial(density.binarize, seed=None)))
        if histories[-1].interrupted:
            break
    return model.cpu(), _joined(histories)


def _joined(histories: list[train.History]) -> train.History:
    """One History for consecutive fits: the lists joined, the times added."""
    seconds = sum(h.seconds for h in histories)
    images = sum(h.images_per_second * h.seconds for h in histories)
    return train.History(train_loss=[v for h in histories for v in h.train_loss],
                         test_loss=[v for h in histories for v in h.test_loss],
                         step_loss=[v for h in histories for v in h.step_loss],
                         seconds=seconds, images_per_second=images / seconds if seconds else 0.0,
                         interrupted=histories[-1].interrupted, loss_name=histories[-1].loss_name,
                         device=histories[-1].device)


def iwae(model: models.VAE, images: torch.Tensor, k: int, *, seed: int = 0) -> float:
    """The importance-weighted estimate of log p(x) with k samples, nats per image (mean over `images`)."""
    return models.iwae_log_likelihood(model, images, k=k, generator=torch.Generator().manual_seed(seed)).mean().item()


def elbo(model: models.VAE, images: torch.Tensor, *, seed: int = 0) -> float:
    """The test ELBO with one z per image (minus the mean of model.loss), nats per image."""
    config.seed(seed)
    return -train.evaluate(model, images, device="cpu")


def vae_figures(model: models.VAE, test_images: torch.Tensor, *, k: int = IWAE_K) -> dict:
    """Test figures of a VAE, nats per image and bits per dimension: the ELBO and the IWAE estimate with k."""
    value, estimate, dims = elbo(model, test_images), iwae(model, test_images, k), test_images[0].numel()
    return dict(elbo=value, elbo_bpd=density.bits_per_dim(value, dims), iwae=estimate, iwae_k=k,
                iwae_bpd=density.bits_per_dim(estimate, dims))


def k_sweep(model: models.VAE, test_images: torch.Tensor, ks=K_SWEEP) -> dict[str, float]:
    """The IWAE estimate on the first SWEEP_IMAGES test images for each K (json keys: K as text)."""
    return {str(k): iwae(model, test_images[:SWEEP_IMAGES], k) for k in ks}


def check_figures(model: models.VAE, test_images: torch.Tensor) -> dict:
    """The ELBO and IWAE (K=CHECK_K) on the first CHECK_IMAGES test images: cheap enough for a test to recompute."""
    first = test_images[:CHECK_IMAGES]
    return {f"first_{CHECK_IMAGES}_elbo": elbo(model, first),
            f"first_{CHECK_IMAGES}_iwae_k{CHECK_K}": iwae(model, first, CHECK_K)}


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
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    grey_train = load_fashion_mnist("train")
    train_images, test_images = binarised_fashion_mnist("train"), binarised_fashion_mnist("test")
    figures: dict = {"likelihood": LIKELIHOOD, "n_test": len(test_images),
                     "recipe": dict(stages=[list(s) for s in STAGES], batch_size=BATCH_SIZE, optimiser="Adam",
                                    training_data="all 60 000 training images, a fresh binary sample per batch"),
                     "widths": list(WIDTHS), "published": PUBLISHED, "reference": REFERENCE,
                     "torch": torch.__version__, "machine": platform.machine(), "models": {}}
    independent = density.IndependentBernoulli().fit(train_images)
    mixture = density.BernoulliMixture(**MIXTURE).fit(train_images)
    for label, model in [("independent pixels", independent), ("Bernoulli mixture (K=100)", mixture)]:
        ll = model.score(test_images)
        figures["models"][label] = dict(log_likelihood=ll, bpd=density.bits_per_dim(ll))
        print(f"{label}: {ll:.3f} nats per image", flush=True)
    for name in MODELS:
        model, history = train_model(name, grey_train, test_images)
        extra = {"stages": [list(s) for s in STAGES], "batch_size": BATCH_SIZE,
                 "data": "Fashion-MNIST, all 60000 training images, a fresh binary sample per batch"}
        train.save_checkpoint(model, args.out / f"{name}.pt", history=history, extra=extra)
        entry = dict(test_loss=history.test_loss[-1], epochs=len(history.train_loss), seconds=history.seconds)
        if isinstance(model, models.VAE):
            entry.update(vae_figures(model, test_images))
            entry.update(check_figures(model, test_images))
            entry["iwae_vs_k"] = k_sweep(model, test_images)
            entry["gap_to_reference"] = entry["iwae"] - PUBLISHED[REFERENCE]
        figures["models"][name] = entry
        figures["seconds"] = time.perf_counter() - start
        (args.out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")  # after every model
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()}, flush=True)
    print(f"wrote {args.out} in {figures['seconds']:.0f} s")


if __name__ == "__main__":
    main()
