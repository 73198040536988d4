"""How many layers a piece of syntax makes at least, known before expanding it.

The expander refuses a repetition or block call whose lower bound would take the graph past
its node limit, so that `b * 3`, with `b` making a million layers, stops at once instead of
after building the first million. Only what is certain counts: a repetition count, loop
range or `if` condition that depends on a parameter counts as zero repetitions, iterations
or the smaller branch, so the bound never exceeds what the expansion would make.
"""

from __future__ import annotations

from cnnspec.diagnostics import CnnspecError
from cnnspec.expressions import evaluate
from cnnspec.layers import REGISTRY
from cnnspec.syntax import Assign, Call, Chain, Definition, For, Group, If, Item, Merge, Paren


class LayerBound:
    def __init__(self, definitions: dict[str, Definition], max_depth: int):
        self.definitions = definitions
        self.max_depth = max_depth  # calls nested deeper count zero (the expander refuses them too)
        self.known: dict[int, int] = {}  # id of an atom or definition -> its bound
        self.in_progress: set[str] = set()  # definitions being measured: a recursive call counts zero
        self.tensors_in: dict[str, set[str]] = {}  # definition -> the tensor names it assigns
        self.tensors: set[str] = set()  # those of the definition being measured

    def atom(self, atom, within: str) -> int:
        """At least how many layers one expansion of `atom` (a layer, block call, group...) makes."""
        self.tensors = self._tensor_names(within)
        return self._measure(atom)

    def statements(self, statements, within: str) -> int:
        """At least how many layers one expansion of a body makes."""
        self.tensors = self._tensor_names(within)
        return self._statements(statements)

    def _tensor_names(self, name: str) -> set[str]:
        if name not in self.tensors_in:
            self.tensors_in[name] = assigned_names(self.definitions[name].body) if name in self.definitions else set()
        return self.tensors_in[name]

    def _measure(self, atom) -> int:
        key = id(atom)
        if key not in self.known:
            self.known[key] = self._atom(atom)
        return self.known[key]

    def _atom(self, atom) -> int:
        if isinstance(atom, Group):
            return self._statements(atom.body)
        if isinstance(atom, Paren):
            return self._chain(atom.chain)
        if isinstance(atom, Merge):
            return 1 + sum(self._chain(operand) for operand in atom.operands)
        if not isinstance(atom, Call) or (atom.bare and atom.name in self.tensors):
            return 0  # `in`, or a name that may be a tensor
        definition = self.definitions.get(atom.name)
        if definition is not None and definition.kind != "net":
            return self._definition(definition)
        return 1 if atom.name in REGISTRY else 0

    def _definition(self, definition: Definition) -> int:
        if definition.name in self.in_progress or len(self.in_progress) >= self.max_depth:
            return 0
        if id(definition) not in self.known:
            outer_tensors = self.tensors
            self.in_progress.add(definition.name)
            self.tensors = self._tensor_names(definition.name)
            try:
                self.known[id(definition)] = self._statements(definition.body)
            finally:
                self.in_progress.discard(definition.name)
                self.tensors = outer_tensors
        return self.known[id(definition)]

    def _statements(self, statements) -> int:
        return sum(self._statement(statement) for statement in statements)

    def _statement(self, statement) -> int:
        if isinstance(statement, Chain):
            return self._chain(statement)
        if isinstance(statement, Assign):
            return self._chain(statement.chain)
        if isinstance(statement, If):
            condition = _constant(statement.condition)
            if isinstance(condition, bool):
                return self._statements(statement.then if condition else statement.otherwise)
            return min(self._statements(statement.then), self._statements(statement.otherwise))
        if isinstance(statement, For):
            start, stop = _constant(statement.start), _constant(statement.stop)
            if _is_int(start) and _is_int(stop) and stop >= start:
                return (stop - start + 1) * self._statements(statement.body)
        return 0  # input declarations, expectations, loops of unknown length

    def _chain(self, chain: Chain) -> int:
        return sum(self._item(item) for item in chain.items)

    def _item(self, item: Item) -> int:
        if item.repeat is None:
            return self._measure(item.atom)
        times = _constant(item.repeat)
        return times * self._measure(item.atom) if _is_int(times) and times > 0 else 0


def assigned_names(node) -> set[str]:
    """The tensor names assigned anywhere inside a statement or body."""
    names: set[str] = set()
    pending = [node]  # iterative: an expression may be thousands of levels deep
    while pending:
        node = pending.pop()
        if isinstance(node, Assign):
            names.update(name for name, _ in node.targets)
        if isinstance(node, tuple):  # syntax nodes are named tuples; bodies are tuples
            pending.extend(node)
    return names


def _constant(expr):
    """The value of an expression that uses no names, or None."""
    try:
        return evaluate(expr, {})
    except (CnnspecError, RecursionError):
        return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
