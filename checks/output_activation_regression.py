"""NN001 output-activation-regression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.ir.weights import without_weights
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_CANNOT_GO_NEGATIVE = {
    OpKind.RELU: "it cannot produce negative values, and units pushed below zero stop learning",
    OpKind.RELU6: "it clips the output to [0, 6]",
    OpKind.SOFTPLUS: "it cannot produce negative values",
    OpKind.ELU: "it cannot go below -1",
    OpKind.SELU: "it cannot go below about -1.76",
}
#: The lowest value each rectifier can output, and the interval each squashing one keeps to.
_FLOOR = {OpKind.RELU: 0.0, OpKind.RELU6: 0.0, OpKind.SOFTPLUS: 0.0, OpKind.ELU: -1.0, OpKind.SELU: -1.7581}
_LIMITS = {OpKind.SIGMOID: (0.0, 1.0), OpKind.TANH: (-1.0, 1.0), OpKind.SOFTMAX: (0.0, 1.0)}
_BOUNDED = {
    OpKind.SIGMOID: "(0, 1)",
    OpKind.TANH: "(-1, 1)",
}  # a softmax trained with MSE is a classifier: loss-output-mismatch reports it


class OutputActivationRegression(GraphCheck):
    """
    ## What it does
    Flags a model trained for regression (with `MSELoss`, `L1Loss`, `SmoothL1Loss`,
    `HuberLoss` or their functional forms, or declared with `task = "regression"`) whose
    output goes through a rectifying or squashing activation, in the model or applied by the
    training code between the model and the loss (`mse_loss(torch.relu(model(x)), y)`), also
    behind a dropout on the output (which keeps the values' sign). A
    "model" with no weights at all (a benchmark wrapping one activation layer) trains nothing
    and is not judged.

    ## Why is this bad?
    A regression output must be able to reach every target value. A final ReLU cannot go
    negative, and every unit pushed below zero gets no gradient again ("the most common error
    is ReLU on the last layer"). Sigmoid and Tanh squash the output into (0, 1) or (-1, 1),
    which is only right when the code scales the targets into that range; that case is
    reported as `info`, with `possible` confidence, as is any activation on an autoencoder
    (a model trained to reconstruct its input, `fit(x, x)` or `criterion(model(x), x)`),
    whose right output range is its input's, which nnlint cannot see.

    ## Example
    ```python
    class Regressor(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(8, 32)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            return F.relu(self.out(F.relu(self.hidden(x))))

    loss = nn.MSELoss()(Regressor()(x), y)
    ```

    ## Use instead
    ```python
        def forward(self, x):
            return self.out(F.relu(self.hidden(x)))  # linear output
    ```
    """

    code = "NN001"
    name = "output-activation-regression"
    severity = Severity.ERROR
    message = "{layer} is the output of {model}, which is trained for regression{loss}: {effect}"
    hint = "end a regression model with its last Linear layer and no activation"
    traceable = True
    measures = frozenset({M.EVAL})
    reads_sizes = False  # an activation's output range holds at any width
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return F.relu(self.out(F.relu(self.hidden(x))))

model = Regressor()
criterion = nn.MSELoss()
loss = criterion(model(x), y)
"""
        ),
        Bad(
            """
from torch import nn
from torch.nn.functional import smooth_l1_loss

model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1), nn.ReLU())

def step(batch, target):
    return smooth_l1_loss(model(batch), target)
"""
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1, activation="softplus")])
model.compile(optimizer="adam", loss="mse")
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(8,))
h = tf.keras.layers.Dense(16, activation="relu")(inputs)
out = tf.keras.layers.Dense(1, activation=tf.keras.activations.relu)(h)
model = tf.keras.Model(inputs, out)
model.compile(optimizer="adam", loss=tf.keras.losses.MeanSquaredError())
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return self.out(F.relu(self.hidden(x)))

model = Regressor()
loss = nn.MSELoss()(model(x), y)
"""
        ),
        Good(
            """
import torch.nn as nn

