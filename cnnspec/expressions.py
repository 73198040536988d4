"""Evaluation of the language's expressions by cnnspec itself (never eval/exec).

Values are Python's int, float, str, bool and None, tuples, and cnnspec.values' lists, layer
values and tensor shapes. Every operation's cost is bounded: integers stay within 64 bits,
lists within MAX_LIST elements, and a failure is a diagnostic at the expression (E210), never
a Python exception.
"""

from __future__ import annotations

import difflib
import math
import operator

from cnnspec.diagnostics import CnnspecError, error
from cnnspec.syntax import Apply, Attribute, Binary, Conditional, Index, ListExpr, Literal, Slice, TupleExpr, Unary, Var
from cnnspec.values import LayerValue, ListValue, TensorShape

INT_LIMIT = 2**63 - 1  # torch sizes are int64
MAX_LIST = 1_000_000  # the most elements a list, tuple, string or range may have (like the layer limit)

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def exact(value):
    """A key for a value that tells its type too: 1, 1.0 and True are equal in Python but not
    the same argument (an integer size, a float rate, a flag); nor are 0.0 and -0.0, which
    print differently."""
    value_type = type(value)
    if value_type is int or value_type is str:
        return value
    if value_type is tuple or value_type is ListValue:
        return (value_type, *map(exact, value))
    if value_type is float:
        return (float, repr(value))
    return (value_type, value)


def suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def show(value) -> str:
    """A value as the language writes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is tuple:
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if type(value) is ListValue:
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def type_name(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if type(value) is ListValue:
        return "a list"
    if isinstance(value, tuple):
        return "a tuple"
    if isinstance(value, LayerValue):
        return "a layer"
    if isinstance(value, TensorShape):
        return "a tensor"
    return type(value).__name__


class _Unknown:
    """The value of an expression whose evaluation failed and was reported: it spreads without
    further errors, so that one mistake gives one diagnostic."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


class Environment:
    """What a name means in an expression beyond the values in scope: a layer kind or block
    (a layer value) and a tensor (its shape). The expander gives one per scope; None: neither."""

    def is_layer(self, name: str) -> bool:
        return False

    def tensor(self, name: str):
        """The tensor's TensorShape, UNKNOWN if its shape is unknown, None if there is no such tensor."""
        return None

    def names(self):
        return ()


_NO_ENVIRONMENT = Environment()


def evaluate(expr, values: dict, environment: Environment | None = None):
    """The value of an expression given the names in scope (parameters, `let` values, loop variables).

    A name bound to UNKNOWN makes every expression using it UNKNOWN, without an error.
    """
    return _Evaluator(values, environment or _NO_ENVIRONMENT).value(expr)


