"""`cnnspec fmt`'s canonical layout, re-emitted from the token stream so that comments survive.

The tokens (comments and newlines kept) are printed again with canonical spacing and
indentation; only whitespace changes, plus `;` between statements becoming a new line.
Canonical layout:

* 4 spaces per open bracket, counted from the line where the bracket was opened; a line
  that continues a statement after `->` or `,` (outside parentheses) 4 more;
* the body of a definition, `if`, `else` or `for`, and a `{ }` group whose statements span
  lines, have `{` ending its line and `}` starting one; a group on one line stays on one
  line, written `{a -> b}` (inside parentheses, where newlines are not statement ends,
  braces keep the user's line breaks);
* the user's other line breaks are kept (they are statement ends, or continuations);
  blank lines: at most one, none just inside brackets, exactly one between definitions;
* `a -> b`, `x = chain`, `name: layer`, `k=3` (no spaces around `=` inside parentheses),
  `f(a, b)`, `1..n`, `-1`, binary operators spaced;
* trailing comments aligned between blank lines, two spaces after the longest code with one.

Line breaks are never removed (runs of blank lines only shrink) and only added where the
grammar takes a statement separator (for a `;`, after a body's `{`, before its `}`, between
definitions), so formatting never changes what a file means (tests/test_fmt.py checks the
parsed graph).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from lark import Token

from cnnspec.diagnostics import CnnspecError
from cnnspec.source import Source

INDENT = 4
COMMENT_GAP = 2  # spaces between code and a trailing comment, at least

_OPENERS = {"LPAR": "RPAR", "LBRACE": "RBRACE", "LSQB": "RSQB"}
_CONTINUE_AFTER = {"_ARROW", "COMMA"}  # as parser.LineJoiner: a newline after these continues the line
_NO_SPACE_BEFORE = {"RPAR", "RSQB", "COMMA", "SEMICOLON", "COLON", "DOT"}
_CALLABLE = {"NAME", "ADD", "CAT", "MUL"}  # `f(` and `add(`, without a space
_OPERAND_END = {"RPAR", "RBRACE", "RSQB", "TRUE", "FALSE", "NONE", "IN"}  # besides names and literals
_RANGE = ".."
_GROUP_AFTER = {"COLON", "_ARROW", "EQUAL", "LPAR", "COMMA", "LBRACE", "_NL", "SEMICOLON"}
_ITEM_START = _GROUP_AFTER - {"COLON", "EQUAL"}  # where a label may start
_LABEL_PIECES = {"NAME", "INT"}


def lex(text: str) -> list[Token]:
    """Every token of `text`, comments and newlines included, whitespace left out.

    Raises lark's UnexpectedCharacters where the text cannot be lexed (parse first).
    """
    from lark.lexer import LexerThread

    tokens = LexerThread.from_text(_lexer(), text).lex(None)
    return [token for token in tokens if token.type == "COMMENT" or not token.type.startswith("__IGNORE")]


@lru_cache(maxsize=1)
def _lexer():
    """The grammar's terminals, none ignored, without the parser's LineJoiner."""
    from cnnspec.parser import lark_parser

    return lark_parser()._build_lexer(dont_ignore=True)


class _Line(NamedTuple):
    indent: int
    code: str
    comment: str | None


class _Brace(NamedTuple):
    multiline: bool  # `{` ends its line and `}` starts one
    label_index: bool  # the braces of `name{i}:`


class _Open(NamedTuple):
    """An open bracket: its type, the indentation of the line it is on, its layout if a brace."""

    kind: str
    indent: int
    brace: _Brace | None


def _matching(tokens: list[Token]) -> dict[int, int]:
    """Index of each opening bracket -> index of its closing bracket."""
    pairs, stack = {}, []
    for index, token in enumerate(tokens):
        if token.type in _OPENERS:
            stack.append(index)
        elif token.type in _OPENERS.values() and stack:
            pairs[stack.pop()] = index
    return pairs


def _previous(tokens: list[Token], index: int, skipped: tuple[str, ...]) -> Token | None:
    """The last token before `index` that is not of a `skipped` type."""
    for before in range(index - 1, -1, -1):
        if tokens[before].type not in skipped:
            return tokens[before]
    return None


def _labels(tokens: list[Token], pairs: dict[int, int]) -> set[int]:
    """The indices of the tokens of labels written in pieces (`block{i}-{j}:`, `x1-0:`, `12:`),
    the `{expr}` parts' own contents excepted: they stay written without spaces."""
    found: set[int] = set()
    for index, token in enumerate(tokens):
        if token.type != "INT" and not str(token).isidentifier():  # keywords lex as such here: `block{i}:`
            continue
        previous = _previous(tokens, index, ("COMMENT",))
        if previous is not None and previous.type not in _ITEM_START:
            continue
        pieces, at = [index], index
        while at + 1 < len(tokens) and tokens[at + 1].start_pos == tokens[at].end_pos:
            following = tokens[at + 1]
            if following.type == "COLON":
                if len(pieces) > 1 or token.type == "INT":
                    found.update(pieces)
                break
            if following.type == "LBRACE" and at + 1 in pairs:
                pieces += [at + 1, pairs[at + 1]]
                at = pairs[at + 1]
            elif following.type in _LABEL_PIECES or str(following) == "-" or str(following).isidentifier():
                pieces.append(at + 1)
                at += 1
            else:
                break
    return found


