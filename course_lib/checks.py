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
    ex = EXERCISES[key]
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
    if not np.allclose(got_array, want, rtol=rtol, atol=atol, equal_nan=False):
        raise CheckFailure(tried, expected, got, hint)


# ---- notebook exercises are registered below, one section per notebook --------------------------------------
