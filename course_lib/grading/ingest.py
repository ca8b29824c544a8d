"""Ingestion: what the learning platform's download holds, turned into one submission per student.

`ingest(path)` reads a folder or a .zip, detects its layout from names and shape (or takes `layout=`), and returns
the submissions and every file it did not grade with the reason (`write_report` puts both in OUT/ingest.csv).
Nothing is skipped silently, no link is followed, and file names are hostile input: each student gets a safe key.

The layouts, as each platform names its download (from the platforms' help pages and source as remembered, and
community tools that parse them, e.g. github.com/mikewesthad/canvas-unzipper's README for Canvas; see
docs/instructors.md, "What the grader reads", for what is certain and what is not):
- canvas: "Download Submissions": flat `<lastfirst>_[LATE_]<user id>_<submission id>_<file>`; a file uploaded
  again under the same name gets `-N` before its extension (`density-1.ipynb`).
- moodle: "Download all submissions": `<Full Name>_<participant id>_assignsubmission_file_/<file>` (one folder per
  participant, "Download submissions in folders", the default since Moodle 3.1) or flat
  `<Full Name>_<participant id>_assignsubmission_file_<file>`.
- blackboard: Grade Center, "Assignment File Download": `<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>`
  and a receipt `<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt` ("Name: Jane Smith (jsmith)", ...).
- nbgrader: `submitted/<student id>/<assignment>/<notebook>.ipynb` with `timestamp.txt` beside it.
- folders: `<student>/<notebook>.ipynb` (and `<student>.ipynb` beside them); flat: `<student>.ipynb` only.
"""
from __future__ import annotations

import atexit
import csv
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

LAYOUTS = ("canvas", "moodle", "blackboard", "nbgrader", "folders", "flat")
KEY_LENGTH = 64
MAX_MEMBERS = 10_000  # members read from one archive
MAX_MEMBER = 256 * 2**20  # bytes one member may unpack to (reading.MAX_NOTEBOOK: a larger notebook is refused anyway)
MAX_UNPACKED = 2 * 2**30  # bytes all members of one archive may unpack to
MAX_DEPTH = 8  # folder levels read below the submissions folder
UNPACKED = (".ipynb", ".txt")  # the only members unpacked: notebooks, Blackboard's receipts, nbgrader's timestamps

CANVAS = re.compile(r"(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)")
# the platform writes its part of a name first and the student's file name last: every pattern takes the first
# (leftmost, non-greedy) match, so a file a student named like another student's download cannot claim their id
MOODLE = re.compile(r"(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_(?P<type>[a-z]+)_(?P<file>.*)")
BLACKBOARD = re.compile(r"(?P<assignment>.+?)_(?P<user>[^_]+)_attempt_(?P<time>\d{4}(?:-\d\d){5})(?:_(?P<file>.+)|\.txt)")
COPY = re.compile(r"(?P<stem>.+?)(?: \((?P<n>\d+)\)|-(?P<m>\d+))?\.ipynb", re.I)  # browser copies, Canvas re-uploads


@dataclass(frozen=True)
class Submission:
    """One student's submission as ingested.

    key: the student's safe, unique key (ASCII letters, digits, `-`, `_`, `.`; at most 64 characters), used for
        records, feedback file names and the gradebook's `student` column;
    name: the student's name exactly as the platform or folder gave it (kept for the instructor's reports; a
        file name that is not UTF-8 is read as Latin-1; it may hold any character, so escape it where you write it);
    path: the notebook to grade, or None when nothing gradable was found (`problem` says why);
    platform_id: the platform's id of the student (Canvas user id, Moodle participant id, Blackboard user name,
        nbgrader student id), "" where the layout carries none;
    submission_id: the platform's id of this attempt, "" where none;
    submitted_at: the platform's submission time (timezone-aware), None where the layout carries none;
    late: the platform's own LATE marker (Canvas's `_LATE_` or Moodle's "late" status), independent of any policy;
    attempt: which attempt this is, as the platform numbers it ("" for the only one);
    problem: why `path` is None, in words for the instructor and the student;
    source: the notebook's (or the student's folder's) name inside the download, printable;
    notes: what ingestion did that the student should know (another notebook of theirs that was not graded).
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
    source: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A file of the download that is not graded: `file` (printable), why, and the student it belonged to if any.
    `status` is "skipped", or "read" for a file read for what it says (a receipt, a timestamp)."""

    file: str
    reason: str
    key: str = ""
    status: str = "skipped"


