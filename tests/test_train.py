"""Trainer: schedule, checkpoints, resume after SIGKILL, NaN handling, multi-process GMM, plots."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from iapix.checkpoint import export_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from iapix.config_cli import config_from_args
from iapix.data import prepare
from iapix.logplot import plot_log
from iapix.model import Config, IAPix, learning_rate, preset
from iapix.train import Trainer, TrainingStopped, add_arguments, all_reduce_stats

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def small_data():
    return prepare(["cat", "pig"], DATA, limit=24)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_schedule_constants():
    cfg = preset("tiny")
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 30000) == pytest.approx((1e-3 - 1e-5) * 0.9999 ** 10000 + 1e-5)
    assert learning_rate(cfg, 10 ** 8) == pytest.approx(1e-5)


def test_fit_writes_logs_and_checkpoints(tmp_path, small_data):
    cfg = preset("tiny", batch_size=8, max_epochs=2)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    summary = tr.fit()
    per_epoch = len(small_data.strokes["train"]) // 8
    assert summary["iterations"] == 2 * per_epoch and summary["epochs"] == 2
    log = _rows(tmp_path / "log.csv")
    assert [int(r["iteration"]) for r in log] == list(range(1, 2 * per_epoch + 1))
    assert all(np.isfinite(float(r[k])) for r in log for k in ("total", "recon", "gauss", "weight"))
    lrs = [float(r["lr"]) for r in log]
    assert lrs[0] == pytest.approx(1e-3) and all(a > b for a, b in zip(lrs, lrs[1:])), "lr decays every step"
    valid = _rows(tmp_path / "valid.csv")
    assert len(valid) == 2
    ckpt = read_checkpoint(tmp_path / "best.pt")
    assert ckpt["categories"] == ["cat", "pig"] and ckpt["max_len"] == small_data.max_len
    assert ckpt["scale"] == pytest.approx(small_data.scale)
    assert {"latent.alpha", "latent.means", "latent.variances"} <= set(ckpt["model"])
    model = load_checkpoint(tmp_path / "best.pt").model
    assert not model.training
    # the GMM moved away from its initialisation (it is updated every step)
    fresh = IAPix(cfg)
    assert not torch.allclose(model.latent.alpha, fresh.latent.alpha)
    slim = export_checkpoint(tmp_path / "best.pt", tmp_path / "slim.pt", note="test")
    assert "optimizer" not in torch.load(slim, weights_only=False)
    assert slim.stat().st_size < (tmp_path / "best.pt").stat().st_size
    m2 = load_checkpoint(slim)
    assert m2.info["note"] == "test" and m2.verified and all(torch.equal(a, b) for a, b in
                                          zip(m2.model.state_dict().values(), model.state_dict().values()))
    fig = plot_log(tmp_path, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000 and len(fig.axes) == 3


def test_rollback_restores_best(tmp_path, small_data, monkeypatch):
    """An epoch that does not improve rolls back weights, GMM, optimiser and the step counter."""
    cfg = preset("tiny", batch_size=8, max_epochs=3, patience=5)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    values = iter([5.0, 9.0, 8.0])  # epoch 1 best, then two worse epochs
    monkeypatch.setattr(tr, "validate", lambda: {"recon": next(values), "offset": 0.0, "pen": 0.0})
    tr.fit()
    best = read_checkpoint(tmp_path / "best.pt")
    per_epoch = len(small_data.strokes["train"]) // 8
    assert tr.step == best["step"] == per_epoch and tr.epoch == 1
    assert tr.iteration == 3 * per_epoch and tr.bad_in_row == 2
    for k, v in best["model"].items():
        assert torch.equal(tr.model.state_dict()[k], v), k
    valid = _rows(tmp_path / "valid.csv")
    assert [int(r["improved"]) for r in valid] == [1, 0, 0]


def test_no_rollback_keeps_best_and_trains_on(tmp_path, small_data, monkeypatch):
    """``rollback=False``: a worse epoch leaves best.pt as it was and the next epoch starts from the worse one."""
    cfg = preset("tiny", batch_size=8, max_epochs=3, patience=5, rollback=False)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    values = iter([5.0, 9.0, 8.0])
    monkeypatch.setattr(tr, "validate", lambda: {"recon": next(values), "offset": 0.0, "pen": 0.0})
    tr.fit()
    best = read_checkpoint(tmp_path / "best.pt")
    per_epoch = len(small_data.strokes["train"]) // 8
    assert best["step"] == per_epoch and best["best"] == 5.0
    assert tr.step == tr.iteration == 3 * per_epoch and tr.epoch == 3 and tr.bad_in_row == 2
    assert any(not torch.equal(tr.model.state_dict()[k], v) for k, v in best["model"].items())
    valid = _rows(tmp_path / "valid.csv")
    assert [int(r["improved"]) for r in valid] == [1, 0, 0] and [r["step"] for r in valid] == \
        [str(per_epoch * e) for e in (1, 2, 3)]


def test_patience_stops(tmp_path, small_data, monkeypatch):
    cfg = preset("tiny", batch_size=8, max_epochs=50, patience=2)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    values = iter([5.0, 6.0, 7.0, 1.0])
    monkeypatch.setattr(tr, "validate", lambda: {"recon": next(values), "offset": 0.0, "pen": 0.0})
    summary = tr.fit()
    assert summary["epochs"] == 3, "stops after 2 bad epochs in a row"


def test_nan_steps_are_skipped_then_stop(tmp_path, small_data):
    cfg = preset("tiny", batch_size=8, max_epochs=1)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0, max_bad_steps=3)
    real = tr.net.forward
    calls = {"n": 0}

    def sometimes_nan(*a, **k):
        out = real(*a, **k)  # updates the GMM, as a real step would
        calls["n"] += 1
        if calls["n"] == 2:
            out["total"] = out["total"] * float("nan")
        return out

    tr.net.forward = sometimes_nan
    gmm = {}
    real_step = tr._train_step

    def spy(batch):
        gmm["before"] = tr.model.latent.alpha.clone()
        return real_step(batch)

    tr._train_step = spy
    summary = tr.fit()
    assert summary["skipped"] == 1
    log = _rows(tmp_path / "log.csv")
    assert len(log) == len(small_data.strokes["train"]) // 8 - 1, "the NaN step is not logged as a step"
    assert int(log[-1]["skipped"]) == 1

    tr2 = Trainer(cfg, out_dir=tmp_path / "b", data=small_data, progress=False, save_every=0, max_bad_steps=3)
    real2 = tr2.net.forward
    alpha0 = tr2.model.latent.alpha.clone()

    def always_nan(*a, **k):
        out = real2(*a, **k)
        out["total"] = out["total"] + float("inf")
        return out

    tr2.net.forward = always_nan
    with pytest.raises(RuntimeError, match=r"NaN/inf for 3 steps in a row.*lower --lr"):
        tr2.fit()
    assert torch.equal(tr2.model.latent.alpha, alpha0), "the GMM updates of skipped steps are undone"



def _signal_at_step(tr: Trainer, at: int, sig: signal.Signals = signal.SIGINT) -> None:
    """Make the trainer's own process receive ``sig`` while it runs step ``at`` (as a Ctrl-C or a kill would)."""
    step = tr._train_step

    def train_step(batch):
        if tr.iteration + 1 == at:
            os.kill(os.getpid(), sig)
        return step(batch)

    tr._train_step = train_step


