"""Layers that move, reshape or resize: flatten, permute, linear, dropout, identity, upsample,
pixel shuffle, zero padding, channel shuffle, channel split, layer scale, a module's own
parameter, stochastic depth."""

from __future__ import annotations

from math import floor, prod

from cnnspec.layers.base import (
    MAX_NODES,
    NOTHING_SAVED,
    ArgSpec,
    Cost,
    Inferred,
    LayerError,
    LayerKind,
    MovesData,
    Saved,
    SignatureFromArgs,
    boolean,
    choice,
    format_shape,
    hparam_axes,
    int_at_least,
    int_or_tuple,
    integer,
    number,
    optional,
    probability,
    resampling_step,
    spatial_rank,
)


class Flatten(MovesData, LayerKind):
    torch_template = "nn.Flatten"
    torch_defaults = {"start_dim": 1, "end_dim": -1}
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
        if start > end:
            raise LayerError("E202", f"flatten: start_dim ({start}) comes after end_dim ({end})")
        if start == 0 and (prod(batched[1 : end + 1]) != 1 or end == rank - 1):
            # torch would fold the batch into the features; that is only harmless when the axes
            # it joins are all of size 1 and some axis is left after it
            raise LayerError("E202", "flatten: start_dim 0 would merge the batch axis into the features", arg="start_dim")
        out = batched[:start] + (prod(batched[start : end + 1]),) + batched[end + 1 :]
        return Inferred("Flatten", dict(start_dim=args["start_dim"], end_dim=args["end_dim"]), (out[1:],))

    def receptive_step(self, node, input_shapes):
        """Joining axes: the result's positions are no longer image positions, so each counts as
        reading the whole input (None). A flatten that joins nothing is the identity."""
        return super().receptive_step(node, input_shapes) if node.output == input_shapes[0] else None

    def aliases(self, node):
        return {0: 0}  # a view


class Permute(MovesData, LayerKind):
    torch_template = "torchvision.ops.misc.Permute"
    torch_positional = ("dims",)  # the class the generated file defines
    names = ("permute",)
    row_type = "Permute"
    fold = True
    summary = "reorder the axes, torch numbering (0 is the batch, which stays first): (0, 2, 3, 1) makes C x H x W channels-last"
    args = (ArgSpec("dims", int_or_tuple),)

    def infer(self, args, inputs):
        (shape,) = inputs
        dims = args["dims"] if isinstance(args["dims"], tuple) else (args["dims"],)
        rank = len(shape) + 1
        if len(dims) != rank:
            raise LayerError("E202", f"permute: {len(dims)} dims for the {rank}-D batched input N x {format_shape(shape)}", arg="dims")
        if not all(-rank <= d < rank for d in dims) or sorted(d % rank for d in dims) != list(range(rank)):
            raise LayerError("E202", f"permute: dims {dims!r} are not a permutation of the axes 0..{rank - 1}", arg="dims")
        if dims[0] % rank != 0:
            raise LayerError("E202", f"permute: dims {dims!r} move the batch axis; its dim must stay 0 first", arg="dims")
        batched = (1, *shape)
        return Inferred("Permute", dict(dims=dims), (tuple(batched[d] for d in dims[1:]),))

    def receptive_step(self, node, input_shapes):
        """Each output element is one input element: the windows are kept. cnnspec's receptive
        fields follow the network input's spatial axes and do not track the reordering: layers
        applied to a channels-last tensor are read as acting on its channels (docs/receptive-field.md)."""
        return super().receptive_step(node, input_shapes)

    def aliases(self, node):
        return {0: 0}  # a view


class Linear(LayerKind):
    torch_template = "nn.Linear"
    torch_positional = ("in_features", "out_features")
    torch_defaults = {"bias": True}
    names = ("linear", "fc")
    row_type = "Fully connected"
    summary = "fully connected layer; in_features comes from the (flat) input, or its last axis with axis=-1"
    args = (
        ArgSpec("out", int_at_least(1), aliases=("out_features",)),
        ArgSpec("bias", boolean, True),
        ArgSpec("axis", optional(integer), None),
    )

    def infer(self, args, inputs):
        (shape,) = inputs
        if args["axis"] not in (None, -1):
            raise LayerError("E202", f"linear: axis {args['axis']!r}: torch's Linear acts on the last axis only (axis=-1)", arg="axis")
        if len(shape) != 1 and args["axis"] is None:
            raise LayerError(
                "E305",
                f"linear on the {len(shape) - 1}-D spatial tensor {format_shape(shape)}: torch's Linear would act on "
                f"the last axis only (in_features={shape[-1]}); add `flatten` before it",
            )
        features, out = shape[-1], args["out"]
        params = out * features + (out if args["bias"] else 0)
        hparams = dict(in_features=features, out_features=out, bias=args["bias"])
        return Inferred("Linear", hparams, ((*shape[:-1], out),), params)

    def receptive_step(self, node, input_shapes):
        """Flat: every output reads every feature, the whole input (None). On the last axis of
        a larger tensor (axis=-1): elementwise, the last axis read as the channels of a
        channels-last tensor, as ConvNeXt applies it (docs/receptive-field.md)."""
        return None if len(input_shapes[0]) == 1 else super().receptive_step(node, input_shapes)

    def cost(self, node, input_shapes):
        """MACs as torch's flop counter (addmm / mm): in_features x out_features at each position
        of the other axes; bias adds are other ops."""
        h = node.hparams
        positions = prod(node.output[:-1])
        return Cost(positions * h["in_features"] * h["out_features"], positions * h["out_features"] if h["bias"] else 0)

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,))  # addmm keeps the input (and the weight, a parameter)


