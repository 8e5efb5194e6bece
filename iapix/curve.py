"""The learning curve of a run: how well its model draws, measured every ~1 000 steps.

``iapix train ... --snapshot-every 1000`` keeps a slim copy of the model in ``RUN/snapshots/``;
``iapix curve RUN [RUN ...]`` measures each snapshot once and appends a row to ``RUN/curve.csv``:

* ``rec``: Rec on the test sketches (one generation per test sketch, from its ``mu``, tau 0.24),
  labelled by the shared classifier (:func:`iapix.evaluate.rec`); ``--split valid`` measures the
  validation sketches instead, into ``RUN/curve-valid.csv``: the curve to choose a snapshot by, so that
  the test numbers stay unseen by the choice;
* ``ret1``: Ret@1 of those generations (:func:`iapix.evaluate.ret`);
* ``mean_length`` and ``ended``: mean generated length, share stopped by ``p_end`` before N_max;
* ``alive`` and ``nmi``: Gaussians with ``alpha > 1e-3``, NMI(component label, category) on the test codes;
* ``control``: the lowest per-Gaussian majority share over the Gaussians with ``alpha >= 0.1``
  (:func:`iapix.evaluate.component_control`; 1.0 = every heavy Gaussian draws one category).

Rows already in ``curve.csv`` are kept, so the command can run while training goes on, and the
snapshots can be deleted once measured (the CSV is the record). It then draws every run given into
one figure (``--out``, default ``RUN/curve.png`` of the first run).
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import Prepared, prepare
from iapix.decoder import DEFAULT_TEMPERATURE
from iapix.evaluate import component_control, ended_share, load_or_train_classifier, overlap_measures, rec, ret
from iapix.raster import render
from iapix.sample import decode, encode

FIELDS = ["iteration", "step", "rec", "ret1", "mean_length", "ended", "alive", "nmi", "control"]


def snapshots(run: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every ``RUN/snapshots/iter-NNNNNN.pt``, in order."""
    found = [(int(m.group(1)), p) for p in (run / "snapshots").glob("iter-*.pt")
             if (m := re.fullmatch(r"iter-(\d+)\.pt", p.name))]
    return sorted(found)


def read_curve(run: Path, split: str = "test") -> list[dict]:
    path = curve_path(run, split)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


SPLITS = ("test", "valid")


def curve_path(run: Path, split: str = "test") -> Path:
    """``RUN/curve.csv`` for the test sketches, ``RUN/curve-valid.csv`` for the validation ones."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    return Path(run) / ("curve.csv" if split == "test" else f"curve-{split}.csv")


def measure(path: Path, classifier: torch.nn.Module, data: Prepared, temperature: float = DEFAULT_TEMPERATURE,
            seed: int = 0, split: str = "test") -> dict:
    """One row of the curve for one snapshot (see the module docstring); ``data`` prepared for its run."""
    ck = load_checkpoint(path)
    model, cats = ck.model, ck.categories
    labels = data.labels[split]
    mu, s2 = encode(model, data.images[split])
    generated = decode(ck, mu, temperature, seed=seed)  # as iapix evaluate does
    images = render(generated, allow_empty=True)
    overlap = overlap_measures(model, mu, s2, labels, cats)
    control = component_control(ck, classifier, temperature=temperature, seed=seed) \
        if model.cfg.objective != "vae" else []
    return {"iteration": ck.info["iteration"], "step": ck.info["step"], "rec": rec(classifier, images, labels),
            "ret1": ret(model, images, mu)["ret@1"], "mean_length": float(np.mean([len(s) for s in generated])),
            "ended": ended_share(generated, ck.max_len), "alive": overlap["alive"], "nmi": overlap["nmi"],
            "control": min((c["share"] for c in control), default=float("nan"))}


def update_curve(run: str | Path, classifier_path: str | Path, data_dir: str | Path = "data",
                 temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, limit: int | None = None,
                 split: str = "test") -> list[dict]:
    """Measure the snapshots of ``run`` not yet in its curve (:func:`curve_path`), append them; returns all rows."""
    from tqdm.auto import tqdm

    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder")
    path = curve_path(run, split)
    done = {int(r["iteration"]) for r in read_curve(run, split)}
    todo = [(i, p) for i, p in snapshots(run) if i not in done]
    if todo:
        ck = load_checkpoint(todo[0][1])
        data = prepare(ck.categories, data_dir, max_len=ck.max_len, scale=ck.scale, limit=limit)
        classifier, _ = load_or_train_classifier(classifier_path, data, seed=seed)
        new = not path.is_file()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            if new:
                writer.writeheader()
            for _, p in tqdm(todo, desc=f"curve {run.name} ({split})", unit="snapshot"):
                row = measure(p, classifier, data, temperature, seed, split)
                writer.writerow({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()})
                f.flush()
    return read_curve(run, split)


def plot_curves(curves: dict[str, list[dict]], path: str | Path | None = None):
    """One panel per measure, one line per run: ``curves`` maps a run name to its rows."""
    import matplotlib.pyplot as plt

    panels = [("rec", "Rec"), ("ret1", "Ret@1"), ("mean_length", "mean generated length"),
              ("ended", "ended by p_end"), ("alive", "live Gaussians"), ("nmi", "NMI(component, category)"),
              ("control", "per-Gaussian control (min share)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.8))
    for ax, (key, title) in zip(axes, panels):
        for name, rows in curves.items():
            if rows:
                ax.plot([r["iteration"] for r in rows], [r[key] for r in rows], "o-", ms=3, label=name)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iapix.cli import positive_float, positive_int

    parser.add_argument("runs", nargs="+", help="run folders (with snapshots/ from --snapshot-every)")
    parser.add_argument("--classifier", default="checkpoints/classifier-catpig.pt",
                        help="the Rec classifier (trained there if missing); one for all runs")
    parser.add_argument("--data", default="data")
    parser.add_argument("--out", default=None, help="PNG path (default: RUN/curve.png of the first run)")
    parser.add_argument("--temperature", type=positive_float, default=DEFAULT_TEMPERATURE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=positive_int, default=None, help="first N sketches of each split per category (quick)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the sketches to measure on: test (RUN/curve.csv) "
                        "or valid (RUN/curve-valid.csv, to choose a snapshot without looking at the test numbers)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    from iapix.cli import output_file

    matplotlib.use("Agg")
    name = "curve.png" if args.split == "test" else f"curve-{args.split}.png"
    out = output_file(args.out or Path(args.runs[0]) / name, name)  # a bad --out fails at once
    curves = {}
    for r in args.runs:
        rows = update_curve(r, args.classifier, args.data, args.temperature, args.seed, args.limit, args.split)
        curves[Path(r).name] = rows
        if rows:
            last = rows[-1]
            print(f"{r} ({args.split}): {len(rows)} points; at iteration {int(last['iteration'])}: Rec {last['rec']:.3f}, "
                  f"Ret@1 {last['ret1']:.3f}, length {last['mean_length']:.0f}, ended {last['ended']:.2f}, "
                  f"alive {int(last['alive'])}, NMI {last['nmi']:.2f}, control {last['control']:.2f}")
        else:
            print(f"{r}: no snapshots yet (train with --snapshot-every N)")
    plot_curves(curves, out)
    print(out)
    return 0
