"""Walking a libcst tree in the order libcst's visitor does, without its visitor.

``node.visit(visitor)`` rebuilds every node it passes (libcst's traversal is a transformer's:
each node's children are visited and the node is made again from them, validation included),
so a read-only walk costs several times the tree's construction. nnlint walks trees only to
read them: :func:`walk` yields the same nodes in the same order (pre-order, children in source
order) by reading each node's fields, leaving out the fields that hold only whitespace,
brackets and punctuation (never an expression nor a statement). It keeps its own stack, so an
expression nested a few hundred deep (``a + a + ... + a``), which ran libcst's recursive
visitor out of Python's stack, is walked too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Iterator

import libcst as cst

#: fields that hold layout only (whitespace, parentheses, commas, colons, ``=`` signs, operators'
#: tokens), by name: walked by libcst's visitor, never holding an expression or a statement
_LAYOUT_PREFIXES = ("whitespace", "lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "comma", "semicolon",
                    "colon", "equal", "leading_lines", "lines_after_decorators", "trailing_whitespace", "header",
                    "footer", "first_line", "empty_lines", "indent", "newline", "dot", "arrow", "asynchronous",
                    "operator", "star_tok")

#: classes whose fields are declared in another order than the source's, which libcst's visitor follows
_SOURCE_ORDER = {
    cst.Arg: ("keyword", "value"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
    cst.TypeAlias: ("name", "type_parameters", "value"),
}

_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    fields = _SOURCE_ORDER.get(cls)
    if fields is None:
        fields = tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith(_LAYOUT_PREFIXES))
    _FIELDS[cls] = fields
    return fields


def walk(nodes: Iterable[cst.CSTNode], skip: tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """The nodes under ``nodes`` (themselves included), in libcst's visiting order, not going
    into (nor yielding) a node of a class in ``skip``."""
    stack: list[Any] = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        if isinstance(node, skip):
            continue
        yield node
        cls = type(node)
        children: list[Any] = []
        for name in _FIELDS.get(cls) or _fields(cls):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                children.append(value)
            elif isinstance(value, (tuple, list)):
                children.extend(v for v in value if isinstance(v, cst.CSTNode))
        stack.extend(reversed(children))
