"""`cnnspec check PATH...`: files and directories, per-file reports, --quiet, exit status,
where output goes, and every command's help."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec.cli import cli

ROOT = Path(__file__).resolve().parent.parent

GOOD = "net Good {\n    input 3x32x32\n    conv(8, k=3, pad=1)\n    expect params == 224\n}\n"
BAD = "net Bad {\n    input 3x4x4\n    conv(8, k=5)\n}\n"
WARNS = "net Warns {\n    input 3x32x32\n    conv(8, k=3, stride=2)\n}\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def tree(tmp_path):
    """models/ with files at two depths, a hidden directory and a file that is not .cnn."""
    root = tmp_path / "models"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b_good.cnn").write_text(GOOD)
    (root / "sub" / "a_bad.cnn").write_text(BAD)
    (root / "a_warns.cnn").write_text(WARNS)
    (root / ".hidden" / "ignored.cnn").write_text(BAD)
    (root / "notes.txt").write_text("not a model")
    return root


def test_a_directory_is_searched_recursively_in_sorted_order(tree):
    result = run("check", "--quiet", tree)
    assert result.exit_code == 1  # one file fails
    assert result.stdout.splitlines() == [
        f"{tree / 'a_warns.cnn'}: ok, 224 params, 1 warning",
        f"{tree / 'b_good.cnn'}: ok, 224 params, 1 expectation met",
        f"{tree / 'sub' / 'a_bad.cnn'}: 1 error, 0 warnings",
    ]
    assert "error[E300]" in result.stderr and "warning[W400]" in result.stderr  # diagnostics still on stderr
    assert "ignored.cnn" not in result.stdout + result.stderr


def test_quiet_exit_status_follows_strict(tree):
    good, warns = tree / "b_good.cnn", tree / "a_warns.cnn"
    assert run("check", "-q", good, warns).exit_code == 0
    assert run("check", "-q", "--strict", good, warns).exit_code == 1


def test_several_files_get_a_header_each_on_stdout(tree):
    good, warns = tree / "b_good.cnn", tree / "a_warns.cnn"
    result = run("check", good, warns)
    assert result.exit_code == 0
    assert f"==> {good} <==" in result.stdout and f"==> {warns} <==" in result.stdout
    assert result.stdout.index(str(good)) < result.stdout.index(str(warns))
    assert "==>" not in run("check", good).stdout  # one file: no header
    markdown = run("check", "--format", "markdown", good, warns)
    assert f"### {good}" in markdown.stdout


def test_results_on_stdout_diagnostics_on_stderr(tree):
    result = run("check", tree / "sub" / "a_bad.cnn", tree / "b_good.cnn")
    assert result.exit_code == 1
    assert "error[E300]" in result.stderr and "error" not in result.stdout
    assert "parameters: 224" in result.stdout and "parameters" not in result.stderr


def test_a_missing_path_is_a_usage_error(tree):
    result = run("check", tree / "b_good.cnn", tree / "missing.cnn")
    assert result.exit_code == 2
    assert "missing.cnn" in result.stderr and result.stdout == ""


def test_a_directory_without_cnn_files_is_a_usage_error(tmp_path):
    result = run("check", tmp_path)
    assert result.exit_code == 2 and "no .cnn files" in result.stderr


def test_a_file_named_twice_is_checked_once(tree):
    result = run("check", "-q", tree / "b_good.cnn", tree, tree / "b_good.cnn")
    assert result.stdout.count("b_good.cnn") == 1


def test_a_file_spelt_two_ways_is_checked_once_under_its_first_spelling(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    (tree / "link.cnn").symlink_to(tree / "b_good.cnn")
    result = run("check", "-q", "models/b_good.cnn", "./models/b_good.cnn", "models/sub/../b_good.cnn", tree / "link.cnn")
    assert result.stdout.splitlines() == ["models/b_good.cnn: ok, 224 params, 1 expectation met"]
    listed = run("check", "-q", "models/sub/../link.cnn", "models")  # the directory's own link and target: once
    assert [line.split(":")[0] for line in listed.stdout.splitlines()] == [
        "models/sub/../link.cnn",
        "models/a_warns.cnn",
        "models/sub/a_bad.cnn",
    ]


def test_json_is_an_object_for_one_file_and_a_list_for_a_directory(tree):
    single = json.loads(run("check", "--format", "json", tree / "b_good.cnn").stdout)
    assert single["net"] == "Good"
    (tree / "sub" / "a_bad.cnn").unlink()
    (tree / "a_warns.cnn").unlink()
    listed = json.loads(run("check", "--format", "json", tree).stdout)
    assert isinstance(listed, list) and [r["net"] for r in listed] == ["Good"]


def test_every_command_help_has_an_example():
    assert cli.commands, "no commands registered"
    for name, command in cli.commands.items():
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Example" in result.stdout, f"`cnnspec {name} --help` has no example"
        assert f"cnnspec {name}" in result.stdout.split("Example", 1)[1], f"`cnnspec {name} --help`: the example does not run it"
    assert "Example" in run("--help").stdout


def test_shell_completion_script():
    env = {"_CNNSPEC_COMPLETE": "bash_source", "PYTHONPATH": str(ROOT)}
    code = "from cnnspec.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0
    assert "complete -o nosort -F _cnnspec_completion cnnspec" in result.stdout


def test_quiet_twice_prints_only_the_diagnostics(tree):
    result = run("check", "-qq", tree)
    assert result.exit_code == 1 and result.stdout == ""
    assert "a_bad.cnn: 1 error, 0 warnings" in result.stderr and "a_warns.cnn: 0 errors, 1 warning" in result.stderr
    assert "b_good.cnn" not in result.stderr


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_a_crash_is_one_line_and_the_other_files_are_still_checked(tree, monkeypatch, output_format):
    command = importlib.import_module("cnnspec.commands.check")  # the module, not the command it defines
    real = command.analyze_each_net

    def crash_on_bad(path, *options):
        if path.endswith("a_bad.cnn"):
            raise RuntimeError("boom")
        return real(path, *options)

    monkeypatch.setattr(command, "analyze_each_net", crash_on_bad)
    result = run("check", "--format", output_format, tree)
    assert result.exit_code == 3
    message = f"{tree / 'sub' / 'a_bad.cnn'}: internal error: RuntimeError: boom (this is a bug in cnnspec; please report it)"
    assert result.stderr.count("internal error") == 1 and message in result.stderr.splitlines()
    assert "Traceback" not in result.output and "b_good.cnn" in result.stdout
