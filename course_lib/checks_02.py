"""Exercise checks of notebook 02, density estimation and maximum likelihood (how to write one: course_lib.checks)."""
from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.checks import (Answer, AnswerRaised, CheckFailure, as_number, exercise, expect_choice, expect_close,
                               expect_prediction, part, real_tensor, short)


@exercise("02.1", "The Gaussian log-likelihood", answer="gaussian_log_likelihood", points=1,
          hint="Each data point adds −log σ − ½ log 2π − (xᵢ − μ)² / 2σ² to the log-likelihood; add up the "
               "contributions of all points (a sum, not an average).",
          more="torch.log and torch.pi (or math.pi), elementwise arithmetic on the data tensor, then .sum().")
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
          hint="μ̂ is the average of the data; σ̂ is the root of the average squared deviation from μ̂, dividing by n "
               "(not n − 1): that is the maximum-likelihood estimate.",
          more="the tensor methods .mean() and .sqrt(), and ** for powers.")
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



BANDWIDTHS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 4.0)


@exercise("02.3", "Choose a KDE bandwidth by held-out likelihood", answer="best_bandwidth", points=2,
          hint="For each bandwidth, fit a KDE on the training points only and score it by the mean log density of "
               "the held-out points; return the bandwidth with the highest score (never judge on the training "
               "points themselves: each sits on its own bump).",
          more="sklearn's KernelDensity(bandwidth=...) with its .fit and .score_samples methods, and np.argmax to "
               "find the best position in a list of scores.")
def _check_best_bandwidth(answer: Answer, rng: torch.Generator) -> None:
    for train, held_out in _bandwidth_cases(rng):
        scores = [_kde_mean_log_likelihood(train, held_out, h) for h in BANDWIDTHS]
        expected = BANDWIDTHS[int(np.argmax(scores))]
        tied = [h for h, s in zip(BANDWIDTHS, scores) if s >= max(scores) - 1e-6 * max(1.0, abs(max(scores)))]
        tried = (f"best_bandwidth(train of shape {tuple(train.shape)}, held_out of shape {tuple(held_out.shape)}, "
                 f"bandwidths={list(BANDWIDTHS)})")
        got = answer(train.numpy(), held_out.numpy(), list(BANDWIDTHS), tried=tried)
        value = as_number(got)
        if value is not None and any(np.isclose(value, h, rtol=1e-4, atol=1e-5) for h in tied):
            continue  # the best bandwidth, or one whose held-out score ties with it
        picked_smallest = value is not None and np.isclose(value, BANDWIDTHS[0])
        expect_close(got, expected, tried=tried, hint=(
            "The smallest bandwidth always wins on the training points (each sits on its own bump): "
            "score on held_out." if picked_smallest else ""))


@exercise("02.4", "The independent-pixel model by maximum likelihood", answer="independent_pixel_log_likelihood",
          points=2, hint="Each pixel's probability of being on is the share of training images where it is on, kept "
                         "a little away from 0 and 1 (by eps); an image's log-likelihood adds up, over its pixels, the "
                         "log-probability of the value each pixel has: one number per image.",
          more="the tensor methods .mean over the image axis, .clamp and .log, and the matrix product @, which sums "
               "over the pixels for every test image at once.")
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
            finite = bool(torch.isfinite(real_tensor(got)).all())
        except (TypeError, ValueError, RuntimeError):
            finite = True
        hint = ("A probability of exactly 0 or 1 makes an unseen pixel value infinitely unlikely: clamp p."
                if not finite else "Return one log-likelihood per test image (shape (n_test,)), in nats.")
        expect_close(got, expected, tried=tried, hint=hint, rtol=1e-4, atol=1e-4)


# ---- judgement exercises: the sample space, a density function, and the two challenges on real images ----------

@exercise("02.5", "How big is the sample space?", answer="log10_size", points=2,
          hint="Every one of the numbers that make up an image (channels × height × width of them) can take `levels` "
               "values, independently, so there are levels to the power (number of values) different images. "
               "Return its base-10 logarithm, the number of digits, without computing the power itself.",
          more="math.prod multiplies the entries of a tuple; math.log10; and log10(aⁿ) = n · log10(a). The power "
               "itself overflows a float.")
