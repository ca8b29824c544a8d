"""Ingestion: each platform's download, zips, attempts, duplicates, wrong notebooks and hostile names.

The fixtures follow each platform's naming as course_lib/grading/ingest.py's docstring states it (and
docs/instructors.md, "What the grader reads", says which parts of it are certain).
"""
import csv
import os
import stat
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from course_lib import checks
from course_lib.grading import batch, ingest, reading, submission
from course_lib.grading.ingest import Skipped

NB02 = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "def gaussian_log_likelihood(x, mu, sigma):\n    return 0\n\n\ncheck(\"02.1\", gaussian_log_likelihood)")]))
NB04 = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    f'x = 1\ncheck("04.{k}", x)') for k in range(1, 6)]))


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def table(found: ingest.Ingested) -> list[tuple]:
    return [(s.key, s.name, s.source, s.platform_id, s.submission_id, s.late, s.attempt, s.problem)
            for s in found.submissions]


def test_canvas_one_student_per_user_id_the_late_marker_and_the_latest_resubmission(tmp_path):
    write(tmp_path, {"smithjane_12345_67890_02_density.ipynb": NB02,
                     "doejohn_LATE_23456_78901_02_density.ipynb": NB02 + " ",
                     "doejohn_LATE_23456_78950_02_density-1.ipynb": NB02,
                     "smithjane_12345_67890_plot.png": "png", "instructions.txt": "x"})
    found = ingest.ingest(tmp_path)
    assert (found.layout, found.why) == ("canvas", "4 of 5 top-level names are as canvas names them")
    assert table(found) == [
        ("doejohn", "doejohn", "doejohn_LATE_23456_78950_02_density-1.ipynb", "23456", "78950", True, "1", ""),
        ("smithjane", "smithjane", "smithjane_12345_67890_02_density.ipynb", "12345", "67890", False, "", "")]
    assert found.submissions[0].notes == ("doejohn_LATE_23456_78901_02_density.ipynb was not graded: an earlier "
                                          "attempt than doejohn_LATE_23456_78950_02_density-1.ipynb, which is graded "
                                          "(--attempts all grades each).",)
    assert sorted(found.skipped, key=lambda s: s.file) == [
        Skipped("doejohn_LATE_23456_78901_02_density.ipynb", "an earlier attempt than doejohn_LATE_23456_78950_02_"
                "density-1.ipynb, which is graded (--attempts all grades each)", "doejohn"),
        Skipped("instructions.txt", "not named as Canvas names submissions (<lastfirst>_[LATE_]<user id>_"
                                    "<submission id>_<file>)"),
        Skipped("smithjane_12345_67890_plot.png", "not a notebook", "smithjane")]
    every = ingest.ingest(tmp_path, attempts="all")
    assert [(s.key, s.submission_id) for s in every.submissions] == [
        ("doejohn-attempt1", "78901"), ("doejohn-attempt2", "78950"), ("smithjane", "67890")]


def test_moodle_in_folders_and_flat(tmp_path):
    write(tmp_path / "folders", {
        "Jane Smith_1001_assignsubmission_file_/02_density.ipynb": NB02,
        "Jane Smith_1001_assignsubmission_file_/notes.pdf": "pdf",
        "José Núñez_1002_assignsubmission_file_/report.pdf": "pdf",
        "Jane Smith_1001_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>"})
    found = ingest.ingest(tmp_path / "folders")
    assert found.layout == "moodle"
    assert table(found) == [
        ("Jane_Smith", "Jane Smith", "Jane Smith_1001_assignsubmission_file_/02_density.ipynb", "1001", "", False,
         "", ""),
        ("Jose_Nunez-cd32e4cb", "José Núñez", "José Núñez_1002_assignsubmission_file_/report.pdf", "1002", "", False, "",
         "no notebook was handed in (José Núñez_1002_assignsubmission_file_/report.pdf: not a notebook).")]
    assert sorted(s.file for s in found.skipped) == [
        "Jane Smith_1001_assignsubmission_file_/notes.pdf",
        "Jane Smith_1001_assignsubmission_onlinetext_/onlinetext.html",
        "José Núñez_1002_assignsubmission_file_/report.pdf"]
    write(tmp_path / "flat", {"Jane Smith_1001_assignsubmission_file_02_density.ipynb": NB02})
    assert [(s.key, s.platform_id) for s in ingest.ingest(tmp_path / "flat").submissions] == [("Jane_Smith", "1001")]


