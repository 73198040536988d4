"""Layers that move, reshape or resize: flatten, linear, dropout, identity, upsample,
pixel shuffle, zero padding, channel shuffle, channel split, layer scale, stochastic depth."""

from __future__ import annotations

from math import floor, prod

from cnnspec.layers.base import (
    ArgSpec,
    Inferred,
    LayerError,
    LayerKind,
    boolean,
    choice,
    format_shape,
    int_at_least,
    int_or_tuple,
    integer,
    number,
    optional,
    probability,
    spatial_rank,
    torch_int_or_tuple,
)


class Flatten(LayerKind):
    names = ("flatten",)
    row_type = "Flatten"
    summary = "flatten axes start_dim..end_dim (torch numbering: 0 is the batch)"
    args = (ArgSpec("start_dim", integer, 1), ArgSpec("end_dim", integer, -1))

    def infer(self, args, inputs):
        batched = (1, *inputs[0])
        rank = len(batched)
        start, end = args["start_dim"], args["end_dim"]
        if not (-rank <= start < rank and -rank <= end < rank):
            raise LayerError("E202", f"flatten: dims ({start}, {end}) are out of range for a {rank}-D batched tensor")
        start, end = start % rank, end % rank
        if start == 0:
            raise LayerError("E202", "flatten: start_dim 0 would merge the batch axis into the features", arg="start_dim")
        if start > end:
            raise LayerError("E202", f"flatten: start_dim ({start}) comes after end_dim ({end})")
        out = batched[:start] + (prod(batched[start : end + 1]),) + batched[end + 1 :]
        return Inferred("Flatten", dict(start_dim=args["start_dim"], end_dim=args["end_dim"]), (out[1:],))


class Linear(LayerKind):
    names = ("linear", "fc")
    row_type = "Fully connected"
    summary = "fully connected layer; in_features comes from the (flat) input"
    args = (ArgSpec("out", int_at_least(1), aliases=("out_features",)), ArgSpec("bias", boolean, True))

    def infer(self, args, inputs):
        (shape,) = inputs
        if len(shape) != 1:
            raise LayerError(
                "E305",
                f"linear on the {len(shape) - 1}-D spatial tensor {format_shape(shape)}: torch's Linear would act on "
                f"the last axis only (in_features={shape[-1]}); add `flatten` before it",
            )
        features, out = shape[0], args["out"]
        params = out * features + (out if args["bias"] else 0)
        return Inferred("Linear", dict(in_features=features, out_features=out, bias=args["bias"]), ((out,),), params)


class Passthrough(LayerKind):
    """Layers that keep the shape and have no parameters: dropout, identity, stochastic depth."""

    fold = True

    def __init__(self, names, op, args=(), summary="", row_type=""):
        self.names, self.op, self.args, self.summary, self.row_type = names, op, args, summary, row_type or op

    def infer(self, args, inputs):
        return Inferred(self.op, dict(args), inputs[:1])


class Upsample(LayerKind):
    names = ("upsample",)
    row_type = "Upsampling"
    summary = "upsampling by `scale` or to `size` (nearest, linear, bilinear, bicubic, trilinear)"
    args = (
        ArgSpec("scale", optional(lambda k, a, v: v if isinstance(v, tuple) else number(k, a, v)), None, aliases=("scale_factor",)),
        ArgSpec("size", optional(int_or_tuple), None),
        ArgSpec("mode", choice("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"), "nearest"),
        ArgSpec("align_corners", optional(boolean), None),
    )
    _MODE_RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, None)
        mode, scale, size = args["mode"], args["scale"], args["size"]
        if mode in self._MODE_RANK and self._MODE_RANK[mode] != rank:
            raise LayerError("E306", f"upsample: mode '{mode}' needs {self._MODE_RANK[mode]} spatial axes, the input {format_shape(shape)} has {rank}", arg="mode")
        if args["align_corners"] is not None and mode not in self._MODE_RANK:
            raise LayerError("E202", "upsample: align_corners only applies to linear, bilinear, bicubic and trilinear modes", arg="align_corners")
        if (scale is None) == (size is None):
            raise LayerError("E203", "upsample: give exactly one of `scale` and `size`")
        if size is not None:
            out = size if isinstance(size, tuple) else (size,) * rank
            if len(out) != rank or min(out) < 1:
                raise LayerError("E202", f"upsample: size {size!r} does not give {rank} positive sizes", arg="size")
        else:
            factors = scale if isinstance(scale, tuple) else (scale,) * rank
            if len(factors) != rank or not all(isinstance(f, (int, float)) and f > 0 for f in factors):
                raise LayerError("E202", f"upsample: scale {scale!r} does not give {rank} positive factors", arg="scale")
            out = tuple(floor(s * float(f)) for s, f in zip(shape[1:], factors))
            if min(out) < 1:
                raise LayerError("E300", f"upsample: output size {format_shape(out)} is below 1")
        hparams = dict(size=size, scale_factor=scale, mode=mode, align_corners=args["align_corners"])
        return Inferred("Upsample", hparams, ((shape[0], *out),))


