"""The fault suite: what a user can get wrong, and what the package does about it.

Each case makes the fault for real (a damaged file, a bad option, a second training, a killed
process, a full disk, a NaN gradient, a bad drawing), then checks the message (it names the file
or option and says what to do) and that no file was lost or changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix.checkpoint import (
    CheckpointError,
    checksum,
    export_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from iapix.cli import is_user_error, main
from iapix.data import prepare, read_ndjson, summary_table
from iapix.model import preset
from iapix.runfolder import RunLock
from iapix.sample import decode, drawing_to_stroke3
from iapix.train import LOG_FIELDS, Trainer, add_arguments, cpu_bf16

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHIPPED = ROOT / "checkpoints" / "catpig-small-ia.pt"
TINY = ["--config", "tiny", "--categories", "cat", "pig", "--data", str(DATA), "--limit", "24", "--batch-size", "8",
        "--device", "cpu"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")


# ----------------------------------------------------------------------------------------------
# helpers


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> SHA-256 of its bytes (to show that nothing was lost or changed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(capsys, *args) -> tuple[int, str, str]:
    """``iapix ARGS`` in this process -> (exit status, stdout, stderr); argparse's exits included."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str, command: str, *needles: str) -> str:
    """``err`` is one ``iapix COMMAND: error: ...`` line holding every needle; returns it."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"iapix {command}: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def argparse_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err and "error: argument" in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def train_options() -> set[str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return {s for a in parser._actions for s in a.option_strings}


def options_exist(message: str) -> None:
    """Every ``--option`` a message advises is an option of ``iapix train``."""
    advised = set(re.findall(r"--[a-z][a-z-]*", message))
    assert advised <= train_options(), advised - train_options()


def member_offset(path: Path) -> int:
    """Byte offset of the data of the largest member (a tensor's storage) of a torch zip file."""
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
    name_len, extra_len = int.from_bytes(head[26:28], "little"), int.from_bytes(head[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len + info.file_size // 2


def flip(path: Path, offset: int) -> None:
    b = bytearray(path.read_bytes())
    b[offset] ^= 0xFF
    path.write_bytes(bytes(b))


def same_state(a: dict, b: dict) -> bool:
    return checksum(a) == checksum(b)


# ----------------------------------------------------------------------------------------------
# fixtures: one tiny run, copied for each test that changes it


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    return prepare(["cat", "pig"], DATA, limit=24)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("base") / "run"
    Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=out, data=data, progress=False, save_every=2).fit()
    return out


@pytest.fixture
def run(base_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(base_run, dst)
    return dst


@pytest.fixture(scope="module")
def slim(base_run, tmp_path_factory) -> Path:
    return export_checkpoint(base_run / "best.pt", tmp_path_factory.mktemp("slim") / "slim.pt")


# ----------------------------------------------------------------------------------------------
# 1. damaged and foreign checkpoint files: a clear error that names the file


def _bad_files(tmp: Path, good: Path) -> dict[str, tuple[Path, str]]:
    raw = good.read_bytes()
    cases = {}

    def make(name: str, content: bytes | None, message: str) -> None:
        p = tmp / name
        if content is not None:
            p.write_bytes(content)
        cases[name] = (p, message)

    make("missing.pt", None, "no such checkpoint file")
    make("empty.pt", b"", "empty file (0 bytes)")
    make("truncated.pt", raw[:len(raw) // 2], "cut off")
    make("tail-lost.pt", raw[:-100], "cut off")
    make("notes.pt", b"epoch 3: loss 12.5\nlooks good\n", "a text file, not a checkpoint")
    make("data.pt", (DATA / "pig.npz").read_bytes(), "numpy .npz archive")
    (tmp / "folder.pt").mkdir()
    cases["folder.pt"] = (tmp / "folder.pt", "a folder, not a checkpoint file")
    zpath = tmp / "other.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("readme.txt", "hello")
    make("zip.pt", zpath.read_bytes(), "zip archive but not a PyTorch checkpoint")
    make("random.pt", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a checkpoint")
    torch.save(torch.zeros(3), tmp / "tensor.pt")
    cases["tensor.pt"] = (tmp / "tensor.pt", "holding a Tensor, not an iapix checkpoint")
    torch.save({"weights": torch.zeros(3)}, tmp / "foreign.pt")
    cases["foreign.pt"] = (tmp / "foreign.pt", "not an iapix checkpoint (no model, config")
    torch.save({"model": argparse.Namespace(a=1), "config": {}, "scale": 1, "max_len": 1, "categories": []},
               tmp / "pickled.pt")
    cases["pickled.pt"] = (tmp / "pickled.pt", "could run code")
    return cases


BAD = ["missing.pt", "empty.pt", "truncated.pt", "tail-lost.pt", "notes.pt", "data.pt", "folder.pt", "zip.pt",
       "random.pt", "tensor.pt", "foreign.pt", "pickled.pt"]


@pytest.mark.parametrize("name", BAD)
def test_bad_checkpoint_file_is_named_with_what_is_wrong(tmp_path, slim, name):
    path, message = _bad_files(tmp_path, slim)[name]
    before = files(tmp_path)
    with pytest.raises((CheckpointError, FileNotFoundError)) as e:
        load_checkpoint(path)
    assert str(path) in str(e.value) and message in str(e.value)
    assert files(tmp_path) == before


@pytest.mark.parametrize("name", ["empty.pt", "truncated.pt", "notes.pt", "data.pt", "missing.pt"])
def test_sample_on_a_bad_checkpoint_prints_one_line(tmp_path, capsys, slim, name):
    path, message = _bad_files(tmp_path, slim)[name]
    before = files(tmp_path)
    code, _, err = cli(capsys, "sample", "--checkpoint", path, "--component", "0", "--out", tmp_path / "s.png")
    assert code == 2
    one_line_error(err, "sample", str(path), message)
    assert files(tmp_path) == before, "nothing written, nothing changed"


def test_evaluate_on_a_text_file_prints_one_line_and_writes_nothing(tmp_path, capsys, slim):
    path, message = _bad_files(tmp_path, slim)["notes.pt"]
    code, _, err = cli(capsys, "evaluate", "--checkpoint", path, "--data", DATA)
    assert code == 2
    one_line_error(err, "evaluate", str(path), message)
    assert not (tmp_path / "eval").exists()


def test_a_flipped_byte_in_the_weights_is_found(tmp_path, slim):
    p = tmp_path / "x.pt"
    shutil.copy(slim, p)
    assert load_checkpoint(p).verified
    flip(p, member_offset(p))
    before = files(tmp_path)
    with pytest.raises(CheckpointError, match=r"x\.pt: damaged: its contents do not match the checksum"):
        load_checkpoint(p)
    assert files(tmp_path) == before


def test_every_flipped_byte_is_either_refused_or_harmless(tmp_path, slim):
    """Flip one byte at 60 places across the file: each copy is refused or loads exactly the same contents."""
    good = read_checkpoint(slim)
    size = slim.stat().st_size
    refused = 0
    for offset in np.linspace(0, size - 1, 60).astype(int):
        p = tmp_path / f"flip-{offset}.pt"
        shutil.copy(slim, p)
        flip(p, int(offset))
        try:
            state = read_checkpoint(p)
        except CheckpointError as e:
            assert str(p) in str(e)
            refused += 1
        else:
            assert same_state(state, good), f"byte {offset} changed the contents silently"
        p.unlink()
    assert refused > 30


def test_damaged_best_pt_is_found_at_resume_not_at_the_first_rollback(run, capsys):
    flip(run / "best.pt", member_offset(run / "best.pt"))
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "3", "--out", run, "--resume")
    assert code == 2
    one_line_error(err, "train", str(run / "best.pt"), "damaged")
    assert files(run) == before


@pytest.mark.parametrize("damaged, copy_from", [("last.pt", "best.pt"), ("best.pt", "last.pt")])
def test_the_readme_recovery_of_a_damaged_checkpoint_works(run, capsys, damaged, copy_from):
    """README "Recovering a run": a damaged file is replaced by a copy of the other one, and resume works."""
    (run / damaged).write_bytes(b"")
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 2 and "empty file" in err
    shutil.copy(run / copy_from, run / damaged)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 0, err
    assert read_checkpoint(run / "last.pt")["iteration"] == 12


def test_damaged_last_pt_refuses_resume(run, capsys):
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:5000])
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "3", "--out", run, "--resume")
    assert code == 2
    one_line_error(err, "train", str(run / "last.pt"), "cut off")
    assert files(run) == before


@pytest.mark.parametrize("change, message", [
    ("rename", "another version of iapix: its weights do not fit this model (1 missing, 1 unexpected"),
    ("shape", "of another shape"),
    ("config", "its config does not fit this version of iapix"),
])
def test_a_checkpoint_of_another_model_version_gets_one_sentence(tmp_path, slim, change, message):
    state = read_checkpoint(slim)
    if change == "rename":
        key = next(iter(state["model"]))
        state["model"]["renamed." + key] = state["model"].pop(key)
    elif change == "shape":
        state["config"] = {**state["config"], "z_dim": state["config"]["z_dim"] + 1}
    else:
        state["config"] = {**state["config"], "a_future_field": 1}
    p = save_checkpoint(state, tmp_path / "other.pt")
    before = files(tmp_path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p)
    assert str(p) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)
    assert "Missing key(s)" not in str(e.value), "not torch's list of keys"
    assert files(tmp_path) == before


def test_checkpoints_without_checksum_still_load(tmp_path):
    """Checkpoints written before checksums (the models shipped until 2026-11-29) load, marked unverified."""
    state = torch.load(SHIPPED, weights_only=True)
    assert load_checkpoint(SHIPPED).verified == ("sha256" in state)
    state.pop("sha256", None)
    torch.save(state, tmp_path / "old.pt")
    ck = load_checkpoint(tmp_path / "old.pt")
    assert not ck.verified and ck.categories == ["cat", "pig"] and ck.max_len > 0 and ck.scale > 0


def test_a_legacy_last_pt_resumes_exactly(tmp_path, data):
    """A run written before checksums (no ``sha256``) resumes, and its curve continues the uninterrupted one."""
    cfg = preset("tiny", batch_size=8, max_epochs=2)
    ref = Trainer(cfg, out_dir=tmp_path / "ref", data=data, progress=False, save_every=1)
    ref.fit()
    Trainer(dataclasses.replace(cfg, max_steps=4), out_dir=tmp_path / "old", data=data, progress=False,
            save_every=1).fit()
    legacy = {k: v for k, v in read_checkpoint(tmp_path / "old" / "last.pt").items() if k != "sha256"}
    torch.save(legacy, tmp_path / "old" / "last.pt")  # as the code before checksums wrote it
    resumed = Trainer(cfg, out_dir=tmp_path / "old", data=data, progress=False, save_every=1, resume=True)
    assert resumed.iteration == 4
    resumed.fit()
    a = (tmp_path / "ref" / "log.csv").read_text().splitlines()
    b = (tmp_path / "old" / "log.csv").read_text().splitlines()
    assert len(a) == len(b) == 1 + 12
    np.testing.assert_allclose([float(r.split(",")[4]) for r in b[1:]], [float(r.split(",")[4]) for r in a[1:]],
                               rtol=1e-4)
    assert "sha256" in torch.load(tmp_path / "old" / "last.pt", weights_only=True), "rewritten with a checksum"


# ----------------------------------------------------------------------------------------------
# 2. saving: full disk, NaN weights, interruptions -- the old file stays, no temporary file is left


def test_full_disk_names_the_file_and_leaves_the_old_one(tmp_path, slim, monkeypatch):
    p = tmp_path / "last.pt"
    shutil.copy(slim, p)
    before = files(tmp_path)

    def full_disk(obj, f, *a, **k):
        f.write(b"PK\x03\x04" + bytes(1000))  # some bytes made it, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as e:
        save_checkpoint(read_checkpoint(slim), p)
    assert e.value.errno == errno.ENOSPC and str(p) in str(e.value) and "the disk is full" in str(e.value)
    assert files(tmp_path) == before, "old file intact, no temporary file left"


def test_full_disk_during_training_keeps_the_last_checkpoint(run, data, monkeypatch):
    before = read_checkpoint(run / "last.pt")
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=2), out_dir=run, data=data, progress=False, save_every=2,
                 resume=True)
    real, calls = torch.save, {"n": 0}

    def fails_the_second_time(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", fails_the_second_time)
    with pytest.raises(OSError, match=r"last\.pt: cannot write the checkpoint \(No space left on device; the disk"):
        tr.fit()
    monkeypatch.setattr(torch, "save", real)
    after = read_checkpoint(run / "last.pt")  # still a good checkpoint: the first save of this fit
    assert after["iteration"] == before["iteration"] + 2
    assert not list(run.glob("*.tmp")) and not (run / ".lock").exists()


def test_a_full_disk_while_writing_the_logs_says_what_to_do(run, data, monkeypatch, capsys):
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=2), out_dir=run, data=data, progress=False, resume=True)
    before = read_checkpoint(run / "last.pt")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write to valid.csv would

    monkeypatch.setattr(tr, "_end_epoch", full)
    with pytest.raises(OSError) as e:
        tr.fit()
    assert str(e.value).startswith(f"{run}: the disk is full (No space left on device)") and "--resume" in str(e.value)
    options_exist(str(e.value))
    assert same_state(read_checkpoint(run / "last.pt"), before), "last.pt as it was: resume continues from it"
    assert not (run / ".lock").exists()


