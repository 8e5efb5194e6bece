# %% [markdown]
# # 05 · Training: the loss, the schedules, checkpoints and a GPU run
#
# Notebooks 02–04 built the three parts: the CNN encoder (image → $\mu, s^2$), the latent Gaussian mixture with its
# BYY harmony update, and the HyperLSTM decoder ($z$ → strokes). `iapix.model.IAPix` puts them together, and
# `iapix.train.Trainer` trains them with the schedule of method §4. Training should be *trustworthy*: a killed run
# resumes exactly where it stopped, a bad epoch is undone, and every loss term is logged. This notebook shows:
#
# 1. the loss terms, and what each does,
# 2. the schedules: the warm-up $w_t$, the learning rate and the image epochs,
# 3. a short live run with its loss curves,
# 4. validation, rollback and patience,
# 5. checkpoints, and resuming after a kill,
# 6. the two shipped checkpoints (IA and the RPCL baseline) and their learning curves,
# 7. the commands for a full run on one or several GPUs.

# %%
import tempfile
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from iapix.notebook import holds, read_log, setup, show_source, table, within

QUICK = setup()  # inline PNG figures, one torch thread, seed 0; True under `make test`: shorter runs (sections 3, 5)
DATA = Path("../data")                        # the embedded data set (relative to notebooks/)
CHECKPOINTS = Path("../checkpoints")          # the shipped trained models
CATS = ["cat", "pig"]
TMP = tempfile.TemporaryDirectory(prefix="iapix-05-")  # the live runs go here and are deleted at the end


# %% [markdown]
# ## 1. The loss terms
#
# One training step of IA-pix2seq encodes the batch's images, samples $z = \mu + s\odot\varepsilon$, moves the GMM one
# smoothed BYY step towards the batch's codes (no gradient, notebook 03), and then minimises
#
# $$\mathcal L_{\text{IA}} = \tfrac12\,w_t\,\big(\mathcal L_{\text{weight}} + \mathcal L_{\text{gauss}}\big) +
# \underbrace{\mathcal L_s + \mathcal L_p}_{\mathcal L_R\ \text{(recon)}} +
# \mathbb 1[\text{epoch} < 3]\;\mathcal L_{\text{image}}.$$
#
# | term | log column | what it does | notebook |
# |---|---|---|---|
# | $\mathcal L_s$ | `offset` | negative log-density of the true pen offsets under the mixture: *where* to move | 04 |
# | $\mathcal L_p$ | `pen` | cross-entropy of the pen states: *when* to lift the pen and when to stop | 04 |
# | $\mathcal L_{\text{gauss}}$ | `gauss` | harmony: pulls each $\mu$ to its Gaussians, rewards a small $s^2$ | 03 |
# | $\mathcal L_{\text{weight}}$ | `weight` | $-\sum_k g_{ik}\ln\alpha_k$: favours heavy Gaussians, others fade | 03 |
# | $\mathcal L_{\text{image}}$ | `image` | L1 distance, image decoded from $z$ vs. the input, first 3 epochs | 02 |
# | $w_t$ | `kl_weight` | the warm-up weight of the latent terms (section 2) | |
#
# The two baselines use the same networks: **RPCL-pix2seq** minimises
# $w_t(\mathcal L^{\text{KL}}_{\text{weight}} + \mathcal L^{\text{KL}}_{\text{gauss}}) +
# \mathcal L_R + 0.5\,\mathrm{MSE}_{\text{image}}$
# (KL terms, no outer $\frac12$, the image term for the whole run, method §7 "RPCL loss"), and the **VAE** baseline
# $w_t\,\mathrm{KL}(\mathcal N(\mu, s^2)\,\|\,\mathcal N(0, I)) + \mathcal L_R + \mathcal L_{\text{image}}$.
#
# `IAPix.forward` returns every term. Here is one training-mode pass of an untrained `small` model on 16 real
# sketches:

# %%
from iapix.data import prepare
from iapix.model import IAPix, preset

prep = prepare(CATS, DATA, limit=24 if QUICK else 400)
ds = prep.dataset("train")  # no augmentation here: the same batch on every run
pick = np.r_[np.flatnonzero(prep.labels["train"] == 0)[:8], np.flatnonzero(prep.labels["train"] == 1)[:8]]
strokes5, lengths, images, labels = ds.collate([ds[i] for i in pick])