def test_a_stopped_fit_raises_after_saving_and_restores_the_handlers(tmp_path, small_data):
    """In a notebook, the stop button interrupts the cell (later cells do not run on a half-trained model), and
    last.pt holds the step that was in progress."""
    cfg = preset("tiny", batch_size=8, max_epochs=2)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    _signal_at_step(tr, 2)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped, match=r"SIGINT: stopped at iteration 2; .*last.pt holds it.*--resume") as e:
        tr.fit()
    assert isinstance(e.value, KeyboardInterrupt) and e.value.signal == signal.SIGINT
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert read_checkpoint(tmp_path / "last.pt")["iteration"] == 2 == len(_rows(tmp_path / "log.csv"))


def test_a_stop_during_the_last_step_is_a_finished_run(tmp_path, small_data):
    """A signal during the step that spends the budget: the run is done (no error, no step beyond the budget)."""
    cfg = preset("tiny", batch_size=8, max_epochs=2, max_steps=2)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, progress=False, save_every=0)
    _signal_at_step(tr, 2, signal.SIGTERM)
    assert tr.fit()["iterations"] == 2 and tr.done
    assert tr.fit()["iterations"] == 2, "a finished run trains no further"


def test_atomic_save_never_leaves_partial_files(tmp_path):
    save_checkpoint({"a": torch.zeros(3)}, tmp_path / "x.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "y.pt")
    with pytest.raises(ValueError, match="not an iapix checkpoint"):
        read_checkpoint(tmp_path / "x.pt")


# ---------------------------------------------------------------- resume after SIGKILL


def _train_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "iapix.train", "--config", "tiny", "--categories", "cat", "pig", "--data",
            str(DATA), "--out", str(out), "--limit", "24", "--batch-size", "8", "--max-epochs", "2",
            "--save-every", "1", "--device", "cpu", *extra]


