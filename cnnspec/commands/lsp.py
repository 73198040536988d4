"""`cnnspec lsp`: the language server for editors (cnnspec.lsp), over standard input and output."""

from __future__ import annotations

import sys

import click

EXAMPLES_LSP = """
\b
Examples:
  cnnspec lsp                # started by an editor (editors/vscode/), talking over stdin/stdout
"""


@click.command(epilog=EXAMPLES_LSP)
@click.option("--stdio", is_flag=True, help="Talk over standard input and output (the default and only transport; editors pass it).")
def lsp(stdio):
    """Run the language server: diagnostics, shapes on hover and as inlay hints, go to
    definition, references, rename, completion, formatting and quick fixes for .cnn files.

    Needs the `lsp` extra: pip install "cnnspec[lsp]". Exit status: 0 when the client
    ends the session, 2 when pygls is not installed.
    """
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        click.echo('cnnspec lsp needs the language server extra: pip install "cnnspec[lsp]"', err=True)
        sys.exit(2)
    from cnnspec.lsp.server import main

    main()
