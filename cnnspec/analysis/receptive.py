"""Receptive fields: the part of the input that one output unit of each node sees.

Per spatial axis of the network input, independently, the forward recurrence of Araujo,
Norris and Sim ("Computing Receptive Fields of Convolutional Neural Networks", Distill 2019).
From the input (r = 1, J = 1, P = 0), each layer's window - effective kernel k, stride s, left
padding p, given by its kind's `receptive_step` (cnnspec/layers/) - gives

    r += (k - 1) * J;    P += p * J;    J *= s        (J last)

r is the window size, J the jump (input positions between neighbouring outputs), P the
effective padding; output u's window is [u*J - P, u*J - P + r - 1], centred on
c0 + u*J with c0 = (r - 1)/2 - P. Upsampling layers have fractional strides, so any of these
may be a Fraction (the rules are in docs/receptive-field.md).

Merges (add, mul, cat): aligned paths (same J and same centre on every axis) give the
largest r. Misaligned paths get warning W403 and still the largest r, per axis. A path that
has been collapsed to the whole input (global pooling, flatten, linear) makes every output of
the merge depend on the whole input (`whole_input`, as a squeeze-and-excitation gate does);
the window then still describes the other, local paths.

W404: in a classifier, the last spatial layer's window does not cover the input: no unit of
it sees the whole image.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor
from typing import NamedTuple

from cnnspec.analysis.rules import PerLayer
from cnnspec.diagnostics import Diagnostic, Note, warning
from cnnspec.ir import Graph


class RF(NamedTuple):
    """One node's receptive field, one entry per spatial axis of the network input.

    size: window size r; jump: J, input positions between neighbouring outputs; padding: the
    effective padding P (the first window starts at -P); center: the first output's window
    centre, (r - 1)/2 - P. Ints, or Fractions after a fractional stride (upsampling).
    whole_input: every output depends on the whole input. After global pooling, flatten or
    linear there is no window: size and jump are then the input size, padding 0 and center
    the input's centre. After a merge with such a path (a squeeze-and-excitation gate) the
    window still describes the local paths. local: False where there is no window (collapsed).
    """

    size: tuple
    jump: tuple
    padding: tuple
    center: tuple
    whole_input: bool = False
    local: bool = True

    def window(self, unit) -> tuple:
        """Per axis, (first, last) input position of the window of output `unit` (one index per
        axis), as exact numbers; after a fractional stride the unit reads the positions inside."""
        return tuple(
            (_exact(c + u * j - Fraction(r - 1, 2)), _exact(c + u * j + Fraction(r - 1, 2)))
            for r, j, c, u in zip(self.size, self.jump, self.center, unit)
        )

    def to_json(self) -> dict:
        """JSON numbers: an int where a value is whole, else a float."""
        return {
            "size": [json_number(v) for v in self.size],
            "jump": [json_number(v) for v in self.jump],
            "padding": [json_number(v) for v in self.padding],
            "center": [json_number(v) for v in self.center],
            "whole_input": self.whole_input,
        }


def json_number(value):
    """An int where the value is whole, else a float (JSON has no fractions)."""
    if isinstance(value, int) or (isinstance(value, Fraction) and value.denominator == 1):
        return int(value)
    return float(value)


def receptive_fields(graph: Graph) -> tuple[dict[int, RF], list[Diagnostic]]:
    """Every node's receptive field, keyed by node id, and the warnings W403 and W404.

    Nodes whose shapes are unknown (an earlier error) and their consumers are left out.
    A node that keeps its input's window (an activation, a norm) shares its input's RF.
    """
    if not graph.nodes or not graph.nodes[0].outputs:
        return {}, []
    image = tuple(graph.nodes[0].output[1:])
    rank = len(image)
    collapsed = RF(image, image, (0,) * rank, tuple(_exact(Fraction(n - 1, 2)) for n in image), True, local=False)
    receptive_step = PerLayer(lambda node, shapes: node.kind.receptive_step(node, shapes))
    fields: dict[int, RF] = {}
    diagnostics: list[Diagnostic] = []
    for node, shapes in zip(graph.nodes, graph.input_shapes()):
        if not node.inputs:  # the input
            fields[node.id] = RF((1,) * rank, (1,) * rank, (0,) * rank, (0,) * rank)
            continue
        sources = [fields.get(value.node) for value in node.inputs]
        if node.outputs is None or shapes is None or None in sources:
            continue
        step = receptive_step(node, shapes)
        if len(sources) == 1:
            fields[node.id] = _advance(sources[0], step, collapsed)
        else:
            incoming = [_advance(field, step, collapsed) for field in sources]
            fields[node.id] = _merge(graph, node, incoming, shapes, diagnostics, collapsed)
    found = _coverage_warning(graph, fields, image)
    if found:
        diagnostics.append(found)
    return fields, diagnostics


# ---- propagation ---------------------------------------------------------------------


def _advance(field: RF, step, collapsed: RF) -> RF:
    """One layer's window applied to a field: the Distill recurrence, J updated last."""
    if not field.local:
        return field
    if step is None or len(step) != len(field.size):
        return collapsed
    if step == (_ELEMENTWISE,) * len(step):
        return field
    size = tuple([r + (k - 1) * j for (k, _, _), r, j in zip(step, field.size, field.jump)])
    padding = tuple([big_p + p * j for (_, _, p), big_p, j in zip(step, field.padding, field.jump)])
    jump = tuple([j * s for (_, s, _), j in zip(step, field.jump)])
    return _local(size, jump, padding, field.whole_input)


