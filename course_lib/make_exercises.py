"""Generate `exercises/` from `solutions/`: the answers between nbgrader's markers become hints.

    python -m course_lib.make_exercises            # (re)write exercises/*.ipynb
    python -m course_lib.make_exercises --check    # exit 1 and name every stale file; write nothing
    python -m course_lib.make_exercises --learner-repo DEST   # a new git repository: the course without solutions/

In a code cell of solutions/NN_topic.ipynb,

        ### BEGIN SOLUTION hint: average over dim=0
        ...answer...
        ### END SOLUTION

becomes `raise NotImplementedError("average over dim=0")` at the marker's indentation (a generic message when
there is no hint), and `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` regions are dropped. A region at a
cell's top level that only binds to a literal the name its check line checks (a prediction: `my_share = 0.6`,
then `check("04.6", my_share)`) becomes `my_share = ...` with the hint as a comment, so that the cell's `check`
runs and says "not done yet" (see checks.value_of). Outputs are cleared and the bytes are the same on every run,
so `--check` can compare files exactly.

Hints come in two levels. The marker's hint (level 1) says what to think about: the idea, the formula, the shape.
When the cell checks exercise KEY (`check("KEY", ...)`), the stub adds where to find level 2, `hint("KEY")`,
which names the functions to use (registered with the exercise in course_lib/checks_NN.py). No hint may repeat
the solution's code: `leaks(code, text)` says where one does, and a marker hint that leaks stops the generator.
"""
from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<what>BEGIN|END) (?P<kind>SOLUTION|HIDDEN TESTS)\b(?P<rest>.*)$")
CHECK_LINE = re.compile(r"""^check\(\s*["'](?P<key>\d+\.\d+)["']\s*,""", re.M)
GENERIC_HINT = "Replace this line with your code."
MORE_HELP = " (More help: run hint('{key}') in a cell.)"
FRAGMENT = 8  # characters (spaces removed): a solution line or expression at least this long may not be in a hint
OVERLAP = 0.7  # share of the solution's tokens that a hint may not reach


class MarkerError(ValueError):
    """The solution markers in a notebook cell do not pair up, or a marker's hint gives the solution away."""


def _parse(source: str, where: str, key: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The blanked source, and the (hint, code) of each SOLUTION region; MarkerError if markers do not pair up."""
    out: list[str] = []
    regions: list[tuple[str, list[str]]] = []
    open_kind, open_line = None, 0
    for number, line in enumerate(source.split("\n"), start=1):
        match = MARKER.match(line)
        if match is None:
            if open_kind is None:
                out.append(line)
            elif open_kind == "SOLUTION":
                regions[-1][1].append(line)
            continue
        what, kind = match["what"], match["kind"]
        if what == "BEGIN":
            if open_kind is not None:
                raise MarkerError(f"{where}, line {number}: '### BEGIN {kind}' inside the '### BEGIN {open_kind}' "
                                  f"of line {open_line}; close that one with '### END {open_kind}' first.")
            open_kind, open_line = kind, number
            if kind == "SOLUTION":
                rest = match["rest"].strip()
                hint = rest[len("hint:"):].strip() if rest.lower().startswith("hint:") else rest
                regions.append((hint, []))
                message = (hint or GENERIC_HINT) + (MORE_HELP.format(key=key) if key else "")
                out.append(f"{match['indent']}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})")
        else:
            if open_kind == "SOLUTION" and kind == "SOLUTION" and not match["indent"]:
                name = _predicted_name(regions[-1][1])
                checked = name and key and re.search(rf"^check\(\s*[\"']{re.escape(key)}[\"']\s*,\s*{name}\s*\)",
                                                     source, re.M)
                if checked and out[-1].startswith("raise NotImplementedError("):
                    hint = regions[-1][0] or GENERIC_HINT
                    out[-1] = f"{name} = ...  # {hint}" + (MORE_HELP.format(key=key) if key else "")
            if open_kind != kind:
                opened = f"the open region is '{open_kind}' from line {open_line}" if open_kind else "none is open"
                raise MarkerError(f"{where}, line {number}: '### END {kind}' without a matching "
                                  f"'### BEGIN {kind}' ({opened}).")
            open_kind = None
    if open_kind is not None:
        raise MarkerError(f"{where}, line {open_line}: '### BEGIN {open_kind}' is never closed; "
                          f"add '### END {open_kind}' in the same cell.")
    return "\n".join(out), [(hint, "\n".join(code)) for hint, code in regions]


def _predicted_name(lines: list[str]) -> str | None:
    """The name that a region's code binds to a literal, if that is all it does (a prediction), else None."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(node := tree.body[0], ast.Assign) or len(node.targets) != 1 \
            or not isinstance(node.targets[0], ast.Name):
        return None
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError):
        return None
    return node.targets[0].id


def blank_source(source: str, where: str = "cell", key: str | None = None) -> str:
    """The cell source with each SOLUTION region replaced by a stub and each HIDDEN TESTS region removed.

    key: the exercise the cell checks; its stub then says how to ask for the second-level hint.
    """
    return _parse(source, where, key)[0]


def solution_regions(source: str, where: str = "cell") -> list[tuple[str, str]]:
    """(marker hint, solution code) of each SOLUTION region of a cell."""
    return _parse(source, where)[1]


