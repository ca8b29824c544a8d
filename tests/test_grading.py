"""Batch grading: perfect, blank, partly right and broken or hostile submissions, graded in one batch."""
import csv
import hashlib
from pathlib import Path

import nbformat
import pytest

from course_lib import grading
from course_lib.make_exercises import make_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "00_warmup.ipynb"
CELL_TIMEOUT = 10  # seconds; the slowest honest cell (loading the data) takes a few seconds on a busy machine


def _edit(replacements: dict[str, str]) -> str:
    """The warm-up solution with the code cell starting `prefix` replaced, per replacements {prefix: source}."""
    nb = nbformat.read(SOLUTION, as_version=4)
    for prefix, source in replacements.items():
        cells = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.startswith(prefix)]
        assert len(cells) == 1, f"no single code cell starts with {prefix!r}"
        cells[0].source = source
    return nbformat.writes(nb)


def _insert_after(prefix: str, source: str) -> str:
    nb = nbformat.read(SOLUTION, as_version=4)
    index = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith(prefix))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nbformat.writes(nb)


MEAN, BINARISE, ON = "def mean_image", "def binarise", "def on_fraction"

SUBMISSIONS = {
    "blank": make_exercise(SOLUTION),
    "partly": _edit({
        BINARISE: 'def binarise(images, threshold=0.5):\n    return (images >= threshold).float()\n\n\n'
                  'check("00.2", binarise)',
        ON: 'def on_fraction(images, threshold=0.5):\n    return binarise(images, threshold).mean()\n\n\n'
            'check("00.3", on_fraction)'}),
    "syntax_error": _edit({ON: 'def on_fraction(images, threshold=0.5)\n    return 1\n\n\ncheck("00.3", on_fraction)'}),
    "hangs": _edit({ON: 'def on_fraction(images, threshold=0.5):\n    while True:\n        pass\n\n\n'
                        'check("00.3", on_fraction)'}),
    "crashes": _insert_after(BINARISE, "import os\nos.kill(os.getpid(), 9)"),
    "exits": _edit({BINARISE: 'import sys\nsys.exit("bye")\n\n\ndef binarise(images, threshold=0.5):\n'
                              '    return (images > threshold).float()\n\n\ncheck("00.2", binarise)'}),
    "files": _insert_after(MEAN, (
        "import os, shutil\n"
        "for path in ['00_warmup.ipynb', '../solutions/00_warmup.ipynb', '../../../../../../solutions/00_warmup.ipynb',"
        " 'files.ipynb', '../gradebook.csv']:\n"
        "    try:\n        os.remove(path)\n    except OSError:\n        pass\n"
        "for path in ['gradebook.csv', '../gradebook.csv', '../../../feedback.md', 'perfect.ipynb']:\n"
        "    with open(path, 'w') as handle:\n        handle.write('files,9,9,9,99,4')\n"
        "shutil.rmtree('..', ignore_errors=True)")),
    "cheats": make_exercise(SOLUTION).replace(
        "from course_lib.checks import check\\n",
        "from course_lib.checks import check\\n"
        "import course_lib.checks as checks\\n"
        "from course_lib.checks import PASSED, Result\\n"
        "def check(key, answer):\\n"
        "    print(f'[{key}] passed (2/2).')\\n"
        "checks.run_check = checks.evaluate = lambda *args: Result('00.1', PASSED, 'passed', 2, 2)\\n"
        "checks.EXERCISES.clear()\\n"
        "print('student,00.1,00.2,00.3,total,max\\\\ncheats,2,1,1,4,4')\\n"
        "open('gradebook.csv', 'w').write('student,00.1,00.2,00.3,total,max\\\\ncheats,2,1,1,4,4\\\\n')\\n"),
    "unreadable": "{ this is not a notebook",
}

