"""cnnspec: a static analyzer and code generator for CNN architectures.

    import cnnspec
    model = cnnspec.load("examples/resnet18.cnn")
    model.totals["params"]        # 11689512

Importing cnnspec imports nothing else: the API (cnnspec.api) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["CnnspecError", "Diagnostic", "Model", "__version__", "load", "load_ipython_extension", "loads"]

if TYPE_CHECKING:
    from cnnspec.api import Model, load, loads
    from cnnspec.diagnostics import CnnspecError, Diagnostic


def __getattr__(name: str):
    """The public names, imported on first use (module attributes: PEP 562)."""
    if name in ("load", "loads", "Model"):
        from cnnspec import api

        return getattr(api, name)
    if name in ("CnnspecError", "Diagnostic"):
        from cnnspec import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(f"module 'cnnspec' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """`%load_ext cnnspec`: the `%%cnnspec` cell magic (cnnspec.notebook)."""
    from cnnspec.notebook import register

    register(ipython)
