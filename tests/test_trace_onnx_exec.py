"""The ONNX executor of ``--trace``: its results against onnx's reference evaluator, op by op and
on real exports, plus training mode, gradients, parameters, and what it refuses to build."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import onnx
import onnx.parser
import pytest
from nnlint.frontends import onnx_graph
from nnlint.frontends.onnx_load import LoadedModel, Weights, load
from nnlint.trace.errors import CannotBuild
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from . import onnx_builders as B

torch = pytest.importorskip("torch")
OnnxExecutor = pytest.importorskip("nnlint.trace.onnx_exec").OnnxExecutor

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"
CPU = torch.device("cpu")


# ------------------------------------------------------------------------------------ helpers


class BatchNormalization(OpRun):
    """onnx 1.23's reference blends in batch statistics whenever ``momentum`` has a value, and it
    fills the schema default in: an exported inference-mode BatchNormalization (opset 9 to 13)
    comes out wrong. This is the inference formula of the spec."""

    op_domain = ""

    def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, spatial=None, is_test=None,
             training_mode=None):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon) * scale.reshape(shape)
        return ((y + bias.reshape(shape)).astype(x.dtype),)


def _softmax_reference(x: np.ndarray, node: onnx.NodeProto, opset: int, log: bool) -> np.ndarray:
    """Before opset 13 the input is coerced to 2-D at ``axis`` (default 1); the reference applies
    the opset-13 definition (one axis, default -1) to every opset."""
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1 if opset < 13 else -1)
    axis = axis % x.ndim
    flat = x.reshape(math.prod(x.shape[:axis]), -1) if opset < 13 else np.moveaxis(x, axis, -1)
    shifted = flat - flat.max(axis=-1, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    out = out if log else np.exp(out)
    return (out.reshape(x.shape) if opset < 13 else np.moveaxis(out, -1, axis)).astype(x.dtype)


class Softmax(OpRun):
    op_domain = ""

    def _run(self, x, axis=None):
        return (_softmax_reference(x, self.onnx_node, self.run_params["opsets"][""], log=False),)


class LogSoftmax(OpRun):
    op_domain = ""

    def _run(self, x, axis=None):
        return (_softmax_reference(x, self.onnx_node, self.run_params["opsets"][""], log=True),)


class LRN(OpRun):
    """onnx 1.23's reference loops over the batch instead of the channels; this is the spec's sum."""

    op_domain = ""

    def _run(self, x, alpha=None, beta=None, bias=None, size=None):
        channels, before, after = x.shape[1], (size - 1) // 2, math.ceil((size - 1) / 2)
        squares = x.astype(np.float64) ** 2
        window = np.stack([squares[:, max(0, c - before): min(channels, c + after + 1)].sum(axis=1)
                           for c in range(channels)], axis=1)
        return ((x / (bias + alpha / size * window) ** beta).astype(x.dtype),)


FIXED_REFERENCE = [BatchNormalization, Softmax, LogSoftmax, LRN]


def initializers(model: onnx.ModelProto) -> dict[str, torch.Tensor]:
    return {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in model.graph.initializer}


def feeds_for(executor: OnnxExecutor, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    feeds = {}
    for name, shape, dtype in executor.input_specs():
        if dtype.is_floating_point:
            feeds[name] = torch.randn(shape, generator=gen).to(dtype)
        elif dtype is torch.bool:
            feeds[name] = torch.rand(shape, generator=gen) > 0.5
        else:
            feeds[name] = torch.randint(-2, 3, shape, generator=gen).to(dtype)
    return feeds


def executor(model: onnx.ModelProto, folder: Path = Path("."), **kwargs) -> OnnxExecutor:
    return OnnxExecutor(LoadedModel(model, folder), CPU, **kwargs).eval()


def assert_matches_reference(ex: OnnxExecutor, model: onnx.ModelProto, rtol: float = 1e-4, atol: float = 1e-4):
    """Every graph output of the executor (eval mode) equals the reference evaluator's, dtype included."""
    feeds = feeds_for(ex)
    with torch.no_grad():
        got = ex(feeds)
    expected = ReferenceEvaluator(model, new_ops=FIXED_REFERENCE).run(
        None, {k: v.numpy() for k, v in feeds.items()})
    assert len(expected) == len(model.graph.output)
    for output, want in zip(model.graph.output, expected):
        have = got[output.name].detach().numpy()
        assert have.dtype == want.dtype, output.name
        np.testing.assert_allclose(have, want, rtol=rtol, atol=atol, err_msg=output.name)


def parse(opset: int, text: str, inits: dict[str, tuple] | None = None, seed: int = 0) -> onnx.ModelProto:
    """A graph in ONNX's textual syntax at ``opset``; ``inits`` adds random float initializers
    (name -> shape; names starting with ``var`` get positive values)."""
    model = onnx.parser.parse_model(f'<ir_version: 10, opset_import: ["" : {opset}]>\n{text}')
    gen = np.random.default_rng(seed)
    for name, shape in (inits or {}).items():
        values = gen.uniform(0.5, 1.5, shape) if name.startswith("var") else gen.normal(0, 0.5, shape)
        model.graph.initializer.append(onnx.numpy_helper.from_array(values.astype(np.float32), name))
    return model


# ---------------------------------------------------------------------------------- op by op

