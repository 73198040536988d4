"""The layer graph evaluated directly, with torch.nn.functional: what the .cnn file means,
independent of the generated source (`cnnspec verify` compares the two numerically).

One rule per layer family, in RULES: (node, its input tensors, its state, training) -> its
output tensors. A node's state is its parameters and buffers by torch's attribute names
(weight, bias, running_mean, running_var, num_batches_tracked; LayerScale's gamma); rules
update buffers as torch's modules do (batch norm's running statistics in training). Every
rule computes out of place: an in-place layer means the same function (cnnspec rejects the
in-place writes that would change it, cnnspec/analysis/aliasing.py). Dropout and stochastic
depth draw from torch's generator; `before_random(node)` runs first, so that a caller can
seed both sides alike. Imports torch: only `cnnspec verify` loads this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
RANDOM_OPS = ("Dropout", "StochasticDepth")


def _family(op: str) -> str:
    return re.sub(r"[123]d$", "", op)


def _rank(x: Tensor) -> int:
    return x.dim() - 2


def conv(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    function = getattr(F, f"conv{_rank(x)}d")
    return function(x, state["weight"], state.get("bias"), h["stride"], h["padding"], h["dilation"], h["groups"])


def conv_transpose(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    function = getattr(F, f"conv_transpose{_rank(x)}d")
    return function(x, state["weight"], state.get("bias"), h["stride"], h["padding"], h["output_padding"], h["groups"], h["dilation"])


def max_pool(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    return getattr(F, f"max_pool{_rank(x)}d")(x, h["kernel_size"], h["stride"], h["padding"], h["dilation"], ceil_mode=h["ceil_mode"])


def avg_pool(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    return getattr(F, f"avg_pool{_rank(x)}d")(x, h["kernel_size"], h["stride"], h["padding"], h["ceil_mode"], h["count_include_pad"])


def adaptive(family: str):
    def rule(node, inputs, state, training):
        (x,) = inputs
        return getattr(F, f"adaptive_{family}_pool{_rank(x)}d")(x, node.hparams["output_size"])

    return rule


def batch_norm(node, inputs, state, training):
    """nn.BatchNorm's forward: running statistics updated in training (momentum none: a
    cumulative average over the batches seen), used in eval mode when tracked."""
    (x,) = inputs
    h = node.hparams
    tracked = h["track_running_stats"]
    factor = 0.0 if h["momentum"] is None else h["momentum"]
    if training and tracked:
        state["num_batches_tracked"].add_(1)
        if h["momentum"] is None:
            factor = 1.0 / float(state["num_batches_tracked"])
    mean, var = (state["running_mean"], state["running_var"]) if tracked else (None, None)
    return F.batch_norm(x, mean, var, state.get("weight"), state.get("bias"), training or not tracked, factor, h["eps"])


def instance_norm(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    tracked = h["track_running_stats"]
    mean, var = (state["running_mean"], state["running_var"]) if tracked else (None, None)
    momentum = 0.0 if h["momentum"] is None else h["momentum"]
    return F.instance_norm(x, mean, var, state.get("weight"), state.get("bias"), training or not tracked, momentum, h["eps"])


def group_norm(node, inputs, state, training):
    (x,) = inputs
    return F.group_norm(x, node.hparams["num_groups"], state.get("weight"), state.get("bias"), node.hparams["eps"])


def layer_norm(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    return F.layer_norm(x, tuple(h["normalized_shape"]), state.get("weight"), state.get("bias"), h["eps"])


def layer_norm_2d(node, inputs, state, training):
    """torchvision's LayerNorm2d: over the channels of each position of an N x C x H x W tensor."""
    (x,) = inputs
    h = node.hparams
    channels_last = F.layer_norm(x.permute(0, 2, 3, 1), (h["normalized_shape"],), state.get("weight"), state.get("bias"), h["eps"])
    return channels_last.permute(0, 3, 1, 2)


