"""Evaluation of a trained model (method §6): Rec, Ret@1/10/50, latent overlap, t-SNE; JSON + Markdown report.

``iapix evaluate --checkpoint runs/catpig-ia/best.pt runs/catpig-rpcl/best.pt`` or
``evaluate("runs/catpig-ia/best.pt")``. Read top to bottom:

1. :class:`SketchANet` -- the Rec classifier, :func:`train_classifier`, :func:`load_or_train_classifier`
   (cached on disk, refuses a cache made for other categories).
2. :func:`generate_for_test` -- one sketch per test sketch, conditioned on it (decoded from ``mu``).
3. :func:`rec` and :func:`ret` (:func:`retrieval_ranks`) -- the two scores of RPCL-pix2seq;
   :func:`rec_confusion` and :func:`rec_by_category` -- Rec by source category and where its misses go.
4. :func:`overlap_measures` and :func:`tsne_plot` -- the structure of the latent GMM.
5. :func:`evaluate` (one checkpoint -> ``report.json``, ``report.md``, ``tsne.png``, ``samples.png``),
   :func:`compare` (one Markdown table across runs) and the CLI.

The protocol (method §6): every test sketch image is encoded, a sketch is decoded from its ``mu`` at
temperature 0.24 and rendered black on white at 48x48 with the data's own renderer
(:func:`iapix.raster.render`). **Rec** is the share of these renderings that the classifier labels with
the category of their source sketch. **Ret@k**: each rendering is encoded again to ``mu``; all test
codes are ranked by squared Euclidean distance to it; a hit when its own source is among the first k.

Where this module departs from the reference (method §7), deliberately:

* generated sketches are rendered black on white (the reference draws one colour per category and
  reads the red channel for Ret), as method §6 says;
* the Rec classifier is ours (neither repository has one; the README says "train a Sketch-a-Net"):
  :class:`SketchANet`, a Sketch-a-Net-style CNN sized for 48x48 images, described in its docstring.
  Its own test accuracy on the real test sketches is reported with every evaluation: Rec of a perfect
  generator is bounded by it;
* the overlap measures and the t-SNE map are ours (not in either repository).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from iapix.checkpoint import Checkpoint, load_checkpoint, pick_device, read_checkpoint, save_checkpoint
from iapix.data import Prepared, augment, denormalise, prepare
from iapix.decoder import DEFAULT_TEMPERATURE
from iapix.latent import ALIVE, GMMLatent, log_joint
from iapix.model import IAPix
from iapix.raster import render
from iapix.sample import component_counts, decode, encode, largest_categories

RET_KS = (1, 10, 50)
CLASSIFIER_FORMAT = 1


# ----------------------------------------------------------------------------------------------
# 1. the Rec classifier


class SketchANet(nn.Module):
    """A Sketch-a-Net-style classifier for 48x48 sketch images (ours, method §7 "Rec classifier").

    Sketch-a-Net (Yu et al. 2015) reads 225x225 images: a large first filter (15x15, stride 3), five
    convolutions with three max-poolings, then two dropout-regularised fully connected layers of 512.
    Scaled to 48x48 with base width ``w`` (default 16):

    ====================  ==========================================  ============
    layer                 operation                                   output
    ====================  ==========================================  ============
    input                 ``(1 - x) / 2``: ink 1, paper 0             1 x 48 x 48
    conv1                 7x7, stride 1, pad 3, w; BN, ReLU           w x 48 x 48
    pool1                 max 2x2                                     w x 24 x 24
    conv2                 5x5, pad 2, 2w; BN, ReLU                    2w x 24 x 24
    pool2                 max 2x2                                     2w x 12 x 12
    conv3, conv4, conv5   3x3, pad 1, 4w each; BN, ReLU               4w x 12 x 12
    pool3                 max 2x2                                     4w x 6 x 6
    fc6                   linear 36*4w -> 16w, ReLU, dropout 0.5      16w
    fc7                   linear 16w -> 16w, ReLU, dropout 0.5        16w
    fc8                   linear 16w -> num_classes                   logits
    ====================  ==========================================  ============

    Differences from Sketch-a-Net, for 48x48 inputs and short CPU training: stride 1 in conv1 (the
    lines are 1 px wide), batch normalisation after every convolution (fast, stable training in a
    few epochs), narrower layers; no multi-scale / multi-channel ensemble.
    """

    def __init__(self, num_classes: int, width: int = 16, dropout: float = 0.5) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"SketchANet: num_classes must be >= 2, got {num_classes}")
        w = width

        def conv(cin: int, cout: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.num_classes, self.width, self.dropout = num_classes, width, dropout
        self.features = nn.Sequential(
            *conv(1, w, 7), nn.MaxPool2d(2),
            *conv(w, 2 * w, 5), nn.MaxPool2d(2),
            *conv(2 * w, 4 * w, 3), *conv(4 * w, 4 * w, 3), *conv(4 * w, 4 * w, 3), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(36 * 4 * w, 16 * w), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(16 * w, 16 * w), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(16 * w, num_classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        """images [B, 1, 48, 48] (or [B, 48, 48]) in [-1, 1], white = +1 -> logits [B, num_classes]."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if images.dim() != 4 or images.shape[1:] != (1, 48, 48):
            raise ValueError(f"SketchANet: images must be [B, 1, 48, 48], got {tuple(images.shape)}")
        return self.classifier(self.features((1.0 - images) * 0.5))


