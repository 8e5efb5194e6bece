"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shipped_ia():
    """The shipped IA checkpoint in eval mode, its dict, and 16 sketches per split of cat and pig."""
    from iapix.data import prepare
    from iapix.train import load_model

    torch.set_num_threads(1)
    model, ckpt = load_model(ROOT / "checkpoints" / "catpig-small-ia.pt")
    data = prepare(["cat", "pig"], ROOT / "data", limit=16, scale=ckpt["scale"], max_len=ckpt["max_len"])
    return model, ckpt, data
