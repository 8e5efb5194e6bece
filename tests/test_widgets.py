"""The explorer's figure functions and its ipywidgets shell, headless, on the shipped IA checkpoint."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from iapix import widgets as Wd
from iapix.latent import ALIVE
from iapix.plot import strokes_to_lines
from iapix.sample import decode

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(shipped_ia):
    return shipped_ia


def lines_of(ax) -> list[np.ndarray]:
    return [line.get_xydata() for line in ax.lines]


def same_drawings(fig_a, fig_b) -> bool:
    a, b = [lines_of(ax) for ax in fig_a.axes], [lines_of(ax) for ax in fig_b.axes]
    return len(a) == len(b) and all(len(x) == len(y) and all(np.array_equal(p, q) for p, q in zip(x, y))
                                    for x, y in zip(a, b))


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def drawn_texts(fig, dpi: float):
    """Render ``fig`` (its top-level figure) at ``dpi``; returns the figure, the renderer and every text drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    root = fig.figure
    root.set_dpi(dpi)
    canvas = FigureCanvasAgg(root)
    renderer, drawn = canvas.get_renderer(), []
    draw_text = renderer.draw_text

    def spy(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip() and mtext not in drawn:
            drawn.append(mtext)
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = spy
    canvas.draw()
    assert canvas.get_renderer() is renderer
    return root, renderer, drawn


def legibility_problems(fig, dpi: float = 72, min_px: float = 10, notebook_px: float = 900) -> list[str]:
    """What a reader of ``fig`` as a PNG at ``dpi``, shown at most ``notebook_px`` wide, would trip over: text
    under ``min_px`` pixels, text cut by the figure's edge, texts drawn over each other."""
    root, renderer, texts = drawn_texts(fig, dpi)
    width, height = root.bbox.width, root.bbox.height
    shown = min(1.0, notebook_px / width)  # a wider picture is shrunk to the notebook's width
    boxes = [t.get_window_extent(renderer) for t in texts]
    problems = []
    for t, b in zip(texts, boxes):
        px = t.get_fontsize() * dpi / 72 * shown
        if px < min_px:
            problems.append(f"{t.get_text()!r}: {px:.1f} px")
        if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1:
            problems.append(f"{t.get_text()!r}: cut by the figure's edge")
    for i, (t, a) in enumerate(zip(texts, boxes)):
        for u, b in zip(texts[i + 1:], boxes[i + 1:]):
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1:
                problems.append(f"{t.get_text()!r} over {u.get_text()!r}")
    return problems


def test_members_take_the_middle_of_equal_parts():
    labels = np.array([1] * 10 + [0] * 3)  # the test split is in category order: codes of Gaussian 1 first
    assert Wd.members(labels, 1, 2).tolist() == [2, 7]  # not the first and the last (a minority at either end)
    assert Wd.members(labels, 1, 5).tolist() == [1, 3, 5, 7, 9]
    assert Wd.members(labels, 0, 5).tolist() == [10, 11, 12]  # fewer than asked: all of them
    assert Wd.members(labels, 2, 3).tolist() == []


def test_component_panel_samples_and_members(trained):
    ck, data = trained
    model = ck.model
    mu, s2, labels = codes = Wd.split_codes(model, data)
    alpha = model.latent.alpha
    live = int(alpha.argmax())
    assert len(mu) == len(labels) == len(data.labels["test"]) == 32
    fig = Wd.component_panel(ck, data, live, n=5, n_members=3, codes=codes)
    assert len(fig.axes) == 5 + 3
    assert titles(fig)[:5] == [f"sample {j}" for j in range(1, 6)]
    assert all(ax.lines for ax in fig.axes[:5]), "every sample is drawn"
    picked = Wd.members(labels, live, 3)
    assert len(picked) == 3 and (labels[picked] == live).all()
    assert titles(fig)[5:] == [f"{data.categories[data.labels['test'][i]]} #{i}" for i in picked]
    assert f"Gaussian {live} of {model.latent.K}" in fig.get_suptitle()
    assert f"α = {float(alpha[live]):.3g}" in fig.get_suptitle()
    majority = Wd.component_majority(labels, data.labels["test"], data.categories, model.latent.K)[live]
    assert f"test codes, {majority}; " in fig.get_suptitle()  # e.g. "pig 62%": the members' majority category
    # a Gaussian no test code belongs to (here: every code relabelled to the live one): the member cell says so
    other = (live + 1) % model.latent.K
    fig = Wd.component_panel(ck, data, other, n=2, codes=(mu, s2, torch.full_like(labels, live)))
    assert len(fig.axes) == 3
    assert "none" in fig.axes[2].texts[0].get_text() and "0/32 test codes" in fig.get_suptitle()
    assert ("dead" in fig.get_suptitle()) == (float(alpha[other]) <= ALIVE)


def test_component_panel_is_reproducible_and_checks_k(trained):
    ck, data = trained
    model = ck.model
    codes = Wd.split_codes(model, data)
    a = Wd.component_panel(ck, data, 3, n=3, seed=1, codes=codes)
    b = Wd.component_panel(ck, data, 3, n=3, seed=1, codes=codes)
    c = Wd.component_panel(ck, data, 3, n=3, seed=2, codes=codes)
    assert same_drawings(a, b)
    assert not same_drawings(a, c)
    with pytest.raises(ValueError, match=r"component 4: this model has 4 Gaussians \(0..3\)"):
        Wd.component_panel(ck, data, 4, codes=codes)
    with pytest.raises(ValueError, match="n: expected a positive integer"):
        Wd.component_panel(ck, data, 0, n=0, codes=codes)


def test_interpolation_strip_runs_between_the_means(trained):
    ck, _ = trained
    model = ck.model
    fig = Wd.interpolation_strip(ck, 3, 0, steps=4, greedy=True, t=0.5)
    assert titles(fig) == ["t = 0.00", "t = 0.33", "t = 0.67", "t = 1.00", "slider: t = 0.50"]
    # the first cell is the mean of Gaussian 3 decoded greedily
    alone = decode(ck, model.latent.means[3:4], greedy=True)[0]
    for drawn, expected in zip(lines_of(fig.axes[0]), strokes_to_lines(alone)):
        np.testing.assert_allclose(drawn, expected, atol=1e-2)
    assert fig.get_suptitle().startswith(
        f"mean of Gaussian 3 ({Wd.alpha_text(model, 3)}) → mean of 0 ({Wd.alpha_text(model, 0)})")
    pruned = copy.deepcopy(model)  # a Gaussian BYY switched off is named as such
    pruned.latent.alpha[0] = 1e-10
    a3 = float(model.latent.alpha[3])
    assert (Wd.alpha_text(pruned, 0), Wd.alpha_text(pruned, 3)) == ("α = 1e-10, dead", f"α = {a3:.3g}")
    assert len(Wd.interpolation_strip(ck, 0, 3, steps=3).axes) == 3
    with pytest.raises(ValueError, match="steps: expected an integer >= 2"):
        Wd.interpolation_strip(ck, 0, 3, steps=1)
    with pytest.raises(ValueError, match="this model has 4 Gaussians"):
        Wd.interpolation_strip(ck, 0, -1)
    with pytest.raises(ValueError, match=r"t: expected a position in \[0, 1\]"):
        Wd.interpolation_strip(ck, 0, 3, t=1.5)


def test_reconstruction_panel(trained):
    ck, data = trained
    i = 20
    fig = Wd.reconstruction_panel(ck, data, i, n=2)
    cat = data.categories[data.labels["test"][i]]
    assert titles(fig) == [f"{cat} #{i}", "48x48 input", "from mu 1", "from mu 2"]
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), data.images["test"][i])
    assert f"test sketch {i} ({cat})" in fig.get_suptitle()
    with pytest.raises(ValueError, match=r"test sketch 32: the test split has 32 sketches \(0..31\)"):
        Wd.reconstruction_panel(ck, data, 32)