def _export_under_a_write_limit(src: Path, folder: Path, limit: int) -> None:
    """``iapix export src folder/copy.pt`` with the OS refusing writes beyond ``limit`` bytes (a file-size limit
    stands in for a full disk): one line, exit 2, no files left."""
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
              "from iapix.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", script, "export", str(src), str(folder / "copy.pt")], env=ENV,
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    one_line_error(r.stderr, "export", str(folder / "copy.pt"), "cannot write", "no temporary file")
    assert list(folder.iterdir()) == []


def test_a_real_write_limit_is_reported_by_export(tmp_path, slim):
    """The OS refuses the write: one line, no files left."""
    _export_under_a_write_limit(slim, tmp_path, 200000)


def test_nan_weights_are_never_saved(tmp_path, slim):
    p = tmp_path / "last.pt"
    shutil.copy(slim, p)
    before = files(tmp_path)
    state = read_checkpoint(slim)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][key] = state["model"][key].clone().fill_(float("nan"))
    with pytest.raises(CheckpointError, match=rf"last\.pt: not written: the weights hold NaN/inf \({re.escape(key)}"):
        save_checkpoint(state, p)
    assert files(tmp_path) == before


def test_an_interrupted_save_leaves_the_old_file(tmp_path, slim, monkeypatch):
    p = tmp_path / "best.pt"
    shutil.copy(slim, p)
    before = files(tmp_path)

    def interrupted(obj, f, *a, **k):
        f.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(read_checkpoint(slim), p)
    assert files(tmp_path) == before


