"""Whole-process measurements for the benchmark scripts: wall time, CPU time and peak memory.

Each command runs in its own child process; os.wait4 reports that child's own resource
usage (not the sum over earlier children), so the peak memory is per process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from typing import NamedTuple

# Python's normal bytecode caching for every child (see benchmarks/startup.py).
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


class Run(NamedTuple):
    wall_s: float
    cpu_s: float  # user + system
    peak_mib: float


def run_once(command: list[str], cwd: str | None = None, stdin: str | None = None, expect: tuple[int, ...] = (0,)) -> Run:
    """Run `command` with its output discarded (and the file `stdin` as its input); raise unless its exit status is in `expect`."""
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as source:
        process = subprocess.Popen(command, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENVIRONMENT, cwd=cwd)
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{errors.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_run(runs: list[Run]) -> Run:
    return Run(*(statistics.median(values) for values in zip(*runs)))
