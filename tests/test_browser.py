"""The widgets as learners see them: real JupyterLab in headless Chromium, driven by Playwright.

One JupyterLab server (127.0.0.1, a free port, no token, throwaway config, data, runtime, settings and workspace
folders, COURSE_FAST=1 for its kernels) and one browser serve the whole module. Each test opens a notebook, runs
all its cells and checks what the page shows:
- every cell ran without an error (within RUN_LIMIT seconds: a hung kernel fails the test, it does not hang CI);
- every widget output rendered as a widget: no "Error displaying widget", no fallback picture or text;
- each course_lib.widgets explorer (found by its CSS class `course-latent-widget`) shows its sliders and its
  decoded image (and the scatter, for latent_map), and pressing arrow keys on its first slider changes the decoded
  image's pixels: a round trip browser -> kernel -> browser;
- a plain ipywidgets output with a slider and a label or picture changes what it shows when the slider moves.

The notebooks are every notebooks/*.ipynb whose code uses ipywidgets or course_lib.widgets, plus a demo notebook
built here that shows each kind of explorer. A screenshot of each notebook goes to artifacts/browser/.

Needs Chromium: /usr/bin/chromium (Debian/Ubuntu: `apt-get install chromium`; .ci/run installs it), another path in
$COURSE_CHROMIUM, or Playwright's own (`python -m playwright install chromium`). With none of them the tests are
skipped, except under CI ($CI set), where that is a failure.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
COURSE_WIDGET_TEXT = "(an interactive widget; this front end shows a static picture)"  # their text/plain
USES_WIDGETS = re.compile(r"\bipywidgets\b|\bcourse_lib\.widgets\b|from\s+course_lib\s+import\s[^\n]*\bwidgets\b")
SERVER_START_LIMIT = 90  # s, JupyterLab answering /api/status
PAGE_LIMIT = 60  # s, page loaded and the notebook's kernel ready
RUN_LIMIT = 180  # s, all cells of one notebook (fast mode; 05 took over 90 s on a loaded 2-core machine)
RENDER_LIMIT = 30  # s, widget views drawn after the cells ran
ROUND_TRIP_LIMIT = 20  # s, a slider move coming back as a new picture
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-default-apps", "--mute-audio"]
SETTINGS = {  # JupyterLab user settings: never write to the notebooks, no dialogs or news, every cell in the DOM
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def shows_widgets(path: Path) -> bool:
    """True when a code cell of the notebook uses ipywidgets or course_lib.widgets."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return any(USES_WIDGETS.search("".join(cell["source"])) for cell in cells if cell["cell_type"] == "code")


WIDGET_NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if shows_widgets(p))


# ---- the demo notebook: every explorer of course_lib.widgets on tiny fixed decoders ----

DEMO_CELLS = [
    ("markdown", "# Demo of every latent-space explorer\n\nBuilt by tests/test_browser.py; decoders are fixed "
                 "formulas, not trained models: a blob whose place, size and colour follow z."),
    ("code", '''\
import torch
from course_lib import widgets

GRID = torch.linspace(-1, 1, 28)


def blobs(z):
    """z (n, d >= 2) -> grey blobs (n, 1, 28, 28) in [0, 1], centred at z[:, :2] / 3, sized by z[:, 5] if d > 5."""
    width = 0.25 * torch.exp(0.3 * z[:, 5]) if z.shape[1] > 5 else torch.full((len(z),), 0.25)
    dy = GRID[None, :, None] - z[:, 1, None, None] / 3
    dx = GRID[None, None, :] - z[:, 0, None, None] / 3
    return torch.exp(-(dx ** 2 + dy ** 2) / (2 * width[:, None, None] ** 2))[:, None]


def decode_grey(z):
    """z (n, 2) -> (n, 1, 28, 28)."""
    return blobs(z)


def decode_rgb(z):
    """z (n, 8) -> (n, 3, 28, 28): the blob coloured by sigmoid(z[:, 2:5])."""
    return blobs(z) * torch.sigmoid(z[:, 2:5])[:, :, None, None]

generator = torch.Generator().manual_seed(0)
codes = torch.randn(300, 2, generator=generator)
labels = (codes[:, 0] > 0).long() + 2 * (codes[:, 1] > 0).long()
a, b = torch.tensor([-2.0, -2, 2, -2, -2, 0, 0, 0]), torch.tensor([2.0, 2, -2, -2, 2, 1, 0, 0])'''),
    ("code", "widgets.latent_sliders(decode_rgb, 8, dims=[0, 1, 2, 3, 4, 5])"),
    ("code", 'widgets.latent_map(decode_grey, codes, labels, classes=["left, down", "right, down", "left, up", '
             '"right, up"])'),
    ("code", 'widgets.interpolation(decode_rgb, a, b, method="slerp")'),
    ("code", 'widgets.attribute_slider(decode_rgb, a, torch.tensor([0.0, 0, 3, 0, 0, 0, 0, 0]), name="red")'),
]
DEMO_KINDS = ["course-latent-sliders", "course-latent-map", "course-interpolation", "course-attribute-slider"]


