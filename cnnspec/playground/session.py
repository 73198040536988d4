"""What the playground's Web Worker calls under Pyodide (and the tests and benchmark under
CPython): a .cnn text in, everything the page shows out, as one JSON string.

The analysis is `cnnspec check`'s own (the same report parts, contracts and JSON report as
`check --format json`), the table cells are the CLI table's, the diagram is `cnnspec graph`'s
Mermaid and the code is `cnnspec codegen`'s: nothing here re-implements them.
"""

from __future__ import annotations

import json
import os

from cnnspec.commands.check import Options, Settings, _check_file, _json_report
from cnnspec.diagnostics import render
from cnnspec.report.columns import COLUMNS, DEFAULT_COLUMNS

DEFAULT_NAME = "model.cnn"
SETTINGS = Settings("json", None, "float32", 1, "sgd", False, 0, frozenset())


def file_name(name: str | None) -> str:
    """A plain file name ending in .cnn: the page's name for the model, never a path."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    if not base or base.startswith("."):
        return DEFAULT_NAME
    return base if base.endswith(".cnn") else base + ".cnn"


def _checked(text: str, name: str | None):
    """`check`'s result for `text`, saved as `name` in the current directory (the worker's own
    in-memory one), so that every diagnostic names the file as the page does."""
    path = file_name(name)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    return _check_file(path, Options(None, None, {}), SETTINGS)[0]  # a file of several nets: its first (one net per page)


def analyze(text: str, name: str | None = None) -> str:
    """The JSON the page renders: `report` (check --format json's), the table's `columns` and
    `rows` (the CLI table's cells), the `totals` lines, each diagnostic `rendered` with its
    caret, and the `mermaid` diagram (None while the file has errors)."""
    checked = _checked(text, name)
    if checked.crash is not None:
        return json.dumps({"crash": f"{type(checked.crash).__name__}: {checked.crash}"})
    analysis = checked.analysis
    result = {
        "report": _json_report(checked, lazy=False),
        "rendered": [render(d, analysis.source) for d in analysis.diagnostics],
        "columns": [],
        "right": [],
        "rows": [],
        "totals": [],
        "mermaid": None,
    }
    if checked.parts is not None:
        result.update(_table(analysis, checked.parts))
    return json.dumps(result, allow_nan=False)


def _table(analysis, parts) -> dict:
    from cnnspec.report.diagram import diagram
    from cnnspec.report.table import table_cells, totals_lines

    rows, totals, measures, compute = parts
    columns = [COLUMNS[name] for name in DEFAULT_COLUMNS]
    return {
        "columns": [column.header for column in columns],
        "right": [column.right for column in columns],
        "rows": table_cells(rows, DEFAULT_COLUMNS, measures),
        "totals": totals_lines(totals, compute, measures.memory),
        "mermaid": diagram(analysis.graph, "mermaid"),
    }


def codegen(text: str, name: str | None = None) -> str:
    """`cnnspec codegen`'s module for `text` as JSON: {"code": ...}, or {"errors": [...]}
    (each rendered as the CLI does) when there is nothing to generate."""
    from cnnspec.codegen.module import CodegenError, generate_module

    checked = _checked(text, name)
    analysis = checked.analysis
    if checked.crash is not None:
        return json.dumps({"errors": [f"internal error: {type(checked.crash).__name__}: {checked.crash}"]})
    if analysis.errors or analysis.graph is None:
        return json.dumps({"errors": [render(d, analysis.source) for d in analysis.errors] or ["no net to generate"]})
    try:
        return json.dumps({"code": generate_module(analysis, analysis.source.path).text})
    except CodegenError as exc:
        return json.dumps({"errors": [render(d, analysis.source) for d in exc.diagnostics]})
