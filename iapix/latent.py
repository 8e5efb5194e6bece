"""The latent Gaussian mixture and its learning rules (method §3): BYY harmony learning for IA-pix2seq, EM and RPCL
for RPCL-pix2seq, a fixed N(0, I) for the VAE baseline.

:class:`GMMLatent` holds ``K`` diagonal Gaussians in buffers (``alpha [K]``, ``means [K, D]``, ``variances [K, D]``),
never trained by gradient. In each training iteration :meth:`GMMLatent.update` first replaces them by a smoothed
closed-form step on the batch's detached codes; :meth:`GMMLatent.losses` then evaluates the latent losses with the
new parameters held constant, so gradients reach the encoder through ``mu``, ``s2`` and the posterior ``g`` at the
sampled ``z`` (method §7 "GMM update order").

* ``"ia"``: ``g`` clipped into ``[1/(100 K), 1]``; BYY weights ``b = g (1 + delta)``, ``delta = L - sum_j g_j L_j``
  clipped into ``[-1.0001, 1]``, ``L = ln g - 0.5 sum_d s2 / v``; M-step on ``z`` with ``b`` (method §3 steps 1-7);
  harmony losses, with no entropy parts; component label ``argmax b``. With ``em=True``, while the image loss is on,
  ``b = g``: BYY on the codes of an untrained encoder prunes the mixture to one or two Gaussians for good, so EM
  fits it to the codes first (ours, method §7 "GMM during the image warm-up").
* ``"rpcl"``: ``g`` clipped into ``[1e-5, 1]``; an EM step with ``g`` on the encoder means ``mu`` (variance around
  the new mean), and after 500 updates, on every third, RPCL weights ``winner - 1e-4 * rival``; KL losses; label
  ``argmax g``.
* ``"vae"``: one standard normal (``K`` is set to 1), never updated; the usual KL, weight term 0.

Each step ends with ``0.95 * old + 0.05 * new`` and clipping. It is split into pure functions, :func:`posterior` ->
:func:`byy_weights` / :func:`rpcl_weights` -> :func:`sufficient_stats` (sums over the batch) -> ``reduce`` (e.g. an
all-reduce across GPUs) -> :func:`apply_stats`, so that each can be read and tested alone.

Departures from the reference (method §7 "numerics", "GMM update order"): float32 and elementwise ops throughout,
also under bf16 autocast; the posterior is a log-space softmax for both objectives (the reference's ``exp``
overflows or underflows far from every Gaussian); the losses' ``g`` is evaluated against the new GMM (the reference
reuses the step's ``g``, computed against the old one: a few percent of one update apart); the M-step sums are
taken around the old means (the same algebra, precise in float32); ``ln g`` for ``ln(g + 1e-10)`` and
``max(alpha, 1e-10)`` for ``alpha + 1e-10``, differences below 1e-5 per term.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

Objective = Literal["ia", "rpcl", "vae"]
OBJECTIVES: tuple[str, ...] = ("ia", "rpcl", "vae")

LOG_2PI = math.log(2.0 * math.pi)
EPS_DIV = 1e-10  # the reference's guard in the M-step divisions
RPCL_START = 500  # RPCL updates only after this many steps ...
RPCL_EVERY = 3  # ... and then on every third step
RPCL_PENALTY = 1e-4  # de-learning rate of the rival
ALIVE = 1e-3  # a Gaussian is alive while alpha_k > ALIVE (the training log, evaluation and widgets all use this)


def kl_weight(step: int | float, rate: float = 0.9999) -> float:
    """Warm-up weight of the latent losses, ``w_t = 1 - 0.999 * rate**t`` (method §4: rate 0.9999)."""
    return 1.0 - 0.999 * rate ** float(step)


def _f32(*xs: Tensor) -> tuple[Tensor, ...]:
    return tuple(x.float() for x in xs)


def _check_codes(name: str, x: Tensor, dim: int | None = None) -> None:
    if x.dim() != 2:
        raise ValueError(f"{name}: expected a 2-D tensor [B, D], got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name}: expected {dim} latent dimensions, got shape {tuple(x.shape)}")


# ----------------------------------------------------------------------------------------------
# pure functions: densities, posterior, BYY / RPCL weights, sufficient statistics, M-step


def log_gaussian(z: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """``log N(z_i | m_k, diag v_k)`` for all pairs: z [B, D], means/variances [K, D] -> [B, K]."""
    z, means, variances = _f32(z, means, variances)
    diff2 = (z[:, None, :] - means[None, :, :]).square()  # [B, K, D]
    maha = (diff2 / variances[None]).sum(-1)  # [B, K]
    logdet = variances.log().sum(-1)  # [K]
    return -0.5 * (maha + logdet[None] + z.shape[1] * LOG_2PI)


def log_joint(z: Tensor, alpha: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """``ln alpha_k + ln N(z_i | m_k, v_k)`` [B, K]: the posterior's logits (its softmax over k is ``g``)."""
    return log_gaussian(z, means, variances) + alpha.float().clamp_min(1e-30).log()[None]


