"""`cnnspec graph`: Mermaid and dot diagrams of the layer graph. Every row (or, expanded, every
node) is one box, edges follow the graph's inputs and carry the tensor's shape, user text is
escaped; dot accepts the result where Graphviz is installed; the README's diagram is current."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.report.diagram import MARKERS, diagram, dot, dot_string, mermaid, mermaid_text
from cnnspec.rows import build_rows
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS, example_id

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))
RESNET18 = ROOT / "examples" / "resnet18.cnn"

MERMAID_BOX = re.compile(r'^    (n\d+)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r'^    (n\d+) -->\|"([^"]*)"\| (n\d+)$')
DOT_STRING = r'"((?:[^"\\]|\\.)*)"'
DOT_BOX = re.compile(rf"^    (n\d+) \[label={DOT_STRING}\];$")
DOT_EDGE = re.compile(rf"^    (n\d+) -> (n\d+) \[label={DOT_STRING}\];$")


def graph_of(path, net=None):
    analysis = analyze(read_source(str(path)), net)
    assert not analysis.errors
    return analysis.graph


def parse_mermaid(text: str):
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    boxes, edges = {}, []
    for line in lines[1:]:
        box, edge = MERMAID_BOX.match(line), MERMAID_EDGE.match(line)
        assert box or edge, f"not a box or an edge: {line!r}"
        if box:
            assert box[1] not in boxes, f"{box[1]} twice"
            boxes[box[1]] = box[2].split("<br>")
        else:
            edges.append((edge[1], edge[3], edge[2]))
    return boxes, edges


def parse_dot(text: str):
    lines = text.splitlines()
    assert re.fullmatch(rf"digraph {DOT_STRING} \{{", lines[0]) and lines[-1] == "}"
    boxes, edges = {}, []
    for line in lines[3:-1]:
        box, edge = DOT_BOX.match(line), DOT_EDGE.match(line)
        assert box or edge, f"not a box or an edge: {line!r}"
        if box:
            boxes[box[1]] = box[2].split("\\n")
        else:
            edges.append((edge[1], edge[2], edge[3]))
    return boxes, edges


def expected(graph, expand: bool):
    """Boxes (first label line) and edges as the graph and its rows say they should be."""
    groups = [[node] for node in graph.nodes] if expand else [row.nodes for row in build_rows(graph)]
    box_of = {node.id: f"n{number}" for number, nodes in enumerate(groups) for node in nodes}
    names = {f"n{number}": nodes[0].name for number, nodes in enumerate(groups)}
    names[f"n{len(groups)}"] = "output"
    edges = [
        (box_of[value.node], box_of[nodes[0].id], "×".join(map(str, graph.nodes[value.node].outputs[value.index])))
        for nodes in groups
        for value in nodes[0].inputs
    ]
    final = graph.nodes[graph.output.node].outputs[graph.output.index]
    edges.append((box_of[graph.output.node], f"n{len(groups)}", "×".join(map(str, final))))
    return names, edges


@pytest.mark.parametrize("expand", [False, True], ids=["rows", "expanded"])
@pytest.mark.parametrize("case", FIRST_NETS, ids=example_id)
def test_diagrams_show_every_row_and_every_edge(case, expand):
    graph = graph_of(*case)
    names, edges = expected(graph, expand)
    for text, parse in ((mermaid(graph, expand), parse_mermaid), (dot(graph, expand), parse_dot)):
        boxes, drawn = parse(text)
        assert {box: lines[0] for box, lines in boxes.items()} == names
        assert drawn == edges


def test_a_row_box_names_its_layers():
    boxes, edges = parse_mermaid(mermaid(graph_of(RESNET18)))
    assert boxes["n1"] == ["conv1", "Conv2d 7×7/2 + BatchNorm2d + ReLU"]
    assert boxes["n2"] == ["maxpool", "MaxPool2d 3×3/2"]
    assert ("n0", "n1", "3×224×224") in edges and ("n1", "n2", "64×112×112") in edges
    adds = [box for box, lines in boxes.items() if lines == ["layer2.0.add", "Add + ReLU"]]
    assert len([edge for edge in edges if edge[1] == adds[0]]) == 2, "a residual add has two inputs"


def test_user_text_is_escaped():
    assert mermaid_text('a"b<c>&d#e|f`g') == "a#quot;b#lt;c#gt;#amp;d#35;e#124;f#96;g"
    assert dot_string('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    graph = graph_of(RESNET18)
    hostile = 'x"]; n0 --> evil["\\'
    graph.nodes[1].name = hostile
    graph.net = hostile
    boxes, _ = parse_mermaid(mermaid(graph))
    assert boxes["n1"][0] == mermaid_text(hostile)
    boxes, _ = parse_dot(dot(graph))
    assert boxes["n1"][0] == 'x\\"]; n0 --> evil[\\"\\\\'


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (the structure is checked above)")
def test_graphviz_reads_the_dot_output():
    for path, net in FIRST_NETS:
        result = subprocess.run(["dot", "-Tsvg"], input=diagram(graph_of(path, net), "dot"), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{path}: {result.stderr}"
        assert "<svg" in result.stdout


def test_the_readme_shows_resnet18s_current_diagram():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- diagram:start -->\n```mermaid\n(.*?)```\n<!-- diagram:end -->", readme, re.S)
    assert shown is not None, "the README's Diagrams section has no marked mermaid block"
    assert shown[1] == mermaid(graph_of(RESNET18)), "run: cnnspec graph examples/resnet18.cnn, and paste it into the README"


# ---- the command --------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, ["graph", *map(str, args)])


def test_graph_prints_mermaid_by_default():
    result = run(RESNET18)
    assert result.exit_code == 0, result.output
    assert result.stdout == "%% generated by cnnspec; do not edit\n" + mermaid(graph_of(RESNET18)) and result.stderr == ""


def test_graph_writes_dot_to_a_file(tmp_path):
    target = tmp_path / "resnet18.gv"
    result = run(RESNET18, "--format", "dot", "--expand", "-o", target)
    assert (result.exit_code, result.stdout) == (0, "")
    assert target.read_text(encoding="utf-8") == "// generated by cnnspec; do not edit\n" + dot(graph_of(RESNET18), expand=True)


@pytest.mark.parametrize("output_format", ["mermaid", "dot"])
def test_graph_overwrites_its_own_file_but_not_others(tmp_path, output_format):
    target = tmp_path / "diagram.txt"
    assert run(RESNET18, "--format", output_format, "-o", target).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith(MARKERS[output_format] + "\n")
    again = run(RESNET18, "--format", output_format, "-o", target)  # its own output: replaced freely
    assert again.exit_code == 0 and again.stderr == f"wrote {target}\n"
    target.write_text("my notes\n", encoding="utf-8")
    refused = run(RESNET18, "--format", output_format, "-o", target)
    assert refused.exit_code == 1 and "was not generated by cnnspec; use --force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "my notes\n"
    forced = run(RESNET18, "--format", output_format, "-o", target, "--force", "--quiet")
    assert (forced.exit_code, forced.stderr) == (0, "")  # --quiet: no "wrote" line
    assert target.read_text(encoding="utf-8").startswith(MARKERS[output_format] + "\n")


def test_graph_takes_the_input_size_and_net(tmp_path):
    path = tmp_path / "two.cnn"
    path.write_text("net A {\n    input 3x8x8\n    conv(4, k=3)\n}\n\nnet B {\n    input 1x8x8\n    conv(2, k=1)\n}\n")
    result = run(path, "--net", "B", "--input", "1x16x16")
    assert result.exit_code == 0, result.output
    assert '-->|"2×16×16"| n2' in result.stdout


def test_graph_of_a_file_with_errors_draws_nothing(tmp_path):
    path = tmp_path / "bad.cnn"
    path.write_text("net N {\n    input 3x8x8\n    conv(4, k=9)\n}\n")
    target = tmp_path / "out.mmd"
    result = run(path, "-o", target)
    assert result.exit_code == 1
    assert "error[E300]" in result.stderr and result.stdout == ""
    assert not target.exists()
    assert "Traceback" not in result.output
    analysis = analyze(Source(str(path), path.read_text()))
    assert analysis.errors
