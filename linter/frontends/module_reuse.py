"""Submodules built again with the same constructor arguments are copied, not run again.

A model zoo builds the same block many times: twelve ``Block(768, 12, qkv_bias=True)`` in a
vision transformer, the same ``BatchNormAct2d(64)`` in every stage, and each variant of a
family builds them again. Running a block's ``__init__`` means interpreting every line of it
and of the modules it builds; copying the instance the first run made costs a few
dictionaries. On timm, four of five submodule constructions repeat one made before.

A copy stands for a run only where a run would give the same result, so reuse is refused
unless all of this holds:

- the arguments are plain values (numbers, strings, tuples and lists of them, classes,
  functions, unknown): an argument that is itself an object (a config instance, a layer, a
  tensor) may have changed, so the call is run;
- the context the interpreter reads is the same: the call depth (its limit), the branches and
  loops open, whether a forward or ``no_grad`` is running, and how many writes the code has
  made to objects that outlive a call (``Interpreter.writes``: a global, a class attribute, an
  argument; a build that depends on them is run again once they change);
- the first run changed nothing but the instance it made: the interpreter's and the program's
  state is compared before and after (:func:`_state`), every change but the layers it
  recorded (which a copy records again) refuses reuse, and so does a run that changed its
  arguments or wrote outside the objects it built;
- everything the instance holds can be copied (:func:`copy_built`): modules, layers, plain
  values; a tensor, an optimizer or a graph in it refuses reuse.

A reused build also counts the steps its first run took against the file's budget, so the
analysis gives up where it would have without reuse.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional

from nnlint.frontends.values import UNKNOWN, ClassRef, External, FunctionRef, Instance, Layer, Param, Tensor
from nnlint.ir import InputRef, ModelGraph, Origin
from nnlint.ir.shapes import Shape

if TYPE_CHECKING:
    from nnlint.frontends.interpreter import Frame, Interpreter

#: State that a build may change and a copy need not change again: the layers it recorded
#: (recorded again for the copy) and caches keyed by the code's own nodes or names (the copy's
#: run would add the same entries).
_REPLAYED = frozenset({"steps", "writes", "layers", "submodule_classes", "assign_names", "_recorded", "_branch_calls",
                       "_unread", "_star_modules", "globals_held", "call_log"})


class _NotCopyable(Exception):
    pass




class _Built:
    """What one run of a constructor made, copied as it was when the run ended (the code goes
    on to change the instance: ``model.eval()``, an optimizer over its layers): the instance,
    the layers it recorded, the ops it added to the graph it ran in (ops ``first`` on of
    ``graph``: a parameter's ``torch.zeros(...)``, arithmetic on sizes), the flags it set, the
    steps it took and the calls it made."""

    __slots__ = ("inst", "layers", "ops", "graph", "first", "steps", "flags", "calls")

    def __init__(self, inst: Instance, layers: list[Layer], graph: ModelGraph, first: int, steps: int,
                 flags: dict[tuple[int, str], bool], calls: "_Calls") -> None:
        memo: dict[int, Any] = {}
        same = _Renumber(graph, first, len(graph.ops), graph)  # ids kept: the copy stands where the run was
        self.inst = copy_built(inst, memo, same)
        self.layers = [copy_built(layer, memo, same) for layer in layers]
        self.ops = [(op.kind, op.type_name, list(op.inputs), copy_built(op.attrs, memo, same), op.origin, op.label)
                    for op in (graph.ops[i] for i in range(first, len(graph.ops)))]
        self.graph = graph
        self.first = first
        self.steps = steps
        self.flags = flags  # (holder, field) -> the value the run set: events.complete = False
        self.calls = calls


class _Calls:
    """The calls a run made, for where they may be made again alike: the interpreter follows a
    call unless its function is running already (recursion) or the call stack is at its
    limit, so a run that met neither meets neither where the stack is no deeper than its
    deepest call allows and holds none of the functions it called; a run that met one is
    reused only under the very same stack."""

    __slots__ = ("base", "room", "functions", "stack")

    def __init__(self, interp: "Interpreter", calls: list[tuple[Any, int, bool]]) -> None:
        self.base = len(interp.stack)
        self.room = interp.MAX_DEPTH - (max((depth for _, depth, _ in calls), default=self.base) - self.base)
        self.functions = {id(node) for node, _, _ in calls}
        #: the stack the run needs again, when it met a limit
        self.stack = tuple(map(id, interp.stack)) if any(limited for _, _, limited in calls) else None

    def same_at(self, interp: "Interpreter") -> bool:
        if self.stack is not None:
            return tuple(map(id, interp.stack)) == self.stack
        return len(interp.stack) < self.room and not any(id(node) in self.functions for node in interp.stack)


class ModuleReuse:
    """The submodules built so far in one file, by class, arguments and context."""

    def __init__(self) -> None:
        self._built: dict[tuple, Optional[_Built]] = {}  # None: not reusable

    def build(self, interp: "Interpreter", cls: ClassRef, args: list, kwargs: dict, frame: "Frame",
              run: Callable[[], Any]) -> Any:
        """The instance ``run`` makes, or a copy of the one an equal earlier call made."""
        key = _key(interp, cls, args, kwargs, frame)
        if key is None:
            return run()
        if key in self._built:
            built = self._built[key]
            if built is None or not built.calls.same_at(interp):
                return run()
            try:
                return _replay(interp, built, frame.graph)
            except _NotCopyable:  # its ops read ops of another graph than this one
                return run()
        before = _state(interp, frame)
        flags_before = _flags(interp)
        layers_before = len(interp.program.layers)
        first = len(frame.graph.ops)
        steps = interp.steps
        log = interp.call_log
        if log is None:
            interp.call_log = []
        start = len(interp.call_log)
        try:
            inst = run()
        finally:
            calls = _Calls(interp, interp.call_log[start:])
            if log is None:
                interp.call_log = None
        self._built[key] = None
        if isinstance(inst, Instance) and interp.writes == key[-1] and _key(interp, cls, args, kwargs, frame) == key \
                and _state(interp, frame) == before and len(interp.program.layers) < _LAYER_CAP:
            flags = {name: value for name, value in _flags(interp).items() if flags_before[name] != value}
            try:
                self._built[key] = _Built(inst, interp.program.layers[layers_before:], frame.graph, first,
                                          interp.steps - steps, flags, calls)
            except _NotCopyable:
                pass
        return inst


_LAYER_CAP = 10_000  # the program records at most this many layers (torch_source.build_layer)


def _replay(interp: "Interpreter", built: _Built, graph: ModelGraph) -> Instance:
    """A copy of ``built`` made in ``graph``, as a run would have made it. Raises
    ``_NotCopyable`` before changing anything where its ops read ops of another graph."""
    memo: dict[int, Any] = {}
    remap = _Renumber(built.graph, built.first, built.first + len(built.ops), graph)
    inst = copy_built(built.inst, memo, remap)
    layers = [copy_built(layer, memo, remap) for layer in built.layers]
    ops = [(kind, name, [remap.op(i) for i in inputs], copy_built(attrs, memo, remap), origin, label)
           for kind, name, inputs, attrs, origin, label in built.ops]
    for op in ops:
        graph.add(*op)
    for layer in layers:
        if len(interp.program.layers) < _LAYER_CAP:
            interp.program.layers.append(layer)
    holders = _holders(interp)
    for (holder, name), value in built.flags.items():
        setattr(holders[holder], name, value)
    interp.steps += built.steps
    if interp.steps > interp.MAX_STEPS:
        interp.tick()  # past the budget, as the run would have gone: BudgetExceeded
    return inst


class _Renumber:
    """The ids of ``source``'s ops ``start`` to ``end`` once copied to the end of ``target``."""

    __slots__ = ("source", "start", "end", "target", "offset")

    def __init__(self, source: ModelGraph, start: int, end: int, target: ModelGraph) -> None:
        self.source, self.start, self.end, self.target = source, start, end, target
        self.offset = len(target.ops) - start

    def op(self, op: int) -> int:
        if self.start <= op < self.end:
            return op + self.offset
        if self.source is self.target:
            return op  # made before the constructor ran, in the same graph
        raise _NotCopyable

    def tensor(self, tensor: Tensor) -> Tensor:
        if tensor.graph is not self.source:
            return tensor  # of another graph (a module-level tensor): read, never changed
        return Tensor(self.target, self.op(tensor.op), tensor.model)


def _key(interp: "Interpreter", cls: ClassRef, args: list, kwargs: dict, frame: "Frame") -> Optional[tuple]:
    try:
        values = (_plain(args), _plain(kwargs))
    except _NotCopyable:
        return None
    return (id(cls), values, interp.open_branches() if interp.uncertain else (), interp.loops > 0,
            interp.uncertain > 0, getattr(interp, "forwards", 0) > 0, getattr(interp, "no_grad", 0) > 0,
            getattr(interp, "data_loops", 0) > 0, id(frame.module), interp.writes)


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as a hashable key, for plain values only (see the module's docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value), value)
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, (ClassRef, FunctionRef, External)):
        return id(value)
    if depth < 4 and isinstance(value, (list, tuple)):
        return (type(value), tuple(_plain(v, depth + 1) for v in value))
    if depth < 4 and isinstance(value, dict):
        return (dict, tuple((k if isinstance(k, str) else id(k), _plain(v, depth + 1)) for k, v in value.items()))
    raise _NotCopyable


def _holders(interp: "Interpreter") -> list:
    """The objects whose fields hold what the analysis found so far: the interpreter, its
    program, the program's training setup and the current unit's training events."""
    holders = [interp, interp.program, interp.program.setup]
    events = getattr(interp, "events", None)
    if events is not None:
        holders.append(events)
    return holders


def _state(interp: "Interpreter", frame: "Frame") -> tuple:
    """What a build could change besides what it makes: the size or value of each field of
    the holders (flags aside: see ``_flags``), and the inputs and outputs of the graph the
    constructor runs in."""
    parts: list = [len(frame.graph.inputs), len(frame.graph.outputs)]
    for holder in _holders(interp):
        for name, value in vars(holder).items():
            if name in _REPLAYED or isinstance(value, bool):
                continue
            if isinstance(value, (list, dict, set, tuple)):
                parts.append(len(value))
            elif value is None or isinstance(value, (int, float, str)):
                parts.append(value)
            else:
                parts.append(id(value))
    return tuple(parts)


def _flags(interp: "Interpreter") -> dict[tuple[int, str], bool]:
    """The holders' true-or-false fields (``program.trains``, ``events.complete``): a build
    sets them (a call it could not follow makes the unit's events incomplete), and a copy sets
    them as its run did."""
    return {(i, name): value for i, holder in enumerate(_holders(interp))
            for name, value in vars(holder).items() if isinstance(value, bool)}


#: Never changed once made (frozen, or as an origin: nothing writes to one).
_SHARED = (ClassRef, FunctionRef, External, Enum, Origin, InputRef, Shape)


def copy_built(value: Any, memo: dict[int, Any], remap: _Renumber) -> Any:
    """A copy of what a constructor made: its instances, layers and containers new, its
    tensors those of the copied ops (``remap``), everything else (classes, functions, names of
    the frameworks, plain values, the source nodes) shared. ``memo`` maps the ids of what was
    copied to the copies. Raises ``_NotCopyable`` for anything else (a graph, an optimizer)."""
    if value is None or value is UNKNOWN or isinstance(value, (bool, int, float, str, bytes)) \
            or isinstance(value, _SHARED):
        return value
    done = memo.get(id(value))
    if done is not None:
        return done
    if isinstance(value, Tensor):
        return remap.tensor(value)
    if isinstance(value, list):
        copy: Any = []
        memo[id(value)] = copy
        copy.extend(copy_built(v, memo, remap) for v in value)
        return copy
    if isinstance(value, tuple):
        return tuple(copy_built(v, memo, remap) for v in value)
    if isinstance(value, dict):
        copy = {}
        memo[id(value)] = copy
        for k, v in value.items():
            copy[k] = copy_built(v, memo, remap)
        return copy
    if isinstance(value, Instance):
        if value.graph is not None or value.building:
            raise _NotCopyable
        copy = Instance(value.cls, mode=value.mode)
        memo[id(value)] = copy
        copy.attrs = copy_built(value.attrs, memo, remap)
        return copy
    if isinstance(value, Layer):
        if value.graph is not None:
            raise _NotCopyable
        copy = Layer(value.qualname, value.kind, {}, value.node, value.path, value.label, mode=value.mode,
                     fresh=value.fresh, branches=value.branches)
        memo[id(value)] = copy
        copy.attrs = copy_built(value.attrs, memo, remap)
        copy.children = copy_built(value.children, memo, remap)
        copy.parent = copy_built(value.parent, memo, remap)
        copy.inits = copy_built(value.inits, memo, remap)
        copy.grads = copy_built(value.grads, memo, remap)
        return copy
    if isinstance(value, Param):
        return Param(copy_built(value.layer, memo, remap), value.name)
    raise _NotCopyable
