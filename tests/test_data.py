"""iapix.data on the real embedded data and the real QuickDraw files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix import data as D
from iapix.embedded import build, load_source

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data" / "quickdraw"  # the raw files data/ is built from (maintainers)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "quickdraw"  # small real ndjson files, shipped
CATEGORIES = ["cat", "pig", "face", "radio", "alarm-clock"]
need_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"raw QuickDraw files not found at {SHARED}")


@pytest.fixture(scope="module")
def pig() -> dict[str, D.Sketches]:
    return D.read_npz(DATA / "pig.npz")


# ---------------------------------------------------------------- embedded data


@pytest.mark.parametrize("category", CATEGORIES)
def test_embedded_file_is_a_sketch_rnn_npz(category):
    splits = D.read_npz(DATA / f"{category}.npz")
    assert list(splits) == ["train", "valid", "test"]
    n = sum(len(v) for v in splits.values())
    assert n == (2000 if category == "cat" else 2500)
    assert (len(splits["train"]), len(splits["valid"]), len(splits["test"])) == (0.8 * n, 0.1 * n, 0.1 * n)
    for sk in splits.values():
        assert not sk.dropped
        assert all(s.dtype == np.int16 and s.ndim == 2 and s.shape[1] == 3 for s in sk.strokes)
        assert all(s[-1, 2] == 1 for s in sk.strokes), "every sketch ends with a pen lift"


def test_embedded_splits_are_disjoint():
    splits = D.read_npz(DATA / "face.npz")
    keys = {k: {s.tobytes() for s in v.strokes} for k, v in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"]


@need_shared
def test_build_embedded_is_deterministic(tmp_path):
    build(tmp_path, SHARED, categories=["cat", "radio"])
    for c in ["cat", "radio"]:
        ours, shipped = D.read_npz(tmp_path / f"{c}.npz"), D.read_npz(DATA / f"{c}.npz")
        for k in D.SPLITS:
            assert len(ours[k]) == len(shipped[k])
            assert all(np.array_equal(a, b) for a, b in zip(ours[k].strokes, shipped[k].strokes))
    # every source sketch is in exactly one split
    src = load_source(SHARED, "radio")
    got = sorted(s.tobytes() for k in D.SPLITS for s in D.read_npz(tmp_path / "radio.npz")[k].strokes)
    assert got == sorted(s.tobytes() for s in src)


@need_shared
def test_build_rejects_unknown_category(tmp_path):
    with pytest.raises(ValueError, match="unknown embedded category 'dog'"):
        build(tmp_path, SHARED, categories=["dog"])


# ---------------------------------------------------------------- ndjson


def test_simplified_ndjson_matches_the_cat_npz():
    """The embedded cats were converted from the same simplified file whose first 25 lines these are."""
    cats = D.read_ndjson(FIXTURES / "Sketch-dataset" / "cat.ndjson", kind="simplified", category="cat")
    assert len(cats) == 25 and not cats.dropped
    first = cats.strokes[0]
    # first line of the file: first stroke starts at (130, 72), next point (113, 40)
    assert first[0].tolist() == [113 - 130, 40 - 72, 0]
    shipped = {s.tobytes() for k in D.SPLITS for s in D.read_npz(DATA / "cat.npz")[k].strokes}
    assert {s.astype(np.int16).tobytes() for s in cats.strokes} <= shipped


@need_shared
def test_all_2000_cats_are_embedded():
    cats = D.read_ndjson(SHARED / "class-intro" / "cat_2k.ndjson", kind="simplified", category="cat")
    assert len(cats) == 2000 and not cats.dropped
    shipped = {s.tobytes() for k in D.SPLITS for s in D.read_npz(DATA / "cat.npz")[k].strokes}
    assert {s.astype(np.int16).tobytes() for s in cats.strokes} == shipped


def test_ndjson_stroke3_convention():
    rec = json.loads((FIXTURES / "Sketch-dataset" / "pig.ndjson").read_text().splitlines()[0])
    s = D.read_ndjson(FIXTURES / "Sketch-dataset" / "pig.ndjson").strokes[0]
    n_points = sum(len(st[0]) for st in rec["drawing"])
    assert len(s) == n_points - 1, "the first point is the origin: n points give n - 1 rows"
    assert s[:, 2].sum() == len(rec["drawing"]), "one lift per stroke"
    # absolute positions come back from the offsets
    pts = np.concatenate([np.array(st).T for st in rec["drawing"]])
    assert np.array_equal(np.cumsum(s[:, :2], axis=0) + pts[0], pts[1:])


@pytest.mark.parametrize("category", ["cat", "pig", "bee", "bus", "flower", "giraffe", "car", "horse"])
def test_raw_ndjson_simplifies_like_google(category):
    """The raw drawings are the raw versions of the simplified ones: same key_id. Our simplification
    reproduces Google's exactly for most drawings and renders the same for all of them."""
    from iapix.raster import render

    raw = [json.loads(l) for l in (FIXTURES / "exupery" / f"{category}.ndjson").read_text().splitlines()]
    simp = {json.loads(l)["key_id"]: json.loads(l) for l in
            (FIXTURES / "Sketch-dataset" / f"{category}.ndjson").read_text().splitlines()}
    ours = D.read_ndjson(FIXTURES / "exupery" / f"{category}.ndjson", kind="raw").strokes
    assert len(ours) == len(raw)
    pairs = [(o, D.lines_to_stroke3([np.array(st).T for st in simp[r["key_id"]]["drawing"]]))
             for o, r in zip(ours, raw) if r["key_id"] in simp]
    assert len(pairs) >= 14
    exact = np.mean([a.shape == b.shape and np.array_equal(a, b) for a, b in pairs])
    assert exact >= 0.5, f"only {exact:.0%} identical to Google's simplification"
    ia, ib = render([a for a, _ in pairs]), render([b for _, b in pairs])
    assert np.abs(ia - ib).mean() < 0.05


