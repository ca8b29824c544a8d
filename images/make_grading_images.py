"""Render what the grader hands back, for docs/instructors.md, into images/grading/:

    PYTHONPATH=$PWD python images/make_grading_images.py

A made-up class of four on Canvas (one late, one regraded by hand, one who handed in nothing, one not on the
roster) and the same class on Moodle, graded from Grade records built here (no notebook runs), through the same
functions the grader uses; each file is drawn as it is, cell by cell or line by line.
"""
import csv
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from course_lib.grading import lms, overrides, report
from course_lib.grading.assignment import Assignment, LatePolicy
from course_lib.grading.ingest import Submission
from course_lib.grading.submission import Grade

HERE = Path(__file__).resolve().parent / "grading"
PLAN = Assignment("00", {"00.1": 2, "00.2": 1, "00.3": 1}, "Warm-up", datetime(2026, 12, 9, 22, 59, tzinfo=timezone.utc),
                  "Europe/Berlin", LatePolicy(penalty_per_day=10, cap=50, grace=timedelta(minutes=15)))
CANVAS = """Student,ID,SIS User ID,SIS Login ID,Section,Warm-up (4567),Current Points
    Points Possible,,,,,4.00,(read only)
"Lovelace, Ada",1001,S1,ada@uni.edu,Section A,,
"Babbage, Charles",1002,S2,cb@uni.edu,Section B,,
"Hopper, Grace",1003,S3,gh@uni.edu,Section A,,
"Turing, Alan",1004,S4,at@uni.edu,Section B,,
"""
MOODLE = "Identifier," + ",".join(lms.MOODLE_COLUMNS[1:]) + "\n" + "".join(
    f"Participant {pid},{name},{mail},Submitted for grading,,100.00,Yes,\"Wednesday, 9 December 2026, 10:00 PM\",-,\n"
    for pid, name, mail in [(501, "Ada Lovelace", "ada@uni.edu"), (502, "Charles Babbage", "cb@uni.edu"),
                            (503, "Grace Hopper", "gh@uni.edu"), (504, "Alan Turing", "at@uni.edu")])
MESSAGE = {"passed": "[{k}] passed", "failed": "[{k}] tried: on_fraction(3 random images)\n  expected: a tensor of shape (3,)\n"
           "  got:      a tensor of shape (3, 1)\n  hint:     average over the pixels of each image, not over the batch"}


def _grade(student: str, passed: list[bool]) -> Grade:
    keys = PLAN.keys
    return Grade(student, {k: ("passed" if ok else "failed", int(PLAN.points[k]) if ok else 0,
                               MESSAGE["passed" if ok else "failed"].format(k=k)) for k, ok in zip(keys, passed)})


def _class(out: Path, roster_text: str, ids: list[str]) -> None:
    (out / "roster.csv").write_text(roster_text)
    roster = lms.read_roster(out / "roster.csv")
    subs = {key: Submission(key, name, None, platform_id=pid, submission_id=f"77{i}", submitted_at=at)
            for i, (key, name, pid, at) in enumerate([
                ("ada", "Ada Lovelace", ids[0], PLAN.deadline - timedelta(hours=2)),
                ("charles", "Charles Babbage", ids[1], PLAN.deadline + timedelta(hours=26)),
                ("alan", "Alan Turing", ids[3], PLAN.deadline - timedelta(days=1)),
                ("zed", "Zed Unknown", "", PLAN.deadline)])}
    (out / "overrides.csv").write_text("student,exercise,points,adjustment,comment\n"
                                       "alan,00.3,0.5,,Right idea; divided by the batch size instead of the pixels.\n")
    rows = overrides.read(out / "overrides.csv")
    grades = [_grade("ada", [True, True, True]), _grade("charles", [True, True, False]),
              _grade("alan", [True, True, False]), _grade("zed", [True, False, False])]
    lines, unmatched = report.make_lines(grades, PLAN, subs, rows, roster)
    report.write_outputs(lines, PLAN, out, True, roster, unmatched)


def draw_table(csv_path: Path, png: Path, title: str, widths: dict[int, float] = {}) -> None:
    rows = list(csv.reader(csv_path.open(newline="")))
    fig, ax = plt.subplots(figsize=(min(16, 1.1 * len(rows[0]) + 1), 0.45 * len(rows) + 0.9))
    ax.axis("off")
    table = ax.table(cellText=[[c[:48] for c in r] for r in rows[1:]], colLabels=rows[0], loc="center",
                     cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(list(range(len(rows[0]))))
    for (row, _), cell in table.get_celld().items():
        cell.set_height(0.8 / len(rows))
        if row == 0:
            cell.set_facecolor("#dde6f0")
    ax.set_title(title, fontsize=10)
    fig.savefig(png, dpi=130, bbox_inches="tight")
    plt.close(fig)


def draw_text(path: Path, png: Path, title: str) -> None:
    lines = path.read_text().splitlines()
    fig, ax = plt.subplots(figsize=(9, 0.19 * len(lines) + 0.8))
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), family="monospace", fontsize=8, va="top", transform=ax.transAxes)
    ax.set_title(title, fontsize=10, loc="left")
    fig.savefig(png, dpi=130, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        canvas, moodle = Path(folder, "canvas"), Path(folder, "moodle")
        canvas.mkdir(), moodle.mkdir()
        _class(canvas, CANVAS, ["1001", "1002", "1003", "1004"])
        _class(moodle, MOODLE, ["501", "502", "503", "504"])
        draw_table(canvas / "gradebook.csv", HERE / "gradebook.png", "grades/gradebook.csv (with a Canvas roster)")
        draw_table(canvas / "canvas_import.csv", HERE / "canvas_import.png", "grades/canvas_import.csv")
        draw_table(moodle / "moodle_grading_worksheet.csv", HERE / "moodle_worksheet.png",
                   "grades/moodle_grading_worksheet.csv")
        draw_text(canvas / "feedback" / "charles.md", HERE / "feedback.png", "grades/feedback/charles.md")


if __name__ == "__main__":
    main()