#: id -> (opset, graph, initializers): each compared with the reference on random inputs.
OP_CASES: dict[str, tuple[int, str, dict]] = {
    "gemm": (13, """g (float[3,4] a, float[5,3] b, float[5] c, float[4,3] d, float[3,5] e) => (float y, float z) {
        y = Gemm<alpha=0.5, beta=2.0, transA=1, transB=1>(a, b, c)
        z = Gemm<alpha=1.5>(d, e)
    }""", {}),
    "matmul-broadcast": (13, """g (float[2,1,3,4] a, float[5,4,6] b, float[4] v) => (float y, float z) {
        y = MatMul(a, b)
        z = MatMul(v, b)
    }""", {}),
    "arithmetic": (13, """g (float[2,3] a, float[3] b) => (float s, float d, float m, float q, float p, float r) {
        s = Add(a, b)
        d = Sub(a, b)
        m = Mul(a, b)
        q = Div(a, b)
        one = Constant<value = float {1.0}>()
        magnitude = Abs(a)
        pos = Add(magnitude, one)
        p = Pow(pos, b)
        r1 = Sqrt(pos)
        r2 = Reciprocal(pos)
        r3 = Neg(a)
        r4 = Exp(a)
        r5 = Log(pos)
        r6 = Erf(a)
        r7 = Tanh(a)
        r8 = Sigmoid(a)
        r = Sum(r1, r2, r3, r4, r5, r6, r7, r8)
    }""", {}),
    "rounding-and-trig": (13, """g (float[4,5] a) => (float f, float c, float r, float s, float sn, float cs) {
        three = Constant<value = float {3.0}>()
        x = Mul(a, three)
        f = Floor(x)
        c = Ceil(x)
        r = Round(x)
        s = Sign(a)
        sn = Sin(x)
        cs = Cos(x)
    }""", {}),
    "integer-division": (13, """g (float[1] unused) => (int64 q, int64 p) {
        a = Constant<value = int64[4] {7, -7, 7, -7}>()
        b = Constant<value = int64[4] {2, 2, -2, -2}>()
        q = Div(a, b)
        e = Constant<value = int64[4] {2, 3, 0, 1}>()
        p = Pow(a, e)
    }""", {}),
    "activations": (14, """g (float[2,3,4] x) => (float a, float b, float c, float d, float e, float f, float g, float h, float i) {
        a = HardSigmoid<alpha=0.3, beta=0.4>(x)
        b = LeakyRelu<alpha=0.2>(x)
        c = Elu<alpha=0.7>(x)
        d = Celu<alpha=1.3>(x)
        e = Selu(x)
        f = Softplus(x)
        g = Softsign(x)
        h = HardSwish(x)
        relu = Relu(x)
        i = PRelu(relu, slope)
    }""", {"slope": (3, 1)}),
    "prelu": (14, "g (float[2,3,4] x) => (float y) { y = PRelu(x, slope) }", {"slope": (3, 1)}),
    "gelu": (20, """g (float[2,7] x) => (float a, float b) {
        a = Gelu(x)
        b = Gelu<approximate="tanh">(x)
    }""", {}),
    "clip-13": (13, """g (float[3,4] x) => (float a, float b) {
        lo = Constant<value = float {-0.5}>()
        hi = Constant<value = float {0.3}>()
        a = Clip(x, lo, hi)
        b = Clip(x, , hi)
    }""", {}),
    "clip-6": (6, """g (float[3,4] x) => (float a, float b) {
        a = Clip<min=-0.5, max=0.3>(x)
        b = Clip<max=0.1>(x)
    }""", {}),
    "softmax-13": (13, """g (float[2,3,4] x) => (float a, float b, float c) {
        a = Softmax<axis=1>(x)
        b = LogSoftmax(x)
        c = Softmax(x)
    }""", {}),
    "softmax-11": (11, """g (float[2,3,4] x) => (float a, float b, float c) {
        a = Softmax(x)
        b = LogSoftmax<axis=2>(x)
        c = Softmax<axis=-2>(x)
    }""", {}),
    "conv2d": (11, """g (float[2,4,9,8] x) => (float a, float b, float c) {
        a = Conv<group=2, strides=[2,1], dilations=[1,2], pads=[1,0,2,1]>(x, W, B)
        b = Conv<pads=[1,1,1,1]>(x, W4)
        c = Conv<auto_pad="VALID", strides=[2,2]>(x, W4)
    }""", {"W": (6, 2, 3, 3), "B": (6,), "W4": (3, 4, 3, 2)}),
    "conv1d-same": (11, """g (float[2,3,11] x) => (float a, float b) {
        a = Conv<auto_pad="SAME_UPPER", strides=[2]>(x, W)
        b = Conv<auto_pad="SAME_LOWER", kernel_shape=[4]>(x, W4)
    }""", {"W": (5, 3, 3), "W4": (2, 3, 4)}),
    "conv3d": (11, "g (float[1,2,4,5,3] x) => (float y) { y = Conv<pads=[1,0,1,1,0,1]>(x, W, B) }",
               {"W": (3, 2, 3, 2, 3), "B": (3,)}),
    "conv-transpose": (11, """g (float[1,4,5,6] x) => (float a, float b, float c, float d) {
        a = ConvTranspose<strides=[2,2], pads=[1,0,0,1], output_padding=[1,0]>(x, W, B)
        b = ConvTranspose<strides=[2,2], pads=[1,1,1,1]>(x, W, B)
        c = ConvTranspose<strides=[2,2], auto_pad="SAME_UPPER">(x, W, B)
        d = ConvTranspose<strides=[3,2], auto_pad="SAME_LOWER", output_padding=[1,1]>(x, W, B)
    }""", {"W": (4, 3, 3, 3), "B": (3,)}),
    "batch-norm": (13, "g (float[3,4,5,2] x) => (float y) { y = BatchNormalization<epsilon=0.001>(x, s, b, m, var) }",
                   {"s": (4,), "b": (4,), "m": (4,), "var": (4,)}),
    "layer-norm": (17, """g (float[2,3,4] x) => (float a, float b) {
        a = LayerNormalization<epsilon=0.001>(x, s, b)
        b = LayerNormalization<axis=1>(x, s2)
    }""", {"s": (4,), "b": (4,), "s2": (3, 4)}),
    "instance-norm": (13, "g (float[2,3,5,4] x) => (float y) { y = InstanceNormalization<epsilon=0.001>(x, s, b) }",
                      {"s": (3,), "b": (3,)}),
    "group-norm-21": (21, "g (float[2,4,3,3] x) => (float y) { y = GroupNormalization<num_groups=2>(x, s, b) }",
                      {"s": (4,), "b": (4,)}),
    "max-pool": (12, """g (float[2,2,9,8] x) => (float a, float b, float c, float d, float e) {
        a = MaxPool<kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]>(x)
        b = MaxPool<kernel_shape=[2,3], pads=[0,1,1,0]>(x)
        c = MaxPool<kernel_shape=[3,3], strides=[2,2], ceil_mode=1>(x)
        d = MaxPool<kernel_shape=[2,2], dilations=[2,2]>(x)
        e = MaxPool<kernel_shape=[3,3], strides=[2,2], auto_pad="SAME_UPPER">(x)
    }""", {}),
    "average-pool": (11, """g (float[2,2,9,8] x) => (float a, float b, float c, float d, float e) {
        a = AveragePool<kernel_shape=[3,3], pads=[1,1,1,1], count_include_pad=1>(x)
        b = AveragePool<kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]>(x)
        c = AveragePool<kernel_shape=[2,3], pads=[0,1,1,0]>(x)
        d = AveragePool<kernel_shape=[3,3], strides=[2,2], ceil_mode=1>(x)
        e = AveragePool<kernel_shape=[3,2], strides=[2,2], auto_pad="SAME_LOWER">(x)
    }""", {}),
    "global-pools-and-lrn": (13, """g (float[2,6,4,3] x) => (float a, float b, float c) {
        a = GlobalAveragePool(x)
        b = GlobalMaxPool(x)
        c = LRN<size=3, alpha=0.01, beta=0.7, bias=2.0>(x)
    }""", {}),
    "flatten-reshape-transpose": (14, """g (float[2,3,4] x) => (float a, float b, float c, float d, float e, float f, float t, float u) {
        a = Flatten<axis=0>(x)
        b = Flatten<axis=2>(x)
        c = Flatten<axis=-1>(x)
        s1 = Constant<value = int64[2] {0, -1}>()
        d = Reshape(x, s1)
        s2 = Constant<value = int64[3] {4, 0, -1}>()
        e = Reshape(x, s2)
        s3 = Constant<value = int64[2] {6, 4}>()
        f = Reshape<allowzero=1>(x, s3)
        t = Transpose<perm=[2,0,1]>(x)
        u = Transpose(x)
    }""", {}),
    "dynamic-shapes": (13, """g (float[2,3,4] x) => (float a, float b, int64 n) {
        shape = Shape(x)
        zero = Constant<value = int64 {0}>()
        batch = Gather(shape, zero)
        axes = Constant<value = int64[1] {0}>()
        first = Unsqueeze(batch, axes)
        minus = Constant<value = int64[1] {-1}>()
        target = Concat<axis=0>(first, minus)
        a = Reshape(x, target)
        fill = ConstantOfShape<value = float[1] {2.5}>(shape)
        b = Add(x, fill)
        n = Size(x)
    }""", {}),
    "squeeze-11": (11, """g (float[2,1,3,1] x) => (float a, float b, float c) {
        a = Squeeze<axes=[1]>(x)
        b = Squeeze(x)
        c = Unsqueeze<axes=[0,-1]>(x)
    }""", {}),
    "squeeze-13": (13, """g (float[2,1,3,1] x) => (float a, float b) {
        one = Constant<value = int64[1] {1}>()
        a = Squeeze(x, one)
        axes = Constant<value = int64[2] {0, 5}>()
        b = Unsqueeze(x, axes)
    }""", {}),
    "split-concat-11": (11, """g (float[2,3,4] x) => (float p, float q, float c, float r, float s, float t) {
        p, q = Split<axis=1, split=[1,2]>(x)
        c = Concat<axis=-1>(q, q)
        r, s, t = Split<axis=1>(x)
    }""", {}),
    "split-13": (13, """g (float[2,3,4] x) => (float p, float q) {
        sizes = Constant<value = int64[2] {3, 1}>()
        p, q = Split<axis=2>(x, sizes)
    }""", {}),
    "split-18": (18, "g (float[2,3,5] x) => (float p, float q, float r) { p, q, r = Split<axis=2, num_outputs=3>(x) }",
                 {}),
    "slice-9": (9, "g (float[3,4,5] x) => (float y) { y = Slice<starts=[0,1], ends=[2,1000], axes=[0,2]>(x) }", {}),
    "slice-13": (13, """g (float[3,4,5] x) => (float a, float b) {
        starts = Constant<value = int64[2] {-1, 0}>()
        ends = Constant<value = int64[2] {-1000, 3}>()
        axes = Constant<value = int64[2] {2, 1}>()
        steps = Constant<value = int64[2] {-2, 2}>()
        a = Slice(x, starts, ends, axes, steps)
        s2 = Constant<value = int64[1] {1}>()
        e2 = Constant<value = int64[1] {-1}>()
        b = Slice(x, s2, e2)
    }""", {}),
    "gather": (13, """g (float[3,4,5] x, int64[2,2] i) => (float a, float b, float c) {
        idx = Constant<value = int64[3] {-1, 0, 2}>()
        a = Gather<axis=1>(x, idx)
        one = Constant<value = int64 {1}>()
        b = Gather<axis=-1>(x, one)
        c = Gather(x, i)
    }""", {}),
    "shape-cast": (15, """g (float[2,3,4] x, float[3,4] like) => (int64 a, int64 b, int64 c, bool d, float e) {
        a = Shape<start=1>(x)
        b = Shape<end=-1>(x)
        three = Constant<value = float {3.0}>()
        tripled = Mul(x, three)
        c = Cast<to=7>(tripled)
        rounded = Round(x)
        d = Cast<to=9>(rounded)
        e = CastLike(c, like)
    }""", {}),
    "expand-where-logic": (13, """g (float[3,1] x, float[3,4] y) => (float a, float w, bool e, bool l, bool n, bool o, bool x2) {
        shape = Constant<value = int64[3] {2, 1, 4}>()
        a = Expand(x, shape)
        gt = Greater(x, y)
        w = Where(gt, x, y)
        r = Round(y)
        rx = Round(x)
        e = Equal(r, rx)
        l = Less(x, y)
        n = Not(l)
        both = And(gt, n)
        o = Or(both, l)
        x2 = Xor(gt, l)
    }""", {}),
    "reduce-13": (13, """g (float[2,3,4] x) => (float a, float b, float c, float d, float e, float f, float h, float i, float j, float k, float m) {
        one = Constant<value = int64[1] {1}>()
        a = ReduceSum(x, one)
        b = ReduceSum<keepdims=0>(x)
        c = ReduceSum<noop_with_empty_axes=1>(x)
        d = ReduceMean<axes=[0,2]>(x)
        e = ReduceMax<axes=[-1], keepdims=0>(x)
        f = ReduceMin<axes=[1]>(x)
        h = ReduceLogSumExp<axes=[1]>(x)
        i = ReduceProd<axes=[2]>(x)
        j = ReduceL1<axes=[2]>(x)
        k = ReduceL2<axes=[2]>(x)
        pos = Abs(x)
        squares = ReduceSumSquare<axes=[1]>(pos)
        m = ReduceLogSum<axes=[0]>(squares)
    }""", {}),
    "reduce-18": (18, """g (float[2,3,4] x) => (float a, float b, float c) {
        one = Constant<value = int64[1] {1}>()
        a = ReduceMean(x, one)
        axes = Constant<value = int64[2] {0, 2}>()
        b = ReduceMax<keepdims=0>(x, axes)
        c = ReduceMin(x)
    }""", {}),
    "argmax": (12, """g (float[3,5] x) => (int64 a, int64 b, int64 c) {
        a = ArgMax<axis=1, keepdims=0>(x)
        r = Round(x)
        b = ArgMin<axis=-1, select_last_index=1>(r)
        c = ArgMax(r)
    }""", {}),
    "pad-11": (11, """g (float[2,3,4] x) => (float y) {
        pads = Constant<value = int64[6] {0, 1, 0, 0, 2, 1}>()
        value = Constant<value = float {1.5}>()
        y = Pad(x, pads, value)
    }""", {}),
    "pad-18": (18, """g (float[2,3,4] x) => (float y) {
        pads = Constant<value = int64[2] {1, 2}>()
        axes = Constant<value = int64[1] {-1}>()
        y = Pad(x, pads, , axes)
    }""", {}),
    "pad-6": (6, "g (float[2,3] x) => (float y) { y = Pad<pads=[1,0,0,2], value=0.5>(x) }", {}),
    "range-tile-variadic": (13, """g (float[2,3] a, float[3] b, float[2,1] c) => (float r, float t, float mn, float mx, float s, float m) {
        start = Constant<value = float {0.5}>()
        limit = Constant<value = float {4.0}>()
        delta = Constant<value = float {0.7}>()
        r = Range(start, limit, delta)
        reps = Constant<value = int64[2] {2, 1}>()
        t = Tile(a, reps)
        mn = Min(a, b, c)
        mx = Max(a, b)
        s = Sum(a, b, c)
        m = Mean(a, c)
    }""", {}),
    "einsum-trilu-cumsum": (14, """g (float[2,3,4] a, float[2,4,5] b, float[3,4,4] x) => (float e, float u, float l, float c, float d) {
        e = Einsum<equation="bij, bjk -> bik">(a, b)
        u = Trilu(x)
        k = Constant<value = int64 {-1}>()
        l = Trilu<upper=0>(x, k)
        one = Constant<value = int64 {1}>()
        c = CumSum(x, one)
        last = Constant<value = int64 {-1}>()
        d = CumSum<exclusive=1, reverse=1>(x, last)
    }""", {}),
    "resize-13": (13, """g (float[1,2,3,4] x) => (float a, float b, float c, float d, float e) {
        up = Constant<value = float[4] {1.0, 1.0, 2.0, 1.5}>()
        a = Resize<mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor">(x, , up)
        sizes = Constant<value = int64[4] {1, 2, 5, 7}>()
        b = Resize<mode="nearest">(x, , , sizes)
        c = Resize<mode="linear">(x, , up)
        d = Resize<mode="linear", coordinate_transformation_mode="align_corners">(x, , , sizes)
        down = Constant<value = int64[4] {1, 2, 2, 3}>()
        e = Resize<mode="linear", coordinate_transformation_mode="pytorch_half_pixel">(x, , , down)
    }""", {}),
    "resize-18": (19, """g (float[1,2,5,4] x) => (float a, float b) {
        scales = Constant<value = float[2] {0.5, 2.0}>()
        a = Resize<mode="linear", axes=[2,3]>(x, , scales)
        b = Resize<mode="nearest", coordinate_transformation_mode="half_pixel_symmetric", nearest_mode="round_prefer_ceil", axes=[2,3]>(x, , scales)
    }""", {}),
    "resize-cubic": (13, """g (float[1,2,5,4] x) => (float a, float b, float c, float d) {
        up = Constant<value = float[4] {1.0, 1.0, 2.0, 1.5}>()
        a = Resize<mode="cubic">(x, , up)
        b = Resize<mode="cubic", coordinate_transformation_mode="align_corners", cubic_coeff_a=-0.5>(x, , up)
        c = Resize<mode="cubic", exclude_outside=1>(x, , up)
        down = Constant<value = int64[4] {1, 2, 3, 3}>()
        d = Resize<mode="cubic", coordinate_transformation_mode="asymmetric">(x, , , down)
    }""", {}),
    "upsample-9": (9, """g (float[1,2,3,4] x) => (float y) {
        scales = Constant<value = float[4] {1.0, 1.0, 2.0, 3.0}>()
        y = Upsample<mode="nearest">(x, scales)
    }""", {}),
}