def posterior(z: Tensor, alpha: Tensor, means: Tensor, variances: Tensor, floor: float) -> Tensor:
    """Clipped responsibilities ``g [B, K]`` (method §3 steps 1-2).

    ``g_ik = alpha_k N_ik / sum_j alpha_j N_ij`` as a softmax of ``ln alpha_k + ln N_ik`` (the per-row shift of step 1
    is implicit), clipped into ``[floor, 1]`` and renormalised per row. Differentiable in ``z``.
    """
    g = torch.softmax(log_joint(z, alpha, means, variances), dim=1).clamp(floor, 1.0)
    return g / g.sum(1, keepdim=True)


def harmony_scores(g: Tensor, s2: Tensor, variances: Tensor) -> Tensor:
    """``L_ik = ln g_ik - 0.5 * sum_d s2_id / v_kd`` (step 3): g [B, K], s2 [B, D] -> [B, K]."""
    g, s2, variances = _f32(g, s2, variances)
    return g.log() - 0.5 * (s2[:, None, :] / variances[None]).sum(-1)


def byy_weights(g: Tensor, s2: Tensor, variances: Tensor) -> Tensor:
    """BYY weights ``b_ik = g_ik (1 + delta_ik)`` (steps 3-5): g [B, K], s2 [B, D] -> [B, K].

    ``delta_ik = L_ik - sum_j g_ij L_ij`` clipped into ``[-1.0001, 1]``: a component above the
    code's average harmony is reinforced, one below gets a small (possibly negative) weight.
    """
    g = g.float()
    L = harmony_scores(g, s2, variances)
    delta = (L - (g * L).sum(1, keepdim=True)).clamp(-1.0001, 1.0)
    return g * (1.0 + delta)


def rpcl_weights(g: Tensor, penalty: float = RPCL_PENALTY) -> Tensor:
    """RPCL weights ``winner - penalty * rival`` (one-hots of the best and second best) [B, K]."""
    g = g.float()
    K = g.shape[1]
    winner = F.one_hot(g.argmax(1), K).float()
    rival = F.one_hot((g - g * winner).argmax(1), K).float()
    return winner - penalty * rival


