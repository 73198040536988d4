"""From a source file to a checked layer graph and its diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnspec.diagnostics import CnnspecError, Diagnostic, Note, error, warning
from cnnspec.expand import Expander
from cnnspec.ir import Graph, Shape, Value
from cnnspec.parser import parse
from cnnspec.source import Source
from cnnspec.syntax import Definition, to_syntax


@dataclass
class Analysis:
    source: Source
    graph: Graph | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    nets: tuple[str, ...] = ()

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def analyze(source: Source, net: str | None = None, input_shape: Shape | None = None) -> Analysis:
    """Parse, expand and check one source file; every problem becomes a diagnostic."""
    result = Analysis(source)
    try:
        definitions = to_syntax(parse(source))
    except CnnspecError as exc:
        result.diagnostics.append(exc.diagnostic)
        return result
    table = _definition_table(definitions, result.diagnostics)
    result.nets = tuple(name for name, d in table.items() if d.kind == "net")
    chosen = _choose_net(table, result, net)
    if chosen is not None:
        result.graph = Expander(table, result.diagnostics).expand(chosen, input_shape)
        if not result.errors:
            result.diagnostics.extend(graph_warnings(result.graph))
    result.diagnostics.sort(key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
    return result


def _definition_table(definitions, diagnostics) -> dict[str, Definition]:
    table: dict[str, Definition] = {}
    for definition in definitions:
        previous = table.get(definition.name)
        if previous is not None:
            message = f"'{definition.name}' is already defined (as a {previous.kind}) at line {previous.span.line}"
            diagnostics.append(error("E205", message, definition.name_span, (Note("first defined here", previous.name_span),)))
            continue
        table[definition.name] = definition
    return table


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
    users = graph.consumers()
    for node in graph.nodes:
        for index in range(len(node.outputs or ())):
            value_used = users.get(Value(node.id, index)) or graph.output == Value(node.id, index)
            if not value_used and node.op != "Input":
                found.append(warning("W401", f"the output of {node.op} '{node.name}' is never used", node.span))
        followers = users.get(Value(node.id, 0), [])
        if node.op.startswith("Conv") and node.hparams.get("bias") and followers and all(f.op.startswith("BatchNorm") for f in followers):
            message = f"{node.op} '{node.name}' has a bias that the batch norm after it cancels: use bias=false ({node.hparams['out_channels']:,} wasted parameters)"
            found.append(warning("W402", message, node.span))
    return found
