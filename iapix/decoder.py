"""The RNN decoder (the Ying path): recurrent cells, mixture-density head, reconstruction loss, generation.

:class:`SketchDecoder` turns a code ``z`` into stroke-5 points (method §2): the initial state is ``tanh(W z + b)``
(the whole flattened state of the cell), the input at step t is ``[point t-1, z]``, and :class:`MDNHead` maps
``h_t`` linearly to ``6M + 3`` numbers in sketch-rnn's layout ``[pen(3), pi(M), mu_x(M), mu_y(M), log sigma_x(M),
log sigma_y(M), rho before tanh(M)]``. Three cells share one interface (``forward`` over a teacher-forced sequence,
``step`` for generation): :class:`LSTMCell`; :class:`LayerNormLSTMCell` (each gate layer-normalised on its own,
``h = tanh(LN(c)) * sigmoid(o)``, ``c`` itself un-normalised); and :class:`HyperLSTMCell` (the paper's default),
whose gates a small layer-norm LSTM reading ``[x_t, h_{t-1}]`` scales and shifts at every step::

    pre_k = alpha_x,k(t) * (W_x x_t)_k + alpha_h,k(t) * (W_h h_{t-1})_k + beta_k(t) + b_k,    gate_k = LN_k(pre_k)

``alpha`` and ``beta`` are linear embeddings of the hyper cell's output; every scale starts at exactly 0.1 and every
``beta`` at 0, so the initial HyperLSTM is exactly a layer-norm LSTM. As in sketch-rnn (method §7 "HyperLSTM"): gate
order ``i, g, f, o``, forget bias 1.0, orthogonal recurrent blocks, Glorot-uniform input weights, layer-norm epsilon
1e-3, recurrent dropout (keep 0.9) on the candidate ``g`` only with a fresh mask at every step, state
``[h, h_hyper, c, c_hyper]``. ``W_x x_t`` for all t and the twelve per-gate embeddings are one matrix product each.
A teacher-forced sequence runs through :mod:`iapix.fused_hyperlstm` when ``cell.fused`` is True and neither
autocast nor ``compile_step`` is on, otherwise through the readable per-step ``_recur``, which generation steps
through; ``compile_step`` compiles that one step, never the unrolled loop.

:func:`reconstruction_loss`: ``-log sum_j pi_j N(dx, dy | j)`` over the real points plus the pen cross-entropy (over
every padded step in training, the real points only when evaluating), summed over time and averaged over the batch.
:func:`sample_point` (method §5): temperature ``tau`` divides the mixture and pen logits and multiplies the standard
deviations; greedy takes the arg-max component, its means and the arg-max pen state.

Departures: the offset loss is the exact log-sum-exp in float32 with ``1 - rho^2`` floored at ``RHO_EPS``, where
the reference adds 1e-6 inside the log, which caps a point's loss near 13.8 nats and starves badly fitted points of
gradient (method §7 "offset loss"); the ``z -> state`` layer starts at ``N(0, 0.001^2)``, sketch-rnn's choice, not
the reference's ``N(0, 2 / z_dim)`` (method §7 "weight init").
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from iapix.cell_constants import FORGET_BIAS, LN_EPS
from iapix.fused_hyperlstm import fused_sequence

HYPER_INIT_SCALE = 0.1  # initial value of every hyper scale (sketch-rnn's init_gamma)
RHO_EPS = 1e-6  # floor of 1 - rho^2 in the bivariate normal density
DEFAULT_TEMPERATURE = 0.24  # the papers' sampling temperature tau (method §5)
LOG_2PI = math.log(2.0 * math.pi)

State = tuple[Tensor, ...]


# ---------------------------------------------------------------------------------------------
# building blocks shared by the cells


def _orthogonal_blocks(rows: int, cols: int, blocks: int) -> Tensor:
    """[rows, blocks * cols] with each [rows, cols] column block an orthogonal matrix."""
    w = torch.empty(rows, blocks * cols)
    for k in range(blocks):
        nn.init.orthogonal_(w[:, k * cols : (k + 1) * cols])
    return w


def _glorot(rows: int, cols: int) -> Tensor:
    w = torch.empty(rows, cols)
    nn.init.xavier_uniform_(w)
    return w


def _ln_gates(pre: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Layer-normalise each gate block on its own: ``pre`` [..., H] with the gate on another axis.

    ``gamma``, ``beta`` broadcast against ``pre`` ([4, H] for [B, 4, H], [4, 1, H] for [4, B, H]).
    """
    normed = F.layer_norm(pre, (pre.shape[-1],), eps=LN_EPS)
    return torch.addcmul(beta, normed, gamma)


