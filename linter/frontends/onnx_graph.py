"""The ONNX frontend: an ONNX graph -> the model IR, so the graph checks run on exports too.

Nodes map to framework-neutral kinds (Gemm and MatMul-with-a-constant -> LINEAR, Conv ->
CONV, ...); a following ``Add`` of a constant is folded into the layer as its bias, as
exporters (CNTK, older PyTorch) write it. Weight statistics come from initializers and
``Constant``/``ConstantOfShape`` outputs through :mod:`onnx_load`. Subgraphs (If/Loop/Scan)
are opaque UNKNOWN nodes: nothing is guessed about them.
"""

from __future__ import annotations

import math
from itertools import count
from typing import Iterable, Optional

from nnlint.frontends.onnx_proto import TensorProto

from nnlint.frontends.onnx_columns import NodeColumns
from nnlint.frontends.onnx_load import LoadedModel, Weights, attribute
from nnlint.frontends.program import Program
from nnlint.ir import WEIGHTED, ModelGraph, Op, OpKind, Origin

K = OpKind

_KINDS: dict[str, OpKind] = {
    "Gemm": K.LINEAR, "Conv": K.CONV, "ConvTranspose": K.CONV_TRANSPOSE, "MatMul": K.MATMUL,
    "BatchNormalization": K.BATCH_NORM, "LayerNormalization": K.LAYER_NORM,
    "SkipLayerNormalization": K.LAYER_NORM, "SimplifiedLayerNormalization": K.LAYER_NORM,
    "SkipSimplifiedLayerNormalization": K.LAYER_NORM, "EmbedLayerNormalization": K.LAYER_NORM,
    "RMSNormalization": K.LAYER_NORM, "GroupNormalization": K.GROUP_NORM,
    "InstanceNormalization": K.INSTANCE_NORM, "Relu": K.RELU, "LeakyRelu": K.LEAKY_RELU,
    "PRelu": K.LEAKY_RELU, "Elu": K.ELU, "Celu": K.ELU, "Selu": K.SELU, "Gelu": K.GELU,
    "FastGelu": K.GELU, "BiasGelu": K.GELU, "QuickGelu": K.GELU, "Sigmoid": K.SIGMOID,
    "HardSigmoid": K.SIGMOID, "Tanh": K.TANH, "Softplus": K.SOFTPLUS, "Softmax": K.SOFTMAX,
    "LogSoftmax": K.LOG_SOFTMAX, "Exp": K.EXP, "Log": K.LOG, "ReduceSum": K.REDUCE_SUM,
    "ReduceMax": K.REDUCE_MAX, "ReduceLogSumExp": K.LOGSUMEXP, "Add": K.ADD, "Sum": K.ADD,
    "Sub": K.SUB, "Mul": K.MUL, "Div": K.DIV, "Dropout": K.DROPOUT, "Flatten": K.RESHAPE,
    "Reshape": K.RESHAPE, "Transpose": K.RESHAPE, "Squeeze": K.RESHAPE, "Unsqueeze": K.RESHAPE,
    "Identity": K.IDENTITY, "Cast": K.RESHAPE, "MaxPool": K.POOL, "AveragePool": K.POOL,
    "GlobalAveragePool": K.POOL, "GlobalMaxPool": K.POOL, "Concat": K.CONCAT,
}

#: Kinds whose ops carry attributes (the rest share one empty dict).
_WITH_ATTRS = {K.MATMUL, K.LINEAR, K.CONV, K.CONV_TRANSPOSE, K.DROPOUT, K.SOFTMAX, K.LOG_SOFTMAX, K.ADD}
#: The kinds the per-node loop tests, as module names: in Python 3.11 ``OpKind.X`` goes through
#: the enum metaclass's ``__getattr__`` hook, 70 ns a time, several times a node.
_UNKNOWN, _MATMUL, _LINEAR, _DROPOUT, _IDENTITY = K.UNKNOWN, K.MATMUL, K.LINEAR, K.DROPOUT, K.IDENTITY
_SOFTMAXES = frozenset({K.SOFTMAX, K.LOG_SOFTMAX})

