"""Normalisation layers: BatchNorm, GroupNorm, LayerNorm, LayerNorm2d, InstanceNorm, LocalResponseNorm."""

from __future__ import annotations

from math import prod

from cnnspec.layers.base import (
    ArgSpec,
    Cost,
    Inferred,
    LayerError,
    LayerKind,
    Saved,
    boolean,
    format_shape,
    int_at_least,
    int_or_tuple,
    number,
    optional,
    spatial_rank,
)

# Operation counts per element (docs/compute-and-memory.md): computing the statistics (a sum
# for the mean, a multiply-add for the mean of squares), normalising (subtract, multiply by
# 1/std), the affine scale and shift. Per-channel work (square roots) is not counted.
_STATISTICS, _NORMALISE = 3, 2
# For backward, torch keeps the input and a mean and 1/std per normalised group, in the
# activation dtype (measured on the CPU in float32, bfloat16 and float16).


def _suffix(dims):
    return "" if dims is None else f"{dims}d"


def _feature_rank(kind, shape, dims, accepts_flat: bool) -> int:
    """BatchNorm1d takes (C) or (C, L); 2d takes (C, H, W); 3d (C, D, H, W)."""
    rank = max(1, len(shape) - 1)
    if len(shape) == 1 and not accepts_flat:
        raise LayerError("E306", f"{kind.name} needs spatial axes, but its input is the flat vector {format_shape(shape)}")
    if dims is not None and rank != dims:
        raise LayerError("E306", f"{kind.name} expects {dims} spatial axes, but its input is {format_shape(shape)}")
    if rank > 3:
        raise LayerError("E306", f"{kind.name} does not accept a {rank}-D input ({format_shape(shape)})")
    return rank


