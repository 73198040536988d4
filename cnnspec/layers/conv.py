"""Convolutions: Conv1d/2d/3d, ConvTranspose1d/2d/3d, and depthwise/pointwise spellings."""

from __future__ import annotations

from math import prod

from cnnspec.layers.base import (
    ArgSpec,
    Cost,
    Inferred,
    LayerError,
    LayerKind,
    Saved,
    axis_names,
    boolean,
    dropped_pixels,
    expand_axes,
    format_shape,
    hparam_axes,
    int_at_least,
    per_axis,
    spatial_rank,
    torch_int_or_tuple,
    volume,
    window_output,
)


def padding_arg(kind, arg, value):
    if value in ("same", "valid"):
        return value
    return per_axis(0)(kind, arg, value)


def _dims_suffix(dims):
    return "" if dims is None else f"{dims}d"


def _check_groups(kind, in_channels: int, out_channels: int, groups: int):
    for what, count in (("input channels", in_channels), ("output channels", out_channels)):
        if count % groups:
            raise LayerError("E302", f"{kind.name}: {what} ({count}) are not divisible by groups ({groups})", arg="groups")


def _check_window(kind, shape, kernel, stride, pad, dilation, out):
    """Raise E300 when any output axis is below 1, naming the padded input and the kernel."""
    if min(out) >= 1:
        return
    padded = tuple(s + 2 * p for s, p in zip(shape[1:], pad))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    raise LayerError(
        "E300",
        f"{kind.name}: output size {format_shape(out)} is below 1: the padded input "
        f"{format_shape(padded)} is smaller than the kernel {format_shape(effective)}"
        f"{' (dilated)' if any(d > 1 for d in dilation) else ''} (input {format_shape(shape)})",
    )


def border_warnings(kind, shape, kernel, stride, pad, dilation):
    """W400 when the windows do not reach the far border: (code, message, dropping axes)."""
    lost = [dropped_pixels(*axis) for axis in zip(shape[1:], kernel, stride, pad, dilation)]
    axes = tuple(axis for axis, count in enumerate(lost) if count)
    if not axes:
        return []
    names = axis_names(len(shape) - 1)
    dropped = ", ".join(f"{lost[a]} pixel{'s' * (lost[a] > 1)} of {names[a]}" for a in axes)
    message = (
        f"{kind.name}: the windows (kernel {format_shape(kernel)}, stride {format_shape(stride)}, padding {format_shape(pad)}) "
        f"do not tile the input {format_shape(shape)}: the last {dropped} {'are' if len(axes) > 1 or lost[axes[0]] > 1 else 'is'} silently dropped"
    )
    return [("W400", message, axes)]


