"""``--format json``: the contract other tools (and the review bot) build on.

The top level is ``{"version", "findings", "summary"}``; every finding has exactly the
fields of :class:`nnlint.findings.Finding`, and ``hint`` (the rule's one-line advice, ``null``
for the engine's own codes; since 0.2.0). See the README for the schema.
"""

from __future__ import annotations

import json
from typing import TextIO

from nnlint import __version__
from nnlint.report import rules
from nnlint.report.summary import summarize


def write(result, stream: TextIO, color: bool = False) -> None:
    document = {
        "version": __version__,
        "findings": [_finding(f) for f in result.findings],
        "summary": summarize(result),
    }
    json.dump(document, stream, indent=2)
    stream.write("\n")


def _finding(finding) -> dict:
    data = finding.as_json()
    if data["cell"] is None:
        del data["cell"]  # only notebook findings carry a cell
    data["hint"] = rules.hint(finding.code)
    return data
