"""Suppression comments (`# cnnspec: ignore[W402]`) and `check --ignore CODE`: what they
silence, where, what they report about themselves, and --strict."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cnnspec.analyze import analyze, analyze_nets
from cnnspec.cli import cli
from cnnspec.source import Source, Span
from cnnspec.suppress import read_suppressions


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def codes(text: str, **options) -> list[tuple[str, int]]:
    return [(d.code, d.span.line if d.span else 0) for d in analyze(Source("m.cnn", text), **options).diagnostics]


def write(tmp_path, text: str) -> str:
    path = tmp_path / "m.cnn"
    path.write_text(text, encoding="utf-8")
    return str(path)


# torchvision's vgg16_bn keeps the conv bias before each batch norm (W402), in a block called per stage
VGG_BN = """block stage(c, n) {
    (conv(c, k=3, pad=1) -> batchnorm -> relu) * n
    maxpool(2)
}

net VggBn {
    input 3x12x12
    stage(8, 2)  {first}
    stage(16, 2)  {second}
    adaptiveavgpool((1, 1)) -> flatten -> linear(10)
}
"""

# squeezenet 1.1's first conv drops a border pixel (W400) and its classifier is a conv whose
# receptive field does not cover the image (W404)
SQUEEZE = """net Squeeze {
    input 3x224x224
    conv(64, k=3, stride=2) -> relu  {w400}
    maxpool(3, stride=2, ceil_mode=true)
    conv(10, k=1) -> relu  {w404}
    adaptiveavgpool((1, 1)) -> flatten
}
"""


def vgg(first: str = "", second: str = "") -> str:
    return VGG_BN.replace("{first}", first).replace("{second}", second)


def squeeze(w400: str = "", w404: str = "") -> str:
    return SQUEEZE.replace("{w400}", w400).replace("{w404}", w404)


def test_the_examples_warnings_are_there_without_a_comment():
    assert codes(vgg()) == [("W402", 2)]  # one report, its note counting the other expansions
    assert {code for code, _ in codes(squeeze())} == {"W400", "W404"}


def test_a_comment_at_the_warnings_line_silences_it():
    assert codes(squeeze(w400="# cnnspec: ignore[W400]")) == [("W404", 5)]
    assert codes(squeeze(w400="# cnnspec: ignore W400", w404="# cnnspec: ignore[W404]")) == []
    assert codes(squeeze(w400="# torchvision drops it too  # cnnspec: ignore[W400]")) == [("W404", 5)]
    assert codes(squeeze(w400="# cnnspec: ignore[w400] torchvision's own stem")) == [("W404", 5)]  # a reason may follow


def test_a_comment_at_a_block_call_silences_that_expansion_only():
    first_only = analyze(Source("m.cnn", vgg(first="# cnnspec: ignore[W402]"))).diagnostics
    assert [(d.code, d.span.line) for d in first_only] == [("W402", 2)]
    assert [n.span.line for n in first_only[0].notes if n.span] == [9]  # the call left reported: the second
    assert codes(vgg(first="# cnnspec: ignore[W402]", second="# cnnspec: ignore[W402]")) == []


def test_several_codes_in_one_comment():
    text = squeeze(w400="# cnnspec: ignore[W400, W404]")
    assert codes(text) == [("W405", 3), ("W404", 5)]  # W404 is not on line 3


def test_an_unused_suppression_is_reported_where_it_is():
    found = analyze(Source("m.cnn", "net N {\n    input 3x32x32\n    conv(8, k=3, pad=1)  # cnnspec: ignore[W402]\n}\n")).diagnostics
    assert [(d.code, d.span) for d in found] == [("W405", Span(3, 28, 3, 49))]
    assert "silences nothing" in found[0].message


def test_no_unused_report_while_the_file_has_errors():
    text = "net N {\n    input 3x4x4\n    conv(8, k=5)  # cnnspec: ignore[W402]\n}\n"
    assert codes(text) == [("E300", 3)]


def test_mistakes_in_a_suppression_are_reported():
    def problems(comment: str) -> list[str]:
        found = analyze(Source("m.cnn", f"net N {{\n    input 3x32x32\n    conv(8, k=3, stride=2)  # {comment}\n}}\n")).diagnostics
        return [d.message for d in found if d.code == "W406"]

    assert problems("cnnspec: ignore[E300]") == ["E300 is an error (output size below 1); errors cannot be silenced"]
    assert problems("cnnspec: ignore[W42]") == ["'W42' is not a cnnspec diagnostic code; did you mean 'W402'?"]
    assert problems("cnnspec: ingore[W400]") == ["unknown cnnspec directive 'ingore'; did you mean 'ignore'?"]
    assert len(problems("cnnspec: ignore")) == 1 and len(problems("cnnspec: ignore[]")) == 1
    assert len(problems("cnnspec: ignore[W400 please]")) == 1
    assert problems("cnnspec: ignore[W400]") == [] and problems("see the cnnspec: manual") == []


def test_a_hash_in_a_string_is_not_a_comment():
    text = "net N {\n    input 3x32x32\n    if 'a # cnnspec: ignore[W400]' == 'b' { conv(8, k=1) } else { conv(8, k=3, stride=2) }\n}\n"
    assert read_suppressions(text) == ([], [])
    assert codes(text) == [("W400", 3)]
    after = text.replace("stride=2) }\n", "stride=2) }  # 'quoted' # cnnspec: ignore[W400]\n")
    assert len(read_suppressions(after)[0]) == 1 and codes(after) == []


def test_a_suppression_used_by_one_net_of_several_is_not_unused():
    text = (  # a block both nets call; only A's input makes it drop a pixel
        "block down() {\n    conv(8, k=3, stride=2)  # cnnspec: ignore[W400]\n}\n"
        "net A {\n    input 3x32x32\n    down()\n}\n"
        "net B {\n    input 3x33x33\n    down()\n}\n"
    )
    analyses = analyze_nets(Source("m.cnn", text))
    assert [[d.code for d in a.diagnostics] for a in analyses] == [[], []]
    alone = analyze(Source("m.cnn", text), net="B")  # one net of several: unused cannot be told
    assert alone.diagnostics == []


def test_strict_passes_once_the_warnings_are_silenced(tmp_path):
    noisy = write(tmp_path, squeeze())
    assert run("check", "-q", "--strict", noisy).exit_code == 1
    silenced = write(tmp_path, squeeze(w400="# cnnspec: ignore[W400]", w404="# cnnspec: ignore[W404]"))
    result = run("check", "-q", "--strict", silenced)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_ignore_on_the_command_line(tmp_path):
    path = write(tmp_path, squeeze())
    result = run("check", "--format", "json", "--strict", "--ignore", "W400", "--ignore", "w404", path)
    assert result.exit_code == 0 and json.loads(result.stdout)["diagnostics"] == []
    assert run("check", "-q", "--strict", "--ignore", "W400,W404", path).exit_code == 0
    assert run("check", "-q", "--strict", "--ignore", "W400", path).exit_code == 1
    stale = write(tmp_path, "net N {\n    input 3x32x32\n    conv(8, k=3, pad=1)  # cnnspec: ignore[W402]\n}\n")
    assert run("check", "-q", "--strict", stale).exit_code == 1
    assert run("check", "-q", "--strict", "--ignore", "W405", stale).exit_code == 0


def test_ignore_refuses_errors_and_unknown_codes(tmp_path):
    path = write(tmp_path, squeeze())
    error = run("check", "--ignore", "E300", path)
    assert error.exit_code == 2 and "only warnings can be ignored" in error.stderr
    unknown = run("check", "--ignore", "W42", path)
    assert unknown.exit_code == 2 and "did you mean 'W402'?" in unknown.stderr
