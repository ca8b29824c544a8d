"""CelebA faces as in-memory tensors, with a drawn stand-in for machines without CelebA.

`load_celeba` finds the aligned CelebA images (`img_align_celeba`, 178×218 JPEGs) and their 40 attributes in
either layout people have:

* torchvision's: `<dir>/celeba/img_align_celeba/*.jpg` and `<dir>/celeba/list_attr_celeba.txt`
  (or `<dir>` being that `celeba` folder itself),
* Kaggle's ("jessicali9530/celeba-dataset"): `<dir>/img_align_celeba/img_align_celeba/*.jpg` and
  `<dir>/list_attr_celeba.csv` (or the JPEGs one level up, in `<dir>/img_align_celeba/`),

looking in `root`, then $COURSE_DATA_DIR, then the per-user cache. It crops the usual 148×148 face square out of
each image, shrinks it to 32×32 or 64×64, and saves the result once as a single `.pt` file in the data folder
(`root`, else $COURSE_DATA_DIR, else the cache), so later runs read one file instead of thousands of JPEGs.

Without CelebA, `make_standin_celeba` draws a small stand-in in the same on-disk layout: cartoon faces whose
visible features (smile, glasses, hair colour, beard, hat, ...) follow the attribute values written next to them.
"""
from __future__ import annotations

import csv
import difflib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFilter
from tqdm.auto import tqdm

from course_lib.data import CorruptDataError, DataNotFoundError, cache_dir, subset_index, write_atomic

ATTRIBUTE_NAMES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)
SIZES = (32, 64)
ALIGNED_SIZE = (178, 218)  # (width, height) of every image in img_align_celeba
CROP_BOX = (15, 35, 163, 183)  # the central 148×148 square, where the face is
STANDIN_FOLDER = "celeba-standin"
STANDIN_MARKER = "STAND-IN.txt"
STANDIN_SIZE = 2000  # faces in the stand-in that load_celeba draws
CACHE_VERSION = 1
KAGGLE_URL = "https://www.kaggle.com/datasets/jessicali9530/celeba-dataset"


