"""The README's generated tables (layers, diagnostic codes, examples) match the code."""

from pathlib import Path

from cnnspec.reference import render_blocks

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_are_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_blocks(readme, ROOT) == readme, "run: python -m cnnspec.reference README.md"
