"""A reference interpreter: a cnnspec Graph -> a torch nn.Module built from its hparams.

Every module node becomes `getattr(torch.nn, node.op)(**node.hparams)`, exactly as cnnspec
resolved the constructor arguments, so a wrong or misspelt hparam fails here. Functional
nodes map onto torch functions; the ops torch.nn lacks (LayerScale, StochasticDepth, Permute,
LayerNorm2d, a module's own Parameter) get small stand-ins with torch's (and torchvision's)
parameter layout.

`ReferenceNet(graph)` is built on the meta device by default: no memory, no compute, but
torch's own shape rules and checks run. `forward` runs the nodes in graph order and
records every node's output shapes (batched) in `self.shapes`.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

FUNCTIONAL_OPS = {"Add", "Mul", "Cat", "Chunk", "Split"}


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a test module: these nets are small, and on a shared machine two
    threads that wait for each other's cores run them ten times slower (measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class LayerScale(nn.Module):
    """ConvNeXt's layer scale: a learnable per-channel factor, shape (C, 1, ..., 1)."""

    def __init__(self, channels: int, rank: int, init: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,) + (1,) * (rank - 1), float(init)))

    def forward(self, x):
        return x * self.gamma


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: no parameters, the identity in eval mode."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in ("batch", "row"):
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
        self.p, self.mode = p, mode

    def forward(self, x):
        return x


class Permute(nn.Module):
    """torchvision.ops.misc.Permute: torch.permute(x, dims)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: layer norm over the channels of N x C x H x W."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Parameter(nn.Module):
    """A bare parameter multiplied in (ConvNeXt's layer_scale); here held by a module of its own."""

    def __init__(self, shape, init: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.full(tuple(shape), float(init)))

    def forward(self, x):
        return x * self.weight


CUSTOM_MODULES = {
    "LayerScale": LayerScale,
    "StochasticDepth": StochasticDepth,
    "Permute": Permute,
    "LayerNorm2d": LayerNorm2d,
    "Parameter": Parameter,
}


def build_module(op: str, hparams: dict, device="meta") -> nn.Module:
    """The nn.Module for one module node, from its hparams exactly as cnnspec gave them."""
    cls = CUSTOM_MODULES.get(op) or getattr(nn, op)
    with torch.device(device):
        return cls(**hparams)


def apply_functional(op: str, hparams: dict, tensors: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """torch.add / mul / cat / chunk / split for a functional node; always a tuple of outputs."""
    if op == "Add":
        out = tensors[0]
        for t in tensors[1:]:
            out = torch.add(out, t)
        return (out,)
    if op == "Mul":
        out = tensors[0]
        for t in tensors[1:]:
            out = torch.mul(out, t)
        return (out,)
    if op == "Cat":
        return (torch.cat(tensors, dim=hparams.get("dim", 1)),)
    if op == "Chunk":
        (x,) = tensors
        return tuple(torch.chunk(x, hparams["chunks"], dim=hparams.get("dim", 1)))
    if op == "Split":
        (x,) = tensors
        return tuple(torch.split(x, hparams["split_size_or_sections"], dim=hparams.get("dim", 1)))
    raise KeyError(f"unknown functional op {op!r}")


def count_params(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def count_buffers(module: nn.Module | None) -> int:
    return 0 if module is None else sum(b.numel() for b in module.buffers())


class ReferenceNet(nn.Module):
    """The torch model a cnnspec graph describes; one module per module node, in graph order.

    Nodes that reuse one name (a parameter-free layer applied twice) get a module each: the
    counts are compared per node, and such modules have nothing to count.
    """

    def __init__(self, graph, device="meta"):
        super().__init__()
        self.graph = graph
        self.device = torch.device(device)
        self.layers = nn.ModuleDict()
        self.node_modules: dict[int, nn.Module] = {}
        for node in graph.nodes:
            if node.op == "Input" or node.op in FUNCTIONAL_OPS:
                continue
            module = build_module(node.op, node.hparams, self.device)
            self.layers[f"n{node.id}"] = module
            self.node_modules[node.id] = module
        self.shapes: dict[int, tuple[tuple[int, ...], ...]] = {}
        self.check_versions = False  # raise Overwritten where a layer reads an overwritten tensor
        self.rewritten: list[str] = []  # reads of a tensor written in place since, with its values unchanged

    def module_of(self, node) -> nn.Module | None:
        return self.node_modules.get(node.id)

    def example_input(self, batch: int = 2) -> torch.Tensor:
        return torch.zeros((batch, *self.graph.nodes[0].output), device=self.device)

    def forward(self, x: torch.Tensor):
        values: dict[tuple[int, int], torch.Tensor] = {}
        versions: dict[tuple[int, int], int] = {}  # each tensor's version counter when it was made
        self.shapes = {}
        for node in self.graph.nodes:
            if node.op == "Input":
                outputs = (x,)
            else:
                inputs = [self._read(values, versions, (v.node, v.index), node.name) for v in node.inputs]
                if node.op in FUNCTIONAL_OPS:
                    outputs = apply_functional(node.op, node.hparams, inputs)
                else:
                    (single,) = inputs
                    outputs = (self.node_modules[node.id](single),)
            for index, out in enumerate(outputs):
                values[(node.id, index)] = out
                versions[(node.id, index)] = (out._version, out.detach().clone() if self.check_versions else None)
            self.shapes[node.id] = tuple(tuple(out.shape) for out in outputs)
        output = self.graph.output
        return self._read(values, versions, (output.node, output.index), "the output") if output is not None else None

    def _read(self, values, versions, key, reader: str) -> torch.Tensor:
        """The tensor; where it was written in place since it was made (its version counter, shared
        by all views of a storage, moved), Overwritten if its values changed."""
        tensor = values[key]
        version, snapshot = versions[key]
        if self.check_versions and tensor._version != version:
            if not torch.equal(tensor, snapshot):
                raise Overwritten(f"{reader} reads tensor {key} after an in-place op overwrote it")
            self.rewritten.append(f"{reader} reads tensor {key}, written in place since, with its values unchanged")
        return tensor


class Overwritten(RuntimeError):
    """A layer reads a tensor that an in-place op has changed since it was made."""


def training_trouble(graph, seed: int = 0, rewritten: list | None = None) -> str | None:
    """One training step of the model the graph describes (CPU, float64, batch 2, train mode, a
    random input that does not require grad, backward of a random projection of the output):
    what torch objects to, or None. A layer reading an overwritten tensor is found through
    torch's version counters; the rest torch raises itself (a view of split modified in place
    in forward, a tensor saved for backward modified in backward). Reads of a tensor written
    in place whose values did not change (a disjoint chunk written, relu on non-negative
    values) are no trouble; they are added to `rewritten`."""
    torch.manual_seed(seed)
    net = ReferenceNet(graph, device="cpu").double().train()
    net.check_versions = True
    x = torch.randn((2, *graph.nodes[0].output), dtype=torch.float64)
    try:
        out = net(x)
        if out.requires_grad:  # else nothing before it has weights: there is no backward pass
            (out * torch.randn_like(out)).sum().backward()
    except RuntimeError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        if rewritten is not None:
            rewritten.extend(net.rewritten)
    return None


def run_reference(graph, batch: int = 2, device="meta") -> ReferenceNet:
    """Build the graph's model and run it once in eval mode; the net keeps the shapes seen."""
    net = ReferenceNet(graph, device).eval()
    with torch.no_grad():
        net(net.example_input(batch))
    return net
