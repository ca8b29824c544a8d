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
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from course_lib import checks
from course_lib.data import write_atomic
from course_lib.grading.submission import Grade, Settings, grade_notebook
from course_lib.grading.report import NO_SANDBOX, write_outputs
from course_lib.grading.sandbox import Sandbox, check_available
from course_lib.grading.reading import find_submissions, infer_assignment, submission_digest


def _record_path(out: Path, student: str) -> Path:
    name = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return out / ".grading" / "graded" / f"{name}.json"


def _fingerprint(path: Path | None, keys: list[str], settings: Settings) -> str:
    """What a student's grade depends on: the notebook's bytes, the exercises and the settings (not the seed)."""
    try:
        content = submission_digest(path) if path is not None else "no notebook"
    except ValueError as err:
        content = f"{path}: {err}"
    what = json.dumps([content, keys, asdict(replace(settings, seed=None, hidden=(),
                                                     limits=replace(settings.limits, threads=1)))], default=str)
    return hashlib.sha256(what.encode()).hexdigest()


def _load_record(out: Path, student: str, fingerprint: str) -> Grade | None:
    try:
        record = json.loads(_record_path(out, student).read_text())
        if record["fingerprint"] == fingerprint and record["student"] == student:
            return Grade(student, {k: tuple(v) for k, v in record["results"].items()}, record["notes"],
                         record["flags"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def grade_folder(submissions: Path, out: Path, *, assignment: str | None = None, settings: Settings | None = None,
                 jobs: int | None = None, resume: bool = False, log: Callable[[str], None] = print) -> list[Grade]:
    """Grade every submission in `submissions` (`jobs` at a time); write the gradebook and feedback to `out`.

    Each finished student is recorded in OUT/.grading at once; the gradebook and feedback are written after every
    sandbox has ended. On Ctrl-C the sandboxes are killed and KeyboardInterrupt is raised; `resume=True` reuses
    the records of an earlier run with the same notebook, exercises and settings (see the module docstring).
    """
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {submissions} is not a folder.")
    found = find_submissions(submissions)
    if not found:
        raise ValueError(f"{submissions} holds no <student>.ipynb files or <student>/ folders.")
    assignment = assignment or infer_assignment([p for p in found.values() if p is not None])
    keys = checks.load(assignment)
    if not keys:
        raise ValueError(f"--assignment {assignment}: no exercises of notebook {assignment} are registered in "
                         f"course_lib.checks_NN (known: {', '.join(sorted(checks.EXERCISES))}).")
    settings = settings or Settings()
    if settings.sandbox:
        check_available()
    jobs = max(1, jobs or os.cpu_count() or 1)
    out.mkdir(parents=True, exist_ok=True)
    hidden = (submissions.resolve(), out.resolve(), *(Path(checks.__file__).resolve().parents[1] / name
                                                      for name in ("solutions", "tests", ".git")))
    settings = replace(settings, hidden=settings.hidden + hidden,
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
        record = {"student": student, "fingerprint": prints[student], "results": grade.results, "notes": grade.notes,
                  "flags": grade.flags}
        write_atomic(_record_path(out, student), json.dumps(record).encode())
        return grade

    todo = [s for s in found if s not in grades]
    log(f"grading {len(todo)} of {len(found)} submissions of notebook {assignment} ({len(grades)} already graded), "
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
    write_outputs(ordered, keys, out, assignment, settings.sandbox)
    return ordered


