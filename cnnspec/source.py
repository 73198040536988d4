"""Source text and positions within it."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A region of a source file; lines and columns are 1-based, end_column exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, meta) -> Span:
        """The span of a Lark tree's meta or of a Lark token."""
        return cls(meta.line, meta.column, meta.end_line, meta.end_column)


class Source(NamedTuple):
    path: str
    text: str


def read_source(path: str) -> Source:
    """Read a .cnn file as UTF-8 (a BOM is accepted). Raises OSError or UnicodeDecodeError."""
    with open(path, "rb") as handle:
        data = handle.read()
    return Source(path, data.decode("utf-8-sig"))
