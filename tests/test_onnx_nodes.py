"""What makes big ONNX graphs cheap to lint changes no result: nodes parsed a chunk at a time
give the same model, IR and errors as parsing the file whole; the cyclic collector is paused
only while a graph is linted; the command line keeps the last graph instead of freeing it."""

from __future__ import annotations

import gc
from pathlib import Path

import onnx
import pytest

from nnlint.cli import main
from nnlint.errors import UnreadableFile
from nnlint.frontends import onnx_columns, onnx_graph, onnx_load, onnx_nodes

from . import onnx_builders as ob
from .lint_helpers import lint_paths

MODELS = sorted(ob.CORPUS.glob("*.onnx")) if ob.CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not MODELS, reason=f"the ONNX corpus is not at {ob.CORPUS}")


def _reassembled(path: Path) -> onnx.ModelProto:
    loaded = onnx_load.load(path, streamed=True)
    assert isinstance(loaded.nodes, onnx_nodes.StreamedNodes)
    model = loaded.model
    assert not model.graph.node and not model.graph.initializer
    for chunk in loaded.nodes.columns():
        model.graph.node.extend(chunk.protos)
    assert isinstance(loaded.initializers, onnx_nodes.StreamedTensors)
    model.graph.initializer.extend(loaded.initializers)
    return model


def _ir(path: Path, streamed: bool) -> list[tuple]:
    graph = onnx_graph.convert(onnx_load.load(path, streamed=streamed), "m.onnx", None).graphs[0]
    return [(op.id, op.kind, op.type_name, op.inputs, op.label, op.attrs) for op in graph.ops.values()]


@needs_corpus
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_streamed_model_is_the_model_onnx_loads(path):
    whole = onnx.load(str(path), load_external_data=False)
    assert _reassembled(path).SerializeToString(deterministic=True) == whole.SerializeToString(deterministic=True)


@needs_corpus
def test_small_chunks_give_the_same_ir(monkeypatch):
    monkeypatch.setattr(onnx_nodes, "CHUNK", 7)
    for path in MODELS:
        assert _ir(path, streamed=True) == _ir(path, streamed=False), path.name


