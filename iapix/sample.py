"""Controllable generation (method §5), batched on any device.

* :func:`conditional` -- encode sketch images, decode from ``mu`` (or a sampled ``z``);
* :func:`from_component` -- draw ``z ~ N(m_k, v_k)`` from Gaussian ``k`` of the learned GMM;
* :func:`interpolate` / :func:`interpolate_components` -- codes on a straight line between two codes
  or two Gaussians' means;
* :func:`component_counts` -- what each Gaussian holds (test codes per Gaussian and category), shown by
  :func:`composition` (``"pig 62%, cat 32%"``) and :func:`component_majority` (``"pig 62%"``);
* :func:`decode` -- any batch of codes to stroke-3 sketches: every sketch stops at its own ``p_end``
  (or ``N_max``) while the batch goes on (:meth:`iapix.decoder.SketchDecoder.generate`). A sketch
  whose first point is ``p_end`` comes back empty (0 rows): render it with ``allow_empty=True``;
* the functions that need the checkpoint's scale factor, N_max or categories take the
  :class:`iapix.checkpoint.Checkpoint` (``ck = load_checkpoint(path)``); those of the network alone
  (:func:`encode`, :func:`component_codes`, ...) take the model (``ck.model``);
* your own drawing: :func:`drawing_to_stroke3` (canvas polylines through the raw-ndjson simplification),
  :func:`encode_drawing` (image, code, posterior, label) and :func:`complete` (sketch-rnn completion:
  teacher-forced over your points, then sampled on). Departure: a drawing longer than ``N_max`` after
  simplification is truncated to ``N_max`` points (its ``note`` says so).

Outputs are stroke-3 arrays in the data's pixel units (the normalisation is undone with the
checkpoint's scale factor), SVG files (:func:`to_svg`), PNG grids (:func:`iapix.plot.sketch_grid`),
and 48x48 images through the data's own renderer (:func:`iapix.raster.render`).
"""

from __future__ import annotations

import argparse
import math
import numbers
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from iapix.checkpoint import Checkpoint
from iapix.data import Prepared, denormalise, from_stroke5, normalise
from iapix.decoder import DEFAULT_TEMPERATURE
from iapix.model import IAPix

MIN_EXTENT = 2.0  # canvas pixels: a smaller drawing is a slip of the pen (it would be blown up to 255 px)


def to_stroke3(strokes5: Tensor, scale: float = 1.0) -> list[np.ndarray]:
    """A generated batch ``[B, N+1, 5]`` (start token first) -> stroke-3 arrays, offsets times ``scale``."""
    out = []
    for row in strokes5[:, 1:].detach().float().cpu().numpy():
        s = from_stroke5(row)  # may be empty
        if len(s) and s[-1, 2] == 0:
            s[-1, 2] = 1.0  # a sketch cut at N_max still ends with a pen lift
        out.append(s)
    return denormalise(out, scale)


def check_temperature(temperature: float, greedy: bool = False) -> float:
    """``temperature`` as a float if it can be sampled at (finite and > 0; anything when ``greedy``)."""
    if not greedy and not (isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature {temperature!r}: expected a finite number > 0 (or greedy decoding)")
    return float(temperature)


@torch.no_grad()
def decode(ck: Checkpoint, z: Tensor, temperature: float = DEFAULT_TEMPERATURE, greedy: bool = False,
           seed: int | None = None, batch_size: int = 1024, progress: bool = False,
           max_len: int | None = None) -> list[np.ndarray]:
    """Codes ``z [B, z_dim]`` -> ``B`` stroke-3 sketches in pixel units, generated ``batch_size`` at a time.

    Each sketch has at most ``max_len`` points (default: the checkpoint's N_max).
    """
    from tqdm.auto import tqdm

    check_temperature(temperature, greedy)
    model = ck.model
    device = ck.device
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    for i in tqdm(range(0, len(z), batch_size), desc="generate", unit="batch", disable=not progress, leave=False):
        s5, _ = model.generate(z[i:i + batch_size].to(device), max_len or ck.max_len, temperature, greedy, gen)
        out += to_stroke3(s5, ck.scale)
    model.train(was_training)
    return out


@torch.no_grad()
def encode(model: IAPix, images: Tensor | np.ndarray, batch_size: int | None = None) -> tuple[Tensor, Tensor]:
    """Images ``[B, 1, 48, 48]`` or ``[B, 48, 48]`` in [-1, 1] -> ``(mu, s2)`` on the CPU.

    ``batch_size`` by default 64 on a CPU, where a batch's activations then stay in cache
    (``benchmarks/encode.py``: 2.6x faster than one batch of 450 on an AVX2 core), 512 on a GPU."""
    device = next(model.parameters()).device
    if batch_size is None:
        batch_size = 64 if device.type == "cpu" else 512
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1:] != (1, 48, 48):
        raise ValueError(f"images: expected [B, 1, 48, 48] (or [B, 48, 48]), got {tuple(images.shape)}")
    was_training = model.training
    model.eval()
    mus, s2s = [], []
    for i in range(0, len(images), batch_size):
        mu, s2 = model.encode(images[i:i + batch_size].to(device))
        mus.append(mu.float().cpu())
        s2s.append(s2.float().cpu())
    model.train(was_training)
    return torch.cat(mus), torch.cat(s2s)


