"""Exercise checks: instant feedback for learners, and the same checks grade submitted notebooks.

A graded cell ends with `check("02.1", gaussian_log_likelihood)`. The check calls the learner's answer on several
inputs and says, in one short message, that it passed, that it is not done yet, or what was tried, what was
expected, what came back, and a hint. Each exercise is registered below with `@exercise`, in a section per notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

PASSED, NOT_DONE, FAILED = "passed", "not done yet", "failed"


class CheckFailure(Exception):
    """Raised by an exercise's test: what was tried, what was expected, what came back."""

    def __init__(self, tried: str, expected: Any, got: Any, hint: str = "") -> None:
        super().__init__(tried)
        self.tried, self.expected, self.got, self.hint = tried, expected, got, hint


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    points: int
    test: Callable[[Any], None]
    hint: str


@dataclass(frozen=True)
class Result:
    """The outcome of one check; `message` is what the learner reads."""

    key: str
    status: str
    message: str
    points: int
    max_points: int

    @property
    def passed(self) -> bool:
        return self.status == PASSED


class ExerciseNotPassed(Exception):
    """Raised by `check` so that "run all" stops at an unfinished exercise; Jupyter shows only the message."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [self.result.message]


EXERCISES: dict[str, Exercise] = {}


def exercise(key: str, title: str, *, points: int = 1, hint: str = "") -> Callable:
    """Register the decorated function as the test of exercise `key`; it raises CheckFailure on a wrong answer."""

    def register(test: Callable[[Any], None]) -> Callable[[Any], None]:
        if key in EXERCISES:
            raise ValueError(f"exercise key {key!r} is registered twice")
        EXERCISES[key] = Exercise(key, title, points, test, hint)
        return test

    return register


def _short(value: Any, limit: int = 160) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        text = f"tensor of shape {tuple(value.shape)}" if value.numel() > 8 else repr(value)
    elif isinstance(value, np.ndarray):
        text = f"array of shape {value.shape}" if value.size > 8 else repr(value)
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_check(key: str, answer: Any) -> Result:
    """Run exercise `key`'s test on `answer` and return the Result; never raises for a wrong answer."""
    if key not in EXERCISES:
        known = ", ".join(sorted(EXERCISES)) or "none"
        raise KeyError(f"There is no exercise {key!r}. Known exercises: {known}.")
    return evaluate(EXERCISES[key], answer)


def evaluate(ex: Exercise, answer: Any) -> Result:
    """Run the test of exercise `ex` on `answer` (run_check without the registry lookup; the grader uses it)."""
    key = ex.key
    try:
        ex.test(answer)
    except NotImplementedError:
        message = f"[{key}] {ex.title}: not done yet. Replace the `raise NotImplementedError` with your code."
        return Result(key, NOT_DONE, message + (f"\nHint: {ex.hint}" if ex.hint else ""), 0, ex.points)
    except CheckFailure as fail:
        hint = fail.hint or ex.hint
        message = (f"[{key}] {ex.title}: not right yet.\n  tried:    {fail.tried}\n"
                   f"  expected: {_short(fail.expected)}\n  got:      {_short(fail.got)}")
        return Result(key, FAILED, message + (f"\n  hint:     {hint}" if hint else ""), 0, ex.points)
    except Exception as err:  # the learner's code raised: report it in one line, not a traceback
        message = (f"[{key}] {ex.title}: your code raised {type(err).__name__}: {_short(str(err))}"
                   + (f"\n  hint:     {ex.hint}" if ex.hint else ""))
        return Result(key, FAILED, message, 0, ex.points)
    return Result(key, PASSED, f"[{key}] {ex.title}: passed ({ex.points}/{ex.points}).", ex.points, ex.points)


def check(key: str, answer: Any) -> Result:
    """Check `answer` for exercise `key`: print "passed", or raise a short ExerciseNotPassed message."""
    result = run_check(key, answer)
    if not result.passed:
        raise ExerciseNotPassed(result)
    print(result.message)
    return result


# ---- helpers for writing tests --------------------------------------------------------------------------------

