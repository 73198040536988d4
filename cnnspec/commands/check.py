"""`cnnspec check`: every layer's sizes and counts, the contracts, and the mistakes, for files and directories."""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import click

from cnnspec.commands.common import (
    analyze_each_net,
    analyze_file,
    cnn_files,
    label,
    parse_shape,
    print_diagnostics,
    report_internal_error,
    set_option,
)
from cnnspec.diagnostics import CODES
from cnnspec.report.columns import COLUMNS as COLUMN_NAMES
from cnnspec.report.columns import DEFAULT_COLUMNS, SEED_COLUMNS, parse_columns
from cnnspec.results import check_contracts, contract_lines, report_parts

EXAMPLES_CHECK = """
\b
Examples:
  cnnspec check examples/vgg19.cnn
  cnnspec check model.cnn --input 3x256x256
  cnnspec check model.cnn --format markdown > table.md
  cnnspec check model.cnn --format json | jq .totals
  cnnspec check model.cnn --columns +jump,activations --batch 32 --dtype bfloat16
  cnnspec check model.cnn --sizes
  cnnspec check resnet.cnn --net resnet34 --set classes=10
  cnnspec check models/ --strict --ignore W404     # W404 accepted everywhere
  cnnspec check models/ --quiet --strict
  cnnspec check models/ --format github          # annotations in GitHub Actions
  cnnspec check models/ --format sarif > cnnspec.sarif
  cnnspec check models/ --jobs 4 --quiet          # four files at once
"""

FORMATS = ["table", "markdown", "json", "github", "sarif"]


@click.command(epilog=EXAMPLES_CHECK)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--net", "net", metavar="NAME", help="Check only this net of a file that defines several (without it: each of them).")
@click.option("--input", "input_shape", metavar="CxHxW", callback=parse_shape, help="Override the declared input size, e.g. 3x256x256.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="How to print the result: a table, markdown, JSON, GitHub Actions annotations or SARIF 2.1.0.",
)
@set_option
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option(
    "--ignore",
    "ignored",
    metavar="CODE",
    multiple=True,
    callback=lambda ctx, param, values: parse_ignored(values),
    help="Leave out the warnings of this code (W404, or W402,W404); repeatable. One line: `# cnnspec: ignore[W404]`.",
)
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
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Files checked at once, each in its own process (default: one per core). Output is in argument order, as with --jobs 1.",
)
def check(paths, net, input_shape, params, output_format, strict, ignored, quiet, sizes, columns, dtype, batch, optimizer, jobs):
    """Compute every layer's output size, parameters and neurons; check the
    net's `expect` contracts; report mistakes.

    PATH is a .cnn file or a directory, searched recursively for *.cnn files.
    A file that defines several nets gets a report per net, in file order
    (--net: that one only). --set changes net parameters; the contracts are
    still checked (write those that depend on one in its terms: `expect
    output == classes`); --input overrides the input and leaves them unchecked.
    Results go to standard output, diagnostics to standard error. Exit status:
    0 clean (warnings allowed), 1 errors found in any net (or warnings with
    --strict), 2 usage error, 3 internal error (a bug in cnnspec).
    """
    try:
        chosen = parse_columns(columns, SEED_COLUMNS if output_format == "markdown" else DEFAULT_COLUMNS)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from None
    files = cnn_files(paths)
    if not files:
        raise click.UsageError(f"no .cnn files in {', '.join(paths)}")
    settings = Settings(output_format, chosen if columns else None, dtype, batch, optimizer, sizes, quiet, ignored)
    options = Options(net, input_shape, params)
    jobs = min(jobs or _cores(), len(files))
    if jobs > 1 and not (sys.stdout.isatty() or sys.stderr.isatty()):
        checked = _check_in_parallel(files, options, settings, jobs)
    else:
        checked = [result for path in files for result in _check_and_print(path, options, settings, len(files) > 1)]
    _print_machine(checked, settings, len(checked) > 1 or any(os.path.isdir(p) for p in paths))
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
    ignored: frozenset  # warning codes left out (--ignore)


