"""Training throughput (sketches per second) of the whole model, run by hand.

One step = what ``iapix.train.Trainer`` does per batch: GMM update, every loss term, backward,
elementwise clip, Adam -- on real batches of the embedded cat/pig data (augmentation included in
the batch preparation, which is timed separately). Prints a table per (config, device, dtype,
compile) setting; the first ``--warmup`` steps are not timed.

    python benchmarks/train.py                                  # small on CPU
    python benchmarks/train.py --configs small paper --device cuda --amp none bf16 --compile both
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from iapix.data import prepare
from iapix.model import IAPix, learning_rate, preset


def bench(config: str, device: str, amp: str, compile_: bool, steps: int, warmup: int, batch_size: int | None,
          data) -> dict:
    cfg = preset(config, **({"batch_size": batch_size} if batch_size else {}))
    torch.manual_seed(0)
    model = IAPix(cfg).to(device).train()
    if compile_:
        model.decoder.cell.compile_step()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    ds = data.dataset("train", augment=True)
    n = len(ds) // cfg.batch_size
    prep, times = [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        idx = range((i % n) * cfg.batch_size, (i % n + 1) * cfg.batch_size)
        batch = [t.to(device) for t in ds.collate([ds[j] for j in idx])]
        t1 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, i)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp == "bf16"):
            out = model(batch[0], batch[1], batch[2], step=i, epoch=0)
        opt.zero_grad(set_to_none=True)
        out["total"].backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clip)
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i >= warmup:
            prep.append(t1 - t0)
            times.append(t2 - t1)
    step = statistics.median(times)
    return {"config": config, "device": device, "amp": amp, "compile": compile_, "batch": cfg.batch_size,
            "N_max": data.max_len, "step_s": step, "prep_s": statistics.median(prep),
            "sketches_per_s": cfg.batch_size / (step + statistics.median(prep))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["small"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", nargs="+", default=["none"], choices=["none", "bf16"])
    ap.add_argument("--compile", default="off", choices=["off", "on", "both"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = prepare(["cat", "pig"], "data")
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    rows = [bench(c, args.device, a, k, args.steps, args.warmup, args.batch_size, data)
            for c in args.configs for a in args.amp for k in compiles]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if args.device.startswith("cuda") else ""))
    print("| config | device | amp | compile | batch | N_max | step (s) | batch prep (s) | sketches/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['device']} | {r['amp']} | {r['compile']} | {r['batch']} | {r['N_max']} | "
              f"{r['step_s']:.3f} | {r['prep_s']:.3f} | {r['sketches_per_s']:.1f} |")


if __name__ == "__main__":
    main()
