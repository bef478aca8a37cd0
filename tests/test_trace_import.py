"""--trace-import: the user's own class, imported in a limited subprocess, for models the IR cannot rebuild."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nnlint.trace.records import Histogram, LayerRecord, ModelTrace, ScaleProbe, Stats, TracedFinding  # noqa: E402
from nnlint.trace.measurements import ALL  # noqa: E402

from tests.conftest import run_cli  # noqa: E402

#: Attention is not rebuilt from the IR: without the import mode, every finding here is inconclusive.
ATTENTION_REGRESSOR = """
import torch
import torch.nn as nn
import torch.nn.functional as F

print("importing the model prints this")


class Regressor(nn.Module):
    def __init__(self, d{default}):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.drop = nn.Dropout(0.9)
        self.head = nn.Linear(d, 1)

    def forward(self, x):
        h = self.embed(x).unsqueeze(1)
        h, _ = self.attn(h, h, h)
        return F.relu(self.head(self.drop(h.squeeze(1))))
"""

TRAIN = """
import torch
import torch.nn as nn
from model import Regressor

model = Regressor({args})
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.MSELoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
"""


def project(tmp_path: Path, model: str, train: str = "", config: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "model.py").write_text(textwrap.dedent(model))
    if train:
        (tmp_path / "train.py").write_text(textwrap.dedent(train))
    return tmp_path


def import_net(tmp_path: Path, model: str):
    """The analysis's graph of class ``Net`` in ``model``, and what the import subprocess measured."""
    from nnlint.frontends.project import Project
    from nnlint.frontends.python import analyze
    from nnlint.trace.import_mode import ImportRequest, trace_by_import

    path = project(tmp_path, model) / "model.py"
    analysed = Project({path: "model.py"})
    program = analyze(analysed.load(path), analysed, None)
    graph = next(g for g in program.graphs if g.name == "Net")
    request = ImportRequest(str(path), "model.py", "Net", program.graphs.index(graph), len(graph.ops), None, [], {},
                            None, "cpu", 8, None, 4096, sorted(m.value for m in ALL))
    return graph, trace_by_import(request, timeout=120)


def traces(tmp_path: Path, *args: str) -> dict[str, dict]:
    files = [p.name for p in sorted(tmp_path.glob("*.py"))]
    device = ["--device", "cpu"] if args else []
    result = run_cli(["--format", "json", *device, *args, *files], cwd=tmp_path)
    assert result.returncode in (0, 1), result
    return {f["code"]: f["trace"] for f in json.loads(result.stdout)["findings"]}


@pytest.mark.slow
def test_the_imported_model_confirms_what_the_rebuild_could_not(tmp_path):
    project(tmp_path, ATTENTION_REGRESSOR.format(default="=16"), TRAIN.format(args=""))
    rebuilt = traces(tmp_path, "--trace")
    assert rebuilt["NN001"]["status"] == "inconclusive"
    assert "attention layers are not rebuilt" in rebuilt["NN001"]["evidence"]
    assert rebuilt["NN007"]["status"] == "confirmed" and "measured alone" in rebuilt["NN007"]["evidence"]
    imported = traces(tmp_path, "--trace-import")
    assert imported["NN001"]["status"] == "confirmed", imported
    assert "cannot produce targets below 0" in imported["NN001"]["evidence"]
    assert imported["NN007"]["status"] == "confirmed", imported
    assert "self.drop (Dropout) zeroed" in imported["NN007"]["evidence"]


@pytest.mark.slow
def test_constructor_arguments_and_input_shape_come_from_the_configuration(tmp_path):
    project(tmp_path, ATTENTION_REGRESSOR.format(default=""), TRAIN.format(args="16"))
    missing = traces(tmp_path, "--trace-import")
    assert missing["NN001"]["status"] == "inconclusive"
    assert "[tool.nnlint.trace.models.Regressor]" in missing["NN001"]["evidence"], missing
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nnlint.trace.models."model.py:Regressor"]\nargs = [16]\ninput-shape = [8]\n')
    given = traces(tmp_path, "--trace-import")
    assert given["NN001"]["status"] == "confirmed", given


CONFIGURED = """
from dataclasses import dataclass

import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    width: int
    depth: int = 1


class Regressor(nn.Module):
    def __init__(self, config, act=None):
        super().__init__()
        assert isinstance(config, Config) and isinstance(act, nn.Module), "objects expected"
        self.embed = nn.Linear(8, config.width)
        self.attn = nn.MultiheadAttention(config.width, 2, batch_first=True)
        self.head = nn.Linear(config.width, 1)
        self.act = act

    def forward(self, x):
        h = self.act(self.embed(x)).unsqueeze(1)
        h, _ = self.attn(h, h, h)
        return F.relu(self.head(h.squeeze(1)))
"""


