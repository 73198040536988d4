"""Whole-process time of `cnnspec check` against Python importing lark, click and rich.

Runs both commands alternately (so machine noise hits both alike) and reports medians
and their ratio. Usage: python benchmarks/startup.py [FILE] [--runs N]

Both run with Python's normal bytecode caching: PYTHONDONTWRITEBYTECODE is removed from their
environment, since lark, click and rich load precompiled bytecode from site-packages while a
source checkout would otherwise recompile cnnspec on every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import lark, click, rich.console, rich.table"]
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENVIRONMENT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="examples/vgg19.cnn")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    check = [sys.executable, "-m", "cnnspec", "check", args.file]
    wall_time(check)  # warm the parser cache, the bytecode cache and the OS file cache
    baseline, cnnspec = [], []
    for _ in range(args.runs):
        baseline.append(wall_time(BASELINE))
        cnnspec.append(wall_time(check))
    base, ours = statistics.median(baseline), statistics.median(cnnspec)
    print(f"python -c 'import lark, click, rich.console, rich.table': {base * 1000:6.1f} ms (median of {args.runs})")
    print(f"cnnspec check {args.file}: {ours * 1000:6.1f} ms (median of {args.runs})")
    print(f"ratio: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
