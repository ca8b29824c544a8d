"""A sandbox for one submission: bubblewrap around course_lib.grading.runner, and the channel to talk to it.

What the code inside gets (bubblewrap, https://github.com/containers/bubblewrap, what Flatpak uses):
- its own user, PID, IPC, UTS, cgroup and network namespaces: it sees and signals only its own processes, has no
  network, and every process it starts dies when the sandbox is closed (the namespace's first process is killed);
- a file system that is read-only and holds only what running a notebook needs: /usr, an /etc of its own (the
  host's entries but the account, sudo and SSH files, and its own users and host name), this Python and its
  packages, the course_lib package folder, the pretrained checkpoints and the data folders. The solutions, the tests, the submissions, the grader's output and secrets, home folders and
  everything else are simply absent (a hidden path inside a visible one gets an empty tmpfs over it);
- one writable place, its scratch folder /scratch (also $HOME and /tmp), a tmpfs capped at the disk limit;
- resource limits: RLIMIT_DATA (memory), RLIMIT_FSIZE, RLIMIT_NPROC for a non-root grader, a generous
  RLIMIT_AS against shared-memory tricks, and, where this user may create cgroups (v1, or v2 with the memory and
  pids controllers delegated), a memory and a process cap for the whole sandbox;
- a clean environment (--clearenv) and no terminal (--new-session).

The grader talks to the runner over two pipes with length-prefixed frames (see course_lib.grading.runner) and never
believes more than the plain data it reads back; a frame that is oversized or malformed ends the sandbox.
"""
from __future__ import annotations

import functools
import json
import os
import selectors
import shlex
import shutil
import signal
import site
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course_lib import checks
from course_lib.grading import confine
from course_lib.grading.runner import FRAME

GiB, MiB = 2**30, 2**20
INSTALL_HELP = """\
Grading runs each submission in a bubblewrap sandbox, and none can start here ({why}).
- Debian/Ubuntu: sudo apt-get install bubblewrap   (Fedora: sudo dnf install bubblewrap; Arch: pacman -S bubblewrap)
- If bwrap is installed but fails, unprivileged user namespaces are off: on Ubuntu 24.04 and later run
  sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0, on older Debian
  sudo sysctl kernel.unprivileged_userns_clone=1.
- macOS or Windows: grade inside a Linux VM (WSL 2 on Windows; a Lima, Multipass or UTM VM on macOS), or a container
  allowed to create namespaces, e.g.
  docker run --rm -it --security-opt seccomp=unconfined --security-opt apparmor=unconfined -v "$PWD":/course \\
      -w /course python:3.11 bash -c "apt-get update && apt-get install -y bubblewrap && pip install -e . && \\
      python -m course_lib.grading submitted/ --out grades/"
- Or, knowing that submissions then run with all of your rights, pass --no-sandbox."""
DIED = "the kernel died (os._exit, os.kill, a crash, or running out of memory)"
ADDRESS_SLACK = 6 * GiB  # RLIMIT_AS above the memory limit: torch's libraries alone map about 3 GiB
SCRATCH = "/scratch"
ACCOUNT_FILES = {"passwd", "group", "shadow", "gshadow", "subuid", "subgid"}  # absent inside, backups included
HIDDEN_ETC = {"sudoers", "sudoers.d", "ssh", ".pwd.lock"}
MASKED_ETC = ["ssl/private"]
CONFINED = True  # the seccomp filter and a root grader's uid drop; only benchmarks/grading_throughput.py turns
# this off, to time what they cost


class SandboxUnavailable(RuntimeError):
    """No sandbox can start on this machine; the message says how to get one."""


class SandboxStopped(Exception):
    """The sandbox ended, or sent something that is not a well-formed frame; `str()` says which."""


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use. memory: bytes of private memory per process (and of the whole sandbox where a
    cgroup is available); processes: tasks (processes and threads); disk: bytes its tmpfs holds; reply: bytes per
    message back to the grader; channel: bytes it may send the grader in all (its whole grading stops past that);
    threads: the math libraries' threads."""

    memory: int = 4 * GiB
    processes: int = 256
    disk: int = 512 * MiB
    reply: int = checks.MAX_MESSAGE
    channel: int = 256 * MiB
    threads: int = 1


