"""Build the course website: run every lesson, then render the lessons, the exercises and the syllabus as HTML.

    python website/build.py [--fast] [--jobs N] [--out DIR]      (usually through `python course.py site [--fast]`)

1. Each lesson (notebooks/*.ipynb) runs top to bottom with nbclient, in notebooks/ (so it finds the committed
   checkpoints), with COURSE_STATIC_WIDGETS=1, and with COURSE_FAST=1 under --fast; `--jobs` run at once. A cell
   that raises stops the build with the notebook, the cell and the error. An executed copy is kept in
   build/site/executed/ under a hash of the notebook, course_lib and the checkpoints, so an unchanged lesson is
   not run again (delete build/site/ to force it, e.g. after changing the data or the packages).
2. Widgets become pictures: course_lib's explorers show their static figure (COURSE_STATIC_WIDGETS=1); any other
   widget (a plain slider, a training progress bar) is drawn as HTML from its last state.
3. Exercises are the learner copies in exercises/ (never solutions/), shown as learners get them and not run:
   their blanks raise NotImplementedError until filled in, so running them would only print "not done yet".
4. The landing page is the README: its title, first paragraph, syllabus and quick start, then the exercises.
5. Sphinx with MyST-NB (settings in website/conf.py) writes the static site into --out (default _site/).
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
WEBSITE = ROOT / "website"
WORK = ROOT / "build" / "site"
DOCS = sorted((ROOT / "docs").glob("*.md"))  # the guides for instructors, linked from the pages
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT = {"fast": 300, "full": 3600}  # seconds one cell may run
LIVE_NOTE = "A widget as it stood when the notebook ran: open the notebook live to move it."


class BuildError(Exception):
    """A step of the build failed; the message says which and what to do."""


# ---- 1. running the lessons ----

def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the repository when inside it."""
    return os.path.relpath(path, ROOT) if path.resolve().is_relative_to(ROOT) else str(path)


def _digest(paths: list[Path]) -> str:
    hasher = hashlib.sha256()
    for path in paths:
        hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


def _inputs_digest() -> str:
    """What every lesson's outputs depend on besides the notebook itself: course_lib and the checkpoints."""
    return _digest(sorted((ROOT / "course_lib").glob("*.py")) + sorted((ROOT / "notebooks" / "checkpoints").glob("*")))


