"""Benchmark: ``iapix.raster.render`` against the reference renderer (svgwrite -> cairosvg -> PIL).

Run by hand from the repository root:

    .venv/bin/python benchmarks/raster.py              # 2 500 real pig sketches
    .venv/bin/python benchmarks/raster.py --n 500      # fewer, quicker
    .venv/bin/python benchmarks/raster.py --threads 2  # let torch use 2 threads (default 1: like for like)

Both renderers draw the same real sketches (the embedded ``data/pig.npz``: Google's 2 500 sketch-rnn
test pigs, all three of our splits) in the same run. The reference
builds one SVG per sketch with svgwrite (48 x 48, margin 1.5, width-1 black path, butt caps, white
background), converts it with cairosvg.svg2png and decodes it with PIL to grey; as method §7 says, it
is fed each sketch with a (0, 0, 0) row in front so that it draws the first segment too
(``iapix.raster.render_cairo``). The reference runs in one Python thread, so ours is timed with
torch limited to one thread by default.

Prints seconds (wall clock and this process's CPU time: on a shared machine the CPU time is the
steadier one), sketches/s, the speed ratio, the time extrapolated to a 70 000-sketch category on
this machine, the time ours actually takes for 70 000 sketches (the pigs repeated, one call), and
the mean absolute pixel difference between the two renderings (pixels in [-1, 1]).
Goal: >= 50x faster than the reference and 70 000 sketches in < 30 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from iapix.data import read_npz  # noqa: E402
from iapix.raster import render, render_cairo  # noqa: E402

PIG = Path(__file__).resolve().parents[1] / "data" / "pig.npz"  # the 2 500 sketch-rnn test pigs, re-split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2500, help="number of pig sketches (at most 2500)")
    p.add_argument("--data", type=Path, default=PIG, help="a sketch-rnn npz (all its splits are used)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for our renderer")
    p.add_argument("--batch-size", type=int, default=512, help="render() chunk size")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of ours (the median is reported)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    sketches = [s for split in read_npz(args.data).values() for s in split.strokes][: args.n]
    n = len(sketches)
    print(f"{n} sketches from {args.data}; torch threads {torch.get_num_threads()}, batch {args.batch_size}")

    render(sketches[:64], batch_size=args.batch_size)           # warm-up
    walls, cpus = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        ours = render(sketches, batch_size=args.batch_size)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    ours_t = (float(np.median(walls)), float(np.median(cpus)))

    w0, c0 = time.perf_counter(), time.process_time()
    ref = np.stack([render_cairo(s) for s in sketches])
    ref_t = (time.perf_counter() - w0, time.process_time() - c0)

    big = sketches * -(-70_000 // n)                           # a category's worth: the pigs repeated
    big = big[:70_000]
    w0, c0 = time.perf_counter(), time.process_time()
    render(big, batch_size=args.batch_size)
    big_t = (time.perf_counter() - w0, time.process_time() - c0)

    diff = np.abs(ours - ref).mean(axis=(1, 2))                  # per image
    print(f"\n{'renderer':<24}{'clock':>6}{'seconds':>10}{'sketches/s':>13}{'70k sketches (s)':>19}")
    for name, ts in (("iapix.raster.render", ours_t), ("svgwrite+cairosvg+PIL", ref_t)):
        for clock, t in zip(("wall", "cpu"), ts):
            print(f"{name:<24}{clock:>6}{t:>10.3f}{n / t:>13.0f}{70_000 * t / n:>19.1f}")
    print(f"{'ours, 70 000 measured':<24}{'wall':>6}{big_t[0]:>10.3f}{len(big) / big_t[0]:>13.0f}{big_t[0]:>19.1f}")
    print(f"{'':<24}{'cpu':>6}{big_t[1]:>10.3f}{len(big) / big_t[1]:>13.0f}{big_t[1]:>19.1f}")
    ratio = (ref_t[0] / ours_t[0], ref_t[1] / ours_t[1])
    print(f"\nspeed ratio (reference / ours): {ratio[0]:.1f}x wall, {ratio[1]:.1f}x cpu   "
          f"(ours: median of {args.repeats} runs, wall {' '.join('%.3f' % t for t in walls)})")
    print(f"mean |ours - reference| per pixel: {diff.mean():.4f}  (max over images {diff.max():.4f}, "
          f"largest single pixel {np.abs(ours - ref).max():.3f})")
    ink_ours, ink_ref = ((1 - ours) / 2).sum(axis=(1, 2)), ((1 - ref) / 2).sum(axis=(1, 2))
    print(f"ink per image (sum of coverage): ours {ink_ours.mean():.1f}, reference {ink_ref.mean():.1f}")
    ok = ratio[0] >= 50 and big_t[0] < 30
    print(f"goal (>= 50x and 70 000 in < 30 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
