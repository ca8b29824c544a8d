"""Pretrained models for notebooks 05 and 05b, and the script that makes them: `python -m course_lib.pretrained`.

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

The checkpoints live in the repository's notebooks/checkpoints/, not in the installed package.
`checkpoint_folder()` finds them wherever the course is installed (see `checkpoint_dirs`): $COURSE_CHECKPOINTS when
set, else the repository around the package (a clone on PYTHONPATH, or an editable install), else checkpoints/
in the working folder (a notebook in notebooks/) or notebooks/checkpoints in it or a folder above it (after
`pip install .`, run from inside the clone).

`python -m course_lib.pretrained faces` trains notebook 06's faces VAE instead (see `faces_main`), and
`python -m course_lib.pretrained collapse` the small VAEs of notebook 05b's section on failure modes (see
`collapse_main`): their figures and pictures go to collapse.json next to the checkpoints.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import torch
from sklearn.linear_model import LogisticRegression

from course_lib import celeba, config, density, models, train
from course_lib.data import data_dir, load_fashion_mnist, search_dirs
from course_lib.latent import attribute_vector, classifier_pixels

ENV = "COURSE_CHECKPOINTS"  # a folder that holds the checkpoints, searched instead of the places below
REPOSITORY_FOLDER = Path(__file__).resolve().parent.parent / "notebooks" / "checkpoints"
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
FILES = [f"{name}.pt" for name in MODELS] + ["figures.json"]  # what a checkpoint folder holds
# Published test log-likelihoods, nats per image, log p(x) estimated by importance sampling.
PUBLISHED = {
    "Fashion-MNIST, VAE with a Gaussian prior (Norouzi et al. 2020)": -228.70,
    "Fashion-MNIST, VAE with a VampPrior (Norouzi et al. 2020)": -227.35,
    "Fashion-MNIST, Exemplar VAE (Norouzi et al. 2020)": -226.75,
    "Fashion-MNIST, ConvHVAE with a Gaussian prior (Norouzi et al. 2020)": -225.38,
    "MNIST (digits), one-layer VAE trained with k=50 (Burda et al. 2016)": -86.35,
    "MNIST (digits), one-layer IWAE trained with k=50 (Burda et al. 2016)": -84.78,
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
        if histories[-1].interrupted or histories[-1].diverged:
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
                         interrupted=histories[-1].interrupted, diverged=histories[-1].diverged,
                         loss_name=histories[-1].loss_name,
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


def checkpoint_dirs() -> list[tuple[str, Path]]:
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
    """The first folder of `checkpoint_dirs` that holds every checkpoint and figures.json, or None."""
    for _, folder in checkpoint_dirs():
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def checkpoint_folder() -> Path:
    """The folder of the pretrained checkpoints, or a FileNotFoundError that says where they were looked for and
    where to put them."""
    found = find_checkpoints()
    if found is None:
        looked = "\n".join(f"  {path} ({why})" for why, path in checkpoint_dirs())
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["faces"]:
        return faces_main(argv[1:])
    if argv[:1] == ["collapse"]:
        return collapse_main(argv[1:])
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


# ---- notebook 05b's failure modes: `python -m course_lib.pretrained collapse` ----------------------------------

# Small MLP VAEs with a 16-D latent, one per setting: a beta sweep, then the collapsing beta with a remedy.
COLLAPSE_RECIPE = dict(latent_dim=16, widths=(256,), n_train=20_000, epochs=10, batch_size=128, lr=1e-3)
COLLAPSE_SETTINGS = {  # label -> beta, free_bits (nats per unit), warm-up (share of the training steps)
    "β=0.25": dict(beta=0.25, free_bits=0.0, warmup=0.0),
    "β=1": dict(beta=1.0, free_bits=0.0, warmup=0.0),
    "β=4": dict(beta=4.0, free_bits=0.0, warmup=0.0),
    "β=16": dict(beta=16.0, free_bits=0.0, warmup=0.0),
    "β=16, KL warm-up": dict(beta=16.0, free_bits=0.0, warmup=0.5),
    "β=16, free bits 0.5": dict(beta=16.0, free_bits=0.5, warmup=0.0),
}
COLLAPSE_FILE = "collapse.json"
COLLAPSE_SHOWN = 6  # test images reconstructed, and prior samples drawn, per setting


def collapse_sweep(train_images, test_images: torch.Tensor, *, epochs: int = COLLAPSE_RECIPE["epochs"],
                   settings: dict = COLLAPSE_SETTINGS, progress: bool = False) -> dict:
    """Train one small MLP VAE (COLLAPSE_RECIPE) per setting through train.fit, on a fresh binary sample of every
    batch of `train_images` (grey, uint8 or float in [0, 1]), and measure it on `test_images` (binary, float).

    Returns {"recipe", "settings": {label: {beta, free_bits, kl_warmup (steps), rate, distortion (nats per image,
    test set), activity (per unit, unit_activity), active_units, seconds, reconstructions (of the first
    COLLAPSE_SHOWN test images), samples (COLLAPSE_SHOWN from N(0, I))}}}; pictures as uint8 0..255 nested lists.
    """
    recipe = {**COLLAPSE_RECIPE, "widths": list(COLLAPSE_RECIPE["widths"]), "epochs": epochs,
              "n_train": len(train_images), "n_test": len(test_images)}
    steps = epochs * -(-len(train_images) // recipe["batch_size"])
    out: dict = {"recipe": recipe, "settings": {}}
    for label, setting in settings.items():
        config.seed(0)
        model = models.VAE("mlp", latent_dim=recipe["latent_dim"], widths=COLLAPSE_RECIPE["widths"],
                           beta=setting["beta"], free_bits=setting["free_bits"])
        warmup = round(setting["warmup"] * steps)
        history = train.fit(model, train_images, epochs=epochs, batch_size=recipe["batch_size"], lr=recipe["lr"],
                            transform=partial(density.binarize, seed=None), kl_warmup=warmup, progress=progress)
        model.cpu()
        rate, distortion = models.rate_distortion(model, test_images, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            pictures = {"reconstructions": model(test_images[:COLLAPSE_SHOWN]),
                        "samples": model.sample(COLLAPSE_SHOWN, generator=torch.Generator().manual_seed(1))}
        out["settings"][label] = {
            "beta": setting["beta"], "free_bits": setting["free_bits"], "kl_warmup": warmup,
            "rate": rate, "distortion": distortion, "activity": models.unit_activity(model, test_images).tolist(),
            "active_units": models.active_units(model, test_images), "seconds": history.seconds,
            **{k: (v * 255).round().to(torch.uint8).tolist() for k, v in pictures.items()}}
    return out


def collapse_pictures(entry: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstructions, samples) of one setting of collapse_sweep, as float (n, 1, 28, 28) in [0, 1]."""
    return tuple(torch.tensor(entry[k], dtype=torch.float32) / 255 for k in ("reconstructions", "samples"))