def _lstm_update(
    gates: tuple[Tensor, ...], c: Tensor, mask: Tensor | None, ln_c: tuple[Tensor, Tensor] | None
) -> tuple[Tensor, Tensor]:
    """One LSTM state update from the gate pre-activations ``(i, g, f, o)``, each [B, H].

    ``mask`` [B, H]: recurrent-dropout mask (already divided by keep) applied to ``g`` only.
    ``ln_c``: (gamma, beta) [H] of the layer norm used inside the output tanh, or None.
    Returns ``(h, c)`` [B, H] each.
    """
    i, g, f, o = gates
    g = torch.tanh(g)
    if mask is not None:
        g = g * mask
    c = torch.addcmul(c * torch.sigmoid(f + FORGET_BIAS), torch.sigmoid(i), g)
    hc = c if ln_c is None else F.layer_norm(c, (c.shape[-1],), ln_c[0], ln_c[1], eps=LN_EPS)
    h = torch.tanh(hc) * torch.sigmoid(o)
    return h, c


class _RecurrentCell(nn.Module):
    """Shared driver: a per-forward input projection, then a Python loop over ``_recur``.

    Subclasses define ``_project`` (time-major input projections, one matrix product each) and
    ``_recur`` (one step from the projected input); a cell whose state is not ``[h, c]`` also
    overrides ``state_size`` and ``_split``.
    """

    input_size: int
    hidden_size: int
    dropout_keep: float

    def __init__(self) -> None:
        super().__init__()
        self._recur_fn: Callable[..., tuple[Tensor, State]] = self._recur

    # -- to be defined by subclasses (the defaults fit a plain ``[h, c]`` state) ----------------
    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def _project(self, x_tm: Tensor) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def _recur(self, pre: tuple[Tensor, ...], state: State, mask: Tensor | None) -> tuple[Tensor, State]:
        raise NotImplementedError

    def _split(self, state: Tensor) -> State:
        return tuple(state.split(self.hidden_size, 1))  # h, c

    # -- shared --------------------------------------------------------------------------------
    def compile_step(self, **kwargs) -> _RecurrentCell:
        """Wrap the per-step function in ``torch.compile(**kwargs)``; returns self."""
        self._recur_fn = torch.compile(self._recur, **kwargs)
        return self

    def zero_state(self, batch: int, device=None, dtype=None) -> Tensor:
        return torch.zeros(batch, self.state_size, device=device, dtype=dtype)

    def _check(self, x: Tensor, state: Tensor | None, ndim: int) -> Tensor:
        if x.dim() != ndim or x.shape[-1] != self.input_size:
            want = "[B, T, %d]" % self.input_size if ndim == 3 else "[B, %d]" % self.input_size
            raise ValueError(f"{type(self).__name__}: input x has shape {tuple(x.shape)}, expected {want}")
        if state is None:
            return self.zero_state(x.shape[0], x.device, x.dtype)
        if state.dim() != 2 or state.shape != (x.shape[0], self.state_size):
            raise ValueError(
                f"{type(self).__name__}: state has shape {tuple(state.shape)}, "
                f"expected [{x.shape[0]}, {self.state_size}] (batch, state_size)"
            )
        return state

    def _set_sizes(self, input_size: int, hidden_size: int, dropout_keep: float) -> None:
        if input_size < 1 or hidden_size < 1:
            name = type(self).__name__
            raise ValueError(f"{name}: input_size={input_size}, hidden_size={hidden_size}: expected >= 1")
        if not 0.0 <= dropout_keep <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout_keep={dropout_keep}: expected a probability in [0, 1]")
        self.input_size, self.hidden_size, self.dropout_keep = input_size, hidden_size, dropout_keep

    def _masks(self, steps: int, batch: int, like: Tensor) -> Tensor | None:
        """Fresh recurrent-dropout masks [steps, B, H] scaled by 1/keep, or None (eval / keep=1)."""
        if not self.training or self.dropout_keep >= 1.0:
            return None
        keep = self.dropout_keep
        m = torch.empty(steps, batch, self.hidden_size, device=like.device, dtype=like.dtype)
        return m.bernoulli_(keep).div_(keep) if keep > 0 else m.zero_()

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Teacher-forced sequence. x [B, T, in], state [B, state_size] (None: zeros).

        Returns ``(h [B, T, H], final state [B, state_size])``.
        """
        state = self._check(x, state, 3)
        B, T, _ = x.shape
        pre = [p.unbind(0) for p in self._project(x.transpose(0, 1))]  # each: T tensors
        masks = self._masks(T, B, x)
        parts = self._split(state)
        hs = []
        for t in range(T):
            h, parts = self._recur_fn(tuple(p[t] for p in pre), parts, None if masks is None else masks[t])
            hs.append(h)
        return torch.stack(hs, 1), torch.cat(parts, 1)

    def step(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step for generation. x [B, in], state [B, state_size] -> (h [B, H], state)."""
        state = self._check(x, state, 2)
        pre = tuple(p[0] for p in self._project(x.unsqueeze(0)))
        masks = self._masks(1, x.shape[0], x)
        h, parts = self._recur_fn(pre, self._split(state), None if masks is None else masks[0])
        return h, torch.cat(parts, 1)


