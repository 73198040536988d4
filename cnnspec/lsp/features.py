"""The editor features of one analysed text, as Language Server Protocol values (lsprotocol).
The server (cnnspec.lsp.server) keeps the documents; everything here is a function of a
Snapshot and a position, so that it can be tested, and fuzzed, without a client."""

from __future__ import annotations

import functools
import re
import time

from lsprotocol import types

from cnnspec.diagnostics import Diagnostic, Severity
from cnnspec.lsp.index import Names, Symbol, line_shapes, made_by, region_at, regions
from cnnspec.report import format_count, format_outputs, format_si
from cnnspec.source import Source, Span


class Snapshot:
    """One version of a document, analysed; the indexes the features need are built on first use."""

    def __init__(self, uri: str, version: int | None, text: str, params: dict | None = None):
        from cnnspec.analyze import analyze

        started = time.perf_counter()
        self.uri, self.version, self.text = uri, version, text
        self.lines = text.split("\n")  # as cnnspec counts lines: only '\n' ends one
        self.analysis = analyze(Source(uri, text), params=params)
        self.seconds = time.perf_counter() - started
        self._diagnostics: list[Diagnostic] | None = None
        self._names: Names | None = None
        self._regions: list | None = None
        self._line_shapes: dict | None = None

    @property
    def parsed(self) -> bool:
        return self.analysis.definitions is not None

    @property
    def clean(self) -> bool:
        return self.analysis.graph is not None and not self.analysis.errors

    def diagnostics(self) -> list[Diagnostic]:
        """The analysis's diagnostics and, for a clean net, its contracts' failures: what `check` reports."""
        if self._diagnostics is None:
            if self.clean:
                from cnnspec.results import check_contracts, report_parts

                check_contracts(self.analysis, report_parts(self.analysis), compare=True)
            self._diagnostics = list(self.analysis.diagnostics)
        return self._diagnostics

    @property
    def names(self) -> Names:
        if self._names is None:
            self._names = Names(self.analysis.definitions or ())
        return self._names

    @property
    def regions(self) -> list:
        if self._regions is None:
            self._regions = regions(self.analysis.definitions or (), self.analysis.graph)
        return self._regions

    @property
    def line_shapes(self) -> dict:
        if self._line_shapes is None:
            graph = self.analysis.graph
            self._line_shapes = line_shapes(graph) if graph is not None else {}
        return self._line_shapes

    # ---- positions: cnnspec's (1-based, characters) <-> the protocol's (0-based, UTF-16 units) ----

    def position(self, line: int, column: int) -> types.Position:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return types.Position(line=max(line - 1, 0), character=_utf16(text[: max(column - 1, 0)]))

    def range(self, span: Span | None) -> types.Range:
        if span is None:
            return types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
        return types.Range(start=self.position(span.line, span.column), end=self.position(span.end_line, span.end_column))

    def place(self, position: types.Position) -> tuple[int, int]:
        """The protocol's position as cnnspec's (line, column)."""
        text = self.lines[position.line] if 0 <= position.line < len(self.lines) else ""
        return (position.line + 1, column_of(text, position.character) + 1)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ---- diagnostics -----------------------------------------------------------------------------


def lsp_diagnostics(snapshot: Snapshot) -> list[types.Diagnostic]:
    return [lsp_diagnostic(snapshot, d) for d in snapshot.diagnostics()]


def lsp_diagnostic(snapshot: Snapshot, diagnostic: Diagnostic) -> types.Diagnostic:
    placed = [note for note in diagnostic.notes if note.span is not None]
    unplaced = [f"note: {note.message}" for note in diagnostic.notes if note.span is None]
    related = [
        types.DiagnosticRelatedInformation(location=types.Location(uri=snapshot.uri, range=snapshot.range(note.span)), message=note.message)
        for note in placed
    ]
    return types.Diagnostic(
        range=snapshot.range(diagnostic.span),
        message="\n".join([diagnostic.message, *unplaced]),
        severity=types.DiagnosticSeverity.Error if diagnostic.severity is Severity.ERROR else types.DiagnosticSeverity.Warning,
        code=diagnostic.code,
        source="cnnspec",
        related_information=related or None,
    )


