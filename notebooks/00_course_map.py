# %% [markdown]
# # 00 · IA-pix2seq in PyTorch: the course map
#
# A quick sketch can be held in two ways: as a **picture** (what you see) and as a **sequence of pen
# movements** (how it was drawn). IA-pix2seq learns to go from one to the other through a small
# *latent code*, and it organises the codes so that you can ask for "a pig in this style" and get one.
#
# This course rebuilds the method piece by piece in PyTorch. Each notebook motivates one piece, writes
# down its math in a few lines, runs it on real Quick, Draw! sketches, plots what happened, and ends by
# importing the tested version from the `iapix` package, which the later notebooks build on.

# %% [markdown]
# ## The model in one picture
#
# ```
#              Yang path (outside → inside)                    Ying path (inside → outside)
#  48×48 image ────── CNN encoder ──────▶ (μ, s²) ──▶ z ────── HyperLSTM decoder ──────▶ pen strokes
#                                                   ▲                                   (dx, dy, pen state)
#                               Gaussian mixture  {α_k, m_k, v_k}, k = 1..K
#                               learned by Bayesian Ying-Yang (BYY) harmony
# ```
#
# * **Yang path, image → code.** A convolutional encoder (two blocks of dilated convolutions, then two
#   strided ones) reads the rendered sketch and outputs a mean $\mu$ and a variance $s^2$;
#   the code is $z = \mu + s \odot \varepsilon$.
# * **Ying path, code → strokes.** A HyperLSTM (an LSTM whose weights are modulated at every step by a
#   small second LSTM) starts from $z$ and writes the sketch point by point: a mixture of 20 bivariate
#   Gaussians for the next offset $(dx, dy)$ and three pen states (down, up, end).
# * **The latent space is a Gaussian mixture (GMM)**
#   $q(z)=\sum_k \alpha_k\,\mathcal N(z\mid m_k,\operatorname{diag} v_k)$ with about two Gaussians per category. Codes
#   of the same category and style should fall into one compact Gaussian, and different Gaussians should overlap little.
#   Then drawing $z$ from a chosen Gaussian $k$ gives **controllable generation**.

# %% [markdown]
# ## Harmony learning, and how it differs from RPCL-pix2seq
#
# BYY sees the joint distribution of a sketch $x$ and its code $z$ in two ways: the **Yang machine**
# $p(z\mid x)\,p(x)$ (data, then encoder) and the **Ying machine** $q(x\mid z)\,q(z)$ (GMM prior, then
# decoder). *Harmony learning* makes them agree by maximising
# $H(p\,\|\,q)=\iint p(z\mid x)\,p(x)\,\ln\!\big[q(x\mid z)\,q(z)\big]\,dx\,dz$.
# Compared with the evidence lower bound of a VAE, $H$ has **no entropy reward** for the encoder. Per sketch $i$
# with posterior responsibilities $g_{ik}$, the latent part of the loss and its KL counterpart (used by the
# predecessor RPCL-pix2seq) are
#
# $$\mathcal L_{\text{harmony}}=\frac1n\sum_{i,k} g_{ik}\Big(\tfrac12\sum_d\Big[\ln 2\pi v_{kd}
# +\frac{s^2_{id}+(\mu_{id}-m_{kd})^2}{v_{kd}}\Big]-\ln\alpha_k\Big),$$
#
# $$\mathcal L_{\text{KL}}=\mathcal L_{\text{harmony}}-\frac1n\sum_i\Big(
# \underbrace{\tfrac12\textstyle\sum_d\ln\big(2\pi e\,s^2_{id}\big)}_{\text{entropy of }\mathcal N(\mu_i,\,s^2_i)}\;
# \underbrace{-\textstyle\sum_k g_{ik}\ln g_{ik}}_{\text{entropy of }g_i}\Big).$$
#
# Minimising the KL loss pays the encoder for keeping its codes fuzzy and its assignments soft; harmony
# does not, so it favours sharp codes and nearly hard assignments. That is the "least complexity"
# tendency of BYY: compact clusters, and Gaussians that are not needed tend to lose their weight $\alpha_k$.
#
# The GMM itself is **not** trained by gradient. In every training step, before the loss is computed, it takes one
# smoothed closed-form step on the batch's codes. With the harmony score
# $L_{ik}=\ln g_{ik}-\tfrac12\sum_d s^2_{id}/v_{kd}$ and its deviation from the average
# $\delta_{ik}=L_{ik}-\sum_j g_{ij}L_{ij}$, the M-step uses the weights $b_{ik}=g_{ik}(1+\delta_{ik})$ instead of the
# responsibilities $g_{ik}$. A component that fits better than average is reinforced, and a rival that fits worse gets a
# small or even negative weight, so **rival penalisation comes out of the harmony principle itself**. RPCL-pix2seq uses
# the same networks but minimises the KL loss above, updates the GMM by plain EM with $g_{ik}$, and after 500 steps
# adds, every third step, an explicit rival-penalised step (winner $+1$, runner-up $-10^{-4}$). Notebook 03 derives all
# of this and 07 compares the two on the same data.