torch.manual_seed(0)
model = IAPix(preset("small")).train()
terms = model(strokes5, lengths, images, step=0, epoch=0)  # updates the GMM first, then the losses
print(", ".join(f"{k} {float(f'{v.item():.3g}'):g}" for k, v in terms.items()))  # 3 significant digits
w = terms["kl_weight"]
total = 0.5 * w * (terms["weight"] + terms["gauss"]) + terms["recon"] + terms["image"]
print("total == 0.5 w_t (weight + gauss) + recon + image:", bool(torch.isclose(total, terms["total"])))
print("recon == offset + pen:", bool(torch.isclose(terms["recon"], terms["offset"] + terms["pen"])))
late = model(strokes5, lengths, images, step=5000, epoch=3)
print(f"epoch 3, step 5000: image {late['image'].item():g}, w_t {late['kl_weight'].item():.3f}")

# %% [markdown]
# At step 0 the image term dominates: it is an L1 distance *summed* over $48 \times 48 = 2304$ pixels. It gives the
# encoder a direct, strong signal in the first epochs, while the decoder is still too poor to tell the encoder
# what a good code is. The latent terms are weighted by $w_0 = 0.001$ and hardly count yet.
#
# The two latent terms come from `GMMLatent.losses`, called right after the GMM's update: look for the posterior `g`
# taken at the sampled $z$ with the new GMM held constant, and for the `ia` branch, the harmony terms of notebook 03
# (section 4), against the KL terms of `rpcl`.

# %%
from iapix.latent import GMMLatent, harmony_gaussian

display(show_source(GMMLatent.losses), show_source(harmony_gaussian))

# %% [markdown]
# ## 2. The schedules
#
# Three things change with the optimiser step $t$ (method §4):
#
# $$w_t = 1 - 0.999\cdot 0.9999^{\,t},\qquad
# \eta_t = (10^{-3} - 10^{-5})\cdot 0.9999^{\,t/3} + 10^{-5},\qquad \text{image term only while epoch} < 3.$$
#
# The **warm-up** $w_t$ starts at 0.001: the codes are first free to carry whatever the decoder needs, and only later
# does the GMM pull them into clusters. A strong prior on meaningless codes would collapse them. The **learning rate**
# $\eta_t$ decays slowly from $10^{-3}$ towards $10^{-5}$ (Adam with $\beta_1 = 0.5$, gradients clipped elementwise to
# $\pm 1$). `iapix.model.learning_rate` and `iapix.latent.kl_weight` compute both:

# %%
from iapix.latent import kl_weight
from iapix.model import learning_rate

paper = preset("paper")
steps_per_epoch = 2 * 70_000 // paper.batch_size  # the paper's DS2: cats and pigs, 70 000 each
t = np.arange(0, 100_001, 100)
w = np.array([kl_weight(s) for s in t])
lr = np.array([learning_rate(paper, s) for s in t])
rows = [[f"{s:,}", f"{kl_weight(s):.3f}", f"{learning_rate(paper, s):.2e}"]
        for s in (0, 1_000, 10_000, 30_000, 100_000)]
display(table(rows, ["step t", "w_t", "learning rate"]))
fine = np.arange(0, 30_001)  # every step, for where w_t crosses 0.5 and 0.9
w_fine = np.array([kl_weight(s) for s in fine])
print(f"w_t reaches 0.5 at step {fine[np.argmax(w_fine >= 0.5)]:,}, 0.9 at step {fine[np.argmax(w_fine >= 0.9)]:,}; "
      f"with batch 128 on DS2 an epoch is {steps_per_epoch:,} steps, "
      f"so the image term stops at step {3 * steps_per_epoch:,}")

fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
axes[0].plot(t, w)
axes[0].axvspan(0, 3 * steps_per_epoch, color="tab:orange", alpha=0.2, label="image term on (3 paper epochs)")
axes[0].set_title("warm-up weight $w_t$ of the latent terms", fontsize=9)
axes[0].legend(fontsize=8)
axes[1].plot(t, lr)
axes[1].set_yscale("log")
axes[1].set_title("learning rate", fontsize=9)
for ax in axes:
    ax.set_xlabel("optimiser step t")
