"""The run's errors (``result.errors``: inputs that could not be read, a worker that died,
nnlint's own bugs) for the outputs that show them beside the findings: stderr, and the
github and junit reports.

An error that repeats a finding (an unreadable file is also its NN901 finding, a crash its
NN999 one) is left out: the finding already says it. An error about a linted file starts
with its path as the findings show it (``path: message``); the others (an input that does
not exist, a folder that cannot be listed, a failure of the whole run) name no file of the run.
"""

from __future__ import annotations

from typing import Optional


def unreported(result) -> list[str]:
    """The errors that no finding already reports, in order."""
    shown = {f"{f.path}: {f.message}" for f in result.findings}
    return [error for error in result.errors if error not in shown]


def located(result) -> list[tuple[Optional[str], str]]:
    """:func:`unreported` as ``(path, message)``: the linted file an error starts with (then
    the message is the rest), or ``(None, error)``."""
    paths = set(result.paths)
    out: list[tuple[Optional[str], str]] = []
    for error in unreported(result):
        at = error.find(": ")
        while at != -1 and error[:at] not in paths:  # a path may itself hold ": "
            at = error.find(": ", at + 1)
        out.append((error[:at], error[at + 2:]) if at != -1 else (None, error))
    return out
