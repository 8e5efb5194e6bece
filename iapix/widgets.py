"""Explore a trained model's latent GMM: plain figure functions, and an ipywidgets shell over them.

Every picture is made by a plain function that returns a matplotlib figure and needs no browser:

* :func:`component_panel` -- ``n`` sketches drawn from Gaussian ``k`` (``z ~ N(m_k, v_k)``, method §5),
  titled with the weight ``alpha_k``, followed by a few *members*: test sketches whose component
  label (``model.latent.labels(mu, s2)``) is ``k``;
* :func:`interpolation_strip` -- sketches decoded along the segment from the mean of Gaussian ``k_a``
  to the mean of ``k_b`` (optionally one extra sketch at a chosen position ``t``);
* :func:`code_strip` -- any row of codes decoded side by side (e.g. between two test sketches' codes);
* :func:`temperature_strip` -- one code decoded at several temperatures;
* :func:`reconstruction_panel` -- a test sketch, its 48x48 input and reconstructions from its ``mu``.

:class:`Explorer` wires them to ipywidgets (component, temperature, seed, number of samples,
interpolation, test sketch) and shows the current picture as a PNG in one ``Output`` area. Its
callbacks only read widget values and call the functions above, so they run headless (tests set a
widget's value and read ``explorer.output.outputs``); a bad value (e.g. a component the model does
not have) is shown as a one-line message in the output instead of a traceback.

:class:`DrawExplorer` does the same for a drawing of your own: a ``SketchPad`` (an anywidget
``<canvas>``, strokes synced to Python) next to an ``Output`` showing :func:`drawing_panel`
(input image, posterior, nearest test sketches, reconstructions, variations, completions).

Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot state, nothing to close): a
notebook displays one when it is a cell's value. Every function also takes ``fig=``, an existing
figure or sub-figure to draw into, to put two panels side by side (``Figure.subfigures``).
The pictures take the :class:`iapix.checkpoint.Checkpoint` (``ck = load_checkpoint(path)``): the model
with its scale factor, N_max and categories. Generated sketches are in pixel units (the checkpoint's
``scale``); test sketches are shown in the same units. Sampling is reproducible: the same ``seed``
gives the same sketches (``iapix.sample``).
"""

from __future__ import annotations

import base64
import functools
import io
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from torch import Tensor

from iapix.checkpoint import Checkpoint
from iapix.data import Prepared, denormalise
from iapix.decoder import DEFAULT_TEMPERATURE
from iapix.latent import ALIVE
from iapix.model import IAPix
from iapix.plot import plot_image, plot_sketch
from iapix.sample import (
    check_component,
    component_majority,
    decode,
    encode,
    from_component,
    interpolate_components,
    split_codes,
)

if TYPE_CHECKING:
    from matplotlib.figure import FigureBase

CELL = 1.3  # inches per sketch cell
MAX_COLS = 8  # sketch cells per row at most: 8 x 1.3 in = 749 px at 72 dpi, within a notebook's width
FONT = 10  # points: the cells' titles, tick labels and numbers (10 px at the notebooks' and widgets' 72 dpi)
TITLE_FONT = 11  # points: a panel's title


# ----------------------------------------------------------------------------------------------
# checks and small helpers


def _check_test(data: Prepared, index: int | None = None) -> int:
    n = len(data.images["test"])
    if n == 0:
        raise ValueError("data: the test split is empty (prepare() kept no test sketch)")
    if index is not None and (isinstance(index, bool) or not isinstance(index, (int, np.integer))
                              or not 0 <= int(index) < n):
        raise ValueError(f"test sketch {index!r}: the test split has {n} sketches (0..{n - 1})")
    return n


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def alpha_text(model: IAPix, k: int) -> str:
    """``"α = 0.545"`` (``"α = 1e-10, dead"`` for a pruned Gaussian)."""
    a = float(model.latent.alpha[k])
    return f"α = {a:.3g}" + (", dead" if a <= ALIVE else "")


def _how(temperature: float, greedy: bool, seed: int | None) -> str:
    return ("greedy" if greedy else f"tau = {temperature:g}") + ("" if seed is None else f", seed {seed}")


def _pixels(data: Prepared, scale: float, i: int) -> np.ndarray:
    """Test sketch ``i`` of ``data`` (normalised stroke-3) back in pixel units."""
    return denormalise([data.strokes["test"][i]], scale)[0]


