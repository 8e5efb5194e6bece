"""Build ``06_controllable_sampling.ipynb`` and ``07_evaluation.ipynb`` from the cell texts below (nbformat).

The notebooks are generated so that they can be rebuilt reproducibly; outputs are added by executing
them in place (the stored outputs are those of the quick setting that ``make test`` uses)::

    .venv/bin/python notebooks/_build_06_07.py
    IAPIX_QUICK=1 MPLBACKEND=Agg .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        notebooks/06_controllable_sampling.ipynb notebooks/07_evaluation.ipynb

Both notebooks read the shipped checkpoints (``checkpoints/catpig-small-{ia,rpcl}.pt``) and 07 the shared
classifier cache (``checkpoints/classifier-catpig.pt``); every printed line is deterministic (fixed
seeds, one thread), so no cell ignores its output except the one that displays the live widget.
Retraining a shipped checkpoint means executing the notebooks again.
"""

from __future__ import annotations

from _nbbuild import code, md, write


SETUP = r"""
%matplotlib inline
%config InlineBackend.figure_format = "png"
import csv
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.figure import Figure

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)
torch.manual_seed(0)
QUICK = os.environ.get("IAPIX_QUICK") == "1"  # set by `make test`: a subset of the test sketches
DATA, CHECKPOINTS = Path("../data"), Path("../checkpoints")  # relative to notebooks/
CATS = ["cat", "pig"]
NAMES = {"ia": "IA-pix2seq (BYY harmony)", "rpcl": "RPCL-pix2seq (KL + EM/RPCL)"}


def table(rows, header):
    # a small Markdown table
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return Markdown("\n".join(lines))
"""


# ==============================================================================================
# 06 -- controllable sampling

