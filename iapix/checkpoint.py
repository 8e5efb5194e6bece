"""Checkpoints: one file format, one loader, one object.

A checkpoint is a ``torch.save`` dict written by :class:`iapix.train.Trainer`: ``model`` (the state
dict: weights and GMM buffers), ``config``, ``scale`` (the training set's scale factor), ``max_len``
(N_max), ``categories``, the counters (``step``, ``epoch``, ``iteration``, ``best``, ...) and, in a
resumable file (``last.pt``, ``best.pt``), ``optimizer`` and ``rng``. Since this module exists it
also holds ``sha256``, a checksum of everything else. This module owns that layout (``REQUIRED``,
``COUNTERS``, ``RESUME_KEYS``, ``SLIM_KEYS``): the trainer builds its dict with :func:`training_state`
and reads one back with :func:`restore_training_state` and :func:`restore_rng`.

* :func:`save_checkpoint` -- refuses weights with NaN/inf (the previous file is kept), adds the
  checksum, writes ``<name>.tmp``, fsyncs and renames it over ``<name>``: a kill leaves the old file
  or the new one, never half of one; a full disk says so, names the file and leaves no temp file.
* :func:`read_checkpoint` -- the verified dict (resume, rollback). Damage is found here, with an
  error that names the file, says what is wrong and what to do: missing, empty, truncated, a text or
  ``.npz`` file, another kind of PyTorch file, a checksum that does not match (flipped bytes).
  Files written before the checksum existed load unverified (:attr:`Checkpoint.verified` is False).
* :func:`load_checkpoint` -- a :class:`Checkpoint`: the model (eval mode, on the chosen device) with
  everything needed to turn codes into sketches (scale, N_max, categories). Every consumer
  (``iapix.sample``, ``iapix.widgets``, ``iapix.evaluate``) takes this object. Weights of another
  model version are refused with one sentence, not torch's list of keys.
* :func:`export_checkpoint` -- a slim copy (no optimiser, no RNG states) for sampling and evaluation;
  never over its own source, never over another file without ``overwrite``.
* :func:`pick_device` -- ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``, with a clear error.

Checksum: SHA-256 over the *contents* (every tensor's dtype, shape and bytes, every other value's
``repr``, keys sorted), not over the file's bytes, so that it can live inside the file it checks
(its cost: docs/benchmarks.md). Files are read with ``torch.load(weights_only=True)``: a checkpoint holds tensors
and plain values only, so a file from elsewhere cannot run code when it is loaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from iapix.cli import WriteError
from iapix.model import Config, IAPix

# The layout of a checkpoint dict (this module owns it: the Trainer builds and reads its files through
# training_state / restore_training_state / restore_rng)
REQUIRED = ("model", "config", "scale", "max_len", "categories")  # every checkpoint: a model and how to use it
DATA_KEYS = ("scale", "max_len", "n_train")  # what the training data was: a resume must see the same
COUNTERS = ("step", "epoch", "iteration", "batch_in_epoch", "best", "bad_in_row", "skipped", "done")  # the Trainer's
REWOUND = ("step", "epoch")  # the counters a rollback restores (the schedules rewind; the others go on)
RESUME_KEYS = ("optimizer", "rng")  # what only a resumable file holds (last.pt, best.pt; not a slim copy)
SLIM_KEYS = REQUIRED + ("step", "epoch", "iteration", "best")  # what sampling and evaluation need


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names it, says what is wrong and what to do."""


@dataclasses.dataclass
class Checkpoint:
    """A trained model and what it needs to turn codes into sketches (from :func:`load_checkpoint`).

    ``model`` is in eval mode; ``scale`` turns the model's normalised offsets back into pixels
    (:func:`iapix.data.denormalise`); ``max_len`` is N_max, the longest sequence the model was
    trained on; ``categories`` name the labels in order; ``info`` holds the counters and the note
    (``step``, ``epoch``, ``iteration``, ``best``, ``n_train``, ``note`` when the file has them);
    ``verified`` says whether the file carried a checksum that matched (files written before
    checksums existed load unverified). Build one by hand for a model in memory:
    ``Checkpoint(model, scale, max_len, categories)``.
    """

    model: IAPix
    scale: float
    max_len: int
    categories: list[str]
    path: Path | None = None
    info: dict = dataclasses.field(default_factory=dict)
    verified: bool = False

    @property
    def config(self) -> Config:
        return self.model.cfg

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


