"""The output shapes of torch ops, from their inputs' shapes and their static arguments.

Covers what attention pooling and classifier heads are made of: Linear and Embedding,
element-wise ops, squeeze/unsqueeze, view/reshape with static sizes, flatten,
transpose/permute, sums/means/maxima over a dimension, cat and stack. Everything else is
None (unknown), and so is anything computed from an unknown shape.
"""

from __future__ import annotations

from math import prod
from typing import Any, Optional

from nnlint.ir import ACTIVATIONS, NORMS, OpKind
from nnlint.ir.shapes import Shape

K = OpKind

#: Kinds whose output has the shape of their (first) input.
_SAME = ACTIVATIONS | NORMS | {K.DROPOUT, K.EXP, K.LOG, K.IDENTITY}
#: Methods outside the kind tables that keep the shape.
_SAME_METHODS = frozenset("contiguous to float double half bfloat16 type cuda cpu detach clone requires_grad_ "
                          "abs neg sqrt rsqrt square clamp clip pow".split())
_REDUCTIONS = frozenset("sum mean amax amin max min logsumexp std var prod norm".split())


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _arg(args: list, kwargs: dict, position: int, *names: str, default: Any = None) -> Any:
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[position] if len(args) > position else default


def layer_shape(kind: OpKind, short: str, attrs: dict, x: Optional[Shape]) -> Optional[Shape]:
    """The output shape of an ``nn`` layer applied to an input of shape ``x``."""
    if kind is K.LINEAR:
        width = attrs.get("out_features")
        width = width if _int(width) else None
        if x is None:
            return Shape((width,), ranked=False)
        return x.replace(-1, width) if x.dims else None
    if kind is K.EMBEDDING:
        width = attrs.get("embedding_dim")
        width = width if _int(width) else None
        return Shape((*x.dims, width), x.ranked) if x is not None else Shape((width,), ranked=False)
    if short == "Flatten":
        return _flatten(x, attrs.get("start_dim", 1), attrs.get("end_dim", -1))
    if kind in _SAME:
        return x
    return None


def op_shape(kind: OpKind, name: str, inputs: list[Optional[Shape]], call: Optional[tuple], attrs: dict) -> Optional[Shape]:
    """The output shape of a function, method or operator; ``call`` holds its arguments with the
    tensor arguments first (``x.view(n, -1)`` is ``([x, n, -1], {})``)."""
    short = name.rsplit(".", 1)[-1]
    x = inputs[0] if inputs else None
    if kind in (K.ADD, K.SUB, K.MUL, K.DIV):
        if "const" in attrs and len(inputs) == 1:
            return x
        return x if len(inputs) == 2 and inputs[0] == inputs[1] else None
    if call is None:
        return x if kind in _SAME else None
    args, kwargs = call
    rest = list(args[1:])
    if kind is K.CONCAT:
        return _concat(inputs, args, kwargs, stack=short == "stack")
    if short in ("view", "reshape"):
        sizes = rest[0] if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
        return _reshape(x, sizes) if not kwargs else None
    if short == "flatten":  # flatten(1) of anything is (N, rest)
        return _flatten(x, _arg(rest, kwargs, 0, "start_dim", default=0), _arg(rest, kwargs, 1, "end_dim", default=-1))
    if x is None:
        return None
    if kind in _SAME or short in _SAME_METHODS:
        return x
    if kind in (K.REDUCE_SUM, K.REDUCE_MAX, K.LOGSUMEXP) or short in _REDUCTIONS:
        return _reduce(x, _arg(rest, kwargs, 0, "dim", "axis"), _arg(rest, kwargs, 1, "keepdim", default=False))
    if short == "squeeze":
        return _squeeze(x, _arg(rest, kwargs, 0, "dim"))
    if short == "unsqueeze":
        return x.insert(_arg(rest, kwargs, 0, "dim"), 1)
    if short in ("transpose", "swapaxes"):
        return _transpose(x, _arg(rest, kwargs, 0, "dim0"), _arg(rest, kwargs, 1, "dim1"))
    if short == "t":
        return _transpose(x, 0, 1) if x.ranked and len(x.dims) == 2 else None
    if short == "permute":
        order = rest[0] if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
        return _permute(x, order)
    return None


