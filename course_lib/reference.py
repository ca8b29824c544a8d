"""course_lib's answer to every graded exercise, and `yours_or_reference`, which lets a notebook go on without yours.

An exercise notebook's later cells use the learner's functions (`independent_pixel_log_likelihood` feeds the
measurement after it, `Encoder` the autoencoder that trains). So that a learner who leaves an exercise blank, or a
workshop that sets it as homework, can still run every other cell, those cells ask for

    pixel_log_likelihood = yours_or_reference("02.4", independent_pixel_log_likelihood)

and get back a function that calls yours; if yours raises NotImplementedError (the blank stub), it calls
course_lib's answer below instead, from then on. On first use it prints one line saying which one it used.
It never changes the name you defined, so checks and the grader still see your answer.

The answers reuse the learner-facing modules where these already hold the same computation (`density`, `models`,
`latent`); the rest are written here, each a few lines of plain torch. `REFERENCES` maps exercise keys to them;
tests/test_reference.py passes every one of them through its exercise's check.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from sklearn.neighbors import KernelDensity
from torch import nn

from course_lib import density, latent, models


# ---- 00 warm-up --------------------------------------------------------------------------------------------------

def mean_image(images: torch.Tensor, labels: torch.Tensor, label: int) -> torch.Tensor:
    """The average of the images (n, 1, H, W) whose label (n,) is `label`: (1, H, W); ValueError if there are none."""
    chosen = images[labels == label]
    if len(chosen) == 0:
        raise ValueError(f"no image has label {label}; labels present: {sorted(set(labels.tolist()))}")
    return chosen.mean(dim=0)


def binarise(images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where a pixel is brighter than `threshold`, else 0.0: same shape, float32 (deterministic, unlike
    `density.binarize`, which samples)."""
    return (images > threshold).float()


