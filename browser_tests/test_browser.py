"""Real-browser test of the notebooks' widgets: JupyterLab + headless Chromium (Playwright). Run by hand / CI.

Not part of ``make test`` (which runs ``pytest tests notebooks``)::

    .venv/bin/pip install playwright   # the Python package; the browser is the system's Chromium
    apt-get install -y chromium        # -> /usr/bin/chromium
    .venv/bin/pytest browser_tests -p no:cacheprovider

What it does: copies notebooks 06 and 08 into a temporary root (with links to ``data/`` and
``checkpoints/``, so the stored notebooks are never autosaved over), starts JupyterLab on 127.0.0.1
(a free port, a token made here, its own config/runtime dirs, ``IAPIX_QUICK=1``), opens each notebook
in headless Chromium, runs all cells, and checks that no cell shows an error and that the widgets
rendered. On 08 it then clicks Clear, draws strokes on the pad with mouse events and checks that the
explorer's picture appears and changes (the posterior chart region differs; the kernel confirms the
posterior and the variations). Screenshots go to ``out/browser/``. Skips with a message when
``/usr/bin/chromium`` or the ``playwright`` package is missing.
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

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing: pip install playwright")


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
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "IAPIX_QUICK": "1", "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws")}
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
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


NB = "window.jupyterapp.shell.currentWidget"
PAD_BOX = ".widget-hbox:has(.iapix-sketchpad)"  # the DrawExplorer's pad + output


def open_and_run(browser, lab, name: str, timeout_s: float = 240):
    """Open ``notebooks/<name>``, run all cells, wait until every code cell has run; returns the page."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # a fresh workspace per notebook: JupyterLab would otherwise restore the tabs of the previous page
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/notebooks/{name}?reset&token={token}")
    page.wait_for_function(f"{NB} && {NB}.context && {NB}.context.path === 'notebooks/{name}' "
                           f"&& {NB}.content && {NB}.sessionContext && {NB}.sessionContext.session "
                           f"&& {NB}.sessionContext.session.kernel && {NB}.sessionContext.session.kernel.status === 'idle'",
                           timeout=120_000)
    page.evaluate(f"{NB}.content.widgets.forEach(c => c.model.type === 'code' && c.model.sharedModel.setOutputs([]))")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        f"{NB}.content.widgets.filter(c => c.model.type === 'code').every(c => c.model.executionCount !== null) "
        f"&& {NB}.sessionContext.session.kernel.status === 'idle'", timeout=timeout_s * 1000, polling=500)
    return page


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
    page.wait_for_function(f"{NB}.content.activeCell.model.executionCount !== null "
                           f"&& {NB}.sessionContext.session.kernel.status === 'idle'", timeout=60_000)
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


def png(locator) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("L"), dtype=np.int16)


def test_notebook_06_runs_and_its_explorer_renders(browser, lab):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_and_run(browser, lab, "06_controllable_sampling.ipynb")
    try:
        assert cell_errors(page) == []
        show_cell(page, "explorer = Explorer(")
        box = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
        box.scroll_into_view_if_needed()
        assert box.is_visible(), "the Explorer widget did not render"
        page.screenshot(path=str(SHOTS / "06_explorer.png"))
        assert box.locator("img").count() >= 1, "the explorer shows no picture"
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
        page.wait_for_function("() => !document.querySelector(PAD_BOX + ' img')"
                               " && document.querySelector(PAD_BOX).innerText.includes('empty')",
                               timeout=30_000)
        assert "cannot use this drawing: the drawing is empty" in box.inner_text()
        page.screenshot(path=str(SHOTS / "08_cleared.png"))

        def stroke(points):
            bb = canvas.bounding_box()
            page.mouse.move(bb["x"] + points[0][0], bb["y"] + points[0][1])
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(bb["x"] + x, bb["y"] + y, steps=3)
            page.mouse.up()

        def picture_after(draw, old_src: str | None):
            draw()
            page.wait_for_function(
                "(old) => { const i = document.querySelector(PAD_BOX + ' img');"
                " return i && i.src !== old; }", arg=old_src or "", timeout=60_000)
            img = box.locator("img").first
            return img.get_attribute("src"), png(img)

        t = np.linspace(0, 2 * np.pi, 40)
        circle = list(zip(160 + 90 * np.cos(t), 170 + 70 * np.sin(t)))
        src_a, a = picture_after(lambda: stroke(circle), None)
        probe = "print(explorer.renders, explorer.error, [round(g, 6) for g in explorer.info['posterior'].tolist()], " \
                "explorer.info['label'], len(explorer.info['variations']), len(explorer.pad.strokes))"
        before = run_in_kernel(page, probe).split()
        show_cell(page, "explorer = DrawExplorer(")
        page.screenshot(path=str(SHOTS / "08_one_stroke.png"))
        zigzag = [(60 + 20 * j, 60 + (40 if j % 2 else 0)) for j in range(11)]
        src_b, b = picture_after(lambda: stroke(zigzag), src_a)
        after = run_in_kernel(page, probe).split()
        show_cell(page, "explorer = DrawExplorer(")
        page.screenshot(path=str(SHOTS / "08_two_strokes.png"))
        assert src_a != src_b
        assert before[1] == after[1] == "None" and int(after[0]) == int(before[0]) + 1
        assert after[-1] == "2" and before[-1] == "1", "each stroke reached the kernel"
        assert a.shape == b.shape and (a != b).any()
        # the posterior chart is the top right of the picture: its pixels changed with the drawing
        h, w = a.shape
        top_right = (slice(0, h // 5), slice(w // 2, w))
        assert (a[top_right] != b[top_right]).any(), "the posterior chart did not change"
        assert before[2:-3] != after[2:-3], "the posterior did not change"
        # the variations row (4th of 5) shows drawings; they are redrawn from the new label's Gaussian
        rows = np.array_split(np.arange(h), 5)
        assert (b[rows[3]] < 128).any(), "no ink in the variations row"
        if before[-3] != after[-3]:
            assert (a[rows[3]] != b[rows[3]]).any(), "the label changed but the variations did not"
        box.locator("button.iapix-undo").click()
        page.wait_for_function("(old) => { const i = document.querySelector(PAD_BOX + ' img');"
                               " return i && i.src !== old; }", arg=src_b, timeout=60_000)
        assert run_in_kernel(page, "print(len(explorer.pad.strokes))").strip() == "1"
    finally:
        page.close()