class PixelShuffle(LayerKind):
    names = ("pixelshuffle",)
    row_type = "Pixel shuffle"
    summary = "C*r*r x H x W -> C x H*r x W*r"
    args = (ArgSpec("r", int_at_least(1), aliases=("upscale_factor",)),)

    def infer(self, args, inputs):
        (shape,) = inputs
        spatial_rank(self, shape, 2)
        r = args["r"]
        if shape[0] % (r * r):
            raise LayerError("E302", f"pixelshuffle: channels ({shape[0]}) are not divisible by r*r ({r * r})", arg="r")
        return Inferred("PixelShuffle", dict(upscale_factor=r), ((shape[0] // (r * r), shape[1] * r, shape[2] * r),))


class ZeroPad(LayerKind):
    row_type = "Zero padding"
    summary = "zero padding: an int, or (left, right[, top, bottom[, front, back]]) from the last axis"
    args = (ArgSpec("pad", int_or_tuple, aliases=("padding",)),)

    def __init__(self, dims):
        self.dims = dims
        self.names = ("zeropad",) if dims is None else (f"zeropad{dims}d",)

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = spatial_rank(self, shape, self.dims)
        pad = args["pad"]
        pairs = (pad,) * (2 * rank) if isinstance(pad, int) else pad
        if len(pairs) != 2 * rank:
            raise LayerError("E202", f"{self.name}: padding needs {2 * rank} values for {rank} spatial axes, got {len(pairs)}", arg="pad")
        out = list(shape[1:])
        for axis in range(rank):  # torch pads the last axis with the first pair
            out[rank - 1 - axis] += pairs[2 * axis] + pairs[2 * axis + 1]
        if min(out) < 1:
            raise LayerError("E300", f"{self.name}: output size {format_shape(out)} is below 1")
        return Inferred(f"ZeroPad{rank}d", dict(padding=pad), ((shape[0], *out),))


class ChannelShuffle(LayerKind):
    names = ("channelshuffle",)
    row_type = "Channel shuffle"
    fold = True
    summary = "shuffle channels across `groups` (ShuffleNet)"
    args = (ArgSpec("groups", int_at_least(1)),)

    def infer(self, args, inputs):
        (shape,) = inputs
        if len(shape) < 2:
            raise LayerError("E306", f"channelshuffle needs spatial axes, but its input is the flat vector {format_shape(shape)}")
        if shape[0] % args["groups"]:
            raise LayerError("E302", f"channelshuffle: channels ({shape[0]}) are not divisible by groups ({args['groups']})", arg="groups")
        return Inferred("ChannelShuffle", dict(groups=args["groups"]), (shape,))


class Split(LayerKind):
    """torch.chunk / torch.split along the channel axis: several outputs."""

    row_type = "Channel split"
    functional = True

    def __init__(self, names, op, arg):
        self.names, self.op, self.args = names, op, (arg,)
        self.summary = "torch.chunk(x, chunks, dim=1)" if op == "Chunk" else "torch.split(x, sizes, dim=1)"

    def infer(self, args, inputs):
        channels = inputs[0][0]
        if self.op == "Chunk":
            size = -(-channels // args["chunks"])
            sizes = [size] * (channels // size) + ([channels % size] if channels % size else [])
            hparams = dict(chunks=args["chunks"], dim=1)
        else:
            sizes = self._split_sizes(args["sizes"], channels)
            hparams = dict(split_size_or_sections=args["sizes"], dim=1)
        outputs = tuple((s, *inputs[0][1:]) for s in sizes)
        return Inferred(self.op, hparams, outputs)

    def _split_sizes(self, sizes, channels):
        if isinstance(sizes, int):
            return [sizes] * (channels // sizes) + ([channels % sizes] if channels % sizes else [])
        if sum(sizes) != channels or min(sizes) < 0:
            raise LayerError("E202", f"split: sizes {sizes!r} do not add up to the {channels} channels", arg="sizes")
        return list(sizes)


class LayerScale(LayerKind):
    names = ("layerscale",)
    row_type = "Layer scale"
    fold = True
    summary = "a learnable per-channel scale (ConvNeXt's layer scale), initialised to `init`"
    args = (ArgSpec("init", number, 1e-6),)

    def infer(self, args, inputs):
        (shape,) = inputs
        return Inferred("LayerScale", dict(channels=shape[0], rank=len(shape), init=args["init"]), (shape,), shape[0])


def _split_sizes_arg(kind, arg, value):
    if isinstance(value, tuple):
        return int_or_tuple(kind, arg, value)
    return int_at_least(1)(kind, arg, value)


KINDS = [
    Flatten(),
    Linear(),
    Passthrough(("dropout",), "Dropout", (ArgSpec("p", probability, 0.5), ArgSpec("inplace", boolean, False)), "dropout", "Dropout"),
    Passthrough(("identity",), "Identity", summary="does nothing (a placeholder)"),
    Passthrough(
        ("stochasticdepth", "droppath"), "StochasticDepth",
        (ArgSpec("p", probability), ArgSpec("mode", choice("row", "batch"), "row")),
        "torchvision.ops.StochasticDepth: drops the whole residual branch with probability p",
        "Stochastic depth",
    ),
    Upsample(),
    PixelShuffle(),
    ChannelShuffle(),
    LayerScale(),
    Split(("chunk",), "Chunk", ArgSpec("chunks", int_at_least(1))),
    Split(("split",), "Split", ArgSpec("sizes", _split_sizes_arg, aliases=("split_size", "sections"))),
] + [ZeroPad(d) for d in (None, 1, 2, 3)]
