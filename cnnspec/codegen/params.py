"""Which net parameters the generated `build_model(**params)` takes at any value.

The generated code does not expand the net again, so a parameter can only be a real
constructor argument where its value flows into layer hyperparameters and nothing else.
That is established by expanding the net at two other values of an integer parameter p
(d + 1 and d + max(2, |d|), d its value): the structure must stay the same (node names,
ops, inputs, submodules) and every hyperparameter (and input or output size) that changes
must be the same linear function a*p + b at all three values; then the code writes that
expression. The parameters so found are expanded once more together, each at its third
value, and every prediction must hold (no interaction between them). Any other parameter
(a depth, a flag that adds layers, a float, a string, one whose effect is not linear) is
accepted by build_model only at its generated value.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.codegen.module import _collapse


class Linear(NamedTuple):
    """a * parameter + b."""

    parameter: str
    a: int
    b: int

    def at(self, value: int) -> int:
        return self.a * value + self.b

    def code(self, name: str) -> str:
        """The Python expression, `name` standing for the parameter."""
        text = name if self.a == 1 else f"{self.a} * {name}"
        return text if self.b == 0 else f"{text} + {self.b}" if self.b > 0 else f"{text} - {-self.b}"


class Threading(NamedTuple):
    values: dict  # every net parameter -> the value the code is generated with
    threaded: tuple[str, ...]  # the parameters build_model takes at any value
    hparams: dict  # (node name, hyperparameter) -> its Linear function of a threaded parameter
    shapes: dict  # ("input" or "output", axis) -> its Linear function of a threaded parameter


def threading(analysis) -> Threading:
    graph = analysis.graph
    values = dict(graph.params)
    base = _facts(graph)
    found: dict[str, tuple[dict, dict]] = {}
    for name, value in values.items():
        if type(value) is not int:
            continue
        probes = (value + 1, value + max(2, abs(value)))
        graphs = [_expanded(analysis, {name: probe}) for probe in probes]
        if all(g is not None for g in graphs):
            effect = _linear_effect(name, value, probes, base, [_facts(g) for g in graphs])
            if effect is not None:
                found[name] = effect
    threaded = _independent(found)
    hparams = {key: f for name in threaded for key, f in found[name][0].items()}
    shapes = {key: f for name in threaded for key, f in found[name][1].items()}
    if threaded and not _predicts_jointly(analysis, values, threaded, base, hparams, shapes):
        return Threading(values, (), {}, {})
    return Threading(values, tuple(threaded), hparams, shapes)


class _Facts(NamedTuple):
    structure: tuple  # what must not change
    hparams: dict  # (node name, hyperparameter) -> value, per-axis values collapsed as the code writes them
    shapes: dict  # ("input" or "output", axis) -> size


def _facts(graph) -> _Facts:
    structure = (
        tuple((node.name, node.op, tuple((v.node, v.index) for v in node.inputs), tuple(node.hparams)) for node in graph.nodes),
        tuple(sorted((path, info.definition) for path, info in graph.submodules.items())),
        (graph.output.node, graph.output.index),
    )
    hparams = {(node.name, key): _collapse(key, value) for node in graph.nodes for key, value in node.hparams.items()}
    output = graph.nodes[graph.output.node].outputs[graph.output.index]
    shapes = {**{("input", i): size for i, size in enumerate(graph.input_shape)}, **{("output", i): size for i, size in enumerate(output)}}
    return _Facts(structure, hparams, shapes)


def _expanded(analysis, params: dict):
    """The net's graph with these parameter values (and the file's other settings), or None if it has errors."""
    from cnnspec.analyze import analyze

    graph = analysis.graph
    probe = analyze(analysis.source, graph.net, analysis.input_override, {**analysis.params, **params})
    if probe.errors or probe.graph is None or probe.graph.output is None:
        return None
    return probe.graph


def _linear_effect(name: str, value: int, probes: tuple, base: _Facts, others: list) -> tuple[dict, dict] | None:
    """What a parameter changes, as Linear functions of it; None where it is not that simple."""
    if any(facts.structure != base.structure or facts.shapes.keys() != base.shapes.keys() for facts in others):
        return None
    effects = []
    for table, tables in ((base.hparams, [f.hparams for f in others]), (base.shapes, [f.shapes for f in others])):
        changed = {}
        for key, first in table.items():
            seen = [first, *(t[key] for t in tables)]
            if all(_same(first, v) for v in seen):
                continue
            if not all(type(v) is int for v in seen):
                return None
            a = seen[1] - first  # the first probe is value + 1
            function = Linear(name, a, first - a * value)
            if function.at(probes[1]) != seen[2]:
                return None
            changed[key] = function
        effects.append(changed)
    return effects[0], effects[1]


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _independent(found: dict) -> list[str]:
    """The parameters whose effects touch no other's: two that change one hyperparameter are
    not known to combine linearly (`wide = base * 2` as a default), so neither is threaded."""
    owners: dict = {}
    for name, (hparams, shapes) in found.items():
        for key in [*hparams, *shapes]:
            owners.setdefault(key, set()).add(name)
    shared = {name for names in owners.values() if len(names) > 1 for name in names}
    return [name for name in found if name not in shared]


def _predicts_jointly(analysis, values, threaded, base: _Facts, hparams: dict, shapes: dict) -> bool:
    """Every threaded parameter changed at once: the functions still describe the net."""
    chosen = {name: values[name] + max(2, abs(values[name])) + 1 for name in threaded}
    graph = _expanded(analysis, chosen)
    if graph is None:
        return False
    facts = _facts(graph)
    if facts.structure != base.structure:
        return False
    for table, functions, expected in ((facts.hparams, hparams, base.hparams), (facts.shapes, shapes, base.shapes)):
        for key, value in table.items():
            predicted = functions[key].at(chosen[functions[key].parameter]) if key in functions else expected[key]
            if not _same(predicted, value):
                return False
    return True
