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


def parse_settings(ctx, param, values) -> dict:
    """`--set NAME=VALUE`, repeatable: {name: value}, each VALUE read as a .cnn constant
    expression by cnnspec's own parser and evaluator; a name set twice takes its last value."""
    from cnnspec.diagnostics import CnnspecError
    from cnnspec.expressions import evaluate
    from cnnspec.fastparse import parse_expression

    settings = {}
    for item in values:
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise click.BadParameter(f"expected NAME=VALUE, e.g. classes=10, got {item!r}")
        expr = parse_expression(text.strip())
        if expr is None:
            raise click.BadParameter(
                f"{name}={text}: not a value; write a number (10, 5M, 0.5), a 'string', true, false, none or a tuple (3, 3)"
            )
        try:
            settings[name] = evaluate(expr, {})
        except (CnnspecError, RecursionError) as exc:
            problem = exc.diagnostic.message if isinstance(exc, CnnspecError) else "nested too deeply"
            raise click.BadParameter(f"{name}={text}: {problem}") from None
    return settings


set_option = click.option(
    "--set",
    "params",
    metavar="NAME=VALUE",
    multiple=True,
    callback=parse_settings,
    help="Give the net parameter NAME this value instead of its default (10, 5M, 0.5, 'text', true, (3, 3)); repeatable.",
)


def analyze_file(path, net, input_shape, params=None):
    """The analysis of the file's net: its only one, or `net`."""
    from cnnspec.analyze import analyze

    try:
        source = read_file(path)
    except Unreadable as exc:
        return exc.analysis
    return analyze(source, net, input_shape, params)


def analyze_each_net(path, input_shape, params=None) -> list:
    """An analysis per net of the file, in file order (cnnspec.analyze.analyze_nets)."""
    from cnnspec.analyze import analyze_nets

    try:
        source = read_file(path)
    except Unreadable as exc:
        return [exc.analysis]
    return analyze_nets(source, input_shape, params)


class Unreadable(Exception):
    """A file that cannot be read as UTF-8 text; `analysis` holds its E101 diagnostic."""

    def __init__(self, analysis):
        super().__init__(analysis.diagnostics[0].message)
        self.analysis = analysis


def read_file(path):
    """The file's Source. Raises Unreadable."""
    from cnnspec.source import read_source

    try:
        return read_source(path)
    except OSError as exc:
        raise Unreadable(_unreadable(path, f"cannot read the file: {exc.strerror}", None, "")) from None
    except UnicodeDecodeError as exc:
        raise undecodable(path, exc) from None


def undecodable(path, exc: UnicodeDecodeError) -> Unreadable:
    """A file that is not UTF-8: its E101 diagnostic points at the first bad byte."""
    data = exc.object
    line = data[: exc.start].count(b"\n") + 1
    column = len(data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
    message = f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line})"
    return Unreadable(_unreadable(path, message, Span(line, column, line, column + 1), data.decode("utf-8", "replace")))


def _unreadable(path, message, span, text):
    from cnnspec.analyze import Analysis
    from cnnspec.source import Source

    analysis = Analysis(Source(path, text))
    analysis.diagnostics.append(error("E101", message, span))
    return analysis


def cnn_files(paths) -> list[str]:
    """The files named, and the *.cnn files under the directories named (sorted, hidden
    directories skipped), each once (however spelt: by its real path), in order, as first spelt."""
    found: dict[str, str] = {}  # real path -> the path as first named
    for path in paths:
        if not os.path.isdir(path):
            found.setdefault(_real(path), path)
            continue
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                if name.endswith(".cnn"):
                    file = os.path.join(folder, name)
                    found.setdefault(_real(file), file)
    return list(found.values())


def _real(path: str) -> str:
    return path if path == "-" else os.path.realpath(path)  # '-': standard input, never a file


def emit(text: str, output=None, marker: str = "", force: bool = False, quiet: bool = False) -> None:
    """`text` to standard output, or written atomically to the file `output` (exit 1 if it
    cannot be). `text` starts with the generated-by `marker` line; an existing file that does
    not is someone else's: refused (exit 1) unless `force`. `quiet`: no "wrote PATH" line."""
    if output is None:
        click.echo(text, nl=False)
        return
    if not force and foreign_file(output, marker):
        click.echo(f"{output}: exists and was not generated by cnnspec; use --force to overwrite it", err=True)
        sys.exit(1)
    from cnnspec.atomic import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        click.echo(f"{output}: cannot write: {exc.strerror}", err=True)
        sys.exit(1)
    if not quiet:
        click.echo(f"wrote {output}", err=True)


def foreign_file(path: str, marker: str) -> bool:
    """An existing file whose first line is not cnnspec's generated-file `marker`."""
    if not os.path.lexists(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return not marker or stream.readline().rstrip("\r\n") != marker
    except OSError:
        return True


def report_internal_error(path, exc):
    """A bug in cnnspec: say so plainly in one line, never a traceback."""
    click.echo(f"{path}: internal error: {type(exc).__name__}: {exc} (this is a bug in cnnspec; please report it)", err=True)


def label(analysis) -> str:
    """The file's path, and the net's name where the file defines several."""
    net = analysis.graph.net if analysis.graph is not None and len(analysis.nets) > 1 else None
    return f"{analysis.source.path} (net {net})" if net else analysis.source.path


def print_diagnostics(analysis, summary=True):
    """Each diagnostic on stderr, then (with `summary`) the file's error and warning counts."""
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    highlight = None
    if color:  # pygments is imported only to colour
        from cnnspec.lexer import highlight_terminal as highlight
    for diagnostic in analysis.diagnostics:
        text = render(diagnostic, analysis.source, highlight)
        if color:
            word = f"{diagnostic.severity.value}[{diagnostic.code}]"
            shade = "red" if diagnostic.is_error else "yellow"
            text = text.replace(word, click.style(word, fg=shade, bold=True), 1)
        click.echo(text, err=True)
    if analysis.diagnostics and summary:
        errors, warnings = len(analysis.errors), len(analysis.warnings)
        click.echo(f"{label(analysis)}: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}", err=True)
