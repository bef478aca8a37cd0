"""The base classes every pitfall check derives from.

A check is one class in one module of :mod:`nnlint.checks`: its code, slug, severity,
documentation (the class docstring, in ruff's sections), bad and good examples, and the
detection itself. ``GraphCheck`` runs once per model graph a frontend built;
``ProgramCheck`` runs once per analysed file, for pitfalls of the data pipeline and the
training code around the model.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional

from nnlint.ir import ModelGraph, Op, Origin
from nnlint.levels import Confidence, Severity

if TYPE_CHECKING:
    from nnlint.frontends.program import Program
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy
    from nnlint.trace.verdict import Verdict


@dataclass(frozen=True)
class Example:
    """A complete program for one frontend; bad ones must be flagged, good ones must not."""

    code: str
    frontend: str = "torch-source"


Bad = Example
Good = Example

@dataclass(frozen=True)
class Subject:
    """What a finding is about, kept for ``--trace``: the op (when there is one), the graph and
    program it was found in, and the fields its message was made from."""

    program: Any
    graph: Optional[ModelGraph]
    op: Optional[Op]
    origin: Origin
    fields: dict
    #: the training code the finding's premise comes from (the loss a layer feeds), where the
    #: finding is shown when the layer's own file is not being linted
    also: Optional[Origin] = None


#: Receives (check, origin, message, severity, confidence, subject) from a check's ``report``.
Sink = Callable[["Check", Origin, str, Severity, Confidence, Subject], None]


class Check:
    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    confidence: ClassVar[Confidence] = Confidence.LIKELY
    message: ClassVar[str]
    hint: ClassVar[str]  # one line: what to do instead
    frameworks: ClassVar[tuple[str, ...]] = ("pytorch",)
    traceable: ClassVar[bool] = False  # a --trace confirmation exists
    #: what ``confirm`` reads of the trace (``nnlint.trace.measurements.Measure``): the trace
    #: of a model takes only what its findings' checks read
    measures: ClassVar[frozenset] = frozenset()
    #: the measurement depends on a layer's sizes (an init's scale against the data it
    #: receives, the relative size of a step): a finding on a layer whose size (input or
    #: output) the trace stood in for is left inconclusive. A check whose measurement holds at
    #: any width sets it False.
    reads_sizes: ClassVar[bool] = True
    options: ClassVar[dict[str, Any]] = {}  # per-check settings and their defaults
    bad: ClassVar[list[Example]] = []
    good: ClassVar[list[Example]] = []

    def reads_size_of(self, fields: dict, stood: frozenset[str] = frozenset()) -> bool:
        """Whether this finding's measurement depends on its layer's sizes (of the data it
        receives, of the outputs it gives), so that a stand-in for one leaves it inconclusive:
        ``reads_sizes``, unless a check knows better for the finding at hand and the sizes
        ``stood`` in for (``in_features``, ``out_channels``)."""
        return self.reads_sizes

    def __init__(self, sink: Sink, options: Optional[dict[str, Any]] = None) -> None:
        self._sink = sink
        self.opts = {**self.options, **(options or {})}
        self.program: Optional["Program"] = None  # set by the engine before each run
        self.graph: Optional[ModelGraph] = None  # the graph a GraphCheck is looking at

    def report(
        self,
        at: Op | Origin | None,
        severity: Optional[Severity] = None,
        confidence: Optional[Confidence] = None,
        about: Optional[Op] = None,
        also: Optional[Origin] = None,
        **fields: Any,
    ) -> None:
        """Report at ``at``; ``about`` names the op when ``at`` is a place in the code (an init call).
        ``also``: the training code that makes it a finding (the loss the op feeds), where it
        is reported when ``at`` lies in a file that is not being linted (``nnlint train.py``
        with the model in ``model.py``)."""
        origin = at.origin if isinstance(at, Op) else at
        if origin is None:
            return  # nothing to point at: a finding nobody can locate is noise
        op = about if about is not None else at if isinstance(at, Op) else None
        self._sink(
            self,
            origin,
            self.message.format(**fields),
            severity or self.severity,
            confidence or self.confidence,
            Subject(self.program, self.graph, op, origin, fields, also),
        )

    def confirm(self, evidence: "Evidence") -> "Verdict":
        """What the ``--trace`` measurements say of one finding of this check. Checks that
        can be confirmed override this and set ``traceable`` and ``measures``."""
        from nnlint.trace.verdict import inconclusive

        return inconclusive(f"{self.name} has no trace confirmation")

    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional["Remedy"]:
        """The model with only this finding's fault fixed (:mod:`nnlint.trace.remedy`), for the
        trace's counterfactual and for another finding whose measurement this fault hides;
        None where the check states none (its verdict is then a reading of the model as written)."""
        return None

    def unmeasurable(self, fields: dict) -> Optional[str]:
        """Why no trace can measure this finding whatever its model: its claim rests on a value
        only the run has (a dropout rate passed in as an argument), so no model is built for
        it and the verdict is inconclusive with this reason; None for a finding to measure."""
        return None

    def precondition(self, evidence: "Evidence") -> Optional[str]:
        """Why the measurement ``confirm`` reads is not valid on this model (no gradient reaches
        the layer, its input is constant, the loss is not finite), or None. When it is not,
        the trace applies the other findings' remedies and asks again."""
        return None

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")


class GraphCheck(Check):
    def check(self, graph: ModelGraph) -> None:
        raise NotImplementedError


class ProgramCheck(Check):
    def check(self, program: "Program") -> None:
        raise NotImplementedError
