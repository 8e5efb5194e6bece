"""``iapix curve``: one row per snapshot, on the test or the validation sketches, never measured twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iapix.curve import FIELDS, curve_path, curve_row, fields, measure, read_curve, snapshots, update_curve
from iapix.data import prepare
from iapix.evaluate import load_or_train_classifier
from iapix.model import preset
from iapix.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CLASSIFIER = ROOT / "checkpoints" / "classifier-catpig.pt"  # the shipped one: only read
LIMIT = 8


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run with a snapshot every 2 iterations, and the shipped classifier for its categories."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    data = prepare(["cat", "pig"], DATA, limit=LIMIT)
    Trainer(preset("tiny", batch_size=4, max_steps=4), out_dir=out, data=data, progress=False, save_every=0,
            snapshot_every=2).fit()
    return out, CLASSIFIER


def test_each_split_has_its_own_curve_and_rows_are_not_measured_twice(run):
    out, clf = run
    assert [i for i, _ in snapshots(out)] == [2, 4]
    test = update_curve(out, clf, DATA, limit=LIMIT, split="test")
    valid = update_curve(out, clf, DATA, limit=LIMIT, split="valid")
    assert curve_path(out).name == "curve.csv" and curve_path(out, "valid").name == "curve-valid.csv"
    for rows in (test, valid):
        assert [int(r["iteration"]) for r in rows] == [2, 4] and list(rows[0]) == fields(["cat", "pig"])
        for r in rows:
            assert 0 <= r["rec"] <= 1 and 0 <= r["ret1"] <= 1 and 0 <= r["ended"] <= 1 and r["alive"] >= 1
            # LIMIT sketches of each category: Rec is the mean of the two categories' Rec, each a multiple of 1/8
            assert r["rec"] == pytest.approx((r["rec_cat"] + r["rec_pig"]) / 2, abs=1e-3)
            assert all(r[k] * LIMIT == pytest.approx(round(r[k] * LIMIT), abs=1e-2) for k in ("rec_cat", "rec_pig"))
    # Ret@1 ranks a generation among the split's own codes: 2 * LIMIT of them, so it moves in steps of 1/16
    assert all((r["ret1"] * 2 * LIMIT) == pytest.approx(round(r["ret1"] * 2 * LIMIT)) for r in test + valid)
    before = curve_path(out, "valid").read_text()
    assert update_curve(out, clf, DATA, limit=LIMIT, split="valid") == read_curve(out, "valid")
    assert curve_path(out, "valid").read_text() == before  # measured snapshots are kept, not measured again
    assert curve_row(out, 4, "valid") == valid[1] and curve_row(out, 2) == test[0] and curve_row(out, 3) is None


def test_valid_rows_measure_the_validation_sketches(run):
    """The same snapshot measured on ``split="valid"`` equals a test-split measurement whose test sketches are
    the validation ones: the split chooses the images, labels and codes, and nothing else changes."""
    out, clf = run
    data = prepare(["cat", "pig"], DATA, limit=LIMIT)
    swapped = prepare(["cat", "pig"], DATA, limit=LIMIT)
    for part in (swapped.images, swapped.labels, swapped.strokes):
        part["test"] = part["valid"]
    classifier, _ = load_or_train_classifier(clf, data, progress=False)
    snap = snapshots(out)[-1][1]
    assert measure(snap, classifier, data, split="valid") == measure(snap, classifier, swapped, split="test")
    assert not (data.images["valid"] == data.images["test"]).all()


def test_an_unknown_split_is_refused(run):
    with pytest.raises(ValueError, match="split: expected one of"):
        update_curve(run[0], run[1], DATA, limit=LIMIT, split="train")


def test_a_curve_written_before_a_measure_existed_gets_its_column(run, tmp_path):
    """An older curve.csv (no probe / k-means / overlap columns) keeps its rows, with nan in the new columns, and
    the snapshots it lacks are appended under the one new header."""
    import shutil

    out, clf = run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    update_curve(copy, clf, DATA, limit=LIMIT, split="valid")
    lines = curve_path(copy, "valid").read_text().splitlines()
    old = [c for c in FIELDS if c not in ("probe", "kmeans_nmi", "bc")]
    keep = [lines[0].split(",").index(c) for c in old]
    first = lines[1].split(",")  # iteration 2 only, written by an older version
    curve_path(copy, "valid").write_text(",".join(old) + "\n" + ",".join(first[i] for i in keep) + "\n")
    rows = update_curve(copy, clf, DATA, limit=LIMIT, split="valid")
    assert [int(r["iteration"]) for r in rows] == [2, 4] and all(list(r) == fields(["cat", "pig"]) for r in rows)
    assert all(r[k] != r[k] for r in rows[:1] for k in ("probe", "rec_pig"))  # nan: not measured by the old version
    assert 0 <= rows[1]["rec_pig"] <= 1
    assert 0 <= rows[1]["probe"] <= 1 and rows[0]["rec"] == float(first[FIELDS.index("rec")])


def test_the_figure_draws_rec_by_category_where_the_curve_has_it(run, tmp_path):
    """One line per category in an eleventh panel for a curve with ``rec_<category>`` columns; an older curve
    without them keeps the ten panels."""
    import matplotlib

    from iapix.curve import plot_curves

    matplotlib.use("Agg")
    out, clf = run
    rows = update_curve(out, clf, DATA, limit=LIMIT, split="valid")
    fig = plot_curves({"run": rows}, tmp_path / "curve.png")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 11 and shown[-1].get_title() == "Rec by category"
    assert [ln.get_label() for ln in shown[-1].lines] == ["cat", "pig"]
    assert list(shown[-1].lines[1].get_ydata()) == [r["rec_pig"] for r in rows]
    assert (tmp_path / "curve.png").stat().st_size > 10_000
    old = [{k: v for k, v in r.items() if not k.startswith("rec_")} for r in rows]
    both = [ax for ax in plot_curves({"a": old, "b": rows}).axes if ax.get_visible()]
    assert len(both) == 11 and [ln.get_label() for ln in both[-1].lines] == ["b: cat", "b: pig"]  # none for "a"
    assert len([ax for ax in plot_curves({"a": old}).axes if ax.get_visible()]) == 10
    import matplotlib.pyplot as plt

    plt.close("all")


def test_rec_by_category_columns_follow_the_run_category_order(run):
    """``rec_cat`` is Rec on the cat sources (category 0 of the run), not the pig's: it equals the first row of the
    snapshot's Rec confusion from :func:`iapix.evaluate.score`."""
    from iapix.checkpoint import load_checkpoint
    from iapix.evaluate import score

    out, clf = run
    data = prepare(["cat", "pig"], DATA, limit=LIMIT)
    classifier, _ = load_or_train_classifier(clf, data, progress=False)
    snap = snapshots(out)[-1][1]
    row = measure(snap, classifier, data, split="valid")
    cm = score(load_checkpoint(snap), classifier, data, "valid")[0]["rec_confusion"]
    assert row["rec_cat"] == pytest.approx(cm[0][0] / sum(cm[0]))
    assert row["rec_pig"] == pytest.approx(cm[1][1] / sum(cm[1]))