@dataclass
class Ingested:
    """What `ingest` found: submissions sorted by key, the files not graded, the layout and how it was chosen."""

    submissions: list[Submission]
    skipped: list[Skipped]
    layout: str
    why: str


@dataclass(frozen=True)
class _Entry:
    """A file (or folder) of the download: its path inside it (names decoded), where to read it, what is wrong."""

    parts: tuple[str, ...]
    path: Path | None
    problem: str = ""
    folder: bool = False
    mtime: float = 0.0
    archive: str = ""  # the .zip it came from

    @property
    def shown(self) -> str:
        return printable((f"{self.archive}:" if self.archive else "") + "/".join(self.parts))


@dataclass
class _Candidate:
    """A notebook (entry.path set) or another file handed in by one student, with what the platform said."""

    identity: str
    name: str
    entry: _Entry
    platform_id: str = ""
    submission_id: str = ""
    submitted_at: datetime | None = None
    late: bool = False
    attempt: str = ""
    order: tuple = (0, 0)  # (the platform's order of attempts, the copy's number): the latest sorts last
    notebook: bool = True


# ---- names ------------------------------------------------------------------------------------------------------

def printable(text: str) -> str:
    """`text` with every control, format or unassigned character (CR, ANSI escapes, bidi overrides) escaped."""
    return "".join(c if unicodedata.category(c)[0] != "C" else ascii(c)[1:-1] for c in text)


def decode(name: str) -> str:
    """A file name as the OS gave it (undecodable bytes as surrogates), read as UTF-8, else as Latin-1."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def safe_key(name: str) -> str:
    """A key of ASCII letters, digits, `-`, `_`, `.` (at most KEY_LENGTH, never starting with `.` or `-`); a name
    that loses more than its spaces on the way gets 8 hex digits of its hash, so different names stay apart."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._-")
    if key != re.sub(r"\s+", "_", name.strip()) or len(key) > KEY_LENGTH:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        key = f"{key[:KEY_LENGTH - 9].rstrip('._-') or 'student'}-{digest}"
    return key


# ---- reading a folder or an archive -----------------------------------------------------------------------------

def _walk(folder: Path, prefix: tuple[str, ...] = ()) -> list[_Entry]:
    """Every entry below `folder`, never following a link; an archive in it is listed, never read."""
    entries = []
    for item in sorted(os.scandir(folder), key=lambda item: item.name):
        parts = prefix + (decode(item.name),)
        info = item.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            entries.append(_Entry(parts, None, "it is a symbolic link: the grader follows no links (unpack archives "
                                               "without links, or replace each link by what it points to)"))
        elif stat.S_ISDIR(info.st_mode):
            entries.append(_Entry(parts, Path(item.path), folder=True))
            if len(parts) < MAX_DEPTH:
                entries += _walk(Path(item.path), parts)
            else:
                entries.append(_Entry(parts + ("...",), None, f"more than {MAX_DEPTH} folders deep: not read"))
        elif not stat.S_ISREG(info.st_mode):
            entries.append(_Entry(parts, None, "it is not a regular file"))
        elif parts[-1].lower().endswith(".zip"):  # a student's own archive: its members' names are theirs to choose
            entries.append(_Entry(parts, None, "an archive inside the download: not read (the grader reads only the "
                                               "archive given as SUBMISSIONS; ask for the notebook itself)"))
        else:
            entries.append(_Entry(parts, Path(item.path), mtime=info.st_mtime))
    return entries


