"""docs/workshop.md's plans work as written: every exercise notebook runs with its exercises blank (all of them, or
the homework the 3-hour plan sends home), and the plans' tables fit their sessions.

The notebooks run as generated, in fast mode, cell by cell past errors; the only errors allowed are the blank
exercise cells' own (the stub's NotImplementedError, which `check` reports as "not done yet"). Exercise cells
are found by the generator's markers: the cells of solutions/ that hold a SOLUTION region, whose ids the
generated cells keep.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib import checks
from course_lib.environment import use_this_python
from course_lib.make_exercises import checked_key, solution_regions

ROOT = Path(__file__).resolve().parents[1]
WORKSHOP = ROOT / "docs" / "workshop.md"
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
KEY = re.compile(r"\b(\d\d)\.(\d+)\b")
KEY_RANGE = re.compile(r"\b(\d\d)\.(\d+)\s*[–-]\s*(?:\1\.)?(\d+)\b")  # 02.1–02.4 or 02.1–4
TIME = re.compile(r"^(\d+):(\d\d)\s*[–-]\s*(\d+):(\d\d)$")


# ---- the plans' tables -------------------------------------------------------------------------------------------

def keys_in(text: str) -> list[str]:
    """The exercise keys a cell of the plan names, ranges such as 02.1–02.4 expanded."""
    keys = [f"{nb}.{k}" for nb, first, last in KEY_RANGE.findall(text) for k in range(int(first), int(last) + 1)]
    return keys + [m[0] for m in KEY.finditer(KEY_RANGE.sub("", text))]


def section(markdown: str, heading: str) -> str:
    """The text under `## heading` up to the next `## ` heading; AssertionError naming it if absent."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"docs/workshop.md has no section '## {heading}'"
    return match[1]


def cells(line: str) -> list[str]:
    """The cells of one table row; an escaped pipe (\\|) stays inside its cell, as a pipe."""
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in `text`, as rows of {column header: cell}."""
    found, lines = [], text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            header = cells(lines[i])
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, cells(lines[i]))))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def minutes(rows: list[dict[str, str]]) -> list[tuple[int, int]]:
    """(start, end) in minutes of each row's `time` cell such as 0:10–0:30."""
    spans = []
    for row in rows:
        match = TIME.match(row["time"])
        assert match, f"time {row['time']!r} is not of the form 0:10–0:30"
        h1, m1, h2, m2 = map(int, match.groups())
        spans.append((60 * h1 + m1, 60 * h2 + m2))
    return spans


def check_session(rows: list[dict[str, str]], name: str) -> int:
    """Assert that a plan's rows follow on from 0:00 without gaps or overlaps; its length in minutes."""
    spans = minutes(rows)
    assert spans[0][0] == 0, f"{name} starts at {spans[0][0]} min, not 0:00"
    for (start, end), (next_start, _) in zip(spans, spans[1:] + [(spans[-1][1], 0)]):
        assert start < end, f"{name}: a row ends before it starts ({start}–{end} min)"
        assert end == next_start, f"{name}: a gap or overlap at {end} min"
    assert any("break" in row["notebook"].lower() for row in rows), f"{name} has no break"
    return sum(end - start for start, end in spans)


def plan_rows(heading: str) -> list[dict[str, str]]:
    found = [t for t in tables(section(WORKSHOP.read_text(encoding="utf-8"), heading)) if "time" in t[0]]
    assert len(found) == 1, f"'## {heading}' should hold one table with a 'time' column, found {len(found)}"
    return found[0]


def in_class(rows: list[dict[str, str]]) -> list[str]:
    return [key for row in rows for key in keys_in(row.get("exercises in class", ""))]


def test_the_3_hour_plan_sums_to_at_most_180_minutes_breaks_included():
    assert check_session(plan_rows("The 3-hour plan"), "the 3-hour plan") <= 180


