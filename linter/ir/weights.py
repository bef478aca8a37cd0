"""How many trained weights a model has, where every layer's widths are static.

A model of a few dozen weights (a line fit, a five-unit character RNN) converges at step sizes
that make a deep network diverge, so a rule about hyperparameters tuned for deep models asks
this before it warns. Widths come from a layer's own arguments (``in_features``,
``input_size``, Keras ``input_shape``) or from the static shape of what feeds it
(:mod:`nnlint.ir.shapes`). One layer whose size is not known makes the whole count unknown:
the count is a premise, never a guess.
"""

from __future__ import annotations

from typing import Optional

from nnlint.ir.graph import ModelGraph, Op
from nnlint.ir.kinds import ACTIVATIONS, TRAINABLE, OpKind
from nnlint.ir.shapes import shape_of

#: Ops that keep the feature width of their input.
_SAME_WIDTH = ACTIVATIONS | {OpKind.DROPOUT, OpKind.IDENTITY}


def hidden_weights(graph: ModelGraph) -> bool:
    """Whether ``graph`` may hold weights outside its layer ops: a module nnlint cannot read
    (an ``UNKNOWN`` op not marked ``weightless``), a raw variable (TF1), or an op that reads a
    tensor from outside the graph (``x @ self.w`` with an ``nn.Parameter``)."""
    return any(op.kind is OpKind.UNKNOWN and not op.attrs.get("weightless") or op.attrs.get("variable")
               or op.attrs.get("foreign") for op in graph.ops.values())


def without_weights(graph: ModelGraph) -> bool:
    """Whether ``graph`` has nothing to train: no layer with weights (nor a norm's affine
    ones) and nowhere weights could hide. A "model" that is one activation (a benchmark
    harness wrapping a Softmax layer) learns nothing, whatever loss it is compiled with."""
    return not hidden_weights(graph) and not any(op.kind in TRAINABLE for op in graph.ops.values())


def weight_count(graph: ModelGraph) -> Optional[tuple[int, int]]:
    """The number of trained weights in ``graph``'s layers and the widest layer's width (input
    or output features), or None if any layer's size is unknown or weights may hide elsewhere.

    A layer called several times (one module object) counts once."""
    if hidden_weights(graph):
        return None
    total, widest, seen = 0, 0, set()
    for op in graph.ops.values():
        if op.kind not in (OpKind.LINEAR, OpKind.RNN, OpKind.EMBEDDING, OpKind.CONV, OpKind.CONV_TRANSPOSE):
            continue
        module = op.attrs.get("module", ("op", op.id))
        if module in seen:
            continue
        seen.add(module)
        sized = _layer_weights(graph, op)
        if sized is None:
            return None
        total += sized[0]
        widest = max(widest, sized[1])
    return total, widest


def _layer_weights(graph: ModelGraph, op: Op) -> Optional[tuple[int, int]]:
    """(weights, widest of input and output width) of one layer."""
    a = op.attrs
    keras = a.get("keras") or {}
    bias = 1 if a.get("bias", True) else 0
    if op.kind is OpKind.EMBEDDING:
        rows = _int(a.get("num_embeddings", keras.get("input_dim")))
        dim = _int(a.get("embedding_dim", keras.get("output_dim")))
        return (rows * dim, dim) if rows and dim else None
    if op.kind is OpKind.LINEAR:
        out = _int(a.get("out_features", keras.get("units")))
        width = _int(a.get("in_features")) or _keras_input_width(keras) or _input_width(graph, op)
        return ((width + bias) * out, max(width, out)) if width and out else None
    if op.kind is OpKind.RNN:
        hidden = _int(a.get("hidden_size", keras.get("units")))
        width = _int(a.get("input_size")) or _keras_input_width(keras) or _input_width(graph, op)
        layers = _int(a.get("num_layers", 1))
        if not (hidden and width and layers):
            return None
        short = op.type_name.rsplit(".", 1)[-1]
        gates = 4 if "LSTM" in short else 3 if "GRU" in short else 1
        first = gates * (hidden * (width + hidden) + 2 * bias * hidden)
        rest = gates * (hidden * 2 * hidden + 2 * bias * hidden)
        return first + (layers - 1) * rest, max(width, hidden)
    return None  # convolutions: the kernel's size is rarely all static; not counted


def _input_width(graph: ModelGraph, op: Op) -> Optional[int]:
    """The feature width (last axis) of ``op``'s first input, through width-keeping ops."""
    seen = 0
    while op.inputs and seen < 64:
        seen += 1
        op = graph.ops[op.inputs[0]]
        shape = shape_of(op)
        if shape is not None and shape.dims and _int(shape.dims[-1]):
            return shape.dims[-1]
        keras = op.attrs.get("keras") or {}
        out = _int(op.attrs.get("out_features", op.attrs.get("hidden_size", keras.get("units"))))
        if out and op.kind in (OpKind.LINEAR, OpKind.RNN):
            return out
        if op.kind not in _SAME_WIDTH:
            return None
    return None


def _keras_input_width(keras: dict) -> Optional[int]:
    shape = keras.get("input_shape")
    if isinstance(shape, (tuple, list)) and shape:
        return _int(shape[-1])
    return _int(keras.get("input_dim"))


def _int(value: object) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