def _kernel_env(fast: bool, threads: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # inline figures
    env.update(COURSE_STATIC_WIDGETS="1", COURSE_FAST="1" if fast else "0",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.setdefault("OMP_NUM_THREADS", str(threads))
    return env


def _failure(path: Path, nb, err: Exception, log: Path) -> BuildError:
    """Which cell of which notebook failed, and how."""
    errors = [(i, output) for i, cell in enumerate(nb.cells) for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    if errors:
        index, output = errors[0]
        what = f"cell {index} (counting from 0) raised {output.ename}: {output.evalue}"
    else:  # a timeout, or the kernel died (out of memory?)
        lines = str(err).strip().splitlines()
        what = f"a cell failed: {lines[-1] if lines else type(err).__name__}"
    return BuildError(f"{_shown(path)}: {what}\nRun it in Jupyter to see the whole traceback (the kernel's log: "
                      f"{_shown(log)}); the site is built only from notebooks that run top to bottom.")


async def _execute(path: Path, target: Path, env: dict[str, str], timeout: int, slots: asyncio.Semaphore) -> None:
    async with slots:
        started = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        log = target.parent / "logs" / f"{path.stem}.log"  # the kernel's own messages, apart from the build's
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log, "wb") as kernel_stderr:
                await client.async_execute(env=env, stderr=kernel_stderr)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            raise _failure(path, nb, err, log) from None
        except NoSuchKernel:
            raise BuildError(f"{_shown(path)} needs a Python 3 Jupyter kernel and this environment has none: "
                             f"install ipykernel (`pip install -e '.[site]'` does).") from None
        nbformat.write(nb, target)
        print(f"  ran {_shown(path)} in {time.perf_counter() - started:.0f} s", flush=True)


def cached_copy(lesson: Path, cache: Path, *, fast: bool) -> Path:
    """Where the executed copy of `lesson` is kept: named by the lesson, its bytes, course_lib and the checkpoints."""
    name = f"{lesson.stem}-{_digest([lesson])[:12]}-{_inputs_digest()[:12]}.ipynb"
    return cache / ("fast" if fast else "full") / name


def run_lessons(lessons: list[Path], cache: Path, *, fast: bool, jobs: int) -> list[Path]:
    """Execute the lessons (`jobs` at a time) unless `cache` has them; returns the executed copies' paths."""
    mode = "fast" if fast else "full"
    targets = [cached_copy(p, cache, fast=fast) for p in lessons]
    todo = [(p, t) for p, t in zip(lessons, targets) if not t.exists()]
    print(f"Lessons ({mode} mode): {len(lessons) - len(todo)} from the cache, {len(todo)} to run, "
          f"{jobs} at a time.", flush=True)
    (cache / mode).mkdir(parents=True, exist_ok=True)
    if todo:
        env = _kernel_env(fast, threads=max(1, (os.cpu_count() or 1) // jobs))

        async def run_all() -> None:
            slots = asyncio.Semaphore(jobs)
            tasks = [asyncio.ensure_future(_execute(p, t, env, CELL_TIMEOUT[mode], slots)) for p, t in todo]
            try:
                await asyncio.gather(*tasks)
            finally:  # one failure stops the others; nbclient shuts their kernels down
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: no event loop in this thread
            asyncio.run(run_all())
        else:  # called from inside one (a notebook, Playwright's sync API): run ours in a thread of its own
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, run_all()).result()
    for lesson, target in zip(lessons, targets):  # earlier runs of a lesson that has changed since
        for old in (cache / mode).glob(f"{lesson.stem}-*.ipynb"):
            if old != target:
                old.unlink()
    return targets


# ---- 2. widgets as static HTML ----

def _format(value, fmt: str) -> str:
    if isinstance(value, list):
        return " – ".join(_format(v, fmt) for v in value)
    try:
        return format(value, fmt or "")
    except (TypeError, ValueError):
        return str(value)


def widget_html(model_id: str, state: dict) -> str:
    """One widget (and its children) as plain HTML, from the widget state nbclient stored; controls are inert."""
    model = state.get(model_id)
    if model is None:
        return ""
    name, values = model["model_name"], model["state"]
    label = html.escape(values.get("description") or "")
    if "children" in values:
        children = "".join(widget_html(ref.removeprefix("IPY_MODEL_"), state) for ref in values["children"])
        kind = " vbox" if name == "VBoxModel" else ""
        return f'<div class="course-static-widget{kind}">{children}</div>'
    if name == "LabelModel":
        return f"<span>{label} {html.escape(str(values.get('value', '')))}</span>"
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<span>{label} {values.get('value', '')}</span>"  # HTML the notebook itself made
    if name.endswith("ProgressModel"):
        return f'<progress value="{values["value"]}" max="{values["max"]}"></progress>'
    if "Slider" in name:
        value = values["value"]
        one = value[0] if isinstance(value, list) else value
        return (f'<label class="course-static-control">{label} <input type="range" min="{values["min"]}" '
                f'max="{values["max"]}" step="{values.get("step") or "any"}" value="{one}" disabled> '
                f'{html.escape(_format(value, values.get("readout_format", "")))}</label>')
    if name == "ImageModel" and "value" in values:
        return f'<img src="data:image/{values.get("format", "png")};base64,{values["value"]}" alt="{label}">'
    if "_options_labels" in values:
        chosen = values.get("index")
        options = ", ".join(f"<b>{html.escape(o)}</b>" if i == chosen else html.escape(o)
                            for i, o in enumerate(values["_options_labels"]))
        return f'<span class="course-static-control">{label}: {options}</span>'
    return f"<span>{label} [{html.escape(name.removesuffix('Model'))}]</span>"


def _widget_state(nb) -> dict:
    """model id -> {"model_name", "state"}, with binary values (an Image's PNG) put back as base64 text."""
    stored = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    state = copy.deepcopy(stored)
    for model in state.values():
        for buffer in model.get("buffers", []):
            if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64":
                model["state"]["value"] = buffer["data"]
    return state


def static_widgets(nb) -> int:
    """Replace every widget output by a picture (its own PNG, or HTML from the widget's last state); returns how
    many outputs were changed. The notebook's widget state is removed: no widget manager loads on the site."""
    state, changed = _widget_state(nb), 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            view = data.pop(WIDGET_VIEW)
            if not any(kind in data for kind in ("image/png", "image/svg+xml", "text/html")):
                drawn = widget_html(view.get("model_id", ""), state)
                if drawn:
                    movable = "course-static-control" in drawn
                    note = f'<div class="course-static-note">{LIVE_NOTE}</div>' if movable else ""
                    data["text/html"] = drawn + note
            changed += 1
    nb.metadata.pop("widgets", None)
    return changed


# ---- 3. and 4. the pages ----

def readme_parts() -> dict[str, str]:
    """The README's title, first paragraph and each `## ` section by heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", text, re.M)
    if title is None:
        raise BuildError("README.md has no '# title' line; the landing page takes its title from it.")
    parts = {"title": title[1].strip(), "intro": text[title.end():].strip().split("\n\n", 1)[0].strip()}
    for match in re.finditer(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        parts[match[1].strip()] = match[2].strip()
    if "Syllabus" not in parts:
        raise BuildError("README.md has no '## Syllabus' section; the landing page is made from it.")
    return parts


def notebook_title(path: Path) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        match = re.search(r"^#\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if match:
            return match[1].strip()
    return path.stem


def landing_page(lessons: list[Path], exercises: list[Path]) -> str:
    readme = readme_parts()
    missing = [p.name for p in lessons if f"notebooks/{p.name}" not in readme["Syllabus"]]
    if missing:
        raise BuildError(f"README.md's syllabus lacks {', '.join(missing)}; add a row for each lesson.")
    exercise_list = "\n".join(f"- [{notebook_title(p)}](exercises/{p.name})" for p in exercises)

    def toctree(caption: str, folder: str, paths: list[Path]) -> str:
        entries = "\n".join(f"{folder}/{p.stem}" for p in paths)
        return f"```{{toctree}}\n:hidden:\n:caption: {caption}\n\n{entries}\n```"

    titles = {f"notebooks/{p.name}": notebook_title(p) for p in lessons}
    syllabus = re.sub(r"\[[^\]]*\]\((notebooks/[^)]+\.ipynb)\)",  # link text: the lesson's title, not its path
                      lambda link: f"[{titles.get(link[1], link[1])}]({link[1]})", readme["Syllabus"])
    quick_start = f"## Quick start\n\n{readme['Quick start']}\n\n" if "Quick start" in readme else ""
    return (f"# {readme['title']}\n\n{readme['intro']}\n\n"
            f"Every page below is a notebook of the course with its outputs; the links at the top of each page "
            f"open it live (Binder, Colab) or show its source.\n\n"
            f"## Syllabus\n\n{syllabus}\n\n"
            f"## Exercises\n\nGraded exercises, one notebook per lesson: write your code where a cell raises "
            f"`NotImplementedError`, run it, and its last line checks your answer.\n\n{exercise_list}\n\n"
            f"{quick_start}"
            f"{toctree('Lessons', 'notebooks', lessons)}\n\n{toctree('Exercises', 'exercises', exercises)}\n\n"
            f"{toctree('For instructors', 'docs', DOCS)}\n")


def stage(executed: list[Path], lessons: list[Path], exercises: list[Path], source: Path) -> None:
    """Lay out the Sphinx source folder: index.md, notebooks/ (executed), exercises/ (as given), images/, docs/
    (the guides the pages link to)."""
    if source.exists():
        shutil.rmtree(source)
    (source / "notebooks").mkdir(parents=True)
    (source / "exercises").mkdir()
    for lesson, ran in zip(lessons, executed):
        nb = nbformat.read(ran, as_version=4)
        static_widgets(nb)
        nbformat.write(nb, source / "notebooks" / lesson.name)
    for path in exercises:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, source / "exercises" / path.name)
    if (ROOT / "images").is_dir():
        shutil.copytree(ROOT / "images", source / "images")
    (source / "docs").mkdir()
    for path in DOCS:
        shutil.copy(path, source / "docs" / path.name)
    (source / "index.md").write_text(landing_page(lessons, exercises), encoding="utf-8")


# ---- 5. Sphinx ----

def render(source: Path, html: Path) -> None:
    """Sphinx renders `source` into `html` (beside it MyST-NB writes a jupyter_execute/ folder, hence not in --out)."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(WEBSITE),
               "-d", str(WORK / "doctrees"), str(source), str(html)]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise BuildError("Sphinx failed to render the site; the lines above say why.")


def check_out(out: Path) -> None:
    """`out` may be replaced: it is new, empty, or a site built here (Sphinx leaves .buildinfo in every site)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir()) and not (out / ".buildinfo").exists()):
        raise BuildError(f"{out} holds files that are not a site built here; pass --out with a new or empty folder "
                         f"(nothing was deleted).")


def publish(html: Path, out: Path) -> None:
    """Replace `out` by the rendered site."""
    check_out(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html, out)


def build(out: Path, *, fast: bool, jobs: int) -> None:
    started = time.perf_counter()
    check_out(out)
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb"))
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    if not lessons:
        raise BuildError(f"no notebooks in {ROOT / 'notebooks'}")
    executed = run_lessons(lessons, WORK / "executed", fast=fast, jobs=jobs)
    stage(executed, lessons, exercises, WORK / "src")
    print("Rendering the pages with Sphinx ...", flush=True)
    render(WORK / "src", WORK / "html")
    publish(WORK / "html", out)
    print(f"Site built in {time.perf_counter() - started:.0f} s: {_shown(out)}/index.html\n"
          f"Serve it with: python -m http.server -d {_shown(out)} 8000   (then open http://127.0.0.1:8000)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="run the lessons in fast mode (COURSE_FAST=1)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="lessons run at once (default: the number of CPU cores, at most 4)")
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="output folder (default: _site)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} must be 1 or more")
    try:
        build(args.out.resolve(), fast=args.fast, jobs=args.jobs)
    except BuildError as err:
        print(f"\nThe site was not built: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