# a classifier may end in a softmax: the task is not regression
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
loss = nn.NLLLoss()(model(x).log(), y)
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """The final activation removed: the output is the layer under it."""
        from nnlint.trace.remedy import Remedy, to_identity

        if op is None or graph.ops.get(op.id) is not op:
            return None  # applied by the training code, outside the model's graph
        return Remedy(self.code, f"the final {op.describe()} removed", (self.code, op.id), lambda g: to_identity(g, op.id))

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """An activation of a constant shows one value: its range says nothing."""
        from nnlint.trace.evidence import constant_input

        return constant_input(evidence)

    def confirm(self, evidence: Evidence) -> Verdict:
        """The output range over the trace's random inputs: a rectifier never goes below its
        floor, a squashing activation never leaves its interval; and, against the same model
        with the activation removed, that the layer under it does."""
        missing = evidence.missing()
        if missing:
            return missing
        op, record = evidence.op, evidence.layer()
        s = record.eval or record.train
        seen = f"output range [{s.min:.2f}, {s.max:.2f}] over {evidence.trace.batch} random inputs"
        if op.kind in _FLOOR:
            floor = _FLOOR[op.kind]
            if s.min >= floor - 1e-6:
                return _against_remedy(evidence, confirmed(
                    f"{seen}: the final {op.describe()} cannot produce targets below {floor:g}"), floor, None)
            return refuted(f"{seen}: the output does go below {floor:g}")
        low, high = _LIMITS[op.kind]
        if low <= s.min and s.max <= high:
            return _against_remedy(evidence, confirmed(
                f"{seen}: the final {op.describe()} keeps every prediction inside ({low:g}, {high:g})"), low, high)
        return refuted(f"{seen}: the output leaves ({low:g}, {high:g})")

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model or not graph.top_level or graph.setup.task != "regression" or without_weights(graph):
            return  # a model with nothing to train has no output layer to get wrong
        losses = [loss for loss in graph.setup.losses if loss["task"] == "regression"] or [{}]
        reported = set()
        for loss in losses:
            op = graph.prediction(loss)
            # through a dropout on the output, which zeroes or scales values and keeps their sign
            op = graph.unshape(op, also=(OpKind.DROPOUT,)) if op is not None else None
            if op is None or op.id in reported and "applied" not in loss:
                continue
            reported.add(op.id)
            name = loss.get("type_name", "").rsplit(".", 1)[-1]
            fields = dict(layer=op.describe(), model=graph.name, loss=f" ({name})" if name else "")
            if loss.get("reconstruction"):  # an autoencoder: its inputs' range decides, and we do not know it
                effect = (f"{_CANNOT_GO_NEGATIVE.get(op.kind) or 'its output range is bounded'}; fine only if the "
                          "reconstructed inputs lie in that range")
                if op.kind in _CANNOT_GO_NEGATIVE or op.kind in _BOUNDED:
                    self.report(op, Severity.INFO, Confidence.POSSIBLE, also=loss.get("origin"), effect=effect, **fields)
            elif op.kind in _CANNOT_GO_NEGATIVE:
                self.report(op, also=loss.get("origin"), effect=_CANNOT_GO_NEGATIVE[op.kind], **fields)
            elif op.kind in _BOUNDED:
                effect = f"its output stays in {_BOUNDED[op.kind]}, so targets outside that range cannot be fitted"
                self.report(op, Severity.INFO, Confidence.POSSIBLE, also=loss.get("origin"), effect=effect, **fields)


def _against_remedy(evidence: Evidence, verdict: Verdict, low: float, high: Optional[float]) -> Verdict:
    """The verdict as written, held against the model without the activation: confirmed when
    the layer under it leaves the range; inconclusive when it stays inside anyway."""
    record = evidence.fixed_layer()
    if record is None or evidence.remedy is None:
        return verdict
    s = record.eval or record.train
    if s.min < low - 1e-6 or (high is not None and s.max > high + 1e-6):
        return confirmed(f"{verdict.evidence}; with {evidence.remedy.what} it reaches [{s.min:.2f}, {s.max:.2f}]")
    return inconclusive(f"{verdict.evidence}, but with {evidence.remedy.what} it stays in [{s.min:.2f}, {s.max:.2f}] "
                        "as well: the activation changes nothing on these inputs")
