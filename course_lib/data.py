"""Datasets as in-memory tensors: Fashion-MNIST, found offline when possible.

`load_fashion_mnist` reads the files with torchvision's `FashionMNIST` and returns whole tensors, so training
slices memory instead of converting one PIL image at a time. It looks for the four original files in order:

1. the `root` argument,
2. the folder named by the environment variable COURSE_DATA_DIR,
3. the per-user cache (`~/.cache/generative-course`, or under $XDG_CACHE_HOME),
4. the system copy that Debian's `dataset-fashion-mnist` package installs,

and only then downloads. Every file is checked by the sha256 of its decompressed bytes. Files that need
unpacking (or downloading) are written to the data folder: `root`, else COURSE_DATA_DIR, else the cache.

The pieces every dataset loader shares live here too (`course_lib.celeba` uses them): the two errors, the
folders searched and written to, `subset_index`, `write_atomic`, and `ImageTensors`, the base of the datasets.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import shutil
import tempfile
import urllib.error
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torchvision

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# sha256 and size of each decompressed file (the same bytes whoever compressed them).
FILES = {
    "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
    "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
    "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
    "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
}


class DataNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found, and it could not be downloaded."""


class CorruptDataError(ValueError):
    """A data file exists but its content is not what it should be (truncated, damaged or a different file)."""


class ImageTensors:
    """What the in-memory datasets share: `images` (n, C, H, W) uint8 in [0, 255], and dataclass fields that are
    tensors with one row per image (labels, attributes), which `subset` keeps in step with the images."""

    images: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def as_float(self) -> torch.Tensor:
        """The images as float32 in [0, 1]: (n, C, H, W)."""
        return self.images.float().div_(255.0)

    def subset(self, n: int | None = None, *, fraction: float | None = None, seed: int = 0):
        """A random subset of `n` images (or a `fraction` of them), the same one for the same `seed`."""
        index = subset_index(len(self), n, fraction=fraction, seed=seed)
        rows = {f.name: getattr(self, f.name)[index] for f in fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **rows)


@dataclass(frozen=True)
class ImageData(ImageTensors):
    """A labelled image dataset held in memory.

    images: (n, 1, 28, 28) uint8 in [0, 255]
    labels: (n,) int64 class indices
    classes: class names, indexed by label
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must have shape (n, 1, height, width); got {tuple(self.images.shape)}.")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) to match images; got {tuple(self.labels.shape)}."
            )


def subset_index(total: int, n: int | None = None, *, fraction: float | None = None, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a random subset of `n` of `total` items (or a `fraction`), the same for the same `seed`."""
    size = _subset_size(total, n, fraction)
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:size].sort().values


def _subset_size(total: int, n: int | None, fraction: float | None) -> int:
    if (n is None) == (fraction is None):
        raise ValueError("subset needs exactly one of n= (a number of images) or fraction= (between 0 and 1).")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
            raise ValueError(f"n={n!r} must be a whole number of images between 1 and {total}.")
        return n
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction={fraction!r} must be in (0, 1].")
    return max(1, round(total * fraction))


def cache_dir() -> Path:
    """The per-user cache folder: $XDG_CACHE_HOME/generative-course, else ~/.cache/generative-course."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "generative-course"


def search_dirs(root: str | os.PathLike | None = None, *, system: bool = True) -> list[tuple[str, Path]]:
    """The folders searched for data, in order, each with a short description of why it is searched:
    `root`, $COURSE_DATA_DIR, the per-user cache and (system=True, for Fashion-MNIST) the Debian package's copy."""
    candidates = [
        ("the root argument", root),
        ("$COURSE_DATA_DIR", os.environ.get("COURSE_DATA_DIR") or None),
        ("the per-user cache", cache_dir()),
    ]
    if system:
        candidates.append(("the system copy (Debian package dataset-fashion-mnist)", SYSTEM_DIR))
    seen, found = set(), []
    for why, folder in candidates:
        if folder is None:
            continue
        folder = Path(folder).expanduser()
        if folder not in seen:
            seen.add(folder)
            found.append((why, folder))
    return found


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """Where prepared or downloaded files are written: `root`, else $COURSE_DATA_DIR, else the cache."""
    return Path(root or os.environ.get("COURSE_DATA_DIR") or cache_dir()).expanduser()


def _candidates(folder: Path, name: str) -> list[Path]:
    raw = folder / "FashionMNIST" / "raw"
    return [raw / name, raw / f"{name}.gz", folder / name, folder / f"{name}.gz"]


def _read_verified(path: Path, name: str) -> bytes:
    """The decompressed bytes of `path`, or a CorruptDataError that names the file and says what to do."""
    expected_sha, expected_size = FILES[name]
    fix = f"Delete it (rm '{path}') or replace it with the original file, then run again."
    try:
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except PermissionError as err:
        raise PermissionError(
            f"Fashion-MNIST file {path} exists but you may not read it ({err.strerror}). The file is fine; ask "
            f"whoever prepared the folder to make it readable (chmod -R a+rX '{path.parent}'), or set "
            "COURSE_DATA_DIR to a folder of your own and run again.") from err
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise CorruptDataError(f"Fashion-MNIST file {path} cannot be read ({err}): it is damaged. {fix}") from err
    if len(content) != expected_size:
        raise CorruptDataError(
            f"Fashion-MNIST file {path} holds {len(content)} bytes once decompressed, expected {expected_size}: "
            f"it is truncated or is a different file. {fix}"
        )
    if hashlib.sha256(content).hexdigest() != expected_sha:
        raise CorruptDataError(
            f"Fashion-MNIST file {path} has the right size but the wrong content (sha256 mismatch): "
            f"it is damaged. {fix}"
        )
    return content


