"""The Python API: `cnnspec.load(path)` and `cnnspec.loads(text)` give a Model, what
`cnnspec check` reports about a net (docs/python.md)."""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING, Any

from cnnspec.diagnostics import CnnspecError, Diagnostic, render
from cnnspec.source import Source

if TYPE_CHECKING:
    from cnnspec.analyze import Analysis
    from cnnspec.results import Parts

Shape = tuple[int, ...]


class Model:
    """A checked net: its layers, totals and output shapes, as `cnnspec check --format json` reports them.

    Attributes: `net` (its name), `input` (one sample's input shape), `totals` (the JSON
    report's totals), `layers` (the JSON report's rows: one dict per table row), `outputs`
    (the net's output name -> shape), `diagnostics` (its warnings; a Model never has errors),
    `contracts` (the outcomes of its `expect` statements, as JSON dicts).
    """

    def __init__(self, analysis: Analysis, parts: Parts, outcomes: tuple | None):
        self._analysis, self._parts, self._outcomes = analysis, parts, outcomes
        from cnnspec.results import json_report

        self._report: dict = json_report(analysis, parts, outcomes)
        graph = analysis.graph
        self.net: str = graph.net
        self.path: str = analysis.source.path
        self.input: Shape = tuple(graph.input_shape)
        self.totals: dict[str, Any] = self._report["totals"]
        self.layers: list[dict[str, Any]] = self._report["rows"]
        self.outputs: dict[str, Shape] = _outputs(graph)
        self.diagnostics: list[Diagnostic] = list(analysis.diagnostics)
        self.contracts: list[dict[str, Any]] = self._report["contracts"]

    def __repr__(self) -> str:
        return f"<cnnspec.Model {self.net}: {self.totals['params']:,} params, {len(self.layers)} rows>"

    def summary(self, columns: tuple[str, ...] | None = None) -> str:
        """The table `cnnspec check` prints (plain text), its totals and its contracts.
        `columns`: names from `cnnspec check --columns` (default: check's)."""
        from cnnspec.report.columns import DEFAULT_COLUMNS
        from cnnspec.report.table import plain_table, totals_lines
        from cnnspec.results import contract_lines

        rows, totals, measures, compute = self._parts
        table = plain_table(self._analysis, rows, columns or DEFAULT_COLUMNS, measures)
        footer = totals_lines(totals, compute, measures.memory) + contract_lines(self._analysis.graph, self._outcomes)
        return table + "\n".join(footer) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The JSON report of `cnnspec check --format json` (schema cnnspec/report@1), as a dict."""
        return self._report

    def to_module(self):
        """The generated torch.nn.Module (`cnnspec codegen`'s class), built in this process on
        the CPU with freshly initialised weights. Needs PyTorch (`pip install "cnnspec[torch]"`)."""
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ImportError('Model.to_module() needs PyTorch: pip install "cnnspec[torch]"') from None
        from cnnspec.codegen.module import CodegenError, generate_module
        from cnnspec.codegen.verify import build_generated

        try:
            generated = generate_module(self._analysis, self.path)
        except CodegenError as exc:
            raise _error(self._analysis.source, exc.diagnostics) from None
        return build_generated(generated, device="cpu")

    def _repr_html_(self) -> str:
        """Jupyter's rendering: the table as HTML, then the totals and the warnings."""
        from cnnspec.report.columns import COLUMNS, DEFAULT_COLUMNS
        from cnnspec.report.table import column_cells, totals_lines
        from cnnspec.results import contract_lines

        rows, totals, measures, compute = self._parts
        cells = column_cells(rows, DEFAULT_COLUMNS, measures)
        aligned = ["right" if COLUMNS[name].right else "left" for name in DEFAULT_COLUMNS]
        head = "".join(f'<th style="text-align:{side}">{html.escape(COLUMNS[n].header)}</th>' for n, side in zip(DEFAULT_COLUMNS, aligned))
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{side}">{html.escape(value)}</td>' for value, side in zip(row, aligned)) + "</tr>"
            for row in zip(*cells)
        )
        footer = totals_lines(totals, compute, measures.memory) + contract_lines(self._analysis.graph, self._outcomes)
        warnings = [render(d, self._analysis.source) for d in self.diagnostics]
        return (
            f'<div class="cnnspec"><strong>{html.escape(self.net)}</strong> — {html.escape(self.path)}'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<pre>{html.escape(chr(10).join(footer + warnings))}</pre></div>"
        )


def load(path: str | os.PathLike[str], net: str | None = None, input: Shape | None = None, **params: Any) -> Model:
    """Check the .cnn file at `path`, as `cnnspec check` does, and describe its net.

    `net`: the net to describe when the file defines several; `input`: one sample's input
    shape instead of the declared one, e.g. (3, 256, 256) (the contracts are then not
    checked, as with `--input`); `params`: net parameters, e.g. `classes=10`.
    Raises CnnspecError (its `diagnostics` list them) when the file has errors, and OSError
    when it cannot be read.
    """
    from cnnspec.source import read_source

    path = os.fspath(path)
    try:
        source = read_source(path)
    except UnicodeDecodeError as exc:
        from cnnspec.commands.common import undecodable

        analysis = undecodable(path, exc).analysis
        raise _error(analysis.source, analysis.diagnostics) from None
    return _describe(source, net, input, params)


def loads(text: str, net: str | None = None, input: Shape | None = None, path: str = "<string>", **params: Any) -> Model:
    """As `load`, for the text of a .cnn file; `path` names it in diagnostics."""
    return _describe(Source(path, text), net, input, params)


def _describe(source: Source, net: str | None, input_shape, params: dict) -> Model:
    from cnnspec.analyze import analyze
    from cnnspec.results import check_contracts, report_parts

    shape = None if input_shape is None else tuple(input_shape)
    analysis = analyze(source, net, shape, {name: _language_value(value) for name, value in params.items()})
    if analysis.graph is None or analysis.errors:
        raise _error(source, analysis.errors or analysis.diagnostics)
    parts = report_parts(analysis)
    outcomes = check_contracts(analysis, parts, compare=shape is None)
    if analysis.errors:  # a contract failed
        raise _error(source, analysis.errors)
    return Model(analysis, parts, outcomes)


def _language_value(value):
    """A Python value as the language holds it: lists become tuples."""
    if isinstance(value, list | tuple):
        return tuple(_language_value(item) for item in value)
    return value


def _error(source: Source, diagnostics: list[Diagnostic]) -> CnnspecError:
    """The exception for a file with errors: its message is the diagnostics as `check` prints them."""
    count = len(diagnostics)
    text = "\n".join(render(d, source) for d in diagnostics)
    return CnnspecError(diagnostics[0], diagnostics[1:], f"{source.path}: {count} error{'s' * (count != 1)}\n{text}")


def _outputs(graph) -> dict[str, Shape]:
    """The net's output, named by the layer that makes it (`name[i]` for output i of a split)."""
    if graph.output is None:
        return {}
    node = graph.nodes[graph.output.node]
    suffix = f"[{graph.output.index}]" if len(node.outputs or ()) > 1 else ""
    return {node.name + suffix: tuple(node.outputs[graph.output.index])}
