"""Exercise checks of notebook 06, faces: sampling, morphing and attribute vectors (see course_lib.checks)."""
from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.checks import Answer, CheckFailure, as_number, exercise, expect_close, expect_prediction, short
from course_lib.latent import lerp, slerp


@exercise("06.1", "The attribute vector", answer="attribute_vector", points=2,
          hint="The mean code of the faces with the attribute minus the mean code of the faces without it (means, "
               "not sums: the two groups differ in size); shape (d,).",
          more="boolean indexing with has_attribute and with its negation ~, and .mean over the face axis.")
def _check_attribute_vector(answer: Answer, rng: torch.Generator) -> None:
    z_big = torch.randn(50, 6, generator=rng)
    has_big = torch.rand(50, generator=rng) < 0.2  # unbalanced groups: sums or overall means give other answers
    has_big[:2] = torch.tensor([True, False])
    cases = [(torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [0.0, 4.0]]), torch.tensor([True, True, False, False])),
             (torch.tensor([[2.0], [0.0], [1.0]]), torch.tensor([False, True, False])),
             (z_big + 3.0, has_big)]
    for z, has in cases:
        tried = f"attribute_vector(z={short(z)}, has_attribute={short(has)})"
        got = answer(z, has, tried=tried)
        expected = z[has].mean(0) - z[~has].mean(0)
        flipped = isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.allclose(got, -expected)
        expect_close(got, expected, tried=tried, hint=(
            "You have the sign the wrong way round: with minus without, so that adding it adds the attribute."
            if flipped else "Return one vector of shape (d,): the difference of the two group means."))


@exercise("06.2", "Spherical interpolation", answer="slerp", points=2,
          hint="The angle ω between a and b: its cosine is their dot product divided by the product of their "
               "lengths. Then weight a by sin((1 − t)ω) / sin ω and b by sin(tω) / sin ω, as in the formula above.",
          more="torch.arccos and torch.sin, the dot product @ and the tensor method .norm().")
def _check_slerp(answer: Answer, rng: torch.Generator) -> None:
    e1, e2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    a, b = torch.randn(16, generator=rng), torch.randn(16, generator=rng)
    cases = [(e1, e2, 0.0), (e1, e2, 1.0), (e1, e2, 0.5), (e1, 2 * e2, 0.25), (a, b, 0.3), (a, 3 * b, 0.8),
             (torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 0.2]), 0.6)]
    for a, b, t in cases:
        tried = f"slerp(a={short(a)}, b={short(b)}, t={t})"
        got = answer(a, b, t, tried=tried)
        is_lerp = (isinstance(got, torch.Tensor) and got.shape == a.shape and 0 < t < 1
                   and torch.allclose(got, lerp(a, b, t), atol=1e-5))
        expect_close(got, slerp(a, b, t), tried=tried, atol=1e-5, hint=(
            "That is the straight line (lerp); slerp follows the arc, weighting a and b by sines of the angle."
            if is_lerp else "At t = 0 return a, at t = 1 return b; in between, a follows sin((1 - t) omega)."))


@exercise("06.3", "Apply a vector to a batch, at several strengths", answer="apply_vector", points=2,
          hint="Give z an axis of length 1 for the strengths, and the strengths axes of length 1 for the faces and "
               "the latent dimension, so that broadcasting forms every face plus every strength times the "
               "direction, shape (n, k, d), without a loop.",
          more="indexing with None inserts an axis of length 1; broadcasting does the rest.")
def _check_apply_vector(answer: Answer, rng: torch.Generator) -> None:
    cases = [(torch.zeros(1, 2), torch.tensor([1.0, -1.0]), torch.tensor([2.0])),
             (torch.randn(3, 4, generator=rng), torch.randn(4, generator=rng), torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])),
             (torch.randn(5, 8, generator=rng), torch.randn(8, generator=rng), torch.tensor([0.5, 1.5]))]
    for z, direction, strengths in cases:
        tried = f"apply_vector(z={short(z)}, direction={short(direction)}, strengths={short(strengths)})"
        got = answer(z, direction, strengths, tried=tried)
        expected = z[:, None, :] + strengths[None, :, None] * direction
        transposed = (isinstance(got, torch.Tensor) and got.shape == (len(strengths), len(z), z.shape[1])
                      and len(strengths) != len(z))
        expect_close(got, expected, tried=tried, hint=(
            "The shape is (n, k, d), faces first: out[i, j] is face i at strength j." if transposed else
            "Entry [i, j] is face i moved by strength j along the direction; check that each strength scales it."))


def _diversity(images: torch.Tensor) -> float:
    """The mean, over pairs of different images, of the root-mean-square difference of their values (float64)."""
    flat = images.flatten(1).double()
    n = len(flat)
    return (torch.cdist(flat, flat) / flat.shape[1] ** 0.5).sum().item() / (n * (n - 1))


@exercise("06.4", "How varied are the sampled faces?", answer="diversity", points=2,
          hint="For every pair of two different images, the root-mean-square difference of their values (the "
               "square root of the mean over all channels and pixels of the squared difference); return the "
               "average over all such pairs. An image compared with itself does not count.",
          more="flatten each image; torch.cdist gives the Euclidean distance between all pairs of rows (divide by "
               "the square root of the number of values per image); the n self-pairs sit on the diagonal.")
