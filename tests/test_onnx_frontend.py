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


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_weight_statistics_do_not_depend_on_reused_buffers(dtype):
    """Chunks copied into reused float64 buffers give exactly what float64 chunks give, with
    a short last chunk and non-finite values mid-stream."""
    values = np.random.default_rng(0).standard_normal(10_000).astype(dtype)
    values[[17, 4_500]] = [np.nan, np.inf]

    def chunks(array):
        return (array[i : i + 4_096] for i in range(0, array.size, 4_096))

    streamed = onnx_load._summarise(chunks(values))
    reference = onnx_load._summarise(chunks(values.astype(np.float64)))
    assert streamed == reference and streamed.nonfinite and streamed.size == 9_998


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
