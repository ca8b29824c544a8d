"""Autoencoders and variational autoencoders for images, conv or MLP, built from shared blocks.

Images go in as float tensors `(batch, C, H, W)` with values in [0, 1] and come out the same way. uint8 images
(0..255) are refused with a message rather than guessed at: convert them with `x.float() / 255` (or
`ImageData.as_float()`). Inputs are moved to the model's device, and outputs stay there.

Every method checks the type, shape and dtype of its input (free: no pass over the data). `encode`,
`encode_distribution`, `forward` and `iwae_log_likelihood` also check that the values lie in [0, 1]; `loss` and
`loss_terms`, which training calls on every batch, do not: `train.fit` and `train.evaluate` check the whole data
once instead.

Losses use the binary cross-entropy computed from logits: per image, summed over pixels; over a batch, the mean of
those per-image sums. For binary images (pixels 0 or 1) it is the negative log-likelihood of independent Bernoulli
pixels, in nats, and the VAE's loss is the negative ELBO; for grey or colour values in [0, 1] it is a training
loss, not the log-probability of anything.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib import validate

KINDS = ("conv", "mlp")
DEFAULT_WIDTHS = {"conv": (32, 64, 128), "mlp": (512, 256)}


# ---- the small maths, as functions to teach with -------------------------------------------------------------

def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z = mean + exp(logvar / 2) * eps, eps ~ N(0, I), through which gradients reach mean and logvar.

    mean, logvar: (batch, d). generator: a torch.Generator on mean's device, for repeatable noise.
    """
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * eps


