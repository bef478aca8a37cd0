"""An abstract interpreter for Python source: runs nothing, evaluates what is static.

It walks the libcst tree like an evaluator would, but over abstract values
(:mod:`nnlint.frontends.values`): literals are computed, ``nn.Linear(10, HIDDEN)`` becomes a
:class:`Layer` with its arguments resolved through constants, argparse defaults, dicts,
dataclass fields, function defaults and keyword arguments; a model's ``forward`` run on
symbolic tensors becomes a :class:`ModelGraph`. Whatever it cannot know is ``UNKNOWN``, and
work is bounded (steps, call depth, loop unrolling, wall time) so hostile input cannot hang it;
so are the values it folds (an integer's bits, a string's length, a container's items), judged
from the operands before anything is computed: 40 lines of ``x = x * x`` or ``s = s + s`` make
an unknown value, not a number of 2**40 bits.

The framework knowledge (which call is a layer, a loss, a data loader) lives in
:mod:`nnlint.frontends.torch_source`, which subclasses this evaluator.
"""

from __future__ import annotations

import math
import operator
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional

import libcst as cst

from nnlint.errors import TIMED_OUT, AnalysisLimit
from nnlint.frontends.exports import plain_imports
from nnlint.frontends.loop_repeats import Snapshot, variable_unread
from nnlint.frontends.names import dotted, import_bindings
from nnlint.frontends.project import FRAMEWORKS, ModuleInfo, Project
from nnlint.frontends.values import (
    UNKNOWN,
    Bound,
    ClassRef,
    Deferred,
    External,
    FunctionRef,
    Instance,
    Method,
    ModuleRef,
    Super,
    Tensor,
)
from nnlint.ir import ModelGraph, OpKind, Origin


#: In a branch path, the mark of a loop body (branches are numbered from 0).
LOOP = -1


class BudgetExceeded(Exception):
    """The file needs more work than a linter should spend on it; stop, keep what we have."""


class AnalysisTimeout(BudgetExceeded, AnalysisLimit):
    """The file's analysis ran past its wall-time budget: what was found so far may hang on
    work left half done, so the file gets one ``NN904`` line instead of findings."""


#: The largest values folded: above these a result is UNKNOWN, judged before it is computed.
MAX_INT_BITS = 4096  # 10**1233: no layer size, step count or seed comes near it
MAX_STR = 100_000  # characters of a folded string
MAX_ITEMS = 100_000  # items of a folded list, tuple or dict
#: The parts (container items, string characters, integer digits) of a nested value that a
#: walk over it (comparing, printing, hashing) may visit; shared sublists count each time.
MAX_WEIGHT = 1_000_000
MAX_NESTING = 100  # levels of a nested value (Python's own repr and == recurse through them)


class _Return(Exception):
    pass


class _LoopExit(Exception):
    pass


_BINOPS = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
}
_TENSOR_BINOPS = {
    cst.Add: OpKind.ADD,
    cst.Subtract: OpKind.SUB,
    cst.Multiply: OpKind.MUL,
    cst.Divide: OpKind.DIV,
    cst.MatrixMultiply: OpKind.MATMUL,
}
_AUG = {
    cst.AddAssign: cst.Add,
    cst.SubtractAssign: cst.Subtract,
    cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide,
    cst.FloorDivideAssign: cst.FloorDivide,
}
_COMPARE = {
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
}
_LITERAL_TYPES = (int, float, str, bool, type(None))


_CONTAINERS = (list, tuple, dict)


def is_key(value: Any) -> bool:
    """A static value usable as a dict key (small enough to hash cheaply)."""
    if isinstance(value, _LITERAL_TYPES) or isinstance(value, Tensor):  # a tensor: TF1's feed_dict={x: ...}
        return True
    return isinstance(value, tuple) and _walkable(value, (*_LITERAL_TYPES, Tensor), (tuple,))


def is_static(value: Any) -> bool:
    """A literal, or a container of literals, small enough (MAX_WEIGHT) to compare, sort or
    print: ``x = [x, x]`` forty times is a list of two items that prints as 2**40."""
    return isinstance(value, _LITERAL_TYPES) or _walkable(value, _LITERAL_TYPES, _CONTAINERS)


def _walkable(value: Any, leaves: Any, containers: tuple) -> bool:
    """Whether ``value`` is built of ``containers`` over ``leaves`` (types) within MAX_WEIGHT
    parts and MAX_NESTING levels: each item counts one, a string its length, an integer its
    digits; a shared or cyclic sublist counts each time it is reached (as a walk over it would).
    A dict's items are walked as (key, value) pairs."""
    budget = MAX_WEIGHT
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if isinstance(item, containers):
            budget -= len(item)
            if budget < 0 or depth >= MAX_NESTING:
                return False
            depth += 1
            stack.extend((part, depth) for part in (item.items() if isinstance(item, dict) else item))
        elif not isinstance(item, leaves):
            return False
        elif isinstance(item, str):
            budget -= len(item)
        elif isinstance(item, int):
            budget -= item.bit_length() >> 2
        if budget < 0:
            return False
    return True


def result_bits(op: Any, left: int, right: int) -> int:
    """An upper bound on the bits of ``left op right`` for integers, without computing it."""
    bits = max(left.bit_length(), abs(right).bit_length())
    if op is cst.Multiply:
        return left.bit_length() + right.bit_length()
    if op is cst.Power:
        return left.bit_length() * right if right > 0 else 1
    return bits + 1  # +, -, //, %: no longer than the longer operand, and a carry


def _limit(value: Any) -> int:
    return MAX_STR if isinstance(value, str) else MAX_ITEMS


def grow(items: list, more: Any) -> None:
    """``items.extend(more)`` in place, unless that passes MAX_ITEMS: then the list only ends
    in UNKNOWN (what it holds from there on is not known)."""
    if len(items) + len(more) <= MAX_ITEMS:
        items.extend(more)
    elif not items or items[-1] is not UNKNOWN:
        items.append(UNKNOWN)


