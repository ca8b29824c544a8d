"""course_lib.download against a local HTTP server: whole files or nothing, resumed after cuts, checked, locked."""
import hashlib
import subprocess
import sys

import pytest

from course_lib import data, download
from http_server import Mirror  # tests/http_server.py

CONTENT = b"MAGIC" + bytes(range(256)) * 200  # 51,205 bytes


@pytest.fixture
def server():
    served = Mirror({"f.bin": CONTENT})
    yield served
    served.stop()


def fetch(server, tmp_path, **checks):
    return download.fetch(f"{server.url}/f.bin", tmp_path / "out" / "f.bin", magic=b"MAGIC",
                          hint="HINT", fix="FIX", **checks)


def test_a_whole_file_arrives_checked_and_nothing_else_is_left(server, tmp_path):
    digest = fetch(server, tmp_path, size=len(CONTENT), sha256=hashlib.sha256(CONTENT).hexdigest())
    assert (tmp_path / "out" / "f.bin").read_bytes() == CONTENT and digest == hashlib.sha256(CONTENT).hexdigest()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["f.bin"]


@pytest.mark.parametrize("checks, match", [
    ({"size": len(CONTENT) + 1}, "f.bin is 51,205 bytes long; the expected file has 51,206.*HINT"),
    ({"sha256": "0" * 64}, "has the wrong bytes: its sha256 is [0-9a-f]{64}, the expected one is 0{64}. FIX"),
])
def test_the_wrong_file_is_refused_and_deleted(server, tmp_path, checks, match):
    with pytest.raises(data.CorruptDataError, match=match):
        fetch(server, tmp_path, **checks)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_content_check_deletes_the_file(server, tmp_path):
    def check(part):
        assert part.read_bytes() == CONTENT  # the whole file is there when the check runs
        raise data.CorruptDataError("not the right columns")

    with pytest.raises(data.CorruptDataError, match="not the right columns"):
        fetch(server, tmp_path, check=check)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_wrong_start_is_refused_before_anything_is_saved(server, tmp_path):
    server.files["f.bin"] = b"NOPE" + CONTENT
    with pytest.raises(data.CorruptDataError, match=r"does not start as it should \(b'NOPE.*expected b'MAGIC'.*HINT"):
        fetch(server, tmp_path)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_cut_is_resumed_with_a_range_request(server, tmp_path, capsys):
    server.cut["f.bin"] = (20_000, 2)
    fetch(server, tmp_path)
    assert server.gets("f.bin") == [None, "bytes=20000-", "bytes=20000-"]  # the second cut gave nothing new
    assert (tmp_path / "out" / "f.bin").read_bytes() == CONTENT
    assert capsys.readouterr().out.count("was cut") == 2


def test_a_server_error_is_tried_again_but_a_refusal_is_not(server, tmp_path):
    server.fail["f.bin"] = (503, 1)
    fetch(server, tmp_path)
    assert server.gets("f.bin") == [None, None] and (tmp_path / "out" / "f.bin").read_bytes() == CONTENT
    server.requests.clear()
    server.fail["f.bin"] = (403, 1)
    with pytest.raises(data.DataNotFoundError, match="f.bin answered 403 Forbidden \\(the server refused\\).*HINT"):
        download.fetch(f"{server.url}/f.bin", tmp_path / "again", hint="HINT")
    assert server.gets("f.bin") == [None] and not (tmp_path / "again").exists()


def test_a_whole_part_file_is_finished_without_downloading_again(server, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.bin.part").write_bytes(CONTENT)  # a run that ended between the last byte and the rename
    fetch(server, tmp_path, sha256=hashlib.sha256(CONTENT).hexdigest())
    assert server.gets("f.bin") == [f"bytes={len(CONTENT)}-"]  # answered 416: nothing more to send
    assert (tmp_path / "out" / "f.bin").read_bytes() == CONTENT


def test_a_part_of_another_file_is_replaced(server, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.bin.part").write_bytes(b"x" * (len(CONTENT) + 10))  # longer than the file: not its part
    fetch(server, tmp_path)
    assert server.gets("f.bin") == [f"bytes={len(CONTENT) + 10}-", None]
    assert (tmp_path / "out" / "f.bin").read_bytes() == CONTENT


def test_a_second_process_waits_for_the_lock(tmp_path):
    script = ("import sys; from course_lib import download\n"
              "with download.lock(sys.argv[1]):\n    print('got it', flush=True)\n")
    with download.lock(tmp_path):
        other = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        first = other.stdout.readline()  # what it says while this process holds the lock
    rest = other.communicate(timeout=120)[0]
    assert "waiting for it to finish" in first and rest.strip() == "got it"