def test_code_and_temperature_strips(trained):
    ck, data = trained
    model = ck.model
    mu, _, _ = Wd.split_codes(model, data)
    fig = Wd.code_strip(ck, mu[:3], titles=["a", "b", "c"], greedy=True)
    assert titles(fig) == ["a", "b", "c"]
    fig = Wd.temperature_strip(ck, mu[0], temperatures=(0.1, 0.5))
    assert titles(fig) == ["greedy", "tau = 0.1", "tau = 0.5"]
    with pytest.raises(ValueError, match="temperatures: every value must be > 0"):
        Wd.temperature_strip(ck, mu[0], temperatures=(0.0,))
    with pytest.raises(ValueError, match=r"z: expected \[S, 32\] codes"):
        Wd.code_strip(ck, mu[0])
    with pytest.raises(ValueError, match="titles: 1 given for 3 codes"):
        Wd.code_strip(ck, mu[:3], titles=["a"])


def shown_png(ex) -> bytes:
    (out,) = ex.output.outputs
    assert out["output_type"] == "display_data"
    png = base64.b64decode(out["data"]["image/png"])
    assert png.startswith(b"\x89PNG")
    return png


def test_explorer_rerenders_on_every_change(trained, monkeypatch):
    import ipywidgets as W

    ck, data = trained
    model = ck.model
    ex = Wd.Explorer(ck, data, n=2)
    assert isinstance(ex.widget, W.Box) and ex.output in ex.widget.children
    assert len(repr(ex.widget)) < 200, "the notebook's text form of the box must not carry the PNG"
    assert isinstance(ex.component, W.Dropdown) and isinstance(ex.temperature, W.FloatSlider)
    assert isinstance(ex.seed, W.IntText) and isinstance(ex.n, W.IntSlider) and isinstance(ex.t, W.FloatSlider)
    assert [label for label, _ in ex.component.options] == [f"{k}: {Wd.alpha_text(model, k)}" for k in range(4)]
    assert ex.component.value == int(model.latent.alpha.argmax())
    assert ex.renders == 1 and len(ex.figure.axes) == 2 + 4
    assert legibility_problems(ex.figure, ex.dpi) == []
    first = shown_png(ex)

    calls = []
    real = Wd.component_panel

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(Wd, "component_panel", spy)
    ex.n.value = 3
    assert calls[-1][0][3] == 3 and ex.renders == 2
    assert titles(ex.figure)[:3] == ["sample 1", "sample 2", "sample 3"] and titles(ex.figure)[3] != "sample 4"
    assert shown_png(ex) != first
    ex.seed.value = 5
    assert calls[-1][1]["seed"] == 5 and "seed 5" in ex.output.outputs[0]["data"]["text/plain"]
    ex.temperature.value = 0.5
    assert calls[-1][1]["temperature"] == 0.5 and "tau = 0.5" in ex.figure.get_suptitle()
    ex.greedy.value = True
    assert calls[-1][1]["greedy"] is True and "greedy" in ex.figure.get_suptitle()

    ex.view.value = "interpolation"
    assert titles(ex.figure)[-1] == "slider: t = 0.50" and len(ex.figure.axes) == ex.steps.value + 1
    ex.t.value = 0.25
    assert titles(ex.figure)[-1] == "slider: t = 0.25"
    ex.steps.value = 3
    assert len(ex.figure.axes) == 4
    ex.view.value = "reconstruction"
    ex.index.value = 7
    assert titles(ex.figure)[0].endswith("#7") and "test sketch 7" in ex.figure.get_suptitle()
    assert ex.renders == 10 and len(calls) == 4