SAMPLING_NB = [
    md(r"""
    # 06 · Controllable sampling: one Gaussian at a time

    The point of a Gaussian-mixture latent space is control. If every Gaussian holds one kind of sketch (a category,
    or a style within it), then drawing a code $z \sim \mathcal N(m_k, \operatorname{diag} v_k)$ from Gaussian $k$ and
    decoding it should give a sketch of that kind. SPEC §5 lists the ways to generate:

    * **conditional**: encode a sketch image, decode from its mean code $\mu$ (a reconstruction);
    * **controlled**: draw $z$ from a chosen Gaussian $k$, or walk on a line between two codes (interpolation);
    * **temperature** $\tau$ (paper 0.24): mixture and pen logits divided by $\tau$, the Gaussians' standard deviations
      multiplied by $\tau$; *greedy* takes the arg-max and the means. Generation stops at $p_\text{end}$ or at $N_\max$.

    Plan:

    1. the two shipped mixtures, IA and RPCL, side by side,
    2. **why the IA model has only one Gaussian left**, and what that means for control,
    3. per-Gaussian grids,
    4. interpolation between two Gaussians and between two test sketches,
    5. the temperature,
    6. conditional reconstructions,
    7. the interactive explorer (`iapix.widgets`), and the plain functions behind it,
    8. SVG export.

    We use the two checkpoints shipped with the repository: the `small` model (code of 32 numbers, HyperLSTM of 256
    units) trained for 12 epochs on the embedded cats and pigs (3 600 training sketches) with the IA objective and with
    the RPCL baseline, same data, seed and budget (notebook 05). That is a tiny budget next to the paper's (a decoder
    of 2 048 units, 70 000 sketches per category, a GPU for days), and it shows: the sketches below are mostly loops and
    scribbles. Read this notebook for *how* controlled generation works and what the two mixtures did, not for
    pretty pictures.
    """),
    code(SETUP + r"""

from iapix.data import prepare
from iapix.latent import GMMLatent
from iapix.model import Config, IAPix
from iapix.plot import plot_sketch
from iapix.sample import encode, from_component, interpolate, to_svg
from iapix.train import load_model
from iapix.widgets import (Explorer, code_strip, component_panel, interpolation_strip, reconstruction_panel, suptitle,
                           temperature_strip, split_codes)
"""),
    md(r"""
    The test sketches give each Gaussian its *members* (the test codes whose component label, $\arg\max_k b_{ik}$ for
    IA and $\arg\max_k g_{ik}$ for RPCL, is $k$). They are prepared with the checkpoints' scale factor and $N_\max$. The
    quick setting (`IAPIX_QUICK=1`, used by `make test`) keeps the first 50 test sketches of each category.
    """),
    code(r"""
    models, ckpts = {}, {}
    for name in ("ia", "rpcl"):
        models[name], ckpts[name] = load_model(CHECKPOINTS / f"catpig-small-{name}.pt")
    ck = ckpts["ia"]
    assert ckpts["rpcl"]["scale"] == ck["scale"] and ckpts["rpcl"]["max_len"] == ck["max_len"], "same data for both"
    SCALE, NMAX = ck["scale"], ck["max_len"]
    data = prepare(CATS, DATA, limit=50 if QUICK else None, scale=SCALE, max_len=NMAX)
    codes = {name: split_codes(m, data) for name, m in models.items()}  # (mu, s2, component labels)
    test_labels = data.labels["test"]
    print(f"test sketches: {len(test_labels)} ({', '.join(f'{c} {(test_labels == i).sum()}' for i, c in enumerate(CATS))})"
          + (" -- the first 50 per category (IAPIX_QUICK=1)" if QUICK else ""))
    for name, m in models.items():
        print(f"{name}: {m.cfg.objective}, K = {m.latent.K}, step {ckpts[name]['step']} (epoch {ckpts[name]['epoch']}), "
              f"scale {SCALE:.3g}, N_max {NMAX}")
    """),
    md(r"""
    ## 1. The two mixtures

    Each model has $K = 4$ Gaussians (two categories $\times$ `num_sub` 2, SPEC §3). For each Gaussian: its weight
    $\alpha_k$, its mean variance $\bar v_k$ (over the 32 dimensions), and how many cat and pig test codes carry its
    label.
    """),
    code(r"""
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
    lat = models["ia"].latent
    live = int(lat.alpha.argmax())
    gap_m = float((lat.means - lat.means[live]).abs().max())
    gap_v = float((lat.variances - lat.variances[live]).abs().max())
    print(f"IA: alive (alpha > 1e-3): {int(lat.components_alive().sum())} of {lat.K}; largest difference between any "
          f"Gaussian and the live one {live}: means {gap_m:.0e}, variances {gap_v:.0e}")
    lat = models["rpcl"].latent
    print(f"RPCL: alive: {int(lat.components_alive().sum())} of {lat.K}")
    """),
    md(r"""
    The two runs ended very differently:

    * **IA** kept **one** Gaussian. The other three have $\alpha_k = 10^{-10}$, the lower clip of SPEC §3 step 7, and
      every test code, cat or pig, is labelled with the live one. Their means and variances are also
      equal to the live Gaussian's (to about $10^{-6}$), so they are copies of it with no weight.
    * **RPCL** kept two large Gaussians and two small ones, all above the "alive" threshold $10^{-3}$. But the
      large two do not split cats from pigs: each holds about as many of both.

    Neither mixture has found the categories at this budget. The IA result needs an explanation, because it is
    the opposite of what the method is for.

    ## 2. Why the IA model has one Gaussian left

    The training logs (shipped next to the checkpoints) count the Gaussians alive at every step. The dotted line is the
    warm-up weight $w_t = 1 - 0.999 \cdot 0.9999^t$ of the latent losses (SPEC §4), on the right-hand axis.
    """),
    code(r"""
    def read_log(name):
        with open(CHECKPOINTS / f"catpig-small-{name}" / "log.csv") as f:
            return list(csv.DictReader(f))


    logs = {name: read_log(name) for name in ("ia", "rpcl")}
    fig, ax = plt.subplots(figsize=(7, 2.8))
    for name, log in logs.items():  # x: iterations (a rolled-back epoch rewinds the step counter, not these)
        ax.step([int(r["iteration"]) for r in log], [int(r["alive"]) for r in log], where="post",
                label=f"{name}: Gaussians alive")
    ax.set_xlabel("training iteration"); ax.set_ylabel("alive (alpha > 1e-3)"); ax.set_ylim(0, 4.5)
    ax2 = ax.twinx()
    ax2.plot([int(r["iteration"]) for r in logs["ia"]], [float(r["kl_weight"]) for r in logs["ia"]], "k:", lw=1)
    ax2.set_ylabel("IA's w_t (dotted)")
    ax.legend(fontsize=8, loc="center right")
    ax.set_title(f"Gaussians alive at each of the {len(logs['ia'])} iterations (12 epochs)", fontsize=9)
    plt.show()
    alive = np.array([int(r["alive"]) for r in logs["ia"]])
    j = int(np.argmax(alive == 1))
    print(f"IA: one Gaussian alive from step {logs['ia'][j]['step']} on (of {len(alive)}); the latent losses then "
          f"weighed w_t = {float(logs['ia'][j]['kl_weight']):.3g}, and {float(logs['ia'][-1]['kl_weight']):.3g} "
          f"at the last step")
    """),
    md(r"""
    BYY harmony learning selects the number of Gaussians by itself (notebook 03). A Gaussian that the codes do not
    need loses its weight: next to a stronger rival its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are small or
    negative, its new $\alpha_k'$ is about 0, and the $0.95/0.05$ smoothing multiplies $\alpha_k$ by about 0.95 per
    step: from $1/4$ to below $10^{-3}$ in about 110 steps, down to the clip $10^{-10}$ in about 420.

    The problem is *when* that happened here: in the first ~150 steps. The encoder was still close to its random
    initialisation, and the latent losses had almost no weight ($w_t \approx 0.01$). The codes of cats and pigs formed
    one undifferentiated cloud, and for one cloud the most harmonious model is one Gaussian. The next cell replays
    only this part. It takes the codes of a freshly initialised (untrained) encoder, which never changes, and applies
    the two update rules of SPEC §3 300 times, to batches of 64 sampled codes $z = \mu + \sqrt{s^2}\,\epsilon$:
    BYY (IA) and EM (what RPCL does before its step 500).
    """),
    code(r"""
    cfg = models["ia"].cfg
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
        for step in range(300):
            i = torch.randint(len(mu0), (64,), generator=gen)
            z = mu0[i] + s20[i].sqrt() * torch.randn(64, cfg.z_dim, generator=gen)
            gmm.update(z, s20[i], mu0[i])
            alphas.append(gmm.alpha.clone())
        history[objective] = torch.stack(alphas).numpy()

    fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
    for ax, (objective, a) in zip(axes, history.items()):
        for k in range(a.shape[1]):
            ax.plot(a[:, k], lw=1.2)
        ax.axhline(1e-3, color="k", ls=":", lw=1)
        ax.set_yscale("log"); ax.set_ylim(1e-11, 2); ax.set_xlabel("update")
        ax.set_title(f"{'BYY (IA)' if objective == 'ia' else 'EM (RPCL, before step 500)'}: alpha_k", fontsize=9)
    axes[0].set_ylabel("alpha_k (dotted: 1e-3)")
    plt.show()
    for objective, a in history.items():
        alive = (a > 1e-3).sum(1)
        when = f"one alive from update {int(np.argmax(alive == 1))}" if (alive == 1).any() else f"{alive[-1]} alive"
        print(f"{objective}: alpha after 300 updates [{', '.join(f'{x:.3g}' for x in a[-1])}]; {when}")
    """),
    md(r"""
    On codes without structure, BYY keeps one Gaussian, at about the same point as in the real run. EM keeps all
    four. That is BYY's automatic model selection working as designed. It simply ran before the encoder had
    anything to separate.

    **Why a dead Gaussian never comes back.** Its $\alpha_k$ is clipped at $10^{-10}$, so $\alpha_k \mathcal
    N(z \mid m_k, v_k)$ is $10^{-10}$ times the live Gaussian's, and its posterior $g_{ik}$ sits at the floor
    $1/(100K) = 0.0025$ for every code. A Gaussian at the floor is always below the average harmony
    ($\delta_{ik}$ is clipped at $-1.0001$), so its BYY weights $b_{ik} = g_{ik}(1 + \delta_{ik})$ are slightly negative
    and $\alpha_k'$ stays at the clip. Nor can the encoder move codes towards it: the clipped $g$ carries no gradient.
    Its mean and variance are still updated, as $b$-weighted averages of the whole batch with nearly equal weights. So
    they follow the batch, and that is why the three dead Gaussians have become copies of the live one (section 1).

    **What it means for control.** In this IA checkpoint, "draw from Gaussian $k$" is the same distribution for every
    $k$: the four rows of the IA grid below differ only through the random draws, and the line between two means
    has length zero. The intent of the method is the opposite: sketches of one category and style gathered in one
    compact Gaussian. At full scale the encoder's codes have structure long before the Gaussians could collapse (and
    the paper trains far longer). On a short budget like this one, two remedies come to mind (not implemented here):
    start the GMM updates only after the encoder's warm-up epochs, or re-seed a dead Gaussian on codes far from the
    live ones. RPCL's EM, with its tiny rival penalty, has no such pruning, so it keeps its Gaussians. They are alive,
    but as section 1 showed, they do not follow the categories either.

    ## 3. One Gaussian at a time

    `component_panel(model, ckpt, data, k, n, temperature, seed)` draws `n` codes from Gaussian $k$, decodes them
    (black) and adds a few members of $k$ from the test set (blue; "none" when no test code has label $k$). Its title
    gives $\alpha_k$ and the number of members. IA on the left, RPCL on the right, same seed for every panel.
    """),
    code(r"""
    fig = Figure(figsize=(13, 7.4), layout="constrained")
    for col, name in zip(fig.subfigures(1, 2, wspace=0.04), ("ia", "rpcl")):
        col.suptitle(NAMES[name], fontsize=11, fontweight="bold")
        for k, row in enumerate(col.subfigures(4, 1)):
            component_panel(models[name], ckpts[name], data, k, n=4, n_members=2, ncols=6, seed=0, codes=codes[name],
                            fig=row)
    fig
    """),
    md(r"""
    * **IA**: the four rows come from one and the same distribution. The three dead Gaussians have no members.
    * **RPCL**: Gaussians 0 and 1 hold almost all codes, cats and pigs mixed. The two small ones have few members or
      none, and smaller variances (section 1).
    * Either way, most samples run to $N_\max$ without drawing a recognisable animal. A decoder this small, trained for
      12 epochs, has learned to draw loops and wiggly strokes, not yet to finish a drawing and stop (notebook 07 counts
      how often generation hits $N_\max$).

    ## 4. Interpolation

    `interpolation_strip(model, ckpt, k_a, k_b, steps)` decodes `steps` codes on the line
    $(1-t)\,m_a + t\,m_b$ from the mean of Gaussian $k_a$ to the mean of $k_b$. With `greedy=True` each sketch is a
    deterministic function of its code, so the strip shows only how the code changes. Here the path runs between the two
    heaviest Gaussians of each model.
    """),
    code(r"""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
        a, b = models[name].latent.alpha.argsort(descending=True)[:2].tolist()
        interpolation_strip(models[name], ckpts[name], a, b, steps=6, greedy=True, fig=row)
        row.suptitle(f"{name.upper()}: " + suptitle(row), fontsize=9)
    fig
    """),
    md(r"""
    For IA the two means coincide (section 1): six copies of one sketch. For RPCL the code really moves, and the
    drawing changes step by step, though not from one category to another.

    Between two *test sketches'* codes, a cat's $\mu$ and a pig's $\mu$ (`interpolate` and `code_strip`):
    """),
    code(r"""
    i_cat, i_pig = int(np.flatnonzero(test_labels == 0)[0]), int(np.flatnonzero(test_labels == 1)[0])
    px = np.array([SCALE, SCALE, 1.0], np.float32)
    fig = Figure(figsize=(10, 6), layout="constrained")
    top, *rows = fig.subfigures(3, 1)
    for ax, i in zip(top.subplots(1, 2), (i_cat, i_pig)):
        plot_sketch(ax, data.strokes["test"][i] * px, color="tab:blue", title=f"{CATS[test_labels[i]]} #{i}")
    top.suptitle("the two test sketches (t = 0: the cat, t = 1: the pig)", fontsize=9)
    ts = np.linspace(0, 1, 6)
    for row, name in zip(rows, ("ia", "rpcl")):
        mu = codes[name][0]
        code_strip(models[name], ckpts[name], interpolate(mu[i_cat], mu[i_pig], len(ts)), [f"t = {t:.1f}" for t in ts],
                   greedy=True, title=f"{name.upper()}: from the cat's mu to the pig's mu, greedy", fig=row)
    fig
    """),
    md(r"""
    ## 5. The temperature

    The same code decoded greedily and at increasing $\tau$ (`temperature_strip`, one seed for all). A low $\tau$
    sharpens the mixture weights and pen probabilities and narrows each offset Gaussian, so the drawing becomes
    smoother and more repetitive. A high $\tau$ gives the jitter of every small Gaussian free rein. The paper samples
    at $\tau = 0.24$. The code is the pig's $\mu$ from above.
    """),
    code(r"""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    for row, name in zip(fig.subfigures(2, 1), ("ia", "rpcl")):
        temperature_strip(models[name], ckpts[name], codes[name][0][i_pig], temperatures=(0.1, 0.24, 0.5, 1.0),
                          seed=0, title=f"{name.upper()}: pig #{i_pig}'s mu, several temperatures (seed 0)", fig=row)
    fig
    """),
    md(r"""
    ## 6. Conditional reconstructions

    `reconstruction_panel(model, ckpt, data, index)` shows a test sketch (blue), the 48 × 48 image the encoder reads,
    and three sketches decoded from its $\mu$ at $\tau = 0.24$. The panel title gives the Gaussian the code belongs to.
    """),
    code(r"""
    fig = Figure(figsize=(13, 3.9), layout="constrained")
    for col, name in zip(fig.subfigures(1, 2, wspace=0.04), ("ia", "rpcl")):
        col.suptitle(NAMES[name], fontsize=11, fontweight="bold")
        for row, i in zip(col.subfigures(2, 1), (i_cat, i_pig)):
            reconstruction_panel(models[name], ckpts[name], data, i, n=3, seed=0, fig=row)
    fig
    """),
    md(r"""
    The reconstructions keep little of their source: a loop for a head, sometimes a second loop. This is the same
    weakness as in section 3, and notebook 07 puts numbers on it (Rec and Ret).

    ## 7. The explorer

    `Explorer(model, ckpt, data).widget` puts all of the above behind widgets:

    * a view selector;
    * the Gaussian, in a dropdown that shows each weight, and the number of samples;
    * the interpolation end points, the number of steps, and a slider $t$ along the line (its sketch is the last one of
      the strip);
    * the test sketch;
    * temperature, greedy and seed, shared by all views.

    In a live notebook, move the controls; a static view shows at most the last picture, and `make test` only the
    text form. The explorer below is RPCL's, which has more to explore; use `models["ia"]` to see the collapsed
    mixture.
    """),
    code(r"""
    # NBVAL_IGNORE_OUTPUT
    # (a live widget: its view id changes on every run)
    explorer = Explorer(models["rpcl"], ckpts["rpcl"], data, n=8, seed=0)
    explorer.widget
    """),
    md(r"""
    The explorer is a thin shell. Each change of a control calls `explorer._refresh()`, which reads the widget values,
    calls one of the plain functions used above, and puts the figure as a PNG into `explorer.output`. So it can be
    driven and checked without a browser. A bad value shows up as a message in the output area, not as a traceback:
    """),
    code(r"""
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
    """),
    md(r"""
    ## 8. SVG export

    `to_svg(sketch)` writes a stroke-3 sketch as a self-contained SVG document (black path on white, fitted into a
    square). `iapix sample --checkpoint checkpoints/catpig-small-rpcl.pt --component 0 --n 16 --svg-dir out/svg` writes
    one file per sketch, beside a PNG grid.
    """),
    code(r"""
    import tempfile

    from IPython.display import SVG

    sketch = from_component(models["rpcl"], 0, 1, NMAX, SCALE, temperature=0.24, seed=0)[0]
    svg = to_svg(sketch, size=128)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rpcl-gaussian0.svg"
        path.write_text(svg)
        print(f"{path.name}: {path.stat().st_size} bytes, {len(sketch)} points, {int(sketch[:, 2].sum())} strokes")
    print(svg[:80] + " ...")
    display(SVG(svg))
    """),
    md(r"""
    ## What we used

    ```python
    from iapix.sample import from_component, component_codes, interpolate, interpolate_components, decode, encode
    from iapix.sample import conditional, to_svg, save_grid        # CLI: iapix sample --component K | --interpolate A B | --from-test N
    from iapix.widgets import component_panel, interpolation_strip, code_strip, temperature_strip, reconstruction_panel
    from iapix.widgets import Explorer                             # Explorer(model, ckpt, data).widget
    ```

    The explorer and the figure functions take any checkpoint, so the same cells work for a model trained at full scale
    (notebook 05, section 7). Notebook 07 measures what we looked at here: how recognisable the generated sketches are
    (Rec), how much of their source they keep (Ret), and how the codes sit in the mixture.
    """),
]


