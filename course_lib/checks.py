"""Exercise checks: instant feedback for learners, and the same checks grade submitted notebooks.

A graded cell ends with `check("02.1", gaussian_log_likelihood)`. The check calls the learner's answer on several
inputs and says, in one short message, that it passed, that it is not done yet, or what was tried, what was
expected, what came back, and a hint. Each exercise is registered below with `@exercise`, in a section per notebook.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

PASSED, NOT_DONE, FAILED = "passed", "not done yet", "failed"


class CheckFailure(Exception):
    """Raised by an exercise's test: what was tried, what was expected, what came back."""

    def __init__(self, tried: str, expected: Any, got: Any, hint: str = "") -> None:
        super().__init__(tried)
        self.tried, self.expected, self.got, self.hint = tried, expected, got, hint


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    points: int
    test: Callable[[Any], None]
    hint: str


@dataclass(frozen=True)
class Result:
    """The outcome of one check; `message` is what the learner reads."""

    key: str
    status: str
    message: str
    points: int
    max_points: int

    @property
    def passed(self) -> bool:
        return self.status == PASSED


class ExerciseNotPassed(Exception):
    """Raised by `check` so that "run all" stops at an unfinished exercise; Jupyter shows only the message."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [self.result.message]


EXERCISES: dict[str, Exercise] = {}


def exercise(key: str, title: str, *, points: int = 1, hint: str = "") -> Callable:
    """Register the decorated function as the test of exercise `key`; it raises CheckFailure on a wrong answer."""

    def register(test: Callable[[Any], None]) -> Callable[[Any], None]:
        if key in EXERCISES:
            raise ValueError(f"exercise key {key!r} is registered twice")
        EXERCISES[key] = Exercise(key, title, points, test, hint)
        return test

    return register


def _short(value: Any, limit: int = 160) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        text = f"tensor of shape {tuple(value.shape)}" if value.numel() > 8 else repr(value)
    elif isinstance(value, np.ndarray):
        text = f"array of shape {value.shape}" if value.size > 8 else repr(value)
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_check(key: str, answer: Any) -> Result:
    """Run exercise `key`'s test on `answer` and return the Result; never raises for a wrong answer."""
    if key not in EXERCISES:
        known = ", ".join(sorted(EXERCISES)) or "none"
        raise KeyError(f"There is no exercise {key!r}. Known exercises: {known}.")
    return evaluate(EXERCISES[key], answer)


def evaluate(ex: Exercise, answer: Any) -> Result:
    """Run the test of exercise `ex` on `answer` (run_check without the registry lookup; the grader uses it)."""
    key = ex.key
    try:
        ex.test(answer)
    except NotImplementedError:
        message = f"[{key}] {ex.title}: not done yet. Replace the `raise NotImplementedError` with your code."
        return Result(key, NOT_DONE, message + (f"\nHint: {ex.hint}" if ex.hint else ""), 0, ex.points)
    except CheckFailure as fail:
        hint = fail.hint or ex.hint
        message = (f"[{key}] {ex.title}: not right yet.\n  tried:    {fail.tried}\n"
                   f"  expected: {_short(fail.expected)}\n  got:      {_short(fail.got)}")
        return Result(key, FAILED, message + (f"\n  hint:     {hint}" if hint else ""), 0, ex.points)
    except Exception as err:  # the learner's code raised: report it in one line, not a traceback
        message = (f"[{key}] {ex.title}: your code raised {type(err).__name__}: {_short(str(err))}"
                   + (f"\n  hint:     {ex.hint}" if ex.hint else ""))
        return Result(key, FAILED, message, 0, ex.points)
    return Result(key, PASSED, f"[{key}] {ex.title}: passed ({ex.points}/{ex.points}).", ex.points, ex.points)


def check(key: str, answer: Any) -> Result:
    """Check `answer` for exercise `key`: print "passed", or raise a short ExerciseNotPassed message."""
    result = run_check(key, answer)
    if not result.passed:
        raise ExerciseNotPassed(result)
    print(result.message)
    return result


# ---- helpers for writing tests --------------------------------------------------------------------------------