@pytest.mark.parametrize("case", list(OP_CASES))
def test_op_matches_the_reference(case):
    opset, text, inits = OP_CASES[case]
    model = parse(opset, text, inits)
    assert_matches_reference(executor(model), model)


def test_group_norm_18_has_one_scale_per_group():
    model = parse(18, "g (float[2,4,3,3] x) => (float y) { y = GroupNormalization<num_groups=2>(x, s, b) }",
                  {"s": (2,), "b": (2,)})
    assert_matches_reference(executor(model), model)


def test_conv_transpose_with_groups_and_output_shape():
    """The reference evaluator cannot run these two; torch itself is the reference, with the
    spec's padding for ``output_shape`` (the larger half at the start unless SAME_UPPER)."""
    model = parse(11, """g (float[1,4,5,6] x) => (float a, float b) {
        a = ConvTranspose<group=2, dilations=[2,1]>(x, Wg)
        b = ConvTranspose<strides=[2,2], output_shape=[11,12]>(x, W)
    }""", {"W": (4, 3, 3, 3), "Wg": (4, 2, 3, 2)})
    ex = executor(model)
    x = feeds_for(ex)["x"]
    weights = initializers(model)
    with torch.no_grad():
        got = ex({"x": x})
        full = torch.nn.functional.conv_transpose2d(x, weights["W"], stride=2)  # 11 x 13: one column too many
    torch.testing.assert_close(got["a"], torch.nn.functional.conv_transpose2d(x, weights["Wg"], groups=2,
                                                                                dilation=(2, 1)))
    torch.testing.assert_close(got["b"], full[..., 1:])