def _check_log10_size(answer: Answer, rng: torch.Generator) -> None:
    drawn = [(int(c), int(h), int(w)) for c, h, w in zip(torch.randint(1, 4, (3,), generator=rng),
                                                          torch.randint(1, 65, (3,), generator=rng),
                                                          torch.randint(1, 65, (3,), generator=rng))]
    levels = [(2, 3, 10, 16, 256)[int(i)] for i in torch.randint(0, 5, (3,), generator=rng)]
    cases = [((1, 28, 28), 2), ((3, 32, 32), 256), ((1, 1, 1), 2), ((1, 4, 4), 1), ((1, 28, 28), 256),
             *zip(drawn, levels)]
    for shape, level in cases:
        tried = f"log10_size(shape={shape}, levels={level})"
        try:
            got = answer(shape, level, tried=tried)
        except AnswerRaised as err:
            if err.raised("OverflowError"):
                raise CheckFailure(tried, "a number of digits", err.got, "The number of images itself is too large "
                                   "for a float: work with its logarithm, log10(aⁿ) = n · log10(a).") from None
            raise
        expected = math.prod(shape) * math.log10(level)
        value = as_number(got)
        hint = ""
        if value is not None and expected > 0 and math.isclose(value, expected / math.log10(math.e), rel_tol=1e-4):
            hint = "That is the natural logarithm; the number of digits is the base-10 one."
        elif shape[0] > 1 and value is not None and math.isclose(value, expected / shape[0], rel_tol=1e-4):
            hint = "Every channel counts: a colour image has 3 numbers per pixel."
        expect_close(got, expected, tried=tried, rtol=1e-6, atol=1e-9, hint=hint or (
            "The count is levels ** (number of values in one image); return its base-10 logarithm."))