class Options(NamedTuple):
    """What chooses and changes the net analysed: --net, --input, --set."""

    net: str | None
    input_shape: tuple | None
    params: dict


def parse_ignored(values) -> frozenset:
    """`--ignore W404 --ignore W400,W402`: the warning codes; an unknown or error code is a usage error."""
    from cnnspec.expressions import suggest

    codes = set()
    for code in (c.strip().upper() for value in values for c in value.split(",") if c.strip()):
        if code not in CODES:
            warnings = [known for known in CODES if known.startswith("W")]
            raise click.BadParameter(f"no diagnostic code {code!r}{suggest(code, warnings)}", param_hint="--ignore")
        if not code.startswith("W"):
            raise click.BadParameter(f"{code} is an error ({CODES[code]}); only warnings can be ignored", param_hint="--ignore")
        codes.add(code)
    return frozenset(codes)


class Checked(NamedTuple):
    """One net: its analysis (None after a crash), report parts and contract outcomes when its graph is clean."""

    path: str
    analysis: object
    parts: tuple | None = None  # rows, totals, measures, compute
    outcomes: tuple | None = ()  # None: not checked (--input)
    axes: list | None = None
    crash: Exception | None = None
    json_text: str | None = None  # from a worker process: the JSON report, as an item of the list of reports


def _check_and_print(path, options: Options, settings, several_files: bool) -> list[Checked]:
    """Check one file's nets and print what is printed per net: its diagnostics, and in the human formats its report."""
    results = _check_file(path, options, settings)
    for result in results:
        if settings.output_format in ("table", "markdown"):
            _print_human(result, settings, several_files or len(results) > 1)
        elif result.analysis is not None:
            print_diagnostics(result.analysis)
    return results


# ---- several files at once: --jobs ------------------------------------------------------


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_in_parallel(files, options: Options, settings, jobs: int) -> list[Checked]:
    """Each file checked in a worker process; what each prints is written here, in argument
    order, as each file's turn comes. Not on a terminal (where colours and the table's width
    depend on it): there, files are checked one after another."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    checked = []
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(_check_in_worker, path, options, settings) for path in files]
        for path, future in zip(files, futures):
            try:
                results, out, err = future.result()
            except Exception as exc:  # noqa: BLE001  the worker died (killed, out of memory): that file's internal error
                results, out, err = [Checked(path, None, crash=exc)], "", ""
                if settings.output_format in ("table", "markdown"):
                    report_internal_error(path, exc)
            click.echo(err, nl=False, err=True)
            click.echo(out, nl=False)
            checked += results
    return checked


def _check_in_worker(path, options: Options, settings) -> tuple[list[Checked], str, str]:
    """In a worker: the file checked and printed into buffers; its results without the graphs,
    which stay here (the diagnostics and source travel back, and the JSON reports as text)."""
    import io

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        results = _check_and_print(path, options, settings, several_files=True)
        light = [_light(result, settings) for result in results]
    finally:
        sys.stdout, sys.stderr = saved
    return light, out.getvalue(), err.getvalue()


def _light(result: Checked, settings) -> Checked:
    """What travels back from a worker: diagnostics, source and the JSON report's text."""
    from cnnspec.analyze import Analysis

    json_text = None
    if settings.output_format == "json" and result.analysis is not None:
        from cnnspec.report.jsonstream import write_json

        pieces: list[str] = []
        write_json(_json_report(result), pieces.append, depth=2, pad="  ")
        json_text = "".join(pieces)
    light = None
    if result.analysis is not None:
        light = Analysis(result.analysis.source)
        light.diagnostics, light.nets = result.analysis.diagnostics, result.analysis.nets
    crash = _picklable(result.crash) if result.crash is not None else None
    return Checked(result.path, light, crash=crash, json_text=json_text)


