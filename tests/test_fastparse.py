"""The fast parser (cnnspec.fastparse) against Lark's: for every text it takes, the very same
syntax tree, spans included; a text that Lark rejects, it never takes.

Inputs: the examples; random programs drawn from the grammar (every statement, expression and
atom form, keywords as names, random spacing, line breaks, `;` and comments); mutated examples
(tests/test_fuzz.py's mutations); and random text over the language's characters.
CNNSPEC_FUZZ_CASES sets the cases per random strategy, as for tests/test_fuzz.py.
"""

from __future__ import annotations

import glob
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.diagnostics import CnnspecError
from cnnspec.fastparse import KEYWORDS, parse_definitions
from cnnspec.parser import parse, to_syntax
from cnnspec.source import Source
from cnnspec.syntax import MAX_NESTING
from tests.test_fuzz import FUZZ, mutated_examples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))


def lark_definitions(text: str):
    """Lark's syntax tree, or None for a syntax error (or a literal too large to hold)."""
    try:
        return to_syntax(parse(Source("model.cnn", text)))
    except CnnspecError:
        return None


def assert_agrees(text: str):
    """The fast parser's result, after checking it against Lark's. Trees are compared by repr,
    which tells node types, True from 1 and 1.0 from 1 apart (NamedTuple equality does not)."""
    fast = parse_definitions(text)
    if fast is not None:
        assert repr(fast) == repr(lark_definitions(text)), text
    return fast


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_take_the_fast_path_and_agree(path):
    """The fast parser takes every example written without Language 2's syntax (values, lists,
    calls in expressions, variants), which it leaves to Lark; where it takes one, both agree."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    taken = assert_agrees(text)
    if os.path.basename(path) in LANGUAGE_2_EXAMPLES:
        assert taken is None and lark_definitions(text) is not None
    else:
        assert taken is not None


LANGUAGE_2_EXAMPLES = {"convnext.cnn", "efficientnet.cnn", "regnet.cnn"}


TAKEN = [
    "net N {\n  input 3x8x8\n  conv(4, k=3) -> relu\n}\n",
    "net N(c=4, k=(3, 3)) { input (3, 8, 8,); conv(c, k=k); relu }",
    "net A { input 3 }  net B { input 3 }",  # two definitions on one line
    "block b(n, m=2 * 3 + -1) {\n  relu * (n)\n}\nmodule m() { {relu} -> (relu) }\n",
    "net N {\n  input 3x8x8\n  x, y = split(2)\n  add(x -> conv(4,\n k=3),\n y,)\n}",
    "net N { b{i + 1} : conv(1); l: relu * n; in -> cat(in, in) -> mul(in, in) }",
    "net N { if a and not b or c == 1 { relu } else if (x) { relu } else { relu } }",
    "net N { for i in 1..n // 2 { conv(i * 8 % 3 - -i) } }",
    "net N { expect params <= 5M; expect macs < 1.5Gi; expect output == (10,) }",
    "net N { conv(16, k=3, pad='same', bias=false, eps=1e-5, m=none, t=true, s=\"a\", u=1_000) }",
    "net N {\r\n\tinput 3x8x8\r\n\tconv(4)  # comment\r\n}\r\n",
    "net N { conv(((4)), k=((1, 2), (3,))) }",
    "net Ünïcode { größe: conv(4) }",
    "\n\n# only a net\nnet N {\n\n;; relu ;\n\n}\n\n",
    "net N { input 3x8x8\n conv(4) ->\n\n relu ->\n  # comment\n relu }",
]


@pytest.mark.parametrize("text", TAKEN)
def test_every_form_of_the_grammar_takes_the_fast_path_and_agrees(text):
    assert assert_agrees(text) is not None


LEFT_TO_LARK = [
    "net N { conv(16 k=3) }",  # syntax errors
    "net N {\n  conv(c, k=3,",  # the end of the file inside parentheses, after a ','
    "net N {\n  conv(c, k",
    "net N { conv(3x3) }",
    "net N {\n relu\n",
    "net N { relu }}",
    "net N { (a,,) }",
    "net N { x = conv(4) ) }",
    "net N\n{ relu }",
    "net N { input 3x8x8 }\n@",
    "net N { input 5M }",
    "net N { relu }; net M { relu }",
    "net N { conv(" + "9" * 40 + ") }",  # a literal Lark's path reports (E210)
    "net N { conv(1e999) }",
    "net net { relu }",  # keywords as names: Lark's contextual lexer decides
    "net N { else: relu }",
    "block b(in) { relu }",
    "net N { for i in1..3 { relu } }",
    "netfoo { relu }",
    "net N { conv(k=(1,,)) }",
    "net N { relu\0 }",
    "net N { relu\v }",
    "net N { " + "(" * (MAX_NESTING + 1) + "relu" + ")" * (MAX_NESTING + 1) + " }",
]


@pytest.mark.parametrize("text", LEFT_TO_LARK)
def test_syntax_errors_and_lexical_subtleties_are_left_to_lark(text):
    assert parse_definitions(text) is None


def test_a_keyword_read_as_a_name_is_still_parsed_by_lark():
    """`net net`, `block b(in)` and `for i in1..3` are legal: the fast parser declines them, Lark parses them."""
    for text in ("net net { input 3 }", "block b(in) { relu }\nnet N { input 3 }", "net N { input 3\n for i in1..3 { relu } }"):
        assert parse_definitions(text) is None
        assert lark_definitions(text) is not None


def test_deep_nesting_is_still_reported():
    text = "net N { input 3x8x8\n " + "(" * (MAX_NESTING + 1) + "relu" + ")" * (MAX_NESTING + 1) + " }"
    assert [d.code for d in analyze(Source("model.cnn", text)).diagnostics] == ["E102"]


# ---- random programs drawn from the grammar -----------------------------------------------------------

PLAIN_NAMES = ["a", "x", "conv", "relu", "cat2", "größe", "_n", "b1"]
NUMBERS = ["0", "7", "1_000", "0.5", "1e-5", "2E+3", "5M", "1.5Gi", "64Ki", "12"]
STRINGS = ["'same'", '"valid"', "''"]


class Program:
    """Draws the text of a random program, rule by rule of grammar/cnnspec.lark; with `keywords`,
    one name in eight is a keyword (which only Lark's contextual lexer can read as a name)."""

    def __init__(self, draw, keywords: bool):
        self.draw, self.keywords = draw, keywords

    def pick(self, choices):
        return self.draw(st.sampled_from(choices))

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(1, one_in)) == 1

    def name(self) -> str:
        return self.pick(sorted(KEYWORDS)) if self.keywords and self.chance(8) else self.pick(PLAIN_NAMES)

    def expression(self, depth: int) -> str:
        if depth <= 0 or self.chance(3):
            leaf = self.pick(["number", "string", "constant", "name"])
            return {"number": lambda: self.pick(NUMBERS), "string": lambda: self.pick(STRINGS)}.get(
                leaf, lambda: self.pick(["true", "false", "none"]) if leaf == "constant" else self.name()
            )()
        inner = lambda: self.expression(depth - 1)
        form = self.pick(["arithmetic", "compare", "logic", "not", "neg", "paren", "tuple"])
        if form == "arithmetic":
            return f"{inner()} {self.pick(['+', '-', '*', '/', '//', '%'])} {inner()}"
        if form == "compare":
            return f"{inner()} {self.pick(['==', '!=', '<', '<=', '>', '>='])} {inner()}"
        if form == "logic":
            return f"{inner()} {self.pick(['and', 'or'])} {inner()}"
        if form in ("not", "neg"):
            return ("not " if form == "not" else "-") + inner()
        if form == "paren":
            return f"({inner()})"
        items = [inner() for _ in range(self.draw(st.integers(1, 3)))]
        return "(" + ", ".join(items) + ("," if len(items) == 1 or self.chance(2) else "") + ")"

    def item(self, depth: int) -> str:
        label = ""
        if self.chance(4):
            label = self.name() + (f"{{{self.expression(1)}}}" if self.chance(2) else "") + ": "
        form = self.pick(["call", "call", "ref", "in", "group", "paren", "merge"] if depth > 0 else ["call", "ref", "in"])
        if form == "call":
            args = [(f"{self.name()}=" if self.chance(2) else "") + self.expression(2) for _ in range(self.draw(st.integers(0, 3)))]
            atom = f"{self.name()}({', '.join(args)})"
        elif form == "ref":
            atom = self.name()
        elif form == "in":
            atom = "in"
        elif form == "group":
            atom = "{" + "; ".join(self.statement(depth - 1) for _ in range(self.draw(st.integers(0, 2)))) + "}"
        elif form == "paren":
            atom = f"({self.chain(depth - 1)})"
        else:
            operands = [self.chain(depth - 1) for _ in range(self.draw(st.integers(1, 3)))]
            atom = f"{self.pick(['add', 'cat', 'mul'])}({', '.join(operands)})"
        if self.chance(4):
            atom += " * " + (self.expression(0) if self.chance(2) else f"({self.expression(1)})")
        return label + atom

    def chain(self, depth: int) -> str:
        return " -> ".join(self.item(depth) for _ in range(self.draw(st.integers(1, 3))))

    def statement(self, depth: int) -> str:
        form = self.pick(["chain", "chain", "chain", "input", "assign", "if", "for", "expect"])
        if form == "input":
            return "input " + self.pick(["3x32x32", "16", f"({self.expression(1)}, {self.expression(1)})"])
        if form == "assign":
            return ", ".join(self.name() for _ in range(self.draw(st.integers(1, 2)))) + " = " + self.chain(depth)
        if form == "if":
            otherwise = self.pick(["", " else { relu }", f" else if {self.expression(1)} {{ relu }}"])
            return f"if {self.expression(2)} {{ {self.chain(depth - 1)} }}" + otherwise
        if form == "for":
            return f"for {self.name()} in {self.expression(1)}..{self.expression(1)} {{ {self.chain(depth - 1)} }}"
        if form == "expect":
            return f"expect {self.expression(2)}"
        return self.chain(depth)

    def definition(self) -> str:
        params = ""
        if self.chance(2):
            names = [self.name() + (f" = {self.expression(1)}" if self.chance(2) else "") for _ in range(self.draw(st.integers(0, 3)))]
            params = "(" + ", ".join(names) + ")"
        statements = [self.statement(2) for _ in range(self.draw(st.integers(0, 4)))]
        return f"{self.pick(['net', 'block', 'module'])} {self.name()}{params} {{\n" + "".join(f"    {s}\n" for s in statements) + "}\n"


