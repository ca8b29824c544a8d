"""One training loop for every notebook, evaluation, and checkpoints that know their architecture.

`fit` keeps the whole dataset as one tensor on the device and trains on index slices of it: no Dataset, no
DataLoader, no per-image Python work. The data are checked once, when they enter `fit` or `evaluate`. uint8 images
stay uint8 in memory and become floats in [0, 1] one batch at a time. Losses are summed on the device and read back
once per epoch (and about twice a second for the progress bar); the only per-step read is whether the loss is
finite, so that a diverging run stops at its first nan.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from course_lib import config, models, validate
from course_lib.data import write_atomic

CHECKPOINT_FORMAT = "course_lib checkpoint"
CHECKPOINT_VERSION = 1
MODEL_CLASSES = {"Autoencoder": models.Autoencoder, "VAE": models.VAE}
BAR_SECONDS = 0.5  # how often the progress bar reads the running loss back from the device


class DivergenceWarning(UserWarning):
    """`fit` stopped because the loss became nan or infinite."""


@dataclass
class History:
    """What `fit` returns. Losses are `model.loss` values: per image, averaged over images (see loss_name).

    train_loss, test_loss: one entry per completed epoch (test_loss is empty without test images).
    step_loss: the loss of every training step, in order.
    seconds: wall time of the whole fit; images_per_second: training images per second of training steps.
    interrupted: True when Ctrl-C stopped training early (the model keeps the weights it had reached).
    diverged: True when a loss became nan or infinite; training stopped there, and the model keeps the weights
        of the last finite loss (the last entry of step_loss).
    """

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0
    interrupted: bool = False
    loss_name: str = ""
    device: str = ""
    diverged: bool = False


class _Diverged(Exception):
    """Raised inside the training loop at the first non-finite loss."""


def _images(images: Any, name: str, model: nn.Module) -> torch.Tensor:
    """The tensor of ImageData (or FaceData), or a tensor itself, checked once: (n, C, H, W), uint8 in 0..255
    or float in [0, 1], and of the model's image_shape when it has one."""
    if not isinstance(images, torch.Tensor) and isinstance(getattr(images, "images", None), torch.Tensor):
        images = images.images
    return validate.images(images, name, image_shape=getattr(model, "image_shape", None))


def _batches(images: torch.Tensor, order: torch.Tensor | None, batch_size: int):
    """Float batches in [0, 1]: slices of `images` (in `order` when given)."""
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size] if order is None else images[order[start:start + batch_size]]
        yield batch.float().div_(255) if batch.dtype == torch.uint8 else batch


def evaluate(model: nn.Module, images: Any, *, batch_size: int = 512, device: str | torch.device | None = None) -> float:
    """The mean of `model.loss` over `images` (per image, weighted by batch size), without gradients.

    images: (n, C, H, W) uint8 or float in [0, 1], or ImageData. The model is moved to `device` (default: the
    course's device) and put in eval mode.
    """
    batch_size = validate.whole_number(batch_size, "batch_size", hint="e.g. 512")
    images = _images(images, "images", model)
    device = config.get_device(device)
    model.to(device).eval()
    return _evaluate(model, images.to(device), batch_size)


def _evaluate(model: nn.Module, images: torch.Tensor, batch_size: int) -> float:
    total = torch.zeros((), device=images.device)
    with torch.no_grad():
        for batch in _batches(images, None, batch_size):
            total += model.loss(batch).detach() * len(batch)
    return total.item() / len(images)


