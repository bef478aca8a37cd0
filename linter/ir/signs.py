"""What sign an op's values can have: a small sign analysis over the dataflow graph.

``exp`` overflows only for large positive arguments, so ``exp(-0.5 * (k / s) ** 2)``,
``exp(-x.abs())`` and ``exp(x - x.max())`` cannot overflow whatever ``x`` is. The analysis
answers ``NONPOS``, ``NONNEG`` or None (unknown) from the op kinds, constant operands, and
``attrs["sign"]``, which frontends set on ops whose range they know but that have no kind of
their own (``abs``, ``logsigmoid``, an even power). Unknown stays unknown: a check that needs
a sign says nothing without one.
"""

from __future__ import annotations

from typing import Optional

from nnlint.ir.graph import ModelGraph, Op
from nnlint.ir.kinds import OpKind

NONNEG = "nonneg"
NONPOS = "nonpos"

#: Outputs that are never negative whatever the input (exp, softmax, ReLU, sigmoid, softplus).
_NONNEG_KINDS = frozenset({OpKind.RELU, OpKind.RELU6, OpKind.SIGMOID, OpKind.SOFTPLUS, OpKind.SOFTMAX, OpKind.EXP})
#: Outputs that are never positive: log-probabilities.
_NONPOS_KINDS = frozenset({OpKind.LOG_SOFTMAX})
#: Ops whose output has the sign of their (first) input: reshapes, dropout (scales by a positive
#: factor or zeroes), pooling, sums and maxima of values of one sign.
_KEEP_SIGN = frozenset({OpKind.RESHAPE, OpKind.IDENTITY, OpKind.DROPOUT, OpKind.POOL, OpKind.REDUCE_SUM,
                        OpKind.REDUCE_MAX})
#: Reductions that bound every element of their input from above: x - max(x) <= 0.
_UPPER_BOUNDS = frozenset({OpKind.REDUCE_MAX, OpKind.LOGSUMEXP})
_FLIP = {NONNEG: NONPOS, NONPOS: NONNEG, None: None}
_DEPTH = 48


def sign(graph: ModelGraph, op: Op) -> Optional[str]:
    """``NONNEG``, ``NONPOS`` or None when the sign of ``op``'s values is not known."""
    return _sign(graph, op, _DEPTH)


def _sign(graph: ModelGraph, op: Op, depth: int) -> Optional[str]:
    if depth <= 0:
        return None
    given = op.attrs.get("sign")
    if given in (NONNEG, NONPOS):
        return given
    if op.kind in _NONNEG_KINDS:
        return NONNEG
    if op.kind in _NONPOS_KINDS:
        return NONPOS
    inputs = [graph.ops[i] for i in op.inputs]
    if op.kind in _KEEP_SIGN and len(inputs) == 1:
        return _sign(graph, inputs[0], depth - 1)
    if op.kind in (OpKind.MUL, OpKind.DIV, OpKind.ADD, OpKind.SUB):
        return _arithmetic(graph, op, inputs, depth - 1)
    return None


def _const_sign(value: object) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return NONNEG if value >= 0 else NONPOS


def _arithmetic(graph: ModelGraph, op: Op, inputs: list[Op], depth: int) -> Optional[str]:
    """Signs of ``a op b`` where each side is a tensor or a constant (``attrs["const"]``)."""
    if "const" in op.attrs and len(inputs) == 1:
        tensor = _sign(graph, inputs[0], depth)
        const = _const_sign(op.attrs["const"]) or op.attrs.get("const_sign")  # a value, or how it is written
        left, right = (const, tensor) if op.attrs.get("const_left") else (tensor, const)
    elif len(inputs) == 2:
        a, b = inputs
        if op.kind is OpKind.SUB and _bounds_above(graph, b, a):
            return NONPOS  # x - max(x), x - logsumexp(x)
        (base_a, sign_a), (base_b, sign_b) = _scaled(graph, a), _scaled(graph, b)
        if op.kind in (OpKind.MUL, OpKind.DIV) and base_a is base_b:
            return NONNEG if sign_a == sign_b else NONPOS  # x * x, -x * x
        left, right = _sign(graph, a, depth), _sign(graph, b, depth)
    else:
        return None
    if left is None or right is None:
        return None
    if op.kind in (OpKind.MUL, OpKind.DIV):
        return NONNEG if left == right else NONPOS
    if op.kind is OpKind.SUB:
        right = _FLIP[right]
    return left if left == right else None


def _scaled(graph: ModelGraph, op: Op) -> tuple[Op, str]:
    """``c * x`` as (x, sign of c), through reshapes and constant factors: ``-x`` is (x, NONPOS)."""
    factor = NONNEG
    for _ in range(_DEPTH):
        op = graph.unshape(op)
        const = _const_sign(op.attrs.get("const"))
        if op.kind not in (OpKind.MUL, OpKind.DIV) or len(op.inputs) != 1 or const is None or \
                (op.kind is OpKind.DIV and op.attrs.get("const_left")):
            break
        factor = factor if const == NONNEG else _FLIP[factor]
        op = graph.ops[op.inputs[0]]
    return op, factor


def _bounds_above(graph: ModelGraph, bound: Op, value: Op) -> bool:
    """Whether ``bound`` is the maximum (or logsumexp) of ``value`` itself."""
    reduced = graph.unshape(bound)
    return reduced.kind in _UPPER_BOUNDS and len(reduced.inputs) == 1 and \
        graph.unshape(graph.ops[reduced.inputs[0]]) is graph.unshape(value)
