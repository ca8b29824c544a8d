"""Ingestion: what the learning platform's download holds, turned into one submission per student.

(Being built: the readers of each platform's layout fill these records; see the issue on ingestion.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    """One student's submission as ingested.

    key: the student's safe, unique key (ASCII letters, digits, `-`, `_`, `.`; at most 64 characters), used for
        records, feedback file names and the gradebook's `student` column;
    name: the student's name exactly as the platform or folder gave it (kept for the instructor's reports);
    path: the notebook to grade, or None when nothing gradable was found (`problem` says why);
    platform_id: the platform's id of the student (Canvas user id, Moodle participant id, Blackboard user name,
        nbgrader student id), "" where the layout carries none;
    submission_id: the platform's id of this attempt, "" where none;
    submitted_at: the platform's submission time (timezone-aware), None where the layout carries none;
    late: the platform's own LATE marker (Canvas's `_LATE_` or Moodle's "late" status), independent of any policy;
    attempt: which attempt this is, as the platform numbers it ("" for the only one);
    problem: why `path` is None, in words for the instructor and the student.
    """

    key: str
    name: str
    path: Path | None
    platform_id: str = ""
    submission_id: str = ""
    submitted_at: datetime | None = None
    late: bool = False
    attempt: str = ""
    problem: str = ""
