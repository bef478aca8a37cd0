"""--trace: findings confirmed by a tiny forward pass on the model rebuilt from the IR or the ONNX graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from nnlint.config import Settings  # noqa: E402
from nnlint.engine import lint, selected_checks  # noqa: E402
from nnlint.registry import lookup  # noqa: E402
from nnlint.trace.evidence import Evidence, SampleSummary  # noqa: E402
from nnlint.trace.records import LayerRecord, ModelTrace, Stats  # noqa: E402
from nnlint.trace.run import TraceOptions, trace_findings  # noqa: E402

from tests.conftest import run_cli  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
CORE = {"NN001", "NN002", "NN003", "NN004", "NN005", "NN006", "NN007"}
#: The reasons a core finding of the buggy fixtures may stay inconclusive: each is a limit the
#: README documents, never a measurement that disagrees.
ALLOWED_INCONCLUSIVE = (
    "Keras",  # Keras models are not rebuilt (their input size is often undeclared)
    "input size of",  # ... such as these
    "--sample",  # unnormalized-input needs real data
    "batch size affects training",  # only the batch-norm case of batch-size-extreme is measurable
    "on 1 sample runs",  # ... where one sample still gives batch norm statistics (a conv's positions)
    "names no layer",  # a dropout constructed but never applied in forward
    "no model could be tied",
    "cannot be worked out from its first layers",  # a model that starts with a part nnlint cannot see (a backbone)
    "is not something the trace can rebuild",  # an unknown call in the model (a custom Keras layer)
    "scaling the inputs does not move it",  # logits from token ids (embeddings): the input sweep cannot push them
    "is not known to the analysis (a run-time argument)",  # a dropout rate passed in (keep_prob)
)


def traced(path: Path, **options) -> list:
    settings = Settings()
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    findings, _ = trace_findings(result.findings, subjects, TraceOptions(device="cpu", **options))
    return findings


def verdicts_by_code(path: Path) -> dict[str, list[dict]]:
    """The verdict of each traced finding of ``path``, by rule code."""
    found: dict[str, list[dict]] = {}
    for f in traced(path):
        found.setdefault(f.code, []).append(f.trace)
    return found


@pytest.fixture(scope="module")
def buggy():
    return traced(FIXTURES / "buggy")


@pytest.mark.slow
def test_every_core_finding_on_the_buggy_models_is_confirmed_or_a_documented_limit(buggy):
    core = [f for f in buggy if f.code in CORE]
    assert len(core) >= 35
    for f in core:
        status, evidence = f.trace["status"], f.trace["evidence"]
        assert status != "refuted", (f.code, f.path, f.line, evidence)
        if status == "inconclusive":
            assert any(reason in evidence for reason in ALLOWED_INCONCLUSIVE), (f.code, f.path, f.line, evidence)
    confirmed = {f.code for f in core if f.trace["status"] == "confirmed"}
    assert {"NN001", "NN002", "NN003", "NN004", "NN006", "NN007"} <= confirmed


@pytest.mark.slow
def test_evidence_is_one_line_with_the_measurement(buggy):
    by_place = {(f.code, Path(f.path).name, f.line): f.trace for f in buggy}
    relu = by_place[("NN001", "activation_spellings.py", 14)]
    assert relu["status"] == "confirmed" and relu["device"] == "cpu"
    assert relu["evidence"].startswith("output range [0.00, ") and "cannot produce targets below 0" in relu["evidence"]
    drop = by_place[("NN007", "dropout_spellings.py", 25)]
    zeroed = float(re.search(r"zeroed ([0-9.]+)%", drop["evidence"]).group(1))
    assert 85 <= zeroed <= 95  # F.dropout(x, 0.9): about 90% of units
    softmax = by_place[("NN002", "softmax_spellings.py", 7)]
    assert "input scale x" in softmax["evidence"] and "Inf/NaN" in softmax["evidence"]
    assert all("\n" not in f.trace["evidence"] for f in buggy)


def test_nothing_is_confirmed_on_the_correct_programs():
    for f in traced(FIXTURES / "correct"):
        assert f.trace["status"] != "confirmed", (f.code, f.path, f.line, f.trace)


def test_same_input_same_verdicts():
    first = [f.trace for f in traced(FIXTURES / "buggy" / "init_spellings.py")]
    second = [f.trace for f in traced(FIXTURES / "buggy" / "init_spellings.py")]
    assert first == second and first


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_onnx_relu_regressor_is_confirmed(exporter, tmp_path):
    findings = [f for f in traced_with_task(FIXTURES / "onnx" / f"relu_regressor.{exporter}.onnx") if f.code == "NN001"]
    assert findings and findings[0].trace["status"] == "confirmed", findings
    assert "over 8 random inputs" in findings[0].trace["evidence"]


def traced_with_task(path: Path) -> list:
    settings = Settings(task="regression")
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    return trace_findings(result.findings, subjects, TraceOptions(device="cpu"))[0]


def test_sample_confirms_or_refutes_unnormalized_input(tmp_path):
    source = FIXTURES / "buggy" / "raw_input_spellings.py"
    raw = tmp_path / "pixels.npy"
    np.save(raw, np.random.default_rng(0).integers(0, 256, size=(16, 784)).astype(np.uint8))
    scaled = tmp_path / "scaled.npz"
    np.savez(scaled, x=np.random.default_rng(0).standard_normal((16, 784)).astype(np.float32))
    with_raw = [f for f in traced(source, sample=raw) if f.code == "NN005"]
    with_scaled = [f for f in traced(source, sample=scaled) if f.code == "NN005"]
    assert with_raw and all(f.trace["status"] == "confirmed" for f in with_raw)
    assert "whole numbers, raw scale" in with_raw[0].trace["evidence"]
    assert with_scaled and all(f.trace["status"] == "refuted" for f in with_scaled)


def test_hide_refuted_leaves_refuted_findings_out(tmp_path):
    source = FIXTURES / "buggy" / "raw_input_spellings.py"
    scaled = tmp_path / "scaled.npy"
    np.save(scaled, np.zeros((4, 784), np.float32))
    everything = traced(source, sample=scaled)
    shown = traced(source, sample=scaled, hide_refuted=True)
    refuted = [f for f in everything if f.trace["status"] == "refuted"]
    assert refuted and len(shown) == len(everything) - len(refuted)
    assert not any(f.trace["status"] == "refuted" for f in shown)


def _evidence(record: LayerRecord, **fields) -> tuple:
    from nnlint.ir import ModelGraph, OpKind

    graph = ModelGraph("m", "m.py", is_model=True)
    x = graph.add(OpKind.INPUT, "input")
    op = graph.add(OpKind.LINEAR, "torch.nn.Linear", [x.id])
    record.op_id = op.id
    trace = ModelTrace("m", "m.py", "cpu", batch=8, layers={op.id: record})
    return Evidence(trace=trace, op=op, graph=graph, fields=fields)


def _stats(**values) -> Stats:
    base = dict(mean=0.0, std=1.0, min=-2.0, max=2.0, zero_fraction=0.0, saturated_fraction=0.0, nonfinite=False,
                unit_spread=0.9)
    return Stats(**{**base, **values})


def test_confirmations_refute_what_the_measurement_contradicts():
    bias = lookup("NN003")(lambda *a: None)
    assert bias.confirm(_evidence(LayerRecord(0, "fc", "linear", train=_stats(), zero_input_max=0.0))).status == "confirmed"
    assert bias.confirm(_evidence(LayerRecord(0, "fc", "linear", train=_stats(), zero_input_max=0.3))).status == "refuted"
    init = lookup("NN004")(lambda *a: None)
    healthy = _evidence(LayerRecord(0, "fc", "linear", train=_stats(std=1.1)), problem="initialised with std 1")
    assert init.confirm(healthy).status == "refuted"
    exploding = _evidence(LayerRecord(0, "fc", "linear", train=_stats(std=14.0)), problem="initialised with std 1")
    assert init.confirm(exploding).status == "confirmed"
    constant = _evidence(LayerRecord(0, "fc", "linear", train=_stats(unit_spread=0.0)), problem="the constant 0.5")
    assert init.confirm(constant).status == "confirmed"
    keep = lookup("NN007")(lambda *a: None)
    assert keep.confirm(_evidence(LayerRecord(0, "d", "dropout", train=_stats(), dropped_train=0.2))).status == "refuted"
    assert keep.confirm(_evidence(LayerRecord(0, "d", "dropout", train=_stats(), dropped_train=0.8))).status == "confirmed"
    mismatch = lookup("NN110")(lambda *a: None)
    spread = _evidence(LayerRecord(0, "sm", "softmax", train=_stats(min=0.2, max=0.9)), case="softmax over one unit")
    assert mismatch.confirm(spread).status == "refuted"
    nll = _evidence(LayerRecord(0, "sm", "softmax", train=_stats()), case="NLL on probabilities", loss="NLLLoss")
    nll.trace.written_losses[nll.op.id] = {"value": 0.4, "grad": 0.2}
    assert mismatch.confirm(nll).status == "refuted"
    nll.trace.written_losses[nll.op.id] = {"value": -0.4, "grad": 0.2}
    assert mismatch.confirm(nll).status == "confirmed"
    redundant = lookup("NN101")(lambda *a: None)
    norm = {"norm": "self.bn (BatchNorm1d)"}
    assert redundant.confirm(_evidence(LayerRecord(0, "fc", "linear", train=_stats(), bias_effect=3e-8), **norm)).status \
        == "confirmed"
    assert redundant.confirm(_evidence(LayerRecord(0, "fc", "linear", train=_stats(), bias_effect=0.2), **norm)).status \
        == "refuted"
    assert redundant.confirm(_evidence(LayerRecord(0, "fc", "linear", train=_stats()), **norm)).status == "inconclusive"


def test_unnormalized_input_without_a_sample_is_inconclusive_and_with_one_judged():
    check = lookup("NN005")(lambda *a: None)
    bare = Evidence(trace=None, op=None, graph=None, fields={})
    assert check.confirm(bare).status == "inconclusive" and "--sample" in check.confirm(bare).evidence
    raw = SampleSummary("x.npy", (4, 3), "uint8", 0.0, 255.0, 120.0, 70.0, True)
    assert check.confirm(Evidence(None, None, None, {}, sample=raw)).status == "confirmed"


def test_a_model_that_cannot_be_rebuilt_is_inconclusive_with_the_reason(tmp_path):
    code = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.body = layer
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return nn.functional.relu(self.out(self.body(x)))

model = Net(make_layer())
loss = nn.MSELoss()(model(x), y)
"""
    path = tmp_path / "net.py"
    path.write_text(code.replace("self.out(self.body(x))", "self.out(self.body(x) + x)"))
    findings = [f for f in traced(path) if f.code == "NN001"]  # the sum reads around the unknown body
    assert findings and findings[0].trace["status"] == "inconclusive"
    assert "rebuil" in findings[0].trace["evidence"] or "does not have" in findings[0].trace["evidence"]
    path.write_text(code)  # the part after the body is computed from it alone: traced alone
    [finding] = [f for f in traced(path) if f.code == "NN001"]
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "traced the part after self.body alone" in finding.trace["evidence"]


