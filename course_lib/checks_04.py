"""Exercise checks of notebook 04, the autoencoder (how to write one: see course_lib.checks)."""
from __future__ import annotations

from typing import Any, Callable

import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close, short


def _encoder_parameters(latent_dim: int) -> int:
    convs = (1 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 9 + 1) * 64
    return convs + (64 * 4 * 4 + 1) * latent_dim


def _probe_encoder(make: Callable, latent_dim: int, batches: list, a: torch.Tensor, b: torch.Tensor,
                   x: torch.Tensor) -> dict[str, Any]:
    """Runs next to the learner's Encoder: build it, count its parameters, run it; report plain facts only."""
    net = make(latent_dim)
    if not isinstance(net, torch.nn.Module):
        return {"module": False, "what": short(net)}
    report: dict[str, Any] = {"module": True, "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
                              "outputs": []}
    for batch in batches:
        try:
            z = net(batch)
        except Exception as err:
            report["outputs"].append({"raised": f"{type(err).__name__}: {err}"})
            return report
        report["outputs"].append(z.detach() if isinstance(z, torch.Tensor) else short(z))
    try:
        with torch.no_grad():
            report["affine"] = [net(v).detach() for v in (a, b, a + b, torch.zeros_like(a))]
        net.zero_grad()
        net(x).pow(2).sum().backward()
        report["no_gradient"] = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
    except Exception as err:
        report["error"] = f"{type(err).__name__}: {err}"
    return report


@exercise("04.1", "The encoder network", answer="Encoder", points=2,
          hint="nn.Sequential(Conv2d(1, 16, 3, stride=2, padding=1), ReLU, Conv2d(16, 32, ...), ReLU, "
               "Conv2d(32, 64, ...), ReLU, Flatten, Linear(64 * 4 * 4, latent_dim)).")
def _check_encoder(answer: Answer, rng: torch.Generator) -> None:
    for latent_dim in (2, 5):
        tried = f"Encoder(latent_dim={latent_dim})"
        batches = [torch.rand(batch, 1, 28, 28, generator=rng) for batch in (1, 3, 16)]
        a, b = torch.rand(2, 1, 1, 28, 28, generator=rng)
        report = answer.probe(_probe_encoder, latent_dim, batches, a, b, torch.rand(4, 1, 28, 28, generator=rng),
                              tried=tried)
        if not isinstance(report, dict) or not report.get("module"):
            raise CheckFailure(tried, "an nn.Module", report.get("what") if isinstance(report, dict) else report,
                               "Subclass nn.Module (or build an nn.Sequential).")
        count = report.get("trainable")
        if count != _encoder_parameters(latent_dim):
            raise CheckFailure(tried + ".parameters()", f"{_encoder_parameters(latent_dim):,} trainable numbers",
                               f"{count:,}" if isinstance(count, int) else count,
                               "Three 3x3 convolutions 1 -> 16 -> 32 -> 64 channels (stride 2, padding 1: "
                               "28 -> 14 -> 7 -> 4), then one Linear(64 * 4 * 4, latent_dim).")
        outputs = report.get("outputs")
        for batch, z in zip((1, 3, 16), outputs if isinstance(outputs, list) else []):
            where = f"{tried}(x of shape ({batch}, 1, 28, 28))"
            if isinstance(z, dict) and "raised" in z:
                raise CheckFailure(where, "a result", z["raised"])
            if not isinstance(z, torch.Tensor) or tuple(z.shape) != (batch, latent_dim):
                raise CheckFailure(where, f"shape ({batch}, {latent_dim})",
                                   tuple(z.shape) if isinstance(z, torch.Tensor) else z)
        if not isinstance(outputs, list) or len(outputs) != 3:
            raise CheckFailure(tried, "outputs for batches of 1, 3 and 16 images", "none")
        if "error" in report:
            raise CheckFailure(f"{tried}: running it again, then backward()", "a result", report["error"])
        za, zb, zab, z0 = report["affine"]
        if torch.allclose(za + zb - z0, zab, atol=1e-5):
            raise CheckFailure(f"{tried}: is encoder(a + b) = encoder(a) + encoder(b) - encoder(0)?",
                               "no: the encoder is nonlinear", "yes: it is an affine map",
                               "Put a ReLU after each convolution.")
        if torch.allclose(za, zb):
            raise CheckFailure(f"{tried} on two different images", "different latent points", "the same point")
        if report["no_gradient"] != []:
            raise CheckFailure(f"{tried}: gradients after backward()", "a gradient for every parameter",
                               "some parameters got none", "Use every layer you create in forward().")


@exercise("04.2", "The reconstruction loss in nats per image", answer="reconstruction_loss", points=2,
          hint="F.binary_cross_entropy_with_logits(logits, x, reduction='none'), then sum over every axis but "
               "the first (one number per image).")
def _check_reconstruction_loss(answer: Answer, rng: torch.Generator) -> None:
    extreme = torch.tensor([[-200.0, 200.0, -60.0, 60.0, 0.0, 3.0]]).view(1, 1, 2, 3)
    cases = [(torch.randn(4, 1, 28, 28, generator=rng) * 3, torch.rand(4, 1, 28, 28, generator=rng).round()),
             (torch.randn(2, 3, 5, 5, generator=rng), torch.rand(2, 3, 5, 5, generator=rng)),
             (extreme, torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.5, 1.0]]).view(1, 1, 2, 3))]
    for logits, x in cases:
        tried = f"reconstruction_loss(logits of shape {tuple(logits.shape)}, x of shape {tuple(x.shape)})"
        if logits is extreme:
            tried += " with logits as large as +-200"
        got = answer(logits, x, tried=tried)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        expected = expected.flatten(1).sum(1)
        try:
            got_t = torch.as_tensor(got, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, expected, got, "Return a tensor with one number per image.") from None
        hint = ""
        if not torch.isfinite(got_t).all():
            hint = ("log(sigmoid(l)) overflows for large logits: compute from the logits directly "
                    "(binary_cross_entropy_with_logits, or softplus).")
        elif got_t.shape == expected.shape and torch.allclose(got_t * x[0].numel(), expected, rtol=1e-3):
            hint = "Sum over the pixels (nats per image), do not average them."
        expect_close(got_t, expected, tried=tried, rtol=1e-4, atol=1e-3,
                     hint=hint or "One number per image: the binary cross-entropy summed over its pixels.")


@exercise("04.3", "Interpolate between two latent points", answer="interpolate", points=1,
          hint="t = torch.linspace(0, 1, steps); return (1 - t)[:, None] * z_a + t[:, None] * z_b.")
def _check_interpolate(answer: Answer, rng: torch.Generator) -> None:
    for d, steps in [(2, 5), (2, 2), (7, 11), (3, 1)]:
        z_a, z_b = torch.randn(d, generator=rng), torch.randn(d, generator=rng)
        tried = f"interpolate(z_a of shape ({d},), z_b of shape ({d},), steps={steps})"
        got = answer(z_a, z_b, steps, tried=tried)
        t = torch.linspace(0, 1, steps)[:, None]
        expect_close(got, (1 - t) * z_a + t * z_b, tried=tried, rtol=1e-4, atol=1e-5,
                     hint=f"Return {steps} points (steps, d), evenly spaced, the first z_a and the last z_b.")
