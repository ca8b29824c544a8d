"""Assignment files: fields checked with errors naming them, exercise subsets and points, the late policy."""
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from course_lib.grading import assignment, report
from course_lib.grading.ingest import Submission
from course_lib.grading.submission import Grade

ROOT = Path(__file__).resolve().parents[1]
UTC = timezone.utc

HOMEWORK = """name = "Homework 02"
notebook = "02"
deadline = 2026-12-09T23:59:00
timezone = "Europe/Berlin"

[exercises]
"02.1" = 3
"02.3" = 2

[late]
penalty_per_day = 10
cap = 25
grace_minutes = 15
"""


def _load(tmp_path, text: str) -> assignment.Assignment:
    path = tmp_path / "a.toml"
    path.write_text(text)
    return assignment.load(path)


def test_a_homework_file_names_its_exercises_points_deadline_and_policy(tmp_path):
    a = _load(tmp_path, HOMEWORK)
    assert a.keys == ["02.1", "02.3"] and a.points == {"02.1": 3.0, "02.3": 2.0} and a.maximum == 5
    assert a.deadline == datetime(2026, 12, 9, 22, 59, tzinfo=UTC)  # Berlin is UTC+1 in December
    assert a.late == assignment.LatePolicy(10, 25, timedelta(minutes=15)) and a.title == "Homework 02"


def test_a_list_of_exercises_keeps_the_registrys_points_and_no_exercises_means_all(tmp_path):
    assert _load(tmp_path, 'notebook = "00"\nexercises = ["00.3", "00.1"]').points == {"00.1": 2, "00.3": 1}
    assert _load(tmp_path, 'notebook = "00"').points == {"00.1": 2, "00.2": 1, "00.3": 1}


@pytest.mark.parametrize("minutes_late, percent", [
    (-60, 0), (15, 0),             # on time; within the grace
    (16, 10), (24 * 60, 10),       # a started day
    (24 * 60 + 1, 20),             # a second day starts
    (10 * 24 * 60, 25),            # capped
])
def test_the_late_penalty_counts_started_days_after_the_grace_and_stops_at_the_cap(tmp_path, minutes_late, percent):
    a = _load(tmp_path, HOMEWORK)
    assert a.penalty_percent(a.deadline + timedelta(minutes=minutes_late)) == percent


def test_the_deadline_is_wall_clock_time_in_its_zone_even_on_the_day_the_clocks_change(tmp_path):
    a = _load(tmp_path, HOMEWORK.replace("2026-12-09T23:59:00", "2026-03-29T12:00:00"))
    assert a.deadline == datetime(2026, 3, 29, 10, 0, tzinfo=UTC)  # summer time began at 02:00: UTC+2, not +1
    assert a.days_late(datetime(2026, 3, 29, 10, 30, tzinfo=UTC)) == 1  # on time if the offset were still +1
    # the platform's time in any zone is the same instant
    assert a.days_late(datetime(2026, 3, 29, 6, 10, tzinfo=ZoneInfo("America/New_York"))) == 0
    with pytest.raises(assignment.AssignmentError, match="deadline: 2026-03-29 02:30 happens twice or not at all"):
        _load(tmp_path, HOMEWORK.replace("2026-12-09T23:59:00", "2026-03-29T02:30:00"))


def test_a_submission_without_a_time_is_on_time_and_a_naive_time_is_refused(tmp_path):
    a = _load(tmp_path, HOMEWORK)
    assert a.penalty_percent(None) == 0
    with pytest.raises(ValueError, match="no time zone"):
        a.days_late(datetime(2026, 12, 11))


@pytest.mark.parametrize("change, message", [
    (("notebook = \"02\"", "notebook = 2"), "notebook: 2 is not a notebook number"),
    (("timezone = \"Europe/Berlin\"", "timezone = \"Berlin\""), "timezone: 'Berlin' is not a time zone"),
    (("\"02.3\" = 2", "\"02.99\" = 2"), "exercises.02.99: notebook's exercises are 02.1, 02.2"),
    (("\"02.3\" = 2", "\"02.3\" = -2"), "exercises.02.3: points must be a positive number"),
    (("cap = 25", "cap = 250"), "late.cap: 250 is not a number of percent"),
    (("grace_minutes", "grace"), "late.grace: unknown field"),
    (("deadline = 2026-12-09T23:59:00\n", ""), "late: a late policy needs a deadline"),
    (("deadline = 2026-12-09T23:59:00", "deadline = \"next friday\""), "deadline: write a date and time"),
    (("name =", "title ="), "title: unknown field"),
    (("[late]", "[late"), "not valid TOML"),
])
def test_a_bad_field_gets_an_error_that_names_it(tmp_path, change, message):
    with pytest.raises(assignment.AssignmentError, match=message.replace(".", r"\.").replace("(", r"\(")):
        _load(tmp_path, HOMEWORK.replace(*change))


def test_every_assignment_file_of_the_repository_loads_and_names_its_own_notebook():
    files = sorted((ROOT / "assignments").glob("*.toml"))
    assert len(files) == 7
    for path in files:
        a = assignment.load(path)
        assert path.name.startswith(a.notebook) and a.keys and a.name


def test_only_the_chosen_exercises_are_graded_at_the_files_points_less_the_late_penalty(tmp_path):
    a = _load(tmp_path, HOMEWORK)
    grade = Grade("ada", {"02.1": ("passed", 1, "ok"), "02.3": ("failed", 0, "wrong")})
    late = Submission("ada", "Ada", None, submitted_at=a.deadline + timedelta(hours=30))
    [line], _ = report.make_lines([grade], a, {"ada": late})
    assert line.points == {"02.1": 3.0, "02.3": 0.0}  # 02.1 is worth 1 in the registry, 3 here
    assert (line.days_late, line.penalty, line.total, line.status) == (2, 0.6, 2.4, "late")
    report.write_outputs([line], a, tmp_path)
    assert (tmp_path / "gradebook.csv").read_text().splitlines() == [
        "student,02.1,02.3,total,max,status,days_late,late_penalty,adjustment,id,name,section,flags,checks",
        "ada,3,0,2.4,5,late,2,0.6,0,,Ada,,,"]
    text = (tmp_path / "feedback" / "ada.md").read_text()
    assert text.startswith("# Feedback for ada: 2.4/5 points (Homework 02)")
    assert "Submitted 2026-12-11 05:59 (Europe/Berlin), 2 day(s) after the deadline 2026-12-09 23:59: 20%" in text
    assert "02.2" not in text
    utc_deadline = assignment.Assignment("02", a.points, "Homework 02", a.deadline.astimezone(UTC), "Europe/Berlin",
                                         a.late)  # the same instant: the feedback still speaks Berlin time
    assert "Submitted 2026-12-11 05:59 (Europe/Berlin)" in report.feedback(line, utc_deadline)
