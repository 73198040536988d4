"""Activations: elementwise, shape-preserving; PReLU alone has parameters."""

from __future__ import annotations

from cnnspec.layers.base import ArgSpec, Inferred, LayerError, LayerKind, boolean, choice, int_at_least, integer, number


class Activation(LayerKind):
    row_type = "Activation"
    fold = True

    def __init__(self, names, op, args=(), summary=""):
        self.names, self.op, self.args = names, op, args
        self.summary = summary or f"torch.nn.{op}"

    def infer(self, args, inputs):
        return Inferred(self.op, dict(args), inputs[:1])


class PReLU(Activation):
    def __init__(self):
        args = (ArgSpec("num_parameters", int_at_least(1), 1, aliases=("n",)), ArgSpec("init", number, 0.25))
        super().__init__(("prelu",), "PReLU", args, "parametric ReLU: one slope, or one per channel")

    def infer(self, args, inputs):
        channels = inputs[0][0]
        count = args["num_parameters"]
        if count not in (1, channels):
            raise LayerError("E202", f"prelu: num_parameters must be 1 or the channel count ({channels}), got {count}", arg="num_parameters")
        return Inferred("PReLU", dict(args), inputs[:1], count)


class Softmax(Activation):
    def __init__(self, names, op):
        super().__init__(names, op, (ArgSpec("dim", integer, 1),), f"torch.nn.{op} along `dim` (torch numbering: 0 is the batch)")

    def infer(self, args, inputs):
        rank = len(inputs[0]) + 1
        dim = args["dim"]
        if not -rank <= dim < rank:
            raise LayerError("E202", f"{self.name}: dim {dim} is out of range for a {rank}-D batched tensor", arg="dim")
        return Inferred(self.op, dict(dim=dim), inputs[:1])


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
