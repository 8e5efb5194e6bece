"""Tests of iapix.download against a local HTTP server (no real network).

The server serves a small but real sketch-rnn file (30/5/5 pig sketches from Google's test split)
and can be told to honour or ignore Range requests, to drop the connection mid-file, or to 404.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from iapix import download as dl

PIG = Path("/work/shared/data/quickdraw/quickdraw_stimulus_generation/pig.npz")
COUNTS = (30, 5, 5)


def object_array(items: list[np.ndarray]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, s in enumerate(items):
        arr[i] = s
    return arr


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.fixture(scope="module")
def sketches() -> list[np.ndarray]:
    with warnings.catch_warnings(), np.load(PIG, allow_pickle=True, encoding="latin1") as d:
        warnings.filterwarnings("ignore", message=r"numpy\.core", category=DeprecationWarning)  # numpy-1 pickle
        return list(d["sketches"][:40])


@pytest.fixture(scope="module")
def pig_npz(sketches) -> bytes:
    """A sketch-rnn style file: keys train/valid/test, 1-D object arrays of (n, 3) int16 arrays."""
    return npz_bytes(train=object_array(sketches[:30]), valid=object_array(sketches[30:35]),
                     test=object_array(sketches[35:40]))


class Bucket:
    """State of the fake bucket, shared with the request handler."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # raw URL path -> body
        self.ignore_range = False
        self.fail_after: int | None = None  # bytes sent before dropping the connection ...
        self.fail_times = 0  # ... for this many responses
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.lock = threading.Lock()

    def gets(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]


