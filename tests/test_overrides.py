"""Manual grades: read from a CSV the grader never writes, checked row by row, applied after the automatic grades."""
import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from course_lib.grading import __main__ as cli, overrides, report
from course_lib.grading.assignment import Assignment, LatePolicy
from course_lib.grading.ingest import Submission
from course_lib.grading.submission import Grade

ROOT = Path(__file__).resolve().parents[1]
PLAN = Assignment("00", {"00.1": 2, "00.2": 1, "00.3": 1}, "Warm-up",
                  datetime(2026, 12, 9, 12, tzinfo=timezone.utc), late=LatePolicy(penalty_per_day=50))
FULL = {"00.1": ("passed", 2, "ok"), "00.2": ("passed", 1, "ok"), "00.3": ("failed", 0, "wrong")}
HEADER = "student,exercise,points,adjustment,comment\n"


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "overrides.csv"
    path.write_text(text)
    return path


def _line(tmp_path, rows: str, submitted_at=None) -> report.Line:
    path = _write(tmp_path, HEADER + rows)
    found = overrides.read(path)
    overrides.check(found, path, {"ada"}, PLAN.points)
    [line], _ = report.make_lines([Grade("ada", dict(FULL))], PLAN, {"ada": Submission("ada", "Ada", None,
                                                                                      submitted_at=submitted_at)}, found)
    return line


def test_points_replace_an_exercises_automatic_points_and_the_comment_reaches_the_feedback(tmp_path):
    line = _line(tmp_path, 'ada,00.3,0.5,,"Right idea, wrong axis"\n')
    assert (line.points["00.3"], line.total, line.status) == (0.5, 3.5, "submitted+override")
    assert line.comments == ["00.3: set to 0.5 by the instructor: Right idea, wrong axis"]
    report.write_outputs([line], PLAN, tmp_path)
    assert "Right idea, wrong axis" in (tmp_path / "feedback" / "ada.md").read_text()
    assert (tmp_path / "gradebook.csv").read_text().splitlines()[1] == \
        "ada,2,1,0.5,3.5,4,submitted+override,0,0,0,,Ada,,,"


def test_a_total_adjustment_comes_after_the_late_penalty_and_a_set_total_replaces_everything(tmp_path):
    late = PLAN.deadline + timedelta(hours=3)  # one day: -50% of 3 points
    line = _line(tmp_path, "ada,total,,+1.5,extension granted\n", late)
    assert (line.penalty, line.adjustment, line.total, line.status) == (1.5, 1.5, 3.0, "late+override")
    assert _line(tmp_path, "ada,total,4,,\nada,total,,-1,\n", late).total == 3.0


def test_rows_of_other_students_do_not_apply_and_an_exercise_adjustment_adds(tmp_path):
    path = _write(tmp_path, HEADER + "ada,00.3,,+1,\nbob,00.1,0,,\n")
    found = overrides.read(path)
    overrides.check(found, path, {"ada", "bob"}, PLAN.points)
    lines, _ = report.make_lines([Grade("ada", dict(FULL)), Grade("bob", dict(FULL))], PLAN, None, found)
    assert [(l.points["00.1"], l.points["00.3"], l.total) for l in lines] == [(2, 1, 4), (0, 0, 1)]


@pytest.mark.parametrize("text, message", [
    ("student,exercise,comment\n", "line 1: the header must name the columns"),
    (HEADER + "ada,00.1,two,,\n", "line 2, column points: 'two' is not a number"),
    (HEADER + "ada,00.1,1,1,\n", "line 2, column points: give exactly one of points"),
    (HEADER + "\nada,00.1,,,\n", "line 3, column points: give exactly one of points"),
    (HEADER + ",00.1,1,,\n", "line 2, column student: is empty"),
    (HEADER + "ada,00.1,-1,,\n", "line 2, column points: -1 is negative"),
    (HEADER + "ada,00.1,1,,a comment, with a comma\n", "line 2, column comment: more cells than the header"),
    (HEADER + "ada,00.1,nan,,\n", "line 2, column points: 'nan' is not a finite number"),
])
def test_a_bad_row_gets_an_error_naming_its_line_and_column(tmp_path, text, message):
    with pytest.raises(overrides.OverridesError, match=message):
        overrides.read(_write(tmp_path, text))


@pytest.mark.parametrize("row, message", [
    ("eve,00.1,1,,", "line 2, column student: 'eve' is neither"),
    ("ada,02.1,1,,", "line 2, column exercise: '02.1' is not graded in this assignment"),
    ("ada,00.2,2,,", "line 2, column points: 00.2 is worth at most 1"),
])
def test_a_row_naming_an_unknown_student_or_exercise_or_too_many_points_is_refused(tmp_path, row, message):
    path = _write(tmp_path, HEADER + row + "\n")
    with pytest.raises(overrides.OverridesError, match=message):
        overrides.check(overrides.read(path), path, {"ada"}, PLAN.points)


def test_overrides_survive_a_rerun_and_resume_and_the_grader_never_writes_them(tmp_path, capsys):
    """End to end, without a sandbox: grade, add manual grades, rerun with --resume (nothing graded again)."""
    submitted = tmp_path / "in"
    submitted.mkdir()
    (submitted / "ada.ipynb").write_bytes((ROOT / "solutions" / "00_warmup.ipynb").read_bytes())
    out = tmp_path / "out"
    command = [str(submitted), "--out", str(out), "--no-sandbox", "--jobs", "1",
               "--assignment", str(ROOT / "assignments" / "00_warmup.toml")]
    assert cli.main(command) == 0
    first = list(csv.reader((out / "gradebook.csv").open()))
    assert first[1][:7] == ["ada", "2", "1", "1", "4", "4", "submitted"]
    manual = HEADER + "ada,00.1,1,,plotted the wrong image\nada,total,,+0.5,bonus\n"
    (out / "overrides.csv").write_text(manual)
    capsys.readouterr()
    assert cli.main(command + ["--resume"]) == 0
    assert "grading 0 of 1 submissions" in capsys.readouterr().out
    rows = list(csv.reader((out / "gradebook.csv").open()))
    assert rows[1][:10] == ["ada", "1", "1", "1", "3.5", "4", "submitted+override", "0", "0", "0.5"]
    assert (out / "overrides.csv").read_text() == manual
    assert "plotted the wrong image" in (out / "feedback" / "ada.md").read_text()
