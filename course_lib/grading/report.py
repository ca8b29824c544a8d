"""What grading hands back: one feedback file per student and the gradebook."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from course_lib import checks
from course_lib.data import write_atomic
from course_lib.grading.submission import Grade

NO_SANDBOX = "graded WITHOUT a sandbox (--no-sandbox): the submissions ran with all of the instructor's rights"


def safe_cell(text: str) -> str:
    """A spreadsheet cell that cannot become a formula: text starting with = + - @, a tab or CR gets a ' first."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def fenced(text: str) -> str:
    """`text` as a Markdown code block whose fence is longer than any run of backticks in it: whatever a
    submission made its messages say, the feedback shows it as text (no headings, links or images)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def points(value: float) -> str:
    """Points as the gradebook writes them: up to 2 decimals, no trailing zeros (2, 0.5, 1.33)."""
    return f"{round(value, 2):g}"


def write_outputs(grades: list[Grade], keys: list[str], out: Path, assignment: str, sandboxed: bool = True) -> None:
    """OUT/feedback/<student>.md, then OUT/gradebook.csv, each written atomically."""
    maximum = sum(checks.get(key).points for key in keys)
    for g in grades:
        lines = [f"# Feedback for {g.student}: {points(g.total)}/{maximum} points (notebook {assignment})", ""]
        lines += [] if sandboxed else [f"**Note:** {NO_SANDBOX}.", ""]
        lines += [f"Graded by the checks {g.checks}.", ""] if g.checks else []
        for key in keys:
            status, got, message = g.results[key]
            lines += [f"## {key} {checks.get(key).title}: {points(got)}/{checks.get(key).points}", "", fenced(message),
                      ""]
        if g.notes:
            lines += ["## What else happened when your notebook ran", "",
                      fenced("\n".join(f"- {note}" for note in g.notes)), ""]
        text = "\n".join(lines).rstrip("\n") + "\n"
        write_atomic(out / "feedback" / f"{g.student}.md", text.encode("utf-8", "replace"))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *keys, "total", "max", "checks"] + ([] if sandboxed else ["note"]))
    for g in grades:
        writer.writerow([safe_cell(g.student), *(points(g.results[key][1]) for key in keys), points(g.total), maximum,
                         safe_cell(g.checks)] + ([] if sandboxed else [NO_SANDBOX]))
    write_atomic(out / "gradebook.csv", table.getvalue().encode("utf-8", "replace"))


