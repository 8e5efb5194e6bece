"""The ``iapix`` command line: one sub-command per task.

Each sub-command lives in the module that does the work; that module exposes
``add_arguments(parser)`` and ``run(args) -> int``. This file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("iapix.data", "load, clean and render a dataset; print a summary; write a preview PNG"),
    "build-embedded": ("iapix.embedded", "rebuild the small embedded dataset in data/ from the raw QuickDraw files"),
    "download": ("iapix.download", "fetch the full sketch-rnn .npz files from Google's public bucket"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iapix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    args = parser.parse_args(argv)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
