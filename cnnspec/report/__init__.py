"""Reports of an analysis: a terminal table, the seed's markdown table, and JSON."""

from __future__ import annotations

from functools import lru_cache


def format_count(value: int) -> str:
    return f"{value:,}"


def format_dims(shape) -> str:
    """`64 × 224 × 224` for a feature map, `4,096` for a vector, as in the VGG19 table."""
    if shape is None:
        return "?"
    if len(shape) == 1:
        return format_count(shape[0])
    return " × ".join(str(d) for d in shape)


@lru_cache(maxsize=1024)  # large nets repeat a few shapes thousands of times
def format_outputs(outputs) -> str:
    return ", ".join(format_dims(shape) for shape in outputs) if outputs else "?"


def format_bytes(count: int) -> str:
    """1024-based and labelled: 548.05 MiB; beyond 10,000 TiB in powers of ten: 1.20e+21 B."""
    if count >= 10_000 * 1024**4:
        return f"{format_huge(count)} B"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_si(count: int) -> str:
    """Counts with M and G: 19.63 G, 300.77 M, 4,096; beyond 10,000 T in powers of ten: 3.62e+26."""
    if count >= 10_000 * 10**12:
        return format_huge(count)
    for factor, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M")):
        if count >= factor:
            return f"{count / factor:.2f} {unit}"
    return format_count(count)


def format_huge(count: int) -> str:
    """An integer of any size in scientific notation (a float would overflow past 1e308)."""
    from decimal import Decimal

    return f"{Decimal(count):.2e}"
