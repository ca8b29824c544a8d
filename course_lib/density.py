"""Density models and the likelihood definition the course's model comparisons share (notebooks 01, 02, 05).

The comparison of density models on images uses ONE definition throughout, the one papers use:
- images are binarised by sampling: each pixel is 1 with probability equal to its grey value,
  `binarize(x, seed=TEST_SEED)`; the test set is sampled once, with a fixed seed, so every model is scored on
  the very same binary images. Models fitted once (notebook 02's) use one sample of the training set
  (TRAIN_SEED); networks trained by `train.fit` see a fresh sample in every batch (`seed=None`);
- each model gives a Bernoulli likelihood per pixel, and is scored on the full 10 000-image Fashion-MNIST test set;
- results are mean log-likelihoods in nats per image (`score`), and bits per dimension (`bits_per_dim`).

Models follow scikit-learn's verbs: `fit(x)`, `score(x)` (mean log-likelihood, nats per image),
`score_samples(x)` (one log-likelihood per image) and `sample(n)`. They are plain vectorised torch, deterministic
given their `seed`. The 2-D pieces (a labelled toy dataset, Gaussian class-conditional model, density plot) serve
notebooks 01 and 02.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch

EPS = 1e-3  # Bernoulli probabilities are clamped to [EPS, 1 - EPS], so one unusual pixel costs at most 6.9 nats


TEST_SEED = 0   # the one sampled binarisation of the test set that every model is scored on
TRAIN_SEED = 1  # the one sampled binarisation of the training set, for models fitted once (notebook 02)


def binarize(images: torch.Tensor, *, seed: int | None = TEST_SEED) -> torch.Tensor:
    """Binary images sampled from grey ones: each pixel is 1 with probability equal to its value in [0, 1].

    images: float (n, ...) in [0, 1] -> float32 of the same shape, values 0 and 1.
    seed: the same seed gives the same binary images (on the CPU, in every torch version: the pixel is 1 when a
    uniform draw `torch.rand` falls below its grey value); None draws from torch's global generator, for a fresh
    sample every call, as when training re-binarises every batch ("dynamic binarisation").
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"binarize: images must be a float tensor in [0, 1], got {kind}; "
                        "for ImageData call .as_float() first (uint8 images are in [0, 255]).")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"binarize: seed={seed!r} must be a non-negative whole number, or None for a fresh sample.")
    if images.numel() and not (images.min() >= 0 and images.max() <= 1):  # also catches NaN
        raise ValueError("binarize: images must lie in [0, 1]; divide by 255 (or use .as_float()) first.")
    if seed is None:
        uniform = torch.rand(images.shape, device=images.device)
    else:
        uniform = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed)).to(images.device)
    return (uniform < images).float()


def bits_per_dim(nats_per_image: float, dims: int = 784) -> float:
    """Convert a log-likelihood in nats per image to bits per dimension: -nats / (dims * ln 2), so lower is better."""
    if dims < 1:
        raise ValueError(f"bits_per_dim: dims={dims!r} must be a positive number of dimensions (784 for 28x28).")
    return -float(nats_per_image) / (dims * math.log(2))


def _as_binary_rows(x: torch.Tensor, name: str) -> torch.Tensor:
    """(n, ...) binary tensor -> (n, d) float32, with a clear error for anything that is not 0/1."""
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: x must be a tensor of shape (n, ...) with n >= 1, got {shape}.")
    x = x.reshape(len(x), -1).float()
    if not torch.all((x == 0) | (x == 1)):
        raise ValueError(f"{name}: x must hold only 0s and 1s (Bernoulli pixels); binarise images first with "
                         "course_lib.density.binarize(images.as_float()).")
    return x


def _check_count(n: int, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where}: n={n!r} must be a positive whole number of samples.")


