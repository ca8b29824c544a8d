"""Exercise checks of notebook 03, representation learning (how to write one: see course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close


def _pca_data(n: int, d: int, rng: torch.Generator) -> torch.Tensor:
    """n points in d dimensions with clearly different variances per direction and a large offset."""
    scales = torch.linspace(3.0, 0.2, d)
    rotation = torch.linalg.qr(torch.randn(d, d, generator=rng))[0]
    return (torch.randn(n, d, generator=rng) * scales) @ rotation.T + 5 * torch.randn(d, generator=rng)


@exercise("03.1", "PCA directions from one SVD", answer="pca_directions", points=2,
          hint="mean = x.mean(0); U, S, Vt = torch.linalg.svd(x - mean, full_matrices=False); W = Vt[:k].T.")
def _check_pca_directions(answer: Answer, rng: torch.Generator) -> None:
    for n, d, k in [(200, 5, 2), (300, 8, 1), (50, 4, 4), (400, 12, 5)]:
        x = _pca_data(n, d, rng)
        tried = f"pca_directions(x of shape ({n}, {d}), k={k})"
        got = answer(x, k, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (mean, W)", got)
        mean, w = (torch.as_tensor(part, dtype=torch.float32) for part in got)
        expect_close(mean, x.mean(0), tried=tried + " -> mean", rtol=1e-4, atol=1e-4)
        if tuple(w.shape) != (d, k):
            raise CheckFailure(tried + " -> W", f"shape ({d}, {k}): one direction per column", tuple(w.shape),
                               "W holds the directions as columns: take the first k rows of Vt and transpose.")
        expect_close(w.T @ w, torch.eye(k), tried=tried + " -> W.T @ W", rtol=1e-3, atol=1e-3,
                     hint="The directions must be orthonormal (unit length): use Vt's rows, not scaled by S.")
        v = torch.linalg.svd(x - x.mean(0), full_matrices=False)[2][:k].T
        expect_close(w @ w.T, v @ v.T, tried=tried + " -> W @ W.T (the subspace W spans)", rtol=1e-3, atol=1e-3,
                     hint="Centre x (subtract the mean) before the SVD, and keep the k directions of LARGEST "
                          "variance (the first rows of Vt).")


@exercise("03.2", "The linear encoder and decoder", answer="pca_encode_decode", points=1,
          hint="z = (x - mean) @ W; x_hat = z @ W.T + mean.")
def _check_pca_encode_decode(answer: Answer, rng: torch.Generator) -> None:
    for n, d, k in [(10, 6, 2), (1, 4, 1), (25, 9, 9), (7, 784, 3)]:
        w = torch.linalg.qr(torch.randn(d, k, generator=rng))[0]
        mean = torch.rand(d, generator=rng) + 0.5
        x = torch.rand(n, d, generator=rng)
        tried = f"pca_encode_decode(x of shape ({n}, {d}), mean of shape ({d},), W of shape ({d}, {k}))"
        got = answer(x, mean, w, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (z, x_hat)", got)
        z = (x - mean) @ w
        expect_close(got[0], z, tried=tried + " -> z", rtol=1e-4, atol=1e-4,
                     hint="Encode the centred images: subtract the mean before multiplying by W.")
        expect_close(got[1], z @ w.T + mean, tried=tried + " -> x_hat", rtol=1e-4, atol=1e-4,
                     hint="Decode with W.T and add the mean back.")
