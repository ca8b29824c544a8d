"""Each exercise check's verdict on answers written unlike the solution: right ones it must accept, and plausible
mistakes it must reject (tests/test_checks.py holds the reference answers and the messages).

One table row per exercise: (right answers written differently from the solution, wrong answers a learner would
write). Every answer is checked with the public seed and with one grader-like seed.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import checks
from course_lib.reference import REFERENCES

SEEDS = [checks.PUBLIC_SEED, 2**33 + 5]


# ---- notebook 00 ----

def _mean_image_sum(images, labels, label):
    mask = labels == label
    if not bool(mask.any()):
        raise ValueError(f"no image has label {label}")
    return images[mask].sum(dim=0) / mask.sum()


def _mean_image_key_error(images, labels, label):
    if not bool((labels == label).any()):
        raise KeyError(label)  # the wrong kind of error
    return images[labels == label].mean(dim=0)


def _on_fraction_flat(images, threshold=0.5):
    return torch.where(images > threshold, 1.0, 0.0).flatten(1).mean(1)


# ---- notebook 01 ----

def _gaussian_eigh(mean, cov, n):  # any square root A with A Aᵀ = Σ will do: here V √Λ
    values, vectors = torch.linalg.eigh(cov)
    return mean + torch.randn(n, len(mean)) @ (vectors * values.clamp_min(0).sqrt()).T


def _gaussian_coin(mean, cov, n):  # ±1 coins: the right mean and covariance, not a Gaussian
    z = torch.randint(0, 2, (n, len(mean))).float() * 2 - 1
    return mean + z @ torch.linalg.cholesky(cov).T


def _gaussian_uniform(mean, cov, n):  # uniform noise scaled to variance 1: the right moments, not a Gaussian
    z = (torch.rand(n, len(mean)) * 2 - 1) * 3 ** 0.5
    return mean + z @ torch.linalg.cholesky(cov).T


def _gaussian_untransposed(mean, cov, n):  # L z with rows as samples needs Lᵀ
    return mean + torch.randn(n, len(mean)) @ torch.linalg.cholesky(cov)


def _posterior_by_hand(log_lik, prior):
    joint = log_lik + torch.log(prior)
    joint = joint - joint.max(dim=1, keepdim=True).values
    return joint.exp() / joint.exp().sum(dim=1, keepdim=True)


def _generate_uniform(pixel_means, k):
    return (torch.rand(k, *pixel_means.shape) < pixel_means).float()


def _generate_shared(pixel_means, k):  # one number per image for all its pixels: pixels perfectly dependent
    u = torch.rand(k, *([1] * pixel_means.dim()))
    return (u < pixel_means).float()


def _generate_shared_rows(pixel_means, k):  # one coin per column of each image: pixels of a column dependent
    u = torch.rand(k, *pixel_means.shape[:-2], 1, pixel_means.shape[-1])
    return (u < pixel_means).float()


def _nearest_loop(samples, train):
    s, t = samples.flatten(1).double(), train.flatten(1).double()
    return torch.stack([((t - row) ** 2).sum(1).sqrt().min() for row in s]).float()


# ---- notebook 02 ----

def _log_likelihood_expanded(x, mu, sigma):
    n = x.numel()
    return -n * torch.log(sigma) - n / 2 * math.log(2 * math.pi) - ((x - mu) ** 2).sum() / (2 * sigma ** 2)


def _mle_numpy(x):
    a = x.numpy()
    return float(a.mean()), float(a.std())  # NumPy's std divides by n


def _bandwidth_by_hand(train, held_out, bandwidths):
    train, held_out = torch.as_tensor(train).double(), torch.as_tensor(held_out).double()
    d = train.shape[1]
    scores = []
    for h in bandwidths:
        log_k = -torch.cdist(held_out, train) ** 2 / (2 * h ** 2) - d * math.log(h) - d / 2 * math.log(2 * math.pi)
        scores.append((torch.logsumexp(log_k, 1) - math.log(len(train))).sum().item())  # a sum: same best h
    return bandwidths[int(np.argmax(scores))]


def _bandwidth_worst(train, held_out, bandwidths):
    from sklearn.neighbors import KernelDensity
    scores = [KernelDensity(bandwidth=h).fit(train).score_samples(held_out).mean() for h in bandwidths]
    return bandwidths[int(np.argmin(scores))]  # argmin: the worst


def _pixels_bernoulli(train, test, eps=1e-3):
    p = train.mean(0).clamp(eps, 1 - eps)
    return torch.distributions.Bernoulli(probs=p).log_prob(test).sum(1)


def _pixels_one_sided_clamp(train, test, eps=1e-3):
    p = train.mean(0).clamp_min(eps)  # forgets the upper side: an always-on pixel has log(1 - p) = -inf
    return test @ p.log() + (1 - test) @ (1 - p).log()


def _pixels_add_eps(train, test, eps=1e-3):
    p = train.mean(0) + eps  # shifts every probability instead of keeping it away from 0 and 1
    return test @ p.log() + (1 - test) @ (1 - p).log()


def _histogram_numpy(x, edges):
    return torch.as_tensor(np.histogram(x.numpy(), bins=edges.numpy(), density=True)[0])


def _correlation_unbiased(images):  # n - 1 throughout: the same correlation
    a, b = images[:, 0, :, :-1], images[:, 0, :, 1:]
    cov = ((a - a.mean(0)) * (b - b.mean(0))).sum(0) / (len(images) - 1)
    return cov / (a.std(0) * b.std(0))


def _correlation_within_rows(images):
    """A learner's mistake: the correlation over the pixels of each row of each image, averaged over the images."""
    a, b = images[:, 0, :, :-1].double(), images[:, 0, :, 1:].double()
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    r = (a * b).mean(-1) / (a.pow(2).mean(-1).sqrt() * b.pow(2).mean(-1).sqrt())
    return r.nanmean(0)[:, None].expand(-1, images.shape[-1] - 1)


