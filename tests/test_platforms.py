"""From a platform's download to the file it imports, through the command line instructors run (issue 20).

One batch per platform, graded in the sandbox by `python -m course_lib.grading` in a subprocess: Canvas (a zip of
its "Download Submissions" with a late file, a re-upload, a file that is not a notebook and a notebook of another
assignment, its gradebook export as the roster, then overrides and --resume), Moodle (its folders zipped, its
grading worksheet as the roster) and nbgrader (timestamp.txt against an assignment file's deadline and late
policy). The notebooks are the warm-up's three answers, cut from solutions/00_warmup.ipynb.
"""
import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import batch
from course_lib.make_exercises import make_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "00_warmup.ipynb"
ANSWERS = ("def mean_image", "def binarise", "def on_fraction")
VERSION = batch.checks_version("00", ["00.1", "00.2", "00.3"])
HEADER = "student,00.1,00.2,00.3,total,max,status,days_late,late_penalty,adjustment,id,name,section,flags,checks"


def _tiny_solution(folder: Path) -> Path:
    """The warm-up's solution cut to its imports and its three answer cells (no data loaded, no figures)."""
    nb = nbformat.read(SOLUTION, as_version=4)
    answers = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(ANSWERS)]
    assert len(answers) == 3
    nb.cells = [nbformat.v4.new_code_cell("import torch\nfrom course_lib.checks import check"), *answers]
    path = folder / "00_tiny_solution.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> dict[str, str]:
    """honest (4/4), blank (the exercise as handed out: 0/4), half (binarise with >=, which fails one of the five
    parts of 00.2 and of 00.3, built on it: 2 + 0.8 + 0.8 = 3.6/4) and other (a notebook of assignment 01)."""
    solution = _tiny_solution(tmp_path_factory.mktemp("solution"))
    honest = solution.read_text()
    half = honest.replace("images > threshold", "images >= threshold")
    assert half != honest
    other = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'from course_lib.checks import check\n\n\ndef stub(x):\n    return x\n\n\ncheck("01.1", stub)')]))
    return {"honest": honest, "blank": make_exercise(solution), "half": half, "other": other}


