"""Small helpers shared by the course notebooks (``notebooks/NN_name.py``, paired with the ``.ipynb``).

Every notebook starts with ``QUICK = setup()`` and shows small tables with ``display(table(rows, columns))``.

The quick setting (``IAPIX_QUICK=1``, set by ``make test``) only shortens training loops and demos: a notebook
section that evaluates the shipped checkpoints (``checkpoints/catpig-small-{ia,rpcl}.pt``) runs on the full
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

import csv
import os
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