def call(answer: Callable, *args: Any, tried: str) -> Any:
    """Call the learner's `answer(*args)`; NotImplementedError passes through, other errors name the input."""
    if not callable(answer):
        raise CheckFailure(tried, "a function", answer, "Pass the function itself, without calling it.")
    try:
        return answer(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailure(tried, "a result", f"{type(err).__name__}: {err}") from err


def expect_close(got: Any, expected: Any, *, tried: str, hint: str = "", rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    """Raise CheckFailure unless `got` matches `expected` (numbers, arrays or tensors) in shape and value."""
    try:
        got_array = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailure(tried, expected, got, hint or "The answer should be a number, array or tensor.")
    want = np.asarray(expected.detach().cpu() if isinstance(expected, torch.Tensor) else expected,
                      dtype=np.float64)
    if got_array.shape != want.shape:
        raise CheckFailure(tried, f"shape {want.shape}", f"shape {got_array.shape}",
                           hint or "Check which axis you reduce over.")
    wrong = np.argwhere(~np.isclose(got_array, want, rtol=rtol, atol=atol, equal_nan=False))
    if len(wrong) and want.size > 8:  # too big to print: show where the first difference is
        at = tuple(int(i) for i in wrong[0])
        raise CheckFailure(tried, f"{_short(expected)}, with {want[at]:.4g} at index {at}",
                           f"{_short(got)}, with {got_array[at]:.4g} at index {at}", hint)
    if len(wrong):
        raise CheckFailure(tried, expected, got, hint)


# ---- notebook exercises are registered below, one section per notebook --------------------------------------

# ---- notebook 00: warm-up ----

def _warmup_images(n: int, height: int = 4, width: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, height, width, generator=torch.Generator().manual_seed(seed))


@exercise("00.1", "the mean image of one class", points=2,
          hint="select the images whose label equals `label`, then average over the batch axis keeping (1, H, W)")
def _test_mean_image(answer: Callable) -> None:
    images, labels = _warmup_images(6, 3, 5), torch.tensor([0, 1, 0, 2, 0, 1])
    for label in (0, 1, 2):
        tried = f"mean_image(images of shape (6, 1, 3, 5), labels={labels.tolist()}, label={label})"
        got = call(answer, images.clone(), labels.clone(), label, tried=tried)
        expect_close(got, images[labels == label].mean(dim=0), tried=tried)
    images = _warmup_images(4, 28, 28, seed=1)
    tried = "mean_image(4 images of shape (1, 28, 28), labels=[7, 7, 7, 7], label=7)"
    expect_close(call(answer, images.clone(), torch.full((4,), 7), 7, tried=tried), images.mean(dim=0), tried=tried)
    tried = "mean_image(images, labels=[0, 1, 0, 2, 0, 1], label=5), a class with no images"
    try:
        got = answer(_warmup_images(6), torch.tensor([0, 1, 0, 2, 0, 1]), 5)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as err:
        got = f"{type(err).__name__}: {err}"
    raise CheckFailure(tried, "a ValueError saying that no image has label 5", got,
                       "an empty class has no mean; raise ValueError(...) with a message naming the label")


@exercise("00.2", "binarise images at a threshold",
          hint="compare with `images > threshold` and convert the result with .float()")
def _test_binarise(answer: Callable) -> None:
    images = _warmup_images(3, 4, 4)
    for threshold in (0.5, 0.2, 0.0, 1.0):
        tried = f"binarise(3 random images of shape (1, 4, 4), threshold={threshold})"
        got = call(answer, images.clone(), threshold, tried=tried)
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
            raise CheckFailure(tried, "a float32 tensor", got if not isinstance(got, torch.Tensor) else got.dtype,
                               "convert the boolean mask with .float()")
        expect_close(got, (images > threshold).float(), tried=tried)
    edge = torch.tensor([0.25, 0.5, 0.75]).reshape(1, 1, 1, 3)
    tried = "binarise(pixels [0.25, 0.5, 0.75], threshold=0.5): a pixel equal to the threshold is off"
    expect_close(call(answer, edge.clone(), 0.5, tried=tried), torch.tensor([0.0, 0.0, 1.0]).reshape(1, 1, 1, 3),
                 tried=tried, hint="a pixel is on only when it is strictly brighter than the threshold")
    original = images.clone()
    call(answer, images, 0.5, tried="binarise(images, 0.5)")
    if not torch.equal(images, original):
        raise CheckFailure("binarise(images, 0.5), then looking at `images` again", "images unchanged",
                           "images modified in place", "return a new tensor; do not write into the input")


@exercise("00.3", "the fraction of 'on' pixels in each image",
          hint="binarise, then take the mean over the channel, height and width axes: dim=(1, 2, 3)")
def _test_on_fraction(answer: Callable) -> None:
    images = _warmup_images(5, 6, 6)
    for threshold in (0.5, 0.9):
        tried = f"on_fraction(5 random images of shape (1, 6, 6), threshold={threshold})"
        got = call(answer, images.clone(), threshold, tried=tried)
        expect_close(got, (images > threshold).float().mean(dim=(1, 2, 3)), tried=tried)
    blank = torch.stack([torch.zeros(1, 3, 3), torch.ones(1, 3, 3)])
    tried = "on_fraction(an all-black and an all-white 3x3 image, threshold=0.5)"
    expect_close(call(answer, blank, 0.5, tried=tried), torch.tensor([0.0, 1.0]), tried=tried)
    tried = "on_fraction(one image of shape (1, 28, 28), threshold=0.5): the answer still has one entry per image"
    single = _warmup_images(1, 28, 28, seed=2)
    expect_close(call(answer, single, 0.5, tried=tried), (single > 0.5).float().mean(dim=(1, 2, 3)), tried=tried,
                 hint="keep the batch axis: reduce over dim=(1, 2, 3), not over everything")
