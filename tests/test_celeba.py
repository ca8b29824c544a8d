"""course_lib.celeba: CelebA's layouts, preparation, the sources in order, and the Parquet mirror downloaded from a
local HTTP server (started by the tests on 127.0.0.1) that serves stand-in faces in the mirror's schema."""
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import torchvision
from PIL import Image, ImageDraw

from course_lib import celeba, data, download

from http_server import Mirror  # tests/http_server.py

TRAIN, VALIDATION, TEST = (celeba.MIRROR_FILES[split][0] for split in ("train", "validation", "test"))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """40 stand-in faces in each layout, drawn once; tests copy them."""
    base = tmp_path_factory.mktemp("drawn")
    return {layout: celeba.make_standin_celeba(base / layout, n=40, seed=1, layout=layout)
            for layout in ("torchvision", "kaggle")}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty cache, no COURSE_DATA_DIR, a mirror address nobody answers and a Google Drive that refuses at
    once, so that no test ever reaches the internet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CELEBA_URL", "http://127.0.0.1:9/nobody")
    monkeypatch.setattr(torchvision.datasets.celeba, "download_file_from_google_drive", google_drive_offline)
    return tmp_path


def google_drive_offline(*args, **kwargs):
    raise RuntimeError("no internet here (Google Drive stubbed by the test)")


def copy(drawn, isolated, layout="torchvision"):
    return shutil.copytree(drawn[layout], isolated / "root", ignore=shutil.ignore_patterns("*.pt"))


def no_jpeg_reading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an image was decoded")
    monkeypatch.setattr(celeba.Image, "open", refuse)


# ---- a copy of the mirror, served over HTTP ----

def without_standin_mark(content: bytes) -> bytes:
    """The same Parquet file without make_standin_mirror's mark: to the loader, real mirror data."""
    table = pq.read_table(io.BytesIO(content))
    metadata = {k: v for k, v in table.schema.metadata.items() if k != celeba.STANDIN_KEY}
    out = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), out)
    return out.getvalue()


