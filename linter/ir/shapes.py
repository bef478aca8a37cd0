"""Static tensor shapes, as far as a frontend can know them cheaply.

Frontends record ``attrs["out_shape"]`` (a :class:`Shape`, or None when unknown) on the ops
they build; checks ask :func:`axis_size` how many elements an op's output has along an axis,
e.g. whether a softmax normalises over one unit. A model's input usually has an unknown
number of dimensions, but a ``Linear(h, 1)`` still fixes the last one: a shape may know only
its trailing dimensions (``ranked=False``). Anything not known is None, and None means silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from nnlint.ir.graph import ModelGraph, Op
from nnlint.ir.kinds import OpKind

Dim = Optional[int]


@dataclass(frozen=True, slots=True)
class Shape:
    """``dims`` are all the dimensions when ``ranked``, otherwise only the trailing ones."""

    dims: tuple[Dim, ...]
    ranked: bool = True

    def index(self, axis: Any) -> Optional[int]:
        """The position of ``axis`` (negative counts from the end) in ``dims``, None if unknown."""
        if not isinstance(axis, int) or isinstance(axis, bool):
            return None
        n = len(self.dims)
        if axis < 0:
            return n + axis if -axis <= n else None
        return axis if self.ranked and axis < n else None

    def size(self, axis: Any) -> Dim:
        i = self.index(axis)
        return None if i is None else self.dims[i]

    def replace(self, axis: Any, size: Dim) -> Optional["Shape"]:
        i = self.index(axis)
        if i is None:
            return None
        return Shape(self.dims[:i] + (size,) + self.dims[i + 1:], self.ranked)

    def drop(self, axis: Any) -> Optional["Shape"]:
        i = self.index(axis)
        if i is None:
            return None
        return Shape(self.dims[:i] + self.dims[i + 1:], self.ranked)

    def insert(self, axis: Any, size: Dim) -> Optional["Shape"]:
        """``unsqueeze``: a new axis at ``axis`` of the result (negative: counted in the result)."""
        if not isinstance(axis, int) or isinstance(axis, bool):
            return None
        n = len(self.dims)
        if axis < 0:
            i = n + 1 + axis
            return Shape(self.dims[:i] + (size,) + self.dims[i:], self.ranked) if i >= 0 else None
        return Shape(self.dims[:axis] + (size,) + self.dims[axis:], True) if self.ranked and axis <= n else None


def shape_of(op: Op) -> Optional[Shape]:
    shape = op.attrs.get("out_shape")
    return shape if isinstance(shape, Shape) else None


def softmax_axis(shape: Optional[Shape], dim: Any) -> Any:
    """The axis a softmax normalises over: ``dim``, or torch's implicit choice for a known rank."""
    if dim is not None:
        return dim
    if shape is not None and shape.ranked:
        return 0 if len(shape.dims) in (0, 1, 3) else 1
    return None


def axis_size(graph: ModelGraph, op: Op, axis: Any) -> Dim:
    """How many elements ``op``'s output has along ``axis``, or None when that is not known.

    Frontends that record no shapes (the op has no ``out_shape`` attr at all) still tell the
    width of a Linear layer, which is its output's last axis.
    """
    if "out_shape" in op.attrs:
        shape = shape_of(op)
        return shape.size(axis) if shape is not None else None
    if op.kind is OpKind.LINEAR and axis == -1:
        width = op.attrs.get("out_features")
        return width if isinstance(width, int) and not isinstance(width, bool) else None
    return None
