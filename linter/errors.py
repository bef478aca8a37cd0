"""Input problems reported as one line each (kept apart so loading them imports no parser)."""

from __future__ import annotations

from typing import Optional


class UnreadableFile(Exception):
    """The file cannot be linted; the message is one line for the user."""


class SourceSyntaxError(Exception):
    """The file is not valid Python; ``line`` and ``column`` are 1-based when known."""

    def __init__(self, message: str, line: Optional[int], column: Optional[int]) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class UnsupportedSyntax(Exception):
    """Valid Python (CPython parses it) that the source parser cannot read, or not within the
    analysis budget (too many tokens): not the user's error."""


class AnalysisLimit(Exception):
    """A file's analysis went past its wall-time budget; the message is one line."""


def internal_error(exc: BaseException, where: str = "") -> str:
    """One line for a bug in nnlint: the exception's type and text, and a request to report it."""
    text = " ".join(str(exc).split())[:300]
    where = f" {where}" if where else ""
    return f"internal error{where} ({type(exc).__name__}{': ' + text if text else ''}); please report it"


#: How an analysis stopped by its wall-time budget begins its NN904 message: a verdict of the
#: machine's load, not of the file, which the cache therefore does not keep.
TIMED_OUT = "the analysis took longer than its budget"