def test_negative_pads_crop():
    model = parse(13, """g (float[2,3,4] x) => (float y) {
        pads = Constant<value = int64[6] {0, 0, 1, 0, -1, 0}>()
        y = Pad(x, pads)
    }""")
    ex = executor(model)
    x = feeds_for(ex)["x"]
    expected = torch.nn.functional.pad(x[:, :2], (1, 0))
    torch.testing.assert_close(ex({"x": x})["y"], expected)


def test_resize_10_and_upsample_are_asymmetric_nearest_like_torch():
    """Before opset 11 resizing had no coordinate attributes: asymmetric, rounding down (torch's 'nearest')."""
    for opset, op in ((10, "Resize"), (9, "Upsample")):
        model = parse(opset, f"""g (float[1,2,3,4] x) => (float y) {{
            scales = Constant<value = float[4] {{1.0, 1.0, 3.0, 2.0}}>()
            y = {op}<mode="nearest">(x, scales)
        }}""")
        ex = executor(model)
        x = feeds_for(ex)["x"]
        expected = torch.nn.functional.interpolate(x, scale_factor=(3.0, 2.0), mode="nearest")
        torch.testing.assert_close(ex({"x": x})["y"], expected)


# ------------------------------------------------------------------- opset differences, by hand


def run_one(opset: int, text: str, x: np.ndarray, inits: dict | None = None, training: bool = False) -> dict:
    ex = executor(parse(opset, text, inits)).train(training)
    with torch.no_grad():
        return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in ex({"x": torch.from_numpy(x)}).items()}


def test_softmax_before_13_covers_every_axis_from_axis_on():
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    old = run_one(11, "g (float[2,3,4] x) => (float y) { y = Softmax(x) }", x)["y"]
    new = run_one(13, "g (float[2,3,4] x) => (float y) { y = Softmax(x) }", x)["y"]
    np.testing.assert_allclose(old.sum(axis=(1, 2)), np.ones(2), rtol=1e-5)  # one distribution per sample
    np.testing.assert_allclose(new.sum(axis=-1), np.ones((2, 3)), rtol=1e-5)  # one per row
    flat = np.exp(x.reshape(2, 12))
    np.testing.assert_allclose(old, (flat / flat.sum(1, keepdims=True)).reshape(x.shape), rtol=1e-5)


def test_axes_as_attribute_and_as_input_agree():
    x = np.random.default_rng(2).normal(size=(2, 1, 3)).astype(np.float32)
    pairs = [
        ("y = Squeeze<axes=[1]>(x)", "a = Constant<value = int64[1] {1}>()\n y = Squeeze(x, a)", 11, 13),
        ("y = Unsqueeze<axes=[-1]>(x)", "a = Constant<value = int64[1] {-1}>()\n y = Unsqueeze(x, a)", 11, 13),
        ("y = ReduceSum<axes=[0, 2]>(x)", "a = Constant<value = int64[2] {0, 2}>()\n y = ReduceSum(x, a)", 11, 13),
        ("y = ReduceMean<axes=[2], keepdims=0>(x)",
         "a = Constant<value = int64[1] {2}>()\n y = ReduceMean<keepdims=0>(x, a)", 13, 18),
    ]
    for as_attribute, as_input, old, new in pairs:
        before = run_one(old, f"g (float[2,1,3] x) => (float y) {{ {as_attribute} }}", x)["y"]
        after = run_one(new, f"g (float[2,1,3] x) => (float y) {{ {as_input} }}", x)["y"]
        assert before.shape == after.shape
        np.testing.assert_allclose(before, after, rtol=1e-6)
    assert run_one(11, "g (float[2,1,3] x) => (float y) { y = ReduceSum<axes=[0, 2]>(x) }", x)["y"].shape == (1, 1, 1)


def test_clip_bounds_as_attributes_and_as_inputs():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    old = run_one(6, "g (float[3,4] x) => (float y) { y = Clip<min=-0.5, max=1.0>(x) }", x)["y"]
    new = run_one(13, """g (float[3,4] x) => (float y) {
        lo = Constant<value = float {-0.5}>()
        hi = Constant<value = float {1.0}>()
        y = Clip(x, lo, hi)
    }""", x)["y"]
    np.testing.assert_array_equal(old, np.clip(x, -0.5, 1.0))
    np.testing.assert_array_equal(new, old)
    only_max = run_one(13, "g (float[3,4] x) => (float y) { hi = Constant<value = float {0.0}>()\n y = Clip(x, , hi) }", x)
    np.testing.assert_array_equal(only_max["y"], np.minimum(x, 0.0))


# ------------------------------------------------------------------------ training mode


DROPOUT_ATTRIBUTE = "g (float[200,100] x) => (float y) { y = Dropout<ratio=0.3>(x) }"  # opset 10
DROPOUT_INPUT = """g (float[200,100] x) => (float y, bool mask) {
    ratio = Constant<value = float {0.3}>()
    training = Constant<value = bool {0}>()
    y, mask = Dropout(x, ratio, training)
}"""  # opset 13; the exported training_mode=False is ignored: the module's mode decides


@pytest.mark.parametrize(("opset", "text"), [(10, DROPOUT_ATTRIBUTE), (13, DROPOUT_INPUT)], ids=["attribute", "input"])
def test_dropout_drops_its_ratio_when_training_and_nothing_in_eval(opset, text):
    torch.manual_seed(0)
    x = np.ones((200, 100), np.float32)
    train = run_one(opset, text, x, training=True)
    dropped = float((train["y"] == 0).mean())
    assert abs(dropped - 0.3) < 0.02
    np.testing.assert_allclose(train["y"][train["y"] != 0], 1 / 0.7, rtol=1e-6)
    evaluated = run_one(opset, text, x, training=False)
    np.testing.assert_array_equal(evaluated["y"], x)
    if "mask" in train:
        np.testing.assert_array_equal(train["mask"], train["y"] != 0)
        assert evaluated["mask"].all()


