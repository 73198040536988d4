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
from cnnspec.source import Source, read_source
from tests.torch_reference import one_torch_thread  # noqa: F401  a fixture

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = str(ROOT / "examples" / "resnet18.cnn")
command = importlib.import_module("cnnspec.commands.codegen")  # the package attribute is the click command


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_verify_reports_equality():
    result = run("verify", RESNET18, "--no-numeric")  # the numeric check at 224 x 224 takes a while: below at 32 x 32
    assert result.exit_code == 0, result.output
    assert result.stdout == "verified: 69 nodes, 11,689,512 parameters, 3,628,146,688 FLOPs equal\n"


def test_verify_with_another_input_size_and_net(tmp_path):
    path = tmp_path / "two.cnn"
    path.write_text("net A {\n    input 3x8x8\n    conv(4, k=3)\n}\n\nnet B {\n    input 3x8x8\n    conv(2, k=1) -> relu\n}\n")
    result = run("verify", path, "--net", "B", "--input", "3x5x7")
    assert result.exit_code == 0
    first, numeric = result.stdout.splitlines()
    assert first == "verified: 2 nodes, 8 parameters, 420 FLOPs equal"
    assert numeric.endswith("in train and eval mode (float64, batch 2, input 3x5x7; largest difference 0)")


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


# ---- the numeric check: what the generated module computes -------------------------------


SMALL_RESNET = """
net SmallResNet {
    input 3x32x32
    conv1: conv(8, k=3, pad=1, bias=false)
    bn1: batchnorm
    relu: relu(inplace=true)
    layer1: basic(8) * 2
    layer2: {basic(16, stride=2, down=true) -> basic(16)}
    layer4: {basic(32, stride=2, down=true) -> basic(32)}
    avgpool: adaptiveavgpool((1, 1))
    flatten
    fc: linear(10)
}
"""


def small_resnet18():
    """ResNet-18's `basic` module (examples/resnet18.cnn) in a narrow net: quick to run in float64."""
    text = Path(RESNET18).read_text(encoding="utf-8").split("net ResNet18")[0] + SMALL_RESNET
    analysis = analyze(Source("small_resnet.cnn", text))
    assert not analysis.errors
    return analysis, generate_module(analysis, "small_resnet.cnn")


def test_verify_compares_what_the_module_computes():
    analysis, generated = small_resnet18()
    result = verify(analysis, generated)
    assert result.ok, result.problems
    assert result.numeric.input_gradient and result.numeric.largest <= 1e-9
    assert result.summary().splitlines()[1] == (
        "verified: outputs, input and parameter gradients and buffers equal to the graph evaluated directly, "
        f"in train and eval mode (float64, batch 2, input 3x32x32; largest difference {result.numeric.largest:.1g})"
    )


MISWIRED = [
    # (the generated forward's text, a mis-wiring of it torch still runs at the same shapes, the node named)
    ("        out = out + x\n        out = self.relu(out)\n        return out\n\n\nclass BasicWithDownsample",
     "        out = out + out\n        out = self.relu(out)\n        return out\n\n\nclass BasicWithDownsample",
     "layer1.0.add (Add)"),
    ("        out = self.conv2(out)\n        out = self.bn2(out)\n        out = out + x\n",
     "        out = self.bn2(out)\n        out = self.conv2(out)\n        out = out + x\n",
     "layer1.0.conv2 (Conv2d)"),
    ("        x = self.layer4(x)\n", "        x = self.layer4(x).flip(1)\n", "avgpool (AdaptiveAvgPool2d)"),  # the first to read it
]  # fmt: skip


@pytest.mark.parametrize("original, miswired, named", MISWIRED, ids=["skip dropped", "layers swapped", "channels reversed"])
def test_verify_catches_a_miswired_module_and_names_the_node(original, miswired, named):
    analysis, generated = small_resnet18()
    assert generated.body.count(original) == 1
    broken = generated._replace(body=generated.body.replace(original, miswired))
    result = verify(analysis, broken)
    assert not result.ok
    train, evaluation = result.problems  # shapes, counts and FLOPs agree: only the numbers tell
    assert train.startswith("numeric: train mode: the output differs by ")
    assert evaluation.startswith("numeric: eval mode: the ")  # in eval mode a fresh batch norm is nearly the identity
    for problem in result.problems:
        assert f"; the first node whose outputs differ: {named}, its outputs differ by " in problem


def test_verify_catches_swapped_operands_of_cat(tmp_path):
    path = tmp_path / "halves.cnn"
    path.write_text("net Halves {\n    input 4x6x6\n    conv(4, k=3, pad=1)\n    a, b = chunk(2)\n    cat(a, b -> tanh)\n}\n")
    analysis = analyze(read_source(str(path)))
    generated = generate_module(analysis, str(path))
    assert generated.body.count("torch.cat([x, out], dim=1)") == 1
    broken = generated._replace(body=generated.body.replace("torch.cat([x, out], dim=1)", "torch.cat([out, x], dim=1)"))
    problems = verify(analysis, broken).problems
    assert len(problems) == 2 and all("the first node whose outputs differ: cat (Cat)" in p for p in problems)


def test_verify_cli_prints_the_numeric_line_and_can_skip_it():
    result = run("verify", RESNET18, "--input", "3x32x32")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("verified: outputs, input and parameter gradients and buffers equal")
    quick = run("verify", RESNET18, "--input", "3x32x32", "--no-numeric")
    assert quick.exit_code == 0 and quick.stdout.splitlines() == result.stdout.splitlines()[:1]


def test_verify_reports_a_parameter_that_disagrees():
    text = "net P {\n    input 4x5x5\n    conv(4, k=1)\n    scale: parameter((4, 1, 1))\n}\n"
    analysis = analyze(Source("p.cnn", text))
    generated = generate_module(analysis, "p.cnn")
    node(analysis.graph, "scale").params = 5
    assert verify(analysis, generated).problems == [
        "scale (Parameter): parameters torch 4, cnnspec 5",
        "total parameters: torch 24, cnnspec 25",
    ]
    node(analysis.graph, "scale").params = 4
    elsewhere = generated._replace(body=generated.body.replace("self.scale", "self.other"))
    assert verify(analysis, elsewhere).problems == ["scale (Parameter): no such parameter in the generated model"]
