"""Controllable generation (SPEC §5), batched on any device.

* :func:`conditional` -- encode sketch images, decode from ``mu`` (or a sampled ``z``);
* :func:`from_component` -- draw ``z ~ N(m_k, v_k)`` from Gaussian ``k`` of the learned GMM;
* :func:`interpolate` / :func:`interpolate_components` -- codes on a straight line between two codes
  or two Gaussians' means;
* :func:`decode` -- any batch of codes to stroke-3 sketches: every sketch stops at its own ``p_end``
  (or ``N_max``) while the batch goes on (:meth:`iapix.decoder.SketchDecoder.generate`). A sketch
  whose first point is ``p_end`` comes back empty (0 rows): render it with ``allow_empty=True``;
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
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from iapix.data import from_stroke5
from iapix.model import IAPix


def to_stroke3(strokes5: Tensor, scale: float = 1.0) -> list[np.ndarray]:
    """A generated batch ``[B, N+1, 5]`` (start token first) -> stroke-3 arrays, offsets times ``scale``."""
    out = []
    for row in strokes5[:, 1:].detach().float().cpu().numpy():
        s = from_stroke5(row)  # may be empty
        s[:, :2] *= scale
        if len(s) and s[-1, 2] == 0:
            s[-1, 2] = 1.0  # a sketch cut at N_max still ends with a pen lift
        out.append(s)
    return out


@torch.no_grad()
def decode(model: IAPix, z: Tensor, max_len: int, scale: float = 1.0, temperature: float = 0.24,
           greedy: bool = False, seed: int | None = None, batch_size: int = 1024,
           progress: bool = False) -> list[np.ndarray]:
    """Codes ``z [B, z_dim]`` -> ``B`` stroke-3 sketches, generated ``batch_size`` at a time."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    for i in tqdm(range(0, len(z), batch_size), desc="generate", unit="batch", disable=not progress, leave=False):
        s5, _ = model.generate(z[i:i + batch_size].to(device), max_len, temperature, greedy, gen)
        out += to_stroke3(s5, scale)
    model.train(was_training)
    return out