def _em_numpy(x, weights, means, variances):  # densities in NumPy, responsibilities normalised by their row sum
    a = x.numpy()[:, None]
    dens = weights.numpy() * np.exp(-(a - means.numpy()) ** 2 / (2 * variances.numpy())) \
        / np.sqrt(2 * np.pi * variances.numpy())
    r = dens / dens.sum(1, keepdims=True)
    nk = r.sum(0)
    mu = (r * a).sum(0) / nk
    return torch.tensor(nk / len(a)), torch.tensor(mu), torch.tensor((r * (a - mu) ** 2).sum(0) / nk)


def _em_flags(x, weights, means, variances, normalise=True, old_means=False, divide_by_n=True):
    """One EM step in log space; the flags make a learner's mistakes."""
    log_joint = weights.log() + torch.distributions.Normal(means, variances.sqrt()).log_prob(x[:, None])
    r = torch.softmax(log_joint, dim=1) if normalise else log_joint.exp()
    nk = r.sum(0)
    mu = r.T @ x / nk
    centre = means if old_means else mu
    return nk / len(x) if divide_by_n else nk, mu, (r * (x[:, None] - centre) ** 2).sum(0) / nk


def _share_seen_broadcast(samples, data):
    s, d = samples.flatten(1), data.flatten(1)
    return (s[:, None] == d[None]).all(-1).any(1).float().mean()


# ---- notebook 03 ----

def _pca_eigh(x, k):  # eigenvectors of the covariance, reordered from the largest eigenvalue, signs as they come
    mean = x.mean(0)
    values, vectors = torch.linalg.eigh(torch.cov((x - mean).T))
    return mean, -vectors.flip(1)[:, :k]


def _pca_eigh_ascending(x, k):  # eigh's own order: smallest variance first
    mean = x.mean(0)
    values, vectors = torch.linalg.eigh(torch.cov((x - mean).T))
    return mean, vectors[:, -k:]


def _pca_reversed(x, k):  # the right k directions, the largest last
    mean = x.mean(0)
    return mean, torch.linalg.svd(x - mean, full_matrices=False)[2][:k].flip(0).T


def _pca_left_of_transpose(x, k):  # the left singular vectors of the transposed data: the same directions
    mean = x.mean(0)
    u = torch.linalg.svd((x - mean).T, full_matrices=False)[0]
    return mean, u[:, :k]


def _encode_decode_projector(x, mean, w):
    z = torch.einsum("nd,dk->nk", x - mean, w)
    return z, mean + (x - mean) @ (w @ w.T)


def _components_searchsorted(x, fraction):
    values = torch.linalg.eigvalsh(torch.cov(x.T)).flip(0).double()
    share = values.cumsum(0) / values.sum()
    return int(torch.searchsorted(share, torch.tensor([fraction], dtype=torch.float64))[0]) + 1


# ---- notebook 04 ----

def _conv(cin, cout, bias=True):
    return nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=bias)


