"""cnnspec.atomic.write_atomic: all or nothing, through symbolic links, permissions kept."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from click.testing import CliRunner

from cnnspec.atomic import write_atomic
from cnnspec.cli import cli

UGLY = "net N {\n  input 3x8x8\n  conv(4,k=3)\n}\n"
PRETTY = "net N {\n    input 3x8x8\n    conv(4, k=3)\n}\n"


def test_writes_a_new_file(tmp_path):
    target = tmp_path / "new.txt"
    write_atomic(str(target), "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert os.listdir(tmp_path) == ["new.txt"]


def test_a_failure_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "old.txt"
    target.write_text("old\n", encoding="utf-8")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(str(target), "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["old.txt"]


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "old.txt"
    target.write_text("old\n", encoding="utf-8")

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(target), "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["old.txt"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_permissions_are_kept(tmp_path):
    target = tmp_path / "script.txt"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o750)
    write_atomic(str(target), "new\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o750
    assert target.read_text(encoding="utf-8") == "new\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_new_file_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(str(tmp_path / "new.txt"), "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_symbolic_link_is_written_through(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.cnn"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.cnn"
    link.symlink_to(os.path.join("real", "model.cnn"))  # relative, as links in repositories are
    write_atomic(str(link), "new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "model.cnn")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert sorted(os.listdir(tmp_path / "real")) == ["model.cnn"] and sorted(os.listdir(tmp_path)) == ["link.cnn", "real"]


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_fmt_keeps_a_symbolic_link(tmp_path):
    target = tmp_path / "model.cnn"
    target.write_text(UGLY, encoding="utf-8")
    link = tmp_path / "alias.cnn"
    link.symlink_to(target)
    result = CliRunner().invoke(cli, ["fmt", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and target.read_text(encoding="utf-8") == PRETTY
