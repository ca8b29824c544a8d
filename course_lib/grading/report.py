"""What grading hands back: one line per student (automatic points, late penalty, manual grades), the feedback
files, the gradebook and, with a roster, the platform's import file and feedback bundle (course_lib.grading.lms)."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from course_lib import checks
from course_lib.data import write_atomic
from course_lib.grading import lms, overrides as manual
from course_lib.grading.assignment import Assignment
from course_lib.grading.ingest import Submission, printable, safe_key
from course_lib.grading.submission import Grade

NO_SANDBOX = "graded WITHOUT a sandbox (--no-sandbox): the submissions ran with all of the instructor's rights"
SUBMITTED, LATE, MISSING, OVERRIDE = "submitted", "late", "missing", "override"


def safe_cell(text: str) -> str:
    """A spreadsheet cell that cannot become a formula: text starting with = + - @, a tab or CR gets a ' first."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def fenced(text: str) -> str:
    """`text` as a Markdown code block whose fence is longer than any run of backticks in it: whatever a
    submission made its messages say, the feedback shows it as text (no headings, links or images)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def number(value: float) -> str:
    """Points as written everywhere: 2, 1.5, 0.33 (at most two decimals)."""
    return f"{round(value, 2):g}"


@dataclass
class Line:
    """One student's final grade: points per exercise (after overrides), late penalty, adjustment, total, status
    (submitted, late or missing, with "+override" when manual grades apply) and the instructor's comments."""

    student: str
    name: str
    points: dict[str, float]
    total: float
    status: str
    grade: Grade | None = None
    submission: Submission | None = None
    roster: lms.Student | None = None
    days_late: int = 0
    penalty: float = 0.0
    adjustment: float = 0.0
    comments: list[str] = field(default_factory=list)


def make_lines(grades: list[Grade], assignment: Assignment, submissions: dict[str, Submission] | None = None,
               overrides: list[manual.Override] = (), roster: lms.Roster | None = None) -> tuple[list[Line], list[str]]:
    """The gradebook's lines (the roster's order, then submitters on no roster line) and those submitters' keys.

    An exercise's automatic points are the assignment's points times the share its check gave; lateness comes
    from each Submission's submitted_at (without a deadline or a time, e.g. Canvas's download, the platform's own
    LATE marker sets the status, and no penalty applies); a roster student without a submission gets 0 points,
    status missing.
    """
    submissions = submissions or {}
    by_key = {g.student: g for g in grades}
    matched, unmatched = lms.match(roster, {g.student: submissions.get(g.student) or Submission(g.student, g.student, None)
                                            for g in grades}) if roster else ({}, list(by_key))
    order: list[tuple[lms.Student | None, Grade | None]] = \
        [(s, by_key.get(matched.get(s.id, ""))) for s in roster.students] if roster else []
    order += [(None, by_key[key]) for key in unmatched]
    lines = []
    for student, grade in order:
        sub = submissions.get(grade.student) if grade else None
        key = grade.student if grade else safe_key(student.id)
        points = {k: (assignment.points[k] * grade.results[k][1] / checks.get(k).points if grade else 0.0)
                  for k in assignment.keys}
        aliases = {key} | ({student.id} if student else set())
        rows = [o for o in overrides if o.student in aliases]
        points, adjustment, fixed, comments = manual.apply(rows, points)
        days = assignment.days_late(sub.submitted_at) if sub else 0
        penalty = round(sum(points.values()) * assignment.penalty_percent(sub.submitted_at if sub else None) / 100, 2)
        total = round((fixed if fixed is not None else sum(points.values()) - penalty) + adjustment, 2)
        untimed = assignment.deadline is None or (sub is not None and sub.submitted_at is None)
        late = days > 0 or (sub is not None and sub.late and untimed)
        status = MISSING if grade is None else LATE if late else SUBMITTED
        name = printable(student.name if student else (sub.name if sub else key))  # shown as text, never markup
        lines.append(Line(key, name, points, total,
                          status + (f"+{OVERRIDE}" if rows else ""), grade, sub, student, days, penalty,
                          adjustment, comments))
    return lines, unmatched