@dataclass(frozen=True)
class FaceData:
    """Face images with their 40 binary CelebA attributes, held in memory.

    images: (n, 3, size, size) uint8 in [0, 255], size 32 or 64
    attributes: (n, 40) bool, columns in the order of `attribute_names`
    attribute_names: the 40 CelebA attribute names, in the official order
    is_standin: True when the faces are the drawn stand-in, not CelebA
    """

    images: torch.Tensor
    attributes: torch.Tensor
    attribute_names: tuple[str, ...] = ATTRIBUTE_NAMES
    is_standin: bool = False

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 3 or self.images.shape[2] != self.images.shape[3]:
            raise ValueError(f"images must have shape (n, 3, size, size); got {tuple(self.images.shape)}.")
        expected = (self.images.shape[0], len(self.attribute_names))
        if tuple(self.attributes.shape) != expected:
            raise ValueError(f"attributes must have shape {expected}; got {tuple(self.attributes.shape)}.")

    def __len__(self) -> int:
        return self.images.shape[0]

    def as_float(self) -> torch.Tensor:
        """The images as float32 in [0, 1]: (n, 3, size, size)."""
        return self.images.float().div_(255.0)

    def attribute(self, name: str) -> torch.Tensor:
        """The column of one attribute, e.g. `faces.attribute("Smiling")`: (n,) bool."""
        if name not in self.attribute_names:
            close = difflib.get_close_matches(str(name), self.attribute_names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(
                f"{name!r} is not a CelebA attribute.{hint} The 40 names are: {', '.join(self.attribute_names)}."
            )
        return self.attributes[:, self.attribute_names.index(name)]

    def subset(self, n: int | None = None, *, fraction: float | None = None, seed: int = 0) -> FaceData:
        """A random subset of `n` faces (or a `fraction` of them), the same one for the same `seed`."""
        index = subset_index(len(self), n, fraction=fraction, seed=seed)
        return FaceData(self.images[index], self.attributes[index], self.attribute_names, self.is_standin)


# ---- finding the files ----

@dataclass(frozen=True)
class _Source:
    images: Path  # the folder of JPEGs
    attributes: Path  # list_attr_celeba.txt or .csv
    layout: str


def _layouts(folder: Path) -> list[_Source]:
    tv, kaggle = "torchvision layout", "Kaggle layout"
    return [
        _Source(folder / "celeba" / "img_align_celeba", folder / "celeba" / "list_attr_celeba.txt", tv),
        _Source(folder / "img_align_celeba", folder / "list_attr_celeba.txt", tv + " (the celeba folder itself)"),
        _Source(folder / "img_align_celeba" / "img_align_celeba", folder / "list_attr_celeba.csv", kaggle),
        _Source(folder / "img_align_celeba", folder / "list_attr_celeba.csv", kaggle + " (images one level up)"),
    ]


def search_dirs(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched for CelebA, in order, each with why: `root`, $COURSE_DATA_DIR, the cache."""
    candidates = [("the root argument", root), ("$COURSE_DATA_DIR", os.environ.get("COURSE_DATA_DIR") or None),
                  ("the per-user cache", cache_dir())]
    found: list[tuple[str, Path]] = []
    for why, folder in candidates:
        if folder is not None and Path(folder).expanduser() not in [f for _, f in found]:
            found.append((why, Path(folder).expanduser()))
    return found


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """Where prepared files, downloads and the stand-in go: `root`, else $COURSE_DATA_DIR, else the cache."""
    return Path(root or os.environ.get("COURSE_DATA_DIR") or cache_dir()).expanduser()


def _find_source(root: str | os.PathLike | None, notes: list[str]) -> _Source | None:
    """The first complete copy of CelebA in `search_dirs(root)`; what was seen elsewhere is added to `notes`."""
    for why, folder in search_dirs(root):
        for source in _layouts(folder):
            has_images, has_attributes = source.images.is_dir(), source.attributes.is_file()
            if has_images and has_attributes:
                return source
            if has_images or has_attributes:
                present, absent = (source.images, source.attributes) if has_images else (
                    source.attributes, source.images)
                notes.append(f"  - {present} ({source.layout}, {why}) is there but {absent} is missing")
        zipped = folder / "celeba" / "img_align_celeba.zip"
        if zipped.is_file():
            with open(zipped, "rb") as f:
                start = f.read(64).lstrip().lower()
            state = ("is a web page, not a zip (Google Drive's 'quota exceeded' answer): delete it"
                     if start.startswith((b"<!doctype html", b"<html")) else f"is not unpacked: unzip it in {zipped.parent}")
            notes.append(f"  - {zipped} {state}")
        notes.append(f"  - {folder}  ({why}): no CelebA in the torchvision or the Kaggle layout")
    return None


# ---- reading the attribute files ----

def read_attributes(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Image file names and a (n, 40) bool array from list_attr_celeba.txt (torchvision) or .csv (Kaggle).

    Columns are returned in the official order of ATTRIBUTE_NAMES whatever their order in the file. Raises
    CorruptDataError naming the file and line when the file is not in either format.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        if path.suffix == ".csv":
            rows = [(number, row) for number, row in enumerate(csv.reader(f), start=1) if row]
            if not rows:
                raise CorruptDataError(f"{path} is empty; expected a header 'image_id,5_o_Clock_Shadow,...'.")
            header, body, declared = rows[0][1], rows[1:], None
            if not header or header[0] != "image_id":
                raise CorruptDataError(f"{path}, line 1: the header must start with 'image_id'; got {header[:2]}.")
            names = header[1:]
        else:
            lines = [(number, line.split()) for number, line in enumerate(f, start=1)]
            if len(lines) < 2 or len(lines[0][1]) != 1 or not lines[0][1][0].isdigit():
                raise CorruptDataError(f"{path}, line 1: expected the number of images (torchvision's "
                                       "list_attr_celeba.txt starts with it, then a line of the 40 names).")
            declared, names, body = int(lines[0][1][0]), lines[1][1], [row for row in lines[2:] if row[1]]
    header_line = 1 if path.suffix == ".csv" else 2
    if sorted(names) != sorted(ATTRIBUTE_NAMES):
        odd = sorted(set(names) ^ set(ATTRIBUTE_NAMES))[:5]
        raise CorruptDataError(f"{path}, line {header_line}: expected the 40 CelebA attribute names; "
                               f"{len(names)} names found, differing in {odd}.")
    order = [names.index(name) for name in ATTRIBUTE_NAMES]
    values = {"1": True, "-1": False}
    files, table = [], np.zeros((len(body), len(names)), dtype=bool)
    for row, (number, fields) in enumerate(body):
        fields = [field.strip() for field in fields]
        if len(fields) != len(names) + 1:
            raise CorruptDataError(f"{path}, line {number}: expected a file name and {len(names)} values, "
                                   f"found {len(fields)} fields. Is the file cut short or edited?")
        try:
            table[row] = [values[field] for field in fields[1:]]
        except KeyError:
            bad = next(field for field in fields[1:] if field not in values)
            raise CorruptDataError(f"{path}, line {number}: attribute values must be 1 or -1; got {bad!r}.") from None
        files.append(fields[0])
    if declared is not None and declared != len(files):
        raise CorruptDataError(f"{path}, line 1: says {declared} images but lists {len(files)}; "
                               "the file is cut short or edited.")
    if not files:
        raise CorruptDataError(f"{path} lists no images.")
    return files, table[:, order]


# ---- preprocessing ----

def _crop_resize(path: Path, size: int) -> np.ndarray:
    """One aligned CelebA JPEG as a (size, size, 3) uint8 array: the central 148×148 square, shrunk with
    antialiasing (JPEG draft mode decodes at a reduced scale first when that is enough)."""
    try:
        with Image.open(path) as image:
            if image.size != ALIGNED_SIZE:
                raise CorruptDataError(f"{path} is {image.size[0]}×{image.size[1]} pixels; the aligned CelebA "
                                       "images (img_align_celeba) are all 178×218.")
            image.draft("RGB", (image.size[0] * size // 148, image.size[1] * size // 148))
            scale = ALIGNED_SIZE[0] / image.size[0]
            box = tuple(edge / scale for edge in CROP_BOX)
            return np.asarray(image.convert("RGB").resize((size, size), Image.LANCZOS, box=box))
    except OSError as err:
        raise CorruptDataError(f"{path} cannot be read as an image ({err}): it is damaged. Replace it with "
                               "the original from img_align_celeba.zip.") from err


def _prepare(source: _Source, size: int, n: int | None, seed: int, standin: bool) -> dict:
    """Decode, crop and shrink the chosen images of `source`; the dict that the cache file holds."""
    files, table = read_attributes(source.attributes)
    chosen = torch.arange(len(files)) if n is None else subset_index(len(files), _check_n(n, len(files)), seed=seed)
    names = [files[i] for i in chosen.tolist()]
    on_disk = {entry.name for entry in os.scandir(source.images)}
    if not any(name.lower().endswith(".jpg") for name in on_disk):
        raise DataNotFoundError(f"The CelebA image folder {source.images} holds no .jpg files. Unpack "
                                f"img_align_celeba.zip there (it holds 202,599 images) and run again.")
    missing = [name for name in names if name not in on_disk]
    if missing:
        raise DataNotFoundError(
            f"{len(missing)} of the {len(names)} images listed in {source.attributes} are missing from "
            f"{source.images} (for example {', '.join(missing[:3])}). The unpacking was probably cut short: "
            "unpack img_align_celeba.zip again, or pass n= to use fewer faces.")
    images = np.empty((len(names), size, size, 3), dtype=np.uint8)
    probe = min(len(names), 200)
    start = time.perf_counter()
    for i in range(probe):
        images[i] = _crop_resize(source.images / names[i], size)
    rate = probe / max(time.perf_counter() - start, 1e-9)
    if len(names) > probe:
        print(f"Preparing {len(names):,} faces at {size}×{size} from {source.images}: about "
              f"{len(names) / rate:.0f} s of CPU time ({rate:.0f} images/s, timed on the first {probe}). "
              "This happens once; the result is saved for next time.", flush=True)
    for i in tqdm(range(probe, len(names)), desc=f"CelebA {size}×{size}", initial=probe, total=len(names),
                  disable=len(names) <= probe):
        images[i] = _crop_resize(source.images / names[i], size)
    return {"version": CACHE_VERSION, "size": size, "count": len(names), "is_standin": standin,
            "attribute_names": list(ATTRIBUTE_NAMES), "files": names,
            "images": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
            "attributes": torch.from_numpy(table[chosen.numpy()])}


def _check_n(n: int, total: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise ValueError(f"n={n!r} must be a whole number of faces between 1 and {total} (or None for all).")
    return n


def _cache_name(size: int, n: int | None, seed: int, standin: bool) -> str:
    kind = "celeba-standin" if standin else "celeba"
    return f"{kind}-{size}px-all.pt" if n is None else f"{kind}-{size}px-n{n}-seed{seed}.pt"


def _load_cache(path: Path, size: int) -> FaceData:
    """The FaceData in a prepared file, checked; CorruptDataError naming the file if it is damaged."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
        count, images, attributes = content["count"], content["images"], content["attributes"]
        problems = [
            content["version"] != CACHE_VERSION and f"version {content['version']}, expected {CACHE_VERSION}",
            tuple(content["attribute_names"]) != ATTRIBUTE_NAMES and "other attribute names",
            (images.dtype, tuple(images.shape)) != (torch.uint8, (count, 3, size, size))
            and f"images {images.dtype} {tuple(images.shape)}, expected uint8 {(count, 3, size, size)}",
            (attributes.dtype, tuple(attributes.shape)) != (torch.bool, (count, 40))
            and f"attributes {attributes.dtype} {tuple(attributes.shape)}, expected bool {(count, 40)}",
        ]
    except Exception as err:  # a truncated or foreign file fails in many ways (zip, pickle, key errors)
        problems = [f"it cannot be read ({type(err).__name__}: {str(err)[:120]})"]
    problems = [problem for problem in problems if problem]
    if problems:
        raise CorruptDataError(f"The prepared CelebA file {path} is damaged: {'; '.join(problems)}.")
    return FaceData(images, attributes, ATTRIBUTE_NAMES, bool(content["is_standin"]))


def _first_sound(paths: list[Path], size: int) -> tuple[FaceData | None, CorruptDataError | None]:
    """The first prepared file among `paths` that exists and is sound, and the damage seen before it."""
    damaged = None
    for path in paths:
        if path.is_file():
            try:
                return _load_cache(path, size), None
            except CorruptDataError as err:
                damaged = damaged or err
    return None, damaged


def _prepared(source: _Source, home: Path, size: int, n: int | None, seed: int, standin: bool) -> FaceData:
    """The faces of `source`, from a prepared file in `home` if one is sound, else prepared and saved there.

    A damaged prepared file is rebuilt from the JPEGs, with a printed note saying so.
    """
    names = [_cache_name(size, n, seed, standin)] + ([_cache_name(size, None, 0, standin)] if n else [])
    faces, damaged = _first_sound([home / name for name in names], size)
    if faces is not None:
        return faces if n is None or len(faces) == n else faces.subset(n, seed=seed)
    if damaged is not None:
        print(f"{damaged} Rebuilding it from the JPEGs in {source.images}.", flush=True)
    cache = home / names[0]
    write_atomic(cache, _prepare(source, size, n, seed, standin))
    return _load_cache(cache, size)


def _standin_home(source: _Source) -> Path | None:
    """The folder holding the stand-in marker if `source` was drawn by make_standin_celeba, else None."""
    for folder in (source.attributes.parent, source.attributes.parent.parent):
        if (folder / STANDIN_MARKER).is_file():
            return folder
    return None


# ---- download ----

def _download(target: Path) -> _Source:
    """Download CelebA with torchvision into `target`/celeba through a scratch folder, or raise one clear error.

    Partial files (a half-written zip, Google Drive's HTML page saved as a zip) are always removed.
    """
    if (target / "celeba").exists():
        raise DataNotFoundError(
            f"Not downloading CelebA: {target / 'celeba'} exists but is not a complete copy (see the folders "
            "listed above). Move it away or delete it, then run again, or complete it by hand.")
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target, prefix=".celeba-download-"))
    try:
        torchvision.datasets.CelebA(scratch, split="all", target_type="attr", download=True)
        (scratch / "celeba" / "img_align_celeba.zip").unlink(missing_ok=True)
        os.replace(scratch / "celeba", target / "celeba")
        return _layouts(target)[0]
    except Exception as err:
        zipped = scratch / "celeba" / "img_align_celeba.zip"
        start = zipped.read_bytes()[:2048].lower() if zipped.is_file() else b""
        text = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        if b"<html" in start or b"<!doctype" in start or "BadZipFile" in text or "quota" in text.lower() \
                or "too many users" in text.lower():
            what = ("Google Drive sent a web page instead of img_align_celeba.zip: the file's daily download "
                    f"quota is used up (this happens most days). ({text})")
        else:
            what = f"the download failed ({text})."
        raise DataNotFoundError(
            f"""Downloading CelebA with torchvision into {target} did not work: {what}
The partial download was removed, so nothing is left to break the next try. Get CelebA by hand instead:
  * Kaggle: download {KAGGLE_URL} and unzip it so that you have
      {target}/img_align_celeba/img_align_celeba/000001.jpg ...  and  {target}/list_attr_celeba.csv
  * or torchvision's layout: img_align_celeba.zip and list_attr_celeba.txt from the CelebA page
    (mmlab.ie.cuhk.edu.hk/projects/CelebA.html, 'Align&Cropped Images'), unzipped so that you have
      {target}/celeba/img_align_celeba/000001.jpg ...  and  {target}/celeba/list_attr_celeba.txt
  Any folder works if you set COURSE_DATA_DIR to it (or pass root=). Or use load_celeba(standin=True).""") from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---- the stand-in ----