def python_inside() -> str:
    """This Python as the sandbox sees it: its folder with every link resolved (the sandbox binds folders at their
    real paths, so a venv reached through a linked folder would not be found), the interpreter's name kept (a
    venv's `python` is itself a link to the base interpreter, and resolving it would lose the venv)."""
    return str(Path(sys.executable).parent.resolve() / Path(sys.executable).name)


def visible_paths() -> list[Path]:
    """The host folders the sandbox sees read-only, besides /usr and /etc: Python, packages, course, data."""
    from course_lib import pretrained

    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent]
    paths += [Path(p) for p in site.getsitepackages() + [site.getusersitepackages()] if p in sys.path]
    paths += [Path(checks.__file__).parent] + [p for p in (pretrained.find_checkpoints(), _data_dir()) if p]
    found: list[Path] = []
    for path in (p.resolve() for p in paths if p.exists()):
        if not any(path.is_relative_to(seen) for seen in found):
            found = [seen for seen in found if not seen.is_relative_to(path)] + [path]
    return [p for p in found if not p.is_relative_to("/usr") and not p.is_relative_to("/etc")]


@dataclass
class Descriptors:
    """The host file descriptors one bubblewrap command line names (all passed to bwrap, closed by `close()`).

    files: sandbox path -> memfd copied into the scratch; overlays: /etc file -> memfd written into its /etc;
    seccomp: the syscall filter's BPF program (-1: none, see CONFINED)."""

    files: dict[str, int]
    overlays: dict[str, int]
    seccomp: int

    @classmethod
    def open(cls, files: dict[str, bytes]) -> "Descriptors":
        overlays = {path: _memory_file(content) for path, content in confine.identity_files(SCRATCH).items()}
        return cls({path: _memory_file(content) for path, content in files.items()}, overlays,
                   _memory_file(confine.syscall_filter()) if CONFINED else -1)

    def all(self) -> list[int]:
        return [*self.files.values(), *self.overlays.values(), *([self.seccomp] if self.seccomp >= 0 else [])]

    def close(self) -> None:
        for fd in self.all():
            try:
                os.close(fd)
            except OSError:
                pass


def bwrap_argv(limits: Limits, hidden: list[Path], fds: Descriptors, userns_block: int | None = None) -> list[str]:
    """The bubblewrap command line up to the command.

    userns_block: for a root grader, the descriptor bwrap waits on until the grader has written the user
    namespace's uid map (see `Sandbox._map_user`); the runner then drops to the sandbox uid itself."""
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
            "--hostname", confine.HOSTNAME, *(["--seccomp", str(fds.seccomp)] if fds.seccomp >= 0 else []),
            "--ro-bind", "/usr", "/usr", *_etc_argv(fds.overlays)]
    if userns_block is None:  # bwrap maps its own uid to the inside uid
        argv += ["--uid", str(confine.INSIDE_UID), "--gid", str(confine.INSIDE_UID)]
        argv += ["--disable-userns"] if _bwrap_supports("--disable-userns") else []  # bubblewrap 0.8 and later
    else:  # the filter refuses new user namespaces; the runner needs these two capabilities to drop its uid
        argv += ["--userns-block-fd", str(userns_block), "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    size = (lambda n: ["--size", str(n)]) if _bwrap_supports("--size") else (lambda n: [])  # 0.7 and later
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), str(host)]
    visible = visible_paths()
    in_tmp = any(path.is_relative_to("/tmp") for path in visible)  # e.g. the course cloned into /tmp
    if in_tmp:  # then /tmp holds read-only folders, so it is the scratch tmpfs itself and /scratch points to it
        argv += [*size(limits.disk), "--tmpfs", "/tmp"]
    parents = sorted({str(parent) for path in visible for parent in path.parents if parent != Path("/")})
    for parent in parents:  # made 0755 and traversable by the sandbox's uid (bubblewrap might make them 0700)
        argv += ["--dir", parent]
    for path in visible:
        argv += ["--ro-bind", str(path), str(path)]
    for path in (p.resolve() for p in hidden):
        if any(path.is_relative_to(v) for v in visible + [Path("/usr"), Path("/etc")]) and path.exists():
            argv += ["--tmpfs", str(path), "--remount-ro", str(path)] if path.is_dir() else \
                ["--ro-bind", "/dev/null", str(path)]
    argv += ["--proc", "/proc", "--dev", "/dev", *size(64 * MiB), "--tmpfs", "/dev/shm"]
    argv += ["--symlink", "/tmp", "/scratch", "--dir", "/tmp/tmp"] if in_tmp else \
        [*size(limits.disk), "--tmpfs", "/scratch", "--dir", "/scratch/tmp", "--symlink", "/scratch/tmp", "/tmp"]
    argv += ["--chdir", "/scratch"]
    for path, fd in fds.files.items():  # bubblewrap does not follow the /scratch link when it makes a file's folders
        argv += ["--file", str(fd), "/tmp" + path.removeprefix("/scratch") if in_tmp else path]
    return argv + ["--remount-ro", "/dev", "--remount-ro", "/"]


