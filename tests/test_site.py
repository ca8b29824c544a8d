"""The course website (website/build.py): built in fast mode, then every page checked in headless Chromium.

The build runs once per module (`python website/build.py --fast`, lessons from build/site/executed/ when unchanged)
into a temporary folder, served on 127.0.0.1. Each page of the site (the syllabus, every lesson, every exercise)
must load with no failed request, no request leaving 127.0.0.1 (the test blocks them: MathJax, fonts and scripts
must come from the site), no script error, no broken image, no error output or raw widget text, every formula
typeset by MathJax with no TeX delimiter left in the text, and the links to its source and to open it live.
Exercise pages must show the learner copy, never a line of the solution. A screenshot of each page goes to
artifacts/site/. The fast checks at the end test the build's own pieces without a browser.

Needs Chromium like tests/test_browser.py (/usr/bin/chromium, $COURSE_CHROMIUM, or Playwright's own) and the [site]
packages (Sphinx, MyST-NB, the book theme, MathJax); without them the browser tests are skipped, except under CI.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from test_browser import launched_chromium

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "site"
BUILD_LIMIT = 1200  # s, the whole fast build when no lesson is cached (about 1-2 min on 2 idle cores)
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
DOCS = sorted((ROOT / "docs").glob("*.md"))  # the instructors' guides, which the pages link to
PAGES = ["index.html"] + [f"{p.parent.name}/{p.stem}.html" for p in LESSONS + EXERCISES] + \
    [f"docs/{p.stem}.html" for p in DOCS]
WIDGET_TEXT = re.compile(r"\w+\(children=|model_id|widget-view\+json|Error displaying widget"
                         r"|this front end shows a static picture")

spec = importlib.util.spec_from_file_location("site_build", ROOT / "website" / "build.py")
site_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(site_build)


def missing_site_packages() -> list[str]:
    return [name for name in ("sphinx", "myst_nb", "sphinx_book_theme", "mathjax")
            if importlib.util.find_spec(name) is None]


# ---- the site, its server and the browser: one each per module ----

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    missing = missing_site_packages()
    if missing and not os.environ.get("CI"):
        pytest.skip(f"the site tools are not installed ({', '.join(missing)}): pip install -e '.[site]'")
    out = tmp_path_factory.mktemp("site") / "_site"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    command = [sys.executable, str(ROOT / "website" / "build.py"), "--fast", "--jobs", "2", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_LIMIT)
    assert done.returncode == 0, f"the site build failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]  # e.g. a link to a missing page
    assert not warnings, "Sphinx warned:\n" + "\n".join(warnings[:10])
    return out


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # a page closed mid-request; failures show in the page
        pass


@pytest.fixture(scope="module")
def server(site):
    """`python -m http.server` in a thread, on a free port of 127.0.0.1; yields its base URL."""
    httpd = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def context(server):
    with launched_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


class Visit:
    """One page opened in the browser, with everything that went wrong on the way."""

    def __init__(self, context, server: str, name: str) -> None:
        self.left_site, self.failed, self.errors = [], [], []
        self.page = page = context.new_page()

        def route(route) -> None:  # the site must work offline: anything not ours is blocked and recorded
            if route.request.url.startswith(server + "/"):
                route.continue_()
            else:
                self.left_site.append(route.request.url)
                route.abort()

        page.route("**/*", route)
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.failure} {r.url}")
                if r.url.startswith(server + "/") else None)
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda err: self.errors.append(f"script: {err}"))
        self.response = page.goto(f"{server}/{name}", wait_until="load")
        # MathJax typesets after loading; then every image is asked for at once (none is left lazy)
        page.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
        page.evaluate("""async () => { await Promise.all(Array.from(document.images, img => {
            img.loading = 'eager'; return img.decode().catch(() => null); })); }""")

    def close(self) -> None:
        self.page.close()


PAGE_FACTS = """() => {
  const article = document.querySelector('article') || document.body;
  const prose = [];  // text outside code, outputs and typeset math: where a TeX delimiter must not survive
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode: node =>
    node.parentElement.closest('pre, code, mjx-container, .cell_output, script, style')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) prose.push(walker.currentNode.textContent);
  return {
    title: document.title,
    prose: prose.join(' '),
    brokenImages: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    images: document.images.length,
    outputImages: document.querySelectorAll('.cell_output img').length,
    mathElements: document.querySelectorAll('.math').length,
    untypeset: Array.from(document.querySelectorAll('.math')).filter(m => !m.querySelector('mjx-container'))
      .map(m => m.textContent.slice(0, 80)),
    mathErrors: document.querySelectorAll('mjx-merror').length,
    errorOutputs: Array.from(document.querySelectorAll('.cell_output .traceback, .cell_output .stderr'))
      .map(o => o.textContent).filter(t => /Error|Traceback|Exception/.test(t)).map(t => t.slice(0, 300)),
    outputText: Array.from(document.querySelectorAll('.cell_output'), o => o.innerText).join('\\n'),
    widgetViews: document.querySelectorAll('script[type*="jupyter.widget"]').length,  // no manager: they stay blank
    articleText: article.innerText,
    links: Object.fromEntries(Array.from(document.querySelectorAll('.course-links a'),
                                         a => [a.textContent.trim(), a.href])),
    internal: Array.from(document.querySelectorAll('a[href]'), a => a.href)
      .filter(h => h.startsWith(location.origin)).map(h => h.split('#')[0]),
  };
}"""


def source_has_math(path: Path) -> bool:
    cells = nbformat.read(path, as_version=4).cells
    return any(cell.cell_type == "markdown" and re.search(r"\$[^$\s]", cell.source) for cell in cells)


def solution_only_lines(exercise: Path) -> list[str]:
    """Lines (12 characters or more) of the solution's answer regions that appear nowhere in the learner copy.

    A line the copy itself holds (a hint may quote part of the answer) is the exercise's business, not the site's.
    """
    solution = ROOT / "solutions" / exercise.name
    if not solution.exists():
        return []
    given = "\n".join(cell.source for cell in nbformat.read(exercise, as_version=4).cells)
    answers = []
    for cell in nbformat.read(solution, as_version=4).cells:
        for region in re.findall(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION", cell.source, re.S):
            answers += [line.strip() for line in region.splitlines()]
    return [line for line in answers if len(line) >= 12 and line not in given]


checked_links: dict[str, int] = {}


def link_status(url: str) -> int:
    if url not in checked_links:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                checked_links[url] = response.status
        except urllib.error.HTTPError as err:
            checked_links[url] = err.code
    return checked_links[url]


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / (name.removesuffix(".html").replace("/", "_") + ".png"), full_page=True)


def check_page(context, server: str, name: str) -> dict:
    """Open one page, assert what every page must satisfy, and return its facts for page-specific checks."""
    visit = Visit(context, server, name)
    try:
        assert visit.response is not None and visit.response.status == 200, f"{name}: not served"
        facts = visit.page.evaluate(PAGE_FACTS)
        screenshot(visit.page, name)
    finally:
        visit.close()
    assert not visit.left_site, f"{name} asked for things outside the site (offline, they fail): {visit.left_site[:5]}"
    assert not visit.failed, f"{name}: failed requests {visit.failed[:5]}"
    assert not visit.errors, f"{name}: {visit.errors[:5]}"
    assert not facts["brokenImages"], f"{name}: broken images {facts['brokenImages'][:5]}"
    assert not facts["errorOutputs"], f"{name}: error output {facts['errorOutputs'][:3]}"
    assert not facts["widgetViews"], f"{name}: {facts['widgetViews']} widget outputs left for a widget manager (blank)"
    assert not WIDGET_TEXT.search(facts["outputText"]), \
        f"{name}: a widget shows as text: {WIDGET_TEXT.search(facts['outputText'])[0]!r}"
    assert not facts["untypeset"] and not facts["mathErrors"], \
        f"{name}: formulas not typeset by MathJax: {facts['untypeset'][:3]}, {facts['mathErrors']} MathJax errors"
    for delimiter in ("$$", "$", r"\(", r"\[", r"\begin{"):
        at = facts["prose"].find(delimiter)
        assert at < 0, f"{name}: raw TeX left in the text: ...{facts['prose'][max(0, at - 60):at + 60]!r}..."
    broken = [url for url in sorted(set(facts["internal"])) if link_status(url) != 200]
    assert not broken, f"{name}: links to missing pages {broken[:5]}"
    return facts


# ---- the browser checks ----

def check_landing_page(facts: dict) -> None:
    assert "Syllabus" in facts["articleText"]
    for path in LESSONS + EXERCISES:
        assert any(url.endswith(f"/{path.parent.name}/{path.stem}.html") for url in facts["internal"]), \
            f"the landing page does not link {path.parent.name}/{path.name}"
    assert not [url for url in facts["internal"] if "/solutions/" in url], "the landing page links to solutions"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for minutes in re.findall(r"\| (\d+ min) \|$", readme, re.M):  # the times column of the README's syllabus
        assert minutes in facts["articleText"], f"the landing page lacks the README's '{minutes}'"


def check_notebook_links(name: str, path: Path, links: dict[str, str]) -> None:
    assert set(links) >= {"source", "Binder", "Colab"}, f"{name}: the links at the top are {links}"
    repo_path = f"{path.parent.name}/{path.name}"
    for kind in ("source", "Colab"):
        assert links[kind].endswith(f"/{repo_path}"), f"{name}: the {kind} link {links[kind]} is not to {repo_path}"
    assert urllib.parse.quote(repo_path, safe="") in links["Binder"], f"{name}: Binder link {links['Binder']}"


def check_lesson(name: str, path: Path, facts: dict) -> None:
    """A lesson's page shows what running it drew, and its formulas."""
    executed = nbformat.read(site_build.cached_copy(path, site_build.WORK / "executed", fast=True), as_version=4)
    pictures = sum(1 for cell in executed.cells for output in cell.get("outputs", [])
                   if "image/png" in output.get("data", {}))
    assert facts["outputImages"] >= pictures, f"{name}: {facts['outputImages']} output pictures, {pictures} expected"
    if source_has_math(path):
        assert facts["mathElements"] > 0, f"{name}: the notebook has formulas but its page none"