def conditional(ck: Checkpoint, images: Tensor | np.ndarray, from_mu: bool = True,
                temperature: float = DEFAULT_TEMPERATURE, greedy: bool = False,
                seed: int | None = None) -> list[np.ndarray]:
    """Reconstruct sketches from their images: encode, then decode from ``mu`` (or a sampled ``z``)."""
    mu, s2 = encode(ck.model, images)
    z = mu
    if not from_mu:
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = mu + s2.sqrt() * torch.randn(mu.shape, generator=gen)
    return decode(ck, z, temperature, greedy, seed)


def check_component(model: IAPix, k: int) -> int:
    """``k`` as an int if the model has Gaussian ``k``, else a ``ValueError`` naming the valid range."""
    K = model.latent.K
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) < K:
        raise ValueError(f"component {k!r}: this model has {K} Gaussians (0..{K - 1})")
    return int(k)


def component_codes(model: IAPix, k: int, n: int, seed: int | None = None) -> Tensor:
    """``n`` codes drawn from Gaussian ``k``: ``z ~ N(m_k, diag(v_k))`` -> ``[n, z_dim]``."""
    lat = model.latent
    k = check_component(model, k)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    m, v = lat.means[k].float().cpu(), lat.variances[k].float().cpu()
    return m + v.sqrt() * torch.randn(n, m.numel(), generator=gen)


def from_component(ck: Checkpoint, k: int, n: int, temperature: float = DEFAULT_TEMPERATURE, greedy: bool = False,
                   seed: int | None = None) -> list[np.ndarray]:
    """``n`` sketches from Gaussian ``k`` of the GMM (controlled generation)."""
    return decode(ck, component_codes(ck.model, k, n, seed), temperature, greedy, seed)


def interpolate(z_a: Tensor, z_b: Tensor, steps: int) -> Tensor:
    """``steps`` codes on the segment from ``z_a`` to ``z_b`` (both ends included) -> ``[steps, z_dim]``."""
    t = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
    return (1 - t) * z_a.reshape(1, -1).float() + t * z_b.reshape(1, -1).float()


def interpolate_components(model: IAPix, k_a: int, k_b: int, steps: int) -> Tensor:
    """Codes from the mean of Gaussian ``k_a`` to the mean of ``k_b``."""
    k_a, k_b = check_component(model, k_a), check_component(model, k_b)
    return interpolate(model.latent.means[k_a].cpu(), model.latent.means[k_b].cpu(), steps)


def to_svg(sketch: np.ndarray, size: float = 128.0, margin: float = 4.0, stroke_width: float = 1.5) -> str:
    """One stroke-3 sketch as an SVG document (fit into a ``size`` square, black on white)."""
    from iapix.plot import strokes_to_lines

    lines = strokes_to_lines(sketch)
    pts = np.concatenate(lines) if lines else np.zeros((1, 2))
    lo, extent = pts.min(0), max(float((pts.max(0) - pts.min(0)).max()), 1e-6)
    k = (size - 2 * margin) / extent
    off = (size - k * (pts.max(0) - lo)) / 2
    paths = " ".join("M" + " L".join(f"{x:.2f},{y:.2f}" for x, y in (l - lo) * k + off) for l in lines)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:g}" height="{size:g}" '
            f'viewBox="0 0 {size:g} {size:g}"><rect width="100%" height="100%" fill="white"/>'
            f'<path d="{paths}" fill="none" stroke="black" stroke-width="{stroke_width:g}" '
            f'stroke-linecap="round" stroke-linejoin="round"/></svg>')


