"""Rebuild a model graph from the IR as real torch modules, without running the user's code.

Each op becomes a step. Layers are constructed from the ``torch.nn`` class the code named,
with the constructor arguments the frontend resolved; functions and tensor methods are
replayed from their recorded calls; init calls are re-applied to the built parameters. Only
names from nnlint's own tables of torch's API are looked up, and only with constant
arguments, so nothing the user wrote is executed.

An op that cannot be rebuilt faithfully (an unknown call, an argument only known at run
time, a Keras layer) is *broken*, and so is everything computed from it: findings about
those ops are inconclusive, with the reason. Never a guess, with two documented readings of
common idioms: ``F.dropout(..., training=<runtime value>)`` follows the module's mode (it is
``self.training`` in practice), and a reshape whose sizes are only known at run time
(``x.view(x.size(0), -1)``) feeding a ``Linear`` flattens each sample, which the Linear's
``in_features`` then verifies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Optional

import torch
from torch import nn

from nnlint.frontends import keras_api as kapi
from nnlint.frontends import torch_api as api
from nnlint.frontends.values import Rows
from nnlint.trace import keras_build, tf_build
from nnlint.ir import InputRef, ModelGraph, Op, OpKind
from nnlint.ir.kinds import WEIGHTED
from nnlint.trace.budget import Budget, OverBudget, product
from nnlint.trace.errors import CannotBuild, one_line
from nnlint.trace.model_calls import Copies, inline_model_calls
from nnlint.trace.picks import every_candidate, is_selection
from nnlint.trace.stand_ins import (SEQUENCE_LENGTH, SIZES, STAND_IN, STAND_IN_CHANNELS, STAND_IN_MAPS, STAND_IN_OUTPUTS,
                                    is_size)

K = OpKind
Step = Callable[[list[torch.Tensor]], torch.Tensor]

#: Spatial sizes tried for convolutional inputs: the first one at which every layer's sizes
#: fit is used (a 28x28 MNIST net and a 224x224 ResNet both find theirs), common sizes first.
SPATIAL_SIZES = (32, 28, 64, 224, 16, 96, 8, *range(1, 65))
#: Width of a plain tensor input that no layer constrains (a softmax helper's logits).
FREE_WIDTH = 10
#: Layers whose first argument is the size of the data they receive, by class name: it is
#: taken from that data (their ``Lazy`` class) when the code's value is unknown. An embedding's
#: vocabulary bounds the token ids instead: it is STAND_IN, and so are the ids traced.
_INPUT_SIZE = {
    "Linear": "in_features",
    **{f"{c}{d}d": "in_channels" for c in ("Conv", "ConvTranspose") for d in (1, 2, 3)},
    **{f"{c}{d}d": "num_features" for c in ("BatchNorm", "InstanceNorm") for d in (1, 2, 3)},
    "Embedding": "num_embeddings", "EmbeddingBag": "num_embeddings",
}

#: Convolution classes, eager and lazy: their output channels are their second argument (first, lazy).
_CONVOLUTIONS = frozenset(getattr(nn, f"{lazy}{c}{d}d") for lazy in ("", "Lazy") for c in ("Conv", "ConvTranspose")
                          for d in (1, 2, 3))

_BINARY = {K.ADD: torch.add, K.SUB: torch.sub, K.MUL: torch.mul, K.DIV: torch.div, K.MATMUL: torch.matmul}
#: Tensor methods that only move a tensor between devices or flags: identity here.
_DEVICE_METHODS = {"to", "cuda", "cpu", "type", "requires_grad_"}
_TENSOR_INITS = {"normal_", "uniform_", "fill_", "zero_", "mul_"}  # mul_: remedy.scale_weights
#: Tensor methods outside the frontend's tables that compute a new tensor from one tensor and
#: constants, with no side effect: safe and faithful to replay.
_PURE_METHODS = {"mean", "std", "var", "abs", "neg", "sqrt", "rsqrt", "pow", "square", "clamp", "clip", "amin",
                 "norm", "cumsum", "prod", "square", "reciprocal", "sign", "round", "floor", "ceil"}
#: The same computations as torch functions, with the elementwise functions of periodic and
#: smooth features (``torch.sin(self.fc1(x))`` of a sinusoidal network): replayed as written.
_PURE_FUNCTIONS = {f"torch.{name}" for name in (*_PURE_METHODS, "sin", "cos", "erf", "expm1", "log1p", "clamp_min",
                                                 "clamp_max")}


@dataclass
class InputSpec:
    shape: tuple[int, ...]  # batch first
    integer_below: Optional[int] = None  # token ids in [0, n) for an embedding input
    #: (op id, size, value) for each size of the data that is a stand-in the layer reading it is
    #: sized to (a Keras Dense no one gave an input size); ``value`` where no torch layer holds
    #: it (a Keras Embedding's ``input_length``: the steps of the token ids), else None
    stood_in: tuple[tuple[int, str, Optional[int]], ...] = ()

    def nbytes(self, batch: int) -> int:
        """What ``make`` allocates at ``batch`` (token ids are int64, other inputs float32)."""
        return product(self.shape[1:]) * batch * (8 if self.integer_below is not None else 4)

    def make(self, batch: int, generator: torch.Generator, device: torch.device, scale: float = 1.0) -> torch.Tensor:
        shape = (batch, *self.shape[1:])
        if self.integer_below is not None:
            return torch.randint(0, self.integer_below, shape, generator=generator).to(device)
        return (torch.randn(shape, generator=generator) * scale).to(device)


#: Kinds whose rebuilt op computes the same in training and evaluation mode and draws no random
#: numbers. Not dropout, batch norm, instance norm (running statistics when asked), recurrent
#: layers (dropout between layers) or anything unknown (``randn_like``, attention's dropout).
_MODE_FREE = frozenset({
    K.LINEAR, K.CONV, K.CONV_TRANSPOSE, K.EMBEDDING, K.LAYER_NORM, K.GROUP_NORM, K.RELU, K.RELU6,
    K.LEAKY_RELU, K.ELU, K.SELU, K.GELU, K.SILU, K.SOFTPLUS, K.SIGMOID, K.TANH, K.SOFTMAX,
    K.LOG_SOFTMAX, K.EXP, K.LOG, K.ADD, K.SUB, K.MUL, K.DIV, K.MATMUL, K.REDUCE_SUM, K.REDUCE_MAX,
    K.LOGSUMEXP, K.RESHAPE, K.POOL, K.CONCAT, K.IDENTITY,
})


#: functions of one tensor, defined on every real number: where the value one is applied to is
#: one the analysis does not follow, a random input stands in for it (see fed_where_unknown)
_FEEDABLE = frozenset({K.SOFTMAX, K.LOG_SOFTMAX, K.SIGMOID, K.TANH, K.RELU, K.LEAKY_RELU, K.ELU, K.GELU, K.SILU,
                       K.SOFTPLUS})


def fed_where_unknown(graph: ModelGraph) -> tuple[ModelGraph, set[int], list[str]]:
    """Training code often applies a layer to a value the analysis does not follow (``first,
    second = model(x)`` from an unknown model, then ``torch.log(self.softmax(first + second))``):
    the op is in the graph with no input. Outside a model, where such a value is the logits
    the code computes with, a softmax or another function defined on every number is fed a
    random input of its own (FREE_WIDTH wide, as a helper's logits are), said in the evidence,
    rather than the part after it being fed values it could never produce (a softmax's output
    is a probability). The graph returned is a copy with an input op before each such op;
    also the ids of those inputs (not measurements of the model) and what to say."""
    if graph.is_model or graph.artifact is not None:
        return graph, set(), []
    starved = {op.id for op in graph.ops.values()
               if not op.inputs and op.kind in _FEEDABLE and api.canonical(op.type_name) in api.LAYERS}
    if not starved:
        return graph, set(), []
    ops: dict[int, Op] = {}
    fed: set[int] = set()
    notes: list[str] = []
    next_id = max(graph.ops) + 1
    for op in graph.ops.values():  # creation order stays a topological order: each input before its op
        if op.id in starved:
            source = Op(next_id, K.INPUT, "input", label=f"the input of {op.label or op.type_name}")
            ops[source.id], next_id = source, next_id + 1
            fed.add(source.id)
            notes.append(f"{op.describe()} is applied to a value the analysis does not follow: fed random "
                         f"inputs of {FREE_WIDTH} per sample")
            op = replace(op, inputs=[source.id])
        ops[op.id] = op
    return replace(graph, ops=ops, inputs=[*graph.inputs, *sorted(fed)], _consumers=None, _by_kind=None), fed, notes


def _mode_free(op: Op) -> bool:
    return op.kind in _MODE_FREE and "rrelu" not in op.type_name.lower()  # RReLU: a random slope in training


class SharedLayers:
    """Layers built for one graph, lent to its remedies' variants. A remedy edits a copy of the
    IR in which only the ops it changes are new objects (:func:`~nnlint.trace.remedy.edited`),
    so an op that is the very same object in a variant is the same layer: the variant takes it,
    initial weights included, instead of constructing and initialising it again. This makes the
    counterfactual exact (the two models differ only where the remedy changed them) and saves a
    small model's trace most of its rebuilding. One set serves one device (one ``--trace`` run).
    Sharing is safe because every measurement puts back what it changes (weights after the
    optimizer step, running statistics, a shifted bias) and starts without gradients. Only
    ``torch.nn`` layers of known sizes are lent: a stood-in (lazy) layer takes its size from the
    input it first sees, which a variant may change."""

    def __init__(self) -> None:
        self._layers: dict[int, tuple[Op, nn.Module]] = {}  # id(op) -> (op, its layer); the op kept alive
        self.copies: Copies = {}  # the model ops training code's calls run, the same objects in every variant

    def get(self, op: Op) -> Optional[nn.Module]:
        entry = self._layers.get(id(op))
        return entry[1] if entry is not None and entry[0] is op else None

    def lend(self, built: "BuiltGraph") -> None:
        """The layers ``built`` constructed and initialised itself, once it is complete."""
        for op_id in built.constructed:
            if op_id in built.steps and op_id not in built.stood_in:
                op = built.graph.ops[op_id]
                self._layers.setdefault(id(op), (op, built.layers[str(op_id)]))


class BuiltGraph(nn.Module):
    """The IR graph as a module: ``forward`` returns every runnable op's value by op id.
    :class:`OverBudget` when the model as declared needs more memory than ``budget``.
    ``shared``: layers an earlier build of the same graph lends (see :class:`SharedLayers`)."""

    def __init__(self, graph: ModelGraph, device: torch.device, input_shape: Optional[list] = None,
                 budget: Optional[Budget] = None, shared: Optional[SharedLayers] = None) -> None:
        super().__init__()
        graph, call_notes = inline_model_calls(graph, shared.copies if shared is not None else None)
        self.inlined = graph  # what the checks judge against: the model calls' ops, not the calls
        graph, self.fed, fed_notes = fed_where_unknown(graph)
        shapes = configured_shapes(graph, input_shape)
        self.graph = graph
        self.budget = budget or Budget()
        self.shared = shared
        self.borrowed: set[int] = set()  # op ids whose layer came from ``shared``, initialised already
        self.constructed: set[int] = set()  # op ids whose torch.nn layer this build constructed
        self._planned = 0  # bytes of the parameters and buffers of the layers built so far
        self.layers = nn.ModuleDict()  # str(op id) -> the rebuilt torch.nn layer
        self.steps: dict[int, Step] = {}
        self.broken: dict[int, str] = {}  # op id -> why it cannot be run
        self.init_notes: dict[int, str] = {}  # op id -> an init call that could not be replayed
        #: op id -> the sizes of the data it receives that the code leaves unknown ("in_features")
        self.stood_in: dict[int, list[str]] = {}
        #: (op id, size) -> a stand-in value no torch layer holds (a Keras Embedding's input_length)
        self._stood_values: dict[tuple[int, str], int] = {}
        #: op id -> "in_features unknown: traced with 32", once the stand-in is known
        self.stand_ins: dict[int, str] = {}
        #: op id -> the size of the data it gives that the code leaves unknown ("out_features")
        self.stood_out: dict[int, str] = {}
        #: ops whose own argument (not the size of their input) is a stand-in: a dropout's rate
        self.own_stand_ins: set[int] = set()
        #: op id -> the names of its arguments stood in for ("in_features", "out_channels")
        self.stood_fields: dict[int, set[str]] = {}
        #: what holds for every finding on this model: the part traced when not all of it could be
        self.notes: list[str] = [*call_notes, *fed_notes]
        own: dict[int, str] = {}  # op id -> why it cannot be built, for its own reasons
        #: the op whose value is traced as an input, why, its shape's source, the op that failed
        self._cut_at: Optional[tuple[Op, str, str, Op]] = None
        self.specs: dict[int, InputSpec] = {}
        self.keras = keras_build.is_keras(graph)
        # inputs whose shape the configuration (or the Keras code) gives in full: never refitted
        self.configured = set(shapes) | (set(graph.inputs) if self.keras else set())
        read = {i for op in graph.ops.values() for i in op.inputs}
        for op in graph.ops.values():  # creation order is a topological order
            if not op.inputs and op.id not in read and op.id not in graph.inputs and op.id not in graph.outputs:
                continue  # a placeholder or variable nothing reads (a TF1 training flag): nothing to run
            why = next((self.broken[i] for i in op.inputs if i in self.broken), None)
            if why is not None and op.kind in (K.UNKNOWN, K.RNN):  # an op no input could make runnable
                try:
                    self._step(op)
                except CannotBuild as exc:
                    own[op.id] = str(exc)
            if why is None:
                try:
                    if op.kind is K.INPUT:
                        self.specs[op.id] = input_spec(graph, op, shapes.get(op.id))
                        for op_id, size, value in self.specs[op.id].stood_in:
                            self._stands_in(op_id, size)
                            if value is not None:
                                self._stood_values[op_id, size] = value
                    else:
                        self.steps[op.id] = self._step(op)
                except CannotBuild as exc:
                    why = own[op.id] = str(exc)
            if why is not None:
                self.broken[op.id] = why
        self._cut(own)
        self.to(device)
        self.device = device
        self._fit_inputs()  # materialises the lazy layers of a Keras model
        if self.keras:
            for layer in self.layers.values():
                keras_build.apply_defaults(layer)
        self._apply_inits()
        self._say_stand_ins()
        self._dead = self._last_reads()
        #: every op computes the same in both modes and draws no random numbers, so the
        #: training pass serves as the evaluation pass (see ``measure``)
        self.mode_free = all(_mode_free(graph.ops[op_id]) for op_id in self.steps)
        if shared is not None:
            shared.lend(self)

    # ------------------------------------------------------------------ running

    def make_inputs(self, batch: int, generator: torch.Generator, scale: float = 1.0) -> dict[int, torch.Tensor]:
        """Seeded inputs per spec: normal, token ids below a vocabulary, or spread uniformly over
        the range an experiment gives a graph input (``value_range``: pixels as loaded, 0-255;
        or a range per column of a table, ``(lows, highs)``, for an input as wide as the table)."""
        made = {}
        for i, spec in self.specs.items():
            span = self.graph.ops[i].attrs.get("value_range") if self.graph.ops[i].kind is K.INPUT else None
            if span is not None and isinstance(span[0], (list, tuple)) and spec.shape[-1:] != (len(span[0]),):
                span = None  # the model reads other columns than the table's: not its ranges
            if span is not None and spec.integer_below is None:
                low, high = (torch.tensor(bound, dtype=torch.float32) if isinstance(bound, (list, tuple)) else bound
                             for bound in span)
                uniform = torch.rand((batch, *spec.shape[1:]), generator=generator) * (high - low) + low
                made[i] = (uniform * scale).to(self.device)
            else:
                made[i] = spec.make(batch, generator, self.device, scale)
        return made

    def forward(self, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        values: dict[int, torch.Tensor] = dict(inputs)
        for op_id, step in self.steps.items():
            args = [values[i] for i in self.graph.ops[op_id].inputs]
            values[op_id] = step(args)
        return values

    def stream(self, inputs: dict[int, torch.Tensor], visit: Callable[[int, torch.Tensor], None]) -> None:
        """What ``forward`` returns, handed to ``visit(op_id, value)`` value by value instead, each
        let go once no later op reads it, as a plain forward pass would (the scale sweep)."""
        values: dict[int, torch.Tensor] = dict(inputs)
        for op_id, tensor in inputs.items():
            visit(op_id, tensor)
        for op_id, step in self.steps.items():
            values[op_id] = step([values[i] for i in self.graph.ops[op_id].inputs])
            visit(op_id, values[op_id])
            for dead in self._dead[op_id]:
                del values[dead]

    def run_op(self, op_id: int, args: list[torch.Tensor]) -> torch.Tensor:
        """One op on inputs of our choosing (the zero-input probe)."""
        return self.steps[op_id](args)

    def params(self, op_id: int) -> list[nn.Parameter]:
        return layer_params(self.layers[str(op_id)] if str(op_id) in self.layers else None)

    def runnable_outputs(self) -> list[int]:
        return [i for i in self.graph.outputs if i in self.steps or i in self.specs]

    # ------------------------------------------------------------------ building

    def _step(self, op: Op) -> Step:
        if op.kind in (K.ADD, K.SUB, K.MUL, K.DIV, K.MATMUL) and op.type_name == op.kind.value:
            return _binary(op)
        if not op.inputs and op.kind is K.CONSTANT and op.attrs.get("weight"):
            return self._drawn(op)
        if not op.inputs:
            raise CannotBuild(f"{op.describe()} is applied to a value the trace does not have")
        name = api.canonical(op.type_name)
        if name in api.LAYERS:
            return self._layer(op, name)
        if name.startswith("keras.") and not name.startswith(kapi.FUNCTION_MODULES):
            return keras_build.layer_step(op, lambda layer: self.layers.__setitem__(str(op.id), layer),
                                          lambda field: self.stood_out.__setitem__(op.id, field) if field == "out_features"
                                          else self._stands_in(op.id, field))
        if tf_build.is_tf(op) or name.startswith(kapi.FUNCTION_MODULES):
            return tf_build.tf_step(op, lambda layer: self.layers.__setitem__(str(op.id), layer),
                                    lambda field: self.stood_out.__setitem__(op.id, field) if field == "out_features"
                                    else self._stands_in(op.id, field))
        data = self.graph.unshape(self.graph.ops[op.inputs[0]])
        input_rows = op.kind is K.RESHAPE and op.type_name == "getitem" and data.kind is K.INPUT
        if op.kind is K.RESHAPE and is_selection(op) and not input_rows:  # by an index only the run has: never replayed
            step, said = every_candidate(op)
            self.notes.append(said)
            return step
        if name in api.FUNCTIONS or name in api.SHAPE_FUNCTIONS or name in _PURE_FUNCTIONS:
            return self._replay(op, _torch_function(name), method=False)
        if (op.kind is not K.UNKNOWN and (name in api.METHODS or name in api.SHAPE_METHODS)) or name in _PURE_METHODS:
            if name in _DEVICE_METHODS:
                return lambda xs: xs[0]
            return self._replay(op, name.rstrip("_") if name.endswith("_") else name, method=True)
        if input_rows:
            # s[index], s[perm] of a batch: the inputs are random data shaped for what reads them
            # either way, so rows or columns of them are traced as the data itself
            self.notes.append(f"{op.describe()} of the input data traced as the data itself")
            return lambda xs: xs[0]
        raise CannotBuild(f"{op.describe()} is not something the trace can rebuild")

    def _drawn(self, op: Op) -> Step:
        """A weight the code makes and trains by hand (``W = torch.randn(784, 10) * 0.01`` with
        ``requires_grad``, ``torch.tensor(np.random.normal(0, 0.01, (784, 10)))``), drawn as
        the code draws it (seeded), once: the same tensor at every pass, as a weight is."""
        kind, first, second = op.attrs.get("draw") or (None, 0.0, 0.0)
        dims = getattr(op.attrs.get("out_shape"), "dims", ())
        if kind not in ("normal", "uniform") or not dims or not all(is_size(d) for d in dims):
            raise CannotBuild(f"{op.describe()} is applied to a value the trace does not have")
        self._reserve(product(dims) * 4)
        generator = torch.Generator().manual_seed(op.id)
        made = torch.randn(dims, generator=generator) * second + first if kind == "normal" \
            else torch.rand(dims, generator=generator) * (second - first) + first
        self.notes.append(f"{op.describe()} drawn as the code draws it ({kind}, {first:g}, {second:g}) "
                          f"with shape {tuple(dims)}")
        name = f"drawn_{op.id}"
        self.register_buffer(name, made)  # moved to the device with the layers
        return lambda _: getattr(self, name)

    def _layer(self, op: Op, name: str) -> Step:
        kind = api.LAYERS[name][0]
        if kind in (K.RNN, K.UNKNOWN):
            raise CannotBuild(f"{op.describe()}: recurrent and attention layers are not rebuilt by the trace")
        call = op.attrs.get("call")
        if call is None:
            raise CannotBuild(f"{op.describe()}: its constructor arguments are not known")
        args, kwargs = call
        cls = getattr(nn, name.rsplit(".", 1)[-1], None)
        if cls is None:
            raise CannotBuild(f"{op.describe()}: torch {torch.__version__} has no {name}")
        cls, args, kwargs = self._stand_in(op, cls, list(args), dict(kwargs))
        _require_constants(op, args, kwargs)
        self._plan(cls, args, kwargs)
        layer = self.shared.get(op) if self.shared is not None else None
        if layer is not None:
            self.borrowed.add(op.id)
        else:
            try:
                layer = cls(*args, **kwargs)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise CannotBuild(f"{op.describe()}: cannot construct it ({one_line(exc)})") from None
            self.constructed.add(op.id)
        if hasattr(layer, "inplace"):
            layer.inplace = False  # an in-place ReLU would overwrite the value measured before it
        self.layers[str(op.id)] = layer
        return lambda xs: layer(xs[0])

    def _stand_in(self, op: Op, cls: type, args: list, kwargs: dict) -> tuple[type, list, dict]:
        """The layer's class and arguments with an unknown size of the data it receives replaced:
        by its ``Lazy`` class, which takes the size from that data, or for an embedding's
        vocabulary by STAND_IN. Every other argument stays as the code gave it."""
        field = _INPUT_SIZE.get(cls.__name__)
        if field is None:
            return cls, args, kwargs
        if field in kwargs:
            if _is_constant(kwargs[field]):
                return self._stand_in_outputs(op, cls, args, kwargs, 1)
            value, kwargs = kwargs[field], {k: v for k, v in kwargs.items() if k != field}
        elif args and not _is_constant(args[0]):
            value, args = args[0], args[1:]
        else:
            return self._stand_in_outputs(op, cls, args, kwargs, 1)
        del value  # known only at run time: not used
        self._stands_in(op.id, field)
        if field == "num_embeddings":
            return cls, [STAND_IN, *args], kwargs
        return self._stand_in_outputs(op, getattr(nn, f"Lazy{cls.__name__}"), args, kwargs, 0)

    def _stand_in_outputs(self, op: Op, cls: type, args: list, kwargs: dict, position: int) -> tuple[type, list, dict]:
        """A Linear whose number of outputs is only known at run time (``nn.Linear(512,
        len(classes))``, ``tf.matmul`` with a variable of ``[64, env.action_space.n]``) gives
        STAND_IN_OUTPUTS of them, a convolution (``nn.Conv2d(in_ch, out_ch, 3)`` of a block
        read from its definition) STAND_IN_MAPS, said in the evidence: a finding behind it (a
        log of its softmax) holds for any number over one; one on the layer itself stays
        inconclusive where its check reads the layer's sizes."""
        if cls in (nn.Linear, nn.LazyLinear):
            field, value = "out_features", STAND_IN_OUTPUTS
        elif cls in _CONVOLUTIONS:
            field, value = "out_channels", STAND_IN_MAPS
        else:
            return cls, args, kwargs
        if field in kwargs and not _is_constant(kwargs[field]):
            kwargs = {**kwargs, field: value}
        elif field not in kwargs and len(args) > position and not _is_constant(args[position]):
            args = [*args[:position], value, *args[position + 1:]]
        else:
            return cls, args, kwargs
        self.stood_out[op.id] = field
        return cls, args, kwargs

    def _stands_in(self, op_id: int, field: str) -> None:
        """``field`` of the data op ``op_id`` receives is a stand-in (said once, though an input's
        spec and the layer may both say it)."""
        fields = self.stood_in.setdefault(op_id, [])
        if field not in fields:
            fields.append(field)

    def _say_stand_ins(self) -> None:
        """The stand-ins' values, for the evidence, once the dry run has sized the lazy layers
        and the inputs."""
        if self._cut_at is not None and self._cut_at[0].id in self.specs:
            op, why, source, failed = self._cut_at
            shape = "x".join(str(d) for d in self.specs[op.id].shape[1:])
            then = "" if op is failed else f" and its {op.describe()}"
            self.notes.append(f"traced the part after {failed.label or failed.type_name}{then} alone ({why}), "
                              f"fed random inputs of {shape} per sample: {source}")
        stood = [(op_id, field) for op_id, fields in self.stood_in.items() for field in fields]
        for op_id, field in [*stood, *self.stood_out.items()]:
            layer = self.layers[str(op_id)] if str(op_id) in self.layers else None
            value = getattr(layer, field, self._stood_values.get((op_id, field)))
            if op_id in self.steps and (is_size(value) or isinstance(value, float)):
                said = f"{field} unknown: traced with {value}"
                name = self.graph.ops[op_id].label or self.graph.ops[op_id].describe()
                self.stand_ins[op_id] = f"{self.stand_ins[op_id]}, {said}" if op_id in self.stand_ins else f"{name}'s {said}"
                self.stood_fields.setdefault(op_id, set()).add(field)
                if field not in SIZES:
                    self.own_stand_ins.add(op_id)

    def _cut(self, own: dict[int, str]) -> None:
        """When an op cannot be rebuilt (an unknown backbone), trace the part of the model computed
        from it alone: its value becomes an input shaped like what its consumers take (its own
        shape when known), else STAND_IN wide. The ops before it keep their own verdicts; none
        after it may read anything from before it, else nothing is cut."""
        failed = max((op_id for op_id in own if self.graph.ops[op_id].kind is not K.INPUT), default=None)
        if failed is None:
            return
        cut = _cut_point(self.graph, failed)
        if cut is None:
            return
        after = _downstream(self.graph, cut)
        op = self.graph.ops[cut]
        spec, said, own_shape = _cut_spec(self.graph, op)
        self.specs[cut] = spec
        if own_shape:
            self.configured.add(cut)
        self.broken[cut] = own[failed]  # a random stand-in: nothing said about the op itself is measured
        self.steps.pop(cut, None)
        for op_id in [i for i in self.graph.ops if i in after]:  # graph order (ids of inlined calls are not)
            self.broken.pop(op_id, None)
            why = next((self.broken[i] for i in self.graph.ops[op_id].inputs if i in self.broken and i != cut), None)
            if why is None:
                try:
                    self.steps[op_id] = self._step(self.graph.ops[op_id])
                except CannotBuild as exc:
                    why = str(exc)
            if why is not None:
                self.broken[op_id] = why
        self._cut_at = (op, own[failed], said, self.graph.ops[failed])

    def _plan(self, cls: type, args: list, kwargs: dict) -> None:
        """Count the layer's parameters and buffers before building it: the same class
        constructed on the ``meta`` device has their shapes and no storage."""
        size = _layer_bytes(cls, args, kwargs)
        if size is not None:  # (else the real constructor says what is wrong with the arguments)
            self._reserve(size)

    def _reserve(self, size: int) -> None:
        """Count ``size`` bytes of weights about to be made against the memory budget."""
        self._planned += size
        self.budget.check(self._planned, "parameters")

    def _replay(self, op: Op, target: Any, method: bool) -> Step:
        call = op.attrs.get("call")
        if call is None:
            raise CannotBuild(f"{op.describe()}: its arguments are not known")
        args, kwargs = call
        refs = _refs([*args, *kwargs.values()])
        if len(refs) != len(op.inputs) or any(r.index >= len(op.inputs) for r in refs):
            raise CannotBuild(f"{op.describe()} uses a tensor from outside the traced graph")
        kwargs = {k: v for k, v in kwargs.items() if k != "inplace"}
        if op.kind is K.DROPOUT:
            return self._dropout(op, target, args, kwargs)
        if op.kind is K.RESHAPE and method:
            args = [args[0], *_batch_first(args[1:])]
        try:
            _require_constants(op, [a for a in args if not _refs([a])],
                               {k: v for k, v in kwargs.items() if not _refs([v])})
        except CannotBuild:
            if op.kind is K.RESHAPE and self._feeds_linear(op):
                return lambda xs: xs[0].reshape(xs[0].shape[0], -1)
            raise

        def step(xs: list[torch.Tensor]) -> torch.Tensor:
            real = [_filled(a, xs) for a in args]
            named = {k: _filled(v, xs) for k, v in kwargs.items()}
            if method and op.kind is K.RESHAPE:
                real = [real[0], *_batch_filled(real[1:], real[0].shape[0])]
            if method:
                return getattr(real[0], target)(*real[1:], **named)
            return target(*real, **named)

        return step

    def _dropout(self, op: Op, fn: Any, args: list, kwargs: dict) -> Step:
        """Functional dropout: p and ``training`` as the code passed them; a ``training``
        known only at run time is the module's mode (``training=self.training``)."""
        p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
        training = op.attrs.get("training", True)
        if not _is_constant(p) or not isinstance(p, (int, float)):
            raise CannotBuild(f"{op.describe()}: its dropout probability is not a constant")
        module = self

        def step(xs: list[torch.Tensor]) -> torch.Tensor:
            mode = training if isinstance(training, bool) else module.training
            return fn(xs[0], float(p), mode)

        return step

    def _feeds_linear(self, op: Op) -> bool:
        users = self.graph.consumers(op)
        return len(users) == 1 and api.canonical(users[0].type_name) == "torch.nn.Linear"

    def _fit_inputs(self) -> None:
        """Run once (batch 2, no grad) to size lazy layers, trying the spatial sizes for image
        inputs; ops that still fail at run time are broken, with torch's message."""
        best: Optional[tuple[dict[int, str], dict[int, InputSpec]]] = None
        over: Optional[OverBudget] = None
        for specs in spatial_candidates(self.specs, self.configured):
            self.specs = specs
            try:
                failures = self._dry_run()
            except OverBudget as exc:  # too big at this spatial size: a smaller one may fit
                over = over or exc
                continue
            if best is None or len(failures) < len(best[0]):
                best = (failures, specs)
            if not failures:
                break
        if best is None:
            assert over is not None
            raise over
        failures, self.specs = best
        for op_id, why in failures.items():
            self._break(op_id, why)

    def _dry_run(self) -> dict[int, str]:
        """Failures by op id; :class:`OverBudget` as soon as the values computed, scaled from
        batch 2 to the trace's batch, exceed the budget (the training pass keeps them all)."""
        scale = self.budget.batch / 2
        held = sum(spec.nbytes(2) for spec in self.specs.values())
        self.budget.check(held * scale, "activations")
        generator = torch.Generator().manual_seed(0)
        values: dict[int, torch.Tensor] = self.make_inputs(2, generator)
        failures: dict[int, str] = {}
        self.eval()
        try:
            with torch.no_grad():
                for op_id, step in self.steps.items():
                    inputs = self.graph.ops[op_id].inputs
                    if any(i not in values for i in inputs):
                        continue
                    try:
                        values[op_id] = step([values[i] for i in inputs])
                    except Exception as exc:  # shapes that do not fit: torch's own words
                        failures[op_id] = f"{self.graph.ops[op_id].describe()} fails on the traced input ({one_line(exc)})"
                        continue
                    if isinstance(values[op_id], (tuple, list)):  # max_pool2d(..., return_indices=True)
                        failures[op_id] = (f"{self.graph.ops[op_id].describe()} returns {len(values[op_id])} values, "
                                           "which the trace does not follow one by one")
                        del values[op_id]
                        continue
                    if isinstance(values[op_id], torch.Tensor):
                        held += values[op_id].numel() * values[op_id].element_size()
                        self.budget.check(held * scale, "activations")
        finally:
            self.train()
        return failures

    def _last_reads(self) -> dict[int, list[int]]:
        """For each step, the values no later step reads: inputs read for the last time, its own
        value when nothing reads it."""
        last: dict[int, int] = {}
        for op_id in self.steps:
            for i in (*self.graph.ops[op_id].inputs, op_id):
                last[i] = op_id
        dead: dict[int, list[int]] = {op_id: [] for op_id in self.steps}
        for value, step in last.items():
            dead[step].append(value)
        return dead

    def _break(self, op_id: int, why: str) -> None:
        """``op_id`` cannot run, nor can anything computed from it."""
        self.broken[op_id] = why
        self.steps.pop(op_id, None)
        for op in self.graph.ops.values():
            if op.id not in self.broken and any(i in self.broken and i not in self.specs for i in op.inputs):
                self.broken[op.id] = why
                self.steps.pop(op.id, None)

    def _apply_inits(self) -> None:
        """Re-apply the code's init calls (those made on every path) to the built parameters."""
        for op_id in list(self.steps):
            op = self.graph.ops[op_id]
            layer = self.layers[str(op_id)] if str(op_id) in self.layers and op_id not in self.borrowed else None
            for init in op.attrs.get("inits", ()):
                param = getattr(layer, init["param"], None) if layer is not None else None
                if not isinstance(param, torch.Tensor):
                    continue
                if not init["certain"]:
                    self.init_notes[op_id] = f"{init['fn']} is applied on some paths only; not replayed"
                    continue
                try:
                    _require_constants(op, init["args"], init["kwargs"])
                    with torch.no_grad():
                        if init["method"] and init["fn"] in _TENSOR_INITS:
                            getattr(param.data, init["fn"])(*init["args"], **init["kwargs"])
                        elif init["fn"].endswith("_") and hasattr(nn.init, init["fn"]):
                            getattr(nn.init, init["fn"])(param, *init["args"], **init["kwargs"])
                        else:
                            self.init_notes[op_id] = f"{init['fn']} is not an init the trace replays"
                except (CannotBuild, AttributeError, TypeError, ValueError, RuntimeError) as exc:
                    self.init_notes[op_id] = f"{init['fn']} could not be replayed ({one_line(exc)})"


#: (class, arguments) -> bytes of the layer's parameters and buffers: a remedy's variant builds
#: the same layers again, and a meta-device probe costs as much as the small layer itself
_SIZES: dict[tuple, Optional[int]] = {}
_MAX_SIZES = 4096


def _layer_bytes(cls: type, args: list, kwargs: dict) -> Optional[int]:
    key = (cls, repr(args), repr(sorted(kwargs.items())))
    if key not in _SIZES:
        try:
            with torch.device("meta"):
                probe = cls(*args, **({**kwargs, "device": "meta"} if "device" in kwargs else kwargs))
            size: Optional[int] = sum(t.numel() * t.element_size() for t in (*probe.parameters(), *probe.buffers())
                                      if not nn.parameter.is_lazy(t))  # a lazy layer's size comes with its input
        except Exception:
            size = None
        if len(_SIZES) >= _MAX_SIZES:
            _SIZES.clear()
        _SIZES[key] = size
    return _SIZES[key]


def layer_params(layer: Optional[nn.Module]) -> list[nn.Parameter]:
    """A layer's weight, then its bias, where it has them (what the measurements read)."""
    if layer is None:
        return []
    return [p for p in (getattr(layer, "weight", None), getattr(layer, "bias", None)) if isinstance(p, nn.Parameter)]


def spatial_candidates(specs: dict[int, InputSpec], fixed: set[int]) -> Iterator[dict[int, InputSpec]]:
    """The input specs to try in turn: image inputs whose size no one gave at each of
    SPATIAL_SIZES; the specs as they are when there is no such input."""
    images = {i for i, s in specs.items() if len(s.shape) > 2 and s.integer_below is None and i not in fixed}
    if not images:
        yield dict(specs)
        return
    for size in dict.fromkeys(SPATIAL_SIZES):
        yield {i: InputSpec((*s.shape[:2], *([size] * (len(s.shape) - 2)))) if i in images else s
               for i, s in specs.items()}


def configured_shapes(graph: ModelGraph, setting: Optional[list]) -> dict[int, list[int]]:
    """``input-shape`` (one shape, or one per input) by input op id."""
    if not setting:
        return {}
    shapes = setting if isinstance(setting[0], list) else [setting]
    if len(shapes) != len(graph.inputs):
        raise CannotBuild(f"input-shape gives {len(shapes)} shape(s) but {graph.name}'s forward takes "
                          f"{len(graph.inputs)} input(s)")
    return dict(zip(graph.inputs, shapes))


def input_spec(graph: ModelGraph, op: Op, shape: Optional[list[int]] = None) -> InputSpec:
    """The input shape the first layers declare (through reshapes), or a free (batch, 10) where
    no layer constrains it and none could (a helper function, a module without weights such as a
    hand-written loss); ``shape`` (one sample's, from ``[tool.nnlint.trace.models]``) overrides it."""
    if shape is not None:
        bounds = [u.attrs.get("num_embeddings", u.attrs.get("keras", {}).get("input_dim"))
                  for u in graph.walk_forward(op, lambda o: o.kind in (K.RESHAPE, K.IDENTITY)) if u.kind is K.EMBEDDING]
        # token ids below the vocabulary, or below the stand-in an unknown one is built with
        below = (bounds[0] if is_size(bounds[0]) else STAND_IN) if bounds else None
        return InputSpec((1, *shape), integer_below=below)
    declared = tf_build.placeholder_shape(op) or op.attrs.get("sample_shape")  # (a hand-made model's data)
    if declared is not None and not keras_build.is_keras(graph):
        return InputSpec((1, *declared))
    # the data's own width where the frontend knows it (a published table's columns)
    width = op.attrs.get("data_width", STAND_IN)
    if keras_build.is_keras(graph):
        try:
            shape, bound, stood_in = keras_build.sample_shape(graph, op, width)
        except CannotBuild:
            if graph.is_model or any(u.kind in WEIGHTED for u in graph.walk_forward(op, lambda o: o.kind not in WEIGHTED)):
                raise
            return InputSpec((1, FREE_WIDTH))  # training code's own data (a hand-written loss's y_true): any width
        return InputSpec((1, *shape), integer_below=bound, stood_in=stood_in)
    spec = consumer_spec(graph, op, width)
    if spec is not None:
        return spec
    if graph.is_model and any(o.kind in WEIGHTED for o in graph.ops.values()):
        raise CannotBuild(f"the input shape of {graph.name} cannot be worked out from its first layers")
    return InputSpec((1, FREE_WIDTH))  # a helper, or a module with no weights (a loss): any width fits


def consumer_spec(graph: ModelGraph, op: Op, stand_in: int = STAND_IN) -> Optional[InputSpec]:
    """The shape the first sized layers reading ``op`` (through reshapes) take; where the size
    of the data is unknown there (``nn.Linear(X.shape[1], 64)``), a stand-in the layer is built
    to match (:meth:`BuiltGraph._stand_in`): ``stand_in`` features. None when no such layer reads it."""
    for user in graph.walk_forward(op, lambda o: o.kind in (K.RESHAPE, K.IDENTITY, K.DROPOUT)):
        attrs = user.attrs
        name = api.canonical(user.type_name)
        if name in ("torch.nn.Linear", "torch.nn.BatchNorm1d"):
            width = attrs.get("in_features", attrs.get("num_features"))
            return InputSpec((1, width if is_size(width) else stand_in))
        if name.startswith(("torch.nn.Conv", "torch.nn.ConvTranspose")) and name[-2].isdigit():
            channels = attrs.get("in_channels")
            return InputSpec((1, channels if is_size(channels) else STAND_IN_CHANNELS,
                              *([SPATIAL_SIZES[0]] * int(name[-2]))))
        if name in ("torch.nn.Embedding", "torch.nn.EmbeddingBag"):
            vocabulary = attrs.get("num_embeddings")
            return InputSpec((1, SEQUENCE_LENGTH), integer_below=vocabulary if is_size(vocabulary) else STAND_IN)
        if name == "torch.nn.LayerNorm" and is_size(attrs.get("normalized_shape")):
            return InputSpec((1, attrs["normalized_shape"]))
        if tf_build.is_tf(user) and user.kind is K.LINEAR:  # tf.matmul(x, W): a lazy Linear where unknown
            width = attrs.get("in_features")
            return InputSpec((1, width)) if is_size(width) else \
                InputSpec((1, stand_in), stood_in=((user.id, "in_features", None),))
        short = user.type_name.rsplit(".", 1)[-1]
        if user.type_name.startswith("keras.") and user.kind is K.CONV and short[-2:-1].isdigit():
            # channels last, sized by the lazy layer the Keras builder makes (Keras never states them)
            return InputSpec((1, *([SPATIAL_SIZES[0]] * int(short[-2])), STAND_IN_CHANNELS))
        if user.kind is K.RNN:  # (whatever its input size: see _layer)
            raise CannotBuild(f"{user.describe()}: recurrent and attention layers are not rebuilt by the trace")
        if user.kind in (K.LINEAR, K.CONV, K.CONV_TRANSPOSE, K.EMBEDDING):
            raise CannotBuild(f"the input size of {user.describe()} is not known")
    return None


def _cut_spec(graph: ModelGraph, op: Op) -> tuple[InputSpec, str, bool]:
    """The input that stands for ``op``'s value when the part after it is traced alone, where
    its shape comes from, and whether that shape is the op's own (no other size is tried)."""
    stated = keras_build.output_shape(op)
    if stated is not None:
        return InputSpec((1, *stated)), "the shape its units give its output", True
    shape = op.attrs.get("out_shape")
    dims = getattr(shape, "dims", ())
    if getattr(shape, "ranked", False) and len(dims) > 1 and all(is_size(d) for d in dims[1:]):
        return InputSpec((1, *dims[1:])), "the shape of its output", True
    try:
        spec = consumer_spec(graph, op)
    except CannotBuild:
        spec = None
    if spec is not None:  # a Keras model's inputs are channels last: never refitted as channels-first images
        return spec, "the shape the layers after it take", keras_build.is_keras(graph)
    return InputSpec((1, STAND_IN)), "its output size is unknown, a stand-in width", False


def _known_from(graph: ModelGraph, op_id: int) -> int:
    """Where the part traced alone starts: at ``op_id``, or further along the ops computed from
    it alone (``tokens.mean(dim=1)`` after an unknown encoder) to the first value whose shape
    a sized layer reading it gives; ``op_id`` when there is none."""
    point = op_id
    while True:
        try:
            if consumer_spec(graph, graph.ops[point]) is not None:
                return point
        except CannotBuild:
            return op_id
        users = graph.consumers(graph.ops[point])
        if len(users) != 1 or len(users[0].inputs) != 1:  # a sum with a skip reads around the failed op
            return op_id
        point = users[0].id


def _cut_point(graph: ModelGraph, failed: int) -> Optional[int]:
    """Where the part traced alone starts: the first point from the failed op on
    (:func:`_known_from`) after which no op reads a value computed before it (the model's
    inputs aside: they are fed anyway); else the first op computed from the failed one that is
    such a point and whose shape a sized layer reading it gives (the ``torch.cat`` of branches
    one of which could not be rebuilt, read by a Linear of known width). None when there is none."""
    data = _data_only(graph)
    start = _known_from(graph, failed)
    if _closed(graph, start, data):
        return start
    later = _downstream(graph, failed)
    for point in [i for i in graph.ops if i in later]:  # graph order: the earliest point first
        try:
            sized = consumer_spec(graph, graph.ops[point]) is not None
        except CannotBuild:
            sized = False
        if sized and _closed(graph, point, data):
            return point
    return None


def _closed(graph: ModelGraph, point: int, data: set[int]) -> bool:
    """Whether the ops computed from ``point`` read nothing computed before it but ``data``."""
    after = _downstream(graph, point)
    return bool(after) and all(i == point or i in after or i in data
                               for op_id in after for i in graph.ops[op_id].inputs)


def _data_only(graph: ModelGraph) -> set[int]:
    """The ops whose values are data: the inputs, and values computed from them by known ops
    and no layer (a loss's ``-advantage * actions``). One pass in graph order."""
    data: set[int] = set()
    for op in graph.ops.values():  # graph order: an op's inputs come before it
        if op.kind is K.INPUT or (op.inputs and op.kind not in WEIGHTED and op.kind is not K.UNKNOWN
                                  and all(i in data for i in op.inputs)):
            data.add(op.id)
    return data


def _downstream(graph: ModelGraph, op_id: int) -> set[int]:
    """The ops computed, directly or not, from ``op_id``'s value."""
    found: set[int] = set()
    for op in graph.ops.values():  # creation order is a topological order
        if any(i == op_id or i in found for i in op.inputs):
            found.add(op.id)
    return found


def _binary(op: Op) -> Step:
    fn = _BINARY[op.kind]
    if "const" not in op.attrs:
        if len(op.inputs) != 2:
            raise CannotBuild(f"{op.describe()} has an operand the trace does not have")
        return lambda xs: fn(xs[0], xs[1])
    const = op.attrs["const"]
    if not isinstance(const, (int, float)) or isinstance(const, bool) or len(op.inputs) != 1:
        raise CannotBuild(f"a {op.kind.value} with an operand known only at run time")
    if op.attrs.get("const_left"):
        return lambda xs: fn(torch.as_tensor(const, dtype=xs[0].dtype, device=xs[0].device), xs[0])
    return lambda xs: fn(xs[0], const)


def _torch_function(name: str) -> Any:
    """``torch.nn.functional.relu`` -> the function; only names from nnlint's API tables and
    the pure functions above."""
    target: Any = torch
    for part in name.split(".")[1:]:
        target = getattr(target, part, None)
        if target is None:
            raise CannotBuild(f"torch {torch.__version__} has no {name}")
    return target


def _refs(values: list) -> list[InputRef]:
    """The input references among recorded arguments, also inside lists and tuples."""
    found = []
    for value in values:
        if isinstance(value, InputRef):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(_refs(list(value)))
    return found


class _Batch:
    """The batch dimension of the tensor a view reshapes, where the code sizes the view's first
    dimension by a tensor's number of rows (``x.view(x.size(0), -1)``,
    ``q.view(batch_size, -1, n_atoms)`` with ``batch_size = state.size(0)``): a view keeps its
    input's batch, as the code's does where the two agree, and no other size would run."""


BATCH = _Batch()


def _sizes_mapped(sizes: list, fn: Callable[[int, Any], Any]) -> list:
    """A view's sizes (``view(a, b)`` or ``view((a, b))``, as recorded) with ``fn(position, size)``
    in place of each size, in the same spelling."""
    nested = len(sizes) == 1 and isinstance(sizes[0], (list, tuple))
    flat = [fn(i, size) for i, size in enumerate(sizes[0] if nested else sizes)]
    return [type(sizes[0])(flat)] if nested else flat


def _batch_first(sizes: list) -> list:
    """A view's sizes with a first size that is a number of rows (the frontend's ``Rows``) as
    :data:`BATCH`."""
    return _sizes_mapped(sizes, lambda i, size: BATCH if i == 0 and isinstance(size, Rows) else size)


def _batch_filled(sizes: list, batch: int) -> list:
    """:data:`BATCH` among a view's sizes as the batch of the tensor being reshaped."""
    return _sizes_mapped(sizes, lambda _, size: batch if size is BATCH else size)


def _filled(value: Any, xs: list[torch.Tensor]) -> Any:
    """A recorded argument with its input references replaced by the inputs' values."""
    if isinstance(value, InputRef):
        return xs[value.index]
    if isinstance(value, (list, tuple)) and _refs([value]):
        return type(value)(_filled(v, xs) for v in value)
    return value


def _is_constant(value: Any) -> bool:
    if value is None or value is BATCH or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_is_constant(v) for v in value)
    return False


def _require_constants(op: Op, args: list, kwargs: dict) -> None:
    for value in (*args, *kwargs.values()):
        if not _is_constant(value):
            raise CannotBuild(f"{op.describe()} has an argument known only at run time")


