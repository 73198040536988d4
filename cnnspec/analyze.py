"""From a source file to a checked layer graph and its diagnostics."""

from __future__ import annotations

import keyword

from cnnspec.analysis.compute import costs
from cnnspec.analysis.receptive import receptive_fields
from cnnspec.diagnostics import CnnspecError, Diagnostic, Note, error, position, warning
from cnnspec.expand import Expander
from cnnspec.fastparse import parse_definitions
from cnnspec.ir import Graph, Shape
from cnnspec.source import Source, Span
from cnnspec.syntax import Definition


class Analysis:
    def __init__(self, source: Source):
        self.source = source
        self.graph: Graph | None = None
        self.diagnostics: list[Diagnostic] = []
        self.nets: tuple[str, ...] = ()
        self.definitions: tuple[Definition, ...] | None = None  # the syntax tree; None after a syntax error
        self.receptive: dict = {}  # node id -> RF (cnnspec.analysis.receptive), when the graph is clean
        self.costs: dict = {}  # node id -> Cost (cnnspec.analysis.compute), when the graph is clean

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def analyze(source: Source, net: str | None = None, input_shape: Shape | None = None, params: dict | None = None) -> Analysis:
    """Parse, expand and check one source file; every problem becomes a diagnostic.
    `params` sets net parameters by name (values as the language has them: int, float, bool, str, None, tuples)."""
    result = Analysis(source)
    try:
        definitions = result.definitions = _definitions(source)
    except CnnspecError as exc:  # syntax errors: the file is not analysed further
        result.diagnostics.extend(exc.diagnostics)
        return result
    table = _definition_table(definitions, result.diagnostics)
    result.nets = tuple(name for name, d in table.items() if d.kind == "net")
    chosen = _choose_net(table, result, net)
    if chosen is not None:
        result.graph = Expander(table, result.diagnostics).expand(chosen, input_shape, params)
        if not result.errors:
            result.diagnostics.extend(graph_warnings(result.graph))
            result.diagnostics = _suggest_clean_sizes(result.graph, result.diagnostics)
            result.receptive, receptive_warnings = receptive_fields(result.graph)
            result.diagnostics.extend(receptive_warnings)
            result.costs = costs(result.graph)
    result.diagnostics.sort(key=position)
    result.diagnostics = _unique(result.diagnostics)
    return result


def _definitions(source: Source) -> tuple[Definition, ...]:
    """The file's definitions: from the fast parser when it takes the file, else from Lark's,
    which also reports the syntax errors (raised as CnnspecError)."""
    definitions = parse_definitions(source.text)
    if definitions is not None:
        return definitions
    from cnnspec.parser import parse, to_syntax  # Lark: only for files the fast parser declines

    return to_syntax(parse(source))


