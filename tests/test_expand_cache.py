"""The expander binds each distinct layer call once and infers each binding once per input
shape (expand.Binding). Equal values of other types are other arguments, and a failure is
never kept: each place reports its own diagnostics, as without the cache."""

from __future__ import annotations

from cnnspec.analyze import analyze
from cnnspec.source import Source


def expanded(*lines: str):
    return analyze(Source("cache.cnn", "net N {\n    input 3x8x8\n" + "".join(f"    {line}\n" for line in lines) + "}\n"))


def located_codes(analysis) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in analysis.diagnostics]


def test_an_integer_is_not_the_flag_it_equals():
    analysis = expanded("relu(inplace=true)", "relu(inplace=1)", "relu(inplace=true)")
    assert located_codes(analysis) == [("E202", 4)]


def test_a_float_is_not_the_integer_it_equals():
    analysis = expanded("conv(8, k=3)", "conv(8, k=3.0)")
    assert located_codes(analysis) == [("E202", 4)]


def test_a_negative_zero_is_not_the_zero_it_equals():
    analysis = expanded("dropout(p=0.0)", "dropout(p=-0.0)")
    assert [repr(node.hparams["p"]) for node in analysis.graph.nodes[1:]] == ["0.0", "-0.0"]


def test_a_tuple_argument_is_compared_item_by_item_with_types():
    analysis = expanded("conv(8, k=(3, 3))", "conv(8, k=(3, true))")
    assert located_codes(analysis) == [("E202", 4)]


def test_each_place_reports_its_own_warning_and_error():
    """The same binding on the same input shape: a cached warning, then an error never cached."""
    lines = ("a = conv(3, k=3, stride=2)", "b = in -> conv(3, k=3, stride=2)", "c = in -> conv(8, k=9)", "d = in -> conv(8, k=9)")
    analysis = expanded(*lines, "relu(bogus=1)", "relu(bogus=1)")
    assert located_codes(analysis) == [("W400", 3), ("W400", 4), ("E300", 5), ("E300", 6), ("E201", 7), ("E201", 8)]


def test_one_binding_applied_to_other_shapes_infers_each():
    analysis = expanded("conv(8, k=3)", "conv(8, k=3)", "conv(8, k=3)")
    assert [node.output for node in analysis.graph.nodes] == [(3, 8, 8), (8, 6, 6), (8, 4, 4), (8, 2, 2)]
    assert [node.params for node in analysis.graph.nodes[1:]] == [3 * 8 * 9 + 8, 8 * 8 * 9 + 8, 8 * 8 * 9 + 8]
