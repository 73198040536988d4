"""`cnnspec check`: every layer's sizes and counts, and the mistakes, for one or more files."""

from __future__ import annotations

import sys
from typing import NamedTuple

import click

from cnnspec.commands.common import analyze_file, parse_shape, print_diagnostics
from cnnspec.report.columns import COLUMNS as COLUMN_NAMES
from cnnspec.report.columns import DEFAULT_COLUMNS, SEED_COLUMNS, parse_columns

EXAMPLES_CHECK = """
\b
Examples:
  cnnspec check examples/vgg19.cnn
  cnnspec check model.cnn --input 3x256x256
  cnnspec check model.cnn --format markdown > table.md
  cnnspec check model.cnn --format json | jq .totals
  cnnspec check model.cnn --columns +jump,activations --batch 32 --dtype bfloat16
  cnnspec check model.cnn --sizes
  cnnspec check models/*.cnn --strict
"""


@click.command(epilog=EXAMPLES_CHECK)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--net", "net", metavar="NAME", help="The net to check, when a file defines several.")
@click.option("--input", "input_shape", metavar="CxHxW", callback=parse_shape, help="Override the declared input size, e.g. 3x256x256.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="How to print the result.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
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
def check(files, net, input_shape, output_format, strict, sizes, columns, dtype, batch, optimizer):
    """Compute every layer's output size, parameters and neurons; report mistakes.

    Results go to standard output, diagnostics to standard error. Exit status:
    0 clean (warnings allowed), 1 errors found (or warnings with --strict),
    2 usage error, 3 internal error (a bug in cnnspec).
    """
    try:
        chosen = parse_columns(columns, SEED_COLUMNS if output_format == "markdown" else DEFAULT_COLUMNS)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from None
    settings = Settings(output_format, chosen if columns else None, dtype, batch, optimizer)
    failed = crashed = False
    reports = []
    for path in files:
        try:
            analysis = analyze_file(path, net, input_shape)
        except Exception as exc:  # noqa: BLE001  a bug in cnnspec: say so plainly, never a traceback
            click.echo(f"{path}: internal error: {type(exc).__name__}: {exc} (this is a bug in cnnspec; please report it)", err=True)
            crashed = True
            continue
        print_diagnostics(analysis)
        failed |= bool(analysis.errors) or (strict and bool(analysis.warnings))
        clean = analysis.graph is not None and not analysis.errors
        axes = _input_sizes(analysis) if sizes and clean else None
        if output_format == "json":
            reports.append(_json_report(analysis, axes, settings))
        elif clean:
            _print_report(analysis, settings)
            if axes is not None:
                click.echo("\n".join(_sizes_lines(analysis, axes)))
    if reports:
        import json

        click.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    sys.exit(3 if crashed else 1 if failed else 0)


class Settings(NamedTuple):
    output_format: str
    columns: tuple[str, ...] | None  # None: the format's default columns
    dtype: str
    batch: int
    optimizer: str


def _report_parts(analysis, settings):
    """The folded rows, the totals and the per-node measures of a clean analysis."""
    from cnnspec.analysis.compute import totals as compute_totals
    from cnnspec.analysis.memory import memory
    from cnnspec.report.columns import Measures
    from cnnspec.rows import build_rows, totals

    graph = analysis.graph
    rows = build_rows(graph)
    measures = Measures(analysis.receptive, analysis.costs, memory(graph, settings.dtype, settings.batch, settings.optimizer))
    return rows, totals(graph, rows), measures, compute_totals(graph, analysis.costs)


def _json_report(analysis, axes, settings):
    from cnnspec.report.jsonreport import report_json

    if analysis.graph is None or analysis.errors:
        return report_json(analysis, [], {}, None, None)
    rows, totals, measures, compute = _report_parts(analysis, settings)
    report = report_json(analysis, rows, totals, measures, compute)
    if axes is not None:
        report["input_sizes"] = [axis.as_json() for axis in axes]
    return report


def _input_sizes(analysis):
    from cnnspec.analysis.sizes import input_sizes

    return input_sizes(analysis.graph)


def _sizes_lines(analysis, axes):
    from cnnspec.layers.base import axis_names

    if not axes:
        return ["input sizes: the input has no spatial axes"]
    lines = ["input sizes (each axis varied alone; the weights fixed by the declared input):"]
    for name, axis in zip(axis_names(len(axes)), axes):
        smallest = "none accepted" if axis.smallest is None else f"smallest accepted {axis.smallest}"
        lines.append(f"  {name}: declared {axis.declared}; {smallest}; no dropped pixels at {axis.description}")
    return lines


def _print_report(analysis, settings):
    rows, totals, measures, compute = _report_parts(analysis, settings)
    if settings.output_format == "markdown":
        from cnnspec.report.markdown import markdown_table

        click.echo(markdown_table(rows, totals, settings.columns or (), measures, compute), nl=False)
        return
    from cnnspec.report.table import plain_table, print_rich_table, totals_lines

    columns = settings.columns or DEFAULT_COLUMNS
    footer = totals_lines(totals, compute, measures.memory)
    if sys.stdout.isatty():
        print_rich_table(analysis, rows, columns, measures, footer)
    else:
        click.echo(plain_table(analysis, rows, columns, measures) + "\n".join(footer))
