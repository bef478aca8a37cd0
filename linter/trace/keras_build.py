"""Keras layers rebuilt as torch modules, for ``--trace`` (no TensorFlow needed, none imported).

The Keras frontend records each layer's constant arguments by Keras's parameter names
(``attrs["keras"]``). Each becomes the torch module that computes the same function, kept in
Keras's channels-last layout (a convolution moves the channel axis in and out), with Keras's
defaults rather than torch's: Glorot-uniform kernels and zero biases, batch-norm epsilon 1e-3
and momentum 0.99, Embedding weights uniform in +-0.05, the learning rates of Keras's
optimizers. Input sizes come from ``keras.Input(shape=...)``, the first layer's
``input_shape``/``input_dim``, a TF1 placeholder's shape, or ``input-shape`` in
``[tool.nnlint.trace.models]``, else a stand-in width where a Dense reads the input; layers
whose input size follows from their input are torch's lazy modules. Anything else (recurrent
layers, ``padding="same"`` pooling, a ``Normalization`` adapted to data) cannot be built and
says so.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.trace.errors import CannotBuild
from nnlint.trace.stand_ins import SEQUENCE_LENGTH, STAND_IN, STAND_IN_CHANNELS, STAND_IN_OUTPUTS, is_size

K = OpKind
Step = Callable[[list[torch.Tensor]], torch.Tensor]
Register = Callable[[nn.Module], None]  # keeps a layer's parameters in the model
StandIn = Callable[[str], None]  # says which torch size of the layer is a stand-in ("num_embeddings")
#: (op id, torch size, its value where no torch layer holds it): a size the trace stands in for
StoodIn = tuple[tuple[int, str, Optional[int]], ...]

#: Keras's default learning rates, where torch's differ or are not given
DEFAULT_LR = {"SGD": 0.01, "Adam": 1e-3, "AdamW": 1e-3, "RMSprop": 1e-3, "Adagrad": 1e-3, "Adadelta": 1e-3,
              "Adamax": 1e-3, "Nadam": 1e-3}
OPTIMIZER_NAMES = {"Nadam": "NAdam"}  # Keras name -> torch name where they differ
_LOSSES = {"mean_squared_error": "mse_loss", "mse": "mse_loss", "mean_absolute_error": "l1_loss", "mae": "l1_loss",
           "huber": "huber_loss", "binary_crossentropy": "binary_cross_entropy"}
_LOGIT_LOSSES = {"binary_crossentropy": "binary_cross_entropy_with_logits",
                 "categorical_crossentropy": "cross_entropy", "sparse_categorical_crossentropy": "cross_entropy"}

#: activations by kind, as Keras and TensorFlow compute them (softmax over the last axis)
ACTIVATIONS: dict[OpKind, Callable[[torch.Tensor], torch.Tensor]] = {
    K.RELU: torch.relu, K.RELU6: F.relu6, K.LEAKY_RELU: lambda x: F.leaky_relu(x, 0.2), K.ELU: F.elu,
    K.SELU: F.selu, K.GELU: F.gelu, K.SILU: F.silu, K.SOFTPLUS: F.softplus, K.SIGMOID: torch.sigmoid,
    K.TANH: torch.tanh, K.SOFTMAX: lambda x: torch.softmax(x, dim=-1),
    K.LOG_SOFTMAX: lambda x: torch.log_softmax(x, dim=-1),
}
_LAZY_CONV = {1: nn.LazyConv1d, 2: nn.LazyConv2d, 3: nn.LazyConv3d}
_POOLS = {"MaxPooling1D": nn.MaxPool1d, "MaxPooling2D": nn.MaxPool2d, "MaxPool2D": nn.MaxPool2d,
          "AveragePooling2D": nn.AvgPool2d}
_SPATIAL_DROPOUT = {"SpatialDropout1D": nn.Dropout1d, "SpatialDropout2D": nn.Dropout2d}


def is_keras(graph: ModelGraph) -> bool:
    return any(op.type_name.startswith("keras.") for op in graph.ops.values())


def loss_name(short: str, from_logits: bool) -> str:
    """The ``torch.nn.functional`` loss that computes a Keras loss; the Keras name when none
    does (categorical cross-entropy on probabilities)."""
    return (_LOGIT_LOSSES if from_logits else _LOSSES).get(short, _LOSSES.get(short, short))


def optimizer(name: str, kwargs: dict) -> tuple[str, dict]:
    """A Keras optimizer as torch's, with Keras's default learning rate when none is given."""
    if "lr" not in kwargs and name in DEFAULT_LR:
        kwargs = {"lr": DEFAULT_LR[name], **kwargs}
    return OPTIMIZER_NAMES.get(name, name), kwargs


def sample_shape(graph: ModelGraph, op: Op, stand_in: int) -> tuple[tuple[int, ...], Optional[int], StoodIn]:
    """One sample's input shape (no batch), for token ids the bound of their values, and the
    sizes stood in for: ``((op id of the first Dense, "in_features", None),)``. A TF1 placeholder's
    shape counts its batch first (``[None, 13]``). A width no one states (``Sequential([Dense(16),
    ...])`` built on first call, ``tf.placeholder(tf.float32, [None, None])``) read by a Dense is
    ``stand_in``: its kernel is sized to it and the statistics downstream do not depend on it.
    Token ids for a first Embedding: see :func:`_token_shape`."""
    shape = op.attrs.get("shape")
    if isinstance(shape, (list, tuple)) and op.type_name.startswith("tensorflow.placeholder"):
        shape = tuple(shape[1:]) if len(shape) > 1 else None
    users = graph.consumers(op)
    first = users[0] if len(users) == 1 else None
    args = first.attrs.get("keras", {}) if first is not None else {}
    if first is not None and first.kind is K.EMBEDDING:
        return _token_shape(graph, first, shape, args, stand_in)
    if shape is None and first is not None:
        if "input_shape" in args:
            shape = args["input_shape"]
        elif "batch_input_shape" in args:
            shape = args["batch_input_shape"][1:]
        elif "input_dim" in args:
            shape = (args["input_dim"],)
    known = shape is not None and all(isinstance(d, int) and d > 0 for d in shape)
    if not known and first is not None:
        guessed = _stand_in_shape(first, stand_in)
        if guessed is not None:
            return guessed
    if shape is None or not all(isinstance(d, int) and d > 0 for d in shape):
        where = first.describe() if first is not None else graph.name
        raise CannotBuild(f"the input size of {where} is not known: give it input_shape=, or input-shape in "
                          f"[tool.nnlint.trace.models.{graph.name}]")
    return tuple(shape), None, ()


def _token_shape(graph: ModelGraph, first: Op, shape: Any, args: dict, stand_in: int) -> tuple[tuple[int, ...], int, StoodIn]:
    """Token ids for a first Embedding: of the length the code states (``input_length``, the
    ``Input``'s or ``input_shape``'s), else SEQUENCE_LENGTH steps, and below its ``input_dim``,
    else below ``stand_in`` (the vocabulary the layer is then built with, :func:`layer_step`).
    An embedding maps each id alone, so neither size changes what the layers after it compute,
    except the width of the first Dense or batch norm after a ``Flatten``/``Reshape`` folds the
    steps into features: that width is a stand-in too, and said so."""
    if shape is None:
        if "input_shape" in args or "batch_input_shape" in args:
            shape = args.get("input_shape", tuple(args.get("batch_input_shape", (None, None)))[1:])
        else:
            shape = (args.get("input_length"),)
    shape = tuple(shape) if isinstance(shape, (list, tuple)) and shape else (None,)
    steps = tuple(d if is_size(d) else SEQUENCE_LENGTH for d in shape)
    bound = args.get("input_dim")
    if steps == shape:
        return steps, bound if is_size(bound) else stand_in, ()
    return steps, bound if is_size(bound) else stand_in, (
        (first.id, "input_length", steps[0] if len(steps) == 1 else None), *_sized_by_steps(graph, first))


def _sized_by_steps(graph: ModelGraph, embedding: Op) -> list[tuple[int, str, None]]:
    """The layers whose input width follows from the number of steps of the embedding's output:
    the first Dense or batch norm reached after a ``Flatten``/``Reshape`` that folds the steps
    into features (not after a global pooling or a recurrent layer, which take the steps away)."""
    found: list[tuple[int, str, None]] = []
    seen: set[int] = set()
    stack = [(user, False) for user in graph.consumers(embedding)]
    while stack:
        op, folded = stack.pop()
        if op.id in seen:
            continue
        seen.add(op.id)
        short = op.type_name.rsplit(".", 1)[-1]
        if short.startswith("Global") or op.kind is K.RNN:
            continue
        if folded and op.kind in (K.LINEAR, K.BATCH_NORM):
            found.append((op.id, "in_features" if op.kind is K.LINEAR else "num_features", None))
            continue
        stack += [(user, folded or op.kind is K.RESHAPE) for user in graph.consumers(op)]
    return found


#: first layers whose input's width no code states -> the torch field a stand-in sizes
_STAND_IN_FIELDS = {"Dense": "in_features", "BatchNormalization": "num_features", "Conv1D": "in_channels",
                    "Conv2D": "in_channels", "Conv3D": "in_channels"}


def _stand_in_shape(first: Op, stand_in: int) -> Optional[tuple[tuple[int, ...], None, StoodIn]]:
    """A stand-in sample shape for a first layer the code gives no input shape to, or gives one
    computed at run time (``input_shape=(X.shape[1],)``): ``stand_in`` features for a Dense or a
    batch norm, a ``STAND_IN``-sided image (or sequence) of ``STAND_IN_CHANNELS`` for a convolution. The
    layer's own sizes do not depend on it, so only a finding about its input size would."""
    short = first.type_name.rsplit(".", 1)[-1]
    field = _STAND_IN_FIELDS.get(short)
    if field is None or first.attrs.get("keras", {}).get("data_format") == "channels_first":
        return None
    if short.startswith("Conv"):
        return (*(STAND_IN,) * int(short[-2]), STAND_IN_CHANNELS), None, ((first.id, field, None),)
    return (stand_in,), None, ((first.id, field, None),)


