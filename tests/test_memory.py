"""Memory (issue 3): cnnspec's saved-for-backward estimate against what torch saves.

torch is the oracle: the reference model (tests/torch_reference.py) runs one training-mode
forward pass on the CPU under torch.autograd.graph.saved_tensors_hooks, and every tensor
autograd packs is counted once per storage (a view or an in-place result shares its base's
storage), by the storage's size, leaving out parameters and buffers (module state, not
activations). Every example must be within 10%; each layer kind, alone after a conv, exactly.
"""

from __future__ import annotations

import glob
import os
import warnings
from math import prod

import pytest
import torch

from cnnspec.analysis.memory import DTYPES, memory, saved_tensors
from cnnspec.analyze import analyze
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS, example_id

try:  # pytest puts tests/ on sys.path
    from torch_reference import ReferenceNet
except ImportError:  # pragma: no cover
    from tests.torch_reference import ReferenceNet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
BATCH = 2
SMALL = 64  # spatial size the 224 x 224 examples are checked at, for speed


def _graph(text: str):
    analysis = analyze(Source("net.cnn", text))
    assert not analysis.errors, [d.message for d in analysis.errors]
    return analysis.graph


def _cpu_net(graph, dtype="float32") -> ReferenceNet:
    """The reference model on the CPU with constant weights: values do not matter, sizes do
    (and a constant fill is much faster than torch's initialisation of VGG's 140M weights)."""
    net = ReferenceNet(graph).to(TORCH_DTYPES[dtype]).to_empty(device="cpu").train()
    with torch.no_grad():
        for tensor in [*net.parameters(), *net.buffers()]:
            tensor.fill_(0.01 if tensor.is_floating_point() else 0)
    return net


