"""The language's values, functions, layer values, assertions, loops over values, torch-style
labels and net variants (docs/language.md): what they compute, and a diagnostic at the right
place for every misuse."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from cnnspec.analyze import analyze
from cnnspec.expressions import MAX_LIST, make_divisible
from cnnspec.source import Source
from cnnspec.values import ListValue

ROOT = Path(__file__).resolve().parent.parent


def run(text: str, net: str | None = None):
    return analyze(Source("t.cnn", text), net)


def value_of(expression: str, prelude: str = ""):
    """Evaluate an expression inside a net, through the language: `expect` compares it with itself."""
    analysis = run(f"net N {{\n input 1x1x1\n {prelude}\n let v = {expression}\n expect v == v\n}}")
    assert not analysis.errors, [d.message for d in analysis.errors]
    (statement, values) = analysis.graph.expectations[0]
    return values["v"]


def only_error(text: str, net: str | None = None):
    errors = run(text, net).errors
    assert len(errors) == 1, [(d.code, d.message) for d in errors]
    return errors[0]


# ---- values and functions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("max(1, 2.5)", 2.5),
        ("min([4, 2, 8])", 2),
        ("abs(-3)", 3),
        ("int(3.9)", 3),
        ("int('1_000')", 1000),
        ("float(2)", 2.0),
        ("round(2.5)", 2),  # Python's rounding: halves to even
        ("round(3.5)", 4),
        ("round(2.675, 2)", round(2.675, 2)),
        ("floor(7 / 2)", 3),
        ("ceil(7 / 2)", 4),
        ("sqrt(16)", 4.0),
        ("log(8, 2)", 3.0),
        ("exp(0)", 1.0),
        ("pow(2, 10)", 1024),
        ("pow(2, 0.5)", math.sqrt(2)),
        ("sum([3, 3, 9, 3])", 18),
        ("sum([1, 2], 10)", 13),
        ("len([1, 2, 3])", 3),
        ("range(4)", [0, 1, 2, 3]),
        ("range(1, 10, 3)", [1, 4, 7]),
        ("enumerate([5, 6], 1)", [(1, 5), (2, 6)]),
        ("zip([1, 2], ['a', 'b'])", [(1, "a"), (2, "b")]),
        ("[3, 3, 9, 3][2]", 9),
        ("[3, 3, 9, 3][-1]", 3),
        ("[3, 3, 9, 3][1:3]", [3, 9]),
        ("[1, 2, 3, 4][::2]", [1, 3]),
        ("sum([3, 3, 9, 3][:2]) + 1", 7),
        ("[1] + [2, 3]", [1, 2, 3]),
        ("'a' + 'b'", "ab"),
        ("str(3) + '-' + str(4)", "3-4"),
        ("tuple([1, 2])", (1, 2)),
        ("make_divisible(32 * 0.75, 8)", 24),
        ("make_divisible(1280 * 1.1, 8)", 1408),
        ("make_divisible(3, 8)", 8),
        ("make_divisible(20, 8, min_value=16)", 24),
        ("ceil(min(1024, 512) * 0.25 / 8) * 8", 128),
    ],
)
def test_functions_and_lists(expression, expected):
    value = value_of(expression)
    if isinstance(expected, list):
        assert type(value) is ListValue and list(value) == expected
    else:
        assert value == expected and type(value) is type(expected)


def test_lists_and_tuples_stay_apart():
    assert repr(value_of("[1, 2]")) == "[1, 2]" and value_of("(1, 2)") == (1, 2)
    assert type(value_of("(1, 2)")) is tuple


def test_make_divisible_is_torchvisions():
    def torchvision(v, divisor, min_value=None):  # torchvision.models._utils._make_divisible, 0.28
        if min_value is None:
            min_value = divisor
        new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
        if new_v < 0.9 * v:
            new_v += divisor
        return new_v

    for v in [*range(1, 300), 32 * 1.1, 40 * 1.2, 1280 * 1.4, 19.99, 7.5]:
        for divisor in (1, 3, 4, 8, 16):
            assert make_divisible(v, divisor) == torchvision(v, divisor)
            assert make_divisible(v, divisor, 2 * divisor) == torchvision(v, divisor, 2 * divisor)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("max()", "max(): needs at least one value"),
        ("min(1, 'a')", "min(): expected a number, got a string"),
        ("abs(1, 2)", "abs(): takes at most 1 argument"),
        ("sqrt(-1)", "square root of a negative number"),
        ("log(0)", "logarithm of 0"),
        ("exp(1000)", "exp(1000) is too large"),
        ("pow(2, 70)", "too large"),
        ("len(3)", "len(): expected a list"),
        ("[1, 2][2]", "index 2 is out of range for a list of 2 elements"),
        ("[1, 2]['a']", "an index must be an integer"),
        ("(1, 2)[-3]", "out of range for a tuple"),
        ("3[0]", "cannot index an integer"),
        ("1 // 0", "division by zero"),
        ("make_divisible(10, 0)", "divisor must be a positive integer"),
        ("make_divisible(10)", "missing argument 'divisor'"),
        ("round(1.5, y=2)", "unknown argument 'y'"),
        ("round(1.5, x=2)", "argument 'x' given twice"),
        ("range(0, 10, 0)", "step must not be 0"),
        ("nosuch(1)", "unknown function, layer or block 'nosuch'"),
        ("mxa(1, 2)", "did you mean 'max'?"),
        ("[1] + 'a'", "cannot compute"),
        ("(3).channels", "has no 'channels'"),
    ],
)
def test_bad_calls_are_diagnostics_at_the_call(expression, message):
    text = f"net N {{\n input 1x1x1\n let v = {expression}\n}}"
    error = only_error(text)
    assert error.code in ("E201", "E203", "E204", "E210", "E211") and message in error.message
    assert error.span.line == 3 and error.span.column >= 10


def test_sizes_and_lengths_are_bounded():
    assert only_error(f"net N {{\n input 1x1x1\n let v = range({MAX_LIST + 1})\n}}").code == "E211"
    error = only_error("net N {\n input 1x1x1\n let v = range(1000000) + range(1000000)\n}")
    assert error.code == "E211" and "limit" in error.message


def test_a_loop_without_layers_is_still_bounded():
    analysis = run("net N {\n input 1x1x1\n let n = 0\n for i in range(100000) { let n = n + 1 }\n expect n == 100000\n}")
    assert not analysis.errors
    error = only_error("net N {\n input 1x1x1\n for i in 1..2000000 { let x = i }\n}")
    assert error.code == "E211"


# ---- let, scoping ----------------------------------------------------------------------------


def test_let_binds_values_in_the_definitions_scope():
    text = """
