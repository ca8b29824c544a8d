"""Manual grades: a CSV file the instructor keeps, applied after the automatic grades on every run.

    student,exercise,points,adjustment,comment
    ada,02.3,1.5,,"Right idea, off by a factor of two: half the points."
    bob,total,,+1,"Bonus for the clearest plots."
    cy,total,,10,"Deadline extended (medical): late penalty given back."
    dee,02.1,2,,"Handed in on paper, graded by hand."

Default place: OUT/overrides.csv (or `--overrides FILE`). The grader only reads it, so it survives every rerun
and `--resume`. Each row names a `student` (the gradebook's `student` column; a roster student who handed in
nothing by the roster's id) and an `exercise`: an exercise key, or `total`. Give exactly one of

- `points`: the exercise's points (0 to its maximum), replacing the automatic ones; for `total`, the final total;
- `adjustment`: points added (negative: taken off), to the exercise or, for `total`, after the late penalty.

The `comment` goes into the student's feedback and the platform's feedback comment. Rows apply in file order.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("student", "exercise", "points", "adjustment", "comment")
TOTAL = "total"


class OverridesError(ValueError):
    """A row of the overrides file cannot be used; the message names the file, the line and the column."""


@dataclass(frozen=True)
class Override:
    """One manual grade: line (in the file), student, exercise (a key or "total"), points or adjustment, comment."""

    line: int
    student: str
    exercise: str
    points: float | None
    adjustment: float | None
    comment: str


def read(path: Path) -> list[Override]:
    """The rows of `path` (an empty list when it does not exist); OverridesError on a malformed row."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in ("student", "exercise") if name not in header]
        extra = [name for name in header if name not in COLUMNS]
        if missing or extra or not {"points", "adjustment"} & set(header):
            raise OverridesError(f"{path}, line 1: the header must name the columns {','.join(COLUMNS)} "
                                 f"(points or adjustment may be left out, not both); it is {','.join(header)!r}.")
        found = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            found.append(_row(path, reader.line_num, dict(zip(header, (cell.strip() for cell in row))),
                              len(row) - len(header)))
    return found


def _row(path: Path, line: int, cells: dict[str, str], surplus: int) -> Override:
    def fail(column: str, what: str) -> OverridesError:
        return OverridesError(f"{path}, line {line}, column {column}: {what}")

    if surplus > 0:
        raise fail("comment", "more cells than the header has columns; put a comment with commas in double quotes.")
    for column in ("student", "exercise"):
        if not cells.get(column):
            raise fail(column, "is empty.")
    numbers = {}
    for column in ("points", "adjustment"):
        text = cells.get(column, "")
        try:
            numbers[column] = float(text) if text else None
        except ValueError:
            raise fail(column, f"{text!r} is not a number (write e.g. 1.5 or -2).") from None
        if numbers[column] is not None and not math.isfinite(numbers[column]):
            raise fail(column, f"{text!r} is not a finite number.")
    if (numbers["points"] is None) == (numbers["adjustment"] is None):
        raise fail("points", "give exactly one of points (the new points) and adjustment (points added).")
    if numbers["points"] is not None and numbers["points"] < 0:
        raise fail("points", f"{cells['points']} is negative; points go from 0 up (use adjustment to take some off).")
    return Override(line, cells["student"], cells["exercise"], numbers["points"], numbers["adjustment"],
                    cells.get("comment", ""))


def check(overrides: list[Override], path: Path, students: set[str], points: dict[str, float]) -> None:
    """Refuse rows naming an unknown student or exercise, or more points than an exercise is worth."""
    for o in overrides:
        where = f"{path}, line {o.line}"
        if o.student not in students:
            raise OverridesError(f"{where}, column student: {o.student!r} is neither a student whose work was found "
                                 "nor a roster id.")
        if o.exercise != TOTAL and o.exercise not in points:
            raise OverridesError(f"{where}, column exercise: {o.exercise!r} is not graded in this assignment; write "
                                 f"one of {', '.join(points)} or {TOTAL}.")
        if o.exercise != TOTAL and o.points is not None and o.points > points[o.exercise]:
            raise OverridesError(f"{where}, column points: {o.exercise} is worth at most {points[o.exercise]:g}; use "
                                 "a total adjustment for a bonus.")


def apply(rows: list[Override], points: dict[str, float]) -> tuple[dict[str, float], float, float | None, list[str]]:
    """Apply one student's rows: (points per exercise, adjustment to the total, total set by hand or None, comments).

    points: the automatic points per exercise (not changed). The total is then `set` (if not None) or the
    points' sum less the late penalty, plus `adjustment` (rows after a `set` add to it).
    """
    points, adjustment, total, comments = dict(points), 0.0, None, []
    for o in rows:
        if o.exercise == TOTAL:
            if o.points is not None:
                total, adjustment = o.points, 0.0
            else:
                adjustment += o.adjustment
        elif o.points is not None:
            points[o.exercise] = o.points
        else:
            points[o.exercise] = points[o.exercise] + o.adjustment
        change = f"set to {o.points:g}" if o.points is not None else f"{o.adjustment:+g}"
        comments.append(f"{o.exercise}: {change} by the instructor" + (f": {o.comment}" if o.comment else "."))
    return points, adjustment, total, comments
