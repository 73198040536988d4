"""The per-row table: rich in a terminal, plain aligned text otherwise (pipes, files, CI logs)."""

from __future__ import annotations

from cnnspec.report import format_count, format_outputs

HEADERS = ("#", "name", "type", "layers", "output", "neurons", "params")
RIGHT_ALIGNED = {"#", "output", "neurons", "params"}


def _row_name(row) -> str:
    names = [node.name for node in row.nodes]
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"


def _folded_ops(row) -> str:
    return " + ".join(dict.fromkeys(node.op for node in row.nodes))


def table_cells(rows) -> list[tuple[str, ...]]:
    """One tuple of cells per row, in HEADERS order."""
    cells = []
    for row in rows:
        index = "" if row.index is None else str(row.index)
        neurons = format_count(row.neurons) if row.counted else "-"
        cells.append((index, _row_name(row), row.type, _folded_ops(row), format_outputs(row.outputs), neurons, format_count(row.params)))
    return cells


def title(analysis) -> str:
    return f"{analysis.graph.net} — {analysis.source.path}"


def totals_lines(totals) -> list[str]:
    return [
        f"parameters: {format_count(totals['params'])} (trainable {format_count(totals['trainable_params'])})",
        f"buffers:    {format_count(totals['buffers'])}",
        f"neurons:    {format_count(totals['neurons'])}",
    ]


def plain_table(analysis, rows, totals) -> str:
    cells = [HEADERS, *table_cells(rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]

    def line(values):
        padded = (v.rjust(w) if h in RIGHT_ALIGNED else v.ljust(w) for h, v, w in zip(HEADERS, values, widths))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(values) for values in cells[1:]]
    return "\n".join([title(analysis), line(HEADERS), rule, *body, *totals_lines(totals)]) + "\n"


def print_rich_table(analysis, rows, totals) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title(analysis), title_justify="left", show_edge=False, pad_edge=False)
    for header in HEADERS:
        right = header in RIGHT_ALIGNED
        table.add_column(header, justify="right" if right else "left", no_wrap=right, overflow="fold")
    for values in table_cells(rows):
        table.add_row(*values)
    console = Console(highlight=False)
    console.print(table)
    for text in totals_lines(totals):
        console.print(text)
