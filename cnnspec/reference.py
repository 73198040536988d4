"""Reference tables generated from the code itself (layer kinds, diagnostic codes, `expect` quantities, examples),
so the README cannot drift from what cnnspec does. `python -m cnnspec.reference README.md`
rewrites the marked blocks; tests/test_readme.py fails when they are stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cnnspec.diagnostics import CODES
from cnnspec.layers import ALL_KINDS, MERGES
from cnnspec.layers.base import REQUIRED


def _argument(spec) -> str:
    aliases = f" [{', '.join(spec.aliases)}]" if spec.aliases else ""
    if spec.default is REQUIRED:
        return f"`{spec.name}`{aliases}"
    return f"`{spec.name}={_literal(spec.default)}`{aliases}"


def _literal(value) -> str:
    """A default value as the language writes it."""
    if value is None or isinstance(value, bool):
        return {None: "none", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def layers_markdown() -> str:
    lines = ["| spelling | arguments | PyTorch | notes |", "|---|---|---|---|"]
    for kind in [*ALL_KINDS, *MERGES.values()]:
        spellings = ", ".join(f"`{name}`" for name in kind.names)
        arguments = ", ".join(_argument(spec) for spec in kind.args) or ("tensors (chains)" if kind.arity == 0 else "—")
        lines.append(f"| {spellings} | {arguments} | {kind.torch} | {kind.summary} |")
    return "\n".join(lines)


def codes_markdown() -> str:
    lines = ["| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in CODES.items()]
    return "\n".join(lines)


def quantities_markdown() -> str:
    from cnnspec.analysis.contracts import QUANTITIES

    lines = ["| name | value |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in QUANTITIES.items()]
    return "\n".join(lines)


def examples_markdown(root: Path) -> str:
    from cnnspec.analyze import analyze
    from cnnspec.source import read_source

    lines = []
    for path in sorted((root / "examples").glob("*.cnn")):
        source = read_source(str(path))
        for net in analyze(source).nets or (None,):  # a file of several nets (variants): one row each
            graph = analyze(source, net).graph
            params = sum(node.params for node in graph.nodes)
            lines.append(f"| [{path.name}](examples/{path.name}) | {graph.net} | {params:,} |")
    return "\n".join(lines)


def render_blocks(readme: str, root: Path) -> str:
    blocks = {
        "layers": layers_markdown,
        "codes": codes_markdown,
        "quantities": quantities_markdown,
        "examples": lambda: examples_markdown(root),
    }
    for name, make in blocks.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if pattern.search(readme):
            body = make()
            readme = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), readme)
    return readme


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    target.write_text(render_blocks(target.read_text(encoding="utf-8"), target.resolve().parent), encoding="utf-8")