def checked_key(source: str) -> str | None:
    """The exercise key of the cell's `check("KEY", ...)` line, if it has one."""
    match = CHECK_LINE.search(source)
    return match["key"] if match else None


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[A-Za-z_][A-Za-z_0-9]*|[@*/+\-]|\.T\b|\d+", text) if not keyword.iskeyword(t)]


_OPERATIONS = (ast.Call, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Subscript, ast.Lambda, ast.IfExp,
               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _fragments(code: str) -> set[str]:
    """Every line of `code` (comments dropped) and every expression in it that does something (a call with
    arguments, an operator, an index), as text without spaces; a call also as `name(args)` without its object."""
    lines = [line.split("#")[0] for line in code.split("\n")]
    found = {_squash(line) for line in lines}
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, _OPERATIONS) and not (isinstance(node, ast.Call) and not node.args and not node.keywords):
            found.add(_squash(ast.unparse(node)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                found.add(_squash(node.func.attr + ast.unparse(node)[len(ast.unparse(node.func)):]))
    return found


def leaks(code: str, text: str) -> list[str]:
    """What in `text` (a hint or a check's message) repeats the solution `code`; empty if nothing does.

    Stricter than a reviewer's eye on purpose: a line or an expression of the solution of FRAGMENT characters
    or more (spaces ignored) inside the text, or OVERLAP of the solution's names, numbers and operators in it.
    """
    squashed = _squash(text)
    found = sorted(f for f in _fragments(code) if len(f) >= FRAGMENT and f in squashed)
    solution = _tokens("\n".join(line.split("#")[0] for line in code.split("\n")))
    named = set(_tokens(text))
    shared = sum(t in named for t in solution)
    if solution and shared / len(solution) >= OVERLAP:
        found.append(f"{shared} of the solution's {len(solution)} tokens")
    return found


def make_exercise(solution: Path) -> str:
    """The exercise notebook generated from `solution`, as the exact text to write."""
    nb = nbformat.read(solution, as_version=4)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    for index, cell in enumerate(nb.cells):
        cell["id"] = cell.get("id") or f"cell-{index:03d}"
        if cell.cell_type == "code":
            where = f"{solution}: cell {index} (id {cell['id']})"
            for hint, code in solution_regions(cell.source, where):
                if found := leaks(code, hint):
                    raise MarkerError(f"{where}: the hint repeats the solution ({'; '.join(found)}); "
                                      "say what to think about, not the code.")
            cell.source = blank_source(cell.source, where, checked_key(cell.source))
            cell.outputs, cell.execution_count = [], None
        elif any(MARKER.match(line) for line in cell.source.split("\n")):
            raise MarkerError(f"{solution}: cell {index} (id {cell['id']}) is {cell.cell_type} but holds solution "
                              "markers; only code cells may.")
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def stale_files(solutions: Path, exercises: Path) -> dict[Path, str]:
    """Every exercise file that differs from what `solutions` generates: path -> expected text ('' = delete)."""
    wanted = {exercises / path.name: make_exercise(path) for path in sorted(solutions.glob("*.ipynb"))}
    stale = {path: text for path, text in wanted.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text}
    stale.update({path: "" for path in sorted(exercises.glob("*.ipynb")) if path not in wanted})
    return stale


def learner_repo(root: Path, dest: Path) -> list[Path]:
    """Copy every file git tracks in `root`, except solutions/, into a new git repository at `dest` (files staged,
    not committed; no history, which would hold the solutions). ValueError if `dest` is not new or empty, or a
    copied notebook still holds a solution marker. Returns the files copied, relative to `dest`."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"--learner-repo {dest} exists and is not an empty folder; give a new folder.")
    if dest.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"--learner-repo {dest} is inside the repository; give a folder outside it.")
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    files = [Path(name) for name in listed.decode().split("\0") if name and not name.startswith("solutions/")]
    for name in files:
        if name.suffix == ".ipynb" and (root / name).is_file() and "### BEGIN SOLUTION" in (root / name).read_text():
            raise ValueError(f"{name} holds '### BEGIN SOLUTION'; only solutions/ may. Nothing was written.")
    for name in files:
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "add", "-A"], check=True)
    return [name for name in files if (dest / name).is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.make_exercises", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if exercises/ is stale; write nothing")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: ./solutions")
    parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="default: ./exercises")
    parser.add_argument("--learner-repo", type=Path, metavar="DEST",
                        help="make DEST a new git repository holding the course without solutions/ (for learners)")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        parser.error(f"--solutions {args.solutions} is not a folder; run from the repository root or pass it.")
    try:
        stale = stale_files(args.solutions, args.exercises)
    except MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.learner_repo:
        if stale:
            parser.error("exercises/ is stale; run `python -m course_lib.make_exercises` and commit it first.")
        try:
            copied = learner_repo(args.solutions.resolve().parent, args.learner_repo)
        except ValueError as err:
            parser.error(str(err))
        print(f"{args.learner_repo}: a new git repository with {len(copied)} files staged, no solutions/. Review "
              "it, then commit and push it where learners clone from.")
        return 0
    if args.check:
        for path, text in stale.items():
            why = "has no solution notebook" if not text else "is missing" if not path.exists() else "is out of date"
            print(f"stale: {path} {why}", file=sys.stderr)
        if stale:
            print("Run `python -m course_lib.make_exercises` and commit exercises/.", file=sys.stderr)
        return 1 if stale else 0
    args.exercises.mkdir(parents=True, exist_ok=True)
    for path, text in stale.items():
        if text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            path.unlink()
            print(f"removed {path} (no solution notebook)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
