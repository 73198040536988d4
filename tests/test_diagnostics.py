"""Diagnostics: every fixture in tests/fixtures/errors reports exactly the diagnostics its header
declares, at the declared places, with informative messages; rendering; no cascades.

A fixture's header declares its expectations, one comment line per diagnostic, in order:

    # expect: E300 7:14 text the message must contain
    # note: 12:5 text a note must contain        (a note of the diagnostic above)
    # expect: E209 text                          (a diagnostic without a place)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.diagnostics import CODES, Diagnostic, Note, Severity, error, render, warning
from cnnspec.source import Source, Span, read_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "errors").glob("*.cnn"))
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))

_EXPECT = re.compile(r"^# expect: (?P<code>[EW]\d{3})(?: (?P<line>\d+):(?P<column>\d+))?(?: (?P<text>.*))?$")
_NOTE = re.compile(r"^# note: (?P<line>\d+):(?P<column>\d+)(?: (?P<text>.*))?$")


@dataclass
class Expected:
    code: str
    line: int | None
    column: int | None
    text: str | None
    notes: list = field(default_factory=list)  # (line, column, text)

    @property
    def place(self):
        return (self.code, self.line, self.column)


def expectations(path: Path) -> list[Expected]:
    found: list[Expected] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _EXPECT.match(line):
            number = lambda key: int(match[key]) if match[key] else None
            found.append(Expected(match["code"], number("line"), number("column"), match["text"]))
        elif match := _NOTE.match(line):
            assert found, f"{path.name}: a '# note:' line must follow an '# expect:' line"
            found[-1].notes.append((int(match["line"]), int(match["column"]), match["text"]))
    return found


def check_file(path: Path, **options):
    source = read_source(str(path))
    return source, analyze(source, **options)


def place(diagnostic: Diagnostic):
    span = diagnostic.span
    return (diagnostic.code, span.line if span else None, span.column if span else None)


def fixture_ids():
    return [path.stem for path in FIXTURES]


# ---- the fixtures -------------------------------------------------------------------------


def test_there_are_enough_fixtures():
    assert len(FIXTURES) >= 35
    assert all(expectations(path) for path in FIXTURES), "every fixture declares what it expects"


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_ids())
def test_fixture_reports_exactly_its_expected_diagnostics(path):
    expected = expectations(path)
    source, analysis = check_file(path)
    rendered = "\n".join(render(d, source) for d in analysis.diagnostics)
    assert [place(d) for d in analysis.diagnostics] == [e.place for e in expected], rendered
    for want, got in zip(expected, analysis.diagnostics):
        if want.text:
            assert want.text in got.message, rendered
        for line, column, text in want.notes:
            matching = [n for n in got.notes if n.span and (n.span.line, n.span.column) == (line, column)]
            assert matching, f"no note at {line}:{column}\n{rendered}"
            assert not text or any(text in n.message for n in matching), rendered


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_ids())
def test_fixture_diagnostics_are_well_formed(path):
    source, analysis = check_file(path)
    lines = source.text.split("\n")
    for diagnostic in analysis.diagnostics:
        assert diagnostic.code in CODES, diagnostic
        assert diagnostic.severity is (Severity.ERROR if diagnostic.code.startswith("E") else Severity.WARNING)
        assert diagnostic.message and "<unknown>" not in diagnostic.message and "got None" not in diagnostic.message
        for span in [diagnostic.span] + [note.span for note in diagnostic.notes]:
            if span is None:
                continue
            assert 1 <= span.line <= len(lines), diagnostic
            assert 1 <= span.column <= len(lines[span.line - 1]) + 1, diagnostic
            assert (span.end_line, span.end_column) >= (span.line, span.column), diagnostic
        if diagnostic.span is None:
            assert diagnostic.code in ("E209", "E101"), "only file-level problems have no place"


def test_fixtures_cover_every_required_code():
    declared = {e.code for path in FIXTURES for e in expectations(path)}
    required = {
        "E100", "E102", "E200", "E201", "E202", "E203", "E204", "E205", "E206", "E207", "E208", "E209",
        "E210", "E211", "E212", "E213", "E300", "E301", "E302", "E303", "E304", "E305", "E306", "E307",
        "W400", "W401", "W402",
    }  # fmt: skip
    assert required <= declared, sorted(required - declared)
    syntax_files = [p for p in FIXTURES if any(e.code == "E100" for e in expectations(p))]
    assert len(syntax_files) >= 5, "several kinds of syntax error"
    several = [p for p in FIXTURES if len([e for e in expectations(p) if e.code.startswith("E")]) >= 3]
    assert several, "some fixtures hold several independent errors"


def test_every_code_the_sources_use_is_documented():
    used = set()
    for path in (ROOT / "cnnspec").rglob("*.py"):
        used |= set(re.findall(r"""["']([EW][1-4]\d\d)["']""", path.read_text(encoding="utf-8")))
    assert used - set(CODES) == set()


# ---- informative messages (a chosen subset) ------------------------------------------------

SHAPE = re.compile(r"\d+ x \d+")


@pytest.mark.parametrize(
    "name, code",
    [
        ("add_mismatch", "E303"),
        ("cat_mismatch", "E304"),
        ("linear_without_flatten", "E305"),
        ("kernel_larger_than_input", "E300"),
        ("conv2d_on_1d", "E306"),
        ("layernorm_shape", "E307"),
    ],
)
def test_shape_errors_show_the_shapes(name, code):
    _, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / f"{name}.cnn")
    (diagnostic,) = analysis.diagnostics
    assert diagnostic.code == code
    assert SHAPE.search(diagnostic.message), diagnostic.message


