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

from cnnspec.analysis.compute import input_shapes
from cnnspec.ir import Graph, Value
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
    width = _check(dtype, batch, "sgd")
    storage: dict[Value, Value] = {}  # each tensor -> the tensor whose storage it uses
    elements: dict[Value, int] = {}  # storage -> elements per sample
    requires_grad: dict[Value, bool] = {}
    kept: set[Value] = set()
    by_node: dict[int, int] = {}
    assumed: list[int] = []
    for node in graph.nodes:
        shapes = input_shapes(graph, node)
        if node.outputs is None or shapes is None:
            continue
        needs_grad = tuple(requires_grad[value] for value in node.inputs)
        recorded = node.params > 0 or any(needs_grad)
        aliases = node.kind.aliases(node)
        for index, shape in enumerate(node.outputs):
            value = Value(node.id, index)
            requires_grad[value] = recorded
            if index in aliases:
                storage[value] = storage[node.inputs[aliases[index]]]
            else:
                storage[value] = value
                elements[value] = prod(shape)
        if not recorded:
            continue
        saved = node.kind.saved_for_backward(node, shapes, needs_grad)
        if saved is None:
            assumed.append(node.id)
            saved = Saved(inputs=tuple(range(len(shapes))))
        added = 0
        tensors = [node.inputs[i] for i in saved.inputs] + [Value(node.id, i) for i in saved.outputs]
        for value in tensors:
            root = storage[value]
            if root not in kept:
                kept.add(root)
                added += elements[root] * width * batch
        added += (saved.elements * width + saved.raw_bytes) * batch + saved.fixed_elements * width
        by_node[node.id] = added
    return SavedTensors(sum(by_node.values()), by_node, tuple(assumed))


def memory(graph: Graph, dtype: str = "float32", batch: int = 1, optimizer: str = "sgd") -> Memory:
    """Parameter, activation and saved-tensor bytes, and the estimated peak of one training step."""
    width = _check(dtype, batch, optimizer)
    params = sum(node.params for node in graph.nodes)
    buffers = sum(node.buffers for node in graph.nodes)
    activation = {node.id: batch * width * sum(prod(shape) for shape in node.outputs or ()) for node in graph.nodes}
    saved = saved_tensors(graph, dtype, batch)
    # in the backward pass a layer turns its output gradient into its input gradients: both alive at once
    gradient_pair = max(
        (
            activation[node.id] + sum(_value_bytes(graph, value, width, batch) for value in node.inputs)
            for node in graph.nodes
            if node.inputs
        ),
        default=0,
    )
    breakdown = {
        "weights": params * width,
        "buffers": buffers * width,
        "gradients": params * width,
        "optimizer_state": OPTIMIZERS[optimizer] * params * width,
        "saved_activations": saved.total,
        "activation_gradients": gradient_pair,
    }
    return Memory(
        dtype, batch, optimizer, params * width, activation, saved.total, sum(breakdown.values()), breakdown, saved.by_node, saved.assumed
    )


def _value_bytes(graph: Graph, value: Value, width: int, batch: int) -> int:
    outputs = graph.nodes[value.node].outputs
    return prod(outputs[value.index]) * width * batch if outputs else 0
