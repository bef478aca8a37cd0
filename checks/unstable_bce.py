"""NN109 unstable-bce."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_BCE = {"torch.nn.BCELoss", "torch.nn.functional.binary_cross_entropy"}
_BCE_LOGITS = {"torch.nn.BCEWithLogitsLoss", "torch.nn.functional.binary_cross_entropy_with_logits",
               "tensorflow.nn.sigmoid_cross_entropy_with_logits", "tensorflow.losses.sigmoid_cross_entropy"}


class UnstableBce(GraphCheck):
    """
    ## What it does
    Reports a sigmoid followed by `BCELoss`/`F.binary_cross_entropy` (`info`: it trains,
    DCGAN does it, but it is less exact), and flags as an error a sigmoid output fed to
    `BCEWithLogitsLoss`/`F.binary_cross_entropy_with_logits`, which applies the sigmoid
    itself. The sigmoid may sit in the model or in the training code
    (`criterion(torch.sigmoid(model(x)), y)`).

    ## Why is this bad?
    `BCELoss` takes the log of the sigmoid's output: for large logits the sigmoid rounds to
    exactly 0 or 1 in float32, the log is clamped (PyTorch clamps it at -100), and the
    gradient vanishes; `BCEWithLogitsLoss` computes the same loss from the logits with the
    log-sum-exp trick and stays exact. Feeding it a sigmoid output applies the sigmoid twice:
    the predictions are squeezed into (0.5, 0.73) and the model cannot fit. (Keras is
    different: `sigmoid` with `binary_crossentropy` is the correct idiom there.)

    ## Example
    ```python
    model = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
    loss = nn.BCELoss()(model(x), y)
    ```

    ## Use instead
    ```python
    model = nn.Sequential(nn.Linear(10, 1))           # logits
    loss = nn.BCEWithLogitsLoss()(model(x), y)
    probs = torch.sigmoid(model(x))                     # for inference only
    ```
    Note that `BCEWithLogitsLoss` returns NaN if the logits themselves are infinite.
    """

    code = "NN109"
    name = "unstable-bce"
    severity = Severity.ERROR  # the double sigmoid; sigmoid + BCELoss is reported as info
    message = "{what}"
    hint = "return logits and use BCEWithLogitsLoss (it is exact for large logits; it still gives NaN for infinite ones)"
    traceable = True
    measures = frozenset({M.LOSS_PROBES})
    reads_sizes = False  # the loss probes read the outputs, not a layer's size
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
loss = nn.BCELoss()(model(x), y)
"""
        ),
        Bad(
            """
import torch
import torch.nn.functional as F
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 1)

    def forward(self, x):
        return self.fc(x)

net = Net()
criterion = nn.BCEWithLogitsLoss()
loss = criterion(torch.sigmoid(net(x)), y)
"""
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(4,))
out = tf.keras.layers.Dense(1, activation="sigmoid")(inputs)
model = tf.keras.Model(inputs, out)
model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(10, 1))
loss = nn.BCEWithLogitsLoss()(model(x), y)
probs = torch.sigmoid(model(x))
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")  # the Keras idiom
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """The sigmoid removed and the loss taken with logits (``BCEWithLogitsLoss``); for a
        sigmoid applied twice, the model's own sigmoid removed."""
        from nnlint.trace.remedy import Remedy, to_identity

        if op is None or graph.ops.get(op.id) is not op:
            return None
        if "twice" in fields.get("what", ""):
            return Remedy(self.code, f"{op.describe()} removed", (self.code, op.id), lambda g: to_identity(g, op.id))

        def edit(g: ModelGraph) -> None:
            from nnlint.trace.remedy import to_identity

            to_identity(g, op.id)
            for loss in g.setup.losses:
                if loss.get("type_name", "").rsplit(".", 1)[-1] in ("BCELoss", "binary_cross_entropy"):
                    loss["type_name"] = "torch.nn.BCEWithLogitsLoss"

        return Remedy(self.code, f"BCEWithLogitsLoss on the logits in place of {op.describe()}", (self.code, op.id), edit)

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """Logits that are one constant (a layer frozen by a constant init) saturate alike or
        not at all: the probe compares nothing."""
        from nnlint.trace.evidence import constant_input

        return constant_input(evidence)

    def confirm(self, evidence: Evidence) -> Verdict:
        """A sigmoid applied twice keeps predictions in (0.5, 0.73); BCE on a sigmoid loses the
        gradient of confidently wrong predictions at large logits (x100)."""
        missing = evidence.missing()
        if missing:
            return missing
        op = evidence.op
        if "twice" in evidence.fields.get("what", ""):
            s = evidence.layer().train
            low, high = (1 / (1 + math.exp(-v)) for v in (s.min, s.max))
            return confirmed(f"{op.describe()} outputs lie in [{s.min:.2f}, {s.max:.2f}]; the loss squashes them again "
                             f"into [{low:.2f}, {high:.2f}]: it can never predict a 0")
        probe = evidence.trace.loss_probes.get(op.id)
        if probe is None:
            return inconclusive("the trace could not evaluate the loss on this sigmoid's output")
        shown = (f"at logits x{probe['scale']:g} with confidently wrong predictions, BCE on {op.describe()} gives "
                 f"{probe['dead_as_written']:.0%} of elements no gradient, BCEWithLogitsLoss "
                 f"{probe['dead_fixed']:.0%}")
        return confirmed(shown) if probe["dead_as_written"] > probe["dead_fixed"] else refuted(shown)

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model and not graph.setup.losses:  # code that applies a loss inside itself counts
            return
        for loss in graph.setup.losses:
            kind = loss["type_name"]
            if kind == "keras.losses.binary_crossentropy" and loss.get("from_logits"):
                kind = "torch.nn.BCEWithLogitsLoss"  # the same contract; Keras's default (probabilities) is fine
            if kind not in _BCE and kind not in _BCE_LOGITS:
                continue
            op = graph.prediction(loss)
            if op is None or op.kind is not OpKind.SIGMOID:
                continue
            short = loss["type_name"].rsplit(".", 1)[-1]
            if kind in _BCE_LOGITS:
                self.report(op, Severity.ERROR, Confidence.CERTAIN, also=loss.get("origin"), what=(
                    f"{op.describe()} feeds {short}, which applies a sigmoid itself: the sigmoid is applied twice "
                    "and predictions stay in (0.5, 0.73)"))
            else:  # works in practice (PyTorch clamps the log at -100; DCGAN trains this way): advice
                self.report(op, Severity.INFO, Confidence.CERTAIN, also=loss.get("origin"), what=(
                    f"{op.describe()} followed by {short}: the log of a saturated sigmoid loses the gradient; "
                    "BCEWithLogitsLoss on the logits is exact"))