plt.show()

# %% [markdown]
# ## 3. A short live run
#
# `Trainer(cfg, data=..., out_dir=...)` takes a `Config` (presets `paper`, `small`, `tiny`; any field can be
# overridden) and prepared data, and `fit()` trains until the budget or the patience runs out. The `tiny` preset
# has a code of size 8 and a HyperLSTM of 32 units. The quick setting (`IAPIX_QUICK=1`, `make test`) uses 24
# sketches per split and category, batches of 8 and 2 epochs: 12 steps, a few seconds. Without it, 400 sketches,
# batches of 16 and 4 epochs: 200 steps, a few minutes on a CPU (2 on two free cores, 4 measured on two cores
# shared with other jobs; the cell prints its own time). The progress bar shows the losses as they go, and a line
# per epoch with the validation loss.

# %%
# NBVAL_IGNORE_OUTPUT
# (progress and the time taken: the next cell prints and checks what this run did)
from iapix.logplot import plot_log
from iapix.train import Trainer

data = prepare(CATS, DATA, limit=24 if QUICK else 400)
cfg = preset("tiny", batch_size=8 if QUICK else 16, max_epochs=2 if QUICK else 4)
RUN = Path(TMP.name) / "tiny-ia"
trainer = Trainer(cfg, data=data, out_dir=RUN, device="cpu", progress=True)
summary = trainer.fit()
print(f"{summary['iterations']} steps in {summary['seconds']:.0f} s")

# %%
print(f"{len(data.strokes['train'])} training sketches, batch {cfg.batch_size}: "
      f"{len(data.strokes['train']) // cfg.batch_size} steps per epoch (the last partial batch is dropped)")
print(f"ran {summary['iterations']} iterations in {summary['epochs']} epochs, {summary['skipped']} skipped")
print("files:", ", ".join(sorted(p.name for p in RUN.iterdir())))
print("log.csv, one row per step:", ", ".join(read_log(RUN)[0]))
print("valid.csv, one row per epoch:", ", ".join(read_log(RUN, "valid.csv")[0]))

# %% [markdown]
# `iapix.logplot.plot_log` (or `iapix plot-log RUN` on the command line) draws the logs. The left panel shows the total
# and reconstruction losses per step, with the validation reconstruction loss per epoch. The middle panel shows
# each term, and the right one the number of GMM components alive ($\alpha_k > 10^{-3}$) with the warm-up. The
# losses of a live run differ in their last digits from one CPU to another, so the table of `valid.csv` below
# leaves them to the figure and shows the decisions taken at the end of each epoch.

# %%
fig = plot_log(RUN)
plt.show()
display(table([[r[k] for k in ("iteration", "step", "epoch", "improved", "bad_in_row")]
               for r in read_log(RUN, "valid.csv")],
              ["iteration", "step", "epoch", "improved", "bad_in_row"]))
log = read_log(RUN)  # the claim below
print(holds(float(log[-1]["image"]) < float(log[0]["image"]), "the image term fell during the run"))