@pytest.mark.parametrize(("opset", "text", "node"), [(10, DROPOUT_ATTRIBUTE, "Dropout#0"), (13, DROPOUT_INPUT, "Dropout#2")],
                         ids=["attribute", "input"])
def test_a_dropout_ratio_override_is_run_instead_of_the_exported_one(opset, text, node):
    """A remedy measured on the graph as exported: the node reads the overridden ratio, whether
    the export gives it as an attribute or as an input; a node not named keeps its own."""
    x = torch.ones(200, 100)
    ex = OnnxExecutor(LoadedModel(parse(opset, text), Path(".")), CPU,
                      overrides={node: {"ratio": 0.8}}).train()
    other = OnnxExecutor(LoadedModel(parse(opset, text), Path(".")), CPU, overrides={"elsewhere": {"ratio": 0.8}}).train()
    torch.manual_seed(0)
    with torch.no_grad():
        dropped = float((ex({"x": x})["y"] == 0).float().mean())
        kept = float((other({"x": x})["y"] == 0).float().mean())
    assert abs(dropped - 0.8) < 0.02 and abs(kept - 0.3) < 0.02, (dropped, kept)


def test_batch_norm_uses_batch_statistics_when_training_and_leaves_its_weights_alone():
    model = B.conv_bn(conv_bias=True)
    ex = executor(model)
    before = {name: p.detach().clone() for name, p in ex.params.items()}
    x = torch.randn(4, 3, 8, 8) * 3 + 2
    ex.train()
    normalized = ex({"X": x})["N"]
    torch.testing.assert_close(normalized.mean((0, 2, 3)), torch.zeros(8), atol=1e-5, rtol=0)  # shift = 0
    torch.testing.assert_close(normalized.var((0, 2, 3), unbiased=False), torch.ones(8), atol=1e-3, rtol=0)
    for name, p in ex.params.items():
        assert torch.equal(p, before[name]), name
    ex.eval()
    conv = ex({"X": x})["C"]
    init = initializers(model)
    expected = (conv - init["mean"].reshape(1, -1, 1, 1)) / torch.sqrt(init["var"].reshape(1, -1, 1, 1) + 1e-5)
    torch.testing.assert_close(ex({"X": x})["N"], expected, atol=1e-5, rtol=1e-5)


def test_training_mode_batch_norm_export_returns_onnx_running_statistics():
    model = parse(15, """g (float[4,3,5] x) => (float y, float rm, float rv) {
        y, rm, rv = BatchNormalization<momentum=0.8>(x, s, b, m, var)
    }""", {"s": (3,), "b": (3,), "m": (3,), "var": (3,)})
    ex = executor(model).train()
    x = torch.randn(4, 3, 5)
    out = ex({"x": x})
    init = initializers(model)
    torch.testing.assert_close(out["rm"], 0.8 * init["m"] + 0.2 * x.mean((0, 2)))
    torch.testing.assert_close(out["rv"], 0.8 * init["var"] + 0.2 * x.var((0, 2), unbiased=False))


@pytest.mark.parametrize("opset", [9, 13])
def test_training_mode_batch_norm_before_14_returns_running_and_saved_statistics(opset):
    """Opsets 9-13 (torch's TorchScript exporter writes them for a training export at those
    opsets): Y, the running mean and variance, and the batch's own mean and variance."""
    model = parse(opset, """g (float[4,3,5] x) => (float y, float rm, float rv, float sm, float sv) {
        y, rm, rv, sm, sv = BatchNormalization<momentum=0.8>(x, s, b, m, var)
    }""", {"s": (3,), "b": (3,), "m": (3,), "var": (3,)})
    ex = executor(model).train()
    x = torch.randn(4, 3, 5)
    out = ex({"x": x})
    init = initializers(model)
    torch.testing.assert_close(out["rm"], 0.8 * init["m"] + 0.2 * x.mean((0, 2)))
    torch.testing.assert_close(out["rv"], 0.8 * init["var"] + 0.2 * x.var((0, 2), unbiased=False))
    torch.testing.assert_close(out["sm"], x.mean((0, 2)))
    torch.testing.assert_close(out["sv"], x.var((0, 2), unbiased=False))
    evaluated = ex.eval()({"x": x})  # in eval mode every output exists: the running statistics as they are
    assert set(evaluated) >= {"y", "rm", "rv", "sm", "sv"}
    torch.testing.assert_close(evaluated["rm"], init["m"])


# --------------------------------------------------------------------- gradients, parameters


def test_backward_reaches_every_weight_and_an_optimizer_step_changes_them():
    ex = executor(B.mlp()).train()
    loss = ex({"X": torch.randn(8, B.IN)})["Y"].square().mean()
    loss.backward()
    params = list(ex.parameters())
    assert len(params) == 4
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    before = [p.detach().clone() for p in params]
    torch.optim.SGD(params, lr=0.1).step()
    assert all(not torch.equal(p, old) for p, old in zip(params, before))


def test_params_of_gives_the_layer_weight_and_bias():
    mlp = executor(B.mlp())
    names = {id(p): name for name, p in mlp.params.items()}
    assert [names[id(p)].split("_", 1)[1] for p in mlp.params_of("fc1")] == ["W1", "B1"]
    assert [p.shape for p in mlp.params_of("fc2")] == [(B.OUT, B.HIDDEN), (B.OUT,)]
    assert mlp.params_of("act1") == []
    conv = executor(B.conv_bn(conv_bias=True))
    assert [tuple(p.shape) for p in conv.params_of("conv1")] == [(8, 3, 3, 3), (8,)]
    assert [tuple(p.shape) for p in conv.params_of("bn1")] == [(8,), (8,)]  # scale and shift, not the statistics


def test_params_of_follows_a_transposed_weight():
    model = parse(13, """g (float[4,10] x) => (float y) {
        [t] wt = Transpose(W)
        [mm] y = MatMul(x, wt)
    }""", {"W": (8, 10)})
    ex = executor(model)
    [weight] = ex.params_of("mm")
    assert weight.shape == (8, 10) and weight.requires_grad
    ex({"x": torch.randn(4, 10)})["y"].sum().backward()
    assert weight.grad is not None


def test_node_names_and_outputs_match_the_onnx_frontend():
    model = B.unnamed_dropout()
    ex = executor(model)
    assert ex.node_output("Dropout#2") == "D"
    assert ex.node_output("fc1") == "H"
    assert ex.node_output("nope") is None
    program = onnx_graph.convert(LoadedModel(model, Path(".")), "m.onnx", None)
    labels = {op.label for op in program.graphs[0].ops.values() if op.kind.value != "input"}
    assert labels and all(ex.node_output(label) for label in labels)


def test_forward_returns_every_value_by_name():
    model = B.conv_bn(conv_bias=False)
    values = executor(model)({"X": torch.randn(1, 3, 8, 8)})
    names = {o for node in model.graph.node for o in node.output} | {"X"} | {t.name for t in model.graph.initializer}
    assert names <= set(values)
    assert isinstance(values["W"], torch.nn.Parameter)


# ------------------------------------------------------------------------- input shapes