def sufficient_stats(weights: Tensor, z: Tensor, s2: Tensor, means_old: Tensor) -> dict[str, Tensor]:
    """Batch SUMS for the M-step, taken around the old means (``d_i = z_i - m_k_old``).

    weights [B, K], z [B, D], s2 [B, D], means_old [K, D] -> dict of float32 tensors:
    ``n`` [] (number of codes), ``w`` [K] (``B_k = sum_i w_ik``), ``wd`` [K, D]
    (``sum_i w_ik d_ik``), ``wdd`` [K, D] (``sum_i w_ik d_ik^2``), ``ws2`` [K, D]
    (``sum_i w_ik s2_i``). All are sums, so per-device dicts can be added (all-reduced).
    """
    weights, z, s2, means_old = _f32(weights, z, s2, means_old)
    _check_codes("z", z)
    if weights.shape != (z.shape[0], means_old.shape[0]):
        raise ValueError(
            f"weights: expected shape {(z.shape[0], means_old.shape[0])} (batch, K), got {tuple(weights.shape)}"
        )
    w3 = weights[:, :, None]  # [B, K, 1]
    d = z[:, None, :] - means_old[None]  # [B, K, D]
    return {
        "n": torch.tensor(float(z.shape[0]), device=z.device),
        "w": weights.sum(0),
        "wd": (w3 * d).sum(0),
        "wdd": (w3 * d.square()).sum(0),
        "ws2": (w3 * s2[:, None, :]).sum(0),
    }


def apply_stats(
    stats: dict[str, Tensor],
    alpha: Tensor,
    means: Tensor,
    variances: Tensor,
    decay: float,
    kind: Literal["ia", "rpcl"],
) -> tuple[Tensor, Tensor, Tensor]:
    """M-step from (reduced) sums, then smoothing and clipping (method §3 steps 6-7, §7).

    ``ia``:   ``m' = sum w z / B_k``, ``v' = sum w (s2 + (z - m_old)^2) / B_k``, ``alpha' = B_k / n``;
              ``v`` clipped into [1e-10, 1e5], ``alpha`` into [1e-10, 1].
    ``rpcl``: the same mean and weight, ``v' = sum w (s2 + (z - m')^2) / B_k`` (around the NEW mean);
              ``v`` clipped into [1e-10, 1e10], ``alpha`` into [0, 1].
    Every parameter becomes ``decay * old + (1 - decay) * new``; alpha is renormalised.
    Divisions use ``B_k + 1e-10`` as the reference does. Returns new (alpha [K], means, variances).
    """
    if kind not in ("ia", "rpcl"):
        raise ValueError(f"kind: expected 'ia' or 'rpcl', got {kind!r}")
    missing = {"n", "w", "wd", "wdd", "ws2"} - set(stats)
    if missing:
        raise ValueError(f"stats: missing keys {sorted(missing)}")
    alpha, means, variances = _f32(alpha, means, variances)
    n, w, wd, wdd, ws2 = (stats[k].float() for k in ("n", "w", "wd", "wdd", "ws2"))
    denom = (w + EPS_DIV)[:, None]  # [K, 1]
    shift = (wd - EPS_DIV * means) / denom  # m_new - m_old, exactly sum w z / (B_k + eps) - m_old
    mean_new = means + shift
    if kind == "ia":
        var_new = (ws2 + wdd) / denom
        v_lo, v_hi, a_lo = 1e-10, 1e5, 1e-10
    else:
        # sum w (z - m_new)^2 = sum w (d - c)^2 = wdd - 2 c wd + c^2 B_k,  c = m_new - m_old
        var_new = (ws2 + wdd - 2.0 * shift * wd + shift.square() * w[:, None]) / denom
        v_lo, v_hi, a_lo = 1e-10, 1e10, 0.0
    alpha_new = w / n
    keep = 1.0 - decay
    means_out = decay * means + keep * mean_new
    var_out = (decay * variances + keep * var_new).clamp(v_lo, v_hi)
    alpha_out = (decay * alpha + keep * alpha_new).clamp(a_lo, 1.0)
    return alpha_out / alpha_out.sum(), means_out, var_out


# ----------------------------------------------------------------------------------------------
# per-component loss terms


