"""Training that can be trusted: the SPEC §4 schedule, atomic checkpoints, resume, logs, multi-GPU.

``Trainer(cfg, data_dir, out_dir).fit()`` or ``iapix train --config small --categories cat pig
--data data --out runs/catpig-ia``. What happens, step by step:

* data: :func:`iapix.data.prepare` (clean, normalise by the training scale factor, render 48x48);
  training batches are augmented (stretch, point dropping, image shrink); the last partial batch of
  each pass over the data is dropped (§7 "rollback"). Each training image is rendered from the
  augmented strokes the decoder must draw (``Config.augment_image``, ours: the reference renders the
  original sketch, the same picture every epoch, and on 3 600 sketches the code path then learns
  each training sketch's identity after ~2 000 steps); ``--no-augment-image`` is the reference.
  Epoch ``e`` visits the sketches in the order of permutations drawn from a generator seeded by
  ``(seed, e)``, so a resumed run sees exactly the batches it would have seen.
* an **epoch** is ``max(one pass over the training set, Config.epoch_steps)`` optimiser steps
  (SPEC §7 "validation interval", ours): at paper scale (70 000 sketches per category, batch 128) one
  pass over two categories is ~1 100 steps (five: ~2 700) and this is the reference's epoch; with the
  embedded cat/pig data a pass is 56 steps, less than the validation loss's noise, and per-pass validation with rollback stopped runs that were
  still learning. Validation, rollback, patience and the image warm-up (``image_epochs``) all count
  these epochs, so they mean the same at every data size. ``epoch_steps = 0`` is one pass.
* batches grouped by length (``Config.group_by_length``, SPEC §7 "training batches", ours): each
  pass's permutation is cut into chunks of ``BUCKET_BATCHES`` batches, each chunk sorted by length and
  cut into batches, and the batches of the pass shuffled; every batch holds its own longest
  sketch plus one end token instead of ``N_max`` points (the pen loss covers the steps up to there,
  so every sketch's ``p_end`` is still learned at its end, the longest one's included). The mean sketch has about half ``N_max`` points, so this
  halves the decoder's work. ``group_by_length = False`` is the reference: random batches padded to
  ``N_max``. Validation batches are sorted by length and padded to their longest; the validation
  loss does not change (it is masked after each end and the encoder normalises per image).
* each step: learning rate ``(1e-3 - 1e-5) * 0.9999^(t/3) + 1e-5``; forward (which first updates the
  GMM buffers from the batch, then computes the losses, :meth:`iapix.model.IAPix.forward`);
  backward; gradients clipped elementwise to ±1; Adam(beta1 = 0.5).
* NaN/inf loss, or a finite loss with NaN/inf gradients: the step is skipped (the GMM update of that
  step is undone too), counted in the log and on the progress bar; ``max_bad_steps`` in a row stop
  the run with a message that says what to try. The weights never take a non-finite value, and a
  checkpoint with NaN/inf weights is never written (:func:`iapix.checkpoint.save_checkpoint`).
* each epoch: validation reconstruction loss (decoding from ``mu``); the best checkpoint is kept in
  ``best.pt``; an epoch that does not improve rolls back to the best one (weights, optimiser, GMM,
  step/epoch counters: the schedules rewind, §7) and ``patience`` such epochs in a row stop the run.
  ``--no-rollback`` (``Config.rollback = False``, ours) keeps ``best.pt`` and trains on from the worse
  epoch, as sketch-rnn does: on 3 600 sketches the teacher-forced validation loss stops improving
  near step 3 000 while sampled generations go on improving (README, "Shipped models"), and
  rolling back retries the same 1 000 steps from there.
  ``iteration`` counts every optimiser step ever taken and never rewinds.
* checkpoints (``last.pt``, ``best.pt``) hold everything needed to resume and to sample: weights,
  optimiser, GMM buffers, config, scale factor, N_max, categories, counters, RNG states, the position
  inside the epoch, and a checksum (:mod:`iapix.checkpoint`: written to a temporary file and
  renamed, so a kill never leaves a half-written checkpoint; damage is found when the file is read).
  ``last.pt`` is also written every ``save_every`` steps; ``--resume`` continues from it with the
  settings stored in it (:func:`config_from_args`: no model or schedule flags needed; a larger
  ``--max-epochs``/``--max-steps``/``--patience`` extends a finished run and ``--[no-]rollback`` may
  change, ``config.json`` then follows; any other flag given must match; ``best.pt`` is verified
  too), and the logs are cut back to that point so the curves continue.
* the run folder: a new run refuses an ``--out`` that holds a run (``--resume`` continues it;
  ``--overwrite`` starts over after moving the old files to ``RUN/old-<time>/``, nothing is deleted),
  and while a trainer sets the folder up or fits, it holds ``RUN/.lock`` (:class:`RunLock`), so a
  second training on the same folder is refused instead of overwriting the first one's files; a
  trainer whose folder was resumed or moved aside by another between its set-up and ``fit()``
  refuses to fit.
* logs: ``log.csv`` (every term of every step), ``valid.csv`` (every validation), ``config.json``;
  ``iapix plot-log RUN`` draws them.
* multi-GPU: ``torchrun --nproc_per_node=N -m iapix.train ...`` runs DistributedDataParallel; each
  rank takes every N-th batch of the same permutation (the effective batch is ``N * batch_size``; the
  schedules count optimiser steps), and the GMM statistics are all-reduced
  (:meth:`iapix.latent.GMMLatent.update` ``reduce=``) so every rank holds the same GMM. Checkpoints
  hold rank 0's random-number states, so a resumed multi-GPU run continues the curves but is not
  bit-identical to an uninterrupted one (a single-process resume is).
* budgets: ``max_epochs`` counts epochs run and ``max_steps`` optimiser iterations, both including
  the ones undone by rollbacks.
* ``--amp`` (:data:`AMP`, not stored in the run: it may change on resume): ``bf16`` runs the whole
  forward pass under bfloat16 autocast (a GPU; the losses stay float32); ``bf16-cnn`` only the
  convolutions of the encoder and image decoder (``IAPix.cnn_bf16``, ours), the fast path on a CPU with
  AMX or AVX-512 BF16, where whole-model autocast slows the HyperLSTM (it leaves its fused kernel).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import errno
import inspect
import json
import math
import os
import re
import socket
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from iapix.checkpoint import WriteError, pick_device, read_checkpoint, save_checkpoint, slim_state
from iapix.cli import add_debug_argument, call, non_negative_int, positive_int
from iapix.data import Prepared, prepare
from iapix.latent import ALIVE, OBJECTIVES
from iapix.model import PRESETS, Config, IAPix, learning_rate, preset

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, RunLock warns and goes on
    fcntl = None

LOG_FIELDS = ["iteration", "step", "epoch", "lr", "total", "recon", "offset", "pen", "gauss", "weight", "image",
              "kl_weight", "alive", "skipped"]
BUCKET_BATCHES = 8  # group_by_length: batches per chunk sorted by length (larger: less padding, less random batches)
VALID_FIELDS = ["iteration", "step", "epoch", "valid_recon", "valid_offset", "valid_pen", "best", "improved",
                "bad_in_row", "seconds"]
AMP = ("bf16", "bf16-cnn")  # --amp (default none): the whole model under bf16 autocast (GPU); the CNNs only (CPU with AMX)
BUDGET = ("max_epochs", "max_steps", "patience", "rollback")  # the Config fields a resume may change: when and how a run ends
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
            warnings.warn(f"{self.folder}: cannot lock run folders on this system; run one training per folder")
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
                warnings.warn(f"{self.folder}: cannot lock the run folder ({e.strerror}); run one training per folder")
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


def run_files(out: Path) -> list[str]:
    """The files of a run in ``out`` (empty: no run there)."""
    return [n for n in RUN_FILES if (out / n).exists()]


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
    if resume and not (out / "last.pt").is_file():
        raise FileNotFoundError(f"{out / 'last.pt'}: no such file: nothing to resume in {out}; leave out --resume "
                                "to start a new run there")
    old = run_files(out)
    if not resume and old and not overwrite:
        raise FileExistsError(f"{out}: holds a run already ({', '.join(old)}); add --resume to continue it, or "
                              f"--overwrite to start over (its files are then moved to {out}/old-<time>/, not "
                              "deleted), or give another --out")


def check_budget(cfg: Config, save_every: int = 0, snapshot_every: int = 0) -> None:
    """Refuse budgets that leave nothing to train (a finished-at-once run would only overwrite files)."""
    for name, value in (("max_epochs", cfg.max_epochs), ("patience", cfg.patience), ("max_steps", cfg.max_steps)):
        if value is not None and value < 1:
            raise ValueError(f"{name} (--{name.replace('_', '-')}): expected at least 1, got {value}: nothing would "
                             "be trained")
    for name, value in (("save_every", save_every), ("snapshot_every", snapshot_every)):
        if value < 0:
            raise ValueError(f"{name} (--{name.replace('_', '-')}): expected 0 (never) or a positive number of "
                             f"steps, got {value}")


# ----------------------------------------------------------------------------------------------
# distributed helpers


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_stats(stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sum the GMM's batch statistics over all ranks (identity without a process group)."""
    if _dist_info()[1] == 1:
        return stats
    out = {}
    for k, v in stats.items():
        v = v.clone()
        dist.all_reduce(v)
        out[k] = v
    return out


