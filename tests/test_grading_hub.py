"""course_lib.grading.hub: reading and writing below a learner's home refuses links and anything but plain files.

Collecting and returning for real users (as root, through a forked child per learner) runs in tests/test_hub.py.
"""
import os
from pathlib import Path, PurePosixPath

import pytest

from course_lib.grading import hub

NOTEBOOK = PurePosixPath("course-students/exercises/00_warmup.ipynb")


@pytest.fixture()
def home(tmp_path):
    (tmp_path / "course-students" / "exercises").mkdir(parents=True)
    (tmp_path / NOTEBOOK).write_text('{"cells": []}')
    return tmp_path


def test_a_plain_file_is_read(home):
    assert hub._read_beneath(str(home), NOTEBOOK) == b'{"cells": []}'


def test_a_missing_file_is_missing(home):
    with pytest.raises(FileNotFoundError):
        hub._read_beneath(str(home), PurePosixPath("course-students/exercises/01.ipynb"))


def test_a_link_as_the_notebook_is_refused(home, tmp_path_factory):
    secret = tmp_path_factory.mktemp("other") / "secret.ipynb"
    secret.write_text("someone else's work")
    (home / NOTEBOOK).unlink()
    (home / NOTEBOOK).symlink_to(secret)
    with pytest.raises(hub.Refused, match="is a link"):
        hub._read_beneath(str(home), NOTEBOOK)


def test_a_link_on_the_way_is_refused(home, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "exercises").mkdir()
    (elsewhere / "exercises" / "00_warmup.ipynb").write_text("{}")
    (home / "course-students").rename(home / "moved")
    (home / "course-students").symlink_to(elsewhere)
    with pytest.raises(hub.Refused, match="course-students in its path is a link"):
        hub._read_beneath(str(home), NOTEBOOK)


def test_a_fifo_is_refused_without_blocking(home):
    (home / NOTEBOOK).unlink()
    os.mkfifo(home / NOTEBOOK)
    with pytest.raises(hub.Refused, match="not a plain file"):
        hub._read_beneath(str(home), NOTEBOOK)


def test_feedback_is_written_private_and_replaces_the_last_one(home):
    target = PurePosixPath("feedback") / "00_warmup.md"
    hub._write_beneath(str(home), target, b"first")
    hub._write_beneath(str(home), target, b"second")
    assert (home / target).read_bytes() == b"second"
    assert (home / target).stat().st_mode & 0o777 == 0o600 and (home / "feedback").stat().st_mode & 0o777 == 0o700


def test_feedback_is_not_written_into_a_fifo_and_does_not_block(home):
    """A learner who makes their feedback file a FIFO must not hang the instructor's `return` for the class."""
    (home / "feedback").mkdir()
    os.mkfifo(home / "feedback" / "00_warmup.md")
    with pytest.raises(OSError):  # ENXIO: nobody reads it; returning goes on to the next learner
        hub._write_beneath(str(home), PurePosixPath("feedback/00_warmup.md"), b"feedback")


def test_feedback_is_not_written_through_a_link(home, tmp_path_factory):
    victim = tmp_path_factory.mktemp("root-owned") / "important"
    victim.write_text("keep me")
    (home / "feedback").mkdir()
    (home / "feedback" / "00_warmup.md").symlink_to(victim)
    with pytest.raises(hub.Refused, match="is a link"):
        hub._write_beneath(str(home), PurePosixPath("feedback/00_warmup.md"), b"overwritten")
    assert victim.read_text() == "keep me"
    (home / "feedback" / "00_warmup.md").unlink()
    (home / "feedback").rmdir()
    (home / "feedback").symlink_to(victim.parent)
    with pytest.raises(hub.Refused, match="feedback in its path is a link"):
        hub._write_beneath(str(home), PurePosixPath("feedback/00_warmup.md"), b"overwritten")
    assert not (victim.parent / "00_warmup.md").exists()


def test_collecting_needs_root_and_a_group(tmp_path):
    if os.geteuid() == 0:
        with pytest.raises(SystemExit, match="no Unix group"):
            hub.main(["collect", "exercises/00_warmup.ipynb", str(tmp_path), "--group", "no-such-group-here"])
    with pytest.raises(SystemExit):
        hub.main(["collect", "/etc/shadow", str(tmp_path)])  # an absolute path is not inside the repository
    assert not list(Path(tmp_path).iterdir())
