# %% [markdown]
# # 01 · Data: from pen strokes to tensors
#
# The model meets each sketch twice: the **encoder** sees it as a 48×48 picture and the **decoder** learns to
# write it as a sequence of pen movements. This notebook follows real Quick, Draw! sketches from the files
# on disk to the batch of tensors that a training step consumes:
#
# 1. the stroke-3 and stroke-5 formats,
# 2. the five embedded categories,
# 3. the file formats a user may have (`.npz`, simplified and raw ndjson),
# 4. cleaning and normalisation,
# 5. rendering to 48×48,
# 6. augmentation,
# 7. a batch.

# %%
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from iapix.notebook import setup, table

QUICK = setup()  # inline PNG figures, one torch thread, seed 0; True under `make test` (IAPIX_QUICK=1): fewer sketches
DATA = Path("../data")                          # the embedded data set (relative to notebooks/)
FIXTURES = Path("../tests/fixtures/quickdraw")  # small real raw + simplified ndjson files (format tests)
CATS = ["cat", "pig", "face", "radio", "alarm-clock"]


# %% [markdown]
# ## 1. Stroke-3: a sketch as pen offsets
#
# A Quick, Draw! sketch is a list of strokes; each stroke is a polyline drawn without lifting the pen.
# sketch-rnn stores it as **stroke-3**: one row per point,
#
# $$\text{row } t = (\Delta x_t,\ \Delta y_t,\ \ell_t),\qquad p_t = \sum_{u\le t} (\Delta x_u, \Delta y_u),
# \qquad p_{-1} = (0, 0),$$
#
# the offset from the previous point and a *lift* bit $\ell_t = 1$ when the pen leaves the paper after point $t$
# (the last point of each stroke). The drawing's first point is the origin $(0,0)$ with the pen down, so row 0
# is already a real line segment, and a row that follows a lift is a pen-up *move* to the start of the next stroke.
# Offsets rather than positions make the sequence translation invariant and keep the numbers small.
#
# Let us open the pig file and take one training sketch.

# %%
from iapix.data import read_npz

pigs = read_npz(DATA / "pig.npz")  # {"train", "valid", "test"} -> Sketches
s = pigs["train"].strokes[15]
print(type(s).__name__, s.dtype, s.shape, "->", int(s[:, 2].sum()), "strokes")
display(table(s[:8], ["dx", "dy", "lift"]))

# %% [markdown]
# Summing the offsets gives absolute points; cutting after every lift gives the strokes.
# `iapix.plot.strokes_to_lines` does exactly that. Below, each stroke gets its own colour (a dot marks where it
# starts, the star is the origin), and the right-hand panels replay the drawing stroke by stroke.
# Note that the $y$ axis points **down**, as on a screen.

# %%
from iapix.plot import plot_sketch, strokes_to_lines

lines = strokes_to_lines(s)  # absolute polylines, one per stroke
colors = plt.cm.tab10(np.arange(len(lines)) % 10)
pts = np.vstack(lines)
lo, hi = pts.min(axis=0) - 8, pts.max(axis=0) + 8


def draw(ax, upto, marks=False):
    for k, (line, c) in enumerate(zip(lines[:upto], colors)):
        ax.plot(line[:, 0], line[:, 1], color=c, lw=2 if marks else 1.5)
        if marks:  # a dot and a number where the stroke starts, a dashed pen-up move to it
            ax.plot(*line[0], "o", color=c, ms=4)
            ax.annotate(str(k + 1), line[0], xytext=(3, 3), textcoords="offset points", fontsize=8, color=c)
            if k:
                move = np.vstack([lines[k - 1][-1], line[0]])
                ax.plot(move[:, 0], move[:, 1], ":", color="0.6", lw=1)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(hi[1], lo[1])  # y points down
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