def _private_folder() -> Path:
    """A folder only this user can read, removed when the process ends: where notebooks are unpacked to."""
    folder = Path(tempfile.mkdtemp(prefix="course-ingest-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name: UTF-8 when flagged; else zipfile read it as CP437, but many tools write UTF-8 or Latin-1."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return decode(os.fsdecode(info.filename.encode("cp437")))
    except UnicodeEncodeError:
        return info.filename


def _unzip(archive: Path, shown: str) -> list[_Entry]:
    """The members of `archive` as entries: notebooks and .txt files unpacked (under their own names, never the
    member's) into a private folder, each at most MAX_MEMBER bytes, MAX_UNPACKED in all; no links, absolute names
    or `..`; the member's own path is kept in `parts`, with the archive's name first where it is reported."""
    try:
        archive_file = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        return [_Entry((shown,), None, f"it is not a readable zip archive ({err})")]
    entries: list[_Entry] = []
    folder, total = None, 0
    with archive_file:
        for number, info in enumerate(archive_file.infolist()):
            name = _member_name(info)
            parts = tuple(p for p in re.split(r"[/\\]", name) if p not in ("", "."))
            here = (name,)
            if number >= MAX_MEMBERS:
                entries.append(_Entry(here, None, f"the archive has more than {MAX_MEMBERS} members; the rest are not "
                                                  "read", archive=shown))
                continue
            if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts or not parts:
                entries.append(_Entry(here, None, "an absolute name, or one with `..`, in the archive: not unpacked",
                                      archive=shown))
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                entries.append(_Entry(parts, None, "it is a symbolic link in the archive: not unpacked", archive=shown))
                continue
            if info.is_dir():
                entries.append(_Entry(parts, None, folder=True, archive=shown))
                continue
            mtime = datetime(*info.date_time).timestamp()
            if not parts[-1].lower().endswith(UNPACKED) or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                entries.append(_Entry(parts, None, mtime=mtime, archive=shown))  # listed, never unpacked
                continue
            folder = folder or _private_folder()
            target = folder / f"{number:06d}{Path(parts[-1]).suffix.lower()}"
            problem = ""
            try:
                with archive_file.open(info) as source, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                                                     | os.O_NOFOLLOW, 0o600), "wb") as sink:
                    size = 0
                    while chunk := source.read(2**20):
                        size += len(chunk)
                        if size > MAX_MEMBER or total + size > MAX_UNPACKED:
                            limit = MAX_MEMBER if size > MAX_MEMBER else MAX_UNPACKED
                            problem = f"it unpacks to more than {limit // 2**20} MiB (a zip bomb?): not unpacked"
                            break
                        sink.write(chunk)
                    total += size
            except Exception as err:  # encrypted, corrupt or unsupported members
                problem = f"it could not be unpacked ({type(err).__name__}: {' '.join(str(err).split())[:120]})"
            if problem:
                target.unlink(missing_ok=True)
            entries.append(_Entry(parts, None if problem else target, problem, mtime=mtime, archive=shown))
    return entries


def _read_text(path: Path, limit: int = 4096) -> str:
    with open(path, "rb") as file:
        return file.read(limit).decode("utf-8", "replace")


# ---- the layouts ------------------------------------------------------------------------------------------------

def _file(identity: str, name: str, entry: _Entry, **platform) -> _Candidate:
    return _Candidate(identity, name, entry, notebook=entry.parts[-1].lower().endswith(".ipynb"), **platform)


def _copy_number(file: str) -> int:
    """3 for `02 (3).ipynb` (a browser's third copy) or `02-3.ipynb` (Canvas's re-upload), else 0."""
    match = COPY.fullmatch(file)
    return int(match["n"] or match["m"] or 0) if match else 0


def _read_flat(entries: list[_Entry], folders: bool = False, **_) -> tuple[list[_Candidate], list[Skipped]]:
    """`<student>.ipynb`; with `folders`, also `<student>/<notebook>.ipynb` (a student folder with none gets 0)."""
    found, skipped = [], []
    for e in entries:
        if len(e.parts) == 1 and not e.folder and e.parts[0].lower().endswith(".ipynb"):
            found.append(_file(e.parts[0][:-len(".ipynb")], e.parts[0][:-len(".ipynb")], e))
        elif len(e.parts) == 1 and not e.folder:
            skipped.append(Skipped(e.shown, "not a notebook"))
        elif folders and len(e.parts) == 1:
            found.append(_Candidate(e.parts[0], e.parts[0], e, notebook=False))  # the folder: a student, maybe empty
        elif folders and len(e.parts) == 2 and not e.folder:
            found.append(_file(e.parts[0], e.parts[0], e, order=(0, _copy_number(e.parts[1]))))
        elif not e.folder:
            skipped.append(Skipped(e.shown, "inside a folder; --layout flat reads only <student>.ipynb" if not folders
                                   else "deeper than <student>/<notebook>.ipynb: not read"))
    return found, skipped