def test_a_killed_save_leaves_a_tmp_that_the_next_run_replaces(run, capsys):
    """A SIGKILL during a save leaves ``last.pt.tmp``: last.pt is untouched, resume works, the tmp goes."""
    (run / "last.pt.tmp").write_bytes(b"PK\x03\x04 half of a checkpoint")
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--save-every", "1", "--out", run, "--resume")
    assert code == 0, err
    assert not (run / "last.pt.tmp").exists() and read_checkpoint(run / "last.pt")["iteration"] == 12


# ----------------------------------------------------------------------------------------------
# 3. export: never over its own source, never over another file unasked


def test_export_onto_its_own_source_is_refused(run, capsys):
    before = files(run)
    code, _, err = cli(capsys, "export", run / "last.pt", run / "last.pt")
    assert code == 2
    one_line_error(err, "export", str(run / "last.pt"), "same file as the source", "could no longer be resumed")
    code, _, err = cli(capsys, "export", run / "last.pt", run / ".." / run.name / "last.pt", "--overwrite")
    assert code == 2 and "same file as the source" in err
    assert files(run) == before
    assert "optimizer" in read_checkpoint(run / "last.pt")


def test_export_over_another_file_needs_overwrite(run, capsys):
    (run / "slim.pt").write_bytes(b"an older export")
    before = files(run)
    code, _, err = cli(capsys, "export", run / "best.pt", run / "slim.pt")
    assert code == 2
    one_line_error(err, "export", str(run / "slim.pt"), "already exists", "--overwrite")
    assert files(run) == before
    code, out, _ = cli(capsys, "export", run / "best.pt", run / "slim.pt", "--overwrite")
    assert code == 0 and str(run / "slim.pt") in out
    ck = load_checkpoint(run / "slim.pt")
    assert ck.verified and "optimizer" not in read_checkpoint(run / "slim.pt")


@pytest.mark.parametrize("what, message", [("folder", "a folder; give the file to write"),
                                           ("damaged", "cut off")])
def test_export_refuses_a_folder_or_a_damaged_source(run, capsys, what, message):
    src, dst = run / "best.pt", run / "out"
    if what == "folder":
        dst.mkdir()
    else:
        src.write_bytes(src.read_bytes()[:3000])
        dst = run / "slim.pt"
    before = files(run)
    code, _, err = cli(capsys, "export", src, dst)
    assert code == 2 and message in err
    assert files(run) == before and not (run / "slim.pt").exists()


# ----------------------------------------------------------------------------------------------
# 4. the run folder: no run overwritten unasked, one training at a time


def test_a_new_run_over_an_old_one_is_refused(run, capsys):
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--out", run)
    assert code == 2
    line = one_line_error(err, "train", str(run), "holds a run already", "--resume", "--overwrite")
    options_exist(line)
    assert files(run) == before


def test_overwrite_moves_the_old_run_aside(run, capsys):
    (run / "notes.txt").write_text("lr 1e-3 was too high")
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-steps", "2", "--out", run, "--overwrite")
    assert code == 0, err
    (old,) = [p for p in run.iterdir() if p.name.startswith("old-")]
    assert f"moved to {old}" in err
    assert files(old) == before, "every old file kept, unchanged"
    assert read_checkpoint(run / "last.pt")["iteration"] == 2
    assert not (run / "notes.txt").exists() and not (run / ".lock").exists()
    # README: move the old files back to resume that run
    new = run.parent / "new"
    run.rename(new)
    (new / old.name).rename(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 0, err
    assert read_checkpoint(run / "last.pt")["iteration"] == 12


@pytest.mark.parametrize("other", ["resume", "overwrite"])
def test_a_trainer_does_not_fit_over_a_run_changed_after_its_set_up(run, data, other):
    """The folder is unlocked between a Trainer's set-up and its fit() (a notebook may fit much later):
    a run resumed or moved aside there meanwhile is not trained over."""
    cfg = preset("tiny", batch_size=8, max_epochs=3)
    first = Trainer(cfg, out_dir=run, data=data, progress=False, resume=True)
    Trainer(cfg, out_dir=run, data=data, progress=False, resume=other == "resume",
            overwrite=other == "overwrite").fit()
    after = files(run)
    with pytest.raises(FileExistsError, match="changed after this trainer was set up"):
        first.fit()
    assert files(run) == after
    # untouched: set up, fit, fit again (its own saves are its own)
    again = Trainer(cfg, out_dir=run, data=data, progress=False, resume=True)
    again.fit()
    again.cfg.max_epochs = 4
    again.done = False
    again.fit()


def test_a_folder_without_a_run_is_used_and_its_files_kept(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    code, _, err = cli(capsys, "train", *TINY, "--max-steps", "1", "--out", out)
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "my notes" and (out / "last.pt").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--resume"], "no such file: nothing to resume"),
    (["--resume", "--overwrite"], "choose one"),
])
def test_resume_needs_a_run_and_excludes_overwrite(tmp_path, capsys, extra, message):
    out = tmp_path / "empty"
    code, _, err = cli(capsys, "train", *TINY, "--out", out, *extra)
    assert code == 2
    options_exist(one_line_error(err, "train", message))
    assert not out.exists()


def test_a_second_training_on_a_locked_folder_is_refused(run, capsys):
    before = files(run)
    with RunLock(run):  # another training holds the folder
        for extra in ([], ["--resume"], ["--overwrite"]):
            code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, *extra)
            assert code == 2
            line = one_line_error(err, "train", str(run), "in use by another training", f"pid {os.getpid()}")
            options_exist(line.split("); ", 1)[1])  # the advice, not the holder's command line
    assert files(run) == before, "neither the files nor the logs were touched"


def test_two_trainers_in_one_process_cannot_fit_the_same_folder(run, data):
    a = Trainer(preset("tiny", batch_size=8, max_epochs=2), out_dir=run, data=data, progress=False, resume=True)
    with RunLock(run):
        before = files(run)
        with pytest.raises(RuntimeError, match="in use by another training"):
            a.fit()
        assert files(run) == before


