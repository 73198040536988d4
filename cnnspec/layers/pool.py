"""Pooling: max, average, adaptive and global."""

from __future__ import annotations

from math import gcd, prod

from cnnspec.layers.base import (
    NOTHING_SAVED,
    ArgSpec,
    Cost,
    Inferred,
    LayerError,
    LayerKind,
    Saved,
    axis_names,
    boolean,
    expand_axes,
    format_shape,
    hparam_axes,
    optional,
    per_axis,
    resampling_step,
    spatial_rank,
    torch_int_or_tuple,
    volume,
    window_output,
)
from cnnspec.layers.conv import border_warnings


def _suffix(dims):
    return "" if dims is None else f"{dims}d"


class Pool(LayerKind):
    """MaxPool and AvgPool; the stride defaults to the kernel size, as in torch."""

    _TORCH_DEFAULTS = {
        "Max": {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False},
        "Avg": {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True},
    }

    @property
    def torch_defaults(self) -> dict:
        return self._TORCH_DEFAULTS[self.family]

    def __init__(self, family: str, dims: int | None):
        self.family, self.dims = family, dims
        self.names = (f"{family.lower()}pool{_suffix(dims)}",)
        self.torch_template = f"nn.{family}Pool{{n}}d"
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
                raise LayerError("E301", f"{self.name}: padding {p} is larger than half the kernel size {k}; torch rejects it", arg="pad")
        if self.family == "Avg" and rank == 3 and any(s < k for s, k in zip(shape[1:], kernel)):
            # torch's avg_pool3d alone checks the unpadded input against the kernel
            raise LayerError(
                "E307",
                f"{self.name}: torch's 3-D average pooling needs the input {format_shape(shape[1:])} to be at "
                f"least the kernel {format_shape(kernel)} on every axis, padding aside",
                arg="k",
            )
        ceil = args["ceil_mode"]
        out = tuple(window_output(s, k, st, p, d, ceil) for s, k, st, p, d in zip(shape[1:], kernel, stride, pad, dilation))
        if min(out) < 1:
            raise LayerError(
                "E300",
                f"{self.name}: output size {format_shape(out)} is below 1: kernel {format_shape(kernel)} "
                f"with padding {format_shape(pad)} does not fit the input {format_shape(shape)}",
            )
        if self.family == "Max" or not args["count_include_pad"]:
            _check_padding_only(self, shape, out, stride, pad, dilation)
        hparams = dict(kernel_size=torch_int_or_tuple(kernel), stride=torch_int_or_tuple(stride), padding=torch_int_or_tuple(pad))
        if self.family == "Max":
            hparams["dilation"] = torch_int_or_tuple(dilation)
        hparams["ceil_mode"] = ceil
        if self.family == "Avg":
            hparams["count_include_pad"] = args["count_include_pad"]
        warnings = [] if ceil else border_warnings(self, shape, kernel, stride, pad, dilation)
        return Inferred(f"{self.family}Pool{rank}d", hparams, ((shape[0], *out),), warnings=warnings)

    def receptive_step(self, node, input_shapes):
        """Effective kernel d*(k-1)+1, the stride, the left padding; ceil_mode only adds outputs."""
        h, rank = node.hparams, len(input_shapes[0]) - 1
        axes = (hparam_axes(h.get(name, 1), rank) for name in ("kernel_size", "stride", "padding", "dilation"))
        return tuple((d * (k - 1) + 1, s, p) for k, s, p, d in zip(*axes))

    def cost(self, node, input_shapes):
        """Per output element, a full window: max k - 1 comparisons; average k - 1 adds and a divide."""
        window = volume(node.hparams["kernel_size"])
        return Cost(0, prod(node.output) * (window - (self.family == "Max")))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        # max pooling keeps the input and the int64 index of each maximum; average pooling the input
        return Saved(inputs=(0,), raw_bytes=8 * prod(node.output) if self.family == "Max" else 0)


def _check_padding_only(kind, shape, out, stride, pad, dilation) -> None:
    """E311: a window whose taps all fall in the padding (torch: -inf, or a division by zero)."""
    names = axis_names(len(out))
    for axis, (size, count, s, p, d) in enumerate(zip(shape[1:], out, stride, pad, dilation)):
        position = padding_only_window(size, count, s, p, d)
        if position is not None:
            raise LayerError(
                "E311",
                f"{kind.name}: output position {position} of axis {names[axis]} pools a window that lies entirely in the "
                f"padding (input size {size}, stride {s}, padding {p}, dilation {d}): torch gives -inf there, and its backward "
                "writes outside the input",
            )


