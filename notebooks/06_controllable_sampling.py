# %% [markdown]
# # 06 · Controllable sampling: one Gaussian at a time
#
# The point of a Gaussian-mixture latent space is control. If every Gaussian holds one kind of sketch (a category,
# or a style within it), then drawing a code $z \sim \mathcal N(m_k, \operatorname{diag} v_k)$ from Gaussian $k$ and
# decoding it should give a sketch of that kind. Method §5 lists the ways to generate:
#
# * **conditional**: encode a sketch image, decode from its mean code $\mu$ (a reconstruction);
# * **controlled**: draw $z$ from a chosen Gaussian $k$, or walk on a line between two codes (interpolation);
# * **temperature** $\tau$ (paper 0.24): mixture and pen logits divided by $\tau$, the Gaussians' standard deviations
#   multiplied by $\tau$; *greedy* takes the arg-max and the means. Generation stops at $p_\text{end}$ or at $N_\max$.
#
# Plan:
#
# 1. the two shipped mixtures, IA and RPCL, side by side,
# 2. **why the IA mixture keeps its Gaussians**: EM first, BYY later,
# 3. per-Gaussian grids,
# 4. interpolation between two Gaussians and between two test sketches,
# 5. the temperature,
# 6. conditional reconstructions,
# 7. the interactive explorer (`iapix.widgets`), and the plain functions behind it,
# 8. SVG export.
#
# We use the two checkpoints shipped with the repository: the `small` model (code of 32 numbers, HyperLSTM of 256
# units) trained on the embedded cats and pigs (3 600 training sketches) with the IA objective and with the RPCL
# baseline, same data, seed and settings (notebook 05; the next cell prints the step each was saved at, about
# ten thousand). That is a small budget next to the paper's (a decoder of 2 048 units, 70 000 sketches per category, a
# GPU for days). It is enough for cat heads with ears, eyes and whiskers and for pigs, some with a snout, but not
# for every sketch to end cleanly: about one generation in twenty never reaches $p_\text{end}$ and finishes in a
# dense scribble at $N_\max$. Read this
# notebook for *how* controlled generation works and how far the mixtures follow the categories, not for polished
# pictures.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import SVG, display
from matplotlib.figure import Figure

from iapix.notebook import read_log, setup, table

QUICK = setup()  # inline PNG figures, one torch thread, seed 0; True under `make test`: a subset of the test sketches
DATA, CHECKPOINTS = Path("../data"), Path("../checkpoints")  # relative to notebooks/
CATS = ["cat", "pig"]
NAMES = {"ia": "IA-pix2seq (BYY harmony)", "rpcl": "RPCL-pix2seq (KL + EM/RPCL)"}

from sklearn.metrics import normalized_mutual_info_score as nmi

from iapix.checkpoint import load_checkpoint
from iapix.curve import read_curve
from iapix.data import prepare
from iapix.latent import GMMLatent
from iapix.model import IAPix
from iapix.plot import plot_sketch, strokes_to_lines
from iapix.sample import encode, from_component, interpolate, to_svg
from iapix.widgets import (
    Explorer,
    code_strip,
    component_panel,
    interpolation_strip,
    reconstruction_panel,
    split_codes,
    suptitle,
    temperature_strip,
)

# %% [markdown]
# The test sketches give each Gaussian its *members* (the test codes whose component label, $\arg\max_k b_{ik}$ for
# IA and $\arg\max_k g_{ik}$ for RPCL, is $k$). They are prepared with the checkpoints' scale factor and $N_\max$. The
# quick setting (`IAPIX_QUICK=1`, used by `make test`) keeps the first 50 test sketches of each category.

# %%
cks = {name: load_checkpoint(CHECKPOINTS / f"catpig-small-{name}.pt") for name in ("ia", "rpcl")}
models = {name: ck.model for name, ck in cks.items()}  # eval mode
ck = cks["ia"]
assert cks["rpcl"].scale == ck.scale and cks["rpcl"].max_len == ck.max_len, "same data for both"
SCALE, NMAX = ck.scale, ck.max_len
data = prepare(CATS, DATA, limit=50 if QUICK else None, scale=SCALE, max_len=NMAX)
codes = {name: split_codes(m, data) for name, m in models.items()}  # (mu, s2, component labels)
test_labels = data.labels["test"]
print(f"test sketches: {len(test_labels)} ({', '.join(f'{c} {(test_labels == i).sum()}' for i, c in enumerate(CATS))})"
      + (" -- the first 50 per category (IAPIX_QUICK=1)" if QUICK else ""))
