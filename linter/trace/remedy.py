"""A finding's remedy: the model with only that finding's fault fixed, as an edit of the IR.

Each check that confirms its findings by a measurement states, beside its ``confirm``, how to
fix one finding (``Check.remedy``): the final activation removed, the dropout rate inverted,
``log_softmax`` for ``log(softmax)``, a He init for a bad one, a sane learning rate. The trace
measures the model as written against the model rebuilt from the edited IR, so a verdict is an
experiment, not a threshold; and where another finding's fault hides this one (a final ReLU
that kills every gradient hides a learning rate), that finding's remedy is applied as well.
The autofix work reuses the same statements. No torch here: checks import this module.

An edit works on a copy of the graph made by :func:`remedied`: the ops it changes are copied
before they change (``edited``), the rest are shared, and op ids stay as they are, so the
measurements of the two models line up op by op.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Optional

from nnlint.frontends.keras_api import FUNCTION_MODULES
from nnlint.ir import InputRef, ModelGraph, Op, OpKind

K = OpKind


@dataclass(frozen=True)
class Remedy:
    """``what`` reads in a sentence ("the final ReLU removed"); ``edit`` changes a graph copy in
    place; ``None`` for a remedy that is not a change to the model (calling ``model.eval()``),
    which the check's own measurement already compares."""

    code: str  # the finding's code, named in evidence ("... removed (NN001)")
    what: str
    key: tuple  # what makes two remedies the same one (code and op id, say)
    edit: Optional[Callable[[ModelGraph], None]] = None
    #: the edit changes only what the model is fed (a graph input's range), not a layer: it fits
    #: any rebuilt model, a Keras one included
    inputs_only: bool = False
    #: the edit sets what an ONNX node reads (:func:`set_node_value`), which the ONNX executor
    #: honours: it fits an exported graph too
    onnx: bool = False
    #: the edit sets what the Keras builder reads: a Keras layer's own argument
    #: (:func:`set_keras_arg`), or the function of an activation or a tensor function
    #: (:func:`swap_function` of ``activation='softmax'``, ``K.softmax``): it fits a Keras model too
    keras: bool = False

    def named(self) -> str:
        return f"{self.what} ({self.code})" if self.code else self.what


def remedied(graph: ModelGraph, remedies: Iterable[Remedy]) -> ModelGraph:
    """A copy of ``graph`` with each remedy's edit applied (the original is left as it is)."""
    setup = replace(graph.setup, losses=[dict(x) for x in graph.setup.losses],
                    optimizers=[dict(x) for x in graph.setup.optimizers], loaders=list(graph.setup.loaders))
    twin = replace(graph, ops=dict(graph.ops), inputs=list(graph.inputs), outputs=list(graph.outputs), setup=setup,
                   _consumers=None, _by_kind=None)
    for remedy in remedies:
        if remedy.edit is not None:
            remedy.edit(twin)
    return twin


def edited(graph: ModelGraph, op_id: int) -> Op:
    """The graph copy's own copy of an op, to change (attrs copied one level deep)."""
    op = graph.ops[op_id]
    mine = copy.copy(op)
    mine.attrs = dict(op.attrs)
    graph.ops[op_id] = mine
    graph._consumers = graph._by_kind = None
    return mine


def to_identity(graph: ModelGraph, op_id: int) -> None:
    """The op computes nothing: its input passes through (an activation removed)."""
    op = edited(graph, op_id)
    op.kind, op.type_name, op.attrs, op.inputs = K.IDENTITY, "torch.nn.Identity", {"call": ([], {})}, op.inputs[:1]


def edit_called_model(graph: ModelGraph, call_id: int, edit: Callable[[ModelGraph], None]) -> None:
    """Training code's call ``call_id`` runs an edited copy of its model (the trace runs a
    model's ops in place of its call: :mod:`nnlint.trace.model_calls`)."""
    call = edited(graph, call_id)
    model = call.attrs["model_call"]
    twin = replace(model, ops=dict(model.ops), _consumers=None, _by_kind=None)
    edit(twin)
    call.attrs["model_call"] = twin


def scale_weights(graph: ModelGraph, op_id: int, factor: float) -> None:
    """The layer's weight multiplied by ``factor`` after its initialisation (as training grows
    weights: not a remedy, an experiment a check asks for)."""
    op = edited(graph, op_id)
    op.attrs["inits"] = [*op.attrs.get("inits", ()), {"fn": "mul_", "method": True, "args": [factor], "kwargs": {},
                                                      "param": "weight", "certain": True}]


def swap_function(graph: ModelGraph, op_id: int, kind: OpKind, module: str, function: str) -> None:
    """The op computes another function with the same arguments: ``nn.Softmax(dim=1)`` becomes
    ``nn.LogSoftmax(dim=1)``, ``F.softmax(x, dim=1)`` becomes ``F.log_softmax(x, dim=1)``;
    a tensor method becomes the functional form of its replacement."""
    op = edited(graph, op_id)
    short = op.type_name.rsplit(".", 1)[-1]
    is_layer = op.type_name.startswith("torch.nn.") and short[:1].isupper()
    op.kind = kind
    if op.type_name.startswith("tensorflow."):  # tf.nn.softmax(x) -> tf.nn.log_softmax(x): the same axis
        op.type_name = f"tensorflow.nn.{function}"
    elif keras_function(op):
        op.type_name = f"{op.type_name.rpartition('.')[0]}.{function}"  # activation='softmax', K.softmax(x)
    else:
        op.type_name = f"torch.nn.{module}" if is_layer else f"torch.nn.functional.{function}"


