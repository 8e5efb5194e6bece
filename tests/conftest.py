"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shipped_ia():
    """The shipped IA checkpoint (a :class:`iapix.checkpoint.Checkpoint`) and 16 sketches per split of cat and pig."""
    from iapix.checkpoint import load_checkpoint
    from iapix.data import prepare

    torch.set_num_threads(1)
    ck = load_checkpoint(ROOT / "checkpoints" / "catpig-small-ia.pt")
    data = prepare(["cat", "pig"], ROOT / "data", limit=16, scale=ck.scale, max_len=ck.max_len)
    return ck, data