def on_fraction(images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The fraction of pixels brighter than `threshold` in each image (n, 1, H, W): (n,)."""
    return binarise(images, threshold).mean(dim=(1, 2, 3))


# ---- 01 generative vs discriminative -----------------------------------------------------------------------------

def sample_gaussian(mean: torch.Tensor, cov: torch.Tensor, n: int) -> torch.Tensor:
    """n draws from N(mean (d,), cov (d, d)): (n, d), as mean + L z with cov = L Lᵀ."""
    return mean + torch.randn(n, len(mean)) @ torch.linalg.cholesky(cov).T


def bayes_posterior(log_px_given_y: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """p(y | x) (n, C) from log p(x | y) (n, C) and p(y) (C,) by Bayes' rule, normalised in log space."""
    return torch.softmax(log_px_given_y + prior.log(), dim=1)


def generate(pixel_means: torch.Tensor, k: int) -> torch.Tensor:
    """k binary images (k, *pixel_means.shape), each pixel on with its mean as the probability."""
    return torch.bernoulli(pixel_means.expand(k, *pixel_means.shape))


def nearest_distance(samples: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """The Euclidean distance from each sample (m, ...) to its nearest training image (n, ...): (m,)."""
    return torch.cdist(samples.flatten(1), train.flatten(1)).min(dim=1).values


# ---- 02 density estimation ---------------------------------------------------------------------------------------

def gaussian_log_likelihood(x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log L of the 1-D data x (n,) under N(mu, sigma²), summed over the data, in nats: a scalar."""
    return torch.distributions.Normal(mu, sigma).log_prob(x).sum()


def gaussian_mle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The maximum-likelihood (mu, sigma) of 1-D data x (n,): `density.gaussian_mle` on one dimension."""
    mean, cov = density.gaussian_mle(x[:, None])
    return mean[0], cov[0, 0].sqrt()


def best_bandwidth(train: np.ndarray, held_out: np.ndarray, bandwidths: list[float]) -> float:
    """The bandwidth whose Gaussian KDE on `train` (n, d) gives `held_out` (m, d) the highest mean log density."""
    scores = [KernelDensity(bandwidth=h).fit(train).score_samples(held_out).mean() for h in bandwidths]
    return bandwidths[int(np.argmax(scores))]


def independent_pixel_log_likelihood(train: torch.Tensor, test: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Log-likelihood (m,) of each binary test row (m, d) under the independent-pixel model fitted to train (n, d)."""
    return density.IndependentBernoulli(eps=eps).fit(train).score_samples(test)


def log10_size(shape: tuple[int, ...], levels: int) -> float:
    """log10 of the number of different images of `shape` with `levels` values per number."""
    return math.prod(shape) * math.log10(levels)


def histogram_density(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The histogram density of x (n,) on the bins between `edges` (b + 1,): (b,), whose area is 1."""
    counts = torch.histogram(x, bins=edges).hist
    return counts / (len(x) * (edges[1:] - edges[:-1]))


def neighbour_correlation(images: torch.Tensor) -> torch.Tensor:
    """Correlation over the images (n, 1, H, W) of each pixel with its right-hand neighbour: (H, W - 1)."""
    a, b = images[:, 0, :, :-1], images[:, 0, :, 1:]
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).mean(0) / (a.pow(2).mean(0).sqrt() * b.pow(2).mean(0).sqrt())


def share_seen(samples: torch.Tensor, data: torch.Tensor) -> float:
    """The share of `samples` (m, ...) equal in every value to some image of `data` (n, ...)."""
    seen = {tuple(row) for row in data.flatten(1).tolist()}
    return sum(tuple(row) in seen for row in samples.flatten(1).tolist()) / len(samples)


def em_step(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
            variances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One EM step for a mixture of K 1-D Gaussians: x (n,), weights, means, variances (K,) -> the new three (K,)."""
    log_joint = weights.log() + torch.distributions.Normal(means, variances.sqrt()).log_prob(x[:, None])  # (n, K)
    resp = torch.softmax(log_joint, dim=1)
    counts = resp.sum(0)
    new_means = resp.T @ x / counts
    return counts / len(x), new_means, (resp * (x[:, None] - new_means) ** 2).sum(0) / counts


# ---- 03 representation learning ----------------------------------------------------------------------------------

def pca_directions(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of x (n, d): the mean (d,) and the k principal directions as the columns of W (d, k)."""
    mean = x.mean(0)
    return mean, torch.linalg.svd(x - mean, full_matrices=False).Vh[:k].T


def pca_encode_decode(x: torch.Tensor, mean: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent points z = (x - mean) W (n, k) and reconstructions z Wᵀ + mean (n, d)."""
    z = (x - mean) @ W
    return z, z @ W.T + mean


def components_needed(x: torch.Tensor, fraction: float) -> int:
    """The smallest k whose first k principal components explain at least `fraction` of the variance of x (n, d)."""
    variance = torch.linalg.svdvals(x - x.mean(0)) ** 2
    return int((variance.cumsum(0) / variance.sum() < fraction).sum()) + 1


# ---- 04 the autoencoder ------------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """(batch, 1, 28, 28) -> (batch, latent_dim): three 3x3 convolutions with stride 2 and padding 1 (28 -> 14 ->
    7 -> 4 pixels, 16 -> 32 -> 64 channels), each followed by a ReLU, then one linear layer to the code."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                                   nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.linear = nn.Linear(64 * 4 * 4, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).flatten(1))


reconstruction_loss = models.bernoulli_nll  # (logits, x) -> the binary cross-entropy summed per image, (batch,)


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` evenly spaced points (steps, d) on the straight line from z_a (d,) to z_b (d,): `latent.lerp`."""
    return latent.lerp(z_a, z_b, torch.linspace(0, 1, steps))


def sample_box(z_train: torch.Tensor, n: int) -> torch.Tensor:
    """n points (n, d) drawn uniformly in the box that the codes z_train (m, d) span."""
    low, high = z_train.min(0).values, z_train.max(0).values
    return low + (high - low) * torch.rand(n, z_train.shape[1])


def gap_share(z_train: torch.Tensor, z_test: torch.Tensor, z_random: torch.Tensor) -> float:
    """The share of z_random farther from every training code than 95% of the test codes are."""
    threshold = torch.cdist(z_test, z_train).min(1).values.quantile(0.95)
    return (torch.cdist(z_random, z_train).min(1).values > threshold).float().mean().item()


# ---- 05 the variational autoencoder ------------------------------------------------------------------------------

def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mean + exp(logvar / 2) * eps, all (batch, d), with the noise given (`models.reparameterize` draws it)."""
    return mean + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor,
                logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_q, diag e^logvar_q) || N(mean_p, diag e^logvar_p)) per row, in nats: all (batch, d) -> (batch,).
    With mean_p = logvar_p = 0 it is `models.gaussian_kl`, the KL to N(0, I)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mean_q - mean_p) ** 2) / logvar_p.exp() - 1).sum(-1)


def elbo(x: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The one-sample ELBO of each image (batch,): log p(x | z) - KL(q(z | x) || N(0, I)), in nats."""
    return -models.bernoulli_nll(logits, x) - models.gaussian_kl(mean, logvar)


def iwae_estimate(log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> torch.Tensor:
    """The importance-weighted log p(x) (batch,) from k samples per image, each input (batch, k)."""
    log_w = log_px_z + log_pz - log_qz
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


def classifier_score(probs: torch.Tensor) -> torch.Tensor:
    """exp(mean KL(p(y | x) || p(y))) of class probabilities (n, C), from 1 to C: a scalar tensor."""
    marginal = probs.mean(0, keepdim=True)
    return (torch.special.xlogy(probs, probs) - torch.special.xlogy(probs, marginal)).sum(1).mean().exp()


def elbo_gap(log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> torch.Tensor:
    """log p(x) - ELBO(q) = KL(q(z|x) || p(z|x)) per row for K latent states: log p(x|z) (n, K), log p(z) (K,),
    log q(z|x) (n, K) -> (n,), with the posterior from Bayes' rule in log space."""
    log_posterior = torch.log_softmax(log_px_z + log_pz, dim=1)
    return (log_qz.exp() * (log_qz - log_posterior)).sum(1)


def best_elbo(betas: list[float], rates: list[float], distortions: list[float]) -> tuple[float, float]:
    """The β of the model with the highest ELBO = −(distortion + rate), and that ELBO (nats per image)."""
    elbos = [-(r + d) for r, d in zip(rates, distortions)]
    best = elbos.index(max(elbos))
    return betas[best], elbos[best]

# ---- 06 faces ----------------------------------------------------------------------------------------------------

attribute_vector = latent.attribute_vector  # (z (n, d), has_attribute (n,) bool) -> (d,)
slerp = latent.slerp  # (a (d,), b (d,), t) -> the point on the arc, (d,)


def apply_vector(z: torch.Tensor, direction: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """Every code of z (n, d) moved by each strength (k,) times `direction` (d,): (n, k, d)."""
    return z[:, None, :] + strengths[None, :, None] * direction


def diversity(images: torch.Tensor) -> torch.Tensor:
    """The mean root-mean-square difference over all pairs of two different images (n, C, H, W), n >= 2."""
    flat = images.flatten(1)
    n = len(flat)
    return (torch.cdist(flat, flat) / flat.shape[1] ** 0.5).sum() / (n * (n - 1))


def code_for_classification(codes: dict[str, dict[str, float]]) -> str:
    """The name of the code whose probe (a classifier trained on 100 labels) is most accurate; reconstruction
    error and latent dimension do not decide it."""
    return max(codes, key=lambda name: codes[name]["probe_accuracy"])


def unit_activity(rates: torch.Tensor, threshold: float = 0.01) -> tuple[list[int], bool]:
    """The positions of the latent units whose rate (d,), their KL in nats averaged over the data, is below
    `threshold`, smallest first; and whether the posterior has collapsed (no unit active)."""
    inactive = rates < threshold
    return inactive.nonzero().flatten().tolist(), bool(inactive.all())


# predictions are values, graded against the course's measurements (course_lib/checks_NN.py names each one)
PREDICTIONS: dict[str, Any] = {"01.5": "generate", "02.10": 237, "02.11": "yes", "02.12": 0.4, "03.4": 80,
                               "04.6": 0.7, "06.5": 0.7}

REFERENCES: dict[str, Any] = {
    "00.1": mean_image, "00.2": binarise, "00.3": on_fraction,
    "01.1": sample_gaussian, "01.2": bayes_posterior, "01.3": generate, "01.4": nearest_distance,
    "02.1": gaussian_log_likelihood, "02.2": gaussian_mle, "02.3": best_bandwidth,
    "02.4": independent_pixel_log_likelihood, "02.5": log10_size, "02.6": histogram_density,
    "02.7": neighbour_correlation, "02.8": share_seen, "02.9": em_step,
    "03.1": pca_directions, "03.2": pca_encode_decode, "03.3": components_needed,
    "04.1": Encoder, "04.2": reconstruction_loss, "04.3": interpolate, "04.4": sample_box, "04.5": gap_share,
    "05.1": reparameterize, "05.2": gaussian_kl, "05.3": elbo, "05.4": iwae_estimate, "05.5": classifier_score,
    "05.6": elbo_gap,
    "05.7": best_elbo,
    "06.1": attribute_vector, "06.2": slerp, "06.3": apply_vector, "06.4": diversity,
    "03.5": code_for_classification, "06.6": unit_activity, **PREDICTIONS,
}


# ---- the learner's answer, or the reference -----------------------------------------------------------------------

class YoursOrReference:
    """Calls the learner's `answer`; once it raises NotImplementedError, calls the reference of exercise `key`.

    Prints one line the first time it decides which one it is using (and again if it has to switch).
    """

    def __init__(self, key: str, answer: Callable) -> None:
        self.key, self.answer = key, answer
        self.name = getattr(answer, "__name__", "your answer")
        self.using: str | None = None  # "yours" or "reference", once decided

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.using != "reference":
            try:
                result = self.answer(*args, **kwargs)
            except NotImplementedError:
                self.using = "reference"
                print(f"[{self.key}] your `{self.name}` raised NotImplementedError (not written yet), so this uses "
                      f"course_lib's instead ({_where(REFERENCES[self.key])}).")
            else:
                if self.using is None:
                    self.using = "yours"
                    print(f"[{self.key}] using your `{self.name}`.")
                return result
        return REFERENCES[self.key](*args, **kwargs)


def _where(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def yours_or_reference(key: str, answer: Callable) -> YoursOrReference:
    """A stand-in for `answer`, the learner's function for exercise `key`: yours while it works, course_lib's
    reference where yours raises NotImplementedError. Calls nothing until it is called itself.

    key: an exercise key such as "02.4"; answer: the function (or class) the exercise asked for.
    """
    if key not in REFERENCES:
        raise KeyError(f"There is no reference answer for exercise {key!r}; known: {', '.join(REFERENCES)}.")
    if not callable(answer):
        raise TypeError(f"yours_or_reference({key!r}, ...): pass your function itself, not what it returned "
                        f"(got {type(answer).__name__}).")
    return YoursOrReference(key, answer)
