"""The language server's features never fail, on any text: the fuzz corpus's strategies
(tests/test_fuzz.py) through every feature, in-process (tests/test_lsp.py sends some of the
same texts through the real server over stdio). And `cnnspec lsp` without pygls says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pygls")
from lsprotocol import types  # noqa: E402

from cnnspec.lsp import features  # noqa: E402
from tests.helpers import ROOT, subprocess_env  # noqa: E402
from tests.test_fuzz import CASES, FUZZ, mutated_examples, programs_with_odd_numbers  # noqa: E402

# Every feature at a dozen places per text is slower than a CLI run: a quarter of test_fuzz's cases.
LSP_FUZZ = settings(FUZZ, max_examples=max(1, CASES // 4))


def every_feature(text: str) -> None:
    snapshot = features.Snapshot("file:///fuzz.cnn", 1, text)
    features.lsp_diagnostics(snapshot)
    features.inlay_hints(snapshot, 0, 10_000)
    features.document_symbols(snapshot)
    features.formatting(snapshot.uri, text)
    lines = text.split("\n")
    step = max(1, len(lines) // 8)
    for line in range(0, len(lines), step):
        for character in (0, 4, 12, len(lines[line])):
            position = types.Position(line=line, character=character)
            features.hover(snapshot, position)
            features.definition(snapshot, position)
            features.references(snapshot, position, True)
            features.rename(snapshot, position, "renamed")
            features.completion(snapshot.names, text, position)
    diagnostics = features.lsp_diagnostics(snapshot)
    features.code_actions(snapshot, text, diagnostics)


pytestmark = pytest.mark.fuzz


@LSP_FUZZ
@given(st.text())
def test_random_text(text):
    every_feature(text)


@LSP_FUZZ
@given(mutated_examples())
def test_mutated_examples(text):
    every_feature(text)


@LSP_FUZZ
@given(programs_with_odd_numbers())
def test_programs_with_odd_numbers(text):
    every_feature(text)


def test_without_pygls_lsp_says_which_extra_to_install():
    probe = "import sys; sys.modules['pygls'] = None; sys.argv = ['cnnspec', 'lsp']; from cnnspec.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert result.returncode == 2
    assert 'pip install "cnnspec[lsp]"' in result.stderr