#: ONNX training losses that apply log-softmax themselves.
CROSS_ENTROPY_LOSSES = {"SoftmaxCrossEntropyLoss"}
_INTEGER_INPUTS = {TensorProto.UINT8, TensorProto.INT8, TensorProto.UINT16, TensorProto.INT16,
                   TensorProto.INT32, TensorProto.INT64}


def convert(loaded: LoadedModel, path: str, task: Optional[str]) -> Program:
    model = loaded.model
    graph_proto = model.graph
    weights = Weights(loaded)
    weights.check_external()
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    graph = ModelGraph(name=graph_proto.name or path, path=path, is_model=True, instantiated=True, artifact=loaded)
    producer: dict[str, int] = {}
    for value in graph_proto.input:
        if value.name in weights:
            continue
        elem = value.type.tensor_type.elem_type if value.type.HasField("tensor_type") else 0
        integer = elem in _INTEGER_INPUTS
        attrs = {"integer": True, "dtype": TensorProto.DataType.Name(elem).lower()} if integer else {"integer": False}
        op = graph.add(K.INPUT, "input", attrs=attrs,
                       origin=Origin(path, graph_node=_text(value.name)), label=_text(value.name))
        producer[value.name] = op.id
        graph.inputs.append(op.id)
    _add_nodes(graph, loaded.nodes.columns(), weights, opset, producer)
    graph.outputs = [producer[o.name] for o in graph_proto.output if o.name in producer]
    graph.setup.task = task
    program = Program(path=path)
    program.graphs.append(graph)
    program.instantiated.append(graph)
    program.raw_inputs.extend(_raw_inputs(graph, path))
    return program


