"""Generating exercises/ from solutions/: stubs with hints, exact bytes, --check, and the learner's experience."""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib import checks
from course_lib.grading import use_this_python
from course_lib.make_exercises import MarkerError, blank_source, main, make_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHECK_LINE = re.compile(r"""^check\(\s*["'](\d+\.\d+)["']\s*,""", re.M)


def test_a_solution_region_becomes_a_stub_with_its_hint_at_its_indentation():
    source = ("def f(x):\n    ### BEGIN SOLUTION hint: double it\n    y = 2 * x\n    return y\n    ### END SOLUTION\n\n"
              'check("99.1", f)')
    assert blank_source(source) == 'def f(x):\n    raise NotImplementedError("double it")\n\ncheck("99.1", f)'


def test_a_region_without_a_hint_gets_a_generic_message_and_hidden_tests_vanish():
    source = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN HIDDEN TESTS\nassert x == 1\n### END HIDDEN TESTS\nprint(x)"
    assert blank_source(source) == 'raise NotImplementedError("Replace this line with your code.")\nprint(x)'


def test_a_hint_with_quotes_stays_valid_python():
    stub = blank_source('### BEGIN SOLUTION hint: use "torch.log", not \'math.log\'\nx = 1\n### END SOLUTION')
    with pytest.raises(NotImplementedError, match="use \"torch.log\", not 'math.log'"):
        exec(stub)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", r"line 1: '### BEGIN SOLUTION' is never closed"),
    ("x = 1\n### END SOLUTION", r"line 2: '### END SOLUTION' without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n", r"line 2: '### BEGIN HIDDEN TESTS' inside"),
    ("### BEGIN SOLUTION\nx = 1\n### END HIDDEN TESTS", r"line 3: '### END HIDDEN TESTS' without"),
])
def test_unbalanced_markers_are_reported(source, message):
    with pytest.raises(MarkerError, match=message):
        blank_source(source)


def _write_solution(folder: Path, sources: list[str], name: str = "99_demo.ipynb") -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    nb.cells[1].execution_count = 3
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def test_the_error_names_the_file_and_the_cell(tmp_path):
    path = _write_solution(tmp_path, ["x = 1", "### BEGIN SOLUTION\ny = 2"])
    with pytest.raises(MarkerError, match=r"99_demo\.ipynb: cell 2 \(id .*\), line 1"):
        make_exercise(path)


def test_generated_notebooks_are_deterministic_and_have_no_outputs(tmp_path):
    path = _write_solution(tmp_path, ["print('hi')", "### BEGIN SOLUTION hint: h\nx = 1\n### END SOLUTION"])
    text = make_exercise(path)
    assert text == make_exercise(path) and text.endswith("}\n")
    cells = json.loads(text)["cells"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    assert "".join(cells[2]["source"]) == 'raise NotImplementedError("h")'
    assert [c["id"] for c in cells] == [c["id"] for c in json.loads(path.read_text())["cells"]]


def test_check_fails_after_a_solution_is_edited_and_passes_after_regenerating(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(ROOT / "solutions", solutions)
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert main(args) == 0 and main(args + ["--check"]) == 0
    edited = solutions / "00_warmup.ipynb"
    edited.write_text(edited.read_text().replace("### BEGIN SOLUTION hint: (images > threshold).float()",
                                                 "### BEGIN SOLUTION hint: compare, then convert"))
    (exercises / "98_orphan.ipynb").write_text("{}")
    capsys.readouterr()
    assert main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert "exercises/00_warmup.ipynb is out of date" in err and "98_orphan.ipynb has no solution notebook" in err
    assert main(args) == 0 and main(args + ["--check"]) == 0
    assert "compare, then convert" in (exercises / "00_warmup.ipynb").read_text()
    assert not (exercises / "98_orphan.ipynb").exists()


def test_the_repositorys_exercises_are_up_to_date(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["--check"]) == 0, capsys.readouterr().err


def _keys_checked(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [key for cell in cells if cell.cell_type == "code" for key in CHECK_LINE.findall(cell.source)]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_each_solution_checks_every_exercise_of_its_notebook_once(solution):
    """nbval runs solutions/ and `check` raises unless it passes; this makes sure no registered exercise is left out."""
    registered = sorted(k for k in checks.EXERCISES if k.split(".")[0] == solution.name[:2])
    assert registered, f"{solution.name}: no exercises registered for notebook {solution.name[:2]}"
    assert sorted(_keys_checked(solution)) == registered


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_every_check_in_the_generated_exercise_says_not_done_yet(solution):
    exercise = ROOT / "exercises" / solution.name
    nb = nbformat.read(exercise, as_version=4)
    client = NotebookClient(nb, allow_errors=True, timeout=300, resources={"metadata": {"path": str(exercise.parent)}})
    use_this_python(client)
    client.execute()
    graded = [cell for cell in nb.cells if cell.cell_type == "code" and CHECK_LINE.search(cell.source)]
    assert [CHECK_LINE.search(c.source)[1] for c in graded] == _keys_checked(solution)
    for cell in graded:
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert len(errors) == 1 and errors[0].ename == "ExerciseNotPassed", cell.source
        assert "not done yet" in errors[0].evalue
        assert "Traceback" not in "".join(errors[0].traceback)  # the learner sees the message only
