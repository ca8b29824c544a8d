"""Batch grading: run each submitted notebook in its own sandbox, grade its answers in the grader's own process.

    python -m course_lib.grading SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--resume] [--memory 4G] [--disk 512M]
                                 [--cell-timeout 60] [--timeout 600] [--assignment NN] [--full] [--no-sandbox]

A submission is `SUBMISSIONS_DIR/<student>.ipynb`, or a folder `SUBMISSIONS_DIR/<student>/` holding one notebook.
Writes OUT_DIR/gradebook.csv (student, points per exercise, total, max) and OUT_DIR/feedback/<student>.md, both
atomically and only once every submission's sandbox has ended; OUT_DIR/.grading/ keeps the run's secret seed and
each graded student's record, so a rerun gives the same gradebook and `--resume` grades only those not yet done.

How a submission is graded (the threat model and what the sandbox does and does not protect: docs/instructors.md):
- Its code cells run in order, without the learner's `check("KEY", name)` lines, in a fresh runner
  (course_lib.runner) inside a bubblewrap sandbox (course_lib.sandbox): no network, no processes of anyone else,
  a read-only file system without the solutions, the submissions or the grader's output, and limits on memory,
  processes, disk, output and time. Errors in a cell do not stop the run.
- Right after the cell holding `check("KEY", ...)` (or, if that line was changed or removed, after the last cell
  defining the exercise's answer, e.g. `def mean_image`), the grader runs exercise KEY's test here, in its own
  process, with inputs drawn from the run's secret seed. The test only *calls* the answer inside the sandbox,
  through a pipe that carries plain data, and compares what comes back with values it computed itself.
- Points come from the grader's registry: an exercise's points if its test passed, else 0.
"""
from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import os
import re
import secrets
import stat
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import nbformat

from course_lib import checks
from course_lib.data import write_atomic
from course_lib.sandbox import Limits, Sandbox, SandboxStopped, SandboxUnavailable, check_available

# one `;` at most, and no two `\s*` side by side, so that matching takes linear time on any line
CHECK_LINE = re.compile(r"""^check\(\s*(['"])(?P<key>\d+\.\d+)\1\s*,\s*(?P<name>[A-Za-z_]\w*)\s*\)\s*(?:;\s*)?(#.*)?$""")
MAX_CHECK_LINE = 1000  # characters: a longer line is never taken for a check line
MAX_NOTEBOOK = 64 * 2**20  # bytes of the notebook file (outputs included)
MAX_CODE = 2**20  # characters of all its code cells: the grader parses them in its own process
INTERRUPT_GRACE = 10  # seconds the runner gets to come back after its cell was interrupted
NO_SANDBOX = "graded WITHOUT a sandbox (--no-sandbox): the submissions ran with all of the instructor's rights"


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
    """One student's grade: per exercise (status, points, message), and notes on what went wrong."""

    student: str
    results: dict[str, tuple[str, int, str]]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(points for _, points, _ in self.results.values())


# ---- reading submissions and planning where each exercise is graded ---------------------------------------------

def find_submissions(folder: Path) -> dict[str, Path | None]:
    """student -> notebook: `<student>.ipynb` files, and `<student>/` folders holding exactly one notebook."""
    found: dict[str, Path | None] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".ipynb":
            found[entry.stem] = entry
        elif entry.is_dir() and not entry.name.startswith("."):
            notebooks = sorted(p for p in entry.glob("*.ipynb") if p.is_file())
            found[entry.name] = notebooks[0] if len(notebooks) == 1 else None
    return found


def read_submission(path: Path) -> bytes:
    """The bytes of a submitted notebook: a regular file of at most MAX_NOTEBOOK bytes, never a symbolic link
    (a link could point at the solutions or at the grader's own files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if path.is_symlink():
            raise ValueError("it is a symbolic link, not a file: the grader reads only regular files inside the "
                             "submissions folder (unpack archives without links, or replace each link by its file)"
                             ) from None
        raise ValueError(f"it cannot be opened ({err.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        if info.st_size > MAX_NOTEBOOK:
            raise ValueError(f"the file is larger than {MAX_NOTEBOOK // 2**20} MiB")
        return file.read(MAX_NOTEBOOK + 1)


def read_code_cells(path: Path) -> list[str]:
    """The sources of the notebook's code cells, in order (only read, never written)."""
    try:
        nb = nbformat.reads(read_submission(path).decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, nbformat.reader.NotJSONError):
        raise ValueError("it is not a notebook (not UTF-8 JSON)") from None
    sources = [str(cell.source) for cell in nb.cells if cell.cell_type == "code"]
    if sum(map(len, sources)) > MAX_CODE:
        raise ValueError(f"its code cells hold more than {MAX_CODE // 2**20} MiB of text, more than any exercise "
                         "needs; remove pasted data or outputs from the code")
    return sources