# ----------------------------------------------------------------------------------------------
# checksum and finite checks


def _digest(obj: object, h) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"tensor {t.dtype} {tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"array {a.dtype} {a.shape};".encode())
        h.update(a.view(np.uint8) if a.dtype != object else repr(a.tolist()).encode())
    elif isinstance(obj, dict):
        h.update(f"dict {len(obj)};".encode())
        for k in sorted(obj, key=repr):
            h.update(f"{k!r}:".encode())
            _digest(obj[k], h)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__} {len(obj)};".encode())
        for v in obj:
            _digest(v, h)
    else:
        h.update(f"{obj!r};".encode())


def _to_cpu(obj: object) -> object:
    """``obj`` with every tensor in it (nested dicts, lists, tuples) detached and on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def checksum(state: dict) -> str:
    """SHA-256 of a checkpoint dict's contents (its ``sha256`` entry excluded)."""
    h = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != "sha256"}, h)
    return h.hexdigest()


def nonfinite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors that hold NaN or inf."""
    return [k for k, v in tensors.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


# ----------------------------------------------------------------------------------------------
# save


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` (with its checksum) atomically to ``path``; refuse NaN/inf weights.

    On any failure the file already at ``path`` is unchanged and no temporary file is left; a write
    error (full disk, no permission) becomes an ``OSError`` that names ``path``.
    """
    path = Path(path)
    state = _to_cpu(state)  # once: the checksum and torch.save then read the same host copy
    bad = nonfinite(state.get("model", {}))
    if bad:
        raise CheckpointError(f"{path}: not written: the weights hold NaN/inf ({', '.join(bad[:3])}"
                              f"{', ...' if len(bad) > 3 else ''}); the file there, if any, is unchanged")
    state = {**{k: v for k, v in state.items() if k != "sha256"}, "sha256": checksum(state)}
    tmp = path.with_name(path.name + ".tmp")
    guard = None
    try:
        with open(tmp, "wb") as f:
            guard = _WriteGuard(f)
            torch.save(state, guard)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, RuntimeError) and guard is not None and guard.error is not None:
            e = guard.error  # torch turns a failed write into "unexpected pos": the OSError says what happened
        if isinstance(e, OSError):
            full = e.errno in (errno.ENOSPC, errno.EDQUOT)
            raise WriteError(e.errno, f"{path}: cannot write the checkpoint ({e.strerror or e}"
                             f"{'; the disk is full: free some space and run the command again' if full else ''}); "
                             "the file there, if any, is unchanged and no temporary file was left") from e
        raise
    try:  # make the rename itself durable (a power cut right after it)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # not every platform lets a folder be fsynced
    return path


