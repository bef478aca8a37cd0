"""Import tables: which local name stands for which qualified name.

libcst's ``QualifiedNameProvider`` does this with full scope analysis at about ten times the
cost of parsing; for the questions a training-code linter asks (is this ``torch.nn.Linear``?)
the imports of the module and of the function being read are enough, so nnlint reads them
directly and keeps linting close to the cost of a bare parse.
"""

from __future__ import annotations

import re

import libcst as cst


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` as a string, or None for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def identifier_words(name: str) -> set[str]:
    """``valAccuracy`` -> {val, accuracy}; ``BatchNorm`` -> {batch, norm}: an identifier's
    words, split at underscores, digits and capitals, lower-cased."""
    return {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", name)}


def call_argument(call: object, index: int, keyword: str) -> cst.BaseExpression | None:
    """The expression a call passes as its argument ``index`` or ``keyword`` (None when it
    passes none, or when ``call`` is not a call)."""
    if not isinstance(call, cst.Call):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[index].value if len(positional) > index else None


def import_bindings(stmt: cst.Import | cst.ImportFrom) -> list[tuple[str, str, int]]:
    """(local name, qualified name, relative level) for each name an import statement binds.

    A star import binds ``*`` to the module, so lookups can fall back to it.
    """
    out: list[tuple[str, str, int]] = []
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                out.append((alias.asname.name.value, full, 0))
            else:
                head = full.split(".", 1)[0]
                out.append((head, head, 0))
        return out
    level = len(stmt.relative)
    module = dotted(stmt.module) if stmt.module is not None else ""
    if isinstance(stmt.names, cst.ImportStar):
        return [("*", module or "", level)]
    for alias in stmt.names:
        name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name) or ""
        local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
        out.append((local, f"{module}.{name}" if module else name, level))
    return out