# ---------------------------------------------------------------------------------------------
# the three cells


class LSTMCell(_RecurrentCell):
    """Plain LSTM: ``[i, g, f, o] = W_x x + W_h h + b``; state ``[h, c]`` (2H)."""

    def __init__(self, input_size: int, hidden_size: int, dropout_keep: float = 0.9) -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, dropout_keep)
        self.weight_x = nn.Parameter(_glorot(input_size, 4 * hidden_size))
        self.weight_h = nn.Parameter(_orthogonal_blocks(hidden_size, hidden_size, 4))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size))

    def _project(self, x_tm: Tensor) -> tuple[Tensor, ...]:
        return (torch.addmm(self.bias, x_tm.flatten(0, 1), self.weight_x).view(*x_tm.shape[:2], -1),)

    def _recur(self, pre: tuple[Tensor, ...], state: State, mask: Tensor | None) -> tuple[Tensor, State]:
        h, c = state
        gates = torch.addmm(pre[0], h, self.weight_h)
        h, c = _lstm_update(gates.view(h.shape[0], 4, -1).unbind(1), c, mask, None)
        return h, (h, c)


class LayerNormLSTMCell(_RecurrentCell):
    """Layer-norm LSTM: each gate LN'd on its own, ``h = tanh(LN(c)) * sigmoid(o)``; state ``[h, c]``."""

    def __init__(self, input_size: int, hidden_size: int, dropout_keep: float = 0.9) -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, dropout_keep)
        H = hidden_size
        self.weight_x = nn.Parameter(_glorot(input_size, 4 * H))
        self.weight_h = nn.Parameter(_orthogonal_blocks(H, H, 4))
        self.ln_gamma = nn.Parameter(torch.ones(4, H))
        self.ln_beta = nn.Parameter(torch.zeros(4, H))
        self.ln_c_gamma = nn.Parameter(torch.ones(H))
        self.ln_c_beta = nn.Parameter(torch.zeros(H))

    def _project(self, x_tm: Tensor) -> tuple[Tensor, ...]:
        return (x_tm @ self.weight_x,)

    def _recur(self, pre: tuple[Tensor, ...], state: State, mask: Tensor | None) -> tuple[Tensor, State]:
        h, c = state
        pre_h = torch.addmm(pre[0], h, self.weight_h).view(h.shape[0], 4, -1)
        gates = _ln_gates(pre_h, self.ln_gamma, self.ln_beta)
        h, c = _lstm_update(gates.unbind(1), c, mask, (self.ln_c_gamma, self.ln_c_beta))
        return h, (h, c)