# ==============================================================================================
# 07 -- evaluation

EVALUATION_NB = [
    md(r"""
    # 07 · Evaluation: Rec, Ret and the shape of the latent space

    How good is a sketch generator? IA-pix2seq takes its protocol from RPCL-pix2seq (SPEC §6). For every test sketch,
    encode its image and decode **one** sketch from its mean code $\mu$ at $\tau = 0.24$, then render it black on white
    at 48 × 48. Two scores read these generated sketches:

    * **Rec** (recognition): a separately trained sketch classifier labels each generated sketch; Rec is the share
      labelled with the category of the sketch it came from. *Does the generation still look like a cat when it came from
      a cat?* The classifier's own accuracy on the real test sketches bounds it.
    * **Ret@k** (retrieval, $k$ = 1, 10, 50): encode each generated sketch again to $\mu$ and rank all test codes by
      squared distance to it. A hit when its own source is among the first $k$. *Does the generation keep what made its
      source that particular sketch?* By chance Ret@k would be $k/N$.

    A third part looks at the latent space itself: a t-SNE map of the test codes, and measures of how many Gaussians
    the mixture uses and how much they overlap. IA-pix2seq claims fewer, sharper and less overlapping clusters than
    RPCL-pix2seq.

    `iapix evaluate --checkpoint A.pt B.pt --classifier C.pt --out out/eval` does all of this and writes reports.
    Here we take it apart, for the two shipped checkpoints (notebook 06).
    """),
    code(SETUP + r"""
from iapix.data import prepare
from iapix.evaluate import (RET_KS, compare, generate_for_test, load_or_train_classifier, overlap_measures, predict,
                            rec, ret_from_ranks, retrieval_ranks, tsne_plot)
from iapix.plot import sketch_grid
from iapix.raster import render
from iapix.sample import encode
from iapix.train import load_model

LIMIT = 100 if QUICK else None  # test sketches per category
CLASSIFIER = CHECKPOINTS / "classifier-catpig.pt"
"""),
    md(r"""
    ## 1. Data and the classifier

    The test sketches are prepared with the checkpoints' scale factor and $N_\max$. All of them (450) normally; in the
    quick setting (`IAPIX_QUICK=1`, `make test`) only the first 100 per category, so every number below comes from
    that subset and differs a little from the full evaluation.

    The classifier is `SketchANet` (`iapix.evaluate`), a Sketch-a-Net-style CNN scaled down to 48 × 48 images. It was
    trained once on the 3 600 real training sketches, with the model's own augmentations and horizontal flips, and
    cached in `checkpoints/classifier-catpig.pt`, so that both models are judged by the same classifier.
    `load_or_train_classifier` reads the cache. It would train a new one only if the file were missing, and it
    refuses a cache made for other categories.
    """),
    code(r"""
    models, ckpts = {}, {}
    for name in ("ia", "rpcl"):
        models[name], ckpts[name] = load_model(CHECKPOINTS / f"catpig-small-{name}.pt")
    ck = ckpts["ia"]
    data = prepare(CATS, DATA, limit=LIMIT, scale=ck["scale"], max_len=ck["max_len"])
    labels = data.labels["test"]
    N = len(labels)
    print(f"test sketches: {N} ({', '.join(f'{c} {(labels == i).sum()}' for i, c in enumerate(CATS))})"
          + (f" -- the first {LIMIT} per category (IAPIX_QUICK=1)" if QUICK else ""))

    if QUICK and not CLASSIFIER.is_file():
        raise FileNotFoundError(f"{CLASSIFIER} is missing: make it once with `iapix evaluate --classifier {CLASSIFIER} ...`"
                                " (the quick setting never trains a classifier)")
    clf, info = load_or_train_classifier(CLASSIFIER, data, progress=False)
    acc = float((predict(clf, data.images["test"]) == labels).mean())
    print(f"classifier: trained on {info['train_size']} sketches for {info['epochs']} epochs; "
          f"accuracy on all {info['test_size']} real test sketches {info['test_acc']:.3g}, on these {N}: {acc:.3g}")
    """),
    md(r"""
    About nine real sketches in ten are classified correctly. A generator whose sketches were as good as the real ones
    would score a Rec near this number, not 1.

    ## 2. One generated sketch per test sketch

    `generate_for_test` encodes every test image and decodes its $\mu$ in one batch (seed 0, so the result is
    reproducible); `render` draws the results at 48 × 48 like the training images.
    """),
    code(r"""
    generated, gen_images, test_mu, test_s2 = {}, {}, {}, {}
    for name, m in models.items():
        generated[name] = generate_for_test(m, ckpts[name], data, temperature=0.24, seed=0)
        gen_images[name] = render(generated[name], allow_empty=True)
        test_mu[name], test_s2[name] = encode(m, data.images["test"])
        lengths = np.array([len(s) for s in generated[name]])
        print(f"{name}: {N} sketches, mean length {lengths.mean():.3g} points; ran to N_max = {ck['max_len']}: "
              f"{(lengths == ck['max_len']).mean():.0%}; empty: {(lengths == 0).sum()}")
    print(f"real test sketches: mean length {np.mean([len(s) for s in data.strokes['test']]):.3g} points")
    """),
    md(r"""
    A few sources (blue titles) and what each model made of them, with the classifier's label in the title:
    """),
    code(r"""
    pick = np.r_[np.flatnonzero(labels == 0)[:3], np.flatnonzero(labels == 1)[:3]]
    px = np.array([ck["scale"], ck["scale"], 1.0], np.float32)
    pred = {name: predict(clf, gen_images[name]) for name in models}
    sketches, titles = [], []
    for i in pick:
        sketches.append(data.strokes["test"][i] * px)
        titles.append(f"source: {CATS[labels[i]]} #{i}")
        for name in models:
            sketches.append(generated[name][i])
            titles.append(f"{name} -> '{CATS[pred[name][i]]}'")
    fig = sketch_grid(sketches, ncols=6, titles=titles, size=1.5)
    plt.show()
    """),
    md(r"""
    ## 3. Rec

    Rec is the share of generated sketches that the classifier puts in their source's category. With two categories,
    50% is not the chance level to compare with. A generator that ignored its input would still score
    $\sum_c p_c\, q_c$, where $p_c$ is the share of category $c$ among the sources and $q_c$ the share of generated
    sketches the classifier calls $c$. So we print that baseline, and Rec per source category:
    """),
    code(r"""
    reports = {}
    rows = []
    for name in models:
        r = rec(clf, gen_images[name], labels)
        p = np.bincount(labels, minlength=2) / N
        q = np.bincount(pred[name], minlength=2) / N
        per = [float((pred[name][labels == c] == c).mean()) for c in range(2)]
        rows.append([name, f"{r:.3g}", f"{(p * q).sum():.3g}", f"{acc:.3g}", f"{q[0]:.3g} / {q[1]:.3g}",
                     f"{per[0]:.3g}", f"{per[1]:.3g}"])
        reports[name] = {"name": f"catpig-small-{name}", "checkpoint": f"checkpoints/catpig-small-{name}.pt",
                         "objective": models[name].cfg.objective, "n_test": N,
                         "rec": r, "classifier": {"test_acc": acc}}
    display(table(rows, ["model", "Rec", "Rec if the input were ignored", "bound (classifier accuracy)",
                         "labelled cat / pig", "Rec on cats", "Rec on pigs"]))
    """),
    md(r"""
    ## 4. Ret@k

    Each generated image is encoded again (by the same model) and its $\mu$ is compared with the $\mu$ of all $N$ test
    sketches. `retrieval_ranks` gives the rank of its own source, 0 being the nearest. Ties count against the query.
    Ret@k is the share of ranks below $k$; chance is $k/N$, and the chance mean rank is $(N-1)/2$.
    """),
    code(r"""
    ranks = {}
    rows = []
    for name, m in models.items():
        gen_mu, _ = encode(m, gen_images[name])
        ranks[name] = retrieval_ranks(gen_mu, test_mu[name])
        scores = {**ret_from_ranks(ranks[name]), "mean_rank": float(ranks[name].float().mean())}
        reports[name]["ret"] = scores
        rows.append([name] + [f"{scores[f'ret@{k}']:.3g}" for k in RET_KS] + [f"{scores['mean_rank']:.3g}"])
    rows.append(["chance"] + [f"{k / N:.3g}" for k in RET_KS] + [f"{(N - 1) / 2:.3g}"])
    display(table(rows, ["model"] + [f"Ret@{k}" for k in RET_KS] + ["mean rank"]))

    fig, ax = plt.subplots(figsize=(6, 2.6))
    bins = np.linspace(0, N, 21)
    for name in models:
        ax.hist(ranks[name].numpy(), bins=bins, histtype="step", lw=1.5, label=name)
    ax.axhline(N / 20, color="k", ls=":", lw=1, label="chance (uniform)")
    ax.set_xlabel("rank of the source (0 = nearest)"); ax.set_ylabel("test sketches"); ax.legend(fontsize=8)
    plt.show()
    """),
    md(r"""
    ## 5. The latent structure

    `overlap_measures(model, mu, s2, labels)` describes the mixture as the test codes see it:

    * **alive / K**: Gaussians with $\alpha_k > 10^{-3}$; **used**: those that label at least one test code;
    * **BC (weighted)**: the Bhattacharyya coefficient $\int \sqrt{p_k p_l}$ between pairs of alive Gaussians (0: no
      overlap, 1: identical), averaged with weights $\alpha_k \alpha_l$. It is undefined with a single alive Gaussian
      ("–");
    * **ambiguous**: share of test codes whose two largest posteriors are within a factor of 2 (codes on a border);
    * **NMI**: normalised mutual information between the component labels and the categories. 0 means the labels
      say nothing about the category, 1 means the Gaussians are the categories;
    * **purity**: share of codes whose Gaussian's majority category is their own. It cannot fall below the share of
      the largest category, which is what one Gaussian for everything gives.
    """),
    code(r"""
    for name, m in models.items():
        o = reports[name]["overlap"] = overlap_measures(m, test_mu[name], test_s2[name], labels, CATS)
        comps = ", ".join(f"k={c['k']} (alpha {c['alpha']:.3g}): {c['n']} codes, {c['share']:.0%} {c['majority']}"
                          for c in o["components"])
        print(f"{name}: {comps}")
    display(Markdown(compare([reports["ia"], reports["rpcl"]])))
    """),
    md(r"""
    The table is `compare()`, the same one `iapix evaluate` prints for several checkpoints (three decimals).

    The overlap measures describe the *Gaussians*. Whether the *codes* know the category is a separate question. A
    simple probe: label each test code with the majority category of its 5 nearest other codes (leave one out). If
    the codes carried no category information, this would score about the share of the larger category.
    """),
    code(r"""
    def knn_accuracy(mu, y, k=5):
        d = torch.cdist(mu, mu)
        d.fill_diagonal_(float("inf"))
        near = d.topk(k, largest=False).indices.numpy()
        vote = np.array([np.bincount(y[row], minlength=len(CATS)).argmax() for row in near])
        return float((vote == y).mean())


    for name in models:
        print(f"{name}: 5-NN category accuracy of the test codes {knn_accuracy(test_mu[name], labels):.3g} "
              f"(larger category: {np.bincount(labels).max() / N:.3g})")
    """),
    md(r"""
    So the encoders did learn to tell cats from pigs: their codes hold the category, and neighbours mostly agree.
    What is missing is a *mixture* that follows it (IA: one Gaussian; RPCL: Gaussians that cut across the categories),
    and a *decoder* that turns the code into a recognisable drawing (sections 3 and 4).

    ## 6. t-SNE maps

    The test codes of each model, embedded in 2-D by t-SNE and coloured by category. The means of the alive Gaussians
    are embedded with them (black crosses, area ∝ $\alpha_k$). t-SNE keeps neighbourhoods, not distances: separate
    islands would mean separate clusters; one cloud with mixed colours means the codes do not separate the
    categories. Look for regions of one colour (what the 5-NN probe measured) and for whether the Gaussians' means
    sit on them.
    """),
    code(r"""
    def as_image(fig):
        # a pyplot figure as an RGBA array (to put several side by side), then closed
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba()).copy()
        plt.close(fig)
        return img


    maps = [as_image(tsne_plot(test_mu[name], labels, CATS, models[name].latent.means, models[name].latent.alpha, seed=0,
                               title=f"{NAMES[name]}: {N} test codes")) for name in models]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, img in zip(axes, maps):
        ax.imshow(img); ax.axis("off")
    plt.tight_layout()
    plt.show()
    """),
    md(r"""
    ## 7. What the numbers say, at this budget

    The shipped models are the `small` configuration (code 32, HyperLSTM 256) after 12 epochs on 3 600 training sketches,
    672 steps in all. The numbers above should be read against their baselines, not against the paper:
    """),
    code(r"""
    for name in models:
        r = reports[name]
        q = np.bincount(pred[name], minlength=2) / N
        base = float((np.bincount(labels, minlength=2) / N * q).sum())
        se2 = 2 * np.sqrt(r["rec"] * (1 - r["rec"]) / N)  # two binomial standard errors
        print(f"{name}: Rec {r['rec']:.3g} ± {se2:.2g} (input ignored: {base:.3g}, bound {acc:.3g}); "
              f"Ret@1 {r['ret']['ret@1']:.3g} vs chance {1 / N:.3g}, Ret@50 {r['ret']['ret@50']:.3g} vs {50 / N:.3g}; "
              f"mean rank {r['ret']['mean_rank']:.3g} vs {(N - 1) / 2:.3g}; "
              f"alive {r['overlap']['alive']}/{r['overlap']['K']}, NMI {r['overlap']['nmi']:.2g}")
    """),
    md(r"""
    * **Rec** is far below the classifier's bound, and at most a few points above what a generator that ignored its
      input would score. Most generated sketches are loops and scribbles that run to $N_\max$ (section 2). The
      classifier, trained on real cats and pigs, calls most of them "pig", so Rec largely measures the share of pigs
      among the sources. Where Rec exceeds that baseline, sketches made from cats are called "cat" a little more
      often than those made from pigs. That is the only sign that the category reached the drawing.
    * **Ret** is above chance (mean rank below $(N-1)/2$, Ret@50 above $50/N$), but a generated sketch rarely brings
      its own source back among the nearest codes. It keeps a little of its source, not much.
    * **Latent structure.** IA's mixture pruned itself to one Gaussian early in training (notebook 06, section 2). The
      overlap between its Gaussians is then undefined and NMI is 0 by construction. RPCL keeps four Gaussians with
      little overlap, but they cut across the categories (NMI near 0). The codes themselves do hold the category (the
      5-NN probe, and the partly one-coloured regions of the t-SNE maps); the mixtures do not follow it.
    * **IA against RPCL.** RPCL is a little ahead on Rec and Ret@k here. With one training run each and a few hundred
      test sketches, differences of a few hundredths are of the order of the sampling noise (the ± above).

    So this budget does not test the paper's claim either way. The course shows the pipeline, and the pipeline
    measures honestly that these two models are not there yet. **What would change at full scale** (the `paper` preset:
    code 128, HyperLSTM 2 048 with a 256-unit hyper cell, batch 128; 70 000 training sketches per category with
    `iapix download`; tens of epochs on a GPU, notebook 05 section 7):

    * the decoder would learn to finish a drawing and stop, so that generated sketches look like cats and pigs;
      Rec could then approach the classifier's bound (retrain the classifier on the full data too);
    * the warm-up weight $w_t$ of the latent losses reaches 0.5 only after about 6 900 steps and 0.9 after about
      23 000. In our 672 steps it never exceeded 0.07, so the mixture barely shaped the encoder. At full scale it
      would, and the codes would have structure before and while BYY selects Gaussians;
    * the comparison would then be meaningful, and would need several seeds and the full 2 500 test sketches per
      category.

    The same cells run unchanged on such checkpoints: point `CHECKPOINTS` at them (and `LIMIT = None`).

    ## What we used

    ```python
    from iapix.evaluate import load_or_train_classifier, SketchANet, predict   # the Rec classifier, cached
    from iapix.evaluate import generate_for_test, rec, retrieval_ranks, ret, ret_from_ranks
    from iapix.evaluate import overlap_measures, bhattacharyya, tsne_plot
    from iapix.evaluate import evaluate, compare   # CLI: iapix evaluate --checkpoint A.pt B.pt --classifier C.pt --out DIR
    ```
    """),
]


if __name__ == "__main__":
    for name, cells in [("06_controllable_sampling.ipynb", SAMPLING_NB), ("07_evaluation.ipynb", EVALUATION_NB)]:
        print(write(name, cells))
