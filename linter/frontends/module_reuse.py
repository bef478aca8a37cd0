"""Submodules built again with the same constructor arguments are copied, not run again.

A model zoo builds the same block many times: twelve ``Block(768, 12, qkv_bias=True)`` in a
vision transformer, the same ``BatchNormAct2d(64)`` in every stage, and each variant of a
family builds them again. Running a block's ``__init__`` means interpreting every line of it
and of the modules it builds; copying the instance the first run made costs a few
dictionaries. On timm, four of five submodule constructions repeat one made before.

A copy stands for a run only where a run would give the same result. A run reads its
arguments, what it makes itself, and what existed before it: module globals, class
attributes, the interpreter's state. So a build is copied only when all of this holds:

- its arguments are plain values (numbers, strings, tuples of them, classes, functions,
  module and framework names, unknown): never a list, a dict or an object, which the caller
  may change between two builds or read after them;
- every global name and every module or class attribute the first run read
  (:class:`_Reads`: recorded by the interpreter while a build is recorded) was a plain value
  too, and reads the same value again when the copy is made: a global dict, a config object
  or a layer bound at module level makes the build run every time, and so does a name rebound
  since. With plain arguments and plain reads, nothing the first run reached existed before it
  but plain values, so it cannot have read or changed an object a later build could see
  otherwise (a nested function's enclosing scope counts as globals do: ``to_2tuple =
  _ntuple(2)`` reads ``n``); a write to a class attribute refuses reuse outright;
- the first run changed nothing but what it made: the interpreter's and the program's state is
  compared before and after (:func:`_state`), and every change but the layers it recorded
  (which a copy records again) and caches keyed by the code's own nodes refuses reuse, a flag
  it set (``program.trains``) included;
- the context the interpreter reads is the same: the branches and loops open, the
  interpreter's counters and flags (:func:`_context`), no forward, ``no_grad`` block or data
  loop running, and the call stack (the first run's calls meet the recursion and depth limits
  as a run here would: :class:`_Calls`);
- everything the instance holds can be copied (:func:`copy_built`): modules, layers, plain
  values, tensors of ops it added; a graph, an optimizer or anything else refuses reuse.

A copy adds the first run's ops to the graph it is built in (renumbered), records its layers
and counts its steps against the file's budget; a build that would go past the budget is run,
so the analysis gives up where and as it would have without reuse. A copy made while an
enclosing build is recorded hands that build the reads and calls of the run it stands for.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional

from nnlint.frontends import values
from nnlint.frontends.values import UNKNOWN, ClassRef, External, FunctionRef, Instance, Layer, ModuleRef, Param, Tensor
from nnlint.ir import InputRef, ModelGraph, Origin
from nnlint.ir.shapes import Shape

if TYPE_CHECKING:
    from nnlint.frontends.interpreter import Frame, Interpreter

#: State that a build may change and a copy need not change again: the layers it recorded
#: (recorded again for the copy), the recording itself, and caches keyed by the code's own
#: nodes or names (entries that only grow, which a second run would find made).
_REPLAYED = frozenset({"steps", "layers", "submodule_classes", "assign_names", "_recorded", "_branch_calls",
                       "_unread", "_star_modules", "reads", "call_log"})

#: The most reads one build may record; past it the build is not kept for reuse.
_READ_CAP = 20_000
#: The most items of the lists and dicts a build reads (the tables are compared at each copy).
_TABLE_CAP = 2_000


_ABSENT = object()  # a name no longer in a scope


class _NotCopyable(Exception):
    pass


class _Reads:
    """What the builds being recorded read from outside themselves, in order: ``("global",
    module, name, is_module, value)``, ``("scope", enclosing function's scope, name, value)``,
    ``("attr", module, framework, name, value)``, ``("class", cls, name, value)``; the content
    of each list or dict read (a lookup table such as ``_ACT_LAYERS = dict(relu=nn.ReLU, ...)``)
    as it was when first read; and ``impure``, a count of the reads and writes that refuse
    reuse outright, which every build being recorded compares before and after."""

    __slots__ = ("entries", "tables", "impure")

    def __init__(self) -> None:
        self.entries: list[tuple] = []
        self.tables: dict[int, tuple[Any, Any, list]] = {}  # id -> (container, content, containers in it)
        self.impure = 0

    def add(self, entry: tuple) -> None:
        self.entries.append(entry)
        value = entry[-1]
        if isinstance(value, (list, dict)) and id(value) not in self.tables:
            inner: list = []
            try:
                content = _content(value, inner, [_TABLE_CAP])
            except _NotCopyable:
                self.impure += 1  # an object, or too large to compare: read as it may change
                return
            self.tables[id(value)] = (value, content, inner)


class _Built:
    """What one run of a constructor made, copied as it was when the run ended (the code goes
    on to change the instance: ``model.eval()``, an optimizer over its layers): the instance,
    the layers it recorded, the ops it added to the graph it ran in (ops ``first`` on of
    ``graph``: a parameter's ``torch.zeros(...)``, arithmetic on sizes), the steps it took,
    the calls it made and what it read."""

    __slots__ = ("inst", "layers", "ops", "graph", "first", "steps", "calls", "reads", "tables")

    def __init__(self, inst: Instance, layers: list[Layer], graph: ModelGraph, first: int, steps: int,
                 calls: "_Calls", reads: list[tuple], tables: list[tuple[Any, Any, list]]) -> None:
        self.tables = tables  # (container, content, containers in it) of the lists and dicts it read
        memo = _shared(tables)
        same = _Renumber(graph, first, len(graph.ops), graph)  # ids kept: the copy stands where the run was
        self.inst = copy_built(inst, memo, same)
        self.layers = [copy_built(layer, memo, same) for layer in layers]
        self.ops = [(op.kind, op.type_name, list(op.inputs), _op_attrs(op.attrs, memo, same), op.origin, op.label)
                    for op in (graph.ops[i] for i in range(first, len(graph.ops)))]
        self.graph = graph
        self.first = first
        self.steps = steps
        self.calls = calls
        self.reads = reads


class _Calls:
    """The calls a run made, for where they may be made again alike: the interpreter follows a
    call unless its function is running already (recursion) or the call stack is at its
    limit, so a run that met neither meets neither where the stack is no deeper than its
    deepest call allows and holds none of the functions it called; a run that met one is
    reused only under the very same stack. ``calls`` are (function, depth above the run's
    base, limited), a copied build's among them."""

    __slots__ = ("calls", "room", "functions", "stack")

    def __init__(self, interp: "Interpreter", calls: list[tuple[Any, int, bool]]) -> None:
        self.calls = calls
        self.room = interp.MAX_DEPTH - max((depth for _, depth, _ in calls), default=0)
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
        self._built: dict[tuple, _Built] = {}

    def build(self, interp: "Interpreter", cls: ClassRef, args: list, kwargs: dict, frame: "Frame",
              run: Callable[[], Any]) -> Any:
        """The instance ``run`` makes, or a copy of the one an equal earlier call made."""
        key = _key(interp, cls, args, kwargs, frame)
        if key is None:
            return run()
        built = self._built.get(key)
        if built is not None and interp.steps + built.steps <= interp.MAX_STEPS and built.calls.same_at(interp) \
                and _reads_hold(interp, built.reads, built.tables):
            try:
                return _replay(interp, built, frame.graph)
            except _NotCopyable:  # its ops read ops of another graph than this one
                pass
        return self._record(interp, key, cls, args, kwargs, frame, run)

    def _record(self, interp: "Interpreter", key: tuple, cls: ClassRef, args: list, kwargs: dict,
                frame: "Frame", run: Callable[[], Any]) -> Any:
        """Run the build, and keep what it made where it was pure (the module docstring)."""
        before = _state(interp, frame)
        layers_before = len(interp.program.layers)
        first = len(frame.graph.ops)
        steps = interp.steps
        outermost = interp.reads is None
        if outermost:
            interp.reads, interp.call_log = _Reads(), []
            values.class_reads = interp.reads.add
        reads, base = interp.reads, len(interp.stack)
        start, calls_start, impure, loads = len(reads.entries), len(interp.call_log), reads.impure, interp.loads
        try:
            inst = run()
            mine = reads.entries[start:]
            tables = _tables_read(reads, mine)
            # a run that loaded a module took steps a second run would not: the next is kept instead
            pure = reads.impure == impure and interp.loads == loads and len(mine) < _READ_CAP and tables is not None
            if not pure:
                reads.impure += 1  # an enclosing build read what this one read
            calls = _Calls(interp, [(node, depth - base, limited) for node, depth, limited in interp.call_log[calls_start:]])
        finally:
            if outermost:
                interp.reads, interp.call_log = None, None
                values.class_reads = None
        if not pure or not isinstance(inst, Instance) or _state(interp, frame) != before \
                or len(interp.program.layers) >= _LAYER_CAP:
            self._built.pop(key, None)
            return inst
        try:
            self._built[key] = _Built(inst, interp.program.layers[layers_before:], frame.graph, first,
                                      interp.steps - steps, calls, mine, tables)
        except _NotCopyable:
            self._built.pop(key, None)
        return inst


_LAYER_CAP = 10_000  # the program records at most this many layers (torch_source.build_layer)


def _replay(interp: "Interpreter", built: _Built, graph: ModelGraph) -> Instance:
    """A copy of ``built`` made in ``graph``, as a run would have made it. Raises
    ``_NotCopyable`` before changing anything where its ops read ops of another graph."""
    memo = _shared(built.tables)
    remap = _Renumber(built.graph, built.first, built.first + len(built.ops), graph)
    inst = copy_built(built.inst, memo, remap)
    layers = [copy_built(layer, memo, remap) for layer in built.layers]
    ops = [(kind, name, [remap.op(i) for i in inputs], _op_attrs(attrs, memo, remap), origin, label)
           for kind, name, inputs, attrs, origin, label in built.ops]
    for op in ops:
        graph.add(*op)
    for layer in layers:
        if len(interp.program.layers) < _LAYER_CAP:
            interp.program.layers.append(layer)
    if interp.reads is not None:  # an enclosing build being recorded depends on what this one read and called
        for entry in built.reads:
            interp.reads.add(entry)
        depth = len(interp.stack)
        interp.call_log.extend((node, depth + above, limited) for node, above, limited in built.calls.calls)
    interp.steps += built.steps  # within the budget: a run past it is run, to stop where it stops
    return inst


def _op_attrs(attrs: dict, memo: dict[int, Any], remap: "_Renumber") -> dict:
    """An op's attributes copied; ``module``, the id of the layer that made it (which tells one
    layer called twice from two alike layers), names that layer's copy."""
    copy = copy_built(attrs, memo, remap)
    made_by = memo.get(attrs.get("module")) if isinstance(attrs.get("module"), int) else None
    if made_by is not None:
        copy["module"] = id(made_by)
    return copy


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
    """The build's class, arguments and context; None where an argument is not plain. Classes,
    functions and modules are in it as themselves, so the key keeps them alive (an id could be
    another object's once they were freed)."""
    if getattr(interp, "forwards", 0) or getattr(interp, "quiet_blocks", None) or getattr(interp, "phases", None) \
            or getattr(interp, "data_loops", 0):
        return None  # built in a forward, a no_grad block or an evaluation: what it records goes beyond the build
    try:
        given = (tuple(_plain(a) for a in args), tuple((k, _plain(v)) for k, v in kwargs.items()))
    except _NotCopyable:
        return None
    return (cls, given, interp.open_branches() if interp.uncertain else (), frame.module, _context(interp))


def _context(interp: "Interpreter") -> tuple:
    """What the interpreter is in the middle of: the holders' counters, settings and flags
    (loops, branches, training steps so far, ``program.trains``, ``events.complete``...)."""
    return tuple(value for holder in _holders(interp) for name, value in vars(holder).items()
                 if name not in _REPLAYED and (value is None or isinstance(value, (int, float, str))))


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as a hashable key, for plain values only (see the module's docstring)."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return (type(value), value)
    if isinstance(value, (float, complex)):
        return (type(value), repr(value))  # -0.0 is not 0.0, and a NaN equals its own spelling
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, External):
        return (External, value.qualname)
    if isinstance(value, ModuleRef):
        return (ModuleRef, value.info, value.framework)
    if isinstance(value, (ClassRef, FunctionRef)):
        return value
    if depth < 4 and isinstance(value, tuple):
        return (tuple, tuple(_plain(v, depth + 1) for v in value))
    raise _NotCopyable


def _tables_read(reads: _Reads, entries: list[tuple]) -> Optional[list[tuple[Any, Any, list]]]:
    """The lists and dicts a build read, each still as it was when first read; None where the
    build read anything else than a plain value or such a table, or a table changed since
    (then the build wrote to something that existed before it)."""
    found: dict[int, tuple[Any, Any, list]] = {}
    for entry in entries:
        value = entry[-1]
        if isinstance(value, (list, dict)):
            table = reads.tables.get(id(value))
            if table is None or table[0] is not value:
                return None
            found[id(value)] = table
            continue
        try:
            _plain(value)
        except _NotCopyable:
            return None
    tables = list(found.values())
    return tables if _tables_hold(tables) else None


def _tables_hold(tables: list[tuple[Any, Any, list]]) -> bool:
    """Whether every table holds the content it held when first read."""
    return all(_content(container, [], [_TABLE_CAP]) == content for container, content, _ in tables)


def _content(value: Any, inner: list, budget: list[int], depth: int = 0) -> Any:
    """A list's or dict's content as a key (``_plain`` for its items; lists, dicts and tuples
    of them in it, up to ``_TABLE_CAP`` items in all), the containers met added to ``inner``."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 4:
        raise _NotCopyable
    if isinstance(value, list):
        inner.append(value)
        return (list, tuple(_content(v, inner, budget, depth + 1) for v in value))
    if isinstance(value, dict):
        inner.append(value)
        return (dict, tuple((_key_of(k), _content(v, inner, budget, depth + 1)) for k, v in value.items()))
    if isinstance(value, tuple):
        return (tuple, tuple(_content(v, inner, budget, depth + 1) for v in value))
    return _plain(value)


def _key_of(key: Any) -> Any:
    """A dict key in a table's content: plain, or the interpreter's marker of a dict whose
    content is not known (a bare ``object()``, itself)."""
    return key if type(key) is object else _plain(key)


def _shared(tables: list[tuple[Any, Any, list]]) -> dict[int, Any]:
    """A copy's memo that keeps the tables a build read (and the containers in them) shared:
    the instance a run makes holds those very objects, not copies of them."""
    return {id(c): c for _, _, inner in tables for c in inner}


def _same(a: Any, b: Any) -> bool:
    """Whether a read gives now what it gave: the same object (a table, whose content is
    compared apart), or an equal plain value."""
    if a is b:
        return True
    try:
        return _plain(a) == _plain(b)
    except _NotCopyable:
        return False


def _reads_hold(interp: "Interpreter", reads: list[tuple], tables: list[tuple[Any, Any, list]]) -> bool:
    """Whether every read of a build gives the same value now (each asked the way the
    interpreter asked it, once per name), and every table it read holds what it held."""
    if not _tables_hold(tables):
        return False
    seen: set = set()
    for entry in reads:
        where = entry[:-1]
        marker = tuple(id(part) if not isinstance(part, (str, bool)) and part is not None else part for part in where)
        if marker in seen:
            continue
        seen.add(marker)
        kind = entry[0]
        if kind == "global":
            _, module, name, is_module, value = entry
            now = interp.global_value(name, module, is_module)
        elif kind == "scope":
            _, scope, name, value = entry
            now = interp.force(scope[name]) if name in scope else _ABSENT
        elif kind == "attr":
            _, module, framework, name, value = entry
            now = interp.read_module_attr(ModuleRef(module, framework), name)
        else:
            _, cls, name, value = entry
            now = cls.resolve(name)
        if not _same(now, value):
            return False
    return True


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
    the holders (flags included), how many calls were inlined (a count per
    function, which limits how often training code follows one), and of the graph the
    constructor runs in, its inputs, outputs, flags and training setup (a loss computed in a
    constructor is attached to it)."""
    graph = frame.graph
    parts: list = [len(graph.inputs), len(graph.outputs), graph.complete, graph.instantiated, graph.is_model,
                   graph.top_level, sum(interp.inlined.values())]
    for holder in (*_holders(interp), graph.setup):
        for name, value in vars(holder).items():
            if name in _REPLAYED:
                continue
            if isinstance(value, (list, dict, set, tuple)):
                parts.append(len(value))
            elif value is None or isinstance(value, (int, float, str)):
                parts.append(value)
            else:
                parts.append(id(value))
    return tuple(parts)


#: Never changed once made (frozen, or as an origin: nothing writes to one).
_SHARED = (ClassRef, FunctionRef, External, ModuleRef, Enum, Origin, InputRef, Shape)


def copy_built(value: Any, memo: dict[int, Any], remap: _Renumber) -> Any:
    """A copy of what a constructor made: its instances, layers and containers new, its
    tensors those of the copied ops (``remap``), everything else (classes, functions, names of
    the frameworks, plain values, the source nodes) shared. ``memo`` maps the ids of what was
    copied to the copies. Raises ``_NotCopyable`` for anything else (a graph, an optimizer)."""
    if value is None or value is UNKNOWN or isinstance(value, (bool, int, float, complex, str, bytes)) \
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
