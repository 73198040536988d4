"""The per-row table: rich in a terminal, plain aligned text otherwise (pipes, files, CI logs)."""

from __future__ import annotations

from cnnspec.report import format_bytes, format_count, format_si
from cnnspec.report.columns import COLUMNS


def table_cells(rows, columns, measures) -> list[tuple[str, ...]]:
    """One tuple of cells per row, in `columns` order."""
    return list(zip(*column_cells(rows, columns, measures)))


def column_cells(rows, columns, measures) -> list[list[str]]:
    """One list of cells per column, in `columns` order, a cell per row."""
    return [[cell(row, measures) for row in rows] for cell in (COLUMNS[name].cell for name in columns)]


def title(analysis) -> str:
    return f"{analysis.graph.net} — {analysis.source.path}"


def totals_lines(totals, compute=None, memory=None) -> list[str]:
    lines = [
        f"parameters: {format_count(totals['params'])} (trainable {format_count(totals['trainable_params'])})",
        f"buffers:    {format_count(totals['buffers'])}",
        f"neurons:    {format_count(totals['neurons'])}",
    ]
    if compute is not None:
        unknown = f" (+ {len(compute.unknown)} layers of unknown cost)" if compute.unknown else ""
        lines.append(
            f"MACs:       {format_si(compute.macs)} ({format_count(compute.macs)}); other ops {format_si(compute.other_ops)}{unknown}"
        )
    if memory is not None:
        parts = ", ".join(f"{key.replace('_', ' ')} {format_bytes(value)}" for key, value in memory.breakdown.items() if value)
        lines.append(f"memory:     parameters {format_bytes(memory.param_bytes)} ({memory.dtype})")
        lines.append(
            f"            one training step at batch {memory.batch} with {memory.optimizer}: {format_bytes(memory.train_step_bytes)} ({parts})"
        )
    return lines


def plain_table(analysis, rows, columns, measures) -> str:
    headers = tuple(COLUMNS[name].header for name in columns)
    cells = column_cells(rows, columns, measures)
    widths = [max(len(header), max(map(len, values), default=0)) for header, values in zip(headers, cells)]
    # one format for every line: each cell padded to its column's width, on the column's side
    template = "  ".join(f"{{:{'>' if COLUMNS[name].right else '<'}{width}}}" for name, width in zip(columns, widths))
    rule = "  ".join("-" * w for w in widths)
    lines = [template.format(*values).rstrip() for values in [headers, *zip(*cells)]]
    return "\n".join([title(analysis), lines[0], rule, *lines[1:]]) + "\n"


def print_rich_table(analysis, rows, columns, measures, footer_lines) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title(analysis), title_justify="left", show_edge=False, pad_edge=False)
    for name in columns:
        column = COLUMNS[name]
        table.add_column(column.header, justify="right" if column.right else "left", no_wrap=column.right, overflow="fold")
    for values in table_cells(rows, columns, measures):
        table.add_row(*values)
    console = Console(highlight=False)
    console.print(table)
    for text in footer_lines:
        console.print(text)