def test_mismatched_shapes_are_both_named():
    _, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "add_mismatch.cnn")
    message = analysis.diagnostics[0].message
    assert "16 x 32 x 32" in message and "32 x 32 x 32" in message


@pytest.mark.parametrize(
    "name, wrong, right",
    [
        ("unknown_layer", "rleu", "relu"),
        ("unknown_block", "stag", "stage"),
        ("unknown_tensor", "skp", "skip"),
        ("unknown_argument", "strid", "stride"),
        ("undefined_name", "widht", "width"),
    ],
)
def test_misspellings_get_a_suggestion(name, wrong, right):
    _, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / f"{name}.cnn")
    (diagnostic,) = analysis.diagnostics
    assert f"'{wrong}'" in diagnostic.message
    assert f"did you mean '{right}'?" in diagnostic.message


def _line_of(source: Source, text: str) -> int:
    """The line of the net's statement `text` (the last line holding it)."""
    lines = source.text.split("\n")
    return max(index + 1 for index, line in enumerate(lines) if line.strip() == text)


@pytest.mark.parametrize(
    "name, inner, calls",
    [
        ("error_in_block", "maxpool(2, pad=2)", ["stage(16)"]),
        ("error_in_nested_blocks", "conv(c, k=3, groups=4)", ["inner(c)", "outer(8)"]),
        ("recursive_mutual", "conv(c, k=3) -> ping(c)", ["pong(c)", "ping(8)"]),
        ("error_in_block_called_twice", "conv(c, k=3, strid=2)", ["stage(8)"]),
    ],
)
def test_expansion_errors_point_inside_the_block_and_name_the_call_sites(name, inner, calls):
    source, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / f"{name}.cnn")
    (diagnostic,) = analysis.diagnostics
    assert diagnostic.span.line == _line_of(source, inner)
    call_notes = [note for note in diagnostic.notes if "called here" in note.message]
    assert [note.span.line for note in call_notes] == [_line_of(source, call) for call in calls]
    text = render(diagnostic, source)
    for note in call_notes:
        assert f"{source.path}:{note.span.line}:{note.span.column}: in the expansion of" in text


def test_a_warning_in_a_block_called_twice_is_given_once():
    _, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "warning_in_block.cnn")
    (diagnostic,) = analysis.diagnostics
    assert [note.message for note in diagnostic.notes] == ["in the expansion called here", "the same in 1 more expansion"]


def test_an_argument_error_points_at_the_argument():
    source, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "groups_not_dividing.cnn")
    span = analysis.diagnostics[0].span
    line = source.text.split("\n")[span.line - 1]
    assert line[span.column - 1 : span.end_column - 1] == "groups=2"


def test_syntax_errors_stop_analysis_and_do_not_cascade():
    # The block's missing '}' must not also make `stage` unknown, nor the net lack an input.
    _, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "syntax_missing_brace.cnn")
    assert [d.code for d in analysis.diagnostics] == ["E100"]
    assert analysis.graph is None


def test_one_syntax_error_per_definition_at_most():
    text = "net A {\n    input 3x32x32\n    conv(8, k=3) relu\n    conv(8, k=3) relu\n    $\n}\n"
    analysis = analyze(Source("a.cnn", text))
    assert [place(d) for d in analysis.diagnostics] == [("E100", 3, 18)]


def test_a_bad_value_is_reported_once():
    text = "net A(w=1 // 0) {\n    input 3x32x32\n    conv(w, k=3)\n    if w > 2 {\n        x = relu\n    }\n    x -> relu\n}\n"
    analysis = analyze(Source("a.cnn", text))
    assert [place(d) for d in analysis.diagnostics] == [("E210", 1, 9)]


