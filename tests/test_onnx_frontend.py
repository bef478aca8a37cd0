"""The ONNX frontend: the IR it builds from graphs in the shapes exporters write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.parser
import pytest
from onnx import TensorProto, helper, numpy_helper

from nnlint.frontends import onnx_graph, onnx_load
from nnlint.ir import OpKind

from .lint_helpers import lint_paths

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "onnx"


def convert(tmp_path: Path, model: onnx.ModelProto, task=None):
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path))
    return onnx_graph.convert(onnx_load.load(path), "m.onnx", task).graphs[0]


def kinds(graph):
    return [op.kind for op in graph.ops.values() if op.kind is not OpKind.INPUT]


def test_matmul_then_add_of_a_constant_is_one_linear_layer_with_bias(tmp_path):
    graph = convert(tmp_path, onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,2] y) <float[4,2] w = {1., 2., 3., 4., 5., 6., 7., 8.}, float[2] b = {0., 1.}> {
    h = MatMul(x, w)
    a = Add(h, b)
    y = Relu(a)
}
"""))
    assert kinds(graph) == [OpKind.LINEAR, OpKind.IDENTITY, OpKind.RELU]
    linear = graph.ops[1]
    assert linear.attrs["bias"] is True and linear.attrs["fan_in"] == 4
    assert linear.origin.graph_node == "MatMul#0"


def test_layers_sharing_a_weight_get_a_bias_each_from_their_own_add(tmp_path):
    graph = convert(tmp_path, onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float[4,4] w = {1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1.},
                                     float[4] b = {0., 1., 2., 3.}> {
    h1 = MatMul(x, w)
    a1 = Add(h1, b)
    h2 = MatMul(a1, w)
    h3 = MatMul(h2, w)
    a3 = Add(h3, b)
    y = Relu(a3)
}
"""))
    linears = [op for op in graph.ops.values() if op.kind is OpKind.LINEAR]
    assert [op.attrs["bias"] for op in linears] == [True, False, True]
    assert all(op.attrs["weight"] == "w" and op.attrs["fan_in"] == 4 for op in linears)


def test_transposed_constant_weight_is_a_linear_layer():
    path = CORPUS / "onnx-pc_Linear_no_bias.onnx"
    if not path.exists():
        pytest.skip("corpus not available")
    graph = onnx_graph.convert(onnx_load.load(path), "m.onnx", None).graphs[0]
    [linear] = [op for op in graph.ops.values() if op.kind is OpKind.LINEAR]
    assert linear.attrs["bias"] is False and linear.attrs["fan_in"] == 10


def test_matmul_of_two_activations_stays_a_matmul(tmp_path):
    graph = convert(tmp_path, onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,4] q, float[4,2] k) => (float[2,2] y) {
    y = MatMul(q, k)
}
"""))
    assert kinds(graph) == [OpKind.MATMUL]