def feedback(line: Line, assignment: Assignment, sandboxed: bool = True) -> str:
    """The student's feedback file (Markdown that reads as plain text)."""
    lines = [f"# Feedback for {line.student}: {number(line.total)}/{number(assignment.maximum)} points "
             f"({assignment.title})", ""]
    lines += [] if sandboxed else [f"**Note:** {NO_SANDBOX}.", ""]
    if line.grade is None:
        lines += ["No submission of yours was found among those graded.", ""]
    lines += [f"Graded by the checks {line.grade.checks}.", ""] if line.grade and line.grade.checks else []
    if line.penalty or line.days_late:
        zone = ZoneInfo(assignment.timezone)
        lines += [f"Submitted {line.submission.submitted_at.astimezone(zone):%Y-%m-%d %H:%M} ({assignment.timezone}), "
                  f"{line.days_late} day(s) after the deadline {assignment.deadline.astimezone(zone):%Y-%m-%d %H:%M}: "
                  f"{number(assignment.penalty_percent(line.submission.submitted_at))}% of the points earned, "
                  f"-{number(line.penalty)} points.", ""]
    if line.comments:
        lines += ["## From your instructor", "", fenced("\n".join(f"- {c}" for c in line.comments)), ""]
    for key in assignment.keys if line.grade else []:
        lines += [f"## {key} {checks.get(key).title}: {number(line.points[key])}/{number(assignment.points[key])}",
                  "", fenced(line.grade.results[key][2]), ""]
    if line.grade and line.grade.notes:
        lines += ["## What else happened when your notebook ran", "",
                  fenced("\n".join(f"- {note}" for note in line.grade.notes)), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _comment(line: Line, assignment: Assignment) -> str:
    """The platform's short feedback comment; the feedback file has the details."""
    parts = [f"{number(line.total)}/{number(assignment.maximum)} points."]
    parts += ["No submission was found."] if line.grade is None else []
    parts += [f"Late by {line.days_late} day(s): -{number(line.penalty)} points."] if line.penalty else []
    return " ".join(parts + line.comments + (["Details: the attached feedback file."] if line.grade else []))


GRADEBOOK_TAIL = ["total", "max", "status", "days_late", "late_penalty", "adjustment", "id", "name", "section",
                  "flags", "checks"]


def _flags(line: Line, assignment: Assignment) -> str:
    """The answers that used course_lib's own function instead of being written (0 points; docs/instructors.md,
    "Answers must be written")."""
    flags = line.grade.flags if line.grade else {}
    return "; ".join(f"{key} uses {flags[key]}" for key in assignment.keys if key in flags)


def write_outputs(lines: list[Line], assignment: Assignment, out: Path, sandboxed: bool = True,
                  roster: lms.Roster | None = None, unmatched: list[str] = ()) -> list[Path]:
    """OUT/feedback/<student>.md, OUT/gradebook.csv, then (with a roster) the platform's files and
    OUT/unmatched.txt, each written atomically; the paths written besides the feedback files."""
    texts = {line.student: feedback(line, assignment, sandboxed) for line in lines}
    for student, text in texts.items():
        write_atomic(out / "feedback" / f"{student}.md", text.encode("utf-8", "replace"))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *assignment.keys, *GRADEBOOK_TAIL] + ([] if sandboxed else ["note"]))
    for line in lines:
        who = line.roster or lms.Student("", line.name)
        writer.writerow([safe_cell(line.student), *(number(line.points[k]) for k in assignment.keys),
                         number(line.total), number(assignment.maximum), line.status, line.days_late,
                         number(line.penalty), number(line.adjustment), safe_cell(who.id), safe_cell(line.name),
                         safe_cell(who.section), safe_cell(_flags(line, assignment)),
                         line.grade.checks if line.grade else ""] + ([] if sandboxed else [NO_SANDBOX]))
    write_atomic(out / "gradebook.csv", table.getvalue().encode("utf-8", "replace"))
    written = [out / "gradebook.csv"]
    if roster is not None:
        on_roster = [line for line in lines if line.roster]
        written += lms.write_exports(
            roster, out, assignment.title, assignment.maximum,
            totals={line.roster.id: line.total for line in on_roster},
            comments={line.roster.id: _comment(line, assignment) for line in on_roster},
            feedback={line.roster.id: texts[line.student].encode("utf-8", "replace") for line in on_roster},
            submission_ids={line.roster.id: line.submission.submission_id for line in on_roster if line.submission})
        names = {line.student: line.name for line in lines}
        report = "".join(f"{key} ({names[key]}): handed in, but on no line of {roster.path.name}\n" for key in unmatched)
        write_atomic(out / "unmatched.txt", report.encode("utf-8", "replace"))
        written.append(out / "unmatched.txt")
    return written