# Attributes the stand-in draws, and how often each is true; every other attribute is a fair coin per face.
STANDIN_RATES = {"Male": 0.45, "Smiling": 0.5, "Eyeglasses": 0.3, "Wearing_Hat": 0.1, "Bangs": 0.2,
                 "Mouth_Slightly_Open": 0.3, "Wearing_Lipstick": 0.4, "Pale_Skin": 0.15, "Rosy_Cheeks": 0.15,
                 "Wearing_Earrings": 0.2, "Wearing_Necktie": 0.1, "Narrow_Eyes": 0.1, "Blurry": 0.05}
HAIR_COLOURS = {"Black_Hair": (25, 20, 18), "Blond_Hair": (226, 196, 120), "Brown_Hair": (110, 70, 40),
                "Gray_Hair": (165, 165, 165), None: (150, 60, 30)}


def _standin_attributes(rng: np.random.Generator) -> dict[str, bool]:
    """One face's 40 attributes, consistent with each other (a bald face has no hair colour, and so on)."""
    a = {name: bool(rng.random() < STANDIN_RATES.get(name, 0.5)) for name in ATTRIBUTE_NAMES}
    male = a["Male"]
    a["Bald"] = male and rng.random() < 0.1
    hair = None if a["Bald"] else rng.choice(["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "other"],
                                             p=[0.3, 0.25, 0.25, 0.1, 0.1])
    for colour in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"):
        a[colour] = hair == colour
    beard = male and rng.random() < 0.4
    a["No_Beard"] = not beard
    a["Goatee"] = beard and rng.random() < 0.4
    a["Mustache"] = beard and rng.random() < 0.5
    a["5_o_Clock_Shadow"] = male and not beard and rng.random() < 0.3
    a["Wearing_Lipstick"] = a["Wearing_Lipstick"] and not male
    a["Bangs"] = a["Bangs"] and not a["Bald"]
    return a


def _draw_face(a: dict[str, bool], rng: np.random.Generator) -> Image.Image:
    """A 178×218 cartoon face whose visible features follow the attributes `a`."""
    height = ALIGNED_SIZE[1]
    background = tuple(int(v) for v in rng.integers(60, 230, size=3))
    image = Image.new("RGB", ALIGNED_SIZE, background)
    draw = ImageDraw.Draw(image)
    cx, cy, s = 89 + rng.normal(0, 2.5), 124 + rng.normal(0, 2.5), rng.uniform(0.93, 1.07)

    def box(x0, y0, x1, y1):  # coordinates relative to the face centre, in units of a 1.0-scale face
        return [cx + s * x0, cy + s * y0, cx + s * x1, cy + s * y1]

    tone = rng.uniform(0.85, 1.0) if a["Pale_Skin"] else rng.uniform(0.35, 0.8)
    skin = tuple(int(c * tone) for c in (255, 214, 182))
    hair = HAIR_COLOURS[next((c for c in HAIR_COLOURS if c and a[c]), None)]
    if not a["Bald"]:
        draw.ellipse(box(-52, -68, 52, 40), fill=hair)
        if not a["Male"]:  # long hair down to the shoulders
            draw.rectangle(box(-52, -10, 52, 90), fill=hair)
    draw.rectangle(box(-16, 40, 16, 100), fill=skin)  # neck
    draw.ellipse(box(-42, -55, 42, 55), fill=skin)
    if a["Bangs"]:
        draw.chord(box(-44, -62, 44, -8), 180, 360, fill=hair)
    shadow = tuple(int(c * 0.55) for c in skin)
    if not a["No_Beard"]:
        draw.chord(box(-42, -20, 42, 55), 0, 180, fill=tuple(int(c * 0.8) for c in hair))
    elif a["5_o_Clock_Shadow"]:
        draw.chord(box(-40, -15, 40, 53), 20, 160, fill=tuple(int(c * 0.85) for c in skin))
    eye_h = 2.5 if a["Narrow_Eyes"] else 5
    for ex in (-19, 19):
        draw.ellipse(box(ex - 8, -12 - eye_h, ex + 8, -12 + eye_h), fill=(245, 245, 245))
        draw.ellipse(box(ex - 3.5, -12 - min(eye_h, 3.5), ex + 3.5, -12 + min(eye_h, 3.5)), fill=(40, 30, 30))
        draw.line(box(ex - 9, -24, ex + 9, -24), fill=shadow, width=3)  # eyebrow
        if a["Rosy_Cheeks"]:
            draw.ellipse(box(ex * 1.25 - 7, 8, ex * 1.25 + 7, 18), fill=(230, 120, 130))
        if a["Wearing_Earrings"]:
            draw.ellipse(box(ex * 2.3 - 3, 10, ex * 2.3 + 3, 16), fill=(250, 210, 40))
    if a["Eyeglasses"]:
        for ex in (-19, 19):
            draw.rectangle(box(ex - 14, -22, ex + 14, -3), outline=(15, 15, 15), width=max(3, round(4 * s)))
        draw.line(box(-5, -14, 5, -14), fill=(15, 15, 15), width=3)
    draw.line(box(0, -8, -4, 10), fill=shadow, width=2)  # nose
    draw.line(box(-4, 10, 3, 10), fill=shadow, width=2)
    lips = (200, 30, 50) if a["Wearing_Lipstick"] else tuple(int(c * 0.6) for c in (230, 120, 120))
    if a["Mustache"]:
        draw.rectangle(box(-16, 16, 16, 22), fill=tuple(int(c * 0.7) for c in hair))
    if a["Mouth_Slightly_Open"]:
        draw.ellipse(box(-9, 25, 9, 37), fill=(60, 15, 20), outline=lips, width=2)
    if a["Smiling"]:  # a wide upward curve with teeth
        draw.chord(box(-20, 14, 20, 40), 0, 180, fill=(250, 250, 250), outline=lips, width=3)
    elif not a["Mouth_Slightly_Open"]:
        draw.line(box(-13, 30, 13, 30), fill=lips, width=4)
    if a["Goatee"]:
        draw.ellipse(box(-8, 40, 8, 52), fill=tuple(int(c * 0.7) for c in hair))
    if a["Wearing_Hat"]:
        colour = tuple(int(v) for v in rng.integers(0, 255, size=3))
        draw.rectangle(box(-55, -50, 55, -40), fill=colour)
        draw.chord(box(-42, -85, 42, -15), 180, 360, fill=colour)
    if a["Wearing_Necktie"]:
        draw.polygon([(cx, cy + s * 62), (cx - 7 * s, cy + s * 72), (cx, height), (cx + 7 * s, cy + s * 72)],
                     fill=(30, 40, 140))
    if a["Blurry"]:
        image = image.filter(ImageFilter.GaussianBlur(2.5))
    return image


def make_standin_celeba(folder: str | os.PathLike, *, n: int = 2000, seed: int = 0,
                        layout: str = "torchvision") -> Path:
    """Draw `n` stand-in faces as 178×218 JPEGs with their attribute file, in CelebA's on-disk layout.

    layout "torchvision": folder/celeba/img_align_celeba/*.jpg + folder/celeba/list_attr_celeba.txt
    layout "kaggle": folder/img_align_celeba/img_align_celeba/*.jpg + folder/list_attr_celeba.csv
    Drawn: Smiling, Eyeglasses, Male (short hair), hair colour (Black/Blond/Brown/Gray_Hair), Bald, Bangs,
    No_Beard, Goatee, Mustache, 5_o_Clock_Shadow, Mouth_Slightly_Open, Wearing_Lipstick, Pale_Skin, Rosy_Cheeks,
    Wearing_Earrings, Wearing_Hat, Wearing_Necktie, Narrow_Eyes, Blurry. The other attributes are coin flips.
    The same `seed` gives the same files. Returns `folder`, which `load_celeba(root=folder)` reads.
    """
    if layout not in ("torchvision", "kaggle"):
        raise ValueError(f"layout={layout!r} must be 'torchvision' or 'kaggle'.")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive whole number of faces.")
    folder = Path(folder)
    source = _layouts(folder)[0 if layout == "torchvision" else 2]
    source.images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = _standin_attributes(rng)
        name = f"{i + 1:06d}.jpg"
        _draw_face(a, rng).save(source.images / name, quality=90)
        rows.append((name, ["1" if a[attr] else "-1" for attr in ATTRIBUTE_NAMES]))
    if layout == "torchvision":
        text = f"{n}\n{' '.join(ATTRIBUTE_NAMES)}\n" + "".join(
            f"{name} {' '.join(f'{v:>2}' for v in values)}\n" for name, values in rows)
    else:
        text = ",".join(("image_id",) + ATTRIBUTE_NAMES) + "\n" + "".join(
            f"{name},{','.join(values)}\n" for name, values in rows)
    source.attributes.write_text(text)
    (folder / STANDIN_MARKER).write_text(
        f"Drawn stand-in for CelebA made by course_lib.celeba.make_standin_celeba(n={n}, seed={seed}); "
        "these are not real faces.\n")
    return folder


def _standin_source(target: Path) -> _Source:
    """The stand-in under `target`/celeba-standin, drawn once (atomically: into a scratch folder, then renamed)."""
    folder = target / STANDIN_FOLDER
    if not (folder / STANDIN_MARKER).is_file():
        target.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target, prefix=".celeba-standin-"))
        try:
            make_standin_celeba(scratch, n=STANDIN_SIZE)
            try:
                os.rename(scratch, folder)
            except OSError:  # another process finished first, or a broken leftover is in the way
                if not (folder / STANDIN_MARKER).is_file():
                    shutil.rmtree(folder, ignore_errors=True)
                    os.rename(scratch, folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _layouts(folder)[0]


STANDIN_BANNER = """\
=====================================================================================================
  No CelebA here: this runs on the STAND-IN, {count:,} drawn cartoon faces, not photographs.
  Everything works the same, but the pictures will look like drawings. For real faces, get CelebA
  (see course_lib.celeba: the Kaggle "jessicali9530/celeba-dataset" or torchvision's layout) and put it
  in {target} or set COURSE_DATA_DIR.{note}
====================================================================================================="""


def load_celeba(*, root: str | os.PathLike | None = None, size: int = 32, n: int | None = None, seed: int = 0,
                download: bool = False, standin: bool | None = None) -> FaceData:
    """CelebA faces as tensors: images (n, 3, size, size) uint8, attributes (n, 40) bool.

    size: 32 or 64 (the central 148×148 face square of each 178×218 image, shrunk with antialiasing).
    n: a random subset of this many faces (the same for the same `seed`); None for all 202,599. The first load
        decodes the JPEGs (printing the expected time) and saves them as one file; later loads read that file.
    download: try torchvision's download when CelebA is not found (Google Drive often refuses; the error then
        says how to get the files by hand).
    standin: None (default): use CelebA if found, otherwise the drawn stand-in, announced by a printed banner;
        False: CelebA or a DataNotFoundError saying where it looked; True: always the stand-in.
        A folder drawn by make_standin_celeba (it holds STAND-IN.txt) also loads as a stand-in. The stand-in
        that load_celeba draws holds STANDIN_SIZE = 2000 faces; a larger n is cut to 2000 (it says so).
    """
    if size not in SIZES:
        raise ValueError(f"size={size!r} must be 32 or 64 (pixels per side).")
    if n is not None:
        _check_n(n, n)
    if standin not in (None, True, False):
        raise ValueError(f"standin={standin!r} must be None (stand-in only without CelebA), True or False.")
    target = data_dir(root)
    if standin is not True:
        names = [_cache_name(size, n, seed, False)] + ([_cache_name(size, None, 0, False)] if n else [])
        faces, damaged = _first_sound([folder / name for _, folder in search_dirs(root) for name in names], size)
        if faces is not None:
            return faces if n is None or len(faces) == n else faces.subset(n, seed=seed)
        notes: list[str] = []
        source = _find_source(root, notes)
        if source is None and download:
            source = _download(target)
        if source is not None:
            home = _standin_home(source)
            faces = _prepared(source, home or target, size, n, seed, home is not None)
            if faces.is_standin and standin is None:
                print(STANDIN_BANNER.format(count=len(faces), target=target, note=""), flush=True)
            return faces
        if damaged is not None:
            raise CorruptDataError(f"{damaged} There are no CelebA JPEGs to rebuild it from: delete it and "
                                   "put CelebA in place (see load_celeba's documentation).")
        if standin is False:
            looked = "\n".join(notes)
            raise DataNotFoundError(
                f"""CelebA was not found{' (download=False)' if not download else ''}. Looked in:
{looked}
Put it in one of these layouts, in {target} (or any folder, then set COURSE_DATA_DIR or pass root=):
  * torchvision: {target}/celeba/img_align_celeba/*.jpg  and  {target}/celeba/list_attr_celeba.txt
  * Kaggle ({KAGGLE_URL}):
      {target}/img_align_celeba/img_align_celeba/*.jpg  and  {target}/list_attr_celeba.csv
or call load_celeba(download=True) to try torchvision's download, or standin=None to use the drawn stand-in.""")
    source = _standin_source(target)
    used = n if n is not None and n < STANDIN_SIZE else None
    faces = _prepared(source, target / STANDIN_FOLDER, size, used, seed, True)
    note = ""
    if n is not None and n > STANDIN_SIZE:
        note = f"\n  You asked for n={n:,}; the stand-in has {STANDIN_SIZE:,} faces, so all of them are used."
    if standin is None:
        print(STANDIN_BANNER.format(count=len(faces), target=target, note=note), flush=True)
    elif note:
        print(note.strip(), flush=True)
    return faces