def gaussian_kl_per_unit(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) of each latent unit, in closed form, in nats: (batch, d) -> (batch, d)."""
    return 0.5 * (logvar.exp() + mean.pow(2) - 1.0 - logvar)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) in closed form, in nats: (batch, d) -> (batch,)."""
    return gaussian_kl_per_unit(mean, logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of images `x` in [0, 1] under Bernoulli(sigmoid(logits)), summed per image: (batch,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


# ---- building blocks shared by every model ----------------------------------------------------------------------

def _padding(height: int, width: int, depth: int) -> tuple[int, int, int, int]:
    """F.pad amounts (left, right, top, bottom) that make height and width multiples of 2**depth (28 -> 32)."""
    step = 2**depth
    extra_h, extra_w = -height % step, -width % step
    return extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2


class ConvEncoder(nn.Module):
    """(batch, C, H, W) -> (batch, out_features): zero-pad to a multiple of 2**len(widths), then one 3x3
    stride-2 convolution + ReLU per width (each halves the size), then a linear layer."""

    def __init__(self, image_shape: Sequence[int], widths: Sequence[int], out_features: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.pad = _padding(height, width, len(widths))
        layers: list[nn.Module] = []
        for out in widths:
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.ReLU()]
            channels = out
        self.convs = nn.Sequential(*layers)
        left, right, top, bottom = self.pad
        size = ((height + top + bottom) >> len(widths)) * ((width + left + right) >> len(widths))
        self.linear = nn.Linear(widths[-1] * size, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(F.pad(x, self.pad)).flatten(1))


class ConvDecoder(nn.Module):
    """(batch, latent_dim) -> logits (batch, C, H, W): a linear layer to a (widths[-1], H/2**n, W/2**n) grid,
    then 3x3 stride-2 transposed convolutions through the widths in reverse (each doubles the size) to C
    channels, cropped to (H, W). The mirror image of ConvEncoder."""

    def __init__(self, latent_dim: int, widths: Sequence[int], image_shape: Sequence[int]) -> None:
        super().__init__()
        channels, height, width = image_shape
        left, right, top, bottom = _padding(height, width, len(widths))
        self.crop = (top, top + height, left, left + width)
        self.grid = (widths[-1], (height + top + bottom) >> len(widths), (width + left + right) >> len(widths))
        self.linear = nn.Linear(latent_dim, math.prod(self.grid))
        layers: list[nn.Module] = [nn.ReLU()]
        outs = list(widths[-2::-1]) + [channels]
        for inp, out in zip(widths[::-1], outs):
            layers += [nn.ConvTranspose2d(inp, out, 3, stride=2, padding=1, output_padding=1), nn.ReLU()]
        self.deconvs = nn.Sequential(*layers[:-1])  # no ReLU on the logits

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        top, bottom, left, right = self.crop
        return self.deconvs(self.linear(z).view(-1, *self.grid))[:, :, top:bottom, left:right]


class MLPEncoder(nn.Module):
    """(batch, C, H, W) -> (batch, out_features): flatten, then Linear + ReLU per hidden width, then Linear."""

    def __init__(self, image_shape: Sequence[int], widths: Sequence[int], out_features: int) -> None:
        super().__init__()
        sizes = [math.prod(image_shape), *widths]
        layers: list[nn.Module] = [nn.Flatten()]
        for inp, out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(inp, out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """(batch, latent_dim) -> logits (batch, C, H, W): the hidden widths in reverse, then Linear to C*H*W."""

    def __init__(self, latent_dim: int, widths: Sequence[int], image_shape: Sequence[int]) -> None:
        super().__init__()
        sizes = [latent_dim, *widths[::-1]]
        layers: list[nn.Module] = []
        for inp, out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(inp, out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], math.prod(image_shape)),
                                 nn.Unflatten(1, tuple(image_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


BLOCKS = {"conv": (ConvEncoder, ConvDecoder), "mlp": (MLPEncoder, MLPDecoder)}


# ---- the models -------------------------------------------------------------------------------------------------

class _LatentImageModel(nn.Module):
    """What Autoencoder and VAE share: arguments, input checks, decode, config and parameter count."""

    loss_name = "binary cross-entropy, nats per image (sum over pixels, mean over images)"

    def __init__(self, kind: str, latent_dim: int, widths: Sequence[int] | None,
                 image_shape: Sequence[int], encoder_outputs: int) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} must be one of {', '.join(map(repr, KINDS))}.")
        latent_dim = validate.whole_number(latent_dim, "latent_dim", hint="e.g. 2 or 20")
        widths = DEFAULT_WIDTHS[kind] if widths is None else widths
        if isinstance(widths, int) or not widths:
            raise ValueError(f"widths={widths!r} must be a non-empty sequence of positive whole numbers, e.g. "
                             f"{DEFAULT_WIDTHS[kind]}.")
        widths = [validate.whole_number(w, f"widths[{i}]") for i, w in enumerate(widths)]
        if isinstance(image_shape, int) or len(image_shape) != 3:
            raise ValueError(f"image_shape={image_shape!r} must be (channels, height, width), e.g. (1, 28, 28).")
        image_shape = [validate.whole_number(s, f"image_shape[{i}]") for i, s in enumerate(image_shape)]
        self.kind, self.latent_dim = kind, latent_dim
        self.widths, self.image_shape = tuple(widths), tuple(image_shape)
        encoder, decoder = BLOCKS[kind]
        self.encoder = encoder(self.image_shape, self.widths, encoder_outputs)
        self.decoder = decoder(latent_dim, self.widths, self.image_shape)

    @property
    def config(self) -> dict:
        """The constructor's keyword arguments: `type(model)(**model.config)` builds the same architecture."""
        return dict(kind=self.kind, latent_dim=self.latent_dim, widths=self.widths, image_shape=self.image_shape)

    def num_parameters(self) -> int:
        """The number of trainable numbers in the model."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{args}, parameters={self.num_parameters():,}"

    def _images(self, x: torch.Tensor, *, values: bool = True) -> torch.Tensor:
        """x checked (float (batch, *image_shape); in [0, 1] when `values`) and moved to the model's device."""
        validate.images(x, "x", image_shape=self.image_shape, uint8=False, values=values)
        param = next(self.parameters())
        return x.to(device=param.device, dtype=param.dtype)

    def _latents(self, z: torch.Tensor) -> torch.Tensor:
        validate.latent_batch(z, "z", dim=self.latent_dim)
        param = next(self.parameters())
        return z.to(device=param.device, dtype=param.dtype)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (batch, latent_dim) -> pixel logits (batch, C, H, W); sigmoid(logits) are the Bernoulli means."""
        return self.decoder(self._latents(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (batch, latent_dim) -> images (batch, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))


class Autoencoder(_LatentImageModel):
    """A deterministic autoencoder: encode x to a latent point z, decode z back to an image.

    kind: "conv" (widths = channels of each stride-2 stage; the book's encoder is (32, 64, 128), with 28x28
    images zero-padded to 32x32 inside) or "mlp" (widths = hidden layer sizes, default (512, 256)).
    image_shape: (C, H, W), e.g. (1, 28, 28) for Fashion-MNIST or (3, 64, 64) for faces.
    """

    def __init__(self, kind: str = "conv", latent_dim: int = 2, widths: Sequence[int] | None = None,
                 image_shape: Sequence[int] = (1, 28, 28)) -> None:
        super().__init__(kind, latent_dim, widths, image_shape, encoder_outputs=latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, C, H, W) in [0, 1] -> latent points z: (batch, latent_dim)."""
        return self.encoder(self._images(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction decode(encode(x)): (batch, C, H, W) in [0, 1]."""
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss: binary cross-entropy summed over pixels, averaged over the batch (nats/image).

        x: (batch, C, H, W) in [0, 1]; its values are not checked here (train.fit checks the data once)."""
        x = self._images(x, values=False)
        return bernoulli_nll(self.decode_logits(self.encoder(x)), x).mean()


class VAE(_LatentImageModel):
    """A variational autoencoder: q(z|x) = N(mean(x), diag(exp(logvar(x)))), p(z) = N(0, I),
    p(x|z) = Bernoulli(decode(z)) per pixel. Same kinds, widths and image shapes as Autoencoder.

    beta weights the KL term in the loss (1.0 gives the negative ELBO, for binary images).
    free_bits: a floor, in nats, on the KL of each latent unit averaged over the batch (Kingma et al. 2016, "Improved
        Variational Inference with Inverse Autoregressive Flow"): the loss uses sum_d max(free_bits, KL_d), so a
        unit may carry up to free_bits nats at no cost and the encoder gains nothing by collapsing it onto the
        prior. 0 (the default) turns it off; the loss is then the beta-weighted negative ELBO.
    """

    loss_name = ("binary cross-entropy + beta * KL, nats per image (sum over pixels, mean over images; "
                 "the negative ELBO for binary pixels, beta = 1 and free_bits = 0)")

    def __init__(self, kind: str = "conv", latent_dim: int = 2, widths: Sequence[int] | None = None,
                 image_shape: Sequence[int] = (1, 28, 28), beta: float = 1.0, free_bits: float = 0.0) -> None:
        super().__init__(kind, latent_dim, widths, image_shape, encoder_outputs=2 * latent_dim)
        self.beta = validate.number(beta, "beta", at_least=0, hint="1.0 gives the ELBO")
        self.free_bits = validate.number(free_bits, "free_bits", at_least=0,
                                         hint="nats per latent unit, e.g. 0.5; 0 turns free bits off")

    @property
    def config(self) -> dict:
        return {**super().config, "beta": self.beta, "free_bits": self.free_bits}

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (batch, C, H, W) in [0, 1] -> (mean, logvar) of q(z|x), each (batch, latent_dim)."""
        mean, logvar = self.encoder(self._images(x)).chunk(2, dim=1)
        return mean, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of q(z|x): (batch, latent_dim), so latent maps look the same as for an Autoencoder."""
        return self.encode_distribution(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction from the mean latent point, decode(encode(x)): (batch, C, H, W) in [0, 1]."""
        return self.decode(self.encode(x))

    def loss_terms(self, x: torch.Tensor, beta: float | None = None) -> dict[str, torch.Tensor]:
        """Per-image means over the batch, in nats: reconstruction (BCE summed over pixels, one z sample),
        kl (closed form), and loss = reconstruction + beta * sum_d max(free_bits, KL_d), where KL_d is unit d's KL
        averaged over the batch (with free_bits = 0 that is reconstruction + beta * kl).

        x: (batch, C, H, W) in [0, 1]; its values are not checked here (train.fit checks the data once).
        beta: the KL weight of this call; None uses self.beta (train.fit's kl_warmup passes a rising one)."""
        x = self._images(x, values=False)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        reconstruction = bernoulli_nll(self.decoder(reparameterize(mean, logvar)), x).mean()
        kl_per_unit = gaussian_kl_per_unit(mean, logvar).mean(dim=0)
        kl = kl_per_unit.sum()
        penalty = kl_per_unit.clamp(min=self.free_bits).sum() if self.free_bits else kl
        return dict(loss=reconstruction + (self.beta if beta is None else beta) * penalty,
                    reconstruction=reconstruction, kl=kl)

    def loss(self, x: torch.Tensor, beta: float | None = None) -> torch.Tensor:
        """Negative ELBO with beta-weighted KL (and the free-bits floor, if set), per image in nats, averaged over
        the batch (one z per image). beta: as in loss_terms."""
        return self.loss_terms(x, beta)["loss"]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images (n, C, H, W) in [0, 1], decoded from z ~ N(0, I). z is drawn on the CPU (with
        `generator` if given), so the same seed gives the same samples on every device."""
        n = validate.whole_number(n, "n", hint="the number of samples")
        return self.decode(torch.randn(n, self.latent_dim, generator=generator))


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: torch.Tensor, *, k: int = 100, batch_size: int = 256,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) per image, in nats: (batch, C, H, W) in [0, 1] -> (batch,).

    log p(x) ~ log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(z|x), computed with logsumexp. k=1 gives a
    one-sample ELBO. Its expectation is a lower bound of log p(x) that rises towards it as k grows; one estimate is
    random and can exceed log p(x). Bernoulli p(x|z), so it is a log-probability only for binary x.
    generator: on x's device. The noise for all n * k samples is drawn first (n * k * latent_dim numbers), so the
    estimate does not depend on batch_size, which only sets how many decoder inputs go through the network at once.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE; got a {type(model).__name__}.")
    k = validate.whole_number(k, "k", hint="the number of importance samples, e.g. 100")
    batch_size = validate.whole_number(batch_size, "batch_size", hint="e.g. 256")
    x = model._images(x)
    noise = torch.randn(len(x) * k, model.latent_dim, generator=generator, device=x.device, dtype=x.dtype)
    chunk = max(1, batch_size // k)  # images per pass, so that chunk * k decoder inputs fit in one batch
    out = []
    for start in range(0, len(x), chunk):
        xb = x[start:start + chunk]
        mean, logvar = model.encoder(xb).chunk(2, dim=1)
        mean, logvar = mean.repeat_interleave(k, 0), logvar.repeat_interleave(k, 0)
        eps = noise[start * k:(start + len(xb)) * k]
        z = mean + torch.exp(0.5 * logvar) * eps
        log_q = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(1)
        log_prior = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
        log_px_z = -bernoulli_nll(model.decoder(z), xb.repeat_interleave(k, 0))
        log_w = (log_px_z + log_prior - log_q).view(-1, k)
        out.append(torch.logsumexp(log_w, dim=1) - math.log(k))
    return torch.cat(out)


# ---- the VAE's failure modes: rate, distortion and active units -------------------------------------------------

def _posterior_batches(model: VAE, x: torch.Tensor, batch_size: int):
    """(x batch, mean, logvar) for consecutive batches of x, on the model's device."""
    for xb in model._images(x).split(batch_size):
        yield (xb, *model.encoder(xb).chunk(2, dim=1))


@torch.no_grad()
def rate_distortion(model: VAE, x: torch.Tensor, *, batch_size: int = 1000,
                    generator: torch.Generator | None = None) -> tuple[float, float]:
    """(rate, distortion) of a VAE on images x, both in nats per image (means over the images).

    rate = KL(q(z|x) || N(0, I)), in closed form; averaged over the data it is an upper bound on the information
    the code carries about x (that information plus KL(q(z) || N(0, I)) of the aggregate posterior q(z)).
    distortion = -E_q(z|x) log p(x|z), Bernoulli pixels summed over the image, estimated with one z per image.
    For binary x, distortion + rate is the negative ELBO (one z), whatever beta the model was trained with.
    x: (n, C, H, W) float in [0, 1]. generator: on the model's device, for repeatable noise.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE; got a {type(model).__name__}.")
    batch_size = validate.whole_number(batch_size, "batch_size", hint="e.g. 1000")
    rate = distortion = 0.0
    for xb, mean, logvar in _posterior_batches(model, x, batch_size):
        rate += gaussian_kl(mean, logvar).sum().item()
        distortion += bernoulli_nll(model.decoder(reparameterize(mean, logvar, generator)), xb).sum().item()
    return rate / len(x), distortion / len(x)


@torch.no_grad()
def unit_activity(model: VAE, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The variance over the images x of each latent unit's posterior mean, Cov_x(E_q(u|x)[u]): (latent_dim,).

    A unit whose mean hardly moves with x tells the decoder nothing about x: its q(u|x) is the same for every
    image, and if the KL term pushed it there, it is the prior (posterior collapse). x: (n, C, H, W) float in [0, 1],
    n >= 2. The result is on the CPU.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE; got a {type(model).__name__}.")
    batch_size = validate.whole_number(batch_size, "batch_size", hint="e.g. 1000")
    if isinstance(x, torch.Tensor) and len(x) < 2:
        raise ValueError(f"unit_activity needs at least 2 images to measure a variance; got {len(x)}.")
    means = torch.cat([mean for _, mean, _ in _posterior_batches(model, x, batch_size)])
    return means.var(dim=0).cpu()


def active_units(model: VAE, images: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent units are active on `images`: unit u is active if the variance over the images of its
    posterior mean, Cov_x(E_q(u|x)[u]), exceeds `threshold` (Burda et al. 2016, "Importance Weighted
    Autoencoders", section 5.2, with threshold 0.01). images: (n, C, H, W) float in [0, 1], n >= 2."""
    threshold = validate.number(threshold, "threshold", above=0, hint="Burda et al. use 0.01")
    return int((unit_activity(model, images) > threshold).sum())