def test_explorer_reports_a_bad_component_in_its_output(trained):
    ck, data = trained
    ex = Wd.Explorer(ck, data, n=1)
    before = ex.renders
    ex.show_component(7)  # no exception: the message goes to the output area
    (out,) = ex.output.outputs
    assert out["output_type"] == "stream" and "Traceback" not in out["text"]
    assert "component 7: this model has 4 Gaussians (0..3)" in out["text"]
    assert ex.error is not None and ex.renders == before
    ex.show_component(1)
    assert ex.error is None and ex.component.value == 1 and "Gaussian 1 of 4" in ex.figure.get_suptitle()
    shown_png(ex)
    ex.seed.value = -1  # typed into the seed box
    assert "seed -1: expected an integer in [0, 2**63)" in ex.output.outputs[0]["text"]
    ex.seed.value = 3
    assert ex.error is None and "seed 3" in ex.figure.get_suptitle()
    bad = Wd.Explorer(ck, data, component=-2, n=1)
    assert "component -2" in bad.output.outputs[0]["text"] and bad.figure is None
    codes = Wd.split_codes(ck.model, data)  # codes already computed are reused, not encoded again
    assert Wd.Explorer(ck, data, n=1, codes=codes).codes is codes
    with pytest.raises(ValueError, match="codes: expected the 32 test codes"):
        Wd.Explorer(ck, data, n=1, codes=tuple(c[:5] for c in codes))