fig = plt.figure(figsize=(10, 3.8))
grid = fig.add_gridspec(2, 5)
ax = fig.add_subplot(grid[:, :2])
draw(ax, len(lines), marks=True)
ax.plot(0, 0, "k*", ms=10)
ax.set_title(f"{len(lines)} strokes, {len(s)} rows; dotted: pen-up moves", fontsize=9)
for j, upto in enumerate([1, 2, 3, 5, 7, len(lines)]):
    ax = fig.add_subplot(grid[j // 3, 2 + j % 3])
    draw(ax, upto)
    ax.set_title(f"after stroke {upto}", fontsize=8)
plt.show()

# %% [markdown]
# ## 2. Stroke-5: what the decoder reads and writes
#
# The decoder must also learn **when to stop**, and its pen output is a choice among three states. Stroke-5 turns
# the lift bit into a one-hot pen state and adds an *end* state:
#
# $$(\Delta x,\ \Delta y,\ p_1,\ p_2,\ p_3),\qquad p_1 = 1-\ell\ \text{(pen stays down)},
# \quad p_2=\ell\ \text{(pen lifts)},\quad p_3\ \text{(the sketch has ended)}.$$
#
# A batch pads every sketch to $N_{\max}+1$ rows. Row 0 is the **start token** $(0,0,1,0,0)$, the decoder's first
# input. Rows $1..n$ hold the sketch, and every row after the end is $(0,0,0,0,1)$. Under teacher forcing the
# decoder reads row $t-1$ and is scored on how well it predicts row $t$.

# %%
from iapix.data import from_stroke5, to_stroke5

s5, lengths = to_stroke5([s], max_len=len(s) + 3)  # room for three rows after the end
print("batch", s5.shape, s5.dtype, "  lengths", lengths)
n = len(s)
shown = [*range(6), None, *range(n - 1, n + 4)]
rows = [["…"] * 6 if r is None else [str(r), *s5[0, r]] for r in shown]
display(table(rows, ["row", "dx", "dy", "p_down", "p_up", "p_end"]))
print("stroke-5 -> stroke-3 gives the sketch back:", np.array_equal(from_stroke5(s5[0, 1:]), s))

# %% [markdown]
# ## 3. The five embedded categories
#
# The repository ships a small real data set: `cat` (2 000 drawings) and `pig`, `face`, `radio`, `alarm-clock`
# (2 500 each), split 80 / 10 / 10 (notebook 00 says where they come from). Sketches are short: a median of
# 55 to 85 points per category, pigs being the longest.

# %%
from iapix.data import SPLITS

data = {c: read_npz(DATA / f"{c}.npz") for c in CATS}
rows = []
for c in CATS:
    lens = np.array([len(x) for x in data[c]["train"].strokes])
    nstrokes = np.array([x[:, 2].sum() for x in data[c]["train"].strokes])
    rows.append([c, *(len(data[c][sp]) for sp in SPLITS), np.median(lens), lens.max(), np.median(nstrokes)])
display(table(rows, ["category", "train", "valid", "test", "median points", "max points", "median strokes"]))

# %%
from iapix.plot import sketch_grid

per_row = 8
sketches = [x for c in CATS for x in data[c]["train"].strokes[:per_row]]
titles = [c if j == 0 else "" for c in CATS for j in range(per_row)]
fig = sketch_grid(sketches, ncols=per_row, titles=titles, size=1.15)
plt.show()

# %% [markdown]
# ## 4. Reading the formats you may have
#
# **sketch-rnn `.npz`** (what `iapix download` fetches and what `data/` holds). There are three keys, `train`, `valid`
# and `test`, and each is a 1-D *object* array of `(n, 3)` int16 stroke-3 arrays. numpy can store arrays of different
# lengths only as **pickled** Python objects, so loading needs `allow_pickle=True`. Google wrote the files with Python
# 2, whose byte strings Python 3 can only read if told how to decode them: `encoding="latin1"` maps bytes one to one.
# The embedded files were written by Python 3 and need no decoding, but the same call reads both kinds. Unpickling can
# run code, which is why `allow_pickle` is off by default: load only files from a source you trust (Google's bucket, or
# this repository).

# %%
with np.load(DATA / "cat.npz", allow_pickle=True, encoding="latin1") as f:
    for k in f.files:
        print(f"{k:<5}: {f[k].dtype} array of {len(f[k])} sketches; the first is {f[k][0].dtype} {f[k][0].shape}")

# %% [markdown]
# `iapix.data.read_npz` does this, checks every sketch (shape, dtype, finite values, a 0/1 lift column), and
# returns a `Sketches` object: the good sketches, plus a count of the dropped ones and the reason for each drop.
# A broken sketch is reported, never silently skipped, and a broken *file* raises an error that names it.
#
# **Simplified ndjson** (Google's `full/simplified/<category>.ndjson`). There is one JSON object per line, and its
# `drawing` is a list of strokes `[[x0, x1, …], [y0, y1, …]]` in 0–255 coordinates, already simplified. Converting it to
# stroke-3 follows the convention above: the first point becomes the origin, so a first stroke of $m$ points gives
# $m-1$ rows, and every later stroke starts with a pen-up move. A tiny hand-made drawing shows it:

# %%
import tempfile

from iapix.data import read_ndjson

house = {"word": "house", "key_id": "1",
         "drawing": [[[10, 10, 90, 90, 10], [100, 40, 40, 100, 100]],  # walls: 5 points
                     [[0, 50, 100], [45, 0, 45]]]}                     # roof: 3 points
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "house.ndjson"
    path.write_text(json.dumps(house) + "\n")
    h = read_ndjson(path, kind="simplified").strokes[0]
print(f"5 + 3 points -> {len(h)} rows (the first point is the origin)")
display(table(h, ["dx", "dy", "lift"]))

# %% [markdown]
# **Raw ndjson** (Google's `full/raw/`). This is what the browser recorded: `[[xs], [ys], [ts]]` per stroke, in canvas
# pixels, with the time in milliseconds. Google simplified it in four steps, and `read_ndjson(kind="raw")` repeats them
# (`iapix.data.simplify_lines`):
#
# 1. align the drawing to the top-left corner (subtract the minimum $x$ and $y$);
# 2. scale uniformly so that the longer side is 255;
# 3. resample every stroke at 1-pixel spacing;
# 4. simplify every stroke with Ramer–Douglas–Peucker, $\varepsilon = 2$, and round to integers.
#
# The repository keeps a few real raw drawings for its format tests (`tests/fixtures/quickdraw/`). The next cell puts
# one raw cat beside our simplification and Google's simplified version of the *same* drawing (same `key_id`).

# %%
from iapix.data import simplify_lines

raw_file, simple_file = FIXTURES / "exupery" / "cat.ndjson", FIXTURES / "Sketch-dataset" / "cat.ndjson"
raws = [json.loads(line) for line in raw_file.read_text().splitlines() if line.strip()]
google = {r["key_id"]: r for r in map(json.loads, simple_file.read_text().splitlines())}

def to_lines(drawing):  # ndjson strokes -> list of (m, 2) point arrays (the times dropped)
    return [np.array(st[:2], dtype=float).T for st in drawing]

same = 0
for r in raws:
    ours, theirs = simplify_lines(to_lines(r["drawing"])), to_lines(google[r["key_id"]]["drawing"])
    same += len(ours) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(ours, theirs))
print(f"our simplification equals Google's for {same} of {len(raws)} raw cats")

r = raws[0]
raw_lines, t = to_lines(r["drawing"]), r["drawing"][-1][2][-1]
panels = [(raw_lines, f"raw: {t / 1000:.1f} s of drawing, canvas pixels"),
          (simplify_lines(raw_lines), "simplified here"),
          (to_lines(google[r["key_id"]]["drawing"]), "Google's simplified file")]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, (ls, title) in zip(axes, panels):
    for line in ls:
        ax.plot(line[:, 0], line[:, 1], ".-", ms=2.5, lw=1)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}\n{sum(map(len, ls))} points", fontsize=9)
