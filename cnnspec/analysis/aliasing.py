"""Aliasing: which tensors share storage, which layers overwrite it, and when that breaks.

A tensor is (node id, output index). Views and in-place results share their input's storage
(`LayerKind.aliases`: flatten, identity, chunk and split outputs, in-place activations and
dropout); a storage is named after the tensor that owns it. A layer that writes in place
(`LayerKind.writes_in_place`) changes every tensor of that storage, so (docs/inplace.md):

* E308: a tensor of that storage made before the write and read after it (or returned as the
  net's output) would be read overwritten: the generated module computes another function;
* E309: writing to an output of chunk or split (or a view of one) whose input requires grad:
  torch refuses it in a training forward ("... is a view and is being modified inplace");
* E310: a storage that an earlier layer keeps for its backward pass (the memory model's
  `saved_for_backward`, by reference) is overwritten: backward raises ("one of the variables
  needed for gradient computation has been modified by an inplace operation").

Writes right after a convolution or batch norm touch nothing kept or read again, and stay legal.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.analysis.memory import is_recorded, kept_for_backward
from cnnspec.diagnostics import Diagnostic, Note, error
from cnnspec.ir import Graph

Tensor = tuple[int, int]  # (node id, output index)


class Storage(NamedTuple):
    """The tensors sharing one storage, the owner first, and the nodes that keep it for
    backward (by reference), in graph order."""

    tensors: list[Tensor]
    keepers: list[int]


class View(NamedTuple):
    """Where a tensor lies in its storage: `region` is the path of (chunk/split node, output)
    that cut it out, () for the whole storage (two tensors overlap when one path starts the
    other); `multi` the chunk/split whose output it is (or a view of), when autograd forbids
    writing to it."""

    region: tuple[Tensor, ...] = ()
    multi: int | None = None


class Aliasing(NamedTuple):
    owner: dict[Tensor, Tensor]  # a view or in-place result -> the tensor owning its storage
    storages: dict[Tensor, Storage]  # owner -> its storage
    views: dict[Tensor, View]  # every tensor sharing another's storage -> where it lies in it
    requires_grad: list[bool]  # per node id: whether its outputs require grad

    def storage(self, tensor: Tensor) -> Storage:
        return self.storages[self.owner.get(tensor, tensor)]

    def overlap(self, a: Tensor, b: Tensor) -> bool:
        first, second = self.views.get(a, View()).region, self.views.get(b, View()).region
        shorter = min(len(first), len(second))
        return first[:shorter] == second[:shorter]


def aliasing(graph: Graph, input_requires_grad: bool = False) -> Aliasing:
    """Follow storages through the graph (nodes with unknown shapes are skipped)."""
    owner: dict[Tensor, Tensor] = {}
    storages: dict[Tensor, Storage] = {}
    views: dict[Tensor, View] = {}
    requires_grad = [False] * len(graph.nodes)
    requires_grad[0] = input_requires_grad
    for node, shapes in zip(graph.nodes, graph.input_shapes()):
        if node.outputs is None or shapes is None or not node.inputs:
            for index in range(len(node.outputs or ())):
                storages[node.id, index] = Storage([(node.id, index)], [])
            continue
        needs_grad = tuple(requires_grad[value.node] for value in node.inputs)
        recorded = requires_grad[node.id] = is_recorded(node, needs_grad)
        aliases = node.kind.aliases(node)
        cuts = node.kind.multi_output_view(node)
        for index in range(len(node.outputs)):
            tensor = (node.id, index)
            if index not in aliases:
                storages[tensor] = Storage([tensor], [])
                continue
            value = node.inputs[aliases[index]]
            source = (value.node, value.index)
            owner[tensor] = owner.get(source, source)
            storages[owner[tensor]].tensors.append(tensor)
            view = views.get(source, View())
            if cuts:
                view = View(view.region + (tensor,), node.id if recorded else view.multi)
            views[tensor] = view
        if recorded:
            saved, _ = kept_for_backward(node, shapes, needs_grad)
            kept = [(node.inputs[i].node, node.inputs[i].index) for i in saved.inputs] + [(node.id, i) for i in saved.outputs]
            for tensor in kept:
                keepers = storages[owner.get(tensor, tensor)].keepers
                if not keepers or keepers[-1] != node.id:
                    keepers.append(node.id)
    return Aliasing(owner, storages, views, requires_grad)


def inplace_hazards(graph: Graph, input_requires_grad: bool = False) -> list[Diagnostic]:
    """E308, E309, E310 for every layer that writes in place where torch cannot. The network
    input does not require grad in training; `cnnspec verify` asks again with one that does."""
    writers = [node for node in graph.nodes if node.inputs and node.outputs is not None and node.kind.writes_in_place(node)]
    if not writers:
        return []
    model = aliasing(graph, input_requires_grad)
    live = _reaching_output(graph)
    readers = graph.readers()
    output = (graph.output.node, graph.output.index) if graph.output is not None else None
    found = []
    for writer in writers:
        written = (writer.inputs[0].node, writer.inputs[0].index)
        found += _view_hazard(graph, writer, model.views.get(written, View()))
        found += _saved_hazard(graph, writer, model, written, live)
        found += _read_hazard(graph, writer, model, written, readers, output)
    return found


def _call(node) -> str:
    return f"{node.kind.name}(inplace=true)"


def _written(graph: Graph, writer) -> str:
    """What the writer overwrites: its input, as the file made it."""
    value = writer.inputs[0]
    producer = graph.nodes[value.node]
    if producer.op == "Input":
        return "the network input"
    return f"output {value.index + 1} of {producer.kind.name}" if len(producer.outputs) > 1 else f"the output of {producer.kind.name}"


def _view_hazard(graph: Graph, writer, view: View) -> list[Diagnostic]:
    if view.multi is None:
        return []
    split = graph.nodes[view.multi]
    message = (
        f"{_call(writer)} modifies an output of {split.kind.name}, a view sharing storage with the other outputs: "
        f'torch refuses this when training ("... is a view and is being modified inplace")'
    )
    return [error("E309", message, writer.span, (Note(f"the {split.kind.name} that made the view", split.span),))]


def _reaching_output(graph: Graph) -> list[bool]:
    """Per node id: whether the net's output depends on it (only then does its backward run)."""
    live = [False] * len(graph.nodes)
    if graph.output is not None:
        live[graph.output.node] = True
    for node in reversed(graph.nodes):
        if live[node.id]:
            for value in node.inputs:
                live[value.node] = True
    return live


