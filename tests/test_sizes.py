"""Input-size analysis: the sizes a net accepts, and those that drop no border pixels."""

from pathlib import Path

import pytest
import torch

from cnnspec.analysis import sizes
from cnnspec.analysis.sizes import describe, input_sizes, nearest_clean, outcome_at
from cnnspec.analyze import analyze
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS
from tests.torch_reference import ReferenceNet

ROOT = Path(__file__).resolve().parent.parent


def graph_of(name):
    analysis = analyze(read_source(str(ROOT / "examples" / f"{name}.cnn")))
    assert not analysis.errors
    return analysis.graph


def test_vgg19_takes_multiples_of_32():
    height, width = input_sizes(graph_of("vgg19"))
    for axis in (height, width):
        assert axis.smallest == 32
        assert axis.description == "multiples of 32 from 32"
        assert axis.clean == tuple(range(32, axis.limit + 1, 32))
        assert axis.nearest_clean() == (224, 256)


def test_a_linear_after_flatten_pins_the_size():
    (height, width) = input_sizes(graph_of("lenet5"))
    assert height.smallest == 32 and height.clean == (32,) and height.description == "only 32 (up to 256)"


def test_periodic_patterns_are_described_by_their_residues():
    (height, _) = input_sizes(graph_of("densenet121"))
    assert height.smallest == 29
    assert height.description.startswith("sizes of 0, 29, 30, 31 modulo 32, from 29")


@pytest.mark.parametrize("name", ["vgg19", "lenet5", "alexnet", "resnet18", "unet", "cifar_cnn"])
def test_accepted_sizes_agree_with_torch(name):
    """The torch model built for the declared input runs exactly at the sizes cnnspec accepts."""
    graph = graph_of(name)
    net = ReferenceNet(graph).eval()
    declared = graph.input_shape
    for size in range(1, 100):
        shape = (declared[0], size) + declared[2:]
        try:
            with torch.no_grad():
                net(torch.zeros((1, *shape), device="meta"))
            torch_accepts = True
        except (RuntimeError, ValueError):
            torch_accepts = False
        assert (outcome_at(graph, shape, 0) != "rejected") == torch_accepts, (name, shape)


def test_a_declared_size_that_drops_pixels_gets_the_nearest_clean_sizes():
    source = Source("t.cnn", "net T { input 3x33x32\n conv(8, k=3, pad=1) -> maxpool(2) -> maxpool(2) }\n")
    analysis = analyze(source)
    (warning,) = [d for d in analysis.diagnostics if d.code == "W400"]
    assert "the last 1 pixel of H is silently dropped" in warning.message
    assert any("H: 32 or 36; W: 32" in note.message for note in warning.notes)


DROPPING = [
    "net T { input 3x33x32\n conv(8, k=3, pad=1) -> maxpool(2) -> maxpool(2) }",
    "net T { input 3x35x9\n conv(8, k=3, stride=3) -> conv(8, k=2, stride=2) }",
    "net T { input 1x300x1000\n conv(2, k=7, stride=5) -> maxpool(3, stride=3) }",  # declared past the scan's reach
    "net T { input 2x17\n conv1d(4, k=4, stride=4) }",
]


CASES = [(text, None) for text in DROPPING] + [(Path(path).read_text(encoding="utf-8"), net) for path, net in FIRST_NETS]


@pytest.mark.parametrize("text, net", CASES)
def test_the_outward_scan_finds_what_the_full_scan_finds(text, net):
    graph = analyze(Source("t.cnn", text), net).graph
    for axis in range(len(graph.input_shape) - 1):
        assert nearest_clean(graph, axis) == sizes.scan_axis(graph, axis).nearest_clean()


def test_the_nearest_clean_sizes_of_a_large_net_cost_a_few_sizes(monkeypatch):
    """A 10,000-layer net whose declared size drops a pixel: W400's note tries the sizes beside it
    (it used to try 512 sizes per axis, each re-inferring every layer: 15 s)."""
    text = "net T { input 3x32x32\n conv(8, k=3, stride=2)\n" + "relu\n" * 10_000 + "}"
    tried = []
    monkeypatch.setattr(sizes, "outcome_at", lambda graph, shape, axis: tried.append(shape) or outcome_at(graph, shape, axis))
    (warning,) = [d for d in analyze(Source("t.cnn", text)).diagnostics if d.code == "W400"]
    assert any("H: 31 or 33; W: 31 or 33" in note.message for note in warning.notes)
    assert len(tried) == 6  # per axis: the declared size, then one each side


def test_describe():
    assert describe([], 10) == "none up to 10"
    assert describe(list(range(4, 11)), 10) == "every size from 4"
    assert describe([8, 16, 24, 32], 32) == "multiples of 8 from 8"
    assert describe([5, 9, 13, 17], 17).startswith("sizes of 1 modulo 4, from 5")
    assert describe([3, 7, 20], 30) == "3, 7, 20 (up to 30)"