def keras_function(op: Op) -> bool:
    """A Keras activation (``activation='softmax'``) or tensor function (``K.softmax(x)``): the
    Keras builder builds it by its kind, so :func:`swap_function` changes what it computes."""
    return op.type_name.startswith(("keras.activations.", *FUNCTION_MODULES))


def to_sigmoid(graph: ModelGraph, op_id: int) -> None:
    """The op (a softmax over one unit, say) becomes a sigmoid of the same input."""
    op = edited(graph, op_id)
    is_layer = op.type_name.startswith("torch.nn.") and op.type_name.rsplit(".", 1)[-1][:1].isupper()
    op.kind, op.inputs = K.SIGMOID, op.inputs[:1]
    op.type_name = "torch.nn.Sigmoid" if is_layer else "torch.sigmoid"
    op.attrs = {"call": ([], {}) if is_layer else ([InputRef(0)], {})}


def set_call(graph: ModelGraph, op_id: int, position: Optional[int], keyword: str, value) -> None:
    """A constructor or call argument set: at ``position`` where the code passed it there,
    else by ``keyword``."""
    op = edited(graph, op_id)
    args, kwargs = op.attrs.get("call", ([], {}))
    args, kwargs = list(args), dict(kwargs)
    if position is not None and len(args) > position and keyword not in kwargs:
        args[position] = value
    else:
        kwargs[keyword] = value
    op.attrs["call"] = (args, kwargs)
    op.attrs[keyword] = value


def set_node_value(graph: ModelGraph, op_id: int, name: str, value, attr: Optional[str] = None) -> None:
    """An ONNX node run as if it read ``value`` for ``name`` (an attribute, or the input that
    carries it from opset 12 on: a Dropout's ``ratio``): the graph as exported, measured with
    one value changed. ``attr``: the IR attribute that holds the same value, kept in step."""
    op = edited(graph, op_id)
    op.attrs["onnx_overrides"] = {**op.attrs.get("onnx_overrides", {}), name: value}
    if attr is not None:
        op.attrs[attr] = value


def set_keras_arg(graph: ModelGraph, op_id: int, name: str, value) -> None:
    """A Keras layer's argument as the builder reads it (``Dropout(rate=...)``)."""
    op = edited(graph, op_id)
    op.attrs["keras"] = {**op.attrs.get("keras", {}), name: value}


def set_weight_init(graph: ModelGraph, op_id: int, fn: str, kwargs: dict) -> None:
    """The layer's weight initialised by ``nn.init.<fn>`` instead of what the code applied."""
    op = edited(graph, op_id)
    kept = [i for i in op.attrs.get("inits", ()) if i.get("param") != "weight"]
    op.attrs["inits"] = [*kept, {"param": "weight", "fn": fn, "args": [], "kwargs": dict(kwargs), "method": False,
                                 "certain": True, "origin": None}]


def set_input_range(graph: ModelGraph, low, high, only: Optional[int] = None) -> None:
    """Each graph input (``only`` that one: the placeholder the data is fed to, of a graph with
    several) fed values spread over [low, high] (the data as loaded, or scaled) instead of the
    trace's standard normal inputs (``low`` and ``high`` tuples: a range per column of a
    published table)."""
    for op_id in graph.inputs if only is None else [only]:
        if graph.ops[op_id].kind is K.INPUT:
            edited(graph, op_id).attrs["value_range"] = (low, high)


#: inits that give every weight one value: a layer behind them sees no difference between samples
CONSTANT_INITS = ("zeros_", "ones_", "constant_")


def redrawn_constant_inits(graph: ModelGraph) -> Optional[Remedy]:
    """The layers the code starts at a constant (``nn.init.zeros_``, ``tf.zeros``) drawn at random
    instead, as the builder draws an uninitialised layer; None when no layer is. Not a finding's
    remedy: a zero-initialised output layer is an idiom that the first training step moves off,
    but at initialisation it makes every later input constant, so no forward pass could show a
    fault behind it. The trace applies it, and says so, only where it is what a measurement's
    precondition lacks and no finding's remedy restores it."""
    layers = [op for op in graph.ops.values() if any(
        i.get("fn") in CONSTANT_INITS and i.get("param") in ("weight", "bias") for i in op.attrs.get("inits", ()))]
    weights = [op for op in layers if any(i.get("fn") in CONSTANT_INITS and i.get("param") == "weight"
                                          for i in op.attrs.get("inits", ()))]
    if not weights:  # constant biases alone never make a layer's output constant
        return None

    def edit(g: ModelGraph) -> None:
        for op in layers:
            mine = edited(g, op.id)
            mine.attrs["inits"] = [i for i in op.attrs.get("inits", ()) if i.get("fn") not in CONSTANT_INITS]

    names = ", ".join(op.label or op.describe() for op in weights[:3]) + (", ..." if len(weights) > 3 else "")
    return Remedy("", f"the constant initial weights of {names} drawn at random instead (training moves them)",
                  ("redraw", tuple(op.id for op in layers)), edit)