_ELEMENTWISE = (1, 1, 0)  # the window of an output that reads only its own position


def _local(size: tuple, jump: tuple, padding: tuple, whole_input: bool) -> RF:
    """The record of a window; whole Fractions become ints."""
    centre = tuple([_half(r - 1) - p for r, p in zip(size, padding)])
    return RF(_exact_all(size), _exact_all(jump), _exact_all(padding), _exact_all(centre), whole_input)


def _half(value):
    """value / 2: an int where exact, since a Fraction per layer and axis slows large nets."""
    return value // 2 if type(value) is int and value % 2 == 0 else Fraction(value, 2)


def _merge(graph: Graph, node, incoming: list[RF], shapes, diagnostics, collapsed: RF) -> RF:
    """Several paths into one node: the largest window when aligned; W403 when not."""
    whole = any(field.whole_input for field in incoming)
    out = node.outputs[0]
    local = []  # (operand index, field, jumps as seen by the merge: 0 on a broadcast axis)
    for index, field in enumerate(incoming):
        if not field.local:
            continue
        shape = shapes[index]
        broadcast = len(shape) == len(out) and len(shape) == len(field.size) + 1
        jumps = tuple(0 if broadcast and shape[1 + a] == 1 < out[1 + a] else j for a, j in enumerate(field.jump))
        local.append((index, field, jumps))
    if not local:
        return collapsed
    # A broadcast operand reads one fixed window for every output; the others decide the window.
    chosen = [field for _, field, jumps in local if jumps == field.jump] or [field for _, field, _ in local]
    widest = [max(chosen, key=lambda field: field.size[axis]) for axis in range(len(chosen[0].size))]  # per axis
    if widest and all(field is widest[0] for field in widest) and widest[0].whole_input == whole:
        result = widest[0]  # one path has the largest window on every axis (a residual block)
    else:
        size = tuple(field.size[axis] for axis, field in enumerate(widest))
        jump = tuple(field.jump[axis] for axis, field in enumerate(widest))
        padding = tuple(field.padding[axis] for axis, field in enumerate(widest))
        result = _local(size, jump, padding, whole)
    reference = (local[0][2], local[0][1].center)
    if any((jumps, field.center) != reference for _, field, jumps in local[1:]):
        described = []
        for number, (index, field, jumps) in enumerate(local, 1):
            value = node.inputs[index]
            source = graph.nodes[value.node]
            which = f"output {value.index + 1} of " if len(source.outputs or ()) > 1 else ""
            note = " (broadcast: one window for every output)" if jumps != field.jump else ""
            described.append(
                f"path {number} ({which}{source.op} '{source.name}'): r {_fmt(field.size)}, J {_fmt(jumps)}, "
                f"centre {_fmt(field.center)}{note}"
            )
        message = (
            f"{node.op} '{node.name}' merges misaligned paths (their jumps or centres differ), so its outputs "
            f"do not all see the same window: {'; '.join(described)}; reported: the largest, r {_fmt(result.size)}"
        )
        diagnostics.append(warning("W403", message, node.span, _expansion_notes(node)))
    return result


