"""``--format sarif``: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

One run: ``tool.driver`` lists every rule (id = code, name = slug, descriptions and help
from the check's documentation, ``defaultConfiguration.level`` from its severity); one
result per finding. Choices a reader of the file needs to know:

- Locations are relative to ``%SRCROOT%``, the folder nnlint ran in (an absolute path on the
  command line stays an absolute ``file://`` URI). Lines and columns are 1-based and the end
  column is the one after the last character, as SARIF says; columns count Unicode code
  points (``run.columnKind``), as nnlint does.
- A notebook finding is located at the ``.ipynb`` file with no region: the notebook file's
  own lines are JSON, not the cell's code. The cell, the line within it, the line in the
  joined code cells and the column are in the result's property bag (``cell``, ``cellLine``,
  ``line``, ``column``).
- An ONNX finding is located at the ``.onnx`` file with no region, and names the graph node
  as a logical location of kind ``function`` (a node is one application of an operator).
- ``partialFingerprints["nnlintFingerprint/v1"]`` hashes the code, the path, the finding's
  source line with its whitespace collapsed, the node and the message (with the numbers after
  a ``:`` left out, as in ``(at model.py:16)``), plus an occurrence count among identical
  keys: it survives lines moving and tells two findings apart.
- ``invocations[0]``: ``executionSuccessful`` is false when an input could not be read or
  nnlint hit a bug; each such error is a ``toolExecutionNotifications`` entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import PurePath
from typing import TextIO
from urllib.parse import quote

from nnlint import __version__
from nnlint.report import rules
from nnlint.report.lines import SourceLines

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "nnlintFingerprint/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def write(result, stream: TextIO, color: bool = False) -> None:
    json.dump(document(result), stream, indent=2)
    stream.write("\n")


def document(result) -> dict:
    table = rules.all_rules()
    index = {r.code: i for i, r in enumerate(table)}
    results = [_result(finding, index, mark) for finding, mark in zip(result.findings, fingerprints(result.findings))]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "nnlint", "version": __version__, "semanticVersion": __version__,
                                "rules": [_rule(r) for r in table]}},
            "invocations": [{
                "executionSuccessful": not result.errors,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in result.errors],
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def _rule(rule: rules.Rule) -> dict:
    help_text = rule.documentation + (f"\n\nHint: {rule.hint}" if rule.hint else "")
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["nnlint"]},
    }


def _result(finding, index: dict[str, int], fingerprint: str) -> dict:
    hint = rules.hint(finding.code)
    text = finding.message + (f" (hint: {hint})" if hint else "")
    physical: dict = {"artifactLocation": artifact(finding.path)}
    properties: dict = {"confidence": finding.confidence.value}
    if finding.cell is not None:
        properties.update(cell=finding.cell["number"], cellLine=finding.cell["line"], line=finding.line,
                          column=finding.column)
    elif finding.line is not None:
        physical["region"] = _region(finding)
    location: dict = {"physicalLocation": physical}
    if finding.node is not None:
        location["logicalLocations"] = [{"name": finding.node, "fullyQualifiedName": finding.node,
                                         "kind": "function"}]
    if finding.trace is not None:
        properties["trace"] = finding.trace
    out = {
        "ruleId": finding.code,
        "level": LEVELS[finding.severity.value],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint},
        "properties": properties,
    }
    if finding.code in index:
        out["ruleIndex"] = index[finding.code]
    return out


def _region(finding) -> dict:
    region = {"startLine": finding.line}
    if finding.column is not None:
        region["startColumn"] = finding.column
    if finding.end_line is not None and finding.end_line >= finding.line:
        region["endLine"] = finding.end_line
        if finding.end_column is not None and (finding.end_line > finding.line or finding.column is None
                                               or finding.end_column >= finding.column):
            region["endColumn"] = finding.end_column
    return region


def artifact(path: str) -> dict:
    """A relative path as a URI relative to ``%SRCROOT%``; an absolute one as a ``file`` URI."""
    if os.path.isabs(path):
        return {"uri": PurePath(os.path.normpath(path)).as_uri()}
    posix = PurePath(os.path.normpath(path)).as_posix()
    return {"uri": quote(posix, safe="/"), "uriBaseId": SRCROOT}


def fingerprints(findings) -> list[str]:
    """Each finding's stable fingerprint, in order (see the module's docstring); ``nnlint
    review`` marks its comments with them, and ``--format gitlab`` gives them as its issues'
    ``fingerprint``."""
    lines = SourceLines()
    seen: dict[str, int] = {}
    prints = []
    for finding in findings:
        key = fingerprint_key(finding, lines.line(finding, finding.line))
        seen[key] = seen.get(key, 0) + 1
        prints.append(f"{_hash(key)}:{seen[key]}")
    return prints


def fingerprint_key(finding, line_text) -> str:
    """What identifies a finding whatever lines move above it (see the module's docstring)."""
    line = " ".join(line_text.split()) if line_text else ""
    message = re.sub(r"(?<=:)\d+", "", finding.message)
    path = PurePath(os.path.normpath(finding.path)).as_posix()
    return "\0".join((finding.code, path, line, finding.node or "", message))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
