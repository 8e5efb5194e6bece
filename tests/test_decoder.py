"""Tests of iapix.decoder: cells, fused HyperLSTM backward, MDN loss, sampling, a real overfit run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from iapix.data import to_stroke5
from iapix.decoder import (
    HYPER_INIT_SCALE,
    HyperLSTMCell,
    LayerNormLSTMCell,
    MDNHead,
    SketchDecoder,
    make_cell,
    reconstruction_loss,
    sample_point,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny ops: one thread is many times faster than two on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PIG = Path("/work/shared/data/quickdraw/quickdraw_stimulus_generation/pig.npz")
CELL_NAMES = ["lstm", "layernorm", "hyper"]


def small_cell(name: str, dtype=torch.float32, keep: float = 0.9, input_size: int = 7, hidden: int = 16):
    torch.manual_seed(0)
    return make_cell(name, input_size, hidden, hyper_size=8, embed_size=4, dropout_keep=keep).to(dtype)


def perturb(module: torch.nn.Module, amount: float = 0.1) -> None:
    """Move every parameter away from its (often constant) init so that all paths carry signal."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(amount * torch.randn(p.shape, generator=g, dtype=p.dtype))


def split_state(cell, state: torch.Tensor) -> dict[str, torch.Tensor]:
    H = cell.hidden_size
    if isinstance(cell, HyperLSTMCell):
        Hh = cell.hyper_size
        h, hh, c, hc = state.split([H, Hh, H, Hh], 1)
        return dict(h=h, hh=hh, c=c, hc=hc)
    h, c = state.split([H, H], 1)
    return dict(h=h, c=c)


# ---------------------------------------------------------------------------------------------
# cells


