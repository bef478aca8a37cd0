"""``--format rdjson``: reviewdog's Diagnostic Result JSON (``reviewdog -f=rdjson``).

One diagnostic per finding: ``message`` (with the hint), ``severity`` ERROR/WARNING/INFO,
``source.name`` nnlint, ``code.value`` the rule code, ``location.path`` and ``range``. The
range's end is exclusive and its columns count UTF-8 bytes, as reviewdog's format says
(nnlint counts characters: the line is read again to convert; a line that cannot be read
keeps nnlint's column). Notebook and ONNX findings have no range (the file's own lines are
JSON or binary); the message names the cell or the node.
"""

from __future__ import annotations

import json
from typing import Optional, TextIO

from nnlint.report import rules
from nnlint.report.placed import placed
from nnlint.report.lines import SourceLines

SEVERITIES = {"error": "ERROR", "warning": "WARNING", "info": "INFO"}


def write(result, stream: TextIO, color: bool = False) -> None:
    json.dump(document(result), stream, indent=2)
    stream.write("\n")


def document(result) -> dict:
    lines = SourceLines()
    return {"source": {"name": "nnlint"}, "diagnostics": [_diagnostic(f, lines) for f in result.findings]}


def _diagnostic(finding, lines: SourceLines) -> dict:
    message = placed(finding)
    location: dict = {"path": finding.path}
    if finding.cell is None and finding.line is not None:
        start = _position(finding, lines, finding.line, finding.column)
        location["range"] = {"start": start}
        if finding.end_line is not None:
            location["range"]["end"] = _position(finding, lines, finding.end_line, finding.end_column)
    hint = rules.hint(finding.code)
    if hint:
        message = f"{message} (hint: {hint})"
    return {
        "message": message,
        "location": location,
        "severity": SEVERITIES[finding.severity.value],
        "source": {"name": "nnlint"},
        "code": {"value": finding.code},
    }


def _position(finding, lines: SourceLines, line: int, column: Optional[int]) -> dict:
    position = {"line": line}
    if column is not None:
        text = lines.line(finding, line)
        position["column"] = byte_column(text, column) if text is not None else column
    return position


def byte_column(text: str, column: int) -> int:
    """1-based character column -> 1-based UTF-8 byte column."""
    return len(text[: column - 1].encode("utf-8", "surrogatepass")) + 1 + max(0, column - 1 - len(text))
