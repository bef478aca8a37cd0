"""Functions of an imported module left out of its parse, each parsed when first needed.

A training script that uses a package reads few of the functions its modules define: timm's
optimizer factory names some 25 optimizer classes in a table, and none of their methods runs
for a training script's analysis. Parsing with libcst costs ten times what CPython's own parser
does, so an imported module (never a linted file) is parsed as a *skeleton*: each function's
lines (decorators, signature and body) become one ``def name(): pass`` line and blank lines,
so every other line keeps its number and its columns. The rest stays whole: bases, decorators
and class-level statements of every class, and every statement outside a function.

Nothing reads more of a stub than its name: the interpreter binds a ``def`` to a
:class:`~nnlint.frontends.values.FunctionRef` (defining a class, to a method), and reads the
function (decorators, parameters, defaults, body) only through ``FunctionRef.node``, which
parses the function's own lines the first time it is read (:meth:`Bodies.load`). The readers
of the module's top level (:mod:`nnlint.frontends.exports`, the trace's class lookup) read names.

Which functions are left out: each ``def`` reached from the part of the module being parsed
through the bodies of classes and of ``if``/``try``/``for``/``while``/``with`` blocks (a
``def`` inside a function goes with that function). A ``match`` statement is parsed whole. The
skeleton is checked against :mod:`ast`'s tree: when the ``def`` s libcst finds are not the ones
the lines were taken from, in order and by name, the part is parsed whole instead (nothing then
depends on the blanking being right).

A function libcst cannot read (valid Python its grammar does not cover) is found only when it
is loaded: :meth:`Bodies.load` then gives None and a call to it is unknown, where a whole parse
would have left the whole statement around it unknown.

Every part (skeleton or function) is parsed by CPython's parser and converted to libcst's nodes
(:mod:`nnlint.ast_to_cst`: a third of libcst's own parse), with libcst as the fallback for the
syntax the conversion does not cover; the positions come with the conversion.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import libcst as cst

#: ast statements whose bodies are read for ``def`` s (what the interpreter runs in place, and
#: class bodies); the same, in the same order of parts, as :func:`_cst_defs` walks in libcst.
_AST_BLOCKS = (ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
               getattr(ast, "TryStar", ast.Try))
_AST_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(eq=False)
class Def:
    """One ``def`` of a part being parsed, as ast reads it."""

    name: str
    first: int  # 1-based line of its first decorator (or of ``def``)
    last: int
    stub: bool  # it is one ``def name(): pass`` line in the skeleton


@dataclass(eq=False)
class Bodies:
    """The functions of one module left out of its parse: each stub's lines, and the functions
    parsed so far."""

    lines: list[str]  # the module's lines, each with its line break
    stubs: dict = field(default_factory=dict)  # stub cst.FunctionDef -> Def
    loaded: dict = field(default_factory=dict)  # stub -> the parsed cst.FunctionDef (None: libcst could not)
    #: (cst.Module, line shift, its positions from the conversion or None) of each part parsed, not yet placed
    _parts: list = field(default_factory=list)
    _positions: dict = field(default_factory=dict, repr=False)  # node -> span, of the parts placed

    def defs(self, nodes: list[ast.stmt]) -> list[Def]:
        """The ``def`` s of some top-level statements that :meth:`parse` matches against
        libcst's, worked out from :mod:`ast`'s tree (which is not kept: it is larger than the
        source)."""
        found: list[Def] = []
        for node in nodes:
            _ast_defs(node, self.lines, found)
        return found

    def parse(self, first: int, last: int, found: list[Def]) -> cst.Module:
        """Lines ``first`` to ``last`` (1-based, a part made of top-level statements whose
        ``def`` s :meth:`defs` gave), parsed with libcst with their functions left out when
        that can be done (see the module docstring), else whole. A part's first
        line is at column 0, so its lines are a module by themselves and its nodes keep their
        columns."""
        import libcst as cst

        stubbed = [d for d in found if d.stub]
        text = "".join(self.lines[first - 1:last])
        if not stubbed:
            return self._parse(text, first - 1)
        skeleton = self.lines[first - 1:last]
        for d in stubbed:
            line = skeleton[d.first - first]
            indent = line[:len(line) - len(line.lstrip(" \t\f"))]
            skeleton[d.first - first] = f"{indent}def {d.name}(): pass{_ending(line)}"
            for i in range(d.first + 1, d.last + 1):
                skeleton[i - first] = _ending(skeleton[i - first])
        parts = len(self._parts)
        try:
            module = self._parse("".join(skeleton), first - 1)
        except (cst.ParserSyntaxError, RecursionError):
            return self._parse(text, first - 1)
        defs: list[cst.FunctionDef] = []
        _cst_defs(module.body, defs)
        if len(defs) != len(found) or any(c.name.value != a.name for c, a in zip(defs, found)):
            del self._parts[parts:]
            return self._parse(text, first - 1)  # not the functions the lines were taken from: no laziness
        for stub, d in zip(defs, found):
            if d.stub:
                self.stubs[stub] = d
        return module

    def _parse(self, text: str, shift: int) -> cst.Module:
        """``text`` (lines from ``shift + 1`` on) as a libcst module, converted from ast's tree
        where :mod:`nnlint.ast_to_cst` covers its syntax, else parsed by libcst; kept for its
        positions."""
        import libcst as cst

        from nnlint import ast_to_cst

        try:
            module, table = ast_to_cst.parse(text)
        except (ast_to_cst.Unconvertible, SyntaxError, ValueError, RecursionError):
            module, table = cst.parse_module(text), None
        self._parts.append((module, shift, table))
        return module

    def load(self, stub: cst.FunctionDef) -> Optional[cst.FunctionDef]:
        """The whole function a stub stands for, parsed from its own lines (once); None when
        libcst cannot read it. An indented ``def`` is parsed under a ``class _:`` line, so its
        columns are the file's."""
        if stub in self.loaded:
            return self.loaded[stub]
        import libcst as cst

        d = self.stubs[stub]
        lines = self.lines[d.first - 1:d.last]
        indented = lines[0].lstrip("\f")[:1] in (" ", "\t")  # (a form feed sets the column back to 0)
        try:
            module = self._parse(("class _:" + (_ending(lines[0]) or "\n") if indented else "") + "".join(lines),
                                 d.first - 1 - (1 if indented else 0))
        except (cst.ParserSyntaxError, RecursionError):
            self.loaded[stub] = None
            return None
        func = module.body[0].body.body[0] if indented else module.body[0]
        self.loaded[stub] = func
        return func

    def span(self, node: cst.CSTNode) -> Optional[tuple[int, int, int, int]]:
        """1-based (line, column, end_line, end_column) of a node of a part parsed (a skeleton,
        a statement, a function loaded), else None (worked out as findings ask: libcst's
        positions cost about twice its parse, where libcst parsed a part)."""
        if node not in self._positions and self._parts:
            from nnlint.ast_to_cst import libcst_positions

            for module, shift, table in self._parts:
                for key, (line, column, end_line, end_column) in (table if table is not None else libcst_positions(module)).items():
                    self._positions[key] = (line + shift, column + 1, end_line + shift, end_column + 1)
            self._parts.clear()
        return self._positions.get(node)