class Passthrough(SignatureFromArgs, LayerKind):
    """Layers that keep the shape and have no parameters: dropout, identity, stochastic depth."""

    fold = True

    def __init__(self, names, op, args=(), summary="", row_type="", torch_template=""):
        self.names, self.op, self.args, self.summary, self.row_type = names, op, args, summary, row_type or op
        self.torch_template = torch_template

    def infer(self, args, inputs):
        return Inferred(self.op, dict(args), inputs[:1])

    def cost(self, node, input_shapes):
        return Cost(0, 0)  # in eval mode dropout and stochastic depth pass their input through

    def saved_for_backward(self, node, input_shapes, needs_grad):
        p = node.hparams.get("p", 0.0)
        if self.op == "Dropout" and 0.0 < p < 1.0:
            # the scaled keep-mask, in the activation dtype (torch 2.13 on the CPU, as measured);
            # torch's fused GPU kernel keeps a bool mask instead, 1 byte per element
            return Saved(elements=prod(node.output))
        if self.op == "StochasticDepth" and p > 0.0 and node.hparams.get("mode") == "row":
            return Saved(elements=1)  # torchvision's one noise value per sample
        return NOTHING_SAVED

    def aliases(self, node):
        p = node.hparams.get("p", 0.0)
        return {0: 0} if self.op == "Identity" or p == 0.0 or (self.op == "Dropout" and node.hparams.get("inplace")) else {}

    def writes_in_place(self, node):
        """In-place dropout multiplies its input by the mask in training; with p = 0 torch returns the input untouched."""
        return self.op == "Dropout" and bool(node.hparams.get("inplace")) and node.hparams.get("p", 0.0) > 0.0


