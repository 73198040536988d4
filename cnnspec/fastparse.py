"""A hand-written parser for well-formed files: the same syntax tree as Lark's, many times faster.

`parse_definitions(text)` returns what `to_syntax(parse(source))` returns, spans included, or
None when the text is not on its path: any syntax error, a keyword used as a name, anything
that Lark's contextual lexer might read differently. The caller then parses with Lark, which
also reports the errors. So this parser never has to be right about a file it rejects, only
about the ones it accepts; tests/test_fastparse.py checks that on the examples and on
generated and mutated programs.

Lexing is per line (a token never spans lines) and cached by the line's text, since large
nets repeat their lines; grammar/cnnspec.lark's LineJoiner rule for newlines is applied per line.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import NamedTuple

from cnnspec.diagnostics import CnnspecError
from cnnspec.source import Span
from cnnspec.syntax import (
    MAX_NESTING,
    Arg,
    Assign,
    Binary,
    Call,
    Chain,
    Definition,
    Expect,
    For,
    Group,
    If,
    InputDecl,
    InputRef,
    Item,
    Label,
    Literal,
    Merge,
    Param,
    Paren,
    TupleExpr,
    Unary,
    Var,
    float_literal,
    int_literal,
    suffixed_literal,
)

# The grammar's terminals, in the order Lark's lexer tries them (priority, then pattern length).
_TOKEN = re.compile(
    r"""(?P<space>[ \t\f\r]+)
    |(?P<comment>\#[^\n]*)
    |(?P<SUFFIXED>\d+(?:_\d+)*(?:\.\d+)?(?:Ki|Mi|Gi|K|M|G)(?!\w))
    |(?P<SHAPE>\d+(?:x\d+)+)
    |(?P<FLOAT>\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
    |(?P<INT>\d+(?:_\d+)*)
    |(?P<STRING>'[^'\n]*'|"[^"\n]*")
    |(?P<NAME>[^\W\d]\w*)
    |(?P<punctuation>->|==|!=|<=|>=|//|\.\.|[-+*/%<>=(){},:;])""",
    re.VERBOSE,
)
# Every keyword of the grammar. Lark reads one as a name where a keyword cannot stand; this
# parser leaves such files to Lark rather than repeat that rule.
KEYWORDS = frozenset("net block module input if else for in expect assert add cat mul and or not true false none".split())
_MERGES = frozenset(("add", "cat", "mul"))
_DEFINITION_WORDS = frozenset(("net", "block", "module"))  # torchvision names modules `block` (ConvNeXt)
_COMPARISONS = frozenset(("==", "!=", "<", "<=", ">", ">="))
_PRODUCT_OPS = frozenset(("*", "/", "//", "%"))
_SUM_OPS = frozenset(("+", "-"))
_OPERATORS = _COMPARISONS | _PRODUCT_OPS | _SUM_OPS | {"NAME"}  # a name after an operand: `and`, `or`
_OPERANDS = frozenset(("INT", "FLOAT", "SUFFIXED", "STRING", "NAME"))
_CONSTANTS = {"true": True, "false": False, "none": None}
_NEWLINE = ("\n", "\n", 0, 0)
# Builds a Span, or the node types made most, as tuple.__new__(Type, (fields in order)): the same
# object as Type(...) without the NamedTuple constructor's Python frame (a tenth of the parse).
_tuple_new = tuple.__new__
_END = ("EOF", "", 0, 0)


class NotOnFastPath(Exception):
    """The text is not one this parser accepts; Lark parses it instead."""


class _Line(NamedTuple):
    """One line's tokens, each (kind, text, column, end column); a punctuation's kind is its text."""

    tokens: tuple
    paren_change: int  # '(' minus ')': newlines inside parentheses continue the statement
    lowest_paren: int  # the lowest parenthesis depth within the line, relative to its start
    deepest: int  # the deepest bracket nesting, '(' and '{', relative to the line's start
    bracket_change: int


def _lex_line(line: str) -> _Line:
    tokens = []
    position = 0
    parens = lowest = brackets = deepest = 0
    for match in _TOKEN.finditer(line):
        start, end = match.span()
        if start != position:
            raise NotOnFastPath  # a character no token starts with
        position = end
        kind = match.lastgroup
        if kind == "space" or kind == "comment":
            continue
        text = match.group()
        if kind == "punctuation":
            kind = text
            if text in "({":
                brackets += 1
                deepest = max(deepest, brackets)
                parens += text == "("
            elif text in ")}":
                brackets -= 1
                parens -= text == ")"
                lowest = min(lowest, parens)
        tokens.append((kind, text, start + 1, end + 1))
    if position != len(line):
        raise NotOnFastPath
    return _Line(tuple(tokens), parens, lowest, deepest, brackets)


def _tokens(text: str) -> tuple[list, list]:
    """The token stream the grammar's parser sees (see parser.LineJoiner), and each token's line."""
    tokens: list = []
    lines: list = []
    known: dict[str, _Line] = {}
    parens = brackets = 0
    previous = "\n"
    for number, line in enumerate(text.split("\n"), 1):
        lexed = known.get(line)
        if lexed is None:
            lexed = known[line] = _lex_line(line)
        if lexed.tokens:
            if parens + lexed.lowest_paren < 0 or brackets + lexed.deepest > MAX_NESTING:
                raise NotOnFastPath  # unbalanced, or too deep: Lark's path reports it
            tokens.extend(lexed.tokens)
            lines.extend(repeat(number, len(lexed.tokens)))
            parens += lexed.paren_change
            brackets += lexed.bracket_change
            previous = lexed.tokens[-1][0]
        if parens == 0 and previous not in ("->", ",", "\n"):
            tokens.append(_NEWLINE)
            lines.append(number)
            previous = "\n"
    tokens += (_END, _END)  # two: the parser looks a token ahead
    lines += (number, number)
    return tokens, lines


def parse_definitions(text: str) -> tuple[Definition, ...] | None:
    """The file's definitions, or None if Lark must parse it (see the module's docstring)."""
    try:
        return _Parser(*_tokens(text)).definitions()
    except (NotOnFastPath, CnnspecError, RecursionError):
        return None


class _Parser:
    """Recursive descent over grammar/cnnspec.lark, one method per rule; `at` is the next token's index.

    A node's span runs from its first token to its last, which is what Lark's propagated
    positions give, a parenthesised expression's own span excepted (it excludes the parentheses).
    """

    def __init__(self, tokens: list, lines: list):
        self.tokens = tokens
        self.lines = lines
        self.at = 0

    # ---- tokens -------------------------------------------------------------------

    def span(self, first: int, last: int) -> Span:
        lines, tokens = self.lines, self.tokens
        return _tuple_new(Span, (lines[first], tokens[first][2], lines[last], tokens[last][3]))

    def span_from(self, first: int) -> Span:
        """From token `first` to the last token taken."""
        lines, tokens, last = self.lines, self.tokens, self.at - 1
        return _tuple_new(Span, (lines[first], tokens[first][2], lines[last], tokens[last][3]))

    def kind(self, ahead: int = 0) -> str:
        return self.tokens[self.at + ahead][0]

    def take(self, kind: str) -> str:
        token = self.tokens[self.at]
        if token[0] != kind:
            raise NotOnFastPath
        self.at += 1
        return token[1]

    def keyword(self, word: str) -> bool:
        """Take the keyword `word` if it is next."""
        token = self.tokens[self.at]
        if token[0] == "NAME" and token[1] == word:
            self.at += 1
            return True
        return False

    def name(self) -> str:
        """A name that is not a keyword."""
        kind, text = self.tokens[self.at][:2]
        if kind != "NAME" or text in KEYWORDS:
            raise NotOnFastPath
        self.at += 1
        return text

    def skip(self, kinds: tuple) -> None:
        while self.tokens[self.at][0] in kinds:
            self.at += 1

    def comma_list(self, item) -> list:
        """`item ("," item)* ","? ")"`, the ')' taken."""
        tokens = self.tokens
        items = [item()]
        while tokens[self.at][0] == ",":
            self.at += 1
            if tokens[self.at][0] == ")":
                break
            items.append(item())
        self.take(")")
        return items

    def optional_comma_list(self, item) -> list:
        """`[item ("," item)* ","?] ")"`, the ')' taken."""
        if self.kind() == ")":
            self.at += 1
            return []
        return self.comma_list(item)

    # ---- definitions ----------------------------------------------------------------

    def definitions(self) -> tuple[Definition, ...]:
        found = []
        while True:
            self.skip(("\n",))
            if self.kind() == "EOF":
                return tuple(found)
            found.append(self.definition())

    def definition(self) -> Definition:
        first = self.at
        kind = self.take("NAME")
        if kind not in ("net", "block", "module"):
            raise NotOnFastPath
        name_at = self.at
        name = self.name()
        params = ()
        if self.kind() == "(":
            self.at += 1
            params = tuple(self.optional_comma_list(self.param))
        body = self.body()
        return Definition(kind, name, params, body, self.span_from(first), self.span(name_at, name_at))

    def param(self) -> Param:
        first = self.at
        name = self.name()
        default = None
        if self.kind() == "=":
            self.at += 1
            default = self.expression()
        return Param(name, default, self.span_from(first))

    def body(self) -> tuple:
        self.take("{")
        tokens = self.tokens
        statements = []
        while True:
            while tokens[self.at][0] in ("\n", ";"):
                self.at += 1
            if tokens[self.at][0] == "}":
                self.at += 1
                return tuple(statements)
            statements.append(self.statement())
            if tokens[self.at][0] not in ("\n", ";", "}"):
                raise NotOnFastPath

    # ---- statements -----------------------------------------------------------------

    def statement(self):
        kind, word = self.tokens[self.at][:2]
        if kind == "NAME":
            if word == "input":
                return self.input_decl()
            if word == "if":
                return self.if_stmt()
            if word == "for":
                return self.for_stmt()
            if word == "expect":
                return self.expect_stmt()
            if self.kind(1) in ("=", ","):
                return self.assign()
        return self.chain()

    def expect_stmt(self) -> Expect:
        first = self.at
        self.at += 1
        return Expect(self.expression(), self.span_from(first))

    def input_decl(self) -> InputDecl:
        first = self.at
        self.at += 1
        kind, text = self.tokens[self.at][:2]
        if kind in ("SHAPE", "INT"):
            self.at += 1
            span = self.span(self.at - 1, self.at - 1)
            dims = tuple(Literal(int_literal(part, span), span) for part in text.split("x"))
        else:
            self.take("(")
            dims = tuple(self.comma_list(self.expression))
        return InputDecl(dims, self.span_from(first))

    def assign(self) -> Assign:
        first = self.at
        targets = [(self.name(), self.span(first, first))]
        while self.kind() == ",":
            self.at += 1
            targets.append((self.name(), self.span(self.at - 1, self.at - 1)))
        self.take("=")
        return Assign(tuple(targets), self.chain(), self.span_from(first))

    def if_stmt(self) -> If:
        first = self.at
        self.at += 1
        condition = self.expression()
        then = self.body()
        otherwise = ()
        if self.keyword("else"):
            otherwise = self.body() if self.kind() == "{" else (self.else_if(),)
        return If(condition, then, otherwise, self.span_from(first))

    def else_if(self) -> If:
        if self.tokens[self.at][:2] != ("NAME", "if"):
            raise NotOnFastPath
        return self.if_stmt()

    def for_stmt(self) -> For:
        first = self.at
        self.at += 1
        var = self.name()
        if not self.keyword("in"):
            raise NotOnFastPath
        start = self.expression()
        self.take("..")
        stop = self.expression()
        return For(var, start, stop, self.body(), self.span_from(first))

    # ---- chains ---------------------------------------------------------------------

    def chain(self) -> Chain:
        first = self.at
        items = [self.item()]
        while self.tokens[self.at][0] == "->":
            self.at += 1
            items.append(self.item())
        span = items[0].span if len(items) == 1 else self.span_from(first)  # one item: the same tokens
        return _tuple_new(Chain, (tuple(items), span))

    def item(self) -> Item:
        first = self.at
        tokens = self.tokens
        label = self.label() if tokens[first][0] == "NAME" and tokens[first + 1][0] in (":", "{") else None
        atom = self.atom()
        repeat_count = None
        if tokens[self.at][0] == "*":
            self.at += 1
            repeat_count = self.factor()
        span = atom.span if label is None and repeat_count is None else self.span_from(first)
        return _tuple_new(Item, (label, atom, repeat_count, span))

    def label(self) -> Label:
        first = self.at
        if self.tokens[first][1] in _DEFINITION_WORDS:  # a name where a label stands, as in the grammar
            self.at += 1
            name = self.tokens[first][1]
        else:
            name = self.name()
        index = None
        if self.kind() == "{":
            self.at += 1
            index = self.expression()
            self.take("}")
        colon = self.at
        self.take(":")
        name_span = self.span(first, first)
        if index is not None:  # name{index}: up to the ':'
            name_span = Span(name_span.line, name_span.column, self.lines[colon], self.tokens[colon][2])
        return Label(name, index, self.span_from(first), name_span)

    def atom(self):
        first = self.at
        kind, word = self.tokens[first][:2]
        if kind == "NAME":
            if word in _MERGES:
                return self.merge()
            if word == "in":
                self.at += 1
                return InputRef(self.span_from(first))
            if word in KEYWORDS:
                raise NotOnFastPath
            self.at += 1
            if self.tokens[self.at][0] != "(":
                return _tuple_new(Call, (word, (), self.span(first, first), True))
            self.at += 1
            args = tuple(self.optional_comma_list(self.arg))
            return _tuple_new(Call, (word, args, self.span_from(first), False))
        if kind == "{":
            return Group(self.body(), self.span_from(first))
        self.take("(")
        chain = self.chain()
        self.take(")")
        return Paren(chain, self.span_from(first))

    def merge(self) -> Merge:
        first = self.at
        op = self.tokens[first][1]
        self.at += 1
        self.take("(")
        operands = self.comma_list(self.chain)
        return Merge(op, tuple(operands), self.span_from(first))

    def arg(self) -> Arg:
        first = self.at
        name = None
        if self.tokens[first + 1][0] == "=":
            name = self.name()
            self.at += 1
        value = self.expression()
        span = value.span if self.at == first + 1 else self.span_from(first)  # a lone token: its own span
        return _tuple_new(Arg, (name, value, span))

    # ---- expressions, lowest precedence first ------------------------------------------

    def expression(self):
        at = self.at
        token = self.tokens[at]
        if token[0] in _OPERANDS and token[1] != "not" and self.tokens[at + 1][0] not in _OPERATORS:
            return self.factor()  # a lone operand: the common case, without descending the precedence levels
        return self.or_test()

    def or_test(self):
        return self.logical("or", self.and_test)

    def and_test(self):
        return self.logical("and", self.not_test)

    def logical(self, word: str, operand):
        first = self.at
        left = operand()
        while self.keyword(word):
            left = Binary(word, left, operand(), self.span_from(first))
        return left

    def not_test(self):
        first = self.at
        if self.keyword("not"):
            return Unary("not", self.not_test(), self.span_from(first))
        return self.comparison()

    def comparison(self):
        first = self.at
        left = self.sum()
        op = self.kind()
        if op not in _COMPARISONS:
            return left
        self.at += 1
        return Binary(op, left, self.sum(), self.span_from(first))

    def sum(self):
        return self.binary(_SUM_OPS, self.product)

    def product(self):
        return self.binary(_PRODUCT_OPS, self.unary)

    def binary(self, ops: frozenset, operand):
        first = self.at
        left = operand()
        while self.kind() in ops:
            op = self.tokens[self.at][1]
            self.at += 1
            left = Binary(op, left, operand(), self.span_from(first))
        return left

    def unary(self):
        first = self.at
        if self.kind() == "-":
            self.at += 1
            return Unary("-", self.unary(), self.span_from(first))
        return self.factor()

    def factor(self):
        first = self.at
        kind, text, column, end = self.tokens[first]
        self.at += 1
        if kind == "(":
            return self.parenthesised(first)
        line = self.lines[first]
        span = _tuple_new(Span, (line, column, line, end))
        if kind == "INT":
            return _tuple_new(Literal, (int_literal(text, span), span, text))
        if kind == "NAME":
            if text in _CONSTANTS:
                return Literal(_CONSTANTS[text], span)
            if text in KEYWORDS:
                raise NotOnFastPath
            return _tuple_new(Var, (text, span))
        if kind == "FLOAT":
            return Literal(float_literal(text, span), span, text)
        if kind == "SUFFIXED":
            return Literal(suffixed_literal(text, span), span, text)
        if kind == "STRING":
            return Literal(text[1:-1], span)
        raise NotOnFastPath

    def parenthesised(self, first: int):
        """`(expr)`, which is the expression itself, or a tuple `(a, b)`, `(a,)`."""
        value = self.expression()
        if self.kind() == ")":
            self.at += 1
            return value
        self.take(",")
        items = [value]
        if self.kind() != ")":
            items += self.comma_list(self.expression)
        else:
            self.at += 1
        return TupleExpr(tuple(items), self.span_from(first))


def parse_expression(text: str):
    """One expression, alone on one line (a `--set` value), or None if it is not one."""
    if "\n" in text:
        return None
    try:
        parser = _Parser(*_tokens(text))
        expr = parser.expression()
        parser.skip(("\n",))
        return expr if parser.kind() == "EOF" else None
    except (NotOnFastPath, CnnspecError, RecursionError, IndexError):
        return None
