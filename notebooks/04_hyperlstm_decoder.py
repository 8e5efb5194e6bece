# %% [markdown]
# # 04 · The HyperLSTM decoder: from a code to pen strokes
#
# Notebook 02 read a sketch as a picture and turned it into a code $z$ (the *Yang path*). This notebook builds the
# way back, the *Ying path* $z \to$ strokes: a recurrent network that starts from $z$ and writes the sketch one pen
# movement at a time, the way a person draws it. It is sketch-rnn's decoder: at every step it outputs a
# **probability distribution** over the next pen movement, a mixture of bivariate Gaussians for the offset
# $(\Delta x, \Delta y)$ and three probabilities for the pen state, and it is trained to make the real next point
# likely.
#
# Plan:
#
# 1. stroke-5 and teacher forcing: what goes in and what comes out,
# 2. the mixture density output (MDN) and a picture of its density,
# 3. from LSTM to layer-norm LSTM to **HyperLSTM**,
# 4. what the hyper cell does over a real sketch, at initialisation and after training,
# 5. the reconstruction loss on a real batch, and why training and evaluation mask it differently,
# 6. sampling, and the temperature $\tau$.
#
# The trained pictures use the checkpoint shipped with the repository, `checkpoints/catpig-small-ia.pt` (the `small`
# model trained on cats and pigs; notebook 05 shows how it was made). Without it those cells say so and the rest
# still runs.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from iapix.notebook import setup, show_source, table

QUICK = setup()  # inline PNG figures, one torch thread, seed 0; True under `make test`: fewer sketches
DATA = Path("../data")                           # the embedded data set (relative to notebooks/)
CKPT = Path("../checkpoints/catpig-small-ia.pt")  # the shipped trained model
CATS = ["cat", "pig"]
GATES = ["i (input)", "g (candidate)", "f (forget)", "o (output)"]
PEN = ["down", "up", "end"]


# %% [markdown]
# ## 1. Stroke-5 and teacher forcing
#
# Recall stroke-5 from notebook 01: a batch is a tensor $[B, N_{\max}+1, 5]$ whose rows are
# $(\Delta x, \Delta y, p_{\text{down}}, p_{\text{up}}, p_{\text{end}})$. Row 0 is the start token $(0,0,1,0,0)$,
# rows $1..n$ hold the $n$ points of the sketch, and every row after the end is $(0,0,0,0,1)$.
#
# The decoder is an RNN. At step $t$ it reads the previous point and the code, $x_t = [S_{t-1}, z]$ ($5 + d_z$
# numbers), updates its state, and outputs a distribution for the next point $S_t$. Its initial state is
# $\tanh(W_0 z + b_0)$, so the code enters twice: in the starting state and at every step.
#
# **Teacher forcing.** During training the input at step $t$ is the *true* previous point, not one the model sampled
# itself. Then every step's input is known in advance: the inputs are `strokes5[:, :-1]`, the targets are
# `strokes5[:, 1:]`, and one pass over the sequence scores all $N_{\max}$ predictions. Only when generating
# (section 6) does the model feed back its own samples.
#
# We load cats and pigs with the normalisation of the shipped model: the scale factor $\sigma$ of the full cat + pig
# training split (notebook 01). The quick setting keeps 50 sketches per split and category.

# %%
from iapix.data import clean, from_stroke5, prepare, read_npz, scale_factor

SCALE = scale_factor([s for c in CATS for s in clean(read_npz(DATA / f"{c}.npz")["train"], max_len=250).strokes])
prep = prepare(CATS, DATA, limit=50 if QUICK else None, scale=SCALE)
valid = prep.dataset("valid")  # no augmentation: the same batch on every run
pick = np.r_[np.flatnonzero(prep.labels["valid"] == 0)[:8], np.flatnonzero(prep.labels["valid"] == 1)[:8]]
strokes5, lengths, images, labels = valid.collate([valid[i] for i in pick])
inputs, targets = strokes5[:, :-1], strokes5[:, 1:]  # teacher forcing
print(f"scale factor sigma = {SCALE:.3f}")
print(f"strokes5 {list(strokes5.shape)} -> inputs {list(inputs.shape)}, targets {list(targets.shape)}")
print("lengths:", lengths.tolist())


