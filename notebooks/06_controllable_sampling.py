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
# 3. per-Gaussian grids: what each Gaussian draws, and which test sketches it holds,
# 4. interpolation between two Gaussians and between two test sketches,
# 5. the temperature,
# 6. conditional reconstructions,
# 7. the interactive explorer (`iapix.widgets`), and the plain functions behind it,
# 8. SVG export.
#
# **The models.** We use the two checkpoints shipped with the repository, `checkpoints/five-small-ia.pt` and
# `checkpoints/five-small-rpcl.pt`: the `small` model (a code of 32 numbers, a HyperLSTM of 256 units) trained on the
# five embedded categories (cat, pig, face, radio, alarm clock; 9 600 training sketches) with $K = 10$ Gaussians
# (two per category, method §3), once with the IA objective (BYY harmony) and once with the RPCL baseline: the same
# networks, data, schedule and seed, only the objective differs (notebook 05; the next cell prints the step each was
# saved at). That is a small budget next to the paper's (a decoder of 2 048 units, 70 000 sketches per category, a
# GPU for days).
#
# **What is good, what is still weak.** IA's mixture follows the data: most of its surviving Gaussians hold one
# category each, and the cats and pigs share Gaussians that hold a *style* (a pose) rather than a category
# (sections 1 and 3). RPCL keeps more Gaussians alive but lets a few big ones take nearly all the codes, each a mix
# of all five categories. The decoder is not finished: not every generation reaches $p_\text{end}$ (some end in a
# dense scribble at $N_\max$), and the Gaussians that mix cats and pigs draw sketches that the classifier does not
# read as one category. Read this notebook for *how* controlled generation works and how far the mixtures follow
# the categories, not for polished pictures.
#
# Running the whole notebook takes two to five minutes on one CPU core (1 min 47 s to 5 min 17 s measured with
# `make notebooks` on a two-core machine shared with training runs); most of it is encoding the 1 200 test sketches
# twice, and sampling from each Gaussian.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import SVG, Markdown, display
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from iapix.notebook import holds, read_log, setup, table, within

QUICK = setup()  # inline PNG figures, one torch thread, seed 0 (the shipped models run on the full test split)
DATA, CHECKPOINTS = Path("../data"), Path("../checkpoints")  # relative to notebooks/
NAMES = {"ia": "IA-pix2seq (BYY harmony)", "rpcl": "RPCL-pix2seq (KL + EM/RPCL)"}

from sklearn.metrics import normalized_mutual_info_score as nmi

from iapix.checkpoint import load_checkpoint
from iapix.curve import curve_row
from iapix.data import prepare
from iapix.evaluate import ended_share, load_or_train_classifier, predict
from iapix.latent import ALIVE, GMMLatent
from iapix.model import IAPix
from iapix.plot import plot_sketch, strokes_to_lines
from iapix.raster import render
from iapix.sample import (
    component_counts,
    component_majority,
    composition,
    encode,
    from_component,
    interpolate,
    split_codes,
    to_svg,
)
from iapix.widgets import (
    Explorer,
    code_strip,
    component_panel,
    interpolation_strip,
    reconstruction_panel,
    suptitle,
    temperature_strip,
)

# %% [markdown]
# The test sketches give each Gaussian its *members* (the test codes whose component label, $\arg\max_k b_{ik}$ for
# IA and $\arg\max_k g_{ik}$ for RPCL, is $k$). They are prepared with the checkpoints' categories, scale factor and
# $N_\max$: all 1 200 of them, in every setting.

# %%
cks = {name: load_checkpoint(CHECKPOINTS / f"five-small-{name}.pt") for name in ("ia", "rpcl")}
models = {name: ck.model for name, ck in cks.items()}  # eval mode
ck = cks["ia"]
assert (cks["rpcl"].categories, cks["rpcl"].scale, cks["rpcl"].max_len) == (ck.categories, ck.scale, ck.max_len)
CATS = list(ck.categories)
SCALE, NMAX, K = ck.scale, ck.max_len, models["ia"].latent.K
data = prepare(CATS, DATA, scale=SCALE, max_len=NMAX)  # the full splits
test_labels = data.labels["test"]
print(f"test sketches: {len(test_labels)} ({', '.join(f'{c} {(test_labels == i).sum()}' for i, c in enumerate(CATS))})")
for name, m in models.items():
    print(f"{name}: {m.cfg.objective}, K = {m.latent.K}, step {cks[name].info['step']} "
          f"(epoch {cks[name].info['epoch']}), scale {SCALE:.3g}, N_max {NMAX}")

# %% [markdown]
# Encoding: each model's encoder reads the 1 200 test images once (about half a minute per model on one core), and,
# for section 2, an *untrained* encoder of the same architecture reads 640 training images.

