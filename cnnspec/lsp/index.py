"""What the editor features need from one analysis, found by source position: the layers a
region of the text makes (through the nodes' spans and the spans of the block calls that
made them), the names it defines and uses, and each line's output shapes.

Positions here are cnnspec's: 1-based lines and columns counted in characters. The syntax
tree is walked generically (every NamedTuple field), so constructs added to the language
are searched too; only the names (definitions, parameters, tensors, calls) are special.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.source import Span
from cnnspec.syntax import Assign, Call, Definition, Item, Var

Position = tuple[int, int]  # (line, column), 1-based


def start(span: Span) -> Position:
    return (span.line, span.column)


def end(span: Span) -> Position:
    return (span.end_line, span.end_column)


def contains(span: Span, position: Position) -> bool:
    """Whether `position` is in `span` or just after it (where a cursor after a word stands)."""
    return start(span) <= position <= end(span)


def inside(inner: Span, outer: Span) -> bool:
    return start(outer) <= start(inner) and end(inner) <= end(outer)


def name_span(span: Span, name: str) -> Span:
    """The span of a name written at the start of `span`."""
    return Span(span.line, span.column, span.line, span.column + len(name))


def children(node):
    """The syntax nodes directly under `node`: every NamedTuple in its fields, through tuples."""
    for value in node:
        if isinstance(value, tuple):
            if hasattr(value, "_fields"):
                if not isinstance(value, Span):
                    yield value
            else:
                for item in value:
                    if isinstance(item, tuple) and hasattr(item, "_fields") and not isinstance(item, Span):
                        yield item
                    elif isinstance(item, tuple):  # (name, span) pairs, as in Assign.targets
                        yield from (v for v in item if isinstance(v, tuple) and hasattr(v, "_fields") and not isinstance(v, Span))


def walk(node):
    """`node` and every syntax node below it, parents first (iteratively: a deep tree cannot overflow)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


class Symbol(NamedTuple):
    """A name the file defines: a net, block or module (global), or a parameter or tensor of one definition."""

    name: str
    kind: str  # "net", "block", "module", "parameter", "tensor"
    definition: str  # the definition it belongs to (itself for a definition)
    span: Span  # where it is defined (the first assignment of a tensor)


class Occurrence(NamedTuple):
    symbol: Symbol
    span: Span
    defining: bool


class Names:
    """Every occurrence of every name of the file, and the symbol it means."""

    def __init__(self, definitions):
        self.definitions: dict[str, Definition] = {}
        for definition in definitions:
            self.definitions.setdefault(definition.name, definition)
        self.occurrences: list[Occurrence] = []
        self.symbols: dict[tuple[str, str, str], Symbol] = {}  # (definition, kind, name) -> symbol
        for definition in definitions:
            self._definition(definition)

    def _add(self, name: str, kind: str, owner: str, span: Span, defining: bool) -> None:
        key = (owner if kind in ("parameter", "tensor") else "", kind, name)
        symbol = self.symbols.get(key)
        if symbol is None:
            symbol = self.symbols[key] = Symbol(name, kind, owner, span)
        self.occurrences.append(Occurrence(symbol, span, defining))

    def _definition(self, definition: Definition) -> None:
        owner = definition.name
        if self.definitions.get(owner) is definition:
            self._add(owner, definition.kind, owner, definition.name_span, True)
        params = {param.name for param in definition.params}
        for param in definition.params:
            self._add(param.name, "parameter", owner, name_span(param.span, param.name), True)
        tensors = {name for node in walk(definition) if isinstance(node, Assign) for name, _ in node.targets}
        for node in walk(definition):
            if node is definition:
                continue
            if isinstance(node, Assign):
                for name, span in node.targets:
                    self._add(name, "tensor", owner, span, True)
            elif isinstance(node, Call):
                where = name_span(node.span, node.name)
                if node.bare and node.name in tensors:
                    self._add(node.name, "tensor", owner, where, False)
                elif node.name in self.definitions and self.definitions[node.name].kind != "net":
                    self._add(node.name, self.definitions[node.name].kind, node.name, where, False)
            elif isinstance(node, Var) and node.name in params:
                self._add(node.name, "parameter", owner, node.span, False)

    def at(self, position: Position) -> Occurrence | None:
        found = [o for o in self.occurrences if contains(o.span, position)]
        return min(found, key=lambda o: o.span.end_column - o.span.column, default=None)

    def of(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol == symbol]

    def in_scope(self, line: int) -> list[Symbol]:
        """The parameters and tensors of the definition around `line`."""
        around = [d for d in self.definitions.values() if d.span.line <= line <= d.span.end_line]
        if not around:
            return []
        owner = around[0].name
        return [s for s in self.symbols.values() if s.definition == owner and s.kind in ("parameter", "tensor")]