def output_shape(op: Op) -> Optional[tuple[int, ...]]:
    """One sample's output shape where a layer the trace does not rebuild (a recurrent one)
    states it: ``(units,)``, or ``(SEQUENCE_LENGTH, units)`` with ``return_sequences=True``."""
    args = op.attrs.get("keras", {})
    units = args.get("units")
    if op.kind is not K.RNN or not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        return None
    if args.get("return_state") or args.get("go_backwards"):
        return None
    return (SEQUENCE_LENGTH, units) if args.get("return_sequences") is True else (units,)


#: Keras layer arguments that are a size of the data the layer receives, with torch's name for
#: it: where only known at run time (``len(tokenizer.word_index) + 1``), a stand-in of STAND_IN
_DATA_SIZES = {"Embedding": ("input_dim", "num_embeddings")}


def layer_step(op: Op, register: Register, stand_in: StandIn) -> Step:
    """The step computing a Keras layer or activation op; ``stand_in`` hears of each size that is
    a stand-in: of the data the layer receives (an Embedding's vocabulary, known at run time) or
    gives (a Dense's units, ``out_features``)."""
    short = op.type_name.rsplit(".", 1)[-1]
    if op.type_name.startswith("keras.activations.") or short == "Activation":
        return _activation(op)
    args = op.attrs.get("keras", {})
    if short in _DATA_SIZES and not is_size(args.get(_DATA_SIZES[short][0])):
        keras_name, torch_name = _DATA_SIZES[short]
        args = {**args, keras_name: STAND_IN}
        stand_in(torch_name)
    if short == "Dense" and not is_size(args.get("units")):
        # Dense(n_classes), Dense(layers[i]) of a builder's argument: as a torch Linear of unknown
        # out_features, STAND_IN_OUTPUTS units, said in the evidence (a finding on it stays inconclusive)
        args = {**args, "units": STAND_IN_OUTPUTS}
        stand_in("out_features")
    builder = _BUILDERS.get(short)
    if builder is None:
        raise CannotBuild(f"{op.describe()}: the trace does not rebuild Keras {short} layers")
    if args.get("data_format") == "channels_first":
        raise CannotBuild(f"{op.describe()}: channels_first layers are not rebuilt")
    return builder(op, args, register)