# %%
# NBVAL_IGNORE_OUTPUT
# (a progress bar only; the next cells print and check the results)
torch.manual_seed(0)
fresh = IAPix(models["ia"].cfg)  # the same networks with untrained weights (section 2)
codes = {}
for name in tqdm(("ia", "rpcl", "untrained"), desc="encode (IA test, RPCL test, untrained: 640 train)"):
    if name == "untrained":
        mu0, s20 = encode(fresh, data.images["train"][:640])
    else:
        codes[name] = split_codes(models[name], data)  # (mu, s2, component labels) of the test split

# %% [markdown]
# ## 1. The two mixtures
#
# Each model has $K = 10$ Gaussians (five categories $\times$ `num_sub` 2, method §3). For each Gaussian: its weight
# $\alpha_k$, its mean variance $\bar v_k$ (over the 32 dimensions), and how many test codes of each category carry
# its label.

# %%
alphas = {name: m.latent.alpha.numpy() for name, m in models.items()}
counts = {}  # counts[name][k, c]: test codes of category c labelled k
for name, m in models.items():
    lab = codes[name][2].numpy()
    counts[name] = component_counts(lab, test_labels, K, len(CATS))
    v = m.latent.variances.mean(1).numpy()
    rows = [[k, f"{alphas[name][k]:.3g}", f"{v[k]:.3g}", *counts[name][k], counts[name][k].sum()] for k in range(K)]
    display(Markdown(f"**{NAMES[name]}**: test codes per Gaussian and category"))
    display(table(rows, ["k", "alpha", "mean v", *CATS, "all"]))
scores = {name: nmi(test_labels, codes[name][2].numpy()) for name in models}
alive = {name: int(m.latent.components_alive().sum()) for name, m in models.items()}
for name in models:
    print(f"{name.upper()}: alive (alpha > {ALIVE:g}) {alive[name]} of {K}; "
          f"NMI(component label, category) {scores[name]:.2f}")


# %%
ANIMALS = [CATS.index("cat"), CATS.index("pig")]
a_ia, n_ia = alphas["ia"], counts["ia"]
ia_alive = [k for k in np.argsort(-a_ia, kind="stable") if a_ia[k] > ALIVE]  # heaviest first
pure = [k for k in ia_alive if n_ia[k].max() >= 0.8 * n_ia[k].sum()]  # >= 80 % one category
mixed = [k for k in ia_alive if k not in pure]
big = np.argsort(-counts["rpcl"].sum(1), kind="stable")[:3]  # RPCL's three most used Gaussians
n_big = int(counts["rpcl"][big].sum())
big_share = [counts["rpcl"][k].max() / counts["rpcl"][k].sum() for k in big]
small = [k for k in range(K) if k not in big and counts["rpcl"][k].sum() > 0]
print(holds(all(n_ia[k].sum() == 0 for k in range(K) if a_ia[k] <= ALIVE), "IA: no test code in a dead Gaussian"))
print(holds({CATS[n_ia[k].argmax()] for k in pure} >= {"face", "radio", "alarm-clock"},
            "IA: faces, radios and alarm clocks each have a Gaussian that is at least 80 % that category"))
print(holds(len(mixed) >= 1 and all(n_ia[k][ANIMALS].sum() >= 0.8 * n_ia[k].sum() for k in mixed),
            "IA: every other alive Gaussian holds cats and pigs (together at least 80 % of its members)"))
print(within(n_big / len(test_labels), 0.8, 1.0, "RPCL: share of the test codes in its three most used Gaussians"))
print(holds(max(big_share) < 0.6, "RPCL: none of these three is 60 % one category"))
print(holds(scores["ia"] > 3 * scores["rpcl"], "NMI: IA's more than three times RPCL's"))
print(holds(len(pure) > len(mixed), "IA: most of its alive Gaussians are at least 80 % one category"))
display(Markdown(f"""
How to read the tables: a Gaussian that *controls* the category holds the codes of one category only (one non-zero
column in its row); a Gaussian that does not holds several. NMI, normalised mutual information between the component
labels and the categories, sums this up: 1 when the Gaussians are the categories, 0 when they say nothing about them.

* **IA** keeps {alive['ia']} of its {K} Gaussians; the other {K - alive['ia']} have $\\alpha_k$ at the clip
  ($10^{{-10}}$) and no test code. {len(pure)} of the survivors are at least 80 % one category:
  {'; '.join(f'Gaussian {k} ({composition(n_ia[k], CATS, top=1)})' for k in pure)}. The other {len(mixed)} hold
  cats and pigs together ({'; '.join(f'Gaussian {k}: {composition(n_ia[k], CATS, top=2)}' for k in mixed)}): they
  do not separate the two animals (section 3 shows what they hold instead). NMI {scores['ia']:.2f}.
* **RPCL** keeps {alive['rpcl']} Gaussians alive, but its three most used ones (Gaussians
  {', '.join(str(k) for k in big)}) hold {n_big} of the {len(test_labels)} test codes, and each is a mix: its
  largest category is only {100 * min(big_share):.0f}–{100 * max(big_share):.0f} % of its members. The other
  {len(small)} Gaussians that hold test codes hold {max(counts['rpcl'][k].sum() for k in small)} at most.
  NMI {scores['rpcl']:.2f}.
"""))

