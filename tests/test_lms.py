"""Rosters of Canvas, Moodle and plain CSV in; the files each platform imports and its feedback bundles out.

The column names are those of the platforms' documented formats (course_lib/grading/lms.py says which guides);
each export is compared with the exact file expected, column by column.
"""
import csv
import zipfile
from datetime import datetime, timezone

import pytest

from course_lib.grading import lms, report
from course_lib.grading.assignment import Assignment, LatePolicy
from course_lib.grading.ingest import Submission
from course_lib.grading.submission import Grade

PLAN = Assignment("00", {"00.1": 2, "00.2": 1, "00.3": 1}, "Warm-up")

CANVAS = """Student,ID,SIS User ID,SIS Login ID,Section,Homework 01 (4566),Warm-up (4567),Current Points,Final Points
    Points Possible,,,,,4.00,8.00,(read only),(read only)
"Lovelace, Ada",1001,S1,ada@uni.edu,Section A,4.00,,4.00,4.00
"Babbage, Charles",1002,S2,cb@uni.edu,Section B,3.00,,3.00,3.00
"Hopper, Grace",1003,S3,gh@uni.edu,Section A,,,0.00,0.00
"""

MOODLE = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 501,Ada Lovelace,ada@uni.edu,Submitted for grading,,100.00,Yes,"Monday, 7 December 2026, 10:00 AM",-,
Participant 502,Charles Babbage,cb@uni.edu,Submitted for grading,,100.00,Yes,"Monday, 7 December 2026, 11:00 AM",-,
Participant 503,Grace Hopper,gh@uni.edu,No submission,,100.00,Yes,-,-,
"""

PLAIN = "id,name,email,section\nada,Ada Lovelace,ada@uni.edu,A\ncb,Charles Babbage,cb@uni.edu,B\ngh,Grace Hopper,,A\n"


def _grades():
    return [Grade("ada", {"00.1": ("passed", 2, ""), "00.2": ("passed", 1, ""), "00.3": ("passed", 1, "")}),
            Grade("charles", {"00.1": ("passed", 2, ""), "00.2": ("failed", 0, ""), "00.3": ("failed", 0, "")}),
            Grade("zed", {"00.1": ("passed", 2, ""), "00.2": ("passed", 1, ""), "00.3": ("failed", 0, "")})]


def _export(tmp_path, roster_text: str, ids: dict[str, str]):
    path = tmp_path / "roster.csv"
    path.write_text(roster_text)
    roster = lms.read_roster(path)
    subs = {key: Submission(key, name, None, platform_id=ids.get(key, ""), submission_id=f"90{i}")
            for i, (key, name) in enumerate([("ada", "Ada Lovelace"), ("charles", "Charles Babbage"),
                                              ("zed", "Zed Unknown")])}
    lines, unmatched = report.make_lines(_grades(), PLAN, subs, [], roster)
    report.write_outputs(lines, PLAN, tmp_path, True, roster, unmatched)
    return roster, lines, unmatched


def _rows(path):
    return list(csv.reader(path.open(newline="")))


def test_canvas_import_has_the_exports_identity_columns_points_possible_and_the_assignments_column(tmp_path):
    roster, lines, unmatched = _export(tmp_path, CANVAS, {"ada": "1001", "charles": "1002", "zed": "77"})
    assert roster.platform == "canvas" and [s.id for s in roster.students] == ["1001", "1002", "1003"]
    assert _rows(tmp_path / "canvas_import.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Warm-up (4567)"],  # the column, id kept
        ["    Points Possible", "", "", "", "", "8.00"],
        ["Lovelace, Ada", "1001", "S1", "ada@uni.edu", "Section A", "8"],        # 4/4 points, scaled to 8
        ["Babbage, Charles", "1002", "S2", "cb@uni.edu", "Section B", "4"],
        ["Hopper, Grace", "1003", "S3", "gh@uni.edu", "Section A", "0"],         # handed in nothing
    ]
    assert unmatched == ["zed"] and "zed (Zed Unknown)" in (tmp_path / "unmatched.txt").read_text()
    assert [l.status for l in lines] == ["submitted", "submitted", "missing", "submitted"]


def test_canvas_gets_a_new_column_when_no_assignment_matches_and_a_zip_named_like_its_download(tmp_path):
    _export(tmp_path, CANVAS.replace("Warm-up (4567)", "Quiz (12)"), {"ada": "1001", "charles": "1002"})
    rows = _rows(tmp_path / "canvas_import.csv")
    assert rows[0][-1] == "Warm-up" and rows[1][-1] == "4" and rows[2][-1] == "4"  # points possible: ours
    names = sorted(zipfile.ZipFile(tmp_path / "canvas_feedback.zip").namelist())
    assert names == ["babbagecharles_1002_901_feedback.txt", "lovelaceada_1001_900_feedback.txt",
                     "per_student/Babbage, Charles_1002/feedback.txt", "per_student/Hopper, Grace_1003/feedback.txt",
                     "per_student/Lovelace, Ada_1001/feedback.txt"]


def test_moodle_worksheet_comes_back_as_it_was_with_grade_and_feedback_comments(tmp_path):
    roster, _, unmatched = _export(tmp_path, MOODLE, {"ada": "501", "charles": "502"})
    assert roster.platform == "moodle" and [s.id for s in roster.students] == ["501", "502", "503"]
    given, back = _rows(tmp_path / "roster.csv"), _rows(tmp_path / "moodle_grading_worksheet.csv")
    assert back[0] == given[0] == list(lms.MOODLE_COLUMNS)
    grade, comment = lms.MOODLE_COLUMNS.index("Grade"), lms.MOODLE_COLUMNS.index("Feedback comments")
    for before, after in zip(given[1:], back[1:]):  # only Grade and Feedback comments change
        assert [c for i, c in enumerate(before) if i not in (grade, comment)] == \
            [c for i, c in enumerate(after) if i not in (grade, comment)]
    assert [row[grade] for row in back[1:]] == ["100.00", "50.00", "0.00"]  # scaled to Maximum Grade 100
    assert back[1][comment] == "4/4 points. Details: the attached feedback file."
    assert back[3][comment] == "0/4 points. No submission was found."
    assert unmatched == ["zed"]
    names = sorted(zipfile.ZipFile(tmp_path / "moodle_feedback_files.zip").namelist())
    assert names == ["Ada Lovelace_501_assignsubmission_file_/feedback.txt",
                     "Charles Babbage_502_assignsubmission_file_/feedback.txt",
                     "Grace Hopper_503_assignsubmission_file_/feedback.txt"]


def test_a_plain_roster_gives_a_gradebook_row_per_student_non_submitters_marked_then_the_unknown(tmp_path):
    _, _, unmatched = _export(tmp_path, PLAIN, {})  # ada by id, charles by name, zed by nothing
    assert _rows(tmp_path / "gradebook.csv") == [
        ["student", "00.1", "00.2", "00.3", "total", "max", "status", "days_late", "late_penalty", "adjustment",
         "id", "name", "section", "flags", "checks"],
        ["ada", "2", "1", "1", "4", "4", "submitted", "0", "0", "0", "ada", "Ada Lovelace", "A", "", ""],
        ["charles", "2", "0", "0", "2", "4", "submitted", "0", "0", "0", "cb", "Charles Babbage", "B", "", ""],
        ["gh", "0", "0", "0", "0", "4", "missing", "0", "0", "0", "gh", "Grace Hopper", "A", "", ""],
        ["zed", "2", "1", "0", "3", "4", "submitted", "0", "0", "0", "", "Zed Unknown", "", "", ""],
    ]
    assert unmatched == ["zed"] and not (tmp_path / "canvas_import.csv").exists()
    assert "No submission of yours was found" in (tmp_path / "feedback" / "gh.md").read_text()


def test_submissions_are_matched_by_platform_id_then_key_or_email_then_a_unique_name(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id,name,email\n1,Ann Lee,ann.lee@uni.edu\n2,Bo Ma,bo@uni.edu\n3,Cy Po,\n4,Cy Po,\n5,Di Wu,\n")
    roster = lms.read_roster(path)
    subs = {"x": Submission("x", "Someone", None, platform_id="5"), "ann.lee": Submission("ann.lee", "A. Lee", None),
            "bo_ma": Submission("bo_ma", "bo  MA", None), "cy": Submission("cy", "Cy Po", None),
            "Di Wu_5_assignsubmission_file_": Submission("Di Wu_5_assignsubmission_file_", "", None)}
    assert lms.match(roster, subs) == ({"5": "x", "1": "ann.lee", "2": "bo_ma"},  # 5 is taken by platform id
                                       ["cy", "Di Wu_5_assignsubmission_file_"])  # two Cy Po: neither
    del subs["x"]
    assert lms.match(roster, subs)[0]["5"] == "Di Wu_5_assignsubmission_file_"  # the id in a download's name


@pytest.mark.parametrize("text, message", [
    ("name,grade\nAda,1\n", "line 1 is 'name,grade', which is no roster we know"),
    ("id,name\n,Ada\n", "line 2, column id: empty"),
    ("id,name\na,Ada\na,Bob\n", "line 3, column id: used twice"),
    (CANVAS.replace(",1002,", ",x2,"), "line 4, column ID: 'x2' is not a Canvas user id"),
    (MOODLE.replace("Participant 502", "Someone"), "line 3, column Identifier: 'Someone' is not like"),
    ("", "the roster is empty"),
])
def test_a_roster_that_cannot_be_read_gets_an_error_naming_the_line(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(lms.RosterError, match=message):
        lms.read_roster(path)


def test_a_late_submission_shows_its_penalty_in_the_platforms_comment(tmp_path):
    plan = Assignment("00", PLAN.points, "Warm-up", datetime(2026, 12, 7, 9, tzinfo=timezone.utc),
                      late=LatePolicy(penalty_per_day=25))
    path = tmp_path / "roster.csv"
    path.write_text(MOODLE)
    roster = lms.read_roster(path)
    sub = Submission("ada", "Ada Lovelace", None, platform_id="501",
                     submitted_at=datetime(2026, 12, 7, 10, tzinfo=timezone.utc))
    lines, _ = report.make_lines(_grades()[:1], plan, {"ada": sub}, [], roster)
    report.write_outputs(lines, plan, tmp_path, True, roster, [])
    row = _rows(tmp_path / "moodle_grading_worksheet.csv")[1]
    assert row[4] == "75.00" and row[9].startswith("3/4 points. Late by 1 day(s): -1 points.")
