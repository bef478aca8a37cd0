"""``--statistics``: how many findings each rule has, instead of the findings (as ruff's).

Text is one row per rule, ``count<TAB>code<TAB>name``, the most frequent first, then the
summary line; JSON is a list of ``{"code", "name", "count"}`` in the same order.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from nnlint.report.text import _summary_line


def rows(findings) -> list[dict]:
    counts = Counter((f.code, f.name) for f in findings)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    return [{"code": code, "name": name, "count": count} for (code, name), count in ordered]


def write(result, stream: TextIO, format: str, summary: bool = True) -> None:
    table = rows(result.findings)
    if format == "json":
        json.dump(table, stream, indent=2)
        stream.write("\n")
        return
    count_width = max((len(str(r["count"])) for r in table), default=0)
    code_width = max((len(r["code"]) for r in table), default=0)
    for r in table:
        stream.write(f"{r['count']:>{count_width}}\t{r['code']:<{code_width}}\t{r['name']}\n")
    line = _summary_line(result) if summary else ""
    if line:
        stream.write(line + "\n")