def apply_defaults(module: nn.Module) -> None:
    """Keras's initial weights on a materialised layer (torch's defaults differ)."""
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if isinstance(weight, nn.parameter.UninitializedParameter) or not isinstance(weight, torch.Tensor):
        return
    with torch.no_grad():
        if isinstance(module, nn.Embedding):
            nn.init.uniform_(weight, -0.05, 0.05)
        elif isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.xavier_uniform_(weight)
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)


# ---------------------------------------------------------------------- builders


def _activation(op: Op) -> Step:
    fn = ACTIVATIONS.get(op.kind)
    if fn is None:
        raise CannotBuild(f"{op.describe()}: the trace does not rebuild this activation")
    return lambda xs: fn(xs[0])


def _dense(op: Op, args: dict, register: Register) -> Step:
    layer = nn.LazyLinear(_int(op, args, "units"), bias=args.get("use_bias", True) is True)
    register(layer)
    return lambda xs: layer(xs[0])  # like Keras, on the last axis


def _conv(op: Op, args: dict, register: Register) -> Step:
    short = op.type_name.rsplit(".", 1)[-1]
    dims = int(short[-2])
    kernel = _tuple(op, args.get("kernel_size"), dims, "kernel_size")
    stride = _tuple(op, args.get("strides", 1), dims, "strides")
    dilation = _tuple(op, args.get("dilation_rate", 1), dims, "dilation_rate")
    padding = str(args.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise CannotBuild(f"{op.describe()}: padding={padding!r} is not rebuilt")
    layer = _LAZY_CONV[dims](_int(op, args, "filters"), kernel, stride, dilation=dilation,
                             groups=args.get("groups", 1), bias=args.get("use_bias", True) is True)
    register(layer)
    return convolution(layer, kernel, stride, dilation, padding == "same")


def convolution(layer: nn.Module, kernel: tuple, stride: tuple, dilation: tuple, same: bool) -> Step:
    """A convolution on channels-last inputs (the channel axis moved in and out), with
    TensorFlow's "same" padding where asked."""
    def step(xs: list[torch.Tensor]) -> torch.Tensor:
        x = xs[0].movedim(-1, 1)
        if same:
            x = F.pad(x, same_padding(x.shape[2:], kernel, stride, dilation))
        return layer(x).movedim(1, -1)

    return step


def same_padding(size: Any, kernel: tuple, stride: tuple, dilation: tuple) -> list[int]:
    """TensorFlow's "same": output ceil(n / stride), the odd pixel of padding on the far side."""
    pads: list[int] = []
    for n, k, s, d in zip(reversed(size), reversed(kernel), reversed(stride), reversed(dilation)):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def _batch_norm(op: Op, args: dict, register: Register) -> Step:
    if args.get("axis", -1) not in (-1, None):
        raise CannotBuild(f"{op.describe()}: only the last axis (Keras's default) is rebuilt")
    layer = nn.LazyBatchNorm1d(eps=float(args.get("epsilon", 1e-3)), momentum=1 - float(args.get("momentum", 0.99)),
                               affine=args.get("center", True) is True and args.get("scale", True) is True)
    register(layer)

    def step(xs: list[torch.Tensor]) -> torch.Tensor:  # statistics over every axis but the last
        x = xs[0]
        return layer(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    return step


def _layer_norm(op: Op, args: dict, register: Register) -> Step:
    if args.get("axis", -1) != -1:
        raise CannotBuild(f"{op.describe()}: only the last axis (Keras's default) is rebuilt")
    eps = float(args.get("epsilon", 1e-3))
    return lambda xs: F.layer_norm(xs[0], xs[0].shape[-1:], eps=eps)  # Keras's initial gamma 1, beta 0


def _dropout(op: Op, args: dict, register: Register) -> Step:
    short = op.type_name.rsplit(".", 1)[-1]
    rate = args.get("rate")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        raise CannotBuild(f"{op.describe()}: its rate is not a constant")
    if short in _SPATIAL_DROPOUT:
        layer = _SPATIAL_DROPOUT[short](float(rate))
        register(layer)
        return lambda xs: layer(xs[0].movedim(-1, 1)).movedim(1, -1)
    layer = nn.AlphaDropout(float(rate)) if short == "AlphaDropout" else nn.Dropout(float(rate))
    register(layer)
    return lambda xs: layer(xs[0])


def _pool(op: Op, args: dict, register: Register) -> Step:
    short = op.type_name.rsplit(".", 1)[-1]
    if short.startswith("Global"):
        average = "Average" in short
        return lambda xs: xs[0].mean(dim=tuple(range(1, xs[0].dim() - 1))) if average else \
            xs[0].amax(dim=tuple(range(1, xs[0].dim() - 1)))
    padding = str(args.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise CannotBuild(f"{op.describe()}: padding={padding!r} is not rebuilt")
    dims = int(short[-2])
    size = _tuple(op, args.get("pool_size", 2), dims, "pool_size")
    stride = _tuple(op, args.get("strides") or size, dims, "strides")
    return pooling(_POOLS[short](size, stride), size, stride, padding == "same")


def pooling(layer: nn.Module, size: tuple, stride: tuple, same: bool) -> Step:
    """A channels-last pooling; with TensorFlow's "same" padding, padded cells never count: a
    max ignores them (padded with -inf), an average is over the real cells only."""
    if not same:
        return lambda xs: layer(xs[0].movedim(-1, 1)).movedim(1, -1)
    average = isinstance(layer, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d))

    def step(xs: list[torch.Tensor]) -> torch.Tensor:
        x = xs[0].movedim(-1, 1)
        pads = same_padding(x.shape[2:], size, stride, (1,) * len(size))
        if not average:
            return layer(F.pad(x, pads, value=float("-inf"))).movedim(1, -1)
        counts = layer(F.pad(torch.ones_like(x[:1, :1]), pads))
        return (layer(F.pad(x, pads)) / counts).movedim(1, -1)

    return step


def _reshape(op: Op, args: dict, register: Register) -> Step:
    short = op.type_name.rsplit(".", 1)[-1]
    if short == "Flatten":
        return lambda xs: xs[0].reshape(xs[0].shape[0], -1)
    if short == "Reshape" and isinstance(args.get("target_shape"), tuple):
        target = args["target_shape"]
        return lambda xs: xs[0].reshape(xs[0].shape[0], *target)
    if short == "Permute" and isinstance(args.get("dims"), tuple):
        dims = args["dims"]
        return lambda xs: xs[0].permute(0, *dims)
    raise CannotBuild(f"{op.describe()}: its target shape is not a constant")


def _embedding(op: Op, args: dict, register: Register) -> Step:
    layer = nn.Embedding(_int(op, args, "input_dim"), _int(op, args, "output_dim"))
    register(layer)
    return lambda xs: layer(xs[0].long())


def _activation_layer(op: Op, args: dict, register: Register) -> Step:
    short = op.type_name.rsplit(".", 1)[-1]
    if short == "LeakyReLU":
        slope = float(args.get("negative_slope", args.get("alpha", 0.3)))
        return lambda xs: F.leaky_relu(xs[0], slope)
    if short == "ELU":
        alpha = float(args.get("alpha", 1.0))
        return lambda xs: F.elu(xs[0], alpha)
    if short == "Softmax":
        axis = args.get("axis", -1)
        return lambda xs: torch.softmax(xs[0], dim=axis)
    if short == "ReLU" and not any(args.get(k) for k in ("max_value", "negative_slope", "threshold")):
        return lambda xs: torch.relu(xs[0])
    raise CannotBuild(f"{op.describe()}: its arguments are not rebuilt")


def _rescaling(op: Op, args: dict, register: Register) -> Step:
    scale, offset = args.get("scale"), args.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (scale, offset)):
        raise CannotBuild(f"{op.describe()}: its scale is not a constant")
    return lambda xs: xs[0] * scale + offset


def _not_rebuilt(why: str) -> Callable[[Op, dict, Register], Step]:
    def builder(op: Op, args: dict, register: Register) -> Step:
        raise CannotBuild(f"{op.describe()}: {why}")

    return builder


_BUILDERS: dict[str, Callable[[Op, dict, Register], Step]] = {
    "Dense": _dense, "Conv1D": _conv, "Conv2D": _conv, "Conv3D": _conv,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "Dropout": _dropout, "AlphaDropout": _dropout, "SpatialDropout1D": _dropout, "SpatialDropout2D": _dropout,
    "Flatten": _reshape, "Reshape": _reshape, "Permute": _reshape,
    "MaxPooling1D": _pool, "MaxPooling2D": _pool, "MaxPool2D": _pool, "AveragePooling2D": _pool,
    "GlobalAveragePooling1D": _pool, "GlobalAveragePooling2D": _pool, "GlobalMaxPooling2D": _pool,
    "Embedding": _embedding, "ReLU": _activation_layer, "LeakyReLU": _activation_layer, "ELU": _activation_layer,
    "Softmax": _activation_layer, "Rescaling": _rescaling,
    "LSTM": _not_rebuilt("recurrent and attention layers are not rebuilt by the trace"),
    "GRU": _not_rebuilt("recurrent and attention layers are not rebuilt by the trace"),
    "SimpleRNN": _not_rebuilt("recurrent and attention layers are not rebuilt by the trace"),
    "Normalization": _not_rebuilt("its statistics are adapted to the data at run time"),
}


def _int(op: Op, args: dict, name: str) -> int:
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CannotBuild(f"{op.describe()}: its {name} is not a constant")
    return value


def _tuple(op: Op, value: Any, dims: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * dims
    if isinstance(value, tuple) and len(value) == dims and all(isinstance(v, int) for v in value):
        return value
    raise CannotBuild(f"{op.describe()}: its {name} is not a constant")
