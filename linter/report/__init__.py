"""Reporters: views of the same findings. Each module registers one format by name."""

from __future__ import annotations

from typing import Callable

from nnlint.report import json_report, text

#: format name -> writer(result, stream, color)
REPORTERS: dict[str, Callable[..., None]] = {
    "text": text.write,
    "json": json_report.write,
}
