"""Sketch data: readers, stroke formats, cleaning, augmentation, and a torch Dataset (method §1).

* Formats: stroke-3 ``(dx, dy, lift)`` with the origin ``(0, 0)`` as the drawing's first point, pen down, so row 0
  is a real segment (how Google's sketch-rnn files are made); stroke-5 ``(dx, dy, p_down, p_up, p_end)``, a batch
  ``[B, N + 1, 5]`` with the start token ``(0, 0, 1, 0, 0)`` in row 0 and ``(0, 0, 0, 0, 1)`` after each end
  (:func:`to_stroke5`, :func:`from_stroke5`).
* Readers: :func:`read_npz` (sketch-rnn files, keys ``train``/``valid``/``test`` or one ``sketches`` key) and
  :func:`read_ndjson` (Google's simplified ndjson, and raw ndjson simplified here the way Google did it: top-left
  align, longest side 255, 1-px resampling, RDP with epsilon 2.0). Each returns :class:`Sketches`, the good sketches
  and a count of the dropped ones and why: a bad *file* raises an error naming it, a bad *sketch* is dropped,
  counted and reported, never silently.
* Cleaning: :func:`clean` (sketches longer than ``max_len`` dropped, offsets clipped to ±1000),
  :func:`scale_factor` (the standard deviation of all training offsets), :func:`normalise` / :func:`denormalise`.
* Augmentation (training only), :func:`augment`: :func:`random_scale` stretches x and y by factors in
  ``[0.9, 1.1]``, then :func:`drop_points` drops interior points with probability 0.1, adding each dropped offset to
  the previous kept point; never one of a stroke's first three points, never a stroke end (method §7 "point
  dropping").
* :class:`SketchDataset` and :meth:`SketchDataset.collate`: augmented batches whose images are rendered again with a
  random centred shrink (method §7 "image shrink") -- from the augmented strokes with ``augment_image``, so that the
  image shows exactly the sketch the decoder must draw (the :class:`~iapix.train.Trainer` passes
  ``Config.augment_image``, True by default: method §7 "training image"), else from the original sketch, as the
  reference. :func:`prepare` loads, cleans, normalises and renders whole categories once (:class:`Prepared`);
  :func:`save_preview` draws a few sketches of each beside their images (``iapix prepare --preview``).

Choices where method §1 is silent: an ndjson drawing whose *first* stroke is a single point loses that point (it is
the origin, and a lone dot has no ink at width 1), so its second stroke starts with a pen-up move; the paper's
optional image rotation and translation (0 by default) are not implemented.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

SPLITS = ("train", "valid", "test")
CLIP = 1000.0
RDP_EPSILON = 2.0


# ----------------------------------------------------------------------------------------------
# A list of sketches that remembers what was dropped on the way


@dataclass
class Sketches:
    """Stroke-3 sketches from one source, with the reasons for every sketch that was dropped.

    ``dropped`` maps a reason to a count; ``examples`` keeps ``(index, reason)`` for the first few;
    ``clipped`` counts the kept sketches whose offsets :func:`clean` clipped to ``±CLIP``.
    """

    strokes: list[np.ndarray]
    source: str
    dropped: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)
    clipped: int = 0

    def __len__(self) -> int:
        return len(self.strokes)

    def drop(self, index: int, reason: str) -> None:
        self.dropped[reason] += 1
        if len(self.examples) < 10:
            self.examples.append((index, reason))

    def warn_if_dropped(self) -> None:
        if self.dropped:
            what = ", ".join(f"{n} {r}" for r, n in self.dropped.most_common())
            first = "; ".join(f"#{i}: {r}" for i, r in self.examples[:3])
            warnings.warn(f"{self.source}: dropped {sum(self.dropped.values())} sketches ({what}); first: {first}",
                          stacklevel=3)
        if self.clipped:
            warnings.warn(f"{self.source}: {self.clipped} sketches have offsets beyond ±{CLIP:g}, clipped to it",
                          stacklevel=3)


def check_sketch(s: object) -> str | None:
    """Return why ``s`` is not a usable stroke-3 array, or None if it is fine."""
    if not isinstance(s, np.ndarray):
        return f"expected a numpy array, got {type(s).__name__}"
    if s.ndim != 2 or s.shape[1] != 3:
        return f"expected shape (n, 3), got {s.shape}"
    if s.dtype.kind not in "iuf":
        return f"expected a numeric dtype, got {s.dtype}"
    if len(s) == 0:
        return "no points"
    if s.dtype.kind == "f" and not np.isfinite(s).all():
        return "NaN or inf offsets"
    if not np.isin(s[:, 2], (0, 1)).all():
        return "lift column not 0/1"
    return None


def _collect(raw: Iterable[object], source: str, warn: bool = True) -> Sketches:
    out = Sketches([], source)
    for i, s in enumerate(raw):
        problem = check_sketch(s)
        if problem is None:
            out.strokes.append(s)
        else:
            out.drop(i, problem)
    if not out.strokes:
        raise ValueError(f"{source}: no usable sketch (dropped: {dict(out.dropped)}; first: {out.examples[:3]})")
    if warn:
        out.warn_if_dropped()
    return out


def warn_file(path: Path, splits: dict[str, Sketches]) -> None:
    """One warning line for a whole data file: the sketches dropped and clipped in all its splits together
    (:func:`prepare`; a warning per split, or one when read and one when cleaned, said the same thing twice)."""
    dropped = sum((sk.dropped for sk in splits.values()), Counter())
    clipped = {split: sk.clipped for split, sk in splits.items() if sk.clipped}
    parts = []
    if dropped:
        what = ", ".join(f"{n} {r}" for r, n in dropped.most_common())
        first = [f"{split} #{i}: {r}" for split, sk in splits.items() for i, r in sk.examples][:3]
        parts.append(f"dropped {sum(dropped.values())} sketches ({what}; first: {'; '.join(first)})")
    if clipped:
        parts.append(f"{sum(clipped.values())} sketches have offsets beyond ±{CLIP:g}, clipped to it "
                     f"({', '.join(f'{split} {n}' for split, n in clipped.items())})")
    if parts:
        warnings.warn(f"{path}: {'; '.join(parts)}", stacklevel=3)


# ----------------------------------------------------------------------------------------------
# Readers


def read_npz(path: str | Path, warn: bool = True) -> dict[str, Sketches]:
    """Read a sketch-rnn ``.npz``: keys ``train``, ``valid``, ``test`` (or one ``sketches`` key).

    Each key holds an object array of ``(n, 3)`` integer stroke-3 arrays. The files were written with
    Python 2 pickles, so they are read with ``allow_pickle=True, encoding="latin1"``. ``warn=False``:
    no warning for dropped sketches (the caller reports them, as :func:`prepare` does once per file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (for the full data see `iapix download --help`)")
    try:
        with warnings.catch_warnings(), np.load(path, allow_pickle=True, encoding="latin1") as f:
            # pickles written by numpy 1.x name numpy.core; numpy 2 reads them but warns
            warnings.filterwarnings("ignore", "numpy.core", DeprecationWarning)
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zipfile.BadZipFile, pickle errors, ...
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    keys = [k for k in SPLITS if k in arrays] or (["sketches"] if "sketches" in arrays else [])
    if not keys:
        raise ValueError(f"{path}: expected keys {list(SPLITS)} (or 'sketches'), found {sorted(arrays)}")
    out = {}
    for k in keys:
        a = arrays[k]
        if a.ndim != 1:
            raise ValueError(f"{path}[{k!r}]: expected a 1-D array of (n, 3) sketches, got shape {a.shape}")
        out[k] = _collect(a, f"{path}[{k!r}]", warn)
    return out


def lines_to_stroke3(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Polylines (a list of ``(m_j, 2)`` absolute points) -> stroke-3 with the first point as origin."""
    lines = [np.asarray(l, dtype=np.float64) for l in lines if len(l)]
    if lines and len(lines[0]) == 1 and len(lines) > 1:
        lines = lines[1:]  # a lone leading dot: see the module docstring
    if not lines:
        raise ValueError("drawing has no points")
    pts = np.concatenate(lines)
    lift = np.concatenate([np.r_[np.zeros(len(l) - 1), 1.0] for l in lines])
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        s = np.column_stack([np.diff(pts, axis=0), lift[1:]])
    if len(s) == 0:
        raise ValueError("drawing is a single point")
    if not np.isfinite(s).all():  # finite points whose differences overflow (coordinates near 1e308)
        raise ValueError(f"coordinates too large: offsets overflow to inf (largest |coordinate| "
                         f"{np.abs(pts).max():.3g})")
    return s


def rdp(points: np.ndarray, epsilon: float = RDP_EPSILON) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of one polyline ``(m, 2)`` (keeps both ends)."""
    m = len(points)
    if m < 3:
        return points
    keep = np.zeros(m, dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, m - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        p, q = points[a], points[b]
        seg = points[a + 1:b] - p
        d = q - p
        norm = np.hypot(*d)
        if norm == 0:
            dist = np.hypot(seg[:, 0], seg[:, 1])
        else:
            dist = np.abs(d[0] * seg[:, 1] - d[1] * seg[:, 0]) / norm
        i = int(np.argmax(dist))
        if dist[i] > epsilon:
            k = a + 1 + i
            keep[k] = True
            stack += [(a, k), (k, b)]
    return points[keep]


def resample(points: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """Resample one polyline ``(m, 2)`` at equal arc-length ``spacing`` (keeps both ends)."""
    if len(points) < 2:
        return points
    arc = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
    t = np.r_[np.arange(0.0, arc[-1], spacing), arc[-1]]
    return np.column_stack([np.interp(t, arc, points[:, 0]), np.interp(t, arc, points[:, 1])])


def simplify_lines(lines: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Google's simplification of raw strokes: top-left align, longest side 255, 1-px resampling,
    RDP epsilon 2.0, integer coordinates."""
    lines = [np.asarray(l, dtype=np.float64) for l in lines if len(l)]
    if not lines:
        raise ValueError("drawing has no points")
    pts = np.concatenate(lines)
    lo = pts.min(axis=0)
    with np.errstate(over="ignore"):  # checked just below
        extent = (pts.max(axis=0) - lo).max()
    if not np.isfinite(extent):
        raise ValueError(f"coordinates too large: offsets overflow to inf (largest |coordinate| "
                         f"{np.abs(pts).max():.3g})")
    scale = 255.0 / extent if extent > 0 else 1.0
    return [np.round(rdp(resample((l - lo) * scale))) for l in lines]


def _ndjson_drawing(record: object, kind: str) -> list[np.ndarray]:
    if not isinstance(record, dict) or not isinstance(record.get("drawing"), list):
        raise ValueError("no 'drawing' field (expected a list of strokes)")
    if kind == "auto":
        kind = "raw" if record["drawing"] and len(record["drawing"][0]) == 3 else "simplified"
    lines = []
    for j, stroke in enumerate(record["drawing"]):
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            raise ValueError(f"stroke {j}: expected [[xs], [ys]] or [[xs], [ys], [ts]]")
        xs, ys = stroke[0], stroke[1]
        if len(xs) != len(ys):
            raise ValueError(f"stroke {j}: {len(xs)} xs but {len(ys)} ys")
        pts = np.asarray([xs, ys], dtype=np.float64).T.reshape(-1, 2)
        if not np.isfinite(pts).all():
            raise ValueError(f"stroke {j}: NaN or inf coordinates")
        lines.append(pts)
    if kind == "raw":
        lines = simplify_lines(lines)
    return lines


def read_ndjson(path: str | Path, kind: str = "auto", category: str | None = None) -> Sketches:
    """Read Google's ndjson: ``kind`` is ``"simplified"`` (``[[xs], [ys]]`` per stroke, 0-255, already
    simplified), ``"raw"`` (``[[xs], [ys], [ts]]``, canvas pixels; simplified here) or ``"auto"``
    (decided per line by the number of arrays per stroke). Duplicate ``key_id`` lines are skipped;
    lines of another ``word`` than ``category`` (if given) are dropped and counted, and so is a bad
    line (not UTF-8, not JSON, JSON but not an object, a bad drawing), with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if kind not in ("auto", "simplified", "raw"):
        raise ValueError(f"kind must be 'auto', 'simplified' or 'raw', got {kind!r}")
    out = Sketches([], str(path))
    seen: set[str] = set()
    with open(path, "rb") as f:  # bytes: one bad byte costs its line, not the file
        for i, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})") from None
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
                key = str(rec.get("key_id", ""))
                if key and key in seen:
                    continue
                seen.add(key)
                if category is not None and rec.get("word") != category:
                    raise ValueError(f"word is {rec.get('word')!r}, expected {category!r}")
                out.strokes.append(lines_to_stroke3(_ndjson_drawing(rec, kind)))
            except (ValueError, KeyError, TypeError, IndexError) as e:
                out.drop(i, f"line {i}: {type(e).__name__}: {e}")
    if not out.strokes:
        first = "; ".join(r for _, r in out.examples[:3])
        raise ValueError(f"{path}: no usable drawing (dropped: {sum(out.dropped.values())}; first: {first})")
    out.warn_if_dropped()
    return out


# ----------------------------------------------------------------------------------------------
# stroke-3 <-> stroke-5, cleaning, normalisation


def to_stroke5(sketches: Sequence[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Stroke-3 sketches -> (``[B, max_len + 1, 5]`` float32 with start/end tokens, lengths ``[B]``)."""
    out = np.zeros((len(sketches), max_len + 1, 5), dtype=np.float32)
    out[:, 0, 2] = 1.0
    lengths = np.array([len(s) for s in sketches], dtype=np.int64)
    if len(lengths) and lengths.max() > max_len:
        i = int(lengths.argmax())
        raise ValueError(f"sketch {i} has {lengths[i]} points, more than max_len={max_len}")
    for b, s in enumerate(sketches):
        n = len(s)
        out[b, 1:n + 1, :2] = s[:, :2]
        out[b, 1:n + 1, 3] = s[:, 2]
        out[b, 1:n + 1, 2] = 1.0 - s[:, 2]
        out[b, n + 1:, 4] = 1.0
    return out, lengths


def from_stroke5(s5: np.ndarray) -> np.ndarray:
    """One stroke-5 sequence ``[T, 5]`` (no start token) -> stroke-3, cut at the first ``p_end``."""
    s5 = np.asarray(s5)
    end = np.flatnonzero(s5[:, 4] > 0.5)
    n = int(end[0]) if len(end) else len(s5)
    return np.column_stack([s5[:n, :2], s5[:n, 3]]).astype(np.float32)


def clean(sk: Sketches, max_len: int | None = None, clip: float = CLIP) -> Sketches:
    """Drop sketches longer than ``max_len`` (counted) and clip offsets to ``±clip`` (the sketches
    clipped are counted in ``clipped``); float32 out."""
    out = Sketches([], sk.source, Counter(sk.dropped), list(sk.examples), sk.clipped)
    for i, s in enumerate(sk.strokes):
        if max_len is not None and len(s) > max_len:
            out.drop(i, f"longer than N_max={max_len}")
            continue
        s = s.astype(np.float32)
        if np.abs(s[:, :2]).max() > clip:
            out.clipped += 1
            s[:, :2] = np.clip(s[:, :2], -clip, clip)
        out.strokes.append(s)
    return out


def scale_factor(sketches: Sequence[np.ndarray]) -> float:
    """Standard deviation of all ``dx`` and ``dy`` offsets together (sketch-rnn's normaliser)."""
    offsets = np.concatenate([s[:, :2].ravel() for s in sketches])
    return float(offsets.std())


def normalise(sketches: Sequence[np.ndarray], scale: float) -> list[np.ndarray]:
    """Divide ``dx, dy`` by ``scale`` (the training set's :func:`scale_factor`)."""
    out = []
    for s in sketches:
        s = s.astype(np.float32)  # copy
        s[:, :2] /= scale
        out.append(s)
    return out


def denormalise(sketches: Sequence[np.ndarray], scale: float) -> list[np.ndarray]:
    """The inverse of :func:`normalise`: offsets back to pixel units."""
    return normalise(sketches, 1.0 / scale)


# ----------------------------------------------------------------------------------------------
# Augmentation (training only)


def random_scale(s: np.ndarray, rng: np.random.Generator, amount: float = 0.1) -> np.ndarray:
    """Stretch x and y independently by factors drawn from ``[1 - amount, 1 + amount]``."""
    out = s.copy()
    out[:, :2] *= rng.uniform(1 - amount, 1 + amount, size=2).astype(s.dtype)
    return out


def drop_points(s: np.ndarray, rng: np.random.Generator, prob: float = 0.1) -> np.ndarray:
    """Drop interior stroke points with probability ``prob`` (sketch-rnn's ``augment_strokes``).

    Only a point at position >= 3 of its stroke that is not a stroke end may drop; its offset is
    added to the previous kept point, so every later absolute position is unchanged.
    """
    if prob <= 0:
        return s.copy()
    lift = s[:, 2] > 0.5
    starts = np.r_[True, lift[:-1]]  # a point right after a lift starts a stroke
    pos = np.arange(len(s)) - np.maximum.accumulate(np.where(starts, np.arange(len(s)), 0))
    drop = (pos >= 3) & ~lift & (rng.random(len(s)) < prob)
    if not drop.any():
        return s.copy()
    keep_idx = np.flatnonzero(~drop)
    # each dropped point's offset goes to the closest kept point before it
    owner = np.maximum.accumulate(np.where(~drop, np.arange(len(s)), 0))
    out = s[keep_idx].copy()
    slot = np.searchsorted(keep_idx, owner)
    np.add.at(out[:, :2], slot[drop], s[drop, :2])
    return out


def augment(s: np.ndarray, rng: np.random.Generator, scale_amount: float = 0.1, drop_prob: float = 0.1) -> np.ndarray:
    """The sequence augmentation of method §1: :func:`random_scale` then :func:`drop_points`."""
    return drop_points(random_scale(s, rng, scale_amount), rng, drop_prob)


# ----------------------------------------------------------------------------------------------
# Dataset


class SketchDataset(Dataset):
    """Normalised stroke-3 sketches with labels and pre-rendered 48x48 images.

    ``dataset[i]`` is ``(strokes3 (n, 3), i, label)``; :meth:`collate` turns a list of those into
    ``(strokes5 [B, max_len + 1, 5], lengths [B], images [B, 1, 48, 48], labels [B])``. With
    ``augment=True`` the strokes are stretched and thinned, and the images are re-rendered with a
    random centred shrink in ``shrink`` (one batched render per batch): from the original sketches
    (the reference: its images were rendered once, before training), or with ``augment_image`` from
    the augmented strokes, so that each image shows exactly the sketch the decoder must draw. False
    here (the reference); the :class:`~iapix.train.Trainer` passes ``Config.augment_image``, True by default.
    """

    def __init__(self, strokes: Sequence[np.ndarray], labels: Sequence[int], images: np.ndarray, max_len: int,
                 augment: bool = False, scale_amount: float = 0.1, drop_prob: float = 0.1,
                 shrink: tuple[float, float] = (0.98, 1.0), seed: int = 0, augment_image: bool = False):
        if not (len(strokes) == len(labels) == len(images)):
            raise ValueError(f"{len(strokes)} sketches, {len(labels)} labels, {len(images)} images: must match")
        self.strokes = list(strokes)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.images = np.asarray(images, dtype=np.float32)
        self.max_len = max_len
        self.augment = augment
        self.scale_amount, self.drop_prob, self.shrink = scale_amount, drop_prob, shrink
        self.augment_image = augment_image
        self.seed, self._worker = seed, None
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.strokes)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int, int]:
        worker = torch.utils.data.get_worker_info()
        if worker is not None and self._worker != worker.id:  # DataLoader workers: one stream each
            self.rng, self._worker = np.random.default_rng([self.seed, worker.id, worker.seed]), worker.id
        s = self.strokes[i]
        if self.augment:
            s = augment(s, self.rng, self.scale_amount, self.drop_prob)
        return s, i, int(self.labels[i])

    def collate(self, items: Sequence[tuple[np.ndarray, int, int]],
                pad_to_longest: bool = False) -> tuple[torch.Tensor, ...]:
        """Items -> a batch; strokes5 has ``N_max + 1`` rows, or ``longest + 2`` with ``pad_to_longest``
        (start token, points, and one end token even after the longest sketch: every ``p_end`` is a target)."""
        strokes, index, labels = zip(*items)
        s5, lengths = to_stroke5(strokes, max(map(len, strokes)) + 1 if pad_to_longest else self.max_len)
        if self.augment and (self.shrink != (1.0, 1.0) or self.augment_image):
            from iapix.raster import render
            ratios = self.rng.uniform(*self.shrink, size=len(index))
            images = render(strokes if self.augment_image else [self.strokes[i] for i in index], shrink=ratios)
        else:
            images = self.images[list(index)]
        return (torch.from_numpy(s5), torch.from_numpy(lengths),
                torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1),
                torch.tensor(labels, dtype=torch.int64))


# ----------------------------------------------------------------------------------------------
# A whole prepared dataset: several categories, cleaned, normalised and rendered


def category_file(data_dir: str | Path, category: str) -> Path:
    """The ``.npz`` of ``category`` in ``data_dir``, or an error listing what is there."""
    data_dir = Path(data_dir)
    names = (category, category.replace(" ", "-"), category.replace("-", " "))
    for name in names:
        p = data_dir / f"{name}.npz"
        if p.is_file():
            return p
    for name in names:
        p = data_dir / f"{name}.npz"
        if p.is_dir():
            raise ValueError(f"{p}: a folder, not a .npz file of sketches; move the folder away and put the "
                             f"category's file there (full data: `iapix download {category}`), or give another --data")
    have = sorted(p.stem for p in data_dir.glob("*.npz") if p.is_file()) if data_dir.is_dir() else []
    raise ValueError(f"unknown category {category!r}: no {data_dir / (category + '.npz')} "
                     f"(found: {', '.join(have) or 'nothing'}; full data: `iapix download {category}`)")


@dataclass
class Prepared:
    """Cleaned, normalised, rendered splits of several categories (labels index ``categories``)."""

    categories: list[str]
    scale: float
    max_len: int
    strokes: dict[str, list[np.ndarray]]  # split -> normalised stroke-3
    labels: dict[str, np.ndarray]  # split -> [n] int64
    images: dict[str, np.ndarray]  # split -> [n, 48, 48] float32
    report: list[dict]  # one row per category: split sizes, dropped (reason -> count), seconds

    def dataset(self, split: str, augment: bool = False, seed: int = 0, **settings) -> SketchDataset:
        """One split as a :class:`SketchDataset`; ``settings``: its augmentation settings (``scale_amount``,
        ``drop_prob``, ``shrink``, ``augment_image``), used when ``augment``."""
        return SketchDataset(self.strokes[split], self.labels[split], self.images[split], self.max_len,
                             augment=augment, seed=seed, **settings)


def prepare(categories: Sequence[str], data_dir: str | Path = "data", max_len: int | None = 250,
            scale: float | None = None, limit: int | None = None, progress: bool = False) -> Prepared:
    """Load ``categories`` from ``data_dir``, clean (``max_len`` cap, ±1000 clip), normalise by the
    training scale factor (or the given ``scale``), and render every sketch once at 48x48.

    ``N_max`` is the longest kept sketch over all splits. ``limit`` keeps the first ``limit`` of each
    split (quick runs). Returns :class:`Prepared`, whose ``report`` says what was dropped and why, and
    how many sketches had offsets clipped. A category given twice, a ``limit`` or ``max_len`` below 1,
    and a split left empty (every sketch longer than ``max_len``) are refused.
    """
    from iapix.raster import render

    if not categories:
        raise ValueError("no categories given")
    twice = sorted({c for c in categories if list(categories).count(c) > 1})
    if twice:
        raise ValueError(f"categories: {', '.join(twice)} given more than once; each category is one label")
    for name, value in (("limit", limit), ("max_len", max_len)):
        if value is not None and value < 1:
            raise ValueError(f"{name} (--{name.replace('_', '-')}): expected a positive number, got {value}")
    raw: dict[str, dict[str, Sketches]] = {}
    report, paths = [], {}
    for c in categories:
        t0 = time.perf_counter()
        path = paths[c] = category_file(data_dir, c)
        splits = read_npz(path, warn=False)  # what is dropped is said once for the file, below
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            raise ValueError(f"{path}: expected keys {list(SPLITS)}, missing {missing}")
        raw[c] = {}
        row = {"category": c, "dropped": Counter(), "clipped": 0}
        for split in SPLITS:
            sk = splits[split]
            if limit is not None:
                sk = Sketches(sk.strokes[:limit], sk.source, sk.dropped, sk.examples)
            raw[c][split] = cleaned = clean(sk, max_len)
            if not cleaned.strokes:
                raise ValueError(f"{path}[{split!r}]: every one of its {len(sk)} sketches is longer than max_len="
                                 f"{max_len} (the shortest has {min(map(len, sk.strokes))} points); raise --max-len")
            row[split] = len(cleaned)
            row["dropped"] += cleaned.dropped
            row["clipped"] += cleaned.clipped
        row["seconds"] = time.perf_counter() - t0
        report.append(row)
        warn_file(path, raw[c])
    if scale is None:
        scale = scale_factor([s for c in categories for s in raw[c]["train"].strokes])
        if not scale > 0:  # one offset everywhere (all 0): normalising would divide by 0, every sketch turn NaN
            one = float(raw[categories[0]]["train"].strokes[0][0, 0])
            raise ValueError(f"{', '.join(map(str, paths.values()))}: every dx, dy offset of the training sketches is "
                             f"{one:g}, so their scale factor (standard deviation) is 0 and they cannot be normalised: "
                             "not real drawings; use files of real sketches")
    elif not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a finite number > 0 (a checkpoint's scale factor), got {scale}")
    n_max = max(len(s) for c in categories for sp in SPLITS for s in raw[c][sp].strokes)
    strokes, labels, images = {}, {}, {}
    for split in SPLITS:
        strokes[split] = [s for c in categories for s in normalise(raw[c][split].strokes, scale)]
        labels[split] = np.concatenate([np.full(len(raw[c][split]), k, dtype=np.int64)
                                        for k, c in enumerate(categories)])
        t0 = time.perf_counter()
        images[split] = render(strokes[split], progress=progress)
        seconds = time.perf_counter() - t0
        for row in report:  # each category's share of the render time
            row["seconds"] += seconds * row[split] / max(1, len(strokes[split]))
    return Prepared(list(categories), scale, n_max, strokes, labels, images, report)


def summary_table(p: Prepared, timings: bool = True) -> str:
    """A plain-text table of :attr:`Prepared.report`: sizes, drops and why, time; N_max, scale."""
    secs = f" {'seconds':>8}" if timings else ""
    lines = [f"{'category':<12} {'train':>6} {'valid':>6} {'test':>6} {'dropped':>8}{secs}  why dropped", "-" * 76]
    for r in p.report:
        why = ", ".join([f"{n} {k}" for k, n in r["dropped"].items()]
                        + ([f"(kept: {r['clipped']} with offsets clipped to ±{CLIP:g})"] if r.get("clipped") else []))
        why = why or "-"
        secs = f" {r['seconds']:>8.2f}" if timings else ""
        lines.append(f"{r['category']:<12} {r['train']:>6} {r['valid']:>6} {r['test']:>6} "
                     f"{sum(r['dropped'].values()):>8}{secs}  {why}")
    lines += ["-" * 76, f"N_max = {p.max_len}   scale factor = {p.scale:.4f} (std of training offsets)"]
    return "\n".join(lines)


def save_preview(p: Prepared, path: str | Path, per_category: int = 4) -> Path:
    """PNG grid: for each category, a few training sketches beside their 48x48 renderings."""
    import matplotlib.pyplot as plt

    from iapix.plot import plot_image, plot_sketch, save_figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = len(p.categories)
    fig, axes = plt.subplots(rows, 2 * per_category, figsize=(2 * per_category * 1.3, rows * 1.4), squeeze=False)
    for r, c in enumerate(p.categories):
        idx = np.flatnonzero(p.labels["train"] == r)[:per_category]
        for j, i in enumerate(idx):
            plot_sketch(axes[r, 2 * j], p.strokes["train"][i], title=f"{c} #{i}" if j == 0 else None)
            plot_image(axes[r, 2 * j + 1], p.images["train"][i], title="48x48" if r == 0 else None)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# CLI: iapix prepare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--categories", nargs="+", default=["cat", "pig", "face", "radio", "alarm-clock"])
    parser.add_argument("--data", default="data", help="folder with <category>.npz files")
    from iapix.cli import positive_int

    parser.add_argument("--max-len", type=positive_int, default=250, help="drop sketches longer than this")
    parser.add_argument("--limit", type=positive_int, default=None, help="keep only the first N of each split")
    parser.add_argument("--preview", default="out/data_preview.png", help="PNG grid of sketches and renderings")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    p = prepare(args.categories, args.data, max_len=args.max_len, limit=args.limit, progress=True)
    print(summary_table(p))
    print(f"total time: {time.perf_counter() - t0:.1f} s")
    if args.preview:
        path = save_preview(p, args.preview)
        print(f"preview: {path}")
    return 0