# %% [markdown]
# The IA line is worth a second look, because an earlier IA model of this course (cats and pigs, $K = 4$), trained
# with BYY harmony from the very first step as the reference code does, kept **one** Gaussian out of four. Section 2
# shows why that happened, and what keeps the mixture alive now.
#
# ## 2. Why the IA mixture keeps its Gaussians: EM first, BYY later
#
# The training logs (shipped next to the checkpoints) count the Gaussians alive at every step. The shaded part is IA's
# image warm-up (its first `image_epochs` epochs, method §4), during which iapix updates the mixture with EM weights
# $b_{ik} = g_{ik}$; BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ start when it ends (method §7 "GMM during the image
# warm-up"). The dotted line is the warm-up weight $w_t = 1 - 0.999 \cdot 0.9999^t$ of the latent losses (method §4), on
# the right-hand axis.

# %%
logs = {name: read_log(CHECKPOINTS / f"five-small-{name}") for name in ("ia", "rpcl")}  # log.csv: a row per step
cfg = models["ia"].cfg
ia_it = np.array([int(r["iteration"]) for r in logs["ia"]])
ia_alive_log = np.array([int(r["alive"]) for r in logs["ia"]])
em = np.array([cfg.gmm_warmup == "em" and int(r["epoch"]) < cfg.image_epochs for r in logs["ia"]])  # EM weights b = g
fig, ax = plt.subplots(figsize=(7.5, 3.2), layout="constrained")
if em.any():
    ax.axvspan(0, ia_it[em].max(), color="0.9", label="IA: image warm-up, EM weights")
for name, log in logs.items():  # x: iterations (a rolled-back epoch rewinds the step counter, not these)
    ax.step([int(r["iteration"]) for r in log], [int(r["alive"]) for r in log], where="post",
            ls="-" if name == "ia" else "--", lw=2.5 if name == "ia" else 1.5, label=f"{name}: Gaussians alive")
ax.set_xlabel("training iteration")
ax.set_ylabel("alive (alpha > 1e-3)")
ax.set_ylim(0, K + 0.5)
ax2 = ax.twinx()
ax2.plot(ia_it, [float(r["kl_weight"]) for r in logs["ia"]], "k:", lw=1)
ax2.set_ylabel("IA's w_t (dotted)")
ax2.set_ylim(0, 1)
ax.legend(fontsize=10, loc="lower right")
ax.set_title(f"Gaussians alive at each of the {len(ia_it)} IA iterations", fontsize=11)
plt.show()
for name, log in logs.items():
    a = np.array([int(r["alive"]) for r in log])
    print(f"{name}: {len(log)} iterations logged; Gaussians alive: {a.min()} at the fewest, {a.max()} at the most, "
          f"{a[-1]} at the last")
print(f"IA: {em.sum()} iterations with EM weights (image warm-up), {(~em).sum()} with BYY weights; w_t at the last: "
      f"{float(logs['ia'][-1]['kl_weight']):.2f}")
end_em = int(ia_it[em].max())
alive_em = ia_alive_log[em]
first_drop = int(ia_it[~em][ia_alive_log[~em] < alive_em[-1]].min())  # first BYY iteration with fewer alive
n_drop = first_drop - end_em
bound = ALIVE / cfg.gmm_decay**n_drop
print(f"IA: alive during the warm-up: always {alive_em.min()}; at iteration {first_drop}, {n_drop} iterations into "
      f"BYY, {alive_em[-1] - ia_alive_log[~em].min()} fell below {ALIVE:g}; alive since: "
      f"{ia_alive_log[ia_it >= first_drop].min()} to {ia_alive_log[ia_it >= first_drop].max()}")
rp_alive = np.array([int(r["alive"]) for r in logs["rpcl"]])
print(holds(alive_em.min() == K, f"EM kept all {K} Gaussians alive through the warm-up"))
print(holds(rp_alive[-1] >= K - 3 and rp_alive.min() < K,
            f"RPCL: at least {K - 3} alive at the last step; some dip below the threshold at times"))
print(holds(n_drop <= 20, "BYY pruned within 20 iterations of its start"))

# %% [markdown]
# BYY harmony learning selects the number of Gaussians by itself (notebook 03). A Gaussian that the codes do not
# need loses its weight: next to a stronger rival its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are small or
# negative, its new $\alpha_k'$ is about 0, and the $0.95/0.05$ smoothing multiplies $\alpha_k$ by about 0.95 per
# step.

