"""Reading submitted notebooks and planning where each exercise is graded.

A submission's code cells are read (never run) here: its `check("KEY", name)` lines are taken out, and each
exercise gets a grading step after the cell where it is due.
"""
from __future__ import annotations

import ast
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib import checks

# one `;` at most, and no two `\s*` side by side, so that matching takes linear time on any line
CHECK_LINE = re.compile(r"""^check\(\s*(['"])(?P<key>\d+\.\d+)\1\s*,\s*(?P<name>[A-Za-z_]\w*)\s*\)\s*(?:;\s*)?(#.*)?$""")
MAX_CHECK_LINE = 1000  # characters: a longer line is never taken for a check line
MAX_NOTEBOOK = 64 * 2**20  # bytes of the notebook file (outputs included)
MAX_CODE = 2**20  # characters of all its code cells: the grader parses them in its own process


def read_submission(path: Path) -> bytes:
    """The bytes of a submitted notebook: a regular file of at most MAX_NOTEBOOK bytes, never a symbolic link
    (a link could point at the solutions or at the grader's own files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if path.is_symlink():
            raise ValueError("it is a symbolic link, not a file: the grader reads only regular files inside the "
                             "submissions folder (unpack archives without links, or replace each link by its file)"
                             ) from None
        raise ValueError(f"it cannot be opened ({err.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        if info.st_size > MAX_NOTEBOOK:
            raise ValueError(f"the file is larger than {MAX_NOTEBOOK // 2**20} MiB")
        return file.read(MAX_NOTEBOOK + 1)


def read_code_cells(path: Path) -> list[str]:
    """The sources of the notebook's code cells, in order (only read, never written)."""
    try:
        nb = nbformat.reads(read_submission(path).decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, nbformat.reader.NotJSONError):
        raise ValueError("it is not a notebook (not UTF-8 JSON)") from None
    sources = [str(cell.source) for cell in nb.cells if cell.cell_type == "code"]
    if sum(map(len, sources)) > MAX_CODE:
        raise ValueError(f"its code cells hold more than {MAX_CODE // 2**20} MiB of text, more than any exercise "
                         "needs; remove pasted data or outputs from the code")
    return sources


def split_checks(source: str) -> tuple[str, list[tuple[str, str]]]:
    """The cell without its top-level `check("KEY", name)` lines, and the (key, name) pairs they named."""
    kept, found = [], []
    for line in source.split("\n"):
        short = len(line) <= MAX_CHECK_LINE and not line[:1].isspace()
        match = CHECK_LINE.match(line.strip()) if short else None
        if match:
            found.append((match["key"], match["name"]))
        else:
            kept.append(line)
    return "\n".join(kept), found


def top_level_names(source: str) -> set[str]:
    """The names the cell binds at its top level (def, class, assignment or import)."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {m[1] or m[2] for m in re.finditer(r"^(?:def|class)\s+(\w+)|^(\w+)[ \t]*[:=]", source, re.M)}
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name) for a in node.names)
    return names


@dataclass(frozen=True)
class Step:
    """Run code cell `index` (key None), or grade exercise `key` after it, trying `names` in order."""

    index: int
    source: str = ""
    key: str | None = None
    names: tuple[str, ...] = ()
    note: str = ""


def plan(sources: list[str], keys: list[str]) -> list[Step]:
    """The cells without their check lines, with a grading step after the cell where each exercise is due."""
    cells = [split_checks(source) for source in sources]
    bound: list[set[str]] = []  # each cell's top-level names, parsed once and only if a check line is missing
    due: dict[int, list[Step]] = {}
    for key in keys:
        ex = checks.get(key)
        lines = [(i, name) for i, (_, pairs) in enumerate(cells) for k, name in pairs if k == key]
        if lines:
            index, name = lines[0]
            step = Step(index, key=key, names=tuple(dict.fromkeys([ex.answer, name])))
        else:
            bound = bound or [top_level_names(kept) for kept, _ in cells]
            defining = [i for i, names in enumerate(bound) if ex.answer in names]
            index = defining[-1] if defining else len(cells) - 1
            where = f"after {describe_cell(index, sources[index])}" if sources else "at the end"
            step = Step(index, key=key, names=(ex.answer,), note=(
                f"the check line `check(\"{key}\", {ex.answer})` was changed or removed; the grader checked "
                f"`{ex.answer}` {where} anyway."))
        due.setdefault(step.index, []).append(step)
    steps = []
    for index, (kept, _) in enumerate(cells):
        steps.append(Step(index, kept))
        steps += due.pop(index, [])
    return steps + [step for late in due.values() for step in late]  # an empty notebook: grade at once


def identify(path: Path | None) -> str | None:
    """The notebook number NN a submission is: the one its check lines name most often, else the one whose
    answers it defines most often (`def mean_image`); None if it names none, is a tie, or cannot be read."""
    try:
        sources = read_code_cells(path) if path is not None else []
    except Exception:
        return None
    answers = {ex.answer: key.split(".")[0] for key, ex in checks.EXERCISES.items()}
    lines: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for source in sources:
        lines.update(key.split(".")[0] for key, _ in split_checks(source)[1])
        names.update(nn for name, nn in answers.items() if re.search(rf"^(def|class)\s+{name}\b", source, re.M))
    ranked = (lines or names).most_common(2)
    return ranked[0][0] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None


def infer_assignment(notebooks: dict[str, str | None]) -> tuple[str, str]:
    """The assignment a clear majority of students handed in (student -> `identify`'s number), and a sentence
    saying so; a ValueError asking for --assignment when more than half of the identified students do not agree."""
    counts = Counter(nn for nn in notebooks.values() if nn is not None)
    told = ", ".join(f"{n} handed in notebook {nn}" for nn, n in counts.most_common())
    unknown = sum(nn is None for nn in notebooks.values())
    told += f"{', ' if told else ''}{unknown} could not be told" if unknown else ""
    if not counts:
        raise ValueError("no submission holds a check(\"NN.k\", ...) line or an exercise's answer; pass "
                         "--assignment NN.")
    (best, n), = counts.most_common(1)
    if n * 2 <= counts.total():
        raise ValueError(f"no clear majority of students handed in one notebook ({told}); pass --assignment NN.")
    return best, f"assignment {best} inferred from the students' notebooks: {told}"


def describe_cell(index: int, source: str) -> str:
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return f'code cell {index + 1} ("{first[:40]}{"..." if len(first) > 40 else ""}")'




def definitions(sources: list[str]) -> list[str]:
    """The statements of these cells that define things, in order, each as its own source: imports, `def`s and
    `class`es (with their decorators), and names bound to a literal, a lambda or another name (`f = g`,
    `SIZES = [16, 32]`). Nothing else: no call, loop or other statement at a cell's top level.

    The grader rebuilds an answer from these alone, in a sandbox that has run no other code of the submission, to
    probe it (see submission.ProbeSandbox). A cell that cannot be parsed gives nothing.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    kept = []
    for source in sources:
        try:
            text = TransformerManager().transform_cell(source)
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        lines = text.encode().splitlines(keepends=True)  # ast's column offsets count UTF-8 bytes
        for node in tree.body:
            if _defines(node):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                chunk = lines[first - 1:node.end_lineno]
                chunk[-1] = chunk[-1][:node.end_col_offset]
                chunk[0] = chunk[0][0 if first < node.lineno else node.col_offset:]
                kept.append(b"".join(chunk).decode())
    return kept


def _defines(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        if isinstance(node.value, (ast.Lambda, ast.Name, ast.Attribute)):
            return True
        try:
            ast.literal_eval(node.value)
            return True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return False
