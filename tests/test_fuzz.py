"""Never a traceback: every command that reads a .cnn file, fed random and broken input.

Each case writes one input to a file and runs every command of the CLI that reads one,
in-process (`check` in a few output formats, `fmt --check`, `graph`, `codegen`: whatever
cnnspec.commands.COMMANDS holds, but for those that run the model in torch). Every outcome must be a clean exit 0, 1 or 2 with no
"Traceback" and no "internal error" (exit 3 is a bug in cnnspec). The strategies:

a. random text and random bytes;
b. mutations of the examples: token deletions, swaps and duplications, huge, negative and
   odd numbers, unicode, NUL bytes, CRLF line ends, a truncated file;
c. well-formed random programs (the generator of tests/test_torch_equivalence.py) with some
   of their numbers replaced by huge, zero or negative ones.

The default run does DEFAULT_CASES cases per strategy, derandomized. For a long search:
    CNNSPEC_FUZZ_CASES=5000 pytest -m fuzz tests/test_fuzz.py      (5,000 per strategy: 20,000 cases)
and CNNSPEC_FUZZ_RANDOM=1 for a fresh seed.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspec.cli import cli
from cnnspec.commands import COMMANDS
from tests.test_torch_equivalence import generate

pytestmark = pytest.mark.fuzz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = {
    os.path.basename(path): open(path, encoding="utf-8").read() for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))
}

DEFAULT_CASES = 200
CASES = int(os.environ.get("CNNSPEC_FUZZ_CASES", DEFAULT_CASES))
FUZZ = settings(
    max_examples=CASES,
    deadline=None,
    derandomize=not os.environ.get("CNNSPEC_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Extra arguments per command: `fmt` must not rewrite the input; `check` is run in every output
# format. A command not listed here runs as `cnnspec NAME FILE`.
VARIANTS = {
    "check": [[], ["--format", "json"], ["--format", "markdown"]],
    "fmt": [["--check"]],
}


def _takes_a_file(command: click.Command) -> bool:
    return any(isinstance(param, click.Argument) and isinstance(param.type, click.Path) for param in command.params)


# Commands that build or train the model in torch: a fuzzed net may ask for gigabytes and minutes.
RUNS_THE_MODEL = {"verify", "train"}
FILE_COMMANDS = [command.name for command in COMMANDS if _takes_a_file(command) and command.name not in RUNS_THE_MODEL]

_RUNNER = CliRunner()
_FOLDER = tempfile.mkdtemp(prefix="cnnspec-fuzz-")


def assert_clean_exits(content: str | bytes, sizes: bool = False) -> None:
    """Every file command on `content` (and `check --sizes`, which is slow on large nets, if
    `sizes`): exit 0, 1 or 2, and no traceback or internal error."""
    path = os.path.join(_FOLDER, "case.cnn")
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    with open(path, "wb") as handle:
        handle.write(data)
    runs = [[name, *extra, path] for name in FILE_COMMANDS for extra in VARIANTS.get(name, [[]])]
    for argv in runs + [["check", "--sizes", path]] * sizes:
        result = _RUNNER.invoke(cli, argv)
        output = result.output
        unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
        detail = f"cnnspec {' '.join(argv)} -> exit {result.exit_code}, {result.exception!r}\n{output[-3000:]}\ninput: {data[:2000]!r}"
        assert not unexpected, detail
        assert result.exit_code in (0, 1, 2), detail
        assert "Traceback" not in output and "internal error" not in output, detail


# ---- a. random text and bytes ----------------------------------------------------------------


@FUZZ
@given(st.text())
def test_random_text(text):
    assert_clean_exits(text)


@FUZZ
@given(st.binary())
def test_random_bytes(data):
    assert_clean_exits(data)


# ---- b. mutations of the examples ---------------------------------------------------------------

_TOKEN = re.compile(r"\s+|#[^\n]*|\d+(?:x\d+)+|\d+(?:\.\d+)?|[^\W\d]\w*|->|\.\.|//|[=!<>]=|.", re.DOTALL)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

# Counts between 1,000 and 1,000,000 are left out: they make legal nets of up to a million layers,
# a minute each (large nets are tests/test_scale.py's and benchmarks/scale.py's); past the layer
# limit they are refused at once.
SAFE_INTEGERS = st.one_of(st.integers(-(10**30), 1000), st.integers(1_000_001, 10**30))

ODD_NUMBERS = st.one_of(
    st.sampled_from(["0", "-1", "-0", "00", "1_000", "0.0", "1e308", "1e999", "2" * 400, "9223372036854775807", "9223372036854775808"]),
    SAFE_INTEGERS.map(str),
)


@st.composite
def mutated_examples(draw):
    tokens = _TOKEN.findall(draw(st.sampled_from(sorted(EXAMPLES.values()))))
    for _ in range(draw(st.integers(1, 4))):
        _mutate_tokens(draw, tokens)
    text = "".join(tokens)
    if draw(st.integers(0, 9)) == 0:
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _mutate_tokens(draw, tokens: list[str]) -> None:
    """One edit of the token list, in place."""
    words = [i for i, token in enumerate(tokens) if not token.isspace()]
    numbers = [i for i, token in enumerate(tokens) if _NUMBER.fullmatch(token)]
    where = draw(st.sampled_from(words))
    edit = draw(st.sampled_from(["delete", "swap", "duplicate", "number", "unicode", "nul"]))
    if edit == "delete":
        del tokens[where]
    elif edit == "swap":
        other = draw(st.sampled_from(words))
        tokens[where], tokens[other] = tokens[other], tokens[where]
    elif edit == "duplicate":
        tokens.insert(draw(st.sampled_from(words)), tokens[where])
    elif edit == "number" and numbers:
        tokens[draw(st.sampled_from(numbers))] = draw(ODD_NUMBERS)
    elif edit == "unicode":
        tokens.insert(where, draw(st.text(min_size=1, max_size=3)))
    else:
        tokens.insert(where, "\0")


@FUZZ
@given(mutated_examples())
def test_mutated_examples(text):
    assert_clean_exits(text)


# ---- c. well-formed programs with random hyperparameters ---------------------------------------------

EXTREME_NUMBERS = st.one_of(
    st.sampled_from(["0", "-1", "-3", "99999999999999999999", "9223372036854775807", "4294967297", "65536", "1000001"]),
    SAFE_INTEGERS.map(str),
)


@st.composite
def programs_with_odd_numbers(draw):
    text = generate(draw(st.data()), branched=draw(st.booleans())).text
    pieces = re.split(r"(?<![\w.])(\d+)(?![\w.])", text)  # odd indices: integer literals (not in shapes)
    for index in range(1, len(pieces), 2):
        if draw(st.integers(0, 4)) == 0:
            pieces[index] = draw(EXTREME_NUMBERS)
    return "".join(pieces)


@FUZZ
@given(programs_with_odd_numbers())
def test_programs_with_odd_numbers(text):
    assert_clean_exits(text, sizes=True)
