"""Does completing half a sketch keep its category? And how fast is "draw your own" on a CPU? (run by hand)

1. **Category.** For every test sketch of cat and pig (the embedded data, normalised with the
   checkpoint's scale), keep the first half of its strokes (at least one), complete it with
   :func:`iapix.sample.complete` (one continuation, tau 0.24, seed 0) and ask the cached classifier
   (``checkpoints/classifier-catpig.pt``) for the category of the completions, of the halves alone,
   and of the full originals. Images come from the data's renderer (``iapix.raster.render``).
2. **Latency.** On the first ``--latency`` test sketches (as canvas polylines in pixels, the way the
   pad sends them): median wall time of (a) ``encode_drawing`` (simplification, 48x48 image,
   encoder, posterior, label) plus the nearest test codes (squared distances to every test ``mu``,
   the metric of Ret), and (b) 8 completions of the drawing in one batch.

Prints Markdown tables. One thread by default (``--threads``)::

    python benchmarks/completion.py
    python benchmarks/completion.py --limit 50      # a quick look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import prepare
from iapix.evaluate import accuracy, load_or_train_classifier
from iapix.plot import strokes_to_lines
from iapix.raster import render
from iapix.sample import complete, encode, encode_drawing

ROOT = Path(__file__).resolve().parents[1]


def first_half(s: np.ndarray) -> np.ndarray:
    """The first half of a stroke-3 sketch's strokes (at least one stroke)."""
    ends = np.flatnonzero(s[:, 2] > 0.5)
    keep = max(1, len(ends) // 2)
    return s[:ends[keep - 1] + 1]


def nearest(mu: torch.Tensor, keys: torch.Tensor, k: int = 8) -> torch.Tensor:
    """Indices of the ``k`` test codes closest to ``mu [D]`` (squared distance, as Ret)."""
    return ((keys - mu[None]).square().sum(1)).topk(k, largest=False).indices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", nargs="+", default=["checkpoints/catpig-small-ia.pt",
                                                         "checkpoints/catpig-small-rpcl.pt"])
    ap.add_argument("--classifier", default="checkpoints/classifier-catpig.pt")
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--limit", type=int, default=None, help="test sketches per category (default: all)")
    ap.add_argument("--latency", type=int, default=50, help="drawings timed")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rows, lat_rows = [], []
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        model, scale, max_len = ck.model, ck.scale, ck.max_len
        data = prepare(["cat", "pig"], args.data, scale=scale, max_len=max_len, limit=args.limit)
        clf, _ = load_or_train_classifier(args.classifier, data, progress=False)
        labels = data.labels["test"]
        px = np.array([scale, scale, 1.0], np.float32)
        full = [s * px for s in data.strokes["test"]]
        halves = [first_half(s) for s in full]
        t0 = time.perf_counter()
        done = [complete(ck, h, n=1, temperature=0.24, seed=0)[0] for h in halves]
        seconds = time.perf_counter() - t0
        added = np.array([len(d) - len(h) for d, h in zip(done, halves)])
        rows.append((Path(path).stem, len(full), accuracy(clf, render(halves), labels),
                     accuracy(clf, render(done), labels), accuracy(clf, data.images["test"], labels),
                     float(np.mean([len(h) / len(s) for h, s in zip(halves, full)])), float(added.mean()),
                     float((np.array([len(d) for d in done]) >= max_len).mean()), seconds))

        keys, _ = encode(model, data.images["test"])
        t_enc, t_cmp = [], []
        for i in range(min(args.latency, len(full))):
            lines = [l + 10.0 for l in strokes_to_lines(full[i])]
            t0 = time.perf_counter()
            r = encode_drawing(ck, lines)
            nearest(r["mu"], keys)
            t1 = time.perf_counter()
            complete(ck, r["stroke3"], n=8, seed=i)
            t2 = time.perf_counter()
            t_enc.append(t1 - t0)
            t_cmp.append(t2 - t1)
        lat_rows.append((Path(path).stem, len(t_enc), 1e3 * np.median(t_enc), 1e3 * np.median(t_cmp)))

    print(f"\n### Completion keeps the category? (classifier accuracy, tau 0.24, seed 0, {args.threads} thread(s))\n")
    print("| checkpoint | test sketches | halves alone | completions | full originals | half's share of points "
          "| points added (mean) | completions reaching N_max | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, a_half, a_done, a_full, share, added, capped, sec in rows:
        print(f"| {name} | {n} | {a_half:.3f} | {a_done:.3f} | {a_full:.3f} | {share:.2f} | {added:.1f} "
              f"| {capped:.2f} | {sec:.1f} |")
    print(f"\n### Latency on CPU ({args.threads} thread(s), median over the drawings)\n")
    print("| checkpoint | drawings | encode + posterior + nearest (ms) | 8 completions, batched (ms) |")
    print("|---|---|---|---|")
    for name, n, enc_ms, cmp_ms in lat_rows:
        print(f"| {name} | {n} | {enc_ms:.1f} | {cmp_ms:.1f} |")


if __name__ == "__main__":
    main()