class _BernoulliModel:
    """What both image models share: input checks, `score`, and the fitted image shape."""

    shape_: tuple[int, ...] | None = None

    def _rows(self, x: torch.Tensor, name: str) -> torch.Tensor:
        if self.shape_ is None:
            raise RuntimeError(f"{type(self).__name__}.{name}: call fit(x) first.")
        if tuple(x.shape[1:]) != self.shape_:
            raise ValueError(f"{type(self).__name__}.{name}: x has shape {tuple(x.shape)}, but the model was "
                             f"fitted on images of shape (n, {', '.join(map(str, self.shape_))}).")
        return _as_binary_rows(x, f"{type(self).__name__}.{name}")

    def score(self, x: torch.Tensor) -> float:
        """Mean log-likelihood of the images `x` (n, ...) in {0, 1}: nats per image (higher is better)."""
        return self.score_samples(x).mean().item()


class IndependentBernoulli(_BernoulliModel):
    """Every pixel is an independent coin: p(x) = prod_j p_j^x_j (1 - p_j)^(1 - x_j).

    The maximum-likelihood p_j is the fraction of training images with pixel j on, clamped to [eps, 1 - eps].
    """

    def __init__(self, *, eps: float = EPS) -> None:
        if not 0 < eps < 0.5:
            raise ValueError(f"IndependentBernoulli: eps={eps!r} must be in (0, 0.5).")
        self.eps = eps
        self.probs_: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> IndependentBernoulli:
        """x: (n, ...) in {0, 1}. Sets `probs_` (d,)."""
        rows = _as_binary_rows(x, "IndependentBernoulli.fit")
        self.shape_ = tuple(x.shape[1:])
        self.probs_ = rows.mean(0).clamp(self.eps, 1 - self.eps)
        return self

    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each image in nats: (n,)."""
        rows = self._rows(x, "score_samples")
        return rows @ self.probs_.log() + (1 - rows) @ (1 - self.probs_).log()

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """n new images (n, ...) in {0, 1}, each pixel drawn on its own."""
        self._rows(torch.zeros(1, *(self.shape_ or ())), "sample")
        _check_count(n, f"{type(self).__name__}.sample")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return torch.bernoulli(self.probs_.expand(n, -1), generator=generator).reshape(n, *self.shape_)


class BernoulliMixture(_BernoulliModel):
    """A mixture of K independent-Bernoulli images, fitted by expectation-maximisation (EM).

    p(x) = sum_k w_k prod_j p_kj^x_j (1 - p_kj)^(1 - x_j): a shallow latent-variable model whose latent variable is
    the component k. Starts from K training images drawn with `seed` (p = 0.25 or 0.75), so a fit repeats exactly.
    Probabilities are clamped to [eps, 1 - eps]. Ctrl-C during `fit` keeps the last completed iteration.
    """

    def __init__(self, n_components: int = 10, *, max_iter: int = 50, tol: float = 1e-2, eps: float = EPS,
                 seed: int = 0) -> None:
        if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"BernoulliMixture: n_components={n_components!r} must be a positive whole number.")
        if max_iter < 1:
            raise ValueError(f"BernoulliMixture: max_iter={max_iter!r} must be at least 1.")
        if not 0 < eps < 0.5:
            raise ValueError(f"BernoulliMixture: eps={eps!r} must be in (0, 0.5).")
        self.n_components, self.max_iter, self.tol, self.eps, self.seed = n_components, max_iter, tol, eps, seed
        self.weights_: torch.Tensor | None = None
        self.probs_: torch.Tensor | None = None
        self.history_: list[float] = []

    def _log_joint(self, rows: torch.Tensor) -> torch.Tensor:
        """log w_k + log p(x | k) for every image and component: (n, K)."""
        log_p, log_q = self.probs_.log(), (1 - self.probs_).log()
        # sum_j x_j log p_kj + (1 - x_j) log(1 - p_kj), as one matrix product
        return self.weights_.log() + rows @ (log_p - log_q).T + log_q.sum(1)

    def fit(self, x: torch.Tensor) -> BernoulliMixture:
        """x: (n, ...) in {0, 1}. Sets `weights_` (K,), `probs_` (K, d), `history_` (train nats per image)."""
        rows = _as_binary_rows(x, "BernoulliMixture.fit")
        if len(rows) < self.n_components:
            raise ValueError(f"BernoulliMixture.fit: {len(rows)} images cannot start {self.n_components} "
                             "components; use more images or a smaller n_components.")
        generator = torch.Generator().manual_seed(self.seed)
        start = torch.randperm(len(rows), generator=generator)[: self.n_components]
        self.shape_ = tuple(x.shape[1:])
        self.weights_ = torch.full((self.n_components,), 1.0 / self.n_components)
        self.probs_ = 0.25 + 0.5 * rows[start]
        self.history_, self.n_iter_, self.converged_ = [], 0, False
        try:
            for _ in range(self.max_iter):
                log_joint = self._log_joint(rows)                                       # E step
                log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
                resp = (log_joint - log_px).exp()                                       # (n, K) responsibilities
                counts = resp.sum(0) + 1e-10                                            # M step
                probs = ((resp.T @ rows) / counts[:, None]).clamp(self.eps, 1 - self.eps)
                self.weights_, self.probs_ = counts / counts.sum(), probs
                self.history_.append(log_px.mean().item())  # of the parameters before this M step
                self.n_iter_ += 1
                if len(self.history_) > 1 and self.history_[-1] - self.history_[-2] < self.tol:
                    self.converged_ = True
                    break
        except KeyboardInterrupt:
            warnings.warn(f"BernoulliMixture.fit interrupted after {self.n_iter_} EM iterations; "
                          "the model keeps the parameters fitted so far.")
        return self

    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each image in nats: (n,)."""
        return torch.logsumexp(self._log_joint(self._rows(x, "score_samples")), dim=1)

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """n new images (n, ...) in {0, 1}: pick a component by its weight, then flip each pixel's coin."""
        self._rows(torch.zeros(1, *(self.shape_ or ())), "sample")
        _check_count(n, f"{type(self).__name__}.sample")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        component = torch.multinomial(self.weights_, n, replacement=True, generator=generator)
        return torch.bernoulli(self.probs_[component], generator=generator).reshape(n, *self.shape_)


