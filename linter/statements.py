"""An imported module read statement by statement: which top-level statement binds which name.

A training script that imports a large package needs a few functions and classes of each
module it follows, and parsing a module with libcst costs ten times what CPython's own parser
does. So a module that is only imported (not linted) is indexed with :mod:`ast`: each top-level
statement, its lines and the names it binds. The interpreter then parses (with libcst) and runs
only the statements whose names are read, each when it is first read
(:meth:`nnlint.frontends.interpreter.Interpreter.lazy_global`).

That is what running the whole top level would give only when every statement does nothing but
bind its names, each name bound once. A module with anything else at its top level (a call for
its effect, an attribute or item assignment, an augmented assignment, ``del``, a star import, a
loop, a ``with``, a ``raise``, a walrus, a name bound by two statements) is not indexed: it is
parsed and run whole, as before. ``if`` and ``try`` blocks made of such statements are one
statement here (the interpreter runs a ``try`` body and never its handlers, so only the names
of the body, ``else`` and ``finally`` count).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from nnlint.bodies import Bodies, defs_data, defs_from, span_of_lines

if TYPE_CHECKING:
    import libcst as cst


@dataclass(eq=False)
class Statement:
    """One top-level statement (several, when they share a line: ``a = 1; b = 2``)."""

    first: int  # 1-based line of its first line (its first decorator's, for a definition)
    last: int
    names: list[str]
    defs: list  # its functions, as nnlint.bodies matches them (not its ast nodes: they are not kept)
    body: Optional[list[cst.BaseStatement]] = None  # its libcst statements, once parsed
    ran: bool = False
    #: the globals its run added (not those of statements it ran on demand), in the order added
    bound: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Statements:
    """A module's top level as :class:`Statement` s, parsed one at a time on demand."""

    lines: list[str]
    statements: list[Statement]
    binder: dict[str, int]  # name -> index of the statement that binds it
    bodies: Bodies  # the function bodies the statements were parsed without, parsed as needed
    running: list[int] = field(default_factory=list)  # statements being run now, innermost last

    def parsed(self, index: int) -> list[cst.BaseStatement]:
        """The libcst statements of statement ``index``, parsed from its own lines (a top-level
        statement starts at column 0, so its lines are a module by themselves), the bodies of
        its functions left out until they are read (:mod:`nnlint.bodies`)."""
        stmt = self.statements[index]
        if stmt.body is None:
            stmt.body = list(self.bodies.parse(stmt.first, stmt.last, stmt.defs).body)
        return stmt.body

    def tree(self) -> cst.Module:
        """The whole top level, every statement parsed (for a reader that walks the module);
        its statements are the very nodes the interpreter ran or will run (functions whose body
        was left out are stubs: :class:`~nnlint.frontends.values.FunctionRef` reads the body)."""
        import libcst as cst

        return cst.Module(body=[s for i in range(len(self.statements)) for s in self.parsed(i)])

    def span(self, node: cst.CSTNode) -> Optional[tuple[int, int, int, int]]:
        """1-based (line, column, end_line, end_column) of a node of a parsed statement or of a
        function body parsed on its own (both parsed by :class:`Bodies`, which places them)."""
        return self.bodies.span(node)


def index(tree: ast.Module, text: str) -> Optional[Statements]:
    """The module's top-level statements and what each binds; None when the module must be run
    whole (see the module docstring), or when its line breaks are not all ``\\n`` or ``\\r\\n``
    (then :mod:`ast`'s line numbers and a plain split of the text could disagree)."""
    if ":=" in text or not plain_line_breaks(text):
        return None
    statements: list[Statement] = []
    binder: dict[str, int] = {}
    lines = split_lines(text)
    bodies = Bodies(lines)
    modules: set[str] = set()  # names bound (so far) only by ``import name`` or ``import name.sub``
    for node in tree.body:
        names: list[str] = []
        if not _plain(node, names):
            return None
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        if statements and first <= statements[-1].last:  # on the line where the previous one ends
            statements[-1].last = max(statements[-1].last, node.end_lineno or node.lineno)
            statements[-1].names.extend(names)
            statements[-1].defs.extend(bodies.defs([node]))
        else:
            statements.append(Statement(first, node.end_lineno or node.lineno, names, bodies.defs([node])))
        here = {a.name.split(".")[0] for a in _module_imports(node)}
        for name in names:
            if binder.setdefault(name, len(statements) - 1) != len(statements) - 1 \
                    and not (name in here and name in modules):
                return None  # bound by two statements: which binding holds depends on their order
        modules = (modules | here) - {n for n in names if n not in here}
    return Statements(lines, statements, binder, bodies)


