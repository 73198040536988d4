"""The terminal table (rich): one row per folded layer, then the totals."""

from __future__ import annotations

from rich.table import Table

from cnnspec.report import format_count, format_outputs


def _row_name(row) -> str:
    names = [node.name for node in row.nodes]
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"


def _folded_ops(row) -> str:
    return " + ".join(dict.fromkeys(node.op for node in row.nodes))


def rich_table(analysis, rows, totals) -> Table:
    graph = analysis.graph
    title = f"{graph.net} — {analysis.source.path}"
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("name")
    table.add_column("type")
    table.add_column("layers", overflow="fold")
    table.add_column("output", justify="right")
    table.add_column("neurons", justify="right")
    table.add_column("params", justify="right")
    for row in rows:
        index = "" if row.index is None else str(row.index)
        neurons = format_count(row.neurons) if row.counted else "-"
        table.add_row(index, _row_name(row), row.type, _folded_ops(row), format_outputs(row.outputs), neurons, format_count(row.params))
    return table


def totals_lines(totals) -> list[str]:
    return [
        f"parameters: {format_count(totals['params'])} (trainable {format_count(totals['trainable_params'])})",
        f"buffers:    {format_count(totals['buffers'])}",
        f"neurons:    {format_count(totals['neurons'])}",
    ]
