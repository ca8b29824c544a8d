"""Time the 3-hour plan of docs/workshop.md as written: for each notebook of its table, run the lesson sections the
plan runs and the exercise notebook with the in-class exercises done (the homework left blank), cell by cell with
a stopwatch, and count the words of what is read in class.

    PYTHONPATH=$PWD python benchmarks/workshop_times.py [--mode fast|full] [--plan "The 3-hour plan"]
                                                        [--only 02 05] [--json plan-fast.json]
    python benchmarks/workshop_times.py --summarise plan-fast.json plan-full.json   # the Markdown table of the guide

A plan row's `run` cell is "all" or the lesson's section titles in *italics* (the `## N. Title` headings, without
the number); its `skip` cell names sections left out of "all". Cells before the first section (the imports) always
run. Exercise notebooks are run from exercises/ with the in-class exercise cells replaced by solutions/' code, so
the homework cells raise "not done yet" and the cells between them use course_lib's reference
(`course_lib.reference.yours_or_reference`). Every notebook runs in a fresh kernel of this Python, on the CPU;
"kernel" is the time to start it. Any error other than a blank homework exercise's is reported: it means the plan,
as written, breaks.

What it measures is the machine's part only. The plan's minutes add a reading allowance per word and an exercise
allowance per in-class exercise, which docs/workshop.md states; those are assumptions, not timings of people.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.environment import use_this_python  # noqa: E402
from course_lib.make_exercises import checked_key, solution_regions  # noqa: E402
# the one parser of the plans' tables, the one word count and the guide's two allowances:
from tests.test_workshop import (EXERCISE_MINUTES, NOTEBOOK, WORDS_PER_MINUTE, in_class, keys_in,  # noqa: E402
                                 lesson_cells, plan_rows, words)


def timed_run(nb: nbformat.NotebookNode, chosen: list[bool], folder: Path, cell_timeout: int) -> dict:
    """Run the chosen code cells in one fresh kernel: kernel start, seconds per cell, and the errors."""
    client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True, resources={"metadata": {"path": str(folder)}})
    use_this_python(client)
    start = time.perf_counter()
    seconds, errors = {}, {}
    with client.setup_kernel():
        kernel = time.perf_counter() - start
        for index, (cell, run) in enumerate(zip(nb.cells, chosen)):
            if cell.cell_type != "code" or not run:
                continue
            began = time.perf_counter()
            client.execute_cell(cell, index)
            seconds[cell["id"]] = time.perf_counter() - began
            for out in cell.outputs:
                if out.output_type == "error":
                    errors[cell["id"]] = f"{out.ename}: {out.evalue[:150]}"
    return {"kernel": kernel, "cells": seconds, "errors": errors}


def in_class_exercises(name: str, keys: list[str]) -> tuple[nbformat.NotebookNode, set[str]]:
    """exercises/`name` with the cells checking `keys` filled from solutions/; the ids of the homework cells."""
    solved = {c["id"]: c.source for c in nbformat.read(ROOT / "solutions" / name, as_version=4).cells
              if c.cell_type == "code" and solution_regions(c.source)}
    nb = nbformat.read(ROOT / "exercises" / name, as_version=4)
    for cell in nb.cells:
        if cell["id"] in solved and checked_key(solved[cell["id"]]) in keys:
            cell.source = solved[cell["id"]]
    return nb, {i for i, source in solved.items() if checked_key(source) not in keys}


def seconds(part: dict) -> float:
    """A run's seconds: kernel start plus every cell."""
    return part["kernel"] + sum(part["cells"].values()) if part else 0.0


