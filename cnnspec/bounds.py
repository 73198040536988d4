"""How many layers a piece of syntax makes at least, known before expanding it.

The expander refuses a repetition, loop or block call whose lower bound would take the graph
past its node limit, so that `b * 3`, with `b` making a million layers, stops at once instead
of after building the first million. Counts are evaluated with the values known where the
expander asks (the caller's parameters and loop variables), and a block call binds its
arguments as the expander would, so `b(m) * m` with `block b(n) { relu * n }` is measured as
m * m layers. Only what is certain counts: a count, loop range or `if` condition whose value
is unknown counts as zero repetitions, zero iterations or the smaller branch, and a loop's body
is measured with its variable unknown, so the bound never exceeds what the expansion makes.
"""

from __future__ import annotations

from cnnspec.diagnostics import CnnspecError, Diagnostic, error
from cnnspec.expressions import UNKNOWN, evaluate, exact, suggest
from cnnspec.layers import REGISTRY
from cnnspec.source import Span
from cnnspec.syntax import (
    Apply,
    Assert,
    Assign,
    Attribute,
    Binary,
    Call,
    Chain,
    Conditional,
    Definition,
    Expect,
    For,
    Group,
    If,
    Index,
    InputDecl,
    InputRef,
    Item,
    Label,
    Let,
    ListExpr,
    Literal,
    Merge,
    Paren,
    TupleExpr,
    Unary,
    Var,
)


class LayerBound:
    def __init__(self, definitions: dict[str, Definition], max_depth: int):
        self.definitions = definitions
        self.max_depth = max_depth  # calls nested deeper count zero (the expander refuses them too)
        self.calls: dict[tuple, int] = {}  # (definition name, exact parameter values) -> its bound
        self.in_progress: set[str] = set()  # definitions being measured: a recursive call counts zero
        self.tensors_in: dict[str, set[str]] = {}  # definition -> the tensor names it assigns
        self.within = ""  # the definition whose body is being measured

    def atom(self, atom, within: str, values: dict) -> int:
        """At least how many layers one expansion of `atom` (a layer, block call, group...) makes
        inside the definition `within`, where the names in scope have `values`."""
        self.within = within
        return self._atom(atom, values)

    def statements(self, statements, within: str, values: dict) -> int:
        """At least how many layers one expansion of a body makes (see `atom`)."""
        self.within = within
        return self._statements(statements, values)

    def _is_tensor(self, name: str) -> bool:
        """Whether a bare name may be a tensor of the definition being measured."""
        if self.within not in self.tensors_in:
            definition = self.definitions.get(self.within)
            self.tensors_in[self.within] = assigned_names(definition.body) if definition is not None else set()
        return name in self.tensors_in[self.within]

    def _atom(self, atom, values: dict) -> int:
        if isinstance(atom, Group):
            return self._statements(atom.body, values)
        if isinstance(atom, Paren):
            return self._chain(atom.chain, values)
        if isinstance(atom, Merge):
            return 1 + sum(self._chain(operand, values) for operand in atom.operands)
        if not isinstance(atom, Call) or (atom.bare and self._is_tensor(atom.name)) or atom.name in values:
            return 0  # `in`, a name that may be a tensor, or a layer value (what it makes is not known here)
        definition = self.definitions.get(atom.name)
        if definition is not None and definition.kind != "net":
            return self._call(definition, atom, values)
        return 1 if atom.name in REGISTRY else 0

    def _call(self, definition: Definition, call: Call, values: dict) -> int:
        if definition.name in self.in_progress or len(self.in_progress) >= self.max_depth:
            return 0
        parameters = self._parameters(definition, call, values)
        if parameters is None:
            return 0  # a call the expander refuses
        key = (definition.name, *(exact(value) for value in parameters.values()))
        if key not in self.calls:
            caller = self.within
            self.in_progress.add(definition.name)
            self.within = definition.name
            try:
                self.calls[key] = self._statements(definition.body, parameters)
            finally:
                self.in_progress.discard(definition.name)
                self.within = caller
        return self.calls[key]

    def _parameters(self, definition: Definition, call: Call, values: dict) -> dict | None:
        """The parameter values a call binds, unknown where they cannot be evaluated; None for
        a call that does not fit the definition."""
        matched, problem = match_arguments(definition, call)
        if problem is not None:
            return None
        given = {name: _value(arg.value, values) for name, arg in matched.items()}
        parameters = {}
        for param in definition.params:
            if param.name in given:
                parameters[param.name] = given[param.name]
            elif param.default is not None:
                parameters[param.name] = _value(param.default, parameters)
            else:
                return None
        return parameters

    def _statements(self, statements, values: dict) -> int:
        total = 0
        for statement in statements:
            if isinstance(statement, Let):
                values = {**values, **_let_values(statement, values)}
            else:
                total += self._statement(statement, values)
        return total

    def _statement(self, statement, values: dict) -> int:
        if isinstance(statement, Chain):
            return self._chain(statement, values)
        if isinstance(statement, Assign):
            return self._chain(statement.chain, values)
        if isinstance(statement, If):
            condition = _value(statement.condition, values)
            if isinstance(condition, bool):
                return self._statements(statement.then if condition else statement.otherwise, values)
            return min(self._statements(statement.then, values), self._statements(statement.otherwise, values))
        if isinstance(statement, For) and statement.iterable is not None:
            items = _value(statement.iterable, values)
            if isinstance(items, (tuple, str)) and items:
                names = [name for name, _ in statement.targets] if statement.targets else [statement.var]
                return len(items) * self._statements(statement.body, {**values, **dict.fromkeys(names, UNKNOWN)})
            return 0
        if isinstance(statement, For):
            start, stop = _value(statement.start, values), _value(statement.stop, values)
            if _is_int(start) and _is_int(stop) and stop >= start:
                return (stop - start + 1) * self._statements(statement.body, {**values, statement.var: UNKNOWN})
        return 0  # input declarations, expectations, loops of unknown length

    def _chain(self, chain: Chain, values: dict) -> int:
        return sum(self._item(item, values) for item in chain.items)

    def _item(self, item: Item, values: dict) -> int:
        if item.repeat is None:
            return self._atom(item.atom, values)
        times = _value(item.repeat, values)
        return times * self._atom(item.atom, values) if _is_int(times) and times > 0 else 0


