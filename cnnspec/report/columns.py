"""The columns a table can show (`--columns`), each a header and a way to fill a row's cell."""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.report import format_bytes, format_count, format_outputs, format_si


class Measures(NamedTuple):
    """Per-node results of the analyses, keyed by node id (see cnnspec.analysis)."""

    receptive: dict
    costs: dict
    memory: object  # cnnspec.analysis.memory.Memory


class Column(NamedTuple):
    header: str
    markdown_header: str
    right: bool
    cell: object  # (row, measures) -> str


def _rf_cell(row, measures) -> str:
    rf = measures.receptive.get(row.last.id)
    if rf is None:
        return "?"
    if rf.whole_input:
        return "whole input"
    return " × ".join(map(_number, rf.size))


def _jump_cell(row, measures) -> str:
    rf = measures.receptive.get(row.last.id)
    return "?" if rf is None or rf.whole_input else " × ".join(map(_number, rf.jump))


def _number(value) -> str:
    return str(value) if type(value) is int or getattr(value, "denominator", 1) == 1 else f"{float(value):.3g}"


def _macs_cell(row, measures) -> str:
    costs = measures.costs
    return format_si(sum([costs[node.id].macs for node in row.nodes]))


def _other_ops_cell(row, measures) -> str:
    costs = measures.costs
    ops = [costs[node.id].other_ops for node in row.nodes]
    return "?" if None in ops else format_si(sum(ops))


def _activations_cell(row, measures) -> str:
    return format_bytes(measures.memory.activation_bytes[row.last.id])


COLUMNS = {
    "index": Column("#", "Layer No.", True, lambda row, m: "" if row.index is None else str(row.index)),
    "name": Column(
        "name", "Name", False, lambda row, m: row.head.name if len(row.nodes) == 1 else f"{row.head.name} (+{len(row.nodes) - 1})"
    ),
    "type": Column("type", "Type of Layer", False, lambda row, m: row.type),
    "layers": Column("layers", "Layers", False, lambda row, m: " + ".join(dict.fromkeys([node.op for node in row.nodes]))),
    "output": Column("output", "Output Dimension", True, lambda row, m: format_outputs(row.outputs)),
    "neurons": Column("neurons", "No. of Neurons", True, lambda row, m: format_count(row.neurons) if row.counted else "-"),
    "params": Column("params", "No. of Learned Parameters", True, lambda row, m: format_count(row.params)),
    "buffers": Column("buffers", "Buffers", True, lambda row, m: format_count(row.buffers)),
    "rf": Column("rf", "Receptive Field", True, _rf_cell),
    "jump": Column("jump", "Jump", True, _jump_cell),
    "macs": Column("MACs", "MACs", True, _macs_cell),
    "other_ops": Column("other ops", "Other Ops", True, _other_ops_cell),
    "activations": Column("activations", "Activation Memory", True, _activations_cell),
}
DEFAULT_COLUMNS = ("index", "name", "type", "layers", "output", "neurons", "params", "rf", "macs")
SEED_COLUMNS = ("index", "type", "output", "neurons", "params")  # the VGG19 table's layout


def parse_columns(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """`--columns`: a comma-separated list; a leading '+' adds to the default set."""
    if not text:
        return default
    extra = text.startswith("+")
    names = tuple(name.strip() for name in text.lstrip("+").split(",") if name.strip())
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}; choose from {', '.join(COLUMNS)}")
    return default + tuple(n for n in names if n not in default) if extra else names