plt.show()

# %% [markdown]
# ## 5. Cleaning and normalisation
#
# Three steps turn the raw offsets into what the networks see:
#
# 1. **Length cap $N_{\max}$.** Every batch is padded to $N_{\max}+1$ rows, so one very long sketch makes every batch
#    longer. Sketches longer than the cap are dropped, and $N_{\max}$ is then the longest sketch kept. We cap at 150
#    points, which keeps more than 99.9 % of the embedded sketches.
# 2. **Clip** offsets to $\pm 1000$. A few sketch-rnn sketches contain huge jumps, and one of them would dominate
#    the scale factor.
# 3. **Normalise**: divide $\Delta x$ and $\Delta y$ by a single scale factor
#    $\sigma = \operatorname{std}\{\Delta x_t, \Delta y_t\}$ taken over *all* offsets of the *training* set. The same
#    $\sigma$ is used for the validation and test sketches and for sampling, and the model keeps it with its weights.

# %%
from iapix.data import clean, normalise, scale_factor

MAX_LEN = 150
lens = np.concatenate([[len(x) for x in data[c]["train"].strokes] for c in CATS])
print(f"{(lens > MAX_LEN).sum()} of {len(lens)} training sketches are longer than {MAX_LEN} points")
far = {c: sum(int(np.abs(x[:, :2]).max() > 1000) for x in data[c]["train"].strokes) for c in CATS}
print("training sketches with an offset beyond ±1000:", far)

