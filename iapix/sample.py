"""Controllable generation (SPEC §5), batched on any device.

* :func:`conditional` -- encode sketch images, decode from ``mu`` (or a sampled ``z``);
* :func:`from_component` -- draw ``z ~ N(m_k, v_k)`` from Gaussian ``k`` of the learned GMM;
* :func:`interpolate` / :func:`interpolate_components` -- codes on a straight line between two codes
  or two Gaussians' means;
* :func:`decode` -- any batch of codes to stroke-3 sketches: every sketch stops at its own ``p_end``
  (or ``N_max``) while the batch goes on (:meth:`iapix.decoder.SketchDecoder.generate`). A sketch
  whose first point is ``p_end`` comes back empty (0 rows): render it with ``allow_empty=True``.

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


def component_codes(model: IAPix, k: int, n: int, seed: int | None = None) -> Tensor:
    """``n`` codes drawn from Gaussian ``k``: ``z ~ N(m_k, diag(v_k))`` -> ``[n, z_dim]``."""
    lat = model.latent
    if not 0 <= k < lat.K:
        raise ValueError(f"component {k}: this model has {lat.K} Gaussians (0..{lat.K - 1})")
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
    for k in (k_a, k_b):
        if not 0 <= k < model.latent.K:
            raise ValueError(f"component {k}: this model has {model.latent.K} Gaussians")
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
