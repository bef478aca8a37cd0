"""Every rule nnlint can report, described once for the reporters that carry rule metadata
(SARIF's ``tool.driver.rules``) and for each finding's hint (JSON, SARIF, rdjson, github).

The checks describe themselves (code, slug, severity, hint, docstring in ruff's sections);
the engine's own codes (NN9xx: the input itself, not a pitfall) come from
:data:`nnlint.engine.ENGINE_CODES`, with the severity the engine reports them at.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str  # error, warning or info: the rule's default
    summary: str  # one sentence
    description: str  # the "What it does" section, one paragraph
    documentation: str  # Markdown (ruff's sections for a check)
    hint: Optional[str]  # one line: what to do instead (checks only)


#: The severity the engine reports its own codes at (nnlint.engine, nnlint.onnx_units).
_ENGINE_SEVERITY = {"NN901": "error", "NN902": "error", "NN903": "warning", "NN904": "info", "NN905": "error",
                    "NN906": "error", "NN907": "info", "NN999": "error"}


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    from nnlint import registry
    from nnlint.engine import ENGINE_CODES

    rules = [Rule(c.code, c.name, c.severity.value, _first_sentence(_what(c.documentation())),
                  _what(c.documentation()), c.documentation(),
                  getattr(c, "hint", None) or None) for c in registry.all_checks()]
    for (code, name), text in ENGINE_CODES.items():
        rules.append(Rule(code, name, _ENGINE_SEVERITY.get(code, "error"), _first_sentence(text), text, text, None))
    return tuple(sorted(rules, key=lambda r: r.code))


def by_code() -> dict[str, Rule]:
    return {r.code: r for r in all_rules()}


def hint(code: str) -> Optional[str]:
    rule = by_code().get(code)
    return rule.hint if rule is not None else None


def _what(documentation: str) -> str:
    """The "What it does" section's first paragraph (or the text's), on one line."""
    lines = documentation.splitlines()
    if lines and lines[0].strip().lower().startswith("## what it does"):
        lines = lines[1:]
    paragraph = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for i, char in enumerate(text):
        if char in ".;" and (i + 1 == len(text) or text[i + 1] == " ") and not text[max(0, i - 3):i].endswith("e.g"):
            return text[: i + 1] if char == "." else text[:i] + "."
    return text
