"""Shared test setup: every test, and every notebook kernel that nbval starts, runs in fast mode; the grading
tests share `sandbox_works` and `throwaway_user`."""
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import pytest

os.environ["COURSE_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def sandbox_works():
    """Skip a test that needs a bubblewrap sandbox where none can start, except under CI, where it fails."""
    from course_lib.grading import sandbox

    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must grade in a sandbox: {err}")
        pytest.skip(f"no sandbox here: {err}")


def _skip_or_fail_in_ci(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


@pytest.fixture
def throwaway_user():
    """A system user and group made for this test (useradd), removed with its processes afterwards."""
    if os.geteuid() != 0:
        pytest.skip(f"only root can make a user (this is uid {os.geteuid()}, so the grader here already runs "
                    "unprivileged)")
    missing = [tool for tool in ("useradd", "userdel") if shutil.which(tool) is None]
    if missing:
        _skip_or_fail_in_ci(f"{' and '.join(missing)} not found (the passwd package provides them)")
    name = f"course-grade-{os.getpid()}"
    for attempt in range(10):
        made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
        if "lock" not in made.stderr:  # another useradd may hold /etc/passwd's lock for a moment
            break
        time.sleep(1)
    if made.returncode != 0:
        _skip_or_fail_in_ci(f"useradd failed: {made.stderr.strip()}")
    user = pwd.getpwnam(name)
    try:
        yield user
    finally:
        subprocess.run(["pkill", "--signal", "KILL", "--uid", str(user.pw_uid)], capture_output=True)
        for attempt in range(10):
            if subprocess.run(["userdel", "--force", name], capture_output=True).returncode == 0:
                break
            time.sleep(1)
        assert name not in Path("/etc/passwd").read_text(), f"userdel left {name} behind"
