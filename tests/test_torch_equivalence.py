"""Differential tests: cnnspec's shapes, parameter and buffer counts against PyTorch's.

a. every examples/*.cnn: the torch model cnnspec's graph describes (tests/torch_reference.py,
  built from each node's hparams on the meta device) runs, and every node's output shapes,
  parameter and buffer counts equal cnnspec's, as do the totals;

b. random architectures (hypothesis): a generator writes .cnn source text - sequential and
  branched (residual add, cat, mul gates, chunk/split), 1-D/2-D/3-D and flat inputs, blocks,
  repetitions, random hyperparameters including invalid ones - and, independently of
  cnnspec, builds each layer in torch from its own reading of the DSL call (CPU, real
  zero tensors, training mode, batch sizes 2 and 3). torch is the oracle:
    - where torch accepts every layer, cnnspec must report no error, and every node must
      match the generator's torch layer (shapes, counts, constructor state) and the
      reference model built from cnnspec's hparams;
    - where torch rejects a layer, cnnspec must report exactly one error (E2xx/E3xx),
      placed on that layer's call, with every layer before it matching.

c. pinned cases: the disagreements the random search found (now fixed), checked on every run;

d. every layer spelling once, with its arguments: cnnspec's hparams build the torch module.

"torch rejects a layer" means: building or running it raises; or its result has no batch
axis of the right size, an empty axis, or a per-sample shape that changes with the batch
size (no per-sample shape rule exists, e.g. adding a (N, C) tensor to an (N, C, H, W) one).
A handful of cnnspec rules go beyond what torch enforces; the generator applies them as
`DslRule`s and each is listed in `DslRule`'s docstring.

Set CNNSPEC_TORCH_EXAMPLES=5000 (and CNNSPEC_TORCH_RANDOM=1 for a fresh seed) to search longer.
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass, field
from itertools import pairwise

import pytest
import torch
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from torch import nn

from cnnspec.analyze import analyze
from cnnspec.source import Source, read_source

try:  # tests/ is not a package; pytest puts it on sys.path
    from torch_reference import LayerScale, StochasticDepth, count_buffers, count_params, one_torch_thread, run_reference, training_trouble  # noqa: F401
except ImportError:  # pragma: no cover - when tests/ becomes a package
    from tests.torch_reference import (  # noqa: F401
        LayerScale,
        StochasticDepth,
        count_buffers,
        count_params,
        one_torch_thread,
        run_reference,
        training_trouble,
    )

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))

MAX_EXAMPLES = int(os.environ.get("CNNSPEC_TORCH_EXAMPLES", "150"))
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("CNNSPEC_TORCH_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# ---- shared checks -------------------------------------------------------------------


def check_graph_against_reference(graph, batch: int = 2):
    """Build cnnspec's graph as a torch model on meta, run it, compare every node and the totals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = run_reference(graph, batch=batch)
    for node in graph.nodes:
        if node.outputs is None:
            continue
        expected = tuple((batch, *shape) for shape in node.outputs)
        assert net.shapes[node.id] == expected, f"{node.name} ({node.op}): torch {net.shapes[node.id]}, cnnspec {expected}"
        module = net.module_of(node)
        assert count_params(module) == node.params, f"{node.name} ({node.op}): torch params {count_params(module)}, cnnspec {node.params}"
        assert count_buffers(module) == node.buffers, (
            f"{node.name} ({node.op}): torch buffers {count_buffers(module)}, cnnspec {node.buffers}"
        )
    totals = graph.totals()
    assert sum(p.numel() for p in net.parameters()) == totals["params"]
    assert sum(b.numel() for b in net.buffers()) == totals["buffers"]
    return net


# ---- a. the examples ------------------------------------------------------------------


def _analyses(path):
    source = read_source(path)
    first = analyze(source)
    if len(first.nets) > 1:
        return [(name, analyze(source, net=name)) for name in first.nets]
    return [(first.nets[0] if first.nets else None, first)]


def test_examples_exist():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: os.path.basename(p))
def test_example_matches_torch(path):
    for net_name, analysis in _analyses(path):
        assert not analysis.errors, [f"{d.code} {d.message}" for d in analysis.errors]
        graph = analysis.graph
        assert graph is not None and graph.output is not None, net_name
        net = check_graph_against_reference(graph)
        output = graph.nodes[graph.output.node].outputs[graph.output.index]
        assert net.shapes[graph.output.node][graph.output.index] == (2, *output)


# ---- b. random architectures: the generator ---------------------------------------------


class DslRule(Exception):
    """A cnnspec language rule that torch does not enforce by raising. The generator applies them
    only where torch accepts the layer (`dsl_rule`), or where torch has no class at all for it
    (raise DslRule), and counts such rejections apart ("dsl rule" in the statistics):

    * an explicitly dimensioned layer (conv2d, maxpool2d, zeropad2d, instancenorm2d, ...) takes
      only a batched input of its rank: torch silently reads one rank less as an unbatched
      sample, and pads/pools/normalises the wrong axes;
    * a dimension-generic layer (conv, maxpool, zeropad, instancenorm, ...) needs 1 to 3
      spatial axes: torch has no Conv0d, and reads a flat (N, C) batch as one unbatched sample;
    * a per-axis tuple has one value per spatial axis (torch broadcasts a 1-tuple for some
      arguments, e.g. stride=(2,), and rejects it for others, e.g. Conv2d(kernel_size=(3,)));
    * zeropad takes an int or exactly two values per spatial axis (torch pads further axes);
    * linear takes a flat input (torch would act on the last axis only);
    * pixelshuffle takes C x H x W (torch would read a 3-D input's depth as the channels).
    """


_BROKEN_RULES: list[str] = []


def dsl_rule(message: str) -> None:
    """Note a broken DslRule; it rejects the layer only if torch itself accepts it."""
    _BROKEN_RULES.append(message)


class Rejected(Exception):
    def __init__(self, reason: str, category: str):
        super().__init__(reason)
        self.reason, self.category = reason, category


def torch_apply(build, in_shapes):
    """Build one layer the generator's way and run it on zeros at batch 2 and 3 (CPU, training mode).

    Returns (per-sample output shapes, module or None); raises Rejected when torch rejects it.
    """
    _BROKEN_RULES.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module, fn = build(in_shapes)
        except DslRule as exc:
            raise Rejected(str(exc), "dsl rule") from None
        except Exception as exc:  # noqa: BLE001 - any torch error is a rejection
            raise Rejected(f"{type(exc).__name__}: {exc}", "torch raised") from None
        seen = []
        for batch in (2, 3):
            try:
                with torch.no_grad():
                    outs = fn(*[torch.zeros((batch, *s)) for s in in_shapes])
            except DslRule as exc:
                raise Rejected(str(exc), "dsl rule") from None
            except Exception as exc:  # noqa: BLE001
                raise Rejected(f"{type(exc).__name__}: {exc}", "torch raised") from None
            outs = outs if isinstance(outs, tuple) else (outs,)
            for out in outs:
                if not torch.isfinite(out).all():  # a pooling window that reaches no input element
                    raise Rejected(f"torch's result on a zero input is not finite: {out.flatten()[:4].tolist()}", "blind window")
                if out.dim() < 2 or out.shape[0] != batch:
                    raise Rejected(f"torch's result {tuple(out.shape)} has lost the batch axis", "batch-dependent")
                if 0 in out.shape:
                    raise Rejected(f"torch's result {tuple(out.shape)} is empty", "empty output")
            seen.append(tuple(tuple(out.shape[1:]) for out in outs))
        if seen[0] != seen[1]:
            raise Rejected(f"torch's per-sample shape changes with the batch size: {seen}", "batch-dependent")
    if _BROKEN_RULES:
        raise Rejected("; ".join(_BROKEN_RULES), "dsl rule")
    return seen[0], module


@dataclass
class Site:
    """A call in the text (a layer or a merge); its span is known once the text is rendered."""

    id: int
    text: str = ""
    span: tuple | None = None  # (line, column, end_line, end_column), 1-based, end exclusive


@dataclass
class Frag:
    """A piece of text that is a site: the children may contain further sites (a merge's operands)."""

    site: int
    children: list


@dataclass
class Op:
    """One layer application the generator ran in torch (cnnspec should have one node for it)."""

    site: int
    kind: str
    outputs: tuple
    params: int
    buffers: int
    module: nn.Module | None


@dataclass
class Layer:
    """A drawn layer call: its DSL name (for stats), its text and its torch builder."""

    kind: str
    text: str
    build: object  # in_shapes -> (module or None, fn)


@dataclass
class Env:
    """What a body can refer to: named tensors (name -> per-sample shape) and `in`."""

    input: tuple
    tensors: dict = field(default_factory=dict)
    top: bool = True  # False inside a block body (no block calls, no `in` of the net)


class Multi:
    """The flow after a split: several named tensors; the next chain must start from a name."""

    def __init__(self, names):
        self.names = names


