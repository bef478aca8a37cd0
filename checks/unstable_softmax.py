"""NN002 unstable-softmax."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.ir.kinds import WEIGHTED
from nnlint.ir.signs import NONPOS, sign
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import EXP_LIMIT, Verdict, confirmed, inconclusive, refuted

#: Logits that grow less than this many times while the inputs grow 1000 times are capped by
#: the model (a tanh or sigmoid before the last layer), not moved by the input sweep.
SATURATED = 10.0
#: how many times the weights of the layer computing such capped logits are grown instead: as
#: far as the input sweep goes (x1000), for the part of the model the sweep cannot move
GROWN = 1000.0
#: The spread of logits at which a float32 softmax's smallest probability underflows to 0
#: (exp(-104) is below float32's least subnormal, 1.4e-45): a sweep whose logits never span it
#: could not have shown the underflow, so it refutes nothing.
UNDERFLOW_SPREAD = 104.0

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_BOUNDED_INPUTS = {OpKind.SIGMOID, OpKind.TANH, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.LOGSUMEXP}


class UnstableSoftmax(GraphCheck):
    """
    ## What it does
    Flags exponentials that overflow and logarithms that underflow: a softmax written by hand
    as `exp(x) / exp(x).sum()` without subtracting the maximum, `log(softmax(x))` instead of
    `log_softmax(x)`, and ReLU outputs fed straight into a softmax or an `exp`. The hand-written
    softmax is read through a mask or weight (`exp(x) * mask / (exp(x) * mask).sum()`), a
    temperature (`exp(x / T)`), an epsilon in the denominator, `torch.div` and in-place
    spellings (`x.exp_(); x /= x.sum(1, keepdim=True)`). An exponent minus a value nnlint
    cannot see (a caller's argument, an unknown call) may be minus the maximum: silent. Over
    what a model returns (a helper applied to `model(x)` in training code) the exponent is read
    through the model: flagged where the model returns a layer's logits (a `Linear`'s output),
    silent where it ends in anything else (a scaled tanh, a cosine, a distance). The log is
    followed through picks by index (`probs.gather(1, actions)`, `probs[action]`) and into
    the model training code calls (`torch.log(policy(state))` where the policy's `forward`
    ends in a softmax), as policy-gradient losses write it, and into a Keras loss written by
    hand (`compile(loss=fn)` runs `fn(y_true, y_pred)` on the model's predictions, so
    `K.log(y_pred)` is a log of its last layer). A probability kept off zero (`+ 1e-8`,
    `.clamp(min=...)`, `K.clip(...)`, in place too) and the largest probability (at least 1/n)
    are silent; a clamp that keeps it off 1 only (`.clamp(max=1 - 1e-20)`) is not a guard.

    ## Why is this bad?
    In float32, `exp` overflows to `inf` for any input above about 88.7, and `inf / inf` is
    NaN: one large logit turns every weight into NaN after the next step. `softmax` rounds
    small probabilities to 0, and `log(0)` is `-inf`. A ReLU in front of a softmax clips
    every logit at zero (the model cannot say "certainly not") and leaves them unbounded above.

    ## Example
    ```python
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    log_probs = torch.log(F.softmax(logits, dim=1))
    ```

    ## Use instead
    ```python
    probs = F.softmax(logits, dim=1)          # subtracts the max internally
    log_probs = F.log_softmax(logits, dim=1)  # or torch.logsumexp
    ```
    """

    code = "NN002"
    name = "unstable-softmax"
    message = "{what}"
    hint = "use F.softmax / F.log_softmax / torch.logsumexp, which subtract the maximum first"
    traceable = True
    measures = frozenset({M.SWEEP})
    reads_sizes = False  # overflow is read against the remedy at the same width
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch

def softmax(x):
    e = torch.exp(x)
    return e / e.sum(dim=-1, keepdim=True)
"""
        ),
        Bad(
            """
import torch

def attention(scores, mask):
    w = torch.exp(scores) * mask
    return w / w.sum(dim=-1, keepdim=True)
"""
        ),
        Bad(
            """
import torch
import torch.nn.functional as F

def nll(logits, target):
    return -torch.log(F.softmax(logits, dim=1)).gather(1, target)
"""
        ),
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 4)

    def forward(self, x):
        return F.softmax(F.relu(self.fc(x)), dim=1)
