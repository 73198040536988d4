"""`--format github` (workflow commands) and `--format sarif` (SARIF 2.1.0): their structure,
escaping, positions and paths."""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec import __version__
from cnnspec.cli import cli
from cnnspec.diagnostics import CODES, Note, error
from cnnspec.report.github import annotation
from cnnspec.source import Span

BAD = "net Bad {\n    input 3x4x4\n    conv(8, k=5)\n    conv(8, k=3, stride=2, pad=1) -> batchnorm\n}\n"
WARNS = "net Warns {\n    input 3x32x32\n    conv(8, k=3, stride=2)\n}\n"
GOOD = "net Good {\n    input 3x32x32\n    conv(8, k=3, pad=1)\n}\n"


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A repository checkout as the working directory: models/bad.cnn, models/warns.cnn, models/good.cnn."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "models"
    folder.mkdir()
    for name, text in (("bad", BAD), ("warns", WARNS), ("good", GOOD)):
        (folder / f"{name}.cnn").write_text(text)
    return folder


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# ---- github ----------------------------------------------------------------------------------


def test_github_annotations(models):
    result = run("check", "--format", "github", "models")
    assert result.exit_code == 1
    error_line, warning_line = result.stdout.splitlines()  # bad.cnn's W402 follows from its error: not reported
    assert error_line.startswith(
        "::error file=models/bad.cnn,line=3,col=5,endLine=3,endColumn=16,title=E300 output size below 1::E300: conv: output size 0 x 0"
    )
    assert warning_line.startswith("::warning file=models/warns.cnn,line=3,col=5,endLine=3,endColumn=26,title=W400 strided window")
    assert warning_line.split("::", 2)[2].startswith("W400: ")
    assert "error[E300]" in result.stderr  # the readable diagnostics stay in the log


def test_github_absolute_paths_inside_the_working_directory_become_relative(models):
    result = run("check", "--format", "github", models.resolve() / "bad.cnn")
    assert result.stdout.startswith("::error file=models/bad.cnn,line=3,")


def test_github_escaping():
    diagnostic = error("E205", "100% wrong:\r\nline two, a:b", Span(2, 3, 2, 9), (Note("first, here", Span(1, 1, 1, 2)),))
    line = annotation(diagnostic, "dir,with:odd%name.cnn")
    properties, message = line[len("::error ") :].split("::", 1)
    assert properties == "file=dir%2Cwith%3Aodd%25name.cnn,line=2,col=3,endLine=2,endColumn=8,title=E205 redefinition"
    assert message == "E205: 100%25 wrong:%0D%0Aline two, a:b%0Anote: first, here (line 1)"
    assert "\n" not in line and "\r" not in line


def test_github_without_a_position(models):
    (models / "nonet.cnn").write_text("block b(c) {\n    conv(c, k=3)\n}\n")
    result = run("check", "--format", "github", "models/nonet.cnn")
    assert (
        result.stdout
        == "::error file=models/nonet.cnn,title=E209 no net to check / unknown net::E209: the file defines no net (`net Name { input ... }`)\n"
    )


def test_github_clean_file_prints_nothing(models):
    result = run("check", "--format", "github", "models/good.cnn")
    assert result.exit_code == 0 and result.stdout == ""


# ---- sarif ------------------------------------------------------------------------------------


def sarif(*args):
    result = run("check", "--format", "sarif", *args)
    return result, json.loads(result.stdout)


def test_sarif_log_structure(models):
    result, log = sarif("models")
    assert result.exit_code == 1
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "cnnspec" and driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert [rule["id"] for rule in driver["rules"]] == list(CODES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] == CODES[rule["id"]]
        for key in ("fullDescription", "help"):
            assert isinstance(rule[key]["text"], str) and len(rule[key]["text"]) > 40
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    results = run_["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("E300", "error"), ("W400", "warning")]
    for entry in results:
        assert driver["rules"][entry["ruleIndex"]]["id"] == entry["ruleId"]
        assert isinstance(entry["message"]["text"], str) and entry["message"]["text"]
        (location,) = entry["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] in ("models/bad.cnn", "models/warns.cnn")
        region = physical["region"]
        assert set(region) == {"startLine", "startColumn", "endLine", "endColumn"}
        assert all(isinstance(v, int) and v >= 1 for v in region.values())
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 17}


def test_sarif_notes_become_related_locations(models):
    (models / "twice.cnn").write_text("net T {\n    input 3x8x8\n    a: conv(8, k=3)\n    a: conv(8, k=3)\n}\n")
    _, log = sarif("models/twice.cnn")
    (entry,) = log["runs"][0]["results"]
    assert entry["ruleId"] == "E205"
    assert entry["relatedLocations"] == [
        {
            "id": 0,
            "message": {"text": "first used here"},
            "physicalLocation": {
                "artifactLocation": {"uri": "models/twice.cnn"},
                "region": {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 6},
            },
        }
    ]


def test_sarif_clean_files_give_an_empty_result_list(models):
    result, log = sarif("models/good.cnn")
    assert result.exit_code == 0 and log["runs"][0]["results"] == []


def test_sarif_uri_uses_forward_slashes(models):
    (models / "deep").mkdir()
    (models / "deep" / "bad.cnn").write_text(BAD)
    _, log = sarif(os.path.join("models", "deep"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"models/deep/bad.cnn"}
    assert Path("models/deep/bad.cnn").exists()


def test_sarif_uri_is_percent_encoded(models, tmp_path_factory):
    (models / "s d").mkdir()
    (models / "s d" / "a b#%,:.cnn").write_text(BAD)
    _, log = sarif(os.path.join("models", "s d"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"models/s%20d/a%20b%23%25%2C%3A.cnn"}
    assert urllib.parse.unquote(uris.pop()) == "models/s d/a b#%,:.cnn"
    outside = tmp_path_factory.mktemp("elsewhere") / "x y.cnn"  # not under the working directory: a file: URI
    outside.write_text(BAD)
    _, log = sarif(outside)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == outside.as_uri() and uri.startswith("file:///") and " " not in uri