def _read_canvas(entries: list[_Entry], **_) -> tuple[list[_Candidate], list[Skipped]]:
    found, skipped = [], []
    for e in entries:
        match = CANVAS.fullmatch(e.parts[0]) if len(e.parts) == 1 and not e.folder else None
        if match is None:
            if not e.folder:
                skipped.append(Skipped(e.shown, "not named as Canvas names submissions "
                                                "(<lastfirst>_[LATE_]<user id>_<submission id>_<file>)"))
            continue
        copy = _copy_number(match["file"])
        found.append(_file(f"canvas:{match['user']}", match["name"], e, platform_id=match["user"],
                           submission_id=match["sub"], late=bool(match["late"]), attempt=str(copy or ""),
                           order=(int(match["sub"]), copy)))
    return found, skipped


def _read_moodle(entries: list[_Entry], **_) -> tuple[list[_Candidate], list[Skipped]]:
    found, skipped = [], []
    for e in entries:
        match = MOODLE.fullmatch(e.parts[0])
        flat = match is not None and match["file"] != "" and len(e.parts) == 1
        if match is None or e.folder or not (flat or (match["file"] == "" and len(e.parts) >= 2)):
            if not e.folder:
                skipped.append(Skipped(e.shown, "not named as Moodle names submissions (<Full Name>_<participant "
                                                "id>_assignsubmission_file_/<file>)"))
            continue
        if match["type"] != "file":
            skipped.append(Skipped(e.shown, f"Moodle's {match['type']} submission, not a file", status="skipped"))
            continue
        found.append(_file(f"moodle:{match['id']}", match["name"], e, platform_id=match["id"],
                           order=(0, _copy_number(e.parts[-1]))))
    return found, skipped


def _read_blackboard(entries: list[_Entry], **_) -> tuple[list[_Candidate], list[Skipped]]:
    found, skipped, names = [], [], {}
    for e in entries:  # the receipts first: they give the student's name
        match = BLACKBOARD.fullmatch(e.parts[0]) if len(e.parts) == 1 else None
        if match and match["file"] is None and e.path is not None:
            said = re.search(r"^Name:\s*(.*?)\s*\(", _read_text(e.path), re.M)
            names[match["user"]] = said[1] if said else match["user"]
            skipped.append(Skipped(e.shown, f"Blackboard's receipt of attempt {match['time']}", status="read"))
    for e in entries:
        match = BLACKBOARD.fullmatch(e.parts[0]) if len(e.parts) == 1 and not e.folder else None
        if match is None:
            if not e.folder:
                skipped.append(Skipped(e.shown, "not named as Blackboard names attempts "
                                                "(<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>)"))
        elif match["file"] is not None:
            # Blackboard's names carry the server's local time without a zone: read as this machine's local time
            when = datetime.strptime(match["time"], "%Y-%m-%d-%H-%M-%S").astimezone()
            found.append(_file(f"blackboard:{match['user']}", names.get(match["user"], match["user"]), e,
                               platform_id=match["user"], submitted_at=when, attempt=match["time"],
                               order=(when, _copy_number(match["file"]))))
        elif e.path is None:
            skipped.append(Skipped(e.shown, e.problem or "Blackboard's receipt could not be read"))
    return found, skipped