def _saved_hazard(graph: Graph, writer, model: Aliasing, written: Tensor, live: list[bool]) -> list[Diagnostic]:
    """A storage kept for backward, before the write, by a layer whose backward runs."""
    keepers = [graph.nodes[k] for k in model.storage(written).keepers if k < writer.id and live[k]]
    if not keepers:
        return []
    keeper = keepers[-1]
    message = (
        f"{_call(writer)} overwrites {_written(graph, writer)}, which {keeper.kind.name} keeps for its "
        'backward pass: training fails ("one of the variables needed for gradient computation has been modified by an inplace operation")'
    )
    return [error("E310", message, writer.span, (Note(f"kept for backward by {keeper.kind.name} '{keeper.name}'", keeper.span),))]


def _read_hazard(graph: Graph, writer, model: Aliasing, written: Tensor, readers, output) -> list[Diagnostic]:
    """A tensor overlapping the written one, made before the write and read after it."""
    for tensor in model.storage(written).tensors:
        if tensor[0] >= writer.id or not model.overlap(tensor, written):
            continue
        later = [reader for reader in readers.get(tensor, ()) if reader.id > writer.id]
        if later:
            reader = later[0]
            note = Note(f"read here by {reader.kind.name} '{reader.name}', after it was overwritten", reader.span)
            what = f"{reader.kind.name} reads it afterwards"
        elif tensor == output:
            note, what = None, "the net returns it"
        else:
            continue
        message = (
            f"{_call(writer)} overwrites {_written(graph, writer)}, but {what}: the generated module would "
            f"compute with the overwritten values, not the network this file describes"
        )
        return [error("E308", message, writer.span, (note,) if note else ())]
    return []
