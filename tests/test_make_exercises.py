"""Generating exercises/ from solutions/: stubs with hints, exact bytes, --check, hints that never hold the solution,
and the learner's experience."""
import ast
import contextlib
import inspect
import io
import json
import keyword
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_lib import checks
from course_lib.make_exercises import (MarkerError, blank_source, checked_key, leaks, main, make_exercise,
                                      solution_regions)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHECK_LINE = re.compile(r"""^check\(\s*["'](\d+\.\d+)["']\s*,""", re.M)


def test_a_solution_region_becomes_a_stub_with_its_hint_at_its_indentation():
    source = ("def f(x):\n    ### BEGIN SOLUTION hint: double it\n    y = 2 * x\n    return y\n    ### END SOLUTION\n\n"
              'check("99.1", f)')
    assert blank_source(source) == 'def f(x):\n    raise NotImplementedError("double it")\n\ncheck("99.1", f)'
    assert blank_source(source, key=checked_key(source)) == (
        'def f(x):\n    raise NotImplementedError("double it (More help: run hint(\'99.1\') in a cell.)")\n\n'
        'check("99.1", f)')


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
    edited.write_text(edited.read_text().replace("### BEGIN SOLUTION hint: a pixel is on (1.0) when",
                                                 "### BEGIN SOLUTION hint: compare, then convert; a pixel is on when"))
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


# ---- hints in two levels, none of which repeats the solution ------------------------------------------------------

def _hook_flags(code: str, hint: str) -> bool:
    """The before-stop hook's heuristic, as it reads a marker: a long solution line inside the hint, or most of the
    solution's tokens in it. `leaks` must flag at least everything this flags."""
    toks = lambda text: [t for t in re.findall(r"[A-Za-z_][A-Za-z_0-9]*|[@*/+\-]|\.T\b|\d+", text)
                         if not keyword.iskeyword(t)]
    norm = lambda text: re.sub(r"\s+", "", text)
    solution, named = toks("\n".join(line.split("#")[0] for line in code.splitlines())), set(toks(hint))
    if solution and sum(t in named for t in solution) / len(solution) >= 0.7:
        return True
    return any(len(norm(line.split("#")[0])) >= 12 and norm(line.split("#")[0]) in norm(hint)
               for line in code.splitlines())


# (solution, hint) pairs the exercises had before hints were rewritten: each gave the answer away
OLD_HINTS = [
    ("    return (images > threshold).float()", "(images > threshold).float()"),
    ("    return binarise(images, threshold).mean(dim=(1, 2, 3))", "binarise(images, threshold).mean(dim=(1, 2, 3))"),
    ("    chol = torch.linalg.cholesky(cov)\n    return mean + torch.randn(n, len(mean)) @ chol.T",
     "L = torch.linalg.cholesky(cov); return mean + torch.randn(n, len(mean)) @ L.T"),
    ("    return torch.softmax(log_px_given_y + prior.log(), dim=1)",
     "add prior.log() to the log-likelihoods, then torch.softmax(..., dim=1) normalises each row"),
    ("    mu = x.mean()\n    return mu, ((x - mu) ** 2).mean().sqrt()",
     "mu is the mean of x; sigma is the square root of the mean of (x - mu)^2 (divide by n)"),
    ("    z = (x - mean) @ W\n    return z, z @ W.T + mean", "z = (x - mean) @ W, then x_hat = z @ W.T + mean"),
    ("    t = torch.linspace(0, 1, steps)[:, None]\n    return (1 - t) * z_a + t * z_b",
     "t = torch.linspace(0, 1, steps); each row is (1 - t) * z_a + t * z_b"),
    ("    return mean + torch.exp(0.5 * logvar) * eps", "sigma = torch.exp(0.5 * logvar); z = mean + sigma * eps"),
    ("    return z[:, None, :] + strengths[None, :, None] * direction",
     "z[:, None, :] has shape (n, 1, d); strengths[None, :, None] has shape (1, k, 1)"),
    ("    return F.binary_cross_entropy_with_logits(logits, x, reduction=\"none\").flatten(1).sum(1)",
     "F.binary_cross_entropy_with_logits(logits, x, reduction='none'), then sum per image with .flatten(1).sum(1)"),
]


@pytest.mark.parametrize("code, hint", OLD_HINTS, ids=range(len(OLD_HINTS)))
def test_leaks_flags_the_hints_that_gave_the_answer_away(code, hint):
    assert leaks(code, hint), hint


