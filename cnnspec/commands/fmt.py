"""`cnnspec fmt`: rewrite .cnn files in the canonical layout (cnnspec.format), or check that they are."""

from __future__ import annotations

import re
import sys

import click

from cnnspec.commands.common import Unreadable, cnn_files, print_diagnostics, read_file, report_internal_error
from cnnspec.diagnostics import CnnspecError

EXAMPLES_FMT = """
\b
Examples:
  cnnspec fmt model.cnn
  cnnspec fmt examples/                 # every *.cnn below the folder
  cnnspec fmt --check .                 # in CI or a pre-commit hook: exit 1 and a diff if any file would change
  cat model.cnn | cnnspec fmt -         # standard input to standard output
"""

STDIN = "-"


@click.command(epilog=EXAMPLES_FMT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.option("--check", is_flag=True, help="Change nothing; print a unified diff of what would change and exit 1 if any file would.")
@click.option("-q", "--quiet", is_flag=True, help="No 'reformatted PATH' lines and no summary; errors (and --check's diffs) still print.")
def fmt(paths, check, quiet):
    """Rewrite .cnn files in the canonical layout; comments are kept.

    Folders are searched for *.cnn files (hidden folders skipped); '-' formats standard
    input to standard output. A file with syntax errors is reported and left alone.
    Exit status: 0 done (or, with --check, nothing would change), 1 syntax errors or
    (with --check) a file would change, 2 usage error, 3 internal error.
    """
    files = cnn_files(paths)
    if not files:
        raise click.UsageError(f"no .cnn files in {', '.join(paths)}")
    outcomes = [_format_one(path, check, quiet) for path in files]
    if paths != (STDIN,) and not quiet:
        click.echo(_summary(outcomes, check), err=True)
    unsuccessful = "failed" in outcomes or (check and "changed" in outcomes)
    sys.exit(3 if "crashed" in outcomes else 1 if unsuccessful else 0)


def _summary(outcomes, check) -> str:
    """`2 files reformatted, 9 unchanged, 1 left alone (errors)`."""
    changed = outcomes.count("changed")
    failed = outcomes.count("failed") + outcomes.count("crashed")
    verb = "would be reformatted" if check else "reformatted"
    left = f", {failed} left alone (errors)" if failed else ""
    return f"{changed} file{'s' * (changed != 1)} {verb}, {outcomes.count('unchanged')} unchanged{left}"


def _format_one(path, check, quiet=False) -> str:
    """Format (or check) one file: 'changed', 'unchanged', 'failed' (not read, parsed or written) or 'crashed'."""
    from cnnspec.format import format_source

    try:
        source = _read(path)
    except Unreadable as exc:
        print_diagnostics(exc.analysis)
        return "failed"
    try:
        formatted = format_source(source)
    except CnnspecError as exc:
        _print_syntax_errors(source, exc)
        return "failed"
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: say so plainly, never a traceback
        report_internal_error(path, exc)
        return "crashed"
    changed = formatted != source.text
    if check:
        click.echo(unified_diff(source.text, formatted, source.path), nl=False)
    elif path == STDIN:
        click.echo(formatted, nl=False)
    elif changed:
        return _write(path, formatted, quiet)
    return "changed" if changed else "unchanged"


def _read(path):
    from cnnspec.source import Source

    return Source("<stdin>", sys.stdin.read()) if path == STDIN else read_file(path)


def _print_syntax_errors(source, exc):
    from cnnspec.analyze import Analysis

    analysis = Analysis(source)
    analysis.diagnostics.extend(getattr(exc, "diagnostics", None) or [exc.diagnostic])
    print_diagnostics(analysis)


def _write(path, text, quiet) -> str:
    from cnnspec.atomic import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        click.echo(f"{path}: cannot write: {exc.strerror}", err=True)
        return "failed"
    if not quiet:
        click.echo(f"reformatted {path}", err=True)
    return "changed"


def unified_diff(before: str, after: str, path: str) -> str:
    import difflib

    lines = difflib.unified_diff(_lines(before), _lines(after), f"{path}", f"{path} (formatted)")
    return "".join(lines)


def _lines(text: str) -> list[str]:
    """Lines ending in '\\n' (only), the last one marked as git does when the text does not end in one."""
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