def summarise(fast: dict, full: dict, plan_mode: str) -> str:
    """The guide's table: per notebook, words, measured run seconds in both modes, allowances, and their sum."""
    lines = ["| notebook | words read | reading | run, fast | run, full | in-class exercises | sum, run in "
             f"{plan_mode} mode | the plan gives |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    planned = {}
    for row in plan_rows(fast["plan"]):
        if number := NOTEBOOK.search(row["notebook"]):
            start, end = [60 * int(h) + int(m) for h, m in re.findall(r"(\d+):(\d\d)", row["time"])]
            planned[number[1]] = planned.get(number[1], 0) + end - start
    for quick, slow in zip(fast["rows"], full["rows"]):
        run = {mode: seconds(r["lesson"]) + seconds(r.get("exercises", {})) for mode, r in (("fast", quick),
                                                                                            ("full", slow))}
        reading, exercises = quick["lesson_words"] / WORDS_PER_MINUTE, EXERCISE_MINUTES * len(quick.get("in_class", []))
        total = reading + exercises + run[plan_mode] / 60
        lines.append(f"| {quick['notebook']} | {quick['lesson_words']:,} | {reading:.1f} min | {run['fast']:.0f} s | "
                     f"{run['full']:.0f} s | {len(quick.get('in_class', []))} × {EXERCISE_MINUTES} min | "
                     f"{total:.1f} min | {planned[quick['notebook']]} min |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["full", "fast"], default="fast")
    parser.add_argument("--plan", default="The 3-hour plan", help="the plan's section heading in docs/workshop.md")
    parser.add_argument("--only", nargs="*", default=[], help="notebook numbers, e.g. 02 05 (default: all)")
    parser.add_argument("--cell-timeout", type=int, default=1800)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--summarise", nargs=2, type=Path, metavar=("FAST_JSON", "FULL_JSON"),
                        help="print the guide's table from two earlier runs of one plan, and run nothing")
    parser.add_argument("--plan-mode", choices=["full", "fast"], default="fast", help="the mode the plan runs in")
    args = parser.parse_args(argv)
    if args.summarise:
        fast, full = (json.loads(path.read_text()) for path in args.summarise)
        print(summarise(fast, full, args.plan_mode))
        return 0
    os.environ.update(COURSE_DEVICE="cpu", MPLBACKEND="Agg")
    os.environ.pop("COURSE_FAST", None) if args.mode == "full" else os.environ.update(COURSE_FAST="1")

    load_start, results, broken = os.getloadavg(), [], False
    print(f"{args.plan}, {args.mode} mode; {os.cpu_count()} CPUs; load average {load_start[0]:.2f}")
    for row in plan_rows(args.plan):
        found = NOTEBOOK.search(row["notebook"])
        if not found or (args.only and found[1] not in args.only):
            continue
        number = found[1]
        lesson_path = next((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        lesson = nbformat.read(lesson_path, as_version=4)
        chosen = lesson_cells(lesson, row["run"], row.get("skip (send home)", ""))
        result = {"notebook": number, "time": row["time"], "lesson": timed_run(lesson, chosen, lesson_path.parent,
                                                                                args.cell_timeout),
                  "lesson_words": words([c for c, run in zip(lesson.cells, chosen) if run])}
        keys = [k for k in in_class([row]) if k.startswith(number[:2])]  # 05b's exercises are in 05's notebook
        exercise_paths = list((ROOT / "exercises").glob(f"{number[:2]}_*.ipynb"))
        if keys and exercise_paths:
            nb, homework = in_class_exercises(exercise_paths[0].name, keys)
            result["exercises"] = timed_run(nb, [True] * len(nb.cells), ROOT / "exercises", args.cell_timeout)
            result["exercises"]["errors"] = {i: e for i, e in result["exercises"]["errors"].items()
                                             if not (i in homework and "not done yet" in e)}
            result["in_class"] = keys
        lesson_s = sum(result["lesson"]["cells"].values()) + result["lesson"]["kernel"]
        exercise_s = sum(result.get("exercises", {}).get("cells", {}).values()) + result.get(
            "exercises", {}).get("kernel", 0.0)
        slowest = max(result["lesson"]["cells"].items(), key=lambda item: item[1], default=("-", 0.0))
        errors = {**result["lesson"]["errors"], **result.get("exercises", {}).get("errors", {})}
        broken |= bool(errors)
        print(f"{number}: lesson {lesson_s:6.1f} s ({sum(chosen)}/{len(chosen)} cells, {result['lesson_words']} "
              f"words; slowest cell {slowest[0]} {slowest[1]:.1f} s); exercises {keys_in(' '.join(keys))} "
              f"{exercise_s:6.1f} s; errors: {errors or 'none'}", flush=True)
        results.append(result)
    load_end = os.getloadavg()
    print(f"load average at the end {load_end[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"mode": args.mode, "plan": args.plan, "load_start": load_start,
                                         "load_end": load_end, "rows": results}, indent=1) + "\n")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
