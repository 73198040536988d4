"""The Lark parser, built once and cached on disk: syntax errors become diagnostics, and its
parse tree becomes cnnspec.syntax's nodes. cnnspec.fastparse takes well-formed files first."""

from __future__ import annotations

import hashlib
import os
import re
from contextvars import ContextVar
from functools import lru_cache
from typing import NamedTuple

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cnnspec import __version__
from cnnspec.diagnostics import CnnspecError, Note, error
from cnnspec.source import Source, Span
from cnnspec.syntax import (
    MAX_NESTING,
    Apply,
    Arg,
    Assert,
    Assign,
    Attribute,
    Binary,
    Call,
    Chain,
    Conditional,
    Definition,
    Expect,
    For,
    Group,
    If,
    Index,
    InputDecl,
    InputRef,
    Item,
    Label,
    Let,
    ListExpr,
    Literal,
    Merge,
    Param,
    Paren,
    Slice,
    TupleExpr,
    Unary,
    Var,
    Variant,
    float_literal,
    int_literal,
    suffixed_literal,
)

MAX_SYNTAX_ERRORS = 20  # after that many, the rest of the file is not parsed

# How a terminal is named in "expected ..." lists; terminals in a group are merged into one phrase.
_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "SUFFIXED": "a number",
    "STRING": "a string",
    "SHAPE": "a shape like 3x224x224",
    "_NL": "a new line",
    "SEMICOLON": "a new line",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "DOT": "'.'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "_ARROW": "'->'",
    "STAR": "'*'",
    "__ANON_0": "'..'",
    "MINUS": "'-'",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'/', '//' or '%'",
    "COMP_OP": "a comparison",
    "$END": "the end of the file",
}
_EXPRESSION_START = {"INT", "SUFFIXED", "FLOAT", "STRING", "NAME", "LPAR", "LSQB", "MINUS", "NOT", "TRUE", "FALSE", "NONE", "IN"}
_LAYER_START = {"NAME", "INT", "ADD", "CAT", "MUL", "IN", "LPAR", "LBRACE"}  # INT: a label such as `12:`
_STATEMENT_START = _LAYER_START | {"IF", "FOR", "INPUT", "EXPECT", "ASSERT"}
_OPERATORS = {"STAR", "ADD_OP", "MUL_OP", "COMP_OP", "AND", "OR", "DOT", "LSQB"}  # `.`, `[`: x.channels, xs[0]
_DEFINITION_KEYWORDS = {"NET", "BLOCK", "MODULE"}
# The order of the phrases in "expected ...": the likeliest fix first.
_ORDER = [
    "')'",
    "','",
    "'->'",
    "':'",
    "'='",
    "'..'",
    "a value",
    "a layer",
    "a statement",
    "a definition (net, block or module)",
    "an operator",
    "'*'",
    "'{'",
    "'}'",
    "a new line",
    "the end of the file",
]
_CLOSERS = {"RPAR": "LPAR", "RBRACE": "LBRACE"}
_TENSOR_BINDING = re.compile(r"[ \t]*([^\W\d]\w*)[ \t]*=(?!=)")
_DEFINITION_START = re.compile(r"^[ \t]*(net|block|module)[ \t]+[^\W\d]\w*", re.MULTILINE)