def _timestamp(text: str) -> datetime | None:
    """nbgrader's timestamp.txt, e.g. `2025-02-03 14:03:12.123456 UTC` (nbgrader's default zone is UTC)."""
    match = re.search(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?\s*(UTC|Z|[+-]\d\d:?\d\d)?", text)
    if not match:
        return None
    zone = match[4] if match[4] and match[4] not in ("UTC", "Z") else "+00:00"
    return datetime.fromisoformat(f"{match[1]}T{match[2]}{match[3] or ''}{zone}")


def _read_nbgrader(entries: list[_Entry], assignment: str | None = None, **_) -> tuple[list[_Candidate], list[Skipped]]:
    names = sorted({e.parts[1] for e in entries if len(e.parts) >= 3 or (len(e.parts) == 2 and e.folder)})
    chosen = [n for n in names if assignment and (n == assignment or n.split("_")[0].split("-")[0] == assignment)]
    if len(names) > 1 and len(chosen) != 1:
        raise ValueError(f"nbgrader's submitted/ holds the assignments {', '.join(map(printable, names))}; pass "
                         "--assignment with one of these names, or its notebook number if the name starts with it.")
    wanted = chosen[0] if chosen else (names[0] if names else "")
    times = {e.parts[:2]: _timestamp(_read_text(e.path)) for e in entries
             if len(e.parts) == 3 and e.parts[2] == "timestamp.txt" and e.path is not None}
    found, skipped = [], []
    for e in entries:
        if e.folder:
            if len(e.parts) == 2 and e.parts[1] == wanted:
                found.append(_Candidate(f"nbgrader:{e.parts[0]}", e.parts[0], e, platform_id=e.parts[0], notebook=False))
        elif len(e.parts) < 3:
            skipped.append(Skipped(e.shown, "not in nbgrader's submitted/<student>/<assignment>/"))
        elif e.parts[1] != wanted:
            skipped.append(Skipped(e.shown, f"nbgrader assignment {printable(e.parts[1])}, not the one graded "
                                            f"({printable(wanted)})"))
        elif e.parts[2] == "timestamp.txt" and len(e.parts) == 3:
            skipped.append(Skipped(e.shown, "nbgrader's submission time", status="read"))
        elif len(e.parts) > 3:
            skipped.append(Skipped(e.shown, "in a sub-folder of the assignment: not read"))
        else:
            when = times.get(e.parts[:2])
            found.append(_file(f"nbgrader:{e.parts[0]}", e.parts[0], e, platform_id=e.parts[0], submitted_at=when,
                               order=(0, _copy_number(e.parts[2]))))
    return found, skipped


READERS = {"canvas": _read_canvas, "moodle": _read_moodle, "blackboard": _read_blackboard,
           "nbgrader": _read_nbgrader, "folders": lambda entries, **kw: _read_flat(entries, folders=True),
           "flat": _read_flat}


def detect(entries: list[_Entry]) -> tuple[str, str]:
    """The layout whose names more than half of the top-level entries follow, and why; else folders or flat."""
    entries = [e for e in entries if not _hidden(e)]
    tops = {e.parts[0] for e in entries}
    if tops == {"submitted"}:
        tops = {e.parts[1] for e in entries if len(e.parts) > 1}
        entries = [replace(e, parts=e.parts[1:]) for e in entries if len(e.parts) > 1]
    files = [e.parts[0] for e in entries if len(e.parts) == 1 and not e.folder]
    votes = {
        "nbgrader": {e.parts[0] for e in entries if len(e.parts) == 3 and (e.parts[2] == "timestamp.txt" or
                                                                          e.parts[2].lower().endswith(".ipynb"))},
        "moodle": {top for top in tops if MOODLE.fullmatch(top)},
        "blackboard": {f for f in files if BLACKBOARD.fullmatch(f)},
        "canvas": {f for f in files if CANVAS.fullmatch(f)},
    }
    for layout, matched in votes.items():
        if len(matched) > len(tops) / 2:
            return layout, f"{len(matched)} of {len(tops)} top-level names are as {layout} names them"
    if any(e.folder for e in entries):
        return "folders", "no platform's names found; <student>/ folders and <student>.ipynb files"
    return "flat", "no platform's names found; <student>.ipynb files"


def _hidden(e: _Entry) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in e.parts)


# ---- one submission per student ---------------------------------------------------------------------------------

