"""Jupyter notebooks as one program: code cells joined in order, magics blanked out.

Line numbers count through the joined source (so suppressions, positions and the project
join work as for a ``.py`` file); :func:`cell_of` maps a line back to its cell. A line magic
(``%matplotlib``), a shell escape (``!pip``) or help (``x?``) becomes ``pass`` at its
indentation (it may be the only statement of a block); a cell magic that runs Python
(``%%time``) loses only its first line, any other (``%%bash``) blanks the whole cell.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from nnlint.errors import UnreadableFile

_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "autoreload"}


@dataclass(frozen=True)
class NotebookCode:
    text: str
    starts: tuple[int, ...]  # first line of each code cell in ``text`` (1-based)
    numbers: tuple[int, ...]  # that cell's number in the notebook (1-based, all cells counted)

    def cell_of(self, line: int) -> tuple[int, int]:
        """(cell number, line within the cell) of a line of the joined source."""
        i = max(bisect_right(self.starts, line) - 1, 0)
        return self.numbers[i], line - self.starts[i] + 1


def read(path: Path, text: str) -> NotebookCode:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UnreadableFile(f"not a valid Jupyter notebook (invalid JSON: {exc})") from None
    try:
        cells = document["cells"]
        sources = [(n, c) for n, c in enumerate(cells, start=1) if c.get("cell_type") == "code"]
    except (KeyError, TypeError, AttributeError):
        raise UnreadableFile("not a valid Jupyter notebook (no cells in its JSON)") from None
    lines: list[str] = []
    starts, numbers = [], []
    for number, cell in sources:
        source = cell.get("source", "")
        body = "".join(source) if isinstance(source, list) else str(source)
        starts.append(len(lines) + 1)
        numbers.append(number)
        lines.extend(_neutralise(body.splitlines()) or [""])
    return NotebookCode("\n".join(lines) + "\n", tuple(starts), tuple(numbers))


def _neutralise(lines: list[str]) -> list[str]:
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if len(lines[0]) > 2 else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        lines = [""] + lines[1:]
    out = []
    continued = False  # the previous line was a magic ending in a backslash
    for line in lines:
        stripped = line.lstrip()
        if continued:
            out.append("")
        elif stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
            # a statement (``if colab:\n    %pip install ...``): keep one, so the block stays valid
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
            continue
        continued = line.rstrip().endswith("\\")
    return out
