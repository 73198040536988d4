"""The language's values beyond Python's scalars: lists, layers with bound arguments, tensor shapes."""

from __future__ import annotations


class ListValue(tuple):
    """`[3, 3, 9, 3]`: a list (immutable, like every value), kept apart from a tuple `(3, 3)`,
    which a per-axis argument takes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "[" + ", ".join(map(repr, self)) + "]"


class LayerValue:
    """`silu`, `batchnorm(eps=1e-3)`, `bottleneck(expansion=4)`: a layer kind or a block with
    some arguments bound, passed as a value and applied in a chain (`-> act`, `-> norm(64)`)."""

    __slots__ = ("name", "args", "keywords")

    def __init__(self, name: str, args: tuple = (), keywords: tuple = ()):
        self.name, self.args, self.keywords = name, args, keywords  # keywords: ((name, value), ...)

    def _key(self):
        from cnnspec.expressions import exact

        return (self.name, tuple(map(exact, self.args)), tuple((k, exact(v)) for k, v in self.keywords))

    def __eq__(self, other) -> bool:
        return isinstance(other, LayerValue) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if not self.args and not self.keywords:
            return self.name
        from cnnspec.expressions import show

        parts = [show(a) for a in self.args] + [f"{k}={show(v)}" for k, v in self.keywords]
        return f"{self.name}({', '.join(parts)})"

    def bound(self, args: tuple, keywords: dict) -> tuple[list, dict]:
        """This value's arguments followed by a call's: `norm(64)` with `norm = batchnorm(eps=1e-3)`."""
        return [*self.args, *args], {**dict(self.keywords), **keywords}


class TensorShape:
    """A tensor named in an expression (`in`, `x`): its shape, read as `.channels`, `.shape`, `.spatial`."""

    __slots__ = ("name", "shape")

    ATTRIBUTES = ("channels", "shape", "spatial", "rank")

    def __init__(self, name: str, shape: tuple):
        self.name, self.shape = name, shape

    def attribute(self, attribute: str):
        if attribute == "channels":
            return self.shape[0]
        if attribute == "shape":
            return tuple(self.shape)
        if attribute == "spatial":
            return tuple(self.shape[1:])
        if attribute == "rank":
            return len(self.shape)
        return None

    def __repr__(self) -> str:
        return f"the tensor {self.name} ({' x '.join(map(str, self.shape))})"
