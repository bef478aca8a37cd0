"""``--format gitlab``: a GitLab Code Quality report (``artifacts:reports:codequality``).

A JSON array, one issue per finding: ``description`` (the code, the message and the rule's
hint), ``check_name`` (the code), ``fingerprint`` (SARIF's, :func:`nnlint.report.sarif.fingerprints`:
it survives lines moving above the finding and tells two findings apart), ``severity`` and
``location`` (``path``, ``lines.begin``, and ``lines.end`` where the finding spans lines).
GitLab matches ``path`` against the repository: run nnlint from the repository's root.

Severities, on GitLab's scale (info, minor, major, critical, blocker): ``error`` -> major,
``warning`` -> minor, ``info`` -> info. critical and blocker are left unused: an nnlint
error is a training bug in one place, not a project-wide emergency, and nnlint has no rank
above it.

A notebook finding is located at the ``.ipynb`` file, line 1, its cell and line named in
the description (the file's own lines are JSON); an ONNX finding at the ``.onnx`` file,
line 1, naming its node. The run's errors are not issues: they stay on stderr (exit 2).
"""

from __future__ import annotations

import json
import os
from pathlib import PurePath
from typing import TextIO

from nnlint.report import rules
from nnlint.report.placed import placed
from nnlint.report.sarif import fingerprints

SEVERITIES = {"error": "major", "warning": "minor", "info": "info"}


def write(result, stream: TextIO, color: bool = False) -> None:
    json.dump(document(result), stream, indent=2)
    stream.write("\n")


def document(result) -> list[dict]:
    return [_issue(f, fp) for f, fp in zip(result.findings, fingerprints(result.findings))]


def _issue(finding, fingerprint: str) -> dict:
    message = placed(finding)
    lines = {"begin": 1}
    if finding.cell is None and finding.line is not None:
        lines = {"begin": finding.line}
        if finding.end_line is not None and finding.end_line > finding.line:
            lines["end"] = finding.end_line
    hint = rules.hint(finding.code)
    if hint:
        message = f"{message} (hint: {hint})"
    return {
        "description": f"{finding.code}: {message}",  # GitLab does not show check_name
        "check_name": finding.code,
        "fingerprint": fingerprint,
        "severity": SEVERITIES[finding.severity.value],
        "location": {"path": PurePath(os.path.normpath(finding.path)).as_posix(), "lines": lines},
    }
