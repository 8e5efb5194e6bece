"""Training throughput (sketches per second) of the whole model, and the ratio to the reference step.

One step = what ``iapix.train.Trainer`` does per batch: GMM update, every loss term, backward,
elementwise clip, Adam -- on real batches of the embedded cat/pig data (augmentation included in
the batch preparation, which is timed separately and counted in sketches/s). Times are means over
batches spread evenly over one pass's range of lengths, so that sketches/s is what a pass costs.

Two ways to make the batches, over the same sketches, in the same process:

* ``reference``: random batches, each padded to N_max (the reference code, and iapix before
  ``Config.group_by_length``);
* ``grouped``: the Trainer's default, batches grouped by length (:func:`iapix.train.group_by_length`),
  each padded to its own longest sketch + an end token (method §7 "training batches").

Both are timed in two phases of an ``ia`` run: ``warm-up`` (the image decoder and its L1 loss on, the
first ``image_epochs`` epochs) and ``main`` (image loss off); an ``rpcl`` run is always in the warm-up
phase's shape (its MSE image loss stays on). The steps alternate between the two ways so that a
change in machine load hits both. Prints one table and the ratio ``grouped / reference`` of
sketches per second per phase.

    python benchmarks/train.py --threads 1                        # small on CPU
    python benchmarks/train.py --configs small paper --device cuda --amp none bf16
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from iapix.data import prepare
from iapix.model import IAPix, learning_rate, preset
from iapix.train import group_by_length


def make_batches(ds, batch_size: int, n: int, grouped: bool, seed: int = 0) -> list[np.ndarray]:
    """``n`` batches of training indices from one pass, random or regrouped by length as the Trainer does.

    Grouped batches differ in length, so a few consecutive ones would not say what a pass costs: the
    ``n`` taken are spread evenly over the pass's batches ordered by their longest sketch (its quantiles)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([len(s) for s in ds.strokes])
    order = rng.permutation(len(ds))
    one_pass = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    if grouped:
        one_pass = group_by_length(one_pass, lengths, rng)
    by_length = sorted(one_pass, key=lambda b: lengths[b].max())
    return [by_length[i] for i in np.linspace(0, len(by_length) - 1, n).round().astype(int)]


def bench(config: str, device: str, amp: str, steps: int, warmup: int, batch_size: int | None, data) -> list[dict]:
    cfg = preset(config, **({"batch_size": batch_size} if batch_size else {}))
    torch.manual_seed(0)
    model = IAPix(cfg).to(device).train()
    model.cnn_bf16 = amp == "bf16-cnn"
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    ds = data.dataset("train", augment=True)
    n = warmup + steps
    ways = {w: make_batches(ds, cfg.batch_size, steps, w == "grouped") for w in ("reference", "grouped")}
    ways = {w: b[:warmup] + b for w, b in ways.items()}  # the warm-up steps repeat the first batches
    rows = []
    for phase, epoch in (("warm-up", 0), ("main", cfg.image_epochs)):
        times = {w: [] for w in ways}
        prep = {w: [] for w in ways}
        tokens = {w: [] for w in ways}
        for i in range(n):
            for way, batches in ways.items():
                t0 = time.perf_counter()
                items = [ds[j] for j in batches[i]]
                batch = [t.to(device) for t in ds.collate(items, pad_to_longest=way == "grouped")]
                t1 = time.perf_counter()
                for g in opt.param_groups:
                    g["lr"] = learning_rate(cfg, i)
                with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp == "bf16"):
                    out = model(batch[0], batch[1], batch[2], step=i, epoch=epoch)
                opt.zero_grad(set_to_none=True)
                out["total"].backward()
                torch.nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clip)
                opt.step()
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t2 = time.perf_counter()
                if i >= warmup:
                    prep[way].append(t1 - t0)
                    times[way].append(t2 - t1)
                    tokens[way].append(batch[0].shape[1] - 1)
        for way in ways:
            step, p = statistics.mean(times[way]), statistics.mean(prep[way])
            rows.append({"config": config, "device": device, "amp": amp, "phase": phase, "way": way,
                         "batch": cfg.batch_size, "T": float(np.mean(tokens[way])), "step_s": step, "prep_s": p,
                         "sketches_per_s": cfg.batch_size / (step + p)})
    return rows


