"""Where a run overfits: how much its decoder relies on the code z, on training and on validation sketches.

For each checkpoint or snapshot given, the teacher-forced reconstruction loss (offset + pen, nats per
sketch, pen masked after the end, as the Trainer's validation) of

* ``own``: each sketch decoded from its own code ``mu`` (its image through the encoder);
* ``other``: each sketch decoded from the ``mu`` of another sketch of the same category in its batch
  (a fixed random pairing),

on the validation split and on as many training sketches (a fixed random subset; no augmentation).
``other - own`` is what the code tells the decoder about that particular sketch. A model that
generalises has similar gaps on both splits; one that memorises its training set through the codes has a
large gap on the training sketches and a small one on new sketches, and its ``own`` losses part.

    python benchmarks/overfit.py runs/catpig-small-ia/snapshots/iter-00{1,2,3}000.pt --threads 1
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import prepare


def losses(model, ds, index: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
           batch_size: int = 64) -> tuple[float, float]:
    """Mean reconstruction loss of the sketches ``index`` of ``ds`` from their own / a same-category code."""
    own = other = 0.0
    for i in range(0, len(index), batch_size):
        b = index[i:i + batch_size]
        s5, lengths, images, _ = ds.collate([ds[j] for j in b], pad_to_longest=True)
        lab = labels[b]
        perm = np.arange(len(b))
        for c in np.unique(lab):
            where = np.flatnonzero(lab == c)
            perm[where] = rng.permutation(where)
        with torch.no_grad():
            mu, _ = model.encoder(images)
            own += _recon(model, s5, lengths, mu) * len(b)
            other += _recon(model, s5, lengths, mu[torch.from_numpy(perm)]) * len(b)
    return own / len(index), other / len(index)


def _recon(model, s5: torch.Tensor, lengths: torch.Tensor, z: torch.Tensor) -> float:
    """The batch's mean reconstruction loss from the codes ``z`` (pen loss over the real points only)."""
    return float(sum(model.decoder.loss(s5, lengths, z, pen_mask_all=False).values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoints or RUN/snapshots/iter-*.pt of one data set")
    ap.add_argument("--data", default="data")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    first = load_checkpoint(args.checkpoints[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the clipping counts of prepare: not what this measures
        data = prepare(first.categories, args.data, max_len=first.max_len, scale=first.scale)
    print("reconstruction loss (nats per sketch) from each sketch's own code and from another same-category code")
    print("| checkpoint | iteration | train own | train other | train gap | valid own | valid other | valid gap |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        model = ck.model.eval()
        row = []
        for split in ("train", "valid"):
            rng = np.random.default_rng(args.seed)  # the same subset and pairing for every checkpoint
            ds = data.dataset(split)
            n_valid = len(data.strokes["valid"])
            index = np.arange(len(ds)) if split == "valid" else np.sort(rng.choice(len(ds), n_valid, replace=False))
            own, other = losses(model, ds, index, np.asarray(data.labels[split]), rng)
            row += [own, other, other - own]
        print(f"| {path} | {ck.info.get('iteration')} | " + " | ".join(f"{v:.2f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
