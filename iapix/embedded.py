"""Build the small embedded dataset in ``data/`` from the raw Quick, Draw! files (``iapix build-embedded``).

Re-runnable and deterministic: the same inputs give the same arrays (``np.savez`` adds zip timestamps, so compare
contents, not bytes). The raw files are the maintainers' copy (``--source``; by default ``shared/data/quickdraw``
beside the repository); ``data/README.md`` gives their provenance:

* ``cat``: the 2 000 unique drawings of ``class-intro/cat_2k.ndjson`` (simplified ndjson), converted to stroke-3
  with :func:`iapix.data.read_ndjson`;
* ``pig``, ``face``, ``radio``, ``alarm-clock``: 2 500 each, the ``sketches`` key of
  ``quickdraw_stimulus_generation/<category>.npz`` (Google's sketch-rnn *test* split, stroke-3 int16).

Each category is split 80/10/10 into ``train``/``valid``/``test`` with a fixed seed and written as a sketch-rnn
``.npz`` (object arrays of ``(n, 3)`` int16), so it loads with the same reader as the full files of ``iapix
download``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from iapix.data import SPLITS, Sketches, read_ndjson, read_npz

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "quickdraw"
SOURCES = {
    "cat": "class-intro/cat_2k.ndjson",
    "pig": "quickdraw_stimulus_generation/pig.npz",
    "face": "quickdraw_stimulus_generation/face.npz",
    "radio": "quickdraw_stimulus_generation/radio.npz",
    "alarm-clock": "quickdraw_stimulus_generation/alarm-clock.npz",
}
SEED = 20261125


INT16 = np.iinfo(np.int16)


def load_source(source_dir: str | Path, category: str) -> list[np.ndarray]:
    """The raw stroke-3 sketches of one embedded category, as int16.

    A sketch with a value that int16 cannot hold (it would wrap around to another number) is dropped,
    counted and reported with a warning, like the readers' bad sketches.
    """
    path = Path(source_dir) / SOURCES[category]
    if path.suffix == ".ndjson":
        sk = read_ndjson(path, kind="simplified", category=category)
    else:
        sk = read_npz(path)["sketches"]
    out = Sketches([], sk.source)
    for i, s in enumerate(sk.strokes):
        s = np.rint(np.asarray(s, dtype=np.float64))
        if s.min() < INT16.min or s.max() > INT16.max:
            out.drop(i, f"values beyond int16 ({s.min():.0f}..{s.max():.0f})")
        else:
            out.strokes.append(s.astype(np.int16))
    out.warn_if_dropped()
    return out.strokes


def split(sketches: list[np.ndarray], seed: int = SEED, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[np.ndarray]]:
    """Shuffle with a fixed seed and cut into train/valid/test by ``fractions``."""
    order = np.random.default_rng(seed).permutation(len(sketches))
    n_train = int(round(fractions[0] * len(sketches)))
    n_valid = int(round(fractions[1] * len(sketches)))
    cuts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
    return {k: [sketches[i] for i in idx] for k, idx in cuts.items()}


def object_array(sketches: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(sketches), dtype=object)
    out[:] = sketches
    return out


def build(out_dir: str | Path = "data", source_dir: str | Path = DEFAULT_SOURCE,
          categories: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Write ``<out_dir>/<category>.npz`` for each category; returns the split sizes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for c in categories or list(SOURCES):
        if c not in SOURCES:
            raise ValueError(f"unknown embedded category {c!r}; known: {', '.join(SOURCES)}")
        parts = split(load_source(source_dir, c), seed=SEED + sorted(SOURCES).index(c))
        np.savez_compressed(out_dir / f"{c}.npz", **{k: object_array(parts[k]) for k in SPLITS})
        sizes[c] = {k: len(parts[k]) for k in SPLITS}
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data", help="where to write <category>.npz")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="the shared quickdraw folder")
    parser.add_argument("--categories", nargs="+", default=None)


def run(args: argparse.Namespace) -> int:
    for c, s in build(args.out, args.source, args.categories).items():
        print(f"{c:<12} " + "  ".join(f"{k} {n}" for k, n in s.items()))
    return 0