@pytest.mark.parametrize(
    "text, code",
    [
        ("net A {\n    input 3x" + "9" * 5000 + "\n}\n", "E210"),
        ("net A {\n    input 3x32x32\n    conv(" + "-" * 3000 + "1, k=3)\n}\n", "E102"),
        ("net A {\n    input 3x32x32\n    conv(1" + " + 1" * 5000 + ", k=3)\n}\n", "E102"),
        ("net A {\n    input 3x32x32\n    conv(" + "not " * 3000 + "1, k=3)\n}\n", "E102"),
        ("net A {\n    input 3x32x32\n    " + "{" * 101 + "relu" + "}" * 101 + "\n}\n", "E102"),
        (
            "".join(f"block b{i} {{\n    b{i + 1}\n}}\n" for i in range(100)) + "block b100 {\n    relu\n}\n"
            "net A {\n    input 3x32x32\n    b0\n}\n",
            "E102",
        ),
    ],
    ids=["huge-number", "deep-unary", "long-sum", "deep-not", "deep-braces", "deep-blocks"],
)
def test_pathological_input_is_a_diagnostic_not_a_crash(text, code):
    analysis = analyze(Source("big.cnn", text))
    assert [d.code for d in analysis.diagnostics] == [code]
    assert len(render(analysis.diagnostics[0], Source("big.cnn", text)).split("\n")[1]) < 200


def test_nesting_inside_comments_and_strings_is_not_counted():
    text = "net A {  # " + "(" * 300 + "\n    input 3x32x32\n    gelu(approximate='" + "{" * 150 + "')\n}\n"
    codes = [d.code for d in analyze(Source("a.cnn", text)).diagnostics]
    assert "E102" not in codes


# ---- syntax errors: messages -----------------------------------------------------------


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("conv(16, k=3 -> relu", "unexpected '->'; expected ')', ',' or an operator"),
        ("x = ", "unexpected end of line; expected a layer"),
        ("conv(16, k=3) relu", "unexpected 'relu'; expected '->', '*', '}' or a new line"),
        ("conv(16, k=", "expected a value"),
    ],
)
def test_syntax_error_messages_use_words_not_grammar_names(statement, expected):
    analysis = analyze(Source("a.cnn", f"net A {{\n    input 3x32x32\n    {statement}\n}}\n"))
    (diagnostic,) = analysis.diagnostics
    assert expected in diagnostic.message
    assert not re.search(r"__ANON|_OP\b|'minus'|\$END|_NL", diagnostic.message)


# ---- rendering ---------------------------------------------------------------------------


def caret_column(rendered: str) -> tuple[str, str]:
    """The source line as shown (without the gutter) and what the caret line marks in it."""
    lines = rendered.split("\n")
    gutter = lines[1].index("| ") + 2
    shown, carets = lines[1][gutter:], lines[2][gutter:]
    start = len(carets) - len(carets.lstrip(" "))
    return shown, shown[start : start + carets.count("^")]


def test_render_shows_place_message_line_and_caret():
    source = Source("m.cnn", "net A {\n    input 3x32x32\n    conv(16, k=3, strid=2)\n}\n")
    diagnostic = error("E201", "conv has no argument 'strid'", Span(3, 19, 3, 26), (Note("a note", Span(1, 5, 1, 6)),))
    text = render(diagnostic, source)
    lines = text.split("\n")
    assert lines[0] == "m.cnn:3:19: error[E201]: conv has no argument 'strid'"
    assert lines[1] == "    3 |     conv(16, k=3, strid=2)"
    assert caret_column(text)[1] == "strid=2"
    assert lines[3] == "  = note: m.cnn:1:5: a note"


def test_render_warning_and_no_span():
    source = Source("m.cnn", "net A {}\n")
    assert render(warning("W401", "unused", Span(1, 5, 1, 6)), source).startswith("m.cnn:1:5: warning[W401]: unused")
    assert render(error("E209", "no net", None), source) == "m.cnn: error[E209]: no net"


def test_render_with_tabs_puts_the_caret_under_the_token():
    source = Source("t.cnn", "net A {\n\tinput 3x32x32\n\t\tconv(16, k=3, strid=2)\n}\n")
    column = source.text.split("\n")[2].index("strid") + 1  # the parser counts a tab as one column
    text = render(error("E201", "m", Span(3, column, 3, column + 7)), source)
    shown, marked = caret_column(text)
    assert "\t" not in text
    assert marked == "strid=2"
    assert shown.startswith("        conv(")  # two tabs shown as 4 columns each


