"""A batch: every submission of a folder, graded `jobs` at a time; records kept so a rerun can resume."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from course_lib import checks
from course_lib.data import write_atomic
from course_lib.grading import overrides as manual
from course_lib.grading.assignment import Assignment, for_notebook
from course_lib.grading.ingest import Submission
from course_lib.grading.lms import Roster
from course_lib.grading.submission import Grade, Settings, grade_notebook
from course_lib.grading.report import NO_SANDBOX, make_lines, write_outputs
from course_lib.grading.sandbox import Sandbox, check_available
from course_lib.grading.reading import find_submissions, infer_assignment, read_submission


def run_seed(out: Path) -> int:
    """The secret seed of grading into `out`: drawn once, kept in OUT/.grading/seed (never inside a sandbox)."""
    path = out / ".grading" / "seed"
    if not path.exists():
        write_atomic(path, str(secrets.randbits(62)).encode())
    return int(path.read_text())


def _record_path(out: Path, student: str) -> Path:
    name = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return out / ".grading" / "graded" / f"{name}.json"


def _fingerprint(path: Path | None, keys: list[str], settings: Settings) -> str:
    """What a student's grade depends on: the notebook's bytes, the exercises, the settings and the seed."""
    try:
        content = read_submission(path) if path is not None else b"no notebook"
    except ValueError as err:
        content = f"{path}: {err}".encode()
    what = json.dumps([keys, asdict(replace(settings, hidden=(), limits=replace(settings.limits, threads=1)))],
                      default=str).encode()
    return hashlib.sha256(content + what).hexdigest()


def _load_record(out: Path, student: str, fingerprint: str) -> Grade | None:
    try:
        record = json.loads(_record_path(out, student).read_text())
        if record["fingerprint"] == fingerprint and record["student"] == student:
            return Grade(student, {k: tuple(v) for k, v in record["results"].items()}, record["notes"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def grade_folder(submissions: Path, out: Path, *, assignment: str | Assignment | None = None,
                 settings: Settings | None = None, jobs: int | None = None, resume: bool = False,
                 log: Callable[[str], None] = print, submitted: dict[str, Submission] | None = None,
                 roster: Roster | None = None, overrides: Path | None = None) -> list[Grade]:
    """Grade every submission in `submissions` (`jobs` at a time); write the gradebook and feedback to `out`.

    assignment: a notebook number ("02"), an Assignment (its exercises, points, deadline and late policy), or
    None for the number the check lines name; submitted: {student key: Submission} as ingested from the
    platform's download (default: the folder's <student>.ipynb files, with no submission times); roster: the
    platform's roster, for its import file; overrides: the manual grades (default OUT/overrides.csv, only read).
    Each finished student is recorded in OUT/.grading at once; the gradebook and feedback are written after every
    sandbox has ended. On Ctrl-C the sandboxes are killed and KeyboardInterrupt is raised; `resume=True` reuses
    the records of an earlier run with the same notebook, exercises and settings.
    """
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {submissions} is not a folder.")
    found = {key: sub.path for key, sub in submitted.items()} if submitted is not None \
        else find_submissions(submissions)
    if not found:
        raise ValueError(f"{submissions} holds no <student>.ipynb files or <student>/ folders.")
    if not isinstance(assignment, Assignment):
        assignment = for_notebook(assignment or infer_assignment([p for p in found.values() if p is not None]))
    keys = assignment.keys
    overrides = overrides or out / "overrides.csv"
    manual_grades = manual.read(overrides)
    manual.check(manual_grades, overrides, set(found) | {s.id for s in roster.students} if roster else set(found),
                 assignment.points)
    settings = settings or Settings()
    if settings.sandbox:
        check_available()
    jobs = max(1, jobs or os.cpu_count() or 1)
    out.mkdir(parents=True, exist_ok=True)
    hidden = (submissions.resolve(), out.resolve(), *(Path(checks.__file__).resolve().parents[1] / name
                                                      for name in ("solutions", "tests", ".git")))
    settings = replace(settings, seed=run_seed(out), hidden=settings.hidden + hidden,
                       limits=replace(settings.limits, threads=max(1, (os.cpu_count() or 1) // jobs)))
    maximum = sum(checks.get(key).points for key in keys)
    prints = {student: _fingerprint(path, keys, settings) for student, path in found.items()}
    grades = {s: g for s in found if resume and (g := _load_record(out, s, prints[s])) is not None}
    stopping, boxes, lock = threading.Event(), set(), threading.Lock()

    def watch(box: Sandbox) -> None:
        with lock:
            boxes.add(box)
            if stopping.is_set():
                box.kill()

    def work(student: str) -> Grade | None:
        grade = grade_notebook(found[student], student, keys, settings, on_start=watch)
        with lock:
            boxes.difference_update({b for b in boxes if b.process is None})
        if stopping.is_set():
            return None  # cut short by Ctrl-C: not recorded, graded again next time
        record = {"student": student, "fingerprint": prints[student], "results": grade.results, "notes": grade.notes}
        write_atomic(_record_path(out, student), json.dumps(record).encode())
        return grade

    todo = [s for s in found if s not in grades]
    log(f"grading {len(todo)} of {len(found)} submissions of notebook {assignment.notebook} ({len(grades)} already graded), "
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
    lines, unmatched = make_lines(ordered, assignment, submitted, manual_grades, roster)
    write_outputs(lines, assignment, out, settings.sandbox, roster, unmatched)
    if roster and unmatched:
        log(f"{len(unmatched)} submitter(s) on no line of {roster.path.name} (listed in {out / 'unmatched.txt'}): "
            + ", ".join(unmatched))
    return ordered


