"""The whole model: presets, loss assembly per objective, GMM update order, and a real overfit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iapix.data import prepare
from iapix.latent import kl_weight
from iapix.model import PRESETS, Config, IAPix, preset

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def batch():
    p = prepare(["cat", "pig"], DATA, limit=8)
    ds = p.dataset("train")
    return ds.collate([ds[i] for i in range(16)])


def test_paper_preset_is_the_paper():
    cfg = preset("paper", categories=("bee", "bus", "flower", "giraffe", "pig"))
    assert (cfg.z_dim, cfg.cell, cfg.hidden_size, cfg.hyper_size, cfg.embed_size) == (128, "hyper", 2048, 256, 32)
    assert cfg.num_mixture == 20 and cfg.K == 10 and cfg.dropout_keep == 0.9
    assert (cfg.lr, cfg.min_lr, cfg.beta1, cfg.grad_clip, cfg.batch_size) == (1e-3, 1e-5, 0.5, 1.0, 128)
    assert preset("tiny", objective="vae").K == 1


def test_config_round_trip_and_errors():
    cfg = preset("small", categories=("cat", "pig"), seed=3)
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown config preset 'huge'"):
        preset("huge")
    with pytest.raises(ValueError, match="objective"):
        preset("tiny", objective="kl")
    with pytest.raises(ValueError, match=r"unknown fields \['colour'\]"):
        Config.from_dict({**cfg.to_dict(), "colour": 1})
    assert set(PRESETS) == {"paper", "small", "tiny"}


@pytest.mark.parametrize("objective", ["ia", "rpcl", "vae"])
def test_total_is_assembled_as_specified(batch, objective):
    torch.manual_seed(0)
    model = IAPix(preset("tiny", objective=objective))
    s5, lengths, images, _ = batch
    for epoch in (0, 5):
        with torch.no_grad():
            out = model(s5, lengths, images, step=1000, epoch=epoch)
        w = kl_weight(1000)
        assert float(out["recon"]) == pytest.approx(float(out["offset"] + out["pen"]), rel=1e-6)
        lat = float(out["weight"] + out["gauss"])
        scale = {"ia": 0.5, "rpcl": 1.0, "vae": 1.0}[objective]
        expect = scale * w * lat + float(out["recon"]) + float(out["image"])
        assert float(out["total"]) == pytest.approx(expect, rel=1e-5)
        image_on = objective == "rpcl" or epoch < 3
        assert (float(out["image"]) > 0) == image_on, f"image loss at epoch {epoch}"
        assert all(torch.isfinite(v) for v in out.values())


def test_kl_rate_sets_the_warm_up_of_the_latent_terms(batch):
    """``kl_rate`` replaces method §4's 0.9999 in w_t; the default is that one, a rate outside (0, 1) is refused."""
    s5, lengths, images, _ = batch
    for rate in (0.9999, 0.999):
        torch.manual_seed(0)
        model = IAPix(preset("tiny", kl_rate=rate))
        with torch.no_grad():
            out = model(s5, lengths, images, step=2000, epoch=5)
        assert float(out["kl_weight"]) == pytest.approx(1 - 0.999 * rate**2000, rel=1e-6)
        expect = 0.5 * float(out["kl_weight"]) * float(out["weight"] + out["gauss"]) + float(out["recon"])
        assert float(out["total"]) == pytest.approx(expect, rel=1e-5)
    assert kl_weight(2000, 0.999) == pytest.approx(0.8649, abs=1e-4)
    assert kl_weight(2000) == pytest.approx(0.1821, abs=1e-4)
    assert preset("small").kl_rate == 0.9999
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="kl_rate"):
            preset("tiny", kl_rate=bad)


def test_gmm_updates_in_training_only(batch):
    torch.manual_seed(0)
    model = IAPix(preset("tiny"))
    s5, lengths, images, _ = batch
    a0 = model.latent.alpha.clone()
    model.eval()
    model(s5, lengths, images)
    assert torch.equal(model.latent.alpha, a0) and int(model.latent.steps) == 0
    model.train()
    model(s5, lengths, images)
    assert not torch.equal(model.latent.alpha, a0) and int(model.latent.steps) == 1


def test_latent_loss_reaches_encoder_not_gmm(batch):
    torch.manual_seed(0)
    model = IAPix(preset("tiny"))
    s5, lengths, images, _ = batch
    out = model(s5, lengths, images, step=10 ** 6, epoch=10)
    (out["gauss"] + out["weight"]).backward()
    enc = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in enc) and sum(float(g.abs().sum()) for g in enc) > 0
    assert all(p.grad is None for p in model.decoder.parameters())
    assert not any(b.requires_grad for b in model.latent.buffers())


def test_generate_batched(batch):
    torch.manual_seed(0)
    model = IAPix(preset("tiny")).eval()
    s5, lengths = model.generate(torch.randn(5, 8), max_len=30, temperature=0.5)
    assert s5.shape == (5, 31, 5) and lengths.shape == (5,)
    assert (lengths <= 30).all()


def test_tiny_model_overfits_eight_real_sketches(batch):
    """The whole model (encoder -> GMM -> HyperLSTM) memorises 8 real sketches."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    s5, lengths, images, _ = (t[:8] for t in batch)
    model = IAPix(preset("tiny", dropout_keep=1.0, hidden_size=64, num_mixture=5))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.5, 0.999))
    model.train()
    first = None
    for step in range(150):
        out = model(s5, lengths, images, step=step, epoch=10)
        opt.zero_grad()
        out["total"].backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
        opt.step()
        first = first if first is not None else float(out["recon"].detach()) / float(lengths.float().mean())
    last = float(out["recon"].detach()) / float(lengths.float().mean())
    # per-point reconstruction loss: about +3.6 nats at the start, well below 0 once memorised
    assert first > 2.0 and last < first - 3.0, (first, last)


def test_encoder_variance_clamp_is_for_ia_only():
    assert preset("tiny", objective="ia").encoder_s2_clamp == (0.1, 1e5)
    assert preset("tiny", objective="rpcl").encoder_s2_clamp is None
    assert preset("tiny", objective="vae", s2_clamp=(0.2, 5.0)).encoder_s2_clamp == (0.2, 5.0)
    torch.manual_seed(0)
    assert IAPix(preset("tiny", objective="rpcl")).encoder.s2_clamp is None
    assert IAPix(preset("tiny", objective="ia")).encoder.s2_clamp == (0.1, 1e5)
    # a checkpoint written with an explicit clamp keeps it
    cfg = Config.from_dict({**preset("tiny", objective="rpcl").to_dict(), "s2_clamp": [0.1, 1e5]})
    assert IAPix(cfg).encoder.s2_clamp == (0.1, 1e5)
