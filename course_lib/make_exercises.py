"""Generate `exercises/` from `solutions/`: the answers between nbgrader's markers become hints.

    python -m course_lib.make_exercises            # (re)write exercises/*.ipynb
    python -m course_lib.make_exercises --check    # exit 1 and name every stale file; write nothing

In a code cell of solutions/NN_topic.ipynb,

        ### BEGIN SOLUTION hint: average over dim=0
        ...answer...
        ### END SOLUTION

becomes `raise NotImplementedError("average over dim=0")` at the marker's indentation (a generic message when
there is no hint), and `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` regions are dropped. Outputs are
cleared and the bytes are the same on every run, so `--check` can compare files exactly.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<what>BEGIN|END) (?P<kind>SOLUTION|HIDDEN TESTS)\b(?P<rest>.*)$")
GENERIC_HINT = "Replace this line with your code."


class MarkerError(ValueError):
    """The solution markers in a notebook cell do not pair up."""


def blank_source(source: str, where: str = "cell") -> str:
    """The cell source with each SOLUTION region replaced by a stub and each HIDDEN TESTS region removed."""
    out: list[str] = []
    open_kind, open_line = None, 0
    for number, line in enumerate(source.split("\n"), start=1):
        match = MARKER.match(line)
        if match is None:
            if open_kind is None:
                out.append(line)
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
                out.append(f"{match['indent']}raise NotImplementedError({json.dumps(hint or GENERIC_HINT, ensure_ascii=False)})")
        else:
            if open_kind != kind:
                opened = f"the open region is '{open_kind}' from line {open_line}" if open_kind else "none is open"
                raise MarkerError(f"{where}, line {number}: '### END {kind}' without a matching "
                                  f"'### BEGIN {kind}' ({opened}).")
            open_kind = None
    if open_kind is not None:
        raise MarkerError(f"{where}, line {open_line}: '### BEGIN {open_kind}' is never closed; "
                          f"add '### END {open_kind}' in the same cell.")
    return "\n".join(out)


def make_exercise(solution: Path) -> str:
    """The exercise notebook generated from `solution`, as the exact text to write."""
    nb = nbformat.read(solution, as_version=4)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    for index, cell in enumerate(nb.cells):
        cell["id"] = cell.get("id") or f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell.source = blank_source(cell.source, f"{solution}: cell {index} (id {cell['id']})")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.make_exercises", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if exercises/ is stale; write nothing")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: ./solutions")
    parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="default: ./exercises")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        parser.error(f"--solutions {args.solutions} is not a folder; run from the repository root or pass it.")
    try:
        stale = stale_files(args.solutions, args.exercises)
    except MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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