# %%
steps_to_alive = np.log(ALIVE * K) / np.log(cfg.gmm_decay)  # from 1/K to the threshold 1e-3
steps_to_clip = np.log(1e-10 * K) / np.log(cfg.gmm_decay)  # from 1/K to the clip 1e-10
display(Markdown(f"""
From $1/K = {1 / K:g}$ a Gaussian falls below $10^{{-3}}$ in about {steps_to_alive:.0f} steps and reaches the clip
$10^{{-10}}$ in about {steps_to_clip:.0f}. The shipped IA model lost {alive_em[-1] - ia_alive_log[~em].min()}
Gaussians only {n_drop} iterations after BYY started: at 0.95 per step their $\\alpha_k$ can only have been below
$10^{{-3}} / 0.95^{{{n_drop}}} = {bound:.2g}$ when the warm-up ended. So EM had already left them unused: they sat
at the floor that EM gives every Gaussian (its weights $b_{{ik}} = g_{{ik}}$ never go below the posterior's clip
$1/(100K) = {1 / (100 * K):g}$), just above the threshold, and BYY only finished them off.
"""))
print(within(bound, ALIVE, 2 * ALIVE, "upper bound on their alpha at the end of the warm-up"))

# %% [markdown]
# That is what it is for, but *when* it acts matters. The reference code applies BYY from step 1, and so did the
# first IA model of this course (cats and pigs): it kept one Gaussian after about 150 steps. The encoder was then
# still close to its random initialisation, and the latent losses had almost no weight ($w_t \approx 0.01$). The
# codes of all the categories formed one undifferentiated cloud, and for one cloud the most harmonious model is one
# Gaussian. The next cell replays only this part. It takes the codes of a freshly initialised (untrained) encoder
# (encoded above), which never changes, and applies the two update rules of method §3 300 times, to batches of 64
# sampled codes $z = \mu + \sqrt{s^2}\,\epsilon$: BYY from step 1 (the reference) and EM (what iapix's IA does during
# the image warm-up, and RPCL before its step 500).

# %%
print(f"{len(mu0)} training images through an untrained encoder: codes spread (std per dimension, mean) "
      + within(mu0.std(0).mean(), 0.1, 1.0, "std") + "; encoder variance s2 (mean) "
      + within(s20.mean(), 0.2, 2.0, "s2"))
history = {}
for objective in ("ia", "rpcl"):
    torch.manual_seed(0)
    gmm = GMMLatent(cfg.z_dim, cfg.K, objective)  # alpha = 1/K, m ~ U(-1, 1), v = 1
    gen = torch.Generator().manual_seed(0)
    trace = [gmm.alpha.clone()]
    for _ in range(300):
        i = torch.randint(len(mu0), (64,), generator=gen)
        z = mu0[i] + s20[i].sqrt() * torch.randn(64, cfg.z_dim, generator=gen)
        gmm.update(z, s20[i], mu0[i])
        trace.append(gmm.alpha.clone())
    history[objective] = torch.stack(trace).numpy()

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
byy_alive, em_alive = (history["ia"] > ALIVE).sum(1), (history["rpcl"] > ALIVE).sum(1)
print(holds(byy_alive[-1] == 1, "BYY from step 1: one Gaussian alive after 300 updates"), "-",
      within(np.argmax(byy_alive == 1), 80, 250, "the update from which only one is alive"))
print(holds(em_alive.min() == K, f"EM: all {K} alive at every update"), "-",
      within(history["rpcl"][-1].min(), 0.01, 1 / K, "the smallest alpha after 300 updates"))

# %% [markdown]
# On codes without structure, BYY keeps one Gaussian, at about the same point as in that first run. EM keeps all
# ten. That is BYY's automatic model selection working as designed. It simply ran before the encoder had
# anything to separate.
#
# **Why a dead Gaussian never comes back.** Its $\alpha_k$ is clipped at $10^{-10}$, so $\alpha_k \mathcal
# N(z \mid m_k, v_k)$ is about $10^{-10}$ times a live Gaussian's, and its posterior $g_{ik}$ sits at the floor
# $1/(100K) = 0.001$ for every code. A Gaussian at the floor is always below the average harmony
# ($\delta_{ik}$ is clipped at $-1.0001$), so its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are slightly negative
# and $\alpha_k'$ stays at the clip. Nor can the encoder move codes towards it: the clipped $g$ carries no gradient.
# Its mean and variance are still updated, as $b$-weighted averages of the whole batch with nearly equal weights. So
# they follow the batch: the dead Gaussians of that first model had become copies of the live one, and "draw from
# Gaussian $k$" was the same distribution for every $k$.
#
# **What iapix does instead.** Method §7 "GMM during the image warm-up": EM weights $b = g$ while the image loss is on
# (the first 3 epochs, 3 000 steps), BYY from then on (`Config.gmm_warmup`; notebook 03, section 5). EM has no
# pruning, so all ten Gaussians survive the phase in which the codes are still a cloud (the plot above), and BYY starts
# from a mixture fitted to codes that the image loss has already organised. RPCL-pix2seq, by the same authors, runs
# EM alone for its first 500 steps for the same reason. On five categories the codes had begun to separate by
# category by then (`docs/latent-space.md`: k-means on the codes alone follows the categories about as well as the
# mixture does): BYY pruned only the Gaussians EM had left unused (above), and the survivors are the categories and
# styles of section 1. RPCL's updates (a hard winner, a lightly repelled runner-up) prune nothing
# for good: its small Gaussians drift below the threshold and back (the dashed line dips below ten), while a few big
# ones take nearly all the codes.
#
# **What is still weak.** Alive is not the same as meaningful. `iapix curve` (notebook 05) measured each checkpoint
# on all 1 200 test sketches at the step it was saved: NMI; the *per-Gaussian control*, the smallest share, over the
# Gaussians with $\alpha_k \ge 0.1$, of a Gaussian's samples that the Rec classifier puts in that Gaussian's
# majority category (1: every heavy Gaussian draws one category); the share of generations that end by
# $p_\text{end}$; Rec (the share of reconstructions the classifier puts in their source's category; always naming
# the largest category would score 250 / 1 200 = 0.21) and Ret@1 (the share whose nearest test code is their
# source's; chance 1/1 200):