def test_symbolic_dims_come_from_dims_then_the_batch_default():
    model = parse(13, """g (float[N, 16] x, int64[N, seq, 3] ids, float[2, ?] z) => (float y) {
        y = Identity(x)
    }""")
    assert executor(model, batch=5).input_specs() == [
        ("x", (5, 16), torch.float32), ("ids", (5, 8, 3), torch.int64), ("z", (2, 8), torch.float32)]
    assert executor(model, dims={"N": 3, "seq": 7}).input_specs() == [
        ("x", (3, 16), torch.float32), ("ids", (3, 7, 3), torch.int64), ("z", (2, 8), torch.float32)]


def test_initializers_listed_as_inputs_are_not_inputs():
    model = B.mlp()
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in model.graph.initializer)
    assert [name for name, _, _ in executor(model).input_specs()] == ["X"]


# ---------------------------------------------------------------------------------- refusals


def refusal(model: onnx.ModelProto, folder: Path = Path(".")) -> str:
    with pytest.raises(CannotBuild) as info:
        OnnxExecutor(LoadedModel(model, folder), CPU)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unsupported_op_is_refused():
    message = refusal(parse(13, "g (float[4] x) => (int64 y) { [nz] y = NonZero(x) }"))
    assert "'nz'" in message and "NonZero" in message


def test_subgraph_op_is_refused():
    then = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", onnx.TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", onnx.TensorProto.FLOAT, [2])])
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0), helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other)],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])],
        [onnx.numpy_helper.from_array(np.array(0, np.float32), "zero")])
    message = refusal(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    assert "'branch' (If)" in message and "subgraph" in message


def test_other_domains_unknown_attributes_and_old_opsets_are_refused():
    custom = parse(13, "g (float[4] x) => (float y) { y = Identity(x) }")
    custom.graph.node[0].domain = "com.microsoft"
    assert "com.microsoft" in refusal(custom)
    assert "mode" in refusal(parse(13, """g (float[4] x) => (float y) {
        pads = Constant<value = int64[2] {1, 1}>()
        y = Pad<mode="reflect">(x, pads)
    }"""))
    assert "attribute 'bogus'" in refusal(parse(13, "g (float[4] x) => (float y) { y = Relu<bogus=1>(x) }"))
    assert "opset" in refusal(parse(5, "g (float[4] x) => (float y) { y = Relu(x) }"))
    assert "not defined in opset 13" in refusal(parse(13, "g (float[4] x) => (float y) { y = Gelu(x) }"))


def test_input_of_unknown_rank_is_refused():
    model = parse(13, "g (float[4] x) => (float y) { y = Relu(x) }")
    model.graph.input[0].type.tensor_type.ClearField("shape")
    assert "input 'x'" in refusal(model) and "rank" in refusal(model)


def test_external_weight_outside_the_folder_is_refused(tmp_path):
    path = B.save_external(B.external_model(), tmp_path / "model" / "m.onnx")
    (tmp_path / "outside.bin").write_bytes((tmp_path / "model" / "weights.bin").read_bytes())
    B.relocate_external(path, B.EXTERNAL_INITIALIZER, "../outside.bin")
    loaded = load(path)
    with pytest.raises(CannotBuild, match="outside the model's folder"):
        OnnxExecutor(loaded, CPU)
    assert loaded.problems == []  # the lint reports its own problems; the trace only refuses


def test_external_weight_missing_or_short_is_refused(tmp_path):
    path = B.save_external(B.external_model(), tmp_path / "m.onnx")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(CannotBuild, match="shorter"):
        OnnxExecutor(load(path), CPU)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(CannotBuild, match="not found"):
        OnnxExecutor(load(path), CPU)


def test_weights_array_reads_external_data_whole(tmp_path):
    model = B.external_model()
    expected = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    path = B.save_external(model, tmp_path / "m.onnx")  # moves W1 and W2 out of the protobuf
    weights = Weights(load(path))
    assert set(B.external_entries(path)) == {"W1", "W2"}
    for name, values in expected.items():
        np.testing.assert_array_equal(weights.array(name), values)
    assert weights.array("no such tensor") is None


# ------------------------------------------------------------------------------ whole models


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.onnx")))
def test_exported_fixture_matches_the_reference(name):
    path = FIXTURES / name
    assert_matches_reference(OnnxExecutor(load(path), CPU).eval(), onnx.load(str(path)))


BUILT = {
    "mlp": B.mlp, "regression": B.regression_relu_output, "conv-bn": lambda: B.conv_bn(True),
    "conv-bn-no-bias": lambda: B.conv_bn(False), "dropout-7": lambda: B.dropout_opset7(0.3),
    "dropout-13": lambda: B.dropout_opset13(0.3), "two-dropouts": lambda: B.two_dropouts("d1", "d2"),
    "log-of-softmax": B.log_of_softmax, "log-softmax": B.log_softmax, "relu-softmax": B.relu_then_softmax,
}


@pytest.mark.parametrize("name", list(BUILT))
def test_built_model_matches_the_reference(name):
    model = BUILT[name]()
    assert_matches_reference(executor(model), model)


def test_built_model_with_external_data_matches_the_reference(tmp_path):
    path = B.save_external(B.external_model(), tmp_path / "m.onnx")
    assert_matches_reference(OnnxExecutor(load(path), CPU).eval(), onnx.load(str(path)))


#: Small corpus models (the others take the reference evaluator seconds: 224x224 inputs).
CORPUS_SMALL = [
    "onnx-pc_BatchNorm2d_eval.onnx", "onnx-pc_Conv2d.onnx", "onnx-pc_Conv2d_no_bias.onnx",
    "onnx-pc_ConvTranspose2d_no_bias.onnx", "onnx-pc_Linear.onnx", "onnx-pc_Linear_no_bias.onnx",
    "onnx-pc_LogSoftmax.onnx", "onnx-pc_PoissonNLLLoss_no_reduce.onnx", "onnx-pc_Sigmoid.onnx",
    "onnx-pc_Softmax.onnx", "ortex-mnist_cntk.onnx", "ortex-ultraface_rfb320.onnx",
    "genai-tiny_random_gpt2_fp32.onnx", "ortex-superres_prepost_op18.onnx", "tutorials-super_resolution.onnx",
]
#: Corpus models the executor refuses, and why (checked: a different refusal fails the test).
CORPUS_REFUSED = {
    "genai-tiny_random_gpt2_fp32.onnx": "domain 'com.microsoft' not supported",  # fused Attention, FastGelu
    "ortex-superres_prepost_op18.onnx": "domain 'com.microsoft.extensions'",  # image decoding
    "tutorials-super_resolution.onnx": "opset",  # IR 1, no opset_import at all
}


@pytest.mark.skipif(not B.CORPUS.is_dir(), reason=f"the ONNX corpus is not at {B.CORPUS}")
@pytest.mark.parametrize("name", CORPUS_SMALL)
def test_corpus_model_matches_the_reference(name):
    path = B.CORPUS / name
    try:
        ex = OnnxExecutor(load(path), CPU, batch=2).eval()
    except CannotBuild as exc:
        if CORPUS_REFUSED.get(name, "\0") not in str(exc):
            raise
        pytest.skip(f"refused as expected: {exc}")
    assert name not in CORPUS_REFUSED, "now builds: move it out of CORPUS_REFUSED"
    assert_matches_reference(ex, onnx.load(str(path)), rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(not (B.CORPUS / "onnx-light_resnet50.onnx").is_file(), reason="the ONNX corpus is absent")
def test_resnet50_builds_and_runs():
    """A deep real graph (Caffe2 export, 415 nodes, weights from ConstantOfShape fills)."""
    ex = OnnxExecutor(load(B.CORPUS / "onnx-light_resnet50.onnx"), CPU).eval()
    [(name, shape, _)] = ex.input_specs()
    with torch.no_grad():
        probabilities = ex({name: torch.randn(shape)})["gpu_0/softmax_1"]
    assert probabilities.shape == (1, 1000)
    torch.testing.assert_close(probabilities.sum(), torch.tensor(1.0))
    assert [tuple(p.shape) for p in ex.params_of("n1")] == [(64,), (64,)]  # the first BatchNormalization


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    model = B.conv_bn(conv_bias=True)
    cpu, cuda = executor(model), OnnxExecutor(LoadedModel(model, Path(".")), torch.device("cuda")).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(cuda({"X": x.cuda()})["Y"].cpu(), cpu({"X": x})["Y"], atol=1e-4, rtol=1e-4)
    assert all(p.device.type == "cuda" for p in cuda.parameters())


# ------------------------------------------------------------- a node run alone, and its inputs


def test_a_node_run_alone_computes_its_inputs_made_from_weights():
    """An unfolded export writes ``x @ W.T`` as MatMul(x, Transpose(W)): run alone, the node
    gets the transposed weight as it is now, with its gradient, not None."""
    model = parse(13, """g (float[4,10] x) => (float y) {
        [t] wt = Transpose(W)
        [s] ws = Mul(wt, k)
        [mm] y = MatMul(x, ws)
    }""", {"W": (8, 10), "k": (10, 8)})
    ex = executor(model)
    by_name = {key.split("_", 1)[1]: p for key, p in ex.params.items()}
    weight, scale = by_name["W"], by_name["k"]
    ones = torch.ones(2, 10)
    assert torch.allclose(ex.run_node("mm", ones), ones @ (weight.t() * scale))
    assert torch.equal(ex.run_node("mm", torch.zeros(2, 10)), torch.zeros(2, 8))
    with torch.no_grad():
        weight.mul_(2.0)  # a probe shifts a weight: the node sees it
    assert torch.allclose(ex.run_node("mm", ones), ones @ (weight.t() * scale))


def test_a_node_that_reads_another_branch_cannot_run_alone_and_says_which_input():
    from nnlint.trace.errors import CannotRunAlone

    model = parse(13, """g (float[4,10] x) => (float y) {
        [left] a = MatMul(x, W)
        [right] b = Relu(x)
        [join] y = Add(b, a)
    }""", {"W": (10, 10)})
    with pytest.raises(CannotRunAlone, match=r"node 'join' \(Add\) cannot run alone: its input 'a'"):
        executor(model).run_node("join", torch.zeros(4, 10))


# ------------------------------------------------ --trace on torch's training-mode exports


def _trace_files(*paths: Path, **options):
    from nnlint.config import Settings
    from nnlint.engine import lint, selected_checks
    from nnlint.trace.run import TraceOptions, trace_findings

    settings = Settings()
    subjects: dict = {}
    result = lint([str(p) for p in paths], settings, selected_checks(settings), subjects=subjects)
    return trace_findings(result.findings, subjects, TraceOptions(device="cpu", **options))


def _export(module, example, path: Path, exporter: str, opset: int | None = None) -> Path:
    """torch's recommended settings for a training export, by either of its exporters."""
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch's dynamo ONNX exporter (dynamo=True) needs onnxscript, "
                                                 "which is not installed")
    torch.manual_seed(0)
    torch.onnx.export(module.train(), (example,), str(path), training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, dynamo=exporter == "dynamo", opset_version=opset)
    return path


class _Mlp(torch.nn.Module):
    """A bias-free first layer (MatMul of a transposed weight when not folded), batch norm,
    dropout as a module and as a function."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(12, 32, bias=False)
        self.norm = torch.nn.BatchNorm1d(32)
        self.drop = torch.nn.Dropout(p=0.85)
        self.fc2 = torch.nn.Linear(32, 16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        h = self.drop(torch.relu(self.norm(self.fc1(x))))
        h = torch.nn.functional.dropout(torch.tanh(self.fc2(h)), 0.75, training=self.training)
        return self.out(h)


class _Cnn(torch.nn.Module):
    """A too-high dropout on the feature maps, a moderate one in the head."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.features_drop = torch.nn.Dropout(0.8)
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(8 * 6 * 6, 4))

    def forward(self, x):
        h = self.features_drop(torch.relu(self.bn(self.conv(x))))
        return self.head(torch.nn.functional.max_pool2d(h, 2))