def _encoder_batchnorm(latent_dim):  # conv, BatchNorm, ReLU: a sound variant with more parameters
    return nn.Sequential(_conv(1, 16, False), nn.BatchNorm2d(16), nn.ReLU(),
                         _conv(16, 32, False), nn.BatchNorm2d(32), nn.ReLU(),
                         _conv(32, 64, False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.Flatten(), nn.Linear(1024, latent_dim))


class _EncoderFunctional(nn.Module):  # a class with F.relu in forward: no ReLU modules to count
    def __init__(self, latent_dim):
        super().__init__()
        self.c1, self.c2, self.c3 = _conv(1, 16), _conv(16, 32), _conv(32, 64)
        self.fc = nn.Linear(64 * 4 * 4, latent_dim)

    def forward(self, x):
        x = F.relu(self.c3(F.relu(self.c2(F.relu(self.c1(x))))))
        return self.fc(x.reshape(len(x), -1))


def _encoder_leaky(latent_dim):
    return nn.Sequential(_conv(1, 16), nn.LeakyReLU(0.1), _conv(16, 32), nn.LeakyReLU(0.1), _conv(32, 64),
                         nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(1024, latent_dim))


def _encoder_first_relu_only(latent_dim):
    return nn.Sequential(_conv(1, 16), nn.ReLU(), _conv(16, 32), _conv(32, 64), nn.Flatten(),
                         nn.Linear(1024, latent_dim))


def _encoder_relu_on_codes(latent_dim):
    return nn.Sequential(_conv(1, 16), nn.ReLU(), _conv(16, 32), nn.ReLU(), _conv(32, 64), nn.ReLU(),
                         nn.Flatten(), nn.Linear(1024, latent_dim), nn.ReLU())


def _encoder_sigmoid_codes(latent_dim):
    return nn.Sequential(_conv(1, 16), nn.ReLU(), _conv(16, 32), nn.ReLU(), _conv(32, 64), nn.ReLU(),
                         nn.Flatten(), nn.Linear(1024, latent_dim), nn.Sigmoid())


def _encoder_no_stride(latent_dim):  # stride 1: 28 × 28 all the way, a huge linear layer
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 28 * 28, latent_dim))


def _encoder_two_convs(latent_dim):
    return nn.Sequential(_conv(1, 32), nn.ReLU(), _conv(32, 64), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, latent_dim))


def _loss_softplus(logits, x):
    return (F.softplus(logits) - x * logits).sum(dim=(1, 2, 3))


def _interpolate_lerp(z_a, z_b, steps):
    return torch.stack([torch.lerp(z_a, z_b, float(t)) for t in torch.linspace(0, 1, steps)])


def _box_distribution(z_train, n):
    low, high = z_train.aminmax(dim=0)
    return torch.distributions.Uniform(low, high).sample((n,))


def _box_clamped_normal(z_train, n):  # a normal around the centre, clipped to the box
    low, high = z_train.min(0).values, z_train.max(0).values
    return ((low + high) / 2 + (high - low) / 4 * torch.randn(n, z_train.shape[1])).clamp(low, high)


def _gap_share_loop(z_train, z_test, z_random):
    nearest = lambda points: torch.stack([(z_train - p).norm(dim=1).min() for p in points])
    threshold = torch.quantile(nearest(z_test), 0.95)
    return float((nearest(z_random) > threshold).sum()) / len(z_random)


# ---- notebook 05 ----

def _reparameterize_sqrt(mean, logvar, eps):
    return mean + eps * logvar.exp().sqrt()


def _kl_pytorch_example(mean, logvar):
    return -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), dim=1)


def _kl_distributions(mean_q, logvar_q, mean_p, logvar_p):
    q = torch.distributions.Normal(mean_q, (0.5 * logvar_q).exp())
    return torch.distributions.kl_divergence(q, torch.distributions.Normal(mean_p, (0.5 * logvar_p).exp())).sum(-1)


def _kl_std_ratio(mean_q, logvar_q, mean_p, logvar_p):  # written with the ratio of standard deviations
    s = (0.5 * (logvar_q - logvar_p)).exp()
    return (-torch.log(s) + 0.5 * (s ** 2 + (mean_q - mean_p) ** 2 / logvar_p.exp()) - 0.5).sum(dim=1)


def _gap_by_definition(log_px_z, log_pz, log_qz):  # log p(x) − ELBO, which the identity says is the same
    joint = log_px_z + log_pz
    return torch.logsumexp(joint, dim=1) - (log_qz.exp() * (joint - log_qz)).sum(1)


def _gap_manual(log_px_z, log_pz, log_qz):  # the posterior normalised by hand after subtracting the row's maximum
    joint = log_px_z + log_pz
    joint = joint - joint.max(dim=1, keepdim=True).values
    log_post = joint - joint.exp().sum(1, keepdim=True).log()
    q = log_qz.exp()
    return torch.where(q > 0, q * (log_qz - log_post), 0.0).sum(1)


