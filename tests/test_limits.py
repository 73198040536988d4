"""Bounded resources: oversized, deeply nested and absurd input gets a diagnostic, quickly.

The limits: 1,000,000 layers (expand.MAX_NODES, E211, refused before expanding, using the
lower bound of cnnspec.bounds), 100 levels of brackets (parser.MAX_NESTING, E102), 64 levels
of block calls (expand.MAX_CALL_DEPTH, E102), 64-bit sizes and counts (E210, E202, E307).
Times are printed (pytest -s), not asserted; the generous bound only guards against a hang.
"""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.expand import MAX_CALL_DEPTH, MAX_NODES
from cnnspec.source import Source
from cnnspec.syntax import MAX_NESTING

HANG_GUARD_S = 30.0  # generous: the machine is shared; this only catches a hang (the figures are printed)


def net(*lines: str, blocks: str = "") -> str:
    return blocks + "net N {\n    input 3x8x8\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def codes_of(text: str, what: str) -> list[str]:
    """The diagnostic codes of `text`; the analysis is timed and must not hang."""
    start = time.perf_counter()
    analysis = analyze(Source("limits.cnn", text))
    elapsed = time.perf_counter() - start
    print(f"{what}: {elapsed:.3f} s")
    assert elapsed < HANG_GUARD_S
    return [d.code for d in analysis.diagnostics]


def check_output(tmp_path, text: str, name: str = "case.cnn"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return CliRunner().invoke(cli, ["check", str(path)])


# ---- the layer limit --------------------------------------------------------------------------


def test_the_limits_are_the_documented_ones():
    assert (MAX_NODES, MAX_NESTING, MAX_CALL_DEPTH) == (1_000_000, 100, 64)


def test_a_repetition_past_the_layer_limit_stops_at_once():
    assert codes_of(net("(conv(8, k=3, pad=1)) * 2000000"), "(conv) * 2,000,000") == ["E211"]


def test_a_repeated_block_past_the_layer_limit_stops_before_expanding():
    blocks = "block a {\n    relu * 1000\n}\nblock b {\n    a * 1000\n}\n"
    assert codes_of(net("b * 3", blocks=blocks), "3 x 1,000 x 1,000 layers") == ["E211"]


def test_doubling_blocks_past_the_layer_limit_stop_before_expanding():
    blocks = "block b0 {\n    relu -> relu\n}\n" + "".join(f"block b{i} {{\n    b{i - 1} -> b{i - 1}\n}}\n" for i in range(1, 20))
    assert codes_of(net("b19", blocks=blocks), "2**20 layers through 20 blocks") == ["E211"]


def test_a_loop_past_the_layer_limit_stops_before_expanding():
    blocks = "block a {\n    relu * 1000\n}\n"
    assert codes_of(net("for i in 1..2000 {\n        a\n    }", blocks=blocks), "2,000 iterations of 1,000 layers") == ["E211"]


def test_a_repetition_of_unknown_size_is_not_refused_early():
    """The bound counts only what is certain: `relu * n` counts n layers with n known at the call,
    and zero where it is not (tests/test_expand_bounds.py)."""
    blocks = "block a(n) {\n    relu * n\n}\n"
    assert codes_of(net("a(3) * 2", blocks=blocks), "parameterised repetition") == []


def test_a_split_into_millions_of_tensors_stops_at_the_layer_limit():
    """Found by fuzzing: `chunk(chunks=6244141)` on a long vector made one node with 6 million outputs."""
    assert codes_of("net N {\n    input (6244141,)\n    chunk(chunks=6244141)\n}\n", "chunk into 6,244,141 tensors") == ["E211"]


def test_a_split_is_refused_before_its_pieces_are_built():
    """Found by fuzzing: `split(sizes=11)` of 4,294,967,297 channels built 390 million shapes (14 GB)
    before the limit was checked; now the count is computed first."""
    text = "net N {\n    input (4294967297,)\n    a, b = split(sizes=11)\n}\n"
    assert codes_of(text, "split into 390,451,573 tensors") == ["E211"]


# ---- nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "line"),
    [
        ("10,000 nested parentheses", "(" * 10_000 + "relu" + ")" * 10_000),
        ("10,000 nested braces", "{" * 10_000 + "relu" + "}" * 10_000),
        ("a 10,000-deep expression", "conv(" + "(" * 10_000 + "1" + ")" * 10_000 + ")"),
    ],
)
def test_deep_nesting_is_a_diagnostic(what, line):
    assert codes_of(net(line), what) == ["E102"]


def test_ten_thousand_chained_blocks_are_a_diagnostic():
    blocks = "block b0 {\n    relu\n}\n" + "".join(f"block b{i} {{\n    b{i - 1}\n}}\n" for i in range(1, 10_000))
    assert codes_of(net("b9999", blocks=blocks), "10,000 blocks each calling the one before") == ["E102"]


def test_a_sum_of_100k_terms_is_a_diagnostic():
    assert codes_of(net("conv(" + "+".join(["1"] * 100_000) + ")"), "1+1+...+1, 100,000 terms") == ["E102"]


# ---- absurd sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "text", "code"),
    [
        ("a 20-digit channel count", net("conv(99999999999999999999)"), "E210"),
        ("an input of 2**189 elements", "net N {\n    input 9223372036854775807x9223372036854775807x9223372036854775807\n}\n", "E202"),
        ("an output past 2**63 elements", "net N {\n    input 1x99999999x99999999\n    conv(999999999, k=3)\n}\n", "E307"),
        ("a weight past 2**63 elements", "net N {\n    input 3037000500\n    linear(3037000500)\n}\n", "E202"),
        ("sizes growing past 2**63", "net N {\n    input 1x1000000000x1000000000\n    upsample(scale=100000)\n}\n", "E307"),
    ],
)
def test_sizes_past_64_bits_are_a_diagnostic(what, text, code):
    assert codes_of(text, what) == [code]


