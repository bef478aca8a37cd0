"""``--format json``: the contract other tools (and the review bot) build on.

The top level is ``{"version", "findings", "summary"}``; every finding has exactly the
fields of :class:`nnlint.findings.Finding`. See the README for the schema.
"""

from __future__ import annotations

import json
from typing import TextIO

from nnlint import __version__
from nnlint.report.summary import summarize


def write(result, stream: TextIO, color: bool = False) -> None:
    document = {
        "version": __version__,
        "findings": [f.model_dump(mode="json") for f in result.findings],
        "summary": summarize(result),
    }
    json.dump(document, stream, indent=2)
    stream.write("\n")
