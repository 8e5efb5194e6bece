"""The loss curves of a run: ``iapix plot-log RUN`` draws what ``iapix train`` logged.

:func:`plot_log` reads ``RUN/log.csv`` (every loss term of every step, :data:`iapix.train.LOG_FIELDS`) and
``RUN/valid.csv`` (the validation loss of every epoch) and draws three panels: the total and reconstruction losses
with the validation curve, the other loss terms, and the GMM (components alive, the warm-up weight ``w_t`` of
method §4). A row cut short by a kill, or being written right now, is left out with a warning, so a running
training can be plotted. How well the model *draws* over training is :mod:`iapix.curve` (``iapix curve RUN``).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from iapix.latent import ALIVE
from iapix.runfolder import check_run_folder, complete_rows


def plot_log(run: str | Path, out: str | Path | None = None):
    """Draw the loss curves of a run (every term per step, validation per epoch); returns the figure."""
    import matplotlib.pyplot as plt

    from iapix.plot import save_figure

    run = Path(run)
    check_run_folder(run)
    log, left_out = _columns(run / "log.csv")
    if not len(next(iter(log.values()), [])):
        raise ValueError(f"{run / 'log.csv'}: no step logged yet (the run has not finished its first step): "
                         "nothing to plot")
    valid, left_valid = _columns(run / "valid.csv") if (run / "valid.csv").is_file() else ({}, 0)
    for name, n in (("log.csv", left_out), ("valid.csv", left_valid)):
        if n:  # a row cut short by a kill, or being written now: the rest still draws
            warnings.warn(f"{run / name}: {n} incomplete row(s) left out (cut short by a kill, or being written "
                          "right now)", stacklevel=2)
    missing = [t for t in ("iteration", "total", "recon", "kl_weight", "alive") if t not in log]
    if missing:
        raise ValueError(f"{run / 'log.csv'}: no column {', '.join(missing)}: not a log written by iapix train")
    terms = ["recon", "offset", "pen", "gauss", "weight", "image"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for t in ["total", "recon"]:
        axes[0].plot(log["iteration"], log[t], label=t, lw=0.8)
    if "valid_recon" in valid and len(valid["valid_recon"]):
        axes[0].plot(valid["iteration"], valid["valid_recon"], "o-", label="valid recon")
    axes[0].set_yscale("symlog")
    axes[0].set_title("total and reconstruction")
    for t in terms[1:]:
        if t in log:  # a term added after the run was written is not drawn
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
        save_figure(fig, out, dpi=90)
    return fig


def _columns(path: Path) -> tuple[dict[str, np.ndarray], int]:
    """A run's CSV log as one array per column (complete rows only), and how many rows were left out."""
    header, rows, left_out = complete_rows(path)
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
    return {name: values[:, i] for i, name in enumerate(header)}, left_out


# ----------------------------------------------------------------------------------------------
# CLI: iapix plot-log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder (with log.csv)")
    parser.add_argument("--out", default=None, help="PNG path, or a folder for curves.png (default RUN/curves.png)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    from iapix.cli import output_file

    matplotlib.use("Agg")
    check_run_folder(Path(args.run))  # before --out: its default is inside the run
    out = output_file(args.out or Path(args.run), "curves.png")
    plot_log(args.run, out)
    print(out)
    return 0
