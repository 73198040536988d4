"""Input-size analysis: which input sizes a net accepts, and which drop no border pixels.

The weights are fixed by the declared input, so another size is accepted when every layer's
shape rule accepts it and no layer's parameter or buffer count changes (a Linear after a
flatten pins the spatial size; an adaptive pool before it frees it). Each spatial axis is
scanned on its own, the other axes kept at their declared sizes.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.ir import Graph, Shape
from cnnspec.layers.base import LayerError

SCAN_AT_LEAST = 256
SCAN_AT_MOST = 2048  # each size re-infers every layer: a huge declared input is searched this far only


class AxisSizes(NamedTuple):
    axis: int  # 0 is the first spatial axis (H of C x H x W)
    declared: int
    limit: int  # sizes 1..limit were tried
    smallest: int | None  # the smallest accepted size
    clean: tuple[int, ...]  # accepted sizes at which no strided layer drops border pixels
    description: str  # the clean sizes in words: "multiples of 32 from 32"

    def nearest_clean(self) -> tuple[int, ...]:
        below = [s for s in self.clean if s <= self.declared]
        above = [s for s in self.clean if s > self.declared]
        return tuple(([below[-1]] if below else []) + ([above[0]] if above else []))

    def as_json(self) -> dict:
        return {
            "axis": self.axis,
            "declared": self.declared,
            "searched_up_to": self.limit,
            "smallest": self.smallest,
            "clean": self.description,
            "clean_sizes": list(self.clean),
        }


def outcome_at(graph: Graph, input_shape: Shape, axis: int) -> str:
    """'rejected', 'drops' (border pixels of spatial `axis`) or 'clean': the net's fate at another size."""
    shapes: dict[int, tuple[Shape, ...]] = {}
    drops = False
    for node in graph.nodes:
        if not node.inputs:
            shapes[node.id] = (input_shape,)
            continue
        inputs = tuple(shapes[value.node][value.index] for value in node.inputs)
        try:
            inferred = node.kind.infer(node.args, inputs)
        except LayerError:
            return "rejected"
        if (inferred.params, inferred.buffers) != (node.params, node.buffers):
            return "rejected"
        drops = drops or any(code == "W400" and axis in rest[-1] for code, _, *rest in inferred.warnings)
        shapes[node.id] = inferred.outputs
    return "drops" if drops else "clean"


def _scan_limit(declared: int) -> int:
    return min(max(2 * declared, SCAN_AT_LEAST), SCAN_AT_MOST)


def _resized(shape: Shape, axis: int, size: int) -> Shape:
    return shape[: 1 + axis] + (size,) + shape[2 + axis :]


def scan_axis(graph: Graph, axis: int) -> AxisSizes:
    declared_shape = graph.input_shape
    declared = declared_shape[1 + axis]
    limit = _scan_limit(declared)
    accepted, clean = [], []
    for size in range(1, limit + 1):
        outcome = outcome_at(graph, _resized(declared_shape, axis, size), axis)
        if outcome != "rejected":
            accepted.append(size)
        if outcome == "clean":
            clean.append(size)
    return AxisSizes(axis, declared, limit, accepted[0] if accepted else None, tuple(clean), describe(clean, limit))


def nearest_clean(graph: Graph, axis: int) -> tuple[int, ...]:
    """What `scan_axis(graph, axis).nearest_clean()` gives, found by scanning outward from the
    declared size and stopping at the first clean size each way: a handful of sizes for most
    nets instead of hundreds (each re-infers every layer: minutes for a 100,000-layer net)."""
    declared_shape = graph.input_shape
    declared = declared_shape[1 + axis]
    limit = _scan_limit(declared)
    is_clean = lambda size: outcome_at(graph, _resized(declared_shape, axis, size), axis) == "clean"
    below = next((size for size in range(min(declared, limit), 0, -1) if is_clean(size)), None)
    above = next((size for size in range(declared + 1, limit + 1) if is_clean(size)), None)
    return tuple(size for size in (below, above) if size is not None)


def input_sizes(graph: Graph) -> list[AxisSizes]:
    """One AxisSizes per spatial axis of the declared input (none for a flat input)."""
    if graph.input_shape is None:
        return []
    return [scan_axis(graph, axis) for axis in range(len(graph.input_shape) - 1)]


def describe(sizes: list[int], limit: int) -> str:
    """The clean sizes in words, finding the period of the pattern where there is one."""
    if not sizes:
        return f"none up to {limit}"
    first = sizes[0]
    if len(sizes) == 1:
        return f"only {first} (up to {limit})"
    period = _period(sizes, limit)
    if period is None:
        shown = ", ".join(str(s) for s in sizes[:8])
        return f"{shown}{', ...' if len(sizes) > 8 else ''} (up to {limit})"
    residues = sorted({s % period for s in sizes})
    if period == 1:
        return f"every size from {first}"
    if residues == [0]:
        return f"multiples of {period} from {first}"
    shown = ", ".join(str(r) for r in residues)
    return f"sizes of {shown} modulo {period}, from {first}: " + ", ".join(str(s) for s in sizes[:6]) + ", ..."


def _period(sizes: list[int], limit: int) -> int | None:
    """The smallest P such that, from the first clean size on, s is clean iff s + P is."""
    members = set(sizes)
    first = sizes[0]
    for period in range(1, (limit - first) // 2 + 1):
        if all((s in members) == (s + period in members) for s in range(first, limit - period + 1)):
            return period
    return None