def harmony_gaussian(mu: Tensor, s2: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """Expected negative log-density ``0.5 sum_d [ln 2pi + ln v + (s2 + (mu - m)^2) / v]`` [B, K]."""
    mu, s2, means, variances = _f32(mu, s2, means, variances)
    quad = ((s2[:, None, :] + (mu[:, None, :] - means[None]).square()) / variances[None]).sum(-1)
    return 0.5 * (quad + variances.log().sum(-1)[None] + mu.shape[1] * LOG_2PI)


def kl_gaussian(mu: Tensor, s2: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """``KL(N(mu, s2) || N(m_k, v_k)) = 0.5 sum_d [ln v - ln s2 - 1 + (s2 + (mu - m)^2) / v]`` [B, K]."""
    mu, s2, means, variances = _f32(mu, s2, means, variances)
    quad = ((s2[:, None, :] + (mu[:, None, :] - means[None]).square()) / variances[None]).sum(-1)
    return 0.5 * (quad + variances.log().sum(-1)[None] - (s2.log() + 1.0).sum(-1, keepdim=True))


# ----------------------------------------------------------------------------------------------
# the module


class GMMLatent(nn.Module):
    """The latent prior: a K-component diagonal GMM in buffers plus its update rule and losses.

    Buffers (all in the state_dict): ``alpha [K]``, ``means [K, D]``, ``variances [K, D]`` (float32)
    and ``steps`` (int64 scalar, number of :meth:`update` calls so far).
    """

    def __init__(self, z_dim: int, K: int, objective: Objective = "ia", decay: float = 0.95) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective: expected one of {OBJECTIVES}, got {objective!r}")
        if z_dim < 1:
            raise ValueError(f"z_dim: expected a positive integer, got {z_dim}")
        if objective != "vae" and K < 1:
            raise ValueError(f"K: expected a positive number of Gaussians, got {K}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay: expected a value in [0, 1), got {decay}")
        self.objective: Objective = objective
        self.z_dim = z_dim
        self.decay = decay
        if objective == "vae":
            K = 1
            means = torch.zeros(1, z_dim)
        else:
            means = torch.rand(K, z_dim) * 2.0 - 1.0  # U(-1, 1), from the global torch RNG
        self.K = K
        self.register_buffer("alpha", torch.full((K,), 1.0 / K))
        self.register_buffer("means", means)
        self.register_buffer("variances", torch.ones(K, z_dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, K={self.K}, objective={self.objective!r}, decay={self.decay}"

    @property
    def floor(self) -> float:
        """Lower clip of the posterior: ``1/(100 K)`` for ia, ``1e-5`` for rpcl."""
        return 1.0 / (100.0 * self.K) if self.objective == "ia" else 1e-5

    def posterior(self, z: Tensor) -> Tensor:
        """Clipped responsibilities of the current GMM at codes z [B, D] -> [B, K]."""
        _check_codes("z", z, self.z_dim)
        return posterior(z, self.alpha, self.means, self.variances, self.floor)

    @torch.no_grad()
    def update(
        self,
        z: Tensor,
        s2: Tensor,
        mu: Tensor | None = None,
        reduce: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
        em: bool = False,
        alpha_floor: float = 0.0,
    ) -> None:
        """One smoothed update of the GMM from a batch (detached), then ``steps += 1``.

        z [B, D]: sampled codes; s2 [B, D]: encoder variances; mu [B, D]: encoder means (rpcl only).
        ia:   g = posterior(z), b = byy_weights(g, s2, v), M-step on z (method §3 steps 1-7);
              with ``em=True`` (the image warm-up) b = g instead: one smoothed EM step.
        rpcl: g = posterior(z), M-step on mu with weights g (EM), or, when ``steps > 500`` and
              ``steps % 3 == 0`` (``steps`` counted before this update, as the reference's
              global step), with ``rpcl_weights(g)``.
        vae:  nothing changes but ``steps``.
        ``reduce`` is applied to the dict of sums before the M-step (e.g. a cross-device all-reduce);
        ``alpha_floor`` > 0 (ours, ``Config.alpha_floor``) then clips every alpha from below and renormalises, so
        that no Gaussian is pruned while it holds: each alpha ends at least ``alpha_floor / (1 + K alpha_floor)``.
        """
        _check_codes("z", z, self.z_dim)
        _check_codes("s2", s2, self.z_dim)
        if s2.shape != z.shape:
            raise ValueError(f"s2: expected the shape of z {tuple(z.shape)}, got {tuple(s2.shape)}")
        if self.objective == "vae":
            self.steps += 1
            return
        z, s2 = z.detach().float(), s2.detach().float()
        g = posterior(z, self.alpha, self.means, self.variances, self.floor)
        if self.objective == "ia":
            weights, data = (g if em else byy_weights(g, s2, self.variances)), z
        else:
            if mu is None:
                raise ValueError("mu: the rpcl update needs the encoder means (its M-step runs on mu)")
            _check_codes("mu", mu, self.z_dim)
            t = int(self.steps)
            use_rpcl = t > RPCL_START and t % RPCL_EVERY == 0
            weights, data = (rpcl_weights(g) if use_rpcl else g), mu.detach().float()
        stats = sufficient_stats(weights, data, s2, self.means)
        if reduce is not None:
            stats = reduce(stats)
        alpha, means, variances = apply_stats(stats, self.alpha, self.means, self.variances, self.decay, self.objective)
        if alpha_floor > 0.0:
            alpha = alpha.clamp_min(alpha_floor)
            alpha = alpha / alpha.sum()
        self.alpha.copy_(alpha)
        self.means.copy_(means)
        self.variances.copy_(variances)
        self.steps += 1

    def losses(self, mu: Tensor, s2: Tensor, z: Tensor | None = None) -> dict[str, Tensor]:
        """Latent losses with the GMM held constant: {"gauss": [], "weight": []} float32 scalars.

        mu, s2 [B, D]: encoder outputs; z [B, D]: codes at which the posterior g is evaluated
        (default mu). Gradients reach mu, s2 and, through g, z.
        ia:   gauss = mean_i sum_k g_ik 0.5 sum_d [ln 2pi + ln v + (s2 + (mu - m)^2) / v],
              weight = sum_k mean_i [-g_ik ln alpha_k]        (harmony, no entropy parts)
        rpcl: gauss = mean_i sum_k g_ik KL(N(mu, s2) || N(m_k, v_k)),
              weight = sum_k mean_i g_ik ln(g_ik / alpha_k)    (KL terms)
        vae:  gauss = mean_i KL(N(mu, s2) || N(0, I)), weight = 0.
        """
        _check_codes("mu", mu, self.z_dim)
        if s2.shape != mu.shape:
            raise ValueError(f"s2: expected the shape of mu {tuple(mu.shape)}, got {tuple(s2.shape)}")
        if self.objective == "vae":
            kl = kl_gaussian(mu, s2, self.means, self.variances)[:, 0]
            return {"gauss": kl.mean(), "weight": torch.zeros((), device=mu.device)}
        g = self.posterior(mu if z is None else z)
        if self.objective == "ia":
            per_k = harmony_gaussian(mu, s2, self.means, self.variances)
            weight = -(g * self.alpha.log()[None]).sum(1).mean()
        else:
            per_k = kl_gaussian(mu, s2, self.means, self.variances)
            weight = (g * (g.log() - self.alpha.clamp_min(1e-10).log()[None])).sum(1).mean()
        return {"gauss": (g * per_k).sum(1).mean(), "weight": weight}

    @torch.no_grad()
    def labels(self, z: Tensor, s2: Tensor) -> Tensor:
        """Component label of each code [B] (int64): argmax_k b_ik for ia, argmax_k g_ik otherwise."""
        g = self.posterior(z)
        if self.objective == "ia":
            _check_codes("s2", s2, self.z_dim)
            return byy_weights(g, s2, self.variances).argmax(1)
        return g.argmax(1)

    def components_alive(self, threshold: float = ALIVE) -> Tensor:
        """Boolean mask [K] of the components whose weight alpha_k exceeds ``threshold``."""
        return self.alpha > threshold
