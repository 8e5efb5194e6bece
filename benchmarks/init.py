"""The measurements behind three method §7 choices: weight initialisation, the ``z -> state`` layer, and
the image decoder's last instance norm.

The reference code initialises every weight ``N(0, 2 / fan-in)`` with fan-in counted as the kernel's
first dimension (a 3x3 convolution gets std ``sqrt(2/3) = 0.82``), the ``z -> state`` layer included
(std ``sqrt(2 / z_dim)``); iapix uses PyTorch's defaults for the CNNs and sketch-rnn's
``N(0, 0.001^2)`` for ``z -> state``. Three short experiments on the embedded cat/pig data, same seed,
same batches, each variant trained from scratch:

1. ``cnn``: encoder + image decoder on the L1 image loss alone (the IA warm-up's image task),
   ``--steps`` Adam steps (method §4 settings); prints the mean L1 over the last 20 steps and the L1 of the
   validation images decoded from ``mu``.
2. ``state``: the stroke decoder alone, teacher-forced, fed fixed per-sketch codes (each sketch's code
   from a frozen random encoder), on the reconstruction loss; prints the mean reconstruction loss over
   the last 20 steps and on the validation sketches.
3. ``lastnorm``: the image decoder with and without an instance norm before its tanh, encoder +
   image decoder fitted to four real pigs (120 Adam steps, lr 3e-3, z 16); prints the L1 every 20
   steps and the L1 of the best constant image (the pixel-wise median).

    python benchmarks/init.py --steps 100 --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np
import torch
import torch.nn as nn

from iapix.data import prepare
from iapix.encoder import image_loss_l1
from iapix.model import IAPix, preset


def reference_init(module: nn.Module) -> None:
    """The reference's ``N(0, 2 / fan-in)`` with fan-in = the weight's first dimension after TF's layout:
    ``kernel_h`` for a convolution (3), ``in_features`` for a linear layer; biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / m.weight.shape[2]))
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / m.in_features))
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def batches(n: int, bs: int, steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.choice(n, bs, replace=False) for _ in range(steps)]


def run_cnn(data, init: str, steps: int, bs: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = IAPix(preset("small"))
    nets = nn.ModuleList([model.encoder, model.image_decoder])
    if init == "reference":
        reference_init(nets)
    opt = torch.optim.Adam(nets.parameters(), lr=1e-3, betas=(0.5, 0.999))
    images = torch.from_numpy(data.images["train"]).unsqueeze(1)
    losses = []
    for idx in batches(len(images), bs, steps):
        x = images[idx]
        mu, s2 = model.encoder(x)
        z = mu + s2.sqrt() * torch.randn_like(mu)
        loss = image_loss_l1(model.image_decoder(z), x)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(nets.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        v = torch.from_numpy(data.images["valid"]).unsqueeze(1)
        valid = float(image_loss_l1(model.image_decoder(model.encoder(v)[0]), v))
    return statistics.mean(losses[-20:]), valid


def run_state(data, init: str, steps: int, bs: int) -> tuple[float, float]:
    torch.manual_seed(0)
    frozen = IAPix(preset("small")).eval()
    with torch.no_grad():
        codes = {s: frozen.encoder(torch.from_numpy(data.images[s]).unsqueeze(1))[0] for s in ("train", "valid")}
    torch.manual_seed(1)
    model = IAPix(preset("small"))
    dec = model.decoder
    if init == "reference":
        nn.init.normal_(dec.init_linear.weight, std=math.sqrt(2.0 / dec.init_linear.in_features))
    opt = torch.optim.Adam(dec.parameters(), lr=1e-3, betas=(0.5, 0.999))
    ds = data.dataset("train")
    losses = []
    for idx in batches(len(ds), bs, steps):
        s5, lengths, _, _ = ds.collate([ds[i] for i in idx], pad_to_longest=True)
        out = dec.loss(s5, lengths, codes["train"][idx])
        loss = out["offset"] + out["pen"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(dec.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    dec.eval()
    vs = data.dataset("valid")
    with torch.no_grad():
        s5, lengths, _, _ = vs.collate([vs[i] for i in range(len(vs))], pad_to_longest=True)
        out = dec.loss(s5, lengths, codes["valid"])
    return statistics.mean(losses[-20:]), float(out["offset"] + out["pen"])


def run_lastnorm(data, steps: int = 120) -> None:
    from iapix.encoder import Encoder, ImageDecoder

    pigs = data.labels["train"] == data.categories.index("pig")
    imgs = torch.from_numpy(data.images["train"][pigs][:4]).unsqueeze(1)
    median = imgs.median(0, keepdim=True).values.expand_as(imgs)
    print(f"lastnorm: four pigs, best constant image L1 {float(image_loss_l1(median, imgs)):.0f}")
    for norm_last in (False, True):
        torch.manual_seed(0)
        enc, dec = Encoder(16), ImageDecoder(16, norm_last=norm_last)
        opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3, betas=(0.5, 0.999))
        trace = []
        for i in range(steps):
            loss = image_loss_l1(dec(enc(imgs)[0]), imgs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i % 20 == 19:
                trace.append(f"{float(loss.detach()):.0f}")
        print(f"lastnorm: norm_last={norm_last}: L1 every 20 steps {' '.join(trace)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=["cnn", "state", "lastnorm"], default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = prepare(["cat", "pig"], "data")
    if args.only in (None, "lastnorm"):
        run_lastnorm(data)
        if args.only:
            return
    print(f"{args.steps} steps, batch {args.batch_size}, seed 0; lower is better")
    print("| experiment | init | train loss (last 20 steps) | validation loss |")
    print("|---|---|---|---|")
    for name, fn, inits in (("cnn: L1 image loss", run_cnn, ("pytorch default", "reference")),
                            ("state: reconstruction", run_state, ("N(0, 0.001^2)", "reference"))):
        if args.only and not name.startswith(args.only):
            continue
        for init in inits:
            train, valid = fn(data, init, args.steps, args.batch_size)
            print(f"| {name} | {init} | {train:.2f} | {valid:.2f} |")


if __name__ == "__main__":
    main()
