"""Counts shared by the reporters."""

from __future__ import annotations


def summarize(result) -> dict:
    by_severity = {"error": 0, "warning": 0, "info": 0}
    for finding in result.findings:
        by_severity[finding.severity.value] += 1
    return {
        "files": result.files,
        "findings": len(result.findings),
        "by_severity": by_severity,
        "errors": list(result.errors),
    }
