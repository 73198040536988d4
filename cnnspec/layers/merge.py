"""Merges of several tensors: add and mul (broadcasting as torch does), cat on channels."""

from __future__ import annotations

from math import prod

from cnnspec.layers.base import NOTHING_SAVED, Cost, Inferred, LayerError, LayerKind, MovesData, Saved, format_shape


def broadcast(shapes) -> tuple[int, ...] | None:
    """torch's broadcasting of per-sample shapes; None if impossible.

    torch aligns the batched tensors from the right, so per-sample shapes of different ranks
    would pair one tensor's batch axis with another's feature axis: the result then depends
    on the batch size (or torch raises). Only shapes of one rank broadcast, axis by axis.
    """
    rank = max(len(s) for s in shapes)
    if any(len(s) != rank for s in shapes):
        return None
    out = []
    for axis in range(rank):
        sizes = {s[axis] for s in shapes} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Elementwise(LayerKind):
    functional = True
    arity = 0

    def __init__(self, name, op, row_type, function):
        self.names, self.op, self.row_type = (name,), op, row_type
        self.torch_template = function
        self.summary = f"{function}: elementwise, broadcasting like torch (a C x 1 x 1 gate times C x H x W)"

    def infer(self, args, inputs):
        out = broadcast(inputs)
        if out is None:
            shown = ", ".join(format_shape(s) for s in inputs)
            ranks = {len(s) for s in inputs}
            why = " (their ranks differ: torch would pair a batch axis with a feature axis)" if len(ranks) > 1 else ""
            raise LayerError("E303", f"{self.name}: shapes {shown} cannot be broadcast together{why}")
        return Inferred(self.op, {}, (out,))

    def cost(self, node, input_shapes):
        """n tensors take n - 1 adds (or multiplies) per output element."""
        return Cost(0, (len(input_shapes) - 1) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        if self.op == "Add":
            return NOTHING_SAVED
        # torch.mul(torch.mul(a, b), c)...: each product keeps the operand that the other
        # operand's gradient needs; past two tensors that includes the running product
        kept, elements = [], 0
        left_shape, left_grad = input_shapes[0], needs_grad[0]
        for index in range(1, len(input_shapes)):
            if left_grad:
                kept.append(index)
            if needs_grad[index]:
                if index == 1:
                    kept.append(0)
                else:
                    elements += prod(left_shape)
            left_shape, left_grad = broadcast((left_shape, input_shapes[index])), left_grad or needs_grad[index]
        return Saved(inputs=tuple(sorted(set(kept))), elements=elements)

    def aliases(self, node):
        return {0: 0} if len(node.inputs) == 1 else {}  # one tensor: torch gets it back unchanged


class Cat(MovesData, LayerKind):
    torch_template = "torch.cat(tensors, dim=1)"
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


class Input(MovesData, LayerKind):
    torch_template = "the forward's input"
    names = ("input",)
    row_type = "Input"
    summary = "the network input, one sample's shape"


KINDS = [Elementwise("add", "Add", "Addition", "torch.add"), Elementwise("mul", "Mul", "Multiplication", "torch.mul"), Cat()]
INPUT = Input()