class Gen:
    def __init__(self, data, branched: bool):
        self.data = data
        self.branched = branched
        self.sites: list[Site] = []
        self.ops: list[Op] = []
        self.failure: tuple[int, Rejected] | None = None
        self.blocks: list[str] = []
        self.block_params: list | None = None  # inside a block body: [(name, value)], else None
        self.counter = 0
        self.kinds_used: set[str] = set()
        self.wildness = 0

    # -- drawing
    def draw(self, strategy, label=None):
        return self.data.draw(strategy, label=label)

    def chance(self, percent: int) -> bool:
        """True with about `percent`% probability; shrinks towards False."""
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def wild(self) -> bool:
        """Now and then an out-of-domain choice (a bad argument, a mismatched layer); how often
        is drawn once per program, so some programs stay tame and grow long."""
        return self.wildness > 0 and self.chance(self.wildness)

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def fresh(self, prefix="t"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    @property
    def dead(self) -> bool:
        return self.failure is not None

    # -- text
    def lit(self, value) -> str:
        """A literal's text; inside a block body sometimes a block parameter carrying it."""
        if self.block_params is not None and self.chance(20):
            name = self.fresh("p")
            self.block_params.append((name, value))
            return name
        return render_value(self, value)

    def call(self, name, positional=(), keywords=()) -> str:
        """A call's text. `positional`: the leading arguments in DSL order (value or OMIT);
        `keywords`: (spellings, value) pairs, OMIT to leave out. Leading positionals may be
        written positionally, the rest by a random spelling."""
        parts = []
        positional = list(positional)
        count = self.int(0, len(positional)) if positional else 0
        for index, (spellings, value) in enumerate(positional):
            if value is OMIT:
                count = min(count, index)
                continue
            if index < count:
                parts.append(self.lit(value))
            else:
                parts.append(f"{self.pick(spellings)}={self.lit(value)}")
        for spellings, value in keywords:
            if value is not OMIT:
                parts.append(f"{self.pick(spellings)}={self.lit(value)}")
        if positional:  # keyword order is free; shuffle keywords only
            head, tail = parts[:count], parts[count:]
            tail = self.draw(st.permutations(tail)) if len(tail) > 1 and self.chance(30) else tail
            parts = head + list(tail)
        else:
            parts = list(self.draw(st.permutations(parts))) if len(parts) > 1 and self.chance(30) else parts
        if not parts and self.chance(50):
            return name
        return f"{name}({', '.join(parts)})"

    def site(self, text="") -> Site:
        site = Site(len(self.sites), text)
        self.sites.append(site)
        return site

    # -- running layers in torch
    def apply(self, site: Site, kind: str, build, in_shapes):
        """Run one layer application in torch; record it, or record the failure. None if rejected."""
        if self.dead:
            return None
        self.kinds_used.add(kind)
        try:
            outputs, module = torch_apply(build, in_shapes)
        except Rejected as exc:
            self.failure = (site.id, exc)
            event(f"rejected: {exc.category}")
            return None
        self.ops.append(Op(site.id, kind, outputs, count_params(module), count_buffers(module), module))
        return outputs


OMIT = object()


def render_value(g, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, int):
        if value >= 2 and g.chance(5):  # an expression now and then
            return f"{value - 1} + 1"
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if "e" in text or "." in text else text + ".0"
    if isinstance(value, str):
        return f"'{value}'" if g.chance(50) else f'"{value}"'
    if isinstance(value, tuple):
        inner = ", ".join(render_value(g, v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(value)


# ---- layer kinds: draw a call for the current shape, and build it in torch ------------------

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE = {
    "Avg": {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d},
    "Max": {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d},
}
BATCHNORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
INSTANCENORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
ZEROPAD = {1: nn.ZeroPad1d, 2: nn.ZeroPad2d, 3: nn.ZeroPad3d}


def spatial(shape):
    return shape[1:] or (4,)


def rank_of(shape) -> int:
    return len(shape) - 1


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def per_axis(g, sizes, one, tuple_percent=30):
    """An int (drawn for the smallest axis) or a per-axis tuple; rarely a tuple of the wrong length."""
    if g.chance(tuple_percent):
        count = len(sizes)
        if g.wild():
            count = g.pick([n for n in (1, 2, 3, 4) if n != count])
        return tuple(one(sizes[i % len(sizes)]) for i in range(count))
    return one(min(sizes))


def check_axes(rank, **values):
    """The DSL rule: a per-axis tuple has exactly one value per spatial axis."""
    for name, value in values.items():
        if isinstance(value, tuple) and len(value) != rank:
            dsl_rule(f"'{name}' has {len(value)} values for {rank} spatial axes")


def module_class(table, dims, shape, what):
    """The torch class for a dimension-generic or explicitly dimensioned layer on a batched input."""
    rank = rank_of(shape)
    if dims is not None and rank != dims:
        dsl_rule(f"{what}{dims}d on a per-sample shape of rank {len(shape)}")
        return table[dims]
    if rank not in table:
        raise DslRule(f"{what} on a per-sample shape with {rank} spatial axes")
    return table[rank]


def kw(**items):
    """torch keyword arguments, leaving out those the DSL call did not give (torch's defaults apply)."""
    return {k: v for k, v in items.items() if v is not OMIT}


def as_module(module):
    return module, module


def draw_kernel(g, size, cap=5):
    if g.wild():
        return g.pick([0, size + 1, size + 2])
    return g.int(1, max(1, min(size, cap)))


def draw_dims_name(g, base, shape, percent=25):
    """`base` (dimension-generic) or `base{N}d`, usually with N matching the input."""
    if not g.chance(percent):
        return base, None
    dims = g.int(1, 3) if g.wild() else max(1, min(3, rank_of(shape)))
    return f"{base}{dims}d", dims


def gen_conv(g, shape, mode=None):
    """conv / convNd. mode: None, 'preserve' (same shape), 'spatial' (same spatial size)."""
    channels, sizes = shape[0], spatial(shape)
    name, dims = draw_dims_name(g, "conv", shape)
    groups = OMIT
    if g.chance(30):
        groups = g.pick(divisors(channels)) if not g.wild() else g.int(1, channels + 1)
    base = 1 if groups is OMIT else groups
    if mode == "preserve":
        out = channels
    elif g.wild():
        out = g.int(1, 16)
    else:
        out = base * g.int(1, max(1, 12 // base))
    if mode is not None and not g.wild():
        kernel = per_axis(g, sizes, lambda s: g.pick([1, 3, 5]))
        dilation = OMIT if g.chance(70) else per_axis(g, sizes, lambda s: g.int(1, 2))
        stride = OMIT
        if g.chance(50):
            pad = "same"
        else:
            kt = kernel if isinstance(kernel, tuple) else (kernel,) * len(sizes)
            dt = dilation if isinstance(dilation, tuple) else (1 if dilation is OMIT else dilation,) * len(sizes)
            pad = tuple(d * (k - 1) // 2 for k, d in zip(kt, dt))
            pad = pad[0] if len(set(pad)) == 1 and g.chance(50) else pad
    else:
        kernel = per_axis(g, sizes, lambda s: draw_kernel(g, s))
        stride = OMIT if g.chance(50) else per_axis(g, sizes, lambda s: g.int(-1, 0) if g.wild() else g.int(1, 3))
        dilation = OMIT if g.chance(70) else per_axis(g, sizes, lambda s: g.int(0, 0) if g.wild() else g.int(1, 3))
        roll = g.int(0, 99)
        if roll < 15:
            pad = "same"
        elif roll < 20:
            pad = "valid"
        elif roll < 50:
            pad = OMIT
        else:
            pad = per_axis(g, sizes, lambda s: -1 if g.wild() else g.int(0, 2))
    bias = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call(
        name,
        [(("out", "out_channels"), out), (("k", "kernel", "kernel_size"), kernel)],
        [((("stride",)), stride), (("pad", "padding"), pad), (("dilation",), dilation), (("groups",), groups), (("bias",), bias)],
    )

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(CONV, dims, s, "conv")
        check_axes(rank_of(s), k=kernel, stride=stride, dilation=dilation, pad=pad if isinstance(pad, tuple) else 0)
        return as_module(cls(s[0], out, kernel, **kw(stride=stride, padding=pad, dilation=dilation, groups=groups, bias=bias)))

    return Layer("conv", text, build)


def gen_dwconv(g, shape, mode=None):
    sizes = spatial(shape)
    name = g.pick(["dwconv", "depthwise"])
    if mode is not None:
        kernel, stride, dilation, pad = g.pick([1, 3, 5]), OMIT, OMIT, "same"
    else:
        kernel = per_axis(g, sizes, lambda s: draw_kernel(g, s))
        stride = OMIT if g.chance(50) else per_axis(g, sizes, lambda s: g.int(1, 3))
        dilation = OMIT if g.chance(70) else per_axis(g, sizes, lambda s: g.int(1, 2))
        pad = OMIT if g.chance(40) else ("same" if g.chance(20) else per_axis(g, sizes, lambda s: g.int(0, 2)))
    multiplier = OMIT if mode == "preserve" or g.chance(70) else g.int(0 if g.wild() else 1, 3)
    bias = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call(
        name,
        [(("k", "kernel", "kernel_size"), kernel)],
        [(("stride",), stride), (("pad", "padding"), pad), (("dilation",), dilation), (("multiplier",), multiplier), (("bias",), bias)],
    )

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(CONV, None, s, "dwconv")
        check_axes(rank_of(s), k=kernel, stride=stride, dilation=dilation, pad=pad if isinstance(pad, tuple) else 0)
        out = s[0] * (1 if multiplier is OMIT else multiplier)
        return as_module(cls(s[0], out, kernel, groups=s[0], **kw(stride=stride, padding=pad, dilation=dilation, bias=bias)))

    return Layer("dwconv", text, build)


def gen_pwconv(g, shape, mode=None):
    channels = shape[0]
    groups = OMIT if g.chance(70) else (g.pick(divisors(channels)) if not g.wild() else g.int(1, channels + 1))
    base = 1 if groups is OMIT else groups
    out = channels if mode == "preserve" else base * g.int(1, max(1, 12 // base))
    bias = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call(g.pick(["pwconv", "pointwise"]), [(("out", "out_channels"), out)], [(("groups",), groups), (("bias",), bias)])

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(CONV, None, s, "pwconv")
        return as_module(cls(s[0], out, 1, **kw(groups=groups, bias=bias)))

    return Layer("pwconv", text, build)


def gen_convtranspose(g, shape, mode=None):
    channels, sizes = shape[0], spatial(shape)
    name, dims = draw_dims_name(g, "convtranspose", shape)
    if dims is None and g.chance(30):
        name = "deconv"
    groups = OMIT if g.chance(70) else (g.pick(divisors(channels)) if not g.wild() else g.int(1, channels + 1))
    base = 1 if groups is OMIT else groups
    out = base * g.int(1, max(1, 12 // base))
    kernel = per_axis(g, sizes, lambda s: g.int(0, 0) if g.wild() else g.int(1, 4))
    stride = OMIT if g.chance(40) else per_axis(g, sizes, lambda s: g.int(1, 3))
    dilation = OMIT if g.chance(70) else per_axis(g, sizes, lambda s: g.int(1, 2))
    pad = OMIT if g.chance(40) else ("same" if g.wild() else per_axis(g, sizes, lambda s: g.int(0, 3)))
    output_padding = OMIT if g.chance(60) else per_axis(g, sizes, lambda s: g.int(0, 3 if g.wild() else 1))
    bias = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call(
        name,
        [(("out", "out_channels"), out), (("k", "kernel", "kernel_size"), kernel)],
        [
            (("stride",), stride),
            (("pad", "padding"), pad),
            (("output_padding",), output_padding),
            (("groups",), groups),
            (("bias",), bias),
            (("dilation",), dilation),
        ],
    )

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(CONVT, dims, s, "convtranspose")
        check_axes(
            rank_of(s), k=kernel, stride=stride, dilation=dilation, output_padding=output_padding, pad=pad if isinstance(pad, tuple) else 0
        )
        args = kw(stride=stride, padding=pad, output_padding=output_padding, groups=groups, bias=bias, dilation=dilation)
        return as_module(cls(s[0], out, kernel, **args))

    return Layer("convtranspose", text, build)


def gen_pool(g, shape, family=None):
    family = family or g.pick(["Max", "Avg"])
    sizes = spatial(shape)
    name, dims = draw_dims_name(g, f"{family.lower()}pool", shape)
    kernel = per_axis(g, sizes, lambda s: draw_kernel(g, s, cap=4))
    small = min(kernel) if isinstance(kernel, tuple) else kernel
    stride = OMIT if g.chance(50) else (None if g.chance(10) else per_axis(g, sizes, lambda s: g.int(0, 0) if g.wild() else g.int(1, 3)))
    pad = OMIT if g.chance(50) else per_axis(g, sizes, lambda s: g.int(0, max(0, small // 2) + (1 if g.wild() else 0)))
    ceil = OMIT if g.chance(50) else g.draw(st.booleans())
    keywords = [(("stride",), stride), (("pad", "padding"), pad)]
    extra = {}
    if family == "Max":
        dilation = OMIT if g.chance(70) else per_axis(g, sizes, lambda s: g.int(1, 2))
        keywords += [(("dilation",), dilation), (("ceil_mode",), ceil)]
        extra = dict(dilation=dilation)
    else:
        include = OMIT if g.chance(60) else g.draw(st.booleans())
        keywords += [(("ceil_mode",), ceil), (("count_include_pad",), include)]
        extra = dict(count_include_pad=include)
    text = g.call(name, [(("k", "kernel", "kernel_size"), kernel)], keywords)

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(MAXPOOL if family == "Max" else AVGPOOL, dims, s, f"{family.lower()}pool")
        check_axes(rank_of(s), k=kernel, stride=stride if stride is not None else 0, pad=pad, dilation=extra.get("dilation", OMIT))
        return as_module(cls(kernel, **kw(stride=stride, padding=pad, ceil_mode=ceil, **extra)))

    return Layer(f"{family.lower()}pool", text, build)


def gen_adaptive(g, shape, family=None):
    family = family or g.pick(["Max", "Avg"])
    sizes = spatial(shape)
    if g.chance(25):
        name = g.pick(["gap", "globalavgpool"]) if family == "Avg" else "globalmaxpool"
        text = g.call(name)
        size, dims = 1, None
    else:
        name, dims = draw_dims_name(g, f"adaptive{family.lower()}pool", shape)
        if g.wild():
            size = g.pick([None, 0, (None,), (2, 2, 2, 2)])
        else:
            size = per_axis(g, sizes, lambda s: None if g.chance(20) else g.int(1, 6), tuple_percent=40)
            if size is None:
                size = g.int(1, 6)
        text = g.call(name, [(("size", "output_size"), size)])

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(ADAPTIVE[family], dims, s, f"adaptive{family.lower()}pool")
        check_axes(rank_of(s), size=size)
        return as_module(cls(size))

    return Layer(f"adaptive{family.lower()}pool", text, build)


def draw_eps(g):
    return OMIT if g.chance(70) else g.pick([1e-5, 1e-3, 0.1])


def gen_batchnorm(g, shape, mode=None):
    name, dims = draw_dims_name(g, "batchnorm", shape, 30)
    if dims is None and g.chance(30):
        name = "bn"
    momentum = OMIT if g.chance(70) else g.pick([0.1, 0.01, None])
    affine = OMIT if g.chance(60) else g.draw(st.booleans())
    track = OMIT if g.chance(60) else g.draw(st.booleans())
    eps = draw_eps(g)
    text = g.call(name, [(("eps",), eps)], [(("momentum",), momentum), (("affine",), affine), (("track_running_stats",), track)])

    def build(in_shapes):
        (s,) = in_shapes
        rank = max(1, rank_of(s))
        if dims is not None:
            cls = BATCHNORM[dims]  # torch itself checks the input's rank
        elif rank in BATCHNORM:
            cls = BATCHNORM[rank]
        else:
            raise DslRule(f"batchnorm on rank {len(s)}")
        return as_module(cls(s[0], **kw(eps=eps, momentum=momentum, affine=affine, track_running_stats=track)))

    return Layer("batchnorm", text, build)


def gen_instancenorm(g, shape, mode=None):
    name, dims = draw_dims_name(g, "instancenorm", shape, 30)
    affine = OMIT if g.chance(50) else g.draw(st.booleans())
    track = OMIT if g.chance(60) else g.draw(st.booleans())
    eps = draw_eps(g)
    text = g.call(name, [(("eps",), eps)], [(("affine",), affine), (("track_running_stats",), track)])

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(INSTANCENORM, dims, s, "instancenorm")
        return as_module(cls(s[0], **kw(eps=eps, affine=affine, track_running_stats=track)))

    return Layer("instancenorm", text, build)


def gen_groupnorm(g, shape, mode=None):
    channels = shape[0]
    groups = g.int(1, channels + 2) if g.wild() else g.pick(divisors(channels))
    eps = draw_eps(g)
    affine = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call("groupnorm", [(("groups", "num_groups"), groups), (("eps",), eps)], [(("affine",), affine)])

    def build(in_shapes):
        (s,) = in_shapes
        return as_module(nn.GroupNorm(groups, s[0], **kw(eps=eps, affine=affine)))

    return Layer("groupnorm", text, build)


def gen_layernorm(g, shape, mode=None):
    if g.chance(40):
        normalized = OMIT
    elif g.wild():
        normalized = tuple(g.int(1, 4) for _ in range(g.int(1, 3)))
    else:
        tail = shape[len(shape) - g.int(1, len(shape)) :]
        normalized = tail[0] if len(tail) == 1 and g.chance(50) else tuple(tail)
    eps = draw_eps(g)
    affine = OMIT if g.chance(60) else g.draw(st.booleans())
    bias = OMIT if g.chance(70) else g.draw(st.booleans())
    text = g.call(
        "layernorm",
        [(("shape", "normalized_shape"), normalized), (("eps",), eps)],
        [(("elementwise_affine", "affine"), affine), (("bias",), bias)],
    )

    def build(in_shapes):
        (s,) = in_shapes
        wanted = tuple(s) if normalized is OMIT else normalized
        return as_module(nn.LayerNorm(wanted, **kw(eps=eps, elementwise_affine=affine, bias=bias)))

    return Layer("layernorm", text, build)


def gen_lrn(g, shape, mode=None):
    size = g.int(1, 5)
    alpha = OMIT if g.chance(70) else 1e-3
    beta = OMIT if g.chance(70) else 0.5
    k = OMIT if g.chance(70) else 2.0
    text = g.call(g.pick(["lrn", "localresponsenorm"]), [(("size",), size), (("alpha",), alpha), (("beta",), beta), (("k",), k)])

    def build(in_shapes):
        return as_module(nn.LocalResponseNorm(size, **kw(alpha=alpha, beta=beta, k=k)))

    return Layer("lrn", text, build)


ACTIVATIONS = {
    # DSL name: (torch class, [(spellings, value drawer)])
    "relu": (nn.ReLU, [(("inplace",), "bool")]),
    "relu6": (nn.ReLU6, [(("inplace",), "bool")]),
    "leakyrelu": (nn.LeakyReLU, [(("negative_slope", "slope"), "slope"), (("inplace",), "bool")]),
    "elu": (nn.ELU, [(("alpha",), "alpha"), (("inplace",), "bool")]),
    "gelu": (nn.GELU, [(("approximate",), "approximate")]),
    "silu": (nn.SiLU, [(("inplace",), "bool")]),
    "swish": (nn.SiLU, [(("inplace",), "bool")]),
    "hardswish": (nn.Hardswish, [(("inplace",), "bool")]),
    "hardsigmoid": (nn.Hardsigmoid, [(("inplace",), "bool")]),
    "sigmoid": (nn.Sigmoid, []),
    "tanh": (nn.Tanh, []),
}
TORCH_KWARG = {"slope": "negative_slope"}


def gen_activation(g, shape, mode=None):
    name = g.pick(sorted(ACTIVATIONS))
    cls, specs = ACTIVATIONS[name]
    values = []
    for spellings, what in specs:
        if g.chance(60):
            values.append((spellings, OMIT))
            continue
        if what == "bool":
            value = g.draw(st.booleans())
        elif what == "approximate":
            value = g.pick(["none", "tanh"]) if not g.wild() else "exact"
        else:
            value = g.pick([0.01, 0.2, 1.0, 2.5])
        values.append((spellings, value))
    text = g.call(name, values[:1], values[1:])

    def build(in_shapes):
        return as_module(cls(**{spellings[0]: value for spellings, value in values if value is not OMIT}))

    return Layer(name, text, build)


def gen_prelu(g, shape, mode=None):
    channels = shape[0]
    count = OMIT if g.chance(40) else (g.int(1, channels + 2) if g.wild() else g.pick([1, channels]))
    init = OMIT if g.chance(70) else 0.1
    text = g.call("prelu", [(("num_parameters", "n"), count), (("init",), init)])

    def build(in_shapes):
        return as_module(nn.PReLU(**kw(num_parameters=count, init=init)))

    return Layer("prelu", text, build)


def gen_softmax(g, shape, mode=None):
    name = g.pick(["softmax", "logsoftmax"])
    batched = len(shape) + 1
    dim = OMIT if g.chance(30) else g.int(-batched - (1 if g.wild() else 0), batched - 1 + (1 if g.wild() else 0))
    text = g.call(name, [(("dim",), dim)])
    cls = nn.Softmax if name == "softmax" else nn.LogSoftmax

    def build(in_shapes):
        # the DSL's default dim is 1 (the channels); torch's implicit dim is deprecated
        return as_module(cls(dim=1 if dim is OMIT else dim))

    return Layer(name, text, build)


def gen_passthrough(g, shape, mode=None):
    which = g.pick(["dropout", "identity", "stochasticdepth"])
    if which == "dropout":
        p = OMIT if g.chance(40) else (g.pick([1.5, -0.5]) if g.wild() else g.pick([0.0, 0.1, 0.5, 1.0]))
        inplace = OMIT if g.chance(70) else g.draw(st.booleans())
        text = g.call("dropout", [(("p",), p), (("inplace",), inplace)])
        return Layer("dropout", text, lambda s: as_module(nn.Dropout(**kw(p=p, inplace=inplace))))
    if which == "identity":
        return Layer("identity", g.call("identity"), lambda s: as_module(nn.Identity()))
    p = g.pick([1.5, -0.1]) if g.wild() else g.pick([0.0, 0.2, 1.0])
    drop_mode = OMIT if g.chance(60) else (g.pick(["rows"]) if g.wild() else g.pick(["row", "batch"]))
    text = g.call(g.pick(["stochasticdepth", "droppath"]), [(("p",), p), (("mode",), drop_mode)])
    return Layer("stochasticdepth", text, lambda s: as_module(StochasticDepth(**kw(p=p, mode=drop_mode))))


def gen_layerscale(g, shape, mode=None):
    init = OMIT if g.chance(50) else g.pick([1e-6, 0.1, 1.0])
    text = g.call("layerscale", [(("init",), init)])

    def build(in_shapes):
        (s,) = in_shapes
        # torchvision's ConvNeXt keeps a (C, 1, 1) parameter for a C x H x W input: one per channel
        return as_module(LayerScale(s[0], len(s), 1e-6 if init is OMIT else init))

    return Layer("layerscale", text, build)


def gen_channelshuffle(g, shape, mode=None):
    channels = shape[0]
    groups = g.int(1, channels + 1) if g.wild() else g.pick(divisors(channels))
    text = g.call("channelshuffle", [(("groups",), groups)])
    return Layer("channelshuffle", text, lambda s: as_module(nn.ChannelShuffle(groups)))


def gen_flatten(g, shape, mode=None):
    batched = len(shape) + 1
    lo, hi = (-batched - 1, batched) if g.wild() else (-batched + 1, batched - 1)
    start = OMIT if g.chance(50) else g.int(lo, hi)
    end = OMIT if g.chance(60) else g.int(lo, hi)
    text = g.call("flatten", [(("start_dim",), start), (("end_dim",), end)])
    return Layer("flatten", text, lambda s: as_module(nn.Flatten(**kw(start_dim=start, end_dim=end))))


def gen_linear(g, shape, mode=None):
    out = shape[0] if mode == "preserve" else g.int(1, 24)
    bias = OMIT if g.chance(60) else g.draw(st.booleans())
    text = g.call(g.pick(["linear", "fc"]), [(("out", "out_features"), out), (("bias",), bias)])

    def build(in_shapes):
        (s,) = in_shapes
        if len(s) != 1:
            dsl_rule("linear on a spatial tensor")
        return as_module(nn.Linear(s[0], out, **kw(bias=bias)))

    return Layer("linear", text, build)


UPSAMPLE_MODES = {
    1: ["nearest", "nearest-exact", "linear"],
    2: ["nearest", "nearest-exact", "bilinear", "bicubic"],
    3: ["nearest", "nearest-exact", "trilinear"],
}
ALL_MODES = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]


def gen_upsample(g, shape, mode=None):
    sizes = spatial(shape)
    rank = max(1, min(3, rank_of(shape)))
    interp = OMIT if g.chance(40) else (g.pick(ALL_MODES) if g.wild() else g.pick(UPSAMPLE_MODES[rank]))
    interpolating = interp in ("linear", "bilinear", "bicubic", "trilinear")
    align = OMIT
    if (interpolating and g.chance(40)) or g.wild():
        align = g.draw(st.booleans())
    scale = size = OMIT
    roll = g.int(0, 99)

    def one_scale(size):
        return g.pick([0, -1.0, 0.1]) if g.wild() else g.pick([1, 2, 3, 0.5, 1.5, 0.7, 2.25])

    if roll < 60 or g.wild():
        scale = per_axis(g, sizes, one_scale, tuple_percent=25)
    if roll >= 60 or g.wild():
        size = per_axis(g, sizes, lambda s: g.int(0, 0) if g.wild() else g.int(1, 10), tuple_percent=40)
    text = g.call("upsample", [(("scale", "scale_factor"), scale), (("size",), size), (("mode",), interp), (("align_corners",), align)])

    def build(in_shapes):
        (s,) = in_shapes
        check_axes(rank_of(s), scale=scale, size=size)
        return as_module(nn.Upsample(**kw(size=size, scale_factor=scale, mode=interp, align_corners=align)))

    return Layer("upsample", text, build)


def gen_pixelshuffle(g, shape, mode=None):
    r = g.int(1, 3)
    text = g.call("pixelshuffle", [(("r", "upscale_factor"), r)])

    def build(in_shapes):
        (s,) = in_shapes
        if len(s) != 3:
            dsl_rule("pixelshuffle takes C x H x W")
        return as_module(nn.PixelShuffle(r))

    return Layer("pixelshuffle", text, build)


def gen_zeropad(g, shape, mode=None):
    name, dims = draw_dims_name(g, "zeropad", shape, 30)
    rank = max(1, rank_of(shape))

    def one():
        return g.int(-2, 0) if g.wild() else g.int(0, 2)

    if g.chance(50):
        pad = one()
    else:
        count = g.pick([1, 2, 3, 4, 5, 6, 8]) if g.wild() else 2 * rank
        pad = tuple(one() for _ in range(count))
    text = g.call(name, [(("pad", "padding"), pad)])

    def build(in_shapes):
        (s,) = in_shapes
        cls = module_class(ZEROPAD, dims, s, "zeropad")
        if isinstance(pad, tuple) and len(pad) != 2 * rank_of(s):
            dsl_rule("zeropad needs two values per spatial axis")
        return as_module(cls(pad))

    return Layer("zeropad", text, build)


def gen_split(g, shape, mode=None):
    channels = shape[0]
    if g.chance(50):
        chunks = g.int(0, 0) if g.wild() else g.int(1, min(channels + 1, 5))
        text = g.call("chunk", [(("chunks",), chunks)])
        return Layer("chunk", text, lambda s: (None, lambda x: tuple(torch.chunk(x, chunks, dim=1))))
    if g.chance(40):
        sizes = g.int(1, channels + 1) if not g.wild() else 0
    else:
        parts = g.int(1, min(channels, 4))
        cuts = []
        if channels > 1:
            cuts = sorted(g.draw(st.lists(st.integers(1, channels - 1), min_size=parts - 1, max_size=parts - 1, unique=True)))
        bounds = [0, *cuts, channels]
        sizes = tuple(b - a for a, b in pairwise(bounds))
        if g.wild():
            sizes = g.pick([sizes + (0,), sizes[:-1] + (sizes[-1] + 1,), (channels + 1, -1)])
    text = g.call("split", [(("sizes", "split_size", "sections"), sizes)])
    return Layer("split", text, lambda s: (None, lambda x: tuple(torch.split(x, sizes, dim=1))))


SPATIAL_KINDS = {
    gen_conv: 12,
    gen_dwconv: 3,
    gen_pwconv: 3,
    gen_convtranspose: 4,
    gen_pool: 8,
    gen_adaptive: 4,
    gen_batchnorm: 5,
    gen_instancenorm: 3,
    gen_groupnorm: 3,
    gen_layernorm: 2,
    gen_lrn: 2,
    gen_activation: 8,
    gen_prelu: 2,
    gen_softmax: 2,
    gen_passthrough: 3,
    gen_layerscale: 2,
    gen_channelshuffle: 2,
    gen_flatten: 2,
    gen_upsample: 4,
    gen_pixelshuffle: 2,
    gen_zeropad: 3,
}
FLAT_KINDS = {
    gen_linear: 10,
    gen_activation: 6,
    gen_batchnorm: 3,
    gen_layernorm: 3,
    gen_groupnorm: 2,
    gen_prelu: 2,
    gen_softmax: 2,
    gen_passthrough: 3,
    gen_layerscale: 1,
    gen_flatten: 1,
}
PRESERVING = {
    gen_conv: 6,
    gen_dwconv: 2,
    gen_pwconv: 2,
    gen_batchnorm: 4,
    gen_groupnorm: 2,
    gen_layernorm: 1,
    gen_instancenorm: 1,
    gen_activation: 8,
    gen_prelu: 1,
    gen_passthrough: 2,
    gen_layerscale: 2,
    gen_channelshuffle: 1,
    gen_lrn: 1,
}
ALL_KINDS = sorted(SPATIAL_KINDS, key=lambda f: f.__name__)  # splits only where their outputs get names


def draw_layer(g, shape, mode=None) -> Layer:
    """A layer for the current per-sample shape; mostly sensible for it, now and then anything."""
    if g.wild():
        kind = g.pick(ALL_KINDS)
        return kind(g, shape)
    if mode is not None:
        table = PRESERVING if len(shape) > 1 else {gen_linear: 4, gen_activation: 6, gen_batchnorm: 2, gen_passthrough: 2}
        if mode == "spatial" and len(shape) > 1:
            table = {**table, gen_pwconv: 6}
    else:
        table = SPATIAL_KINDS if len(shape) > 1 else FLAT_KINDS
        if len(shape) != 3:  # pixel shuffle is for images
            table = {k: w for k, w in table.items() if k is not gen_pixelshuffle}
    kinds = list(table)
    weights = [table[k] for k in kinds]
    index = g.draw(st.integers(0, sum(weights) - 1))
    for kind, weight in zip(kinds, weights):
        if index < weight:
            return kind(g, shape, mode) if kind not in (gen_pool, gen_adaptive) else kind(g, shape)
        index -= weight
    raise AssertionError


# ---- statements, chains, merges --------------------------------------------------------------


def apply_layer(g, layer: Layer, shape):
    """Emit a drawn layer as a site and run it; returns (fragment, outputs or None)."""
    site = g.site(layer.text)
    outputs = g.apply(site, layer.kind, layer.build, (shape,))
    return Frag(site.id, [layer.text]), outputs


def gen_layer_item(g, env, shape, mode=None):
    layer = draw_layer(g, shape, mode)
    frag, outputs = apply_layer(g, layer, shape)
    return [frag], (outputs[0] if outputs else None)


def gen_repeat(g, env, shape, mode=None):
    """`(a -> b) * n` or `a * n`: one drawn chain of layers, applied n times in a row."""
    times = g.int(0, 3)
    layers, current = [], shape
    for _ in range(g.int(1, 2)):
        if times == 0:  # never expanded, so never checked: any text will do
            layers.append((gen_activation(g, shape), None))
            continue
        layer = draw_layer(g, current, mode or ("preserve" if g.chance(50) else None))
        site = g.site(layer.text)
        layers.append((layer, site))
        outputs = g.apply(site, layer.kind, layer.build, (current,))
        if outputs is None:
            return _repeat_frags(g, layers, times), None
        current = outputs[0]
    for _ in range(1, times):
        for layer, site in layers:
            outputs = g.apply(site, layer.kind, layer.build, (current,))
            if outputs is None:
                return _repeat_frags(g, layers, times), None
            current = outputs[0]
    return _repeat_frags(g, layers, times), current


def _repeat_frags(g, layers, times):
    pieces = []
    for index, (layer, site) in enumerate(layers):
        if index:
            pieces.append(" -> ")
        site = site or g.site(layer.text)
        pieces.append(Frag(site.id, [layer.text]))
    if len(layers) == 1 and g.chance(50):
        return pieces + [f" * {times}"]
    return ["("] + pieces + [f") * {times}"]


def gen_merge(g, env, shape):
    op = g.pick(["add", "mul", "cat"])
    site = g.site()
    form = g.pick(["residual", "branches", "refs"] + (["gate"] if op == "mul" and len(shape) > 1 else []))
    mode = "spatial" if op == "cat" else "preserve"
    operands, shapes = [], []
    if form == "residual":
        frags, out = gen_chain(g, env, shape, mode=mode, max_items=3)
        operands.append(frags)
        shapes = [shape, out]
    elif form == "gate":
        frags, out = gen_gate(g, env, shape)
        operands.append(frags)
        shapes = [shape, out]
    else:
        for index in range(g.int(2, 3)):
            if g.dead:
                break
            start_ref = form == "refs" and (index == 0 or g.chance(50))
            frags, out = gen_chain(g, env, shape, mode=mode, max_items=2, start_ref=start_ref, allow_empty=start_ref)
            operands.append(frags)
            shapes.append(out)
    pieces = [f"{op}("]
    for index, frags in enumerate(operands):
        if index:
            pieces.append(", ")
        pieces.extend(frags)
    pieces.append(")")
    frag = Frag(site.id, pieces)
    if g.dead or any(not isinstance(s, tuple) for s in shapes):
        return [frag], None
    build = {
        "add": lambda s: (None, lambda *xs: _fold(torch.add, xs)),
        "mul": lambda s: (None, lambda *xs: _fold(torch.mul, xs)),
        "cat": lambda s: (None, lambda *xs: torch.cat(xs, dim=1)),
    }[op]
    outputs = g.apply(site, op, build, tuple(shapes))
    return [frag], (outputs[0] if outputs else None)


def _fold(function, tensors):
    out = tensors[0]
    for t in tensors[1:]:
        out = function(out, t)
    return out


def gen_gate(g, env, shape):
    """A squeeze-and-excitation style gate: pool to 1 x ... x 1, a 1x1 conv, a sigmoid."""
    channels = g.pick([1, shape[0] + 1]) if g.wild() else shape[0]
    conv_text = g.pick([f"pwconv({channels})", f"conv({channels}, k=1)"])
    layers = [
        Layer("gap", g.pick(["gap", "adaptiveavgpool(1)"]), lambda s: as_module(module_class(ADAPTIVE["Avg"], None, s[0], "gap")(1))),
        Layer("pwconv", conv_text, lambda s: as_module(module_class(CONV, None, s[0], "conv")(s[0][0], channels, 1))),
        Layer("sigmoid", "sigmoid", lambda s: as_module(nn.Sigmoid())),
    ]
    pieces, current = [], shape
    for layer in layers:
        if pieces:
            pieces.append(" -> ")
        frag, outputs = apply_layer(g, layer, current)
        pieces.append(frag)
        if outputs is None:
            return pieces, None
        current = outputs[0]
    return pieces, current


def choose_ref(g, env):
    names = sorted(env.tensors) + ["in"]
    name = g.pick(names)
    return name, (env.input if name == "in" else env.tensors[name])


def gen_chain(g, env, shape, mode=None, max_items=4, start_ref=False, allow_empty=False):
    """A chain from `shape` (or from a tensor name); returns (fragments, resulting shape or None)."""
    pieces = []
    current = shape
    if start_ref:
        name, current = choose_ref(g, env)
        pieces.append(name)
    count = g.int(0 if (start_ref and allow_empty) else 1, max_items)
    for _ in range(count):
        if g.dead or not isinstance(current, tuple):
            break
        if pieces:
            pieces.append(" -> ")
        frags, current = gen_item(g, env, current, mode)
        pieces.extend(frags)
    return pieces, current


def gen_item(g, env, shape, mode=None):
    roll = g.int(0, 99)
    if g.branched and roll < 15 and len(shape) > 1:
        return gen_merge(g, env, shape)
    if roll >= 90:
        return gen_repeat(g, env, shape, mode)
    if roll >= 86:
        frags, out = gen_group(g, env, shape, mode)
        return frags, out
    if roll >= 82 and env.top and mode is None:
        return gen_block_call(g, env, shape)
    frags, out = gen_layer_item(g, env, shape, mode)
    if roll >= 78 and mode is None and not isinstance(frags[0], str):
        frags = [f"{g.fresh('lab')}: "] + frags  # a label names the layer only
    return frags, out


def gen_group(g, env, shape, mode):
    """`{a; b -> c}`: statements in braces, spliced into the chain."""
    pieces, current = ["{"], shape
    for index in range(g.int(1, 2)):
        if g.dead or not isinstance(current, tuple):
            break
        if index:
            pieces.append("; ")
        frags, current = gen_chain(g, env, current, mode=mode, max_items=2)
        pieces.extend(frags)
    pieces.append("}")
    return pieces, current


def gen_block_call(g, env, shape):
    """Define a block (or module) whose body is drawn here, and call it once."""
    name = g.fresh("blk")
    inner = Env(input=shape, top=False)
    saved, g.block_params = g.block_params, []
    lines, out = gen_body(g, inner, shape, max_statements=3)
    params, g.block_params = g.block_params, saved
    keyword = g.pick(["block", "module"])
    with_default = [g.chance(40) for _ in params]
    header = ", ".join(f"{p}={render_value(g, v)}" if d else p for (p, v), d in zip(params, with_default))
    g.blocks.append((f"{keyword} {name}({header}) {{", lines, "}"))
    args, positional = [], True
    for (param, value), has_default in zip(params, with_default):
        if has_default and g.chance(50):
            positional = False  # rely on the default
            continue
        if positional and g.chance(50):
            args.append(render_value(g, value))
        else:
            positional = False
            args.append(f"{param}={render_value(g, value)}")
    text = f"{name}({', '.join(args)})" if args or g.chance(50) else name
    return [text], out


def gen_split_statement(g, env, shape):
    """`a, b = chunk(2)` (or from a tensor name); binds the outputs; the flow becomes the names."""
    prefix = []
    if g.chance(30):
        name, shape = choose_ref(g, env)
        prefix = [name, " -> "]
    layer = gen_split(g, shape)
    frag, outputs = apply_layer(g, layer, shape)
    if outputs is None:
        return [prefix + [frag]], None
    names = [g.fresh() for _ in outputs]
    for name, out in zip(names, outputs):
        env.tensors[name] = out
    line = [", ".join(names) + " = "] + prefix + [frag]
    return [line], (Multi(names) if len(names) > 1 else outputs[0])


def gen_body(g, env, flow, max_statements, min_statements=1):
    """Statements; returns (lines, final single shape or None). Each line is a fragment list."""
    lines = []
    for _ in range(g.int(min_statements, max_statements)):
        if g.dead:
            break
        roll = g.int(0, 99)
        must_ref = isinstance(flow, Multi)
        if g.branched and roll < 15 and not must_ref:
            new_lines, flow = gen_split_statement(g, env, flow)
            lines += new_lines
            continue
        start_ref = must_ref or (g.branched and roll < 30)
        frags, out = gen_chain(g, env, flow, start_ref=start_ref)
        if g.branched and roll >= 60 and isinstance(out, tuple):
            name = g.fresh()
            env.tensors[name] = out
            frags = [f"{name} = "] + frags
        lines.append(frags)
        flow = out
    if isinstance(flow, Multi) and not g.dead:  # end on one tensor
        lines.append([flow.names[0]])
        flow = env.tensors[flow.names[0]]
    return lines, (flow if isinstance(flow, tuple) else None)


INPUT_SHAPES = {
    0: lambda g: (g.int(1, 32),),
    1: lambda g: (g.int(1, 8), g.int(1, 24)),
    2: lambda g: (g.int(1, 8), g.int(1, 12), g.int(1, 12)),
    3: lambda g: (g.int(1, 6), g.int(1, 6), g.int(1, 6), g.int(1, 6)),
}


@dataclass
class Program:
    text: str
    sites: list
    ops: list
    failure: tuple | None
    kinds: set


def render(g, net_lines, input_shape) -> str:
    """Lay the text out line by line and record where every site is."""
    out_lines = []

    def emit(pieces, line_number, column):
        text = ""
        for piece in pieces:
            if isinstance(piece, str):
                text += piece
                continue
            start = column + len(text)
            inner = emit(piece.children, line_number, start)
            site = g.sites[piece.site]
            site.span = (line_number, start, line_number, start + len(inner))
            text += inner
        return text

    for header, lines, footer in g.blocks:
        out_lines.append(header)
        for pieces in lines:
            out_lines.append("    " + emit(pieces, len(out_lines) + 1, 5))
        out_lines.append(footer)
    out_lines.append("net Generated {")
    if g.chance(25):
        out_lines.append("    input (" + ", ".join(map(str, input_shape)) + ("," if len(input_shape) == 1 else "") + ")")
    else:
        out_lines.append("    input " + "x".join(map(str, input_shape)))
    for pieces in net_lines:
        out_lines.append("    " + emit(pieces, len(out_lines) + 1, 5))
    out_lines.append("}")
    return "\n".join(out_lines) + "\n"


def generate(data, branched: bool) -> Program:
    g = Gen(data, branched)
    g.wildness = g.pick([0, 3, 8])
    rank = g.pick([2, 1, 3, 0])
    shape = INPUT_SHAPES[rank](g)
    env = Env(input=shape)
    lines, _ = gen_body(g, env, shape, max_statements=6 if branched else 4, min_statements=2)
    if not lines:  # the body died before emitting anything: impossible, every statement emits its failing call
        raise AssertionError("empty body")
    text = render(g, lines, shape)
    event(f"input rank {rank}")
    event("valid" if g.failure is None else "rejected")
    return Program(text, g.sites, g.ops, g.failure, g.kinds_used)


def check_program(program: Program):
    note(program.text)
    analysis = analyze(Source("generated.cnn", program.text))
    errors = analysis.errors
    shown = [f"{d.code} {d.span} {d.message}" for d in analysis.diagnostics]
    note("cnnspec: " + "; ".join(shown))
    assert all(d.code[:2] in ("E2", "E3") for d in errors), shown
    for code in ("E200", "E201", "E204", "E205", "E206", "E207", "E208", "E209", "E210", "E211", "E212", "E213"):
        assert all(d.code != code for d in errors), f"the generator wrote a program with {code}: {shown}"
    if program.failure is None:
        check_training_step(analysis, shown)
    else:
        site_id, rejected = program.failure
        site = program.sites[site_id]
        note(f"torch rejects `{site.text or 'merge'}` at {site.span}: [{rejected.category}] {rejected.reason}")
        assert errors, f"torch rejects {site.text!r} ({rejected.reason}); cnnspec reports no error"
        assert len(errors) == 1, shown
        span = errors[0].span
        assert span is not None and _within(span, site.span), (
            f"cnnspec's error is at {span}, torch rejects the call at {site.span}: {shown}"
        )
    graph = analysis.graph
    nodes = graph.nodes[1:]
    assert len(nodes) == len(program.ops), f"{len(nodes)} nodes, {len(program.ops)} layers run in torch"
    for node, op in zip(nodes, program.ops):
        site = program.sites[op.site]
        where = f"{node.name} ({node.op}) `{site.text or op.kind}`"
        assert (node.span.line, node.span.column) == site.span[:2], f"{where}: node at {node.span}, call at {site.span}"
        assert node.outputs == op.outputs, f"{where}: cnnspec {node.outputs}, torch {op.outputs}"
        assert node.params == op.params, f"{where}: cnnspec params {node.params}, torch {op.params}"
        assert node.buffers == op.buffers, f"{where}: cnnspec buffers {node.buffers}, torch {op.buffers}"
    net = check_graph_against_reference(graph)
    for node, op in zip(nodes, program.ops):
        reference = net.module_of(node)
        if op.module is None or reference is None:
            assert op.module is None and reference is None, f"{node.name}: {node.op} vs {op.kind}"
            continue
        assert type(reference) is type(op.module), (
            f"{node.name}: cnnspec builds {type(reference).__name__}, the DSL call means {type(op.module).__name__}"
        )
        assert _state(reference) == _state(op.module), f"{node.name}: cnnspec {_state(reference)} != DSL {_state(op.module)}"


INPLACE_HAZARDS = ("E308", "E309", "E310")


def check_training_step(analysis, shown):
    """Every layer works alone in torch: cnnspec reports an error only for an in-place layer,
    exactly where torch's training step of the whole net goes wrong (forward, backward, or a
    layer reading a tensor an in-place op has changed); each is placed on an in-place call."""
    errors = analysis.errors
    assert all(d.code in INPLACE_HAZARDS for d in errors), f"torch accepts every layer, cnnspec reports {shown}"
    rewritten: list[str] = []
    trouble = training_trouble(analysis.graph, rewritten=rewritten)
    note(f"torch's training step: {trouble or 'fine'}; {rewritten}")
    event("in-place hazard" if errors else "trains")
    if trouble is not None:
        assert errors, f"torch's training step fails ({trouble}); cnnspec reports no error"
    elif errors:  # an in-place write whose values happened to equal the old ones (relu after relu6)
        assert {d.code for d in errors} == {"E308"} and rewritten, f"torch trains the net; cnnspec reports {shown}"
    writers = {(n.span.line, n.span.column) for n in analysis.graph.nodes if n.inputs and n.kind.writes_in_place(n)}
    assert all((d.span.line, d.span.column) in writers for d in errors), shown


def _within(inner, outer) -> bool:
    return (inner[0], inner[1]) >= (outer[0], outer[1]) and (inner[2], inner[3]) <= (outer[2], outer[3])


PER_AXIS = {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size", "size", "scale_factor"}


def _state(module) -> dict:
    """A module's constructor state (hyperparameters), without tensors or torch internals.

    Per-axis values are compared up to torch's own expansion: an int means that value on
    every axis, so (3, 3) and 3 (or (1,) and 1) are the same argument to a module of one rank.
    """
    state = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training":
            continue
        if key in PER_AXIS and isinstance(value, tuple) and value and all(v == value[0] for v in value):
            value = value[0]
        state[key] = value
    return state


@HYPOTHESIS
@given(st.data())
def test_sequential_architectures_match_torch(data):
    check_program(generate(data, branched=False))


@HYPOTHESIS
@given(st.data())
def test_branched_architectures_match_torch(data):
    check_program(generate(data, branched=True))


# ---- c. pinned cases: what the random search found, checked on every run ----------------------


def _split(sizes):
    return lambda x: tuple(torch.split(x, sizes, dim=1))


PINNED = [
    # (statements of the net body, per-sample input shape, what they mean in torch: () -> fn(x))
    ("adaptiveavgpool(none)", (3, 8), lambda: nn.AdaptiveAvgPool1d(None)),
    ("adaptivemaxpool((none,))", (3, 8), lambda: nn.AdaptiveMaxPool1d((None,))),
    ("adaptiveavgpool(none)", (3, 8, 8), lambda: nn.AdaptiveAvgPool2d(None)),
    ("adaptivemaxpool((none, 2))", (3, 8, 8), lambda: nn.AdaptiveMaxPool2d((None, 2))),
    ("adaptiveavgpool((2, none, 1))", (3, 4, 4, 4), lambda: nn.AdaptiveAvgPool3d((2, None, 1))),
    ("instancenorm", (3, 1, 1), lambda: nn.InstanceNorm2d(3)),
    ("instancenorm(track_running_stats=true)", (3, 1), lambda: nn.InstanceNorm1d(3, track_running_stats=True)),
    ("instancenorm3d(affine=true)", (3, 1, 1, 1), lambda: nn.InstanceNorm3d(3, affine=True)),
    ("instancenorm", (3, 2, 1), lambda: nn.InstanceNorm2d(3)),
    ("split((2, 0, 1))", (3, 4), lambda: _split((2, 0, 1))),
    ("split((3, 1))", (4, 4), lambda: _split((3, 1))),
    ("flatten(start_dim=0, end_dim=0)", (3, 4), lambda: nn.Flatten(0, 0)),
    ("flatten(start_dim=0, end_dim=1)", (1, 4), lambda: nn.Flatten(0, 1)),
    ("flatten(start_dim=0, end_dim=1)", (2, 4), lambda: nn.Flatten(0, 1)),
    ("flatten(start_dim=0)", (1,), lambda: nn.Flatten(0)),
    ("flatten(start_dim=-3, end_dim=-2)", (1, 1, 5), lambda: nn.Flatten(-3, -2)),
    ("avgpool(2, stride=1, pad=1)", (3, 1, 1, 1), lambda: nn.AvgPool3d(2, stride=1, padding=1)),
    ("avgpool((1, 2, 2), pad=(0, 1, 1))", (3, 1, 1, 1), lambda: nn.AvgPool3d((1, 2, 2), padding=(0, 1, 1))),
    ("avgpool(2, stride=1, pad=1)", (3, 1, 1), lambda: nn.AvgPool2d(2, stride=1, padding=1)),
    ("maxpool(2, stride=1, pad=1)", (3, 1, 1, 1), lambda: nn.MaxPool3d(2, stride=1, padding=1)),
    ("zeropad((-2, 2))", (3, 1), lambda: nn.ZeroPad1d((-2, 2))),
    ("zeropad((2, -2))", (3, 1), lambda: nn.ZeroPad1d((2, -2))),
    ("zeropad((-1, 2))", (3, 1), lambda: nn.ZeroPad1d((-1, 2))),
    ("zeropad((0, 0, -2, 2))", (3, 1, 4), lambda: nn.ZeroPad2d((0, 0, -2, 2))),
    ("zeropad((-1, -1, 0, 0))", (3, 1, 4), lambda: nn.ZeroPad2d((-1, -1, 0, 0))),
    ("t1 = gap -> flatten\n    mul(in, t1)", (4, 5, 1), lambda: lambda x: x * nn.Flatten()(nn.AdaptiveAvgPool2d(1)(x))),
    ("t1 = flatten(start_dim=2)\n    add(in, t1)", (4, 1, 1), lambda: lambda x: x + nn.Flatten(2)(x)),
    ("mul(gap -> pwconv(1) -> sigmoid)", (4, 5, 5), lambda: lambda x: x * nn.AdaptiveAvgPool2d(1)(x)[:, :1]),
    # the rules torch itself enforces, for reference
    ("conv(4, k=3, stride=2, pad='same')", (3, 8, 8), lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same")),
    ("conv(4, k=4, dilation=3, pad='same')", (3, 7, 6), lambda: nn.Conv2d(3, 4, 4, dilation=3, padding="same")),
    ("maxpool(3, pad=2)", (3, 8, 8), lambda: nn.MaxPool2d(3, padding=2)),
    ("maxpool(3, stride=2, pad=1, ceil_mode=true)", (3, 6, 6), lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)),
    ("avgpool(2, stride=2, pad=1, ceil_mode=true)", (3, 5), lambda: nn.AvgPool1d(2, stride=2, padding=1, ceil_mode=True)),
    ("convtranspose(4, k=3, stride=2, output_padding=2)", (3, 5, 5), lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2)),
    ("convtranspose(4, k=3, dilation=3, output_padding=2)", (3, 5), lambda: nn.ConvTranspose1d(3, 4, 3, dilation=3, output_padding=2)),
    ("upsample(scale=1.1)", (3, 10, 7), lambda: nn.Upsample(scale_factor=1.1)),
    ("upsample(scale=0.7, mode='linear')", (3, 10), lambda: nn.Upsample(scale_factor=0.7, mode="linear")),
]


PINNED_IDS = [f"{body.splitlines()[-1].strip()}@{'x'.join(map(str, shape))}" for body, shape, _ in PINNED]


@pytest.mark.parametrize("body, shape, meaning", PINNED, ids=PINNED_IDS)
def test_pinned_case_matches_torch(body, shape, meaning):
    text = f"net Pinned {{\n    input {'x'.join(map(str, shape)) if len(shape) > 1 else shape[0]}\n    {body}\n}}\n"
    analysis = analyze(Source("pinned.cnn", text))
    shown = [f"{d.code} {d.message}" for d in analysis.errors]
    try:
        outputs, _ = torch_apply(lambda shapes: (None, meaning()), [shape])
    except Rejected as rejected:
        assert analysis.errors, f"torch rejects it ({rejected.reason}); cnnspec reports no error"
        assert all(d.code[:2] in ("E2", "E3") for d in analysis.errors), shown
        return
    assert not analysis.errors, f"torch gives {outputs}; cnnspec reports {shown}"
    graph = analysis.graph
    assert graph.nodes[graph.output.node].outputs[graph.output.index] == outputs[0]
    check_graph_against_reference(graph)


# ---- d. every spelling, once: its hparams are torch's constructor arguments ----------------------

EVERY_SPELLING = {
    # spelling: (a call, the per-sample input shape)
    "conv": ("conv(8, k=3, stride=2, pad=1, dilation=1, groups=2, bias=false)", (4, 9, 9)),
    "conv1d": ("conv1d(8, k=3, pad='same', dilation=2)", (4, 9)),
    "conv2d": ("conv2d(8, k=(3, 2), stride=(2, 1), pad='valid')", (4, 9, 9)),
    "conv3d": ("conv3d(8, k=2, pad=(1, 0, 1))", (4, 5, 5, 5)),
    "dwconv": ("dwconv(3, stride=2, pad=1, multiplier=2)", (4, 9, 9)),
    "depthwise": ("depthwise(3, pad='same', bias=false)", (4, 9)),
    "pwconv": ("pwconv(8, groups=2)", (4, 5, 5, 5)),
    "pointwise": ("pointwise(8, bias=false)", (4, 9, 9)),
    "convtranspose": ("convtranspose(8, k=3, stride=2, pad=1, output_padding=1, groups=2, dilation=1)", (4, 5, 5)),
    "deconv": ("deconv(8, k=4, stride=2, pad=1, bias=false)", (4, 5)),
    "convtranspose1d": ("convtranspose1d(8, k=3, stride=3, output_padding=2)", (4, 5)),
    "convtranspose2d": ("convtranspose2d(8, k=(3, 1), dilation=(3, 1), output_padding=(2, 0))", (4, 5, 5)),
    "convtranspose3d": ("convtranspose3d(8, k=2, stride=2)", (4, 3, 3, 3)),
    "maxpool": ("maxpool(3, stride=2, pad=1, dilation=2, ceil_mode=true)", (4, 9, 9)),
    "maxpool1d": ("maxpool1d(2)", (4, 9)),
    "maxpool2d": ("maxpool2d((3, 2), stride=(2, 1), ceil_mode=true)", (4, 9, 9)),
    "maxpool3d": ("maxpool3d(2, pad=1)", (4, 5, 5, 5)),
    "avgpool": ("avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=false)", (4, 8)),
    "avgpool1d": ("avgpool1d(2)", (4, 9)),
    "avgpool2d": ("avgpool2d(2, stride=1, pad=1)", (4, 9, 9)),
    "avgpool3d": ("avgpool3d(2, ceil_mode=true)", (4, 5, 5, 5)),
    "adaptiveavgpool": ("adaptiveavgpool((3, none))", (4, 9, 9)),
    "adaptiveavgpool1d": ("adaptiveavgpool1d(3)", (4, 9)),
    "adaptiveavgpool2d": ("adaptiveavgpool2d((1, 2))", (4, 9, 9)),
    "adaptiveavgpool3d": ("adaptiveavgpool3d((none, 2, 7))", (4, 5, 5, 5)),
    "adaptivemaxpool": ("adaptivemaxpool(2)", (4, 9)),
    "adaptivemaxpool1d": ("adaptivemaxpool1d(12)", (4, 9)),
    "adaptivemaxpool2d": ("adaptivemaxpool2d((none, 3))", (4, 9, 9)),
    "adaptivemaxpool3d": ("adaptivemaxpool3d(1)", (4, 5, 5, 5)),
    "gap": ("gap", (4, 5, 5, 5)),
    "globalavgpool": ("globalavgpool", (4, 9)),
    "globalmaxpool": ("globalmaxpool", (4, 9, 9)),
    "batchnorm": ("batchnorm(eps=0.001, momentum=none)", (4,)),
    "bn": ("bn(affine=false, track_running_stats=false)", (4, 9, 9)),
    "batchnorm1d": ("batchnorm1d", (4, 9)),
    "batchnorm2d": ("batchnorm2d(momentum=0.01)", (4, 9, 9)),
    "batchnorm3d": ("batchnorm3d", (4, 5, 5, 5)),
    "instancenorm": ("instancenorm(affine=true, track_running_stats=true)", (4, 9, 9)),
    "instancenorm1d": ("instancenorm1d", (4, 9)),
    "instancenorm2d": ("instancenorm2d(affine=true)", (4, 9, 9)),
    "instancenorm3d": ("instancenorm3d(track_running_stats=true)", (4, 5, 5, 5)),
    "groupnorm": ("groupnorm(2, eps=0.001, affine=false)", (4, 9, 9)),
    "layernorm": ("layernorm((9, 9), bias=false)", (4, 9, 9)),
    "layernorm2d": ("layernorm2d(eps=1e-6, bias=false)", (4, 9, 9)),
    "lrn": ("lrn(3, alpha=0.001, beta=0.5, k=2.0)", (4, 9, 9)),
    "localresponsenorm": ("localresponsenorm(2)", (4, 9)),
    "relu": ("relu(inplace=true)", (4, 9, 9)),
    "relu6": ("relu6", (4,)),
    "leakyrelu": ("leakyrelu(slope=0.2)", (4, 9)),
    "elu": ("elu(alpha=2.0)", (4, 9)),
    "gelu": ("gelu(approximate='tanh')", (4, 9)),
    "silu": ("silu", (4, 9)),
    "swish": ("swish(inplace=true)", (4, 9)),
    "hardswish": ("hardswish", (4, 9)),
    "hardsigmoid": ("hardsigmoid", (4, 9)),
    "sigmoid": ("sigmoid", (4, 9)),
    "tanh": ("tanh", (4, 9)),
    "prelu": ("prelu(num_parameters=4, init=0.1)", (4, 9, 9)),
    "softmax": ("softmax(dim=-1)", (4, 9)),
    "logsoftmax": ("logsoftmax", (4, 9)),
    "dropout": ("dropout(0.2, inplace=true)", (4, 9)),
    "identity": ("identity", (4, 9)),
    "stochasticdepth": ("stochasticdepth(0.2, mode='batch')", (4, 9, 9)),
    "droppath": ("droppath(0.1)", (4, 9)),
    "flatten": ("flatten(start_dim=2)", (4, 5, 5, 5)),
    "linear": ("linear(10, bias=false)", (4,)),
    "linear(axis=-1)": ("permute((0, 2, 3, 1)) -> linear(10, axis=-1)", (4, 9, 7)),
    "fc": ("fc(10)", (4,)),
    "permute": ("permute((0, 2, 3, 1))", (4, 9, 7)),
    "parameter": ("scale: parameter((4, 1, 1), init=0.5)", (4, 9, 7)),
    "upsample": ("upsample(scale=(2, 1.5), mode='bilinear', align_corners=true)", (4, 9, 9)),
    "pixelshuffle": ("pixelshuffle(2)", (8, 5, 5)),
    "zeropad": ("zeropad((1, 0, 2, 1))", (4, 9, 9)),
    "zeropad1d": ("zeropad1d((1, 2))", (4, 9)),
    "zeropad2d": ("zeropad2d(1)", (4, 9, 9)),
    "zeropad3d": ("zeropad3d((1, 0, 0, 1, 2, 2))", (4, 5, 5, 5)),
    "channelshuffle": ("channelshuffle(2)", (4, 9, 9)),
    "layerscale": ("layerscale(0.1)", (4, 9, 9)),
    "chunk": ("t1, t2 = chunk(2)\n    t2", (4, 9, 9)),
    "split": ("t1, t2 = split((1, 3))\n    t2", (4, 9)),
}


def test_every_spelling_is_listed():
    from cnnspec.layers import REGISTRY

    missing = sorted(set(REGISTRY) - {spelling.partition("(")[0] for spelling in EVERY_SPELLING})
    assert not missing, f"add a call for each new layer spelling to EVERY_SPELLING: {missing}"


@pytest.mark.parametrize("spelling", sorted(EVERY_SPELLING))
def test_every_spelling_builds_in_torch(spelling):
    body, shape = EVERY_SPELLING[spelling]
    text = f"net Spelling {{\n    input {'x'.join(map(str, shape)) if len(shape) > 1 else shape[0]}\n    {body}\n}}\n"
    analysis = analyze(Source("spelling.cnn", text))
    assert not analysis.errors, [f"{d.code} {d.message}" for d in analysis.errors]
    check_graph_against_reference(analysis.graph)


# ---- e. the channels-last layers, values and gradients against torch's and torchvision's own modules ----


class _Scaled(nn.Module):
    """A module with its own parameter `scale`, multiplied in (ConvNeXt's CNBlock.layer_scale)."""

    def __init__(self, shape, init):
        super().__init__()
        self.scale = nn.Parameter(torch.full(shape, init))

    def forward(self, x):
        return x * self.scale


def _torchvision_ops():
    ops = pytest.importorskip("torchvision.ops", reason="the test extra installs torchvision")
    convnext = pytest.importorskip("torchvision.models.convnext")
    return ops.misc.Permute, convnext.LayerNorm2d, ops.StochasticDepth


CHANNELS_LAST = [
    # (net body, per-sample input shape, the torch model it means: (Permute, LayerNorm2d, StochasticDepth) -> module)
    ("permute((0, 2, 3, 1))", (4, 5, 6), lambda P, L, S: P([0, 2, 3, 1])),
    ("permute((0, -1, 1, 2))", (4, 5, 6), lambda P, L, S: P([0, -1, 1, 2])),
    ("layernorm2d(eps=1e-6)", (4, 5, 6), lambda P, L, S: L(4, eps=1e-6)),
    ("layernorm2d(affine=false)", (4, 5, 6), lambda P, L, S: L(4, elementwise_affine=False)),
    (
        "permute((0, 2, 3, 1)) -> layernorm(4, eps=1e-6) -> linear(16, axis=-1) -> gelu -> linear(4, axis=-1) -> permute((0, 3, 1, 2))",
        (4, 5, 6),
        lambda P, L, S: nn.Sequential(
            P([0, 2, 3, 1]), nn.LayerNorm(4, eps=1e-6), nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 4), P([0, 3, 1, 2])
        ),
    ),
    ("linear(3, axis=-1, bias=false)", (4, 5, 6), lambda P, L, S: nn.Linear(6, 3, bias=False)),  # channels-first: the last axis is W
    ("linear(3, axis=-1)", (4, 6), lambda P, L, S: nn.Linear(6, 3)),
    ("scale: parameter((4, 1, 1), init=1e-6)", (4, 5, 6), lambda P, L, S: _Scaled((4, 1, 1), 1e-6)),
    ("scale: parameter(6, init=0.5)", (4, 5, 6), lambda P, L, S: _Scaled((6,), 0.5)),
    ("stochasticdepth(0.3)", (4, 5, 6), lambda P, L, S: S(0.3, "row")),
]


@pytest.mark.parametrize("body, shape, meaning", CHANNELS_LAST, ids=[case[0] for case in CHANNELS_LAST])
def test_channels_last_layers_compute_what_torch_computes(body, shape, meaning):
    """The generated module loads the torch model's state_dict (strict) and gives the same
    outputs, input gradients and parameter gradients in float64; counts and MACs as torch's."""
    from torch.utils.flop_counter import FlopCounterMode

    from cnnspec.analysis.compute import totals
    from cnnspec.codegen.module import generate_module
    from cnnspec.codegen.verify import build_generated

    reference = meaning(*_torchvision_ops()).double().eval()
    if not isinstance(reference, (nn.Sequential, _Scaled)):
        reference = nn.Sequential(reference)  # the layer is the net's child "0"
    analysis = analyze(Source("layer.cnn", f"net Layer {{\n    input {'x'.join(map(str, shape))}\n    {body}\n}}\n"))
    assert not analysis.errors, [f"{d.code} {d.message}" for d in analysis.errors]
    ours = build_generated(generate_module(analysis, "layer.cnn"), device="cpu").double().eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in reference.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype))
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert count_params(reference) == count_params(ours) == analysis.graph.totals()["params"]
    assert count_buffers(reference) == count_buffers(ours) == analysis.graph.totals()["buffers"]

    x = torch.randn((2, *shape), generator=generator, dtype=torch.float64)
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    with FlopCounterMode(display=False) as counter:
        out = ours(x_ours)
    expected = reference(x_ref)
    graph = analysis.graph
    assert tuple(out.shape) == (2, *graph.nodes[graph.output.node].outputs[graph.output.index])
    assert torch.equal(out, expected)
    assert counter.get_total_flops() == 2 * 2 * totals(graph).macs
    seed = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    out.backward(seed)
    expected.backward(seed)
    assert torch.equal(x_ours.grad, x_ref.grad)
    theirs = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        assert torch.equal(parameter.grad, theirs[name].grad), name


@pytest.mark.parametrize(
    "body, shape, code",
    [
        ("linear(3)", (4, 5, 6), "E305"),  # a plain linear on a spatial tensor: the forgotten flatten, as before
        ("linear(3, axis=1)", (4, 5, 6), "E202"),  # torch's Linear acts on the last axis only
        ("permute((0, 2, 1))", (4, 5, 6), "E202"),  # one dim per batched axis
        ("permute((0, 2, 2, 1))", (4, 5, 6), "E202"),  # not a permutation
        ("permute((1, 0, 2, 3))", (4, 5, 6), "E202"),  # the batch axis stays first
        ("layernorm2d", (4, 5), "E306"),  # torchvision's LayerNorm2d permutes four axes
        ("scale: parameter((5, 1, 1))", (4, 5, 6), "E307"),  # does not broadcast to 4 x 5 x 6
        ("scale: parameter((1, 4, 5, 6))", (4, 5, 6), "E307"),  # would broadcast over the batch
    ],
)
def test_channels_last_layers_reject_what_they_cannot_mean(body, shape, code):
    analysis = analyze(Source("layer.cnn", f"net Layer {{\n    input {'x'.join(map(str, shape))}\n    {body}\n}}\n"))
    assert [d.code for d in analysis.errors] == [code]