def _picklable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001  an exception that cannot travel: its type's name and message, as text
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _check_file(path, options: Options, settings) -> list[Checked]:
    """Each net of the file (or the one chosen), checked."""
    try:
        if options.net is None:
            analyses = analyze_each_net(path, options.input_shape, options.params)
        else:
            analyses = [analyze_file(path, options.net, options.input_shape, options.params)]
        return [_check_net(path, analysis, options, settings) for analysis in analyses]
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: say so plainly, never a traceback
        return [Checked(path, None, crash=exc)]


def _check_net(path, analysis, options: Options, settings) -> Checked:
    if settings.ignored:
        analysis.diagnostics = [d for d in analysis.diagnostics if d.code not in settings.ignored]
    if analysis.graph is None or analysis.errors:
        return Checked(path, analysis)
    parts = _report_parts(analysis, settings)
    # The expectations describe the net at its declared input; --input explores other sizes,
    # so with it only the mistakes in the expectations themselves are reported. The net's
    # parameters are part of its declaration: with --set the expectations are still checked.
    outcomes = check_contracts(analysis, parts, compare=options.input_shape is None)
    axes = _input_sizes(analysis) if settings.sizes else None
    return Checked(path, analysis, parts, outcomes, axes)


def _report_parts(analysis, settings):
    """The folded rows, the totals and the per-node measures of a clean analysis."""
    return report_parts(analysis, settings.dtype, settings.batch, settings.optimizer)


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
        name = label(result.analysis)
        click.echo(f"\n### {name}\n" if settings.output_format == "markdown" else f"\n==> {name} <==")
    _print_report(result, settings)
    if result.axes is not None:
        click.echo("\n".join(_sizes_lines(result.axes)))


def summary_line(result: Checked) -> str:
    """`path: ok, 143,667,240 params` or `path: 2 errors, 1 warning` (`path (net N): ...` where the file has several)."""
    analysis = result.analysis
    errors, warnings = len(analysis.errors), len(analysis.warnings)
    counted = f"{warnings} warning{'s' * (warnings != 1)}"
    if errors or result.parts is None:
        return f"{label(analysis)}: {errors} error{'s' * (errors != 1)}, {counted}"
    params = result.parts[1]["params"]
    met = len(result.outcomes or ())
    passed = f", {met} expectation{'s' * (met != 1)} met" if met else ""
    return f"{label(analysis)}: ok, {params:,} params{passed}" + (f", {counted}" if warnings else "")


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
        texts = [r.json_text for r in checked if r.json_text is not None]
        reports = [_json_report(r) for r in checked if r.analysis is not None and r.json_text is None]
        if texts:  # from worker processes (several files: a list)
            click.echo("[\n  " + ",\n  ".join(texts) + "\n]")
        elif reports:
            _echo_json(reports, depth=3) if as_list else _echo_json(reports[0], depth=2)  # down to each node
    elif settings.output_format == "github":
        from cnnspec.report.github import annotations

        for analysis in analyses:
            for line in annotations(analysis):
                click.echo(line)
    elif settings.output_format == "sarif":
        from cnnspec.report.sarif import sarif_log

        _echo_json(sarif_log(analyses), depth=4)  # down to each result
    for result in checked:
        if result.crash and settings.output_format not in ("table", "markdown"):
            report_internal_error(result.path, result.crash)


def _echo_json(value, depth: int) -> None:
    """json.dumps(value, indent=2) and a newline on standard output, streamed to `depth` (cnnspec.report.jsonstream)."""
    from cnnspec.report.jsonstream import write_json

    write_json(value, lambda text: click.echo(text, nl=False), depth)
    click.echo()


def _json_report(result: Checked, lazy: bool = True) -> dict:
    """The JSON report; `lazy`: its nodes made as they are written (cnnspec.report.jsonstream)."""
    from cnnspec.report.jsonreport import report_json

    if result.parts is None:
        report = report_json(result.analysis, [], {}, None, None, lazy=lazy)
    else:
        rows, totals, measures, compute = result.parts
        report = report_json(result.analysis, rows, totals, measures, compute, lazy=lazy)
    if result.axes is not None:
        report["input_sizes"] = [axis.as_json() for axis in result.axes]
    report["contracts"] = [outcome.to_json() for outcome in result.outcomes or ()]
    return report
