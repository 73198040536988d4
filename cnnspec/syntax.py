"""The syntax tree: typed, immutable nodes with source spans, built from Lark's parse tree."""

from __future__ import annotations

import math
from typing import NamedTuple

from lark import Token, Tree

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
    var: str
    start: object
    stop: object
    body: tuple
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


def _span(meta) -> Span:
    return Span.of(meta)


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


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


class ToSyntax:
    """Lark tree -> syntax nodes, one method per grammar rule: method(meta, children)."""

    def transform(self, tree: Tree):
        """Bottom-up, without recursion (a long expression makes a deep tree)."""
        postfix = []  # the subtrees, each after its children when read backwards
        pending = [tree]
        while pending:
            node = pending.pop()
            postfix.append(node)
            pending.extend(child for child in node.children if isinstance(child, Tree))
        results = {}  # id(subtree) -> its syntax node
        for node in reversed(postfix):
            children = [results.pop(id(c)) if isinstance(c, Tree) else c for c in node.children]
            method = getattr(self, node.data, None)
            results[id(node)] = Tree(node.data, children, node.meta) if method is None else method(node.meta, children)
        return results[id(tree)]

    def start(self, meta, children):
        return tuple(children)

    def block_def(self, meta, children):
        kind, name, *rest = children
        return self._definition(meta, str(kind), name, rest)

    def net_def(self, meta, children):
        name, *rest = children
        return self._definition(meta, "net", name, rest)

    def _definition(self, meta, kind, name, rest):
        params = rest[0] if len(rest) == 2 else ()
        return Definition(kind, str(name), params, rest[-1], _span(meta), _token_span(name))

    def block_kind(self, meta, children):
        return str(children[0])

    def param_list(self, meta, children):
        return tuple(children)

    def param(self, meta, children):
        default = children[1] if len(children) > 1 else None
        return Param(str(children[0]), default, _span(meta))

    def body(self, meta, children):
        return tuple(children)

    def input_decl(self, meta, children):
        if len(children) == 1 and isinstance(children[0], Token):
            token = children[0]
            dims = tuple(Literal(int_literal(part, _token_span(token)), _token_span(token)) for part in str(token).split("x"))
            return InputDecl(dims, _span(meta))
        return InputDecl(tuple(children), _span(meta))

    def expect_stmt(self, meta, children):
        return Expect(children[0], _span(meta))

    def assign(self, meta, children):
        *targets, chain = children
        return Assign(tuple((str(t), _token_span(t)) for t in targets), chain, _span(meta))

    def if_stmt(self, meta, children):
        condition, then, *rest = children
        otherwise = rest[0] if rest else ()
        if isinstance(otherwise, If):
            otherwise = (otherwise,)
        return If(condition, then, otherwise, _span(meta))

    def for_stmt(self, meta, children):
        var, start, stop, body = children
        return For(str(var), start, stop, body, _span(meta))

    def chain(self, meta, children):
        return Chain(tuple(children), _span(meta))

    def item(self, meta, children):
        label = children[0] if isinstance(children[0], Label) else None
        rest = children[1:] if label else children
        repeat = rest[1] if len(rest) > 1 else None
        return Item(label, rest[0], repeat, _span(meta))

    def label(self, meta, children):
        name = children[0]
        index = children[1] if len(children) > 1 else None
        name_span = _token_span(name)
        if index is not None:  # name{index}: up to the '}' (the ':' is the label's last character)
            name_span = Span(name.line, name.column, meta.end_line, meta.end_column - 1)
        return Label(str(name), index, _span(meta), name_span)

    def repeat(self, meta, children):
        return children[-1]

    def call(self, meta, children):
        name, *args = children
        return Call(str(name), tuple(args), _span(meta))

    def ref(self, meta, children):
        return Call(str(children[0]), (), _span(meta), bare=True)

    def in_ref(self, meta, children):
        return InputRef(_span(meta))

    def group(self, meta, children):
        return Group(children[0], _span(meta))

    def paren(self, meta, children):
        return Paren(children[0], _span(meta))

    def merge(self, meta, children):
        op, *operands = children
        return Merge(op, tuple(operands), _span(meta))

    def merge_op(self, meta, children):
        return str(children[0])

    def arg(self, meta, children):
        name = str(children[0]) if len(children) == 2 else None
        return Arg(name, children[-1], _span(meta))

    # expressions
    def int(self, meta, children):
        return Literal(int_literal(children[0], _span(meta)), _span(meta), str(children[0]))

    def suffixed(self, meta, children):
        return Literal(suffixed_literal(str(children[0]), _span(meta)), _span(meta), str(children[0]))

    def float(self, meta, children):
        return Literal(float_literal(str(children[0]), _span(meta)), _span(meta), str(children[0]))

    def string(self, meta, children):
        return Literal(str(children[0])[1:-1], _span(meta))

    def true(self, meta, children):
        return Literal(True, _span(meta))

    def false(self, meta, children):
        return Literal(False, _span(meta))

    def none(self, meta, children):
        return Literal(None, _span(meta))

    def var(self, meta, children):
        return Var(str(children[0]), _span(meta))

    def tuple(self, meta, children):
        return TupleExpr(tuple(children), _span(meta))

    def neg(self, meta, children):
        return Unary("-", children[0], _span(meta))

    def not_(self, meta, children):
        return Unary("not", children[0], _span(meta))

    def binop(self, meta, children):
        left, op, right = children
        return Binary(str(op), left, right, _span(meta))

    compare = binop

    def and_(self, meta, children):
        return Binary("and", children[0], children[1], _span(meta))

    def or_(self, meta, children):
        return Binary("or", children[0], children[1], _span(meta))


def to_syntax(tree) -> tuple[Definition, ...]:
    """Raises CnnspecError for a literal that cannot be represented (a 5,000-digit number)."""
    return ToSyntax().transform(tree)
