"""Grading throughput: submissions per minute with --jobs 1 and --jobs 2, and what the sandbox costs.

    PYTHONPATH=$PWD python benchmarks/grading_throughput.py [--students 8] [--notebook solutions/00_warmup.ipynb]
                                                            [--repeats 1]

Grades one batch (`--students` copies of an honest submission, by default the warm-up's solution: it loads
Fashion-MNIST, draws three figures and is checked on three exercises) three ways in this process:
without a sandbox and --jobs 1 (the baseline), in bubblewrap with --jobs 1, and in bubblewrap with --jobs 2.
Prints submissions per minute of each, the ratio --jobs 2 / --jobs 1 (target: >= 1.7 on 2 cores) and the
sandbox's overhead per submission, (sandboxed - unsandboxed) / unsandboxed at --jobs 1 (target: <= 10 %).
It also times starting a runner until it is ready, with and without bubblewrap, which is where the sandbox's
cost lies. All three gradebooks must be identical. The machine's load average is printed with the numbers:
other work on the machine makes every figure worse, and the --jobs ratio most of all.
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


def grade(submissions: Path, out: Path, jobs: int, sandboxed: bool) -> tuple[float, list]:
    """Seconds to grade the batch, and the points of its gradebook (without the no-sandbox note)."""
    shutil.rmtree(out, ignore_errors=True)
    settings = submission.Settings(cell_timeout=300, timeout=900, sandbox=sandboxed)
    start = time.perf_counter()
    batch.grade_folder(submissions, out, settings=settings, jobs=jobs, log=lambda _: None)
    seconds = time.perf_counter() - start
    return seconds, [row[:-1] if not sandboxed else row for row in csv.reader((out / "gradebook.csv").open())]


def start_seconds(sandboxed: bool, times: int) -> float:
    """Median seconds from starting a runner to its first reply."""
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        with sandbox.Sandbox(sandbox.Limits(threads=os.cpu_count() or 1), sandbox=sandboxed) as box:
            box.request({"op": "lookup", "names": []}, 60)
            seconds.append(time.perf_counter() - start)
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
        grade(submissions, work / "warm-up", 2, True)  # fill the page cache; not timed
        ways = {"no sandbox, --jobs 1": (1, False), "sandbox,    --jobs 1": (1, True),
                "sandbox,    --jobs 2": (2, True)}
        results = {}
        for name, (jobs, sandboxed) in ways.items():
            runs = [grade(submissions, work / "out", jobs, sandboxed) for _ in range(args.repeats)]
            results[name] = (min(seconds for seconds, _ in runs), runs[0][1])
            print(f"{name}: {results[name][0]:7.1f} s, {60 * args.students / results[name][0]:5.1f} submissions/min"
                  f"  (load average now {load()})")
        if len({repr(gradebook) for _, gradebook in results.values()}) != 1:
            raise SystemExit("the three runs wrote different gradebooks")
        bare, boxed, parallel = (results[name][0] for name in ways)
        print(f"--jobs 2 / --jobs 1: {boxed / parallel:.2f}x (target >= 1.7 on 2 cores)")
        print(f"sandbox overhead per submission: {100 * (boxed - bare) / bare:+.1f} % "
              f"({(boxed - bare) / args.students:+.2f} s; target <= 10 %)")
        plain, wrapped = start_seconds(False, 3), start_seconds(True, 3)
        print(f"starting a runner until ready: {plain:.2f} s without bubblewrap, {wrapped:.2f} s with "
              f"({wrapped - plain:+.2f} s)")
        print(f"load average after: {load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
