"""The program that runs inside a grading sandbox: the submission's cells, and calls of its answers.

    python -m course_lib.grading.runner --requests FD --replies FD --memory BYTES --disk BYTES [--processes N] [...]

The grader starts it (under bubblewrap, see course_lib.grading.sandbox) with two pipes, one for requests, one for replies.
It first lowers its own resource limits (they bind everything it starts) and points stdin, stdout and stderr at
/dev/null (nothing a notebook prints reaches the grader), then says it is ready and serves requests one at a time:

    {"op": "read", "file": ..., "seconds": ...}  -> {"cells": [{"source", "names", "library", "definitions"}, ...]} or {"error": ...}
    {"op": "run", "source": ...}                 -> {"error": None or {"type": ..., "message": ...}}
    {"op": "lookup", "names": [...]}             -> {"names": the ones defined in the notebook's namespace}
    {"op": "call", "name": ..., "args", "probe"} -> checks.perform's reply, or {"outcome": "missing"}

Everything here runs beside the submission's code, which can replace any of it: the grader trusts nothing this
program says beyond "this is what the answer returned", and checks that itself. The one exception is "read", the
grader's first request, answered before any submitted code has run: the notebook's code cells, parsed here (not
in the grader's process) under the sandbox's limits, within `seconds` (course_lib.grading.reading.parse_cells).
"""
from __future__ import annotations

import argparse
import os
import signal
import struct
import sys
from typing import Any

FRAME = struct.Struct(">II")  # payload length, request id


def write_frame(fd: int, request_id: int, payload: bytes) -> None:
    """Send one frame: its length, the id of the request it belongs to, the payload (a checks message)."""
    data = memoryview(FRAME.pack(len(payload), request_id) + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[int, bytes]:
    """The next frame from the grader, blocking: (request id, payload)."""
    size, request_id = FRAME.unpack(_read_exactly(fd, FRAME.size))
    return request_id, _read_exactly(fd, size)


def limit_resources(memory: int, disk: int, processes: int, address_space: int) -> None:
    """Lower this process's limits before any submitted code runs; whatever it starts inherits them."""
    try:
        import resource
    except ImportError:  # Windows, where only --no-sandbox runs: nothing is limited
        return
    limits = {resource.RLIMIT_DATA: memory, resource.RLIMIT_FSIZE: disk, resource.RLIMIT_CORE: 0}
    if processes:
        limits[resource.RLIMIT_NPROC] = processes
    if address_space:
        limits[resource.RLIMIT_AS] = address_space
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # a limit this system does not support (e.g. RLIMIT_AS on macOS)
            pass


def drop_to(uid: int, writable: list[str]) -> None:
    """Become `uid` (and the group of that number, no other groups) for good, with no capabilities left; exit if
    that did not happen. A root grader's sandbox starts the runner as the user namespace's root, mapped to host root
    only for bubblewrap's setup (see course_lib.grading.sandbox), so the `writable` folders that bubblewrap made
    (the scratch tmpfs, /dev/shm) are first given to `uid`."""
    for top in writable:
        device = os.stat(top).st_dev
        for folder, folders, names in os.walk(top):
            folders[:] = [name for name in folders if os.lstat(os.path.join(folder, name)).st_dev == device]
            for path in [folder, *(os.path.join(folder, name) for name in names)]:
                if os.lstat(path).st_dev == device:  # not the read-only folders bound inside it
                    os.lchown(path, uid, uid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    if os.getresuid() != (uid,) * 3 or any(int(status[k], 16) for k in ("CapEff", "CapPrm", "CapAmb")):
        sys.exit(f"the runner could not drop to uid {uid}")


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Shell(InteractiveShell):
        def ask_exit(self) -> None:  # `exit()` in a notebook asks the front end to close; there is none here
            pass

    config = Config()
    config.HistoryManager.enabled = False
    return Shell.instance(config=config)


def serve(requests: int, replies: int, reply_limit: int) -> None:
    """Answer the grader's requests until it closes the channel (or the sandbox is killed)."""
    from course_lib import checks

    busy = [False]

    def interrupt(signum: int, frame: Any) -> None:  # the grader's time limit: stop the cell, not the runner
        if busy[0]:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    shell = _shell()
    write_frame(replies, 0, checks.encode({"op": "ready"}))
    while True:
        try:
            request_id, payload = read_frame(requests)
        except EOFError:
            return
        request = checks.decode(payload)
        busy[0] = True
        try:
            if request["op"] == "read":
                reply = read_notebook(str(request["file"]), float(request["seconds"]))
            elif request["op"] == "run":
                result = shell.run_cell(request["source"], store_history=True)
                error = result.error_before_exec or result.error_in_exec
                reply = {"error": None if error is None else
                         {"type": type(error).__name__, "message": " ".join(str(error).split())[:300]}}
            elif request["op"] == "lookup":
                reply = {"names": [name for name in request["names"] if name in shell.user_ns]}
            elif request["name"] not in shell.user_ns:
                reply = {"outcome": "missing"}
            else:
                write_frame(replies, request_id, checks.perform(shell.user_ns[request["name"]], payload,
                                                                 reply_limit - 4096))
                continue
        except KeyboardInterrupt:
            reply = {"error": {"type": "KeyboardInterrupt", "message": ""}}
        finally:
            busy[0] = False
        write_frame(replies, request_id, checks.encode(reply))


def read_notebook(file: str, seconds: float) -> dict:
    """The "read" request: the notebook's code cells, each with the names it binds, what of course_lib they use
    and its defining statements."""
    from course_lib.grading import reading

    try:
        with open(file, "rb") as handle:
            sources = reading.code_cells(handle.read(reading.MAX_NOTEBOOK + 1))
    except (OSError, ValueError) as err:
        return {"error": str(err)}
    return {"cells": [{"source": cell.source, "names": sorted(cell.names), "library": cell.library,
                       "definitions": [[d.source, list(d.binds), list(d.uses)] for d in cell.definitions]}
                      for cell in reading.parse_cells(sources, seconds)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.runner", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, required=True, help="file descriptor the requests arrive on")
    parser.add_argument("--replies", type=int, required=True, help="file descriptor the replies leave by")
    parser.add_argument("--memory", type=int, required=True, help="bytes of private memory per process")
    parser.add_argument("--disk", type=int, required=True, help="bytes of the largest file it may write")
    parser.add_argument("--reply-limit", type=int, default=16 * 2**20, help="bytes of one reply (default 16 MiB)")
    parser.add_argument("--processes", type=int, default=0, help="RLIMIT_NPROC (0: leave it)")
    parser.add_argument("--address-space", type=int, default=0, help="RLIMIT_AS (0: leave it)")
    parser.add_argument("--drop-to", type=int, default=None, help="become this uid first (a root grader's sandbox)")
    args = parser.parse_args(argv)
    if args.drop_to is not None:
        drop_to(args.drop_to, [os.path.realpath(os.environ.get("HOME", "/scratch")), "/dev/shm"])
    limit_resources(args.memory, args.disk, args.processes, args.address_space)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    serve(args.requests, args.replies, args.reply_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
