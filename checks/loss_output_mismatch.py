"""NN110 loss-output-mismatch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.ir.shapes import axis_size, shape_of, softmax_axis
from nnlint.ir.weights import without_weights
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_NLL = {"torch.nn.NLLLoss", "torch.nn.functional.nll_loss"}
_MSE = {"torch.nn.MSELoss", "torch.nn.functional.mse_loss", "keras.losses.mse", "keras.losses.mean_squared_error",
        "tensorflow.squared_error", "tensorflow.losses.mean_squared_error"}
_BINARY = {"torch.nn.BCELoss", "torch.nn.functional.binary_cross_entropy", "torch.nn.BCEWithLogitsLoss",
           "torch.nn.functional.binary_cross_entropy_with_logits", "keras.losses.binary_crossentropy"}
_CROSS_ENTROPY = {"torch.nn.CrossEntropyLoss", "torch.nn.functional.cross_entropy"}
#: Keras's categorical cross-entropy on one unit is constant whatever the activation
_KERAS_CATEGORICAL = {"keras.losses.categorical_crossentropy", "keras.losses.sparse_categorical_crossentropy"}
#: Keras losses that read their input as probabilities unless ``from_logits=True``
_KERAS_PROBABILITY = _KERAS_CATEGORICAL | {"keras.losses.binary_crossentropy"}
#: Losses that read their input as logits (and apply the softmax or sigmoid themselves)
_LOGITS = _CROSS_ENTROPY | {"torch.nn.BCEWithLogitsLoss", "torch.nn.functional.binary_cross_entropy_with_logits",
                            "tensorflow.nn.softmax_cross_entropy_with_logits",
                            "tensorflow.nn.sparse_softmax_cross_entropy_with_logits",
                            "tensorflow.nn.sigmoid_cross_entropy_with_logits", "tensorflow.nn.softmax_cross_entropy_with_logits_v2",
                            "tensorflow.losses.softmax_cross_entropy", "tensorflow.losses.sparse_softmax_cross_entropy",
                            "tensorflow.losses.sigmoid_cross_entropy"}
#: Outputs that are no probabilities: raw layers and activations that go below 0 (error) ...
_SIGNED = {OpKind.LINEAR: "a linear output", OpKind.CONV: "a linear output", OpKind.TANH: "a tanh output",
           OpKind.ELU: "an ELU output", OpKind.LEAKY_RELU: "a LeakyReLU output", OpKind.SELU: "a SELU output"}
#: ... or that never go below 0 but are not normalised either (warning)
_RECTIFIED = {OpKind.RELU: "a ReLU output", OpKind.RELU6: "a ReLU6 output", OpKind.SOFTPLUS: "a softplus output"}


def _is_logits_loss(loss: dict) -> bool:
    return loss["type_name"] in _LOGITS or (loss.get("from_logits") is True and loss["type_name"].startswith("keras."))


def _source(graph: ModelGraph, op: Op) -> Op | None:
    """The op feeding ``op`` (through reshapes), or None."""
    return graph.unshape(graph.ops[op.inputs[0]]) if op.inputs else None


def _units(graph: ModelGraph, op: Op):
    """The width of the layer that produces ``op`` (itself, or the layer under an activation)."""
    layer = op if op.kind is OpKind.LINEAR else _source(graph, op)
    return layer.attrs.get("out_features") if layer is not None and layer.kind is OpKind.LINEAR else None


class LossOutputMismatch(GraphCheck):
    """
    ## What it does
    Flags a loss that does not match what the model outputs:
    - `NLLLoss` on softmax probabilities or on raw logits (it expects log-probabilities);
    - a softmax classifier trained with `MSELoss`;
    - a binary loss (`BCELoss`, `BCEWithLogitsLoss`) on a multi-class softmax;
    - a softmax over a single unit, or `CrossEntropyLoss` on a single output (both are
      constant: the loss never changes).

    A "model" with no weights at all (a benchmark wrapping one activation layer) learns no
    task, so its loss is not judged.

    ## Why is this bad?
    Each loss assumes its input: `NLLLoss` just picks `-input[target]`, so on probabilities
    or logits it optimises the wrong quantity and can go to minus infinity; MSE on
    probabilities gives weak, vanishing gradients compared with cross-entropy (a softmax
    output with negative log likelihood is the classification pairing, identity output with
    MSE the regression one); a softmax over one unit always outputs 1.0.

    ## Example
    ```python
    model = nn.Sequential(nn.Linear(20, 5), nn.Softmax(dim=1))
    loss = nn.NLLLoss()(model(x), y)
    ```

    ## Use instead
    ```python
    model = nn.Sequential(nn.Linear(20, 5), nn.LogSoftmax(dim=1))
    loss = nn.NLLLoss()(model(x), y)          # or: logits + nn.CrossEntropyLoss()
    ```
    """

    code = "NN110"
    name = "loss-output-mismatch"
    severity = Severity.ERROR
    message = "{what}"
    traceable = True
    measures = frozenset({M.LOSS_PROBES})
    reads_sizes = False  # the loss probes read the outputs, not a layer's size
    hint = "pair log_softmax with NLLLoss, logits with CrossEntropyLoss/BCEWithLogitsLoss, a linear output with MSE"
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 5), nn.Softmax(dim=1))
loss = nn.NLLLoss()(model(x), y)
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
        return self.fc(x)

def step(net, x, y):
    return F.nll_loss(net(x), y)

step(Net(), x, y)
"""
        ),
        Bad(
            """
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 1), nn.Softmax(dim=1))
"""
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="categorical_crossentropy")
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="mean_squared_error")
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

