"""``--format json`` is a contract: every output validates against this schema."""

from __future__ import annotations

import copy

import jsonschema  # a dev dependency (pip install -e '.[dev]')
import pytest

from .conftest import BUGGY, CLEAN, ERROR_DROPOUT, INFO_LOADER, MODEL_RELU, TRAIN_MSE, run_cli, write

NULLABLE_POSITIVE_INT = {"type": ["integer", "null"], "minimum": 1}

FINDING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "name", "severity", "confidence", "message", "path", "line", "column", "end_line",
                 "end_column", "node", "trace", "fix", "hint"],
    "properties": {
        "code": {"type": "string", "pattern": "^NN[0-9]{3}$"},
        "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        "severity": {"enum": ["error", "warning", "info"]},
        "confidence": {"enum": ["certain", "likely", "possible"]},
        "message": {"type": "string", "minLength": 1, "pattern": "^[^\n]*$"},
        "path": {"type": "string", "minLength": 1},
        "line": NULLABLE_POSITIVE_INT,
        "column": NULLABLE_POSITIVE_INT,
        "end_line": NULLABLE_POSITIVE_INT,
        "end_column": NULLABLE_POSITIVE_INT,
        # Python source findings have no graph node, trace or fix
        "node": {"type": "null"},
        "trace": {"type": "null"},
        "fix": {"type": "null"},
        # the rule's one-line advice (since 0.2.0); null for the engine's own codes (NN9xx)
        "hint": {"type": ["string", "null"], "minLength": 1, "pattern": "^[^\n]*$"},
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "findings", "summary"],
    "properties": {
        "version": {"type": "string", "pattern": r"^\d+\.\d+"},
        "findings": {"type": "array", "items": FINDING},
        "summary": {"type": "object"},
    },
}


def validate(document):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_it_should():
    """The schema itself is strict: an extra key, a missing key or a 0-based line fails."""
    good = {"version": "0.1.0", "summary": {}, "findings": [{
        "code": "NN007", "name": "dropout-keep-drop-confusion", "severity": "warning", "confidence": "likely",
        "message": "m", "path": "a.py", "line": 1, "column": 1, "end_line": 1, "end_column": 2,
        "node": None, "trace": None, "fix": None, "hint": "pass the drop probability"}]}
    validate(good)
    for mutate in (
        lambda d: d["findings"][0].update(extra=1),
        lambda d: d["findings"][0].pop("fix"),
        lambda d: d["findings"][0].pop("hint"),
        lambda d: d["findings"][0].update(line=0),
        lambda d: d["findings"][0].update(severity="fatal"),
        lambda d: d.update(extra=[]),
        lambda d: d.pop("summary"),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_output_with_findings_of_every_severity_validates(tmp_path):
    write(tmp_path, "warn.py", BUGGY)
    write(tmp_path, "err.py", ERROR_DROPOUT)
    write(tmp_path, "info.py", INFO_LOADER)
    write(tmp_path, "pkg/model.py", MODEL_RELU)
    write(tmp_path, "pkg/train.py", TRAIN_MSE)
    result = run_cli(["--format", "json", "--fail-on", "info", "warn.py", "err.py", "info.py", "pkg"], tmp_path)
    assert result.returncode == 1, result
    validate(result.json)
    assert {f["severity"] for f in result.json["findings"]} == {"error", "warning", "info"}
    assert {f["code"] for f in result.json["findings"]} >= {"NN001", "NN006", "NN007"}
    assert all(f["hint"] for f in result.json["findings"])  # every check has one


def test_clean_output_validates(tmp_path):
    write(tmp_path, "clean.py", CLEAN)
    result = run_cli(["--format", "json", "clean.py"], tmp_path)
    validate(result.json)
    assert result.json["findings"] == []


def test_engine_findings_validate(tmp_path):
    write(tmp_path, "syntax.py", "import torch\nx = = 1\n")
    write(tmp_path, "binary.py", b"\x00\x01\x02\x03")
    write(tmp_path, "unused.py", "import torch.nn as nn\nlayer = nn.Linear(3, 4)  # nnlint: ignore[NN007]\n")
    result = run_cli(["--format", "json", "--report-unused-suppressions", "syntax.py", "binary.py", "unused.py"],
                     tmp_path)
    assert result.returncode == 2, result
    validate(result.json)
    assert sorted(result.codes()) == ["NN901", "NN902", "NN903"]
    assert {f["hint"] for f in result.json["findings"]} == {None}  # the engine's codes give no advice