class Upsample(LayerKind):
    torch_template = "nn.Upsample"
    torch_defaults = {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}
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
            raise LayerError(
                "E306",
                f"upsample: mode '{mode}' needs {self._MODE_RANK[mode]} spatial axes, the input {format_shape(shape)} has {rank}",
                arg="mode",
            )
        if args["align_corners"] is not None and mode not in self._MODE_RANK:
            raise LayerError(
                "E202", "upsample: align_corners only applies to linear, bilinear, bicubic and trilinear modes", arg="align_corners"
            )
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

    def receptive_step(self, node, input_shapes):
        """A fractional stride (torch's source indices, exact arithmetic, away from the borders):
        q = 1/scale if a scale is given, else in/out (align_corners: (in-1)/(out-1)); output y
        reads, nearest: floor(y*q) (torch: y itself when out = in, y//2 when out = 2*in);
        nearest-exact: floor((y+1/2)*q); (bi/tri)linear: floor(s) and ceil(s) with
        s = (y+1/2)*q - 1/2 (align_corners: y*q); bicubic: floor(s)-1 .. ceil(s)+1, or s alone
        when s is whole (the other weights are 0). The step is the smallest window moving by q
        per output that holds every output's inputs."""
        from fractions import Fraction
        from math import ceil, floor

        h = node.hparams
        sizes, out = input_shapes[0][1:], node.output[1:]
        scales = hparam_axes(h["scale_factor"], len(sizes))
        mode, corners = h["mode"], bool(h["align_corners"])
        steps = []
        for n, m, scale in zip(sizes, out, scales):
            ratio = Fraction(n, m) if scale is None else 1 / Fraction(repr(float(scale)))
            if mode == "nearest":
                ratio = Fraction(1) if m == n else Fraction(1, 2) if m == 2 * n else ratio
                steps.append(resampling_step(ratio, lambda y, q=ratio: floor(y * q), lambda y, q=ratio: floor(y * q)))
                continue
            if mode == "nearest-exact":
                where = lambda y, q=ratio: floor((y + Fraction(1, 2)) * q)
                steps.append(resampling_step(ratio, where, where, (ratio / 2,)))
                continue
            if corners:
                ratio, shift = (Fraction(n - 1, m - 1) if m > 1 else Fraction(0)), Fraction(0)
            else:
                shift = (ratio - 1) / 2  # s = (y + 1/2) q - 1/2 = y q + (q - 1)/2
            extra = 1 if mode == "bicubic" else 0

            def first(y, q=ratio, shift=shift, extra=extra):
                s = y * q + shift
                return floor(s) - (extra if s != floor(s) else 0)

            def last(y, q=ratio, shift=shift, extra=extra):
                s = y * q + shift
                return ceil(s) + (extra if s != floor(s) else 0)

            steps.append(resampling_step(ratio, first, last, (shift,)))
        return tuple(steps)

    def cost(self, node, input_shapes):
        """Nearest: a copy. Interpolation: per output element, a weighted sum of 2^r (bicubic 4^r) inputs."""
        mode, rank = node.hparams["mode"], len(node.output) - 1
        if mode.startswith("nearest"):
            return Cost(0, 0)
        taps = (4 if mode == "bicubic" else 2) ** rank
        return Cost(0, (2 * taps - 1) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return NOTHING_SAVED  # the backward needs only the sizes


class PixelShuffle(MovesData, LayerKind):
    torch_template = "nn.PixelShuffle"
    torch_positional = ("upscale_factor",)
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

    def receptive_step(self, node, input_shapes):
        """Output y reads input y // r: a fractional stride 1/r, as nearest upsampling by r."""
        from fractions import Fraction
        from math import floor

        ratio = Fraction(1, node.hparams["upscale_factor"])
        where = lambda y: floor(y * ratio)
        return (resampling_step(ratio, where, where),) * (len(input_shapes[0]) - 1)


class ZeroPad(MovesData, LayerKind):
    torch_template = "nn.ZeroPad{n}d"
    torch_positional = ("padding",)
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
            before, after = pairs[2 * axis], pairs[2 * axis + 1]
            size = out[rank - 1 - axis]
            if size + min(before, 0) + min(after, 0) < 0:  # torch crops (negative padding) before it pads
                raise LayerError(
                    "E300",
                    f"{self.name}: the negative padding ({before}, {after}) crops more than the {size} "
                    f"pixels of spatial axis {rank - 1 - axis}",
                    arg="pad",
                )
            out[rank - 1 - axis] = size + before + after
        if min(out) < 1:
            raise LayerError("E300", f"{self.name}: output size {format_shape(out)} is below 1")
        return Inferred(f"ZeroPad{rank}d", dict(padding=pad), ((shape[0], *out),))

    def receptive_step(self, node, input_shapes):
        """k = 1, s = 1, the left padding of each axis (torch's pairs start from the last axis;
        a negative padding crops)."""
        rank, pad = len(input_shapes[0]) - 1, node.hparams["padding"]
        pairs = (pad,) * (2 * rank) if isinstance(pad, int) else pad
        return tuple((1, 1, pairs[2 * (rank - 1 - axis)]) for axis in range(rank))


class ChannelShuffle(MovesData, LayerKind):
    torch_template = "nn.ChannelShuffle"
    torch_positional = ("groups",)
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
        self.torch_template = "torch.chunk(x, chunks, dim=1)" if op == "Chunk" else "torch.split(x, sizes, dim=1)"
        self.summary = "torch.chunk(x, chunks, dim=1)" if op == "Chunk" else "torch.split(x, sizes, dim=1)"

    def infer(self, args, inputs):
        channels = inputs[0][0]
        if self.op == "Chunk":
            size = -(-channels // args["chunks"])
            sizes = self._equal_sizes(size, channels)
            hparams = dict(chunks=args["chunks"], dim=1)
        else:
            sizes = self._split_sizes(args["sizes"], channels)
            hparams = dict(split_size_or_sections=args["sizes"], dim=1)
        outputs = tuple((s, *inputs[0][1:]) for s in sizes)
        return Inferred(self.op, hparams, outputs)

    def cost(self, node, input_shapes):
        return Cost(0, 0)  # moves data: no arithmetic

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return NOTHING_SAVED

    def aliases(self, node):
        return {index: 0 for index in range(len(node.outputs or ()))}  # views of the input

    def multi_output_view(self, node):
        return True

    def _equal_sizes(self, size, channels):
        """torch's pieces of `size` channels, the last one smaller; refused before they are built
        when there would be more than the layer limit (each output tensor is a node's output)."""
        count = -(-channels // size)
        if count > MAX_NODES:
            raise LayerError("E211", f"{self.names[0]}: {count:,} tensors would exceed the limit of {MAX_NODES:,} layers")
        return [size] * (channels // size) + ([channels % size] if channels % size else [])

    def _split_sizes(self, sizes, channels):
        if isinstance(sizes, int):
            return self._equal_sizes(sizes, channels)
        if min(sizes) < 1:  # torch gives an empty tensor for a 0 (and rejects negative sizes)
            raise LayerError("E202", f"split: sizes {sizes!r} must each be at least 1", arg="sizes")
        if sum(sizes) != channels:
            raise LayerError("E202", f"split: sizes {sizes!r} do not add up to the {channels} channels", arg="sizes")
        return list(sizes)


class LayerScale(LayerKind):
    torch_template = "an nn.Parameter of shape (C, 1, ..., 1), multiplied in"
    torch_positional = ("channels", "rank")  # the class the generated file defines
    torch_defaults = {"init": 1e-06}
    names = ("layerscale",)
    row_type = "Layer scale"
    fold = True
    summary = "a learnable per-channel scale (ConvNeXt's layer scale), initialised to `init`"
    args = (ArgSpec("init", number, 1e-6),)

    def infer(self, args, inputs):
        (shape,) = inputs
        return Inferred("LayerScale", dict(channels=shape[0], rank=len(shape), init=args["init"]), (shape,), shape[0])

    def cost(self, node, input_shapes):
        return Cost(0, prod(node.output))  # one multiply per element

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,))  # x * gamma keeps x (and gamma, a parameter)


class OwnedParameter(LayerKind):
    """x * p for a learnable p of a given shape, broadcast as torch does, held by the enclosing
    module under the layer's label (ConvNeXt's `layer_scale`, state_dict key `<module>.layer_scale`)."""

    torch_template = "an nn.Parameter of the enclosing module, multiplied in: x * self.<label>"
    torch_positional = ("shape", "init")
    names = ("parameter",)
    row_type = "Parameter"
    fold = True
    owned_parameter = True
    summary = (
        "multiply by a learnable parameter of `shape` (broadcast), initialised to `init`, kept by the enclosing module under the label"
    )
    args = (ArgSpec("shape", int_or_tuple), ArgSpec("init", number, 1.0))

    def infer(self, args, inputs):
        (shape,) = inputs
        wanted = args["shape"] if isinstance(args["shape"], tuple) else (args["shape"],)
        if min(wanted) < 1:
            raise LayerError("E202", f"parameter: shape {wanted!r} has an axis below 1", arg="shape")
        trailing = shape[len(shape) - len(wanted) :]
        if len(wanted) > len(shape) or any(w not in (1, s) for w, s in zip(wanted, trailing)):
            raise LayerError(
                "E307",
                f"parameter: shape {format_shape(wanted)} does not broadcast to the input {format_shape(shape)} "
                "(each axis must be 1 or the input's, aligned from the last)",
                arg="shape",
            )
        return Inferred("Parameter", dict(shape=wanted, init=args["init"]), (shape,), prod(wanted))

    def cost(self, node, input_shapes):
        return Cost(0, prod(node.output))  # one multiply per element

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,))  # x * p keeps x (and p, a parameter)


def _split_sizes_arg(kind, arg, value):
    if isinstance(value, tuple):
        return int_or_tuple(kind, arg, value)
    return int_at_least(1)(kind, arg, value)


KINDS = [
    Flatten(),
    Permute(),
    Linear(),
    Passthrough(("dropout",), "Dropout", (ArgSpec("p", probability, 0.5), ArgSpec("inplace", boolean, False)), "dropout", "Dropout"),
    Passthrough(("identity",), "Identity", summary="does nothing (a placeholder)"),
    Passthrough(
        ("stochasticdepth", "droppath"),
        "StochasticDepth",
        (ArgSpec("p", probability), ArgSpec("mode", choice("row", "batch"), "row")),
        "drops the whole residual branch with probability p (per sample in 'row' mode)",
        "Stochastic depth",
        "torchvision.ops.StochasticDepth",
    ),
    Upsample(),
    PixelShuffle(),
    ChannelShuffle(),
    LayerScale(),
    OwnedParameter(),
    Split(("chunk",), "Chunk", ArgSpec("chunks", int_at_least(1))),
    Split(("split",), "Split", ArgSpec("sizes", _split_sizes_arg, aliases=("split_size", "sections"))),
] + [ZeroPad(d) for d in (None, 1, 2, 3)]
