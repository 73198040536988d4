"""`cnnspec codegen`: the generated file's layout, lint, determinism, safety, torchvision
compatibility and the command line. (Equality with the analysis: test_codegen_equivalence.py.)

Cost: about 10 s (ruff runs once over all generated files; torch builds on the meta device).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.codegen.module import MARKER, CodegenError, generate_module
from cnnspec.codegen.names import MODULE_ATTRIBUTES
from cnnspec.codegen.verify import build_generated, verify
from cnnspec.source import Source, read_source
from tests.helpers import EXAMPLE_NETS, example_id

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
FIXTURES = ROOT / "tests" / "fixtures" / "torchvision"
RUFF = shutil.which("ruff") or os.path.join(os.path.dirname(sys.executable), "ruff")


def generated(path, net=None) -> str:
    return generate_module(analyze(read_source(str(path)), net), os.path.relpath(path, ROOT)).text


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ruff(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, *args], cwd=cwd, capture_output=True, text=True)


# ---- the examples: lint, determinism, layout ---------------------------------------------


def test_examples_pass_ruff_check_and_format(tmp_path):
    for path, net in EXAMPLE_NETS:
        (tmp_path / f"{Path(path).stem}_{net or 'net'}.py").write_text(generated(path, net), encoding="utf-8")
    checked = ruff("check", "--isolated", ".", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--isolated", "--check", "--diff", ".", cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_output_is_deterministic_across_processes():
    script = (
        "import json, sys; from cnnspec.analyze import analyze; from cnnspec.source import read_source\n"
        "from cnnspec.codegen.module import generate_module\n"
        "cases = [a.split('|') for a in sys.argv[1:]]\n"
        "print(json.dumps([generate_module(analyze(read_source(p), n or None), p).text for p, n in cases]))"
    )
    cases = [(os.path.relpath(path, ROOT), net) for path, net in EXAMPLE_NETS]
    names = [f"{path}|{net or ''}" for path, net in cases]
    other = subprocess.run([sys.executable, "-c", script, *names], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(other.stdout) == [generated(path, net) for path, net in cases] == [generated(path, net) for path, net in cases]


def test_parts_compose_the_file():
    module = generate_module(analyze(read_source(str(ROOT / "examples" / "vgg16.cnn"))), "examples/vgg16.cnn")
    assert module.header.splitlines() == [MARKER, "# source: examples/vgg16.cnn, net VGG16", "# cnnspec 0.1.0"]
    assert module.imports == ("import torch", "from torch import nn")
    assert module.text == module.header + "\nimport torch\nfrom torch import nn\n\n\n" + module.body
    assert module.body.endswith(
        "INPUT_SHAPE = (3, 224, 224)  # one sample, without the batch axis\n"
        "# output: with the default parameters; in general (classes,)\n"
        "OUTPUT_SHAPE = (1000,)\n\n\n"
        "def build_model(classes: int = 1000) -> nn.Module:\n"
        '    """VGG16 with freshly initialised weights.\n\n    Any value of classes: the layers follow it.\n    """\n'
        "    return VGG16(classes)\n"
    )


def test_header_never_names_an_absolute_path():
    analysis = analyze(read_source(str(ROOT / "examples" / "lenet5.cnn")))
    header = generate_module(analysis, str(ROOT / "examples" / "lenet5.cnn")).header
    assert "# source: lenet5.cnn, net LeNet5" in header and str(ROOT) not in header


RESNET18_BLOCK = '''class Basic(nn.Module):
    """The `basic` module of the .cnn file."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = out + x
        out = self.relu(out)
        return out