def test_leaks_is_at_least_as_strict_as_the_hook_and_lets_names_and_formulas_through():
    pairs = OLD_HINTS + [(code, hint) for solution in SOLUTIONS for code, hint in _texts_to_check(solution)]
    assert all(leaks(code, hint) for code, hint in pairs if _hook_flags(code, hint))
    code = "    chol = torch.linalg.cholesky(cov)\n    return mean + torch.randn(n, len(mean)) @ chol.T"
    assert leaks(code, "torch.linalg.cholesky gives L, torch.randn the noise; use the matrix product @") == []
    assert leaks(code, "map each row to μ + L z, which has mean μ and covariance Σ = L Lᵀ") == []
    assert leaks(code, "compute torch.randn(n, len(mean)) first") != []  # one expression of the solution is enough


def _check_texts(key: str) -> list[str]:
    """What a learner can read about exercise `key` besides the marker: its registry hint, its second-level hint
    (what `hint(key)` prints after the exercise's title) and every string in its check (messages of failed
    checks)."""
    ex = checks.get(key)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        checks.hint(key)
    tree = ast.parse(inspect.getsource(ex.test).lstrip())
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return [ex.hint, printed.getvalue().split("More help: ", 1)[-1], *strings]


def _texts_to_check(solution: Path) -> list[tuple[str, str]]:
    """(solution code, text) for every hint and check message about each solution region of the notebook."""
    pairs = []
    for index, cell in enumerate(nbformat.read(solution, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        key = checked_key(cell.source)
        for marker_hint, code in solution_regions(cell.source, f"{solution.name}: cell {index}"):
            pairs += [(code, marker_hint)] + [(code, text) for text in (_check_texts(key) if key else [])]
    return pairs


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_no_hint_or_check_message_repeats_the_solution(solution):
    found = [f"{leaks(code, text)} in {text[:70]!r}" for code, text in _texts_to_check(solution) if leaks(code, text)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_every_exercise_has_a_marker_hint_and_a_different_second_level_hint(solution):
    for cell in nbformat.read(solution, as_version=4).cells:
        key = checked_key(cell.source) if cell.cell_type == "code" else None
        if key is None:
            continue
        marker_hints = [hint for hint, _ in solution_regions(cell.source)]
        ex, more = checks.get(key), _check_texts(key)[1]
        assert marker_hints and all(len(hint) > 30 for hint in marker_hints), key
        assert ex.hint and more.strip() and more.strip() != ex.hint, key


def test_a_marker_hint_that_repeats_the_solution_stops_the_generator(tmp_path):
    path = _write_solution(tmp_path, ["def f(x):\n    ### BEGIN SOLUTION hint: return 2 * x + 1\n    return 2 * x + 1\n"
                                      "    ### END SOLUTION\n\ncheck(\"99.1\", f)"])
    with pytest.raises(MarkerError, match=r"cell 1 .*the hint repeats the solution"):
        make_exercise(path)


def test_hint_prints_the_second_level(capsys):
    checks.hint("05.4")
    out = capsys.readouterr().out
    assert out.startswith("[05.4] ") and "torch.logsumexp" in out


def test_the_learner_repository_holds_every_tracked_file_but_the_solutions(tmp_path, capsys):
    dest = tmp_path / "learners"
    assert main(["--solutions", str(ROOT / "solutions"), "--exercises", str(ROOT / "exercises"),
                                "--learner-repo", str(dest)]) == 0
    assert "no solutions/" in capsys.readouterr().out
    staged = subprocess.run(["git", "-C", str(dest), "ls-files"], capture_output=True, text=True, check=True).stdout
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True).stdout
    wanted = sorted(name for name in tracked.split() if not name.startswith("solutions/") and (ROOT / name).is_file())
    assert sorted(staged.split()) == wanted and "exercises/00_warmup.ipynb" in wanted
    assert not (dest / "solutions").exists()
    assert not any("### BEGIN SOLUTION" in p.read_text() for p in dest.rglob("*.ipynb"))
    with pytest.raises(SystemExit):  # not into a folder that holds files
        main(["--solutions", str(ROOT / "solutions"), "--exercises", str(ROOT / "exercises"),
                             "--learner-repo", str(dest)])


def test_a_prediction_becomes_a_blank_value_that_its_check_calls_not_done():
    source = ('### BEGIN SOLUTION hint: picture the box around the map\nmy_share = 0.7\n### END SOLUTION\n'
              'check("04.6", my_share)')
    blank = blank_source(source, key=checked_key(source))
    assert blank == ('my_share = ...  # picture the box around the map (More help: run hint(\'04.6\') in a cell.)\n'
                     'check("04.6", my_share)')
    namespace = {"check": checks.check}
    with pytest.raises(checks.ExerciseNotPassed, match="not done yet"):
        exec(blank, namespace)
    assert namespace["my_share"] is Ellipsis
    # anything else at the top level, or a value the check line does not name, stays a raise
    assert blank_source(source.replace("0.7", "f(0.7)"), key="04.6").startswith("raise NotImplementedError(")
    assert blank_source(source.replace('my_share)', 'other)'), key="04.6").startswith("raise NotImplementedError(")
