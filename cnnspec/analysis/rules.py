"""The layer kinds' analysis rules, evaluated once per distinct layer rather than once per node."""

from __future__ import annotations

from collections.abc import Callable


class PerLayer:
    """`rule(node, input_shapes, *extra)`, remembered per distinct layer.

    The rules (`LayerKind.cost`, `receptive_step`, `saved_for_backward`, `aliases`) read only
    the kind, `node.hparams`, `node.outputs` and the input shapes (their number included),
    plus their extra arguments. Nodes made by one layer call at one input size share their
    hparams dict (expand infers each call's arguments once per input shapes), so a repeated
    layer is evaluated once. The dict is keyed by identity: it lives as long as the graph,
    and this cache lives for one pass over it.
    """

    def __init__(self, rule: Callable):
        self.rule = rule
        self.results: dict[tuple, object] = {}

    def __call__(self, node, input_shapes, *extra):
        key = (node.kind, id(node.hparams), node.outputs, input_shapes, *extra)
        try:
            return self.results[key]
        except KeyError:
            result = self.results[key] = self.rule(node, input_shapes, *extra)
            return result
