"""Grading throughput: submissions per minute with --jobs 1 and --jobs 2, and what the sandbox costs.

    PYTHONPATH=$PWD python benchmarks/grading_throughput.py [--students 8] [--notebook solutions/00_warmup.ipynb]
                                                            [--repeats 1]

Grades one batch (`--students` copies of an honest submission, by default the warm-up's solution: it loads
Fashion-MNIST, draws three figures and is checked on three exercises) four ways in this process: without a
sandbox and --jobs 1 (the baseline); in bubblewrap without the seccomp filter and the uid drop (the internal
switch sandbox.CONFINED, off only here), --jobs 1; in bubblewrap as graded, --jobs 1; and as graded, --jobs 2.
With --repeats, the four ways take turns and each keeps its fastest run. Prints submissions per minute of each,
the ratio --jobs 2 / --jobs 1 (target: >= 1.7 on 2 cores), the sandbox's overhead per submission,
(sandboxed - unsandboxed) / unsandboxed at --jobs 1 (target: <= 10 %), and the part of it that the filter and
the uid drop add (the uid drop happens only when the grader runs as root). It also times starting a runner until
it is ready each way, which is where the sandbox's cost lies, and the check each batch makes before grading (a
root grader's starts a whole sandbox, a cost per batch that a small batch feels most). All gradebooks must be identical. The machine's
load average is printed with the numbers: other work on the machine makes every figure worse, and the --jobs
ratio most of all.
"""
import argparse
import csv
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from course_lib.grading import batch, sandbox, submission


def grade(submissions: Path, out: Path, jobs: int, sandboxed: bool, confined: bool) -> tuple[float, list]:
    """Seconds to grade the batch, and the points of its gradebook (without the no-sandbox note)."""
    shutil.rmtree(out, ignore_errors=True)
    settings = submission.Settings(cell_timeout=300, timeout=900, sandbox=sandboxed)
    sandbox.CONFINED = confined
    try:
        start = time.perf_counter()
        batch.grade_folder(submissions, out, settings=settings, jobs=jobs, log=lambda _: None)
        seconds = time.perf_counter() - start
    finally:
        sandbox.CONFINED = True
    return seconds, [row[:-1] if not sandboxed else row for row in csv.reader((out / "gradebook.csv").open())]


def start_seconds(sandboxed: bool, confined: bool, times: int) -> float:
    """Median seconds from starting a runner to its first reply."""
    seconds = []
    sandbox.CONFINED = confined
    try:
        for _ in range(times):
            start = time.perf_counter()
            with sandbox.Sandbox(sandbox.Limits(threads=os.cpu_count() or 1), sandbox=sandboxed) as box:
                box.request({"op": "lookup", "names": []}, 60)
                seconds.append(time.perf_counter() - start)
    finally:
        sandbox.CONFINED = True
    return statistics.median(seconds)


def check_seconds(confined: bool, times: int) -> float:
    """Median seconds of the check that every batch makes before grading (a root grader's starts a whole sandbox)."""
    seconds = []
    sandbox.CONFINED = confined
    try:
        for _ in range(times):
            start = time.perf_counter()
            sandbox.check_available()
            seconds.append(time.perf_counter() - start)
    finally:
        sandbox.CONFINED = True
    return statistics.median(seconds)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=8, help="submissions in the batch (default 8)")
    parser.add_argument("--notebook", type=Path, default=Path("solutions/00_warmup.ipynb"))
    parser.add_argument("--repeats", type=int, default=1, help="grade each way this often, keep the fastest")
    args = parser.parse_args()
    sandbox.check_available()
    work = Path(tempfile.mkdtemp(prefix="grading-benchmark-"))
    try:
        submissions = work / "submitted"
        submissions.mkdir()
        for k in range(args.students):
            shutil.copyfile(args.notebook, submissions / f"student{k:03d}.ipynb")
        print(f"{args.students} copies of {args.notebook}, {os.cpu_count()} cores; load average before: {load()}")
        grade(submissions, work / "warm-up", 2, True, True)  # fill the page cache; not timed
        ways = {"no sandbox,                  --jobs 1": (1, False, True),
                "sandbox, no filter/uid drop, --jobs 1": (1, True, False),
                "sandbox,                     --jobs 1": (1, True, True),
                "sandbox,                     --jobs 2": (2, True, True)}
        runs: dict[str, list] = {name: [] for name in ways}
        for _ in range(args.repeats):
            for name, way in ways.items():
                runs[name].append(grade(submissions, work / "out", *way))
                print(f"{name}: {runs[name][-1][0]:7.1f} s  (load average now {load()})")
        results = {name: (min(seconds for seconds, _ in done), done[0][1]) for name, done in runs.items()}
        for name, (seconds, _) in results.items():
            print(f"fastest of {name}: {seconds:7.1f} s, {60 * args.students / seconds:5.1f} submissions/min")
        if len({repr(gradebook) for _, gradebook in results.values()}) != 1:
            raise SystemExit("the four ways wrote different gradebooks")
        bare, unconfined, boxed, parallel = (results[name][0] for name in ways)
        print(f"--jobs 2 / --jobs 1: {boxed / parallel:.2f}x (target >= 1.7 on 2 cores)")
        print(f"sandbox overhead per submission: {100 * (boxed - bare) / bare:+.1f} % "
              f"({(boxed - bare) / args.students:+.2f} s; target <= 10 %)")
        print(f"of which the seccomp filter{' and the uid drop' if os.geteuid() == 0 else ''}: "
              f"{100 * (boxed - unconfined) / bare:+.1f} % of the baseline "
              f"({(boxed - unconfined) / args.students:+.2f} s per submission)")
        checks = {confined: check_seconds(confined, 3) for confined in (False, True)}
        print(f"the check before each batch (median of 3): {checks[False]:.2f} s without the filter and the uid drop, "
              f"{checks[True]:.2f} s as graded; as graded it is {100 * checks[True] / bare:+.1f} % of the baseline "
              f"with {args.students} students (shrinking as 1 / students), and the rest of the sandbox's overhead "
              f"{100 * (boxed - bare - checks[True]) / bare:+.1f} %")
        plain, wrapped, confined = start_seconds(False, True, 3), start_seconds(True, False, 3), \
            start_seconds(True, True, 3)
        print(f"starting a runner until ready (median of 3): {plain:.2f} s without bubblewrap, {wrapped:.2f} s in "
              f"bubblewrap without the filter and the uid drop, {confined:.2f} s as graded")
        print(f"load average after: {load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