def _squeeze(x: Shape, dim: Any) -> Optional[Shape]:
    if dim is None:
        if x.ranked and all(_int(d) for d in x.dims):
            return Shape(tuple(d for d in x.dims if d != 1))
        return None
    size = x.size(dim)
    if size == 1:
        return x.drop(dim)
    return x if _int(size) else None  # squeezing an axis that is not 1 keeps it


def _reduce(x: Shape, dim: Any, keepdim: Any) -> Optional[Shape]:
    if dim is None:
        return None if keepdim else Shape(())
    dims = list(dim) if isinstance(dim, (tuple, list)) else [dim]
    indexes = [x.index(d) for d in dims]
    if any(i is None for i in indexes) or not isinstance(keepdim, bool):
        return None
    if keepdim:
        return Shape(tuple(1 if i in indexes else d for i, d in enumerate(x.dims)), x.ranked)
    return Shape(tuple(d for i, d in enumerate(x.dims) if i not in indexes), x.ranked)


def _reshape(x: Optional[Shape], sizes: list) -> Optional[Shape]:
    """``view(n, -1)``: the rank is the number of sizes; static sizes are kept, and a -1 is
    worked out when every other size and the input's are known."""
    if not sizes:
        return None
    dims: list = [s if _int(s) and s >= 0 else None for s in sizes]
    holes = [i for i, s in enumerate(sizes) if s == -1]
    if len(holes) == 1 and x is not None and x.ranked and all(_int(d) for d in x.dims) and all(_int(d) for i, d in enumerate(dims) if i != holes[0]):
        known = prod(d for i, d in enumerate(dims) if i != holes[0])
        dims[holes[0]] = prod(x.dims) // known if known else None
    return Shape(tuple(dims))


def _flatten(x: Optional[Shape], start: Any, end: Any) -> Optional[Shape]:
    if not (_int(start) and _int(end)):
        return None
    if x is None or not x.ranked:
        if start >= 0 and end == -1:
            return Shape((None,) * (start + 1))  # flatten(1) of anything: (N, rest)
        return None
    n = len(x.dims)
    s, e = (start + n if start < 0 else start), (end + n if end < 0 else end)
    if not 0 <= s <= e < n:
        return None
    middle = x.dims[s:e + 1]
    size = prod(middle) if all(_int(d) for d in middle) else None
    return Shape(x.dims[:s] + (size,) + x.dims[e + 1:])


def _transpose(x: Shape, a: Any, b: Any) -> Optional[Shape]:
    i, j = x.index(a), x.index(b)
    if i is None or j is None:
        return None
    dims = list(x.dims)
    dims[i], dims[j] = dims[j], dims[i]
    return Shape(tuple(dims), x.ranked)


def _permute(x: Shape, order: list) -> Optional[Shape]:
    if not x.ranked or len(order) != len(x.dims) or not all(_int(o) for o in order):
        return None
    indexes = [x.index(o) for o in order]
    return Shape(tuple(x.dims[i] for i in indexes)) if None not in indexes else None


def _concat(inputs: list[Optional[Shape]], args: list, kwargs: dict, stack: bool) -> Optional[Shape]:
    dim = _arg(args[1:], kwargs, 0, "dim", "axis", default=0)
    if not inputs or any(s is None for s in inputs) or len(set(inputs)) != 1 and not all(s.ranked for s in inputs):
        return None
    first = inputs[0]
    if stack:
        return first.insert(dim, len(inputs)) if len(set(inputs)) == 1 else None
    i = first.index(dim)
    if i is None or any(len(s.dims) != len(first.dims) for s in inputs):
        return None
    sizes = [s.dims[i] for s in inputs]
    return first.replace(dim, sum(sizes) if all(_int(d) for d in sizes) else None)
