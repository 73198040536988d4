"""The module tree of a layer graph: one Scope per dotted module path, and its data flow.

`features.0` and `layer1.0.conv1` are leaves in the scopes `features` and `layer1.0`; a
functional node (add, cat, chunk) belongs to the scope that computes it in its forward.
A scope's steps are what its forward does, in graph order: apply a leaf module, call a
child scope, or compute a functional node.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.ir import Graph, Node, Value


class Step(NamedTuple):
    attr: str | None  # the child's attribute name; None for a functional node
    node: Node | None  # a leaf module's node (one per application) or a functional node
    scope: Scope | None  # a child scope


class Scope:
    def __init__(self, path: str):
        self.path = path
        self.steps: list[Step] = []
        self.children: dict[str, Node | Scope] = {}  # attribute -> leaf (its first node) or child scope
        self.nodes: list[Node] = []  # every node inside, in graph order
        self.inputs: list[Value] = []  # values computed outside and used inside, in order of first use
        self.outputs: list[Value] = []  # values computed inside and used outside (or the net's output)

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


class ScopeOrderError(Exception):
    """A scope's nodes are not contiguous in graph order (the expansion never does this)."""


def build_tree(graph: Graph) -> Scope:
    root = Scope("")
    for node in graph.nodes[1:]:
        *path, attr = node.name.split(".")
        scope = root
        for depth, part in enumerate(path):
            scope.nodes.append(node)
            scope = _enter(scope, part, ".".join(path[: depth + 1]))
        scope.nodes.append(node)
        if node.kind.functional:
            scope.steps.append(Step(None, node, None))
            continue
        if isinstance(scope.children.setdefault(attr, node), Scope):
            raise ScopeOrderError(f"'{node.name}' is both a layer and a submodule")
        scope.steps.append(Step(attr, node, None))
    _data_flow(root, graph)
    return root


def _enter(scope: Scope, part: str, path: str) -> Scope:
    child = scope.children.get(part)
    if child is None:
        child = scope.children[part] = Scope(path)
        scope.steps.append(Step(part, None, child))
    elif not isinstance(child, Scope) or scope.steps[-1].scope is not child:
        raise ScopeOrderError(f"the submodule '{path}' is not built in one piece")
    return child


def _data_flow(root: Scope, graph: Graph) -> None:
    consumers = graph.consumers()
    pending = [root]
    while pending:
        scope = pending.pop()
        inside = {node.id for node in scope.nodes}
        for node in scope.nodes:
            for value in node.inputs:
                if value.node not in inside and value not in scope.inputs:
                    scope.inputs.append(value)
            for index in range(len(node.outputs)):
                value = Value(node.id, index)
                outside = any(user.id not in inside for user in consumers.get(value, ()))
                if outside or value == graph.output:
                    scope.outputs.append(value)
        if not scope.outputs:  # nothing inside is used: the forward still computes it
            scope.outputs.append(Value(scope.nodes[-1].id, 0) if scope.nodes else graph.output)
        pending.extend(child for child in scope.children.values() if isinstance(child, Scope))
    root.inputs = [Value(0)]


def step_inputs(step: Step) -> list[Value]:
    return step.scope.inputs if step.scope is not None else list(dict.fromkeys(step.node.inputs))


def step_outputs(step: Step) -> list[Value]:
    if step.scope is not None:
        return step.scope.outputs
    return [Value(step.node.id, index) for index in range(len(step.node.outputs))]


def is_chain(scope: Scope, consumers: dict, output: Value | None) -> bool:
    """A straight chain: each step consumes only the previous step's single output, which
    nothing else uses; no functional nodes, no module applied twice."""
    attrs = [step.attr for step in scope.steps]
    if None in attrs or len(set(attrs)) != len(attrs) or len(scope.inputs) != 1 or len(scope.outputs) != 1:
        return False
    current = scope.inputs[0]
    inside = {node.id for node in scope.nodes}
    for step in scope.steps:
        users = {user.id for user in consumers.get(current, ())}
        within_step = {node.id for node in (step.scope.nodes if step.scope is not None else [step.node])}
        if step_inputs(step) != [current] or len(step_outputs(step)) != 1 or not users & inside <= within_step:
            return False
        if current != scope.inputs[0] and (current == output or not users <= within_step):
            return False
        current = step_outputs(step)[0]
    return current == scope.outputs[0]
