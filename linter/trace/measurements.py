"""The measurements a trace can take, by name, so that a trace takes only what is read.

Each check's ``confirm`` reads some of them and lists them in ``Check.measures``; the trace of
a model takes the union over the findings tied to it (``--report`` takes all, for its charts).
A finding about an output activation then pays for two forward passes, not for a backward
pass, an optimizer step, the x1..x1000 sweep and 60 histograms as well: on a small model those
are nine tenths of the trace. Every measurement starts from the same seeded state whatever
else is taken, so a verdict does not depend on which other findings a model has. No torch here:
the checks import this module on the lint path.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable


class Measure(str, Enum):
    LAYERS = "layers"  # one training-mode forward pass: every op's output statistics (always taken)
    UNITS = "units"  # how differently a weighted layer's units respond, in that pass (a constant init)
    GRADIENTS = "gradients"  # one backward pass: each weighted layer's gradient norm
    STEP = "step"  # one step of the declared optimizer: each weighted layer's update-to-parameter ratio
    EVAL = "eval"  # evaluation-mode passes: statistics, whether a repeat differs, the train-vs-eval change
    ZERO_INPUT = "zero-input"  # each weighted layer on an all-zero input
    BIAS = "bias"  # each biased layer before a batch norm, its bias shifted: the norm's output
    DROPOUT = "dropout"  # each dropout on an all-ones input, in both modes
    SWEEP = "sweep"  # the inputs scaled x1..x1000: where values stop being finite
    BATCH_OF_ONE = "batch-of-one"  # a training-mode pass on one sample, where batch norm is present
    LOSS_PROBES = "loss-probes"  # the loss as written against its stable form, on the logits
    HISTOGRAMS = "histograms"  # weight and activation histograms (the report's only)


ALL = frozenset(Measure)
#: What a measurement is computed from: a step needs gradients; the sweep's x1 and the loss
#: probes' logits are the evaluation pass's values.
_IMPLIES = {Measure.STEP: {Measure.GRADIENTS}, Measure.SWEEP: {Measure.EVAL}, Measure.LOSS_PROBES: {Measure.EVAL}}


def closure(needs: Iterable[Measure]) -> frozenset[Measure]:
    """``needs`` with what each of them is computed from, and the forward pass everything is."""
    taken = {Measure.LAYERS, *needs}
    for need in list(taken):
        taken |= _IMPLIES.get(need, set())
    return frozenset(taken)
