"""The commands of the `cnnspec` group, one module each (cnnspec.cli registers them).

Command modules import click and cnnspec's light modules only; anything heavy (torch)
is imported inside the command function, so `cnnspec --help` and `check` stay fast.
"""

from cnnspec.commands.check import check
from cnnspec.commands.codegen import codegen, verify
from cnnspec.commands.explain import explain
from cnnspec.commands.fmt import fmt
from cnnspec.commands.graph import graph
from cnnspec.commands.lsp import lsp
from cnnspec.commands.train import train

COMMANDS = [check, fmt, graph, explain, codegen, verify, train, lsp]