# ---- hover -----------------------------------------------------------------------------------

MAX_HOVER_PARTS = 5  # descriptions in one hover; a block called 16 times may have 16 different ones


def hover(snapshot: Snapshot, position: types.Position) -> types.Hover | None:
    place = snapshot.place(position)
    occurrence = snapshot.names.at(place)
    text = None
    if occurrence is not None and occurrence.symbol.kind in ("tensor", "parameter"):
        text = _name_text(snapshot, occurrence.symbol)
    elif occurrence is not None and occurrence.defining:
        text = _definition_text(snapshot, occurrence.symbol)
    if text is None:
        region = region_at(snapshot.regions, place)
        graph = snapshot.analysis.graph
        if region is None or graph is None:
            return None
        text = _made_text(snapshot, made_by(graph, region.span))
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


def _made_text(snapshot: Snapshot, made) -> str | None:
    """A layer: its output, parameters, MACs and receptive field; more layers (a block or module
    call, a group): their totals. Once per expansion, or once if every expansion is alike."""
    expansions = [nodes for nodes in made.expansions if nodes]
    if not expansions:
        return None
    texts = [_describe(snapshot, nodes) for nodes in expansions]
    shown = []
    for text in dict.fromkeys(texts):
        names = [nodes[0].name for nodes, same in zip(expansions, texts) if same == text]
        if len(names) > 1:  # one description for several expansions: say which
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            text = ", ".join(f"`{name}`" for name in names[:3]) + more + "\n\n" + text
        shown.append(text)
    if len(expansions) > 1:
        shown.insert(0, f"*made {len(expansions)} times*")
    hidden = len(shown) - MAX_HOVER_PARTS
    return "\n\n---\n\n".join(shown[:MAX_HOVER_PARTS]) + (f"\n\n… and {hidden} more" if hidden > 0 else "")


def _describe(snapshot: Snapshot, nodes) -> str:
    costs, receptive = snapshot.analysis.costs, snapshot.analysis.receptive
    last = nodes[-1]
    params = sum(node.params for node in nodes)
    macs = sum(costs[node.id].macs for node in nodes if node.id in costs)
    if len(nodes) == 1:
        head = f"**{last.name}** `{last.op}` → {format_outputs(last.outputs)}"
    else:
        ops = ", ".join(dict.fromkeys(node.op for node in nodes))
        head = f"**{nodes[0].name}** … **{last.name}**: {len(nodes)} layers ({ops}) → {format_outputs(last.outputs)}"
    facts = [f"params {format_count(params)}"]
    if costs:
        facts.append(f"MACs {format_si(macs)}")
    rf = receptive.get(last.id)
    if rf is not None:
        facts.append("receptive field " + ("the whole input" if rf.whole_input else " × ".join(map(str, rf.size))))
    return head + "  \n" + " · ".join(facts)


def _definition_text(snapshot: Snapshot, symbol: Symbol) -> str | None:
    definition = snapshot.names.definitions.get(symbol.name)
    if definition is None:
        return None
    params = ", ".join(p.name + ("=" + _source_text(snapshot, p.default.span) if p.default is not None else "") for p in definition.params)
    text = f"```cnnspec\n{definition.kind} {definition.name}({params})\n```"
    graph = snapshot.analysis.graph
    if graph is None:
        return text
    if definition.kind == "net" and graph.net == definition.name and snapshot.clean:
        totals = graph.totals()
        macs = sum(cost.macs for cost in snapshot.analysis.costs.values())
        text += f"\n{len(graph.nodes) - 1} layers → {format_outputs(graph.nodes[graph.output.node].outputs if graph.output else None)}"
        text += f"  \nparams {format_count(totals['params'])} · MACs {format_si(macs)}"
    calls = [o for o in snapshot.names.of(symbol) if not o.defining]
    if calls:
        text += f"\n\ncalled {len(calls)} time{'s' * (len(calls) != 1)}"
    return text


