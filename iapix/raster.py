"""Render stroke-3 sketches to small anti-aliased grey images, vectorised over a whole split.

The CNN encoder of IA-pix2seq reads every sketch as a 48 x 48 grey image (SPEC §1 "Image input"):
the drawing's bounding box is fitted into the square with a 1.5 px margin, keeping the aspect ratio
and centring the short side; a black anti-aliased line 1 px wide is drawn on white and the values are
mapped to [-1, 1] (white = +1, ink = -1). ``render`` does this for a list of sketches at once,
``render_one`` for a single one.

Algorithm (for one chunk of ``batch_size`` sketches; apart from collecting the input arrays, no
Python loop over sketches or points):

1. Geometry (numpy, float64). The rows of all sketches are concatenated (one array per column);
   absolute points are the per-sketch cumulative sums of (dx, dy). The origin (0, 0) is the
   drawing's first point, pen down, so row k is the segment from point k-1 (the origin for k = 0) to
   point k. A segment is inked unless the *previous* row has lift = 1 (pen up: that segment is a
   move), so a one-point stroke after a pen-up leaves no ink (as in the reference). The bounding box
   is taken over all points including the origin; ``scale = (size - 2 margin) / max(width, height)``
   and the short side is centred. A drawing of zero extent (a dot) gets scale 1 and lands in the centre.
   Coordinates are screen coordinates as in SVG: x to the right, y downwards (no flip), and pixel
   (row i, column j) covers [j, j+1] x [i, i+1], its centre at (j + 0.5, i + 0.5).
   The optional per-sketch ``shrink`` ratio r scales the fitted drawing towards the image centre:
   ``p -> c + r (p - c)``, c = (size/2, size/2) (the training-image augmentation of SPEC §1).
2. Coverage (torch, float32). The coverage of a pixel is ``clamp(r - dist, 0, 1)`` with
   ``r = line_width/2 + 0.5`` and ``dist`` the distance from the pixel centre to the inked polyline
   (the minimum over its segments); pixel value = ``1 - 2 coverage``. Only pixels closer than r to a
   segment need visiting: each inked segment is cut into pieces no longer than 2 px, and every pixel
   a piece can reach has its centre within ``r + 1`` of the piece midpoint along each axis, so a
   small window around the midpoint (4 x 4 pixels for line width 1) holds them all. For every piece
   and window pixel the squared distance to the piece's *whole parent segment* is computed (exact)
   and ``scatter_reduce(..., "amin")`` keeps the smallest into the flat image buffer (initialised to
   r^2, i.e. no ink); the square root and the ramp are then applied once per pixel. The cost is
   proportional to the ink length (about 2 400 distance evaluations for a QuickDraw pig), not to
   segments x pixels: about 30 us per sketch on one CPU thread, i.e. 70 000 sketches in a few seconds.
   Threads: torch's intra-op threads are used as set by the caller; on a busy machine
   ``torch.set_num_threads(1)`` can be faster (see ``benchmarks/raster.py``).

Differences from the reference renderer (svgwrite -> cairosvg -> PIL, SPEC §7 "renderer"), all deliberate:

* the first segment (origin -> first point) is inked: the origin is a real point of the drawing. The
  reference opens its path with a relative move, so it never draws that segment; to compare the two,
  feed the reference the sketch with a (0, 0, 0) row in front (``benchmarks/raster.py`` does).
* anti-aliasing is distance based (coverage falls linearly from 1 to 0 over the 1 px band centred on
  the pen's edge) instead of cairo's (sampled) area coverage. Along an axis-aligned line of width >= 1
  the two are the same; slanted lines, segment ends and sharp corners differ slightly: our pen is a
  disc, so ends and joins are round (a line reaches about half a pixel past its end point and a
  zero-length inked segment is a dot), cairo's are butt caps and miter joins. On real pigs the mean
  absolute pixel difference is about 0.014 (``tests/test_raster.py``, ``benchmarks/raster.py``).
* the rendering is symmetric: flipping a sketch flips its image (no dependence on drawing direction or
  on where cairo samples a pixel).
* the shrink augmentation is the intended centred shrink by a ratio (SPEC §7 "image shrink"), not
  the reference's ``int(48 * ratio)`` resize to the top-left corner.
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
    shrink: optional [n] ratios in (0, 1] (training augmentation: SPEC §1 uses [0.98, 1]); each
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

    Builds the SVG the way the reference code does (SPEC §7 "renderer"): the same fitting as
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