# ---- 2-D: a labelled toy dataset, a generative classifier, a density plot --------------------------------------

TWO_CLASS_MEANS = ((-1.0, -0.5), (1.5, 1.0))
TWO_CLASS_COVS = (((1.0, 0.6), (0.6, 0.8)), ((0.5, -0.2), (-0.2, 0.6)))
TWO_CLASS_PRIORS = (0.6, 0.4)


def make_two_class_data(n: int = 400, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled 2-D dataset: x (n, 2) float32, y (n,) int64 in {0, 1}; 60 % class 0, 40 % class 1.

    Each class is a Gaussian (TWO_CLASS_MEANS, TWO_CLASS_COVS); the same `seed` gives the same data.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"make_two_class_data: n={n!r} must be a whole number of points, at least 2.")
    generator = torch.Generator().manual_seed(seed)
    n0 = round(n * TWO_CLASS_PRIORS[0])
    parts = []
    for label, count in enumerate((n0, n - n0)):
        chol = torch.linalg.cholesky(torch.tensor(TWO_CLASS_COVS[label]))
        z = torch.randn(count, 2, generator=generator)
        parts.append(torch.tensor(TWO_CLASS_MEANS[label]) + z @ chol.T)
    x = torch.cat(parts)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n - n0, dtype=torch.long)])
    order = torch.randperm(n, generator=generator)
    return x[order].float(), y[order]


def gaussian_mle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form maximum-likelihood Gaussian for x (n, d): mean (d,) and covariance (d, d), dividing by n."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or len(x) < 1:
        raise ValueError(f"gaussian_mle: x must be a tensor of shape (n, d) with n >= 1, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}.")
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / len(x)