def local_response_norm(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    return F.local_response_norm(x, h["size"], h["alpha"], h["beta"], h["k"])


def elementwise(function: Callable, *names: str):
    """An activation: `function(x, *its hyperparameters named `names`)`, never in place."""

    def rule(node, inputs, state, training):
        (x,) = inputs
        return function(x, *(node.hparams[name] for name in names))

    return rule


def prelu(node, inputs, state, training):
    (x,) = inputs
    return F.prelu(x, state["weight"])


def dropout(node, inputs, state, training):
    (x,) = inputs
    return F.dropout(x, node.hparams["p"], training)


def stochastic_depth(node, inputs, state, training):
    """torchvision.ops.stochastic_depth: per sample ('row') or per batch, a kept branch scaled by 1/(1 - p)."""
    (x,) = inputs
    p, mode = node.hparams["p"], node.hparams["mode"]
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


def flatten(node, inputs, state, training):
    (x,) = inputs
    return torch.flatten(x, node.hparams["start_dim"], node.hparams["end_dim"])


def linear(node, inputs, state, training):
    (x,) = inputs
    return F.linear(x, state["weight"], state.get("bias"))


def upsample(node, inputs, state, training):
    (x,) = inputs
    h = node.hparams
    return F.interpolate(x, h["size"], h["scale_factor"], h["mode"], h["align_corners"])


def zero_pad(node, inputs, state, training):
    (x,) = inputs
    pad = node.hparams["padding"]
    return F.pad(x, (pad,) * (2 * _rank(x)) if isinstance(pad, int) else tuple(pad))


def channel_shuffle(node, inputs, state, training):
    """Channels (g, C/g) -> (C/g, g): written as the reshape it is."""
    (x,) = inputs
    groups = node.hparams["groups"]
    n, channels, *spatial = x.shape
    return x.reshape(n, groups, channels // groups, *spatial).transpose(1, 2).reshape(x.shape)


def merge(function: Callable):
    def rule(node, inputs, state, training):
        out = inputs[0]
        for tensor in inputs[1:]:
            out = function(out, tensor)
        return out

    return rule


RULES: dict[str, Callable] = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "MaxPool": max_pool,
    "AvgPool": avg_pool,
    "AdaptiveMaxPool": adaptive("max"),
    "AdaptiveAvgPool": adaptive("avg"),
    "BatchNorm": batch_norm,
    "InstanceNorm": instance_norm,
    "GroupNorm": group_norm,
    "LayerNorm": layer_norm,
    "LayerNorm2d": layer_norm_2d,  # looked up by its op: its family would be LayerNorm
    "Permute": lambda node, inputs, state, training: inputs[0].permute(*node.hparams["dims"]),
    "Parameter": lambda node, inputs, state, training: inputs[0] * state["weight"],
    "LocalResponseNorm": local_response_norm,
    "ReLU": elementwise(F.relu),
    "ReLU6": elementwise(F.relu6),
    "LeakyReLU": elementwise(F.leaky_relu, "negative_slope"),
    "ELU": elementwise(F.elu, "alpha"),
    "GELU": elementwise(lambda x, approximate: F.gelu(x, approximate=approximate), "approximate"),
    "SiLU": elementwise(F.silu),
    "Hardswish": elementwise(F.hardswish),
    "Hardsigmoid": elementwise(F.hardsigmoid),
    "Sigmoid": elementwise(torch.sigmoid),
    "Tanh": elementwise(torch.tanh),
    "PReLU": prelu,
    "Softmax": elementwise(F.softmax, "dim"),
    "LogSoftmax": elementwise(F.log_softmax, "dim"),
    "Dropout": dropout,
    "Identity": lambda node, inputs, state, training: inputs[0],
    "StochasticDepth": stochastic_depth,
    "Flatten": flatten,
    "Linear": linear,
    "Upsample": upsample,
    "PixelShuffle": lambda node, inputs, state, training: F.pixel_shuffle(inputs[0], node.hparams["upscale_factor"]),
    "ZeroPad": zero_pad,
    "ChannelShuffle": channel_shuffle,
    "LayerScale": lambda node, inputs, state, training: inputs[0] * state["gamma"],
    "Add": merge(torch.add),
    "Mul": merge(torch.mul),
    "Cat": lambda node, inputs, state, training: torch.cat(inputs, dim=1),
    "Chunk": lambda node, inputs, state, training: torch.chunk(inputs[0], node.hparams["chunks"], dim=1),
    "Split": lambda node, inputs, state, training: torch.split(inputs[0], node.hparams["split_size_or_sections"], dim=1),
}


def evaluate(graph, x: Tensor, state: dict[int, dict[str, Tensor]], training: bool, before_random=None) -> dict[tuple[int, int], Tensor]:
    """Every tensor of the graph, (node id, output index) -> value, for the input batch x.
    `state`: each node's parameters and buffers by attribute name (buffers are updated)."""
    values: dict[tuple[int, int], Tensor] = {(0, 0): x}
    for node in graph.nodes[1:]:
        if before_random is not None and node.op in RANDOM_OPS:
            before_random(node)
        inputs = [values[value.node, value.index] for value in node.inputs]
        rule = RULES.get(node.op) or RULES[_family(node.op)]
        outputs = rule(node, inputs, state.get(node.id, {}), training)
        for index, output in enumerate(outputs if isinstance(outputs, (tuple, list)) else (outputs,)):
            values[node.id, index] = output
    return values