class HyperLSTMCell(_RecurrentCell):
    """Layer-norm HyperLSTM (Ha et al. 2016, sketch-rnn's ``HyperLSTMCell``); see the module docstring.

    State ``[h, h_hyper, c, c_hyper]``: ``2 * (hidden_size + hyper_size)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        hyper_size: int = 256,
        embed_size: int = 32,
        dropout_keep: float = 0.9,
    ) -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, dropout_keep)
        self.hyper_size, self.embed_size = hyper_size, embed_size
        H, Hh, E = hidden_size, hyper_size, embed_size
        # main cell
        self.weight_x = nn.Parameter(_glorot(input_size, 4 * H))
        self.bias = nn.Parameter(torch.zeros(4 * H))
        self.ln_gamma = nn.Parameter(torch.ones(4, H))
        self.ln_beta = nn.Parameter(torch.zeros(4, H))
        self.ln_c_gamma = nn.Parameter(torch.ones(H))
        self.ln_c_beta = nn.Parameter(torch.zeros(H))
        # hyper cell: a layer-norm LSTM reading [x, h]; its input matrix [in + H, 4Hh] (Glorot) is
        # stored in two parts: rows for x in hyper_weight_x, rows for h in weight_hh[:, 4H:]
        w_in = _glorot(input_size + H, 4 * Hh)
        self.hyper_weight_x = nn.Parameter(w_in[:input_size].clone())
        self.weight_hh = nn.Parameter(torch.cat([_orthogonal_blocks(H, H, 4), w_in[input_size:]], 1))
        self.hyper_weight_h = nn.Parameter(_orthogonal_blocks(Hh, Hh, 4))
        self.hyper_ln_gamma = nn.Parameter(torch.ones(4, Hh))
        self.hyper_ln_beta = nn.Parameter(torch.zeros(4, Hh))
        self.hyper_ln_c_gamma = nn.Parameter(torch.ones(Hh))
        self.hyper_ln_c_beta = nn.Parameter(torch.zeros(Hh))
        # embeddings, rows (blocks of E) ordered [scale_x (i,g,f,o), scale_h (i,g,f,o), bias (i,g,f,o)]
        wz = torch.zeros(Hh, 12 * E)
        nn.init.normal_(wz[:, 8 * E :], std=0.01)
        self.embed_weight = nn.Parameter(wz)
        self.embed_bias = nn.Parameter(torch.ones(8 * E))  # the bias embeddings have none
        wa = torch.full((12, E, H), HYPER_INIT_SCALE / E)
        wa[8:] = 0.0
        self.embed_out = nn.Parameter(wa)
        self.fused = True  # forward through iapix.fused_hyperlstm (False: the step-by-step autograd path)

    @property
    def state_size(self) -> int:
        return 2 * (self.hidden_size + self.hyper_size)

    def _split(self, state: Tensor) -> State:
        H, Hh = self.hidden_size, self.hyper_size
        return tuple(state.split([H, Hh, H, Hh], 1))  # h, h_hyper, c, c_hyper

    def _project(self, x_tm: Tensor) -> tuple[Tensor, ...]:
        return x_tm @ self.weight_x, x_tm @ self.hyper_weight_x

    def hyper_embeddings(self, hyper_h: Tensor) -> Tensor:
        """Per-gate modulation from the hyper cell's output [B, Hh] -> [3, 4, B, H].

        ``out[0]``: scales of ``W_x x``, ``out[1]``: scales of ``W_h h``, ``out[2]``: biases
        ``beta`` (without the static bias ``self.bias``); the second axis is the gate (i, g, f, o).
        """
        return self._embed(hyper_h, None)

    def _embed(self, hyper_h: Tensor, static_bias: Tensor | None) -> Tensor:
        E, H = self.embed_size, self.hidden_size
        z_bias = torch.cat([self.embed_bias, self.embed_bias.new_zeros(4 * E)])
        z = torch.addmm(z_bias, hyper_h, self.embed_weight).view(-1, 12, E).transpose(0, 1)  # [12, B, E]
        if static_bias is None:
            out = torch.bmm(z, self.embed_out)
        else:  # add b to the beta blocks inside the batched product
            b = torch.cat([static_bias.new_zeros(8, 1, H), static_bias.view(4, 1, H)])
            out = torch.baddbmm(b, z, self.embed_out)
        return out.view(3, 4, hyper_h.shape[0], H)  # [12, B, H] -> [3, 4, B, H]

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Teacher-forced sequence. x [B, T, in], state [B, state_size] (None: zeros).

        Returns ``(h [B, T, H], final state [B, state_size])``. Uses the fused sequence function
        (hand-written backward through time) unless ``self.fused`` is False, autocast is on, or
        ``compile_step`` was called; then the step-by-step autograd path of the base class.
        """
        if not self.fused or self._recur_fn != self._recur or torch.is_autocast_enabled(x.device.type):
            return super().forward(x, state)
        state = self._check(x, state, 3)
        B, T, _ = x.shape
        xw, xh = self._project(x.transpose(0, 1))
        h, hh, c, hc = self._split(state)
        hs, hh, c, hc = fused_sequence(
            xw, xh, self._masks(T, B, x), h, hh, c, hc, self.weight_hh, self.hyper_weight_h,
            self.hyper_ln_gamma, self.hyper_ln_beta, self.hyper_ln_c_gamma, self.hyper_ln_c_beta,
            self.embed_weight, self.embed_bias, self.embed_out, self.bias, self.ln_gamma, self.ln_beta,
            self.ln_c_gamma, self.ln_c_beta,
        )
        return hs, torch.cat([hs[:, -1], hh, c, hc], 1)

    def _recur(self, pre: tuple[Tensor, ...], state: State, mask: Tensor | None) -> tuple[Tensor, State]:
        xw, xw_hyper = pre
        h, hh, c, hc = state
        B, H = h.shape
        hw_all = h @ self.weight_hh  # [B, 4H + 4Hh]: main W_h h and the hyper cell's h-part
        # hyper cell (layer-norm LSTM, no dropout)
        hyper_pre = torch.addmm(xw_hyper + hw_all[:, 4 * H :], hh, self.hyper_weight_h).view(B, 4, -1)
        hyper_gates = _ln_gates(hyper_pre, self.hyper_ln_gamma, self.hyper_ln_beta).unbind(1)
        hh, hc = _lstm_update(hyper_gates, hc, None, (self.hyper_ln_c_gamma, self.hyper_ln_c_beta))
        # main cell, modulated gate by gate, in gate-major layout [4, B, H]
        scale_x, scale_h, beta = self._embed(hh, self.bias).unbind(0)
        xw = xw.view(B, 4, H).transpose(0, 1)
        hw = hw_all[:, : 4 * H].view(B, 4, H).transpose(0, 1)
        gates_pre = torch.addcmul(torch.addcmul(beta, scale_x, xw), scale_h, hw)
        gates = _ln_gates(gates_pre, self.ln_gamma.view(4, 1, H), self.ln_beta.view(4, 1, H))
        h, c = _lstm_update(gates.unbind(0), c, mask, (self.ln_c_gamma, self.ln_c_beta))
        return h, (h, hh, c, hc)


