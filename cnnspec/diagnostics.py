"""Diagnostics: a stable code, a severity, a message, a place, and notes."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple

from cnnspec.source import Source, Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


# Every diagnostic code with a one-line summary. Codes are stable: never renumber.
CODES = {
    "E100": "syntax error",
    "E101": "file cannot be read",
    "E102": "nesting too deep",
    "E200": "unknown layer or block",
    "E201": "unknown argument",
    "E202": "wrong argument type or value",
    "E203": "wrong number of arguments",
    "E204": "undefined name",
    "E205": "redefinition",
    "E206": "recursive block",
    "E207": "invalid name",
    "E208": "no input declared",
    "E209": "no net to check / unknown net",
    "E210": "expression error",
    "E211": "repetition or expansion too large",
    "E212": "misplaced input declaration",
    "E213": "tensor name misused in a chain",
    "E214": "assertion failed (the file's own `assert`)",
    "E300": "output size below 1",
    "E301": "padding larger than half the kernel",
    "E302": "channels not divisible by groups",
    "E303": "mismatched shapes in add/mul",
    "E304": "mismatched spatial sizes in cat",
    "E305": "linear layer on a spatial tensor",
    "E306": "layer of the wrong dimensionality",
    "E307": "invalid shape for this layer",
    "E308": "in-place layer overwrites a tensor that is read later",
    "E309": "in-place layer modifies an output of chunk or split",
    "E310": "in-place layer overwrites a tensor kept for backward",
    "E311": "pooling window that sees only padding",
    "W400": "strided window drops border pixels",
    "W401": "output never used",
    "W402": "conv bias followed by batch norm",
    "W403": "merged paths with misaligned receptive fields (different jump or centre)",
    "W404": "the last spatial layer's receptive field does not cover the input",
    "W405": "suppression comment that silences nothing",
    "W406": "invalid suppression comment",
    "E500": "expectation failed (a contract on the net's totals)",
    "E501": "invalid expectation (unknown quantity or not a comparison)",
    "E502": "expectation outside a net",
}


class Note(NamedTuple):
    message: str
    span: Span | None = None


class Diagnostic(NamedTuple):
    code: str
    severity: Severity
    message: str
    span: Span | None
    notes: tuple[Note, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def position(diagnostic: Diagnostic) -> tuple[int, int]:
    """The sort key that lists diagnostics in file order (those without a place first)."""
    span = diagnostic.span
    return (span.line, span.column) if span else (0, 0)


def error(code: str, message: str, span: Span | None, notes=()) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, tuple(notes))


def warning(code: str, message: str, span: Span | None, notes=()) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, tuple(notes))


class CnnspecError(Exception):
    """Raised where analysis of one construct cannot go on, and by cnnspec.load for a file with
    errors: `diagnostics` lists them, `diagnostic` is the first; `message` replaces the first's message."""

    def __init__(self, diagnostic: Diagnostic, more: Sequence[Diagnostic] = (), message: str | None = None):
        super().__init__(diagnostic.message if message is None else message)
        self.diagnostic = diagnostic
        self.diagnostics: list[Diagnostic] = [diagnostic, *more]


TAB_WIDTH = 4
MAX_SHOWN = 120  # characters of a source line shown under a diagnostic


def _line_text(source: Source, line: int) -> str:
    """Line `line` (1-based) as the parser counts lines: only '\n' ends one."""
    lines = source.text.split("\n")
    return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""


def _display(text: str) -> tuple[str, list[int]]:
    """The line as shown (tabs expanded, control characters as spaces) and each character's
    starting display column, so that the caret lines up under wide characters and tabs too."""
    shown, starts = [], []
    width = 0
    for char in text:
        starts.append(width)
        if char == "\t":
            step = TAB_WIDTH - width % TAB_WIDTH
            shown.append(" " * step)
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            step = 1
            shown.append(" ")
        elif unicodedata.combining(char):
            step = 0
            shown.append(char)
        else:
            step = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
            shown.append(char)
        width += step
    starts.append(width)
    return "".join(shown), starts


def _caret_lines(source: Source, span: Span, highlight=None) -> list[str]:
    text = _line_text(source, span.line)
    column, end = span.column, span.end_column if span.end_line == span.line else len(text) + 1
    # A very long line is shown in part: from a little before the caret, at most MAX_SHOWN characters.
    first = max(0, min(column - 1 - 40, len(text) - MAX_SHOWN)) if len(text) > MAX_SHOWN else 0
    last = first + MAX_SHOWN
    window = ("..." if first else "") + text[first:last] + ("..." if last < len(text) else "")
    offset = first - (3 if first else 0)
    column, end = column - offset, min(end - offset, len(window) + 1)
    shown, starts = _display(window)
    gutter = f"{span.line:>5} | "

    def column_at(column: int) -> int:  # display column of a 1-based character column
        index = column - 1
        return starts[index] if index < len(starts) else starts[-1] + index - len(window)

    left = column_at(column)
    width = max(1, column_at(max(end, column)) - left)
    code = shown.rstrip()
    excerpt = (gutter + (highlight(code) if highlight and code else code)).rstrip()
    return [excerpt, " " * (len(gutter) + left) + "^" * width]


def render(diagnostic: Diagnostic, source: Source, highlight=None) -> str:
    """A compiler-style plain-text rendering: place, message, source line, caret, notes.

    `highlight` (text -> the same text with colour escapes) colours the source line shown.
    """
    span = diagnostic.span
    where = f"{source.path}:{span.line}:{span.column}" if span else source.path
    lines = [f"{where}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"]
    if span:
        lines += _caret_lines(source, span, highlight)
    for note in diagnostic.notes:
        place = f"{source.path}:{note.span.line}:{note.span.column}: " if note.span else ""
        lines.append(f"  = note: {place}{note.message}")
    return "\n".join(lines)