def call(answer: Callable, *args: Any, tried: str) -> Any:
    """Call the learner's `answer(*args)`; NotImplementedError passes through, other errors name the input."""
    if not callable(answer):
        raise CheckFailure(tried, "a function", answer, "Pass the function itself, without calling it.")
    try:
        return answer(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailure(tried, "a result", f"{type(err).__name__}: {err}") from err


def expect_close(got: Any, expected: Any, *, tried: str, hint: str = "", rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    """Raise CheckFailure unless `got` matches `expected` (numbers, arrays or tensors) in shape and value."""
    try:
        got_array = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailure(tried, expected, got, hint or "The answer should be a number, array or tensor.")
    want = np.asarray(expected.detach().cpu() if isinstance(expected, torch.Tensor) else expected,
                      dtype=np.float64)
    if got_array.shape != want.shape:
        raise CheckFailure(tried, f"shape {want.shape}", f"shape {got_array.shape}",
                           hint or "Check which axis you reduce over.")
    wrong = np.argwhere(~np.isclose(got_array, want, rtol=rtol, atol=atol, equal_nan=False))
    if len(wrong) and want.size > 8:  # too big to print: show where the first difference is
        at = tuple(int(i) for i in wrong[0])
        raise CheckFailure(tried, f"{_short(expected)}, with {want[at]:.4g} at index {at}",
                           f"{_short(got)}, with {got_array[at]:.4g} at index {at}", hint)
    if len(wrong):
        raise CheckFailure(tried, expected, got, hint)


# ---- notebook exercises are registered below, one section per notebook --------------------------------------

# ---- notebook 00: warm-up ----

def _warmup_images(n: int, height: int = 4, width: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, height, width, generator=torch.Generator().manual_seed(seed))


@exercise("00.1", "the mean image of one class", points=2,
          hint="select the images whose label equals `label`, then average over the batch axis keeping (1, H, W)")
def _test_mean_image(answer: Callable) -> None:
    images, labels = _warmup_images(6, 3, 5), torch.tensor([0, 1, 0, 2, 0, 1])
    for label in (0, 1, 2):
        tried = f"mean_image(images of shape (6, 1, 3, 5), labels={labels.tolist()}, label={label})"
        got = call(answer, images.clone(), labels.clone(), label, tried=tried)
        expect_close(got, images[labels == label].mean(dim=0), tried=tried)
    images = _warmup_images(4, 28, 28, seed=1)
    tried = "mean_image(4 images of shape (1, 28, 28), labels=[7, 7, 7, 7], label=7)"
    expect_close(call(answer, images.clone(), torch.full((4,), 7), 7, tried=tried), images.mean(dim=0), tried=tried)
    tried = "mean_image(images, labels=[0, 1, 0, 2, 0, 1], label=5), a class with no images"
    try:
        got = answer(_warmup_images(6), torch.tensor([0, 1, 0, 2, 0, 1]), 5)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as err:
        got = f"{type(err).__name__}: {err}"
    raise CheckFailure(tried, "a ValueError saying that no image has label 5", got,
                       "an empty class has no mean; raise ValueError(...) with a message naming the label")


@exercise("00.2", "binarise images at a threshold",
          hint="compare with `images > threshold` and convert the result with .float()")
def _test_binarise(answer: Callable) -> None:
    images = _warmup_images(3, 4, 4)
    for threshold in (0.5, 0.2, 0.0, 1.0):
        tried = f"binarise(3 random images of shape (1, 4, 4), threshold={threshold})"
        got = call(answer, images.clone(), threshold, tried=tried)
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
            raise CheckFailure(tried, "a float32 tensor", got if not isinstance(got, torch.Tensor) else got.dtype,
                               "convert the boolean mask with .float()")
        expect_close(got, (images > threshold).float(), tried=tried)
    edge = torch.tensor([0.25, 0.5, 0.75]).reshape(1, 1, 1, 3)
    tried = "binarise(pixels [0.25, 0.5, 0.75], threshold=0.5): a pixel equal to the threshold is off"
    expect_close(call(answer, edge.clone(), 0.5, tried=tried), torch.tensor([0.0, 0.0, 1.0]).reshape(1, 1, 1, 3),
                 tried=tried, hint="a pixel is on only when it is strictly brighter than the threshold")
    original = images.clone()
    call(answer, images, 0.5, tried="binarise(images, 0.5)")
    if not torch.equal(images, original):
        raise CheckFailure("binarise(images, 0.5), then looking at `images` again", "images unchanged",
                           "images modified in place", "return a new tensor; do not write into the input")


@exercise("00.3", "the fraction of 'on' pixels in each image",
          hint="binarise, then take the mean over the channel, height and width axes: dim=(1, 2, 3)")
def _test_on_fraction(answer: Callable) -> None:
    images = _warmup_images(5, 6, 6)
    for threshold in (0.5, 0.9):
        tried = f"on_fraction(5 random images of shape (1, 6, 6), threshold={threshold})"
        got = call(answer, images.clone(), threshold, tried=tried)
        expect_close(got, (images > threshold).float().mean(dim=(1, 2, 3)), tried=tried)
    blank = torch.stack([torch.zeros(1, 3, 3), torch.ones(1, 3, 3)])
    tried = "on_fraction(an all-black and an all-white 3x3 image, threshold=0.5)"
    expect_close(call(answer, blank, 0.5, tried=tried), torch.tensor([0.0, 1.0]), tried=tried)
    tried = "on_fraction(one image of shape (1, 28, 28), threshold=0.5): the answer still has one entry per image"
    single = _warmup_images(1, 28, 28, seed=2)
    expect_close(call(answer, single, 0.5, tried=tried), (single > 0.5).float().mean(dim=(1, 2, 3)), tried=tried,
                 hint="keep the batch axis: reduce over dim=(1, 2, 3), not over everything")

# ---- notebook 01: generative vs discriminative modelling ---------------------------------------------------------

def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@exercise("01.1", "Sample from a class-conditional Gaussian", points=2,
          hint="Factor cov = L L^T with torch.linalg.cholesky, then x = mean + z @ L.T with z ~ N(0, I) (torch.randn).")
def _check_sample_gaussian(answer):
    cases = [(torch.tensor([-1.0, -0.5]), torch.tensor([[1.0, 0.6], [0.6, 0.8]])),
             (torch.tensor([1.5, 1.0]), torch.tensor([[0.5, -0.2], [-0.2, 0.6]])),
             (torch.tensor([0.0, 2.0, -3.0]), torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])),
             (torch.tensor([4.0]), torch.tensor([[0.25]]))]
    for mean, cov in cases:
        tried = f"sample_gaussian(mean={mean.tolist()}, cov={cov.tolist()}, n=20000)"
        x = torch.as_tensor(call(answer, mean, cov, 20000, tried=tried)).double()
        if x.shape != (20000, len(mean)):
            raise CheckFailure(tried, f"shape (20000, {len(mean)})", f"shape {tuple(x.shape)}",
                               "Return one row per sample, one column per dimension.")
        expect_close(x.mean(0), mean, tried=tried + ", then the mean of the samples", atol=0.06, rtol=0)
        got_cov = torch.cov(x.T).reshape(len(mean), len(mean))
        expect_close(got_cov, cov, tried=tried + ", then the covariance of the samples", atol=0.08, rtol=0,
                     hint="The spread is wrong: multiply z by the Cholesky factor L (not by cov itself).")
    tried = "sample_gaussian(mean, cov, n=5) twice"
    first, second = (torch.as_tensor(call(answer, cases[0][0], cases[0][1], 5, tried=tried)) for _ in range(2))
    if torch.equal(first, second):
        raise CheckFailure(tried, "different samples each call", "the same samples twice",
                           "A generative model must be random: draw fresh noise on every call.")


