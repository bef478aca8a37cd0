"""What a check's ``confirm`` gets: the measurements of the model a finding concerns.

Plain data (no torch), so confirmations are pure functions of numbers that tests can build
by hand, and the same code judges a model rebuilt from the IR, an ONNX graph, or a module
imported in the ``--trace-import`` subprocess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from nnlint.ir import ModelGraph, Op
from nnlint.trace.records import LayerRecord, ModelTrace
from nnlint.trace.verdict import Verdict, inconclusive


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
