"""The playground in a real browser: the numbers, the errors, the links, the downloads and the
highlighting are those of cnnspec under CPython."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import ROOT, open_playground, set_source, wait_analyzed

from cnnspec.lexer import CnnspecLexer
from cnnspec.playground import highlight, link, session

EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.cnn"))
VGG19 = (ROOT / "examples" / "vgg19.cnn").read_text(encoding="utf-8")
BROKEN = VGG19.replace("    maxpool(2)\n", "    maxpool(2)\n    linear(3)\n", 1)  # line 5: Linear on a spatial tensor


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the CPython session saves its file
    return tmp_path


def table(page) -> list[list[str]]:
    return page.evaluate("[...document.querySelectorAll('[data-testid=report] tbody tr')].map(r => [...r.cells].map(c => c.textContent))")


def test_vgg19_shows_its_parameter_count(page, base_url):
    open_playground(page, base_url)
    report = page.get_by_test_id("report").inner_text()
    assert "143,667,240" in report
    assert "expect params == 143_667_240: met" in report
    assert page.get_by_test_id("diagnostics").inner_text() == ""
    page.wait_for_selector("[data-testid=diagram] svg")


def test_every_example_gives_the_cli_table(page, base_url, in_tmp):
    open_playground(page, base_url)
    for name in EXAMPLES:
        text = (ROOT / "examples" / name).read_text(encoding="utf-8")
        page.get_by_test_id("examples").select_option(name)
        page.wait_for_function("text => document.querySelector('[data-testid=source]').value === text", arg=text)
        wait_analyzed(page)
        expected = json.loads(session.analyze(text, name))
        assert table(page) == expected["rows"], name
        assert page.locator("[data-testid=report] .totals").inner_text() == "\n".join(expected["totals"])


def test_a_broken_shape_is_shown_at_its_line(page, base_url):
    open_playground(page, base_url)
    set_source(page, BROKEN)
    diagnostics = page.get_by_test_id("diagnostics")
    assert diagnostics.inner_text().startswith("vgg19.cnn:5:5: error[E305]: linear on the 2-D spatial tensor")
    assert diagnostics.get_attribute("data-lines") == "5"
    line = page.locator(".cm-content .cm-line").nth(4)
    assert line.locator(".cm-lintRange-error").inner_text() == "linear(3)"
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert page.get_by_test_id("report").get_attribute("data-stale") == "true"
    set_source(page, VGG19)
    assert diagnostics.inner_text() == ""
    assert page.get_by_test_id("report").get_attribute("data-stale") == "false"


def test_a_link_round_trips(page, base_url):
    text = (ROOT / "examples" / "lenet5.cnn").read_text(encoding="utf-8").replace("LeNet5", "Shared")
    open_playground(page, link.link(text, base_url))
    assert page.get_by_test_id("source").input_value() == text
    assert "Shared — model.cnn" in page.get_by_test_id("report").inner_text()
    edited = text + "\n# edited in the page: ünïcode ✓\n"
    old = page.evaluate("location.hash")
    set_source(page, edited)
    page.wait_for_function("old => location.hash !== old", arg=old)
    assert link.decode(page.evaluate("location.hash")) == edited


def test_a_damaged_link_falls_back_to_an_example(page, base_url):
    open_playground(page, base_url + "#src=AAAA")
    assert page.get_by_test_id("source").input_value() == VGG19
    assert "damaged" in page.get_by_test_id("notice").inner_text()


def test_downloads(page, base_url, in_tmp):
    open_playground(page, base_url)
    with page.expect_download() as cnn:
        page.get_by_test_id("download-cnn").click()
    assert cnn.value.suggested_filename == "vgg19.cnn"
    assert Path(cnn.value.path()).read_text(encoding="utf-8") == VGG19
    with page.expect_download() as python:
        page.get_by_test_id("download-py").click()
    assert python.value.suggested_filename == "vgg19.py"
    assert Path(python.value.path()).read_text(encoding="utf-8") == json.loads(session.codegen(VGG19, "vgg19.cnn"))["code"]


def _pygments_classes(text: str) -> list[list]:
    """Per line, the Pygments class of each character (None: whitespace)."""
    lines = [[]]
    for _, token_type, value in CnnspecLexer().get_tokens_unprocessed(text):
        style = highlight._style(token_type)
        for char in value:
            lines.append([]) if char == "\n" else lines[-1].append(style)
    return lines


def test_the_editor_highlights_as_the_pygments_lexer(page, base_url):
    open_playground(page, base_url)
    texts = [(ROOT / "examples" / name).read_text(encoding="utf-8") for name in EXAMPLES]
    texts.append("net Ünï {\n  input 3x8x8\n  x: conv(4, k=3) -> relu ~ 'a' \"b\" 1.5e3 5Mi\n}\n")
    classes = page.evaluate(
        """async texts => {
            const { compileRules, tokenizeLine } = await import("./editor.js");
            const rules = compileRules(await (await fetch("highlight.json")).json());
            return texts.map(text => text.split("\\n").map(line =>
                tokenizeLine(rules, line).flatMap(([piece, style]) => Array.from(piece).map(() => style))));
        }""",
        texts,
    )
    for text, page_lines in zip(texts, classes):
        pygments_lines = _pygments_classes(text)
        assert page_lines == pygments_lines
