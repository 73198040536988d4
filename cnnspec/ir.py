"""The layer graph: nodes with their op, hyperparameters, shapes and counts."""

from __future__ import annotations

from math import prod

Shape = tuple[int, ...]  # one sample's shape: (C, *spatial) or (features,)


class Value:
    """One tensor in the graph: output `index` of node `node`."""

    __slots__ = ("node", "index")

    def __init__(self, node: int, index: int = 0):
        self.node, self.index = node, index

    def __eq__(self, other) -> bool:
        return isinstance(other, Value) and (self.node, self.index) == (other.node, other.index)

    def __hash__(self) -> int:
        return hash((self.node, self.index))

    def __repr__(self) -> str:
        return f"Value({self.node}, {self.index})"


class Node:
    """One layer application. Attributes:

    name: the dotted module path, mirroring torch ("features.0", "layer1.0.conv1");
    op: the torch.nn class name ("Conv2d") or a functional op ("Add", "Cat");
    kind: the LayerKind that defined it; hparams: torch constructor arguments, resolved;
    outputs: per-sample shapes, or None where an earlier error left them unknown;
    expansion: the spans of the block calls that produced it, outermost first;
    args: the layer's bound arguments, to re-infer its shapes at other input sizes.
    """

    __slots__ = ("id", "name", "op", "kind", "hparams", "inputs", "outputs", "params", "buffers", "span", "expansion", "args")

    def __init__(self, id, name, op, kind, hparams, inputs, outputs, params=0, buffers=0, span=None, expansion=()):
        self.id, self.name, self.op, self.kind, self.hparams = id, name, op, kind, hparams
        self.inputs: tuple[Value, ...] = inputs
        self.outputs: tuple[Shape, ...] | None = outputs
        self.params, self.buffers, self.span, self.expansion = params, buffers, span, expansion
        self.args: dict = {}

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.name!r}, {self.op}, outputs={self.outputs}, params={self.params})"

    @property
    def output(self) -> Shape | None:
        return self.outputs[0] if self.outputs else None

    @property
    def neurons(self) -> int:
        return sum(map(prod, self.outputs)) if self.outputs else 0


class SubmoduleInfo:
    """A submodule made by a `module` definition: its name and the bound arguments of the call."""

    __slots__ = ("definition", "arguments")

    def __init__(self, definition: str, arguments: dict):
        self.definition, self.arguments = definition, arguments


class Graph:
    def __init__(self, net: str):
        self.net = net
        self.nodes: list[Node] = []
        self.output: Value | None = None
        self.params: dict = {}  # the net's parameter values: the declared defaults, or those set from outside
        self.expectations: list = []  # (syntax.Expect, the names in scope there), checked by cnnspec check
        self.submodules: dict[str, SubmoduleInfo] = {}  # module path -> the `module` definition call that made it
        self._input_shapes: list[tuple[Shape, ...] | None] = []

    def input_shapes(self) -> list[tuple[Shape, ...] | None]:
        """Per node id, the per-sample shapes of its inputs, or None where one is unknown.
        Computed once and shared by the analysis passes: nodes are only ever appended, and a
        node's shapes never change once it is added."""
        known = self._input_shapes
        if len(known) == len(self.nodes):
            return known
        outputs = [node.outputs for node in self.nodes]
        for node in self.nodes[len(known) :]:
            try:  # an unknown input: its node's outputs are None (TypeError) or too few (IndexError)
                known.append(tuple([outputs[value.node][value.index] for value in node.inputs]))
            except (TypeError, IndexError):
                known.append(None)
        return known

    @property
    def input_shape(self) -> Shape | None:
        return self.nodes[0].output if self.nodes else None

    def readers(self) -> dict[tuple[int, int], list[Node]]:
        """(node id, output index) -> the nodes that read that output, in graph order.
        Keyed by plain tuples: hashing a Value is a Python call, slow on large nets."""
        readers: dict[tuple[int, int], list[Node]] = {}
        for node in self.nodes:
            for value in node.inputs:
                readers.setdefault((value.node, value.index), []).append(node)
        return readers

    def consumers(self) -> dict[Value, list[Node]]:
        """readers(), keyed by Value."""
        return {Value(node_id, index): nodes for (node_id, index), nodes in self.readers().items()}

    def totals(self) -> dict[str, int]:
        params = sum([node.params for node in self.nodes])
        return {
            "params": params,
            "trainable_params": params,
            "buffers": sum([node.buffers for node in self.nodes]),
        }
