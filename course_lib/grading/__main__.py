"""The command line: `python -m course_lib.grading SUBMISSIONS_DIR --out OUT_DIR [...]` (see --help)."""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from course_lib.grading import __doc__ as GRADING_DOC
from course_lib.grading import assignment as assignments, lms
from course_lib.grading.batch import grade_folder
from course_lib.grading.ingest import LAYOUTS
from course_lib.grading.submission import Settings
from course_lib.grading.sandbox import Limits, SandboxUnavailable


def _size(text: str) -> int:
    """Bytes from '4G', '512M', '100k' or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write e.g. 4G, 512M or 1000000")
    return int(float(match[1]) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match[2].lower()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading", description=GRADING_DOC.split("\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder or .zip: a platform's download, <student>.ipynb "
                                                       "files or <student>/ folders")
    parser.add_argument("--out", type=Path, required=True, help="where gradebook.csv and feedback/ are written")
    parser.add_argument("--assignment", help="notebook number, e.g. 02 (default: the one most students handed "
                        "in; for nbgrader, also the assignment folder's name), or an assignment file, e.g. "
                        "assignments/02_homework.toml (exercises, points, deadline, late policy)")
    parser.add_argument("--layout", choices=LAYOUTS, help="how the download is laid out (default: detected)")
    parser.add_argument("--attempts", choices=("latest", "all"), default="latest",
                        help="grade each student's latest attempt (default) or every attempt")
    parser.add_argument("--roster", type=Path, help="the platform's roster: a Canvas gradebook export, a Moodle "
                        "grading worksheet, or a CSV id,name,email,section; writes the file the platform imports")
    parser.add_argument("--overrides", type=Path, help="manual grades, a CSV student,exercise,points,adjustment,"
                        "comment (default: OUT/overrides.csv if it exists; never written by the grader)")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    parser.add_argument("--full", action="store_true", help="run notebooks in full mode (default: COURSE_FAST=1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once, one sandbox each (default: the number of cores)")
    parser.add_argument("--resume", action="store_true",
                        help="grade only the submissions not graded into --out yet, or graded by other checks")
    parser.add_argument("--memory", type=_size, default=Limits.memory, help="memory per sandbox (default 4G)")
    parser.add_argument("--disk", type=_size, default=Limits.disk, help="what a sandbox may write (default 512M)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions without a sandbox, with all your rights (stated in every output)")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe or `tee`
    if args.cell_timeout <= 0 or args.timeout <= 0 or args.jobs < 1:
        parser.error("--cell-timeout and --timeout must be positive numbers of seconds, --jobs at least 1.")
    if args.out.resolve().is_relative_to(args.submissions.resolve()):
        parser.error(f"--out {args.out} is inside the submissions folder; choose a folder outside it.")
    settings = Settings(args.cell_timeout, args.timeout, not args.full, replace(Limits(), memory=args.memory,
                        disk=args.disk), sandbox=not args.no_sandbox)
    if args.overrides is not None and not args.overrides.is_file():
        parser.error(f"--overrides {args.overrides} is not a file.")
    try:
        is_file = args.assignment is not None and (args.assignment.endswith(".toml") or Path(args.assignment).is_file())
        plan = assignments.load(Path(args.assignment)) if is_file else args.assignment  # NN, or nbgrader's folder
        roster = lms.read_roster(args.roster) if args.roster else None
        grade_folder(args.submissions, args.out, assignment=plan, settings=settings, jobs=args.jobs,
                     resume=args.resume, layout=args.layout, attempts=args.attempts, roster=roster,
                     overrides=args.overrides)
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        parser.error(str(err))
    except KeyboardInterrupt:
        print(f"\nstopped: every sandbox is closed; the students graded so far are kept in {args.out / '.grading'}. "
              "Run the same command with --resume to grade the rest.", file=sys.stderr)
        return 130
    names = ["gradebook.csv", "feedback/", "ingest.csv"] + ([*lms.EXPORTS[roster.platform], "unmatched.txt"]
                                                            if roster else [])
    print(f"wrote {', '.join(str(args.out / name) for name in names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
