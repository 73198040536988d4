"""Activations: elementwise, shape-preserving; PReLU alone has parameters."""

from __future__ import annotations

from math import prod

from cnnspec.layers.base import (
    ArgSpec,
    Cost,
    Inferred,
    LayerError,
    LayerKind,
    Saved,
    SignatureFromArgs,
    boolean,
    choice,
    int_at_least,
    integer,
    number,
)

# What each op's backward reads (torch 2.13, measured with saved_tensors_hooks): its output or its input.
_KEEPS_OUTPUT = {"ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"}
_KEEPS_INPUT = {"ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Hardswish", "Hardsigmoid", "PReLU"}
# In place, these keep the result (the input's own storage); the other in-place ops keep a copy
# of their input taken before it is overwritten (autograd's `original_self` clone).
_INPLACE_KEEPS_RESULT = {"ReLU", "LeakyReLU", "ELU"}


class Activation(SignatureFromArgs, LayerKind):
    row_type = "Activation"
    fold = True

    def __init__(self, names, op, args=(), summary=""):
        self.names, self.op, self.args = names, op, args
        self.summary = summary or f"torch.nn.{op}"

    def infer(self, args, inputs):
        return Inferred(self.op, dict(args), inputs[:1])

    def cost(self, node, input_shapes):
        """One op per element (a transcendental function counts as one); softmax 5: max, subtract, exp, sum, divide."""
        return Cost(0, (5 if self.op in ("Softmax", "LogSoftmax") else 1) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        if node.hparams.get("inplace"):
            return Saved(outputs=(0,)) if self.op in _INPLACE_KEEPS_RESULT else Saved(elements=prod(input_shapes[0]))
        if self.op in _KEEPS_OUTPUT:
            return Saved(outputs=(0,))
        return Saved(inputs=(0,)) if self.op in _KEEPS_INPUT else None

    def aliases(self, node):
        return {0: 0} if node.hparams.get("inplace") else {}

    def writes_in_place(self, node):
        return bool(node.hparams.get("inplace"))


class PReLU(Activation):
    def __init__(self):
        args = (ArgSpec("num_parameters", int_at_least(1), 1, aliases=("n",)), ArgSpec("init", number, 0.25))
        super().__init__(("prelu",), "PReLU", args, "parametric ReLU: one slope, or one per channel")

    def infer(self, args, inputs):
        channels = inputs[0][0]
        count = args["num_parameters"]
        if count not in (1, channels):
            raise LayerError(
                "E202", f"prelu: num_parameters must be 1 or the channel count ({channels}), got {count}", arg="num_parameters"
            )
        return Inferred("PReLU", dict(args), inputs[:1], count)


class Softmax(Activation):
    torch_defaults = {}  # torch's dim defaults to None (deprecated), so it is always written

    def __init__(self, names, op):
        super().__init__(names, op, (ArgSpec("dim", integer, 1),), f"torch.nn.{op} along `dim` (torch numbering: 0 is the batch)")

    def infer(self, args, inputs):
        rank = len(inputs[0]) + 1
        dim = args["dim"]
        if not -rank <= dim < rank:
            raise LayerError("E202", f"{self.name}: dim {dim} is out of range for a {rank}-D batched tensor", arg="dim")
        return Inferred(self.op, dict(dim=dim), inputs[:1])

    def receptive_step(self, node, input_shapes):
        """Along the channels (dim 1) elementwise in space; along a spatial axis every output
        reads that whole axis, which counts as the whole input (None)."""
        if node.hparams["dim"] % (len(input_shapes[0]) + 1) <= 1:
            return super().receptive_step(node, input_shapes)
        return None


_INPLACE = (ArgSpec("inplace", boolean, False),)

KINDS = [
    Activation(("relu",), "ReLU", _INPLACE),
    Activation(("relu6",), "ReLU6", _INPLACE),
    Activation(("leakyrelu",), "LeakyReLU", (ArgSpec("negative_slope", number, 0.01, aliases=("slope",)),) + _INPLACE),
    Activation(("elu",), "ELU", (ArgSpec("alpha", number, 1.0),) + _INPLACE),
    Activation(("gelu",), "GELU", (ArgSpec("approximate", choice("none", "tanh"), "none"),)),
    Activation(("silu", "swish"), "SiLU", _INPLACE),
    Activation(("hardswish",), "Hardswish", _INPLACE),
    Activation(("hardsigmoid",), "Hardsigmoid", _INPLACE),
    Activation(("sigmoid",), "Sigmoid"),
    Activation(("tanh",), "Tanh"),
    PReLU(),
    Softmax(("softmax",), "Softmax"),
    Softmax(("logsoftmax",), "LogSoftmax"),
]