for name, m in models.items():
    print(f"{name}: {m.cfg.objective}, K = {m.latent.K}, step {cks[name].info['step']} "
          f"(epoch {cks[name].info['epoch']}), "
          f"scale {SCALE:.3g}, N_max {NMAX}")

# %% [markdown]
# ## 1. The two mixtures
#
# Each model has $K = 4$ Gaussians (two categories $\times$ `num_sub` 2, method §3). For each Gaussian: its weight
# $\alpha_k$, its mean variance $\bar v_k$ (over the 32 dimensions), and how many cat and pig test codes carry its
# label.

# %%
rows = []
for k in range(4):
    row = [k]
    for name, m in models.items():
        lab = codes[name][2].numpy()
        n_cat, n_pig = ((lab == k) & (test_labels == 0)).sum(), ((lab == k) & (test_labels == 1)).sum()
        row += [f"{float(m.latent.alpha[k]):.3g}", f"{float(m.latent.variances[k].mean()):.3g}", f"{n_cat} / {n_pig}"]
    rows.append(row)
display(table(rows, ["k", "IA alpha", "IA mean v", "IA codes cat / pig",
                     "RPCL alpha", "RPCL mean v", "RPCL codes cat / pig"]))
for name, m in models.items():
    lab = codes[name][2].numpy()
    share = max(np.bincount(lab, minlength=4)) / len(lab)
    print(f"{name.upper()}: alive (alpha > 1e-3) {int(m.latent.components_alive().sum())} of {m.latent.K}; "
          f"the most used Gaussian labels {share:.0%} of these test codes; "
          f"NMI(component label, category) {nmi(test_labels, lab):.2f}")


# %% [markdown]
# How to read the table: a Gaussian that *controls* the category holds the codes of one category only (a column
# like "24 / 0"); a Gaussian that does not holds both. NMI, normalised mutual information between the component
# labels and the categories, sums this up: 1 when the Gaussians are the categories, 0 when they say nothing about
# them. Notebook 07 measures it on all 450 test sketches, with the overlap between the Gaussians.
#
# * **IA** keeps all four Gaussians, with unequal weights. Some lean clearly towards one category (the
#   cat / pig columns), others hold both, so the NMI printed above is well below 1: the mixture has *begun* to follow
#   the categories, it does not yet separate them.
# * **RPCL**: read its columns the same way. Its EM updates, with their tiny rival penalty, keep its Gaussians alive
#   too; whether they split cats from pigs is what its NMI above says, and it can be compared with IA's directly.
#
# The IA line is worth a second look, because an earlier IA model of this course, trained with BYY harmony from
# the very first step as the reference code does, kept **one** Gaussian out of four. Section 2 shows why that
# happened, and what keeps the mixture alive now.
#
# ## 2. Why the IA mixture keeps its Gaussians: EM first, BYY later
#
# The training logs (shipped next to the checkpoints) count the Gaussians alive at every step. The shaded part is IA's
# image warm-up (its first `image_epochs` epochs, method §4), during which iapix updates the mixture with EM weights
# $b_{ik} = g_{ik}$; BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ start when it ends (method §7 "GMM during the image
# warm-up"). The dotted line is the warm-up weight $w_t = 1 - 0.999 \cdot 0.9999^t$ of the latent losses (method §4), on
# the right-hand axis.

# %%
logs = {name: read_log(CHECKPOINTS / f"catpig-small-{name}") for name in ("ia", "rpcl")}  # log.csv: a row per step
cfg = models["ia"].cfg
ia_it = np.array([int(r["iteration"]) for r in logs["ia"]])
em = np.array([cfg.gmm_warmup == "em" and int(r["epoch"]) < cfg.image_epochs for r in logs["ia"]])  # EM weights b = g
fig, ax = plt.subplots(figsize=(7.5, 3.2), layout="constrained")
if em.any():
    ax.axvspan(0, ia_it[em].max(), color="0.9", label="IA: image warm-up, EM weights")
for name, log in logs.items():  # x: iterations (a rolled-back epoch rewinds the step counter, not these)
    ax.step([int(r["iteration"]) for r in log], [int(r["alive"]) for r in log], where="post",
            ls="-" if name == "ia" else "--", lw=2.5 if name == "ia" else 1.5, label=f"{name}: Gaussians alive")
