"""A batch: every submission of a folder, graded `jobs` at a time; records kept so a rerun can resume.

Seeds: every grading of every submission draws its own secret (grade_notebook), which is kept nowhere, so no
feedback, record or rerun can be used to learn the inputs of another grading. `--resume` reuses a student's
record only while the notebook's bytes, the exercises and the settings are unchanged: it then writes the same
feedback again and no answer is called; anything else, a rerun without --resume included, is graded afresh.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import course_lib
from course_lib import checks
from course_lib.data import write_atomic
from course_lib.grading import overrides as manual
from course_lib.grading.assignment import Assignment, for_notebook
from course_lib.grading.ingest import ingest, write_report
from course_lib.grading.lms import Roster
from course_lib.grading.submission import Grade, Settings, bounded_notes, grade_notebook
from course_lib.grading.report import NO_SANDBOX, make_lines, write_outputs
from course_lib.grading.sandbox import Sandbox, check_available
from course_lib.grading.reading import identify, infer_assignment, submission_digest


def _record_path(out: Path, student: str) -> Path:
    name = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return out / ".grading" / "graded" / f"{name}.json"


def checks_version(assignment: str, keys: list[str]) -> str:
    """Which checks grade `assignment`: course_lib's version, then a hash of the exercise definitions' code
    (course_lib/checks.py and checks_NN.py) and of each exercise's points, e.g. "0.1.0+3f2a9c1b7d04"."""
    digest = hashlib.sha256()
    for path in (Path(checks.__file__), Path(checks.__file__).with_name(f"checks_{assignment}.py")):
        digest.update(path.read_bytes() if path.exists() else b"no file")
    digest.update(json.dumps([[key, checks.get(key).points] for key in keys]).encode())
    return f"{course_lib.__version__}+{digest.hexdigest()[:12]}"


def _fingerprint(path: Path | None, keys: list[str], settings: Settings) -> str:
    """What a student's grade depends on: the notebook's bytes, the exercises and the settings (not the seed)."""
    try:
        content = submission_digest(path) if path is not None else "no notebook"
    except ValueError as err:
        content = f"{path}: {err}"
    what = json.dumps([content, keys, asdict(replace(settings, seed=None, hidden=(),
                                                     limits=replace(settings.limits, threads=1)))], default=str)
    return hashlib.sha256(what.encode()).hexdigest()


def _load_record(out: Path, student: str, fingerprint: str, version: str) -> Grade | None:
    """The recorded grade, if its notebook, exercises and settings give `fingerprint` and the checks `version`
    graded it."""
    try:
        record = json.loads(_record_path(out, student).read_text())
        if record["fingerprint"] == fingerprint and record["student"] == student and record.get("checks") == version:
            return Grade(student, {k: tuple(v) for k, v in record["results"].items()}, record["notes"],
                         record["flags"], version)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _made_by_other_checks(out: Path, student: str, version: str) -> bool:
    """Whether the student has a record that checks other than `version` made (an older course_lib, changed
    exercise code or points; records from before versions were kept count too)."""
    try:
        record = json.loads(_record_path(out, student).read_text())
        return record["student"] == student and record.get("checks") != version
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _nothing_graded(student: str, keys: list[str], reason: str) -> Grade:
    """Every exercise 0 with `reason` (the wrong notebook, or none at all), and no sandbox started."""
    return Grade(student, {key: (checks.FAILED, 0, f"[{key}] {checks.get(key).title}: not graded: {reason}")
                           for key in keys}, [f"Nothing was graded: {reason}"])


