"""Compute (issue 3): cnnspec's MACs against torch.utils.flop_counter.FlopCounterMode.

FlopCounterMode counts convolutions, transposed convolutions and matrix products (2 FLOPs
per multiply-accumulate, bias ignored) and nothing else; cnnspec's MACs must be exactly
half its FLOPs, node by node and in total, on every example and on random conv/linear
networks. The models run on the meta device: shapes only, no memory, no arithmetic.
"""

from __future__ import annotations

import glob
import os
import warnings

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from cnnspec.analysis.compute import Cost, costs, totals
from cnnspec.analyze import analyze
from cnnspec.layers import ALL_KINDS, MERGES
from cnnspec.layers.base import LayerKind
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS, example_id

try:  # pytest puts tests/ on sys.path
    from torch_reference import ReferenceNet
except ImportError:  # pragma: no cover
    from tests.torch_reference import ReferenceNet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))
COUNTED = ("Conv", "ConvTranspose", "Linear")  # the ops FlopCounterMode counts in these nets
BATCH = 2


def _graph(text: str):
    analysis = analyze(Source("net.cnn", text))
    return analysis, analysis.graph


def _flop_counts(graph, batch=BATCH) -> tuple[dict[int, int], int]:
    """FlopCounterMode's FLOPs per node (by module) and in total, on the meta device."""
    net = ReferenceNet(graph).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(net.example_input(batch))
    per_module = counter.get_flop_counts()
    per_node = {node.id: sum(per_module.get(f"ReferenceNet.layers.n{node.id}", {}).values()) for node in graph.nodes}
    return per_node, counter.get_total_flops()


def _assert_matches_flop_counter(graph, batch=BATCH):
    per_node, total = _flop_counts(graph, batch)
    cost = costs(graph)
    for node in graph.nodes:
        assert 2 * batch * cost[node.id].macs == per_node[node.id], (node, cost[node.id], per_node[node.id])
        if not node.op.startswith(COUNTED):
            assert cost[node.id].macs == 0, node
    assert 2 * batch * totals(graph, cost).macs == total


@pytest.mark.parametrize("case", FIRST_NETS, ids=example_id)
def test_examples_match_flop_counter(case):
    path, net = case
    analysis = analyze(read_source(path), net)
    assert not analysis.errors
    _assert_matches_flop_counter(analysis.graph)
    total = totals(analysis.graph)
    assert total.complete and total.other_ops > 0, total  # every example's other ops are known


KNOWN_MACS = {  # torchvision's models at 3 x 224 x 224, as FlopCounterMode counts them (FLOPs / 2)
    "vgg19.cnn": 19_632_062_464,
    "resnet50.cnn": 4_089_184_256,
    "mobilenet_v2.cnn": 300_774_272,
    "densenet121.cnn": 2_834_161_664,
}


@pytest.mark.parametrize("name, macs", KNOWN_MACS.items())
def test_known_totals(name, macs):
    graph = analyze(read_source(os.path.join(ROOT, "examples", name))).graph
    assert graph.input_shape == (3, 224, 224)
    assert totals(graph).macs == macs
    assert totals(graph).flops == 2 * macs


def test_vgg19_first_conv_worked_example():
    """The docs' worked example: VGG19's first 3x3 conv, 3 -> 64 channels at 224 x 224."""
    graph = analyze(read_source(os.path.join(ROOT, "examples", "vgg19.cnn"))).graph
    conv = next(node for node in graph.nodes if node.op == "Conv2d")
    assert costs(graph)[conv.id] == Cost(macs=64 * 224 * 224 * 3 * 3 * 3, other_ops=64 * 224 * 224)
    relu = next(node for node in graph.nodes if node.op == "ReLU")
    assert costs(graph)[relu.id] == Cost(0, 64 * 224 * 224)


def test_resnet50_totals_worked_example():
    graph = analyze(read_source(os.path.join(ROOT, "examples", "resnet50.cnn"))).graph
    assert totals(graph) == (4_089_184_256, 61_290_984, ())