def _suggest_clean_sizes(graph: Graph, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A declared input that drops border pixels: name the nearest sizes that drop none."""
    if not any(d.code == "W400" for d in diagnostics):
        return diagnostics
    from cnnspec.analysis.sizes import nearest_clean
    from cnnspec.layers.base import axis_names

    names = axis_names(len(graph.input_shape) - 1)
    parts = [f"{name}: {' or '.join(map(str, nearest_clean(graph, axis))) or 'none'}" for axis, name in enumerate(names)]
    note = Note(f"input sizes nearest the declared {' x '.join(map(str, graph.input_shape))} that drop no pixels: {'; '.join(parts)}")
    return [d._replace(notes=d.notes + (note,)) if d.code == "W400" else d for d in diagnostics]


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per problem: a block expanded several times reports the same mistake once,
    with the call site of its first expansion. A warning about one place in a block is given
    once, with a note counting the other expansions it applies to."""
    seen: set = set()
    unique: list[Diagnostic] = []
    first_warning: dict[tuple, int] = {}  # (code, span) of a warning -> its index in `unique`
    repeats: dict[int, int] = {}  # index in `unique` -> how many more expansions it applies to
    for diagnostic in diagnostics:
        key = (diagnostic.code, diagnostic.message, diagnostic.span)
        if key in seen:
            continue
        seen.add(key)
        place = (diagnostic.code, diagnostic.span)
        if not diagnostic.is_error and diagnostic.span is not None:
            if place in first_warning:
                index = first_warning[place]
                repeats[index] = repeats.get(index, 0) + 1
                continue
            first_warning[place] = len(unique)
        unique.append(diagnostic)
    for index, count in repeats.items():
        d = unique[index]
        note = Note(f"the same in {count} more expansion{'s' * (count != 1)}")
        unique[index] = Diagnostic(d.code, d.severity, d.message, d.span, (*d.notes, note))
    return unique


def _definition_table(definitions, diagnostics) -> dict[str, Definition]:
    table: dict[str, Definition] = {}
    for definition in definitions:
        _check_names(definition, diagnostics)
        previous = table.get(definition.name)
        if previous is not None:
            message = f"'{definition.name}' is already defined (as a {previous.kind}) at line {previous.span.line}"
            diagnostics.append(error("E205", message, definition.name_span, (Note("first defined here", previous.name_span),)))
            continue
        table[definition.name] = definition
    return table


def _check_names(definition: Definition, diagnostics) -> None:
    """Definition and parameter names become Python names (classes, arguments) in generated code."""
    named = [(definition.kind, definition.name, definition.name_span)]
    seen: dict[str, Span] = {}
    for param in definition.params:
        span = Span(param.span.line, param.span.column, param.span.line, param.span.column + len(param.name))
        named.append(("parameter", param.name, span))
        if param.name in seen:
            message = f"{definition.kind} '{definition.name}' has two parameters named '{param.name}'"
            diagnostics.append(error("E205", message, span, (Note("first defined here", seen[param.name]),)))
        seen.setdefault(param.name, span)
    for what, name, span in named:
        if not name.isascii() or not name.isidentifier():
            diagnostics.append(error("E207", f"the {what} name '{name}' is not an ASCII Python identifier", span))
        elif keyword.iskeyword(name):
            diagnostics.append(error("E207", f"the {what} name '{name}' is a Python keyword", span))


def _choose_net(table, result: Analysis, wanted: str | None) -> Definition | None:
    nets = result.nets
    if wanted is not None:
        if wanted in nets:
            return table[wanted]
        message = f"no net named '{wanted}'" + (f"; the file defines: {', '.join(nets)}" if nets else "")
        result.diagnostics.append(error("E209", message, None))
        return None
    if len(nets) == 1:
        return table[nets[0]]
    if not nets:
        result.diagnostics.append(error("E209", "the file defines no net (`net Name { input ... }`)", None))
    else:
        result.diagnostics.append(error("E209", f"the file defines several nets ({', '.join(nets)}); choose one with --net", None))
    return None


def graph_warnings(graph: Graph) -> list[Diagnostic]:
    """Whole-graph checks: outputs nobody uses, a conv bias that batch norm cancels."""
    found = []
    readers = graph.readers()
    net_output = (graph.output.node, graph.output.index) if graph.output is not None else None
    for node in graph.nodes:
        outputs = len(node.outputs or ())
        for index in range(outputs if node.op != "Input" else 0):
            if (node.id, index) not in readers and (node.id, index) != net_output:
                which = f"output {index + 1} of" if outputs > 1 else "the output of"
                found.append(warning("W401", f"{which} {node.op} '{node.name}' is never used", node.span, _expansion_notes(node)))
        if node.op.startswith("Conv") and node.hparams.get("bias"):
            followers = readers.get((node.id, 0), ())
            if followers and all(f.op.startswith("BatchNorm") for f in followers):
                message = f"{node.op} '{node.name}' has a bias that the batch norm after it cancels: use bias=false ({node.hparams['out_channels']:,} wasted parameters)"
                found.append(warning("W402", message, node.span, _expansion_notes(node)))
    return found


def _expansion_notes(node) -> tuple[Note, ...]:
    """For a layer made by a block or module: where that block was called, innermost first."""
    return tuple(Note("in the expansion called here", span) for span in reversed(node.expansion))
