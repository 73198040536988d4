"""The layer vocabulary: every kind, looked up by its DSL spelling."""

from cnnspec.layers import activation, conv, merge, norm, pool, shape_ops
from cnnspec.layers.base import LayerError, LayerKind

ALL_KINDS: list[LayerKind] = conv.KINDS + pool.KINDS + norm.KINDS + activation.KINDS + shape_ops.KINDS
MERGES = {kind.name: kind for kind in merge.KINDS}
INPUT = merge.INPUT

REGISTRY: dict[str, LayerKind] = {name: kind for kind in ALL_KINDS for name in kind.names}

__all__ = ["ALL_KINDS", "INPUT", "MERGES", "REGISTRY", "LayerError", "LayerKind"]
