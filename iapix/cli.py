"""The ``iapix`` command line: one sub-command per task.

Each sub-command lives in the module that does the work; that module exposes
``add_arguments(parser)`` and ``run(args) -> int``. This file wires them together and decides how an
error ends a command:

* a user error -- a bad path, option, file or setting -- prints one line,
  ``iapix <command>: error: <what, which file or field, what to do>``, and exits with status 2 (as
  argparse does for a bad option). It is an ``OSError`` (missing file, full disk, no permission: they
  name the file) or any exception raised by a ``raise`` statement of the iapix package itself, whose
  messages are written for users;
* anything else is a bug and keeps its traceback; ``--debug`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import dis
import importlib
import math
import sys
import types
import warnings
from pathlib import Path
from typing import Callable

# sub-command -> (the module that does the work: its add_arguments(parser) and run(args), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("iapix.data", "load, clean and render a dataset; print a summary; write a preview PNG"),
    "build-embedded": ("iapix.embedded", "rebuild the small embedded dataset in data/ from the raw QuickDraw files"),
    "download": ("iapix.download", "fetch the full sketch-rnn .npz files from Google's public bucket"),
    "train": ("iapix.train", "train a model (IA, RPCL or VAE objective); resumable"),
    "export": ("iapix.checkpoint", "slim copy of a checkpoint for sampling (no optimiser)"),
    "plot-log": ("iapix.logplot", "draw the loss curves of a run to a PNG"),
    "sample": ("iapix.sample", "generate sketches from a checkpoint: per Gaussian, interpolation, reconstruction"),
    "evaluate": ("iapix.evaluate",
                 "Rec, Ret@1/10/50, latent overlap and t-SNE of a checkpoint; JSON + Markdown report"),
    "curve": ("iapix.curve",
              "learning curve of a run: Rec, Ret@1, length, live Gaussians, NMI per snapshot; CSV + PNG"),
    "fork": ("iapix.fork", "copy a run into a new folder with some training settings changed, to train on from there"),
}


PACKAGE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------------------------
# option types: numbers that leave something to do


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (e.g. a temperature)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def output_file(path: str | Path, default_name: str) -> Path:
    """Where a command writes its picture: ``path``, or ``path/default_name`` when ``path`` is a folder
    (one that exists, or a name ending in ``/``); the folder is created. Refuses a name without a known
    picture suffix (matplotlib would silently add ``.png`` and the printed path would be wrong)."""
    text = str(path)
    path = Path(path)
    if path.is_dir() or text.endswith(("/", "\\")):
        path = path / default_name
    if path.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
        raise ValueError(f"--out {text}: expected a .png, .svg, .pdf or .jpg file, or a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------------------------
# errors: one line for the user's mistakes, a traceback for bugs


class WriteError(OSError):
    """A file that could not be written (full disk, no permission): ``errno`` kept, ``str`` the message alone
    (which names the file), not ``[Errno N] ...``."""

    def __str__(self) -> str:
        return str(self.strerror)


def is_user_error(e: BaseException) -> bool:
    """Whether ``e`` is an error of the user's (see the module docstring) rather than a bug.

    Where it was raised decides: a deliberate ``raise`` in iapix has a message for the user; an error raised inside
    another library, or by an operation of iapix's own code (a missing key, a bad index), is a bug. The instruction
    that raised it is read from the code that ran (the frame's bytecode), not from the source file, which may have
    been edited since it was imported."""
    if isinstance(e, OSError):
        return True
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return Path(code.co_filename).resolve().parent == PACKAGE and _raised_by_statement(code, tb.tb_lasti)


_RAISE_VARARGS = dis.opmap["RAISE_VARARGS"]  # the opcode of every `raise` statement (bare, `X`, `X from Y`)


def _raised_by_statement(code: types.CodeType, offset: int) -> bool:
    """Whether the instruction at byte ``offset`` of ``code`` (a traceback's ``tb_lasti``) is a ``raise``."""
    return 0 <= offset < len(code.co_code) and code.co_code[offset] == _RAISE_VARARGS


def call(prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``; a user error becomes one line ``<prog>: error: ...`` on stderr and exit status 2, and a
    warning one line ``<prog>: warning: ...`` (not Python's two, the second a line of iapix's source)."""
    def one_line(message, category, filename, lineno, line=None) -> str:
        return f"{prog}: warning: {message}\n"

    shown = warnings.formatwarning
    warnings.formatwarning = one_line
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if getattr(args, "debug", False) or not is_user_error(e):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = shown


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="iapix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv[:1] == [name]:  # import only the module of the chosen command
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            add_debug_argument(p)
            p.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    return call(f"iapix {args.command}", args._run, args)


if __name__ == "__main__":
    sys.exit(main())