def write_demo_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(text) if kind == "code" else nbformat.v4.new_markdown_cell(text)
                for kind, text in DEMO_CELLS]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ---- server and browser: one each per module, always shut down ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium() -> str | None:
    """A Chromium to drive: $COURSE_CHROMIUM, a system one, or None for Playwright's own download."""
    for candidate in (os.environ.get("COURSE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


class Lab:
    """A JupyterLab server started for the tests; `url` has no trailing slash."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log_path = home / "jupyterlab.log"
        self.runtime = home / "runtime"
        settings = home / "settings"
        for name, values in SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # kernels: inline plots
        env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_RUNTIME_DIR=str(self.runtime), IPYTHONDIR=str(home / "ipython"), COURSE_FAST="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={free_port()}", "--ServerApp.port_retries=20",
                   "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                   f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
                   f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
                   f"--FileCheckpoints.root_dir={home / 'checkpoints'}"]  # not .ipynb_checkpoints in the repo
        self._log = open(self.log_path, "wb")
        # Own session: the whole process group can be stopped. Kernels get sessions of their own (see stop()).
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.url = self._wait_until_up()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_up(self) -> str:
        deadline = time.monotonic() + SERVER_START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            info = [json.loads(p.read_text()) for p in self.runtime.glob("jpserver-*.json") if p.stat().st_size]
            if info:  # the port it really took (it moves on if ours was taken meanwhile)
                url = f"http://127.0.0.1:{info[0]['port']}"
                try:
                    with urllib.request.urlopen(f"{url}/api/status", timeout=5) as response:
                        if response.status == 200:
                            return url
                except OSError:
                    pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_LIMIT} s:\n{self.log_tail()}")

    def request(self, method: str, path: str) -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session (and so its kernel) the tests started; a hung kernel is killed by the server."""
        for session in self.request("GET", "/api/sessions"):
            self.request("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        """Stop the server (it shuts its kernels down), then kill whatever of ours is left."""
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        finally:
            self._log.close()
            for pid in self._kernel_pids():  # kernels run in their own sessions; ours name our runtime folder
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _kernel_pids(self) -> list[int]:
        mark = str(self.runtime).encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if mark in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = None
    try:
        server = Lab(tmp_path_factory.mktemp("jupyterlab"))
        yield server
    finally:
        if server is not None:
            server.stop()


@contextlib.contextmanager
def launched_chromium():
    """A headless Chromium (find_chromium's, else Playwright's own), closed afterwards; without one the test is
    skipped, except under CI, where it fails."""
    from playwright.sync_api import Error as PlaywrightError, sync_playwright

    executable = find_chromium()
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=60_000)
        except PlaywrightError as err:
            if executable is None and "Executable doesn't exist" in str(err) and not os.environ.get("CI"):
                pytest.skip("no Chromium for the browser tests: `apt-get install chromium`, or "
                            "`python -m playwright install chromium`, or set COURSE_CHROMIUM=/path/to/chromium")
            pytest.fail(f"Could not start Chromium ({executable or 'Playwright download'}): install it "
                        f"(`apt-get install chromium`, or `python -m playwright install chromium`) or set "
                        f"COURSE_CHROMIUM=/path/to/chromium.\n{str(err)[:1000]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for the module, so its HTTP cache serves JupyterLab's scripts after the first page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture()
def page(lab, context):
    """A fresh page per test; afterwards its kernels are shut down (a hung one too)."""
    page = context.new_page()
    try:
        yield page
    finally:
        page.close()
        lab.shut_down_kernels()


# ---- what a test does in the page ----

OPEN_NOTEBOOK = """async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  return panel.sessionContext.session.kernel.name;
}"""
START_RUN_ALL = """() => {
  window.courseRun = {done: false, ok: null, error: null};
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.courseRun.done = true; window.courseRun.ok = ok; },
    err => { window.courseRun.done = true; window.courseRun.error = String(err); });
}"""
CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map((cell, index) => ({
  index, type: cell.model.type, source: cell.model.sharedModel.getSource().slice(0, 200),
  busy: cell.model.type === 'code' && cell.promptNode.textContent.includes('*'),
  count: cell.model.type === 'code' ? cell.model.executionCount : null,
  outputs: cell.model.type !== 'code' ? [] : cell.model.outputs.toJSON().map(o => ({
    type: o.output_type, name: o.name || null, text: (Array.isArray(o.text) ? o.text.join('') : o.text || '').slice(-3000),
    ename: o.ename || null, evalue: o.evalue || null,
    widget: !!(o.data && o.data['""" + WIDGET_VIEW + """']),
    plain: o.data && o.data['text/plain'] ? [].concat(o.data['text/plain']).join('').slice(0, 500) : null})),
}))"""
RENDERED = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content.node;
  return {
    text: notebook.innerText,
    views: notebook.querySelectorAll('.jp-OutputArea-output .widget-box, .jp-OutputArea-output .jupyter-widgets:not(.jp-OutputArea-output)').length,
    outputs: Array.from(notebook.querySelectorAll('.jp-OutputArea-output')).filter(o =>
      o.querySelector(':scope > .jupyter-widgets, :scope .widget-box, :scope .widget-inline-hbox')).length,
    course: notebook.querySelectorAll('.course-latent-widget').length,
    loading: notebook.innerText.includes('Loading widget...'),
    errors: notebook.querySelectorAll('.jupyter-widgets-error-widget').length,
  };
}"""
IMAGE_BYTES = """async (img) => {
  if (!img.complete || img.naturalWidth === 0) return null;
  const blob = await (await fetch(img.src)).blob();
  return await new Promise(done => { const r = new FileReader(); r.onload = () => done(r.result); r.readAsDataURL(blob); });
}"""
SCROLL_HEIGHT = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content.node;
  const scroller = notebook.querySelector('.jp-WindowedPanel-outer') || notebook;
  scroller.scrollTop = 0;
  return scroller.scrollHeight;
}"""
FINGERPRINT = """(output) => {  // what a plain widget output shows besides its sliders
  const copy = output.cloneNode(true);
  copy.querySelectorAll('.widget-slider').forEach(e => e.remove());
  const images = Array.from(output.querySelectorAll('img')).map(i => i.src);
  return copy.textContent.trim() || images.length ? copy.textContent + '|' + images.join('|') : '';
}"""


