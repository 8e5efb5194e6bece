"""The CNN encoder (the Yang path, image -> code) and the CNN image decoder, a training aid (method §2).

:class:`Encoder`, ``[B, 1, 48, 48]`` in ``[-1, 1]`` -> ``(mu, s2)``: two :class:`DilatedBlock` (32 and 64 channels:
three parallel 3x3 convolutions with dilation 1, 2 and 5, each with its own instance norm, summed, ReLU, then a 3x3
stride-2 convolution, instance norm, ReLU), 3x3 stride-2 convolutions to 128 and 256 channels, 48 -> 24 -> 12 -> 6
-> 3; then linear maps of the ``3 * 3 * 256`` features to ``mu`` and to ``s2 = softplus(.) + 1e-10``, clamped into
``s2_clamp`` (IA-pix2seq's ``[0.1, 1e5]``; none for RPCL and the VAE: ``Config.s2_clamp``). Every convolution has no
bias and an affine instance norm. :func:`reparameterize`: ``z = mu + sqrt(s2) * eps``.

:class:`ImageDecoder`: linear ``z -> 3 * 3 * 256`` and ReLU, then four 3x3 stride-2 transposed convolutions (128, 64,
32, 1 channels) with instance norm and ReLU on the hidden ones and tanh on the last. :func:`image_loss_l1`
(IA-pix2seq) and :func:`image_loss_mse` (RPCL-pix2seq): summed over pixels, averaged over the batch.

Departures from the reference: symmetric padding, where TF's "SAME" pads bottom/right only (method §7 "padding");
no instance norm before the image decoder's tanh by default, since a norm on the one output channel holds every
image at mid-grey until its shift has climbed to the white of a sketch (method §7 "image decoder's last layer";
``norm_last=True``, ``Config.image_norm_last``, restores it); PyTorch's default initialisation, not the reference's
``N(0, 2 / fan-in)``, whose large weights learn slowly under Adam (method §7 "weight init"). The measurements
behind both are in docs/benchmarks.md.

Fast path (ours, off by default): ``Encoder.bf16`` and ``ImageDecoder.bf16`` (``IAPix.cnn_bf16`` sets both;
``iapix train --amp bf16-cnn``) run the convolutions and instance norms under bfloat16 autocast; the linear layers at
the code and everything after stay in float32, and ``ImageDecoder`` returns float32. It pays only on CPUs with AMX
or AVX-512 BF16; elsewhere bfloat16 is emulated and slower.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

IMAGE_SIZE = 48
FINAL_SIZE = 3  # 48 / 2**4
FINAL_CHANNELS = 256
DILATIONS = (1, 2, 5)


def _conv_in_relu(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1, relu: bool = True) -> nn.Sequential:
    """3x3 conv (no bias, symmetric padding) -> affine InstanceNorm2d [-> ReLU]."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.InstanceNorm2d(out_ch, affine=True),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _cnn_autocast(enabled: bool, x: Tensor) -> contextlib.AbstractContextManager:
    """bfloat16 autocast where ``enabled``; otherwise no context at all, so that an enclosing autocast
    (``--amp bf16``, the whole model) is left on rather than switched off."""
    return torch.autocast(x.device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def reparameterize(mu: Tensor, s2: Tensor) -> Tensor:
    """``z = mu + sqrt(s2) * eps``, eps ~ N(0, I): mu, s2 [B, z] -> z [B, z]."""
    return mu + s2.sqrt() * torch.randn_like(mu)


class DilatedBlock(nn.Module):
    """[B, in_ch, H, W] -> [B, ch, ceil(H/2), ceil(W/2)]: three dilated convs (each + IN), sum, ReLU, stride-2 conv
    + IN + ReLU."""

    def __init__(self, in_ch: int, ch: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_conv_in_relu(in_ch, ch, dilation=d, relu=False) for d in DILATIONS)
        self.down = _conv_in_relu(ch, ch, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        y = self.branches[0](x)
        for branch in self.branches[1:]:
            y = y + branch(x)
        return self.down(F.relu(y))


class Encoder(nn.Module):
    """CNN encoder: images [B, 1, 48, 48] in [-1, 1] -> (mu [B, z_dim], s2 [B, z_dim]).

    ``s2 = softplus(.) + 1e-10``, then clamped into ``s2_clamp`` (IA-pix2seq: [0.1, 1e5]; pass
    ``None`` for RPCL-pix2seq / VAE, which do not clamp).
    """

    def __init__(self, z_dim: int, s2_clamp: tuple[float, float] | None = (0.1, 1e5)) -> None:
        super().__init__()
        if z_dim < 1:
            raise ValueError(f"z_dim: expected a positive integer, got {z_dim}")
        if s2_clamp is not None and not (0.0 <= s2_clamp[0] < s2_clamp[1]):
            raise ValueError(f"s2_clamp: expected (low, high) with 0 <= low < high, got {s2_clamp}")
        self.z_dim = z_dim
        self.s2_clamp = s2_clamp
        self.features = nn.Sequential(
            DilatedBlock(1, 32),  # 48 -> 24
            DilatedBlock(32, 64),  # 24 -> 12
            _conv_in_relu(64, 128, stride=2),  # 12 -> 6
            _conv_in_relu(128, FINAL_CHANNELS, stride=2),  # 6 -> 3
        )
        n_flat = FINAL_SIZE * FINAL_SIZE * FINAL_CHANNELS
        self.fc_mu = nn.Linear(n_flat, z_dim)
        self.fc_s2 = nn.Linear(n_flat, z_dim)
        self.bf16 = False  # the fast path: convolutions under bfloat16 autocast (module docstring)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images: expected shape [B, 1, {IMAGE_SIZE}, {IMAGE_SIZE}], got {tuple(images.shape)}")
        with _cnn_autocast(self.bf16, images):
            h = self.features(images).flatten(1)
        h = h.float()
        mu = self.fc_mu(h)
        s2 = F.softplus(self.fc_s2(h)) + 1e-10
        if self.s2_clamp is not None:
            s2 = s2.clamp(*self.s2_clamp)
        return mu, s2

    sample = staticmethod(reparameterize)


class ImageDecoder(nn.Module):
    """CNN decoder (training aid): codes [B, z_dim] -> images [B, 1, 48, 48] in [-1, 1]."""

    def __init__(self, z_dim: int, norm_last: bool = False) -> None:
        super().__init__()
        if z_dim < 1:
            raise ValueError(f"z_dim: expected a positive integer, got {z_dim}")
        self.z_dim = z_dim
        self.fc = nn.Linear(z_dim, FINAL_SIZE * FINAL_SIZE * FINAL_CHANNELS)
        chans = (FINAL_CHANNELS, 128, 64, 32, 1)
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            last = i == len(chans) - 2
            norm = not last or norm_last
            layers.append(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=not norm))
            if norm:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.Tanh() if last else nn.ReLU(inplace=True))
        self.deconv = nn.Sequential(*layers)
        self.bf16 = False  # as Encoder.bf16

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z: expected shape [B, {self.z_dim}], got {tuple(z.shape)}")
        h = F.relu(self.fc(z)).view(-1, FINAL_CHANNELS, FINAL_SIZE, FINAL_SIZE)
        with _cnn_autocast(self.bf16, h):
            out = self.deconv(h)
        return out.float()


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred/target: shapes differ, {tuple(pred.shape)} vs {tuple(target.shape)}")


def image_loss_l1(pred: Tensor, target: Tensor) -> Tensor:
    """IA-pix2seq image loss: L1 summed over pixels, averaged over the batch. [B, ...] x2 -> []."""
    _check_pair(pred, target)
    return (pred.float() - target.float()).abs().flatten(1).sum(1).mean()


def image_loss_mse(pred: Tensor, target: Tensor) -> Tensor:
    """RPCL-pix2seq image loss: squared error summed over pixels, averaged over the batch
    (the reference's 'square' loss; method §3 weights it by 0.5 in the total). [B, ...] x2 -> []."""
    _check_pair(pred, target)
    return (pred.float() - target.float()).square().flatten(1).sum(1).mean()
