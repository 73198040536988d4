"""Compute: multiply-accumulates and other arithmetic per layer, for one sample.

The rules live on the layer kinds (`LayerKind.cost`); docs/compute-and-memory.md states the
conventions. MACs count the convolutions, transposed convolutions and matrix products exactly
as torch.utils.flop_counter.FlopCounterMode does (FLOPs = 2 x MACs, bias ignored); every other
arithmetic operation is an "other op". A node whose other ops cannot be determined (no rule,
or no shapes after an error) has `other_ops=None` and is listed in `Totals.unknown`: it is
flagged, never counted as 0.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.analysis.rules import PerLayer
from cnnspec.ir import Graph, Shape
from cnnspec.layers.base import Cost

__all__ = ["Cost", "Totals", "costs", "input_shapes", "totals"]


class Totals(NamedTuple):
    """Whole-network compute for one sample.

    macs: conv/linear multiply-accumulates; other_ops: the sum over the nodes whose other ops
    are known; unknown: ids of the nodes whose other ops are not (other_ops is then a lower bound).
    """

    macs: int
    other_ops: int
    unknown: tuple[int, ...] = ()

    @property
    def flops(self) -> int:
        """FLOPs as FlopCounterMode counts them: 2 x MACs."""
        return 2 * self.macs

    @property
    def complete(self) -> bool:
        return not self.unknown


def input_shapes(graph: Graph, node) -> tuple[Shape, ...] | None:
    """The per-sample shapes of a node's inputs, or None where one is unknown."""
    return graph.input_shapes()[node.id]


def costs(graph: Graph) -> dict[int, Cost]:
    """Each node's cost for one sample, by node id."""
    cost = PerLayer(lambda node, shapes: node.kind.cost(node, shapes))
    result = {}
    for node, shapes in zip(graph.nodes, graph.input_shapes()):
        if node.outputs is None or shapes is None:
            result[node.id] = Cost(0, None)
        else:
            result[node.id] = cost(node, shapes)
    return result


def totals(graph: Graph, per_node: dict[int, Cost] | None = None) -> Totals:
    """The network's MACs and other ops for one sample; nodes of unknown cost are listed."""
    per_node = costs(graph) if per_node is None else per_node
    macs = sum([cost.macs for cost in per_node.values()])
    other = sum([cost.other_ops for cost in per_node.values() if cost.other_ops is not None])
    unknown = tuple([node_id for node_id, cost in per_node.items() if cost.other_ops is None])
    return Totals(macs, other, unknown)