# %% [markdown]
# A run this short, of a model this small, only shows that everything moves: the image term, which dominates at
# first, falls fastest. Section 6 shows the curves of real runs.
#
# ## 4. Validation, rollback and patience
#
# At the end of every epoch the trainer computes the **validation reconstruction loss** $\mathcal L_R$. It decodes
# from $\mu$ rather than a sampled $z$, so the number is deterministic, and masks the pen loss after the end (the
# evaluation rule of notebook 04). Then:
#
# * **better than the best so far**: save `best.pt`, reset the count of bad epochs;
# * **not better**: *roll back* to `best.pt`, restoring the weights, the optimiser state, the GMM and the `step` and
#   `epoch` counters (so $w_t$, $\eta_t$ and the image epochs rewind too), and count one bad epoch. The next epoch
#   starts from the best model with a new shuffling of the data;
# * **`patience` = 5 bad epochs in a row**, or `max_epochs`, or `max_steps`: stop.
#
# So `best.pt` always holds the best model seen by this loss, and a run that has stopped improving ends by itself.
# (`--no-rollback`, ours, keeps `best.pt` but trains on from the worse epoch, as sketch-rnn does; section 6 shows
# why a small data set may want it.) Two
# counters are kept apart: `step` drives the schedules and rewinds on a rollback, and `iteration` counts every
# optimiser step ever taken and never rewinds. The logs are indexed by `iteration`, so the curves never fold back.
# The `valid.csv` of a run shows each decision (`improved`, `bad_in_row`). Section 6 shows the shipped runs.
#
# ## 5. Checkpoints, and resuming after a kill
#
# A checkpoint holds everything needed to continue or to sample: the weights, the optimiser, the GMM buffers (part of
# the model's `state_dict`), the config, the data's scale factor and $N_{\max}$, the categories, the counters, the
# random number generator states, and the position inside the epoch. It is written to a temporary file, flushed and then
# renamed (`iapix.checkpoint.save_checkpoint`), so a kill at any moment leaves either the old file or the new one, never
# half of one. `last.pt` is written after every epoch and every `save_every` steps (default 50). `best.pt` is written on
# every improvement.

# %%
from iapix.checkpoint import read_checkpoint

last = read_checkpoint(RUN / "last.pt")  # the dict, checked (a damaged file is named and explained)
print("last.pt holds:", ", ".join(sorted(last)))
print("  rng:", ", ".join(sorted(last["rng"])), "| config fields:", len(last["config"]))
print(f"  iteration {last['iteration']}, epoch {last['epoch']}, categories {last['categories']}, "
      f"N_max {last['max_len']}, model tensors {len(last['model'])}")

# %% [markdown]
# **Resume.** `iapix train ... --resume` (or `Trainer(..., resume=True)`) reads `last.pt` from the run folder, restores
# all of it, cuts `log.csv` and `valid.csv` back to the checkpoint, and goes on. Each epoch's shuffling is seeded by
# `(seed, number of epochs started)` and the random states are restored, so the resumed run sees the same batches and
# draws the same random numbers as a run that was never stopped. Ctrl-C, the notebook's stop button or `kill`
# (SIGINT, SIGTERM) ends the step in progress and saves `last.pt` there, so nothing is lost; a `kill -9` or a
# crash loses at most the steps since the last save, which are then redone identically. The settings must match the
# interrupted run, except how it ends: a larger
# `--max-epochs`, `--max-steps` or `--patience` extends a finished run, and `--[no-]rollback` may change.
#
# The test suite kills a training process with SIGKILL and checks the resumed curve. Here we stop a run after 5
# steps, in the middle of its first epoch (a step budget stands in for the kill), resume it, and compare with the
# uninterrupted run of section 3:
#
# (The two runs together take a little longer than the run of section 3: a few seconds in the quick setting, several
# minutes without it; 10 measured on two CPU cores shared with other jobs.)

# %%
# NBVAL_IGNORE_OUTPUT
# (progress and the time taken: the next cell prints and checks what these runs did)
RUN2 = Path(TMP.name) / "interrupted"
Trainer(replace(cfg, max_steps=5), data=data, out_dir=RUN2, device="cpu", progress=True).fit()
stopped = read_checkpoint(RUN2 / "last.pt")
resumed = Trainer(cfg, data=data, out_dir=RUN2, device="cpu", progress=True, resume=True)
resumed_at = resumed.iteration
print(f"resumed run: {resumed.fit()['seconds']:.0f} s")

# %%
print(f"stopped at iteration {stopped['iteration']}, batch {stopped['batch_in_epoch']} of epoch {stopped['epoch']}")
print(f"resumed at iteration {resumed_at}")
a, b = read_log(RUN), read_log(RUN2)
print("same iterations logged:", [r["iteration"] for r in a] == [r["iteration"] for r in b])
print("same loss at every step as the uninterrupted run:",
      np.allclose([float(r["total"]) for r in a], [float(r["total"]) for r in b], rtol=1e-4))
wa, wb = read_checkpoint(RUN / "last.pt")["model"], read_checkpoint(RUN2 / "last.pt")["model"]
print("same final weights:", all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-5) for k in wa))