# ---- the coverage warning ------------------------------------------------------------


def _coverage_warning(graph: Graph, fields: dict[int, RF], image) -> Diagnostic | None:
    """W404, for a classifier (a net whose output has collapsed the spatial axes): no unit of the
    last spatial layer (the last layer with spatial axes and a window, on the way to the output)
    has a window that covers the whole input. A net with a spatial output is a dense predictor:
    local windows are its design."""
    target = graph.output.node if graph.output is not None else graph.nodes[-1].id
    if not image or target not in fields or fields[target].local:
        return None
    last = last_spatial_layer(graph, lambda node_id: node_id in fields and fields[node_id].local)
    if last is None or not last.inputs or fields[last.id].whole_input:
        return None  # no spatial layer, or its outputs see the whole input through a gate
    field = fields[last.id]
    units = last.outputs[0][1:]
    if all(_covers(r, j, c, n, size) for r, j, c, n, size in zip(field.size, field.jump, field.center, units, image)):
        return None
    r = _fmt(field.size)
    smaller = any(r_axis < size for r_axis, size in zip(field.size, image))
    why = f"smaller than the input {_fmt(image)}" if smaller else f"but no unit's window covers the whole input {_fmt(image)}"
    message = (
        f"the classifier never sees the whole image: the receptive field of the last spatial layer, {last.op} '{last.name}', is {r}, {why}"
    )
    return warning("W404", message, last.span, _expansion_notes(last))


def last_spatial_layer(graph: Graph, local):
    """The last node on the way to the output with spatial axes and a window (`local(node_id)`:
    not collapsed by global pooling, flatten or linear), or None."""
    by_id = {node.id: node for node in graph.nodes}
    target = graph.output.node if graph.output is not None else graph.nodes[-1].id
    ancestors, todo = {target}, [target]
    while todo:
        for value in by_id[todo.pop()].inputs:
            if value.node not in ancestors:
                ancestors.add(value.node)
                todo.append(value.node)
    for node in reversed(graph.nodes):
        if node.id in ancestors and local(node.id) and node.outputs and len(node.outputs[0]) > 1:
            return node
    return None


def _covers(r, j, c, units: int, size: int) -> bool:
    """Whether some unit u < units has a window [c + u*j - (r-1)/2, c + u*j + (r-1)/2] over [0, size-1]."""
    half = Fraction(r - 1, 2)
    if j == 0:
        return c - half <= 0 and c + half >= size - 1
    lowest = max(0, ceil((size - 1 - half - c) / j))
    highest = min(units - 1, floor((half - c) / j))
    return lowest <= highest


# ---- records and formatting ----------------------------------------------------------


def _exact(value):
    if type(value) is int:  # most values: skip the slow isinstance check against the Fraction ABC
        return value
    return int(value) if isinstance(value, Fraction) and value.denominator == 1 else value


def _exact_all(values: tuple) -> tuple:
    """_exact on each value; a tuple of ints, the usual case, is returned as it is."""
    for value in values:
        if type(value) is not int:
            return tuple(_exact(v) for v in values)
    return values


def _fmt(values) -> str:
    """Per-axis values as the tables write shapes, '5 x 7'; fractions as decimals."""
    return " x ".join(str(v) if isinstance(_exact(v), int) else f"{float(v):.3f}".rstrip("0") for v in values)


def _expansion_notes(node) -> tuple[Note, ...]:
    """For a layer made by a block or module: where that block was called, innermost first."""
    return tuple(Note("in the expansion called here", span) for span in reversed(node.expansion))