def _check_diversity(answer: Answer, rng: torch.Generator) -> None:
    base = torch.rand(1, 3, 4, 4, generator=rng)
    pair = torch.cat([base, (base + 0.3 * torch.randn(1, 3, 4, 4, generator=rng)).clamp(0, 1)])
    cases = [("4 copies of one face", base.repeat(4, 1, 1, 1)),
             ("2 colour images", pair),
             ("8 random colour images", torch.rand(8, 3, 4, 4, generator=rng)),
             ("5 binary grey images", torch.bernoulli(torch.full((5, 1, 6, 6), 0.3), generator=rng)),
             ("12 similar faces", (base + 0.05 * torch.randn(12, 3, 4, 4, generator=rng)).clamp(0, 1))]
    for what, images in cases:
        tried = f"diversity({what}, shape {tuple(images.shape)})"
        got = answer(images, tried=tried)
        expected = _diversity(images)
        n = len(images)
        value = as_number(got)
        hint = "The average over pairs of different images of sqrt(mean of the squared differences)."
        if value is not None and expected > 0 and math.isclose(value, expected * (n - 1) / n, rel_tol=1e-4):
            hint = "The n pairs of an image with itself (distance 0) are in your average: leave them out."
        elif value is not None and expected > 0 and math.isclose(value, expected * images[0].numel() ** 0.5,
                                                                 rel_tol=1e-4):
            hint = "That is the plain Euclidean distance; divide by the square root of the number of values."
        expect_close(got, expected, tried=tried, rtol=1e-4, atol=1e-6, hint=hint)


# Measured by tests/test_claims.py::test_nb06_the_typical_set_of_n0i_in_32_dimensions: over 10,000 pairs of draws
# from N(0, I) in 32 dimensions, the median of (length half-way along the straight line) / (mean length of the two
# ends) is 0.71 (1/sqrt(2), within 0.02).
MIDPOINT_RATIO, MIDPOINT_TOLERANCE = 0.71, 0.1


@exercise("06.5", "Predict: how long is the vector half-way along the straight line?", answer="my_midpoint_ratio",
          points=1,
          hint="Two independent draws from N(0, I) in 32 dimensions are about equally long and nearly at right "
               "angles to each other. How long is the average of two such vectors, compared with either of them?",
          more="Write one number (a ratio, such as 1.0 for 'just as long') before you run the cell that measures "
               "the lengths; Pythagoras helps for two perpendicular vectors of equal length.")
def _check_midpoint_ratio(answer: Answer, rng: torch.Generator) -> None:
    expect_prediction(answer, measured=MIDPOINT_RATIO, tolerance=MIDPOINT_TOLERANCE,
                      what="the length half-way along the straight line, as a fraction of the ends' length",
                      hint="Half the sum of two perpendicular vectors of length r: how long is it?")


def _rates(rng: torch.Generator, d: int, threshold: float, active: int) -> torch.Tensor:
    """Per-unit rates (d,) in nats: `active` units well above `threshold`, the others well below it, shuffled."""
    low = threshold * 0.5 * torch.rand(d - active, generator=rng)
    high = threshold * 3 + 2 * torch.rand(active, generator=rng)
    return torch.cat([low, high])[torch.randperm(d, generator=rng)]


def _truth(value: object) -> bool | None:
    """`value` as a bool if it is one (a Python or NumPy bool, a one-element bool tensor), else None."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.numel() == 1:
        return bool(value)
    return bool(value) if isinstance(value, (bool, np.bool_)) else None


@exercise("06.6", "Which latent units are active, and has the posterior collapsed?", answer="unit_activity",
          points=2,
          hint="A unit whose rate (its KL term, averaged over the data) is below the threshold tells the decoder "
               "almost nothing: its posterior is the prior for every image. Return the positions of those "
               "inactive units, smallest first, and whether the whole posterior has collapsed: no unit active.",
          more="A comparison with the threshold gives a bool tensor; .nonzero() (or a list comprehension with "
               "enumerate) gives the positions, .tolist() a list; .all() says whether every entry is True.")
def _check_unit_activity(answer: Answer, rng: torch.Generator) -> None:
    threshold = float(0.01 * (1 + torch.randint(0, 5, (1,), generator=rng)))
    cases = [(8, 3), (16, 9), (32, 1), (32, 0), (12, 12)]  # (units, active ones): a collapse and no collapse too
    for d, active in cases:
        rates = _rates(rng, d, threshold, active)
        tried = f"unit_activity(rates={short(rates.round(decimals=4), 240)}, threshold={threshold:g})"
        got = answer(rates, threshold, tried=tried)
        inactive = (rates < threshold).nonzero().flatten().tolist()
        expected = f"({inactive}, {active == 0})"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, f"a pair (inactive units, collapsed): {expected}", short(got))
        try:
            units = sorted(int(i) for i in torch.as_tensor(got[0]).flatten().tolist())
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, expected, short(got), "The first item: a list of unit positions.") from None
        if units != inactive:
            hint = "The inactive units are those whose rate is BELOW the threshold."
            if units == (rates >= threshold).nonzero().flatten().tolist():
                hint = "Those are the active units: the question asks for the inactive ones, rate below threshold."
            elif len(units) == d and len(inactive) < d:
                hint = "Return the positions of the inactive units only, not a True/False for every unit."
            raise CheckFailure(tried + " -> inactive units", inactive, units, hint)
        collapsed = _truth(got[1])
        if collapsed is None or collapsed != (active == 0):
            hint = "Collapsed means that NO unit is active (every unit inactive), not that some unit is inactive."
            raise CheckFailure(tried + " -> collapsed", active == 0, short(got[1]),
                               hint if collapsed is not None else "The second item: True or False.")
