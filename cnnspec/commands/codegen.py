"""`cnnspec codegen` (a .cnn file -> PyTorch nn.Module source) and `cnnspec verify`."""

from __future__ import annotations

import sys

import click

from cnnspec.commands.common import analyze_file, emit, parse_shape, print_diagnostics, report_internal_error, set_option

EXAMPLES_CODEGEN = """
\b
Examples:
  cnnspec codegen examples/resnet18.cnn
  cnnspec codegen examples/resnet18.cnn -o resnet18.py
  cnnspec codegen models.cnn --net Small -o small.py --force
  cnnspec codegen model.cnn --train -o train.py
  cnnspec codegen examples/resnet18.cnn --set classes=10 -o resnet18_10.py
"""

EXAMPLES_VERIFY = """
\b
Examples:
  cnnspec verify examples/resnet50.cnn
  cnnspec verify examples/resnet50.cnn --input 3x64x64      # a quicker numeric check
  cnnspec verify models.cnn --net Small --no-numeric
  cnnspec verify examples/unet.cnn --set base=16
"""


@click.command(epilog=EXAMPLES_CODEGEN)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", metavar="PATH", help="Write the Python file here (atomically) instead of to standard output.")
@click.option("--net", "net", metavar="NAME", help="The net to generate, when the file defines several.")
@click.option("--input", "input_shape", metavar="CxHxW", callback=parse_shape, help="Override the declared input size.")
@set_option
@click.option("--force", is_flag=True, help="Overwrite an output file that cnnspec did not generate.")
@click.option("--train", is_flag=True, help="Write the module plus a training script (cnnspec.codegen.train).")
@click.option("-q", "--quiet", is_flag=True, help="No 'wrote PATH' line; diagnostics still go to stderr.")
def codegen(file, output, net, input_shape, params, force, train, quiet):
    """Write a self-contained PyTorch file: an nn.Module class per net and module.

    Attributes are named after the .cnn file's layer names, so state_dict keys match the
    paths `cnnspec check` shows. build_model(**params) takes the net's parameters, with
    the file's defaults (or the --set values); see docs/cli.md for which values it accepts.
    Nothing is written when the file has errors. Exit status: 0 written, 1 errors (or an
    existing file in the way), 2 usage error, 3 internal error.
    """
    from cnnspec.codegen.module import MARKER

    analysis = clean_analysis(file, net, input_shape, params)
    emit(generated_text(analysis, file, train), output, MARKER, force, quiet)


@click.command(epilog=EXAMPLES_VERIFY)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--net", "net", metavar="NAME", help="The net to verify, when the file defines several.")
@click.option(
    "--input",
    "input_shape",
    metavar="CxHxW",
    callback=parse_shape,
    help="Override the declared input size (a smaller one keeps the numeric check quick).",
)
@set_option
@click.option("--no-numeric", is_flag=True, help="Compare shapes, counts and FLOPs only, not what the module computes.")
def verify(file, net, input_shape, params, no_numeric):
    """Cross-check the generated PyTorch module against cnnspec's analysis (needs torch).

    Builds the generated module on the meta device, runs it once at batch 2 and compares
    every node's output shape, the parameter and buffer counts and the FLOPs (2 x MACs).
    Then runs it on the CPU in float64 on a random batch of 2, in train and eval mode,
    forward and backward, against the layer graph evaluated directly with
    torch.nn.functional: outputs, input and parameter gradients and buffers must agree; a
    difference names the first node where they part. Exit status: 0 all equal, 1 a
    disagreement or errors in the file, 2 torch missing.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        click.echo("cnnspec verify needs PyTorch: pip install torch", err=True)
        sys.exit(2)
    analysis = clean_analysis(file, net, input_shape, params)
    from cnnspec.codegen.module import CodegenError, generate_module
    from cnnspec.codegen.verify import verify as run_verification

    try:
        result = run_verification(analysis, generate_module(analysis, file), numeric=not no_numeric)
    except CodegenError as exc:
        _fail(analysis, exc.diagnostics)
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: one line, never a traceback
        _internal_error(file, exc)
    if not result.ok:
        for problem in result.problems:
            click.echo(f"{file}: mismatch: {problem}", err=True)
        click.echo(f"{file}: {len(result.problems)} disagreement{'s' * (len(result.problems) != 1)} between cnnspec and torch", err=True)
        sys.exit(1)
    click.echo(result.summary())


def clean_analysis(file, net, input_shape, params=None):
    """The analysis of a file without errors; otherwise its diagnostics and exit 1."""
    try:
        analysis = analyze_file(file, net, input_shape, params)
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: one line, never a traceback
        _internal_error(file, exc)
    print_diagnostics(analysis)
    if analysis.errors or analysis.graph is None:
        sys.exit(1)
    return analysis


def generated_text(analysis, file, train: bool) -> str:
    """The generated module (with `train`: the training script) of a clean analysis; on a
    codegen error its diagnostics and exit 1, on a crash exit 3."""
    from cnnspec.codegen.module import CodegenError, generate_module

    try:
        if not train:
            return generate_module(analysis, file).text
        from cnnspec.codegen.train import training_script

        return training_script(analysis, file)
    except CodegenError as exc:
        _fail(analysis, exc.diagnostics)
    except Exception as exc:  # noqa: BLE001  a bug in cnnspec: one line, never a traceback
        _internal_error(file, exc)


def _fail(analysis, diagnostics):
    analysis.diagnostics = list(diagnostics)  # the file's own diagnostics are already printed
    print_diagnostics(analysis)
    sys.exit(1)


def _internal_error(file, exc):
    report_internal_error(file, exc)
    sys.exit(3)