def load_collapse(folder: str | Path | None = None) -> dict:
    """The figures `collapse_main` measured and wrote next to the checkpoints (COLLAPSE_FILE)."""
    path = Path(folder or checkpoint_folder()) / COLLAPSE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No {path}: run `python -m course_lib.pretrained collapse` to make it (a few minutes).")
    return json.loads(path.read_text())


def collapse_main(argv: list[str] | None = None) -> Path:
    """`python -m course_lib.pretrained collapse`: run collapse_sweep with COLLAPSE_RECIPE on the first n_train
    training images and the full binarised test set, and write COLLAPSE_FILE into --out (default: the repository's
    checkpoints)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.pretrained collapse",
                                     description="Train notebook 05b's small VAEs for its section on failure modes.")
    parser.add_argument("--out", type=Path, default=REPOSITORY_FOLDER, help="folder for collapse.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    sweep = collapse_sweep(load_fashion_mnist("train", n=COLLAPSE_RECIPE["n_train"]), binarised_fashion_mnist("test"),
                           progress=True)
    sweep.update(seconds=time.perf_counter() - start, torch=torch.__version__, machine=platform.machine(),
                 likelihood=LIKELIHOOD)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / COLLAPSE_FILE
    path.write_text(json.dumps(sweep) + "\n")
    for label, entry in sweep["settings"].items():
        print(f"{label:22s} rate {entry['rate']:6.2f}  distortion {entry['distortion']:7.2f}  "
              f"active units {entry['active_units']:2d}  ({entry['seconds']:.0f} s)")
    print(f"wrote {path} in {sweep['seconds']:.0f} s")
    return path


# ---- the faces model of notebook 06: `python -m course_lib.pretrained faces` ----------------------------------

# Notebook 06's full mode: 20,000 faces at 32×32, 90% to train on, a conv VAE with a 32-D latent.
FACES_RECIPE = dict(size=32, n=20_000, latent_dim=32, widths=(32, 64, 128), batch_size=64, lr=2e-3)
FACES_EPOCH_SCALE = 18_000  # epochs: this // the training faces, at least 2 (10 over 1,800 faces, 2 over 18,000)
FACES_ATTRIBUTES = ("Smiling", "Eyeglasses", "Blond_Hair", "Male")
FACES_STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
FACES_CLASSIFIER_FACES = 5000  # training faces (at most) the attribute classifiers learn from
FACES_EDITED = 200  # held-out faces without the attribute that each strength is scored on


def faces_epochs(n_train: int) -> int:
    """Epochs for `n_train` training faces: FACES_EPOCH_SCALE // n_train, at least 2 (10 for 1,800 faces)."""
    return max(2, FACES_EPOCH_SCALE // n_train)


def faces_file(size: int = 32, standin: bool = False) -> str:
    """The file name of a faces model: a model of the stand-in says so in its name."""
    return f"faces_vae_{size}px{'_STANDIN' if standin else ''}.pt"


def find_faces_checkpoint(*, size: int = 32, standin: bool = False) -> Path | None:
    """The faces model notebook 06 loads instead of training: $FACES_CHECKPOINT if set (it must exist), else
    faces_file(size, standin) in $COURSE_DATA_DIR or the per-user cache (where `faces_main` writes it, and where
    an instructor's shared folder is found), else None."""
    chosen = os.environ.get("FACES_CHECKPOINT")
    if chosen:
        if not Path(chosen).expanduser().is_file():
            raise FileNotFoundError(f"FACES_CHECKPOINT={chosen} is not a file. Point it at a faces model (made by "
                                    "`python -m course_lib.pretrained faces`), or unset it to train in the notebook.")
        return Path(chosen).expanduser()
    for _, folder in search_dirs(system=False):
        if (folder / faces_file(size, standin)).is_file():
            return folder / faces_file(size, standin)
    return None


def faces_figures(model: models.VAE, faces: celeba.FaceData, n_train: int) -> dict:
    """What notebook 06 measures, for a trained faces model: the held-out loss, and for each of FACES_ATTRIBUTES
    the accuracy of a pixel classifier on held-out faces and its mean score of edited held-out faces (without
    the attribute) at each of FACES_STRENGTHS times the attribute vector. faces[:n_train] are the training faces."""
    x = faces.as_float()
    train_x, test_x = x[:n_train], x[n_train:]
    config.seed(0)
    figures = {"held_out_loss": train.evaluate(model, test_x, device="cpu"), "attributes": {}}
    with torch.no_grad():  # in chunks: one pass over 18,000 faces would hold about a gigabyte of activations
        z_train, z_test = (torch.cat([model.encode(chunk) for chunk in part.split(1000)]) for part in (train_x, test_x))
    k = min(n_train, FACES_CLASSIFIER_FACES)
    for name in FACES_ATTRIBUTES:
        has = faces.attribute(name)
        classifier = LogisticRegression(C=0.1, max_iter=1000).fit(classifier_pixels(train_x[:k]), has[:k].numpy())
        vector = attribute_vector(z_train, has[:n_train])
        base = z_test[~has[n_train:]][:FACES_EDITED]
        with torch.no_grad():
            scores = [float(classifier.predict_proba(classifier_pixels(model.decode(base + s * vector)))[:, 1]
                            .mean()) for s in FACES_STRENGTHS]
        figures["attributes"][name] = {"classifier_accuracy": float(classifier.score(classifier_pixels(test_x),
                                                                                      has[n_train:].numpy())),
                                       "edited_faces": len(base), "scores": scores}
    return figures


def _inside_repository(folder: Path) -> bool:
    here = Path(__file__).resolve().parent.parent
    return (here / ".git").exists() and (folder.resolve() == here or here in folder.resolve().parents)


def faces_main(argv: list[str] | None = None) -> Path:
    """`python -m course_lib.pretrained faces`: train notebook 06's VAE on the faces load_celeba finds (real
    faces if it can, downloading the mirror unless --no-download; else the stand-in), measure it like the
    notebook, and write the checkpoint and faces_figures.json into --out (default: the data folder, where notebook
    06 finds it). A model of CelebA is data derived from CelebA: it is refused inside this repository."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.pretrained faces",
                                     description="Train notebook 06's faces VAE for a workshop.")
    parser.add_argument("--out", type=Path, default=None, help="folder for the checkpoint (default: the data folder)")
    parser.add_argument("--n", type=int, default=FACES_RECIPE["n"], help="faces to use, 90%% of them to train on")
    parser.add_argument("--epochs", type=int, default=None, help="default: faces_epochs(training faces)")
    parser.add_argument("--no-download", action="store_true", help="never download CelebA's mirror")
    args = parser.parse_args(argv)
    out = (args.out or data_dir()).expanduser()
    faces = celeba.load_celeba(size=FACES_RECIPE["size"], n=args.n, download=not args.no_download)
    if not faces.is_standin and _inside_repository(out):
        raise SystemExit(f"Refusing to write a model trained on CelebA into {out}, inside the course's repository: "
                         "CelebA's agreement forbids redistributing anything derived from it. Use --out with a "
                         f"folder outside the repository (the default, {data_dir()}, is).")
    n_train = int(0.9 * len(faces))
    epochs = faces_epochs(n_train) if args.epochs is None else args.epochs
    config.seed(0)
    model = models.VAE(kind="conv", latent_dim=FACES_RECIPE["latent_dim"], widths=FACES_RECIPE["widths"],
                       image_shape=(3, FACES_RECIPE["size"], FACES_RECIPE["size"]))
    x = faces.as_float()
    history = train.fit(model, x[:n_train], x[n_train:], epochs=epochs, batch_size=FACES_RECIPE["batch_size"],
                        lr=FACES_RECIPE["lr"], seed=0)
    model = model.cpu().eval()
    figures = {"data": ("the DRAWN STAND-IN (course_lib.standin), not CelebA" if faces.is_standin else
                        "CelebA via course_lib.celeba: non-commercial research only, do not redistribute"),
               "is_standin": faces.is_standin, "faces": len(faces), "train_faces": n_train, "epochs": epochs,
               "recipe": {**FACES_RECIPE, "widths": list(FACES_RECIPE["widths"])},
               "loss": "held-out loss: negative ELBO with Bernoulli cross-entropy on colour pixels, nats per image "
                       "(a loss, not a likelihood); scores: mean P(attribute) from a pixel classifier",
               "strengths": list(FACES_STRENGTHS), "seconds": history.seconds, "torch": str(torch.__version__),
               **faces_figures(model, faces, n_train)}
    path = train.save_checkpoint(model, out / faces_file(FACES_RECIPE["size"], faces.is_standin), history=history,
                                 extra=figures)
    (out / f"{path.stem}_figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"held-out loss {figures['held_out_loss']:.1f} nats per image; "
          + "; ".join(f"{name}: scores {[round(s, 2) for s in entry['scores']]}"
                      for name, entry in figures["attributes"].items()))
    print(f"wrote {path} and {path.stem}_figures.json ({figures['data']}). Notebook 06 loads it from there (or set "
          "FACES_CHECKPOINT to it) and skips training.")
    return path


if __name__ == "__main__":
    main()
