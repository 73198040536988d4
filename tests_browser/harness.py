"""Serving a built playground and driving it in Chromium: shared by the browser suite
(conftest.py) and benchmarks/playground.py."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOAD_TIMEOUT_MS = 240_000  # Pyodide's first start on a busy, shared machine
STEP_TIMEOUT_MS = 120_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def build_site(out: Path) -> Path:
    """`cnnspec playground build` of this checkout into `out`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "cnnspec", "playground", "build", str(out)], cwd=ROOT, env=env, check=True, timeout=1200)
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serving(url: str, server: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url + "manifest.json", timeout=5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


@contextlib.contextmanager
def served(site: Path):
    """`python -m http.server` on a free port of 127.0.0.1 serving `site`; yields its URL."""
    for _ in range(5):  # another process may take the free port before the server does
        port = _free_port()
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        if _serving(url, server):
            break
        server.kill()
        server.wait()
    else:
        raise RuntimeError("python -m http.server did not start")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def chromium():
    """Chromium (Debian's, or $CHROMIUM) under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_playground(page, url: str) -> None:
    """Load the page and wait until its first analysis is shown."""
    page.goto(url)
    wait_analyzed(page, LOAD_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.editor") == "codemirror"


def wait_analyzed(page, timeout: int = STEP_TIMEOUT_MS) -> None:
    """Wait until the page shows the analysis of its latest edit (or has failed: then say why)."""
    page.wait_for_function(
        "(b => b.dataset.state === 'failed' || (b.dataset.state === 'ready' && b.dataset.editSeq && b.dataset.editSeq === b.dataset.shownSeq))(document.body)",
        timeout=timeout,
    )
    assert page.evaluate("document.body.dataset.state") == "ready", page.locator("[data-testid=status]").inner_text()


def set_source(page, text: str) -> None:
    """Type `text` into the editor through its mirror, and wait for its analysis."""
    page.get_by_test_id("source").fill(text)
    page.wait_for_function("text => document.querySelector('[data-testid=source]').value === text", arg=text)
    wait_analyzed(page)
