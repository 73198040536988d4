"""`cnnspec fmt`: the canonical layout, idempotence, comments kept, the parsed graph unchanged,
on every example and on random programs (tests/test_torch_equivalence.py's generator, with
random whitespace, line breaks, `;` and comments added); the command's files and exit codes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.format import format_text, lex
from cnnspec.source import Source
from tests.test_torch_equivalence import generate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
RANDOM = settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def graph_signature(text: str):
    """What formatting must not change: every node's name, op, hparams, inputs and shapes; the errors."""
    analysis = analyze(Source("model.cnn", text))
    nodes = analysis.graph.nodes if analysis.graph is not None else []
    layers = [(n.name, n.op, n.hparams, [(v.node, v.index) for v in n.inputs], n.outputs, n.params, n.buffers) for n in nodes]
    return layers, [d.code for d in analysis.diagnostics]


def comments(text: str) -> list[str]:
    return [str(token).rstrip() for token in lex(text) if token.type == "COMMENT"]


def assert_formats_safely(text: str) -> str:
    formatted = format_text(text)
    assert format_text(formatted) == formatted, "not idempotent"
    assert graph_signature(formatted) == graph_signature(text)
    assert comments(formatted) == comments(text)
    assert formatted == "" or (formatted.endswith("\n") and not formatted.endswith("\n\n"))
    assert "\n\n\n" not in formatted and not formatted.startswith("\n")
    assert not re.search(r"[ \t]$", formatted, re.MULTILINE), "trailing whitespace"
    return formatted