def fit(
    model: nn.Module,
    train_images: Any,
    test_images: Any = None,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: str | torch.device | None = None,
    seed: int | None = 0,
    progress: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    kl_warmup: int = 0,
) -> History:
    """Train `model` by minimising `model.loss(x)` with Adam on mini-batches of `train_images`.

    train_images, test_images: (n, C, H, W) uint8 (0..255) or float in [0, 1], or ImageData.
    device: None picks cuda, then mps, then cpu (see config.get_device). The model is moved there and LEFT
        there; move it back with `model.cpu()` if you need to.
    seed: seeds shuffling and any randomness in the loss (config.seed), so a CPU run repeats exactly.
        Seed before building the model to repeat its initial weights too.
    on_epoch_end(epoch, history): called after each epoch (epoch counts from 1), e.g. to draw a figure.
    transform(batch): applied to every training batch (float in [0, 1]) before the loss, e.g.
        `partial(density.binarize, seed=None)` for a fresh binary sample each step; test images are used as given.
    kl_warmup: KL warm-up, for a model with a KL weight `beta` (a VAE): over the first kl_warmup training steps
        the weight rises linearly from 0 to model.beta (step t, counting from 0, uses model.beta * t / kl_warmup),
        passed as model.loss(x, beta=...); later steps and every test loss use model.beta. 0: no warm-up.
    Training stops early, keeps what it has and returns the history so far in two cases:
    - Ctrl-C (KeyboardInterrupt): the model keeps the weights reached so far; history.interrupted is True;
    - a loss that is nan or infinite (the run diverged, usually because lr is too large): the model keeps the
      weights of the last finite loss, history.diverged is True, and a DivergenceWarning says what to try.
    The model is left in eval mode.
    """
    batch_size = validate.whole_number(batch_size, "batch_size", hint="e.g. 128")
    epochs = validate.whole_number(epochs, "epochs", minimum=0)
    lr = validate.number(lr, "lr", above=0, hint="e.g. 1e-3")
    kl_warmup = validate.whole_number(kl_warmup, "kl_warmup", minimum=0, hint="the number of steps, 0 for none")
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"model must have a loss(x) method returning a scalar; {type(model).__name__} has none.")
    if kl_warmup and not hasattr(model, "beta"):
        raise TypeError(f"kl_warmup={kl_warmup} needs a model with a KL weight `beta` (a VAE) whose loss takes "
                        f"loss(x, beta=...); {type(model).__name__} has none. Leave kl_warmup=0 for it.")
    train = _images(train_images, "train_images", model)
    test = None if test_images is None else _images(test_images, "test_images", model)
    device = config.get_device(device)
    if seed is not None:
        config.seed(seed)
    shuffle = torch.Generator().manual_seed(0 if seed is None else seed)
    model.to(device)
    train, test = train.to(device), None if test is None else test.to(device)
    try:  # the fused Adam does the update in one kernel (faster on CPU and GPU); older torch lacks it for CPU
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, ValueError):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History(loss_name=getattr(model, "loss_name", "model.loss(x)"), device=str(device))
    steps = math.ceil(len(train) / batch_size)
    sizes = torch.tensor([float(min(batch_size, len(train) - i)) for i in range(0, len(train), batch_size)])
    weights = list(model.state_dict().values())  # the model's own tensors
    last_finite = [w.clone() for w in weights]  # the weights the last finite loss was computed with
    bar = tqdm(total=epochs * steps, unit="step", disable=not progress, dynamic_ncols=True)
    start, train_seconds, seen = time.perf_counter(), 0.0, 0
    try:
        for epoch in range(1, epochs + 1):
            bar.set_description(f"epoch {epoch}/{epochs}")
            model.train()
            epoch_start = shown = time.perf_counter()
            step_losses = torch.zeros(steps, device=device)  # stays on the device, read once per epoch
            order = torch.randperm(len(train), generator=shuffle).to(device)
            done = 0
            try:
                for batch in _batches(train, order, batch_size):
                    batch = batch if transform is None else transform(batch)
                    step = len(history.step_loss) + done  # training steps taken before this one
                    loss = (model.loss(batch, beta=model.beta * step / kl_warmup) if step < kl_warmup
                            else model.loss(batch))
                    if not torch.isfinite(loss):
                        raise _Diverged(f"Training stopped at epoch {epoch} of {epochs}, step {done + 1}: the loss "
                                        f"became {loss.item()}. The model keeps the weights of its last finite "
                                        "loss, and the history so far is returned. A loss that blows up usually "
                                        f"means the steps are too large: try a smaller lr, e.g. lr={lr / 10:g}.")
                    with torch.no_grad():
                        for saved, now in zip(last_finite, weights):
                            saved.copy_(now)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    step_losses[done] = loss.detach()
                    done, seen = done + 1, seen + len(batch)
                    bar.update()
                    if progress and time.perf_counter() - shown > BAR_SECONDS:
                        bar.set_postfix(loss=f"{step_losses[:done].mean().item():.2f}")
                        shown = time.perf_counter()
            finally:  # keep the finished steps' losses, also when interrupted
                epoch_losses = step_losses[:done].tolist()
                history.step_loss += epoch_losses
                train_seconds += time.perf_counter() - epoch_start
            train_loss = float(torch.tensor(epoch_losses) @ sizes) / len(train)
            postfix = {"train": f"{train_loss:.2f}"}
            if test is not None:
                model.eval()
                test_loss = _evaluate(model, test, 512)
                postfix["test"] = f"{test_loss:.2f}"
                history.test_loss.append(test_loss)
            history.train_loss.append(train_loss)
            bar.set_postfix(postfix)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Training interrupted (Ctrl-C) after {len(history.train_loss)} of {epochs} epochs and "
              f"{len(history.step_loss)} steps: the model keeps its weights so far and the history is returned.")
    except _Diverged as stop:
        with torch.no_grad():
            for now, saved in zip(weights, last_finite):
                now.copy_(saved)
        history.diverged = True
        warnings.warn(str(stop), DivergenceWarning, stacklevel=2)
    finally:
        bar.close()
        model.eval()
    history.seconds = time.perf_counter() - start
    history.images_per_second = seen / train_seconds if train_seconds > 0 else 0.0
    return history