"""
        ),
        Bad(
            """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 128)
        self.head = nn.Linear(128, 2)

    def forward(self, state):
        return F.softmax(self.head(F.relu(self.hidden(state))), dim=1)

def reinforce_loss(policy, states, actions, returns):
    probs = policy(states)
    picked = probs.gather(1, actions.unsqueeze(1)).squeeze(1)
    return -(torch.log(picked) * returns).mean()

policy = Policy()
reinforce_loss(policy, torch.randn(8, 4), torch.zeros(8, dtype=torch.long), torch.ones(8))
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) {
    p = Softmax(x)
    y = Log(p)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import tensorflow as tf

def softmax(logits):
    e = tf.exp(logits)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)
""",
            frontend="keras-source",
        ),
        Bad(
            """
import keras

def log_probs(logits):
    return keras.ops.log(keras.ops.softmax(logits))
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch

def attention(scores, mask):
    top, _ = torch.max(scores, dim=-1, keepdim=True)
    w = torch.exp(scores - top) * mask
    return w / w.sum(dim=-1, keepdim=True)
"""
        ),
        Good(
            """
import torch

def softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
"""
        ),
        Good(
            """
import torch
import torch.nn.functional as F

def log_probs(logits):
    a = F.log_softmax(logits, dim=1)
    b = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    c = torch.log(F.softmax(logits, dim=1) + 1e-8)  # clamped away from zero
    return a, b, c
"""
        ),
        Good(
            """
import torch
import torch.nn as nn
from torch.distributions import Categorical

def losses(policy, states, actions):
    probs = policy(states)
    clamped = torch.log(probs.gather(1, actions).clamp(min=1e-8))
    shifted = torch.log(probs[:, 0] + 1e-8)
    greedy = torch.log(probs.max(1)[0])  # the largest probability is at least 1/n
    sampled = Categorical(probs).log_prob(actions)
    return clamped, shifted, greedy, sampled

policy = nn.Sequential(nn.Linear(4, 128), nn.ReLU(), nn.Linear(128, 2), nn.Softmax(dim=1))
losses(policy, torch.randn(8, 4), torch.zeros(8, 1, dtype=torch.long))
"""
        ),
        Good(
            """
import tensorflow as tf

