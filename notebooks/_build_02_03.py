"""Build ``02_cnn_encoder.ipynb`` and ``03_byy_harmony_gmm.ipynb`` from the cell texts below (nbformat).

The notebooks are generated so that they can be rebuilt reproducibly; outputs are added by executing
them in place (the stored outputs are those of the quick setting that ``make test`` uses)::

    .venv/bin/python notebooks/_build_02_03.py
    cd notebooks && IAPIX_QUICK=1 MPLBACKEND=Agg ../.venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        02_cnn_encoder.ipynb 03_byy_harmony_gmm.ipynb

A cell whose first line is ``# NBVAL_IGNORE_OUTPUT`` is executed by nbval but its output is not
compared (widgets, files that may be absent); every other cell must print the same text on every run.
"""

from __future__ import annotations

from _nbbuild import code, md, write


# ==============================================================================================
# 02 -- CNN encoder

ENCODER_NB = [
    md(r"""
    # 02 · The CNN encoder: from a 48×48 picture to a code

    IA-pix2seq reads a sketch as a **picture** and writes it as a **sequence**. This notebook builds the reading half,
    the *Yang path* $x \to z$: a small convolutional network maps a 48×48 rendering to the mean $\mu$ and variance $s^2$
    of a Gaussian code.

    Why a picture, when the data are pen strokes? sketch-rnn encodes the stroke sequence with a bidirectional RNN, so
    its code also depends on *how* the sketch was drawn: the order of the strokes, their direction, where the pen
    started. Two people who draw the same pig in a different order get different codes. A rendering has no drawing
    order. A CNN also shares its weights across positions, so a curly tail is detected wherever it is. The image is
    only 48×48, so the encoder stays cheap next to the stroke decoder.

    Plan:

    1. a real batch of images,
    2. the dilated block,
    3. the receptive field, analytically and measured by a gradient,
    4. the shapes through the network, read off with forward hooks,
    5. $\mu$, $s^2$ and the reparameterisation,
    6. the image decoder and its L1 loss (a warm-up aid),
    7. the codes of real sketches before any training.
    """),
    code(r"""
    %matplotlib inline
    %config InlineBackend.figure_format = "png"
    import copy
    import os

    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from IPython.display import Markdown, display

    plt.rcParams["figure.dpi"] = 72
    torch.set_num_threads(1)
    QUICK = os.environ.get("IAPIX_QUICK") == "1"  # set by `make test`: fewer sketches and steps
    DATA = "../data"                              # the embedded data set (relative to notebooks/)


    def table(rows, header):
        # a small Markdown table
        lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
        lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
        return Markdown("\n".join(lines))
    """),
    md(r"""
    ## 1. A real batch

    `iapix.data.prepare` (notebook 01) loads, cleans and renders the sketches. Each image is `float32`, white is $+1$
    and ink is $-1$. We take cats and pigs, the paper's data set DS2. The quick setting keeps 100 sketches per split
    and category.
    """),
    code(r"""
    from iapix.data import prepare
    from iapix.plot import plot_image

    LIMIT = 100 if QUICK else None
    prep = prepare(["cat", "pig"], DATA, limit=LIMIT)
    test_images = torch.from_numpy(prep.images["test"]).unsqueeze(1)    # [N, 1, 48, 48]
    test_labels = prep.labels["test"]                                     # 0 = cat, 1 = pig
    train_images = torch.from_numpy(prep.images["train"]).unsqueeze(1)
    print("test images", tuple(test_images.shape), test_images.dtype,
          " values in", [test_images.min().item(), test_images.max().item()])
    print("test sketches per category:", {c: int((test_labels == k).sum()) for k, c in enumerate(prep.categories)})

    show = np.r_[np.flatnonzero(test_labels == 0)[:6], np.flatnonzero(test_labels == 1)[:6]]
    fig, axes = plt.subplots(1, 12, figsize=(12, 1.3))
    for ax, i in zip(axes, show):
        plot_image(ax, test_images[i, 0], title=prep.categories[test_labels[i]])
    plt.show()
    """),
    md(r"""
    ## 2. The dilated block

    A 3×3 convolution with **dilation** $d$ spreads its nine taps $d$ pixels apart:

    $$(W \ast_d x)[p] = \sum_{u, v \in \{-1, 0, 1\}} W[u, v]\; x[p + d\,(u, v)].$$

    It sees a $(2d+1)\times(2d+1)$ window with the same nine weights. The encoder's **dilated block** runs three of
    these in parallel on the same input, with $d = 1, 2, 5$. Each branch has its own instance norm
    ($\mathrm{IN}$), the three are summed, and a strided convolution halves the resolution:

    $$y = \mathrm{ReLU}\Big(\sum_{d \in \{1,2,5\}} \mathrm{IN}_d(W_d \ast_d x)\Big), \qquad
      \text{out} = \mathrm{ReLU}\big(\mathrm{IN}(W_s \ast_{\text{stride }2}\, y)\big).$$

    So one layer combines fine detail ($d=1$: a 3-pixel neighbourhood) with context ($d=5$: an 11-pixel one) at the
    cost of three 3×3 kernels. The convolutions have **no bias**: the affine instance norm that follows them has its
    own shift.

    **Instance norm** normalises each channel of each image over its $H\times W$ positions,
    $\mathrm{IN}(a)_{c} = \gamma_c\,(a_{c} - \bar a_{c})/\sqrt{\operatorname{var}(a_{c}) + \epsilon} + \beta_c$.
    It does not depend on the rest of the batch, so training and evaluation behave the same. It also removes global
    differences of contrast and ink between sketches. Keep it in mind for the receptive field below.
    """),
    code(r"""
    from iapix.encoder import DILATIONS, Encoder

    torch.manual_seed(0)
    encoder = Encoder(z_dim=128)  # the paper's code size
    print(encoder.features[0])
    n_params = sum(p.numel() for p in encoder.parameters())
    print(f"\ndilations {DILATIONS}; encoder parameters: {n_params:,}")
    """),
    md(r"""
    Where the nine taps of each branch land, relative to the output pixel (centre), and all three together:
    """),
    code(r"""
    fig, axes = plt.subplots(1, 4, figsize=(8, 2.2))
    union = np.zeros((11, 11))
    for ax, d in zip(axes, DILATIONS):
        taps = np.zeros((11, 11))
        for u in (-1, 0, 1):
            for v in (-1, 0, 1):
                taps[5 + d * u, 5 + d * v] = 1
        union = np.maximum(union, taps)
        ax.imshow(taps, cmap="Greys", vmin=0, vmax=1.3)
        ax.set_title(f"dilation {d}: {2 * d + 1}×{2 * d + 1} window", fontsize=9)
    axes[3].imshow(union, cmap="Greys", vmin=0, vmax=1.3)
    axes[3].set_title(f"sum of the three: {int(union.sum())} taps", fontsize=9)
    for ax in axes:
        ax.set_xticks(np.arange(-0.5, 11, 1), minor=True); ax.set_yticks(np.arange(-0.5, 11, 1), minor=True)
        ax.grid(which="minor", color="0.85", lw=0.5); ax.tick_params(which="both", length=0)
        ax.set_xticks([]); ax.set_yticks([])
    plt.show()
    """),
    md(r"""
    ## 3. The receptive field

    The **receptive field** of a unit is the set of input pixels that can influence it. Follow one unit down
    through the layers. A convolution with kernel $k$ and dilation $d$ covers $k_{\text{eff}} = d(k-1)+1$ positions
    of its own input. One step on that input is $j$ pixels on the image, where $j$ is the product of the strides so
    far (the *jump*). Hence

    $$r_\ell = r_{\ell-1} + (k_{\text{eff},\ell} - 1)\, j_{\ell-1}, \qquad j_\ell = j_{\ell-1}\, s_\ell, \qquad r_0 = j_0 = 1.$$

    The three parallel branches of a block are summed, so the block reaches as far as its widest branch ($d = 5$).
    """),
    code(r"""
    layers = [  # (name, kernel, dilation, stride), in the order of Encoder.features
        ("block 1, branches (d = 1, 2, 5)", 3, 5, 1), ("block 1, stride-2 conv", 3, 1, 2),
        ("block 2, branches (d = 1, 2, 5)", 3, 5, 1), ("block 2, stride-2 conv", 3, 1, 2),
        ("conv to 128, stride 2", 3, 1, 2), ("conv to 256, stride 2", 3, 1, 2),
    ]
    r, j, size, rows, rf = 1, 1, 48, [], {}
    for name, k, d, s in layers:
        r, j, size = r + (d * (k - 1)) * j, j * s, size // s
        rows.append([name, size, j, r])
        if s == 2:
            rf[len(rf)] = (r, j)  # receptive field and jump after each stage of Encoder.features
    display(table(rows, ["layer", "output size", "jump j", "receptive field r"]))
    """),
    md(r"""
    After the first block a unit sees 13×13 pixels, after the second 37×37, and a unit of the final 3×3 map sees
    61×61, more than the whole 48×48 image. The last layers therefore see the whole sketch before the linear maps to
    $\mu$ and $s^2$ (which see every unit anyway).

    **Measured.** A unit's receptive field is where its gradient with respect to the input is non-zero. We take the
    centre unit of channel 0 after each of the four stages of `encoder.features`, add up $|\partial h / \partial x|$
    over 8 random input images (one image could switch some ReLUs off), and look at where it is non-zero.

    Instance norm changes this picture. Its mean and variance are taken over the whole feature map, so every output
    depends on every pixel from the very first layer on, and in the strict sense the receptive field is the whole
    image. To see the *convolutional* field we also measure a copy of the encoder whose instance norms are replaced
    by the identity.
    """),
    code(r"""
    def without_norms(model: nn.Module) -> nn.Module:
        # a copy of the model with every InstanceNorm2d replaced by the identity
        model = copy.deepcopy(model)
        for module in list(model.modules()):
            for name, child in module.named_children():
                if isinstance(child, nn.InstanceNorm2d):
                    setattr(module, name, nn.Identity())
        return model


    def input_gradient(features: nn.Sequential, stage: int, n: int = 8, seed: int = 0):
        # sum over n random images of |d h[centre unit, channel 0] / d x|  -> [48, 48], centre index
        x = torch.randn(n, 1, 48, 48, generator=torch.Generator().manual_seed(seed), requires_grad=True)
        h = features[: stage + 1](x)
        c = h.shape[-1] // 2
        h[:, 0, c, c].sum().backward()
        return x.grad.abs().sum(0)[0], c


    variants = {"as built (with instance norm)": encoder.features,
                "conv path only (norms removed)": without_norms(encoder).features}
    grads, rows = {}, []
    for vname, feats in variants.items():
        for stage in range(4):
            g, c = input_gradient(feats, stage)
            g = g.numpy()
            r, j = rf[stage]
            centre, half = j * c, (r - 1) // 2                      # unit c sits over input pixel j * c
            lo, hi = max(centre - half, 0), min(centre + half, 47)  # the analytic field, cut to the image
            nz = g > 0
            ys, xs = np.nonzero(nz)
            inside = g[lo:hi + 1, lo:hi + 1].sum() / g.sum()
            grads[vname, stage] = (g, lo, hi)
            rows.append([vname, stage + 1, f"{r} (in the image: {hi - lo + 1})",
                         f"{ys.max() - ys.min() + 1}×{xs.max() - xs.min() + 1}", int(nz.sum()), f"{inside:.1%}"])
    display(table(rows, ["encoder", "stage", "analytic r", "measured extent", "pixels ≠ 0", "|grad| inside the analytic box"]))
    """),
    code(r"""
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.9))
    for row, vname in enumerate(variants):
        for stage in range(4):
            g, lo, hi = grads[vname, stage]
            ax = axes[row, stage]
            ax.imshow(np.log10(g / g.max() + 1e-8), cmap="magma", vmin=-6, vmax=0)
            ax.add_patch(plt.Rectangle((lo - 0.5, lo - 0.5), hi - lo + 1, hi - lo + 1, fill=False, ec="cyan", lw=1.2))
            ax.set_xticks([]); ax.set_yticks([])
            ax.set_title(f"stage {stage + 1}: r = {rf[stage][0]}", fontsize=9)
        axes[row, 0].set_ylabel(vname, fontsize=9)
    fig.suptitle(r"$\log_{10}$ |gradient| of one centre unit w.r.t. the input (cyan: analytic receptive field)", fontsize=10)
    plt.tight_layout()
    plt.show()
    """),
    md(r"""
    With the norms removed, the measured extent is exactly the analytic one: 13, 37 and 45 pixels, and 47 for the
    last stage, whose 61-pixel field is cut by the image border. The first stage also shows the cost of dilation.
    Its 13×13 box has **holes**: the summed taps of the dilations 1, 2 and 5 do not cover every offset (the
    "gridding" of dilated convolutions), and the strided convolution that follows fills only some of them. From
    the second block on, the field is dense.

    With instance norm, every pixel has a non-zero gradient from the first stage on. Still, most of the gradient
    lies inside the convolutional field: the norm adds a weak dependence on the whole image, on top of the local
    one.

    ## 4. Shapes through the network

    Forward hooks record what each module outputs when a real batch goes through the encoder:
    """),
    code(r"""
    shapes = []
    watch = ["features.0.branches.0", "features.0.branches.1", "features.0.branches.2", "features.0",
             "features.1", "features.2", "features.3", "fc_mu", "fc_s2"]
    modules = dict(encoder.named_modules())
    hooks = [modules[name].register_forward_hook(
                 lambda m, inp, out, name=name: shapes.append((name, type(m).__name__, tuple(out.shape))))
             for name in watch]
    batch = test_images[:16]
    with torch.no_grad():
        mu, s2 = encoder(batch)
    for h in hooks:
        h.remove()
    rows = [[name, kind, str(shape), f"{sum(p.numel() for p in modules[name].parameters()):,}"] for name, kind, shape in shapes]
    display(table([["input", "", str(tuple(batch.shape)), ""]] + rows, ["module", "type", "output shape", "parameters"]))
    """),
    md(r"""
    The spatial size goes $48 \to 24 \to 12 \to 6 \to 3$ while the channels grow $1 \to 32 \to 64 \to 128 \to 256$.
    The final $3\cdot3\cdot256 = 2304$ numbers are flattened and mapped linearly to $\mu$ and to $s^2$. The two
    linear maps hold most of the encoder's parameters. The branches of a block keep the input's resolution; only the
    stride-2 convolutions halve it.

    ## 5. The code: $\mu$, $s^2$ and the reparameterisation

    From the flattened features $h$:

    $$\mu = W_\mu h + b_\mu, \qquad s^2 = \operatorname{clamp}\big(\operatorname{softplus}(W_s h + b_s) + 10^{-10},\; 0.1,\; 10^5\big),
    \qquad \operatorname{softplus}(a) = \ln(1 + e^a).$$

    Softplus keeps the variance positive and grows linearly, not exponentially like $e^a$, so it cannot explode. The
    lower clamp at $0.1$ is IA-pix2seq's. Harmony learning (notebook 03) rewards *sharp* codes, because its loss has
    no entropy term, and without a floor $s^2$ would shrink towards 0 and $z$ would become deterministic.
    RPCL-pix2seq and a VAE do not clamp (`Encoder(z_dim, s2_clamp=None)`).
    """),
    code(r"""
    a = torch.linspace(-6, 10, 400)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    axes[0].plot(a, F.softplus(a), label="softplus(a)")
    axes[0].plot(a, F.softplus(a).clamp(0.1, 1e5), "--", label="clamped into [0.1, 1e5]")
    axes[0].set_yscale("log"); axes[0].set_xlabel("a"); axes[0].legend(fontsize=8)
    axes[0].set_title("variance head", fontsize=9)
    axes[1].hist(mu.flatten(), bins=50, color="tab:blue")
    axes[1].set_title(r"$\mu$ at initialisation (16 real images)", fontsize=9)
    axes[2].hist(s2.flatten(), bins=50, color="tab:orange")
    axes[2].axvline(0.1, color="k", ls=":", lw=1)
    axes[2].set_title(r"$s^2$ at initialisation", fontsize=9)
    plt.tight_layout()
    plt.show()
    print(f"mu {tuple(mu.shape)}: spread across the 16 images (std per dimension, averaged) {mu.std(0).mean():.2f}")
    print(f"s2 {tuple(s2.shape)}: in [{s2.min():.2f}, {s2.max():.2f}], at the floor 0.1: {(s2 == 0.1).float().mean():.0%}")
    """),
    md(r"""
    At initialisation the pre-activations are small, so $s^2 \approx \operatorname{softplus}(0) = \ln 2 \approx 0.69$,
    while the means vary from image to image with a standard deviation of only about $0.3$ per dimension. **The noise
    is larger than the signal.** An untrained encoder's codes say little about the sketch; notebook 03 shows what a GMM makes of that.

    **Reparameterisation.** The code is a sample $z \sim \mathcal N(\mu, \operatorname{diag} s^2)$, written as a
    deterministic function of $(\mu, s^2)$ and independent noise,

    $$z = \mu + \sqrt{s^2} \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I),$$

    so that gradients reach both heads: $\partial z/\partial \mu = 1$ and
    $\partial z / \partial s^2 = \varepsilon / (2\sqrt{s^2})$. `iapix.encoder.reparameterize` (also `Encoder.sample`)
    does exactly this. A check on one image:
    """),
    code(r"""
    from iapix.encoder import reparameterize

    torch.manual_seed(1)
    mu1, s21 = encoder(test_images[:1])                     # [1, 128] each, with gradients
    z = reparameterize(mu1.expand(20000, -1), s21.expand(20000, -1))
    print("20 000 samples of z for one image:")
    print(f"  max |mean(z) - mu| = {(z.mean(0) - mu1[0]).abs().max():.2f},"
          f"  max |var(z) / s2 - 1| = {(z.var(0) / s21[0] - 1).abs().max():.2f}")
    z[:, 0].mean().backward()
    fc_s2_grad = encoder.fc_s2.weight.grad
    print("gradient reaches both heads:", encoder.fc_mu.weight.grad.abs().sum().item() > 0,
          fc_s2_grad is not None and fc_s2_grad.abs().sum().item() > 0)
    encoder.zero_grad()
    """),
    md(r"""
    ## 6. The image decoder and its L1 loss

    The stroke decoder (notebook 04) learns slowly, and early in training its gradient says little about what the
    encoder should keep. IA-pix2seq therefore adds a **CNN image decoder** for the first 3 epochs (the *warm-up*). It
    mirrors the encoder: $z \to$ linear $\to 3\cdot3\cdot256$, then four stride-2 transposed 3×3 convolutions back to
    48×48, with a $\tanh$ at the end. Its loss is the L1 distance to the input image, summed over pixels and averaged
    over the batch:

    $$\mathcal L_{\text{img}} = \frac1B \sum_{b=1}^{B} \sum_{p=1}^{48\cdot48} \big|\hat x_{b,p} - x_{b,p}\big|.$$

    L1 is less forgiving than a squared error for the many small errors on thin lines, and it does not let a few
    large ones dominate. After the warm-up the term is dropped, and the strokes alone shape the code. The decoder is
    never used for generation.
    """),
    code(r"""
    from iapix.encoder import ImageDecoder, image_loss_l1

    torch.manual_seed(0)
    image_decoder = ImageDecoder(z_dim=128)
    shapes = []
    hooks = [m.register_forward_hook(lambda m, inp, out: shapes.append((type(m).__name__, tuple(out.shape))))
             for m in [image_decoder.fc, *[m for m in image_decoder.deconv if isinstance(m, nn.ConvTranspose2d)]]]
    with torch.no_grad():
        recon = image_decoder(mu)
    for h in hooks:
        h.remove()
    print(" -> ".join(f"{kind} {shape}" for kind, shape in shapes), "-> tanh")
    white = torch.ones_like(batch)
    print(f"L1 loss of the untrained decoder: {image_loss_l1(recon, batch).item():.4g}   "
          f"(a blank white page: {image_loss_l1(white, batch).item():.4g},"
          f" a uniform grey page: {image_loss_l1(torch.zeros_like(batch), batch).item():.4g})")
    """),
    md(r"""
    The untrained decoder outputs a grey page: its $\tanh$ starts near 0, and the loss is close to that of a uniform
    grey page. A **blank white page** is a much stronger baseline, since most pixels are white. The loss counts each
    ink pixel twice (from $-1$ to $+1$), so a white page scores twice the number of ink pixels.

    A short warm-up shows what the image loss asks of the encoder. Below, the encoder and the image decoder are
    trained together on training images only, with the optimiser of the real runs (Adam, learning rate $10^{-3}$,
    $\beta_1 = 0.5$). The quick setting runs 25 steps of 32 images; a full run of this notebook runs 300 (about two
    minutes on one CPU core).
    """),
    code(r"""
    STEPS = 25 if QUICK else 300
    torch.manual_seed(0)
    ae_encoder, ae_decoder = Encoder(128), ImageDecoder(128)
    params = [*ae_encoder.parameters(), *ae_decoder.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999))
    pick = torch.Generator().manual_seed(0)
    losses = []
    for step in range(STEPS):
        x = train_images[torch.randint(0, len(train_images), (32,), generator=pick)]
        m, v = ae_encoder(x)
        loss = image_loss_l1(ae_decoder(reparameterize(m, v)), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        m, _ = ae_encoder(batch)
        after = ae_decoder(m)  # decoded from mu
    print(f"L1 on the 16 test images, decoded from mu: {image_loss_l1(after, batch).item():.3g}"
          f"   (blank white page: {image_loss_l1(white, batch).item():.3g})")
    fig = plt.figure(figsize=(12, 2.6))
    ax = fig.add_axes([0.04, 0.15, 0.22, 0.75])
    ax.plot(losses); ax.set_xlabel("step"); ax.set_title("L1 image loss (training batches)", fontsize=9)
    for i in range(8):
        for row, (imgs, name) in enumerate([(batch, "input"), (after, f"after {STEPS} steps")]):
            a2 = fig.add_axes([0.30 + i * 0.087, 0.5 - row * 0.47, 0.08, 0.4])
            plot_image(a2, imgs[i, 0], title=name if i == 0 else None)
    plt.show()
    """),
    md(r"""
    The loss falls fast at first, from a grey page towards a white one, but these few steps are far from beating
    the blank white page. After 25 steps every input gets nearly the same output: a lighter page with the
    checkerboard texture that transposed convolutions show early in training. On our data, even 300 steps stay a
    little above the blank page. The image decoder first has to learn what *every* sketch looks like (mostly white);
    only then can it use the code to place the ink of *this* sketch. The real warm-up is 3 epochs over 70 000
    sketches per category, a few thousand steps of 128 images. This notebook only shows the mechanism.

    ## 7. Codes of real sketches, before training

    Does an untrained encoder already separate cats from pigs? We encode all the test sketches, project $\mu$ onto
    its first two principal components, and colour the points by category. We also score a **nearest class-mean**
    classifier on the full 128-dimensional $\mu$, fitted on one half of the sketches and tested on the other half.
    Chance is about 50 %. We do this for the freshly initialised encoder and for the one after the short warm-up above.
    """),
    code(r"""
    from sklearn.decomposition import PCA


    def codes(enc):
        with torch.no_grad():
            return enc(test_images)[0].numpy()


    def nearest_mean_accuracy(x, y, seed=0):
        # fit class means on a random half, classify the other half
        order = np.random.default_rng(seed).permutation(len(y))
        fit, held = order[: len(y) // 2], order[len(y) // 2:]
        means = np.stack([x[fit][y[fit] == k].mean(0) for k in (0, 1)])
        pred = ((x[held, None, :] - means[None]) ** 2).sum(-1).argmin(1)
        return (pred == y[held]).mean()


    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (name, enc) in zip(axes, [("initialisation", encoder), (f"after {STEPS} warm-up steps", ae_encoder)]):
        x = codes(enc)
        pca = PCA(2, svd_solver="full").fit(x)
        p2 = pca.transform(x)
        for k, c in enumerate(prep.categories):
            ax.scatter(*p2[test_labels == k].T, s=9, alpha=0.6, label=c)
        acc = nearest_mean_accuracy(x, test_labels)
        ax.set_title(f"{name}: PCA of mu ({pca.explained_variance_ratio_.sum():.0%} of the variance)", fontsize=9)
        ax.set_xlabel("PC 1"); ax.set_ylabel("PC 2"); ax.legend(fontsize=8)
        print(f"{name:>24}: nearest class-mean accuracy {acc:.2f} on {len(test_labels) - len(test_labels) // 2} held-out sketches")
    plt.tight_layout()
    plt.show()
    """),
    md(r"""
    At initialisation the codes do **not** separate. The two categories overlap completely in the PCA plane, the
    first two components explain only a few per cent of the variance (the random projection has no dominant
    direction), and the nearest class-mean classifier scores at chance. Nothing in an untrained encoder knows what a
    cat is.

    After the short image-only warm-up, the codes have a few dominant directions (a larger share of variance in the
    first two components) and the classifier does better than chance. The image loss makes the code describe coarse
    properties of the picture, such as how much ink there is and where, and these differ somewhat between cats and
    pigs on average. The clouds still overlap heavily; they are not clusters. The encoder noise
    $s^2 \approx 0.7$ per dimension is also still larger than the spread of $\mu$. Separated, compact clusters are
    what training with the stroke decoder and the harmony loss has to produce (notebooks 03 and 05).

    ## What we used

    ```python
    from iapix.encoder import Encoder, DilatedBlock, DILATIONS     # image [B,1,48,48] -> (mu, s2) [B, z]
    from iapix.encoder import reparameterize                       # z = mu + sqrt(s2) * eps
    from iapix.encoder import ImageDecoder, image_loss_l1          # warm-up aid: z -> image, L1 loss
    from iapix.encoder import image_loss_mse                       # RPCL-pix2seq's squared image loss
    ```

    Next: **03 BYY harmony GMM**, the Gaussian mixture that organises these codes.
    """),
]