def _add_nodes(graph: ModelGraph, columns: Iterable[NodeColumns], weights: Weights, opset: int,
               producer: dict[str, int]) -> None:
    """One op per node, in node order; ``producer`` maps each value name to the op that computes it.

    This loop runs once per node of graphs with millions of them, so a node's fields come
    read in bulk, a chunk of nodes at a time (:mod:`onnx_columns`), and the parsed node is
    looked at only for the few kinds whose attributes count; what an op type implies (its
    kind, one string for all its nodes) is looked up once per type, not per node; ops that
    record the same things share one ``attrs`` dict, which nothing mutates (one empty dict
    for most ops, one per weight for MatMuls, one per ratio for Dropouts: a graph may repeat
    one block a million times, and a dict per op costs a tenth of the loop); and ops go
    straight into ``graph.ops``, not through ``graph.add``, which would also reset the
    graph's indexes (none are built yet) and costs 6% of the loop. The statistics of the
    weights layers use are computed a chunk at a time, each chunk's in one batch (see
    :func:`_weight_facts`): of those only, while little of the graph is built.
    """
    ops, consts, node_op = graph.ops, weights.names, _node_op_class(graph.path)
    stated: list[tuple] = []  # the weight facts of the chunk's layers, to be completed (see _weight_facts)
    types: dict[str, tuple[str, OpKind]] = {}
    linears: dict[str, dict] = {}  # MatMul weight name -> the attrs of the linear layers it makes
    biased: dict[int, tuple[dict, dict]] = {}  # id of such attrs -> them, and them with a bias
    ratios: dict[str, dict] = {}  # Dropout ratio input -> the attrs of the Dropouts it makes
    no_attrs: dict = {}
    next_id, known = len(ops), producer.get
    for chunk in columns:
        protos, start = chunk.protos, chunk.start  # a node parsed, for its attributes: protos[index - start]
        for index, op_type, ins, outs, name, domain in zip(count(start), chunk.op_types, chunk.inputs, chunk.outputs,
                                                          chunk.names, chunk.domains):
            found = types.get(op_type)
            if found is None:
                found = types[op_type] = (op_type, _KINDS.get(op_type, _UNKNOWN))
            op_type, kind = found
            if op_type in _FOLDED:
                if op_type in _CONSTANTS and all(o in consts for o in outs):
                    continue
                if op_type in _VALUE_PRESERVING and ins and ins[0] in consts and outs:
                    weights.alias(outs[0], ins[0], _alias_dims(protos[index - start], weights.dims(ins[0])))
                    linears.pop(outs[0], None)  # the name now stands for other values
                    ratios.pop(outs[0], None)
                    continue  # a constant reshaped or transposed is still the same weights
            if kind is not _UNKNOWN and domain and domain not in _ONNX_DOMAINS:
                kind = _UNKNOWN
            inputs = []
            for value in ins:
                source = known(value)
                if source is not None:
                    inputs.append(source)
            attrs = no_attrs
            if kind in _WITH_ATTRS:
                if kind is _MATMUL:
                    weight = _sole_constant(ins, consts) if len(ins) == 2 else None
                    if weight is not None:
                        kind = _LINEAR  # x @ W with a constant W is a linear layer
                        attrs = linears.get(weight)
                        if attrs is None:
                            attrs = linears[weight] = {"bias": False, "weight": weight}
                            _weight_facts(attrs, protos[index - start], op_type, weights, stated, kind)
                            biased[id(attrs)] = (attrs, {**attrs, "bias": True})
                            stated.append((biased[id(attrs)][1], *stated[-1][1:]))
                elif kind in WEIGHTED:
                    attrs = {"bias": len(ins) > 2 and bool(ins[2]), "weight": ins[1] if len(ins) > 1 else None}
                    if attrs["weight"]:
                        _weight_facts(attrs, protos[index - start], op_type, weights, stated, kind)
                elif kind is _DROPOUT:
                    ratio = ins[1] if opset >= 12 and len(ins) > 1 else ""
                    if not ratio:
                        attrs = {"p": _ratio_attribute(protos[index - start])}
                    else:
                        attrs = ratios.get(ratio)
                        if attrs is None:
                            attrs = ratios[ratio] = {"p": weights.scalar(ratio)}
                elif kind in _SOFTMAXES:
                    attrs = {"dim": attribute(protos[index - start], "axis", -1 if opset >= 13 else 1)}
                elif len(inputs) == 1 and _folds_bias(ops[inputs[0]], ins, consts, biased):
                    kind = _IDENTITY  # an Add of a constant: the bias of the layer before it
            elif op_type == "Cast":
                attrs = {"cast": True}
            if name.__class__ is bytes:
                name = _text(name)
            name = name or f"{op_type}#{index}"
            op = node_op(next_id, kind, op_type, attrs, inputs, name)
            ops[next_id] = op
            for output in outs:
                if output:
                    producer[output] = next_id
            next_id += 1
            if op_type in CROSS_ENTROPY_LOSSES and inputs:
                graph.setup.losses.append({"type_name": op_type, "task": "classification", "origin": op.origin,
                                           "input": inputs[0]})
        if stated:
            _state_weights(stated, weights)


def _node_op_class(path: str) -> type[Op]:
    """The class of the ops made from the nodes of the graph in ``path``.

    Their ``origin`` (the file and the node's name, which is the op's label) is made when
    something asks for it, not stored: a graph has millions of nodes and a few findings, and
    an Origin per node would cost 6% of the conversion.
    """

    class NodeOp(Op):
        __slots__ = ()

        def __init__(self, id: int, kind: OpKind, type_name: str, attrs: dict, inputs: list[int], label: str) -> None:
            self.id = id
            self.kind = kind
            self.type_name = type_name
            self.attrs = attrs
            self.inputs = inputs
            self.label = label

        @property
        def origin(self) -> Origin:
            return Origin(path, None, self.label)

        def __copy__(self) -> "NodeOp":  # a remedy's edit copies the op (its origin is no slot to copy)
            return NodeOp(self.id, self.kind, self.type_name, self.attrs, self.inputs, self.label)

    return NodeOp


def _sole_constant(ins: list[str], consts: set[str]) -> Optional[str]:
    """The one input that is a constant, or None when none or several are."""
    found = None
    for value in ins:
        if value and value in consts:
            if found is not None:
                return None
            found = value
    return found


def _text(name) -> str:
    """A name from the protobuf; malformed files can hold bytes that are not UTF-8."""
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else name


