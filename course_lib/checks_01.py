"""Exercise checks of notebook 01, generative vs discriminative models (how to write one: see course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import (Answer, CheckFailure, exercise, expect_choice, expect_close, ks_distance, real_tensor,
                               standard_normal_cdf)


@exercise("01.1", "Sample from a class-conditional Gaussian", answer="sample_gaussian", points=2,
          hint="Draw standard-normal noise z, one row per sample; factor the covariance as Σ = L Lᵀ (Cholesky) and "
               "map each row to μ + L z, which has mean μ and covariance Σ.",
          more="torch.linalg.cholesky gives L, torch.randn the noise; with samples as rows, the matrix product @ "
               "needs L transposed (.T).")
def _check_sample_gaussian(answer: Answer, rng: torch.Generator) -> None:
    shift = torch.randn(4, generator=rng).round(decimals=1)  # moves each mean a little, differently per run
    cases = [(torch.tensor([-1.0, -0.5]) + shift[0], torch.tensor([[1.0, 0.6], [0.6, 0.8]])),
             (torch.tensor([1.5, 1.0]) + shift[1], torch.tensor([[0.5, -0.2], [-0.2, 0.6]])),
             (torch.tensor([0.0, 2.0, -3.0]) + shift[2],
              torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])),
             (torch.tensor([4.0]) + shift[3], torch.tensor([[0.25]]))]
    for mean, cov in cases:
        tried = (f"sample_gaussian(mean={[round(v, 3) for v in mean.tolist()]}, "
                 f"cov={[[round(v, 3) for v in row] for row in cov.tolist()]}, n=20000)")
        x = real_tensor(answer(mean, cov, 20000, tried=tried))
        if x.shape != (20000, len(mean)):
            raise CheckFailure(tried, f"shape (20000, {len(mean)})", f"shape {tuple(x.shape)}",
                               "Return one row per sample, one column per dimension.")
        expect_close(x.mean(0), mean, tried=tried + ", then the mean of the samples", atol=0.06, rtol=0)
        got_cov = torch.cov(x.T).reshape(len(mean), len(mean))
        expect_close(got_cov, cov, tried=tried + ", then the covariance of the samples", atol=0.08, rtol=0,
                     hint="The spread is wrong: multiply z by the Cholesky factor L (not by cov itself).")
        # the right mean and covariance are not enough: undo the transformation and test the noise's distribution,
        # along each axis and along one more direction
        noise = torch.linalg.solve_triangular(torch.linalg.cholesky(cov.double()), (x - mean.double()).T,
                                              upper=False).T
        direction = torch.randn(len(mean), generator=rng, dtype=torch.float64)
        for name, values in [*((f"coordinate {j}", noise[:, j]) for j in range(len(mean))),
                             ("a random direction", noise @ (direction / direction.norm()))]:
            gap = ks_distance(values, standard_normal_cdf)
            if gap > 0.025:
                raise CheckFailure(tried + f", then L⁻¹(x − μ) along {name}: its distribution against N(0, 1)",
                                   "a standard normal (largest gap between the two CDFs at most 0.025)",
                                   f"a largest gap of {gap:.3f}",
                                   "The mean and the covariance are right but the shape is not Gaussian: the noise "
                                   "z must be standard normal, not coins or uniform numbers scaled to variance 1.")
    tried = "sample_gaussian(mean, cov, n=5) twice"
    first, second = (torch.as_tensor(answer(cases[0][0], cases[0][1], 5, tried=tried)) for _ in range(2))
    if torch.equal(first, second):
        raise CheckFailure(tried, "different samples each call", "the same samples twice",
                           "A generative model must be random: draw fresh noise on every call.")


@exercise("01.2", "Classify with Bayes' rule", answer="bayes_posterior", points=2,
          hint="Bayes' rule in logs: log p(y|x) = log p(x|y) + log p(y) − log p(x), where the last term makes each "
               "row sum to 1. Normalise in log space (subtract the row's maximum before exponentiating), so that "
               "log-likelihoods of −1000 do not underflow to 0.",
          more="the .log() of the prior, broadcast over the rows, and torch.softmax over the class axis, which "
               "normalises logs safely.")
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
          hint="Treat pixel j's mean as the probability that it is on and flip one coin per pixel, independently, "
               "for each of the k images: k different binary images, each shaped like the mean image.",
          more="torch.bernoulli draws 0 or 1 with the probabilities you give it; .expand repeats the means k times "
               "along a new first axis without copying them.")
def _check_generate(answer: Answer, rng: torch.Generator) -> None:
    means = torch.rand(1, 6, 5, generator=rng)
    means[0, 0, :] = 0.0  # pixels that are never on ...
    means[0, 1, :] = 1.0  # ... and always on in the data
    tried = "generate(pixel_means of shape (1, 6, 5), k=4000)"
    x = real_tensor(answer(means, 4000, tried=tried), torch.float32)
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
    # the right share of 1s per pixel is not enough: the pixels of one image must be drawn independently
    free = ((means > 0.1) & (means < 0.9)).flatten()
    flat = x.flatten(1)[:, free].double()
    flat = (flat - flat.mean(0)) / flat.std(0).clamp_min(1e-12)
    correlation = (flat.T @ flat / (len(flat) - 1)).fill_diagonal_(0)
    worst = int(correlation.abs().argmax())
    if correlation.abs().max() > 0.1:  # independent pixels: about 0 ± 0.016 each with k = 4000
        where = [divmod(int(p), means.shape[-1]) for p in free.nonzero().flatten()]
        first, second = where[worst // len(where)], where[worst % len(where)]
        raise CheckFailure(tried + ", then the correlation of pixels over the k images",
                           "about 0 for every pair of pixels (each pixel drawn independently)",
                           f"{correlation.flatten()[worst]:.2f} between pixels (row, column) {first} and {second}",
                           "Your pixels go on and off together: draw one random number for every pixel of every "
                           "image, not one per image (or per row or column).")
    tried = "generate(pixel_means, k=3) twice"
    if torch.equal(torch.as_tensor(answer(means, 3, tried=tried)), torch.as_tensor(answer(means, 3, tried=tried))):
        raise CheckFailure(tried, "new images on each call", "the same images twice")


def _observations(rng: torch.Generator, m: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Training images (m, *shape) in [0, 1], and 10 samples: 4 copies of training images, 3 near copies, 3 new."""
    train = torch.rand(m, *shape, generator=rng)
    pick = torch.randint(0, m, (7,), generator=rng)
    near = (train[pick[4:]] + 0.05 * torch.randn(3, *shape, generator=rng)).clamp(0, 1)
    return train, torch.cat([train[pick[:4]], near, torch.rand(3, *shape, generator=rng)])