def test_huge_but_countable_figures_are_printed_readably(tmp_path):
    result = check_output(tmp_path, "net N {\n    input 1x3000000x3000000\n    conv(1000, k=3, pad=1)\n}\n")
    assert result.exit_code == 0, result.output
    assert re.search(r"^MACs: +8\.10e\+16 \(81,000,000,000,000,000\); other ops 9000\.00 T$", result.output, re.MULTILINE), result.output
    assert re.search(r"activation gradients 3\.60e\+16 B\)$", result.output), result.output


def test_resampling_to_huge_odd_sizes_is_computed_not_enumerated():
    """Found by fuzzing: the receptive step of an adaptive pool to 515,270,859 rows enumerated
    one period of output positions (515 million), and its cost summed every window."""
    text = "net N {\n    input 8x224x224\n    adaptiveavgpool((515270859, 7))\n    upsample(scale=1.2345678)\n}\n"
    assert codes_of(text, "adaptive pool to 515,270,859 rows, upsampling by 1.2345678") == []


def test_the_fast_receptive_step_equals_enumerating_every_output():
    """Periods over 1,024 outputs are decided from a few outputs: the same step as enumerating all."""
    from fractions import Fraction
    from math import ceil, floor

    from cnnspec.layers import base

    for n, m in [(1031, 2048), (2053, 1031), (4099, 3001), (7, 1999)]:
        ratio = Fraction(n, m)
        first, last = (lambda i, q=ratio: floor(i * q)), (lambda i, q=ratio: ceil((i + 1) * q) - 1)
        enumerated = base.resampling_step(ratio, first, last, (0, ratio))
        low = min(first(i) - i * ratio for i in range(ratio.denominator))
        high = max(last(i) - i * ratio for i in range(ratio.denominator))
        assert enumerated == (high - low + 1, ratio, -low)


def test_input_sizes_of_a_huge_input_are_searched_to_a_bound():
    """Found by fuzzing: --sizes (and W400's suggestion) tried every size up to twice the declared
    one, a billion re-inferences for an input of 513,085,685."""
    from cnnspec.analysis.sizes import SCAN_AT_MOST, input_sizes

    analysis = analyze(Source("limits.cnn", "net N {\n    input (8, 513085685)\n    avgpool(3, stride=3)\n}\n"))
    start = time.perf_counter()
    (axis,) = input_sizes(analysis.graph)
    print(f"--sizes on an axis of 513,085,685: {time.perf_counter() - start:.3f} s")
    assert (axis.limit, axis.smallest, axis.description) == (SCAN_AT_MOST, 3, "multiples of 3 from 3")


# ---- big and odd files ---------------------------------------------------------------------------


def test_a_10_mb_file_is_handled(tmp_path):
    text = "# " + "x" * 10_000_000 + "\n" + net("relu")
    start = time.perf_counter()
    result = check_output(tmp_path, text)
    print(f"a 10 MB comment: {time.perf_counter() - start:.3f} s")
    assert result.exit_code == 0, result.output


def test_a_nul_byte_is_a_syntax_error():
    assert codes_of(net("re\0lu"), "NUL byte") == ["E100"]


def test_crlf_line_ends_read_like_lf(tmp_path):
    text = net("conv(8, k=3) -> relu", "maxpool(2)")
    lf = check_output(tmp_path, text, "lf.cnn")
    crlf = check_output(tmp_path, text.replace("\n", "\r\n"), "crlf.cnn")
    assert lf.exit_code == crlf.exit_code == 0
    assert lf.output.replace("crlf.cnn", "lf.cnn") == crlf.output.replace("crlf.cnn", "lf.cnn")


# ---- no user code runs ------------------------------------------------------------------------------

_CODE_RUNNERS = {"eval", "exec", "compile", "__import__", "import_module", "system", "popen", "Popen"}

PROBE = """
import sys
from cnnspec.cli import main
sys.argv = ["cnnspec", "check", "examples/resnet18.cnn", "--format", "json"]
try:
    main()
except SystemExit:
    pass
for name, module in sorted(sys.modules.items()):
    if name.startswith("cnnspec") and getattr(module, "__file__", None):
        print("MODULE", module.__file__, file=sys.stderr)
"""


def test_check_never_runs_code_from_the_file():
    """Expressions are evaluated by cnnspec.expressions; nothing `check` loads calls eval, exec or the like."""
    import subprocess
    import sys
    import tokenize
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=root, timeout=120)
    modules = [line.split(" ", 1)[1] for line in result.stderr.splitlines() if line.startswith("MODULE ")]
    assert any(path.endswith("expressions.py") for path in modules), result.stderr[-2000:]
    calls = []
    for path in modules:
        with open(path, "rb") as handle:
            tokens = [t for t in tokenize.tokenize(handle.readline) if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
        for before, token, following in zip(tokens, tokens[1:], tokens[2:]):
            regex = before.string == "." and token.string == "compile"  # re.compile
            if token.type == tokenize.NAME and token.string in _CODE_RUNNERS and following.string == "(" and not regex:
                calls.append(f"{path}:{token.start[0]}: {token.string}(")
    assert calls == []
