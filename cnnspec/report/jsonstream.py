"""`json.dumps(value, indent=2, allow_nan=False)`, written in pieces and several times faster.

With an indent, the json module encodes in pure Python, a generator per value: the report of a
100,000-layer net took 5x as long as its analysis and held the report, its list of pieces and
the text at once (1.2 GB). Here each value is one string built by joins, and the writing is
streamed: the items of the outer containers (a report's nodes) are written as they are made,
and an iterator in them (a generator, `map`) is written as a list, one item at a time, so a
report need never be held whole. The text is the json module's, byte for byte;
any value this module does not know is left to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii

BUFFER = 1 << 16  # characters gathered before each write


def write_json(value, write, depth: int = 1, pad: str = "") -> None:
    """Write json.dumps(value, indent=2, allow_nan=False) through `write`, in pieces: the
    containers down to `depth` levels (1: the value's own items) item by item, the rest whole;
    every line after the first indented by `pad` (the value nested at that indentation)."""
    pieces: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        pieces.append(text)
        size += len(text)
        if size >= BUFFER:
            write("".join(pieces))
            pieces.clear()
            size = 0

    _stream(value, pad, depth, emit)
    write("".join(pieces))


_SCALARS = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def dumps(value, pad: str = "") -> str:
    """json.dumps(value, indent=2, allow_nan=False) as one string, every line after the first
    indented by `pad` (the value nested at that indentation)."""
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return scalar(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    inner = pad + "  "
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        items = [scalar(item) if (scalar := _SCALARS.get(type(item))) else dumps(item, inner) for item in value]
        return f"[\n{inner}" + f",\n{inner}".join(items) + f"\n{pad}]"
    if kind is dict and all(type(key) is str for key in value):
        if not value:
            return "{}"
        items = [
            f"{encode_basestring_ascii(key)}: {scalar(item) if (scalar := _SCALARS.get(type(item))) else dumps(item, inner)}"
            for key, item in value.items()
        ]
        return f"{{\n{inner}" + f",\n{inner}".join(items) + f"\n{pad}}}"
    return json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n" + pad)


def _stream(value, pad: str, depth: int, emit) -> None:
    kind = type(value)
    if depth == 0 or not (kind is dict or kind is list or kind is tuple or isinstance(value, Iterator)):
        emit(dumps(value, pad))
        return
    inner = pad + "  "
    if kind is dict:
        if not value or not all(type(key) is str for key in value):
            emit(dumps(value, pad))
            return
        opening = "{"
        for key, item in value.items():
            emit(f"{opening}\n{inner}{encode_basestring_ascii(key)}: ")
            _stream(item, inner, depth - 1, emit)
            opening = ","
        emit(f"\n{pad}}}")
        return
    opening = "["  # a list, a tuple or an iterator, written as a list
    for item in value:
        emit(f"{opening}\n{inner}")
        _stream(item, inner, depth - 1, emit)
        opening = ","
    emit("[]" if opening == "[" else f"\n{pad}]")
