"""A remedy's variant borrows the layers its remedy left alone from the model as written
(``SharedLayers``): the counterfactual differs from the model only where the remedy changed it,
and measuring one never disturbs the other."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nnlint.frontends.project import Project  # noqa: E402
from nnlint.frontends.python import analyze  # noqa: E402
from nnlint.trace.build import BuiltGraph, SharedLayers  # noqa: E402
from nnlint.trace.measure import measure, seed  # noqa: E402
from nnlint.trace.remedy import remedied, set_call, set_weight_init, to_identity  # noqa: E402
from nnlint.trace.remedy import Remedy  # noqa: E402

CPU = torch.device("cpu")

SOURCE = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.hidden = nn.Linear(n_features, 64)
        self.drop = nn.Dropout(0.8)
        self.out = nn.Linear(64, 1)
        nn.init.normal_(self.out.weight, std=0.5)

    def forward(self, x):
        return torch.relu(self.out(self.drop(torch.relu(self.hidden(x)))))

model = Net(X.shape[1])
"""


def graph(tmp_path: Path, code: str = SOURCE):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(code))
    project = Project({path: path.name})
    return next(g for g in analyze(project.load(path), project, None).graphs if g.is_model)


def op_named(g, label: str):
    return next(op for op in g.ops.values() if op.label and op.label.endswith(label))


def layer(built: BuiltGraph, op) -> torch.nn.Module:
    return built.layers[str(op.id)]


def build(g, shared: SharedLayers) -> BuiltGraph:
    seed(CPU, 0)
    return BuiltGraph(g, CPU, None, None, shared)


def test_a_variant_borrows_the_layers_its_remedy_left_alone(tmp_path):
    written = graph(tmp_path)
    shared = SharedLayers()
    original = build(written, shared)
    out, drop = op_named(written, "out"), op_named(written, "drop")
    final = next(op for op in written.ops.values() if written.outputs == [op.id])
    fix = Remedy("NN007", "p=0.2", ("NN007", drop.id), lambda g: set_call(g, drop.id, 0, "p", 0.2))
    removed = Remedy("NN001", "final ReLU removed", ("NN001", final.id), lambda g: to_identity(g, final.id))
    variant = build(remedied(written, [fix, removed]), shared)
    assert layer(variant, out) is layer(original, out)  # weights as initialised, init call included
    assert layer(variant, drop) is not layer(original, drop) and layer(variant, drop).p == 0.2
    assert layer(original, drop).p == 0.8
    assert written.ops[final.id].kind.value == "relu" and variant.graph.ops[final.id].kind.value == "identity"


def test_an_edited_or_stood_in_layer_is_built_afresh(tmp_path):
    written = graph(tmp_path)
    shared = SharedLayers()
    original = build(written, shared)
    hidden, out = op_named(written, "hidden"), op_named(written, "out")
    assert hidden.id in original.stood_in  # in_features known at run time: a lazy layer, never lent
    he = Remedy("NN004", "He init", ("NN004", out.id),
                lambda g: set_weight_init(g, out.id, "kaiming_normal_", {"nonlinearity": "relu"}))
    variant = build(remedied(written, [he]), shared)
    assert layer(variant, hidden) is not layer(original, hidden)
    assert layer(variant, out) is not layer(original, out)
    assert abs(float(layer(original, out).weight.detach().std()) - 0.5) < 0.2  # the code's init, left as it was
    # near miss: without a shared set nothing is borrowed, as for a model traced once
    again = build(written, None)
    assert not again.borrowed and layer(again, out) is not layer(original, out)


def test_measuring_a_variant_leaves_the_shared_layers_as_they_were(tmp_path):
    written = graph(tmp_path, SOURCE.replace("Net(X.shape[1])", "Net(20)") + """
optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
loss_fn = nn.MSELoss()
""")
    shared = SharedLayers()
    original = build(written, shared)
    before = {name: t.detach().clone() for name, t in original.state_dict().items()}
    first = measure(original, written, CPU)
    drop = op_named(written, "drop")
    fix = Remedy("NN007", "p=0.2", ("NN007", drop.id), lambda g: set_call(g, drop.id, 0, "p", 0.2))
    variant = build(remedied(written, [fix]), shared)
    assert variant.borrowed  # both Linears, known sizes
    measure(variant, remedied(written, [fix]), CPU)
    for name, t in original.state_dict().items():
        assert torch.equal(t, before[name]), name  # the optimizer step was undone on the shared weights
    assert all(p.grad is None for p in original.parameters())
    second = measure(original, written, CPU)  # the model as written measures as it did the first time
    for op_id, record in first.layers.items():
        assert record.train == second.layers[op_id].train and record.grad_norm == second.layers[op_id].grad_norm
        assert record.update_ratio == second.layers[op_id].update_ratio
