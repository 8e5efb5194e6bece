"""Tests of iapix.latent: the BYY step against an independent NumPy transcription of method §3, the
RPCL/EM update against the reference code's rule, model selection on synthetic mixtures, loss
identities, gradients, numerics (bf16, huge distances) and state handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from iapix.latent import (
    GMMLatent,
    apply_stats,
    byy_weights,
    harmony_gaussian,
    kl_gaussian,
    kl_weight,
    log_gaussian,
    posterior,
    rpcl_weights,
    sufficient_stats,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# independent float64 NumPy transcriptions


def np_posterior(z, alpha, m, v, floor):
    """method §3 steps 1-2, written the reference's way: exp of mean-shifted log densities."""
    logn = -0.5 * (((z[:, None, :] - m[None]) ** 2) / v[None] + np.log(v)[None] + np.log(2 * np.pi)).sum(-1)
    logn = logn - logn.mean(1, keepdims=True)
    p = alpha[None] * np.exp(logn)
    g = np.clip(p / p.sum(1, keepdims=True), floor, 1.0)
    return g / g.sum(1, keepdims=True)


def np_byy_step(z, s2, alpha, m, v):
    """method §3 steps 1-7, one BYY step, float64."""
    K = len(alpha)
    g = np_posterior(z, alpha, m, v, 1.0 / (100 * K))
    L = np.log(g) - 0.5 * (s2[:, None, :] / v[None]).sum(-1)
    delta = np.clip(L - (g * L).sum(1, keepdims=True), -1.0001, 1.0)
    b = g * (1 + delta)
    Bk = b.sum(0)
    m_new = (b.T @ z) / (Bk[:, None] + 1e-10)
    v_new = np.einsum("ik,ikd->kd", b, s2[:, None, :] + (z[:, None, :] - m[None]) ** 2) / (Bk[:, None] + 1e-10)
    a_new = b.mean(0)
    m2 = 0.95 * m + 0.05 * m_new
    v2 = np.clip(0.95 * v + 0.05 * v_new, 1e-10, 1e5)
    a2 = np.clip(0.95 * alpha + 0.05 * a_new, 1e-10, 1.0)
    return a2 / a2.sum(), m2, v2, b


def np_rpcl_step(z, mu, s2, alpha, m, v, rpcl: bool):
    """The reference RPCL-pix2seq update: g from z, M-step on mu, variance around the new mean."""
    g = np_posterior(z, alpha, m, v, 1e-5)
    if rpcl:
        K = len(alpha)
        win = np.eye(K)[g.argmax(1)]
        riv = np.eye(K)[(g - g * win).argmax(1)]
        w = win - 1e-4 * riv
    else:
        w = g
    Wk = w.sum(0)
    m_new = (w.T @ mu) / (Wk[:, None] + 1e-10)
    v_new = np.einsum("ik,ikd->kd", w, s2[:, None, :] + (mu[:, None, :] - m_new[None]) ** 2) / (Wk[:, None] + 1e-10)
    m2 = 0.95 * m + 0.05 * m_new
    v2 = np.clip(0.95 * v + 0.05 * v_new, 1e-10, 1e10)
    a2 = np.clip(0.95 * alpha + 0.05 * w.mean(0), 0.0, 1.0)
    return a2 / a2.sum(), m2, v2


def random_case(seed: int, B: int = 64, K: int = 6, D: int = 5):
    rng = np.random.default_rng(seed)
    alpha = rng.dirichlet(np.ones(K))
    m = rng.uniform(-1, 1, (K, D))
    v = rng.uniform(0.3, 2.0, (K, D))
    z = rng.normal(0, 1.2, (B, D))
    s2 = rng.uniform(0.05, 1.0, (B, D))
    mu = z + rng.normal(0, 0.3, (B, D))
    return alpha, m, v, z, s2, mu


def load(gmm: GMMLatent, alpha, m, v) -> None:
    gmm.alpha.copy_(torch.tensor(alpha, dtype=torch.float32))
    gmm.means.copy_(torch.tensor(m, dtype=torch.float32))
    gmm.variances.copy_(torch.tensor(v, dtype=torch.float32))