def make_handler(bucket: Bucket):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            with bucket.lock:
                bucket.requests.append((self.path, rng))
                body = bucket.files.get(self.path)
                fail = bucket.fail_times > 0
                if fail:
                    bucket.fail_times -= 1
            if body is None:
                self.send_error(404, "No such object")
                return
            start = 0
            if rng and not bucket.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            piece = body[start:]
            self.send_header("Content-Length", str(len(piece)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if fail and bucket.fail_after is not None:
                self.wfile.write(piece[: bucket.fail_after])
                self.wfile.flush()
                self.close_connection = True  # promised len(piece) bytes, sent fewer
                return
            self.wfile.write(piece)

    return Handler


@pytest.fixture
def server(pig_npz):
    bucket = Bucket()
    bucket.files["/sketchrnn/pig.npz"] = pig_npz
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(bucket))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield bucket, f"http://127.0.0.1:{httpd.server_address[1]}/sketchrnn"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_retry_wait(monkeypatch):
    monkeypatch.setattr(dl, "RETRY_WAIT_S", 0.0)


def test_names_and_urls():
    assert dl.category_url("alarm clock", "http://x/y/") == "http://x/y/alarm%20clock.npz"
    assert dl.category_url("pig") == "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/pig.npz"
    assert dl.local_filename("alarm clock") == "alarm-clock.npz"
    assert dl.local_filename("t-shirt") == "t-shirt.npz"
    for bad in ["", "  ", "../pig", "a/b", ".hidden", "pig.npz"]:
        with pytest.raises(ValueError, match="invalid category"):
            dl.check_category(bad)


def test_full_download_and_verification(server, tmp_path, pig_npz, sketches):
    bucket, url = server
    (path,) = dl.download(["pig"], tmp_path / "full", url, expect_counts=COUNTS, progress=False)
    assert path == tmp_path / "full" / "pig.npz"
    assert path.read_bytes() == pig_npz
    assert not (tmp_path / "full" / "pig.npz.part").exists()
    sha = (tmp_path / "full" / "pig.npz.sha256").read_text()
    assert sha == f"{hashlib.sha256(pig_npz).hexdigest()}  pig.npz\n"
    assert bucket.gets("/sketchrnn/pig.npz") == [None]  # one plain GET, no Range
    assert dl.verify_npz(path, COUNTS) == COUNTS
    with np.load(path, allow_pickle=True, encoding="latin1") as d:
        np.testing.assert_array_equal(d["valid"][2], sketches[32])


def test_space_in_category_is_url_encoded_and_file_uses_hyphen(server, tmp_path, pig_npz):
    bucket, url = server
    bucket.files["/sketchrnn/alarm%20clock.npz"] = pig_npz
    (path,) = dl.download(["alarm clock"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert path.name == "alarm-clock.npz" and path.read_bytes() == pig_npz


def test_resume_from_truncated_part(server, tmp_path, pig_npz):
    bucket, url = server
    cut = len(pig_npz) // 3
    (tmp_path / "pig.npz.part").write_bytes(pig_npz[:cut])
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert path.read_bytes() == pig_npz
    assert bucket.gets("/sketchrnn/pig.npz") == [f"bytes={cut}-"]


def test_connection_dropped_mid_file_is_resumed(server, tmp_path, pig_npz):
    bucket, url = server
    bucket.fail_after, bucket.fail_times = 1000, 1
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert path.read_bytes() == pig_npz
    assert bucket.gets("/sketchrnn/pig.npz") == [None, "bytes=1000-"]


def test_interrupted_without_retries_keeps_part_then_resumes(server, tmp_path, pig_npz):
    bucket, url = server
    bucket.fail_after, bucket.fail_times = 700, 1
    with pytest.raises(dl.DownloadError, match="run again to resume"):
        dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False, retries=0)
    assert (tmp_path / "pig.npz.part").read_bytes() == pig_npz[:700]
    assert not (tmp_path / "pig.npz").exists()
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False, retries=0)
    assert path.read_bytes() == pig_npz
    assert bucket.gets("/sketchrnn/pig.npz") == [None, "bytes=700-"]


def test_server_ignoring_range_restarts_from_scratch(server, tmp_path, pig_npz):
    bucket, url = server
    bucket.ignore_range = True
    (tmp_path / "pig.npz.part").write_bytes(b"garbage that must not survive" * 10)
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert path.read_bytes() == pig_npz
    assert bucket.gets("/sketchrnn/pig.npz") == ["bytes=290-"]  # asked, got a 200 with the whole file


def test_complete_part_gets_416_and_is_installed(server, tmp_path, pig_npz):
    bucket, url = server
    (tmp_path / "pig.npz.part").write_bytes(pig_npz)
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert path.read_bytes() == pig_npz
    assert bucket.gets("/sketchrnn/pig.npz") == [f"bytes={len(pig_npz)}-"]


def test_wrong_counts_error_and_no_final_file(server, tmp_path):
    _, url = server
    with pytest.raises(ValueError, match=r"pig\.npz\.part.*\(30, 5, 5\), expected \(70000, 2500, 2500\)"):
        dl.download(["pig"], tmp_path, url, progress=False)  # default: the bucket's counts
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # bad file removed, nothing installed
    # without a count check the same file is accepted
    (path,) = dl.download(["pig"], tmp_path, url, expect_counts=None, progress=False)
    assert path.exists()


def test_corrupt_body_is_rejected(server, tmp_path):
    bucket, url = server
    bucket.files["/sketchrnn/pig.npz"] = b"<html><body>Service Unavailable</body></html>\n" * 50
    with pytest.raises(ValueError, match=r"rejected and removed: .*pig\.npz\.part: not a readable \.npz"):
        dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind, message", [
    ("missing_test", r"missing key\(s\) \['test'\]"),
    ("float_sketch", r"valid\[1\] should be an integer \(n, 3\) stroke-3 array, got shape \(\d+, 3\) dtype float64"),
    ("two_columns", r"train\[0\] should be an integer \(n, 3\) stroke-3 array, got shape \(\d+, 2\)"),
    ("not_object", r"'test' should be a 1-D object array of sketches, got shape \(5, 4\)"),
    ("single_npy", r"not an \.npz archive"),
])
def test_wrong_structure_is_rejected(server, tmp_path, sketches, kind, message):
    bucket, url = server
    train, valid, test = object_array(sketches[:30]), object_array(sketches[30:35]), object_array(sketches[35:40])
    if kind == "missing_test":
        body = npz_bytes(train=train, valid=valid)
    elif kind == "float_sketch":
        valid[1] = valid[1].astype(np.float64)
        body = npz_bytes(train=train, valid=valid, test=test)
    elif kind == "two_columns":
        train[0] = train[0][:, :2]
        body = npz_bytes(train=train, valid=valid, test=test)
    elif kind == "not_object":
        body = npz_bytes(train=train, valid=valid, test=np.zeros((5, 4), dtype=np.int16))
    else:
        buf = io.BytesIO()
        np.save(buf, train, allow_pickle=True)
        body = buf.getvalue()
    bucket.files["/sketchrnn/pig.npz"] = body
    with pytest.raises(ValueError, match=message):
        dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unknown_category_404(server, tmp_path):
    _, url = server
    with pytest.raises(ValueError, match=r"unknown category 'xyz' \(404 from http://127\.0\.0\.1:\d+/sketchrnn/xyz\.npz\)"
                                         r".*categories\.txt"):
        dl.download(["xyz"], tmp_path, url, progress=False)
    with pytest.raises(ValueError, match=r"did you mean 'alarm clock'"):
        dl.download(["alarm-clock"], tmp_path, url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_rerun_skips_when_sha_matches_and_force_redownloads(server, tmp_path, pig_npz):
    bucket, url = server
    kw = dict(base_url=url, expect_counts=COUNTS, progress=False)
    dl.download(["pig"], tmp_path, **kw)
    assert len(bucket.requests) == 1
    dl.download(["pig"], tmp_path, **kw)
    assert len(bucket.requests) == 1  # verified against pig.npz.sha256: no request
    dl.download(["pig"], tmp_path, force=True, **kw)
    assert len(bucket.requests) == 2
    # a final file that no longer matches its checksum is fetched again
    final = tmp_path / "pig.npz"
    final.write_bytes(pig_npz[:-1] + bytes([pig_npz[-1] ^ 1]))
    dl.download(["pig"], tmp_path, **kw)
    assert len(bucket.requests) == 3 and final.read_bytes() == pig_npz
    # a valid file without a checksum file is verified, kept, and gets one
    (tmp_path / "pig.npz.sha256").unlink()
    dl.download(["pig"], tmp_path, **kw)
    assert len(bucket.requests) == 3
    assert (tmp_path / "pig.npz.sha256").read_text().startswith(hashlib.sha256(pig_npz).hexdigest())


def test_network_error_is_clear(tmp_path):
    # a port nobody listens on: bind, read the port, close
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dl.DownloadError, match=rf"cannot reach http://127\.0\.0\.1:{port}/pig\.npz"):
        dl.download(["pig"], tmp_path, f"http://127.0.0.1:{port}", progress=False)


