"""What a check's ``confirm`` gets: the measurements of the model a finding concerns.

Plain data (no torch), so confirmations are pure functions of numbers that tests can build
by hand, and the same code judges a model rebuilt from the IR, an ONNX graph, or a module
imported in the ``--trace-import`` subprocess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from nnlint.ir import ModelGraph, Op
from nnlint.trace.verdict import Verdict, inconclusive

if TYPE_CHECKING:  # checks import this module on every lint: the records' classes are not needed for it
    from nnlint.trace.records import LayerRecord, ModelTrace, Stats
    from nnlint.trace.remedy import Remedy


@dataclass
class SampleSummary:
    """``--sample``: the data a user gave, summarised."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    min: float
    max: float
    mean: float
    std: float
    integral: bool  # every value a whole number (raw pixels, counts)


@dataclass
class Evidence:
    trace: Optional[ModelTrace]  # None when no model could be tied to the finding
    op: Optional[Op]
    graph: Optional[ModelGraph]
    fields: dict  # the values the finding's message was made from
    sample: Optional[SampleSummary] = None
    why_no_trace: Optional[str] = None
    why_not_run: Optional[str] = None  # why the finding's op (or the model's output) could not be run
    caveat: Optional[str] = None  # why the rebuilt op may differ from the code (an init not replayed)
    remedy: Optional[Remedy] = None  # this finding's remedy (``Check.remedy``), where it states one
    #: the same model with ``remedy`` applied, measured on demand (None: not rebuildable, no remedy)
    remedied: Optional[Callable[[], Optional[ModelTrace]]] = field(default=None, repr=False)
    #: other findings' remedies applied to both models because this fault hid behind theirs
    also_fixed: tuple[Remedy, ...] = ()
    #: the same model measured with further edits (with ``also_fixed`` too), for a check whose
    #: experiment changes the model as written as well as its remedy (the inputs fed as loaded);
    #: None where the model cannot be rebuilt with edits
    variant: Optional[Callable[[tuple[Remedy, ...]], Optional[ModelTrace]]] = field(default=None, repr=False)

    @property
    def fixed(self) -> Optional[ModelTrace]:
        """The measurements of the model with this finding's remedy applied, or None."""
        if self.remedied is None:
            return None
        trace = self.remedied()
        return trace if trace is not None and not trace.problem and not trace.error else None

    def fixed_layer(self, op: Optional[Op] = None) -> Optional[LayerRecord]:
        op = op or self.op
        fixed = self.fixed
        return fixed.layers.get(op.id) if fixed is not None and op is not None else None

    def input_stats(self, op: Optional[Op] = None) -> Optional[Stats]:
        """Training-mode statistics of the op's first input, as written."""
        op = op or self.op
        if self.trace is None or op is None or not op.inputs:
            return None
        record = self.trace.layers.get(op.inputs[0])
        return record.train if record is not None else None

    def layer(self, op: Optional[Op] = None) -> Optional[LayerRecord]:
        op = op or self.op
        if self.trace is None or op is None:
            return None
        return self.trace.layers.get(op.id)

    def missing(self, need_op: bool = True) -> Optional[Verdict]:
        """An inconclusive verdict saying why there is nothing to judge, or None."""
        if self.trace is None:
            return inconclusive(self.why_no_trace or "no model could be tied to this finding")
        if self.trace.problem:
            return inconclusive(f"the model could not be rebuilt: {self.trace.problem}")
        if self.trace.error:
            return inconclusive(f"the rebuilt model failed to run: {self.trace.error}")
        if need_op and self.op is None:
            return inconclusive("the finding names no layer the trace can measure")
        if need_op and self.layer() is None:
            return inconclusive(self.why_not_run or f"{self.op.describe()} was not measured")
        return None


def zeroed_by(evidence: Evidence, training: bool) -> Optional[float]:
    """The fraction of an all-ones input the finding's op (a dropout) set to zero."""
    record = evidence.layer()
    if record is None:
        return None
    return record.dropped_train if training else record.dropped_eval


def constant_input(evidence: Evidence, op: Optional[Op] = None) -> Optional[str]:
    """A precondition: the op's input must differ between samples, or nothing it does to them
    can show (a layer behind a constant-0 init sees one value)."""
    op = op or evidence.op
    s = evidence.input_stats(op)
    if s is not None and s.sample_spread is not None and s.sample_spread <= 1e-6 * max(abs(s.min), abs(s.max), 1e-6):
        return f"the input of {op.describe()} is the same on every sample"
    return None


def no_gradient(trace: ModelTrace) -> Optional[str]:
    """A precondition: some gradient must reach the weights, or an optimizer step moves nothing."""
    norms = [r.grad_norm for r in trace.layers.values() if r.grad_norm is not None]
    if norms and max(norms) == 0.0:
        return "no gradient reaches the weights (every layer's gradient is 0)"
    return None
