"""Exercise checks of notebook 06, faces: morphing and attribute vectors (how to write one: course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import Answer, exercise, expect_close, short
from course_lib.latent import lerp, slerp


@exercise("06.1", "The attribute vector", answer="attribute_vector", points=2,
          hint="z[has_attribute].mean(0) - z[~has_attribute].mean(0): the mean code with the attribute minus the "
               "mean code without (means, not sums, since the groups differ in size).")
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
          hint="omega = arccos(a·b / (|a| |b|)); return sin((1 - t) omega) / sin(omega) * a + "
               "sin(t omega) / sin(omega) * b.")
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
          hint="z[:, None, :] + strengths[None, :, None] * direction (broadcasting) gives out[i, j] = "
               "z[i] + strengths[j] * direction, of shape (n, k, d).")
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
            "out[i, j] = z[i] + strengths[j] * direction; check that each strength scales the direction."))
