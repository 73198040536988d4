"""Reports of an analysis: a terminal table, the seed's markdown table, and JSON."""

from __future__ import annotations


def format_count(value: int) -> str:
    return f"{value:,}"


def format_dims(shape) -> str:
    """`64 × 224 × 224` for a feature map, `4,096` for a vector, as in the VGG19 table."""
    if shape is None:
        return "?"
    if len(shape) == 1:
        return format_count(shape[0])
    return " × ".join(str(d) for d in shape)


def format_outputs(outputs) -> str:
    return ", ".join(format_dims(shape) for shape in outputs) if outputs else "?"
