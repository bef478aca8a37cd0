"""``--format text``: ruff-style lines with the source line, a caret and a hint."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, TextIO

from nnlint import registry
from nnlint.errors import UnreadableFile
from nnlint.report.summary import summarize

_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def write(result, stream: TextIO, color: bool = False, summary: bool = True) -> None:
    """``summary``: end with the summary line (``--quiet`` leaves it out)."""
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines_cache: dict[str, Optional[list[str]]] = {}
    for f in result.findings:
        if f.cell is not None:
            where = f"{f.path}:cell {f.cell['number']}:{f.cell['line']}:{f.column}"
        elif f.line is not None:
            where = f"{f.path}:{f.line}:{f.column}"
        else:
            where = f"{f.path} ({f.node})" if f.node else f.path
        sev = f.severity.value
        stream.write(f"{paint(where, _BOLD)}: {paint(f.code, _COLORS[sev])} [{sev}] {f.message}\n")
        snippet = _snippet(f, lines_cache)
        if snippet:
            stream.write(snippet)
        if f.trace is not None:
            status = f.trace["status"]
            paint_code = {"confirmed": _COLORS["error"], "refuted": _COLORS["info"]}.get(status, _DIM)
            where = f" on {f.trace['device']}" if f.trace.get("device") else ""
            stream.write(f"    {paint('= trace:', _DIM)} {paint(status, paint_code)}{where}: "
                         f"{f.trace['evidence']}\n")
        check = registry.lookup(f.code)
        if check is not None and getattr(check, "hint", None):
            stream.write(f"    {paint('= hint:', _DIM)} {check.hint}\n")
        stream.write("\n")
    line = _summary_line(result) if summary else ""
    if line:
        stream.write(line + "\n")


def _snippet(f, cache: dict) -> str:
    if f.line is None:
        return ""
    if f.path not in cache:
        try:  # through nnlint.files, as the analysis read it: a refused link shows no line
            from nnlint.source import read_text

            text = read_text(Path(f.path))
            if f.cell is not None:
                from nnlint import notebook  # only for a notebook's finding

                text = notebook.read(Path(f.path), text).source  # the cell as written
            cache[f.path] = text.splitlines()
        except (OSError, UnicodeDecodeError, UnreadableFile):
            cache[f.path] = None
    lines = cache[f.path]
    if not lines or f.line > len(lines):
        return ""
    shown = f.cell["line"] if f.cell is not None else f.line
    raw = lines[f.line - 1].rstrip()
    text = raw.expandtabs(4)
    start = len(raw[: max((f.column or 1) - 1, 0)].expandtabs(4))  # columns count characters, tabs included
    end = len(raw[: f.end_column - 1].expandtabs(4)) if f.end_line == f.line and f.end_column else len(text)
    width = max(end - start, 1)
    gutter = " " * len(str(shown))
    return f" {gutter} |\n {shown} | {text}\n {gutter} | {' ' * start}{'^' * width}\n"


def _summary_line(result) -> str:
    s = summarize(result)
    files = f"{s['files']} file" + ("" if s["files"] == 1 else "s")
    if not s["findings"] and result.errors and not s["files"]:
        return ""  # nothing was linted: the error lines (stderr) are the whole story
    if not s["findings"] and result.errors:  # an input could not be read: its error line says so
        return f"No findings in {files} linted; {len(result.errors)} input{'s' if len(result.errors) > 1 else ''} could not be read."
    if not s["findings"]:
        return f"All checks passed ({files} linted)."
    parts = [f"{n} {sev}" + ("s" if n != 1 else "") for sev, n in s["by_severity"].items() if n]
    noun = "finding" if s["findings"] == 1 else "findings"
    return f"Found {s['findings']} {noun} ({', '.join(parts)}) in {files}."
