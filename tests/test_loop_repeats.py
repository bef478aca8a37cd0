"""Long unrolled loops stop once they repeat themselves, and only then (frontends/loop_repeats.py)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from nnlint.frontends.keras_source import analyze
from nnlint.frontends.loop_repeats import variable_unread
from nnlint.frontends.project import Project
from nnlint.ir import OpKind

from .lint_helpers import lint_source


def build(tmp_path: Path, code: str):
    (tmp_path / "main.py").write_text(code.lstrip("\n"), encoding="utf-8")
    project = Project({})
    return analyze(project.load(tmp_path / "main.py"), project)


def _loop(code: str) -> cst.For:
    return cst.ensure_type(cst.parse_module(code).body[0], cst.For)


@pytest.mark.parametrize("code, unread", [
    ("for _ in range(9):\n    step()\n", True),
    ("for k in range(9):\n    losses[k] = model(x).item()\n", True),  # only where the value goes
    ("for k in range(9):\n    total = total + k\n", False),
    ("for k in range(9):\n    x = data[k]\n", False),
    ("for k in range(9):\n    blocks[k][k] = 0\n", False),  # an index that reads k to find the target
    ("for i, k in enumerate(keys):\n    f(i)\n", False),
])
def test_which_loop_variables_the_body_reads(code, unread):
    assert variable_unread(_loop(code)) is unread


def _model_calls(program) -> int:
    return sum(1 for g in program.graphs for op in g.ops.values() if op.attrs.get("model_call") is not None)


def test_an_evaluation_loop_of_200_batches_stops_once_it_repeats(tmp_path):
    program = build(tmp_path, """
import torch
from torch import nn
model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
losses = torch.zeros(200)
steps = 0
for k in range(200):
    x = torch.randn(4, 8)
    losses[k] = model(x).sum().item()
    steps += 1
""")
    assert 2 <= _model_calls(program) <= 4  # two iterations, then one for any item


@pytest.mark.parametrize("code, layers", [
    # a chain through the loop: each iteration reads the tensor the last one made
    ("import tensorflow as tf\nh = tf.placeholder(tf.float32, [None, 8])\nfor _ in range(12):\n"
     "    h = tf.layers.dense(h, 8, activation=tf.nn.tanh)\n"
     "tf.train.AdamOptimizer(1e-3).minimize(tf.reduce_mean(tf.square(h - y)))\n", 12),
    # a model being built: its children grow
    ("import keras\nmodel = keras.Sequential()\nfor _ in range(12):\n    model.add(keras.layers.Dense(8))\n"
     "model.compile(loss='mse', optimizer='adam')\n", 12),
    # a short loop is always unrolled
    ("import keras\nmodel = keras.Sequential()\nx = keras.layers.Dense(8)\nfor _ in range(8):\n    model.add(x)\n"
     "model.compile(loss='mse', optimizer='adam')\n", 8),
])
def test_a_loop_that_builds_something_is_unrolled_whole(tmp_path, code, layers):
    program = build(tmp_path, code)
    assert max(sum(1 for op in g.ops.values() if op.kind is OpKind.LINEAR) for g in program.graphs) == layers


def test_findings_inside_a_repeating_loop_are_still_made(tmp_path):
    code = """
import torch
from torch import nn
model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(1000):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.randint(0, 2, (4,))).backward()
    optimizer.step()
losses = torch.zeros(200)
with torch.no_grad():
    for k in range(200):
        losses[k] = nn.functional.cross_entropy(model(x_val), y_val).item()
"""
    assert [f.code for f in lint_source(tmp_path, code) if f.code == "NN112"] == ["NN112"]
