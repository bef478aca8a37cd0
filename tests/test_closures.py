"""A function defined inside another reads the enclosing function's names, as Python does:
training scripts wrapped in ``main()`` or ``train()`` with helpers defined there
(``weight_variable``, ``block``) are read as if the helpers were module-level."""

from __future__ import annotations

import textwrap
from pathlib import Path

from nnlint.frontends.project import Project
from nnlint.frontends.python import analyze
from nnlint.frontends.values import UNKNOWN
from tests.lint_helpers import lint_source


def program(tmp_path: Path, code: str):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(code))
    project = Project({path: path.name})
    return analyze(project.load(path), project, None)


def kinds(prog) -> list[str]:
    return [op.kind.value for g in prog.graphs for op in g.ops.values()]


TF1_HELPERS_INSIDE_TRAIN = """
import tensorflow as tf

def train():
    x = tf.placeholder(tf.float32, [None, 784])

    def weight_variable(shape):
        return tf.Variable(tf.truncated_normal(shape, stddev=0.1))

    def layer(inputs, n_in, n_out):
        weights = weight_variable([n_in, n_out])
        return tf.nn.relu(tf.matmul(inputs, weights))

    return layer(layer(x, 784, 256), 256, 10)

train()
"""


def test_a_nested_helper_reads_the_enclosing_functions_helper(tmp_path):
    prog = program(tmp_path, TF1_HELPERS_INSIDE_TRAIN)
    linears = [op for g in prog.graphs for op in g.ops.values() if op.kind.value == "linear"]
    assert [op.attrs.get("in_features") for op in linears] == [784, 256]


def test_a_name_bound_after_the_nested_def_is_seen_when_it_runs(tmp_path):
    """Python's cells: the enclosing scope as it is at the call, not at the def."""
    prog = program(tmp_path, """
    import torch.nn as nn

    def main():
        def head():
            return nn.Linear(width, 1)
        width = 64
        model = nn.Sequential(nn.Linear(8, width), nn.ReLU(), head())
        return model

    main()
    """)
    assert any(op.attrs.get("in_features") == 64 for g in prog.graphs for op in g.ops.values()
               if op.kind.value == "linear" and op.attrs.get("out_features") == 1)


def test_a_local_name_shadows_the_enclosing_one_and_an_unbound_one_stays_unknown(tmp_path):
    """Near misses: the nested function's own binding wins; a name bound nowhere is unknown, so
    the layer's size is unknown too, not guessed."""
    prog = program(tmp_path, """
    import torch.nn as nn

    def main():
        width = 64
        def head():
            width = 32
            return nn.Linear(width, 1)
        def other():
            return nn.Linear(missing_width, 1)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), head())
        second = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), other())

    main()
    """)
    sizes = [op.attrs.get("in_features") for g in prog.graphs for op in g.ops.values()
             if op.kind.value == "linear" and op.attrs.get("out_features") == 1]
    assert sizes == [32, UNKNOWN], sizes


PYTORCH_BLOCK_INSIDE_MAIN = """
import torch
import torch.nn as nn

def main(loader):
    def block(n_in, n_out):
        return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())

    model = nn.Sequential(block(13, 64), block(64, 64), nn.Linear(64, 1), nn.ReLU())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
"""


def test_a_model_built_from_a_nested_helper_is_linted(tmp_path):
    found = lint_source(tmp_path, PYTORCH_BLOCK_INSIDE_MAIN)
    assert "NN001" in {f.code for f in found}, found
    clean = lint_source(tmp_path, PYTORCH_BLOCK_INSIDE_MAIN.replace("nn.Linear(64, 1), nn.ReLU())", "nn.Linear(64, 1))"))
    assert "NN001" not in {f.code for f in clean}, clean
