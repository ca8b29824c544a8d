"""Collect notebooks from learners' home folders on a one-server JupyterHub, and return their feedback there.

    sudo python -m course_lib.grading.hub collect exercises/00_warmup.ipynb submitted/
    python -m course_lib.grading submitted/ --out grades/
    sudo python -m course_lib.grading.hub return grades/feedback/ --name 00_warmup.md

`collect` copies ~LEARNER/course-students/exercises/00_warmup.ipynb to submitted/LEARNER/00_warmup.ipynb for every
member of the Unix group `learners` (--group, --folder change them), the layout the grader reads. `return` writes
grades/feedback/LEARNER.md to ~LEARNER/feedback/00_warmup.md. Learners without the file are listed, not an error.

Every file in a learner's home is read and written by a child process running as that learner (root only
forks it): it can touch nothing the learner could not, and what it creates belongs to the learner. Symbolic links
are refused on the whole path below the home folder (a learner could point one at another learner's work), and
so is anything that is not a plain file. Exit status 1 when some learner's file was refused.
"""
from __future__ import annotations

import argparse
import errno
import grp
import os
import pwd
import stat
import sys
from pathlib import Path, PurePosixPath
from typing import Callable

from course_lib.grading.ingest import safe_key

MAX_NOTEBOOK = 64 * 2**20  # bytes: a larger file is refused, not copied


class Refused(Exception):
    """A learner's path is a link, not a plain file, or too large."""


