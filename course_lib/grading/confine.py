"""What a grading sandbox may not do or see beyond bubblewrap's namespaces: a syscall filter, its own uid, its own name.

- `syscall_filter()`: a seccomp filter modelled on Flatpak's (flatpak-run.c, `setup_seccomp`). The kernel's keyrings,
  its sysctls and several other interfaces are not namespaced, so a sandbox could otherwise leave something there for
  a submission graded later, or reach the host. Refused calls fail with EPERM (ENOSYS where a fallback exists:
  clone3 makes glibc fall back to clone, whose flags the filter can see).
- `SandboxUser`: when the grader runs as root, bubblewrap starts as an unprivileged uid of its own instead, so that
  no submitted code runs as host root (uid 0 inside a root-made user namespace is host root: it may write /proc/sys).
  Each sandbox running at once gets its own uid from a range, COURSE_SANDBOX_UID (default 1900000000) and up:
  RLIMIT_NPROC counts processes per uid, and sandboxes of one uid would share that count. The uids must belong to no
  account and own no file; a uid that has an account is skipped.
  Those uids read the folders the sandbox sees as "others": `first_unreadable()` finds what they may not read.
- `identity_files()`: what the sandbox sees of users and of the machine: a user `learner` (uid 1000) and a host
  called `sandbox`, whatever the grader's user and host are.
"""
from __future__ import annotations

import errno
import fcntl
import functools
import itertools
import os
import pwd
import stat
import tempfile
from pathlib import Path

UID_ENV = "COURSE_SANDBOX_UID"
DEFAULT_UID = 1_900_000_000  # in 1879048192..2147352575, a range systemd and the subuid defaults leave unused
UID_SLOTS = 1024
INSIDE_UID = 1000
HOSTNAME = "sandbox"

# (syscall, errno) refused outright
REFUSED = [
    *((name, errno.EPERM) for name in (
        "add_key", "keyctl", "request_key",  # the kernel's keyrings are shared by every sandbox and the host
        "ptrace", "perf_event_open", "process_vm_readv", "process_vm_writev",
        "syslog", "uselib", "acct", "quotactl", "swapon", "swapoff", "reboot", "vhangup",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "bpf", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "fanotify_init", "lookup_dcookie",
        "move_pages", "mbind", "get_mempolicy", "set_mempolicy", "migrate_pages",  # NUMA ops, as Flatpak
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm")),
    *((name, errno.ENOSYS) for name in (
        "clone3",  # its flags lie in memory that seccomp cannot read; glibc falls back to clone
        "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        "io_uring_setup", "io_uring_enter", "io_uring_register")),
]
CLONE_NEWUSER = 0x10000000
TIOCSTI, TIOCLINUX = 0x5412, 0x541C  # faking terminal input (CVE-2017-5226, CVE-2023-28100)
SOCKET_FAMILIES = {1, 2, 10, 16}  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK; the others fail with EAFNOSUPPORT
AF_MAX = 46


@functools.lru_cache(maxsize=1)
def syscall_filter() -> bytes:
    """The filter as a BPF program, the form bubblewrap's --seccomp reads (libseccomp writes it)."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name, code in REFUSED:
        try:
            rules.add_rule(seccomp.ERRNO(code), name)
        except (OSError, ValueError, RuntimeError):  # a call this architecture does not have (e.g. umount)
            continue
    eperm = seccomp.ERRNO(errno.EPERM)
    rules.add_rule(eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    rules.add_rule(eperm, "personality", seccomp.Arg(0, seccomp.NE, 0))  # only the default, PER_LINUX
    for request in (TIOCSTI, TIOCLINUX):
        rules.add_rule(eperm, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    unsupported = seccomp.ERRNO(errno.EAFNOSUPPORT)
    for family in sorted(set(range(AF_MAX)) - SOCKET_FAMILIES):
        rules.add_rule(unsupported, "socket", seccomp.Arg(0, seccomp.EQ, family))
    rules.add_rule(unsupported, "socket", seccomp.Arg(0, seccomp.GE, AF_MAX))
    with tempfile.TemporaryFile() as handle:  # export_bpf wants a file object
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


class SandboxUser:
    """An unprivileged uid for one sandbox of a root grader, held (by a lock file) until `release()`.

    Raises RuntimeError, saying what to do, if every uid of the range is taken or has an account.
    """

    def __init__(self) -> None:
        base = int(os.environ.get(UID_ENV, DEFAULT_UID))
        if not 65536 <= base <= 2**31 - UID_SLOTS:
            raise RuntimeError(f"{UID_ENV}={base} is not a uid between 65536 and {2**31 - UID_SLOTS}")
        folder = Path("/run/course-grade") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir(), "course-grade")
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.geteuid():
            raise RuntimeError(f"{folder} belongs to someone else; remove it")
        for uid in range(base, base + UID_SLOTS):
            if _has_account(uid):
                continue
            lock = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(lock)
                continue
            self.uid, self._lock = uid, lock
            return
        raise RuntimeError(f"no free sandbox uid in {base}..{base + UID_SLOTS - 1}; set {UID_ENV} to the first of "
                           f"{UID_SLOTS} uids that no account uses")

    def release(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def first_unreadable(folder: Path, *, walk: bool, limit: int = 100_000) -> tuple[Path, int] | None:
    """The first entry that a sandbox uid (neither its owner nor in its group) may not read, and how many such
    entries there are, or None: `folder` itself and, with `walk`, what lies below it (its first `limit` entries).
    A folder needs read and search permission for others (o+rx), anything else read permission (o+r); links are
    not followed. ACLs are not read: an entry that only an ACL opens counts as unreadable."""
    first, count = None, 0
    for path in itertools.chain([folder], itertools.islice(_below(folder), limit) if walk else []):
        mode = os.lstat(path).st_mode
        needed = 0o005 if stat.S_ISDIR(mode) else 0o004
        if not stat.S_ISLNK(mode) and mode & needed != needed:
            first, count = first or path, count + 1
    return (first, count) if first else None


def _below(folder: Path):
    for parent, folders, names in os.walk(folder):
        for name in folders + names:
            yield Path(parent, name)


def identity_files(home: str) -> dict[str, bytes]:
    """Files written into the sandbox's own /etc: one user and group `learner` with home `home`, nobody, the host
    name."""
    return {
        "/etc/passwd": f"learner:x:{INSIDE_UID}:{INSIDE_UID}:learner:{home}:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".encode(),
        "/etc/group": f"learner:x:{INSIDE_UID}:\nnogroup:x:65534:\n".encode(),
        "/etc/hostname": f"{HOSTNAME}\n".encode(),
        "/etc/hosts": f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n".encode(),
        "/etc/machine-id": b"",
        "/etc/mailname": f"{HOSTNAME}\n".encode(),
    }
