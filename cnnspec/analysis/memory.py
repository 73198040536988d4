"""Memory: parameter bytes, activation bytes per layer, and the peak of one training step.

The per-layer rules live on the layer kinds (`LayerKind.saved_for_backward`, what autograd
keeps for the backward pass; `LayerKind.aliases`, which outputs share an input's storage).
docs/compute-and-memory.md states the model:

    train_step = weights + buffers + gradients + optimizer_state
                 + saved_activations + activation_gradients

weights, gradients: parameters x dtype bytes; buffers: running statistics x dtype bytes;
optimizer_state: parameters x dtype bytes x 1 (SGD with momentum) or 2 (Adam, AdamW);
saved_activations: the distinct storages autograd keeps from the forward pass to the
backward pass, at batch size B; activation_gradients: the largest gradient pair alive in
the backward pass (one layer's output gradient and its input gradient).
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

from cnnspec.analysis.rules import PerLayer
from cnnspec.ir import Graph
from cnnspec.layers.base import Saved

__all__ = ["DTYPES", "OPTIMIZERS", "Memory", "SavedTensors", "memory", "saved_tensors"]

DTYPES = {"float32": 4, "bfloat16": 2, "float16": 2}  # bytes per element
OPTIMIZERS = {"sgd": 1, "adam": 2, "adamw": 2}  # state tensors per parameter: momentum; exp_avg and exp_avg_sq


class SavedTensors(NamedTuple):
    """What autograd keeps for the backward pass of one training step.

    total: bytes at the batch size; by_node: the bytes each node adds (a storage kept by
    several nodes counts at the first); assumed: nodes with no rule, assumed to keep their inputs.
    """

    total: int
    by_node: dict[int, int]
    assumed: tuple[int, ...]


class Memory(NamedTuple):
    """Memory of a network in `dtype` at batch size `batch`, trained with `optimizer`.

    param_bytes: the parameters; activation_bytes: each node's output tensors at the batch size
    (whether or not they share an input's storage); saved_bytes: the tensors autograd keeps for
    backward; train_step_bytes: the estimated peak of one training step, the sum of `breakdown`
    (weights, buffers, gradients, optimizer_state, saved_activations, activation_gradients).
    """

    dtype: str
    batch: int
    optimizer: str
    param_bytes: int
    activation_bytes: dict[int, int]
    saved_bytes: int
    train_step_bytes: int
    breakdown: dict[str, int]
    saved_by_node: dict[int, int]
    assumed: tuple[int, ...] = ()


def _check(dtype: str, batch: int, optimizer: str) -> int:
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"the batch size must be a positive integer, got {batch!r}")
    return DTYPES[dtype]


def saved_tensors(graph: Graph, dtype: str = "float32", batch: int = 1) -> SavedTensors:
    """The bytes autograd keeps for backward in one training step (parameters excluded).

    Tensors are followed by storage: an output that is a view of its input, or the result of
    an in-place op, is its input's storage (`LayerKind.aliases`), and a storage kept by several
    layers counts once. A layer none of whose inputs requires grad and without parameters is
    not recorded by autograd and keeps nothing (the network input does not require grad).
    """
    return _saved_tensors(graph, _check(dtype, batch, "sgd"), batch, output_elements(graph))


def _saved_tensors(graph: Graph, width: int, batch: int, elements: list[tuple[int, ...]]) -> SavedTensors:
    """saved_tensors, in bytes of `width`, given each node's output_elements."""
    # Tensors are (node id, output index) pairs; `aliased` maps a view or an in-place result to
    # the tensor that owns its storage (a tensor not in it owns its own). Plain tuples, not
    # Values, and lists by node id: they are hot.
    aliased: dict[tuple[int, int], tuple[int, int]] = {}
    requires_grad: list[bool] = [False] * len(graph.nodes)
    kept: set[tuple[int, int]] = set()
    by_node: dict[int, int] = {}
    assumed: list[int] = []
    rules = PerLayer(lambda node, shapes, needs_grad: _rules(node, shapes, needs_grad, width, batch))
    for node, shapes in zip(graph.nodes, graph.input_shapes()):
        if node.outputs is None or shapes is None:
            continue
        inputs = node.inputs
        needs_grad = tuple([requires_grad[value.node] for value in inputs])
        recorded = requires_grad[node.id] = is_recorded(node, needs_grad)
        aliases, kept_inputs, kept_outputs, new_bytes, has_rule = rules(node, shapes, needs_grad)
        for index, source in aliases.items():
            tensor = (inputs[source].node, inputs[source].index)
            aliased[node.id, index] = aliased.get(tensor, tensor)
        if not recorded:
            continue
        if not has_rule:
            assumed.append(node.id)
        added = new_bytes
        for tensor in [(inputs[i].node, inputs[i].index) for i in kept_inputs] + [(node.id, i) for i in kept_outputs]:
            owner = aliased.get(tensor, tensor)
            if owner not in kept:
                kept.add(owner)
                added += _elements(elements, *owner) * width * batch
        by_node[node.id] = added
    return SavedTensors(sum(by_node.values()), by_node, tuple(assumed))


def _rules(node, shapes, needs_grad, width: int, batch: int) -> tuple:
    """A layer's aliased outputs; the inputs and outputs it keeps for backward by reference;
    the bytes of the new tensors it keeps; whether its kind has a rule (without one, the
    inputs are assumed kept)."""
    saved, has_rule = kept_for_backward(node, shapes, needs_grad)
    new_bytes = (saved.elements * width + saved.raw_bytes) * batch + saved.fixed_elements * width
    return node.kind.aliases(node), saved.inputs, saved.outputs, new_bytes, has_rule


def is_recorded(node, needs_grad: tuple[bool, ...]) -> bool:
    """Whether autograd records a layer (and its output requires grad): it has parameters, or
    an input requires grad. The network input does not."""
    return node.params > 0 or any(needs_grad)


def kept_for_backward(node, shapes, needs_grad: tuple[bool, ...]) -> tuple[Saved, bool]:
    """The layer kind's saved_for_backward rule, and whether it has one; without one its
    inputs are assumed kept."""
    saved = node.kind.saved_for_backward(node, shapes, needs_grad)
    if saved is None:
        return Saved(inputs=tuple(range(len(shapes)))), False
    return saved, True


def output_elements(graph: Graph) -> list[tuple[int, ...]]:
    """Per node id, the elements per sample of each of its outputs; () where its shapes are unknown."""
    return [tuple(map(prod, node.outputs)) if node.outputs else () for node in graph.nodes]


def _input_elements(elements: list[tuple[int, ...]], node) -> int:
    """Elements per sample of a node's input tensors."""
    return sum([_elements(elements, value.node, value.index) for value in node.inputs])


def _elements(elements: list[tuple[int, ...]], node_id: int, index: int) -> int:
    """Elements per sample of output `index` of a node; 0 where its shapes are unknown."""
    counts = elements[node_id]
    return counts[index] if counts else 0


def memory(graph: Graph, dtype: str = "float32", batch: int = 1, optimizer: str = "sgd") -> Memory:
    """Parameter, activation and saved-tensor bytes, and the estimated peak of one training step."""
    width = _check(dtype, batch, optimizer)
    counts = graph.totals()
    params, buffers = counts["params"], counts["buffers"]
    elements = output_elements(graph)
    neurons = list(map(sum, elements))  # per sample, all of a node's outputs
    activation = {node.id: batch * width * count for node, count in zip(graph.nodes, neurons)}
    saved = _saved_tensors(graph, width, batch, elements)
    # in the backward pass a layer turns its output gradient into its input gradients: both alive at once
    # (in elements per sample: the largest such pair)
    gradient_pair = max((neurons[node.id] + _input_elements(elements, node) for node in graph.nodes if node.inputs), default=0)
    breakdown = {
        "weights": params * width,
        "buffers": buffers * width,
        "gradients": params * width,
        "optimizer_state": OPTIMIZERS[optimizer] * params * width,
        "saved_activations": saved.total,
        "activation_gradients": gradient_pair * width * batch,
    }
    return Memory(
        dtype, batch, optimizer, params * width, activation, saved.total, sum(breakdown.values()), breakdown, saved.by_node, saved.assumed
    )