def test_constant_of_shape_weights_are_read_as_constants(tmp_path):
    graph = convert(tmp_path, onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <int64[2] shape = {4, 4}> {
    w = ConstantOfShape <value = float[1] {0.02}> (shape)
    y = Gemm(x, w)
}
"""))
    [gemm] = [op for op in graph.ops.values() if op.kind is OpKind.LINEAR]
    assert gemm.attrs["weight_stats"].constant == pytest.approx(0.02)


def test_subgraphs_are_opaque_and_do_not_break_anything(tmp_path):
    then_graph = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 4])])
    else_graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph, name="branch")],
            "g",
            [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
             helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    graph = convert(tmp_path, model, task="regression")
    assert kinds(graph) == [OpKind.UNKNOWN]
    assert not [f for f in lint_paths([tmp_path / "m.onnx"], cwd=tmp_path) if f.severity.value != "info"]


def test_old_opsets_and_dropout_ratio_attribute(tmp_path):
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Dropout", ["x"], ["y"], ratio=0.8, name="drop")],
            "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        ),
        opset_imports=[helper.make_opsetid("", 7)], ir_version=3,
    )
    graph = convert(tmp_path, model)
    [drop] = [op for op in graph.ops.values() if op.kind is OpKind.DROPOUT]
    assert drop.attrs["p"] == pytest.approx(0.8)


def test_integer_image_input_cast_straight_into_a_conv_is_unnormalized(tmp_path):
    weight = numpy_helper.from_array((np.random.default_rng(0).standard_normal((2, 3, 3, 3)) * 0.2).astype(np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    def model(scale: bool):
        nodes = [helper.make_node("Cast", ["img"], ["f"], to=TensorProto.FLOAT, name="cast")]
        if scale:
            nodes.append(helper.make_node("Div", ["f", "k"], ["s"], name="scale"))
        nodes.append(helper.make_node("Conv", ["s" if scale else "f", "w", "b"], ["y"], name="conv"))
        inits = [weight, bias] + ([numpy_helper.from_array(np.array(255.0, np.float32), "k")] if scale else [])
        return helper.make_model(helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("img", TensorProto.UINT8, [1, 3, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])], inits),
            opset_imports=[helper.make_opsetid("", 17)])

    onnx.save_model(model(False), str(tmp_path / "raw.onnx"))
    onnx.save_model(model(True), str(tmp_path / "scaled.onnx"))
    findings = lint_paths([tmp_path / "raw.onnx", tmp_path / "scaled.onnx"], cwd=tmp_path)
    assert [(Path(f.path).name, f.code, f.node) for f in findings] == [("raw.onnx", "NN005", "conv")]


def test_training_graph_softmax_into_cross_entropy_loss(tmp_path):
    graph_text = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[4,5] x, int64[4] t) => (float l) <float[5,5] w = {%s}> {
    h = MatMul(x, w)
    %s
    l = SoftmaxCrossEntropyLoss(p, t)
}
"""
    weights = ", ".join(["0.1"] * 25)
    onnx.save_model(onnx.parser.parse_model(graph_text % (weights, "p = Softmax(h)")), str(tmp_path / "bad.onnx"))
    onnx.save_model(onnx.parser.parse_model(graph_text % (weights, "p = Identity(h)")), str(tmp_path / "good.onnx"))
    findings = lint_paths([tmp_path / "bad.onnx", tmp_path / "good.onnx"], cwd=tmp_path)
    assert [(Path(f.path).name, f.code) for f in findings if f.code == "NN103"] == [("bad.onnx", "NN103")]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_batched_weight_statistics_match_one_by_one(dtype):
    """Small tensors summarised in one batch give what each gives alone (float64 moments of
    the same values), NaN/Inf and constant ones included, of several sizes."""
    from nnlint.frontends import onnx_tensors

    rng = np.random.default_rng(0)
    arrays = {f"t{i}": (rng.standard_normal(n) * scale + shift).astype(dtype)
              for i, (n, scale, shift) in enumerate([(16, 0.7, 0.0), (4, 0.0, 0.01), (1, 1.0, 0.0), (300, 5.0, 1.0),
                                                     (64, 0.1, -2.0), (0, 1.0, 0.0)])}
    arrays["t3"][7] = np.nan
    arrays["t4"][63] = np.inf
    batched = onnx_tensors.summarise_many(arrays.items())
    for name, values in arrays.items():
        alone = onnx_tensors.summarise(values)
        got = batched[name]
        assert (got is None) == (alone is None), name
        if got is None:
            continue
        assert (got.size, got.constant, got.nonfinite) == (alone.size, alone.constant, alone.nonfinite), name
        assert got.mean == pytest.approx(alone.mean, rel=1e-5, abs=1e-6), name
        assert got.std == pytest.approx(alone.std, rel=1e-5), name
        assert got.excess_kurtosis == pytest.approx(alone.excess_kurtosis, rel=1e-4, abs=1e-5), name
    assert batched["t1"].constant == pytest.approx(0.01, rel=1e-3) and batched["t3"].nonfinite and batched["t4"].nonfinite


def test_large_weight_statistics_are_exact_where_the_rules_need_it():
    """A tensor larger than the sample: one NaN, one Inf or one differing value anywhere is
    seen (exact min/max over all of it); the std comes from the sample, within 1%."""
    from nnlint.frontends import onnx_tensors

    size = 3 * onnx_tensors.SAMPLE + 12_345
    values = np.random.default_rng(1).standard_normal(size).astype(np.float32) * np.float32(0.05)
    summary = onnx_tensors.summarise(values)
    assert not summary.nonfinite and summary.constant is None
    assert summary.std == pytest.approx(0.05, rel=0.01) and abs(summary.mean) < 0.01 * 0.05 + 1e-3
    assert -0.1 < summary.excess_kurtosis < 0.1
    for bad in (np.nan, np.inf, -np.inf):
        spoiled = values.copy()
        spoiled[size - 5] = bad  # past the last sampled block's start: only the exact pass sees it
        assert onnx_tensors.summarise(spoiled).nonfinite
    constant = np.full(size, 0.25, np.float32)
    assert onnx_tensors.summarise(constant).constant == 0.25
    constant[size // 2 + 1] = 0.5
    assert onnx_tensors.summarise(constant).constant is None


@pytest.mark.parametrize("in_place", [True, False])
@pytest.mark.parametrize("problem", ["nan", "constant", "short", "fine"])
def test_large_inline_weights_are_read_in_place(tmp_path, monkeypatch, problem, in_place):
    """A weight over BIG bytes is kept serialized and read in place (in the file's bytes, or,
    when the graph is too large to walk in Python, as protobuf's copy): its NaN or constant is
    reported as a small one's is, and the checker (given the model without it) still says
    when its raw data is too short for its shape."""
    from nnlint.frontends import onnx_tensors

    if not in_place:
        monkeypatch.setattr(onnx_tensors, "cut_large", lambda data, large: None)

    width = 1024  # 4 MB of float32: over onnx_tensors.BIG
    assert width * width * 4 > onnx_tensors.BIG
    weight = (np.random.default_rng(2).standard_normal((width, width)) * 0.04).astype(np.float32)
    if problem == "nan":
        weight[width - 1, width - 3] = np.nan
    elif problem == "constant":
        weight[:] = 0.5
    tensor = numpy_helper.from_array(weight, "W")
    if problem == "short":
        tensor.raw_data = tensor.raw_data[:-4]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"), helper.make_node("Relu", ["h"], ["y"], name="relu")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, str(tmp_path / "big.onnx"))
    findings = lint_paths([tmp_path / "big.onnx"], cwd=tmp_path)
    codes = sorted(f.code for f in findings)
    if problem == "short":
        assert "NN907" in codes, findings
        return
    assert "NN907" not in codes, findings
    if problem == "fine":
        assert "NN004" not in codes, findings
        return
    [init] = [f for f in findings if f.code == "NN004"]
    assert ("NaN" if problem == "nan" else "constant 0.5") in init.message, init.message


def test_layers_sharing_a_weight_or_a_ratio_are_each_reported(tmp_path):
    model = onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float[4,4] w = {1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.},
                                     float r = {0.9}, float ok = {0.1}> {
    h1 = MatMul(x, w)
    d1 = Dropout(h1, r)
    h2 = MatMul(d1, w)
    d2 = Dropout(h2, ok)
    d3 = Dropout(d2, r)
    h3 = MatMul(d3, w)
    d4 = Dropout(h3, ok)
    y = Relu(d4)
}
""")
    onnx.save_model(model, str(tmp_path / "m.onnx"))
    findings = lint_paths([tmp_path / "m.onnx"], cwd=tmp_path)
    assert [f.node for f in findings if f.code == "NN004"] == ["MatMul#0", "MatMul#2", "MatMul#5"]
    assert [f.node for f in findings if f.code == "NN007"] == ["Dropout#1", "Dropout#4"]
