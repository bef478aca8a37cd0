"""Reporters: views of the same findings. Each module renders one format; this table is the
registry the ``--format`` option offers (a new format is a module and one line here)."""

from __future__ import annotations

from typing import Callable

from nnlint.report import github, json_report, rdjson, sarif, text

#: format name -> writer(result, stream, color)
REPORTERS: dict[str, Callable[..., None]] = {
    "text": text.write,
    "json": json_report.write,
    "sarif": sarif.write,
    "github": github.write,
    "rdjson": rdjson.write,
}
