"""Reading submitted notebooks and planning where each exercise is graded.

A submission's code cells are read (never run) here: its `check("KEY", name)` lines are taken out, and each
exercise gets a grading step after the cell where it is due. The grader's own process only decodes the JSON
(outputs are dropped as they are read) and matches check lines (linear time); `parse_cells`, which runs IPython's
input transformers and Python's parser over the code, runs inside the submission's sandbox (the runner's "read"
request, answered before any submitted code runs), under the sandbox's limits.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import signal
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from course_lib import checks

# one `;` at most, and no two `\s*` side by side, so that matching takes linear time on any line
CHECK_LINE = re.compile(r"""^check\(\s*(['"])(?P<key>\d+\.\d+)\1\s*,\s*(?P<name>[A-Za-z_]\w*)\s*\)\s*(?:;\s*)?(#.*)?$""")
MAX_CHECK_LINE = 1000  # characters: a longer line is never taken for a check line
MAX_NOTEBOOK = 256 * 2**20  # bytes of the notebook file; its outputs are dropped while reading, never graded
BIG = 8 * 2**20  # bytes above which decoding a notebook (about 5 times its size in memory) waits for the others
BIG_DECODE = threading.RLock()  # so that the grader decodes one big notebook at a time: its memory stays bounded
MAX_CODE = 2**20  # characters of all its code cells
PARSE_SECONDS = 2.0  # per cell, inside the sandbox: IPython's transformers take quadratic time on lines of magics
EXEMPT = "course_lib.checks"  # the one course_lib module an answer may use: check() and hint() are not answers


def _open_submission(path: Path):
    """The submitted notebook opened for reading: a regular file of at most MAX_NOTEBOOK bytes, never a symbolic
    link (a link could point at the solutions or at the grader's own files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if path.is_symlink():
            raise ValueError("it is a symbolic link, not a file: the grader reads only regular files inside the "
                             "submissions folder (unpack archives without links, or replace each link by its file)"
                             ) from None
        raise ValueError(f"it cannot be opened ({err.strerror})") from None
    file = os.fdopen(fd, "rb")
    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_NOTEBOOK:
        file.close()
        raise ValueError("it is not a regular file" if not stat.S_ISREG(info.st_mode) else
                         f"the file is larger than {MAX_NOTEBOOK // 2**20} MiB; clear its outputs "
                         "(Edit > Clear Outputs of All Cells), save, and hand it in again")
    return file


def check_submission(path: Path) -> None:
    """ValueError saying why `path` cannot be graded (a link, not a file, too large); else nothing."""
    _open_submission(path).close()


def read_submission(path: Path) -> bytes:
    """The bytes of a submitted notebook (see `check_submission` for what is refused)."""
    with _open_submission(path) as file:
        return file.read(MAX_NOTEBOOK + 1)


def submission_digest(path: Path) -> str:
    """SHA-256 of the notebook's bytes, read in chunks."""
    digest = hashlib.sha256()
    with _open_submission(path) as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _decoded(data: bytes) -> object:
    """The notebook's JSON with its outputs dropped as they are read; a big file waits for any other big one, so
    the grader holds at most one such decoding (about 5 x MAX_NOTEBOOK) at a time, whatever --jobs is."""
    if len(data) <= BIG:
        return json.loads(data.decode("utf-8-sig"), object_hook=_without_outputs)
    with BIG_DECODE:
        return json.loads(data.decode("utf-8-sig"), object_hook=_without_outputs)


def _without_outputs(node: dict) -> dict | None:
    """json.loads' object_hook: an output (it holds an "output_type") is dropped as soon as it is read."""
    return None if "output_type" in node else node


def without_outputs(data: bytes) -> bytes:
    """The notebook's bytes without its outputs (one pass of the C JSON decoder: linear time); unreadable
    bytes come back as they are, for the runner to say why."""
    try:
        return json.dumps(_decoded(data)).encode()
    except (UnicodeDecodeError, ValueError, RecursionError):
        return data


def code_cells(data: bytes) -> list[str]:
    """The sources of the code cells of a notebook file's bytes, in order (outputs are never kept).

    A UTF-8 byte-order mark is accepted; more than MAX_CODE characters of code are refused. Linear time.
    """
    try:
        nb = _decoded(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("it is not a notebook (not UTF-8 JSON)") from None
    if isinstance(nb, dict) and isinstance(nb.get("worksheets"), list):  # nbformat 3: cells in worksheets
        cells = [c for w in nb["worksheets"] if isinstance(w, dict) for c in w.get("cells") or []]
    else:
        cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("it is not a notebook (its JSON holds no list of cells)")
    sources = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", cell.get("input", ""))
            if isinstance(source, list) and all(isinstance(line, str) for line in source):
                source = "".join(source)
            if not isinstance(source, str):
                raise ValueError("it is not a notebook (a code cell's source is not text)")
            sources.append(source)
    if sum(map(len, sources)) > MAX_CODE:
        raise ValueError(f"its code cells hold more than {MAX_CODE // 2**20} MiB of text, more than any exercise "
                         "needs; remove pasted data or outputs from the code")
    return sources


def read_code_cells(path: Path) -> list[str]:
    """The sources of the notebook's code cells, in order (only read, never written)."""
    return code_cells(read_submission(path))


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


# ---- parsing the code: inside the sandbox only -------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """A code cell as planned: its source (check lines included), the names it binds at top level, for each of
    those names the course_lib function or class its code uses (directly, or through the notebook's own
    definitions), if any, and the statements that define things, from which the grader rebuilds an answer."""

    source: str
    names: frozenset[str] = frozenset()
    library: dict[str, str] = field(default_factory=dict)
    definitions: tuple[Definition, ...] = ()  # its imports, def, class and simple bindings (`definitions_of`)


class _ParseTimeout(Exception):
    pass


def _transform(source: str, seconds: float | None) -> str:
    """IPython's transformation of a cell (magics, `!` lines) into Python, given at most `seconds` (SIGALRM)."""
    from IPython.core.inputtransformer2 import TransformerManager

    if seconds is None:
        return TransformerManager().transform_cell(source)

    def alarm(signum: int, frame: object) -> None:
        raise _ParseTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return TransformerManager().transform_cell(source)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _library_imports(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """name -> what of course_lib it binds ("" for a name bound to something else)."""
    bound = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            inside = alias.name == "course_lib" or alias.name.startswith("course_lib.")
            bound[name] = (alias.name if alias.asname else "course_lib") if inside and alias.name != EXEMPT else ""
        return bound
    module = node.module or ""
    inside = node.level == 0 and (module == "course_lib" or module.startswith("course_lib."))
    for alias in node.names:
        if alias.name == "*":
            bound.update(_star_names(module) if inside and module != EXEMPT else {})
        else:
            what = f"{module}.{alias.name}"
            bound[alias.asname or alias.name] = what if inside and what != EXEMPT and module != EXEMPT else ""
    return bound


def _star_names(module: str) -> dict[str, str]:
    """The course_lib functions, classes and modules that `from course_lib.X import *` binds (importing X: only in
    the sandbox, before any submitted code runs); what X imported from elsewhere (torch, math) does not count."""
    import importlib
    import types

    try:
        found = vars(importlib.import_module(module))
    except Exception:
        return {}
    bound = {}
    for name, value in found.items():
        home = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if not name.startswith("_") and isinstance(home, str) and home.startswith("course_lib") and home != EXEMPT \
                and (callable(value) or isinstance(value, types.ModuleType)):
            bound[name] = home if isinstance(value, types.ModuleType) else f"{home}.{name}"
    return bound


def _first_use(node: ast.AST, library: dict[str, str]) -> str:
    """The first course_lib function, class or module that `node`'s code refers to, or ""."""
    local = set()  # parameters and names assigned inside its functions shadow the notebook's names
    for inner in ast.walk(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = inner.args
            local.update(a.arg for a in args.posonlyargs + args.args + args.kwonlyargs)
            local.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
            if inner is not node:
                local.update(n.id for n in ast.walk(inner) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    for inner in ast.walk(node):  # breadth first: `models.gaussian_kl` is met before its `models`
        chain = []
        while isinstance(inner, ast.Attribute):
            chain.insert(0, inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id not in local and library.get(inner.id):
            return ".".join([library[inner.id], *chain])
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and "course_lib" in inner.value:
            return "course_lib (named in a string)"
    return ""


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def parse_cells(sources: list[str], seconds: float | None = None) -> list[Cell]:
    """Each cell with the names it binds and what of course_lib they use.

    Runs IPython's transformers and Python's parser: in the grader this happens only inside the sandbox (the
    runner's "read" request), within `seconds` in all and PARSE_SECONDS per cell; a cell that cannot be parsed in
    time, or at all, falls back to a line-by-line match of `def`, `class` and assignments.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    library: dict[str, str] = {}  # notebook name -> the course_lib thing it is, or whose code uses it
    cells = []
    for source in sources:
        kept = split_checks(source)[0]
        left = None if deadline is None else min(PARSE_SECONDS, deadline - time.monotonic())
        try:
            if left is not None and left <= 0:
                raise _ParseTimeout
            text = _transform(kept, left)
            tree = ast.parse(text)
        except (_ParseTimeout, SyntaxError, ValueError, RuntimeError, RecursionError, MemoryError):
            names = {m[1] or m[2] for m in re.finditer(r"^(?:def|class)\s+(\w+)|^(\w+)[ \t]*[:=]", kept, re.M)}
            cells.append(Cell(source, frozenset(names)))
            continue
        names, uses = set(), {}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name, what in _library_imports(node).items():
                    names.add(name)
                    uses[name] = library[name] = what
                continue
            bound = _bound_names(node)
            if not bound:
                continue
            use = _first_use(node, library)
            # a definition or an alias passes its use on; a value computed by a call (data, a model) does not
            passes = not isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) or isinstance(
                node.value, (ast.Name, ast.Attribute, ast.Lambda))
            for name in bound:
                names.add(name)
                uses[name] = use
                library[name] = use if passes else ""
        cells.append(Cell(source, frozenset(names), {k: v for k, v in uses.items() if v},
                          tuple(definitions_of(tree, text))))
    return cells


# ---- planning -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """Run code cell `index` (key None), or grade exercise `key` after it, trying `names` in order.

    library: for each of `names`, the course_lib function its definition at that point uses (if it does).
    """

    index: int
    source: str = ""
    key: str | None = None
    names: tuple[str, ...] = ()
    note: str = ""
    library: tuple[tuple[str, str], ...] = ()


def _uses_at(cells: list[Cell], index: int, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, course_lib use) for each name whose last binding at or before cell `index` uses course_lib."""
    found = []
    for name in names:
        binding = next((cell for cell in reversed(cells[:index + 1]) if name in cell.names), None)
        if binding is not None and binding.library.get(name):
            found.append((name, binding.library[name]))
    return tuple(found)


def plan(cells: list[Cell], keys: list[str]) -> list[Step]:
    """The cells without their check lines, with a grading step after the cell where each exercise is due.

    That is the cell of the exercise's last `check("KEY", name)` line: the answer is graded as it stood there,
    by the name the check line gives it (the exercise's own name only if that one is not defined). Without a
    check line, it is the last cell that binds the exercise's own name.
    """
    lines = [split_checks(cell.source)[1] for cell in cells]
    due: dict[int, list[Step]] = {}
    for key in keys:
        ex = checks.get(key)
        checked = [(i, name) for i, pairs in enumerate(lines) for k, name in pairs if k == key]
        if checked:
            index, name = checked[-1]
            names = tuple(dict.fromkeys([name, ex.answer]))
            step = Step(index, key=key, names=names, library=_uses_at(cells, index, names))
        else:
            defining = [i for i, cell in enumerate(cells) if ex.answer in cell.names]
            index = defining[-1] if defining else len(cells) - 1
            where = f"after {describe_cell(index, cells[index].source)}" if cells else "at the end"
            step = Step(index, key=key, names=(ex.answer,), library=_uses_at(cells, index, (ex.answer,)), note=(
                f"the check line `check(\"{key}\", {ex.answer})` was changed or removed; the grader checked "
                f"`{ex.answer}` {where} anyway."))
        due.setdefault(step.index, []).append(step)
    steps = []
    for index, cell in enumerate(cells):
        steps.append(Step(index, split_checks(cell.source)[0]))
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




@dataclass(frozen=True)
class Definition:
    """One statement that defines things (see `definitions_of`): its source, the names it binds and the names its
    code reads (in its body, decorators and default values too)."""

    source: str
    binds: tuple[str, ...]
    uses: tuple[str, ...]


def definitions_of(tree: ast.Module, text: str) -> list[Definition]:
    """The statements of a parsed cell that define things, in order, each as its own source: imports, `def`s and
    `class`es (with their decorators), and names bound to a literal, a lambda or another name (`f = g`,
    `SIZES = [16, 32]`). Nothing else: no call, loop or other statement at a cell's top level.

    The grader rebuilds an answer from those of these it needs (`needed_for`), in a sandbox that has run no other
    code of the submission, to probe it (see submission.ProbeSandbox). They are found by `parse_cells`, inside the
    submission's sandbox before any of its code runs.
    """
    kept = []
    lines = text.encode().splitlines(keepends=True)  # ast's column offsets count UTF-8 bytes
    for node in tree.body:
        if _defines(node):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            chunk = lines[first - 1:node.end_lineno]
            chunk[-1] = chunk[-1][:node.end_col_offset]
            chunk[0] = chunk[0][0 if first < node.lineno else node.col_offset:]
            binds = _bound_names(node) if not isinstance(node, (ast.Import, ast.ImportFrom)) else \
                [(a.asname or a.name).split(".")[0] for a in node.names]
            uses = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - set(binds))
            kept.append(Definition(b"".join(chunk).decode(), tuple(binds), tuple(uses)))
    return kept


def needed_for(name: str, definitions: list[Definition]) -> list[str]:
    """The sources, in order, of every import and of the definitions that `name` needs: the last one that binds
    it, and, through the names their code reads, the last one binding each of those, and so on. A def or class
    statement elsewhere in the notebook that the answer does not use is left out, so its body never runs where
    the answer is probed."""
    last = {bound: i for i, d in enumerate(definitions) for bound in d.binds}
    chosen = {i for i, d in enumerate(definitions) if d.source.lstrip().startswith(("import ", "from "))}
    todo, seen = [name], set()
    while todo:
        wanted = todo.pop()
        if wanted in seen or wanted not in last:
            continue
        seen.add(wanted)
        chosen.add(last[wanted])
        todo += definitions[last[wanted]].uses
    return [definitions[i].source for i in sorted(chosen)]


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
