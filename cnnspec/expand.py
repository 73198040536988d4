"""Expansion: a net's statements, blocks, modules and repetitions -> the layer graph.

Names follow torch's module paths. A `module` call is a submodule: named by its label, or
by its index in the enclosing sequence like an nn.Sequential child. A `block` call, a
`{...}` group and a `(...) * n` repetition are spliced into the enclosing sequence, unless
labelled, when the label becomes a submodule holding their layers.
"""

from __future__ import annotations

import keyword
from math import prod

from cnnspec.bounds import LayerBound, assigned_names, match_arguments
from cnnspec.diagnostics import CnnspecError, Diagnostic, Note, error, warning
from cnnspec.expressions import INT_LIMIT, UNKNOWN, Environment, evaluate, exact, show, suggest
from cnnspec.ir import Graph, Node, Shape, SubmoduleInfo, Value
from cnnspec.layers import INPUT, MERGES, REGISTRY, LayerError, LayerKind
from cnnspec.layers.base import MAX_NODES, Inferred
from cnnspec.source import Span
from cnnspec.syntax import (
    TORCH_NAME,
    Arg,
    Assert,
    Assign,
    Call,
    Chain,
    Definition,
    Expect,
    For,
    Group,
    If,
    InputDecl,
    InputRef,
    Item,
    Let,
    Literal,
    Merge,
    Paren,
    Var,
)
from cnnspec.values import LayerValue, TensorShape

MAX_CALL_DEPTH = 64  # blocks calling blocks; deeper would exhaust Python's stack
MAX_EXPANSION_NOTES = 8  # "in the expansion of ..." notes shown for one diagnostic

Tensor = Value | tuple | None  # one tensor, the outputs of a split, or None where an error left it unknown


class Scope:
    """The module path that unnamed layers are numbered in, like an nn.Sequential."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.next_index = 0

    def claim(self, label: str | None) -> str:
        name = label if label is not None else str(self.next_index)
        self.next_index += 1
        return self.prefix + name

    def child(self, label: str | None) -> Scope:
        return Scope(self.claim(label) + ".")


class Frame:
    """What names mean inside one net or block expansion: parameters and loop variables
    (`values`), the input (`in`), named tensors, and the block calls that led here."""

    def __init__(self, values: dict, input: Tensor, calls: tuple[tuple[str, Span], ...] = ()):
        self.values = values
        self.input = input
        self.calls = calls  # outermost first
        self.expansion = tuple(span for _, span in calls)  # what each node made here records
        self.tensors: dict = {}
        self.environment: Environment | None = None  # set by the expander: layers and tensors in expressions


class FrameEnvironment(Environment):
    """Names in a frame's expressions beyond its values: layer kinds and blocks, and tensors."""

    def __init__(self, expander: Expander, frame: Frame):
        self.expander, self.frame = expander, frame

    def is_layer(self, name: str) -> bool:
        return name in self.expander.callables

    def tensor(self, name: str):
        frame = self.frame
        value = frame.input if name == "in" else frame.tensors.get(name, _ABSENT)
        if value is _ABSENT:
            return None
        if type(value) is not Value:
            return UNKNOWN  # unknown after an error, or a split's several outputs
        shape = self.expander._shape(value)
        return UNKNOWN if shape is None else TensorShape(name, shape)

    def names(self):
        return [*self.frame.tensors, *self.expander.callables]


_ABSENT = object()


class Binding:
    """A layer kind's checked arguments, and what applying them to each input shape gives:
    both are pure functions, and most layers of a net repeat, so they are computed once.
    Only successes are kept: a failure takes the path that reports it, every time."""

    __slots__ = ("args", "inferred")

    def __init__(self, args: dict):
        self.args = args
        self.inferred: dict[tuple[Shape, ...], Inferred] = {}


class ExpansionAborted(Exception):
    """Raised to stop expanding when going on would be pointless or unbounded."""