def group_by_length(batches: list[np.ndarray], lengths: np.ndarray, rng: np.random.Generator,
                    chunk: int = BUCKET_BATCHES) -> list[np.ndarray]:
    """Regroup random batches so that each holds sketches of similar length; same sketches, same sizes.

    Every ``chunk`` consecutive batches are pooled, sorted by ``lengths`` (stable), and cut again
    into batches; the batches of all chunks are then shuffled. batches: list of index arrays of one
    size; lengths [n_train]. Returns a list of as many index arrays.
    """
    out = []
    for c in range(0, len(batches), chunk):
        pool = np.concatenate(batches[c:c + chunk])
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        out += np.split(pool, len(batches[c:c + chunk]))
    return [out[i] for i in rng.permutation(len(out))]


# ----------------------------------------------------------------------------------------------
# the trainer


class Trainer:
    """Fit an :class:`IAPix` model on prepared data; see the module docstring for the schedule."""

    def __init__(self, cfg: Config, data_dir: str | Path = "data", out_dir: str | Path = "runs/run",
                 device: str = "auto", amp: str | None = None, compile: bool = False, resume: bool = False,
                 save_every: int = 50, max_bad_steps: int = 20, limit: int | None = None,
                 progress: bool = True, data: Prepared | None = None, snapshot_every: int = 0,
                 overwrite: bool = False) -> None:
        self.cfg = cfg.validate()
        check_budget(cfg, save_every, snapshot_every)
        self.out = Path(out_dir)
        self.rank, self.world = _dist_info()
        if self.rank == 0:  # refuse now, not after preparing the data
            if self.out.is_dir():
                RunLock(self.out).acquire().release()  # first: "in use" says more than "holds a run"
            check_out_dir(self.out, resume, overwrite)
        if self.world > 1 and torch.cuda.is_available() and device in ("auto", "cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        self.device = pick_device(device)
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)  # NCCL collectives use the current device
        if amp is not None and amp not in AMP:
            raise ValueError(f"--amp: expected one of {list(AMP)}, got {amp!r}")
        self.amp = amp
        self.save_every, self.max_bad_steps, self.progress = save_every, max_bad_steps, progress and self.rank == 0
        self.snapshot_every = snapshot_every
        torch.manual_seed(cfg.seed)
        self.data = data if data is not None else prepare(cfg.categories, data_dir, max_len=cfg.max_len, limit=limit)
        self.train_set = self.data.dataset("train", augment=True, seed=cfg.seed + 1000 * self.rank,
                                           scale_amount=cfg.augment_scale, drop_prob=cfg.augment_drop,
                                           shrink=cfg.image_shrink, augment_image=cfg.augment_image)
        if len(self.train_set) < cfg.batch_size * self.world:
            raise ValueError(f"{len(self.train_set)} training sketches: fewer than one batch of {cfg.batch_size} per "
                             "process; lower --batch-size (or raise --limit)")
        if len(self.data.strokes["valid"]) == 0:
            raise ValueError("the validation split is empty: every epoch ends with a validation; check --data, "
                             "--limit and --max-len (`iapix prepare` shows what is kept)")
        self.lengths = np.array([len(s) for s in self.train_set.strokes])  # for group_by_length
        self.model = IAPix(cfg).to(self.device)  # same seed on every rank: same weights and GMM
        torch.manual_seed(cfg.seed + self.rank)  # ... but each rank its own dropout and sampling noise
        if compile:
            self.model.decoder.cell.compile_step()
        self.model.cnn_bf16 = amp == "bf16-cnn"
        self.net: torch.nn.Module = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                broadcast_buffers=False, find_unused_parameters=True)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
        # counters: step/epoch rewind on rollback, iteration never does
        self.step = self.epoch = self.iteration = self.batch_in_epoch = 0
        self.best = math.inf
        self.bad_in_row = self.skipped = self.skipped_in_row = 0
        self.done = False
        with RunLock(self.out) if self.rank == 0 else contextlib.nullcontext():
            if resume:
                self._resume()
            elif self.rank == 0:
                self._start(overwrite)
            self._seen = self._folder_identity()

    def _folder_identity(self) -> tuple:
        """Which run files are in the folder now (inode, mtime): ``fit`` checks that nobody replaced them
        between the trainer's set-up and its start, when the folder is not locked."""
        def ident(name: str) -> tuple[int, int] | None:
            try:
                st = (self.out / name).stat()
            except FileNotFoundError:
                return None
            return st.st_ino, st.st_mtime_ns
        return tuple(ident(n) for n in ("config.json", "last.pt")) if self.rank == 0 else ()

    def _start(self, overwrite: bool) -> None:
        """A new run: the old one's files moved aside (only with ``overwrite``), fresh logs and config."""
        check_out_dir(self.out, False, overwrite)  # again: the folder may have changed while the data was prepared
        if run_files(self.out):
            dest = move_aside(self.out)
            print(f"{self.out}: the previous run's files were moved to {dest}", file=sys.stderr)
        for name, fields in (("log.csv", LOG_FIELDS), ("valid.csv", VALID_FIELDS)):
            with open(self.out / name, "w", newline="") as f:
                csv.writer(f).writerow(fields)
        (self.out / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))

    # -- state ------------------------------------------------------------------------------

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "config": self.cfg.to_dict(),
            "scale": self.data.scale, "max_len": self.data.max_len, "categories": list(self.data.categories),
            "n_train": len(self.train_set),
            "step": self.step, "epoch": self.epoch, "iteration": self.iteration,
            "batch_in_epoch": self.batch_in_epoch, "best": self.best, "bad_in_row": self.bad_in_row,
            "skipped": self.skipped, "done": self.done,
            "rng": {"torch": torch.get_rng_state(), "numpy": self.train_set.rng.bit_generator.state,
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def save(self, name: str) -> None:
        if self.rank == 0:
            save_checkpoint(self.state(), self.out / name)  # refuses NaN/inf weights: the old file stays

    def _load_training_state(self, ckpt: dict, counters: bool) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.step, self.epoch = ckpt["step"], ckpt["epoch"]
        if counters:
            for k in ("iteration", "batch_in_epoch", "best", "bad_in_row", "skipped", "done"):
                setattr(self, k, ckpt[k])
            torch.set_rng_state(ckpt["rng"]["torch"])
            self.train_set.rng.bit_generator.state = ckpt["rng"]["numpy"]
            if ckpt["rng"]["cuda"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])

    def _resume(self) -> None:
        path = self.out / "last.pt"
        ckpt = read_checkpoint(path)
        if (self.out / "best.pt").is_file():  # a rollback needs it: find damage now, not at the first bad epoch
            read_checkpoint(self.out / "best.pt")
        then_cfg = Config.from_dict(ckpt["config"])  # fields a run predates get what that run did (LEGACY_DEFAULTS)
        then, now = then_cfg.to_dict(), self.cfg.to_dict()
        diff = {k: (then[k], now[k]) for k in now if k not in BUDGET and then[k] != now[k]}
        if "s2_clamp" in diff and then_cfg.encoder_s2_clamp == self.cfg.encoder_s2_clamp:
            del diff["s2_clamp"]  # "auto" and the clamp it stands for are one setting
        if diff:
            shown = "; ".join(f"{k}: {a!r} in the run, {b!r} now" for k, (a, b) in sorted(diff.items()))
            raise ValueError(f"{path}: written with a different config ({shown}); resume with the run's settings "
                             "(leave those flags out: `iapix train --resume` reads them from the run) or start a new --out")
        now = {"scale": self.data.scale, "max_len": self.data.max_len, "n_train": len(self.train_set)}
        then = {k: ckpt.get(k) for k in now}
        if any(then[k] is None or not math.isclose(then[k], now[k], rel_tol=1e-6) for k in now):
            raise ValueError(f"{path}: written for other data ({then}); the data now gives {now}. "
                             "Resume with the same --data and --limit")
        self._load_training_state(ckpt, counters=True)
        if self.rank == 0 and then_cfg != self.cfg:  # a changed budget or rollback rule: config.json says the new one
            tmp = self.out / "config.json.tmp"
            tmp.write_text(json.dumps(self.cfg.to_dict(), indent=2))
            os.replace(tmp, self.out / "config.json")
        cfg = self.cfg
        self.done = (self.epochs_run >= cfg.max_epochs or self.bad_in_row >= cfg.patience
                     or (cfg.max_steps is not None and self.iteration >= cfg.max_steps))
        # cut the logs back to the checkpoint so the curves continue without duplicates
        if self.rank == 0:
            for name in ("log.csv", "valid.csv"):
                p = self.out / name
                if p.is_file():
                    rows = list(csv.reader(open(p, newline="")))
                    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= self.iteration]
                    with open(p, "w", newline="") as f:
                        csv.writer(f).writerows(keep)

    # -- one step -----------------------------------------------------------------------------

    def _train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float] | None:
        s5, lengths, images, _ = (t.to(self.device, non_blocking=True) for t in batch)
        lr = learning_rate(self.cfg, self.step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        gmm_before = {k: v.clone() for k, v in self.model.latent.state_dict().items()}
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp == "bf16"):
            losses = self.net(s5, lengths, images, step=self.step, epoch=self.epoch, reduce=all_reduce_stats)
        total = losses["total"]
        finite = torch.isfinite(total).float()
        if self.world > 1:  # every rank must agree to skip
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        self.opt.zero_grad(set_to_none=True)
        if finite.item() < 1:
            return self._skip(losses, gmm_before)
        total.backward()
        # a finite loss can still have NaN/inf gradients (an overflow in the backward pass); clipping
        # keeps NaN, so one such step would spoil every weight it reaches. DDP has already averaged the
        # gradients here, so every rank takes the same decision.
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not bool(torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=math.inf))):  # one foreach pass
            self.opt.zero_grad(set_to_none=True)
            return self._skip(losses, gmm_before)
        self.skipped_in_row = 0
        torch.nn.utils.clip_grad_value_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        row = {k: float(v.detach()) for k, v in losses.items()}
        row["lr"] = lr
        return row

    def _skip(self, losses: dict[str, torch.Tensor], gmm_before: dict[str, torch.Tensor]) -> None:
        """Undo a bad step's GMM update and count it; too many in a row stop the run."""
        self.model.latent.load_state_dict(gmm_before)
        self.skipped += 1
        self.skipped_in_row += 1
        if self.skipped_in_row >= self.max_bad_steps:
            terms = {k: round(float(v.detach()), 4) for k, v in losses.items()}
            raise RuntimeError(
                f"the loss or its gradients were NaN/inf for {self.skipped_in_row} steps in a row (step {self.step}, "
                f"terms {terms}); last.pt holds the last finite weights. Try: --resume without --amp, or a new run "
                "(another --out, or --overwrite) with a lower --lr; check the data with `iapix prepare`")
        return None

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Reconstruction loss on the validation split, decoding from ``mu`` (pen masked after the end)."""
        self.model.eval()
        ds = self.data.dataset("valid")
        sums, n = {"recon": 0.0, "offset": 0.0, "pen": 0.0}, 0
        bs = self.cfg.batch_size
        order = np.argsort([len(s) for s in ds.strokes], kind="stable")  # short batches: less padding
        for i in range(0, len(ds), bs):
            items = [ds[j] for j in order[i:i + bs]]
            s5, lengths, images, _ = (t.to(self.device) for t in ds.collate(items, pad_to_longest=True))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp == "bf16"):
                out = self.model(s5, lengths, images, step=self.step, epoch=self.epoch, update_gmm=False)
            for k in sums:
                sums[k] += float(out[k]) * len(lengths)
            n += len(lengths)
        self.model.train()
        return {k: v / n for k, v in sums.items()}

    # -- the loop -----------------------------------------------------------------------------

    def _epoch_batches(self) -> list[np.ndarray]:
        """This rank's batches of the current epoch (the same list on every rank)."""
        # seeded by the number of epochs started so far (never rewinds: a rolled-back epoch gets a new order)
        rng = np.random.default_rng([self.cfg.seed, self.epochs_run])
        bs, n = self.cfg.batch_size, len(self.train_set)
        need = self.steps_per_epoch * self.world
        batches: list[np.ndarray] = []
        while len(batches) < need:
            order = rng.permutation(n)
            one_pass = [order[i:i + bs] for i in range(0, n - bs + 1, bs)]
            if self.cfg.group_by_length:
                one_pass = group_by_length(one_pass, self.lengths, rng)
            batches += one_pass
        return batches[self.rank:need:self.world]

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch: one pass over the training set, and at least ``epoch_steps``."""
        return max(len(self.train_set) // self.cfg.batch_size // self.world, self.cfg.epoch_steps)

    @property
    def epochs_run(self) -> int:
        return (self.iteration - self.batch_in_epoch) // max(1, self.steps_per_epoch)

    def fit(self) -> dict:
        """Train until ``patience`` bad epochs in a row, ``max_epochs`` or ``max_steps``; returns a summary.

        The run folder is locked meanwhile (:class:`RunLock`)."""
        with RunLock(self.out) if self.rank == 0 else contextlib.nullcontext():
            if self._folder_identity() != self._seen:
                raise FileExistsError(f"{self.out}: its run files changed after this trainer was set up (another "
                                      "process resumed, or moved the run aside with --overwrite); nothing trained. "
                                      "Set up the trainer again (with --resume to continue the run there)")
            try:
                return self._fit()
            except OSError as e:  # a log write on a full disk names no file: say which run and what to do
                if e.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(e, WriteError):
                    raise WriteError(e.errno, f"{self.out}: the disk is full ({e.strerror}); last.pt holds the run "
                                              "up to its last save: free some space, then run the same command with "
                                              "--resume") from e
                raise
            finally:
                self._seen = self._folder_identity()  # this trainer's own saves: a later fit() goes on from them

    def _fit(self) -> dict:
        cfg = self.cfg
        self.model.train()
        t_start = time.perf_counter()
        log = open(self.out / "log.csv", "a", newline="") if self.rank == 0 else None
        vlog = open(self.out / "valid.csv", "a", newline="") if self.rank == 0 else None
        try:
            while not self.done:
                batches = self._epoch_batches()
                bar = tqdm(total=len(batches), initial=self.batch_in_epoch, desc=f"epoch {self.epochs_run}",
                           disable=not self.progress, leave=False, dynamic_ncols=True)
                for idx in batches[self.batch_in_epoch:]:
                    row = self._train_step(self.train_set.collate([self.train_set[i] for i in idx],
                                                                  pad_to_longest=cfg.group_by_length))
                    self.iteration += 1
                    self.batch_in_epoch += 1
                    if row is not None:
                        self.step += 1
                        if log:
                            row.update(iteration=self.iteration, step=self.step, epoch=self.epoch,
                                       alive=int(self.model.latent.components_alive().sum()), skipped=self.skipped)
                            csv.writer(log).writerow([f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]
                                                      for k in LOG_FIELDS])
                        bar.set_postfix(loss=f"{row['total']:.1f}", recon=f"{row['recon']:.2f}",
                                        gauss=f"{row['gauss']:.2f}", skipped=self.skipped)
                    bar.update(1)
                    if self.snapshot_every and self.iteration % self.snapshot_every == 0 and self.rank == 0:
                        (self.out / "snapshots").mkdir(exist_ok=True)
                        save_checkpoint(slim_state(self.state(), f"iteration {self.iteration}"),
                                    self.out / "snapshots" / f"iter-{self.iteration:06d}.pt")
                    if cfg.max_steps is not None and self.iteration >= cfg.max_steps:
                        break
                    if self.save_every and self.iteration % self.save_every == 0 and self.batch_in_epoch < len(batches):
                        if log:
                            log.flush()
                        self.save("last.pt")
                bar.close()
                if cfg.max_steps is not None and self.iteration >= cfg.max_steps and \
                        self.batch_in_epoch < len(batches):
                    self.done = True  # a step budget that ends mid-epoch: no validation
                    break
                self._end_epoch(vlog, t_start)
                if log:
                    log.flush()
                self.save("last.pt")
        finally:
            for f in (log, vlog):
                if f:
                    f.close()
        self.save("last.pt")
        return {"iterations": self.iteration, "steps": self.step, "epochs": self.epochs_run, "best_valid": self.best,
                "skipped": self.skipped, "seconds": time.perf_counter() - t_start, "out": str(self.out)}

    def _end_epoch(self, vlog, t_start: float) -> None:
        cfg = self.cfg
        v = self.validate()
        if not math.isfinite(v["recon"]):
            raise RuntimeError(f"validation reconstruction loss is {v['recon']} after epoch {self.epochs_run}; "
                               "last.pt and best.pt hold the weights before this epoch. Try: --resume without --amp, "
                               "or a new run (another --out, or --overwrite) with a lower --lr")
        self.batch_in_epoch = 0
        self.epoch += 1
        improved = v["recon"] < self.best
        if improved:
            self.best = v["recon"]
            self.bad_in_row = 0
            self.save("best.pt")
        elif cfg.rollback:
            self.bad_in_row += 1
            best = read_checkpoint(self.out / "best.pt") if self.rank == 0 or self.world == 1 else None
            if self.world > 1:
                box = [best]
                dist.broadcast_object_list(box, src=0)
                best = box[0]
            self._load_training_state(best, counters=False)  # weights, optimiser, GMM, step, epoch
            self.best = best["best"]
        else:
            self.bad_in_row += 1  # best.pt keeps the best epoch; training goes on from this one
        if vlog:
            csv.writer(vlog).writerow([self.iteration, self.step, self.epoch, f"{v['recon']:.6g}",
                                       f"{v['offset']:.6g}", f"{v['pen']:.6g}", f"{self.best:.6g}", int(improved),
                                       self.bad_in_row, f"{time.perf_counter() - t_start:.1f}"])
            vlog.flush()
        if self.progress:
            what = "rolled back to best" if cfg.rollback else "not better, training on (--no-rollback)"
            tqdm.write(f"epoch {self.epochs_run}: valid recon {v['recon']:.3f} (best {self.best:.3f})"
                       f"{'' if improved else f', {what} ({self.bad_in_row} in a row)'}")
        if self.bad_in_row >= cfg.patience or self.epochs_run >= cfg.max_epochs or \
                (cfg.max_steps is not None and self.iteration >= cfg.max_steps):
            self.done = True


# ----------------------------------------------------------------------------------------------
# plotting the logs


def plot_log(run: str | Path, out: str | Path | None = None):
    """Draw the loss curves of a run (every term per step, validation per epoch); returns the figure."""
    import matplotlib.pyplot as plt

    run = Path(run)
    if not (run / "log.csv").is_file():
        raise FileNotFoundError(f"{run / 'log.csv'}: no training log here (is {run} a run folder?)")
    if len((run / "log.csv").read_text().splitlines()) < 2:
        raise ValueError(f"{run / 'log.csv'}: no step logged yet (the run has not finished its first step): "
                         "nothing to plot")
    log = np.genfromtxt(run / "log.csv", delimiter=",", names=True)
    log = np.atleast_1d(log)
    valid = np.atleast_1d(np.genfromtxt(run / "valid.csv", delimiter=",", names=True)) \
        if (run / "valid.csv").stat().st_size > 0 else None
    terms = ["recon", "offset", "pen", "gauss", "weight", "image"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for t in ["total", "recon"]:
        axes[0].plot(log["iteration"], log[t], label=t, lw=0.8)
    if valid is not None and valid.size and "valid_recon" in valid.dtype.names:
        axes[0].plot(valid["iteration"], valid["valid_recon"], "o-", label="valid recon")
    axes[0].set_yscale("symlog")
    axes[0].set_title("total and reconstruction")
    for t in terms[1:]:
        axes[1].plot(log["iteration"], log[t], label=t, lw=0.8)
    axes[1].set_yscale("symlog")
    axes[1].set_title("loss terms")
    axes[2].plot(log["iteration"], log["alive"], label=f"components alive (alpha > {ALIVE:g})")
    axes[2].plot(log["iteration"], log["kl_weight"] * log["alive"].max(), label="warm-up w_t (scaled)", ls="--")
    axes[2].set_title("GMM")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=90)
    return fig


# ----------------------------------------------------------------------------------------------
# CLI: iapix train / iapix plot-log / torchrun -m iapix.train


def config_help() -> dict[str, str]:
    """Each :class:`Config` field's end-of-line comment in its source (the ``--flag`` help)."""
    return dict(re.findall(r"^ +(\w+): [^#\n]*#\s*(.+)$", inspect.getsource(Config), re.M))


