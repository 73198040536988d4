"""Pooling: max, average, adaptive and global."""

from __future__ import annotations

from cnnspec.layers.base import (
    ArgSpec,
    Inferred,
    LayerError,
    LayerKind,
    boolean,
    expand_axes,
    format_shape,
    optional,
    per_axis,
    spatial_rank,
    torch_int_or_tuple,
    window_output,
)
from cnnspec.layers.conv import border_warnings


def _suffix(dims):
    return "" if dims is None else f"{dims}d"


class Pool(LayerKind):
    """MaxPool and AvgPool; the stride defaults to the kernel size, as in torch."""

    def __init__(self, family: str, dims: int | None):
        self.family, self.dims = family, dims
        self.names = (f"{family.lower()}pool{_suffix(dims)}",)
        self.row_type = "Max-pooling" if family == "Max" else "Average-pooling"
        self.summary = f"{family.lower()} pooling; stride defaults to the kernel size"
        common = (
            ArgSpec("k", per_axis(1), aliases=("kernel", "kernel_size")),
            ArgSpec("stride", optional(per_axis(1)), None),
            ArgSpec("pad", per_axis(0), 0, aliases=("padding",)),
        )
        if family == "Max":
            self.args = common + (ArgSpec("dilation", per_axis(1), 1), ArgSpec("ceil_mode", boolean, False))
        else:
            self.args = common + (ArgSpec("ceil_mode", boolean, False), ArgSpec("count_include_pad", boolean, True))

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        kernel = expand_axes(self, "k", args["k"], rank)
        stride = kernel if args["stride"] is None else expand_axes(self, "stride", args["stride"], rank)
        pad = expand_axes(self, "pad", args["pad"], rank)
        dilation = expand_axes(self, "dilation", args.get("dilation", 1), rank)
        for k, p in zip(kernel, pad):
            if p > k // 2:
                raise LayerError(
                    "E301", f"{self.name}: padding {p} is larger than half the kernel size {k}; torch rejects it", arg="pad"
                )
        ceil = args["ceil_mode"]
        out = tuple(window_output(s, k, st, p, d, ceil) for s, k, st, p, d in zip(shape[1:], kernel, stride, pad, dilation))
        if min(out) < 1:
            raise LayerError(
                "E300", f"{self.name}: output size {format_shape(out)} is below 1: kernel {format_shape(kernel)} "
                f"with padding {format_shape(pad)} does not fit the input {format_shape(shape)}"
            )
        hparams = dict(kernel_size=torch_int_or_tuple(kernel), stride=torch_int_or_tuple(stride), padding=torch_int_or_tuple(pad))
        if self.family == "Max":
            hparams["dilation"] = torch_int_or_tuple(dilation)
        hparams["ceil_mode"] = ceil
        if self.family == "Avg":
            hparams["count_include_pad"] = args["count_include_pad"]
        warnings = [] if ceil else border_warnings(self, shape, kernel, stride, pad, dilation)
        return Inferred(f"{self.family}Pool{rank}d", hparams, ((shape[0], *out),), warnings=warnings)


def output_size_arg(kind, arg, value):
    items = value if isinstance(value, tuple) else (value,)
    ok = items and all(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1) for v in items)
    if not ok:
        raise LayerError("E202", f"{kind.name}: '{arg}' expects a positive integer or a tuple of them (none keeps an axis)", arg=arg)
    return value


class AdaptivePool(LayerKind):
    """AdaptiveAvgPool/AdaptiveMaxPool: a fixed output size whatever the input size."""

    def __init__(self, family: str, dims: int | None, spellings=None, fixed_size=None):
        self.family, self.dims, self.fixed_size = family, dims, fixed_size
        self.names = spellings or (f"adaptive{family.lower()}pool{_suffix(dims)}",)
        self.row_type = f"Adaptive {'max' if family == 'Max' else 'average'}-pooling"
        self.summary = f"adaptive {family.lower()} pooling to a fixed output size"
        self.args = () if fixed_size else (ArgSpec("size", output_size_arg, aliases=("output_size",)),)

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        size = expand_axes(self, "size", self.fixed_size or args["size"], rank)
        out = tuple(s if o is None else o for s, o in zip(shape[1:], size))
        return Inferred(f"Adaptive{self.family}Pool{rank}d", dict(output_size=torch_int_or_tuple(size)), ((shape[0], *out),))


KINDS = [Pool(family, dims) for family in ("Max", "Avg") for dims in (None, 1, 2, 3)]
KINDS += [AdaptivePool(family, dims) for family in ("Max", "Avg") for dims in (None, 1, 2, 3)]
KINDS += [
    AdaptivePool("Avg", None, ("gap", "globalavgpool"), fixed_size=1),
    AdaptivePool("Max", None, ("globalmaxpool",), fixed_size=1),
]
