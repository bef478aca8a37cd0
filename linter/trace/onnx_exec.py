"""Runs an ONNX graph on torch, so ``--trace`` can measure an exported model as it measures a module.

The trace needs a tiny forward pass, one backward pass and one optimizer step, with every
intermediate tensor at hand. For an ``.onnx`` file there is no module to run, and nnlint never
imports or executes user code, so this executor *interprets* the graph: each node becomes a
small torch function, float initializers become trainable ``nn.Parameter``s, and ``forward``
returns every value by its ONNX name.

All analysis happens in ``__init__`` (attribute parsing, opset differences, constant folding of
shape arithmetic), so ``forward`` is a plain loop over prepared closures and runs at about
torch eager speed. Whatever cannot be run faithfully (an op or attribute outside the table, a
subgraph, a weight whose data is refused) raises :class:`CannotBuild` at construction, which the
trace reports as an inconclusive verdict instead of guessing.

Training mode follows the module (``.train()``/``.eval()``), not the graph: Dropout drops and
BatchNormalization uses batch statistics when training, whatever ``training_mode`` input or
attribute the exporter wrote.
"""

from __future__ import annotations

import math
import re
from collections import ChainMap
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import reduce

import onnx
import onnx.defs
import torch
import torch.nn.functional as F
from nnlint.frontends.onnx_graph import _text
from nnlint.frontends.onnx_load import LoadedModel, Weights
from nnlint.trace.budget import Budget, OverBudget, product, size_text
from nnlint.trace.errors import CannotBuild, CannotRunAlone
from onnx import AttributeProto, TensorProto, numpy_helper
from torch import nn

#: The default-domain opsets interpreted. Below 6 ops carried ``consumed_inputs`` and other
#: legacy forms; the table's ops have been checked against the spec up to 25.
MIN_OPSET, MAX_OPSET = 6, 25
#: A symbolic or unknown input dimension other than the first becomes this (the first is the batch).
OTHER_DIM = 8

_DTYPES: dict[int, torch.dtype] = {
    TensorProto.FLOAT: torch.float32, TensorProto.DOUBLE: torch.float64, TensorProto.FLOAT16: torch.float16,
    TensorProto.BFLOAT16: torch.bfloat16, TensorProto.INT8: torch.int8, TensorProto.INT16: torch.int16,
    TensorProto.INT32: torch.int32, TensorProto.INT64: torch.int64, TensorProto.UINT8: torch.uint8,
    TensorProto.BOOL: torch.bool,
}

