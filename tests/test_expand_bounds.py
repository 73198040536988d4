"""The layer bound uses the values known at a call (cnnspec.bounds): a count that depends on a
block or net parameter is refused with E211 before any layer is built, and the bound never
exceeds what the expansion makes, so a valid net is never refused.

The evidence is the number of nodes built when the expansion stopped (only the input node),
not a time: E211 is reported before the first layer of the offending statement exists.
"""

from __future__ import annotations

import pytest

from cnnspec.analyze import analyze
from cnnspec.bounds import LayerBound
from cnnspec.expand import MAX_CALL_DEPTH, MAX_NODES
from cnnspec.parser import parse, to_syntax
from cnnspec.source import Source

BLOCK_N = "block b(n) {\n    relu * n\n}\n"


def net(*lines: str, blocks: str = BLOCK_N, params: str = "(m=1100)") -> str:
    return blocks + f"net N{params} {{\n    input 3x8x8\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def refused_before_building(text: str) -> bool:
    """Whether the analysis reports only E211, with no node built but the input."""
    analysis = analyze(Source("bounds.cnn", text))
    codes = [d.code for d in analysis.diagnostics]
    return codes == ["E211"] and len(analysis.graph.nodes) == 1


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(net("b(m) * m"), id="count and argument from a net parameter"),
        pytest.param(net("b(n=m) * m"), id="keyword argument"),
        pytest.param(net("b * 1000", blocks="block b(n=1100) {\n    relu * n\n}\n"), id="default argument"),
        pytest.param(net("b(m + 100) * (m - 100)"), id="expressions of parameters"),
        pytest.param(net("for i in 1..m {\n        b(m)\n    }"), id="loop range from a parameter"),
        pytest.param(net("c(m)", blocks=BLOCK_N + "block c(k) {\n    b(k) * k\n}\n"), id="through two blocks"),
        pytest.param(net("{ b(m) } * m"), id="a group"),
        pytest.param(net("add(b(m) * m)"), id="inside a merge"),
        pytest.param(
            net("b(m) * m", blocks="block b(n) {\n    if n > 10 {\n        relu * n\n    } else {\n        relu\n    }\n}\n"),
            id="an if decided by the argument",
        ),
    ],
)
def test_a_parameter_dependent_count_past_the_limit_is_refused_before_building(text):
    assert refused_before_building(text)


def test_a_call_with_the_loop_variable_is_refused_at_its_iteration_before_building_it():
    """The loop's own bound counts b(i) as zero (i unknown); each call is then measured with i known."""
    analysis = analyze(Source("bounds.cnn", net("for i in 1..m {\n        b(i) * m\n    }")))
    assert [d.code for d in analysis.diagnostics] == ["E211"]
    built = len(analysis.graph.nodes) - 1
    refused = next(i for i in range(1, 1101) if 1 + 1100 * i * (i + 1) // 2 > MAX_NODES)  # the first call past the limit
    assert built == 1100 * refused * (refused - 1) // 2  # the iterations before it, complete


def test_a_loop_variable_counts_as_unknown_in_the_loop_bound():
    """1 + 2 + ... + 500 = 125,250 layers: within the limit, so it must be built, not refused."""
    analysis = analyze(Source("bounds.cnn", net("for i in 1..500 {\n        relu * i\n    }", blocks="", params="")))
    assert analysis.diagnostics == []
    assert len(analysis.graph.nodes) == 1 + 125_250


def test_a_net_just_under_the_limit_is_not_refused():
    analysis = analyze(Source("bounds.cnn", net("b(m) * m", params="(m=300)")))
    assert analysis.diagnostics == []
    assert len(analysis.graph.nodes) == 1 + 300 * 300


CASES = [
    net("b(m) * m", params="(m=7)"),
    net("b(m) * 2 -> b(3)", params="(m=7)"),
    net("for i in 1..m {\n        b(i) * 2\n    }", params="(m=6)"),
    net("for i in 2..m {\n        for j in 1..i {\n            b(j)\n        }\n    }", params="(m=5)"),
    net("c(m)", blocks=BLOCK_N + "block c(k) {\n    if k > 3 {\n        b(k) * k\n    } else {\n        relu\n    }\n}\n", params="(m=5)"),
    net("c(m)", blocks=BLOCK_N + "block c(k) {\n    if k > 3 {\n        b(k) * k\n    } else {\n        relu\n    }\n}\n", params="(m=2)"),
    net("x = b(m)\n    add(x, in -> relu * m)", params="(m=4)"),
    net("b(n=m) -> b", blocks="block b(n=2) {\n    relu * n\n}\n", params="(m=4)"),
    net("b(m) * m", params="(m=0)"),
    net("b(undefined) * 3"),
    net("b(m, 2) * 3"),
]


@pytest.mark.parametrize("text", CASES)
def test_the_bound_never_exceeds_the_layers_built(text):
    """The bound of a whole net body, with the net's parameter values, against the expansion."""
    analysis = analyze(Source("bounds.cnn", text))
    definitions = {d.name: d for d in to_syntax(parse(Source("bounds.cnn", text)))}
    body = definitions["N"].body[1:]  # without the input declaration
    values = {p.name: int(p.default.value) for p in definitions["N"].params}
    at_least = LayerBound(definitions, MAX_CALL_DEPTH).statements(body, "N", values)
    assert at_least <= len(analysis.graph.nodes) - 1
