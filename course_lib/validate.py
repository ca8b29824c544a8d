"""The rules for arguments, in one place: whole numbers, numbers in a range, (low, high) pairs, image batches and
latent points.

Each check returns the value in the form the caller wants (an int, a float, a tensor) or raises a ValueError
(a TypeError for the wrong kind of object) that names the parameter, shows what it got and says what it needs.
Data are checked once, where they enter (`train.fit`, `train.evaluate`, the widgets, the plots), not in every
training step.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch

ROUNDING = 1e-6  # pixel values this far outside [0, 1] are float rounding (e.g. of (1 - t) a + t b), not errors


def whole_number(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, hint: str = "") -> int:
    """`value` as an int, if it is a whole number from `minimum` to `maximum` (True and False are not numbers)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or (maximum is not None and value > maximum)):
        if maximum is not None:
            need = f"a whole number from {minimum} to {maximum}"
        else:
            need = "a positive whole number" if minimum == 1 else f"a whole number, at least {minimum}"
        raise ValueError(f"{name}={value!r} must be {need}{'; ' + hint if hint else ''}.")
    return int(value)


def number(value: Any, name: str, *, above: float | None = None, at_least: float | None = None,
           below: float | None = None, hint: str = "") -> float:
    """`value` as a float, if it is a finite real number > `above`, >= `at_least` and < `below` (those given).

    E.g. a learning rate: number(lr, "lr", above=0); a probability threshold: number(t, "threshold", above=0, below=1).
    """
    bounds = []
    if above is not None:
        bounds.append(f"> {above:g}")
    if at_least is not None:
        bounds.append(f">= {at_least:g}")
    if below is not None:
        bounds.append(f"< {below:g}")
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
          and (above is None or value > above) and (at_least is None or value >= at_least)
          and (below is None or value < below))
    if not ok:
        need = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
        raise ValueError(f"{name}={value!r} must be {need}{'; ' + hint if hint else ''}.")
    return float(value)


def interval(pair: Any, name: str) -> tuple[float, float]:
    """A pair (low, high) of finite numbers with low < high, as floats."""
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={pair!r} must be a pair (low, high) of numbers.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name}={pair!r} must be (low, high) with finite low < high.")
    return low, high


def in_unit_interval(x: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless every value of `x` lies in [0, 1] (NaN and infinities do not)."""
    if x.numel() == 0:
        return
    low, high = torch.aminmax(x.detach())
    if not (low >= -ROUNDING and high <= 1 + ROUNDING):  # also catches NaN
        nan = " and NaN" if torch.isnan(low) or torch.isnan(high) else ""
        raise ValueError(f"{name} must hold values in [0, 1]; got values from {low.item():.4g} to {high.item():.4g}"
                         f"{nan}. Undo any normalisation ((x + 1) / 2 for [-1, 1]); uint8 images need "
                         f"{name}.float() / 255; logits need torch.sigmoid({name}).")


def _shape_hint(shape: tuple[int, ...], image_shape: tuple[int, ...], name: str) -> str:
    """A fix for the usual shape mistakes: one image, a missing channel axis, flattened or channels-last images."""
    c, h, w = image_shape
    if shape == image_shape:
        return f" That is one image: add a batch axis with {name}.unsqueeze(0)."
    if len(shape) == 3 and shape[1:] == (h, w) and c == 1:
        return f" Add the channel axis with {name}.unsqueeze(1)."
    if len(shape) == 2 and shape[1] == c * h * w:
        return f" These are flattened images: reshape with {name}.view(-1, {c}, {h}, {w})."
    if len(shape) == 4 and shape[1:] == (h, w, c):
        return f" The channels come last: use {name}.permute(0, 3, 1, 2)."
    return ""


def images(x: Any, name: str = "images", *, image_shape: Sequence[int] | None = None, uint8: bool = True,
           values: bool = True) -> torch.Tensor:
    """Check a batch of images and return it unchanged: a tensor (n, C, H, W) with n >= 1, either uint8 (0..255,
    when `uint8` is True) or floating point in [0, 1].

    image_shape: the (C, H, W) every image must have, e.g. a model's `image_shape`.
    values: check that float values lie in [0, 1] (one pass over the data); False checks only type, shape and
    dtype, which costs nothing.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images (n, C, H, W); got a {type(x).__name__}. "
                        f"Convert with torch.as_tensor({name}).")
    shape = tuple(x.shape)
    if image_shape is not None:
        image_shape = tuple(image_shape)
        if len(shape) != 4 or shape[1:] != image_shape or shape[0] == 0:
            expected = "(n, " + ", ".join(map(str, image_shape)) + ")"
            raise ValueError(f"{name} must have shape {expected} with n >= 1; got {shape}."
                             f"{_shape_hint(shape, image_shape, name)}")
    elif len(shape) != 4 or 0 in shape:
        raise ValueError(f"{name} must have shape (n, C, H, W) with n >= 1; got {shape}.")
    if x.dtype == torch.uint8:
        if not uint8:
            raise ValueError(f"{name} holds uint8 pixels (0..255), but floats in [0, 1] are needed: convert with "
                             f"{name}.float() / 255 (or ImageData.as_float()).")
        return x
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {x.dtype}; images must be float in [0, 1]"
                         f"{' or uint8 (0..255)' if uint8 else ''}: use {name}.float().")
    if values:
        in_unit_interval(x, name)
    return x


def latent_point(z: Any, name: str, *, dim: int | None = None) -> torch.Tensor:
    """One latent point, (d,) or (1, d), as a finite float32 (d,) tensor on the CPU."""
    z = torch.as_tensor(z).detach().cpu().float()
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1 or (dim is not None and z.shape[0] != dim):
        want = f"({dim},)" if dim is not None else "(d,)"
        raise ValueError(f"{name} must be one latent point of shape {want} or (1, {dim or 'd'}); got "
                         f"{tuple(z.shape)}.")
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} contains NaN or infinite values: {z.tolist()[:8]}.")
    return z


def latent_batch(z: Any, name: str, *, dim: int) -> torch.Tensor:
    """Latent points for a decoder: a float tensor (n, dim), returned unchanged (no pass over the values)."""
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != dim:
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else f"a {type(z).__name__}"
        raise ValueError(f"{name} must be a tensor of shape (n, {dim}); got {got}.")
    if not z.is_floating_point():
        raise ValueError(f"{name} has dtype {z.dtype}; latent points must be floats: use {name}.float().")
    return z
