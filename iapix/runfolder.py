"""The run folder of ``iapix train``: one training at a time in it, nothing in it overwritten unasked, its logs read.

A run folder (``--out``) holds ``last.pt``, ``best.pt``, ``log.csv``, ``valid.csv``, ``config.json`` and
``snapshots/`` (:data:`RUN_FILES`; what each holds: :mod:`iapix.train`).

* :class:`RunLock` -- ``RUN/.lock``, held while a trainer sets the folder up and trains: a second training there is
  refused with the first one's pid (the kernel's ``flock``: a killed run leaves no stale lock).
* :func:`check_out_dir` -- refuses what would lose work: a new run over an old one (``--overwrite`` first moves the
  old files aside with :func:`move_aside`, to ``RUN/old-<time>/``), resuming nothing, a user's own file where a run
  writes its own (:func:`run_files` tells iapix's files from a user's).
* :func:`check_run_folder` -- a path that is not a run folder is refused before anything is built from it.
* :func:`complete_rows` -- a run's CSV log without the row a kill cut short (``--resume``, ``iapix plot-log``,
  ``iapix curve``).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, RunLock warns and goes on
    fcntl = None

RUN_FILES = ("last.pt", "best.pt", "log.csv", "valid.csv", "config.json", "snapshots")  # a folder with any holds a run


# ----------------------------------------------------------------------------------------------
# the run folder: one training at a time, nothing overwritten unasked


class RunLock:
    """An exclusive lock on a run folder, ``RUN/.lock``: a second training there is refused, not mixed in.

    ``fcntl.flock`` on the file: the kernel drops the lock when its process ends, even by SIGKILL, so
    a killed run never leaves a stale lock behind (the pid and command written into the file only
    name the holder in the message). Where the file system has no locks (some network mounts, or
    Windows) it warns and goes on unlocked. Use as a context manager.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            # no stacklevel (B028): the warning is about the folder, not about a line of the caller's code
            message = f"{self.folder}: cannot lock run folders on this system; run one training per folder"
            warnings.warn(message)  # noqa: B028
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode("utf-8", "replace")
                os.close(fd)
                try:
                    h = json.loads(holder)
                    who = f"pid {h['pid']} on {h['host']}, since {h['since']}: {h['command']}"
                except (ValueError, KeyError, TypeError):
                    who = "a process that is starting"
                raise RuntimeError(f"{self.folder}: in use by another training ({who}); two trainings in one folder "
                                   "would overwrite each other's files: wait for it to end or stop it, or give "
                                   "another --out") from None
            except OSError as e:  # ENOLCK, EOPNOTSUPP: a file system without locks
                os.close(fd)
                message = f"{self.folder}: cannot lock the run folder ({e.strerror}); run one training per folder"
                warnings.warn(message)  # noqa: B028 (as above)
                return self
            try:  # the holder may have removed the file between our open and our flock: lock the file that is there
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "command": " ".join(sys.argv)[:300]}).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding it: the next one creates a fresh file
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _written_by_iapix(path: Path) -> bool:
    """Whether a file with a run file's name is one that ``iapix train`` writes (not a user's own ``config.json``)."""
    if path.suffix == ".pt" or path.name == "snapshots":
        return True
    try:
        if path.stat().st_size == 0:
            return True  # killed right after creating it: nothing of anyone's in it
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix == ".csv":
        return text.startswith("iteration,step,epoch,")
    try:
        cfg = json.loads(text)
    except ValueError:
        return False
    return isinstance(cfg, dict) and {"objective", "categories", "z_dim"} <= set(cfg)


def found_run_files(out: Path) -> list[str]:
    """The names in ``out`` that a run's files have (``RUN_FILES``), whoever wrote them."""
    return [n for n in RUN_FILES if (out / n).exists()]


def run_files(out: Path) -> list[str]:
    """The files of a run in ``out`` (empty: no run there). A folder holds a run when one of them was written by
    iapix train: a user's own ``config.json`` (or ``log.csv``) alone is not a run (:func:`check_out_dir` then
    refuses to write over it)."""
    found = found_run_files(out)
    return found if any(_written_by_iapix(out / n) for n in found) else []


