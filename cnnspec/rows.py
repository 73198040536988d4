"""The human table's rows: activations, normalisation, dropout and identities fold into
the layer before them, as in the VGG19 table (its "Convolution" rows include the ReLU)."""

from __future__ import annotations

from cnnspec.ir import Graph, Node, Shape


class Row:
    __slots__ = ("index", "type", "nodes")

    def __init__(self, index: int | None, type: str, nodes: list[Node]):
        self.index = index  # None for rows the table does not number (flatten)
        self.type = type
        self.nodes = nodes

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def last(self) -> Node:
        return self.nodes[-1]

    @property
    def outputs(self) -> tuple[Shape, ...]:
        return self.nodes[-1].outputs or ()

    @property
    def counted(self) -> bool:
        """Whether the row's outputs are new neurons: not the input, not a reshape."""
        return self.nodes[0].op not in ("Input", "Flatten")

    @property
    def neurons(self) -> int:
        return self.nodes[-1].neurons

    @property
    def params(self) -> int:
        return sum([node.params for node in self.nodes])

    @property
    def buffers(self) -> int:
        return sum([node.buffers for node in self.nodes])


def folds(node: Node, graph: Graph) -> bool:
    """Folded layers: the kind says so, or an adaptive pool that is the identity at this size."""
    if node.kind.fold:
        return True
    if node.op.startswith("Adaptive") and node.inputs:
        source = node.inputs[0]
        source_node = graph.nodes[source.node]
        return source_node.outputs is not None and node.outputs == (source_node.outputs[source.index],)
    return False


def build_rows(graph: Graph) -> list[Row]:
    rows: list[Row] = []
    number = 0
    previous: Row | None = None
    for node in graph.nodes:
        if previous is not None and _reads_only(node, previous.nodes[-1]) and previous.nodes[0].op != "Input" and folds(node, graph):
            previous.nodes.append(node)
            continue
        numbered = node.op != "Flatten"
        previous = Row(number if numbered else None, node.kind.row_type or node.op, [node])
        rows.append(previous)
        number += numbered
    return rows


def _reads_only(node: Node, source: Node) -> bool:
    """Whether `node`'s one input is the first output of `source`."""
    inputs = node.inputs
    return len(inputs) == 1 and inputs[0].node == source.id and inputs[0].index == 0


def totals(graph: Graph, rows: list[Row]) -> dict[str, int]:
    result = graph.totals()
    result["neurons"] = sum([row.neurons for row in rows if row.counted])
    return result
