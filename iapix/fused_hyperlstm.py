"""The fast path of the HyperLSTM: a whole teacher-forced sequence as one autograd Function (method §2).

:class:`iapix.decoder.HyperLSTMCell` is written to be read: ``_recur`` is one step in plain tensor code, and
autograd differentiates it. Training spends most of its decoder time in that loop, so ``HyperLSTMCell.forward`` runs
the same computation through :func:`fused_sequence` when ``cell.fused`` is True (the default; the one switch) and
neither autocast nor ``compile_step`` is on.

``_FusedHyperLSTM`` has a hand-written backward through time: no per-op autograd graph, layer norms through
``native_layer_norm(_backward)``, activations written in place, weight gradients accumulated with
``addmm_``/``baddbmm_``, tensors saved per step (one big ``[T, ...]`` buffer would be mapped afresh by the allocator
on every call), and ``tanh`` computed as ``2 sigmoid(2x) - 1`` (faster than ``torch.tanh`` on the CPUs tried). Its
values and gradients equal those of ``_recur`` (a float64 comparison and ``gradcheck`` in ``tests/test_decoder.py``).
Under bf16 autocast the cell keeps the autograd path, which autocast handles op by op. No double backward.

What it buys, and the floor that the hyper cell's extra matrix products set on its ratio to ``torch.nn.LSTM``:
``python benchmarks/decoder.py``; the numbers are in docs/benchmarks.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

from iapix.cell_constants import FORGET_BIAS, LN_EPS

_sigmoid_bwd = torch.ops.aten.sigmoid_backward
_tanh_bwd = torch.ops.aten.tanh_backward
_ln_bwd = torch.ops.aten.native_layer_norm_backward
_CORE_SAVED = 9  # tensors _core_forward keeps for _core_backward


def _tanh_(x: Tensor, doubled: bool = False) -> Tensor:
    """In-place ``tanh(x) = 2 sigmoid(2x) - 1`` (``x`` already doubled if ``doubled``): on the CPUs
    tried here ``torch.tanh`` is several times slower than ``torch.sigmoid``."""
    return (x if doubled else x.mul_(2.0)).sigmoid_().mul_(2.0).sub_(1.0)


def _core_forward(
    P: Tensor, gate_dim: int, gamma: Tensor, beta: Tensor, c_prev: Tensor, ln_c: tuple[Tensor, Tensor],
    mask: Tensor | None,
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Layer-norm LSTM update from gate pre-activations ``P`` (gates on ``gate_dim``, LN over the last dim).

    Returns ``(h, c, saved)``; ``saved = [P, N, mean, rstd, act, c, mean_c, rstd_c, ty]`` (N = LN(P)) with
    ``act`` [4, B, H] = (sigmoid(i), tanh(g) unmasked, sigmoid(f + 1), sigmoid(o)), ``ty = tanh(LN(c))``.
    """
    H = P.shape[-1]
    N, mean, rstd = torch.native_layer_norm(P, [H], None, None, LN_EPS)
    i, g, f, o = torch.addcmul(beta, N, gamma).unbind(gate_dim)
    act = P.new_empty(4, *i.shape)
    torch.sigmoid(i, out=act[0])
    _tanh_(torch.mul(g, 2.0, out=act[1]), doubled=True)
    torch.sigmoid(f.add_(FORGET_BIAS), out=act[2])
    torch.sigmoid(o, out=act[3])
    c = torch.addcmul(c_prev * act[2], act[0] if mask is None else act[0] * mask, act[1])
    y, mean_c, rstd_c = torch.native_layer_norm(c, [H], ln_c[0], ln_c[1], LN_EPS)
    ty = _tanh_(y)
    return ty * act[3], c, [P, N, mean, rstd, act, c, mean_c, rstd_c, ty]


