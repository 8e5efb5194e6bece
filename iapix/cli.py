"""The ``iapix`` command line: one sub-command per task.

Each sub-command lives in the module that does the work; that module exposes
``add_arguments(parser)`` and ``run(args) -> int``. This file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> ("module" or "module:add_arguments_fn:run_fn", one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("iapix.data", "load, clean and render a dataset; print a summary; write a preview PNG"),
    "build-embedded": ("iapix.embedded", "rebuild the small embedded dataset in data/ from the raw QuickDraw files"),
    "download": ("iapix.download", "fetch the full sketch-rnn .npz files from Google's public bucket"),
    "train": ("iapix.train", "train a model (IA, RPCL or VAE objective); resumable"),
    "export": ("iapix.train:add_export_arguments:run_export", "slim copy of a checkpoint for sampling (no optimiser)"),
    "plot-log": ("iapix.train:add_plot_arguments:run_plot", "draw the loss curves of a run to a PNG"),
    "sample": ("iapix.sample", "generate sketches from a checkpoint: per Gaussian, interpolation, reconstruction"),
    "evaluate": ("iapix.evaluate", "Rec, Ret@1/10/50, latent overlap and t-SNE of a checkpoint; JSON + Markdown report"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="iapix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (target, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv[:1] == [name]:  # import only the module of the chosen command
            module_name, add_name, run_name = (target + ":add_arguments:run").split(":")[:3]
            module = importlib.import_module(module_name)
            getattr(module, add_name)(p)
            p.set_defaults(_run=getattr(module, run_name))
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