@exercise("01.2", "Classify with Bayes' rule", points=2,
          hint="p(y|x) is proportional to p(x|y) p(y): add log p(y) to the log-likelihoods, then normalise each row "
               "with torch.softmax (it subtracts the maximum first, so very negative logs do not underflow).")
def _check_bayes_posterior(answer):
    cases = [(torch.tensor([[-1.0, -2.0], [-3.0, -0.5], [-1.0, -1.0]]), torch.tensor([0.5, 0.5])),
             (torch.tensor([[-1.0, -1.0], [-2.0, -1.5]]), torch.tensor([0.6, 0.4])),
             (torch.tensor([[-2.0, -1.0, -3.0]]), torch.tensor([0.2, 0.3, 0.5])),
             (torch.tensor([[-1000.0, -1001.0], [-1200.0, -1190.0]]), torch.tensor([0.6, 0.4]))]
    for log_lik, prior in cases:
        tried = f"bayes_posterior(log_px_given_y={log_lik.tolist()}, prior={prior.tolist()})"
        got = call(answer, log_lik, prior, tried=tried)
        expected = torch.softmax(log_lik + prior.log(), dim=1)
        hint = ("Very small likelihoods (log p = -1000) underflow to 0 if you exponentiate first; work in logs."
                if log_lik.min() < -100 else "")
        expect_close(got, expected, tried=tried, hint=hint, atol=1e-5)


