"""Python source text for generated code, already in `ruff format`'s layout (line length 88).

Expressions are small trees: `Code` (text written as is, e.g. a name), `Call` (a function
and its arguments) and `ListOf` (a list or tuple display). A tree is written on one line
when it fits; otherwise every bracket that does not fit is opened, one item per line, with
a trailing comma. ruff keeps that layout (the "magic trailing comma"), so the output is
stable under `ruff format` whatever the names' lengths.
"""

from __future__ import annotations

import math
from typing import NamedTuple

LINE_LENGTH = 88
INDENT = "    "


class Code(NamedTuple):
    text: str


class Call(NamedTuple):
    function: str
    args: tuple  # of expressions and Keywords


class Keyword(NamedTuple):
    name: str
    value: object  # an expression


class Operators(NamedTuple):
    """`a + b + c`: operands joined by one binary operator."""

    operator: str
    operands: tuple


class ListOf(NamedTuple):
    items: tuple
    brackets: str = "[]"  # "()" for a tuple display


def literal(value) -> str:
    """A Python literal for a hyperparameter value, as ruff would write it (double quotes)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    raise TypeError(f"no literal for {type(value).__name__}")


def literal_expr(value):
    """`literal(value)` as an expression: a tuple or list may be opened like a call."""
    if isinstance(value, (tuple, list)) and value:
        return ListOf(tuple(literal_expr(v) for v in value), "()" if isinstance(value, tuple) else "[]")
    return Code(literal(value))


def _string(text: str) -> str:
    quoted = repr(text)  # escapes quotes, backslashes, newlines and other control characters
    if quoted.startswith("'") and '"' not in text:
        return '"' + quoted[1:-1].replace("\\'", "'") + '"'
    return quoted


def one_line(expr) -> str:
    if isinstance(expr, Code):
        return expr.text
    if isinstance(expr, Call):
        return f"{expr.function}({', '.join(_argument(a) for a in expr.args)})"
    if isinstance(expr, Operators):
        return f" {expr.operator} ".join(one_line(item) for item in expr.operands)
    opening, closing = expr.brackets
    items = ", ".join(one_line(item) for item in expr.items)
    if closing == ")" and len(expr.items) == 1:
        items += ","
    return f"{opening}{items}{closing}"


def _argument(arg) -> str:
    return f"{arg.name}={one_line(arg.value)}" if isinstance(arg, Keyword) else one_line(arg)


def _split(expr, indent: str) -> list[str]:
    """`expr` opened at its outermost bracket: the opening line's tail, the items, the closing."""
    if isinstance(expr, Call):
        opening, closing, items = f"{expr.function}(", ")", expr.args
    else:
        opening, closing, items = expr.brackets[0], expr.brackets[1], expr.items
    inner = indent + INDENT
    lines = [opening]
    for item in items:
        if isinstance(item, Keyword):
            lines.extend(statement(f"{item.name}=", item.value, ",", inner))
        else:
            lines.extend(statement("", item, ",", inner))
    lines.append(indent + closing)
    return lines


def statement(prefix: str, expr, suffix: str = "", indent: str = "") -> list[str]:
    """`prefix expr suffix` at `indent`, as lines; brackets opened only where needed."""
    line = f"{indent}{prefix}{one_line(expr)}{suffix}"
    if len(line) <= LINE_LENGTH or isinstance(expr, Code) or not _has_items(expr):
        return [line]
    if isinstance(expr, Operators):  # ruff's layout: parenthesised, one operand per line
        inner = indent + INDENT
        operands = [inner + one_line(expr.operands[0])] + [f"{inner}{expr.operator} {one_line(o)}" for o in expr.operands[1:]]
        return [f"{indent}{prefix}(", *operands, f"{indent}){suffix}"]
    first, *rest = _split(expr, indent)
    return [f"{indent}{prefix}{first}", *rest[:-1], rest[-1] + suffix]


def _has_items(expr) -> bool:
    if isinstance(expr, Operators):
        return len(expr.operands) > 1
    return bool(expr.args if isinstance(expr, Call) else expr.items)


def signature(name: str, params: list[str], returns: str, indent: str) -> list[str]:
    """`def name(params) -> returns:`, its parameters one per line when it is too long."""
    line = f"{indent}def {name}({', '.join(params)}) -> {returns}:"
    if len(line) <= LINE_LENGTH:
        return [line]
    inner = indent + INDENT
    return [f"{indent}def {name}(", *(f"{inner}{p}," for p in params), f"{indent}) -> {returns}:"]
