"""From a source file to a checked layer graph and its diagnostics."""

from __future__ import annotations

import keyword
from typing import NamedTuple

from cnnspec.analysis.aliasing import inplace_hazards
from cnnspec.analysis.compute import costs
from cnnspec.analysis.receptive import receptive_fields
from cnnspec.diagnostics import CnnspecError, Diagnostic, Note, error, position, warning
from cnnspec.expand import Expander
from cnnspec.expressions import suggest
from cnnspec.fastparse import parse_definitions
from cnnspec.ir import Graph, Shape
from cnnspec.source import Source, Span
from cnnspec.suppress import apply_suppressions, read_suppressions, unused_suppressions
from cnnspec.syntax import Definition, Expect, Param, Variant


class Analysis:
    def __init__(self, source: Source):
        self.source = source
        self.graph: Graph | None = None
        self.diagnostics: list[Diagnostic] = []
        self.nets: tuple[str, ...] = ()
        self.definitions: tuple[Definition, ...] | None = None  # the syntax tree; None after a syntax error
        self.receptive: dict = {}  # node id -> RF (cnnspec.analysis.receptive), when the graph is clean
        self.costs: dict = {}  # node id -> Cost (cnnspec.analysis.compute), when the graph is clean
        self.input_override: Shape | None = None  # the input size given instead of the declared one
        self.params: dict = {}  # net parameter values given instead of the declared defaults

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


class _Parsed(NamedTuple):
    """A file read once, for the analysis of one or each of its nets."""

    table: dict[str, Definition] | None  # None: a syntax error
    nets: tuple[str, ...]
    diagnostics: list[Diagnostic]  # about the file as a whole: its syntax, definitions and suppression comments
    suppressions: list
    definitions: tuple | None  # the syntax tree; None after a syntax error


def analyze(source: Source, net: str | None = None, input_shape: Shape | None = None, params: dict | None = None) -> Analysis:
    """Parse, expand and check one source file's net (its only one, or `net`); every problem
    becomes a diagnostic. `params`: net parameter values that replace the declared defaults."""
    return _analyze_one(source, _parse(source), net, input_shape, params)


def _analyze_one(source: Source, parsed: _Parsed, net: str | None, input_shape, params) -> Analysis:
    result = _new_analysis(source, parsed, parsed.diagnostics, input_shape, params)
    used: set = set()
    if parsed.table is not None:
        used = _analyze_net(result, parsed, _choose_net(parsed.table, result, net))
    if net is None or len(parsed.nets) == 1:  # every net analysed: a suppression unused here is unused
        _report_unused(parsed, [result], used)
    return _finish(result)


def analyze_nets(source: Source, input_shape: Shape | None = None, params: dict | None = None) -> list[Analysis]:
    """One analysis per net of the file, in file order (`check` without --net); a file without
    several nets: analyze()'s one. A diagnostic about the file as a whole (a definition, a
    suppression comment) comes with the net whose definition holds its line, else the first."""
    parsed = _parse(source)
    if parsed.table is None or len(parsed.nets) < 2:
        return [_analyze_one(source, parsed, None, input_shape, params)]  # parsed once: large files
    analyses = [_new_analysis(source, parsed, [], input_shape, params) for _ in parsed.nets]
    for diagnostic in parsed.diagnostics:
        _owner(parsed, analyses, diagnostic).diagnostics.append(diagnostic)
    used: set = set()
    for result, name in zip(analyses, parsed.nets):
        used |= _analyze_net(result, parsed, parsed.table[name])
    _report_unused(parsed, analyses, used)
    return [_finish(result) for result in analyses]


def _parse(source: Source) -> _Parsed:
    try:
        definitions = _definitions(source)
    except CnnspecError as exc:  # syntax errors: the file is not analysed further
        return _Parsed(None, (), list(getattr(exc, "diagnostics", None) or [exc.diagnostic]), [], None)
    diagnostics: list[Diagnostic] = []
    table = _definition_table(definitions, diagnostics)
    suppressions, problems = read_suppressions(source.text)
    nets = tuple(name for name, d in table.items() if d.kind == "net")
    return _Parsed(table, nets, diagnostics + problems, suppressions, definitions)


def _new_analysis(source, parsed: _Parsed, diagnostics, input_shape, params) -> Analysis:
    result = Analysis(source)
    result.diagnostics = list(diagnostics)
    result.nets = parsed.nets
    result.definitions = parsed.definitions
    result.input_override, result.params = input_shape, dict(params or {})
    return result