_VALUE_PRESERVING = {"Transpose", "Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
_CONSTANTS = {"Constant", "ConstantOfShape"}
#: Op types whose node may stand for a constant rather than an op.
_FOLDED = _VALUE_PRESERVING | _CONSTANTS
_ONNX_DOMAINS = ("ai.onnx", "com.microsoft")


def _alias_dims(node, dims: Optional[tuple[int, ...]]) -> Optional[tuple[int, ...]]:
    if dims is None or node.op_type in ("Identity", "Cast"):
        return dims
    if node.op_type == "Transpose":
        perm = attribute(node, "perm", None) or list(reversed(range(len(dims))))
        return tuple(dims[i] for i in perm) if len(perm) == len(dims) else None
    return None  # a new shape we would have to compute: fan-in unknown


def _ratio_attribute(node) -> Optional[float]:
    """A Dropout's ratio before opset 12, or when it has no ratio input."""
    ratio = attribute(node, "ratio", 0.5)
    return float(ratio) if isinstance(ratio, (int, float)) else None


def _folds_bias(layer: Op, ins: list[str], consts: set[str], biased: dict[int, tuple[dict, dict]]) -> bool:
    """Mark a bias-free layer whose output goes straight into ``Add(const)`` as having a bias:
    attrs shared with other layers are swapped for their biased twin (``biased``, by id; it
    holds the attrs too, so an id stays theirs), a layer's own attrs are changed."""
    if layer.kind not in WEIGHTED or layer.attrs.get("bias") is not False or _sole_constant(ins, consts) is None:
        return False
    shared = biased.get(id(layer.attrs))
    if shared is not None:
        layer.attrs = shared[1]
    else:
        layer.attrs["bias"] = True
    return True


def _weight_facts(attrs: dict, node, op_type: str, weights: Weights, stated: list[tuple], kind: OpKind) -> None:
    """A layer's weight facts, its statistics and fan-in, completed at the end of the chunk by
    :func:`_state_weights`: ``stated`` gets the weight whose values the name stands for, and
    its shape where the name is an alias (as aliases stand now), and which axis is the input's."""
    name = attrs["weight"]
    attrs["weight_stats"] = None
    groups = attribute(node, "group", 1) if op_type in ("Conv", "ConvTranspose") else 1
    if isinstance(groups, int) and groups > 1:
        attrs["groups"] = groups  # each group of units reads its own channels
    alias = weights.aliases.get(name)
    if op_type == "Gemm":
        axis = 1 if attribute(node, "transB", 0) else 0
    else:
        axis = 0 if kind is _LINEAR else 1
    stated.append((attrs, weights.source(name), alias is not None, alias[1] if alias else None, axis))


def _state_weights(stated: list[tuple], weights: Weights) -> None:
    """Complete the weight facts of a chunk's layers (see :func:`_weight_facts`): their
    weights summarised in one batch, and their fan-in (axis 0: the first dimension; 1: the
    second times the kernel's, as a Conv's or a transposed Gemm's)."""
    facts = weights.facts({entry[1] for entry in stated})
    for attrs, source, aliased, dims, axis in stated:
        own_dims, attrs["weight_stats"] = facts[source]
        if not aliased:
            dims = own_dims
        if dims is None or len(dims) < 2:
            continue
        fan_in = dims[0] if axis == 0 else dims[1] * math.prod(dims[2:])
        if fan_in > 0:
            attrs["fan_in"] = fan_in
    stated.clear()


def _raw_inputs(graph: ModelGraph, path: str) -> list[dict]:
    """Integer (e.g. uint8 image) inputs that reach a layer through casts and reshapes only."""
    flows = []
    for op in graph.find(K.INPUT):
        if not op.attrs.get("integer"):
            continue
        for layer in graph.walk_forward(op, lambda o: o.kind in (K.RESHAPE, K.IDENTITY)):
            if layer.kind in (K.LINEAR, K.CONV, K.CONV_TRANSPOSE):
                flows.append({"what": f"integer input '{op.label}' (raw values)", "sink": f"{layer.describe()}",
                              "at": layer.origin, "origin": op.origin})
    return flows
