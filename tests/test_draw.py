"""Your own drawing: canvas strokes -> stroke-3 -> code, posterior, completions; the DrawExplorer, headless."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix.data import denormalise, read_ndjson
from iapix.model import Config, IAPix
from iapix.plot import strokes_to_lines
from iapix.sample import complete, drawing_to_stroke3, encode, encode_drawing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(shipped_ia):
    return shipped_ia


def canvas_lines(data, ck, i: int, zoom: float = 1.7) -> list[np.ndarray]:
    """Test sketch ``i`` as canvas polylines (pixels, shifted and zoomed like a 400 px pad)."""
    s = denormalise([data.strokes["test"][i]], ck.scale)[0]
    return [l * zoom + 20.0 for l in strokes_to_lines(s)]


def test_drawing_takes_the_raw_ndjson_path(tmp_path, trained):
    ck, data = trained
    lines = canvas_lines(data, ck, 3)
    rec = {"word": "cat", "key_id": "1",
           "drawing": [[l[:, 0].tolist(), l[:, 1].tolist(), list(range(len(l)))] for l in lines]}
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps(rec) + "\n")
    via_file = read_ndjson(path, kind="raw").strokes[0]
    s = drawing_to_stroke3(lines)
    assert s.dtype == np.float32 and s.shape[1] == 3
    np.testing.assert_array_equal(s, via_file)
    assert s[-1, 2] == 1 and int(s[:, 2].sum()) == len(lines)
    pts = np.cumsum(np.r_[np.zeros((1, 2)), s[:, :2]], 0)
    assert (pts.max(0) - pts.min(0)).max() == 255  # longest side 255, as the simplified data


@pytest.mark.parametrize("lines, message", [
    ([], "empty"),
    ([np.zeros((0, 2))], "empty"),
    ([np.array([[5.0, 7.0]])], "single dot"),
    ([np.array([[5.0, 7.0]] * 4), np.array([[5.0, 7.0]])], "single dot"),
    ([np.array([1.0, 2.0, 3.0])], "stroke 0"),
    ([np.array([[0.0, 0.0], [np.nan, 1.0]])], "NaN"),
])
def test_bad_drawings_are_refused(trained, lines, message):
    ck, _ = trained
    with pytest.raises(ValueError, match=message):
        drawing_to_stroke3(lines)
    with pytest.raises(ValueError, match=message):
        encode_drawing(ck, lines)


def test_encode_drawing_gives_the_code_of_the_sketch(trained):
    ck, data = trained
    model = ck.model
    r = encode_drawing(ck, canvas_lines(data, ck, 0))
    K, D = model.latent.K, model.cfg.z_dim
    assert r["image"].shape == (48, 48) and r["image"].min() < 0 < r["image"].max()
    assert r["mu"].shape == r["s2"].shape == (D,) and r["posterior"].shape == (K,)
    assert abs(float(r["posterior"].sum()) - 1) < 1e-5 and 0 <= r["label"] < K
    assert r["note"] == ""
    # the code is the encoder's on the same picture: close to the stored test image's code
    mu_test, _ = encode(model, data.images["test"][:1])
    mu_other, _ = encode(model, data.images["test"][-1:])
    assert float((r["mu"] - mu_test[0]).norm()) < float((r["mu"] - mu_other[0]).norm())


def test_long_drawings_are_truncated_with_a_note(trained):
    ck, _ = trained
    rng = np.random.default_rng(0)
    lines = [np.cumsum(rng.normal(0, 40, (60, 2)), 0) for _ in range(8)]  # a scribble, > N_max after RDP
    assert len(drawing_to_stroke3(lines)) > ck.max_len
    r = encode_drawing(ck, lines)
    assert len(r["stroke3"]) == ck.max_len and r["stroke3"][-1, 2] == 1
    assert "truncated" in r["note"] and str(ck.max_len) in r["note"]


def test_vae_posterior_is_trivial_with_a_note(trained):
    ck, data = trained
    torch.manual_seed(0)
    vae = IAPix(Config.from_dict({**ck.config.to_dict(), "objective": "vae"})).eval()
    r = encode_drawing(replace(ck, model=vae), canvas_lines(data, ck, 0))
    assert r["posterior"].tolist() == [1.0] and r["label"] == 0 and "VAE" in r["note"]


def test_completion_keeps_the_users_strokes(trained):
    ck, data = trained
    model = ck.model
    s = encode_drawing(ck, canvas_lines(data, ck, 1))["stroke3"]
    half = s[:int(np.flatnonzero(s[:, 2])[0]) + 1]  # the first stroke
    greedy = complete(ck, half, n=2, greedy=True)
    assert len(greedy) == 2 and np.array_equal(greedy[0], greedy[1])
    np.testing.assert_array_equal(greedy[0][:len(half)], half)
    assert len(greedy[0]) > len(half), "the model drew on"
    a, b = complete(ck, half, n=8, seed=0), complete(ck, half, n=8, seed=1)
    assert len(a) == 8 and all(len(x) <= ck.max_len and x[-1, 2] == 1 for x in a + b)
    assert all(np.array_equal(x[:len(half)], half) for x in a + b)
    assert not np.array_equal(a[0], b[0]), "another seed, another continuation"
    assert any(not np.array_equal(a[0], x) for x in a[1:]), "the batch's continuations differ"
    np.testing.assert_array_equal(a[3], complete(ck, half, n=8, seed=0)[3])  # reproducible
    # the continuation goes on from the state that stepping the decoder through start token + points gives
    from iapix.data import to_stroke5
    from iapix.decoder import sample_point
    scale = ck.scale
    s5 = torch.from_numpy(to_stroke5([half * np.array([1 / scale, 1 / scale, 1], np.float32)], len(half))[0])
    from iapix.raster import render_one
    mu, _ = encode(model, render_one(half * np.array([1 / scale, 1 / scale, 1], np.float32))[None])
    with torch.no_grad():
        state = model.decoder.init_state(mu)
        for t in range(len(half) + 1):
            params, state = model.decoder.step(s5[:, t], mu, state)
        p = sample_point(params, greedy=True)[0].numpy()
    np.testing.assert_allclose(greedy[0][len(half), :2], p[:2] * scale, rtol=1e-4, atol=1e-3)


def test_completion_of_a_full_length_drawing_adds_nothing(trained):
    ck, _ = trained
    rng = np.random.default_rng(1)
    s = rng.normal(0, 5, (ck.max_len + 10, 3)).astype(np.float32)
    s[:, 2] = 0
    out = complete(ck, s, n=2)
    assert all(len(x) == ck.max_len and x[-1, 2] == 1 for x in out)
    with pytest.raises(ValueError, match="n: expected"):
        complete(ck, s, n=0)


# ----------------------------------------------------------------------------------------------
# the pad and the DrawExplorer, headless


@pytest.fixture(scope="module")
def explorer(trained):
    pytest.importorskip("anywidget", reason="SketchPad needs anywidget (pip install 'anywidget>=0.9')")
    from iapix.evaluate import load_or_train_classifier
    from iapix.widgets import DrawExplorer

    ck, data = trained
    clf, _ = load_or_train_classifier(ROOT / "checkpoints" / "classifier-catpig.pt", data, progress=False)
    return DrawExplorer(ck, data, classifier=clf, n=3)


def pad_strokes(lines: list[np.ndarray]) -> list[list[list[float]]]:
    return [np.round(l, 1).tolist() for l in lines]


def test_sketchpad_syncs_strokes(trained):
    pytest.importorskip("anywidget")
    from iapix.widgets import PAD_ESM, SketchPad

    pad = SketchPad(width=200, height=150)
    assert pad.strokes == [] and (pad.width, pad.height) == (200, 150)
    state = pad.get_state()
    assert state["strokes"] == [] and "export default" in state["_esm"] and state["_esm"] == PAD_ESM
    for needle in ('createElement("canvas")', "pointerdown", "pointerup", '"Clear"', '"Undo"', "save_changes"):
        assert needle in PAD_ESM
    pad.strokes = [[[1, 2], [3, 4]]]
    assert pad.get_state()["strokes"] == [[[1, 2], [3, 4]]]
    assert "1 strokes" in repr(pad)


def test_draw_explorer_shows_everything(explorer, trained):
    ck, data = trained
    model = ck.model
    e = explorer
    assert e.output.outputs[0]["text"].startswith("draw something")
    info = e.update(pad_strokes(canvas_lines(data, ck, 2)))
    assert e.error is None and info is e.info and e.renders >= 1
    png = base64.b64decode(e.output.outputs[0]["data"]["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    K = model.latent.K
    titles = [ax.get_title() for ax in e.figure.axes]
    assert titles[:2] == ["your drawing", "48x48 input"] and titles[2].startswith("posterior g")
    bars = e.figure.axes[2].patches
    assert len(bars) == K
    np.testing.assert_allclose([b.get_height() for b in bars], info["posterior"].numpy(), rtol=1e-6)
    ticks = [t.get_text() for t in e.figure.axes[2].get_xticklabels()]
    assert all(t.startswith(f"{k}: {info['majority'][k]}") for k, t in enumerate(ticks))
    assert sum(t.startswith("from mu") for t in titles) == 3
    assert sum(t.startswith(f"Gaussian {info['label']} ") for t in titles) == 3
    assert sum(t.startswith("completion") for t in titles) == 3
    assert len(info["nearest"]) == 4 and len(info["completions"]) == len(info["variations"]) == 3
    shown = e.output.outputs[0]["data"]["text/plain"]
    assert info["predicted"] in data.categories and f"classifier: {info['predicted']}" in shown
    # the nearest codes are the test codes closest to the drawing's mu
    d = (e.codes[0] - info["mu"][None]).square().sum(1)
    assert float(d[info["nearest"][0]]) == float(d.min())


def test_draw_explorer_follows_the_pad_and_reports_bad_drawings(explorer, trained):
    ck, data = trained
    e = explorer
    before = e.renders
    e.pad.strokes = pad_strokes(canvas_lines(data, ck, 5))  # as the browser does: the trait changes
    assert e.renders == before + 1 and e.error is None
    g1 = e.info["posterior"].clone()
    for strokes, message in (([], "empty"), ([[[10.0, 10.0]]], "single dot"), ([[[1.0, 2.0, 3.0]]], "stroke 0")):
        assert e.update(strokes) is None
        out = e.output.outputs[0]
        assert out["output_type"] == "stream" and message in out["text"] and "Traceback" not in out["text"]
        assert e.info is None and e.figure is None
    e.pad.strokes = pad_strokes(canvas_lines(data, ck, len(data.strokes["test"]) - 1))  # a pig
    assert e.error is None and e.renders == before + 2
    assert e.info["posterior"].shape == g1.shape


def test_draw_explorer_on_a_vae_says_why(trained):
    pytest.importorskip("anywidget")
    from iapix.widgets import DrawExplorer

    ck, data = trained
    torch.manual_seed(0)
    vae = IAPix(Config.from_dict({**ck.config.to_dict(), "objective": "vae"})).eval()
    e = DrawExplorer(replace(ck, model=vae), data, n=1)
    assert e.update(pad_strokes(canvas_lines(data, ck, 0))) is None
    assert "VAE checkpoint" in e.output.outputs[0]["text"] and e.renders == 0


def test_component_majority_names_ties_and_empty_components():
    from iapix.widgets import component_majority

    labels = np.array([0, 0, 0, 2, 2])
    cats = np.array([1, 1, 0, 0, 1])
    assert component_majority(labels, cats, ["cat", "pig"], 3) == ["pig 67%", "-", "cat/pig 50%"]
