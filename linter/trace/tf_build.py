"""TensorFlow 1 graph code rebuilt as torch steps, for ``--trace`` (no TensorFlow imported).

The TF1 frontend turns ``tf.matmul(x, W) + b`` into a LINEAR op carrying the variable's shape
and initializer, ``tf.nn.conv2d(x, W, strides, padding) + b`` into a CONV op, and every other
``tf.*`` function of tensors into an op with its call's constant arguments. Each becomes the
torch computation of the same function in TensorFlow's channels-last layout: a variable's
kernel is ``[in, out]`` (``[kh, kw, in, out]``), a convolution and a pooling move the channel
axis in and out, ``padding="SAME"`` pads as TensorFlow does. Weights start as the code's
initializer draws them; a bias starts as its own variable's initializer. A function whose
arguments are not constants, or which the table below does not know (``tf.reduce_mean`` of a
loss, ``tf.argmax``), cannot be built and says so: only what is computed from it is lost.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import nn

from nnlint.ir import InputRef, Op, OpKind
from nnlint.trace.errors import CannotBuild
from nnlint.trace.keras_build import ACTIVATIONS, convolution, pooling
from nnlint.trace.stand_ins import STAND_IN_OUTPUTS, STAND_IN_RATE, is_size

K = OpKind
Step = Callable[[list[torch.Tensor]], torch.Tensor]
Register = Callable[[nn.Module], None]  # keeps a layer's parameters in the model
StandIn = Callable[[str], None]  # says which of the layer's arguments is a stand-in ("p")

#: functions over an axis (by default the last, as in TensorFlow)
_AXIS_FUNCTIONS = {K.SOFTMAX: torch.softmax, K.LOG_SOFTMAX: torch.log_softmax}
#: element-wise functions, by kind: the activations as Keras computes them, and a few more
_ELEMENTWISE: dict[OpKind, Callable[[torch.Tensor], torch.Tensor]] = {
    **{kind: fn for kind, fn in ACTIVATIONS.items() if kind not in _AXIS_FUNCTIONS},
    K.EXP: torch.exp, K.LOG: torch.log, K.IDENTITY: lambda x: x,
}
_REDUCTIONS = {K.REDUCE_SUM: torch.sum, K.REDUCE_MAX: torch.amax, K.LOGSUMEXP: torch.logsumexp}


def is_tf(op: Op) -> bool:
    return op.type_name.startswith("tensorflow.")


def tf_step(op: Op, register: Register, stand_in: StandIn) -> Step:
    """The step computing a TF1 graph op; :class:`CannotBuild` saying why where there is none."""
    if op.kind is K.LINEAR:
        return _linear(op, register, stand_in)
    if op.kind is K.CONV and op.type_name == "tensorflow.nn.conv2d":
        return _conv2d(op, register)
    args, kwargs = _constant_call(op)
    if op.kind in _ELEMENTWISE:
        fn = _ELEMENTWISE[op.kind]
        return lambda xs: fn(xs[0])
    if op.kind in _AXIS_FUNCTIONS:
        axis = _axis(op, args[1:], kwargs, ("axis", "dim"), default=-1)
        fn = _AXIS_FUNCTIONS[op.kind]
        return lambda xs: fn(xs[0], dim=axis)
    if op.kind in _REDUCTIONS:
        return _reduction(op, args, kwargs)
    if op.kind is K.RESHAPE:
        return _reshape(op, args, kwargs)
    if op.kind is K.POOL and op.type_name in ("tensorflow.nn.max_pool", "tensorflow.nn.avg_pool"):
        return _pool(op, args, kwargs)
    if op.kind is K.DROPOUT:
        return _dropout(op, register, stand_in)
    raise CannotBuild(f"{op.describe()} is not something the trace can rebuild")


# ---------------------------------------------------------------------- layers


def _linear(op: Op, register: Register, stand_in: StandIn) -> Step:
    """``tf.matmul(x, W) + b``: a Linear of the variable's size (a lazy one, sized by its input,
    where the code leaves the input size unknown; STAND_IN_OUTPUTS outputs where it leaves their
    number unknown)."""
    width, out = op.attrs.get("in_features"), op.attrs.get("out_features")
    if not is_size(out):  # [64, env.action_space.n]: a stand-in number of outputs, said
        out = STAND_IN_OUTPUTS
        stand_in("out_features")
    bias = op.attrs.get("bias") is True
    layer = nn.Linear(width, out, bias=bias) if is_size(width) else nn.LazyLinear(out, bias=bias)
    register(layer)
    return lambda xs: layer(xs[0])


def _conv2d(op: Op, register: Register) -> Step:
    """``tf.nn.conv2d(x, W, strides=[1, s, s, 1], padding="SAME")`` on channels-last inputs."""
    channels, out = op.attrs.get("in_channels"), op.attrs.get("out_features")
    kernel = op.attrs.get("kernel_size")
    if not (is_size(channels) and is_size(out) and isinstance(kernel, tuple) and all(map(is_size, kernel))):
        raise CannotBuild(f"{op.describe()}: the size of its filter variable is not known")
    args, kwargs = _constant_call(op)
    strides = kwargs.get("strides", args[2] if len(args) > 2 else None)
    padding = str(kwargs.get("padding", args[3] if len(args) > 3 else "")).upper()
    if isinstance(strides, int) and not isinstance(strides, bool):
        strides = [1, strides, strides, 1]
    if not (isinstance(strides, (list, tuple)) and len(strides) == 4 and all(map(is_size, strides))
            and strides[0] == strides[3] == 1) or padding not in ("SAME", "VALID"):
        raise CannotBuild(f"{op.describe()}: its strides or padding are not constants the trace rebuilds")
    stride = tuple(strides[1:3])
    layer = nn.Conv2d(channels, out, kernel, stride, bias=op.attrs.get("bias") is True)
    register(layer)
    return convolution(layer, kernel, stride, (1, 1), padding == "SAME")


def _dropout(op: Op, register: Register, stand_in: StandIn) -> Step:
    """``tf.nn.dropout(x, keep_prob)`` (TF1) or ``rate=`` (TF2): the rate as a torch Dropout; a
    keep probability or a rate fed at run time (``feed_dict={keep_prob: 0.5}``) is a stand-in
    rate, which only a finding about this dropout depends on."""
    rate = op.attrs.get("p")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
        if not (op.attrs.get("keep_placeholder") or op.attrs.get("rate_placeholder")):
            raise CannotBuild(f"{op.describe()}: its rate is not a constant")
        rate = STAND_IN_RATE
        stand_in("p")
    layer = nn.Dropout(float(rate))
    register(layer)
    return lambda xs: layer(xs[0])


# ---------------------------------------------------------------------- functions


def _reduction(op: Op, args: list, kwargs: dict) -> Step:
    axis = _axis(op, args[1:], kwargs, ("axis", "reduction_indices"), default=None)
    keep = bool(kwargs.get("keepdims", kwargs.get("keep_dims", args[2] if len(args) > 2 else False)))
    fn = _REDUCTIONS[op.kind]
    if axis is None:
        return lambda xs: fn(xs[0], dim=tuple(range(xs[0].dim())), keepdim=keep)
    return lambda xs: fn(xs[0], dim=axis, keepdim=keep)


def _reshape(op: Op, args: list, kwargs: dict) -> Step:
    name = op.type_name[len("tensorflow."):]
    if name == "reshape":
        shape = kwargs.get("shape", args[1] if len(args) > 1 else None)
        if isinstance(shape, (list, tuple)) and shape and all(isinstance(d, int) and not isinstance(d, bool)
                                                               and (d > 0 or d == -1) for d in shape):
            target = tuple(shape)
            return lambda xs: xs[0].reshape(target)
    elif name in ("squeeze", "expand_dims"):
        axis = _axis(op, args[1:], kwargs, ("axis",), default=None)
        if name == "expand_dims" and isinstance(axis, int):
            return lambda xs: xs[0].unsqueeze(axis)
        if name == "squeeze":
            return (lambda xs: xs[0].squeeze()) if axis is None else (lambda xs: xs[0].squeeze(axis))
    raise CannotBuild(f"{op.describe()}: its target shape is not a constant")


def _pool(op: Op, args: list, kwargs: dict) -> Step:
    """``tf.nn.max_pool(x, ksize=[1, k, k, 1], strides=[1, s, s, 1], padding=...)``."""
    size = kwargs.get("ksize", args[1] if len(args) > 1 else None)
    strides = kwargs.get("strides", args[2] if len(args) > 2 else None)
    padding = str(kwargs.get("padding", args[3] if len(args) > 3 else "")).upper()
    window = _window(size)
    stride = _window(strides)
    if window is None or stride is None or padding not in ("SAME", "VALID"):
        raise CannotBuild(f"{op.describe()}: its window, strides or padding are not constants the trace rebuilds")
    layer = nn.AvgPool2d(window, stride) if op.type_name.endswith("avg_pool") else nn.MaxPool2d(window, stride)
    return pooling(layer, window, stride, padding == "SAME")


def _window(value: Any) -> Optional[tuple[int, int]]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 4 and all(map(is_size, value)) and value[0] == value[3] == 1:
        return (value[1], value[2])
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_size, value)):
        return (value[0], value[1])
    return None


# ---------------------------------------------------------------------- arguments


def _constant_call(op: Op) -> tuple[list, dict]:
    """The op's call with its first tensor argument in place; ``([], {})`` when not recorded."""
    call = op.attrs.get("call")
    if call is None:
        return [], {}
    args, kwargs = call
    return list(args), dict(kwargs)


def _axis(op: Op, rest: list, kwargs: dict, names: tuple[str, ...], default: Any) -> Any:
    """An axis argument given by keyword (any of ``names``) or as the first positional one."""
    value = next((kwargs[n] for n in names if n in kwargs and kwargs[n] is not None), rest[0] if rest else default)
    if value is None:
        return default
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, InputRef):
        raise CannotBuild(f"{op.describe()}: its axis is a tensor")
    raise CannotBuild(f"{op.describe()}: its axis is not a constant")


def placeholder_shape(op: Op) -> Optional[tuple[int, ...]]:
    """One sample's shape as a TF1 placeholder declares it (``[None, 784]`` -> ``(784,)``);
    None when it is not a placeholder or any size after the batch is left open."""
    shape = op.attrs.get("shape")
    if not op.type_name.startswith("tensorflow.placeholder") or not isinstance(shape, (list, tuple)) or len(shape) < 2:
        return None
    sizes = tuple(shape[1:])
    return sizes if all(map(is_size, sizes)) else None