def check_exercise(name: str, path: Path, facts: dict) -> None:
    """An exercise's page is the learner copy: its blanks, and no line of the solution."""
    assert "NotImplementedError" in facts["articleText"], f"{name}: the page lacks the learner's blanks"
    leaked = [line for line in solution_only_lines(path) if line in facts["articleText"]]
    assert not leaked, f"{name}: the page shows lines of the solution: {leaked[:3]}"


@pytest.mark.parametrize("name", PAGES)
def test_page(context, server, name):
    """Every page: loads offline, no broken image, no error output, math typeset (check_page); then by kind."""
    facts = check_page(context, server, name)
    if name == "index.html":
        check_landing_page(facts)
        return
    if name.startswith("docs/"):
        assert len(facts["articleText"]) > 1000, f"{name}: the guide's page is nearly empty"
        return
    path = ROOT / name.replace(".html", ".ipynb")
    check_notebook_links(name, path, facts["links"])
    if path.parent.name == "notebooks":
        check_lesson(name, path, facts)
    else:
        check_exercise(name, path, facts)


# ---- the build's pieces, without a browser ----

def test_widget_state_becomes_static_html():
    nb = nbformat.v4.new_notebook()
    state = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_label"]}},
        "slider": {"model_name": "IntSliderModel", "state": {"description": "class", "min": 0, "max": 9, "step": 1,
                                                            "value": 7, "readout_format": "d"}},
        "label": {"model_name": "LabelModel", "state": {"value": "class 7: Sneaker"}},
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_progress"]}},
        "left": {"model_name": "HTMLModel", "state": {"value": "epoch 1/1: 100%"}},
        "progress": {"model_name": "FloatProgressModel", "state": {"value": 4.0, "max": 4.0}},
    }
    nb.metadata["widgets"] = {site_build.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    view = {"version_major": 2, "version_minor": 0}
    nb.cells = [nbformat.v4.new_code_cell("slider", outputs=[nbformat.v4.new_output(
                    "display_data", {site_build.WIDGET_VIEW: {**view, "model_id": "box"}, "text/plain": "HBox(...)"})]),
                nbformat.v4.new_code_cell("fit", outputs=[nbformat.v4.new_output(
                    "display_data", {site_build.WIDGET_VIEW: {**view, "model_id": "bar"}, "text/plain": "0%|"})]),
                nbformat.v4.new_code_cell("explorer", outputs=[nbformat.v4.new_output(
                    "display_data", {site_build.WIDGET_VIEW: {**view, "model_id": "gone"}, "image/png": "iVBORw0K"})])]
    assert site_build.static_widgets(nb) == 3
    slider, bar, explorer = (cell.outputs[0].data for cell in nb.cells)
    assert all(part in slider["text/html"] for part in ('type="range"', 'value="7"', "disabled"))
    assert "class 7: Sneaker" in slider["text/html"] and site_build.LIVE_NOTE in slider["text/html"]
    assert '<progress value="4.0" max="4.0">' in bar["text/html"] and "epoch 1/1: 100%" in bar["text/html"]
    assert site_build.LIVE_NOTE not in bar["text/html"]  # a progress bar is nothing to move
    assert set(explorer) == {"image/png"}  # a widget with its own picture keeps just the picture
    assert "widgets" not in nb.metadata


def test_landing_page_takes_the_syllabus_from_the_readme():
    page = site_build.landing_page(LESSONS, EXERCISES)
    readme = site_build.readme_parts()
    assert page.startswith(f"# {readme['title']}\n")
    for path in LESSONS:
        assert f"]({'notebooks'}/{path.name})" in page and f"notebooks/{path.stem}\n" in page
        assert f"[{site_build.notebook_title(path)}]" in page  # the lesson's title as the link's text
    for path in EXERCISES:
        assert f"(exercises/{path.name})" in page and f"exercises/{path.stem}\n" in page
    assert "solutions/" not in page


def test_a_lesson_missing_from_the_syllabus_stops_the_build(tmp_path):
    stray = tmp_path / "99_not_in_readme.ipynb"
    with pytest.raises(site_build.BuildError, match="syllabus lacks 99_not_in_readme.ipynb"):
        site_build.landing_page(LESSONS + [stray], EXERCISES)


def test_a_failing_lesson_stops_the_build_and_names_the_cell(tmp_path):
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("no ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('the data is gone')")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(site_build.BuildError, match=r"broken\.ipynb: cell 2 .* raised ValueError: the data is gone"):
        site_build.run_lessons([path], tmp_path / "cache", fast=True, jobs=1)
    assert not list((tmp_path / "cache" / "fast").glob("*.ipynb")), "a failed run must not be cached"


def load_conf(monkeypatch, **settings):
    """website/conf.py as Sphinx reads it, with these environment variables set (and the others of its own unset)."""
    for name in ("COURSE_SITE_REPOSITORY", "COURSE_SITE_BRANCH", "COURSE_SITE_HUB", "COURSE_SITE_HUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("site_conf", ROOT / "website" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_page_links_follow_the_repository_setting(monkeypatch):
    conf = load_conf(monkeypatch, COURSE_SITE_REPOSITORY="https://github.com/someone/course",
                     COURSE_SITE_BRANCH="spring")
    links = conf.notebook_links("exercises/02_density_estimation_mle")
    assert links == {
        "source": "https://github.com/someone/course/blob/spring/exercises/02_density_estimation_mle.ipynb",
        "Binder": "https://mybinder.org/v2/gh/someone/course/spring"
                  "?urlpath=lab%2Ftree%2Fexercises%2F02_density_estimation_mle.ipynb",
        "Colab": "https://colab.research.google.com/github/someone/course/blob/spring/"
                 "exercises/02_density_estimation_mle.ipynb"}


def test_a_hub_setting_adds_an_nbgitpuller_link(monkeypatch):
    conf = load_conf(monkeypatch, COURSE_SITE_REPOSITORY="https://github.com/someone/course",
                     COURSE_SITE_HUB="https://hub.example.edu/",
                     COURSE_SITE_HUB_REPOSITORY="https://github.com/someone/course-students")
    assert conf.notebook_links("notebooks/04_autoencoder")["JupyterHub"] == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fsomeone%2Fcourse-students"
        "&branch=main&urlpath=lab%2Ftree%2Fcourse-students%2Fnotebooks%2F04_autoencoder.ipynb%3Fautodecode")


def test_a_hub_repository_ending_in_git_is_cloned_into_the_folder_the_link_opens(monkeypatch):
    """nbgitpuller clones https://.../course-students.git into ~/course-students.git/ unless told the folder."""
    conf = load_conf(monkeypatch, COURSE_SITE_HUB="https://hub.example.edu",
                     COURSE_SITE_HUB_REPOSITORY="https://github.com/someone/course-students.git")
    link = conf.notebook_links("notebooks/04_autoencoder")["JupyterHub"]
    assert "&targetpath=course-students&" in link and "urlpath=lab%2Ftree%2Fcourse-students%2Fnotebooks" in link
