"""Tests of iapix.encoder: architecture as method §2 describes it, shapes, the s2 clamp, the image
decoder and losses, and a short fit on real QuickDraw pigs rendered by iapix.raster."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from iapix.encoder import DilatedBlock, Encoder, ImageDecoder, image_loss_l1, image_loss_mse, reparameterize
from iapix.raster import render

torch.set_num_threads(1)

PIGS = Path("/work/shared/data/quickdraw/quickdraw_stimulus_generation/pig.npz")


@pytest.fixture(scope="module")
def pig_images() -> torch.Tensor:
    if not PIGS.exists():
        pytest.skip(f"{PIGS} not available")
    with warnings.catch_warnings():  # the pickled object array names numpy.core
        warnings.simplefilter("ignore", DeprecationWarning)
        sketches = np.load(PIGS, allow_pickle=True, encoding="latin1")["sketches"]
    return torch.from_numpy(render(list(sketches[:4])))[:, None]  # [4, 1, 48, 48]


def test_feature_map_sizes():
    torch.manual_seed(0)
    enc = Encoder(8)
    x = torch.randn(2, 1, 48, 48)
    sizes = []
    for layer in enc.features:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(32, 24, 24), (64, 12, 12), (128, 6, 6), (256, 3, 3)]
    assert enc.fc_mu.in_features == enc.fc_s2.in_features == 3 * 3 * 256


def test_dilated_block_structure():
    block = DilatedBlock(3, 16)
    assert [b[0].dilation for b in block.branches] == [(1, 1), (2, 2), (5, 5)]
    assert all(b[0].kernel_size == (3, 3) and b[0].stride == (1, 1) for b in block.branches)
    # "same" padding for every dilation, so the three maps can be summed
    x = torch.randn(1, 3, 24, 24)
    assert all(b(x).shape == (1, 16, 24, 24) for b in block.branches)
    assert block.down[0].stride == (2, 2) and block.down[0].padding == (1, 1)  # symmetric
    assert block(x).shape == (1, 16, 12, 12)
    # output after the final ReLU
    assert block(x).min() >= 0


def test_every_conv_has_no_bias_and_an_affine_instance_norm():
    enc = Encoder(8)
    modules = list(enc.modules())
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 + 1 + 3 + 1 + 1 + 1
    for i in convs:
        assert modules[i].bias is None
        norm = modules[i + 1]
        assert isinstance(norm, nn.InstanceNorm2d) and norm.affine
        assert norm.weight.shape == (modules[i].out_channels,) and norm.bias is not None
    # stride-2 convolutions: 48 -> 24 -> 12 -> 6 -> 3, symmetric padding 1
    strided = [modules[i] for i in convs if modules[i].stride == (2, 2)]
    assert len(strided) == 4 and all(c.padding == (1, 1) for c in strided)


def test_mu_s2_shapes_and_clamp():
    torch.manual_seed(1)
    enc = Encoder(10)
    x = torch.rand(3, 1, 48, 48) * 2 - 1
    mu, s2 = enc(x)
    assert mu.shape == s2.shape == (3, 10)
    assert (s2 >= 0.1).all() and (s2 <= 1e5).all()
    with torch.no_grad():
        enc.fc_s2.bias.fill_(-50.0)
    assert torch.allclose(enc(x)[1], torch.full((3, 10), 0.1))
    with torch.no_grad():
        enc.fc_s2.bias.fill_(1e7)
    assert torch.allclose(enc(x)[1], torch.full((3, 10), 1e5))
    # without the clamp (RPCL / VAE): softplus + 1e-10, positive and unbounded below 0.1
    free = Encoder(10, s2_clamp=None)
    with torch.no_grad():
        free.fc_s2.bias.fill_(-10.0)
        free.fc_s2.weight.zero_()
    s2 = free(x)[1]
    assert (s2 > 0).all() and (s2 < 1e-4).all()
    torch.testing.assert_close(s2, torch.full_like(s2, float(F.softplus(torch.tensor(-10.0)))))


def test_bad_input_shapes():
    enc, dec = Encoder(4), ImageDecoder(4)
    with pytest.raises(ValueError, match=r"images: expected shape \[B, 1, 48, 48\]"):
        enc(torch.zeros(2, 48, 48))
    with pytest.raises(ValueError, match="images"):
        enc(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"z: expected shape \[B, 4\]"):
        dec(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="shapes differ"):
        image_loss_l1(torch.zeros(2, 1, 48, 48), torch.zeros(2, 48, 48))
    with pytest.raises(ValueError, match="s2_clamp"):
        Encoder(4, s2_clamp=(1.0, 0.5))


def test_reparameterize_statistics():
    torch.manual_seed(2)
    mu = torch.tensor([[1.0, -2.0, 0.0]]).expand(20000, 3)
    s2 = torch.tensor([[0.25, 4.0, 1e-4]]).expand(20000, 3)
    z = Encoder.sample(mu, s2)
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.05, rtol=0)
    torch.testing.assert_close(z.var(0), s2[0], rtol=0.05, atol=1e-6)
    assert Encoder.sample is reparameterize


def test_image_decoder_shape_range_and_structure():
    torch.manual_seed(3)
    dec = ImageDecoder(12)
    out = dec(torch.randn(5, 12) * 10)
    assert out.shape == (5, 1, 48, 48)
    assert out.min() >= -1 and out.max() <= 1
    deconvs = [m for m in dec.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [128, 64, 32, 1]
    assert all(d.stride == (2, 2) and d.kernel_size == (3, 3) for d in deconvs)
    norms = [m for m in dec.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert [n.num_features for n in norms] == [128, 64, 32] and all(n.affine for n in norms)
    assert all(d.bias is None for d in deconvs[:3]) and deconvs[3].bias is not None
    # the reference variant: instance norm on the last layer too
    ref = ImageDecoder(12, norm_last=True)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in ref.modules()) == 4
    assert all(m.bias is None for m in ref.modules() if isinstance(m, nn.ConvTranspose2d))
    assert ref(torch.randn(2, 12)).shape == (2, 1, 48, 48)


def test_image_losses():
    torch.manual_seed(4)
    a, b = torch.rand(4, 1, 48, 48) * 2 - 1, torch.rand(4, 1, 48, 48) * 2 - 1
    torch.testing.assert_close(image_loss_l1(a, b), F.l1_loss(a, b, reduction="sum") / 4)
    torch.testing.assert_close(image_loss_mse(a, b), F.mse_loss(a, b, reduction="sum") / 4)
    # a single differing pixel: the per-image sum, not the mean
    c = b.clone()
    c[0, 0, 5, 5] += 0.5
    assert float(image_loss_l1(c, b)) == pytest.approx(0.5 / 4)
    assert float(image_loss_mse(c, b)) == pytest.approx(0.25 / 4)


def test_gradients_reach_every_parameter():
    torch.manual_seed(5)
    enc, dec = Encoder(8), ImageDecoder(8)
    x = torch.rand(3, 1, 48, 48) * 2 - 1
    mu, s2 = enc(x)
    loss = image_loss_l1(dec(reparameterize(mu, s2)), x) + mu.square().sum() + s2.sum()
    loss.backward()
    for name, p in [*enc.named_parameters(), *dec.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_real_pigs_encode_and_autoencode(pig_images):
    imgs = pig_images
    assert imgs.shape == (4, 1, 48, 48) and imgs.min() < -0.9 and imgs.max() == 1
    torch.manual_seed(0)
    enc, dec = Encoder(16), ImageDecoder(16)
    mu, s2 = enc(imgs)
    assert torch.isfinite(mu).all() and ((s2 >= 0.1) & (s2 <= 1e5)).all()
    assert torch.cdist(mu, mu)[~torch.eye(4, dtype=torch.bool)].min() > 1e-3, "different pigs, different codes"
    # a short fit: the codes carry enough of each image for the decoder to beat the best
    # constant image (the pixel-wise median, optimal for L1) and to tell the four pigs apart
    median = imgs.median(0, keepdim=True).values.expand_as(imgs)
    baseline = float(image_loss_l1(median, imgs))
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3, betas=(0.5, 0.999))
    for _ in range(40):
        loss = image_loss_l1(dec(enc(imgs)[0]), imgs)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        rec = dec(enc(imgs)[0])
    assert float(image_loss_l1(rec, imgs)) < baseline
    dist = (rec[:, None] - imgs[None]).abs().flatten(2).sum(2)  # [rec, image]
    assert dist.argmin(1).tolist() == [0, 1, 2, 3]


def test_bf16_switch_runs_the_convolutions_in_bfloat16_and_returns_float32(pig_images):
    torch.manual_seed(0)
    enc, dec = Encoder(16), ImageDecoder(16)
    seen: list[torch.dtype] = []
    for conv in (enc.features[0].branches[0][0], dec.deconv[0]):
        conv.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    mu32, s2_32 = enc(pig_images)
    img32 = dec(mu32)
    assert seen == [torch.float32, torch.float32]
    enc.bf16 = dec.bf16 = True
    seen.clear()
    mu, s2 = enc(pig_images)
    img = dec(mu32)
    assert seen == [torch.bfloat16, torch.bfloat16], "the fast path runs the convolutions in bfloat16"
    assert mu.dtype == s2.dtype == img.dtype == torch.float32, "the code end and the image come back in float32"
    # the same function to bfloat16's ~3 significant digits (instance norms included)
    assert (mu - mu32).abs().max() < 0.05 * mu32.abs().max()
    assert (img - img32).abs().max() < 0.05
    assert ((s2 >= 0.1) & (s2 <= 1e5)).all()
    # switched off, it leaves an enclosing autocast (--amp bf16, the whole model) on
    enc.bf16 = False
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        enc(pig_images)
    assert seen == [torch.bfloat16]