class _Evaluator:
    __slots__ = ("values", "environment")

    def __init__(self, values: dict, environment: Environment):
        self.values, self.environment = values, environment

    def value(self, expr):
        expr_type = type(expr)
        if expr_type is Literal:
            return _bounded(expr.value, expr)
        if expr_type is Var:
            return self.name(expr)
        if expr_type is Binary:
            return self.binary(expr)
        if expr_type is TupleExpr or expr_type is ListExpr:
            items = tuple(self.value(item) for item in expr.items)
            if any(item is UNKNOWN for item in items):
                return UNKNOWN
            return items if expr_type is TupleExpr else ListValue(items)
        if expr_type is Unary:
            return self.unary(expr)
        if expr_type is Apply:
            return self.apply(expr)
        if expr_type is Index:
            return self.index(expr)
        if expr_type is Attribute:
            return self.attribute(expr)
        if expr_type is Conditional:
            condition = self.value(expr.condition)
            if condition is UNKNOWN:
                return UNKNOWN
            return self.value(expr.then if _truth(condition, expr.condition) else expr.otherwise)
        raise CnnspecError(error("E210", "this is not a value", expr.span))

    def name(self, expr: Var):
        values = self.values
        if expr.name in values:
            return values[expr.name]
        environment = self.environment
        if environment.is_layer(expr.name):
            return LayerValue(expr.name)
        tensor = environment.tensor(expr.name)
        if tensor is not None:
            return tensor
        candidates = [*values, *environment.names()]
        raise CnnspecError(error("E204", f"undefined name '{expr.name}'{suggest(expr.name, candidates)}", expr.span))

    def unary(self, expr: Unary):
        operand = self.value(expr.operand)
        if operand is UNKNOWN:
            return UNKNOWN
        if expr.op == "not":
            return not _truth(operand, expr)
        if not _is_number(operand):
            raise CnnspecError(error("E210", f"cannot negate {type_name(operand)}, {show(operand)}", expr.span))
        return -operand

    def binary(self, expr: Binary):
        if expr.op in ("and", "or"):
            left = self.value(expr.left)
            if left is UNKNOWN:
                return UNKNOWN
            left = _truth(left, expr.left)
            if (expr.op == "and") != left:
                return left
            right = self.value(expr.right)
            return UNKNOWN if right is UNKNOWN else _truth(right, expr.right)
        left, right = self.value(expr.left), self.value(expr.right)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if expr.op in _COMPARE:
            return _compare(expr, left, right)
        return _arithmetic(expr, left, right)

    def apply(self, expr: Apply):
        function = FUNCTIONS.get(expr.name)
        if function is None and expr.name not in self.values and not self.environment.is_layer(expr.name):
            candidates = [*FUNCTIONS, *self.environment.names()]
            message = f"unknown function, layer or block '{expr.name}'{suggest(expr.name, candidates)}"
            raise CnnspecError(error("E204", message, expr.name_span))
        args, keywords = [], {}
        for arg in expr.args:
            value = self.value(arg.value)
            if value is UNKNOWN:
                return UNKNOWN
            if arg.name is None:
                if keywords:
                    raise CnnspecError(error("E203", "a positional argument follows a keyword argument", arg.span))
                args.append(value)
            elif arg.name in keywords:
                raise CnnspecError(error("E203", f"{expr.name}: argument '{arg.name}' given twice", arg.span))
            else:
                keywords[arg.name] = value
        if function is not None:
            return function(Call(expr, args, keywords))
        bound = self.values.get(expr.name)
        if bound is not None and not isinstance(bound, LayerValue):
            raise CnnspecError(error("E210", f"'{expr.name}' is {type_name(bound)}, {show(bound)}, not a layer or function", expr.span))
        if isinstance(bound, LayerValue):  # `norm(64)` where norm = batchnorm(eps=...)
            merged, merged_keywords = bound.bound(tuple(args), keywords)
            return LayerValue(bound.name, tuple(merged), tuple(merged_keywords.items()))
        return LayerValue(expr.name, tuple(args), tuple(keywords.items()))

    def index(self, expr: Index):
        target = self.value(expr.target)
        if target is UNKNOWN:
            return UNKNOWN
        if not isinstance(target, (tuple, str)):
            raise CnnspecError(error("E210", f"cannot index {type_name(target)}, {show(target)}", expr.span))
        if type(expr.index) is Slice:
            bounds = [None if part is None else self.value(part) for part in expr.index[:3]]
            if any(b is UNKNOWN for b in bounds):
                return UNKNOWN
            if not all(b is None or _is_int(b) for b in bounds) or bounds[2] == 0:
                raise CnnspecError(error("E210", "slice bounds must be integers (and the step not 0)", expr.index.span))
            result = target[slice(*bounds)]
            return ListValue(result) if type(target) is ListValue else result
        position = self.value(expr.index)
        if position is UNKNOWN:
            return UNKNOWN
        if not _is_int(position):
            raise CnnspecError(error("E210", f"an index must be an integer, got {show(position)}", expr.index.span))
        if not -len(target) <= position < len(target):
            message = f"index {position} is out of range for {type_name(target)} of {len(target)} element{'s' * (len(target) != 1)}"
            raise CnnspecError(error("E210", message, expr.index.span))
        return target[position]

    def attribute(self, expr: Attribute):
        target = self.value(expr.target)
        if target is UNKNOWN:
            return UNKNOWN
        if isinstance(target, TensorShape):
            value = target.attribute(expr.name)
            if value is not None:
                return value
            message = (
                f"a tensor has no '{expr.name}'{suggest(expr.name, TensorShape.ATTRIBUTES)} (it has: {', '.join(TensorShape.ATTRIBUTES)})"
            )
            raise CnnspecError(error("E210", message, expr.span))
        raise CnnspecError(
            error("E210", f"{type_name(target)} has no '{expr.name}' (only tensors have .channels, .shape, .spatial)", expr.span)
        )


def _truth(value, expr) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    raise CnnspecError(error("E210", f"expected true/false or an integer, got {show(value)}", expr.span))


def _compare(expr, left, right):
    if expr.op in ("==", "!="):
        return _COMPARE[expr.op](left, right)
    if not (_is_number(left) and _is_number(right)):
        raise CnnspecError(error("E210", f"cannot compare {show(left)} {expr.op} {show(right)}", expr.span))
    return _COMPARE[expr.op](left, right)