class Region(NamedTuple):
    """A region of the text that makes layers: a call, a group, a merge, a labelled item."""

    span: Span
    label: Span | None  # for a labelled item: where the label is


def regions(definitions, graph=None) -> list[Region]:
    """The places that make layers: every node's span (a layer, the input), every call, group
    and merge of the syntax tree, and every label, standing for its item."""
    found = list(dict.fromkeys(Region(node.span, None) for node in graph.nodes if node.span is not None)) if graph else []
    for definition in definitions:
        for node in walk(definition):
            if isinstance(node, Item) and node.label is not None:
                found.append(Region(node.atom.span, node.label.span))
            elif isinstance(node, Call) or type(node).__name__ in ("Group", "Paren", "Merge"):
                found.append(Region(node.span, None))
    return found


class Made(NamedTuple):
    """The layers a region made, grouped by expansion: one list per time the region was expanded."""

    span: Span
    expansions: list[list]  # of Nodes, in graph order


def made_by(graph, span: Span) -> Made:
    """The nodes made by the text in `span`: their own span or a block call that made them lies in it.
    Grouped by expansion: by the calls outside `span` that led to them (a region inside a block
    is made once per call), and split where the region starts again (a repeated call)."""
    groups: dict[tuple, list[list]] = {}
    for node in graph.nodes:
        levels = [index for index, call in enumerate(node.expansion) if inside(call, span)]
        if levels:
            outside, entry = node.expansion[: levels[0]], (*node.expansion[levels[0] :], node.span)
        elif node.span is not None and inside(node.span, span):
            outside, entry = node.expansion, (node.span,)
        else:
            continue
        runs = groups.setdefault(outside, [])
        if not runs or runs[-1][0][0] == entry:  # the first node made again: the region's next expansion
            runs.append([])
        runs[-1].append((entry, node))
    return Made(span, [[node for _, node in run] for runs in groups.values() for run in runs])


def region_at(found: list[Region], position: Position) -> Region | None:
    """The innermost region at `position`; a position on a label stands for its item."""
    hits = [r for r in found if contains(r.span, position) or (r.label is not None and contains(r.label, position))]

    def size(region):
        span = region.label if region.label is not None and contains(region.label, position) else region.span
        return (span.end_line - span.line, span.end_column - span.column if span.end_line == span.line else 0)

    return min(hits, key=size, default=None)


class LineShapes(NamedTuple):
    column: int  # where the last span ending on the line ends
    shapes: list  # the distinct output shapes there, one per expansion at most


def line_shapes(graph) -> dict[int, LineShapes]:
    """For each line where a layer or block call ends: the shape of the tensor after it, once
    per expansion of that line (a line in a block is expanded once per call)."""
    last: dict[int, dict[tuple, object]] = {}  # line -> expansion outside it -> the last node there
    columns: dict[int, int] = {}
    for node in graph.nodes:
        if node.span is None or not node.outputs:
            continue
        places = [(node.span, node.expansion)] + [(call, node.expansion[:level]) for level, call in enumerate(node.expansion)]
        for span, outside in places:
            line = span.end_line
            last.setdefault(line, {})[outside] = node
            columns[line] = max(columns.get(line, 0), span.end_column)
    result = {}
    for line, by_expansion in last.items():
        shapes = list(dict.fromkeys(node.outputs[0] for node in by_expansion.values()))
        result[line] = LineShapes(columns[line], shapes)
    return result