# %% [markdown]
# ## The course
#
# | notebook | what you build or see |
# |---|---|
# | **00 course map** | this page: the method, the map, how to run |
# | **01 data** | stroke-3 and stroke-5, the five embedded categories, cleaning, 48×48 images, augmentation, batches |
# | **02 CNN encoder** | dilated convolutions, instance norm, the image → $(\mu, s^2)$ encoder and its image decoder |
# | **03 BYY harmony GMM** | the latent Gaussian mixture, one BYY step, the harmony losses, the KL/EM/RPCL baselines |
# | **04 HyperLSTM decoder** | layer-norm LSTM, HyperLSTM, the mixture-density output and the reconstruction loss |
# | **05 training (GPU)** | the training loop, warm-up and schedules, checkpoints and rollback; CPU demo and GPU runs |
# | **06 controllable sampling** | decoding with temperature, sampling from a chosen Gaussian, interpolation |
# | **07 evaluation** | Rec (a sketch classifier), Ret (retrieval), t-SNE and cluster overlap: IA against RPCL |
# | **08 draw your own** | draw a sketch, encode it, and let the model redraw it and complete it |

# %% [markdown]
# ## How to run it
#
# Everything runs on a CPU. Two commands do all the set-up:
#
# ```bash
# make demo    # creates .venv (CPU PyTorch, iapix in editable mode) and runs the demo
# make test    # the unit tests and every notebook under nbval, with IAPIX_QUICK=1
# .venv/bin/jupyter lab notebooks/
# ```
#
# **Quick setting.** `make test` sets the environment variable `IAPIX_QUICK=1`. Every notebook reads it and
# then uses fewer sketches and fewer steps, so that every notebook runs quickly on a CPU. Without it,
# the notebooks use the whole embedded data set. The quick setting only shortens training loops and demos: the
# sections that evaluate the shipped checkpoints (`checkpoints/catpig-small-{ia,rpcl}.pt` on cats and pigs,
# `checkpoints/five-small-{ia,rpcl}.pt` on the five categories) run on the full test
# split in both settings, so their stored outputs are the numbers the shipped models give.
#
# **Full data.** The repository embeds a small subset (below). The paper's 70 000 / 2 500 / 2 500 sketches per
# category are Google's sketch-rnn files, fetched and verified with
#
# ```bash
# .venv/bin/iapix download cat pig     # -> data/full/cat.npz, data/full/pig.npz
# ```
#
# **GPU.** The code is the same on a CPU and a GPU. Paper-size runs (codes of size 128, a 2048-unit HyperLSTM,
# 70 000 sketches per category) need a GPU; notebook 05 shows how to run them.

# %% [markdown]
# ## Where the data comes from
#
# All sketches come from Google's **Quick, Draw!** data set
# ([quickdraw-dataset](https://github.com/googlecreativelab/quickdraw-dataset)), licensed under
# **Creative Commons Attribution 4.0 (CC BY 4.0)**, © Google. The embedded subset in `data/` holds five categories:
#
# * `cat`: 2 000 unique drawings from Google's simplified ndjson, converted to stroke-3;
# * `pig`, `face`, `radio`, `alarm-clock`: 2 500 each, the official sketch-rnn *test* split of each category.
#
# Each category is split 80 / 10 / 10 into train / valid / test with a fixed seed. `make data` (that is,
# `iapix build-embedded`) rebuilds the files deterministically from the original files (listed in `iapix/embedded.py`),
# which are kept outside the repository. Cat and pig form the paper's data set DS2; face, radio and alarm clock are real
# extra categories that make a five-class set. The package reads the same `.npz` layout as the full files, so swapping
# in `data/full/` changes nothing else.

# %%
from pathlib import Path

import iapix
from iapix.data import SPLITS, read_npz
from iapix.embedded import SOURCES

DATA = Path("../data")  # the embedded data, relative to notebooks/
print(f"iapix {iapix.__version__}")
print(f"{'category':<12}" + "".join(f"{s:>7}" for s in SPLITS) + f"{'total':>7}")
for category in SOURCES:
    splits = read_npz(DATA / f"{category}.npz")
    sizes = [len(splits[s]) for s in SPLITS]
    print(f"{category:<12}" + "".join(f"{n:>7}" for n in sizes) + f"{sum(sizes):>7}")

# %% [markdown]
# Next: **01 data** opens these files and looks at one sketch in every form the model sees it.
