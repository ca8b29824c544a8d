"""The round trip to the learning platform: its roster in, the file it imports and its feedback bundle out.

`--roster FILE` is read by its header:

- **Canvas** gradebook export (Grades > Export > CSV): `Student,ID,SIS User ID,SIS Login ID,Section,...` (newer
  accounts add `Integration ID` before `Section`), then a `Points Possible` row, then one row per student. `ID` is
  the Canvas user id, the number in the download's file names (`lastfirst_123456_7890123_name.ipynb`).
  Written back: OUT/canvas_import.csv, the export's identity columns (Student to Section) as they were, the
  `Points Possible` row and ONE assignment column, for Grades > Import. Its name is the export's column for this
  assignment when one matches the assignment's `name` (`Homework 02 (4567)`, kept verbatim with its id, so
  Canvas updates that assignment), else the plain name, for which Canvas offers to create a new assignment.
  All other assignment and total columns are left out: Canvas leaves what an import does not name unchanged.
- **Moodle** assignment grading worksheet (Assignment > View all submissions > Grading action > Download grading
  worksheet): `Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified
  (submission),Last modified (grade),Feedback comments` (identity fields such as `ID number` may sit between
  them). `Identifier` is `Participant 12345`, the number also in the download's folder names
  (`Full Name_12345_assignsubmission_file_`). Written back: OUT/moodle_grading_worksheet.csv, the same columns
  and rows with `Grade` and `Feedback comments` filled, for Grading action > Upload grading worksheet. The upload
  skips a student whose "Grade can be changed" is No, and one graded in Moodle after the worksheet's
  "Last modified (grade)" unless its "Allow updating records that have been modified more recently" box is ticked.
- **Plain** CSV `id,name,email,section` (email and section may be left out), for Blackboard, nbgrader or a class
  list: OUT/gradebook.csv then holds one row per roster student.

Grades on the platform: when the platform's maximum (Canvas's Points Possible, Moodle's Maximum Grade) differs
from the assignment's, the total is scaled to it (the feedback keeps the points). A roster student whose work was
not found gets 0 and the status `missing`; submitters not on the roster are listed in OUT/unmatched.txt.

Feedback bundles:
- Moodle: OUT/moodle_feedback_files.zip, one folder per student named as in the submissions download,
  `<Full name>_<participant id>_assignsubmission_file_/feedback.txt`, for Grading action > Upload multiple
  feedback files in a zip. Moodle matches each file by the participant id in its folder name.
- Canvas imports no comments with grades. Its Re-Upload Submissions (assignment page, from a download edited
  in place) attaches each file as a comment, matched by the file name of the download; OUT/canvas_feedback.zip
  names each file `<lastfirst>_<user id>_<submission id>_feedback.txt` in that pattern (the submission id comes
  from the ingested download). SpeedGrader also takes each file by hand (the file per student is the same).

Formats followed (from the platforms' guides, as we know them; this module was not tested against a live
Canvas or Moodle): Canvas Instructor Guide "How do I import grades in the Gradebook?" and "How do I export grades
in the Gradebook?"; Moodle docs "Assignment settings / Offline grading worksheet" and "Using Assignment: Upload
multiple feedback files in a zip". Uncertain: Canvas's re-upload needs the download's exact file names (we
rebuild them), and Moodle writes the worksheet's numbers in the site's locale (we write a decimal point).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.data import write_atomic
from course_lib.grading.ingest import Submission

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
MOODLE_COLUMNS = ("Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                  "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments")
PLAIN_COLUMNS = ("id", "name", "email", "section")
POINTS_POSSIBLE = "Points Possible"
EXPORTS = {"canvas": ("canvas_import.csv", "canvas_feedback.zip"),
           "moodle": ("moodle_grading_worksheet.csv", "moodle_feedback_files.zip"), "plain": ()}


class RosterError(ValueError):
    """The roster file cannot be read; the message names the file, the line and what to do."""


@dataclass(frozen=True)
class Student:
    """One student of the roster: the platform's id (Canvas user id, Moodle participant id, the plain id)."""

    id: str
    name: str
    email: str = ""
    section: str = ""
    row: tuple[str, ...] = ()  # the roster's row as it was, written back into the platform's file


@dataclass
class Roster:
    """A roster as read: its platform ("canvas", "moodle" or "plain"), header, students, and Canvas's points row."""

    platform: str
    path: Path
    header: list[str]
    students: list[Student]
    points_row: list[str] = field(default_factory=list)


