"""`cnnspec check`: every layer's sizes and counts, the contracts, and the mistakes, for files and directories."""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import click

from cnnspec.commands.common import analyze_file, cnn_files, parse_shape, print_diagnostics, report_internal_error
from cnnspec.report.columns import COLUMNS as COLUMN_NAMES
from cnnspec.report.columns import DEFAULT_COLUMNS, SEED_COLUMNS, parse_columns
from cnnspec.results import check_contracts, contract_lines, json_report, report_parts

EXAMPLES_CHECK = """
\b
Examples:
  cnnspec check examples/vgg19.cnn
  cnnspec check model.cnn --input 3x256x256
  cnnspec check model.cnn --format markdown > table.md
  cnnspec check model.cnn --format json | jq .totals
  cnnspec check model.cnn --columns +jump,activations --batch 32 --dtype bfloat16
  cnnspec check model.cnn --sizes
  cnnspec check models/ --quiet --strict
  cnnspec check models/ --format github          # annotations in GitHub Actions
  cnnspec check models/ --format sarif > cnnspec.sarif
"""

FORMATS = ["table", "markdown", "json", "github", "sarif"]


@click.command(epilog=EXAMPLES_CHECK)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--net", "net", metavar="NAME", help="The net to check, when a file defines several.")
@click.option("--input", "input_shape", metavar="CxHxW", callback=parse_shape, help="Override the declared input size, e.g. 3x256x256.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="How to print the result: a table, markdown, JSON, GitHub Actions annotations or SARIF 2.1.0.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option(
    "-q",
    "--quiet",
    count=True,
    help="One summary line per file instead of its report; twice (-qq): nothing but the diagnostics. Diagnostics still go to stderr.",
)
@click.option("--sizes", is_flag=True, help="Also report the input sizes the net accepts and those that drop no border pixels.")
@click.option(
    "--columns",
    metavar="LIST",
    help=f"Table columns, comma-separated, or '+rf,jump' to add to the default. Choose from: {', '.join(COLUMN_NAMES)}.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16", "float16"]),
    default="float32",
    show_default=True,
    help="Element type for memory figures.",
)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Batch size for memory figures.")
@click.option(
    "--optimizer",
    type=click.Choice(["sgd", "adam", "adamw"]),
    default="sgd",
    show_default=True,
    help="Optimizer whose state the training-step memory includes (sgd: with momentum).",
)
def check(paths, net, input_shape, output_format, strict, quiet, sizes, columns, dtype, batch, optimizer):
    """Compute every layer's output size, parameters and neurons; check the
    net's `expect` contracts; report mistakes.

    PATH is a .cnn file or a directory, searched recursively for *.cnn files.
    Results go to standard output, diagnostics to standard error. Exit status:
    0 clean (warnings allowed), 1 errors found in any file (or warnings with
    --strict), 2 usage error, 3 internal error (a bug in cnnspec).
    """
    try:
        chosen = parse_columns(columns, SEED_COLUMNS if output_format == "markdown" else DEFAULT_COLUMNS)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from None
    files = cnn_files(paths)
    if not files:
        raise click.UsageError(f"no .cnn files in {', '.join(paths)}")
    settings = Settings(output_format, chosen if columns else None, dtype, batch, optimizer, sizes, quiet)
    several = len(files) > 1
    checked = []
    for path in files:
        result = _check_file(path, net, input_shape, settings)
        checked.append(result)
        if output_format in ("table", "markdown"):
            _print_human(result, settings, several)
        elif result.analysis is not None:
            print_diagnostics(result.analysis)
    _print_machine(checked, settings, several or any(os.path.isdir(p) for p in paths))
    failed = any(r.analysis is not None and (r.analysis.errors or (strict and r.analysis.warnings)) for r in checked)
    sys.exit(3 if any(r.crash is not None for r in checked) else 1 if failed else 0)


class Settings(NamedTuple):
    output_format: str
    columns: tuple[str, ...] | None  # None: the format's default columns
    dtype: str
    batch: int
    optimizer: str
    sizes: bool
    quiet: int  # 1: a summary line per file; 2: diagnostics only


class Checked(NamedTuple):
    """One file: its analysis (None after a crash), report parts and contract outcomes when its graph is clean."""

    path: str
    analysis: object
    parts: tuple | None = None  # rows, totals, measures, compute
    outcomes: tuple | None = ()  # None: not checked (--input)
    axes: list | None = None
    crash: Exception | None = None