def _braces(tokens: list[Token], labels: set[int]) -> dict[int, _Brace]:
    """How each `{` is laid out. Newlines inside parentheses are not statement ends (the
    parser drops them), so a group inside parentheses always stays as the user wrote it."""
    pairs = _matching(tokens)
    braces: dict[int, _Brace] = {}
    parens = 0
    for index, token in enumerate(tokens):
        if token.type == "LPAR":
            parens += 1
        elif token.type == "RPAR":
            parens -= 1
        elif token.type == "LBRACE":
            close = pairs.get(index, len(tokens))
            after = tokens[close + 1] if close + 1 < len(tokens) else None
            previous = _previous(tokens, index, ("_NL", "COMMENT"))
            label_index = index in labels or (
                previous is not None and previous.type == "NAME" and after is not None and after.type == "COLON"
            )
            breaks = _is_body(tokens, index) or _has_statement_break(tokens[index + 1 : close])
            braces[index] = _Brace(parens == 0 and not label_index and breaks, label_index)
    return braces


def _is_body(tokens: list[Token], index: int) -> bool:
    """Whether the `{` at `index` opens the body of a definition, `if`, `else` or `for`
    (after its header), not a group (after `:`, `->`, `=`, `(`, `,` or at a statement's start)."""
    previous = _previous(tokens, index, ("COMMENT",))
    return previous is not None and previous.type not in _GROUP_AFTER


def _has_statement_break(tokens: list[Token]) -> bool:
    parens = 0
    for token in tokens:
        parens += (token.type == "LPAR") - (token.type == "RPAR")
        if parens == 0 and token.type in ("_NL", "SEMICOLON"):
            return True
    return False


def _is_operand_end(token: Token) -> bool:
    """Whether a `-` after this token is binary: after a name, a literal, `)` or `}`."""
    if token.type in _OPERAND_END:
        return True
    word = str(token)
    is_keyword = token.type != "NAME" and word.isalpha() and token.type == word.upper()
    return not is_keyword and (word[:1].isalnum() or word[:1] in "_'\"")


