"""Every check's own bad and good examples are tests: bad ones must be flagged, good ones not."""

from __future__ import annotations

import pytest

from nnlint import registry

from .lint_helpers import lint_onnx_text, lint_source

CASES = [
    pytest.param(check, example, kind, id=f"{check.name}-{kind}{i}")
    for check in registry.all_checks()
    for kind, examples in (("bad", check.bad), ("good", check.good))
    for i, example in enumerate(examples)
]


def test_keras_checks_have_two_keras_spellings():
    for check in registry.all_checks():
        if "keras" in check.frameworks:
            assert len([b for b in check.bad if b.frontend == "keras-source"]) >= 2, check.name
            assert [g for g in check.good if g.frontend == "keras-source"], check.name


def test_every_check_has_examples():
    for check in registry.all_checks():
        assert len([b for b in check.bad if b.frontend == "torch-source"]) >= 2, check.name
        assert check.good, check.name
        doc = check.documentation()
        for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert section in doc, (check.name, section)


@pytest.mark.parametrize("check,example,kind", CASES)
def test_example(tmp_path, check, example, kind):
    if example.frontend == "onnx":
        everything = lint_onnx_text(tmp_path, example.code)
    else:
        everything = lint_source(tmp_path, example.code)
    assert not [f for f in everything if f.code.startswith("NN9")], [f.message for f in everything]
    findings = [f for f in everything if f.code == check.code]
    if kind == "bad":
        assert findings, f"{check.name}: bad example not flagged"
    else:
        assert not findings, f"{check.name}: good example flagged: {[f.message for f in findings]}"