def _etc_argv(identity: dict[str, int]) -> list[str]:
    """/etc as a folder of the sandbox's own: the host's entries bound one by one, without the account, password,
    sudo and SSH files, and `identity` (/etc path -> memfd) written into it.

    Binding the host's whole /etc and laying files over it is not enough: when the host replaces a file (useradd
    renames a new /etc/passwd over the old one), the kernel detaches every mount on the old file, in every
    namespace, and the sandbox would see the host's new file. A host file replaced here leaves an empty one."""
    argv = ["--dir", "/etc"]
    with os.scandir("/etc") as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.rstrip("-+~") in ACCOUNT_FILES or entry.name in HIDDEN_ETC or entry.path in identity:
                continue
            argv += ["--symlink", os.readlink(entry.path), entry.path] if entry.is_symlink() else \
                ["--ro-bind-try", entry.path, entry.path]  # -try: the host may remove it meanwhile
    for name in MASKED_ETC:
        if (Path("/etc") / name).is_dir():
            argv += ["--tmpfs", f"/etc/{name}", "--remount-ro", f"/etc/{name}"]
    for path, fd in identity.items():  # the user, group and host name it sees
        argv += ["--perms", "0644", "--ro-bind-data", str(fd), path]
    return argv


def runner_env(limits: Limits, fast: bool, scratch: str) -> dict[str, str]:
    """The environment inside: nothing of the grader's but what the course needs."""
    from course_lib import pretrained

    threads = str(max(1, limits.threads))
    env = {"PATH": f"{Path(python_inside()).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": scratch,
           "TMPDIR": f"{scratch}/tmp", "IPYTHONDIR": f"{scratch}/.ipython", "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(checks.__file__).parent.parent), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "COURSE_FAST": "1" if fast else "0",
           "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    data_dir = _data_dir()
    if data_dir is not None:
        env["COURSE_DATA_DIR"] = str(data_dir)
    checkpoints = pretrained.find_checkpoints()
    if checkpoints is not None:  # the grader's checkpoints, wherever it found them
        env[pretrained.ENV] = str(checkpoints)
    return env


def _data_dir() -> Path | None:
    """The grader's data folder, which the sandbox reads: $COURSE_DATA_DIR, else the per-user cache if it exists."""
    from course_lib import data

    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    return data.cache_dir() if data.cache_dir().is_dir() else None


def check_available() -> None:
    """Raise SandboxUnavailable, saying how to get one, unless a bubblewrap sandbox starts here."""
    if sys.platform != "linux":
        raise SandboxUnavailable(INSTALL_HELP.format(why=f"this is {sys.platform}, and bubblewrap needs Linux"))
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(INSTALL_HELP.format(why="the program bwrap is not installed"))
    if _is_root() and CONFINED:  # the uid drop needs the grader's side too: start a whole sandbox
        _check_readable()
        try:
            with Sandbox(Limits(), start_timeout=120):
                return
        except (SandboxStopped, OSError, RuntimeError, ImportError) as err:
            raise SandboxUnavailable(INSTALL_HELP.format(why=f"{type(err).__name__}: {err}")) from None
    try:
        fds = Descriptors.open({})
    except (OSError, ImportError) as err:
        raise SandboxUnavailable(INSTALL_HELP.format(why=f"{type(err).__name__}: {err}")) from None
    try:
        argv = bwrap_argv(Limits(), [], fds) + [python_inside(), "-c", "pass"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, pass_fds=fds.all())
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SandboxUnavailable(INSTALL_HELP.format(why=f"bwrap failed: {err}")) from None
    finally:
        fds.close()
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[:300] or f"exit status {done.returncode}"
        raise SandboxUnavailable(INSTALL_HELP.format(why=f"bwrap says: {why}"))


UNREADABLE = """\
A root grader's sandboxes run as uids of their own ({UID_ENV}, from {base}), which read the folders
below as any other user would, and cannot read all that they need:
{problems}
Make it readable by others: chmod -R o+rX {folders}
(the course, Python and public data hold nothing secret). Or grade as an ordinary user who can read them (not
root): its sandboxes then run as that user. For the data folder you may instead set COURSE_DATA_DIR to a
readable copy."""


def _check_readable() -> None:
    """Raise SandboxUnavailable, naming each folder and the fix, if a root grader's sandbox uid cannot read what it
    needs: Python's folders themselves, and everything in the course package, the checkpoints and the data."""
    python = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages())}
    problems = {}
    for path in visible_paths():
        found = confine.first_unreadable(path, walk=path not in python)
        if found is not None:
            first, count = found
            problems[path] = (f"  {path}: {count} entr{'y' if count == 1 else 'ies'} others may not read, e.g. "
                              f"{first} (mode {first.lstat().st_mode & 0o777:04o})")
    if problems:
        raise SandboxUnavailable(UNREADABLE.format(
            UID_ENV=confine.UID_ENV, base=os.environ.get(confine.UID_ENV, confine.DEFAULT_UID),
            problems="\n".join(problems.values()), folders=" ".join(shlex.quote(str(p)) for p in problems)))