@pytest.mark.slow
def test_cli_trace_json_text_and_html_report(tmp_path):
    report = tmp_path / "trace.html"
    result = run_cli(["--trace", "--device", "cpu", "--format", "json", "--report", report,
                      FIXTURES / "buggy" / "init_spellings.py"], cwd=tmp_path)
    assert result.returncode == 1, result
    findings = json.loads(result.stdout)["findings"]
    assert findings and all(set(f["trace"]) == {"status", "evidence", "device"} for f in findings)
    page = report.read_text()
    assert "<svg" in page and "confirmed" in page and "self.fc1" in page
    text = run_cli(["--trace", "--no-color", FIXTURES / "buggy" / "init_spellings.py"], cwd=tmp_path)
    assert "= trace: confirmed on " in text.stdout


@pytest.mark.slow
def test_cli_trace_errors_are_one_line(tmp_path):
    target = FIXTURES / "buggy" / "init_spellings.py"
    pickle = tmp_path / "data.pkl"
    pickle.write_bytes(b"\x80\x04K\x01.")
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for args, words in (
        (["--sample", pickle], "only .npy and .npz"),
        (["--sample", objects], "expected a numeric array, got object"),  # refused from the header
        (["--sample", tmp_path / "missing.npy"], "cannot read it"),
        (["--device", "tpu"], "--device"),
    ):
        result = run_cli(["--trace", *args, target], cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and words in result.stderr, result
    if not torch.cuda.is_available():
        result = run_cli(["--trace", "--device", "cuda", target], cwd=tmp_path)
        assert result.returncode == 2 and "CUDA is not available" in result.stderr, result
    result = run_cli(["--sample", pickle, target], cwd=tmp_path)
    assert result.returncode == 2 and "need --trace" in result.stderr


def test_linting_without_trace_leaves_trace_null(tmp_path):
    result = run_cli(["--format", "json", FIXTURES / "buggy" / "init_spellings.py"], cwd=tmp_path)
    assert all(f["trace"] is None for f in json.loads(result.stdout)["findings"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_same_verdicts_on_cuda():
    cpu = {(f.code, f.path, f.line): f.trace["status"] for f in traced(FIXTURES / "buggy")}
    cuda = traced(FIXTURES / "buggy", device="cuda")
    assert cuda and all(f.trace["device"] == "cuda" for f in cuda)
    assert {(f.code, f.path, f.line): f.trace["status"] for f in cuda} == cpu



def test_a_model_level_finding_says_why_the_output_was_not_run(tmp_path):
    """A learning-rate finding needs a step, which needs the model's output: when the rebuild
    cannot compute it, the evidence says which op stopped it."""
    (tmp_path / "train.py").write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(4, 8)\n\n    def forward(self, x):\n"
        "        return self.fc(x) + torch.arange(x.size(1))\n\n\n"
        "model = Net()\noptimizer = torch.optim.Adam(model.parameters(), lr=1.0)\n")
    [finding] = [f for f in traced(tmp_path) if f.code == "NN105"]
    assert finding.trace["status"] == "inconclusive"
    assert finding.trace["evidence"].startswith("the trace could not take a step with Adam(lr=1): ")
    assert "torch.arange" in finding.trace["evidence"], finding.trace


BIAS_BEFORE_NORM = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 8 * 8, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        h = self.bn(self.conv(x)).relu()
        return self.head(self.bn1(self.fc(h.flatten(1))).relu())


model = Net()
"""


def test_a_bias_before_batch_norm_is_confirmed_cancelled_in_source_and_graph(tmp_path):
    """NN101: the norm's training-mode output with the bias zeroed is its output with the bias,
    through a flatten too; in an ONNX graph as in source."""
    from tests import onnx_builders as B

    (tmp_path / "net.py").write_text(BIAS_BEFORE_NORM)
    (tmp_path / "convnet.onnx").write_bytes(B.conv_bn(conv_bias=True).SerializeToString())
    found = [f for f in traced(tmp_path) if f.code == "NN101"]
    assert len(found) == 3, found
    for f in found:
        assert f.trace["status"] == "confirmed", f.trace
        assert "shifting the bias of" in f.trace["evidence"] and f.trace["evidence"].endswith("the bias is cancelled")


LOSS_MISMATCHES = """
import torch.nn as nn
import torch.nn.functional as F


class OneUnitSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)
        self.sm = nn.Softmax(dim=1)

    def forward(self, x):
        return self.sm(self.fc(x))


class Probabilities(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class OneOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        return self.fc(x)


class SquaredProbabilities(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


a, b, c, d = OneUnitSoftmax(), Probabilities(), OneOutput(), SquaredProbabilities()
bce, nll, ce, mse = nn.BCELoss(), nn.NLLLoss(), nn.CrossEntropyLoss(), nn.MSELoss()


def train(x, y):
    bce(a(x), y).backward()
    nll(b(x), y).backward()
    ce(c(x), y).backward()
    mse(d(x), y).backward()
"""


def test_loss_output_mismatches_are_measured_where_a_forward_pass_shows_them(tmp_path):
    """NN110: a softmax over one unit outputs 1.0; NLL on probabilities goes below 0;
    cross-entropy over one class is 0 with no gradient. MSE on probabilities is not measured."""
    (tmp_path / "losses.py").write_text(LOSS_MISMATCHES)
    found = {f.line: f.trace for f in traced(tmp_path) if f.code == "NN110"}
    assert len(found) == 4, found
    one_unit, probabilities, one_output, squared = (found[line] for line in sorted(found))
    assert one_unit["status"] == "confirmed" and "always 1.0" in one_unit["evidence"]
    assert probabilities["status"] == "confirmed" and "below 0" in probabilities["evidence"]
    assert one_output["status"] == "confirmed" and "is 0, with a gradient of norm 0" in one_output["evidence"]
    assert squared["status"] == "inconclusive" and "does not measure" in squared["evidence"]


@pytest.mark.parametrize("name", ["batch_shapes/full_batch.py", "keras_full_batch.py"])
def test_a_whole_data_set_batch_stays_inconclusive_and_says_why(name):
    """A batch as large as the data set has no experiment on synthetic inputs (its cost is a count
    the code fixes, and generalisation on the real data): never confirmed, never refuted, and the
    verdict names the cause."""
    found = verdicts_by_code(FIXTURES / "buggy" / name)["NN006"]
    assert len(found) >= 3, found
    for verdict in found:
        assert verdict["status"] == "inconclusive", verdict
        assert "updates per epoch" in verdict["evidence"] and "real data" in verdict["evidence"], verdict


_BY_HAND = """
import d2lzh_pytorch as d2l
import numpy as np
import torch

num_inputs, num_outputs = 784, 10
W = {weight}
b = torch.zeros(num_outputs, dtype=torch.float)
W.requires_grad_(requires_grad=True)
b.requires_grad_(requires_grad=True)


def softmax(X):
    X_exp = X.exp()
    return X_exp / X_exp.sum(dim=1, keepdim=True)


def net(X):
    return softmax(torch.mm(X.view((-1, num_inputs)), W) + b)


train_iter = d2l.load_data_fashion_mnist(256)  # data nnlint does not follow
for X, y in train_iter:
    loss = -torch.log(net(X).gather(1, y.view(-1, 1))).sum()
    loss.backward()
"""


@pytest.mark.parametrize("weight", [
    "torch.tensor(np.random.normal(0, 0.01, (num_inputs, num_outputs)), dtype=torch.float)",
    "torch.randn(num_inputs, num_outputs) * 0.01",
    "torch.from_numpy(np.random.standard_normal(size=(num_inputs, num_outputs))).float()",
])
def test_a_model_written_with_tensors_trained_by_hand_is_traced(tmp_path, weight):
    """Weights made with a static shape and trained by hand (``requires_grad_``) are drawn as
    the code draws them, and the data the first matmul reads is the model's input."""
    path = tmp_path / "scratch.py"
    path.write_text(_BY_HAND.format(weight=weight))
    [found] = [f for f in traced(path) if f.code == "NN002"]
    assert found.trace["status"] == "confirmed", found.trace
    assert "drawn as the code draws it" in found.trace["evidence"]


def test_a_tensor_nobody_trains_is_not_drawn(tmp_path):
    """The same model whose W is never trained by hand: nothing says it is a weight, so the
    trace has no value for it (a data tensor made at random is not the model's)."""
    path = tmp_path / "scratch.py"
    path.write_text(_BY_HAND.format(weight="torch.randn(num_inputs, num_outputs) * 0.01")
                    .replace("W.requires_grad_(requires_grad=True)\n", ""))
    [found] = [f for f in traced(path) if f.code == "NN002"]
    assert found.trace["status"] == "inconclusive"
    assert "drawn" not in found.trace["evidence"]