'''


def test_resnet18_shares_one_class_per_block_shape():
    text = generated(ROOT / "examples" / "resnet18.cnn")
    assert RESNET18_BLOCK in text
    assert re.findall(r"^class (\w+)", text, re.M) == ["Basic", "BasicWithDownsample", "ResNet18"]
    assert "self.layer2 = nn.Sequential(BasicWithDownsample(64, 128), Basic(128))" in text
    assert (
        "        self.downsample = nn.Sequential(\n            nn.Conv2d(in_channels, planes, kernel_size=1, stride=2, bias=False)," in text
    )


def test_resnet50_bottleneck_arguments_follow_the_definition():
    text = generated(ROOT / "examples" / "resnet50.cnn")
    assert re.findall(r"^class (\w+)", text, re.M) == ["BottleneckWithDownsample", "Bottleneck", "ResNet50"]
    assert "self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)" in text
    assert "self.layer1 = nn.Sequential(\n            BottleneckWithDownsample(64, 64, 1),\n            Bottleneck(64),\n" in text


def test_straight_chains_are_sequential():
    text = generated(ROOT / "examples" / "vgg16.cnn")
    assert "        self.features = nn.Sequential(\n            nn.Conv2d(3, 64, kernel_size=3, padding=1),\n" in text
    assert "nn.MaxPool2d(kernel_size=2, stride=2)" in text
    assert re.findall(r"^class (\w+)", text, re.M) == ["VGG16"]


def test_stateless_numbered_layers_are_named_after_their_op():
    """In a class with a forward, a numbered layer without parameters or buffers gets its op's
    name: no add_module("1", ...); the state_dict keys are the graph's, verify follows the paths."""
    analysis = analyze(read_source(str(ROOT / "examples" / "lenet5.cnn")))
    module = generate_module(analysis, "lenet5.cnn")
    assert "add_module" not in module.text and "get_submodule" not in module.text
    model = build_generated(module)
    attributes = ["conv1", "relu", "maxpool", "conv2", "relu2", "maxpool2", "flatten", "fc1", "relu3", "fc2", "relu4", "fc3"]
    assert [name for name, _ in model.named_children()] == attributes
    stateful = [node.name for node in analysis.graph.nodes if node.params]
    assert list(model.state_dict()) == [f"{name}.{kind}" for name in stateful for kind in ("weight", "bias")]
    assert (module.module_paths["1"], module.module_paths["6"], module.module_paths["fc1"]) == ("relu", "flatten", "fc1")
    assert verify(analysis, module).ok
    assert not verify(analysis, module._replace(module_paths={})).ok  # verify looks modules up through the paths


SHARED = """
module block(c) {
    relu: relu
    conv(c, k=1)
    relu
    add(in)
    batchnorm
    maxpool(1)
}
net Shared {
    input 4x8x8
    block(4)
    block(4)
    g: {conv(4, k=1) -> relu}
}
"""


def test_renamed_layers_skip_sibling_names_and_keep_stateful_numbers():
    """A named sibling `relu` pushes the unnamed one to relu2; the numbered conv and batchnorm
    keep their numbers (state_dict keys); both instances share one class; a Sequential keeps 0, 1."""
    analysis = analyze(Source("shared.cnn", SHARED))
    module = generate_module(analysis, "shared.cnn")
    assert re.findall(r"^class (\w+)", module.text, re.M) == ["Block", "Shared"]
    assert re.findall(r"^        self\.(\w+) = |add_module\(\"(\d+)\"", module.text.split("class Shared")[0], re.M) == [
        ("relu", ""),
        ("", "1"),
        ("relu2", ""),
        ("", "3"),
        ("maxpool", ""),
    ]
    assert "self.g = nn.Sequential(nn.Conv2d(4, 4, kernel_size=1), nn.ReLU())" in module.text
    assert {name: path for name, path in module.module_paths.items() if name != path} == {
        "0.2": "0.relu2",
        "0.4": "0.maxpool",
        "1.2": "1.relu2",
        "1.4": "1.maxpool",
    }
    check_only_expected_statements(module.text)
    assert verify(analysis, module).ok


def test_net_docstring_has_the_layer_table():
    text = generated(ROOT / "examples" / "vgg16.cnn")
    tree = ast.parse(text)
    net = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "VGG16")
    doc = ast.get_docstring(net)
    assert " 1  features.0 (+1)" in doc and "parameters: 138,357,544" in doc


# ---- torchvision: the same state_dict, key by key ------------------------------------------


@pytest.mark.parametrize("name", ["vgg16", "vgg19", "resnet18", "resnet50"])
def test_state_dict_matches_torchvision(name):
    expected = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    module = generate_module(analyze(read_source(str(ROOT / "examples" / f"{name}.cnn"))), f"{name}.cnn")
    model = build_generated(module)
    assert [[key, list(tensor.shape)] for key, tensor in model.state_dict().items()] == expected
    weights = {key: torch.empty(shape, device="meta") for key, shape in expected}
    assert not model.load_state_dict(weights, strict=True).missing_keys


# ---- names: refused where torch cannot register them, renamed where only Python minds ----


def test_static_attribute_list_covers_torch():
    public = {name for cls in (nn.Module, nn.Sequential) for name in dir(cls) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES


def codegen_errors(source: str) -> list[str]:
    analysis = analyze(Source("model.cnn", source))
    assert not analysis.errors, [d.message for d in analysis.errors]
    with pytest.raises(CodegenError) as caught:
        generate_module(analysis, "model.cnn")
    return [f"{d.code} {d.message}" for d in caught.value.diagnostics]


@pytest.mark.parametrize("name", ["forward", "training", "to", "eval", "cuda", "state_dict", "_modules", "__class__", "append"])
def test_module_attribute_names_are_refused(name):
    errors = codegen_errors(f"net N {{\n    input 3x8x8\n    {name}: conv(4, k=3)\n}}\n")
    assert len(errors) == 1 and errors[0].startswith(f"E207 the name '{name}' cannot be a submodule in PyTorch")


def test_refused_names_inside_groups_and_modules():
    source = "module m(c) {\n    train: conv(c, k=1)\n}\nnet N {\n    input 3x8x8\n    to: { conv(4, k=1) }\n    m(8)\n}\n"
    assert [e.split(":")[0] for e in codegen_errors(source)] == [
        "E207 the name 'to' cannot be a submodule in PyTorch",
        "E207 the name 'train' cannot be a submodule in PyTorch",
    ]


@pytest.mark.parametrize("name", ["ｆｏｒｗａｒｄ", "fοrward", "import", "class"])  # fullwidth; Greek omicron; keywords
def test_unicode_look_alikes_and_keywords_never_reach_codegen(name):
    analysis = analyze(Source("model.cnn", f"net N {{\n    input 3x8x8\n    {name}: conv(4, k=3)\n}}\n"))
    assert [d.code for d in analysis.errors] == ["E207"]


HOSTILE_STRING = '"""; __import__("os").system("echo pwned")  #'
HOSTILE = f"""
module __import__(eval, exec=1, self=0, type=1) {{
    conv1: conv(eval, k=3, stride=exec, pad=self, dilation=type)
    relu -> bn: batchnorm
}}
module layer_scale(open) {{
    {"x" * 120}: conv(open, k=1)
    scale: layerscale(0.5)
}}
net OrderedDict(tag='{HOSTILE_STRING}', compile=2) {{
    input 3x16x16
    __import__(8) -> __import__(16, exec=2, self=1, type=3)
    a, b = chunk(2)
    match: cat(a, b -> layer_scale(8))
    up: upsample(scale=2, mode='bilinear') -> gelu(approximate='tanh')
}}
"""
DANGEROUS = {"__import__", "eval", "exec", "open", "compile", "getattr", "setattr", "globals", "locals", "vars", "os", "sys", "input"}


def test_hostile_names_and_strings_yield_only_the_expected_statements(tmp_path):
    source_name = 'evil"\n__import__("os").system("x")\r.cnn'
    analysis = analyze(Source("hostile.cnn", HOSTILE))
    assert not analysis.errors, [d.message for d in analysis.errors]
    text = generate_module(analysis, source_name).text
    check_only_expected_statements(text)
    header, rest = text.split("\nimport torch\n")
    assert header.splitlines()[1] == '# source: \'evil"\\n__import__("os").system("x")\\r.cnn\', net OrderedDict'
    # the net parameter `tag` is build_model's argument: its value is only ever inside string literals
    strings = [token.string for token in tokenize.generate_tokens(io.StringIO(rest).readline) if token.type == tokenize.STRING]
    assert rest.count("pwned") == sum(string.count("pwned") for string in strings) == 3  # the default, the check, its message
    assert rest.count("system") == sum(string.count("system") for string in strings)
    assert "        in_channels: int,\n        eval_: int,\n        exec_: int,\n        self_: int,\n        type_: int,\n" in text
    assert "stride=exec_,\n            padding=self_,\n            dilation=type_,\n" in text
    assert "# the argument 'eval' is 'eval_' here: 'eval' is a Python or file-level name" in text
    assert re.findall(r"^class (\w+)", text, re.M) == ["LayerScale", "Import", "LayerScale2", "Match", "OrderedDict2"]
    (tmp_path / "hostile.py").write_text(text, encoding="utf-8")
    assert ruff("check", "--isolated", "hostile.py", cwd=tmp_path).returncode == 0
    assert ruff("format", "--isolated", "--check", "hostile.py", cwd=tmp_path).returncode == 0
    result = verify(analysis, generate_module(analysis, source_name))
    assert result.ok, result.problems


def test_header_quotes_a_file_name_with_odd_characters():
    analysis = analyze(read_source(str(ROOT / "examples" / "lenet5.cnn")))
    header = generate_module(analysis, 'a"\nimport os\n.cnn').header
    assert header.splitlines()[1] == "# source: 'a\"\\nimport os\\n.cnn', net LeNet5"
    assert all(line.startswith("#") for line in header.splitlines())


ALLOWED_IMPORTS = {("torch", None), ("torch", "nn"), ("collections", "OrderedDict")}


def check_only_expected_statements(text: str) -> None:
    """The file is: comments, imports of torch/nn/OrderedDict, nn.Module classes with only
    __init__ and forward, two shape constants and build_model; no dangerous name anywhere;
    strings only as docstrings, DSL names, digits and hyperparameter values."""
    lines = text.splitlines()
    first_code = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert lines[0] == MARKER and lines[first_code].startswith(("import", "from"))
    tree = ast.parse(text)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    docstrings = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert {(alias.name, None) for alias in node.names} <= ALLOWED_IMPORTS
        elif isinstance(node, ast.ImportFrom):
            assert {(node.module, alias.name) for alias in node.names} <= ALLOWED_IMPORTS
        elif isinstance(node, ast.ClassDef):
            assert [ast.unparse(base) for base in node.bases] in (["nn.Module"], ["nn.Sequential"], ["nn.LayerNorm"])
            methods = [item for item in node.body if not _is_docstring(item)]
            assert all(isinstance(m, ast.FunctionDef) for m in methods)
            assert {m.name for m in methods} <= {"__init__", "forward"}
            docstrings |= {id(item.value) for item in node.body if _is_docstring(item)}
            docstrings |= {id(m.body[0].value) for m in methods if _is_docstring(m.body[0])}
        elif isinstance(node, ast.Assign):
            assert [ast.unparse(t) for t in node.targets] in (["INPUT_SHAPE"], ["OUTPUT_SHAPE"])
            assert isinstance(ast.literal_eval(node.value), tuple)
        else:
            assert isinstance(node, ast.FunctionDef) and node.name == "build_model"
            assert _is_docstring(node.body[0])
            docstrings.add(id(node.body[0].value))
            parameters = [arg.arg for arg in node.args.args]
            for default in node.args.defaults:  # the net parameters' values, as literals
                assert isinstance(ast.literal_eval(default), (int, float, bool, str, tuple, type(None)))
                docstrings |= {id(n) for n in ast.walk(default)}
            *checks, returned = node.body[1:]
            for check in checks:  # `if name != 3: raise ValueError("...")`: a parameter fixed at its generated value
                assert isinstance(check, ast.If) and not check.orelse and isinstance(check.test, ast.Compare)
                assert check.test.left.id in parameters and ast.literal_eval(check.test.comparators[0]) is not Ellipsis
                docstrings |= {id(n) for n in ast.walk(check.test.comparators[0])}
                (raised,) = check.body
                assert isinstance(raised, ast.Raise) and ast.unparse(raised.exc.func) == "ValueError"
                (message,) = raised.exc.args
                docstrings.add(id(message))  # free text, as a docstring is
            assert isinstance(returned, ast.Return) and isinstance(returned.value, ast.Call)
            assert returned.value.func.id in classes and all(arg.id in parameters for arg in returned.value.args)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in DANGEROUS, ast.unparse(node)
        if isinstance(node, ast.Attribute):
            assert not (node.attr.startswith("__") and node.attr != "__init__"), ast.unparse(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", node.value), node.value  # module names: `fc`, `12`, `block1-0`
        if isinstance(node, ast.Call):
            assert _call_root(node.func) in classes | {
                "nn",
                "torch",
                "self",
                "super",
                "OrderedDict",
                "float",
                "x",
                "noise",
                "ValueError",
            }, ast.unparse(node)


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _call_root(func) -> str:
    while isinstance(func, (ast.Attribute, ast.Call)):
        func = func.value if isinstance(func, ast.Attribute) else func.func
    return func.id if isinstance(func, ast.Name) else type(func).__name__


@pytest.mark.parametrize("case", EXAMPLE_NETS, ids=example_id)
def test_examples_contain_only_the_expected_statements(case):
    check_only_expected_statements(generated(*case))


# ---- the command line ------------------------------------------------------------------


SMALL = "net Small {\n    input 3x32x32\n    conv(8, k=3) -> relu\n}\n"
TWO_NETS = SMALL + "\nnet Large {\n    input 3x64x64\n    conv(16, k=5)\n}\n"
BROKEN = "net Broken {\n    input 3x8x8\n    conv(8, k=30)\n}\n"


def write(tmp_path: Path, text: str, name: str = "model.cnn") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_codegen_prints_to_stdout(tmp_path):
    result = run("codegen", write(tmp_path, SMALL))
    assert result.exit_code == 0
    assert result.stdout.startswith(MARKER + "\n# source: ") and "class Small(nn.Module):" in result.stdout


def test_codegen_chooses_the_net(tmp_path):
    path = write(tmp_path, TWO_NETS)
    assert run("codegen", path).exit_code == 1
    result = run("codegen", path, "--net", "Large")
    assert result.exit_code == 0 and "class Large(nn.Module):" in result.stdout and "class Small" not in result.stdout


def test_codegen_writes_the_file(tmp_path):
    target = tmp_path / "model.py"
    result = run("codegen", write(tmp_path, SMALL), "-o", target)
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == run("codegen", tmp_path / "model.cnn").stdout
    assert sorted(os.listdir(tmp_path)) == ["model.cnn", "model.py"]  # no temporary file left


def test_codegen_overwrites_its_own_file_but_not_others(tmp_path):
    source, target = write(tmp_path, SMALL), tmp_path / "model.py"
    assert run("codegen", source, "-o", target).exit_code == 0
    assert run("codegen", source, "-o", target).exit_code == 0  # its own output: replaced freely
    target.write_text("# my hand-written model\nimport torch\n", encoding="utf-8")
    refused = run("codegen", source, "-o", target)
    assert refused.exit_code == 1 and "was not generated by cnnspec; use --force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "# my hand-written model\nimport torch\n"
    forced = run("codegen", source, "-o", target, "--force")
    assert forced.exit_code == 0 and target.read_text(encoding="utf-8").startswith(MARKER)


def test_codegen_writes_nothing_when_the_file_has_errors(tmp_path):
    target = tmp_path / "model.py"
    result = run("codegen", write(tmp_path, BROKEN), "-o", target)
    assert result.exit_code == 1 and "error[E300]" in result.stderr
    assert not target.exists()
    refused = run("codegen", write(tmp_path, "net N {\n    input 3x8x8\n    forward: conv(4, k=3)\n}\n"), "-o", target)
    assert refused.exit_code == 1 and "error[E207]" in refused.stderr and not target.exists()


def test_codegen_write_is_atomic(tmp_path, monkeypatch):
    source, target = write(tmp_path, SMALL), tmp_path / "model.py"
    assert run("codegen", source, "-o", target).exit_code == 0
    before = target.read_text(encoding="utf-8")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    result = run("codegen", write(tmp_path, TWO_NETS), "--net", "Large", "-o", target)
    assert result.exit_code == 1 and "cannot write: No space left on device" in result.stderr
    assert target.read_text(encoding="utf-8") == before
    assert sorted(os.listdir(tmp_path)) == ["model.cnn", "model.py"]


def test_codegen_train_writes_the_training_script(tmp_path):
    from cnnspec.codegen.train import training_script

    path = write(tmp_path, SMALL)
    result = run("codegen", path, "--train")
    assert result.exit_code == 0, result.output
    assert result.stdout == training_script(analyze(read_source(str(path))), str(path))
    assert result.stdout.startswith(MARKER + "\n") and "def main(" in result.stdout


def test_codegen_quiet_writes_without_a_word(tmp_path):
    source, target = write(tmp_path, SMALL), tmp_path / "model.py"
    loud = run("codegen", source, "-o", target)
    assert loud.exit_code == 0 and loud.stderr == f"wrote {target}\n"
    quiet = run("codegen", source, "-o", target, "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    refused = run("codegen", source, "-o", tmp_path / "model.cnn", "--quiet")  # a refusal is still said
    assert refused.exit_code == 1 and "was not generated by cnnspec" in refused.stderr


def test_codegen_help_has_an_example():
    result = run("codegen", "--help")
    assert result.exit_code == 0 and "cnnspec codegen examples/resnet18.cnn -o resnet18.py" in result.output


EDGES = """
module Basic(c) {
    conv(c, k=1)
}
module wrap(Basic, c) {
    Basic(c)
    conv(Basic, k=1)
}
net Empty {
    input 3x4x4
}
net Shadow {
    input 3x4x4
    wrap(4, 5) -> wrap(6, 7)
}
"""


@pytest.mark.parametrize("net", ["Empty", "Shadow"])
def test_edge_cases_verify(net):
    """A net without layers; a parameter named like a class the file defines."""
    analysis = analyze(Source("edges.cnn", EDGES), net)
    text = generate_module(analysis, "edges.cnn").text
    check_only_expected_statements(text)
    assert verify(analysis).ok
    if net == "Shadow":
        assert "def __init__(self, c: int, Basic_: int, in_channels: int) -> None:" in text
        assert "super().__init__(Basic(in_channels, c), nn.Conv2d(c, Basic_, kernel_size=1))" in text


NAMES = ", ".join(f"a{i}" for i in range(1, 21))
WIDE = f"""
net Long {{
    input 40x4x4
    conv(40, k=1)
    {NAMES} = split({tuple([2] * 20)})
    cat({NAMES})
    add({", ".join(f"a{i} -> conv(40, k=1)" for i in range(1, 14))})
    layernorm
}}
net Many {{
    input 40x4x4
    {NAMES} = g: {{conv(40, k=1) -> split({tuple([2] * 20)})}}
    cat({NAMES})
}}
"""


def test_wide_statements_are_laid_out_as_ruff_does(tmp_path):
    """Twenty-name unpackings and returns, a twenty-tensor cat, a thirteen-term sum."""
    for net in ("Long", "Many"):
        analysis = analyze(Source("wide.cnn", WIDE), net)
        (tmp_path / f"{net}.py").write_text(generate_module(analysis, "wide.cnn").text, encoding="utf-8")
        assert verify(analysis).ok
    assert ruff("check", "--isolated", ".", cwd=tmp_path).returncode == 0
    formatted = ruff("format", "--isolated", "--check", "--diff", ".", cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stdout
    assert "        ) = torch.split(\n" in (tmp_path / "Long.py").read_text() and "        return (\n" in (tmp_path / "Many.py").read_text()


# ---- a module's own parameter ------------------------------------------------------------

OWN_PARAMETERS = """
module scaled(c) {
    conv(c, k=1)
    gamma: parameter((c, 1, 1), init=0.5)
}

net P {
    input 4x5x5
    body: {
        conv(4, k=3, pad=1)
        parameter(5)
    }
    scaled(4)
    scaled(8)
    head: {gap -> flatten -> linear(3)}
}
"""


def test_a_parameter_belongs_to_the_enclosing_module():
    """Labelled: an attribute (`self.gamma`); numbered: register_parameter. The scope holding it
    becomes a class whose forward multiplies it in, also where it would be a plain chain."""
    analysis = analyze(Source("own.cnn", OWN_PARAMETERS))
    assert not analysis.errors, [d.message for d in analysis.errors]
    text = generate_module(analysis, "own.cnn").text
    assert '        self.register_parameter("1", nn.Parameter(torch.full((5,), 1.0)))\n' in text
    assert '        x = x * self.get_parameter("1")\n' in text
    assert "    def __init__(self, c: int) -> None:\n" in text
    assert "        self.gamma = nn.Parameter(torch.full((c, 1, 1), 0.5))\n" in text
    assert "        x = x * self.gamma\n" in text
    check_only_expected_statements(text)
    model = build_generated(generate_module(analysis, "own.cnn"))
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert shapes["body.1"] == (5,) and shapes["1.gamma"] == (4, 1, 1) and shapes["2.gamma"] == (8, 1, 1)
    assert verify(analysis).ok