def test_blackboard_attempts_by_their_time_and_the_name_from_the_receipt(tmp_path):
    receipt = ("Name: Jane Smith (jsmith)\nAssignment: Assignment 02\nDate Submitted: Monday, 3 February 2025 "
               "14:03:12 o'clock GMT\n")
    write(tmp_path, {"Assignment 02_jsmith_attempt_2025-02-03-14-03-12_02_density.ipynb": NB02,
                     "Assignment 02_jsmith_attempt_2025-02-03-14-03-12.txt": receipt,
                     "Assignment 02_jsmith_attempt_2025-02-01-09-00-00_02_density.ipynb": NB02 + " ",
                     "Assignment 02_jsmith_attempt_2025-02-01-09-00-00.txt": receipt})
    found = ingest.ingest(tmp_path)
    assert found.layout == "blackboard"
    [jane] = found.submissions
    assert (jane.key, jane.name, jane.platform_id, jane.attempt) == ("Jane_Smith", "Jane Smith", "jsmith",
                                                                     "2025-02-03-14-03-12")
    assert jane.submitted_at == datetime(2025, 2, 3, 14, 3, 12).astimezone()
    assert sorted((s.status, s.file) for s in found.skipped) == [
        ("read", "Assignment 02_jsmith_attempt_2025-02-01-09-00-00.txt"),
        ("read", "Assignment 02_jsmith_attempt_2025-02-03-14-03-12.txt"),
        ("skipped", "Assignment 02_jsmith_attempt_2025-02-01-09-00-00_02_density.ipynb")]


def test_nbgrader_with_its_timestamp_and_several_assignments(tmp_path):
    write(tmp_path / "submitted", {"alice/02_density/02_density.ipynb": NB02,
                                   "alice/02_density/timestamp.txt": "2025-02-03 14:03:12.123456 UTC",
                                   "alice/01_intro/01.ipynb": NB04, "bob/02_density/02_density.ipynb": NB02})
    with pytest.raises(ValueError, match="01_intro, 02_density; pass --assignment"):
        ingest.ingest(tmp_path / "submitted")
    found = ingest.ingest(tmp_path, assignment="02")  # the course folder holding submitted/ works too
    assert found.layout == "nbgrader"
    assert [(s.key, s.source, s.submitted_at) for s in found.submissions] == [
        ("alice", "alice/02_density/02_density.ipynb", datetime(2025, 2, 3, 14, 3, 12, 123456, timezone.utc)),
        ("bob", "bob/02_density/02_density.ipynb", None)]
    assert sorted(found.skipped, key=lambda s: s.file) == [
        Skipped("alice/01_intro/01.ipynb", "nbgrader assignment 01_intro, not the one graded (02_density)"),
        Skipped("alice/02_density/timestamp.txt", "nbgrader's submission time", status="read")]


def test_todays_layouts_duplicates_copies_and_collisions(tmp_path):
    write(tmp_path, {"ana.ipynb": NB02, "carl/02.ipynb": NB02, "carl/02 (1).ipynb": NB02 + " ",
                     "dora/02.ipynb": NB02, "dora/copy.ipynb": NB02, "alice.ipynb": NB02,
                     "alice/00_warmup.ipynb": NB02 + "  ", "empty/readme.md": "", "notes.txt": ""})
    os.utime(tmp_path / "alice.ipynb", (1e9, 1e9))
    found = ingest.ingest(tmp_path)
    assert found.layout == "folders"
    assert [(s.key, s.source, s.problem) for s in found.submissions] == [
        ("alice", "alice/00_warmup.ipynb", ""), ("ana", "ana.ipynb", ""), ("carl", "carl/02 (1).ipynb", ""),
        ("dora", "dora/copy.ipynb", ""),
        ("empty", "empty", "no notebook was handed in (empty/readme.md: not a notebook).")]
    assert sorted(found.skipped, key=lambda s: s.file) == [
        Skipped("alice.ipynb", "another notebook of the same student: alice/00_warmup.ipynb is graded, the newer "
                               "file", "alice"),
        Skipped("carl/02.ipynb", "another notebook of the same student: carl/02 (1).ipynb is graded, the later "
                                 "copy", "carl"),
        Skipped("dora/02.ipynb", "the same bytes as dora/copy.ipynb, which is graded", "dora"),
        Skipped("empty/readme.md", "not a notebook", "empty"),
        Skipped("notes.txt", "not a notebook")]
    assert found.submissions[0].notes == ("alice.ipynb was not graded: another notebook of the same student: "
                                          "alice/00_warmup.ipynb is graded, the newer file.",)
    assert [s.key for s in ingest.ingest(tmp_path, layout="flat").submissions] == ["alice", "ana"]


