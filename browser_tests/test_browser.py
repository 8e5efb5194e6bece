"""Real-browser test of the notebooks' widgets: JupyterLab + headless Chromium (Playwright). Run by hand / CI.

Not part of ``make test`` (which runs ``pytest tests notebooks``)::

    .venv/bin/pip install playwright   # the Python package; the browser is the system's Chromium
    apt-get install -y chromium        # -> /usr/bin/chromium
    .venv/bin/pytest browser_tests -p no:cacheprovider

What it does: copies notebooks 06 and 08 into a temporary root (with links to ``data/`` and
``checkpoints/``, so the stored notebooks are never autosaved over), starts JupyterLab on 127.0.0.1
(a free port, a token made here, its own config/runtime dirs, ``IAPIX_QUICK=1``), opens each notebook
in headless Chromium, runs all cells, and checks that no cell shows an error and that the widgets
rendered, with no control's label cut short. On 08 it then clicks Clear and draws with mouse events: a
zigzag, which the shipped IA model puts in Gaussian 0, then an oval below it, which moves the drawing to
Gaussian 2 (both found beforehand with ``iapix.sample.encode_drawing``; posterior about 0.99 each time).
It checks what a person sees: in the explorer's picture the orange bar (the winning Gaussian) moves to
the new label's place and the old place loses its tall bar; Undo moves it back. The kernel confirms the
labels, the strokes and the variations. JupyterLab's news pop-up is switched off (user settings:
``fetchNews: "false"``) so that it hides nothing. Screenshots go to ``out/browser/``. Skips with a message
when ``/usr/bin/chromium`` or the ``playwright`` package is missing.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "out" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Generous limits: the test must not fail because the machine is busy (two cores shared with training runs made a
# run of this file take ten minutes instead of two); they only matter when something is really stuck.
SLOW = 300  # seconds: the server's start, JupyterLab in the page, opening a notebook, a kernel round trip, a picture

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is missing: pip install playwright")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the notebooks: yields (base url, token)."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    for name in ("06_controllable_sampling.ipynb", "08_draw_your_own.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root / "notebooks" / name)
    for d in ("data", "checkpoints"):
        (root / d).symlink_to(ROOT / d)
    # no "Would you like to receive official Jupyter news?" toast over the notebook (nor a fetch of the news)
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                          "checkForUpdates": False}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "IAPIX_QUICK": "1", "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings")}
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SLOW
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


# The open notebook. Every wait below reads it through ?. (optional chaining): until JupyterLab has made
# window.jupyterapp, its shell and the notebook's session, the wait polls on instead of failing with a TypeError.
NB = "window.jupyterapp?.shell?.currentWidget"
KERNEL_IDLE = f"{NB}?.sessionContext?.session?.kernel?.status === 'idle'"
PAD_BOX = ".widget-hbox:has(.iapix-sketchpad)"  # the DrawExplorer's pad + output


def wait_for(page, predicate: str, timeout_s: float, what: str, arg=None) -> None:
    """``page.wait_for_function(predicate)``, polling every 250 ms; on timeout an ``AssertionError`` saying ``what``
    did not happen within ``timeout_s``."""
    try:
        page.wait_for_function(predicate, arg=arg, timeout=timeout_s * 1000, polling=250)
    except sync_api.TimeoutError:
        raise AssertionError(f"{what}: not within {timeout_s:g} s") from None


def open_and_run(browser, lab, name: str, timeout_s: float = 900):
    """Open ``notebooks/<name>``, run all cells, wait until every code cell has run; returns the page."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(SLOW * 1000)  # Playwright's own waits (a locator to appear, a click)
    # a fresh workspace per notebook: JupyterLab would otherwise restore the tabs of the previous page
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/notebooks/{name}?reset&token={token}")
    wait_for(page, "() => !!(window.jupyterapp && window.jupyterapp.shell)", SLOW,
             "JupyterLab did not start in the page (window.jupyterapp, exposed by --LabApp.expose_app_in_browser)")
    wait_for(page, f"() => {NB}?.context?.path === 'notebooks/{name}' && !!{NB}?.content && {KERNEL_IDLE}", SLOW,
             f"notebooks/{name} did not open with an idle kernel")
    # clear the stored outputs and execution counts: "every cell has a count" then means "every cell ran now"
    page.evaluate(f"""{NB}.content.widgets.forEach(c => {{ if (c.model.type === 'code') {{
        c.model.sharedModel.setOutputs([]); c.model.executionCount = null; }} }})""")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # not awaited
    wait_for(page, f"() => !!{NB}?.content?.widgets.filter(c => c.model.type === 'code')"
                   f".every(c => c.model.executionCount !== null) && {KERNEL_IDLE}", timeout_s,
             f"notebooks/{name}: the cells did not all run")
    return page


def screenshot(page, path: Path) -> None:
    """A screenshot of the page, after checking that no notification toast (e.g. the news question) covers it."""
    toasts = page.locator(".Toastify__toast")
    assert toasts.count() == 0, f"a notification covers the notebook: {toasts.first.inner_text()!r}"
    page.screenshot(path=str(path))


