"""The wheels the page installs into Pyodide: cnnspec's runtime dependencies (pure-Python wheels
from PyPI, at the versions installed here, through `pip download`, cached) and cnnspec itself (a
wheel written from the package that runs the build, so the page runs this very cnnspec)."""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import subprocess
import sys
import zipfile

from cnnspec import __version__
from cnnspec.playground.vendor import FetchError

# cnnspec's dependencies (pyproject.toml) and theirs (rich: pygments, markdown-it-py; that: mdurl).
DEPENDENCIES = ("lark", "rich", "click", "pygments", "markdown-it-py", "mdurl")
PYODIDE_PYTHON = "3.13"  # the Python of vendor.PYODIDE
PIP_TIMEOUT_S = 600


def _wheel_stem(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _requirement(name: str) -> str:
    try:
        return f"{name}=={importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return name


def _cached(folder: str, requirement: str) -> str | None:
    name, _, version = requirement.partition("==")
    found = sorted(glob.glob(os.path.join(folder, f"{_wheel_stem(name)}-{version or '*'}-*-none-any.whl")))
    return found[-1] if found else None


def dependency_wheels(cache: str) -> list[str]:
    """The dependencies' wheel files, downloaded into the cache when not there yet."""
    folder = os.path.join(cache, "wheels")
    requirements = [_requirement(name) for name in DEPENDENCIES]
    missing = [r for r in requirements if _cached(folder, r) is None]
    if missing:
        _pip_download(missing, folder)
    wheels = [_cached(folder, r) for r in requirements]
    absent = [r for r, wheel in zip(requirements, wheels) if wheel is None]
    if absent:
        raise FetchError(f"pip found no pure-Python wheel for {', '.join(absent)}")
    return wheels


def _pip_download(requirements: list[str], folder: str) -> None:
    if importlib.util.find_spec("pip") is None:
        raise FetchError(f"pip is needed to download {', '.join(requirements)} (python -m ensurepip, or fill the cache {folder})")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--platform", "any"]
    command += ["--python-version", PYODIDE_PYTHON, "--dest", folder, *requirements]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise FetchError(f"pip download of {', '.join(requirements)} took over {PIP_TIMEOUT_S} s (offline?)") from None
    if result.returncode != 0:
        detail = " ".join(result.stderr.strip().splitlines()[-2:])
        raise FetchError(f"pip could not download {', '.join(requirements)} (offline? the cache is {folder}): {detail}")


def _package_files() -> list[tuple[str, str]]:
    """(path in the wheel, file here) for each file of the running cnnspec package, and its grammar."""
    from cnnspec.parser import grammar_path

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in ("__pycache__", "static"))
        relative = os.path.relpath(folder, os.path.dirname(root)).replace(os.sep, "/")
        files += [(f"{relative}/{name}", os.path.join(folder, name)) for name in sorted(names) if name.endswith((".py", ".lark"))]
    if not any(path == "cnnspec/cnnspec.lark" for path, _ in files):
        files.append(("cnnspec/cnnspec.lark", grammar_path()))
    return files


def cnnspec_wheel(folder: str) -> str:
    """A wheel of the running cnnspec (its modules and grammar; the playground's page assets left
    out) written into `folder`; its path."""
    info = f"cnnspec-{__version__}.dist-info"
    entries = [(path, _read(file)) for path, file in _package_files()]
    entries.append((f"{info}/METADATA", f"Metadata-Version: 2.1\nName: cnnspec\nVersion: {__version__}\n".encode()))
    entries.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: cnnspec playground\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    entries.append((f"{info}/RECORD", record.getvalue().encode()))
    path = os.path.join(folder, f"cnnspec-{__version__}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return path


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()
