"""`cnnspec playground`: build the browser playground (cnnspec.playground), make its links."""

from __future__ import annotations

import sys

import click

EXAMPLES_PLAYGROUND = """
\b
Examples:
  cnnspec playground build site/ && python -m http.server -d site 8000
  cnnspec playground link examples/vgg19.cnn --base http://localhost:8000/
"""


@click.group(epilog=EXAMPLES_PLAYGROUND)
def playground():
    """The browser playground: cnnspec in a web page under Pyodide, no install and no server."""


@playground.command()
@click.argument("out_dir", metavar="OUT_DIR", type=click.Path(file_okay=False))
@click.option(
    "--examples",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    help="The .cnn files for the examples menu (default: the source tree's examples/).",
)
def build(out_dir, examples):
    """Write the static site into OUT_DIR: serve it with any static file server.

    Pyodide, CodeMirror and mermaid come from the npm registry and the dependencies' wheels
    from PyPI (pip download), into a cache ($CNNSPEC_PLAYGROUND_CACHE, default
    ~/.cache/cnnspec/playground) that later builds reuse offline. Exit status: 0 built,
    1 a package could not be downloaded or the site not written, 2 usage error.
    """
    from cnnspec.playground.build import build as build_site
    from cnnspec.playground.build import examples_folder
    from cnnspec.playground.vendor import FetchError

    try:
        manifest = build_site(out_dir, examples or examples_folder())
    except FetchError as exc:
        click.echo(f"cnnspec playground build: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"cnnspec playground build: cannot write {exc.filename or out_dir}: {exc.strerror}", err=True)
        sys.exit(1)
    click.echo(f"wrote {out_dir}: Pyodide {manifest['pyodide']}, {len(manifest['wheels'])} wheels, {len(manifest['examples'])} examples")


@playground.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--base", metavar="URL", default="", help="The playground's address; without it, only the '#src=...' part.")
def link(file, base):
    """Print the playground link that opens FILE in the editor (docs/playground.md: the codec)."""
    from cnnspec.commands.common import Unreadable, print_diagnostics, read_file
    from cnnspec.playground.link import link as make_link

    try:
        source = read_file(file)
    except Unreadable as exc:
        print_diagnostics(exc.analysis)
        sys.exit(1)
    click.echo(make_link(source.text, base))
