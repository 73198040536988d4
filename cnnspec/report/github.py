"""GitHub Actions workflow commands: one `::error` or `::warning` line per diagnostic, shown as
annotations on the pull request (https://docs.github.com/actions/reference/workflow-commands)."""

from __future__ import annotations

import os

from cnnspec.diagnostics import CODES


def repository_path(path: str) -> str:
    """The path relative to the working directory where it lies inside it, with forward slashes:
    how GitHub and SARIF name a file of the repository."""
    relative = os.path.relpath(path) if os.path.isabs(path) else os.path.normpath(path)
    chosen = relative if not relative.startswith(os.pardir) else path
    return chosen.replace(os.sep, "/")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(diagnostic, path: str) -> str:
    """`::error file=model.cnn,line=4,col=5,endLine=4,endColumn=14,title=E300 ...::message`."""
    properties = {"file": repository_path(path)}
    span = diagnostic.span
    if span is not None:
        # GitHub's columns are 1-based and its end column inclusive; a span's end is exclusive.
        properties.update(line=span.line, col=span.column, endLine=span.end_line, endColumn=max(span.column, span.end_column - 1))
    properties["title"] = f"{diagnostic.code} {CODES.get(diagnostic.code, '')}".strip()
    fields = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    notes = [f"note: {note.message}" + (f" (line {note.span.line})" if note.span else "") for note in diagnostic.notes]
    message = "\n".join([f"{diagnostic.code}: {diagnostic.message}", *notes])
    return f"::{diagnostic.severity.value} {fields}::{_escape_data(message)}"


def annotations(analysis) -> list[str]:
    return [annotation(diagnostic, analysis.source.path) for diagnostic in analysis.diagnostics]
