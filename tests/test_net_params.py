"""Net parameters from the command line (`--set NAME=VALUE`) and files with several nets
(`check` reports each; the one-net commands need --net)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec.cli import cli

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = ROOT / "examples" / "resnet18.cnn"

PARAMETRIC = """net P(classes=10, base=8, wide=base * 2, act='relu', bias=false, k=(3, 3)) {
    input 3x16x16
    conv(base, k=k, pad=1, bias=bias) -> batchnorm
    if act == 'relu' { relu } else { silu }
    conv(wide, k=1)
    adaptiveavgpool((1, 1)) -> flatten
    fc: linear(classes)
    expect output == classes
}
"""

TWO_NETS = """net Small(classes=10) {
    input 3x2x2
    conv(8, k=3, pad=1) -> adaptiveavgpool((1, 1)) -> flatten -> linear(classes)
    expect params == 314
}

net Large(classes=10) {
    input 3x3x3
    conv(16, k=3) -> relu -> adaptiveavgpool((1, 1)) -> flatten -> linear(classes)
    expect output == classes
}
"""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(tmp_path, text: str, name: str = "m.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def report(*args):
    result = run("check", "--format", "json", *args)
    return result, json.loads(result.stdout) if result.stdout else None


def node(report: dict, name: str) -> dict:
    return next(n for n in report["nodes"] if n["name"] == name)


# ---- --set --------------------------------------------------------------------------------


def test_set_replaces_a_default(tmp_path):
    path = write(tmp_path, PARAMETRIC)
    result, checked = report("--set", "classes=3", path)
    assert result.exit_code == 0, result.stderr
    assert node(checked, "fc")["hparams"]["out_features"] == 3
    assert checked["contracts"][0]["passed"]  # `expect output == classes`: checked with the value set


@pytest.mark.parametrize(
    "setting, name, key, value",
    [
        ("classes=5K", "fc", "out_features", 5000),
        ("classes=1_000", "fc", "out_features", 1000),
        ("base=4", "3", "out_channels", 8),  # a later default follows: wide = base * 2
        ("wide=6", "3", "out_channels", 6),
        ("k=(1, 1)", "0", "kernel_size", [1, 1]),
        ("bias=true", "0", "bias", True),
    ],
)
def test_set_reads_values_as_the_language_writes_them(tmp_path, setting, name, key, value):
    result, checked = report("--set", setting, write(tmp_path, PARAMETRIC))
    assert result.exit_code == 0, result.stderr
    assert node(checked, name)["hparams"][key] == value


def test_set_a_string_and_several_at_once(tmp_path):
    result, checked = report("--set", "act='silu'", "--set", "classes=2", "--set", "classes=4", write(tmp_path, PARAMETRIC))
    assert result.exit_code == 0, result.stderr
    assert [n["op"] for n in checked["nodes"]][3] == "SiLU"
    assert node(checked, "fc")["hparams"]["out_features"] == 4  # set twice: the last value


def test_an_unknown_parameter_is_a_diagnostic_with_a_suggestion(tmp_path):
    path = write(tmp_path, PARAMETRIC)
    result = run("check", "--set", "clases=3", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{path}:1:5: error[E201]: --set clases: net P has no parameter 'clases'; did you mean 'classes'?" in result.stderr
    listed = run("codegen", "--set", "depth=3", path)
    assert listed.exit_code == 1 and "(its parameters: classes, base, wide, act, bias, k)" in listed.stderr


@pytest.mark.parametrize("setting", ["classes", "classes=", "=3", "classes=3x3", "classes=1 +", "classes=other", "classes=1/0"])
def test_a_bad_setting_is_a_usage_error(tmp_path, setting):
    result = run("check", "--set", setting, write(tmp_path, PARAMETRIC))
    assert result.exit_code == 2 and "--set" in result.stderr and "Traceback" not in result.output


def test_a_wrong_value_is_reported_where_the_file_uses_it(tmp_path):
    result = run("check", "--set", "classes='ten'", write(tmp_path, PARAMETRIC))
    assert result.exit_code == 1 and "error[E202]" in result.stderr and ":7:" in result.stderr


def test_set_keeps_the_contracts_checked(tmp_path):
    # the parameters are part of the net's declaration: a contract with a fixed figure fails for other values
    result = run("check", "--set", "classes=10", RESNET18)
    assert result.exit_code == 1
    assert "error[E500]: expected params == 11,689,512, got 11,181,642" in result.stderr
    assert "error[E500]: expected output == 1,000, got (10,)" in result.stderr


def test_set_on_the_other_commands(tmp_path):
    graph = run("graph", "--set", "classes=7", RESNET18)
    assert graph.exit_code == 0 and "Linear" in graph.stdout
    code = run("codegen", "--set", "classes=7", RESNET18)
    assert code.exit_code == 0 and "self.fc = nn.Linear(512, classes)" in code.stdout
    assert "def build_model(classes: int = 7) -> nn.Module:" in code.stdout
    verified = run("verify", "--set", "classes=7", RESNET18)
    assert verified.exit_code == 0, verified.output


# ---- several nets in a file ---------------------------------------------------------------


def test_check_reports_each_net_in_file_order(tmp_path):
    path = write(tmp_path, TWO_NETS)
    result = run("check", path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.index(f"==> {path} (net Small) <==") < result.stdout.index(f"==> {path} (net Large) <==")
    assert result.stdout.count("contracts:  1 of 1 expectations met") == 2
    markdown = run("check", "--format", "markdown", path)
    assert f"### {path} (net Small)" in markdown.stdout and f"### {path} (net Large)" in markdown.stdout


def test_json_is_a_list_of_the_nets_and_an_object_for_one(tmp_path):
    path = write(tmp_path, TWO_NETS)
    result, checked = report(path)
    assert [r["net"] for r in checked] == ["Small", "Large"]
    assert [r["totals"]["params"] for r in checked] == [314, 618]
    _, one = report("--net", "Large", path)
    assert one["net"] == "Large"


def test_the_exit_status_fails_when_any_net_fails(tmp_path):
    broken = TWO_NETS.replace("input 3x3x3", "input 3x2x2")
    result = run("check", "-q", write(tmp_path, broken))
    assert result.exit_code == 1
    path = str(tmp_path / "m.cnn")
    assert result.stdout.splitlines() == [
        f"{path} (net Small): ok, 314 params, 1 expectation met",
        f"{path} (net Large): 1 error, 0 warnings",
    ]
    assert "error[E300]" in result.stderr


def test_set_applies_to_each_net(tmp_path):
    result, checked = report("--set", "classes=3", write(tmp_path, TWO_NETS))
    assert [r["rows"][-1]["output"] for r in checked] == [[3], [3]]
    assert result.exit_code == 1  # Small's `expect params == 314` holds for 10 classes only


def test_sizes_and_machine_formats_work_per_net(tmp_path):
    path = write(tmp_path, TWO_NETS)
    sizes = run("check", "--sizes", path)
    assert sizes.stdout.count("input sizes (each axis varied alone") == 2
    _, checked = report("--sizes", path)
    assert [r["input_sizes"][0]["declared"] for r in checked] == [2, 3]
    broken = write(tmp_path, TWO_NETS.replace("input 3x3x3", "input 3x2x2"), "broken.cnn")
    github = run("check", "--format", "github", broken)
    assert github.exit_code == 1 and github.stdout.count("::error ") == 1
    sarif = json.loads(run("check", "--format", "sarif", broken).stdout)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["E300"]


def test_a_directory_covers_every_net(tmp_path):
    write(tmp_path, TWO_NETS, "two.cnn")
    write(tmp_path, PARAMETRIC, "one.cnn")
    _, checked = report(tmp_path)
    assert [r["net"] for r in checked] == ["P", "Small", "Large"]


def test_the_one_net_commands_name_the_nets(tmp_path):
    path = write(tmp_path, TWO_NETS)
    for command in ("codegen", "verify", "graph", "train"):
        result = run(command, path)
        assert result.exit_code == 1, command
        assert "error[E209]: the file defines several nets (Small, Large); choose one with --net" in result.stderr
    assert run("codegen", "--net", "Large", path).exit_code == 0


# ---- the generated build_model(**params) ----------------------------------------------------


def generated_module(tmp_path, path, *options, name="generated"):
    """The module `cnnspec codegen PATH OPTIONS` writes, imported."""
    import importlib.util

    target = tmp_path / f"{name}.py"
    result = run("codegen", path, *options, "-o", target, "-q")
    assert result.exit_code == 0, result.output
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shapes(model) -> dict:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def test_build_model_takes_a_parameter_that_only_sets_hyperparameters(tmp_path):
    torch = pytest.importorskip("torch")
    default = generated_module(tmp_path, RESNET18)
    ten = generated_module(tmp_path, RESNET18, "--set", "classes=10", name="ten")
    model = default.build_model(classes=10)
    assert model.fc.out_features == 10
    assert shapes(model) == shapes(ten.build_model())  # the same keys, the same shapes
    assert shapes(default.build_model()) != shapes(model) and default.build_model().fc.out_features == 1000
    with torch.no_grad():
        assert model.to("meta")(torch.empty(2, *default.INPUT_SHAPE, device="meta")).shape == (2, 10)
    assert default.OUTPUT_SHAPE == (1000,) and ten.OUTPUT_SHAPE == (10,)
    assert "def build_model(classes: int = 10) -> nn.Module:" in (tmp_path / "ten.py").read_text()


def test_build_model_threads_linear_functions_through_module_classes(tmp_path):
    unet = ROOT / "examples" / "unet.cnn"
    default = generated_module(tmp_path, unet)
    other = generated_module(tmp_path, unet, "--set", "base=8", "--set", "classes=3", name="other")
    assert shapes(default.build_model(base=8, classes=3)) == shapes(other.build_model())
    text = (tmp_path / "generated.py").read_text()
    assert "self.enc2 = DoubleConv(base, 2 * base)" in text and "self.head = nn.Conv2d(base, classes, kernel_size=1)" in text
    assert "# output: with the default parameters; in general (classes, 64, 64)\nOUTPUT_SHAPE = (2, 64, 64)\n" in text


STRUCTURAL = """net S(classes=10, depth=2, wide=false, drop=0.25, grow=8, mid=grow * 2) {
    input 3x8x8
    conv(grow, k=3, pad=1) * depth
    if wide { conv(32, k=1) }
    conv(mid, k=1)
    dropout(drop)
    adaptiveavgpool((1, 1)) -> flatten -> linear(classes)
}
"""


def test_build_model_refuses_other_values_of_a_structural_parameter(tmp_path):
    module = generated_module(tmp_path, write(tmp_path, STRUCTURAL))
    assert module.build_model(classes=4).state_dict()["6.weight"].shape == (4, 16)
    for name, value in (("depth", 3), ("wide", True), ("drop", 0.5), ("grow", 4), ("mid", 8)):
        with pytest.raises(ValueError, match=f"generated with {name}=.*cnnspec codegen m.cnn --set {name}=VALUE"):
            module.build_model(**{name: value})
    assert module.build_model(depth=2, wide=False, drop=0.25).state_dict().keys() == module.build_model().state_dict().keys()


def test_a_net_without_parameters_keeps_its_plain_build_model(tmp_path):
    module = generated_module(tmp_path, write(tmp_path, "net N {\n    input 3x4x4\n    conv(2, k=3)\n}\n"))
    assert "def build_model() -> nn.Module:" in (tmp_path / "generated.py").read_text()
    assert module.build_model().state_dict()["0.weight"].shape == (2, 3, 3, 3)