def open_and_run(page, lab: Lab, notebook: str) -> list[dict]:
    """Open `notebook` (path from the repository root) in JupyterLab, run all cells; return the cells' state."""
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset", wait_until="domcontentloaded", timeout=PAGE_LIMIT * 1000)
    page.wait_for_function(
        """(path) => window.jupyterapp && window.jupyterapp.shell.currentWidget &&
                     window.jupyterapp.shell.currentWidget.context &&
                     window.jupyterapp.shell.currentWidget.context.path === path""",
        arg=notebook, timeout=PAGE_LIMIT * 1000)
    kernel = page.evaluate(OPEN_NOTEBOOK, notebook)
    assert kernel, f"{notebook}: no kernel started"
    page.evaluate(START_RUN_ALL)
    try:
        page.wait_for_function("() => window.courseRun.done", timeout=RUN_LIMIT * 1000, polling=250)
    except Exception as err:
        if "Timeout" not in type(err).__name__:
            raise
        busy = [c for c in page.evaluate(CELLS) if c["busy"]]
        where = f"cell {busy[0]['index']}: {busy[0]['source'][:80]!r}" if busy else "no cell marked busy"
        pytest.fail(f"{notebook}: cells still running after {RUN_LIMIT} s (hung kernel?); {where}")
    run = page.evaluate("() => window.courseRun")
    cells = page.evaluate(CELLS)
    problems = [f"cell {c['index']}: {o['ename']}: {o['evalue']}" if o["type"] == "error" else
                f"cell {c['index']}: traceback on stderr:\n{o['text'][-1500:]}"
                for c in cells for o in c["outputs"]
                if o["type"] == "error" or (o["name"] == "stderr" and "Traceback" in o["text"])]
    assert not problems, f"{notebook}: errors while running:\n" + "\n".join(problems)
    assert run["ok"] is True and not run["error"], f"{notebook}: run-all-cells did not succeed: {run}"
    unrun = [c["index"] for c in cells if c["type"] == "code" and c["source"].strip() and c["count"] is None]
    assert not unrun, f"{notebook}: cells {unrun} did not run"
    return cells