# %% [markdown]
# ## 6. The shipped checkpoints
#
# The repository ships two trained models of the `small` size on cats and pigs (the embedded data): one trained with
# the IA objective and one with the RPCL baseline, same data, seed and settings (epochs of 1 000 steps, the image
# rendered from the augmented strokes, EM during IA's image warm-up). `iapix export` made slim copies of a checkpoint
# of each run (the weights, config, scale factor, counters, and a `note` saying how they were made; no optimiser
# state, so they are for sampling and evaluation, not for resuming). Notebooks 04 and 08 use them. A second pair,
# `checkpoints/five-small-{ia,rpcl}.pt`, was trained the same way on all five embedded categories ($K = 10$); notebooks
# 03, 06 and 07 use it, and docs/latent-space.md tells how it was trained and chosen. This section looks at the
# cat/pig pair.

# %%
def as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else x  # a config read back from a file has lists, not tuples


small = preset("small").to_dict()
shipped = {}
for name in ("catpig-small-ia", "catpig-small-rpcl"):
    path = CHECKPOINTS / f"{name}.pt"
    if not path.is_file():
        print(f"{path}: not here (see section 7 to train it)")
        continue
    ck = shipped[name] = read_checkpoint(path)
    diff = {k: v for k, v in ck["config"].items() if as_list(small.get(k)) != as_list(v)}
    n_params = sum(v.numel() for k, v in ck["model"].items() if not k.startswith("latent."))  # not the GMM buffers
    print(f"{name}: objective {ck['config']['objective']!r}, categories {ck['categories']}, "
          f"{n_params:,} parameters")
    print(f"  config: the small preset with {diff}")
    # a snapshot (--snapshot-every) is taken before its epoch's validation: read that from the run's valid.csv
    valid = {int(r["iteration"]): float(r["valid_recon"]) for r in read_log(CHECKPOINTS / name, "valid.csv")} \
        if (CHECKPOINTS / name / "valid.csv").is_file() else {}
    loss = (f"validation reconstruction loss {valid[ck['iteration']]:.2f}" if ck["iteration"] in valid
            else f"best validation reconstruction loss before it {ck['best']:.2f}")
    print(f"  checkpoint after {ck['iteration']} iterations (step {ck['step']}), {loss}; "
          f"scale {ck['scale']:.3f}, N_max {ck['max_len']}")
    print("  note:", " ".join(str(ck.get("note") or "(none)").split()))  # how it was made
for name in shipped:  # the training logs and learning curves shipped beside each checkpoint
    print(f"{CHECKPOINTS.name}/{name}/:", ", ".join(sorted(p.name for p in (CHECKPOINTS / name).glob("*.*"))))

# %% [markdown]
# If the training logs were shipped next to the checkpoints (a folder per run with `log.csv` and `valid.csv`), the
# next cell draws them with `plot_log` and puts the two validation curves side by side. Things to look for:
#
# * the IA total is dominated by the image term during the first 3 epochs (the image warm-up) and drops in one step
#   when that term is switched off, while RPCL keeps its MSE image term for the whole run. A log that ends with the
#   warm-up (the cell prints whether the image term was still on at the last step) does not show the drop;
# * the latent terms grow in weight with $w_t$, which is still far from 1 after a few thousand steps;
# * the right-hand panels count the Gaussians still alive. iapix's IA updates the mixture with EM weights during the
#   image warm-up and with BYY harmony weights after it; BYY may then switch off Gaussians that the codes do not
#   need (notebook 03; notebook 06, section 2, shows why it must not start too early). RPCL's EM, with its tiny
#   rival penalty, tends to keep them all. Whether the survivors separate the categories is what notebook 07
#   measures (on the five-category pair);
# * an epoch that did not improve (a cross in the last plot) was rolled back: the next epoch starts again from the
#   best checkpoint (unless the run trained on with `--no-rollback`).

# %%
runs = [CHECKPOINTS / name for name in ("catpig-small-ia", "catpig-small-rpcl")
        if (CHECKPOINTS / name / "log.csv").is_file()]
if not runs:
    print(f"no training logs under {CHECKPOINTS}/<run>/log.csv: nothing to draw")
