"""The finding: one pydantic model that every reporter renders.

Imported lazily (on the first finding or by a reporter), so linting clean files does not
import pydantic.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from nnlint.levels import Confidence, Severity


class Finding(BaseModel):
    """One pitfall at one place. The JSON output is exactly these fields."""

    model_config = ConfigDict(frozen=True, use_enum_values=False)

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

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.column or 0, self.code)

    def identity(self) -> tuple:
        """What makes two findings the same, whichever analysis of the project made them."""
        return (self.code, self.path, self.line, self.column, self.node)