@pytest.mark.parametrize("config, status, words", [
    ('args = [{ call = "Config", kwargs = { width = 16 } }]\nkwargs = { act = { call = "torch.nn.Tanh" } }',
     "confirmed", "cannot produce targets below 0"),
    ('args = [{ call = "Config", args = [16] }]\nkwargs = { act = { call = "NoSuchThing" } }',
     "inconclusive", "NoSuchThing is not something to call in model.py"),
    ('args = [{ call = "Config", kwargs = { breadth = 16 } }]', "inconclusive", "Config(...) raised TypeError"),
    ('args = [{ call = "Config", width = 16 }]', "inconclusive", "a call is { call = "),
    ('args = [{ call = "no_such_package.Config" }]', "inconclusive", "cannot import no_such_package"),
])
@pytest.mark.slow
def test_object_arguments_are_calls_in_the_configuration(tmp_path, config, status, words):
    project(tmp_path, CONFIGURED, TRAIN.format(args="cfg"), f"[tool.nnlint.trace.models.Regressor]\n{config}\n")
    found = traces(tmp_path, "--trace-import")
    assert found["NN001"]["status"] == status and words in found["NN001"]["evidence"], found


@pytest.mark.slow
def test_the_code_runs_only_with_trace_import(tmp_path):
    marker = tmp_path / "imported.txt"
    project(tmp_path, ATTENTION_REGRESSOR.format(default="=16") + f"\nopen({str(marker)!r}, 'w').close()\n",
            TRAIN.format(args=""))
    traces(tmp_path, "--trace")
    traces(tmp_path)
    assert not marker.exists()
    traces(tmp_path, "--trace-import")
    assert marker.exists()


@pytest.mark.parametrize("top_level, config, words", [
    ("import time\ntime.sleep(60)", "[tool.nnlint.trace]\nimport-timeout = 2\n", "did not finish within 2 s"),
    ("blob = bytearray(16 << 30)", "[tool.nnlint.trace]\nimport-memory = 2048\n", "2048 MiB"),
    ("", "[tool.nnlint.trace]\nimport-memory = 300\n", "300 MiB cap"),  # too little for torch itself
    ("raise SystemExit('training finished')", "", "SystemExit: training finished"),
    ("import not_installed_anywhere", "", "ModuleNotFoundError"),
])
@pytest.mark.slow
def test_limits_and_failures_leave_the_findings_inconclusive_with_one_line(tmp_path, top_level, config, words):
    project(tmp_path, ATTENTION_REGRESSOR.format(default="=16") + "\n" + top_level + "\n", TRAIN.format(args=""),
            config)
    found = traces(tmp_path, "--trace-import")
    evidence = found["NN001"]["evidence"]
    assert found["NN001"]["status"] == "inconclusive" and words in evidence, found
    assert "\n" not in evidence and "--trace-import" in evidence


