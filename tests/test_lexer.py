"""The Pygments lexer: found by name and file name through its entry point, every example
lexed without an error token and losslessly, and source lines coloured in diagnostics on a
terminal only (the plain rendering unchanged)."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from cnnspec.analyze import analyze
from cnnspec.diagnostics import render
from cnnspec.lexer import CnnspecLexer, highlight_terminal
from cnnspec.source import Source
from tests.helpers import ANSI, stderr_through_a_terminal

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def test_registered_as_a_pygments_plugin():
    (entry,) = [e for e in entry_points(group="pygments.lexers") if e.name == "cnnspec"]
    assert entry.load() is CnnspecLexer
    assert isinstance(get_lexer_by_name("cnnspec"), CnnspecLexer)
    assert isinstance(get_lexer_by_name("cnn"), CnnspecLexer)
    assert isinstance(get_lexer_for_filename("model.cnn"), CnnspecLexer)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_lexes_without_errors_and_losslessly(path):
    text = path.read_text(encoding="utf-8")
    tokens = list(CnnspecLexer(stripnl=False, ensurenl=False).get_tokens(text))
    assert "".join(value for _, value in tokens) == text
    assert [value for kind, value in tokens if kind in Error] == []


def test_token_kinds():
    text = (
        "net N {\n    expect params <= 5M and macs < 1.5G  # budget\n    c1: conv(1_024, k=3, mode='x') -> relu\n    input 3x224x224\n}\n"
    )
    kinds = {value: kind for kind, value in CnnspecLexer().get_tokens(text) if value.strip()}
    assert kinds["net"] in Keyword and kinds["N"] in Name.Function
    assert kinds["expect"] in Keyword and kinds["input"] in Keyword
    assert kinds["params"] is Name and kinds["c1"] in Name.Label
    assert kinds["conv"] in Name.Builtin and kinds["relu"] in Name.Builtin
    for number in ("5M", "1.5G", "1_024", "3", "3x224x224"):
        assert kinds[number] in Number, number
    assert kinds["'x'"] in String and kinds["# budget"] in Comment
    for operator in ("<=", "<", "->", "=", "and"):
        assert kinds[operator] in Operator, operator


def _first_diagnostic(text: str):
    source = Source("model.cnn", text)
    return analyze(source).diagnostics[0], source


def test_highlighting_adds_only_colour():
    diagnostic, source = _first_diagnostic("net N {\n\tinput 3x8x8\n\tconv(4, k=9) -> relu  # too big\n}\n")
    plain = render(diagnostic, source)
    coloured = render(diagnostic, source, highlight_terminal)
    assert ESCAPE.sub("", coloured) == plain
    excerpt = coloured.splitlines()[1]
    assert excerpt.startswith("    3 | ") and ESCAPE.search(excerpt)
    assert not ESCAPE.search(coloured.splitlines()[2]), "the caret line is not coloured"
    assert highlight_terminal("relu") != "relu"


def test_diagnostics_are_highlighted_on_a_terminal_only(tmp_path):
    path = tmp_path / "model.cnn"
    path.write_text("net N {\n    input 3x8x8\n    conv(4, k=9) -> relu\n}\n")
    coloured = stderr_through_a_terminal(path)
    excerpt = next(line for line in coloured.splitlines() if line.startswith("    3 | "))
    assert ESCAPE.search(excerpt), excerpt
    assert ESCAPE.sub("", excerpt) == "    3 |     conv(4, k=9) -> relu"
    plain = stderr_through_a_terminal(path, NO_COLOR="1")
    assert "    3 |     conv(4, k=9) -> relu" in plain.replace("\r\n", "\n") and not ANSI.search(plain)


def test_check_imports_pygments_only_to_colour():
    probe = (
        "import sys\nfrom cnnspec.cli import main\n"
        "sys.argv = ['cnnspec', 'check', 'tests/fixtures/errors/unknown_layer.cnn']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('pygments imported' if 'pygments' in sys.modules else 'no pygments', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "error[E200]" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "no pygments"
