"""NN101 redundant-bias-before-norm."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import WEIGHTED, ModelGraph, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence

#: The largest change (relative to the output's size) that is float32 rounding, not the bias.
CANCELLED = 1e-4


class RedundantBiasBeforeNorm(GraphCheck):
    """
    ## What it does
    Reports a Linear or convolution layer with a bias whose output goes straight into a
    BatchNorm (through reshapes only). This is advice (`info`), not an error.

    ## Why is this bad?
    BatchNorm subtracts the per-channel mean over the batch, and a per-channel bias is part of
    that mean: it is cancelled exactly, and BatchNorm's own shift (beta) takes its place. The
    bias costs parameters, memory and an update for nothing. LayerNorm normalises over the
    features instead and does not cancel a bias, so it is not reported.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
    ```

    ## Use instead
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
    ```
    """

    code = "NN101"
    name = "redundant-bias-before-norm"
    severity = Severity.INFO
    confidence = Confidence.CERTAIN
    message = "{layer} has a bias that {norm} cancels (it subtracts the per-channel mean): use bias=False"
    hint = "build the layer with bias=False; the norm's shift replaces the bias"
    frameworks = ("pytorch", "keras", "onnx")
    traceable = True
    measures = frozenset({M.BIAS})
    reads_sizes = False  # the norm removes a bias at any width

    bad = [
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
"""
        ),
        Bad(
            """
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 64, bias=True)
        self.bn = nn.BatchNorm1d(64)

    def forward(self, x):
        return self.bn(self.fc(x)).relu()
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,1,4,4] x) => (float[1,1,4,4] y) <float[1,1,1,1] w = {0.7}, float[1] b = {0.1}, float[1] s = {1.0}, float[1] o = {0.0}, float[1] m = {0.0}, float[1] v = {1.0}> {
    c = Conv(x, w, b)
    y = BatchNormalization(c, s, o, m, v)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Conv2D(32, 3), layers.BatchNormalization(), layers.Activation("relu")])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(16,))
h = tf.keras.layers.BatchNormalization()(tf.keras.layers.Dense(32, use_bias=True)(inputs))
model = tf.keras.Model(inputs, h)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.Linear(64, 64), nn.LayerNorm(64))
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Conv2D(32, 3, use_bias=False), layers.BatchNormalization(), layers.Activation("relu")])
""",
            frontend="keras-source",
        ),
    ]

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model or next(graph.find(OpKind.BATCH_NORM), None) is None:
            return  # no batch norm to follow: no need to walk from every layer of a big graph
        for op in graph.find(*WEIGHTED):
            if op.attrs.get("bias") is not True:
                continue
            norm = graph.batch_norm_after(op)
            if norm is not None:
                self.report(op, layer=op.describe(), norm=norm[-1].describe())

    def confirm(self, evidence: Evidence) -> Verdict:
        """The batch norm's training-mode output on the layer's input, with the bias as it is
        and with it shifted by about the layer's output std: a cancelled bias changes nothing
        but rounding."""
        missing = evidence.missing()
        if missing:
            return missing
        op, effect = evidence.op, evidence.layer().bias_effect
        norm = evidence.fields.get("norm", "the batch norm")
        if effect is None:
            return inconclusive(evidence.why_not_run or f"{op.describe()} and {norm} could not be run apart from the model")
        change = f"changes the output of {norm} by {effect:.2g} of its size" if effect else \
            f"leaves the output of {norm} exactly as it was"
        shown = f"in training mode, shifting the bias of {op.describe()} by about its output's std {change}"
        return confirmed(f"{shown}: the bias is cancelled") if effect <= CANCELLED else refuted(shown)

