"""Helpers that several test modules share (test modules never import each other's privates)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[")


def subprocess_env(**extra):
    """The environment for running `python -m cnnspec`: this checkout importable, colour left to the test."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def stderr_through_a_terminal(path, **env):
    """Run the real CLI with stderr on a pseudo-terminal; return what it wrote there."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "cnnspec", "check", str(path)],
            stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env=subprocess_env(**env), timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(slave)
    chunks = []
    while select.select([master], [], [], 1)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def _example_nets() -> list[tuple[str, str | None]]:
    """(path, net) for every net of every example: net None where the file holds one net, so
    that a test analyses it as `cnnspec check FILE` does."""
    from cnnspec.analyze import analyze
    from cnnspec.source import read_source

    cases = []
    for path in sorted((ROOT / "examples").glob("*.cnn")):
        nets = analyze(read_source(str(path))).nets
        cases += [(str(path), net if len(nets) > 1 else None) for net in nets]
    return cases


EXAMPLE_NETS = _example_nets()
# One net per file (a family file's base net): for the slow tests, where a family's variants
# differ only in their numbers.
FIRST_NETS = [case for index, case in enumerate(EXAMPLE_NETS) if index == 0 or case[0] != EXAMPLE_NETS[index - 1][0]]


def example_id(case) -> str:
    path, net = case
    stem = os.path.basename(path)
    return stem if net is None else f"{stem}:{net}"