def _core_backward(
    dh: Tensor, dc: Tensor, saved: list[Tensor], gate_dim: int, gamma: Tensor, c_prev: Tensor,
    ln_c: tuple[Tensor, Tensor], mask: Tensor | None, acc: tuple[Tensor, ...],
) -> tuple[Tensor, Tensor]:
    """Backward of ``_core_forward``. dh, dc [B, H]: gradients w.r.t. its new h and c.

    Returns ``(dP, dc_prev)``. Adds into ``acc`` = (dG * N and dG, summed over the batch at the end
    into d gamma and d beta; d gamma and d beta of LN(c)).
    """
    P, N, mean, rstd, act, c, mean_c, rstd_c, ty = saved
    H = P.shape[-1]
    ig, gt, fg, og = act.unbind(0)
    dy = _tanh_bwd(dh * og, ty)
    dc_y, dgc, dbc = _ln_bwd(dy, c, [H], mean_c, rstd_c, ln_c[0], ln_c[1], [True, True, True])
    acc[2].add_(dgc)
    acc[3].add_(dbc)
    dc = dc_y.add_(dc)
    dG = torch.empty_like(P)
    dGi, dGg, dGf, dGo = dG.unbind(gate_dim)
    _sigmoid_bwd.grad_input(dc * (gt if mask is None else gt * mask), ig, grad_input=dGi)
    _tanh_bwd.grad_input(dc * (ig if mask is None else ig * mask), gt, grad_input=dGg)
    _sigmoid_bwd.grad_input(dc * c_prev, fg, grad_input=dGf)
    _sigmoid_bwd.grad_input(dh * ty, og, grad_input=dGo)
    acc[0].addcmul_(dG, N)
    acc[1].add_(dG)
    dP = _ln_bwd(dG.mul_(gamma), P, [H], mean, rstd, None, None, [True, False, False])[0]
    return dP, dc.mul_(fg)


