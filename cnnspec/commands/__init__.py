"""The commands of the `cnnspec` group, one module each (cnnspec.cli registers them).

Command modules import click and cnnspec's light modules only; anything heavy (torch)
is imported inside the command function, so `cnnspec --help` and `check` stay fast.
"""

from cnnspec.commands.check import check

COMMANDS = [check]
