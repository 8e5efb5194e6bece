"""Fork a run: a new run folder that starts where another one is, with some training settings changed.

``iapix fork runs/a runs/b --set em_steps=1500 --set kl_rate=0.999`` copies ``runs/a/last.pt`` (and
``best.pt``: the weights, optimiser state, GMM, counters and random state) into ``runs/b`` with those
``Config`` fields changed, and the logs cut at the forked iteration; ``iapix train --out runs/b --resume``
then trains on under the new settings. An experiment that changes how training goes on from some step (when
BYY starts, the latent weight, the image loss, the learning rate) so costs only the steps after the fork,
and both runs share their history up to it. ``runs/b/FORKED_FROM`` records where it came from.

Fields that shape the networks or the data (``NETWORK_FIELDS``) cannot change: the weights would not fit,
or the run would silently see other data.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from iapix.checkpoint import check_resumable, config_of, read_checkpoint, save_checkpoint
from iapix.model import Config
from iapix.runfolder import cut_log

NETWORK_FIELDS = ("categories", "max_len", "z_dim", "cell", "hidden_size", "hyper_size", "embed_size", "num_mixture",
                  "image_norm_last", "objective", "num_sub")
LOGS = ("log.csv", "valid.csv")


def parse_setting(text: str) -> tuple[str, object]:
    """``"field=value"`` -> ``(field, value)``; the value is read as JSON (``1500``, ``0.999``, ``true``,
    ``null``, ``[0.1, 100000]``) and else kept as a string."""
    field, sep, value = text.partition("=")
    field = field.strip().replace("-", "_")
    if not sep or not field:
        raise ValueError(f"--set {text!r}: expected FIELD=VALUE, e.g. --set em_steps=1500")
    if field not in Config.__dataclass_fields__:
        raise ValueError(f"--set {text!r}: {field!r} is not a Config field (see iapix train --help)")
    if field in NETWORK_FIELDS:
        raise ValueError(f"--set {text!r}: {field} shapes the networks or the data, so the weights of the run cannot "
                         "go on under another value; start a new run instead")
    try:
        return field, json.loads(value)
    except json.JSONDecodeError:
        return field, value


def fork(src: str | Path, dst: str | Path, changes: dict[str, object]) -> int:
    """Copy the run ``src`` into the new folder ``dst`` with ``changes`` to its config; returns the iteration."""
    src, dst = Path(src), Path(dst)
    if not (src / "last.pt").is_file():
        raise FileNotFoundError(f"{src / 'last.pt'}: no such file; give a run folder written by iapix train")
    if dst.exists() and any(dst.iterdir()):
        raise FileExistsError(f"{dst}: not empty; fork into a new folder (nothing there was changed)")
    states = {}
    for name in ("last.pt", "best.pt"):
        if (src / name).is_file():
            state = read_checkpoint(src / name)
            check_resumable(state, src / name)
            state["config"] = {**config_of(state, src / name).to_dict(), **changes}
            config_of(state, f"{src / name} with {changes}")  # the changed config must be a valid one
            states[name] = state
    iteration = int(states["last.pt"]["iteration"])
    dst.mkdir(parents=True, exist_ok=True)
    for name, state in states.items():
        save_checkpoint(state, dst / name)
    (dst / "config.json").write_text(json.dumps(states["last.pt"]["config"], indent=2))
    for name in LOGS:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
            cut_log(dst / name, iteration)
    (dst / "FORKED_FROM").write_text(f"{src} at iteration {iteration}, with {json.dumps(changes)}\n")
    return iteration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="the run folder to fork (its last.pt and best.pt)")
    parser.add_argument("dst", help="a new (or empty) folder for the fork")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="settings",
                        help="a Config field to change (repeatable), e.g. --set em_steps=1500 --set kl_rate=0.999")


def run(args: argparse.Namespace) -> int:
    changes = dict(parse_setting(s) for s in args.settings)
    if not changes:
        raise ValueError("nothing to change: give at least one --set FIELD=VALUE (a plain copy is `cp -r`)")
    iteration = fork(args.src, args.dst, changes)
    print(f"{args.dst}: forked from {args.src} at iteration {iteration} with {changes}; "
          f"train on with: iapix train --out {args.dst} --resume")
    return 0
