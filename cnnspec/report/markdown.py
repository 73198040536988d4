"""The VGG19 table's markdown layout: the seed's headers, rows and totals."""

from __future__ import annotations

from cnnspec.report import format_count, format_dims, format_outputs

HEADERS = ("Layer No.", "Type of Layer", "Output Dimension", "No. of Neurons", "No. of Learned Parameters")


def _line(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows, totals) -> str:
    lines = [_line(HEADERS), "|" + "---|" * len(HEADERS)]
    for row in rows:
        if row.head.op == "Input":
            lines.append(_line(("0", "Input", format_dims(row.head.output), "-", "-")))
        elif row.index is None:
            length = format_count(row.outputs[0][0]) if row.outputs and len(row.outputs[0]) == 1 else format_outputs(row.outputs)
            lines.append(_line((f"Flattening to a vector of length {length}", "", "", "", "")))
        else:
            cells = (str(row.index), row.type, format_outputs(row.outputs), format_count(row.neurons), format_count(row.params))
            lines.append(_line(cells))
    lines.append(_line(("", "", "", f"Total: {format_count(totals['neurons'])}", f"Total: {format_count(totals['params'])}")))
    return "\n".join(lines) + "\n"