def _name_text(snapshot: Snapshot, symbol: Symbol) -> str:
    where = f"line {symbol.span.line}"
    text = f"{symbol.kind} `{symbol.name}` of {symbol.definition}, defined at {where}"
    graph = snapshot.analysis.graph
    if symbol.kind == "tensor" and graph is not None:
        shapes = _tensor_shapes(snapshot, symbol)
        if shapes:
            text += "  \n→ " + " | ".join(format_outputs((shape,)) for shape in shapes)
    return text


def _tensor_shapes(snapshot: Snapshot, symbol: Symbol) -> list:
    """The shapes of a named tensor: the output of the last layer of the chain that defines it."""
    from cnnspec.lsp.index import walk
    from cnnspec.syntax import Assign

    definition = snapshot.names.definitions.get(symbol.definition)
    assign = next(
        (n for n in walk(definition) if isinstance(n, Assign) and any(s == symbol.span for _, s in n.targets)),
        None,
    )
    if assign is None:
        return []
    index = [s for _, s in assign.targets].index(symbol.span)
    shapes = []
    for nodes in made_by(snapshot.analysis.graph, assign.chain.span).expansions:
        outputs = nodes[-1].outputs
        if outputs and index < len(outputs):
            shapes.append(outputs[index] if len(assign.targets) > 1 else outputs[0])
    return list(dict.fromkeys(shapes))


def _source_text(snapshot: Snapshot, span: Span) -> str:
    if span.line != span.end_line:
        return "…"
    return snapshot.lines[span.line - 1][span.column - 1 : span.end_column - 1]


# ---- inlay hints -----------------------------------------------------------------------------

MAX_HINT_SHAPES = 3


def inlay_hints(snapshot: Snapshot, first_line: int, last_line: int) -> list[types.InlayHint]:
    """Each line's output shape at its end (0-based lines, inclusive)."""
    hints = []
    for line, shapes in sorted(snapshot.line_shapes.items()):
        if not first_line <= line - 1 <= last_line or not shapes.shapes:
            continue
        shown = [format_outputs((shape,)) for shape in shapes.shapes[:MAX_HINT_SHAPES]]
        more = len(shapes.shapes) - MAX_HINT_SHAPES
        label = "→ " + " | ".join(shown) + (f" | +{more} more" if more > 0 else "")
        hints.append(types.InlayHint(position=snapshot.position(line, shapes.column), label=label, padding_left=True))
    return hints


# ---- names: definition, references, rename, symbols ------------------------------------------


def definition(snapshot: Snapshot, position: types.Position) -> types.Location | None:
    occurrence = snapshot.names.at(snapshot.place(position))
    if occurrence is None:
        return None
    return types.Location(uri=snapshot.uri, range=snapshot.range(occurrence.symbol.span))


def references(snapshot: Snapshot, position: types.Position, include_declaration: bool) -> list[types.Location] | None:
    occurrence = snapshot.names.at(snapshot.place(position))
    if occurrence is None:
        return None
    found = snapshot.names.of(occurrence.symbol)
    return [types.Location(uri=snapshot.uri, range=snapshot.range(o.span)) for o in found if include_declaration or not o.defining]


RENAMEABLE = ("net", "block", "module", "tensor", "parameter")
IDENTIFIER = re.compile(r"[^\W\d]\w*")


def rename(snapshot: Snapshot, position: types.Position, new_name: str) -> types.WorkspaceEdit | None:
    occurrence = snapshot.names.at(snapshot.place(position))
    if occurrence is None or occurrence.symbol.kind not in RENAMEABLE:
        return None
    if not IDENTIFIER.fullmatch(new_name) or not new_name.isascii():
        raise ValueError(f"'{new_name}' is not a name the language accepts")
    edits = [types.TextEdit(range=snapshot.range(o.span), new_text=new_name) for o in snapshot.names.of(occurrence.symbol)]
    return types.WorkspaceEdit(changes={snapshot.uri: edits})


