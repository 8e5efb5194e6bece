"""How high can NMI(Gaussian, category) go on these sketches? A ceiling from a supervised classifier.

An unsupervised mixture can only put a sketch in "its" category's Gaussian as often as the sketch's image says
which category it is. The Rec classifier (:class:`iapix.evaluate.SketchANet`, trained *with* the labels on the
same 48 x 48 images the encoder sees) is a generous stand-in for that: this script computes the NMI a mixture
would score if its Gaussians were the classifier's decisions (:func:`iapix.evaluate.nmi_bound`),

* with one Gaussian per category (K = C), and
* with ``s`` Gaussians per category that split each category by a style carrying no category (K = s C; the
  ``small`` preset's ``num_sub`` is 2), which costs NMI by itself: ``H(Gaussian)`` grows by ``ln s``;

and the error rate a clustering could afford and still reach ``--target`` (categories balanced, errors spread
evenly over the other categories). The classifier's accuracy on each category's real sketches is the same kind of
ceiling for per-Gaussian control, which that classifier measures on generated sketches. With ``--checkpoint`` it
also splits each of that model's Gaussians by the classifier's decision: the NMI the model's mixture would reach
if every one of its Gaussians were cut into per-category parts as well as a supervised classifier can (its
pose/style Gaussians kept). Method of the measures: docs/latent-space.md, "How high NMI and control can go".

    python benchmarks/nmi_ceiling.py --categories cat pig --classifier checkpoints/classifier-catpig.pt \\
        --checkpoint checkpoints/catpig-small-ia.pt --target 0.5

The targets of issue 21 are test-split numbers, so the default split is ``test`` (nothing is chosen by it).
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import prepare
from iapix.evaluate import _nmi, affordable_error, load_or_train_classifier, nmi_bound, predict
from iapix.sample import encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--categories", nargs="+", default=["cat", "pig"])
    ap.add_argument("--classifier", required=True, help="the classifier cache (trained on first use, as iapix "
                    "evaluate does)")
    ap.add_argument("--checkpoint", default=None, help="also cut this model's Gaussians by the classifier's decision")
    ap.add_argument("--data", default="data")
    ap.add_argument("--split", default="test", choices=("valid", "test"))
    ap.add_argument("--styles", type=int, nargs="+", default=[1, 2], help="Gaussians per category (s)")
    ap.add_argument("--target", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*clipped to it")
    ck = load_checkpoint(args.checkpoint) if args.checkpoint else None
    if ck is not None and list(ck.categories) != list(args.categories):
        sys.exit(f"{args.checkpoint}: trained on categories {list(ck.categories)}, not {args.categories}")
    data = prepare(args.categories, args.data, **({"max_len": ck.max_len, "scale": ck.scale} if ck else {}))
    clf, info = load_or_train_classifier(args.classifier, data)
    labels = np.asarray(data.labels[args.split])
    pred = predict(clf, data.images[args.split])
    C = len(args.categories)
    confusion = np.zeros((C, C), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    print(f"{args.split} split, {len(labels)} sketches of {', '.join(args.categories)}; classifier {args.classifier}: "
          f"accuracy {np.trace(confusion) / len(labels):.3f}; per category (the share of a pure Gaussian's samples it "
          f"would call right, were they as good as real sketches): "
          + ", ".join(f"{c} {confusion[i, i] / confusion[i].sum():.3f}" for i, c in enumerate(args.categories)))
    for s in args.styles:
        print(f"  K = {s * C:2d} ({s} per category): a mixture as good as the classifier reaches NMI "
              f"{nmi_bound(confusion, s):.3f}; to reach NMI {args.target} a clustering may mislabel at most "
              f"{affordable_error(C, s, args.target):.1%} of balanced sketches")
    if ck is not None:
        mu, s2 = encode(ck.model, data.images[args.split])
        comp = ck.model.latent.labels(mu, s2).numpy()
        used = len(np.unique(comp))
        cut = comp * C + pred  # each Gaussian cut into the classifier's per-category parts
        print(f"{args.checkpoint} (iteration {ck.info.get('iteration')}): {used} Gaussians used, NMI "
              f"{_nmi(labels, comp):.3f}; each cut by the classifier's decision ({len(np.unique(cut))} parts): "
              f"NMI {_nmi(labels, cut):.3f}")


if __name__ == "__main__":
    main()