# %%
classifier, clf_info = load_or_train_classifier(CHECKPOINTS / "classifier-five.pt", data, progress=False)
print(f"the Rec classifier: {clf_info['categories']}, test accuracy {clf_info['test_acc']:.3f} (its own bound on Rec)")
curve = {}
for name, c in cks.items():
    row = curve_row(CHECKPOINTS / f"five-small-{name}", c.info["iteration"])
    if row is None:
        print(f"{name}: no row for iteration {c.info['iteration']} in its curve.csv (`iapix curve` writes it)")
        continue
    curve[name] = row
    print(f"{name.upper()} at step {int(row['step'])}: NMI {row['nmi']:.2f}, "
          f"per-Gaussian control {row['control']:.2f}, ended by p_end {row['ended']:.0%}, "
          f"mean length {row['mean_length']:.0f} of N_max {NMAX}, "
          f"Rec {row['rec']:.3f}, Ret@1 {row['ret1']:.3f}")

# %%
if len(curve) == 2:
    ia, rp = curve["ia"], curve["rpcl"]
    chance = np.bincount(test_labels).max() / len(test_labels)
    print(holds(ia["nmi"] > rp["nmi"], "NMI: IA's above RPCL's"))
    print(holds(all(chance < r["rec"] < clf_info["test_acc"] + 0.02 for r in curve.values()),
                "Rec: above chance and below the classifier's own accuracy, for both"))
    print(holds(all(r["ret1"] < r["rec"] / 2 for r in curve.values()), "Ret@1: less than half of Rec, for both"))
    print(holds(all(r["ended"] < 1 for r in curve.values()), "not every generation ends by p_end, for both"))
    print(holds(ia["control"] < 0.8, "IA's weakest heavy Gaussian: under 80 % of its samples in one category"))
    display(Markdown(f"""
So: IA's Gaussians follow the categories far better than RPCL's (NMI {ia['nmi']:.2f} against {rp['nmi']:.2f}). The
per-Gaussian control is {ia['control']:.2f} for IA and {rp['control']:.2f} for RPCL. It is the *worst* heavy
Gaussian's share, so it does not tell IA's one-category Gaussians from RPCL's mixed ones: both models have a heavy
Gaussian whose samples the classifier reads as several categories (section 3 shows which). {ia['ended']:.0%} of IA's
generations and {rp['ended']:.0%} of RPCL's end by $p_\\text{{end}}$; the rest run to $N_\\max$. Rec
({ia['rec']:.3f} for IA, {rp['rec']:.3f} for RPCL) lies between the share of the largest category ({chance:.2f})
and the classifier's own accuracy
({clf_info['test_acc']:.2f}), while Ret@1 ({ia['ret1']:.3f} and {rp['ret1']:.3f}) is less than half of it: a
reconstruction keeps the category more often than the particular sketch.
"""))
else:
    display(Markdown("The curve rows of the shipped steps are not measured yet (`iapix curve RUN --classifier "
                     "checkpoints/classifier-five.pt` writes them); notebook 07 measures the same numbers itself."))

# %% [markdown]
# ## 3. One Gaussian at a time
#
# `component_panel(ck, data, k, n, temperature, seed)` draws `n` codes from Gaussian $k$, decodes them (black) and
# adds a few members of $k$ from the test set (blue; spread evenly over its members, which are in category order, so
# that every category it holds in numbers shows). Its title gives $\alpha_k$, the number of members and their
# majority category with its share. Each row is one Gaussian, the heaviest first, with the same seed: first IA's
# alive Gaussians, then RPCL's six heaviest (RPCL keeps more alive, but its others hold a few codes each or none).

# %%
RPCL_ROWS = 6
rows_of = {"ia": [int(k) for k in ia_alive],
           "rpcl": [int(k) for k in np.argsort(-alphas["rpcl"], kind="stable")[:RPCL_ROWS]]}


def grid(name: str) -> Figure:
    """One component_panel row per Gaussian in rows_of[name]: 4 samples (black), 4 members (blue)."""
    ks = rows_of[name]
    fig = Figure(figsize=(10.6, 1.95 * len(ks) + 0.4), layout="constrained")  # 763 px: within a notebook's width
    fig.suptitle(f"{NAMES[name]}: samples (black) and test members (blue) per Gaussian", fontsize=12,
                 fontweight="bold")
    for k, row in zip(ks, fig.subfigures(len(ks), 1)):
        component_panel(cks[name], data, k, n=4, n_members=4, ncols=8, seed=0, codes=codes[name], fig=row)
    return fig