def test_a_killed_training_leaves_no_stale_lock(run, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from iapix.runfolder import RunLock; RunLock(sys.argv[1]).acquire(); "
                               "print('locked', flush=True); time.sleep(600)", str(run)],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
        assert code == 2 and f"pid {holder.pid}" in err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 0, err
    assert read_checkpoint(run / "last.pt")["iteration"] == 12 and not (run / ".lock").exists()


def test_the_lock_is_released_when_a_run_fails(tmp_path, data):
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=tmp_path / "r", data=data, progress=False,
                 max_bad_steps=2)
    tr.net.forward = lambda *a, **k: {"total": torch.tensor(float("nan"))}
    with pytest.raises(RuntimeError):
        tr.fit()
    assert not (tmp_path / "r" / ".lock").exists()
    with RunLock(tmp_path / "r"):
        pass


# ----------------------------------------------------------------------------------------------
# 5. NaN/inf gradients with a finite loss


def test_a_nan_gradient_never_reaches_the_weights(tmp_path, data):
    out = tmp_path / "r"
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=out, data=data, progress=False, save_every=1)
    p = next(tr.model.decoder.parameters())
    calls = {"n": 0}

    def poison(g):
        calls["n"] += 1
        return torch.full_like(g, float("nan")) if calls["n"] == 2 else g

    p.register_hook(poison)
    summary = tr.fit()
    assert summary["skipped"] == 1 and calls["n"] == 6
    assert all(bool(torch.isfinite(v).all()) for v in tr.model.state_dict().values() if v.is_floating_point())
    rows = (out / "log.csv").read_text().splitlines()[1:]
    assert len(rows) == 5 and rows[-1].endswith(",1"), "5 steps logged, 1 skipped"
    last = load_checkpoint(out / "last.pt")
    assert last.verified and last.info["iteration"] == 6


def test_inf_gradients_in_a_row_stop_with_advice_that_exists(tmp_path, data):
    out = tmp_path / "r"
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=out, data=data, progress=False, save_every=1,
                 max_bad_steps=3)
    calls = {"n": 0}

    def poison(g):
        calls["n"] += 1
        return torch.full_like(g, float("inf")) if calls["n"] >= 3 else g

    next(tr.model.decoder.parameters()).register_hook(poison)
    with pytest.raises(RuntimeError, match="NaN/inf for 3 steps in a row") as e:
        tr.fit()
    options_exist(str(e.value))
    assert "best.pt" not in str(e.value)
    last = read_checkpoint(out / "last.pt")
    assert last["iteration"] == 4 and all(bool(torch.isfinite(v).all()) for v in last["model"].values()
                                          if v.is_floating_point())


def test_nan_weights_keep_the_previous_last_pt(run, data):
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=2), out_dir=run, data=data, progress=False, resume=True)
    before = files(run)
    with torch.no_grad():
        next(tr.model.parameters()).fill_(float("nan"))
    with pytest.raises(CheckpointError, match=r"last\.pt: not written: the weights hold NaN/inf"):
        tr.save("last.pt")
    assert files(run) == before


def test_a_nan_validation_loss_advises_real_options(tmp_path, data, monkeypatch):
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=tmp_path / "r", data=data, progress=False)
    monkeypatch.setattr(tr, "validate", lambda: {"recon": float("nan"), "offset": 0.0, "pen": 0.0})
    with pytest.raises(RuntimeError, match="validation reconstruction loss is nan") as e:
        tr.fit()
    options_exist(str(e.value))
    assert "resume from best.pt" not in str(e.value)


# ----------------------------------------------------------------------------------------------
# 6. bad input files


def _ndjson_line(word: str = "cat", key: str = "1") -> bytes:
    rec = {"word": word, "key_id": key, "drawing": [[[0, 50, 100], [0, 40, 0]], [[10, 10], [60, 90]]]}
    return (json.dumps(rec) + "\n").encode()


@pytest.mark.parametrize("bad, reason", [
    (b'{"word": "cat", "key_id": "9", "drawing": [[[0, 5\xff]]]}\n', "not UTF-8 (byte 0xff at column 50)"),
    (b"[1, 2, 3]\n", "expected a JSON object, got list"),
    (b"42\n", "expected a JSON object, got int"),
    (b'"a cat"\n', "expected a JSON object, got str"),
    (b"{not json\n", "JSONDecodeError"),
    (b'{"word": "cat", "key_id": "7"}\n', "no 'drawing' field"),
])
def test_a_bad_ndjson_line_is_dropped_and_counted(tmp_path, bad, reason):
    p = tmp_path / "cats.ndjson"
    p.write_bytes(_ndjson_line(key="1") + bad + _ndjson_line(key="2"))
    before = files(tmp_path)
    with pytest.warns(UserWarning, match=r"dropped 1 sketches"):
        sk = read_ndjson(p)
    assert len(sk) == 2 and sum(sk.dropped.values()) == 1
    (index, why), = sk.examples
    assert index == 2 and why.startswith("line 2: ") and reason in why
    assert files(tmp_path) == before


def test_an_ndjson_file_of_bad_lines_names_the_file_and_the_lines(tmp_path):
    p = tmp_path / "bad.ndjson"
    p.write_bytes(b"[1]\n\xfe\xfe\n")
    with pytest.raises(ValueError, match=r"bad\.ndjson: no usable drawing \(dropped: 2; first: line 1: .*; line 2: "):
        read_ndjson(p)


def _npz_with(tmp: Path, name: str, change) -> Path:
    """A copy of data/pig.npz (as ``name``) with ``change(arrays)`` applied."""
    with np.load(DATA / "pig.npz", allow_pickle=True, encoding="latin1") as f:
        arrays = {k: f[k].copy() for k in f.files}
    change(arrays)
    np.savez(tmp / f"{name}.npz", **arrays)
    return tmp / f"{name}.npz"


def test_clipped_offsets_are_counted_and_reported(tmp_path):
    def big(arrays):
        s = arrays["train"][0].astype(np.int32)
        s[1, 0] = 5000
        arrays["train"][0] = s
    _npz_with(tmp_path, "pig", big)
    with pytest.warns(UserWarning, match=r"1 sketches have offsets beyond ±1000, clipped to it"):
        p = prepare(["pig"], tmp_path, limit=5)
    assert p.report[0]["clipped"] == 1
    assert np.abs(p.strokes["train"][0][:, :2]).max() * p.scale == pytest.approx(1000, rel=1e-5)
    assert "1 with offsets clipped to ±1000" in summary_table(p)


