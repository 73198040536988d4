"""In-place hazards (E308, E309, E310) and pooling windows that see only padding (E311),
each proven against torch: a training step of the model the graph describes
(tests/torch_reference.training_trouble) fails or reads an overwritten tensor exactly where
cnnspec reports a hazard. Cost: about 5 s."""

from __future__ import annotations

import os

import pytest
import torch

from cnnspec.analyze import analyze
from cnnspec.layers.base import window_output
from cnnspec.layers.pool import padding_only_window
from cnnspec.source import Source, read_source
from tests.helpers import EXAMPLE_NETS

try:  # tests/ is not a package; pytest puts it on sys.path
    from torch_reference import one_torch_thread, training_trouble  # noqa: F401  a fixture
except ImportError:  # pragma: no cover
    from tests.torch_reference import one_torch_thread, training_trouble  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAZARDS = {"E308", "E309", "E310"}

ISSUE_FILES = {
    # the three files of issue 18: (text, the codes, (line, column) of the in-place layer)
    "alias": (
        "net Alias {\n    input 4x8x8\n    x = conv(4, k=3, pad=1)\n    a = x -> relu(inplace=true)\n    add(x, a)\n}\n",
        ["E308"],
        (4, 14),
    ),
    "chunk": (
        "net ChunkInplace {\n    input 4x8x8\n    conv(4, k=1)\n    a, b = chunk(2)\n    b -> relu(inplace=true)\n    cat(a, b)\n}\n",
        ["E308", "E309"],
        (5, 10),
    ),
    "saved": (
        "net SavedInplace {\n    input 4x8x8\n    conv(4, k=3, pad=1) -> sigmoid -> relu(inplace=true)\n}\n",
        ["E310"],
        (3, 39),
    ),
}


def net(*lines: str, shape: str = "4x8x8") -> str:
    body = "\n".join(f"    {line}" for line in lines)
    return f"net N {{\n    input {shape}\n{body}\n}}\n"


def hazards(text: str):
    analysis = analyze(Source("inplace.cnn", text))
    assert all(d.code in HAZARDS for d in analysis.errors), [f"{d.code} {d.message}" for d in analysis.errors]
    return analysis, sorted(d.code for d in analysis.errors)


@pytest.mark.parametrize("name", sorted(ISSUE_FILES))
def test_the_issue_files_are_rejected_at_the_inplace_layer(name):
    text, codes, place = ISSUE_FILES[name]
    analysis, found = hazards(text)
    assert found == codes
    assert all((d.span.line, d.span.column) == place for d in analysis.errors)
    assert training_trouble(analysis.graph) is not None  # and torch agrees: the training step goes wrong


def test_the_read_later_error_names_the_reader():
    analysis, _ = hazards(ISSUE_FILES["alias"][0])
    (diagnostic,) = analysis.errors
    assert diagnostic.message.startswith("relu(inplace=true) overwrites the output of conv, but add reads it afterwards")
    (note,) = diagnostic.notes
    assert note.span.line == 5 and "read here by add" in note.message


def test_what_torch_says_for_each_issue_file():
    said = {name: training_trouble(analyze(Source("f.cnn", text)).graph) for name, (text, _, _) in ISSUE_FILES.items()}
    assert said["alias"].startswith("Overwritten: add reads tensor")
    assert "is a view and is being modified inplace" in said["chunk"]
    assert "modified by an inplace operation" in said["saved"]


