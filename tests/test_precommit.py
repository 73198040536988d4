"""The pre-commit hook (.pre-commit-hooks.yaml), run the way a user's repository runs it:
`pre-commit try-repo` installs cnnspec from a copy of this working tree into its own
environment (from PyPI: hatchling and cnnspec's dependencies) and checks a repository's .cnn files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["cnnspec", "grammar", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml"]  # outside a git checkout

GOOD = "net Good {\n    input 3x32x32\n    conv(8, k=3, pad=1)\n    expect params == 224\n}\n"
BAD = "net Bad {\n    input 3x32x32\n    conv(8, k=3, pad=1)\n    expect params <= 100\n}\n"


def git(folder: Path, *args: str) -> None:
    identity = ["-c", "user.name=cnnspec tests", "-c", "user.email=tests@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=folder, check=True, capture_output=True, timeout=60)


def committed_repository(folder: Path, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "test")
    return folder


@pytest.fixture(scope="module")
def hook_repository(tmp_path_factory):
    """This working tree as it is now (uncommitted work included), committed in a new repository:
    try-repo installs from a commit."""
    copy = tmp_path_factory.mktemp("cnnspec-copy")
    for name in working_tree_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    return committed_repository(copy)


def working_tree_files() -> list[str]:
    """The files git tracks or would track (ignored ones left out), as they are on disk."""
    if not (ROOT / ".git").exists():
        found = [p for name in SHIPPED for p in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))]
        return [str(p.relative_to(ROOT)) for p in found if p.is_file() and "__pycache__" not in p.parts]
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    return [name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(hook_repository: Path, home: Path, project: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))}
    env["PRE_COMMIT_HOME"] = str(home)
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repository), "cnnspec-check", "--all-files"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_the_hook_fails_on_a_bad_file_and_names_only_it(hook_repository, pre_commit_home, tmp_path):
    project = committed_repository(tmp_path / "project", {"good.cnn": GOOD, "bad.cnn": BAD, "notes.txt": "not checked"})
    result = try_repo(hook_repository, pre_commit_home, project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cnnspec check" in output and "Failed" in output
    assert "bad.cnn:4:5: error[E500]: expected params <= 100, got 224" in output
    assert "good.cnn" not in output


def test_the_hook_passes_on_good_files(hook_repository, pre_commit_home, tmp_path):
    project = committed_repository(tmp_path / "project", {"good.cnn": GOOD})
    result = try_repo(hook_repository, pre_commit_home, project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