for run in runs:
    fig = plot_log(run)
    fig.suptitle(run.name, fontsize=10)
    fig.tight_layout()
    plt.show()
    log = read_log(run)
    print(f"{run.name}: {len(log)} iterations, epochs {log[0]['epoch']}-{log[-1]['epoch']} (counted from 0); "
          f"image term on at the last step: {float(log[-1]['image']) > 0}; "
          f"w_t there {float(log[-1]['kl_weight']):.2f}; Gaussians alive there {log[-1]['alive']}")
if runs:
    fig, ax = plt.subplots(figsize=(6, 3))
    for run in runs:
        v = read_log(run, "valid.csv")
        it = [int(r["iteration"]) for r in v]
        ax.plot(it, [float(r["valid_recon"]) for r in v], "o-", ms=3, label=run.name)
        bad = [i for i, r in zip(it, v) if r["improved"] == "0"]
        ax.plot(bad, [float(r["valid_recon"]) for r in v if r["improved"] == "0"], "x", color="k", ms=7)
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation recon")
    ax.set_title("validation reconstruction loss per epoch (x: not better than the best)", fontsize=9)
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ### How long until a model draws: the learning curve
#
# The loss says little about whether the samples look like cats. `iapix train ... --snapshot-every 1000` keeps a
# slim copy of the model every 1 000 iterations, and `iapix curve RUN` measures each copy on the 450 test sketches,
# as `iapix evaluate` does (notebook 07): Rec (does the classifier recognise the category of a reconstruction?),
# Ret@1, the mean generated length and the share of generations that end by $p_{end}$ before $N_{max}$, the live
# Gaussians, NMI(component, category) and the per-Gaussian control. It writes one row per snapshot to
# `RUN/curve.csv`. The two shipped runs' curves are shipped beside their logs. sketch-rnn needs 10–20 thousand
# steps before its samples look like anything on its 70 000 sketches per category: a model that still scribbles
# after a thousand steps is not broken, only young.

# %%
from iapix.curve import plot_curves, read_curve

curves = {name: read_curve(CHECKPOINTS / name) for name in ("catpig-small-ia", "catpig-small-rpcl")}
if not any(curves.values()):
    print(f"no learning curve under {CHECKPOINTS}/<run>/curve.csv: nothing to draw (`iapix curve RUN` writes one)")
COLUMNS = ["iteration", "rec", "ret1", "mean_length", "ended", "alive", "nmi", "control"]
for name, rows in curves.items():
    if rows:
        print(name)
        display(table([[int(r[k]) if k in ("iteration", "alive") else r[k] for k in COLUMNS] for r in rows],
                      COLUMNS, "{:.3g}"))
if any(curves.values()):
    plot_curves({name: rows for name, rows in curves.items() if rows})
    plt.show()

# %%
from iapix.data import read_npz

ia_c, rp_c = curves["catpig-small-ia"], curves["catpig-small-rpcl"]  # shipped beside the checkpoints
at = lambda rows, step: next(r for r in rows if r["step"] == step)  # noqa: E731
late = lambda rows: [r for r in rows if r["step"] >= 4000]  # noqa: E731
test_sizes = {c: len(read_npz(DATA / f"{c}.npz")["test"]) for c in CATS}
pig_share = test_sizes["pig"] / sum(test_sizes.values())
bound = read_checkpoint(CHECKPOINTS / "classifier-catpig.pt", ("info",),
                        "the cat/pig Rec classifier")["info"]["test_acc"]