def test_hostile_names_get_safe_unique_keys_and_are_escaped_in_the_report(tmp_path):
    cyrillic = "Я" * 122  # 244 bytes: with `.md` and a temporary suffix, too long for a file name
    names = [cyrillic, "=HYPERLINK(1)", "a\rbob,4", "\x1b[2Jeve", "[x](javascript:alert(1))", "Ana", "ana"]
    for name in names:
        (tmp_path / f"{name}.ipynb").write_text(NB02)
    (tmp_path.joinpath(os.fsdecode(b"M\xfcller.ipynb"))).write_text(NB02)  # Latin-1, as unzip writes many names
    found = ingest.ingest(tmp_path)
    keys = {s.name: s.key for s in found.submissions}
    assert keys == {cyrillic: "student-fa916356", "=HYPERLINK(1)": "HYPERLINK_1-bd32d5ce", "a\rbob,4": "a_bob_4-"
                    "36224d9d", "\x1b[2Jeve": "2Jeve-7df2064b", "[x](javascript:alert(1))": "x_javascript_alert_1-"
                    "8408cd2b", "Ana": "Ana", "ana": "ana-24d4b96f", "Müller": "Muller-a7842989"}
    out = tmp_path / "out"
    ingest.write_report(found, out)
    text = (out / "ingest.csv").read_bytes().decode("utf-8")
    assert "\r" not in text and "\x1b" not in text
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["file", "student", "status", "reason"] and len(rows) == 1 + len(names) + 1
    assert ["'=HYPERLINK(1).ipynb", "HYPERLINK_1-bd32d5ce", "graded", ""] in rows
    assert ["a\\rbob,4.ipynb", "a_bob_4-36224d9d", "graded", ""] in rows
    assert ["\\x1b[2Jeve.ipynb", "2Jeve-7df2064b", "graded", ""] in rows


def test_no_path_component_may_be_a_link(tmp_path):
    solution = write(tmp_path / "solutions", {"02.ipynb": NB02})
    submitted = write(tmp_path / "in", {"bob.ipynb": NB02})
    (submitted / "linked_folder").symlink_to(solution, target_is_directory=True)
    (submitted / "linker.ipynb").symlink_to(solution / "02.ipynb")
    (submitted / "inside").mkdir()
    (submitted / "inside" / "work.ipynb").symlink_to("/proc/self/environ")
    found = ingest.ingest(submitted)
    assert [(s.key, s.path is None) for s in found.submissions] == [("bob", False), ("inside", True)]
    link = "it is a symbolic link: the grader follows no links (unpack archives without links, or replace each " \
           "link by what it points to)"
    assert sorted(found.skipped, key=lambda s: s.file) == [Skipped("inside/work.ipynb", link),
                                                          Skipped("linked_folder", link), Skipped("linker.ipynb", link)]


