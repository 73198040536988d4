"""The command line: the `cnnspec` group; each command lives in cnnspec/commands/."""

from __future__ import annotations

import gc

import click

from cnnspec import __version__
from cnnspec.commands import COMMANDS


class _Commands(click.Group):
    """The group; `playground` (its build pulls in more) is imported only when run or listed."""

    LAZY = ("playground",)

    def list_commands(self, ctx):
        return [*super().list_commands(ctx), *(name for name in self.LAZY if name not in self.commands)]

    def get_command(self, ctx, name):
        if name == "playground" and name not in self.commands:
            from cnnspec.commands.playground import playground

            self.add_command(playground)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnnspec")
def cli():
    """cnnspec: check CNN architectures written in the .cnn language, and turn them into PyTorch.

    \b
    Examples:
      cnnspec check examples/vgg19.cnn
      cnnspec check models/ --quiet --format github
      cnnspec codegen examples/resnet18.cnn -o resnet18.py
      cnnspec verify examples/resnet18.cnn
      cnnspec train examples/mnist_cnn.cnn --data digits --epochs 3
      cnnspec fmt --check models/
      cnnspec graph examples/resnet18.cnn --format mermaid
      cnnspec explain E300
      cnnspec playground build site/
    """


for _command in COMMANDS:
    cli.add_command(_command)


def main():
    # A short run that builds one large, acyclic structure: the cycle collector would only rescan it
    # (on a 100,000-layer file: 2.6x the time at the default thresholds, 7% more at 100x them), so it is off.
    gc.freeze()
    gc.disable()
    cli(prog_name="cnnspec")