CELLS = {"lstm": LSTMCell, "layernorm": LayerNormLSTMCell, "hyper": HyperLSTMCell}


def make_cell(
    cell: str, input_size: int, hidden_size: int, hyper_size: int = 256, embed_size: int = 32, dropout_keep: float = 0.9
) -> _RecurrentCell:
    """Build a cell by name: ``"lstm"``, ``"layernorm"`` or ``"hyper"``."""
    if cell not in CELLS:
        raise ValueError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
    if cell == "hyper":
        return HyperLSTMCell(input_size, hidden_size, hyper_size, embed_size, dropout_keep)
    return CELLS[cell](input_size, hidden_size, dropout_keep)


# ---------------------------------------------------------------------------------------------
# mixture density head, loss, sampling


class MDNHead(nn.Module):
    """Linear ``H -> 6M + 3`` and its split into the mixture and pen parameters."""

    def __init__(self, hidden_size: int, num_mixture: int = 20) -> None:
        super().__init__()
        self.num_mixture = num_mixture
        self.linear = nn.Linear(hidden_size, 6 * num_mixture + 3)

    def forward(self, h: Tensor) -> Tensor:
        """h [..., H] -> raw outputs [..., 6M + 3]."""
        return self.linear(h)

    def split(self, out: Tensor) -> dict[str, Tensor]:
        """Raw outputs [..., 6M + 3] -> dict of [..., M] (and pen_logits [..., 3]).

        Keys: ``pi_logits``, ``mu_x``, ``mu_y``, ``log_sigma_x``, ``log_sigma_y`` (sigma = exp),
        ``rho`` (already tanh'd), ``pen_logits``.
        """
        M = self.num_mixture
        if out.shape[-1] != 6 * M + 3:
            raise ValueError(f"MDNHead.split: last dim is {out.shape[-1]}, expected 6*{M}+3 = {6 * M + 3}")
        pen, pi, mx, my, lsx, lsy, r = out.split([3, M, M, M, M, M, M], -1)
        return dict(
            pi_logits=pi, mu_x=mx, mu_y=my, log_sigma_x=lsx, log_sigma_y=lsy, rho=torch.tanh(r), pen_logits=pen
        )