ACTIVATIONS = ["relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "hardswish", "hardsigmoid", "sigmoid", "tanh", "prelu"]
ACTIVATIONS += ["softmax", "logsoftmax", "relu(inplace=true)", "elu(inplace=true)", "silu(inplace=true)", "leakyrelu(inplace=true)"]
ACTIVATIONS += ["hardswish(inplace=true)", "dropout(0.5, inplace=true)", "dropout(0.0, inplace=true)"]
BEFORE = ACTIVATIONS + ["batchnorm", "maxpool(2)", "avgpool(2)", "gap", "upsample(scale=2)", "layernorm", "groupnorm(2)", "lrn(2)"]
BEFORE += ["flatten", "identity", "dropout(0.5)", "layerscale", "pixelshuffle(2)", "zeropad(1)", "channelshuffle(2)"]
AFTER = ["relu(inplace=true)", "hardswish(inplace=true)", "elu(inplace=true)", "dropout(0.5, inplace=true)"]


@pytest.mark.parametrize("before", BEFORE)
@pytest.mark.parametrize("after", AFTER)
def test_an_inplace_layer_after_each_layer_is_an_error_exactly_when_training_fails(before, after):
    analysis, found = hazards(net(f"conv(4, k=3, pad=1) -> {before} -> {after}"))
    trouble = training_trouble(analysis.graph)
    assert bool(found) == (trouble is not None), (found, trouble)
    assert set(found) <= {"E310"}


def test_torchvision_style_inplace_stays_legal():
    for path, net_name in EXAMPLE_NETS:
        assert not analyze(read_source(path), net_name).errors, (path, net_name)
    analysis, found = hazards(
        net("conv(4, k=3, pad=1) -> batchnorm -> relu(inplace=true)", "x = conv(4, k=3, pad=1)", "add(x, in) -> relu(inplace=true)")
    )
    assert found == [] and training_trouble(analysis.graph) is None


@pytest.mark.parametrize(
    "lines, codes",
    [
        (("x = conv(4, k=1)", "x -> flatten -> relu(inplace=true)", "x"), ["E308"]),  # through a view, then returned
        (("x = conv(4, k=1)", "y = x -> relu(inplace=true)", "mul(x, y)"), ["E308"]),  # mul keeps x only after the write
        (("x = conv(4, k=1)", "g = x -> mul(x)", "x -> relu(inplace=true) -> add(g)"), ["E310"]),  # mul kept x
        (("a, b = chunk(2)", "c = b -> relu(inplace=true)", "cat(a, c)"), []),  # the input does not require grad
        (
            ("conv(4, k=1)", "a, b = chunk(2)", "c = b -> flatten -> relu(inplace=true)", "d = a -> flatten", "cat(d, c)"),
            ["E309"],
        ),  # a is another part
        (("conv(4, k=1)", "a, b = split((1, 3))", "c = b -> dropout(0.0, inplace=true)", "cat(a, c)"), []),  # p = 0 writes nothing
        (("x = conv(4, k=1) -> relu(inplace=true)", "x -> relu(inplace=true)", "x"), ["E308", "E310"]),
        (("x = conv(4, k=1) -> sigmoid", "x -> relu(inplace=true)", "in -> conv(4, k=1)"), []),  # sigmoid's backward never runs
    ],
)
def test_aliasing_cases_agree_with_torch(lines, codes):
    analysis, found = hazards(net(*lines))
    assert found == codes
    assert bool(found) == (training_trouble(analysis.graph) is not None)


def test_errors_in_a_repeated_block_are_reported_once():
    text = "block unit(c) {\n    conv(c, k=3, pad=1) -> tanh -> relu(inplace=true)\n}\n\n" + net("unit(4) * 3")
    analysis, found = hazards(text)
    assert found == ["E310"]


# ---- E311: windows that see only padding ---------------------------------------------------


def test_the_issue_maxpool_is_rejected_naming_axis_and_position():
    analysis = analyze(Source("p.cnn", net("maxpool(3, stride=3, pad=1, dilation=2, ceil_mode=true)", shape="6x1x6")))
    (diagnostic,) = analysis.errors
    assert diagnostic.code == "E311" and (diagnostic.span.line, diagnostic.span.column) == (3, 5)
    assert "output position 0 of axis H" in diagnostic.message
    # torch agrees on the shape, 6 x 1 x 2, and every output is -inf: no window reaches the input
    out = torch.nn.functional.max_pool2d(torch.randn(1, 6, 1, 6), 3, stride=3, padding=1, dilation=2, ceil_mode=True)
    assert out.shape == (1, 6, 1, 2) and bool((out == -torch.inf).all())


def test_a_convolution_over_pure_padding_stays_legal():
    assert not analyze(Source("c.cnn", net("conv(4, k=1, pad=1)", shape="6x1x6"))).errors


def test_blind_windows_agree_with_torch_on_every_small_case():
    """Every small 1-D max pooling torch accepts: cnnspec's closed form gives the first output
    that torch makes -inf (on an input of finite values), and its shape rule torch's size."""
    checked = blind = 0
    for size in range(1, 9):
        for kernel in range(1, 5):
            for stride in range(1, 4):
                for dilation in range(1, 6):
                    for pad in range(kernel // 2 + 1):
                        for ceil in (False, True):
                            out = window_output(size, kernel, stride, pad, dilation, ceil)
                            if out < 1:
                                continue
                            x = torch.arange(float(size)).view(1, 1, size)
                            y = torch.nn.functional.max_pool1d(x, kernel, stride, pad, dilation, ceil)[0, 0]
                            assert y.shape[0] == out
                            inf = [i for i in range(out) if y[i] == -torch.inf]
                            assert padding_only_window(size, out, stride, pad, dilation) == (inf[0] if inf else None)
                            checked, blind = checked + 1, blind + bool(inf)
    assert checked > 1000 and blind > 20


def test_blind_windows_in_closed_form_at_huge_sizes():
    size = 2**62  # a dilation past the input: windows starting in the left padding may skip it
    # output 0 starts at -10, its next tap at size - 3 (inside); output 1 starts at -7, next tap at size (past it)
    assert padding_only_window(size, 5, stride=3, pad=10, dilation=size + 7) == 1
    assert padding_only_window(size, 5, stride=3, pad=10, dilation=size - 1) is None
    size, stride, pad, dilation = 2**40, 7, 2**45, 2**40 + 3  # 2**45 / 7 windows start in the padding
    first = padding_only_window(size, 2**50, stride, pad, dilation)
    assert first is not None and first * stride < pad
    assert (first * stride - pad) % dilation >= size  # its first tap at or past 0 is past the input
    assert all((i * stride - pad) % dilation < size for i in range(min(first, 100_000)))