# ---- checkpoints ----------------------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """What `load_checkpoint` returns: the model with its weights, the saved History (or None) and `extra`."""

    model: nn.Module
    history: History | None
    extra: dict


def _check_safe(value: Any, where: str) -> None:
    """Only plain data goes into a checkpoint, so that torch.load(weights_only=True) can read it back."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has the key {key!r}; checkpoint dictionaries need string keys.")
            _check_safe(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_safe(item, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (str, int, float, bool, torch.Tensor))):
        raise ValueError(f"{where} is a {type(value).__name__}; checkpoints hold only numbers, strings, "
                         "tensors, lists and dicts, so that loading them is safe.")


def save_checkpoint(model: nn.Module, path: str | os.PathLike, *, history: History | None = None,
                    extra: dict | None = None) -> Path:
    """Save the model's class name, config and weights (on the CPU), plus `history` and `extra` if given.

    extra: a dict of plain data (numbers, strings, tensors, lists, dicts), e.g. {"epochs": 10}.
    The file is written atomically: an interrupted save never leaves half a checkpoint. Returns the path.
    """
    model_config = getattr(model, "config", None)
    if not isinstance(model_config, dict):
        raise TypeError(f"save_checkpoint needs a model with a `config` dict of constructor arguments (as "
                        f"course_lib.models classes have); {type(model).__name__} has none.")
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"extra must be a dict; got a {type(extra).__name__}.")
    content = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "class": type(model).__name__,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in model_config.items()},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": None if history is None else asdict(history),
        "extra": extra or {},
    }
    _check_safe(content["config"], "model.config")
    _check_safe(content["extra"], "extra")
    return write_atomic(path, content)


def _describe(name: str, model_config: dict) -> str:
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in model_config.items()) + ")"


def load_checkpoint(path: str | os.PathLike, *, model: nn.Module | None = None,
                    map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by save_checkpoint, safely (torch.load with weights_only=True).

    model=None rebuilds the model from the saved class name and config; a given model must have the same class
    and config, and receives the weights. Returns Checkpoint(model, history, extra), the model on `map_location`
    in eval mode. A damaged file, a file that is not a checkpoint, or an architecture that does not match raises
    a ValueError that says what the file holds and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the path, or train and save_checkpoint first.")
    try:
        content = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        reason = " ".join(str(err).split())[:200]
        raise ValueError(f"{path} could not be read as a checkpoint ({type(err).__name__}: {reason}). It is "
                         "damaged, truncated, not a PyTorch file, or holds objects that are unsafe to load. "
                         "Delete it and save (or download) it again.") from err
    if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
        holds = (f"a dict with keys {sorted(map(str, content))[:6]}" if isinstance(content, dict)
                 else f"a {type(content).__name__}")
        raise ValueError(f"{path} is a PyTorch file but not a course_lib checkpoint: it holds {holds}. If it is a "
                         "bare state_dict, build the model yourself and call model.load_state_dict(torch.load(path)); "
                         "otherwise save it with course_lib.train.save_checkpoint.")
    if content.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is a checkpoint of format version {content.get('version')!r}; this course_lib "
                         f"reads version {CHECKPOINT_VERSION}. Update course_lib or save the checkpoint again.")
    name, saved = content["class"], dict(content["config"])
    in_file = _describe(name, saved)
    if model is None:
        if name not in MODEL_CLASSES:
            raise ValueError(f"{path} holds a {in_file}, a class course_lib cannot rebuild by itself: build it "
                             f"and pass it, load_checkpoint(path, model={name}(...)).")
        model = MODEL_CLASSES[name](**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    else:
        given = getattr(model, "config", {})
        given = {k: list(v) if isinstance(v, tuple) else v for k, v in given.items()}
        if type(model).__name__ != name or given != saved:
            differences = [f"{k}: {saved.get(k)!r} in the file, {given.get(k)!r} in your model"
                           for k in sorted(set(saved) | set(given)) if saved.get(k) != given.get(k)]
            what = f"class: {name} in the file, {type(model).__name__} given" if type(model).__name__ != name \
                else "; ".join(differences)
            raise ValueError(f"{path} holds a {in_file}, which does not match the model you passed "
                             f"({what}). Call load_checkpoint(path) without model= to rebuild the saved "
                             f"architecture, or build your model with the saved configuration.")
    try:
        model.load_state_dict(content["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path} claims to hold a {in_file}, but its weights do not fit that architecture "
                         f"({' '.join(str(err).split())[:300]}). The file is damaged or was edited: save it again."
                         ) from err
    model.to(map_location).eval()
    history = content.get("history")
    return Checkpoint(model, None if history is None else History(**history), content.get("extra") or {})
