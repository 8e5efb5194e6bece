"""Batched, controllable generation from a (tiny, freshly trained) checkpoint."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix import sample as S
from iapix.checkpoint import load_checkpoint
from iapix.data import prepare
from iapix.latent import ALIVE
from iapix.model import preset
from iapix.raster import render
from iapix.train import Trainer

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    data = prepare(["cat", "pig"], DATA, limit=16)
    Trainer(preset("tiny", batch_size=8, max_epochs=1), out_dir=out, data=data, progress=False, save_every=0).fit()
    return load_checkpoint(out / "best.pt"), data, out


def test_decode_stops_each_sketch_on_its_own(trained):
    ck, *_ = trained
    z = torch.randn(12, ck.config.z_dim, generator=torch.Generator().manual_seed(0))
    sketches = S.decode(ck, z, temperature=1.0, seed=0, max_len=40)
    assert len(sketches) == 12
    assert all(s.ndim == 2 and s.shape[1] == 3 and len(s) <= 40 for s in sketches)
    assert all(s[-1, 2] == 1 for s in sketches if len(s)), "every non-empty sketch ends with a pen lift"
    images = render(sketches, allow_empty=True)
    assert all((im == 1).all() for s, im in zip(sketches, images) if not len(s)), "empty -> blank image"
    # batched generation equals generating each code alone (greedy: no randomness)
    batch = S.decode(ck, z[:4], greedy=True, max_len=40)
    alone = [S.decode(ck, z[i:i + 1], greedy=True, max_len=40)[0] for i in range(4)]
    for a, b in zip(batch, alone):
        np.testing.assert_allclose(a, b, atol=1e-4)
    # the seed makes sampling reproducible
    again = S.decode(ck, z, temperature=1.0, seed=0, max_len=40)
    assert all(np.array_equal(a, b) for a, b in zip(sketches, again))


def test_component_codes_follow_the_gaussian(trained):
    model = trained[0].model
    z = S.component_codes(model, 1, 4000, seed=0)
    m, v = model.latent.means[1], model.latent.variances[1]
    torch.testing.assert_close(z.mean(0), m, atol=4 * float(v.sqrt().max()) / 4000 ** 0.5, rtol=0)
    torch.testing.assert_close(z.var(0), v, rtol=0.1, atol=0)
    with pytest.raises(ValueError, match="this model has 4 Gaussians"):
        S.component_codes(model, 4, 1)


def test_interpolation_endpoints(trained):
    model = trained[0].model
    path = S.interpolate_components(model, 0, 2, 5)
    assert path.shape == (5, model.cfg.z_dim)
    torch.testing.assert_close(path[0], model.latent.means[0])
    torch.testing.assert_close(path[-1], model.latent.means[2])
    torch.testing.assert_close(path[2], (model.latent.means[0] + model.latent.means[2]) / 2)


def test_conditional_and_rendering(trained):
    ck, data, _ = trained
    recon = S.conditional(ck, data.images["test"][:6], seed=1)
    images = render(recon, allow_empty=True)
    assert images.shape == (6, 48, 48)
    assert all((im < 0).any() for s, im in zip(recon, images) if len(s))
    with pytest.raises(ValueError, match=r"expected \[B, 1, 48, 48\]"):
        S.encode(ck.model, np.zeros((2, 32, 32)))


def test_svg_and_grid(trained, tmp_path):
    _, data, _ = trained
    s = data.strokes["test"][0]
    svg = S.to_svg(s)
    root = ET.fromstring(svg)
    path = root.find("{http://www.w3.org/2000/svg}path").get("d")
    from iapix.plot import strokes_to_lines

    lines = strokes_to_lines(s)
    assert path.count("M") == len(lines) and path.count("L") == sum(len(l) - 1 for l in lines)
    assert root.get("width") == "128"
    png = S.save_grid([s] * 3, tmp_path / "g.png")
    assert png.stat().st_size > 2000


def test_per_gaussian_grid_rows_name_what_each_gaussian_holds(trained):
    ck, data, _ = trained
    sketches, titles, ncols = S.per_gaussian_grid(ck, 2, DATA)
    alpha = ck.model.latent.alpha
    live = [int(k) for k in alpha.argsort(descending=True) if alpha[k] > ALIVE]
    test = prepare(ck.categories, DATA, scale=ck.scale, max_len=ck.max_len)  # every test sketch, as the grid does
    mu, s2 = S.encode(ck.model, test.images["test"])
    labels, test_labels = ck.model.latent.labels(mu, s2).numpy(), test.labels["test"]
    for row, k in enumerate(live):  # one row per live Gaussian, heaviest first, titled with its members' majority
        expected = S.component_majority(labels, test_labels, ck.categories, ck.model.latent.K)[k]
        assert titles[row * ncols].startswith(f"Gaussian {k} (") and titles[row * ncols].endswith(expected)
        assert titles[row * ncols + 1:(row + 1) * ncols] == [""] * (ncols - 1)
    assert titles[len(live) * ncols::ncols] == [f"real {c}" for c in ck.categories]
    assert len(sketches) == ncols * (len(live) + len(ck.categories))


def test_component_majority_counts_ties_and_empty_components():
    labels = np.array([0, 0, 0, 2, 2])
    cats = np.array([1, 1, 0, 0, 1])
    assert S.component_majority(labels, cats, ["cat", "pig"], 3) == ["pig 67%", "-", "cat/pig 50%"]
    assert S.component_majority(torch.as_tensor(labels), cats, ["cat", "pig"], 3)[0] == "pig 67%"  # split_codes'


def test_component_counts_and_composition_on_a_known_table():
    # K = 4 Gaussians, C = 3 categories: 0 holds 2 dog + 1 cat, 1 nothing, 2 a 1-1 tie of cat and pig,
    # 3 five pigs and three cats (62.5 % rounds to even: 62)
    names = ["cat", "dog", "pig"]
    labels = np.array([2, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 0, 2])
    cats = np.array([2, 1, 1, 2, 0, 2, 0, 2, 0, 2, 2, 0, 0])
    counts = S.component_counts(labels, cats, 4, 3)
    assert counts.dtype.kind == "i" and counts.tolist() == [[1, 2, 0], [0, 0, 0], [1, 0, 1], [3, 0, 5]]
    assert S.component_counts(torch.as_tensor(labels), cats, 4, 3).tolist() == counts.tolist()
    assert S.component_counts(np.array([], int), np.array([], int), 2, 3).tolist() == [[0, 0, 0], [0, 0, 0]]
    assert [S.largest_categories(r).tolist() for r in counts] == [[1, 0, 2], [0, 1, 2], [0, 2, 1], [2, 0, 1]]
    assert [S.composition(r, names) for r in counts] == ["dog 67%, cat 33%", "-", "cat 50%, pig 50%",
                                                         "pig 62%, cat 38%"]
    assert S.composition(counts[2], names, top=1) == "cat 50%"  # the tie: the lower category index first
    assert S.composition(counts[0], names, top=5, sep="\n") == "dog 67%\ncat 33%"  # held categories only
    assert S.component_majority(labels, cats, names, 4) == ["dog 67%", "-", "cat/pig 50%", "pig 62%"]
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        S.component_counts(labels, cats, 3, 3)  # a label 3 with K = 3
    with pytest.raises(ValueError, match="must be \\[N\\] each"):
        S.component_counts(labels, cats[:-1], 4, 3)


def test_a_row_label_starts_at_the_left_edge_of_its_row():
    from iapix.plot import sketch_grid

    s = np.array([[0, 0, 0], [10, 5, 1]], np.float32)
    titles = ["a long label for the whole row", "", "", "one", "two", ""]
    fig = sketch_grid([s] * 6, ncols=3, titles=titles, row_titles=True)
    first, second = fig.axes[0], fig.axes[3]
    assert first.get_title(loc="left") == "a long label for the whole row" and first.get_title() == ""
    assert second.get_title() == "one" and second.get_title(loc="left") == ""  # titles of single cells stay centred
    plain = sketch_grid([s] * 6, ncols=3, titles=titles)  # by default every title is centred on its cell
    assert plain.axes[0].get_title() == titles[0] and plain.axes[0].get_title(loc="left") == ""


def test_cli_sample(trained, tmp_path, capsys):
    from iapix.cli import main

    *_, run = trained
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "0", "--n", "4",
                 "--out", str(tmp_path / "a.png"), "--svg-dir", str(tmp_path / "svg")]) == 0
    assert (tmp_path / "a.png").is_file() and len(list((tmp_path / "svg").glob("*.svg"))) == 4
    capsys.readouterr()
    # a shorter call into the same folder rewrites its own files and says which older ones are left there
    (tmp_path / "svg" / "sketch_0000.svg").write_text("stale")
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "0", "--n", "2",
                 "--out", str(tmp_path / "a.png"), "--svg-dir", str(tmp_path / "svg")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "svg" / "sketch_0000.svg").read_text().startswith("<svg")
    assert "2 SVGs ->" in out and "also holds 2 older sketch_*.svg files, from sketch_0002.svg on" in out
    assert len(list((tmp_path / "svg").glob("*.svg"))) == 4, "nothing deleted"
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--interpolate", "0", "1", "--n", "3",
                 "--out", str(tmp_path / "b.png")]) == 0
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--from-test", "2", "--data", str(DATA),
                 "--out", str(tmp_path / "c.png")]) == 0
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "heaviest", "--n", "2",
                 "--out", str(tmp_path / "e.png")]) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "all", "--n", "3", "--data", str(DATA),
                 "--out", str(tmp_path / "g.png")]) == 0
    alive = int((load_checkpoint(run / "best.pt").model.latent.alpha > ALIVE).sum())
    assert f"{3 * (alive + 2)} sketches" in capsys.readouterr().out  # a row per live Gaussian + a row per category
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "big",
                 "--out", str(tmp_path / "f.png")]) == 2
    assert "iapix sample: error: --component: expected a Gaussian index, 'heaviest' or 'all'" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(run / "best.pt"), "--component", "9",
                 "--out", str(tmp_path / "d.png")]) == 2
    assert "this model has 4 Gaussians" in capsys.readouterr().err
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "d.png").exists()