@exercise("01.3", "A model that generates, unlike the mean image", points=2,
          hint="Treat each pixel's mean as the probability that it is on: torch.bernoulli(p) draws a fresh 0/1 "
               "image each time; stack k of them.")
def _check_generate(answer):
    means = torch.rand(1, 6, 5, generator=_gen(0))
    means[0, 0, :] = 0.0  # pixels that are never on ...
    means[0, 1, :] = 1.0  # ... and always on in the data
    tried = "generate(pixel_means of shape (1, 6, 5), k=4000)"
    x = torch.as_tensor(call(answer, means, 4000, tried=tried)).float()
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
    if torch.equal(torch.as_tensor(call(answer, means, 3, tried=tried)),
                   torch.as_tensor(call(answer, means, 3, tried=tried))):
        raise CheckFailure(tried, "new images on each call", "the same images twice")


# ---- notebook 02: density estimation and maximum likelihood ------------------------------------------------------

@exercise("02.1", "The Gaussian log-likelihood", points=1,
          hint="sum over i of -log(sigma) - 0.5 log(2 pi) - (x_i - mu)^2 / (2 sigma^2).")
def _check_gaussian_log_likelihood(answer):
    cases = [(torch.tensor([0.0]), 0.0, 1.0), (torch.tensor([1.0, 2.0, 3.0]), 2.0, 1.0),
             (torch.tensor([-1.5, 0.3, 2.2, 4.0]), 0.5, 2.5), (torch.tensor([10.0, 10.1]), 10.0, 0.05),
             (torch.randn(100, generator=_gen(1)) * 3 + 1, -1.0, 0.7)]
    for x, mu, sigma in cases:
        mu_t, sigma_t = torch.tensor(mu), torch.tensor(sigma)
        tried = f"gaussian_log_likelihood(x={_short(x)}, mu={mu}, sigma={sigma})"
        got = call(answer, x, mu_t, sigma_t, tried=tried)
        expected = torch.distributions.Normal(mu_t, sigma_t).log_prob(x).sum()
        expect_close(got, expected, tried=tried, hint="Sum the log densities (do not average), with sigma, "
                     "not sigma^2, as the standard deviation.")


@exercise("02.2", "The closed-form maximum-likelihood Gaussian", points=1,
          hint="mu = mean of x; sigma = sqrt(mean of (x - mu)^2), dividing by n (not n - 1): that is the MLE.")
def _check_gaussian_mle(answer):
    cases = [torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0, 2.0]), torch.tensor([-1.0, 0.0, 4.0, 5.0]),
             torch.randn(50, generator=_gen(2)) * 0.3 + 7]
    for x in cases:
        tried = f"gaussian_mle(x={_short(x)})"
        got = call(answer, x, tried=tried)
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


def _bandwidth_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = _gen(3)
    two_clusters = torch.cat([torch.randn(150, 2, generator=g) * 0.3 - 2, torch.randn(150, 2, generator=g) + 2])
    wide = torch.randn(200, 1, generator=g) * 4
    ring_angle = torch.rand(300, generator=g) * 2 * np.pi
    ring = torch.stack([ring_angle.cos(), ring_angle.sin()], 1) * 3 + torch.randn(300, 2, generator=g) * 0.2
    return [(data[::2], data[1::2]) for data in (two_clusters, wide, ring)]


BANDWIDTHS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 4.0)


@exercise("02.3", "Choose a KDE bandwidth by held-out likelihood", points=2,
          hint="For each bandwidth fit KernelDensity(bandwidth=h) on train, take .score_samples(held_out).mean(), "
               "and return the h with the largest value (never judge on the training points themselves).")
def _check_best_bandwidth(answer):
    for train, held_out in _bandwidth_cases():
        scores = [_kde_mean_log_likelihood(train, held_out, h) for h in BANDWIDTHS]
        expected = BANDWIDTHS[int(np.argmax(scores))]
        tried = (f"best_bandwidth(train of shape {tuple(train.shape)}, held_out of shape {tuple(held_out.shape)}, "
                 f"bandwidths={list(BANDWIDTHS)})")
        got = call(answer, train.numpy(), held_out.numpy(), list(BANDWIDTHS), tried=tried)
        picked_smallest = isinstance(got, (int, float, np.floating)) and np.isclose(float(got), BANDWIDTHS[0])
        expect_close(got, expected, tried=tried, hint=(
            "The smallest bandwidth always wins on the training points (each sits on its own bump): "
            "score on held_out." if picked_smallest else ""))