def check_rendered(page, notebook: str, cells: list[dict]) -> tuple[int, int]:
    """Wait until every widget output is drawn as a widget; return (widget outputs, course explorers)."""
    outputs = [o for c in cells for o in c["outputs"]]
    n_widgets = sum(o["widget"] for o in outputs)
    n_course = sum(bool(o["plain"]) and COURSE_WIDGET_TEXT in o["plain"] for o in outputs)
    deadline = time.monotonic() + RENDER_LIMIT
    while True:
        state = page.evaluate(RENDERED)
        assert "Error displaying widget" not in state["text"] and not state["errors"], (
            f"{notebook}: a widget failed to display:\n" +
            "\n".join(line for line in state["text"].splitlines() if "Error displaying widget" in line))
        if state["outputs"] >= n_widgets and state["course"] >= n_course and not state["loading"]:
            break
        assert time.monotonic() < deadline, (
            f"{notebook}: after {RENDER_LIMIT} s, {state['outputs']} of {n_widgets} widget outputs and "
            f"{state['course']} of {n_course} course explorers are drawn as widgets (the rest show as text or a "
            f"static picture: is the jupyterlab_widgets extension loaded?)")
        time.sleep(0.25)
    assert state["course"] == n_course, f"{notebook}: {state['course']} explorers drawn, {n_course} displayed"
    return n_widgets, n_course


def image_pixels(page, img) -> Image.Image | None:
    data_url = img.evaluate(IMAGE_BYTES)
    if not data_url:
        return None
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")


def move_slider(handle, presses: int = 3) -> None:
    """Focus a slider handle and press arrow keys, away from the end it sits at; presses=0 jumps to the far end."""
    handle.scroll_into_view_if_needed()
    now, high = (float(handle.get_attribute(name) or "nan") for name in ("aria-valuenow", "aria-valuemax"))
    towards_low = now >= high
    handle.focus()
    if presses == 0:
        handle.press("Home" if towards_low else "End")
    for _ in range(presses):
        handle.press("ArrowLeft" if towards_low else "ArrowRight")


def wait_for_new_picture(page, img, before: Image.Image, what: str) -> Image.Image:
    deadline = time.monotonic() + ROUND_TRIP_LIMIT
    while time.monotonic() < deadline:
        after = image_pixels(page, img)
        if after is not None and (after.size != before.size or ImageChops.difference(after, before).getbbox()):
            return after
        time.sleep(0.2)
    raise AssertionError(f"{what}: the picture did not change within {ROUND_TRIP_LIMIT} s of moving the slider "
                         f"(no round trip browser -> kernel -> browser)")


def check_course_widgets(page, notebook: str) -> list[str]:
    """Each explorer shows sliders and a decoded image, and moving its first slider changes that image."""
    kinds = []
    explorers = page.locator(".course-latent-widget")
    for k in range(explorers.count()):
        explorer = explorers.nth(k)
        explorer.scroll_into_view_if_needed()
        classes = explorer.get_attribute("class").split()
        kind = next((c for c in classes if c.startswith("course-") and c != "course-latent-widget"), "?")
        kinds.append(kind)
        what = f"{notebook}, explorer {k} ({kind})"
        sliders, decoded = explorer.locator(".widget-slider"), explorer.locator("img.course-decoded-image")
        assert sliders.count() >= 1 and sliders.first.is_visible(), f"{what}: no visible slider"
        assert decoded.count() == 1 and decoded.is_visible(), f"{what}: the decoded image is not visible"
        before = image_pixels(page, decoded)
        assert before is not None and min(before.size) >= 28, f"{what}: the decoded image did not load"
        box = decoded.bounding_box()
        assert abs(box["width"] / box["height"] - before.width / before.height) < 0.05, (
            f"{what}: the decoded image is drawn {box['width']:.0f} x {box['height']:.0f} but is "
            f"{before.width} x {before.height}: stretched out of shape")
        maps = explorer.locator("img.course-map-image")
        map_before = None
        if kind == "course-latent-map":
            assert maps.count() == 1 and maps.is_visible(), f"{what}: the latent map is not visible"
            map_before = image_pixels(page, maps)
        # to the far end: a barely trained fast-mode model can decode nearby points to the same pixels
        move_slider(sliders.first.locator(".noUi-handle"), presses=0)
        wait_for_new_picture(page, decoded, before, what)
        if map_before is not None:
            wait_for_new_picture(page, maps, map_before, f"{what}, the map's marker")
    return kinds