def test_ndjson_bad_lines_are_dropped_and_counted(tmp_path):
    good = {"word": "cat", "key_id": "1", "drawing": [[[0, 10, 20], [0, 5, 0]], [[30, 40], [30, 40]]]}
    lines = [json.dumps(good), "{not json", json.dumps({"word": "cat", "key_id": "2"}),
             json.dumps({"word": "cat", "key_id": "3", "drawing": [[[0, 1], [0]]]}),
             json.dumps({"word": "dog", "key_id": "4", "drawing": good["drawing"]}),
             json.dumps(good)]  # duplicate key_id: skipped, not an error
    p = tmp_path / "cat.ndjson"
    p.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"cat.ndjson: dropped 4 sketches"):
        sk = D.read_ndjson(p, category="cat")
    assert len(sk) == 1
    reasons = dict(sk.examples)
    assert "JSONDecodeError" in reasons[2]
    assert "no 'drawing' field" in reasons[3]
    assert "2 xs but 1 ys" in reasons[4]
    assert "word is 'dog'" in reasons[5]


def test_ndjson_all_bad_is_an_error(tmp_path):
    p = tmp_path / "x.ndjson"
    p.write_text("garbage\n")
    with pytest.raises(ValueError, match=r"x.ndjson: no usable drawing"):
        D.read_ndjson(p)
    with pytest.raises(FileNotFoundError, match="nope.ndjson"):
        D.read_ndjson(tmp_path / "nope.ndjson")


def test_rdp_and_resample():
    line = np.array([[0.0, 0.0], [10.0, 0.0]])
    r = D.resample(line)
    assert len(r) == 11 and np.allclose(np.diff(r[:, 0]), 1.0)
    assert np.array_equal(D.rdp(r), line), "collinear points simplify to the ends"
    zig = np.array([[0.0, 0.0], [5.0, 3.0], [10.0, 0.0]])
    assert len(D.rdp(zig, 2.0)) == 3 and len(D.rdp(zig, 3.5)) == 2


# ---------------------------------------------------------------- npz bad input


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def _objects(items):
    a = np.empty(len(items), dtype=object)
    a[:] = items
    return a


def test_npz_missing_file_and_wrong_keys(tmp_path, pig):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        D.read_npz(tmp_path / "nothere.npz")
    p = _save(tmp_path / "bad.npz", foo=_objects(pig["train"].strokes[:3]))
    with pytest.raises(ValueError, match=r"bad.npz: expected keys \['train', 'valid', 'test'\].*found \['foo'\]"):
        D.read_npz(p)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        D.read_npz(tmp_path / "junk.npz")


def test_npz_bad_sketches_dropped_and_counted(tmp_path, pig):
    good = pig["train"].strokes[:5]
    bad = [np.zeros((0, 3), np.int16), np.array([[1.0, np.nan, 0]]), np.zeros((4, 2), np.int16),
           np.array([["a", "b", "c"]]), np.array([[1, 2, 7]], np.int16)]
    p = _save(tmp_path / "mixed.npz", train=_objects(good + bad), valid=_objects(good), test=_objects(good))
    with pytest.warns(UserWarning, match=r"mixed.npz\['train'\]: dropped 5 sketches"):
        splits = D.read_npz(p)
    tr = splits["train"]
    assert len(tr) == 5
    assert dict(tr.examples) == {5: "no points", 6: "NaN or inf offsets", 7: "expected shape (n, 3), got (4, 2)",
                                 8: "expected a numeric dtype, got <U1", 9: "lift column not 0/1"}
    p2 = _save(tmp_path / "allbad.npz", train=_objects(bad), valid=_objects(good), test=_objects(good))
    with pytest.raises(ValueError, match=r"allbad.npz\['train'\]: no usable sketch"):
        D.read_npz(p2)


