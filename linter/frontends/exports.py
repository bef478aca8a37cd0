"""What a module's top level binds, read off its tree without running it.

The interpreter runs a project module the first time a name it defines is read. A package's
``__init__.py`` mostly re-exports: ``from ._factory import create_model`` beside a hundred
``from .resnet import *``. Running it would read every one of those modules to hand out one
function. When the name is bound once, by a plain ``from x import name`` at the top level of a
module that never stops early (a top-level ``raise`` or ``return``), running the module binds it
to that import and to nothing else, so the import alone can be followed. Anything less plain
(bound twice, in a branch or a loop, by an assignment or a definition) keeps the module run.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from nnlint.frontends.names import import_bindings

#: Compound statements whose bodies run as part of the top level (their bindings count).
_BLOCKS = (cst.If, cst.Else, cst.For, cst.While, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler,
           cst.ExceptStarHandler, cst.Finally)


def plain_imports(module: cst.Module) -> dict[str, tuple[str, int]]:
    """Names the module binds once, by a top-level ``from x import name``: name -> (qualified
    name, relative level), as :func:`~nnlint.frontends.names.import_bindings` gives them.
    Empty when the top level may stop early."""
    counts: dict[str, int] = {}
    found: dict[str, tuple[str, int]] = {}
    if not _scan(module.body, counts, found, top=True, handler=False):
        return {}
    return {name: binding for name, binding in found.items() if counts[name] == 1}


def _scan(body, counts: dict[str, int], found: dict[str, tuple[str, int]], top: bool, handler: bool) -> bool:
    """Count every binding under ``body``; False if the top level may end early or binds in a
    way not read here (``match``, an unknown statement). A ``raise`` in an ``except`` handler
    ends nothing: the interpreter does not run handlers (it assumes the ``try`` body succeeds)."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Raise, cst.Return)) and not handler:
                    return False
                if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    for local, qualname, level in import_bindings(small):
                        counts[local] = counts.get(local, 0) + 1
                        if top:
                            found[local] = (qualname, level)
                    continue
                for name in _bound_names(small):
                    counts[name] = counts.get(name, 0) + 1
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            counts[stmt.name.value] = counts.get(stmt.name.value, 0) + 1
        elif isinstance(stmt, _BLOCKS):
            for name in _bound_names(stmt, header_only=True):
                counts[name] = counts.get(name, 0) + 1
            inside = handler or isinstance(stmt, (cst.ExceptHandler, cst.ExceptStarHandler))
            for part in _blocks_of(stmt):
                if not _scan(part, counts, found, top=False, handler=inside):
                    return False
        else:
            return False  # match, or a statement this scan does not know: run the module
    return True


def _blocks_of(stmt: cst.CSTNode) -> list:
    """The statement lists directly inside a compound statement (its body, else, handlers)."""
    parts = []
    for child in stmt.children:
        if isinstance(child, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            parts.append(child.body)
        elif isinstance(child, _BLOCKS):
            parts.append([child])
    return parts


def _bound_names(node: cst.CSTNode, header_only: bool = False) -> set[str]:
    """Every name a statement may bind: assignment targets, ``import`` names, loop and ``with``
    targets, ``except ... as``, walrus targets anywhere in it. Over-counting is safe: a name
    counted twice is only followed by running its module."""
    names: set[str] = set()

    class Collect(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            names.add(name.value)  # any name written in a binding position or not: over-counts

        def visit_IndentedBlock(self, block: cst.IndentedBlock) -> bool:
            return not header_only  # the bodies of a compound statement are scanned on their own

        def visit_SimpleStatementSuite(self, suite: cst.SimpleStatementSuite) -> bool:
            return not header_only

        def visit_ImportAlias(self, alias: cst.ImportAlias) -> bool:
            bound = alias.asname.name if alias.asname is not None else alias.name
            names.add(bound.value if isinstance(bound, cst.Name) else _head(bound) or "")
            return False

    if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
        return names  # a star import only fills names nothing else binds (setdefault)
    node.visit(Collect())
    return names


def _head(node: cst.CSTNode) -> Optional[str]:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None
