"""Training that can be trusted: the SPEC §4 schedule, atomic checkpoints, resume, logs, multi-GPU.

``Trainer(cfg, data_dir, out_dir).fit()`` or ``iapix train --config small --categories cat pig
--data data --out runs/catpig-ia``. What happens, step by step:

* data: :func:`iapix.data.prepare` (clean, normalise by the training scale factor, render 48x48);
  training batches are augmented (stretch, point dropping, image shrink); the last partial batch of
  an epoch is dropped (§7 "rollback"). Epoch ``e`` visits the sketches in the order of a permutation
  seeded by ``(seed, e)``, so a resumed run sees exactly the batches it would have seen.
* each step: learning rate ``(1e-3 - 1e-5) * 0.9999^(t/3) + 1e-5``; forward (which first updates the
  GMM buffers from the batch, then computes the losses, :meth:`iapix.model.IAPix.forward`);
  backward; gradients clipped elementwise to ±1; Adam(beta1 = 0.5).
* NaN/inf loss: the step is skipped (the GMM update of that step is undone too), counted in the log
  and on the progress bar; ``max_bad_steps`` in a row stop the run with a message that says what to
  try.
* each epoch: validation reconstruction loss (decoding from ``mu``); the best checkpoint is kept in
  ``best.pt``; an epoch that does not improve rolls back to the best one (weights, optimiser, GMM,
  step/epoch counters: the schedules rewind, §7) and ``patience`` such epochs in a row stop the run.
  ``iteration`` counts every optimiser step ever taken and never rewinds.
* checkpoints (``last.pt``, ``best.pt``) hold everything needed to resume and to sample: weights,
  optimiser, GMM buffers, config, scale factor, N_max, categories, counters, RNG states, the position
  inside the epoch. They are written to a temporary file and renamed, so a kill never leaves a
  half-written checkpoint. ``last.pt`` is also written every ``save_every`` steps; ``--resume``
  continues from it (a larger ``--max-epochs``/``--max-steps`` extends a finished run; any other
  setting must match), and the logs are cut back to that point so the curves continue.
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
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from iapix.data import Prepared, prepare
from iapix.model import PRESETS, Config, IAPix, learning_rate, preset

LOG_FIELDS = ["iteration", "step", "epoch", "lr", "total", "recon", "offset", "pen", "gauss", "weight", "image",
              "kl_weight", "alive", "skipped"]
VALID_FIELDS = ["iteration", "step", "epoch", "valid_recon", "valid_offset", "valid_pen", "best", "improved",
                "bad_in_row", "seconds"]


# ----------------------------------------------------------------------------------------------
# checkpoints


def save_atomic(obj: dict, path: str | Path) -> None:
    """``torch.save`` to ``path.tmp`` then rename: a reader never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :class:`Trainer`, with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    missing = {"model", "config", "scale", "max_len", "categories"} - set(ckpt)
    if missing:
        raise ValueError(f"{path}: not an iapix checkpoint (missing {sorted(missing)})")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[IAPix, dict]:
    """A trained model in eval mode and its checkpoint dict (scale, max_len, categories, ...)."""
    ckpt = load_checkpoint(path, device)
    model = IAPix(Config.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


def export_checkpoint(src: str | Path, dst: str | Path, note: str = "") -> Path:
    """A slim copy of a checkpoint for sampling and evaluation (no optimiser, no RNG states).

    ``load_model`` reads it like any other checkpoint; it cannot be resumed (use ``last.pt`` for that).
    """
    ckpt = load_checkpoint(src)
    slim = {k: ckpt[k] for k in ("model", "config", "scale", "max_len", "categories", "step", "epoch",
                                 "iteration", "best")}
    slim["note"] = note
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    save_atomic(slim, dst)
    return Path(dst)


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


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


# ----------------------------------------------------------------------------------------------
# the trainer


class Trainer:
    """Fit an :class:`IAPix` model on prepared data; see the module docstring for the schedule."""

    def __init__(self, cfg: Config, data_dir: str | Path = "data", out_dir: str | Path = "runs/run",
                 device: str = "auto", amp: str | None = None, compile: bool = False, resume: bool = False,
                 save_every: int = 50, max_bad_steps: int = 20, limit: int | None = None,
                 progress: bool = True, data: Prepared | None = None) -> None:
        self.cfg = cfg.validate()
        self.out = Path(out_dir)
        self.rank, self.world = _dist_info()
        if self.world > 1 and torch.cuda.is_available() and device in ("auto", "cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        self.device = pick_device(device)
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)  # NCCL collectives use the current device
        if amp not in (None, "bf16"):
            raise ValueError(f"--amp: only 'bf16' is supported, got {amp!r}")
        self.amp = amp
        self.save_every, self.max_bad_steps, self.progress = save_every, max_bad_steps, progress and self.rank == 0
        torch.manual_seed(cfg.seed)
        self.data = data if data is not None else prepare(cfg.categories, data_dir, max_len=cfg.max_len, limit=limit)
        self.train_set = self.data.dataset("train", augment=True, seed=cfg.seed + 1000 * self.rank)
        self.train_set.scale_amount, self.train_set.drop_prob = cfg.augment_scale, cfg.augment_drop
        self.train_set.shrink = cfg.image_shrink
        self.model = IAPix(cfg).to(self.device)  # same seed on every rank: same weights and GMM
        torch.manual_seed(cfg.seed + self.rank)  # ... but each rank its own dropout and sampling noise
        if compile:
            self.model.decoder.cell.compile_step()
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
        if resume:
            self._resume()
        elif self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            for stale in ("last.pt", "best.pt"):  # a new run never rolls back into an old one
                (self.out / stale).unlink(missing_ok=True)
            for name, fields in (("log.csv", LOG_FIELDS), ("valid.csv", VALID_FIELDS)):
                with open(self.out / name, "w", newline="") as f:
                    csv.writer(f).writerow(fields)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

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
            save_atomic(self.state(), self.out / name)

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
        ckpt = load_checkpoint(path, self.device)
        budget = {"max_epochs", "max_steps", "patience"}  # may change: resume can extend a run
        diff = {k for k in ckpt["config"] if k not in budget and ckpt["config"][k] != self.cfg.to_dict().get(k)}
        if diff:
            raise ValueError(f"{path}: written with a different config (fields {sorted(diff)}); "
                             f"resume with the same settings or start a new --out")
        now = {"scale": self.data.scale, "max_len": self.data.max_len, "n_train": len(self.train_set)}
        then = {k: ckpt.get(k) for k in now}
        if any(then[k] is None or not math.isclose(then[k], now[k], rel_tol=1e-6) for k in now):
            raise ValueError(f"{path}: written for other data ({then}); the data now gives {now}. "
                             "Resume with the same --data and --limit")
        self._load_training_state(ckpt, counters=True)
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
            self.model.latent.load_state_dict(gmm_before)
            self.skipped += 1
            self.skipped_in_row += 1
            if self.skipped_in_row >= self.max_bad_steps:
                terms = {k: round(float(v.detach()), 4) for k, v in losses.items()}
                raise RuntimeError(
                    f"loss was NaN/inf for {self.skipped_in_row} steps in a row (step {self.step}, terms {terms}). "
                    "Try: a lower --lr, no --amp, checking the data (`iapix prepare`), or resuming from best.pt.")
            return None
        self.skipped_in_row = 0
        total.backward()
        torch.nn.utils.clip_grad_value_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        row = {k: float(v.detach()) for k, v in losses.items()}
        row["lr"] = lr
        return row

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Reconstruction loss on the validation split, decoding from ``mu`` (pen masked after the end)."""
        self.model.eval()
        ds = self.data.dataset("valid")
        sums, n = {"recon": 0.0, "offset": 0.0, "pen": 0.0}, 0
        bs = self.cfg.batch_size
        for i in range(0, len(ds), bs):
            s5, lengths, images, _ = (t.to(self.device) for t in ds.collate([ds[j] for j in range(i, min(i + bs, len(ds)))]))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp == "bf16"):
                out = self.model(s5, lengths, images, step=self.step, epoch=self.epoch, update_gmm=False)
            for k in sums:
                sums[k] += float(out[k]) * len(lengths)
            n += len(lengths)
        self.model.train()
        return {k: v / n for k, v in sums.items()}

    # -- the loop -----------------------------------------------------------------------------

    def _epoch_batches(self) -> list[np.ndarray]:
        """This rank's batches of the current epoch (same permutation on every rank)."""
        # seeded by the number of epochs started so far (never rewinds: a rolled-back epoch gets a new order)
        order = np.random.default_rng([self.cfg.seed, self.epochs_run]).permutation(len(self.train_set))
        bs = self.cfg.batch_size
        batches = [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]
        n = len(batches) // self.world * self.world
        return batches[self.rank:n:self.world]

    @property
    def epochs_run(self) -> int:
        per_epoch = len(self.train_set) // self.cfg.batch_size // self.world
        return (self.iteration - self.batch_in_epoch) // max(1, per_epoch)

    def fit(self) -> dict:
        """Train until ``patience`` bad epochs in a row, ``max_epochs`` or ``max_steps``; returns a summary."""
        cfg = self.cfg
        self.model.train()
        t_start = time.perf_counter()
        log = open(self.out / "log.csv", "a", newline="") if self.rank == 0 else None
        vlog = open(self.out / "valid.csv", "a", newline="") if self.rank == 0 else None
        try:
            while not self.done:
                batches = self._epoch_batches()
                if not batches:
                    raise ValueError(f"{len(self.train_set)} training sketches: fewer than one batch of "
                                     f"{cfg.batch_size} per process; lower --batch-size")
                bar = tqdm(total=len(batches), initial=self.batch_in_epoch, desc=f"epoch {self.epochs_run}",
                           disable=not self.progress, leave=False, dynamic_ncols=True)
                for idx in batches[self.batch_in_epoch:]:
                    row = self._train_step(self.train_set.collate([self.train_set[i] for i in idx]))
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
                               "try a lower --lr or no --amp, or resume from best.pt")
        self.batch_in_epoch = 0
        self.epoch += 1
        improved = v["recon"] < self.best
        if improved:
            self.best = v["recon"]
            self.bad_in_row = 0
            self.save("best.pt")
        else:
            self.bad_in_row += 1
            best = load_checkpoint(self.out / "best.pt", self.device) if self.rank == 0 or self.world == 1 else None
            if self.world > 1:
                box = [best]
                dist.broadcast_object_list(box, src=0)
                best = box[0]
            self._load_training_state(best, counters=False)  # weights, optimiser, GMM, step, epoch
            self.best = best["best"]
        if vlog:
            csv.writer(vlog).writerow([self.iteration, self.step, self.epoch, f"{v['recon']:.6g}",
                                       f"{v['offset']:.6g}", f"{v['pen']:.6g}", f"{self.best:.6g}", int(improved),
                                       self.bad_in_row, f"{time.perf_counter() - t_start:.1f}"])
            vlog.flush()
        if self.progress:
            tqdm.write(f"epoch {self.epochs_run}: valid recon {v['recon']:.3f} (best {self.best:.3f})"
                       f"{'' if improved else f', rolled back to best ({self.bad_in_row} in a row)'}")
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
    axes[2].plot(log["iteration"], log["alive"], label="components alive (alpha > 1e-3)")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="small", choices=sorted(PRESETS))
    parser.add_argument("--categories", nargs="+", default=["cat", "pig"])
    parser.add_argument("--data", default="data")
    parser.add_argument("--out", default="runs/run")
    parser.add_argument("--objective", default="ia", choices=["ia", "rpcl", "vae"])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", default=None, choices=["bf16"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder's recurrent step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N sketches of each split (quick runs)")
    parser.add_argument("--save-every", type=int, default=50, help="write last.pt every N steps")