def test_unknown_category_names_the_folder():
    with pytest.raises(ValueError,
                       match=r"unknown category 'dog'.*found: alarm-clock, cat, face, pig, radio.*iapix download dog"):
        D.category_file(DATA, "dog")


# ---------------------------------------------------------------- formats and cleaning


def test_stroke5_round_trip(pig):
    sketches = [s.astype(np.float32) for s in pig["test"].strokes[:64]]
    n_max = max(len(s) for s in sketches)
    s5, lengths = D.to_stroke5(sketches, n_max)
    assert s5.shape == (64, n_max + 1, 5)
    assert np.array_equal(s5[:, 0], np.tile([0, 0, 1, 0, 0], (64, 1)))
    assert np.allclose(s5[:, 1:, 2:].sum(-1), 1.0), "exactly one pen state per row"
    for s, row, n in zip(sketches, s5, lengths):
        assert n == len(s)
        assert (row[n + 1:, 4] == 1).all() and (row[1:n + 1, 4] == 0).all()
        assert np.array_equal(D.from_stroke5(row[1:]), s)
    with pytest.raises(ValueError, match="more than max_len"):
        D.to_stroke5(sketches, n_max - 1)


def test_clean_and_normalise(pig):
    sk = pig["train"]
    big = D.Sketches(sk.strokes[:20] + [np.array([[5000, -3000, 1]], np.int16)], "t")
    cleaned = D.clean(big, max_len=100)
    n_long = sum(len(s) > 100 for s in sk.strokes[:20])
    assert len(cleaned) == 21 - n_long and cleaned.dropped["longer than N_max=100"] == n_long
    assert cleaned.strokes[-1][0, :2].tolist() == [1000, -1000], "offsets clipped to ±1000"
    scale = D.scale_factor(cleaned.strokes)
    norm = D.normalise(cleaned.strokes, scale)
    assert np.isclose(np.concatenate([s[:, :2].ravel() for s in norm]).std(), 1.0, atol=1e-5)
    assert np.array_equal(norm[0][:, 2], cleaned.strokes[0][:, 2])


def test_augmentation_invariants(pig):
    rng = np.random.default_rng(0)
    for s in pig["train"].strokes[:200]:
        s = s.astype(np.float32)
        t = D.drop_points(s, rng, prob=0.5)
        # end point, number of strokes, and the absolute position of every stroke end are unchanged
        assert np.allclose(t[:, :2].sum(0), s[:, :2].sum(0))
        assert t[:, 2].sum() == s[:, 2].sum()
        ends = lambda x: np.cumsum(x[:, :2], 0)[x[:, 2] == 1]  # noqa: E731
        assert np.allclose(ends(t), ends(s))
        # kept points are a subsequence of the original absolute points
        ps, pt = np.cumsum(s[:, :2], 0), np.cumsum(t[:, :2], 0)
        assert set(map(tuple, pt.round(3))) <= set(map(tuple, ps.round(3)))
        # the first three rows and the end of every stroke survive: a stroke keeps >= min(L, 4) rows
        stroke_lengths = lambda x: np.diff(np.r_[0, np.flatnonzero(x[:, 2] == 1) + 1])  # noqa: E731
        assert (stroke_lengths(t) >= np.minimum(stroke_lengths(s), 4)).all()
    s = pig["train"].strokes[0].astype(np.float32)
    assert np.array_equal(D.drop_points(s, rng, prob=0.0), s)
    dropped = np.mean([len(D.drop_points(s, rng, 0.1)) for _ in range(300)])
    assert len(s) * 0.8 < dropped < len(s), "about 10% of the droppable points go"
    st = D.random_scale(s, rng, 0.1)
    ratio = st[:, :2] / np.where(s[:, :2] == 0, 1, s[:, :2])
    nz = s[:, :2] != 0
    assert np.ptp(ratio[:, 0][nz[:, 0]]) < 1e-5 and 0.9 <= ratio[nz[:, 0], 0][0] <= 1.1


# ---------------------------------------------------------------- prepare + Dataset