def _kl_rows(log_a, log_b):
    return (log_a.exp() * (log_a - log_b)).sum(1)


def _elbo_distributions(x, logits, mean, logvar):
    log_px_z = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    return log_px_z - kl


def _iwae_manual(log_px_z, log_pz, log_qz):
    w = log_px_z + log_pz - log_qz
    top = w.max(dim=1, keepdim=True).values
    return top[:, 0] + ((w - top).exp().mean(dim=1)).log()


def _score_loop(probs):
    p = probs.double()
    marginal = p.mean(0)
    total = 0.0
    for row in p:
        keep = row > 0
        total += float((row[keep] * (row[keep].log() - marginal[keep].log())).sum())
    return math.exp(total / len(p))


# ---- notebook 06 ----

def _attribute_weights(z, has):
    w = has.float()
    return (w @ z) / w.sum() - ((1 - w) @ z) / (1 - w).sum()


def _slerp_atan2(a, b, t):
    ua, ub = a / a.norm(), b / b.norm()
    omega = torch.atan2((ua - ub).norm(), (ua + ub).norm()) * 2
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def _slerp_raw_dot(a, b, t):  # the angle from the raw dot product: right only for unit vectors
    omega = torch.arccos((a @ b).clamp(-1, 1))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def _apply_loop(z, direction, strengths):
    return torch.stack([torch.stack([face + s * direction for s in strengths]) for face in z])


def _diversity_pairs(images):
    flat = images.flatten(1).double()
    pairs = [((flat[i] - flat[j]) ** 2).mean().sqrt() for i in range(len(flat)) for j in range(len(flat)) if i < j]
    return float(torch.stack(pairs).mean())


# ---- interpretation exercises ----

def _code_by_sorting(codes):
    ranked = sorted(codes.items(), key=lambda item: -item[1]["probe_accuracy"])
    return ranked[0][0]


def _activity_loop(rates, threshold):
    inactive = [j for j, rate in enumerate(rates.tolist()) if rate < threshold]
    return tuple(inactive), np.bool_(len(inactive) == len(rates))


