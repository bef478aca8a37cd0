"""Severity and confidence of a finding.

Kept apart from :mod:`nnlint.findings` so that checks can name them without importing the
finding's module.
"""

from __future__ import annotations

from enum import Enum


class Severity(str, Enum):
    """How bad the pitfall is when the finding is right."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Confidence(str, Enum):
    """How sure the static analysis is that the pitfall is really there."""

    CERTAIN = "certain"
    LIKELY = "likely"
    POSSIBLE = "possible"