class GaussianClassifier:
    """A generative classifier: p(y) from class frequencies and p(x | y) a Gaussian per class, both by MLE.

    It classifies with Bayes' rule, p(y | x) = p(x | y) p(y) / p(x), and it can also sample new x for a class.
    """

    def __init__(self, *, reg: float = 1e-6) -> None:
        self.reg = reg  # added to each covariance's diagonal, so a class with collinear points still has a density

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> GaussianClassifier:
        """x: (n, d) float, y: (n,) int class labels 0..C-1 (every class present)."""
        if x.ndim != 2 or y.shape != (len(x),):
            raise ValueError(f"GaussianClassifier.fit: x must be (n, d) and y (n,); got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}.")
        n_classes = int(y.max()) + 1
        missing = sorted(set(range(n_classes)) - set(y.tolist()))
        if missing or y.min() < 0:
            raise ValueError(f"GaussianClassifier.fit: labels must be 0..{n_classes - 1} with every class present; "
                             f"missing {missing}.")
        fits = [gaussian_mle(x[y == c].float()) for c in range(n_classes)]
        self.means_ = torch.stack([mean for mean, _ in fits])
        eye = torch.eye(x.shape[1])
        self.covariances_ = torch.stack([cov + self.reg * eye for _, cov in fits])
        self.priors_ = torch.bincount(y, minlength=n_classes).float() / len(y)
        return self

    def _class_densities(self) -> torch.distributions.MultivariateNormal:
        if not hasattr(self, "means_"):
            raise RuntimeError("GaussianClassifier: call fit(x, y) first.")
        return torch.distributions.MultivariateNormal(self.means_, covariance_matrix=self.covariances_)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x | y = c) for every point and class: (n, C)."""
        return self._class_densities().log_prob(x.float()[:, None, :])

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """p(y = c | x) by Bayes' rule: (n, C), rows sum to 1."""
        return torch.softmax(self.log_likelihood(x) + self.priors_.log(), dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class of each point: (n,) int64."""
        return self.predict_proba(x).argmax(1)

    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log sum_c p(x | c) p(c) for each point: (n,)."""
        return torch.logsumexp(self.log_likelihood(x) + self.priors_.log(), dim=1)

    def sample(self, n: int, *, label: int | None = None, seed: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """n new points x (n, d) and their labels y (n,): from class `label`, or with classes drawn from p(y)."""
        densities = self._class_densities()
        _check_count(n, "GaussianClassifier.sample")
        n_classes = len(self.priors_)
        if label is not None and not 0 <= label < n_classes:
            raise ValueError(f"GaussianClassifier.sample: label={label!r} must be one of 0..{n_classes - 1}.")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        if label is None:
            y = torch.multinomial(self.priors_, n, replacement=True, generator=generator)
        else:
            y = torch.full((n,), label, dtype=torch.long)
        z = torch.randn(n, self.means_.shape[1], generator=generator)
        x = self.means_[y] + (densities.scale_tril[y] @ z[:, :, None])[:, :, 0]
        return x, y


def plot_density_2d(log_density: Callable[[torch.Tensor], torch.Tensor], *, ax=None,
                    xlim: tuple[float, float] = (-4.5, 4.5), ylim: tuple[float, float] = (-4, 4),
                    points: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                    title: str = "density", grid: int = 120, levels: int = 12):
    """Filled contours of exp(log_density) over a grid, optionally with points coloured by label; returns the ax.

    log_density: maps (m, 2) points to (m,) log densities, e.g. `model.score_samples`.
    """
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    xs, ys = np.linspace(*xlim, grid), np.linspace(*ylim, grid)
    mesh = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    with torch.no_grad():
        density = torch.as_tensor(log_density(mesh)).exp().reshape(grid, grid).numpy()
    filled = ax.contourf(xs, ys, density, levels=levels, cmap="Blues")
    plt.colorbar(filled, ax=ax, label="density p(x)")
    if points is not None:
        style = {"c": "tab:gray"} if labels is None else {"c": np.asarray(labels), "cmap": "coolwarm"}
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7, edgecolors="none", **style)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$", title=title)
    return ax