def _arithmetic(expr, left, right):
    if expr.op == "+" and isinstance(left, (str, tuple)) and type(left) is type(right):  # concatenation
        if len(left) + len(right) > MAX_LIST:
            raise CnnspecError(error("E211", f"this would make {len(left) + len(right):,} elements (the limit is {MAX_LIST:,})", expr.span))
        return ListValue(left + right) if type(left) is ListValue else left + right
    if not (_is_number(left) and _is_number(right)):
        raise CnnspecError(error("E210", f"cannot compute {show(left)} {expr.op} {show(right)}", expr.span))
    if expr.op in ("/", "//", "%") and right == 0:
        raise CnnspecError(error("E210", "division by zero", expr.span))
    try:
        if expr.op == "/":
            quotient = left / right
            exact_division = isinstance(left, int) and isinstance(right, int) and left % right == 0
            return left // right if exact_division else quotient
        return _bounded(_ARITHMETIC[expr.op](left, right), expr)
    except OverflowError:
        raise CnnspecError(error("E210", f"{show(left)} {expr.op} {show(right)} is too large", expr.span)) from None


def _bounded(value, expr):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_LIMIT:
        raise CnnspecError(error("E210", f"the number {value:,} is too large (sizes are 64-bit integers)", expr.span))
    return value


# ---- functions ------------------------------------------------------------------------------


class Call:
    """One call of a built-in function: its evaluated arguments, and where to report a problem."""

    __slots__ = ("expr", "args", "keywords")

    def __init__(self, expr: Apply, args: list, keywords: dict):
        self.expr, self.args, self.keywords = expr, args, keywords

    def fail(self, message: str, code: str = "E210"):
        raise CnnspecError(error(code, f"{self.expr.name}(): {message}", self.expr.span))

    def arguments(self, names: str, required: int) -> list:
        """The arguments by position or keyword, in the order of `names` (space-separated);
        those not given after the `required` first are None."""
        names = names.split()
        args = list(self.args)
        if len(args) > len(names):
            self.fail(f"takes at most {len(names)} argument{'s' * (len(names) != 1)} ({', '.join(names)}), got {len(args)}", "E203")
        for keyword in self.keywords:
            if keyword not in names:
                self.fail(f"unknown argument '{keyword}'{suggest(keyword, names)} (it takes: {', '.join(names)})", "E201")
            position = names.index(keyword)
            if position < len(args):
                self.fail(f"argument '{keyword}' given twice", "E203")
        values = [args[i] if i < len(args) else self.keywords.get(name) for i, name in enumerate(names)]
        missing = [name for name, value in zip(names[:required], values) if value is None and name not in self.keywords]
        if missing:
            self.fail(f"missing argument '{missing[0]}'", "E203")
        return values

    def number(self, value, what: str = "a number"):
        if not _is_number(value):
            self.fail(f"expected {what}, got {type_name(value)}, {show(value)}")
        return value

    def integer(self, value):
        if not _is_int(value):
            self.fail(f"expected an integer, got {type_name(value)}, {show(value)}")
        return value

    def sequence(self, value):
        if not isinstance(value, (tuple, str)) or isinstance(value, TensorShape):
            self.fail(f"expected a list, tuple or string, got {type_name(value)}, {show(value)}")
        return value

    def result(self, value):
        return _bounded(value, self.expr)


def _numbers_or_one_sequence(call: Call) -> tuple:
    if len(call.args) == 1 and isinstance(call.args[0], tuple):
        items = call.args[0]
    else:
        items = tuple(call.args)
    if call.keywords:
        call.fail(f"takes no keyword arguments (got '{next(iter(call.keywords))}')", "E201")
    if not items:
        call.fail("needs at least one value", "E203")
    for item in items:
        call.number(item)
    return items


def _min(call: Call):
    return min(_numbers_or_one_sequence(call))


def _max(call: Call):
    return max(_numbers_or_one_sequence(call))


def _abs(call: Call):
    (x,) = call.arguments("x", 1)
    return abs(call.number(x))


def _int(call: Call):
    (x,) = call.arguments("x", 1)
    if isinstance(x, str):
        try:
            return call.result(int(x.replace("_", "")))
        except ValueError:
            call.fail(f"cannot read {show(x)} as an integer")
    if isinstance(x, bool):
        return int(x)
    return call.result(int(call.number(x)))


def _float(call: Call):
    (x,) = call.arguments("x", 1)
    if isinstance(x, str):
        try:
            return call.result(float(x))
        except ValueError:
            call.fail(f"cannot read {show(x)} as a number")
    return float(call.number(x))


def _round(call: Call):
    x, digits = call.arguments("x ndigits", 1)
    call.number(x)
    if digits is None:
        return call.result(round(x))
    return round(x, call.integer(digits))


