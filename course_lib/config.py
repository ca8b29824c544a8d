"""Course-wide settings: fast mode, device choice and seeding.

Environment variables:
    COURSE_FAST=1      shrink data and epochs so every notebook runs in seconds (tests use it).
    COURSE_DEVICE=cpu  force a device ("cpu", "cuda", "cuda:1", "mps") instead of the automatic choice.
"""
from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

DEVICE_KINDS = ("cpu", "cuda", "mps")


def is_fast() -> bool:
    """True when the environment variable COURSE_FAST is set to 1 (read at every call)."""
    value = os.environ.get("COURSE_FAST", "0").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"COURSE_FAST={value!r} is not understood: set it to 1 (fast mode) or 0 (full size).")


def pick(*, full: T, fast: T) -> T:
    """Return `fast` in fast mode and `full` otherwise, e.g. `epochs = pick(full=10, fast=1)`."""
    return fast if is_fast() else full


def get_device(override: str | torch.device | None = None) -> torch.device:
    """The device to compute on: `override`, else $COURSE_DEVICE, else cuda, then mps, then cpu.

    Asking for a device this machine lacks raises a ValueError that says what is available.
    """
    requested = override if override is not None else os.environ.get("COURSE_DEVICE") or None
    if requested is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device={requested!r} is not a device name; use one of {', '.join(DEVICE_KINDS)} (or 'cuda:N')."
        ) from err
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if device.type not in available:
        raise ValueError(f"device={requested!r}: the course supports {', '.join(DEVICE_KINDS)}.")
    if not available[device.type]:
        have = ", ".join(kind for kind, ok in available.items() if ok)
        raise ValueError(
            f"device={requested!r} was asked for, but this machine has no {device.type} device. "
            f"Available here: {have}. Unset COURSE_DEVICE or pass device=None to choose automatically."
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device={requested!r}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed(n: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that a CPU run repeats exactly."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"seed n={n!r} must be a non-negative integer.")
    random.seed(n)
    np.random.seed(n % 2**32)
    torch.manual_seed(n)
