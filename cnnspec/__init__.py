"""cnnspec: a static analyzer and code generator for CNN architectures."""

__version__ = "0.1.0"