def grammar_path() -> str:
    """The grammar ships inside the wheel next to this module; in a source tree it is in grammar/."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "cnnspec.lark")
    return packaged if os.path.exists(packaged) else os.path.join(os.path.dirname(here), "grammar", "cnnspec.lark")


_SOURCE_TEXT: ContextVar[str] = ContextVar("cnnspec_source_text", default="")
# What can start a line that continues the statement before it: '->', an operator, a closer, `else`.
_CONTINUATION = re.compile(r"(?:[ \t\f\r\n]|#[^\n]*)*(?:->|[-+*/%<>=!(){}\[\],.:]|(?:else|and|or|in)(?!\w))")


class LineJoiner:
    """Drops newlines inside parentheses and brackets and after '->' or ',' so statements may span lines.

    Inside a `{ }` group that stands within parentheses (a merge operand), a newline separates
    statements again, as it does outside parentheses, where the line can end: after a token that
    can end a statement, and before a line that does not continue it: one that starts with '->',
    an operator, a bracket, ':' or `else` continues, as it always did there.
    The next line is read from the source text (the parser's lexer cannot look ahead).
    """

    always_accept = ("_NL",)
    _CONTINUE_AFTER = {"_ARROW", "COMMA"}
    _ENDS = {"NAME", "INT", "FLOAT", "SUFFIXED", "STRING", "SHAPE", "RPAR", "RBRACE", "RSQB", "TRUE", "FALSE", "NONE", "IN"}
    _OPENERS = {"LPAR", "LSQB", "LBRACE"}

    def process(self, stream):
        stack: list[str] = []  # the open brackets
        previous = None
        for token in stream:
            kind = token.type
            if kind == "_NL":
                if previous in self._CONTINUE_AFTER or (stack and not self._separates(stack, previous, token)):
                    continue
            elif kind in self._OPENERS:
                stack.append(kind)
            elif kind in ("RPAR", "RSQB", "RBRACE") and stack:
                stack.pop()
            previous = kind
            yield token

    def _separates(self, stack: list[str], previous, newline) -> bool:
        """Whether a newline inside brackets ends a statement."""
        if stack[-1] != "LBRACE":
            return False
        if "LPAR" not in stack and "LSQB" not in stack:
            return True  # a group outside parentheses: as at the top level
        if previous not in self._ENDS:
            return False
        text = _SOURCE_TEXT.get()
        end = newline.end_pos if newline.end_pos is not None else len(text)
        return not _CONTINUATION.match(text, end)


def _cache_file(grammar_text: str) -> str | None:
    digest = hashlib.sha256((__version__ + grammar_text).encode()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "cnnspec")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        import tempfile

        folder = tempfile.gettempdir()
    return os.path.join(folder, f"grammar-{digest}.lark.cache")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    with open(grammar_path(), encoding="utf-8") as handle:
        text = handle.read()
    options = dict(parser="lalr", propagate_positions=True, postlex=LineJoiner(), maybe_placeholders=False)
    try:
        return Lark(text, cache=_cache_file(text), **options)
    except OSError:
        return Lark(text, **options)


# A comment (to the end of the line), a string (to its quote or the end of the line) or a bracket.
_COMMENT_STRING_OR_BRACKET = re.compile(r"#[^\n]*|'[^'\n]*'?|\"[^\"\n]*\"?|[(){}]")


def _code_brackets(text: str, start: int = 0):
    """(offset, char) of each bracket in `text` from `start`, skipping comments and strings."""
    for match in _COMMENT_STRING_OR_BRACKET.finditer(text, start):
        char = match.group()
        if char in ("(", ")", "{", "}"):
            yield match.start(), char


def _nesting_error(source: Source) -> None:
    """Reject input nested deeper than MAX_NESTING brackets before parsing it."""
    depth = 0
    for offset, char in _code_brackets(source.text):
        depth += 1 if char in "({" else -1
        if depth > MAX_NESTING:
            line = source.text.count("\n", 0, offset) + 1
            column = offset - source.text.rfind("\n", 0, offset)
            span = Span(line, column, line, column + 1)
            raise CnnspecError(error("E102", f"nesting deeper than {MAX_NESTING} levels", span))


def _describe_expected(expected) -> str:
    """Terminal names -> words: `')', ',' or an operator`, `a layer`, `a statement or '}'`."""
    names = set(expected)
    phrases = []
    if names & _DEFINITION_KEYWORDS:
        names -= _DEFINITION_KEYWORDS | {"_NL", "$END"}
        phrases.append("a definition (net, block or module)")
    if {"IF", "FOR"} <= names:
        names -= _STATEMENT_START
        phrases.append("a statement")
    elif {"ADD", "CAT"} <= names:
        names -= _LAYER_START
        phrases.append("a layer")
    if "INT" in names and "NAME" in names:
        names -= _EXPRESSION_START
        phrases.append("a value")
    if len(names & _OPERATORS) >= 2:
        names -= _OPERATORS | ({"IF"} if "FOR" not in names else set())  # `a if c else b`
        phrases.append("an operator")
    phrases += [_TOKEN_WORDS.get(name, repr(name.lower())) for name in sorted(names)]
    phrases = sorted(dict.fromkeys(phrases), key=lambda p: (_ORDER.index(p) if p in _ORDER else len(_ORDER), p))
    if not phrases:
        return "something else"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    return repr(str(token))


def _token_span(token: Token) -> Span:
    line = token.line if token.line is not None else 1
    column = token.column if token.column is not None else 1
    width = 1 if token.type in ("_NL", "$END") else max(1, len(str(token)))
    return Span(line, column, line, column + width)


def _tokens_before(text: str, offset: int) -> list[Token]:
    """The tokens of text[:offset] (newlines inside parentheses dropped); [] if it cannot be lexed."""
    tokens: list[Token] = []
    reset = _SOURCE_TEXT.set(text)
    try:
        tokens.extend(lark_parser().lex(text[:offset]))  # keeps the tokens lexed before a failure
    except UnexpectedInput:
        pass
    finally:
        _SOURCE_TEXT.reset(reset)
    return tokens


def _open_delimiters(tokens: list[Token]) -> list[Token]:
    """The '(' and '{' tokens still open after `tokens`, outermost first."""
    stack: list[Token] = []
    for token in tokens:
        if token.type in ("LPAR", "LBRACE"):
            stack.append(token)
        elif token.type in _CLOSERS and stack:
            stack.pop()
    return stack


def _never_closed(text: str, opener: Token) -> bool:
    """Whether an open '(' or '{' is still unmatched when an enclosing bracket closes or the file ends.

    A character scan (comments and strings skipped), so that a bad character further on does not matter.
    """
    pairs = {")": "(", "}": "{"}
    stack = []
    for _, char in _code_brackets(text, opener.start_pos):
        if char in "({":
            stack.append(char)
        elif stack.pop() != pairs[char]:
            return True
        elif not stack:
            return False
    return True


def _opener_note(opener: Token) -> Note:
    return Note(f"the {str(opener)!r} opened here is never closed", _token_span(opener))


def _definition_at(text: str, line_start: int, offset: int):
    """The definition keyword that starts the line of `offset`, if the line starts one before `offset`."""
    match = _DEFINITION_START.match(text, line_start)
    return match if match and match.start(1) <= offset else None


def _enclosing_definition(tokens: list[Token]) -> str:
    """`block 'b'` for the last definition header among the tokens."""
    for index in range(len(tokens) - 2, -1, -1):
        if tokens[index].type in _DEFINITION_KEYWORDS and tokens[index + 1].type == "NAME":
            return f"{tokens[index]!s} '{tokens[index + 1]}'"
    return "the definition above"


def syntax_diagnostic(exc: UnexpectedInput, source: Source):
    """One E100 diagnostic for a Lark error, pointing where the fix belongs where that is clear."""
    text = source.text
    offset = min(exc.pos_in_stream if exc.pos_in_stream is not None else len(text), len(text))
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        offset = len(text)
    tokens = _tokens_before(text, offset)
    stack = _open_delimiters(tokens)
    previous = tokens[-1] if tokens else None
    line_start = text.rfind("\n", 0, offset) + 1

    header = _definition_at(text, line_start, offset)
    if header is not None and stack:  # `net N {` while the definition before is still open
        keyword_tokens = _tokens_before(text, header.start(1))
        open_before = _open_delimiters(keyword_tokens)
        if open_before:
            opener = open_before[-1]
            closer = "}" if opener.type == "LBRACE" else ")"
            line = text.count("\n", 0, header.start(1)) + 1
            column = header.start(1) - line_start + 1
            span = Span(line, column, line, column + len(header.group(1)))
            message = f"missing '{closer}': {_enclosing_definition(keyword_tokens)} is not closed before this {header.group(1)}"
            return error("E100", message, span, (_opener_note(opener),))

    if isinstance(exc, UnexpectedCharacters):
        char = text[offset] if offset < len(text) else ""
        span = Span(exc.line, exc.column, exc.line, exc.column + 1)
        message = f"unexpected character {char!r}" + _character_hint(char)
        unclosed = stack and stack[-1].type == "LPAR" and char not in "'\"" and _never_closed(text, stack[-1])
        notes = (_opener_note(stack[-1]),) if unclosed else ()
        return error("E100", message, span, notes)

    if isinstance(exc, UnexpectedEOF):
        lines = text.split("\n")
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        notes = (_opener_note(stack[-1]),) if stack else ()
        return error("E100", f"unexpected end of file; expected {_describe_expected(exc.expected)}", span, notes)

    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected = exc.accepts or exc.expected  # accepts: what the parser takes after its reductions
    wanted = _describe_expected(expected)
    found = _token_text(token)
    span = _token_span(token)
    if token.type == "$END":
        lines = text.split("\n")
        while len(lines) > 1 and not lines[-1].strip():  # just after the last line with text
            lines.pop()
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
    notes = ()
    opener = stack[-1] if stack else None
    unclosed = opener is not None and _never_closed(text, opener)
    if token.type == "$END" and opener is not None and opener.type == "LBRACE" and "RBRACE" in expected:
        wanted = "'}'"  # at the end of the file, closing the brace is the fix
    if token.type in _CLOSERS and not any(t.type == _CLOSERS[token.type] for t in stack):
        message = f"unmatched {found}; expected {wanted}"
    elif opener is not None and opener.type == "LPAR" and unclosed and previous is not None and token.line > previous.line:
        # The newline after an unclosed '(' was taken as a continuation: point at the '('.
        message = f"this '(' is never closed (found {found} on line {token.line}; expected {wanted})"
        return error("E100", message, _token_span(opener))
    else:
        message = f"unexpected {found}; expected {wanted}"
        if previous is not None and previous.type == "_ARROW":
            message += " after '->'"
        if token.type == "NAME" and previous is not None and previous.type == "INT" and re.fullmatch(r"x\d+(x\d+)*", str(token)):
            message += f"; write a size per axis as a tuple, e.g. ({previous!s}, {str(token)[1:].replace('x', ', ')})"
        binding = _TENSOR_BINDING.match(text, line_start)
        if binding is not None and offset > binding.end():
            message += f"; `{binding.group(1)} = ...` names a tensor: to name a value write `let {binding.group(1)} = ...`"
    if unclosed and (token.type == "$END" or opener.type == "LPAR"):
        notes = (_opener_note(opener),)
    return error("E100", message, span, notes)


def _character_hint(char: str) -> str:
    if char in "'\"":
        return "; a string must end on the line it starts"
    if char == "×":
        return "; write shapes with the letter x, e.g. 3x224x224"
    if char in "[]":
        return "; use ( ) for tuples, e.g. k=(3, 3)"
    if char == ".":
        return "; ranges are written 1..n, numbers 0.5"
    return ""


def _blank(text: str, start: int, end: int) -> str:
    """Replace text[start:end] by spaces, keeping its newlines so that positions do not move."""
    return text[:start] + re.sub(r"[^\r\n]", " ", text[start:end]) + text[end:]


def _recovery_region(text: str, offset: int) -> tuple[int, int] | None:
    """The span of text to blank out after a syntax error at `offset`: the definition holding it.

    A definition starts at a line `net|block|module NAME`. When the error is on such a line
    while a bracket before it is still open, the error belongs to the definition before.
    """
    starts = [m.start(1) for m in _DEFINITION_START.finditer(text)]
    line_start = text.rfind("\n", 0, offset) + 1
    header = _definition_at(text, line_start, offset)
    if header is not None and _open_delimiters(_tokens_before(text, header.start(1))):
        keyword = header.start(1)
        before = [s for s in starts if s < keyword]
        region = (before[-1] if before else 0, keyword)
    else:
        before = [s for s in starts if s <= offset]
        after = [s for s in starts if s > offset]
        region = (before[-1] if before else 0, after[0] if after else len(text))
    return region if region[0] < region[1] else None


class SyntaxErrors(CnnspecError):
    """Raised by parse(): every syntax error found, one per definition at most."""

    def __init__(self, diagnostics: list):
        super().__init__(diagnostics[0])
        self.diagnostics = list(diagnostics)


def parse(source: Source) -> Tree:
    """Parse a source file. Raises SyntaxErrors (a CnnspecError) listing its syntax errors.

    After an error, the definition holding it is blanked out and the file parsed again, so
    that an error in each definition is reported; an error is never reported twice, and
    errors that only follow from an earlier one are not reported (nothing inside a
    definition after its first error is looked at).
    """
    _nesting_error(source)
    text = source.text
    diagnostics = []
    while True:
        reset = _SOURCE_TEXT.set(text + "\n")
        try:
            tree = lark_parser().parse(text + "\n")
        except UnexpectedInput as exc:
            diagnostic = syntax_diagnostic(exc, Source(source.path, text))
            if diagnostic not in diagnostics:
                diagnostics.append(diagnostic)
            offset = len(text) if isinstance(exc, UnexpectedToken) and exc.token.type == "$END" else exc.pos_in_stream
            region = _recovery_region(text, min(offset if offset is not None else len(text), len(text)))
            if region is None or len(diagnostics) >= MAX_SYNTAX_ERRORS:
                break
            text = _blank(text, *region)
            continue
        finally:
            _SOURCE_TEXT.reset(reset)
        if not diagnostics:
            return tree
        break
    raise SyntaxErrors(diagnostics)


# ---- Lark's parse tree -> syntax nodes ---------------------------------------------------------


def _span(meta) -> Span:
    return Span.of(meta)


class ToSyntax:
    """Lark tree -> syntax nodes, one method per grammar rule: method(meta, children)."""

    def transform(self, tree: Tree):
        """Bottom-up, without recursion (a long expression makes a deep tree)."""
        postfix = []  # the subtrees, each after its children when read backwards
        pending = [tree]
        while pending:
            node = pending.pop()
            postfix.append(node)
            pending.extend(child for child in node.children if isinstance(child, Tree))
        results = {}  # id(subtree) -> its syntax node
        for node in reversed(postfix):
            children = [results.pop(id(c)) if isinstance(c, Tree) else c for c in node.children]
            method = getattr(self, node.data, None)
            results[id(node)] = Tree(node.data, children, node.meta) if method is None else method(node.meta, children)
        return results[id(tree)]

    def start(self, meta, children):
        return tuple(children)

    def block_def(self, meta, children):
        kind, name, *rest = children
        return self._definition(meta, str(kind), name, rest)

    def net_def(self, meta, children):
        name, *rest = children
        return self._definition(meta, "net", name, rest)

    def _definition(self, meta, kind, name, rest):
        params = rest[0] if len(rest) == 2 else ()
        return Definition(kind, str(name), params, rest[-1], _span(meta), _token_span(name))

    def variant_def(self, meta, children):
        name, base, *rest = children
        body = rest.pop() if rest and type(rest[-1]) is tuple else ()  # an Arg is a tuple too
        return Variant(str(name), str(base), tuple(rest), body, _span(meta), _token_span(name), _token_span(base))

    def block_kind(self, meta, children):
        return str(children[0])

    def param_list(self, meta, children):
        return tuple(children)

    def param(self, meta, children):
        default = children[1] if len(children) > 1 else None
        return Param(str(children[0]), default, _span(meta))

    def body(self, meta, children):
        return tuple(children)

    def input_decl(self, meta, children):
        if len(children) == 1 and isinstance(children[0], Token):
            token = children[0]
            dims = tuple(Literal(int_literal(part, _token_span(token)), _token_span(token)) for part in str(token).split("x"))
            return InputDecl(dims, _span(meta))
        return InputDecl(tuple(children), _span(meta))

    def expect_stmt(self, meta, children):
        return Expect(children[0], _span(meta))

    def assign(self, meta, children):
        *targets, chain = children
        return Assign(tuple((str(t), _token_span(t)) for t in targets), chain, _span(meta))

    def let_stmt(self, meta, children):
        keyword, *targets, value = children
        if str(keyword) != "let":
            message = f"unexpected {str(targets[0])!r}; a value is bound with `let {targets[0]!s} = ...`"
            raise CnnspecError(error("E100", message, _token_span(targets[0])))
        return Let(tuple((str(t), _token_span(t)) for t in targets), value, _span(meta))

    def assert_stmt(self, meta, children):
        message = children[1] if len(children) > 1 else None
        return Assert(children[0], message, _span(meta))

    def if_stmt(self, meta, children):
        condition, then, *rest = children
        otherwise = rest[0] if rest else ()
        if isinstance(otherwise, If):
            otherwise = (otherwise,)
        return If(condition, then, otherwise, _span(meta))

    def for_stmt(self, meta, children):
        *names, body = children
        targets = [child for child in names if isinstance(child, Token) and child.type == "NAME"]
        expressions = names[len(targets) :]
        var = str(targets[0])
        if len(expressions) == 2:  # for i in a..b
            if len(targets) > 1:
                raise CnnspecError(error("E100", "a range `a..b` binds one name", _token_span(targets[1])))
            return For(var, expressions[0], expressions[1], body, _span(meta))
        bound = tuple((str(t), _token_span(t)) for t in targets) if len(targets) > 1 else None
        return For(var, None, None, body, _span(meta), expressions[0], bound)

    def chain(self, meta, children):
        return Chain(tuple(children), _span(meta))

    def item(self, meta, children):
        label = children[0] if isinstance(children[0], Label) else None
        rest = children[1:] if label else children
        repeat = rest[1] if len(rest) > 1 else None
        return Item(label, rest[0], repeat, _span(meta))

    def label(self, meta, children):
        first = children[0]
        name_span = Span(first.line, first.column, meta.end_line, meta.end_column - 1)  # without the ':'
        if first.type == "NAME" and len(children) == 1:
            return Label(str(first), None, _span(meta), _token_span(first))
        if first.type == "NAME" and len(children) == 2 and isinstance(children[1], _LabelIndex):
            return Label(str(first), children[1].expr, _span(meta), name_span)
        parts, end = [], (first.line, first.column)
        for child in children:
            start, text = _label_piece(child)
            if start != end:
                raise CnnspecError(error("E100", "a label is written without spaces, e.g. `block{i}-{j}:`", name_span))
            end = (child.end_line, child.end_column)
            if text is not None and parts and isinstance(parts[-1], str):
                parts[-1] += text
            else:
                parts.append(text if text is not None else child.expr)
        return Label(str(first), None, _span(meta), name_span, tuple(parts))

    def label_index(self, meta, children):
        return _LabelIndex(children[0], meta.line, meta.column, meta.end_line, meta.end_column)

    def label_dash(self, meta, children):
        return _LabelDash("-", meta.line, meta.column, meta.end_line, meta.end_column)

    def repeat(self, meta, children):
        return children[-1]

    def call(self, meta, children):
        name, *args = children
        return Call(str(name), tuple(args), _span(meta))

    def ref(self, meta, children):
        return Call(str(children[0]), (), _span(meta), bare=True)

    def in_ref(self, meta, children):
        return InputRef(_span(meta))

    def group(self, meta, children):
        return Group(children[0], _span(meta))

    def paren(self, meta, children):
        return Paren(children[0], _span(meta))

    def merge(self, meta, children):
        op, *operands = children
        return Merge(op, tuple(operands), _span(meta))

    def merge_op(self, meta, children):
        return str(children[0])

    def arg(self, meta, children):
        name = str(children[0]) if len(children) == 2 else None
        return Arg(name, children[-1], _span(meta))

    # expressions
    def int(self, meta, children):
        return Literal(int_literal(children[0], _span(meta)), _span(meta), str(children[0]))

    def suffixed(self, meta, children):
        return Literal(suffixed_literal(str(children[0]), _span(meta)), _span(meta), str(children[0]))

    def float(self, meta, children):
        return Literal(float_literal(str(children[0]), _span(meta)), _span(meta), str(children[0]))

    def string(self, meta, children):
        return Literal(str(children[0])[1:-1], _span(meta))

    def true(self, meta, children):
        return Literal(True, _span(meta))

    def false(self, meta, children):
        return Literal(False, _span(meta))

    def none(self, meta, children):
        return Literal(None, _span(meta))

    def var(self, meta, children):
        return Var(str(children[0]), _span(meta))

    def conditional(self, meta, children):
        then, condition, otherwise = children
        return Conditional(condition, then, otherwise, _span(meta))

    def in_var(self, meta, children):
        return Var("in", _span(meta))

    def list(self, meta, children):
        return ListExpr(tuple(children), _span(meta))

    def apply(self, meta, children):
        name, *args = children
        return Apply(str(name), tuple(args), _span(meta), _token_span(name))

    def index(self, meta, children):
        return Index(children[0], children[1], _span(meta))

    def slice(self, meta, children):
        parts = [None, None, None]
        position = 0
        for child in children:
            if isinstance(child, Token) and child.type == "COLON":
                position += 1
            else:
                parts[position] = child
        return Slice(*parts, _span(meta))

    def attribute(self, meta, children):
        return Attribute(children[0], str(children[1]), _span(meta))

    def tuple(self, meta, children):
        return TupleExpr(tuple(children), _span(meta))

    def neg(self, meta, children):
        return Unary("-", children[0], _span(meta))

    def not_(self, meta, children):
        return Unary("not", children[0], _span(meta))

    def binop(self, meta, children):
        left, op, right = children
        return Binary(str(op), left, right, _span(meta))

    compare = binop

    def and_(self, meta, children):
        return Binary("and", children[0], children[1], _span(meta))

    def or_(self, meta, children):
        return Binary("or", children[0], children[1], _span(meta))


class _LabelIndex(NamedTuple):
    expr: object
    line: int
    column: int
    end_line: int
    end_column: int


class _LabelDash(NamedTuple):
    text: str
    line: int
    column: int
    end_line: int
    end_column: int


def _label_piece(child) -> tuple[tuple[int, int], str | None]:
    """Where a label's piece starts, and its text (None for a {expr} piece)."""
    if isinstance(child, _LabelIndex):
        return (child.line, child.column), None
    return (child.line, child.column), str(child) if isinstance(child, Token) else child.text


def to_syntax(tree) -> tuple[Definition, ...]:
    """Raises CnnspecError for a literal that cannot be represented (a 5,000-digit number)."""
    return ToSyntax().transform(tree)