OTHER_OPS = [  # (layer, input shape, other ops per sample)
    ("conv(4, k=3, pad=1)", "2x5x5", 4 * 25),  # one bias add per output element
    ("conv(4, k=3, pad=1, bias=false)", "2x5x5", 0),
    ("batchnorm", "3x4x4", 4 * 48),  # subtract mean, times 1/std, scale, shift
    ("batchnorm(affine=false)", "3x4x4", 2 * 48),
    ("batchnorm(track_running_stats=false)", "3x4x4", 7 * 48),  # + the statistics, 3 per element
    ("groupnorm(1)", "3x4x4", 7 * 48),
    ("layernorm", "3x4x4", 7 * 48),
    ("layernorm(affine=false)", "3x4x4", 5 * 48),
    ("instancenorm", "3x4x4", 5 * 48),
    ("lrn(5)", "3x4x4", 9 * 48),
    ("relu", "3x4x4", 48),
    ("gelu", "3x4x4", 48),
    ("softmax", "3x4x4", 5 * 48),
    ("maxpool(2)", "3x4x4", 12 * 3),  # 3 comparisons per 2x2 window
    ("avgpool(2)", "3x4x4", 12 * 4),  # 3 adds and a divide
    ("adaptiveavgpool(3)", "1x7x7", 9 * 9),  # windows 0..3, 2..5, 4..7 on each axis
    ("adaptivemaxpool(3)", "1x7x7", 9 * 9 - 9),
    ("gap", "2x5x5", 2 * 25),
    ("upsample(scale=2)", "1x3x3", 0),
    ("upsample(scale=2, mode='bilinear')", "1x3x3", 7 * 36),  # 4 products summed
    ("dropout", "8", 0),  # eval mode: the identity
    ("flatten", "2x3x3", 0),
    ("linear(5)", "8", 5),
    ("linear(5, bias=false)", "8", 0),
    ("layerscale", "2x3x3", 18),
    ("scale: parameter((2, 1, 1))", "2x3x3", 18),
    ("layernorm2d", "3x4x4", 7 * 48),
    ("layernorm2d(affine=false)", "3x4x4", 5 * 48),
    ("permute((0, 2, 3, 1))", "2x3x3", 0),
    ("permute((0, 2, 3, 1)) -> linear(5, axis=-1)", "2x3x4", 5 * 12),  # a bias add at each of the 3 x 4 positions
    ("add(in)", "2x3x3", 18),
    ("mul(in, in, in)", "2x3x3", 36),
    ("cat(in)", "2x3x3", 0),
]


@pytest.mark.parametrize("layer, shape, other", OTHER_OPS, ids=[case[0] for case in OTHER_OPS])
def test_other_ops_conventions(layer, shape, other):
    analysis, graph = _graph(f"net T {{\n input {shape}\n {layer}\n}}")
    assert not analysis.errors, analysis.errors
    assert costs(graph)[graph.nodes[-1].id].other_ops == other


def test_every_kind_has_a_cost_rule():
    for kind in [*ALL_KINDS, *MERGES.values()]:
        assert type(kind).cost is not LayerKind.cost, kind.name


def test_an_undeterminable_cost_is_flagged_not_zero():
    _, graph = _graph("net T {\n input 3x8x8\n conv(4, k=3) -> relu\n}")
    relu = graph.nodes[-1]
    relu.kind = LayerKind()  # a kind with no cost rule
    cost = costs(graph)
    assert cost[relu.id].other_ops is None
    total = totals(graph, cost)
    assert total.unknown == (relu.id,) and not total.complete
    assert total.other_ops == 4 * 36 and total.macs == 4 * 36 * 27  # the rest is still counted


# ---- random conv / transposed conv / linear networks ------------------------------------


@st.composite
def conv_nets(draw) -> str:
    rank = draw(st.integers(1, 3))
    sizes = [draw(st.integers(3, 14 if rank < 3 else 7)) for _ in range(rank)]
    channels = draw(st.sampled_from([1, 2, 3, 4, 6]))
    lines = [f"input {channels}x{'x'.join(map(str, sizes))}"]

    def axes(low, high):
        if rank > 1 and draw(st.booleans()):
            return "(" + ", ".join(str(draw(st.integers(low, high))) for _ in range(rank)) + ")"
        return str(draw(st.integers(low, high)))

    for _ in range(draw(st.integers(1, 4))):
        layer = draw(st.sampled_from(["conv", "convtranspose", "dwconv", "pwconv"]))
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        out = groups * draw(st.integers(1, 3))
        bias = draw(st.sampled_from(["true", "false"]))
        stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        if layer == "conv":
            line = f"conv({out}, k={axes(1, 3)}, stride={stride}, pad={axes(0, 2)}, dilation={dilation}, groups={groups}, bias={bias})"
        elif layer == "convtranspose":
            line = (
                f"convtranspose({out}, k={axes(1, 3)}, stride={stride}, pad={draw(st.integers(0, 1))}, "
                f"output_padding={draw(st.integers(0, max(stride, dilation) - 1))}, dilation={dilation}, groups={groups}, bias={bias})"
            )
        elif layer == "dwconv":
            out = channels * draw(st.integers(1, 2))
            line = f"dwconv(k={axes(1, 3)}, stride={stride}, pad={axes(0, 1)}, multiplier={out // channels}, bias={bias})"
        else:
            line = f"pwconv({out}, groups={groups}, bias={bias})"
        lines.append(line)
        channels = out
    if draw(st.booleans()):
        lines.append("flatten")
        lines += [
            f"linear({draw(st.integers(1, 9))}, bias={draw(st.sampled_from(['true', 'false']))})" for _ in range(draw(st.integers(1, 2)))
        ]
    return "net R {\n    " + "\n    ".join(lines) + "\n}\n"


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(conv_nets(), st.integers(1, 3))
def test_random_conv_nets_match_flop_counter(text, batch):
    analysis, graph = _graph(text)
    assume(not analysis.errors)
    _assert_matches_flop_counter(graph, batch)


def test_graphs_with_errors_flag_the_nodes_without_shapes():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "errors", "*.cnn"))):
        graph = analyze(read_source(path)).graph
        if graph is None:
            continue
        total = totals(graph)
        assert set(total.unknown) == {node.id for node in graph.nodes if node.outputs is None}, path