def test_build_embedded_never_wraps_through_int16(tmp_path, capsys):
    src = tmp_path / "src" / "quickdraw_stimulus_generation"
    src.mkdir(parents=True)
    sketches = [np.array([[1, 2, 0], [3, 4, 1]], np.int32), np.array([[40000, 0, 1]], np.int32),
                np.array([[-5, 7, 0], [2, 2, 1]], np.int32)]
    arr = np.empty(3, dtype=object)
    arr[:] = sketches
    np.savez(src / "pig.npz", sketches=arr)
    with pytest.warns(UserWarning, match=r"dropped 1 sketches \(1 values beyond int16 \(0\.\.40000\)\)"):
        code, out, err = cli(capsys, "build-embedded", "--source", tmp_path / "src", "--out", tmp_path / "out",
                             "--categories", "pig")
    assert code == 0, err
    with np.load(tmp_path / "out" / "pig.npz", allow_pickle=True) as f:
        kept = [s for k in f.files for s in f[k]]
    assert len(kept) == 2 and all(s.dtype == np.int16 for s in kept)
    assert sorted(s.tolist() for s in kept) == sorted(s.tolist() for s in (sketches[0], sketches[2]))


def test_an_empty_validation_split_is_refused_before_training(tmp_path, data):
    empty = dataclasses.replace(data, strokes={**data.strokes, "valid": []},
                                labels={**data.labels, "valid": np.zeros(0, np.int64)},
                                images={**data.images, "valid": np.zeros((0, 48, 48), np.float32)})
    with pytest.raises(ValueError, match="the validation split is empty"):
        Trainer(preset("tiny", batch_size=8), out_dir=tmp_path / "r", data=empty, progress=False)
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------------------------
# 7. bad options: numbers that leave nothing to do, paths, devices


@pytest.mark.parametrize("args, needles", [
    (["prepare", "--limit", "0"], ["--limit", "expected a positive integer, got 0"]),
    (["prepare", "--limit", "-3"], ["--limit", "got -3"]),
    (["prepare", "--max-len", "0"], ["--max-len", "got 0"]),
    (["train", "--limit", "0"], ["--limit", "got 0"]),
    (["train", "--save-every", "-1"], ["--save-every", "expected an integer >= 0"]),
    (["sample", "--checkpoint", SHIPPED, "--component", "0", "--n", "0"], ["--n", "got 0"]),
    (["sample", "--checkpoint", SHIPPED, "--component", "0", "--n", "-2"], ["--n", "got -2"]),
    (["sample", "--checkpoint", SHIPPED, "--from-test", "0"], ["--from-test", "got 0"]),
    (["sample", "--checkpoint", SHIPPED, "--component", "0", "--temperature", "inf"], ["--temperature", "finite"]),
    (["sample", "--checkpoint", SHIPPED, "--component", "0", "--temperature", "nan"], ["--temperature", "finite"]),
    (["sample", "--checkpoint", SHIPPED, "--component", "0", "--temperature", "0"], ["--temperature", "> 0"]),
    (["download", "pig", "--retries", "-1"], ["--retries", "expected an integer >= 0"]),
])
def test_option_values_that_leave_nothing_to_do(tmp_path, capsys, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere
    code, _, err = cli(capsys, *args)
    assert code == 2
    argparse_error(err, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, needles", [
    (["--max-epochs", "0"], ["max_epochs (--max-epochs): expected at least 1, got 0: nothing would be trained"]),
    (["--max-steps", "0"], ["max_steps (--max-steps): expected at least 1"]),
    (["--patience", "0"], ["patience (--patience): expected at least 1"]),
    (["--max-len", "3"], ["every one of its", "longer than max_len=3", "raise --max-len"]),
    (["--categories", "cat", "cat"], ["categories: cat given more than once"]),
    (["--categories", "unicorn"], ["unknown category 'unicorn'"]),
])
def test_train_settings_that_leave_nothing_to_do(tmp_path, capsys, extra, needles):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", *TINY, "--out", out, *extra)
    assert code == 2
    options_exist(one_line_error(err, "train", *needles))
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("args, needles", [
    (["prepare", "--categories", "pig", "pig"], ["pig given more than once"]),
    (["prepare", "--categories", "pig", "--max-len", "2"], ["pig.npz['train']", "(the shortest has", "--max-len"]),
])
def test_prepare_refuses_duplicates_and_a_max_len_below_every_sketch(tmp_path, capsys, args, needles):
    code, _, err = cli(capsys, *args, "--data", DATA, "--preview", tmp_path / "p.png")
    assert code == 2
    one_line_error(err, "prepare", *needles)
    assert not (tmp_path / "p.png").exists()


def test_sample_out_folder_gets_a_file_and_the_path_printed_is_the_one_written(base_run, tmp_path, capsys):
    for out, written in ((tmp_path / "pics", tmp_path / "pics" / "samples.png"),
                         (f"{tmp_path / 'new'}/", tmp_path / "new" / "samples.png")):
        if not str(out).endswith("/"):
            out.mkdir()
        code, stdout, err = cli(capsys, "sample", "--checkpoint", base_run / "best.pt", "--component", "0",
                                "--n", "2", "--out", out)
        assert code == 0, err
        assert f"-> {written}" in stdout and written.stat().st_size > 1000


def test_sample_out_without_a_picture_suffix_is_refused(base_run, tmp_path, capsys):
    code, _, err = cli(capsys, "sample", "--checkpoint", base_run / "best.pt", "--component", "0",
                       "--out", tmp_path / "grid")
    assert code == 2
    one_line_error(err, "sample", "expected a .png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device, message", [("bogus", "expected auto, cpu, cuda or cuda:N"),
                                             ("cuda:99", "cuda:99")])
def test_a_bad_device_is_one_line(base_run, tmp_path, capsys, device, message):
    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 99:
        pytest.skip("this machine has 100 GPUs")
    code, _, err = cli(capsys, "sample", "--checkpoint", base_run / "best.pt", "--component", "0",
                       "--device", device, "--out", tmp_path / "s.png")
    assert code == 2
    one_line_error(err, "sample", "--device", message)


def test_plot_log_of_a_run_without_steps(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("iteration,step,epoch,lr,total\n")
    (run / "valid.csv").write_text("iteration,step\n")
    before = files(run)
    code, _, err = cli(capsys, "plot-log", run)
    assert code == 2
    one_line_error(err, "plot-log", str(run / "log.csv"), "no step logged yet")
    assert files(run) == before


def test_plot_log_creates_its_output_folder(base_run, tmp_path, capsys):
    out = tmp_path / "not" / "yet" / "curves.png"
    code, stdout, err = cli(capsys, "plot-log", base_run, "--out", out)
    assert code == 0, err
    assert stdout.strip() == str(out) and out.stat().st_size > 10_000


def test_decode_refuses_an_infinite_temperature():
    ck = load_checkpoint(SHIPPED)
    with pytest.raises(ValueError, match=r"temperature inf: expected a finite number > 0"):
        decode(ck, torch.zeros(1, ck.config.z_dim), temperature=float("inf"))
    assert len(decode(ck, torch.zeros(1, ck.config.z_dim), temperature=float("inf"), greedy=True, max_len=5)) == 1


# ----------------------------------------------------------------------------------------------
# 8. bad drawings


@pytest.mark.parametrize("lines, message", [
    ([[[10.0, 10.0], [10.1, 10.0]]], "only 0.1 px across"),
    ([[[10.0, 10.0], [10.05, 10.05], [10.0, 10.1]]], "only 0.1 px across"),
    ([[{"x": 1, "y": 2}, {"x": 3, "y": 4}]], "stroke 0: expected a list of [x, y] number pairs"),
    ([[[1.0, 2.0], [3.0, 4.0]], [["a", "b"]]], "stroke 1: expected a list of [x, y] number pairs"),
    ([[[1.0, 2.0], [3.0, None]]], "stroke 0"),
    ("strokes", "expected a list of strokes"),
])
def test_bad_drawings_are_refused_with_a_message(lines, message):
    with pytest.raises(ValueError) as e:
        drawing_to_stroke3(lines)
    assert message in str(e.value)


def test_a_small_real_drawing_is_fine():
    s = drawing_to_stroke3([np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 2.0]])])
    assert len(s) >= 2 and np.abs(np.cumsum(s[:, :2], 0)).max() == 255


