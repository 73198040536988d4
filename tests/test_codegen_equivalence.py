"""The generated nn.Module equals cnnspec's analysis: for every example and for random
architectures (hypothesis, the generator of tests/test_torch_equivalence.py), the module
`cnnspec codegen` writes, built on the meta device, has the same output shape at every
node, the same parameter and buffer counts, and FLOPs under FlopCounterMode equal to
2 x cnnspec's MACs (cnnspec.codegen.verify, the check `cnnspec verify` runs).

Cost: about 30 s on an idle 2-core machine (11 examples; 2 x 100 random architectures, whose
generation, running every layer in torch on the CPU, is most of it).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.codegen.module import generate_module
from cnnspec.codegen.verify import verify
from cnnspec.source import Source, read_source
from tests.test_torch_equivalence import EXAMPLES, HYPOTHESIS, generate

RANDOM = settings(HYPOTHESIS, max_examples=100)  # valid programs only: assume() discards the rest


def check_verifies(analysis):
    assert not analysis.errors, [d.message for d in analysis.errors]
    result = verify(analysis, generate_module(analysis, "generated.cnn"))
    assert result.ok, "\n".join(result.problems)
    assert result.nodes == len(analysis.graph.nodes) - 1
    return result


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_example_module_equals_analysis(path):
    analysis = analyze(read_source(path))
    result = check_verifies(analysis)
    assert result.params == analysis.graph.totals()["params"]


def check_random(data, branched):
    program = generate(data, branched)
    assume(program.failure is None)
    check_verifies(analyze(Source("generated.cnn", program.text)))


@RANDOM
@given(st.data())
def test_random_sequential_module_equals_analysis(data):
    check_random(data, branched=False)


@RANDOM
@given(st.data())
def test_random_branched_module_equals_analysis(data):
    check_random(data, branched=True)