def mixture_log_prob(params: dict[str, Tensor], dx: Tensor, dy: Tensor) -> Tensor:
    """``log sum_j pi_j N(dx, dy | j)`` in float32. dx, dy [...]; params [..., M] -> [...]."""
    p = {k: v.float() for k, v in params.items()}
    lsx, lsy, rho = p["log_sigma_x"], p["log_sigma_y"], p["rho"]
    nx = (dx.float().unsqueeze(-1) - p["mu_x"]) * torch.exp(-lsx)
    ny = (dy.float().unsqueeze(-1) - p["mu_y"]) * torch.exp(-lsy)
    one_m_r2 = (1.0 - rho * rho).clamp_min(RHO_EPS)
    quad = (nx * nx + ny * ny - 2.0 * rho * nx * ny) / one_m_r2
    log_n = -0.5 * quad - LOG_2PI - lsx - lsy - 0.5 * torch.log(one_m_r2)
    return torch.logsumexp(F.log_softmax(p["pi_logits"], -1) + log_n, -1)


def reconstruction_loss(
    params: dict[str, Tensor], target: Tensor, lengths: Tensor, pen_mask_all: bool
) -> tuple[Tensor, Tensor]:
    """sketch-rnn reconstruction loss (method §2). Returns ``(offset_loss, pen_loss)`` (scalars).

    params: ``MDNHead.split`` output, each [B, N, M] / [B, N, 3]; target [B, N, 5] stroke-5
    (``strokes5[:, 1:]``); lengths [B] number of real points (``<= N``). The offset NLL is taken over
    real points (``t < lengths``); the pen cross-entropy over all N steps when ``pen_mask_all`` (the
    training rule), else over the real points only. Summed over time, averaged over the batch.
    """
    if target.dim() != 3 or target.shape[-1] != 5:
        raise ValueError(f"reconstruction_loss: target has shape {tuple(target.shape)}, expected [B, N, 5]")
    B, N, _ = target.shape
    if params["pen_logits"].shape[:2] != (B, N):
        raise ValueError(
            f"reconstruction_loss: params['pen_logits'] has shape {tuple(params['pen_logits'].shape)}, "
            f"expected [{B}, {N}, 3] to match target"
        )
    lengths = torch.as_tensor(lengths, device=target.device)
    if lengths.shape != (B,) or bool((lengths < 0).any()) or bool((lengths > N).any()):
        raise ValueError(f"reconstruction_loss: lengths must be [B={B}] integers in [0, {N}], got {lengths.tolist()}")
    mask = (torch.arange(N, device=target.device) < lengths.unsqueeze(1)).float()  # [B, N]
    log_p = mixture_log_prob(params, target[..., 0], target[..., 1])
    offset = -(log_p * mask).sum(1).mean()
    pen_ce = F.cross_entropy(
        params["pen_logits"].float().reshape(B * N, 3), target[..., 2:].argmax(-1).reshape(B * N), reduction="none"
    ).view(B, N)
    if not pen_mask_all:
        pen_ce = pen_ce * mask
    return offset, pen_ce.sum(1).mean()


