"""Jupyter notebooks as one program: code cells converted as IPython runs them, joined in order.

Each code cell becomes the Python IPython would compile (:mod:`nnlint.ipython_input`:
magics, shell escapes and help become ``get_ipython()`` calls, a ``%%time`` cell keeps its
Python body, a ``%%bash`` cell is blank), with the cell's line numbers kept. Line numbers
count through the joined source (so suppressions, positions and the project join work as
for a ``.py`` file); :func:`NotebookCode.cell_of` maps a line back to its cell. A cell that
is still not Python (IPython would reject it too) is left out, blank, and reported in
``errors``: the other cells are linted. The cells whose saved outputs show an exception are
kept in ``raised``: :meth:`NotebookCode.as_run` makes a finding there ``info``.
"""

from __future__ import annotations

import ast
import re
import json
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from nnlint.errors import UnreadableFile
from nnlint.levels import Confidence, Severity

if TYPE_CHECKING:
    from nnlint.findings import Finding


@dataclass(frozen=True)
class CellError:
    line: int  # in the joined source
    column: Optional[int]
    message: str


@dataclass(frozen=True)
class NotebookCode:
    text: str  # the code cells as Python, joined
    source: str  # the code cells as written, joined (line for line with ``text``): what the user sees
    starts: tuple[int, ...]  # first line of each code cell in ``text`` (1-based)
    numbers: tuple[int, ...]  # that cell's number in the notebook (1-based, all cells counted)
    errors: tuple[CellError, ...] = ()  # cells left out: not Python even as IPython runs them
    skipped: tuple[CellError, ...] = ()  # cells left out: nnlint cannot keep their line numbers
    raised: dict[int, str] = field(default_factory=dict, hash=False)  # cell number -> the exception its saved output shows

    def as_run(self, finding: "Finding") -> "Finding":
        """A check's finding in a cell whose saved output shows an exception, as ``info``: that
        cell's code did not run as written (a demonstration of an error, a cell fixed further
        down), so what it would do to training is moot."""
        raised = self.raised.get(self.cell_of(finding.line)[0]) if finding.line is not None else None
        if raised is None or finding.severity is Severity.INFO:
            return finding
        return finding.replace(
            severity=Severity.INFO, confidence=Confidence.POSSIBLE,
            message=f"{finding.message} (this cell raised {raised} when the notebook was last run: "
                    "its code did not run as written)")

    def cell_of(self, line: int) -> tuple[int, int]:
        """(cell number, line within the cell) of a line of the joined source."""
        i = max(bisect_right(self.starts, line) - 1, 0)
        return self.numbers[i], line - self.starts[i] + 1


def read(path: Path, text: str) -> NotebookCode:
    """The notebook's code; :class:`UnreadableFile` (one line) when it is not a notebook."""
    cells, raised = _code_cells(text)
    from nnlint import ipython_input as ipython  # imports IPython: only for notebooks

    written: list[str] = []
    python: list[str] = []
    starts, numbers, errors, skipped = [], [], [], []
    for number, body in cells:
        start = len(written) + 1
        lines = ipython.split_lines(body) or [""]
        try:
            converted = ipython.to_python(lines)
            problem = _syntax_error(converted)
        except ipython.CellError as exc:
            problem = (1, None, str(exc))
        except ipython.LinesChanged as exc:
            problem = None
            skipped.append(CellError(start, None, str(exc)))
            converted = [""] * len(lines)
        if problem is not None:
            line, column, message = problem
            errors.append(CellError(start + min(max(line, 1), len(lines)) - 1, column, message))
            converted = [""] * len(lines)
        starts.append(start)
        numbers.append(number)
        written.extend(lines)
        python.extend(converted)
    return NotebookCode("\n".join(python) + "\n", "\n".join(written) + "\n", tuple(starts), tuple(numbers),
                        tuple(errors), tuple(skipped), raised)


