"""NN102 saturating-hidden-activation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import NORMS, SHAPE_ONLY, WEIGHTED, ModelGraph, Op, OpKind
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence

_SATURATING = (OpKind.SIGMOID, OpKind.TANH)
_PASS = SHAPE_ONLY | {OpKind.DROPOUT}


def _through(op: Op) -> bool:
    return op.kind in _PASS


#: Trace thresholds: a first-to-last gradient ratio below VANISHED, or more than SATURATED
#: of the hidden units pinned at their bounds, confirms the finding.
VANISHED = 0.1
SATURATED = 0.25


class SaturatingHiddenActivation(GraphCheck):
    """
    ## What it does
    Flags a feed-forward stack with three or more hidden layers activated by sigmoid or tanh:
    activations that sit between two Linear/convolution layers, with no normalisation in
    front of them. They count along one path: two towers, an encoder and a decoder applied
    apart, or one network applied to two batches are not one deeper stack.

    ## Why is this bad?
    The derivative of sigmoid is at most 0.25 and that of tanh at most 1, and both vanish
    when a unit saturates: the gradient shrinks at every such layer, and the first layers of
    a deep stack stop learning. ReLU-family activations (ReLU, LeakyReLU, GELU, SiLU) do not
    saturate for positive inputs. Gates inside LSTM/GRU cells, a sigmoid output and one or
    two tanh hidden layers are fine and not reported.

    ## Example
    ```python
    nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(),
                  nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10))
    ```

    ## Use instead
    ```python
    nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                  nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    ```
    """

    code = "NN102"
    name = "saturating-hidden-activation"
    message = "{count} hidden layers of {model} use {acts} (first: {first}): gradients vanish through saturated units"
    hint = "use ReLU/LeakyReLU/GELU in hidden layers (keep sigmoid/tanh for gates and outputs), or normalise before them"
    traceable = True
    measures = frozenset({M.GRADIENTS})
    frameworks = ("pytorch", "keras", "onnx")
    options = {"min-layers": 3}

    bad = [
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(),
                      nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10))
"""
        ),
        Bad(
            """
import torch
from torch import nn

class Deep(nn.Module):
    def __init__(self, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(32, 32) for _ in range(depth)])
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.out(x)
"""
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="sigmoid"), layers.Dense(64, activation="sigmoid"),
                          layers.Dense(64, activation="sigmoid"), layers.Dense(10)])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(32,))
x = inputs
for _ in range(4):
    x = tf.keras.layers.Dense(32, activation="tanh")(x)
model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn

shallow = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
normalised = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 16), nn.BatchNorm1d(16),
                           nn.Tanh(), nn.Linear(16, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 1))
"""
        ),
        Good(
            """
import torch
from torch import nn

class Cell(nn.Module):
    # an LSTM-style cell: sigmoid gates multiply, they do not feed the next layer
    def __init__(self, n=16):
        super().__init__()
        self.i, self.f, self.o, self.g = (nn.Linear(n, n) for _ in range(4))

    def forward(self, x, c):
        c = torch.sigmoid(self.f(x)) * c + torch.sigmoid(self.i(x)) * torch.tanh(self.g(x))
        return torch.sigmoid(self.o(x)) * torch.tanh(c), c
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="tanh"), layers.Dense(64, activation="relu"),
                          layers.Dense(1, activation="sigmoid")])
""",
            frontend="keras-source",
        ),
    ]


    def confirm(self, evidence: Evidence) -> Verdict:
        """The saturated fraction of the hidden activations, and the gradient norm at the first
        weighted layer against the last after one backward pass."""
        missing = evidence.missing()
        if missing:
            return missing
        trace = evidence.trace
        acts = [r for r in trace.layers.values() if r.kind in ("sigmoid", "tanh") and r.train is not None]
        grads = [r.grad_norm for r in trace.layers.values() if r.grad_norm is not None]
        if not acts or len(grads) < 2 or grads[-1] == 0:
            return inconclusive("too few measured layers to compare gradients")
        saturated = sum(r.train.saturated_fraction for r in acts) / len(acts)
        ratio = grads[0] / grads[-1]
        shown = (f"{saturated:.0%} of hidden {'/'.join(sorted({r.kind for r in acts}))} outputs saturated; the first "
                 f"layer's gradient norm is {ratio:.2g}x the last layer's")
        if ratio < VANISHED or saturated > SATURATED:
            return confirmed(shown)
        if ratio >= 0.5 and saturated < 0.05:
            return refuted(shown)
        return inconclusive(shown)

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model:
            return
        hidden = []
        for op in graph.find(*_SATURATING):
            before = graph.walk_backward(op, _through)
            after = graph.walk_forward(op, _through)
            if before and after and all(o.kind in WEIGHTED for o in before + after) \
                    and not any(o.kind in NORMS for o in before):
                hidden.append(op)
        if len(hidden) < self.opts["min-layers"]:
            return
        chain = _deepest_stack(graph, hidden)
        if len(chain) >= self.opts["min-layers"]:
            acts = "/".join(sorted({"sigmoid" if o.kind is OpKind.SIGMOID else "tanh" for o in chain}))
            self.report(chain[0], count=len(chain), model=graph.name, acts=acts, first=chain[0].describe())


def _deepest_stack(graph: ModelGraph, hidden: list[Op]) -> list[Op]:
    """The longest chain of saturating hidden layers one input goes through, in order.

    Gradients vanish through the layers stacked on one path, not through every sigmoid of a
    graph: an encoder and a decoder applied apart, a discriminator applied to real and fake
    batches, or two networks in one TF1 graph each count on their own. Ops are numbered in
    the order they compute, so each layer's chain extends chains already found upstream (no
    recursion, whatever the depth). Past a budget of graph steps (huge graphs), every hidden
    layer counts, as if they were one stack."""
    ids = {op.id for op in hidden}
    below: dict[int, list[Op]] = {}  # op id -> the deepest chain ending at it
    budget = 200_000
    for op in sorted(hidden, key=lambda o: o.id):
        best: list[Op] = []
        seen, stack = set(), list(op.inputs)
        while stack and budget > 0:
            budget -= 1
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            if i in ids:
                upstream = below.get(i, [graph.ops[i]])
                best = upstream if len(upstream) > len(best) else best
            else:
                stack.extend(graph.ops[i].inputs)
        below[op.id] = [*best, op]
    return hidden if budget <= 0 else max(below.values(), key=len)