def sample_point(
    params: dict[str, Tensor], temperature: float = 1.0, greedy: bool = False, generator: torch.Generator | None = None
) -> Tensor:
    """Draw one stroke-5 point per row from one step's params (each [B, M] / [B, 3]) -> [B, 5].

    Temperature ``tau`` (method §5): pi and pen logits divided by tau, standard deviations multiplied
    by tau. ``greedy``: arg-max component and its means, arg-max pen state (tau ignored).
    """
    pi_logits, pen_logits = params["pi_logits"].float(), params["pen_logits"].float()
    B = pi_logits.shape[0]
    rows = torch.arange(B, device=pi_logits.device)
    if greedy:
        k, pen = pi_logits.argmax(-1), pen_logits.argmax(-1)
    else:
        if not temperature > 0:
            raise ValueError(f"sample_point: temperature must be > 0 unless greedy, got {temperature}")
        k = torch.multinomial(torch.softmax(pi_logits / temperature, -1), 1, generator=generator).squeeze(1)
        pen = torch.multinomial(torch.softmax(pen_logits / temperature, -1), 1, generator=generator).squeeze(1)
    mx, my = params["mu_x"].float()[rows, k], params["mu_y"].float()[rows, k]
    if not greedy:
        sx = params["log_sigma_x"].float()[rows, k].exp() * temperature
        sy = params["log_sigma_y"].float()[rows, k].exp() * temperature
        rho = params["rho"].float()[rows, k]
        e = torch.randn(2, B, device=mx.device, generator=generator)
        mx = mx + sx * e[0]
        my = my + sy * (rho * e[0] + torch.sqrt((1.0 - rho * rho).clamp_min(0.0)) * e[1])
    return torch.cat([mx[:, None], my[:, None], F.one_hot(pen, 3).float()], 1)


# ---------------------------------------------------------------------------------------------
# the decoder


