"""Batch grading: run each submitted notebook in its own kernel and scratch folder, grade it with our own checks.

    python -m course_lib.grading SUBMISSIONS_DIR --out OUT_DIR [--cell-timeout 60] [--timeout 600]

A submission is `SUBMISSIONS_DIR/<student>.ipynb`, or a folder `SUBMISSIONS_DIR/<student>/` holding one notebook.
Writes OUT_DIR/gradebook.csv (student, points per exercise, total, max) and OUT_DIR/feedback/<student>.md.

How a submission is graded (the threat model and its limits are in docs/instructors.md):
- It is copied into a fresh scratch folder, several levels deep in a temporary directory, which is the kernel's
  working directory; the scratch folder is deleted afterwards. The original file is only read.
- A fresh Jupyter kernel first runs the grader's setup: it takes its own references to `checks.evaluate` and the
  exercise registry, and installs a grading function under a random name, holding a random token.
- Then the submission's code cells run in order (errors do not stop the run), each under the per-cell time limit
  and all together under the per-submission limit. The learner's `check("KEY", name)` lines are removed; right
  after the cell that held one, the grader's function runs the grader's check on `name` and publishes the result
  with the token. Anything else the notebook prints, including fake "passed" lines, is ignored.
- Points come from the grader's own registry: an exercise's points if its status is "passed", else 0.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_lib import checks

CHECK_LINE = re.compile(r"""^check\(\s*(['"])(?P<key>\d+\.\d+)\1\s*,\s*(?P<name>[A-Za-z_]\w*)\s*\)\s*;?\s*(#.*)?$""")
MIME = "application/x-course-grade+json"
TIMED_OUT = "GraderCellTimeout"
SANDBOX_DEPTH = 4  # '../' paths from the scratch folder stay inside the grader's temporary directory

SETUP = '''\
def _course_grader_setup(name, token):
    import builtins
    from IPython import get_ipython
    from course_lib import checks
    shell, evaluate, local, registry = get_ipython(), checks.evaluate, checks.LocalAnswer, dict(checks.EXERCISES)
    originals = {"check": checks.check, "run_check": checks.run_check, "evaluate": checks.evaluate}
    publish = shell.display_pub.publish

    def grade(key, answer_name):
        namespace = shell.user_ns
        if answer_name not in namespace:
            status, message = checks.FAILED, (
                f"[{key}] {registry[key].title}: `{answer_name}` is not defined when the check runs; the cell that "
                "defines it raised an error or was removed.")
        else:
            result = evaluate(registry[key], local(namespace[answer_name]))
            status, message = result.status, result.message
        tampered = sorted(n for n, f in originals.items() if getattr(checks, n, None) is not f)
        tampered += ["EXERCISES"] if checks.EXERCISES.get(key) is not registry[key] else []
        tampered += ["check"] if namespace.get("check", originals["check"]) is not originals["check"] else []
        publish({"%s": {"token": token, "key": key, "status": status, "message": message,
                         "tampered": sorted(set(tampered))}}, metadata={})

    setattr(builtins, name, grade)


_course_grader_setup(%r, %r)
del _course_grader_setup
'''


@dataclass
class Grade:
    """One student's grade: per exercise (status, points, message), and notes on what went wrong."""

    student: str
    results: dict[str, tuple[str, int, str]]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(points for _, points, _ in self.results.values())


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


def read_code_cells(path: Path) -> list[str]:
    """The sources of the notebook's code cells, in order."""
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def split_checks(source: str) -> tuple[str, list[tuple[str, str]]]:
    """The cell without its top-level `check("KEY", name)` lines, and the (key, name) pairs they named."""
    kept, found = [], []
    for line in source.split("\n"):
        match = CHECK_LINE.match(line.strip()) if not line[:1].isspace() else None
        if match:
            found.append((match["key"], match["name"]))
        else:
            kept.append(line)
    return "\n".join(kept), found


def infer_assignment(notebooks: list[Path]) -> str:
    """The notebook number NN whose check lines the submissions hold most often."""
    counts: Counter[str] = Counter()
    for path in notebooks:
        try:
            for source in read_code_cells(path):
                counts.update(key.split(".")[0] for _, pairs in [split_checks(source)] for key, _ in pairs)
        except Exception:
            continue
    if not counts:
        raise ValueError("no submission holds a check(\"NN.k\", ...) line; pass --assignment NN.")
    return counts.most_common(1)[0][0]


def _describe(index: int, source: str) -> str:
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return f'code cell {index + 1} ("{first[:40]}{"..." if len(first) > 40 else ""}")'


def _error_note(where: str, outputs: list) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            value = " ".join(str(out.get("evalue", "")).split())[:200]
            return f"{where} raised {out.get('ename', 'an error')}" + (f": {value}" if value else "")
    return None


def grade_notebook(path: Path | None, student: str, keys: list[str], *, cell_timeout: float = 60,
                   timeout: float = 600, fast: bool = True) -> Grade:
    """Grade one submission (see the module docstring); never raises because of what the submission does."""
    grade = Grade(student, {})
    stop = ""

    def zero_rest(reason: str) -> None:
        for key in keys:
            if key not in grade.results:
                title = checks.EXERCISES[key].title
                grade.results[key] = (checks.FAILED, 0, f"[{key}] {title}: not graded: {reason}")

    if path is None:
        zero_rest("no single notebook was found in the student's folder.")
        return grade
    try:
        sources = read_code_cells(path)
    except Exception as err:
        zero_rest(f"the notebook could not be read ({type(err).__name__}: {' '.join(str(err).split())[:200]}).")
        return grade

    token, hook = secrets.token_hex(16), "_" + secrets.token_hex(12)
    plan = []  # (kind, index, source, key)
    for index, source in enumerate(sources):
        kept, pairs = split_checks(source)
        plan.append(("cell", index, kept, None))
        plan += [("grade", index, f"{hook}({key!r}, {name!r})", key) for key, name in pairs
                 if key in keys and not any(p[3] == key for p in plan)]
    missing = [key for key in keys if not any(p[3] == key for p in plan)]
    for key in missing:
        grade.results[key] = (checks.FAILED, 0, f"[{key}] {checks.EXERCISES[key].title}: its check line "
                              f'`check("{key}", ...)` is missing from the notebook, so it could not be graded.')

    scratch_root = Path(tempfile.mkdtemp(prefix="course-grade-"))
    work = scratch_root.joinpath(*["sandbox"] * (SANDBOX_DEPTH - 1), "work")
    work.mkdir(parents=True)
    shutil.copyfile(path, work / path.name)
    try:
        stop = _run(plan, grade, work, token, hook, cell_timeout, timeout, fast)
    except Exception as err:  # the grader's own machinery failed (e.g. no kernel): say so, keep the batch going
        stop = f"the grader could not run this notebook ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    zero_rest(stop or "the grader's check did not report a result.")
    grade.results = {key: grade.results[key] for key in keys}
    return grade


def _run(plan: list, grade: Grade, work: Path, token: str, hook: str, cell_timeout: float, timeout: float,
         fast: bool) -> str:
    """Execute the plan in a fresh kernel; fill grade.results and grade.notes; return why it stopped early."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    package_root = str(Path(checks.__file__).resolve().parents[1])
    env = dict(os.environ, MPLBACKEND="Agg", COURSE_FAST="1" if fast else "0", PYDEVD_DISABLE_FILE_VALIDATION="1",
               PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p))
    cells = [nbformat.v4.new_code_cell(SETUP % (MIME, hook, token))]
    cells += [nbformat.v4.new_code_cell(source) for _, _, source, _ in plan]
    nb = nbformat.v4.new_notebook(cells=cells)
    client = NotebookClient(nb, allow_errors=True, kernel_name="python3", interrupt_on_timeout=True,
                            error_on_timeout={"ename": TIMED_OUT, "evalue": "", "traceback": []},
                            iopub_timeout=2, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    replies: list[dict] = []
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.append(execute_reply)
    use_this_python(client)

    def execute(index: int, seconds: float) -> bool:
        """Run cell `index`; False if it timed out."""
        client.timeout = max(1, int(seconds + 0.999))
        replies.clear()
        client.execute_cell(nb.cells[index], index)
        return not (replies and replies[-1].get("content", {}).get("ename") == TIMED_OUT)

    with client.setup_kernel(env=env, cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        if not execute(0, max(120, cell_timeout)) or _error_note("setup", nb.cells[0].outputs):
            raise RuntimeError(_error_note("the grader's setup cell", nb.cells[0].outputs) or "setup timed out")
        deadline = time.monotonic() + timeout
        for position, (kind, index, source, key) in enumerate(plan, start=1):
            where = _describe(index, source)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"the notebook ran longer than {timeout:g} s in total; grading stopped before {where}."
            try:
                finished = execute(position, min(cell_timeout, remaining))
                if not finished:
                    if kind == "cell":
                        grade.notes.append(f"{where} ran longer than {cell_timeout:g} s and was stopped.")
                    nb.cells.append(nbformat.v4.new_code_cell("pass"))
                    if not execute(len(nb.cells) - 1, min(5, max(1, deadline - time.monotonic()))):
                        return f"the kernel did not respond after {where} was stopped for running too long."
            except DeadKernelError:
                return (f"the kernel died while running {where if kind == 'cell' else 'the check of ' + key} "
                        "(os._exit, os.kill, a crash, or running out of memory).")
            outputs = nb.cells[position].outputs
            if kind == "cell":
                note = _error_note(where, outputs)
                if note and note not in grade.notes:
                    grade.notes.append(note)
            else:
                grade.results[key] = _read_result(key, outputs, token, finished, cell_timeout)
                if not finished:
                    grade.notes.append(f"the check of {key} was stopped after {cell_timeout:g} s.")
    return ""


def use_this_python(client) -> None:
    """Make an nbclient NotebookClient start its kernel with this interpreter, whatever kernels are installed."""
    from jupyter_client.kernelspec import KernelSpec

    client.km = client.create_kernel_manager()
    client.km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                        display_name="Python (this environment)", language="python")


def _read_result(key: str, outputs: list, token: str, finished: bool, cell_timeout: float) -> tuple[str, int, str]:
    """The (status, points, message) published with our token; points from the grader's own registry."""
    ex = checks.EXERCISES[key]
    if not finished:
        return checks.FAILED, 0, (f"[{key}] {ex.title}: the check did not finish within {cell_timeout:g} s "
                                  "(is there an endless loop in your function?).")
    found = [out["data"][MIME] for out in outputs
             if out.get("output_type") == "display_data" and isinstance(out.get("data", {}).get(MIME), dict)
             and out["data"][MIME].get("token") == token]
    if len(found) != 1 or found[0].get("key") != key or found[0].get("status") not in (
            checks.PASSED, checks.NOT_DONE, checks.FAILED):
        why = _error_note("the check", outputs) or "no result came back"
        return checks.FAILED, 0, f"[{key}] {ex.title}: the grader's check did not report a result ({why})."
    status, message = found[0]["status"], str(found[0].get("message", ""))[:2000]
    if found[0].get("tampered"):
        message += ("\n  note:     the notebook replaced " + ", ".join(map(str, found[0]["tampered"]))
                    + "; grading used the grader's own copy.")
    return status, (ex.points if status == checks.PASSED else 0), message


def write_outputs(grades: list[Grade], keys: list[str], out: Path, assignment: str) -> None:
    """OUT/gradebook.csv and OUT/feedback/<student>.md."""
    maximum = sum(checks.EXERCISES[key].points for key in keys)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student", *keys, "total", "max"])
        for g in grades:
            writer.writerow([g.student, *(g.results[key][1] for key in keys), g.total, maximum])
    for g in grades:
        lines = [f"# Feedback for {g.student}: {g.total}/{maximum} points (notebook {assignment})", ""]
        for key in keys:
            status, points, message = g.results[key]
            lines += [f"## {key} {checks.EXERCISES[key].title}: {points}/{checks.EXERCISES[key].points}", "",
                      "```", message, "```", ""]
        if g.notes:
            lines += ["## What else happened when your notebook ran", ""] + [f"- {note}" for note in g.notes] + [""]
        (out / "feedback" / f"{g.student}.md").write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def grade_folder(submissions: Path, out: Path, *, assignment: str | None = None, cell_timeout: float = 60,
                 timeout: float = 600, fast: bool = True, log=print) -> list[Grade]:
    """Grade every submission in `submissions`; write the gradebook and feedback to `out`."""
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {submissions} is not a folder.")
    found = find_submissions(submissions)
    if not found:
        raise ValueError(f"{submissions} holds no <student>.ipynb files or <student>/ folders.")
    assignment = assignment or infer_assignment([p for p in found.values() if p is not None])
    keys = sorted((k for k in checks.EXERCISES if k.split(".")[0] == assignment), key=lambda k: int(k.split(".")[1]))
    if not keys:
        raise ValueError(f"--assignment {assignment}: no exercises of notebook {assignment} are registered in "
                         f"course_lib.checks (known: {', '.join(sorted(checks.EXERCISES))}).")
    grades = []
    for student, path in found.items():
        grades.append(grade_notebook(path, student, keys, cell_timeout=cell_timeout, timeout=timeout, fast=fast))
        log(f"{student}: {grades[-1].total}/{sum(checks.EXERCISES[k].points for k in keys)}")
    write_outputs(grades, keys, out, assignment)
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading", description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student>.ipynb files or <student>/ folders")
    parser.add_argument("--out", type=Path, required=True, help="where gradebook.csv and feedback/ are written")
    parser.add_argument("--assignment", help="notebook number, e.g. 02 (default: the one the check lines name)")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    parser.add_argument("--full", action="store_true", help="run notebooks in full mode (default: COURSE_FAST=1)")
    args = parser.parse_args(argv)
    if args.cell_timeout <= 0 or args.timeout <= 0:
        parser.error("--cell-timeout and --timeout must be positive numbers of seconds.")
    if args.out.resolve().is_relative_to(args.submissions.resolve()):
        parser.error(f"--out {args.out} is inside the submissions folder; choose a folder outside it.")
    try:
        grade_folder(args.submissions, args.out, assignment=args.assignment, cell_timeout=args.cell_timeout,
                     timeout=args.timeout, fast=not args.full)
    except ValueError as err:
        parser.error(str(err))
    print(f"wrote {args.out / 'gradebook.csv'} and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