# ---- the examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_formats_safely(path):
    assert_formats_safely(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_already_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, f"run: cnnspec fmt {path.relative_to(ROOT)}"


# ---- the canonical layout ------------------------------------------------------------------------

LAYOUTS = [
    # spacing: arrows, labels, keyword arguments, commas, operators, ranges, unary minus
    (
        "net N(c=8){input 3x32x32\nx=a:conv( c*2 ,k = 3,pad=(1 ,1))->relu\nflatten(start_dim= -3)}\n",
        "net N(c=8) {\n    input 3x32x32\n    x = a: conv(c * 2, k=3, pad=(1, 1)) -> relu\n    flatten(start_dim=-3)\n}\n",
    ),
    # `;` splits statements; a one-line body of a definition opens up
    ("net N { input 3x8x8; conv(4) ;; relu }", "net N {\n    input 3x8x8\n    conv(4)\n    relu\n}\n"),
    # a group on one line stays on one line; one whose statements span lines opens up
    (
        "net N {\n  input 3x8x8\n  l: { conv(4) -> relu }\n  m: {conv(4); relu} * 2\n}\n",
        "net N {\n    input 3x8x8\n    l: {conv(4) -> relu}\n    m: {\n        conv(4)\n        relu\n    } * 2\n}\n",
    ),
    # blocks, conditions, loops, label indexes, merges; `1..n` and `name{i}:` without spaces
    (
        "block b(n,down = false){\nfor i in 1 .. n {cat(d{ i }:conv(4))}\nif down and n>1 {add(in)} else {relu}\n}\n"
        "net N{input 3x8x8\nb(2)}\n",
        "block b(n, down=false) {\n    for i in 1..n {\n        cat(d{i}: conv(4))\n    }\n    if down and n > 1 {\n        add(in)\n    } else {\n        relu\n    }\n}\n\n"
        "net N {\n    input 3x8x8\n    b(2)\n}\n",
    ),
    # numbers and strings keep their spelling; binary and unary minus; not
    (
        "net N {\ninput (3 , 8,8)\nexpect params<=5M\nconv(1_024-1 , k=-(-3)) -> upsample(scale=2.0, mode = 'nearest') -> dropout(p=1e-1)\nif not true {relu}\n}\n",
        "net N {\n    input (3, 8, 8)\n    expect params <= 5M\n    conv(1_024 - 1, k=-(-3)) -> upsample(scale=2.0, mode='nearest') -> dropout(p=1e-1)\n    if not true {\n        relu\n    }\n}\n",
    ),
    # blank lines: none at the start or end, none just inside brackets, at most one elsewhere,
    # exactly one between definitions; comments kept where they are, trailing ones aligned
    (
        "\n\n# header\n\n\n\nblock b {\n\n  conv(4)   # four\n\n\n  relu # r\n\n}\nnet N {   # the net\n  input 3x8x8\n  b  # call\n  maxpool(2)      # pool\n}\n\n\n",
        "# header\n\nblock b {\n    conv(4)  # four\n\n    relu  # r\n}\n\nnet N {         # the net\n    input 3x8x8\n    b           # call\n    maxpool(2)  # pool\n}\n",
    ),
    # continuation lines: one more level after `->` or `,`; inside brackets, one level per bracket
    # counted from the line that opened it; the closing bracket back at that line's level
    (
        "net N {\ninput 3x8x8\nconv(4) ->\nrelu ->\n      maxpool(2)\na, \nb = chunk(2)\nadd(a,\n# the other half\nb -> conv(\n4, k=1\n)\n)\n}\n",
        "net N {\n    input 3x8x8\n    conv(4) ->\n        relu ->\n        maxpool(2)\n    a,\n        b = chunk(2)\n    add(a,\n        # the other half\n        b -> conv(\n            4, k=1\n        )\n    )\n}\n",
    ),
    # tabs, CRLF, trailing whitespace, no final newline
    ("net N {\r\n\tinput 3x8x8 \r\n\tconv(4)\t# c \r\n}", "net N {\n    input 3x8x8\n    conv(4)  # c\n}\n"),
    # a group inside parentheses keeps its line breaks (there they are not statement ends)
    (
        "net N {\ninput 3x8x8\nadd(in -> d: {\nconv(3, k=1) -> batchnorm\n})\n}\n",
        "net N {\n    input 3x8x8\n    add(in -> d: {\n        conv(3, k=1) -> batchnorm\n    })\n}\n",
    ),
    ("", ""),
    ("# only a comment", "# only a comment\n"),
]


@pytest.mark.parametrize("text, expected", LAYOUTS)
def test_canonical_layout(text, expected):
    assert assert_formats_safely(text) == expected


# ---- random programs -----------------------------------------------------------------------------

WORD = re.compile(r"[\w.'\"]")
SYMBOL = re.compile(r"[-<>=!/*%.]")


def _glue(before: str, after: str, data) -> str:
    """Random horizontal whitespace between two tokens, never merging them into one."""
    merges = (WORD.match(before[-1]) and WORD.match(after[0])) or (SYMBOL.match(before[-1]) and SYMBOL.match(after[0]))
    choices = [" ", "  ", "\t", " \t "] if merges else ["", " ", "   ", "\t"]
    return data.draw(st.sampled_from(choices))


def _comment(data, vertical: bool, number: int) -> str:
    return f"  # c{number}" if vertical and data.draw(st.booleans()) else ""


def perturb(text: str, data, vertical: bool) -> str:
    """The same program with other whitespace, and, where `vertical`: `;` for newlines between
    statements, extra line breaks where the grammar continues a line, blank lines and comments."""
    out = []
    parens = braces = 0
    previous = None
    for token in lex(text):
        kind, value = token.type, str(token)
        if kind == "_NL":
            if braces and not parens and data.draw(st.booleans()):
                out.append(";")
            else:
                newlines = data.draw(st.integers(1, 3)) if vertical else 1
                out.append(_comment(data, vertical, len(out)) + "\n" * newlines + data.draw(st.sampled_from(["", "  ", "\t", "        "])))
            previous = None
            continue
        if previous is not None:
            breakable = parens or previous.type in ("_ARROW", "COMMA")
            if vertical and breakable and data.draw(st.integers(0, 4)) == 0:
                out.append(_comment(data, vertical, len(out)) + "\n" + data.draw(st.sampled_from(["", "   "])))
            else:
                out.append(_glue(str(previous), value, data))
        out.append(value)
        parens += (kind == "LPAR") - (kind == "RPAR")
        braces += (kind == "LBRACE") - (kind == "RBRACE")
        previous = token
    return "".join(out)


@RANDOM
@given(st.data(), st.booleans())
def test_random_program_formats_safely(data, branched):
    text = generate(data, branched).text
    assert_formats_safely(text)
    assert format_text(perturb(text, data, vertical=False)) == format_text(text), "spacing and `;` do not change the layout"
    assert_formats_safely(perturb(text, data, vertical=True))


# ---- the command ------------------------------------------------------------------------------------

MESSY = "net N {input 3x8x8 ;conv(4)->relu}  # end\n"
TIDY = "net N {\n    input 3x8x8\n    conv(4) -> relu\n}  # end\n"


def run(*args, input=None):
    return CliRunner().invoke(cli, ["fmt", *map(str, args)], input=input)


def test_fmt_rewrites_only_files_that_change(tmp_path):
    messy, tidy = tmp_path / "messy.cnn", tmp_path / "tidy.cnn"
    messy.write_text(MESSY)
    tidy.write_text(TIDY)
    os.utime(tidy, (1, 1))
    result = run(messy, tidy)
    assert result.exit_code == 0, result.output
    assert messy.read_text() == TIDY
    assert os.stat(tidy).st_mtime == 1, "an already formatted file is not written"
    assert result.stdout == ""
    assert result.stderr == f"reformatted {messy}\n1 file reformatted, 1 unchanged\n"


def test_fmt_quiet_prints_only_problems(tmp_path):
    messy, broken = tmp_path / "messy.cnn", tmp_path / "broken.cnn"
    messy.write_text(MESSY)
    quiet = run("-q", messy)
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert messy.read_text() == TIDY
    messy.write_text(MESSY)
    checked = run("--check", "--quiet", messy)  # the diff is the result: still printed
    assert checked.exit_code == 1 and checked.stdout.startswith(f"--- {messy}\n") and checked.stderr == ""
    broken.write_text("net N {\n    input 3x8x8\n    conv(4\n}\n")
    failed = run("-q", broken, messy)
    assert failed.exit_code == 1 and "error[E100]" in failed.stderr
    assert "reformatted" not in failed.stderr and "unchanged" not in failed.stderr


def test_fmt_check_prints_a_diff_and_writes_nothing(tmp_path):
    path = tmp_path / "messy.cnn"
    path.write_text(MESSY)
    result = run("--check", path)
    assert result.exit_code == 1
    assert path.read_text() == MESSY
    assert result.stdout.startswith(f"--- {path}\n+++ {path} (formatted)\n@@ ")
    assert "-net N {input 3x8x8 ;conv(4)->relu}  # end\n" in result.stdout
    assert "+    conv(4) -> relu\n" in result.stdout
    assert result.stderr == "1 file would be reformatted, 0 unchanged\n"
    path.write_text(TIDY)
    result = run("--check", path)
    assert (result.exit_code, result.stdout) == (0, "")


def test_fmt_check_shows_a_missing_final_newline(tmp_path):
    path = tmp_path / "model.cnn"
    path.write_text(TIDY.rstrip("\n"))
    result = run("--check", path)
    assert result.exit_code == 1
    assert "-}  # end\n\\ No newline at end of file\n+}  # end\n" in result.stdout


def test_fmt_searches_folders_for_cnn_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.cnn", "sub/b.cnn", ".hidden/c.cnn"):
        (tmp_path / name).write_text(MESSY)
    (tmp_path / "notes.txt").write_text(MESSY)
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.cnn").read_text() == (tmp_path / "sub/b.cnn").read_text() == TIDY
    assert (tmp_path / ".hidden/c.cnn").read_text() == (tmp_path / "notes.txt").read_text() == MESSY


def test_fmt_leaves_a_file_with_syntax_errors_alone(tmp_path):
    bad, good = tmp_path / "bad.cnn", tmp_path / "good.cnn"
    bad.write_text("net N {\n    input 3x8x8\n    conv(4 -> relu\n}\n")
    good.write_text(MESSY)
    result = run(bad, good)
    assert result.exit_code == 1
    assert bad.read_text() == "net N {\n    input 3x8x8\n    conv(4 -> relu\n}\n"
    assert good.read_text() == TIDY, "the other files are still formatted"
    assert f"{bad}:3:" in result.stderr and "error[E100]" in result.stderr
    assert "Traceback" not in result.output


def test_fmt_reports_an_unreadable_file(tmp_path):
    path = tmp_path / "latin1.cnn"
    path.write_bytes(b"# caf\xe9\nnet N {\n    input 3x8x8\n}\n")
    result = run(path)
    assert result.exit_code == 1
    assert "error[E101]: the file is not valid UTF-8" in result.stderr


def test_fmt_reads_standard_input():
    result = run("-", input=MESSY)
    assert (result.exit_code, result.stdout, result.stderr) == (0, TIDY, "")
    result = run("--check", "-", input=MESSY)
    assert result.exit_code == 1 and result.stdout.startswith("--- <stdin>\n")


def test_fmt_of_a_folder_without_cnn_files_is_a_usage_error(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 2 and "no .cnn files" in result.stderr


def test_a_formatter_bug_never_breaks_a_file(tmp_path, monkeypatch):
    path = tmp_path / "model.cnn"
    path.write_text(MESSY)
    monkeypatch.setattr("cnnspec.format.format_text", lambda text: text.replace("}", ""))
    result = run(path)
    assert result.exit_code == 3
    assert "internal error: AssertionError: the formatted text does not parse" in result.stderr
    assert path.read_text() == MESSY