@pytest.mark.slow
def test_layers_functions_and_operators_are_matched_to_the_analysis(tmp_path):
    """Sequential members, a submodule class used twice, functions, operators and methods each
    get the value the real model computed; an RNN's state, with no place in the code, does not."""
    model = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1)
            self.bn = nn.BatchNorm2d(c)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x))) + x


    class Net(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
            self.block = Block(width)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.rnn = nn.GRU(width, width, batch_first=True)
            self.head = nn.Linear(width, 4)

        def forward(self, x):
            x = self.stem(x)
            x = self.block(x)
            x = self.pool(x).flatten(1)
            y, _ = self.rnn(x.unsqueeze(1))
            return torch.softmax(self.head(y[:, -1]), dim=1)
    """
    graph, result = import_net(tmp_path, model)
    assert result.error is None, result.error
    unmeasured = {graph.ops[i].type_name for i in result.broken}
    assert unmeasured == {"rnn-state"}, result.broken
    layers = result.trace.layers
    for op in graph.ops.values():
        if op.type_name != "rnn-state":
            assert layers[op.id].train is not None, op.describe()
    softmax = next(op for op in graph.ops.values() if op.type_name == "torch.softmax")
    assert layers[softmax.id].eval.min >= 0 and layers[softmax.id].eval.max <= 1
    relu = next(op for op in graph.ops.values() if op.type_name == "torch.nn.ReLU")
    assert layers[relu.id].train.min == 0 and layers[relu.id].zero_input_max is None
    head = next(op for op in graph.ops.values() if op.label == "self.head")
    assert layers[head.id].grad_norm > 0 and layers[head.id].update_ratio > 0
    assert result.trace.input_shapes == [[8, 3, 32, 32]]
    assert result.trace.built == "imported"


def test_keras_and_notebook_models_are_not_imported(tmp_path):
    keras_model = """
    from tensorflow import keras

    # a first channels-first convolution of no input shape: the rebuild cannot stand in for it, so
    # the trace would need the class itself, which --trace-import imports for PyTorch models only
    model = keras.Sequential([keras.layers.Conv1D(4, 3, data_format="channels_first"), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="relu")])
    model.compile(optimizer="adam", loss="mse")
    """
    project(tmp_path, keras_model)
    found = traces(tmp_path, "--trace-import")
    assert found and all(t["status"] == "inconclusive" for t in found.values())
    assert all("PyTorch classes only" in t["evidence"] for t in found.values()), found


def test_model_trace_survives_json():
    trace = ModelTrace(
        "Net", "model.py", "cpu", 8, [[8, 3]],
        {3: LayerRecord(3, "self.fc", "linear", train=Stats(0.0, 1.0, -2.0, 2.0, 0.0, 0.0, False, 0.5),
                        act_hist=Histogram([0.0, 1.0], [3]), grad_norm=0.1, bias_effect=1e-7)},
        [ScaleProbe(10.0, 4, {3: 2.5}, [4])], loss="MSELoss", loss_probes={5: {"floor": 0.3}},
        written_losses={5: {"value": -0.2, "grad": 0.3}},
        findings=[TracedFinding("NN001", "output-activation-regression", "error", "m", 3, 3, "confirmed", "e")],
    )
    assert ModelTrace.from_json(json.loads(json.dumps(trace.as_json()))) == trace
    with pytest.raises(TypeError):
        ModelTrace.from_json({**trace.as_json(), "surprise": 1})


@pytest.mark.slow
def test_input_shape_from_the_configuration_lets_the_rebuild_run(tmp_path):
    """No import needed: the IR rebuild only lacked the input size of a lazy first layer."""
    lazy = """
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.LazyLinear(32)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            return F.relu(self.out(F.relu(self.body(x))))


    model = Net()
    loss = nn.MSELoss()(model(x), y)
    """
    project(tmp_path, lazy)
    assert "input size of self.body (LazyLinear) is not known" in traces(tmp_path, "--trace")["NN001"]["evidence"]
    (tmp_path / "pyproject.toml").write_text("[tool.nnlint.trace.models.Net]\ninput-shape = [20]\n")
    assert traces(tmp_path, "--trace")["NN001"]["status"] == "confirmed"
    (tmp_path / "pyproject.toml").write_text("[tool.nnlint.trace.models.Net]\ninput-shape = [[20], [3]]\n")
    assert "gives 2 shape(s) but Net's forward takes 1" in traces(tmp_path, "--trace")["NN001"]["evidence"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_imported_model_gives_the_same_verdicts_on_cuda(tmp_path):
    """On CUDA the subprocess has no address-space cap (CUDA reserves far more than it uses):
    the parent's watch on resident memory is the limit there."""
    project(tmp_path, ATTENTION_REGRESSOR.format(default="=16"), TRAIN.format(args=""))
    cpu = traces(tmp_path, "--trace-import")
    files = [p.name for p in sorted(tmp_path.glob("*.py"))]
    result = run_cli(["--format", "json", "--device", "cuda", "--trace-import", *files], cwd=tmp_path)
    cuda = {f["code"]: f["trace"] for f in json.loads(result.stdout)["findings"]}
    assert {code: t["status"] for code, t in cuda.items()} == {code: t["status"] for code, t in cpu.items()}
    assert all(t["device"] == "cuda" for t in cuda.values())


@pytest.mark.slow
def test_values_are_recorded_before_in_place_ops_rewrite_them(tmp_path):
    inplace = """
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(inplace=True), nn.LSTM(16, 4))

        def forward(self, x):
            y, _ = self.net[2](self.net[1](self.net[0](x)).unsqueeze(0))
            out = y[0]
            out += 1.0
            return out
    """
    graph, result = import_net(tmp_path, inplace)
    assert result.error is None, result.error
    linear = next(op for op in graph.ops.values() if op.type_name == "torch.nn.Linear")
    relu = next(op for op in graph.ops.values() if op.type_name == "torch.nn.ReLU")
    assert result.trace.layers[linear.id].train.min < 0  # recorded before the in-place ReLU ran
    assert result.trace.layers[relu.id].train.min == 0
