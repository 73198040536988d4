"""Contracts: a net's `expect` statements, checked against the totals cnnspec reports.

`expect params <= 5M` holds when the comparison is true of the analysed net. The names an
expectation can use are QUANTITIES (and the net's parameters and loop variables). Shapes are
tuples; a number compared with a tuple is compared with every element (`output == 1000` for
a 1000-vector, `rf >= 224` for every axis), and `!=` is the negation of `==`.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

from cnnspec.analysis.receptive import json_number, last_spatial_layer
from cnnspec.diagnostics import CnnspecError, Diagnostic, Note, error
from cnnspec.expressions import UNKNOWN, evaluate, suggest
from cnnspec.source import Source, Span
from cnnspec.syntax import Binary, Var

QUANTITIES = {
    "params": "parameters, as sum(p.numel() for p in model.parameters())",
    "trainable_params": "trainable parameters",
    "buffers": "buffer elements (BatchNorm's running statistics)",
    "neurons": "the neuron total of the table (output activations of one sample)",
    "macs": "multiply-accumulates of one sample (convolutions, linear layers)",
    "flops": "2 x macs, as torch's FlopCounterMode counts them",
    "other_ops": "other arithmetic of one sample (bias adds, normalization, activations, pooling)",
    "param_bytes": "parameter bytes at --dtype",
    "train_step_bytes": "the estimated peak memory of one training step at --dtype, --batch and --optimizer",
    "rf": "the receptive field (one size per spatial axis) of the last spatial layer with a window",
    "output": "the output shape of one sample, e.g. (1000,) or (64, 56, 56)",
    "input": "the input shape of one sample, e.g. (3, 224, 224)",
}

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class Outcome(NamedTuple):
    """One expectation: its text, whether it holds, and the values compared (None: not evaluated).

    `valid` is False for an expectation that could not be evaluated (an error, not a failure)."""

    text: str
    passed: bool
    actual: object
    expected: object
    span: Span
    valid: bool = True

    def to_json(self) -> dict:
        """JSON-ready: a value that JSON cannot hold (inf, nan) is a bug, raised as ValueError."""
        return {
            "text": self.text,
            "passed": self.passed,
            "valid": self.valid,
            "actual": _json_value(self.actual),
            "expected": _json_value(self.expected),
            "line": self.span.line,
        }


def _json_value(value):
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a contract value JSON cannot hold: {value}")
    return value


def quantities(graph, receptive: dict, totals: dict, compute, memory) -> dict:
    """Every name an expectation can use, for a clean analysis; rf is None without a spatial layer.

    totals: params, trainable_params, buffers and neurons (cnnspec.rows.totals); compute: MAC
    totals (cnnspec.analysis.compute.totals); memory: cnnspec.analysis.memory.memory.
    """
    last = last_spatial_layer(graph, lambda node_id: node_id in receptive and receptive[node_id].local)
    output = graph.nodes[graph.output.node].outputs[graph.output.index] if graph.output is not None else None
    values = {name: totals[name] for name in ("params", "trainable_params", "buffers", "neurons")}
    values.update(
        macs=compute.macs,
        flops=compute.flops,
        other_ops=compute.other_ops,
        param_bytes=memory.param_bytes,
        train_step_bytes=memory.train_step_bytes,
        rf=tuple(json_number(v) for v in receptive[last.id].size) if last is not None else None,
        output=output,
        input=graph.input_shape,
    )
    return values


def check_expectations(source: Source, expectations, measured: dict, compare: bool = True) -> tuple[list[Outcome], list[Diagnostic]]:
    """Each (Expect, names in scope) against the measured quantities: outcomes and diagnostics
    (E500 for one that fails, E501 for one that cannot be evaluated).

    Without `compare` (the measures are not those of the declared input) only what is wrong
    whatever the measures (not a comparison, an unknown name) is reported, and no outcomes."""
    outcomes, diagnostics = [], []
    for statement, scope in expectations:
        try:
            if not compare:
                _check_form(source, statement, {**scope, **measured})
                continue
            outcome = _check(source, statement, {**scope, **measured})
        except CnnspecError as exc:
            diagnostics.append(exc.diagnostic)
            outcome = Outcome(_text(source, statement.expr.span), False, None, None, statement.span, valid=False)
        except RecursionError:
            diagnostics.append(error("E102", "this expectation is nested too deeply to evaluate", statement.span))
            outcome = Outcome(_text(source, statement.expr.span), False, None, None, statement.span, valid=False)
        if not compare:
            continue
        outcomes.append(outcome)
        if not outcome.passed and outcome.actual is not None:
            diagnostics.append(error("E500", _failure(source, statement.expr, outcome), statement.span))
    return outcomes, diagnostics


def _check_form(source: Source, statement, values: dict) -> None:
    """E501 unless the statement's expression is one comparison of names that exist."""
    expr = statement.expr
    if not (isinstance(expr, Binary) and expr.op in _COMPARE):
        notes = ()
        if _text(source, statement.span)[len("expect") :].startswith("("):  # `expect(4)`: meant as a block call?
            notes = (Note("`expect` is reserved at the start of a statement; a block named expect can be called later in a chain"),)
        raise CnnspecError(error("E501", "an expectation is one comparison, e.g. `expect params <= 5M`", expr.span, notes))
    _check_names(expr, values)


