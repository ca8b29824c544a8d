"""Walking through a latent space: straight lines (`lerp`), great circles (`slerp`), grids of latent points and
attribute directions (`attribute_vector`)."""
from __future__ import annotations

import torch

GRID_VALUES = ("linear", "quantiles")


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

    a, b: (d,) non-zero latent points; t as in `lerp`. With omega the angle between a and b,
    slerp = sin((1 - t) omega) / sin(omega) a + sin(t omega) / sin(omega) b. If a and b have the same length,
    every point on the path has that length too, so it stays where N(0, I) puts its mass (a shell of radius
    about sqrt(d)) instead of cutting through the nearly empty middle as `lerp` does. Nearly parallel a and b
    fall back to `lerp`.
    """
    a, b = _check_pair(a, b)
    norm_a, norm_b = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    if (norm_a == 0).any() or (norm_b == 0).any():
        raise ValueError("slerp needs non-zero vectors a and b (the angle to the origin is undefined); use lerp.")
    cos = ((a * b).sum(-1, keepdim=True) / (norm_a * norm_b)).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    t = _as_t(t)
    if (sin.abs() < 1e-6).any():
        return lerp(a, b, t.squeeze(-1))
    return torch.sin((1 - t) * omega) / sin * a + torch.sin(t * omega) / sin * b


def grid_values(n: int, *, grid_values: str = "linear", extent: tuple[float, float] | None = None) -> torch.Tensor:
    """n coordinate values for a latent grid, increasing: (n,) float32.

    "linear": evenly spaced over `extent` (default (-3, 3)), ends included.
    "quantiles": the quantiles of N(0, 1) at probabilities (i + 0.5) / n, so that every grid cell covers the
    same prior probability; this is the natural grid for a VAE, whose prior is N(0, I).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n={n!r} must be a whole number of grid points, at least 2.")
    if grid_values == "linear":
        low, high = extent if extent is not None else (-3.0, 3.0)
        if not low < high:
            raise ValueError(f"extent={extent!r} must be (low, high) with low < high.")
        return torch.linspace(float(low), float(high), n)
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