span = lambda rows, k: (min(r[k] for r in late(rows)), max(r[k] for r in late(rows)))  # noqa: E731
moves = max(abs(a["rec"] - b["rec"]) for rows in (ia_c, rp_c) for a, b in zip(late(rows), late(rows)[1:]))
display(Markdown(f"""
Read the tables row by row. After 1 000 steps the models have not learned to stop: fewer than one generation in five
ends by $p_{{end}}$ and the mean length is at or near $N_{{max}}$ = {shipped['catpig-small-ia']['max_len']}. The
next thousand steps teach the decoder to end a drawing and lift Rec above chance ({pig_share:.2f}, the share of
pigs among the {sum(test_sizes.values())} test sketches; the classifier's own bound is {bound:.2f}). From step
4 000 on, most generations end by themselves (more than 90 % from step 8 000), and Rec levels off: between
{span(ia_c, 'rec')[0]:.2f} and {span(ia_c, 'rec')[1]:.2f} for IA and between {span(rp_c, 'rec')[0]:.2f} and
{span(rp_c, 'rec')[1]:.2f} for RPCL, moving by up to {moves:.2f} from one snapshot to the next. Ret@1 climbs from a
few hundredths towards a tenth for IA ({span(ia_c, 'ret1')[1]:.2f} at best) and stays near 0.05 for RPCL. The
Gaussians stay alive; NMI stays far below 1 and so does the per-Gaussian control: the samples are recognisable
heads, but the mixture does not sort them by category. Notebook 08 uses these checkpoints; 06 and 07 look at the
five-category pair, whose Gaussians do follow the categories, in detail.
"""))
print("\n".join([
    holds(all(at(c, 1000)["ended"] < 0.2 and at(c, 1000)["mean_length"] >= 150 for c in (ia_c, rp_c)),
          "step 1000: fewer than one in five ended, mean length at least 150"),
    holds(all(at(c, 2000)["rec"] > pig_share + 0.05 and at(c, 2000)["ended"] > at(c, 1000)["ended"] + 0.3
              for c in (ia_c, rp_c)), "step 2000: Rec above chance, many more generations end"),
    holds(all(r["ended"] > 0.5 for c in (ia_c, rp_c) for r in late(c)), "from step 4000: most generations end"),
    holds(all(r["ended"] > 0.9 for c in (ia_c, rp_c) for r in c if r["step"] >= 8000), "from step 8000: over 90 % end"),
    within(moves, 0, 0.06, "largest change of Rec between two snapshots from step 4000"),
    within(span(ia_c, "ret1")[1], 0.08, 0.15, "ia: best Ret@1 from step 4000"),
    holds(all(0.03 <= r["ret1"] <= 0.07 for r in late(rp_c)), "rpcl: Ret@1 between 0.03 and 0.07 from step 4000"),
    holds(all(r["alive"] == 4 for c in (ia_c, rp_c) for r in c), "every Gaussian alive in every snapshot"),
    holds(all(r["nmi"] < 0.25 and r["control"] < 0.9 for c in (ia_c, rp_c) for r in c),
          "NMI below 0.25 and control below 0.9 in every snapshot")]))

# %%
valid = {name: read_log(CHECKPOINTS / name, "valid.csv") for name in curves}
best_step = {name: int(min(v, key=lambda r: float(r["valid_recon"]))["step"]) for name, v in valid.items()}
n_train = sum(len(read_npz(DATA / f"{c}.npz")["train"]) for c in CATS)
ia_cfg = shipped["catpig-small-ia"]["config"]
passes = shipped["catpig-small-ia"]["step"] * ia_cfg["batch_size"] / n_train
chosen = {name: max(read_curve(CHECKPOINTS / name, "valid"), key=lambda r: r["rec"]) for name in curves}
num = lambda x: f"{x:,}".replace(",", " ")  # noqa: E731  (3 000, as in the text)
display(Markdown(f"""
With {num(n_train)} training sketches, {num(shipped['catpig-small-ia']['step'])} steps of {ia_cfg['batch_size']}
are about {passes:.0f} passes over the data. The validation loss (the figure above) is the check against memorising
them: both runs had their best validation loss at step {num(best_step['catpig-small-ia'])}, and every epoch after it
was worse (a cross), rising steadily, while Rec and Ret@1 did not get worse and the share ended mostly rose: the
teacher-forced loss and the sketches that the model draws by itself need not agree. So these runs went on with
`iapix train --resume --no-rollback` from that step instead of rolling back, and the shipped checkpoint of each
objective is the snapshot (steps 4 000 to 10 000) with the highest Rec on the *validation* sketches (`iapix curve
RUN --split valid`, `curve-valid.csv` beside the logs): step {num(int(chosen['catpig-small-ia']['step']))} for IA
and {num(int(chosen['catpig-small-rpcl']['step']))} for RPCL. So the test numbers above played no part in the choice
(the `note` printed in section 6 says the same).
"""))
checks = [holds(len(set(best_step.values())) == 1, "both runs had their best validation loss at the same step")]
for name, v in valid.items():
    after = [float(r["valid_recon"]) for r in v if int(r["step"]) >= best_step[name]]
    rows, b = curves[name], best_step[name]
    checks += [
        holds(all(x < y for x, y in zip(after, after[1:])), f"{name}: validation loss rising at every epoch after it"),
        holds(all(r["rec"] >= at(rows, b)["rec"] and r["ret1"] >= at(rows, b)["ret1"] for r in rows if r["step"] > b)
              and rows[-1]["ended"] > at(rows, b)["ended"], f"{name}: Rec and Ret@1 no worse after it, more ended"),
        holds(int(chosen[name]["step"]) == shipped[name]["step"] and 4000 <= shipped[name]["step"] <= 10000,
              f"{name}: the shipped checkpoint is the snapshot with the highest validation Rec")]