class _FusedHyperLSTM(torch.autograd.Function):
    """HyperLSTM over a whole sequence; inputs time-major. ``HyperLSTMCell._recur`` is the same
    computation written step by step with autograd (the tests compare the two)."""

    @staticmethod
    def forward(ctx, xw, xh, masks, h0, hh0, c0, hc0, w_hh, w_hyh, hg, hb, hcg, hcb, wz, bz, wa, bias, g, b, cg, cb):
        T, B, _ = xw.shape
        H, Hh, E = h0.shape[1], hh0.shape[1], wa.shape[1]
        bz_full = torch.cat([bz, bz.new_zeros(4 * E)])
        g4, b4, bias4 = g.view(4, 1, H), b.view(4, 1, H), bias.view(4, 1, H)
        h, hh, c, hc = h0, hh0, c0, hc0
        hs, saved = [], []
        for t in range(T):
            step = [h, hh, c, hc]
            A = h @ w_hh  # [B, 4H + 4Hh]: main W_h h and the hyper cell's h-part
            ph = torch.add(xh[t], A[:, 4 * H :]).addmm_(hh, w_hyh).view(B, 4, Hh)
            hh, hc, sv_h = _core_forward(ph, 1, hg, hb, hc, (hcg, hcb), None)
            Z = torch.addmm(bz_full, hh, wz)  # [B, 12E]
            zt = Z.view(B, 12, E).transpose(0, 1)
            S = torch.bmm(zt[:8], wa[:8])  # [8, B, H]: scales of W_x x, W_h h
            P = torch.baddbmm(bias4, zt[8:], wa[8:])  # beta + b, [4, B, H]
            P.addcmul_(S[:4], xw[t].view(B, 4, H).transpose(0, 1))
            P.addcmul_(S[4:], A[:, : 4 * H].view(B, 4, H).transpose(0, 1))
            h, c, sv = _core_forward(P, 0, g4, b4, c, (cg, cb), None if masks is None else masks[t])
            hs.append(h)
            saved += step + [A, Z, S, hh] + sv_h + sv
        ctx.T = T
        # saved tensors (unlike ctx attributes) are freed as soon as backward has run
        ctx.save_for_backward(xw, masks, w_hh, w_hyh, hg, hcg, hcb, wz, wa, g4, cg, cb, *saved)
        return torch.stack(hs, 1), hh, c, hc  # [B, T, H]

    @staticmethod
    def backward(ctx, d_hs, d_hhT, d_cT, d_hcT):
        xw, masks, w_hh, w_hyh, hg, hcg, hcb, wz, wa, g4, cg, cb, *saved = ctx.saved_tensors
        T, n = ctx.T, len(saved) // ctx.T
        B, H = xw.shape[1], g4.shape[-1]
        Hh, E = w_hyh.shape[0], wa.shape[1]
        zeros = xw.new_zeros
        dh = zeros(B, H)
        dhh = zeros(B, Hh) if d_hhT is None else d_hhT.clone()
        dc = zeros(B, H) if d_cT is None else d_cT.clone()
        dhc = zeros(B, Hh) if d_hcT is None else d_hcT.clone()
        dxw, dxh = xw.new_empty(xw.shape), xw.new_empty(T, B, 4 * Hh)
        d_w_hh, d_w_hyh, d_wz, d_wa = (torch.zeros_like(w) for w in (w_hh, w_hyh, wz, wa))
        d_bz = zeros(12 * E)
        acc = (zeros(4, B, H), zeros(4, B, H), zeros(H), zeros(H))
        acch = (zeros(B, 4, Hh), zeros(B, 4, Hh), zeros(Hh), zeros(Hh))
        acc_dP = zeros(4, B, H)  # for the static bias b
        wa_t = wa.transpose(1, 2)
        for t in range(T - 1, -1, -1):
            h_prev, hh_prev, c_prev, hc_prev, A, Z, S, hh, *sv = saved[t * n : (t + 1) * n]
            sv_h, sv = sv[:_CORE_SAVED], sv[_CORE_SAVED:]
            if d_hs is not None:
                dh = dh + d_hs[:, t]
            # main cell
            dP, dc = _core_backward(dh, dc, sv, 0, g4, c_prev, (cg, cb), None if masks is None else masks[t], acc)
            dA = torch.empty_like(A)
            dS = xw.new_empty(12, B, H)
            torch.mul(dP, S[:4], out=dxw[t].view(B, 4, H).transpose(0, 1))
            torch.mul(dP, S[4:], out=dA[:, : 4 * H].view(B, 4, H).transpose(0, 1))
            torch.mul(dP, xw[t].view(B, 4, H).transpose(0, 1), out=dS[:4])
            torch.mul(dP, A[:, : 4 * H].view(B, 4, H).transpose(0, 1), out=dS[4:8])
            dS[8:].copy_(dP)
            acc_dP.add_(dP)
            # embeddings
            dZ = torch.bmm(dS, wa_t).transpose(0, 1).reshape(B, 12 * E)
            d_wa.baddbmm_(Z.view(B, 12, E).permute(1, 2, 0), dS)
            d_wz.addmm_(hh.t(), dZ)
            d_bz.add_(dZ.sum(0))
            dhh = dhh.addmm_(dZ, wz.t())
            # hyper cell
            dPh, dhc = _core_backward(dhh, dhc, sv_h, 1, hg, hc_prev, (hcg, hcb), None, acch)
            dPh = dPh.view(B, 4 * Hh)
            dxh[t].copy_(dPh)
            dA[:, 4 * H :].copy_(dPh)
            d_w_hyh.addmm_(hh_prev.t(), dPh)
            d_w_hh.addmm_(h_prev.t(), dA)
            dhh = dPh @ w_hyh.t()
            dh = dA @ w_hh.t()
        return (
            dxw, dxh, None, dh, dhh, dc, dhc, d_w_hh, d_w_hyh, acch[0].sum(0), acch[1].sum(0), acch[2], acch[3],
            d_wz, d_bz[: 8 * E], d_wa, acc_dP.sum(1).reshape(4 * H), acc[0].sum(1), acc[1].sum(1), acc[2], acc[3],
        )


def fused_sequence(*args: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``_FusedHyperLSTM.apply``: time-major inputs and the cell's parameters -> (h [B, T, H], hh, c, hc)."""
    return _FusedHyperLSTM.apply(*args)