def _digest(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _choose(group: list[_Candidate], attempts: str) -> tuple[list[_Candidate], list[tuple[_Candidate, str]]]:
    """The notebooks graded for one student, and each other file with why it is not: a copy with the same bytes,
    an earlier attempt (unless attempts == "all"), or another notebook of the same attempt (reported)."""
    notebooks = [c for c in group if c.notebook and c.entry.path is not None and not c.entry.problem]
    others = [(c, c.entry.problem or "not a notebook") for c in group
              if c not in notebooks and not c.entry.folder]
    notebooks.sort(key=lambda c: (c.order, c.entry.mtime, c.entry.parts))
    kept: list[_Candidate] = []
    seen: dict[str, _Candidate] = {}
    for c in reversed(notebooks):  # latest first
        digest = _digest(c.entry.path)
        if digest in seen:
            others.append((c, f"the same bytes as {seen[digest].entry.shown}, which is graded"))
            continue
        seen[digest] = c
        if kept and attempts != "all":
            latest = kept[0]
            why = (f"an earlier attempt than {latest.entry.shown}, which is graded (--attempts all grades each)"
                   if c.order[0] != latest.order[0] else
                   f"another notebook of the same student: {latest.entry.shown} is graded, the "
                   + ("later copy" if c.order != latest.order else "newer file"))
            others.append((c, why))
            continue
        kept.append(c)
    return kept[::-1], others


def ingest(path: Path, layout: str | None = None, attempts: str = "latest", assignment: str | None = None) -> Ingested:
    """The submissions in folder or .zip `path` (see the module docstring), one per student (per attempt with
    attempts="all"); `assignment` picks the assignment folder of an nbgrader download holding several."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"--layout {layout}: unknown; use one of {', '.join(LAYOUTS)}.")
    if attempts not in ("latest", "all"):
        raise ValueError(f"--attempts {attempts}: use latest or all.")
    if path.is_dir():
        entries = _walk(path)
    elif path.is_file() and path.suffix.lower() == ".zip":
        entries = _unzip(path, decode(path.name))
    else:
        raise ValueError(f"SUBMISSIONS {path} is neither a folder nor a .zip file.")
    skipped = [Skipped(e.shown, e.problem) for e in entries if e.problem and e.path is None]
    skipped += [Skipped(e.shown, "a hidden file or the archive's metadata, not a submission")
                for e in entries if _hidden(e) and not e.folder and not e.problem]
    entries = [e for e in entries if not _hidden(e) and not (e.problem and e.path is None)]
    why = "chosen with --layout"
    if layout is None:
        layout, why = detect(entries)
    if layout == "nbgrader" and entries and all(e.parts[0] == "submitted" for e in entries):
        entries = [replace(e, parts=e.parts[1:]) for e in entries if len(e.parts) > 1]
    candidates, more = READERS[layout](entries, assignment=assignment)
    skipped += more
    groups: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        groups[c.identity].append(c)
    submissions, used = [], {}
    for identity, group in sorted(groups.items()):
        kept, others = _choose(group, attempts)
        key = safe_key(group[0].name)
        if key.casefold() in used:  # another student's name gives the same key
            key = f"{key[:KEY_LENGTH - 9]}-{hashlib.sha256(identity.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
        used[key.casefold()] = identity
        others_noted = tuple(f"{c.entry.shown} was not graded: {why}." for c, why in others
                             if c.notebook and not why.startswith("the same bytes"))
        for i, c in enumerate(kept or [None]):
            this = key if len(kept) <= 1 else f"{key[:KEY_LENGTH - 10]}-attempt{i + 1}"
            if len(kept) > 1:  # an attempt's key may equal another student's (a folder named `bob-attempt1`)
                if this.casefold() in used:
                    digest = hashlib.sha256(f"{identity}#{i}".encode("utf-8", "surrogatepass")).hexdigest()[:8]
                    this = f"{this[:KEY_LENGTH - 9]}-{digest}"
                used[this.casefold()] = identity
            if c is None:
                files = "; ".join(f"{o.entry.shown}: {why}" for o, why in others) or "no file the grader could read"
                folder = next((g.entry.shown for g in group if g.entry.folder), group[0].entry.shown)
                submissions.append(Submission(this, group[0].name, None, platform_id=group[0].platform_id,
                                              problem=f"no notebook was handed in ({files}).", source=folder))
            else:
                submissions.append(Submission(
                    this, c.name, c.entry.path, c.platform_id, c.submission_id, c.submitted_at, c.late, c.attempt,
                    source=c.entry.shown, notes=others_noted if i == len(kept) - 1 else ()))
        skipped += [Skipped(c.entry.shown, why, key) for c, why in others]
    listed = {s.file for s in skipped} | {s.source for s in submissions}
    skipped += [Skipped(e.shown, f"not read by the {layout} layout") for e in entries
                if not e.folder and e.shown not in listed]
    return Ingested(sorted(submissions, key=lambda s: s.key), skipped, layout, why)


def write_report(ingested: Ingested, out: Path, wrong: dict[str, str] | None = None) -> Path:
    """OUT/ingest.csv: one row per file of the download: file, student (key), status, reason. `wrong` maps a
    student's key to what to say instead of "graded" (e.g. a notebook of another assignment)."""
    from course_lib.data import write_atomic
    from course_lib.grading.report import safe_cell

    wrong = wrong or {}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "student", "status", "reason"])
    rows = [(s.source, s.key, "no notebook" if s.path is None else "not graded" if s.key in wrong else "graded",
             s.problem or wrong.get(s.key, "")) for s in ingested.submissions]
    rows += [(s.file, s.key, s.status, s.reason) for s in ingested.skipped]
    for row in sorted(rows):
        writer.writerow([safe_cell(printable(cell)) for cell in row])
    path = out / "ingest.csv"
    write_atomic(path, table.getvalue().encode())
    return path
