"""``iapix fork``: a new run that starts where another is, with some training settings changed."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iapix.checkpoint import read_checkpoint
from iapix.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")


def _train(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "iapix.cli", "train", "--config", "tiny", "--categories", "cat", "pig", "--data",
           str(DATA), "--out", str(out), "--limit", "24", "--batch-size", "8", "--save-every", "1", "--device", "cpu",
           *extra]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True)


def _iterations(path: Path) -> list[int]:
    with open(path, newline="") as f:
        return [int(r["iteration"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("fork") / "src"
    r = _train(src, "--max-steps", "3", "--image-epochs", "5")
    assert r.returncode == 0, r.stderr
    return src


def test_a_fork_trains_on_from_the_same_step_under_the_new_setting(source, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file() and p.name != ".lock"}
    dst = tmp_path / "dst"
    assert cli_main(["fork", str(source), str(dst), "--set", "em_steps=1", "--set", "kl-rate=0.5"]) == 0
    assert "at iteration 3" in capsys.readouterr().out
    state = read_checkpoint(dst / "last.pt")
    src_state = read_checkpoint(source / "last.pt")
    assert (state["config"]["em_steps"], state["config"]["kl_rate"]) == (1, 0.5)
    assert state["iteration"] == src_state["iteration"] == 3 and "optimizer" in state
    assert all((state["model"][k] == v).all() for k, v in src_state["model"].items())  # the same weights and GMM
    assert _iterations(dst / "log.csv") == [1, 2, 3]
    r = _train(dst, "--resume", "--max-steps", "5")
    assert r.returncode == 0, r.stderr
    assert _iterations(dst / "log.csv") == [1, 2, 3, 4, 5]
    assert read_checkpoint(dst / "last.pt")["config"]["em_steps"] == 1
    after = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before, "forking leaves the source run as it was"


@pytest.mark.parametrize("settings, message", [
    (["--set", "z_dim=16"], "shapes the networks"),
    (["--set", "no_such_field=1"], "not a Config field"),
    (["--set", "em_steps"], "expected FIELD=VALUE"),
    (["--set", "em_steps=-3"], "em_steps: expected 0 or a positive"),
    ([], "nothing to change"),
])
def test_a_fork_that_cannot_be_is_one_line_and_writes_nothing(source, tmp_path, capsys, settings, message):
    dst = tmp_path / "dst"
    assert cli_main(["fork", str(source), str(dst), *settings]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not dst.exists() or not any(dst.iterdir())


def test_a_fork_never_writes_into_a_folder_that_holds_something(source, tmp_path, capsys):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "notes.txt").write_text("mine")
    assert cli_main(["fork", str(source), str(dst), "--set", "em_steps=1"]) == 2
    assert "not empty" in capsys.readouterr().err and [p.name for p in dst.iterdir()] == ["notes.txt"]
    assert cli_main(["fork", str(tmp_path / "nope"), str(tmp_path / "d2"), "--set", "em_steps=1"]) == 2
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "d2").exists()
