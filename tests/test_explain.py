"""`cnnspec explain`: every diagnostic code has an explanation, an example that really gets
that code, and a fix."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.commands.explain import code_ranges
from cnnspec.diagnostics import CODES
from cnnspec.explanations import EXPLANATIONS
from cnnspec.source import Source

NOT_A_FILE = {"E101"}  # its example is a command: an unreadable file cannot be shown as text


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_every_code_has_an_explanation():
    assert list(EXPLANATIONS) == list(CODES)
    for code, explanation in EXPLANATIONS.items():
        assert len(explanation.explanation) > 60 and len(explanation.fix) > 20, code


@pytest.mark.parametrize("code", [c for c in CODES if c not in NOT_A_FILE])
def test_each_example_gets_its_code(code, tmp_path):
    example = EXPLANATIONS[code].example
    if code.startswith("E5"):  # contracts are checked by `cnnspec check`
        path = tmp_path / "example.cnn"
        path.write_text(example, encoding="utf-8")
        report = json.loads(run("check", "--format", "json", str(path)).stdout)
        codes = [d["code"] for d in report["diagnostics"]]
    else:
        codes = [d.code for d in analyze(Source("example.cnn", example)).diagnostics]
    assert code in codes


def test_explain_prints_title_explanation_example_and_fix():
    result = run("explain", "E301")
    assert result.exit_code == 0 and result.stderr == ""
    text = result.stdout
    assert text.startswith("E301: padding larger than half the kernel\n")
    assert "\nExample:\n\n    net N {\n        input 3x32x32\n        maxpool(2, pad=2)\n    }\n" in text
    assert "\nFix: Use padding at most kernel // 2" in text


def test_explain_accepts_lower_case():
    assert run("explain", "w404").stdout == run("explain", "W404").stdout


def test_an_unknown_code_is_a_usage_error_listing_the_ranges():
    result = run("explain", "E999")
    assert result.exit_code == 2
    assert "no diagnostic code 'E999'" in result.stderr
    assert "E100-E102, E200-E214, E300-E311, W400-W406, E500-E502" in result.stderr
    assert code_ranges().startswith("E100-E102, ")


def test_explain_without_a_code_lists_every_code():
    result = run("explain")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{code}  {summary}" for code, summary in CODES.items()]