def check_plain_widgets(page, notebook: str) -> int:
    """Each output holding a plain ipywidgets slider and something more (a label, a picture: not a course
    explorer) changes what it shows when its slider moves. Returns how many were checked. A bare slider, e.g. one
    read by a later cell, shows nothing else to compare: it is only checked to be drawn."""
    outputs = page.locator(".jp-OutputArea-output:has(.widget-slider):not(:has(.course-latent-widget))")
    checked = 0
    for k in range(outputs.count()):
        output = outputs.nth(k)
        before = output.evaluate(FINGERPRINT)
        if not before:
            continue
        move_slider(output.locator(".noUi-handle").first, presses=1)
        deadline = time.monotonic() + ROUND_TRIP_LIMIT
        while output.evaluate(FINGERPRINT) == before:
            assert time.monotonic() < deadline, (
                f"{notebook}, widget output {k}: nothing it shows changed within {ROUND_TRIP_LIMIT} s of moving "
                f"its slider (no round trip browser -> kernel -> browser)")
            time.sleep(0.2)
        checked += 1
    return checked


def screenshot(page, name: str) -> None:
    """The whole notebook in one picture: the window is made as tall as the notebook."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        height = page.evaluate(SCROLL_HEIGHT)
        page.set_viewport_size({"width": 1280, "height": min(max(900, height + 150), 12000)})
        page.wait_for_timeout(500)
        page.evaluate(SCROLL_HEIGHT)  # and back to the top
    except Exception:  # a failed page still gets its picture, at window size
        pass
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def check_notebook(page, lab: Lab, notebook: str) -> tuple[list[str], int]:
    """Open, run and check one notebook; return the explorers' kinds and the number of plain outputs moved."""
    try:
        cells = open_and_run(page, lab, notebook)
        n_widgets, _ = check_rendered(page, notebook, cells)
        assert n_widgets > 0, f"{notebook}: uses widgets but displayed none"
        kinds = check_course_widgets(page, notebook)
        plain = check_plain_widgets(page, notebook)
        assert "Error displaying widget" not in page.evaluate(RENDERED)["text"]
        return kinds, plain
    finally:
        screenshot(page, Path(notebook).stem)


# ---- the tests ----

def test_discovery_finds_the_notebooks_that_show_widgets():
    assert ROOT / "notebooks" / "00_setup.ipynb" in WIDGET_NOTEBOOKS
    assert shows_widgets(write_demo_notebook(ARTIFACTS / "widgets_demo.ipynb"))


@pytest.mark.parametrize("path", WIDGET_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_widgets_work_in_jupyterlab(page, lab, path):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    kinds, plain = check_notebook(page, lab, path.relative_to(ROOT).as_posix())
    assert kinds or plain, (f"{path.name}: shows widgets, but none whose slider changes something the test can see "
                            f"(a course_lib.widgets explorer, or a slider with a label or picture beside it)")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path.name} was modified by the browser test"


def test_every_course_explorer_works_in_jupyterlab(page, lab):
    demo = write_demo_notebook(ARTIFACTS / "widgets_demo.ipynb")
    kinds, plain = check_notebook(page, lab, demo.relative_to(ROOT).as_posix())
    assert kinds == DEMO_KINDS and plain == 0


def test_a_widget_that_cannot_be_displayed_fails_the_check(page, lab):
    """The check itself: a widget output whose model the kernel never made shows "Error displaying widget"."""
    broken = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    broken.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets\nfrom IPython.display import display\n"
        f"display({{'{WIDGET_VIEW}': {{'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}}, "
        "'text/plain': 'a widget'}, raw=True)")]
    nbformat.write(broken, ARTIFACTS / "broken_widget.ipynb")
    with pytest.raises(AssertionError, match="Error displaying widget: model not found"):
        check_notebook(page, lab, "artifacts/browser/broken_widget.ipynb")