def match_arguments(definition: Definition, call: Call) -> tuple[dict, Diagnostic | None]:
    """The arguments of a block or module call by parameter name, in the order written, up to
    the first argument that fits no parameter, and the error that stopped there (or None)."""
    params = {p.name: p for p in definition.params}
    matched = {}
    keywords_seen = False
    for position, arg in enumerate(call.args):
        keywords_seen |= arg.name is not None
        if arg.name is None and keywords_seen:
            return matched, error("E203", "a positional argument follows a keyword argument", arg.span)
        if arg.name is None:
            if position >= len(definition.params):
                message = f"{definition.name} takes {len(definition.params)} arguments, got {len(call.args)}"
                return matched, error("E203", message, arg.span)
            name = definition.params[position].name
        elif arg.name not in params:
            takes = f" (it takes: {', '.join(params) or 'none'})"
            message = f"{definition.name} has no parameter '{arg.name}'" + (suggest(arg.name, params) or takes)
            return matched, error("E201", message, arg.span)
        else:
            name = arg.name
        if name in matched:
            return matched, error("E203", f"{definition.name}: argument '{name}' given twice", arg.span)
        matched[name] = arg
    return matched, None


# Syntax that holds no statement, so no assignment: expressions, calls, labels, spans.
_NO_STATEMENTS = (
    Span,
    Call,
    InputRef,
    Label,
    Literal,
    Var,
    TupleExpr,
    Unary,
    Binary,
    InputDecl,
    Expect,
    Let,
    Assert,
    Apply,
    ListExpr,
    Index,
    Attribute,
    Conditional,
)


def assigned_names(node) -> set[str]:
    """The tensor names assigned anywhere inside a statement or body."""
    names: set[str] = set()
    pending = [node]  # iterative: a body may be thousands of levels deep
    while pending:
        node = pending.pop()
        if isinstance(node, Assign):
            names.update(name for name, _ in node.targets)
        if isinstance(node, tuple) and not isinstance(node, _NO_STATEMENTS):  # syntax nodes are named tuples; bodies are tuples
            pending.extend(node)
    return names


def _value(expr, values: dict):
    """The value of an expression, or UNKNOWN where it cannot be evaluated (the expander
    reports that error)."""
    try:
        return evaluate(expr, values)
    except (CnnspecError, RecursionError):
        return UNKNOWN


def _let_values(statement: Let, values: dict) -> dict:
    """What a `let` binds, unknown where it cannot be evaluated here."""
    value = _value(statement.value, values)
    names = [name for name, _ in statement.targets]
    if len(names) == 1:
        return {names[0]: value}
    if isinstance(value, tuple) and len(value) == len(names):
        return dict(zip(names, value))
    return dict.fromkeys(names, UNKNOWN)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