def move_aside(out: Path) -> Path:
    """Move everything in ``out`` (but earlier ``old-*`` folders and the lock) to ``out/old-<time>/``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, i = out / f"old-{stamp}", 1
    while dest.exists():
        dest, i = out / f"old-{stamp}-{i}", i + 1
    dest.mkdir()
    for p in sorted(out.iterdir()):
        if p != dest and not p.name.startswith("old-") and p.name != ".lock":
            os.replace(p, dest / p.name)
    return dest


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse what would lose work: a new run over an old one, resuming nothing, a folder in use."""
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite starts a new one there: choose one")
    old = run_files(out)
    aside = f"its files are then moved to {out}/old-<time>/, not deleted"
    if resume and not (out / "last.pt").is_file():
        if (out / "best.pt").is_file():
            raise FileNotFoundError(f"{out / 'last.pt'}: no such file, but {out / 'best.pt'} is there: copy it to "
                                    "last.pt to resume from the best epoch, or leave out --resume and add --overwrite "
                                    f"to start over ({aside})")
        if old:  # killed before its first checkpoint: logs and config, no weights
            raise FileNotFoundError(f"{out}: a run stopped before its first checkpoint ({', '.join(old)}, no last.pt): "
                                    "nothing to resume; leave out --resume and add --overwrite to start it again "
                                    f"({aside}), or give another --out")
        raise FileNotFoundError(f"{out / 'last.pt'}: no such file: nothing to resume in {out}; leave out --resume "
                                "to start a new run there")
    if not resume and old and not overwrite:
        if not any((out / n).is_file() for n in ("last.pt", "best.pt")):
            raise FileExistsError(f"{out}: holds a run stopped before its first checkpoint ({', '.join(old)}, no "
                                  f"last.pt): nothing to resume; add --overwrite to start it again ({aside}), or give "
                                  "another --out")
        raise FileExistsError(f"{out}: holds a run already ({', '.join(old)}); add --resume to continue it, or "
                              f"--overwrite to start over ({aside}), or give another --out")
    foreign = [n for n in found_run_files(out) if not old]
    if not resume and foreign:  # a user's own files where the run writes its own: never moved or written over
        raise FileExistsError(f"{out / foreign[0]}: not written by iapix train, and a new run there would write over "
                              "it: move it elsewhere, or give another --out")


# ----------------------------------------------------------------------------------------------
# reading a run: the folder, its CSV logs


def check_run_folder(run: Path) -> None:
    """Refuse a path that is not a run folder, before anything is built from it (a mistyped name creates nothing)."""
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder" if not run.exists() else f"{run}: not a folder; give a "
                                "run folder (the --out of iapix train)")
    if not (run / "log.csv").is_file():
        raise FileNotFoundError(f"{run / 'log.csv'}: no training log here (is {run} a run folder?)")


def complete_rows(path: Path) -> tuple[list[str], list[list[str]], int]:
    """The header and the complete rows of a run's CSV log, and how many rows were left out: a last line without
    its line end (cut short by a kill, or being written right now) and rows of another length or not numbers."""
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    cut = int(bool(lines) and not lines[-1].endswith(("\n", "\r")))
    rows = [r for r in csv.reader(lines[:len(lines) - cut]) if r]
    if not rows:
        return [], [], cut
    header = rows[0]
    good = [r for r in rows[1:] if len(r) == len(header) and all(_is_number(v) for v in r)]
    return header, good, cut + len(rows) - 1 - len(good)


def cut_log(path: Path, iteration: int, header: list[str] | None = None) -> None:
    """Rewrite the run log at ``path`` with only its complete rows up to ``iteration`` (``header`` when it has none):
    a resumed or forked run then goes on from its checkpoint without duplicate or cut-short rows."""
    found, rows, _ = complete_rows(path)
    keep = [found or header or []] + [r for r in rows if int(float(r[0])) <= iteration]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
