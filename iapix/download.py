"""Fetch the full sketch-rnn ``.npz`` files from Google's public bucket (method §1).

The paper trains on 70 000 / 2 500 / 2 500 (train / valid / test) sketches per category: the sketch-rnn files of the
Quick, Draw! dataset (CC BY 4.0, Google), ``https://storage.googleapis.com/quickdraw_dataset/sketchrnn/<category>.npz``,
each holding ``train``, ``valid`` and ``test`` as 1-D object arrays of ``(n, 3)`` int16 stroke-3 arrays. The
repository ships only a small subset; ``iapix download pig cat "alarm clock" --data data/full`` fetches the rest.

For one category (:func:`download_one`):

1. the URL percent-encodes the name as the bucket does (``alarm%20clock.npz``; an HTTP 404 becomes ``ValueError:
   unknown category``); the local file replaces spaces by hyphens (``alarm-clock.npz``), the naming of ``data/``
   (never the reverse: ``t-shirt`` is a real name);
2. bytes go to ``<name>.npz.part`` with a progress bar; an interrupted transfer resumes with ``Range:`` (a 206 answer
   is appended, a 200 restarts the file), up to ``retries`` times;
3. the byte count is checked against ``Content-Length`` / ``Content-Range``, then the file is loaded and checked
   (:func:`verify_npz`: keys, arrays of integer ``(n, 3)`` sketches, the split sizes ``expect_counts``); a bad file
   is deleted and the error names it;
4. only a verified file is renamed (``os.replace``) to ``<name>.npz``, next to a ``sha256sum``-style
   ``<name>.npz.sha256``; a re-run keeps a final file whose checksum matches (no network) unless ``force=True``.

Only the standard library's ``urllib`` is used. The files store object arrays, which numpy reads only with
``allow_pickle=True`` -- loading runs pickle, so use a base URL you trust (Google's bucket, or a mirror of it).
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/sketchrnn"
PAPER_COUNTS = (70000, 2500, 2500)  # train / valid / test sketches per category in the bucket
SPLITS = ("train", "valid", "test")
CHUNK = 1 << 16  # bytes per read
TIMEOUT_S = 30.0  # seconds without a byte before a request counts as stalled (--timeout)
RETRY_WAIT_S = 1.0  # pause before resuming an interrupted download (multiplied by the attempt number)
CATEGORY_HELP = (
    "valid names are listed in "
    "https://github.com/googlecreativelab/quickdraw-dataset/blob/master/categories.txt "
    "(or run `gsutil ls gs://quickdraw_dataset/sketchrnn`); names with spaces are written as is, "
    'e.g. "alarm clock"'
)


class DownloadError(RuntimeError):
    """The transfer failed (network error, HTTP error other than 404, too many interruptions)."""


# --------------------------------------------------------------------------- names and checksums


def check_category(category: str) -> str:
    """Return ``category`` stripped; raise ValueError for names that cannot be a bucket file."""
    if not isinstance(category, str):
        raise ValueError(f"category must be a string, got {type(category).__name__}")
    name = category.strip()
    if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith(".npz"):
        raise ValueError(
            f"invalid category {category!r}: expected a Quick, Draw! category name such as 'pig' "
            f"or 'alarm clock' (no path separators, no leading dot, no .npz suffix)"
        )
    return name


def category_url(category: str, base_url: str = DEFAULT_BASE_URL) -> str:
    """URL of a category's sketch-rnn file: spaces etc. percent-encoded (``alarm%20clock.npz``)."""
    return base_url.rstrip("/") + "/" + urllib.parse.quote(check_category(category) + ".npz")


def local_filename(category: str) -> str:
    """File name in the data directory: spaces become hyphens (``alarm clock`` -> ``alarm-clock.npz``)."""
    return re.sub(r"\s+", "-", check_category(category)) + ".npz"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha_path(final: Path) -> Path:
    return final.with_name(final.name + ".sha256")


