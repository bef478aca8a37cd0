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


@dataclass(frozen=True)
class Example:
    """A complete program for one frontend; bad ones must be flagged, good ones must not."""

    code: str
    frontend: str = "torch-source"


Bad = Example
Good = Example

#: Receives (check, origin, message, severity, confidence) from a check's ``report``.
Sink = Callable[["Check", Origin, str, Severity, Confidence], None]


class Check:
    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    confidence: ClassVar[Confidence] = Confidence.LIKELY
    message: ClassVar[str]
    hint: ClassVar[str]  # one line: what to do instead
    frameworks: ClassVar[tuple[str, ...]] = ("pytorch",)
    traceable: ClassVar[bool] = False  # a --trace confirmation exists
    options: ClassVar[dict[str, Any]] = {}  # per-check settings and their defaults
    bad: ClassVar[list[Example]] = []
    good: ClassVar[list[Example]] = []

    def __init__(self, sink: Sink, options: Optional[dict[str, Any]] = None) -> None:
        self._sink = sink
        self.opts = {**self.options, **(options or {})}

    def report(
        self,
        at: Op | Origin | None,
        severity: Optional[Severity] = None,
        confidence: Optional[Confidence] = None,
        **fields: Any,
    ) -> None:
        origin = at.origin if isinstance(at, Op) else at
        if origin is None:
            return  # nothing to point at: a finding nobody can locate is noise
        self._sink(
            self,
            origin,
            self.message.format(**fields),
            severity or self.severity,
            confidence or self.confidence,
        )

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")


class GraphCheck(Check):
    def check(self, graph: ModelGraph) -> None:
        raise NotImplementedError


class ProgramCheck(Check):
    def check(self, program: "Program") -> None:
        raise NotImplementedError
