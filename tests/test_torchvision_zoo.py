"""Every example with a torchvision counterpart IS that model: the generated module loads
torchvision's state_dict with strict=True and computes the same outputs in float64, with the
same parameter, buffer and MAC counts (tests/torchvision_zoo.py). Cost: about a minute on
an idle 2-core machine (the 224 x 224 nets in float64)."""

from __future__ import annotations

from pathlib import Path

import pytest

try:  # pytest puts tests/ on sys.path
    from torchvision_zoo import compare_with_torchvision
except ImportError:  # pragma: no cover
    from tests.torchvision_zoo import compare_with_torchvision

models = pytest.importorskip("torchvision.models", reason="the test extra installs torchvision")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

ZOO = [
    # (file, net, torchvision builder, its keyword arguments, parameters as torchvision counts them)
    ("alexnet.cnn", None, "alexnet", {}, 61_100_840),
    ("vgg16.cnn", None, "vgg16", {}, 138_357_544),
    ("vgg19.cnn", None, "vgg19", {}, 143_667_240),
    ("resnet18.cnn", None, "resnet18", {}, 11_689_512),
    ("resnet50.cnn", None, "resnet50", {}, 25_557_032),
    ("densenet121.cnn", None, "densenet121", {}, 7_978_856),
    ("mobilenet_v2.cnn", None, "mobilenet_v2", {}, 3_504_872),
    ("convnext.cnn", "convnext_tiny", "convnext_tiny", {}, 28_589_128),
    ("convnext.cnn", "convnext_small", "convnext_small", {}, 50_223_688),
    ("regnet.cnn", "regnet_x_400mf", "regnet_x_400mf", {}, 5_495_976),
    ("regnet.cnn", "regnet_y_400mf", "regnet_y_400mf", {}, 4_344_144),
    ("regnet.cnn", "regnet_x_1_6gf", "regnet_x_1_6gf", {}, 9_190_136),
    ("regnet.cnn", "regnet_y_1_6gf", "regnet_y_1_6gf", {}, 11_202_430),
    ("efficientnet.cnn", "efficientnet_b0", "efficientnet_b0", {}, 5_288_548),
    ("efficientnet.cnn", "efficientnet_b1", "efficientnet_b1", {}, 7_794_184),
    ("efficientnet.cnn", "efficientnet_b2", "efficientnet_b2", {}, 9_109_994),
    ("efficientnet.cnn", "efficientnet_b3", "efficientnet_b3", {}, 12_233_232),
]


@pytest.mark.parametrize("file, net, builder, kwargs, params", ZOO, ids=[case[2] for case in ZOO])
def test_example_is_the_torchvision_model(file, net, builder, kwargs, params):
    result = compare_with_torchvision(EXAMPLES / file, net, getattr(models, builder), **kwargs)
    assert result.params == params


SQUEEZE_EXCITATION = """
module se(c, squeeze) {
    mul(avgpool: gap -> fc1: conv(squeeze, k=1) -> activation: silu -> fc2: conv(c, k=1) -> scale_activation: sigmoid)
}

net SE {
    input 16x7x7
    se(16, 4)
}
"""


def test_squeeze_excitation_as_torchvision_names_it(tmp_path):
    """torchvision.ops.SqueezeExcitation (EfficientNet's, RegNet's with ReLU) is a module of
    today's layers, with its attribute names: avgpool, fc1, activation, fc2, scale_activation."""
    from torch import nn
    from torchvision.ops import SqueezeExcitation

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("0", SqueezeExcitation(16, 4, activation=nn.SiLU))

        def forward(self, x):
            return self.get_submodule("0")(x)

    path = tmp_path / "se.cnn"
    path.write_text(SQUEEZE_EXCITATION, encoding="utf-8")
    assert compare_with_torchvision(path, None, Net).params == 16 * 4 + 4 + 4 * 16 + 16