@exercise("02.4", "The independent-pixel model by maximum likelihood", points=2,
          hint="p = train.mean(0) clamped to [eps, 1 - eps]; each test image's log-likelihood is "
               "sum_j x_j log p_j + (1 - x_j) log(1 - p_j) (a matrix product does all images at once).")
def _check_independent_pixel(answer):
    g = _gen(4)
    probs = torch.rand(12, generator=g)
    train = torch.bernoulli(probs.expand(200, -1), generator=g)
    train[:, 0], train[:, 1] = 0.0, 1.0  # a pixel never on and one always on in training ...
    test = torch.bernoulli(probs.expand(30, -1), generator=g)
    test[0, 0], test[1, 1] = 1.0, 0.0  # ... that break the pattern in two test images
    for eps in (1e-3, 0.05):
        tried = f"independent_pixel_log_likelihood(train (200, 12), test (30, 12), eps={eps})"
        got = call(answer, train, test, eps, tried=tried)
        p = train.mean(0).clamp(eps, 1 - eps)
        expected = test @ p.log() + (1 - test) @ (1 - p).log()
        hint = ("A probability of exactly 0 or 1 makes an unseen pixel value infinitely unlikely: clamp p."
                if not torch.isfinite(torch.as_tensor(got, dtype=torch.float64)).all() else
                "Return one log-likelihood per test image (shape (n_test,)), in nats.")
        expect_close(got, expected, tried=tried, hint=hint, rtol=1e-4, atol=1e-4)


# ---- notebook 03: representation learning ----

def _pca_data(n: int, d: int, seed: int) -> torch.Tensor:
    """n points in d dimensions with clearly different variances per direction and a large offset."""
    g = _gen(seed)
    scales = torch.linspace(3.0, 0.2, d)
    rotation = torch.linalg.qr(torch.randn(d, d, generator=g))[0]
    return (torch.randn(n, d, generator=g) * scales) @ rotation.T + 5 * torch.randn(d, generator=g)


@exercise("03.1", "PCA directions from one SVD", points=2,
          hint="mean = x.mean(0); U, S, Vt = torch.linalg.svd(x - mean, full_matrices=False); W = Vt[:k].T.")
def _check_pca_directions(answer):
    for n, d, k, seed in [(200, 5, 2, 10), (300, 8, 1, 11), (50, 4, 4, 12), (400, 12, 5, 13)]:
        x = _pca_data(n, d, seed)
        tried = f"pca_directions(x of shape ({n}, {d}), k={k})"
        got = call(answer, x, k, tried=tried)
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


@exercise("03.2", "The linear encoder and decoder", points=1,
          hint="z = (x - mean) @ W; x_hat = z @ W.T + mean.")