def log_probs(logits):
    return tf.nn.log_softmax(logits) + 0 * tf.math.reduce_logsumexp(logits)
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """``log_softmax`` for ``log(softmax)``; the ReLU removed before a softmax or an exp.
        None for a hand-written softmax (its rewrite depends on the axis it sums over)."""
        from nnlint.trace.remedy import Remedy, keras_function, swap_function, to_identity

        if op is None or graph.ops.get(op.id) is not op:
            return None
        source = _source(graph, op)
        if source is None or len(graph.consumers(source)) != 1:
            return None  # the softmax, ReLU or model call feeds something else too, which its rewrite would change
        model = source.attrs.get("model_call") if op.kind is OpKind.LOG else None
        # log(policy(s).gather(1, a)): the model returns log_softmax instead (not a model calling a model)
        reached, softmax = graph.computed_by(source) if model is not None else (graph, source)
        if op.kind is OpKind.LOG and softmax.kind is OpKind.SOFTMAX and reached is (graph if model is None else model):
            def edit(g: ModelGraph) -> None:
                _in_softmax_graph(g, op.id, lambda m, sm: swap_function(m, sm.id, OpKind.LOG_SOFTMAX, "LogSoftmax",
                                                                        "log_softmax"))
                to_identity(g, op.id)
            where = f" in {model.name}" if model is not None else ""
            return Remedy(self.code, f"log_softmax in place of log({softmax.describe()}){where}", (self.code, op.id), edit,
                          keras=keras_function(softmax))
        if op.kind in (OpKind.SOFTMAX, OpKind.EXP) and source.kind is OpKind.RELU:
            return Remedy(self.code, f"{source.describe()} removed before {op.describe()}", (self.code, op.id),
                          lambda g: to_identity(g, source.id))
        return None

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """A log or exp of a constant (a softmax over one unit is 1.0) never overflows at any scale."""
        from nnlint.trace.evidence import constant_input

        return constant_input(evidence)

    def confirm(self, evidence: Evidence) -> Verdict:
        """The input-scale sweep (x1 to x1000): the first scale at which the expression stops
        being finite, or, for a ReLU feeding a softmax, at which its logits pass exp's 88.7."""
        missing = evidence.missing()
        if missing:
            return missing
        op, trace = evidence.op, evidence.trace
        if op.kind in (OpKind.SOFTMAX, OpKind.EXP) and op.inputs:
            logits = op.inputs[0]
            for probe in trace.scales:
                peak = probe.max_abs.get(logits)
                if logits in probe.nonfinite or (peak is not None and peak > EXP_LIMIT):
                    shown = "inf" if peak is None else f"{peak:.1f}"
                    return confirmed(f"at input scale x{probe.scale:g} the ReLU outputs feeding {op.describe()} reach "
                                     f"{shown}, past float32 exp's limit of {EXP_LIMIT}")
            stuck = _unmoved(trace.scales, logits, f"the logits feeding {op.describe()}")
            if stuck is not None:
                return inconclusive(f"{stuck}: the measurement cannot show the problem")
            return refuted(f"the logits feeding {op.describe()} stay below {EXP_LIMIT} up to input scale "
                           f"x{trace.scales[-1].scale:g}" if trace.scales else "no scale sweep ran")
        if op.kind is OpKind.LOG and op.inputs:
            taken = trace.layers.get(op.inputs[0])
            if taken is None or taken.train is None or taken.train.min < 0:
                # a log fed a stand-in (the part after an op the trace cannot rebuild, fed random
                # values) goes NaN on negative inputs: that measures no softmax's underflow
                return inconclusive(f"the values {op.describe()} takes were not traced as probabilities: "
                                    "what computes them was not rebuilt")
        for probe in trace.scales:
            if op.id in probe.nonfinite:
                first = probe.first_nonfinite
                name = trace.layers[first].name if first in trace.layers else "an earlier op"
                shown = f"at input scale x{probe.scale:g} {op.describe()} outputs Inf/NaN (first non-finite value: {name})"
                fixed = evidence.fixed
                if fixed is None or evidence.remedy is None:
                    return confirmed(shown)
                if any(op.id in p.nonfinite for p in fixed.scales):
                    return inconclusive(f"{shown}, and with {evidence.remedy.what} as well: the Inf/NaN comes from "
                                        "before it")
                return confirmed(f"{shown}; with {evidence.remedy.what} it stays finite up to x{fixed.scales[-1].scale:g}"
                                 if fixed.scales else shown)
        bounded = _bounded_logits(evidence.graph, op, trace.scales)
        if bounded is not None:  # the sweep could not push the logits: no valid measurement
            grown = _with_grown_logits(evidence, op)
            return grown or inconclusive(f"{op.describe()} stays finite up to input scale x{trace.scales[-1].scale:g}, "
                                         f"but {bounded}: only trained weights push them further")
        exponent = _exponent(evidence.graph, op)
        named = "" if exponent is None or exponent.kind is OpKind.IDENTITY else f" {exponent.describe()}"  # (a model call)
        stuck = _unmoved(trace.scales, exponent.id, f"the exponent{named}") if exponent else None
        if stuck is not None:
            return inconclusive(f"{op.describe()} stays finite up to input scale x{trace.scales[-1].scale:g}, but "
                                f"{stuck}: the measurement cannot show the problem")
        return refuted(f"{op.describe()} stays finite up to input scale x{trace.scales[-1].scale:g}"
                       if trace.scales else "no scale sweep ran")

    def check(self, graph: ModelGraph) -> None:
        for op in graph.find(OpKind.LOG):
            if not op.inputs:
                continue
            model, source = _probabilities(graph, graph.ops[op.inputs[0]])
            if source.kind is not OpKind.SOFTMAX:
                continue
            if model is graph:
                self.report(op, what=f"log of {source.describe()} underflows to -inf for small probabilities; "
                                     "use log_softmax")
            else:  # training code's log of what a model returns: the model ends in the softmax
                self.report(op, what=f"log of {model.name}'s output, which ends in {source.describe()}, underflows "
                                     "to -inf for small probabilities; return the logits and use log_softmax")
        for op in graph.find(OpKind.DIV):
            if len(op.inputs) != 2:
                continue
            numerator, denominator = (graph.unshape(graph.ops[i]) for i in op.inputs)
            numerator, denominator = _exp_of(graph, numerator), _sum_of(graph, denominator)
            if numerator is None or denominator is None:
                continue
            summed = _exp_of(graph, _source(graph, denominator))
            if summed is not None and _unbounded(graph, numerator):
                self.report(op, what="softmax written as exp(x) / sum(exp(x)) without subtracting the maximum: "
                                     "exp overflows to inf above 88.7 in float32 and the division gives NaN")
        for op in graph.find(OpKind.SOFTMAX, OpKind.EXP):
            source = _source(graph, op, also=(OpKind.DROPOUT,))
            if source is not None and source.kind is OpKind.RELU:
                target = "Softmax" if op.kind is OpKind.SOFTMAX else "exp"
                self.report(op, what=f"{source.describe()} feeds {target} directly: the logits are clipped at 0 and "
                                     "unbounded above, so exp overflows on large activations; drop the ReLU")


