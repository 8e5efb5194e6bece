"""Training-step speed of the iapix HyperLSTM decoder against ``torch.nn.LSTM`` (run by hand).

One training step = teacher-forced forward of ``SketchDecoder`` (initial state from z, cell,
MDN head), the reconstruction loss (method §2) and backward. The baseline is the same pipeline with
``torch.nn.LSTM`` of the same hidden size (PyTorch's fused kernel) in place of our cell: same
input ``[stroke-5, z]``, same initial-state layer, same MDN head and loss. Both run in one process
on the same random batch; the table gives the median time per step and the ratio ours / nn.LSTM.

Examples::

    python benchmarks/decoder.py --sizes small --repeats 5
    python benchmarks/decoder.py --sizes paper --batch 32 --steps 50 --repeats 2
    python benchmarks/decoder.py --sizes small --cells hyper layernorm lstm --dtype bf16
    python benchmarks/decoder.py --sizes small --compile      # torch.compile of the per-step function
    python benchmarks/decoder.py --sizes small paper --ops    # also: ATen calls per time step

``--ops`` counts the top-level ATen calls of one training step at two sequence lengths (``torch.profiler``,
batch 8) and prints the difference per time step, forward + backward, for each cell and ``nn.LSTM``. On a GPU
each call costs the host microseconds whatever the tensor sizes, so at these sizes this count, not the arithmetic,
sets the time of a step (a ``cpu ratio`` equal to the wall ratio says the same).

Sizes: the model's presets (``iapix.model.PRESETS``): ``small`` = hidden 256, hyper 32, embed 8, z 32;
``paper`` = hidden 2048, hyper 256, embed 32, z 128. Measured on this project's time-shared 2-core CPU
machine (torch 2.13 CPU, fp32, ``--threads 1``, batch 128; see docs/benchmarks.md): small (150 steps)
1.95x, paper (20 steps) 1.52x. An earlier small size of 512/64/32 gave 1.68x (fused) and 1.97x (plain
autograd); the hyper cell and embeddings weigh more at a small hidden size. Other jobs on the machine
move single numbers by tens of percent; the ``cpu ratio`` column (process CPU time) is the steadier one.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn

from iapix.decoder import MDNHead, SketchDecoder, reconstruction_loss
from iapix.model import PRESETS

# name -> (hidden, hyper, embed, z)
SIZES = {name: (PRESETS[name]["hidden_size"], PRESETS[name]["hyper_size"], PRESETS[name]["embed_size"],
                PRESETS[name]["z_dim"]) for name in ("small", "paper")}  # the model's presets


class TorchLSTMDecoder(nn.Module):
    """Baseline: ``nn.LSTM`` with the same initial state layer, MDN head and loss as SketchDecoder."""

    def __init__(self, z_dim: int, hidden_size: int, num_mixture: int = 20) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5 + z_dim, hidden_size, batch_first=True)
        self.init_linear = nn.Linear(z_dim, 2 * hidden_size)
        self.head = MDNHead(hidden_size, num_mixture)

    def loss(self, strokes5: torch.Tensor, lengths: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        h0, c0 = torch.tanh(self.init_linear(z)).unsqueeze(0).chunk(2, -1)
        x = strokes5[:, :-1]
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1)], -1)
        h, _ = self.lstm(x, (h0.contiguous(), c0.contiguous()))
        offset, pen = reconstruction_loss(self.head.split(self.head(h)), strokes5[:, 1:], lengths, True)
        return dict(offset=offset, pen=pen)


def random_batch(batch: int, steps: int, z_dim: int, device: str, gen: torch.Generator):
    """A stroke-5 batch [B, steps+1, 5] with lengths in [steps/2, steps], and codes z [B, z_dim]."""
    lengths = torch.randint(steps // 2, steps + 1, (batch,), generator=gen)
    s5 = torch.zeros(batch, steps + 1, 5)
    s5[:, :, :2] = torch.randn(batch, steps + 1, 2, generator=gen)
    lift = torch.rand(batch, steps + 1, generator=gen) < 0.15
    s5[:, :, 2], s5[:, :, 3] = (~lift).float(), lift.float()
    s5[:, 0] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])
    after = torch.arange(steps + 1) > lengths[:, None]
    s5[after] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])
    return s5.to(device), lengths.to(device), torch.randn(batch, z_dim, generator=gen).to(device)


def train_step(model: nn.Module, batch, dtype: str, device: str) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one forward + loss + backward."""
    s5, lengths, z = batch
    model.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=dtype == "bf16"):
        out = model.loss(s5, lengths, z)
        loss = out["offset"] + out["pen"]
    loss.backward()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def aten_calls_per_step(model: nn.Module, z_dim: int, device: str, dtype: str, short: int = 10,
                        long: int = 30) -> float:
    """Top-level ATen calls of one training step (forward + loss + backward) per time step of the sequence."""
    from torch.profiler import ProfilerActivity, profile

    def calls(steps: int) -> int:
        batch = random_batch(8, steps, z_dim, device, torch.Generator().manual_seed(0))
        train_step(model, batch, dtype, device)  # warm-up: first-call work is not per step
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_step(model, batch, dtype, device)
        top = [e for e in prof.events() if e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")]
        return sum(1 for e in top if e.name.startswith("aten::"))

    return (calls(long) - calls(short)) / (long - short)


def time_models(models: dict[str, nn.Module], batch, dtype: str, device: str, repeats: int, warmup: int):
    """Median (wall, CPU) seconds per training step of each model; the models take turns in every
    repeat so that a change in machine load hits all of them alike."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for r in range(warmup + repeats):
        for name, model in models.items():
            model.train()
            t = train_step(model, batch, dtype, device)
            if r >= warmup:
                times[name].append(t)
    return {name: tuple(statistics.median(x) for x in zip(*ts)) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="bf16 = torch.autocast to bfloat16")
    p.add_argument("--compile", action="store_true", help="torch.compile the per-step function of our cell")
    p.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["small"])
    p.add_argument(
        "--cells", nargs="+", choices=["hyper", "hyper-autograd", "layernorm", "lstm"], default=["hyper"],
        help="hyper-autograd: the HyperLSTM without its fused backward (step-by-step autograd)",
    )
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=150, help="sequence length N (the data's N_max is ~150)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    p.add_argument("--ops", action="store_true", help="also count the ATen calls per time step of each model")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device={args.device} dtype={args.dtype} compile={args.compile} batch={args.batch} steps={args.steps} "
        f"repeats={args.repeats} threads={torch.get_num_threads()} torch={torch.__version__}"
    )
    rows = []
    for size in args.sizes:
        H, Hh, E, zd = SIZES[size]
        gen = torch.Generator().manual_seed(0)
        batch = random_batch(args.batch, args.steps, zd, args.device, gen)
        torch.manual_seed(0)
        models: dict[str, nn.Module] = {"nn.LSTM": TorchLSTMDecoder(zd, H).to(args.device)}
        for cell in args.cells:
            models[cell] = SketchDecoder(zd, cell.split("-")[0], H, Hh, E).to(args.device)
            if cell == "hyper-autograd":
                models[cell].cell.fused = False
            if args.compile:
                models[cell].cell.compile_step(dynamic=False)
        times = time_models(models, batch, args.dtype, args.device, args.repeats, args.warmup)
        if args.ops:
            ops = {name: aten_calls_per_step(m, zd, args.device, args.dtype) for name, m in models.items()}
            print(f"{size}: top-level ATen calls per time step, forward + backward: "
                  + ", ".join(f"{name} {n:.0f}" for name, n in ops.items()))
        for cell in args.cells:
            rows.append((size, cell, H, Hh, E, zd, times[cell], times["nn.LSTM"]))
        del models
    print("wall: median seconds per step (what you wait for); cpu: process CPU time (steadier on a shared machine)")
    print(
        f"{'size':6} {'cell':14} {'H':>5} {'hyper':>5} {'emb':>4} {'z':>4} {'ours ms':>9} {'nn.LSTM ms':>10} "
        f"{'ratio':>6} {'cpu ratio':>9}"
    )
    for size, cell, H, Hh, E, zd, (w_ours, c_ours), (w_base, c_base) in rows:
        print(
            f"{size:6} {cell:14} {H:5d} {Hh:5d} {E:4d} {zd:4d} {1e3 * w_ours:9.1f} {1e3 * w_base:10.1f} "
            f"{w_ours / w_base:6.2f} {c_ours / c_base:9.2f}"
        )

if __name__ == "__main__":
    main()