def write_atomic(path: str | os.PathLike, content: object, *, private: bool = False) -> Path:
    """Write `content` to `path` so that no reader ever sees a partial file, even with two writers at once.

    Bytes are written as they are; anything else is written with `torch.save`. The file gets the permissions any
    new file gets (0666 less the umask), so files prepared into a shared folder can be read by everyone who can
    read the folder; `private=True` makes it readable by its owner only (0600), for secrets.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes):
                f.write(content)
            else:
                torch.save(content, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _ready(folder: Path) -> bool:
    """True if `folder` holds the decompressed files where torchvision reads them, all verified."""
    raw = folder / "FashionMNIST" / "raw"
    if not all((raw / name).is_file() for name in FILES):
        return False
    for name in FILES:
        _read_verified(raw / name, name)
    return True


def find_fashion_mnist(root: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """A folder that `torchvision.datasets.FashionMNIST(folder)` can read, verified file by file.

    Searches `search_dirs(root)`; unpacks a found copy into `data_dir(root)` if needed; downloads last.
    Raises DataNotFoundError (listing where it looked and how to fix it) or CorruptDataError (naming the file).
    """
    target = data_dir(root)
    notes = []
    for why, folder in search_dirs(root):
        if _ready(folder):
            return folder
        found = {name: next((p for p in _candidates(folder, name) if p.is_file()), None) for name in FILES}
        present = [path for path in found.values() if path is not None]
        if len(present) == len(FILES):
            return _unpack({name: _read_verified(path, name) for name, path in found.items()}, folder, target)
        notes.append(f"  - {folder}  ({why}): " + (f"only {len(present)} of 4 files" if present else "not there"))
    if download:
        error = _download(target)
        if error is None:
            return target
        notes.append(f"  - download into {target}: failed ({error})")
    else:
        notes.append("  - download: not tried (download=False)")
    raise DataNotFoundError(_not_found_message(notes, target))


def _unpack(contents: dict[str, bytes], found_in: Path, target: Path) -> Path:
    """Write the verified files where torchvision reads them: into `target`, else the per-user cache."""
    failed = []
    for folder in dict.fromkeys([target, cache_dir()]):
        try:
            for name, content in contents.items():
                write_atomic(folder / "FashionMNIST" / "raw" / name, content)
            return folder
        except OSError as err:
            failed.append(f"  - {folder}: {err.strerror or err}")
    raise DataNotFoundError(
        f"Fashion-MNIST was found in {found_in}, but its files could not be unpacked into a folder the loader "
        "can write to:\n" + "\n".join(failed) + "\nSet COURSE_DATA_DIR to a folder you can write to (for "
        "example COURSE_DATA_DIR=$HOME/course-data), or copy the four unpacked files into its FashionMNIST/raw/.")


def _download(target: Path) -> str | None:
    """Download with torchvision into a scratch folder, verify, then move into `target`. None on success."""
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target, prefix=".download-"))
    try:
        torchvision.datasets.FashionMNIST(scratch, train=True, download=True)
        torchvision.datasets.FashionMNIST(scratch, train=False, download=True)
        raw = scratch / "FashionMNIST" / "raw"
        contents = {name: _read_verified(raw / name, name) for name in FILES}
        for name, content in contents.items():
            write_atomic(target / "FashionMNIST" / "raw" / name, content)
        return None
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        return f"{type(err).__name__}: {err}".splitlines()[0][:200]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _not_found_message(notes: list[str], target: Path) -> str:
    looked = "\n".join(notes)
    return f"""Fashion-MNIST was not found and could not be downloaded. Looked in:
{looked}
Fix it with one of these, then run the cell again:
  * Debian or Ubuntu:   sudo apt-get install dataset-fashion-mnist
  * Any machine with internet: python -c "import course_lib.data as d; d.load_fashion_mnist()"
  * By hand: copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
    t10k-labels-idx1-ubyte.gz (from github.com/zalandoresearch/fashion-mnist, folder data/fashion) into
    {target}   (or into any folder, and set COURSE_DATA_DIR to it)"""


def load_fashion_mnist(
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    n: int | None = None,
    seed: int = 0,
    download: bool = True,
) -> ImageData:
    """Fashion-MNIST as tensors: images (n, 1, 28, 28) uint8, labels (n,) int64, 10 class names.

    split: "train" (60 000 images) or "test" (10 000).
    n: keep a random subset of this many images (the same one for the same `seed`).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} must be 'train' or 'test'.")
    folder = find_fashion_mnist(root, download=download)
    dataset = torchvision.datasets.FashionMNIST(folder, train=split == "train", download=False)
    data = ImageData(dataset.data.unsqueeze(1).contiguous(), dataset.targets.long(), tuple(dataset.classes))
    return data if n is None else data.subset(n, seed=seed)

