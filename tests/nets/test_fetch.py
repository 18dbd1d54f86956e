"""``optnet data fetch``: official layouts from a local HTTP server, resume, checksums, offline.

A server on 127.0.0.1 (a thread) serves tiny archives in the official formats under the
official file names, honours ``Range`` and can cut responses short. Fetches go through the CLI
with ``--url`` (the mirror option) and ``--md5`` (the tiny files' checksums); without ``--md5``
the published checksums apply, which the tiny files must fail.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import socket
import struct
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_nets.data import DatasetError, default_data_dir, load_dataset
from optnet_nets.fetch import SOURCES, default_root, fetch, parse_md5
from optnet_nets.fetch import datasets as fetch_module
from optnet_theory.errors import OptnetError
from tests.nets.data_files import write_cifar10, write_cifar100, write_idx_dir, write_pickle


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    cuts: dict[str, int]  # file -> how many of its next responses stop halfway
    honour_range: bool
    misplace_range: bool  # answer a Range with the file's start (a broken mirror)
    send_length: bool  # send Content-Length
    reset: bool  # end a cut response with a TCP reset instead of a clean close
    requests: list[tuple[str, str | None]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (the http.server hook name)
        srv = self.server
        name = self.path.lstrip("/")
        asked = self.headers.get("Range")
        srv.requests.append((name, asked))
        blob = srv.files.get(name)
        if blob is None:
            self.send_error(404)
            return
        start = 0
        if asked and srv.honour_range:
            start = int(asked.removeprefix("bytes=").removesuffix("-"))
            if start >= len(blob):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(blob)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
        else:
            self.send_response(200)
        body = blob[start:]
        if srv.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.misplace_range:
            body = blob[: len(body)]
        if srv.cuts.get(name, 0) > 0:
            srv.cuts[name] -= 1
            self.wfile.write(body[: len(body) // 2])
            if srv.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))  # fmt: skip
                self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def server(monkeypatch) -> Iterator[_Server]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.cuts, srv.requests = {}, {}, []
    srv.honour_range, srv.misplace_range = True, False
    srv.send_length, srv.reset = True, False
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/"


def _tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.getvalue()


def _publish(name: str, workdir: Path) -> tuple[dict[str, bytes], np.ndarray]:
    """Tiny files of ``name`` under their official names, and the training labels they hold."""
    if name == "cifar10":
        truth = write_cifar10(workdir)
        return {"cifar-10-python.tar.gz": _tar_gz(truth["folder"])}, truth["train_labels"]
    if name == "cifar100":
        made = write_cifar100(workdir)
        labels = np.asarray(made["train"][b"fine_labels"])
        return {"cifar-100-python.tar.gz": _tar_gz(made["folder"])}, labels
    arrays = write_idx_dir(workdir / name, gz=True)
    files = {f.name: (workdir / name / f.name).read_bytes() for f in SOURCES[name].files}
    return files, arrays["train-labels-idx1-ubyte"]


def _md5_flags(files: dict[str, bytes]) -> list[str]:
    return [
        flag
        for file, blob in files.items()
        for flag in ("--md5", f"{file}={hashlib.md5(blob).hexdigest()}")
    ]


def _fetch_cli(capsys, name: str, root: Path, srv: _Server, *extra: str) -> tuple[int, str, str]:
    code = main(["data", "fetch", name, "--root", str(root), "--url", _url(srv), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("name", list(SOURCES))
def test_fetch_installs_the_readers_layout(tmp_path, capsys, server, name):
    files, labels = _publish(name, tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    code, out, err = _fetch_cli(capsys, name, root, server, *_md5_flags(files), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["path"] == str(root / SOURCES[name].folder)
    assert result["md5_verified"] is True and result["already_present"] is False
    assert [f["name"] for f in result["files"]] == list(files)
    assert result["bytes"] == sum(len(b) for b in files.values())
    assert all(r is None for _, r in server.requests)  # a fresh download asks for no range
    # Only the dataset folder is left: no part file, no staging directory, no archive.
    assert [p.name for p in root.iterdir()] == [SOURCES[name].folder]
    dataset = load_dataset(name, result["path"])
    assert np.array_equal(dataset.train_labels.numpy(), labels)
    # A second fetch finds the folder and downloads nothing.
    asked = len(server.requests)
    code, out, _ = _fetch_cli(capsys, name, root, server, "--json")
    assert code == 0 and json.loads(out)["already_present"] is True
    assert len(server.requests) == asked


def test_default_root_is_the_readers_default(tmp_path, monkeypatch, server):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "optnet"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG spec says
    assert default_root() == Path.home() / ".cache" / "optnet"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch_module, "FASHION_MNIST_DIR", tmp_path / "no-debian-package")
    files, labels = _publish("fashion-mnist", tmp_path / "src")
    server.files.update(files)
    md5 = {file: hashlib.md5(blob).hexdigest() for file, blob in files.items()}
    result = fetch("fashion-mnist", url=_url(server), md5=md5)
    assert Path(result.path) == tmp_path / "cache" / "optnet" / "fashion-mnist"
    assert default_data_dir("fashion-mnist") == Path(result.path)
    dataset = load_dataset("fashion-mnist")  # no directory given: the fetch location
    assert np.array_equal(dataset.train_labels.numpy(), labels)
    # With Debian's directory present, Fashion-MNIST is read from there instead.
    monkeypatch.setattr(fetch_module, "FASHION_MNIST_DIR", tmp_path)
    assert default_data_dir("fashion-mnist") == tmp_path
    for name in ("cifar10", "cifar100", "mnist"):
        assert default_data_dir(name) == tmp_path / "cache" / "optnet" / SOURCES[name].folder


def test_truncated_response_is_resumed_with_a_range_request(tmp_path, capsys, server):
    files, labels = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, blob), = files.items()
    server.cuts[archive] = 1
    root = tmp_path / "root"
    code, out, err = _fetch_cli(capsys, "cifar10", root, server, *_md5_flags(files), "--json")
    assert code == 0, err
    assert server.requests == [(archive, None), (archive, f"bytes={len(blob) // 2}-")]
    assert json.loads(out)["files"][0]["bytes"] == len(blob)
    dataset = load_dataset("cifar10", root)
    assert np.array_equal(dataset.train_labels.numpy(), labels)


def test_a_reset_connection_without_length_is_resumed_not_taken_as_complete(
    tmp_path, capsys, server
):
    # Without Content-Length only the broken connection tells that the file is incomplete.
    files, labels = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, _blob), = files.items()
    server.cuts[archive], server.send_length, server.reset = 1, False, True
    code, _, err = _fetch_cli(capsys, "cifar10", tmp_path / "root", server, *_md5_flags(files))
    assert code == 0, err
    assert len(server.requests) == 2 and server.requests[1][1] is not None
    dataset = load_dataset("cifar10", tmp_path / "root")
    assert np.array_equal(dataset.train_labels.numpy(), labels)


def test_a_complete_part_left_by_a_crash_is_verified_not_downloaded_again(
    tmp_path, capsys, server
):
    files, _ = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, blob), = files.items()
    root = tmp_path / "root"
    root.mkdir()
    (root / f".cifar10.{archive}.part").write_bytes(blob)  # downloaded, then killed
    code, _, err = _fetch_cli(capsys, "cifar10", root, server, *_md5_flags(files))
    assert code == 0, err
    assert server.requests == [(archive, f"bytes={len(blob)}-")]  # answered 416
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-py"]


def test_a_server_ignoring_range_restarts_the_file(tmp_path, capsys, server):
    files, _ = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, _blob), = files.items()
    server.cuts[archive], server.honour_range = 1, False
    code, _, err = _fetch_cli(capsys, "cifar10", tmp_path / "root", server, *_md5_flags(files))
    assert code == 0, err
    assert [r for _, r in server.requests][1] is not None  # resume asked, whole file answered


def test_a_wrongly_placed_resume_is_caught_by_the_checksum(tmp_path, capsys, server):
    # Negative control of resuming: a mirror that answers a Range with the wrong bytes.
    files, _ = _publish("cifar10", tmp_path / "src")
    server.files.update(files)
    (archive, _blob), = files.items()
    server.cuts[archive], server.misplace_range = 1, True
    root = tmp_path / "root"
    code, _, err = _fetch_cli(capsys, "cifar10", root, server, *_md5_flags(files))
    assert code == 2 and "has MD5" in err and len(err.strip().splitlines()) == 1
    assert _everything_under(root) == []


def test_an_interrupted_fetch_resumes_on_the_next_call(tmp_path, capsys, server):
    files, labels = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    first = next(iter(files))
    server.cuts[first] = 99  # every response stops halfway: the tries run out
    root = tmp_path / "root"
    code, _, err = _fetch_cli(capsys, "mnist", root, server, *_md5_flags(files))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "run the same command again" in err
    part = root / f".mnist.{first}.part"
    assert 0 < part.stat().st_size < len(files[first])
    assert not (root / "mnist").exists()
    kept = part.stat().st_size
    server.cuts[first], server.requests[:] = 0, []
    code, _, err = _fetch_cli(capsys, "mnist", root, server, *_md5_flags(files))
    assert code == 0, err
    assert server.requests[0] == (first, f"bytes={kept}-")
    dataset = load_dataset("mnist", root / "mnist")
    assert np.array_equal(dataset.train_labels.numpy(), labels)


@pytest.mark.parametrize("name", ["cifar100", "fashion-mnist"])
def test_published_checksums_reject_other_files_and_leave_nothing(tmp_path, capsys, server, name):
    files, _ = _publish(name, tmp_path / "src")
    server.files.update(files)
    root = tmp_path / "root"
    code, _, err = _fetch_cli(capsys, name, root, server)  # the published MD5s apply
    assert code == 2 and len(err.strip().splitlines()) == 1
    first = SOURCES[name].files[0]
    assert f"expected {first.md5}" in err and _url(server) + first.name in err
    assert _everything_under(root) == []
    # Negative control: the same files with their own checksums install.
    code, _, err = _fetch_cli(capsys, name, root, server, *_md5_flags(files))
    assert code == 0, err


def test_a_late_checksum_mismatch_removes_the_earlier_files_too(tmp_path, capsys, server):
    files, _ = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    flags = _md5_flags(files)
    flags[-1] = flags[-1].split("=")[0] + "=" + "0" * 32  # the last file's checksum is wrong
    root = tmp_path / "root"
    code, _, err = _fetch_cli(capsys, "mnist", root, server, *flags)
    assert code == 2 and "0" * 32 in err
    assert len(server.requests) == 4  # the first three were downloaded and verified
    assert _everything_under(root) == []


def test_no_server_is_one_line_naming_the_url_and_data_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = tmp_path / "root"
    url = f"http://127.0.0.1:{port}/"
    code = main(["data", "fetch", "cifar10", "--root", str(root), "--url", url])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{url}cifar-10-python.tar.gz" in err and "--data-dir" in err
    assert _everything_under(root) == []


def test_http_errors_try_the_next_mirror_then_name_every_url(tmp_path, server, monkeypatch):
    files, _ = _publish("mnist", tmp_path / "src")
    md5 = {file: hashlib.md5(blob).hexdigest() for file, blob in files.items()}
    mirrors = (_url(server) + "gone/", _url(server))
    monkeypatch.setitem(SOURCES, "mnist", SOURCES["mnist"].__class__(
        **{**SOURCES["mnist"].__dict__, "mirrors": mirrors}
    ))  # fmt: skip
    with pytest.raises(OptnetError, match=r"HTTP 404.* nor .*HTTP 404.*--data-dir"):
        fetch("mnist", tmp_path / "root", md5=md5)
    server.files.update(files)
    result = fetch("mnist", tmp_path / "root", md5=md5)
    assert all(f.url.startswith(mirrors[1]) and "/gone/" not in f.url for f in result.files)


def test_an_archive_reaching_outside_its_folder_is_refused(tmp_path, capsys, server):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/../../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    blob = buffer.getvalue()
    server.files["cifar-10-python.tar.gz"] = blob
    root = tmp_path / "root"
    code, _, err = _fetch_cli(capsys, "cifar10", root, server, "--md5",
                              hashlib.md5(blob).hexdigest())  # fmt: skip
    assert code == 2 and "expected only files and folders under cifar-10-batches-py/" in err
    assert _everything_under(root) == [] and not (tmp_path / "escape").exists()


def test_md5_flag_forms():
    assert parse_md5("cifar10", ["AB" * 16]) == {"cifar-10-python.tar.gz": "ab" * 16}
    assert parse_md5("mnist", [f"t10k-labels-idx1-ubyte.gz={'1' * 32}"]) == {
        "t10k-labels-idx1-ubyte.gz": "1" * 32
    }
    for name, item, message in (
        ("mnist", "1" * 32, "give --md5 FILE=HEX"),
        ("mnist", f"train.gz={'1' * 32}", "no file 'train.gz'"),
        ("cifar10", "xyz", "32 hexadecimal digits"),
        ("svhn", "1" * 32, "fetchable datasets: cifar10"),
    ):
        with pytest.raises(OptnetError, match=message):
            parse_md5(name, [item])


def test_train_without_data_names_the_fetch_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["train", "--model", "resnet20", "--dataset", "cifar10", "--epochs", "1",
                 "--out", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.strip().endswith("download it with: optnet data fetch cifar10")


def test_the_hint_is_the_command_that_makes_the_directory_work(tmp_path, capsys, server):
    files, labels = _publish("mnist", tmp_path / "src")
    server.files.update(files)
    wanted = tmp_path / "my data"
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", wanted)
    message = str(info.value)
    command, _, then = message.partition("download it with: ")[2].partition(", then pass ")
    assert command == f"optnet data fetch mnist --root {shlex.quote(str(wanted))}"
    argv = shlex.split(command)[1:]
    assert main([*argv, "--url", _url(server), *_md5_flags(files)]) == 0
    data_dir = shlex.split(then.removeprefix("--data-dir "))[0]
    assert np.array_equal(load_dataset("mnist", data_dir).train_labels.numpy(), labels)


def test_a_corrupt_copy_gets_the_readers_error_not_a_fetch_hint(tmp_path):
    # Negative control of the hint: the folder exists, so fetching would not repair it.
    write_cifar10(tmp_path)
    write_pickle(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": []})
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar10", tmp_path)
    assert "test_batch" in str(info.value) and "optnet data fetch" not in str(info.value)
