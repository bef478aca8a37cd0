"""Inline suppressions: ``# nnlint: ignore[CODE or slug]`` and, for habit, ``# noqa: CODE``.

A comment silences the findings whose reported span (first to last line of the flagged
statement or expression) includes its line. Bare ``# nnlint: ignore`` and ``# noqa`` silence
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

    def suppress(self, code: str, name: str, line: Optional[int], end_line: Optional[int]) -> bool:
        if line is None:
            return False
        for number in range(line, (end_line or line) + 1):
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
    return result