grid("ia")

# %%
grid("rpcl")

# %% [markdown]
# What does each row draw? Two checks from data, next to the pictures. The *members* are fixed test sketches: their
# categories and their shape (width / height of the bounding box: a whole animal seen from the side is wide, a head
# about as wide as tall). The *samples* are read by the Rec classifier: 24 more samples of each Gaussian in the
# grids, rendered to 48 × 48 images like the test sketches (this takes a while: a progress bar, then the results).

# %%
# NBVAL_IGNORE_OUTPUT
# (a progress bar only; the next cells print and check the results)
N_READ = 24
samples = {}  # samples[name][k]: (sketches, classifier's category for each)
for name, k in tqdm([(n, k) for n in rows_of for k in rows_of[n]], desc=f"{N_READ} samples per Gaussian, classified"):
    sk = from_component(cks[name], k, N_READ, seed=100 + k)
    samples.setdefault(name, {})[k] = (sk, predict(classifier, render(sk, allow_empty=True)))


# %%
def aspect(s: np.ndarray) -> float:
    """Width / height of a stroke-3 sketch's bounding box."""
    xy = np.cumsum(s[:, :2], axis=0)
    return float(np.ptp(xy[:, 0]) / max(np.ptp(xy[:, 1]), 1e-6))


test_aspect = np.array([aspect(s) for s in data.strokes["test"]])
shape = {}  # shape[name][k]: median width / height of its members, share wider than 1.3 : 1
for name in models:
    lab = codes[name][2].numpy()
    shape[name] = {k: (float(np.median(test_aspect[lab == k])), float((test_aspect[lab == k] > 1.3).mean()))
                   for k in rows_of[name]}
    display(table([[k, f"{alphas[name][k]:.3g}", counts[name][k].sum(), composition(counts[name][k], CATS, top=2),
                    f"{shape[name][k][0]:.2f}", f"{shape[name][k][1]:.0%}"] for k in rows_of[name]],
                  [f"{name.upper()} k", "alpha", "members", "largest categories", "median width / height",
                   "wider than 1.3 : 1"]))


def read_share(name: str, k: int, cats: list[int]) -> float:
    """Share of Gaussian k's samples that the classifier puts in one of the categories `cats`."""
    return float(np.isin(samples[name][k][1], cats).mean())


def top_read(name: str, k: int) -> tuple[int, float]:
    """The classifier's most frequent category for Gaussian k's samples, and its share."""
    c = np.bincount(samples[name][k][1], minlength=len(CATS))
    return int(c.argmax()), float(c.max() / c.sum())


# IA: the one-category Gaussians, and the cat-and-pig ones told apart by shape
for k in pure:
    print(holds(top_read("ia", k)[0] == n_ia[k].argmax(),
                f"IA Gaussian {k}: the classifier's most frequent reading of its samples is its members' category, "
                f"{CATS[n_ia[k].argmax()]}"))
side = max(mixed, key=lambda k: shape["ia"][k][0])  # the widest members among the cat-and-pig Gaussians
heads = [k for k in mixed if k != side]
print(within(shape["ia"][side][0], 1.4, 3.0, f"IA Gaussian {side}: median width / height of its members"))
for k in heads:
    print(within(shape["ia"][k][0], 0.7, 1.3, f"IA Gaussian {k}: median width / height of its members"))
    print(holds(np.median([aspect(s) for s in samples["ia"][side][0]])
                > np.median([aspect(s) for s in samples["ia"][k][0]]),
                f"IA: Gaussian {side}'s samples are wider than Gaussian {k}'s (medians)"))
for k in mixed:
    print(within(top_read("ia", k)[1], 0.0, 0.75, f"IA Gaussian {k}: share of its samples in the classifier's "
                                                  "most frequent category"))
# RPCL: the three big mixed Gaussians against its smaller ones
big_rows = [k for k in rows_of["rpcl"] if k in big]
small_rows = [k for k in rows_of["rpcl"] if k not in big]
print(holds(all((counts["rpcl"][k] > 0).all() for k in big_rows), "RPCL: its big Gaussians hold all five categories"))
print(holds(min(counts["rpcl"][k].max() / counts["rpcl"][k].sum() for k in small_rows)
            > max(counts["rpcl"][k].max() / counts["rpcl"][k].sum() for k in big_rows),
            "RPCL: each of its smaller Gaussians in the grid is purer than any of the big ones (members)"))
for k in big_rows:
    print(within(top_read("rpcl", k)[1], 0.0, 0.75, f"RPCL Gaussian {k}: share of its samples in the classifier's "
                                                    "most frequent category"))
