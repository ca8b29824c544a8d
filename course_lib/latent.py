"""Walking through a latent space: straight lines (`lerp`), great circles (`slerp`), grids of latent points,
attribute directions (`attribute_vector`) and the input of the classifiers that judge an edit (`classifier_pixels`)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from course_lib import validate

GRID_VALUES = ("linear", "quantiles")
SAME_LINE = 1e-6  # slerp treats directions whose cosine is within this of +1 or -1 as on one line


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    if a.shape != b.shape or a.ndim == 0:
        raise ValueError(f"a and b must be latent vectors of the same shape (d,) or (n, d); got a {tuple(a.shape)} "
                         f"and b {tuple(b.shape)}.")
    return a, b


def _as_t(t: float | torch.Tensor) -> torch.Tensor:
    """t of shape (k,) becomes (k, 1), so that it broadcasts against vectors of shape (d,)."""
    return torch.as_tensor(t, dtype=torch.float32)[..., None]


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Linear interpolation (1 - t) a + t b.

    a, b: (d,) latent points; t: a number -> (d,), or (k,) values -> (k, d), one row per t.
    t = 0 gives a, t = 1 gives b; values outside [0, 1] extrapolate along the same line.
    """
    a, b = _check_pair(a, b)
    t = _as_t(t)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: move from a to b along the arc between them, at constant angular speed.

    a, b: (d,) non-zero latent points, or (n, d) pairs decided row by row; t as in `lerp` (with (n, d) pairs, a
    number or (n,) values, one per row). With omega the angle between a and b,
    slerp = sin((1 - t) omega) / sin(omega) a + sin(t omega) / sin(omega) b. If a and b have the same length,
    every point on the path has that length too, so it stays where N(0, I) puts its mass (a shell of radius
    about sqrt(d)) instead of cutting through the nearly empty middle as `lerp` does.
    Rows where a and b point the same way (omega = 0) follow the straight line, as `lerp`. A ValueError names
    the rows where a or b is zero (no angle) or where they point in opposite directions (omega = pi: every great
    circle through both joins them, so no arc is the path).
    """
    a, b = _check_pair(a, b)
    norm_a, norm_b = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    _refuse_rows((norm_a == 0) | (norm_b == 0), "a or b is the zero vector",
                 "the angle between them is undefined; use lerp, or start from a non-zero point")
    cos = ((a * b).sum(-1, keepdim=True) / (norm_a * norm_b)).clamp(-1.0, 1.0)
    _refuse_rows(cos < -1 + SAME_LINE, "a and b point in opposite directions",
                 "no single arc joins them; use lerp, or move one end slightly")
    parallel = cos > 1 - SAME_LINE  # (..., 1): the same direction; the arc is the straight line
    omega = torch.acos(cos)
    sin = torch.where(parallel, torch.ones_like(cos), torch.sin(omega))  # no 0 / 0 in the parallel rows
    t = _as_t(t)
    arc = torch.sin((1 - t) * omega) / sin * a + torch.sin(t * omega) / sin * b
    return torch.where(parallel, (1 - t) * a + t * b, arc)


def _refuse_rows(bad: torch.Tensor, what: str, why: str) -> None:
    """Raise a ValueError naming the rows (of (n, d) inputs) where `bad`, shape (..., 1), is True."""
    if bad.any():
        rows = f" in rows {bad[:, 0].nonzero()[:, 0].tolist()[:10]}" if bad.ndim == 2 else ""
        raise ValueError(f"slerp: {what}{rows}: {why}.")


def grid_values(n: int, *, grid_values: str = "linear", extent: tuple[float, float] | None = None) -> torch.Tensor:
    """n coordinate values for a latent grid, increasing: (n,) float32.

    "linear": evenly spaced over `extent` (default (-3, 3)), ends included.
    "quantiles": the quantiles of N(0, 1) at probabilities (i + 0.5) / n, so that every grid cell covers the
    same prior probability; this is the natural grid for a VAE, whose prior is N(0, I).
    """
    n = validate.whole_number(n, "n", minimum=2, hint="the number of grid points per axis")
    if grid_values == "linear":
        low, high = validate.interval(extent, "extent") if extent is not None else (-3.0, 3.0)
        return torch.linspace(low, high, n)
    if grid_values == "quantiles":
        if extent is not None:
            raise ValueError("extent applies to grid_values='linear' only; quantile grids need no extent.")
        probabilities = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        return torch.distributions.Normal(0.0, 1.0).icdf(probabilities).float()
    raise ValueError(f"grid_values={grid_values!r} is not one of {GRID_VALUES}.")


def attribute_vector(z: torch.Tensor, has_attribute: torch.Tensor) -> torch.Tensor:
    """The direction of an attribute in latent space: mean code of the faces with it minus mean of those without.

    z: (n, d) latent codes (e.g. encoder means); has_attribute: (n,) bool, at least one True and one False.
    Returns (d,). Adding it to a code moves the code, on average, from the faces without towards those with.
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    has_attribute = torch.as_tensor(has_attribute)
    if z.ndim != 2 or has_attribute.shape != (z.shape[0],):
        raise ValueError(f"z must be (n, d) and has_attribute (n,) with the same n; got z {tuple(z.shape)} and "
                         f"has_attribute {tuple(has_attribute.shape)}.")
    if has_attribute.dtype != torch.bool:
        raise ValueError(f"has_attribute must be a bool tensor (e.g. faces.attribute('Smiling')); got "
                         f"{has_attribute.dtype}.")
    count = int(has_attribute.sum())
    if count == 0 or count == len(has_attribute):
        raise ValueError(f"has_attribute is {'all False' if count == 0 else 'all True'}: the vector needs faces "
                         "both with and without the attribute; use more faces or another attribute.")
    return z[has_attribute].mean(0) - z[~has_attribute].mean(0)


def classifier_pixels(images: torch.Tensor) -> np.ndarray:
    """What notebook 06's attribute classifiers see: images (n, C, H, W) in [0, 1], averaged over 2 x 2 blocks
    and flattened, as a numpy array (n, C * H * W / 4); (n, 3, 32, 32) faces give (n, 768)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a tensor (n, C, H, W); got {getattr(images, 'shape', type(images))}.")
    return F.avg_pool2d(images.detach().float().cpu(), 2).flatten(1).numpy()