def test_the_pictures_are_legible_at_notebook_width(trained):
    """Every picture as the explorers show it (a PNG at 72 dpi, at most a notebook's 900 px wide): text of 10 px
    or more, none cut off at the figure's edge, none over another."""
    ck, data = trained
    codes = Wd.split_codes(ck.model, data)
    figures = {
        "component": Wd.component_panel(ck, data, 2, n=8, codes=codes),
        "component, 12 samples (two rows)": Wd.component_panel(ck, data, 0, n=12, greedy=True, codes=codes),
        "interpolation, 12 steps and the slider": Wd.interpolation_strip(ck, 2, 1, steps=12, t=0.5, greedy=True),
        "interpolation, 2 steps and the slider (a long title)": Wd.interpolation_strip(ck, 2, 1, steps=2, t=0.5,
                                                                                      greedy=True),
        "temperatures": Wd.temperature_strip(ck, codes[0][0]),
        "reconstruction": Wd.reconstruction_panel(ck, data, 3),
        "drawing": Wd.drawing_panel(ck, data, [np.array([[60.0, 60.0], [160.0, 100.0], [260.0, 60.0]])], n=4,
                                    codes=codes)[0],
    }
    for name, fig in figures.items():
        assert legibility_problems(fig) == [], name
    strip = figures["interpolation, 12 steps and the slider"]  # 13 sketches: two rows, not one too wide to read
    assert strip.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, Wd.MAX_COLS)
    # a title longer than its figure is wide goes on two lines, broken after a "; ", not cut at the edge
    narrow = Wd.reconstruction_panel(ck, data, 3, n=1)
    title = narrow.get_suptitle()
    assert title.count("\n") == 1 and ";\n" in title and legibility_problems(narrow) == []
    assert Wd.suptitle(narrow) == title.replace(";\n", "; ") and "\n" not in Wd.suptitle(narrow)


def test_posterior_values_sit_inside_the_chart(trained):
    """The value of each posterior bar is written inside the chart: in a tall bar (white), above a short one."""
    ck, data = trained
    codes = Wd.split_codes(ck.model, data)
    zigzag = [[60 + 20 * j, 60 + 40 * (j % 2)] for j in range(11)]  # Gaussian 0 wins, g about 0.99
    line = [[30.0, 160.0], [290.0, 160.0]]  # Gaussians 0 and 3 share it, g about 0.55 and 0.45
    spread = []
    for drawing in (zigzag, line):
        fig, info = Wd.drawing_panel(ck, data, [np.array(drawing)], n=1, n_near=1, codes=codes)
        _, renderer, drawn = drawn_texts(fig, 72)
        chart, g = fig.axes[2], info["posterior"].numpy()
        assert [t.get_text() for t in chart.texts] == [f"{v:.2g}" for v in g]
        assert all(t in drawn for t in chart.texts)
        box = chart.get_window_extent(renderer)
        for t, v in zip(chart.texts, g):
            b = t.get_window_extent(renderer)
            assert box.x0 <= b.x0 and b.x1 <= box.x1 and box.y0 <= b.y0 and b.y1 <= box.y1, f"{t.get_text()} outside"
            assert (t.get_color() == "white") == (v >= 0.5), "white on a tall bar, black above a short one"
        assert legibility_problems(fig) == []
        spread.append(sorted(g)[-2])
    assert spread[0] < 0.01 and spread[1] > 0.3, "the line puts a value above a visible bar"