def defs_data(defs: list[Def]) -> list:
    """``def`` s as plain data (JSON)."""
    return [[d.name, d.first, d.last, d.stub] for d in defs]


def defs_from(data: Any, lines: int) -> Optional[list[Def]]:
    """The ``def`` s :func:`defs_data` gave, for a text of ``lines`` lines; None for data that is
    not that."""
    if not isinstance(data, list):
        return None
    found = []
    for item in data:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str) and item[0].isidentifier()
                and span_of_lines(item[1], item[2], lines) and isinstance(item[3], bool)):
            return None
        found.append(Def(*item))
    return found


def span_of_lines(first: Any, last: Any, lines: int) -> bool:
    """Whether ``first`` to ``last`` are lines (1-based, in order) of a text of ``lines`` lines."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last)) and 1 <= first <= last <= lines


def _ending(line: str) -> str:
    """A line's break (``\\n``, ``\\r\\n``, or nothing on the last line)."""
    return line[len(line.rstrip("\r\n")):]


def _ast_defs(node: ast.stmt, lines: list[str], found: list[Def]) -> None:
    """The ``def`` s under ``node`` (itself included) that :func:`_cst_defs` finds too, in the
    same order, each marked whether it can be left out: when its first line starts with its
    first decorator or with ``def`` (a ``@`` alone before a line continuation does not)."""
    if isinstance(node, _AST_DEFS):
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        head = lines[first - 1].lstrip(" \t\f")
        stub = head.startswith("@") if node.decorator_list else head.startswith(("def", "async"))
        found.append(Def(node.name, first, node.end_lineno or node.lineno, stub))
        return
    if not isinstance(node, _AST_BLOCKS):
        return
    parts = [node.body]
    if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        parts += [h.body for h in node.handlers] + [node.orelse, node.finalbody]
    elif not isinstance(node, (ast.ClassDef, ast.With, ast.AsyncWith)):
        parts.append(node.orelse)  # an ``elif`` is an ``if`` alone in it
    for part in parts:
        for child in part:
            _ast_defs(child, lines, found)


def _cst_defs(body, found: list) -> None:
    """The libcst ``FunctionDef`` s under the statements ``body``, walked as :func:`_ast_defs`
    walks ast's (a block's body, then its handlers, ``elif``, ``else`` and ``finally``)."""
    import libcst as cst

    for node in body:
        if isinstance(node, cst.FunctionDef):
            found.append(node)
            continue
        if not isinstance(node, (cst.ClassDef, cst.If, cst.For, cst.While, cst.With, cst.Try, cst.TryStar)):
            continue
        parts = [_statements(node.body)]
        if isinstance(node, (cst.Try, cst.TryStar)):
            parts += [_statements(h.body) for h in node.handlers]
        orelse = getattr(node, "orelse", None)
        if isinstance(orelse, cst.If):
            parts.append([orelse])
        elif orelse is not None:
            parts.append(_statements(orelse.body))
        finalbody = getattr(node, "finalbody", None)
        if finalbody is not None:
            parts.append(_statements(finalbody.body))
        for part in parts:
            _cst_defs(part, found)


def _statements(block) -> list:
    """The statements of an indented block (a one-line suite holds no ``def``)."""
    import libcst as cst

    return list(block.body) if isinstance(block, cst.IndentedBlock) else []
