"""Notebooks: `%load_ext cnnspec` registers the `%%cnnspec` cell magic.

    %%cnnspec [VARIABLE] [--net NAME] [--input 3x64x64] [NAME=VALUE ...]
    net Small { input 3x32x32  conv(8, k=3) }

The cell is checked as a .cnn file: its table is shown (the Model's HTML), or its diagnostics
with their carets. VARIABLE, if given, receives the Model; NAME=VALUE sets a net parameter.
"""

from __future__ import annotations

import ast
import shlex

from cnnspec.diagnostics import CnnspecError

USAGE = "usage: %%cnnspec [VARIABLE] [--net NAME] [--input CxHxW] [NAME=VALUE ...]"


class MagicUsageError(ValueError):
    pass


def register(ipython) -> None:
    ipython.register_magic_function(lambda line, cell: cnnspec_magic(ipython, line, cell), magic_kind="cell", magic_name="cnnspec")


def cnnspec_magic(ipython, line: str, cell: str):
    """Check the cell; display the Model (returned, so Jupyter renders it) or print the diagnostics."""
    from cnnspec.api import loads

    try:
        variable, net, shape, params = parse_line(line)
    except MagicUsageError as exc:
        print(f"{exc}\n{USAGE}")
        return None
    try:
        model = loads(cell, net=net, input=shape, path="<cell>", **params)
    except CnnspecError as exc:
        print(str(exc))
        return None
    if variable:
        ipython.user_ns[variable] = model
    return model


def parse_line(line: str) -> tuple[str | None, str | None, tuple[int, ...] | None, dict]:
    """The magic's arguments: (variable, net, input shape, net parameters). Raises MagicUsageError."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise MagicUsageError(str(exc)) from None
    variable, net, shape, params = None, None, None, {}
    while words:
        word = words.pop(0)
        if word in ("--net", "--input"):
            if not words:
                raise MagicUsageError(f"{word} needs a value")
            value = words.pop(0)
            net, shape = (value, shape) if word == "--net" else (net, _shape(value))
        elif "=" in word:
            name, _, text = word.partition("=")
            params[name] = _value(text)
        elif variable is None and word.isidentifier():
            variable = word
        else:
            raise MagicUsageError(f"unexpected argument {word!r}")
    return variable, net, shape, params


def _shape(text: str) -> tuple[int, ...]:
    import click

    from cnnspec.commands.common import parse_shape

    try:
        return parse_shape(None, None, text)
    except click.BadParameter as exc:
        raise MagicUsageError(exc.message) from None


def _value(text: str):
    """A parameter's value: a Python literal (10, 0.5, True, (1, 2), 'relu'), or the text itself."""
    spelled = {"true": True, "false": False, "none": None}  # the language's spelling
    if text in spelled:
        return spelled[text]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
