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
from nnlint.trace.records import Stats  # noqa: E402
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


# ---------------------------------------------------------------- only what the findings read

MIXED_NET = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(32, 4)

    def forward(self, x):
        return self.out(F.dropout(self.drop(F.relu(self.fc(x))), 0.5, True))


model = Net()
"""


def _traced(path: Path, report: bool) -> list:
    from nnlint.config import Settings
    from nnlint.engine import lint, selected_checks
    from nnlint.trace.run import TraceOptions, trace_findings

    settings = Settings()
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    findings, traces = trace_findings(result.findings, subjects, TraceOptions(device="cpu", report=report))
    return [(f.code, f.path, f.line, f.message, f.trace) for f in findings], traces


@pytest.mark.parametrize("folder", [pytest.param("buggy", marks=pytest.mark.slow), "correct", "onnx"])
def test_each_finding_gets_the_verdict_it_gets_when_everything_is_measured(folder):
    """A trace takes what its findings' checks read (Check.measures): the verdicts and their
    evidence are those of the full trace --report takes, finding by finding."""
    needed, _ = _traced(FIXTURES.parent / folder, report=False)
    everything, traces = _traced(FIXTURES.parent / folder, report=True)
    assert needed == everything
    assert traces and all(t.layers for t in traces if not (t.problem or t.error))


def test_a_finding_whose_check_reads_no_measurement_traces_no_model(tmp_path):
    source = tmp_path / "train.py"
    source.write_text("import torch\nimport torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
                      "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n")
    findings, traces = _traced(source, report=False)
    assert [f[0] for f in findings] == ["NN104"]  # plain-sgd: no trace confirmation
    assert findings[0][4]["status"] == "inconclusive" and traces == []
    assert len(_traced(source, report=True)[1]) == 1  # the report still draws the model


def test_only_the_measurements_asked_for_are_taken_and_each_is_what_the_full_trace_takes(tmp_path):
    from nnlint.trace.build import BuiltGraph
    from nnlint.trace.measurements import ALL, Measure

    graph = _source_graph(tmp_path, MIXED_NET)

    def run(needs):
        torch.manual_seed(0)
        return measure(BuiltGraph(graph, CPU), graph, CPU, needs=needs)

    full = run(ALL)
    assert full.scales and full.optimizer and any(r.act_hist for r in full.layers.values())
    for need in Measure:
        alone = run({need})
        for op_id, record in alone.layers.items():
            assert record.train == full.layers[op_id].train or need is not Measure.UNITS and \
                record.train == Stats(**{**vars(full.layers[op_id].train), "unit_spread": None})
        if need is Measure.DROPOUT:
            assert [(r.dropped_train, r.dropped_eval) for r in alone.layers.values()] == \
                [(r.dropped_train, r.dropped_eval) for r in full.layers.values()]
        if need is Measure.SWEEP:
            assert [vars(p) for p in alone.scales] == [vars(p) for p in full.scales]
        if need is Measure.STEP:
            assert [r.update_ratio for r in alone.layers.values()] == [r.update_ratio for r in full.layers.values()]
    only_eval = run({Measure.EVAL})
    assert only_eval.scales == [] and only_eval.optimizer is None and only_eval.loss is None
    assert all(r.grad_norm is None and r.act_hist is None and r.dropped_train is None and r.eval is not None
               for r in only_eval.layers.values())
    gradients = run({Measure.GRADIENTS})
    assert gradients.optimizer is None and any(r.grad_norm for r in gradients.layers.values())
    assert all(r.update_ratio is None for r in gradients.layers.values())


def test_a_rebuilt_model_without_mode_dependent_ops_is_mode_free_and_measures_as_if_it_ran_its_evaluation_pass(tmp_path):
    from nnlint.trace.build import BuiltGraph

    graph = _source_graph(tmp_path, EXP_NET)
    torch.manual_seed(0)
    shortcut = BuiltGraph(graph, CPU)
    assert shortcut.mode_free
    torch.manual_seed(0)
    full = BuiltGraph(graph, CPU)
    full.mode_free = False
    _close(measure(shortcut, graph, CPU).as_json(), measure(full, graph, CPU).as_json())
    assert not BuiltGraph(_source_graph(tmp_path, MIXED_NET), CPU).mode_free
    rrelu = EXP_NET.replace("torch.exp(self.fc(x))", "self.act(self.fc(x))").replace(
        "self.out = nn.Linear(32, 4)", "self.out = nn.Linear(32, 4)\n        self.act = nn.RReLU()")
    assert not BuiltGraph(_source_graph(tmp_path, rrelu), CPU).mode_free  # a random slope in training mode


def test_the_bias_probe_leaves_the_model_as_it_found_it(tmp_path):
    """The probe zeroes a bias and runs batch norm in training mode: both are put back, so the
    sweep after it (evaluation mode: running statistics) reads what it reads without it."""
    from nnlint.trace.build import BuiltGraph
    from nnlint.trace.measurements import Measure
    from tests.test_trace import BIAS_BEFORE_NORM

    graph = _source_graph(tmp_path, BIAS_BEFORE_NORM)

    def run(needs):
        torch.manual_seed(0)
        built = BuiltGraph(graph, CPU)
        return measure(built, graph, CPU, needs=needs), {k: v.clone() for k, v in built.state_dict().items()}

    (alone, state), (probed, probed_state) = run({Measure.SWEEP}), run({Measure.SWEEP, Measure.BIAS})
    assert [vars(p) for p in alone.scales] == [vars(p) for p in probed.scales]
    assert state.keys() == probed_state.keys() and all(torch.equal(state[k], probed_state[k]) for k in state)
    effects = [r.bias_effect for r in probed.layers.values() if r.bias_effect is not None]
    assert len(effects) == 2 and max(effects) < 1e-4


@pytest.mark.parametrize("kind,value", [
    ("conv", lambda: torch.randn(8, 64, 5, 5)),
    ("relu", lambda: torch.relu(torch.randn(8, 32))),
    ("sigmoid", lambda: torch.sigmoid(torch.randn(8, 16) * 10)),  # saturated at both ends
    ("softmax", lambda: torch.softmax(torch.randn(8, 10) * 20, -1)),
    ("linear", lambda: torch.full((8, 16), 3.0) + 1e-4 * torch.randn(8, 16)),  # near-constant: no cancellation
    ("linear", lambda: torch.ones(8, 4, 3)),  # identical units and samples
    ("linear", lambda: torch.tensor([[1.0, float("nan")], [0.0, 2.0]])),  # non-finite
])
def test_small_tensors_get_the_same_statistics_as_the_torch_path(kind, value, monkeypatch):
    from nnlint.ir import OpKind
    from nnlint.trace import summary

    x = value()
    small = summary.stats(x, OpKind(kind))
    monkeypatch.setattr(summary, "SMALL", 0)  # every tensor summarised by torch
    large = summary.stats(x, OpKind(kind))
    for field in ("mean", "std", "min", "max", "zero_fraction", "saturated_fraction", "nonfinite", "unit_spread",
                  "sample_spread"):
        got, want = getattr(small, field), getattr(large, field)
        if want is None or isinstance(want, bool):
            assert got == want, field
        elif want != want:
            assert got != got, field
        else:
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6), field