def _grade(submissions: Path, out: Path, *options: str, env: dict[str, str] | None = None) -> str:
    """Run the command line as an instructor would (with the sandbox); its standard output."""
    command = [sys.executable, "-m", "course_lib.grading", str(submissions), "--out", str(out), "--jobs", "2",
               "--cell-timeout", "30", "--memory", "2G", *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


# ---- Canvas -----------------------------------------------------------------------------------------------------

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,Warm-up (4567),Homework 01 (4568),Current Score
    Points Possible,,,,,8.00,10.00,
"Lovelace, Ada",1001,s1001,ada,Group A,,7.00,70
"Babbage, Bob",1002,s1002,bob,Group A,,,
"Curie, Charles",1003,s1003,charles,Group B,,,
"Dijkstra, Dora",1004,s1004,dora,Group B,,,
"Hopper, Grace",1005,s1005,grace,Group B,,9.00,90
"""

CANVAS_ASSIGNMENT = """name = "Warm-up"
notebook = "00"
deadline = 2026-12-09T23:59:00  # Canvas's download carries no times: its LATE marker shows, no penalty applies

[exercises]
"00.1" = 2
"00.2" = 1
"00.3" = 1
"""


def test_canvas_download_to_import_file_and_overrides_on_resume(tmp_path, notebooks, sandbox_works):
    download = _zip(tmp_path / "submissions.zip", {
        "lovelaceada_1001_5001_00_warmup.ipynb": notebooks["honest"],
        "babbagebob_1002_5002_00_warmup.ipynb": notebooks["blank"],  # the first upload ...
        "babbagebob_1002_5003_00_warmup-1.ipynb": notebooks["half"],  # ... and the re-upload, graded
        "babbagebob_1002_5003_notes.txt": "I ran out of time.",
        "curiecharles_LATE_1003_5004_00_warmup.ipynb": notebooks["honest"],
        "dijkstradora_1004_5005_01_homework.ipynb": notebooks["other"],
        "instructions.pdf": "%PDF-1.4",
    })
    roster = tmp_path / "grades.csv"
    roster.write_text(CANVAS_ROSTER)
    assignment = tmp_path / "warmup.toml"
    assignment.write_text(CANVAS_ASSIGNMENT)
    out = tmp_path / "out"
    options = ("--assignment", str(assignment), "--roster", str(roster))
    said = _grade(download, out, *options)
    assert "read 'submissions.zip' as canvas" in said and "grading 4 of 4 submissions" in said, said

    expected = f"""{HEADER}
lovelaceada,2,1,1,4,4,submitted,0,0,0,1001,"Lovelace, Ada",Group A,,{VERSION}
babbagebob,2,0.8,0.8,3.6,4,submitted,0,0,0,1002,"Babbage, Bob",Group A,,{VERSION}
curiecharles,2,1,1,4,4,late,0,0,0,1003,"Curie, Charles",Group B,,{VERSION}
dijkstradora,0,0,0,0,4,submitted,0,0,0,1004,"Dijkstra, Dora",Group B,,{VERSION}
1005,0,0,0,0,4,missing,0,0,0,1005,"Hopper, Grace",Group B,,
"""
    assert (out / "gradebook.csv").read_text() == expected
    assert _rows(out / "ingest.csv") == [
        ["file", "student", "status", "reason"],
        ["submissions.zip:babbagebob_1002_5002_00_warmup.ipynb", "babbagebob", "skipped",
         "an earlier attempt than submissions.zip:babbagebob_1002_5003_00_warmup-1.ipynb, which is graded "
         "(--attempts all grades each)"],
        ["submissions.zip:babbagebob_1002_5003_00_warmup-1.ipynb", "babbagebob", "graded", ""],
        ["submissions.zip:babbagebob_1002_5003_notes.txt", "babbagebob", "skipped", "not a notebook"],
        ["submissions.zip:curiecharles_LATE_1003_5004_00_warmup.ipynb", "curiecharles", "graded", ""],
        ["submissions.zip:dijkstradora_1004_5005_01_homework.ipynb", "dijkstradora", "not graded",
         "this is notebook 01; assignment 00 was expected"],
        ["submissions.zip:instructions.pdf", "", "skipped",
         "not named as Canvas names submissions (<lastfirst>_[LATE_]<user id>_<submission id>_<file>)"],
        ["submissions.zip:lovelaceada_1001_5001_00_warmup.ipynb", "lovelaceada", "graded", ""],
    ]
    # the identity columns as exported, the assignment's own column (its id kept), its Points Possible, totals
    # scaled from 4 points to Canvas's 8; the other assignment's column and the score are left out
    assert _rows(out / "canvas_import.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Warm-up (4567)"],
        ["    Points Possible", "", "", "", "", "8.00"],
        ["Lovelace, Ada", "1001", "s1001", "ada", "Group A", "8"],
        ["Babbage, Bob", "1002", "s1002", "bob", "Group A", "7.2"],
        ["Curie, Charles", "1003", "s1003", "charles", "Group B", "8"],
        ["Dijkstra, Dora", "1004", "s1004", "dora", "Group B", "0"],
        ["Hopper, Grace", "1005", "s1005", "grace", "Group B", "0"],
    ]
    with zipfile.ZipFile(out / "canvas_feedback.zip") as bundle:
        assert sorted(bundle.namelist()) == [
            "babbagebob_1002_5003_feedback.txt", "curiecharles_1003_5004_feedback.txt",
            "dijkstradora_1004_5005_feedback.txt", "lovelaceada_1001_5001_feedback.txt",
            "per_student/Babbage, Bob_1002/feedback.txt", "per_student/Curie, Charles_1003/feedback.txt",
            "per_student/Dijkstra, Dora_1004/feedback.txt", "per_student/Hopper, Grace_1005/feedback.txt",
            "per_student/Lovelace, Ada_1001/feedback.txt"]
        assert "this is notebook 01; assignment 00 was expected" in \
            bundle.read("dijkstradora_1004_5005_feedback.txt").decode()
        assert "partly right (0.8/1 points: 4 of 5 parts)" in bundle.read("babbagebob_1002_5003_feedback.txt").decode()
    assert (out / "unmatched.txt").read_text() == ""

    (out / "overrides.csv").write_text('student,exercise,points,adjustment,comment\n'
                                       'babbagebob,00.3,0.5,,"Right idea; the threshold was off by one."\n'
                                       '1005,total,3,,"Handed in on paper, graded by hand."\n')
    said = _grade(download, out, *options, "--resume")
    assert "grading 0 of 4 submissions" in said, said
    assert (out / "gradebook.csv").read_text() == expected.replace(
        "babbagebob,2,0.8,0.8,3.6,4,submitted,", "babbagebob,2,0.8,0.5,3.3,4,submitted+override,").replace(
        "1005,0,0,0,0,4,missing,", "1005,0,0,0,3,4,missing+override,")
    assert [row[-1] for row in _rows(out / "canvas_import.csv")[2:]] == ["8", "6.6", "8", "0", "6"]
    feedback = (out / "feedback" / "babbagebob.md").read_text()
    assert feedback.startswith("# Feedback for babbagebob: 3.3/4 points (Warm-up)")
    assert "- 00.3: set to 0.5 by the instructor: Right idea; the threshold was off by one." in feedback
    assert "## 00.3 the fraction of 'on' pixels in each image: 0.5/1" in feedback
    with zipfile.ZipFile(out / "canvas_feedback.zip") as bundle:
        assert "Handed in on paper, graded by hand." in bundle.read("per_student/Hopper, Grace_1005/feedback.txt").decode()
        assert bundle.read("babbagebob_1002_5003_feedback.txt").decode() == feedback


# ---- Moodle -----------------------------------------------------------------------------------------------------

MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,\
Last modified (submission),Last modified (grade),Feedback comments
Participant 2001,Ada Lovelace,ada@example.org,Submitted for grading,,100.00,Yes,"Monday, 7 December 2026, 10:00 AM",-,
Participant 2002,Bob Babbage,bob@example.org,Submitted for grading,,100.00,Yes,"Tuesday, 8 December 2026, 9:30 PM",-,
Participant 2003,Carol Shaw,carol@example.org,Submitted for grading,,100.00,No,"Tuesday, 8 December 2026, 11:00 PM",-,
Participant 2004,Dan Brown,dan@example.org,No submission,,100.00,Yes,-,-,
"""


def test_moodle_download_to_grading_worksheet_and_feedback_files(tmp_path, notebooks, sandbox_works):
    download = _zip(tmp_path / "download.zip", {
        "Ada Lovelace_2001_assignsubmission_file_/00_warmup.ipynb": notebooks["honest"],
        "Ada Lovelace_2001_assignsubmission_onlinetext_/onlinetext.html": "<p>see my notebook</p>",
        "Bob Babbage_2002_assignsubmission_file_/00_warmup.ipynb": notebooks["half"],
        "Bob Babbage_2002_assignsubmission_file_/data.csv": "1,2,3",
        "Carol Shaw_2003_assignsubmission_file_/00_warmup.ipynb": notebooks["blank"],
        "Carol Shaw_2003_assignsubmission_file_/00_warmup (1).ipynb": notebooks["blank"],  # the same, twice
    })
    worksheet = tmp_path / "Grades-Warm-up.csv"
    worksheet.write_text(MOODLE_WORKSHEET)
    out = tmp_path / "out"
    said = _grade(download, out, "--assignment", "00", "--roster", str(worksheet))
    assert "read 'download.zip' as moodle" in said and "grading 3 of 3 submissions" in said, said

    assert _rows(out / "ingest.csv") == [
        ["file", "student", "status", "reason"],
        ["download.zip:Ada Lovelace_2001_assignsubmission_file_/00_warmup.ipynb", "Ada_Lovelace", "graded", ""],
        ["download.zip:Ada Lovelace_2001_assignsubmission_onlinetext_/onlinetext.html", "", "skipped",
         "Moodle's onlinetext submission, not a file"],
        ["download.zip:Bob Babbage_2002_assignsubmission_file_/00_warmup.ipynb", "Bob_Babbage", "graded", ""],
        ["download.zip:Bob Babbage_2002_assignsubmission_file_/data.csv", "Bob_Babbage", "skipped", "not a notebook"],
        ["download.zip:Carol Shaw_2003_assignsubmission_file_/00_warmup (1).ipynb", "Carol_Shaw", "graded", ""],
        ["download.zip:Carol Shaw_2003_assignsubmission_file_/00_warmup.ipynb", "Carol_Shaw", "skipped",
         "the same bytes as download.zip:Carol Shaw_2003_assignsubmission_file_/00_warmup (1).ipynb, which is graded"],
    ]
    # every column and row as downloaded; Grade scaled from 4 points to the Maximum Grade 100; the comments
    header, *rows = _rows(worksheet)
    graded = {"2001": ("100.00", "4/4 points. Details: the attached feedback file."),
              "2002": ("90.00", "3.6/4 points. Details: the attached feedback file."),
              "2003": ("0.00", "0/4 points. Details: the attached feedback file."),
              "2004": ("0.00", "0/4 points. No submission was found.")}
    assert _rows(out / "moodle_grading_worksheet.csv") == [header] + [
        row[:4] + [graded[row[0].split()[1]][0]] + row[5:9] + [graded[row[0].split()[1]][1]] for row in rows]
    with zipfile.ZipFile(out / "moodle_feedback_files.zip") as bundle:
        assert sorted(bundle.namelist()) == [
            "Ada Lovelace_2001_assignsubmission_file_/feedback.txt", "Bob Babbage_2002_assignsubmission_file_/feedback.txt",
            "Carol Shaw_2003_assignsubmission_file_/feedback.txt", "Dan Brown_2004_assignsubmission_file_/feedback.txt"]
        assert bundle.read("Bob Babbage_2002_assignsubmission_file_/feedback.txt") == \
            (out / "feedback" / "Bob_Babbage.md").read_bytes()
    assert (out / "gradebook.csv").read_text().splitlines()[1:] == [
        f"Ada_Lovelace,2,1,1,4,4,submitted,0,0,0,2001,Ada Lovelace,,,{VERSION}",
        f"Bob_Babbage,2,0.8,0.8,3.6,4,submitted,0,0,0,2002,Bob Babbage,,,{VERSION}",
        f"Carol_Shaw,0,0,0,0,4,submitted,0,0,0,2003,Carol Shaw,,,{VERSION}",
        "2004,0,0,0,0,4,missing,0,0,0,2004,Dan Brown,,,"]


# ---- nbgrader: a late penalty from the platform's time ----------------------------------------------------------

LATE_ASSIGNMENT = """name = "Warm-up"
notebook = "00"
timezone = "Europe/Berlin"
deadline = 2026-12-09T23:59:00

[late]
penalty_per_day = 10
cap = 50
grace_minutes = 15
"""


def test_nbgrader_timestamps_against_the_deadline_give_the_late_penalty(tmp_path, notebooks, sandbox_works):
    submitted = tmp_path / "submitted"
    handed_in = {  # nbgrader writes UTC; the deadline is 23:59 in Berlin, 22:59 UTC
        "amy": ("honest", "2026-12-09 20:00:00.000000 UTC"),  # on time
        "ben": ("honest", "2026-12-11 10:00:00.123456 UTC"),  # 1 day 11 hours late: 2 started days, 20 %
        "cat": ("half", "2026-12-09 23:10:00.000000 UTC"),  # 11 minutes late: within the 15 minutes' grace
    }
    for student, (kind, time) in handed_in.items():
        folder = submitted / student / "00_warmup"
        folder.mkdir(parents=True)
        (folder / "00_warmup.ipynb").write_text(notebooks[kind])
        (folder / "timestamp.txt").write_text(time)
    (submitted / "amy" / "01_homework").mkdir()
    (submitted / "amy" / "01_homework" / "01_homework.ipynb").write_text(notebooks["other"])
    roster = tmp_path / "class.csv"
    roster.write_text("id,name,email,section\namy,Amy Adams,,\nben,Ben Bose,,\ncat,Cat Cohen,,\ndee,Dee Dahl,,\n")
    assignment = tmp_path / "warmup.toml"
    assignment.write_text(LATE_ASSIGNMENT)
    out = tmp_path / "out"
    said = _grade(submitted, out, "--assignment", str(assignment), "--roster", str(roster))
    assert "as nbgrader" in said and "grading 3 of 3 submissions" in said, said

    assert (out / "gradebook.csv").read_text() == f"""{HEADER}
amy,2,1,1,4,4,submitted,0,0,0,amy,Amy Adams,,,{VERSION}
ben,2,1,1,3.2,4,late,2,0.8,0,ben,Ben Bose,,,{VERSION}
cat,2,0.8,0.8,3.6,4,submitted,0,0,0,cat,Cat Cohen,,,{VERSION}
dee,0,0,0,0,4,missing,0,0,0,dee,Dee Dahl,,,
"""
    feedback = (out / "feedback" / "ben.md").read_text()
    assert feedback.startswith("# Feedback for ben: 3.2/4 points (Warm-up)")
    assert ("Submitted 2026-12-11 11:00 (Europe/Berlin), 2 day(s) after the deadline 2026-12-09 23:59: "
            "20% of the points earned, -0.8 points.") in feedback
    assert "after the deadline" not in (out / "feedback" / "cat.md").read_text()
    time = "nbgrader's submission time"
    assert _rows(out / "ingest.csv") == [
        ["file", "student", "status", "reason"],
        ["amy/00_warmup/00_warmup.ipynb", "amy", "graded", ""],
        ["amy/00_warmup/timestamp.txt", "", "read", time],
        ["amy/01_homework/01_homework.ipynb", "", "skipped",
         "nbgrader assignment 01_homework, not the one graded (00_warmup)"],
        ["ben/00_warmup/00_warmup.ipynb", "ben", "graded", ""],
        ["ben/00_warmup/timestamp.txt", "", "read", time],
        ["cat/00_warmup/00_warmup.ipynb", "cat", "graded", ""],
        ["cat/00_warmup/timestamp.txt", "", "read", time],
    ]
