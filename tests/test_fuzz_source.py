"""Mutated training programs (lines deleted, duplicated, swapped) never crash the analysis."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from .lint_helpers import lint_paths

pytestmark = pytest.mark.slow  # 400 analyses

FIXTURES = Path(__file__).parent / "fixtures"


def _mutants(seed: int, count: int):
    rng = random.Random(seed)
    sources = sorted(p for p in FIXTURES.rglob("*.py") if "onnx" not in p.parts)
    for i in range(count):
        lines = rng.choice(sources).read_text(encoding="utf-8").splitlines()
        for _ in range(rng.randint(1, 4)):
            if len(lines) < 3:
                break
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            action = rng.choice(("delete", "duplicate", "swap", "dedent"))
            if action == "delete":
                del lines[a]
            elif action == "duplicate":
                lines.insert(b, lines[a])
            elif action == "swap":
                lines[a], lines[b] = lines[b], lines[a]
            else:
                lines[a] = lines[a].lstrip()
        yield i, "\n".join(lines) + "\n"


def test_mutated_programs_never_crash(tmp_path):
    failures = []
    for i, text in _mutants(seed=20261121, count=400):
        path = tmp_path / f"m{i}.py"
        path.write_text(text, encoding="utf-8")
        findings = lint_paths([path], cwd=tmp_path)
        failures.extend(f"m{i}: {f.message}" for f in findings if f.code == "NN999")
    assert failures == []
