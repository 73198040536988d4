"""What a layer kind is: its arguments, its shape rule, its counts, its torch spelling."""

from __future__ import annotations

from math import ceil, floor, prod
from typing import NamedTuple

from cnnspec.ir import Shape

REQUIRED = object()
MAX_NODES = 1_000_000  # the most layers (and tensors from one split) a net may have: E211


class LayerError(Exception):
    """A layer cannot be applied: a diagnostic code, a message, optionally the argument at fault."""

    def __init__(self, code: str, message: str, arg: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.arg = arg


class ArgSpec(NamedTuple):
    """One argument: its DSL name, its type check, its default and other spellings."""

    name: str
    check: object  # a function (layer, argname, value) -> normalised value; raises LayerError
    default: object = REQUIRED
    aliases: tuple[str, ...] = ()
    doc: str = ""


class Inferred(NamedTuple):
    """The result of applying a layer to input shapes."""

    op: str
    hparams: dict
    outputs: tuple[Shape, ...]
    params: int = 0
    buffers: int = 0
    warnings: list | tuple = ()  # (code, message, axes) triples


class Cost(NamedTuple):
    """One sample's forward cost of a layer (docs/compute-and-memory.md).

    macs: multiply-accumulates of convolutions, transposed convolutions and matrix products,
    as torch.utils.flop_counter counts them (FLOPs = 2 x MACs; bias ignored);
    other_ops: every other arithmetic operation (bias adds, normalisation, activations,
    pooling, merges), or None where it cannot be determined (the node is flagged, not 0).
    """

    macs: int = 0
    other_ops: int | None = 0


class Saved(NamedTuple):
    """What autograd keeps for a layer's backward pass (docs/compute-and-memory.md).

    inputs, outputs: indices of the input and output tensors it keeps by reference (shared
    with any other layer keeping the same storage); elements: new tensors in the activation
    dtype, elements per sample; raw_bytes: new tensors of a fixed dtype (int64 indices),
    bytes per sample; fixed_elements: new tensors in the activation dtype whose size does not
    depend on the batch (batch-norm statistics). Parameters are never counted here.
    """

    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    elements: int = 0
    raw_bytes: int = 0
    fixed_elements: int = 0


NOTHING_SAVED = Saved()


class MovesData:
    """Mixin for layers that only move data: no arithmetic, nothing kept for backward."""

    def cost(self, node, input_shapes) -> Cost:
        return Cost(0, 0)

    def saved_for_backward(self, node, input_shapes, needs_grad) -> Saved:
        return NOTHING_SAVED


class LayerKind:
    """A layer kind. Subclasses set `names`, `args`, `row_type`, and implement `infer`.

    `fold` says whether the human table folds this layer into the row before it
    (activations, normalisation, dropout, identity), as the VGG19 table does.
    `functional` layers have no nn.Module (merges, split): torch spells them as functions.
    """

    names: tuple[str, ...] = ()
    args: tuple[ArgSpec, ...] = ()
    row_type: str = ""
    fold: bool = False
    functional: bool = False
    # a bare nn.Parameter of the enclosing module, named by the layer's label and applied by
    # that module's forward (`x * self.layer_scale`): no nn.Module of its own
    owned_parameter: bool = False
    summary: str = ""
    arity: int = 1  # number of input tensors; 0 means any number >= 1

    torch_template = ""  # how PyTorch spells it, {n} standing for the number of spatial axes
    # The torch constructor, for codegen: arguments written without their name, and the
    # defaults it leaves out (torch's own, which may differ from the DSL's).
    torch_positional: tuple[str, ...] = ()
    torch_defaults: dict = {}

    @property
    def torch(self) -> str:
        """The PyTorch equivalent, for the language reference."""
        template = self.torch_template or f"nn.{getattr(self, 'op', '')}"
        dims = getattr(self, "dims", None)
        return template.replace("{n}", str(dims) if dims else "{1,2,3}")

    def infer(self, args: dict, inputs: tuple[Shape, ...]) -> Inferred:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.names[0]

    def bind(self, positional: list, keywords: dict) -> dict:
        """Match call arguments to this kind's ArgSpecs; check and normalise each value."""
        if len(positional) > len(self.args):
            raise LayerError("E203", f"{self.name} takes at most {len(self.args)} positional arguments, got {len(positional)}")
        bound = {}
        for spec, value in zip(self.args, positional):
            bound[spec.name] = value
        for key, value in keywords.items():
            spec = self.spec_for(key)
            if spec.name in bound:
                raise LayerError("E203", f"{self.name}: argument '{spec.name}' given twice", arg=key)
            bound[spec.name] = value
        result = {}
        for spec in self.args:
            if spec.name in bound:
                result[spec.name] = spec.check(self, spec.name, bound[spec.name])
            elif spec.default is REQUIRED:
                raise LayerError("E203", f"{self.name}: missing required argument '{spec.name}'")
            else:
                result[spec.name] = spec.default
        return result

    def spec_for(self, key: str) -> ArgSpec:
        for spec in self.args:
            if key == spec.name or key in spec.aliases:
                return spec
        raise LayerError("E201", f"{self.name} has no argument '{key}'", arg=key)

    def argument_names(self) -> list[str]:
        return [name for spec in self.args for name in (spec.name, *spec.aliases)]

    # ---- receptive field: the rule used by cnnspec/analysis/receptive.py ----

    def receptive_step(self, node, input_shapes: tuple[Shape, ...]):
        """The window one output reads, per spatial axis of the (first) input: a tuple of
        (effective kernel, stride, left padding), ints or fractions.Fraction (a stride below 1
        upsamples), in input positions. None: every output reads the whole input (global
        pooling, flatten, linear). Default: elementwise, (1, 1, 0) on every axis."""
        return ((1, 1, 0),) * max(len(input_shapes[0]) - 1, 0) if input_shapes else ()

    # ---- compute and memory: rules used by cnnspec/analysis/compute.py and memory.py ----

    def cost(self, node, input_shapes: tuple[Shape, ...]) -> Cost:
        """One sample's forward cost. Default: no rule is known, so other_ops is None (flagged)."""
        return Cost(0, None)

    def saved_for_backward(self, node, input_shapes: tuple[Shape, ...], needs_grad: tuple[bool, ...]) -> Saved | None:
        """What autograd keeps for this layer's backward in a training step; `needs_grad` says
        for each input whether it requires grad. Default: no rule is known (None): the memory
        model then assumes the inputs are kept and flags the node."""
        return None

    def aliases(self, node) -> dict[int, int]:
        """Outputs that share an input's storage, {output index: input index}: views and
        in-place ops. Default: every output is a new tensor."""
        return {}

    def writes_in_place(self, node) -> bool:
        """Whether the layer overwrites its (first) input's storage in a training step
        (cnnspec/analysis/aliasing.py). Default: it does not."""
        return False

    def multi_output_view(self, node) -> bool:
        """Whether its outputs are views that torch's autograd forbids modifying in place
        (the outputs of one chunk or split). Default: no."""
        return False


# ---- argument checks: each returns the normalised value or raises LayerError ------------


def _fail(kind, arg, expected, value):
    raise LayerError("E202", f"{kind.name}: argument '{arg}' expects {expected}, got {value!r}", arg=arg)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_at_least(minimum: int):
    def check(kind, arg, value):
        if not _is_int(value) or value < minimum:
            _fail(kind, arg, f"an integer >= {minimum}", value)
        return value

    return check


def integer(kind, arg, value):
    if not _is_int(value):
        _fail(kind, arg, "an integer", value)
    return value


def boolean(kind, arg, value):
    if not isinstance(value, bool):
        _fail(kind, arg, "true or false", value)
    return value


def number(kind, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(kind, arg, "a number", value)
    return float(value)


def probability(kind, arg, value):
    value = number(kind, arg, value)
    if not 0.0 <= value <= 1.0:
        _fail(kind, arg, "a probability between 0 and 1", value)
    return value


def choice(*options):
    def check(kind, arg, value):
        if value not in options or not isinstance(value, str):
            _fail(kind, arg, "one of " + ", ".join(repr(o) for o in options), value)
        return value

    return check


def per_axis(minimum: int):
    """An integer, or a tuple with one integer per spatial axis (length checked at infer time)."""

    def check(kind, arg, value):
        items = value if isinstance(value, tuple) else (value,)
        if not items or not all(_is_int(v) and v >= minimum for v in items):
            _fail(kind, arg, f"an integer >= {minimum} or a tuple of them", value)
        return value

    return check


def optional(inner):
    def check(kind, arg, value):
        return None if value is None else inner(kind, arg, value)

    return check


def int_or_tuple(kind, arg, value):
    items = value if isinstance(value, tuple) else (value,)
    if not items or not all(_is_int(v) for v in items):
        _fail(kind, arg, "an integer or a tuple of integers", value)
    return value


# ---- shape helpers ------------------------------------------------------------------


def spatial_rank(kind: LayerKind, shape: Shape, dims: int | None, allowed=(1, 2, 3)) -> int:
    """The number of spatial axes of `shape` (C, *spatial); checks it against the layer's."""
    rank = len(shape) - 1
    if dims is not None and rank != dims:
        raise LayerError(
            "E306",
            f"{kind.name} expects a {dims}-D input (C{' x L' if dims == 1 else ''}"
            f"{' x H x W' if dims == 2 else ''}{' x D x H x W' if dims == 3 else ''}), "
            f"but its input is {format_shape(shape)}",
        )
    if rank not in allowed:
        if rank == 0:
            raise LayerError("E306", f"{kind.name} needs spatial axes, but its input is the flat vector {format_shape(shape)}")
        raise LayerError("E306", f"{kind.name} does not accept a {rank}-D input ({format_shape(shape)})")
    return rank


def expand_axes(kind: LayerKind, arg: str, value, rank: int) -> tuple[int, ...]:
    """Turn an int or per-axis tuple into a tuple of length `rank`."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise LayerError("E202", f"{kind.name}: '{arg}' has {len(value)} values but the input has {rank} spatial axes", arg=arg)
        return value
    return (value,) * rank


class SignatureFromArgs:
    """For kinds whose hparams are their DSL arguments with torch's names and defaults:
    the required ones are positional, the others keywords with those defaults."""

    @property
    def torch_positional(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.args if spec.default is REQUIRED)

    @property
    def torch_defaults(self) -> dict:
        return {spec.name: spec.default for spec in self.args if spec.default is not REQUIRED}


def torch_int_or_tuple(values: tuple[int, ...]):
    """How torch's repr would spell a per-axis argument: a bare int when rank is 1."""
    return values[0] if len(values) == 1 else values


def axis_names(rank: int) -> tuple[str, ...]:
    """How spatial axes are called: L for 1-d, H and W for 2-d, D, H and W for 3-d."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(rank, tuple(f"axis {i}" for i in range(rank)))


def volume(value) -> int:
    """The number of elements of a per-axis argument (a kernel size): an int, or a tuple's product."""
    return prod(value) if isinstance(value, tuple) else value


def format_shape(shape) -> str:
    return " x ".join(str(d) for d in shape) if shape else "()"


def hparam_axes(value, rank: int) -> tuple:
    """A torch per-axis hparam (a bare int, or a tuple with one value per axis) as a tuple."""
    return tuple(value) if isinstance(value, tuple) else (value,) * rank


def resampling_step(ratio, first, last, shifts=(0,)) -> tuple:
    """The receptive step of a resampling layer whose output i reads input positions
    first(i)..last(i), `ratio` (a Fraction) input positions per output: adaptive pooling,
    upsampling, pixel shuffle. The window is the smallest one that moves by `ratio` per output
    and holds every output's positions; first(i) - i*ratio repeats with the period of ratio's
    denominator, so one period decides it. Returns (effective kernel, stride, left padding).

    first and last are floor or ceil of i*ratio + c for the constants c in `shifts`. Over a
    period, i*ratio takes every fraction k/d (d the denominator) once, and first(i) - i*ratio
    falls linearly in that fraction but where some i*ratio + c crosses an integer: its extremes
    lie at the ends and beside those crossings, so a long period is decided by a few outputs."""
    period = ratio.denominator
    if period <= 1024:
        outputs = range(period)
    else:
        inverse = pow(ratio.numerator, -1, period)  # output i has i*ratio = k/period + an integer, k = i*numerator
        fractions = {0, 1, period - 2, period - 1}
        for shift in shifts:
            crossing = ceil((1 - (shift - floor(shift))) * period)
            fractions.update(k % period for k in range(crossing - 2, crossing + 3))
        outputs = [k * inverse % period for k in sorted(fractions)]
    low = min(first(i) - i * ratio for i in outputs)
    high = max(last(i) - i * ratio for i in outputs)
    return high - low + 1, ratio, -low


def window_output(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool) -> int:
    """PyTorch's output size of a sliding window (pooling_output_shape; conv uses ceil=False)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def dropped_pixels(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Input pixels at the far border that no window covers (floor mode), when windows tile.

    A window narrower than its stride subsamples by design (a 1x1 stride-2 conv), so only
    layers whose effective kernel is at least the stride are judged.
    """
    effective = dilation * (kernel - 1) + 1
    if effective < stride or stride == 1:
        return 0
    return max(0, (size + 2 * pad - effective) % stride - pad)