class _Formatter:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.labels = _labels(tokens, _matching(tokens))
        self.braces = _braces(tokens, self.labels)
        self.lines: list[_Line | None] = []  # None: a blank line
        self.stack: list[_Open] = []
        self.indent = 0
        self.code = ""
        self.comment: str | None = None
        self.previous: Token | None = None  # the last code token
        self.unary = False  # the last code token is a unary minus
        self.newlines = 0  # newlines since the last token that was not one
        self.pending_break = False  # the current line ends before the next code token
        self.blank_wanted = False  # one blank line before the next line (after a definition)
        self.line_opened = False  # the last line's code ends with an opening bracket

    def run(self) -> str:
        for index, token in enumerate(self.tokens):
            self.token(index, token)
        self.end_line()
        return _render(self.lines)

    def token(self, index: int, token: Token) -> None:
        kind = token.type
        if kind == "_NL":
            self.newlines += str(token).count("\n")
            self.end_line()
            return
        if kind == "COMMENT":
            if self.code and not self.newlines:  # a trailing comment, also after a `{` or `;` that ends the line
                self.comment = str(token).rstrip()
                return
            self.start_line(token, is_comment=True)
            self.comment = str(token).rstrip()
            self.end_line()
            return
        if kind == "SEMICOLON" and not self.in_parens():
            self.pending_break = True
            return
        brace = self.braces.get(index) if kind == "LBRACE" else None
        closing = self.stack[-1] if kind in ("RPAR", "RBRACE") and self.stack else None
        if self.pending_break or self.newlines or (closing is not None and closing.brace is not None and closing.brace.multiline):
            self.end_line()
        if not self.code:
            self.start_line(token)
        else:
            self.code += " " * self.space_before(index, token)
        self.code += str(token)
        self.after(kind, token, brace)

    def after(self, kind: str, token: Token, brace: _Brace | None) -> None:
        """Update the brackets, and what the next token needs, after emitting `token`."""
        if kind in _OPENERS:
            self.stack.append(_Open(kind, self.indent, brace))
            self.pending_break = brace is not None and brace.multiline
        elif kind in _OPENERS.values() and self.stack:
            self.stack.pop()
            if kind == "RBRACE" and not self.stack:  # the end of a definition
                self.pending_break = self.blank_wanted = True
        self.unary = str(token) == "-" and (self.previous is None or not _is_operand_end(self.previous))
        self.previous = token

    def in_parens(self) -> bool:
        return any(opened.kind == "LPAR" for opened in self.stack)

    def start_line(self, token: Token, is_comment: bool = False) -> None:
        closes = not is_comment and token.type in _OPENERS.values() and self.stack
        if closes:
            self.indent = self.stack[-1].indent
        else:
            self.indent = self.stack[-1].indent + INDENT if self.stack else 0
            continued = self.previous is not None and self.previous.type in _CONTINUE_AFTER
            if continued and not (self.stack and self.stack[-1].kind in ("LPAR", "LSQB")):
                self.indent += INDENT
        if self.lines and (self.blank_wanted or (self.newlines > 1 and not self.line_opened and not closes)):
            self.lines.append(None)
        self.blank_wanted = False
        self.newlines = 0
        self.pending_break = False

    def end_line(self) -> None:
        if self.code or self.comment:
            self.lines.append(_Line(self.indent, self.code, self.comment))
            self.line_opened = bool(self.code) and self.previous is not None and self.previous.type in _OPENERS
        self.code, self.comment = "", None
        self.pending_break = False

    def space_before(self, index: int, token: Token) -> bool:
        kind, before = token.type, self.previous
        if before is None or kind in _NO_SPACE_BEFORE or self.unary:
            return False
        if index in self.labels and index - 1 in self.labels:
            return False  # `block{i}-{j}:`
        if before.type == "DOT" or (before.type == "COLON" and self.stack and self.stack[-1].kind == "LSQB"):
            return False  # `in.channels`, `xs[1:3]`
        if before.type in _OPENERS or kind in _OPENERS.values():
            return False  # `f(a)`, `{a -> b}`: a multi-line brace's contents are on their own lines
        if str(token) == _RANGE or str(before) == _RANGE:
            return False
        if kind == "EQUAL" or before.type == "EQUAL":
            return not (self.stack and self.stack[-1].kind == "LPAR")  # `k=3` in a call, `x = chain` in a body
        if kind == "LSQB":
            return not _is_operand_end(before)  # `xs[0]`, but `+ [1, 2]`
        if kind == "LPAR":
            return before.type not in _CALLABLE
        if kind == "LBRACE":
            return not self.braces[index].label_index
        return True


def _render(lines: list[_Line | None]) -> str:
    """The lines as text; in each paragraph (lines between blank lines), trailing comments aligned."""
    paragraphs: list[list[_Line]] = [[]]
    for line in lines:
        if line is None:
            paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    return "\n".join("".join(text + "\n" for text in _paragraph(paragraph)) for paragraph in paragraphs if paragraph)


def _paragraph(lines: list[_Line]) -> list[str]:
    widths = [line.indent + len(line.code) for line in lines if line.code and line.comment]
    column = max(widths, default=0) + COMMENT_GAP
    out = []
    for line in lines:
        code = " " * line.indent + line.code
        if line.comment is None:
            out.append(code)
        else:
            out.append((code.ljust(column) if line.code else code) + line.comment)
    return out


def format_text(text: str) -> str:
    """The canonical layout of a file's text, which must parse (see format_source)."""
    return _Formatter(lex(text)).run()


def format_source(source: Source) -> str:
    """The canonical layout of a source file. Raises CnnspecError (parser.SyntaxErrors) if it does not parse."""
    _parse(source)
    formatted = format_text(source.text)
    try:  # a bug here must never cost a user their file: the caller reports it and writes nothing
        _parse(Source(source.path, formatted))
    except CnnspecError as exc:
        raise AssertionError(f"the formatted text does not parse ({exc.diagnostic.message})") from None
    return formatted


def _parse(source: Source) -> None:
    """Raise parser.SyntaxErrors if the text does not parse. A text the fast parser takes
    parses (cnnspec.fastparse); only the others are left to Lark, which reports the errors."""
    from cnnspec.fastparse import parse_definitions

    if parse_definitions(source.text) is None:
        from cnnspec.parser import parse

        parse(source)