def _with_grown_logits(evidence: Evidence, op: Op) -> Optional[Verdict]:
    """Where a saturating layer caps the logits whatever the input (a tanh before the last
    Linear), or layers initialised very small keep them near 0, the experiment is the one training runs: the weights of the layer computing the
    logits grown GROWN-fold, the log against its remedy at the same weights. None where that
    layer is not a weighted one, the model cannot be rebuilt with edits, or the log stays finite
    even so (the caller's inconclusive verdict stands)."""
    from nnlint.trace.remedy import Remedy

    graph = evidence.graph
    source = _source(graph, op) if graph is not None and op.kind is OpKind.LOG else None
    if evidence.variant is None or source is None or source.kind is not OpKind.SOFTMAX or not source.inputs:
        return None
    logits = graph.unshape(graph.ops[source.inputs[0]])
    if logits.kind not in WEIGHTED:
        return None
    grow = Remedy("NN002", f"{logits.describe()}'s weights x{GROWN:g}", ("NN002", "grown", op.id),
                  lambda g: _grow_logits(g, op.id))
    grown = evidence.variant((grow,))
    first = next((p for p in grown.scales if op.id in p.nonfinite), None) if grown is not None else None
    if first is None:
        return None
    shown = (f"with {grow.what} (as training grows them: the input sweep alone does not spread the logits that far), "
             f"{op.describe()} outputs Inf/NaN at input scale x{first.scale:g}")
    fixed = evidence.variant((evidence.remedy, grow)) if evidence.remedy is not None else None
    if fixed is None:
        return confirmed(shown)
    if any(op.id in p.nonfinite for p in fixed.scales):
        return inconclusive(f"{shown}, and with {evidence.remedy.what} as well: the Inf/NaN comes from before it")
    return confirmed(f"{shown}; with {evidence.remedy.what} it stays finite")