class SketchDecoder(nn.Module):
    """z -> stroke-5 sequence: initial state ``tanh(W z + b)``, a cell, an MDN head."""

    def __init__(
        self,
        z_dim: int,
        cell: str = "hyper",
        hidden_size: int = 2048,
        hyper_size: int = 256,
        embed_size: int = 32,
        num_mixture: int = 20,
        dropout_keep: float = 0.9,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.cell = make_cell(cell, 5 + z_dim, hidden_size, hyper_size, embed_size, dropout_keep)
        self.init_linear = nn.Linear(z_dim, self.cell.state_size)
        nn.init.normal_(self.init_linear.weight, std=0.001)
        nn.init.zeros_(self.init_linear.bias)
        self.head = MDNHead(hidden_size, num_mixture)

    def init_state(self, z: Tensor) -> Tensor:
        """z [B, z_dim] -> initial state [B, state_size]."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"SketchDecoder: z has shape {tuple(z.shape)}, expected [B, {self.z_dim}]")
        return torch.tanh(self.init_linear(z))

    def forward(self, strokes5: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Teacher forcing. strokes5 [B, N+1, 5], z [B, z_dim] -> params for the N targets ([B, N, .])."""
        if strokes5.dim() != 3 or strokes5.shape[-1] != 5 or strokes5.shape[1] < 2:
            raise ValueError(f"SketchDecoder: strokes5 has shape {tuple(strokes5.shape)}, expected [B, N+1, 5], N >= 1")
        if z.shape[0] != strokes5.shape[0]:
            raise ValueError(f"SketchDecoder: batch of z ({z.shape[0]}) != batch of strokes5 ({strokes5.shape[0]})")
        state = self.init_state(z)
        x = strokes5[:, :-1]
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1).to(x.dtype)], -1)
        h, _ = self.cell(x, state)
        return self.head.split(self.head(h))

    def loss(self, strokes5: Tensor, lengths: Tensor, z: Tensor, pen_mask_all: bool | None = None) -> dict[str, Tensor]:
        """``dict(offset=..., pen=...)``; the pen mask follows ``self.training`` unless given."""
        params = self(strokes5, z)
        mask_all = self.training if pen_mask_all is None else pen_mask_all
        offset, pen = reconstruction_loss(params, strokes5[:, 1:], lengths, mask_all)
        return dict(offset=offset, pen=pen)

    def step(self, prev_point: Tensor, z: Tensor, state: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """One generation step: prev_point [B, 5], z [B, z_dim], state -> (params [B, .], new state)."""
        h, state = self.cell.step(torch.cat([prev_point, z.to(prev_point.dtype)], 1), state)
        return self.head.split(self.head(h)), state

    sample_point = staticmethod(sample_point)

    @torch.no_grad()
    def generate(
        self,
        z: Tensor,
        max_len: int,
        temperature: float = DEFAULT_TEMPERATURE,
        greedy: bool = False,
        generator: torch.Generator | None = None,
        prefix: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Sample sketches from codes z [B, z_dim] (method §5); stops at ``p_end`` or ``max_len``.

        ``prefix`` [B or 1, L, 5]: stroke-5 points (no start token) every sketch begins with -- read
        teacher-forced, then sampling goes on from the state after them (sketch-rnn's completion, as
        nanoGPT's ``generate(idx)`` continues a prompt). Returns ``(strokes5 [B, max_len + 1, 5]`` with
        the start token in row 0, the prefix in rows ``1..L`` and ``(0, 0, 0, 0, 1)`` after each end,
        ``lengths [B]``) -- the batch convention of the package; a length counts the prefix.
        """
        B = z.shape[0]
        out = torch.zeros(B, max_len + 1, 5, device=z.device, dtype=z.dtype)
        out[:, 0, 2] = 1.0
        out[:, 1:, 4] = 1.0
        state, start = self.init_state(z), 0
        if prefix is not None:
            start = prefix.shape[1]
            if prefix.dim() != 3 or prefix.shape[2] != 5 or prefix.shape[0] not in (1, B) or start > max_len:
                raise ValueError(f"prefix: expected [B or 1, L <= {max_len}, 5] stroke-5 points, got "
                                 f"{tuple(prefix.shape)}")
            out[:, 1 : start + 1] = prefix.to(out)
            if start > 0:  # the state after reading every prefix point but the last
                # one prefix and one code for the whole batch (n continuations of one drawing): read it once
                once = prefix.shape[0] == 1 and B > 1 and bool((z == z[:1]).all())
                zr, sr = (z[:1], state[:1]) if once else (z, state)
                x = torch.cat([out[: zr.shape[0], :start], zr[:, None].expand(-1, start, -1)], -1)
                _, sr = self.cell(x, sr)
                state = sr.expand(B, -1).contiguous() if once else sr
        lengths = torch.full((B,), max_len, dtype=torch.long, device=z.device)
        done = torch.zeros(B, dtype=torch.bool, device=z.device)
        point = out[:, start].clone()
        for t in range(start, max_len):
            params, state = self.step(point, z, state)
            point = sample_point(params, temperature, greedy, generator).to(out.dtype)
            ended = point[:, 4] > 0.5
            lengths = torch.where(ended & ~done, torch.full_like(lengths, t), lengths)
            done = done | ended
            out[:, t + 1] = torch.where(done.unsqueeze(1), out[:, t + 1], point)
            if bool(done.all()):
                break
        return out, lengths