def _read_sha_file(sha_file: Path) -> str | None:
    """The hex digest from a ``sha256sum``-style file, or None if it is unreadable/malformed."""
    try:
        text = sha_file.read_text().split()
    except OSError:
        return None
    if text and re.fullmatch(r"[0-9a-fA-F]{64}", text[0]):
        return text[0].lower()
    return None


def _write_sha_file(sha_file: Path, digest: str, filename: str) -> None:
    """Write ``<digest>  <filename>`` atomically (``sha256sum -c`` can check it)."""
    tmp = sha_file.with_name(sha_file.name + ".tmp")
    tmp.write_text(f"{digest}  {filename}\n")
    os.replace(tmp, sha_file)


# --------------------------------------------------------------------------- verification


def verify_npz(path: str | Path, expect_counts: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """Check that ``path`` is a sketch-rnn file; return its (train, valid, test) sizes.

    A sketch-rnn file has keys ``train``/``valid``/``test``, each a 1-D object array whose
    elements are integer arrays of shape (n, 3), n >= 1. With ``expect_counts`` the three sizes
    must match exactly. Raises ValueError naming the file, the split and the index of the problem.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # files pickled by numpy 1.x name numpy.core: a harmless warning
            warnings.filterwarnings("ignore", message=r"numpy\.core", category=DeprecationWarning)
            data = np.load(path, allow_pickle=True, encoding="latin1")
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds a single {type(data).__name__}, not an .npz archive")
            with data:
                missing = [k for k in SPLITS if k not in data.files]
                if missing:
                    raise ValueError(f"missing key(s) {missing}; found {sorted(data.files)}, expected {list(SPLITS)}")
                arrays = {k: data[k] for k in SPLITS}  # object arrays are unpickled here
    except ValueError as e:
        raise ValueError(f"{path}: not a valid sketch-rnn .npz: {e}") from e
    except Exception as e:  # zipfile.BadZipFile, pickle errors, EOFError, OSError ...
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e

    counts = []
    for split, arr in arrays.items():
        if arr.ndim != 1 or arr.dtype != object:
            raise ValueError(
                f"{path}: '{split}' should be a 1-D object array of sketches, "
                f"got shape {arr.shape} dtype {arr.dtype}"
            )
        for i, s in enumerate(arr):
            if not (isinstance(s, np.ndarray) and s.ndim == 2 and s.shape[1] == 3 and s.shape[0] >= 1
                    and np.issubdtype(s.dtype, np.integer)):
                what = f"shape {s.shape} dtype {s.dtype}" if isinstance(s, np.ndarray) else type(s).__name__
                raise ValueError(f"{path}: {split}[{i}] should be an integer (n, 3) stroke-3 array, got {what}")
        counts.append(len(arr))
    if expect_counts is not None and tuple(counts) != tuple(expect_counts):
        raise ValueError(
            f"{path}: split sizes (train, valid, test) = {tuple(counts)}, expected {tuple(expect_counts)}"
        )
    return counts[0], counts[1], counts[2]


# --------------------------------------------------------------------------- transfer


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """Parse ``bytes <start>-<end>/<total>`` or ``bytes */<total>`` -> (start, total); None if absent."""
    if not header:
        return None, None
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header)
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _fetch_once(url: str, part: Path, category: str, progress: bool, timeout: float = TIMEOUT_S) -> str | None:
    """One request, resuming ``part`` if it exists. Returns None when the body is complete.

    Returns why the transfer stopped early otherwise (the partial file is kept for a resume, unless it
    cannot be resumed). Raises ValueError on 404, DownloadError on other HTTP errors or a bad size.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "iapix-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            hint = ""
            if "-" in category:
                hint = f" (did you mean {category.replace('-', ' ')!r}? the bucket spells names with spaces)"
            raise ValueError(f"unknown category {category!r} (404 from {url}){hint}; {CATEGORY_HELP}") from e
        if e.code == 416 and have:
            # Range not satisfiable: our .part already has everything (or more than) the server has.
            _, total = _content_range(e.headers.get("Content-Range"))
            if total is not None and total == have:
                return None
            part.unlink()  # larger than the remote file or size unknown: start over
            return "the partial file does not fit the server's file; starting over"
        raise DownloadError(f"HTTP {e.code} {e.reason} from {url}") from e
    except TimeoutError as e:  # connected, but no answer
        raise DownloadError(f"cannot reach {url}: no answer in {timeout:g} s (--timeout)") from e
    except (urllib.error.URLError, OSError, HTTPException) as e:
        raise DownloadError(f"cannot reach {url}: {e}") from e

    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None and length.isdigit() else None
        if status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != have:  # not the piece we asked for: drop the partial file and start over
                part.unlink()
                return "the server sent another piece than the one asked for; starting over"
            mode = "ab"
        elif status == 200:
            have, total, mode = 0, length, "wb"  # whole file (a server that ignores Range lands here too)
        else:
            raise DownloadError(f"unexpected HTTP {status} from {url}")

        received = 0
        with open(part, mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                         unit_divisor=1024, desc=part.name[: -len(".part")],
                                         disable=not progress, leave=False) as bar:
            while True:
                try:
                    block = response.read1(CHUNK)  # what has arrived: read() would wait for a full CHUNK, and
                    # a stall would lose the bytes that came before it
                except TimeoutError:
                    return f"the server stalled (no data for {timeout:g} s)"  # resume later
                except (OSError, HTTPException) as e:
                    return f"the connection dropped ({type(e).__name__})"  # IncompleteRead, reset: resume later
                if not block:
                    break
                try:
                    f.write(block)
                except OSError as e:  # our disk, not the connection: a retry cannot help
                    from iapix.cli import WriteError

                    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
                    raise WriteError(e.errno, f"{part}: cannot write the download ({e.strerror or e}"
                                     f"{'; the disk is full: free some space' if full else ''}); the part written is "
                                     "kept: run the same command again to resume") from e
                received += len(block)
                bar.update(len(block))

    size = part.stat().st_size
    if length is not None and received < length:
        return "the connection closed before the end of the file"  # resume from where it stopped
    if total is not None and size != total:
        part.unlink()
        raise DownloadError(f"{url}: file has {size} bytes, server reported {total}; partial file removed")
    return None


def download_one(
    category: str,
    data_dir: str | Path = "data/full",
    base_url: str = DEFAULT_BASE_URL,
    force: bool = False,
    expect_counts: tuple[int, int, int] | None = PAPER_COUNTS,
    progress: bool = True,
    retries: int = 3,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download, verify and install one category's file; return the final path (see module doc).

    ``progress=False`` hides the progress bar and the messages of success; an interrupted transfer is
    still reported on stderr (it explains a wait of up to ``timeout`` seconds per attempt)."""
    category = check_category(category)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    final = data_dir / local_filename(category)
    part = final.with_name(final.name + ".part")
    sha_file = _sha_path(final)
    url = category_url(category, base_url)

    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr)

    if force:
        part.unlink(missing_ok=True)
    elif final.exists():
        recorded = _read_sha_file(sha_file)
        if recorded is not None:
            if sha256_of(final) == recorded:
                say(f"{final}: present, sha256 matches; skipped (use --force to download again)")
                return final
            say(f"{final}: sha256 does not match {sha_file.name}; downloading again")
        else:
            try:  # a file put there by hand or an older run: keep it if it checks out
                verify_npz(final, expect_counts)
            except ValueError as e:
                say(f"{e}; downloading again")
            else:
                _write_sha_file(sha_file, sha256_of(final), final.name)
                say(f"{final}: present and valid; wrote {sha_file.name}; skipped")
                return final

    for attempt in range(retries + 1):
        why = _fetch_once(url, part, category, progress, timeout)
        if why is None:
            break
        if attempt < retries:  # said even without progress: it explains the wait
            print(f"iapix download: {url}: {why} at {part.stat().st_size if part.exists() else 0} bytes; "
                  f"resuming (retry {attempt + 1} of {retries})", file=sys.stderr)
            time.sleep(RETRY_WAIT_S * (attempt + 1))
    else:
        raise DownloadError(
            f"{url}: transfer interrupted {retries + 1} times (last: {why}); the partial file {part} is kept, "
            "run again to resume (--retries N tries more often, --timeout S waits longer)"
        )

    try:
        verify_npz(part, expect_counts)
    except ValueError as e:
        part.unlink(missing_ok=True)
        raise ValueError(f"downloaded file from {url} rejected and removed: {e}") from e
    _write_sha_file(sha_file, sha256_of(part), final.name)
    os.replace(part, final)
    say(f"{final}: downloaded and verified")
    return final


def download(
    categories: Sequence[str],
    data_dir: str | Path = "data/full",
    base_url: str = DEFAULT_BASE_URL,
    force: bool = False,
    expect_counts: tuple[int, int, int] | None = PAPER_COUNTS,
    progress: bool = True,
    retries: int = 3,
    timeout: float = TIMEOUT_S,
) -> list[Path]:
    """Download each category's sketch-rnn file into ``data_dir``; return the final paths in order.

    Stops at the first failure (ValueError for an unknown category or a bad file, DownloadError for
    network trouble). ``expect_counts=None`` skips the split-size check (e.g. for a mirror holding
    fewer sketches); ``retries`` is how many times an interrupted transfer is resumed.
    """
    if isinstance(categories, str):
        raise ValueError(f"categories must be a list of names, got the string {categories!r}")
    if not categories:
        raise ValueError("no category given")
    names = list(dict.fromkeys(check_category(c) for c in categories))  # de-duplicate, keep order
    return [download_one(c, data_dir, base_url, force, expect_counts, progress, retries, timeout) for c in names]


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``iapix download``."""
    from iapix.cli import non_negative_int, positive_float

    parser.add_argument("categories", nargs="+", metavar="CATEGORY",
                        help='category names as in the bucket, e.g. pig "alarm clock"')
    parser.add_argument("--data", default="data/full", metavar="DIR",
                        help="directory for the .npz files (default: data/full)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL",
                        help=f"where the <category>.npz files are (default: {DEFAULT_BASE_URL})")
    parser.add_argument("--force", action="store_true", help="download again even if a verified file is present")
    counts = parser.add_mutually_exclusive_group()
    counts.add_argument("--expect-counts", nargs=3, type=int, default=list(PAPER_COUNTS),
                        metavar=("TRAIN", "VALID", "TEST"),
                        help="required split sizes (default: %(default)s, those of the bucket)")
    counts.add_argument("--any-counts", action="store_true", help="do not check the split sizes")
    parser.add_argument("--retries", type=non_negative_int, default=3,
                        help="resume an interrupted transfer this often (default 3)")
    parser.add_argument("--timeout", type=positive_float, default=TIMEOUT_S, metavar="S",
                        help="seconds without data before a transfer counts as stalled and is resumed "
                             f"(default {TIMEOUT_S:g})")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars or messages of success (interruptions and errors are still reported)")


def run(args: argparse.Namespace) -> int:
    """Download every category; report failures per category. Exit status 0 if all succeeded, else 2 (as for
    every failed iapix command)."""
    expect = None if args.any_counts else tuple(args.expect_counts)
    failed = 0
    for category in dict.fromkeys(args.categories):
        try:
            path = download_one(category, args.data, args.base_url, args.force, expect,
                                progress=not args.quiet, retries=args.retries, timeout=args.timeout)
        except (ValueError, DownloadError) as e:
            print(f"iapix download: error: {e}", file=sys.stderr)
            failed += 1
        else:
            print(path)
    return 2 if failed else 0
