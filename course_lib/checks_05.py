"""Exercise checks of notebook 05, the variational autoencoder (how to write one: see course_lib.checks)."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from course_lib.checks import Answer, CheckFailure, as_number, exercise, expect_close, short


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
          hint="z = μ + σ ⊙ ε, where the standard deviation σ is exp(½ · log σ²), not exp(log σ²); build it from the "
               "inputs with tensor operations, so that gradients reach them.",
          more="torch.exp and elementwise arithmetic; no .detach(), .item() or torch.no_grad() on the way.")
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
          hint="For each latent dimension the KL is ½ (σ² + μ² − 1 − log σ²), with σ² = exp(log σ²); add up the "
               "dimensions of each row: one number per row.",
          more="the tensor methods .exp() and .sum over the latent axis, and ** for the square.")
def _check_gaussian_kl(answer: Answer, rng: torch.Generator) -> None:
    for mean, logvar in _gaussian_cases(rng):
        tried = f"gaussian_kl(mean={short(mean)}, logvar={short(logvar)})"
        got = answer(mean, logvar, tried=tried)
        expected = 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="One KL per image: sum over the latent dimensions "
                     "(dim=1), not over the batch; the KL of N(0, I) from itself is 0.")


@exercise("05.3", "The ELBO of each image", answer="elbo", points=2,
          hint="ELBO = log p(x | z) − KL(q(z | x) ‖ N(0, I)): the first term is minus the binary cross-entropy from "
               "the logits summed over each image's pixels, the second your KL; both per image, shape (batch,).",
          more="F.binary_cross_entropy_with_logits with reduction='none', a sum over each image's pixels, and your "
               "gaussian_kl.")
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
          hint="k is the number of latent samples per image, the length of axis 1. Each sample's log-weight is "
               "log p(x|z) + log p(z) − log q(z|x); the estimate is the log of the average weight, computed in log "
               "space: log Σ exp(log-weights) − log k.",
          more="torch.logsumexp over the sample axis, and math.log (or torch.log) of k.")
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


# ---- scoring samples: sampling from N(0, I) ---------------------------------------------------------------------

def _classifier_score(probs: torch.Tensor) -> float:
    """exp(mean over rows of KL(p(y|x) || p(y))), p(y) the mean row, with 0 log 0 = 0 (float64)."""
    p = probs.double()
    marginal = p.mean(0, keepdim=True)
    return torch.exp((torch.special.xlogy(p, p) - torch.special.xlogy(p, marginal)).sum(1).mean()).item()


@exercise("05.5", "Score decoded N(0, I) draws with a classifier", answer="classifier_score", points=2,
          hint="p(y) is the classifier's average prediction over all samples. For each sample, KL(p(y|x) ‖ p(y)) = "
               "Σ_c p(c|x) (log p(c|x) − log p(c)), where a class with p(c|x) = 0 adds 0; the score is exp of the "
               "mean KL over the samples. It lies between 1 and the number of classes.",
          more="the mean over the sample axis for p(y); torch.special.xlogy(a, b), which is a · log b and 0 where "
               "a = 0; .sum over the class axis; torch.exp.")
def _check_classifier_score(answer: Answer, rng: torch.Generator) -> None:
    one_hot = torch.eye(4).repeat(2, 1)  # 8 confident samples, the 4 classes used evenly
    cases = [("8 identical rows", torch.tensor([0.7, 0.2, 0.1]).repeat(8, 1)),
             ("8 one-hot rows, 2 of each of 4 classes", one_hot),
             ("5 one-hot rows, all the same class", torch.eye(3)[[1] * 5]),
             ("50 random rows over 10 classes", torch.softmax(torch.randn(50, 10, generator=rng) * 2, dim=1)),
             ("30 peaked random rows over 10 classes", torch.softmax(torch.randn(30, 10, generator=rng) * 6, dim=1))]
    for what, probs in cases:
        tried = f"classifier_score(probs: {what}, shape {tuple(probs.shape)})"
        got = answer(probs, tried=tried)
        expected = _classifier_score(probs)
        value = as_number(got)
        hint = "exp of the average, over samples, of KL(p(y|x) ‖ p(y)), with p(y) the average row."
        if value is not None and math.isnan(value):
            hint = "0 · log 0 gave NaN: a class a sample rules out (probability 0) adds 0 to its KL."
        elif value is not None and math.isclose(value, math.log(expected), rel_tol=1e-4, abs_tol=1e-6):
            hint = "That is the mean KL; the score is its exponential."
        expect_close(got, expected, tried=tried, rtol=1e-4, atol=1e-5, hint=hint)