def members(labels: Tensor | np.ndarray, k: int, count: int) -> np.ndarray:
    """Up to ``count`` indices of codes labelled ``k``, spread evenly over them: the middle of each of ``count``
    equal parts (the test split is in category order, so the categories show in proportion to their share; the
    first and the last member, often of a small minority, are not favoured)."""
    idx = np.flatnonzero(np.asarray(labels) == k)
    if len(idx) <= count:
        return idx
    return idx[((np.arange(count) + 0.5) * len(idx) / count).astype(int)]


def _grid(fig: "FigureBase | None", cells: int, ncols: int) -> tuple["FigureBase", list]:
    """``cells`` axes in rows of ``ncols`` (at most ``MAX_COLS``; in ``fig``, or a new figure); unused grid places
    removed."""
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, cells, MAX_COLS))
    nrows = -(-cells // ncols)
    if fig is None:
        fig = Figure(figsize=(ncols * CELL, nrows * (CELL + 0.2) + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[cells:]:
        ax.remove()
    return fig, list(axes[:cells])


def _empty_cell(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=FONT, transform=ax.transAxes)
    ax.axis("off")


def _sketch(ax, s: np.ndarray, title: str | None = None, color: str = "black") -> None:
    """:func:`iapix.plot.plot_sketch` with the title at ``FONT`` points."""
    plot_sketch(ax, s, color=color)
    if title:
        ax.set_title(title, fontsize=FONT)


def _text_width(text: str, size: float) -> float:
    """Width in points of one line of ``text`` at ``size`` points (matplotlib's default font)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    return TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0]


def _fill(words: Sequence[str], sep: str, size: float, room: float) -> list[str]:
    """``words`` joined by ``sep`` into lines of at most ``room`` points (a longer single word has a line to itself)."""
    lines: list[str] = []
    for w in words:
        if lines and _text_width(lines[-1] + sep + w, size) <= room:
            lines[-1] += sep + w
        else:
            lines.append(w)
    return lines


def _title(fig: "FigureBase", text: str, size: float = TITLE_FONT) -> None:
    """``fig.suptitle(text)``, broken into lines where a line would be wider than ``fig``.

    A title cut off at the figure's edge (a PNG in a widget keeps the figure's size) loses its end; so a long
    title goes on several lines instead: after a ``"; "`` between its parts, and inside a part too wide by
    itself, between words. :func:`suptitle` gives it back on one line.
    """
    room = fig.bbox.width / fig.figure.dpi * 72 - 8  # points, less a small margin
    lines: list[str] = []
    for part in text.split("; "):
        pieces = [part] if _text_width(part, size) <= room else _fill(part.split(" "), " ", size, room)
        if lines and _text_width(lines[-1] + "; " + pieces[0], size) <= room:
            lines[-1] += "; " + pieces.pop(0)
        elif lines:
            lines[-1] += ";"
        lines += pieces
    fig.suptitle("\n".join(lines), fontsize=size)


# ----------------------------------------------------------------------------------------------
# the pictures


def component_panel(ck: Checkpoint, data: Prepared, k: int, n: int = 8, temperature: float = DEFAULT_TEMPERATURE,
                    seed: int | None = 0, greedy: bool = False, n_members: int = 4, ncols: int = 8,
                    codes: tuple[Tensor, Tensor, Tensor] | None = None,
                    fig: "FigureBase | None" = None) -> "FigureBase":
    """``n`` sketches from Gaussian ``k`` and up to ``n_members`` test sketches labelled ``k``.

    Axes: ``n`` samples (titled ``sample 1`` ...), then the members (titled ``<category> #<index>``),
    or one cell saying ``none`` when no test code has label ``k``. The figure's title gives ``k``, its
    weight ``alpha_k``, its number of members and their majority category with its share (``pig 62%``,
    :func:`component_majority`). ``codes``: :func:`split_codes` of the test split (computed when not given).
    """
    model = ck.model
    k = check_component(model, k)
    _check_positive("n", n)
    _check_test(data)
    mu, s2, labels = codes if codes is not None else split_codes(model, data)
    sketches = from_component(ck, k, n, temperature, greedy, seed)
    pick = members(labels, k, n_members)
    fig, axes = _grid(fig, n + max(1, len(pick)), ncols)
    for j, (ax, s) in enumerate(zip(axes, sketches)):
        _sketch(ax, s, f"sample {j + 1}")
    if len(pick):
        for ax, i in zip(axes[n:], pick):
            _sketch(ax, _pixels(data, ck.scale, i), f"{data.categories[data.labels['test'][i]]} #{i}", "tab:blue")
    else:
        _empty_cell(axes[n], f"members: none\n(no test code\nhas label {k})")
    count = int((np.asarray(labels) == k).sum())
    majority = ""
    if count and len(labels) == len(data.labels["test"]):  # the members' majority category and its share
        majority = ", " + component_majority(labels, data.labels["test"], data.categories, model.latent.K)[k]
    _title(fig, f"Gaussian {k} of {model.latent.K} ({alpha_text(model, k)}): {count}/{len(labels)} test codes"
                f"{majority}; {_how(temperature, greedy, seed)}")
    return fig


def code_strip(ck: Checkpoint, z: Tensor, titles: Sequence[str] | None = None, temperature: float = DEFAULT_TEMPERATURE,
               greedy: bool = False, seed: int | None = 0, title: str | None = None,
               fig: "FigureBase | None" = None) -> "FigureBase":
    """Codes ``z [S, D]`` decoded side by side, one axis each (one batch, one ``seed``)."""
    z = torch.as_tensor(z).float()
    z_dim = ck.config.z_dim
    if z.dim() != 2 or z.shape[1] != z_dim or len(z) == 0:
        raise ValueError(f"z: expected [S, {z_dim}] codes with S >= 1, got {tuple(z.shape)}")
    if titles is not None and len(titles) != len(z):
        raise ValueError(f"titles: {len(titles)} given for {len(z)} codes")
    sketches = decode(ck, z, temperature, greedy, seed)
    fig, axes = _grid(fig, len(z), len(z))
    for j, (ax, s) in enumerate(zip(axes, sketches)):
        _sketch(ax, s, titles[j] if titles is not None else None)
    _title(fig, title or f"{len(z)} codes, {_how(temperature, greedy, seed)}")
    return fig


def interpolation_strip(ck: Checkpoint, k_a: int, k_b: int, steps: int = 7, temperature: float = DEFAULT_TEMPERATURE,
                        greedy: bool = False, seed: int | None = 0, t: float | None = None,
                        fig: "FigureBase | None" = None) -> "FigureBase":
    """Sketches decoded from ``steps`` codes on the line from the mean of Gaussian ``k_a`` to that of ``k_b``.

    Axes titled ``t = 0.00`` ... ``t = 1.00`` (code ``(1 - t) m_a + t m_b``); with ``t`` given, one
    more axis at the end decodes that single position (the explorer's slider).
    """
    model = ck.model
    k_a, k_b = check_component(model, k_a), check_component(model, k_b)
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps: expected an integer >= 2 (both ends are included), got {steps!r}")
    ts = np.linspace(0.0, 1.0, steps).tolist()
    z = interpolate_components(model, k_a, k_b, steps)
    titles = [f"t = {x:.2f}" for x in ts]
    if t is not None:
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t: expected a position in [0, 1], got {t}")
        m_a, m_b = model.latent.means[k_a].float().cpu(), model.latent.means[k_b].float().cpu()
        z = torch.cat([z, ((1 - t) * m_a + t * m_b)[None]])
        titles.append(f"slider: t = {t:.2f}")
    title = (f"mean of Gaussian {k_a} ({alpha_text(model, k_a)}) → mean of {k_b} ({alpha_text(model, k_b)}); "
             f"{_how(temperature, greedy, seed)}")
    return code_strip(ck, z, titles, temperature, greedy, seed, title, fig)


def temperature_strip(ck: Checkpoint, z: Tensor, temperatures: Sequence[float] = (0.1, 0.24, 0.5, 0.8, 1.0),
                      seed: int | None = 0, with_greedy: bool = True, title: str | None = None,
                      fig: "FigureBase | None" = None) -> "FigureBase":
    """One code ``z [D]`` decoded greedily (optional) and at each temperature, same ``seed`` each time."""
    z = torch.as_tensor(z).float().reshape(1, -1)
    if z.shape[1] != ck.config.z_dim:
        raise ValueError(f"z: expected one code of {ck.config.z_dim} numbers, got {z.shape[1]}")
    bad = [x for x in temperatures if not (x > 0 and np.isfinite(x))]
    if bad:
        raise ValueError(f"temperatures: every value must be > 0 (use with_greedy for the arg-max), got {bad}")
    runs = ([(True, 1.0)] if with_greedy else []) + [(False, float(x)) for x in temperatures]
    if not runs:
        raise ValueError("temperature_strip: no temperature given and with_greedy=False: nothing to draw")
    fig, axes = _grid(fig, len(runs), len(runs))
    for ax, (greedy, tau) in zip(axes, runs):
        s = decode(ck, z, tau, greedy, seed)[0]
        _sketch(ax, s, "greedy" if greedy else f"tau = {tau:g}")
    _title(fig, title or f"one code, several temperatures (seed {seed})")
    return fig


def reconstruction_panel(ck: Checkpoint, data: Prepared, index: int, n: int = 3,
                         temperature: float = DEFAULT_TEMPERATURE, seed: int | None = 0, greedy: bool = False,
                         fig: "FigureBase | None" = None) -> "FigureBase":
    """Test sketch ``index``, its 48x48 input image, and ``n`` sketches decoded from its ``mu`` (method §5).

    Axes: the sketch (``<category> #<index>``), the image (``48x48 input``), then ``from mu 1`` ...
    The title gives the sketch's component label and its weight.
    """
    model = ck.model
    _check_test(data, index)
    _check_positive("n", n)
    index = int(index)
    image = data.images["test"][index:index + 1]
    mu, s2 = encode(model, image)
    k = int(model.latent.labels(mu.to(model.latent.alpha.device), s2.to(model.latent.alpha.device))[0])
    sketches = decode(ck, mu.expand(n, -1), temperature, greedy, seed)
    fig, axes = _grid(fig, n + 2, n + 2)
    cat = data.categories[data.labels["test"][index]]
    _sketch(axes[0], _pixels(data, ck.scale, index), f"{cat} #{index}", "tab:blue")
    plot_image(axes[1], image[0])
    axes[1].set_title("48x48 input", fontsize=FONT)
    for j, (ax, s) in enumerate(zip(axes[2:], sketches)):
        _sketch(ax, s, f"from mu {j + 1}")
    _title(fig, f"test sketch {index} ({cat}), in Gaussian {k} ({alpha_text(model, k)}); from mu, "
                f"{_how(temperature, greedy, seed)}")
    return fig


def suptitle(fig: "FigureBase") -> str:
    """The text of a figure's suptitle on one line ("" when it has none; a long title, broken into lines here,
    is joined back)."""
    if hasattr(fig, "get_suptitle"):  # matplotlib >= 3.8
        text = fig.get_suptitle()
    else:
        text = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    return text.replace(";\n", "; ").replace("\n", " ")


def figure_png(fig: "FigureBase", dpi: int = 72) -> bytes:
    """A figure as PNG bytes (the top-level figure of a sub-figure)."""
    buf = io.BytesIO()
    fig.figure.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------
# the widget shell


VIEWS = ("component", "interpolation", "reconstruction")


@functools.cache
def _box_class():
    """``ipywidgets.VBox`` with a one-line text form.

    A notebook stores a widget's ``repr`` as its plain-text output; the default one of a box spells out
    every child, including the PNG held by the output area (tens of kB of base64). Imported lazily:
    ipywidgets is an optional dependency (``pip install iapix[notebooks]``).
    """
    import ipywidgets as W

    class ExplorerBox(W.VBox):
        def __repr__(self) -> str:
            return "ExplorerBox (iapix.widgets.Explorer: the controls show in a live Jupyter kernel)"

    return ExplorerBox


class Explorer:
    """ipywidgets explorer of a model's GMM: pick a Gaussian, interpolate, reconstruct test sketches.

    ``Explorer(ck, data).widget`` is the box to display. Controls: a view selector; the
    Gaussian (a dropdown whose labels give each ``alpha_k``), number of samples; interpolation
    end points, steps and a slider ``t`` along the line; the test sketch; shared temperature, greedy
    switch and seed. Each change re-renders the current view into ``output`` through the plain
    functions of this module (``figure`` keeps the last figure, ``renders`` counts them).
    :meth:`show_component` selects a Gaussian by number and reports a bad one in the output.
    ``codes``: :func:`split_codes` of the test split, when already computed (encoded here otherwise).
    """

    def __init__(self, ck: Checkpoint, data: Prepared, component: int | None = None, n: int = 8,
                 temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, dpi: int = 72,
                 codes: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        import ipywidgets as W

        n_test = _check_test(data)
        model = ck.model
        self.ck, self.data, self.dpi = ck, data, dpi
        if codes is not None and len(codes[2]) != n_test:
            raise ValueError(f"codes: expected the {n_test} test codes of split_codes(model, data), "
                             f"got {len(codes[2])}")
        self.codes = codes if codes is not None else split_codes(model, data)  # once: the members of every Gaussian
        self.figure: FigureBase | None = None
        self.renders = 0
        self.error: str | None = None
        K = model.latent.K
        alpha = model.latent.alpha.float().cpu()
        options = [(f"{k}: {alpha_text(model, k)}", k) for k in range(K)]
        heaviest = int(alpha.argmax())
        order = alpha.argsort(descending=True).tolist()
        style = {"description_width": "110px"}

        self.view = W.ToggleButtons(options=list(VIEWS), value="component", description="view", style=style)
        self.component = W.Dropdown(options=options, value=heaviest, description="Gaussian", style=style)
        self.n = W.IntSlider(value=n, min=1, max=32, description="samples", style=style)
        self.k_a = W.Dropdown(options=options, value=order[0], description="from Gaussian", style=style)
        self.k_b = W.Dropdown(options=options, value=order[min(1, K - 1)], description="to Gaussian", style=style)
        self.steps = W.IntSlider(value=7, min=2, max=12, description="steps", style=style)
        self.t = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t (slider)", style=style)
        self.index = W.IntSlider(value=0, min=0, max=n_test - 1, description="test sketch", style=style)
        self.temperature = W.FloatSlider(value=temperature, min=0.05, max=1.5, step=0.01, description="temperature",
                                         style=style)
        # indent=False and width auto: the description takes the room it needs (a fixed-width one cut it short)
        self.greedy = W.Checkbox(value=False, description="greedy (arg-max, ignores temperature)", indent=False,
                                 layout=W.Layout(width="auto"))
        self.seed = W.IntText(value=seed, description="seed", style=style)
        self.output = W.Output()
        controls = [self.view, self.component, self.n, self.k_a, self.k_b, self.steps, self.t, self.index,
                    self.temperature, self.greedy, self.seed]
        for w in controls:
            w.observe(self._on_change, names="value")
        header = W.HTML(f"<b>{model.cfg.objective}</b> model, K = {K} Gaussians, "
                        f"{int((alpha > ALIVE).sum())} alive (α &gt; {ALIVE:g}); {n_test} test sketches")
        views = W.HBox([W.VBox([self.component, self.n]), W.VBox([self.k_a, self.k_b, self.steps, self.t]),
                        W.VBox([self.index])])
        shared = W.HBox([self.temperature, self.seed, self.greedy])
        self.widget = _box_class()([header, self.view, views, shared, self.output])
        if component is not None:
            self.show_component(component)
        else:
            self._refresh()

    # -- callbacks

    def _on_change(self, change: dict) -> None:
        self._refresh()

    def show_component(self, k: int) -> None:
        """Show Gaussian ``k`` (switches to the component view); a bad ``k`` is reported in the output."""
        try:
            k = check_component(self.ck.model, k)
        except ValueError as e:
            self._show_error(e)
            return
        self._quiet(self.view, "component")
        self._quiet(self.component, k)
        self._refresh()

    def _quiet(self, w, value) -> None:
        """Set a widget's value without triggering a render (the caller renders once)."""
        w.unobserve(self._on_change, names="value")
        try:
            w.value = value
        finally:
            w.observe(self._on_change, names="value")

    def render(self) -> "FigureBase":
        """The figure of the current view and widget values (raises ``ValueError`` on bad values)."""
        seed = int(self.seed.value)
        if not 0 <= seed < 2**63:
            raise ValueError(f"seed {seed}: expected an integer in [0, 2**63)")
        opts = dict(temperature=float(self.temperature.value), greedy=bool(self.greedy.value), seed=seed)
        if self.view.value == "component":
            return component_panel(self.ck, self.data, self.component.value, int(self.n.value),
                                   codes=self.codes, **opts)
        if self.view.value == "interpolation":
            return interpolation_strip(self.ck, self.k_a.value, self.k_b.value, int(self.steps.value),
                                       t=float(self.t.value), **opts)
        return reconstruction_panel(self.ck, self.data, int(self.index.value), **opts)

    def _refresh(self) -> None:
        """Re-render the current view into the output area (an error becomes a message there)."""
        try:
            fig = self.render()
        except ValueError as e:
            self._show_error(e)
            return
        self.figure, self.error = fig, None
        self.renders += 1
        png = base64.b64encode(figure_png(fig, self.dpi)).decode("ascii")
        text = suptitle(fig) or "figure"
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": text}},)

    def _show_error(self, e: Exception) -> None:
        self.error = str(e)
        self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": f"cannot show this: {e}\n"},)



# ----------------------------------------------------------------------------------------------
# draw your own: a sketch pad (anywidget) and the explorer of one drawing
#
# The pad is a <canvas> in a small ES module (no build step): pointer events (mouse, pen, touch)
# collect one stroke at a time; when the pointer is lifted the stroke is appended to the synced
# traitlet ``strokes`` (a list of strokes, each a list of [x, y] canvas points), so Python sees one
# change per stroke. Clear and Undo buttons edit the same list; Python may also set it (the canvas
# redraws). anywidget is an optional dependency, imported only when a pad is made.

PAD_ESM = r"""
function render({ model, el }) {
  const W = model.get("width"), H = model.get("height");
  const wrap = document.createElement("div");
  wrap.className = "iapix-sketchpad";
  const canvas = document.createElement("canvas");
  canvas.width = W; canvas.height = H;
  canvas.style.cssText = "border:1px solid #888;touch-action:none;cursor:crosshair;background:#fff;display:block";
  const bar = document.createElement("div");
  const button = (text, cls, onclick) => {
    const b = document.createElement("button");
    b.textContent = text; b.className = cls; b.style.marginRight = "6px"; b.onclick = onclick;
    bar.appendChild(b);
  };
  const ctx = canvas.getContext("2d");
  let current = null;
  const draw = () => {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = "#000"; ctx.fillStyle = "#000"; ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round";
    const all = model.get("strokes").concat(current ? [current] : []);
    for (const s of all) {
      if (!s.length) continue;
      if (s.length === 1) { ctx.beginPath(); ctx.arc(s[0][0], s[0][1], 1.5, 0, 2 * Math.PI); ctx.fill(); continue; }
      ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
      for (const p of s.slice(1)) ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    }
  };
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) * W / r.width * 10) / 10,
            Math.round((e.clientY - r.top) * H / r.height * 10) / 10];
  };
  const commit = (strokes) => { model.set("strokes", strokes); model.save_changes(); };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId); current = [pos(e)]; draw(); e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const p = pos(e), q = current[current.length - 1];
    if (p[0] !== q[0] || p[1] !== q[1]) { current.push(p); draw(); }
    e.preventDefault();
  });
  const finish = () => {
    if (!current) return;
    const s = current; current = null;
    commit(model.get("strokes").concat([s]));
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  button("Clear", "iapix-clear", () => commit([]));
  button("Undo", "iapix-undo", () => commit(model.get("strokes").slice(0, -1)));
  model.on("change:strokes", draw);
  wrap.appendChild(canvas); wrap.appendChild(bar); el.appendChild(wrap);
  draw();
  return () => model.off("change:strokes", draw);
}
export default { render };
"""


@functools.cache
def _pad_class():
    """The ``SketchPad`` class (made on first use: anywidget is optional, ``pip install anywidget``)."""
    try:
        import anywidget
        import traitlets
    except ImportError as e:
        raise ImportError("SketchPad needs anywidget: pip install 'anywidget>=0.9' (or iapix[notebooks])") from e

    class SketchPad(anywidget.AnyWidget):
        """A drawing pad: ``strokes`` = list of strokes, each a list of ``[x, y]`` canvas pixels (synced)."""

        _esm = PAD_ESM
        strokes = traitlets.List([]).tag(sync=True)
        width = traitlets.Int(320).tag(sync=True)
        height = traitlets.Int(320).tag(sync=True)

        def __repr__(self) -> str:
            return f"SketchPad ({len(self.strokes)} strokes; draws in a live Jupyter kernel)"

    return SketchPad


def __getattr__(name: str):
    if name == "SketchPad":
        return _pad_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def drawing_panel(ck: Checkpoint, data: Prepared, lines: Sequence[np.ndarray], n: int = 4,
                  n_near: int = 4, temperature: float = DEFAULT_TEMPERATURE, seed: int | None = 0,
                  codes: tuple[Tensor, Tensor, Tensor] | None = None, classifier: torch.nn.Module | None = None,
                  fig: "FigureBase | None" = None) -> tuple["FigureBase", dict]:
    """Everything about one drawing (canvas polylines): a figure of five rows, and the numbers behind it.

    Rows: (1) the drawing (as the model reads it, pixel units), its 48x48 input, the posterior ``g``
    over the K Gaussians (each bar labelled with the component's majority test category; dead
    Gaussians, alpha <= 1e-3, in grey); (2) the ``n_near`` test sketches with the nearest codes
    (squared distance between ``mu``s, as Ret); (3) ``n`` reconstructions from ``mu``; (4) ``n``
    variations from the winning Gaussian (the drawing's label); (5) ``n`` completions (the user's
    strokes in blue). Returns ``(fig, info)``: ``info`` holds :func:`iapix.sample.encode_drawing`'s
    dict plus ``nearest`` (test indices), ``majority``, ``completions``, ``variations`` and, with a
    ``classifier``, ``predicted`` (its category for the drawing's image). A VAE checkpoint (one
    N(0, I), no mixture) and bad drawings raise ``ValueError``.
    """
    from iapix.evaluate import predict
    from iapix.sample import complete, encode_drawing

    model = ck.model
    if model.cfg.objective == "vae":
        raise ValueError("this is a VAE checkpoint: its prior is one Gaussian N(0, I), so there is no posterior "
                         "over components and no 'winning Gaussian' to draw variations from; load an ia or rpcl "
                         "checkpoint")
    _check_positive("n", n)
    _check_positive("n_near", n_near)
    _check_test(data)
    info = encode_drawing(ck, lines)
    mu_t, _, labels = codes if codes is not None else split_codes(model, data)
    K, scale = model.latent.K, ck.scale
    majority = component_majority(labels, data.labels["test"], data.categories, K)
    nearest = (mu_t - info["mu"][None]).square().sum(1).topk(min(n_near, len(mu_t)), largest=False).indices.numpy()
    k = info["label"]
    recon = decode(ck, info["mu"][None].expand(n, -1), temperature, False, seed)
    variations = from_component(ck, k, n, temperature, False, seed)
    completions = complete(ck, info["stroke3"], n, temperature, seed)
    info.update(nearest=nearest, majority=majority, completions=completions, variations=variations)
    if classifier is not None:
        info["predicted"] = data.categories[int(predict(classifier, info["image"][None, None])[0])]

    from matplotlib.figure import Figure

    cols = min(max(n, n_near, 4), MAX_COLS)
    if fig is None:  # 1.6 in a column: room for the posterior's bar names ("1: cat 100%") at FONT points
        fig = Figure(figsize=(cols * 1.6, 4 * (1.6 + 0.2) + 2.3), layout="constrained")
    top, near, rec, var, comp = fig.subfigures(5, 1, height_ratios=[1.3, 1, 1, 1, 1])
    a_draw, a_img, a_post = top.subplots(1, 3, width_ratios=[1, 1, 3.6])
    _sketch(a_draw, info["stroke3"], "your drawing", "tab:blue")
    plot_image(a_img, info["image"])
    a_img.set_title("48x48 input", fontsize=FONT)
    g = info["posterior"].numpy()
    alpha = model.latent.alpha.float().cpu().numpy()
    colors = ["tab:orange" if j == k else ("lightgrey" if alpha[j] <= ALIVE else "tab:blue") for j in range(K)]
    a_post.bar(range(K), g, color=colors)
    a_post.set_ylim(0, 1)
    a_post.set_yticks([])  # each bar carries its value
    a_post.spines[["left", "right", "top"]].set_visible(False)
    # more than four bars: the names slant, so that neighbours do not run into each other
    slant = dict(rotation=35, ha="right", rotation_mode="anchor") if K > 4 else {}
    a_post.set_xticks(range(K), [f"{j}: {majority[j]}" + ("\n(dead)" if alpha[j] <= ALIVE else "")
                                 for j in range(K)], fontsize=FONT, **slant)
    a_post.set_title(f"posterior g (label {k}, orange)", fontsize=FONT)
    for j, v in enumerate(g):  # the value inside a tall bar (white), above a short one: always inside the axes
        inside = v >= 0.5
        a_post.text(j, v - 0.04 if inside else v + 0.03, f"{v:.2g}", ha="center", va="top" if inside else "bottom",
                    color="white" if inside else "black", fontsize=FONT)
    _, axes = _grid(near, len(nearest), cols)
    for ax, i in zip(axes, nearest):
        _sketch(ax, _pixels(data, scale, int(i)), f"{data.categories[data.labels['test'][i]]} #{i}", "tab:green")
    near.suptitle("nearest test sketches (code distance)", fontsize=FONT)
    for sub, sketches, what in ((rec, recon, "from mu"), (var, variations, f"Gaussian {k}")):
        _, axes = _grid(sub, n, cols)
        for j, (ax, s) in enumerate(zip(axes, sketches)):
            _sketch(ax, s, f"{what} {j + 1}")
    rec.suptitle("reconstructions from mu", fontsize=FONT)
    var.suptitle(f"variations: z ~ N(m_{k}, v_{k}), {alpha_text(model, k)}", fontsize=FONT)
    _, axes = _grid(comp, n, cols)
    for j, (ax, s) in enumerate(zip(axes, completions)):
        _sketch(ax, s, f"completion {j + 1}")
        plot_sketch(ax, info["stroke3"], color="tab:blue")
    comp.suptitle("completions (yours in blue)", fontsize=FONT)
    extra = [f"classifier: {info['predicted']}"] if "predicted" in info else []
    extra += [info["note"]] if info["note"] else []
    _title(fig, "; ".join([f"{len(info['stroke3'])} points, label {k} ({majority[k]})", *extra,
                           _how(temperature, False, seed)]))
    return fig, info


class DrawExplorer:
    """Draw on a pad, see what the model makes of it (:func:`drawing_panel` on every change).

    ``DrawExplorer(ck, data).widget`` is the box to display: a :class:`SketchPad` and an
    ``Output``. Each change of the pad's ``strokes`` calls :meth:`update`, which also runs headless
    (tests call it with a list of strokes); a bad drawing (empty pad, a single dot) or a VAE
    checkpoint shows a one-line message in the output. ``info`` / ``figure`` / ``error`` keep the last
    result, ``renders`` counts the figures.
    """

    def __init__(self, ck: Checkpoint, data: Prepared, classifier: torch.nn.Module | None = None,
                 n: int = 4, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, dpi: int = 72,
                 size: int = 320) -> None:
        import ipywidgets as W

        _check_test(data)
        model = ck.model
        self.ck, self.data, self.classifier = ck, data, classifier
        self.n, self.temperature, self.seed, self.dpi = n, temperature, seed, dpi
        self.codes = split_codes(model, data)
        self.info: dict | None = None
        self.figure: FigureBase | None = None
        self.error: str | None = None
        self.renders = 0
        self.pad = _pad_class()(width=size, height=size)
        self.output = W.Output()
        self.pad.observe(self._on_strokes, names="strokes")
        header = W.HTML(f"<b>{model.cfg.objective}</b> model, K = {model.latent.K}: draw a "
                        f"{' or a '.join(ck.categories)} (Undo / Clear below the pad)")
        self.widget = _box_class()([header, W.HBox([self.pad, self.output])])
        self._message("draw something on the pad")

    def _on_strokes(self, change: dict) -> None:
        self.update(change["new"])

    def update(self, strokes: Sequence) -> dict | None:
        """Show everything for ``strokes`` (the pad's format) in ``output``; returns the info dict or ``None``."""
        try:
            fig, info = drawing_panel(self.ck, self.data, strokes, self.n,
                                      temperature=self.temperature, seed=self.seed, codes=self.codes,
                                      classifier=self.classifier)
        except ValueError as e:
            self.info, self.figure, self.error = None, None, str(e)
            self._message(f"cannot use this drawing: {e}", "stderr")
            return None
        self.info, self.figure, self.error = info, fig, None
        self.renders += 1
        png = base64.b64encode(figure_png(fig, self.dpi)).decode("ascii")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": suptitle(fig)}},)
        return info

    def _message(self, text: str, name: str = "stdout") -> None:
        self.output.outputs = ({"output_type": "stream", "name": name, "text": text + "\n"},)