@pytest.fixture(scope="module")
def prepared() -> D.Prepared:
    return D.prepare(["cat", "pig"], DATA, limit=64)


def test_prepare(prepared):
    p = prepared
    assert p.categories == ["cat", "pig"]
    assert len(p.strokes["train"]) == 128 and set(p.labels["train"].tolist()) == {0, 1}
    assert p.images["train"].shape == (128, 48, 48)
    assert p.max_len == max(len(s) for sp in D.SPLITS for s in p.strokes[sp])
    assert np.isclose(np.concatenate([s[:, :2].ravel() for s in p.strokes["train"]]).std(), 1.0, atol=1e-4)
    assert [(r["category"], r["train"], r["valid"], r["test"]) for r in p.report] == [("cat", 64, 64, 64),
                                                                                    ("pig", 64, 64, 64)]
    table = D.summary_table(p)
    assert "N_max" in table and "scale factor" in table and "seconds" in table
    assert "seconds" not in D.summary_table(p, timings=False)


def test_prepare_reuses_a_given_scale():
    p = D.prepare(["pig"], DATA, limit=16, scale=7.5)
    raw = D.read_npz(DATA / "pig.npz")["valid"].strokes[0]
    assert np.allclose(p.strokes["valid"][0][:, :2], raw[:, :2] / 7.5)


def test_dataset_batches(prepared):
    ds = prepared.dataset("train")
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, collate_fn=ds.collate, drop_last=True)
    s5, lengths, images, labels = next(iter(loader))
    assert s5.shape == (16, prepared.max_len + 1, 5) and s5.dtype == torch.float32
    assert lengths.shape == (16,) and images.shape == (16, 1, 48, 48) and labels.dtype == torch.int64
    assert images.min() >= -1 and images.max() <= 1
    aug = prepared.dataset("train", augment=True, seed=1)
    a5, alen, aimg, _ = aug.collate([aug[i] for i in range(16)])
    p5, plen, pimg, _ = ds.collate([ds[i] for i in range(16)])
    assert (alen <= plen).all() and (alen < plen).any(), "point dropping shortens some sketches"
    assert not torch.equal(aimg, pimg) and (aimg - pimg).abs().mean() < 0.2, "shrunk, not different sketches"


def test_augment_image_renders_the_sketch_the_decoder_must_draw(prepared):
    """By default (the reference) a training image shows the original sketch while the target strokes are
    stretched and thinned; with ``augment_image`` it shows exactly the augmented strokes."""
    from iapix.raster import render

    for augment_image in (False, True):
        ds = prepared.dataset("train", augment=True, seed=5, shrink=(1.0, 1.0), augment_image=augment_image)
        items = [ds[i] for i in range(12)]
        _, _, images, _ = ds.collate(items)
        shown = render([it[0] for it in items]) if augment_image else prepared.images["train"][:12]
        np.testing.assert_allclose(images[:, 0].numpy(), shown, atol=1e-6)
        other = prepared.images["train"][:12] if augment_image else render([it[0] for it in items])
        assert np.abs(images[:, 0].numpy() - other).mean() > 1e-3, "augmented and original sketches differ"


def test_dataloader_workers_augment_differently(prepared):
    ds = prepared.dataset("train", augment=True, seed=3)
    # the same sketch twice, one copy per worker: without per-worker streams both draws are equal
    again = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, [1, 1]), batch_size=1, num_workers=2,
                                        collate_fn=lambda b: b[0][0])
    a, b = list(again)
    assert not (a.shape == b.shape and np.array_equal(a, b)), "two workers must not repeat the same draws"


def test_dataset_rejects_mismatched_lengths(prepared):
    with pytest.raises(ValueError, match="must match"):
        D.SketchDataset(prepared.strokes["train"][:3], [0, 1], prepared.images["train"][:3], prepared.max_len)


def test_cli_prepare(tmp_path, capsys):
    from iapix.cli import main

    assert main(["prepare", "--categories", "pig", "--limit", "20", "--preview", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "pig" in out and "N_max" in out and "why dropped" in out and (tmp_path / "p.png").stat().st_size > 5000
    assert main(["prepare", "--categories", "unicorn"]) == 2  # a user error: one line, no traceback
    assert "iapix prepare: error: unknown category 'unicorn'" in capsys.readouterr().err


def test_denormalise_inverts_normalise(pig):
    sk = [s.astype(np.float32) for s in pig["test"].strokes[:10]]
    back = D.denormalise(D.normalise(sk, 42.5), 42.5)
    assert all(np.allclose(a, b, atol=1e-4) for a, b in zip(back, sk))
