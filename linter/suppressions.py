"""Inline suppressions: ``# nnlint: ignore[CODE or slug]`` and, for habit, ``# noqa: CODE``.

A comment silences the findings whose reported span (first to last line of the flagged
expression) or whose enclosing simple statement includes its line: a comment on the first
line of a multi-line ``nn.Sequential(...)`` covers the layers inside it. Bare ``# nnlint: ignore`` and ``# noqa`` silence
every nnlint finding there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

_DIRECTIVE = re.compile(
    r"#\s*(?:nnlint:\s*ignore(?:\[(?P<codes>[^\]]*)\])?|noqa(?::\s*(?P<noqa>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?)",
    re.IGNORECASE,
)


@dataclass
class Suppression:
    line: int
    column: int
    codes: Optional[frozenset[str]]  # None: everything
    own: bool  # an nnlint directive (or a noqa naming nnlint codes): may be reported as unused
    used: bool = False
    text: str = ""

    def matches(self, code: str, name: str) -> bool:
        return self.codes is None or code.upper() in self.codes or name.lower() in self.codes


@dataclass
class FileSuppressions:
    by_line: dict[int, list[Suppression]] = field(default_factory=dict)
    #: (first, last) lines of the simple statements of the file, for statement-level comments
    statements: list[tuple[int, int]] = field(default_factory=list)

    def suppress(self, code: str, name: str, line: Optional[int], end_line: Optional[int]) -> bool:
        if line is None:
            return False
        first, last = line, end_line or line
        for start, end in self.statements:  # the statement around the finding, innermost last
            if start <= line <= end:
                first, last = min(first, start), max(last, end)
        for number in range(first, last + 1):
            for sup in self.by_line.get(number, ()):
                if sup.matches(code, name):
                    sup.used = True
                    return True
        return False

    def unused(self) -> list[Suppression]:
        return [s for sups in self.by_line.values() for s in sups if s.own and not s.used]


def parse(text: str) -> FileSuppressions:
    result = FileSuppressions()
    if "#" not in text:
        return result
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        for match in _DIRECTIVE.finditer(line):
            raw = match.group("codes") if match.group(0).lower().lstrip("# ").startswith("nnlint") else None
            noqa = match.group("noqa")
            is_nnlint = match.group(0).lstrip("# \t").lower().startswith("nnlint")
            if is_nnlint:
                items = [c.strip() for c in (raw or "").split(",") if c.strip()]
                codes = frozenset(c.upper() if c[:2].upper() == "NN" else c.lower() for c in items) or None
                own = True
            elif noqa:
                items = [c.upper() for c in re.split(r"[\s,]+", noqa) if c]
                ours = [c for c in items if c.startswith("NN")]
                if not ours:
                    continue  # a noqa for another linter
                codes, own = frozenset(ours), True
            else:
                codes, own = None, False  # bare noqa: honoured, never reported
            sup = Suppression(number, match.start() + 1, codes, own, text=match.group(0))
            result.by_line.setdefault(number, []).append(sup)
    if result.by_line:
        result.statements = _simple_statements(text)
    return result


_COMPOUND = ("FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor", "While", "With",
             "AsyncWith", "Try", "TryStar", "Match")


def _simple_statements(text: str) -> list[tuple[int, int]]:
    """Line spans of the simple statements (a comment on a ``def`` line must not cover the body)."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [(node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.stmt) and type(node).__name__ not in _COMPOUND and node.end_lineno != node.lineno]