def _s2_clamp(text: str) -> str | tuple[float, float]:
    if text in ("auto", "none"):
        return text  # "none" becomes None in config_from_args (None here means "not given")
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or LOW,HIGH, got {text!r}") from None
    return lo, hi


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per :class:`Config` field (default: the preset's value)."""
    helps = config_help()
    for f in dataclasses.fields(Config):
        flag, default = "--" + f.name.replace("_", "-"), getattr(Config(), f.name)
        kw: dict = dict(default=None, help=helps.get(f.name, ""))
        if f.name == "s2_clamp":
            kw.update(type=_s2_clamp, metavar="auto|none|LOW,HIGH")
        elif isinstance(default, bool):
            kw.update(action=argparse.BooleanOptionalAction)
        elif isinstance(default, tuple):
            kw.update(nargs="+", type=type(default[0]))
        elif f.name == "max_steps":
            kw.update(type=int)
        else:
            kw.update(type=type(default))
        if f.name == "objective":
            kw["choices"] = list(OBJECTIVES)
        parser.add_argument(flag, **kw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, choices=sorted(PRESETS),
                        help="named preset (default: small); every other Config field below overrides it")
    parser.add_argument("--data", default="data")
    parser.add_argument("--out", default="runs/run")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", default=None, choices=AMP,
                        help="bf16: the whole model under bfloat16 autocast (a GPU); bf16-cnn: only the convolutions "
                             "of the encoder and image decoder (a CPU with AMX or AVX-512 BF16: ~2x faster encoder)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder's recurrent step")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt, with the "
                        "settings stored in it (flags given must agree; --max-epochs/--max-steps/--patience/--[no-]rollback may change)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in an --out that holds one (its files are moved to RUN/old-<time>/)")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N sketches of each split (quick runs)")
    parser.add_argument("--save-every", type=non_negative_int, default=50, help="write last.pt every N steps (0: at "
                        "the end of each epoch only)")
    parser.add_argument("--snapshot-every", type=non_negative_int, default=0,
                        help="also keep a slim copy of the model every N iterations in RUN/snapshots/ "
                             "(for `iapix curve RUN`; 0: none)")
    add_config_arguments(parser.add_argument_group("config (every Config field; default: the preset's value)"))


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset ``--config`` (default ``small``) with the flags given. On ``--resume`` the run's own settings
    (the config in ``RUN/last.pt``, extended budgets included) take the preset's place, so a resume needs no model
    or schedule flags, and a flag given that contradicts the run, ``--config`` included, is refused by the
    :class:`Trainer` (``--max-epochs``, ``--max-steps``, ``--patience`` and ``--[no-]rollback`` may change:
    they say when and how a run ends)."""
    over = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    for k in ("categories", "image_shrink"):
        if k in over:
            over[k] = tuple(over[k])
    if over.get("s2_clamp") == "none":
        over["s2_clamp"] = None
    last = Path(getattr(args, "out", None) or ".") / "last.pt"
    if getattr(args, "resume", False) and last.is_file():
        if args.config is not None:  # a preset named on resume must agree with the run, field by field
            over = {**{k: v for k, v in PRESETS[args.config].items() if k not in BUDGET}, **over}
        return dataclasses.replace(Config.from_dict(read_checkpoint(last)["config"]), **over).validate()
    return preset(args.config or "small", **over)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    trainer = Trainer(cfg, args.data, args.out, device=args.device, amp=args.amp, compile=args.compile,
                      resume=args.resume, save_every=args.save_every, limit=args.limit,
                      snapshot_every=args.snapshot_every, overwrite=args.overwrite)
    if trainer.rank == 0:
        how = "the run's settings" if args.resume else (args.config or "small")
        print(f"training {cfg.objective} ({how}) on {', '.join(cfg.categories)}: "
              f"{len(trainer.train_set)} sketches, N_max {trainer.data.max_len}, {trainer.device}, "
              f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters -> {args.out}")
    summary = trainer.fit()
    if trainer.rank == 0:
        print(json.dumps(summary, indent=2))
        best = Path(args.out) / "best.pt"
        print(f"best checkpoint: {best if best.is_file() else 'none yet (no validation so far)'}; "
              f"curves: iapix plot-log {args.out}")
    return 0


def add_plot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder (with log.csv)")
    parser.add_argument("--out", default=None, help="PNG path, or a folder for curves.png (default RUN/curves.png)")


def run_plot(args: argparse.Namespace) -> int:
    import matplotlib

    from iapix.cli import output_file

    matplotlib.use("Agg")
    out = output_file(args.out or Path(args.run), "curves.png")
    plot_log(args.run, out)
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``torchrun --nproc_per_node=N -m iapix.train ...`` (and ``python -m``)."""
    parser = argparse.ArgumentParser(prog="iapix.train", description="train IA-pix2seq (multi-process aware)")
    add_arguments(parser)
    parser.add_argument("--backend", default=None, help="process-group backend (default nccl on GPU, gloo on CPU)")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        backend = args.backend or ("nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo")
        dist.init_process_group(backend)
    try:
        return call("iapix.train", run, args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
