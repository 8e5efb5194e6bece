"""The latent structure of snapshots, without generating a sketch: the cheap half of ``iapix curve``.

For each checkpoint, on the validation split (``--split``): the GMM's live Gaussians, NMI(component, category),
purity and weighted Bhattacharyya overlap (:func:`iapix.evaluate.overlap_measures`), the linear probe and the
k-means NMI of the codes (:func:`iapix.evaluate.code_structure`, k = the number of categories and k = K), and
each used Gaussian's majority category, its share and its number of codes. It encodes images only, so it takes
seconds per snapshot where ``iapix curve`` (Rec, Ret, per-Gaussian control: thousands of generated sketches)
takes minutes: the measure to screen latent-space experiments by (docs/latent-space.md).

    python benchmarks/latent_structure.py runs/five-small-ia-base/snapshots/iter-00{1000,1500}.pt --csv out.csv

``--members PNG`` also draws, for the last checkpoint, real sketches of the split that each used Gaussian holds
(a row per Gaussian, most codes first; a random ``--n`` of its members, each titled with its category): what a
Gaussian has gathered, category or style.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import denormalise, prepare
from iapix.evaluate import code_structure, overlap_measures
from iapix.sample import encode, save_grid

FIELDS = ["checkpoint", "iteration", "alive", "nmi", "purity", "bc", "probe", "kmeans_nmi", "kmeans_nmi_K",
          "components"]


def structure(path: str | Path, data, split: str = "valid", seed: int = 0) -> dict:
    """One row of :data:`FIELDS` for the checkpoint at ``path``; ``data`` prepared for its run."""
    ck = load_checkpoint(path)
    model = ck.model
    mu, s2 = encode(model, data.images[split])
    train_mu, _ = encode(model, data.images["train"])
    labels = data.labels[split]
    o = overlap_measures(model, mu, s2, labels, ck.categories)
    C, K = len(ck.categories), model.latent.K
    st = code_structure(train_mu, data.labels["train"], mu, labels, sorted({C, K}), seed=seed)
    by_size = sorted(o["components"], key=lambda c: -c["n"])
    comps = " ".join(f"{c['majority']} {c['share']:.2f}/{c['n']}" for c in by_size)
    return {"checkpoint": str(path), "iteration": ck.info.get("iteration"), "alive": o["alive"], "nmi": o["nmi"],
            "purity": o["purity"], "bc": o["bc_weighted"], "probe": st["probe"], "kmeans_nmi": st["kmeans_nmi"][C],
            "kmeans_nmi_K": st["kmeans_nmi"][K], "components": comps}


def members(path: str | Path, data, out: str | Path, split: str = "valid", n: int = 10, seed: int = 0) -> Path:
    """A grid of real ``split`` sketches per used Gaussian of the checkpoint at ``path`` (a row each, most members
    first; ``n`` members drawn at random, titled ``G<k> <category>``) written to ``out``."""
    ck = load_checkpoint(path)
    mu, s2 = encode(ck.model, data.images[split])
    labels = ck.model.latent.labels(mu, s2).numpy()
    rng = np.random.default_rng(seed)
    sketches, titles = [], []
    for k in np.argsort(-np.bincount(labels, minlength=ck.model.latent.K), kind="stable"):
        held = np.flatnonzero(labels == k)
        if len(held) == 0:
            break
        pick = np.sort(rng.choice(held, min(n, len(held)), replace=False))
        sketches += denormalise([data.strokes[split][i] for i in pick], ck.scale)
        titles += [f"G{k} {ck.categories[data.labels[split][i]]}" for i in pick]
        sketches += [np.zeros((0, 3), np.float32)] * (n - len(pick))  # keep the rows aligned
        titles += [""] * (n - len(pick))
    return save_grid(sketches, out, ncols=n, titles=titles)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default="data")
    ap.add_argument("--split", default="valid", choices=("valid", "test"))
    ap.add_argument("--csv", default=None, help="also append the rows to this CSV")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--members", default=None, metavar="PNG", help="also draw the members of each Gaussian of the "
                    "last checkpoint here")
    ap.add_argument("--n", type=int, default=10, choices=range(1, 101), metavar="1..100",
                    help="members per Gaussian in --members")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*clipped to it")
    data, key = None, None
    writer = None
    if args.csv:
        new = not Path(args.csv).is_file()
        f = open(args.csv, "a", newline="")
        writer = csv.DictWriter(f, FIELDS)
        if new:
            writer.writeheader()
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        if data is None or (ck.categories, ck.max_len, ck.scale) != key:  # the data as this checkpoint's run saw it
            key = ck.categories, ck.max_len, ck.scale
            data = prepare(ck.categories, args.data, max_len=ck.max_len, scale=ck.scale)
        row = structure(path, data, args.split)
        print(f"{path} (iteration {row['iteration']}, {args.split}): alive {row['alive']}, NMI {row['nmi']:.3f}, "
              f"purity {row['purity']:.3f}, BC {row['bc'] if row['bc'] is None else round(row['bc'], 3)}, "
              f"probe {row['probe']:.3f}, k-means NMI {row['kmeans_nmi']:.3f} (k = K: {row['kmeans_nmi_K']:.3f}) | "
              f"{row['components']}", flush=True)
        if writer is not None:
            writer.writerow({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()})
    if writer is not None:
        f.close()
    if args.members:
        print(f"members of each Gaussian -> {members(args.checkpoints[-1], data, args.members, args.split, args.n)}")


if __name__ == "__main__":
    sys.exit(main())