def _floor(call: Call):
    (x,) = call.arguments("x", 1)
    return call.result(math.floor(call.number(x)))


def _ceil(call: Call):
    (x,) = call.arguments("x", 1)
    return call.result(math.ceil(call.number(x)))


def _sqrt(call: Call):
    (x,) = call.arguments("x", 1)
    if call.number(x) < 0:
        call.fail(f"the square root of a negative number ({show(x)})")
    return math.sqrt(x)


def _log(call: Call):
    x, base = call.arguments("x base", 1)
    if call.number(x) <= 0:
        call.fail(f"the logarithm of {show(x)} (it needs a positive number)")
    if base is None:
        return math.log(x)
    if call.number(base) <= 0 or base == 1:
        call.fail(f"a logarithm's base must be positive and not 1, got {show(base)}")
    return math.log(x, base)


def _exp(call: Call):
    (x,) = call.arguments("x", 1)
    try:
        return math.exp(call.number(x))
    except OverflowError:
        call.fail(f"exp({show(x)}) is too large")


def _pow(call: Call):
    base, exponent = call.arguments("base exp", 2)
    call.number(base)
    call.number(exponent)
    if _is_int(base) and _is_int(exponent) and exponent >= 0:
        if abs(base) > 1 and exponent * (abs(base).bit_length() - 1) > 64:
            call.fail(f"{show(base)} ** {show(exponent)} is too large (sizes are 64-bit integers)")
        return call.result(base**exponent)
    if base == 0 and exponent < 0:
        call.fail("0 to a negative power")
    try:
        result = float(base) ** exponent
    except OverflowError:
        call.fail(f"{show(base)} ** {show(exponent)} is too large")
    if isinstance(result, complex):
        call.fail(f"a negative number to a fractional power ({show(base)} ** {show(exponent)})")
    return result


def _sum(call: Call):
    values, start = call.arguments("values start", 1)
    total = 0 if start is None else call.number(start)
    for item in call.sequence(values):
        total = call.result(total + call.number(item))
    return total


def _len(call: Call):
    (x,) = call.arguments("x", 1)
    return len(call.sequence(x))


def _range(call: Call):
    if call.keywords:
        call.fail("takes no keyword arguments", "E201")
    if not 1 <= len(call.args) <= 3:
        call.fail(f"takes 1 to 3 integers (stop, or start, stop[, step]), got {len(call.args)}", "E203")
    for value in call.args:
        call.integer(value)
    if len(call.args) == 3 and call.args[2] == 0:
        call.fail("the step must not be 0")
    numbers = range(*call.args)
    if len(numbers) > MAX_LIST:
        call.fail(f"{len(numbers):,} values is more than the limit of {MAX_LIST:,}", "E211")
    return ListValue(numbers)


def _enumerate(call: Call):
    values, start = call.arguments("values start", 1)
    first = 0 if start is None else call.integer(start)
    return ListValue((first + i, item) for i, item in enumerate(call.sequence(values)))


def _zip(call: Call):
    if call.keywords:
        call.fail("takes no keyword arguments", "E201")
    return ListValue(zip(*(call.sequence(value) for value in call.args)))


def _list(call: Call):
    (values,) = call.arguments("values", 1)
    return ListValue(call.sequence(values))


def _tuple(call: Call):
    (values,) = call.arguments("values", 1)
    return tuple(call.sequence(values))


def _str(call: Call):
    (x,) = call.arguments("x", 1)
    return x if isinstance(x, str) else show(x)


def make_divisible(v, divisor: int, min_value=None) -> int:
    """torchvision's _make_divisible: the nearest multiple of `divisor`, at least `min_value`
    (default: divisor), and never below 90% of v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _make_divisible(call: Call):
    v, divisor, min_value = call.arguments("v divisor min_value", 2)
    call.number(v)
    if call.integer(divisor) <= 0:
        call.fail(f"the divisor must be a positive integer, got {show(divisor)}")
    if min_value is not None:
        call.integer(min_value)
    return call.result(make_divisible(v, divisor, min_value))


FUNCTIONS = {
    "min": _min,
    "max": _max,
    "abs": _abs,
    "int": _int,
    "float": _float,
    "round": _round,
    "floor": _floor,
    "ceil": _ceil,
    "sqrt": _sqrt,
    "log": _log,
    "exp": _exp,
    "pow": _pow,
    "sum": _sum,
    "len": _len,
    "range": _range,
    "enumerate": _enumerate,
    "zip": _zip,
    "list": _list,
    "tuple": _tuple,
    "str": _str,
    "make_divisible": _make_divisible,
}
