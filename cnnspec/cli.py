"""The command line: the `cnnspec` group; each command lives in cnnspec/commands/."""

from __future__ import annotations

import click

from cnnspec import __version__
from cnnspec.commands import COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnnspec")
def cli():
    """cnnspec: check CNN architectures written in the .cnn language.

    \b
    Examples:
      cnnspec check examples/vgg19.cnn
      cnnspec check examples/resnet50.cnn --format json
    """


for _command in COMMANDS:
    cli.add_command(_command)


def main():
    cli(prog_name="cnnspec")
