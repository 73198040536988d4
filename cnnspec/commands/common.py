"""What every command shares: reading and analysing a file, printing its diagnostics."""

from __future__ import annotations

import os
import sys

import click

from cnnspec.diagnostics import error, render
from cnnspec.source import Span


def parse_shape(ctx, param, value):
    if value is None:
        return None
    parts = value.lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(part) for part in parts)
    except ValueError:
        raise click.BadParameter(f"expected sizes like 3x224x224, got {value!r}") from None
    if not 1 <= len(dims) <= 4 or min(dims) < 1:
        raise click.BadParameter(f"expected 1 to 4 positive sizes like 3x224x224, got {value!r}")
    return dims


def analyze_file(path, net, input_shape):
    from cnnspec.analyze import analyze
    from cnnspec.source import read_source

    try:
        source = read_source(path)
    except OSError as exc:
        return _unreadable(path, f"cannot read the file: {exc.strerror}", None, "")
    except UnicodeDecodeError as exc:
        data = exc.object
        line = data[: exc.start].count(b"\n") + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        message = f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line})"
        return _unreadable(path, message, Span(line, column, line, column + 1), data.decode("utf-8", "replace"))
    return analyze(source, net, input_shape)


def _unreadable(path, message, span, text):
    from cnnspec.analyze import Analysis
    from cnnspec.source import Source

    analysis = Analysis(Source(path, text))
    analysis.diagnostics.append(error("E101", message, span))
    return analysis


def print_diagnostics(analysis):
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    for diagnostic in analysis.diagnostics:
        text = render(diagnostic, analysis.source)
        if color:
            word = f"{diagnostic.severity.value}[{diagnostic.code}]"
            shade = "red" if diagnostic.is_error else "yellow"
            text = text.replace(word, click.style(word, fg=shade, bold=True), 1)
        click.echo(text, err=True)
    if analysis.diagnostics:
        errors, warnings = len(analysis.errors), len(analysis.warnings)
        click.echo(f"{analysis.source.path}: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}", err=True)
