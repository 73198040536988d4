"""Merges of several tensors: add and mul (broadcasting as torch does), cat on channels."""

from __future__ import annotations

from cnnspec.layers.base import Inferred, LayerError, LayerKind, format_shape


def broadcast(shapes) -> tuple[int, ...] | None:
    """torch's broadcasting of per-sample shapes (aligned from the right); None if impossible."""
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        sizes = {s[len(s) - rank + axis] for s in shapes if len(s) - rank + axis >= 0} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Elementwise(LayerKind):
    functional = True
    arity = 0

    def __init__(self, name, op, row_type, function):
        self.names, self.op, self.row_type = (name,), op, row_type
        self.summary = f"{function}: elementwise, broadcasting like torch (a C x 1 x 1 gate times C x H x W)"

    def infer(self, args, inputs):
        out = broadcast(inputs)
        if out is None:
            shown = ", ".join(format_shape(s) for s in inputs)
            raise LayerError("E303", f"{self.name}: shapes {shown} cannot be broadcast together")
        return Inferred(self.op, {}, (out,))


class Cat(LayerKind):
    names = ("cat",)
    row_type = "Concatenation"
    functional = True
    arity = 0
    summary = "torch.cat(tensors, dim=1): concatenation on the channel axis"

    def infer(self, args, inputs):
        first = inputs[0]
        for shape in inputs[1:]:
            if len(shape) != len(first) or shape[1:] != first[1:]:
                shown = ", ".join(format_shape(s) for s in inputs)
                raise LayerError("E304", f"cat: the tensors {shown} differ in a spatial size; only channels may differ")
        return Inferred("Cat", dict(dim=1), ((sum(s[0] for s in inputs), *first[1:]),))


class Input(LayerKind):
    names = ("input",)
    row_type = "Input"
    summary = "the network input, one sample's shape"


KINDS = [Elementwise("add", "Add", "Addition", "torch.add"), Elementwise("mul", "Mul", "Multiplication", "torch.mul"), Cat()]
INPUT = Input()