def breakdown(config: str, data, repeats: int = 3, amp: str = "none") -> list[tuple[str, float]]:
    """Forward + backward time of each part of the model on one real batch (grouped, median length);
    ``amp`` ``bf16-cnn`` times the CNNs on their bfloat16 path (``bf16``, whole-model autocast, is not timed here)."""
    cfg = preset(config)
    torch.manual_seed(0)
    model = IAPix(cfg).train()
    model.cnn_bf16 = amp == "bf16-cnn"
    ds = data.dataset("train", augment=True)
    batch = make_batches(ds, cfg.batch_size, 3, grouped=True)[1]  # the median-length batch of a pass
    s5, lengths, images, _ = ds.collate([ds[i] for i in batch], pad_to_longest=True)
    z = torch.randn(len(batch), cfg.z_dim, requires_grad=True)

    def timed(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def encoder():
        mu, s2 = model.encoder(images)
        (mu.sum() + s2.sum()).backward()

    def image_decoder():
        model.image_decoder(z).sum().backward()

    def decoder():
        out = model.decoder.loss(s5, lengths, z)
        (out["offset"] + out["pen"]).backward()

    def whole():
        model(s5, lengths, images, step=0, epoch=cfg.image_epochs)["total"].backward()

    return [("CNN encoder", timed(encoder)), ("image decoder (warm-up / rpcl)", timed(image_decoder)),
            (f"HyperLSTM decoder + loss, {s5.shape[1] - 1} steps", timed(decoder)),
            ("whole forward + backward after the warm-up", timed(whole))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["small"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", nargs="+", default=["none"], choices=["none", "bf16", "bf16-cnn"],
                    help="bf16: the whole model under autocast; bf16-cnn: the CNNs only (iapix train --amp)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--breakdown", action="store_true", help="only time each part of one step")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = prepare(["cat", "pig"], "data")
    if args.breakdown:
        amps = [a for a in args.amp if a != "bf16"]
        for config in args.configs:
            print(f"| {config}: part (forward + backward, batch of one pass's median length) | "
                  + " | ".join(f"seconds, amp {a}" for a in amps) + " |")
            print("|---|" + "---|" * len(amps))
            columns = [breakdown(config, data, amp=a) for a in amps]
            for i, (name, _) in enumerate(columns[0]):
                print(f"| {name} | " + " | ".join(f"{col[i][1]:.3f}" for col in columns) + " |")
        return
    rows = [r for c in args.configs for a in args.amp for r in bench(c, args.device, a, args.steps, args.warmup,
                                                                      args.batch_size, data)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, CPU kernels "
          f"{torch.backends.cpu.get_cpu_capability()}" + (f", {torch.cuda.get_device_name()}"
                                                          if args.device.startswith("cuda") else ""))
    print(f"N_max {data.max_len}; T = mean decoder steps per batch; mean of {args.steps} steps each")
    print("ratio: to the reference batches with the same --amp; vs fp32 reference: to the reference batches without "
          "autocast (the step before any of this), when --amp none is in the run")
    print("| config | device | amp | phase | batches | batch | T | step (s) | batch prep (s) | sketches/s | ratio "
          "| vs fp32 reference |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {(r["config"], r["device"], r["amp"], r["phase"]): r["sketches_per_s"]
            for r in rows if r["way"] == "reference"}
    for r in rows:
        key = (r["config"], r["device"], r["amp"], r["phase"])
        ratio = r["sketches_per_s"] / base[key]
        fp32 = base.get((r["config"], r["device"], "none", r["phase"]))
        vs_fp32 = f"{r['sketches_per_s'] / fp32:.2f}x" if fp32 else "-"
        print(f"| {r['config']} | {r['device']} | {r['amp']} | {r['phase']} | {r['way']} | {r['batch']} | "
              f"{r['T']:.0f} | {r['step_s']:.3f} | {r['prep_s']:.3f} | {r['sketches_per_s']:.1f} | {ratio:.2f}x | "
              f"{vs_fp32} |")


if __name__ == "__main__":
    main()