def _check_pca_encode_decode(answer):
    for n, d, k, seed in [(10, 6, 2, 20), (1, 4, 1, 21), (25, 9, 9, 22), (7, 784, 3, 23)]:
        g = _gen(seed)
        w = torch.linalg.qr(torch.randn(d, k, generator=g))[0]
        mean = torch.rand(d, generator=g) + 0.5
        x = torch.rand(n, d, generator=g)
        tried = f"pca_encode_decode(x of shape ({n}, {d}), mean of shape ({d},), W of shape ({d}, {k}))"
        got = call(answer, x, mean, w, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (z, x_hat)", got)
        z = (x - mean) @ w
        expect_close(got[0], z, tried=tried + " -> z", rtol=1e-4, atol=1e-4,
                     hint="Encode the centred images: subtract the mean before multiplying by W.")
        expect_close(got[1], z @ w.T + mean, tried=tried + " -> x_hat", rtol=1e-4, atol=1e-4,
                     hint="Decode with W.T and add the mean back.")


# ---- notebook 04: the autoencoder ----

def _encoder_parameters(latent_dim: int) -> int:
    convs = (1 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 9 + 1) * 64
    return convs + (64 * 4 * 4 + 1) * latent_dim


@exercise("04.1", "The encoder network", points=2,
          hint="nn.Sequential(Conv2d(1, 16, 3, stride=2, padding=1), ReLU, Conv2d(16, 32, ...), ReLU, "
               "Conv2d(32, 64, ...), ReLU, Flatten, Linear(64 * 4 * 4, latent_dim)).")
def _check_encoder(answer):
    g = _gen(30)
    for latent_dim in (2, 5):
        tried = f"Encoder(latent_dim={latent_dim})"
        net = call(answer, latent_dim, tried=tried)
        if not isinstance(net, torch.nn.Module):
            raise CheckFailure(tried, "an nn.Module", net, "Subclass nn.Module (or build an nn.Sequential).")
        count = sum(p.numel() for p in net.parameters() if p.requires_grad)
        if count != _encoder_parameters(latent_dim):
            raise CheckFailure(tried + ".parameters()", f"{_encoder_parameters(latent_dim):,} trainable numbers",
                               f"{count:,}", "Three 3x3 convolutions 1 -> 16 -> 32 -> 64 channels (stride 2, "
                               "padding 1: 28 -> 14 -> 7 -> 4), then one Linear(64 * 4 * 4, latent_dim).")
        for batch in (1, 3, 16):
            x = torch.rand(batch, 1, 28, 28, generator=g)
            z = call(net, x, tried=f"{tried}(x of shape ({batch}, 1, 28, 28))")
            if not isinstance(z, torch.Tensor) or tuple(z.shape) != (batch, latent_dim):
                raise CheckFailure(f"{tried}(x of shape ({batch}, 1, 28, 28))", f"shape ({batch}, {latent_dim})",
                                   tuple(z.shape) if isinstance(z, torch.Tensor) else z)
        a, b = torch.rand(2, 1, 1, 28, 28, generator=g)
        with torch.no_grad():
            za, zb, zab, z0 = (net(v) for v in (a, b, a + b, torch.zeros_like(a)))
        if torch.allclose(za + zb - z0, zab, atol=1e-5):
            raise CheckFailure(f"{tried}: is encoder(a + b) = encoder(a) + encoder(b) - encoder(0)?",
                               "no: the encoder is nonlinear", "yes: it is an affine map",
                               "Put a ReLU after each convolution.")
        if torch.allclose(za, zb):
            raise CheckFailure(f"{tried} on two different images", "different latent points", "the same point")
        net.zero_grad()
        net(torch.rand(4, 1, 28, 28, generator=g)).pow(2).sum().backward()
        if any(p.grad is None for p in net.parameters() if p.requires_grad):
            raise CheckFailure(f"{tried}: gradients after backward()", "a gradient for every parameter",
                               "some parameters got none", "Use every layer you create in forward().")


@exercise("04.2", "The reconstruction loss in nats per image", points=2,
          hint="F.binary_cross_entropy_with_logits(logits, x, reduction='none'), then sum over every axis but "
               "the first (one number per image).")
def _check_reconstruction_loss(answer):
    g = _gen(31)
    extreme = torch.tensor([[-200.0, 200.0, -60.0, 60.0, 0.0, 3.0]]).view(1, 1, 2, 3)
    cases = [(torch.randn(4, 1, 28, 28, generator=g) * 3, torch.rand(4, 1, 28, 28, generator=g).round()),
             (torch.randn(2, 3, 5, 5, generator=g), torch.rand(2, 3, 5, 5, generator=g)),
             (extreme, torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.5, 1.0]]).view(1, 1, 2, 3))]
    for logits, x in cases:
        tried = f"reconstruction_loss(logits of shape {tuple(logits.shape)}, x of shape {tuple(x.shape)})"
        if logits is extreme:
            tried += " with logits as large as +-200"
        got = call(answer, logits, x, tried=tried)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        expected = expected.flatten(1).sum(1)
        got_t = torch.as_tensor(got, dtype=torch.float32)
        hint = ""
        if not torch.isfinite(got_t).all():
            hint = ("log(sigmoid(l)) overflows for large logits: compute from the logits directly "
                    "(binary_cross_entropy_with_logits, or softplus).")
        elif got_t.shape == expected.shape and torch.allclose(got_t * x[0].numel(), expected, rtol=1e-3):
            hint = "Sum over the pixels (nats per image), do not average them."
        expect_close(got_t, expected, tried=tried, rtol=1e-4, atol=1e-3,
                     hint=hint or "One number per image: the binary cross-entropy summed over its pixels.")


@exercise("04.3", "Interpolate between two latent points", points=1,
          hint="t = torch.linspace(0, 1, steps); return (1 - t)[:, None] * z_a + t[:, None] * z_b.")