def _check_file(path, net, input_shape, settings) -> Checked:
    try:
        analysis = analyze_file(path, net, input_shape)
        if analysis.graph is None or analysis.errors:
            return Checked(path, analysis)
        parts = report_parts(analysis, settings.dtype, settings.batch, settings.optimizer)
        # The expectations describe the net at its declared input; --input explores other sizes,
        # so with it only the mistakes in the expectations themselves are reported.
        outcomes = check_contracts(analysis, parts, compare=input_shape is None)
        axes = _input_sizes(analysis) if settings.sizes else None
        return Checked(path, analysis, parts, outcomes, axes)
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: say so plainly, never a traceback
        return Checked(path, None, crash=exc)


# ---- human formats: table and markdown ---------------------------------------------------


def _print_human(result: Checked, settings, several: bool) -> None:
    if result.crash:
        report_internal_error(result.path, result.crash)
        return
    print_diagnostics(result.analysis, summary=settings.quiet != 1)
    if settings.quiet:
        if settings.quiet == 1:
            click.echo(summary_line(result))
        return
    if result.parts is None:
        return
    if several:
        click.echo(f"\n### {result.path}\n" if settings.output_format == "markdown" else f"\n==> {result.path} <==")
    _print_report(result, settings)
    if result.axes is not None:
        click.echo("\n".join(_sizes_lines(result.axes)))


def summary_line(result: Checked) -> str:
    """`path: ok, 143,667,240 params` or `path: 2 errors, 1 warning`."""
    analysis = result.analysis
    errors, warnings = len(analysis.errors), len(analysis.warnings)
    counted = f"{warnings} warning{'s' * (warnings != 1)}"
    if errors or result.parts is None:
        return f"{result.path}: {errors} error{'s' * (errors != 1)}, {counted}"
    params = result.parts[1]["params"]
    met = len(result.outcomes or ())
    passed = f", {met} expectation{'s' * (met != 1)} met" if met else ""
    return f"{result.path}: ok, {params:,} params{passed}" + (f", {counted}" if warnings else "")


def _sizes_lines(axes):
    from cnnspec.layers.base import axis_names

    if not axes:
        return ["input sizes: the input has no spatial axes"]
    lines = ["input sizes (each axis varied alone; the weights fixed by the declared input):"]
    for name, axis in zip(axis_names(len(axes)), axes):
        smallest = "none accepted" if axis.smallest is None else f"smallest accepted {axis.smallest}"
        lines.append(f"  {name}: declared {axis.declared}; {smallest}; no dropped pixels at {axis.description}")
    return lines


def _input_sizes(analysis):
    from cnnspec.analysis.sizes import input_sizes

    return input_sizes(analysis.graph)


def _print_report(result: Checked, settings):
    analysis = result.analysis
    rows, totals, measures, compute = result.parts
    if settings.output_format == "markdown":
        from cnnspec.report.markdown import markdown_table

        click.echo(markdown_table(rows, totals, settings.columns or (), measures, compute), nl=False)
        return
    from cnnspec.report.table import plain_table, print_rich_table, totals_lines

    columns = settings.columns or DEFAULT_COLUMNS
    footer = totals_lines(totals, compute, measures.memory) + contract_lines(analysis.graph, result.outcomes)
    if sys.stdout.isatty():
        print_rich_table(analysis, rows, columns, measures, footer)
    else:
        click.echo(plain_table(analysis, rows, columns, measures) + "\n".join(footer))


# ---- machine formats: json, github, sarif ------------------------------------------------


def _print_machine(checked: list[Checked], settings, as_list: bool) -> None:
    analyses = [r.analysis for r in checked if r.analysis is not None]
    if settings.output_format == "json":
        import json

        reports = [json_report(r.analysis, r.parts, r.outcomes, r.axes) for r in checked if r.analysis is not None]
        if reports:
            click.echo(json.dumps(reports if as_list else reports[0], indent=2, allow_nan=False))
    elif settings.output_format == "github":
        from cnnspec.report.github import annotations

        for analysis in analyses:
            for line in annotations(analysis):
                click.echo(line)
    elif settings.output_format == "sarif":
        import json

        from cnnspec.report.sarif import sarif_log

        click.echo(json.dumps(sarif_log(analyses), indent=2, allow_nan=False))
    for result in checked:
        if result.crash and settings.output_format not in ("table", "markdown"):
            report_internal_error(result.path, result.crash)
