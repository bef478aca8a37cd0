"""The linted files' lines as the analysis read them (a notebook's code cells joined), for
the reporters that hash or measure a finding's line (SARIF fingerprints, rdjson's byte columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from nnlint.errors import UnreadableFile


class SourceLines:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool], Optional[list[str]]] = {}

    def line(self, finding, number: Optional[int]) -> Optional[str]:
        """Line ``number`` (1-based, as ``finding.line`` counts) of the finding's file, or None."""
        if number is None or number < 1:
            return None
        lines = self._lines(finding.path, finding.cell is not None)
        return lines[number - 1] if lines is not None and number <= len(lines) else None

    def _lines(self, path: str, cells: bool) -> Optional[list[str]]:
        key = (path, cells)
        if key not in self._cache:
            try:  # through nnlint.files, as the analysis read it: a refused link gives no line
                from nnlint.source import read_text

                text = read_text(Path(path))
                if cells:
                    from nnlint import notebook

                    text = notebook.read(Path(path), text).source  # the code cells as written
                self._cache[key] = text.splitlines()
            except (OSError, UnicodeDecodeError, ValueError, UnreadableFile):
                self._cache[key] = None
        return self._cache[key]
