"""Small helpers shared by the course notebooks (``notebooks/NN_name.py``, paired with the ``.ipynb``).

Every notebook starts with ``QUICK = setup()`` and shows small tables with ``display(table(rows, columns))``.
Beside an equation, ``show_source(byy_weights)`` shows the package code that computes it (its docstring left out).

The quick setting (``IAPIX_QUICK=1``, set by ``make test``) only shortens training loops and demos: a notebook
section that evaluates the shipped checkpoints (``checkpoints/{catpig,five}-small-{ia,rpcl}.pt``) runs on the full
test split in every setting, so its stored outputs are the numbers a student sees with the shipped models.

Every claim the prose makes about a number or a picture is checked in the cell next to it, with
:func:`within` (a number in a range) or :func:`holds` (any other statement), so that when a model changes
and a claim stops holding, ``make test`` fails at that claim instead of the course quietly saying something
false. Where a sentence quotes a number, the notebook renders it from the computed value (``Markdown``).

Stored outputs are checked by nbval on any x86-64 CPU, whose float kernels differ in the last bits
(AVX2, AVX-512, AMX; MKL and oneDNN choose their own summation orders). So a checked cell prints only
what is exact: counts, shapes, booleans, numbers read from files, short computations on fixed data at a
few significant digits. A number that comes out of a training loop, of sampling or of a long float
reduction is checked with :func:`within` (a tolerant ``assert`` that prints a statement that does not
depend on its digits) or shown in a figure, whose pixels nbval does not compare. A cell that runs longer
than about 10 s shows a progress bar; such a cell prints nothing else, is marked ``# NBVAL_IGNORE_OUTPUT``
(progress and timings are the only outputs nbval may skip) and the next cell prints and checks its results.
"""

from __future__ import annotations

import ast
import csv
import inspect
import os
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.display import Markdown


def quick() -> bool:
    """Whether the quick setting is on (``IAPIX_QUICK=1``, set by ``make test``): shorter training loops and
    demos; never fewer test sketches where the shipped checkpoints are evaluated (see the module docstring)."""
    return os.environ.get("IAPIX_QUICK") == "1"


def setup(seed: int | None = 0, threads: int = 1, dpi: int = 72) -> bool:
    """The notebooks' common start; returns :func:`quick`.

    * figures inline as PNG (nbval compares no PNG; an SVG would be compared as text), at ``dpi``;
    * ``threads`` torch threads, and as many for the BLAS and OpenMP pools of NumPy and scikit-learn (k-means,
      t-SNE) (1: the same reduction order however many cores the machine has);
    * ``torch.manual_seed(seed)`` unless ``seed`` is None;
    * warnings shown as ``Category: message``, without the file and line (a cell's file name changes from run
      to run, so nbval could not compare them).
    """
    import matplotlib.pyplot as plt
    import torch

    try:
        from IPython import get_ipython
    except ImportError:  # plain Python (e.g. the .py of a notebook run as a script)
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        shell.run_line_magic("config", 'InlineBackend.figure_format = "png"')
    plt.rcParams["figure.dpi"] = dpi
    warnings.formatwarning = _format_warning
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # installed with scikit-learn; without it the pools keep their defaults
        pass
    else:
        threadpool_limits(threads)
    if seed is not None:
        torch.manual_seed(seed)
    return quick()


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    return f"{category.__name__}: {message}\n"


def _cell(x: Any, fmt: str) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, Integral):
        return str(int(x))
    if isinstance(x, Real):
        return fmt.format(float(x))
    return str(x)


