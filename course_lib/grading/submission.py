"""Grading one submission: run its cells in a sandbox, test each answer in the grader's own process."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from course_lib import checks
from course_lib.grading.sandbox import Limits, Sandbox, SandboxStopped
from course_lib.grading.reading import Step, definitions, describe_cell, plan, read_code_cells

INTERRUPT_GRACE = 10  # seconds the runner gets to come back after its cell was interrupted


@dataclass(frozen=True)
class Settings:
    """How submissions are run: time limits in seconds, fast mode, sandbox limits, the secret seed."""

    cell_timeout: float = 60
    timeout: float = 600
    fast: bool = True
    limits: Limits = Limits()
    sandbox: bool = True
    seed: int = checks.PUBLIC_SEED
    hidden: tuple[Path, ...] = ()  # host paths to hide even if they lie inside what the sandbox sees


@dataclass
class Grade:
    """One student's grade: per exercise (status, points, message), notes on what went wrong, and which checks
    graded it (`batch.checks_version`; empty until the batch sets it)."""

    student: str
    results: dict[str, tuple[str, float, str]]
    notes: list[str] = field(default_factory=list)
    checks: str = ""

    @property
    def total(self) -> float:
        """The points of all exercises, to 2 decimals (partial credit); a whole number as an int."""
        total = round(sum(points for _, points, _ in self.results.values()), 2)
        return int(total) if total == int(total) else total


class _Stop(checks.CheckAborted):
    """This exercise's check, or the whole submission (fatal), cannot go on; `note` goes to the feedback's notes."""

    def __init__(self, message: str, fatal: bool = True, note: str = "") -> None:
        super().__init__(message)
        self.fatal, self.note = fatal, note


def _stopped_in_time(box: Sandbox) -> bool:
    """Interrupt what the runner is doing (it ran out of time); whether it answers again within the grace."""
    box.interrupt()
    return box.wait(INTERRUPT_GRACE) is not None


class SandboxedAnswer(checks.Answer):
    """The answer called `name` in the submission's sandbox; a check's calls share one time budget."""

    def __init__(self, box: Sandbox, name: str, deadline: float, cell_timeout: float) -> None:
        self.box, self.name, self.deadline, self.cell_timeout = box, name, deadline, cell_timeout

    def _exchange(self, request: dict, tried: str) -> bytes:
        try:
            reply = self.box.request(dict(request, op="call", name=self.name), self.deadline - time.monotonic())
            if reply is None:
                raise _Stop(f"the check did not finish within {self.cell_timeout:g} s (is there an endless loop in "
                            "your function?).", fatal=not _stopped_in_time(self.box),
                            note=f"was stopped after {self.cell_timeout:g} s.")
        except SandboxStopped as stopped:
            raise _Stop(f"grading stopped during the check: {stopped}.") from None
        return checks.encode(reply)


class ProbeSandbox:
    """A second, fresh sandbox for one submission's probes (facts about an answer: is its input unchanged, its
    layers, its gradients), started at the submission's first probe and shared by all of them.

    It runs no cell of the notebook. Before an exercise's first probe it forgets what it defined before (%reset)
    and runs only the definitions (`reading.definitions`: imports, def, class, names bound to literals, lambdas or
    names) of the cells up to the one where the exercise is due, which rebuilds the answer from its source; the
    probe then runs there. What a submission's other code does (replacing the probe, patching torch) cannot reach
    it. Its failures (a definition or a probe running too long, the rebuilt answer crashing it) fail that probe's
    check part, not the submission.
    """

    def __init__(self, settings: Settings, cells: list[str], on_start: Callable[[Sandbox], None]) -> None:
        self.settings, self.cells, self.on_start = settings, cells, on_start
        self.box: Sandbox | None = None
        self.rebuilt: str | None = None  # the exercise whose answer the box holds now

    def call(self, step: Step, name: str, request: dict, tried: str) -> dict:
        """The reply to a probe request on `name`, rebuilt from the definitions up to step.index's cell."""
        seconds = self.settings.cell_timeout
        try:
            if self.box is None:
                self.box = Sandbox(self.settings.limits, fast=self.settings.fast, hidden=list(self.settings.hidden),
                                   sandbox=self.settings.sandbox).__enter__()
                self.on_start(self.box)
                self.rebuilt = None
            if self.rebuilt != step.key:
                for source in ["%reset -f", *definitions(self.cells[:step.index + 1])]:
                    if self.box.request({"op": "run", "source": source}, seconds) is None:
                        self.close()
                        raise checks.CheckFailure(tried, f"`{name}` rebuilt from its definition within {seconds:g} s",
                                                  f"`{source.splitlines()[0][:60]}` ran longer")
                self.rebuilt = step.key
                found = self.box.request({"op": "lookup", "names": [name]}, seconds)
                if not isinstance(found, dict) or found.get("names") != [name]:
                    self.rebuilt = None
                    raise checks.CheckFailure(
                        tried, f"`{name}` defined by the notebook's imports, def and class statements alone",
                        "it is not defined that way", f"To examine `{name}`, the grader rebuilds it in a fresh process "
                        "from the notebook's imports, def and class statements only; define it (and what it uses) "
                        "with def or class.")
            reply = self.box.request(dict(request, op="call", name=name), seconds)
        except SandboxStopped as stopped:
            self.close()
            raise checks.CheckFailure(tried, "a result", f"the answer, rebuilt alone, stopped its sandbox: {stopped}")
        if reply is None:
            self.close()
            raise checks.CheckFailure(tried, f"a result within {seconds:g} s", "none: it was stopped",
                                      "is there an endless loop in your code?")
        return reply

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box, self.rebuilt = None, None


