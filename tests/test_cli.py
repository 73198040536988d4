"""The command line: exit codes, options, the JSON report's fields, where output goes, colour."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec import __version__
from cnnspec.cli import cli
from tests.helpers import ANSI, ROOT, stderr_through_a_terminal, subprocess_env

FIXTURES = sorted((ROOT / "tests" / "fixtures" / "errors").glob("*.cnn"))
VGG19 = str(ROOT / "examples" / "vgg19.cnn")

SMALL = "net Small {\n    input 3x32x32\n    conv(8, k=3) -> relu\n}\n"
TWO_NETS = "net Small {\n    input 3x32x32\n    conv(8, k=3)\n}\n\nnet Large {\n    input 3x64x64\n    conv(16, k=5)\n}\n"
WITH_BLOCK = (
    "block unit(c) {\n    conv(c, k=3, pad=1) -> batchnorm -> relu\n}\n\n"
    "net Blocky(classes=10) {\n    input 3x32x32\n    unit(16)\n    maxpool(2)\n    flatten\n    fc: linear(classes)\n}\n"
)


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def write(tmp_path: Path, text: str, name: str = "model.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def declared_codes(path: Path) -> list[str]:
    return re.findall(r"^# expect: ([EW]\d{3})", path.read_text(encoding="utf-8"), re.MULTILINE)


# ---- exit codes --------------------------------------------------------------------------


def test_clean_file_exits_0_with_the_table_on_stdout():
    result = run("check", VGG19)
    assert result.exit_code == 0, result.output
    assert "143,667,240" in result.stdout
    assert result.stderr == ""


def test_warnings_exit_0_and_1_with_strict():
    warned = ROOT / "tests" / "fixtures" / "errors" / "w402_bias_before_batchnorm.cnn"
    result = run("check", warned)
    assert result.exit_code == 0
    assert "warning[W402]" in result.stderr
    assert result.stdout, "a file with warnings only still gets its table"
    strict = run("check", "--strict", warned)
    assert strict.exit_code == 1
    assert "warning[W402]" in strict.stderr


def test_errors_exit_1(tmp_path):
    result = run("check", write(tmp_path, "net A {\n    input 3x8x8\n    conv(8, k=11)\n}\n"))
    assert result.exit_code == 1
    assert "error[E300]" in result.stderr
    assert result.stdout == ""


def test_one_bad_file_among_several_exits_1(tmp_path):
    good, bad = write(tmp_path, SMALL, "good.cnn"), write(tmp_path, "net A {\n    rleu\n}\n", "bad.cnn")
    result = run("check", good, bad)
    assert result.exit_code == 1
    assert "Small" in result.stdout
    assert "bad.cnn:2:5: error[E200]" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--no-such-option", VGG19],
        ["check", "does-not-exist.cnn"],
        ["check"],
        ["check", "--format", "xml", VGG19],
        ["check", "--input", "3x0x224", VGG19],
        ["check", "--input", "abc", VGG19],
        ["check", "--input", "1x2x3x4x5", VGG19],
        ["check", "--input", "3x", VGG19],
        ["check", "--input", "-3x32x32", VGG19],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_directory_is_a_usage_error(tmp_path):
    assert run("check", tmp_path).exit_code == 2


# ---- --version, --help -------------------------------------------------------------------


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout
    assert "cnnspec" in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["check", "--help"]])
def test_help_has_an_example(args):
    result = run(*args)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert re.search(r"cnnspec check \S+\.cnn", result.stdout)


def test_check_help_documents_the_exit_codes_and_options():
    text = run("check", "--help").stdout
    for option in ("--input", "--net", "--format", "--strict"):
        assert option in text
    assert "--input 3x256x256" in text
    assert "Exit status" in text


# ---- --input, --net ----------------------------------------------------------------------


def json_report(*args):
    result = run("check", "--format", "json", *args)
    return result, json.loads(result.stdout)


def test_input_override_changes_the_output_shape(tmp_path):
    path = write(tmp_path, SMALL)
    _, declared = json_report(path)
    result, override = json_report("--input", "3x64x64", path)
    assert result.exit_code == 0
    assert declared["input"] == [3, 32, 32] and declared["nodes"][-1]["output"] == [8, 30, 30]
    assert override["input"] == [3, 64, 64] and override["nodes"][-1]["output"] == [8, 62, 62]


def test_input_override_on_vgg19():
    _, default = json_report(VGG19)
    result, report = json_report("--input", "3x256x256", VGG19)
    assert result.exit_code == 0
    assert report["input"] == [3, 256, 256]
    last_pool = [n for n in report["nodes"] if n["op"] == "MaxPool2d"][-1]
    assert last_pool["output"] == [512, 8, 8]
    assert [n for n in default["nodes"] if n["op"] == "MaxPool2d"][-1]["output"] == [512, 7, 7]
    assert report["totals"]["params"] == default["totals"]["params"]  # the adaptive pool keeps the classifier
    assert report["totals"]["neurons"] > default["totals"]["neurons"]


def test_input_override_can_make_a_net_invalid(tmp_path):
    result = run("check", "--input", "3x2x2", write(tmp_path, SMALL))
    assert result.exit_code == 1
    assert "error[E300]" in result.stderr


@pytest.mark.parametrize("net, shape, output", [("Small", [3, 32, 32], [8, 30, 30]), ("Large", [3, 64, 64], [16, 60, 60])])
def test_net_selects_one_of_several(tmp_path, net, shape, output):
    result, report = json_report("--net", net, write(tmp_path, TWO_NETS))
    assert result.exit_code == 0, result.stderr
    assert report["net"] == net
    assert report["input"] == shape
    assert report["nodes"][-1]["output"] == output


def test_several_nets_without_net_checks_each_and_other_commands_need_one(tmp_path):
    path = write(tmp_path, TWO_NETS)
    result = run("check", "-q", path)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{path} (net Small): ok, 224 params", f"{path} (net Large): ok, 1,216 params"]
    for command in ("codegen", "verify", "graph"):
        chosen = run(command, path)
        assert chosen.exit_code == 1 and "error[E209]" in chosen.stderr, command
        assert "Small, Large" in chosen.stderr and "--net" in chosen.stderr


def test_unknown_net_lists_the_nets(tmp_path):
    result = run("check", "--net", "Medium", write(tmp_path, TWO_NETS))
    assert result.exit_code == 1
    assert "no net named 'Medium'" in result.stderr
    assert "Small, Large" in result.stderr


# ---- the JSON report ---------------------------------------------------------------------

NODE_FIELDS = {"id", "name", "op", "inputs", "output", "params", "buffers", "neurons", "span"}
SPAN_FIELDS = {"line", "column", "end_line", "end_column"}
ROW_FIELDS = {"index", "type", "output", "neurons", "params", "nodes"}
TOTAL_FIELDS = {"params", "trainable_params", "buffers", "neurons"}
DIAGNOSTIC_FIELDS = {"severity", "code", "message", "file", "line", "column", "end_line", "end_column"}


def test_json_report_has_the_documented_fields(tmp_path):
    path = write(tmp_path, WITH_BLOCK)
    result, report = json_report(path)
    assert result.exit_code == 0, result.stderr
    assert report["schema"] == "cnnspec/report@1"
    assert report["file"] == path
    assert report["net"] == "Blocky"
    assert report["input"] == [3, 32, 32]
    assert report["nodes"] and report["rows"]
    for node in report["nodes"]:
        assert NODE_FIELDS <= set(node), node
        assert SPAN_FIELDS <= set(node["span"])
        assert all(isinstance(node[key], int) for key in ("id", "params", "buffers", "neurons"))
        assert all(isinstance(i, int) for i in node["inputs"])
        assert node["output"] is None or all(isinstance(d, int) for d in node["output"])
    for row in report["rows"]:
        assert ROW_FIELDS <= set(row), row
        assert all(isinstance(i, int) for i in row["nodes"])
    assert TOTAL_FIELDS <= set(report["totals"])
    fc = next(n for n in report["nodes"] if n["name"] == "fc")
    assert fc["op"] == "Linear" and fc["output"] == [10] and fc["params"] == 16 * 16 * 16 * 10 + 10
    assert fc["span"]["line"] == 10
    assert report["totals"]["params"] == sum(n["params"] for n in report["nodes"])
    # The conv's bias before batch norm: a warning, in the report too; and the 16 x 16 receptive
    # field of the last spatial layer does not cover the 32 x 32 input (W404).
    assert [d["code"] for d in report["diagnostics"]] == ["W402", "W404"]
    diagnostic = report["diagnostics"][0]
    assert DIAGNOSTIC_FIELDS <= set(diagnostic)
    assert diagnostic["severity"] == "warning" and diagnostic["code"] == "W402"
    assert diagnostic["file"] == path
    assert (diagnostic["line"], diagnostic["column"]) == (2, 5)
    assert (diagnostic["end_line"], diagnostic["end_column"]) == (2, 24)


def test_json_report_of_a_bad_file_lists_its_diagnostics():
    path = ROOT / "tests" / "fixtures" / "errors" / "several_errors.cnn"
    result = run("check", "--format", "json", path)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["schema"] == "cnnspec/report@1"
    found = [(d["code"], d["line"], d["column"], d["severity"]) for d in report["diagnostics"]]
    assert found == [("E201", 8, 29, "error"), ("E301", 9, 26, "error"), ("E200", 10, 15, "error")]
    for diagnostic in report["diagnostics"]:
        assert DIAGNOSTIC_FIELDS <= set(diagnostic)
        assert diagnostic["file"] == str(path)
        assert diagnostic["end_line"] == diagnostic["line"] and diagnostic["end_column"] > diagnostic["column"]
    assert "error[E201]" in result.stderr  # the diagnostics are on stderr as well


def test_json_report_of_a_syntax_error(tmp_path):
    result = run("check", "--format", "json", write(tmp_path, "net A {\n    input 3x32x32\n    conv(8, k=3\n"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["net"] is None and report["nodes"] == [] and report["rows"] == []
    assert [d["code"] for d in report["diagnostics"]] == ["E100"]


# ---- where the output goes, colour ---------------------------------------------------------


def test_no_ansi_escapes_when_not_a_terminal(tmp_path):
    for args in (["check", VGG19], ["check", ROOT / "tests" / "fixtures" / "errors" / "several_errors.cnn"]):
        result = run(*args)
        assert not ANSI.search(result.stdout) and not ANSI.search(result.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_on_a_terminal_and_no_color_respected():
    path = ROOT / "tests" / "fixtures" / "errors" / "unknown_layer.cnn"
    coloured = stderr_through_a_terminal(path)
    assert "error[E200]" in coloured and ANSI.search(coloured)
    plain = stderr_through_a_terminal(path, NO_COLOR="1")
    assert "error[E200]" in plain and not ANSI.search(plain)


def test_invalid_utf8_is_a_diagnostic(tmp_path):
    path = tmp_path / "latin1.cnn"
    path.write_bytes("net A {\n    input 3x32x32  # größe\n}\n".encode("latin-1"))
    result = run("check", path)
    assert result.exit_code == 1
    assert "error[E101]" in result.stderr and "not valid UTF-8" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    report = json.loads(run("check", "--format", "json", path).stdout)
    assert [d["code"] for d in report["diagnostics"]] == ["E101"]


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.cnn"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert run("check", path).exit_code == 0


# ---- never a traceback -----------------------------------------------------------------


# `check` checks each net of a file that defines several; the commands for one net need --net.
ONE_NET_COMMAND = {"several_nets": "graph"}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_fixture_through_the_cli(path):
    codes = declared_codes(path)
    result = run(ONE_NET_COMMAND.get(path.stem, "check"), path)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if any(code.startswith("E") for code in codes):
        assert result.exit_code == 1
        assert result.stdout == "", "nothing on stdout when there are errors"
        assert "error[" in result.stderr
    else:  # warnings only: the table, and exit 1 only with --strict
        assert result.exit_code == 0
        assert result.stdout
        assert run("check", "--strict", path).exit_code == 1
    for code in codes:
        assert f"[{code}]" in result.stderr


def test_every_fixture_through_a_real_process():
    failing = [str(p) for p in FIXTURES if any(code.startswith("E") for code in declared_codes(p)) and p.stem not in ONE_NET_COMMAND]
    process = subprocess.run(
        [sys.executable, "-m", "cnnspec", "check", *failing],
        capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    assert process.stdout == ""
    for path in failing:
        assert f"{path}:" in process.stderr
        assert re.search(re.escape(path) + r": \d+ errors?, \d+ warnings?", process.stderr)
