import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from course_lib import data


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    """The four original gz files: from the system copy if installed, else prepared by the loader itself."""
    if all((data.SYSTEM_DIR / f"{name}.gz").is_file() for name in data.FILES):
        return {name: data.SYSTEM_DIR / f"{name}.gz" for name in data.FILES}
    folder = data.find_fashion_mnist() / "FashionMNIST" / "raw"
    out = tmp_path_factory.mktemp("gz")
    for name in data.FILES:
        (out / f"{name}.gz").write_bytes(gzip.compress((folder / name).read_bytes(), compresslevel=1))
    return {name: out / f"{name}.gz" for name in data.FILES}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No system copy, an empty cache, no COURSE_DATA_DIR, and a download mirror that refuses at once."""
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    return tmp_path


def copy_files(files, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for path in files.values():
        shutil.copy(path, folder / path.name)
    return folder


def test_loads_the_system_copy_into_the_data_dir(isolated, real_files, monkeypatch):
    copy_files(real_files, data.SYSTEM_DIR)
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "mine"))
    test = data.load_fashion_mnist("test")
    assert test.images.shape == (10000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert test.labels.shape == (10000,) and set(test.labels.tolist()) == set(range(10))
    assert test.classes[0] == "T-shirt/top" and len(test.classes) == 10
    assert (isolated / "mine" / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
    assert len(data.load_fashion_mnist("train")) == 60000


def test_search_order_root_env_cache_system(isolated, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "env"))
    whys = [why for why, _ in data.search_dirs(isolated / "root")]
    folders = [folder for _, folder in data.search_dirs(isolated / "root")]
    assert folders == [isolated / "root", isolated / "env", isolated / "cache" / "generative-course",
                       isolated / "system"]
    assert "root" in whys[0] and "COURSE_DATA_DIR" in whys[1] and "cache" in whys[2] and "system" in whys[3]
    assert data.data_dir(isolated / "root") == isolated / "root"
    assert data.data_dir() == isolated / "env"


def test_an_earlier_folder_wins(isolated, real_files, monkeypatch):
    copy_files(real_files, data.SYSTEM_DIR)
    root = copy_files(real_files, isolated / "root")
    assert data.find_fashion_mnist(root) == root
    assert data.find_fashion_mnist(root) == root  # second time: the unpacked files are used as they are
    assert not (isolated / "cache").exists()


def test_offline_and_nothing_found_gives_one_clear_error(isolated, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "empty"))
    (isolated / "empty").mkdir()
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_fashion_mnist()
    message = str(caught.value)
    for folder in (isolated / "empty", isolated / "cache" / "generative-course", isolated / "system"):
        assert str(folder) in message
    assert "download into" in message and "failed" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message and "COURSE_DATA_DIR" in message
    assert not any(p.name.startswith(".download-") for p in (isolated / "empty").iterdir())


def test_download_false_does_not_try(isolated):
    with pytest.raises(data.DataNotFoundError, match="not tried"):
        data.find_fashion_mnist(download=False)


def test_a_partial_copy_is_reported(isolated, real_files):
    root = isolated / "root"
    root.mkdir()
    shutil.copy(real_files["t10k-images-idx3-ubyte"], root)
    with pytest.raises(data.DataNotFoundError, match="only 1 of 4 files"):
        data.find_fashion_mnist(root, download=False)


def test_a_truncated_gz_file_is_named(isolated, real_files):
    root = copy_files(real_files, isolated / "root")
    victim = root / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[: 1_000_000])
    with pytest.raises(data.CorruptDataError, match=f"{victim}.*damaged"):
        data.load_fashion_mnist(root=root)


def test_a_changed_byte_in_an_unpacked_file_is_named(isolated, real_files):
    root = copy_files(real_files, isolated / "root")
    data.find_fashion_mnist(root)
    victim = root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    content = bytearray(victim.read_bytes())
    content[-1] = (content[-1] + 1) % 10
    victim.write_bytes(bytes(content))
    with pytest.raises(data.CorruptDataError, match=f"{victim}.*wrong content"):
        data.load_fashion_mnist("test", root=root)


def test_a_file_of_the_wrong_size_is_named(isolated, real_files):
    root = copy_files(real_files, isolated / "root")
    victim = root / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(gzip.compress(b"not the labels"))
    with pytest.raises(data.CorruptDataError, match=f"{victim}.*14 bytes.*expected 60008"):
        data.find_fashion_mnist(root)


def test_files_prepared_into_a_shared_folder_are_readable_by_everyone_who_can_read_it(isolated, real_files):
    old = os.umask(0o022)  # what root's shell has when an instructor prepares a hub's shared data folder
    try:
        shared = isolated / "shared"
        data.find_fashion_mnist(copy_files(real_files, shared), download=False)
        modes = {p.name: p.stat().st_mode & 0o777 for p in (shared / "FashionMNIST" / "raw").iterdir()}
        secret = data.write_atomic(isolated / "seed", b"42", private=True)
    finally:
        os.umask(old)
    assert modes == {name: 0o644 for name in data.FILES}
    assert secret.stat().st_mode & 0o777 == 0o600


def test_a_file_you_may_not_read_is_not_called_damaged(isolated, real_files, monkeypatch):
    root = copy_files(real_files, isolated / "root")
    data.find_fashion_mnist(root, download=False)
    denied = root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    real_read = Path.read_bytes

    def read_bytes(path):  # root reads any file, so the learner's "Permission denied" is simulated
        if path == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(PermissionError) as raised:
        data.load_fashion_mnist("test", root=root)
    message = str(raised.value)
    assert str(denied) in message and "may not read it" in message and "chmod -R a+rX" in message
    assert "damaged" not in message and "Delete" not in message


def test_two_processes_preparing_the_cache_at_once(isolated, real_files):
    copy_files(real_files, data.SYSTEM_DIR)
    script = (
        "import sys; from pathlib import Path; from course_lib import data\n"
        "data.SYSTEM_DIR = Path(sys.argv[1])\n"
        "print(data.find_fashion_mnist(download=False))\n"
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(isolated / "cache"))
    env.pop("COURSE_DATA_DIR", None)
    runs = [subprocess.Popen([sys.executable, "-c", script, str(data.SYSTEM_DIR)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    raw = isolated / "cache" / "generative-course" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.FILES)  # no leftover temporary files
    assert len(data.load_fashion_mnist("test")) == 10000


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        data.write_atomic(target, b"x" * 100)
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_saves_objects_with_torch_save(tmp_path):
    path = data.write_atomic(tmp_path / "sub" / "x.pt", {"a": torch.arange(3)})
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.arange(3))
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]


def small_data(n=20):
    images = torch.arange(n * 4, dtype=torch.uint8).reshape(n, 1, 2, 2)
    return data.ImageData(images, torch.arange(n) % 3, ("a", "b", "c"))


def test_subset_by_number_and_fraction_repeats_with_the_seed():
    full = small_data()
    part = full.subset(5, seed=1)
    assert len(part) == 5 and part.classes == full.classes
    assert torch.equal(part.images, full.subset(5, seed=1).images)
    assert not torch.equal(part.images, full.subset(5, seed=2).images)
    assert len(full.subset(fraction=0.25)) == 5
    rows = {tuple(img.flatten().tolist()): label for img, label in zip(full.images, full.labels.tolist())}
    assert all(rows[tuple(img.flatten().tolist())] == lab for img, lab in zip(part.images, part.labels.tolist()))


@pytest.mark.parametrize("kwargs, match", [({}, "exactly one"), ({"n": 3, "fraction": 0.5}, "exactly one"),
                                           ({"n": 0}, "n=0"), ({"n": 21}, "between 1 and 20"),
                                           ({"fraction": 1.5}, "fraction=1.5")])
def test_subset_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_data().subset(**kwargs)


def test_load_with_n_gives_a_subset(isolated, real_files):
    root = copy_files(real_files, isolated / "root")
    few = data.load_fashion_mnist("test", root=root, n=100, seed=3)
    assert len(few) == 100
    assert torch.equal(few.images, data.load_fashion_mnist("test", root=root).subset(100, seed=3).images)


def test_as_float_is_in_unit_range():
    floats = small_data().as_float()
    assert floats.dtype == torch.float32 and floats.min() >= 0 and floats.max() <= 1
    assert floats.max() == pytest.approx(79 / 255)


def test_image_data_checks_shapes():
    with pytest.raises(ValueError, match=r"\(n, 1, height, width\)"):
        data.ImageData(torch.zeros(3, 28, 28), torch.zeros(3), ("a",))
    with pytest.raises(ValueError, match="labels must have shape"):
        data.ImageData(torch.zeros(3, 1, 2, 2), torch.zeros(4), ("a",))


def test_split_is_checked(isolated):
    with pytest.raises(ValueError, match="split='validation'"):
        data.load_fashion_mnist("validation")


def test_an_unwritable_data_folder_falls_back_to_the_cache(isolated, real_files, monkeypatch):
    copy_files(real_files, data.SYSTEM_DIR)
    (isolated / "a-file").write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "a-file" / "data"))  # nothing can be written below a file
    assert data.find_fashion_mnist(download=False) == isolated / "cache" / "generative-course"


def test_no_writable_folder_gives_one_clear_error(isolated, real_files, monkeypatch):
    copy_files(real_files, data.SYSTEM_DIR)
    (isolated / "a-file").write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "a-file" / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "a-file" / "cache"))
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_fashion_mnist(download=False)
    message = str(caught.value)
    assert f"found in {data.SYSTEM_DIR}" in message and "Set COURSE_DATA_DIR to a folder you can write to" in message
    assert str(isolated / "a-file" / "data") in message and str(isolated / "a-file" / "cache") in message