def cut_labels(locator) -> list[str]:
    """The texts in ``locator`` cut short by their box (an ellipsis or hidden overflow: scrollWidth > clientWidth)."""
    return locator.evaluate("""(root) => Array.from(root.querySelectorAll('*')).filter(el => {
        const st = getComputedStyle(el);
        return el.innerText && el.innerText.trim() && el.tagName !== 'SELECT'
            && (st.textOverflow === 'ellipsis' || st.overflowX === 'hidden' || st.overflowX === 'clip')
            && el.scrollWidth > el.clientWidth + 1; }).map(el => el.innerText.trim())""")


def cell_errors(page) -> list[str]:
    """The error outputs of all cells (ename: evalue)."""
    return page.evaluate(f"""{NB}.content.widgets.flatMap(c => c.model.type !== 'code' ? [] :
        Array.from({{length: c.model.outputs.length}}, (_, i) => c.model.outputs.get(i).toJSON())
          .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue))""")


def run_in_kernel(page, code: str) -> str:
    """Append a cell with ``code``, run it, return its stdout."""
    page.evaluate(f"""(async () => {{
        const nb = {NB}.content;
        nb.activeCellIndex = nb.widgets.length - 1;
        await window.jupyterapp.commands.execute('notebook:insert-cell-below');
        nb.activeCell.model.sharedModel.setSource({json.dumps(code)});
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }})()""")
    wait_for(page, f"() => {NB}?.content?.activeCell?.model.executionCount != null && {KERNEL_IDLE}", SLOW,
             f"the kernel did not run {code!r}")
    return page.evaluate(f"""(() => {{ const c = {NB}.content.widgets[{NB}.content.widgets.length - 1];
        return Array.from({{length: c.model.outputs.length}}, (_, i) => c.model.outputs.get(i).toJSON())
          .filter(o => o.output_type === 'stream').map(o => o.text).join(''); }})()""")


def show_cell(page, needle: str) -> None:
    """Scroll the first cell whose source contains ``needle`` into view (JupyterLab renders only visible cells)."""
    found = page.evaluate(f"""(async () => {{
        const nb = {NB}.content;
        const i = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes({json.dumps(needle)}));
        if (i < 0) return false;
        nb.activeCellIndex = i;
        await nb.scrollToCell(nb.widgets[i], 'start');
        return true;
    }})()""")
    assert found, f"no cell contains {needle!r}"
    page.wait_for_timeout(500)


def rgb(locator) -> np.ndarray:
    """What the browser shows of ``locator``: a screenshot as an (h, w, 3) array."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"), dtype=np.int16)


# The explorer's state and where drawing_panel put its posterior chart: the chart's box and each bar's centre, as
# fractions of the picture (left, top, right, bottom; x), so that they can be found in a screenshot of any size.
PROBE = """import hashlib, json
_f, _ax = explorer.figure, explorer.figure.axes[2]
_W, _H, _b = _f.bbox.width, _f.bbox.height, explorer.figure.axes[2].get_window_extent()
print(json.dumps(dict(renders=explorer.renders, error=explorer.error, strokes=len(explorer.pad.strokes),
                      label=explorer.info["label"], posterior=explorer.info["posterior"].tolist(),
                      variations=hashlib.sha1(b"".join(v.tobytes() for v in explorer.info["variations"])).hexdigest(),
                      chart=[_b.x0 / _W, 1 - _b.y1 / _H, _b.x1 / _W, 1 - _b.y0 / _H],
                      bars=[float(_ax.transData.transform((j, 0))[0]) / _W for j in range(len(_ax.patches))])))