class Expander:
    def __init__(self, definitions: dict[str, Definition], diagnostics: list[Diagnostic]):
        self.definitions = definitions
        blocks_and_modules = {name: d for name, d in definitions.items() if d.kind != "net"}
        self.callables = {**REGISTRY, **blocks_and_modules}  # a definition hides a layer kind of its name
        self.diagnostics = diagnostics
        self.stack: list[str] = []
        self.bound = LayerBound(definitions, MAX_CALL_DEPTH)

    # ---- entry point --------------------------------------------------------------

    def expand(self, net: Definition, input_shape: Shape | None = None, params: dict | None = None) -> Graph:
        """`params`: net parameter values that replace the declared defaults (`--set`)."""
        self.graph = Graph(net.name)
        self.names: dict[str, Node] = {}
        self.functional_suffixes: dict[str, int] = {}  # "add" -> the last suffix given, so naming stays linear
        self.label_spans: dict[str, Span] = {}  # where each labelled layer or submodule was named
        self.scopes: dict[str, Span] = {}  # labelled submodules: full name -> its label
        self.duplicate_scopes: set[str] = set()  # prefixes of submodules already reported as duplicates
        # (kind, (argument name or None, exact value) per argument) -> Binding, for calls that bound
        self.bindings: dict[tuple, Binding] = {}
        frame = self._frame(values={}, input=None)
        self._net_values(net, params or {}, frame)
        self.graph.params = dict(frame.values)
        body = list(net.body)
        declared = body.pop(0) if body and isinstance(body[0], InputDecl) else None
        if declared is None:  # an input declared later: one error there, and the analysis goes on with it
            late = next((s for s in body if isinstance(s, InputDecl)), None)
            if late is not None:
                self._report(error("E212", "`input` must be the first statement of a net", late.span), frame)
                body.remove(late)
                declared = late
        shape = input_shape or (self._input_shape(declared, frame) if declared else None)
        if shape is None and declared is None:
            self._report(error("E208", f"net {net.name} declares no input; start it with e.g. `input 3x224x224`", net.name_span), frame)
        span = declared.span if declared else net.name_span
        node = self._add_node("input", INPUT, Inferred("Input", {}, (shape,) if shape else None), (), span, frame)
        frame.input = Value(node.id)
        try:
            self.graph.output = self._statements(body, frame, Scope(), frame.input)
        except ExpansionAborted:
            self.graph.output = None
        except RecursionError:
            self._report(error("E102", f"net {net.name} is nested too deeply to expand", net.name_span), None)
            self.graph.output = None
        if isinstance(self.graph.output, tuple):
            self.graph.output = self.graph.output[0]
        return self.graph

    def _frame(self, values: dict, input: Tensor, calls=()) -> Frame:
        frame = Frame(values, input, calls)
        frame.environment = FrameEnvironment(self, frame)
        return frame

    def _net_values(self, net: Definition, overrides: dict, frame: Frame) -> dict:
        """The net's parameters into `frame.values`: the overrides (`--set`), else the defaults in order."""
        values = frame.values
        for param in net.params:
            if param.name in overrides:  # a later default may use it: `net N(base=32, wide=base * 2)`
                values[param.name] = overrides[param.name]
                continue
            if param.default is None:
                self._report(error("E203", f"net parameter '{param.name}' needs a default value", param.span), None)
                values[param.name] = UNKNOWN
                continue
            value = self._evaluate(param.default, values, frame)
            values[param.name] = value
        for name in [name for name in overrides if name not in values]:
            known = suggest(name, values) or f" (its parameters: {', '.join(values) or 'none'})"
            self._report(error("E201", f"--set {name}: net {net.name} has no parameter '{name}'{known}", net.name_span), None)
        return values

    def _input_shape(self, declared: InputDecl, frame: Frame) -> Shape | None:
        dims = [self._evaluate(d, frame.values, frame) for d in declared.dims]
        if any(d is UNKNOWN for d in dims):
            return None
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims) or not 1 <= len(dims) <= 4:
            message = f"input expects 1 to 4 positive integer sizes (C, C x L, C x H x W or C x D x H x W), got {dims}"
            self._report(error("E202", message, declared.span), frame)
            return None
        if _too_many_elements(dims):
            message = f"an input of {' × '.join(map(str, dims))} has more elements than a 64-bit size can count"
            self._report(error("E202", message, declared.span), frame)
            return None
        return tuple(dims)

    # ---- statements -----------------------------------------------------------------

    def _statements(self, statements, frame: Frame, scope: Scope, flow: Tensor) -> Tensor:
        for statement in statements:
            if isinstance(statement, Chain):  # most statements; the others are dispatched by _statement
                flow = self._chain(statement, frame, scope, flow)
            else:
                flow = self._statement(statement, frame, scope, flow)
        return flow

    def _statement(self, statement, frame, scope, flow):
        if isinstance(statement, Assign):
            return self._assign(statement, frame, scope, flow)
        if isinstance(statement, If):
            condition = self._evaluate(statement.condition, frame.values, frame)
            if condition is UNKNOWN:
                self._poison(statement, frame)
                return None
            branch = statement.then if _truthy(condition) else statement.otherwise
            return self._statements(branch, frame, scope, flow)
        if isinstance(statement, For):
            return self._for(statement, frame, scope, flow)
        if isinstance(statement, Let):
            self._let(statement, frame)
            return flow
        if isinstance(statement, Assert):
            self._assert(statement, frame)
            return flow
        if isinstance(statement, Expect):
            self._expect(statement, frame)
            return flow
        assert isinstance(statement, InputDecl)
        where = f"not in {frame.calls[-1][0]!r}" if frame.calls else "and a net has only one"
        self._report(error("E212", f"`input` may only be the first statement of a net, {where}", statement.span), frame)
        return flow

    def _let(self, statement: Let, frame: Frame) -> None:
        value = self._evaluate(statement.value, frame.values, frame)
        targets = statement.targets
        for name, span in targets:
            if name in frame.tensors:
                self._report(error("E205", f"'{name}' already names a tensor here; a value needs another name", span), frame)
                value = UNKNOWN
        if len(targets) == 1:
            frame.values[targets[0][0]] = value
            return
        if value is not UNKNOWN and (not isinstance(value, tuple) or len(value) != len(targets)):
            got = f"{len(value)} values" if isinstance(value, tuple) else show(value)
            self._report(error("E203", f"{len(targets)} names need as many values, got {got}", statement.value.span), frame)
            value = UNKNOWN
        for index, (name, _) in enumerate(targets):
            frame.values[name] = UNKNOWN if value is UNKNOWN else value[index]

    def _assert(self, statement: Assert, frame: Frame) -> None:
        """The author's check: a failure is reported where the offending call was written."""
        condition = self._evaluate(statement.condition, frame.values, frame)
        if condition is UNKNOWN:
            return
        if not isinstance(condition, int):  # bool is an int
            self._report(error("E210", f"an assertion needs true/false, got {show(condition)}", statement.condition.span), frame)
            return
        if condition:
            return
        message = "assertion failed"
        if statement.message is not None:
            text = self._evaluate(statement.message, frame.values, frame)
            if text is not UNKNOWN:
                message = text if isinstance(text, str) else show(text)
        where = Note("the assertion is here", statement.span)
        if not frame.calls:
            self._report(error("E214", message, statement.span), frame)
            return
        caller = self._frame(frame.values, frame.input, frame.calls[:-1])
        self._report(error("E214", f"{frame.calls[-1][0]}: {message}", frame.calls[-1][1], (where,)), caller)

    def _expect(self, statement: Expect, frame: Frame) -> None:
        """Kept with the names in scope (net parameters, loop variables); checked after analysis."""
        if frame.calls:
            message = f"`expect` states a contract on the whole net, so it belongs in a net, not in {frame.calls[-1][0]!r}"
            self._report(error("E502", message, statement.span), frame)
            return
        self.graph.expectations.append((statement, dict(frame.values)))

    def _assign(self, statement: Assign, frame, scope, flow):
        value = self._chain(statement.chain, frame, scope, flow)
        targets = statement.targets
        for name, span in targets:
            self._check_identifier(name, span, frame, "tensor")
        if len(targets) == 1:
            frame.tensors[targets[0][0]] = value
            return value
        if isinstance(value, tuple) and len(value) != len(targets):
            message = f"the split gives {len(value)} tensors but {len(targets)} names are given"
            self._report(error("E203", message, statement.span), frame)
            value = None
        elif value is not None and not isinstance(value, tuple):
            self._report(error("E203", f"only a split or chunk gives several tensors; {len(targets)} names given", statement.span), frame)
            value = None
        for index, (name, _) in enumerate(targets):
            frame.tensors[name] = value[index] if value is not None else None
        return value

    def _poison(self, statement, frame: Frame) -> None:
        """A statement that cannot be expanded: the tensors it would name become unknown."""
        for name in assigned_names(statement):
            frame.tensors[name] = None

    def _for(self, statement: For, frame, scope, flow):
        if statement.iterable is not None:
            return self._for_each(statement, frame, scope, flow)
        start = self._evaluate(statement.start, frame.values, frame)
        stop = self._evaluate(statement.stop, frame.values, frame)
        if start is UNKNOWN or stop is UNKNOWN:
            self._poison(statement, frame)
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop)):
            bad = statement.start if not isinstance(start, int) or isinstance(start, bool) else statement.stop
            message = f"a for loop needs integer bounds, got {show(start)}..{show(stop)}"
            self._report(error("E202", message, bad.span), frame)
            self._poison(statement, frame)
            return None
        self._check_count(stop - start + 1, statement.span, frame)
        if stop >= start:
            body_values = {**frame.values, statement.var: UNKNOWN}  # a lower bound for every iteration
            at_least = (stop - start + 1) * self.bound.statements(statement.body, self._definition_name(), body_values)
            self._check_layers(at_least, statement.span, frame)
        shadowed = statement.var in frame.values
        saved = frame.values.get(statement.var)
        for index in range(start, stop + 1):
            frame.values[statement.var] = index
            flow = self._statements(statement.body, frame, scope, flow)
        frame.values.pop(statement.var, None)
        if shadowed:
            frame.values[statement.var] = saved
        return flow

    def _for_each(self, statement: For, frame, scope, flow):
        """`for d in depths { }`, `for i, d in enumerate(depths) { }`."""
        items = self._evaluate(statement.iterable, frame.values, frame)
        if items is UNKNOWN:
            self._poison(statement, frame)
            return None
        if not isinstance(items, (tuple, str)) or isinstance(items, TensorShape):
            self._report(
                error("E202", f"a for loop goes over a list, tuple, range or string, not {show(items)}", statement.iterable.span), frame
            )
            self._poison(statement, frame)
            return None
        targets = statement.targets or ((statement.var, statement.span),)
        names = [name for name, _ in targets]
        if len(targets) > 1 and any(not isinstance(item, tuple) or len(item) != len(targets) for item in items):
            bad = next(item for item in items if not isinstance(item, tuple) or len(item) != len(targets))
            self._report(
                error("E203", f"{len(targets)} loop names need items of {len(targets)} values, got {show(bad)}", statement.iterable.span),
                frame,
            )
            self._poison(statement, frame)
            return None
        self._check_count(len(items), statement.span, frame)
        if items:
            body_values = {**frame.values, **dict.fromkeys(names, UNKNOWN)}
            at_least = len(items) * self.bound.statements(statement.body, self._definition_name(), body_values)
            self._check_layers(at_least, statement.span, frame)
        saved = {name: frame.values[name] for name in names if name in frame.values}
        for item in items:
            frame.values.update(zip(names, item) if len(targets) > 1 else ((names[0], item),))
            flow = self._statements(statement.body, frame, scope, flow)
        for name in names:
            frame.values.pop(name, None)
        frame.values.update(saved)
        return flow

    # ---- chains and items --------------------------------------------------------------

    def _chain(self, chain: Chain, frame, scope, flow):
        value = flow
        for position, item in enumerate(chain.items):
            value = self._item(item, frame, scope, value, position == 0)
        return value

    def _item(self, item: Item, frame: Frame, scope: Scope, value: Tensor, first: bool):
        atom = item.atom
        if self._is_tensor_reference(atom, frame):
            return self._tensor_reference(item, frame, first, value)
        if type(atom) is Call and atom.name in frame.values and self._holds_layer(atom.name, frame):  # `-> act`
            atom = self._layer_value_call(atom, frame)
            if atom is None:
                return None
            item = item._replace(atom=atom)
        times = 1 if item.repeat is None else self._repeat_count(item.repeat, frame)
        target = self._resolve(atom, frame)
        if item.repeat is None and type(atom) is Call and isinstance(target, LayerKind):  # most items: one layer
            label = self._label(item, frame)
            return self._layer(target, atom, frame, scope, value, label, _label_span(item) if label is not None else None)
        if times and (item.repeat is not None or isinstance(target, Definition)):
            self._check_layers(times * self.bound.atom(atom, self._definition_name(), frame.values), item.span, frame)
        if item.repeat is None and item.label is None:  # an unnamed call, group or merge
            return self._atom(atom, target, frame, scope, value, None, False)
        label = self._label(item, frame)
        label_span = _label_span(item) if label is not None else None
        own_scope = False
        if label is not None and (item.repeat is not None or not isinstance(target, LayerKind) or isinstance(atom, Merge)):
            self._claim_scope(scope.prefix + label, label_span, frame)
            scope, label, own_scope = scope.child(label), None, item.repeat is None
        for _ in range(times):
            value = self._atom(atom, target, frame, scope, value, label, own_scope, label_span)
        return value

    def _claim_scope(self, name: str, span: Span, frame) -> None:
        """A label naming a submodule: its name must be new (torch's setattr would replace the first)."""
        first = self.scopes.get(name) or (self.label_spans.get(name) or self.names[name].span if name in self.names else None)
        if first is not None:
            message = f"the name '{name}' is already used by the {'submodule' if name in self.scopes else 'layer'} at line {first.line}"
            self._report(error("E205", message, span, (Note("first used here", first),)), frame)
            self.duplicate_scopes.add(name + ".")
            return
        self.scopes[name] = span

    def _is_tensor_reference(self, atom, frame) -> bool:
        return isinstance(atom, InputRef) or (isinstance(atom, Call) and atom.bare and atom.name in frame.tensors)

    def _tensor_reference(self, item: Item, frame, first: bool, value):
        if not first:
            name = "in" if isinstance(item.atom, InputRef) else item.atom.name
            self._report(error("E213", f"the tensor '{name}' can only start a chain, not follow '->'", item.span), frame)
            return value
        if item.label is not None or item.repeat is not None:
            self._report(error("E213", "a tensor name cannot be labelled or repeated", item.span), frame)
        if isinstance(item.atom, InputRef):
            return frame.input
        return frame.tensors[item.atom.name]

    def _holds_layer(self, name: str, frame) -> bool:
        """Whether a name in a chain means the value it holds: a layer value, or a value where no
        layer or block has that name (reported). A layer or block name keeps its meaning otherwise,
        as in files written before values could hold layers."""
        return name not in self.callables or isinstance(frame.values[name], LayerValue)

    def _layer_value_call(self, call: Call, frame) -> Call | None:
        """`act` or `norm(64)` where a parameter or `let` holds a layer value: the call it stands for,
        its arguments the value's (as literals) followed by the call's own."""
        held = frame.values[call.name]
        if held is UNKNOWN:
            return None
        if not isinstance(held, LayerValue):
            message = f"'{call.name}' is a value ({show(held)}), not a layer or tensor"
            if call.bare:
                message += "; name a tensor with `x = chain`, a value with `let`"
            self._report(error("E200", message, call.span), frame)
            return None
        positional = tuple(Arg(None, Literal(v, call.span), call.span) for v in held.args)
        keywords = tuple(Arg(k, Literal(v, call.span), call.span) for k, v in held.keywords)
        own_positional = tuple(arg for arg in call.args if arg.name is None)
        own_keywords = tuple(arg for arg in call.args if arg.name is not None)
        args = positional + own_positional + keywords + own_keywords
        return Call(held.name, args, call.span, call.bare and not args)

    def _resolve(self, atom, frame):
        """What a name means: a block or module definition, or a layer kind (None if unknown)."""
        if isinstance(atom, Merge):
            return MERGES[atom.op]
        if not isinstance(atom, Call):
            return None
        target = self.callables.get(atom.name)
        if target is not None:
            return target
        names = [*REGISTRY, *frame.tensors, *(n for n, d in self.definitions.items() if d.kind != "net")]
        name_span = Span(atom.span.line, atom.span.column, atom.span.line, atom.span.column + len(atom.name))
        self._report(error("E200", f"unknown layer, block or tensor '{atom.name}'{suggest(atom.name, names)}", name_span), frame)
        return None

    def _label(self, item: Item, frame) -> str | None:
        label = item.label
        if label is None:
            return None
        if label.parts is not None:
            return self._torch_label(label, frame)
        name = label.name
        if label.index is not None:
            index = self._evaluate(label.index, frame.values, frame)
            if index is UNKNOWN:
                return None
            name = f"{name}{index}"
        self._check_identifier(name, label.name_span or label.span, frame, "layer")
        return name

    def _torch_label(self, label, frame) -> str | None:
        """`block{i}-{j}:`, `12:`: any name torch's add_module takes that codegen can spell."""
        pieces = []
        for part in label.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self._evaluate(part, frame.values, frame)
            if value is UNKNOWN:
                return None
            pieces.append(value if isinstance(value, str) else show(value))
        name = "".join(pieces)
        if not TORCH_NAME.match(name):
            message = f"the layer name '{name}' may hold only ASCII letters, digits, '_' and '-'"
            self._report(error("E207", message, label.name_span or label.span), frame)
        return name

    def _check_identifier(self, name: str, span: Span, frame, what: str) -> None:
        if not name.isascii() or not name.isidentifier():
            self._report(error("E207", f"the {what} name '{name}' is not an ASCII Python identifier", span), frame)
        elif keyword.iskeyword(name):
            self._report(error("E207", f"the {what} name '{name}' is a Python keyword", span), frame)

    def _repeat_count(self, expr, frame) -> int:
        count = self._evaluate(expr, frame.values, frame)
        if count is UNKNOWN:
            return 1
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self._report(error("E202", f"a repetition count must be an integer >= 0, got {show(count)}", expr.span), frame)
            return 1
        self._check_count(count, expr.span, frame)
        return count

    def _check_count(self, count: int, span: Span, frame) -> None:
        if len(self.graph.nodes) + count > MAX_NODES:
            message = f"expanding this would exceed the limit of {MAX_NODES:,} layers (asked for {count:,} repetitions)"
            self._report(error("E211", message, span), frame)
            raise ExpansionAborted

    def _check_layers(self, at_least: int, span: Span, frame) -> None:
        """Refuse, before expanding it, what would make more layers than the limit (cnnspec.bounds)."""
        if len(self.graph.nodes) + at_least > MAX_NODES:
            message = f"expanding this would exceed the limit of {MAX_NODES:,} layers (it makes at least {at_least:,})"
            self._report(error("E211", message, span), frame)
            raise ExpansionAborted

    def _definition_name(self) -> str:
        return self.stack[-1] if self.stack else self.graph.net

    # ---- atoms -----------------------------------------------------------------------

    def _atom(self, atom, target, frame, scope, value, label, own_scope, label_span=None):
        if isinstance(atom, Call):  # its target is a layer kind, a definition, or None if unknown
            if isinstance(target, Definition):
                return self._expand_call(target, atom, frame, scope, value, own_scope)
            return self._layer(target, atom, frame, scope, value, label, label_span) if target is not None else None
        if isinstance(atom, Group):
            return self._statements(atom.body, frame, scope, value)
        if isinstance(atom, Paren):
            return self._chain(atom.chain, frame, scope, value)
        if isinstance(atom, Merge):
            return self._merge(atom, frame, scope, value)
        return None

    def _layer(self, kind: LayerKind, call: Call, frame, scope, value, label, label_span=None):
        name = scope.claim(label)
        binding = self._bind_args(kind, call, frame)
        shape = self._single_shape(value, call, frame) if type(value) is not Value else self._shape(value)
        if binding is None or shape is None:
            return None
        return self._apply(kind, name, binding, (value,), (shape,), call.span, frame, call, label_span)

    def _merge(self, merge: Merge, frame, scope, value):
        operands = [self._chain(chain, frame, scope, value) for chain in merge.operands]
        if len(operands) == 1:
            operands.insert(0, value)
        shapes = [self._single_shape(v, merge, frame) for v in operands]
        if any(s is None for s in shapes):
            return None
        kind = MERGES[merge.op]
        name = self._functional_name(scope.prefix + merge.op)
        binding = self.bindings.get((kind,))  # a merge takes no arguments
        if binding is None:
            binding = self.bindings[kind,] = Binding({})
        return self._apply(kind, name, binding, tuple(operands), tuple(shapes), merge.span, frame)

    def _apply(self, kind, name, binding, inputs, shapes, span, frame, call=None, label_span=None):
        """Add the node applying a layer, bound by _bind_args, to its inputs; None on an error."""
        args = binding.args
        inferred = binding.inferred.get(shapes)
        if inferred is None:
            inferred = self._infer(kind, args, shapes, span, frame, call)
            if inferred is None:
                return None
            binding.inferred[shapes] = inferred
        if kind.functional:
            name = self._functional_name(name)
        node = self._add_node(name, kind, inferred, inputs, span, frame, label_span)
        node.args = args
        for code, message, *_ in inferred.warnings:
            self._report(warning(code, message, span), frame)
        if len(inferred.outputs) > 1:
            return tuple(Value(node.id, index) for index in range(len(inferred.outputs)))
        return Value(node.id)

    def _infer(self, kind, args, shapes, span, frame, call) -> Inferred | None:
        """The layer's outputs and counts, or None when it cannot be applied (reported)."""
        try:
            inferred = kind.infer(args, shapes)
        except LayerError as exc:
            arg_spans = _arg_spans(kind, call) if call is not None else {}
            self._report(error(exc.code, exc.message, arg_spans.get(exc.arg, span)), frame)
            return None
        oversized = next((shape for shape in inferred.outputs if _too_many_elements(shape)), None)
        if oversized is not None:
            message = f"the output, {' × '.join(map(str, oversized))}, has more elements than a 64-bit size can count"
            self._report(error("E307", message, span), frame)
            return None
        if inferred.params > INT_LIMIT:
            message = f"this layer would have {inferred.params:,} parameters, more than a 64-bit size can count"
            self._report(error("E202", message, span), frame)
            return None
        return inferred

    def _single_shape(self, value: Tensor, where, frame) -> Shape | None:
        if value is None:
            return None
        if isinstance(value, tuple):
            message = f"this split gives {len(value)} tensors; name them (`a, b = chunk(2)`) and use one"
            self._report(error("E203", message, where.span), frame)
            return None
        return self._shape(value)

    def _shape(self, value: Value) -> Shape | None:
        outputs = self.graph.nodes[value.node].outputs
        return outputs[value.index] if outputs else None

    # ---- arguments -------------------------------------------------------------------

    def _bind_args(self, kind: LayerKind, call: Call, frame) -> Binding | None:
        """The call's arguments checked and normalised by the kind, or None (reported).
        Evaluation is pure, so arguments bound before are found by evaluating them quietly;
        anything else takes the path that reports."""
        try:
            values = frame.values
            key = (kind, *[(arg.name, exact(_quiet_value(arg.value, values))) for arg in call.args])
        except (CnnspecError, RecursionError):
            key = None
        return self.bindings.get(key) or self._bind_new_args(kind, call, frame)

    def _bind_new_args(self, kind: LayerKind, call: Call, frame) -> Binding | None:
        positional, keywords = [], {}
        unknown = False
        for arg in call.args:
            evaluated = self._evaluate(arg.value, frame.values, frame)
            unknown |= evaluated is UNKNOWN
            if arg.name is None:
                if keywords:
                    self._report(error("E203", "a positional argument follows a keyword argument", arg.span), frame)
                    return None
                positional.append(evaluated)
            elif arg.name in keywords:
                self._report(error("E203", f"{kind.name}: argument '{arg.name}' given twice", arg.span), frame)
                return None
            else:
                keywords[arg.name] = evaluated
        if unknown:  # an argument's error is already reported
            return None
        if len(positional) > len(kind.args):
            extra = call.args[len(kind.args)]
            takes = f"{len(kind.args)} positional argument{'s' * (len(kind.args) != 1)}" if kind.args else "no arguments"
            message = f"{kind.name} takes {takes} ({', '.join(s.name for s in kind.args) or 'none'}), got {len(positional)}"
            self._report(error("E203", message, extra.span), frame)
            return None
        key = (kind, *[(None, exact(value)) for value in positional], *[(name, exact(value)) for name, value in keywords.items()])
        try:
            binding = self.bindings[key] = Binding(kind.bind(positional, keywords))
            return binding
        except LayerError as exc:
            message = exc.message
            if exc.code == "E201":
                message += suggest(exc.arg, kind.argument_names()) or f" (it takes: {', '.join(s.name for s in kind.args) or 'none'})"
            span = _arg_spans(kind, call).get(exc.arg, call.span)
            self._report(error(exc.code, message, span), frame)
            return None

    def _evaluate(self, expr, values, frame):
        try:
            return evaluate(expr, values, frame.environment if frame is not None else None)
        except CnnspecError as exc:
            self._report(exc.diagnostic, frame)
            return UNKNOWN
        except RecursionError:
            self._report(error("E102", "this expression is nested too deeply to evaluate", expr.span), frame)
            return UNKNOWN

    # ---- blocks and modules -------------------------------------------------------------

    def _expand_call(self, definition: Definition, call: Call, frame, scope, value, own_scope):
        if definition.name in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(definition.name) :], definition.name])
            self._report(error("E206", f"{definition.kind} '{definition.name}' is recursive ({chain})", call.span), frame)
            return None
        if len(self.stack) >= MAX_CALL_DEPTH:
            self._report(error("E102", f"blocks and modules call each other more than {MAX_CALL_DEPTH} levels deep", call.span), frame)
            return None
        values = self._bind_params(definition, call, frame)
        if values is None:
            return None
        if definition.kind == "module":
            scope = scope if own_scope else scope.child(None)
            self.graph.submodules[scope.prefix[:-1]] = SubmoduleInfo(definition.name, dict(values))
        inner = self._frame(values=values, input=value, calls=frame.calls + ((definition.name, call.span),))
        self.stack.append(definition.name)
        try:
            return self._statements(definition.body, inner, scope, value)
        finally:
            self.stack.pop()

    def _bind_params(self, definition: Definition, call: Call, frame) -> dict | None:
        matched, problem = match_arguments(definition, call)
        given = {}
        for name, arg in matched.items():
            errors_before = len(self.diagnostics)
            given[name] = self._evaluate(arg.value, frame.values, frame)
            if len(self.diagnostics) > errors_before:  # reported; expanding with a bad value would add noise
                return None
        if problem is not None:
            self._report(problem, frame)
            return None
        values = {}
        for param in definition.params:
            if param.name in given:
                values[param.name] = given[param.name]
            elif param.default is not None:
                values[param.name] = self._evaluate(param.default, values, frame)
            else:
                self._report(error("E203", f"{definition.name}: missing argument '{param.name}'", call.span), frame)
                return None
        return values

    # ---- the graph ---------------------------------------------------------------------

    def _functional_name(self, base: str) -> str:
        suffix = self.functional_suffixes.get(base, 1)  # names are never freed: no smaller suffix is free
        name = base if suffix == 1 else f"{base}_{suffix}"
        while name in self.names:
            suffix += 1
            name = f"{base}_{suffix}"
        self.functional_suffixes[base] = suffix
        return name

    def _add_node(self, name, kind, inferred: Inferred, inputs, span, frame, label_span=None) -> Node:
        nodes = self.graph.nodes
        if len(nodes) >= MAX_NODES:
            self._report(error("E211", f"the net has more than {MAX_NODES:,} layers", span), frame)
            raise ExpansionAborted
        op, hparams, outputs, params, buffers, _ = inferred
        node = Node(len(nodes), name, op, kind, hparams, inputs, outputs, params, buffers, span, frame.expansion)
        existing = self.names.get(name)
        if existing is not None or name in self.scopes:
            self._check_name_reuse(node, existing, span, frame, label_span)
        if existing is None:
            self.names[name] = node
            if label_span is not None:
                self.label_spans[name] = label_span
        nodes.append(node)
        return node

    def _check_name_reuse(self, node: Node, existing: Node | None, span, frame, label_span) -> None:
        """A node named like an earlier layer or submodule: E205 unless torch allows it."""
        name = node.name
        if any(name.startswith(prefix) for prefix in self.duplicate_scopes):
            return
        if existing is not None and not _reusable(existing, node):
            first = self.label_spans.get(name) or existing.span
            message = f"the name '{name}' is already used by the layer at line {first.line}"
            self._report(error("E205", message, label_span or span, (Note("first used here", first),)), frame)
        elif name in self.scopes:
            first = self.scopes[name]
            message = f"the name '{name}' is already used by the submodule at line {first.line}"
            self._report(error("E205", message, label_span or span, (Note("first used here", first),)), frame)

    def _report(self, diagnostic: Diagnostic, frame: Frame | None) -> None:
        if frame is not None and frame.calls:
            expansions = tuple(Note(f"in the expansion of '{name}' called here", span) for name, span in reversed(frame.calls))
            if len(expansions) > MAX_EXPANSION_NOTES:  # the innermost calls and the outermost ones
                hidden = len(expansions) - MAX_EXPANSION_NOTES + 1
                keep = MAX_EXPANSION_NOTES // 2
                outermost = expansions[-(MAX_EXPANSION_NOTES - keep - 1) :]
                expansions = (*expansions[:keep], Note(f"... and {hidden} more expansions"), *outermost)
            notes = diagnostic.notes + expansions
            diagnostic = Diagnostic(diagnostic.code, diagnostic.severity, diagnostic.message, diagnostic.span, notes)
        self.diagnostics.append(diagnostic)


