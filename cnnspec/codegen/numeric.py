"""`cnnspec verify`, numerically: the generated module computes the network the file describes.

The generated module is built on the CPU in float64 and run on a random batch, in train and
in eval mode, forward and one backward (of a random projection of the output); the layer
graph is evaluated directly with torch.nn.functional (cnnspec/codegen/interpret.py, which
never reads the generated source) from the same parameters and buffers, copied by node name,
and the same random input. Compared: the outputs, the gradients of the input and of every
parameter, and in train mode the buffers afterwards (batch norm's running statistics). Both
sides start each mode from the same state; dropout and stochastic depth are seeded per node
on both sides. Where they differ, both are run again keeping every node's output, and the
first node whose outputs differ is named.

The input requires grad unless that would make an in-place layer fail (an input that needs
no gradient in training may then be written in place: E309, E310 only apply to tensors that
need one); its gradient is then left out.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch

from cnnspec.analysis.aliasing import inplace_hazards
from cnnspec.codegen.interpret import RANDOM_OPS, evaluate
from cnnspec.codegen.verify import _recorded_by_node, _Recorder, build_generated

TOLERANCE = 1e-9  # largest difference allowed, relative to the largest magnitude compared (float64)
SEED = 20240518


class Numeric(NamedTuple):
    problems: list[str]
    largest: float  # the largest relative difference seen
    input_gradient: bool  # whether the input's gradient was compared


class Side(NamedTuple):
    """One run: the output, the gradients (input first, when compared), the buffers after it."""

    output: torch.Tensor
    gradients: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]


def compare_numerically(analysis, generated, batch: int = 2) -> Numeric:
    graph = analysis.graph
    input_gradient = not inplace_hazards(graph, input_requires_grad=True)
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = build_generated(generated, device="cpu").double()
        x = torch.randn((batch, *graph.input_shape), dtype=torch.float64)
        problems, largest = [], 0.0
        for training in (True, False):
            mode = "train" if training else "eval"
            run = _Run(graph, generated.module_paths, model, x, training, input_gradient)
            found, difference = _differences(run.generated(), run.direct())
            largest = max(largest, difference)
            if found:
                problems.append(f"{mode} mode: {found}; {run.first_difference()}")
    return Numeric(problems, largest, input_gradient)


class _Run:
    """The generated module and the graph, from the same state, in one mode."""

    def __init__(self, graph, module_paths, model, x, training: bool, input_gradient: bool):
        self.graph, self.paths, self.model, self.x = graph, module_paths, model, x
        self.training, self.input_gradient = training, input_gradient
        self.projection = None

    # ---- the generated module ----

    def generated(self, keep=None) -> Side:
        """Run the generated module (with `keep`, under a recorder of every node's outputs: self.recorded)."""
        model = copy.deepcopy(self.model).train(self.training)
        hooks = self._seed_random_modules(model)
        leaf = self.x.clone().requires_grad_(self.input_gradient)
        self.recorded = _Recorder(model, self.graph, keep) if keep else None
        if self.recorded:
            with self.recorded:
                output = model(leaf.clone())  # a copy: an in-place first layer may write to it
            self.recorded.remove()
        else:
            output = model(leaf.clone())
        for hook in hooks:
            hook.remove()
        stateful = [(node.name, self._tensors_of(model, node)) for node in self._stateful()]
        params = {f"{name}.{n}": p for name, (own, _) in stateful for n, p in own.items()}
        buffers = {f"{name}.{n}": b for name, (_, kept) in stateful for n, b in kept.items()}
        return Side(output, self._gradients(output, leaf, params), buffers)

    def _tensors_of(self, model, node) -> tuple[dict, dict]:
        """A node's parameters and buffers in the generated model, by the names the graph
        evaluation uses; a module's own parameter (`layer_scale`) is its node's `weight`."""
        path = self.paths.get(node.name, node.name)
        if node.kind.owned_parameter:
            return {"weight": model.get_parameter(path)}, {}
        module = model.get_submodule(path)
        return dict(module.named_parameters(recurse=False)), dict(module.named_buffers(recurse=False))

    def _seed_random_modules(self, model) -> list:
        calls: dict[str, list[int]] = {}
        for node in self.graph.nodes[1:]:
            if node.op in RANDOM_OPS:
                calls.setdefault(self.paths.get(node.name, node.name), []).append(node.id)
        hooks = []
        for path, ids in calls.items():
            pending = list(ids)
            hooks.append(model.get_submodule(path).register_forward_pre_hook(lambda m, a, pending=pending: _seed(pending.pop(0))))
        return hooks

    # ---- the graph, evaluated directly ----

    def graph_state(self) -> dict[int, dict[str, torch.Tensor]]:
        """Each stateful node's parameters (leaves that require grad) and buffers, copied."""
        state = {}
        for node in self._stateful():
            own, kept = self._tensors_of(self.model, node)
            tensors = {n: p.detach().clone().requires_grad_(True) for n, p in own.items()}
            tensors.update({n: b.detach().clone() for n, b in kept.items()})
            state[node.id] = tensors
        return state

    def direct(self, keep_values: bool = False):
        state = self.graph_state()
        leaf = self.x.clone().requires_grad_(self.input_gradient)
        values = evaluate(self.graph, leaf, state, self.training, lambda node: _seed(node.id))
        output = values[self.graph.output.node, self.graph.output.index]
        if keep_values:
            return values
        params = {f"{node.name}.{n}": t for node in self._stateful() for n, t in state[node.id].items() if t.requires_grad}
        buffers = {f"{node.name}.{n}": t for node in self._stateful() for n, t in state[node.id].items() if not t.requires_grad}
        return Side(output, self._gradients(output, leaf, params), buffers)

    # ---- both ----

    def _stateful(self):
        return [node for node in self.graph.nodes[1:] if node.params or node.buffers]

    def _gradients(self, output, leaf, params: dict) -> dict:
        if not output.requires_grad:
            return {}
        if self.projection is None:
            generator = torch.Generator().manual_seed(SEED)
            self.projection = torch.randn(output.shape, dtype=output.dtype, generator=generator)
        named = ({"the input": leaf} if self.input_gradient else {}) | params
        grads = torch.autograd.grad((output * self.projection).sum(), list(named.values()), allow_unused=True)
        return {name: torch.zeros_like(t) if g is None else g for (name, t), g in zip(named.items(), grads)}

    def first_difference(self) -> str:
        """Run both again keeping every node's outputs: the first node where they differ."""
        with torch.no_grad():
            self.generated(keep=lambda out: tuple(t.detach().clone() for t in (out if isinstance(out, (tuple, list)) else (out,))))
            values = self.direct(keep_values=True)
        for node, _, _, seen in _recorded_by_node(self.graph, self.paths, self.recorded):
            expected = tuple(values[node.id, i] for i in range(len(node.outputs)))
            difference = _largest_difference(seen, expected)
            if difference is None or difference > TOLERANCE:
                shown = "not computed" if seen is None else "of another shape" if difference is None else f"differ by {difference:.3g}"
                return f"the first node whose outputs differ: {node.name} ({node.op}), its outputs {shown}"
        return "every node's forward output agrees: the backward pass differs"


def _seed(node_id: int) -> None:
    torch.manual_seed(SEED + node_id)


def _differences(module: Side, graph: Side) -> tuple[str | None, float]:
    """The first quantity that differs (output, then gradients, then buffers), and the largest difference."""
    pairs = [("the output", module.output, graph.output)]
    pairs += [(f"the gradient of {name}", module.gradients.get(name), graph.gradients[name]) for name in graph.gradients]
    pairs += [(f"the buffer {name} afterwards", module.buffers.get(name), graph.buffers[name]) for name in graph.buffers]
    largest, found = 0.0, None
    for what, seen, expected in pairs:
        difference = _largest_difference(seen, expected)
        if difference is None or difference > TOLERANCE:
            found = found or (f"{what} differs" + ("" if difference is None else f" by {difference:.3g}"))
        largest = max(largest, difference or 0.0)
    return found, largest


def _largest_difference(seen, expected) -> float | None:
    """max |seen - expected| / max(1, max |expected|) over tensors (or tuples of them); None
    when one is missing or their shapes differ."""
    if seen is None or expected is None:
        return None
    seen, expected = (seen if isinstance(seen, tuple) else (seen,)), (expected if isinstance(expected, tuple) else (expected,))
    if len(seen) != len(expected) or any(a.shape != b.shape for a, b in zip(seen, expected)):
        return None
    largest = 0.0
    for a, b in zip(seen, expected):
        if a.numel() and not torch.equal(a, b):  # most are equal to the bit
            a, b = a.detach().double(), b.detach().double()
            gap = torch.where(a == b, 0.0, a - b).abs().max()  # equal infinities agree; a NaN differs
            scale = max(1.0, float(torch.nan_to_num(b.abs(), posinf=0.0).max()))
            largest = max(largest, float("inf") if gap.isnan() else float(gap) / scale)
    return largest
