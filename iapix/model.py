"""The whole IA-pix2seq model: :class:`Config`, its presets, and a forward pass that returns every loss term.

* :class:`Config` -- one dataclass for data, networks, latent, optimisation and schedule; each field carries its
  ``iapix train --flag`` help (``metadata["help"]``; the flags are made in :mod:`iapix.config_cli`). :func:`preset`:
  ``paper`` (the paper's network: z 128, HyperLSTM 2048 with a 256-unit hyper cell and embeddings of 32, batch 128),
  ``small`` (z 32, HyperLSTM 256 / 32 / 8, batch 64: trains on a CPU on the embedded data), ``tiny`` (tests).
  ``K = len(categories) * num_sub`` Gaussians. Checkpoints written before a field existed load with the behaviour
  they were trained with (``LEGACY_DEFAULTS``); a resumed run may change only its ``BUDGET`` fields.
* :class:`IAPix` -- ``encoder`` (image -> ``mu``, ``s2``; the Yang path), ``latent`` (the GMM buffers and their
  update rule), ``decoder`` (``z`` -> strokes; the Ying path) and ``image_decoder`` (``z`` -> image, a training aid).
* :meth:`IAPix.forward` -- one pass (method §3-4): encode and sample ``z = mu + sqrt(s2) * eps``; in training,
  update the GMM from the batch's detached codes *before* the loss (method §7 "GMM update order"), for ``ia`` with
  EM weights ``b = g`` while the image loss is on, or for the first ``em_steps`` steps when that is set, and BYY
  after (method §7 "GMM during the image warm-up"; ``gmm_warmup="byy"`` is the reference's BYY from step 1); the
  latent losses with the new GMM; the reconstruction loss from ``z`` (validation: from ``mu``, method §7
  "validation"); the image loss. ``alpha_floor`` keeps every ``alpha_k`` above a floor for the first
  ``alpha_floor_steps`` steps, so that BYY can start early without pruning (ours, an experiment).
  With ``w_t = 1 - 0.999 * kl_rate^t`` (method §4):

  * ``ia``:   ``total = 0.5 * w_t * (weight + gauss) + recon + image``, the L1 image term in the first
    ``image_epochs`` epochs only;
  * ``rpcl``: ``total = w_t * (weight + gauss) + recon + 0.5 * MSE image loss`` for the whole run (method §7 "RPCL
    loss");
  * ``vae``:  ``total = w_t * gauss + recon + image``, the image term as for ``ia``.

An *epoch* is ``max(one pass over the training set, epoch_steps)`` optimiser steps (:mod:`iapix.train`, method §7
"validation interval"), so ``image_epochs = 3`` is ~3 000 steps at every data size, as at paper scale. The encoder
variance is clamped into ``[0.1, 1e5]`` for ``ia`` only (method §2; ``Config.s2_clamp``). :func:`learning_rate` is
method §4's schedule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch
import torch.nn as nn
from torch import Tensor

from iapix.decoder import DEFAULT_TEMPERATURE, SketchDecoder
from iapix.encoder import Encoder, ImageDecoder, image_loss_l1, image_loss_mse, reparameterize
from iapix.latent import OBJECTIVES, GMMLatent, kl_weight


def _setting(default: object, help: str):
    """A :class:`Config` field: its default and its ``iapix train --flag`` help (kept in ``metadata["help"]``)."""
    return field(default=default, metadata={"help": help})


@dataclass
class Config:
    """Everything that defines a run. ``K = len(categories) * num_sub`` Gaussians."""

    # data
    categories: tuple[str, ...] = _setting(("cat", "pig"), "the categories to train on (data/<name>.npz); "
                                           "K = len(categories) * num_sub")
    max_len: int = _setting(250, "drop longer sketches (N_max is the longest kept one)")
    augment_scale: float = _setting(0.1, "stretch x and y independently by a factor in [1 - this, 1 + this] "
                                    "(train only)")
    augment_drop: float = _setting(0.1, "drop an interior stroke point with this probability (train only)")
    image_shrink: tuple[float, float] = _setting((0.98, 1.0), "shrink each training image towards its centre by a "
                                                 "ratio in this range")
    # (the reference renders the image from the original sketch; with 3 600 training sketches that let the code path
    # overfit after ~2 000 steps; rendering it from the augmented strokes halved the train/valid gap: docs/results.md
    # "How these were found")
    augment_image: bool = _setting(True, "render each training image from its augmented strokes (the decoder's "
                                   "target), not the original")
    # networks
    z_dim: int = _setting(128, "size of the latent code z")
    cell: str = _setting("hyper", 'decoder cell: "hyper" | "layernorm" | "lstm"')
    hidden_size: int = _setting(2048, "units of the decoder's main LSTM")
    hyper_size: int = _setting(256, "units of the HyperLSTM's small hyper cell")
    embed_size: int = _setting(32, "size of the HyperLSTM's per-gate embeddings")
    num_mixture: int = _setting(20, "M, bivariate Gaussians in the decoder's output mixture")
    dropout_keep: float = _setting(0.9, "keep probability of the recurrent dropout on the candidate g")
    image_norm_last: bool = _setting(False, "instance norm before the image decoder's tanh, as the reference "
                                     "(measured slower: encoder.py)")
    s2_clamp: tuple[float, float] | None | str = _setting("auto", 'clamp of the encoder variance: "auto" = '
                                                          "(0.1, 1e5) for ia (method §2), none otherwise")
    # latent
    objective: str = _setting("ia", '"ia" (BYY harmony) | "rpcl" (RPCL-pix2seq\'s KL + EM/RPCL) | "vae" (one N(0, I))')
    num_sub: int = _setting(2, "Gaussians per category")
    gmm_decay: float = _setting(0.95, "smoothing of the GMM update: new = decay * old + (1 - decay) * batch estimate")
    gmm_warmup: str = _setting("em", 'ia: "em" = EM weights b = g while the image loss is on, then BYY (method §7); '
                               '"byy" = BYY from step 1 (reference)')
    em_steps: int | None = _setting(None, 'ia with gmm_warmup "em": EM for this many steps, then BYY (None: while '
                                    "the image loss is on)")
    # (ours, an experiment of docs/latent-space.md: BYY early, while the codes form, without letting it prune)
    alpha_floor: float = _setting(0.0, "every Gaussian's weight alpha_k is kept at about this or more (clipped, "
                                  "then renormalised) for the first alpha_floor_steps steps; at most 1 / K")
    alpha_floor_steps: int = _setting(0, "the steps during which alpha_floor holds (0: never)")
    # optimisation (method §4)
    batch_size: int = _setting(128, "sketches per optimiser step (per process)")
    lr: float = _setting(1e-3, "Adam's initial learning rate")
    min_lr: float = _setting(1e-5, "the learning rate decays towards this")
    lr_decay: float = _setting(0.9999, "lr = (lr - min_lr) * lr_decay^(step / 3) + min_lr")
    beta1: float = _setting(0.5, "Adam's beta1")
    grad_clip: float = _setting(1.0, "clip every gradient element into [-this, this]")
    kl_rate: float = _setting(0.9999, "warm-up of the latent losses: w_t = 1 - 0.999 * kl_rate^step "
                              "(method §4: 0.9999)")
    image_epochs: int = _setting(3, "ia/vae: L1 image loss only in these first epochs")
    rpcl_image_weight: float = _setting(0.5, "rpcl: weight of the MSE image loss (on for the whole run)")
    epoch_steps: int = _setting(1000, "an epoch (validation, rollback, image warm-up) is max(one pass, this many "
                                "steps); 0 = one pass")
    group_by_length: bool = _setting(True, "training batches of similar lengths, each padded to its own longest "
                                     "sketch (method §7)")
    max_epochs: int = _setting(100, "stop after this many epochs (rolled-back ones included)")
    patience: int = _setting(5, "stop after this many epochs in a row without improvement")
    rollback: bool = _setting(True, "a non-improving epoch goes back to best.pt (method §7, the reference); "
                              "--no-rollback trains on from it, as sketch-rnn does")
    max_steps: int | None = _setting(None, "stop after this many optimiser iterations (None: no limit)")
    seed: int = _setting(0, "seeds the weights, the GMM, the batch order and the noise")
    @property
    def encoder_s2_clamp(self) -> tuple[float, float] | None:
        """The clamp of the encoder variance: IA-pix2seq's ``[0.1, 1e5]`` for ``ia``, none otherwise."""
        if self.s2_clamp == "auto":
            return (0.1, 1e5) if self.objective == "ia" else None
        return self.s2_clamp

    @property
    def K(self) -> int:
        return 1 if self.objective == "vae" else len(self.categories) * self.num_sub

    def validate(self) -> "Config":
        if self.gmm_warmup not in ("em", "byy"):
            raise ValueError(f"gmm_warmup: expected 'em' or 'byy', got {self.gmm_warmup!r}")
        if not 0.0 < self.kl_rate < 1.0:
            raise ValueError(f"kl_rate: expected a rate in (0, 1), got {self.kl_rate}")
        if self.em_steps is not None and self.em_steps < 0:
            raise ValueError(f"em_steps: expected 0 or a positive number of steps, got {self.em_steps}")
        if not 0.0 <= self.alpha_floor * self.K <= 1.0:
            raise ValueError(f"alpha_floor: expected a weight in [0, 1 / K] = [0, {1.0 / self.K:g}], "
                             f"got {self.alpha_floor}")
        if self.alpha_floor_steps < 0:
            raise ValueError(f"alpha_floor_steps: expected 0 or a positive number of steps, "
                             f"got {self.alpha_floor_steps}")
        if self.epoch_steps < 0:
            raise ValueError(f"epoch_steps: expected 0 or a positive number of steps, got {self.epoch_steps}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective: expected one of {OBJECTIVES}, got {self.objective!r}")
        if not self.categories:
            raise ValueError("categories: at least one category is needed")
        for name in ("z_dim", "hidden_size", "num_mixture", "batch_size", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config: unknown fields {sorted(unknown)}")
        d = dict(d)
        # fields added after the first checkpoints were written: those runs behaved the old way
        for k, old in LEGACY_DEFAULTS.items():
            d.setdefault(k, old)
        for k in ("categories", "image_shrink", "s2_clamp"):
            if d.get(k) is not None and not isinstance(d[k], str):
                d[k] = tuple(d[k])
        return cls(**d).validate()


BUDGET = ("max_epochs", "max_steps", "patience", "rollback")  # the fields a resume may change: when and how a run ends

# what a checkpoint written before a field existed did (Config.from_dict fills them in)
LEGACY_DEFAULTS: dict[str, object] = {"gmm_warmup": "byy", "epoch_steps": 0, "group_by_length": False,
                                      "augment_image": False}

PRESETS: dict[str, dict] = {
    "paper": dict(z_dim=128, cell="hyper", hidden_size=2048, hyper_size=256, embed_size=32, batch_size=128),
    "small": dict(z_dim=32, cell="hyper", hidden_size=256, hyper_size=32, embed_size=8, batch_size=64,
                  max_epochs=20),
    "tiny": dict(z_dim=8, cell="hyper", hidden_size=32, hyper_size=8, embed_size=4, num_mixture=3,
                 batch_size=16, max_epochs=2, epoch_steps=0),
}


def preset(name: str, **overrides) -> Config:
    """A named preset (``paper``, ``small``, ``tiny``) with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown config preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(Config(**PRESETS[name]), **overrides).validate()


def learning_rate(cfg: Config, step: int) -> float:
    """``(lr - min_lr) * decay^(step / 3) + min_lr`` (method §4)."""
    return (cfg.lr - cfg.min_lr) * cfg.lr_decay ** (step / 3) + cfg.min_lr


class IAPix(nn.Module):
    """Encoder + latent GMM + stroke decoder (+ image decoder used as a training aid)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        self.encoder = Encoder(cfg.z_dim, s2_clamp=cfg.encoder_s2_clamp)
        self.image_decoder = ImageDecoder(cfg.z_dim, norm_last=cfg.image_norm_last)
        self.latent = GMMLatent(cfg.z_dim, cfg.K, cfg.objective, decay=cfg.gmm_decay)
        self.decoder = SketchDecoder(cfg.z_dim, cfg.cell, cfg.hidden_size, cfg.hyper_size, cfg.embed_size,
                                     cfg.num_mixture, cfg.dropout_keep)

    @property
    def cnn_bf16(self) -> bool:
        """The fast path of :mod:`iapix.encoder`: the encoder's and image decoder's convolutions in bfloat16."""
        return self.encoder.bf16

    @cnn_bf16.setter
    def cnn_bf16(self, on: bool) -> None:
        self.encoder.bf16 = self.image_decoder.bf16 = on  # one switch for both CNNs

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images [B, 1, 48, 48] -> (mu [B, z], s2 [B, z])."""
        return self.encoder(images)

    def forward(self, strokes5: Tensor, lengths: Tensor, images: Tensor, step: int = 0, epoch: int = 0,
                update_gmm: bool | None = None,
                reduce: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None) -> dict[str, Tensor]:
        """One pass over a batch -> dict of scalar losses: ``offset``, ``pen``, ``recon``, ``gauss``,
        ``weight``, ``image``, ``total`` (and ``kl_weight``).

        strokes5 [B, N+1, 5], lengths [B], images [B, 1, 48, 48]; ``step``/``epoch`` drive the
        schedules. The GMM is updated first when ``update_gmm`` (default: in training mode);
        ``reduce`` all-reduces its batch statistics across processes.
        """
        cfg = self.cfg
        mu, s2 = self.encoder(images)
        z = reparameterize(mu, s2)
        image_on = epoch < cfg.image_epochs
        if update_gmm if update_gmm is not None else self.training:
            em_on = image_on if cfg.em_steps is None else step < cfg.em_steps
            floor = cfg.alpha_floor if step < cfg.alpha_floor_steps else 0.0
            self.latent.update(z, s2, mu, reduce=reduce, em=cfg.gmm_warmup == "em" and em_on, alpha_floor=floor)
        lat = self.latent.losses(mu, s2, z)
        rec = self.decoder.loss(strokes5, lengths, z if self.training else mu)
        recon = rec["offset"] + rec["pen"]
        w = kl_weight(step, cfg.kl_rate)
        if cfg.objective == "rpcl":
            image = cfg.rpcl_image_weight * image_loss_mse(self.image_decoder(z), images)
            total = w * (lat["weight"] + lat["gauss"]) + recon + image
        else:
            if image_on:
                image = image_loss_l1(self.image_decoder(z), images)
            else:
                image = torch.zeros((), device=images.device)
            scale = 0.5 if cfg.objective == "ia" else 1.0
            total = scale * w * (lat["weight"] + lat["gauss"]) + recon + image
        return dict(total=total, recon=recon, offset=rec["offset"], pen=rec["pen"], gauss=lat["gauss"],
                    weight=lat["weight"], image=image, kl_weight=torch.tensor(w))

    @torch.no_grad()
    def generate(self, z: Tensor, max_len: int, temperature: float = DEFAULT_TEMPERATURE, greedy: bool = False,
                 generator: torch.Generator | None = None, prefix: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Batched sampling from codes z [B, z] -> (strokes5 [B, max_len + 1, 5], lengths [B]);
        ``prefix`` [B or 1, L, 5]: points every sketch starts with (completion), see ``SketchDecoder.generate``."""
        return self.decoder.generate(z, max_len, temperature, greedy, generator, prefix)