class ProbedAnswer(SandboxedAnswer):
    """A SandboxedAnswer whose probes go to the submission's ProbeSandbox instead of its own sandbox."""

    def __init__(self, box: Sandbox, name: str, deadline: float, cell_timeout: float, probes: ProbeSandbox,
                 step: Step) -> None:
        super().__init__(box, name, deadline, cell_timeout)
        self.probes, self.step = probes, step

    def _exchange(self, request: dict, tried: str) -> bytes:
        if not request["probe"]:
            return super()._exchange(request, tried)
        return checks.encode(self.probes.call(self.step, self.name, request, tried))


def grade_notebook(path: Path | None, student: str, keys: list[str], settings: Settings = Settings(),
                   on_start: Callable[[Sandbox], None] = lambda box: None) -> Grade:
    """Grade one submission (see the module docstring); never raises because of what the submission does."""
    grade = Grade(student, {})

    def zero_rest(reason: str) -> Grade:
        for key in keys:
            if key not in grade.results:
                grade.results[key] = (checks.FAILED, 0, f"[{key}] {checks.get(key).title}: not graded: {reason}")
        grade.results = {key: grade.results[key] for key in keys}
        return grade

    if path is None:
        return zero_rest("no single notebook was found in the student's folder.")
    try:
        steps = plan(read_code_cells(path), keys)
    except Exception as err:
        return zero_rest(f"the notebook could not be read ({type(err).__name__}: {' '.join(str(err).split())[:200]}).")
    try:
        probes = ProbeSandbox(settings, [step.source for step in steps if step.key is None], on_start)
        with Sandbox(settings.limits, fast=settings.fast, hidden=list(settings.hidden), notebook=path,
                     sandbox=settings.sandbox) as box:
            on_start(box)
            try:
                stop = _run(box, steps, grade, settings, probes)
            finally:
                probes.close()
    except SandboxStopped as err:
        stop = f"its sandbox did not start ({err})."
    except Exception as err:  # the grader's own machinery failed: say so, keep the batch going
        stop = f"the grader could not run this notebook ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    if stop:
        grade.notes.append(f"Grading stopped early: {stop}")
    return zero_rest(stop or "the grader's check did not report a result.")


def _run(box: Sandbox, steps: list[Step], grade: Grade, settings: Settings,
         probes: ProbeSandbox | None = None) -> str:
    """Run the steps in the sandbox; fill grade.results and grade.notes; return why grading stopped early."""
    deadline = time.monotonic() + settings.timeout
    for step in steps:
        where = describe_cell(step.index, step.source) if step.key is None else f"the check of {step.key}"
        if time.monotonic() >= deadline:
            return f"the notebook ran longer than {settings.timeout:g} s in total; grading stopped before {where}."
        try:
            if step.key is None:
                _run_cell(box, step, grade, settings, deadline)
            else:
                grade.results[step.key] = _grade(box, step, settings, deadline, probes)
        except _Stop as stop:
            if step.key is not None:
                grade.results[step.key] = (checks.FAILED, 0, f"[{step.key}] {checks.get(step.key).title}: {stop}")
            if stop.note:
                grade.notes.append(f"{where} {stop.note}" if step.key else stop.note)
            if stop.fatal:
                return str(stop) if step.key is None else f"the kernel stopped responding during {where}."
        except SandboxStopped as stopped:
            return f"grading stopped while running {where}: {stopped}."
    return ""


def _run_cell(box: Sandbox, step: Step, grade: Grade, settings: Settings, deadline: float) -> None:
    where = describe_cell(step.index, step.source)
    seconds = min(settings.cell_timeout, deadline - time.monotonic())
    reply = box.request({"op": "run", "source": step.source}, seconds)
    if reply is None:
        note = f"{where} ran longer than {settings.cell_timeout:g} s and was stopped." \
            if seconds >= settings.cell_timeout else ""
        if not _stopped_in_time(box):
            raise _Stop(f"the kernel did not respond after {where} was stopped for running too long.", note=note)
        grade.notes += [note] if note else []
        return
    error = reply.get("error")
    if isinstance(error, dict) and error:
        text = " ".join(str(error.get("message", "")).split())[:200]
        kind = " ".join(str(error.get("type", "an error")).split())[:80]
        note = f"{where} raised {kind}" + (f": {text}" if text else "")
        if note not in grade.notes:
            grade.notes.append(note)


def _grade(box: Sandbox, step: Step, settings: Settings, deadline: float,
           probes: ProbeSandbox | None = None) -> tuple[str, float, str]:
    """(status, points, message) of exercise step.key, its test run here on the answer in the sandbox."""
    ex = checks.get(step.key)
    found = box.request({"op": "lookup", "names": list(step.names)}, settings.cell_timeout)
    if found is None:
        raise _Stop("the kernel did not answer the grader.", fatal=not _stopped_in_time(box))
    names = found.get("names")
    defined = [n for n in step.names if isinstance(names, list) and n in names]
    if not defined:
        return checks.FAILED, 0, (f"[{ex.key}] {ex.title}: `{ex.answer}` is not defined when the check runs; the "
                                  "cell that defines it raised an error or was removed.")
    answer = SandboxedAnswer(box, defined[0], min(deadline, time.monotonic() + settings.cell_timeout),
                             settings.cell_timeout)
    if probes is not None:  # facts about the answer come from a sandbox where no other code of it ran
        answer = ProbedAnswer(box, answer.name, answer.deadline, answer.cell_timeout, probes, step)
    result = checks.evaluate(ex, answer, settings.seed)
    message = result.message
    if defined[0] != ex.answer:
        message += (f"\n  note:     `{ex.answer}` is not defined; the grader checked `{defined[0]}`, which the check "
                    "line names.")
    if step.note:
        message += f"\n  note:     {step.note}"
    return result.status, result.points, message