@pytest.fixture(scope="module")
def draw_explorer(shipped_ia):
    pytest.importorskip("anywidget")
    from iapix.widgets import DrawExplorer

    ck, data = shipped_ia
    return DrawExplorer(ck, data, n=1)


@pytest.mark.parametrize("strokes, message", [
    ([[{"x": 10, "y": 10}, {"x": 50, "y": 60}]], "expected a list of [x, y] number pairs"),
    ([[[10.0, 10.0], [10.1, 10.0]]], "only 0.1 px across"),
    ([[[10.0, 10.0], [None, 10.0]]], "stroke 0"),
])
def test_draw_explorer_shows_a_message_not_a_traceback(draw_explorer, strokes, message):
    e = draw_explorer
    assert e.update(strokes) is None
    (out,) = e.output.outputs
    assert out["output_type"] == "stream" and message in out["text"] and "Traceback" not in out["text"]
    assert e.error is not None and e.info is None


# ----------------------------------------------------------------------------------------------
# 9. user errors vs bugs


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        main(["sample", "--checkpoint", str(tmp_path / "none.pt"), "--component", "0", "--debug",
              "--out", str(tmp_path / "s.png")])


def test_a_bug_keeps_its_traceback(base_run, tmp_path, monkeypatch):
    import iapix.sample as S

    def broken(*a, **k):
        return {}["no such key"]

    monkeypatch.setattr(S, "from_component", broken)
    with pytest.raises(KeyError):
        main(["sample", "--checkpoint", str(base_run / "best.pt"), "--component", "0",
              "--out", str(tmp_path / "a.png")])


def test_errors_from_inside_numpy_are_bugs_and_the_packages_own_are_not():
    with pytest.raises(ValueError) as e:
        np.zeros(3).reshape(2)
    assert not is_user_error(e.value)
    with pytest.raises(ValueError) as e:
        drawing_to_stroke3([])
    assert is_user_error(e.value)
    assert is_user_error(FileNotFoundError(2, "No such file", "x.pt"))


