"""The playground's speed, measured in the browser (Chromium under Playwright, the built site
served on 127.0.0.1):

- first analysis: from Pyodide being ready (loadPyodide resolved, in the worker) to the first
  analysis result (wheels installed, cnnspec imported, the default example analysed); target 5 s;
- re-analysis of ResNet-50: the worker's performance.now() around one call of
  cnnspec.playground.session.analyze, against the same call in this CPython process; target 3x.

Usage: python benchmarks/playground.py [SITE] [--runs N]   (SITE: a built site; default: build one)
Needs playwright and Chromium (see docs/playground.md). Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "tests_browser")]  # this checkout's cnnspec and the browser harness
from harness import ROOT, build_site, chromium, open_playground, served  # noqa: E402

FIRST_ANALYSIS_TARGET_MS = 5000
RATIO_TARGET = 3.0


def cpython_times(text: str, runs: int) -> list[float]:
    from cnnspec.playground import session

    session.analyze(text, "resnet50.cnn")  # imports and warm-up, as the page's first analysis does
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.analyze(text, "resnet50.cnn")
        times.append((time.perf_counter() - start) * 1000)
    return times


def browser_figures(site: Path, text: str, runs: int) -> tuple[dict, list[float]]:
    with served(site) as url, chromium() as browser:
        page = browser.new_page()
        open_playground(page, url)
        timings = page.evaluate("window.cnnspecPlayground.timings")
        page.evaluate("text => window.cnnspecPlayground.analyze(text, 'resnet50.cnn')", text)  # warm-up
        times = [page.evaluate("text => window.cnnspecPlayground.analyze(text, 'resnet50.cnn').then(r => r.ms)", text) for _ in range(runs)]
    return timings, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", help="a built playground (default: build one into a temporary folder)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    text = (ROOT / "examples" / "resnet50.cnn").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        site = Path(args.site) if args.site else build_site(Path(scratch) / "site")
        timings, browser = browser_figures(site, text, args.runs)
        os.chdir(scratch)  # the session saves the text as its file, as the worker does in /playground
        cpython = cpython_times(text, args.runs)
    first = timings["first_result_ms"] - timings["pyodide_ready_ms"]
    ratio = statistics.median(browser) / statistics.median(cpython)
    print(f"Pyodide ready {timings['pyodide_ready_ms']:.0f} ms after the worker started")
    print(f"first analysis {first:.0f} ms after Pyodide was ready (target {FIRST_ANALYSIS_TARGET_MS} ms)")
    print(
        f"ResNet-50 re-analysis, median of {args.runs}: browser {statistics.median(browser):.1f} ms, CPython {statistics.median(cpython):.1f} ms"
    )
    print(f"ratio {ratio:.2f}x (target {RATIO_TARGET}x)")
    return 0 if first <= FIRST_ANALYSIS_TARGET_MS and ratio <= RATIO_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
