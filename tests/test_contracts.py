"""`expect` statements: number suffixes, every quantity, failures at the expect line, invalid
expectations, expectations in blocks, and the examples' pinned numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec.analysis.contracts import QUANTITIES
from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.parser import parse, to_syntax
from cnnspec.source import Source
from cnnspec.syntax import Expect, Literal

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))

SMALL = """net Small(classes=10) {{
    input 3x32x32
    conv(8, k=3) -> relu
    maxpool(2)
    flatten
    linear(classes)
    {expects}
}}
"""
# Small: conv 3*8*9 + 8 = 224, linear 1800*10 + 10 = 18,010; MACs 8*30*30*27 + 18,000.
SMALL_PARAMS = 18_234
SMALL_MACS = 194_400 + 18_000


def small(*expects: str) -> str:
    return SMALL.format(expects="\n    ".join(expects))


def check(tmp_path, text, *options):
    path = tmp_path / "model.cnn"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "--format", "json", *options, str(path)])
    return result, json.loads(result.stdout)


def errors(report) -> list[dict]:
    """Small also gets W404 (its last spatial layer sees 4 x 4 of 32 x 32)."""
    return [d for d in report["diagnostics"] if d["severity"] == "error"]


def literal(text: str):
    (definition,) = to_syntax(parse(Source("<test>", f"net N {{\n input 3\n expect params == {text}\n}}\n")))
    expect = definition.body[-1]
    assert isinstance(expect, Expect)
    return expect.expr.right


# ---- the syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("5K", 5_000),
        ("5M", 5_000_000),
        ("2G", 2_000_000_000),
        ("1.5M", 1_500_000),
        ("143_667_240", 143_667_240),
        ("1_000K", 1_000_000),
        ("64Ki", 65_536),
        ("1.5Mi", 1_572_864),
        ("16Gi", 17_179_869_184),
        ("0.0001K", 0.1),
    ],
)
def test_suffixed_numbers_are_ordinary_numbers_that_keep_their_spelling(text, value):
    parsed = literal(text)
    assert isinstance(parsed, Literal) and parsed.value == value and type(parsed.value) is type(value)
    assert parsed.text == text


@pytest.mark.parametrize("text", ["5m", "5k", "5Mx", "5 M"])
def test_other_suffixes_are_syntax_errors(text):
    analysis = analyze(Source("<test>", f"net N {{\n input 3\n expect params == {text}\n}}\n"))
    assert [d.code for d in analysis.errors] == ["E100"]


def test_expect_is_a_keyword_only_at_the_start_of_a_statement():
    text = "block expect(c) {\n    conv(c, k=1)\n}\n\nnet N {\n    input 3x8x8\n    identity -> expect(4)\n}\n"
    analysis = analyze(Source("<test>", text))
    assert analysis.errors == [] and analysis.graph.nodes[-1].op == "Conv2d"


@pytest.mark.parametrize("statement", ["expect: conv(4, k=3)", "expect = relu"])
def test_expect_cannot_start_a_statement_as_a_name(statement):
    analysis = analyze(Source("<test>", f"net N {{\n    input 3x8x8\n    {statement}\n}}\n"))
    assert [d.code for d in analysis.errors] == ["E100"]


def test_expect_called_like_a_block_says_that_expect_is_reserved(tmp_path):
    text = "block expect(c) {\n    conv(c, k=1)\n}\n\nnet N {\n    input 3x8x8\n    expect(4)\n}\n"
    result, report = check(tmp_path, text)
    assert result.exit_code == 1
    (diagnostic,) = errors(report)
    assert diagnostic["code"] == "E501" and "one comparison" in diagnostic["message"]
    assert "`expect` is reserved at the start of a statement" in diagnostic["notes"][0]["message"]
    _, plain = check(tmp_path, small("expect params"))  # no such note where no call was meant
    assert errors(plain)[0]["notes"] == []


# ---- passing and failing ------------------------------------------------------------------


def test_every_quantity_can_be_named(tmp_path):
    expects = [
        f"expect params == {SMALL_PARAMS}",
        f"expect trainable_params == {SMALL_PARAMS}",
        "expect buffers == 0",
        "expect neurons == 9_010",
        f"expect macs == {SMALL_MACS}",
        "expect flops == 2 * macs",
        "expect other_ops > 0",
        f"expect param_bytes == 4 * {SMALL_PARAMS}",
        "expect train_step_bytes < 1Mi",
        "expect rf == (4, 4)",
        "expect output == classes",
        "expect input == (3, 32, 32)",
    ]
    assert {e.split()[1] for e in expects} == set(QUANTITIES)
    result, report = check(tmp_path, small(*expects))
    assert result.exit_code == 0, result.stderr
    assert [c["passed"] for c in report["contracts"]] == [True] * len(expects)
    assert report["contracts"][0] == {
        "text": f"params == {SMALL_PARAMS}",
        "passed": True,
        "valid": True,
        "actual": SMALL_PARAMS,
        "expected": SMALL_PARAMS,
        "line": 7,
    }


def test_a_failed_expectation_is_an_error_at_its_line_with_both_values(tmp_path):
    result, report = check(tmp_path, small("expect params <= 5K"))
    assert result.exit_code == 1
    (diagnostic,) = errors(report)
    assert diagnostic["code"] == "E500" and diagnostic["severity"] == "error"
    assert (diagnostic["line"], diagnostic["column"], diagnostic["end_column"]) == (7, 5, 24)
    assert diagnostic["message"] == f"expected params <= 5,000, got {SMALL_PARAMS:,}"
    assert report["contracts"] == [
        {"text": "params <= 5K", "passed": False, "valid": True, "actual": SMALL_PARAMS, "expected": 5000, "line": 7}
    ]
    assert report["totals"]["params"] == SMALL_PARAMS  # the report is still complete
    assert "7 |     expect params <= 5K\n            ^^^^^^^^^^^^^^^^^^^" in result.stderr


@pytest.mark.parametrize(
    "expect, message",
    [
        ("expect 5K >= params", f"expected params <= 5,000, got {SMALL_PARAMS:,}"),
        ("expect output == (10, 1)", "expected output == (10, 1), got (10,)"),
        ("expect output != 10", "expected output != 10, got (10,)"),
        ("expect rf >= 5", "expected rf >= 5, got (4, 4)"),
        ("expect flops == 3 * macs", f"expected flops == 3 * macs, got flops = {2 * SMALL_MACS:,} and 3 * macs = {3 * SMALL_MACS:,}"),
    ],
)
def test_failure_messages(tmp_path, expect, message):
    result, report = check(tmp_path, small(expect))
    assert result.exit_code == 1
    assert [(d["code"], d["message"]) for d in errors(report)] == [("E500", message)]


@pytest.mark.parametrize(
    "expect, passed",
    [
        ("expect output == 10", True),  # a 1-element shape against a number
        ("expect output == (10,)", True),
        ("expect rf == 4", True),  # a number against every axis
        ("expect rf < (5, 5)", True),
        ("expect rf > (3, 4)", False),
        ("expect input >= 3", True),
        ("expect output != 1000", True),
        ("expect params < 18.3K", True),
    ],
)
def test_tuples_and_numbers(tmp_path, expect, passed):
    result, report = check(tmp_path, small(expect))
    assert report["contracts"][0]["passed"] is passed
    assert result.exit_code == (0 if passed else 1)


def test_memory_quantities_follow_the_command_line_settings(tmp_path):
    text = small(f"expect param_bytes == {2 * SMALL_PARAMS}")
    assert check(tmp_path, text, "--dtype", "bfloat16")[0].exit_code == 0
    assert check(tmp_path, text)[0].exit_code == 1


def test_input_override_does_not_check_expectations(tmp_path):
    result, report = check(tmp_path, small(f"expect macs == {SMALL_MACS}"), "--input", "3x64x64")
    assert result.exit_code == 0 and report["contracts"] == []
    path = tmp_path / "model.cnn"
    table = CliRunner().invoke(cli, ["check", "--input", "3x64x64", str(path)])
    assert "contracts:  not checked (--input overrides the declared input)" in table.stdout


def test_input_override_still_reports_invalid_expectations(tmp_path):
    text = small("expect foo == 1", "expect params", "expect macs == 1", "expect output <= (3, 4)")
    result, report = check(tmp_path, text, "--input", "3x64x64")
    assert result.exit_code == 1 and report["contracts"] == []
    # what is wrong at any input is reported; what depends on the measures (the comparison) is not
    assert [(d["code"], d["line"]) for d in errors(report)] == [("E501", 7), ("E501", 8)]
    assert "unknown quantity 'foo'" in errors(report)[0]["message"]


def test_invalid_expectations_are_errors_not_unmet(tmp_path):
    path = tmp_path / "model.cnn"
    path.write_text(small("expect foo == 1", f"expect params == {SMALL_PARAMS}", "expect macs > 0"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1 and "error[E501]" in result.stderr
    assert "contracts:  2 of 2 expectations met; 1 invalid (see the errors)" in result.stdout
    _, report = check(tmp_path, path.read_text(encoding="utf-8"))
    assert [(c["passed"], c["valid"]) for c in report["contracts"]] == [(False, False), (True, True), (True, True)]


@pytest.mark.parametrize(
    "expect, code, fragment",
    [
        ("expect params <= 1e400", "E210", "the number 1e400 is too large"),
        ("expect params != 1e400 - 1e400", "E210", "the number 1e400 is too large"),
        ("expect params <= 1e300 * 1e300", "E501", "`1e300 * 1e300` is inf, not a finite number"),
        ("expect params != 1e300 * 1e300 - 1e300 * 1e300", "E501", "is nan, not a finite number"),
        ("expect output == (1e300 * 1e300,)", "E501", "is (inf,), not a finite number"),
    ],
)
def test_numbers_beyond_floats_are_errors_and_the_json_stays_json(tmp_path, expect, code, fragment):
    path = tmp_path / "model.cnn"
    path.write_text(small(expect), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the JSON report"))
    assert code in [d["code"] for d in errors(report)]
    assert any(fragment in d["message"] for d in errors(report)), errors(report)
    assert "Infinity" not in result.stdout and "NaN" not in result.stdout


def test_a_non_finite_outcome_cannot_reach_json():
    from cnnspec.analysis.contracts import Outcome
    from cnnspec.source import Span

    with pytest.raises(ValueError, match="JSON cannot hold"):
        Outcome("params <= x", True, 1, float("inf"), Span(1, 1, 1, 2)).to_json()


# ---- invalid expectations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expect, code, fragment",
    [
        ("expect parms < 3M", "E501", "unknown quantity 'parms'; did you mean 'params'?"),
        ("expect params", "E501", "an expectation is one comparison"),
        ("expect params < 1M and macs < 1M", "E501", "an expectation is one comparison"),
        ("expect output <= (3, 4)", "E501", "different lengths"),
        ("expect output < 'big'", "E501", "cannot compare"),
        ("expect params == 1 // 0", "E210", "division by zero"),
    ],
)
def test_invalid_expectations(tmp_path, expect, code, fragment):
    result, report = check(tmp_path, small(expect))
    assert result.exit_code == 1
    (diagnostic,) = errors(report)
    assert diagnostic["code"] == code and fragment in diagnostic["message"]
    assert diagnostic["line"] == 7
    assert report["contracts"][0]["passed"] is False and report["contracts"][0]["actual"] is None
    assert report["contracts"][0]["valid"] is False  # an error, not an unmet expectation


def test_an_unknown_name_lists_the_valid_names(tmp_path):
    _, report = check(tmp_path, small("expect weights < 1M"))
    (note,) = errors(report)[0]["notes"]
    assert note["message"] == "an expectation can name: " + ", ".join(QUANTITIES) + ", and the net's parameters"


def test_rf_without_a_spatial_layer(tmp_path):
    result, report = check(tmp_path, "net M {\n    input 64\n    linear(10)\n    expect rf >= 1\n}\n")
    assert result.exit_code == 1
    assert report["diagnostics"][0]["code"] == "E501" and "rf is undefined" in report["diagnostics"][0]["message"]


def test_expect_in_a_block_is_an_error_where_the_block_is_called(tmp_path):
    text = "block unit(c) {\n    conv(c, k=3)\n    expect params < 1000\n}\n\nnet N {\n    input 3x32x32\n    unit(8)\n    unit(8)\n}\n"
    result, report = check(tmp_path, text)
    assert result.exit_code == 1
    (diagnostic,) = report["diagnostics"]  # reported once, with the first call
    assert diagnostic["code"] == "E502" and diagnostic["line"] == 3
    assert [note["span"]["line"] for note in diagnostic["notes"]] == [8]


def test_expectations_are_not_evaluated_when_the_net_has_errors(tmp_path):
    result, report = check(tmp_path, small("expect params < 1").replace("maxpool(2)", "maxpool(64)"))
    assert result.exit_code == 1
    assert [d["code"] for d in report["diagnostics"]] == ["E300"]
    assert report["contracts"] == []


def test_expectations_inside_if_and_for_see_the_net_parameters(tmp_path):
    text = small("if classes == 10 {\n        expect output == classes\n    }", "for i in 1..2 {\n        expect params > i\n    }")
    result, report = check(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    assert [c["text"] for c in report["contracts"]] == ["output == classes", "params > i", "params > i"]


# ---- the examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_pins_its_numbers(path):
    """A one-net example pins params, MACs and the output; a family file pins the output in
    its definition and each variant's parameter count (ConvNeXt-T its MACs too)."""
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    assert result.exit_code == 0, result.stderr
    reports = json.loads(result.stdout)
    if isinstance(reports, dict):
        contracts = reports["contracts"]
        assert [c["text"].split()[0] for c in contracts] == ["params", "macs", "output"]
        assert all(c["passed"] for c in contracts)
        return
    base, *variants = reports
    assert [c["text"].split()[0] for c in base["contracts"]] == ["output"] and variants
    for report in variants:
        quantities = [c["text"].split()[0] for c in report["contracts"]]
        assert quantities[0] == "params", quantities
        assert all(c["passed"] for c in report["contracts"])