class BatchNorm(LayerKind):
    torch_template = "nn.BatchNorm{n}d"
    torch_positional = ("num_features",)
    torch_defaults = {"eps": 1e-05, "momentum": 0.1, "affine": True, "track_running_stats": True}
    row_type = "Batch normalization"
    fold = True
    summary = "batch normalization over the channel axis (running_mean, running_var, num_batches_tracked buffers)"
    args = (
        ArgSpec("eps", number, 1e-5),
        ArgSpec("momentum", optional(number), 0.1),
        ArgSpec("affine", boolean, True),
        ArgSpec("track_running_stats", boolean, True),
    )

    def __init__(self, dims):
        self.dims = dims
        self.names = (f"batchnorm{_suffix(dims)}",) + (("bn",) if dims is None else ())

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = _feature_rank(self, shape, self.dims, accepts_flat=True)
        channels = shape[0]
        params = 2 * channels if args["affine"] else 0
        buffers = 2 * channels + 1 if args["track_running_stats"] else 0
        hparams = dict(num_features=channels, **args)
        return Inferred(f"BatchNorm{rank}d", hparams, (shape,), params, buffers)

    def cost(self, node, input_shapes):
        """Eval mode: normalise with the running statistics (computed from the batch without them), then scale and shift."""
        h = node.hparams
        per_element = _NORMALISE + 2 * h["affine"] + (0 if h["track_running_stats"] else _STATISTICS)
        return Cost(0, per_element * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        # the input, and the batch mean and 1/std per channel (the running stats are buffers)
        return Saved(inputs=(0,), fixed_elements=2 * node.hparams["num_features"])


class InstanceNorm(LayerKind):
    torch_template = "nn.InstanceNorm{n}d"
    torch_positional = ("num_features",)
    torch_defaults = {"eps": 1e-05, "momentum": 0.1, "affine": False, "track_running_stats": False}
    row_type = "Instance normalization"
    fold = True
    summary = "instance normalization (torch defaults: no affine, no running stats)"
    args = BatchNorm.args[:2] + (ArgSpec("affine", boolean, False), ArgSpec("track_running_stats", boolean, False))

    def __init__(self, dims):
        self.dims = dims
        self.names = (f"instancenorm{_suffix(dims)}",)

    def infer(self, args, inputs):
        (shape,) = inputs
        rank = _feature_rank(self, shape, self.dims, accepts_flat=False)
        if prod(shape[1:]) == 1:
            # torch normalises each sample's channel over its spatial elements; with one there is
            # nothing to normalise, and training raises "Expected more than 1 spatial element".
            raise LayerError(
                "E307",
                f"{self.name}: the input {format_shape(shape)} has a single spatial element per channel; "
                "torch's instance norm needs more than one (it raises when training)",
            )
        channels = shape[0]
        params = 2 * channels if args["affine"] else 0
        buffers = 2 * channels + 1 if args["track_running_stats"] else 0
        return Inferred(f"InstanceNorm{rank}d", dict(num_features=channels, **args), (shape,), params, buffers)

    def cost(self, node, input_shapes):
        h = node.hparams
        per_element = _NORMALISE + 2 * h["affine"] + (0 if h["track_running_stats"] else _STATISTICS)
        return Cost(0, per_element * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        # torch runs batch norm on the input viewed as (1, N*C, ...): per sample and channel a mean
        # and 1/std, plus the weight and running stats repeated N times when there are any
        h = node.hparams
        per_channel = 2 + h["affine"] + 2 * h["track_running_stats"]
        return Saved(inputs=(0,), elements=per_channel * h["num_features"])


class GroupNorm(LayerKind):
    torch_template = "nn.GroupNorm"
    torch_positional = ("num_groups", "num_channels")
    torch_defaults = {"eps": 1e-05, "affine": True}
    names = ("groupnorm",)
    row_type = "Group normalization"
    fold = True
    summary = "group normalization; channels must divide into the groups"
    args = (ArgSpec("groups", int_at_least(1), aliases=("num_groups",)), ArgSpec("eps", number, 1e-5), ArgSpec("affine", boolean, True))

    def infer(self, args, inputs):
        (shape,) = inputs
        channels = shape[0]
        if channels % args["groups"]:
            raise LayerError("E302", f"groupnorm: channels ({channels}) are not divisible by groups ({args['groups']})", arg="groups")
        hparams = dict(num_groups=args["groups"], num_channels=channels, eps=args["eps"], affine=args["affine"])
        return Inferred("GroupNorm", hparams, (shape,), 2 * channels if args["affine"] else 0)

    def cost(self, node, input_shapes):
        return Cost(0, (_STATISTICS + _NORMALISE + 2 * node.hparams["affine"]) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        return Saved(inputs=(0,), elements=2 * node.hparams["num_groups"])  # mean, 1/std per group


class LayerNorm(LayerKind):
    torch_template = "nn.LayerNorm"
    torch_positional = ("normalized_shape",)
    torch_defaults = {"eps": 1e-05, "elementwise_affine": True, "bias": True}
    names = ("layernorm",)
    row_type = "Layer normalization"
    fold = True
    summary = "layer normalization over the trailing axes `shape` (default: the whole sample)"
    args = (
        ArgSpec("shape", optional(int_or_tuple), None, aliases=("normalized_shape",)),
        ArgSpec("eps", number, 1e-5),
        ArgSpec("elementwise_affine", boolean, True, aliases=("affine",)),
        ArgSpec("bias", boolean, True),
    )

    def infer(self, args, inputs):
        (shape,) = inputs
        wanted = args["shape"]
        normalized = shape if wanted is None else (wanted if isinstance(wanted, tuple) else (wanted,))
        if len(normalized) > len(shape) or tuple(shape[len(shape) - len(normalized) :]) != tuple(normalized):
            raise LayerError(
                "E307",
                f"layernorm: normalized shape {format_shape(normalized)} does not match the trailing axes "
                f"of the input {format_shape(shape)}",
                arg="shape",
            )
        affine = args["elementwise_affine"]
        params = prod(normalized) * (affine + (affine and args["bias"]))
        hparams = dict(normalized_shape=tuple(normalized), eps=args["eps"], elementwise_affine=affine, bias=args["bias"])
        return Inferred("LayerNorm", hparams, (shape,), params)

    def cost(self, node, input_shapes):
        h = node.hparams
        affine = h["elementwise_affine"] + (h["elementwise_affine"] and h["bias"])
        return Cost(0, (_STATISTICS + _NORMALISE + affine) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        groups = prod(node.output) // prod(node.hparams["normalized_shape"])  # one mean and 1/std per group
        return Saved(inputs=(0,), elements=2 * groups)


class LayerNorm2d(LayerKind):
    """torchvision's LayerNorm2d (ConvNeXt): an nn.LayerNorm over the channels of a
    channels-first C x H x W tensor, each position normalised on its own."""

    torch_template = "torchvision.models.convnext.LayerNorm2d"
    torch_positional = ("normalized_shape",)  # the class the generated file defines
    torch_defaults = LayerNorm.torch_defaults
    names = ("layernorm2d",)
    row_type = "Layer normalization"
    fold = True
    summary = "layer normalization over the channels of C x H x W, at each position (torchvision's LayerNorm2d)"
    args = LayerNorm.args[1:]

    def infer(self, args, inputs):
        (shape,) = inputs
        spatial_rank(self, shape, 2)
        channels, affine = shape[0], args["elementwise_affine"]
        params = channels * (affine + (affine and args["bias"]))
        hparams = dict(normalized_shape=channels, eps=args["eps"], elementwise_affine=affine, bias=args["bias"])
        return Inferred("LayerNorm2d", hparams, (shape,), params)

    def cost(self, node, input_shapes):
        h = node.hparams
        affine = h["elementwise_affine"] + (h["elementwise_affine"] and h["bias"])
        return Cost(0, (_STATISTICS + _NORMALISE + affine) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        # layer_norm on the channels-last view keeps that view (the input's storage) and a
        # mean and 1/std per position
        return Saved(inputs=(0,), elements=2 * prod(node.output[1:]))


class LocalResponseNorm(LayerKind):
    torch_template = "nn.LocalResponseNorm"
    torch_positional = ("size",)
    torch_defaults = {"alpha": 0.0001, "beta": 0.75, "k": 1.0}
    names = ("lrn", "localresponsenorm")
    row_type = "Local response normalization"
    fold = True
    summary = "local response normalization across channels"
    args = (
        ArgSpec("size", int_at_least(1)),
        ArgSpec("alpha", number, 1e-4),
        ArgSpec("beta", number, 0.75),
        ArgSpec("k", number, 1.0),
    )

    def infer(self, args, inputs):
        (shape,) = inputs
        if len(shape) < 2:
            raise LayerError("E306", f"lrn needs spatial axes, but its input is the flat vector {format_shape(shape)}")
        return Inferred("LocalResponseNorm", dict(args), (shape,))

    def cost(self, node, input_shapes):
        """Per element: square, sum `size` squares (size - 1 adds), scale and add k, power, divide."""
        return Cost(0, (node.hparams["size"] + 4) * prod(node.output))

    def saved_for_backward(self, node, input_shapes, needs_grad):
        # torch's composite: the input, the zero-padded squares (C + size - 1 channels) kept by
        # the average pool, and the two C-channel intermediates kept by pow and the division
        channels, *spatial = node.output
        return Saved(inputs=(0,), elements=(3 * channels + node.hparams["size"] - 1) * prod(spatial))


KINDS = [BatchNorm(d) for d in (None, 1, 2, 3)] + [InstanceNorm(d) for d in (None, 1, 2, 3)]
KINDS += [GroupNorm(), LayerNorm(), LayerNorm2d(), LocalResponseNorm()]