def outline(statements: Statements) -> list:
    """The index as plain data (JSON), to keep in the cache with the digest of the module's
    text (:mod:`nnlint.cache`): another run that imports the same text needs no parse of it
    to read it statement by statement."""
    return [[s.first, s.last, s.names, defs_data(s.defs)] for s in statements.statements]


def from_outline(data: Any, text: str) -> Optional[Statements]:
    """The index :func:`outline` gave for this text; None for data that is not one (it is read
    from a file: checked, never trusted)."""
    lines = split_lines(text)
    statements: list[Statement] = []
    if not isinstance(data, list):
        return None
    for item in data:
        if not (isinstance(item, list) and len(item) == 4 and span_of_lines(item[0], item[1], len(lines))
                and isinstance(item[2], list) and all(isinstance(n, str) and n.isidentifier() for n in item[2])):
            return None
        defs = defs_from(item[3], len(lines))
        if defs is None:
            return None
        statements.append(Statement(item[0], item[1], list(item[2]), defs))
    binder: dict[str, int] = {}
    for i, stmt in enumerate(statements):
        for name in stmt.names:
            binder.setdefault(name, i)  # as index() binds them: the first statement (an import bound again)
    return Statements(lines, statements, binder, Bodies(lines))


def plain_line_breaks(text: str) -> bool:
    """Whether every line break is ``\\n`` or ``\\r\\n``: then :mod:`ast`'s line numbers and
    :func:`split_lines` agree (a lone ``\\r`` ends a line for the one and not the other)."""
    return text.count("\r") == text.count("\r\n")


def split_lines(text: str) -> list[str]:
    """The text's lines, each with its line break (the last may have none)."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def _module_imports(node: ast.stmt) -> list[ast.alias]:
    """``import torch`` and ``import torch.utils.checkpoint`` bind ``torch`` alike (to the
    package): binding it twice so changes nothing, whichever runs."""
    return [a for a in node.names if a.asname is None] if isinstance(node, ast.Import) else []


def _plain(node: ast.stmt, names: list[str]) -> bool:
    """Whether running ``node`` only binds names (added to ``names``)."""
    if isinstance(node, ast.Import):
        names.extend((a.asname or a.name).split(".")[0] for a in node.names)
    elif isinstance(node, ast.ImportFrom):
        if any(a.name == "*" for a in node.names):
            return False
        names.extend(a.asname or a.name for a in node.names)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.append(node.name)
    elif isinstance(node, ast.Assign):
        return all(_targets(t, names) for t in node.targets)
    elif isinstance(node, ast.AnnAssign):
        return _targets(node.target, names)
    elif isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)  # a docstring
    elif isinstance(node, ast.If):
        return all(_plain(s, names) for s in [*node.body, *node.orelse])
    elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return all(_plain(s, names) for s in [*node.body, *node.orelse, *node.finalbody])
    elif not isinstance(node, ast.Pass):
        return False
    return True


def _targets(target: Any, names: list[str]) -> bool:
    """Whether an assignment target only binds names (no attribute, no item)."""
    if isinstance(target, ast.Name):
        names.append(target.id)
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_targets(t, names) for t in target.elts)
    if isinstance(target, ast.Starred):
        return _targets(target.value, names)
    return False
