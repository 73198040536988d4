"""`cnnspec verify`: the generated module, built by torch, against cnnspec's own figures.

The generated file is exec()'d into a fresh namespace (it is cnnspec's own output), the
model is built on the meta device (no memory, no compute; torch's shape rules still run)
and run once at batch 2 in eval mode under FlopCounterMode. Compared, node by node:
output shapes (module nodes through forward hooks keyed by module path, found through
GeneratedModule.module_paths as codegen may rename a stateless layer; add, mul, cat,
chunk and split through a TorchFunctionMode that records the calls a generated forward
makes itself), parameters and buffers; and in total: parameters, buffers, and FLOPs
against 2 x cnnspec's MACs.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

from cnnspec.codegen.module import GeneratedModule, generate_module

RECORDED_NAMES = ("cat", "chunk", "split", "add", "mul", "__add__", "__mul__")


class Verification(NamedTuple):
    nodes: int  # nodes compared
    params: int
    flops: int  # one sample's FLOPs, as torch counted them
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return f"verified: {self.nodes:,} nodes, {self.params:,} parameters, {self.flops:,} FLOPs equal"


def build_generated(generated: GeneratedModule, device: str = "meta"):
    """exec() the generated file; its build_model() on `device` (meta: no memory, no compute)."""
    import torch

    namespace: dict = {"__name__": "cnnspec_generated"}
    exec(compile(generated.text, "<cnnspec codegen>", "exec"), namespace)  # noqa: S102  our own output
    with torch.device(device):
        return namespace["build_model"]()


def verify(analysis, generated: GeneratedModule | None = None, batch: int = 2) -> Verification:
    """Run the generated module for a clean analysis and list every disagreement."""
    import torch

    from cnnspec.analysis.compute import totals

    graph = analysis.graph
    generated = generated or generate_module(analysis, "verify.cnn")
    from torch.utils.flop_counter import FlopCounterMode

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = build_generated(generated).eval()
            recorder = _Recorder(model, graph)
            with torch.no_grad(), FlopCounterMode(display=False) as counter, recorder:
                model(torch.zeros((batch, *graph.input_shape), device="meta"))
        except Exception as exc:  # noqa: BLE001  torch rejects what cnnspec accepted: a disagreement
            return Verification(0, 0, 0, [f"torch cannot build or run the generated module: {type(exc).__name__}: {exc}"])
        recorder.remove()
    problems = _compare_nodes(graph, generated.module_paths, recorder, batch)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    expected = graph.totals()
    if params != expected["params"]:
        problems.append(f"total parameters: torch {params:,}, cnnspec {expected['params']:,}")
    if buffers != expected["buffers"]:
        problems.append(f"total buffers: torch {buffers:,}, cnnspec {expected['buffers']:,}")
    flops, macs = counter.get_total_flops(), totals(graph, analysis.costs or None).macs
    if flops != batch * 2 * macs:
        problems.append(f"FLOPs at batch {batch}: torch {flops:,}, cnnspec 2 x MACs = {batch * 2 * macs:,}")
    return Verification(len(graph.nodes) - 1, params, flops // batch, problems)


def _shapes(output) -> tuple:
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    return tuple(tuple(t.shape) for t in outputs)


class _Recorder:
    """Hooks on every module, and a TorchFunctionMode for the generated forwards' own calls."""

    def __init__(self, model, graph):
        from torch.overrides import TorchFunctionMode

        self.modules = dict(model.named_modules())
        self.outputs: dict[str, list] = {}  # module path -> outputs of each call
        self.calls: dict[str, list] = {}  # module path -> outputs of its forward's add/cat/... calls
        self.stack: list[str] = []
        functional_scopes = {node.name.rpartition(".")[0] for node in graph.nodes if node.kind.functional}
        recorder = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                result = func(*args, **(kwargs or {}))
                scope = recorder.stack[-1] if recorder.stack else None
                if scope in functional_scopes and getattr(func, "__name__", "") in RECORDED_NAMES:
                    recorder.calls.setdefault(scope, []).append(_shapes(result))
                return result

        self.mode = Mode()
        self.handles = []
        for path, module in self.modules.items():
            self.handles.append(module.register_forward_pre_hook(lambda m, a, path=path: self.stack.append(path)))
            self.handles.append(module.register_forward_hook(lambda m, a, out, path=path: self._finished(path, out)))

    def _finished(self, path: str, output) -> None:
        self.stack.pop()
        self.outputs.setdefault(path, []).append(_shapes(output))

    def __enter__(self):
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self.mode.__exit__(*exc)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _compare_nodes(graph, module_paths: dict[str, str], recorder: _Recorder, batch: int) -> list[str]:
    problems = []
    applied: dict[str, int] = {}  # module path -> calls matched so far
    functional_seen: dict[str, int] = {}  # scope path -> records consumed so far
    for node in graph.nodes[1:]:
        expected = tuple((batch, *shape) for shape in node.outputs)
        where = f"{node.name} ({node.op})"
        if node.kind.functional:
            scope = node.name.rpartition(".")[0]
            calls = max(len(node.inputs) - 1, 1) if node.op in ("Add", "Mul") else 1
            start = functional_seen.get(scope, 0)
            functional_seen[scope] = start + calls
            records = recorder.calls.get(scope, [])[start : start + calls]
            seen = records[-1] if len(records) == calls else None
        else:
            path = module_paths.get(node.name, node.name)
            module = recorder.modules.get(path)
            if module is None:
                problems.append(f"{where}: no such module in the generated model")
                continue
            index = applied.get(path, 0)
            applied[path] = index + 1
            calls = recorder.outputs.get(path, [])
            seen = calls[index] if index < len(calls) else None
            if index == 0:
                problems += _counts(where, node, module)
        if seen != expected:
            problems.append(f"{where}: output shape torch {_show(seen)}, cnnspec {_show(expected)}")
    return problems


def _counts(where: str, node, module) -> list[str]:
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    found = []
    if params != node.params:
        found.append(f"{where}: parameters torch {params:,}, cnnspec {node.params:,}")
    if buffers != node.buffers:
        found.append(f"{where}: buffers torch {buffers:,}, cnnspec {node.buffers:,}")
    return found


def _show(shapes) -> str:
    if shapes is None:
        return "none (not computed)"
    return ", ".join("(" + ", ".join(map(str, shape)) + ")" for shape in shapes)
