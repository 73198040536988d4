"""The Lark parser, built once and cached on disk; syntax errors become diagnostics."""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cnnspec import __version__
from cnnspec.diagnostics import CnnspecError, error
from cnnspec.source import Source, Span

MAX_NESTING = 200

_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "SHAPE": "a shape like 3x224x224",
    "_NL": "a new line",
    "SEMICOLON": "';'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "_ARROW": "'->'",
    "STAR": "'*'",
    "MERGE_OP": "add/cat/mul",
    "BLOCK_KW": "'block' or 'module'",
    "$END": "the end of the file",
}


def grammar_path() -> Path:
    """The grammar ships inside the wheel next to this module; in a source tree it is in grammar/."""
    here = Path(__file__).resolve().parent
    packaged = here / "cnnspec.lark"
    return packaged if packaged.exists() else here.parent / "grammar" / "cnnspec.lark"


class LineJoiner:
    """Drops newlines inside parentheses and after '->' or ',' so statements may span lines."""

    always_accept = ("_NL",)
    _CONTINUE_AFTER = {"_ARROW", "COMMA"}

    def process(self, stream):
        depth = 0
        previous = None
        for token in stream:
            kind = token.type
            if kind == "_NL" and (depth > 0 or previous in self._CONTINUE_AFTER):
                continue
            if kind == "LPAR":
                depth += 1
            elif kind == "RPAR":
                depth = max(0, depth - 1)
            previous = kind
            yield token


def _cache_file(grammar_text: str) -> str | None:
    digest = hashlib.sha256((__version__ + grammar_text).encode()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "cnnspec")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        folder = tempfile.gettempdir()
    return os.path.join(folder, f"grammar-{digest}.lark.cache")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    text = grammar_path().read_text(encoding="utf-8")
    options = dict(parser="lalr", propagate_positions=True, postlex=LineJoiner(), maybe_placeholders=False)
    try:
        return Lark(text, cache=_cache_file(text), **options)
    except OSError:
        return Lark(text, **options)


def _nesting_error(source: Source) -> None:
    """Reject input nested deeper than MAX_NESTING brackets before parsing it."""
    depth = 0
    line, column = 1, 1
    for char in source.text:
        if char in "({":
            depth += 1
            if depth > MAX_NESTING:
                span = Span(line, column, line, column + 1)
                raise CnnspecError(error("E102", f"nesting deeper than {MAX_NESTING} levels", span))
        elif char in ")}":
            depth -= 1
        if char == "\n":
            line, column = line + 1, 1
        else:
            column += 1


def _describe_expected(expected) -> str:
    words = sorted({_TOKEN_WORDS.get(name, repr(name.lower())) for name in expected})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "a new line"
    return repr(str(token))


def syntax_diagnostic(exc: UnexpectedInput, source: Source):
    if isinstance(exc, UnexpectedCharacters):
        char = source.text[exc.pos_in_stream] if exc.pos_in_stream < len(source.text) else ""
        span = Span(exc.line, exc.column, exc.line, exc.column + 1)
        return error("E100", f"unexpected character {char!r}", span)
    if isinstance(exc, UnexpectedEOF):
        lines = source.text.splitlines() or [""]
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return error("E100", f"unexpected end of file; expected {_describe_expected(exc.expected)}", span)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    line = token.line if token.line is not None else 1
    column = token.column if token.column is not None else 1
    end = column + max(1, len(str(token))) if token.type != "_NL" else column + 1
    message = f"unexpected {_token_text(token)}; expected {_describe_expected(exc.expected)}"
    return error("E100", message, Span(line, column, line, end))


def parse(source: Source) -> Tree:
    """Parse a source file. Raises CnnspecError with a diagnostic on a syntax error."""
    _nesting_error(source)
    try:
        return lark_parser().parse(source.text + "\n")
    except UnexpectedInput as exc:
        raise CnnspecError(syntax_diagnostic(exc, source)) from None
