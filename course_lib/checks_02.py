"""Exercise checks of notebook 02, density estimation and maximum likelihood (how to write one: course_lib.checks)."""
from __future__ import annotations

import numpy as np
import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close, short


@exercise("02.1", "The Gaussian log-likelihood", answer="gaussian_log_likelihood", points=1,
          hint="sum over i of -log(sigma) - 0.5 log(2 pi) - (x_i - mu)^2 / (2 sigma^2).")
def _check_gaussian_log_likelihood(answer: Answer, rng: torch.Generator) -> None:
    mu, sigma = (torch.randn(1, generator=rng).item() * 2, torch.rand(1, generator=rng).item() + 0.3)
    cases = [(torch.tensor([0.0]), 0.0, 1.0), (torch.tensor([1.0, 2.0, 3.0]), 2.0, 1.0),
             (torch.tensor([-1.5, 0.3, 2.2, 4.0]), 0.5, 2.5), (torch.tensor([10.0, 10.1]), 10.0, 0.05),
             (torch.randn(100, generator=rng) * 3 + 1, round(mu, 3), round(sigma, 3))]
    for x, mu, sigma in cases:
        mu_t, sigma_t = torch.tensor(mu), torch.tensor(sigma)
        tried = f"gaussian_log_likelihood(x={short(x)}, mu={mu}, sigma={sigma})"
        got = answer(x, mu_t, sigma_t, tried=tried)
        expected = torch.distributions.Normal(mu_t, sigma_t).log_prob(x).sum()
        expect_close(got, expected, tried=tried, hint="Sum the log densities (do not average), with sigma, "
                     "not sigma^2, as the standard deviation.")


@exercise("02.2", "The closed-form maximum-likelihood Gaussian", answer="gaussian_mle", points=1,
          hint="mu = mean of x; sigma = sqrt(mean of (x - mu)^2), dividing by n (not n - 1): that is the MLE.")
def _check_gaussian_mle(answer: Answer, rng: torch.Generator) -> None:
    cases = [torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0, 2.0]), torch.tensor([-1.0, 0.0, 4.0, 5.0]),
             torch.randn(50, generator=rng) * 0.3 + 7]
    for x in cases:
        tried = f"gaussian_mle(x={short(x)})"
        got = answer(x, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (mu, sigma)", got)
        expect_close(torch.as_tensor(got[0]), x.mean(), tried=tried + " -> mu")
        expect_close(torch.as_tensor(got[1]), x.std(unbiased=False), tried=tried + " -> sigma",
                     hint="The maximum-likelihood sigma divides by n, not n - 1, and is a standard deviation.")


def _kde_mean_log_likelihood(train: torch.Tensor, held_out: torch.Tensor, bandwidth: float) -> float:
    """Mean over held_out of log (1/n) sum_i N(v | x_i, h^2 I), computed with logsumexp."""
    d = train.shape[1]
    sq = torch.cdist(held_out.double(), train.double()) ** 2
    log_k = -sq / (2 * bandwidth ** 2) - d * np.log(bandwidth) - 0.5 * d * np.log(2 * np.pi)
    return (torch.logsumexp(log_k, dim=1) - np.log(len(train))).mean().item()


def _bandwidth_cases(rng: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    two_clusters = torch.cat([torch.randn(150, 2, generator=rng) * 0.3 - 2, torch.randn(150, 2, generator=rng) + 2])
    wide = torch.randn(200, 1, generator=rng) * 4
    ring_angle = torch.rand(300, generator=rng) * 2 * np.pi
    ring = torch.stack([ring_angle.cos(), ring_angle.sin()], 1) * 3 + torch.randn(300, 2, generator=rng) * 0.2
    return [(data[::2], data[1::2]) for data in (two_clusters, wide, ring)]


def _scalar(value: object) -> float | None:
    """`value` as a float if it is one number (int, float, 0-d array or tensor), else None."""
    try:
        array = np.asarray(value.detach() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    return float(array) if array.shape == () else None


BANDWIDTHS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 4.0)


@exercise("02.3", "Choose a KDE bandwidth by held-out likelihood", answer="best_bandwidth", points=2,
          hint="For each bandwidth fit KernelDensity(bandwidth=h) on train, take .score_samples(held_out).mean(), "
               "and return the h with the largest value (never judge on the training points themselves).")
def _check_best_bandwidth(answer: Answer, rng: torch.Generator) -> None:
    for train, held_out in _bandwidth_cases(rng):
        scores = [_kde_mean_log_likelihood(train, held_out, h) for h in BANDWIDTHS]
        expected = BANDWIDTHS[int(np.argmax(scores))]
        tied = [h for h, s in zip(BANDWIDTHS, scores) if s >= max(scores) - 1e-6 * max(1.0, abs(max(scores)))]
        tried = (f"best_bandwidth(train of shape {tuple(train.shape)}, held_out of shape {tuple(held_out.shape)}, "
                 f"bandwidths={list(BANDWIDTHS)})")
        got = answer(train.numpy(), held_out.numpy(), list(BANDWIDTHS), tried=tried)
        value = _scalar(got)
        if value is not None and any(np.isclose(value, h, rtol=1e-4, atol=1e-5) for h in tied):
            continue  # the best bandwidth, or one whose held-out score ties with it
        picked_smallest = value is not None and np.isclose(value, BANDWIDTHS[0])
        expect_close(got, expected, tried=tried, hint=(
            "The smallest bandwidth always wins on the training points (each sits on its own bump): "
            "score on held_out." if picked_smallest else ""))


@exercise("02.4", "The independent-pixel model by maximum likelihood", answer="independent_pixel_log_likelihood",
          points=2, hint="p = train.mean(0) clamped to [eps, 1 - eps]; each test image's log-likelihood is "
                         "sum_j x_j log p_j + (1 - x_j) log(1 - p_j) (a matrix product does all images at once).")
def _check_independent_pixel(answer: Answer, rng: torch.Generator) -> None:
    probs = torch.rand(12, generator=rng)
    train = torch.bernoulli(probs.expand(200, -1), generator=rng)
    train[:, 0], train[:, 1] = 0.0, 1.0  # a pixel never on and one always on in training ...
    test = torch.bernoulli(probs.expand(30, -1), generator=rng)
    test[0, 0], test[1, 1] = 1.0, 0.0  # ... that break the pattern in two test images
    for eps in (1e-3, 0.05):
        tried = f"independent_pixel_log_likelihood(train (200, 12), test (30, 12), eps={eps})"
        got = answer(train, test, eps, tried=tried)
        p = train.mean(0).clamp(eps, 1 - eps)
        expected = test @ p.log() + (1 - test) @ (1 - p).log()
        try:
            finite = bool(torch.isfinite(torch.as_tensor(got, dtype=torch.float64)).all())
        except (TypeError, ValueError, RuntimeError):
            finite = True
        hint = ("A probability of exactly 0 or 1 makes an unseen pixel value infinitely unlikely: clamp p."
                if not finite else "Return one log-likelihood per test image (shape (n_test,)), in nats.")
        expect_close(got, expected, tried=tried, hint=hint, rtol=1e-4, atol=1e-4)