class _WriteGuard:
    """The file object ``torch.save`` writes to, remembering the ``OSError`` of a failed write: torch's zip writer
    swallows it and fails later with a ``RuntimeError`` ("unexpected pos") that names neither the file nor why."""

    def __init__(self, f) -> None:
        self.f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        try:
            self.f.flush()
        except OSError as e:
            self.error = self.error or e
            raise


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, config: Config, scale: float,
                   max_len: int, categories, n_train: int, counters: dict, numpy_rng: dict) -> dict:
    """The dict a trainer saves (``last.pt``, ``best.pt``): the model and how to use it (:data:`REQUIRED`), the
    optimiser, the size of the training set, the counters (:data:`COUNTERS`) and the random states (torch's, CUDA's
    and ``numpy_rng``, the state of the augmentation's numpy generator)."""
    return {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "config": config.to_dict(),
        "scale": scale, "max_len": max_len, "categories": list(categories), "n_train": n_train,
        **{k: counters[k] for k in COUNTERS},
        "rng": {"torch": torch.get_rng_state(), "numpy": numpy_rng,
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
    }


def restore_training_state(state: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           counters: tuple[str, ...] = REWOUND) -> dict:
    """Load a trainer's dict (:func:`training_state`) into ``model`` and ``optimizer``; returns the ``counters`` it
    holds (a rollback: :data:`REWOUND`; a resume: :data:`COUNTERS`)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return {k: state[k] for k in counters}


def restore_rng(state: dict, numpy_generator: np.random.Generator) -> None:
    """Set the random states a trainer's dict holds: torch's, CUDA's (where there is CUDA) and ``numpy_generator``'s."""
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    numpy_generator.bit_generator.state = rng["numpy"]
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def slim_state(state: dict, note: str = "") -> dict:
    """What sampling and evaluation need from a checkpoint dict: no optimiser, no RNG states."""
    slim = {k: state[k] for k in SLIM_KEYS if k in state}
    slim["note"] = note
    return slim


# ----------------------------------------------------------------------------------------------
# read and load


def _what_is(path: Path, error: Exception) -> str:
    """Why ``torch.load`` could not read ``path``: which kind of file it is, and what to do."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return ("damaged: a PyTorch archive whose end is missing (the file was cut off, e.g. a copy or "
                    "download that stopped); use another copy (best.pt, last.pt, a backup) or retrain")
        if names and all(n.endswith(".npy") for n in names):
            return "a numpy .npz archive (data?), not a checkpoint; give a .pt file written by iapix train"
        if not any(n.endswith("data.pkl") for n in names):
            return "a zip archive but not a PyTorch checkpoint; give a .pt file written by iapix train"
        if "weights only" in str(error).lower():
            return ("a PyTorch file holding Python objects other than tensors and plain values, so not written by "
                    "iapix (loading it could run code from the file); give a .pt file written by iapix train")
        return (f"damaged: a PyTorch archive that cannot be read ({type(error).__name__}: "
                f"{str(error).splitlines()[0][:160]}); use another copy (best.pt, last.pt, a backup) or retrain")
    try:
        head.decode("utf-8")
        return "a text file, not a checkpoint; give a .pt file written by iapix train"
    except UnicodeDecodeError:
        return (f"damaged or not a checkpoint ({type(error).__name__}: {str(error).splitlines()[0][:160]}); "
                "give a .pt file written by iapix train")


def read_checkpoint(path: str | Path, required: tuple[str, ...] = REQUIRED,
                    what: str = "a best.pt / last.pt written by iapix train or a file from iapix export") -> dict:
    """The checkpoint dict at ``path`` (tensors on the CPU), verified against its checksum.

    ``required``: the keys it must hold (a model checkpoint's by default; the Rec classifier's cache
    passes its own, and ``what`` to name the file to give instead). Raises ``FileNotFoundError`` or
    :class:`CheckpointError` naming the file and what to do.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if path.is_dir():
        hint = [p.name for p in (path / "best.pt", path / "last.pt") if p.is_file()]
        raise CheckpointError(f"{path}: a folder, not a checkpoint file"
                              f"{'; inside: ' + ', '.join(hint) if hint else ''}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint (cut off while being written "
                              "or copied?); use another copy (best.pt, last.pt, a backup) or retrain")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip, pickle and torch errors: say which file and what it looks like
        raise CheckpointError(f"{path}: {_what_is(path, e)}") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: a PyTorch file holding a {type(state).__name__}, not an iapix checkpoint")
    missing = [k for k in required if k not in state]
    if missing:
        raise CheckpointError(f"{path}: a PyTorch file but not an iapix checkpoint (no {', '.join(missing)}); "
                              f"give {what}")
    stored = state.get("sha256")
    if stored is not None and stored != checksum(state):
        raise CheckpointError(f"{path}: damaged: its contents do not match the checksum written with it (bytes "
                              "changed on disk or in a copy); use another copy (best.pt, last.pt, a backup) or retrain")
    return state


def config_of(state: dict, path: str | Path = "checkpoint") -> Config:
    """The :class:`Config` of a checkpoint dict; a config of another version is a :class:`CheckpointError` naming
    ``path``, not a bare list of fields."""
    try:
        return Config.from_dict(state["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: written by another version of iapix: its config does not fit this version of "
                              f"iapix ({e}); use it with the version that wrote it, or retrain") from e


def check_fits(model: torch.nn.Module, state: dict, path: str | Path = "checkpoint") -> None:
    """Refuse a checkpoint dict whose weights do not fit ``model`` with one sentence, not torch's list of keys."""
    own, theirs = model.state_dict(), state["model"]
    missing = [k for k in own if k not in theirs]
    unexpected = [k for k in theirs if k not in own]
    shapes = [f"{k} {tuple(theirs[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in theirs and tuple(theirs[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        example = (missing and f"missing {missing[0]}") or (unexpected and f"unexpected {unexpected[0]}") or shapes[0]
        raise CheckpointError(f"{path}: written by another version of iapix: its weights do not fit this model "
                              f"({len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} of another "
                              f"shape; e.g. {example}); use it with the version that wrote it, or retrain")


def check_resumable(state: dict, path: str | Path) -> None:
    """Refuse to resume from a slim copy (:func:`export_checkpoint`, a snapshot): it has no optimiser or RNG state."""
    if any(k not in state for k in RESUME_KEYS):
        raise CheckpointError(f"{path}: a slim copy (from iapix export or --snapshot-every): it holds no optimizer or "
                              "random state, so a run cannot be resumed from it; put back the run's own last.pt (or a "
                              "copy of its best.pt), or start a new run (another --out, or --overwrite)")


def build_model(state: dict, path: str | Path = "checkpoint") -> IAPix:
    """An :class:`IAPix` with the weights of a checkpoint dict (CPU, eval mode); clear errors for another version."""
    model = IAPix(config_of(state, path))
    check_fits(model, state, path)
    model.load_state_dict(state["model"])
    return model.eval()


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """A trained model and its scale, N_max and categories, from a file written by iapix (see the module doc)."""
    state = read_checkpoint(path)
    model = build_model(state, path).to(pick_device(device))
    info = {k: state[k] for k in ("step", "epoch", "iteration", "best", "n_train", "note") if k in state}
    return Checkpoint(model, float(state["scale"]), int(state["max_len"]), list(state["categories"]), Path(path),
                      info, verified="sha256" in state)


# ----------------------------------------------------------------------------------------------
# export and device choice


def export_checkpoint(src: str | Path, dst: str | Path, note: str = "", overwrite: bool = False) -> Path:
    """A slim copy of ``src`` at ``dst`` for sampling and evaluation (no optimiser, no RNG states).

    It loads like any checkpoint but cannot be resumed (use ``last.pt`` for that), so it is never
    written over its own source, and over another existing file only with ``overwrite``.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise CheckpointError(f"{dst}: the same file as the source; the slim copy would drop its optimiser and "
                              "random states, and the run could no longer be resumed: give another destination")
    if dst.is_dir():
        raise CheckpointError(f"{dst}: a folder; give the file to write, e.g. {dst / src.name}")
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst}: already exists; give another destination, or --overwrite to replace it")
    state = read_checkpoint(src)
    build_model(state, src)  # refuse a file whose weights do not fit before writing anything
    dst.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(slim_state(state, note), dst)


def pick_device(name: str | torch.device) -> torch.device:
    """``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


# ----------------------------------------------------------------------------------------------
# CLI: iapix export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="a checkpoint written by iapix train (e.g. RUN/best.pt)")
    parser.add_argument("dst", help="where to write the slim copy (not the source itself)")
    parser.add_argument("--note", default="", help="free text stored in the checkpoint (how it was made)")
    parser.add_argument("--overwrite", action="store_true", help="replace DST if it exists")


def run(args: argparse.Namespace) -> int:
    path = export_checkpoint(args.src, args.dst, args.note, overwrite=args.overwrite)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