# ==============================================================================================
# 03 -- BYY harmony learning of the latent GMM

GMM_NB = [
    md(r"""
    # 03 · BYY harmony learning of the latent Gaussian mixture

    The encoder of notebook 02 turns a sketch into a Gaussian code $\mathcal N(\mu_i, \operatorname{diag} s^2_i)$.
    IA-pix2seq wants these codes to form **clusters**, about one compact Gaussian per category and style, so that
    drawing $z$ from a chosen Gaussian gives a chosen kind of sketch. The latent prior is therefore a Gaussian
    mixture

    $$q(z) = \sum_{k=1}^{K} \alpha_k\, \mathcal N(z \mid m_k, \operatorname{diag} v_k).$$

    How many Gaussians? The paper sets $K$ = 2 × the number of categories and lets **Bayesian Ying-Yang (BYY)
    harmony learning** switch off those it does not need. This notebook:

    1. writes the BYY step down (SPEC §3, steps 1–7);
    2. runs it on 2-D toy data with too many components, next to EM and RPCL, and watches the components;
    3. lets you explore $K$, the method and the iteration with a widget;
    4. compares the harmony loss with the KL loss of a VAE or RPCL-pix2seq, and checks the identity between them;
    5. runs the same code on the encoder's codes of real sketches.
    """),
    code(r"""
    %matplotlib inline
    %config InlineBackend.figure_format = "png"
    import functools
    import math
    import os
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    from IPython.display import Markdown, display
    from matplotlib.patches import Ellipse

    plt.rcParams["figure.dpi"] = 72
    torch.set_num_threads(1)
    QUICK = os.environ.get("IAPIX_QUICK") == "1"  # set by `make test`: fewer sketches
    DATA = "../data"


    def table(rows, header):
        lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
        lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
        return Markdown("\n".join(lines))
    """),
    md(r"""
    ## 1. One BYY step

    The GMM is **not** trained by gradient descent. In every training iteration it takes one smoothed closed-form
    step on the batch's codes $z_i$ (with their encoder variances $s^2_i$):

    1. $\ln \mathcal N(z_i \mid m_k, v_k)$ for every code $i$ and component $k$;
    2. the posterior $g_{ik} = \alpha_k \mathcal N_{ik} / \sum_j \alpha_j \mathcal N_{ij}$, clipped into
       $[\tfrac{1}{100K}, 1]$ and renormalised;
    3. the **harmony score** $L_{ik} = \ln g_{ik} - \tfrac12 \sum_d s^2_{id} / v_{kd}$;
    4. its deviation from the average, $\delta_{ik} = L_{ik} - \sum_j g_{ij} L_{ij}$, clipped into $[-1.0001, 1]$;
    5. the **BYY weights** $b_{ik} = g_{ik}\,(1 + \delta_{ik})$;
    6. an M-step with $b$ in place of $g$, where $B_k = \sum_i b_{ik}$:
       $$m_k' = \frac{\sum_i b_{ik} z_i}{B_k}, \qquad v_k' = \frac{\sum_i b_{ik}\big(s^2_i + (z_i - m_k)^2\big)}{B_k}, \qquad \alpha_k' = \frac1n \sum_i b_{ik};$$
    7. smoothing: $\theta \leftarrow 0.95\,\theta + 0.05\,\theta'$ for every parameter; then $v$ is clipped into
       $[10^{-10}, 10^5]$ and $\alpha$ into $[10^{-10}, 1]$, and $\alpha$ is renormalised.

    Step 5 is the heart of it. EM would use $g_{ik}$ as the weight. BYY multiplies it by $1 + \delta_{ik}$: a component
    that explains code $i$ better than the code's average ($\delta > 0$) gets up to twice its share, and a rival that
    explains it worse gets less. A rival far below the average gets $\delta = -1.0001$ and so a slightly
    **negative** weight, which pushes it away. Because $\alpha_k' = \operatorname{mean}_i b_{ik}$, a component that
    loses everywhere has $\alpha_k' \approx 0$, and the smoothing shrinks its weight by 5 % per step until it is
    switched off. That is BYY's **automatic model selection**.

    For comparison, **EM** uses $g_{ik}$, and **RPCL** (rival penalised competitive learning, used by RPCL-pix2seq)
    uses a hard winner and a slightly repelled runner-up, $\text{one-hot}(\text{best}) - 10^{-4}\,\text{one-hot}(\text{second})$.

    `iapix.latent` exposes every step as a pure function: `posterior` (1–2), `byy_weights` (3–5) or `rpcl_weights`,
    `sufficient_stats` (the sums of step 6) and `apply_stats` (6–7). `GMMLatent.update` chains them. Here is one
    step by hand on a small batch, checked against the module:
    """),
    code(r"""
    from iapix.latent import GMMLatent, apply_stats, byy_weights, posterior, rpcl_weights, sufficient_stats

    torch.manual_seed(0)
    gmm = GMMLatent(z_dim=2, K=4, objective="ia")              # alpha = 1/4, m ~ U(-1, 1), v = 1
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    s2 = torch.full_like(z, 0.01)

    g = posterior(z, gmm.alpha, gmm.means, gmm.variances, floor=gmm.floor)   # steps 1-2   [B, K]
    b = byy_weights(g, s2, gmm.variances)                                  # steps 3-5   [B, K]
    stats = sufficient_stats(b, z, s2, gmm.means)                          # sums of step 6
    alpha, means, variances = apply_stats(stats, gmm.alpha, gmm.means, gmm.variances, gmm.decay, "ia")  # 6-7

    fmt_b = lambda x: f"{x:+.4f}" if abs(x) >= 1e-3 else f"{x:+.0e}"  # noqa: E731  (tiny negative weights)
    rows = [[i, " ".join(f"{x:.3f}" for x in g[i]), " ".join(fmt_b(x) for x in b[i])] for i in range(4)]
    display(table(rows, ["code i", "posterior g_ik, k = 1..4", "BYY weight b_ik"]))
    gmm.update(z, s2)
    same = [torch.allclose(x, y) for x, y in [(alpha, gmm.alpha), (means, gmm.means), (variances, gmm.variances)]]
    print("by hand == GMMLatent.update:", all(same), "  new alpha:", [round(a, 4) for a in gmm.alpha.tolist()])
    """),
    md(r"""
    In each row, the component with the largest $g$ gets a $b$ above its $g$, and clear losers get less. In rows 0
    and 1, component 2 has $g \approx 0.09$ against about $0.3$ for the others. Its harmony score is more than 1
    below the row's average, so $\delta$ is clipped to $-1.0001$ and its weight is $-10^{-4} g$, just below zero. (The
    floor $1/(100K)$ on $g$ keeps $\ln g$ finite.) The initial GMM is broad ($v = 1$), so after one small, smoothed
    step the weights $\alpha$ have barely moved.

    ## 2. Toy data: three Gaussians, eight components

    Now 900 points from 3 well-separated 2-D Gaussians (standard deviation 0.25, centres 3.5 apart) and a GMM that
    starts with $K = 8$ components. The updates see mini-batches of 128 points, as training does. Each point gets a
    small "encoder variance" $s^2 = 0.01$, as if an encoder had produced it. With this the variances of
    the components should settle near $0.25^2 + 0.01 \approx 0.07$.

    EM, RPCL and BYY each run 300 steps from the same initial GMM on the same mini-batches. EM weighs with $g$;
    BYY with $b$; RPCL follows RPCL-pix2seq: EM steps, and every third step an RPCL step. (The package starts the
    RPCL steps only after 500 training steps, while the encoder warms up. The toy has nothing to warm up, so they
    start at once.)
    """),
    code(r"""
    def toy_data(n=900, spread=0.25, seed=0):
        # n points from 3 Gaussians with centres on a circle of radius 2
        gen = torch.Generator().manual_seed(seed)
        angles = torch.tensor([0.5, 0.5 + 2 * math.pi / 3, 0.5 + 4 * math.pi / 3])
        centres = torch.stack([2 * angles.cos(), 2 * angles.sin()], 1)
        labels = torch.arange(n) % 3
        return centres[labels] + spread * torch.randn(n, 2, generator=gen), labels


    X, Y = toy_data()
    METHODS = ("EM", "RPCL", "BYY")
    T, BATCH, S2 = 300, 128, 0.01


    @functools.lru_cache(maxsize=64)
    def history(method: str, K: int = 8, seed: int = 0, steps: int = T):
        # run `steps` GMM updates on mini-batches of X; returns alpha [steps+1, K], means, variances [steps+1, K, 2]
        torch.manual_seed(seed)                                   # the initial GMM: m ~ U(-1, 1), v = 1, alpha = 1/K
        init = GMMLatent(2, K, "ia")
        a, m, v = init.alpha, init.means, init.variances
        floor = init.floor if method == "BYY" else 1e-5            # the clip of g: 1/(100K) for BYY, 1e-5 for EM/RPCL
        kind = "ia" if method == "BYY" else "rpcl"
        batches = torch.Generator().manual_seed(seed + 100)        # the same mini-batches for every method
        out = [(a, m, v)]
        for t in range(steps):
            z = X[torch.randint(0, len(X), (BATCH,), generator=batches)]
            s2 = torch.full_like(z, S2)
            g = posterior(z, a, m, v, floor)
            if method == "BYY":
                w = byy_weights(g, s2, v)
            elif method == "RPCL" and t % 3 == 0:
                w = rpcl_weights(g)
            else:
                w = g                                             # EM
            a, m, v = apply_stats(sufficient_stats(w, z, s2, m), a, m, v, decay=0.95, kind=kind)
            out.append((a, m, v))
        return tuple(torch.stack(x).numpy() for x in zip(*out))


    def draw_gmm(ax, alpha, means, variances, threshold=1e-3):
        # 2-sigma ellipses, line width ~ alpha; switched-off components dotted grey
        ax.scatter(*X.T, s=2, c="0.75")
        for k in range(len(alpha)):
            alive = alpha[k] > threshold
            ax.add_patch(Ellipse(means[k], 4 * math.sqrt(variances[k, 0]), 4 * math.sqrt(variances[k, 1]),
                                 fill=False, ec=f"C{k % 10}" if alive else "0.5", ls="-" if alive else ":",
                                 lw=0.8 + 6 * alpha[k] if alive else 0.8))
            ax.plot(*means[k], "x" if alive else ".", color=f"C{k % 10}" if alive else "0.5", ms=5)
        ax.set_xlim(-3.2, 3.2); ax.set_ylim(-3.2, 3.2); ax.set_aspect("equal")
        ax.set_xticks([]); ax.set_yticks([])


    runs = {method: history(method) for method in METHODS}
    """),
    md(r"""
    Each panel shows the 2σ ellipse of every component at one iteration. The line width follows $\alpha_k$, and a
    component with $\alpha_k \le 10^{-3}$ is drawn dotted grey and counts as switched off.
    """),
    code(r"""
    SHOW = [0, 10, 40, 100, 300]
    fig, axes = plt.subplots(3, len(SHOW), figsize=(11, 6.9))
    for row, method in enumerate(METHODS):
        alpha, means, variances = runs[method]
        for col, t in enumerate(SHOW):
            draw_gmm(axes[row, col], alpha[t], means[t], variances[t])
            axes[row, col].set_title(f"{method}, step {t}: {int((alpha[t] > 1e-3).sum())} alive", fontsize=9)
    plt.tight_layout()
    plt.show()
    """),
    code(r"""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    for ax, method in zip(axes, METHODS):
        alpha = runs[method][0]
        for k in range(alpha.shape[1]):
            ax.plot(alpha[:, k], color=f"C{k}", lw=1.2)
        ax.axhline(1e-3, color="k", ls=":", lw=1)
        ax.set_yscale("log"); ax.set_ylim(1e-11, 1.5); ax.set_xlabel("step")
        ax.set_title(f"{method}: weights alpha_k", fontsize=9)
    axes[0].set_ylabel("alpha_k (log scale); dotted: 1e-3")
    plt.tight_layout()
    plt.show()

    rows = []
    for method in METHODS:
        alpha, means, variances = runs[method]
        alive = alpha[-1] > 1e-3
        m = means[-1][alive]
        gap = np.sqrt(((m[:, None] - m[None]) ** 2).sum(-1)) + np.eye(len(m)) * 1e9
        first = next((t for t in range(T + 1) if (alpha[t] > 1e-3).sum() == 3), None)
        rows.append([method, int(alive.sum()), "-" if first is None else first, f"{gap.min():.2f}",
                     " ".join(f"{x:.3f}" for x in sorted(alpha[-1], reverse=True))])
    display(table(rows, ["method", "alive after 300 steps", "first step with 3 alive",
                         "closest pair of alive means", "alpha, sorted"]))
    """),
    md(r"""
    * **EM** keeps almost every component. Several Gaussians share one cluster (means close together, weights
      splitting the cluster's 1/3 between them). Nothing in the likelihood punishes duplicates: two copies of a
      Gaussian, each with half the weight, fit it as well as one. A component can still fade when it is left
      stranded between clusters, but a duplicate that shares a cluster keeps its weight.
    * **BYY** switches off the five redundant components. Their weights drop below $10^{-3}$ within the first
      100–200 steps and keep falling to the clip at $10^{-10}$. The three survivors sit on the three clusters, with
      $\alpha \approx 1/3$. Early on BYY looks like EM. Once one component wins a cluster, its rivals there get
      weights $b_{ik} \le 0$, so $\alpha_k' \le 0$, and the smoothing multiplies their $\alpha$ by 0.95 at every
      step: the straight lines on the log scale.
    * **RPCL** also gets down to three components on these easy, well-separated data, but later (see the table),
      and by a different mechanism. On an RPCL step a component that never wins a point gets $\alpha' = 0$. The
      EM steps in between give part of its weight back, so the losers fade slowly, at about a third of BYY's rate.
      The rival penalty $10^{-4}$ is far too small to push anything away; what prunes is the hard
      winner-takes-all, and model selection is what RPCL was designed for. The differences lie elsewhere:
      RPCL-pix2seq pairs its rule with a KL loss for the encoder (section 4), and the rule is bolted onto EM. In
      BYY, the rival penalty and the model selection follow from one principle, and the same principle gives the
      encoder's loss.

    ## 3. Explore: $K$, the method, the iteration

    The function below draws one run at one iteration: the ellipses, and the $\alpha_k$ curves with a marker at that
    iteration. It is called once with fixed arguments, so that the printed result is checked, and then driven by
    widgets. Move the sliders in a live notebook; changing $K$ or the seed runs a new fit of about a second.
    """),
    code(r"""
    def explore(K=8, method="BYY", iteration=300, seed=0):
        alpha, means, variances = history(method, K, seed)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [1, 1.4]})
        draw_gmm(axes[0], alpha[iteration], means[iteration], variances[iteration])
        alive = int((alpha[iteration] > 1e-3).sum())
        axes[0].set_title(f"{method}, K = {K}, seed {seed}, step {iteration}: {alive} alive", fontsize=9)
        for k in range(K):
            axes[1].plot(alpha[:, k], color=f"C{k % 10}", lw=1.2)
        axes[1].axvline(iteration, color="k", lw=0.8); axes[1].axhline(1e-3, color="k", ls=":", lw=1)
        axes[1].set_yscale("log"); axes[1].set_ylim(1e-11, 1.5); axes[1].set_xlabel("step")
        axes[1].set_title("alpha_k", fontsize=9)
        plt.tight_layout()
        plt.show()
        print(f"{method}, K = {K}, seed {seed}, step {iteration}: {alive} components with alpha > 1e-3;"
              f" largest alphas {[round(float(x), 3) for x in sorted(alpha[iteration], reverse=True)[:4]]}")


    explore(K=12, method="BYY", iteration=150, seed=1)
    """),
    code(r"""
    # NBVAL_IGNORE_OUTPUT
    # (an interactive widget: its output is a widget view, not checked)
    import ipywidgets as widgets

    widgets.interact(explore,
                     K=widgets.IntSlider(value=8, min=2, max=12, description="K"),
                     method=widgets.ToggleButtons(options=METHODS, value="BYY"),
                     iteration=widgets.IntSlider(value=T, min=0, max=T, step=5, description="iteration"),
                     seed=widgets.IntSlider(value=0, min=0, max=5, description="seed"));
    """),
    md(r"""
    Things to try: $K = 3$ (nothing to remove: does BYY keep all three?), $K = 2$ (too few: two components for
    three clusters), EM with $K = 12$, and the early iterations of BYY, where it still looks like EM.

    ## 4. Harmony versus KL: what the encoder is asked to do

    The GMM step above fixes $q(z)$. The encoder is then trained against it. With the posterior $g_{ik}$ of code $i$,
    IA-pix2seq's latent loss is the **harmony** loss, and RPCL-pix2seq (like a VAE with a mixture prior) uses the
    **KL** loss:

    $$\text{Gaussian term:}\quad h_{ik} = \tfrac12 \sum_d \Big[\ln 2\pi + \ln v_{kd} + \frac{s^2_{id} + (\mu_{id} - m_{kd})^2}{v_{kd}}\Big],
    \qquad \mathrm{KL}_{ik} = \tfrac12 \sum_d \Big[\ln v_{kd} - \ln s^2_{id} - 1 + \frac{s^2_{id} + (\mu_{id} - m_{kd})^2}{v_{kd}}\Big],$$

    $$\text{weight term:}\quad -\sum_k g_{ik} \ln \alpha_k \qquad\text{vs.}\qquad \sum_k g_{ik} \ln \frac{g_{ik}}{\alpha_k}.$$

    $h_{ik} = -\mathbb E_{\mathcal N(\mu_i, s^2_i)} \ln \mathcal N(z \mid m_k, v_k)$ is the expected negative
    log-density of the code under Gaussian $k$. The two differ exactly by **entropies**:

    $$h_{ik} = \mathrm{KL}_{ik} + \underbrace{\tfrac12 \textstyle\sum_d \ln(2\pi e\, s^2_{id})}_{\text{entropy of } \mathcal N(\mu_i, s^2_i)},
    \qquad -\sum_k g_{ik}\ln\alpha_k = \sum_k g_{ik}\ln\frac{g_{ik}}{\alpha_k} + \underbrace{\Big(-\textstyle\sum_k g_{ik}\ln g_{ik}\Big)}_{\text{entropy of } g_i}.$$

    Minimising the harmony loss is minimising KL **plus** the entropies. Harmony therefore rewards sharp codes
    (small $s^2$) and confident assignments ($g_i$ close to one-hot), where a KL loss pays for keeping them fuzzy.
    A check of both identities with the package functions on random inputs:
    """),
    code(r"""
    from iapix.latent import LOG_2PI, harmony_gaussian, kl_gaussian

    gen = torch.Generator().manual_seed(0)
    B, K, D = 64, 6, 16
    mu, s2 = torch.randn(B, D, generator=gen), torch.rand(B, D, generator=gen) * 2 + 0.1
    m, v = torch.randn(K, D, generator=gen), torch.rand(K, D, generator=gen) * 2 + 0.1
    alpha = torch.softmax(torch.randn(K, generator=gen), 0)
    g = torch.softmax(2 * torch.randn(B, K, generator=gen), 1)

    entropy_code = 0.5 * (LOG_2PI + 1 + s2.log()).sum(1, keepdim=True)        # [B, 1]
    gauss_gap = (harmony_gaussian(mu, s2, m, v) - (kl_gaussian(mu, s2, m, v) + entropy_code)).abs().max()
    weight_harmony = -(g * alpha.log()).sum(1)
    weight_kl = (g * (g.log() - alpha.log())).sum(1)
    weight_gap = (weight_harmony - (weight_kl - (g * g.log()).sum(1))).abs().max()
    print(f"max |h - (KL + entropy of the code)|             = {gauss_gap.item():.4f}"
          f"   (values up to {harmony_gaussian(mu, s2, m, v).abs().max().item():.0f})")
    print(f"max |weight_harmony - (weight_KL + entropy of g)| = {weight_gap.item():.4f}")
    """),
    md(r"""
    Both differences are zero to float32 rounding. Now the consequence for one code. Put $\mu$ on the mean of a
    Gaussian with $v = 1$ and vary only $s^2$:
    """),
    code(r"""
    s2_grid = torch.logspace(-3, 1.3, 200)[:, None]                       # [200, 1]
    zero, one = torch.zeros(1, 1), torch.ones(1, 1)
    h_curve = harmony_gaussian(torch.zeros_like(s2_grid), s2_grid, zero, one)[:, 0]
    kl_curve = kl_gaussian(torch.zeros_like(s2_grid), s2_grid, zero, one)[:, 0]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(s2_grid, h_curve, label="harmony term h")
    ax.plot(s2_grid, kl_curve, label="KL term")
    ax.axvspan(1e-3, 0.1, color="0.9", label="below IA's clamp of s2")
    ax.set_xscale("log"); ax.set_xlabel("encoder variance s2  (mu = m, v = 1)"); ax.legend(fontsize=8)
    plt.show()
    print(f"KL is smallest at s2 = {s2_grid[kl_curve.argmin(), 0]:.2f}; the harmony term is smallest at the"
          f" smallest s2 on the grid: {bool(h_curve.argmin() == 0)}")
    """),
    md(r"""
    The KL term is smallest when the code is as wide as the Gaussian ($s^2 = v$); below that, its $-\ln s^2$ pushes
    back. The harmony term only grows with $s^2$ (here it is $\tfrac12(\ln 2\pi + s^2/v)$), so its gradient always
    pushes $s^2$ down, nothing pulls it back up, and its minimum is at $s^2 = 0$. This is why IA-pix2seq's encoder
    clamps $s^2 \ge 0.1$ (notebook 02): the harmony loss pulls each code towards a point at the centre of its
    Gaussian, and the clamp keeps a little noise in $z$.

    ## 5. The same code on latent codes of real sketches

    Nothing above was specific to 2-D points. `GMMLatent` runs the same step on the encoder's codes, batch by
    batch, and `GMMLatent.update` is exactly what a training step calls before its loss. We encode cat and pig test
    sketches with an **untrained** encoder (codes of size 32), then run 300 GMM updates on mini-batches of sampled
    codes $z = \mu + \sqrt{s^2}\,\varepsilon$ (the encoder stays fixed). $K = 4$, two per category, as in the paper,
    with BYY (`objective="ia"`) and with EM (`objective="rpcl"`, whose first 500 steps are plain EM).
    """),
    code(r"""
    from iapix.data import prepare
    from iapix.encoder import Encoder

    prep = prepare(["cat", "pig"], DATA, limit=100 if QUICK else None)
    images = torch.from_numpy(prep.images["test"]).unsqueeze(1)
    labels = prep.labels["test"]
    torch.manual_seed(0)
    encoder = Encoder(z_dim=32)
    with torch.no_grad():
        mu, s2 = encoder(images)                                    # [N, 32] each
    print(f"{len(labels)} codes; spread of mu across sketches: variance {mu.var(0).mean():.3f} per dimension;"
          f" encoder noise s2: {s2.mean():.3f} per dimension")


    def fit_codes(objective, steps=300, K=4, seed=0):
        torch.manual_seed(seed)
        gmm = GMMLatent(32, K, objective)
        gen = torch.Generator().manual_seed(seed + 1)
        for _ in range(steps):
            idx = torch.randint(0, len(mu), (128,), generator=gen)
            z = mu[idx] + s2[idx].sqrt() * torch.randn(128, 32, generator=gen)   # reparameterize, seeded
            gmm.update(z, s2[idx], mu[idx])
        return gmm


    rows = []
    for name, objective in [("BYY (ia)", "ia"), ("EM (rpcl, first 500 steps)", "rpcl")]:
        gmm = fit_codes(objective)
        lab = gmm.labels(mu, s2).numpy()
        counts = " / ".join(f"{c}: " + ",".join(str(int(((labels == c_i) & (lab == k)).sum())) for k in range(4))
                            for c_i, c in enumerate(prep.categories))
        rows.append([name, int(gmm.components_alive().sum()), " ".join(f"{a:.3f}" for a in gmm.alpha.tolist()),
                     f"{gmm.variances.mean():.2f}", counts])
    display(table(rows, ["GMM update", "alive", "alpha_k", "mean v", "sketches per component (cat: k=1..4 / pig: ...)"]))
    """),
    md(r"""
    What this means: the codes of an untrained encoder carry little structure and much noise. The spread of $\mu$
    between sketches is small next to the encoder's own variance $s^2 \approx 0.7$, so the sampled codes form one
    broad blob. BYY fits one Gaussian and switches the other three off. It does not invent clusters the data do not
    have. EM keeps all four, as heavily overlapping copies of that blob. Either way, every sketch gets the same
    component label, so the components say nothing about cat or pig yet.

    In training, the reconstruction loss forces $\mu$ to carry the sketch, and the harmony loss pulls each code
    towards its Gaussian and shrinks $s^2$ towards the clamp. Then the codes separate and the surviving Gaussians
    come to mean something. Notebook 05 trains the model, and 07 measures the clusters. If a trained checkpoint is
    present, the next cell shows its GMM on real codes; otherwise it says so.
    """),
    code(r"""
    # NBVAL_IGNORE_OUTPUT
    # (depends on whether a trained checkpoint exists on this machine)
    from iapix.train import load_model

    found = sorted(Path("..").glob("runs/**/best.pt")) + sorted(Path("..").glob("checkpoints/**/*.pt"))
    if not found:
        print("no trained checkpoint under ../runs/ or ../checkpoints/: train one in notebook 05 (or with"
              " `iapix train`), then run this cell again")
    for path in found[:3]:
        try:
            model, ckpt = load_model(path)
            cats = list(ckpt["categories"])
            p = prepare(cats, DATA, limit=100 if QUICK else None, scale=ckpt["scale"])
        except (ValueError, RuntimeError, OSError, KeyError) as err:  # another version, categories not in ../data
            print(f"{path}: skipped ({err})")
            continue
        x = torch.from_numpy(p.images["test"]).unsqueeze(1)
        with torch.no_grad():
            mu_t, s2_t = model.encode(x)
        lat = model.latent
        lab = lat.labels(mu_t, s2_t).numpy()
        print(f"{path} (step {int(lat.steps)}): objective {lat.objective!r}, K = {lat.K},"
              f" {int(lat.components_alive().sum())} of {lat.K} components alive (alpha > 1e-3);"
              f" alpha = {[round(a, 3) for a in lat.alpha.tolist()]}")
        rows = [[c] + [int(((p.labels["test"] == i) & (lab == k)).sum()) for k in range(lat.K)]
                for i, c in enumerate(cats)]
        display(table(rows, ["test sketches of"] + [f"component {k + 1}" for k in range(lat.K)]))
    """),
    md(r"""
    ## What we used

    ```python
    from iapix.latent import GMMLatent                    # buffers alpha [K], means, variances [K, D]; .update, .losses, .labels
    from iapix.latent import posterior, byy_weights, rpcl_weights, sufficient_stats, apply_stats   # one step, piece by piece
    from iapix.latent import harmony_gaussian, kl_gaussian, log_gaussian                           # per-component terms [B, K]
    ```

    `GMMLatent.losses(mu, s2, z)` returns the two latent loss terms (`gauss`, `weight`) of section 4 for a batch,
    harmony for `objective="ia"` and KL for `"rpcl"`. Next: **04 HyperLSTM decoder**, the Ying path from a code back
    to pen strokes.
    """),
]


if __name__ == "__main__":
    for name, cells in [("02_cnn_encoder.ipynb", ENCODER_NB), ("03_byy_harmony_gmm.ipynb", GMM_NB)]:
        print(write(name, cells))