class Conv(LayerKind):
    torch_template = "nn.Conv{n}d"
    torch_positional = ("in_channels", "out_channels")
    torch_defaults = {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1, "groups": 1, "bias": True}
    row_type = "Convolution"
    summary = "convolution; in_channels comes from the input"
    args = (
        ArgSpec("out", int_at_least(1), aliases=("out_channels",), doc="output channels"),
        ArgSpec("k", per_axis(1), aliases=("kernel", "kernel_size"), doc="kernel size"),
        ArgSpec("stride", per_axis(1), 1),
        ArgSpec("pad", padding_arg, 0, aliases=("padding",), doc="int, tuple, 'same' or 'valid'"),
        ArgSpec("dilation", per_axis(1), 1),
        ArgSpec("groups", int_at_least(1), 1),
        ArgSpec("bias", boolean, True),
    )

    def __init__(self, dims: int | None):
        self.dims = dims
        self.names = (f"conv{_dims_suffix(dims)}",)

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        in_channels, out_channels, groups = shape[0], args["out"], args["groups"]
        _check_groups(self, in_channels, out_channels, groups)
        kernel = expand_axes(self, "k", args["k"], rank)
        stride = expand_axes(self, "stride", args["stride"], rank)
        dilation = expand_axes(self, "dilation", args["dilation"], rank)
        padding, pad = self._padding(args["pad"], kernel, stride, dilation, rank)
        out = tuple(window_output(s, k, st, p, d, False) for s, k, st, p, d in zip(shape[1:], kernel, stride, pad, dilation))
        if padding == "same":  # torch pads asymmetrically when d*(k-1) is odd; the size is kept
            out = shape[1:]
        _check_window(self, shape, kernel, stride, pad, dilation, out)
        params = out_channels * (in_channels // groups) * prod(kernel) + (out_channels if args["bias"] else 0)
        hparams = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=torch_int_or_tuple(kernel),
            stride=torch_int_or_tuple(stride),
            padding=padding,
            dilation=torch_int_or_tuple(dilation),
            groups=groups,
            bias=args["bias"],
        )
        warnings = border_warnings(self, shape, kernel, stride, pad, dilation)
        return Inferred(f"Conv{rank}d", hparams, ((out_channels, *out),), params, 0, warnings)

    def _padding(self, value, kernel, stride, dilation, rank):
        """The torch `padding` argument and the per-axis left padding used for sizes."""
        if value == "valid":
            return "valid", (0,) * rank
        if value == "same":
            if any(s != 1 for s in stride):
                raise LayerError("E202", f"{self.name}: padding='same' is not supported for strided convolutions", arg="pad")
            # torch pads d*(k-1) in total, the left half rounded down; the output keeps the input size.
            return "same", tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        pad = expand_axes(self, "pad", value, rank)
        return torch_int_or_tuple(pad), pad

    def receptive_step(self, node, input_shapes):
        """Effective kernel d*(k-1)+1, the stride, the left padding ('same': torch's left half)."""
        h, rank = node.hparams, len(input_shapes[0]) - 1
        kernel, stride, dilation = (hparam_axes(h[name], rank) for name in ("kernel_size", "stride", "dilation"))
        if h["padding"] in ("same", "valid"):
            pad = tuple(d * (k - 1) // 2 if h["padding"] == "same" else 0 for k, d in zip(kernel, dilation))
        else:
            pad = hparam_axes(h["padding"], rank)
        return tuple((d * (k - 1) + 1, s, p) for k, s, p, d in zip(kernel, stride, pad, dilation))

    def cost(self, node, input_shapes):
        """MACs as torch's flop counter: out elements x kernel volume x in_channels/groups; bias adds are other ops."""
        h, elements = node.hparams, prod(node.output)
        macs = elements * volume(h["kernel_size"]) * (h["in_channels"] // h["groups"])
        return Cost(macs, elements if h["bias"] else 0)

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,))  # convolution_backward keeps the input (and the weight, a parameter)


class DepthwiseConv(Conv):
    torch_template = "nn.Conv{n}d with groups = in_channels"
    summary = "depthwise convolution: groups = in_channels, out = in_channels x multiplier"
    args = (
        ArgSpec("k", per_axis(1), aliases=("kernel", "kernel_size")),
        ArgSpec("stride", per_axis(1), 1),
        ArgSpec("pad", padding_arg, 0, aliases=("padding",)),
        ArgSpec("dilation", per_axis(1), 1),
        ArgSpec("multiplier", int_at_least(1), 1),
        ArgSpec("bias", boolean, True),
    )

    def __init__(self):
        super().__init__(None)
        self.names = ("dwconv", "depthwise")

    def infer(self, args, inputs):
        channels = inputs[0][0]
        full = dict(args, out=channels * args["multiplier"], groups=channels)
        return super().infer(full, inputs)


class PointwiseConv(Conv):
    torch_template = "nn.Conv{n}d with kernel_size=1"
    summary = "pointwise (1x1) convolution"
    args = (
        ArgSpec("out", int_at_least(1), aliases=("out_channels",)),
        ArgSpec("groups", int_at_least(1), 1),
        ArgSpec("bias", boolean, True),
    )

    def __init__(self):
        super().__init__(None)
        self.names = ("pwconv", "pointwise")

    def infer(self, args, inputs):
        full = dict(args, k=1, stride=1, pad=0, dilation=1)
        return super().infer(full, inputs)


