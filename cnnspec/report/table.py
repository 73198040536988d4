"""The per-row table: rich in a terminal, plain aligned text otherwise (pipes, files, CI logs)."""

from __future__ import annotations

from cnnspec.report import format_bytes, format_count, format_si
from cnnspec.report.columns import COLUMNS


def table_cells(rows, columns, measures) -> list[tuple[str, ...]]:
    """One tuple of cells per row, in `columns` order."""
    return [tuple(COLUMNS[name].cell(row, measures) for name in columns) for row in rows]


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
    cells = [headers, *table_cells(rows, columns, measures)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    right = [COLUMNS[name].right for name in columns]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title(analysis), line(headers), rule, *(line(values) for values in cells[1:])]) + "\n"


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
