"""Training that can be trusted: the method §4 schedule, atomic checkpoints, resume, logs, multi-GPU.

``Trainer(cfg, data_dir, out_dir).fit()``, or ``iapix train --config small --categories cat pig --data data --out
runs/catpig-ia`` (a flag per :class:`~iapix.model.Config` field):

* batches: :func:`iapix.data.prepare`, then augmented training batches whose images are rendered from the
  augmented strokes (``Config.augment_image``, method §7 "training image"); the order of epoch ``e`` comes from a
  generator seeded by ``(seed, e)``, so a resumed run sees the batches it would have seen; the last partial batch of
  a pass is dropped. Batches are grouped by length and padded to their own longest sketch plus an end token
  (``Config.group_by_length``, :func:`group_by_length`, method §7 "training batches").
* an **epoch** is ``max(one pass, Config.epoch_steps)`` optimiser steps (method §7 "validation interval"):
  validation, rollback, patience and the image warm-up count these epochs, so they mean the same at every data size.
* each step (method §4): learning rate ``(lr - min_lr) * lr_decay^(t / 3) + min_lr``;
  :meth:`iapix.model.IAPix.forward` (the GMM update, then every loss term); backward; every gradient element clipped
  to ``±grad_clip``; Adam with ``beta1 = 0.5``. A step whose loss or gradients are NaN/inf is skipped (its GMM
  update undone) and counted; ``max_bad_steps`` in a row stop the run with a message that says what to try.
* each epoch: the validation reconstruction loss, decoding from ``mu``; ``best.pt`` keeps the best epoch. A worse
  epoch rolls back to it -- weights, optimiser, GMM and the step/epoch counters, so the schedules rewind (method §7
  "rollback") -- or, with ``--no-rollback`` (``Config.rollback = False``, ours), training goes on from it, as
  sketch-rnn does; ``patience`` such epochs in a row stop the run. ``iteration`` counts every step and never rewinds.
* files: ``last.pt`` (every ``save_every`` steps, at each epoch's end, and when Ctrl-C or ``kill`` (SIGINT,
  SIGTERM) stops the run after its step in progress) and ``best.pt`` hold everything needed to
  resume and to sample, written atomically with a checksum (:mod:`iapix.checkpoint`, which owns their layout);
  ``log.csv`` (every term of every step), ``valid.csv``, ``config.json`` (``iapix plot-log RUN`` draws them,
  :mod:`iapix.logplot`); ``snapshots/`` with
  ``--snapshot-every`` (``iapix curve RUN``). ``--resume`` continues from ``last.pt`` with the run's own settings
  (:func:`iapix.config_cli.config_from_args`; only the budgets and the rollback rule may change) and cuts the logs
  back to it.
* the run folder is locked while a trainer uses it (:class:`iapix.runfolder.RunLock`), and a new run never writes
  over an old one (:func:`iapix.runfolder.check_out_dir`; ``--overwrite`` first moves the old files to
  ``RUN/old-<time>/``).
* multi-GPU: ``torchrun --nproc_per_node=N -m iapix.train ...`` (DDP): each rank takes every N-th batch of the same
  permutation and the GMM statistics are all-reduced, so every rank holds the same GMM; a resumed multi-GPU run is
  not bit-identical to an uninterrupted one (a single-process resume is).
* ``--amp`` (:data:`AMP`, not stored in the run): ``bf16`` runs the whole forward pass under bfloat16 autocast (a
  GPU); ``bf16-cnn`` only the CNNs' convolutions (``IAPix.cnn_bf16``, ours), for CPUs with AMX or AVX-512 BF16.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import json
import math
import os
import platform
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from iapix.checkpoint import (
    COUNTERS,
    DATA_KEYS,
    REWOUND,
    WriteError,
    check_fits,
    check_resumable,
    config_of,
    pick_device,
    read_checkpoint,
    restore_rng,
    restore_training_state,
    save_checkpoint,
    slim_state,
    training_state,
)
from iapix.cli import add_debug_argument, call, non_negative_int, positive_int
from iapix.config_cli import add_config_arguments, config_from_args
from iapix.data import Prepared, prepare
from iapix.model import BUDGET, PRESETS, Config, IAPix, learning_rate
from iapix.runfolder import RunLock, check_out_dir, cut_log, move_aside, run_files

LOG_FIELDS = ["iteration", "step", "epoch", "lr", "total", "recon", "offset", "pen", "gauss", "weight", "image",
              "kl_weight", "alive", "skipped"]
BUCKET_BATCHES = 8  # group_by_length: batches per chunk sorted by length (larger: less padding, less random batches)
VALID_FIELDS = ["iteration", "step", "epoch", "valid_recon", "valid_offset", "valid_pen", "best", "improved",
                "bad_in_row", "seconds"]
AMP = ("bf16", "bf16-cnn")  # --amp (default none): the whole model under bf16 autocast (GPU); the CNNs only (AMX CPU)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # stop after the step in progress, saving last.pt (a second: at once)
CPUINFO = Path("/proc/cpuinfo")  # where Linux lists the CPU's instruction-set flags (cpu_bf16)


# ----------------------------------------------------------------------------------------------
# checks before a run


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


def cpu_bf16(cpuinfo: str | Path | None = None) -> bool | None:
    """Whether this CPU computes bfloat16 in hardware (AVX-512-BF16 or AMX); None where that cannot be told (not an
    x86 CPU). Without either, bfloat16 is emulated and ``--amp`` makes every step several times slower."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return None
    try:
        with open(cpuinfo or CPUINFO) as f:
            flags = next(set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags"))
    except (OSError, StopIteration, IndexError):  # no /proc (not Linux): both come only with AVX-512
        return None if torch.backends.cpu.get_cpu_capability() == "AVX512" else False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


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


class TrainingStopped(KeyboardInterrupt):
    """``Trainer.fit`` was stopped by SIGINT/SIGTERM after a step, with ``last.pt`` saved there."""

    def __init__(self, sig: signal.Signals, message: str) -> None:
        super().__init__(message)
        self.signal = sig


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
        if amp is not None and self.device.type == "cpu" and cpu_bf16() is False:
            warnings.warn(f"--amp {amp}: this CPU has no bfloat16 hardware (AVX-512-BF16 or AMX), so bfloat16 is "
                          "emulated and each step is several times slower than without --amp (6.5x measured for "
                          "bf16-cnn); leave out --amp here", stacklevel=2)
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
        self.stopped_by: signal.Signals | None = None  # set by the first SIGINT/SIGTERM during fit()
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
        """What ``last.pt`` and ``best.pt`` hold (the layout: :func:`iapix.checkpoint.training_state`)."""
        return training_state(self.model, self.opt, self.cfg, self.data.scale, self.data.max_len,
                              self.data.categories, len(self.train_set), {k: getattr(self, k) for k in COUNTERS},
                              self.train_set.rng.bit_generator.state)

    def save(self, name: str) -> None:
        if self.rank == 0:
            save_checkpoint(self.state(), self.out / name)  # refuses NaN/inf weights: the old file stays

    def _load_training_state(self, ckpt: dict, counters: bool) -> None:
        """Weights, optimiser, ``step`` and ``epoch`` (a rollback); with ``counters`` every counter and the random
        states too (a resume)."""
        restored = restore_training_state(ckpt, self.model, self.opt, COUNTERS if counters else REWOUND)
        for k, v in restored.items():
            setattr(self, k, v)
        if counters:
            restore_rng(ckpt, self.train_set.rng)

    # -- resume: every check first, then the state, then the files ----------------------------

    def _resume(self) -> None:
        """Continue the run in the folder from ``last.pt``, with the same batches and random numbers."""
        ckpt, run_cfg, best = self._read_run()
        self._check_best_kept(ckpt, best)
        self._check_same_config(run_cfg)
        self._check_same_data(ckpt)
        self._check_weights_fit(ckpt, best)
        self._load_training_state(ckpt, counters=True)
        if self.rank == 0:
            self._write_changed_config(run_cfg)
        self.done = self._budget_spent()
        if self.rank == 0:
            self._cut_logs()

    def _read_run(self) -> tuple[dict, Config, dict | None]:
        """``last.pt`` (refused if it cannot be resumed), the config it was written with, and ``best.pt`` if there
        (read now, so that damage is found now, not at a rollback)."""
        path, best_path = self.out / "last.pt", self.out / "best.pt"
        ckpt = read_checkpoint(path)
        check_resumable(ckpt, path)
        run_cfg = config_of(ckpt, path)  # fields a run predates get what that run did (LEGACY_DEFAULTS)
        best = read_checkpoint(best_path) if best_path.is_file() else None
        return ckpt, run_cfg, best

    def _check_best_kept(self, ckpt: dict, best: dict | None) -> None:
        """Refuse a run that has validated but lost ``best.pt`` while a rollback would need it."""
        if self.cfg.rollback and best is None and math.isfinite(ckpt.get("best", math.inf)):
            raise FileNotFoundError(f"{self.out / 'best.pt'}: missing (the run has validated, best "
                                    f"{ckpt['best']:.4g}): a rollback needs it; put it back (or copy last.pt to "
                                    "best.pt: rollbacks then return to the last save), or resume with --no-rollback")

    def _check_same_config(self, run_cfg: Config) -> None:
        """Refuse settings other than the run's, but its budget and rollback rule (``BUDGET``)."""
        then, now = run_cfg.to_dict(), self.cfg.to_dict()
        diff = {k: (then[k], now[k]) for k in now if k not in BUDGET and then[k] != now[k]}
        if "s2_clamp" in diff and run_cfg.encoder_s2_clamp == self.cfg.encoder_s2_clamp:
            del diff["s2_clamp"]  # "auto" and the clamp it stands for are one setting
        if diff:
            shown = "; ".join(f"{k}: {a!r} in the run, {b!r} now" for k, (a, b) in sorted(diff.items()))
            raise ValueError(f"{self.out / 'last.pt'}: written with a different config ({shown}); resume with the "
                             "run's settings (leave those flags out: `iapix train --resume` reads them from the run) "
                             "or start a new --out")

    def _check_same_data(self, ckpt: dict) -> None:
        """Refuse data other than the run's (scale, N_max, number of training sketches: ``DATA_KEYS``)."""
        now = dict(zip(DATA_KEYS, (self.data.scale, self.data.max_len, len(self.train_set))))
        then = {k: ckpt.get(k) for k in now}
        if any(then[k] is None or not math.isclose(then[k], now[k], rel_tol=1e-6) for k in now):
            raise ValueError(f"{self.out / 'last.pt'}: written for other data ({then}); the data now gives {now}. "
                             "Resume with the same --data and --limit")

    def _check_weights_fit(self, ckpt: dict, best: dict | None) -> None:
        """Refuse weights of another version with one sentence, not ``load_state_dict``'s keys; ``best.pt`` too when
        a rollback would load it."""
        check_fits(self.model, ckpt, self.out / "last.pt")
        if best is not None and self.cfg.rollback:
            best_path = self.out / "best.pt"
            check_resumable(best, best_path)
            check_fits(self.model, best, best_path)

    def _write_changed_config(self, run_cfg: Config) -> None:
        """A changed budget or rollback rule: ``config.json`` says the new one (written through a temporary file)."""
        if run_cfg != self.cfg:
            tmp = self.out / "config.json.tmp"
            tmp.write_text(json.dumps(self.cfg.to_dict(), indent=2))
            os.replace(tmp, self.out / "config.json")

    def _cut_logs(self) -> None:
        """Cut the logs back to the checkpoint, so that the curves go on without duplicates and without a row cut
        short by the kill that stopped the run (it would break every reader of the log)."""
        for name, fields in (("log.csv", LOG_FIELDS), ("valid.csv", VALID_FIELDS)):
            if (self.out / name).is_file():
                cut_log(self.out / name, self.iteration, fields)

    def _budget_spent(self) -> bool:
        """Whether the run is over: ``patience`` bad epochs in a row, ``max_epochs`` or ``max_steps`` reached."""
        cfg = self.cfg
        return (self.epochs_run >= cfg.max_epochs or self.bad_in_row >= cfg.patience
                or (cfg.max_steps is not None and self.iteration >= cfg.max_steps))

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
                with self._stop_on_signals():
                    summary = self._fit()
                if self.stopped_by is not None and not self.done:
                    raise TrainingStopped(self.stopped_by, f"{self.stopped_by.name}: stopped at iteration "
                                          f"{self.iteration}; {self.out / 'last.pt'} holds it: continue with the "
                                          "same command and --resume")
                return summary
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
        logs = contextlib.ExitStack()  # closes both logs on any error, a failed second open or first close included
        try:
            # line-buffered: a row per step reaches the file at once (a live `iapix plot-log`, a stop's last row)
            log = logs.enter_context(open(self.out / "log.csv", "a", newline="", buffering=1)) \
                if self.rank == 0 else None
            vlog = logs.enter_context(open(self.out / "valid.csv", "a", newline="")) if self.rank == 0 else None
            while not self.done and self.stopped_by is None:
                batches = self._epoch_batches()
                bar = tqdm(total=len(batches), initial=self.batch_in_epoch, desc=f"epoch {self.epochs_run}",
                           disable=not self.progress, leave=False, dynamic_ncols=True)
                post: dict[str, object] = {}
                try:  # closed on any error too, so that the error's message starts a line of its own
                    for idx in batches[self.batch_in_epoch:]:
                        try:
                            row = self._train_step(self.train_set.collate([self.train_set[i] for i in idx],
                                                                          pad_to_longest=cfg.group_by_length))
                        finally:  # a skipped step shows on the bar, the one that stops the run included
                            post["skipped"] = self.skipped
                            bar.set_postfix(post, refresh=False)
                        self.iteration += 1
                        self.batch_in_epoch += 1
                        if row is not None:
                            self.step += 1
                            if log:
                                row.update(iteration=self.iteration, step=self.step, epoch=self.epoch,
                                           alive=int(self.model.latent.components_alive().sum()), skipped=self.skipped)
                                csv.writer(log).writerow([f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]
                                                          for k in LOG_FIELDS])
                            post = dict(loss=f"{row['total']:.1f}", recon=f"{row['recon']:.2f}",
                                        gauss=f"{row['gauss']:.2f}", skipped=self.skipped)
                            bar.set_postfix(post, refresh=False)
                        bar.update(1)
                        if self.snapshot_every and self.iteration % self.snapshot_every == 0 and self.rank == 0:
                            (self.out / "snapshots").mkdir(exist_ok=True)
                            save_checkpoint(slim_state(self.state(), f"iteration {self.iteration}"),
                                            self.out / "snapshots" / f"iter-{self.iteration:06d}.pt")
                        if cfg.max_steps is not None and self.iteration >= cfg.max_steps:
                            break
                        if self.save_every and self.iteration % self.save_every == 0 and \
                                self.batch_in_epoch < len(batches):
                            if log:
                                log.flush()
                            self.save("last.pt")
                        if self.stopped_by is not None:
                            break
                finally:
                    bar.close()
                if cfg.max_steps is not None and self.iteration >= cfg.max_steps and \
                        self.batch_in_epoch < len(batches):
                    self.done = True  # a step budget that ends mid-epoch: no validation
                    break
                if self.stopped_by is not None:
                    break  # no validation now: last.pt is saved below; --resume goes on from this batch (or validates)
                self._end_epoch(vlog, t_start)
                if log:
                    log.flush()
                self.save("last.pt")
        finally:
            logs.close()
        self.save("last.pt")
        return {"iterations": self.iteration, "steps": self.step, "epochs": self.epochs_run, "best_valid": self.best,
                "skipped": self.skipped, "seconds": time.perf_counter() - t_start, "out": str(self.out)}

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """While training, the first SIGINT (Ctrl-C, a notebook's stop button) or SIGTERM (``kill``, a job
        scheduler) asks the run to stop after the step in progress and save ``last.pt``, so that nothing trained
        is lost; ``fit`` then raises :class:`TrainingStopped` (a ``KeyboardInterrupt``: a notebook's later cells do
        not run on a half-trained model). A second signal acts as it would have (stops at once). Only a single
        process in its main thread (DDP ranks would stop at different steps and wait for each other forever), and
        only signals that Python handles (one ignored by the parent shell, ``cmd &``, stays ignored)."""
        self.stopped_by = None
        if self.world > 1 or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        previous = {s: h for s, h in previous.items() if h is not None and h != signal.SIG_IGN}

        def stop(signum: int, frame) -> None:
            self.stopped_by = signal.Signals(signum)
            for s, handler in previous.items():
                signal.signal(s, handler)
            # os.write, not print: the signal may have interrupted a write to stderr (tqdm's bar)
            os.write(2, f"\n{self.stopped_by.name}: stopping after this step and saving {self.out / 'last.pt'} "
                        "(send it again to stop at once)\n".encode())

        for s in previous:
            signal.signal(s, stop)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

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
        if self._budget_spent():
            self.done = True


# ----------------------------------------------------------------------------------------------
# CLI: iapix train / torchrun -m iapix.train


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
                        "settings stored in it (flags given must agree; --max-epochs/--max-steps/--patience/"
                        "--[no-]rollback may change)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in an --out that holds one (its files are moved to RUN/old-<time>/)")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N sketches of each split (quick runs)")
    parser.add_argument("--save-every", type=non_negative_int, default=50, help="write last.pt every N steps (0: at "
                        "the end of each epoch only)")
    parser.add_argument("--snapshot-every", type=non_negative_int, default=0,
                        help="also keep a slim copy of the model every N iterations in RUN/snapshots/ "
                             "(for `iapix curve RUN`; 0: none)")
    add_config_arguments(parser.add_argument_group("config (every Config field; default: the preset's value)"))


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
    try:
        summary = trainer.fit()
    except TrainingStopped as e:
        print(f"iapix train: {e}", file=sys.stderr)
        return 128 + int(e.signal)
    if trainer.rank == 0:
        print(json.dumps(summary, indent=2))
        best = Path(args.out) / "best.pt"
        print(f"best checkpoint: {best if best.is_file() else 'none yet (no validation so far)'}; "
              f"curves: iapix plot-log {args.out}")
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