SYMBOL_KINDS = {"net": types.SymbolKind.Class, "block": types.SymbolKind.Function, "module": types.SymbolKind.Module}


def document_symbols(snapshot: Snapshot) -> list[types.DocumentSymbol]:
    symbols = []
    for name, found in snapshot.names.definitions.items():
        children = [
            types.DocumentSymbol(
                name=s.name,
                kind=types.SymbolKind.Variable if s.kind == "tensor" else types.SymbolKind.TypeParameter,
                range=snapshot.range(s.span),
                selection_range=snapshot.range(s.span),
                detail=s.kind,
            )
            for s in snapshot.names.symbols.values()
            if s.definition == name and s.kind in ("parameter", "tensor")
        ]
        symbols.append(
            types.DocumentSymbol(
                name=name,
                kind=SYMBOL_KINDS.get(found.kind, types.SymbolKind.Object),
                range=snapshot.range(found.span),
                selection_range=snapshot.range(found.name_span),
                detail=found.kind,
                children=children,
            )
        )
    return symbols


# ---- completion --------------------------------------------------------------------------------


def completion(names: Names, text: str, position: types.Position) -> list[types.CompletionItem]:
    """Inside a call's parentheses: its keyword arguments; elsewhere: layers, blocks and modules;
    both: the parameters and tensors in scope. `text` is the document now (it may not parse);
    `names` those of the last text that parsed."""
    from cnnspec.layers import REGISTRY

    lines = text.split("\n")
    line_text = lines[position.line] if position.line < len(lines) else ""
    before = line_text[: column_of(line_text, position.character)]
    callee = _open_call(before)
    items: list[types.CompletionItem] = []
    definitions = names.definitions
    if callee in REGISTRY:
        items += [_argument_item(spec) for spec in REGISTRY[callee].args]
    elif callee in definitions:
        items += [
            types.CompletionItem(label=f"{p.name}=", kind=types.CompletionItemKind.Property, detail=f"parameter of {callee}")
            for p in definitions[callee].params
        ]
    else:
        items += _layer_items()
        items += [
            types.CompletionItem(label=name, kind=types.CompletionItemKind.Class, detail=d.kind)
            for name, d in definitions.items()
            if d.kind != "net"
        ]
    for symbol in names.in_scope(position.line + 1):
        kind = types.CompletionItemKind.Variable if symbol.kind == "tensor" else types.CompletionItemKind.Constant
        items.append(types.CompletionItem(label=symbol.name, kind=kind, detail=symbol.kind))
    return items


def column_of(line_text: str, character: int) -> int:
    """The index in `line_text` of a UTF-16 offset."""
    units = 0
    for index, char in enumerate(line_text):
        if units >= character:
            return index
        units += _utf16(char)
    return len(line_text)


def _open_call(before: str) -> str | None:
    """The name of the innermost call whose parenthesis is still open at the end of `before`."""
    depth = 0
    for index in range(len(before) - 1, -1, -1):
        char = before[index]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                match = re.search(r"([^\W\d]\w*)\s*$", before[:index])
                return match.group(1) if match else None
            depth -= 1
    return None


@functools.cache
def _layer_items() -> tuple[types.CompletionItem, ...]:
    """Every layer spelling and merge, with its signature and docs (the same in every completion)."""
    from cnnspec.layers import MERGES, REGISTRY

    merges = [types.CompletionItem(label=name, kind=types.CompletionItemKind.Operator, detail="merge") for name in MERGES]
    return (*[_layer_item(name, kind) for name, kind in REGISTRY.items()], *merges)