@exercise("01.4", "New observation, or a copy of one?", answer="nearest_distance", points=2,
          hint="Flatten every image into one long vector of pixel values; for each sample, find the Euclidean "
               "distance to every training image and keep the smallest: one number per sample, 0 for an exact copy.",
          more=".flatten (or .reshape) keeps the batch axis and joins the others; torch.cdist gives all "
               "sample-to-training distances in one call; .min over the training axis gives the minima and where "
               "they are.")
def _check_nearest_distance(answer: Answer, rng: torch.Generator) -> None:
    for m, shape in [(30, (1, 5, 5)), (12, (3, 4, 4)), (1, (1, 6, 6)), (200, (1, 28, 28))]:
        train, samples = _observations(rng, m, shape)
        tried = f"nearest_distance(samples of shape {tuple(samples.shape)}, train of shape {tuple(train.shape)})"
        got = answer(samples, train, tried=tried)
        expected = torch.cdist(samples.flatten(1).double(), train.flatten(1).double()).min(dim=1).values.float()
        hint = "One number per sample: its distance to the closest training image (the square root of the sum of " \
               "squared pixel differences)."
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got.double(), expected.double() ** 2, rtol=1e-3, atol=1e-3) and expected.max() > 1.5:
                hint = "Those are squared distances: take the square root."
            elif torch.all(got == 0) and expected.max() > 0:
                hint = "Every distance is 0: compare each sample with the training images, not with the samples."
        # torch.cdist in float32 computes distances through a matrix product: about 0.01 off for an exact copy
        expect_close(got, expected, tried=tried, rtol=1e-3, atol=0.02, hint=hint)


# Measured by tests/test_claims.py::test_nb01_generated_images_lie_farther_from_the_training_data_than_new_real_ones:
# the median distance to the nearest training image is 0 for the copier, about 11 for nature (new test images) and
# about 14.5 for the independent-pixel generator, with 1,000 or 10,000 training images.
MACHINES = ("copier", "generate", "nature")
FARTHEST_MACHINE = "generate"


@exercise("01.5", "Predict: which machine's images lie farthest from the training data?",
          answer="my_farthest_machine", points=1,
          hint="A copy lies at distance 0. New real clothing differs from every training image in its details; "
               "images whose pixels are drawn independently also lack the strokes and outlines that real clothing "
               "shares. Which of the two do you expect to be farther from its nearest training image?",
          more="Write one of the strings 'copier', 'generate' or 'nature' (in quotes), before you run the cell that "
               "measures the distances; it is graded for your reasoning, not for code.")
def _check_farthest_machine(answer: Answer, rng: torch.Generator) -> None:
    expect_choice(answer, right=FARTHEST_MACHINE, choices=MACHINES,
                  what="the machine whose images have the largest median distance to their nearest training image",
                  hint="Think about what independent pixels cannot reproduce: edges and shapes that every real "
                       "garment has, new or not.")