def _check(source: Source, statement, values: dict) -> Outcome:
    expr = statement.expr
    _check_form(source, statement, values)
    left, right = evaluate(expr.left, values), evaluate(expr.right, values)
    if left is UNKNOWN or right is UNKNOWN:  # a net parameter whose own error is already reported
        return Outcome(_text(source, expr.span), False, None, None, statement.span, valid=False)
    for side, value in ((expr.left, left), (expr.right, right)):
        if value is None and _names(side) & {"rf"}:
            raise CnnspecError(error("E501", "rf is undefined: the net has no spatial layer with a window", side.span))
        if not _finite(value):  # 1e300 * 1e300, or inf - inf: no comparison with it means anything
            message = f"`{_text(source, side.span)}` is {value!r}, not a finite number"
            raise CnnspecError(error("E501", message, side.span))
    op = expr.op
    if _constant(expr.left) and not _constant(expr.right):  # `expect 5M >= params`: state it as `params <= 5M`
        left, right, op = right, left, _FLIPPED[op]
    passed = _compare(op, left, right, expr)
    return Outcome(_text(source, expr.span), passed, left, right, statement.span)


def _compare(op: str, left, right, expr) -> bool:
    """Python's comparison, except that a number against a tuple compares every element."""
    if op == "!=":
        return not _compare("==", left, right, expr)
    if isinstance(left, tuple) != isinstance(right, tuple) and _is_number(right if isinstance(left, tuple) else left):
        items, number = (left, right) if isinstance(left, tuple) else (right, left)
        pairs = [(item, number) if items is left else (number, item) for item in items]
        return all(_compare(op, a, b, expr) for a, b in pairs)
    if isinstance(left, tuple) and isinstance(right, tuple) and op != "==":
        if len(left) != len(right):
            message = f"cannot compare {_show(left)} {op} {_show(right)}: they have different lengths"
            raise CnnspecError(error("E501", message, expr.span))
        return all(_compare(op, a, b, expr) for a, b in zip(left, right))
    if op != "==" and not (_is_number(left) and _is_number(right)):
        raise CnnspecError(error("E501", f"cannot compare {_show(left)} {op} {_show(right)}", expr.span))
    return _COMPARE[op](left, right)


def _check_names(expr, values: dict) -> None:
    for var in _vars(expr):
        if var.name not in values:
            known = Note(f"an expectation can name: {', '.join(QUANTITIES)}, and the net's parameters")
            raise CnnspecError(error("E501", f"unknown quantity '{var.name}'{suggest(var.name, values)}", var.span, (known,)))


def _vars(expr) -> list[Var]:
    found, pending = [], [expr]  # iterative: an expression may be thousands of levels deep
    while pending:
        node = pending.pop()
        if isinstance(node, Var):
            found.append(node)
        elif isinstance(node, tuple) and not isinstance(node, Span):
            pending.extend(node)
    return found


def _names(expr) -> set[str]:
    return {var.name for var in _vars(expr)}


def _constant(expr) -> bool:
    return not _vars(expr)


def _finite(value) -> bool:
    if isinstance(value, tuple):
        return all(_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _failure(source: Source, expr, outcome: Outcome) -> str:
    """`expected params <= 5,000,000, got 11,689,512`."""
    left, right = expr.left, expr.right
    op = expr.op
    if _constant(left) and not _constant(right):
        left, right, op = right, left, _FLIPPED[op]
    left_text = _text(source, left.span)
    if _constant(right):
        return f"expected {left_text} {op} {_show(outcome.expected)}, got {_show(outcome.actual)}"
    right_text = _text(source, right.span)
    return f"expected {left_text} {op} {right_text}, got {left_text} = {_show(outcome.actual)} and {right_text} = {_show(outcome.expected)}"


def _show(value) -> str:
    """A value as the messages write it: 143,667,240; (64, 56, 56); (1000,)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if _is_number(value):
        return f"{value:,}"
    if isinstance(value, str):
        return repr(value)
    return {None: "none", True: "true", False: "false"}[value]


def _text(source: Source, span: Span) -> str:
    """The source text of a span, its lines joined by spaces."""
    lines = source.text.split("\n")[span.line - 1 : span.end_line]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][span.column - 1 : span.end_column - 1]
    parts = [lines[0][span.column - 1 :], *lines[1:-1], lines[-1][: span.end_column - 1]]
    return " ".join(part.strip() for part in parts)