def table(rows: Iterable[Sequence[Any]], columns: Sequence[str], fmt: str = "{:g}") -> "Markdown":
    """A Markdown table (right-aligned columns) for ``display``.

    Strings are shown as they are, integers (NumPy's too) in full, other numbers with ``fmt``.
    """
    from IPython.display import Markdown

    lines = ["| " + " | ".join(columns) + " |", "|" + "---:|" * len(columns)]
    lines += ["| " + " | ".join(_cell(x, fmt) for x in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def show_source(obj: Any, *, docstring: bool = False, start: str | None = None,
                stop: str | None = None) -> "Markdown":
    """The source of a function, method or class of ``iapix``, as a Markdown ``python`` block for ``display``.

    A header names the file relative to the repository and the qualified name (``iapix/latent.py``,
    ``GMMLatent.losses``): no absolute path and no line number, so the output is the same on every machine.
    The object's own docstring is left out unless ``docstring`` is True (the prose around it explains it).
    ``start`` / ``stop`` show an excerpt: from the first line that contains the text ``start`` to the first
    line from there on that contains ``stop`` (both included); a text that is not found is an error, so an
    excerpt cannot silently drift when the code changes.
    """
    from IPython.display import Markdown

    target = obj.fget if isinstance(obj, property) else obj
    target = inspect.unwrap(getattr(target, "__func__", target))  # a bound method; a decorated function
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise TypeError(f"show_source: expected a function, method or class, got {type(obj).__name__} {obj!r:.60}")
    module = target.__module__ or ""
    if module.split(".")[0] != "iapix":
        raise ValueError(f"show_source: {target.__qualname__} is defined in {module!r}, not in the iapix package "
                         "(only the package's own code is shown: its path is the same on every machine)")
    root = Path(__file__).resolve().parents[1]  # the folder that holds the package
    where = Path(inspect.getsourcefile(target) or "").resolve().relative_to(root).as_posix()
    lines = textwrap.dedent(inspect.getsource(target)).splitlines()
    dropped = None if docstring else _drop_docstring(lines)  # where it was, or None
    first = 0 if start is None else _find_line(lines, start, 0, target.__qualname__, "start")
    last = len(lines) - 1 if stop is None else _find_line(lines, stop, first, target.__qualname__, "stop")
    notes = ["docstring left out"] if dropped is not None and first < dropped <= last else []
    if (first, last) != (0, len(lines) - 1):
        notes.append("excerpt")
    lines = lines[first:last + 1]
    code = textwrap.dedent("\n".join(lines)).rstrip()
    header = f"`{where}` · `{target.__qualname__}`" + (f" ({', '.join(notes)})" if notes else "")
    fence = "```"
    while fence in code:  # a fence longer than any run of backticks in the code
        fence += "`"
    return Markdown(f"{header}\n\n{fence}python\n{code}\n{fence}")


def _drop_docstring(lines: list[str]) -> int | None:
    """Remove, in place, the docstring of the function or class whose dedented source is ``lines``; return the index
    of the line that now stands where it began (None: no docstring removed)."""
    try:
        node = ast.parse("\n".join(lines)).body[0]
    except SyntaxError:  # the source of a lambda is the line around it, not a statement of its own
        return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return None
    body = node.body
    doc = body[0]
    if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
        return None
    indent = lines[doc.lineno - 1][: doc.col_offset]
    after = lines[doc.end_lineno - 1].encode()[doc.end_col_offset:].decode().strip()  # ast counts UTF-8 bytes
    if indent.strip() or (after and not after.startswith("#")):  # code beside it on its line: left as it is
        return None
    lines[doc.lineno - 1: doc.end_lineno] = [f"{indent}..."] if len(body) == 1 else []  # a body of only a docstring
    return doc.lineno - 1


def _find_line(lines: list[str], text: str, begin: int, name: str, what: str) -> int:
    """The index of the first line from ``begin`` on that contains ``text``."""
    for i in range(begin, len(lines)):
        if text in lines[i]:
            return i
    where = "" if what == "start" else " from the start line on"
    raise ValueError(f"show_source: {what}={text!r} is in no line of {name}{where}")


def within(value: float, low: float, high: float, what: str) -> str:
    """Assert ``low <= value <= high`` and return ``"<what>: between <low> and <high>"``.

    For numbers whose digits depend on the CPU (trained, sampled, long reductions): the check is
    the claim, the returned text does not change when the digits do.
    """
    value = float(value)
    assert low <= value <= high, f"{what} = {value:.6g}, expected in [{low:g}, {high:g}]"
    return f"{what}: between {low:g} and {high:g}"


def holds(condition: bool, what: str) -> str:
    """Assert ``condition`` (a claim of the prose that is not a number in a range) and return ``what``."""
    assert condition, f"claim no longer holds: {what}"
    return what


def read_log(run: str | Path, name: str = "log.csv") -> list[dict[str, str]]:
    """The rows of a training run's CSV log as dicts of strings.

    ``run`` is the run folder; ``name`` is ``log.csv`` (a row per step) or ``valid.csv`` (a row per epoch).
    """
    with open(Path(run) / name, newline="") as f:
        return list(csv.DictReader(f))
