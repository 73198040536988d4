"""The generated nn.Module equals cnnspec's analysis: for every example and for random
architectures (hypothesis, the generator of tests/test_torch_equivalence.py), the module
`cnnspec codegen` writes, built on the meta device, has the same output shape at every
node, the same parameter and buffer counts, and FLOPs under FlopCounterMode equal to
2 x cnnspec's MACs (cnnspec.codegen.verify, the check `cnnspec verify` runs); and run on
the CPU in float64, forward and backward in train and eval mode, it computes what the
graph evaluated directly computes (cnnspec.codegen.numeric): outputs, input and parameter
gradients, buffers.

Cost: about 30 s on an idle 2-core machine (11 examples; 2 x 100 random architectures, whose
generation, running every layer in torch on the CPU, is most of it).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.codegen.module import generate_module
from cnnspec.codegen.verify import verify
from cnnspec.source import Source, read_source
from tests.helpers import EXAMPLE_NETS, FIRST_NETS, example_id
from tests.test_torch_equivalence import HYPOTHESIS, generate
from tests.torch_reference import one_torch_thread  # noqa: F401  a fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")


RANDOM = settings(HYPOTHESIS, max_examples=100)  # valid programs only: assume() discards the rest


def check_verifies(analysis, numeric=True):
    assert not analysis.errors, [d.message for d in analysis.errors]
    result = verify(analysis, generate_module(analysis, "generated.cnn"), numeric=numeric)
    assert result.ok, "\n".join(result.problems)
    assert result.nodes == len(analysis.graph.nodes) - 1
    return result


@pytest.mark.parametrize("case", EXAMPLE_NETS, ids=example_id)
def test_example_module_equals_analysis(case):
    path, net = case
    analysis = analyze(read_source(path), net)
    result = check_verifies(analysis, numeric=False)  # numerically below, at a smaller input
    assert result.params == analysis.graph.totals()["params"]


# float64 copies of VGG's and AlexNet's 60-144 M parameters (model, copies, gradients) would
# take gigabytes: their layers are all covered by the other examples and the random nets
NUMERIC_EXAMPLES = [case for case in FIRST_NETS if not os.path.basename(case[0]).startswith(("vgg", "alexnet"))]


@pytest.mark.parametrize("case", NUMERIC_EXAMPLES, ids=example_id)
def test_example_module_computes_the_graph(case):
    """Forward and backward, train and eval mode: outputs, gradients and buffers equal."""
    path, net = case
    declared = analyze(read_source(path), net).graph.input_shape
    shape = (declared[0], 64, 64) if len(declared) == 3 and declared[1] > 64 else None  # the 224 x 224 nets at 64 x 64
    result = check_verifies(analyze(read_source(path), net, shape))
    assert result.numeric is not None and result.numeric.input_gradient and not result.numeric.problems


def check_random(data, branched):
    """Every valid random net: shapes, counts and FLOPs, and numerically, forward and backward
    in train and eval mode, against the graph evaluated directly. Nets with an in-place
    hazard (E308-E310, checked against torch in test_torch_equivalence) are left out."""
    program = generate(data, branched)
    assume(program.failure is None)
    analysis = analyze(Source("generated.cnn", program.text))
    assume(not analysis.errors)
    result = check_verifies(analysis)
    assert result.numeric is not None


@RANDOM
@given(st.data())
def test_random_sequential_module_equals_analysis(data):
    check_random(data, branched=False)


@RANDOM
@given(st.data())
def test_random_branched_module_equals_analysis(data):
    check_random(data, branched=True)
