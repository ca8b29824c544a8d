"""Shared test setup: every test, and every notebook kernel that nbval starts, runs in fast mode; the grading
tests share `sandbox_works`."""
import os

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
