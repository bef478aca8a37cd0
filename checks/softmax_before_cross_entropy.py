"""NN103 softmax-before-cross-entropy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, OpKind
from nnlint.levels import Confidence
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence

#: Losses that apply log-softmax to their input themselves.
_CROSS_ENTROPY = {"torch.nn.CrossEntropyLoss", "torch.nn.functional.cross_entropy", "SoftmaxCrossEntropyLoss",
                  "tensorflow.nn.softmax_cross_entropy_with_logits", "tensorflow.nn.softmax_cross_entropy_with_logits_v2",
                  "tensorflow.nn.sparse_softmax_cross_entropy_with_logits", "tensorflow.losses.softmax_cross_entropy",
                  "tensorflow.losses.sparse_softmax_cross_entropy"}


class SoftmaxBeforeCrossEntropy(GraphCheck):
    """
    ## What it does
    Flags a softmax applied to outputs that go into a cross-entropy loss that applies
    log-softmax itself: a model ending in `Softmax` trained with `nn.CrossEntropyLoss` or
    `F.cross_entropy`, or, in an ONNX training graph, `Softmax` feeding
    `SoftmaxCrossEntropyLoss`.

    ## Why is this bad?
    The loss computes `log_softmax` of its input. Given probabilities in (0, 1) instead of
    logits, it takes a softmax of a softmax: the loss cannot go below a floor far above zero,
    and the gradient through the double softmax is tiny, so training stalls. (Keras is
    different: a softmax output with `from_logits=False` is the correct idiom there.)

    ## Example
    ```python
    model = nn.Sequential(nn.Linear(20, 5), nn.Softmax(dim=1))
    loss = nn.CrossEntropyLoss()(model(x), y)
    ```

    ## Use instead
    ```python
    model = nn.Sequential(nn.Linear(20, 5))            # logits
    loss = nn.CrossEntropyLoss()(model(x), y)
    probs = model(x).softmax(dim=1)                    # for inference only
    ```
    """

    code = "NN103"
    name = "softmax-before-cross-entropy"
    confidence = Confidence.LIKELY
    message = "{softmax} feeds {loss}, which applies log-softmax itself: a softmax of a softmax stalls training"
    hint = "return logits from the model and let the cross-entropy loss apply the softmax"
    traceable = True
    measures = frozenset({M.LOSS_PROBES})
    reads_sizes = False  # the loss probes read the outputs, not a layer's size
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 5), nn.Softmax(dim=1))
loss = nn.CrossEntropyLoss()(model(x), y)
"""
        ),
        Bad(
            """
import torch.nn.functional as F
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 5)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=-1)

def step(net, x, y):
    return F.cross_entropy(net(x), y)
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[4,5] x, int64[4] t) => (float l) <float[5,5] w = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}> {
    h = MatMul(x, w)
    p = Softmax(h)
    l = SoftmaxCrossEntropyLoss(p, t)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(5, activation="softmax")])
model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(20,))
probs = tf.keras.layers.Dense(5, activation=tf.keras.activations.softmax)(inputs)
model = tf.keras.Model(inputs=inputs, outputs=probs)
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 5))
loss = nn.CrossEntropyLoss()(model(x), y)
nll = nn.NLLLoss()(nn.Sequential(nn.Linear(20, 5), nn.LogSoftmax(dim=1))(x), y)
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(5, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy")  # Keras recovers the logits itself
""",
            frontend="keras-source",
        ),
    ]


    def confirm(self, evidence: Evidence) -> Verdict:
        """Cross-entropy on the softmax's output against cross-entropy on its logits: the loss
        floor for perfect logits, and the gradient that reaches the logits."""
        missing = evidence.missing()
        if missing:
            return missing
        probe = evidence.trace.loss_probes.get(evidence.op.id)
        if probe is None:
            return inconclusive("the trace could not evaluate the loss on this softmax's output")
        ratio = probe["grad_fixed"] / probe["grad_as_written"] if probe["grad_as_written"] > 0 else float("inf")
        shown = (f"with perfect logits the loss cannot go below {probe['floor']:.2f} ({probe['classes']} classes), "
                 f"and the logits get {ratio:.1f}x less gradient than from the loss on the logits")
        return confirmed(shown) if probe["floor"] > 0.05 or ratio > 1.1 else refuted(shown)

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model and not graph.setup.losses:  # code that applies a loss inside itself counts
            return
        for loss in graph.setup.losses:
            keras_logits = loss.get("from_logits") and loss["type_name"].endswith("categorical_crossentropy")
            if loss["type_name"] not in _CROSS_ENTROPY and not keras_logits:
                continue  # a Keras softmax with from_logits=False is the correct idiom
            softmax = graph.prediction(loss)
            if softmax is not None and softmax.kind is OpKind.SOFTMAX:
                short = loss["type_name"].rsplit(".", 1)[-1]
                self.report(softmax, also=loss.get("origin"), softmax=softmax.describe(), loss=short)
