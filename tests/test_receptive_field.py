"""Receptive fields (cnnspec/analysis/receptive.py): the reference test vectors, and an
independent oracle, torch autograd.

The oracle. Every node of cnnspec's graph is rebuilt in torch from its hparams, made
positive and linear so that no path is ever zeroed: convolutions get all-one weights and no
bias, activations, normalisation and dropout are the identity, max pooling is replaced by
average pooling over torch's own windows, and the input is all ones. The gradient of one
output unit with respect to the input is then non-zero exactly on the input pixels that unit
depends on; its extent along each axis is the measured window.

All tensors have one channel. With positive weights, output channel c of a convolution
depends on a union of input channels' windows, and the receptive field is the largest
window over the paths, i.e. the union over channels; a single channel that sums every
path (cat is a sum, a grouped conv sums its groups) measures exactly that union.

What is asserted, per axis, for the units tested (away from the borders: the input is made
larger than the receptive field):
- plain nets: every unit's measured window is exactly [c0 + u*J - (r-1)/2, c0 + u*J + (r-1)/2];
- after upsampling (fractional strides) the windows of neighbouring units differ, and the
  static window is their envelope (docs/receptive-field.md): every unit's window lies inside
  its static window, and over a run of consecutive units the envelope is reached on both
  sides, i.e. it is the smallest window moving by J per unit that holds them all (unless a
  strided layer follows the upsampling, where the envelope may be larger: containment only);
- after a misaligned merge (W403) the reported window is the largest path's: it lies inside
  every unit's measured window;
- whole_input: the output depends on every unit of the feature map it collapses (in the
  examples: on every input pixel).
"""

from __future__ import annotations

import glob
import itertools
import os
from fractions import Fraction
from math import ceil, floor, prod

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from torch import nn

