"""The VS Code extension (editors/vscode/): its TextMate grammar gives every keyword and layer
spelling the scope of its Pygments token class, and is what generate_grammar.py writes."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from cnnspec.layers import MERGES, REGISTRY
from cnnspec.lexer import CONSTANTS, DECLARATIONS, KEYWORDS, WORD_OPERATORS
from tests.helpers import ROOT

EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((EXTENSION / "syntaxes" / "cnnspec.tmLanguage.json").read_text(encoding="utf-8"))

# Pygments token class (cnnspec.lexer) -> the TextMate scope the grammar gives it
EXPECTED = {
    "keyword.control.cnnspec": KEYWORDS,
    "storage.type.cnnspec": DECLARATIONS,
    "constant.language.cnnspec": CONSTANTS,
    "keyword.operator.logical.cnnspec": WORD_OPERATORS,
    "support.function.layer.cnnspec": (*REGISTRY, *MERGES),
}


def scope_of(word: str, context: str = "{word}(") -> str | None:
    """The scope the grammar gives `word` where it stands in `context`, tokenising the line as a
    TextMate engine does: from the left, the pattern that matches earliest (the first listed on a
    tie) takes its text. These patterns are plain Python regexes too."""
    line = context.format(word=word)
    at, position = line.index(word), 0
    patterns = [(re.compile(p["match"]), p) for p in GRAMMAR["patterns"]]
    while position <= at:
        found = [(m.start(), index, m, p) for index, (regex, p) in enumerate(patterns) if (m := regex.search(line, position))]
        if not found:
            return None
        _, _, match, pattern = min(found, key=lambda f: (f[0], f[1]))
        if match.end() > at:
            if "captures" in pattern:
                spans = {int(k): v["name"] for k, v in pattern["captures"].items()}
                return next((name for k, name in spans.items() if match.span(k) == (at, at + len(word))), None)
            return pattern["name"] if match.span() == (at, at + len(word)) else None
        position = max(match.end(), position + 1)
    return None


@pytest.mark.parametrize("scope", sorted(EXPECTED))
def test_every_word_has_its_scope(scope):
    context = "{word} Name {{" if scope == "storage.type.cnnspec" else "x = {word} y"
    wrong = {word: scope_of(word, context) for word in EXPECTED[scope] if scope_of(word, context) != scope}
    assert not wrong, f"these words get another scope than {scope}: {wrong}"


def test_a_label_and_a_definition_name():
    assert scope_of("conv1", "    {word}: conv(64)") == "entity.name.tag.label.cnnspec"
    assert scope_of("ResNet", "net {word}(classes=1000) {{") == "entity.name.function.cnnspec"


def test_the_grammar_is_generated_from_the_lexer():
    spec = importlib.util.spec_from_file_location("generate_grammar", EXTENSION / "generate_grammar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.text() == (EXTENSION / "syntaxes" / "cnnspec.tmLanguage.json").read_text(encoding="utf-8"), (
        "run: python editors/vscode/generate_grammar.py"
    )


def test_the_manifest_names_the_grammar_and_the_server():
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    assert language["extensions"] == [".cnn"] and (EXTENSION / language["configuration"]).exists()
    (grammar,) = manifest["contributes"]["grammars"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] and (EXTENSION / grammar["path"]).exists()
    assert manifest["contributes"]["configuration"]["properties"]["cnnspec.server.args"]["default"] == ["lsp"]
    configuration = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"
    assert "cnnspec lsp" in (EXTENSION / "extension.js").read_text(encoding="utf-8")
