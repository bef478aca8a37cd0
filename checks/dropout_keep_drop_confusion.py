"""NN007 dropout-keep-drop-confusion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.ir import ModelGraph, Op, OpKind, Origin
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

def _argument(call: Any, index: int, keyword: str) -> Any:
    """The libcst expression passed as a call's argument (duck-typed: no libcst import here)."""
    if type(call).__name__ != "Call":
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[index].value if len(positional) > index else None


def _says_keep(expr: Any) -> bool:
    """A bare name that says keep (``keep_prob``, ``args.keep_rate``); ``1 - keep_prob`` is fine."""
    if expr is None:
        return False  # an ONNX ratio or a missing argument: no libcst to import (120 ms) for it
    from nnlint.frontends.names import dotted  # libcst: only for Python expressions

    name = dotted(expr)
    return name is not None and "keep" in name.rsplit(".", 1)[-1].lower()


def _name(expr: Any) -> str:
    from nnlint.frontends.names import dotted

    return dotted(expr) or "a keep probability"


def _why(api: str) -> str:
    return f"{api} takes the probability of dropping a unit, not of keeping it"


class DropoutKeepDropConfusion(ProgramCheck):
    """
    ## What it does
    Flags a dropout probability of 0.7 or more (option `threshold`) given to an API whose
    argument is the probability of *dropping* a unit (`nn.Dropout(p)`, `F.dropout(x, p)`, the `dropout=` of recurrent and
    transformer layers), and any value passed there through a name that says *keep*.

    ## Why is this bad?
    TF1's `keep_prob` and DL4J's `.dropout(x)` are the probability of keeping a unit; advice
    written for them says "start dropout at 0.75 or 0.9". Copied into PyTorch, `Dropout(0.9)`
    drops 90% of the units and the network barely learns. Values from 0.5 to 0.7 are used on
    purpose in a few architectures (GAT and REINFORCE examples use 0.6) and stay silent.

    ## Example
    ```python
    self.drop = nn.Dropout(0.8)              # meant: keep 80%
    self.drop = nn.Dropout(p=keep_prob)      # a keep probability as the drop probability
    ```

    ## Use instead
    ```python
    self.drop = nn.Dropout(0.2)
    self.drop = nn.Dropout(p=1 - keep_prob)
    ```
    """

    code = "NN007"
    name = "dropout-keep-drop-confusion"
    message = "{layer} {what}; {why}"
    hint = "give each API the probability it expects: a drop probability p = 1 - keep_prob (0.1-0.5 is the usual range)"
    traceable = True
    measures = frozenset({M.DROPOUT})
    reads_sizes = False  # the share of units zeroed holds at any width
    frameworks = ("pytorch", "keras", "onnx")
    options = {"threshold": 0.7}

    bad = [
        Bad(
            """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, keep_prob=0.8):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout(p=keep_prob)

    def forward(self, x):
        return self.fc(self.drop(x))
"""
        ),
        Bad(
            """
import torch.nn.functional as F
from torch import nn

DROPOUT = 0.9

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.rnn = nn.LSTM(10, 20, num_layers=2, dropout=0.75)

    def forward(self, x):
        return self.fc(F.dropout(x, DROPOUT, training=self.training))
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float ratio = {0.9}> {
    y = Dropout(x, ratio)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dropout(0.9), layers.Dense(1)])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
KEEP_PROB = 0.8
model = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.Dropout(rate=KEEP_PROB)])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 784])
h = tf.nn.relu(tf.matmul(x, tf.Variable(tf.random_normal([784, 256], stddev=0.05))))
h = tf.nn.dropout(h, keep_prob=0.3)  # a Keras-style drop rate given as TF1's keep probability
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self, keep_prob=0.8):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout(p=1 - keep_prob)

    def forward(self, x):
        return self.fc(F.dropout(self.drop(x), 0.5, training=self.training))
"""
        ),
        Good(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.Dropout(0.5)])