def _layer_item(name: str, kind) -> types.CompletionItem:
    signature = ", ".join(spec.name + ("" if _required(spec) else f"={_show(spec.default)}") for spec in kind.args)
    return types.CompletionItem(
        label=name,
        kind=types.CompletionItemKind.Function,
        detail=f"{name}({signature})",
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"{kind.summary}\n\nPyTorch: `{kind.torch}`"),
    )


def _argument_item(spec) -> types.CompletionItem:
    default = "required" if _required(spec) else f"default {_show(spec.default)}"
    aliases = f"; also spelt {', '.join(spec.aliases)}" if spec.aliases else ""
    return types.CompletionItem(
        label=f"{spec.name}=",
        kind=types.CompletionItemKind.Property,
        detail=default,
        documentation=f"{spec.doc or spec.name} ({default}{aliases})",
    )


def _required(spec) -> bool:
    from cnnspec.layers.base import REQUIRED

    return spec.default is REQUIRED


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# ---- formatting and quick fixes ----------------------------------------------------------------


def formatting(uri: str, text: str) -> list[types.TextEdit] | None:
    """`cnnspec fmt`'s layout as one edit; nothing for a text that does not parse."""
    from cnnspec.diagnostics import CnnspecError
    from cnnspec.format import format_source

    try:
        formatted = format_source(Source(uri, text))
    except (CnnspecError, RecursionError):
        return None
    if formatted == text:
        return []
    lines = text.split("\n")
    end = types.Position(line=len(lines) - 1, character=_utf16(lines[-1]))
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=formatted)]


SUGGESTION = re.compile(r"'([^']+)'.*; did you mean '([^']+)'\?")


SUPPRESSION = re.compile(r"#\s*cnnspec:\s*ignore\s*\[([^\]\n]*)\]")
NOT_SUPPRESSIBLE = {"W405", "W406"}  # about the suppression comments themselves


def suppression_action(snapshot: Snapshot, lines: list[str], diagnostic: types.Diagnostic) -> types.CodeAction | None:
    """A warning: silence it on its line with `# cnnspec: ignore[CODE]` (added to one already there)."""
    code = str(diagnostic.code or "")
    if diagnostic.source != "cnnspec" or not code.startswith("W") or code in NOT_SUPPRESSIBLE:
        return None
    number = diagnostic.range.start.line
    line = lines[number] if number < len(lines) else ""
    existing = SUPPRESSION.search(line)
    if existing is not None:
        column = existing.end(1)
        insert = f", {code}"
    else:
        column = len(line.rstrip())
        insert = f"  # cnnspec: ignore[{code}]"
    position = types.Position(line=number, character=_utf16(line[:column]))
    edit = types.TextEdit(range=types.Range(start=position, end=position), new_text=insert)
    return types.CodeAction(
        title=f"Silence {code} on this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=types.WorkspaceEdit(changes={snapshot.uri: [edit]}),
    )


def code_actions(snapshot: Snapshot, text: str, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """A misspelt name with a suggestion (an unknown layer, argument or name): the suggestion.
    A warning: a suppression comment for it."""
    actions = []
    lines = text.split("\n")
    for diagnostic in diagnostics:
        silence = suppression_action(snapshot, lines, diagnostic)
        if silence is not None:
            actions.append(silence)
        match = SUGGESTION.search(diagnostic.message)
        if match is None or diagnostic.source != "cnnspec":
            continue
        wrong, right = match.groups()
        start = diagnostic.range.start
        line = lines[start.line] if start.line < len(lines) else ""
        column = column_of(line, start.character)
        if not line.startswith(wrong, column):
            continue
        end = types.Position(line=start.line, character=start.character + _utf16(wrong))
        edit = types.TextEdit(range=types.Range(start=start, end=end), new_text=right)
        actions.append(
            types.CodeAction(
                title=f"Change '{wrong}' to '{right}'",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=True,
                edit=types.WorkspaceEdit(changes={snapshot.uri: [edit]}),
            )
        )
    return actions
