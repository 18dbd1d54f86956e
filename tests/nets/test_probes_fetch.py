"""Issue 24's probes on ``optnet data fetch`` (item 4, and its item-6 one-liners), each beside
its negative control: "already present" only for files that check out, the size cap, the overall
deadline, stale staging folders, concurrent fetches into one root, ``--url`` as a base or a
file's URL, and one line for a malformed URL. The local HTTP server is test_fetch.py's.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from optnet_nets.cli import main
from optnet_nets.fetch import MANIFEST_NAME, SOURCES, fetch
from optnet_nets.fetch import transfer as fetch_transfer
from optnet_nets.fetch.sources import RemoteFile
from optnet_theory.errors import OptnetError
from tests.nets.test_fetch import _md5_flags, _publish, _url, server  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _cli(capsys, name: str, root: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["data", "fetch", name, "--root", str(root), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(code: int, err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert lines[0].startswith("optnet data: error:"), err


def _md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(blob).hexdigest() for name, blob in files.items()}


# ------------------------------------------------------------------ already present
def test_an_empty_folder_is_not_present_it_is_filled(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    (root / "mnist").mkdir(parents=True)
    code, out, err = _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files),
                          "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["already_present"] is False, err
    assert len(server.requests) == 4 and (root / "mnist" / MANIFEST_NAME).is_file()
    # control: now it checks out, and is present without a request
    code, out, _ = _cli(capsys, "mnist", root, "--url", _url(server), "--json")
    assert code == 0 and json.loads(out)["already_present"] is True
    assert json.loads(out)["md5_verified"] is True and len(server.requests) == 4


@pytest.mark.parametrize("damage", ["remove", "truncate", "flip"])
def test_a_folder_that_does_not_check_out_is_one_line(tmp_path, capsys, server, damage):  # noqa: F811
    files, _ = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    assert _cli(capsys, "cifar10", root, "--url", _url(server), *_md5_flags(files))[0] == 0
    batch = root / "cifar-10-batches-py" / "data_batch_3"
    if damage == "remove":
        batch.unlink()
    elif damage == "truncate":
        batch.write_bytes(batch.read_bytes()[:-1])
    else:
        blob = bytearray(batch.read_bytes())
        blob[100] ^= 1
        batch.write_bytes(bytes(blob))
    code, _, err = _cli(capsys, "cifar10", root, "--url", _url(server))
    _one_line(code, err, "does not check out (data_batch_3")


def test_a_hand_made_idx_folder_checks_out_by_md5(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("fashion-mnist", tmp_path / "src")
    folder = tmp_path / "root" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    code, out, _ = _cli(capsys, "fashion-mnist", tmp_path / "root", *_md5_flags(files), "--json")
    assert code == 0 and json.loads(out)["already_present"] is True  # control: the right files
    code, _, err = _cli(capsys, "fashion-mnist", tmp_path / "root")  # the published MD5s
    _one_line(code, err, "has MD5")


# ------------------------------------------------------------------ size cap and deadline
def test_a_file_over_its_cap_is_stopped_and_removed(tmp_path, capsys, server, monkeypatch):  # noqa: F811
    files, _ = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, blob), = files.items()
    published = SOURCES["cifar10"]
    monkeypatch.setattr(fetch_transfer, "SIZE_MARGIN", 0)
    small = RemoteFile(archive, published.files[0].md5, len(blob) // 2)  # cap < the file
    monkeypatch.setitem(SOURCES, "cifar10", published.__class__(
        **{**published.__dict__, "files": (small,)}))  # fmt: skip
    root = tmp_path / "root"
    for send_length in (True, False):  # refused from the header, or while the body arrives
        server.send_length = send_length
        code, _, err = _cli(capsys, "cifar10", root, "--url", _url(server), *_md5_flags(files))
        _one_line(code, err, "over the cap")
        assert not any(root.glob(".cifar10.*.part"))
    monkeypatch.setitem(SOURCES, "cifar10", published)  # control: the true size fits its cap
    assert _cli(capsys, "cifar10", root, "--url", _url(server), *_md5_flags(files))[0] == 0


def test_the_overall_deadline_stops_and_keeps_the_part(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    code, _, err = _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files),
                        "--deadline", "1e-9")  # fmt: skip
    _one_line(code, err, "overall deadline passed")
    assert "run the same command again" in err and not (root / "mnist").exists()
    code, _, err = _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files))
    assert code == 0, err  # control: with time, the same fetch completes
    _one_line(*_cli(capsys, "mnist", root, "--deadline", "nan")[::2], "--deadline")


# ------------------------------------------------------------------ staging and concurrency
def test_a_stale_staging_folder_is_cleaned_up(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    stale = root / ".mnist-k1lled"
    (stale / "mnist").mkdir(parents=True)
    (stale / "mnist" / "half").write_bytes(b"x" * 100)
    other = root / ".fashion-mnist-k1lled"  # another dataset's: not ours to remove
    other.mkdir()
    assert _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files))[0] == 0
    assert not stale.exists() and other.is_dir()


def test_concurrent_fetches_into_one_root_are_serialised(tmp_path, server):  # noqa: F811
    files, labels = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    results: list[object] = []

    def one() -> None:
        try:
            results.append(fetch("mnist", root, url=_url(server), md5=_md5s(files)))
        except Exception as exc:  # noqa: BLE001 (recorded, asserted below)
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.already_present for r in results) == [False, True, True]  # type: ignore
    assert len(server.requests) == 4  # each file downloaded once


def test_a_fetch_held_up_past_its_deadline_is_one_line(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    code = ("import sys, time; from optnet_nets.folders.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'optnet data fetch'):\n"
            "    print('held', flush=True); time.sleep(600)")  # fmt: skip
    other = subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        code_, _, err = _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files),
                             "--deadline", "1")  # fmt: skip
        assert code_ == 2 and f"in use by optnet data fetch (pid {other.pid}" in err
        assert err.strip().splitlines()[-1].startswith("optnet data: error:")
        assert "waited 1 s" in err and server.requests == []
    finally:
        other.kill()
        other.wait()
        other.stdout.close()
    assert _cli(capsys, "mnist", root, "--url", _url(server), *_md5_flags(files))[0] == 0


# ------------------------------------------------------------------ --url
@pytest.mark.parametrize("form", ["base-no-slash", "file", "file-with-query", "other-archive"])
def test_url_takes_a_base_or_a_file_url(tmp_path, capsys, server, form):  # noqa: F811
    files, _ = _publish("cifar10", tmp_path / "src")
    (archive, blob), = files.items()
    name = "mirror-copy.tar.gz" if form == "other-archive" else archive
    server.files[f"mirror/{name}"] = server.files[f"mirror/{name}?token=1"] = blob
    url = {
        "base-no-slash": _url(server) + "mirror",
        "file": _url(server) + f"mirror/{archive}",
        "file-with-query": _url(server) + f"mirror/{archive}?token=1",
        "other-archive": _url(server) + f"mirror/{name}",
    }[form]
    code, out, err = _cli(capsys, "cifar10", tmp_path / "root", "--url", url,
                          *_md5_flags(files), "--json")  # fmt: skip
    assert code == 0, err
    assert [r[0].partition("?")[0] for r in server.requests] == [f"mirror/{name}"]
    assert json.loads(out)["files"][0]["url"].endswith(f"mirror/{name}" + url.partition(name)[2])


def test_a_file_url_of_a_multi_file_set_gives_its_base(tmp_path, capsys, server):  # noqa: F811
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update({f"m/{k}": v for k, v in files.items()})
    first = next(iter(files))
    code, _, err = _cli(capsys, "mnist", tmp_path / "root", "--url", _url(server) + f"m/{first}",
                        *_md5_flags(files))  # fmt: skip
    assert code == 0, err
    assert sorted(r[0] for r in server.requests) == sorted(f"m/{k}" for k in files)


@pytest.mark.parametrize(
    "url", ["htp://host/", "http://", "http://[::1/", "http://host:99999/", "://x", "mirror/",
            "http://host/a b/", "ftp://host/"],
)
def test_a_malformed_url_is_one_line(tmp_path, capsys, url):
    code, _, err = _cli(capsys, "cifar10", tmp_path / "root", "--url", url)
    _one_line(code, err, "is not an http(s) URL")
    assert not (tmp_path / "root").exists()


def test_the_url_rules_directly():
    urls = fetch_transfer.file_urls(SOURCES["mnist"], "https://m.org/data/t10k-images-idx3-ubyte.gz")
    assert urls["train-labels-idx1-ubyte.gz"] == ["https://m.org/data/train-labels-idx1-ubyte.gz"]
    assert fetch_transfer.file_urls(SOURCES["mnist"], None)["t10k-labels-idx1-ubyte.gz"][0] == (
        SOURCES["mnist"].mirrors[0] + "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(OptnetError, match="not an http"):
        fetch_transfer.file_urls(SOURCES["mnist"], "file:///etc/passwd")