def test_a_module_edited_while_it_runs_keeps_user_errors_and_bugs_apart(tmp_path, monkeypatch):
    """What raised an error is read from the code that ran, not from the source file: edited since it was imported
    (its lines moved), it still tells a deliberate raise from a bug, both ways round. And a ``raise`` statement whose
    message fails to build raised nothing deliberately."""
    import importlib.util
    import linecache

    import iapix.cli

    path = tmp_path / "edited.py"
    path.write_text("def user():\n    raise ValueError('a message for the user')\n\n\n"
                    "def bug():\n    return {}['key']\n\n\n"
                    "def message():\n    raise ValueError(f\"{int('z')}\")\n")
    spec = importlib.util.spec_from_file_location("edited", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path.write_text("x = 1\n" * 5 + "raise RuntimeError('line 6 is a raise now')\n")  # line 2 is not
    linecache.checkcache(str(path))
    monkeypatch.setattr(iapix.cli, "PACKAGE", path.resolve().parent)  # as if it were a module of iapix
    with pytest.raises(ValueError) as e:
        module.user()
    assert is_user_error(e.value)
    with pytest.raises(KeyError) as e:
        module.bug()
    assert not is_user_error(e.value)
    with pytest.raises(ValueError, match="invalid literal") as e:
        module.message()
    assert not is_user_error(e.value)


def test_the_real_entry_point_prints_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "iapix.cli", "sample", "--checkpoint", str(tmp_path / "nope.pt"),
                        "--component", "0", "--out", str(tmp_path / "s.png")], env=ENV, capture_output=True, text=True)
    assert r.returncode == 2
    one_line_error(r.stderr, "sample", str(tmp_path / "nope.pt"), "no such checkpoint file")
    r = subprocess.run([sys.executable, "-m", "iapix.train", *TINY, "--out", str(tmp_path / "r"), "--max-epochs", "0"],
                       env=ENV, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == ("iapix.train: error: max_epochs (--max-epochs): expected at "
                                                      "least 1, got 0: nothing would be trained")


# ----------------------------------------------------------------------------------------------
# 10. the last rough edges: one clear line naming the file or flag, nothing created or kept by mistake


def test_a_folder_where_a_category_file_belongs_is_named_as_a_folder(tmp_path, capsys):
    (tmp_path / "cat.npz").mkdir()
    code, _, err = cli(capsys, "prepare", "--categories", "cat", "--data", tmp_path, "--preview", "")
    assert code == 2
    one_line_error(err, "prepare", f"{tmp_path / 'cat.npz'}: a folder, not a .npz file")
    assert [p.name for p in tmp_path.iterdir()] == ["cat.npz"] and not any((tmp_path / "cat.npz").iterdir())


def test_sketches_whose_offsets_are_all_zero_name_the_file_and_the_zero_scale(tmp_path, capsys):
    def flat(arrays):
        for split in ("train", "valid", "test"):
            for s in arrays[split]:
                s[:, :2] = 0
    path = _npz_with(tmp_path, "pig", flat)
    code, _, err = cli(capsys, "prepare", "--categories", "pig", "--data", tmp_path, "--limit", "5", "--preview",
                       tmp_path / "p.png")
    assert code == 2
    one_line_error(err, "prepare", str(path), "scale factor (standard deviation) is 0")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("stroke", [
    [[-1.7e308, 1.7e308], [0, 0]],  # simplified: the offset overflows
    [[-1.7e308, 1.7e308], [0, 0], [0, 1]],  # raw: the extent overflows in the simplification
])
def test_coordinates_whose_offsets_overflow_are_dropped_and_counted(tmp_path, stroke):
    p = tmp_path / "cats.ndjson"
    big = json.dumps({"word": "cat", "key_id": "9", "drawing": [stroke]}).encode() + b"\n"
    p.write_bytes(_ndjson_line(key="1") + big + _ndjson_line(key="2"))
    with pytest.warns(UserWarning, match=r"dropped 1 sketches"):
        sk = read_ndjson(p)
    assert len(sk) == 2 and all(np.isfinite(s).all() for s in sk.strokes)
    (index, why), = sk.examples
    assert index == 2 and "coordinates too large: offsets overflow" in why


def test_resume_drops_a_row_cut_short_by_a_kill_and_plot_log_draws(run, capsys):
    for name in ("log.csv", "valid.csv"):
        with open(run / name, "a") as f:
            f.write("2")  # the kill came while this row was being written
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 0, err
    rows = (run / "log.csv").read_text().splitlines()
    assert len(rows) == 1 + 12 and all(len(r.split(",")) == len(LOG_FIELDS) for r in rows)
    assert all(len(r.split(",")) == 10 for r in (run / "valid.csv").read_text().splitlines())
    code, out, err = cli(capsys, "plot-log", run)
    assert code == 0 and err == "" and Path(out.strip()).stat().st_size > 10_000


def test_plot_log_leaves_out_a_row_being_written(run, capsys):
    with open(run / "log.csv", "a") as f:
        f.write("7,6,1,0.00")
    before = files(run)
    with pytest.warns(UserWarning, match=re.escape(f"{run / 'log.csv'}: 1 incomplete row(s) left out")):
        code, out, err = cli(capsys, "plot-log", run, "--out", run.parent / "curves.png")
    assert code == 0, err
    assert files(run) == before and (run.parent / "curves.png").stat().st_size > 10_000


def test_curve_measures_again_a_row_cut_short_by_a_kill(tmp_path, data, capsys):
    out = tmp_path / "run"
    Trainer(preset("tiny", batch_size=8, max_steps=2), out_dir=out, data=data, progress=False, save_every=0,
            snapshot_every=1).fit()
    args = ["curve", out, "--classifier", ROOT / "checkpoints" / "classifier-catpig.pt", "--data", DATA,
            "--limit", "8", "--split", "valid"]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    text = (out / "curve-valid.csv").read_text()
    (out / "curve-valid.csv").write_text(text[:text.rindex("\n", 0, len(text) - 1) + 6])  # the last row cut short
    with pytest.warns(UserWarning, match=r"curve-valid\.csv: 1 incomplete row\(s\) dropped"):
        code, stdout, err = cli(capsys, *args)
    assert code == 0, err
    assert "valid): 2 points" in stdout
    lines = (out / "curve-valid.csv").read_text().splitlines()
    assert len(lines) == 3 and len({len(r.split(",")) for r in lines}) == 1
    assert [r.split(",")[0] for r in lines[1:]] == ["1", "2"]


def test_resume_from_a_slim_export_says_it_cannot_be_resumed(run, capsys):
    code, _, err = cli(capsys, "export", run / "last.pt", run / "slim.pt")
    assert code == 0, err
    shutil.copy(run / "slim.pt", run / "last.pt")
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 2
    line = one_line_error(err, "train", str(run / "last.pt"), "slim copy", "cannot be resumed")
    assert "other data" not in line
    options_exist(line)
    assert files(run) == before


class _FillingDisk:
    """A file on a disk that fills up after ``room`` bytes: a write beyond raises ENOSPC, as the kernel does."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.f.write(bytes(data)[:self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_a_full_disk_inside_torch_save_names_the_file(tmp_path, slim, monkeypatch):
    """The disk fills in the middle of torch.save (the real one): torch says "unexpected pos"; we name the file."""
    import iapix.checkpoint as C

    p = tmp_path / "last.pt"
    shutil.copy(slim, p)
    before = files(tmp_path)
    monkeypatch.setattr(C, "open", lambda path, mode="r", **k: _FillingDisk(open(path, mode, **k), 5000),
                        raising=False)
    with pytest.raises(OSError) as e:
        save_checkpoint(read_checkpoint(slim), p)
    assert e.value.errno == errno.ENOSPC and str(e.value).startswith(f"{p}: cannot write the checkpoint")
    assert "the disk is full" in str(e.value) and "\n" not in str(e.value)
    assert files(tmp_path) == before, "old file intact, no temporary file left"


def test_a_real_write_limit_in_the_middle_of_a_large_export_is_one_line(tmp_path):
    """The OS refuses a write part-way through a 6 MB checkpoint."""
    _export_under_a_write_limit(SHIPPED, tmp_path, 100000)


def test_sample_onto_a_full_disk_names_the_picture_and_leaves_no_part_of_it(base_run, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def full_disk(self, fname, *a, **k):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + bytes(100))  # some bytes made it, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    (tmp_path / "s.png").write_bytes(b"an older picture")
    before = files(tmp_path)
    code, _, err = cli(capsys, "sample", "--checkpoint", base_run / "best.pt", "--component", "0", "--n", "2",
                       "--out", tmp_path / "s.png")
    assert code == 2
    one_line_error(err, "sample", f"{tmp_path / 's.png'}: cannot write the picture", "the disk is full")
    assert files(tmp_path) == before, "the old picture unchanged, no part of the new one left"


def test_svg_onto_a_full_disk_names_the_svg_and_leaves_no_part_of_it(base_run, tmp_path, capsys, monkeypatch):
    real_write = Path.write_text

    def full_disk(self, text, *a, **k):
        if self.name == "sketch_0001.svg.tmp":
            real_write(self, text[:10])  # some bytes made it, then the disk was full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, text, *a, **k)

    svg = tmp_path / "svg"
    svg.mkdir()
    (svg / "sketch_0001.svg").write_text("an older drawing")
    monkeypatch.setattr(Path, "write_text", full_disk)
    code, _, err = cli(capsys, "sample", "--checkpoint", base_run / "best.pt", "--component", "0", "--n", "2",
                       "--out", tmp_path / "s.png", "--svg-dir", svg)
    assert code == 2
    one_line_error(err, "sample", f"{svg / 'sketch_0001.svg'}: cannot write the SVG", "the disk is full")
    assert sorted(p.name for p in svg.iterdir()) == ["sketch_0000.svg", "sketch_0001.svg"]
    assert (svg / "sketch_0001.svg").read_text() == "an older drawing", "the old file unchanged, no tmp left"


def test_plot_log_of_a_mistyped_run_names_the_run_and_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "plot-log", tmp_path / "nope")
    assert code == 2
    line = one_line_error(err, "plot-log", f"{tmp_path / 'nope'}: no such run folder")
    assert "--out" not in line
    assert list(tmp_path.iterdir()) == []


def test_curve_of_a_mistyped_run_names_it_and_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "notes").mkdir()  # a folder, but no run in it
    for typo, message in (("runs/typo", "runs/typo: no such run folder"),
                          ("runs/notes", "runs/notes: not a run folder")):
        code, _, err = cli(capsys, "curve", typo, "--classifier", ROOT / "checkpoints" / "classifier-catpig.pt",
                           "--data", DATA)
        assert code == 2
        one_line_error(err, "curve", message)
    assert files(tmp_path) == {} and sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["notes"]


def test_a_run_killed_in_its_first_save_says_what_state_it_is_in(tmp_path, data, capsys, monkeypatch):
    out = tmp_path / "run"
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=out, data=data, progress=False, save_every=1)

    def killed(obj, f, *a, **k):
        f.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        tr.fit()
    monkeypatch.undo()
    assert not (out / "last.pt").exists() and (out / "config.json").is_file()
    before = files(out)
    code, _, err = cli(capsys, "train", *TINY, "--out", out, "--resume")
    assert code == 2
    options_exist(one_line_error(err, "train", str(out), "stopped before its first checkpoint", "nothing to resume",
                                 "--overwrite"))
    code, _, err = cli(capsys, "train", *TINY, "--out", out)
    assert code == 2
    line = one_line_error(err, "train", str(out), "stopped before its first checkpoint", "--overwrite")
    assert "--resume" not in line, "no advice that the other message refuses"
    assert files(out) == before
    code, _, err = cli(capsys, "train", *TINY, "--max-steps", "1", "--out", out, "--overwrite")
    assert code == 0, err


@pytest.mark.parametrize("change, message", [
    ("rename", "its weights do not fit this model (1 missing, 1 unexpected"),
    ("config", "its config does not fit this version of iapix"),
])
def test_resume_from_a_last_pt_of_another_version_is_one_line(run, capsys, change, message):
    state = read_checkpoint(run / "last.pt")
    if change == "rename":
        key = next(iter(state["model"]))
        state["model"]["renamed." + key] = state["model"].pop(key)
    else:
        state["config"] = {**state["config"], "a_future_field": 1}
    save_checkpoint(state, run / "last.pt")  # a valid checksum: written as it is
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume")
    assert code == 2
    one_line_error(err, "train", f"{run / 'last.pt'}: written by another version of iapix", message)
    assert files(run) == before


def test_download_failures_exit_2_and_a_stalled_server_is_reported_under_quiet(tmp_path, capsys):
    """A server that answers, sends part of the file, then stalls: --timeout bounds the wait, and --quiet still
    says why the command waits and then fails (exit status 2, as for every failed command)."""
    import http.server
    import threading
    import time

    class Stalling(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(bytes(1000))
            self.wfile.flush()
            time.sleep(3)  # then nothing more

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        t0 = time.perf_counter()
        code, out, err = cli(capsys, "download", "pig", "--data", tmp_path, "--quiet", "--retries", "1",
                             "--timeout", "0.3", "--base-url", f"http://127.0.0.1:{httpd.server_address[1]}")
        seconds = time.perf_counter() - t0
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert code == 2 and out == "" and seconds < 10
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert "the server stalled (no data for 0.3 s) at 1000 bytes; resuming (retry 1 of 1)" in lines[0]
    assert lines[1].startswith("iapix download: error: ") and "interrupted 2 times" in lines[1]
    assert "--timeout" in lines[1] and (tmp_path / "pig.npz.part").is_file()


def test_a_deleted_best_pt_is_found_at_resume(run, capsys):
    (run / "best.pt").unlink()
    before = files(run)
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "4", "--out", run, "--resume")
    assert code == 2
    options_exist(one_line_error(err, "train", f"{run / 'best.pt'}: missing", "rollback", "--no-rollback"))
    assert files(run) == before
    code, _, err = cli(capsys, "train", *TINY, "--max-epochs", "2", "--out", run, "--resume", "--no-rollback")
    assert code == 0, err


@pytest.mark.skipif(cpu_bf16() is None, reason="not an x86 CPU: its bfloat16 support cannot be told")
def test_amp_on_a_cpu_without_bf16_hardware_warns(tmp_path, data, monkeypatch):
    import iapix.train as T

    plain, amx = tmp_path / "plain", tmp_path / "amx"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert cpu_bf16(plain) is False and cpu_bf16(amx) is True
    monkeypatch.setattr(T, "CPUINFO", plain)
    with pytest.warns(UserWarning, match=r"--amp bf16-cnn: this CPU has no bfloat16 hardware \(AVX-512-BF16 or AMX\)"):
        Trainer(preset("tiny", batch_size=8), out_dir=tmp_path / "a", data=data, progress=False, amp="bf16-cnn",
                device="cpu")
    monkeypatch.setattr(T, "CPUINFO", amx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trainer(preset("tiny", batch_size=8), out_dir=tmp_path / "b", data=data, progress=False, amp="bf16-cnn",
                device="cpu")
    assert not [w for w in caught if "--amp" in str(w.message)]


def test_what_a_data_file_loses_is_one_line_once(tmp_path):
    """A dropped sketch and clipped offsets in one file: one warning line for the file, in iapix's own format."""
    def damage(arrays):
        arrays["train"][1] = arrays["train"][1].astype(np.int32) * 0 + np.array([0, 0, 7])  # lift 7: dropped
        s = arrays["valid"][0].astype(np.int32)
        s[0, 0] = 5000  # clipped
        arrays["valid"][0] = s
    path = _npz_with(tmp_path, "pig", damage)
    env = {k: v for k, v in ENV.items() if k != "PYTHONWARNINGS"}
    r = subprocess.run([sys.executable, "-m", "iapix.cli", "prepare", "--categories", "pig", "--data", str(tmp_path),
                        "--limit", "5", "--preview", ""], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warned = [l for l in r.stderr.splitlines() if "warning" in l.lower() or "pig.npz" in l]
    assert warned == [f"iapix prepare: warning: {path}: dropped 1 sketches (1 lift column not 0/1; first: train #1: "
                      "lift column not 0/1); 1 sketches have offsets beyond ±1000, clipped to it (valid 1)"], r.stderr
    assert "warnings.warn" not in r.stderr


def test_nan_steps_show_on_the_bar_and_the_error_starts_a_line(tmp_path, data, capsys):
    tr = Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=tmp_path / "r", data=data, progress=True,
                 max_bad_steps=3)
    real, calls = tr.net.forward, {"n": 0}

    def nan_after_the_first(*a, **k):
        calls["n"] += 1
        out = real(*a, **k)
        return {**out, "total": out["total"] * float("nan")} if calls["n"] > 1 else out

    tr.net.forward = nan_after_the_first
    capsys.readouterr()
    with pytest.raises(RuntimeError, match="NaN/inf for 3 steps in a row"):
        tr.fit()
    err = capsys.readouterr().err
    assert re.search(r"skipped=[12]\]", err), "the bar counts the skipped steps"
    assert err.endswith("\r"), "the bar is cleared: the error message starts a line of its own"


def test_a_users_own_config_json_is_not_a_run_and_is_never_moved_or_written_over(tmp_path, capsys):
    out = tmp_path / "project"
    out.mkdir()
    (out / "config.json").write_text('{"theme": "dark"}')
    (out / "notes.txt").write_text("my notes")
    before = files(out)
    for extra in ([], ["--overwrite"]):
        code, _, err = cli(capsys, "train", *TINY, "--max-steps", "1", "--out", out, *extra)
        assert code == 2
        options_exist(one_line_error(err, "train", f"{out / 'config.json'}: not written by iapix train"))
        assert files(out) == before and sorted(p.name for p in out.iterdir()) == ["config.json", "notes.txt"]