VERDICTS = {
    "00.1": ([_mean_image_sum], [
        _mean_image_key_error,                                                             # KeyError, not ValueError
        lambda images, labels, label: images[labels == label].mean(dim=1),                   # averages channels
        lambda images, labels, label: images[: int((labels == label).sum())].mean(dim=0),    # the first few images
    ]),
    "00.2": ([lambda images, threshold=0.5: torch.where(images > threshold, 1.0, 0.0),
              lambda images, threshold=0.5: torch.heaviside(images - threshold, torch.tensor(0.0))], [
        lambda images, threshold=0.5: (images > threshold) * 1,                             # integers
        lambda images, threshold=0.5: images.round(),                                       # ignores the threshold
        lambda images, threshold=0.5: torch.where(images > threshold, images, 0.0),         # keeps the grey values
    ]),
    "00.3": ([_on_fraction_flat], [
        lambda images, threshold=0.5: (images >= threshold).float().mean(dim=(1, 2, 3)),     # equal counts as on
        lambda images, threshold=0.5: (images > threshold).float().mean(dim=(2, 3)),         # keeps the channel axis
        lambda images, threshold=0.5: (images > threshold).float().mean(dim=0).flatten(),    # per pixel, not image
    ]),
    "01.1": ([_gaussian_eigh, lambda mean, cov, n: torch.distributions.MultivariateNormal(mean, cov).sample((n,))], [
        _gaussian_coin, _gaussian_uniform, _gaussian_untransposed,
    ]),
    "01.2": ([_posterior_by_hand, lambda log_lik, prior: torch.log_softmax(log_lik + prior.log(), dim=1).exp()], [
        lambda log_lik, prior: torch.softmax(log_lik + prior.log(), dim=0),                 # normalises the columns
        lambda log_lik, prior: torch.softmax(log_lik + prior, dim=1),                       # prior not logged
        lambda log_lik, prior: torch.log_softmax(log_lik + prior.log(), dim=1),             # log-posterior
    ]),
    "01.3": ([_generate_uniform, lambda m, k: torch.distributions.Bernoulli(probs=m).sample((k,))], [
        _generate_shared, _generate_shared_rows,
        lambda m, k: (torch.rand(k, *m.shape) > m).float(),                                 # on with 1 - p
    ]),
    "01.4": ([_nearest_loop], [
        lambda s, t: torch.cdist(s.flatten(1), t.flatten(1)).min(dim=0).values,             # nearest sample per train
        lambda s, t: (s.flatten(1)[:, None] - t.flatten(1)).pow(2).mean(-1).sqrt().min(1).values,  # RMS, not L2
    ]),
    "02.1": ([_log_likelihood_expanded, lambda x, mu, sigma: torch.distributions.Normal(mu, sigma).log_prob(x).sum()], [
        lambda x, mu, sigma: (-torch.log(sigma) - (x - mu) ** 2 / (2 * sigma ** 2)).sum(),     # forgets log 2π
        lambda x, mu, sigma: (-torch.log(sigma ** 2) - 0.5 * math.log(2 * math.pi)
                              - (x - mu) ** 2 / (2 * sigma ** 2)).sum(),                     # log σ², not log σ
        lambda x, mu, sigma: (-torch.log(sigma) - 0.5 * math.log(2 * math.pi)
                              - (x - mu) ** 2 / 2 * sigma ** 2).sum(),                       # times σ²
    ]),
    "02.2": ([_mle_numpy, lambda x: (lambda v, m: (m, v.sqrt()))(*torch.var_mean(x, correction=0))], [
        lambda x: (x.mean(), (x - x.mean()).abs().mean()),                                  # mean absolute deviation
        lambda x: (x.median(), x.std(unbiased=False)),                                      # median
        lambda x: (x.mean(), x.std()),                                                      # n - 1
    ]),
    "02.3": ([_bandwidth_by_hand], [
        _bandwidth_worst,
        lambda train, held_out, bandwidths: bandwidths[0],                                  # the narrowest
    ]),
    "02.4": ([_pixels_bernoulli], [_pixels_one_sided_clamp, _pixels_add_eps,
                                   lambda train, test, eps=1e-3: _pixels_bernoulli(train, test, eps).mean()]),
    "02.5": ([lambda shape, levels: math.log10(levels) * shape[0] * shape[1] * shape[2]], [
        lambda shape, levels: math.prod(shape) * math.log2(levels),                         # bits, not digits
        lambda shape, levels: levels * math.log10(math.prod(shape)),                        # base and power swapped
    ]),
    "02.6": ([_histogram_numpy, lambda x, edges: torch.histogram(x, bins=edges, density=True).hist], [
        lambda x, edges: torch.histogram(x, bins=edges).hist / len(x) / (edges[-1] - edges[0]),  # overall width
        lambda x, edges: torch.histogram(x, bins=edges).hist / (len(x) * (edges[1:] - edges[:-1])).sum(),
    ]),
    "02.7": ([_correlation_unbiased], [
        _correlation_within_rows,                                                           # rows, not images
        lambda im: (lambda r: torch.where(r.isnan(), 0.0, r))(_correlation_unbiased(im)),   # NaN replaced by 0
    ]),
    "02.8": ([_share_seen_broadcast], [
        lambda s, d: (s.flatten(1)[:, None] == d.flatten(1)[None]).any(-1).any(1).float().mean(),  # one pixel equal
        lambda s, d: len({tuple(r) for r in s.flatten(1).tolist()} & {tuple(r) for r in d.flatten(1).tolist()})
        / len(s),                                                                           # distinct samples only
    ]),
    "02.9": ([_em_numpy, lambda *args: tuple(t.float() for t in _em_flags(*(a.float() for a in args)))], [  # float32
        lambda x, w, m, v: _em_flags(x, w, m, v, normalise=False),                          # r not normalised
        lambda x, w, m, v: _em_flags(x, w, m, v, old_means=True),                           # old means in σ²
        lambda x, w, m, v: _em_flags(x, w, m, v, divide_by_n=False),                        # weights are N_k
    ]),
    "03.1": ([_pca_eigh, _pca_left_of_transpose], [_pca_eigh_ascending, _pca_reversed]),
    "03.2": ([_encode_decode_projector], [
        lambda x, mean, w: ((x - mean) @ w, (x - mean) @ w @ w.T - mean),                  # subtracts the mean again
        lambda x, mean, w: ((x - mean) @ w, ((x - mean) @ w) @ w + mean),                  # decodes without the .T
    ]),
    "03.3": ([_components_searchsorted], [
        lambda x, f: int(((x.var(0).sort(descending=True).values.cumsum(0)
                           / x.var(0).sum()) < f).sum()) + 1,                                # the axes' variances
        lambda x, f: int((((torch.linalg.svdvals(x - x.mean(0)) ** 2).cumsum(0)
                           / (torch.linalg.svdvals(x - x.mean(0)) ** 2).sum()) < f).sum()),  # forgets the + 1
    ]),
    "04.1": ([_encoder_batchnorm, _EncoderFunctional, _encoder_leaky], [
        _encoder_first_relu_only, _encoder_relu_on_codes, _encoder_sigmoid_codes, _encoder_no_stride,
        _encoder_two_convs,
    ]),
    "04.2": ([_loss_softplus, lambda logits, x: -(x * F.logsigmoid(logits)
                                                  + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)], [
        lambda logits, x: F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((2, 3)),  # per channel
        lambda logits, x: F.binary_cross_entropy_with_logits(x, logits, reduction="none").flatten(1).sum(1),  # swapped
    ]),
    "04.3": ([_interpolate_lerp], [
        lambda z_a, z_b, steps: z_a + torch.linspace(0, 1, steps)[:, None] * z_b,          # adds z_b, not the step
        lambda z_a, z_b, steps: z_a + (torch.arange(1, steps + 1)[:, None] / steps) * (z_b - z_a),  # misses z_a
    ]),
    "04.4": ([_box_distribution], [
        _box_clamped_normal,
        lambda z, n: z.min(0).values + (z.max(0).values - z.min(0).values) * torch.rand(n, 1),  # one number per point
        lambda z, n: z.min(0).values + z.max(0).values * torch.rand(n, z.shape[1]),              # max as the width
    ]),
    "04.5": ([_gap_share_loop], [
        lambda tr, te, r: (torch.cdist(r, tr).min(1).values
                           < torch.cdist(te, tr).min(1).values.quantile(0.95)).float().mean(),  # the ones not in gaps
        lambda tr, te, r: (torch.cdist(r, tr).min(1).values
                           > torch.cdist(te, tr).min(1).values.quantile(0.05)).float().mean(),  # 5th percentile
    ]),
    "05.1": ([_reparameterize_sqrt], [
        lambda mean, logvar, eps: mean + logvar * eps,                                      # log-variance as std
        lambda mean, logvar, eps: mean + torch.exp(0.5 * logvar) * torch.randn_like(mean),  # ignores eps
    ]),
    "05.2": ([_kl_distributions, _kl_std_ratio], [
        lambda mq, lq, mp, lp: _kl_distributions(mp, lp, mq, lq),                          # KL(p ‖ q), reversed
        lambda mq, lq, mp, lp: 0.5 * (lp - lq + (lq + (mq - mp) ** 2) / lp - 1).sum(-1),  # logvar used as σ²
        lambda mq, lq, mp, lp: 0.5 * (torch.log(lp / lq) + (lq + (mq - mp) ** 2) / lp - 1).sum(-1),  # log of logvar
        lambda mq, lq, mp, lp: 2 * _kl_distributions(mq, lq, mp, lp),                      # no ½
        lambda mq, lq, mp, lp: 0.5 * (lp - lq + (mq - mp) ** 2 / lp.exp() - 1).sum(-1),   # no trace term
        lambda mq, lq, mp, lp: _kl_distributions(mq, lq, mp, lp) / mq.shape[-1],           # mean over dimensions
    ]),
    "05.3": ([_elbo_distributions], [
        lambda x, logits, mean, logvar: -F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").flatten(1).sum(1),                                  # forgets the KL
        lambda x, logits, mean, logvar: -F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").flatten(1).sum(1) + _kl_pytorch_example(mean, logvar),  # adds the KL
    ]),
    "05.4": ([_iwae_manual], [
        lambda a, b, c: torch.logsumexp(a + b - c, dim=1),                                  # forgets log k
        lambda a, b, c: torch.logsumexp(a + b + c, dim=1) - math.log(a.shape[1]),           # + log q
    ]),
    "05.5": ([_score_loop], [
        lambda p: torch.exp((torch.special.xlogy(p, p) - torch.special.xlogy(p, p.mean(1, keepdim=True))).sum(1)
                            .mean()),                                                       # p(y) over the wrong axis
        lambda p: torch.exp((torch.special.xlogy(p, p) - torch.special.xlogy(p, p.mean(0))).sum(1).sum()),  # sum
    ]),
    "05.7": ([lambda b, r, d: max(zip(b, (-(x + y) for x, y in zip(r, d))), key=lambda pair: pair[1]),
              lambda b, r, d: (lambda e: (b[int(e.argmax())], float(e.max())))(-(np.array(r) + np.array(d)))], [
        lambda b, r, d: (b[d.index(min(d))], -(r[d.index(min(d))] + d[d.index(min(d))])),   # lowest distortion
        lambda b, r, d: (lambda loss: (b[loss.index(min(loss))], -min(loss)))(              # lowest D + beta R
            [y + beta * x for beta, x, y in zip(b, r, d)]),
        lambda b, r, d: (lambda e: (b[e.index(min(e))], min(e)))([x + y for x, y in zip(r, d)]),  # ELBO's sign
        lambda b, r, d: (1.0, -(r[b.index(1.0)] + d[b.index(1.0)])),                        # always beta = 1
    ]),
    "05.6": ([_gap_by_definition, _gap_manual], [
        lambda a, b, c: _kl_rows(torch.log_softmax(a + b, dim=1), c),                       # KL(posterior ‖ q)
        lambda a, b, c: _kl_rows(c, a + b),                                                 # unnormalised posterior
        lambda a, b, c: _kl_rows(c, torch.log_softmax(a, dim=1)),                           # forgets the prior
    ]),
    "06.1": ([_attribute_weights], [
        lambda z, has: z[has].mean(0) - z[~has].mean(0).mean(),                             # one number subtracted
        lambda z, has: (z[has].mean(0) - z[~has].mean(0)) / (z[has].mean(0) - z[~has].mean(0)).norm(),  # unit length
    ]),
    "06.2": ([_slerp_atan2], [
        _slerp_raw_dot,
        lambda a, b, t: (lambda w: (torch.sin((1 - t) * w) * a + torch.sin(t * w) * b))(
            torch.arccos(a @ b / (a.norm() * b.norm()))),                                  # forgets / sin ω
    ]),
    "06.3": ([_apply_loop], [
        lambda z, d, s: z[:, None, :] + s[None, :, None] + d,                               # adds the strength
        lambda z, d, s: z[:, None, :] * s[None, :, None] * d,                               # multiplies the face
    ]),
    "06.4": ([_diversity_pairs], [
        lambda im: float(torch.pdist(im.flatten(1)).mean()),                                # Euclidean, not RMS
        lambda im: float((torch.pdist(im.flatten(1)) ** 2).mean() / im[0].numel()),         # mean squared
    ]),
    # predictions: values committed before the cell that measures them
    "01.5": (["generate", " Generate", "GENERATE\n"], [
        "nature",                                                                            # real images lie farther
        "copier",                                                                            # the copies lie at 0
        "generator",                                                                         # not one of the choices
    ]),
    "03.4": ([80, 70, np.int64(90), 79.5, torch.tensor(75)], [
        40,                                                                                  # read at 0.8, not 0.9
        200,                                                                                 # the end of the axis
        "80",                                                                                # a string, not a number
    ]),
    "02.10": ([237, 236.0, 230, np.int64(250)], [
        784,                                                                                 # the number of pixels
        9,                                                                                   # "a few billion"
        "237",                                                                               # a string, not a number
    ]),
    "02.11": (["yes", " Yes", "YES"], [
        "no",                                                                                # a density as a probability
        "True",                                                                              # not one of the choices
    ]),
    "02.12": ([0.4, 0.5, torch.tensor(0.3), np.float64(0.45)], [
        0.6,                                                                                 # a round guess, too high
        0.0,                                                                                 # pixels as independent
        0.95,                                                                                # as in the grey images' core
        -0.4,                                                                                # the sign
    ]),
    "04.6": ([0.7, 0.6, np.float32(0.85), torch.tensor(0.74)], [
        0.05,                                                                                # "95% of test codes fit"
        0.3,                                                                                 # the map looks filled
        74,                                                                                  # a percentage
        [0.7],                                                                               # a list, not a number
    ]),
    "06.5": ([0.71, 2 ** -0.5, 0.65, np.float64(0.8)], [
        1.0,                                                                                 # "as long as the ends"
        0.5,                                                                                 # half the sum's length
        float("nan"),
    ]),
    # interpretation: judge measured numbers
    "03.5": ([_code_by_sorting, lambda codes: [n for n, v in codes.items()
                                               if v["probe_accuracy"] == max(c["probe_accuracy"] for c in
                                                                             codes.values())][0]], [
        lambda codes: min(codes, key=lambda n: codes[n]["reconstruction_error"]),          # reconstructs best
        lambda codes: max(codes, key=lambda n: codes[n]["reconstruction_error"]),          # reconstructs worst
        lambda codes: min(codes, key=lambda n: codes[n]["latent_dim"]),                    # the smallest code
        lambda codes: min(codes, key=lambda n: codes[n]["probe_accuracy"]),                # the least accurate
    ]),
    "06.6": ([_activity_loop, lambda rates, t: (torch.where(rates < t)[0], (rates < t).all())], [
        lambda rates, t: ((rates > t).nonzero().flatten().tolist(), bool((rates > t).all())),  # the active ones
        lambda rates, t: ((rates < t).nonzero().flatten().tolist(), bool((rates < t).any())),  # some inactive
        lambda rates, t: ((rates < t).tolist(), bool((rates < t).all())),                   # a mask, not positions
        lambda rates, t: ((rates < t).nonzero().flatten().tolist(), len(rates) == 0),       # never collapsed
    ]),
}