TRAINING_EXPORTS = [(_Mlp, (8, 12)), (_Cnn, (8, 3, 12, 12))]


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("make, shape", TRAINING_EXPORTS, ids=["mlp", "cnn"])
def test_training_mode_exports_are_measured_whole(tmp_path, exporter, make, shape):
    """Every measurement (``--report`` asks for all) runs on a training export of either
    exporter: no finding says the model failed to run or could not be rebuilt."""
    path = _export(make(), torch.randn(shape), tmp_path / f"{make.__name__}.onnx", exporter)
    findings, traces = _trace_files(path, report=True)
    [trace] = traces
    assert trace.error is None and trace.problem is None, (trace.error, trace.problem)
    assert trace.layers, "nothing measured"
    for f in findings:
        evidence = f.trace["evidence"]
        assert "failed to run" not in evidence and "could not be rebuilt" not in evidence, evidence
        assert "names no layer" not in evidence, (f.code, evidence)


@pytest.mark.parametrize("exporter, opset", [("torchscript", None), ("torchscript", 9), ("torchscript", 11),
                                           ("torchscript", 13), ("dynamo", None)])
def test_each_onnx_dropout_is_measured_on_its_own_node(tmp_path, exporter, opset):
    """Two Dropouts of different ratios (a module and F.dropout): each finding is confirmed by
    the fraction its own node zeroes in training mode; at old opsets too (the ratio an
    attribute, BatchNormalization with five outputs)."""
    path = _export(_Mlp(), torch.randn(8, 12), tmp_path / "mlp.onnx", exporter, opset)
    findings, _ = _trace_files(path)
    drops = sorted((f for f in findings if f.code == "NN007"), key=lambda f: f.message)
    assert [re.search(r"drops (\d+)%", f.message).group(1) for f in drops] == ["75", "85"], drops
    for f, ratio in zip(drops, (0.75, 0.85)):
        assert f.trace["status"] == "confirmed", f.trace
        zeroed = float(re.search(r"zeroed ([0-9.]+)% of units", f.trace["evidence"]).group(1)) / 100
        assert abs(zeroed - ratio) < 0.08, (ratio, f.trace["evidence"])
        # against its remedy: the same graph run with this node's ratio inverted, the other node's kept
        remedy = re.search(r"; with ratio=([0-9.]+) for .+ \(Dropout\) ([0-9.]+)%$", f.trace["evidence"])
        assert remedy is not None and float(remedy.group(1)) == round(1 - ratio, 6), f.trace["evidence"]
        assert abs(float(remedy.group(2)) / 100 - (1 - ratio)) < 0.08, f.trace["evidence"]


def test_a_moderate_onnx_dropout_is_measured_and_not_a_finding(tmp_path):
    path = _export(_Cnn(), torch.randn(8, 3, 12, 12), tmp_path / "cnn.onnx", "torchscript")
    findings, [trace] = _trace_files(path, report=True)
    [finding] = [f for f in findings if f.code == "NN007"]
    assert "drops 80%" in finding.message and finding.trace["status"] == "confirmed", finding.trace
    dropped = sorted((r.dropped_train, r.dropped_eval) for r in trace.layers.values() if r.kind == "dropout")
    assert len(dropped) == 2 and 0.1 < dropped[0][0] < 0.3 and 0.7 < dropped[1][0] < 0.9, dropped
    assert [evaluated for _, evaluated in dropped] == [0.0, 0.0]  # nothing dropped after eval()


