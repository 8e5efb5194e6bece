"""What the codes of a model vary along: the principal directions of its training codes ``mu`` against the
category and against simple properties of the sketches (points, pen lifts, ink, width, height, aspect ratio).

A model whose Gaussians are the categories has the category along its first principal direction, the one
k-means (and a mixture fitted to the codes) splits first. A model whose codes *hold* the category along a
later direction has it linearly readable (a linear probe scores high) but clusters by whatever the first
directions are. For each checkpoint this prints the share of variance of the first principal components,
the correlation of each with each property, what a 2-means split of the codes differs in, and the GMM's
weights, mean variance per Gaussian and distances between its means.

    python benchmarks/code_directions.py checkpoints/catpig-small-ia.pt checkpoints/catpig-small-rpcl.pt
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import prepare
from iapix.sample import encode


def properties(data, split: str = "train") -> dict[str, np.ndarray]:
    """Per-sketch properties [N] of one split: its category and the sizes of its strokes and image."""
    strokes = data.strokes[split]
    width = np.array([np.ptp(np.cumsum(s[:, 0])) for s in strokes])
    height = np.array([np.ptp(np.cumsum(s[:, 1])) for s in strokes])
    return {
        "category": data.labels[split].astype(float),
        "points": np.array([len(s) for s in strokes], float),
        "pen lifts": np.array([s[:, 2].sum() for s in strokes], float),
        "ink": (data.images[split] < 0).reshape(len(strokes), -1).sum(1).astype(float),
        "width": width, "height": height, "aspect": width / np.maximum(height, 1e-6),
    }


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default="data")
    ap.add_argument("--components", type=int, default=6, help="principal components to show")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*clipped to it")
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        data = prepare(ck.categories, args.data, max_len=ck.max_len, scale=ck.scale)
        mu, s2 = encode(ck.model, data.images["train"])
        mu = mu.numpy()
        props = properties(data)
        if len(ck.categories) > 2:
            del props["category"]  # a correlation with a label index means nothing beyond two categories
        pca = PCA(args.components).fit(mu)
        pcs = pca.transform(mu)
        print(f"{path}: {len(mu)} training codes, mean s2 {float(s2.mean()):.3g}, std of mu {float(mu.std()):.3g}")
        print("  variance share of PC1..: " + " ".join(f"{v:.3f}" for v in pca.explained_variance_ratio_))
        print(f"  {'correlation with':16s}" + "".join(f"  PC{i + 1:<3d}" for i in range(args.components)))
        for name, v in props.items():
            print(f"  {name:16s}"
                  + "".join(f"  {np.corrcoef(pcs[:, i], v)[0, 1]:+.2f}" for i in range(args.components)))
        split = KMeans(2, n_init=10, random_state=0).fit(mu).labels_
        print("  2-means halves differ in: " + ", ".join(
            f"{name} {v[split == 0].mean():.3g} vs {v[split == 1].mean():.3g}" for name, v in props.items()))
        lat = ck.model.latent
        print("  GMM alpha " + " ".join(f"{a:.3f}" for a in lat.alpha.tolist())
              + " | mean variance per Gaussian " + " ".join(f"{v:.3f}" for v in lat.variances.mean(1).tolist()))
        dist = torch.cdist(lat.means, lat.means)
        print("  distances between the means: " + " ".join(
            f"{dist[i, j]:.2f}" for i in range(lat.K) for j in range(i + 1, lat.K)))


if __name__ == "__main__":
    main()
