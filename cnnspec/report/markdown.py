"""The VGG19 table's markdown layout: the seed's headers, rows and totals, plus any extra columns."""

from __future__ import annotations

from cnnspec.report import format_count, format_outputs, format_si
from cnnspec.report.columns import COLUMNS, SEED_COLUMNS


def _line(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows, totals, extra=(), measures=None, compute=None) -> str:
    columns = SEED_COLUMNS + tuple(name for name in extra if name not in SEED_COLUMNS)
    lines = [_line(COLUMNS[name].markdown_header for name in columns), "|" + "---|" * len(columns)]
    for row in rows:
        if row.head.op == "Input":
            cells = ["0", "Input", format_outputs(row.outputs)] + ["-"] * (len(columns) - 3)
        elif row.index is None:
            length = format_count(row.outputs[0][0]) if row.outputs and len(row.outputs[0]) == 1 else format_outputs(row.outputs)
            cells = [f"Flattening to a vector of length {length}"] + [""] * (len(columns) - 1)
        else:
            cells = [COLUMNS[name].cell(row, measures) for name in columns]
        lines.append(_line(cells))
    total = {"neurons": f"Total: {format_count(totals['neurons'])}", "params": f"Total: {format_count(totals['params'])}"}
    if compute is not None:
        total["macs"] = f"Total: {format_si(compute.macs)}"
    lines.append(_line(total.get(name, "") for name in columns))
    return "\n".join(lines) + "\n"