# %% [markdown]
# One pig, step by step: the input row, and the target the decoder must predict from it. The step that reads the
# last real point (row $n$) must predict the end state, and after the end the targets stay "end".

# %%
def row_text(r):
    return f"({r[0]:+.2f}, {r[1]:+.2f}) {PEN[int(r[2:].argmax())]}"


b = 8  # the first pig of the batch
n = int(lengths[b])
rows = [["…", "…", "…"] if t is None else [t + 1, row_text(inputs[b, t]), row_text(targets[b, t])]
        for t in [0, 1, 2, 3, None, n - 2, n - 1, n, n + 1]]
display(table(rows, ["step t", "input: row t-1 (and z)", "target: row t"]))

# %% [markdown]
# ## 2. The mixture density output
#
# Where does the pen go next? Usually not to one place: continue the curve, or close the ear, or jump to draw the
# tail. A single Gaussian would average the options into a point that belongs to none. sketch-rnn therefore outputs
# a **mixture of $M = 20$ bivariate Gaussians** for the offset, a *mixture density network* (MDN):
#
# $$p(\Delta x, \Delta y \mid h_t) = \sum_{j=1}^{M} \pi_j\,
# \mathcal N\big(\Delta x, \Delta y \mid \mu_{x,j}, \mu_{y,j}, \sigma_{x,j}, \sigma_{y,j}, \rho_j\big),$$
#
# $$\mathcal N(x, y \mid \cdot) =
# \frac{1}{2\pi\sigma_x\sigma_y\sqrt{1-\rho^2}}\exp\Big(-\frac{u^2 + v^2 - 2\rho\,u v}{2(1-\rho^2)}\Big),
# \qquad u = \frac{x-\mu_x}{\sigma_x},\quad v = \frac{y-\mu_y}{\sigma_y},$$
#
# and, for the pen state, three probabilities $(q_{\text{down}}, q_{\text{up}}, q_{\text{end}})$. All of it comes from
# one linear layer on the RNN output $h_t$: $6M + 3 = 123$ numbers per step, split as
# `[pen logits (3), pi logits (M), mu_x (M), mu_y (M), log sigma_x (M), log sigma_y (M), rho before tanh (M)]`. Each
# piece goes through the function that puts it in its range: softmax for $\pi$ and $q$, $\exp$ for $\sigma$, $\tanh$ for
# $\rho$.
#
# Here is an untrained decoder of the `small` size (the shipped model's): code size 32, a HyperLSTM of 256 units.
# `SketchDecoder.forward` does the teacher-forced pass and returns the split parameters.

# %%
from iapix.decoder import SketchDecoder, mixture_log_prob
from iapix.model import preset

cfg = preset("small")
torch.manual_seed(0)
decoder = SketchDecoder(cfg.z_dim, cfg.cell, cfg.hidden_size, cfg.hyper_size, cfg.embed_size,
                        cfg.num_mixture).eval()  # eval: no recurrent dropout
z = torch.randn(len(lengths), cfg.z_dim)  # stand-in codes: there is no trained encoder yet
with torch.no_grad():
    params = decoder(strokes5, z)  # reads strokes5[:, :-1] and z; one set of parameters per target row
print(f"MDN head: {decoder.head.linear.in_features} -> {decoder.head.linear.out_features} numbers per step")
for k, v in params.items():
    print(f"  {k:<12} {list(v.shape)}")
sig = torch.cat([params["log_sigma_x"], params["log_sigma_y"]]).exp()
print(f"sigma in [{sig.min():.3f}, {sig.max():.3f}], |rho| <= {params['rho'].abs().max():.3f}")

# %% [markdown]
# To *see* the distribution, evaluate $p(\Delta x, \Delta y \mid h_t)$ on a grid of offsets with
# `iapix.decoder.mixture_log_prob` (a log-sum-exp over the components, computed in float32). The helper below draws
# it at two steps of the pig above: a step in the middle of its longest stroke (A) and its longest pen-up move, the
# jump to a new stroke (B).
# The shade is the log-density (darker is likelier; the top 8 nats are shown, so that sharp peaks and broad tails
# are both visible). Offsets are in units of $\sigma$ and $y$ points down, as on screen. Circles mark the component
# means (their area is $\propto \pi_j$) and the star marks the true next offset.

