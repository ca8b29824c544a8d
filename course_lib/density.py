"""Density models and the likelihood definition the course's model comparisons share (notebooks 01, 02, 05, 05b).

The comparison of density models on images uses ONE definition throughout, the dynamic binarisation of the
papers notebook 05b compares with (other papers binarise the data once, statically, and get other numbers):
- images are binarised by sampling: each pixel is 1 with probability equal to its grey value,
  `binarize(x, seed=TEST_SEED)`; the test set is sampled once, with a fixed seed, so every model is scored on
  the very same binary images. Models fitted once (notebook 02's) use one sample of the training set
  (TRAIN_SEED); networks trained by `train.fit` see a fresh sample in every batch (`seed=None`);
- each model gives a Bernoulli likelihood per pixel, and is scored on the full 10 000-image Fashion-MNIST test set;
- results are mean log-likelihoods in nats per image (`score`), and bits per dimension (`bits_per_dim`).

Models follow scikit-learn's conventions: `__init__` only stores its keyword arguments (they are checked by
`fit`); `fit(x)` learns and sets the learned attributes, whose names end in `_` (`probs_`, `weights_`, ...) and
which exist only after `fit`; `is_fitted(model)` says whether it has run, and using a model before raises a
`NotFittedError` that names the call to make. Verbs: `score(x)` (mean log-likelihood, nats per image),
`score_samples(x)` (one log-likelihood per image) and `sample(n)`. They are plain vectorised torch, deterministic
given their `seed`. The 2-D pieces (a labelled toy dataset, a Gaussian class-conditional model) serve notebooks
01 and 02; their density plot is `viz.plot_density_2d`.
"""
from __future__ import annotations

import inspect
import math
import warnings

import torch

from course_lib import validate

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
    if seed is not None:
        seed = validate.whole_number(seed, "seed", minimum=0, hint="or None for a fresh sample")
    validate.in_unit_interval(images, "images")
    if seed is None:
        uniform = torch.rand(images.shape, device=images.device)
    else:
        uniform = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed)).to(images.device)
    return (uniform < images).float()


def bits_per_dim(nats_per_image: float, dims: int = 784) -> float:
    """Convert a log-likelihood in nats per image to bits per dimension: -nats / (dims * ln 2), so lower is better."""
    dims = validate.whole_number(dims, "dims", hint="the number of dimensions, 784 for 28x28")
    return -float(nats_per_image) / (dims * math.log(2))


class NotFittedError(RuntimeError):
    """A density model was used before `fit` learned its parameters."""


def is_fitted(model: object) -> bool:
    """True once `model.fit` has run: it then has learned attributes, whose names end in `_`."""
    return any(name.endswith("_") and not name.startswith("_") for name in vars(model))


class _Estimator:
    """What every model here shares: the check that `fit` has run, with a message that names the call to make."""

    def _check_fitted(self) -> None:
        if not is_fitted(self):
            arguments = ", ".join(list(inspect.signature(type(self).fit).parameters)[1:])
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit({arguments}) first.")


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


class _BernoulliModel(_Estimator):
    """What both image models share: input checks, `score`, and the fitted image shape `shape_`."""

    def _rows(self, x: torch.Tensor, method: str) -> torch.Tensor:
        self._check_fitted()
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.shape_:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}.{method}: x has shape {shape}, but the model was fitted on "
                             f"images of shape (n, {', '.join(map(str, self.shape_))}).")
        return _as_binary_rows(x, f"{type(self).__name__}.{method}")

    def score(self, x: torch.Tensor) -> float:
        """Mean log-likelihood of the images `x` (n, ...) in {0, 1}: nats per image (higher is better)."""
        return self.score_samples(x).mean().item()


