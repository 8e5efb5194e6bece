"""Encoding images in batches of different sizes (``iapix.sample.encode``): which batch size is fastest here?

The baseline is one batch holding every image. On a CPU a smaller batch keeps the encoder's activations in cache
and is faster; on a GPU larger batches win. The default of ``encode`` (64) was chosen from this table on a
2-core AVX2 machine. Each size is timed ``--repeat`` times (the best run counts; the first run of all warms up).

Example::

    python benchmarks/encode.py --checkpoint checkpoints/catpig-small-ia.pt --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from iapix.checkpoint import load_checkpoint
from iapix.data import prepare
from iapix.sample import encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="checkpoints/catpig-small-ia.pt")
    ap.add_argument("--data", default="data")
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ck = load_checkpoint(args.checkpoint, args.device)
    images = prepare(ck.categories, args.data, max_len=ck.max_len, scale=ck.scale).images[args.split]
    n = len(images)
    encode(ck.model, images[:64])  # warm-up

    def best(size: int) -> float:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            encode(ck.model, images, batch_size=size)
            if ck.model.latent.means.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        return min(times)

    base = best(n)
    print(f"{n} {args.split} images, {args.threads} thread(s), {args.device}; baseline: one batch of {n}")
    print("| batch | seconds | speed-up vs one batch |\n|---:|---:|---:|")
    print(f"| {n} (baseline) | {base:.2f} | 1.00 |")
    for size in args.sizes:
        if size < n:
            t = best(size)
            print(f"| {size} | {t:.2f} | {base / t:.2f} |")


if __name__ == "__main__":
    main()
