# %% [markdown]
# # 08 · Draw your own sketch
#
# Everything so far started from the test set. Here the input is a drawing of yours: a pad in the notebook sends its
# strokes to Python, and the trained model says what it makes of them:
#
# 1. how a drawing becomes a code: **the same simplification as Google's raw ndjson**, then the 48x48 image and the
#    encoder;
# 2. the posterior over the Gaussians, and variations drawn from the winning one;
# 3. **completion** (as in sketch-rnn): the decoder reads your strokes and draws on;
# 4. the live pad, `DrawExplorer`, and the plain functions behind it.
#
# Under `make test` there is no one to draw, so the cells below feed a fixed real test sketch through the very same
# functions, as a list of canvas polylines (the pad's format).

# %%
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from iapix.checkpoint import load_checkpoint
from iapix.data import lines_to_stroke3, prepare, simplify_lines
from iapix.evaluate import load_or_train_classifier, predict
from iapix.notebook import setup
from iapix.plot import plot_sketch, strokes_to_lines
from iapix.raster import render
from iapix.sample import complete, drawing_to_stroke3, encode_drawing
from iapix.widgets import DrawExplorer, component_majority, drawing_panel, split_codes, suptitle

QUICK = setup()  # inline PNG figures, one torch thread, seed 0; True under `make test`: a subset of the test sketches
DATA, CHECKPOINTS = Path("../data"), Path("../checkpoints")  # relative to notebooks/
cks = {name: load_checkpoint(CHECKPOINTS / f"catpig-small-{name}.pt") for name in ("ia", "rpcl")}
models = {name: ck.model for name, ck in cks.items()}  # eval mode
ck = cks["ia"]
data = prepare(["cat", "pig"], DATA, scale=ck.scale, max_len=ck.max_len, limit=60 if QUICK else None)
classifier, _ = load_or_train_classifier(CHECKPOINTS / "classifier-catpig.pt", data, progress=False)
print(f"{len(data.labels['test'])} test sketches; scale {ck.scale:.2f}, N_max {ck.max_len}")

# %% [markdown]
# ## 1. From strokes to a code
#
# The pad sends a list of strokes, each a list of `[x, y]` canvas pixels (a 320 px square, y downwards). Google's raw
# QuickDraw files hold exactly that (plus times), and the simplified data the model was trained on was made from them
# by: align to the top-left corner, scale the longest side to 255, resample every stroke at 1 px, simplify with
# Ramer-Douglas-Peucker ($\varepsilon = 2$), round to integers. `drawing_to_stroke3` runs **the same code** as
# `read_ndjson(..., kind="raw")`: `simplify_lines`, then `lines_to_stroke3` (offsets from the first point, a pen lift
# after each stroke). Then, as for every training sketch: divide the offsets by the checkpoint's scale factor,
# render the 48x48 image, encode.
#
# Our "drawing" is a real test pig, enlarged and moved the way it could sit on the pad:

# %%
i = int(np.flatnonzero(data.labels["test"] == 1)[3])  # a test pig
px = np.array([ck.scale, ck.scale, 1.0], np.float32)
original = data.strokes["test"][i] * px  # stroke-3 in the data's units (0-255)
strokes = [(l * 1.1 + [25.0, 40.0]).round(1).tolist() for l in strokes_to_lines(original)]  # what the pad sends
print(f"test sketch #{i}: {len(strokes)} strokes, {sum(len(s) for s in strokes)} canvas points")

s3 = drawing_to_stroke3([np.array(s) for s in strokes])
same = lines_to_stroke3(simplify_lines([np.array(s) for s in strokes]))
print("same path as raw ndjson:", np.array_equal(s3, same))
print(f"after simplification: {len(s3)} points, {int(s3[:, 2].sum())} strokes "
      f"(the stored test sketch: {len(original)} points)")
ends = np.cumsum(s3[:, :2], 0)
print("extent:", (ends.max(0) - np.minimum(ends.min(0), 0)).round().tolist())