block widen(c) {
    let width = c * 4
    conv(width, k=1)
}
net N {
    input 3x8x8
    let a, b = (8, 2)
    widen(a // b)
    let total = 0
    for i in 1..3 { let total = total + i }
    expect output == (16, 8, 8)
    expect total == 6
}
"""
    analysis = run(text)
    assert not analysis.errors, analysis.errors
    assert analysis.graph.nodes[-1].output == (16, 8, 8)
    assert [values.get("total") for _, values in analysis.graph.expectations] == [6, 6]


def test_a_block_does_not_see_its_callers_values():
    text = "block b() {\n conv(width, k=1)\n}\nnet N {\n input 3x8x8\n let width = 4\n b()\n}"
    error = only_error(text)
    assert error.code == "E204" and "undefined name 'width'" in error.message


def test_a_value_bound_like_a_tensor_says_let():
    error = only_error("net N(w=[8]) {\n input 3x8x8\n x = w[0] * 2\n}")
    assert error.code == "E100" and "let x = ..." in error.message
    error = only_error("net N(w=8) {\n input 3x8x8\n x = w * 2\n}")
    assert error.code == "E200" and "'w' is a value (8), not a layer or tensor" in error.message and "`let`" in error.message
    error = only_error("net N {\n input 3x8x8\n x = conv(4, k=1)\n let x = 3\n}")
    assert error.code == "E205" and "already names a tensor" in error.message


def test_let_is_a_keyword_only_in_a_value_binding():
    analysis = run("net N {\n input 3x8x8\n let: conv(4, k=1)\n let = relu\n let -> relu\n}")
    assert not analysis.errors, analysis.errors
    assert [n.name for n in analysis.graph.nodes[1:]] == ["let", "1", "2"]
    error = only_error("net N {\n input 3x8x8\n lett x = 3\n}")
    assert error.code == "E100" and "let x = ..." in error.message


# ---- tensor shapes in expressions -------------------------------------------------------------


def test_a_block_reads_its_inputs_shape():
    text = """
block residual(c) {
    conv(c, k=1)
    if in.channels != c {
        add(in -> conv(c, k=1))
    } else {
        add(in)
    }
}
net N {
    input 3x8x6
    x = conv(8, k=1)
    let shape = x.shape
    let spatial = x.spatial
    let rank = x.rank
    residual(8) -> residual(16)
    expect shape == (8, 8, 6)
    expect spatial == (8, 6)
    expect rank == 3
}
"""
    analysis = run(text)
    assert not analysis.errors, analysis.errors
    ops = [n.op for n in analysis.graph.nodes[2:]]
    assert ops == ["Conv2d", "Add", "Conv2d", "Conv2d", "Add"]  # 8 -> 8: identity; 8 -> 16: projected


def test_tensor_attribute_errors():
    error = only_error("net N {\n input 3x8x8\n let c = in.chanels\n}")
    assert error.code == "E210" and "did you mean 'channels'" in error.message
    error = only_error("net N {\n input 3x8x8\n let c = in + 1\n}")
    assert error.code == "E210" and "the tensor in" in error.message


# ---- layers as values ---------------------------------------------------------------------------


def test_layers_and_blocks_as_arguments():
    text = """
block conv_norm_act(c, act=relu, norm=batchnorm) {
    conv(c, k=3, pad=1, bias=false) -> norm -> act
}
block twice(unit, c) {
    unit(c) -> unit(c)
}
net N {
    input 3x8x8
    conv_norm_act(8, act=silu, norm=batchnorm(eps=1e-3, momentum=0.01))
    twice(conv_norm_act(act=hardswish), 4)
}
"""
    analysis = run(text)
    assert not analysis.errors, analysis.errors
    nodes = analysis.graph.nodes[1:]
    assert [n.op for n in nodes] == ["Conv2d", "BatchNorm2d", "SiLU"] + ["Conv2d", "BatchNorm2d", "Hardswish"] * 2
    assert nodes[1].hparams["eps"] == 1e-3 and nodes[1].hparams["momentum"] == 0.01


def test_a_misspelt_layer_value_is_an_error_with_a_suggestion():
    error = only_error("block b(act=relu) {\n conv(4, k=1) -> act\n}\nnet N {\n input 3x8x8\n b(act=sliu)\n}")
    assert error.code == "E204" and "did you mean 'silu'" in error.message and error.span.line == 6


def test_a_parameter_named_like_a_block_keeps_its_old_meaning():
    text = "module Basic(c) {\n conv(c, k=1)\n}\nmodule wrap(Basic, c) {\n Basic(c)\n conv(Basic, k=1)\n}\nnet N {\n input 3x4x4\n wrap(4, 5)\n}"
    analysis = run(text)
    assert not analysis.errors and [n.hparams.get("out_channels") for n in analysis.graph.nodes[1:]] == [5, 4]


# ---- assertions ---------------------------------------------------------------------------------


def test_an_assertion_fails_at_the_call_with_the_callee_as_a_note():
    text = """block stage(stride) {
    assert stride == 1 or stride == 2, 'stride must be 1 or 2'
    conv(8, k=3, stride=stride)
}
net N {
    input 3x32x32
    stage(2)
    stage(3)
}
"""
    error = only_error(text)
    assert error.code == "E214" and error.message == "stage: stride must be 1 or 2"
    assert error.span.line == 8 and error.notes[0].span.line == 2
    error = only_error("net N {\n input 3x8x8\n assert false\n}")
    assert error.code == "E214" and error.message == "assertion failed" and error.span.line == 3
    error = only_error("net N {\n input 3x8x8\n assert 'yes'\n}")
    assert error.code == "E210"


# ---- loops over values ------------------------------------------------------------------------


def test_for_over_lists_enumerate_and_zip():
    text = """
net N(depths=[1, 2], widths=[4, 8]) {
    input 3x8x8
    for d, w in zip(depths, widths) {
        conv(w, k=1) * d
    }
    for c in [2, 3] { conv(c, k=1) }
}
"""
    analysis = run(text)
    assert not analysis.errors
    assert [n.hparams["out_channels"] for n in analysis.graph.nodes[1:]] == [4, 8, 8, 2, 3]


def test_for_errors():
    assert only_error("net N {\n input 3x8x8\n for x in 3 { relu }\n}").code == "E202"
    error = only_error("net N {\n input 3x8x8\n for a, b in [1, 2] { relu }\n}")
    assert error.code == "E203" and "2 loop names" in error.message


# ---- labels -------------------------------------------------------------------------------------


def test_labels_as_torch_writes_them():
    text = """
net N {
    input 3x8x8
    trunk: {
        for i in 1..2 {
            for j in 0..1 {
                block{i}-{j}: conv(4, k=1)
            }
        }
    }
    12: relu
    stage{1}_{'a'}: relu
}
"""
    analysis = run(text)
    assert not analysis.errors, analysis.errors
    names = [n.name for n in analysis.graph.nodes[1:]]
    assert names == ["trunk.block1-0", "trunk.block1-1", "trunk.block2-0", "trunk.block2-1", "12", "stage1_a"]


def test_bad_labels():
    error = only_error("net N {\n input 3x8x8\n x{'a b'}-1: relu\n}")
    assert error.code == "E207" and "'xa b-1'" in error.message
    error = only_error("net N {\n input 3x8x8\n block1 - 0: relu\n}")
    assert error.code == "E100" and "without spaces" in error.message


# ---- groups inside a merge ----------------------------------------------------------------------


def test_a_group_inside_a_merge_may_span_lines():
    text = """
net N {
    input 8x8x8
    add(in -> downsample: {
        conv(8, k=1, bias=false)
        batchnorm
    })
    add(in -> {conv(8, k=1)
        -> relu})
}
"""
    analysis = run(text)
    assert not analysis.errors, analysis.errors
    assert [n.name for n in analysis.graph.nodes[1:4]] == ["downsample.0", "downsample.1", "add"]


# ---- variants -----------------------------------------------------------------------------------

FAMILY = """
net base(depth=2, width=4, classes=10) {
    input 3x8x8
    conv(width, k=3, pad=1) * depth
    gap -> flatten -> linear(classes)
    expect output == classes
    expect params == 0
}
net wide = base(width=8) {
    expect params == (3 * 9 + 1) * 8 + (8 * 9 + 1) * 8 + 8 * 10 + 10
}
net deep = base(3, classes=5)
net deeper = deep(depth=4) {
    expect output == 5
}
"""


def test_variants_take_other_parameter_values():
    wide = run(FAMILY, "wide")
    assert not wide.errors, wide.errors
    assert [statement.span.line for statement, _ in wide.graph.expectations] == [10]
    deep = run(FAMILY, "deep")
    assert not deep.errors and len(deep.graph.nodes) == 1 + 3 + 3 and deep.graph.expectations == []
    deeper = run(FAMILY, "deeper")
    assert not deeper.errors and sum(n.op == "Conv2d" for n in deeper.graph.nodes) == 4
    base = run(FAMILY, "base")
    assert [statement.span.line for statement, _ in base.graph.expectations] == [6, 7]  # the base's own


@pytest.mark.parametrize(
    "variant, code, message",
    [
        ("net v = nosuch(depth=1)", "E209", "no net named 'nosuch'"),
        ("net v = base(dept=1)", "E201", "did you mean 'depth'"),
        ("net v = base(1, 2, 3, 4)", "E203", "takes 3 parameters"),
        ("net v = base(depth=1, 2)", "E203", "positional argument follows"),
        ("net v = base(depth=1) {\n relu\n}", "E212", "only `expect`"),
    ],
)
def test_bad_variants(variant, code, message):
    text = FAMILY.replace("    expect params == 0\n", "") + variant + "\n"
    error = only_error(text, "wide")
    assert error.code == code and message in error.message


# ---- the README's example -----------------------------------------------------------------------


def test_the_readmes_language_example_is_exact():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The language") :]
    example = re.search(r"```\n(.*?)```", section, re.S).group(1)
    for net, params in (("resnet50", 25_557_032), ("resnet101", 44_549_160)):
        analysis = run(example, net)
        assert not analysis.errors, analysis.errors
        assert sum(n.params for n in analysis.graph.nodes) == params


# ---- formatting -------------------------------------------------------------------------------


def test_fmt_lays_out_the_new_syntax():
    from cnnspec.format import format_source

    messy = (
        "net N(depths = [1,2,3]) {\n input 3x8x8\n let q = depths[ 1 : ][0]+len( depths )\n"
        " for i , d in enumerate(depths) {\n  block{i}-{d}: relu\n  12: relu\n }\n let c = in . channels * -1\n}\n"
        "net M = N( depths=[2] ){\n expect params>=0\n}\n"
    )
    expected = (
        "net N(depths=[1, 2, 3]) {\n    input 3x8x8\n    let q = depths[1:][0] + len(depths)\n"
        "    for i, d in enumerate(depths) {\n        block{i}-{d}: relu\n        12: relu\n    }\n"
        "    let c = in.channels * -1\n}\n\nnet M = N(depths=[2]) {\n    expect params >= 0\n}\n"
    )
    formatted = format_source(Source("t.cnn", messy))
    assert formatted == expected
    assert format_source(Source("t.cnn", formatted)) == formatted
