import math

import numpy as np
import pytest
import torch

from course_lib import validate


def test_whole_numbers():
    assert validate.whole_number(3, "n") == 3 and type(validate.whole_number(np.int64(3), "n")) is int
    assert validate.whole_number(0, "epochs", minimum=0) == 0 and validate.whole_number(32, "scale", maximum=32) == 32
    for bad, message in [(0, "n=0 must be a positive whole number"), (2.0, "n=2.0 must be"), (True, "n=True must be"),
                         ("3", "n='3' must be"), (None, "n=None must be"), (-1, "n=-1")]:
        with pytest.raises(ValueError, match=message):
            validate.whole_number(bad, "n")
    with pytest.raises(ValueError, match="n=1 must be a whole number, at least 2; the number of points"):
        validate.whole_number(1, "n", minimum=2, hint="the number of points")
    with pytest.raises(ValueError, match="scale=33 must be a whole number from 1 to 32"):
        validate.whole_number(33, "scale", maximum=32)


def test_numbers_in_a_range():
    assert validate.number(1e-3, "lr", above=0) == 1e-3 and validate.number(0, "beta", at_least=0) == 0.0
    assert validate.number(np.float32(0.5), "threshold", above=0, below=1) == 0.5
    for bad in (0, -1.0, float("nan"), float("inf"), True, "0.1", None):
        with pytest.raises(ValueError, match=f"lr={bad!r} must be a finite number > 0; e.g. 1e-3"):
            validate.number(bad, "lr", above=0, hint="e.g. 1e-3")
    with pytest.raises(ValueError, match="threshold=1 must be a finite number > 0 and < 1"):
        validate.number(1, "threshold", above=0, below=1)
    with pytest.raises(ValueError, match="beta=-0.5 must be a finite number >= 0"):
        validate.number(-0.5, "beta", at_least=0)


def test_intervals():
    assert validate.interval((-3, 3), "value_range") == (-3.0, 3.0)
    assert validate.interval(torch.tensor([0.0, 1.0]), "extent") == (0.0, 1.0)
    for bad in ((3, -3), (1, 1), (0, math.inf), (1, 2, 3), 5, ("a", "b")):
        with pytest.raises(ValueError, match="value_range="):
            validate.interval(bad, "value_range")


def test_values_in_the_unit_interval_up_to_float_rounding():
    validate.in_unit_interval(torch.tensor([0.0, 1.0 + 1e-7, -1e-7]), "x")  # (1 - t) a + t b can overshoot by 1e-7
    validate.in_unit_interval(torch.zeros(0), "x")
    for bad, message in [(torch.tensor([0.5, 1.001]), r"x must hold values in \[0, 1\]; got values from 0.5 to 1.001"),
                         (torch.tensor([0.5, float("nan")]), "NaN"),
                         (torch.tensor([0.0, float("inf")]), "to inf"),
                         (torch.tensor([-1.0, 1.0]), r"\(x \+ 1\) / 2")]:
        with pytest.raises(ValueError, match=message):
            validate.in_unit_interval(bad, "x")


def test_image_batches():
    x = torch.rand(4, 1, 28, 28)
    assert validate.images(x, "x") is x and validate.images(x, "x", image_shape=(1, 28, 28)) is x
    pixels = (x * 255).to(torch.uint8)
    assert validate.images(pixels, "x") is pixels  # uint8 passes unchanged (and unread)
    assert validate.images(x * 3, "x", values=False) is not None  # structure only: no pass over the values
    cases = [
        (x.tolist(), {}, TypeError, "x must be a torch.Tensor .* got a list. Convert with torch.as_tensor"),
        (x[0], {}, ValueError, r"x must have shape \(n, C, H, W\) with n >= 1; got \(1, 28, 28\)"),
        (x[:0], {}, ValueError, "n >= 1"),
        (x[0], {"image_shape": (1, 28, 28)}, ValueError, r"\(n, 1, 28, 28\).*x.unsqueeze\(0\)"),
        (x.permute(0, 2, 3, 1), {"image_shape": (1, 28, 28)}, ValueError, r"x.permute\(0, 3, 1, 2\)"),
        (x.flatten(1), {"image_shape": (1, 28, 28)}, ValueError, r"x.view\(-1, 1, 28, 28\)"),
        (x[:, 0], {"image_shape": (1, 28, 28)}, ValueError, r"x.unsqueeze\(1\)"),
        (pixels, {"uint8": False}, ValueError, r"uint8 pixels .* x.float\(\) / 255"),
        (x.long(), {}, ValueError, "dtype torch.int64; images must be float in \\[0, 1\\] or uint8"),
        (x * 255, {}, ValueError, r"values in \[0, 1\]"),
    ]
    for bad, options, error, message in cases:
        with pytest.raises(error, match=message):
            validate.images(bad, "x", **options)


def test_latent_points():
    z = validate.latent_point(np.array([[1, 2, 3]]), "z", dim=3)
    assert z.dtype == torch.float32 and z.shape == (3,) and z.tolist() == [1.0, 2.0, 3.0]
    for bad, message in [(torch.zeros(2, 3), r"z must be one latent point of shape \(3,\) or \(1, 3\); got \(2, 3\)"),
                         (torch.zeros(4), "got \\(4,\\)"), (torch.tensor([0.0, math.nan, 1.0]), "NaN")]:
        with pytest.raises(ValueError, match=message):
            validate.latent_point(bad, "z", dim=3)
    batch = torch.zeros(5, 2)
    assert validate.latent_batch(batch, "z", dim=2) is batch
    for bad, message in [(torch.zeros(5, 3), r"z must be a tensor of shape \(n, 2\); got \(5, 3\)"),
                         ([[0.0, 0.0]], "got a list"), (torch.zeros(5, 2, dtype=torch.long), r"z.float\(\)")]:
        with pytest.raises(ValueError, match=message):
            validate.latent_batch(bad, "z", dim=2)
