"""The assignment file: which notebook, which exercises for how many points, the deadline and the late policy.

    python -m course_lib.grading submitted/ --out grades/ --assignment assignments/02_homework.toml

A small TOML file (every field but `notebook` may be left out):

    name = "Homework 02: density estimation"   # the gradebook column on the platform (default "Notebook 02")
    notebook = "02"                             # the exercise notebook, solutions/02_*.ipynb
    deadline = 2026-12-09T23:59:00              # wall-clock time in `timezone` (a TOML local date-time)
    timezone = "Europe/Berlin"                  # an IANA zone name (default "UTC")

    [exercises]                                 # the exercises graded and their points (default: all of the
    "02.1" = 1                                  # notebook's, with the registry's points); instead a list,
    "02.3" = 2                                  # exercises = ["02.1", "02.3"], keeps the registry's points

    [late]
    penalty_per_day = 10                        # percent of the points taken off per started day late
    cap = 50                                    # percent at most, however late
    grace_minutes = 15                          # lateness forgiven entirely (clock skew, a slow upload)

How lateness is counted: `late = submitted_at - deadline`, both as instants (the platform's time, which carries its
own offset, against the deadline's wall-clock time in `timezone`, so a deadline on the day clocks change is
right). Up to `grace_minutes` late costs nothing; beyond that every started 24 hours cost `penalty_per_day`
percent of the points earned, at most `cap` percent. A submission without a time (a plain folder) is on time.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from course_lib import checks

FIELDS = {"name", "notebook", "deadline", "timezone", "exercises", "late"}
LATE_FIELDS = {"penalty_per_day", "cap", "grace_minutes"}


class AssignmentError(ValueError):
    """The assignment file cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class LatePolicy:
    """Percent of the earned points taken off per started day late, at most `cap` percent, after a grace."""

    penalty_per_day: float = 0.0
    cap: float = 100.0
    grace: timedelta = timedelta(0)


@dataclass(frozen=True)
class Assignment:
    """What is graded: `points` {exercise key: points}, in the notebook's order; the deadline (aware) if any."""

    notebook: str
    points: dict[str, float]
    name: str = ""
    deadline: datetime | None = None
    timezone: str = "UTC"
    late: LatePolicy = field(default_factory=LatePolicy)

    @property
    def keys(self) -> list[str]:
        return list(self.points)

    @property
    def maximum(self) -> float:
        return sum(self.points.values())

    @property
    def title(self) -> str:
        return self.name or f"Notebook {self.notebook}"

    def days_late(self, submitted_at: datetime | None) -> int:
        """Started days after the deadline, 0 when on time, within the grace, or when there is no time or deadline."""
        if submitted_at is None or self.deadline is None:
            return 0
        if submitted_at.tzinfo is None:
            raise ValueError(f"submitted_at {submitted_at} has no time zone; the platform's times must be aware.")
        late = submitted_at - self.deadline
        if late <= self.late.grace:
            return 0
        return math.ceil(late / timedelta(days=1))

    def penalty_percent(self, submitted_at: datetime | None) -> float:
        """Percent of the earned points taken off for lateness."""
        return min(self.late.cap, self.days_late(submitted_at) * self.late.penalty_per_day)


def for_notebook(notebook: str) -> Assignment:
    """Every exercise of notebook NN with the registry's points, no deadline: what `--assignment NN` grades."""
    keys = checks.load(notebook)
    if not keys:
        raise AssignmentError(f"--assignment {notebook}: no exercises of notebook {notebook} are registered in "
                              f"course_lib.checks_NN (known notebooks: {', '.join(checks.notebooks())}).")
    return Assignment(notebook, {key: checks.get(key).points for key in keys})


def load(path: Path) -> Assignment:
    """Read and check an assignment file; AssignmentError naming the file and the field on anything wrong."""
    def fail(where: str, what: str) -> AssignmentError:
        return AssignmentError(f"{path}: {where}: {what}")

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise AssignmentError(f"{path}: cannot read the assignment file ({err.strerror or err}).") from None
    except tomllib.TOMLDecodeError as err:
        raise AssignmentError(f"{path}: not valid TOML ({err}).") from None
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise fail(", ".join(unknown), f"unknown field; the fields are {', '.join(sorted(FIELDS))}.")
    notebook = data.get("notebook")
    if not isinstance(notebook, str) or notebook not in checks.notebooks():
        raise fail("notebook", f"{notebook!r} is not a notebook number with exercises; write one of "
                               f"{', '.join(repr(n) for n in checks.notebooks())} (as a quoted string).")
    everything = for_notebook(notebook).points
    points = _exercises(data.get("exercises", list(everything)), everything, fail)
    name = data.get("name", "")
    if not isinstance(name, str):
        raise fail("name", f"{name!r} must be a quoted string.")
    zone_name = data.get("timezone", "UTC")
    try:
        zone = ZoneInfo(zone_name) if isinstance(zone_name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise fail("timezone", f"{zone_name!r} is not a time zone; write an IANA name such as \"Europe/Berlin\", "
                               "\"America/New_York\" or \"UTC\".")
    deadline = _deadline(data["deadline"], zone, fail) if "deadline" in data else None
    late = _late(data.get("late", {}), fail)
    if late.penalty_per_day and deadline is None:
        raise fail("late", "a late policy needs a deadline; add `deadline = 2026-12-09T23:59:00`.")
    return Assignment(notebook, points, name, deadline, zone_name, late)


def _exercises(value: object, everything: dict[str, int], fail) -> dict[str, float]:
    if isinstance(value, list):
        value = {key: None for key in value}
    if not isinstance(value, dict) or not value:
        raise fail("exercises", "write a table of exercise = points, or a list of exercise keys, naming at least one.")
    for key, points in value.items():
        if key not in everything:
            raise fail(f"exercises.{key}", f"notebook's exercises are {', '.join(everything)}.")
        if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0):
            raise fail(f"exercises.{key}", f"points must be a positive number, not {points!r}.")
    return {key: float(value[key] if value[key] is not None else everything[key]) for key in everything if key in value}


def _deadline(value: object, zone: ZoneInfo, fail) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = None
    if not isinstance(value, datetime):
        raise fail("deadline", "write a date and time, e.g. deadline = 2026-12-09T23:59:00 (in `timezone`).")
    if value.tzinfo is not None:
        return value
    local = value.replace(tzinfo=zone)
    if local.utcoffset() != value.replace(tzinfo=zone, fold=1).utcoffset():
        raise fail("deadline", f"{value:%Y-%m-%d %H:%M} happens twice or not at all in {zone.key} (the clocks "
                               "change then); choose another time.")
    return local


def _late(value: object, fail) -> LatePolicy:
    if not isinstance(value, dict):
        raise fail("late", "must be a table: [late] with penalty_per_day, cap, grace_minutes.")
    unknown = sorted(set(value) - LATE_FIELDS)
    if unknown:
        raise fail(f"late.{unknown[0]}", f"unknown field; the fields are {', '.join(sorted(LATE_FIELDS))}.")
    numbers = {}
    for name, default in (("penalty_per_day", 0), ("cap", 100), ("grace_minutes", 0)):
        number = value.get(name, default)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= (
                100 if name != "grace_minutes" else 10**6):
            limit = "minutes, 0 or more" if name == "grace_minutes" else "percent, from 0 to 100"
            raise fail(f"late.{name}", f"{number!r} is not a number of {limit}.")
        numbers[name] = float(number)
    return LatePolicy(numbers["penalty_per_day"], numbers["cap"], timedelta(minutes=numbers["grace_minutes"]))
