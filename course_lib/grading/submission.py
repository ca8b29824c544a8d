"""Grading one submission: run its cells in a sandbox, test each answer in the grader's own process."""
from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from course_lib import checks
from course_lib.grading.sandbox import Limits, Sandbox, SandboxStopped
from course_lib.grading.reading import (BIG_DECODE, MAX_CODE, Cell, Definition, needed_for, Step, check_submission, describe_cell, plan,
                                       read_submission, without_outputs)

INTERRUPT_GRACE = 10  # seconds the runner gets to come back after its cell was interrupted
STRIP_ABOVE = 8 * 2**20  # bytes of a notebook the sandbox gets as it is; a larger one loses its outputs first
MAX_NOTES = 12  # notes in one feedback file: a submission's own error messages, so a channel it controls
MAX_NOTE = 300  # characters of one note


@dataclass(frozen=True)
class Settings:
    """How submissions are run: time limits in seconds, fast mode, sandbox limits, the seed.

    seed None (the grader's): each grading draws a fresh 256-bit secret, kept nowhere; a number: that seed (tests).
    """

    cell_timeout: float = 60
    timeout: float = 600
    fast: bool = True
    limits: Limits = Limits()
    sandbox: bool = True
    seed: int | None = None
    hidden: tuple[Path, ...] = ()  # host paths to hide even if they lie inside what the sandbox sees


@dataclass
class Grade:
    """One student's grade: per exercise (status, points, message), notes on what went wrong, flags (per
    exercise, the course_lib function an answer used instead of being written; see docs/instructors.md), and
    which checks graded it (`batch.checks_version`; empty until the batch sets it)."""

    student: str
    results: dict[str, tuple[str, float, str]]
    notes: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
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
    and runs only the notebook's imports and the definitions the answer needs (`reading.needed_for`: its own def
    or class, and those of the names its code reads, found inside the submission's sandbox before any of its code
    ran), which rebuilds the answer from its source; the probe then runs there. The notebook's other code
    (replacing the probe, patching torch, a class statement the answer does not use) never runs there. What does
    run is the answer's own code and its helpers' (bodies, class bodies, decorators, default values): a fact
    forged there is forged by the code being graded, in plain sight of whoever reads it. Its failures (a
    definition or a probe running too long, the rebuilt answer crashing it) fail that probe's check part, not the
    submission.
    """

    def __init__(self, settings: Settings, cells: list[Cell], on_start: Callable[[Sandbox], None]) -> None:
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
                defined = needed_for(name, [d for cell in self.cells[:step.index + 1] for d in cell.definitions])
                for source in ["%reset -f", *defined]:
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
    """A SandboxedAnswer whose probes go to the submission's ProbeSandbox instead of its own sandbox; except
    `checks.value_of`, which reads a value answer (a prediction) where the notebook computed it: a value has no code
    whose facts could be forged, and `my_share = 2 / 3` cannot be rebuilt from literal definitions alone."""

    def __init__(self, box: Sandbox, name: str, deadline: float, cell_timeout: float, probes: ProbeSandbox,
                 step: Step) -> None:
        super().__init__(box, name, deadline, cell_timeout)
        self.probes, self.step = probes, step

    def _exchange(self, request: dict, tried: str) -> bytes:
        if not request["probe"] or request["probe"] == checks.VALUE_PROBE:
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
        check_submission(path)
    except Exception as err:
        return zero_rest(f"the notebook could not be read ({type(err).__name__}: {' '.join(str(err).split())[:200]}).")
    seed = secrets.randbits(256) if settings.seed is None else settings.seed
    try:
        with tempfile.TemporaryDirectory(prefix="course-grade-") as folder, \
                Sandbox(settings.limits, fast=settings.fast, hidden=list(settings.hidden),
                        notebook=_small(path, Path(folder)), sandbox=settings.sandbox) as box:
            on_start(box)
            cells = _read(box, path, settings)
            if isinstance(cells, str):
                return zero_rest(cells)
            probes = ProbeSandbox(settings, cells, on_start)
            try:
                stop = _run(box, plan(cells, keys), grade, settings, seed, probes)
            finally:
                probes.close()
    except SandboxStopped as err:
        stop = f"its sandbox did not start ({err})."
    except Exception as err:  # the grader's own machinery failed: say so, keep the batch going
        stop = f"the grader could not run this notebook ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    finally:
        grade.notes = bounded_notes(grade.notes)
    if stop:
        grade.notes.append(f"Grading stopped early: {stop}")
    return zero_rest(stop or "the grader's check did not report a result.")


def _small(path: Path, folder: Path) -> Path:
    """The notebook the sandbox gets: `path`, or, above STRIP_ABOVE bytes, a copy in `folder` without outputs
    (outputs are never graded; a copy of them would fill the sandbox's disk). One linear JSON pass."""
    if path.stat().st_size <= STRIP_ABOVE:
        return path
    copy = folder / path.name
    with BIG_DECODE:  # one big notebook in the grader's memory at a time, whatever --jobs is
        copy.write_bytes(without_outputs(read_submission(path)))
    return copy


def bounded_notes(notes: list[str]) -> list[str]:
    """At most MAX_NOTES notes of at most MAX_NOTE characters: what a submission prints there stays short."""
    kept = [note if len(note) <= MAX_NOTE else note[:MAX_NOTE - 3] + "..." for note in notes[:MAX_NOTES]]
    return kept + ([f"... and {len(notes) - MAX_NOTES} more notes, not shown."] if len(notes) > MAX_NOTES else [])


def _read(box: Sandbox, path: Path, settings: Settings) -> list[Cell] | str:
    """The notebook's code cells, read and parsed by the runner before any submitted code runs (reading.py);
    or why they could not be read."""
    seconds = min(settings.cell_timeout, settings.timeout)
    reply = box.request({"op": "read", "file": path.name, "seconds": seconds / 2}, seconds)
    if reply is None:
        return f"the notebook's code could not be read within {seconds:g} s."
    if "error" in reply:
        return f"the notebook could not be read ({' '.join(str(reply['error']).split())[:200]})."
    try:
        cells = [Cell(c["source"], frozenset(c["names"]), dict(c["library"]),
                      tuple(Definition(source, tuple(binds), tuple(uses)) for source, binds, uses in c["definitions"]))
                 for c in reply["cells"]]
        if sum(len(c.source) + sum(len(d.source) for d in c.definitions) for c in cells) > 2 * MAX_CODE or not all(
                isinstance(c.source, str) and all(isinstance(n, str) for n in c.names)
                and all(isinstance(d.source, str) and all(isinstance(n, str) for n in d.binds + d.uses)
                        for d in c.definitions)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in c.library.items()) for c in cells):
            raise TypeError
    except (KeyError, TypeError, ValueError):
        return "the grader's reader sent a malformed reply."
    return cells


