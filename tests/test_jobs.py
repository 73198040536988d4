"""`cnnspec check --jobs N`: several files checked in worker processes print exactly what a
serial run (--jobs 1) prints, in argument order, with the same exit status; a file that fails
hides no other file's diagnostics. Whole processes (stdout and stderr are pipes, so the
parallel path is taken)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, subprocess_env

FORMATS = ["table", "markdown", "json", "github", "sarif"]
ERRORS = sorted((ROOT / "tests" / "fixtures" / "errors").glob("*.cnn"))[:6]
EXAMPLES = [ROOT / "examples" / name for name in ("lenet5.cnn", "vgg16.cnn", "resnet18.cnn", "mnist_cnn.cnn")]
WARNS = "net Warns {\n    input 3x32x32\n    conv(8, k=3, stride=2)\n}\n"
SYNTAX = "net Broken {\n    input 3x32x32\n    conv(8, k=3,, pad=1)\n}\n"


def check(*args):
    result = subprocess.run(
        [sys.executable, "-m", "cnnspec", "check", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, env=subprocess_env(NO_COLOR="1"), timeout=300,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Clean examples, error fixtures, a file with a warning and one with a syntax error, interleaved."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "warns.cnn").write_text(WARNS)
    (folder / "syntax.cnn").write_text(SYNTAX)
    files = [EXAMPLES[0], ERRORS[0], folder / "warns.cnn", EXAMPLES[1], folder / "syntax.cnn", *ERRORS[1:], *EXAMPLES[2:]]
    return files


@pytest.mark.parametrize("output_format", FORMATS)
def test_parallel_output_is_the_serial_output(mixed, output_format):
    serial = check("--jobs", "1", "--format", output_format, *mixed)
    parallel = check("--jobs", "3", "--format", output_format, *mixed)
    assert parallel == serial
    assert serial[0] == 1  # errors in some files


@pytest.mark.parametrize("flags", [["-q"], ["-qq"], ["--strict", "-q"], ["--sizes"], ["--format", "json", "--sizes"]])
def test_parallel_output_is_the_serial_output_with_options(mixed, flags):
    assert check("--jobs", "4", *flags, *mixed) == check("--jobs", "1", *flags, *mixed)


def test_reports_come_in_argument_order(mixed):
    files = list(reversed(mixed))
    code, out, err = check("--jobs", "3", "-q", *files)
    assert [line.split(":")[0] for line in out.splitlines()] == [str(path) for path in files]
    named = [str(path) for path in files if f"{path}: " in err]
    assert named == sorted(named, key=lambda path: err.index(f"{path}: "))  # diagnostics in the same order


def test_a_failing_file_hides_no_other_diagnostics(mixed, tmp_path):
    code, out, err = check("--jobs", "2", "--format", "json", *mixed)
    reports = json.loads(out)
    assert [report["file"] for report in reports] == [str(path) for path in mixed]
    assert code == 1
    for report in reports:
        for diagnostic in report["diagnostics"]:
            assert f"{report['file']}:{diagnostic['line']}:" in err or diagnostic["line"] is None


def test_the_exit_status_is_the_serial_one(tmp_path):
    (tmp_path / "a.cnn").write_text(WARNS)
    (tmp_path / "b.cnn").write_text(WARNS)
    assert check("--jobs", "2", "-q", tmp_path)[0] == 0  # warnings only
    assert check("--jobs", "2", "-q", "--strict", tmp_path)[0] == 1
    (tmp_path / "c.cnn").write_text(SYNTAX)
    assert check("--jobs", "2", "-q", tmp_path)[0] == 1


def test_a_single_file_does_not_start_workers():
    probe = "import sys; from cnnspec.cli import main; sys.argv = ['cnnspec', 'check', 'examples/lenet5.cnn']\n"
    probe += "try:\n    main()\nexcept SystemExit:\n    pass\nprint('MP' if 'concurrent.futures.process' in sys.modules else 'NONE', file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert result.stderr.strip().splitlines()[-1] == "NONE"