def test_the_two_session_plan_fits_two_sessions_and_covers_the_course():
    rows = plan_rows("The two-session plan")
    sessions = [[r for r in rows if r["session"] == s] for s in ("1", "2")]
    assert len(rows) == sum(map(len, sessions)), "every row's session is 1 or 2"
    for number, session in enumerate(sessions, start=1):
        assert check_session(session, f"session {number}") <= 180
    notebooks = {m for row in rows for m in NOTEBOOK.findall(row["notebook"])}
    assert notebooks == set(LESSONS), f"notebooks in the two sessions: {sorted(notebooks)}"
    keys = in_class(rows)
    assert len(keys) == len(set(keys)), "an exercise is set twice"
    assert set(keys) <= set(checks.EXERCISES), f"unknown exercises: {sorted(set(keys) - set(checks.EXERCISES))}"


@pytest.mark.parametrize("heading", ["The 3-hour plan", "The two-session plan"])
def test_every_exercise_is_set_in_class_or_as_homework_exactly_once(heading):
    text = section(WORKSHOP.read_text(encoding="utf-8"), heading)
    homework = re.search(r"^\*\*Homework[^*]*\*\*(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    assert homework, f"'{heading}' has no '**Homework...**' paragraph"
    keys = in_class(plan_rows(heading)) + keys_in(homework[1])
    assert sorted(keys) == sorted(checks.EXERCISES)


def test_the_table_parser_reads_ranges_and_catches_a_gap():
    assert keys_in("02.1–02.4, 02.6 and 04.1-3") == ["02.1", "02.2", "02.3", "02.4", "04.1", "04.2", "04.3", "02.6"]
    rows = [{"time": "0:00–0:50", "notebook": "a"}, {"time": "0:55–1:00", "notebook": "break"}]
    with pytest.raises(AssertionError, match="gap or overlap at 50"):
        check_session(rows, "demo")


# ---- the exercise notebooks, with any exercise blank -------------------------------------------------------------

def exercise_cells(name: str) -> dict[str, str]:
    """{cell id: solution source} of every exercise cell (one with a SOLUTION region) of notebook `name`."""
    cells = nbformat.read(ROOT / "solutions" / name, as_version=4).cells
    return {c["id"]: c.source for c in cells if c.cell_type == "code" and solution_regions(c.source)}


def execute(nb: nbformat.NotebookNode, monkeypatch) -> nbformat.NotebookNode:
    """Run every cell in fast mode in exercises/, going on past errors."""
    monkeypatch.setenv("COURSE_FAST", "1")
    client = NotebookClient(nb, allow_errors=True, timeout=300,
                            resources={"metadata": {"path": str(ROOT / "exercises")}})
    use_this_python(client)
    client.execute()
    return nb


def errors(nb: nbformat.NotebookNode) -> dict[str, list[nbformat.NotebookNode]]:
    """{cell id: its error outputs} of every code cell that raised."""
    found = {c["id"]: [o for o in c.outputs if o.output_type == "error"] for c in nb.cells if c.cell_type == "code"}
    return {cell_id: errs for cell_id, errs in found.items() if errs}


def is_blank_exercise_error(error: nbformat.NotebookNode) -> bool:
    """The stub's own NotImplementedError, or `check` saying so ("not done yet")."""
    return error.ename == "NotImplementedError" or (error.ename == "ExerciseNotPassed" and
                                                    "not done yet" in error.evalue)


def describe(nb: nbformat.NotebookNode, found: dict[str, list]) -> str:
    sources = {c["id"]: c.source for c in nb.cells}
    return "\n".join(f"cell {cell_id} ({sources[cell_id].splitlines()[0][:60]!r}): {e.ename}: {e.evalue[:120]}"
                     for cell_id, errs in found.items() for e in errs)


class TestEveryExerciseBlank:
    """A class of its own, so that pytest-xdist's --dist loadscope runs it beside the in-class subset."""

    @pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
    def test_an_exercise_notebook_as_generated_runs_except_its_blank_exercises(self, path, monkeypatch):
        blanks = exercise_cells(path.name)
        nb = execute(nbformat.read(path, as_version=4), monkeypatch)
        found = errors(nb)
        unexpected = {i: e for i, e in found.items() if i not in blanks or not all(map(is_blank_exercise_error, e))}
        assert not unexpected, f"{path.name}: errors outside the blank exercise cells:\n{describe(nb, unexpected)}"
        assert set(found) == set(blanks), f"{path.name}: blank exercises that did not raise: {set(blanks) - set(found)}"
        checked = [c for c in nb.cells if c["id"] in blanks and checked_key(c.source)]
        assert sorted(checked_key(c.source) for c in checked) == sorted(k for k in checks.EXERCISES
                                                                        if k[:2] == path.name[:2])
        for cell in checked:  # each blank exercise's check says "not done yet" as a message, not a traceback
            [error] = found[cell["id"]]
            assert error.ename == "ExerciseNotPassed" and "not done yet" in error.evalue, (path.name, cell.source)
            assert "Traceback" not in "".join(error.traceback)
        for cell in nb.cells:
            if cell.cell_type == "code" and "yours_or_reference(" in cell.source:
                said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
                assert "raised NotImplementedError" in said, f"{path.name}: cell {cell['id']} did not say it fell back"


def plan_in_class() -> dict[str, list[str]]:
    """{exercise notebook name: exercise keys} of every in-class subset the plans set that leaves some exercise of
    the notebook blank (a notebook with all its exercises done is solutions/, which nbval runs)."""
    names = {p.name[:2]: p.name for p in EXERCISES}
    subsets = {}
    for heading in ("The 3-hour plan", "The two-session plan"):
        keys = in_class(plan_rows(heading))
        for nb in sorted({k[:2] for k in keys}):
            chosen = [k for k in keys if k[:2] == nb]
            if sorted(chosen) != sorted(k for k in checks.EXERCISES if k[:2] == nb):
                subsets["+".join(chosen)] = (names[nb], chosen)
    return subsets


class TestTheInClassSubset:
    """The 3-hour plan's in-class exercises done, its homework blank."""

    @pytest.mark.parametrize("name, keys", sorted(plan_in_class().values()),
                             ids=lambda v: v if isinstance(v, str) else "+".join(v))
    def test_the_in_class_exercises_run_with_the_homework_left_blank(self, name, keys, monkeypatch):
        solution_sources = exercise_cells(name)
        nb = nbformat.read(ROOT / "exercises" / name, as_version=4)
        filled = set()
        for cell in nb.cells:
            if cell["id"] in solution_sources and checked_key(solution_sources[cell["id"]]) in keys:
                cell.source = solution_sources[cell["id"]]
                filled.add(checked_key(cell.source))
        assert filled == set(keys), f"{name}: no exercise cell checks {set(keys) - filled}"
        nb = execute(nb, monkeypatch)
        found = errors(nb)
        homework = {i for i, source in solution_sources.items() if checked_key(source) not in keys}
        unexpected = {i: e for i, e in found.items()
                      if i not in homework or not all(map(is_blank_exercise_error, e))}
        assert not unexpected, f"{name}, {keys} done: errors outside the homework:\n{describe(nb, unexpected)}"
        assert set(found) == homework


# ---- the plans against the lessons, the self-study table and the README ------------------------------------------

LESSONS = {p.name.split("_")[0]: p for p in sorted((ROOT / "notebooks").glob("0*.ipynb"))}  # "05", "05b", ...
NOTEBOOK = re.compile(r"`(\d\d[a-z]?)_")  # the (first) lesson a plan's row names: `05_...`, `05b_...`
HEADING = re.compile(r"^## (?:\d+\.\s*)?(.+?)\s*$", re.M)  # a lesson's section: `## 3. Title`
ITALIC = re.compile(r"\*([^*]+)\*")
WORD = re.compile(r"\w+")
WORDS_PER_MINUTE = 100  # the reading pace docs/workshop.md assumes
EXERCISE_MINUTES = 6  # the allowance per in-class exercise it assumes


def sections(nb: nbformat.NotebookNode) -> list[str]:
    """The `## ` section each cell belongs to ('' before the first)."""
    current, found = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (titles := HEADING.findall(cell.source)):
            current = titles[0]
        found.append(current)
    return found


def lesson_cells(nb: nbformat.NotebookNode, run: str, skip: str) -> list[bool]:
    """Which cells of the lesson a plan's row runs (cells before the first section always); ValueError naming a
    section the lesson does not have."""
    of_cell = sections(nb)
    titles = set(of_cell) - {""}
    named_run, named_skip = ITALIC.findall(run), ITALIC.findall(skip)
    unknown = [name for name in named_run + named_skip if name not in titles]
    if unknown:
        raise ValueError(f"the plan names sections the lesson does not have: {unknown}; it has {sorted(titles)}")
    if run.strip().lower().startswith("all"):
        return [section not in named_skip for section in of_cell]
    return [section == "" or section in named_run for section in of_cell]


def words(cells: list[nbformat.NotebookNode]) -> int:
    """The words of the markdown cells among `cells`: what is read."""
    return sum(len(WORD.findall(c.source)) for c in cells if c.cell_type == "markdown")


def lesson_text(number: str) -> tuple[set[str], int]:
    """The `## ` section titles (without their numbers) and the number of markdown words of lesson `number` ("05b")."""
    nb = nbformat.read(LESSONS[number], as_version=4)
    return set(sections(nb)) - {""}, words(nb.cells)


@pytest.mark.parametrize("heading", ["The 3-hour plan", "The two-session plan"])
def test_the_sections_a_plan_names_are_sections_of_the_lesson(heading):
    for row in plan_rows(heading):
        if numbers := NOTEBOOK.findall(row["notebook"]):  # a row may name two lessons: 05, then 05b at home
            titles = set().union(*(lesson_text(number)[0] for number in numbers))
            named = re.findall(r"\*([^*]+)\*", row["run"] + " " + row["skip (send home)"])
            assert set(named) <= titles, f"{row['notebook']}: no sections {set(named) - titles} in {sorted(titles)}"


@pytest.mark.parametrize("heading", ["The 3-hour plan", "The two-session plan"])
def test_each_plan_row_gives_at_least_its_measured_sum_and_reads_the_words_its_sections_hold_now(heading):
    """The measured table under each plan: its words are those of the sections the row runs, counted now (a lesson
    that grows after the measurement fails this until the table is measured again); its reading and exercise
    allowances are the stated ones; and the plan gives each notebook at least the sum, as the guide says."""
    measured = [t for t in tables(section(WORKSHOP.read_text(encoding="utf-8"), heading)) if "words read" in t[0]]
    assert len(measured) == 1, f"'{heading}' should hold one measured table, found {len(measured)}"
    rows = {row["notebook"]: row for row in measured[0]}
    given = notebook_minutes(heading)
    for row in plan_rows(heading):
        if not (number := NOTEBOOK.search(row["notebook"])):
            continue
        nb = nbformat.read(LESSONS[number[1]], as_version=4)
        counted = words([c for c, run in zip(nb.cells, lesson_cells(nb, row["run"], row["skip (send home)"])) if run])
        table = rows[number[1]]
        assert int(table["words read"].replace(",", "")) == counted, f"{heading}, {number[1]}: re-measure the table"
        assert table["reading"] == f"{counted / WORDS_PER_MINUTE:.1f} min", (heading, number[1])
        in_class_here = keys_in(row["exercises in class"])
        assert table["in-class exercises"] == f"{len(in_class_here)} × {EXERCISE_MINUTES} min", (heading, number[1])
        sum_column = next(k for k in table if k.startswith("sum, run in "))  # "sum, run in fast mode"
        run_seconds = float(re.match(r"(\d+) s", table[f"run, {sum_column.split()[3]}"])[1])
        total = float(re.match(r"([\d.]+) min", table[sum_column])[1])
        expected = counted / WORDS_PER_MINUTE + EXERCISE_MINUTES * len(in_class_here) + run_seconds / 60
        assert abs(total - expected) < 0.1, f"{heading}, {number[1]}: a sum of {total} min, not {expected:.1f}"
        assert table["the plan gives"] == f"{given[number[1]]} min", (heading, number[1])
        assert given[number[1]] >= total, f"{heading}: {number[1]} gets {given[number[1]]} min for a sum of {total}"


def notebook_minutes(heading: str) -> dict[str, int]:
    """{lesson number: minutes the plan gives it}; a row that names two lessons counts for the first."""
    found: dict[str, int] = {}
    for row, (start, end) in zip(rows := plan_rows(heading), minutes(rows)):
        if number := NOTEBOOK.search(row["notebook"]):
            found[number[1]] = found.get(number[1], 0) + end - start
    return found


def self_study() -> dict[str, tuple[int, int, int]]:
    """{step ("05b"): (lesson, exercises, total) minutes} of the self-study table, the **all** row included; a
    lesson whose exercises are in another lesson's notebook (05b's, in 05's) has "—" there, read as 0."""
    rows = tables(section(WORKSHOP.read_text(encoding="utf-8"), "The self-study path"))[0]
    return {step[0] if (step := re.match(r"\d\d[a-z]?\b", row["step"])) else "all":
            tuple(int(found[1]) if (found := re.match(r"\**(\d+) min", row[c])) else 0
                  for c in ("lesson", "exercises", "total")) for row in rows}


def test_the_self_study_table_adds_up_and_gives_every_lesson_its_reading_time():
    steps = self_study()
    total = steps.pop("all")
    assert all(lesson + exercises == both for lesson, exercises, both in steps.values())
    assert tuple(map(sum, zip(*steps.values()))) == total
    for number, (lesson, _, _) in steps.items():
        assert lesson >= lesson_text(number)[1] / WORDS_PER_MINUTE, f"lesson {number}: less than its reading time"


def test_the_readme_syllabus_quotes_the_self_study_table_and_both_plans():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = tables(section(readme, "Syllabus"))[0]
    steps, three_hours, two_sessions = self_study(), notebook_minutes("The 3-hour plan"), notebook_minutes(
        "The two-session plan")
    assert sorted(re.search(r"notebooks/(\d\d[a-z]?)_", row["notebook"])[1] for row in rows) == sorted(LESSONS)
    for row in rows:
        number = re.search(r"notebooks/(\d\d[a-z]?)_", row["notebook"])[1]
        lesson, exercises, _ = steps[number]
        study = f"{lesson} + {exercises} min" if exercises else \
            f"{lesson} min (its exercises are in {number[:2]}'s notebook)"  # 05b's are in 05's
        assert row["self-study (lesson + exercises)"] == study, number
        assert row["workshop: 3-hour plan / two sessions"] == \
            f"{three_hours.get(number, 0)} / {two_sessions.get(number, 0)} min", number
    lesson, exercises, total = steps["all"]
    assert f"{total // 60} h {total % 60} min in all ({lesson // 60} h {lesson % 60} min of lessons, " \
           f"{exercises // 60} h {exercises % 60} min of exercises)" in " ".join(readme.split())


@pytest.mark.parametrize("number", [n for n in sorted(LESSONS) if n != "00" and len(n) == 2])
def test_the_sections_an_exercise_notebook_practises_are_sections_of_its_lesson(number):
    """Each exercise notebook's "**The lesson.**" paragraph names lesson sections by title; a reordered or renamed
    lesson must not leave it pointing at sections that are gone."""
    [solutions] = (ROOT / "solutions").glob(f"{number}_*.ipynb")
    opening = nbformat.read(solutions, as_version=4).cells[0].source
    paragraph = opening.split("**The lesson.**", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"\*([^*]+)\*", " ".join(paragraph.split())))
    titles = set().union(*(lesson_text(n)[0] for n in LESSONS if n[:2] == number))  # 05's exercises: 05 and 05b
    assert named and named <= titles, f"{solutions.name}: no sections {named - titles} in {sorted(titles)}"