def _zip(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return path


def test_a_zip_is_read_in_place_and_nothing_unsafe_is_unpacked(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_MEMBER", 2**20)
    archive = _zip(tmp_path / "submissions.zip", {
        "smithjane_12345_67890_02_density.ipynb": NB02.encode(),
        "doejohn_23456_78901_02_density.ipynb": NB02.encode(),
        "../../evil_1_2_x.ipynb": NB02.encode(), "/etc/abs_1_2_x.ipynb": NB02.encode(),
        "lnk_3_4_02.ipynb": b"/work/solutions/02.ipynb", "bomb_5_6_02.ipynb": b"0" * 3 * 2**20,
        "__MACOSX/._smithjane_12345_67890_02_density.ipynb": b""}, links=("lnk_3_4_02.ipynb",))
    found = ingest.ingest(archive)
    assert found.layout == "canvas"
    assert [(s.key, s.source) for s in found.submissions] == [
        ("doejohn", "submissions.zip:doejohn_23456_78901_02_density.ipynb"),
        ("smithjane", "submissions.zip:smithjane_12345_67890_02_density.ipynb")]
    assert found.submissions[0].path.read_text() == NB02 and not found.submissions[0].path.is_relative_to(tmp_path)
    assert sorted(found.skipped, key=lambda s: s.file) == [
        Skipped("submissions.zip:../../evil_1_2_x.ipynb", "an absolute name, or one with `..`, in the archive: "
                                                          "not unpacked"),
        Skipped("submissions.zip:/etc/abs_1_2_x.ipynb", "an absolute name, or one with `..`, in the archive: "
                                                        "not unpacked"),
        Skipped("submissions.zip:__MACOSX/._smithjane_12345_67890_02_density.ipynb",
                "a hidden file or the archive's metadata, not a submission"),
        Skipped("submissions.zip:bomb_5_6_02.ipynb", "it unpacks to more than 1 MiB (a zip bomb?): not unpacked"),
        Skipped("submissions.zip:lnk_3_4_02.ipynb", "it is a symbolic link in the archive: not unpacked")]
    assert not (tmp_path.parent / "evil_1_2_x.ipynb").exists()
    (tmp_path / "folder").mkdir()  # a zip inside the download is a student's file: listed, never read
    archive.rename(tmp_path / "folder" / "submissions.zip")
    inside = ingest.ingest(tmp_path / "folder", layout="canvas")
    assert inside.submissions == [] and [s.file for s in inside.skipped] == ["submissions.zip"]
    assert "an archive inside the download: not read" in inside.skipped[0].reason


def test_no_student_can_hand_in_under_another_students_name(tmp_path):
    """Each reader takes the platform's part of a name, which comes first; what a student named their own file
    (last) or put in their own archive cannot claim another student's id or outrank their latest attempt."""
    victim = "victimv_111_500_hw.ipynb"
    planted = _zip(tmp_path / "planted.zip", {"victimv_111_999999_hw.ipynb": NB04.encode()})
    canvas = write(tmp_path / "canvas", {victim: NB02, "mallorym_222_502_extra.zip": ""})
    (canvas / "mallorym_222_502_extra.zip").write_bytes(planted.read_bytes())
    found = ingest.ingest(canvas, layout="canvas")
    assert [(s.platform_id, s.source) for s in found.submissions] == [("111", victim)]
    moodle = write(tmp_path / "moodle", {
        "Victim V_111_assignsubmission_file_hw.ipynb": NB02,
        "Mallory M_222_assignsubmission_file_a_111_assignsubmission_file_hw (9).ipynb": NB04})
    found = ingest.ingest(moodle, layout="moodle")
    assert sorted((s.platform_id, s.name) for s in found.submissions) == [("111", "Victim V"), ("222", "Mallory M")]
    blackboard = write(tmp_path / "blackboard", {
        "HW1_victim_attempt_2025-01-01-10-00-00_hw.ipynb": NB02,
        "HW1_mallory_attempt_2025-01-01-11-00-00_x_victim_attempt_2099-01-01-00-00-00_hw.ipynb": NB04})
    found = ingest.ingest(blackboard, layout="blackboard")
    assert sorted((s.platform_id, s.submitted_at.year) for s in found.submissions) == [("mallory", 2025),
                                                                                     ("victim", 2025)]
    folders = write(tmp_path / "folders", {"bob/a.ipynb": NB02, "bob/b.ipynb": NB04, "bob-attempt1/c.ipynb": NB02})
    keys = [s.key for s in ingest.ingest(folders, layout="folders", attempts="all").submissions]
    assert len(keys) == len({k.casefold() for k in keys}) == 3, keys


def test_which_notebook_a_submission_is_and_the_assignment_by_a_majority_of_students(tmp_path):
    write(tmp_path, {"a.ipynb": NB02, "b.ipynb": NB02, "c.ipynb": NB04, "d.ipynb": "not json"})
    numbers = {p.stem: reading.identify(p) for p in sorted(tmp_path.glob("*.ipynb"))}
    assert numbers == {"a": "02", "b": "02", "c": "04", "d": None}
    assert reading.infer_assignment(numbers) == (
        "02", "assignment 02 inferred from the students' notebooks: 2 handed in notebook 02, 1 handed in notebook 04, "
              "1 could not be told")
    with pytest.raises(ValueError, match="no clear majority .*; pass --assignment NN"):
        reading.infer_assignment({"a": "02", "c": "04"})


def test_a_notebook_of_another_assignment_is_named_as_such_and_every_file_is_reported(tmp_path):
    """Nothing here starts a sandbox: the wrong notebook and the empty folder are graded 0 with the reason."""
    submitted = write(tmp_path / "in", {"Я" * 122 + ".ipynb": NB04, "a\rb/readme.txt": "", "x.pdf": ""})
    out = tmp_path / "out"
    grades = batch.grade_folder(submitted, out, assignment="02", settings=submission.Settings(sandbox=False),
                                jobs=1, log=lambda _: None)
    assert [(g.student, g.total) for g in grades] == [("a_b", 0), ("student-fa916356", 0)]
    feedback = (out / "feedback" / "student-fa916356.md").read_text()
    assert "this is notebook 04; assignment 02 was expected" in feedback
    maximum = f"{sum(checks.get(key).points for key in checks.load('02')):g}"  # every exercise of notebook 02
    assert [(row["student"], row["total"], row["max"], row["name"]) for row in
            csv.DictReader((out / "gradebook.csv").open(encoding="utf-8"))] == [
        ("a_b", "0", maximum, "a\\rb"), ("student-fa916356", "0", maximum, "Я" * 122)]
    assert list(csv.reader((out / "ingest.csv").open())) == [
        ["file", "student", "status", "reason"],
        ["a\\rb", "a_b", "no notebook", "no notebook was handed in (a\\rb/readme.txt: not a notebook)."],
        ["a\\rb/readme.txt", "a_b", "skipped", "not a notebook"],
        ["x.pdf", "", "skipped", "not a notebook"],
        ["Я" * 122 + ".ipynb", "student-fa916356", "not graded", "this is notebook 04; assignment 02 was expected"]]
