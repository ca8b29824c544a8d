"""The sandbox and its runner: what the code inside sees and may use, and that it cannot block or fool the grader.

(tests/test_grading.py grades a whole batch of hostile submissions through them.)
"""
import os
import subprocess
import time
from pathlib import Path

import pytest

from course_lib.grading import sandbox
from course_lib.grading.sandbox import Limits, Sandbox, SandboxStopped

LIMITS = Limits(memory=2 * sandbox.GiB, processes=64, disk=32 * sandbox.MiB)



def _value(box: Sandbox, source: str):
    """Run `source` (which sets `value`) in the runner and read `value` back through a call."""
    assert box.request({"op": "run", "source": source + "\ndef _get():\n    return value"}, 60) == {"error": None}
    reply = box.request({"op": "call", "name": "_get", "args": [], "probe": None}, 60)
    assert reply["outcome"] == "returned", reply
    return reply["value"]


def _writable(box: Sandbox, paths: list[str]) -> list[str]:
    """The paths (~ expanded inside) where the runner could create a file."""
    return _value(box, f"""import os
value = []
for path in map(os.path.expanduser, {paths!r}):
    try:
        open(path, 'w').write('x')
        value.append(path)
    except OSError:
        pass""")


@pytest.fixture(scope="module")
def box(sandbox_works):
    os.environ["COURSE_GRADER_CANARY"] = "secret"
    try:
        with Sandbox(LIMITS, hidden=[Path(sandbox.checks.__file__).parent / "checks_00.py"]) as box:
            yield box
    finally:
        del os.environ["COURSE_GRADER_CANARY"]


def test_it_sees_only_what_a_notebook_needs_and_writes_only_its_scratch(box):
    top = _value(box, "import os\nvalue = sorted(os.listdir('/'))")
    assert set(top) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "scratch", "tmp",
                        "usr", *(p.parts[1] for p in sandbox.visible_paths())}
    package = Path(sandbox.checks.__file__).parent
    assert _value(box, f"import os\nvalue = os.path.isdir({str(package.parent / 'solutions')!r})") is False
    hidden = _value(box, f"try:\n    value = open({str(package / 'checks_00.py')!r}).read()\n"
                         "except OSError as err:\n    value = type(err).__name__")
    assert hidden == "PermissionError"  # a hidden file: /dev/null on a mount that allows no devices
    writable = _writable(box, ["/planted", "/dev/planted", "/usr/planted", "/etc/planted", "/scratch/planted",
                               "/tmp/planted", "~/planted"])
    assert writable == ["/scratch/planted", "/tmp/planted", "/scratch/planted"]


def test_it_has_its_own_processes_environment_and_descriptors(box):
    assert _value(box, "import os\nvalue = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())") == [1, 2]
    env = _value(box, "import os\nvalue = dict(os.environ)")
    assert "COURSE_GRADER_CANARY" not in env and env["HOME"] == "/scratch"
    descriptors = _value(box, "import os\nvalue = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))")
    # stdin, stdout, stderr (all /dev/null), the two pipes, the listing itself; under a root grader also the read
    # end of bwrap's --userns-block-fd, whose write end the grader has closed
    assert len(descriptors) == 6 + (os.geteuid() == 0)
    assert _value(box, "value = open('/proc/1/cmdline').read().split(chr(0))[:2]") == ["bwrap", "--args"]


def test_memory_beyond_the_limit_is_refused_and_the_runner_lives_on(box):
    assert _value(box, """try:
    block = bytearray(3 * 2**30)
    value = 'allocated'
except MemoryError:
    value = 'refused'""") == "refused"
    assert _value(box, "import resource\nvalue = resource.getrlimit(resource.RLIMIT_DATA)") == (2**31, 2**31)


def test_a_runner_that_stops_reading_cannot_block_the_grader(sandbox_works):
    with Sandbox(LIMITS) as box:
        assert box.request({"op": "run", "source": "while True:\n    pass"}, 1) is None  # busy, not interrupted
        start = time.monotonic()
        with pytest.raises(SandboxStopped, match="stopped reading"):
            box.request({"op": "run", "source": "x" * 2_000_000}, 2)  # larger than a pipe holds
        assert time.monotonic() - start < 10


def test_garbage_on_the_channel_ends_the_sandbox_with_a_reason(sandbox_works):
    with Sandbox(LIMITS) as box:
        source = ("import os, sys\nfd = int(sys.argv[sys.argv.index('--replies') + 1])\n"
                  "os.write(fd, (100).to_bytes(4, 'big') + (1).to_bytes(4, 'big') + os.urandom(100))")
        with pytest.raises(SandboxStopped, match="unreadable message"):
            box.request({"op": "run", "source": source}, 30)


def test_without_bubblewrap_it_refuses_and_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.check_available()
    message = str(refused.value)
    assert "bwrap is not installed" in message and "apt-get install bubblewrap" in message
    assert "docker run" in message and "--no-sandbox" in message


def test_a_killed_graders_empty_cgroups_are_removed_by_the_next_one(tmp_path):
    """Cgroups are named course-grade-<grader pid>-<sandbox pid>; the next grader removes the empty ones of a grader
    that is gone, and leaves those of a live grader and those still holding processes."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone, live, busy = (tmp_path / f"course-grade-{dead.pid}-1", tmp_path / f"course-grade-{os.getpid()}-2",
                        tmp_path / f"course-grade-{dead.pid}-3")
    for folder in (gone, live, busy):
        folder.mkdir()
    (busy / "cgroup.procs").write_text("4242")  # a plain folder with a file stands in for a cgroup holding a process
    sandbox._remove_stale(tmp_path)
    assert not gone.exists() and live.exists() and busy.exists()


def test_a_course_that_lives_in_tmp_still_gets_a_writable_scratch(sandbox_works, tmp_path, monkeypatch):
    """A clone in /tmp puts read-only folders inside /tmp, where the sandbox normally links its scratch."""
    assert tmp_path.resolve().is_relative_to("/tmp")
    (tmp_path / "course.txt").write_text("read me")
    tmp_path.chmod(0o755)  # like a clone; pytest makes it 0700, which a root grader's sandbox uid may not read
    seen = sandbox.visible_paths()
    monkeypatch.setattr(sandbox, "visible_paths", lambda: [*seen, tmp_path.resolve()])
    with Sandbox(LIMITS, notebook=None) as box:
        assert _value(box, f"value = open({str(tmp_path / 'course.txt')!r}).read()") == "read me"
        writable = _writable(box, ["/scratch/planted", "/tmp/planted", "~/planted", str(tmp_path / "planted")])
    assert writable == ["/scratch/planted", "/tmp/planted", "/scratch/planted"]
    assert not (tmp_path / "planted").exists()