def save_grid(sketches: Sequence[np.ndarray], path: str | Path, ncols: int = 8,
              titles: Sequence[str] | None = None, row_titles: bool = False) -> Path:
    """A PNG grid of sketches (matplotlib); ``row_titles``: see :func:`iapix.plot.sketch_grid`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from iapix.plot import save_figure, sketch_grid

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = sketch_grid(sketches, ncols=ncols, titles=titles, row_titles=row_titles)
    try:
        save_figure(fig, path, dpi=90)
    finally:
        plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# CLI: iapix sample


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iapix.cli import positive_float, positive_int

    parser.add_argument("--checkpoint", required=True, help="a best.pt / last.pt written by iapix train")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--component", help="draw codes from this Gaussian: an index, 'heaviest', or 'all' "
                      "(one row per live Gaussian, heaviest first, then a row of real test sketches per category)")
    what.add_argument("--from-test", type=positive_int, metavar="N", help="reconstruct the first N test sketches")
    what.add_argument("--interpolate", type=int, nargs=2, metavar=("K_A", "K_B"),
                      help="walk from the mean of Gaussian K_A to that of K_B")
    parser.add_argument("--n", type=positive_int, default=64, help="number of sketches (steps for --interpolate)")
    parser.add_argument("--temperature", type=positive_float, default=DEFAULT_TEMPERATURE)
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="data", help="folder with the category files (for --from-test)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="out/samples.png", help="PNG grid (a folder: FOLDER/samples.png)")
    parser.add_argument("--svg-dir", default=None, help="also write one SVG per sketch here")


def split_codes(model: IAPix, data: Prepared, split: str = "test") -> tuple[Tensor, Tensor, Tensor]:
    """Codes of one split: ``(mu [N, D], s2 [N, D], labels [N])``, labels = the component of each code
    (``model.latent.labels``: the arg-max of the BYY weights for ia, of the posterior otherwise)."""
    if split not in data.images:
        raise ValueError(f"split {split!r}: data has {sorted(data.images)}")
    if len(data.images[split]) == 0:
        raise ValueError(f"data: the {split} split is empty (prepare() kept no {split} sketch)")
    mu, s2 = encode(model, data.images[split])
    device = model.latent.alpha.device
    return mu, s2, model.latent.labels(mu.to(device), s2.to(device)).cpu()


def component_counts(labels: Tensor | np.ndarray, categories_of: np.ndarray, K: int, C: int) -> np.ndarray:
    """What each Gaussian holds: ``counts [K, C]`` (ints), ``counts[k, c]`` = codes labelled ``k`` (``labels [N]``,
    in ``0..K-1``) whose category (``categories_of [N]``, in ``0..C-1``) is ``c``. A Gaussian that labels no code
    has a row of zeros."""
    labels, cats = np.asarray(labels).astype(np.int64), np.asarray(categories_of).astype(np.int64)
    if labels.shape != cats.shape or labels.ndim != 1:
        raise ValueError(f"component_counts: labels {labels.shape} and categories {cats.shape} must be [N] each")
    if len(labels) and not (0 <= labels.min() and labels.max() < K and 0 <= cats.min() and cats.max() < C):
        raise ValueError(f"component_counts: labels must be in 0..{K - 1}, categories in 0..{C - 1}")
    return np.bincount(labels * C + cats, minlength=K * C).reshape(K, C)


def largest_categories(row: np.ndarray) -> np.ndarray:
    """Category indices of one Gaussian's row of :func:`component_counts` ``[C]``, largest count first. The one
    tie-break of the package: equal counts keep their category order (the lower index first)."""
    return np.argsort(-np.asarray(row), kind="stable")


def composition(row: np.ndarray, names: Sequence[str], top: int | None = None, sep: str = ", ") -> str:
    """One Gaussian's categories as ``"pig 62%, cat 32%"``: its ``top`` largest (all by default; categories it
    does not hold are left out) in the order of :func:`largest_categories`, each with its share of the Gaussian's
    codes; ``"-"`` when it holds none. ``row``: its row of :func:`component_counts` ``[C]``."""
    row = np.asarray(row)
    n = row.sum()
    if n == 0:
        return "-"
    return sep.join(f"{names[c]} {100 * row[c] / n:.0f}%" for c in largest_categories(row)[:top] if row[c])


def component_majority(labels: Tensor | np.ndarray, categories_of: np.ndarray, names: Sequence[str],
                       K: int) -> list[str]:
    """Each component's majority test category, e.g. ``"pig 62%"`` (``"cat/pig 50%"`` for a tie: all the tied
    categories, in category order; ``"-"`` when no test code has the component)."""
    out = []
    for row in component_counts(labels, categories_of, K, len(names)):
        if row.sum() == 0:
            out.append("-")
            continue
        top = "/".join(names[c] for c in np.flatnonzero(row == row.max()))  # a tie names all of them
        out.append(f"{top} {100 * row.max() / row.sum():.0f}%")
    return out


def per_gaussian_grid(ck: Checkpoint, n: int, data_dir: str | Path = "data", temperature: float = DEFAULT_TEMPERATURE,
                      greedy: bool = False, seed: int | None = 0) -> tuple[list[np.ndarray], list[str], int]:
    """Controlled generation at a glance: ``n`` sketches from each live Gaussian (``alpha > ALIVE``,
    heaviest first), each row titled with the majority category of the test codes the Gaussian labels
    (what it should draw), then ``n`` real test sketches of each category -> (sketches, titles, ncols = n)."""
    from iapix.data import prepare
    from iapix.latent import ALIVE

    data = prepare(ck.categories, data_dir, max_len=ck.max_len, scale=ck.scale)
    latent = ck.model.latent
    majority = component_majority(split_codes(ck.model, data)[2], data.labels["test"], ck.categories, latent.K)
    alpha = latent.alpha.cpu()
    sketches, titles = [], []
    for k in [int(k) for k in alpha.argsort(descending=True) if alpha[k] > ALIVE]:
        sketches += from_component(ck, k, n, temperature, greedy, None if seed is None else seed + k)
        titles += [f"Gaussian {k} (α {float(alpha[k]):.2f}): test codes {majority[k]}"] + [""] * (n - 1)
    for c, name in enumerate(ck.categories):
        idx = np.flatnonzero(data.labels["test"] == c)[:n]
        sketches += denormalise([data.strokes["test"][i] for i in idx], ck.scale)
        titles += [f"real {name}"] + [""] * (len(idx) - 1)
        sketches += [np.zeros((0, 3), np.float32)] * (n - len(idx))  # keep the rows aligned
        titles += [""] * (n - len(idx))
    return sketches, titles, n


def run(args: argparse.Namespace) -> int:
    from iapix.checkpoint import load_checkpoint
    from iapix.cli import output_file
    from iapix.data import prepare

    out = output_file(args.out, "samples.png")  # before the work: a bad --out fails at once
    ck = load_checkpoint(args.checkpoint, args.device)
    opts = dict(temperature=args.temperature, greedy=args.greedy, seed=args.seed)
    titles, ncols = None, 8
    if args.component == "all":
        sketches, titles, ncols = per_gaussian_grid(ck, args.n, args.data, **opts)
    elif args.component is not None:
        if args.component == "heaviest":
            k = int(ck.model.latent.alpha.argmax())
        elif args.component.lstrip("-").isdigit():
            k = int(args.component)
        else:
            raise ValueError(f"--component: expected a Gaussian index, 'heaviest' or 'all', got {args.component!r}")
        sketches = from_component(ck, k, args.n, **opts)
    elif args.interpolate is not None:
        if args.n < 2:
            raise ValueError(f"--n {args.n}: --interpolate needs at least 2 steps (both ends are drawn)")
        sketches = decode(ck, interpolate_components(ck.model, *args.interpolate, args.n), **opts)
    else:
        data = prepare(ck.categories, args.data, max_len=ck.max_len, scale=ck.scale)
        n = min(args.from_test, len(data.strokes["test"]))
        pick = np.linspace(0, len(data.strokes["test"]) - 1, n).astype(int)  # spread over the categories
        originals = denormalise([data.strokes["test"][i] for i in pick], ck.scale)
        recon = conditional(ck, data.images["test"][pick], **opts)
        sketches = [s for pair in zip(originals, recon) for s in pair]
        titles = [t for i in pick for t in (f"{ck.categories[data.labels['test'][i]]} #{i}", "reconstruction")]
    path = save_grid(sketches, out, ncols=ncols, titles=titles, row_titles=args.component == "all")
    print(f"{len(sketches)} sketches -> {path}")
    if args.svg_dir:
        from iapix.plot import write_safely

        d = Path(args.svg_dir)
        d.mkdir(parents=True, exist_ok=True)
        names = [f"sketch_{i:04d}.svg" for i in range(len(sketches))]
        for name, s in zip(names, sketches):
            svg = to_svg(s)
            write_safely(d / name, lambda tmp, svg=svg: tmp.write_text(svg, encoding="utf-8"), "the SVG")
        # an earlier, longer call's files beyond this one's are not ours to delete, but must not pass as this call's
        older = sorted(set(p.name for p in d.glob("sketch_*.svg")) - set(names))
        print(f"{len(names)} SVGs -> {d}/sketch_0000.svg ... {names[-1]}"
              + (f" (the folder also holds {len(older)} older sketch_*.svg files, from {older[0]} on, that this "
                 "call did not write)" if older else ""))
    return 0


# ----------------------------------------------------------------------------------------------
# your own drawing: strokes from a canvas -> stroke-3 -> code, posterior, completions
#
# A drawing from a canvas (a list of polylines in canvas pixels) takes the same path as a raw
# QuickDraw ndjson record: ``simplify_lines`` (top-left align, longest side 255, 1-px resampling,
# RDP epsilon 2) then ``lines_to_stroke3``. Departure, documented: a drawing longer than the
# checkpoint's ``N_max`` after simplification is *truncated* to its first ``N_max`` points (the
# model never saw longer sequences); the result's ``note`` says so.


def drawing_to_stroke3(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Canvas polylines (a list of ``(m_j, 2)`` points, canvas pixels) -> stroke-3 ``(n, 3)`` float32.

    The same code path as a raw ndjson drawing (``simplify_lines`` then ``lines_to_stroke3``), so the
    result is in the 0-255 units of the simplified QuickDraw data. An empty pad, a drawing that is a
    single dot, one smaller than ``MIN_EXTENT`` canvas pixels (a slip, which the simplification would
    blow up to a 255-pixel line) and points that are not ``[x, y]`` numbers raise ``ValueError``.
    """
    from iapix.data import lines_to_stroke3, simplify_lines

    if not isinstance(lines, (list, tuple)):
        raise ValueError(f"strokes: expected a list of strokes, got {type(lines).__name__}")
    clean = []
    for j, line in enumerate(lines):
        try:
            a = np.asarray(line, dtype=np.float64)
        except (TypeError, ValueError):
            first = line[0] if isinstance(line, (list, tuple)) and line else line
            raise ValueError(f"stroke {j}: expected a list of [x, y] number pairs, got points like {first!r}") from None
        if a.size == 0:
            continue
        if a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"stroke {j}: expected (m, 2) canvas points, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"stroke {j}: NaN or inf coordinates")
        clean.append(a)
    if not clean:
        raise ValueError("the drawing is empty: draw at least one stroke")
    pts = np.concatenate(clean)
    extent = float((pts.max(0) - pts.min(0)).max())
    if extent == 0.0:
        raise ValueError("the drawing is a single dot: draw a line (at least two distinct points)")
    if extent < MIN_EXTENT:
        raise ValueError(f"the drawing is only {extent:.2g} px across: draw a line at least {MIN_EXTENT:g} px long "
                         "(a smaller one would be blown up to 255 px)")
    return lines_to_stroke3(simplify_lines(clean)).astype(np.float32)