def split_checks(source: str) -> tuple[str, list[tuple[str, str]]]:
    """The cell without its top-level `check("KEY", name)` lines, and the (key, name) pairs they named."""
    kept, found = [], []
    for line in source.split("\n"):
        short = len(line) <= MAX_CHECK_LINE and not line[:1].isspace()
        match = CHECK_LINE.match(line.strip()) if short else None
        if match:
            found.append((match["key"], match["name"]))
        else:
            kept.append(line)
    return "\n".join(kept), found


def top_level_names(source: str) -> set[str]:
    """The names the cell binds at its top level (def, class, assignment or import)."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {m[1] or m[2] for m in re.finditer(r"^(?:def|class)\s+(\w+)|^(\w+)[ \t]*[:=]", source, re.M)}
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name) for a in node.names)
    return names


@dataclass(frozen=True)
class Step:
    """Run code cell `index` (key None), or grade exercise `key` after it, trying `names` in order."""

    index: int
    source: str = ""
    key: str | None = None
    names: tuple[str, ...] = ()
    note: str = ""


def plan(sources: list[str], keys: list[str]) -> list[Step]:
    """The cells without their check lines, with a grading step after the cell where each exercise is due."""
    cells = [split_checks(source) for source in sources]
    bound: list[set[str]] = []  # each cell's top-level names, parsed once and only if a check line is missing
    due: dict[int, list[Step]] = {}
    for key in keys:
        ex = checks.get(key)
        lines = [(i, name) for i, (_, pairs) in enumerate(cells) for k, name in pairs if k == key]
        if lines:
            index, name = lines[0]
            step = Step(index, key=key, names=tuple(dict.fromkeys([ex.answer, name])))
        else:
            bound = bound or [top_level_names(kept) for kept, _ in cells]
            defining = [i for i, names in enumerate(bound) if ex.answer in names]
            index = defining[-1] if defining else len(cells) - 1
            where = f"after {_describe(index, sources[index])}" if sources else "at the end"
            step = Step(index, key=key, names=(ex.answer,), note=(
                f"the check line `check(\"{key}\", {ex.answer})` was changed or removed; the grader checked "
                f"`{ex.answer}` {where} anyway."))
        due.setdefault(step.index, []).append(step)
    steps = []
    for index, (kept, _) in enumerate(cells):
        steps.append(Step(index, kept))
        steps += due.pop(index, [])
    return steps + [step for late in due.values() for step in late]  # an empty notebook: grade at once


def infer_assignment(notebooks: list[Path]) -> str:
    """The notebook number NN whose check lines (else whose answer names) the submissions hold most often."""
    lines: Counter[str] = Counter()
    names: Counter[str] = Counter()
    answers = {ex.answer: key.split(".")[0] for key, ex in checks.EXERCISES.items()}
    for path in notebooks:
        try:
            sources = read_code_cells(path)
        except Exception:
            continue
        for source in sources:
            lines.update(key.split(".")[0] for key, _ in split_checks(source)[1])
            names.update(nn for name, nn in answers.items() if re.search(rf"^(def|class)\s+{name}\b", source, re.M))
    if not lines and not names:
        raise ValueError("no submission holds a check(\"NN.k\", ...) line or an exercise's answer; "
                         "pass --assignment NN.")
    return (lines or names).most_common(1)[0][0]


def _describe(index: int, source: str) -> str:
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return f'code cell {index + 1} ("{first[:40]}{"..." if len(first) > 40 else ""}")'


# ---- grading one submission ----------------------------------------------------------------------------------------

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
        with Sandbox(settings.limits, fast=settings.fast, hidden=list(settings.hidden), notebook=path,
                     sandbox=settings.sandbox) as box:
            on_start(box)
            stop = _run(box, steps, grade, settings)
    except SandboxStopped as err:
        stop = f"its sandbox did not start ({err})."
    except Exception as err:  # the grader's own machinery failed: say so, keep the batch going
        stop = f"the grader could not run this notebook ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    if stop:
        grade.notes.append(f"Grading stopped early: {stop}")
    return zero_rest(stop or "the grader's check did not report a result.")


def _run(box: Sandbox, steps: list[Step], grade: Grade, settings: Settings) -> str:
    """Run the steps in the sandbox; fill grade.results and grade.notes; return why grading stopped early."""
    deadline = time.monotonic() + settings.timeout
    for step in steps:
        where = _describe(step.index, step.source) if step.key is None else f"the check of {step.key}"
        if time.monotonic() >= deadline:
            return f"the notebook ran longer than {settings.timeout:g} s in total; grading stopped before {where}."
        try:
            if step.key is None:
                _run_cell(box, step, grade, settings, deadline)
            else:
                grade.results[step.key] = _grade(box, step, settings, deadline)
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
    where = _describe(step.index, step.source)
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


def _grade(box: Sandbox, step: Step, settings: Settings, deadline: float) -> tuple[str, int, str]:
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
    result = checks.evaluate(ex, answer, settings.seed)
    message = result.message
    if defined[0] != ex.answer:
        message += (f"\n  note:     `{ex.answer}` is not defined; the grader checked `{defined[0]}`, which the check "
                    "line names.")
    if step.note:
        message += f"\n  note:     {step.note}"
    return result.status, (ex.points if result.passed else 0), message


# ---- the batch: jobs, records, outputs -----------------------------------------------------------------------------

def safe_cell(text: str) -> str:
    """A spreadsheet cell that cannot become a formula: text starting with = + - @, a tab or CR gets a ' first."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def fenced(text: str) -> str:
    """`text` as a Markdown code block whose fence is longer than any run of backticks in it: whatever a
    submission made its messages say, the feedback shows it as text (no headings, links or images)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def write_outputs(grades: list[Grade], keys: list[str], out: Path, assignment: str, sandboxed: bool = True) -> None:
    """OUT/feedback/<student>.md, then OUT/gradebook.csv, each written atomically."""
    maximum = sum(checks.get(key).points for key in keys)
    for g in grades:
        lines = [f"# Feedback for {g.student}: {g.total}/{maximum} points (notebook {assignment})", ""]
        lines += [] if sandboxed else [f"**Note:** {NO_SANDBOX}.", ""]
        for key in keys:
            status, points, message = g.results[key]
            lines += [f"## {key} {checks.get(key).title}: {points}/{checks.get(key).points}", "", fenced(message), ""]
        if g.notes:
            lines += ["## What else happened when your notebook ran", "",
                      fenced("\n".join(f"- {note}" for note in g.notes)), ""]
        text = "\n".join(lines).rstrip("\n") + "\n"
        write_atomic(out / "feedback" / f"{g.student}.md", text.encode("utf-8", "replace"))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *keys, "total", "max"] + ([] if sandboxed else ["note"]))
    for g in grades:
        writer.writerow([safe_cell(g.student), *(g.results[key][1] for key in keys), g.total, maximum]
                        + ([] if sandboxed else [NO_SANDBOX]))
    write_atomic(out / "gradebook.csv", table.getvalue().encode("utf-8", "replace"))


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


def grade_folder(submissions: Path, out: Path, *, assignment: str | None = None, settings: Settings | None = None,
                 jobs: int | None = None, resume: bool = False, log: Callable[[str], None] = print) -> list[Grade]:
    """Grade every submission in `submissions` (`jobs` at a time); write the gradebook and feedback to `out`.

    Each finished student is recorded in OUT/.grading at once; the gradebook and feedback are written after every
    sandbox has ended. On Ctrl-C the sandboxes are killed and KeyboardInterrupt is raised; `resume=True` reuses
    the records of an earlier run with the same notebook, exercises and settings.
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