def _code_cells(text: str) -> tuple[list[tuple[int, str]], dict[int, str]]:
    """(number among all cells, source) of each code cell of a notebook's JSON, and the
    exception name of each code cell whose saved outputs show one."""
    if not text.strip():
        raise UnreadableFile("not a valid Jupyter notebook (the file is empty)")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UnreadableFile(f"not a valid Jupyter notebook (invalid JSON: {exc})") from None
    except RecursionError:
        raise UnreadableFile("not a valid Jupyter notebook (its JSON is nested too deeply)") from None
    cells = document.get("cells") if isinstance(document, dict) else None
    sheets = document.get("worksheets") if isinstance(document, dict) and cells is None else None
    if isinstance(sheets, list) and all(isinstance(w, dict) and isinstance(w.get("cells"), list) for w in sheets):
        cells = [c for w in sheets for c in w["cells"]]  # nbformat 3 (2012-2015): cells in worksheets
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise UnreadableFile("not a valid Jupyter notebook (no list of cells in its JSON)")
    found, raised = [], {}
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))  # nbformat 3 calls a code cell's source "input"
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise UnreadableFile(f"not a valid Jupyter notebook (cell {number}'s source is not text)")
        found.append((number, source))
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            # nbformat 4 names a traceback output "error", nbformat 3 "pyerr"
            if isinstance(output, dict) and output.get("output_type") in ("error", "pyerr"):
                name = output.get("ename")
                raised[number] = name if isinstance(name, str) and name.isidentifier() else "an exception"
    return found, raised


def _syntax_error(lines: list[str]) -> Optional[tuple[int, Optional[int], str]]:
    """(line, column, message) of the first syntax error in a converted cell, if any."""
    try:
        ast.parse("\n".join(lines) + "\n")
    except SyntaxError as exc:
        return exc.lineno or 1, exc.offset, f"syntax error: {exc.msg}"
    except (RecursionError, MemoryError):
        return 1, None, "syntax error: too deeply nested for Python to parse"
    except ValueError as exc:  # null bytes
        return 1, None, f"syntax error: {exc}"
    return None


#: JSON tokens: a string (escapes kept), a bracket or separator, or a bare literal.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


def file_lines(text: str) -> dict[int, list[int]]:
    """Cell number -> the line of the ``.ipynb`` file on which each line of that cell's source
    is written (a diff shows the file's JSON lines; a finding names a cell and a line in it).

    nbformat writes a source as a list of one string per line, each on its own JSON line;
    a source written as one string keeps all its lines on one file line. A scan of the JSON
    tokens, tracking only the path to each string, finds them without a parser that keeps
    positions. Cells are numbered as :func:`read` numbers them (nbformat 3's worksheets in
    order); a malformed document gives what was found before the fault."""
    found: dict[int, list[int]] = {}
    stack: list[list] = []  # per open container: [kind, key or index, awaiting a key]
    cells = 0
    line, seen = 1, 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            if token == "{" and _at_cell(stack):
                cells += 1
            stack.append(["object", None, True] if token == "{" else ["array", 0, False])
        elif token in ("}", "]"):
            if not stack:
                break
            stack.pop()
        elif token == ",":
            if stack and stack[-1][0] == "array":
                stack[-1][1] += 1
            elif stack:
                stack[-1][2] = True
        elif token == ":":
            continue
        elif stack and stack[-1][0] == "object" and stack[-1][2]:
            stack[-1][1], stack[-1][2] = _decoded(token), False
        elif token.startswith('"') and _at_source(stack):
            line += text.count("\n", seen, match.start())
            seen = match.start()
            value = _decoded(token)
            count = max(value.count("\n") + (0 if value.endswith("\n") else 1), 1) if isinstance(value, str) else 1
            found.setdefault(cells, []).extend([line] * count)
    return found


def _decoded(token: str):
    try:
        return json.loads(token)
    except ValueError:
        return None


def _at_cell(stack: list[list]) -> bool:
    """Whether an object opened now is a cell: an item of ``cells`` at the top or in a worksheet."""
    if len(stack) < 2 or stack[-1][0] != "array" or stack[-2][1] != "cells":
        return False
    return len(stack) == 2 or (len(stack) == 4 and stack[-3][0] == "array" and stack[-4][1] == "worksheets")


def _at_source(stack: list[list]) -> bool:
    """Whether a string read now is (part of) a cell's source (``input`` in nbformat 3)."""
    for depth in (len(stack) - 1, len(stack) - 2):  # the source itself, or an item of its list
        if depth >= 1 and stack[depth][0] == "object" and stack[depth][1] in ("source", "input") \
                and (depth == len(stack) - 1 or stack[-1][0] == "array") and _at_cell(stack[:depth]):
            return True
    return False
