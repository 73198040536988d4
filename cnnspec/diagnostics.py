"""Diagnostics: a stable code, a severity, a message, a place, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

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
    "E300": "output size below 1",
    "E301": "padding larger than half the kernel",
    "E302": "channels not divisible by groups",
    "E303": "mismatched shapes in add/mul",
    "E304": "mismatched spatial sizes in cat",
    "E305": "linear layer on a spatial tensor",
    "E306": "layer of the wrong dimensionality",
    "E307": "invalid shape for this layer",
    "W400": "strided window drops border pixels",
    "W401": "output never used",
    "W402": "conv bias followed by batch norm",
}


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None
    notes: tuple[Note, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, span: Span | None, notes=()) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, tuple(notes))


def warning(code: str, message: str, span: Span | None, notes=()) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, tuple(notes))


class CnnspecError(Exception):
    """Raised where analysis of one construct cannot go on; carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _caret_lines(source: Source, span: Span) -> list[str]:
    text = source.line_text(span.line).expandtabs(1)
    gutter = f"{span.line:>5} | "
    end = span.end_column if span.end_line == span.line else len(text) + 1
    width = max(1, end - span.column)
    return [gutter + text, " " * (len(gutter) + span.column - 1) + "^" * width]


def render(diagnostic: Diagnostic, source: Source) -> str:
    """A compiler-style plain-text rendering: place, message, source line, caret, notes."""
    span = diagnostic.span
    where = f"{source.path}:{span.line}:{span.column}" if span else source.path
    lines = [f"{where}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"]
    if span:
        lines += _caret_lines(source, span)
    for note in diagnostic.notes:
        place = f"{source.path}:{note.span.line}:{note.span.column}: " if note.span else ""
        lines.append(f"  = note: {place}{note.message}")
    return "\n".join(lines)