def read_roster(path: Path) -> Roster:
    """The roster in `path`, its platform told by its header; RosterError if the header is none of the three."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise RosterError(f"{path}: cannot read the roster ({err}); export it as UTF-8 CSV.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise RosterError(f"{path}: the roster is empty.")
    header = [cell.strip() for cell in rows[0]]
    if header[:2] == ["Student", "ID"] and "Section" in header:
        return _canvas(path, header, rows[1:])
    if header[:1] == ["Identifier"] and {"Full name", "Grade", "Maximum Grade", "Feedback comments"} <= set(header):
        return _moodle(path, header, rows[1:])
    if {"id", "name"} <= {cell.lower() for cell in header}:
        return _plain(path, header, rows[1:])
    raise RosterError(f"{path}: line 1 is {','.join(header)[:200]!r}, which is no roster we know. Give a Canvas "
                      "gradebook export (Student,ID,SIS User ID,SIS Login ID,Section,...), a Moodle grading worksheet "
                      "(Identifier,Full name,Email address,Status,Grade,...) or a CSV with the columns "
                      "id,name,email,section.")


def _canvas(path: Path, header: list[str], rows: list[list[str]]) -> Roster:
    roster = Roster("canvas", path, header, [])
    section = header.index("Section")
    for number, row in enumerate(rows, start=2):
        row = row + [""] * (len(header) - len(row))
        if row[0].strip() == POINTS_POSSIBLE:
            roster.points_row = row
        elif row[1].strip():  # a student; other rows without a user id ("Manual Posting", ...) are not students
            if not row[1].strip().isdigit():
                raise RosterError(f"{path}, line {number}, column ID: {row[1]!r} is not a Canvas user id (a number).")
            roster.students.append(Student(row[1].strip(), row[0].strip(), "", row[section].strip(), tuple(row)))
    return roster


def _moodle(path: Path, header: list[str], rows: list[list[str]]) -> Roster:
    roster = Roster("moodle", path, header, [])
    at = {name: header.index(name) for name in header}
    for number, row in enumerate(rows, start=2):
        row = row + [""] * (len(header) - len(row))
        match = re.fullmatch(r"\D*?(\d+)", row[0].strip())
        if not match:
            raise RosterError(f"{path}, line {number}, column Identifier: {row[0]!r} is not like 'Participant 12345'.")
        email = row[at["Email address"]].strip() if "Email address" in at else ""
        roster.students.append(Student(match[1], row[at["Full name"]].strip(), email, "", tuple(row)))
    return roster


def _plain(path: Path, header: list[str], rows: list[list[str]]) -> Roster:
    at = {name.lower(): i for i, name in enumerate(header)}
    roster, seen = Roster("plain", path, header, []), set()
    for number, row in enumerate(rows, start=2):
        row = row + [""] * (len(header) - len(row))
        cells = {name: row[at[name]].strip() if name in at else "" for name in PLAIN_COLUMNS}
        if not cells["id"] or cells["id"] in seen:
            raise RosterError(f"{path}, line {number}, column id: {'empty' if not cells['id'] else 'used twice'}; "
                              "every student needs an id of their own.")
        seen.add(cells["id"])
        roster.students.append(Student(cells["id"], cells["name"], cells["email"], cells["section"], tuple(row)))
    return roster


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def match(roster: Roster, submissions: dict[str, Submission]) -> tuple[dict[str, str], list[str]]:
    """({roster id: submission key}, keys of submissions on no roster line).

    A submission belongs to the student whose id is its platform id, else (for a submission whose layout carries
    no platform id, such as folders you named `ada_1001`) whose numeric id stands between underscores in its key,
    else whose id or email (or the email's part before the @) is its key, else whose name is its name (case and
    spacing aside, if one student has it). A submission with a platform id that is on no roster line is reported,
    never matched to someone else by its name's digits.
    """
    found: dict[str, str] = {}
    taken: set[str] = set()
    rules = [
        lambda s, sub: bool(sub.platform_id) and sub.platform_id == s.id,
        lambda s, sub: not sub.platform_id and s.id.isdigit() and f"_{s.id}_" in f"_{sub.key}_",  # ada_1001
        lambda s, sub: _folded(sub.key) in {_folded(s.id), _folded(s.email), _folded(s.email.split("@")[0])} - {""},
        lambda s, sub: bool(_folded(sub.name)) and _folded(sub.name) == _folded(s.name),
    ]
    for rule in rules:
        for key, sub in submissions.items():
            if key in taken:
                continue
            fits = [s for s in roster.students if s.id not in found and rule(s, sub)]
            if len(fits) == 1:
                found[fits[0].id] = key
                taken.add(key)
    return found, [key for key in submissions if key not in taken]


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def _scaled(total: float, maximum: float, platform_maximum: str) -> float:
    try:
        target = float(platform_maximum)
    except ValueError:
        return total
    return total * target / maximum if maximum and target > 0 else total


def canvas_import(roster: Roster, title: str, maximum: float, totals: dict[str, float]) -> bytes:
    """Canvas's gradebook import: identity columns, Points Possible row, one assignment column; totals by user id."""
    identity = [i for i, name in enumerate(roster.header) if name in CANVAS_IDENTITY]
    column = next((i for i, name in enumerate(roster.header)
                   if name == title or re.fullmatch(re.escape(title) + r" \(\d+\)", name)), None)
    possible = roster.points_row[column] if column is not None and roster.points_row else ""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow([roster.header[i] for i in identity] + [roster.header[column] if column is not None else title])
    writer.writerow([f"    {POINTS_POSSIBLE}"] + [""] * (len(identity) - 1) + [possible or _number(maximum)])
    for s in roster.students:
        writer.writerow([s.row[i] for i in identity] + [_number(_scaled(totals[s.id], maximum, possible))])
    return table.getvalue().encode()