def use_this_python(client: Any) -> None:
    """Make an nbclient NotebookClient start its kernel with this interpreter, whatever kernels are installed."""
    from jupyter_client.kernelspec import KernelSpec

    client.km = client.create_kernel_manager()
    client.km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                        display_name="Python (this environment)", language="python")


def _size(text: str) -> int:
    """Bytes from '4G', '512M', '100k' or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write e.g. 4G, 512M or 1000000")
    return int(float(match[1]) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match[2].lower()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading", description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student>.ipynb files or <student>/ folders")
    parser.add_argument("--out", type=Path, required=True, help="where gradebook.csv and feedback/ are written")
    parser.add_argument("--assignment", help="notebook number, e.g. 02 (default: the one the check lines name)")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    parser.add_argument("--full", action="store_true", help="run notebooks in full mode (default: COURSE_FAST=1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once, one sandbox each (default: the number of cores)")
    parser.add_argument("--resume", action="store_true", help="grade only the submissions not graded into --out yet")
    parser.add_argument("--memory", type=_size, default=Limits.memory, help="memory per sandbox (default 4G)")
    parser.add_argument("--disk", type=_size, default=Limits.disk, help="what a sandbox may write (default 512M)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions without a sandbox, with all your rights (stated in every output)")
    args = parser.parse_args(argv)
    if args.cell_timeout <= 0 or args.timeout <= 0 or args.jobs < 1:
        parser.error("--cell-timeout and --timeout must be positive numbers of seconds, --jobs at least 1.")
    if args.out.resolve().is_relative_to(args.submissions.resolve()):
        parser.error(f"--out {args.out} is inside the submissions folder; choose a folder outside it.")
    settings = Settings(args.cell_timeout, args.timeout, not args.full, replace(Limits(), memory=args.memory,
                        disk=args.disk), sandbox=not args.no_sandbox)
    try:
        grade_folder(args.submissions, args.out, assignment=args.assignment, settings=settings, jobs=args.jobs,
                     resume=args.resume)
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        parser.error(str(err))
    except KeyboardInterrupt:
        print(f"\nstopped: every sandbox is closed; the students graded so far are kept in {args.out / '.grading'}. "
              "Run the same command with --resume to grade the rest.", file=sys.stderr)
        return 130
    print(f"wrote {args.out / 'gradebook.csv'} and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
