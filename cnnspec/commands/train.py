"""`cnnspec train`: generate a net's training script (`codegen --train`) and run it."""

from __future__ import annotations

import sys

import click

from cnnspec.commands.common import parse_shape, set_option

EXAMPLES_TRAIN = """
\b
Examples:
  cnnspec train examples/mnist_cnn.cnn --data digits --epochs 3
  cnnspec train examples/resnet50.cnn --steps 50 --batch-size 128 --channels-last
  cnnspec train model.cnn --net Small --data images/ --checkpoint small.pt --resume
  cnnspec train examples/resnet18.cnn --set classes=10 --data images/
  cnnspec train model.cnn -- --help                  (the training script's options)
  torchrun --nproc_per_node=4 -m cnnspec train model.cnn --data digits
"""


@click.command(epilog=EXAMPLES_TRAIN, context_settings={"ignore_unknown_options": True})
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--net", "net", metavar="NAME", help="The net to train, when the file defines several.")
@click.option("--input", "input_shape", metavar="CxHxW", callback=parse_shape, help="Override the declared input size.")
@set_option
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCRIPT OPTIONS]...")
def train(file, net, input_shape, params, script_args):
    """Train the net: run its generated training script with the current Python.

    Every other option goes to the script (--data, --epochs, --batch-size, --lr,
    --optimizer, --checkpoint, --resume, --metrics, ...; after `--` even --help).
    Exit status: the script's (0 trained; 2 data or options that do not fit the net),
    or 1 errors in the file, 2 PyTorch missing, 3 internal error.
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        click.echo("cnnspec train needs PyTorch: pip install torch", err=True)
        sys.exit(2)
    from cnnspec.commands.codegen import clean_analysis, generated_text

    script = generated_text(clean_analysis(file, net, input_shape, params), file, train=True)
    sys.exit(_run_script(script, script_args))


def _run_script(script: str, args: tuple[str, ...]) -> int:
    """Run `script` as a file in a temporary folder; its exit status (128 + N for signal N)."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cnnspec-train-") as folder:
        path = os.path.join(folder, "train.py")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(script)
        try:
            status = subprocess.run([sys.executable, path, *args], check=False).returncode
        except KeyboardInterrupt:
            return 130
    return status if status >= 0 else 128 - status
