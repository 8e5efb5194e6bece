"""Render stroke-3 sketches to small anti-aliased grey images, vectorised over a whole split.

:func:`render` (a list of sketches) and :func:`render_one` draw what the CNN encoder reads (method §1 "Image
input"): the drawing's bounding box, origin included, fitted into a ``size`` x ``size`` square (48) with a
``margin`` (1.5 px), keeping the aspect ratio and centring the short side; a black anti-aliased line ``line_width``
(1 px) wide on white; values in ``[-1, 1]`` (white +1, ink -1). Row k is the segment from point k-1 (the origin for
k = 0) to point k, inked unless the previous row lifts the pen. An optional per-sketch ``shrink`` ratio r pulls the
fitted drawing towards the centre c, ``p -> c + r (p - c)`` (the training augmentation). Coordinates are SVG's (y
downwards); pixel (i, j) covers ``[j, j+1] x [i, i+1]``.

Algorithm, per chunk of sketches, with no Python loop over sketches or points: the geometry in numpy float64
(cumulative sums, bounding boxes, the fit); then, in torch float32, every inked segment is cut into pieces of at
most 2 px, each pixel of a small window around a piece gets its exact squared distance to the piece's whole
segment, and ``scatter_reduce(..., "amin")`` keeps the smallest; a pixel's value is ``1 - 2 clamp(r - dist, 0, 1)``
with ``r = line_width / 2 + 0.5``. The cost grows with the length of ink, not with segments x pixels.

Departures from the reference renderer, svgwrite -> cairosvg -> PIL (method §7 "renderer", "image shrink"): the
first segment is inked (the reference's path opens with a move; :func:`render_cairo` is the reference renderer, by
default fed a ``(0, 0, 0)`` row in front so that it draws that segment too); the pen is a disc, so ends and joins are
round where cairo's are butt caps and miter joins, and anti-aliasing is distance based rather than cairo's area
coverage (the two agree along axis-aligned lines); flipping a sketch flips its image; the shrink is the intended
centred one, not the reference's resize to 47 x 47 at the top-left. Speed and the pixel difference to the
reference: docs/benchmarks.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["render", "render_one", "render_cairo"]

_PIECE = 2.0  # maximal piece length in pixels (see the module docstring)


def _stack(sketches: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Validate stroke-3 sketches and concatenate them: (columns [3, R] float64 = dx, dy, lift; lengths [n])."""
    arrays = []
    for i, s in enumerate(sketches):
        a = np.asarray(s)
        if a.ndim != 2 or a.shape[1] != 3:
            hint = " (render takes a list of sketches; use render_one for a single one)" if a.ndim == 1 else ""
            raise ValueError(f"render: sketch {i} must be a stroke-3 array of shape (n, 3), got shape {a.shape}{hint}")
        if a.shape[0] == 0:
            raise ValueError(f"render: sketch {i} is empty (0 points); a sketch needs at least one (dx, dy, lift) row")
        arrays.append(a)
    lens = np.array([len(a) for a in arrays], dtype=np.int64)
    rows = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 3))
    cols = np.ascontiguousarray(rows.T, dtype=np.float64)
    ends = np.cumsum(lens)

    def where(row: int) -> str:
        i = int(np.searchsorted(ends, row, side="right"))
        return f"sketch {i}, row {row - (ends[i] - lens[i])}"

    bad = np.flatnonzero(~np.isfinite(cols).all(axis=0))
    if len(bad):
        raise ValueError(f"render: {where(bad[0])}: NaN or infinite value {cols[:, bad[0]].tolist()}")
    bad = np.flatnonzero((cols[2] != 0) & (cols[2] != 1))
    if len(bad):
        raise ValueError(f"render: {where(bad[0])}: lift must be 0 or 1, got {cols[2, bad[0]]}")
    return cols, lens