def test_ks_distance_is_the_largest_gap_between_the_two_cdfs():
    uniform = lambda v: v.clamp(0, 1)
    assert checks.ks_distance([0.5], uniform) == 0.5
    assert checks.ks_distance([0.25, 0.75], uniform) == 0.25
    assert checks.ks_distance(torch.linspace(0, 1, 1001), uniform) < 1e-3
    draws = torch.randn(20000, generator=torch.Generator().manual_seed(0))
    assert checks.ks_distance(draws, checks.standard_normal_cdf) < 0.025
    assert checks.ks_distance(draws.sign(), checks.standard_normal_cdf) > 0.3


def test_the_table_covers_every_exercise_with_two_wrong_answers_and_a_right_variant():
    assert set(VERDICTS) == set(checks.EXERCISES)
    for key, (right, wrong) in VERDICTS.items():
        assert len(right) >= 1 and len(wrong) >= 2, key


# wrong answers that pass some weighted parts of a check (course_lib.checks.part): (key, index) -> the share of the
# exercise's points they earn with each of SEEDS; every other wrong answer earns 0
PARTLY = {
    ("00.1", 0): (0.75, 0.75),  # every mean right, the wrong kind of error for an empty class
    ("00.1", 2): (0.25, 0.25),  # right only when every image has the label
    ("00.2", 0): (0.4, 0.4),  # integers: values right, dtype wrong (fails the thresholds, not the edge or the copy)
    ("00.2", 1): (0.4, 0.4),  # rounding is thresholding at 0.5: wrong at the edge, whose threshold is drawn
    ("00.3", 0): (0.8, 0.8),  # only the pixels equal to the threshold are wrong
    ("05.7", 3): (1 / 3, 1 / 3),  # always beta = 1: right on the one sweep where beta = 1 wins
}

