"""Downloading one file over HTTP(S) so that nothing half-written ever carries its name.

`fetch` streams into `<path>.part` with a progress bar, resumes after a cut connection or a server error (HTTP
Range: up to RETRIES tries, and the kept .part lets a later call resume too), refuses web pages and error answers with a message that
names the URL, checks the size and sha256 where they are known plus any check of the content the caller gives,
and only then renames the file into place. `lock` keeps two processes from downloading into one folder at once.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tqdm.auto import tqdm

from course_lib.data import CorruptDataError, DataNotFoundError

if os.name == "nt":
    import msvcrt
else:
    import fcntl

CHUNK = 1 << 20  # bytes read per step
TIMEOUT = 60  # seconds without an answer before the connection counts as cut
RETRIES = 3  # tries per call when the connection is cut; each resumes where the last one stopped
USER_AGENT = "course_lib (generative-modelling course)"


@contextmanager
def lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold `folder`/.download.lock inside the block: a second process waits (saying so) until the first is done.
    The operating system releases the lock when a process ends, however it ends."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".download.lock", "a+b") as handle:
        waiting = False
        while True:
            try:
                if os.name == "nt":
                    msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                else:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if not waiting:
                    print(f"Another process is downloading into {folder}; waiting for it to finish.", flush=True)
                    waiting = True
                time.sleep(0.2)
        yield


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: str | os.PathLike, origin: str, *, size: int | None, sha256: str | None, fix: str) -> str:
    """The sha256 of `path`, after checking its size and sha256 against the expected ones where they are given
    (None: unknown, not checked). CorruptDataError names `origin` and ends with `fix` when they differ."""
    actual = Path(path).stat().st_size
    if size is not None and actual != size:
        raise CorruptDataError(f"{origin} holds {actual:,} bytes; the expected file has {size:,}. {fix}")
    digest = sha256_of(path)
    if sha256 is not None and digest != sha256:
        raise CorruptDataError(f"{origin} has the wrong bytes: its sha256 is {digest}, the expected one is "
                               f"{sha256}. {fix}")
    return digest


class _Cut(Exception):
    """The connection ended before the whole file arrived; what arrived is kept in the .part file."""


def fetch(url: str, path: str | os.PathLike, *, size: int | None = None, sha256: str | None = None,
          magic: bytes = b"", check: Callable[[Path], None] | None = None, hint: str = "", fix: str = "") -> str:
    """Download `url` to `path` and return its sha256; nothing is ever half-written at `path`.

    size, sha256: what the file must be (None: not known, not checked). magic: the bytes the file starts with
    (a web page or anything else is refused before it is saved). check(part): raises CorruptDataError if the
    downloaded content is wrong (e.g. a format check). hint: what to do when the server cannot be reached or
    has no such file; fix: what to do when the bytes are wrong. A file that fails a check is deleted; a cut
    download is resumed up to RETRIES times, and what arrived stays in `path`.part for the next call.
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, RETRIES + 1):
        try:
            _fetch_once(url, part, size, magic, hint)
            break
        except _Cut as cut:
            kept = part.stat().st_size if part.is_file() else 0
            if attempt == RETRIES:
                raise DataNotFoundError(f"the connection to {url} was cut {RETRIES} times ({cut}). The {kept:,} "
                                        f"bytes received are kept in {part}: run again to resume from there."
                                        ) from cut
            print(f"The download of {url} was cut ({cut}; {kept:,} bytes kept); resuming, try {attempt + 1} of "
                  f"{RETRIES}.", flush=True)
    try:
        digest = verify(part, f"The file downloaded from {url}", size=size, sha256=sha256, fix=fix)
        if check is not None:
            check(part)
    except CorruptDataError:
        part.unlink()
        raise
    os.replace(part, path)
    return digest


def _fetch_once(url: str, part: Path, size: int | None, magic: bytes, hint: str) -> None:
    """One request for `url` into `part`, resuming after the bytes already there. Raises _Cut when the
    connection ends early, DataNotFoundError when the file cannot be had, CorruptDataError for the wrong kind."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": USER_AGENT} | ({"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing after `have`: the .part is whole already, or from another file
            if err.headers.get("Content-Range", "").endswith(f"/{have}"):
                return
            part.unlink()
            raise _Cut("the server refused to resume, so the download starts again") from err
        if err.code >= 500:  # a passing fault of the server or a proxy: try again
            raise _Cut(f"the server answered {err.code} {err.reason}") from err
        why = {404: "there is no such file there", 401: "the server refused", 403: "the server refused",
               429: "too many requests: wait a few minutes"}.get(err.code, "the server refused")
        raise DataNotFoundError(f"{url} answered {err.code} {err.reason} ({why}). Nothing was saved. {hint}") from err
    except (urllib.error.URLError, OSError) as err:  # no network, no such host, refused, timed out
        raise DataNotFoundError(f"could not connect to {url} ({getattr(err, 'reason', err)}). Nothing was saved. "
                                f"{hint}") from err
    with response:
        if "html" in response.headers.get("Content-Type", "").lower():
            raise CorruptDataError(_web_page(url, hint))
        if response.status == 206:
            first, total = response.headers.get("Content-Range", "bytes 0-0/*").split()[1].split("/")
            if int(first.split("-")[0]) != have:
                part.unlink()
                raise _Cut("the server resumed at the wrong place, so the download starts again")
        else:  # 200: the whole file (a server that ignores Range starts from the beginning)
            have, total = 0, response.headers.get("Content-Length")
        total = int(total) if total and total != "*" else None
        if size is not None and total is not None and total != size:
            raise CorruptDataError(f"{url} is {total:,} bytes long; the expected file has {size:,}: it is another "
                                   f"file. Nothing was saved. {hint}")
        with open(part, "ab" if have else "wb") as out, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                                             desc=part.name[:-len(".part")], leave=False) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (http.client.HTTPException, OSError) as err:  # IncompleteRead, reset, timeout
                    raise _Cut(type(err).__name__) from err
                if not chunk:
                    break
                if have == 0 and not chunk.startswith(magic):
                    out.close()
                    part.unlink()
                    if chunk.lstrip()[:1] == b"<":
                        raise CorruptDataError(_web_page(url, hint))
                    raise CorruptDataError(f"{url} sent a file that does not start as it should ({chunk[:16]!r}, "
                                           f"expected {magic!r}). Nothing was saved. {hint}")
                out.write(chunk)
                have += len(chunk)
                bar.update(len(chunk))
    if total is not None and have < total:
        raise _Cut(f"{have:,} of {total:,} bytes arrived")


def _web_page(url: str, hint: str) -> str:
    return (f"{url} sent a web page where a data file should be (a login, error or captive-portal page, or a "
            "wrong address). Nothing was saved. Open the address in a browser to see the page; on a network with "
            f"a login page, log in first. {hint}")
