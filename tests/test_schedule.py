"""What method §7 changed about the training schedule: EM during the image warm-up, epochs of at least
``epoch_steps`` steps, batches grouped by length; and the Config-driven ``iapix train`` flags."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix.config_cli import config_from_args, config_help
from iapix.data import prepare
from iapix.encoder import reparameterize
from iapix.model import Config, IAPix, preset
from iapix.notebook import read_log
from iapix.train import Trainer, add_arguments, group_by_length

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def data():
    return prepare(["cat", "pig"], DATA, limit=64)


# ----------------------------------------------------------------------------------------------
# GMM during the image warm-up


@pytest.mark.parametrize("warmup", ["em", "byy"])
def test_em_keeps_the_mixture_where_byy_from_step_1_collapses(data, warmup):
    """Codes of an untrained encoder (real images) are one blob: BYY prunes the GMM to one Gaussian
    within 150 updates, a pruned Gaussian never returns; EM weights keep all K alive (method §7)."""
    torch.manual_seed(0)
    model = IAPix(preset("small", z_dim=8)).eval()
    images = torch.from_numpy(data.images["train"]).unsqueeze(1)
    with torch.no_grad():
        mu, s2 = model.encoder(images)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(mu), (64,), generator=gen)
        model.latent.update(reparameterize(mu[idx], s2[idx]), s2[idx], mu[idx], em=warmup == "em")
    alive = int(model.latent.components_alive().sum())
    if warmup == "em":
        assert alive == model.latent.K == 4 and float(model.latent.alpha.min()) > 0.1, model.latent.alpha
    else:
        assert alive == 1, model.latent.alpha  # the reference's behaviour that "em" avoids


def _updates_per_step(cfg, data, monkeypatch, steps: int = 4) -> tuple[list[dict], list[bool]]:
    """Train-mode passes of a model of ``cfg`` on one batch at steps (= epochs) 0..steps-1: the keywords of each GMM
    update (``em``: EM weights; ``alpha_floor``) and whether the image loss was on."""
    torch.manual_seed(0)
    model = IAPix(cfg).train()
    ds = data.dataset("train")
    s5, lengths, images, _ = ds.collate([ds[i] for i in range(8)])
    calls, update = [], model.latent.update

    def spy(*a, **k):
        calls.append(k)
        return update(*a, **k)

    monkeypatch.setattr(model.latent, "update", spy)
    images_on = [float(model(s5, lengths, images, step=t, epoch=t)["image"].detach()) > 0 for t in range(steps)]
    return calls, images_on


@pytest.mark.parametrize("objective, warmup, expect", [
    ("ia", "em", [True, True, False, False]),  # EM while the image loss is on (image_epochs = 2), then BYY
    ("ia", "byy", [False] * 4),  # the reference: BYY from step 1
    ("rpcl", "em", [False] * 4),  # RPCL's own EM/RPCL rule throughout (the flag only concerns ia)
])
def test_model_uses_em_exactly_during_the_image_warm_up(data, monkeypatch, objective, warmup, expect):
    cfg = preset("tiny", objective=objective, gmm_warmup=warmup, image_epochs=2)
    calls, images_on = _updates_per_step(cfg, data, monkeypatch)
    assert [c["em"] and objective == "ia" for c in calls] == expect
    if objective == "ia":
        assert images_on == [True, True, False, False]


def test_em_steps_ends_the_em_warm_up_at_a_step_of_its_own(data, monkeypatch):
    """``em_steps`` decouples the GMM's switch to BYY from the image loss: EM for steps 0-1, BYY from step 2 while
    the image loss is still on (image_epochs = 4)."""
    cfg = preset("tiny", objective="ia", gmm_warmup="em", image_epochs=4, em_steps=2)
    calls, images_on = _updates_per_step(cfg, data, monkeypatch)
    assert [c["em"] for c in calls] == [True, True, False, False] and images_on == [True] * 4
    with pytest.raises(ValueError, match="em_steps"):
        preset("tiny", em_steps=-1)


def test_alpha_floor_holds_for_its_steps_only(data, monkeypatch):
    """The model passes ``alpha_floor`` to the GMM update for the first ``alpha_floor_steps`` steps, then 0; a floor
    above 1 / K (every Gaussian would have to weigh more than an equal share) is refused."""
    cfg = preset("tiny", objective="ia", image_epochs=4, em_steps=0, alpha_floor=0.1, alpha_floor_steps=2)
    calls, _ = _updates_per_step(cfg, data, monkeypatch)
    floors = [c["alpha_floor"] for c in calls]
    assert floors == [0.1, 0.1, 0.0, 0.0]  # what the floor does to alpha: tests/test_latent.py
    with pytest.raises(ValueError, match="alpha_floor: expected a weight in"):
        preset("tiny", alpha_floor=0.3)  # K = 4: at most 0.25
    with pytest.raises(ValueError, match="alpha_floor_steps"):
        preset("tiny", alpha_floor_steps=-1)


def test_em_step_equals_a_smoothed_em_update():
    """``em=True`` is the M-step of method §3 step 6 with the responsibilities g (not the BYY weights)."""
    from iapix.latent import GMMLatent, posterior

    torch.manual_seed(1)
    gmm = GMMLatent(3, 2, "ia")
    z, s2 = torch.randn(50, 3) * 2, torch.full((50, 3), 0.2)
    a0, m0, v0 = gmm.alpha.clone(), gmm.means.clone(), gmm.variances.clone()
    g = posterior(z, a0, m0, v0, gmm.floor).double()
    B = g.sum(0)
    m_new = (g.T @ z.double()) / B[:, None]
    v_new = (g.T @ s2.double() + torch.stack([(g[:, k:k + 1] * (z.double() - m0[k].double()) ** 2).sum(0)
                                              for k in range(2)])) / B[:, None]
    gmm.update(z, s2, em=True)
    a = 0.95 * a0.double() + 0.05 * B / 50
    torch.testing.assert_close(gmm.means.double(), 0.95 * m0.double() + 0.05 * m_new, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gmm.variances.double(), 0.95 * v0.double() + 0.05 * v_new, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gmm.alpha.double(), a / a.sum(), rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------------------------
# epochs of at least epoch_steps steps


def test_epoch_is_at_least_epoch_steps(tmp_path, data):
    per_pass = len(data.strokes["train"]) // 16
    cfg = preset("tiny", batch_size=16, epoch_steps=per_pass * 2 + 3, max_epochs=2, image_epochs=1)
    tr = Trainer(cfg, out_dir=tmp_path, data=data, progress=False, save_every=0)
    assert tr.steps_per_epoch == per_pass * 2 + 3
    batches = tr._epoch_batches()
    assert len(batches) == tr.steps_per_epoch and all(len(b) == 16 for b in batches)
    # the first passes are whole permutations: every training sketch exactly once per pass
    first = np.concatenate(batches[:per_pass])
    assert len(set(first.tolist())) == per_pass * 16
    tr.fit()
    valid = read_log(tmp_path, "valid.csv")
    assert [int(r["iteration"]) for r in valid] == [tr.steps_per_epoch, 2 * tr.steps_per_epoch]
    log = read_log(tmp_path)
    image = [float(r["image"]) for r in log]
    n = tr.steps_per_epoch
    assert all(v > 0 for v in image[:n]) and all(v == 0 for v in image[n:]), "image loss for one epoch of steps"


def test_epoch_steps_zero_is_one_pass(tmp_path, data):
    tr = Trainer(preset("tiny", batch_size=16), out_dir=tmp_path, data=data, progress=False)
    assert tr.steps_per_epoch == len(data.strokes["train"]) // 16


# ----------------------------------------------------------------------------------------------
# batches grouped by length


def test_group_by_length_keeps_the_sketches_and_cuts_padding(data):
    lengths = np.array([len(s) for s in data.strokes["train"]])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(lengths))
    batches = [order[i:i + 8] for i in range(0, len(order) - 7, 8)]
    grouped = group_by_length(batches, lengths, np.random.default_rng(1), chunk=4)
    assert sorted(np.concatenate(grouped).tolist()) == sorted(np.concatenate(batches).tolist())
    assert [len(b) for b in grouped] == [len(b) for b in batches]
    padded = lambda bs: sum(len(b) * lengths[b].max() for b in bs)  # noqa: E731
    assert padded(grouped) < 0.85 * padded(batches)
    # within each chunk the batches are length quantiles: no batch's range overlaps much
    assert np.mean([lengths[b].max() - lengths[b].min() for b in grouped]) < \
        np.mean([lengths[b].max() - lengths[b].min() for b in batches])


def test_collate_pads_to_the_longest_sketch(data):
    ds = data.dataset("train")
    items = [ds[i] for i in range(8)]
    full, short = ds.collate(items), ds.collate(items, pad_to_longest=True)
    longest = max(len(s) for s, _, _ in items)
    assert full[0].shape[1] == data.max_len + 1 and short[0].shape[1] == longest + 2
    torch.testing.assert_close(short[0], full[0][:, :longest + 2])
    assert torch.equal(short[1], full[1]) and torch.equal(short[2], full[2])
    # every sketch, the longest included, has (0, 0, 0, 0, 1) after its last point: p_end is always a target
    for b, n in enumerate(short[1].tolist()):
        assert short[0][b, n + 1].tolist() == [0, 0, 0, 0, 1]


def test_validation_value_does_not_depend_on_padding(tmp_path, data):
    """Validation batches are sorted by length and padded to their longest: the same loss as N_max padding."""
    tr = Trainer(preset("tiny", batch_size=16), out_dir=tmp_path, data=data, progress=False)
    new = tr.validate()
    tr.model.eval()
    ds = data.dataset("valid")
    s5, lengths, images, _ = ds.collate([ds[i] for i in range(len(ds))])
    with torch.no_grad():
        out = tr.model(s5, lengths, images, update_gmm=False)
    for k in ("recon", "offset", "pen"):
        assert new[k] == pytest.approx(float(out[k]), rel=1e-4), k


# ----------------------------------------------------------------------------------------------
# iapix train: one flag per Config field


def test_every_config_field_is_a_flag_with_help():
    helps = config_help()
    fields = [f.name for f in dataclasses.fields(Config)]
    assert set(fields) <= set(helps), f"fields without a comment: {sorted(set(fields) - set(helps))}"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {a.dest: a for a in parser._actions}
    for name in fields:
        assert name in flags and flags[name].help == helps[name], name


def test_flags_override_the_preset():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--config", "small", "--objective", "rpcl", "--no-group-by-length", "--lr", "3e-4",
                              "--categories", "cat", "pig", "face", "--image-shrink", "0.9", "1.0",
                              "--s2-clamp", "none", "--max-steps", "7", "--epoch-steps", "0", "--em-steps", "1500"])
    cfg = config_from_args(args)
    assert cfg == preset("small", objective="rpcl", group_by_length=False, lr=3e-4, categories=("cat", "pig", "face"),
                         image_shrink=(0.9, 1.0), s2_clamp=None, max_steps=7, epoch_steps=0, em_steps=1500)
    assert config_from_args(parser.parse_args([])) == preset("small")
    assert config_from_args(parser.parse_args(["--s2-clamp", "0.2,10"])).encoder_s2_clamp == (0.2, 10.0)


def test_a_field_whose_default_is_none_takes_a_value_of_its_type():
    """`int | None` fields (the preset says None: no limit, or "while the image loss is on") take an int."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    optional = [f.name for f in dataclasses.fields(Config) if getattr(Config(), f.name) is None]
    assert {"max_steps", "em_steps"} <= set(optional)
    for name in optional:
        args = parser.parse_args(["--" + name.replace("_", "-"), "12"])
        assert getattr(config_from_args(args), name) == 12, name


def test_old_checkpoint_configs_keep_their_behaviour():
    """Configs stored before a field existed get the value that reproduces what those runs did."""
    old = {k: v for k, v in preset("small").to_dict().items()
           if k not in ("gmm_warmup", "epoch_steps", "group_by_length", "augment_image")}
    cfg = Config.from_dict(old)
    assert (cfg.gmm_warmup, cfg.epoch_steps, cfg.group_by_length, cfg.augment_image) == ("byy", 0, False, False)
    assert preset("small").augment_image  # new runs render the training image from the augmented strokes
    assert Config.from_dict(preset("small").to_dict()) == preset("small")
