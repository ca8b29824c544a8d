"""Exercise checks of notebook 01, generative vs discriminative models (how to write one: see course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close


@exercise("01.1", "Sample from a class-conditional Gaussian", answer="sample_gaussian", points=2,
          hint="Factor cov = L L^T with torch.linalg.cholesky, then x = mean + z @ L.T with z ~ N(0, I) (torch.randn).")
def _check_sample_gaussian(answer: Answer, rng: torch.Generator) -> None:
    shift = torch.randn(4, generator=rng).round(decimals=1)  # moves each mean a little, differently per run
    cases = [(torch.tensor([-1.0, -0.5]) + shift[0], torch.tensor([[1.0, 0.6], [0.6, 0.8]])),
             (torch.tensor([1.5, 1.0]) + shift[1], torch.tensor([[0.5, -0.2], [-0.2, 0.6]])),
             (torch.tensor([0.0, 2.0, -3.0]) + shift[2],
              torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])),
             (torch.tensor([4.0]) + shift[3], torch.tensor([[0.25]]))]
    for mean, cov in cases:
        tried = f"sample_gaussian(mean={mean.tolist()}, cov={cov.tolist()}, n=20000)"
        x = torch.as_tensor(answer(mean, cov, 20000, tried=tried)).double()
        if x.shape != (20000, len(mean)):
            raise CheckFailure(tried, f"shape (20000, {len(mean)})", f"shape {tuple(x.shape)}",
                               "Return one row per sample, one column per dimension.")
        expect_close(x.mean(0), mean, tried=tried + ", then the mean of the samples", atol=0.06, rtol=0)
        got_cov = torch.cov(x.T).reshape(len(mean), len(mean))
        expect_close(got_cov, cov, tried=tried + ", then the covariance of the samples", atol=0.08, rtol=0,
                     hint="The spread is wrong: multiply z by the Cholesky factor L (not by cov itself).")
    tried = "sample_gaussian(mean, cov, n=5) twice"
    first, second = (torch.as_tensor(answer(cases[0][0], cases[0][1], 5, tried=tried)) for _ in range(2))
    if torch.equal(first, second):
        raise CheckFailure(tried, "different samples each call", "the same samples twice",
                           "A generative model must be random: draw fresh noise on every call.")


@exercise("01.2", "Classify with Bayes' rule", answer="bayes_posterior", points=2,
          hint="p(y|x) is proportional to p(x|y) p(y): add log p(y) to the log-likelihoods, then normalise each row "
               "with torch.softmax (it subtracts the maximum first, so very negative logs do not underflow).")
def _check_bayes_posterior(answer: Answer, rng: torch.Generator) -> None:
    cases = [(torch.tensor([[-1.0, -2.0], [-3.0, -0.5], [-1.0, -1.0]]), torch.tensor([0.5, 0.5])),
             (torch.tensor([[-1.0, -1.0], [-2.0, -1.5]]), torch.tensor([0.6, 0.4])),
             (torch.tensor([[-2.0, -1.0, -3.0]]), torch.tensor([0.2, 0.3, 0.5])),
             (-torch.rand(4, 3, generator=rng) * 4, torch.softmax(torch.randn(3, generator=rng), dim=0)),
             (torch.tensor([[-1000.0, -1001.0], [-1200.0, -1190.0]]), torch.tensor([0.6, 0.4]))]
    for log_lik, prior in cases:
        tried = f"bayes_posterior(log_px_given_y={log_lik.tolist()}, prior={prior.tolist()})"
        got = answer(log_lik, prior, tried=tried)
        expected = torch.softmax(log_lik + prior.log(), dim=1)
        hint = ("Very small likelihoods (log p = -1000) underflow to 0 if you exponentiate first; work in logs."
                if log_lik.min() < -100 else "")
        expect_close(got, expected, tried=tried, hint=hint, atol=1e-5)


@exercise("01.3", "A model that generates, unlike the mean image", answer="generate", points=2,
          hint="Treat each pixel's mean as the probability that it is on: torch.bernoulli(p) draws a fresh 0/1 "
               "image each time; stack k of them.")
def _check_generate(answer: Answer, rng: torch.Generator) -> None:
    means = torch.rand(1, 6, 5, generator=rng)
    means[0, 0, :] = 0.0  # pixels that are never on ...
    means[0, 1, :] = 1.0  # ... and always on in the data
    tried = "generate(pixel_means of shape (1, 6, 5), k=4000)"
    x = torch.as_tensor(answer(means, 4000, tried=tried)).float()
    if x.shape != (4000, *means.shape):
        raise CheckFailure(tried, f"shape (4000, {', '.join(map(str, means.shape))})", f"shape {tuple(x.shape)}",
                           "Return k images, each shaped like pixel_means.")
    if torch.all(x == x[0]):
        raise CheckFailure(tried, "images that differ from one another", "k identical images",
                           "That is the fixed calculation: a generative model needs a random element.")
    if not torch.all((x == 0) | (x == 1)):
        raise CheckFailure(tried, "binary images (only 0s and 1s)", x, "Draw each pixel from Bernoulli(p).")
    expect_close(x.mean(0), means, tried=tried + ", then the average of the k samples", atol=0.05, rtol=0,
                 hint="On average, pixel j should be on with probability pixel_means[j].")
    tried = "generate(pixel_means, k=3) twice"
    if torch.equal(torch.as_tensor(answer(means, 3, tried=tried)), torch.as_tensor(answer(means, 3, tried=tried))):
        raise CheckFailure(tried, "new images on each call", "the same images twice")