def _fit(stroke3: np.ndarray, max_len: int) -> tuple[np.ndarray, str]:
    """Truncate a stroke-3 sketch to ``max_len`` points (last one a pen lift); returns it and a note."""
    s = np.asarray(stroke3, dtype=np.float32)
    if s.ndim != 2 or s.shape[1] != 3 or len(s) == 0:
        raise ValueError(f"stroke3: expected a non-empty (n, 3) array, got shape {s.shape}")
    if len(s) <= max_len:
        return s, ""
    s = s[:max_len].copy()
    s[-1, 2] = 1.0
    return s, f"truncated from {len(stroke3)} to N_max = {max_len} points (the longest sequence the model knows)"


def _image(stroke3: np.ndarray, scale: float) -> np.ndarray:
    """Pixel-unit stroke-3 -> the encoder's 48x48 image (normalised as ``prepare`` does, then rendered)."""
    from iapix.raster import render_one

    return render_one(normalise([stroke3], scale)[0])


def encode_drawing(ck: Checkpoint, lines: Sequence[np.ndarray]) -> dict:
    """A canvas drawing -> ``dict(stroke3, image, mu, s2, posterior, label, note)``.

    ``stroke3`` (n, 3) in pixel units (0-255, truncated to ``N_max``), ``image`` [48, 48] in [-1, 1],
    ``mu``/``s2`` [z_dim], ``posterior`` g [K] (clipped responsibilities of the GMM at ``mu``),
    ``label`` the component (``model.latent.labels``: arg-max of the BYY weights for ia, of g
    otherwise), ``note`` a sentence on anything unusual ("" if nothing): truncation, or a VAE
    checkpoint, whose single N(0, I) makes the posterior trivially [1.0].
    """
    model = ck.model
    stroke3, note = _fit(drawing_to_stroke3(lines), ck.max_len)
    image = _image(stroke3, ck.scale)
    mu, s2 = encode(model, image[None])
    lat = model.latent
    dev = lat.alpha.device
    if model.cfg.objective == "vae":
        g, label = torch.ones(1), 0
        vae = "VAE checkpoint: one Gaussian N(0, I), the posterior is trivially [1.0]"
        note = " ".join(x for x in [note, vae] if x)
    else:
        g = lat.posterior(mu.to(dev))[0].cpu()
        label = int(lat.labels(mu.to(dev), s2.to(dev))[0])
    return dict(stroke3=stroke3, image=image, mu=mu[0], s2=s2[0], posterior=g, label=label, note=note)