def grade_folder(submissions: Path, out: Path, *, assignment: str | Assignment | None = None,
                 settings: Settings | None = None, jobs: int | None = None, resume: bool = False,
                 log: Callable[[str], None] = print, layout: str | None = None, attempts: str = "latest",
                 roster: Roster | None = None, overrides: Path | None = None) -> list[Grade]:
    """Grade every submission in `submissions` (a folder or .zip, read by `ingest.ingest` with `layout` and
    `attempts`), `jobs` at a time; write the gradebook, the feedback and OUT/ingest.csv to `out`.

    assignment: a notebook number ("02"), an Assignment (its exercises, points, deadline and late policy), or
    None for the notebook most students handed in; roster: the platform's roster, for its import file;
    overrides: the manual grades (default OUT/overrides.csv, only read).
    Each finished student is recorded in OUT/.grading at once; the gradebook and feedback are written after every
    sandbox has ended. On Ctrl-C the sandboxes are killed and KeyboardInterrupt is raised; `resume=True` reuses
    the records of an earlier run with the same notebook, exercises and settings (see the module docstring).
    """
    notebook = assignment.notebook if isinstance(assignment, Assignment) else assignment
    ingested = ingest(submissions, layout, attempts, notebook)
    found = {s.key: s for s in ingested.submissions}
    out.mkdir(parents=True, exist_ok=True)
    log(f"read {submissions.name!a} as {ingested.layout} ({ingested.why}): {len(found)} submissions, "
        f"{sum(s.status == 'skipped' for s in ingested.skipped)} files not graded (listed in {out / 'ingest.csv'})")
    if not found:
        write_report(ingested, out)
        raise ValueError(f"{submissions} holds no submissions as the {ingested.layout} layout names them; see "
                         f"{out / 'ingest.csv'} for each file and why it was not taken (or pass --layout).")
    numbers = {key: identify(s.path) for key, s in found.items()}
    if not (notebook and re.fullmatch(r"\d\d", notebook)):
        notebook, inferred = infer_assignment(numbers)
        log(inferred)
    if not isinstance(assignment, Assignment):
        assignment = for_notebook(notebook)
    wrong = {key: nn for key, nn in numbers.items() if nn is not None and nn != notebook}
    write_report(ingested, out, {key: f"this is notebook {nn}; assignment {notebook} was expected"
                                 for key, nn in wrong.items()})
    keys = assignment.keys
    overrides = overrides or out / "overrides.csv"
    manual_grades = manual.read(overrides)
    manual.check(manual_grades, overrides, set(found) | ({s.id for s in roster.students} if roster else set()),
                 assignment.points)
    settings = settings or Settings()
    if settings.sandbox:
        check_available()
    jobs = max(1, jobs or os.cpu_count() or 1)
    unpacked = {s.path.parent for s in found.values() if s.path is not None and not s.path.is_relative_to(submissions)}
    hidden = (submissions.resolve(), out.resolve(), *unpacked,
              *(Path(checks.__file__).resolve().parents[1] / name for name in ("solutions", "tests", ".git")))
    settings = replace(settings, hidden=settings.hidden + hidden,
                       limits=replace(settings.limits, threads=max(1, (os.cpu_count() or 1) // jobs)))
    maximum = sum(checks.get(key).points for key in keys)
    prints = {student: _fingerprint(s.path, keys, settings) for student, s in found.items()}
    version = checks_version(notebook, keys)
    grades = {s: g for s in found if resume and (g := _load_record(out, s, prints[s], version)) is not None}
    if resume:
        other = sum(_made_by_other_checks(out, s, version) for s in found)
        log(f"regrading {other} records made by other checks than this run's ({version})")
    stopping, boxes, lock = threading.Event(), set(), threading.Lock()

    def watch(box: Sandbox) -> None:
        with lock:
            boxes.add(box)
            if stopping.is_set():
                box.kill()

    def work(student: str) -> Grade | None:
        if student in wrong:
            grade = _nothing_graded(student, keys, f"this is notebook {wrong[student]}; assignment {notebook} "
                                                   f"was expected. Hand in notebook {notebook}.")
        elif found[student].path is None:
            grade = _nothing_graded(student, keys, found[student].problem)
        else:
            grade = grade_notebook(found[student].path, student, keys, settings, on_start=watch)
        grade.notes = bounded_notes([*found[student].notes, *grade.notes])  # ingestion's notes count too
        grade.checks = version
        with lock:
            boxes.difference_update({b for b in boxes if b.process is None})
        if stopping.is_set():
            return None  # cut short by Ctrl-C: not recorded, graded again next time
        record = {"student": student, "fingerprint": prints[student], "checks": version, "results": grade.results,
                  "notes": grade.notes, "flags": grade.flags}
        write_atomic(_record_path(out, student), json.dumps(record).encode(), private=True)
        return grade

    todo = [s for s in found if s not in grades]
    log(f"grading {len(todo)} of {len(found)} submissions of notebook {notebook} ({len(grades)} already graded), "
        f"{jobs} at a time" + ("" if settings.sandbox else f"; {NO_SANDBOX}"))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            futures = {pool.submit(work, student): student for student in todo}
            for future in as_completed(futures):
                grade = future.result()
                grades[futures[future]] = grade
                log(f"{grade.student}: {grade.total}/{maximum}")
        except BaseException:
            stopping.set()
            with lock:
                for box in boxes:
                    box.kill()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    ordered = [grades[student] for student in found]
    lines, unmatched = make_lines(ordered, assignment, found, manual_grades, roster)
    write_outputs(lines, assignment, out, settings.sandbox, roster, unmatched)
    if roster and unmatched:
        log(f"{len(unmatched)} submitter(s) on no line of {roster.path.name} (listed in {out / 'unmatched.txt'}): "
            + ", ".join(unmatched))
    return ordered