# %% [markdown]
# Resampling at 1 px and simplifying again gives nearly the same points as the stored sketch, which went through
# the same steps once already. Bad input gets a clear message, not a traceback further down:

# %%
for bad in ([], [np.array([[12.0, 30.0]])], [np.array([[5.0, 5.0]] * 3)]):
    try:
        drawing_to_stroke3(bad)
    except ValueError as e:
        print("ValueError:", e)

# %% [markdown]
# `encode_drawing` does the rest and returns the numbers: the stroke-3 (pixel units), the 48x48 image, the code's
# mean and variance, the **posterior** $g_k = \alpha_k \mathcal N(\mu \mid m_k, v_k) / \sum_j \ldots$ (clipped at
# the floor, as in training) and the **label** (for IA the arg-max of the BYY weights, otherwise of $g$). A drawing
# longer than $N_\max$ after simplification is cut to its first $N_\max$ points, and `note` says so.
#
# Each Gaussian is named by the majority category of the test codes labelled with it:

# %%
codes, majority, results = {}, {}, {}
for name, model in models.items():
    codes[name] = split_codes(model, data)
    majority[name] = component_majority(codes[name][2], data.labels["test"], data.categories, model.latent.K)
    results[name] = r = encode_drawing(cks[name], strokes)
    print(f"{name:4s} alpha     ", [f"{a:.3g}" for a in model.latent.alpha.tolist()])
    print(f"{name:4s} posterior ", [f"{g:.4f}" for g in r["posterior"].tolist()], f"-> label {r['label']}",
          f"({majority[name][r['label']]} of the test codes there)", r["note"] or "")
print("classifier on the 48x48 input:",
      data.categories[int(predict(classifier, results["ia"]["image"][None, None])[0])])

# %% [markdown]
# Read the two lines together. Each mixture puts the drawing in one of its Gaussians (the label), and the name in
# brackets says how that Gaussian's test codes split between the categories. The Gaussians only *lean* towards a
# category (NMI well below 1, notebooks 06 and 07), so that share is often far from 100 %: the label says where the
# drawing sits among the test sketches more than what it is. The classifier on the 48x48 image is the better guess of
# the category; the nearest test sketches (next figure) show what the code keeps.
#
# ## 2. Variations from the winning Gaussian, and completion
#
# `drawing_panel` puts it all in one figure: the drawing and its image, the posterior (each bar named by its
# majority category; dead Gaussians grey, the label orange), the nearest test sketches by code distance (the metric
# of Ret, notebook 07), reconstructions from $\mu$, variations $z \sim \mathcal N(m_k, v_k)$ from the label's
# Gaussian, and completions of the whole drawing.

# %%
fig, info = drawing_panel(cks["ia"], data, [np.array(s) for s in strokes], n=4, seed=0,
                          codes=codes["ia"], classifier=classifier)
print(suptitle(fig))
print("nearest test sketches:", [f"{data.categories[data.labels['test'][j]]} #{j}" for j in info["nearest"]])
# variations are sampled: their lengths depend on the CPU's float kernels (the figure shows them), their number does not
assert all(0 < len(v) <= ck.max_len for v in info["variations"])
print(f"variations: {len(info['variations'])} sampled sketches of at most N_max = {ck.max_len} points")
fig

# %% [markdown]
# **Completion** (sketch-rnn's trick, on our model): $z$ is the encoder's $\mu$ of what you drew so far; the decoder
# reads the start token and your points teacher-forced, which leaves it in the state it would have had after drawing
# them itself; from there it samples on, $n$ continuations in one batch (the state repeated $n$ times), each stopping
# at its own $p_\text{end}$ or when the sketch reaches $N_\max$ points. Your points come back unchanged at the start.
#
# Here we keep the first half of the pig's strokes and ask both models for four continuations:

