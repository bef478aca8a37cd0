"""The trace's shortcuts give the numbers the work they skip would give: the evaluation pass
of a mode-free graph, zero-input probes on one sample, sampled histograms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")

import onnx.parser  # noqa: E402
from nnlint.frontends.onnx_graph import convert  # noqa: E402
from nnlint.frontends.onnx_load import LoadedModel, load  # noqa: E402
from nnlint.trace.measure import measure  # noqa: E402
from nnlint.trace.onnx_model import OnnxGraph  # noqa: E402
from nnlint.trace.summary import BINS, SUBSAMPLE, histogram  # noqa: E402

from tests import onnx_builders as B  # noqa: E402

CPU = torch.device("cpu")
FIXTURES = Path(__file__).parent / "fixtures" / "onnx"


def _graph(model: onnx.ModelProto):
    return convert(LoadedModel(model, Path(".")), "model.onnx", None).graphs[0]


def _close(a, b, path="") -> None:
    """Two trace records (as JSON) equal, floats to a relative 1e-6."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}/{i}")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == b or math.isclose(a, b, rel_tol=1e-6) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("name", ["convnet.torchscript.onnx", "healthy_mlp.dynamo.onnx"])
def test_a_mode_free_graph_measures_as_if_it_ran_its_evaluation_pass(name):
    graph = convert(load(FIXTURES / name), name, None).graphs[0]
    shortcut = OnnxGraph(graph, CPU)
    assert shortcut.mode_free
    full = OnnxGraph(graph, CPU)
    full.mode_free = False  # what a graph with a dropout or a batch norm runs
    a, b = measure(shortcut, graph, CPU).as_json(), measure(full, graph, CPU).as_json()
    assert a["error"] is None and a["layers"]
    _close(a, b)


def test_dropout_and_batch_norm_are_not_mode_free():
    assert OnnxGraph(_graph(B.mlp()), CPU).mode_free
    assert not OnnxGraph(_graph(B.conv_bn(conv_bias=True)), CPU).mode_free
    assert not OnnxGraph(_graph(B.dropout_opset13(0.5)), CPU).mode_free


def test_zero_input_probe_of_a_batched_layer_is_its_bias():
    model = B.mlp()
    graph = _graph(model)
    trace = measure(OnnxGraph(graph, CPU), graph, CPU)
    first = next(r for r in trace.layers.values() if r.kind == "linear")
    bias = next(t for t in model.graph.initializer if t.name == "B1")
    assert first.zero_input_max == pytest.approx(float(np.abs(onnx.numpy_helper.to_array(bias)).max()), rel=1e-6)


def test_zero_input_probe_runs_the_whole_batch_where_one_sample_does_not_fit():
    """A Gemm that transposes its input sums over the first axis: one sample does not fit."""
    model = onnx.parser.parse_model('''<ir_version: 10, opset_import: ["" : 13]>
    g (float[N, 5] x) => (float[5, 3] y) {
        y = Gemm<transA = 1>(x, w, c)
    }''')
    gen = np.random.default_rng(0)
    bias = gen.normal(0, 1, (3,)).astype(np.float32)
    model.graph.initializer.extend([onnx.numpy_helper.from_array(gen.normal(0, 1, (8, 3)).astype(np.float32), "w"),
                                    onnx.numpy_helper.from_array(bias, "c")])
    graph = _graph(model)
    trace = measure(OnnxGraph(graph, CPU), graph, CPU)
    assert trace.error is None
    gemm = next(r for r in trace.layers.values() if r.kind == "linear")
    assert gemm.zero_input_max == pytest.approx(float(np.abs(bias).max()), rel=1e-6)


def test_histogram_of_a_small_tensor_counts_every_value():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    hist = histogram(x)
    assert sum(hist.counts) == 1000 and len(hist.counts) == BINS
    assert hist.counts == [int(c) for c in torch.histc(x, BINS, float(x.min()), float(x.max())).tolist()]


def test_histogram_of_a_big_tensor_samples_the_counts_over_the_exact_range():
    x = torch.randn(8, 64, 112, 112, generator=torch.Generator().manual_seed(0))
    x[3, 7, 50, 50] = 40.0  # one outlier: the range still reaches it
    x[0, 0, 0, 1] = float("nan")
    hist = histogram(x)
    finite = x[torch.isfinite(x)]
    assert hist.edges[0] == float(finite.min()) and hist.edges[-1] == pytest.approx(40.0)
    assert 0.9 * SUBSAMPLE < sum(hist.counts) <= SUBSAMPLE


EXP_NET = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)
        self.out = nn.Linear(32, 4)

    def forward(self, x):
        return self.out(torch.exp(self.fc(x)))


model = Net()
"""


def _source_graph(tmp_path: Path, code: str):
    from nnlint.frontends.project import Project
    from nnlint.frontends.python import analyze

    source = tmp_path / "net.py"
    source.write_text(code)
    project = Project({source: "net.py"})
    return next(g for g in analyze(project.load(source), project).graphs if g.is_model)


def _adapters(tmp_path: Path):
    from nnlint.trace.build import BuiltGraph

    source = _source_graph(tmp_path, EXP_NET)
    onnx_graph = convert(load(FIXTURES / "convnet.dynamo.onnx"), "convnet.onnx", None).graphs[0]
    return [(lambda: BuiltGraph(source, CPU), source), (lambda: OnnxGraph(onnx_graph, CPU), onnx_graph)]


def test_a_streamed_pass_visits_what_forward_returns(tmp_path):
    for build, _ in _adapters(tmp_path):
        model = build().eval()
        inputs = model.make_inputs(8, torch.Generator().manual_seed(0))
        seen: dict = {}
        with torch.no_grad():
            full = model(inputs)
            model.stream(inputs, seen.__setitem__)
        assert list(seen) == list(full)
        assert all(torch.equal(seen[k], full[k]) for k in full)


def test_the_streamed_scale_sweep_is_the_sweep_over_forward(tmp_path):
    for build, graph in _adapters(tmp_path):
        torch.manual_seed(0)  # the same initial weights for both, as the trace seeds them
        streamed = measure(build(), graph, CPU)
        torch.manual_seed(0)
        model = build()
        model.stream = None  # an adapter that cannot stream: forward's values
        whole = measure(model, graph, CPU)
        assert [vars(p) for p in streamed.scales] == [vars(p) for p in whole.scales]
        assert [list(p.max_abs) for p in streamed.scales] == [list(p.max_abs) for p in whole.scales]
        if graph.artifact is None:
            assert any(p.nonfinite for p in streamed.scales)  # exp overflows at some scale


def test_bounded_activations_report_the_range_they_produced_not_their_bounds():
    from nnlint.ir import OpKind
    from nnlint.trace.summary import stats

    x = torch.sigmoid(torch.linspace(-1.0, 1.0, 64).reshape(8, 8))
    measured = stats(x, OpKind.SIGMOID)
    assert measured.min == pytest.approx(float(x.min())) and measured.max == pytest.approx(float(x.max()))
    assert 0.26 < measured.min < measured.max < 0.74 and measured.saturated_fraction == 0.0
    saturated = stats(torch.tanh(torch.full((8, 4), 50.0)), OpKind.TANH)
    assert saturated.max == 1.0 and saturated.saturated_fraction == 1.0