@torch.no_grad()
def complete(ck: Checkpoint, stroke3: np.ndarray, n: int = 1, temperature: float = DEFAULT_TEMPERATURE,
             seed: int | None = 0, greedy: bool = False) -> list[np.ndarray]:
    """sketch-rnn completion: ``n`` continuations of a started drawing, batched -> ``n`` stroke-3 sketches.

    Generation from a prefix (:meth:`iapix.decoder.SketchDecoder.generate`, ``prefix=``): ``z`` = encoder
    ``mu`` of the drawing's image; the decoder reads the user's points teacher-forced, then samples on;
    each continuation stops at its own ``p_end`` or when the whole sketch reaches ``N_max`` points.
    ``stroke3`` (L, 3) in pixel units (truncated to ``N_max``). Returns the user's rows unchanged
    followed by each continuation (pixel units; a continuation may be empty).
    """
    from iapix.data import to_stroke5

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    check_temperature(temperature, greedy)
    model, scale, device = ck.model, ck.scale, ck.device
    user, _ = _fit(stroke3, ck.max_len)
    L = len(user)
    if L == ck.max_len:
        return [user.copy() for _ in range(n)]
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    try:
        mu, _ = encode(model, _image(user, scale)[None])
        prefix = torch.from_numpy(to_stroke5(normalise([user], scale), L)[0][:, 1:]).to(device)  # [1, L, 5]
        out, _ = model.generate(mu.to(device).expand(n, -1), ck.max_len, temperature, greedy, gen, prefix=prefix)
    finally:
        model.train(was_training)
    continuations = to_stroke3(out[:, L:], scale)  # row L (the user's last point) plays the start token
    return [np.concatenate([user, c]) if len(c) else user.copy() for c in continuations]