def _bin_counts(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """How many of the points x fall in each bin [edges[i], edges[i + 1])."""
    index = torch.searchsorted(edges, x, right=True) - 1
    return torch.bincount(index, minlength=len(edges) - 1)[: len(edges) - 1].double()


@exercise("02.6", "A density function from a histogram", answer="histogram_density", points=2,
          hint="Count the points in each bin, then turn counts into heights: a bin's height times its width is the "
               "share of the points that fell in it, so heights times widths add up to 1. Bins may have different "
               "widths.",
          more="torch.histogram with the edges as its bins (the counts are in its .hist), or a comparison of the "
               "points with the edges; the widths are the differences of neighbouring edges.")
def _check_histogram_density(answer: Answer, rng: torch.Generator) -> None:
    mixed = torch.cat([torch.randn(300, generator=rng) * 0.5 - 1, torch.randn(200, generator=rng) * 0.2 + 1.5])
    narrow = torch.randn(400, generator=rng) * 0.05 + 0.3
    uneven = torch.sort(torch.rand(7, generator=rng)).values * 4 - 2
    cases = [(mixed, torch.linspace(-4, 3, 15)),                                    # equal widths of 0.5
             (mixed, torch.cat([torch.tensor([-4.0]), uneven, torch.tensor([3.0])])),  # unequal widths
             (narrow, torch.linspace(0.0, 0.6, 13)),                                # heights above 1
             (torch.tensor([0.1, 0.2, 2.5]), torch.tensor([0.0, 1.0, 2.0, 3.0]))]    # an empty bin
    for x, edges in cases:
        tried = f"histogram_density(x of shape {tuple(x.shape)}, edges={short(edges)})"
        got = answer(x, edges, tried=tried)
        widths = (edges[1:] - edges[:-1]).double()
        expected = _bin_counts(x, edges) / (len(x) * widths)
        hint = "Divide each count by the number of points AND by the bin's width."
        try:
            got_t = real_tensor(got)
        except (TypeError, ValueError, RuntimeError):
            got_t = None
        if got_t is not None and got_t.shape == expected.shape:
            if torch.allclose(got_t, expected * widths, atol=1e-6):
                hint = "Those are shares of the points per bin (they sum to 1); a density's heights times the " \
                       "widths sum to 1: divide by the width."
            elif torch.allclose(got_t, expected * len(x), atol=1e-6):
                hint = "Divide by the number of points too, so that the total area is 1."
        expect_close(got, expected, tried=tried, rtol=1e-5, atol=1e-6, hint=hint)


def _neighbour_cases(rng: torch.Generator) -> list[torch.Tensor]:
    """Images (n, 1, H, W), H != W: smooth binary rows with a blank column, independent pixels, a checkerboard
    with flips (negative correlation), and smooth grey images."""
    smooth = (torch.randn(50, 1, 4, 7, generator=rng).cumsum(dim=3) > 0).float()
    smooth[:, :, :, 0] = 0.0  # a pixel that never changes: its correlations are undefined
    independent = torch.bernoulli(torch.rand(1, 1, 3, 5, generator=rng).expand(60, -1, -1, -1).contiguous(),
                                  generator=rng)
    board = ((torch.arange(6)[:, None] + torch.arange(5)) % 2).float().expand(40, 1, 6, 5)
    flips = torch.rand(40, 1, 6, 5, generator=rng) < 0.15
    checker = torch.where(flips, 1 - board, board)
    checker = torch.where(torch.rand(40, 1, 1, 1, generator=rng) < 0.5, 1 - checker, checker)
    grey = torch.sigmoid(torch.randn(30, 1, 5, 8, generator=rng).cumsum(dim=3) / 2)
    return [smooth, independent, checker, grey]


def _neighbour_correlation(images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the images of each pixel with its right-hand neighbour: (H, W - 1), NaN for
    pairs with a pixel that never changes."""
    x = images[:, 0].double()
    a, b = x[:, :, :-1] - x[:, :, :-1].mean(0), x[:, :, 1:] - x[:, :, 1:].mean(0)
    return (a * b).mean(0) / (a.pow(2).mean(0).sqrt() * b.pow(2).mean(0).sqrt())


@exercise("02.7", "Neighbouring pixels are not independent", answer="neighbour_correlation", points=2,
          hint="For each pixel position (r, c) and its right-hand neighbour (r, c + 1), take their values across all "
               "the images as two lists and compute Pearson's correlation: covariance over the product of the two "
               "standard deviations. One number per pair of positions, shape (H, W − 1); where a pixel never "
               "changes the correlation is 0/0, so leave the NaN.",
          more="slicing the width axis twice (all columns but the last, all but the first) lines up each pixel with "
               "its neighbour; then .mean over the image axis for the means, the covariance and the variances, and "
               ".sqrt().")
def _check_neighbour_correlation(answer: Answer, rng: torch.Generator) -> None:
    for images in _neighbour_cases(rng):
        n, _, h, w = images.shape
        tried = f"neighbour_correlation(images of shape {tuple(images.shape)})"
        got = answer(images, tried=tried)
        expected = _neighbour_correlation(images)
        try:
            got_t = real_tensor(got)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, f"a tensor of shape ({h}, {w - 1})", got) from None
        if got_t.shape != expected.shape:
            hint = {(): "One correlation per pair of positions, not one for the whole image.",
                    (h - 1, w): "Right-hand neighbours: pixel (r, c) with (r, c + 1), along the width axis.",
                    (1, h, w - 1): "Drop the channel axis: return (H, W - 1)."}.get(tuple(got_t.shape),
                    "Pair each pixel with its right-hand neighbour in the same row: (H, W - 1) pairs.")
            raise CheckFailure(tried, f"shape ({h}, {w - 1})", f"shape {tuple(got_t.shape)}", hint)
        undefined = torch.isnan(expected)
        if not torch.equal(torch.isnan(got_t), undefined):
            raise CheckFailure(tried, f"NaN exactly where a pixel never changes ({int(undefined.sum())} pairs)",
                               f"NaN at {int(torch.isnan(got_t).sum())} pairs",
                               "A pixel that is the same in every image has no correlation (0/0 is NaN): do not "
                               "add a small number to avoid it, and do not replace it.")
        hint = "Correlation = covariance / (std of one × std of the other), all over the images, with the same " \
               "divisor (n) throughout."
        if torch.allclose(got_t[~undefined].abs(), torch.ones(1, dtype=torch.float64), atol=1e-6):
            hint = "Every correlation is ±1: is each pixel compared with itself rather than its neighbour?"
        expect_close(torch.where(undefined, 0.0, got_t), torch.where(undefined, 0.0, expected), tried=tried,
                     rtol=1e-4, atol=1e-5, hint=hint)


def _rows(images: torch.Tensor) -> list[tuple]:
    return [tuple(row) for row in images.flatten(1).tolist()]


@exercise("02.8", "How much of the sample space looks like data?", answer="share_seen", points=2,
          hint="A sample has been seen when some image of data equals it in every pixel. Count the samples that have "
               "(a sample that appears twice counts twice) and divide by the number of samples.",
          more="a Python set of tuples answers 'is this one in there?' at once: flatten each image, make it a tuple "
               "of its values with tuple(...) and .tolist(), then test each sample with the in operator.")
def _check_share_seen(answer: Answer, rng: torch.Generator) -> None:
    data = torch.bernoulli(torch.full((40, 1, 3, 3), 0.5), generator=rng)
    data = torch.cat([data, data[:10]])  # the data repeat some images
    known = set(_rows(data))
    fresh = torch.bernoulli(torch.full((60, 1, 3, 3), 0.5), generator=rng)
    fresh = fresh[[row not in known for row in _rows(fresh)]][:8]
    picks = torch.randint(0, len(data), (12,), generator=rng)
    grey = torch.rand(6, 1, 2, 2, generator=rng).round(decimals=1)
    cases = [(data[picks], data),                                        # all seen
             (fresh, data),                                              # none seen
             (torch.cat([data[picks[:5]], data[picks[:3]], fresh]), data),  # repeats count twice
             (torch.cat([grey[:2], grey[:2] + 0.1, grey[3:]]), grey)]    # grey values, near misses are not equal
    for samples, reference in cases:
        tried = f"share_seen(samples of shape {tuple(samples.shape)}, data of shape {tuple(reference.shape)})"
        got = answer(samples, reference, tried=tried)
        seen = set(_rows(reference))
        hits = [row in seen for row in _rows(samples)]
        expected = sum(hits) / len(hits)
        value = as_number(got)
        hint = "The share, between 0 and 1, of the samples that equal some image in data (every pixel the same)."
        if value is not None and value == sum(hits) and sum(hits) > 1:
            hint = "Divide the count by the number of samples: a share, not a count."
        expect_close(got, expected, tried=tried, rtol=1e-6, atol=1e-6, hint=hint)


# ---- a derivation: one EM step for a mixture of 1-D Gaussians ---------------------------------------------------

def _mixture_log_likelihood(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                            variances: torch.Tensor) -> float:
    """Σ_i log Σ_k w_k N(x_i | μ_k, σ²_k), float64."""
    x, w, m, v = (real_tensor(t) for t in (x, weights, means, variances))
    log_joint = w.log() - 0.5 * (torch.log(2 * math.pi * v) + (x[:, None] - m) ** 2 / v)
    return torch.logsumexp(log_joint, dim=1).sum().item()


def _em_step(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor,
             normalise: bool = True, old_means: bool = False, divide_by_n: bool = True) -> tuple[torch.Tensor, ...]:
    """One EM step (float64); the flags make the plausible mistakes: responsibilities not normalised, variances
    around the old means, weights left as the responsibilities' sums."""
    x, w, m, v = (t.double() for t in (x, weights, means, variances))
    log_joint = w.log() - 0.5 * (torch.log(2 * math.pi * v) + (x[:, None] - m) ** 2 / v)
    resp = torch.softmax(log_joint, dim=1) if normalise else log_joint.exp()
    counts = resp.sum(0)
    new_means = resp.T @ x / counts
    centre = m if old_means else new_means
    new_variances = (resp * (x[:, None] - centre) ** 2).sum(0) / counts
    return counts / len(x) if divide_by_n else counts, new_means, new_variances


def _em_case(rng: torch.Generator, k: int, n: int, separation: float = 0.0) -> tuple[torch.Tensor, ...]:
    """n points from a random mixture of k Gaussians whose centres lie at least `separation` apart, and a random
    starting point of EM for it (float64)."""
    spread = 1.0 if separation else 4.0
    centres = torch.randn(k, generator=rng, dtype=torch.float64) * spread + separation * torch.arange(k)
    spreads = 0.5 + torch.rand(k, generator=rng, dtype=torch.float64)
    labels = torch.randint(0, k, (n,), generator=rng)
    x = centres[labels] + spreads[labels] * torch.randn(n, generator=rng, dtype=torch.float64)
    weights = torch.softmax(torch.randn(k, generator=rng, dtype=torch.float64) * 0.5, dim=0)
    means = x[torch.randperm(n, generator=rng)[:k]] + 0.3 * torch.randn(k, generator=rng, dtype=torch.float64)
    variances = x.var() * (0.5 + torch.rand(k, generator=rng, dtype=torch.float64))
    return x, weights, means, variances


def _em_hint(got: tuple, x: torch.Tensor, start: tuple[torch.Tensor, ...]) -> str:
    """What went wrong, from the returned triple, by comparison with the plausible mistakes."""
    mistakes = [(dict(normalise=False), "The responsibilities are not normalised: r_ik = w_k N(x_i | μ_k, σ²_k) / "
                 "Σ_k' w_k' N(x_i | μ_k', σ²_k'), so each point's responsibilities sum to 1 (Bayes' rule)."),
                (dict(old_means=True), "The variances are spread around the old means: maximising over σ²_k with "
                 "μ_k already at its new value gives the squared deviations from the NEW mean."),
                (dict(divide_by_n=False), "The weights are the responsibilities' sums N_k; maximising Σ_k N_k log "
                 "w_k under the constraint Σ_k w_k = 1 (a Lagrange multiplier) gives N_k / n.")]
    for flags, hint in mistakes:
        wrong = _em_step(x, *start, **flags)
        if all(torch.allclose(real_tensor(g), w, rtol=1e-4, atol=1e-6)
               for g, w in zip(got, wrong)):
            return hint
    total = float(real_tensor(got[0]).sum())
    if not math.isclose(total, 1.0, rel_tol=1e-4):
        return f"The new weights sum to {total:.4g}: they are probabilities, so they must sum to 1."
    return ("E step: responsibilities by Bayes' rule. M step: maximise Σ_i Σ_k r_ik [log w_k + log N(x_i | μ_k, "
            "σ²_k)] over w (summing to 1), then μ_k, then σ²_k.")


def _em_call(answer: Answer, x: torch.Tensor, start: tuple[torch.Tensor, ...], what: str) -> tuple[tuple, str]:
    weights, means, variances = start
    tried = (f"em_step(x of shape {tuple(x.shape)}, weights={short(weights)}, means={short(means)}, "
             f"variances={short(variances)}), {what}")
    got = answer(x, weights, means, variances, tried=tried)
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailure(tried, "a triple (weights, means, variances)", got)
    for name, value in zip(("weights", "means", "variances"), got):
        try:
            shape = tuple(torch.as_tensor(value).shape)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, f"{name} as a tensor of shape ({len(weights)},)", value) from None
        if shape != (len(weights),):
            raise CheckFailure(tried, f"{name} of shape ({len(weights)},)", f"shape {shape}",
                               "One weight, one mean and one variance per component.")
    return tuple(got), tried


def _expect_em(got: tuple, expected: tuple[torch.Tensor, ...], x: torch.Tensor, start: tuple[torch.Tensor, ...],
               tried: str) -> None:
    hint = _em_hint(got, x, start)
    for name, g, e in zip(("weights", "means", "variances"), got, expected):
        expect_close(g, e, tried=f"{tried} -> {name}", rtol=1e-4, atol=1e-6, hint=hint)


@exercise("02.9", "One EM step for a mixture of Gaussians, derived", answer="em_step", points=3,
          hint="E step: the responsibility r_ik is the posterior probability of component k given x_i, by Bayes' rule. "
               "M step: maximise the expected complete-data log-likelihood Σ_i Σ_k r_ik [log w_k + log N(x_i | μ_k, "
               "σ²_k)]: set its derivative in μ_k, then in σ²_k, to zero, and maximise over the weights with the "
               "constraint that they sum to 1 (a Lagrange multiplier).",
          more="Work with log-densities and normalise each point's responsibilities with torch.softmax (or "
               "logsumexp) over the component axis; the M step is then responsibility-weighted averages: a matrix "
               "product or a .sum over the data axis, divided by each component's total responsibility.")
def _check_em_step(answer: Answer, rng: torch.Generator) -> None:
    with part("one step from random starting points", weight=2):
        for k in (2, int(torch.randint(3, 6, (), generator=rng))):
            x, *start = _em_case(rng, k, int(torch.randint(40, 120, (), generator=rng)))
            got, tried = _em_call(answer, x, tuple(start), f"K = {k}")
            _expect_em(got, _em_step(x, *start), x, tuple(start), tried)
    with part("the log-likelihood never falls over a step", weight=1):
        for _ in range(3):
            x, *start = _em_case(rng, int(torch.randint(2, 5, (), generator=rng)), 60)
            got, tried = _em_call(answer, x, tuple(start), "a random start")
            new = [real_tensor(value) for value in got]
            if math.isclose(float(new[0].sum()), 1.0, rel_tol=1e-6) and bool((new[0] > 0).all() & (new[2] > 0).all()):
                before, after = _mixture_log_likelihood(x, *start), _mixture_log_likelihood(x, *new)
                if not after >= before - 1e-9 * abs(before):
                    raise CheckFailure(tried, f"a log-likelihood Σ log p(x_i) of at least {before:.4f} (the start's) "
                                       "after the step", f"{after:.4f}", "EM never lowers the likelihood: "
                                       + _em_hint(got, x, tuple(start)))
            _expect_em(got, _em_step(x, *start), x, tuple(start), tried)
    with part("K = 1 jumps to the maximum-likelihood Gaussian; a fixed point stays put", weight=1):
        x, weights, means, variances = _em_case(rng, 1, int(torch.randint(20, 60, (), generator=rng)))
        got, tried = _em_call(answer, x, (weights, means, variances), "one component")
        _expect_em(got, (torch.ones(1, dtype=torch.float64), x.mean()[None], x.var(correction=0)[None]), x,
                   (weights, means, variances), tried)
        x, *start = _em_case(rng, 2, 200, separation=6.0)
        fixed = tuple(start)
        for _ in range(2000):  # run EM until a step moves no parameter by more than 1e-9
            fixed, previous = _em_step(x, *fixed), fixed
            if max(float((a - b).abs().max()) for a, b in zip(fixed, previous)) < 1e-9:
                break
        got, tried = _em_call(answer, x, fixed, "parameters EM has converged to")
        _expect_em(got, _em_step(x, *fixed), x, fixed, tried)


# ---- predictions: a value committed before the cell that measures it (see course_lib.checks) ----------------------

BINARY_28X28_DIGITS = 237  # 2^784 written out: floor(784 · log10 2) + 1 digits (tests/test_claims.py computes it)
DIGITS_TOLERANCE = 15
NEIGHBOUR_CORRELATION = 0.41  # mean of 02.7's map on the binarised test set: 0.409 (10,000 images), 0.413 (1,000)
CORRELATION_TOLERANCE = 0.12


@exercise("02.10", "Predict: how many digits has the number of black-and-white 28 × 28 images?",
          answer="my_digits_binary_28x28", points=1,
          hint="Each of the 784 pixels is black or white, whatever the others are: how does the count grow with each "
               "pixel added?",
          more="The count is a power of 2, and you need its number of digits, not the number: ten factors of 2 "
               "make about a thousand. Write one whole number before you run log10_size.")
def _check_digits_prediction(answer: Answer, rng: torch.Generator) -> None:
    expect_prediction(answer, measured=BINARY_28X28_DIGITS, tolerance=DIGITS_TOLERANCE,
                      what="the number of digits of the number of black-and-white 28 × 28 images",
                      hint="2 to the power 784: every 10 factors of 2 add about 3 digits.")


@exercise("02.11", "Predict: can a density be higher than 1?", answer="my_density_can_exceed_one", points=1,
          hint="What does the value of a density at one point measure, and what is required of the whole curve?",
          more='How tall must a bar be whose width is 0.02 and which holds a tenth of the points? Write "yes" or "no" '
               '(in quotes) before you run the cell that draws the histogram.')
def _check_density_prediction(answer: Answer, rng: torch.Generator) -> None:
    expect_choice(answer, right="yes", choices=("yes", "no"),
                  what="whether the density of the ink per image rises above 1 somewhere",
                  hint="Height times width is a probability; with narrow bins, the height can be large.")


@exercise("02.12", "Predict: how strongly do neighbouring pixels of real images correlate?",
          answer="my_correlation_real", points=1,
          hint="Inside a garment neighbouring pixels are both on, on the background both off; where do they differ? "
               "Binarising by sampling adds noise that weakens the link, but does not remove it.",
          more="Write one number between -1 and 1 before you run the cell that measures the map.")
def _check_correlation_prediction(answer: Answer, rng: torch.Generator) -> None:
    expect_prediction(answer, measured=NEIGHBOUR_CORRELATION, tolerance=CORRELATION_TOLERANCE,
                      what="the mean correlation of neighbouring pixels of the binarised test images",
                      hint="Think of the edges of a garment (the only places where neighbours differ) against its "
                           "area, and of the noise the binary sampling adds.")