class Cgroup:
    """A cgroup (v1 or v2) with a memory and a process cap for one sandbox, where this user may create one."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.dirs: list[Path] = []
        own = dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())
        root = Path("/sys/fs/cgroup")
        try:
            if "" in own and (root / "cgroup.controllers").exists():  # v2, with memory and pids delegated to us
                parent = root / own[""].lstrip("/")
                if {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                    self._make(parent / name, {"memory.max": limits.memory, "memory.swap.max": 0,
                                               "pids.max": limits.processes})
            elif "memory" in own and "pids" in own:  # v1: one hierarchy per controller
                self._make(root / "memory" / own["memory"].lstrip("/") / name,
                           {"memory.limit_in_bytes": limits.memory})
                self._make(root / "pids" / own["pids"].lstrip("/") / name, {"pids.max": limits.processes})
        except OSError:
            self.remove()
            self.dirs = []

    def _make(self, path: Path, settings: dict[str, int]) -> None:
        _remove_stale(path.parent)
        path.mkdir()
        self.dirs.append(path)
        for key, value in settings.items():
            if (path / key).exists():
                (path / key).write_text(str(value))

    def add(self, pid: int) -> None:
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        return [int(p) for path in self.dirs for p in (path / "cgroup.procs").read_text().split()]

    def remove(self) -> None:
        for path in self.dirs:
            for _ in range(200):  # the kernel empties it a moment after the last process is reaped
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups `course-grade-<pid>-*` that a grader left behind when it was killed (its pid is
    gone); a cgroup that still holds processes cannot be removed and stays."""
    for path in parent.glob("course-grade-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                path.rmdir()
            except OSError:
                pass


class Sandbox:
    """One submission's runner, in bubblewrap (or, with sandbox=False, as a plain process group).

    Use as a context manager: entering starts it and waits until it is ready, leaving kills every process in it.
    hidden: host paths that must stay invisible even where they lie inside a folder the sandbox sees;
    notebook: copied into the scratch folder.
    """

    def __init__(self, limits: Limits, *, fast: bool = True, hidden: list[Path] = (), notebook: Path | None = None,
                 sandbox: bool = True, start_timeout: float = 120) -> None:
        self.limits, self.fast, self.hidden, self.notebook = limits, fast, list(hidden), notebook
        self.sandbox, self.start_timeout = sandbox, start_timeout
        self.process: subprocess.Popen | None = None
        self.init_pid = self.runner_pid = 0
        self.info: dict = {}  # what bubblewrap says about the sandbox: its first process, its namespaces
        self.cgroup: Cgroup | None = None
        self.user: confine.SandboxUser | None = None  # a root grader's sandbox runs as this uid
        self._userns = -1  # a root grader's end of bwrap's --userns-block-fd
        self._next_id, self._buffer, self._scratch = 0, b"", None
        self._received = self._skip = 0  # bytes read from the sandbox in all; bytes of a stale frame still to drop

    # ---- starting and stopping ----

    def __enter__(self) -> "Sandbox":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        requests_r, self._requests = os.pipe()
        self._replies, replies_w = os.pipe()
        passed = [requests_r, replies_w]
        try:
            argv, env, cwd = (self._bwrap if self.sandbox else self._plain)(requests_r, replies_w, passed)
            self.process = subprocess.Popen(
                argv, pass_fds=passed, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE if self.sandbox else subprocess.DEVNULL, env=env, cwd=cwd,
                start_new_session=not self.sandbox)
        finally:
            for fd in passed:
                os.close(fd)
        if self.sandbox:
            self._admit()
        else:
            self.init_pid = self.runner_pid = self.process.pid
        try:
            message = self._read(time.monotonic() + self.start_timeout, 0)
        except SandboxStopped:
            message = None
            self.process.wait(timeout=30)
        if message is None or message.get("op") != "ready":
            raise SandboxStopped(self._why_not_ready())
        if self.sandbox:
            self.runner_pid = _first_child(self.init_pid)

    def _runner_argv(self, requests: int, replies: int) -> list[str]:
        uid = self.user.uid if self.user else os.getuid() if hasattr(os, "getuid") else 0
        processes = 0 if uid == 0 else _own_processes(uid) + self.limits.processes
        drop = ["--drop-to", str(confine.INSIDE_UID)] if self.user is not None else []
        return [python_inside(), "-m", "course_lib.grading.runner", *drop, "--requests", str(requests),
                "--replies", str(replies),
                "--reply-limit", str(self.limits.reply), "--memory", str(self.limits.memory),
                "--disk", str(self.limits.disk), "--processes", str(processes),
                "--address-space", str(self.limits.memory + ADDRESS_SLACK)]

    def _plain(self, requests: int, replies: int, passed: list[int]) -> tuple[list[str], dict, Path]:
        """--no-sandbox: the runner in a scratch folder of its own, with the same limits and environment."""
        import tempfile

        self._scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
        (self._scratch / "tmp").mkdir()
        if self.notebook:
            shutil.copyfile(self.notebook, self._scratch / self.notebook.name)
        return (self._runner_argv(requests, replies), runner_env(self.limits, self.fast, str(self._scratch)),
                self._scratch)

    def _bwrap(self, requests: int, replies: int, passed: list[int]) -> tuple[list[str], None, str]:
        files = {f"{SCRATCH}/.cache/matplotlib/{path.name}": path for path in _font_lists()}
        if self.notebook:
            files[f"{SCRATCH}/{self.notebook.name}"] = self.notebook
        fds = Descriptors.open({inside: path.read_bytes() for inside, path in files.items()})  # no host file inside
        passed += fds.all()
        userns_r = None
        if _is_root() and CONFINED:  # never run submitted code as host root: the runner drops to a uid of its own
            self.user = confine.SandboxUser()
            userns_r, self._userns = os.pipe()
            passed.append(userns_r)
        self._info, info_w = os.pipe()
        block_r, self._block = os.pipe()
        argv = bwrap_argv(self.limits, self.hidden, fds, userns_r) + ["--info-fd", str(info_w),
                                                                       "--block-fd", str(block_r)]
        argv += ["--clearenv"] + [a for k, v in runner_env(self.limits, self.fast, SCRATCH).items()
                                  for a in ("--setenv", k, v)]
        options = _memory_file(b"".join(a.encode() + b"\0" for a in argv[1:]))  # kept off its /proc/1/cmdline
        passed += [info_w, block_r, options]
        return ["bwrap", "--args", str(options), "--", *self._runner_argv(requests, replies)], None, "/"

    def _admit(self) -> None:
        """Learn the sandbox's first process from bwrap, put it in a fresh cgroup, then let the sandbox go on."""
        info = b""
        with os.fdopen(self._info, "rb", buffering=0) as stream:
            while not self.init_pid and (chunk := stream.read(4096)):
                info += chunk
                try:
                    self.info = json.loads(info)
                    self.init_pid = int(self.info["child-pid"])
                except (ValueError, KeyError):
                    continue
        try:
            if not self.init_pid:
                raise OSError("bwrap said nothing")
            if self.user is not None:
                self._map_user()
            self.cgroup = Cgroup(f"course-grade-{os.getpid()}-{self.init_pid}", self.limits)
            try:
                self.cgroup.add(self.init_pid)
            except OSError:
                self.cgroup.remove()
                self.cgroup = None
            os.write(self._block, b"go")
        except OSError:  # bwrap has already given up
            self.process.wait(timeout=30)
            raise SandboxStopped(self._why_not_ready()) from None
        finally:
            os.close(self._block)

    def _map_user(self) -> None:
        """A root grader's sandbox: map the inside uid and gid to the sandbox's host uid (and 0 to 0 for bubblewrap's
        own setup, which the runner leaves before any submitted code runs), then let bubblewrap go on."""
        try:
            for name in ("uid_map", "gid_map"):
                Path(f"/proc/{self.init_pid}/{name}").write_text(f"0 0 1\n{confine.INSIDE_UID} {self.user.uid} 1\n")
            os.write(self._userns, b"x")
        finally:
            os.close(self._userns)
            self._userns = -1

    def _why_not_ready(self) -> str:
        if self.process is not None and self.process.poll() is not None and self.process.stderr is not None:
            said = " ".join(self.process.stderr.read(2000).decode(errors="replace").split())
            return f"the sandbox did not start ({said or 'exit status ' + str(self.process.returncode)})"
        return "the runner did not become ready"

    def kill(self) -> None:
        """Kill every process of the sandbox now; safe from any thread (`close` then cleans up)."""
        process = self.process
        if process is not None:
            if self.init_pid:
                _kill(self.init_pid if self.sandbox else -self.init_pid)
            _kill(process.pid)

    def close(self) -> None:
        """Kill every process of the sandbox and wait for it; idempotent."""
        if self.process is None:
            self._release_user()
            return
        self.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if self.process.stderr is not None:
            self.process.stderr.close()
        for fd in (self._requests, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.cgroup is not None:
            for pid in self.cgroup.pids():  # none: the namespace's processes died with its first one
                _kill(pid)
            self.cgroup.remove()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        self.process = None
        self._release_user()

    def _release_user(self) -> None:
        if self.user is not None:  # its processes are all gone: the next sandbox may have its uid
            self.user.release()
            self.user = None

    # ---- talking to the runner ----

    def request(self, message: dict, timeout: float) -> dict | None:
        """Send `message`, return the runner's reply, or None if none came within `timeout` seconds.

        Raises SandboxStopped if the runner ended or broke the protocol. Replies to earlier requests (which had
        timed out) are skipped.
        """
        if not (_running(self.runner_pid) if self.sandbox else self.process.poll() is None):  # not a child it forked
            raise SandboxStopped(DIED)
        self._next_id += 1
        payload = checks.encode(message)
        deadline = time.monotonic() + timeout
        self._send(FRAME.pack(len(payload), self._next_id) + payload, deadline)
        return self.wait(deadline - time.monotonic())

    def _send(self, data: bytes, deadline: float) -> None:
        """Write a whole frame, or raise SandboxStopped: a runner that stops reading must not block the grader."""
        view = memoryview(data)
        os.set_blocking(self._requests, False)
        with selectors.DefaultSelector() as selector:
            selector.register(self._requests, selectors.EVENT_WRITE)
            while view:
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise SandboxStopped("the kernel stopped reading the grader's requests")
                try:
                    view = view[os.write(self._requests, view):]
                except BlockingIOError:
                    continue
                except OSError:
                    raise SandboxStopped(DIED) from None

    def wait(self, timeout: float) -> dict | None:
        """The reply to the last request, waiting at most `timeout` seconds; None if it did not come."""
        return self._read(time.monotonic() + timeout, self._next_id)

    def interrupt(self) -> None:
        """Ask the runner to stop what it is doing (SIGINT, like Jupyter's interrupt button)."""
        if self.runner_pid:
            _kill(self.runner_pid, signal.SIGINT)

    def _read(self, deadline: float, awaited: int) -> dict | None:
        """The message of the next frame with id `awaited`, or None at the deadline; SandboxStopped on EOF, a bad
        frame, or more bytes in all than limits.channel. Frames of other ids (replies to requests that timed out,
        or forged ones) are dropped unread."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._replies, selectors.EVENT_READ)
            while True:
                if self._skip:
                    dropped = min(self._skip, len(self._buffer))
                    self._buffer, self._skip = self._buffer[dropped:], self._skip - dropped
                if not self._skip and len(self._buffer) >= FRAME.size:
                    size, request_id = FRAME.unpack(self._buffer[:FRAME.size])
                    if size > self.limits.reply:
                        raise SandboxStopped(f"the sandbox sent a message of {size:,} bytes, more than the limit "
                                             f"of {self.limits.reply:,}")
                    if request_id != awaited:
                        self._buffer, self._skip = self._buffer[FRAME.size:], size
                        continue
                    if len(self._buffer) >= FRAME.size + size:
                        payload = self._buffer[FRAME.size:FRAME.size + size]
                        self._buffer = self._buffer[FRAME.size + size:]
                        try:
                            message = checks.decode(payload, limit=self.limits.reply)
                        except checks.ChannelError as err:
                            raise SandboxStopped(f"the sandbox sent an unreadable message ({err})") from None
                        if not isinstance(message, dict):
                            raise SandboxStopped("the sandbox sent a message that is not a record")
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise SandboxStopped(DIED)
                self._received += len(chunk)
                if self._received > self.limits.channel:
                    raise SandboxStopped(f"the sandbox sent more than {self.limits.channel // MiB} MiB to the grader "
                                         "in all (a flood of replies), and its grading stopped")
                self._buffer += chunk


@functools.lru_cache(maxsize=None)
def _bwrap_supports(option: str) -> bool:
    try:
        return option in subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def _first_child(pid: int) -> int:
    """The host pid of process `pid`'s child (the runner, the only child of the sandbox's first process)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                return int(entry.name)
        except (OSError, IndexError, ValueError):
            continue
    raise SandboxStopped("the runner's process could not be found")


def _running(pid: int) -> bool:
    """Whether process `pid` (Linux) exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _is_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def _own_processes(uid: int) -> int:
    """How many processes and threads `uid` runs now (RLIMIT_NPROC counts them all, on the whole machine)."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(entry / "task"))
        except OSError:
            continue
    return count


def _memory_file(content: bytes) -> int:
    """A file descriptor of an anonymous in-memory file holding `content` (reopening it reaches only the copy)."""
    fd = os.memfd_create("course-grade")
    with open(fd, "wb", closefd=False) as handle:
        handle.write(content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _font_lists() -> list[Path]:
    """Matplotlib's font cache of this user, copied into each sandbox so that it is not rebuilt every time."""
    try:
        import matplotlib
        return sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    except Exception:
        return []