EXPECTED = """student,00.1,00.2,00.3,total,max
blank,0,0,0,0,4
cheats,0,0,0,0,4
crashes,2,1,0,3,4
exits,2,0,0,2,4
files,2,1,1,4,4
hangs,2,1,0,3,4
missing_check,0,1,1,2,4
partly,2,0,0,2,4
perfect,2,1,1,4,4
syntax_error,2,1,0,3,4
unreadable,0,0,0,0,4
"""


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    instructor = tmp_path_factory.mktemp("course")
    (instructor / "solutions").mkdir()
    (instructor / "solutions" / "00_warmup.ipynb").write_bytes(SOLUTION.read_bytes())
    submissions = instructor / "submitted"
    submissions.mkdir()
    for student, text in SUBMISSIONS.items():
        (submissions / f"{student}.ipynb").write_text(text)
    (submissions / "perfect").mkdir()  # a folder per student works too
    (submissions / "perfect" / "00_warmup.ipynb").write_bytes(SOLUTION.read_bytes())
    (submissions / "missing_check.ipynb").write_text(SOLUTION.read_text().replace('check(\\"00.1\\", mean_image)', ""))
    before = _digest(instructor)
    out = instructor / "grades"
    grades = grading.grade_folder(submissions, out, cell_timeout=CELL_TIMEOUT, timeout=120, log=lambda _: None)
    return instructor, out, before, {g.student: g for g in grades}


def test_gradebook_is_exactly_as_expected(graded):
    _, out, _, _ = graded
    assert (out / "gradebook.csv").read_text() == EXPECTED


def test_the_instructors_folder_is_unchanged_apart_from_the_outputs(graded):
    instructor, _, before, _ = graded
    after = {path: digest for path, digest in _digest(instructor).items() if not path.startswith("grades/")}
    assert after == before


def test_every_student_gets_a_feedback_file_with_the_reasons(graded):
    _, out, _, grades = graded
    with open(out / "gradebook.csv") as handle:
        students = [row["student"] for row in csv.DictReader(handle)]
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == students

    def feedback(student):
        return (out / "feedback" / f"{student}.md").read_text()

    assert "4/4 points" in feedback("perfect") and "passed" in feedback("perfect")
    assert "not done yet" in feedback("blank")
    assert "tried:" in feedback("partly") and "expected:" in feedback("partly") and "got:" in feedback("partly")
    assert "SyntaxError" in feedback("syntax_error")
    assert f"did not finish within {CELL_TIMEOUT} s" in feedback("hangs")
    assert f"ran longer than {CELL_TIMEOUT} s and was stopped" in feedback("hangs")
    assert "the kernel died" in feedback("crashes")
    assert "SystemExit" in feedback("exits")
    assert "could not be read" in feedback("unreadable")
    assert "check line" in feedback("missing_check") and "is missing" in feedback("missing_check")
    assert "replaced" in feedback("cheats") and "grader's own copy" in feedback("cheats")
    assert "not done yet" in feedback("cheats")


def test_the_per_submission_time_limit_stops_a_slow_notebook(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\nfrom course_lib.checks import check\ndef binarise(x, t=0.5):\n"
                                  "    return (x > t).float()\ncheck('00.2', binarise)"),
        *[nbformat.v4.new_code_cell("time.sleep(1.5)") for _ in range(4)],
        nbformat.v4.new_code_cell("def mean_image(images, labels, label):\n    return images.mean(0)\n"
                                  "check('00.1', mean_image)"),
    ])
    (tmp_path / "in").mkdir()
    nbformat.write(nb, tmp_path / "in" / "slow.ipynb")
    [grade] = grading.grade_folder(tmp_path / "in", tmp_path / "out", cell_timeout=5, timeout=3, log=lambda _: None)
    assert [grade.results[key][1] for key in ("00.1", "00.2", "00.3")] == [0, 1, 0]
    assert "ran longer than 3 s in total" in grade.results["00.1"][2]


def test_split_checks_removes_only_top_level_check_lines():
    source = 'x = 1\ncheck("02.1", f)  # graded\n    check("02.2", g)\ny = check("02.3", h)'
    kept, found = grading.split_checks(source)
    assert found == [("02.1", "f")]
    assert kept == 'x = 1\n    check("02.2", g)\ny = check("02.3", h)'


def test_cli_rejects_an_output_folder_inside_the_submissions(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        grading.main([str(tmp_path), "--out", str(tmp_path / "grades")])
    assert stopped.value.code == 2