model = nn.Sequential(nn.Linear(20, 5), nn.LogSoftmax(dim=1))
loss = F.nll_loss(model(x), y)
logits = nn.Sequential(nn.Linear(20, 5))
ce = nn.CrossEntropyLoss()(logits(x), y)
binary = nn.Sequential(nn.Linear(20, 1))
bce = nn.BCEWithLogitsLoss()(binary(x), t)
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
""",
            frontend="keras-source",
        ),
    ]

    def check(self, graph: ModelGraph) -> None:
        for op in graph.find(OpKind.SOFTMAX):  # in any tensor code: a script's top level too
            self._one_unit_softmax(graph, op)
        if not graph.is_model or without_weights(graph):
            return  # a model with nothing to train learns no task: no loss is paired with it wrongly
        for loss in graph.setup.losses:
            kind = loss["type_name"]
            op = graph.prediction(loss)
            if op is None:
                continue
            short = kind.rsplit(".", 1)[-1]
            if kind in _NLL and op.kind is OpKind.SOFTMAX:
                self.report(op, also=loss.get("origin"), case=_NLL_ON_PROBABILITIES, loss=short,
                            what=f"{short} on {op.describe()} probabilities: it expects log-probabilities (use log_softmax)")
            elif kind in _NLL and op.kind in (OpKind.LINEAR, OpKind.CONV):
                self.report(op, also=loss.get("origin"), what=f"{short} on the raw output of {op.describe()}: it expects log-probabilities "
                                     "(add log_softmax, or use CrossEntropyLoss on logits)")
            elif kind in _MSE and op.kind is OpKind.SOFTMAX:
                self.report(op, Severity.WARNING, Confidence.LIKELY, also=loss.get("origin"), what=(
                    f"{op.describe()} classifier trained with {short}: probabilities give weak, vanishing gradients "
                    "under MSE; use cross-entropy on the logits"))
            elif kind in _BINARY and op.kind is OpKind.SOFTMAX:
                self.report(op, Severity.WARNING, Confidence.LIKELY, also=loss.get("origin"), what=(
                    f"binary loss {short} on the multi-class {op.describe()}: use CrossEntropyLoss for exclusive "
                    "classes, or sigmoid outputs for independent labels"))
            elif kind in _KERAS_CATEGORICAL and op.kind in (OpKind.SIGMOID, OpKind.SOFTMAX, OpKind.LINEAR) and \
                    _units(graph, op) == 1:
                self.report(op, also=loss.get("origin"), case=_ONE_CLASS, loss=short,
                            what=f"{short} on a single output unit ({op.describe()}): categorical cross-entropy "
                                 "over one class is constant; use binary_crossentropy with a sigmoid")
            elif kind in _CROSS_ENTROPY and op.kind is OpKind.LINEAR and op.attrs.get("out_features") == 1:
                self.report(op, also=loss.get("origin"), case=_ONE_CLASS, loss=short,
                            what=f"{short} over a single output ({op.describe()}, out_features=1): the loss is "
                                 "always 0; use BCEWithLogitsLoss for a binary task")
            elif kind in _KERAS_CATEGORICAL and not loss.get("from_logits") and op.kind is OpKind.SIGMOID:
                self.report(op, Severity.WARNING, Confidence.LIKELY, also=loss.get("origin"), what=(
                    f"{short} on the sigmoid output {op.describe()}: independent sigmoids do not sum to 1 over "
                    "exclusive classes; use a softmax output (or binary_crossentropy for independent labels)"))
            elif kind in _KERAS_PROBABILITY and not loss.get("from_logits") and (op.kind in _SIGNED or op.kind in _RECTIFIED):
                signed = op.kind in _SIGNED
                self.report(op, Severity.ERROR if signed else Severity.WARNING, Confidence.LIKELY, also=loss.get("origin"), what=(
                    f"{short} reads probabilities, but {op.describe()} is {_SIGNED.get(op.kind) or _RECTIFIED[op.kind]}"
                    + (" that goes below 0" if signed else ", unnormalised") + ": Keras clips it into (0, 1) and the "
                    "loss and its gradient are wrong; end with "
                    + ("a sigmoid" if kind.endswith("binary_crossentropy") else "a softmax") + " or pass from_logits=True"))
            elif _is_logits_loss(loss) and op.kind in _RECTIFIED:
                self.report(op, Severity.WARNING, Confidence.LIKELY, also=loss.get("origin"), what=(
                    f"{short} takes logits, but {op.describe()} is {_RECTIFIED[op.kind]}: logits clipped at 0 cannot "
                    "make a class unlikely, and units pushed below 0 stop learning; drop the final activation"))

    def _one_unit_softmax(self, graph: ModelGraph, op: Op) -> None:
        """A softmax whose axis has one element: certain where the shape says so, possible where
        it does only if the input has as many dimensions as the axis implies (softmax(dim=1) on
        a Linear(h, 1) whose input rank is unknown: (N, 1) or (N, T, 1))."""
        if not op.inputs:
            return
        x = graph.ops[op.inputs[0]]
        shape = shape_of(x)
        axis = softmax_axis(shape, op.attrs.get("dim"))
        source = graph.unshape(x)
        layer = f"{source.describe()} gives it one unit" if source.kind is OpKind.LINEAR else "its input has one element there"
        if axis_size(graph, x, axis) == 1:
            self.report(op, Severity.ERROR, Confidence.CERTAIN, case=_ONE_UNIT_SOFTMAX, what=(
                f"{op.describe()} normalises a single unit ({layer}, along dim={axis}): "
                "its output is always 1.0 and nothing is learned"))
        elif shape is not None and not shape.ranked and shape.dims and shape.dims[-1] == 1 and \
                isinstance(axis, int) and not isinstance(axis, bool) and axis >= 0:
            self.report(op, Severity.INFO, Confidence.POSSIBLE, case=_ONE_UNIT_SOFTMAX, what=(
                f"{op.describe()} normalises dim={axis}, which is a single unit ({layer}) if its input has "
                f"{axis + 1} dimensions: its output would always be 1.0 (use dim=-1 to say which axis)"))

    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """A softmax over one unit becomes a sigmoid (a binary output); the other mismatches
        change the loss, not the model, and state no remedy yet."""
        from nnlint.trace.remedy import Remedy, to_sigmoid

        if op is None or graph.ops.get(op.id) is not op or fields.get("case") != _ONE_UNIT_SOFTMAX:
            return None
        return Remedy(self.code, f"a sigmoid in place of {op.describe()} over one unit", (self.code, op.id),
                      lambda g: to_sigmoid(g, op.id))

    def confirm(self, evidence: Evidence) -> Verdict:
        """What the mismatch does, measured where a forward pass shows it: a softmax over one
        unit outputs 1.0 for every input; NLL on probabilities goes below 0, which no
        log-probability allows; cross-entropy over one class is 0 with no gradient."""
        missing = evidence.missing()
        if missing:
            return missing
        op, case = evidence.op, evidence.fields.get("case")
        if case == _ONE_UNIT_SOFTMAX:
            s = evidence.layer().train
            seen = f"the outputs of {op.describe()} range over [{s.min:.4g}, {s.max:.4g}]"
            return confirmed(f"{seen}: always 1.0") if s.min == s.max == 1.0 else refuted(seen)
        if case not in (_NLL_ON_PROBABILITIES, _ONE_CLASS):
            return inconclusive("a forward pass does not measure this mismatch")
        written = evidence.trace.written_losses.get(op.id)
        if written is None or written["value"] is None or written["grad"] is None:
            return inconclusive(f"the trace could not evaluate {evidence.fields.get('loss')} on {op.describe()}")
        seen = (f"{evidence.fields.get('loss')} on the outputs of {op.describe()} with random targets is "
                f"{written['value']:.4g}, with a gradient of norm {written['grad']:.3g}")
        if case == _NLL_ON_PROBABILITIES:
            return confirmed(f"{seen}: below 0, which no log-probability gives") if written["value"] < 0 \
                else refuted(seen)
        return confirmed(f"{seen}: nothing to learn") if written["value"] == 0 and written["grad"] == 0 \
            else refuted(seen)


#: The cases whose confirmation is a measurement (the ``case`` field of their findings).
_ONE_UNIT_SOFTMAX, _NLL_ON_PROBABILITIES, _ONE_CLASS = "softmax over one unit", "NLL on probabilities", "one class"