def _segments(cols: np.ndarray, lens: np.ndarray, size: int, margin: float, shrink: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Inked segments of a chunk of sketches (columns [3, R], lengths [n]) in pixel coordinates.

    Returns (seg [4, S] float64 = start x, start y, dx, dy of every inked segment; sketch [S], the
    index of its sketch within the chunk). One coordinate at a time: 1-D numpy is fastest.
    """
    n = len(lens)
    starts = np.cumsum(lens) - lens                           # first row of each sketch
    ink = np.empty(cols.shape[1], dtype=bool)                 # segment k inked unless row k-1 lifts
    ink[0] = True
    ink[1:] = cols[2, :-1] == 0
    ink[starts] = True                                        # the first segment is always inked
    sel = np.flatnonzero(ink)
    sid = np.repeat(np.arange(n), lens).take(sel)
    inner = size - 2.0 * margin

    ends, lo, ext = [], [], []
    for off in (cols[0], cols[1]):                            # x, then y
        cs = np.cumsum(off)
        end = cs - np.repeat(cs[starts] - off[starts], lens)  # point k of each sketch
        low = np.minimum(np.minimum.reduceat(end, starts), 0.0)          # bbox includes the origin
        ends.append(end)
        lo.append(low)
        ext.append(np.maximum(np.maximum.reduceat(end, starts), 0.0) - low)
    span = np.maximum(ext[0], ext[1])
    scale = np.where(span > 0, inner / np.where(span > 0, span, 1.0), 1.0)     # [n]; a dot: 1
    offset = [margin + 0.5 * (inner - e * scale) - low * scale for e, low in zip(ext, lo)]
    if shrink is not None:                                    # p -> c + r (p - c)
        c = size / 2.0
        scale = scale * shrink
        offset = [(o - c) * shrink + c for o in offset]

    sc = scale.take(sid)
    seg = np.empty((4, len(sel)))
    for axis in (0, 1):
        seg[2 + axis] = cols[axis].take(sel) * sc             # point k - point k-1, in pixels
        seg[axis] = ends[axis].take(sel) * sc + offset[axis].take(sid) - seg[2 + axis]   # point k-1
    return seg, sid


def _min_dist2(seg: np.ndarray, sid: np.ndarray, buf: torch.Tensor, size: int, reach: float) -> None:
    """Squared distance from each pixel centre to the segments seg [4, S] (x, y, dx, dy) of sketches sid [S].

    buf [n*size*size] is lowered in place (``amin``) wherever a segment comes closer than its current
    value; only pixels within ``reach`` of a segment are visited, so initialise buf with reach**2.
    """
    half = reach + _PIECE / 2.0                               # reach of a piece from its midpoint
    win = min(math.ceil(2.0 * half), size)                    # window side in pixels

    # pieces: a segment is cut into m pieces of length <= _PIECE; piece k has midpoint a + d (k + 0.5) / m
    dd = seg[2] * seg[2] + seg[3] * seg[3]
    m = np.maximum(np.ceil(np.sqrt(dd) / _PIECE), 1).astype(np.int64)              # [S]
    inv = np.divide(1.0, dd, out=np.zeros_like(dd), where=dd > 0)                   # 0: a dot
    feat = np.empty((7, len(m)), dtype=np.float32)            # x, y, dx, dy, dx/|d|^2, dy/|d|^2, 1/m
    feat[:4] = seg
    feat[4:6] = seg[2:] * inv
    feat[6] = 1.0 / m
    m_t = torch.from_numpy(m)
    fp = torch.from_numpy(feat).repeat_interleave(m_t, dim=1)                      # [7, P] its segment's
    ip = torch.from_numpy(np.stack([sid, np.cumsum(m) - m])).repeat_interleave(m_t, dim=1)   # [2, P]
    k = torch.arange(fp.shape[1]) - ip[1]                                           # piece number
    a_p, d_p, u_p = fp[0:2], fp[2:4], fp[4:6]                 # start, direction, direction / |d|^2
    mid = torch.addcmul(a_p, d_p, (k + 0.5) * fp[6])
    # window: the pixels whose centre j + 0.5 lies within `half` of the midpoint on each axis; a
    # window sticking out of the image is shifted in (it then still holds every pixel that matters)
    j0 = torch.floor(mid - (half + 0.5)).add_(1).clamp_(0, size - win)              # [2, P]
    c0 = j0 + 0.5 - a_p                                       # first window centre - a
    j0 = j0.long()
    first = ip[0] * (size * size) + j0[1] * size + j0[0]                            # [P]

    # window pixels [win (rows), win (cols), P], separable in x and y: w = centre - a, projection
    # t = clamp(w . d / |d|^2, 0, 1), squared distance |w - t d|^2. Pieces last: contiguous inner loops.
    g = torch.arange(win, dtype=torch.float32)[:, None]
    wx = (c0[0] + g)[None, :, :]                              # [1, win, P]
    wy = (c0[1] + g)[:, None, :]                              # [win, 1, P]
    t = torch.addcmul(wx * u_p[0], wy, u_p[1]).clamp_(0.0, 1.0)   # [win, win, P]
    ex = torch.addcmul(wx, t, d_p[0], value=-1.0)
    ey = torch.addcmul(wy, t, d_p[1], value=-1.0)
    dist2 = ex.mul_(ex).addcmul_(ey, ey)
    gi = torch.arange(win)
    idx = (gi[:, None] * size + gi).view(-1, 1) + first       # [win*win, P]
    buf.scatter_reduce_(0, idx.view(-1), dist2.view(-1), reduce="amin")


def render(sketches: Sequence[np.ndarray], size: int = 48, margin: float = 1.5, line_width: float = 1.0,
           batch_size: int = 512, progress: bool = False, shrink: np.ndarray | None = None,
           allow_empty: bool = False) -> np.ndarray:
    """Render stroke-3 sketches to grey images.

    sketches: n arrays (n_i, 3) of (dx, dy, lift), the origin (0, 0) their first point, pen down
        (a list, or the object array of a sketch-rnn npz split).
    size, margin: image side and the margin around the fitted bounding box, in pixels.
    line_width: pen width in pixels.
    batch_size: sketches per vectorised chunk (memory grows with it; speed barely changes).
    progress: show a tqdm bar over the chunks.
    shrink: optional [n] ratios in (0, 1] (training augmentation: method §1 uses [0.98, 1]); each
        drawing is scaled by its ratio towards the image centre after fitting.
    allow_empty: render an empty sketch (0 rows, e.g. a generation that ended at once) as a blank
        image instead of raising.
    Returns float32 [n, size, size] in [-1, 1], white = +1, ink = -1.
    """
    if allow_empty:
        full = [i for i, s in enumerate(sketches) if len(s)]
        out = np.ones((len(sketches), size, size), dtype=np.float32)
        if full:
            out[full] = render([sketches[i] for i in full], size, margin, line_width, batch_size, progress,
                               None if shrink is None else np.asarray(shrink)[full])
        return out
    if size < 1:
        raise ValueError(f"render: size must be >= 1, got {size}")
    if not 0 <= margin < size / 2:
        raise ValueError(f"render: margin must be in [0, size/2) = [0, {size / 2}), got {margin}")
    if not line_width > 0:
        raise ValueError(f"render: line_width must be > 0, got {line_width}")
    if batch_size < 1:
        raise ValueError(f"render: batch_size must be >= 1, got {batch_size}")
    cols, lens = _stack(sketches)
    n = len(lens)
    if shrink is not None:
        shrink = np.asarray(shrink, dtype=np.float64)
        if shrink.shape != (n,):
            raise ValueError(f"render: shrink must have shape ({n},) (one ratio per sketch), got {shrink.shape}")
        if not np.all((shrink > 0) & (shrink <= 1)):
            raise ValueError(f"render: shrink ratios must be in (0, 1], got min {shrink.min()}, max {shrink.max()}")
    r = line_width / 2.0 + 0.5                                # coverage = clamp(r - distance, 0, 1)
    out = np.empty((n, size, size), dtype=np.float32)
    row0 = np.concatenate([[0], np.cumsum(lens)])
    chunks = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="render", unit="chunk")
    for lo in chunks:
        hi = min(lo + batch_size, n)
        sh = None if shrink is None else shrink[lo:hi]
        seg, sid = _segments(cols[:, row0[lo]:row0[hi]], lens[lo:hi], size, margin, sh)
        buf = torch.from_numpy(out[lo:hi]).view(-1).fill_(r * r)   # shares memory with out
        _min_dist2(seg, sid, buf, size, r)
        buf.sqrt_().mul_(2.0).add_(1.0 - 2.0 * r).clamp_(-1.0, 1.0)  # 1 - 2 clamp(r - dist, 0, 1)
    return out


def render_one(sketch: np.ndarray, size: int = 48, margin: float = 1.5, line_width: float = 1.0,
               shrink: float | None = None) -> np.ndarray:
    """Render one stroke-3 sketch (n, 3) to a float32 [size, size] image in [-1, 1]."""
    return render([sketch], size=size, margin=margin, line_width=line_width,
                  shrink=None if shrink is None else np.array([shrink]))[0]


def render_cairo(sketch: np.ndarray, size: int = 48, margin: float = 1.5, first_segment: bool = True) -> np.ndarray:
    """The reference method, for comparisons only: SVG (svgwrite) -> PNG (cairosvg) -> grey (PIL).

    Builds the SVG the way the reference code does (method §7 "renderer"): the same fitting as
    ``render`` (bounding box with the origin, margin, centred short side), one width-1 black path with
    butt caps on a white square, written with relative commands that start with a move, so the reference
    never draws the first segment. ``first_segment=True`` (default) feeds it the sketch with a (0, 0, 0)
    row in front, which makes it draw that segment too (comparable with ``render``);
    ``first_segment=False`` is the reference exactly. Needs the ``bench`` extras (svgwrite, cairosvg,
    pillow). Returns float32 [size, size] in [-1, 1] (grey / 127.5 - 1).
    """
    import io

    import cairosvg
    import svgwrite
    from PIL import Image

    rows = _stack([sketch])[0].T                              # [n, 3] float64
    if first_segment:
        rows = np.vstack([np.zeros((1, 3)), rows])
    pts = np.vstack([np.zeros((1, 2)), np.cumsum(rows[:, :2], axis=0)])   # the origin and every point
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ext = hi - lo
    span = max(float(ext.max()), 1e-5)                        # the reference's guard against a dot
    scale = (size - 2.0 * margin) / span
    start = (-lo + 0.5 * (span - ext)) * scale + margin       # the origin in pixels
    path = [f"M{float(start[0])!r},{float(start[1])!r}"]
    command, lift = "m", 1.0
    for dx, dy, nxt in rows.tolist():                         # relative moves / lines, as the reference
        command = "m" if lift == 1 else ("l" if command != "l" else "")
        path.append(f"{command}{dx * scale!r},{dy * scale!r}")
        lift = nxt
    dwg = svgwrite.Drawing(size=(size, size))
    dwg.add(dwg.rect(insert=(0, 0), size=(size, size), fill="white"))
    dwg.add(dwg.path(" ".join(path)).stroke("black", 1, linecap="butt").fill("none"))
    png = cairosvg.svg2png(bytestring=dwg.tostring().encode())
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    return grey / 127.5 - 1.0