def _analyze_net(result: Analysis, parsed: _Parsed, chosen: Definition | None) -> set:
    """Expand and check the net `chosen` (None: none to check); the suppressions it used."""
    if chosen is None:
        return set()
    result.graph = Expander(parsed.table, result.diagnostics).expand(chosen, result.input_override, result.params)
    if not result.errors:
        result.diagnostics.extend(graph_warnings(result.graph))
        result.diagnostics.extend(inplace_hazards(result.graph))
        result.diagnostics = _suggest_clean_sizes(result.graph, result.diagnostics)
        result.receptive, receptive_warnings = receptive_fields(result.graph)
        result.diagnostics.extend(receptive_warnings)
        result.costs = costs(result.graph)
    result.diagnostics, used = apply_suppressions(result.diagnostics, parsed.suppressions)
    return used


def _report_unused(parsed: _Parsed, analyses: list[Analysis], used: set) -> None:
    """W405 for the suppressions that no net used. Not while a net has errors: the checks
    that would have used them did not run."""
    if not parsed.suppressions or any(result.errors for result in analyses):
        return
    for diagnostic in unused_suppressions(parsed.suppressions, used):
        _owner(parsed, analyses, diagnostic).diagnostics.append(diagnostic)


def _owner(parsed: _Parsed, analyses: list[Analysis], diagnostic: Diagnostic) -> Analysis:
    """Of the analyses of the file's nets (in order), that of the net whose definition holds
    the diagnostic's line; else the first."""
    line = diagnostic.span.line if diagnostic.span else 0
    for result, name in zip(analyses, parsed.nets):
        definition = parsed.table[name]
        if definition.span.line <= line <= definition.span.end_line:
            return result
    return analyses[0]


def _finish(result: Analysis) -> Analysis:
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
        if isinstance(definition, Variant):
            definition = _variant_net(definition, table, diagnostics)
            if definition is None:
                continue
        _check_names(definition, diagnostics)
        previous = table.get(definition.name)
        if previous is not None:
            message = f"'{definition.name}' is already defined (as a {previous.kind}) at line {previous.span.line}"
            diagnostics.append(error("E205", message, definition.name_span, (Note("first defined here", previous.name_span),)))
            continue
        table[definition.name] = definition
    return table


def _variant_net(variant: Variant, table: dict[str, Definition], diagnostics) -> Definition | None:
    """`net b = a(x=1) { expect ... }`: net a's body without its own expectations, its parameters
    with the variant's values as defaults, and the variant's expectations. The base net must be
    defined above (a variant of a variant is fine)."""
    base = table.get(variant.base)
    if base is None or base.kind != "net":
        nets = [name for name, d in table.items() if d.kind == "net"]
        what = f"'{variant.base}' is a {base.kind}, not a net" if base else f"no net named '{variant.base}' is defined above"
        hint = suggest(variant.base, nets) if base is None else ""
        diagnostics.append(error("E209", f"net {variant.name}: {what}{hint}", variant.base_span))
        return None
    values = _variant_arguments(variant, base, diagnostics)
    if values is None:
        return None
    params = tuple(Param(p.name, values.get(p.name, p.default), p.span) for p in base.params)
    for statement in variant.body:
        if not isinstance(statement, Expect):
            message = f"a variant's body holds only `expect` statements; the layers are those of net {base.name}"
            diagnostics.append(error("E212", message, statement.span))
            return None
    body = tuple(s for s in base.body if not isinstance(s, Expect)) + variant.body
    return Definition("net", variant.name, params, body, variant.span, variant.name_span)


def _variant_arguments(variant: Variant, base: Definition, diagnostics) -> dict | None:
    """The variant's arguments matched to the base net's parameters: name -> expression."""
    names = [p.name for p in base.params]
    values: dict = {}
    for index, arg in enumerate(variant.args):
        if arg.name is None:
            if any(a.name is not None for a in variant.args[:index]):
                diagnostics.append(error("E203", "a positional argument follows a keyword argument", arg.span))
                return None
            if index >= len(names):
                diagnostics.append(error("E203", f"net {base.name} takes {len(names)} parameters, got {index + 1}", arg.span))
                return None
            name = names[index]
        elif arg.name not in names:
            message = f"net {base.name} has no parameter '{arg.name}'{suggest(arg.name, names)}"
            diagnostics.append(error("E201", message, arg.span))
            return None
        else:
            name = arg.name
        if name in values:
            diagnostics.append(error("E203", f"net {variant.name}: parameter '{name}' given twice", arg.span))
            return None
        values[name] = arg.value
    return values


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
