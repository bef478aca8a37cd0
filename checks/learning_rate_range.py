"""NN105 learning-rate-range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.ir import WEIGHTED, ModelGraph, OpKind, Origin
from nnlint.ir.weights import hidden_weights, weight_count
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import (
    HEALTHY_UPDATE,
    Verdict,
    confirmed,
    inconclusive,
    refuted,
)

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

#: Learning rates each optimizer tolerates, (lowest, highest); beyond them training stalls or diverges.
_RANGES = {
    "Adam": (1e-6, 0.05), "AdamW": (1e-6, 0.05), "Adamax": (1e-6, 0.1), "NAdam": (1e-6, 0.05),
    "RAdam": (1e-6, 0.05), "SparseAdam": (1e-6, 0.05), "RMSprop": (1e-6, 0.05),
    "SGD": (1e-6, 1.0), "ASGD": (1e-6, 1.0), "Adagrad": (1e-6, 1.0), "Adadelta": (1e-3, 10.0), "Nadam": (1e-6, 0.05), "Lion": (1e-7, 1e-3),
}

#: The learning rate the remedy sets: each optimizer's usual default (Adam's 1e-3, SGD's 1e-2).
_SANE = {"SGD": 1e-2, "ASGD": 1e-2, "Adagrad": 1e-2, "Adadelta": 1.0, "Lion": 1e-4}


def _set_lr(graph: ModelGraph, optimizer: str, lr: float, sane: float) -> None:
    """The declared optimizer's learning rate set to ``sane`` in a graph copy's setup."""
    for record in graph.setup.optimizers:
        if record.get("type_name", "").rsplit(".", 1)[-1] == optimizer and record.get("lr") == lr:
            record["lr"] = sane


def _toy(optimizer: dict, model: Optional[ModelGraph]) -> Optional[str]:
    """What makes the trained model a toy (one weighted layer, or a few dozen weights), or None.

    Logistic regression, a one-layer toy or a line fit of 33 weights with Adam at 0.1 is a
    tutorial default that converges; the threshold is about deep models. A model nnlint does not
    see whole (an unknown module might hold any number of weights) is not a toy.
    """
    if optimizer.get("param_layer") in _WEIGHTED:
        return "a one-layer model"
    if model is None or not model.complete or not model.top_level:
        return None
    if hidden_weights(model):
        return None
    sized = weight_count(model)
    if sized is not None and sized[0] <= _TOY_WEIGHTS and sized[1] <= _TOY_WIDTH:
        return f"a model of {sized[0]} weights"
    layers = list(model.find(*_WEIGHTED))
    distinct = {op.attrs.get("module", ("op", op.id)) for op in layers}  # a layer called twice is one layer
    if len(distinct) != 1 or layers[0].kind is OpKind.RNN:  # a recurrent layer is deep in time
        return None
    fed_by = model.walk_backward(layers[0], lambda op: op.kind is not OpKind.INPUT)
    if fed_by and all(op.kind is OpKind.INPUT for op in fed_by):  # the model's input, through known ops
        return f"a one-layer model ({layers[0].describe()})"
    return None


#: A toy tolerates rates up to this many times its optimizer's range (Adam at 0.1 or 0.2);
#: beyond that, even a toy's steps overshoot.
_TOY_FACTOR = 4

#: A model with at most this many trained weights, none of its layers wider than _TOY_WIDTH,
#: is a toy whatever its depth (a three-layer line fit, a five-unit character RNN).
_TOY_WEIGHTS = 200
_TOY_WIDTH = 10

#: Layers with trained weights; a model with one of them is shallow enough for large steps.
_WEIGHTED = (*WEIGHTED, OpKind.EMBEDDING, OpKind.RNN)


class LearningRateRange(ProgramCheck):
    """
    ## What it does
    Flags a learning rate outside what its optimizer tolerates: above 0.05 for Adam, AdamW,
    NAdam, RAdam and RMSprop (0.1 for Adamax); above 1.0 for Adagrad; outside 1e-3..10 for
    Adadelta; below 1e-6 for all of them. SGD above 1.0 is `info` and only when no gradient
    clipping is in sight (`clip_grad_norm_`, `Trainer(gradient_clip_val=...)`). LBFGS, which
    line-searches its step, is not checked. A rate above the range, but at most four times its
    top, is `info` on a toy: a model with one weighted layer, or with at most 200 weights and
    no layer wider than 10 features, every layer's size being static (logistic regression, a
    tutorial's line fit, a five-unit character RNN). Such small models converge at rates that
    make deep ones diverge.

    Where something else sets the lr, the constructor's value is not the one used: a torch
    `LambdaLR`, a per-step `param_groups[...]["lr"] = ...` assignment, a Keras
    `LearningRateScheduler` whose function ignores the current lr. Those are not judged;
    `OneCycleLR` and `CyclicLR` are judged by their `max_lr`. An optimizer over plain tensors
    (`Adam([latent] + noises)`, style transfer's `LBFGS([image])`, an adversarial
    perturbation; in TF1, a `minimize` whose loss reads variables only as data, never as a
    layer's weights) is skipped: the ranges are about network weights. In a file that sweeps the
    lr (a range test: a schedule growing as a power of the epoch, an lr finder) the other
    optimizers' findings are `info`, since their lr may have been read off the sweep.

    ## Why is this bad?
    Too large a step overshoots: the loss oscillates or explodes to NaN. Too small a step
    barely moves the weights, and the run looks like a plateau. Good starting points are
    about 1e-3 for Adam and 0.1 to 0.01 for SGD with momentum. The range is per optimizer:
    Adadelta's default 1.0 is normal (pytorch/examples' MNIST uses it), and plain SGD at
    lr 20 with gradient clipping is the classic word-language-model recipe.

    ## Example
    ```python
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```
    """

    code = "NN105"
    name = "learning-rate-range"
    message = "{optimizer} with lr={lr:g}: {why}"
    hint = "start near 1e-3 for Adam-type optimizers and 0.01-0.1 for SGD with momentum"
    traceable = True
    measures = frozenset({M.STEP})
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch
model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
"""
        ),
        Bad(
            """
import argparse
from torch import nn, optim
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-8)
args = parser.parse_args()
net = nn.Linear(3, 1)
opt = optim.SGD(net.parameters(), args.lr, momentum=0.9)
"""
        ),
        Bad(
            """
import keras
model = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.3), loss="mse")
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.RMSprop(1e-8), loss="mse")
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch
from torch import nn
model = nn.Linear(3, 1)
a = torch.optim.Adadelta(model.parameters(), lr=1.0)
b = torch.optim.LBFGS(model.parameters(), lr=0.8)
c = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1)
"""
        ),
        Good(
            """
import torch
from torch import nn
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=20)
def step(loss):
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
"""
        ),
        Good(
            """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="mse")
model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="mse")
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[object], fields: dict) -> Optional[Remedy]:
        """The optimizer's usual learning rate (1e-3 for Adam and its kin, 1e-2 for SGD)."""
        from nnlint.trace.remedy import Remedy

        optimizer, lr = fields.get("optimizer"), fields.get("lr")
        if optimizer not in _RANGES or not isinstance(lr, (int, float)):
            return None  # a schedule's peak ("Adam under OneCycleLR"): the schedule sets the rate
        sane = _SANE.get(optimizer, 1e-3)
        return Remedy(self.code, f"lr={sane:g}", (self.code, optimizer, lr), lambda g: _set_lr(g, optimizer, lr, sane))

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """With no gradient (a final ReLU dead on every sample) a step moves nothing at any rate."""
        from nnlint.trace.evidence import no_gradient

        return no_gradient(evidence.trace)

    def confirm(self, evidence: Evidence) -> Verdict:
        """One step of the declared optimizer: the median update-to-parameter ratio over the
        layers, against the healthy 1e-4..1e-2."""
        missing = evidence.missing(need_op=False)
        if missing:
            return missing
        trace = evidence.trace
        optimizer, lr = evidence.fields.get("optimizer"), evidence.fields.get("lr")
        if not trace.optimizer or not trace.optimizer.startswith(f"{optimizer}(") or f"lr={lr:g}" not in trace.optimizer:
            why = f": {evidence.why_not_run}" if evidence.why_not_run else ""
            return inconclusive(f"the trace could not take a step with {optimizer}(lr={lr:g}){why}")
        ratios = sorted(r.update_ratio for r in trace.layers.values() if r.update_ratio is not None)
        if not ratios:
            return inconclusive("no layer's weights were updated by the step")
        median = ratios[len(ratios) // 2]
        low, high = HEALTHY_UPDATE
        shown = f"one {trace.optimizer} step moves the weights by {median:.2g} of their size (median over layers)"
        too_high = "above" in evidence.fields.get("why", "")
        if (too_high and median > high) or (not too_high and median < low):
            fixed = evidence.fixed
            after = sorted(r.update_ratio for r in fixed.layers.values() if r.update_ratio is not None) if fixed else []
            if after and evidence.remedy is not None:
                return confirmed(f"{shown}, outside the healthy {low:g}..{high:g}; with {evidence.remedy.what} "
                                 f"{after[len(after) // 2]:.2g}")
            return confirmed(f"{shown}, outside the healthy {low:g}..{high:g}")
        return refuted(f"{shown}, inside or on the other side of the healthy {low:g}..{high:g}")

    def check(self, program: Program) -> None:
        models = {id(record): graph for graph in program.models() for record in graph.setup.optimizers}
        only = program.single_model()
        for record in program.setup.optimizers:
            if only is not None:
                models.setdefault(id(record), only)
        swept = any(s["sweep"] for s in program.lr_schedules)
        for optimizer in program.optimizers():
            kind = optimizer["type_name"].rsplit(".", 1)[-1]
            if kind not in _RANGES or optimizer.get("tensors"):
                continue  # tensors (inputs, latents, perturbations): the ranges are about network weights
            lr, origin, label = optimizer["lr"], optimizer["origin"], kind
            schedule = program.lr_schedule_of(optimizer)
            if schedule is not None:  # the schedule sets the lr: only a peak it declares can be judged
                lr, origin, label = schedule["max_lr"], schedule["origin"], f"{kind} under {schedule['how']} (max_lr)"
            if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0:
                self._judge(origin, kind, label, lr, program.clips_gradients, swept and schedule is None,
                            _toy(optimizer, models.get(id(optimizer))))

    def _judge(self, origin: Origin, kind: str, label: str, lr: float, clipped: bool, swept: bool,
               toy: Optional[str]) -> None:
        """Report ``lr`` outside ``kind``'s range; as info on a toy model, or where the file sweeps
        the lr (the value may be read off it)."""
        low, high = _RANGES[kind]
        severity, confidence = (Severity.INFO, Confidence.POSSIBLE) if swept else (None, None)
        tail = "; the file sweeps the lr (a range test), so this value may come from it" if swept else ""
        if lr > high and kind in ("SGD", "ASGD"):
            if not clipped:  # large SGD steps with clipping are a known recipe
                self.report(origin, Severity.INFO, Confidence.POSSIBLE, optimizer=label, lr=lr,
                            why=f"above {high:g}, which diverges unless gradients are clipped (none seen here){tail}")
        elif high < lr <= _TOY_FACTOR * high and toy is not None:
            self.report(origin, Severity.INFO, Confidence.POSSIBLE, optimizer=label, lr=lr,
                        why=f"above the {high:g} that {kind} tolerates in a deep model; {toy} often trains "
                            f"at this rate, but a deeper model would oscillate or diverge{tail}")
        elif lr > high:
            self.report(origin, severity, confidence, optimizer=label, lr=lr,
                        why=f"above the {high:g} that {kind} tolerates: the loss oscillates or diverges to NaN{tail}")
        elif lr < low:
            self.report(origin, severity, confidence, optimizer=label, lr=lr,
                        why=f"below {low:g}: the weights barely move and training looks stuck{tail}")