def _grow_logits(graph: ModelGraph, log_id: int) -> None:
    """The edit behind :func:`_with_grown_logits`, on the IR: the layer computing the logits of
    the softmax the log reads (a log_softmax with the remedy applied)."""
    from nnlint.trace.remedy import scale_weights

    def grow(g: ModelGraph, softmax: Optional[Op]) -> None:
        if softmax is None or softmax.kind not in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX) or not softmax.inputs:
            raise ValueError("no softmax to grow the logits of")
        logits = g.unshape(g.ops[softmax.inputs[0]])
        if logits.kind not in WEIGHTED:
            raise ValueError("the logits are not a weighted layer's")
        scale_weights(g, logits.id, GROWN)

    _in_softmax_graph(graph, log_id, grow)


def _in_softmax_graph(graph: ModelGraph, log_id: int, edit: Callable[[ModelGraph, Optional[Op]], None]) -> None:
    """``edit(g, softmax)`` on the graph holding the softmax the log reads: this one, or a copy
    of the model a call in training code runs (``torch.log(policy(s).gather(1, a))``)."""
    from nnlint.trace.remedy import edit_called_model

    source = _source(graph, graph.ops[log_id])
    if source is not None and isinstance(source.attrs.get("model_call"), ModelGraph):
        edit_called_model(graph, source.id, lambda m: edit(m, m.computed_by(m.ops[m.outputs[0]])[1]))
    else:
        edit(graph, source)


def _bounded_logits(graph: Optional[ModelGraph], op: Op, scales: list) -> Optional[str]:
    """Why the input sweep cannot show a log(softmax) underflow: the logits feeding the softmax
    did not grow with the inputs (a tanh or sigmoid before the last layer caps them, whatever
    the input: :func:`_unmoved`), or never spanned enough for exp to underflow even at the
    sweep's end (layers initialised so small that a thousandfold input stays near 0); None
    when they grew with the input that far."""
    source = _source(graph, op) if graph is not None and graph.ops.get(op.id) is op else None
    if source is None or source.kind is not OpKind.SOFTMAX or not source.inputs:
        return None
    what = f"the logits feeding {source.describe()}"
    stuck = _unmoved(scales, source.inputs[0], what)
    last = scales[-1].max_abs.get(source.inputs[0]) if scales else None
    if stuck is None and last is not None and 2 * last < UNDERFLOW_SPREAD:
        return (f"{what} stay within +-{last:.3g} at x{scales[-1].scale:g}, short of the spread of "
                f"{UNDERFLOW_SPREAD:g} at which exp underflows")
    return stuck


def _unmoved(scales: list, value: int, what: str) -> Optional[str]:
    """Why the input sweep says nothing about ``value``: it grew less than SATURATED times
    while the inputs grew a thousandfold (logits computed from token ids through embeddings,
    from a saturating layer); None when it grew with the input, or was not measured."""
    if len(scales) < 2:
        return None
    first, last = scales[0].max_abs.get(value), scales[-1].max_abs.get(value)
    if first is None or last is None or last > SATURATED * max(first, 1e-12):
        return None
    return (f"{what} stays within +-{last:.3g} at x{scales[-1].scale:g} (+-{first:.3g} at x{scales[0].scale:g}): "
            "scaling the inputs does not move it")


def _exponent(graph: Optional[ModelGraph], op: Op) -> Optional[Op]:
    """The value a hand-written softmax ``exp(x) / sum(exp(x))`` exponentiates (its numerator's
    ``x``); None for any other op."""
    if graph is None or graph.ops.get(op.id) is not op or op.kind is not OpKind.DIV or len(op.inputs) != 2:
        return None
    exp = _exp_of(graph, graph.unshape(graph.ops[op.inputs[0]]))
    return graph.ops[exp.inputs[0]] if exp is not None and exp.inputs else None