def test_progress_bar_runs(server, tmp_path, capsys):
    _, url = server
    dl.download(["pig"], tmp_path, url, expect_counts=COUNTS, progress=True)
    err = capsys.readouterr().err
    assert "pig.npz: downloaded and verified" in err


def test_cli(server, tmp_path, pig_npz, capsys):
    from iapix.cli import main

    bucket, url = server
    args = ["download", "pig", "--data", str(tmp_path), "--base-url", url, "--expect-counts", "30", "5", "5",
            "--quiet"]
    assert main(args) == 0
    assert (tmp_path / "pig.npz").read_bytes() == pig_npz
    assert capsys.readouterr().out.strip() == str(tmp_path / "pig.npz")
    assert main(args) == 0 and len(bucket.requests) == 1  # skipped
    assert main(args + ["--force"]) == 0 and len(bucket.requests) == 2
    # default counts are the bucket's: this small file is refused; an unknown name is reported too
    assert main(["download", "xyz", "pig", "--data", str(tmp_path / "b"), "--base-url", url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown category 'xyz'" in err and "expected (70000, 2500, 2500)" in err
    assert main(["download", "pig", "--data", str(tmp_path / "c"), "--base-url", url, "--any-counts",
                 "--quiet"]) == 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (a device whose every write is ENOSPC)")
def test_a_full_disk_names_the_part_file_and_is_not_retried_as_a_network_error(server, tmp_path, capsys):
    from iapix.cli import main

    bucket, url = server
    (tmp_path / "pig.npz.part").symlink_to("/dev/full")  # the disk is full: every write fails with ENOSPC
    code = main(["download", "pig", "--data", str(tmp_path), "--base-url", url, "--any-counts", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(bucket.requests) == 1, "our disk, not the connection: no retry"
    assert err.strip().splitlines() == [f"iapix download: error: {tmp_path / 'pig.npz.part'}: cannot write the "
                                        "download (No space left on device; the disk is full: free some space); the "
                                        "part written is kept: run the same command again to resume"]
    assert not (tmp_path / "pig.npz").exists()