class ConvTranspose(LayerKind):
    torch_template = "nn.ConvTranspose{n}d"
    torch_positional, torch_defaults = Conv.torch_positional, Conv.torch_defaults
    row_type = "Transposed convolution"
    summary = "transposed convolution; in_channels comes from the input"
    args = (
        ArgSpec("out", int_at_least(1), aliases=("out_channels",)),
        ArgSpec("k", per_axis(1), aliases=("kernel", "kernel_size")),
        ArgSpec("stride", per_axis(1), 1),
        ArgSpec("pad", per_axis(0), 0, aliases=("padding",)),
        ArgSpec("output_padding", per_axis(0), 0),
        ArgSpec("groups", int_at_least(1), 1),
        ArgSpec("bias", boolean, True),
        ArgSpec("dilation", per_axis(1), 1),
    )

    def __init__(self, dims: int | None):
        self.dims = dims
        self.names = (f"convtranspose{_dims_suffix(dims)}",) + (("deconv",) if dims is None else ())

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        in_channels, out_channels, groups = shape[0], args["out"], args["groups"]
        _check_groups(self, in_channels, out_channels, groups)
        axes = {name: expand_axes(self, name, args[name], rank) for name in ("k", "stride", "pad", "output_padding", "dilation")}
        for op, s, d in zip(axes["output_padding"], axes["stride"], axes["dilation"]):
            if op >= max(s, d):
                raise LayerError(
                    "E202",
                    f"{self.name}: output_padding ({op}) must be smaller than either stride ({s}) or dilation ({d})",
                    arg="output_padding",
                )
        out = tuple(
            (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            for size, k, s, p, op, d in zip(shape[1:], *(axes[n] for n in ("k", "stride", "pad", "output_padding", "dilation")))
        )
        if min(out) < 1:
            raise LayerError("E300", f"{self.name}: output size {format_shape(out)} is below 1 (input {format_shape(shape)})")
        params = in_channels * (out_channels // groups) * prod(axes["k"]) + (out_channels if args["bias"] else 0)
        hparams = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=torch_int_or_tuple(axes["k"]),
            stride=torch_int_or_tuple(axes["stride"]),
            padding=torch_int_or_tuple(axes["pad"]),
            output_padding=torch_int_or_tuple(axes["output_padding"]),
            groups=groups,
            bias=args["bias"],
            dilation=torch_int_or_tuple(axes["dilation"]),
        )
        return Inferred(f"ConvTranspose{rank}d", hparams, ((out_channels, *out),), params)

    def receptive_step(self, node, input_shapes):
        """A fractional stride: output y reads the inputs i with y = i*s - p + j*d (0 <= j < k),
        i.e. (y + p - d*(k-1))/s <= i <= (y + p)/s: a window of d*(k-1)/s + 1 input positions,
        stride 1/s, left padding (d*(k-1) - p)/s. output_padding only adds outputs on the right."""
        from fractions import Fraction

        h, rank = node.hparams, len(input_shapes[0]) - 1
        axes = (hparam_axes(h[name], rank) for name in ("kernel_size", "stride", "padding", "dilation"))
        return tuple((Fraction(d * (k - 1), s) + 1, Fraction(1, s), Fraction(d * (k - 1) - p, s)) for k, s, p, d in zip(*axes))

    def cost(self, node, input_shapes):
        """MACs as torch's flop counter: in elements x kernel volume x out_channels/groups; bias adds are other ops."""
        h = node.hparams
        macs = prod(input_shapes[0]) * volume(h["kernel_size"]) * (h["out_channels"] // h["groups"])
        return Cost(macs, prod(node.output) if h["bias"] else 0)

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,))


KINDS = [Conv(None), Conv(1), Conv(2), Conv(3), DepthwiseConv(), PointwiseConv()]
KINDS += [ConvTranspose(None), ConvTranspose(1), ConvTranspose(2), ConvTranspose(3)]