def _check_interpolate(answer):
    g = _gen(32)
    for d, steps in [(2, 5), (2, 2), (7, 11), (3, 1)]:
        z_a, z_b = torch.randn(d, generator=g), torch.randn(d, generator=g)
        tried = f"interpolate(z_a of shape ({d},), z_b of shape ({d},), steps={steps})"
        got = call(answer, z_a, z_b, steps, tried=tried)
        t = torch.linspace(0, 1, steps)[:, None]
        expect_close(got, (1 - t) * z_a + t * z_b, tried=tried, rtol=1e-4, atol=1e-5,
                     hint=f"Return {steps} points (steps, d), evenly spaced, the first z_a and the last z_b.")
# ---- notebook 05: the variational autoencoder ----------------------------------------------------------------------

def _gaussian_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, logvar) pairs of shape (batch, d): the prior itself, one dimension, and random ones."""
    g = _gen(5)
    return [(torch.zeros(2, 3), torch.zeros(2, 3)), (torch.tensor([[1.5]]), torch.tensor([[-2.0]])),
            (torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)),
            (torch.randn(3, 16, generator=g) * 2, torch.randn(3, 16, generator=g) - 1)]


@exercise("05.1", "The reparameterisation step", points=2,
          hint="z = mean + exp(logvar / 2) * eps: the standard deviation is exp(logvar / 2), not exp(logvar).")
def _check_reparameterize(answer):
    for mean, logvar in _gaussian_cases():
        eps = torch.randn(mean.shape, generator=_gen(mean.numel()))
        mean, logvar = mean.clone().requires_grad_(), logvar.clone().requires_grad_()
        tried = f"reparameterize(mean={_short(mean.detach())}, logvar={_short(logvar.detach())}, eps=...)"
        got = call(answer, mean, logvar, eps, tried=tried)
        expected = mean.detach() + torch.exp(0.5 * logvar.detach()) * eps
        expect_close(got.detach() if isinstance(got, torch.Tensor) else got, expected, tried=tried)
        if not isinstance(got, torch.Tensor) or got.grad_fn is None:
            raise CheckFailure(tried, "a tensor that gradients can flow through to mean and logvar",
                               "a result with no grad_fn", "Compute z from mean and logvar with torch "
                               "operations (no .detach(), .item() or torch.no_grad()).")


@exercise("05.2", "The KL divergence from q(z|x) to N(0, I), in closed form", points=2,
          hint="0.5 * sum over the latent dimensions of (exp(logvar) + mean^2 - 1 - logvar), one number per row.")
def _check_gaussian_kl(answer):
    for mean, logvar in _gaussian_cases():
        tried = f"gaussian_kl(mean={_short(mean)}, logvar={_short(logvar)})"
        got = call(answer, mean, logvar, tried=tried)
        expected = 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="One KL per image: sum over the latent dimensions "
                     "(dim=1), not over the batch; the KL of N(0, I) from itself is 0.")


@exercise("05.3", "The ELBO of each image", points=2,
          hint="ELBO = -(BCE summed over the pixels of each image, from logits) - KL; both per image, shape (batch,).")
def _check_elbo(answer):
    g = _gen(53)
    for batch, d in [(1, 1), (3, 2), (5, 8)]:
        x = (torch.rand(batch, 1, 4, 4, generator=g) > 0.5).float()
        logits = torch.randn(batch, 1, 4, 4, generator=g) * 3
        mean, logvar = torch.randn(batch, d, generator=g), torch.randn(batch, d, generator=g)
        tried = f"elbo(x (batch={batch}, 1, 4, 4), logits, mean (batch={batch}, d={d}), logvar)"
        got = call(answer, x, logits, mean, logvar, tried=tried)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        expected = -bce - 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="Sum the BCE over each image's pixels and the KL over the "
                     "latent dimensions, keep one value per image, and subtract both (the ELBO is a log-likelihood "
                     "bound: negative, higher is better).")


@exercise("05.4", "The importance-weighted estimate of log p(x)", points=2,
          hint="log w = log p(x|z) + log p(z) - log q(z|x); estimate = logsumexp(log w, dim=1) - log(k).")
def _check_iwae(answer):
    g = _gen(54)
    cases = [(torch.full((1, 1), -3.0), torch.full((1, 1), -1.0), torch.full((1, 1), -1.5)),
             (torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)),
             (torch.randn(3, 100, generator=g) * 5 - 600, torch.randn(3, 100, generator=g) - 20,
              torch.randn(3, 100, generator=g) - 18)]  # realistic sizes: exp() of these underflows to 0
    for log_px_z, log_pz, log_qz in cases:
        tried = (f"iwae_estimate(log_px_z, log_pz, log_qz) with shape {tuple(log_px_z.shape)}, log p(x|z) around "
                 f"{log_px_z.mean().item():.0f}")
        got = call(answer, log_px_z, log_pz, log_qz, tried=tried)
        k = log_px_z.shape[1]
        expected = torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - math.log(k)
        expect_close(got, expected, tried=tried, rtol=1e-5, atol=1e-4,
                     hint="Average the weights (not their logs) over the k samples of each image, and do it in "
                     "log space with torch.logsumexp: exp(-600) underflows to 0.")


# ---- notebook 06: faces, morphing and attribute vectors ----------------------------------------------------------

@exercise("06.1", "The attribute vector", points=2,
          hint="z[has_attribute].mean(0) - z[~has_attribute].mean(0): the mean code with the attribute minus the "
               "mean code without (means, not sums, since the groups differ in size).")
def _check_attribute_vector(answer):
    g = _gen(61)
    z_big = torch.randn(50, 6, generator=g)
    has_big = torch.rand(50, generator=g) < 0.2  # unbalanced groups: sums or overall means give other answers
    has_big[:2] = torch.tensor([True, False])
    cases = [(torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [0.0, 4.0]]), torch.tensor([True, True, False, False])),
             (torch.tensor([[2.0], [0.0], [1.0]]), torch.tensor([False, True, False])),
             (z_big + 3.0, has_big)]
    for z, has in cases:
        tried = f"attribute_vector(z={_short(z)}, has_attribute={_short(has)})"
        got = call(answer, z, has, tried=tried)
        expected = z[has].mean(0) - z[~has].mean(0)
        flipped = isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.allclose(got, -expected)
        expect_close(got, expected, tried=tried, hint=(
            "You have the sign the wrong way round: with minus without, so that adding it adds the attribute."
            if flipped else "Return one vector of shape (d,): the difference of the two group means."))


@exercise("06.2", "Spherical interpolation", points=2,
          hint="omega = arccos(a·b / (|a| |b|)); return sin((1 - t) omega) / sin(omega) * a + "
               "sin(t omega) / sin(omega) * b.")
def _check_slerp(answer):
    from course_lib.latent import lerp, slerp
    g = _gen(62)
    e1, e2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    cases = [(e1, e2, 0.0), (e1, e2, 1.0), (e1, e2, 0.5), (e1, 2 * e2, 0.25), (a, b, 0.3), (a, 3 * b, 0.8),
             (torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 0.2]), 0.6)]
    for a, b, t in cases:
        tried = f"slerp(a={_short(a)}, b={_short(b)}, t={t})"
        got = call(answer, a, b, t, tried=tried)
        is_lerp = (isinstance(got, torch.Tensor) and got.shape == a.shape and 0 < t < 1
                   and torch.allclose(got, lerp(a, b, t), atol=1e-5))
        expect_close(got, slerp(a, b, t), tried=tried, atol=1e-5, hint=(
            "That is the straight line (lerp); slerp follows the arc, weighting a and b by sines of the angle."
            if is_lerp else "At t = 0 return a, at t = 1 return b; in between, a follows sin((1 - t) omega)."))


@exercise("06.3", "Apply a vector to a batch, at several strengths", points=2,
          hint="z[:, None, :] + strengths[None, :, None] * direction (broadcasting) gives out[i, j] = "
               "z[i] + strengths[j] * direction, of shape (n, k, d).")
def _check_apply_vector(answer):
    g = _gen(63)
    cases = [(torch.zeros(1, 2), torch.tensor([1.0, -1.0]), torch.tensor([2.0])),
             (torch.randn(3, 4, generator=g), torch.randn(4, generator=g), torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])),
             (torch.randn(5, 8, generator=g), torch.randn(8, generator=g), torch.tensor([0.5, 1.5]))]
    for z, direction, strengths in cases:
        tried = f"apply_vector(z={_short(z)}, direction={_short(direction)}, strengths={_short(strengths)})"
        got = call(answer, z, direction, strengths, tried=tried)
        expected = z[:, None, :] + strengths[None, :, None] * direction
        transposed = (isinstance(got, torch.Tensor) and got.shape == (len(strengths), len(z), z.shape[1])
                      and len(strengths) != len(z))
        expect_close(got, expected, tried=tried, hint=(
            "The shape is (n, k, d), faces first: out[i, j] is face i at strength j." if transposed else
            "out[i, j] = z[i] + strengths[j] * direction; check that each strength scales the direction."))