@pytest.mark.parametrize("name", CELL_NAMES)
def test_cell_shapes_and_dtypes(name):
    for dtype in (torch.float32, torch.float64):
        cell = small_cell(name, dtype)
        want = 2 * (16 + 8) if name == "hyper" else 2 * 16
        assert cell.state_size == want
        x = torch.randn(3, 5, 7, dtype=dtype)
        state = torch.randn(3, cell.state_size, dtype=dtype)
        for mode in (True, False):
            cell.train(mode)
            h, s = cell(x, state)
            assert h.shape == (3, 5, 16) and s.shape == (3, want)
            assert h.dtype == s.dtype == dtype
            h1, s1 = cell.step(x[:, 0], state)
            assert h1.shape == (3, 16) and s1.shape == (3, want) and h1.dtype == dtype
        h0, _ = cell(x)  # state None -> zeros
        torch.testing.assert_close(h0, cell(x, torch.zeros(3, want, dtype=dtype))[0])
    with pytest.raises(ValueError, match="expected \\[B, T, 7\\]"):
        cell(torch.randn(3, 5, 6, dtype=dtype), state)
    with pytest.raises(ValueError, match="state has shape"):
        cell(x, state[:, :-1])
    with pytest.raises(ValueError, match="cell='gru'"):
        make_cell("gru", 7, 16)
    with pytest.raises(ValueError, match="dropout_keep=1.5"):
        make_cell(name, 7, 16, dropout_keep=1.5)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_step_matches_forward_in_eval(name):
    cell = small_cell(name).eval()
    perturb(cell)
    x = torch.randn(4, 5, 7)
    state = torch.randn(4, cell.state_size)
    h_seq, s_seq = cell(x, state)
    s, hs = state, []
    for t in range(5):
        h, s = cell.step(x[:, t], s)
        hs.append(h)
    torch.testing.assert_close(torch.stack(hs, 1), h_seq, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(s, s_seq, atol=1e-6, rtol=1e-5)
    # the final state's h is the last output
    torch.testing.assert_close(split_state(cell, s_seq)["h"], h_seq[:, -1])


@pytest.mark.parametrize("train", [False, True])
def test_fused_hyperlstm_matches_autograd_path(train):
    """The hand-written backward through time gives the autograd path's values and gradients."""
    cell = small_cell("hyper", torch.float64, keep=0.7).train(train)
    perturb(cell)
    x = torch.randn(3, 6, 7, dtype=torch.float64, requires_grad=True)
    state = torch.randn(3, cell.state_size, dtype=torch.float64, requires_grad=True)
    inputs = [x, state, *cell.parameters()]
    results = []
    for fused in (True, False):
        cell.fused = fused
        torch.manual_seed(5)  # same dropout masks for both paths
        h, s = cell(x, state)
        assert (h.grad_fn.name() == "_FusedHyperLSTMBackward") == fused
        g = torch.Generator().manual_seed(2)
        w_h, w_s = (torch.randn(t.shape, generator=g, dtype=t.dtype) for t in (h, s))
        loss = (h * w_h).sum() + (s * w_s).sum()
        results.append((h, s, torch.autograd.grad(loss, inputs)))
    (h1, s1, g1), (h2, s2, g2) = results
    torch.testing.assert_close(h1, h2, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(s1, s2, atol=1e-12, rtol=1e-10)
    names = ["x", "state"] + [n for n, _ in cell.named_parameters()]
    for n, a, b in zip(names, g1, g2):
        assert a.shape == b.shape, n
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9, msg=f"gradient of {n}")
        assert a.abs().sum() > 0, f"gradient of {n} is zero: the test would not see a wrong backward"


def test_fused_hyperlstm_gradcheck():
    """Finite differences on a tiny fused HyperLSTM (independent of the autograd reference)."""
    torch.manual_seed(0)
    cell = HyperLSTMCell(3, 4, hyper_size=3, embed_size=2, dropout_keep=1.0).double()
    perturb(cell, 0.3)
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(2, cell.state_size, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in cell.parameters()]

    def run(x, s0, *params):
        return torch.func.functional_call(cell, dict(zip(names, params)), (x, s0))

    assert cell.fused
    assert torch.autograd.gradcheck(run, (x, s0, *params), eps=1e-6, atol=1e-6)


def test_recurrent_dropout_masks_only_the_candidate():
    for name in CELL_NAMES:
        cell = small_cell(name, torch.float64, keep=0.5)
        perturb(cell)
        x = torch.randn(6, 7, dtype=torch.float64)
        state = torch.randn(6, cell.state_size, dtype=torch.float64)
        zero_c = state.clone()
        split_state(cell, zero_c)["c"].zero_()  # the main cell's c = 0 isolates sigmoid(i) * tanh(g)
        cell.eval()
        _, s_eval = cell.step(x, state)
        _, s_eval0 = cell.step(x, zero_c)
        assert torch.equal(cell.step(x, state)[1], s_eval)  # eval: deterministic
        cell.train()
        torch.manual_seed(0)
        _, s_train = cell.step(x, state)
        ig = split_state(cell, s_eval0)["c"]  # = sigmoid(i) * tanh(g) for this x and h
        diff = split_state(cell, s_train)["c"] - split_state(cell, s_eval)["c"]
        # keep = 0.5: the candidate is either dropped (-ig) or doubled (+ig); c * sigmoid(f + 1) untouched
        dropped = torch.isclose(diff, -ig, atol=1e-12)
        doubled = torch.isclose(diff, ig, atol=1e-12)
        assert bool((dropped | doubled).all()), name
        assert 0.3 < dropped.double().mean().item() < 0.7, name
        if name == "hyper":  # the hyper cell has no dropout
            torch.testing.assert_close(split_state(cell, s_train)["hc"], split_state(cell, s_eval)["hc"])
    # a fresh mask at every step, values in {0, 1/keep}
    masks = cell._masks(4, 32, x)
    assert masks.shape == (4, 32, 16)
    assert set(masks.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(masks[0], masks[1])
    assert cell.eval()._masks(4, 32, x) is None


def test_orthogonal_recurrent_init_and_forget_bias():
    for name in CELL_NAMES:
        cell = small_cell(name, hidden=24)
        H = 24
        w = cell.weight_hh[:, : 4 * H] if name == "hyper" else cell.weight_h
        blocks = list(w.split(H, 1))
        if name == "hyper":
            blocks += list(cell.hyper_weight_h.split(cell.hyper_size, 1))
        for blk in blocks:
            torch.testing.assert_close(blk @ blk.T, torch.eye(blk.shape[0]), atol=1e-5, rtol=0)
        # with every weight at 0 all gate pre-activations are 0: c' = c * sigmoid(0 + 1) + sigmoid(0) * tanh(0)
        with torch.no_grad():
            for p in cell.parameters():
                p.zero_()
        cell.eval()
        state = torch.randn(5, cell.state_size)
        _, new = cell.step(torch.randn(5, 7), state)
        want = split_state(cell, state)["c"] * torch.sigmoid(torch.tensor(1.0))
        torch.testing.assert_close(split_state(cell, new)["c"], want)


def test_hyperlstm_initial_modulation_and_equivalence_to_layernorm_lstm():
    cell = small_cell("hyper").eval()
    emb = cell.hyper_embeddings(torch.randn(9, cell.hyper_size) * 3)
    assert emb.shape == (3, 4, 9, 16)
    assert HYPER_INIT_SCALE == 0.1
    torch.testing.assert_close(emb[:2], torch.full_like(emb[:2], 0.1), atol=1e-7, rtol=0)  # scales of W_x x, W_h h
    assert torch.equal(emb[2], torch.zeros_like(emb[2]))
    # at init the HyperLSTM is the layer-norm LSTM with W_x and W_h scaled by 0.1 (LN makes the
    # common scale cancel up to epsilon), whatever the hyper cell's state
    ln = LayerNormLSTMCell(7, 16).eval()
    with torch.no_grad():
        ln.weight_x.copy_(HYPER_INIT_SCALE * cell.weight_x)
        ln.weight_h.copy_(HYPER_INIT_SCALE * cell.weight_hh[:, : 4 * 16])
    x, state = torch.randn(4, 6, 7), torch.randn(4, cell.state_size)
    parts = split_state(cell, state)
    h_hyper, s_hyper = cell(x, state)
    h_ln, s_ln = ln(x, torch.cat([parts["h"], parts["c"]], 1))
    torch.testing.assert_close(h_hyper, h_ln, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(split_state(cell, s_hyper)["c"], s_ln[:, 16:], atol=2e-6, rtol=1e-5)
    # ... and not the unscaled one (the relation is not trivially true)
    with torch.no_grad():
        ln.weight_x.copy_(cell.weight_x)
        ln.weight_h.copy_(cell.weight_hh[:, : 4 * 16])
    assert (ln(x, torch.cat([parts["h"], parts["c"]], 1))[0] - h_hyper).abs().max() > 1e-3


def test_hyperlstm_autocast_falls_back_to_the_autograd_path():
    cell = small_cell("hyper").train()
    x = torch.randn(2, 3, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, _ = cell(x)
    assert h.grad_fn.name() != "_FusedHyperLSTMBackward"
    h.float().sum().backward()
    assert cell.weight_hh.grad is not None and torch.isfinite(cell.weight_hh.grad).all()


def test_compile_step_matches_eager():
    cell = small_cell("hyper").eval()
    perturb(cell)
    x, state = torch.randn(2, 4, 7), torch.randn(2, cell.state_size)
    h_ref, s_ref = cell(x, state)
    cell.compile_step(backend="eager", fullgraph=True)
    h, s = cell(x, state)
    torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(s, s_ref, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# mixture density head and loss


def random_params(B: int, N: int, M: int, seed: int = 0) -> dict[str, torch.Tensor]:
    head = MDNHead(8, M)
    g = torch.Generator().manual_seed(seed)
    return head.split(torch.randn(B, N, 6 * M + 3, generator=g))


def random_target(B: int, N: int, lengths: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.zeros(B, N, 5)
    t[..., :2] = torch.randn(B, N, 2, generator=g)
    pen = torch.randint(0, 2, (B, N), generator=g)
    t[..., 2:] = F.one_hot(pen, 3).float()
    after = torch.arange(N) >= lengths[:, None]
    t[after] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])
    return t


def test_mdn_head_split():
    head = MDNHead(8, 4)
    out = torch.randn(2, 3, 27)
    p = head.split(out)
    assert p["pen_logits"].shape == (2, 3, 3) and p["pi_logits"].shape == (2, 3, 4)
    torch.testing.assert_close(p["pen_logits"], out[..., :3])
    torch.testing.assert_close(p["mu_y"], out[..., 11:15])
    torch.testing.assert_close(p["rho"], torch.tanh(out[..., 23:27]))
    assert set(p) == {"pi_logits", "mu_x", "mu_y", "log_sigma_x", "log_sigma_y", "rho", "pen_logits"}
    assert head(torch.randn(5, 8)).shape == (5, 27)
    with pytest.raises(ValueError, match="expected 6\\*4\\+3"):
        head.split(torch.randn(2, 26))


def test_offset_loss_matches_torch_distributions():
    B, N, M = 5, 7, 4
    lengths = torch.tensor([7, 3, 1, 5, 0])
    p = random_params(B, N, M)
    target = random_target(B, N, lengths)
    offset, _ = reconstruction_loss(p, target, lengths, pen_mask_all=True)
    sx, sy, rho = p["log_sigma_x"].exp(), p["log_sigma_y"].exp(), p["rho"]
    cov = torch.stack([torch.stack([sx * sx, rho * sx * sy], -1), torch.stack([rho * sx * sy, sy * sy], -1)], -2)
    loc = torch.stack([p["mu_x"], p["mu_y"]], -1)
    gmm = MixtureSameFamily(Categorical(logits=p["pi_logits"]), MultivariateNormal(loc, covariance_matrix=cov))
    logp = gmm.log_prob(target[..., :2])  # [B, N]
    mask = torch.arange(N) < lengths[:, None]
    want = -(logp * mask).sum(1).mean()
    torch.testing.assert_close(offset, want, atol=1e-4, rtol=1e-5)
    # points after the end do not count: changing them changes nothing
    t2 = target.clone()
    t2[~mask] = t2[~mask] + torch.tensor([50.0, -50.0, 0, 0, 0])
    torch.testing.assert_close(reconstruction_loss(p, t2, lengths, True)[0], offset)


def test_offset_loss_is_finite_for_extreme_parameters():
    p = random_params(2, 3, 2)
    p["rho"] = torch.full_like(p["rho"], 1.0)  # tanh saturated
    p["log_sigma_x"] = torch.full_like(p["log_sigma_x"], -20.0)
    target = random_target(2, 3, torch.tensor([3, 3]))
    target[..., :2] = 1e3
    offset, pen = reconstruction_loss(p, target, torch.tensor([3, 3]), True)
    assert torch.isfinite(offset) and torch.isfinite(pen)


def test_pen_loss_matches_cross_entropy_with_mask():
    B, N, M = 4, 6, 3
    lengths = torch.tensor([6, 2, 4, 0])
    p = random_params(B, N, M, seed=3)
    target = random_target(B, N, lengths, seed=3)
    labels = target[..., 2:].argmax(-1)
    ce = F.cross_entropy(p["pen_logits"].reshape(-1, 3), labels.reshape(-1), reduction="none").view(B, N)
    mask = torch.arange(N) < lengths[:, None]
    _, pen_train = reconstruction_loss(p, target, lengths, pen_mask_all=True)
    _, pen_eval = reconstruction_loss(p, target, lengths, pen_mask_all=False)
    torch.testing.assert_close(pen_train, ce.sum(1).mean())
    torch.testing.assert_close(pen_eval, (ce * mask).sum(1).mean())
    assert pen_train > pen_eval  # the end-of-sketch steps count only in training


def test_reconstruction_loss_rejects_bad_input():
    p = random_params(2, 3, 2)
    t = random_target(2, 3, torch.tensor([3, 1]))
    with pytest.raises(ValueError, match="lengths"):
        reconstruction_loss(p, t, torch.tensor([4, 1]), True)
    with pytest.raises(ValueError, match="expected \\[B, N, 5\\]"):
        reconstruction_loss(p, t[..., :4], torch.tensor([3, 1]), True)
    with pytest.raises(ValueError, match="to match target"):
        reconstruction_loss(p, t[:, :2], torch.tensor([2, 1]), True)


# ---------------------------------------------------------------------------------------------
# sampling


def one_step_params(B: int, M: int, seed: int = 0) -> dict[str, torch.Tensor]:
    p = random_params(B, 1, M, seed)
    return {k: v[:, 0] for k, v in p.items()}


def test_greedy_sampling_is_deterministic_argmax():
    p = one_step_params(6, 5)
    a = sample_point(p, greedy=True)
    b = sample_point(p, 0.7, greedy=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    k = p["pi_logits"].argmax(-1)
    rows = torch.arange(6)
    torch.testing.assert_close(a[:, 0], p["mu_x"][rows, k])
    torch.testing.assert_close(a[:, 1], p["mu_y"][rows, k])
    torch.testing.assert_close(a[:, 2:], F.one_hot(p["pen_logits"].argmax(-1), 3).float())


def test_low_temperature_approaches_greedy_and_pen_is_one_hot():
    p = one_step_params(64, 5, seed=1)
    g = torch.Generator().manual_seed(0)
    greedy = sample_point(p, greedy=True)
    cold = sample_point(p, 1e-4, generator=g)
    # same component as greedy; the offset within a few tau * sigma of its means
    sigma = torch.stack([p["log_sigma_x"], p["log_sigma_y"]], -1).exp().amax((1, 2))
    assert bool(((cold[:, :2] - greedy[:, :2]).abs().amax(1) < 6e-4 * sigma).all())
    assert torch.equal(cold[:, 2:], greedy[:, 2:])
    hot = sample_point(p, 1.0, generator=g)
    assert (hot[:, :2] - greedy[:, :2]).abs().max() > 0.1
    for s in (cold, hot):
        assert torch.equal(s[:, 2:].sum(1), torch.ones(64)) and set(s[:, 2:].unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="temperature"):
        sample_point(p, 0.0)


def test_temperature_scales_the_standard_deviation():
    n, tau, sx, sy, rho = 40000, 0.3, 0.5, 2.0, 0.6
    p = dict(
        pi_logits=torch.zeros(n, 1), mu_x=torch.full((n, 1), 1.0), mu_y=torch.full((n, 1), -2.0),
        log_sigma_x=torch.full((n, 1), math.log(sx)), log_sigma_y=torch.full((n, 1), math.log(sy)),
        rho=torch.full((n, 1), rho), pen_logits=torch.tensor([[2.0, 0.0, -1.0]]).expand(n, 3),
    )
    s = sample_point(p, tau, generator=torch.Generator().manual_seed(0))
    dx, dy = s[:, 0], s[:, 1]
    assert abs(dx.std().item() - sx * tau) < 0.03 * sx * tau
    assert abs(dy.std().item() - sy * tau) < 0.03 * sy * tau
    assert abs(dx.mean().item() - 1.0) < 0.01 and abs(dy.mean().item() + 2.0) < 0.02
    assert abs(torch.corrcoef(torch.stack([dx, dy]))[0, 1].item() - rho) < 0.02
    # pen probabilities sharpened: softmax(logits / tau)
    freq = s[:, 2:].mean(0)
    torch.testing.assert_close(freq, torch.softmax(torch.tensor([2.0, 0.0, -1.0]) / tau, 0), atol=0.01, rtol=0)


# ---------------------------------------------------------------------------------------------
# the decoder


def test_sketch_decoder_shapes_step_and_generate():
    torch.manual_seed(0)
    dec = SketchDecoder(6, "hyper", hidden_size=16, hyper_size=8, embed_size=4, num_mixture=3).eval()
    perturb(dec)
    B, N = 3, 5
    lengths = torch.tensor([5, 2, 4])
    s5 = torch.cat([torch.tensor([[[0.0, 0, 1, 0, 0]]]).expand(B, 1, 5), random_target(B, N, lengths)], 1)
    z = torch.randn(B, 6)
    p = dec(s5, z)
    assert p["pi_logits"].shape == (B, N, 3) and p["pen_logits"].shape == (B, N, 3)
    loss = dec.loss(s5, lengths, z)
    assert set(loss) == {"offset", "pen"} and loss["offset"].dim() == 0
    # teacher forcing equals stepping with the true previous points
    state = dec.init_state(z)
    for t in range(N):
        q, state = dec.step(s5[:, t], z, state)
        for k in p:
            torch.testing.assert_close(q[k], p[k][:, t], atol=1e-5, rtol=1e-4)
    # generation: stroke-5 batch layout, lengths at the first p_end, greedy is deterministic
    out, L = dec.generate(z, 12, greedy=True)
    out2, L2 = dec.generate(z, 12, greedy=True)
    assert torch.equal(out, out2) and torch.equal(L, L2)
    assert out.shape == (B, 13, 5) and torch.equal(out[:, 0], torch.tensor([0.0, 0, 1, 0, 0]).expand(B, 5))
    for b in range(B):
        n = int(L[b])
        assert bool((out[b, 1 : n + 1, 4] == 0).all()) and bool((out[b, n + 1 :, 4] == 1).all())
        assert torch.equal(out[b, 1:, 2:].sum(1), torch.ones(12))
    out3, _ = dec.generate(z, 12, temperature=0.5, generator=torch.Generator().manual_seed(1))
    assert out3.shape == (B, 13, 5)
    with pytest.raises(ValueError, match="expected \\[B, 6\\]"):
        dec.init_state(torch.randn(3, 5))


def test_generate_continues_a_prefix_as_if_it_had_drawn_it():
    """Completion is generation from a prefix: a greedy sketch's own first k points, given as a prefix,
    lead to the same sketch (the prefix is read teacher-forced by the fused sequence path, the rest
    stepped); the prefix rows are kept, and lengths count them."""
    torch.manual_seed(0)
    dec = SketchDecoder(6, "hyper", hidden_size=16, hyper_size=8, embed_size=4, num_mixture=3).double().eval()
    perturb(dec)
    with torch.no_grad():
        dec.head.linear.bias[2] -= 3.0  # p_end less likely: sketches longer than the prefixes
    z = torch.randn(4, 6, dtype=torch.float64)
    full, L = dec.generate(z, 20, greedy=True)
    assert full.dtype == torch.float64 and bool((L > 7).all()), L
    for k in (1, 3, 7):
        out, L2 = dec.generate(z, 20, greedy=True, prefix=full[:, 1 : k + 1])
        torch.testing.assert_close(out, full)
        assert torch.equal(L2, L)
    # one prefix for the whole batch (broadcast), sampled continuations keep it in rows 1..k
    prefix = full[:1, 1:4]
    out, L3 = dec.generate(z, 20, temperature=0.5, generator=torch.Generator().manual_seed(0), prefix=prefix)
    assert torch.equal(out[:, 1:4], prefix.expand(4, -1, -1)) and bool((L3 >= 3).all())
    # one prefix and one code for the batch (n continuations of one drawing): the prefix is read once and
    # the state shared; each row is the single-row greedy sketch
    one = z[:1].expand(3, -1)
    out, L4 = dec.generate(one, 20, greedy=True, prefix=full[:1, 1:5])
    torch.testing.assert_close(out, full[:1].expand(3, -1, -1))
    assert torch.equal(L4, L[:1].expand(3))
    with pytest.raises(ValueError, match="prefix"):
        dec.generate(z, 20, prefix=full[:2, 1:4])


def load_pig_stroke5(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The n shortest sketches of the real pig test split, normalised by their offset std, as stroke-5."""
    sketches = np.load(PIG, allow_pickle=True, encoding="latin1")["sketches"]
    order = np.argsort([len(s) for s in sketches], kind="stable")[:n]
    chosen = [sketches[i].astype(np.float32) for i in order]
    std = np.concatenate([s[:, :2].ravel() for s in chosen]).std()
    for s in chosen:
        s[:, :2] /= std
    s5, lengths = to_stroke5(chosen, max(len(s) for s in chosen))
    return torch.from_numpy(s5), torch.from_numpy(lengths)


@pytest.mark.skipif(not PIG.exists(), reason="real QuickDraw pig data not available")
def test_small_decoder_overfits_eight_real_sketches():
    torch.manual_seed(0)
    s5, lengths = load_pig_stroke5(8)
    z = torch.randn(8, 16)  # a fixed random code per sketch
    dec = SketchDecoder(16, "hyper", hidden_size=128, hyper_size=16, embed_size=8, num_mixture=5, dropout_keep=1.0)
    opt = torch.optim.Adam(dec.parameters(), lr=5e-3)
    history = []
    for _ in range(250):
        loss = dec.loss(s5, lengths, z)
        opt.zero_grad()
        (loss["offset"] + loss["pen"]).backward()
        opt.step()
        history.append((loss["offset"].item(), loss["pen"].item()))
    first = history[0]
    last = np.mean(history[-10:], axis=0)
    points = lengths.float().mean().item()
    assert last[1] < first[1] / 4, (first, last)  # pen cross-entropy
    assert last[0] < first[0] - 2.0 * points, (first, last)  # offset NLL: at least 2 nats per point better