@torch.no_grad()
def encode(model: IAPix, images: Tensor | np.ndarray, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Images ``[B, 1, 48, 48]`` or ``[B, 48, 48]`` in [-1, 1] -> ``(mu, s2)`` on the CPU."""
    device = next(model.parameters()).device
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


def conditional(model: IAPix, images: Tensor | np.ndarray, max_len: int, scale: float = 1.0,
                from_mu: bool = True, temperature: float = 0.24, greedy: bool = False,
                seed: int | None = None) -> list[np.ndarray]:
    """Reconstruct sketches from their images: encode, then decode from ``mu`` (or a sampled ``z``)."""
    mu, s2 = encode(model, images)
    z = mu
    if not from_mu:
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = mu + s2.sqrt() * torch.randn(mu.shape, generator=gen)
    return decode(model, z, max_len, scale, temperature, greedy, seed)


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


def from_component(model: IAPix, k: int, n: int, max_len: int, scale: float = 1.0, temperature: float = 0.24,
                   greedy: bool = False, seed: int | None = None) -> list[np.ndarray]:
    """``n`` sketches from Gaussian ``k`` of the GMM (controlled generation)."""
    return decode(model, component_codes(model, k, n, seed), max_len, scale, temperature, greedy, seed)


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
              titles: Sequence[str] | None = None) -> Path:
    """A PNG grid of sketches (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from iapix.plot import sketch_grid

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = sketch_grid(sketches, ncols=ncols, titles=titles)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# CLI: iapix sample


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a best.pt / last.pt written by iapix train")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--component", help="draw codes from this Gaussian (an index, or 'heaviest')")
    what.add_argument("--from-test", type=int, metavar="N", help="reconstruct the first N test sketches")
    what.add_argument("--interpolate", type=int, nargs=2, metavar=("K_A", "K_B"),
                      help="walk from the mean of Gaussian K_A to that of K_B")
    parser.add_argument("--n", type=int, default=64, help="number of sketches (steps for --interpolate)")
    parser.add_argument("--temperature", type=float, default=0.24)
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="data", help="folder with the category files (for --from-test)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="out/samples.png", help="PNG grid")
    parser.add_argument("--svg-dir", default=None, help="also write one SVG per sketch here")


def run(args: argparse.Namespace) -> int:
    from iapix.data import prepare
    from iapix.train import load_model, pick_device

    model, ckpt = load_model(args.checkpoint, pick_device(args.device))
    scale, max_len = ckpt["scale"], ckpt["max_len"]
    opts = dict(max_len=max_len, scale=scale, temperature=args.temperature, greedy=args.greedy, seed=args.seed)
    titles = None
    if args.component is not None:
        if args.component == "heaviest":
            k = int(model.latent.alpha.argmax())
        elif args.component.lstrip("-").isdigit():
            k = int(args.component)
        else:
            raise ValueError(f"--component: expected a Gaussian index or 'heaviest', got {args.component!r}")
        sketches = from_component(model, k, args.n, **opts)
    elif args.interpolate is not None:
        sketches = decode(model, interpolate_components(model, *args.interpolate, args.n), **opts)
    else:
        data = prepare(ckpt["categories"], args.data, max_len=max_len, scale=scale)
        n = min(args.from_test, len(data.strokes["test"]))
        pick = np.linspace(0, len(data.strokes["test"]) - 1, n).astype(int)  # spread over the categories
        originals = [data.strokes["test"][i] * np.array([scale, scale, 1], np.float32) for i in pick]
        recon = conditional(model, data.images["test"][pick], **opts)
        sketches = [s for pair in zip(originals, recon) for s in pair]
        titles = [t for i in pick for t in (f"{ckpt['categories'][data.labels['test'][i]]} #{i}", "reconstruction")]
    path = save_grid(sketches, args.out, titles=titles)
    print(f"{len(sketches)} sketches -> {path}")
    if args.svg_dir:
        d = Path(args.svg_dir)
        d.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(sketches):
            (d / f"sketch_{i:04d}.svg").write_text(to_svg(s))
        print(f"SVGs -> {d}")
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
    result is in the 0-255 units of the simplified QuickDraw data. An empty pad or a drawing that is
    a single dot (zero extent) raises ``ValueError``.
    """
    from iapix.data import lines_to_stroke3, simplify_lines

    if not isinstance(lines, (list, tuple)):
        raise ValueError(f"strokes: expected a list of strokes, got {type(lines).__name__}")
    clean = []
    for j, line in enumerate(lines):
        a = np.asarray(line, dtype=np.float64)
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
    if float((pts.max(0) - pts.min(0)).max()) == 0.0:
        raise ValueError("the drawing is a single dot: draw a line (at least two distinct points)")
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

    return render_one(stroke3 * np.array([1.0 / scale, 1.0 / scale, 1.0], np.float32))


def encode_drawing(model: IAPix, ckpt: dict, lines: Sequence[np.ndarray]) -> dict:
    """A canvas drawing -> ``dict(stroke3, image, mu, s2, posterior, label, note)``.

    ``stroke3`` (n, 3) in pixel units (0-255, truncated to ``N_max``), ``image`` [48, 48] in [-1, 1],
    ``mu``/``s2`` [z_dim], ``posterior`` g [K] (clipped responsibilities of the GMM at ``mu``),
    ``label`` the component (``model.latent.labels``: arg-max of the BYY weights for ia, of g
    otherwise), ``note`` a sentence on anything unusual ("" if nothing): truncation, or a VAE
    checkpoint, whose single N(0, I) makes the posterior trivially [1.0].
    """
    stroke3, note = _fit(drawing_to_stroke3(lines), int(ckpt["max_len"]))
    image = _image(stroke3, float(ckpt["scale"]))
    mu, s2 = encode(model, image[None])
    lat = model.latent
    dev = lat.alpha.device
    if model.cfg.objective == "vae":
        g, label = torch.ones(1), 0
        note = " ".join(x for x in [note, "VAE checkpoint: one Gaussian N(0, I), the posterior is trivially [1.0]"] if x)
    else:
        g = lat.posterior(mu.to(dev))[0].cpu()
        label = int(lat.labels(mu.to(dev), s2.to(dev))[0])
    return dict(stroke3=stroke3, image=image, mu=mu[0], s2=s2[0], posterior=g, label=label, note=note)


@torch.no_grad()
def complete(model: IAPix, ckpt: dict, stroke3: np.ndarray, n: int = 1, temperature: float = 0.24,
             seed: int | None = 0, greedy: bool = False) -> list[np.ndarray]:
    """sketch-rnn completion: ``n`` continuations of a started drawing, batched -> ``n`` stroke-3 sketches.

    ``stroke3`` (L, 3) in pixel units (truncated to ``N_max``). ``z`` = encoder ``mu`` of the drawing's
    image; the decoder reads the start token and the user's points teacher-forced (state after the
    last point), then samples on, the state repeated ``n`` times; each continuation stops at its own
    ``p_end`` or when the whole sketch reaches ``N_max`` points. Returns the user's rows unchanged
    followed by each continuation (pixel units; a continuation may be empty).
    """
    from iapix.data import to_stroke5
    from iapix.decoder import sample_point

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    scale, max_len = float(ckpt["scale"]), int(ckpt["max_len"])
    user, _ = _fit(stroke3, max_len)
    L, room = len(user), max_len - len(user)
    if room == 0:
        return [user.copy() for _ in range(n)]
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    dec = model.decoder
    was_training = model.training
    model.eval()
    try:
        mu, _ = encode(model, _image(user, scale)[None])
        z = mu.to(device).expand(n, -1).contiguous()  # [n, D]
        norm = user * np.array([1.0 / scale, 1.0 / scale, 1.0], np.float32)
        s5 = torch.from_numpy(to_stroke5([norm], L)[0]).to(device)  # [1, L + 1, 5]: start token + points
        x = torch.cat([s5[:, :L], z[:1, None].expand(1, L, -1)], -1)  # inputs before the last point
        _, state = dec.cell(x, dec.init_state(z[:1]))
        state, point = state.expand(n, -1).contiguous(), s5[:, L].expand(n, -1).contiguous()
        out = torch.zeros(n, room + 1, 5, device=device)
        out[:, 0, 2] = 1.0  # a start token, dropped by to_stroke3
        out[:, 1:, 4] = 1.0
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for t in range(room):
            params, state = dec.step(point, z, state)
            point = sample_point(params, temperature, greedy, gen)
            done = done | (point[:, 4] > 0.5)
            out[:, t + 1] = torch.where(done.unsqueeze(1), out[:, t + 1], point)
            if bool(done.all()):
                break
    finally:
        model.train(was_training)
    return [np.concatenate([user, c]) if len(c) else user.copy() for c in to_stroke3(out, scale)]