# ------------------------------------------------------------ integer inputs without --sample


def _cast_into_conv(path: Path, elem: int, scale: bool = False, reshape: bool = False) -> Path:
    """An integer image input cast to float, optionally divided by 255 or reshaped, into a Conv."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Cast", ["img"], ["f"], to=TensorProto.FLOAT, name="to_float")]
    inits = [onnx.numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.2).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(np.zeros(4, np.float32), "b")]
    last = "f"
    if reshape:
        inits.append(onnx.numpy_helper.from_array(np.array([-1, 3, 8, 8], np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", [last, "shape"], ["r"], name="to_nchw"))
        last = "r"
    if scale:
        inits.append(onnx.numpy_helper.from_array(np.array(255.0, np.float32), "k"))
        nodes.append(helper.make_node("Div", [last, "k"], ["s"], name="to_unit"))
        last = "s"
    nodes.append(helper.make_node("Conv", [last, "w", "b"], ["y"], name="stem"))
    shape = [2, 192] if reshape else [2, 3, 8, 8]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("img", elem, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits),
        opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path))
    return path


@pytest.mark.parametrize("elem, reshape, said", [
    (TensorProto.UINT8, False, "uint8 input 'img': values span 0-255 by its dtype"),
    (TensorProto.UINT8, True, "uint8 input 'img': values span 0-255 by its dtype"),
    (TensorProto.INT16, False, "int16 input 'img': values span -32768 to 32767 by its dtype"),
    (TensorProto.UINT16, True, "uint16 input 'img': values span 0-65535 by its dtype"),
])
def test_a_narrow_integer_input_is_confirmed_raw_by_its_dtype_without_a_sample(tmp_path, elem, reshape, said):
    path = _cast_into_conv(tmp_path / "raw.onnx", elem, reshape=reshape)
    [finding] = [f for f in _trace_files(path)[0] if f.code == "NN005"]
    assert finding.trace["status"] == "confirmed" and finding.trace["evidence"].startswith(said), finding.trace
    assert "stem (Conv)" in finding.trace["evidence"]


def test_a_wide_integer_input_stays_inconclusive_and_names_its_dtype(tmp_path):
    """int64 as often holds ids or 0/1 flags: its range says nothing of the values."""
    path = _cast_into_conv(tmp_path / "ids.onnx", TensorProto.INT64)
    [finding] = [f for f in _trace_files(path)[0] if f.code == "NN005"]
    assert finding.trace["status"] == "inconclusive", finding.trace
    assert finding.trace["evidence"].startswith("int64 input 'img': its dtype does not tell") and "--sample" in finding.trace["evidence"]


def test_a_scaled_integer_input_is_no_finding(tmp_path):
    path = _cast_into_conv(tmp_path / "scaled.onnx", TensorProto.UINT8, scale=True)
    assert not [f for f in _trace_files(path)[0] if f.code == "NN005"]


def test_a_sample_outranks_the_dtype(tmp_path):
    """Real data decides when given: a uint8 input whose sample holds only 0 and 1 is refuted."""
    path = _cast_into_conv(tmp_path / "mask.onnx", TensorProto.UINT8)
    np.save(tmp_path / "mask.npy", np.random.default_rng(0).integers(0, 2, (2, 3, 8, 8)).astype(np.uint8))
    [finding] = [f for f in _trace_files(path, sample=tmp_path / "mask.npy")[0] if f.code == "NN005"]
    assert finding.trace["status"] == "refuted" and "sample mask.npy" in finding.trace["evidence"], finding.trace


@pytest.mark.parametrize("code, kind", [("NN003", "linear"), ("NN007", "dropout"), ("NN101", "linear"),
                                        ("NN108", "dropout")])
def test_a_probe_that_could_not_run_is_inconclusive_with_its_reason_never_refuted(code, kind):
    """The op was measured in the forward pass, but its own probe (zero input, bias shift,
    dropout on ones) could not run it alone: the verdict names why."""
    from nnlint.ir import ModelGraph, OpKind
    from nnlint.registry import lookup
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.records import LayerRecord, ModelTrace, Stats

    graph = ModelGraph("g", "g.onnx", is_model=True)
    x = graph.add(OpKind.INPUT, "input")
    op = graph.add(OpKind(kind), "Gemm" if kind == "linear" else "Dropout", [x.id])
    stats = Stats(mean=0.0, std=1.0, min=-2.0, max=2.0, zero_fraction=0.0, saturated_fraction=0.0, nonfinite=False)
    trace = ModelTrace("g", "g.onnx", "cpu", batch=8, layers={op.id: LayerRecord(op.id, "n", kind, train=stats)})
    why = "node 'n' (Gemm) cannot run alone: its input 'c' is computed from the graph's inputs"
    evidence = Evidence(trace=trace, op=op, graph=graph, fields={}, why_not_run=why)
    verdict = lookup(code)(lambda *a: None).confirm(evidence)
    assert verdict.status == "inconclusive" and verdict.evidence == why, verdict


def _constant_conv_model(path: Path, batch: int | str, groups: int = 1, reshape_batch: int = 1) -> Path:
    """Constant 0.02 conv weights (a bad-init finding), between two reshapes whose leading size
    is ``reshape_batch``, as an export traced at that batch bakes it in."""
    nodes = [helper.make_node("Reshape", ["x", "to_image"], ["image"], name="unflatten"),
             helper.make_node("Conv", ["image", "w", "b"], ["y"], name="conv", group=groups),
             helper.make_node("Relu", ["y"], ["r"], name="act"),
             helper.make_node("Reshape", ["r", "to_rows"], ["out"], name="flatten")]
    inits = [onnx.numpy_helper.from_array(np.full((8, 4 // groups, 3, 3), 0.02, np.float32), "w"),
             onnx.numpy_helper.from_array(np.random.default_rng(0).standard_normal(8).astype(np.float32), "b"),
             onnx.numpy_helper.from_array(np.array([reshape_batch, 4, 6, 6], np.int64), "to_image"),
             onnx.numpy_helper.from_array(np.array([reshape_batch, 8 * 4 * 4], np.int64), "to_rows")]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 144])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits),
        opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path))
    return path


def test_an_export_that_baked_its_batch_into_reshapes_runs_at_the_traced_batch(tmp_path):
    """Traced at batch 1, the export's reshapes say [1, ...]: the trace reads that 1 as the batch."""
    path = _constant_conv_model(tmp_path / "baked.onnx", batch=1)
    [finding] = [f for f in _trace_files(path)[0] if f.code == "NN004"]
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "responds identically" in finding.trace["evidence"]


def test_a_reshape_to_a_fixed_size_is_not_read_as_the_batch_where_the_batch_is_symbolic(tmp_path):
    """Near miss: with a symbolic batch, a [1, ...] target is the model's own and must fail as written."""
    path = _constant_conv_model(tmp_path / "fixed.onnx", batch="N")
    [finding] = [f for f in _trace_files(path)[0] if f.code == "NN004"]
    assert finding.trace["status"] == "inconclusive" and "invalid for input" in finding.trace["evidence"], finding.trace


def test_a_grouped_convolutions_units_are_compared_within_what_they_read(tmp_path):
    """Constant weights in a grouped conv: units of different groups read different channels and
    differ; that spread says nothing of the units within a group, so the verdict is left open."""
    path = _constant_conv_model(tmp_path / "grouped.onnx", batch="N", groups=2, reshape_batch=-1)
    [finding] = [f for f in _trace_files(path)[0] if f.code == "NN004"]
    assert finding.trace["status"] == "inconclusive", finding.trace
    assert "2 groups read different channels" in finding.trace["evidence"]
