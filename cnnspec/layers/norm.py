"""Normalisation layers: BatchNorm, GroupNorm, LayerNorm, InstanceNorm, LocalResponseNorm."""

from __future__ import annotations

from math import prod

from cnnspec.layers.base import (
    ArgSpec,
    Inferred,
    LayerError,
    LayerKind,
    boolean,
    format_shape,
    int_at_least,
    int_or_tuple,
    number,
    optional,
)


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


class InstanceNorm(LayerKind):
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
        channels = shape[0]
        params = 2 * channels if args["affine"] else 0
        buffers = 2 * channels + 1 if args["track_running_stats"] else 0
        return Inferred(f"InstanceNorm{rank}d", dict(num_features=channels, **args), (shape,), params, buffers)


class GroupNorm(LayerKind):
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


class LayerNorm(LayerKind):
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
        if len(normalized) > len(shape) or tuple(shape[len(shape) - len(normalized):]) != tuple(normalized):
            raise LayerError(
                "E307", f"layernorm: normalized shape {format_shape(normalized)} does not match the trailing axes "
                f"of the input {format_shape(shape)}", arg="shape"
            )
        affine = args["elementwise_affine"]
        params = prod(normalized) * (affine + (affine and args["bias"]))
        hparams = dict(normalized_shape=tuple(normalized), eps=args["eps"], elementwise_affine=affine, bias=args["bias"])
        return Inferred("LayerNorm", hparams, (shape,), params)


class LocalResponseNorm(LayerKind):
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


KINDS = [BatchNorm(d) for d in (None, 1, 2, 3)] + [InstanceNorm(d) for d in (None, 1, 2, 3)]
KINDS += [GroupNorm(), LayerNorm(), LocalResponseNorm()]