def test_constants_are_found_by_op_type_not_by_name(tmp_path):
    model = ob.build("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[N, 4] x) => (float[N, 4] y) {
            Constant_1 = Relu (x)
            c = Constant <value = float[1] {2.0}> ()
            y = Mul (Constant_1, c)
        }
    """)
    path = ob.save(model, tmp_path / "m.onnx")
    found = onnx_load.load(path, streamed=True).nodes.of_types({"Constant", "ConstantOfShape"})
    assert [node.output[0] for node in found] == ["c"]


def _columns(nodes: list[bytes]) -> tuple:
    protos = [onnx.NodeProto.FromString(data) for data in nodes]
    bulk, one_by_one = onnx_columns.from_serialized(nodes, protos, 5), onnx_columns.from_protos(protos, 5)
    fields = ("start", "op_types", "inputs", "outputs", "names", "domains")
    return tuple(getattr(bulk, f) for f in fields), tuple(getattr(one_by_one, f) for f in fields)


def test_fields_read_in_bulk_are_the_fields_of_each_node():
    make = onnx.helper.make_node
    nodes = [make("Relu", ["x"], ["a"], name="r"), make("Add", ["a", "", "b"], ["c"]),
             make("Split", ["c"], ["d", "e"], name="s", domain="ai.onnx", axis=0), make("Custom", [], [], domain="my"),
             make("Relu", ["\x00x"], ["x\x00"], name="\x00-")]
    data = [n.SerializeToString() for n in nodes]
    data[0] += b'\x1a\x02r2"\x04Tanh'  # name and op_type written twice: the last one counts
    data[1] += b"\x1a\x03\xff\xfe!"  # a name that is not UTF-8
    bulk, one_by_one = _columns(data)
    assert bulk == one_by_one
    assert bulk[1][0] == "Tanh" and bulk[4][0] == "r2" and bulk[3][2] == ["d", "e"] and bulk[2][3] == []
    for value in ("\x00", ""):  # the separator itself as a value (read node by node), and the empty name
        data = [n.SerializeToString() for n in nodes] + [make("Relu", [value], [value], name=value).SerializeToString()]
        assert _columns(data)[0] == _columns(data)[1]


def _broken_inside_a_node(tmp_path: Path) -> Path:
    """A model whose outer structure is sound but one node holds an invalid wire type."""
    data = ob.save(ob.regression_relu_output(), tmp_path / "m.onnx").read_bytes()
    op_type = b'"\x04Relu'  # field 4 (op_type), length-delimited, 4 bytes
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(data.replace(op_type, b"'\x04Relu", 1))  # wire type 7 does not exist
    return broken


def test_a_node_that_does_not_parse_is_reported_as_onnx_load_reports_it(tmp_path, capsys):
    _reported_as_onnx_load_reports_it(_broken_inside_a_node(tmp_path), capsys)  # only the nodes left to parse


def test_an_initializer_that_does_not_parse_is_reported_as_onnx_load_reports_it(tmp_path, capsys):
    data = ob.save(ob.regression_relu_output(), tmp_path / "m.onnx").read_bytes()
    name = b"B\x02B1"  # TensorProto field 8 (name), length-delimited, of the small bias B1
    path = tmp_path / "broken.onnx"
    path.write_bytes(data.replace(name, b"G\x02B1", 1))  # wire type 7 does not exist
    _reported_as_onnx_load_reports_it(path, capsys)  # small initializers stay serialized too


def _reported_as_onnx_load_reports_it(path: Path, capsys) -> None:
    """A part that fails to parse only once streamed is the same one-line NN902 as onnx.load's."""
    with pytest.raises(UnreadableFile) as whole:
        onnx_load.load(path)
    loaded = onnx_load.load(path, streamed=True)
    with pytest.raises(UnreadableFile) as streamed:
        onnx_graph.convert(loaded, str(path), None)
    assert str(streamed.value) == str(whole.value)
    assert main(["--format", "json", str(path)]) == 2
    out = capsys.readouterr().out
    assert str(whole.value) in out and '"NN902"' in out and '"NN907"' not in out


def test_streamed_initializers_are_the_models_in_order_by_position_and_in_batches(tmp_path):
    model = ob.regression_relu_output()
    loaded = onnx_load.load(ob.save(model, tmp_path / "m.onnx"), streamed=True)
    tensors = loaded.initializers
    expected = [t.SerializeToString() for t in model.graph.initializer]
    assert len(tensors) == len(expected)
    assert [t.SerializeToString() for t in tensors] == expected
    assert [tensors[i].SerializeToString() for i in range(len(expected))] == expected
    assert [t.SerializeToString() for t in tensors.take([1, 3])] == [expected[1], expected[3]]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cyclic_collector_is_paused_while_a_graph_is_converted_and_restored_after(tmp_path, monkeypatch, enabled):
    path = ob.save(ob.regression_relu_output(), tmp_path / "m.onnx")
    seen = []
    convert = onnx_graph.convert

    def spy(*args):
        seen.append(gc.isenabled())
        return convert(*args)

    monkeypatch.setattr(onnx_graph, "convert", spy)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        findings = lint_paths([path])
        after = gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False] and after is enabled
    assert not [f for f in findings if f.code in ("NN902", "NN999")]  # read and linted


def test_keep_receives_the_last_graph_only(tmp_path, capsys):
    first = ob.save(ob.regression_relu_output(), tmp_path / "a.onnx")
    second = ob.save(ob.plain_softmax(), tmp_path / "b.onnx")
    kept: list = []
    assert main(["--format", "json", str(first), str(second)], keep=kept) == main(["--format", "json", str(first),
                                                                                  str(second)])
    [program] = kept
    assert program.path == str(second) and len(program.graphs[0].ops) > 1
    outputs = capsys.readouterr().out.split("\n}\n")
    assert outputs[0] == outputs[1]  # the same report either way