cleaned = {c: clean(data[c]["train"], max_len=MAX_LEN) for c in CATS}  # drop long ones, clip, float32
SCALE = scale_factor([x for c in CATS for x in cleaned[c].strokes])
before = np.concatenate([x[:, :2].ravel() for c in CATS for x in cleaned[c].strokes])
after = np.concatenate([x[:, :2].ravel() for c in CATS for x in normalise(cleaned[c].strokes, SCALE)])
print(f"scale factor sigma = {SCALE:.3f}; after dividing: mean {after.mean():+.3f}, std {after.std():.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
for ax, v, title in [(axes[0], before, "offsets after clipping (canvas units)"),
                     (axes[1], after, f"normalised: divided by sigma = {SCALE:.1f}")]:
    ax.hist(v, bins=200, color="tab:blue")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("dx and dy")
plt.show()

# %% [markdown]
# Most offsets are small, within a few $\sigma$ of zero. The long, thin tails are the pen-up moves between strokes
# and the long straight lines. After the division the offsets have standard deviation 1, the scale on which the
# decoder's Gaussian mixture works best.
#
# ## 6. Rendering to 48×48
#
# The encoder reads each sketch as a 48×48 grey image. The drawing's bounding box (the origin included, since it is
# a point of the drawing) of width $w$ and height $h$ is fitted into the square with a margin of 1.5 px, keeping the
# aspect ratio and centring the short side:
#
# $$\lambda = \frac{48 - 2\cdot 1.5}{\max(w, h)},\qquad
# \text{pixel}(p) = \lambda\,(p - p_{\min}) + 1.5 + \tfrac12\big((48 - 3) - \lambda\,(w, h)\big).$$
#
# Then a black anti-aliased line 1 px wide is drawn on white, with every segment inked except the pen-up moves, and
# the coverage $c\in[0,1]$ of each pixel becomes the value $1 - 2c$: white $=+1$, ink $=-1$.
# `iapix.raster.render` does this for a whole list of sketches at once, with array code and no Python loop over
# points, and `render_one` does it for one sketch.

# %%
from matplotlib.patches import Rectangle

from iapix.plot import plot_image
from iapix.raster import render, render_one

x = normalise([s], SCALE)[0]
pts = np.vstack([[0.0, 0.0], np.cumsum(x[:, :2], axis=0)])  # the origin and every point
p_min, ext = pts.min(axis=0), np.ptp(pts, axis=0)
lam = (48 - 2 * 1.5) / ext.max()
shift = 1.5 + 0.5 * ((48 - 3) - lam * ext) - lam * p_min
img = render_one(x)
print(f"w x h = {ext[0]:.2f} x {ext[1]:.2f} (in sigma units), lambda = {lam:.3f} px per unit")
box = np.r_[shift + lam * p_min, shift + lam * (p_min + ext)]  # x0, y0, x1, y1 in pixels
rows_, cols_ = np.nonzero(img < 0)  # pixels that are more ink than paper
print(f"image {img.dtype} {img.shape}, values in [{img.min():.0f}, {img.max():.0f}], {(img < 0).mean():.1%} ink")
print(f"fitted box: x {box[0]:.1f} to {box[2]:.1f}, y {box[1]:.1f} to {box[3]:.1f} px; "
      f"ink in columns {cols_.min()} to {cols_.max()}, rows {rows_.min()} to {rows_.max()}")

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
plot_sketch(axes[0], x, title="the sketch and its bounding box")
axes[0].add_patch(Rectangle(p_min, *ext, fill=False, ec="tab:blue", ls="--"))
axes[0].plot(0, 0, "k*", ms=8)
for ax in axes[1:]:
    ax.imshow(img, cmap="gray", vmin=-1, vmax=1, extent=(0, 48, 48, 0), interpolation="nearest")
    for line in strokes_to_lines(x):
        q = lam * line + shift
        ax.plot(q[:, 0], q[:, 1], color="tab:red", lw=0.6)
axes[1].add_patch(Rectangle((1.5, 1.5), 45, 45, fill=False, ec="tab:green", ls="--", lw=1))
axes[1].add_patch(Rectangle(lam * p_min + shift, *(lam * ext), fill=False, ec="tab:blue", ls="--", lw=1))
axes[1].set_title("fitted: margin (green), box (blue)", fontsize=9)
axes[2].set_xlim(4, 16)
axes[2].set_ylim(42, 30)
axes[2].set_xticks(range(4, 17, 2))
axes[2].set_yticks(range(30, 43, 2))
axes[2].grid(lw=0.3)
axes[2].set_title("zoom: 1 px anti-aliased line", fontsize=9)
plt.show()

# %% [markdown]
# One sketch per category beside its image, as the encoder will see them:

# %%
fig, axes = plt.subplots(2, 5, figsize=(10, 4.2))
for k, c in enumerate(CATS):
    x = cleaned[c].strokes[6]
    plot_sketch(axes[0, k], x, title=c)
    plot_image(axes[1, k], render_one(x), title="48 x 48")
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# (not checked by nbval: a timing)
batch = [x for c in CATS for x in cleaned[c].strokes][: 2000 if QUICK else None]
t0 = time.perf_counter()
images = render(batch)
dt = time.perf_counter() - t0
print(f"rendered {len(batch)} sketches in {dt:.2f} s: {1e6 * dt / len(batch):.0f} µs per sketch, on 1 thread")

# %% [markdown]
# ### Everything at once: `prepare`
#
# `iapix.data.prepare` chains the steps so far for a list of categories: it reads each file, cleans it, computes
# $\sigma$ from the training split (or takes the one you give), normalises, and renders every sketch once.
# It returns a `Prepared` object whose `report` says how many sketches were dropped and why.
# The quick setting keeps only the first 200 sketches of each split. We pass the $\sigma$ computed above from the whole
# training set, so a quick run normalises exactly like a full one.

# %%
# NBVAL_IGNORE_OUTPUT
# (not checked by nbval: the report includes timings)
from iapix.data import prepare, summary_table

LIMIT = 200 if QUICK else None  # sketches per split and category
p = prepare(CATS, DATA, max_len=MAX_LEN, scale=SCALE, limit=LIMIT)
print(summary_table(p))

# %%
print(f"categories {p.categories}; N_max = {p.max_len}; scale = {p.scale:.3f}")
print(f"images: {p.images['train'].dtype}, one {p.images['train'].shape[1:]} per sketch, "
      f"all in [-1, 1]: {all(abs(im).max() <= 1 for im in p.images.values())}")

# %% [markdown]
# ## 7. Augmentation (training only)
#
# With a few thousand sketches per category the networks would soon memorise the training set, so every time a
# training sketch is drawn from the data set it is perturbed a little:
#
# * **stretch**: $(\Delta x, \Delta y) \to (a_x\,\Delta x,\ a_y\,\Delta y)$ with $a_x, a_y \sim U[0.9, 1.1]$ drawn
#   independently, so the sketch becomes a bit wider or taller;
# * **point dropping**: each interior point of a stroke (never one of its first three points, never its last) is
#   removed with probability 0.1, and its offset is added to the previous kept point. Every later point stays where
#   it was, and the line just loses a corner;
# * **image shrink**: the encoder's image is rendered with the drawing pulled towards the centre $c$,
#   $p \to c + r\,(p - c)$ with $r \sim U[0.98, 1]$. The reference renders it from the original sketch, the same
#   picture every epoch. iapix's training renders it from the stretched, thinned strokes the decoder must draw
#   (`Config.augment_image`, on by default; `dataset(..., augment_image=True)`): on 3 600 training sketches the fixed
#   picture let the model learn each sketch by heart within ~2 000 steps (docs/results.md, "How these were found").
#
# `show_augmentation` applies all three with a strength knob (1 is the paper's setting, 5 exaggerates so that you can
# see it). It is called once here with fixed arguments, so the printed numbers are checked, and the widget below lets
# you play with it.

# %%
from iapix.data import drop_points, random_scale


def show_augmentation(category="pig", index=3, strength=1.0, seed=0):
    # strength 1 = the paper: stretch by up to 10 %, drop 10 % of the points, shrink to [0.98, 1]
    k = CATS.index(category)
    i = np.flatnonzero(p.labels["train"] == k)[index]
    x = p.strokes["train"][i]
    rng = np.random.default_rng(seed)
    stretched = random_scale(x, rng, amount=0.1 * strength)
    y = drop_points(stretched, rng, prob=min(1.0, 0.1 * strength))
    ratio = rng.uniform(1 - 0.02 * strength, 1.0)
    a = np.abs(stretched[:, :2]).sum(axis=0) / np.abs(x[:, :2]).sum(axis=0)
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
    plot_sketch(axes[0], x, title=f"{category} #{index}: {len(x)} points")
    plot_sketch(axes[1], y, color="tab:red", title=f"stretched + dropped: {len(y)}")
    plot_image(axes[2], p.images["train"][i], title="image")
    plot_image(axes[3], render_one(x, shrink=ratio), title=f"image shrunk x{ratio:.3f}")
    plt.show()
    print(f"stretch x {a[0]:.3f}, y {a[1]:.3f}; points {len(x)} -> {len(y)}; image shrink {ratio:.4f}; "
          f"dropping moved the end point: {not np.allclose(y[:, :2].sum(0), stretched[:, :2].sum(0), atol=1e-4)}")


show_augmentation("pig", index=3, strength=3.0, seed=0)

# %%
# NBVAL_IGNORE_OUTPUT
# (not checked by nbval: a live widget; the direct call above is checked)
from ipywidgets import interact

interact(show_augmentation, category=CATS, index=(0, 49), strength=(0.0, 5.0, 0.5), seed=(0, 9));

# %% [markdown]
# ## 8. A batch
#
# `Prepared.dataset(split, augment=...)` wraps a split in a PyTorch `Dataset`. Its `collate` method builds the batch
# that a training step consumes: stroke-5 sequences with their start and end tokens, the true lengths, the images
# (re-rendered with a random shrink when augmenting) and the category labels.

# %%
from torch.utils.data import DataLoader

ds = p.dataset("train", augment=True, seed=0)
loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=ds.collate,
                    generator=torch.Generator().manual_seed(0))