"""
BAR_COLOURS = {"orange": (255, 127, 14), "blue": (31, 119, 180), "grey": (211, 211, 211)}  # label, alive, dead


def bars_seen(picture: np.ndarray, chart: list[float], bars: list[float]) -> list[tuple[str | None, float]]:
    """Each posterior bar as a person sees it in ``picture``: (colour, height as a fraction of the chart's height).

    Reads a band 3 px wide at a quarter of the bar spacing left of each bar's centre (clear of the value written on
    a tall bar) and finds the highest pixel there of one of the bars' colours.
    """
    h, w, _ = picture.shape
    left, top, right, bottom = round(chart[0] * w), round(chart[1] * h), round(chart[2] * w), round(chart[3] * h)
    spacing = (bars[1] - bars[0]) * w if len(bars) > 1 else (right - left) / 2
    seen = []
    for x in bars:
        c = round(x * w - spacing / 4)
        band = np.median(picture[top:bottom, c - 1:c + 2], axis=1)  # (rows, 3)
        names = [min(BAR_COLOURS, key=lambda k: np.abs(px - BAR_COLOURS[k]).sum()) for px in band]
        near = [np.abs(px - BAR_COLOURS[k]).sum() < 60 for px, k in zip(band, names)]
        rows = [i for i, ok in enumerate(near) if ok]
        if not rows:
            seen.append((None, 0.0))
            continue
        colour = max(set(names[i] for i in rows), key=[names[i] for i in rows].count)
        seen.append((colour, (bottom - top - rows[0]) / (bottom - top)))
    return seen


def test_notebook_06_runs_and_its_explorer_renders(browser, lab):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_and_run(browser, lab, "06_controllable_sampling.ipynb")
    try:
        assert cell_errors(page) == []
        show_cell(page, "explorer = Explorer(")
        box = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
        box.scroll_into_view_if_needed()
        assert box.is_visible(), "the Explorer widget did not render"
        assert box.locator("img").count() >= 1, "the explorer shows no picture"
        assert "greedy (arg-max, ignores temperature)" in box.inner_text()
        assert cut_labels(box) == [], "labels of the explorer's controls are cut short"
        screenshot(page, SHOTS / "06_explorer.png")
    finally:
        page.close()


def test_notebook_08_pad_drives_the_explorer(browser, lab):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_and_run(browser, lab, "08_draw_your_own.ipynb")
    try:
        assert cell_errors(page) == []
        page.evaluate(f"window.PAD_BOX = {json.dumps(PAD_BOX)}")
        show_cell(page, "explorer = DrawExplorer(")
        box = page.locator(PAD_BOX).first
        box.scroll_into_view_if_needed()
        canvas = box.locator(".iapix-sketchpad canvas")
        assert canvas.is_visible(), "the SketchPad did not render"
        box.locator("button.iapix-clear").click()
        wait_for(page, "() => !document.querySelector(PAD_BOX + ' img')"
                       " && document.querySelector(PAD_BOX).innerText.includes('empty')", SLOW,
                 "Clear did not empty the explorer")
        assert "cannot use this drawing: the drawing is empty" in box.inner_text()
        screenshot(page, SHOTS / "08_cleared.png")

        def stroke(points):
            bb = canvas.bounding_box()
            page.mouse.move(bb["x"] + points[0][0], bb["y"] + points[0][1])
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(bb["x"] + x, bb["y"] + y, steps=3)
            page.mouse.up()

        def picture_after(action, old_src: str, what: str):
            """Do ``action``; wait for a new picture; returns its src, the screenshot and the kernel's PROBE."""
            action()
            wait_for(page, "(old) => { const i = document.querySelector(PAD_BOX + ' img'); "
                           "return i && i.src !== old; }",
                     SLOW, f"no new picture after {what}", arg=old_src)
            img = box.locator("img").first
            src, picture = img.get_attribute("src"), rgb(img)
            state = json.loads(run_in_kernel(page, PROBE).strip().splitlines()[-1])
            show_cell(page, "explorer = DrawExplorer(")
            assert state["error"] is None, state["error"]
            seen = bars_seen(picture, state["chart"], state["bars"])
            # the chart shows the kernel's posterior: the label's bar orange, every bar at its height
            assert [c for c, _ in seen].count("orange") == 1 and seen[state["label"]][0] == "orange", (what, seen)
            for (_, height), g in zip(seen, state["posterior"]):
                assert abs(height - g) < 0.06, f"{what}: a bar of height {height:.2f} shows g = {g:.4f}: {seen}"
            return src, picture, state, seen

        # a zigzag, then an oval below it: the shipped IA model puts the first in Gaussian 0, both in Gaussian 2
        zigzag = [(60 + 20 * j, 60 + (40 if j % 2 else 0)) for j in range(11)]
        t = np.linspace(0, 2 * np.pi, 40)
        oval = list(zip(160 + 90 * np.cos(t), 170 + 70 * np.sin(t)))
        src_a, a, one, seen_a = picture_after(lambda: stroke(zigzag), "", "the zigzag")
        screenshot(page, SHOTS / "08_one_stroke.png")
        src_b, b, two, seen_b = picture_after(lambda: stroke(oval), src_a, "the oval")
        screenshot(page, SHOTS / "08_two_strokes.png")
        assert (one["strokes"], two["strokes"]) == (1, 2), "each stroke reached the kernel"
        assert two["renders"] == one["renders"] + 1
        ka, kb = one["label"], two["label"]
        assert ka != kb, (f"both drawings landed in Gaussian {ka} (posteriors {one['posterior']}, {two['posterior']}):"
                          " this test needs two drawings in different Gaussians (find them with encode_drawing)")
        # what a person sees: the orange bar moved from Gaussian ka to kb; ka's tall bar is gone, kb's has grown
        assert seen_b[ka][0] != "orange" and seen_b[kb][0] == "orange"
        assert seen_a[ka][1] > 0.5 > seen_b[ka][1] and seen_a[kb][1] < 0.5 < seen_b[kb][1], (seen_a, seen_b)
        # the variations are drawn from the new label's Gaussian: other sketches, in the picture too
        assert one["variations"] != two["variations"] and a.shape == b.shape and (a != b).any()

        _, _, undone, seen_c = picture_after(lambda: box.locator("button.iapix-undo").click(), src_b, "Undo")
        assert undone["strokes"] == 1 and undone["label"] == ka and seen_c[ka][0] == "orange"
    finally:
        page.close()
