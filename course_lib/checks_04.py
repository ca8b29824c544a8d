"""Exercise checks of notebook 04, the autoencoder (how to write one: see course_lib.checks)."""
from __future__ import annotations

from typing import Any, Callable

import torch

from course_lib.checks import (Answer, CheckFailure, as_number, exercise, expect_close, expect_prediction, ks_distance,
                               real_tensor, short)


ENCODER_LAYERS = [("Conv2d", (16, 14, 14)), ("Conv2d", (32, 7, 7)), ("Conv2d", (64, 4, 4)), ("Linear", None)]


def _probe_encoder(make: Callable, latent_dim: int, batches: list, x: torch.Tensor, seed: int) -> dict[str, Any]:
    """Runs next to the learner's Encoder: build it, run it; report plain facts only.

    "layers": each nn.Conv2d and nn.Linear in the order the forward pass calls them, with its output shape; on x,
    every such layer's output is replaced by standard-normal numbers (drawn with `seed`) and "between" holds, for
    each layer, those numbers and what the next layer received instead (the last layer: what the network returned).
    """
    net = make(latent_dim)
    if not isinstance(net, torch.nn.Module):
        return {"module": False, "what": short(net)}
    report: dict[str, Any] = {"module": True, "outputs": []}
    for batch in batches:
        try:
            z = net(batch)
        except Exception as err:
            report["outputs"].append({"raised": f"{type(err).__name__}: {err}"})
            return report
        report["outputs"].append(z.detach() if isinstance(z, torch.Tensor) else short(z))
    calls: list[dict[str, Any]] = []
    noise = torch.Generator().manual_seed(seed)

    def replace(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        injected = torch.randn(output.shape, generator=noise, dtype=output.dtype)
        kind = "Conv2d" if isinstance(module, torch.nn.Conv2d) else "Linear"
        calls.append({"kind": kind, "shape": list(output.shape[1:]), "input": inputs[0].detach(),
                      "injected": injected})
        return injected

    hooks = [m.register_forward_hook(replace) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            final = net(x)
        report["layers"] = [{"kind": c["kind"], "shape": c["shape"]} for c in calls]
        received = [c["input"] for c in calls[1:]] + [final.detach()]
        report["between"] = [[c["injected"], after] for c, after in zip(calls, received)]
    except Exception as err:
        report["error"] = f"{type(err).__name__}: {err}"
    finally:
        for hook in hooks:
            hook.remove()
    if "error" not in report:
        try:
            net.zero_grad()
            net(x).pow(2).sum().backward()
            report["no_gradient"] = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        except Exception as err:
            report["error"] = f"{type(err).__name__}: {err}"
    return report


def _unexplained_by_affine(before: torch.Tensor, after: torch.Tensor) -> float:
    """The share of the variance of `after` that no elementwise affine map of `before` explains: each value is fitted
    as a · before + b, with a and b per position, over the batch. 0 for an identity, a BatchNorm or nothing at all
    between two layers; about a quarter for a ReLU on standard-normal numbers."""
    x, y = before.flatten(1).double(), after.flatten(1).double()
    x, y = x - x.mean(0), y - y.mean(0)
    slope = (x * y).sum(0) / (x * x).sum(0).clamp_min(1e-300)
    total = (y * y).sum()
    return float(((y - slope * x) ** 2).sum() / total) if total > 0 else 0.0


def _layer_list(layers: list) -> str:
    return ", ".join(f"{layer['kind']} -> {tuple(layer['shape'])}" for layer in layers) or "no Conv2d or Linear layer"


@exercise("04.1", "The encoder network", answer="Encoder", points=2,
          hint="Three 3 × 3 convolutions with stride 2 and padding 1 take 1 → 16 → 32 → 64 channels and "
               "28 → 14 → 7 → 4 pixels, each followed by a ReLU; then flatten the 64 × 4 × 4 numbers and map them "
               "with one linear layer to latent_dim numbers.",
          more="nn.Sequential, nn.Conv2d (in channels, out channels, kernel size, then stride= and padding=), "
               "nn.ReLU, nn.Flatten and nn.Linear.")
def _check_encoder(answer: Answer, rng: torch.Generator) -> None:
    for latent_dim in (2, 5):
        tried = f"Encoder(latent_dim={latent_dim})"
        batches = [torch.rand(batch, 1, 28, 28, generator=rng) for batch in (1, 3, 16)]
        seed = int(torch.randint(0, 2**31, (1,), generator=rng))
        report = answer.probe(_probe_encoder, latent_dim, batches, torch.rand(16, 1, 28, 28, generator=rng), seed,
                              tried=tried)
        if not isinstance(report, dict) or not report.get("module"):
            raise CheckFailure(tried, "an nn.Module", report.get("what") if isinstance(report, dict) else report,
                               "Subclass nn.Module (or build an nn.Sequential).")
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
        layers = report["layers"]
        want = [{"kind": kind, "shape": list(shape or (latent_dim,))} for kind, shape in ENCODER_LAYERS]
        if layers != want:
            raise CheckFailure(f"{tried}: the Conv2d and Linear layers it calls, with their outputs' shapes",
                               _layer_list(want), _layer_list(layers),
                               "Three 3x3 convolutions 1 -> 16 -> 32 -> 64 channels, stride 2 and padding 1 "
                               "(28 -> 14 -> 7 -> 4 pixels), then one linear layer from the 1024 flattened numbers "
                               "to latent_dim.")
        between = [_unexplained_by_affine(before, after) for before, after in report["between"]]
        for i, share in enumerate(between[:3]):
            if share < 1e-3:
                raise CheckFailure(f"{tried}: standard-normal numbers in place of convolution {i + 1}'s output, "
                                   f"then what the next layer receives", "a nonlinear function of them (a ReLU)",
                                   "an affine function of them: no nonlinearity after this convolution",
                                   "Put a ReLU after each of the three convolutions.")
        if between[3] > 1e-6:
            raise CheckFailure(f"{tried}: standard-normal numbers in place of the linear layer's output, then what "
                               "the encoder returns", "the same numbers (latent points may take any real value)",
                               f"a nonlinear function of them ({between[3]:.0%} of their variance changed)",
                               "Return the linear layer's output as it is: a ReLU or a sigmoid after it confines "
                               "the codes (a ReLU makes them never negative).")
        if report["no_gradient"] != []:
            raise CheckFailure(f"{tried}: gradients after backward()", "a gradient for every parameter",
                               "some parameters got none", "Use every layer you create in forward().")


@exercise("04.2", "The reconstruction loss per image (binary cross-entropy summed over pixels)",
          answer="reconstruction_loss", points=2,
          hint="The binary cross-entropy of every pixel, computed from the logits (the log of a sigmoid overflows "
               "for large logits), summed over all the pixels of each image: one number per image.",
          more="F.binary_cross_entropy_with_logits with reduction='none' keeps one value per pixel; then flatten "
               "each image and .sum over its pixels.")
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
            got_t = real_tensor(got, torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, expected, got, "Return a tensor with one number per image.") from None
        hint = ""
        if not torch.isfinite(got_t).all():
            hint = ("log(sigmoid(l)) overflows for large logits: compute from the logits directly "
                    "(binary_cross_entropy_with_logits, or softplus).")
        elif got_t.shape == expected.shape and torch.allclose(got_t * x[0].numel(), expected, rtol=1e-3):
            hint = "Sum over the pixels, do not average them: one loss per image."
        expect_close(got_t, expected, tried=tried, rtol=1e-4, atol=1e-3,
                     hint=hint or "One number per image: the binary cross-entropy summed over its pixels.")


@exercise("04.3", "Interpolate between two latent points", answer="interpolate", points=1,
          hint="Take `steps` evenly spaced fractions t from start to end, both ends included; at fraction t the "
               "point is the first point weighted by one minus t plus the second weighted by t; one row per step.",
          more="torch.linspace for the fractions, and broadcasting: a column of fractions, shape (steps, 1), times "
               "a row (d,) gives (steps, d).")
def _check_interpolate(answer: Answer, rng: torch.Generator) -> None:
    for d, steps in [(2, 5), (2, 2), (7, 11), (3, 1)]:
        z_a, z_b = torch.randn(d, generator=rng), torch.randn(d, generator=rng)
        tried = f"interpolate(z_a of shape ({d},), z_b of shape ({d},), steps={steps})"
        got = answer(z_a, z_b, steps, tried=tried)
        t = torch.linspace(0, 1, steps)[:, None]
        expect_close(got, (1 - t) * z_a + t * z_b, tried=tried, rtol=1e-4, atol=1e-5,
                     hint=f"Return {steps} points (steps, d), evenly spaced, the first z_a and the last z_b.")


# ---- autoencoder sampling, and why it fails ---------------------------------------------------------------------

def _codes(rng: torch.Generator, n: int, d: int) -> torch.Tensor:
    """Latent codes (n, d) in three clusters of different sizes, with a different range on each axis."""
    centres = torch.randn(3, d, generator=rng) * 4
    spread = torch.tensor([0.3, 0.8, 1.5])[torch.randint(0, 3, (n,), generator=rng)]
    which = torch.randint(0, 3, (n,), generator=rng)
    z = centres[which] + spread[:, None] * torch.randn(n, d, generator=rng)
    return z * torch.linspace(1.0, 3.0, d) + torch.randn(d, generator=rng) * 5


@exercise("04.4", "Autoencoder sampling: random points in the box of the codes", answer="sample_box", points=2,
          hint="Find the smallest and the largest value of each latent coordinate over the training codes, then "
               "draw every coordinate of every new point uniformly between its own two limits, independently: n "
               "fresh points, shape (n, d), different on every call.",
          more=".min and .max over the batch axis (they return values and indices), and torch.rand for uniform "
               "numbers in [0, 1), which you scale and shift per coordinate.")
def _check_sample_box(answer: Answer, rng: torch.Generator) -> None:
    for d in (2, 3):
        z_train = _codes(rng, 500, d)
        low, high = z_train.min(0).values, z_train.max(0).values
        width = high - low
        n = 20000
        tried = f"sample_box(z_train of shape (500, {d}) with ranges {short(torch.stack([low, high], 1))}, n={n})"
        got = answer(z_train, n, tried=tried)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (n, d):
            raise CheckFailure(tried, f"a tensor of shape ({n}, {d})",
                               f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else short(got),
                               "One row per new latent point, one column per latent coordinate.")
        z = got.double()
        low, high, width = low.double(), high.double(), width.double()
        if bool(((z < low - 1e-5 * width) | (z > high + 1e-5 * width)).any()):
            raise CheckFailure(tried, "every point inside the box [min, max] of each coordinate",
                               f"{int(((z < low) | (z > high)).any(1).sum())} points outside it",
                               "Use each coordinate's own smallest and largest training value as its limits.")
        copies = (torch.cdist(z[:2000], z_train.double()).min(1).values < 1e-6).double().mean()
        if copies > 0.01:
            raise CheckFailure(tried, "new latent points", f"{copies:.0%} of them are training codes",
                               "Draw fresh points in the box; do not pick codes the encoder already made.")
        for j in range(d):  # each coordinate's distribution against the uniform one on its interval
            gap = ks_distance(z[:, j], lambda v: ((v - low[j]) / width[j]).clamp(0, 1))
            if gap > 0.025:
                raise CheckFailure(tried + f", then the distribution of coordinate {j} against the uniform one "
                                   f"on [{low[j]:.3g}, {high[j]:.3g}]",
                                   "a uniform distribution (largest gap between the two CDFs at most 0.025)",
                                   f"a largest gap of {gap:.3f}", "Uniform between the limits: every part of the "
                                   "box equally likely, all the way to its edges.")
        if d > 1 and torch.corrcoef(z.T)[0, 1].abs() > 0.05:
            raise CheckFailure(tried + ", then the correlation of the first two coordinates", "about 0",
                               f"{torch.corrcoef(z.T)[0, 1]:.2f}", "Draw each coordinate independently.")
    tried = "sample_box(z_train, n=5) twice"
    if torch.equal(torch.as_tensor(answer(z_train, 5, tried=tried)), torch.as_tensor(answer(z_train, 5, tried=tried))):
        raise CheckFailure(tried, "different points on each call", "the same points twice",
                           "Sampling must be random: draw new numbers on every call.")


def _nearest(points: torch.Tensor, z_train: torch.Tensor) -> torch.Tensor:
    return torch.cdist(points.double(), z_train.double()).min(1).values


@exercise("04.5", "How many random latent points land in a gap?", answer="gap_share", points=2,
          hint="How far is each test code from its nearest training code? The 95th percentile of those distances "
               "says how far real, unseen images may lie. A random point farther than that from every training "
               "code sits in a gap: return the share of the random points that do.",
          more="torch.cdist for the distances, .min over the training axis, torch.quantile for the percentile "
               "(its default linear interpolation), and the mean of a comparison turned into floats.")
def _check_gap_share(answer: Answer, rng: torch.Generator) -> None:
    for d in (2, 2, 3):
        z_train, z_test = _codes(rng, 600, d).split([500, 100])
        low, high = z_train.min(0).values, z_train.max(0).values
        z_random = low + (high - low) * torch.rand(400, d, generator=rng)
        tried = f"gap_share(z_train (500, {d}), z_test (100, {d}), z_random (400, {d}))"
        got = answer(z_train, z_test, z_random, tried=tried)
        test_distance, random_distance = _nearest(z_test, z_train), _nearest(z_random, z_train)
        # percentile conventions differ between libraries: any threshold between the two order statistics around
        # the 95% position is accepted, so the share may lie anywhere between the two shares they give
        ordered = test_distance.sort().values
        position = 0.95 * (len(ordered) - 1)
        lower, upper = ordered[int(position)], ordered[min(int(position) + 1, len(ordered) - 1)]
        most = (random_distance > lower).double().mean().item()
        least = (random_distance > upper).double().mean().item()
        value = as_number(got)
        if value is not None and least - 1e-6 <= value <= most + 1e-6:
            continue
        expected = (random_distance > test_distance.quantile(0.95)).double().mean().item()
        hint = ("The share of the random points (between 0 and 1) whose nearest training code is farther than "
                "95% of the test codes' nearest training codes.")
        if value is not None and abs(value - (test_distance > test_distance.quantile(0.95)).double().mean()) < 1e-6:
            hint = "That is the share of TEST points in gaps; the question is about the random points."
        elif value is not None and abs(value - 0.05) < 0.01:
            hint = ("About 5% is what the random points' own 95th percentile gives: take the threshold from the "
                    "test codes' distances.")
        raise CheckFailure(tried, f"{expected:.4f}", short(got), hint)



# Measured by tests/test_claims.py::test_nb05_vae_prior_draws_fall_in_gaps_far_less_often_than_ae_box_draws: 74% of
# 2,000 points drawn uniformly in the box of the pretrained 2-D autoencoder's codes lie in gaps (notebook 05's recap).
AE_BOX_GAP_SHARE, GAP_TOLERANCE = 0.74, 0.15


@exercise("04.6", "Predict: how much of the autoencoder's box is gaps?", answer="my_gap_share", points=1,
          hint="Look at the latent map: the training codes form clusters of different shapes and sizes, and the box "
               "spans from the most extreme code to the most extreme code on each axis. What share of that "
               "rectangle is covered by codes?",
          more="Write one number between 0 and 1 before you run the cell that measures the gaps; you are graded for "
               "a reasoned expectation, not for code.")
def _check_gap_share_prediction(answer: Answer, rng: torch.Generator) -> None:
    expect_prediction(answer, measured=AE_BOX_GAP_SHARE, tolerance=GAP_TOLERANCE,
                      what="the share of uniform points in the pretrained 2-D autoencoder's box that land in gaps",
                      hint="Picture the box around the whole latent map, corners included: where are the codes?")
