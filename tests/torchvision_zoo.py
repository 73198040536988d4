"""The reference test against the real torchvision: a .cnn net's generated module against
the torchvision model it describes.

`compare_with_torchvision(path, net, constructor, **kwargs)`:
1. analyses the net (no errors allowed) and builds the module `cnnspec codegen` writes, on
   the CPU (cnnspec.codegen.verify.build_generated);
2. builds `constructor(**kwargs)` (a torchvision model builder, no weights) and gives every
   floating tensor of its state_dict new random values (a random scale and shift of what
   torchvision initialised: batch-norm statistics, norm weights and biases and ConvNeXt's
   layer scale are then no longer constants, so a tensor loaded into the wrong place shows);
3. loads that state_dict into the generated module with strict=True (same keys, same shapes);
4. runs both in float64, eval mode, on one random input of the net's input shape at batch 2,
   under FlopCounterMode, and compares: outputs equal element for element, parameters,
   trainable parameters and buffers equal to cnnspec's totals, and cnnspec's MACs equal to
   FlopCounterMode's FLOPs / 2 per sample, for both models;
5. and what eval mode does not exercise: every torchvision Dropout and StochasticDepth has
   its counterpart at the same module path with the same probability (and mode).

Importing torchvision needs tests/conftest.py's patch (pytest applies it first).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnspec.analysis.compute import totals as compute_totals
from cnnspec.analyze import analyze
from cnnspec.codegen.module import generate_module
from cnnspec.codegen.verify import build_generated
from cnnspec.source import read_source

BATCH = 2


class ZooResult(NamedTuple):
    params: int
    trainable: int
    buffers: int
    macs: int  # one sample's, as cnnspec counts them
    output: tuple[int, ...]  # one sample's output shape


def _counts(model) -> tuple[int, int, int]:
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return params, trainable, sum(b.numel() for b in model.buffers())


def _randomise(model, generator: torch.Generator) -> None:
    """Every floating tensor of the state_dict times U(0.5, 1.5) plus U(-0.1, 0.1), elementwise:
    a batch norm's running variance stays positive, a constant stops being one."""
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                scale = torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype) + 0.5
                shift = (torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype) - 0.5) / 5
                tensor.mul_(scale).add_(shift)


def _run(model, x) -> tuple[torch.Tensor, int]:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    return out, counter.get_total_flops()


TRAINING_ONLY = {"Dropout": ("p", "inplace"), "StochasticDepth": ("p", "mode")}


def _called_modules(model, x) -> set[str]:
    """The paths of the modules a forward pass calls (torchvision's MBConv holds a
    StochasticDepth that its forward never calls when the block has no residual)."""
    called: set[str] = set()
    handles = [m.register_forward_hook(lambda *_, path=path: called.add(path)) for path, m in model.named_modules()]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return called


def _training_only_differences(ours, theirs, x) -> list[str]:
    """Dropout and stochastic depth that torchvision's forward calls: the same probability
    (and mode) at the same module path."""
    found = []
    called = _called_modules(theirs, x)
    for path, module in theirs.named_modules():
        attributes = TRAINING_ONLY.get(type(module).__name__, ())
        if not attributes or path not in called:
            continue
        try:
            mine = ours.get_submodule(path)
        except AttributeError:
            found.append(f"{path}: no module there")
            continue
        for attribute in attributes:
            if getattr(mine, attribute, None) != getattr(module, attribute):
                found.append(f"{path}.{attribute}: {getattr(mine, attribute, None)!r}, torchvision {getattr(module, attribute)!r}")
    return found


def compare_with_torchvision(path, net: str | None, constructor, **kwargs) -> ZooResult:
    """Assert that net `net` of the .cnn file `path` is `constructor(**kwargs)` exactly (see
    the module docstring); returns cnnspec's figures for it."""
    analysis = analyze(read_source(str(path)), net=net)
    assert not analysis.errors, [f"{d.code} {d.message}" for d in analysis.errors]
    graph = analysis.graph
    torch.manual_seed(0)
    ours = build_generated(generate_module(analysis, str(path)), device="cpu")
    theirs = constructor(**kwargs)
    generator = torch.Generator().manual_seed(0)
    _randomise(theirs, generator)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours, theirs = ours.double().eval(), theirs.double().eval()

    expected = graph.totals()
    macs = compute_totals(graph, analysis.costs or None).macs
    counts = (expected["params"], expected["trainable_params"], expected["buffers"])
    assert _counts(theirs) == counts, f"torchvision (params, trainable, buffers) {_counts(theirs)}, cnnspec {counts}"
    assert _counts(ours) == counts, f"generated module {_counts(ours)}, cnnspec {counts}"

    x = torch.randn((BATCH, *graph.input_shape), generator=generator, dtype=torch.float64)
    differences = _training_only_differences(ours, theirs, x)
    assert not differences, differences
    mine, my_flops = _run(ours, x)
    reference, their_flops = _run(theirs, x)
    output = graph.nodes[graph.output.node].outputs[graph.output.index]
    assert tuple(reference.shape) == (BATCH, *output), f"torchvision's output {tuple(reference.shape)}, cnnspec's {output}"
    assert torch.isfinite(reference).all()
    difference = (mine - reference).abs().max().item()
    assert torch.equal(mine, reference), f"outputs differ by up to {difference} (float64)"
    assert their_flops == my_flops == 2 * BATCH * macs, (
        f"FLOPs: torchvision {their_flops}, generated {my_flops}, cnnspec 2 x MACs x batch {2 * BATCH * macs}"
    )
    return ZooResult(*counts, macs, tuple(output))
