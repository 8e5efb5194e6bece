"""Matplotlib pictures of sketches: one stroke-3 sketch on an axis, grids, the data preview."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from iapix.data import Prepared


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
                size: float = 1.4):
    """A figure with one sketch per cell; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(sketches)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < n:
            plot_sketch(ax, sketches[k], title=titles[k] if titles else None)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def save_preview(p: "Prepared", path: str | Path, per_category: int = 4) -> Path:
    """PNG grid: for each category, a few training sketches beside their 48x48 renderings."""
    import matplotlib.pyplot as plt

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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
