"""When an unrolled loop has started repeating itself.

Training scripts loop over ``range(eval_iters)`` (200 evaluation batches) or
``range(gradient_accumulation_steps)``; unrolling every iteration re-reads the same code on the
same objects and only makes the analysis slower. A loop whose variable the body does not read
(``for _ in range(n)``, or only as the index of a store: ``losses[k] = loss.item()``) runs the
same statements each time, so once an iteration leaves the variables in the same *shape* as the
iteration before it (same objects, tensors computed by the same code and not from their
previous value, lists grown by the same kind of item, numbers still numbers), the remaining
iterations would repeat it: the interpreter runs the body once more for any item and stops.

A tensor computed from its own previous value (``h = layer(h)``) is a chain whose depth
matters, and an object whose attributes or children grew (``model.add(Dense(64))``) is being
built: either keeps the loop unrolled. Methods (where ``self`` is being built) and model code
(a forward being traced) are never cut short; the caller decides that.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from nnlint.cst_walk import walk
from nnlint.frontends.values import Instance, Layer, Tensor

_SCALARS = (int, float, str, bool, type(None))


def variable_unread(stmt: cst.For) -> bool:
    """Whether the body of ``for <target> in ...`` reads the target's names only as the index
    of a subscript being assigned to (``losses[k] = ...``), or not at all."""
    names = {n.value for n in _names(stmt.target)}
    if not names:
        return False
    parts = [stmt.body] if stmt.orelse is None else [stmt.body, stmt.orelse]
    return not _reads(parts, names)


def _reads(nodes: list, names: set[str]) -> bool:
    """Whether the code reads one of ``names``, not counting the index of a subscript assigned
    to (``x[k] = ...``: k only says where the value goes)."""
    if any(isinstance(n, cst.Name) and n.value in names for n in walk(nodes, skip=(cst.Assign,))):
        return True
    for node in walk(nodes):  # the assignments (never nested in one another)
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets
                       if not (isinstance(t.target, cst.Subscript) and not _reads([t.target.value], names))]
            if _reads([*targets, node.value], names):
                return True
    return False


def _names(target: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for element in target.elements for n in _names(element.value)]
    return []


class Snapshot:
    """The shape of a frame's variables after one iteration."""

    def __init__(self, variables: dict) -> None:
        self.values = dict(variables)
        self.shapes = {name: _shape(value) for name, value in variables.items()}

    def repeated_by(self, later: "Snapshot") -> bool:
        """Whether ``later`` (the next iteration's snapshot) is this one again."""
        if self.values.keys() != later.values.keys():
            return False
        for name, value in later.values.items():
            before = self.values[name]
            if isinstance(value, Tensor) and isinstance(before, Tensor) and value is not before \
                    and _derived(value, before):
                return False  # h = layer(h): a chain that grows with each iteration
            if later.shapes[name] != self.shapes[name]:
                return False
        return True


def _shape(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return type(value)  # a counter that counts on is still a number
    if isinstance(value, Tensor):
        op = value.graph.ops[value.op]
        return "tensor", id(value.graph), op.kind, op.type_name, id(op.origin.node) if op.origin else None
    if isinstance(value, (list, tuple)):
        return type(value), id(value), _item_shape(value[-1]) if value else None
    if isinstance(value, dict):
        return dict, id(value), len(value)
    if isinstance(value, Layer):
        return id(value), value.mode, _size(value.children), len(value.inits)
    if isinstance(value, Instance):
        grown = sum(_size(v.children) if isinstance(v, Layer) else 0 for v in value.attrs.values())
        return id(value), value.mode, len(value.attrs), grown
    return id(value)


def _item_shape(value: Any) -> Any:
    """A list item, compared by kind, not by identity: another loss value each step is the
    same kind of item, another layer is not."""
    if isinstance(value, Tensor):
        return _shape(value)
    return type(value) if isinstance(value, _SCALARS) else id(value)


def _size(children: Any) -> int:
    return len(children) if isinstance(children, (list, dict)) else 0


def _derived(value: Tensor, before: Tensor, budget: int = 256) -> bool:
    """Whether ``before`` is among the ops ``value`` was computed from (looked for among its
    nearest ``budget`` ancestors; beyond that, assumed so)."""
    if value.graph is not before.graph:
        return False
    graph, stack, seen = value.graph, [value.op], set()
    while stack:
        op = stack.pop()
        if op == before.op:
            return True
        if op in seen:
            continue
        seen.add(op)
        if len(seen) > budget:
            return True
        stack.extend(graph.ops[op].inputs)
    return False