# %%
lifts = np.flatnonzero(s3[:, 2])
half = s3[:lifts[max(1, len(lifts) // 2) - 1] + 1]
print(f"the half: {len(half)} of {len(s3)} points, {int(half[:, 2].sum())} of {len(lifts)} strokes")
fig = Figure(figsize=(9, 4.8), layout="constrained")
rows = fig.subfigures(2, 1)
for row, name in zip(rows, ("ia", "rpcl")):
    done = complete(cks[name], half, n=4, temperature=0.24, seed=0)
    assert all(np.array_equal(d[:len(half)], half) for d in done)
    pred = predict(classifier, render(done))
    # sampled: what was added and what the classifier says go to the titles; checked: each begins with the half
    print(f"{name:4s} {len(done)} completions, each the half and then at most N_max - {len(half)} new points:",
          all(len(d) <= ck.max_len for d in done))
    axes = row.subplots(1, 5)
    plot_sketch(axes[0], half, color="tab:blue")
    axes[0].set_title("the half", fontsize=10)
    for j, (ax, d) in enumerate(zip(axes[1:], done)):
        plot_sketch(ax, d)
        ax.set_title(f"{name} {j + 1}: {data.categories[pred[j]]}\n+{len(d) - len(half)} points", fontsize=10)
        plot_sketch(ax, half, color="tab:blue")
fig

# %% [markdown]
# What the picture shows is the state of these small checkpoints (about ten thousand steps on 3 600 sketches): the
# continuations add something where the half lacks it, a head, a face, a leg, but roughly, and not always attached
# to what is there. Not every continuation stops by itself: like the generations from $\mu$ (notebook 07 counts how
# many end), some run on to $N_\max$, often in a dense scribble. `benchmarks/completion.py` measures completion over
# the whole test split (450 cats and pigs, first half of the strokes, one completion each, $\tau = 0.24$, seed 0).
# One run on one CPU thread (2026-12-03, an AVX-512 CPU) gave:
#
# | checkpoint | classifier accuracy: halves alone | completions | full originals | completions reaching $N_\max$ |
# |---|---:|---:|---:|---:|
# | IA   | 0.849 | 0.824 | 0.900 | 1 % |
# | RPCL | 0.849 | 0.833 | 0.900 | 2 % |
#
# So completion does *not* keep the category better than the half alone: the added strokes cost the classifier about two
# points (1.6–2.5). The same script times the pad's work: encoding a drawing (simplification, image, encoder, posterior,
# nearest test codes) took a median of 6 ms, eight batched completions 21–27 ms (a batch runs until its last
# continuation ends; on a slower AVX2 machine with other work running, 19–26 ms and 130–160 ms): fast enough to update
# on every stroke.
#
# ## 3. The live pad
#
# `DrawExplorer(ck, data, classifier).widget` shows a pad (an [anywidget](https://anywidget.dev) `<canvas>`,
# mouse, pen or touch, with **Undo** and **Clear**) next to an output area. Each finished stroke updates the synced
# list `pad.strokes`, which calls `explorer.update(strokes)`: the same `drawing_panel` as above. An empty pad, a
# single dot or a VAE checkpoint (one Gaussian, nothing to choose from) give a one-line message instead. Draw a cat
# or a pig below (in a live notebook; a static view shows nothing):

# %%
# NBVAL_IGNORE_OUTPUT
# (a live widget: its view id changes on every run)
explorer = DrawExplorer(cks["ia"], data, classifier=classifier, n=4)
explorer.widget

# %% [markdown]
# Python can write the pad too (the canvas redraws), and `update` runs without a browser, which is how the tests
# drive it:

# %%
explorer.pad.strokes = strokes  # as if drawn: the explorer updates
print("shown:", suptitle(explorer.figure))
explorer.pad.strokes = strokes[:-1]  # Undo
print("after undo:", len(explorer.info["stroke3"]), "points, label", explorer.info["label"])
for bad in ([], [[[40.0, 40.0]]]):
    explorer.update(bad)
    print("message:", explorer.output.outputs[0]["text"].strip())

# %% [markdown]
# ## What we used
#
# ```python
# from iapix.sample import drawing_to_stroke3, encode_drawing, complete   # plain functions
# from iapix.widgets import SketchPad, DrawExplorer, drawing_panel        # the pad, the explorer, its figure
# ```