def _label_span(item: Item) -> Span:
    return item.label.name_span or item.label.span


def _quiet_value(expr, values: dict):
    """evaluate(), with shortcuts for the commonest arguments, to look up bound arguments.
    A literal is read without its range check: an out-of-range one was never bound, so it
    is never found, and binding it anew reports it."""
    expr_type = type(expr)
    if expr_type is Literal:
        return expr.value
    if expr_type is Var and expr.name in values:
        return values[expr.name]
    return evaluate(expr, values)


def _too_many_elements(shape) -> bool:
    """Whether one sample of this shape has more elements than torch's int64 sizes can count."""
    return prod(shape) > INT_LIMIT


def _truthy(value) -> bool:
    return bool(value) if value is not None else False


def _reusable(existing: Node, node: Node) -> bool:
    """torch lets a parameter-free module be applied twice (torchvision's BasicBlock.relu)."""
    same = existing.op == node.op and existing.hparams == node.hparams
    return same and existing.params == 0 and existing.buffers == 0 and not existing.kind.functional


def _arg_spans(kind: LayerKind, call: Call) -> dict[str, Span]:
    """Where each argument was written, under its canonical name and under its spelling."""
    spans = {}
    for position, arg in enumerate(call.args):
        if arg.name is None:
            if position < len(kind.args):
                spans[kind.args[position].name] = arg.span
            continue
        spans[arg.name] = arg.span
        for spec in kind.args:
            if arg.name in spec.aliases:
                spans[spec.name] = arg.span
    return spans
