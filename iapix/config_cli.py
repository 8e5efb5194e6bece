"""``Config`` <-> the command line: one ``--flag`` per :class:`~iapix.model.Config` field, and the ``Config`` a
command line asks for.

* :func:`add_config_arguments` -- a flag per field, its help the field's own (``metadata["help"]``,
  :func:`config_help`), its default ``None`` (not given: the preset's value); ``--s2-clamp`` takes
  ``auto|none|LOW,HIGH``.
* :func:`config_from_args` -- the preset ``--config`` with the flags given, or on ``--resume`` the run's own settings
  from ``RUN/last.pt`` with the flags given (the :class:`~iapix.train.Trainer` refuses a flag that contradicts the
  run, except the ``BUDGET`` fields).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

from iapix.checkpoint import check_resumable, config_of, read_checkpoint
from iapix.latent import OBJECTIVES
from iapix.model import BUDGET, PRESETS, Config, preset


def config_help() -> dict[str, str]:
    """Each :class:`Config` field's ``--flag`` help (its ``metadata["help"]``)."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(Config) if "help" in f.metadata}


def _s2_clamp(text: str) -> str | tuple[float, float]:
    if text in ("auto", "none"):
        return text  # "none" becomes None in config_from_args (None here means "not given")
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or LOW,HIGH, got {text!r}") from None
    return lo, hi


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per :class:`Config` field (default: the preset's value)."""
    helps, hints = config_help(), typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        flag, default = "--" + f.name.replace("_", "-"), getattr(Config(), f.name)
        kw: dict = dict(default=None, help=helps.get(f.name, ""))
        if f.name == "s2_clamp":
            kw.update(type=_s2_clamp, metavar="auto|none|LOW,HIGH")
        elif isinstance(default, bool):
            kw.update(action=argparse.BooleanOptionalAction)
        elif isinstance(default, tuple):
            kw.update(nargs="+", type=type(default[0]))
        elif default is None:  # `int | None`: the flag takes the int (not given: the preset's None)
            kw.update(type=next(t for t in typing.get_args(hints[f.name]) if t is not type(None)))
        else:
            kw.update(type=type(default))
        if f.name == "objective":
            kw["choices"] = list(OBJECTIVES)
        parser.add_argument(flag, **kw)


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset ``--config`` (default ``small``) with the flags given. On ``--resume`` the run's own settings
    (the config in ``RUN/last.pt``, extended budgets included) take the preset's place, so a resume needs no model
    or schedule flags, and a flag given that contradicts the run, ``--config`` included, is refused by the
    :class:`~iapix.train.Trainer` (``--max-epochs``, ``--max-steps``, ``--patience`` and ``--[no-]rollback`` may
    change: they say when and how a run ends)."""
    over = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    for k in ("categories", "image_shrink"):
        if k in over:
            over[k] = tuple(over[k])
    if over.get("s2_clamp") == "none":
        over["s2_clamp"] = None
    last = Path(getattr(args, "out", None) or ".") / "last.pt"
    if getattr(args, "resume", False) and last.is_file():
        if args.config is not None:  # a preset named on resume must agree with the run, field by field
            over = {**{k: v for k, v in PRESETS[args.config].items() if k not in BUDGET}, **over}
        state = read_checkpoint(last)
        check_resumable(state, last)  # before its config is used: "cannot be resumed" says more than any mismatch
        return dataclasses.replace(config_of(state, last), **over).validate()
    return preset(args.config or "small", **over)
