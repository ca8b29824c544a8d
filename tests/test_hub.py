"""A class on JupyterHub, end to end, as docs/jupyterhub.md's one-server recipe sets it up.

Root prepares what the guide says: a Python environment every user may execute (here a hard-linked copy of this
checkout's environment and course in a world-readable temporary folder: the clone may sit where other users
cannot enter, such as /root), Fashion-MNIST prepared into a shared read-only folder, the learner repository made
by hub/make_learner_repository.sh, two PAM users in a learners' group (made here, removed afterwards). A real
JupyterHub with configurable-http-proxy runs hub/jupyterhub_config.py (ports and paths changed, nothing else).
Two learners in headless Chromium log in, follow the guide's nbgitpuller link, run notebooks/00_setup.ipynb, answer
the warm-up's exercises (one all of them, one leaving 00.2 unfinished while 00.3 calls it), run its checks and
save; after the instructor pushes an update, a second pull keeps their answers and brings the update. Root
collects with `course_lib.grading.hub collect`, grades with the sandboxed grader and returns feedback with
`course_lib.grading.hub return`. The test asserts the gradebook, that each learner can read only their own files,
and that nothing of the hub is left running once it stops.

Needs root, useradd, configurable-http-proxy (npm), Chromium and the grading sandbox; without them it is skipped
with the reason, except under CI ($CI set), where that is a failure. Takes a few minutes.
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from course_lib.data import SYSTEM_DIR
from test_browser import launched_chromium

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"
GROUP = "hubtest-learners"
LEARNERS = ("hubtest-ada", "hubtest-bo")
PASSWORD = "correct-horse-7"
FOLDER = "course-students"  # the learner repository's name, and so its folder in each home
START_LIMIT = 60  # s, the hub answering
SPAWN_LIMIT = 120  # s, a learner's server started after login
RUN_LIMIT = 240  # s, all cells of one notebook (fast mode, two learners at once on a busy machine)

SOLVED = {  # the warm-up answered in full
    "mean_image": '''def mean_image(images, labels, label):
    chosen = images[labels == label]
    if len(chosen) == 0:
        raise ValueError(f"no image has label {label}")
    return chosen.mean(dim=0)


check("00.1", mean_image)''',
    "binarise": '''def binarise(images, threshold=0.5):
    return (images > threshold).float()


check("00.2", binarise)''',
    "on_fraction": '''def on_fraction(images, threshold=0.5):
    return binarise(images, threshold).mean(dim=(1, 2, 3))


check("00.3", on_fraction)''',
}
ANSWERS = {"hubtest-ada": SOLVED, "hubtest-bo": dict(SOLVED, binarise=None)}  # None leaves the stub


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the JupyterHub test: {reason}")
    pytest.skip(reason)


def _run(*command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_environment(folder: Path) -> tuple[Path, dict[str, str]]:
    """This checkout's Python environment and course, hard-linked (no copying of data) into `folder`, which every
    user may enter: (its python, environment variables its processes need)."""
    if sys.prefix == sys.base_prefix:
        _unavailable("the hub test runs from a virtual environment (python course.py test makes .venv)")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base, venv, course = Path(sys.base_prefix), folder / "venv", folder / "course"
    if subprocess.run(["runuser", "-u", "nobody", "--", base / "bin" / version, "-c", "pass"],
                      capture_output=True).returncode != 0:  # e.g. pyenv's Python in /root/.pyenv: link it too
        _link_tree(base, folder / "python")
        base = folder / "python"
    _link_tree(Path(sys.prefix), venv)
    for name in ("python", "python3", version):
        (venv / "bin" / name).unlink(missing_ok=True)
    (venv / "pyvenv.cfg").unlink()  # a hard link: writing it would change the original
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\ninclude-system-site-packages = false\n")
    (venv / "bin" / "python").symlink_to(base / "bin" / version)
    site = venv / "lib" / version / "site-packages"
    for editable in site.glob("__editable__*course_lib*"):  # it points into the checkout; the copy below replaces it
        editable.unlink()
    shutil.copytree(ROOT / "course_lib", course / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks" / "checkpoints", course / "notebooks" / "checkpoints")
    (site / "course.pth").write_text(f"{course}\n")
    environment = {"COURSE_FAST": "1", "MPLBACKEND": "Agg"}
    if base != Path(sys.base_prefix):  # a shared libpython is found by an absolute path into the original prefix
        environment["LD_LIBRARY_PATH"] = str(base / "lib")
    return venv / "bin" / "python", environment


def _link_tree(source: Path, target: Path) -> None:
    """Copy `source` to `target` as hard links (about a second for 7 GB), or as a real copy across file systems."""
    if subprocess.run(["cp", "-al", source, target], capture_output=True).returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        print(f"hub test: {source} is on another file system than {target}; copying it (slow)")
        _run("cp", "-a", source, target)


@pytest.fixture(scope="module")
def machine(sandbox_works):
    """Skip (fail under CI) where this machine cannot run a hub."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        _unavailable("the hub test needs root (it makes PAM users and starts JupyterHub as root)")
    for program in ("useradd", "chpasswd", "configurable-http-proxy", "git"):
        if not shutil.which(program):
            _unavailable(f"{program} not found (.ci/run installs what the hub test needs)")
    if not (SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists():
        _unavailable(f"no Fashion-MNIST files in {SYSTEM_DIR} (apt-get install dataset-fashion-mnist)")


@pytest.fixture(scope="module")
def world(machine):
    """The instructor's preparation, in a temporary folder every user may enter: environment, data, repository."""
    folder = Path(tempfile.mkdtemp(prefix="course-hub-"))
    try:
        folder.chmod(0o755)
        started = time.monotonic()
        python, environment = shared_environment(folder)
        print(f"hub test: shared environment ready in {time.monotonic() - started:.1f} s")
        data = folder / "data" / "fashion-mnist"
        data.mkdir(parents=True)
        for gz in SYSTEM_DIR.glob("*-ubyte.gz"):
            shutil.copy(gz, data)
        prepare = ("from course_lib.data import load_fashion_mnist; "
                   "load_fashion_mnist('train'); load_fashion_mnist('test')")
        _run(python, "-c", prepare, env={**os.environ, **environment, "COURSE_DATA_DIR": str(data)})
        course = folder / "instructor-course"  # what the instructor's clone holds, so that updates can be made
        for part in ("notebooks", "exercises", "images"):
            shutil.copytree(ROOT / part, course / part)
        repository = folder / "git" / FOLDER
        (folder / "git").mkdir()
        _run(HUB / "make_learner_repository.sh", course, repository, "Week 1")
        yield {"folder": folder, "python": python, "environment": environment, "data": data, "course": course,
               "repository": repository}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kill_processes_of(uids: set[int]) -> list[str]:
    """Kill every process of these users; their descriptions."""
    found = [p for p in psutil.process_iter(["uids", "cmdline"]) if p.info["uids"] and p.info["uids"].real in uids]
    for process in found:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    return [" ".join(p.info["cmdline"] or [])[:120] for p in found]


@pytest.fixture(scope="module")
def learners(machine):
    """Two PAM users in the learners' group, with private homes; removed afterwards with everything they ran."""
    made_group = False
    try:
        _run("groupadd", GROUP)
        made_group = True
        for name in LEARNERS:
            _run("useradd", "--create-home", "-K", "HOME_MODE=0700", "--shell", "/bin/bash", "--groups", GROUP, name)
            _run("chpasswd", input=f"{name}:{PASSWORD}\n")
        yield {name: pwd.getpwnam(name) for name in LEARNERS}
    finally:
        uids = set()
        for name in LEARNERS:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        _kill_processes_of(uids)
        for name in LEARNERS:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        if made_group:
            subprocess.run(["groupdel", GROUP], capture_output=True)


@pytest.fixture(scope="module")
def hub(world, learners):
    """JupyterHub running hub/jupyterhub_config.py on a free port of 127.0.0.1; stopped afterwards."""
    state = world["folder"] / "hub-state"
    state.mkdir(mode=0o700)
    port = _free_port()
    overlay = state / "test_config.py"
    overlay.write_text(f"""\
load_subconfig({str(HUB / 'jupyterhub_config.py')!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {_free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{_free_port()}"
c.Authenticator.allowed_groups = {{{GROUP!r}}}
c.Spawner.environment.update({json.dumps(world['environment'])})
c.Spawner.args = ["--LabApp.expose_app_in_browser=True"]
""")
    environment = {**os.environ, "COURSE_HUB_PYTHON": str(world["python"]), "COURSE_HUB_STATE": str(state),
                   "COURSE_HUB_DATA_DIR": str(world["data"]), "COURSE_HUB_REPOSITORY": str(world["repository"])}
    log = (state / "hub.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(overlay)], cwd=state, env=environment,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_LIMIT
        while True:
            try:
                urllib.request.urlopen(f"{url}/hub/api/", timeout=5)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterHub did not start:\n{(state / 'hub.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"url": url, "process": process, "log": state / "hub.log"}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def test_the_guide_shows_the_z2jh_values_as_they_are():
    """docs/jupyterhub.md shows hub/z2jh/config.yaml in full; the two must not drift apart."""
    guide = (ROOT / "docs" / "jupyterhub.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    assert (HUB / "z2jh" / "config.yaml").read_text() in blocks, "copy hub/z2jh/config.yaml into the guide's block"


def test_a_learner_may_clone_the_learner_repository_that_root_made():
    """git refuses a repository another user owns; the gitconfig made beside it, given as the learners' system
    configuration (as hub/jupyterhub_config.py does), lets them clone it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        _unavailable("this test needs root (it clones as the user nobody)")
    folder = Path(tempfile.mkdtemp(prefix="course-git-"))
    try:
        folder.chmod(0o755)
        repository = folder / "git" / FOLDER
        repository.parent.mkdir()
        _run(HUB / "make_learner_repository.sh", ROOT, repository, "Week 1")
        home = folder / "home"
        home.mkdir()
        shutil.chown(home, "nobody")
        clone = ["runuser", "-u", "nobody", "--", "env", f"HOME={home}"]
        refused = subprocess.run([*clone, "git", "clone", repository, home / "plain"], capture_output=True, text=True)
        assert refused.returncode != 0 and "dubious ownership" in refused.stderr, refused.stderr
        trusted = subprocess.run([*clone, f"GIT_CONFIG_SYSTEM={repository.parent / 'gitconfig'}", "git", "clone",
                                  repository, home / FOLDER], capture_output=True, text=True)
        assert trusted.returncode == 0, trusted.stderr
        assert (home / FOLDER / "exercises" / "00_warmup.ipynb").exists()
        assert not (home / FOLDER / "solutions").exists() and not (home / FOLDER / "notebooks" / "checkpoints").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- what a learner does in the browser ---------------------------------------------------------------------------

def git_pull_link(hub_url: str, repository: Path, path: str) -> str:
    """The guide's nbgitpuller link: clone or pull the learner repository, then open `path` in JupyterLab."""
    query = urllib.parse.urlencode({"repo": str(repository), "branch": "main",
                                    "urlpath": f"lab/tree/{FOLDER}/{path}"})
    return f"{hub_url}/hub/user-redirect/git-pull?{query}"


def log_in(page, hub_url: str, name: str) -> None:
    page.goto(f"{hub_url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=SPAWN_LIMIT * 1000)


def open_notebook(page, link: str, path: str) -> None:
    """Follow an nbgitpuller link and wait for `path` to be open with its kernel; on failure, say what the page
    showed (nbgitpuller prints git's output there)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(link, timeout=SPAWN_LIMIT * 1000)
    try:
        _wait_for_notebook(page, path)
    except PlaywrightTimeout:
        pytest.fail(f"{path} did not open from {link}; the page ({page.url}) shows:\n"
                    f"{page.inner_text('body')[-3000:]}")


def _wait_for_notebook(page, path: str) -> None:
    page.wait_for_function(
        """(path) => window.jupyterapp && window.jupyterapp.shell.currentWidget
                     && window.jupyterapp.shell.currentWidget.context
                     && window.jupyterapp.shell.currentWidget.context.path === path
                     && window.jupyterapp.shell.currentWidget.sessionContext.session
                     && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel""",
        arg=f"{FOLDER}/{path}", timeout=SPAWN_LIMIT * 1000)


WRITE_ANSWERS = """(answers) => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  let written = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    for (const [name, source] of Object.entries(answers)) {
      if (source !== null && cell.type === 'code' && cell.sharedModel.getSource().startsWith(`def ${name}(`)) {
        cell.sharedModel.setSource(source); written++;
      }
    }
  }
  return written;
}"""
RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  let last = null, error = false;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    if ((cell.outputs || []).some(o => o.output_type === 'error')) error = true;
    last = cell.execution_count;
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {finished: error || last !== null, idle: !!kernel && kernel.status === 'idle'};
}"""


def start_run_all(page) -> None:
    """Start running every cell (until the first error, as Jupyter does), without waiting for the end."""
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.isReady", timeout=60_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def finish_and_save(page) -> None:
    """Wait for the run started by start_run_all to end, then save the notebook."""
    deadline = time.monotonic() + RUN_LIMIT
    while True:
        state = page.evaluate(RUN_STATE)
        if state["finished"] and state["idle"]:
            break
        assert time.monotonic() < deadline, f"the notebook did not finish within {RUN_LIMIT} s"
        time.sleep(1)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)


def saved(user: pwd.struct_passwd, path: str) -> dict:
    return json.loads((Path(user.pw_dir) / FOLDER / path).read_text())


def outputs_text(notebook: dict) -> str:
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", "")))
            parts.append(output.get("ename", "") + ": " + output.get("evalue", ""))
    return "\n".join(parts)


def errors(notebook: dict) -> list[str]:
    return [f"{o['ename']}: {o['evalue']}"[:300] for cell in notebook["cells"] for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def learner_memory(uid: int) -> dict[str, float]:
    """Resident memory (MB) of a learner's server and of their kernels."""
    total = {"server": 0.0, "kernels": 0.0}
    for process in psutil.process_iter(["uids", "cmdline", "memory_info"]):
        if process.info["uids"] and process.info["uids"].real == uid and process.info["memory_info"]:
            kind = "kernels" if "ipykernel_launcher" in " ".join(process.info["cmdline"] or []) else "server"
            total[kind] += process.info["memory_info"].rss / 2**20
    return total


def as_user(user: pwd.struct_passwd, *command) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user.pw_name, "--", *map(str, command)], capture_output=True, text=True)


# ---- the class ----------------------------------------------------------------------------------------------------

def test_a_class_on_the_hub(world, learners, hub, tmp_path):
    started = time.monotonic()
    url, repository = hub["url"], world["repository"]
    course_env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_FAST": "1"}
    with launched_chromium() as chromium:
        contexts = {name: chromium.new_context(viewport={"width": 1280, "height": 900}) for name in LEARNERS}
        pages = {name: contexts[name].new_page() for name in LEARNERS}
        for name, page in pages.items():
            page.set_default_timeout(60_000)
            log_in(page, url, name)
        # 1. Each learner follows the guide's link to 00_setup: nbgitpuller clones the repository, the notebook runs.
        for name, page in pages.items():
            open_notebook(page, git_pull_link(url, repository, "notebooks/00_setup.ipynb"), "notebooks/00_setup.ipynb")
            start_run_all(page)
        for name, page in pages.items():
            finish_and_save(page)
            setup = saved(learners[name], "notebooks/00_setup.ipynb")
            assert not errors(setup), f"{name}: 00_setup failed: {errors(setup)}"
            assert str(world["data"]) in outputs_text(setup), f"{name}: 00_setup did not read the shared data folder"
        for user in learners.values():  # read from the shared folder: no private copy was unpacked
            assert not list((Path(user.pw_dir) / ".cache").rglob("*ubyte*")), f"{user.pw_name} unpacked a copy"
            assert as_user(user, "touch", world["data"] / "mine").returncode != 0, "learners may write shared data"
        # 2. The warm-up: answers written into the cells, all cells run (checks included), saved.
        warmup = "exercises/00_warmup.ipynb"
        for name, page in pages.items():
            open_notebook(page, git_pull_link(url, repository, warmup), warmup)
            assert page.evaluate(WRITE_ANSWERS, ANSWERS[name]) == sum(a is not None for a in ANSWERS[name].values())
            start_run_all(page)
        for page in pages.values():
            finish_and_save(page)
        for user in learners.values():  # what each learner holds now: reported, for the guide's sizing
            print(f"hub test: {user.pw_name}: " + ", ".join(f"{what} {mb:.0f} MB RSS" for what, mb in
                                                          learner_memory(user.pw_uid).items()))
        ada, bo = (saved(learners[name], warmup) for name in LEARNERS)
        assert "[00.3] the fraction of 'on' pixels in each image: passed" in outputs_text(ada), errors(ada)
        assert "[00.2] binarise images at a threshold: not done yet" in outputs_text(bo), errors(bo)
        # 3. The instructor updates the repository (a new file, a line the learners did not edit); a second pull
        #    brings both and keeps the learners' answers.
        (world["course"] / "exercises" / "week2.md").write_text("# Week 2\n\nNotebook 01 opens on Monday.\n")
        notebook = world["course"] / "exercises" / "00_warmup.ipynb"
        notebook.write_text(notebook.read_text().replace("**Estimated time:** 15 minutes.",
                                                         "**Estimated time:** 20 minutes."))
        _run(HUB / "make_learner_repository.sh", world["course"], repository, "Week 2")
        for name, page in pages.items():
            open_notebook(page, git_pull_link(url, repository, warmup), warmup)
            home = Path(learners[name].pw_dir) / FOLDER
            assert (home / "exercises" / "week2.md").exists(), f"{name}: the second pull did not bring week2.md"
            text = (home / warmup).read_text()
            assert "20 minutes" in text, f"{name}: the update to a line they did not edit did not arrive"
            assert "binarise(images, threshold).mean(dim=(1, 2, 3))" in text, f"{name}: the pull lost their answer"
        # 4. Each learner sees only their own files: not through the hub, not on disk.
        other = pages["hubtest-ada"].request.get(f"{url}/user/hubtest-bo/api/contents/{FOLDER}",
                                                 max_redirects=0, fail_on_status_code=False)
        assert other.status in (302, 403, 404), f"ada read bo's folder through the hub ({other.status})"
        assert as_user(learners["hubtest-ada"], "cat", Path(learners["hubtest-bo"].pw_dir) / FOLDER / warmup
                       ).returncode != 0, "ada can read bo's notebook on disk"
        for context in contexts.values():
            context.close()
    print(f"hub test: learners done after {time.monotonic() - started:.0f} s")

    # 5. Collect, grade in the sandbox, return the feedback.
    hub_cli = [sys.executable, "-m", "course_lib.grading.hub"]
    submitted, grades = tmp_path / "submitted", tmp_path / "grades"
    collected = _run(*hub_cli, "collect", warmup, submitted, "--group", GROUP, env=course_env)
    assert "collected (2): hubtest-ada; hubtest-bo" in collected.stdout, collected.stdout
    graded = subprocess.run([sys.executable, "-m", "course_lib.grading", submitted, "--out", grades, "--jobs", "2"],
                            capture_output=True, text=True, env=course_env)
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    rows = {row["student"]: row for row in csv.DictReader((grades / "gradebook.csv").open())}
    assert set(rows) == set(LEARNERS), rows
    points = {name: {key: rows[name][key] for key in ("00.1", "00.2", "00.3")} for name in LEARNERS}
    assert points["hubtest-ada"] == {"00.1": "2", "00.2": "1", "00.3": "1"}, rows["hubtest-ada"]
    assert points["hubtest-bo"] == {"00.1": "2", "00.2": "0", "00.3": "0"}, rows["hubtest-bo"]
    feedback_bo = (grades / "feedback" / "hubtest-bo.md").read_text()
    assert "your `binarise` (exercise 00.2) is not done yet, and your answer calls it" in feedback_bo
    returned = _run(*hub_cli, "return", grades / "feedback", "--name", "00_warmup.md", "--group", GROUP,
                    env=course_env)
    assert "returned (2)" in returned.stdout, returned.stdout
    for name, user in learners.items():
        copy = Path(user.pw_dir) / "feedback" / "00_warmup.md"
        info = copy.stat()
        assert (info.st_uid, info.st_mode & 0o777) == (user.pw_uid, 0o600), f"{copy}: owner or mode wrong"
        assert copy.read_text() == (grades / "feedback" / f"{name}.md").read_text()

    # 6. Stopping the hub stops everything it started: the proxy and every learner's server and kernel.
    process = hub["process"]
    started_by_hub = psutil.Process(process.pid).children(recursive=True)
    assert any("configurable-http-proxy" in " ".join(p.cmdline()) for p in started_by_hub), "no proxy found"
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    time.sleep(2)
    left = [p for p in started_by_hub if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"still running after the hub stopped: {[p.cmdline() for p in left]}"
    uids = {user.pw_uid for user in learners.values()}
    assert not [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]
    print(f"hub test: whole class in {time.monotonic() - started:.0f} s")