def config_from_args(args: argparse.Namespace) -> Config:
    over = {k: v for k, v in {"max_epochs": args.max_epochs, "max_steps": args.max_steps,
                              "batch_size": args.batch_size}.items() if v is not None}
    return preset(args.config, categories=tuple(args.categories), objective=args.objective, seed=args.seed, **over)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    trainer = Trainer(cfg, args.data, args.out, device=args.device, amp=args.amp, compile=args.compile,
                      resume=args.resume, save_every=args.save_every, limit=args.limit)
    if trainer.rank == 0:
        print(f"training {cfg.objective} ({args.config}) on {', '.join(cfg.categories)}: "
              f"{len(trainer.train_set)} sketches, N_max {trainer.data.max_len}, {trainer.device}, "
              f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters -> {args.out}")
    summary = trainer.fit()
    if trainer.rank == 0:
        print(json.dumps(summary, indent=2))
        print(f"best checkpoint: {Path(args.out) / 'best.pt'}; curves: iapix plot-log {args.out}")
    return 0


def add_plot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder (with log.csv)")
    parser.add_argument("--out", default=None, help="PNG path (default RUN/curves.png)")


def run_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    out = args.out or str(Path(args.run) / "curves.png")
    plot_log(args.run, out)
    print(out)
    return 0


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="a checkpoint written by iapix train (e.g. RUN/best.pt)")
    parser.add_argument("dst", help="where to write the slim copy")
    parser.add_argument("--note", default="", help="free text stored in the checkpoint (how it was made)")


def run_export(args: argparse.Namespace) -> int:
    path = export_checkpoint(args.src, args.dst, args.note)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``torchrun --nproc_per_node=N -m iapix.train ...`` (and ``python -m``)."""
    parser = argparse.ArgumentParser(prog="iapix.train", description="train IA-pix2seq (multi-process aware)")
    add_arguments(parser)
    parser.add_argument("--backend", default=None, help="process-group backend (default nccl on GPU, gloo on CPU)")
    args = parser.parse_args(argv)
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        backend = args.backend or ("nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo")
        dist.init_process_group(backend)
    try:
        return run(args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