def measured_saved_bytes(graph, batch: int = BATCH, dtype: str = "float32") -> int:
    """Bytes autograd saves for backward in one training forward pass, by distinct storage."""
    net = _cpu_net(graph, dtype)
    state = {t.untyped_storage().data_ptr() for t in [*net.parameters(), *net.buffers()]}
    kept: dict[int, tuple[int, torch.Tensor]] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            kept.setdefault(storage.data_ptr(), (storage.nbytes(), tensor))  # the tensor stays alive
        return tensor

    torch.manual_seed(0)
    with warnings.catch_warnings(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        warnings.simplefilter("ignore")
        net(torch.randn(batch, *graph.input_shape, dtype=TORCH_DTYPES[dtype]))
    return sum(size for size, _ in kept.values())


def _example(path, net=None):
    source = read_source(path)
    graph = analyze(source, net).graph
    channels, *spatial = graph.input_shape
    if spatial and min(spatial) > SMALL:
        graph = analyze(source, net, input_shape=(channels, *(SMALL,) * len(spatial))).graph
    return graph


@pytest.mark.parametrize("case", FIRST_NETS, ids=example_id)
def test_saved_activations_within_10_percent_of_torch(case):
    graph = _example(*case)
    estimate = memory(graph, batch=BATCH).saved_bytes
    actual = measured_saved_bytes(graph)
    assert abs(estimate - actual) <= 0.10 * actual, (estimate, actual, estimate / actual)


# Each layer kind after a conv (so that its input requires grad): the estimate must be exact.
LAYERS = [
    ("conv(6, k=3, pad=1)", "4x6x6"),
    ("conv(6, k=3, stride=2, groups=2, bias=false)", "4x6x6"),
    ("dwconv(k=3, pad=1)", "4x6x6"),
    ("pwconv(5)", "4x6x6"),
    ("conv(3, k=3)", "4x9"),
    ("conv(3, k=2)", "4x3x3x3"),
    ("convtranspose(3, k=2, stride=2)", "4x5x5"),
    ("flatten -> linear(7)", "4x3x3"),
    ("flatten -> linear(7, bias=false)", "4x3x3"),
    ("batchnorm", "4x6x6"),
    ("batchnorm(affine=false)", "4x6x6"),
    ("batchnorm(track_running_stats=false)", "4x6x6"),
    ("flatten -> batchnorm", "4x3x3"),
    ("instancenorm", "4x6x6"),
    ("instancenorm(affine=true)", "4x6x6"),
    ("instancenorm(track_running_stats=true)", "4x6x6"),
    ("groupnorm(2)", "4x6x6"),
    ("layernorm", "4x6x6"),
    ("layernorm(shape=6, affine=false)", "4x6x6"),
    ("lrn(3)", "4x6x6"),
    ("lrn(2)", "4x9"),
    ("relu", "4x6x6"),
    ("relu(inplace=true)", "4x6x6"),
    ("relu6", "4x6x6"),
    ("relu6(inplace=true)", "4x6x6"),
    ("leakyrelu", "4x6x6"),
    ("leakyrelu(inplace=true)", "4x6x6"),
    ("elu", "4x6x6"),
    ("elu(inplace=true)", "4x6x6"),
    ("gelu", "4x6x6"),
    ("gelu(approximate='tanh')", "4x6x6"),
    ("silu", "4x6x6"),
    ("silu(inplace=true)", "4x6x6"),
    ("hardswish(inplace=true)", "4x6x6"),
    ("hardsigmoid", "4x6x6"),
    ("hardsigmoid(inplace=true)", "4x6x6"),
    ("sigmoid", "4x6x6"),
    ("tanh", "4x6x6"),
    ("prelu", "4x6x6"),
    ("prelu(4)", "4x6x6"),
    ("softmax", "4x6x6"),
    ("logsoftmax(dim=2)", "4x6x6"),
    ("maxpool(2)", "4x6x6"),
    ("maxpool(3, stride=2, pad=1, ceil_mode=true)", "4x7x7"),
    ("maxpool(2)", "4x8"),
    ("maxpool(2)", "4x4x4x4"),
    ("avgpool(2)", "4x6x6"),
    ("avgpool(2)", "4x4x4x4"),
    ("adaptiveavgpool(3)", "4x6x6"),
    ("adaptiveavgpool(9)", "4x6x6"),
    ("adaptiveavgpool((1, none))", "4x6x1"),
    ("adaptiveavgpool((1, none))", "4x6x6"),
    ("gap", "4x6x6"),
    ("gap", "4x8"),
    ("gap", "4x3x3x3"),
    ("adaptivemaxpool(3)", "4x6x6"),
    ("globalmaxpool", "4x6x6"),
    ("dropout", "4x6x6"),
    ("dropout(0.0)", "4x6x6"),
    ("dropout(inplace=true)", "4x6x6"),
    ("flatten -> dropout -> linear(3)", "4x6x6"),
    ("identity", "4x6x6"),
    ("upsample(scale=2)", "4x6x6"),
    ("upsample(scale=2, mode='bilinear')", "4x6x6"),
    ("pixelshuffle(2)", "4x6x6"),
    ("zeropad(1)", "4x6x6"),
    ("channelshuffle(2)", "4x6x6"),
    ("layerscale", "4x6x6"),
    ("scale: parameter((4, 1, 1))", "4x6x6"),
    ("layernorm2d", "4x6x6"),
    ("permute((0, 2, 3, 1))", "4x6x6"),  # a view: nothing saved
    ("permute((0, 2, 3, 1)) -> layernorm(4) -> linear(8, axis=-1) -> gelu -> linear(4, axis=-1) -> permute((0, 3, 1, 2))", "4x6x6"),
    ("linear(3, axis=-1)", "4x6x6"),
    ("add(in)", "4x6x6"),  # the net input: no grad
    ("add(relu)", "4x6x6"),
    ("mul(in)", "4x6x6"),  # saves only the net input: the operand the conv output's gradient needs
    ("mul(gap -> sigmoid)", "4x6x6"),
    ("mul(sigmoid)", "4x6x6"),
    ("a = relu\n b = a -> tanh\n mul(a, b, a)", "4x6x6"),  # three operands: the running product too
    ("cat(in)", "4x6x6"),
    ("a, b = chunk(2)\n mul(a, b)", "4x6x6"),  # two views of one storage
    ("a, b = split((1, 3))\n cat(b -> relu, a)", "4x6x6"),
    ("relu(inplace=true) -> flatten -> linear(3)", "4x3x3"),  # the flattened view keeps the relu's storage
]


# torch has no CPU kernel for these in bfloat16, so there is nothing to measure them against.
NO_CPU_BFLOAT16 = {("lrn(3)", "4x6x6"), ("avgpool(2)", "4x4x4x4")}
CASES = [
    (layer, shape, dtype)
    for dtype in ("float32", "bfloat16")
    for layer, shape in LAYERS
    if dtype == "float32" or (layer, shape) not in NO_CPU_BFLOAT16
]


@pytest.mark.parametrize("layer, shape, dtype", CASES, ids=[f"{layer}@{shape}-{dtype}" for layer, shape, dtype in CASES])
def test_each_layer_kind_exactly(layer, shape, dtype):
    channels = int(shape.split("x")[0])
    graph = _graph(f"net T {{\n input {shape}\n conv({channels}, k=1)\n {layer}\n}}")
    assert memory(graph, dtype=dtype, batch=BATCH).saved_bytes == measured_saved_bytes(graph, dtype=dtype)


def test_layers_before_any_parameter_keep_nothing():
    graph = _graph("net T {\n input 3x8x8\n relu -> maxpool(2) -> sigmoid\n conv(4, k=3) -> relu\n}")
    saved = saved_tensors(graph, batch=BATCH)
    assert [saved.by_node.get(node.id, 0) for node in graph.nodes[:4]] == [0, 0, 0, 0]
    assert saved.total == measured_saved_bytes(graph) == BATCH * 4 * (3 * 4 * 4 + 4 * 2 * 2)


@pytest.mark.parametrize("batch", [1, 3])
def test_batch_scaling(batch):
    """Saved bytes: B x per sample, plus the batch-norm statistics, which do not scale."""
    graph = _graph("net T {\n input 3x8x8\n conv(4, k=3) -> batchnorm -> relu -> maxpool(2)\n flatten -> dropout -> linear(5)\n}")
    assert memory(graph, batch=batch).saved_bytes == measured_saved_bytes(graph, batch)


def test_unknown_saved_rule_is_flagged_and_assumes_the_inputs():
    from cnnspec.layers.base import LayerKind

    graph = _graph("net T {\n input 3x8x8\n conv(4, k=3) -> relu\n}")
    graph.nodes[-1].kind = LayerKind()
    result = memory(graph, batch=2)
    assert result.assumed == (graph.nodes[-1].id,)
    assert result.saved_by_node[graph.nodes[-1].id] == 2 * 4 * 4 * 36  # its input, the conv output


# ---- parameters, activations, optimizer state ------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", FIRST_NETS, ids=example_id)
def test_param_and_activation_bytes(case, dtype):
    graph = analyze(read_source(case[0]), case[1]).graph
    net = ReferenceNet(graph).to(TORCH_DTYPES[dtype])
    result = memory(graph, dtype=dtype, batch=3)
    assert result.param_bytes == sum(p.numel() * p.element_size() for p in net.parameters())
    assert result.breakdown["weights"] == result.breakdown["gradients"] == result.param_bytes
    width = DTYPES[dtype]
    for node in graph.nodes:
        assert result.activation_bytes[node.id] == 3 * width * sum(prod(shape) for shape in node.outputs)
    assert result.train_step_bytes == sum(result.breakdown.values())


def test_resnet50_worked_example():
    graph = analyze(read_source(os.path.join(ROOT, "examples", "resnet50.cnn"))).graph
    result = memory(graph, dtype="float32", batch=32, optimizer="adam")
    assert result.param_bytes == 25_557_032 * 4
    assert result.breakdown["optimizer_state"] == 2 * 25_557_032 * 4
    # 21,477,376 saved elements per sample, and a float32 mean and 1/std for each of 26,560 BN channels
    assert result.saved_bytes == 32 * 21_477_376 * 4 + 2 * 4 * 26_560 == 2_749_316_608
    assert result.breakdown["activation_gradients"] == 308_281_344
    assert result.train_step_bytes == 3_466_723_156


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize(
    "name, make",
    [
        ("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("adam", lambda p: torch.optim.Adam(p)),
        ("adamw", lambda p: torch.optim.AdamW(p)),
    ],
)
def test_optimizer_state_matches_torch(name, make, dtype):
    graph = analyze(read_source(os.path.join(ROOT, "examples", "lenet5.cnn"))).graph
    net = ReferenceNet(graph, device="cpu").to(TORCH_DTYPES[dtype]).train()
    optimizer = make(net.parameters())
    net(torch.randn(2, *graph.input_shape, dtype=TORCH_DTYPES[dtype])).sum().backward()
    optimizer.step()
    state = sum(
        t.numel() * t.element_size()
        for per_param in optimizer.state.values()
        for key, t in per_param.items()
        if key != "step"  # Adam's step counter: one scalar per parameter tensor, not modelled
    )
    assert memory(graph, dtype=dtype, optimizer=name).breakdown["optimizer_state"] == state


@pytest.mark.parametrize("kwargs", [{"dtype": "float64"}, {"batch": 0}, {"optimizer": "lion"}])
def test_bad_arguments(kwargs):
    graph = _graph("net T {\n input 3x8x8\n conv(4, k=3)\n}")
    with pytest.raises(ValueError):
        memory(graph, **kwargs)
