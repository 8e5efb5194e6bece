"""Each notebook is a jupytext pair (notebooks/jupytext.toml): NN_name.ipynb and NN_name.py hold the same cells.

Either side may be edited; ``jupytext --sync notebooks/NN_name.ipynb`` (the newer file wins) or ``make notebooks``
(which also re-executes them) brings the other one up to date. This test fails while a pair differs.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted({p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
               | {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")})


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell, as jupytext reads the file (trailing blanks aside)."""
    return [(c.cell_type, "\n".join(line.rstrip() for line in c.source.strip("\n").splitlines()))
            for c in jupytext.read(path).cells]


def first_difference(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            first = (x[1] or y[1]).strip().splitlines()[0] if (x[1] or y[1]).strip() else ""
            return f"cell {i + 1} ({x[0]} / {y[0]}) differs, near {first[:60]!r}"
    return f"{len(a)} cells in the .ipynb, {len(b)} in the .py"


def test_there_are_notebooks():
    assert len(PAIRS) >= 9, PAIRS


@pytest.mark.parametrize("stem", PAIRS)
def test_pair_in_sync(stem: str):
    ipynb, py = NOTEBOOKS / f"{stem}.ipynb", NOTEBOOKS / f"{stem}.py"
    fix = f"run `jupytext --sync notebooks/{stem}.ipynb` (the newer of the two files wins) or `make notebooks`"
    for path in (ipynb, py):
        assert path.is_file(), f"notebooks/{path.name} is missing: {fix} (notebooks/jupytext.toml pairs them)"
    a, b = cells(ipynb), cells(py)
    assert a == b, f"notebooks/{stem}.ipynb and notebooks/{stem}.py differ: {first_difference(a, b)}; {fix}"


def test_no_py_outside_pairs():
    """Only the paired notebooks (and no build scripts) live in notebooks/ as .py files."""
    stray = sorted(p.name for p in NOTEBOOKS.glob("*.py") if p.stem not in PAIRS)
    assert not stray, f"notebooks/ holds .py files that are not notebook pairs: {stray}"
