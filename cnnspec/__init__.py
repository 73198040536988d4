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

_LAZY = {
    "load": "cnnspec.api",
    "loads": "cnnspec.api",
    "Model": "cnnspec.api",
    "CnnspecError": "cnnspec.diagnostics",
    "Diagnostic": "cnnspec.diagnostics",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnnspec' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """`%load_ext cnnspec`: the `%%cnnspec` cell magic (cnnspec.notebook)."""
    from cnnspec.notebook import register

    register(ipython)
