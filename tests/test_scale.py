"""Large generated nets (those of benchmarks/scale.py) come out exactly right.

No timing here: benchmarks/scale.py measures the time. These check that nothing is lost,
merged or misnamed at scale: node names, parameter and buffer totals, shapes, the folded
table rows and the plain table's lines.
"""

from __future__ import annotations

import os
import sys

import pytest

from cnnspec.analysis.memory import memory
from cnnspec.analyze import analyze
from cnnspec.report.columns import DEFAULT_COLUMNS, Measures
from cnnspec.report.table import plain_table
from cnnspec.rows import build_rows, totals
from cnnspec.source import Source

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from scale import residual_net, sequential_net  # noqa: E402  (benchmarks/ is not a package)

CONV_PARAMS = 16 * 16 * 3 * 3  # conv(16, k=3, pad=1, bias=false) on 16 channels
NORM_PARAMS, NORM_BUFFERS = 2 * 16, 2 * 16 + 1  # weight, bias; running mean, variance, num_batches_tracked


def clean_analysis(text: str):
    analysis = analyze(Source("scale.cnn", text))
    assert not analysis.errors, analysis.errors[:3]
    return analysis


def plain_lines(analysis, rows) -> list[str]:
    measures = Measures(analysis.receptive, analysis.costs, memory(analysis.graph))
    return plain_table(analysis, rows, DEFAULT_COLUMNS, measures).splitlines()


@pytest.mark.parametrize("layers", [1_000, 10_000])
def test_a_long_sequential_net_is_exact(layers):
    analysis = clean_analysis(sequential_net(layers))
    graph = analysis.graph
    assert [node.name for node in graph.nodes] == ["input", *map(str, range(layers))]
    convs, norms = (layers + 2) // 3, (layers + 1) // 3
    assert graph.totals()["params"] == convs * CONV_PARAMS + norms * NORM_PARAMS
    assert graph.totals()["buffers"] == norms * NORM_BUFFERS
    assert all(node.outputs == ((16, 32, 32),) for node in graph.nodes)
    rows = build_rows(graph)
    assert len(rows) == 1 + convs  # the input, then one row per conv with its norm and relu folded in
    assert [len(row.nodes) for row in rows[1:-1]] == [3] * (convs - 1)
    assert totals(graph, rows)["neurons"] == convs * 16 * 32 * 32
    lines = plain_lines(analysis, rows)
    assert len(lines) == 3 + len(rows)  # title, header, rule, rows
    assert lines[-1].split()[:2] == [str(convs), str(3 * (convs - 1))]


def test_a_residual_net_of_2000_blocks_is_exact():
    blocks = 2_000  # 10,000 layers; benchmarks/scale.py runs the 10,000-block net
    analysis = clean_analysis(residual_net(blocks))
    graph = analysis.graph
    names = [node.name for node in graph.nodes]
    assert len(names) == 1 + 5 * blocks == len(set(names))
    last = blocks - 1  # unlabelled layers are numbered like nn.Sequential children, after the labelled ones
    assert names[1:6] == ["0.conv1", "0.1", "0.conv2", "0.add", "0.3"]
    assert names[-5:] == [f"{last}.conv1", f"{last}.1", f"{last}.conv2", f"{last}.add", f"{last}.3"]
    assert graph.totals()["params"] == blocks * 2 * (CONV_PARAMS + 16)
    adds = [node for node in graph.nodes if node.op == "Add"]
    assert len(adds) == blocks
    assert all(len(node.inputs) == 2 for node in adds)
    assert graph.nodes[-1].outputs == ((16, 32, 32),)
    assert analysis.receptive[graph.nodes[-1].id].size == (1 + 4 * blocks,) * 2


# ---- every command linear: 10x the layers, at most 12x the work ------------------------------
# The work is counted, not timed: the number of Python and builtin function calls a command makes
# (cProfile's count), for nets of 500 and 5,000 layers. A quadratic step (a name searched from 1
# for every layer, a list scanned per layer) shows as a ratio far above 10.

COMMANDS = {
    "check": ["check"],
    "check --format json": ["check", "--format", "json"],
    "check --format sarif": ["check", "--format", "sarif"],
    "fmt --check": ["fmt", "--check"],
    "graph": ["graph"],
    "graph --format dot": ["graph", "--format", "dot"],
    "codegen": ["codegen"],
    "codegen --train": ["codegen", "--train"],
}


def calls(argv: list[str]) -> int:
    import cProfile
    import pstats

    from click.testing import CliRunner

    from cnnspec.cli import cli

    profile = cProfile.Profile()
    profile.enable()
    result = CliRunner().invoke(cli, argv)
    profile.disable()
    assert result.exit_code == 0, result.output[-2000:]
    return sum(stats[1] for stats in pstats.Stats(profile).stats.values())  # primitive and recursive calls


@pytest.mark.parametrize("net", ["sequential", "residual"])
@pytest.mark.parametrize("command", COMMANDS)
def test_ten_times_the_layers_is_at_most_twelve_times_the_work(tmp_path, net, command):
    make = sequential_net if net == "sequential" else lambda layers: residual_net(layers // 5)
    counts = []
    for layers in (500, 5_000):
        path = tmp_path / f"{net}-{layers}.cnn"
        path.write_text(make(layers))
        calls([*COMMANDS[command], str(path)])  # the first run fills the per-process caches (the grammar, the layers)
        counts.append(calls([*COMMANDS[command], str(path)]))
    assert counts[1] / counts[0] <= 12, counts


def test_json_stream_writes_json_dumps_text():
    import json

    from cnnspec.report.jsonstream import write_json

    values = [
        {"a": [1, 2.5, -0.0, 1e300, 'é\n"', None, True, False], "b": {}, "c": [], "d": {"e": [[1], {"f": (2, 3)}]}},
        [{"x": {1: 2}}, "plain", 3, []],
        {},
    ]
    for value in values:
        for depth in (0, 1, 2, 3):
            pieces: list[str] = []
            write_json(value, pieces.append, depth)
            assert "".join(pieces) == json.dumps(value, indent=2, allow_nan=False)
    for depth in (2, 3):  # an iterator within the streamed depth is written as a list, item by item
        pieces = []
        write_json({"nested": iter([{"k": [1, 2]}, {"k": []}])}, pieces.append, depth)
        assert "".join(pieces) == json.dumps({"nested": [{"k": [1, 2]}, {"k": []}]}, indent=2)
    with pytest.raises(ValueError):
        write_json({"a": float("nan")}, lambda text: None)