class IndependentBernoulli(_BernoulliModel):
    """Every pixel is an independent coin: p(x) = prod_j p_j^x_j (1 - p_j)^(1 - x_j).

    The maximum-likelihood p_j is the fraction of training images with pixel j on, clamped to [eps, 1 - eps].
    Learned by `fit`: `probs_` (d,) and `shape_`, the shape of one image.
    """

    def __init__(self, *, eps: float = EPS) -> None:
        self.eps = eps

    def fit(self, x: torch.Tensor) -> IndependentBernoulli:
        """x: (n, ...) in {0, 1}. Sets `probs_` (d,) and `shape_`."""
        eps = validate.number(self.eps, "eps", above=0, below=0.5)
        rows = _as_binary_rows(x, "IndependentBernoulli.fit")
        self.probs_ = rows.mean(0).clamp(eps, 1 - eps)
        self.shape_ = tuple(x.shape[1:])
        return self

    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each image in nats: (n,)."""
        rows = self._rows(x, "score_samples")
        return rows @ self.probs_.log() + (1 - rows) @ (1 - self.probs_).log()

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """n new images (n, ...) in {0, 1}, each pixel drawn on its own."""
        self._check_fitted()
        n = validate.whole_number(n, "n", hint="the number of samples")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return torch.bernoulli(self.probs_.expand(n, -1), generator=generator).reshape(n, *self.shape_)


class BernoulliMixture(_BernoulliModel):
    """A mixture of K independent-Bernoulli images, fitted by expectation-maximisation (EM).

    p(x) = sum_k w_k prod_j p_kj^x_j (1 - p_kj)^(1 - x_j): a shallow latent-variable model whose latent variable is
    the component k. Starts from K training images drawn with `seed` (p = 0.25 or 0.75), so a fit repeats exactly.
    Probabilities are clamped to [eps, 1 - eps]; EM stops after `max_iter` iterations or when the training
    log-likelihood gains less than `tol` nats per image. Ctrl-C during `fit` keeps the last completed iteration.
    Learned by `fit`: `weights_` (K,), `probs_` (K, d), `history_`, `n_iter_`, `converged_` and `shape_`.
    """

    def __init__(self, n_components: int = 10, *, max_iter: int = 50, tol: float = 1e-2, eps: float = EPS,
                 seed: int = 0) -> None:
        self.n_components, self.max_iter, self.tol, self.eps, self.seed = n_components, max_iter, tol, eps, seed

    def _log_joint(self, rows: torch.Tensor) -> torch.Tensor:
        """log w_k + log p(x | k) for every image and component: (n, K)."""
        log_p, log_q = self.probs_.log(), (1 - self.probs_).log()
        # sum_j x_j log p_kj + (1 - x_j) log(1 - p_kj), as one matrix product
        return self.weights_.log() + rows @ (log_p - log_q).T + log_q.sum(1)

    def fit(self, x: torch.Tensor) -> BernoulliMixture:
        """x: (n, ...) in {0, 1}. Sets `weights_` (K,), `probs_` (K, d), `history_` (the training log-likelihood,
        nats per image, before each M step), `n_iter_`, `converged_` and `shape_`."""
        k = validate.whole_number(self.n_components, "n_components", hint="the number of mixture components")
        max_iter = validate.whole_number(self.max_iter, "max_iter")
        tol = validate.number(self.tol, "tol", at_least=0)
        eps = validate.number(self.eps, "eps", above=0, below=0.5)
        seed = validate.whole_number(self.seed, "seed", minimum=0)
        rows = _as_binary_rows(x, "BernoulliMixture.fit")
        if len(rows) < k:
            raise ValueError(f"BernoulliMixture.fit: {len(rows)} images cannot start {k} components; use more "
                             "images or a smaller n_components.")
        start = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:k]
        self.weights_, self.probs_ = torch.full((k,), 1.0 / k), 0.25 + 0.5 * rows[start]
        self.history_, self.n_iter_, self.converged_ = [], 0, False
        self.shape_ = tuple(x.shape[1:])
        try:
            for _ in range(max_iter):
                log_joint = self._log_joint(rows)                                       # E step
                log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
                resp = (log_joint - log_px).exp()                                       # (n, K) responsibilities
                counts = resp.sum(0) + 1e-10                                            # M step
                probs = ((resp.T @ rows) / counts[:, None]).clamp(eps, 1 - eps)
                self.weights_, self.probs_ = counts / counts.sum(), probs
                self.history_.append(log_px.mean().item())  # of the parameters before this M step
                self.n_iter_ += 1
                if len(self.history_) > 1 and self.history_[-1] - self.history_[-2] < tol:
                    self.converged_ = True
                    break
        except KeyboardInterrupt:
            warnings.warn(f"BernoulliMixture.fit interrupted after {self.n_iter_} EM iterations; "
                          "the model keeps the parameters fitted so far.")
        return self

    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each image in nats: (n,)."""
        rows = self._rows(x, "score_samples")
        return torch.logsumexp(self._log_joint(rows), dim=1)

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """n new images (n, ...) in {0, 1}: pick a component by its weight, then flip each pixel's coin."""
        self._check_fitted()
        n = validate.whole_number(n, "n", hint="the number of samples")
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        component = torch.multinomial(self.weights_, n, replacement=True, generator=generator)
        return torch.bernoulli(self.probs_[component], generator=generator).reshape(n, *self.shape_)


