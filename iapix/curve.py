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
* ``probe`` and ``kmeans_nmi``: do the codes hold the category (a linear probe's accuracy) and do they
  cluster by it (k-means with k = the number of categories): :func:`iapix.evaluate.code_structure`;
* ``bc``: the weighted Bhattacharyya overlap of the live Gaussians (:func:`iapix.evaluate.overlap_measures`);
* ``control``: the lowest per-Gaussian majority share over the Gaussians with ``alpha >= 0.1``
  (:func:`iapix.evaluate.component_control`; 1.0 = every heavy Gaussian draws one category).
* ``rec_<category>`` (the last columns, one per category of the run): Rec on that category's sketches
  (:func:`iapix.evaluate.rec_by_category`), so that a curve shows which category holds Rec back.

Rows already in ``curve.csv`` are kept, so the command can run while training goes on, and the
snapshots can be deleted once measured (the CSV is the record). It then draws every run given into
one figure (``--out``, default ``RUN/curve.png`` of the first run).
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import Prepared, prepare
from iapix.decoder import DEFAULT_TEMPERATURE
from iapix.evaluate import load_or_train_classifier, rec_by_category, score
from iapix.runfolder import complete_rows, run_files

FIELDS = ["iteration", "step", "rec", "ret1", "mean_length", "ended", "alive", "nmi", "probe", "kmeans_nmi", "bc",
          "control"]


def fields(categories: list[str]) -> list[str]:
    """The columns of a curve of a run on ``categories``: ``FIELDS``, then one ``rec_<category>`` each."""
    return FIELDS + [f"rec_{c}" for c in categories]


def by_category(row: dict) -> dict[str, float]:
    """A curve row's per-category Rec (its ``rec_<category>`` columns, :func:`fields`), by category."""
    return {k[len("rec_"):]: v for k, v in row.items() if k.startswith("rec_")}


def snapshots(run: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every ``RUN/snapshots/iter-NNNNNN.pt``, in order."""
    found = [(int(m.group(1)), p) for p in (run / "snapshots").glob("iter-*.pt")
             if (m := re.fullmatch(r"iter-(\d+)\.pt", p.name))]
    return sorted(found)


def read_curve(run: Path, split: str = "test") -> list[dict]:
    """The complete rows of a run's curve (a last row cut short by a kill is left out: it is measured again)."""
    path = curve_path(run, split)
    if not path.is_file():
        return []
    header, rows, _ = complete_rows(path)
    return [{k: float(v) for k, v in zip(header, row)} for row in rows]


def curve_row(run: Path, iteration: int, split: str = "test") -> dict | None:
    """The row of :func:`read_curve` measured at ``iteration`` (a shipped checkpoint's, say), or None if there is
    none."""
    return next((r for r in read_curve(run, split) if int(r["iteration"]) == int(iteration)), None)


def check_run(run: Path) -> None:
    """Refuse a path that is not a run folder before anything is built from it: a mistyped name creates nothing."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder" if not run.exists() else
                                f"{run}: not a folder; give a run folder (the --out of iapix train)")
    if not run_files(run) and not any(curve_path(run, s).is_file() for s in SPLITS):
        raise FileNotFoundError(f"{run}: not a run folder (no snapshots/, config.json or curve.csv); give the --out "
                                "of an iapix train run with --snapshot-every N")


def _drop_incomplete_rows(path: Path) -> None:
    """Rewrite a curve without the rows a kill cut short (through a temporary file), so that appended rows start on
    a line of their own; says how many were dropped (their snapshots are measured again)."""
    import warnings

    header, rows, left_out = complete_rows(path)
    if not left_out:
        return
    if not header:  # not even the header was written: the file starts anew
        path.unlink()
    else:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header] + rows)
        tmp.replace(path)
    warnings.warn(f"{path}: {left_out} incomplete row(s) dropped (cut short by a kill); their snapshots are "
                  "measured again", stacklevel=3)


SPLITS = ("test", "valid")


def curve_path(run: Path, split: str = "test") -> Path:
    """``RUN/curve.csv`` for the test sketches, ``RUN/curve-valid.csv`` for the validation ones."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    return Path(run) / ("curve.csv" if split == "test" else f"curve-{split}.csv")


def measure(path: Path, classifier: torch.nn.Module, data: Prepared, temperature: float = DEFAULT_TEMPERATURE,
            seed: int = 0, split: str = "test") -> dict:
    """One row of the curve for one snapshot (see the module docstring); ``data`` prepared for its run.

    The numbers are :func:`iapix.evaluate.score`'s, the same as ``iapix evaluate`` reports."""
    ck = load_checkpoint(path)
    s, _, _ = score(ck, classifier, data, split, temperature, seed=seed)
    return {"iteration": ck.info["iteration"], "step": ck.info["step"], "rec": s["rec"], "ret1": s["ret"]["ret@1"],
            "mean_length": s["mean_length"], "ended": s["ended"], "alive": s["overlap"]["alive"],
            "nmi": s["overlap"]["nmi"], "probe": s["structure"]["probe"],
            "kmeans_nmi": s["structure"]["kmeans_nmi"][len(ck.categories)],
            "bc": s["overlap"]["bc_weighted"] if s["overlap"]["bc_weighted"] is not None else float("nan"),
            "control": min((c["share"] for c in s["control"]), default=float("nan")),
            **{f"rec_{c}": float("nan") if r is None else r
               for c, r in zip(ck.categories, rec_by_category(s["rec_confusion"]))}}


def update_curve(run: str | Path, classifier_path: str | Path, data_dir: str | Path = "data",
                 temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, limit: int | None = None,
                 split: str = "test") -> list[dict]:
    """Measure the snapshots of ``run`` not yet in its curve (:func:`curve_path`), append them; returns all rows."""
    from tqdm.auto import tqdm

    run = Path(run)
    check_run(run)
    path = curve_path(run, split)
    if path.is_file():
        _drop_incomplete_rows(path)
    done = {int(r["iteration"]) for r in read_curve(run, split)}
    todo = [(i, p) for i, p in snapshots(run) if i not in done]
    if todo:
        ck = load_checkpoint(todo[0][1])
        data = prepare(ck.categories, data_dir, max_len=ck.max_len, scale=ck.scale, limit=limit)
        classifier, _ = load_or_train_classifier(classifier_path, data, seed=seed)
        columns = fields(ck.categories)
        new = not path.is_file()
        if not new:
            _add_columns(path, columns)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, columns)
            if new:
                writer.writeheader()
            for _, p in tqdm(todo, desc=f"curve {run.name} ({split})", unit="snapshot"):
                row = measure(p, classifier, data, temperature, seed, split)
                writer.writerow({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()})
                f.flush()
    return read_curve(run, split)


def _add_columns(path: Path, columns: list[str]) -> None:
    """A curve written before a measure joined ``columns`` (:func:`fields`) gets its column (``nan`` in the old
    rows), so that new rows can be appended under one header; written to a temporary file first, then renamed over
    the old one."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames or [], list(reader)
    if header == columns:
        return
    unknown = set(header) - set(columns)
    if unknown:
        raise ValueError(f"{path}: unknown columns {sorted(unknown)} (written by another version?); "
                         f"move it aside to measure the run anew")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows({k: row.get(k) or "nan" for k in columns} for row in rows)
    tmp.replace(path)


def plot_curves(curves: dict[str, list[dict]], path: str | Path | None = None):
    """One panel per measure, one line per run (in "Rec by category", one per run and category the run has):
    ``curves`` maps a run name to its rows."""
    import matplotlib.pyplot as plt

    panels = [("rec", "Rec"), ("ret1", "Ret@1"), ("mean_length", "mean generated length"),
              ("ended", "ended by p_end"), ("alive", "live Gaussians"), ("nmi", "NMI(component, category)"),
              ("probe", "linear probe on the codes"), ("kmeans_nmi", "k-means NMI (k = categories)"),
              ("bc", "Bhattacharyya overlap"), ("control", "per-Gaussian control (min share)")]
    per_category = list(dict.fromkeys(c for rows in curves.values() for r in rows for c in by_category(r)))
    if per_category:
        panels.append(("rec_", "Rec by category"))
    ncols = 5
    fig, axes = plt.subplots(-(-len(panels) // ncols), ncols, figsize=(3.0 * ncols, 2.6 * -(-len(panels) // ncols)),
                             squeeze=False)
    axes = axes.ravel()
    for ax, (key, title) in zip(axes, panels):
        for name, rows in curves.items():
            if not rows:
                continue
            x = [r["iteration"] for r in rows]
            if key != "rec_":
                ax.plot(x, [r.get(key, float("nan")) for r in rows], "o-", ms=3, label=name)
                continue
            for c in (c for c in per_category if any(c in by_category(r) for r in rows)):
                ax.plot(x, [by_category(r).get(c, float("nan")) for r in rows], "o-", ms=3,
                        label=c if len(curves) == 1 else f"{name}: {c}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    if per_category:
        axes[len(panels) - 1].legend(fontsize=6)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    if path is not None:
        from iapix.plot import save_figure

        save_figure(fig, path, dpi=90)
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
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="first N sketches of each split per category (quick)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the sketches to measure on: test "
                        "(RUN/curve.csv) "
                        "or valid (RUN/curve-valid.csv, to choose a snapshot without looking at the test numbers)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    from iapix.cli import output_file

    matplotlib.use("Agg")
    name = "curve.png" if args.split == "test" else f"curve-{args.split}.png"
    for r in args.runs:  # before --out, whose default is inside the first run: a mistyped run creates nothing
        check_run(Path(r))
    out = output_file(args.out or Path(args.runs[0]) / name, name)  # a bad --out fails at once
    curves = {}
    for r in args.runs:
        rows = update_curve(r, args.classifier, args.data, args.temperature, args.seed, args.limit, args.split)
        curves[Path(r).name] = rows
        if rows:
            last = rows[-1]
            cats = ", ".join(f"{c} {v:.3f}" for c, v in by_category(last).items())
            print(f"{r} ({args.split}): {len(rows)} points; at iteration {int(last['iteration'])}: "
                  f"Rec {last['rec']:.3f}, "
                  f"Ret@1 {last['ret1']:.3f}, length {last['mean_length']:.0f}, ended {last['ended']:.2f}, "
                  f"alive {int(last['alive'])}, NMI {last['nmi']:.2f}, probe {last.get('probe', float('nan')):.2f}, "
                  f"k-means NMI {last.get('kmeans_nmi', float('nan')):.2f}, control {last['control']:.2f}"
                  + (f", Rec by category: {cats}" if cats else ""))
        else:
            print(f"{r}: no snapshots yet (train with --snapshot-every N)")
    plot_curves(curves, out)
    print(out)
    return 0
