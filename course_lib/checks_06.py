"""Exercise checks of notebook 06, faces: sampling, morphing and attribute vectors (see course_lib.checks)."""
from __future__ import annotations

import math

import torch

from course_lib.checks import Answer, as_number, exercise, expect_close, short
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
