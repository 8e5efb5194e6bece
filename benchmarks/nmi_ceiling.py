"""How high can NMI(Gaussian, category) go on these sketches? A ceiling from a supervised classifier.

An unsupervised mixture can only put a sketch in "its" category's Gaussian as often as the sketch's image says
which category it is. The Rec classifier (:class:`iapix.evaluate.SketchANet`, trained *with* the labels on the
same 48 x 48 images the encoder sees) is a generous stand-in for that. This script computes the NMI of a labelling
as good as the classifier's (:func:`iapix.evaluate.confusion_nmi` of its confusion matrix on the ``--split``):

* with one group per category (K = C): the ceiling for a mixture whose Gaussians hold no more of the category
  than the classifier's decisions, *whatever* their number (a Gaussian that splits a category by a style carrying
  no category adds entropy to the Gaussians and no information);
* with ``s`` equal Gaussians per category that split each category by such a style (K = s C; the ``small``
  preset's ``num_sub`` is 2): what the mixture scores if it keeps all of them in use (``H(Gaussian)`` grows by
  ``ln s``);

and the error rate a clustering could afford and still reach ``--target`` (categories balanced, errors spread
evenly over the other categories). The classifier's accuracy on each category's real sketches is the same kind of
reference for per-Gaussian control, which that classifier measures on generated sketches. With ``--checkpoint`` it
also cuts each of that model's Gaussians by the classifier's decision: the NMI its mixture would reach if each of
its Gaussians were split into per-category parts as well as a supervised classifier can (its styles kept). The
reading of these numbers: docs/latent-space.md, "How high NMI and control can go".

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
from iapix.evaluate import (
    affordable_error,
    confusion_nmi,
    cut_nmi,
    even_confusion,
    load_or_train_classifier,
    nmi,
    predict,
)
from iapix.sample import component_counts, encode


def report(args: argparse.Namespace) -> None:
    """Print the ceilings for ``args`` (see :func:`main`)."""
    ck = load_checkpoint(args.checkpoint) if args.checkpoint else None
    if ck is not None and list(ck.categories) != list(args.categories):
        raise ValueError(f"{args.checkpoint}: trained on categories {list(ck.categories)}, not {args.categories}")
    data = prepare(args.categories, args.data, **({"max_len": ck.max_len, "scale": ck.scale} if ck else {}))
    clf, _ = load_or_train_classifier(args.classifier, data)
    labels = np.asarray(data.labels[args.split])
    pred = predict(clf, data.images[args.split])
    C = len(args.categories)
    confusion = component_counts(labels, pred, C, C)  # [category, the classifier's decision]
    right = confusion.diagonal() / confusion.sum(1)
    print(f"{args.split} split, {len(labels)} sketches of {', '.join(args.categories)}; classifier {args.classifier}: "
          f"accuracy {np.trace(confusion) / len(labels):.3f}; per category (the share of a pure Gaussian's samples it "
          f"would call right, were they as good as real sketches): "
          + ", ".join(f"{c} {r:.3f}" for c, r in zip(args.categories, right)))
    for s in args.styles:
        afford = affordable_error(C, s, args.target)
        need = (f"may mislabel at most {afford:.1%} of balanced sketches" if afford is not None else
                f"cannot: every sketch right scores {confusion_nmi(even_confusion(C, 0.0), s):.3f}")
        how = f"{s} per category" + (", equal, all in use" if s > 1 else "")
        print(f"  K = {s * C:2d} ({how}): a labelling as good as the classifier scores "
              f"NMI {confusion_nmi(confusion, s):.3f}{' (the ceiling for any K)' if s == 1 else ''}; "
              f"to reach NMI {args.target} a labelling {need}")
    if ck is not None:
        mu, s2 = encode(ck.model, data.images[args.split])
        comp = ck.model.latent.labels(mu, s2).numpy()
        cut, parts = cut_nmi(labels, comp, pred)  # each Gaussian cut into the classifier's per-category parts
        print(f"{args.checkpoint} (iteration {ck.info.get('iteration')}): {len(np.unique(comp))} Gaussians used, NMI "
              f"{nmi(labels, comp):.3f}; each cut by the classifier's decision ({parts} parts): NMI {cut:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--categories", nargs="+", default=["cat", "pig"])
    ap.add_argument("--classifier", required=True, help="the classifier cache (trained on first use, as iapix "
                    "evaluate does)")
    ap.add_argument("--checkpoint", default=None, help="also cut this model's Gaussians by the classifier's decision")
    ap.add_argument("--data", default="data")
    ap.add_argument("--split", default="test", choices=("valid", "test"))
    ap.add_argument("--styles", type=int, nargs="+", default=[1, 2], help="Gaussians per category (s >= 1)")
    ap.add_argument("--target", type=float, default=0.5, help="an NMI in (0, 1]")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if len(args.categories) < 2:
        ap.error("--categories: at least two categories (NMI with one category is undefined)")
    if min(args.styles) < 1:
        ap.error(f"--styles: Gaussians per category must be >= 1, got {args.styles}")
    if not 0.0 < args.target <= 1.0:
        ap.error(f"--target: an NMI in (0, 1], got {args.target}")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*clipped to it")
    try:
        report(args)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"nmi_ceiling: {e}")


if __name__ == "__main__":
    main()