@torch.no_grad()
def predict(classifier: nn.Module, images: Tensor | np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class index [N] (int64) for images [N, (1,) 48, 48] in [-1, 1]."""
    device = next(classifier.parameters()).device
    images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    was_training = classifier.training
    classifier.eval()
    out = [classifier(images[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    classifier.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def accuracy(classifier: nn.Module, images: Tensor | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Share of ``images`` whose predicted class equals ``labels``."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: must match")
    if len(labels) == 0:
        raise ValueError("no images to classify")
    return float((predict(classifier, images) == labels).mean())


def augment_images(strokes: Sequence[np.ndarray], rng: np.random.Generator,
                   shrink: tuple[float, float] = (0.98, 1.0)) -> np.ndarray:
    """One augmented rendering per sketch -> [n, 48, 48].

    The model's own training augmentation (method §1): stretch x and y by [0.9, 1.1], drop interior
    points with probability 0.1, random centred shrink in ``shrink``; plus a horizontal flip with
    probability 1/2 (QuickDraw animals face either way; flipping is label-preserving).
    """
    out = []
    for s in strokes:
        s = augment(s, rng)
        if rng.random() < 0.5:
            s[:, 0] = -s[:, 0]
        out.append(s)
    return render(out, shrink=rng.uniform(*shrink, size=len(out)))


def train_classifier(prepared: Prepared, epochs: int = 8, batch_size: int = 32, seed: int = 0,
                     device: str | torch.device = "cpu", progress: bool = True, width: int = 16,
                     lr: float = 1e-3) -> tuple[SketchANet, dict]:
    """Train a :class:`SketchANet` on ``prepared``'s training sketches -> (model in eval mode, info).

    Each epoch re-renders every training sketch with :func:`augment_images` (stretch, point
    dropping, centred shrink [0.98, 1], horizontal flip). Adam (``lr``, cosine decay to 0), cross
    entropy. The weights of the epoch with the best validation accuracy are kept. ``info`` holds the
    validation and test accuracy on the real (unaugmented) images, sizes and seconds. The global
    torch RNG is left untouched (all randomness comes from ``seed``).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    strokes, labels = prepared.strokes["train"], prepared.labels["train"]
    if len(strokes) < batch_size:
        raise ValueError(f"{len(strokes)} training sketches: fewer than one batch of {batch_size}")
    device = torch.device(device)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SketchANet(len(prepared.categories), width=width).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * (len(strokes) // batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps)))
        y_all = torch.as_tensor(labels, dtype=torch.int64)
        best, best_state, history = -1.0, None, []
        bar = tqdm(total=steps, desc="classifier", disable=not progress, leave=False, dynamic_ncols=True)
        for epoch in range(epochs):
            model.train()
            x_all = torch.from_numpy(augment_images(strokes, rng)).unsqueeze(1)
            order = torch.from_numpy(rng.permutation(len(strokes)))
            for i in range(0, len(order) - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(model(x_all[idx].to(device)), y_all[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
            valid = accuracy(model, prepared.images["valid"], prepared.labels["valid"]) \
                if len(prepared.labels["valid"]) else float("nan")
            history.append(valid)
            if not valid <= best:  # also takes the first epoch when valid is NaN (no validation split)
                best, best_state = valid, {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.close()
    model.load_state_dict(best_state)
    model.eval()
    info = {"categories": list(prepared.categories), "epochs": epochs, "batch_size": batch_size, "seed": seed,
            "width": width, "train_size": len(strokes), "valid_acc": best, "valid_history": history,
            "test_acc": accuracy(model, prepared.images["test"], prepared.labels["test"]),
            "test_size": int(len(prepared.labels["test"])), "seconds": time.perf_counter() - t0}
    return model, info


def load_or_train_classifier(cache_path: str | Path, prepared: Prepared, epochs: int = 8, batch_size: int = 32,
                             seed: int = 0, device: str | torch.device = "cpu",
                             progress: bool = True) -> tuple[SketchANet, dict]:
    """The classifier cached at ``cache_path``, or a new one trained on ``prepared`` and saved there.

    The cache holds the weights, the architecture and ``info`` (categories, its accuracies, sizes);
    ``info["cached"]`` says whether it was read from disk. A cache made for other categories (or in
    another order) is refused with a ``ValueError``: labels would not mean the same thing.
    """
    path = Path(cache_path)
    if path.is_file():
        blob = read_checkpoint(path, ("format", "num_classes", "width", "model", "info"),
                               "a classifier cache written by iapix evaluate (or another --classifier path)")
        if blob["format"] != CLASSIFIER_FORMAT:
            raise ValueError(f"{path}: not an iapix classifier cache (format {CLASSIFIER_FORMAT}); "
                             f"delete it or pass another --classifier path")
        if list(blob["info"]["categories"]) != list(prepared.categories):
            raise ValueError(f"{path}: classifier cache trained on categories {blob['info']['categories']}, but the "
                             f"data to evaluate has {list(prepared.categories)}; pass another --classifier path "
                             f"(or delete the file to retrain)")
        model = SketchANet(blob["num_classes"], width=blob["width"])
        model.load_state_dict(blob["model"])
        return model.to(device).eval(), {**blob["info"], "cached": True, "path": str(path)}
    model, info = train_classifier(prepared, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                                   progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"format": CLASSIFIER_FORMAT, "num_classes": model.num_classes, "width": model.width,
                 "model": {k: v.cpu() for k, v in model.state_dict().items()}, "info": info}, path)
    return model, {**info, "cached": False, "path": str(path)}


# ----------------------------------------------------------------------------------------------
# 2. generation for the test set


def generate_for_test(ck: Checkpoint, prepared: Prepared, temperature: float = DEFAULT_TEMPERATURE,
                      greedy: bool = False, seed: int = 0, batch_size: int = 1024, progress: bool = False,
                      split: str = "test") -> list[np.ndarray]:
    """One stroke-3 sketch (pixel units) per sketch of the ``split`` of ``prepared``, decoded from its ``mu``.

    Batched through :func:`iapix.sample.decode` (every sketch stops at its own ``p_end`` or
    the checkpoint's ``N_max``). A generation that ends before its first point is empty (0 rows)
    and is rendered as a blank image (``render(..., allow_empty=True)``); the report counts them.
    """
    images = prepared.images[split]
    if len(images) == 0:
        raise ValueError(f"the {split} split is empty: nothing to generate from")
    mu, _ = encode(ck.model, images)
    return decode(ck, mu, temperature, greedy, seed, batch_size, progress)


# ----------------------------------------------------------------------------------------------
# 3. Rec and Ret


def rec(classifier: nn.Module, generated_images: Tensor | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Rec: share of generated images [N, (1,) 48, 48] that ``classifier`` labels as their source's category."""
    return accuracy(classifier, generated_images, labels)


def rec_confusion(classifier: nn.Module, generated_images: Tensor | np.ndarray, labels: Sequence[int] | np.ndarray,
                  num_classes: int) -> np.ndarray:
    """Where Rec's hits and misses go: counts [C, C], row = the source's category, column = the category the
    classifier gives the generated image [N, (1,) 48, 48]. Rec is its trace over its sum; row c's diagonal
    share is Rec on the sources of category c, and the rest of the row says what they were drawn as."""
    labels = np.asarray(labels)
    if len(labels) != len(generated_images):
        raise ValueError(f"rec_confusion: {len(generated_images)} generated images but {len(labels)} labels: "
                         "one label per image expected")
    if len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() >= num_classes:
        got = f"{labels.dtype} in {labels.min()}..{labels.max()}" if len(labels) else "none"
        raise ValueError(f"rec_confusion: labels must be integers in 0..{num_classes - 1}, got {got}")
    pred = predict(classifier, generated_images)
    if pred.max() >= num_classes:
        raise ValueError(f"rec_confusion: the classifier predicts class {pred.max()}, but num_classes is "
                         f"{num_classes}: a classifier for these categories expected")
    return component_counts(labels, pred, num_classes, num_classes)


def rec_by_category(confusion) -> list[float | None]:
    """Rec on the sources of each category from a :func:`rec_confusion` [C, C] (its diagonal over its row sums);
    ``None`` for a category without sources."""
    cm = np.asarray(confusion, dtype=float)
    return [float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None for i in range(len(cm))]


@torch.no_grad()
def retrieval_ranks(queries: Tensor | np.ndarray, keys: Tensor | np.ndarray, chunk: int = 256) -> Tensor:
    """Rank of each query's own key: queries [N, D], keys [N, D] (query i belongs to key i) -> ranks [N] int64.

    ``rank_i = #{j : d_ij <= d_ii} - 1`` with ``d_ij = |q_i - k_j|^2``: the number of *other* keys at
    least as close as its own (0 = its own key is the nearest). Ties count against the query (the
    pessimistic rank), so duplicate keys never inflate Ret. Computed in float32 chunks of ``chunk``
    queries as ``|k_j|^2 - 2 q_i.k_j`` (``d_ij`` less ``|q_i|^2``, which does not change the order within
    a row) after centring both on the keys' mean (distances are unchanged, rounding is smaller); the
    own value is read from the same matrix, so a query compares its own distance with the others'
    computed the same way. Memory: ``chunk x N`` floats, on the inputs' device (both on one device); the ranks
    come back on that device.
    """
    q = torch.as_tensor(np.asarray(queries) if not torch.is_tensor(queries) else queries).float()
    k = torch.as_tensor(np.asarray(keys) if not torch.is_tensor(keys) else keys).float()
    if q.dim() != 2 or q.shape != k.shape:
        raise ValueError(f"retrieval_ranks: queries {tuple(q.shape)} and keys {tuple(k.shape)} must both be [N, D]")
    center = k.mean(0, keepdim=True)
    q, k = q - center, k - center
    kt = torch.cat([k, k.square().sum(1, keepdim=True)], 1).T.contiguous()  # [D + 1, N]: (k_j, |k_j|^2)
    q = torch.cat([-2.0 * q, torch.ones(len(q), 1, device=q.device)], 1)  # [N, D + 1]: (-2 q_i, 1)
    ranks = torch.empty(len(q), dtype=torch.long, device=q.device)
    for lo in range(0, len(q), chunk):
        d = q[lo:lo + chunk] @ kt  # d_ij - |q_i|^2 (the same order within a row): [c, N], one product
        c = len(d)
        own = d[torch.arange(c, device=d.device), torch.arange(lo, lo + c, device=d.device)]
        ranks[lo:lo + c] = (d <= own[:, None]).sum(1, dtype=torch.int32) - 1  # int32 sums are ~3x faster here
    return ranks


def ret_from_ranks(ranks: Tensor, ks: Sequence[int] = RET_KS) -> dict[str, float]:
    """``{"ret@k": share of ranks < k}`` for each k."""
    return {f"ret@{k}": float((ranks < k).float().mean()) for k in ks}


def ret(model: IAPix, generated_images: Tensor | np.ndarray, test_mu: Tensor,
        ks: Sequence[int] = RET_KS) -> dict[str, float]:
    """Ret@k (method §6): encode each generated image [N, (1,) 48, 48] to ``mu``, rank the test codes
    ``test_mu [N, D]`` (row i = the source of image i) by squared distance, hit when the source is in the
    first k. Returns ``{"ret@1": .., "ret@10": .., "ret@50": .., "mean_rank": ..}`` (rank 0 = nearest)."""
    gen_mu, _ = encode(model, generated_images)
    if len(gen_mu) != len(test_mu):
        raise ValueError(f"{len(gen_mu)} generated images but {len(test_mu)} test codes: one per test sketch expected")
    ranks = retrieval_ranks(gen_mu, test_mu.cpu())
    return {**ret_from_ranks(ranks, ks), "mean_rank": float(ranks.float().mean())}


def ended_share(generated: Sequence[np.ndarray], max_len: int) -> float:
    """Share of generated sketches that stopped at ``p_end`` before ``N_max`` (the rest were cut there)."""
    return float(np.mean([len(s) < max_len for s in generated])) if len(generated) else float("nan")


CONTROL_MIN_ALPHA = 0.1  # per-Gaussian control is measured for the Gaussians at least this heavy


@torch.no_grad()
def component_control(ck: Checkpoint, classifier: nn.Module, n: int = 100, temperature: float = DEFAULT_TEMPERATURE,
                      greedy: bool = False, seed: int = 0, min_alpha: float = CONTROL_MIN_ALPHA) -> list[dict]:
    """How well each Gaussian controls the category: ``n`` sketches generated from codes ``z ~ N(m_k, v_k)``
    of every Gaussian with ``alpha_k >= min_alpha``, labelled by the classifier.

    Returns one dict per such Gaussian: ``{k, alpha, majority (category; a tie goes to the first,
    :func:`iapix.sample.largest_categories`), share (of the n sketches the classifier puts in the majority
    category), ended (share that stopped at p_end)}``. A Gaussian that controls generation gives ``share``
    near 1; a Gaussian that mixes categories, near ``1 / C``.
    """
    from iapix.sample import from_component

    out, alpha = [], ck.model.latent.alpha
    for k in torch.nonzero(alpha >= min_alpha).flatten().tolist():
        sketches = from_component(ck, k, n, temperature, greedy, seed=seed + k)
        pred = predict(classifier, render(sketches, allow_empty=True))
        row = np.bincount(np.asarray(pred), minlength=len(ck.categories))  # [C]
        major = int(largest_categories(row)[0])
        out.append({"k": k, "alpha": float(alpha[k]), "majority": ck.categories[major], "share": int(row[major]) / n,
                    "ended": ended_share(sketches, ck.max_len)})
    return out


# ----------------------------------------------------------------------------------------------
# 4. latent structure


def bhattacharyya(means: Tensor, variances: Tensor) -> Tensor:
    """Bhattacharyya coefficients between diagonal Gaussians: means, variances [K, D] -> BC [K, K] in (0, 1].

    ``BC = exp(-D_B)``, ``D_B = 1/8 sum_d (m1 - m2)^2 / v + 1/2 sum_d ln(v / sqrt(v1 v2))``,
    ``v = (v1 + v2) / 2`` (closed form for diagonal covariances); float64. ``BC = 1`` for identical
    Gaussians and falls to 0 as they separate (it is the integral of ``sqrt(p1 p2)``).
    """
    m, v = means.double(), variances.double()
    vm = 0.5 * (v[:, None] + v[None])  # [K, K, D]
    maha = ((m[:, None] - m[None]).square() / vm).sum(-1)
    logdet = (vm.log() - 0.5 * (v[:, None].log() + v[None].log())).sum(-1)
    return torch.exp(-(maha / 8.0 + 0.5 * logdet))


def nmi(a: np.ndarray, b: np.ndarray) -> float:
    """NMI of two labellings [N] (scikit-learn's, arithmetic normalisation: ``2 I(a; b) / (H(a) + H(b))``): the
    NMI of every measure here."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(a, b))


def confusion_nmi(confusion: np.ndarray, styles: int = 1) -> float:
    """:func:`nmi` (category, group) of a labelling given by its ``confusion [C, G]`` (the sketches of category ``c``,
    row, put in group ``g``, column), each group split into ``styles`` equal parts that carry no category (a pose,
    a style shared by the categories).

    Splitting adds ``ln styles`` to ``H(group)`` and nothing to ``I``, so ``styles > 1`` only lowers the NMI; equal
    parts lower it the most. With a supervised classifier's confusion (``benchmarks/nmi_ceiling.py``),
    ``styles=1`` is a ceiling for an unsupervised mixture whose Gaussians hold no more of the category than the
    classifier's decisions, whatever their number; ``styles=2`` is what such a mixture scores if it spends two
    equal Gaussians on every category.
    """
    p = np.asarray(confusion, dtype=np.float64)
    if p.ndim != 2 or p.sum() <= 0 or (p < 0).any() or styles < 1:
        raise ValueError(f"confusion_nmi: confusion must be a non-negative [C, G] count matrix and styles >= 1, "
                         f"got shape {p.shape}, styles {styles}")
    p = p / p.sum()
    py, pg = p.sum(1), p.sum(0)
    nz = p > 0
    mutual = float((p[nz] * np.log(p[nz] / np.outer(py, pg)[nz])).sum())
    entropy = lambda q: float(-(q[q > 0] * np.log(q[q > 0])).sum())  # noqa: E731
    denom = entropy(py) + entropy(pg) + math.log(styles)
    return 2.0 * mutual / denom if denom > 0 else 1.0


def cut_nmi(labels: np.ndarray, groups: np.ndarray, decisions: np.ndarray) -> tuple[float, int]:
    """:func:`nmi` (category, part) when each group (a Gaussian) is cut into the parts a classifier's ``decisions``
    [N] call each category, all [N]; also the number of parts in use. What a mixture's Gaussians would score if each
    were split by category as well as the classifier can, their styles kept (``benchmarks/nmi_ceiling.py``,
    notebook 07)."""
    groups, decisions = np.asarray(groups), np.asarray(decisions)
    if groups.shape != decisions.shape or groups.ndim != 1 or groups.size == 0:
        raise ValueError(f"cut_nmi: groups {groups.shape} and decisions {decisions.shape} must both be [N], N > 0")
    _, parts = np.unique(np.stack([groups, decisions], 1), axis=0, return_inverse=True)
    parts = parts.reshape(-1)
    return nmi(labels, parts), int(parts.max()) + 1


def even_confusion(C: int, error: float) -> np.ndarray:
    """[C, C] confusion (shares) of balanced categories, a share ``error`` of each category's sketches put evenly
    in the other ``C - 1`` groups."""
    if C < 2 or not 0.0 <= error <= 1.0:
        raise ValueError(f"even_confusion: needs C >= 2 categories and an error in [0, 1], got C {C}, error {error}")
    off = error / (C - 1)
    return np.full((C, C), off / C) + np.eye(C) * (1.0 - error - off) / C


def affordable_error(C: int, styles: int, target: float) -> float | None:
    """The largest ``error`` whose :func:`even_confusion` still has ``confusion_nmi(.., styles) >= target``: how many
    of the sketches a mixture of ``styles`` equal Gaussians per category may put with the wrong category and still
    reach NMI ``target``. ``None`` when even a perfect labelling falls short."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"affordable_error: the target NMI must be in (0, 1], got {target}")
    if confusion_nmi(even_confusion(C, 0.0), styles) < target:
        return None
    lo, hi = 0.0, (C - 1) / C  # at hi the labelling says nothing; the NMI falls monotonically on [lo, hi]
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if confusion_nmi(even_confusion(C, mid), styles) >= target else (lo, mid)
    return lo


@torch.no_grad()
def overlap_measures(model: IAPix | GMMLatent, mu: Tensor, s2: Tensor, labels: Sequence[int] | np.ndarray,
                     categories: Sequence[str] | None = None) -> dict:
    """How many Gaussians the GMM uses and how much they overlap, on test codes mu, s2 [N, D] with labels [N].

    Returns a dict (``model`` is an :class:`IAPix` or its :class:`GMMLatent`):

    * ``K``: number of Gaussians; ``alive``: how many have ``alpha_k > 1e-3``;
    * ``used``: how many are the component label of at least one test code;
    * ``bc_weighted``: over pairs ``k < l`` of alive Gaussians, the mean Bhattacharyya coefficient
      (:func:`bhattacharyya`) weighted by ``alpha_k alpha_l`` -- 0: no overlap, 1: identical Gaussians;
      ``bc_max``: the largest over those pairs;
    * ``ambiguous``: share of test codes whose two largest posteriors ``g_ik = alpha_k N(mu_i | m_k, v_k)
      / sum_j ...`` (unclipped, at ``mu``) are within a factor of 2 (``g_(1) <= 2 g_(2)``);
    * ``nmi``: normalised mutual information (sklearn, arithmetic mean) between the component labels
      (``model.latent.labels(mu, s2)``: ``argmax_k b_ik`` for ia, ``argmax_k g_ik`` otherwise) and the
      categories;
    * ``purity``: share of test codes whose component's majority category is their own;
    * ``components``: per used component ``{k, alpha, n, majority (category), share (of majority)}``, from
      :func:`iapix.sample.component_counts`; a tie for the majority goes to the first category
      (:func:`iapix.sample.largest_categories`).

    With one Gaussian (the ``vae`` objective, K = 1) there is no pair and no second posterior:
    ``bc_weighted``, ``bc_max`` and ``ambiguous`` are ``None``; every code has label 0, so ``nmi`` is 0
    and ``purity`` is the share of the largest category -- the numbers of a latent space without clusters.
    """
    lat = model.latent if isinstance(model, IAPix) else model
    mu, s2 = torch.as_tensor(mu).float().cpu(), torch.as_tensor(s2).float().cpu()
    labels = np.asarray(labels, dtype=np.int64)
    if mu.dim() != 2 or mu.shape[1] != lat.z_dim or s2.shape != mu.shape or len(labels) != len(mu):
        raise ValueError(f"overlap_measures: mu {tuple(mu.shape)} and s2 {tuple(s2.shape)} must be [N, {lat.z_dim}] "
                         f"with one label each (got {len(labels)} labels)")
    alpha, means, variances = lat.alpha.float().cpu(), lat.means.float().cpu(), lat.variances.float().cpu()
    K = lat.K
    alive = alpha > ALIVE
    comp = lat.labels(mu.to(lat.alpha.device), s2.to(lat.alpha.device)).cpu().numpy()
    out: dict = {"K": K, "alive": int(alive.sum()), "used": int(len(np.unique(comp)))}
    idx = torch.nonzero(alive).flatten()
    if K > 1 and len(idx) > 1:
        bc = bhattacharyya(means[idx], variances[idx])
        a = alpha[idx].double()
        w = a[:, None] * a[None]
        upper = torch.triu(torch.ones_like(bc, dtype=torch.bool), diagonal=1)
        out["bc_weighted"] = float((bc * w)[upper].sum() / w[upper].sum())
        out["bc_max"] = float(bc[upper].max())
    else:
        out["bc_weighted"] = out["bc_max"] = None
    if K > 1:
        logp = log_joint(mu, alpha, means, variances)
        top2 = logp.topk(2, dim=1).values
        out["ambiguous"] = float(((top2[:, 0] - top2[:, 1]) <= math.log(2.0)).float().mean())
    else:
        out["ambiguous"] = None
    out["nmi"] = nmi(labels, comp)
    names = list(categories) if categories is not None else None
    if names is not None and len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(names):
        raise ValueError(f"overlap_measures: labels must be in 0..{len(names) - 1} (one per category of "
                         f"{names}), got {int(labels.min())}..{int(labels.max())}")
    C = len(names) if names is not None else int(labels.max(initial=-1)) + 1
    counts = component_counts(comp, labels, K, C)  # [K, C]
    comps = []
    for k in np.flatnonzero(counts.sum(1)):
        row = counts[k]
        major = int(largest_categories(row)[0])
        comps.append({"k": int(k), "alpha": float(alpha[k]), "n": int(row.sum()),
                      "majority": names[major] if names else major, "share": int(row[major]) / int(row.sum())})
    out["purity"] = int(counts.max(1).sum()) / len(labels) if len(labels) else float("nan")
    out["components"] = comps
    return out


def code_structure(train_mu: Tensor | np.ndarray, train_labels: Sequence[int] | np.ndarray, mu: Tensor | np.ndarray,
                   labels: Sequence[int] | np.ndarray, n_clusters: Sequence[int] = (), seed: int = 0) -> dict:
    """Do the codes *hold* the category, and do they *cluster* by it? Two questions the GMM's NMI mixes up.

    * ``probe``: accuracy on ``mu [N, D]`` (``labels [N]``) of a linear probe -- a multinomial logistic
      regression on standardised codes -- fitted on ``train_mu [M, D]`` / ``train_labels``. High: the
      category is linearly readable from the codes.
    * ``kmeans_nmi``: ``{k: NMI}`` -- k-means (``n_init=10``) fitted on the training codes, its cluster of
      each code of ``mu`` against the category, for each ``k`` in ``n_clusters`` (default: the number of
      categories). High: the category is the direction the codes *cluster* along, so a GMM fitted to them
      can find it.

    Read with ``overlap_measures``' ``nmi``: a high probe with a low k-means NMI says the codes are at
    fault (the category is there but not as clusters); a high k-means NMI with a low GMM NMI says the
    mixture is (it missed clusters that are there).
    """
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_fit = np.asarray(torch.as_tensor(train_mu).float().cpu(), dtype=np.float64)
    y_fit = np.asarray(train_labels, dtype=np.int64)
    x = np.asarray(torch.as_tensor(mu).float().cpu(), dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x_fit.ndim != 2 or x.ndim != 2 or x_fit.shape[1] != x.shape[1] or len(x_fit) != len(y_fit) or len(x) != len(y):
        raise ValueError(f"code_structure: codes {x_fit.shape} / {x.shape} must be [N, D] with one label each "
                         f"(got {len(y_fit)} / {len(y)} labels)")
    if len(np.unique(y_fit)) < 2:
        raise ValueError("code_structure: the training codes hold one category; a probe needs at least two")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(x_fit, y_fit)
    out: dict = {"probe": float((probe.predict(x) == y).mean()), "kmeans_nmi": {}}
    for k in (n_clusters or (len(np.unique(y_fit)),)):
        if not 1 <= k <= len(x_fit):
            raise ValueError(f"code_structure: k-means needs 1 <= k <= {len(x_fit)} training codes, got k = {k}")
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x_fit)
        out["kmeans_nmi"][int(k)] = nmi(y, km.predict(x))
    return out


def tsne_plot(mu: Tensor | np.ndarray, labels: Sequence[int] | np.ndarray, categories: Sequence[str],
              means: Tensor | np.ndarray | None = None, alpha: Tensor | np.ndarray | None = None, seed: int = 0,
              path: str | Path | None = None, title: str | None = None, ax=None):
    """t-SNE map of codes mu [N, D] coloured by category; Gaussians' means [K, D] embedded with them.

    The means of the alive Gaussians (``alpha > 1e-3``) are appended to the codes before t-SNE
    (sklearn, PCA init, perplexity ``min(30, (n - 1) / 3)``, ``random_state=seed``) so they land in the
    same map, and drawn as black crosses with an area proportional to ``alpha``. Drawn on ``ax`` when given
    (e.g. one panel of several side by side), else on a figure of its own. Returns the figure (saved to
    ``path`` when given).
    """
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x = np.asarray(torch.as_tensor(mu).float().cpu(), dtype=np.float64)
    labels = np.asarray(labels)
    if len(x) != len(labels):
        raise ValueError(f"tsne_plot: {len(x)} codes but {len(labels)} labels")
    m = np.zeros((0, x.shape[1]))
    a = np.zeros(0)
    if means is not None:
        m = np.asarray(torch.as_tensor(means).float().cpu(), dtype=np.float64)
        a = np.ones(len(m)) / len(m) if alpha is None else np.asarray(torch.as_tensor(alpha).float().cpu())
        m, a = m[a > ALIVE], a[a > ALIVE]
    pts = np.concatenate([x, m])
    if len(pts) < 5:
        raise ValueError(f"tsne_plot: t-SNE needs at least 5 points, got {len(pts)}")
    emb = TSNE(n_components=2, perplexity=min(30.0, (len(pts) - 1) / 3), init="pca",
               random_state=seed).fit_transform(pts)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 5))
    fig = ax.figure
    for c, name in enumerate(categories):
        sel = labels == c
        ax.scatter(emb[:len(x)][sel, 0], emb[:len(x)][sel, 1], s=6, alpha=0.6, label=name)
    if len(m):
        ax.scatter(emb[len(x):, 0], emb[len(x):, 1], s=40 + 600 * a / a.max(), marker="X", c="black",
                   edgecolors="white", linewidths=0.8, label="Gaussian means (size ~ alpha)")
    leg = ax.legend(fontsize=9)
    for h in leg.legend_handles:  # same marker size in the legend for codes and means
        h.set_sizes([40])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "t-SNE of test codes mu", fontsize=10)
    if own:
        fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


# ----------------------------------------------------------------------------------------------
# 5. the report


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def rec_table(categories: Sequence[str], confusion) -> list[str]:
    """Markdown lines of a :func:`rec_confusion` [C, C]: per source category its count, its Rec and the share of
    its generations given each category ("–" for a category without sources)."""
    cm = np.asarray(confusion, dtype=float)
    lines = ["| source | sketches | Rec | " + " | ".join(categories) + " |", "|---|---|---|" + "---|" * len(categories)]
    for i, (c, r) in enumerate(zip(categories, rec_by_category(cm))):
        n = int(cm[i].sum())
        cells = [_fmt(r, 2)] + [_fmt(v / n if n else None, 2) for v in cm[i]]
        lines.append(f"| {c} | {n} | " + " | ".join(cells) + " |")
    return lines


def report_markdown(r: dict) -> str:
    """One report as Markdown: a table of the scores, then the per-component table."""
    o = r["overlap"]
    rows = [("checkpoint", r["checkpoint"]), ("objective", r["objective"]), ("categories", ", ".join(r["categories"])),
            ("test sketches", r["n_test"]), ("temperature", "greedy" if r["greedy"] else r["temperature"]),
            ("Rec", _fmt(r["rec"])), ("Ret@1", _fmt(r["ret"]["ret@1"])), ("Ret@10", _fmt(r["ret"]["ret@10"])),
            ("Ret@50", _fmt(r["ret"]["ret@50"])), ("mean rank (0 = nearest)", _fmt(r["ret"]["mean_rank"], 1)),
            ("classifier accuracy on the real test sketches (bounds Rec)", _fmt(r["classifier"]["test_acc"])),
            ("classifier trained on",
             f"{r['classifier']['train_size']} sketches, {r['classifier']['epochs']} epochs"),
            ("Gaussians alive / used / K", f"{o['alive']} / {o['used']} / {o['K']}"),
            ("weighted Bhattacharyya overlap", _fmt(o["bc_weighted"])),
            ("max Bhattacharyya overlap", _fmt(o["bc_max"])),
            ("ambiguous codes (top-2 posteriors within 2x)", _fmt(o["ambiguous"])),
            ("NMI(components, categories)", _fmt(o["nmi"])), ("purity", _fmt(o["purity"])),
            ("linear probe on the codes (train -> test accuracy)", _fmt(r["structure"]["probe"])),
            *((f"k-means NMI, k = {k} (clusters of the codes vs categories)", _fmt(v))
              for k, v in r["structure"]["kmeans_nmi"].items()),
            ("empty generations", r["empty_generations"]), ("mean generated length", _fmt(r["mean_length"], 1)),
            ("generations ended by p_end before N_max", _fmt(r.get("ended"))),
            (f"per-Gaussian control: lowest majority share (alpha >= {CONTROL_MIN_ALPHA})",
             _fmt(min((c["share"] for c in r.get("control") or []), default=None)))]
    lines = [f"# Evaluation of `{r['checkpoint']}`", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "## Components (test codes by component label)", "", "| k | alpha | codes | majority | share |",
              "|---|---|---|---|---|"]
    lines += [f"| {c['k']} | {c['alpha']:.3f} | {c['n']} | {c['majority']} | {c['share']:.2f} |"
              for c in o["components"]]
    if r.get("rec_confusion"):
        lines += ["", "## Rec by source category (rows: the sources; columns: what the classifier calls their "
                  "generations, shares of the row)", "", *rec_table(r["categories"], r["rec_confusion"])]
    if r.get("control"):
        lines += ["", "## Per-Gaussian control (100 sketches from N(m_k, v_k), labelled by the classifier)", "",
                  "| k | alpha | majority | share | ended by p_end |", "|---|---|---|---|---|"]
        lines += [f"| {c['k']} | {c['alpha']:.3f} | {c['majority']} | {c['share']:.2f} | {c['ended']:.2f} |"
                  for c in r["control"]]
    return "\n".join(lines) + "\n"


def compare(reports: Sequence[dict], digits: int = 3) -> str:
    """One Markdown table, one row per report (run): Rec, Ret@k, classifier bound and overlap measures,
    each with ``digits`` decimals."""
    head = ["run", "objective", "test", "Rec", "Ret@1", "Ret@10", "Ret@50", "clf acc", "ended", "alive/K",
            "BC (weighted)", "ambiguous", "NMI", "purity", "probe", "k-means NMI", "control (min)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        o = r["overlap"]
        f = lambda x: _fmt(x, digits)  # noqa: E731
        cells = [r.get("name") or r["checkpoint"], r["objective"], r["n_test"], f(r["rec"]), f(r["ret"]["ret@1"]),
                 f(r["ret"]["ret@10"]), f(r["ret"]["ret@50"]), f(r["classifier"]["test_acc"]),
                 f(r.get("ended")), f"{o['alive']}/{o['K']}", f(o["bc_weighted"]), f(o["ambiguous"]),
                 f(o["nmi"]), f(o["purity"]), f(r["structure"]["probe"]),
                 " / ".join(f"{f(v)} (k={k})" for k, v in r["structure"]["kmeans_nmi"].items()),
                 f(min((c["share"] for c in r.get("control") or []), default=None))]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def score(ck: Checkpoint, classifier: nn.Module, data: Prepared, split: str = "test",
          temperature: float = DEFAULT_TEMPERATURE, greedy: bool = False, seed: int = 0,
          progress: bool = False) -> tuple[dict, list[np.ndarray], Tensor]:
    """Every measure of one model on one split of ``data`` (prepared for its checkpoint): what ``iapix
    evaluate`` reports and ``iapix curve`` records, computed in one place.

    Returns ``(scores, generated, mu)``: ``scores`` = ``{rec, rec_confusion, ret, overlap, structure, control,
    ended, mean_length, empty_generations}`` (:func:`rec_confusion` as nested lists, :func:`ret`,
    :func:`overlap_measures`, :func:`code_structure` with k = the number of categories and k = K,
    :func:`component_control`);
    ``generated``: one sketch per sketch of the split, decoded from its ``mu [N, D]``.
    """
    model = ck.model
    labels = data.labels[split]
    if len(labels) == 0:
        raise ValueError(f"the {split} split is empty: nothing to generate from")
    mu, s2 = encode(model, data.images[split])
    generated = decode(ck, mu, temperature, greedy, seed, progress=progress)
    images = render(generated, allow_empty=True)
    confusion = rec_confusion(classifier, images, labels, len(ck.categories))
    train_mu, _ = encode(model, data.images["train"])
    ks = sorted({len(ck.categories), model.latent.K})
    control = component_control(ck, classifier, temperature=temperature, greedy=greedy, seed=seed) \
        if model.cfg.objective != "vae" else []
    scores = {
        "rec": float(np.trace(confusion) / confusion.sum()), "rec_confusion": confusion.tolist(),
        "ret": ret(model, images, mu),
        "overlap": overlap_measures(model, mu, s2, labels, ck.categories),
        "structure": code_structure(train_mu, data.labels["train"], mu, labels, ks, seed=seed),
        "control": control, "ended": ended_share(generated, ck.max_len),
        "mean_length": float(np.mean([len(g) for g in generated])),
        "empty_generations": int(sum(len(g) == 0 for g in generated)),
    }
    return scores, generated, mu


def _run_name(checkpoint: Path) -> str:
    """``runs/catpig-ia/best.pt`` -> ``catpig-ia/best``."""
    return f"{checkpoint.parent.name}/{checkpoint.stem}" if checkpoint.parent.name else checkpoint.stem


def evaluate(checkpoint_path: str | Path, data_dir: str | Path = "data", classifier_path: str | Path | None = None,
             out_dir: str | Path | None = None, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0,
             limit: int | None = None, device: str | torch.device = "cpu", greedy: bool = False,
             classifier_epochs: int = 8, tsne: bool = True, n_show: int = 12, progress: bool = True) -> dict:
    """Evaluate one checkpoint (method §6) -> the report dict; writes it to ``out_dir``.

    ``out_dir`` (default ``<checkpoint folder>/eval``) gets ``report.json``, ``report.md``,
    ``tsne.png`` (unless ``tsne=False``) and ``samples.png`` (``n_show`` test sketches beside their
    generations). The data are the checkpoint's categories from ``data_dir``, prepared with its scale
    factor and ``N_max``; ``limit`` keeps the first ``limit`` sketches of each split per category (the
    classifier is then trained on the limited training split too). The classifier is cached at
    ``classifier_path`` (default ``<out_dir>/classifier.pt``); pass one path for several runs so they
    are judged by the same classifier.
    """
    from iapix.sample import save_grid

    t0 = time.perf_counter()
    ckpt_path = Path(checkpoint_path)
    device = torch.device(device)
    ck = load_checkpoint(ckpt_path, device)
    model = ck.model
    out = Path(out_dir) if out_dir is not None else ckpt_path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    cats = ck.categories
    data = prepare(cats, data_dir, max_len=ck.max_len, scale=ck.scale, limit=limit, progress=progress)
    labels = data.labels["test"]
    timings = {"prepare": time.perf_counter() - t0}

    t = time.perf_counter()
    clf, clf_info = load_or_train_classifier(classifier_path or out / "classifier.pt", data, epochs=classifier_epochs,
                                             seed=seed, device=device, progress=progress)
    clf_info = {k: v for k, v in clf_info.items() if k != "valid_history"}
    clf_info["test_acc_cache"] = clf_info["test_acc"]  # as measured when it was trained
    clf_info["test_acc"] = accuracy(clf, data.images["test"], labels)  # on this evaluation's real test sketches
    timings["classifier"] = time.perf_counter() - t

    t = time.perf_counter()
    scores, generated, test_mu = score(ck, clf, data, "test", temperature, greedy, seed, progress)
    timings["generate and score"] = time.perf_counter() - t

    t = time.perf_counter()
    if tsne:
        tsne_plot(test_mu, labels, cats, model.latent.means, model.latent.alpha, seed=seed, path=out / "tsne.png",
                  title=f"{_run_name(ckpt_path)} ({model.cfg.objective}): test codes and Gaussian means")
    pick = np.linspace(0, len(labels) - 1, min(n_show, len(labels))).astype(int)  # spread over the categories
    originals = denormalise([data.strokes["test"][i] for i in pick], ck.scale)
    pairs = [s for orig, i in zip(originals, pick) for s in (orig, generated[i])]
    titles = [x for i in pick for x in (f"{cats[labels[i]]} #{i}", "generated")]
    save_grid(pairs, out / "samples.png", ncols=8, titles=titles)
    timings["plots"] = time.perf_counter() - t

    report = {
        "name": _run_name(ckpt_path), "checkpoint": str(ckpt_path), "objective": model.cfg.objective,
        "categories": cats, "data_dir": str(data_dir), "limit": limit, "n_test": int(len(labels)),
        "temperature": temperature, "greedy": greedy, "seed": seed, "classifier": clf_info, **scores,
        "checkpoint_step": ck.info.get("step"), "checkpoint_epoch": ck.info.get("epoch"),
        "seconds": {k: round(v, 2) for k, v in {**timings, "total": time.perf_counter() - t0}.items()},
        "out_dir": str(out),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(report_markdown(report))
    return report


# ----------------------------------------------------------------------------------------------
# CLI: iapix evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iapix.cli import positive_float, positive_int

    parser.add_argument("--checkpoint", nargs="+", required=True, help="one or more best.pt / last.pt files")
    parser.add_argument("--classifier", default=None,
                        help="classifier cache (trained there if missing); default: "
                             "<out of the first run>/classifier.pt, shared by all the checkpoints")
    parser.add_argument("--data", default="data", help="folder with the category files")
    parser.add_argument("--out", default=None,
                        help="output folder; default <checkpoint folder>/eval (eval-<name> when several "
                             "checkpoints share a folder); with several checkpoints one sub-folder per run and "
                             "compare.md here")
    parser.add_argument("--temperature", type=positive_float, default=DEFAULT_TEMPERATURE)
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N sketches of each split per category")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier-epochs", type=int, default=8)
    parser.add_argument("--no-tsne", action="store_true", help="skip the t-SNE map (slow for many codes)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")


def run(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    paths = [Path(p) for p in args.checkpoint]
    reports, classifier = [], args.classifier
    shared_parent = len({p.resolve().parent for p in paths}) < len(paths)  # e.g. best.pt and last.pt of one run
    for i, p in enumerate(paths):
        if args.out is None:
            out = p.parent / (f"eval-{p.stem}" if shared_parent else "eval")
        elif len(paths) == 1:
            out = Path(args.out)
        else:
            out = Path(args.out) / f"{i}-{p.parent.name or 'run'}-{p.stem}"
        if classifier is None:
            classifier = out / "classifier.pt"
        r = evaluate(p, args.data, classifier, out, temperature=args.temperature, seed=args.seed, limit=args.limit,
                     device=device, greedy=args.greedy, classifier_epochs=args.classifier_epochs,
                     tsne=not args.no_tsne)
        by_cat = ", ".join(f"{c} {_fmt(v, 2)}" for c, v in zip(r["categories"], rec_by_category(r["rec_confusion"])))
        print(f"{p}: Rec {r['rec']:.3f} ({by_cat}), Ret@1 {r['ret']['ret@1']:.3f}; report -> {r['out_dir']}/report.md")
        reports.append(r)
    table = compare(reports)
    if args.out is not None and len(paths) > 1:
        (Path(args.out) / "compare.md").write_text(table)
    print(table)
    return 0
