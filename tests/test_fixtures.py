"""Annotated fixture files: every ``# expect: CODE`` line is flagged with that code, nothing else is.

``fixtures/correct/`` holds faithful miniatures of real, correct, widely copied programs
(pytorch/examples, nanoGPT, DCGAN, ResNet, LoRA, Lightning); they must stay clean.
``fixtures/buggy/`` holds each pitfall in several spellings; a folder is one project.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .lint_helpers import lint_paths

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECT = re.compile(r"#\s*expect:\s*((?:NN\d+[, ]*)+)")


def _cases():
    for group in ("correct", "buggy"):
        for entry in sorted((FIXTURES / group).iterdir()):
            if entry.suffix == ".py" or entry.is_dir():
                yield pytest.param(entry, id=f"{group}/{entry.name}")


def _expected(entry: Path) -> set[tuple[str, int, str]]:
    files = sorted(entry.rglob("*.py")) if entry.is_dir() else [entry]
    found = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _EXPECT.search(line)
            if match:
                for code in match.group(1).replace(",", " ").split():
                    found.add((path.name, number, code))
    return found


@pytest.mark.parametrize("entry", list(_cases()))
def test_fixture(entry: Path):
    findings = lint_paths([entry], cwd=entry.parent)
    got = {(Path(f.path).name, f.line, f.code) for f in findings}
    assert got == _expected(entry), "\n".join(f"{f.path}:{f.line}: {f.code} {f.message}" for f in findings)


def test_correct_programs_have_no_warning_or_error():
    """The correct miniatures may carry advice (info, annotated above), never a warning or an error."""
    findings = lint_paths([FIXTURES / "correct"], cwd=FIXTURES)
    assert [f.message for f in findings if f.severity.value != "info"] == []


def test_autoencoder_output_activations_are_advice():
    """Reconstructing its input, a model's right output range is the input's: info, not an error."""
    findings = lint_paths([FIXTURES / "buggy" / "autoencoders.py"], cwd=FIXTURES)
    assert {f.severity.value for f in findings if f.code == "NN001"} == {"info"}