# %%
from iapix.plot import strokes_to_lines


def steps_to_show(b):
    # A: the middle of the longest stroke; B: the longest pen-up move (a jump to a new stroke)
    n = int(lengths[b])
    ends = torch.nonzero(targets[b, :n, 3]).flatten().tolist()  # the last point of each stroke
    starts = [0] + [e + 1 for e in ends[:-1]]                  # each stroke's first row (a pen-up move but the first)
    longest = max(range(len(ends)), key=lambda k: ends[k] - starts[k])
    moves = [e + 1 for e in ends if e + 1 < n]
    jump = max(moves, key=lambda t: float(targets[b, t, :2].norm()))
    return {"A": (starts[longest] + ends[longest]) // 2, "B": jump}


def density_panel(ax, p, b, t, r):
    one = {k: v[b, t] for k, v in p.items()}  # this step's parameters: [M] each, pen [3]
    g = torch.linspace(-r, r, 201)
    gy, gx = torch.meshgrid(g, g, indexing="ij")
    logp = mixture_log_prob(one, gx, gy)
    shade = logp.clamp_min(logp.max() - 8)  # log density, the top 8 nats: sharp and broad parts both visible
    ax.imshow(shade, extent=(-r, r, r, -r), cmap="Greys", interpolation="bilinear")
    pi = torch.softmax(one["pi_logits"], -1)
    inside = (one["mu_x"].abs() < r) & (one["mu_y"].abs() < r)
    ax.scatter(one["mu_x"][inside], one["mu_y"][inside], s=600 * pi[inside], facecolors="none",
               edgecolors="tab:blue", lw=1)
    ax.plot(*targets[b, t, :2], "*", color="tab:red", ms=13, mec="white")
    ax.axhline(0, color="0.8", lw=0.5)
    ax.axvline(0, color="0.8", lw=0.5)
    q = torch.softmax(one["pen_logits"], -1)
    ax.set_title(f"step {t + 1}: q = " + ", ".join(f"{s} {v:.2f}" for s, v in zip(PEN, q)), fontsize=8)
    ax.set_xlabel("dx")
    ax.set_ylabel("dy")
    return float(logp.exp().sum() * (g[1] - g[0]) ** 2)  # the integral of the density over the grid


def show_step_densities(p, b, title, r=4.0):
    n = int(lengths[b])
    r = max(r, 1.15 * float(targets[b, list(steps_to_show(b).values()), :2].abs().max()))  # the stars inside
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    s = from_stroke5(targets[b, :n].numpy())
    pts = np.vstack([[0.0, 0.0], np.cumsum(s[:, :2], axis=0)])
    for line in strokes_to_lines(s):
        axes[0].plot(line[:, 0], line[:, 1], color="0.3", lw=1.2)
    mass = {}
    for ax, (name, t) in zip(axes[1:], steps_to_show(b).items()):
        axes[0].plot(*pts[t], "o", color="tab:red", ms=5)
        axes[0].annotate(name, pts[t], xytext=(4, 4), textcoords="offset points", color="tab:red")
        mass[name] = density_panel(ax, p, b, t, r)
        ax.text(0.03, 0.95, name, transform=ax.transAxes, color="tab:red", va="top", fontsize=12)
    axes[0].set_aspect("equal")
    axes[0].invert_yaxis()
    axes[0].axis("off")
    axes[0].set_title("the pig; the density is shown at A and B", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()
    return mass


mass = show_step_densities(params, b, "untrained decoder", r=6.0)
print("integral of the density over the grid:", {k: round(v, 3) for k, v in mass.items()})

# %% [markdown]
# Untrained, every step gets the same kind of answer: twenty components near the origin with $\sigma \approx 1$, one
# broad blob, and pen probabilities near $\frac13$ each. The integrals confirm that the picture is a normalised
# density. The trained model (if its checkpoint is here) is far more decided. Inside a stroke (A), the density is a
# narrow peak next to the true offset and the pen almost surely stays down. For the jump to a new stroke (B) it is
# much less sure: the density spreads far, over the many places where a next stroke could start.

# %%
# NBVAL_IGNORE_OUTPUT
# (depends on the shipped checkpoint, which may be retrained)
from iapix.checkpoint import load_checkpoint

if CKPT.is_file():
    ck = load_checkpoint(CKPT)  # the model (eval mode), its scale, N_max, categories and counters
    model = ck.model
    print(f"loaded {CKPT.name}: step {ck.info['step']}, best validation reconstruction loss {ck.info['best']:.1f}; "
          f"same scale factor as here: {np.isclose(ck.scale, SCALE)}")
    with torch.no_grad():
        mu, s2 = model.encode(images)  # the trained encoder's codes of the 16 sketches
        params_trained = model.decoder(strokes5, mu)
    show_step_densities(params_trained, b, "trained decoder (catpig-small-ia)", r=4.0)
else:
    model = None
    print(f"no {CKPT}: the trained pictures are skipped (train one with notebook 05 or `iapix train`)")

# %% [markdown]
# ## 3. From LSTM to HyperLSTM
#
# **LSTM.** With the gate order $(i, g, f, o)$ of sketch-rnn, the four gate pre-activations are
# $\hat a_k = W_{x,k}\,x_t + W_{h,k}\,h_{t-1} + b_k$ and
#
# $$c_t = \sigma(\hat a_f + 1)\odot c_{t-1} + \sigma(\hat a_i)\odot \tanh(\hat a_g),
# \qquad h_t = \sigma(\hat a_o)\odot \tanh(c_t).$$
#
# The $+1$ is the forget bias: at the start the cell keeps most of its memory.
#
# **Layer-norm LSTM.** Each gate's pre-activation is normalised on its own over its $H$ units,
# $\mathrm{LN}(a) = \gamma \odot \frac{a - \operatorname{mean}(a)}{\operatorname{std}(a)} + \beta^{\mathrm{LN}}$ with a
# learned gain $\gamma$ and shift $\beta^{\mathrm{LN}}$ per unit, and $\tanh(c_t)$ becomes $\tanh(\mathrm{LN}(c_t))$
# (the cell state itself is kept un-normalised). This keeps the gates in a useful range whatever the scale of the
# weights, which makes long sequences (up to 250 steps here) train reliably.
#
# **HyperLSTM** (Ha et al., 2016; the paper's decoder). A second, small layer-norm LSTM, the *hyper cell* with
# $N_h$ units, reads $[x_t, h_{t-1}]$ and outputs $\hat h_t$. From it, small linear *embeddings* (size $E$) give, for
# every gate $k$ and every step, two scaling vectors and a bias vector, each of length $H$:
#
# $$\alpha^x_{k,t} = W^{x}_{a,k}\big(W^{x}_{z,k}\,\hat h_t + b^{x}_{z,k}\big),\qquad
# \alpha^h_{k,t} = W^{h}_{a,k}\big(W^{h}_{z,k}\,\hat h_t + b^{h}_{z,k}\big),\qquad
# \beta_{k,t} = W_{b,k}\,W^{b}_{z,k}\,\hat h_t,$$
#
# $$\hat a_{k,t} =
# \mathrm{LN}_k\big(\alpha^x_{k,t}\odot W_{x,k}\,x_t + \alpha^h_{k,t}\odot W_{h,k}\,h_{t-1} + \beta_{k,t} + b_k\big).$$
#
# The main cell's weights are thus **modulated at every step**: the hyper cell can, say, make the forget gate listen
# more to the input right after a pen lift. Its cost is small, because the hyper cell is small and the modulation
# is elementwise. The sizes are $H = 2048$, $N_h = 256$, $E = 32$ in the paper and $256 / 32 / 8$ in `small`.
#
# **Initialisation.** The embedding weights $W_z$ start at 0 and their biases at 1, so every embedding starts as the
# constant vector of ones, and $W_a = 0.1/E$. Hence every $\alpha$ starts at exactly $E \cdot 0.1/E = 0.1$, for every
# unit, gate and input, and $W_b = 0$ makes every $\beta$ start at 0. Because each gate is layer-normalised, scaling
# both of its inputs by 0.1 changes almost nothing: the initial HyperLSTM *is* a layer-norm LSTM whose weights are
# 0.1 times its own. The cell below checks that on random inputs.
#
# All three cells are in `iapix.decoder` behind one interface (`make_cell("lstm" | "layernorm" | "hyper", ...)`). The
# parameter counts are for the decoder cell alone (input $5 + d_z$), built on PyTorch's `meta` device, so no memory
# is allocated:

# %%
from iapix.decoder import HyperLSTMCell, LayerNormLSTMCell, make_cell

rows = []
for name, c in [("small", preset("small")), ("paper", preset("paper"))]:
    with torch.device("meta"):  # shapes only
        cells = {k: make_cell(k, 5 + c.z_dim, c.hidden_size, c.hyper_size, c.embed_size) for k in
                 ("lstm", "layernorm", "hyper")}
    rows.append([f"{name}: H={c.hidden_size}, N_h={c.hyper_size}, E={c.embed_size}"]
                + [f"{sum(p.numel() for p in m.parameters()):,} ({m.state_size})" for m in cells.values()])
display(table(rows, ["size", "LSTM params (state)", "layer-norm LSTM", "HyperLSTM"]))

torch.manual_seed(0)
H = 16
hyper = HyperLSTMCell(5 + 8, H, hyper_size=8, embed_size=4).eval()
ln = LayerNormLSTMCell(5 + 8, H).eval()
with torch.no_grad():
    ln.weight_x.copy_(0.1 * hyper.weight_x)
    ln.weight_h.copy_(0.1 * hyper.weight_hh[:, :4 * H])  # weight_hh holds [main W_h | hyper cell's h-part]
    x = torch.randn(3, 40, 5 + 8)
    h_hyper, _ = hyper(x)
    h_ln, _ = ln(x)
print("initial HyperLSTM == layer-norm LSTM with 0.1 x its weights:", bool((h_hyper - h_ln).abs().max() < 1e-5))


# %% [markdown]
# The HyperLSTM costs a fifth to a quarter more parameters than the LSTM it modulates, and its state is
# $[h, \hat h, c, \hat c]$, so $2(H + N_h)$ numbers.
#
# One step of the HyperLSTM in the package: the hyper cell runs first, `_embed` turns its output $\hat h_t$ into the
# twelve vectors $\alpha^x, \alpha^h, \beta$ (one batched product through $W_a$), and the gates are
# `beta + scale_x * xw + scale_h * hw`, layer-normalised gate by gate. (`step`, which sampling uses, runs this code;
# the teacher-forced `forward`, which training uses, runs a fused copy of it with a hand-written backward pass,
# `iapix.fused_hyperlstm`, tested against it.)

# %%
display(show_source(HyperLSTMCell._recur), show_source(HyperLSTMCell._embed))

# %% [markdown]
# ## 4. What the hyper cell does over a real sketch
#
# To watch the modulation, run the decoder **one step at a time** with teacher forcing (`SketchDecoder.step`) and,
# after each step, read the hyper cell's output $\hat h_t$ from the state (layout $[h, \hat h, c, \hat c]$).
# `HyperLSTMCell.hyper_embeddings` turns it into the $\alpha^x, \alpha^h, \beta$ that modulated that step, as an array
# `[3, 4, B, H]` (kind, gate, batch, unit).

# %%
@torch.no_grad()
def modulation(dec, s5, z):
    # teacher-force one sketch s5 [n+1, 5] with code z [d] -> (alpha_x, alpha_h, beta) at every step [n, 3, 4, H]
    cell = dec.cell
    H, Hh = cell.hidden_size, cell.hyper_size
    state, out = dec.init_state(z[None]), []
    for t in range(len(s5) - 1):
        _, state = dec.step(s5[t][None], z[None], state)
        out.append(cell.hyper_embeddings(state[:, H:H + Hh])[:, :, 0])  # state = [h, h_hyper, c, c_hyper]
    return torch.stack(out)


def show_modulation(mod, lifts, title, units=48):
    # heat maps: rows alpha_x, alpha_h, beta; columns the gates; y the first `units` units, x the steps
    fig, axes = plt.subplots(3, 4, figsize=(11, 5.6), sharex=True, sharey=True)
    for r, (kind, centre) in enumerate([("alpha_x", 0.1), ("alpha_h", 0.1), ("beta", 0.0)]):
        a = mod[:, r, :, :units].numpy()
        span = max(float(np.percentile(np.abs(a - centre), 99)), 1e-3)  # the colour range of this row
        for g in range(4):
            im = axes[r, g].imshow(a[:, g].T, aspect="auto", cmap="RdBu_r", vmin=centre - span,
                                   vmax=centre + span, interpolation="nearest")
            for t in lifts:
                axes[r, g].axvline(t + 0.5, color="k", lw=0.5, alpha=0.5)
            if r == 0:
                axes[r, g].set_title(f"gate {GATES[g]}", fontsize=9)
        axes[r, 0].set_ylabel(f"{kind}\nunit", fontsize=9)
        fig.colorbar(im, ax=axes[r].tolist(), fraction=0.02, pad=0.01)
    for ax in axes[-1]:
        ax.set_xlabel("step (black lines: pen lifts)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    plt.show()


n = int(lengths[b])
lifts = torch.nonzero(targets[b, :n, 3]).flatten().tolist()  # steps whose target lifts the pen
mod0 = modulation(decoder, strokes5[b, :n + 1], z[b])
print(f"{n} steps, modulation {list(mod0.shape)} (step, kind, gate, unit)")
for r, kind in enumerate(["alpha_x", "alpha_h", "beta"]):
    print(f"  at initialisation, {kind:<7} in [{mod0[:, r].min():.4f}, {mod0[:, r].max():.4f}]")
show_modulation(mod0, lifts, "untrained: every scale is 0.1 and every bias 0, at every step")

# %% [markdown]
# At initialisation the picture is flat: the hyper cell runs, but its embeddings ignore it, so the main cell is an
# ordinary layer-norm LSTM. Training is free to move away from that. The next cell repeats the measurement with the
# trained model, from the code that its encoder gives this pig.

# %%
# NBVAL_IGNORE_OUTPUT
# (depends on the shipped checkpoint, which may be retrained)
if model is None:
    print(f"no {CKPT}: skipped")
else:
    mod1 = modulation(model.decoder, strokes5[b, :n + 1], mu[b])
    rows = [[kind] + [f"{mod1[:, r, g].mean():.3f} ± {mod1[:, r, g].std():.3f}" for g in range(4)]
            for r, kind in enumerate(["alpha_x", "alpha_h", "beta"])]
    display(table(rows, ["trained: mean ± std over steps and units"] + GATES))
    show_modulation(mod1, lifts, "trained (catpig-small-ia): the scales now change from unit to unit and step to step")

    fig, axes = plt.subplots(1, 3, figsize=(11, 2.6), sharex=True)
    for r, kind in enumerate(["alpha_x", "alpha_h", "beta"]):
        for g in range(4):
            axes[r].plot(mod1[:, r, g].abs().mean(-1), label=GATES[g], lw=1)
        for t in lifts:
            axes[r].axvline(t + 0.5, color="k", lw=0.5, alpha=0.4)
        axes[r].set_title(f"mean |{kind}| over the units", fontsize=9)
        axes[r].set_xlabel("step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# After training the scales are no longer one number. Most of the change is *across units*: each unit of each gate
# gets its own scale (the horizontal stripes), which in effect rescales the rows of $W_{x,k}$ and $W_{h,k}$. On top
# of that the scales move *along the sketch*, and the line plots
# (the average $|\alpha|$ and $|\beta|$ over the units) show where: they jump at the pen lifts, where the drawing
# switches from "continue this line" to "start somewhere new". The biases $\beta$ start from zero weights and are
# still small after this short training.
#
# ## 5. The reconstruction loss
#
# The decoder is trained by maximum likelihood of the real sketch under its own predictions (sketch-rnn). For a
# sketch of $n$ points, the **offset loss** is the negative log-density of the true offsets and the **pen loss** is
# the cross-entropy of the true pen states, both summed over time and averaged over the batch:
#
# $$\mathcal L_s = -\frac1B\sum_{b=1}^{B}\sum_{t=1}^{n_b}\log p\big(\Delta x_{b,t}, \Delta y_{b,t}\mid h_{b,t}\big),
# \qquad \mathcal L_p = -\frac1B\sum_{b=1}^{B}\sum_{t=1}^{T_b}\sum_{k=1}^{3} p_{k,b,t}\,\log q_{k,b,t},$$
#
# and the reconstruction loss is $\mathcal L_R = \mathcal L_s + \mathcal L_p$.
#
# * The offset loss counts only the real points: after the end there is no offset to predict.
# * The pen loss runs over **all $T_b = N_{\max}$ steps in training**. The padded rows teach the model to say "end"
#   and to keep saying it, which is how it learns to stop. **When evaluating, $T_b = n_b$**: only the real points
#   count, so the score does not depend on how much padding a batch has.
#
# `SketchDecoder.loss` follows `self.training` for the pen mask unless `pen_mask_all` is given. On the untrained
# decoder:

# %%
with torch.no_grad():
    train_terms = decoder.loss(strokes5, lengths, z, pen_mask_all=True)   # the training rule
    eval_terms = decoder.loss(strokes5, lengths, z, pen_mask_all=False)   # the evaluation rule
N = targets.shape[1]
rows = [[k, f"{train_terms[k]:.3g}", f"{eval_terms[k]:.3g}"] for k in ("offset", "pen")]
display(table(rows, ["term (untrained)", f"training: pen over all N_max = {N} steps", "evaluation: real points"]))
print(f"uniform pen guess: log 3 x N_max = {np.log(3) * N:.3g},"
      f" log 3 x mean n = {np.log(3) * lengths.float().mean():.3g}")

# the same numbers from the formulas above
mask = (torch.arange(N)[None] < lengths[:, None]).float()  # [B, N]: 1 on the real points
with torch.no_grad():
    offset = -(mixture_log_prob(params, targets[..., 0], targets[..., 1]) * mask).sum(1).mean()
    ce = F.cross_entropy(params["pen_logits"].transpose(1, 2), targets[..., 2:].argmax(-1), reduction="none")
print("offset loss matches:", bool(torch.isclose(offset, eval_terms["offset"])),
      "| pen loss (training) matches:", bool(torch.isclose(ce.sum(1).mean(), train_terms["pen"])),
      "| pen loss (evaluation) matches:", bool(torch.isclose((ce * mask).sum(1).mean(), eval_terms["pen"])))

# %% [markdown]
# The untrained pen loss is close to $\log 3$ per step, a uniform guess. Training drives both terms down, and the
# offset loss can even become negative: it is a negative log-*density*, and a sharp density exceeds 1. Per step, the
# trained model is most surprised at the pen-up moves (B above), where the next stroke could start in many places.

# %%
# NBVAL_IGNORE_OUTPUT
# (depends on the shipped checkpoint, which may be retrained)
if model is None:
    print(f"no {CKPT}: skipped")
else:
    with torch.no_grad():
        tr = model.decoder.loss(strokes5, lengths, mu, pen_mask_all=True)
        ev = model.decoder.loss(strokes5, lengths, mu, pen_mask_all=False)
        nll = -mixture_log_prob(params_trained, targets[..., 0], targets[..., 1])[b, :n]
        pen_ce = F.cross_entropy(params_trained["pen_logits"][b, :n], targets[b, :n, 2:].argmax(-1), reduction="none")
    rows = [[k, f"{tr[k]:.3g}", f"{ev[k]:.3g}"] for k in ("offset", "pen")]
    display(table(rows, ["term (trained, z = mu)", "training rule", "evaluation rule"]))
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.plot(np.arange(1, n + 1), nll, label="offset: -log p(dx, dy)", lw=1)
    ax.plot(np.arange(1, n + 1), pen_ce, label="pen cross-entropy", lw=1)
    for t in lifts:
        ax.axvline(t + 2, color="k", lw=0.5, alpha=0.4)  # the step after a lift: the pen-up move
    ax.set_xlabel("step (black lines: pen-up moves)")
    ax.set_title("the trained model's loss along the pig", fontsize=9)
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ## 6. Sampling and the temperature
#
# To draw, the decoder feeds back its own output. It starts from the start token and the state $\tanh(W_0 z+b_0)$,
# and at each step it samples a component $j \sim \pi$, an offset from $\mathcal N_j$ and a pen state from $q$,
# then reads that point at the next step. It stops at $p_{\text{end}}$ or after $N_{\max}$ points. The
# **temperature** $\tau$ reshapes each step's distribution before sampling (method §5):
#
# $$\hat\pi_j = \frac{\exp(\log\pi_j/\tau)}{\sum_{l}\exp(\log\pi_l/\tau)},
# \qquad \hat q_k = \frac{\exp(\log q_k/\tau)}{\sum_l\exp(\log q_l/\tau)},
# \qquad \hat\sigma_{x,j} = \tau\,\sigma_{x,j},\quad \hat\sigma_{y,j} = \tau\,\sigma_{y,j}.$$
#
# A small $\tau$ picks the likeliest component and pen state and shrinks the noise: tidy, typical strokes. $\tau = 1$
# samples the model as trained, more varied and more wobbly. As $\tau \to 0$ this becomes the *greedy* mode (the
# arg-max component's mean and the arg-max pen state), `greedy=True`. The paper samples at $\tau = 0.24$. On a
# fixed set of mixture weights:

# %%
TAUS = [0.1, 0.24, 0.6, 1.0]
pi = torch.tensor([0.45, 0.25, 0.15, 0.10, 0.05])
rows = [[tau] + [f"{v:.3f}" for v in torch.softmax(pi.log() / tau, -1)] for tau in TAUS]
display(table(rows, ["tau"] + [f"pi_{j + 1}" for j in range(len(pi))]))

# %% [markdown]
# `SketchDecoder.generate` samples a whole batch of codes at once, each sketch stopping at its own end, and
# `iapix.sample.decode` wraps it: codes in, stroke-3 sketches out (in the data's units again). Below, one code (the
# trained encoder's $\mu$ for the pig), six samples per temperature, with a fixed seed:

# %%
# NBVAL_IGNORE_OUTPUT
# (depends on the shipped checkpoint, which may be retrained)
from iapix.plot import plot_sketch
from iapix.sample import decode

if model is None:
    print(f"no {CKPT}: skipped")
else:
    k = 6
    fig, axes = plt.subplots(len(TAUS), k + 1, figsize=(1.45 * (k + 1), 1.45 * len(TAUS)))
    original = from_stroke5(targets[b, :n].numpy())
    for r, tau in enumerate(TAUS):
        samples = decode(ck, mu[b:b + 1].repeat(k, 1), temperature=tau, seed=0)  # in pixel units
        plot_sketch(axes[r, 0], original, color="0.5", title="the pig" if r == 0 else None)
        for j, s in enumerate(samples):
            plot_sketch(axes[r, j + 1], s, lw=1.2)
        axes[r, 0].text(-0.25, 0.5, f"tau = {tau}", transform=axes[r, 0].transAxes, rotation=90, va="center",
                        ha="center", fontsize=9)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# At low temperatures the strokes are smooth and the outlines closed, but the samples still differ: the component and
# the pen state are still drawn at random, and one different choice early on sends the rest of the sketch elsewhere. As
# $\tau$ grows the strokes wobble and break apart, and at $\tau = 1$ little of the shape is left. This `small` model,
# trained briefly on a CPU (notebook 05 shows how), reproduces the pig only roughly. The paper's decoder is 8 times
# wider and sees about 40 times more sketches per category. Notebook 06 uses the temperature to sample from a chosen
# Gaussian of the latent mixture.
#
# ## What we used
#
# ```python
# from iapix.decoder import SketchDecoder          # z -> MDN parameters (teacher forcing), .loss, .step, .generate
# from iapix.decoder import make_cell, LSTMCell, LayerNormLSTMCell, HyperLSTMCell   # .hyper_embeddings(h_hyper)
# from iapix.decoder import MDNHead, mixture_log_prob, reconstruction_loss, sample_point
# from iapix.sample import decode                   # codes -> stroke-3 sketches, batched, with a seed
# from iapix.checkpoint import load_checkpoint      # a checkpoint file -> Checkpoint: .model (eval mode), .scale, ...
# ```
#
# `benchmarks/decoder.py` times the three cells (and `torch.compile` of the recurrent step) on a CPU or GPU.
# Next: **05 training**, where the encoder, the mixture and this decoder learn together.
