"""The site's JavaScript from the npm registry: Pyodide, mermaid and CodeMirror 6, each at a
pinned version whose tarball is checked against its pinned sha512 integrity, fetched over plain
HTTPS (no node or npm needed) into a cache and reused from there."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import posixpath
import tarfile
import time
import urllib.error
import urllib.request
from typing import NamedTuple

DEFAULT_REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 120
ATTEMPTS = 3


class NpmPackage(NamedTuple):
    name: str
    version: str
    integrity: str  # the registry's dist.integrity: "sha512-" and the base64 digest of the .tgz

    @property
    def tarball_name(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PYODIDE = NpmPackage("pyodide", "0.29.5", "sha512-TkYrUv9m8QmfImADKRmpwZulL48E0uUaBSO+dvRQKyAJc0qh9gu7jn8btyHPh3NZm1r2IH2YrJhIr7Q2B9urAw==")
PYODIDE_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json", "LICENSE")
MERMAID = NpmPackage("mermaid", "12.3.0", "sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6yZ69J4f8rVYWW8zRk65UYw==")
MERMAID_FILES = ("dist/mermaid.min.js", "LICENSE")
# CodeMirror 6 and everything its modules import, served unbundled through the page's import map.
EDITOR = (
    NpmPackage(
        "@codemirror/state", "6.7.6", "sha512-kAz+AncRtKuIknedxT1bq4XwXv4UowhbkHU1myPrtVb/jZtImWuV5BXzv5vK6i3kYACsdiZiQKFQQ5Mq7elW8w=="
    ),
    NpmPackage(
        "@marijn/find-cluster-break",
        "1.0.4",
        "sha512-Wy0V7+SGUjnF9/TkiM1hKVDPj7jKXduPNboMVtHTA8dySMURWqfg/JZ9E2Sq8JgSJmkl7k7Qe9FLeMSrSraWmQ==",
    ),
    NpmPackage(
        "@codemirror/view", "6.44.2", "sha512-7yxTh7+iCbxIV9QCJAVlkYjWV/TCHD0zmLIaIR3NOb47YpCWwVUuFUnHwkRC3z+8cXNgeJzrCy4QtlR3fVt5kg=="
    ),
    NpmPackage("crelt", "1.0.7", "sha512-aK6BbWfhf4U/wCcLHKPJl/xa6VkVstRaPywWtMKGwuOLc/wZTyQYuoxgvZnNsBvv7Kg3YTBQYYBCggcviQczuA=="),
    NpmPackage("style-mod", "4.1.5", "sha512-WQ2llCZa9sZSkJA+aOwpg5DkfbAXFKGh//t3MRTBeruFiSBC+GXUmbBzrw3bXyboCWAbtCW9InDfBsXrRD/rAg=="),
    NpmPackage("w3c-keyname", "2.2.8", "sha512-dpojBhNsCNN7T82Tm7k26A6G9ML3NkhDsnw9n/eoxSRlVBB4CEtIQ/KTCLI2Fwf3ataSXRhYFkQi3SlnFwPvPQ=="),
    NpmPackage(
        "@codemirror/language", "6.13.1", "sha512-zfvU2r3TyylQLMj/te+5CnQ0rSqZi8B1oTCBbQkagcLW4Xc6imab6qN+pEJhsuNOLaJqiRyBXp9UhWA1DhVvDw=="
    ),
    NpmPackage(
        "@codemirror/streamparser",
        "6.0.0",
        "sha512-JTFPF6xrfjt0mnfGPgzcLiMwYmvIyNaoizp8BYzv8FE8KrT6GBGDZ190rtt+O7Wke3gG/MFHyiY9YGNeimof4w==",
    ),
    NpmPackage("@lezer/common", "1.5.7", "sha512-3+3PN+M/3xSjrlQz8/wBPOl+JYGJ+G37ZszHfnhphFwj41qPUPxsz4WEic3ZyVpL23rX1qefaGqz0lA7jGUqwg=="),
    NpmPackage(
        "@lezer/highlight", "1.2.5", "sha512-O1GMVKgtf5YspFaRzpmqkVgMtIk2HG9uMAbH6wdAIdNh3TVzCsch/+cRi+6l2//UGDKe6NB9BW3cvuR5ezMQ0w=="
    ),
    NpmPackage(
        "@codemirror/commands", "6.11.2", "sha512-NbH6Q9lmcXvf9s5/mMJIwL2Hjl2NEdsN/dDlezGnaFOQgNZ59dT7ndKUf21/PIjJacD/Ti2Ifi4TsBkO6WHvsg=="
    ),
    NpmPackage(
        "@codemirror/lint", "6.9.8", "sha512-qNvtcE73xUto/D1RvtgSRI4A1Hg8ekxlvtZpjHpdpisLBnhyu82EUEJMEgaxkjuQCA8vqnrylENWKOsEDCOHcw=="
    ),
)


class FetchError(Exception):
    """A package or wheel that could not be had: the message says which and why."""


def cache_dir() -> str:
    """$CNNSPEC_PLAYGROUND_CACHE, else cnnspec/playground under $XDG_CACHE_HOME or ~/.cache."""
    chosen = os.environ.get("CNNSPEC_PLAYGROUND_CACHE")
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cnnspec", "playground")


def registry() -> str:
    return (os.environ.get("CNNSPEC_NPM_REGISTRY") or os.environ.get("npm_config_registry") or DEFAULT_REGISTRY).rstrip("/")


def _matches(data: bytes, integrity: str) -> bool:
    algorithm, _, digest = integrity.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest


def tarball(package: NpmPackage, cache: str) -> bytes:
    """The package's .tgz: from the cache, else from the registry (then cached)."""
    path = os.path.join(cache, "npm", package.name.replace("/", "+"), package.tarball_name)
    if os.path.exists(path):
        with open(path, "rb") as stream:
            data = stream.read()
        if _matches(data, package.integrity):
            return data
    url = f"{registry()}/{package.name}/-/{package.tarball_name}"
    data = _download(url, f"{package.name}@{package.version}", cache)
    if not _matches(data, package.integrity):
        raise FetchError(f"{url}: the download does not match the pinned integrity {package.integrity[:20]}...")
    from cnnspec.atomic import write_atomic

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, data)
    return data


def _download(url: str, what: str, cache: str) -> bytes:
    """The bytes at `url`, with a retry or two for a flaky network."""
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
            if exc.code < 500:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
        if attempt + 1 < ATTEMPTS:
            time.sleep(2**attempt)
    raise FetchError(
        f"cannot download {what} from {url}: {reason} (offline? set CNNSPEC_NPM_REGISTRY to a reachable npm registry, or fill the cache {cache})"
    )


def unpack(package: NpmPackage, cache: str, target: str, only: tuple[str, ...] | None = None) -> dict:
    """The package's files (`only` these, when given) written under `target`; its package.json."""
    with tarfile.open(fileobj=io.BytesIO(tarball(package, cache)), mode="r:gz") as archive:
        manifest = json.load(archive.extractfile("package/package.json"))
        for member in archive.getmembers():
            relative = posixpath.normpath(member.name).split("/", 1)[-1]
            if not member.isfile() or relative.startswith("..") or (only is not None and relative not in only):
                continue
            destination = os.path.join(target, *relative.split("/"))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(destination, "wb") as stream:
                stream.write(archive.extractfile(member).read())
    return manifest


def module_entry(manifest: dict) -> str:
    """The ES module a bare `import "name"` loads: package.json's "module", else its "main"."""
    return posixpath.normpath(manifest.get("module") or manifest.get("main") or "index.js")
