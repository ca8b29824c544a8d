"""The sandbox and its runner: what the code inside sees and may use, and that it cannot block or fool the grader.

(tests/test_grading.py grades a whole batch of hostile submissions through them.)
"""
import os
import subprocess
import sys
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


def test_a_python_reached_through_a_linked_folder_starts_a_sandbox(tmp_path, sandbox_works):
    """A venv opened through a link (a `.venv` linked into a second checkout, say) is found inside the sandbox."""
    link = tmp_path / "linked-env"
    link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    python = link / "bin" / Path(sys.executable).name
    done = subprocess.run([str(python), "-c", "from course_lib.grading import sandbox; sandbox.check_available()"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]


KEY_PROBE = """import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
SYS_ADD_KEY, SYS_KEYCTL, KEYCTL_SEARCH = 248, 250, 10
value = {}
for name, ring in (('session', -3), ('user', -4)):
    key = libc.syscall(SYS_ADD_KEY, b'user', b'course-attack-' + name.encode(), b'answer code', 11, ctypes.c_int(ring))
    value['add ' + name] = key if key >= 0 else errno.errorcode[ctypes.get_errno()]
    found = libc.syscall(SYS_KEYCTL, KEYCTL_SEARCH, ctypes.c_int(ring), b'user', b'course-attack-' + name.encode(), 0)
    value['search ' + name] = found if found >= 0 else errno.errorcode[ctypes.get_errno()]
value['listed'] = [line for line in open('/proc/keys') if 'course-attack' in line or '_uid' in line]"""


def _unlink_planted_keys():
    """Remove keys an unfixed sandbox left in the grader's keyrings (only if the defence failed)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for line in Path("/proc/keys").read_text().splitlines():
        if "course-attack" in line:
            libc.syscall(250, 21, int(line.split()[0], 16))  # KEYCTL_INVALIDATE


def test_a_sandbox_cannot_leave_a_key_in_the_kernels_keyrings_for_the_next(sandbox_works):
    """Keyrings are not namespaced: on the code before the seccomp filter, the first sandbox linked a key into the
    grader's session keyring and the second found it there (and /proc/keys listed the grader's keyrings)."""
    try:
        with Sandbox(LIMITS) as first:
            planted = _value(first, KEY_PROBE)
        with Sandbox(LIMITS) as second:
            found = _value(second, KEY_PROBE.replace("b'answer code', 11", "b'', 0"))
        assert planted["add session"] == planted["add user"] == "EPERM", planted
        assert found["search session"] == found["search user"] == "EPERM", found
        assert planted["listed"] == found["listed"] == [], (planted, found)
        assert "course-attack" not in Path("/proc/keys").read_text()
    finally:
        _unlink_planted_keys()


def test_it_runs_as_an_unprivileged_uid_with_read_only_sysctls_and_a_name_of_its_own(box):
    """On the code before, a root grader's runner was host uid 0, could open kernel.core_pattern for writing (a
    program there runs as host root on the next crash; nothing is written here), and saw the host's name, user and
    /etc/passwd."""
    host_uids = [line.split()[1:] for line in Path(f"/proc/{box.runner_pid}/status").read_text().splitlines()
                 if line.startswith("Uid:")][0]
    assert "0" not in host_uids and (os.geteuid() != 0 or int(host_uids[0]) >= 65536), host_uids
    inside = _value(box, """import os, socket, getpass
value = {'uid': os.getuid(), 'host': socket.gethostname(), 'user': getpass.getuser(),
         'passwd': open('/etc/passwd').read(), 'group': open('/etc/group').read()}