def test_render_with_tabs_in_a_real_fixture():
    source, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "tabs_indentation.cnn")
    assert caret_column(render(analysis.diagnostics[0], source))[1] == "strid=2"


def test_render_last_line_without_newline():
    source, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "last_line_no_newline.cnn")
    assert not source.text.endswith("\n")
    shown, marked = caret_column(render(analysis.diagnostics[0], source))
    assert shown == source.text.split("\n")[-1]
    assert marked == "rleu"


def test_render_end_of_file_caret_after_the_last_character():
    source, analysis = check_file(ROOT / "tests" / "fixtures" / "errors" / "syntax_missing_brace_eof.cnn")
    lines = render(analysis.diagnostics[0], source).split("\n")
    assert lines[1].endswith("|     relu")
    assert lines[2].index("^") == len(lines[1])


def test_render_crlf_line_endings():
    source = Source("w.cnn", "net A {\r\n    input 3x32x32\r\n    conv(16, k=3) -> rleu\r\n}\r\n")
    analysis = analyze(source)
    (diagnostic,) = analysis.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E200", 3, 22)
    text = render(diagnostic, source)
    assert "\r" not in text
    assert caret_column(text)[1] == "rleu"


@pytest.mark.parametrize("oddity", ["\u2028", "\x0c", "\x85", "\x1e"])
def test_render_counts_lines_as_the_parser_does(oddity):
    # str.splitlines() also breaks at these; the parser only at '\n': the shown line must be the right one.
    space = oddity if oddity == "\x0c" else ""  # a form feed is also whitespace to the parser
    source = Source("o.cnn", f"# a comment with {oddity} inside\nnet A {{\n    input 3x32x32{space}\n    rleu\n}}\n")
    (diagnostic,) = analyze(source).diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("E200", 4)
    shown, marked = caret_column(render(diagnostic, source))
    assert shown == "    rleu" and marked == "rleu"


def test_render_wide_characters_keep_the_caret_aligned():
    source = Source("w.cnn", "net A {\n    input 3x32x32\n    名前: relu -> rleu\n}\n")
    assert [d.code for d in analyze(source).diagnostics] == ["E207", "E200"]
    line = source.text.split("\n")[2]
    column = line.index("rleu") + 1
    text = render(error("E200", "m", Span(3, column, 3, column + 4)), source)
    carets = text.split("\n")[2]
    # 名 and 前 take two terminal columns each: the caret moves two columns further right.
    assert carets.index("^") == len("    3 | ") + column - 1 + 2


def test_render_long_lines_are_shortened_around_the_caret():
    line = "    relu" + " -> relu" * 40 + " -> rleu" + " -> relu" * 40
    source = Source("l.cnn", "net A {\n    input 3x32x32\n" + line + "\n}\n")
    (diagnostic,) = analyze(source).diagnostics
    text = render(diagnostic, source)
    shown, marked = caret_column(text)
    assert marked == "rleu"
    assert shown.startswith("...") and shown.endswith("...")
    assert len(shown) < 140


def test_render_span_past_the_end_of_the_line():
    source = Source("e.cnn", "net A {\n")
    text = render(error("E100", "m", Span(1, 8, 1, 9)), source)
    assert text.split("\n")[2] == " " * len("    1 | ") + " " * 7 + "^"


# ---- never a crash -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    example=st.sampled_from([path.read_text(encoding="utf-8") for path in EXAMPLES] or ["net A { input 3x8x8 }"]),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 3), st.sampled_from(list("(){}->,:=*x#'\n 0123abc$") + ["net ", "block "])),
        min_size=1,
        max_size=4,
    ),
)
def test_corrupted_examples_give_diagnostics_never_exceptions(example, edits):
    text = example
    for where, deleted, inserted in edits:
        at = int(where * len(text))
        text = text[:at] + inserted + text[at + deleted :]
    source = Source("fuzz.cnn", text)
    analysis = analyze(source)
    lines = text.split("\n")
    for diagnostic in analysis.diagnostics:
        assert diagnostic.code in CODES
        render(diagnostic, source)
        if diagnostic.span is not None:
            assert 1 <= diagnostic.span.line <= len(lines)
    syntax = [d for d in analysis.diagnostics if d.code == "E100"]
    if syntax:  # syntax errors stop the analysis: nothing else is reported
        assert all(d.code in ("E100", "E102") for d in analysis.diagnostics)
        assert len(syntax) <= text.count("net") + text.count("block") + text.count("module") + 1