def moodle_worksheet(roster: Roster, maximum: float, totals: dict[str, float], comments: dict[str, str]) -> bytes:
    """Moodle's grading worksheet as downloaded, with Grade (scaled to Maximum Grade) and Feedback comments."""
    at = {name: roster.header.index(name) for name in ("Grade", "Maximum Grade", "Feedback comments")}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(roster.header)
    for s in roster.students:
        row = list(s.row)
        row[at["Grade"]] = f"{_scaled(totals[s.id], maximum, row[at['Maximum Grade']]):.2f}"
        row[at["Feedback comments"]] = comments[s.id]
        writer.writerow(row)
    return table.getvalue().encode()


def _file_name(text: str) -> str:
    """A name safe in a zip on every system: no path separators or control characters."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "", text).strip() or "student"


def moodle_feedback_zip(roster: Roster, feedback: dict[str, bytes]) -> bytes:
    """Moodle's "upload multiple feedback files in a zip": `<Full name>_<participant id>_assignsubmission_file_/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for s in roster.students:
            name = _file_name(s.name).replace("_", " ")  # Moodle splits the folder name at underscores
            bundle.writestr(f"{name}_{s.id}_assignsubmission_file_/feedback.txt", feedback[s.id])
    return buffer.getvalue()


def canvas_feedback_zip(roster: Roster, feedback: dict[str, bytes], submission_ids: dict[str, str]) -> bytes:
    """Canvas's re-upload naming, `<lastfirst>_<user id>_<submission id>_feedback.txt`, for those with a submission
    id; everyone (with or without) also under per_student/<name>_<user id>/feedback.txt for SpeedGrader."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for s in roster.students:
            last_first = re.sub(r"[^a-z]", "", s.name.casefold()) or "student"  # "Lovelace, Ada": lovelaceada
            if submission_ids.get(s.id):
                bundle.writestr(f"{last_first}_{s.id}_{submission_ids[s.id]}_feedback.txt", feedback[s.id])
            bundle.writestr(f"per_student/{_file_name(s.name)}_{s.id}/feedback.txt", feedback[s.id])
    return buffer.getvalue()


def write_exports(roster: Roster, out: Path, title: str, maximum: float, totals: dict[str, float],
                  comments: dict[str, str], feedback: dict[str, bytes], submission_ids: dict[str, str]) -> list[Path]:
    """Write the platform's import file and feedback bundle into `out` (all keyed by roster id); their paths."""
    if roster.platform == "canvas":
        data = [canvas_import(roster, title, maximum, totals), canvas_feedback_zip(roster, feedback, submission_ids)]
    elif roster.platform == "moodle":
        data = [moodle_worksheet(roster, maximum, totals, comments), moodle_feedback_zip(roster, feedback)]
    else:
        data = []
    paths = [out / name for name in EXPORTS[roster.platform]]
    for path, content in zip(paths, data):
        write_atomic(path, content)
    return paths
