"""`cnnspec check --format markdown` reproduces the seed's VGG19 table cell by cell."""

import re
from pathlib import Path

from click.testing import CliRunner

from cnnspec.cli import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "vgg19-table.md"


def table_cells(markdown: str) -> list[list[str]]:
    """The cells of every table row except the |---| separator, LaTeX `$a \\times b$` as `a × b`."""
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("|") or re.fullmatch(r"\|[-| ]+\|", line.strip()):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append([re.sub(r"\$(.*?)\$", r"\1", cell).replace(r" \times ", " × ") for cell in cells])
    return rows


def test_markdown_reproduces_the_seed_table():
    result = CliRunner().invoke(cli, ["check", str(ROOT / "examples" / "vgg19.cnn"), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    expected = table_cells(FIXTURE.read_text(encoding="utf-8"))
    actual = table_cells(result.output)
    assert len(actual) == len(expected) == 28  # header, rows 0-21, flattening, 22-24, totals
    for expected_row, actual_row in zip(expected, actual):
        assert actual_row == expected_row


def test_the_fixture_holds_the_seed_totals():
    last = table_cells(FIXTURE.read_text(encoding="utf-8"))[-1]
    assert last[3:] == ["Total: 16,391,656", "Total: 143,667,240"]
