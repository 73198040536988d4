"""Evaluation of the language's expressions by cnnspec itself (never eval/exec)."""

from __future__ import annotations

import difflib
import operator

from cnnspec.diagnostics import CnnspecError, error
from cnnspec.syntax import Binary, Literal, TupleExpr, Unary, Var

INT_LIMIT = 2**63 - 1  # torch sizes are int64

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def exact(value):
    """A key for a value that tells its type too: 1, 1.0 and True are equal in Python but not
    the same argument (an integer size, a float rate, a flag); nor are 0.0 and -0.0, which
    print differently."""
    value_type = type(value)
    if value_type is int or value_type is str:
        return value
    if value_type is tuple:
        return (tuple, *map(exact, value))
    if value_type is float:
        return (float, repr(value))
    return (value_type, value)


def suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Unknown:
    """The value of an expression whose evaluation failed and was reported: it spreads without
    further errors, so that one mistake gives one diagnostic."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


def evaluate(expr, values: dict):
    """The value of an expression given the names in scope (block parameters, loop variables).

    A name bound to UNKNOWN makes every expression using it UNKNOWN, without an error.
    """
    if isinstance(expr, Literal):
        return _bounded(expr.value, expr)
    if isinstance(expr, Var):
        if expr.name not in values:
            raise CnnspecError(error("E204", f"undefined name '{expr.name}'{suggest(expr.name, values)}", expr.span))
        return values[expr.name]
    if isinstance(expr, TupleExpr):
        items = tuple(evaluate(item, values) for item in expr.items)
        return UNKNOWN if any(item is UNKNOWN for item in items) else items
    if isinstance(expr, Unary):
        operand = evaluate(expr.operand, values)
        if operand is UNKNOWN:
            return UNKNOWN
        if expr.op == "not":
            return not _truth(operand, expr)
        if not _is_number(operand):
            raise CnnspecError(error("E210", f"cannot negate {operand!r}", expr.span))
        return -operand
    assert isinstance(expr, Binary)
    if expr.op in ("and", "or"):
        left = evaluate(expr.left, values)
        if left is UNKNOWN:
            return UNKNOWN
        left = _truth(left, expr.left)
        if (expr.op == "and") != left:
            return left
        right = evaluate(expr.right, values)
        return UNKNOWN if right is UNKNOWN else _truth(right, expr.right)
    left, right = evaluate(expr.left, values), evaluate(expr.right, values)
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if expr.op in _COMPARE:
        return _compare(expr, left, right)
    return _arithmetic(expr, left, right)


def _truth(value, expr) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    raise CnnspecError(error("E210", f"expected true/false or an integer, got {value!r}", expr.span))


def _compare(expr, left, right):
    if expr.op in ("==", "!="):
        return _COMPARE[expr.op](left, right)
    if not (_is_number(left) and _is_number(right)):
        raise CnnspecError(error("E210", f"cannot compare {left!r} {expr.op} {right!r}", expr.span))
    return _COMPARE[expr.op](left, right)


def _arithmetic(expr, left, right):
    if not (_is_number(left) and _is_number(right)):
        raise CnnspecError(error("E210", f"cannot compute {left!r} {expr.op} {right!r}", expr.span))
    if expr.op in ("/", "//", "%") and right == 0:
        raise CnnspecError(error("E210", "division by zero", expr.span))
    if expr.op == "/":
        quotient = left / right
        exact = isinstance(left, int) and isinstance(right, int) and left % right == 0
        return left // right if exact else quotient
    return _bounded(_ARITHMETIC[expr.op](left, right), expr)


def _bounded(value, expr):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_LIMIT:
        raise CnnspecError(error("E210", f"the number {value:,} is too large (sizes are 64-bit integers)", expr.span))
    return value