WORD = set("abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789.'\"")
SYMBOL = set("-<>=!/*%.")


def respace(draw, text: str) -> str:
    """The same tokens with other spacing: spaces dropped (never merging two tokens) or widened,
    tabs, `;` or comments or CRLF at line ends, and now and then a line break within a statement."""
    out = []
    for index, char in enumerate(text):
        roll = draw(st.integers(0, 39))
        before, after = text[index - 1 : index], text[index + 1 : index + 2]
        merges = (before in WORD and after in WORD) or (before in SYMBOL and after in SYMBOL)
        if char == " " and roll < 8:
            out.append("\n" if roll == 0 else draw(st.sampled_from([" ", "  ", "\t"] if merges else ["", "  ", "\t"])))
        elif char == "\n" and roll < 8:
            out.append(draw(st.sampled_from(["; ", "  # note\n", "\n\n", "\r\n"])))
        else:
            out.append(char)
    return "".join(out)


@st.composite
def grammar_programs(draw, keywords: bool):
    program = Program(draw, keywords)
    return respace(draw, "".join(program.definition() for _ in range(draw(st.integers(1, 2)))))


@FUZZ
@given(grammar_programs(keywords=True))
def test_random_grammar_programs_agree(text):
    assert_agrees(text)


@FUZZ
@given(grammar_programs(keywords=False))
def test_every_legal_program_without_keywords_as_names_takes_the_fast_path(text):
    """So the fast path is not a rarely taken one: it declines only what Lark's contextual lexer decides."""
    fast = assert_agrees(text)
    assert fast is not None or lark_definitions(text) is None, text


@FUZZ
@given(mutated_examples())
def test_mutated_examples_agree(text):
    assert_agrees(text)


LANGUAGE_CHARACTERS = "netblockmodulinpfrxadcsum_19 \t\n\r;,:=<>!-+*/%.(){}'\"#"


@FUZZ
@given(st.text(alphabet=LANGUAGE_CHARACTERS, max_size=80).map(lambda body: "net N {\n" + body + "\n}\n"))
def test_random_character_soup_agrees(text):
    assert_agrees(text)
