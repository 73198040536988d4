"""Syntax highlighting for .cnn files: a Pygments lexer, registered as the `cnnspec` entry
point (`pygmentize -l cnnspec model.cnn`), and the colouring of source lines in diagnostics."""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from cnnspec.expressions import FUNCTIONS
from cnnspec.layers import MERGES, REGISTRY

KEYWORDS = ("input", "if", "else", "for", "in", "expect", "let", "assert")
DECLARATIONS = ("net", "block", "module")
CONSTANTS = ("true", "false", "none")
WORD_OPERATORS = ("and", "or", "not")
IDENTIFIER = r"[^\W\d]\w*"


class CnnspecLexer(RegexLexer):
    """The cnnspec architecture language (grammar/cnnspec.lark)."""

    name = "cnnspec"
    aliases = ["cnnspec", "cnn"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnnspec"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (rf"({'|'.join(DECLARATIONS)})(\s+)({IDENTIFIER})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"({IDENTIFIER})([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (r"(\d+)(:)", bygroups(Name.Label, Punctuation)),  # `12:`
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(WORD_OPERATORS, suffix=r"\b"), Operator.Word),
            (words(sorted({*REGISTRY, *MERGES}, key=len, reverse=True), suffix=r"\b"), Name.Builtin),
            (words(sorted(FUNCTIONS, key=len, reverse=True), suffix=r"(?=\s*\()"), Name.Function.Magic),
            (IDENTIFIER, Name),
            (r"\d+(x\d+)+\b", Number),  # a shape: 3x224x224
            (r"\d+(_\d+)*(\.\d+)?(Ki|Mi|Gi|K|M|G)\b", Number),  # 5M, 1.5Gi
            (r"\d+\.\d+([eE][-+]?\d+)?|\d+[eE][-+]?\d+", Number.Float),
            (r"\d+(_\d+)*", Number.Integer),
            (r"'[^'\n]*'|\"[^\"\n]*\"", String),
            (r"->|\.\.|==|!=|<=|>=|//|[<>=*/%+-]", Operator),
            (r"[(){}\[\],;:.]", Punctuation),
        ],
    }


def highlight_terminal(text: str) -> str:
    """One line of .cnn source with terminal colours (ANSI escapes only: the width is unchanged)."""
    from pygments import highlight
    from pygments.formatters import TerminalFormatter

    return highlight(text, CnnspecLexer(stripnl=False, ensurenl=False), TerminalFormatter())