def _probabilities(graph: ModelGraph, op: Op) -> tuple[ModelGraph, Op]:
    """What computed the values ``op`` takes (:meth:`ModelGraph.computed_by`), also through
    clamps that leave a zero at zero: ``.clamp(max=1 - 1e-20)`` keeps a probability off 1, not
    off 0, and so does a floor at or below 0 (``clip(0, 1)``)."""
    model, source = graph.computed_by(op)
    for _ in range(8):  # clamps of clamps: bounded
        if not _keeps_zero(source):
            break
        model, source = model.computed_by(model.ops[source.inputs[0]])
    return model, source


def _keeps_zero(op: Op) -> bool:
    """A clamp whose floor (``attrs["floor"]``, which frontends record) is absent or at most 0;
    a floor known only at run time, not recorded, may be above 0."""
    if "floor" not in op.attrs or not op.inputs:
        return False
    return op.attrs["floor"] is None or op.attrs["floor"] <= 0


def _source(graph: ModelGraph, op: Op, also: tuple[OpKind, ...] = ()) -> Optional[Op]:
    """The op computing the first input of ``op``, through reshapes; None without inputs."""
    return graph.unshape(graph.ops[op.inputs[0]], also) if op.inputs else None


def _exp_of(graph: ModelGraph, op: Optional[Op]) -> Optional[Op]:
    """The exp behind ``op``: the exp itself, or an exp multiplied by a mask or a weight
    (``exp(x) * mask``); None otherwise."""
    if op is None:
        return None
    if op.kind is OpKind.EXP:
        return op
    if op.kind is OpKind.MUL:
        exps = [o for o in (graph.unshape(graph.ops[i]) for i in op.inputs) if o.kind is OpKind.EXP]
        return exps[0] if len(exps) == 1 else None
    return None


def _sum_of(graph: ModelGraph, op: Op) -> Optional[Op]:
    """The sum a softmax divides by: ``e.sum(1)``, or that sum plus a constant (``+ 1e-8``
    keeps 0 away, not inf)."""
    if op.kind is OpKind.REDUCE_SUM:
        return op
    if op.kind is OpKind.ADD and len(op.inputs) == 1 and isinstance(op.attrs.get("const"), (int, float)):
        inner = graph.unshape(graph.ops[op.inputs[0]])
        return inner if inner.kind is OpKind.REDUCE_SUM else None
    return None


def _unbounded(graph: ModelGraph, exp: Op) -> bool:
    """Whether the exponent can grow without bound: not x - max(x), not a bounded activation.

    An exponent computed by something nnlint does not know (a clamp, a helper) counts as
    bounded: unknown means silent.
    """
    if exp.inputs and sign(graph, graph.ops[exp.inputs[0]]) == NONPOS:
        return False  # exp(-x.abs()), exp(-0.5 * z ** 2): never above 1
    arg = _source(graph, exp)
    if arg is not None and arg.kind is OpKind.UNKNOWN:
        model, out = graph.computed_by(arg)
        if model is not graph:  # what a model returns (softmax(model(x)) by hand): unbounded when it is
            return out.kind in WEIGHTED  # a layer's logits; a scaled tanh, a cosine or a distance may be bounded
    if arg is None or arg.kind in _BOUNDED_INPUTS or arg.kind is OpKind.UNKNOWN:
        return False
    if arg.kind is OpKind.SUB and len(arg.inputs) == 2:
        # minus a maximum, or minus a tensor nnlint cannot see (a caller's argument, an unknown op),
        # which may be one
        return graph.unshape(graph.ops[arg.inputs[1]]).kind not in (
            OpKind.REDUCE_MAX, OpKind.LOGSUMEXP, OpKind.INPUT, OpKind.UNKNOWN)
    if arg.kind is OpKind.SUB and "const" in arg.attrs and not isinstance(arg.attrs["const"], (int, float)):
        return False  # x minus a value nnlint does not know: it may be the maximum
    return True