def _run(box: Sandbox, steps: list[Step], grade: Grade, settings: Settings, seed: int,
         probes: ProbeSandbox | None = None) -> str:
    """Run the steps in the sandbox; fill grade.results and grade.notes; return why grading stopped early."""
    deadline, sent = time.monotonic() + settings.timeout, False
    for step in steps:
        where = describe_cell(step.index, step.source) if step.key is None else f"the check of {step.key}"
        if time.monotonic() >= deadline:
            return f"the notebook ran longer than {settings.timeout:g} s in total; grading stopped before {where}."
        try:
            if step.key is None:
                _run_cell(box, step, grade, settings, deadline, withhold=sent)
            else:
                sent = True  # from here on the sandbox may hold the grader's inputs
                grade.results[step.key] = _grade(box, step, grade, settings, deadline, seed, probes)
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


def _run_cell(box: Sandbox, step: Step, grade: Grade, settings: Settings, deadline: float, withhold: bool) -> None:
    """Run one cell; note its error. Once an answer has been called, a note gives the error's type only: its
    message is the submission's own text and could carry the grader's inputs into the feedback."""
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
        text = "" if withhold else " ".join(str(error.get("message", "")).split())[:200]
        kind = " ".join(str(error.get("type", "an error")).split())[:80]
        note = f"{where} raised {kind}" + (f": {text}" if text else " (after a check, its message is not shown: "
                                            "run the cell yourself to read it)" if withhold else "")
        if note not in grade.notes:
            grade.notes.append(note)


def _grade(box: Sandbox, step: Step, grade: Grade, settings: Settings, deadline: float, seed: int,
           probes: ProbeSandbox | None = None) -> tuple[str, float, str]:
    """(status, points, message) of exercise step.key, its test run here on the answer in the sandbox."""
    ex = checks.get(step.key)
    found = box.request({"op": "lookup", "names": list(step.names)}, settings.cell_timeout)
    if found is None:
        raise _Stop("the kernel did not answer the grader.", fatal=not _stopped_in_time(box))
    names = found.get("names")
    defined = [n for n in step.names if isinstance(names, list) and n in names]
    if not defined:
        return checks.FAILED, 0, (f"[{ex.key}] {ex.title}: `{step.names[0]}` is not defined when the check runs; "
                                  "the cell that defines it raised an error or was removed.")
    used = dict(step.library).get(defined[0])
    if used:
        grade.flags[ex.key] = used
        result = checks.library_refusal(ex, used)
    else:
        answer = SandboxedAnswer(box, defined[0], min(deadline, time.monotonic() + settings.cell_timeout),
                                 settings.cell_timeout)
        if probes is not None:  # facts about the answer come from a sandbox where no other code of it ran
            answer = ProbedAnswer(box, answer.name, answer.deadline, answer.cell_timeout, probes, step)
        result = checks.evaluate(ex, answer, seed, brief=True)
    message = result.message
    if defined[0] != step.names[0]:
        message += (f"\n  note:     `{step.names[0]}`, which your check line names, is not defined; the grader "
                    f"checked `{defined[0]}`.")
    if step.note:
        message += f"\n  note:     {step.note}"
    return result.status, result.points, message
