"""`%load_ext cnnspec` and the `%%cnnspec` cell magic, in IPython's own shell."""

from __future__ import annotations

import pytest

from cnnspec.api import Model

IPython = pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

CELL = "net Small(width=8) {\n    input 3x16x16\n    conv(width, k=3, pad=1)\n}\n"


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    assert shell.run_cell("%load_ext cnnspec").success
    yield shell
    InteractiveShell.clear_instance()


def test_the_magic_shows_the_table(shell):
    result = shell.run_cell("%%cnnspec model --input 3x8x8 width=4\n" + CELL)
    assert result.success and isinstance(result.result, Model)
    assert shell.user_ns["model"] is result.result
    assert result.result.layers[1]["output"] == [4, 8, 8]
    formatted, _ = shell.display_formatter.format(result.result)
    assert "<table>" in formatted["text/html"] and "4 × 8 × 8" in formatted["text/html"]


def test_the_magic_prints_diagnostics_with_carets(shell, capsys):
    result = shell.run_cell("%%cnnspec\nnet N {\n    input 3x8x8\n    conv(4, k=30)\n}\n")
    assert result.success and result.result is None
    printed = capsys.readouterr().out
    assert "<cell>:3:5: error[E300]" in printed
    assert "    3 |     conv(4, k=30)\n            ^^^^^^^^^^^^^\n" in printed


def test_a_bad_magic_line_says_how_to_use_it(shell, capsys):
    assert shell.run_cell("%%cnnspec --input 3y8\n" + CELL).result is None
    printed = capsys.readouterr().out
    assert "expected" in printed and "usage: %%cnnspec" in printed
