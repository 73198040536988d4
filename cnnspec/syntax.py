"""The syntax tree: typed, immutable nodes with source spans, built by cnnspec.fastparse or, from Lark's parse tree, by cnnspec.parser."""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from cnnspec.diagnostics import CnnspecError, error
from cnnspec.source import Span

# ---- expressions ----------------------------------------------------------------


class Literal(NamedTuple):
    value: object  # int, float, str, bool or None
    span: Span
    text: str | None = None  # a number's spelling: 143_667_240, 5M, 0.5


class Var(NamedTuple):
    name: str
    span: Span


class TupleExpr(NamedTuple):
    items: tuple
    span: Span


class Unary(NamedTuple):
    op: str  # "-" or "not"
    operand: object
    span: Span


class Binary(NamedTuple):
    op: str  # + - * / // % == != < <= > >= and or
    left: object
    right: object
    span: Span


class Conditional(NamedTuple):
    """`2 if first else 1`."""

    condition: object
    then: object
    otherwise: object
    span: Span


class ListExpr(NamedTuple):
    items: tuple
    span: Span


class Apply(NamedTuple):
    """`max(a, b)`, `make_divisible(c * w, 8)`, or `batchnorm(eps=1e-3)`: a function call, or a
    layer or block with bound arguments (a value that a chain can apply)."""

    name: str
    args: tuple  # Arg
    span: Span
    name_span: Span


class Index(NamedTuple):
    """`depths[i]`, `widths[1:]`; `index` is an expression or a Slice."""

    target: object
    index: object
    span: Span


class Slice(NamedTuple):
    start: object | None
    stop: object | None
    step: object | None
    span: Span


class Attribute(NamedTuple):
    """`in.channels`, `x.shape`: a tensor's shape, read in an expression."""

    target: object
    name: str
    span: Span


# ---- layer chains -------------------------------------------------------------


class Arg(NamedTuple):
    name: str | None
    value: object
    span: Span


class Call(NamedTuple):
    """A layer or block with arguments, or a bare name (which may also be a tensor)."""

    name: str
    args: tuple[Arg, ...]
    span: Span
    bare: bool = False


class InputRef(NamedTuple):
    span: Span


class Group(NamedTuple):
    body: tuple
    span: Span


class Paren(NamedTuple):
    chain: Chain
    span: Span


class Merge(NamedTuple):
    op: str  # add, cat, mul
    operands: tuple[Chain, ...]
    span: Span


class Label(NamedTuple):
    name: str
    index: object | None  # the expression in name{expr}, or None
    span: Span  # the whole label, ':' included
    name_span: Span | None = None  # the name, and {index} if any, without the ':'
    parts: tuple | None = None  # any other label (`block{i}-{j}`, `12`): its text pieces (str) and expressions


class Item(NamedTuple):
    label: Label | None
    atom: object
    repeat: object | None
    span: Span


class Chain(NamedTuple):
    items: tuple[Item, ...]
    span: Span


# ---- statements and definitions -------------------------------------------------


class InputDecl(NamedTuple):
    dims: tuple  # expressions
    span: Span


class Assign(NamedTuple):
    targets: tuple[tuple[str, Span], ...]
    chain: Chain
    span: Span


class If(NamedTuple):
    condition: object
    then: tuple
    otherwise: tuple
    span: Span


class For(NamedTuple):
    """`for i in 1..n { }` (start and stop), or `for d in depths { }`, `for i, d in enumerate(depths) { }`
    (iterable, and targets when there are several names)."""

    var: str
    start: object | None
    stop: object | None
    body: tuple
    span: Span
    iterable: object | None = None
    targets: tuple | None = None  # ((name, span), ...) when several names are bound


class Let(NamedTuple):
    """`let width = planes * 4`: a value (never a tensor) in the enclosing definition's scope."""

    targets: tuple[tuple[str, Span], ...]
    value: object
    span: Span


class Assert(NamedTuple):
    """`assert stride in (1, 2), 'stride must be 1 or 2'`: the author's own check."""

    condition: object
    message: object | None
    span: Span


class Expect(NamedTuple):
    """`expect params <= 5M`: a contract on the net's totals, checked by `cnnspec check`."""

    expr: object
    span: Span


class Param(NamedTuple):
    name: str
    default: object | None
    span: Span


class Definition(NamedTuple):
    """A net, or a block (spliced into its caller) or module (a submodule of its caller)."""

    kind: str  # "net", "block" or "module"
    name: str
    params: tuple[Param, ...]
    body: tuple
    span: Span
    name_span: Span


class Variant(NamedTuple):
    """`net resnet34 = resnet(layers=[3, 4, 6, 3]) { expect ... }`: a net that is another net
    with other parameter values, and expectations of its own."""

    name: str
    base: str
    args: tuple  # Arg
    body: tuple
    span: Span
    name_span: Span
    base_span: Span


# The module names a label written in pieces may spell (`block1-0`, `12`): torch's add_module
# takes them, and generated code reaches them with get_submodule.
TORCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*\Z")

MAX_NESTING = 100  # brackets; deeper input would exhaust Python's stack when expanded
MAX_DIGITS = 30  # far beyond any size (sizes are 64-bit); Python refuses to convert > 4300 digits


def int_literal(text: str, span: Span) -> int:
    digits = text.replace("_", "")
    if len(digits) > MAX_DIGITS:
        message = f"the number {digits[:8]}... ({len(digits):,} digits) is too large (sizes are 64-bit integers)"
        raise CnnspecError(error("E210", message, span))
    return int(digits)


def float_literal(text: str, span: Span) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: beyond the largest float, about 1.8e308
        raise CnnspecError(error("E210", f"the number {text} is too large (the largest float is about 1.8e308)", span))
    return value


SUFFIXES = {"K": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def suffixed_literal(text: str, span: Span) -> int | float:
    """5M -> 5_000_000, 1.5Ki -> 1536, 0.0001K -> 0.1: an int whenever the value is whole."""
    number = text.rstrip("KMGi")
    whole, _, fraction = number.partition(".")
    scale = SUFFIXES[text[len(number) :]]
    numerator = int_literal(whole + fraction, span) * scale
    denominator = 10 ** len(fraction)
    return numerator // denominator if numerator % denominator == 0 else numerator / denominator
