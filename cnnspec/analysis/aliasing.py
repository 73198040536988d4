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
    """What the forward pass does to one storage, in graph order."""

    tensors: list[Tensor]  # the tensors that share it, the owner first
    keepers: list[int]  # nodes that keep it for backward (by reference), in graph order
    multi_view: int | None  # the chunk/split node whose output views it, when autograd forbids writing to it


class Aliasing(NamedTuple):
    owner: dict[Tensor, Tensor]  # a view or in-place result -> the tensor owning its storage
    storages: dict[Tensor, Storage]  # owner -> its storage
    requires_grad: list[bool]  # per node id: whether its outputs require grad


def aliasing(graph: Graph, input_requires_grad: bool = False) -> Aliasing:
    """Follow storages through the graph (nodes with unknown shapes are skipped)."""
    owner: dict[Tensor, Tensor] = {}
    storages: dict[Tensor, Storage] = {}
    requires_grad = [False] * len(graph.nodes)
    requires_grad[0] = input_requires_grad
    for node, shapes in zip(graph.nodes, graph.input_shapes()):
        if node.outputs is None or shapes is None or not node.inputs:
            for index in range(len(node.outputs or ())):
                storages[node.id, index] = Storage([(node.id, index)], [], None)
            continue
        needs_grad = tuple(requires_grad[value.node] for value in node.inputs)
        recorded = requires_grad[node.id] = is_recorded(node, needs_grad)
        aliases = node.kind.aliases(node)
        multi = node.id if recorded and node.kind.multi_output_view(node) else None
        for index in range(len(node.outputs)):
            tensor = (node.id, index)
            if index in aliases:
                value = node.inputs[aliases[index]]
                root = owner.get((value.node, value.index), (value.node, value.index))
                owner[tensor] = root
                storage = storages[root]
                storage.tensors.append(tensor)
                if multi is not None and storage.multi_view is None:
                    storages[root] = storage._replace(multi_view=multi)
            else:
                storages[tensor] = Storage([tensor], [], None)
        if recorded:
            saved, _ = kept_for_backward(node, shapes, needs_grad)
            kept = [(node.inputs[i].node, node.inputs[i].index) for i in saved.inputs] + [(node.id, i) for i in saved.outputs]
            for tensor in kept:
                keepers = storages[owner.get(tensor, tensor)].keepers
                if not keepers or keepers[-1] != node.id:
                    keepers.append(node.id)
    return Aliasing(owner, storages, requires_grad)


def inplace_hazards(graph: Graph) -> list[Diagnostic]:
    """E308, E309, E310 for every layer that writes in place where torch cannot."""
    writers = [node for node in graph.nodes if node.inputs and node.outputs is not None and node.kind.writes_in_place(node)]
    if not writers:
        return []
    model = aliasing(graph)
    readers = graph.readers()
    output = (graph.output.node, graph.output.index) if graph.output is not None else None
    found = []
    for writer in writers:
        value = writer.inputs[0]
        tensor = (value.node, value.index)
        storage = model.storages[model.owner.get(tensor, tensor)]
        found += _view_hazard(graph, writer, storage)
        found += _saved_hazard(graph, writer, storage)
        found += _read_hazard(graph, writer, storage, readers, output)
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


def _view_hazard(graph: Graph, writer, storage: Storage) -> list[Diagnostic]:
    if storage.multi_view is None or storage.multi_view > writer.id:
        return []
    split = graph.nodes[storage.multi_view]
    message = (
        f"{_call(writer)} modifies an output of {split.kind.name}, a view sharing storage with the other outputs: "
        f"torch refuses this when training (\"... is a view and is being modified inplace\")"
    )
    return [error("E309", message, writer.span, (Note(f"the {split.kind.name} that made the view", split.span),))]


def _saved_hazard(graph: Graph, writer, storage: Storage) -> list[Diagnostic]:
    keepers = [graph.nodes[k] for k in storage.keepers if k < writer.id]
    if not keepers:
        return []
    keeper = keepers[-1]
    message = (
        f"{_call(writer)} overwrites {_written(graph, writer)}, which {keeper.kind.name} keeps for its "
        "backward pass: training fails (\"one of the variables needed for gradient computation has been modified by an inplace operation\")"
    )
    return [error("E310", message, writer.span, (Note(f"kept for backward by {keeper.kind.name} '{keeper.name}'", keeper.span),))]


def _read_hazard(graph: Graph, writer, storage: Storage, readers, output) -> list[Diagnostic]:
    """A tensor of the storage made before the write and read after it."""
    for tensor in storage.tensors:
        if tensor[0] >= writer.id:
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