strokes5, lengths, images, labels = next(iter(loader))
for name, t in [("strokes5", strokes5), ("lengths", lengths), ("images", images), ("labels", labels)]:
    print(f"{name:<9} {str(t.dtype):<14} {list(t.shape)}")

B, T, _ = strokes5.shape
after_end = torch.arange(T)[None, :] > lengths[:, None]
print("row 0 is the start token (0,0,1,0,0):", bool((strokes5[:, 0] == torch.tensor([0., 0, 1, 0, 0])).all()))
print("rows after the end are (0,0,0,0,1):  ", bool((strokes5[after_end] == torch.tensor([0., 0, 0, 0, 1])).all()))
print("exactly one pen state per row:       ", bool((strokes5[:, :, 2:].sum(-1) == 1).all()))
print("images in [-1, 1]:                   ", bool((images.abs() <= 1).all()))

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for b in range(8):
    plot_image(axes[0, b], images[b, 0], title=CATS[labels[b]])
    plot_sketch(axes[1, b], from_stroke5(strokes5[b, 1:].numpy()), color="tab:red", lw=1)
fig.suptitle("a training batch: images (top) and their augmented strokes, read back from stroke-5", fontsize=9)
plt.show()

# %% [markdown]
# ## What we used
#
# ```python
# from iapix.data import read_npz, read_ndjson, simplify_lines          # readers
# from iapix.data import to_stroke5, from_stroke5                       # formats
# from iapix.data import clean, scale_factor, normalise                 # cleaning
# from iapix.data import random_scale, drop_points                      # augmentation
# from iapix.data import prepare, summary_table                         # all of it, -> Prepared
# from iapix.raster import render, render_one                           # 48 x 48 images
# from iapix.plot import plot_sketch, plot_image, sketch_grid, strokes_to_lines
# ```
#
# From the command line, `iapix prepare --categories cat pig --preview out/preview.png` does what `prepare` does and
# prints the same report. Next: **02 CNN encoder**, the Yang path from these images to a latent code.