from cnnspec.analysis.receptive import RF, json_number, receptive_fields
from cnnspec.analyze import analyze
from cnnspec.diagnostics import CODES
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS, example_id

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("CNNSPEC_RF_EXAMPLES", "200")),
    deadline=None,
    derandomize=not os.environ.get("CNNSPEC_RF_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The oracle's tensors are small: torch's thread pool costs far more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def checked(text: str, input_shape=None, path="<test>", net=None):
    analysis = analyze(Source(path, text), net, input_shape=input_shape)
    assert not analysis.errors, [f"{d.code} {d.message}" for d in analysis.errors]
    return analysis.graph


def node_named(graph, name):
    """The last node of that name (a parameter-free layer may reuse one)."""
    return [n for n in graph.nodes if n.name == name][-1]


def rsp(rf: RF):
    """(r, S, P) per axis, as the reference tables give them."""
    return tuple(zip(rf.size, rf.jump, rf.padding))


# ---- the reference test vectors (shared/reference/receptive-field.md) --------------------

NET_1 = """
net N1 {{
    input 1x{h}x{w}
    add(conv(1, k=1, stride=4), zeropad((1, 0, 1, 0)) -> conv(1, k=3, stride=2) -> conv(1, k=1, stride=2))
}}
"""
NET_1_POOLS = """
net N1p {{
    input 1x{h}x{w}
    add(maxpool(1, stride=4), zeropad((1, 0, 1, 0)) -> maxpool(3, stride=2) -> maxpool(1, stride=2))
}}
"""
NET_3 = """
net N3 {{
    input 1x{h}x{w}
    add(zeropad((2, 1, 2, 1)) -> conv(1, k=5, stride=2), conv(1, k=3) -> conv(1, k=3))
}}
"""
NET_4 = """
net N4 {{
    input 1x{h}x{w}
    add(conv(1, k=1, stride=4), zeropad((1, 0, 1, 0)) -> conv(1, k=3, stride=2) -> conv(1, k=1, stride=2))
    add(conv(1, k=1, stride=2), zeropad((1, 0, 1, 0)) -> conv(1, k=3, stride=2))
}}
"""
NET_5 = """
net N5 {{
    input 1x{h}x{w}
    conv(1, k=(3, 5), stride=2) -> conv(1, k=(3, 1), stride=2)
}}
"""
SIZES = [(32, 32), (64, 64), (32, 96), (96, 64)]


def output_rf(text, size):
    graph = checked(text.format(h=size[0], w=size[1]))
    rfs, diagnostics = receptive_fields(graph)
    return graph, rfs[graph.output.node], diagnostics


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text", [NET_1, NET_1_POOLS], ids=["convs", "max-pools"])
def test_vector_aligned_add(text, size):
    _, rf, diagnostics = output_rf(text, size)
    assert rsp(rf) == ((3, 4, 1), (3, 4, 1))
    assert rf.center == (0, 0) and not rf.whole_input
    assert [d.code for d in diagnostics] == []


@pytest.mark.parametrize("size", [(8, 8)])  # the only size where the two paths' shapes agree
def test_vector_misaligned_add_warns(size):
    graph, rf, diagnostics = output_rf(NET_3, size)
    (warning,) = diagnostics
    add = graph.nodes[graph.output.node]
    assert warning.code == "W403" and warning.span == add.span and not warning.is_error
    # the merge and both paths' (r, J, centre): 5x5/2 after padding 2 (centre 0) and two 3x3/1 (centre 2)
    assert f"Add '{add.name}'" in warning.message
    assert "r 5 x 5, J 2 x 2, centre 0 x 0" in warning.message
    assert "r 5 x 5, J 1 x 1, centre 2 x 2" in warning.message
    assert rf.size == (5, 5)  # still the largest r


@pytest.mark.parametrize("size", [(32, 32), (64, 64), (32, 64)])
def test_vector_two_merges(size):
    _, rf, diagnostics = output_rf(NET_4, size)
    assert rsp(rf) == ((11, 8, 5), (11, 8, 5))
    assert diagnostics == []


@pytest.mark.parametrize("size", [(17, 17), (32, 32), (24, 40)])
def test_vector_non_square_kernels(size):
    _, rf, _ = output_rf(NET_5, size)
    # kernel h x w: r_y (height) = 7, r_x (width) = 5, S = 4, P = 0
    assert rf.size == (7, 5) and rf.jump == (4, 4) and rf.padding == (0, 0)


def test_distill_worked_example():
    graph = checked("net D { input 1x16x16\n conv(1, k=3, stride=3, pad=1) -> conv(1, k=2) }")
    rf = receptive_fields(graph)[0][graph.output.node]
    assert rf.window((0, 0)) == ((-1, 4), (-1, 4))  # the first feature's window includes padding
    assert rf.window((1, 2)) == ((2, 7), (5, 10))


def test_dilation_and_centre():
    graph = checked("net D { input 1x32x32\n conv(1, k=3, dilation=(2, 3), pad=(2, 1)) -> conv(1, k=(1, 2), stride=2) }")
    rf = receptive_fields(graph)[0][graph.output.node]
    # k_eff = d(k-1)+1 = 5 and 7; the padding is unchanged by the dilation
    assert rf.size == (5, 7 + 1) and rf.padding == (2, 1) and rf.jump == (2, 2)
    assert rf.center == (0, Fraction(5, 2))


def test_vgg16_is_212_not_308():
    graph = checked(read_source(os.path.join(ROOT, "examples", "vgg16.cnn")).text)
    rfs, _ = receptive_fields(graph)
    assert rfs[node_named(graph, "features.30").id].size == (212, 212)  # the last max pool
    assert rfs[node_named(graph, "features.30").id].jump == (32, 32)


@pytest.mark.parametrize(
    "example, node, size",
    [
        ("alexnet", "avgpool", 195),
        ("vgg16", "avgpool", 212),
        ("vgg19", "avgpool", 268),
        ("resnet18", "layer4.1.relu", 435),
        ("resnet50", "layer4.2.relu", 427),
        ("mobilenet_v2", "features.18.2", 491),
    ],
)
def test_published_values(example, node, size):
    graph = checked(read_source(os.path.join(ROOT, "examples", f"{example}.cnn")).text)
    assert receptive_fields(graph)[0][node_named(graph, node).id].size == (size, size)


@pytest.mark.parametrize(
    "layer, shape, step",
    [
        ("convtranspose(1, k=2, stride=2)", "1x16x16", (Fraction(3, 2), Fraction(1, 2), Fraction(1, 2))),
        ("convtranspose(1, k=3, stride=2, pad=1, dilation=2)", "1x16x16", (3, Fraction(1, 2), Fraction(3, 2))),
        ("upsample(scale=2)", "1x16x16", (Fraction(3, 2), Fraction(1, 2), Fraction(1, 2))),
        ("upsample(scale=2, mode='bilinear')", "1x16x16", (Fraction(5, 2), Fraction(1, 2), 1)),
        ("upsample(scale=2, mode='bicubic')", "1x16x16", (Fraction(9, 2), Fraction(1, 2), 2)),
        ("pixelshuffle(2)", "4x8x8", (Fraction(3, 2), Fraction(1, 2), Fraction(1, 2))),
        ("adaptiveavgpool(3)", "1x5x5", (3, Fraction(5, 3), Fraction(2, 3))),
        ("adaptiveavgpool(7)", "1x14x14", (2, 2, 0)),
        ("adaptiveavgpool(7)", "1x7x7", (1, 1, 0)),
        ("conv(1, k=4, pad='same', dilation=3)", "1x16x16", (10, 1, 4)),
    ],
)
def test_documented_steps(layer, shape, step):
    graph = checked(f"net T {{ input {shape}\n {layer} }}")
    node = graph.nodes[1]
    assert node.kind.receptive_step(node, (graph.nodes[0].output,)) == (step, step)


def test_partial_and_global_pooling():
    graph = checked("net P { input 1x8x6\n x = identity\n adaptiveavgpool((1, 3))\n x -> gap }")
    rfs, _ = receptive_fields(graph)
    # pooling one axis to 1: an ordinary pool, kernel = stride = 8 on it
    assert rfs[graph.nodes[2].id] == RF((8, 2), (8, 2), (0, 0), (Fraction(7, 2), Fraction(1, 2)), False)
    assert graph.nodes[3].op == "AdaptiveAvgPool2d" and rfs[graph.nodes[3].id] == RF(
        (8, 6), (8, 6), (0, 0), (Fraction(7, 2), Fraction(5, 2)), True, local=False
    )


# ---- whole input, warnings, records ----------------------------------------------------


def test_global_pooling_and_linear_are_whole_input():
    graph = checked(read_source(os.path.join(ROOT, "examples", "resnet18.cnn")).text)
    rfs, diagnostics = receptive_fields(graph)
    for node in graph.nodes[-3:]:  # avgpool, flatten, fc
        rf = rfs[node.id]
        assert rf.whole_input and rf.size == (224, 224) and rf.center == (Fraction(223, 2),) * 2
    assert not rfs[node_named(graph, "layer4.1.relu").id].whole_input
    assert diagnostics == []  # r = 435 covers 224 x 224: no W404


def test_w404_names_r_and_the_input():
    graph = checked(read_source(os.path.join(ROOT, "examples", "vgg16.cnn")).text)
    (warning,) = receptive_fields(graph)[1]
    avgpool = node_named(graph, "avgpool")
    assert warning.code == "W404" and warning.span == avgpool.span
    assert "classifier never sees the whole image" in warning.message
    assert "212 x 212" in warning.message and "224 x 224" in warning.message
    # a larger input, a larger shortfall; a smaller one, none
    graph = checked(read_source(os.path.join(ROOT, "examples", "vgg16.cnn")).text, input_shape=(3, 160, 192))
    assert [d.code for d in receptive_fields(graph)[1]] == []


def test_w404_non_square_and_not_for_dense_prediction():
    body = "conv(1, k=3, pad=1) -> conv(1, k=(9, 3), pad=(4, 1))"
    text = f"net F {{ input 1x40x12\n {body} -> flatten -> linear(2) }}"
    (warning,) = receptive_fields(checked(text))[1]
    assert warning.code == "W404" and "11 x 5" in warning.message and "40 x 12" in warning.message
    assert receptive_fields(checked(text, input_shape=(1, 11, 5)))[1] == []
    # r covers the size, but no unit's window is placed over the whole input
    (warning,) = receptive_fields(checked("net G { input 1x11\n zeropad((1, 0)) -> conv(1, k=11, stride=2) -> flatten -> linear(2) }"))[1]
    assert "is 11, but no unit's window covers the whole input 11" in warning.message
    # a spatial output (segmentation, detection): local windows by design
    assert receptive_fields(checked(f"net D {{ input 1x40x12\n {body} }}"))[1] == []


def test_squeeze_and_excitation_gate_makes_whole_input_but_keeps_the_window():
    text = """
    net SE {
        input 3x32x32
        conv(8, k=3, pad=1) -> relu
        mul(gap -> conv(8, k=1) -> sigmoid)
        conv(8, k=3, pad=1)
    }
    """
    graph = checked(text)
    rfs, diagnostics = receptive_fields(graph)
    mul, last = graph.nodes[-2], graph.nodes[-1]
    assert mul.op == "Mul" and rfs[mul.id].whole_input and rfs[mul.id].size == (3, 3)
    assert rfs[last.id].whole_input and rfs[last.id].size == (5, 5) and rfs[last.id].center == (0, 0)
    assert diagnostics == []  # its outputs see the whole image, through the gate


def test_broadcast_operand_that_is_not_global_is_misaligned():
    text = "net B { input 1x8x8\n x = identity\n a = conv(1, k=8)\n mul(x, a) }"
    graph = checked(text)
    rfs, diagnostics = receptive_fields(graph)
    (misaligned,) = [d for d in diagnostics if d.code == "W403"]
    assert "broadcast" in misaligned.message
    assert rfs[graph.output.node].size == (1, 1)


def test_one_dimensional_and_flat_inputs():
    graph = checked("net O { input 2x50\n conv(4, k=5, stride=2) -> maxpool(2) -> flatten -> linear(3) }")
    rfs, _ = receptive_fields(graph)
    assert rfs[graph.nodes[2].id].size == (7,) and rfs[graph.nodes[2].id].jump == (4,)
    assert rfs[graph.output.node].whole_input and rfs[graph.output.node].size == (50,)
    graph = checked("net M { input 784\n linear(10) -> relu -> linear(2) }")
    rfs, diagnostics = receptive_fields(graph)
    assert rfs[graph.output.node] == RF((), (), (), (), True, local=False) and diagnostics == []


def test_json_numbers_and_codes():
    rf = RF((Fraction(5, 2), 3), (Fraction(1, 2), 1), (1, 0), (Fraction(-1, 4), 1), False)
    assert rf.to_json() == {"size": [2.5, 3], "jump": [0.5, 1], "padding": [1, 0], "center": [-0.25, 1], "whole_input": False}
    assert json_number(Fraction(4, 2)) == 2 and isinstance(json_number(Fraction(4, 2)), int)
    assert "W403" in CODES and "W404" in CODES


def test_graph_with_errors_is_tolerated():
    analysis = analyze(Source("<t>", "net E { input 1x8x8\n conv(1, k=3) -> conv(1, k=9) -> relu }"))
    assert analysis.errors
    rfs, _ = receptive_fields(analysis.graph)
    assert analysis.graph.nodes[1].id in rfs


# ---- the oracle ----------------------------------------------------------------------

IDENTITY_OPS = {
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Hardswish",
    "Hardsigmoid",
    "Sigmoid",
    "Tanh",
    "PReLU",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "GroupNorm",
    "LayerNorm",
    "LocalResponseNorm",
    "Dropout",
    "Identity",
    "StochasticDepth",
    "ChannelShuffle",
    "LayerScale",
    "LayerNorm2d",
    "Parameter",
}  # normalisation counts as elementwise (statistics held fixed), as the issue specifies


def _axes(value, rank):
    return tuple(value) if isinstance(value, tuple) else (value,) * rank


def _ones(kernel):
    return torch.ones((1, 1, *kernel), dtype=torch.float64)


def _conv(rank):
    return getattr(F, f"conv{rank}d")


def max_pool_standin(x, hparams, rank):
    """Average (here: sum) pooling over torch's own max-pooling windows, dilation and ceil_mode included."""
    if _axes(hparams["dilation"], rank) == (1,) * rank:
        avg = dict(hparams)
        del avg["dilation"]
        return getattr(nn, f"AvgPool{rank}d")(**avg)(x)
    out = getattr(F, f"max_pool{rank}d")(x.detach(), **hparams).shape[2:]
    kernel, stride, pad, dilation = (_axes(hparams[n], rank) for n in ("kernel_size", "stride", "padding", "dilation"))
    pads = []
    for a in reversed(range(rank)):  # F.pad: the last axis first
        right = (out[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1 - x.shape[2 + a] - pad[a]
        pads += [pad[a], max(right, 0)]
    y = _conv(rank)(F.pad(x, pads), _ones(kernel), stride=stride, dilation=dilation)
    return y[(..., *[slice(0, o) for o in out])]


def positive_linear(node, inputs):
    """One node of the graph as a positive linear map on one-channel tensors; a tuple of outputs."""
    op, h = node.op, node.hparams
    x = inputs[0]
    rank = x.dim() - 2
    if op in IDENTITY_OPS:
        return (x,)
    if op.startswith("Conv") and not op.startswith("ConvTranspose"):
        kernel = _axes(h["kernel_size"], rank)
        return (_conv(rank)(x, _ones(kernel), stride=h["stride"], padding=h["padding"], dilation=h["dilation"]),)
    if op.startswith("ConvTranspose"):
        kernel = _axes(h["kernel_size"], rank)
        fn = getattr(F, f"conv_transpose{rank}d")
        return (fn(x, _ones(kernel), None, h["stride"], h["padding"], h["output_padding"], 1, h["dilation"]),)
    if op.startswith("MaxPool"):
        return (max_pool_standin(x, h, rank),)
    if op.startswith("AvgPool"):
        return (getattr(nn, op)(**h)(x),)
    if op.startswith("Adaptive"):  # max pooling: average pooling over the same windows
        return (getattr(F, f"adaptive_avg_pool{rank}d")(x, h["output_size"]),)
    if op == "Upsample":
        return (nn.Upsample(**h)(x),)
    if op == "PixelShuffle":
        r = h["upscale_factor"]
        return (F.pixel_shuffle(x.repeat(1, r * r, 1, 1), r),)
    if op.startswith("ZeroPad"):
        return (getattr(nn, op)(**h)(x),)
    if op == "Flatten":
        return (nn.Flatten(**h)(x),)
    if op == "Linear":  # on the last axis: the features of a flat input, the channels of a channels-last one
        return (x.sum(dim=-1, keepdim=True),)
    if op == "Permute":
        return (x.permute(h["dims"]),)
    if op in ("Softmax", "LogSoftmax"):
        dim = h["dim"] % x.dim()
        return (x if dim <= 1 else x.sum(dim, keepdim=True).expand_as(x),)
    if op in ("Add", "Cat"):  # one channel: concatenation is the union of the operands, a sum
        return (sum(inputs[1:], inputs[0]),)
    if op == "Mul":
        out = inputs[0]
        for other in inputs[1:]:
            out = out * other
        return (out,)
    if op in ("Chunk", "Split"):
        return (x,) * len(node.outputs)
    raise AssertionError(f"no positive linear stand-in for {op}")


def measured_windows(graph, probes, image):
    """probes: (node id, unit index per axis, or None for the sum of every unit); returns, for
    each, (first, last) per axis of the input pixels with a non-zero gradient (None: no pixel)."""
    x = torch.ones((len(probes), 1, *image), dtype=torch.float64, requires_grad=True)
    values = {}
    for node in graph.nodes:
        outs = (x,) if not node.inputs else positive_linear(node, [values[(v.node, v.index)] for v in node.inputs])
        for index, out in enumerate(outs):
            values[(node.id, index)] = out
    seeds = {}  # per node probed: d(loss)/d(output), one-hot at each probe's unit
    for b, (node_id, unit) in enumerate(probes):
        out = values[(node_id, 0)]
        seed = seeds.setdefault(node_id, torch.zeros_like(out))
        if unit is None:
            seed[b] = 1
        else:
            seed[(b, 0, *unit)] = 1
    nodes = list(seeds)
    (grad,) = torch.autograd.grad([values[(n, 0)] for n in nodes], x, [seeds[n] for n in nodes])
    windows = []
    for b in range(len(probes)):
        support = grad[b, 0] != 0
        if not support.any():
            windows.append(None)
            continue
        bounds = []
        for axis in range(len(image)):
            others = tuple(a for a in range(len(image)) if a != axis)
            hit = support.any(dim=others) if others else support
            where = torch.nonzero(hit).flatten()
            bounds.append((int(where[0]), int(where[-1])))
        windows.append(tuple(bounds))
    return windows


def units_inside(rf: RF, units: tuple[int, ...], image, run: int, axes=None):
    """Per axis, `run` consecutive units near the middle whose static windows lie inside the
    input; on an axis not in `axes`, the middle unit."""
    chosen = []
    for axis, (count, size) in enumerate(zip(units, image)):
        if axes is not None and axis not in axes:
            chosen.append([count // 2])
            continue
        r, j, c = rf.size[axis], rf.jump[axis], rf.center[axis]
        half = Fraction(r - 1, 2)
        # inside: every input position in the window is in the input, so no unit is clipped
        inside = [u for u in range(count) if c + u * j - half > -1 and c + u * j + half < size]
        if not inside:
            return None
        middle = inside[len(inside) // 2]
        start = max(inside[0], min(middle - run // 2, inside[-1] - run + 1))
        chosen.append([u for u in range(start, start + run) if u in inside])
    return chosen


def _ratio(node, shape_in, axis):
    """Input positions per output of a resampling node on one axis, read from torch's rules."""
    h, n, m = node.hparams, shape_in[1 + axis], node.outputs[0][1 + axis]
    if node.op.startswith("Adaptive"):
        return Fraction(n, m)
    if node.op == "PixelShuffle":
        return Fraction(1, h["upscale_factor"])
    if node.op.startswith("ConvTranspose"):
        return Fraction(1, _axes(h["stride"], len(shape_in) - 1)[axis])
    # Upsample
    if h["align_corners"] and h["mode"] not in ("nearest", "nearest-exact"):
        return Fraction(n - 1, m - 1) if m > 1 else Fraction(0)
    if h["mode"] == "nearest" and m in (n, 2 * n):
        return Fraction(n, m)
    if h["scale_factor"] is not None:
        return 1 / Fraction(_axes(h["scale_factor"], len(shape_in) - 1)[axis])
    return Fraction(n, m)


def classify(graph):
    """Per node id: (kind, period). kind: 'exact' (no resampling before it), 'envelope' (after
    upsampling or a non-uniform adaptive pool), 'contained' (a strided layer or an adaptive pool
    after those), 'misaligned' (after a W403 merge) or 'unchecked' (misaligned and upsampled).
    period: per axis, how many consecutive
    units before the windows repeat (shifted by period * J)."""
    from math import gcd, lcm

    by_id = {n.id: n for n in graph.nodes}
    _, diagnostics = receptive_fields(graph)
    misaligned_merges = {n.id for n in graph.nodes for d in diagnostics if d.code == "W403" and d.span == n.span}
    state = {}
    for node in graph.nodes:
        if not node.inputs:
            state[node.id] = (False, False, False, (1,) * (len(node.outputs[0]) - 1))
            continue
        ins = [state[v.node] for v in node.inputs]
        upsampled, loose = any(s[0] for s in ins), any(s[1] for s in ins)
        misaligned = any(s[2] for s in ins) or node.id in misaligned_merges
        shape_in = by_id[node.inputs[0].node].outputs[node.inputs[0].index]
        rank = len(shape_in) - 1
        period = tuple(lcm(*(s[3][a] for s in ins if len(s[3]) > a)) for a in range(rank))
        op, h = node.op, node.hparams
        resampling = strided = False
        if op.startswith(("Conv", "MaxPool", "AvgPool")) and not op.startswith("ConvTranspose"):
            stride = _axes(h["stride"], rank)
            strided = any(s > 1 for s in stride)
            period = tuple(t // gcd(t, s) for t, s in zip(period, stride))
        elif op.startswith(("ConvTranspose", "Upsample", "PixelShuffle", "Adaptive")) and len(node.outputs[0]) == len(shape_in):
            ratios = [_ratio(node, shape_in, a) for a in range(rank)]
            if op.startswith("Adaptive"):
                strided = any(n != m for n, m in zip(shape_in[1:], node.outputs[0][1:]))
                resampling = any(q.denominator > 1 for q in ratios)
            else:
                resampling = any(q != 1 for q in ratios)
            period = tuple(q.denominator * (t // gcd(t, q.numerator or 1)) for t, q in zip(period, ratios))
        loose = loose or (upsampled and strided)
        state[node.id] = (upsampled or resampling, loose, misaligned, period)
    kinds = {}
    for node_id, (upsampled, loose, misaligned, period) in state.items():
        if misaligned:  # the largest path's window lies in the union, unless it is an envelope
            kind = "unchecked" if upsampled else "misaligned"
        else:
            kind = "contained" if loose else "envelope" if upsampled else "exact"
        kinds[node_id] = (kind, period)
    return kinds


def check_windows(graph, node_ids, image, kinds=None, axes=None):
    """Measure the windows of units of each node and compare them with the static ones, on
    `axes` (default: all). Returns the nodes whose envelope could only be checked to contain the
    windows, not to be reached (too few units inside the input to see a whole period)."""
    axes = range(len(image)) if axes is None else axes
    rfs, _ = receptive_fields(graph)
    kinds = kinds or classify(graph)
    by_id = {n.id: n for n in graph.nodes}
    probes, expected = [], []
    for node_id in node_ids:
        rf, node = rfs[node_id], by_id[node_id]
        kind, period = kinds[node_id]
        assert not rf.whole_input, node.name
        run = 1 if kind == "exact" else min(max(period[a] for a in axes), 24) if kind == "envelope" else 4
        chosen = units_inside(rf, node.outputs[0][1:], image, run, axes)
        assert chosen is not None, f"{node.name}: no unit's window fits in the input {image}: {rf}"
        if kind == "envelope" and any(len(chosen[a]) < period[a] for a in axes):
            kind = "contained"  # too few units inside the input to see a whole period
        # every combination of the axes' units (a unit may read nothing on one axis: a transposed
        # conv with stride > kernel), or, when there are too many, the axes' runs side by side
        if prod(len(c) for c in chosen) <= 1024:
            units = list(itertools.product(*chosen))
        else:
            units = [tuple(c[i % len(c)] for c in chosen) for i in range(max(len(c) for c in chosen))]
        expected.append((node, rf, kind, len(probes), len(units)))
        probes += [(node_id, unit) for unit in units]
    total = sum(prod(n.outputs[0][1:]) for n in graph.nodes if n.outputs and len(n.outputs[0]) > 1)
    chunk = max(1, min(64, int(2e7 // max(total, 1))))
    measured = []
    for start in range(0, len(probes), chunk):
        measured += measured_windows(graph, probes[start : start + chunk], image)
    loose = []
    for node, rf, kind, first, count in expected:
        windows = measured[first : first + count]
        units = [probes[first + i][1] for i in range(count)]
        for axis in axes:
            r, j, c = rf.size[axis], rf.jump[axis], rf.center[axis]
            half = Fraction(r - 1, 2)
            pairs = [
                ((w[axis][0], w[axis][1]), (c + u[axis] * j - half, c + u[axis] * j + half), u[axis])
                for w, u in zip(windows, units)
                if w is not None  # an output no input reaches (a transposed conv with stride > kernel)
            ]
            where = f"{node.name} ({node.op}, {kind}) axis {axis}: static r={r} J={j} centre={c}; (measured, static, unit): {pairs}"
            if not pairs:  # no unit read any input (the windows are bounds, not reached, if contained)
                assert kind != "exact", where
                assert kind != "envelope" or all(floor(c + u[axis] * j + half) < ceil(c + u[axis] * j - half) for u in units), where
                continue
            if kind == "exact":
                assert all(got == static for got, static, _ in pairs) and len(pairs) == count, where
            elif kind == "misaligned":  # the reported window, the largest path's, lies in the union
                assert all(got[0] <= static[0] and static[1] <= got[1] for got, static, _ in pairs), where
            elif kind == "unchecked":  # a misaligned merge and upsampling: neither bound holds
                pass
            else:
                assert all(static[0] <= got[0] and got[1] <= static[1] for got, static, _ in pairs), where
                if kind == "envelope":
                    assert min(got[0] - u * j for got, _, u in pairs) == c - half, where
                    assert max(got[1] - u * j for got, _, u in pairs) == c + half, where
        if kind == "contained" and kinds[node.id][0] == "envelope":
            loose.append(node)
    return loose


def collapse_input(graph):
    """The feature map that the first flatten or global pooling on the way to the output collapses."""
    for node in graph.nodes:
        if node.op == "Flatten" or (node.op.startswith("Adaptive") and set(node.outputs[0][1:]) == {1}):
            return node.inputs[0].node
    raise AssertionError("no flatten or global pooling")


def check_whole_input(graph, image, expect_every_pixel: bool):
    """The output depends on every unit of the map it collapses (in the examples: every pixel)."""
    rfs, _ = receptive_fields(graph)
    out = graph.output.node
    assert rfs[out].whole_input and rfs[out].size == tuple(image)
    got_out, got_map = measured_windows(graph, [(out, None), (collapse_input(graph), None)], image)
    assert got_out == got_map
    if expect_every_pixel:
        assert got_out == tuple((0, n - 1) for n in image)


def fitted(text, channels, rank, path="<test>", margin=24, minimum=0, width=None, net=None):
    """The graph at the smallest square input (a multiple of 32) that holds every window with a
    margin; windows of adaptive pools grow with the input, so this iterates. With `width`, the
    input is side x width and only the first axis is fitted."""
    side = max(32, minimum)
    for _ in range(6):
        rest = (side,) * (rank - 1) if width is None else (width,) * (rank - 1)
        graph = checked(text, input_shape=(channels, side, *rest), path=path, net=net)
        rfs, _ = receptive_fields(graph)
        largest = max(
            (rf.size[0] if width else max(rf.size)) + 2 * (rf.jump[0] if width else max(rf.jump))
            for rf in rfs.values()
            if not rf.whole_input and rf.size
        )
        wanted = max(side, 32 * ceil((largest + margin) / 32))
        if wanted == side:
            return graph
        side = wanted
    raise AssertionError(f"no input size holds the windows (last tried {side})")


# ---- the oracle over every example ------------------------------------------------------


def changes_window(node, rfs):
    """Nodes worth measuring: those whose window differs from their first input's, and merges."""
    return bool(node.inputs) and (len(node.inputs) > 1 or rfs[node.id] != rfs[node.inputs[0].node])


@pytest.mark.parametrize("case", FIRST_NETS, ids=example_id)
def test_example_against_autograd(case):
    path, net = case
    source = read_source(path)
    graph = checked(source.text, path=path, net=net)
    rfs, diagnostics = receptive_fields(graph)
    assert not [d for d in diagnostics if d.code == "W403"]
    image = graph.nodes[0].output[1:]
    if rfs[graph.output.node].whole_input:
        check_whole_input(graph, image, expect_every_pixel=True)
    # The windows, on an input taller than every receptive field: one channel, 64 pixels wide
    # (every example has square kernels: the height axis is measured), and at most 80 nodes
    # spread over the net, the last spatial one included, keep it cheap.
    big = fitted(source.text, graph.nodes[0].output[0], len(image), path=path, minimum=image[0], width=64, net=net)
    big_rfs, _ = receptive_fields(big)
    nodes = [n.id for n in big.nodes if changes_window(n, big_rfs) and not big_rfs[n.id].whole_input]
    nodes = sorted({nodes[round(i * (len(nodes) - 1) / 79)] for i in range(80)}) if len(nodes) > 80 else nodes
    kinds = classify(big)
    assert {kinds[n][0] for n in nodes} <= {"exact", "envelope"}
    loose = check_windows(big, nodes, big.nodes[0].output[1:], kinds, axes=(0,))
    adaptive = [n.id for n in big.nodes if n.op.startswith("Adaptive")]
    assert all(adaptive and node.id >= adaptive[0] for node in loose)  # adaptive pools have few units


# ---- the oracle on each layer rule ----------------------------------------------------------

LAYER_CASES = [
    ("conv(1, k=(4, 3), pad='same', dilation=(1, 2))", None),
    ("conv(1, k=(2, 5), pad='valid', stride=(3, 1), dilation=(3, 1))", None),
    ("conv(2, k=3, stride=2, pad=(0, 2)) -> conv(4, k=3, stride=3, groups=2)", None),
    ("maxpool(3, stride=2, pad=1, ceil_mode=true) -> maxpool((2, 3), stride=(1, 2), dilation=(2, 1))", None),
    ("maxpool(3, stride=2, dilation=2, ceil_mode=true, pad=1)", None),
    ("avgpool((3, 2), stride=(2, 1), pad=(1, 0), ceil_mode=true, count_include_pad=false)", None),
    ("adaptiveavgpool((12, 8))", (90, 62)),
    ("conv(1, k=3, stride=2) -> adaptivemaxpool((6, 8))", (92, 61)),
    ("adaptiveavgpool((50, 23)) -> conv(1, k=3)", (90, 61)),  # periods 5 and 23: containment on axis 1
    ("adaptivemaxpool((none, 22))", (40, 55)),
    ("convtranspose(1, k=(3, 4), stride=(2, 3), pad=(1, 0), output_padding=(1, 2))", None),
    ("conv(1, k=3, stride=2) -> convtranspose(1, k=3, stride=2, dilation=2, pad=2) -> conv(1, k=3)", None),
    ("convtranspose(1, k=1, stride=2) -> conv(1, k=3, pad=1)", None),
    ("convtranspose(1, k=2, stride=2) -> convtranspose(1, k=3, stride=3) -> conv(1, k=3)", None),
    ("upsample(scale=2) -> conv(1, k=3)", None),
    ("conv(1, k=3, stride=2) -> upsample(scale=(2, 3), mode='nearest')", None),
    ("upsample(scale=2, mode='bilinear') -> conv(1, k=2)", None),
    ("conv(1, k=3, stride=2) -> upsample(scale=(4, 2), mode='bilinear', align_corners=false)", None),
    ("upsample(scale=2, mode='bicubic') -> conv(1, k=2)", None),
    ("upsample(scale=3, mode='nearest-exact') -> conv(1, k=2)", None),
    ("upsample(size=(45, 60), mode='nearest')", (30, 40)),
    ("upsample(size=(45, 60), mode='bilinear')", (30, 40)),
    ("conv(4, k=3) -> pixelshuffle(2) -> conv(1, k=3)", None),
    ("zeropad((3, 0, 1, 2)) -> conv(1, k=3, stride=2) -> zeropad((-1, 2, 0, -2)) -> conv(1, k=2)", None),
    ("conv(1, k=3, stride=2) -> softmax(1) -> relu -> batchnorm -> dropout -> identity -> conv(1, k=3)", None),
    ("conv(4, k=3, stride=2) -> groupnorm(2) -> instancenorm -> layernorm -> lrn(2) -> conv(1, k=3)", None),
    (
        "conv(1, k=3, stride=2) -> permute((0, 2, 3, 1)) -> layernorm(1) -> linear(1, axis=-1) -> permute((0, 3, 1, 2)) -> conv(1, k=3)",
        None,
    ),
    ("conv(1, k=3, stride=2) -> layernorm2d -> scale: parameter((1, 1, 1)) -> conv(1, k=3)", None),
]


def channels_first(graph) -> list[int]:
    """The nodes (but the input) whose output keeps the input's axis order: the oracle picks
    units by axis position, which a permuted tensor's axes do not follow."""
    order = {0: None}  # node id -> its output's axes as a permutation of the input's, None: unpermuted
    for node in graph.nodes[1:]:
        current = order[node.inputs[0].node]
        if node.op == "Permute":
            dims = node.hparams["dims"]
            base = current or tuple(range(len(dims)))
            current = tuple(base[d % len(dims)] for d in dims)
            current = None if current == tuple(range(len(dims))) else current
        order[node.id] = current
    return [node.id for node in graph.nodes[1:] if order[node.id] is None]


@pytest.mark.parametrize("layers, size", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_rule_against_autograd(layers, size):
    text = f"net L {{ input 1x30x30\n {layers} }}"
    graph = checked(text, input_shape=(1, *size)) if size else fitted(text, 1, 2)
    nodes = channels_first(graph)
    kinds = classify(graph)
    loose = check_windows(graph, nodes, graph.nodes[0].output[1:], kinds)
    assert [n.name for n in loose] == (["1"] if "(50, 23)" in layers else [])


def test_three_dimensional():
    graph = checked("net T { input 1x21x30x26\n conv(1, k=(3, 1, 5), stride=(1, 2, 2), pad=(1, 0, 2)) -> maxpool(2) -> conv(1, k=3) }")
    nodes = [n.id for n in graph.nodes if n.inputs]
    assert check_windows(graph, nodes, graph.nodes[0].output[1:]) == []


def test_one_dimensional_oracle():
    graph = checked("net O { input 1x200\n conv(1, k=5, stride=2, dilation=3) -> convtranspose(1, k=4, stride=3) -> avgpool(3) }")
    nodes = [n.id for n in graph.nodes if n.inputs]
    assert check_windows(graph, nodes, (200,)) == []  # the last, a strided pool after upsampling: contained


def test_split_paths_against_autograd():
    text = """
    net S {
        input 1x48x40
        x = conv(4, k=3, stride=2)
        a, b = chunk(2)
        c, d = a -> split((1, 1))
        add(a -> conv(2, k=5, pad=2), b -> conv(2, k=(1, 3), pad=(0, 1)))
        cat(c, d, x -> avgpool(3, stride=1, pad=1))
    }
    """
    graph = checked(text)
    nodes = [n.id for n in graph.nodes if n.inputs]
    assert check_windows(graph, nodes, graph.nodes[0].output[1:]) == []


def test_misaligned_merge_against_autograd():
    graph = checked(NET_3.format(h=8, w=8))
    kinds = classify(graph)
    assert kinds[graph.output.node][0] == "misaligned"
    check_windows(graph, [graph.output.node], (8, 8), kinds)


# ---- the oracle on random nets (hypothesis) ---------------------------------------------------

STATS = {"nodes": 0, "tight": 0, "nets": 0}


def _pair(draw, low, high, rank):
    values = [draw(st.integers(low, high)) for _ in range(rank)]
    return values[0] if len(set(values)) == 1 else tuple(values)


@st.composite
def random_layer(draw, rank):
    """One layer call; channels are 4 throughout (the oracle ignores them, cnnspec checks them)."""
    kinds = ["conv", "conv", "same", "maxpool", "avgpool", "tconv", "upsample", "adaptive", "zeropad", "pointwise"]
    kind = draw(st.sampled_from(kinds + (["pixelshuffle"] if rank == 2 else [])))
    if kind == "conv":
        k, s, p, d = (_pair(draw, 1, 4, rank), _pair(draw, 1, 3, rank), _pair(draw, 0, 2, rank), _pair(draw, 1, 2, rank))
        return f"conv(4, k={k}, stride={s}, pad={p}, dilation={d})"
    if kind == "same":
        return f"conv(4, k={_pair(draw, 1, 4, rank)}, pad='same', dilation={_pair(draw, 1, 2, rank)})"
    if kind in ("maxpool", "avgpool"):
        k = draw(st.integers(1, 4))
        s, p, ceil_mode = draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), str(draw(st.booleans())).lower()
        extra = f"dilation={draw(st.integers(1, 2))}" if kind == "maxpool" else f"count_include_pad={str(draw(st.booleans())).lower()}"
        return f"{kind}({k}, stride={s}, pad={p}, ceil_mode={ceil_mode}, {extra})"
    if kind == "tconv":
        k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        p, op = draw(st.integers(0, d * (k - 1))), draw(st.integers(0, max(s, d) - 1))
        return f"convtranspose(4, k={k}, stride={s}, pad={p}, output_padding={op}, dilation={d})"
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear" if rank == 1 else "bilinear"]))
        return f"upsample(scale={draw(st.integers(2, 3))}, mode='{mode}')"
    if kind == "adaptive":
        return f"adaptive{draw(st.sampled_from(['avg', 'max']))}pool({_pair(draw, 5, 24, rank)})"
    if kind == "zeropad":
        return f"zeropad({tuple(draw(st.integers(0, 3)) for _ in range(2 * rank))})"
    if kind == "pixelshuffle":
        return "conv(16, k=1) -> pixelshuffle(2)"
    return draw(st.sampled_from(["relu", "batchnorm", "conv(4, k=1)", "identity"]))


def run_random_net(body: str, rank: int, tail: str = ""):
    """Fit the input to the windows, then measure every node's against the static ones."""
    text = f"net R {{\n    input {'x'.join(['1'] + ['64'] * rank)}\n    conv(4, k=1)\n{body}\n{tail}\n}}"
    note(text)
    probe = analyze(Source("<random>", text))
    assume(not probe.errors)
    try:
        graph = fitted(text, 1, rank, margin=16)
    except AssertionError:
        assume(False)
    image = graph.nodes[0].output[1:]
    assume(max(image) <= (1024 if rank == 1 else 288))
    assume(sum(prod(n.outputs[0][1:]) for n in graph.nodes if len(n.outputs[0]) > 1) <= 2e5)
    rfs, _ = receptive_fields(graph)
    kinds = classify(graph)
    nodes = []
    for node in graph.nodes:  # adaptive pools scale with the input: some windows may not fit
        if node.inputs and not rfs[node.id].whole_input and units_inside(rfs[node.id], node.outputs[0][1:], image, 1):
            nodes.append(node.id)
    loose = check_windows(graph, nodes, image, kinds)
    STATS["tight"] += sum(kinds[n][0] in ("exact", "envelope") for n in nodes) - len(loose)
    STATS["nodes"] += len(nodes)
    STATS["nets"] += 1
    if tail:
        check_whole_input(graph, image, expect_every_pixel=False)


@HYPOTHESIS
@given(st.data())
def test_random_sequential_nets(data):
    rank = data.draw(st.sampled_from([1, 2, 2]))
    layers = data.draw(st.lists(random_layer(rank), min_size=1, max_size=6))
    tail = data.draw(st.sampled_from(["", "", "gap", "flatten -> linear(3)"]))
    run_random_net("\n".join(f"    {layer}" for layer in layers), rank, f"    {tail}" if tail else "")


SAME = [
    "identity",
    "conv(4, k=3, pad=1)",
    "conv(4, k=(5, 3), pad=(2, 1))",
    "conv(4, k=3, pad=2, dilation=2)",
    "conv(4, k=2, pad='same')",
    "maxpool(3, stride=1, pad=1)",
    "avgpool(3, stride=1, pad=1)",
    "zeropad((1, 0, 1, 0)) -> conv(4, k=2)",
    "zeropad((2, 0, 0, 2)) -> conv(4, k=3)",
    "upsample(scale=2) -> avgpool(2)",
    "convtranspose(4, k=2, stride=2) -> maxpool(2)",
    "convtranspose(4, k=3, pad=1)",
]
HALVE = [
    "conv(4, k=1, stride=2)",
    "conv(4, k=3, stride=2, pad=1)",
    "maxpool(2)",
    "avgpool(2)",
    "conv(4, k=2, stride=2)",
    "zeropad((1, 0, 1, 0)) -> conv(4, k=3, stride=2)",
    "conv(4, k=(4, 2), stride=2, pad=(1, 0))",
]
DOUBLE = [
    "convtranspose(4, k=2, stride=2)",
    "upsample(scale=2)",
    "upsample(scale=2, mode='bilinear')",
    "convtranspose(4, k=4, stride=2, pad=1)",
    "convtranspose(4, k=3, stride=2, pad=1, output_padding=1)",
    "conv(16, k=1) -> pixelshuffle(2)",
]


@st.composite
def random_stage(draw):
    """A merge of paths that keep, halve or double the size (a residual: `identity`), a
    squeeze-and-excitation gate, or a single layer."""
    shape = draw(st.sampled_from(["same", "same", "halve", "double", "gate", "layer"]))
    if shape == "layer":
        return draw(st.sampled_from(SAME + HALVE + DOUBLE))
    if shape == "gate":
        return "mul(gap -> conv(4, k=1) -> sigmoid)"
    pool = {"same": SAME, "halve": HALVE, "double": DOUBLE}[shape]
    operands = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    merge = draw(st.sampled_from(["add", "add", "cat", "mul"]))
    return f"{merge}({', '.join(operands)})" + (" -> conv(4, k=1)" if merge == "cat" else "")


@HYPOTHESIS
@given(st.data())
def test_random_branched_nets(data):
    stages = data.draw(st.lists(random_stage(), min_size=1, max_size=5))
    tail = data.draw(st.sampled_from(["", "", "gap -> flatten -> linear(3)"]))
    run_random_net("\n".join(f"    {stage}" for stage in stages), 2, f"    {tail}" if tail else "")


def test_random_nets_were_measured():
    """The random tests above measured windows, most of them exactly or tight (not just contained)."""
    if STATS["nets"]:
        assert STATS["nodes"] > 3 * STATS["nets"] and STATS["tight"] > STATS["nodes"] // 2, STATS
