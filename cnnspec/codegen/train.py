"""`cnnspec codegen --train`: a runnable training script for a net.

The script is the generated model module (cnnspec.codegen.module) followed by the training code
in train_loop.py, a template read as text: its import lines are merged with the module's, and
everything after its marker line is appended. The result is laid out as `ruff format` and ruff's
import sorting would lay it out, at the module emitter's line length.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnnspec.codegen.pyformat import LINE_LENGTH

TEMPLATE = Path(__file__).with_name("train_loop.py")
TRAINING_CODE_MARKER = "# ---- training code ----\n"
USAGE = (
    "# Training script: python THIS_FILE --data {synthetic,digits,FILE.npz,DIR} --epochs N;",
    "# options: python THIS_FILE --help; on N GPUs: torchrun --nproc_per_node=N THIS_FILE ...",
)


def training_script(analysis, source_name: str) -> str:
    """The model module for `analysis` (a clean Analysis) and the code that trains it."""
    from cnnspec.codegen.module import generate_module

    module = generate_module(analysis, source_name)
    template_imports, training_code = template_parts()
    header = "\n".join([module.header.rstrip("\n"), *USAGE])
    imports = import_block(module.imports + template_imports)
    code = "\n\n\n".join([imports, module.body.strip("\n"), training_code.strip("\n")])
    return f"{header}\n\n{code}\n"


def template_parts() -> tuple[tuple[str, ...], str]:
    """The template's import lines and its training code (what follows the marker)."""
    head, _, code = TEMPLATE.read_text(encoding="utf-8").partition(TRAINING_CODE_MARKER)
    imports = tuple(line for line in head.splitlines() if line.startswith(("import ", "from ")))
    return imports, code


def import_block(lines: tuple[str, ...]) -> str:
    """Import lines deduplicated, merged and ordered as ruff's isort wants them: sections
    (__future__, standard library, third party) apart; in each, `import x` lines before
    `from x import ...` lines, by module; the imported names ordered constants, classes, others."""
    plain: set[str] = set()  # "torch", "torch.distributed as dist"
    members: dict[str, set[str]] = {}  # module -> imported names ("nn", "functional as F")
    for line in filter(None, lines):  # the module's imports may hold a blank line
        if line.startswith("from "):
            module, _, names = line.removeprefix("from ").partition(" import ")
            members.setdefault(module, set()).update(name.strip() for name in names.split(","))
        else:
            plain.add(line.removeprefix("import "))
    sections: dict[int, list[str]] = {}
    for target in sorted(plain, key=_module_key):
        sections.setdefault(_section(target), []).append(f"import {target}")
    for module in sorted(members, key=_module_key):
        names = sorted(members[module], key=_member_key)
        line = f"from {module} import {', '.join(names)}"
        if len(line) > LINE_LENGTH:
            line = "\n".join([f"from {module} import (", *(f"    {name}," for name in names), ")"])
        sections.setdefault(_section(module), []).append(line)
    return "\n\n".join("\n".join(sections[section]) for section in sorted(sections))


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top == "__future__":
        return 0
    return 1 if top in sys.stdlib_module_names else 2


def _module_key(target: str) -> tuple[str, str]:
    return target.lower(), target


def _member_key(name: str) -> tuple[int, str, str]:
    base = name.split(" as ")[0]
    kind = 0 if base.isupper() and len(base) > 1 else 1 if base[0].isupper() else 2
    return kind, base.lower(), name