def t32(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------
# the BYY / EM / RPCL steps against the transcriptions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_byy_step_matches_numpy_transcription(seed):
    alpha, m, v, z, s2, _ = random_case(seed)
    gmm = GMMLatent(z.shape[1], len(alpha), "ia")
    load(gmm, alpha, m, v)
    a_ref, m_ref, v_ref, b_ref = np_byy_step(z, s2, alpha, m, v)
    # the weights themselves, through the pure functions
    g = posterior(t32(z), t32(alpha), t32(m), t32(v), 1.0 / (100 * len(alpha)))
    b = byy_weights(g, t32(s2), t32(v))
    np.testing.assert_allclose(b.numpy(), b_ref, rtol=1e-5, atol=1e-6)
    # rivals far below the average harmony get exactly b = g (1 - 1.0001) = -1e-4 g
    clipped = b_ref / np_posterior(z, alpha, m, v, 1.0 / (100 * len(alpha))) < -0.99e-4
    assert clipped.any(), "the case should exercise clipped (rival) weights"
    np.testing.assert_allclose((b / g).numpy()[clipped], -1e-4, rtol=1e-3)
    gmm.update(t32(z), t32(s2))
    np.testing.assert_allclose(gmm.alpha.numpy(), a_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gmm.means.numpy(), m_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gmm.variances.numpy(), v_ref, rtol=1e-5, atol=1e-6)
    assert int(gmm.steps) == 1


@pytest.mark.parametrize("steps,use_rpcl", [(0, False), (500, False), (501, True), (502, False), (504, True)])
def test_rpcl_update_matches_reference_rule(steps, use_rpcl):
    alpha, m, v, z, s2, mu = random_case(steps)
    gmm = GMMLatent(z.shape[1], len(alpha), "rpcl")
    load(gmm, alpha, m, v)
    gmm.steps.fill_(steps)
    a_ref, m_ref, v_ref = np_rpcl_step(z, mu, s2, alpha, m, v, use_rpcl)
    a_other, m_other, _ = np_rpcl_step(z, mu, s2, alpha, m, v, not use_rpcl)
    assert np.abs(m_ref - m_other).max() > 1e-3, "EM and RPCL must differ on this case"
    gmm.update(t32(z), t32(s2), t32(mu))
    np.testing.assert_allclose(gmm.alpha.numpy(), a_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gmm.means.numpy(), m_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gmm.variances.numpy(), v_ref, rtol=1e-5, atol=1e-6)
    assert int(gmm.steps) == steps + 1


def test_rpcl_update_needs_mu():
    gmm = GMMLatent(3, 2, "rpcl")
    with pytest.raises(ValueError, match="mu"):
        gmm.update(torch.randn(4, 3), torch.ones(4, 3))


@pytest.mark.parametrize("objective", ["ia", "rpcl"])
def test_reduce_of_split_batch_equals_full_batch(objective):
    """Sums from two halves added in ``reduce`` (what an all-reduce does) give the full-batch update."""
    alpha, m, v, z, s2, mu = random_case(7, B=80)
    z, s2, mu = t32(z), t32(s2), t32(mu)
    full = GMMLatent(z.shape[1], len(alpha), objective)
    split = GMMLatent(z.shape[1], len(alpha), objective)
    load(full, alpha, m, v)
    load(split, alpha, m, v)
    full.update(z, s2, mu)
    # the other device's half, computed with the public pure functions
    g2 = posterior(z[40:], split.alpha, split.means, split.variances, split.floor)
    if objective == "ia":
        other = sufficient_stats(byy_weights(g2, s2[40:], split.variances), z[40:], s2[40:], split.means)
    else:
        other = sufficient_stats(g2, mu[40:], s2[40:], split.means)
    split.update(z[:40], s2[:40], mu[:40], reduce=lambda s: {k: s[k] + other[k] for k in s})
    for name in ("alpha", "means", "variances"):
        torch.testing.assert_close(getattr(split, name), getattr(full, name), rtol=1e-5, atol=1e-6)


def test_rpcl_weights_winner_and_rival():
    g = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    w = rpcl_weights(g)
    torch.testing.assert_close(w, torch.tensor([[0.0, 1.0, -1e-4], [1.0, 0.0, -1e-4]]))


def test_apply_stats_rejects_bad_input():
    gmm = GMMLatent(2, 3, "ia")
    with pytest.raises(ValueError, match="kind"):
        apply_stats({}, gmm.alpha, gmm.means, gmm.variances, 0.95, "em")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing"):
        apply_stats({"n": torch.tensor(1.0)}, gmm.alpha, gmm.means, gmm.variances, 0.95, "ia")
    with pytest.raises(ValueError, match="objective"):
        GMMLatent(2, 3, "em")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latent dimensions"):
        gmm.update(torch.randn(4, 3), torch.ones(4, 3))


# ----------------------------------------------------------------------------------------------
# model selection on synthetic mixtures

BYY_STEPS = 300


def three_clusters(D: int, seed: int, n: int = 3000, spread: float = 0.2):
    """n points from 3 Gaussians with centres on a circle of radius 2 (pairwise distance 3.46)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.zeros(3, D)
    angles = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    centres[:, 0], centres[:, 1] = 2 * angles.cos(), 2 * angles.sin()
    if D > 2:
        centres[:, 2:] = 0.5 * torch.randn(3, D - 2, generator=gen)
    labels = torch.arange(n) % 3
    return centres[labels] + spread * torch.randn(n, D, generator=gen), labels


def fit(objective: str, z: torch.Tensor, seed: int, steps: int = BYY_STEPS, batch: int = 200) -> GMMLatent:
    torch.manual_seed(seed)  # same initial GMM for both objectives
    gmm = GMMLatent(z.shape[1], 8, objective)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(seed + 100)  # same minibatches
    s2 = torch.full((batch, z.shape[1]), 0.01)
    for _ in range(steps):
        idx = torch.randint(0, len(z), (batch,), generator=gen)
        gmm.update(z[idx], s2, mu=z[idx])
    return gmm


@pytest.mark.parametrize("D", [2, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_byy_prunes_redundant_components_and_em_does_not(D, seed):
    """K = 8 Gaussians on data from 3: BYY harmony learning switches off the 5 redundant ones.

    How many steps: a losing component gets weights b = g (1 - 1.0001) ~ -1e-4 g, so its alpha
    decays by the factor 0.95 per step; from 1/8 to 1e-3 that alone takes ln(125)/ln(1/0.95) = 94
    steps, after the competition has been decided. With these data all redundant components are
    below 1e-3 after 100-200 steps (seeds 0-3, D = 2 and 8); 300 steps leave a margin.
    Mean tolerance 0.1: the stationary error of the smoothed mean is about
    spread * sqrt(0.05 / 1.95 / 67) ~ 0.004 per dimension (67 points of a cluster per batch),
    i.e. ~0.011 in 8-D, plus the sampling error of 1000 points (~0.018 in 8-D); 0.1 is far above
    that and far below half the distance between centres (1.7), so it tells a recovered centre
    from a merged or misplaced one.
    """
    z, truth = three_clusters(D, seed)
    centres = torch.stack([z[truth == j].mean(0) for j in range(3)])  # the sample's own centres

    byy = fit("ia", z, seed)
    alive = byy.components_alive(1e-3)
    assert int(alive.sum()) == 3, f"BYY kept alpha = {byy.alpha.tolist()}"
    assert (byy.alpha[~alive] < 1e-3).sum() >= 4
    dist = torch.cdist(centres, byy.means[alive])  # [3 true, 3 kept]
    assert dist.min(1).values.max() < 0.1, dist
    assert sorted(dist.argmin(1).tolist()) == [0, 1, 2], "each true centre must have its own component"
    # the variances approach spread^2 + s2 = 0.05 (the BYY M-step adds the encoder variance)
    torch.testing.assert_close(byy.variances[alive], torch.full((3, D), 0.05), rtol=0.35, atol=0.0)
    # labels argmax_k b_ik are pure: one component per true cluster
    lab = byy.labels(z, torch.full_like(z, 0.01))
    for j in range(3):
        assert lab[truth == j].unique().numel() == 1
    assert lab.unique().numel() == 3

    em = fit("rpcl", z, seed)  # before step 500 the rpcl objective is plain EM
    assert int(em.steps) <= 500
    em_alive = em.components_alive(1e-3)
    em_means = em.means[em_alive]
    pair = torch.cdist(em_means, em_means) + 1e9 * torch.eye(len(em_means))
    assert int(em_alive.sum()) > 3 or pair.min() < 0.5, "plain EM should keep duplicate components"


def test_alpha_floor_keeps_every_gaussian_until_it_is_lifted():
    """``alpha_floor`` (Config.alpha_floor): BYY on data from 3 clusters would prune 5 of 8 Gaussians (the test
    above); with the floor all 8 keep alpha >= floor / (1 + K floor) for 300 steps, and once it is lifted BYY prunes
    the same 5 within another 300 (the decay argument of the test above)."""
    z, _ = three_clusters(2, 0)
    torch.manual_seed(0)
    gmm = GMMLatent(2, 8, "ia")
    gen = torch.Generator().manual_seed(100)
    s2 = torch.full((200, 2), 0.01)
    floor = 0.02
    for t in range(600):
        idx = torch.randint(0, len(z), (200,), generator=gen)
        gmm.update(z[idx], s2, alpha_floor=floor if t < 300 else 0.0)
        if t == 299:
            assert float(gmm.alpha.min()) >= floor / (1 + 8 * floor) - 1e-7, gmm.alpha
            assert int(gmm.components_alive().sum()) == 8
    assert int(gmm.components_alive().sum()) == 3, gmm.alpha


# ----------------------------------------------------------------------------------------------
# losses


def test_harmony_term_is_kl_without_entropy_per_component():
    gen = torch.Generator().manual_seed(3)
    B, K, D = 16, 5, 7
    mu, s2 = torch.randn(B, D, generator=gen), torch.rand(B, D, generator=gen) + 0.05
    m, v = torch.randn(K, D, generator=gen), torch.rand(K, D, generator=gen) + 0.2
    h, kl = harmony_gaussian(mu, s2, m, v), kl_gaussian(mu, s2, m, v)
    assert h.shape == kl.shape == (B, K)
    # h_ik = KL_ik - [entropy part 0.5 sum_d (-ln s2 - 1)] + 0.5 D ln 2pi   (per component)
    entropy_part = 0.5 * (-s2.log() - 1.0).sum(1, keepdim=True)
    torch.testing.assert_close(h, kl - entropy_part + 0.5 * D * math.log(2 * math.pi), rtol=1e-5, atol=1e-5)
    # KL against torch.distributions
    p = torch.distributions.Normal(mu[:, None], s2[:, None].sqrt())
    q = torch.distributions.Normal(m[None], v[None].sqrt())
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(p, q).sum(-1), rtol=1e-5, atol=1e-5)
    # h is the expected negative log-density of a code under each Gaussian (Monte Carlo)
    eps = torch.randn(20000, D, generator=gen)
    samples = mu[0] + s2[0].sqrt() * eps
    mc = -log_gaussian(samples, m, v).mean(0)
    torch.testing.assert_close(h[0], mc, rtol=0.02, atol=0.05)


def test_losses_formulas():
    gen = torch.Generator().manual_seed(4)
    B, K, D = 12, 4, 3
    mu, s2 = torch.randn(B, D, generator=gen), torch.rand(B, D, generator=gen) + 0.1
    for objective in ("ia", "rpcl"):
        gmm = GMMLatent(D, K, objective)
        gmm.alpha.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
        out = gmm.losses(mu, s2)
        g = gmm.posterior(mu)
        if objective == "ia":
            gauss = (g * harmony_gaussian(mu, s2, gmm.means, gmm.variances)).sum(1).mean()
            weight = sum((-g[:, k] * math.log(gmm.alpha[k])).mean() for k in range(K))
        else:
            gauss = (g * kl_gaussian(mu, s2, gmm.means, gmm.variances)).sum(1).mean()
            weight = sum((g[:, k] * torch.log(g[:, k] / gmm.alpha[k])).mean() for k in range(K))
        torch.testing.assert_close(out["gauss"], gauss)
        torch.testing.assert_close(out["weight"], weight)
    assert kl_weight(0) == pytest.approx(0.001)
    assert kl_weight(10000) == pytest.approx(1 - 0.999 * 0.9999**10000)


def test_gradients_reach_mu_s2_and_the_posterior():
    torch.manual_seed(5)
    D, K = 4, 3
    enc = torch.nn.Linear(6, 2 * D)
    x = torch.randn(32, 6)
    eps = torch.randn(32, D)
    gmm = GMMLatent(D, K, "ia")
    gmm.variances.fill_(2.0)  # broad components: g is not clipped everywhere

    def loss(detach_g_path: bool):
        enc.zero_grad()
        mu, pre = enc(x).chunk(2, dim=1)
        s2 = F.softplus(pre)
        z = mu + s2.sqrt() * eps
        mu.retain_grad()
        s2.retain_grad()
        out = gmm.losses(mu, s2, z=z.detach() if detach_g_path else z)
        (out["gauss"] + out["weight"]).backward()
        return mu.grad.clone(), s2.grad.clone(), enc.weight.grad.clone()

    gmu, gs2, gw = loss(False)
    assert gmu.abs().sum() > 0 and gs2.abs().sum() > 0 and gw.abs().sum() > 0
    gmu0, gs20, gw0 = loss(True)
    assert not torch.allclose(gw, gw0, rtol=1e-4, atol=1e-6), "the posterior g must carry gradient"
    assert not torch.allclose(gmu, gmu0, rtol=1e-4, atol=1e-6)
    assert all(not b.requires_grad for b in gmm.buffers())
    assert list(gmm.parameters()) == []


# ----------------------------------------------------------------------------------------------
# numerics


@pytest.mark.parametrize("objective", ["ia", "rpcl", "vae"])
def test_bf16_inputs_match_float32(objective):
    torch.manual_seed(6)
    D, K, B = 8, 4, 64
    mu = torch.randn(B, D)
    s2 = torch.rand(B, D) + 0.1
    z = mu + s2.sqrt() * torch.randn(B, D)
    a = GMMLatent(D, K, objective)  # type: ignore[arg-type]
    b = GMMLatent(D, K, objective)  # type: ignore[arg-type]
    b.load_state_dict(a.state_dict())
    a.update(z, s2, mu)
    b.update(z.bfloat16(), s2.bfloat16(), mu.bfloat16())
    for name in ("alpha", "means", "variances"):
        assert getattr(b, name).dtype == torch.float32
        torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=2e-2, atol=2e-2)
    la, lb = a.losses(mu, s2, z), b.losses(mu.bfloat16(), s2.bfloat16(), z.bfloat16())
    for key in ("gauss", "weight"):
        assert lb[key].dtype == torch.float32 and torch.isfinite(lb[key])
        torch.testing.assert_close(lb[key], la[key], rtol=3e-2, atol=1e-2)


@pytest.mark.parametrize("objective", ["ia", "rpcl"])
def test_huge_distances_stay_finite(objective):
    torch.manual_seed(7)
    D, K, B = 16, 5, 32
    gmm = GMMLatent(D, K, objective)  # type: ignore[arg-type]
    gmm.variances.fill_(1e-2)
    z = 1e3 * torch.randn(B, D)
    s2 = torch.full((B, D), 0.1)
    g = gmm.posterior(z)
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g.sum(1), torch.ones(B))
    # the log-space posterior still picks the nearest Gaussian, where exp() would give 0/0
    nearest = (-log_gaussian(z, gmm.means, gmm.variances)).argmin(1)
    assert torch.equal(g.argmax(1), nearest)
    mu = z.clone().requires_grad_(True)
    s2g = s2.clone().requires_grad_(True)
    out = gmm.losses(mu, s2g, z=mu)
    (out["gauss"] + out["weight"]).backward()
    assert all(torch.isfinite(v) for v in out.values())
    assert torch.isfinite(mu.grad).all() and torch.isfinite(s2g.grad).all()
    for _ in range(3):
        gmm.update(z, s2, z)
    for buf in (gmm.alpha, gmm.means, gmm.variances):
        assert torch.isfinite(buf).all()
    assert torch.isfinite(gmm.labels(z, s2).float()).all()


# ----------------------------------------------------------------------------------------------
# state


def test_state_dict_round_trip():
    torch.manual_seed(8)
    a = GMMLatent(5, 4, "rpcl")
    z, s2 = torch.randn(20, 5), torch.rand(20, 5) + 0.1
    for _ in range(3):
        a.update(z, s2, z)
    state = a.state_dict()
    assert set(state) == {"alpha", "means", "variances", "steps"}
    b = GMMLatent(5, 4, "rpcl")
    assert not torch.equal(b.means, a.means)
    b.load_state_dict(state)
    for key in state:
        assert torch.equal(getattr(b, key), getattr(a, key))
    assert int(b.steps) == 3 and b.steps.dtype == torch.long
    a.update(z, s2, z)
    b.update(z, s2, z)
    torch.testing.assert_close(a.means, b.means, rtol=0, atol=0)


def test_init_and_alive():
    torch.manual_seed(9)
    gmm = GMMLatent(6, 10, "ia")
    torch.testing.assert_close(gmm.alpha, torch.full((10,), 0.1))
    assert gmm.means.abs().max() <= 1.0 and gmm.means.std() > 0.3
    assert torch.equal(gmm.variances, torch.ones(10, 6))
    assert gmm.floor == pytest.approx(1e-3)
    gmm.alpha.copy_(torch.tensor([0.5, 0.5] + [0.0] * 8))
    assert gmm.components_alive().tolist() == [True, True] + [False] * 8


def test_vae_prior_is_fixed_standard_normal():
    torch.manual_seed(10)
    gmm = GMMLatent(4, 7, "vae")
    assert gmm.K == 1
    before = {k: v.clone() for k, v in gmm.state_dict().items()}
    mu, s2 = torch.randn(16, 4) * 3, torch.rand(16, 4) + 0.1
    for _ in range(5):
        gmm.update(mu, s2, mu)
    for key in ("alpha", "means", "variances"):
        assert torch.equal(getattr(gmm, key), before[key])
    assert torch.equal(gmm.means, torch.zeros(1, 4)) and torch.equal(gmm.variances, torch.ones(1, 4))
    assert int(gmm.steps) == 5
    out = gmm.losses(mu, s2)
    p = torch.distributions.Normal(mu, s2.sqrt())
    q = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    torch.testing.assert_close(out["gauss"], torch.distributions.kl_divergence(p, q).sum(1).mean())
    assert float(out["weight"]) == 0.0
    assert gmm.labels(mu, s2).eq(0).all()


def test_autocast_does_not_lower_precision():
    """Under bf16 autocast the GMM update and losses still run in float32 (no autocast-cast ops)."""
    alpha, m, v, z, s2, mu = random_case(11)
    z, s2, mu = t32(z), t32(s2), t32(mu)
    for objective in ("ia", "rpcl"):
        a = GMMLatent(z.shape[1], len(alpha), objective)  # type: ignore[arg-type]
        b = GMMLatent(z.shape[1], len(alpha), objective)  # type: ignore[arg-type]
        load(a, alpha, m, v)
        load(b, alpha, m, v)
        a.update(z, s2, mu)
        la = a.losses(mu, s2, z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            b.update(z, s2, mu)
            lb = b.losses(mu, s2, z)
        for name in ("alpha", "means", "variances"):
            torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=1e-6, atol=1e-7)
        for key in la:
            torch.testing.assert_close(lb[key], la[key], rtol=1e-6, atol=1e-6)