print(holds(np.mean([read_share("rpcl", k, [counts["rpcl"][k].argmax()]) for k in small_rows])
            > np.mean([read_share("rpcl", k, [counts["rpcl"][k].argmax()]) for k in big_rows]),
            "RPCL: the samples of its smaller Gaussians are read as their members' category more often than "
            "those of its three big ones (mean share)"))
print(holds(any(alphas["ia"][k] >= 0.1 for k in mixed) and any(alphas["rpcl"][k] >= 0.1 for k in big_rows),
            "each model has a heavy Gaussian (alpha >= 0.1) among those whose samples are not three quarters one "
            "category (section 2: the control)"))
print(holds(min(ended_share(sk, NMAX) for name in samples for sk, _ in samples[name].values()) < 1,
            "some Gaussians' samples do not all end by p_end"))

# %%
display(Markdown(f"""
* **IA**: the {len(pure)} Gaussians that are at least 80 % one category draw that category: for each, the category
  the classifier gives most often to its samples is its members' ({', '.join(CATS[n_ia[k].argmax()] for k in pure)}).
  The {len(mixed)} Gaussians that hold cats and pigs together are split by *pose*, not by animal: the members of
  Gaussian {side} are wide (median width / height {shape['ia'][side][0]:.2f}, {shape['ia'][side][1]:.0%} of them wider
  than 1.3 : 1): whole animals seen from the side; those of Gaussian{'s' if len(heads) > 1 else ''}
  {' and '.join(str(k) for k in heads)} are about as wide as tall
  ({', '.join(f"{shape['ia'][k][0]:.2f}" for k in heads)}): heads. Their samples follow the pose (Gaussian
  {side}'s are the wider ones), but the classifier reads no single category in more than three quarters of them: a
  pose Gaussian does not choose between cat and pig.
* **RPCL**: the rows of its three big Gaussians ({', '.join(str(k) for k in big_rows)}) hold all five categories in
  their members, and their samples are no single category either (at most three quarters in one). Its smaller
  Gaussians ({'; '.join(f"{k}: {composition(counts['rpcl'][k], CATS, top=1)}" for k in small_rows)}) are purer and their
  samples are read as their members' category more often, but together they hold only
  {sum(int(counts['rpcl'][k].sum()) for k in small_rows)} of the {len(test_labels)} test codes.
* Either way, some samples do not end: the decoder keeps drawing until $N_\\max$, which leaves a dense scribble
  or a cluster of small loops, sometimes on an otherwise reasonable sketch.
"""))

# %% [markdown]
# ## 4. Interpolation
#
# `interpolation_strip(ck, k_a, k_b, steps)` decodes `steps` codes on the line
# $(1-t)\,m_a + t\,m_b$ from the mean of Gaussian $k_a$ to the mean of $k_b$. With `greedy=True` each sketch is a
# deterministic function of its code, so the strip shows only how the code changes. Here the path runs between the two
# heaviest Gaussians of each model.

# %%
ends = {name: [int(k) for k in np.argsort(-alphas[name], kind="stable")[:2]] for name in models}
fig = Figure(figsize=(10, 4.4), layout="constrained")
for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
    a, b = ends[name]
    interpolation_strip(cks[name], a, b, steps=6, greedy=True, fig=row)
    row.suptitle(f"{name.upper()}: " + suptitle(row), fontsize=11)
fig

# %%
majority = {name: component_majority(codes[name][2], test_labels, CATS, K) for name in models}
display(Markdown("The members of the two ends: " + "; ".join(
    f"{name.upper()}: Gaussian {a} ({composition(counts[name][a], CATS, top=2)}) → "
    f"Gaussian {b} ({composition(counts[name][b], CATS, top=2)})"
    for name, (a, b) in ends.items()) + ". Each strip starts at the drawing of one mean and ends at the other's; in "
    "between, the decoder draws codes that lie between two Gaussians, where few training codes were. Compare where "
    "the drawing changes: gradually along the line, or at one point."))

# %% [markdown]
# Between two *test sketches'* codes, a cat's $\mu$ and a radio's $\mu$ (`interpolate` and `code_strip`):

# %%
i_a, i_b = (int(np.flatnonzero(test_labels == CATS.index(c))[0]) for c in ("cat", "radio"))
px = np.array([SCALE, SCALE, 1.0], np.float32)
fig = Figure(figsize=(10, 6), layout="constrained")
top, *rows = fig.subfigures(3, 1)
for ax, i in zip(top.subplots(1, 2), (i_a, i_b)):
    plot_sketch(ax, data.strokes["test"][i] * px, color="tab:blue")
    ax.set_title(f"{CATS[test_labels[i]]} #{i}", fontsize=10)
top.suptitle(f"the two test sketches (t = 0: {CATS[test_labels[i_a]]} #{i_a}, t = 1: {CATS[test_labels[i_b]]} #{i_b})",
             fontsize=11)
