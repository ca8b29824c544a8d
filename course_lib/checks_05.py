"""Exercise checks of notebook 05, the variational autoencoder (how to write one: see course_lib.checks)."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close, short


def _gaussian_cases(rng: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, logvar) pairs of shape (batch, d): the prior itself, one dimension, and random ones."""
    return [(torch.zeros(2, 3), torch.zeros(2, 3)), (torch.tensor([[1.5]]), torch.tensor([[-2.0]])),
            (torch.randn(4, 2, generator=rng), torch.randn(4, 2, generator=rng)),
            (torch.randn(3, 16, generator=rng) * 2, torch.randn(3, 16, generator=rng) - 1)]


def _probe_gradient_path(reparameterize: Callable, mean: torch.Tensor, logvar: torch.Tensor,
                         eps: torch.Tensor) -> dict[str, Any]:
    """Runs next to the learner's answer: call it on mean and logvar that require gradients; is z connected?"""
    z = reparameterize(mean.requires_grad_(), logvar.requires_grad_(), eps)
    if isinstance(z, torch.Tensor):
        return {"z": z.detach(), "grad_fn": z.grad_fn is not None}
    return {"z": z, "grad_fn": False}


@exercise("05.1", "The reparameterisation step", answer="reparameterize", points=2,
          hint="z = mean + exp(logvar / 2) * eps: the standard deviation is exp(logvar / 2), not exp(logvar).")
def _check_reparameterize(answer: Answer, rng: torch.Generator) -> None:
    for mean, logvar in _gaussian_cases(rng):
        eps = torch.randn(mean.shape, generator=rng)
        tried = f"reparameterize(mean={short(mean)}, logvar={short(logvar)}, eps=...)"
        got = answer.probe(_probe_gradient_path, mean, logvar, eps, tried=tried)
        if not isinstance(got, dict) or "z" not in got:
            raise CheckFailure(tried, "a tensor z", got)
        expect_close(got["z"], mean + torch.exp(0.5 * logvar) * eps, tried=tried)
        if got.get("grad_fn") is not True:
            raise CheckFailure(tried, "a tensor that gradients can flow through to mean and logvar",
                               "a result with no grad_fn", "Compute z from mean and logvar with torch "
                               "operations (no .detach(), .item() or torch.no_grad()).")


@exercise("05.2", "The KL divergence from q(z|x) to N(0, I), in closed form", answer="gaussian_kl", points=2,
          hint="0.5 * sum over the latent dimensions of (exp(logvar) + mean^2 - 1 - logvar), one number per row.")
def _check_gaussian_kl(answer: Answer, rng: torch.Generator) -> None:
    for mean, logvar in _gaussian_cases(rng):
        tried = f"gaussian_kl(mean={short(mean)}, logvar={short(logvar)})"
        got = answer(mean, logvar, tried=tried)
        expected = 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="One KL per image: sum over the latent dimensions "
                     "(dim=1), not over the batch; the KL of N(0, I) from itself is 0.")


@exercise("05.3", "The ELBO of each image", answer="elbo", points=2,
          hint="ELBO = -(BCE summed over the pixels of each image, from logits) - KL; both per image, shape (batch,).")
def _check_elbo(answer: Answer, rng: torch.Generator) -> None:
    for batch, d in [(1, 1), (3, 2), (5, 8)]:
        x = (torch.rand(batch, 1, 4, 4, generator=rng) > 0.5).float()
        logits = torch.randn(batch, 1, 4, 4, generator=rng) * 3
        mean, logvar = torch.randn(batch, d, generator=rng), torch.randn(batch, d, generator=rng)
        tried = f"elbo(x (batch={batch}, 1, 4, 4), logits, mean (batch={batch}, d={d}), logvar)"
        got = answer(x, logits, mean, logvar, tried=tried)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        expected = -bce - 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="Sum the BCE over each image's pixels and the KL over the "
                     "latent dimensions, keep one value per image, and subtract both (the ELBO is a log-likelihood "
                     "bound: negative, higher is better).")


@exercise("05.4", "The importance-weighted estimate of log p(x)", answer="iwae_estimate", points=2,
          hint="log w = log p(x|z) + log p(z) - log q(z|x); estimate = logsumexp(log w, dim=1) - log(k).")
def _check_iwae(answer: Answer, rng: torch.Generator) -> None:
    cases = [(torch.full((1, 1), -3.0), torch.full((1, 1), -1.0), torch.full((1, 1), -1.5)),
             (torch.randn(2, 5, generator=rng), torch.randn(2, 5, generator=rng), torch.randn(2, 5, generator=rng)),
             (torch.randn(3, 100, generator=rng) * 5 - 600, torch.randn(3, 100, generator=rng) - 20,
              torch.randn(3, 100, generator=rng) - 18)]  # realistic sizes: exp() of these underflows to 0
    for log_px_z, log_pz, log_qz in cases:
        tried = (f"iwae_estimate(log_px_z, log_pz, log_qz) with shape {tuple(log_px_z.shape)}, log p(x|z) around "
                 f"{log_px_z.mean().item():.0f}")
        got = answer(log_px_z, log_pz, log_qz, tried=tried)
        k = log_px_z.shape[1]
        expected = torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - math.log(k)
        expect_close(got, expected, tried=tried, rtol=1e-5, atol=1e-4,
                     hint="Average the weights (not their logs) over the k samples of each image, and do it in "
                     "log space with torch.logsumexp: exp(-600) underflows to 0.")