def padding_only_window(size: int, outputs: int, stride: int, pad: int, dilation: int) -> int | None:
    """The first output position on one axis whose window sees no input element, or None.

    Output i's taps are i*stride - pad + j*dilation. A window starting inside the input sees it;
    torch's output size makes the last one start there, so only windows starting in the left
    padding (i*stride < pad) can be blind. Their first tap at or after position 0 is
    (i*stride - pad) mod dilation (pad <= kernel // 2 puts it within the kernel), blind when it
    is past the input: a hit of `first_in_range`, Euclid-fast at any size."""
    starts = min(outputs, -(-pad // stride))  # the windows starting in the left padding
    if dilation <= size or starts == 0:
        return None
    first = first_in_range(stride % dilation, -pad % dilation, dilation, size, dilation - 1)
    return first if first is not None and first < starts else None


def first_in_range(step: int, start: int, modulus: int, low: int, high: int) -> int | None:
    """The smallest i >= 0 with low <= (start + step*i) mod modulus <= high, or None
    (0 <= low <= high < modulus). The target range shifted by -start may wrap around."""
    low, high = (low - start) % modulus, (high - start) % modulus
    if low <= high:
        return _first_multiple_in(step % modulus, modulus, low, high)
    return 0  # the wrapped range holds 0: i = 0


def _first_multiple_in(step: int, modulus: int, low: int, high: int) -> int | None:
    """The smallest x >= 0 with low <= step*x mod modulus <= high (0 <= low <= high < modulus):
    a Euclid-like recursion, logarithmic in the modulus."""
    if low == 0:
        return 0
    if step == 0:
        return None
    x = -(-low // step)
    if step * x <= high:
        return x
    # step*x - modulus*y in [low, high] for some y >= 1: (modulus*y) mod step in [-high, -low] mod step
    y = _first_multiple_in(modulus % step, step, -high % step, -low % step)
    if y is None:
        return None
    return -(-(modulus * y + low) // step)


def output_size_arg(kind, arg, value):
    items = value if isinstance(value, tuple) else (value,)
    ok = items and all(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1) for v in items)
    if not ok:
        raise LayerError("E202", f"{kind.name}: '{arg}' expects a positive integer or a tuple of them (none keeps an axis)", arg=arg)
    return value


class AdaptivePool(LayerKind):
    """AdaptiveAvgPool/AdaptiveMaxPool: a fixed output size whatever the input size."""

    torch_positional = ("output_size",)

    def __init__(self, family: str, dims: int | None, spellings=None, fixed_size=None):
        self.family, self.dims, self.fixed_size = family, dims, fixed_size
        self.names = spellings or (f"adaptive{family.lower()}pool{_suffix(dims)}",)
        self.torch_template = f"nn.Adaptive{family}Pool{{n}}d" + ("(1)" if fixed_size else "")
        self.row_type = f"Adaptive {'max' if family == 'Max' else 'average'}-pooling"
        self.summary = f"adaptive {family.lower()} pooling to a fixed output size"
        self.args = () if fixed_size else (ArgSpec("size", output_size_arg, aliases=("output_size",)),)

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        wanted = self.fixed_size or args["size"]
        if wanted is None:  # torch needs a size: `none` alone is no output_size
            raise LayerError("E202", f"{self.name}: 'size' needs a positive integer, or a tuple with one entry per axis", arg="size")
        size = expand_axes(self, "size", wanted, rank)
        if rank == 1 and None in size:  # torch's 1-d adaptive pools take only integers
            raise LayerError("E202", f"{self.name}: a 1-D adaptive pool needs an integer size, not none", arg="size")
        out = tuple(s if o is None else o for s, o in zip(shape[1:], size))
        return Inferred(f"Adaptive{self.family}Pool{rank}d", dict(output_size=torch_int_or_tuple(size)), ((shape[0], *out),))

    def receptive_step(self, node, input_shapes):
        """torch's windows: output i of n -> m reads floor(i*n/m) .. ceil((i+1)*n/m) - 1. When m
        divides n that is an ordinary pool, kernel = stride = n/m (n -> n: the identity); else the
        windows vary in size and the step is the smallest window moving by n/m that holds them all.
        Pooling every axis of a larger input to 1 (global pooling): the whole input (None)."""
        from fractions import Fraction
        from math import ceil, floor

        sizes, out = input_shapes[0][1:], node.output[1:]
        if all(m == 1 for m in out) and any(n > 1 for n in sizes):
            return None
        steps = []
        for n, m in zip(sizes, out):
            ratio = Fraction(n, m)
            steps.append(resampling_step(ratio, lambda i, q=ratio: floor(i * q), lambda i, q=ratio: ceil((i + 1) * q) - 1, (0, ratio)))
        return tuple(steps)

    def cost(self, node, input_shapes):
        """torch's adaptive windows, exactly: output i of an axis of size n covers floor(i*n/o)..ceil((i+1)*n/o)."""
        channels, *sizes = input_shapes[0]
        reads = channels * prod(n + o - gcd(n, o) for n, o in zip(sizes, node.output[1:]))  # the sum of those lengths over i
        return Cost(0, reads - (prod(node.output) if self.family == "Max" else 0))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        if self.family == "Max":
            return Saved(inputs=(0,), raw_bytes=8 * prod(node.output))  # the input and int64 indices
        if all(size == 1 for size in node.output[1:]):
            return NOTHING_SAVED  # torch computes a mean, whose backward needs only the sizes
        return Saved(inputs=(0,))


KINDS = [Pool(family, dims) for family in ("Max", "Avg") for dims in (None, 1, 2, 3)]
KINDS += [AdaptivePool(family, dims) for family in ("Max", "Avg") for dims in (None, 1, 2, 3)]
KINDS += [
    AdaptivePool("Avg", None, ("gap", "globalavgpool"), fixed_size=1),
    AdaptivePool("Max", None, ("globalmaxpool",), fixed_size=1),
]