ax.set_xlabel("training iteration")
ax.set_ylabel("alive (alpha > 1e-3)")
ax.set_ylim(0, 4.5)
ax2 = ax.twinx()
ax2.plot(ia_it, [float(r["kl_weight"]) for r in logs["ia"]], "k:", lw=1)
ax2.set_ylabel("IA's w_t (dotted)")
ax2.set_ylim(0, 1)
ax.legend(fontsize=10, loc="lower right")
ax.set_title(f"Gaussians alive at each of the {len(ia_it)} IA iterations", fontsize=11)
plt.show()
for name, log in logs.items():
    alive = np.array([int(r["alive"]) for r in log])
    print(f"{name}: {len(log)} iterations logged; Gaussians alive: {alive.min()} at the fewest, "
          f"{alive[-1]} at the last")
print(f"IA: {em.sum()} iterations with EM weights (image warm-up), {(~em).sum()} with BYY weights; w_t at the last: "
      f"{float(logs['ia'][-1]['kl_weight']):.2f}")
if not (~em).any():
    print("-> the shipped IA checkpoint was saved before the image warm-up ended: its mixture was fitted by EM "
          "alone; BYY harmony learning has not acted on it yet")
else:
    print(f"-> the shipped IA checkpoint ran {(~em).sum()} BYY harmony updates after its warm-up, and kept "
          f"{logs['ia'][-1]['alive']} Gaussians through them")

# %% [markdown]
# BYY harmony learning selects the number of Gaussians by itself (notebook 03). A Gaussian that the codes do not
# need loses its weight: next to a stronger rival its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are small or
# negative, its new $\alpha_k'$ is about 0, and the $0.95/0.05$ smoothing multiplies $\alpha_k$ by about 0.95 per
# step: from $1/4$ to below $10^{-3}$ in about 110 steps, down to the clip $10^{-10}$ in about 420.
#
# That is what it is for, but *when* it acts matters. The reference code applies BYY from step 1, and so did the
# first IA model of this course: it kept one Gaussian after about 150 steps. The encoder was then still close to its
# random initialisation, and the latent losses had almost no weight ($w_t \approx 0.01$). The codes of cats and pigs
# formed one undifferentiated cloud, and for one cloud the most harmonious model is one Gaussian. The next cell
# replays only this part. It takes the codes of a freshly initialised (untrained) encoder, which never changes, and
# applies the two update rules of method §3 300 times, to batches of 64 sampled codes $z = \mu + \sqrt{s^2}\,\epsilon$:
# BYY from step 1 (the reference) and EM (what iapix's IA does during the image warm-up, and RPCL before its step
# 500).

# %%
torch.manual_seed(0)
fresh = IAPix(cfg)  # untrained weights
images = data.images["train"][:640]
mu0, s20 = encode(fresh, images)
print(f"{len(images)} training images through an untrained encoder: codes spread (std per dimension, mean) "
      f"{float(mu0.std(0).mean()):.2g}, encoder variance s2 (mean) {float(s20.mean()):.2g}")

history = {}
for objective in ("ia", "rpcl"):
    torch.manual_seed(0)
    gmm = GMMLatent(cfg.z_dim, cfg.K, objective)  # alpha = 1/4, m ~ U(-1, 1), v = 1
    gen = torch.Generator().manual_seed(0)
    alphas = [gmm.alpha.clone()]
    for _ in range(300):
        i = torch.randint(len(mu0), (64,), generator=gen)
        z = mu0[i] + s20[i].sqrt() * torch.randn(64, cfg.z_dim, generator=gen)
        gmm.update(z, s20[i], mu0[i])
        alphas.append(gmm.alpha.clone())
    history[objective] = torch.stack(alphas).numpy()

fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True, layout="constrained")
for ax, (objective, a) in zip(axes, history.items()):
    for k in range(a.shape[1]):
        ax.plot(a[:, k], lw=1.2)
    ax.axhline(1e-3, color="k", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_ylim(1e-11, 2)
    ax.set_xlabel("update")
    ax.set_title(f"{'BYY from step 1 (reference)' if objective == 'ia' else 'EM (warm-up)'}: alpha_k", fontsize=11)
axes[0].set_ylabel("alpha_k (dotted: 1e-3)")
plt.show()
for objective, a in history.items():
    alive = (a > 1e-3).sum(1)
    when = f"one alive from update {int(np.argmax(alive == 1))}" if (alive == 1).any() else f"{alive[-1]} alive"
    shown = ", ".join(f"{x:.3g}" if x > 1e-3 else "<0.001" for x in a[-1])  # a switched-off weight's digits vary
    print(f"{'BYY' if objective == 'ia' else 'EM'}: alpha after 300 updates [{shown}]; {when}")

# %% [markdown]
# On codes without structure, BYY keeps one Gaussian, at about the same point as in that first run. EM keeps all
# four. That is BYY's automatic model selection working as designed. It simply ran before the encoder had
# anything to separate.
#
# **Why a dead Gaussian never comes back.** Its $\alpha_k$ is clipped at $10^{-10}$, so $\alpha_k \mathcal
# N(z \mid m_k, v_k)$ is $10^{-10}$ times the live Gaussian's, and its posterior $g_{ik}$ sits at the floor
# $1/(100K) = 0.0025$ for every code. A Gaussian at the floor is always below the average harmony
# ($\delta_{ik}$ is clipped at $-1.0001$), so its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are slightly negative
# and $\alpha_k'$ stays at the clip. Nor can the encoder move codes towards it: the clipped $g$ carries no gradient.
# Its mean and variance are still updated, as $b$-weighted averages of the whole batch with nearly equal weights. So
# they follow the batch: the dead Gaussians of that first model had become copies of the live one, and "draw from
# Gaussian $k$" was the same distribution for every $k$.
#
# **What iapix does instead.** Method §7 "GMM during the image warm-up": EM weights $b = g$ while the image loss is on
# (the first 3 epochs), BYY from then on (`Config.gmm_warmup`; notebook 03, section 5). EM has no pruning, so all
# four Gaussians survive the phase in which the codes are still a cloud (the plot above), and BYY starts from a
# mixture fitted to codes that the image loss has already organised. RPCL-pix2seq, by the same authors, runs EM alone
# for its first 500 steps for the same reason. Whether BYY then keeps one Gaussian per category or style depends on
# the codes having separated by then; the lines printed under the first plot of this section say how far the
# shipped checkpoint got.
#
# **What is still weak.** Alive is not the same as meaningful. `iapix curve` (notebook 05) measured each checkpoint
# on all 450 test sketches at the step it was saved: NMI; the *per-Gaussian control*, the smallest share, over the
# Gaussians with $\alpha_k \ge 0.1$, of a Gaussian's samples that the Rec classifier puts in that Gaussian's
# majority category (1: every heavy Gaussian draws one category); the share of generations that end by
# $p_\text{end}$; Rec (chance 0.56, the classifier's own bound 0.90; notebook 07) and Ret@1 (chance 1/450):

# %%
for name, c in cks.items():
    row = {int(r["iteration"]): r for r in read_curve(CHECKPOINTS / f"catpig-small-{name}")}.get(c.info["iteration"])
    if row is None:
        print(f"{name}: no row for iteration {c.info['iteration']} in its curve.csv (`iapix curve` writes it)")
        continue
    print(f"{name.upper()} at step {int(row['step'])}: NMI {row['nmi']:.2f}, "
          f"per-Gaussian control {row['control']:.2f}, ended by p_end {row['ended']:.0%}, "
          f"mean length {row['mean_length']:.0f} of N_max {NMAX}, "
          f"Rec {row['rec']:.2f}, Ret@1 {row['ret1']:.3f}")

# %% [markdown]
# So, for both models: the Gaussians do not separate cats from pigs well (NMI far from 1), the samples of a
# Gaussian mix both categories in the classifier's eyes (control, the worst heavy Gaussian's share, well below 1),
# not every generation ends by itself, and Rec sits between chance and the bound while Ret@1
# stays a few hundredths at most: a reconstruction keeps the category more often than the particular sketch.
#
# ## 3. One Gaussian at a time
#
# `component_panel(ck, data, k, n, temperature, seed)` draws `n` codes from Gaussian $k$, decodes them
# (black) and adds a few members of $k$ from the test set (blue; "none" when no test code has label $k$). Its title
# gives $\alpha_k$ and the number of members. IA on the left, RPCL on the right, same seed for every panel.

# %%
fig = Figure(figsize=(12.4, 8.2), layout="constrained")  # 893 px: a notebook's width
for col, name in zip(fig.subfigures(1, 2, wspace=0.04), ("ia", "rpcl")):
    col.suptitle(NAMES[name], fontsize=11, fontweight="bold")
    for k, row in enumerate(col.subfigures(4, 1)):
        component_panel(cks[name], data, k, n=4, n_members=2, ncols=6, seed=0, codes=codes[name],
                        fig=row)
fig

# %% [markdown]
# * **IA**: the rows differ, but less than their members do. The Gaussian whose members are mostly cats draws cat heads
#   with pointed ears. The Gaussians whose members are mostly pigs, or mixed, draw heads too, and often with cat
#   ears as well; a pig's snout is rare. Many pig codes come out as heads with cat ears, which is the low NMI and
#   control of section 2 seen in pictures.
# * **RPCL**: compare the rows with its member counts in section 1. A Gaussian with few members, or none, still
#   draws: it decodes a region of code space that few test sketches occupy.
# * Either way, some samples do not end: the decoder keeps drawing until $N_\max$, which leaves a dense scribble
#   or a cluster of small loops, sometimes on an otherwise reasonable head.
#
# ## 4. Interpolation
#
# `interpolation_strip(ck, k_a, k_b, steps)` decodes `steps` codes on the line
# $(1-t)\,m_a + t\,m_b$ from the mean of Gaussian $k_a$ to the mean of $k_b$. With `greedy=True` each sketch is a
# deterministic function of its code, so the strip shows only how the code changes. Here the path runs between the two
# heaviest Gaussians of each model.

# %%
fig = Figure(figsize=(10, 4.4), layout="constrained")
for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
    a, b = models[name].latent.alpha.argsort(descending=True)[:2].tolist()
    interpolation_strip(cks[name], a, b, steps=6, greedy=True, fig=row)
    row.suptitle(f"{name.upper()}: " + suptitle(row), fontsize=11)
fig

# %% [markdown]
# The code really moves along each line, and the drawing changes step by step rather than switching at one point:
# the outline, the ears and the features inside come and go gradually.
#
# Between two *test sketches'* codes, a cat's $\mu$ and a pig's $\mu$ (`interpolate` and `code_strip`):

# %%
i_cat, i_pig = int(np.flatnonzero(test_labels == 0)[0]), int(np.flatnonzero(test_labels == 1)[0])
px = np.array([SCALE, SCALE, 1.0], np.float32)
fig = Figure(figsize=(10, 6), layout="constrained")
top, *rows = fig.subfigures(3, 1)
for ax, i in zip(top.subplots(1, 2), (i_cat, i_pig)):
    plot_sketch(ax, data.strokes["test"][i] * px, color="tab:blue")
    ax.set_title(f"{CATS[test_labels[i]]} #{i}", fontsize=10)
top.suptitle("the two test sketches (t = 0: the cat, t = 1: the pig)", fontsize=11)
ts = np.linspace(0, 1, 6)
for row, name in zip(rows, ("ia", "rpcl")):
    mu = codes[name][0]
    code_strip(cks[name], interpolate(mu[i_cat], mu[i_pig], len(ts)), [f"t = {t:.1f}" for t in ts],
               greedy=True, title=f"{name.upper()}: from the cat's mu to the pig's mu, greedy", fig=row)
fig

# %% [markdown]
# ## 5. The temperature
#
# The same code decoded greedily and at increasing $\tau$ (`temperature_strip`, one seed for all). A low $\tau$
# sharpens the mixture weights and pen probabilities and narrows each offset Gaussian, so the drawing becomes
# smoother and more repetitive. A high $\tau$ gives the jitter of every small Gaussian free rein. The paper samples
# at $\tau = 0.24$. The code is the pig's $\mu$ from above.

# %%
fig = Figure(figsize=(10, 4.4), layout="constrained")
for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
    temperature_strip(cks[name], codes[name][0][i_pig], temperatures=(0.1, 0.24, 0.5, 1.0),
                      seed=0, title=f"{name.upper()}: pig #{i_pig}'s mu, several temperatures (seed 0)", fig=row)
fig

# %% [markdown]
# ## 6. Conditional reconstructions
#
# `reconstruction_panel(ck, data, index)` shows a test sketch (blue), the 48 × 48 image the encoder reads,
# and three sketches decoded from its $\mu$ at $\tau = 0.24$. The panel title gives the Gaussian the code belongs to.

# %%
fig = Figure(figsize=(12.4, 4.4), layout="constrained")
for col, name in zip(fig.subfigures(1, 2, wspace=0.04), ("ia", "rpcl")):
    col.suptitle(NAMES[name], fontsize=11, fontweight="bold")
    for row, i in zip(col.subfigures(2, 1), (i_cat, i_pig)):
        reconstruction_panel(cks[name], data, i, n=3, seed=0, fig=row)
fig

# %% [markdown]
# The reconstructions keep the kind of thing more often than the particular drawing. IA's draw a head with ears and
# eyes, whatever the pose of the source (the pig above is a whole animal); RPCL's are rougher, often an outline with a
# scribble. Details such as a snout come back rarely, and some reconstructions add a cluster of small loops. Notebook 07
# puts numbers on it: Rec (is the category kept?) and Ret (is the source itself kept?).
#
# ## 7. The explorer
#
# `Explorer(ck, data).widget` puts all of the above behind widgets:
#
# * a view selector;
# * the Gaussian, in a dropdown that shows each weight, and the number of samples;
# * the interpolation end points, the number of steps, and a slider $t$ along the line (its sketch is the last one of
#   the strip);
# * the test sketch;
# * temperature, greedy and seed, shared by all views.
#
# In a live notebook, move the controls; a static view shows at most the last picture, and `make test` only the
# text form. The explorer below is IA's; use `cks["rpcl"]` for the baseline.

# %%
# NBVAL_IGNORE_OUTPUT
# (a live widget: its view id changes on every run)
explorer = Explorer(cks["ia"], data, n=8, seed=0)
explorer.widget

# %% [markdown]
# The explorer is a thin shell. Each change of a control calls `explorer._refresh()`, which reads the widget values,
# calls one of the plain functions used above, and puts the figure as a PNG into `explorer.output`. So it can be
# driven and checked without a browser. A bad value shows up as a message in the output area, not as a traceback:

# %%
explorer.show_component(1)
print("shown:", suptitle(explorer.figure))
explorer.n.value = 4  # as if the slider moved
print("shown:", suptitle(explorer.figure), f"({len(explorer.figure.axes)} axes)")
explorer.view.value = "interpolation"
explorer.t.value = 0.25
print("shown:", suptitle(explorer.figure))
explorer.show_component(9)  # there is no Gaussian 9
print("output area:", explorer.output.outputs[0]["text"].strip())
explorer.show_component(0)  # back to a valid view
print("renders so far:", explorer.renders)

# %% [markdown]
# ## 8. SVG export
#
# `to_svg(sketch)` writes a stroke-3 sketch as a self-contained SVG document (black path on white, fitted into a
# square). `iapix sample --checkpoint checkpoints/catpig-small-rpcl.pt --component 0 --n 16 --svg-dir out/svg` writes
# one file per sketch, beside a PNG grid.

# %%
sketch = from_component(cks["rpcl"], 0, 1, temperature=0.24, seed=0)[0]
svg = to_svg(sketch, size=128)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "rpcl-gaussian0.svg"
    path.write_text(svg)
    print(f"{path.name}: read back unchanged: {path.read_text() == svg}")
print(svg[:80] + " ...")
# a sampled sketch's length and digits depend on the CPU's float kernels: check the structure, not the numbers
print("one <path>, one 'M' (pen down at a stroke's first point) per stroke:",
      svg.count("<path") == 1 and svg.count("M") == len(strokes_to_lines(sketch)) > 0)

# %%
# NBVAL_IGNORE_OUTPUT
# (the picture of a sampled sketch: nbval compares an SVG as text, and its coordinates' last digits depend on the CPU)
display(SVG(svg))

# %% [markdown]
# ## What we used
#
# ```python
# from iapix.sample import from_component, component_codes, interpolate, interpolate_components, decode, encode
# from iapix.sample import conditional, to_svg, save_grid        # CLI: iapix sample --component K | --interpolate A B
#                                                                #      | --from-test N
# from iapix.widgets import component_panel, interpolation_strip, code_strip, temperature_strip, reconstruction_panel
# from iapix.widgets import Explorer                             # Explorer(ck, data).widget
# from iapix.checkpoint import load_checkpoint                   # ck: .model, .scale, .max_len, .categories, .info
# ```
#
# The explorer and the figure functions take any checkpoint, so the same cells work for a model trained at full scale
# (notebook 05, section 7). Notebook 07 measures what we looked at here: how recognisable the generated sketches are
# (Rec), how much of their source they keep (Ret), and how the codes sit in the mixture.