def learners(group: str) -> list[pwd.struct_passwd]:
    """The members of Unix group `group` (listed in /etc/group, or having it as their primary group), by name."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        raise SystemExit(f"There is no Unix group {group!r}: name the learners' group with --group.") from None
    members = {p.pw_name: p for p in pwd.getpwall() if p.pw_gid == entry.gr_gid}
    for name in entry.gr_mem:
        try:
            members[name] = pwd.getpwnam(name)
        except KeyError:
            pass  # a stale member line names a deleted user
    return [members[name] for name in sorted(members)]


def collect(notebook: PurePosixPath, out: Path, group: str = "learners",
            folder: str = "course-students") -> dict[str, list[str]]:
    """Copy ~LEARNER/`folder`/`notebook` to `out`/LEARNER/<name> for each learner; {"collected", "missing",
    "refused"}: learner names (refused ones with the reason)."""
    relative = PurePosixPath(folder) / notebook
    done: dict[str, list[str]] = {"collected": [], "missing": [], "refused": []}
    for user in learners(group):
        try:
            data = _as_learner(user, lambda: _read_beneath(user.pw_dir, relative))
        except FileNotFoundError:
            done["missing"].append(user.pw_name)
            continue
        except (Refused, OSError) as err:  # what one learner did to their files must not stop the others
            done["refused"].append(f"{user.pw_name}: {err}")
            continue
        target = out / user.pw_name / notebook.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        done["collected"].append(user.pw_name)
    return done


def give_back(feedback: Path, name: str, group: str = "learners") -> dict[str, list[str]]:
    """Write `feedback`/LEARNER.md to ~LEARNER/feedback/`name` for each learner; {"returned", "missing",
    "refused"}: learner names (refused ones with the reason)."""
    if "/" in name or name in ("", ".", ".."):
        raise SystemExit(f"--name {name!r}: give a file name such as 00_warmup.md, not a path.")
    done: dict[str, list[str]] = {"returned": [], "missing": [], "refused": []}
    for user in learners(group):
        source = feedback / f"{safe_key(user.pw_name)}.md"  # the grader names feedback by the student's key
        if not source.is_file():
            done["missing"].append(user.pw_name)
            continue
        text = source.read_bytes()
        try:
            _as_learner(user, lambda: _write_beneath(user.pw_dir, PurePosixPath("feedback") / name, text))
        except (Refused, OSError) as err:
            done["refused"].append(f"{user.pw_name}: {err}")
            continue
        done["returned"].append(user.pw_name)
    return done


def _open_folder(home: str, parts: tuple[str, ...], create: bool = False) -> int:
    """A descriptor of home/parts..., each part opened without following a link (created 0700 if `create`)."""
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or a file
                    raise Refused(f"{part} in its path is a link or not a folder") from None
                raise
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_beneath(home: str, relative: PurePosixPath, flags: int, create: bool = False) -> int:
    """A descriptor of home/relative, no component of which may be a link (Refused if one is)."""
    folder = _open_folder(home, relative.parts[:-1], create=create)
    try:
        return os.open(relative.name, flags | os.O_NOFOLLOW, 0o600, dir_fd=folder)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise Refused(f"{relative} is a link") from None
        raise
    finally:
        os.close(folder)


def _read_beneath(home: str, relative: PurePosixPath) -> bytes:
    with os.fdopen(_open_beneath(home, relative, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{relative} is not a plain file")
        if info.st_size > MAX_NOTEBOOK:
            raise Refused(f"{relative} is larger than {MAX_NOTEBOOK // 2**20} MB")
        return file.read(MAX_NOTEBOOK + 1)


def _write_beneath(home: str, relative: PurePosixPath, data: bytes) -> bytes:
    with os.fdopen(_open_beneath(home, relative, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK,
                                 create=True), "wb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise Refused(f"{relative} is not a plain file")
        file.write(data)
    return b""


def _as_learner(user: pwd.struct_passwd, work: Callable[[], bytes]) -> bytes:
    """work() in a forked child running as `user` (no other groups); what it returned, or its error raised here."""
    if os.geteuid() != 0:
        raise SystemExit("Run this as root (sudo): it reads and writes in each learner's home folder as that learner.")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the learner, do the work, send back b"ok" + data or b"<error kind>" + text
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            reply = b"ok\n" + work()
        except Refused as err:
            reply = b"refused\n" + str(err).encode()
        except FileNotFoundError as err:
            reply = b"missing\n" + str(err).encode()
        except BaseException as err:  # noqa: BLE001 (reported in the parent, whatever it was)
            reply = b"error\n" + f"{type(err).__name__}: {err}".encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(reply)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reply = pipe.read()
    os.waitpid(pid, 0)
    kind, _, body = reply.partition(b"\n")
    if kind == b"ok":
        return body
    if kind == b"refused":
        raise Refused(body.decode(errors="replace"))
    if kind == b"missing":
        raise FileNotFoundError(body.decode(errors="replace"))
    raise OSError(f"working in {user.pw_dir} as {user.pw_name} failed: {body.decode(errors='replace') or 'no reply'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.hub", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("collect", help="copy each learner's notebook into OUT/LEARNER/")
    take.add_argument("notebook", type=PurePosixPath, help="its path in the learner repository, "
                                                           "e.g. exercises/00_warmup.ipynb")
    take.add_argument("out", type=Path, help="the submissions folder the grader reads")
    take.add_argument("--folder", default="course-students", help="the learner repository's folder in each home")
    back = commands.add_parser("return", help="write FEEDBACK/LEARNER.md to ~LEARNER/feedback/NAME")
    back.add_argument("feedback", type=Path, help="the grader's feedback folder (OUT/feedback)")
    back.add_argument("--name", required=True, help="the file name in ~/feedback/, e.g. 00_warmup.md")
    for command in (take, back):
        command.add_argument("--group", default="learners", help="the learners' Unix group (default: learners)")
    args = parser.parse_args(argv)
    if args.command == "collect":
        if args.notebook.is_absolute() or ".." in args.notebook.parts:
            parser.error(f"{args.notebook}: give the notebook's path inside the learner repository")
        done = collect(args.notebook, args.out, args.group, args.folder)
    else:
        done = give_back(args.feedback, args.name, args.group)
    for what, names in done.items():
        print(f"{what} ({len(names)}): " + ("; ".join(names) or "-"))
    return 1 if done["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
