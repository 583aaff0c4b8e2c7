"""The live-editing notebook in JupyterLab, driven in headless Chromium by Playwright: run it, move the
strength slider, check that the figure changed. A screenshot is kept in tests/screenshots/.

Needs Debian's chromium at /usr/bin/chromium (`.ci/run` installs it) and the test extras (jupyterlab,
playwright); skipped where chromium is absent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def jupyterlab(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")
    shutil.copy(ROOT / "notebooks" / "06_live_editing.ipynb", tmp_path / "live.ipynb")
    port, token = _free_port(), "lens-test"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root",
            "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 90 s")
    yield f"{base}/lab/tree/live.ipynb?token={token}"
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_live_editing_notebook_in_a_browser(jupyterlab):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(jupyterlab)
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            # wait for the kernel, then run every cell
            page.wait_for_function(
                "(() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'; })()",
                timeout=120_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            image = page.locator(".jp-OutputArea .widget-image").first
            image.wait_for(state="visible", timeout=180_000)
            status = page.locator(".jp-OutputArea .widget-html-content").first
            # the notebook's last cell sets the strength to -0.8: wait until that update is shown
            page.wait_for_function(
                "document.querySelector('.jp-OutputArea .widget-html-content')?.textContent.includes('alpha=-0.8')",
                timeout=180_000,
            )
            before_src = image.get_attribute("src")
            before_status = status.text_content()
            # the strength slider's readout takes a typed value; Enter commits it (continuous_update is off)
            slider = page.locator(".widget-slider", has=page.locator("label", has_text="strength")).first
            readout = slider.locator(".widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("0.3")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "src => document.querySelector('.jp-OutputArea .widget-image')?.getAttribute('src') !== src",
                arg=before_src,
                timeout=120_000,
            )
            page.wait_for_function(
                "document.querySelector('.jp-OutputArea .widget-html-content')?.textContent.includes('alpha=0.3')",
                timeout=60_000,
            )
            after_status = status.text_content()
            page.screenshot(path=str(SCREENSHOTS / "live_editing.png"), full_page=True)
        finally:
            browser.close()
    assert "alpha=-0.8" in (before_status or "") and "alpha=0.3" in (after_status or "")


def test_demo_report_opens_in_a_browser(tmp_path):
    """`motionclr-lens demo` (the README's first command) writes a report that renders offline."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    from motionclr_lens.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet", "--no-gif"]) == 0
    errors: list[str] = []
    requests: list[str] = []
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        try:
            page.goto((out / "00_report.html").as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.plotly-graph-div .main-svg').length >= 3", timeout=60_000
            )
            graphs = page.locator(".plotly-graph-div").count()
            heatmaps = page.locator(".plotly-graph-div .heatmaplayer image, .plotly-graph-div .hm image").count()
            words = page.locator("table").first.text_content() or ""
            page.screenshot(path=str(SCREENSHOTS / "demo_report.png"), full_page=True)
        finally:
            browser.close()
    assert graphs == 3 and heatmaps >= 2 and not errors, errors
    assert "jumps" in words and "walks" in words
    assert all(u.startswith(("file:", "data:", "blob:")) for u in requests), [u for u in requests if "file:" not in u]
