"""The finding: one record that every reporter renders.

A frozen dataclass rather than a pydantic model: findings are made by nnlint itself, never
parsed from outside, so there is nothing to validate, and pydantic's import and model class
cost about 115 ms on the first finding of a pre-commit run. pydantic validates the
configuration only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Optional

from nnlint.levels import Confidence, Severity


@dataclass(frozen=True)
class Finding:
    """One pitfall at one place. The JSON output is exactly these fields (:meth:`as_json`)."""

    code: str
    name: str
    severity: Severity
    confidence: Confidence
    message: str
    path: str
    line: Optional[int] = None
    column: Optional[int] = None
    end_line: Optional[int] = None
    end_column: Optional[int] = None
    node: Optional[str] = None
    trace: Optional[dict] = None
    fix: Optional[dict] = None
    #: notebooks only: {"number": cell number in the notebook, "line": line within the cell};
    #: ``line`` counts through the notebook's code cells joined in order
    cell: Optional[dict] = None

    def replace(self, **changes) -> "Finding":
        """This finding with some fields changed (findings are frozen)."""
        return dataclasses.replace(self, **changes)

    def as_json(self) -> dict:
        """The fields as JSON values, in declaration order (enums as their values)."""
        return {f.name: (value.value if isinstance(value := getattr(self, f.name), Enum) else value)
                for f in dataclasses.fields(self)}

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.column or 0, self.code)

    def identity(self) -> tuple:
        """What makes two findings the same, whichever analysis of the project made them."""
        return (self.code, self.path, self.line, self.column, self.node)

    def subject_key(self) -> tuple:
        """What ``--trace`` finds the finding's subject by: its identity and what it says, since
        two analyses can make the same finding with different knowledge (a value a caller
        passes), and the one kept must be traced with its own subject."""
        return (*self.identity(), self.message)