for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/kernel/hostname', '/proc/sysrq-trigger'):
    try:
        os.close(os.open(path, os.O_WRONLY))  # opening writes nothing
        value[path] = 'writable'
    except OSError as err:
        value[path] = type(err).__name__""")
    assert inside["uid"] == 1000 and inside["user"] == "learner" and inside["host"] == "sandbox"
    assert [line.split(":")[0] for line in inside["passwd"].splitlines()] == ["learner", "nobody"]
    assert os.uname().nodename not in inside["passwd"] + inside["group"] or os.uname().nodename == "sandbox"
    assert "writable" not in [inside[p] for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname",
                                                  "/proc/sysrq-trigger")], inside


def test_its_accounts_and_name_hold_while_the_host_rewrites_etc_passwd(box, throwaway_user):
    """useradd renames a new /etc/passwd, /etc/group and /etc/shadow over the old ones, and the kernel then detaches
    every mount on the old files, in every namespace. On the code before, that removed the sandbox's own /etc/passwd
    (and the /dev/null laid over /etc/shadow), so a sandbox started before another user was made saw the host's
    accounts: getpass.getuser() said `cloudsdk`, the host's uid 1000, instead of `learner`."""
    inside = _value(box, """import getpass, os
value = {'user': getpass.getuser(), 'passwd': open('/etc/passwd').read().split(),
         'files': sorted(n for n in os.listdir('/etc') if n.startswith(('passwd', 'group', 'shadow', 'gshadow')))}""")
    assert throwaway_user.pw_name in Path("/etc/passwd").read_text()  # made after the sandbox started
    assert inside == {"user": "learner", "passwd": ["learner:x:1000:1000:learner:/scratch:/bin/sh",
                                                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"],
                      "files": ["group", "passwd"]}, inside


def test_a_root_grader_refuses_to_start_when_its_sandbox_uid_cannot_read_a_folder(tmp_path, monkeypatch):
    """A data folder drawn into a 0700 scratch folder (the CelebA stand-in, before) could not be read by a root
    grader's sandbox uid: every notebook loading it failed and each student got 0. Now the grader refuses first."""
    data = tmp_path / "data"
    (data / "celeba-standin").mkdir(parents=True)
    (data / "celeba-standin" / "faces.pt").write_bytes(b"x")
    (data / "celeba-standin").chmod(0o700)
    data.chmod(0o755)
    monkeypatch.setattr(sandbox, "_is_root", lambda: True)  # the check is the root grader's, and only reads modes
    monkeypatch.setattr(sandbox, "visible_paths", lambda: [data])
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.check_available()
    message = str(refused.value)
    assert f"{data}: 1 entry others may not read, e.g. {data / 'celeba-standin'} (mode 0700)" in message
    assert f"chmod -R o+rX {data}\n" in message and "COURSE_DATA_DIR" in message
    (data / "celeba-standin").chmod(0o750)
    assert sandbox.confine.first_unreadable(data, walk=True) == (data / "celeba-standin", 1)
    assert sandbox.confine.first_unreadable(data, walk=False) is None  # the folder itself is fine
    (data / "celeba-standin").chmod(0o755)
    assert sandbox.confine.first_unreadable(data, walk=True) is None


FLOOD = """import os, sys, threading
import course_lib.checks as checks
from course_lib.grading.runner import write_frame
fd = int(sys.argv[sys.argv.index('--replies') + 1])
stale = checks.encode({'outcome': 'returned', 'value': list(range(300))})  # one atomic pipe write per frame
def flood():
    while True:
        write_frame(fd, 10**6, stale)
threading.Thread(target=flood, daemon=True).start()"""


def test_a_flood_of_stale_replies_stops_the_submission_instead_of_costing_the_grader_its_deadline(sandbox_works):
    """On the code before, every stale frame was decoded until the check's deadline, and the reply to the awaited
    request still came through: a notebook cost the grader its whole time limit, check after check."""
    limits = Limits(memory=LIMITS.memory, processes=LIMITS.processes, disk=LIMITS.disk, channel=8 * sandbox.MiB)
    with Sandbox(limits) as box:
        start = time.monotonic()
        with pytest.raises(SandboxStopped, match="MiB to the grader in all"):
            box.request({"op": "run", "source": FLOOD}, 30)
            while time.monotonic() - start < 20:
                box.request({"op": "lookup", "names": []}, 30)
        assert time.monotonic() - start < 30