def bounded(value: Any) -> Any:
    """``value`` if it is within the folding budgets (a result computed from small operands
    that may still have grown: ``str(x)``, ``int("9" * 4000)``), else UNKNOWN."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return UNKNOWN
    if isinstance(value, (str, bytes)) and len(value) > MAX_STR:
        return UNKNOWN
    return value


def _written_length(node: cst.BaseExpression) -> int:
    """The characters a string literal takes in the source (adjacent ones summed)."""
    if isinstance(node, cst.ConcatenatedString):
        return _written_length(node.left) + _written_length(node.right)
    return len(node.value) if isinstance(node, cst.SimpleString) else 0


class Frame:
    """Local bindings of one function (or module) execution."""

    __slots__ = ("module", "locals", "graph", "self_obj", "in_graph", "returns", "is_module", "name", "owner",
                 "conditions", "enclosing")

    def __init__(
        self,
        module: ModuleInfo,
        graph: ModelGraph,
        local_vars: Optional[dict] = None,
        self_obj: Any = None,
        in_graph: bool = False,
        is_module: bool = False,
        name: str = "",
    ) -> None:
        self.module = module
        self.locals = module.globals if is_module else (local_vars if local_vars is not None else {})
        self.graph = graph
        self.self_obj = self_obj
        self.in_graph = in_graph  # building a model's forward graph
        self.returns: list[Any] = []
        self.is_module = is_module
        self.name = name
        self.owner: Optional[ClassRef] = None  # the class whose method runs in this frame (for super())
        #: the tests of the branches running now in this frame, each with the side taken (True: the body)
        self.conditions: list[tuple[cst.BaseExpression, bool]] = []
        #: the enclosing functions' local scopes, innermost first, for a nested function's free names
        self.enclosing: tuple[dict, ...] = ()


class Interpreter:
    MAX_STEPS = 400_000
    MAX_DEPTH = 12
    MAX_UNROLL = 256
    MAX_SECONDS = 10.0  # wall time per file, checked every CLOCK_EVERY steps (past it: NN904)
    CLOCK_EVERY = 1024
    REPEATS_AFTER = 8  # a loop of more items may stop once it repeats itself (loop_repeats)
    MAX_CODE_INLINES = 6  # per function, from training code (not from a forward)

    def __init__(self, project: Project, entry: ModuleInfo) -> None:
        self.project = project
        self.entry = entry
        self.steps = 0
        self.deadline = time.monotonic() + self.MAX_SECONDS
        self.stack: list[cst.CSTNode] = []
        self.inlined: dict[cst.FunctionDef, int] = {}
        self.uncertain = 0  # > 0 while running a branch whose condition is unknown
        self.loops = 0  # > 0 while running a loop body (in this function or a caller)
        self.branch_path: list[tuple[int, int]] = []  # (if, branch taken) or (loop, LOOP) of the code being run
        self._unread: dict[cst.For, bool] = {}  # loops whose variable the body does not read
        #: id(module) -> (how many project star imports it had, the modules they import), found on first use
        self._star_modules: dict[int, tuple[int, list[ModuleInfo]]] = {}
        #: while a submodule build is recorded (nnlint.frontends.module_reuse): what it reads from
        #: outside itself, and the calls it makes as (function, stack depth, limit met)
        self.reads: Any = None
        self.call_log: Optional[list[tuple[cst.FunctionDef, int, bool]]] = None
        self.loads = 0  # top-level statements and modules run so far (work done once, then found done)

    # ------------------------------------------------------------------ modules and names

    def module_globals(self, info: ModuleInfo) -> dict:
        """A module's globals, its top level run (once). Of a module read statement by
        statement, every statement not run yet runs now, in order (a star import reads them
        all), and the globals are put in the order running the whole top level gives them."""
        statements = info.source.statements
        if statements is not None:
            self.start_module(info)
            # while its top level runs (an import cycle), only the statements above the one running
            for i in range(statements.running[-1] if statements.running else len(statements.statements)):
                self.run_statement(info, i)
            order = sorted(info.globals, key=lambda k: -1 if k == "__name__" else statements.binder.get(k, len(statements.binder)))
            ordered = {k: info.globals[k] for k in order}
            info.globals.clear()
            info.globals.update(ordered)
        elif not info.executed:
            frame = Frame(info, self.start_module(info), is_module=True, name="<module>")
            self.loads += 1
            try:
                self.exec_block(info.source.module.body, frame)
            except (_Return, _LoopExit):
                pass  # a module-level raise (or a stray break) ends the module, as it would on import
        return info.globals

    def start_module(self, info: ModuleInfo) -> ModelGraph:
        """Begin running a module's top level (once): its ``__name__`` and the graph of its
        top-level tensor code."""
        if not info.executed:
            info.executed = True
            name = "__main__" if info is self.entry else info.source.abspath.stem
            info.globals["__name__"] = name
            info.graph = ModelGraph(name=f"<module {info.path}>", path=info.path)
        return info.graph

    def module_global(self, info: ModuleInfo, name: str) -> Any:
        """A module's global ``name`` as bound (a Deferred import not forced): the module run,
        or of a module read statement by statement, the statement that binds it."""
        if info.source.statements is None:
            return self.module_globals(info).get(name)
        self.start_module(info)
        self.run_binder(info, name)
        return info.globals.get(name)

    def run_binder(self, info: ModuleInfo, name: str) -> None:
        """Of a module read statement by statement (:mod:`nnlint.statements`), run the
        statement that binds ``name`` if it has not run. While the module's top level is
        running (a statement of it, or a function it calls, reads its globals), only a
        statement above the one running may: running the whole module, the others would not
        have run yet."""
        statements = info.source.statements
        index = statements.binder.get(name) if statements is not None else None
        if index is None or statements.statements[index].ran \
                or (statements.running and index >= statements.running[-1]):
            return
        self.run_statement(info, index)

    def run_statement(self, info: ModuleInfo, index: int) -> None:
        """Run one top-level statement of a module read statement by statement, once."""
        statements = info.source.statements
        stmt = statements.statements[index]
        if stmt.ran:
            return
        stmt.ran = True
        self.loads += 1
        graph = self.start_module(info)
        try:
            body = statements.parsed(index)
        except (cst.ParserSyntaxError, RecursionError):
            return  # valid Python libcst cannot read: it binds nothing nnlint can know
        statements.running.append(index)
        try:
            self.exec_block(body, Frame(info, graph, is_module=True, name="<module>"))
        except (_Return, _LoopExit):
            pass
        finally:
            statements.running.pop()

    def bind_import(self, stmt: cst.Import | cst.ImportFrom, frame: Frame) -> None:
        for local, qualname, level in import_bindings(stmt):
            if local == "*":
                # a framework-named package re-exporting its API (the framework's own source, as
                # keras' repository has it) is read as the framework, not executed
                framework = not level and qualname.split(".")[0] in FRAMEWORKS
                found = None if framework else self.project.locate_module(frame.module, qualname, level)
                if found is not None:
                    if found != frame.module.source.abspath and (qualname, level) not in frame.module.project_stars:
                        frame.module.project_stars.append((qualname, level))  # read when a name is looked up there
                else:
                    frame.module.star_modules.append(qualname)
                continue
            # resolved when the name is first read (force): a module nothing reads is never parsed
            frame.locals[local] = Deferred(frame.module, qualname, level, isinstance(stmt, cst.Import))

    def force(self, value: Any) -> Any:
        """The value an import binding stands for, resolved now if it was not yet; any other
        value is itself."""
        if not isinstance(value, Deferred):
            return value
        if not value.resolved:
            value.value = self.import_value(value.importer, value.qualname, value.level, value.plain)
            value.resolved = True
        return value.value

    def import_value(self, importer: ModuleInfo, qualname: str, level: int, plain: bool) -> Any:
        """A project module, a name defined in one, or an external qualified name."""
        framework = qualname if not level and qualname.split(".")[0] in FRAMEWORKS else None
        if plain and not level:
            found = self.project.find_module(importer, qualname, 0)  # ``import a.b as x`` binds a.b
            if found is not None:
                return ModuleRef(found, framework)
            head, *rest = qualname.split(".")
            found = self.project.find_module(importer, head, 0) if rest else None
            if found is None:
                return External(qualname)
            value: Any = ModuleRef(found, head if framework else None)  # what the local module defines
            for part in rest:
                value = self.module_attr(value, part) if isinstance(value, ModuleRef) else UNKNOWN
            return value
        module_name, _, attr = qualname.rpartition(".")
        located = self.project.locate_module(importer, module_name, level) if (module_name or level) else None
        if located is not None and located.name != "__init__.py":
            # ``from LeNet import LeNet`` beside LeNet.py: a module file has no submodules, so the
            # name is its attribute (whatever folder of the same name lies further up the path)
            owner = self.project.module_at(located)
            if owner is not None:
                return self.module_attr(ModuleRef(owner, module_name if framework else None), attr)
        owner = self.project.find_module(importer, module_name, level) if (module_name or level) else None
        if owner is not None and owner.source.abspath.name == "__init__.py" and self.binds(owner, attr):
            # Python reads the package's attribute first: ``from utils import train`` is the
            # function its ``__init__`` imports from ``utils/train.py``, not that submodule
            return self.module_attr(ModuleRef(owner, module_name if framework else None), attr)
        found = self.project.find_module(importer, qualname, level)  # a submodule
        if found is not None:
            return ModuleRef(found, framework)
        if owner is not None:
            return self.module_attr(ModuleRef(owner, module_name if framework else None), attr)
        return UNKNOWN if level else External(qualname)

    def binds(self, info: ModuleInfo, name: str) -> bool:
        """Whether a module's top level binds ``name`` (of one read statement by statement, by
        its index alone; of another, by a plain import of it or by running it)."""
        statements = info.source.statements
        if statements is not None:
            return name in statements.binder
        if info.plain_imports is None and not info.executed:
            info.plain_imports = plain_imports(info.source.module, info.source.text)
        return (not info.executed and name in (info.plain_imports or {})) or name in self.module_globals(info)

    def module_attr(self, ref: ModuleRef, name: str) -> Any:
        """``module.name`` (:meth:`read_module_attr`), recorded while a submodule build is."""
        value = self.read_module_attr(ref, name)
        if self.reads is not None:
            self.reads.add(("attr", ref.info, ref.framework, name, value))
        return value

    def read_module_attr(self, ref: ModuleRef, name: str) -> Any:
        """``module.name`` for a project module: a global it defines, or its submodule. A module
        named like a framework that defines neither (and binds no name by a star import of a
        module nnlint cannot see, or a module ``__getattr__``) is not what the code means: Python
        would fail with it, or it re-exports the framework's own API, so the name is the
        framework's."""
        found = self.imported_through(ref.info, name)
        if found is None:
            found = self.force(self.module_global(ref.info, name))
        if found is None and not name.startswith("_"):
            star = self.star_global(ref.info, name)
            found = None if star is _UNBOUND else self.force(star)
        if found is not None:
            return found
        sub = self.project.find_module(ref.info, name, 1) if ref.info.source.abspath.name == "__init__.py" else None
        if sub is not None:
            return ModuleRef(sub, f"{ref.framework}.{name}" if ref.framework else None)
        unknown_stars = [m for m in ref.info.star_modules if m.split(".")[0] not in FRAMEWORKS]
        if ref.framework and name not in ref.info.globals and not unknown_stars \
                and self.module_global(ref.info, "__getattr__") is None and "__getattr__" not in ref.info.globals:
            return External(f"{ref.framework}.{name}")
        return UNKNOWN

    def imported_through(self, info: ModuleInfo, name: str) -> Any:
        """``name`` read from a module not run yet, which binds it once, by a plain
        ``from x import name`` at its top level, and never ends early (a top-level ``raise``):
        running the module would bind the name to that import and nothing else, so the import
        alone is resolved. ``from .models import create_model`` in a package ``__init__`` then
        reads ``models/__init__.py`` and the module that defines ``create_model``, not the
        hundred modules the package also imports. None when the module must be run."""
        if info.executed or info.source.statements is not None:
            return None  # a module read statement by statement runs that import alone anyway
        if info.plain_imports is None:
            info.plain_imports = plain_imports(info.source.module, info.source.text)
        binding = info.plain_imports.get(name)
        if binding is None:
            return None
        if not isinstance(binding, Deferred):  # resolved once, as the module's own binding would be
            binding = info.plain_imports[name] = Deferred(info, *binding, plain=False)
        return self.force(binding)

    def lookup(self, name: str, frame: Frame) -> Any:
        if name in frame.locals:
            return self.force(frame.locals[name])
        for scope in frame.enclosing:  # a function defined inside another reads that one's names
            if name in scope:
                value = self.force(scope[name])
                if self.reads is not None:
                    self.reads.add(("scope", scope, name, value))
                return value
        value = self.global_value(name, frame.module, frame.is_module)
        if self.reads is not None:
            self.reads.add(("global", frame.module, name, frame.is_module, value))
        return value

    def global_value(self, name: str, module: ModuleInfo, is_module: bool = False) -> Any:
        """What ``name`` reads in ``module`` where no local scope binds it: a global (of a module
        read statement by statement, once the statement binding it has run), a builtin, or a
        name a star import binds. From the module's own top level (``is_module``), its globals
        are the frame's locals, looked up already."""
        glob = module.globals
        if not is_module and name in glob:
            return self.force(glob[name])
        if module.source.statements is not None:
            self.run_binder(module, name)
            if name in glob:
                return self.force(glob[name])
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        if name not in _BUILTINS and not name.startswith("_"):
            found = self.star_global(module, name)
            if found is not _UNBOUND:
                return self.force(found)
        for star in module.star_modules:
            if self.star_provides(star, name):
                return External(f"{star}.{name}")
        return External(f"builtins.{name}") if name in _BUILTINS else UNKNOWN

    def star_global(self, info: ModuleInfo, name: str, seen: Optional[set] = None) -> Any:
        """``name`` as a ``from <project module> import *`` of ``info`` binds it (``_UNBOUND``:
        it does not). The star-imported module is run when a name is first looked up in it, not at
        the import: a hub or package ``__init__`` that star-imports every model module (``from
        .models import *``) costs nothing until the code reads a name that only those modules
        bind. A builtin's name is not looked up there (a module that rebinds ``len`` or ``print``
        for its star importers is not followed)."""
        seen = set() if seen is None else seen
        count, modules = self._star_modules.get(id(info), (-1, []))
        if count != len(info.project_stars):  # found once per star import
            modules = [found for found in (self.project.find_module(info, q, lvl) for q, lvl in info.project_stars)
                       if found is not None]
            self._star_modules[id(info)] = (len(info.project_stars), modules)
        for found in modules:
            if id(found) in seen:
                continue
            seen.add(id(found))
            names = self.module_globals(found)
            value = names[name] if name in names else self.star_global(found, name, seen)
            if value is not _UNBOUND:
                return value
        return _UNBOUND

    def star_provides(self, module: str, name: str) -> bool:
        """Whether ``from module import *`` plausibly binds ``name`` (for known APIs)."""
        return False

    # ------------------------------------------------------------------ statements

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.MAX_STEPS:
            raise BudgetExceeded
        if not self.steps % self.CLOCK_EVERY and time.monotonic() > self.deadline:
            raise AnalysisTimeout(f"{TIMED_OUT} ({self.MAX_SECONDS:g} s); "
                                  "the file was not analysed")

    def exec_block(self, body: Iterable[cst.CSTNode], frame: Frame) -> None:
        for stmt in body:
            self.exec_stmt(stmt, frame)

    def exec_stmt(self, stmt: cst.CSTNode, frame: Frame) -> None:
        self.tick()
        kind = type(stmt)  # (exact classes: a negative isinstance on libcst's ABCs costs a Python call)
        if kind is cst.SimpleStatementLine:
            for small in stmt.body:
                self.exec_small(small, frame)
        elif kind is cst.FunctionDef:
            closure = () if frame.is_module else (frame.locals, *frame.enclosing)
            frame.locals[stmt.name.value] = FunctionRef(stmt, frame.module, closure=closure)
        elif kind is cst.ClassDef:
            frame.locals[stmt.name.value] = self.define_class(stmt, frame)
        elif kind is cst.If:
            self.exec_if(stmt, frame)
        elif kind in (cst.For, cst.While):
            self.loops += 1
            self.branch_path.append((id(stmt), LOOP))
            try:
                if kind is cst.For:
                    self.exec_for(stmt, frame)
                else:
                    self.exec_unknown_loop(stmt.body.body, frame, None)
            finally:
                self.loops -= 1
                self.branch_path.pop()
        elif kind is cst.With:
            contexts = []
            for item in stmt.items:
                value = self.eval(item.item, frame)
                contexts.append(value)
                if item.asname is not None:
                    self.assign(item.asname.name, UNKNOWN, frame)  # what __enter__ returns is not followed
            self.exec_with(contexts, stmt.body.body, frame)
        elif kind in (cst.Try, cst.TryStar):
            self.exec_block(stmt.body.body, frame)
            if stmt.orelse is not None:
                self.exec_block(stmt.orelse.body.body, frame)
            if stmt.finalbody is not None:
                self.exec_block(stmt.finalbody.body.body, frame)

    def exec_with(self, contexts: list, body: Iterable[cst.CSTNode], frame: Frame) -> None:
        """Hook: run a ``with`` body (frontends track contexts such as ``torch.no_grad()``)."""
        self.exec_block(body, frame)

    def exec_small(self, small: cst.CSTNode, frame: Frame) -> None:
        kind = type(small)  # (exact classes, as in exec_stmt)
        if kind is cst.Assign:
            value = self.eval(small.value, frame)
            for target in small.targets:
                self.assign(target.target, value, frame)
        elif kind is cst.AnnAssign:
            if small.value is not None:
                self.assign(small.target, self.eval(small.value, frame), frame)
        elif kind is cst.AugAssign:
            op = _AUG.get(type(small.operator))
            current = self.eval(small.target, frame)
            value = self.eval(small.value, frame)
            if isinstance(current, list) and isinstance(small.operator, cst.AddAssign):
                if isinstance(value, (list, tuple)):
                    grow(current, value)  # in place, like list.__iadd__
                else:
                    self.assign(small.target, UNKNOWN, frame)
                return
            result = self.binary(op, current, value, small, frame) if op else UNKNOWN
            self.assign(small.target, result, frame)
        elif kind is cst.Expr:
            self.eval(small.value, frame)
        elif kind is cst.Return:
            frame.returns.append(self.eval(small.value, frame) if small.value is not None else None)
            raise _Return
        elif kind in (cst.Import, cst.ImportFrom):
            self.bind_import(small, frame)
        elif kind in (cst.Break, cst.Continue):
            raise _LoopExit
        elif kind is cst.Raise:
            raise _Return

    def assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            self.on_bind(target.value, value, frame)
            frame.locals[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            values = self.unpack(value, len(elements), frame) or [UNKNOWN] * len(elements)
            for element, item in zip(elements, values):
                self.assign(element.value, UNKNOWN if isinstance(element, cst.StarredElement) else item, frame)
        elif isinstance(target, cst.Attribute):
            owner = self.eval(target.value, frame)
            if isinstance(owner, (Instance, ClassRef)):
                self.on_bind(target.attr.value, value, frame, owner=owner)
                owner.attrs[target.attr.value] = value
                if isinstance(owner, ClassRef) and self.reads is not None:
                    self.reads.impure += 1  # a class attribute changed: a copy would not change it
        elif isinstance(target, cst.Subscript):
            owner = self.eval(target.value, frame)
            key = self.subscript_key(target, frame)
            if isinstance(owner, dict):
                if is_key(key):
                    owner[key] = value
                else:
                    owner.clear()  # a key we cannot know: nothing in the dict is certain now
                    owner[_POISON] = True
            elif isinstance(owner, list) and isinstance(key, int) and -len(owner) <= key < len(owner):
                owner[key] = value

    def unpack(self, value: Any, count: int, frame: Frame) -> Optional[list]:
        """The ``count`` values ``a, b = value`` binds, or None when they are not known."""
        if isinstance(value, (tuple, list)) and len(value) == count:
            return list(value)
        return None

    def on_bind(self, name: str, value: Any, frame: Frame, owner: Any = None) -> None:
        """Hook: a name or attribute is bound (frontends label layers and models here)."""

    def exec_if(self, stmt: cst.If, frame: Frame) -> None:
        test = truth(self.eval(stmt.test, frame))
        orelse = stmt.orelse
        else_body = orelse.body.body if isinstance(orelse, cst.Else) else ([orelse] if orelse is not None else [])
        if test is True:
            self.skipped(else_body, frame)
            with _branch(frame, stmt.test, True):
                self.exec_block(stmt.body.body, frame)
        elif test is False:
            self.skipped(stmt.body.body, frame)
            with _branch(frame, stmt.test, False):
                self.exec_block(else_body, frame)
        else:
            self.exec_branches([stmt.body.body, else_body], frame, stmt.test)

    def skipped(self, nodes: Iterable[cst.CSTNode], frame: Frame) -> None:
        """Hook: code that a statically known condition rules out in this run (the branch a
        function's arguments switch off); it is not run."""

    def open_branches(self) -> tuple:
        """The branches of unknown condition the code being run is in (loops aside)."""
        return tuple(entry for entry in self.branch_path if entry[1] != LOOP)

    def exec_branches(self, bodies: list[Iterable[cst.CSTNode]], frame: Frame,
                      test: Optional[cst.BaseExpression] = None) -> None:
        """Run each branch from the same state; names that end up different become unknown.

        With ``test``, the bodies are an ``if``'s body and else branch, run under that test's sides."""
        before = dict(frame.locals)
        results, returned_all = [], True
        self.uncertain += 1
        try:
            for i, body in enumerate(bodies):
                frame.locals.clear()
                frame.locals.update(before)
                self.branch_path.append((id(bodies[0]), i))  # the if-body's node sequence: one per statement
                try:
                    with _branch(frame, test if i < 2 else None, i == 0):
                        self.exec_block(body, frame)
                    returned_all = False
                    results.append(dict(frame.locals))
                except _Return:
                    pass
                except _LoopExit:
                    returned_all = False
                    results.append(dict(frame.locals))
                finally:
                    self.branch_path.pop()
        finally:
            self.uncertain -= 1
        frame.locals.clear()
        frame.locals.update(before)
        if not results:
            if returned_all:
                raise _Return
            return
        # the names some branch bound anew or deleted, in the order the branches bound them (a
        # module's names are analysed in the order bound: never in a set's, which changes with
        # each process's string hashes); the others keep ``before``'s value
        changed: dict[str, None] = {}
        for r in results:
            changed.update((k, None) for k, v in r.items() if before.get(k, _ABSENT) is not v)
            if not before.keys() <= r.keys():
                changed.update((k, None) for k in before if k not in r)
        for name in changed:
            values = [r.get(name, UNKNOWN) for r in results]
            if not all(v is values[0] for v in values):
                values = [self.force(v) for v in values]  # two imports may bind the same thing
            if all(v is values[0] for v in values):
                frame.locals[name] = values[0]
            else:
                frame.locals[name] = self.merge(values, frame)

    def merge(self, values: list[Any], frame: Frame) -> Any:
        values = [self.force(v) for v in values]
        tensors = [v for v in values if isinstance(v, Tensor) and v.graph is frame.graph]
        if len(tensors) == len(values):
            op = frame.graph.add(OpKind.UNKNOWN, "<merge>", [t.op for t in tensors], attrs={"weightless": True})
            return Tensor(frame.graph, op.id)
        if all(isinstance(v, list) and _walkable(v, object, _CONTAINERS) for v in values) \
                and all(v == values[0] for v in values):
            return values[0]
        return UNKNOWN

    def exec_for(self, stmt: cst.For, frame: Frame) -> None:
        value = self.eval(stmt.iter, frame)
        items = self.iterate(value)
        if items is None:
            item = self.loop_item(value, stmt, frame)
            self.loop_over(value, lambda: self.exec_unknown_loop(stmt.body.body, frame, stmt.target, item), stmt.iter)
            return
        # a long loop outside model code whose variable the body does not read may start
        # repeating itself: then one more run for any item stands for the rest (loop_repeats)
        watch = len(items) > self.REPEATS_AFTER and not frame.in_graph and frame.self_obj is None \
            and self._variable_unread(stmt)
        last = None
        for item in items:
            self.assign(stmt.target, item, frame)
            try:
                self.run_iteration(item, stmt.body.body, frame)
            except _LoopExit:
                break  # a static break, or a continue we treat conservatively as the end
            if watch:
                now = Snapshot(frame.locals)
                if last is not None and last.repeated_by(now):
                    self.exec_unknown_loop(stmt.body.body, frame, stmt.target)
                    break
                last = now

    def _variable_unread(self, stmt: cst.For) -> bool:
        known = self._unread.get(stmt)
        if known is None:
            known = self._unread[stmt] = variable_unread(stmt)
        return known

    def run_iteration(self, item: Any, body: Iterable[cst.CSTNode], frame: Frame) -> None:
        """Hook: run one unrolled iteration over a known ``item`` (frontends watch phase names)."""
        self.exec_block(body, frame)

    def loop_over(self, value: Any, run: Any, source: Optional[cst.BaseExpression] = None) -> None:
        """Hook: run a loop over a value nnlint cannot unroll (frontends watch data loaders);
        ``source`` is the loop's iterable as written."""
        run()

    def loop_item(self, value: Any, stmt: cst.For, frame: Frame) -> Any:
        """What the variable of a loop over ``value`` (not unrolled) stands for: unknown here;
        frontends know some (every parameter of a module, a tensor's rows)."""
        return UNKNOWN

    def exec_unknown_loop(self, body: Iterable[cst.CSTNode], frame: Frame, target: Optional[cst.BaseExpression],
                          item: Any = UNKNOWN) -> None:
        """Run the body once with the loop variable standing for any item, then merge with the state before."""
        before = dict(frame.locals)
        if target is not None:
            self.assign(target, item, frame)
        try:
            self.exec_block(body, frame)
        except _LoopExit:
            pass
        after = dict(frame.locals)
        for name, value in after.items():
            if before.get(name, UNKNOWN) is not value:
                old = before.get(name, UNKNOWN)
                frame.locals[name] = self.merge([old, value], frame) if name in before else value

    def iterate(self, value: Any) -> Optional[list]:
        """The items of a statically known iterable, or None."""
        if isinstance(value, (list, tuple)) and len(value) <= self.MAX_UNROLL:
            return list(value)
        if isinstance(value, dict) and _POISON not in value and len(value) <= self.MAX_UNROLL:
            return list(value)
        return None

    # ------------------------------------------------------------------ expressions

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        self.tick()
        method = _EVAL.get(type(node))
        if method is None:
            return UNKNOWN
        return method(self, node, frame)

    def eval_name(self, node: cst.Name, frame: Frame) -> Any:
        return self.lookup(node.value, frame)

    def eval_attribute(self, node: cst.Attribute, frame: Frame) -> Any:
        return self.get_attr(self.eval(node.value, frame), node.attr.value, node, frame)

    def get_attr(self, obj: Any, name: str, node: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(obj, External):
            return External(f"{obj.qualname}.{name}")
        if isinstance(obj, ModuleRef):
            return self.module_attr(obj, name)
        if isinstance(obj, Instance):
            if name in obj.attrs:
                return obj.attrs[name]
            found = obj.cls.lookup(name)
            return Bound(obj, name) if isinstance(found, FunctionRef) else found
        if isinstance(obj, ClassRef):
            return obj.lookup(name)
        if isinstance(obj, Super):  # the first base that defines it, bound to the same object
            for base in obj.cls.bases:
                found = base.lookup(name) if isinstance(base, ClassRef) else UNKNOWN
                if isinstance(found, FunctionRef):
                    return Method(found, obj.obj)
            return self.external_super(obj, name)
        if isinstance(obj, (list, dict, Tensor)) or (isinstance(obj, str) and name in _STR_METHODS):
            return Bound(obj, name)
        return UNKNOWN

    def external_super(self, obj: Super, name: str) -> Any:
        """Hook: ``super().name`` resolved in a base class outside the project (a framework's)."""
        return UNKNOWN

    def eval_literal(self, node: cst.BaseExpression, frame: Frame) -> Any:
        value = literal_value(node)
        if value is not UNKNOWN or _written_length(node) > MAX_STR:
            return value
        try:
            value = node.evaluated_value  # type: ignore[attr-defined]  # ast.literal_eval: slow, rare
        except Exception:
            return UNKNOWN
        return bounded(value)

    def eval_sequence(self, node: cst.List | cst.Tuple | cst.Set, frame: Frame) -> Any:
        out: list = []
        for element in node.elements:
            value = self.eval(element.value, frame)
            if isinstance(element, cst.StarredElement):
                items = self.iterate(value)
                if items is None:
                    return UNKNOWN
                out.extend(items)
            else:
                out.append(value)
        if len(out) > MAX_ITEMS:
            return UNKNOWN
        return tuple(out) if isinstance(node, cst.Tuple) else out

    def eval_dict(self, node: cst.Dict, frame: Frame) -> Any:
        out: dict = {}
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                value = self.eval(element.value, frame)
                if not isinstance(value, dict):
                    return UNKNOWN
                out.update(value)
                continue
            key = self.eval(element.key, frame)
            value = self.eval(element.value, frame)
            if not is_key(key):
                return UNKNOWN
            out[key] = value
        return out if len(out) <= MAX_ITEMS else UNKNOWN

    def eval_subscript(self, node: cst.Subscript, frame: Frame) -> Any:
        owner = self.eval(node.value, frame)
        key = self.subscript_key(node, frame)
        return self.index(owner, key, node, frame)

    def subscript_key(self, node: cst.Subscript, frame: Frame) -> Any:
        if len(node.slice) != 1:
            return UNKNOWN
        inner = node.slice[0].slice
        if isinstance(inner, cst.Index):
            return self.eval(inner.value, frame)
        bounds = [self.eval(b, frame) if b is not None else None for b in (inner.lower, inner.upper, inner.step)]
        if all(b is None or isinstance(b, int) for b in bounds):
            return slice(*bounds)
        return UNKNOWN

    def index(self, owner: Any, key: Any, node: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(owner, dict) and _POISON not in owner and is_key(key):
            return owner.get(key, UNKNOWN)
        if isinstance(owner, (list, tuple)) and isinstance(key, (int, slice)) and not isinstance(key, bool):
            try:
                return owner[key]
            except IndexError:
                return UNKNOWN
        if isinstance(owner, str) and isinstance(key, (int, slice)):
            return owner[key] if not isinstance(key, int) or -len(owner) <= key < len(owner) else UNKNOWN
        return UNKNOWN

    def eval_binary(self, node: cst.BinaryOperation, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.binary(type(node.operator), left, right, node, frame)

    def binary(self, op: Any, left: Any, right: Any, node: cst.CSTNode, frame: Frame) -> Any:
        fn = _BINOPS.get(op)
        if fn is not None and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if op is cst.Power and (abs(right) > 64 or abs(left) > 1e6):
                return UNKNOWN
            if isinstance(left, int) and isinstance(right, int) and result_bits(op, left, right) > MAX_INT_BITS:
                return UNKNOWN
            try:
                return fn(left, right)
            except (ArithmeticError, ValueError):
                return UNKNOWN
        if op is cst.Add and isinstance(left, (list, tuple, str)) and type(left) is type(right):
            return left + right if len(left) + len(right) <= _limit(left) else UNKNOWN
        if op is cst.Multiply and isinstance(left, (list, tuple)) and isinstance(right, int) and 0 <= right <= 64:
            return left * right if len(left) * right <= MAX_ITEMS else UNKNOWN
        return UNKNOWN

    def eval_unary(self, node: cst.UnaryOperation, frame: Frame) -> Any:
        return self.unary(node.operator, self.eval(node.expression, frame), node, frame)

    def unary(self, operator: cst.BaseUnaryOp, value: Any, node: cst.CSTNode, frame: Frame) -> Any:
        """``-x``, ``+x``, ``not x`` on plain values (frontends extend it to tensors)."""
        if isinstance(operator, cst.Minus) and isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
        if isinstance(operator, cst.Plus) and isinstance(value, (int, float)):
            return value
        if isinstance(operator, cst.Not):
            t = truth(value)
            return UNKNOWN if t is None else not t
        return UNKNOWN

    def eval_boolean(self, node: cst.BooleanOperation, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        t = truth(left)
        if t is None:
            self.eval(node.right, frame)
            return UNKNOWN
        if isinstance(node.operator, cst.And):
            return self.eval(node.right, frame) if t else left
        return left if t else self.eval(node.right, frame)

    def compare(self, op: cst.BaseCompOp, left: Any, right: Any) -> Any:
        """Hook: frontends compare their own values (``type(m) == nn.Linear``)."""
        return compare(op, left, right)

    def eval_comparison(self, node: cst.Comparison, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        result: Any = True
        for target in node.comparisons:
            right = self.eval(target.comparator, frame)
            outcome = self.compare(target.operator, left, right)
            if outcome is UNKNOWN:
                result = UNKNOWN
            elif result is True and not outcome:
                result = False
            left = right
        return result

    def eval_ifexp(self, node: cst.IfExp, frame: Frame) -> Any:
        t = truth(self.eval(node.test, frame))
        if t is True:
            self.skipped([node.orelse], frame)
        if t is False:
            self.skipped([node.body], frame)
        if t is not False:
            with _branch(frame, node.test, True):
                body = self.eval(node.body, frame)
            if t is True:
                return body
        with _branch(frame, node.test, False):
            orelse = self.eval(node.orelse, frame)
        return orelse if t is False else self.merge([body, orelse], frame)

    def eval_comprehension(self, node: cst.ListComp | cst.GeneratorExp | cst.SetComp, frame: Frame) -> Any:
        scope = Frame(frame.module, frame.graph, dict(frame.locals), frame.self_obj, frame.in_graph)
        if frame.is_module:
            scope.locals = dict(frame.module.globals)
        out: list = []
        self.loops += 1  # the element is computed once per item, as in a loop body
        try:
            if not self.comprehend(node.for_in, node.elt, scope, out):
                return UNKNOWN
        finally:
            self.loops -= 1
        return out

    def comprehend(self, comp: cst.CompFor, elt: cst.BaseExpression, scope: Frame, out: list) -> bool:
        items = self.iterate(self.eval(comp.iter, scope))
        if items is None:
            return False
        for item in items:
            self.assign(comp.target, item, scope)
            if any(truth(self.eval(cond.test, scope)) is not True for cond in comp.ifs):
                if any(truth(self.eval(cond.test, scope)) is None for cond in comp.ifs):
                    return False
                continue
            if comp.inner_for_in is not None:
                if not self.comprehend(comp.inner_for_in, elt, scope, out):
                    return False
            else:
                out.append(self.eval(elt, scope))
                if len(out) > MAX_ITEMS:
                    return False
        return True

    def eval_call(self, node: cst.Call, frame: Frame) -> Any:
        func = self.eval(node.func, frame)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in node.args:
            value = self.eval(arg.value, frame)
            if arg.star == "*":
                items = self.iterate(value)
                if items is None:
                    args.append(UNKNOWN)
                    kwargs["*"] = UNKNOWN  # marks an unknown number of positional arguments
                else:
                    args.extend(items)
            elif arg.star == "**":
                if isinstance(value, dict) and _POISON not in value and all(isinstance(k, str) for k in value):
                    kwargs.update(value)
                else:
                    kwargs["**"] = UNKNOWN
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        return self.call(func, args, kwargs, node, frame)

    def call(self, func: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if isinstance(func, FunctionRef):
            return self.call_function(func, args, kwargs, frame)
        if isinstance(func, Method):
            return self.call_function(func.func, [func.obj, *args], kwargs, frame)
        if isinstance(func, External) and func.qualname == "builtins.super" and frame.owner is not None:
            return Super(frame.owner, frame.self_obj)
        if isinstance(func, Bound):
            return self.call_method(func.obj, func.name, args, kwargs, node, frame)
        if isinstance(func, External) and func.qualname in IMPORTERS:
            return self.import_by_call(func.qualname, args, kwargs, frame)
        if isinstance(func, External) and func.qualname.startswith("builtins."):
            return call_builtin(func.qualname[9:], args, kwargs, self)
        if isinstance(func, External) and func.qualname.startswith("math."):
            return call_math(func.qualname[5:], args)
        if isinstance(func, ClassRef):
            return self.instantiate(func, args, kwargs, node, frame)
        return UNKNOWN

    def import_by_call(self, importer: str, args: list, kwargs: dict, frame: Frame) -> Any:
        """``__import__("0-sequential")`` and ``importlib.import_module("pkg.mod")``: the import a
        module whose file name is no identifier needs (course exercises import ``0-main.py``'s
        subject so), read as the import statement it stands for. A name known only at run time,
        a relative one, or a level or package given, is unknown."""
        name = args[0] if args else kwargs.get("name")
        most = 1 if importer == "importlib.import_module" else 5  # (name, globals, locals, fromlist, level)
        if not isinstance(name, str) or len(args) + len(kwargs) > most \
                or not all(part and not _PATH_CHARS & set(part) for part in name.split(".")):
            return UNKNOWN  # also a path (``"../x"``): no module is named so, and none is looked for
        if importer == "builtins.__import__":
            if (args[4] if len(args) > 4 else kwargs.get("level", 0)) != 0:
                return UNKNOWN  # a relative import, from a package the call names
            fromlist = args[3] if len(args) > 3 else kwargs.get("fromlist")
            if not fromlist:  # ``__import__("a.b")`` returns package a, as ``import a.b`` binds it
                name = name.split(".")[0]
        return self.import_value(frame.module, name, 0, plain=True)

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if isinstance(obj, list):
            if name == "append" and len(args) == 1:
                grow(obj, args)
            elif name == "extend" and len(args) == 1:
                items = self.iterate(args[0])
                grow(obj, items if items is not None else [UNKNOWN])
            elif name == "insert" and len(args) == 2 and isinstance(args[0], int):
                if len(obj) < MAX_ITEMS:
                    obj.insert(args[0], args[1])
                else:
                    grow(obj, [UNKNOWN])
            elif name in ("pop", "remove", "clear", "sort", "reverse"):
                obj.append(UNKNOWN)  # we do not track removals: poison the list
            return None if name in ("append", "extend", "insert") else UNKNOWN
        if isinstance(obj, dict):
            if name == "get" and args and _POISON not in obj and is_key(args[0]):
                return obj.get(args[0], args[1] if len(args) > 1 else kwargs.get("default"))
            if name in ("items", "keys", "values") and _POISON not in obj:
                return list(getattr(obj, name)())
            if name == "update" and args and isinstance(args[0], dict) and len(obj) + len(args[0]) <= MAX_ITEMS:
                obj.update(args[0])
                obj.update({k: v for k, v in kwargs.items() if k not in ("*", "**")})
                return None
            if name in ("pop", "setdefault", "update", "clear"):
                obj[_POISON] = True
            return UNKNOWN
        if isinstance(obj, Instance):
            method = obj.cls.lookup(name)
            if isinstance(method, FunctionRef):
                return self.call_function(method, [obj, *args], kwargs, frame)
        if isinstance(obj, str) and name in _STR_METHODS and not kwargs and all(is_static(a) for a in args):
            if name == "replace" and len(args) >= 2 and isinstance(args[1], str) \
                    and len(obj) + (len(obj) + 1) * len(args[1]) > MAX_STR:
                return UNKNOWN  # "a".replace("", s) puts s between every two characters
            try:  # classname.find('Conv') != -1, name.startswith("fc"): pure functions of static values
                return getattr(obj, name)(*args)
            except (TypeError, ValueError):
                return UNKNOWN
        return UNKNOWN

    def call_function(self, func: FunctionRef, args: list, kwargs: dict, frame: Frame, graph: Optional[ModelGraph] = None) -> Any:
        """Inline a project function with its arguments bound; UNKNOWN past the limits."""
        node = func.node
        if node is None:
            return UNKNOWN  # a body libcst cannot read (nnlint.bodies)
        limited = node in self.stack or len(self.stack) >= self.MAX_DEPTH
        if self.call_log is not None:
            self.call_log.append((node, len(self.stack), limited))
        if limited:
            self.gave_up()
            return UNKNOWN
        in_graph = frame.in_graph or graph is not None
        if not in_graph:
            count = self.inlined.get(node, 0)
            if count >= self.MAX_CODE_INLINES:
                return UNKNOWN  # followed before: what it does is already known
            self.inlined[node] = count + 1
        callee = Frame(func.module, graph or frame.graph, {}, in_graph=in_graph, name=node.name.value)
        callee.enclosing = func.closure
        self.bind_params(node, args, kwargs, callee)
        if func.owner is not None and args:
            callee.self_obj = args[0]
            callee.owner = func.owner
        if func.module.source.statements is None:
            self.module_globals(func.module)  # (one read statement by statement runs what the function reads)
        return self.run_function(node, callee)

    def run_function(self, node: cst.FunctionDef, frame: Frame) -> Any:
        self.stack.append(node)
        try:
            self.exec_block(node.body.body if isinstance(node.body, cst.IndentedBlock) else node.body.body, frame)
        except (_Return, _LoopExit):
            pass
        finally:
            self.stack.pop()
        if not frame.returns:
            return None
        if len(frame.returns) == 1:
            return frame.returns[0]
        return self.merge(frame.returns, frame)

    def bind_params(self, node: cst.FunctionDef, args: list, kwargs: dict, frame: Frame, missing: Any = UNKNOWN) -> None:
        """Bind call arguments to parameters; defaults fill the rest, ``missing`` the others."""
        params = node.params
        positional = [*params.posonly_params, *params.params]
        unknown_count = "*" in kwargs
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(args) and not unknown_count:
                value = args[i]
            elif name in kwargs:
                value = kwargs[name]
            elif param.default is not None and not unknown_count and "**" not in kwargs:
                value = self.eval(param.default, Frame(frame.module, frame.graph, {}, name="<defaults>"))
            else:
                value = self.missing_param(name, frame) if missing is UNKNOWN else missing
            frame.locals[name] = value
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                frame.locals[name] = kwargs[name]
            elif param.default is not None and "**" not in kwargs:
                frame.locals[name] = self.eval(param.default, Frame(frame.module, frame.graph, {}))
            else:
                frame.locals[name] = UNKNOWN
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                frame.locals[star.name.value] = UNKNOWN

    def missing_param(self, name: str, frame: Frame) -> Any:
        """The value of a parameter nothing binds: unknown (frontends may make it a tensor)."""
        return UNKNOWN

    def gave_up(self) -> None:
        """Hook: a call was not followed (depth or inline limits): what it does is unknown."""

    # ------------------------------------------------------------------ classes

    def define_class(self, node: cst.ClassDef, frame: Frame) -> ClassRef:
        bases = [self.eval(arg.value, frame) for arg in node.bases if arg.keyword is None]
        cls = ClassRef(node, frame.module, bases)
        body = Frame(frame.module, frame.graph, {}, name=node.name.value)
        body.locals = cls.attrs
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                cls.attrs[stmt.name.value] = FunctionRef(stmt, frame.module, owner=cls)
            elif isinstance(stmt, cst.SimpleStatementLine):
                try:
                    self.exec_stmt(stmt, body)
                except (_Return, _LoopExit):
                    pass
        for deco in node.decorators:
            name = dotted(deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator) or ""
            if name.rsplit(".", 1)[-1] == "dataclass":
                cls.is_dataclass = True
        return cls

    def instantiate(self, cls: ClassRef, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        inst = Instance(cls)
        if cls.is_dataclass:
            fields = [
                s.body[0].target.value
                for s in cls.node.body.body
                if isinstance(s, cst.SimpleStatementLine)
                and isinstance(s.body[0], cst.AnnAssign)
                and isinstance(s.body[0].target, cst.Name)
            ]
            for name in fields:
                inst.attrs[name] = cls.lookup(name)
            if "**" in kwargs or "*" in kwargs:
                inst.attrs.update({name: UNKNOWN for name in fields})
            for name, value in zip(fields, args):
                inst.attrs[name] = value
            inst.attrs.update({k: v for k, v in kwargs.items() if k in fields})
            return inst
        init = cls.lookup("__init__")
        if isinstance(init, FunctionRef):
            self.call_function(init, [inst, *args], kwargs, Frame(frame.module, frame.graph, {}, in_graph=True))
        return inst


_POISON = object()  # a dict key marking a dict whose contents are no longer known
_UNBOUND = object()  # what a star import binds for a name it does not bind
_ABSENT = object()  # a name a scope does not hold

#: str methods evaluated on static strings (no side effects, no unbounded results).
_STR_METHODS = frozenset("find rfind startswith endswith lower upper strip lstrip rstrip replace split count".split())

_BUILTINS = frozenset(
    "range len int float str bool list tuple dict zip enumerate min max abs round isinstance getattr "
    "sorted reversed sum print super hasattr set type __import__".split()
)

#: What no module name holds (a path's separators): such a name is never looked up.
_PATH_CHARS = frozenset("/\\\0")

#: Calls that import a module named by a string.
IMPORTERS = frozenset({"builtins.__import__", "importlib.import_module"})


def literal_value(node: cst.BaseExpression) -> Any:
    """Numbers and plain strings without ``ast.literal_eval`` (which compiles: 0.25 ms each);
    a literal past the folding budgets (a 0x... of a million digits) is UNKNOWN."""
    try:
        if isinstance(node, cst.Integer):
            return bounded(int(node.value.replace("_", ""), 0))
        if isinstance(node, cst.Float):
            return float(node.value.replace("_", ""))
    except ValueError:
        return UNKNOWN
    if isinstance(node, cst.SimpleString):
        text = node.value
        prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))]
        body = text[len(prefix):]
        quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
        inner = body[len(quote): len(body) - len(quote)]
        if "b" not in prefix.lower() and ("\\" not in inner or "r" in prefix.lower()):
            return bounded(inner)
    return UNKNOWN


@contextmanager
def _branch(frame: Frame, test: Optional[cst.BaseExpression], side: bool) -> Iterator[None]:
    """Run a branch with its condition on the frame's stack (frontends ask what it implies)."""
    if test is None:
        yield
        return
    frame.conditions.append((test, side))
    try:
        yield
    finally:
        frame.conditions.pop()


def truth(value: Any) -> Optional[bool]:
    if value is UNKNOWN or isinstance(value, (Tensor, Bound)):
        return None
    if isinstance(value, dict) and _POISON in value:
        return None
    if isinstance(value, (list, tuple, dict, str, int, float, bool, type(None))):
        return bool(value)
    return True  # objects, layers, classes are truthy


def compare(op: cst.BaseCompOp, left: Any, right: Any) -> Any:
    if isinstance(op, (cst.Is, cst.IsNot)):
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if right is None or left is None:
            same = left is right
            return same if isinstance(op, cst.Is) else not same
        return UNKNOWN
    if isinstance(op, (cst.In, cst.NotIn)):
        if is_key(left) and isinstance(right, (list, tuple, str, dict)) and is_static(right):
            try:
                found = left in right
            except TypeError:
                return UNKNOWN
            return found if isinstance(op, cst.In) else not found
        return UNKNOWN
    fn = _COMPARE.get(type(op))
    if fn is not None and is_static(left) and is_static(right):
        try:
            return fn(left, right)
        except TypeError:
            return UNKNOWN
    return UNKNOWN


def call_builtin(name: str, args: list, kwargs: dict, interp: Interpreter) -> Any:
    if "*" in kwargs or "**" in kwargs:
        return UNKNOWN
    try:
        if name == "range" and args and all(isinstance(a, int) for a in args):
            r = range(*args)
            return list(r) if len(r) <= interp.MAX_UNROLL else UNKNOWN
        if name in ("list", "tuple") and len(args) == 1:
            items = interp.iterate(args[0])
            return UNKNOWN if items is None else (list(items) if name == "list" else tuple(items))
        if name in ("list", "tuple") and not args:
            return [] if name == "list" else ()
        if name == "dict":
            base = dict(args[0]) if args and isinstance(args[0], dict) else ({} if not args else None)
            return UNKNOWN if base is None else {**base, **kwargs}
        if name in ("zip", "enumerate", "reversed", "sorted"):
            seqs = [interp.iterate(a) for a in args]
            if any(s is None for s in seqs):
                return UNKNOWN
            if name == "zip":
                return [tuple(t) for t in zip(*seqs)]
            if name == "enumerate":
                start = kwargs.get("start", args[1] if len(args) > 1 else 0)
                return [(i + start, v) for i, v in enumerate(seqs[0])]
            if name == "reversed":
                return list(reversed(seqs[0]))
            return sorted(seqs[0]) if is_static(seqs[0]) else UNKNOWN
        if name == "len" and len(args) == 1 and isinstance(args[0], (list, tuple, str, dict)):
            return len(args[0]) if not (isinstance(args[0], dict) and _POISON in args[0]) else UNKNOWN
        if name in ("int", "float", "str", "bool", "abs", "round") and args and is_static(args[0]):
            if name == "round" and len(args) > 1 and not (isinstance(args[1], int) and abs(args[1]) <= 1000):
                return UNKNOWN  # round(n, -10**9) computes 10**(10**9)
            return bounded({"int": int, "float": float, "str": str, "bool": bool, "abs": abs, "round": round}[name](*args))
        if name in ("min", "max", "sum") and args:
            items = args if len(args) > 1 else interp.iterate(args[0])
            if items is not None and items and all(isinstance(i, (int, float)) for i in items):
                return bounded({"min": min, "max": max, "sum": sum}[name](items))
        if name == "getattr" and len(args) >= 2 and isinstance(args[1], str):
            value = interp.get_attr(args[0], args[1], None, None)  # type: ignore[arg-type]
            return args[2] if value is UNKNOWN and len(args) > 2 else value
    except (TypeError, ValueError, OverflowError):
        return UNKNOWN
    return UNKNOWN


def call_math(name: str, args: list) -> Any:
    fn = {"sqrt": math.sqrt, "log": math.log, "exp": math.exp, "pow": math.pow, "ceil": math.ceil, "floor": math.floor}.get(name)
    if fn is None or not args or not all(isinstance(a, (int, float)) for a in args):
        return UNKNOWN
    try:
        return fn(*args)
    except (ValueError, OverflowError):
        return UNKNOWN


_EVAL = {
    cst.Name: Interpreter.eval_name,
    cst.Attribute: Interpreter.eval_attribute,
    cst.Integer: Interpreter.eval_literal,
    cst.Float: Interpreter.eval_literal,
    cst.SimpleString: Interpreter.eval_literal,
    cst.ConcatenatedString: Interpreter.eval_literal,
    cst.List: Interpreter.eval_sequence,
    cst.Tuple: Interpreter.eval_sequence,
    cst.Set: Interpreter.eval_sequence,
    cst.Dict: Interpreter.eval_dict,
    cst.Subscript: Interpreter.eval_subscript,
    cst.BinaryOperation: Interpreter.eval_binary,
    cst.UnaryOperation: Interpreter.eval_unary,
    cst.BooleanOperation: Interpreter.eval_boolean,
    cst.Comparison: Interpreter.eval_comparison,
    cst.IfExp: Interpreter.eval_ifexp,
    cst.ListComp: Interpreter.eval_comprehension,
    cst.GeneratorExp: Interpreter.eval_comprehension,
    cst.Call: Interpreter.eval_call,
}


def origin_of(frame: Frame, node: Optional[cst.CSTNode]) -> Origin:
    return Origin(path=frame.module.path, node=node)