def test_resume_after_sigkill(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(_train_cmd(ref), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_train_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill in the middle of the first epoch (6 batches per epoch)
        if (killed / "log.csv").exists() and len((killed / "log.csv").read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(_rows(killed / "log.csv")) < 12, "the run was killed before finishing"
    subprocess.run(_train_cmd(killed, "--resume"), check=True, env=env, capture_output=True)
    a, b = _rows(ref / "log.csv"), _rows(killed / "log.csv")
    assert [r["iteration"] for r in b] == [r["iteration"] for r in a] == [str(i) for i in range(1, 13)]
    # same batches, same random numbers: the resumed curve continues the interrupted one exactly
    np.testing.assert_allclose([float(r["total"]) for r in b], [float(r["total"]) for r in a], rtol=1e-4)
    assert read_checkpoint(killed / "last.pt")["iteration"] == read_checkpoint(ref / "last.pt")["iteration"] == 12


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_saves_the_step_in_progress(tmp_path, sig):
    """kill/Ctrl-C: the run ends after its step in progress with last.pt saved there (no --save-every needed),
    exit status 128 + signal; --resume then continues the interrupted curve exactly."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    ref, stopped = tmp_path / "ref", tmp_path / "stopped"
    subprocess.run(_train_cmd(ref, "--save-every", "0"), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_train_cmd(stopped, "--save-every", "0"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # in the middle of the first epoch (6 batches per epoch)
        if (stopped / "log.csv").exists() and len((stopped / "log.csv").read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + int(sig), err
    assert f"{sig.name}: stopped at iteration" in err and "--resume" in err
    rows = _rows(stopped / "log.csv")
    assert 2 <= len(rows) < 12, "stopped before the run's end"
    assert read_checkpoint(stopped / "last.pt")["iteration"] == int(rows[-1]["iteration"]), \
        "last.pt holds the last step logged: nothing trained is lost"
    subprocess.run(_train_cmd(stopped, "--resume", "--save-every", "0"), check=True, env=env, capture_output=True)
    a, b = _rows(ref / "log.csv"), _rows(stopped / "log.csv")
    assert [r["iteration"] for r in b] == [r["iteration"] for r in a] == [str(i) for i in range(1, 13)]
    np.testing.assert_allclose([float(r["total"]) for r in b], [float(r["total"]) for r in a], rtol=1e-4)


def test_resume_with_other_config_or_data_is_refused(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    subprocess.run(_train_cmd(tmp_path, "--max-steps", "2"), check=True, env=env, capture_output=True)
    r = subprocess.run(_train_cmd(tmp_path, "--resume", "--objective", "rpcl"), env=env, capture_output=True,
                       text=True)
    assert r.returncode != 0 and "different config (objective: 'ia' in the run, 'rpcl' now)" in r.stderr
    cmd = _train_cmd(tmp_path, "--resume")
    cmd[cmd.index("--limit") + 1] = "20"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "written for other data" in r.stderr
    # a run written before a Config field existed resumes with the value it ran with (LEGACY_DEFAULTS), read from its
    # last.pt, without flags; a flag that contradicts it is refused
    state = read_checkpoint(tmp_path / "last.pt")
    del state["config"]["group_by_length"], state["sha256"]
    save_checkpoint(state, tmp_path / "last.pt")
    r = subprocess.run(_train_cmd(tmp_path, "--resume", "--group-by-length"), env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "group_by_length: False in the run, True now" in r.stderr, r.stderr
    r = subprocess.run(_train_cmd(tmp_path, "--resume"), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_resume_reads_the_runs_settings_and_extended_budget(tmp_path):
    """``--resume`` takes the run's settings from its last.pt (an extended budget included), not the preset's;
    a preset named on resume that disagrees with the run is refused."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    subprocess.run(_train_cmd(tmp_path, "--max-steps", "2"), check=True, env=env, capture_output=True)
    subprocess.run(_train_cmd(tmp_path, "--resume", "--max-steps", "3"), check=True, env=env, capture_output=True)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["--out", str(tmp_path), "--resume"]))
    assert cfg == Config.from_dict(read_checkpoint(tmp_path / "last.pt")["config"])
    assert (cfg.max_steps, cfg.hidden_size) == (3, preset("tiny").hidden_size)  # not small's, not the first budget
    assert config_from_args(parser.parse_args(["--out", str(tmp_path)])) == preset("small")  # a new run: the preset
    r = subprocess.run(_train_cmd(tmp_path, "--resume", "--config", "small"), env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "different config" in r.stderr and "hidden_size: 32 in the run, 256 now" in r.stderr, \
        r.stderr
    subprocess.run(_train_cmd(tmp_path, "--resume", "--max-steps", "4", "--no-rollback"), check=True, env=env,
                   capture_output=True)  # how a run ends may change on resume
    assert read_checkpoint(tmp_path / "last.pt")["config"]["rollback"] is False
    assert json.loads((tmp_path / "config.json").read_text())["rollback"] is False  # the folder says the same
    old = {k: v for k, v in read_checkpoint(tmp_path / "last.pt")["config"].items() if k != "rollback"}
    assert Config.from_dict(old).rollback is True  # runs written before the switch rolled back


# ---------------------------------------------------------------- two processes (gloo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str, batch: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # 1) one GMM update from each rank's half == one update from the whole batch in one process
        torch.manual_seed(0)
        model = IAPix(preset("tiny"))
        half = slice(rank * 16, (rank + 1) * 16)
        model.latent.update(batch["z"][half], batch["s2"][half], batch["mu"][half], reduce=all_reduce_stats)
        torch.save({k: v for k, v in model.latent.state_dict().items()}, Path(out_dir) / f"gmm{rank}.pt")
        # 2) a short DDP training run keeps the GMM identical on both ranks
        data = prepare(["cat", "pig"], str(DATA), limit=16)
        tr = Trainer(preset("tiny", batch_size=4, max_steps=3), out_dir=Path(out_dir) / "run", data=data,
                     device="cpu", progress=False, save_every=0)
        tr.fit()
        torch.save(tr.model.latent.state_dict(), Path(out_dir) / f"trained{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_share_one_gmm(tmp_path):
    g = torch.Generator().manual_seed(1)
    batch = {"z": torch.randn(32, 8, generator=g), "s2": torch.rand(32, 8, generator=g) + 0.1,
             "mu": torch.randn(32, 8, generator=g)}
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path), batch), nprocs=2, join=True)
    g0, g1 = torch.load(tmp_path / "gmm0.pt"), torch.load(tmp_path / "gmm1.pt")
    torch.manual_seed(0)
    single = IAPix(preset("tiny"))
    single.latent.update(batch["z"], batch["s2"], batch["mu"])
    for k in ("alpha", "means", "variances"):
        assert torch.equal(g0[k], g1[k])
        torch.testing.assert_close(g0[k], getattr(single.latent, k), rtol=1e-5, atol=1e-6)
    t0, t1 = torch.load(tmp_path / "trained0.pt"), torch.load(tmp_path / "trained1.pt")
    for k in ("alpha", "means", "variances"):
        assert torch.equal(t0[k], t1[k])
    assert int(t0["steps"]) == 3