def edited(content: bytes, edit) -> bytes:
    """A Parquet file with edit(table) applied."""
    out = io.BytesIO()
    pq.write_table(edit(pq.read_table(io.BytesIO(content))), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def mirror_files(tmp_path_factory):
    """The mirror's three files with 24, 6 and 6 stand-in faces (the first 24 drawn as by make_standin_celeba
    with seed 5), unmarked so that they load as real data."""
    folder = celeba.make_standin_mirror(tmp_path_factory.mktemp("mirror"), rows=(24, 6, 6), seed=5)
    return {path: without_standin_mark((folder / path).read_bytes()) for path in (TRAIN, VALIDATION, TEST)}


@pytest.fixture
def mirror(isolated, mirror_files, monkeypatch):
    """A running Mirror of mirror_files, which COURSE_CELEBA_URL points at; stopped after the test."""
    served = Mirror(mirror_files)
    monkeypatch.setenv("COURSE_CELEBA_URL", served.url)
    yield served
    served.stop()


def pin(monkeypatch, files, **changes):
    """Pin MIRROR_FILES to the sizes and sha256 of `files` (as if the course knew the real ones), with changes."""
    pinned = {split: (path, len(files[path]), hashlib.sha256(files[path]).hexdigest())
              for split, (path, _, _) in celeba.MIRROR_FILES.items()}
    monkeypatch.setattr(celeba, "MIRROR_FILES", {**pinned, **changes})


def downloaded(isolated):
    return isolated / "cache" / "generative-course" / celeba.MIRROR_FOLDER


def leftovers(folder):
    """Data files under `folder` other than whole downloads: .part files and anything half-written."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and (p.suffix in (".part", ".tmp") or p.name.startswith(".celeba")))


def test_both_layouts_load_the_same_faces(drawn, isolated):
    tv = celeba.load_celeba(root=drawn["torchvision"], standin=False)
    kaggle = celeba.load_celeba(root=drawn["kaggle"], standin=False)
    assert torch.equal(tv.images, kaggle.images) and torch.equal(tv.attributes, kaggle.attributes)
    assert tv.is_standin and len(tv) == 40
    files, table = celeba.read_attributes(drawn["kaggle"] / "list_attr_celeba.csv")
    assert files[0] == "000001.jpg" and torch.equal(tv.attributes, torch.from_numpy(table))


def test_kaggle_images_unzipped_one_level_up_are_found(drawn, isolated):
    root = copy(drawn, isolated, "kaggle")
    nested = root / "img_align_celeba" / "img_align_celeba"
    for path in nested.iterdir():
        path.rename(root / "img_align_celeba" / path.name)
    nested.rmdir()
    faces = celeba.load_celeba(root=root, standin=False)
    assert torch.equal(faces.images, celeba.load_celeba(root=drawn["torchvision"]).images)


def test_the_attribute_file_is_in_the_official_format(drawn):
    lines = (drawn["torchvision"] / "celeba" / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == "40" and lines[1].split() == list(celeba.ATTRIBUTE_NAMES)
    assert lines[1].split()[:2] == ["5_o_Clock_Shadow", "Arched_Eyebrows"] and lines[1].split()[-1] == "Young"
    assert len(celeba.ATTRIBUTE_NAMES) == 40 and set(lines[2].split()[1:]) <= {"1", "-1"}
    header = (drawn["kaggle"] / "list_attr_celeba.csv").read_text().splitlines()[0]
    assert header == "image_id," + ",".join(celeba.ATTRIBUTE_NAMES)


@pytest.mark.parametrize("size", [32, 64])
def test_crop_and_resize_shapes(drawn, isolated, size):
    faces = celeba.load_celeba(root=copy(drawn, isolated), size=size)
    assert faces.images.shape == (40, 3, size, size) and faces.images.dtype == torch.uint8
    assert faces.attributes.shape == (40, 40) and faces.attributes.dtype == torch.bool
    assert faces.attribute_names == celeba.ATTRIBUTE_NAMES
    floats = faces.as_float()
    assert floats.dtype == torch.float32 and 0 <= floats.min() and floats.max() <= 1 and floats.std() > 0.1


def test_the_crop_is_the_central_square(tmp_path):
    image = Image.new("RGB", celeba.ALIGNED_SIZE, (255, 0, 0))
    ImageDraw.Draw(image).rectangle(celeba.CROP_BOX, fill=(0, 0, 255))  # blue exactly where the crop is
    image.save(tmp_path / "x.jpg", quality=95)
    pixels = celeba._crop_resize(tmp_path / "x.jpg", 32).astype(int)
    assert pixels[2:-2, 2:-2, 2].min() > 200 and pixels[2:-2, 2:-2, 0].max() < 50


def test_bad_arguments_are_named(isolated):
    with pytest.raises(ValueError, match="size=48 must be 32 or 64"):
        celeba.load_celeba(size=48)
    with pytest.raises(ValueError, match="n=0"):
        celeba.load_celeba(n=0)
    with pytest.raises(ValueError, match="standin='yes'"):
        celeba.load_celeba(standin="yes")
    with pytest.raises(ValueError, match="layout='zip'"):
        celeba.make_standin_celeba(isolated, layout="zip")


def test_the_prepared_file_is_reused_without_reading_jpegs(drawn, isolated, monkeypatch):
    root = copy(drawn, isolated)
    first = celeba.load_celeba(root=root)
    assert (root / "celeba-standin-32px-all.pt").is_file()
    no_jpeg_reading(monkeypatch)
    again = celeba.load_celeba(root=root)
    assert torch.equal(first.images, again.images) and torch.equal(first.attributes, again.attributes)
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_a_subset_is_the_same_however_it_is_made(drawn, isolated, monkeypatch, capsys):
    root = copy(drawn, isolated)
    direct = celeba.load_celeba(root=root, n=10, seed=3)  # decodes only 10 JPEGs
    assert len(direct) == 10 and (root / "celeba-standin-32px-n10-seed3.pt").is_file()
    full = celeba.load_celeba(root=root)
    assert torch.equal(direct.images, full.subset(10, seed=3).images)
    assert torch.equal(direct.attributes, full.subset(10, seed=3).attributes)
    no_jpeg_reading(monkeypatch)  # another subset comes from the full prepared file
    assert torch.equal(celeba.load_celeba(root=root, n=7, seed=4).images, full.subset(7, seed=4).images)
    with pytest.raises(ValueError, match="between 1 and 40"):
        celeba.load_celeba(root=shutil.copytree(drawn["kaggle"], isolated / "other"), n=41)


def test_the_expected_time_is_printed_before_a_long_preparation(tmp_path, isolated, capsys):
    root = celeba.make_standin_celeba(tmp_path / "big", n=260)
    celeba.load_celeba(root=root, size=64)
    out = capsys.readouterr().out
    assert "Preparing 260 faces at 64×64" in out and "s of CPU time" in out and "images/s" in out


def test_unknown_attribute_lists_the_valid_names(drawn, isolated):
    faces = celeba.load_celeba(root=copy(drawn, isolated))
    assert faces.attribute("Smiling").dtype == torch.bool and faces.attribute("Smiling").shape == (40,)
    assert torch.equal(faces.attribute("Young"), faces.attributes[:, 39])
    with pytest.raises(KeyError, match="'smiling' is not a CelebA attribute. Did you mean 'Smiling'.*5_o_Clock"):
        faces.attribute("smiling")


@pytest.mark.parametrize("edit, match", [
    (lambda lines: lines.__setitem__(4, lines[4].replace("-1", "0", 1)), r"line 5: .*1 or -1; got '0'"),
    (lambda lines: lines.__setitem__(6, lines[6].rsplit(" ", 3)[0]), r"line 7: expected a file name and 40"),
    (lambda lines: lines.__setitem__(0, "41"), "line 1: says 41 images but lists 40"),
    (lambda lines: lines.__setitem__(1, lines[1].replace("Smiling", "Grinning")), r"line 2: expected the 40"),
    (lambda lines: lines.__setitem__(0, "images"), "line 1: expected the number of images"),
])
def test_a_malformed_attribute_file_is_named_with_its_line(drawn, isolated, edit, match):
    path = copy(drawn, isolated) / "celeba" / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(data.CorruptDataError, match=f"{path}, {match}"):
        celeba.load_celeba(root=path.parent.parent)


def test_a_malformed_csv_is_named_with_its_line(drawn, isolated):
    path = copy(drawn, isolated, "kaggle") / "list_attr_celeba.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",1", ",yes", 1).replace(",-1", ",yes", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(data.CorruptDataError, match=f"{path}, line 4: .*got 'yes'"):
        celeba.load_celeba(root=path.parent)


def test_missing_images_and_empty_folders_are_reported(drawn, isolated):
    root = copy(drawn, isolated)
    folder = root / "celeba" / "img_align_celeba"
    (folder / "000007.jpg").unlink()
    with pytest.raises(data.DataNotFoundError, match=r"1 of the 40 images listed in .* missing .*000007.jpg"):
        celeba.load_celeba(root=root)
    for path in folder.iterdir():
        path.unlink()
    with pytest.raises(data.DataNotFoundError, match=f"{folder} holds no .jpg files"):
        celeba.load_celeba(root=root)


def test_a_damaged_image_is_named(drawn, isolated):
    root = copy(drawn, isolated)
    victim = root / "celeba" / "img_align_celeba" / "000003.jpg"
    victim.write_bytes(b"not a jpeg")
    with pytest.raises(data.CorruptDataError, match=f"{victim} cannot be read"):
        celeba.load_celeba(root=root)


def test_a_truncated_prepared_file_is_rebuilt_or_reported(drawn, isolated, capsys):
    root = copy(drawn, isolated)
    good = celeba.load_celeba(root=root)
    prepared = root / "celeba-standin-32px-all.pt"
    prepared.write_bytes(prepared.read_bytes()[:5000])
    rebuilt = celeba.load_celeba(root=root)
    out = capsys.readouterr().out
    assert f"{prepared} is damaged: it cannot be read" in out and "Rebuilding it from the JPEGs" in out
    assert torch.equal(rebuilt.images, good.images)
    # A damaged real prepared file with no JPEGs left to rebuild from is an error naming it.
    real = isolated / "cache" / "generative-course" / "celeba-32px-all.pt"
    real.parent.mkdir(parents=True)
    real.write_bytes(prepared.read_bytes()[:5000])
    with pytest.raises(data.CorruptDataError, match=f"{real} is damaged.*delete it"):
        celeba.load_celeba(standin=False)


def test_a_real_prepared_file_is_used_without_the_jpegs(drawn, isolated, monkeypatch):
    """A prepared file handed out by an instructor (in $COURSE_DATA_DIR) works without CelebA's JPEGs."""
    faces = celeba.load_celeba(root=drawn["torchvision"])
    shared = isolated / "shared"
    shared.mkdir()
    content = {"version": celeba.CACHE_VERSION, "size": 32, "count": 40, "is_standin": False,
               "attribute_names": list(celeba.ATTRIBUTE_NAMES), "files": [], "images": faces.images,
               "attributes": faces.attributes}
    torch.save(content, shared / "celeba-32px-all.pt")
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    no_jpeg_reading(monkeypatch)
    loaded = celeba.load_celeba(standin=False, n=5)
    assert not loaded.is_standin and len(loaded) == 5


def test_two_processes_preparing_at_once(drawn, isolated):
    root = copy(drawn, isolated)
    script = "import sys; from course_lib import celeba; print(len(celeba.load_celeba(root=sys.argv[1])))"
    runs = [subprocess.Popen([sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sorted(p.name for p in root.iterdir()) == ["STAND-IN.txt", "celeba", "celeba-standin-32px-all.pt"]
    assert len(celeba.load_celeba(root=root)) == 40


def test_not_found_lists_where_it_looked_in_both_layouts(isolated, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "env"))
    (isolated / "root" / "celeba").mkdir(parents=True)
    (isolated / "root" / "celeba" / "list_attr_celeba.txt").write_text("1\n")
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(root=isolated / "root", standin=False)
    message = str(caught.value)
    for folder in (isolated / "root", isolated / "env", isolated / "cache" / "generative-course"):
        assert f"{folder}  (" in message
    assert "img_align_celeba is missing" in message
    assert "celeba/img_align_celeba/*.jpg" in message and "img_align_celeba/img_align_celeba/*.jpg" in message
    assert "list_attr_celeba.csv" in message and "COURSE_DATA_DIR" in message and "download=True" in message


def test_google_drive_quota_page_leaves_no_zip_and_one_clear_error(isolated, monkeypatch):
    def fake_download(file_id, root, filename=None, md5=None):  # what gdown does when the quota is used up
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, filename), "w") as f:
            f.write("<!DOCTYPE html><html><title>Google Drive - Quota exceeded</title></html>")

    monkeypatch.setattr(torchvision.datasets.celeba, "download_file_from_google_drive", fake_download)
    root = isolated / "root"
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(root=root, download=True, standin=False)
    message = str(caught.value)
    assert "Google Drive sent a web page" in message and "quota" in message and "BadZipFile" in message
    assert "jessicali9530/celeba-dataset" in message and "list_attr_celeba.txt" in message
    assert "COURSE_DATA_DIR" in message and "partial download was removed" in message
    assert leftovers(root) == [] and not list(root.glob("celeba*"))  # no zip, no scratch folder


def test_any_other_download_failure_is_reported_too(isolated, capsys):
    faces = celeba.load_celeba(root=isolated / "root", download=True)  # standin=None: the stand-in, with reasons
    out = capsys.readouterr().out
    assert faces.is_standin and "STAND-IN" in out
    assert "4. torchvision's download (Google Drive): the download failed (RuntimeError: no internet here" in out
    assert leftovers(isolated / "root") == []


def test_the_standin_is_drawn_once_and_announced(isolated, monkeypatch, capsys):
    faces = celeba.load_celeba(n=30)
    assert faces.is_standin and len(faces) == 30
    out = capsys.readouterr().out
    assert "STAND-IN" in out and "not tried (download=False)" in out
    folder = isolated / "cache" / "generative-course" / "celeba-standin"
    assert (folder / "STAND-IN.txt").is_file() and len(list(folder.glob("celeba/img_align_celeba/*.jpg"))) == 2000
    assert folder.stat().st_mode & 0o777 == 0o755  # a root grader's sandbox reads it as another user
    monkeypatch.setattr(celeba, "make_standin_celeba", None)  # drawing again would fail
    no_jpeg_reading(monkeypatch)  # and the 30 faces come from the prepared file
    assert torch.equal(celeba.load_celeba(n=30).images, faces.images)
    with pytest.raises(data.DataNotFoundError):
        celeba.load_celeba(standin=False)


def test_the_standin_gives_all_it_has_for_a_larger_n(isolated, capsys):
    faces = celeba.load_celeba(n=20000, standin=True)
    assert len(faces) == celeba.STANDIN_SIZE and "the stand-in has 2,000 faces" in capsys.readouterr().out


def test_the_standin_is_deterministic(tmp_path):
    a = celeba.make_standin_celeba(tmp_path / "a", n=5, seed=2)
    b = celeba.make_standin_celeba(tmp_path / "b", n=5, seed=2)
    c = celeba.make_standin_celeba(tmp_path / "c", n=5, seed=3)
    read = lambda folder: [p.read_bytes() for p in sorted((folder / "celeba").rglob("*")) if p.is_file()]
    assert read(a) == read(b) and read(a) != read(c)


def test_imports_run_one_way():
    """data knows nothing of CelebA: no lazy re-export, no import circle."""
    script = "import sys, course_lib.data as d; print('course_lib.celeba' in sys.modules, hasattr(d, 'load_celeba'))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
    with pytest.raises(AttributeError):
        data.load_celeba


# ---- the Parquet mirror ----

def test_mirror_url_is_the_hubs_resolve_url_at_the_pinned_revision(monkeypatch):
    monkeypatch.delenv("COURSE_CELEBA_URL", raising=False)
    assert celeba.mirror_url(TRAIN) == ("https://huggingface.co/datasets/tpremoli/CelebA-attrs-20k/resolve/"
                                        f"{celeba.MIRROR_REVISION}/data/train-00000-of-00001.parquet")
    monkeypatch.setenv("COURSE_CELEBA_URL", "http://10.0.0.5:8000/celeba/")
    assert celeba.mirror_url(TEST) == "http://10.0.0.5:8000/celeba/data/test-00000-of-00001.parquet"


def test_download_fetches_only_the_train_file_and_prepares_it(mirror, isolated, drawn, capsys, monkeypatch):
    faces = celeba.load_celeba(n=20, seed=3, download=True, standin=False)
    out = capsys.readouterr().out
    assert not faces.is_standin and len(faces) == 20 and faces.images.shape == (20, 3, 32, 32)
    assert [path for path, _ in mirror.requests] == [TRAIN]  # validation and test are not needed for 20 faces
    folder = downloaded(isolated)
    assert (folder / TRAIN).read_bytes() == mirror.files[TRAIN] and leftovers(folder.parent) == []
    assert "not verified against a pinned checksum" in out and hashlib.sha256(mirror.files[TRAIN]).hexdigest() in out
    # The mirror's faces, decoded from Parquet, are pixel for pixel the faces decoded from the same JPEGs on disk.
    jpegs = celeba.load_celeba(root=celeba.make_standin_celeba(isolated / "jpegs", n=24, seed=5), standin=False)
    pool = celeba.load_celeba(n=24, download=True)
    assert torch.equal(pool.images, jpegs.images) and torch.equal(pool.attributes, jpegs.attributes)
    assert torch.equal(faces.images, pool.subset(20, seed=3).images)
    assert (folder.parent / "celeba-mirror-32px-train.pt").is_file() and len(mirror.requests) == 1
    no_jpeg_reading(monkeypatch)  # later loads, other subsets included, read the prepared pool
    assert torch.equal(celeba.load_celeba(n=7, seed=1, download=True).images, pool.subset(7, seed=1).images)


def test_all_faces_need_all_three_files(mirror, isolated, capsys):
    faces = celeba.load_celeba(download=True, standin=False)  # n=None: train, validation and test
    assert len(faces) == 36 and [path for path, _ in mirror.requests] == [TRAIN, VALIDATION, TEST]
    assert capsys.readouterr().out.count("not verified against a pinned checksum") == 3
    home = downloaded(isolated).parent
    assert {p.name for p in home.glob("*.pt")} == {"celeba-mirror-32px-all.pt", "celeba-mirror-32px-train.pt"}
    sizes = {p.name: p.stat().st_size for p in home.glob("*.pt")}  # the train pool holds only its own rows
    assert sizes["celeba-mirror-32px-train.pt"] < 0.8 * sizes["celeba-mirror-32px-all.pt"]
    assert torch.equal(celeba.load_celeba(n=30, download=True).images, faces.subset(30).images)
    assert torch.equal(celeba.load_celeba(n=24, download=True).images, faces.images[:24])  # the train pool
    with pytest.raises(ValueError, match="between 1 and 36"):
        celeba.load_celeba(n=37, download=True)


@pytest.mark.parametrize("size", [32, 64])
def test_square_images_from_the_mirror_are_used_whole(isolated, mirror_files, size):
    """The course cannot see whether the real mirror holds 178×218 images or squares: both work."""
    folder = celeba.make_standin_mirror(isolated / "square", rows=(6, 1, 1), seed=5, square=128)
    aligned = celeba.make_standin_mirror(isolated / "aligned", rows=(6, 1, 1), seed=5)
    assert Image.open(io.BytesIO(pq.read_table(folder / TRAIN)["image"][0]["bytes"].as_py())).size == (128, 128)
    square = celeba.load_celeba(root=folder, size=size, n=6, standin=False)
    full = celeba.load_celeba(root=aligned, size=size, n=6, standin=False)
    assert square.is_standin and square.images.shape == (6, 3, size, size)
    assert (square.images.float() - full.images.float()).abs().mean() < 6  # the same crop, shrunk in two steps


def test_the_pinned_checksum_is_checked(mirror, isolated, monkeypatch, capsys):
    pin(monkeypatch, mirror.files)
    assert len(celeba.load_celeba(n=5, download=True, standin=False)) == 5
    assert "not verified" not in capsys.readouterr().out


def test_wrong_bytes_are_deleted_with_a_clear_error(mirror, isolated, monkeypatch):
    pin(monkeypatch, mirror.files)
    content = bytearray(mirror.files[TRAIN])
    content[len(content) // 2] ^= 0xFF  # one byte inside an image: the file is still a readable Parquet file
    mirror.files[TRAIN] = bytes(content)
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    message = str(caught.value)
    assert f"{mirror.url}/{TRAIN}" in message and "has the wrong bytes: its sha256 is" in message
    assert "The download was deleted; run again" in message and "COURSE_CELEBA_URL" in message
    assert not (downloaded(isolated) / TRAIN).exists() and leftovers(isolated) == []


def test_a_file_of_another_size_is_refused_before_it_is_saved(mirror, isolated, monkeypatch):
    pin(monkeypatch, mirror.files)
    mirror.files[TRAIN] += b"extra"
    with pytest.raises(data.DataNotFoundError, match=f"{mirror.url}/{TRAIN} is [0-9,]+ bytes long; the expected"):
        celeba.load_celeba(n=5, download=True, standin=False)
    assert [path for path, _ in mirror.requests] == [TRAIN] and leftovers(isolated) == []


@pytest.mark.parametrize("kind", ["text/html", "application/octet-stream"])
def test_a_web_page_where_data_should_be(mirror, isolated, kind, monkeypatch):
    if kind == "text/html":
        mirror.html.add(TRAIN)
    else:  # a portal that says it sends data but sends its page
        mirror.files[TRAIN] = b"\n  <html><body>Welcome to the hotel wifi</body></html>" * 10
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    message = str(caught.value)
    assert f"{mirror.url}/{TRAIN} sent a web page where a data file should be" in message
    assert "Nothing was saved" in message and "log in" in message and "COURSE_CELEBA_URL" in message
    assert leftovers(isolated) == [] and not (downloaded(isolated) / TRAIN).exists()


def test_a_404_names_the_url_and_the_fix(mirror, isolated):
    del mirror.files[TRAIN]
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    message = str(caught.value)
    assert f"{mirror.url}/{TRAIN} answered 404 Not Found (there is no such file there)" in message
    assert "set COURSE_CELEBA_URL" in message.replace("Set", "set") and "pinned revision" in message
    assert leftovers(isolated) == []


def test_offline_names_the_url(isolated):
    with pytest.raises(data.DataNotFoundError, match=r"could not connect to http://127\.0\.0\.1:9/nobody/data/train"):
        celeba.load_celeba(download=True, standin=False)


def test_a_cut_connection_resumes_where_it_stopped(mirror, isolated, capsys):
    size = len(mirror.files[TRAIN])
    mirror.cut[TRAIN] = (size * 2 // 5, 1)  # the first try stops at 40%
    assert len(celeba.load_celeba(n=5, download=True, standin=False)) == 5
    assert mirror.gets(TRAIN) == [None, f"bytes={size * 2 // 5}-"]  # the second try asks for the rest only
    assert (downloaded(isolated) / TRAIN).read_bytes() == mirror.files[TRAIN]
    assert "was cut" in capsys.readouterr().out and leftovers(isolated) == []


def test_a_download_cut_every_time_is_kept_for_the_next_run(mirror, isolated, monkeypatch):
    size = len(mirror.files[TRAIN])
    mirror.cut[TRAIN] = (size // 3, download.RETRIES)
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    part = downloaded(isolated) / (TRAIN + ".part")
    assert f"the connection to {mirror.url}/{TRAIN} was cut 3 times" in str(caught.value)
    assert f"kept in {part}: run again to resume" in str(caught.value)
    assert part.stat().st_size == size // 3 and not (downloaded(isolated) / TRAIN).exists()
    mirror.requests.clear()
    assert len(celeba.load_celeba(n=5, download=True, standin=False)) == 5  # the next run resumes the .part
    assert mirror.gets(TRAIN) == [f"bytes={size // 3}-"] and not part.exists()


def test_a_web_page_on_resume_leaves_the_kept_part_alone(mirror, isolated):
    size = len(mirror.files[TRAIN])
    mirror.cut[TRAIN] = (size // 2, download.RETRIES)
    with pytest.raises(data.DataNotFoundError):
        celeba.load_celeba(n=5, download=True, standin=False)
    part = downloaded(isolated) / (TRAIN + ".part")
    mirror.html.add(TRAIN)  # the network now answers with its login page
    with pytest.raises(data.DataNotFoundError, match="sent a web page where a data file should be"):
        celeba.load_celeba(n=5, download=True, standin=False)
    assert part.read_bytes() == mirror.files[TRAIN][:size // 2]  # nothing of the page was appended
    mirror.html.clear()
    assert len(celeba.load_celeba(n=5, download=True, standin=False)) == 5


def test_unexpected_columns_are_named(mirror, isolated):
    mirror.files[TRAIN] = edited(mirror.files[TRAIN], lambda t: t.rename_columns(
        ["Smile" if name == "Smiling" else name for name in t.column_names]))
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    message = str(caught.value)
    assert f"The file downloaded from {mirror.url}/{TRAIN} is a Parquet file, but not one of the mirror's" in message
    assert "1 of the 40 attribute columns are missing (Smiling)" in message and "The download was deleted" in message
    assert leftovers(isolated) == [] and not (downloaded(isolated) / TRAIN).exists()


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.set_column(t.column_names.index("Young"), "Young", t["Young"].cast("string")),
     "Young is string"),
    (lambda t: t.drop_columns(["image"]), "there is no 'image' column"),
    (lambda t: t.set_column(t.column_names.index("Male"), "Male",
                            [[2] + t["Male"].to_pylist()[1:]]), r"column Male: attribute values must be -1/1.*found 2"),
])
def test_a_hand_copied_file_with_unexpected_content_is_named(isolated, mirror_files, edit, match):
    folder = isolated / "root" / celeba.MIRROR_FOLDER
    for path in (TRAIN, VALIDATION, TEST):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(mirror_files[path])
    (folder / TRAIN).write_bytes(edited(mirror_files[TRAIN], edit))
    with pytest.raises(data.CorruptDataError, match=f"(?s){folder / TRAIN}.*{match}.*Delete it"):
        celeba.load_celeba(root=isolated / "root", n=5)


def test_two_processes_downloading_at_once(mirror, isolated):
    mirror.delay = 0.25  # the train file takes about 4 s: long enough for the two to meet at the lock
    script = ("from course_lib import celeba; f = celeba.load_celeba(n=12, download=True, standin=False); "
              "print('faces', len(f), int(f.images.sum()))")
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sum("waiting for it to finish" in out for out in outputs) == 1, outputs  # one waited for the other
    results = [line for out in outputs for line in out.splitlines() if line.startswith("faces")]
    assert len(results) == 2 and results[0] == results[1]
    assert mirror.gets(TRAIN) == [None]  # one download, which the other process found done
    assert (downloaded(isolated) / TRAIN).read_bytes() == mirror.files[TRAIN] and leftovers(isolated) == []


def test_the_licence_is_shown_before_the_first_download_once(mirror, isolated, capsys, monkeypatch):
    before = []  # what was printed before each file's download began
    fetch = celeba._fetch_mirror_file

    def spy(split, folder):
        before.append(capsys.readouterr().out)
        fetch(split, folder)

    monkeypatch.setattr(celeba, "_fetch_mirror_file", spy)
    celeba.load_celeba(download=True, standin=False)  # three files
    celeba.load_celeba(n=5, size=64, download=True)  # no download
    home = downloaded(isolated).parent
    shutil.rmtree(downloaded(isolated))
    for prepared in home.glob("*.pt"):
        prepared.unlink()
    celeba.load_celeba(n=5, download=True)  # a new download into the same data folder
    printed = before + [capsys.readouterr().out]
    assert len(before) == 4 and "NON-COMMERCIAL RESEARCH PURPOSES ONLY" in before[0]
    assert "".join(printed).count("NON-COMMERCIAL RESEARCH PURPOSES ONLY") == 1
    terms = (home / celeba.LICENCE_FILE).read_text()
    assert "NON-COMMERCIAL RESEARCH PURPOSES ONLY" in terms and celeba.CELEBA_PAGE in terms
    assert "distributing" in terms and "git" in terms


# ---- the order of the sources ----

def real_copy(drawn, isolated, name):
    """The drawn JPEGs without their STAND-IN mark: to the loader, a real local copy of CelebA."""
    folder = shutil.copytree(drawn["torchvision"], isolated / name, ignore=shutil.ignore_patterns("*.pt"))
    (folder / celeba.STANDIN_MARKER).unlink()
    return folder


def test_a_local_copy_comes_first(mirror, isolated, drawn, monkeypatch):
    root = real_copy(drawn, isolated, "root")
    shared = isolated / "shared"  # a prepared file of other faces in COURSE_DATA_DIR must not win
    shared.mkdir()
    torch.save({"version": 1, "size": 32, "count": 2, "is_standin": False,
                "attribute_names": list(celeba.ATTRIBUTE_NAMES), "files": [],
                "images": torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
                "attributes": torch.zeros(2, 40, dtype=torch.bool)}, shared / "celeba-32px-all.pt")
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    faces = celeba.load_celeba(root=root, download=True, standin=False)
    assert len(faces) == 40 and not faces.is_standin and mirror.requests == []


def test_a_hand_copied_mirror_is_a_local_copy(mirror, isolated, mirror_files):
    folder = isolated / "root" / celeba.MIRROR_FOLDER
    (folder / "data").mkdir(parents=True)
    (folder / TRAIN).write_bytes(mirror_files[TRAIN])
    faces = celeba.load_celeba(root=isolated / "root", n=10, download=True, standin=False)
    assert len(faces) == 10 and mirror.requests == []
    assert (isolated / "root" / "celeba-mirror-32px-train.pt").is_file()
    # n=None needs the other two files: the copy is noted as incomplete and the download completes it
    assert len(celeba.load_celeba(root=isolated / "root", download=True, standin=False)) == 36
    assert [path for path, _ in mirror.requests] == [VALIDATION, TEST]


def test_a_prepared_file_comes_before_the_mirror(mirror, isolated, monkeypatch):
    pool = celeba.load_celeba(n=24, download=True)
    shutil.rmtree(downloaded(isolated))  # only the prepared pool is left: an instructor can hand it out
    shared = isolated / "shared"
    shared.mkdir()
    shutil.move(isolated / "cache" / "generative-course" / "celeba-mirror-32px-train.pt", shared)
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    mirror.requests.clear()
    no_jpeg_reading(monkeypatch)
    faces = celeba.load_celeba(n=10, seed=4, download=True, standin=False)
    assert torch.equal(faces.images, pool.subset(10, seed=4).images) and mirror.requests == []


def test_the_mirror_comes_before_torchvision(mirror, isolated, monkeypatch):
    calls = []
    monkeypatch.setattr(celeba, "_download_torchvision", lambda target: calls.append(target))
    celeba.load_celeba(n=5, download=True, standin=False)
    assert calls == [] and len(mirror.requests) == 1


def test_every_source_tried_is_listed_in_order(mirror, isolated, capsys):
    del mirror.files[TRAIN]
    with pytest.raises(data.DataNotFoundError) as caught:
        celeba.load_celeba(n=5, download=True, standin=False)
    message = str(caught.value)
    steps = ["1. local copies:", "2. prepared files:", "3. the Parquet mirror", "answered 404",
             "4. torchvision's download (Google Drive): the download failed", "Fix it with one of these"]
    assert [message.index(step) for step in steps] == sorted(message.index(step) for step in steps)
    faces = celeba.load_celeba(n=5, download=True)  # standin=None: the same list, under the banner
    out = capsys.readouterr().out
    assert faces.is_standin and "STAND-IN" in out and "answered 404" in out and "4. torchvision's" in out


def test_without_download_the_network_is_not_touched(mirror, isolated, capsys):
    faces = celeba.load_celeba(n=5)
    assert faces.is_standin and mirror.requests == []
    assert "3. the Parquet mirror and 4. torchvision's download: not tried (download=False)" in capsys.readouterr().out


def test_a_marked_standin_mirror_loads_as_the_standin(isolated, capsys):
    folder = celeba.make_standin_mirror(isolated / "root", rows=(8, 1, 1), seed=0)
    faces = celeba.load_celeba(root=folder, n=8)
    assert faces.is_standin and "STAND-IN" in capsys.readouterr().out
    assert (folder / "celeba-standin-mirror-32px-train.pt").is_file()
