"""The Python API (cnnspec.load / cnnspec.loads, docs/python.md) against the CLI's own reports and torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cnnspec
from cnnspec.cli import cli
from tests.helpers import ROOT, subprocess_env

RESNET18 = ROOT / "examples" / "resnet18.cnn"
LENET5 = ROOT / "examples" / "lenet5.cnn"
SMALL = "net Small(width=8) {\n    input 3x16x16\n    conv(width, k=3, pad=1)\n    relu\n    flatten\n    fc: linear(10)\n}\n"


def check_json(path) -> dict:
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_load_gives_the_json_reports_figures():
    model = cnnspec.load(RESNET18)
    report = check_json(RESNET18)
    assert model.to_json() == report
    assert model.totals == report["totals"] and model.totals["params"] == 11_689_512
    assert model.layers == report["rows"]
    assert model.net == "ResNet18" and model.input == (3, 224, 224)
    assert model.outputs == {"fc": (1000,)}
    assert [c["passed"] for c in model.contracts] == [True, True, True]


def test_summary_is_the_table_check_prints():
    printed = CliRunner().invoke(cli, ["check", str(LENET5)])
    assert printed.exit_code == 0
    assert cnnspec.load(str(LENET5)).summary() == printed.stdout


def test_loads_sets_net_parameters():
    model = cnnspec.loads(SMALL, width=4)
    assert model.layers[1]["output"] == [4, 16, 16]
    assert model.totals["params"] == (3 * 9 + 1) * 4 + (4 * 16 * 16 + 1) * 10
    assert cnnspec.loads(SMALL, input=(3, 8, 8)).outputs == {"fc": (10,)}


def test_an_unknown_parameter_is_an_error():
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.loads(SMALL, widht=4)
    assert [d.code for d in raised.value.diagnostics] == ["E201"]
    assert "did you mean 'width'" in str(raised.value)


def test_a_broken_contract_raises():
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.load(LENET5, classes=12)  # 12 classes: other params, MACs and output than expected
    assert [(d.code, d.span.line) for d in raised.value.diagnostics] == [("E500", 18), ("E500", 19), ("E500", 20)]


def test_errors_raise_with_their_diagnostics():
    text = "net N {\n    input 3x8x8\n    conv(4, k=30)\n    conv(4, kk=3)\n}\n"
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.loads(text, path="bad.cnn")
    assert [(d.code, d.span.line) for d in raised.value.diagnostics] == [("E300", 3), ("E201", 4)]
    assert str(raised.value).startswith("bad.cnn: 2 errors\nbad.cnn:3:5: error[E300]")
    assert "^^^^" in str(raised.value)
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.loads("net N {\n    conv(4 k=3)\n}\n")
    assert raised.value.diagnostics[0].code == "E100"


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        cnnspec.load(tmp_path / "missing.cnn")
    latin1 = tmp_path / "latin1.cnn"
    latin1.write_bytes(b"# caf\xe9\nnet N { input 3x8x8 }\n")
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.load(latin1)
    assert raised.value.diagnostics[0].code == "E101"


def test_to_module_builds_the_generated_module():
    torch = pytest.importorskip("torch")
    model = cnnspec.load(LENET5)
    module = model.to_module()
    assert isinstance(module, torch.nn.Module)
    assert sum(p.numel() for p in module.parameters()) == model.totals["params"]
    with torch.no_grad():
        output = module(torch.zeros(2, *model.input))
    assert tuple(output.shape[1:]) == model.outputs["fc3"]


def test_the_html_table_is_escaped():
    model = cnnspec.loads(SMALL, path="<b>model</b>.cnn")
    page = model._repr_html_()
    assert "&lt;b&gt;model&lt;/b&gt;.cnn" in page and "<b>model" not in page
    assert page.count("<tr>") == len(model.layers) + 1  # the header and one row per layer
    assert "16 × 16" in page and "parameters: " + f"{model.totals['params']:,}" in page


def test_the_public_names():
    assert cnnspec.__all__ == ["CnnspecError", "Diagnostic", "Model", "__version__", "load", "load_ipython_extension", "loads"]
    for name in cnnspec.__all__:
        assert getattr(cnnspec, name) is not None
    assert (ROOT / "cnnspec" / "py.typed").exists()


def test_importing_cnnspec_imports_nothing_heavy():
    probe = "import sys, cnnspec; cnnspec.load; print(sorted(m for m in ('torch', 'rich', 'lark', 'click', 'pygments', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert result.stdout.strip() == "[]", result.stderr