def layer(x, keep_prob):
    return tf.nn.dropout(x, keep_prob=keep_prob)  # TF1: keep_prob is the keep probability
def tf1_layers(x):
    return tf.nn.dropout(tf.nn.dropout(x, keep_prob=0.8), keep_prob=0.5)  # keeps 80%, then half
""",
            frontend="keras-source",
        ),
        Good(
            """
import torch.nn as nn

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(10, 20, dropout=0.8)  # one layer: no dropout between layers is applied

    def forward(self, x):
        return self.rnn(x)[0]
"""
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """The rate inverted, ``p`` -> ``1 - p``: the keep probability the code meant, as a drop
        probability. Where it is certain (``p >= 1``) the usual 0.5. An ONNX Dropout is run with
        that ``ratio`` instead of the one exported, a Keras one with that ``rate``."""
        from nnlint.trace.remedy import Remedy, set_call, set_keras_arg, set_node_value

        p = op.attrs.get("p") if op is not None else None
        if op is None or graph.ops.get(op.id) is not op or not isinstance(p, (int, float)) or isinstance(p, bool):
            return None
        rate = round(1.0 - p, 6) if p < 1 else 0.5
        if op.type_name.startswith("keras."):
            return Remedy(self.code, f"rate={rate:g} for {op.describe()}", (self.code, op.id),
                          lambda g: set_keras_arg(g, op.id, "rate", rate), keras=True)
        if graph.artifact is not None:
            return Remedy(self.code, f"ratio={rate:g} for {op.describe()}", (self.code, op.id),
                          lambda g: set_node_value(g, op.id, "ratio", rate, attr="p"), onnx=True)
        module = op.type_name.rsplit(".", 1)[-1][:1].isupper()
        said = f"keep_prob={round(1.0 - rate, 6):g}" if "keep_prob" in op.attrs else f"p={rate:g}"
        return Remedy(self.code, f"{said} for {op.describe()}", (self.code, op.id),
                      lambda g: set_call(g, op.id, 0 if module else 1, "p", rate))

    def confirm(self, evidence: Evidence) -> Verdict:
        """The fraction of units the layer zeroes in training mode, and with the rate inverted."""
        from nnlint.trace.evidence import zeroed_by

        missing = evidence.missing()
        if missing:
            return missing
        dropped = zeroed_by(evidence, training=True)
        if dropped is None:
            return inconclusive(evidence.why_not_run or f"{evidence.op.describe()} could not be measured")
        shown = f"in training mode {evidence.op.describe()} zeroed {dropped:.1%} of units"
        if dropped <= 0.5:
            return refuted(shown)
        fixed = evidence.fixed_layer()
        if fixed is not None and fixed.dropped_train is not None and evidence.remedy is not None:
            shown += f"; with {evidence.remedy.what} {fixed.dropped_train:.1%}"
        return confirmed(shown)

    def unmeasurable(self, fields: dict) -> Optional[str]:
        """A rate the analysis has no value for (``Dropout(keep_prob)`` of a function's argument):
        the share of units the layer drops is that value."""
        if fields.get("run_time"):
            return (f"the value of {fields['run_time']} is not known to the analysis (a run-time argument): the "
                    "share of units the layer drops is that value (--trace-import, with the model's arguments set, "
                    "can measure it)")
        return None

    def check(self, program: Program) -> None:
        for layer in program.layers:
            if layer.kind is OpKind.DROPOUT:
                keyword = "rate" if layer.qualname.startswith("keras.") else "p"  # Keras: Dropout(rate)
                expr, p = _argument(layer.node, 0, keyword), layer.attrs.get("p")
            elif "dropout" in layer.attrs:
                if layer.qualname.startswith("torch.nn.") and layer.short in ("LSTM", "GRU", "RNN") \
                        and layer.attrs.get("num_layers", 1) == 1:
                    continue  # one layer: PyTorch applies no dropout between layers (and warns)
                index = {"MultiheadAttention": 2, "TransformerEncoderLayer": 3, "TransformerDecoderLayer": 3}.get(layer.short, 99)
                expr, p = _argument(layer.node, index, "dropout"), layer.attrs.get("dropout")
            else:
                continue
            self._judge(Origin(layer.path, layer.node), layer.full_label, layer.short, expr, p)
        for graph in program.graphs:
            quiet: set[int] = set()  # ids of ONNX Dropouts' attrs that gave no finding
            for op in graph.find(OpKind.DROPOUT):
                if id(op.attrs) in quiet:
                    continue  # Dropouts of one ratio input share their attrs (the ONNX frontend): one verdict
                origin = op.origin  # an ONNX node's op makes it anew each time
                if origin is not None and origin.graph_node is not None:  # an ONNX Dropout node
                    if not self._judge(origin, op.describe, "ONNX Dropout (ratio)", None, op.attrs.get("p")):
                        quiet.add(id(op.attrs))
                elif op.attrs.get("keep_placeholder"):
                    continue  # TF1's tf.nn.dropout(h, keep_prob) with a fed placeholder: a keep probability, rightly
                elif isinstance(op.attrs.get("keep_prob"), (int, float)):
                    self._judge_keep(op)
                elif ".functional." in op.type_name or op.type_name.startswith(("torch.dropout", "tensorflow.nn.dropout")):
                    node = op.origin.node if op.origin else None
                    self._judge(op.origin, lambda: op.type_name.rsplit(".", 1)[-1], op.type_name.replace("torch.nn.functional", "F"),
                                _argument(node, 1, "p"), op.attrs.get("p"))

    def _judge_keep(self, op: Op) -> None:
        """TF1's ``tf.nn.dropout(h, keep_prob=0.3)``: the keep probability, spelled so, but a
        value that keeps few units is a drop rate given where a keep probability goes (the
        confusion the other way round: Keras' ``Dropout(0.3)`` written as TF1's keep_prob)."""
        keep = op.attrs["keep_prob"]
        if isinstance(keep, bool) or not 0 <= keep <= 1 - self.opts["threshold"]:
            return
        severity, confidence = (Severity.ERROR, Confidence.CERTAIN) if keep <= 0 else (Severity.WARNING, Confidence.LIKELY)
        self.report(op.origin, severity, confidence, layer=op.type_name.rsplit(".", 1)[-1],
                    what=f"keeps only {keep:.0%} of units (keep_prob={keep:g}: it drops {1 - keep:.0%})",
                    why=f"keep_prob is the probability of keeping a unit, so a drop rate of {keep:g} is "
                        f"keep_prob={1 - keep:g}")

    def _judge(self, origin: Optional[Origin], layer: Callable[[], str], api: str, expr: Any, p: Any) -> bool:
        """True when reported. ``layer`` names the layer; it is asked only for a finding (a graph
        may hold 100,000 Dropouts)."""
        if origin is None:
            return False
        number = p if isinstance(p, (int, float)) and not isinstance(p, bool) else None
        if _says_keep(expr) and number != 0.5:
            shown = f"{number:.0%}" if number is not None else "a keep probability's share"
            # the name says keep; the value confirms it only when it drops most units
            sure = number is not None and number >= self.opts["threshold"]
            self.report(origin, *((Severity.WARNING, Confidence.LIKELY) if sure else (Severity.INFO, Confidence.POSSIBLE)),
                        layer=layer(), why=_why(api), what=f"is given {_name(expr)} as its drop probability (drops {shown} of units)",
                        **({} if number is not None else {"run_time": _name(expr)}))
        elif number is None or number < self.opts["threshold"]:
            return False
        elif number >= 1:
            self.report(origin, Severity.ERROR, Confidence.CERTAIN, layer=layer(), why=_why(api),
                        what=f"drops {number:.0%} of units: nothing gets through in training")
        elif number >= self.opts["threshold"]:
            self.report(origin, Severity.WARNING, Confidence.LIKELY, layer=layer(), why=_why(api),
                        what=f"drops {number:.0%} of units")
        else:
            return False  # NaN
        return True