print("\n".join(checks))

# %% [markdown]
# ## 7. A full run on a GPU
#
# The code is the same on a CPU and a GPU. Only the data and the preset change. Get the full sketch-rnn files
# (70 000 / 2 500 / 2 500 sketches per category, checked after download and resumable):
#
# ```bash
# .venv/bin/iapix download cat pig --data data/full
# ```
#
# Train the paper's model (code 128, HyperLSTM 2048 with a 256-unit hyper cell, batch 128) on one GPU, in float32:
#
# ```bash
# .venv/bin/iapix train --config paper --categories cat pig --data data/full \
#     --out runs/catpig-paper-ia --device cuda
# ```
#
# On an H200 a step took 0.20 s, about 35 minutes for 10 000 steps. That is the host's time, not the GPU's: the
# HyperLSTM makes about 180 small calls per time step, so bfloat16 (`--amp bf16`) only made it slower, and two runs
# (IA and RPCL) can share one GPU at full speed each (docs/benchmarks.md, "On a GPU").
#
# * after an interruption, run the **same command with `--resume`**; to train longer, resume with a larger
#   `--max-epochs`;
# * `--objective rpcl` (or `vae`) trains a baseline with the same networks, on the same data and budget;
# * `--compile` wraps the decoder's recurrent step in `torch.compile`;
# * `iapix plot-log runs/catpig-paper-ia` draws the curves; `iapix export runs/catpig-paper-ia/best.pt
#   checkpoints/catpig-paper-ia.pt --note "..."` writes a slim copy for sampling.
#
# On several GPUs of one machine, `torchrun` starts one process per GPU (DistributedDataParallel):
#
# ```bash
# torchrun --nproc_per_node=4 -m iapix.train --config paper --categories cat pig \
#     --data data/full --out runs/catpig-paper-ia-ddp
# ```
#
# The options of the single-GPU command (`--device cuda`, `--resume`, ...) work the same way here.
# Every process walks the same shuffled order and takes every $N$-th batch, so each optimiser step sees $N$ batches
# of 128 (an effective batch of $128N$) and an epoch has $N$ times fewer steps. The GMM's batch statistics are summed
# across the processes before each update, so all of them hold the same mixture. Only process 0 writes logs and
# checkpoints.

# %%
TMP.cleanup()  # the live runs of this notebook

# %% [markdown]
# ## What we used
#
# ```python
# from iapix.model import IAPix, Config, preset, learning_rate   # forward() returns every loss term
# from iapix.latent import kl_weight                              # the warm-up w_t
# from iapix.train import Trainer                                 # a run folder: checkpoints and logs
# from iapix.logplot import plot_log                              # draws a run's log.csv and valid.csv
# from iapix.checkpoint import read_checkpoint, load_checkpoint, save_checkpoint, export_checkpoint
# from iapix.curve import read_curve, plot_curves                 # the learning curve of snapshots
# ```
#
# Command line: `iapix train`, `iapix plot-log`, `iapix curve`, `iapix export`, and `torchrun -m iapix.train` for
# several GPUs. Next: **06 controllable sampling**, drawing from a chosen Gaussian of the trained mixture.
