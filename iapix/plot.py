"""Matplotlib pictures of sketches: one stroke-3 sketch on an axis, grids; writing a figure safely."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (the format from its suffix) safely (:func:`write_safely`)."""
    return write_safely(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".").lower()
                                                      or "png"), "the picture")


def write_safely(path: str | Path, write, what: str = "the file") -> Path:
    """``write(tmp)`` to ``<path>.tmp``, then rename it over ``path``, so that a full disk or a kill never leaves a
    cut-short file, and an error names the file (matplotlib's and most writers' do not)."""
    from iapix.cli import WriteError

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            full = e.errno in (errno.ENOSPC, errno.EDQUOT)
            raise WriteError(e.errno, f"{path}: cannot write {what} ({e.strerror or e}"
                             f"{'; the disk is full: free some space and run the command again' if full else ''}); "
                             "the file there, if any, is unchanged and no temporary file was left") from e
        raise
    return path


def strokes_to_lines(s: np.ndarray) -> list[np.ndarray]:
    """Stroke-3 ``(n, 3)`` -> absolute polylines, the origin ``(0, 0)`` being the first point."""
    pts = np.vstack([[0.0, 0.0], np.cumsum(np.asarray(s[:, :2], dtype=np.float64), axis=0)])
    lifts = np.flatnonzero(s[:, 2] > 0.5) + 1  # index in pts of each stroke's last point
    lines, start = [], 0
    for end in list(lifts) + [len(pts) - 1]:
        if end >= start:
            lines.append(pts[start:end + 1])
        start = end + 1
    return [l for l in lines if len(l) > 1]


def plot_sketch(ax: "Axes", s: np.ndarray, color: str = "black", lw: float = 1.5, title: str | None = None) -> None:
    """Draw one stroke-3 sketch (y down, as on screen), equal aspect, no axes."""
    for line in strokes_to_lines(s):
        ax.plot(line[:, 0], line[:, 1], color=color, lw=lw, solid_capstyle="round")
    ax.set_aspect("equal")
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)


def plot_image(ax: "Axes", image: np.ndarray, title: str | None = None) -> None:
    """Show a 48x48 image in [-1, 1] (white = +1)."""
    ax.imshow(np.asarray(image).squeeze(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)


def sketch_grid(sketches: Sequence[np.ndarray], ncols: int = 8, titles: Sequence[str] | None = None,
                size: float = 1.4, row_titles: bool = False):
    """A figure with one sketch per cell; returns the figure. With ``row_titles`` a title on a row's first cell,
    with no title on the rest of the row, labels the whole row: it starts at the row's left edge and may run
    across it (otherwise every title is centred on its cell)."""
    import matplotlib.pyplot as plt

    n = len(sketches)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        title = titles[k] if titles else None
        row_label = row_titles and bool(title) and k % ncols == 0 and not any(titles[k + 1:k + ncols])
        plot_sketch(ax, sketches[k], title=None if row_label else title)
        if row_label:
            ax.set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    return fig