#: Ops that keep their input's values: a weight passed through them is still that weight (as in onnx_graph).
_VALUE_PRESERVING = {"Transpose", "Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
#: Inputs that are statistics, not trained weights: left out of :meth:`OnnxExecutor.params_of`.
_STATISTICS = {"BatchNormalization": {3, 4}}
#: Ops whose extra outputs are computed (every other op may only have its first output used).
_MULTI_OUTPUT = {"Split", "Dropout", "BatchNormalization"}
_SUBGRAPH_OPS = {"If", "Loop", "Scan", "SequenceMap"}


class _Dynamic:
    """Marks an attribute-like input that is only known when the graph runs."""

    def __repr__(self) -> str:
        return "DYNAMIC"


DYNAMIC = _Dynamic()
Static = list | _Dynamic | None  # known at build time, absent, or computed by the graph
Fn = Callable[..., object]


# ------------------------------------------------------------------------------------------- nodes


class _Node:
    """One node while it is prepared: typed attribute reads (every read is recorded, so an
    attribute nobody understood fails the build) and the inputs whose values are known already."""

    def __init__(self, proto: onnx.NodeProto, name: str, opset: int, known: dict, shapes: dict,
                 weights: Weights, device: torch.device, fixed_batch: int | None = None,
                 overrides: dict | None = None) -> None:
        self.proto = proto
        #: values that replace what the node reads, by attribute name (a Dropout's ``ratio``,
        #: attribute or input): a remedy measured on the graph as exported otherwise
        self.overrides = overrides or {}
        #: the batch size every graph input declares as a number (an export traced at batch 1),
        #: which the export may have baked into its reshapes; None where the batch is symbolic
        self.fixed_batch = fixed_batch
        self.name = name
        self.op = proto.op_type
        self.opset = opset
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        while len(self.outputs) > 1 and not self.outputs[-1]:
            self.outputs.pop()
        self.weights = weights
        self.device = device
        self._known = known
        self._shapes = shapes
        self._attrs = {a.name: a for a in proto.attribute}
        self._read: set[str] = set()

    def fail(self, reason: str) -> CannotBuild:
        return CannotBuild(f"node '{self.name}' ({self.op}): {reason}")

    # attributes ---------------------------------------------------------------------------------

    def _value(self, name: str, kind: int):
        self._read.add(name)
        attr = self._attrs.get(name)
        if attr is None:
            return None
        if attr.type != kind:
            raise self.fail(f"attribute '{name}' has type {AttributeProto.AttributeType.Name(attr.type)}, "
                            f"expected {AttributeProto.AttributeType.Name(kind)}")
        return onnx.helper.get_attribute_value(attr)

    def _required(self, name: str, value):
        if value is None:
            raise self.fail(f"attribute '{name}' is missing")
        return value

    def int(self, name: str, default: int | None = None, required: bool = False) -> int | None:
        value = self._value(name, AttributeProto.INT)
        return self._required(name, value) if required else (default if value is None else int(value))

    def float(self, name: str, default: float | None = None) -> float | None:
        value = self._value(name, AttributeProto.FLOAT)
        return default if value is None else float(value)

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self._value(name, AttributeProto.STRING)
        return default if value is None else value.decode("utf-8", "replace")

    def ints(self, name: str, required: bool = False) -> list[int] | None:
        value = self._value(name, AttributeProto.INTS)
        return self._required(name, value) if required else value

    def floats(self, name: str) -> list[float] | None:
        return self._value(name, AttributeProto.FLOATS)

    def tensor(self, name: str) -> TensorProto | None:
        return self._value(name, AttributeProto.TENSOR)

    def ignore(self, *names: str) -> None:
        """Attributes that cannot change this executor's results (seeds, legacy flags)."""
        self._read.update(names)

    def unread(self) -> list[str]:
        return [a for a in self._attrs if a not in self._read]

    # inputs -------------------------------------------------------------------------------------

    def has(self, index: int) -> bool:
        return index < len(self.inputs) and bool(self.inputs[index])

    def const(self, index: int) -> torch.Tensor | None:
        """The value of input ``index`` when it is known before the graph runs."""
        return self._known.get(self.inputs[index]) if self.has(index) else None

    def shape(self, index: int) -> tuple[int, ...] | None:
        """The shape of input ``index`` when it is a weight or a constant."""
        return self._shapes.get(self.inputs[index]) if self.has(index) else None

    def input_list(self, index: int) -> Static:
        """An input read as plain numbers (axes, pads, sizes, scales, a ratio): its values, None when
        absent, DYNAMIC when the graph computes it. A float initializer here is read at its initial
        value: used as a number, it gets no gradient, so training never changes it."""
        if not self.has(index):
            return None
        value = self.const(index)
        return DYNAMIC if value is None else value.reshape(-1).tolist()

    def attr_or_input(self, attr: str, index: int, since: int) -> Static:
        """Ints that moved from an attribute to input ``index`` in opset ``since`` (axes, split, pads)."""
        return self.ints(attr) if self.opset < since else self.input_list(index)

    def input_scalar(self, index: int) -> None | float | _Dynamic:
        values = self.input_list(index)
        return values if values is None or values is DYNAMIC else values[0]


def _resolve(static: Static, tensor: torch.Tensor | None) -> list | None:
    """A build-time list, or the runtime tensor's values when it was DYNAMIC."""
    return tensor.reshape(-1).tolist() if static is DYNAMIC else static


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


# ---------------------------------------------------------------------------------- elementwise


def _align(b: torch.Tensor, rank: int, axis: int) -> torch.Tensor:
    """Opset < 7 broadcasting with ``axis``: B's dimensions line up with A's from ``axis`` on."""
    return b.reshape(tuple(b.shape) + (1,) * (rank - _axis(axis, rank) - b.dim()))


def _binary(op: Fn) -> Callable[[_Node], Fn]:
    def build(n: _Node) -> Fn:
        if n.opset >= 7:
            return op
        n.ignore("broadcast")  # numpy broadcasting is a superset of the legacy one
        axis = n.int("axis")
        return op if axis is None else lambda a, b: op(a, _align(b, a.dim(), axis))
    return build


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Integer Div truncates toward zero (as in C++), float Div is true division."""
    return torch.div(a, b) if a.is_floating_point() else torch.div(a, b, rounding_mode="trunc")


def _pow(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.pow(a, b).to(a.dtype)  # the result has the base's type, whatever the exponent's


def _fixed(op: Fn) -> Callable[[_Node], Fn]:
    """An op without attributes: the same function for every node."""
    return lambda n: op


def _variadic(op: Fn, mean: bool = False) -> Callable[[_Node], Fn]:
    def run(*xs: torch.Tensor) -> torch.Tensor:
        total = reduce(op, xs)
        return total / len(xs) if mean else total
    return lambda n: run


def _leaky_relu(n: _Node) -> Fn:
    alpha = n.float("alpha", 0.01)
    return lambda x: F.leaky_relu(x, alpha)


def _elu(n: _Node) -> Fn:
    alpha = n.float("alpha", 1.0)
    return lambda x: F.elu(x, alpha)


def _celu(n: _Node) -> Fn:
    alpha = n.float("alpha", 1.0)
    return lambda x: F.celu(x, alpha)


def _selu(n: _Node) -> Fn:
    alpha = n.float("alpha", 1.67326319217681884765625)
    gamma = n.float("gamma", 1.05070102214813232421875)
    return lambda x: gamma * F.elu(x, alpha)


def _hard_sigmoid(n: _Node) -> Fn:
    alpha, beta = n.float("alpha", 0.2), n.float("beta", 0.5)
    return lambda x: torch.clamp(x * alpha + beta, 0.0, 1.0)


def _gelu(n: _Node) -> Fn:
    approximate = n.str("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise n.fail(f"approximate='{approximate}' not supported")
    return lambda x: F.gelu(x, approximate=approximate)


def _prelu(n: _Node) -> Fn:
    return lambda x, slope: torch.where(x < 0, x * slope, x)  # slope broadcasts numpy-style, unlike F.prelu


def _clip(n: _Node) -> Fn:
    if n.opset < 11:
        low, high = n.float("min"), n.float("max")
        return lambda x: x if low is None and high is None else torch.clamp(x, low, high)
    return lambda x, low=None, high=None: x if low is None and high is None else torch.clamp(x, low, high)


def _softmax(op: Fn) -> Callable[[_Node], Fn]:
    """Softmax/LogSoftmax: from opset 13 along ``axis`` (default -1); before, on the input
    coerced to 2-D at ``axis`` (default 1), i.e. over all the dimensions from ``axis`` on."""

    def build(n: _Node) -> Fn:
        if n.opset >= 13:
            axis = n.int("axis", -1)
            return lambda x: op(x, axis)
        axis = n.int("axis", 1)
        return lambda x: op(x.flatten(_axis(axis, x.dim())), -1).reshape(x.shape)
    return build


# ------------------------------------------------------------------------------------- linear


def _gemm(n: _Node) -> Fn:
    alpha, beta = n.float("alpha", 1.0), n.float("beta", 1.0)
    trans_a, trans_b = n.int("transA", 0), n.int("transB", 0)
    if n.opset < 7:
        n.ignore("broadcast")

    def gemm(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        a, b = (a.t() if trans_a else a), (b.t() if trans_b else b)
        if c is not None:
            return torch.addmm(c, a, b, beta=beta, alpha=alpha)
        product = a @ b
        return product if alpha == 1.0 else product * alpha
    return gemm


def _einsum(n: _Node) -> Fn:
    equation = n.str("equation")
    if not equation:
        raise n.fail("attribute 'equation' is missing")
    equation = equation.replace(" ", "")
    return lambda *xs: torch.einsum(equation, *xs)


# ------------------------------------------------------------------------------ conv and pooling

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


class _Window:
    """The sliding-window attributes shared by Conv, ConvTranspose and the pools."""

    def __init__(self, n: _Node, dilations: bool = True) -> None:
        self.kernel = n.ints("kernel_shape")
        self.strides = n.ints("strides")
        self.dilations = n.ints("dilations") if dilations else None
        self.pads = n.ints("pads")
        self.auto_pad = n.str("auto_pad", "NOTSET")
        if self.auto_pad not in _AUTO_PADS:
            raise n.fail(f"auto_pad='{self.auto_pad}' not supported")
        rank = len(self.kernel) if self.kernel else None
        for values in (self.strides, self.dilations):
            if values is not None and rank is not None and len(values) != rank:
                raise n.fail("window attributes of different lengths")
        if self.pads is not None and rank is not None and len(self.pads) != 2 * rank:
            raise n.fail("pads do not match kernel_shape")

    def required_kernel(self, n: _Node) -> list[int]:
        if not self.kernel:
            raise n.fail("attribute 'kernel_shape' is missing")
        return self.kernel

    def steps(self, rank: int) -> tuple[list[int], list[int]]:
        return list(self.strides or [1] * rank), list(self.dilations or [1] * rank)

    def static_pads(self, rank: int) -> tuple[list[int], list[int]] | None:
        """(begins, ends) when they do not depend on the input size."""
        if self.auto_pad == "VALID":
            return [0] * rank, [0] * rank
        if self.auto_pad != "NOTSET":
            return None
        pads = self.pads or [0] * (2 * rank)
        return list(pads[:rank]), list(pads[rank:])

    def pads_for(self, sizes: Sequence[int], kernel: Sequence[int]) -> tuple[list[int], list[int]]:
        """(begins, ends) for this input; SAME_* pads so that the output is ceil(size / stride)."""
        rank = len(kernel)
        fixed = self.static_pads(rank)
        if fixed is not None:
            return fixed
        strides, dilations = self.steps(rank)
        begins, ends = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilations):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if self.auto_pad == "SAME_UPPER" else large)
            ends.append(large if self.auto_pad == "SAME_UPPER" else small)
        return begins, ends


def _torch_pads(begins: Sequence[int], ends: Sequence[int]) -> list[int]:
    """ONNX (all begins, then all ends) -> F.pad order (last dimension first, begin/end pairs)."""
    out: list[int] = []
    for begin, end in zip(reversed(begins), reversed(ends)):
        out += [begin, end]
    return out


def _conv(n: _Node) -> Fn:
    window = _Window(n)
    group = n.int("group", 1)
    weight = n.shape(1)
    kernel = window.kernel or (list(weight[2:]) if weight else None)
    if kernel and window.pads is not None and len(window.pads) != 2 * len(kernel):
        raise n.fail("pads do not match the kernel")
    if kernel and window.static_pads(len(kernel)) is not None:
        rank = len(kernel)
        begins, ends = window.static_pads(rank)
        strides, dilations = window.steps(rank)
        conv = _CONV.get(rank)
        if conv is None:
            raise n.fail(f"{rank}-D convolution not supported")
        if begins == ends:
            return lambda x, w, b=None: conv(x, w, b, strides, begins, dilations, group)
        pads = _torch_pads(begins, ends)
        return lambda x, w, b=None: conv(F.pad(x, pads), w, b, strides, 0, dilations, group)

    def dynamic(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        k = w.shape[2:]
        strides, dilations = window.steps(len(k))
        begins, ends = window.pads_for(x.shape[2:], k)
        return _CONV[len(k)](F.pad(x, _torch_pads(begins, ends)), w, b, strides, 0, dilations, group)
    return dynamic


def _conv_transpose(n: _Node) -> Fn:
    """Computed with no padding, then cropped (pads) or extended (output_padding, output_shape) with
    one F.pad, which takes negative amounts: the only exact way for asymmetric pads."""
    window = _Window(n)
    group = n.int("group", 1)
    output_padding = n.ints("output_padding")
    output_shape = n.ints("output_shape")
    weight = n.shape(1)
    rank = len(window.kernel or (weight[2:] if weight else ()))
    fixed = window.static_pads(rank) if rank and output_shape is None else None
    if fixed and fixed[0] == fixed[1] and rank in _CONV_T:
        strides, dilations = window.steps(rank)
        extra = output_padding or [0] * rank
        if all(e < max(s, d) for e, s, d in zip(extra, strides, dilations)):  # what torch accepts
            conv_t, padding = _CONV_T[rank], fixed[0]
            return lambda x, w, b=None: conv_t(x, w, b, strides, padding, extra, group, dilations)

    def run(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        k = w.shape[2:]
        rank = len(k)
        strides, dilations = window.steps(rank)
        extra = output_padding or [0] * rank
        full = [(size - 1) * s + (kk - 1) * d + 1 + e
                for size, kk, s, d, e in zip(x.shape[2:], k, strides, dilations, extra)]
        begins, ends = _transpose_pads(window, x.shape[2:], strides, full, output_shape)
        y = _CONV_T[rank](x, w, None, strides, 0, 0, group, dilations)
        y = F.pad(y, _torch_pads([-p for p in begins], [e - p for e, p in zip(extra, ends)]))
        return y if b is None else y + b.reshape((-1,) + (1,) * rank)
    return run


def _transpose_pads(window: _Window, sizes: Sequence[int], strides: Sequence[int], full: Sequence[int],
                    output_shape: list[int] | None) -> tuple[list[int], list[int]]:
    rank = len(full)
    if output_shape is None and window.auto_pad in ("NOTSET", "VALID"):
        return window.static_pads(rank)
    targets = output_shape[-rank:] if output_shape else [size * s for size, s in zip(sizes, strides)]
    begins, ends = [], []
    for total in (f - t for f, t in zip(full, targets)):
        half = total // 2
        upper = window.auto_pad == "SAME_UPPER"
        begins.append(half if upper else total - half)
        ends.append(total - half if upper else half)
    return begins, ends


def _max_pool(n: _Node) -> Fn:
    window = _Window(n, dilations=n.opset >= 10)
    ceil = bool(n.int("ceil_mode", 0)) if n.opset >= 10 else False
    n.ignore("storage_order")  # only affects the Indices output, which is refused
    kernel = window.required_kernel(n)
    rank = len(kernel)
    pool = _MAX_POOL.get(rank)
    if pool is None:
        raise n.fail(f"{rank}-D pooling not supported")
    strides, dilations = window.steps(rank)
    fixed = window.static_pads(rank)
    if fixed is not None and fixed[0] == fixed[1] and _fits(fixed[0], kernel, dilations):
        padding = fixed[0]
        return lambda x: pool(x, kernel, strides, padding, dilations, ceil)

    def padded(x: torch.Tensor) -> torch.Tensor:
        begins, ends = window.pads_for(x.shape[2:], kernel)
        return pool(F.pad(x, _torch_pads(begins, ends), value=-math.inf), kernel, strides, 0, dilations, ceil)
    return padded


def _fits(pads: Sequence[int], kernel: Sequence[int], dilations: Sequence[int]) -> bool:
    """torch pools pad at most half the (dilated) kernel on each side."""
    return all(2 * p <= (k - 1) * d + 1 for p, k, d in zip(pads, kernel, dilations))


def _average_pool(n: _Node) -> Fn:
    window = _Window(n, dilations=n.opset >= 19)
    ceil = bool(n.int("ceil_mode", 0)) if n.opset >= 10 else False
    include_pad = bool(n.int("count_include_pad", 0))
    kernel = window.required_kernel(n)
    rank = len(kernel)
    pool = _AVG_POOL.get(rank)
    strides, dilations = window.steps(rank)
    if pool is None:
        raise n.fail(f"{rank}-D pooling not supported")
    if any(d != 1 for d in dilations):
        raise n.fail("dilated average pooling not supported")
    fixed = window.static_pads(rank)
    if fixed is not None and fixed[0] == fixed[1] and _fits(fixed[0], kernel, dilations):
        padding = fixed[0]
        return lambda x: pool(x, kernel, strides, padding, ceil, include_pad)

    def padded(x: torch.Tensor) -> torch.Tensor:
        pads = _torch_pads(*window.pads_for(x.shape[2:], kernel))
        total = pool(F.pad(x, pads), kernel, strides, 0, ceil, True)
        if include_pad:
            return total
        ones = F.pad(torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device), pads)
        return total / pool(ones, kernel, strides, 0, ceil, True)  # the mean over real elements only
    return padded


def _global_pool(op: Callable) -> Callable[[_Node], Fn]:
    return lambda n: lambda x: op(x, tuple(range(2, x.dim())), keepdim=True)


def _lrn(n: _Node) -> Fn:
    size = n.int("size", required=True)
    alpha, beta, bias = n.float("alpha", 1e-4), n.float("beta", 0.75), n.float("bias", 1.0)
    if size % 2 == 0:
        raise n.fail("an even LRN size pads differently in torch")
    return lambda x: F.local_response_norm(x, size, alpha, beta, bias)


# ------------------------------------------------------------------------------- normalization


def _batch_norm(n: _Node) -> tuple[Fn, Fn]:
    """Eval: the running statistics. Training: batch statistics, with no running tensors passed to
    torch, so the initializers are never updated in place. The extra outputs of a training-mode
    export are computed as ONNX defines them: from opset 14 the updated running mean and
    variance (population variance); before, those and the batch's own mean and variance
    (``saved_mean``, ``saved_var``, as onnx's reference computes them), which torch's
    TorchScript exporter writes at opsets 9 to 13 and nothing reads."""
    eps, momentum = n.float("epsilon", 1e-5), n.float("momentum", 0.9)
    if n.opset < 9 and n.int("spatial", 1) != 1:
        raise n.fail("spatial=0 not supported")
    n.ignore("is_test", "training_mode")  # the module's own mode decides
    count = len(n.outputs)

    def evaluate(x, scale, bias, mean, var):
        y = F.batch_norm(x, mean.detach(), var.detach(), scale, bias, False, 0.0, eps)
        return (y, mean, var, mean, var)[:count] if count > 1 else y

    def train(x, scale, bias, mean, var):
        y = F.batch_norm(x, None, None, scale, bias, True, 0.0, eps)
        if count == 1:
            return y
        dims = [0] + list(range(2, x.dim()))
        batch_mean, batch_var = x.mean(dims), x.var(dims, unbiased=False)
        running_mean = mean.detach() * momentum + batch_mean.detach() * (1 - momentum)
        running_var = var.detach() * momentum + batch_var.detach() * (1 - momentum)
        return (y, running_mean, running_var, batch_mean, batch_var)[:count]
    return train, evaluate


def _layer_norm(n: _Node) -> Fn:
    axis, eps = n.int("axis", -1), n.float("epsilon", 1e-5)
    n.ignore("stash_type")  # torch accumulates reduced-precision inputs in float32 anyway

    def run(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        shape = x.shape[_axis(axis, x.dim()):]
        if scale.shape == shape and (bias is None or bias.shape == shape):
            return F.layer_norm(x, shape, scale, bias, eps)
        y = F.layer_norm(x, shape, None, None, eps) * scale  # Scale and B only broadcast to the shape
        return y if bias is None else y + bias
    return run


def _instance_norm(n: _Node) -> Fn:
    eps = n.float("epsilon", 1e-5)
    return lambda x, scale, bias: F.instance_norm(x, None, None, scale, bias, True, 0.0, eps)


def _group_norm(n: _Node) -> Fn:
    """Opset 18 has one scale and bias per *group*; opset 21 per channel, as torch."""
    groups, eps = n.int("num_groups", required=True), n.float("epsilon", 1e-5)
    n.ignore("stash_type")
    per_group = n.opset < 21

    def run(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        if per_group:
            scale = scale.repeat_interleave(x.shape[1] // groups)
            bias = bias.repeat_interleave(x.shape[1] // groups)
        return F.group_norm(x, groups, scale, bias, eps)
    return run


def _dropout(n: _Node) -> tuple[Fn, Fn]:
    """The ratio is an attribute before opset 12, the second input from it on. The exported
    ``training_mode`` input is ignored: the module's mode decides (drops only when training)."""
    ratio = n.float("ratio", 0.5) if n.opset < 12 else n.input_scalar(1)
    ratio = n.overrides.get("ratio", 0.5 if ratio is None else ratio)
    n.ignore("seed", "is_test")
    with_mask = len(n.outputs) > 1
    mask_type = torch.bool if n.opset >= 10 else None

    def train(x: torch.Tensor, given=None, training_mode=None):
        p = float(given) if ratio is DYNAMIC else ratio
        if not with_mask:
            return F.dropout(x, p, True)
        keep = torch.rand_like(x, dtype=torch.float32) >= p
        y = x * keep * (1.0 / (1.0 - p) if p < 1 else 0.0)
        return y, keep.to(mask_type or x.dtype)

    def evaluate(x: torch.Tensor, given=None, training_mode=None):
        return (x, torch.ones_like(x, dtype=mask_type or x.dtype)) if with_mask else x
    return train, evaluate


# ---------------------------------------------------------------------------- shape and layout


def _flatten(n: _Node) -> Fn:
    axis = n.int("axis", 1)

    def run(x: torch.Tensor) -> torch.Tensor:
        a = _axis(axis, x.dim())
        return x.reshape(math.prod(x.shape[:a]), math.prod(x.shape[a:]))
    return run


def _reshape(n: _Node) -> Fn:
    """0 copies the input's dimension (unless ``allowzero``), -1 is inferred. An export traced at
    a fixed batch may have baked it into the target (``[1, 1024]``): where that target does not
    fit the traced batch, a leading size equal to the declared batch is read as the batch."""
    allow_zero = bool(n.int("allowzero", 0)) if n.opset >= 14 else False
    shape = n.input_list(1)
    if shape is None:
        raise n.fail("no shape input")
    baked = n.fixed_batch

    def fit(x: torch.Tensor, target: list) -> torch.Tensor:
        if baked is not None and target and target[0] == baked and x.dim() and x.shape[0] != baked \
                and -1 not in target[1:] and math.prod(target) != x.numel():
            target = [x.shape[0], *target[1:]]
        return x.reshape(target)

    if shape is not DYNAMIC and (allow_zero or 0 not in shape):
        return lambda x, s: fit(x, list(shape))

    def run(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        target = _resolve(shape, s)
        if not allow_zero:
            target = [x.shape[i] if v == 0 else v for i, v in enumerate(target)]
        return fit(x, target)
    return run


def _transpose(n: _Node) -> Fn:
    perm = n.ints("perm")
    return lambda x: x.permute(perm if perm is not None else tuple(reversed(range(x.dim()))))


def _squeeze(n: _Node) -> Fn:
    axes = n.attr_or_input("axes", 1, 13)

    def run(x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        dims = _resolve(axes, a)
        return x.squeeze() if dims is None else x.squeeze(tuple(dims))
    return run


def _unsqueeze(n: _Node) -> Fn:
    axes = n.attr_or_input("axes", 1, 13)
    if axes is None:
        raise n.fail("no axes")

    def run(x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        dims = _resolve(axes, a)
        rank = x.dim() + len(dims)
        for d in sorted(_axis(d, rank) for d in dims):
            x = x.unsqueeze(d)
        return x
    return run


def _concat(n: _Node) -> Fn:
    axis = n.int("axis", required=True)
    return lambda *xs: torch.cat(xs, axis)


def _split(n: _Node) -> Fn:
    """Sizes: ``split`` attribute before 13, input from 13; else equal parts (the last smaller, opset 18)."""
    axis = n.int("axis", 0)
    sizes = n.attr_or_input("split", 1, 13)
    n.ignore("num_outputs")  # opset 18: the number of outputs, which the node has anyway
    parts = len(n.proto.output)
    single = len(n.outputs) == 1

    def run(x: torch.Tensor, s: torch.Tensor | None = None):
        given = _resolve(sizes, s)
        pieces = torch.split(x, given if given else math.ceil(x.shape[axis] / parts), axis)
        return pieces[0] if single else pieces
    return run


def _slice(n: _Node) -> Fn:
    if n.opset < 10:
        starts, ends, axes, steps = n.ints("starts", required=True), n.ints("ends", required=True), n.ints("axes"), None
    else:
        starts, ends, axes, steps = (n.input_list(i) for i in range(1, 5))
        if starts is None or ends is None:
            raise n.fail("starts and ends are required")

    def run(x: torch.Tensor, given_starts=None, given_ends=None, given_axes=None, given_steps=None) -> torch.Tensor:
        begins, ends_ = _resolve(starts, given_starts), _resolve(ends, given_ends)
        dims = _resolve(axes, given_axes) or list(range(len(begins)))
        strides = _resolve(steps, given_steps) or [1] * len(begins)
        index = [slice(None)] * x.dim()
        flips = []
        for begin, end, dim, step in zip(begins, ends_, dims, strides):
            dim = _axis(dim, x.dim())
            size = x.shape[dim]
            begin, end = _clamp_slice(begin, end, step, size)
            if step > 0:
                index[dim] = slice(begin, end, step)
            else:  # torch slices only forwards: flip, then walk the mirrored range
                flips.append(dim)
                index[dim] = slice(size - 1 - begin, size - 1 - end, -step)
        if flips:
            x = x.flip(flips)
        return x[tuple(index)]
    return run


def _clamp_slice(begin: int, end: int, step: int, size: int) -> tuple[int, int]:
    """ONNX's clamping: negative indices count from the end, then clamp to the valid range."""
    begin = begin + size if begin < 0 else begin
    end = end + size if end < 0 else end
    if step > 0:
        return min(max(begin, 0), size), min(max(end, 0), size)
    return min(max(begin, 0), size - 1), min(max(end, -1), size - 1)


def _gather(n: _Node) -> Fn:
    axis = n.int("axis", 0)

    def run(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        a = _axis(axis, x.dim())
        idx = torch.where(idx < 0, idx + x.shape[a], idx)
        picked = torch.index_select(x, a, idx.reshape(-1))
        return picked.reshape(x.shape[:a] + idx.shape + x.shape[a + 1:])
    return run


def _shape(n: _Node) -> Fn:
    start, end = (n.int("start", 0), n.int("end")) if n.opset >= 15 else (0, None)
    return lambda x: torch.tensor(x.shape[start:end], dtype=torch.int64, device=x.device)


def _size(n: _Node) -> Fn:
    return lambda x: torch.tensor(x.numel(), dtype=torch.int64, device=x.device)


def _cast(n: _Node) -> Fn:
    to = n.int("to", required=True)
    n.ignore("saturate")  # only for float8 targets, which are refused
    dtype = _DTYPES.get(to)
    if dtype is None:
        raise n.fail(f"cast to {_type_name(to)} not supported")
    return lambda x: x.to(dtype)


def _cast_like(n: _Node) -> Fn:
    n.ignore("saturate")
    return lambda x, like: x.to(like.dtype)


def _expand(n: _Node) -> Fn:
    """Bidirectional broadcasting: the result has the broadcast of both shapes."""
    shape = n.input_list(1)

    def run(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return x.expand(torch.broadcast_shapes(x.shape, tuple(_resolve(shape, s))))
    return run


def _tile(n: _Node) -> Fn:
    repeats = n.input_list(1)
    return lambda x, r: x.repeat(_resolve(repeats, r))


def _pad(n: _Node) -> Fn:
    mode = n.str("mode", "constant")
    if mode != "constant":
        raise n.fail(f"mode='{mode}' not supported")
    if n.opset < 11:
        pads, value, axes = n.ints("pads", required=True), n.float("value", 0.0), None
    else:
        pads, value, axes = n.input_list(1), n.input_scalar(2), n.input_list(3)

    def run(x: torch.Tensor, p=None, v=None, a=None) -> torch.Tensor:
        amounts = _resolve(pads, p)
        dims = [_axis(d, x.dim()) for d in (_resolve(axes, a) or range(x.dim()))]
        torch_pads = [0] * (2 * x.dim())
        for i, d in enumerate(dims):
            slot = 2 * (x.dim() - 1 - d)
            torch_pads[slot], torch_pads[slot + 1] = amounts[i], amounts[len(dims) + i]
        fill = v.item() if value is DYNAMIC else (value or 0)
        return F.pad(x, torch_pads, value=fill)
    return run


def _range(n: _Node) -> Fn:
    return lambda start, limit, delta: torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype,
                                                    device=start.device)


def _trilu(n: _Node) -> Fn:
    op = torch.triu if n.int("upper", 1) else torch.tril
    k = n.input_scalar(1)
    return lambda x, given=None: op(x, int(given) if k is DYNAMIC else int(k or 0))


def _cumsum(n: _Node) -> Fn:
    exclusive, reverse = n.int("exclusive", 0), n.int("reverse", 0)
    static_axis = n.input_scalar(1)

    def run(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        axis = _axis(int(a) if static_axis is DYNAMIC else int(static_axis), x.dim())
        if reverse:
            x = x.flip(axis)
        y = torch.cumsum(x, axis, dtype=x.dtype)
        if exclusive:
            y = torch.cat([torch.zeros_like(y.narrow(axis, 0, 1)), y.narrow(axis, 0, y.shape[axis] - 1)], axis)
        return y.flip(axis) if reverse else y
    return run


# ------------------------------------------------------------------------------------ reductions


def _reduce(op: Callable[[torch.Tensor, tuple, bool], torch.Tensor], since: int) -> Callable[[_Node], Fn]:
    """ReduceX: ``axes`` an attribute before opset ``since``, an input from it on (with
    ``noop_with_empty_axes``); no axes means all of them."""

    def build(n: _Node) -> Fn:
        keep = bool(n.int("keepdims", 1))
        axes = n.attr_or_input("axes", 1, since)
        noop = n.opset >= since and bool(n.int("noop_with_empty_axes", 0))

        def run(x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
            dims = _resolve(axes, a)
            if not dims:
                if noop:
                    return x
                dims = range(x.dim())
            return op(x, tuple(_axis(d, x.dim()) for d in dims), keep)
        return run
    return build


def _prod(x: torch.Tensor, dims: tuple, keep: bool) -> torch.Tensor:
    for d in sorted(dims, reverse=True):
        x = torch.prod(x, d, keepdim=keep)
    return x


_REDUCTIONS: dict[str, tuple[Callable, int]] = {
    "ReduceSum": (lambda x, d, k: torch.sum(x, d, k), 13),
    "ReduceMean": (lambda x, d, k: torch.mean(x, d, k), 18),
    "ReduceMax": (lambda x, d, k: torch.amax(x, d, k), 18),
    "ReduceMin": (lambda x, d, k: torch.amin(x, d, k), 18),
    "ReduceProd": (_prod, 18),
    "ReduceLogSumExp": (lambda x, d, k: torch.logsumexp(x, d, k), 18),
    "ReduceLogSum": (lambda x, d, k: torch.log(torch.sum(x, d, k)), 18),
    "ReduceSumSquare": (lambda x, d, k: torch.sum(x * x, d, k), 18),
    "ReduceL1": (lambda x, d, k: torch.sum(x.abs(), d, k), 18),
    "ReduceL2": (lambda x, d, k: torch.sqrt(torch.sum(x * x, d, k)), 18),
}


def _arg(op: Callable) -> Callable[[_Node], Fn]:
    """ArgMax/ArgMin; ``select_last_index`` (opset 12) searches the flipped axis."""

    def build(n: _Node) -> Fn:
        axis, keep = n.int("axis", 0), bool(n.int("keepdims", 1))
        last = n.opset >= 12 and bool(n.int("select_last_index", 0))

        def run(x: torch.Tensor) -> torch.Tensor:
            a = _axis(axis, x.dim())
            if not last:
                return op(x, a, keep)
            return x.shape[a] - 1 - op(x.flip(a), a, keep)
        return run
    return build


# -------------------------------------------------------------------------------------- resize

_COORDINATES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nn")
_NEAREST = {
    "round_prefer_floor": lambda c: torch.ceil(c - 0.5),
    "round_prefer_ceil": lambda c: torch.floor(c + 0.5),
    "floor": torch.floor,
    "ceil": torch.ceil,
}


class _ResizeSpec:
    """How one Resize/Upsample interpolates, after the opset's defaults are applied."""

    def __init__(self, mode: str, coordinates: str, nearest: str, cubic_a: float = -0.75,
                 exclude_outside: bool = False) -> None:
        self.mode, self.coordinates, self.nearest = mode, coordinates, nearest
        self.cubic_a, self.exclude_outside = cubic_a, exclude_outside

    def source(self, out: int, size: int, scale: float, device: torch.device) -> torch.Tensor:
        """The input coordinate each output index samples, by ``coordinate_transformation_mode``."""
        x = torch.arange(out, dtype=torch.float64, device=device)
        mode = self.coordinates
        if mode == "asymmetric":
            return x / scale
        if mode == "align_corners":
            return x * ((size - 1) / (out - 1)) if out > 1 else torch.zeros_like(x)
        if mode == "tf_half_pixel_for_nn":
            return (x + 0.5) / scale
        if mode == "pytorch_half_pixel" and out <= 1:
            return torch.zeros_like(x)
        centre = (x + 0.5) / scale - 0.5
        if mode == "half_pixel_symmetric":
            centre = centre + size / 2 * (1 - out / (scale * size))
        return centre

    def resample(self, x: torch.Tensor, axis: int, out: int, scale: float) -> torch.Tensor:
        size = x.shape[axis]
        coords = self.source(out, size, scale, x.device)
        if self.mode == "nearest":
            index = _NEAREST[self.nearest](coords).clamp(0, size - 1).long()
            return x.index_select(axis, index)
        low = torch.floor(coords)
        if self.mode == "cubic":
            return self._cubic(x, axis, low, coords - low)
        weight = (coords - low).to(x.dtype).reshape((-1,) + (1,) * (x.dim() - axis - 1))
        left = x.index_select(axis, low.clamp(0, size - 1).long())
        right = x.index_select(axis, (low + 1).clamp(0, size - 1).long())
        return left * (1 - weight) + right * weight

    def _cubic(self, x: torch.Tensor, axis: int, low: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Keys' cubic convolution over the four neighbours ``low - 1 .. low + 2``, with the
        spec's coefficient ``a``: the edge value repeats past the border, or with
        ``exclude_outside`` those neighbours weigh 0 and the others are renormalised."""
        a, size = self.cubic_a, x.shape[axis]
        distances = (t + 1, t, 1 - t, 2 - t)
        weights = [((a * d - 5 * a) * d + 8 * a) * d - 4 * a if k in (0, 3) else ((a + 2) * d - (a + 3)) * d * d + 1
                   for k, d in enumerate(distances)]
        indices = [low + k - 1 for k in range(4)]
        if self.exclude_outside:
            weights = [w * ((i >= 0) & (i <= size - 1)) for w, i in zip(weights, indices)]
            total = sum(weights)
            weights = [w / total for w in weights]
        shape = (-1,) + (1,) * (x.dim() - axis - 1)
        return sum(x.index_select(axis, i.clamp(0, size - 1).long()) * w.to(x.dtype).reshape(shape)
                   for w, i in zip(weights, indices))

    def run(self, x: torch.Tensor, axes: Sequence[int], scales: list | None, sizes: list | None) -> torch.Tensor:
        for i, axis in enumerate(axes):
            size = x.shape[axis]
            if sizes:
                out = int(sizes[i])
                scale = out / size
            else:
                scale = float(scales[i])
                out = math.floor(size * scale)
            if out != size or scale != 1.0:
                x = self.resample(x, axis, out, scale)
        return x


def _resize(n: _Node) -> Fn:
    """Nearest, (bi/tri)linear and cubic, one axis at a time, with ONNX's own coordinate
    formulas; antialiasing, tf_crop_and_resize and aspect-ratio policies are refused."""
    mode = n.str("mode", "nearest")
    if n.opset < 11:
        scales = n.input_list(1)
        spec = _legacy_resize(n, mode, scales)
        return lambda x, s: spec.run(x, range(x.dim()), _resolve(scales, s), None)
    coordinates = n.str("coordinate_transformation_mode", "half_pixel")
    nearest = n.str("nearest_mode", "round_prefer_floor")
    n.ignore("extrapolation_value")  # tf_crop_and_resize only
    if mode not in ("nearest", "linear", "cubic") or coordinates not in _COORDINATES or nearest not in _NEAREST:
        raise n.fail(f"mode '{mode}' with coordinates '{coordinates}' and nearest_mode '{nearest}' not supported")
    if n.int("antialias", 0) or n.str("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise n.fail("antialias and keep_aspect_ratio_policy not supported")
    spec = _ResizeSpec(mode, coordinates, nearest, n.float("cubic_coeff_a", -0.75), bool(n.int("exclude_outside", 0)))
    axes = n.ints("axes")
    scales, sizes = n.input_list(2), n.input_list(3)

    def run(x: torch.Tensor, roi=None, s=None, z=None) -> torch.Tensor:
        dims = [_axis(a, x.dim()) for a in axes] if axes else range(x.dim())
        return spec.run(x, dims, _resolve(scales, s), _resolve(sizes, z))
    return run


def _legacy_resize(n: _Node, mode: str, scales: Static) -> _ResizeSpec:
    """Upsample and Resize-10: asymmetric coordinates, and nearest rounds down, which runtimes
    only agree on when upsampling: a constant scale below 1 is refused."""
    if mode not in ("nearest", "linear"):
        raise n.fail(f"mode '{mode}' not supported")
    if isinstance(scales, list) and any(s < 1 for s in scales):
        raise n.fail("downsampling with opset < 11 resize semantics not supported")
    return _ResizeSpec(mode, "asymmetric", "floor")


def _upsample(n: _Node) -> Fn:
    if n.opset >= 10:
        raise n.fail("deprecated since opset 10 (Resize replaces it)")
    mode = n.str("mode", "nearest")
    if n.opset < 9:
        scales = n.floats("scales")
        if scales is None:
            raise n.fail("attribute 'scales' is missing")
        spec = _legacy_resize(n, mode, scales)
        return lambda x: spec.run(x, range(x.dim()), scales, None)
    scales = n.input_list(1)
    spec = _legacy_resize(n, mode, scales)
    return lambda x, s: spec.run(x, range(x.dim()), _resolve(scales, s), None)


# ------------------------------------------------------------------------------------ constants


def _constant(n: _Node) -> Fn:
    """Folded at build time (it has no inputs), so the tensor it closes over is never moved."""
    proto = n.tensor("value")
    if proto is not None:
        array = n.weights.array(n.outputs[0])
        if array is None:
            raise n.fail(_refusal(n.weights, n.outputs[0], "its value cannot be read"))
        value = _to_torch(array, proto.data_type, n.device, n.fail)
        return lambda: value
    numbers = {torch.float32: (n.float("value_float"), n.floats("value_floats")),
               torch.int64: (n.int("value_int"), n.ints("value_ints"))}
    for dtype, candidates in numbers.items():
        for number in candidates:
            if number is not None:
                value = torch.tensor(number, dtype=dtype, device=n.device)
                return lambda: value
    raise n.fail("only tensor, float and int constants are supported")


def _constant_of_shape(n: _Node) -> Fn:
    proto = n.tensor("value")
    if proto is None:
        fill, dtype = 0.0, torch.float32
    else:
        if proto.data_location == TensorProto.EXTERNAL:
            raise n.fail("external data in an attribute not supported")
        dtype = _DTYPES.get(proto.data_type)
        try:
            array = numpy_helper.to_array(proto) if dtype is not None else None
        except ValueError:  # data that does not match its type and shape
            array = None
        if array is None or array.size != 1:
            raise n.fail("the fill value must be a one-element tensor of a supported type")
        fill = array.reshape(-1)[0].item()
    return lambda shape: torch.full(shape.tolist(), fill, dtype=dtype, device=shape.device)


# ------------------------------------------------------------------------------------ the table

_OPS: dict[str, Callable[[_Node], Fn | tuple[Fn, Fn]]] = {
    # arithmetic and logic
    "Add": _binary(torch.add), "Sub": _binary(torch.sub), "Mul": _binary(torch.mul), "Div": _binary(_div),
    "Pow": _binary(_pow), "Equal": _binary(torch.eq), "Less": _binary(torch.lt), "Greater": _binary(torch.gt),
    "LessOrEqual": _binary(torch.le), "GreaterOrEqual": _binary(torch.ge), "And": _binary(torch.logical_and),
    "Or": _binary(torch.logical_or), "Xor": _binary(torch.logical_xor), "Where": _fixed(torch.where),
    "Sum": _variadic(torch.add), "Mean": _variadic(torch.add, mean=True), "Min": _variadic(torch.minimum),
    "Max": _variadic(torch.maximum), "MatMul": _fixed(torch.matmul), "Gemm": _gemm, "Einsum": _einsum,
    # elementwise
    "Sqrt": _fixed(torch.sqrt), "Reciprocal": _fixed(torch.reciprocal), "Neg": _fixed(torch.neg),
    "Abs": _fixed(torch.abs), "Exp": _fixed(torch.exp), "Log": _fixed(torch.log), "Erf": _fixed(torch.erf),
    "Floor": _fixed(torch.floor), "Ceil": _fixed(torch.ceil), "Round": _fixed(torch.round),
    "Sign": _fixed(torch.sign), "Sin": _fixed(torch.sin), "Cos": _fixed(torch.cos), "Not": _fixed(torch.logical_not),
    "Identity": _fixed(lambda x: x), "Clip": _clip,
    # activations
    "Relu": _fixed(torch.relu), "Tanh": _fixed(torch.tanh), "Sigmoid": _fixed(torch.sigmoid),
    "Softsign": _fixed(F.softsign), "Softplus": _fixed(F.softplus), "HardSwish": _fixed(F.hardswish),
    "HardSigmoid": _hard_sigmoid, "LeakyRelu": _leaky_relu, "PRelu": _prelu, "Elu": _elu, "Celu": _celu,
    "Selu": _selu, "Gelu": _gelu, "Softmax": _softmax(torch.softmax), "LogSoftmax": _softmax(torch.log_softmax),
    # convolution, pooling, normalization
    "Conv": _conv, "ConvTranspose": _conv_transpose, "MaxPool": _max_pool, "AveragePool": _average_pool,
    "GlobalAveragePool": _global_pool(torch.mean), "GlobalMaxPool": _global_pool(torch.amax), "LRN": _lrn,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm, "GroupNormalization": _group_norm, "Dropout": _dropout,
    # shapes and layout
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose, "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze, "Concat": _concat, "Split": _split, "Slice": _slice, "Gather": _gather,
    "Shape": _shape, "Size": _size, "Cast": _cast, "CastLike": _cast_like, "Expand": _expand, "Tile": _tile,
    "Pad": _pad, "Range": _range, "Trilu": _trilu, "CumSum": _cumsum, "Resize": _resize, "Upsample": _upsample,
    "Constant": _constant, "ConstantOfShape": _constant_of_shape,
    # reductions
    **{op: _reduce(fn, since) for op, (fn, since) in _REDUCTIONS.items()},
    "ArgMax": _arg(torch.argmax), "ArgMin": _arg(torch.argmin),
}


# ------------------------------------------------------------------------------------ executor


def _to_torch(array, data_type: int, device: torch.device, fail: Callable[[str], CannotBuild]) -> torch.Tensor:
    dtype = _DTYPES.get(data_type)
    if dtype is None:
        raise fail(f"tensor type {_type_name(data_type)} not supported")
    if dtype is torch.bfloat16:  # numpy has no bfloat16: move the bits
        return torch.from_numpy(array.view("uint16").copy()).view(torch.bfloat16).to(device)
    return torch.from_numpy(array.copy()).to(device)


def _type_name(code: int) -> str:
    return TensorProto.DataType.Name(code) if code in TensorProto.DataType.values() else str(code)


def _refusal(weights: Weights, name: str, fallback: str) -> str:
    problem = next((p for p in reversed(weights.loaded.problems) if p.tensor == name), None)
    return problem.message if problem else fallback


def _key(prefix: str, index: int, name) -> str:
    """A module attribute name for an ONNX tensor name (which may hold dots, slashes, anything)."""
    return f"{prefix}{index}_{re.sub(r'[^0-9A-Za-z_]', '_', _text(name))[:60]}"


class OnnxExecutor(nn.Module):
    """An ONNX graph as a torch module: ``forward(feeds)`` returns every value by its ONNX name."""

    def __init__(self, loaded: LoadedModel, device: torch.device, batch: int = 8,
                 dims: dict[str, int] | None = None, budget: Budget | None = None,
                 overrides: dict[str, dict] | None = None) -> None:
        """:class:`~nnlint.trace.budget.OverBudget`, before anything is allocated, when the
        initializers or the inputs the graph declares exceed ``budget``. ``overrides``: by node
        name, values that replace what a node reads (a remedy's Dropout ratio)."""
        super().__init__()
        self._overrides = overrides or {}
        device = torch.device(device)
        graph = loaded.model.graph
        budget = budget or Budget(batch=batch)
        self._opset = _default_opset(loaded.model)
        self._weights = Weights(replace(loaded, problems=[]))  # refusals are raised, not added to the lint's
        self.params = nn.ParameterDict()
        self.consts = nn.Module()
        self._names: dict[str, str] = {}  # parameter or buffer key -> ONNX name
        self._static: dict[str, torch.Tensor] = {}  # values known before any input (never trained)
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._specs = _input_specs(graph, {t.name for t in graph.initializer}, batch, dims or {})
        self._fixed_batch = _fixed_batch(graph, {t.name for t in graph.initializer})
        budget.check(_initializer_bytes(graph), "parameters")
        sizes = {name: product(shape) * _itemsize(dtype) for name, shape, dtype in self._specs}
        if sizes:
            name, shape, _ = max(self._specs, key=lambda spec: sizes[spec[0]])
            budget.check(sum(sizes.values()), f"inputs at batch {batch} ('{_text(name)}' alone is "
                                              f"{'x'.join(map(str, shape))} values)")
        self._load_initializers(graph, device)
        self._inputs = [name for name, _, _ in self._specs]
        self._train_steps: list[tuple[Fn, tuple, tuple]] = []
        self._eval_steps: list[tuple[Fn, tuple, tuple]] = []
        self._outputs: dict[str, str | None] = {}
        self._op_types: dict[str, str] = {}  # node name -> op type, for messages
        self._node_params: dict[str, list[str]] = {}
        self._build(graph, device)
        for index, (name, value) in enumerate(self._static.items()):
            key = _key("c", index, name)
            self.consts.register_buffer(key, value)
            self._names[key] = name
        del self._static
        self._dead = _last_reads(self._eval_steps, set(self._names.values()))
        self._from_weights = _weight_only(self._eval_steps, set(self._names.values()))

    # -- construction ---------------------------------------------------------------------------

    def _load_initializers(self, graph: onnx.GraphProto, device: torch.device) -> None:
        """Float initializers become Parameters, the others constants; only those the graph uses."""
        used = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
        for index, tensor in enumerate(graph.initializer):
            if tensor.name not in used or tensor.name in self._shapes:
                continue
            fail = lambda reason, name=tensor.name: CannotBuild(f"initializer '{_text(name)}': {reason}")
            array = self._weights.array(tensor.name)
            if array is None:
                raise fail(_refusal(self._weights, tensor.name, "its data cannot be read"))
            value = _to_torch(array, tensor.data_type, device, fail)
            self._shapes[tensor.name] = tuple(value.shape)
            if value.is_floating_point():
                key = _key("p", index, tensor.name)
                self.params[key] = nn.Parameter(value, requires_grad=True)
                self._names[key] = tensor.name
            else:
                self._static[tensor.name] = value

    def _build(self, graph: onnx.GraphProto, device: torch.device) -> None:
        """Prepare every node, folding those whose inputs are all constants (shape arithmetic, fills)."""
        defined = {""} | set(self._shapes) | set(self._inputs)
        weight_of = {self._names[k]: k for k in self.params}  # tensor -> parameter key, through aliases
        known = ChainMap(self._static, {self._names[k]: p.detach() for k, p in self.params.items()})
        for index, proto in enumerate(graph.node):
            name = _text(proto.name) or f"{proto.op_type}#{index}"
            self._outputs.setdefault(name, proto.output[0] if proto.output else None)
            self._op_types.setdefault(name, proto.op_type)
            node = _Node(proto, name, self._opset, known, self._shapes, self._weights, device, self._fixed_batch,
                         self._overrides.get(name))
            missing = [i for i in node.inputs if i not in defined]
            if missing:
                raise node.fail(f"input '{_text(missing[0])}' is not computed before the node")
            train, evaluate = self._prepare(node)
            statistics = _STATISTICS.get(node.op, ())
            self._node_params[name] = list(dict.fromkeys(
                weight_of[i] for slot, i in enumerate(node.inputs) if i in weight_of and slot not in statistics))
            if node.op in _VALUE_PRESERVING and node.inputs and node.inputs[0] in weight_of:
                weight_of[node.outputs[0]] = weight_of[node.inputs[0]]
            outputs = tuple(o or None for o in node.outputs)  # an unused output slot gets a dead name
            if train is evaluate and all(i in self._static or not i for i in node.inputs):
                self._fold(node, evaluate, outputs)
            else:
                self._train_steps.append((train, tuple(node.inputs), outputs))
                self._eval_steps.append((evaluate, tuple(node.inputs), outputs))
            defined.update(node.outputs)

    def _prepare(self, node: _Node) -> tuple[Fn, Fn]:
        if node.op in _SUBGRAPH_OPS or any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS)
                                           for a in node.proto.attribute):
            raise node.fail("subgraphs are not supported")
        if node.proto.domain not in ("", "ai.onnx"):
            raise node.fail(f"domain '{node.proto.domain}' not supported")
        builder = _OPS.get(node.op)
        if builder is None:
            raise node.fail("op not supported")
        try:
            schema = onnx.defs.get_schema(node.op, self._opset, "")
        except onnx.defs.SchemaError:
            raise node.fail(f"not defined in opset {self._opset}") from None
        if len(node.inputs) > schema.max_input or len(node.proto.output) > schema.max_output:
            raise node.fail("more inputs or outputs than the op defines")
        if len(node.outputs) > 1 and node.op not in _MULTI_OUTPUT:
            raise node.fail(f"output '{_text(node.outputs[1])}' not supported")
        built = builder(node)
        unread = node.unread()
        if unread:
            raise node.fail(f"attribute '{unread[0]}' not supported")
        return built if isinstance(built, tuple) else (built, built)

    def _fold(self, node: _Node, fn: Fn, outputs: tuple) -> None:
        """Run a node whose inputs are all constants once, now; its outputs become constants."""
        try:
            with torch.no_grad():
                result = fn(*[self._static.get(i) for i in node.inputs])
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise node.fail(f"cannot evaluate its constant inputs ({str(exc).splitlines()[0][:200]})") from None
        for name, value in zip(outputs, (result,) if len(outputs) == 1 else result):
            if name is not None:
                self._static[name] = value
                self._shapes[name] = tuple(value.shape)

    # -- the interface --------------------------------------------------------------------------

    def input_specs(self) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
        """Graph inputs that are not initializers: name, concrete shape, dtype. A symbolic or
        unknown dimension is ``dims[dim_param]`` when given, else ``batch`` on the first axis and
        8 on the others."""
        return list(self._specs)

    def forward(self, feeds: dict[str, torch.Tensor],
                visit: Callable[[str, object], None] | None = None) -> dict[str, torch.Tensor]:
        """Every value computed, by ONNX tensor name: inputs, weights, constants and node outputs.

        With ``visit``, each node output is handed to ``visit(name, value)`` as it is computed and
        dropped once no later node reads it, as a plain forward pass lets it go (a ResNet-50 at
        batch 8 holds one to two gigabytes of activations otherwise, which the allocator hands
        back and pages in again at every pass); the result then holds the weights, constants and
        unread inputs only."""
        missing = [name for name in self._inputs if name not in feeds]
        if missing:
            raise KeyError(f"no value fed for graph input '{missing[0]}'")
        env = self._weights_and_constants()
        env.update((name, feeds[name]) for name in self._inputs)  # initializers stay weights, never fed
        env[""] = None
        for index, (fn, inputs, outputs) in enumerate(self._train_steps if self.training else self._eval_steps):
            result = fn(*[env[i] for i in inputs])
            if len(outputs) == 1:
                env[outputs[0]] = result
            else:
                env.update(zip(outputs, result))
            if visit is not None:
                for name in outputs:
                    if name is not None:
                        visit(name, env[name])
                for name in self._dead[index]:
                    del env[name]
        del env[""]
        env.pop(None, None)
        return env

    def activation_total(self, feeds: dict[str, torch.Tensor], limit: int) -> int:
        """The bytes of every node output of an evaluation pass on ``feeds``: what a training
        pass keeps for its backward pass (the rebuilt models' first pass counts the same), though
        this pass drops each output after its last reader, as :meth:`forward` with ``visit``
        does, so it holds no more than an evaluation pass. :class:`~nnlint.trace.budget.OverBudget`
        as soon as the total passes ``limit``: a graph whose declared sizes are modest can still
        grow them (a x4 ``Resize`` then convolutions at the new size), and the pass stops one
        node past the limit rather than at the machine's."""
        env = self._weights_and_constants()
        env.update((name, feeds[name]) for name in self._inputs)
        env[""] = None
        total = 0
        for index, (fn, inputs, outputs) in enumerate(self._eval_steps):
            result = fn(*[env[i] for i in inputs])
            for name, value in zip(outputs, [result] if len(outputs) == 1 else result):
                env[name] = value
                if name is not None and isinstance(value, torch.Tensor):
                    total += value.element_size() * value.nelement()
            if total > limit:
                raise OverBudget(f"the activations pass {size_text(limit)}")
            for name in self._dead[index]:
                del env[name]
        return total

    def mode_free(self) -> bool:
        """No node computes differently in training mode: the graph has no Dropout or
        BatchNormalization (an inference export has usually folded or dropped them), the only
        ops of the table that depend on the mode; none other draws random numbers."""
        return all(train[0] is evaluate[0] for train, evaluate in zip(self._train_steps, self._eval_steps))

    def node_output(self, node_name: str) -> str | None:
        """The node's first output tensor name (nodes named as onnx_graph names them)."""
        return self._outputs.get(node_name)

    def params_of(self, node_name: str) -> list[nn.Parameter]:
        """The float initializers the node consumes, directly or through a value-preserving op
        (Transpose, Identity, Cast, Reshape, Squeeze, Unsqueeze, Flatten); BatchNormalization's
        running statistics are not trained, so they are left out."""
        return [self.params[k] for k in self._node_params.get(node_name, [])]

    def run_node(self, node_name: str, first: torch.Tensor) -> torch.Tensor | None:
        """The node alone, on ``first`` as its first input and its weights and constants as they
        are (the trace's zero-input and dropout probes); None for a node folded into a constant.

        Its other inputs may be computed from weights by nodes before it: a training-mode or
        unfolded export (``do_constant_folding=False``) writes ``x @ W.T`` as ``MatMul(x,
        Transpose(W))``. Those nodes are run first, on the weights as they are now (a probe may
        have shifted a bias). An input computed from the graph's inputs (the second operand of
        an ``Add`` of two branches) cannot be had alone: :class:`CannotRunAlone` names it."""
        output = self._outputs.get(node_name)
        steps = self._train_steps if self.training else self._eval_steps
        index = next((k for k, s in enumerate(steps) if s[2] and s[2][0] == output), None)
        if index is None:
            return None
        fn, inputs, outputs = steps[index]
        env = self._weights_and_constants()
        wanted = [i for i in inputs[1:] if i and i not in env]
        for name in wanted:
            if name not in self._from_weights:
                raise CannotRunAlone(f"node '{_text(node_name)}' ({self._op_types.get(node_name, '?')}) cannot run "
                                     f"alone: its input '{_text(name)}' is computed from the graph's inputs")
        if wanted:
            for k in sorted(_ancestors(wanted, self._from_weights)):
                step_fn, step_inputs, step_outputs = steps[k]
                result = step_fn(*[env.get(i) if i else None for i in step_inputs])
                env.update(zip(step_outputs, (result,) if len(step_outputs) == 1 else result))
        result = fn(first, *[env.get(i) if i else None for i in inputs[1:]])
        return result if len(outputs) == 1 else result[0]

    def _weights_and_constants(self) -> dict:
        """The values every pass starts from, by ONNX tensor name."""
        names = self._names
        env: dict = {names[k]: p for k, p in self.params.items()}
        env.update((names[k], b) for k, b in self.consts.named_buffers(recurse=False))
        return env


def _last_reads(steps: list[tuple[Fn, tuple, tuple]], kept: set[str]) -> list[tuple[str, ...]]:
    """For each step, the values no later step reads (inputs read for the last time, outputs
    never read), weights and constants (``kept``) aside: what a visited pass drops after it."""
    last: dict[str, int] = {}
    for index, (_, inputs, outputs) in enumerate(steps):
        for name in (*inputs, *outputs):
            last[name] = index
    dead: list[list[str]] = [[] for _ in steps]
    for name, index in last.items():
        if name and name not in kept:  # not "" (an absent input) nor None (an unused output slot)
            dead[index].append(name)
    return [tuple(names) for names in dead]


def _weight_only(steps: list[tuple[Fn, tuple, tuple]], weights: set[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """The values computed from weights and constants alone (no graph input reaches them), each
    with the step that computes it and that step's inputs: what :meth:`OnnxExecutor.run_node`
    can compute for a node run alone."""
    found: dict[str, tuple[int, tuple[str, ...]]] = {}
    for index, (_, inputs, outputs) in enumerate(steps):
        if all(not i or i in weights or i in found for i in inputs):
            for name in outputs:
                if name is not None:
                    found[name] = (index, inputs)
    return found


def _ancestors(names: list[str], from_weights: dict[str, tuple[int, tuple[str, ...]]]) -> set[int]:
    """The steps that compute ``names`` from the weights, and those their inputs need."""
    steps: set[int] = set()
    todo = list(names)
    while todo:
        entry = from_weights.get(todo.pop())
        if entry is not None and entry[0] not in steps:
            steps.add(entry[0])
            todo.extend(entry[1])
    return steps


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _initializer_bytes(graph: onnx.GraphProto) -> int:
    """What the initializers the graph uses take once loaded, from their declared dims (an
    unknown element type counts one byte: it is refused when loaded anyway)."""
    used = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
    return sum(product(t.dims) * (_itemsize(_DTYPES[t.data_type]) if t.data_type in _DTYPES else 1)
               for t in graph.initializer if t.name in used)


def _default_opset(model: onnx.ModelProto) -> int:
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if version is None:
        raise CannotBuild("the model imports no ai.onnx opset")
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise CannotBuild(f"ai.onnx opset {version} not supported (only {MIN_OPSET} to {MAX_OPSET})")
    return version


def _fixed_batch(graph: onnx.GraphProto, initializers: set[str]) -> int | None:
    """The batch size all graph inputs declare as one number, or None (symbolic, or none)."""
    sizes = set()
    for value in graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if not dims or not dims[0].HasField("dim_value"):
            return None
        sizes.add(dims[0].dim_value)
    return sizes.pop() if len(sizes) == 1 else None


def _input_specs(graph: onnx.GraphProto, initializers: set[str], batch: int,
                 dims: dict[str, int]) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    specs = []
    seen: set[str] = set()
    for value in graph.input:
        if value.name in initializers or value.name in seen:
            continue
        seen.add(value.name)
        where = f"input '{_text(value.name)}'"
        if not value.type.HasField("tensor_type"):
            raise CannotBuild(f"{where}: not a tensor")
        tensor_type = value.type.tensor_type
        dtype = _DTYPES.get(tensor_type.elem_type)
        if dtype is None:
            raise CannotBuild(f"{where}: element type {_type_name(tensor_type.elem_type)} not supported")
        if not tensor_type.HasField("shape"):
            raise CannotBuild(f"{where}: unknown rank")
        shape = []
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value >= 0:
                shape.append(dim.dim_value)
            elif dim.HasField("dim_param") and dim.dim_param in dims:
                shape.append(int(dims[dim.dim_param]))
            else:
                shape.append(batch if axis == 0 else OTHER_DIM)
        specs.append((value.name, tuple(shape), dtype))
    return specs