ts = np.linspace(0, 1, 6)
for row, name in zip(rows, ("ia", "rpcl")):
    mu = codes[name][0]
    code_strip(cks[name], interpolate(mu[i_a], mu[i_b], len(ts)), [f"t = {t:.1f}" for t in ts],
               greedy=True, title=f"{name.upper()}: from the cat's mu to the radio's mu, greedy", fig=row)
fig

# %% [markdown]
# ## 5. The temperature
#
# The same code decoded greedily and at increasing $\tau$ (`temperature_strip`, one seed for all). A low $\tau$
# sharpens the mixture weights and pen probabilities and narrows each offset Gaussian, so the drawing becomes
# smoother and more repetitive. A high $\tau$ gives the jitter of every small Gaussian free rein. The paper samples
# at $\tau = 0.24$. The code is the radio's $\mu$ from above.

# %%
fig = Figure(figsize=(10, 4.4), layout="constrained")
for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
    temperature_strip(cks[name], codes[name][0][i_b], temperatures=(0.1, 0.24, 0.5, 1.0), seed=0,
                      title=f"{name.upper()}: radio #{i_b}'s mu, several temperatures (seed 0)", fig=row)
fig

# %% [markdown]
# ## 6. Conditional reconstructions
#
# `reconstruction_panel(ck, data, index)` shows a test sketch (blue), the 48 × 48 image the encoder reads,
# and sketches decoded from its $\mu$ at $\tau = 0.24$ (two here). The panel title gives the Gaussian the code belongs
# to. One test sketch of each category (the first of each in the test split), IA on the left, RPCL on the right.

# %%
firsts = [int(np.flatnonzero(test_labels == c)[0]) for c in range(len(CATS))]
fig = Figure(figsize=(12.4, 2.2 * len(firsts) + 0.4), layout="constrained")  # 893 px: a notebook's width
for col, name in zip(fig.subfigures(1, 2, wspace=0.04), ("ia", "rpcl")):
    col.suptitle(NAMES[name], fontsize=11, fontweight="bold")
    for row, i in zip(col.subfigures(len(firsts), 1), firsts):
        reconstruction_panel(cks[name], data, i, n=2, seed=0, fig=row)
fig

# %% [markdown]
# Compare each reconstruction with its source: whether it keeps the category, the pose, the details. The curve row
# in section 2 puts numbers on it over the whole test split: Rec (is the category kept?) and Ret@1 (is the source
# itself the nearest?); notebook 07 measures them itself.
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
# text form. The explorer below is IA's (`codes=` hands it the test codes encoded above, so it does not encode them
# again); use `cks["rpcl"]` and `codes["rpcl"]` for the baseline.

# %%
# NBVAL_IGNORE_OUTPUT
# (a live widget: its view id changes on every run)
explorer = Explorer(cks["ia"], data, n=8, seed=0, codes=codes["ia"])
explorer.widget

# %% [markdown]
# The explorer is a thin shell. Each change of a control calls `explorer._refresh()`, which reads the widget values,
# calls one of the plain functions used above, and puts the figure as a PNG into `explorer.output`. So it can be
# driven and checked without a browser. A bad value shows up as a message in the output area, not as a traceback:

# %%
explorer.show_component(ends["ia"][1])  # the second heaviest Gaussian
print("shown:", suptitle(explorer.figure))
explorer.n.value = 4  # as if the slider moved
print("shown:", suptitle(explorer.figure), f"({len(explorer.figure.axes)} axes)")
explorer.view.value = "interpolation"
explorer.t.value = 0.25
print("shown:", suptitle(explorer.figure))
explorer.show_component(K)  # Gaussians are numbered 0 .. K - 1: there is no Gaussian K
print("output area:", explorer.output.outputs[0]["text"].strip())
explorer.show_component(ends["ia"][0])  # back to a valid view
print("renders so far:", explorer.renders)

# %% [markdown]
# ## 8. SVG export
#
# `to_svg(sketch)` writes a stroke-3 sketch as a self-contained SVG document (black path on white, fitted into a
# square). `iapix sample --checkpoint checkpoints/five-small-ia.pt --component K --n 16 --svg-dir out/svg` writes
# one file per sketch, beside a PNG grid. Here: one sketch from IA's heaviest Gaussian.

# %%
k_svg = ends["ia"][0]
sketch = from_component(cks["ia"], k_svg, 1, temperature=0.24, seed=0)[0]
svg = to_svg(sketch, size=128)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / f"ia-gaussian{k_svg}.svg"
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
# from iapix.widgets import Explorer                             # Explorer(ck, data, codes=...).widget
# from iapix.sample import split_codes, component_majority       # the test codes, each Gaussian's majority
# from iapix.evaluate import predict, ended_share                # the Rec classifier's reading of samples
# from iapix.checkpoint import load_checkpoint                   # ck: .model, .scale, .max_len, .categories, .info
# ```
#
# The explorer and the figure functions take any checkpoint, so the same cells work for a model trained at full scale
# (notebook 05, section 7). Notebook 07 measures what we looked at here: how recognisable the generated sketches are
# (Rec), how much of their source they keep (Ret), and how the codes sit in the mixture.