# ---- 2-D: a labelled toy dataset and a generative classifier -----------------------------------------------------

TWO_CLASS_MEANS = ((-1.0, -0.5), (1.5, 1.0))
TWO_CLASS_COVS = (((1.0, 0.6), (0.6, 0.8)), ((0.5, -0.2), (-0.2, 0.6)))
TWO_CLASS_PRIORS = (0.6, 0.4)


def make_two_class_data(n: int = 400, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled 2-D dataset: x (n, 2) float32, y (n,) int64 in {0, 1}; 60 % class 0, 40 % class 1.

    Each class is a Gaussian (TWO_CLASS_MEANS, TWO_CLASS_COVS); the same `seed` gives the same data.
    """
    n = validate.whole_number(n, "n", minimum=2, hint="the number of points")
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


class GaussianClassifier(_Estimator):
    """A generative classifier: p(y) from class frequencies and p(x | y) a Gaussian per class, both by MLE.

    It classifies with Bayes' rule, p(y | x) = p(x | y) p(y) / p(x), and it can also sample new x for a class.
    reg: added to each covariance's diagonal, so that a class with collinear points still has a density.
    Learned by `fit`: `means_` (C, d), `covariances_` (C, d, d) and `priors_` (C,).
    """

    def __init__(self, *, reg: float = 1e-6) -> None:
        self.reg = reg

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> GaussianClassifier:
        """x: (n, d) float, y: (n,) int class labels 0..C-1 (every class present)."""
        reg = validate.number(self.reg, "reg", at_least=0)
        if x.ndim != 2 or y.shape != (len(x),):
            raise ValueError(f"GaussianClassifier.fit: x must be (n, d) and y (n,); got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}.")
        n_classes = int(y.max()) + 1
        missing = sorted(set(range(n_classes)) - set(y.tolist()))
        if missing or y.min() < 0:
            raise ValueError(f"GaussianClassifier.fit: labels must be 0..{n_classes - 1} with every class present; "
                             f"missing {missing}.")
        fits = [gaussian_mle(x[y == c].float()) for c in range(n_classes)]
        eye = torch.eye(x.shape[1])
        self.means_ = torch.stack([mean for mean, _ in fits])
        self.covariances_ = torch.stack([cov + reg * eye for _, cov in fits])
        self.priors_ = torch.bincount(y, minlength=n_classes).float() / len(y)
        return self

    def _class_densities(self) -> torch.distributions.MultivariateNormal:
        self._check_fitted()
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
        n = validate.whole_number(n, "n", hint="the number of samples")
        if label is not None:
            label = validate.whole_number(label, "label", minimum=0, maximum=len(self.priors_) - 1)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        if label is None:
            y = torch.multinomial(self.priors_, n, replacement=True, generator=generator)
        else:
            y = torch.full((n,), label, dtype=torch.long)
        z = torch.randn(n, self.means_.shape[1], generator=generator)
        x = self.means_[y] + (densities.scale_tril[y] @ z[:, :, None])[:, :, 0]
        return x, y
