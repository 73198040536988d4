"""Write syntaxes/cnnspec.tmLanguage.json, the TextMate grammar, from the Pygments lexer's word
lists and the layer registry (one place for the language's words: cnnspec/lexer.py and
cnnspec/layers). Run from the repository root after adding a layer or a keyword:

    python editors/vscode/generate_grammar.py

tests/test_vscode.py fails while the committed grammar differs from what this writes.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GRAMMAR = os.path.join(HERE, "syntaxes", "cnnspec.tmLanguage.json")


def words(names) -> str:
    return r"\b(?:" + "|".join(sorted(names, key=lambda n: (-len(n), n))) + r")\b"


def grammar() -> dict:
    from cnnspec.layers import MERGES, REGISTRY
    from cnnspec.lexer import CONSTANTS, DECLARATIONS, IDENTIFIER, KEYWORDS, WORD_OPERATORS

    identifier = IDENTIFIER  # [^\W\d]\w*: Oniguruma (TextMate) reads it as Python does
    # The same token classes as the Pygments lexer (cnnspec.lexer.CnnspecLexer), in its order.
    patterns = [
        {"name": "comment.line.number-sign.cnnspec", "match": "#.*$"},
        {
            "match": rf"\b({'|'.join(DECLARATIONS)})\s+({identifier})",
            "captures": {"1": {"name": "storage.type.cnnspec"}, "2": {"name": "entity.name.function.cnnspec"}},
        },
        {
            "match": rf"({identifier})[ \t]*(:)(?!:)",
            "captures": {"1": {"name": "entity.name.tag.label.cnnspec"}, "2": {"name": "punctuation.separator.cnnspec"}},
        },
        {"name": "keyword.control.cnnspec", "match": words(KEYWORDS)},
        {"name": "constant.language.cnnspec", "match": words(CONSTANTS)},
        {"name": "keyword.operator.logical.cnnspec", "match": words(WORD_OPERATORS)},
        {"name": "support.function.layer.cnnspec", "match": words({*REGISTRY, *MERGES})},
        {"name": "variable.other.cnnspec", "match": identifier},
        {"name": "constant.numeric.shape.cnnspec", "match": r"\b\d+(?:x\d+)+\b"},
        {"name": "constant.numeric.suffixed.cnnspec", "match": r"\b\d+(?:_\d+)*(?:\.\d+)?(?:Ki|Mi|Gi|K|M|G)\b"},
        {"name": "constant.numeric.float.cnnspec", "match": r"\b(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)\b"},
        {"name": "constant.numeric.integer.cnnspec", "match": r"\b\d+(?:_\d+)*\b"},
        {"name": "string.quoted.cnnspec", "match": r"'[^'\n]*'|\"[^\"\n]*\""},
        {"name": "keyword.operator.cnnspec", "match": r"->|\.\.|==|!=|<=|>=|//|[<>=*/%+-]"},
        {"name": "punctuation.cnnspec", "match": r"[(){},;:]"},
    ]
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "cnnspec",
        "scopeName": "source.cnnspec",
        "fileTypes": ["cnn"],
        "patterns": patterns,
    }


def text() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    with open(GRAMMAR, "w", encoding="utf-8") as handle:
        handle.write(text())
    print(f"wrote {os.path.relpath(GRAMMAR)}")
