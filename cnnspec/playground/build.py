"""`cnnspec playground build OUT_DIR`: the static site. Layout of OUT_DIR:

index.html, app.js, editor.js, worker.js, style.css   static/, the page (index.html gets the import map)
highlight.json, highlight.css                          generated from cnnspec.lexer (highlight.py)
manifest.json                                          the wheels to install, the examples, versions
wheels/*.whl                                           cnnspec and its dependencies, for Pyodide
examples/*.cnn                                         the examples menu
vendor/pyodide/, vendor/mermaid/, vendor/npm/NAME/     from the npm registry (vendor.py)
"""

from __future__ import annotations

import json
import os
import shutil

from cnnspec import __version__
from cnnspec.playground import highlight, vendor, wheels

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGE_FILES = ("index.html", "app.js", "editor.js", "worker.js", "style.css")
IMPORT_MAP_SLOT = "<!-- import map -->"


def examples_folder() -> str | None:
    """The examples to offer: $CNNSPEC_EXAMPLES, else the source tree's examples/ (None: neither)."""
    chosen = os.environ.get("CNNSPEC_EXAMPLES")
    if chosen:
        return chosen
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
    return here if os.path.isdir(here) else None


def build(out_dir: str, examples: str | None, cache: str | None = None) -> dict:
    """Write the site into `out_dir` (created; files of an earlier build replaced). Raises
    vendor.FetchError when a package or wheel cannot be had. Returns the manifest."""
    cache = cache or vendor.cache_dir()
    os.makedirs(out_dir, exist_ok=True)
    import_map = _vendor(out_dir, cache)
    _page(out_dir, import_map)
    manifest = {
        "cnnspec": __version__,
        "pyodide": vendor.PYODIDE.version,
        "wheels": _wheels(out_dir, cache),
        "examples": _examples(out_dir, examples),
    }
    _write(out_dir, "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def _vendor(out_dir: str, cache: str) -> dict:
    """Pyodide, mermaid and the editor's modules under vendor/; the editor's import map."""
    target = os.path.join(out_dir, "vendor")
    shutil.rmtree(target, ignore_errors=True)
    vendor.unpack(vendor.PYODIDE, cache, os.path.join(target, "pyodide"), vendor.PYODIDE_FILES)
    vendor.unpack(vendor.MERMAID, cache, os.path.join(target, "mermaid"), vendor.MERMAID_FILES)
    imports = {}
    for package in vendor.EDITOR:
        manifest = vendor.unpack(package, cache, os.path.join(target, "npm", *package.name.split("/")))
        imports[package.name] = f"./vendor/npm/{package.name}/{vendor.module_entry(manifest)}"
    return {"imports": imports}


def _page(out_dir: str, import_map: dict) -> None:
    for name in PAGE_FILES:
        with open(os.path.join(STATIC, name), encoding="utf-8") as stream:
            text = stream.read()
        if name == "index.html":
            script = json.dumps(import_map, indent=1).replace("</", "<\\/")
            text = text.replace(IMPORT_MAP_SLOT, f'<script type="importmap">\n{script}\n</script>')
        _write(out_dir, name, text)
    _write(out_dir, "highlight.json", json.dumps(highlight.mode(), indent=1))
    _write(out_dir, "highlight.css", highlight.stylesheet())


def _wheels(out_dir: str, cache: str) -> list[str]:
    folder = os.path.join(out_dir, "wheels")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for wheel in wheels.dependency_wheels(cache):
        shutil.copy(wheel, folder)
    wheels.cnnspec_wheel(folder)
    return sorted(f"wheels/{name}" for name in os.listdir(folder))


def _examples(out_dir: str, examples: str | None) -> list[str]:
    folder = os.path.join(out_dir, "examples")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    names = sorted(n for n in os.listdir(examples) if n.endswith(".cnn")) if examples else []
    for name in names:
        shutil.copy(os.path.join(examples, name), folder)
    return names


def _write(out_dir: str, name: str, text: str) -> None:
    with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