@pytest.mark.filterwarnings("ignore:--amp bf16-cnn:UserWarning")  # a CPU without bf16 hardware: slow, and said so
def test_amp_bf16_cnn_trains_the_cnns_in_bfloat16(tmp_path, small_data):
    cfg = preset("tiny", batch_size=8, max_steps=2)
    tr = Trainer(cfg, out_dir=tmp_path, data=small_data, device="cpu", amp="bf16-cnn", progress=False, save_every=0)
    assert tr.model.cnn_bf16 and tr.model.encoder.bf16 and tr.model.image_decoder.bf16
    seen: set[torch.dtype] = set()
    for conv in (tr.model.encoder.features[0].branches[0][0], tr.model.image_decoder.deconv[0]):
        conv.register_forward_hook(lambda m, i, out: seen.add(out.dtype))
    assert tr.fit()["iterations"] == 2
    assert seen == {torch.bfloat16}, "training and validation ran the convolutions in bfloat16"
    log = _rows(tmp_path / "log.csv")
    assert all(np.isfinite(float(r[k])) for r in log for k in ("total", "recon", "image"))
    assert float(log[0]["image"]) > 0, "the image decoder ran (warm-up) through the bf16 path"
    with pytest.raises(ValueError, match="--amp: expected one of"):
        Trainer(cfg, out_dir=tmp_path / "b", data=small_data, device="cpu", amp="fp8", progress=False)
