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

import libcst as cst

from nnlint.frontends.names import import_bindings

#: Compound statements whose bodies run as part of the top level (their bindings count).
_BLOCKS = (cst.If, cst.Else, cst.For, cst.While, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler,
           cst.ExceptStarHandler, cst.Finally)


def plain_imports(module: cst.Module, text: str) -> dict[str, tuple[str, int]]:
    """Names the module binds once, by a top-level ``from x import name``: name -> (qualified
    name, relative level), as :func:`~nnlint.frontends.names.import_bindings` gives them.
    Empty when the top level may stop early, or may bind by a walrus (``:=`` in ``text``)."""
    counts: dict[str, int] = {}
    found: dict[str, tuple[str, int]] = {}
    if ":=" in text or not _scan(module.body, counts, found, top=True, handler=False):
        return {}
    return {name: binding for name, binding in found.items() if counts[name] == 1}


def _scan(body, counts: dict[str, int], found: dict[str, tuple[str, int]], top: bool, handler: bool) -> bool:
    """Count every binding under ``body``; False if the top level may end early or binds in a
    way not read here (``match``, an unknown statement). A ``raise`` in an ``except`` handler
    ends nothing: the interpreter does not run handlers (it assumes the ``try`` body succeeds)."""
    for stmt in body:
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
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
            for name in _bound_names(stmt):
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
        if isinstance(child, cst.IndentedBlock):
            parts.append(child.body)
        elif isinstance(child, cst.SimpleStatementSuite):  # `if x: a = 1` on one line
            parts.append([child])
        elif isinstance(child, _BLOCKS):
            parts.append([child])
    return parts


def _bound_names(node: cst.CSTNode) -> set[str]:
    """Every name a statement binds (of a compound statement, its header: a loop's target, a
    ``with ... as``, an ``except ... as``): assignment and ``del`` targets, ``import`` names.
    Walrus targets are not looked for: a module that has any is not scanned (plain_imports)."""
    if isinstance(node, (cst.Assign,)):
        return {n for t in node.targets for n in _target_names(t.target)}
    if isinstance(node, (cst.AnnAssign, cst.AugAssign)):
        return _target_names(node.target)
    if isinstance(node, cst.Del):
        return _target_names(node.target)
    if isinstance(node, cst.Import):
        return {local for local, _, _ in import_bindings(node)}
    if isinstance(node, cst.ImportFrom):
        return set()  # a star import only fills names nothing else binds (setdefault)
    if isinstance(node, (cst.For,)):
        return _target_names(node.target)
    if isinstance(node, cst.With):
        return {n for item in node.items if item.asname is not None for n in _target_names(item.asname.name)}
    if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)) and node.name is not None:
        return _target_names(node.name.name)
    return set()


def _target_names(target: cst.CSTNode) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for element in target.elements for n in _target_names(element.value)}
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return set()  # an attribute or a subscript binds no name

