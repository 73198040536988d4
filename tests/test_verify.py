"""`cnnspec verify`: exit codes, its report, and disagreements it must catch (made on
purpose by altering the analysis it compares against). Cost: about 3 s."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.codegen.module import generate_module
from cnnspec.codegen.verify import verify
from cnnspec.source import read_source

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = str(ROOT / "examples" / "resnet18.cnn")
command = importlib.import_module("cnnspec.commands.codegen")  # the package attribute is the click command


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_verify_reports_equality():
    result = run("verify", RESNET18)
    assert result.exit_code == 0, result.output
    assert result.stdout == "verified: 69 nodes, 11,689,512 parameters, 3,628,146,688 FLOPs equal\n"


def test_verify_with_another_input_size_and_net(tmp_path):
    path = tmp_path / "two.cnn"
    path.write_text("net A {\n    input 3x8x8\n    conv(4, k=3)\n}\n\nnet B {\n    input 3x8x8\n    conv(2, k=1) -> relu\n}\n")
    result = run("verify", path, "--net", "B", "--input", "3x5x7")
    assert result.exit_code == 0 and result.stdout == "verified: 2 nodes, 8 parameters, 420 FLOPs equal\n"


def test_verify_refuses_a_file_with_errors(tmp_path):
    path = tmp_path / "broken.cnn"
    path.write_text("net Broken {\n    input 3x8x8\n    conv(8, k=30)\n}\n")
    result = run("verify", path)
    assert result.exit_code == 1 and "error[E300]" in result.stderr and "verified" not in result.stdout


def test_verify_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    result = run("verify", RESNET18)
    assert result.exit_code == 2
    assert result.stderr == "cnnspec verify needs PyTorch: pip install torch\n"


def tampered(path: str, change):
    """analyze_file, with the analysis altered after the fact: cnnspec 'disagrees' with torch."""

    def analyze_file(file, *options):  # net, input_shape, params
        analysis = analyze(read_source(file), *options)
        change(analysis.graph)
        return analysis

    return analyze_file


def node(graph, name):
    return next(n for n in graph.nodes if n.name == name)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda g: setattr(node(g, "layer1.0.conv1"), "params", 36_865),
            "layer1.0.conv1 (Conv2d): parameters torch 36,864, cnnspec 36,865",
        ),
        (lambda g: setattr(node(g, "bn1"), "buffers", 1), "bn1 (BatchNorm2d): buffers torch 129, cnnspec 1"),
        (
            lambda g: setattr(node(g, "layer2.0.add"), "outputs", ((128, 28, 29),)),
            "layer2.0.add (Add): output shape torch (2, 128, 28, 28), cnnspec (2, 128, 28, 29)",
        ),
        (
            lambda g: setattr([n for n in g.nodes if n.name == "layer1.1.relu"][-1], "outputs", ((64, 1, 1),)),
            "layer1.1.relu (ReLU): output shape torch (2, 64, 56, 56), cnnspec (2, 64, 1, 1)",
        ),
    ],
    ids=["params", "buffers", "functional shape", "reused module's second call"],
)
def test_verify_reports_each_disagreement(monkeypatch, change, message):
    monkeypatch.setattr(command, "analyze_file", tampered(RESNET18, change))
    result = run("verify", RESNET18)
    assert result.exit_code == 1
    assert f"resnet18.cnn: mismatch: {message}\n" in result.stderr
    assert "disagreement" in result.stderr and result.stdout == ""


def test_verify_reports_flops_against_macs():
    analysis = analyze(read_source(RESNET18))
    generated = generate_module(analysis, "resnet18.cnn")
    conv = node(analysis.graph, "conv1")
    analysis.costs[conv.id] = analysis.costs[conv.id]._replace(macs=analysis.costs[conv.id].macs + 1)
    result = verify(analysis, generated)
    assert result.problems == ["FLOPs at batch 2: torch 7,256,293,376, cnnspec 2 x MACs = 7,256,293,380"]


def test_verify_help_has_an_example():
    assert "cnnspec verify examples/resnet50.cnn" in run("verify", "--help").output


def test_verify_reports_a_module_torch_rejects():
    analysis = analyze(read_source(RESNET18))
    generated = generate_module(analysis, "resnet18.cnn")
    broken = generated._replace(body=generated.body.replace("nn.Linear(512, classes)", "nn.Linear(513, classes)"))
    (problem,) = verify(analysis, broken).problems
    assert problem.startswith("torch cannot build or run the generated module: RuntimeError:")
