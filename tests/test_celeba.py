import os
import shutil
import subprocess
import sys

import pytest
import torch
import torchvision

from course_lib import celeba, data


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """40 stand-in faces in each layout, drawn once; tests copy them."""
    base = tmp_path_factory.mktemp("drawn")
    return {layout: celeba.make_standin_celeba(base / layout, n=40, seed=1, layout=layout)
            for layout in ("torchvision", "kaggle")}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty cache and no COURSE_DATA_DIR."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    return tmp_path


def copy(drawn, isolated, layout="torchvision"):
    return shutil.copytree(drawn[layout], isolated / "root", ignore=shutil.ignore_patterns("*.pt"))


def no_jpeg_reading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a JPEG was opened")
    monkeypatch.setattr(celeba.Image, "open", refuse)


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
    image = celeba.Image.new("RGB", celeba.ALIGNED_SIZE, (255, 0, 0))
    celeba.ImageDraw.Draw(image).rectangle(celeba.CROP_BOX, fill=(0, 0, 255))  # blue exactly where the crop is
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
    assert list(root.rglob("*")) == []  # no zip, no scratch folder: the next try starts clean


def test_any_other_download_failure_is_reported_too(isolated, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("To download files from GDrive, 'gdown' is required.")

    monkeypatch.setattr(torchvision.datasets.celeba, "download_file_from_google_drive", offline)
    with pytest.raises(data.DataNotFoundError, match="(?s)the download failed .*gdown.*Kaggle"):
        celeba.load_celeba(root=isolated / "root", download=True)
    assert list((isolated / "root").iterdir()) == []


def test_the_standin_is_drawn_once_and_announced(isolated, monkeypatch, capsys):
    faces = celeba.load_celeba(n=30)
    assert faces.is_standin and len(faces) == 30
    assert "STAND-IN" in capsys.readouterr().out
    folder = isolated / "cache" / "generative-course" / "celeba-standin"
    assert (folder / "STAND-IN.txt").is_file() and len(list(folder.glob("celeba/img_align_celeba/*.jpg"))) == 2000
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


def test_standin_attributes_are_visible_in_the_pixels(tmp_path, isolated):
    faces = celeba.load_celeba(root=celeba.make_standin_celeba(tmp_path / "s", n=200, seed=0), size=32)
    grey = faces.as_float().mean(1)  # (200, 32, 32)

    def region_gap(name, rows, cols):
        mask = faces.attribute(name)
        assert 20 < mask.sum() < 180, name  # both groups are well represented
        region = grey[:, rows, cols].mean((1, 2))
        return (region[mask].mean() - region[~mask].mean()).item()

    eyes, mouth = (slice(14, 20), slice(9, 24)), (slice(23, 29), slice(11, 21))
    assert region_gap("Eyeglasses", *eyes) < -0.05  # dark frames over the eyes
    assert region_gap("Smiling", *mouth) > 0.05  # white teeth in the mouth region
    assert abs(region_gap("Smiling", *eyes)) < 0.03  # a smile does not change the eyes
    # A linear classifier on the pixels tells glasses and smiles apart on faces it has not seen.
    x = faces.as_float().flatten(1)
    for name in ("Eyeglasses", "Smiling", "Male", "Blond_Hair"):
        y = faces.attribute(name).float()
        w = torch.linalg.lstsq(torch.cat([x[:150], torch.ones(150, 1)], 1), y[:150, None] * 2 - 1,
                               driver="gelsd").solution
        predicted = torch.cat([x[150:], torch.ones(50, 1)], 1) @ w > 0
        assert (predicted.squeeze(1) == y[150:].bool()).float().mean() > 0.8, name


def test_data_module_reexports_celeba():
    assert data.load_celeba is celeba.load_celeba and data.FaceData is celeba.FaceData
    from course_lib.data import make_standin_celeba  # noqa: F401
    with pytest.raises(AttributeError):
        data.no_such_name
