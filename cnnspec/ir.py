"""The layer graph: nodes with their op, hyperparameters, shapes and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from cnnspec.source import Span

Shape = tuple[int, ...]  # one sample's shape: (C, *spatial) or (features,)


@dataclass(frozen=True)
class Value:
    """One tensor in the graph: output `index` of node `node`."""

    node: int
    index: int = 0


@dataclass
class Node:
    id: int
    name: str  # dotted module path, mirroring torch: "features.0", "layer1.0.conv1"
    op: str  # the torch.nn class name ("Conv2d") or a functional op ("Add", "Cat")
    kind: object  # the LayerKind that defined it (cnnspec.layers.base.LayerKind)
    hparams: dict  # torch constructor arguments, fully resolved
    inputs: tuple[Value, ...]
    outputs: tuple[Shape, ...] | None  # None where an earlier error left the shape unknown
    params: int = 0
    buffers: int = 0
    span: Span | None = None
    expansion: tuple[Span, ...] = ()  # the block calls that produced this node, outermost first

    @property
    def output(self) -> Shape | None:
        return self.outputs[0] if self.outputs else None

    @property
    def neurons(self) -> int:
        return sum(prod(shape) for shape in self.outputs) if self.outputs else 0


@dataclass
class Graph:
    net: str
    nodes: list[Node] = field(default_factory=list)
    output: Value | None = None

    @property
    def input_shape(self) -> Shape | None:
        return self.nodes[0].output if self.nodes else None

    def consumers(self) -> dict[Value, list[Node]]:
        users: dict[Value, list[Node]] = {}
        for node in self.nodes:
            for value in node.inputs:
                users.setdefault(value, []).append(node)
        return users

    def totals(self) -> dict[str, int]:
        params = sum(node.params for node in self.nodes)
        return {
            "params": params,
            "trainable_params": params,
            "buffers": sum(node.buffers for node in self.nodes),
        }