CASES = [(key, "right", i) for key, (right, _) in VERDICTS.items() for i in range(len(right))] + \
        [(key, "wrong", i) for key, (_, wrong) in VERDICTS.items() for i in range(len(wrong))]


@pytest.mark.parametrize("key, kind, index", CASES)
def test_the_check_judges_what_the_exercise_asks(key, kind, index):
    right, wrong = VERDICTS[key]
    answer = (right if kind == "right" else wrong)[index]
    torch.manual_seed(1)  # the answers' own randomness
    for seed in SEEDS:
        result = checks.evaluate(checks.get(key), checks.LocalAnswer(answer), seed)
        if kind == "right":
            assert result.passed, result.message
        else:
            assert result.status == checks.FAILED, f"{key} accepted wrong answer {index} (seed {seed})"
            assert "tried:" in result.message, result.message
            share = PARTLY.get((key, index), (0, 0))[SEEDS.index(seed)]
            assert result.fraction == pytest.approx(share), result.message
            assert result.points == round(result.max_points * result.fraction, 2) < result.max_points


# ---- replay: an answer that recorded the public check's inputs ----

FUNCTION_ANSWERS = [key for key, answer in REFERENCES.items() if callable(answer) and not isinstance(answer, type)]


@pytest.mark.parametrize("key", FUNCTION_ANSWERS)
def test_no_part_can_be_answered_from_a_table_of_the_public_inputs(key):
    """A submission can run the learner's check on the public seed with course_lib's answer, keep every input and
    result, and answer the grader from that table. Every part's inputs must come from the seed's generator, from
    enough possible values that a fresh secret misses the table: such an answer earns nothing (seen failing:
    00.3's all-black/all-white part had 8 possible inputs, 00.2's edge part 15, and a replaying answer got 0.2
    points in one grading of the batch suite)."""
    exercise, reference = checks.get(key), REFERENCES[key]
    table = {}

    def recording(*args):
        table[checks.encode(list(args))] = reference(*args)
        return table[checks.encode(list(args))]

    def replaying(*args):
        if checks.encode(list(args)) not in table:
            raise ValueError("these inputs are not in my table")
        return table[checks.encode(list(args))]

    assert checks.evaluate(exercise, checks.LocalAnswer(recording)).status == checks.PASSED
    for secret in range(2**40, 2**40 + 8):
        result = checks.evaluate(exercise, checks.LocalAnswer(replaying), secret)
        assert result.points == 0, f"secret {secret}: {[p.name for p in result.parts if p.passed]} passed"
