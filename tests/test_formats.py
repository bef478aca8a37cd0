"""The CI formats (sarif, github, rdjson, gitlab, junit) over a whole corpus of buggy and clean
programs: each carries exactly one result per finding of ``--format json``, and SARIF and
rdjson validate against the schemas the repository ships (tests/schemas, copied verbatim)."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema  # a dev dependency
import pytest

from nnlint.engine import LintResult
from nnlint.findings import Finding
from nnlint.levels import Confidence, Severity
from nnlint.report import REPORTERS
from nnlint.report.github import escape_data, escape_property
from nnlint.report.rdjson import byte_column

from .conftest import BUGGY, BUGGY_LINE, REPO_ROOT, TWO_RULES, cli_env, run_cli, write

SCHEMAS = Path(__file__).parent / "schemas"
FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOK = {"cells": [
    {"cell_type": "markdown", "metadata": {}, "source": "# House prices"},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
     "source": ["%matplotlib inline\n", "import torch.nn as nn\n"]},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
     "source": ["model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.ReLU())\n",
                "loss = nn.MSELoss()(model(x), y)\n"]},
], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def rdjson_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "reviewdog-rdf" / "DiagnosticResult.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The buggy and correct fixture programs, a notebook and an ONNX model with a bad init."""
    onnx_builders = pytest.importorskip("tests.onnx_builders")
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(FIXTURES / "buggy", root / "buggy")
    shutil.copytree(FIXTURES / "correct", root / "correct")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "prices.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    (root / "models").mkdir()
    onnx_builders.save(onnx_builders.mlp(w1=onnx_builders.zeros_w1()), root / "models" / "zeros.onnx")
    return root


@pytest.fixture(scope="module")
def outputs(corpus) -> dict:
    found = {}
    for fmt in ("json", "sarif", "rdjson", "gitlab", "junit"):
        result = run_cli(["--format", fmt, "--fail-on", "info", "buggy", "correct", "notebooks", "models"], corpus,
                         timeout=600)
        assert result.returncode == 1, result
        found[fmt] = ET.fromstring(result.stdout) if fmt == "junit" else result.json
    return found


def test_registry_offers_every_format():
    assert {"text", "json", "sarif", "github", "rdjson", "gitlab", "junit"} <= set(REPORTERS)


@pytest.mark.slow
def test_sarif_validates_with_one_result_per_finding(outputs):
    sarif, findings = outputs["sarif"], outputs["json"]["findings"]
    sarif_validator().validate(sarif)
    run = sarif["runs"][0]
    assert len(run["results"]) == len(findings) > 20
    kinds = {"py": 0, "ipynb": 0, "onnx": 0}
    for result, finding in zip(run["results"], findings):
        location = result["locations"][0]
        physical = location["physicalLocation"]
        assert result["ruleId"] == finding["code"]
        assert physical["artifactLocation"] == {"uri": finding["path"], "uriBaseId": "%SRCROOT%"}
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[finding["severity"]]
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == finding["code"]
        assert finding["message"] in result["message"]["text"] and finding["hint"] in result["message"]["text"]
        kinds[finding["path"].rsplit(".", 1)[1]] += 1
        if "cell" in finding:  # the notebook's lines are JSON: the cell is in the property bag
            assert "region" not in physical
            assert result["properties"]["cell"] == finding["cell"]["number"]
            assert result["properties"]["cellLine"] == finding["cell"]["line"]
        elif finding["node"] is not None:  # ONNX: the node is a logical location, no region
            assert "region" not in physical
            assert location["logicalLocations"] == [
                {"name": finding["node"], "fullyQualifiedName": finding["node"], "kind": "function"}]
        else:
            assert physical["region"] == {"startLine": finding["line"], "startColumn": finding["column"],
                                          "endLine": finding["end_line"], "endColumn": finding["end_column"]}
    assert all(kinds.values()), kinds
    fingerprints = [r["partialFingerprints"]["nnlintFingerprint/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


@pytest.mark.slow
def test_sarif_describes_every_rule():
    result = run_cli(["--format", "sarif", "."], REPO_ROOT / "tests" / "fixtures" / "correct")
    sarif_validator().validate(result.json)
    rules = result.json["runs"][0]["tool"]["driver"]["rules"]
    listed = run_cli(["rules", "--format", "json"], REPO_ROOT).json
    by_id = {r["id"]: r for r in rules}
    assert {row["code"] for row in listed} <= set(by_id)
    assert {"NN901", "NN902", "NN999"} <= set(by_id)  # the engine's own codes too
    for row in listed:
        rule = by_id[row["code"]]
        explained = run_cli(["explain", row["code"]], REPO_ROOT).stdout
        assert rule["name"] == row["name"]
        assert rule["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning",
                                                         "info": "note"}[row["severity"]]
        assert rule["help"]["markdown"].split("\n\nHint: ")[0] in explained
        assert "## What it does" in rule["help"]["text"] and rule["shortDescription"]["text"].endswith(".")
        assert rule["fullDescription"]["text"].startswith(rule["shortDescription"]["text"][:-1])


@pytest.mark.slow
def test_rdjson_validates_with_one_diagnostic_per_finding(outputs):
    rdjson, findings = outputs["rdjson"], outputs["json"]["findings"]
    rdjson_validator().validate(rdjson)
    assert len(rdjson["diagnostics"]) == len(findings)
    for diagnostic, finding in zip(rdjson["diagnostics"], findings):
        assert diagnostic["code"] == {"value": finding["code"]}
        assert diagnostic["severity"] == finding["severity"].upper()
        assert diagnostic["source"] == {"name": "nnlint"}
        assert diagnostic["location"]["path"] == finding["path"]
        if "cell" in finding or finding["node"] is not None:
            assert "range" not in diagnostic["location"]
        else:
            assert diagnostic["location"]["range"]["start"]["line"] == finding["line"]
            assert diagnostic["location"]["range"]["end"]["line"] == finding["end_line"]


def test_rdjson_columns_count_utf8_bytes(tmp_path):
    write(tmp_path, "net.py", BUGGY.replace("self.drop = ", "self.drop = ('é', ")[:-1].replace(
        "nn.Dropout(0.9)", "nn.Dropout(0.9))[1]"))
    findings = run_cli(["--format", "json", "net.py"], tmp_path).json["findings"]
    rdjson = run_cli(["--format", "rdjson", "net.py"], tmp_path).json
    rdjson_validator().validate(rdjson)
    (finding,) = [f for f in findings if f["code"] == "NN007"]
    (diagnostic,) = [d for d in rdjson["diagnostics"] if d["code"]["value"] == "NN007"]
    assert diagnostic["location"]["range"]["start"]["column"] == finding["column"] + 1  # é is two bytes
    assert byte_column("a\U00010400b", 3) == 6 and byte_column("abc", 2) == 2


def _fingerprints(tmp_path, text: str) -> dict:
    write(tmp_path, "net.py", text)
    sarif = run_cli(["--format", "sarif", "net.py"], tmp_path).json
    return {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]):
            r["partialFingerprints"]["nnlintFingerprint/v1"] for r in sarif["runs"][0]["results"]}


def test_fingerprints_survive_lines_moving_and_tell_findings_apart(tmp_path):
    before = _fingerprints(tmp_path, BUGGY)
    lines = BUGGY.splitlines(keepends=True)
    moved = _fingerprints(tmp_path, "".join(lines[:BUGGY_LINE - 1] + ["\n"] + lines[BUGGY_LINE - 1:]))
    assert before[("NN007", BUGGY_LINE)] == moved[("NN007", BUGGY_LINE + 1)]
    two = _fingerprints(tmp_path, BUGGY.replace("        self.drop = nn.Dropout(0.9)\n",
                                                "        self.drop = nn.Dropout(0.9)\n"
                                                "        self.drop2 = nn.Dropout(0.8)\n"))
    assert len(set(two.values())) == len(two) >= 2
    # the same line twice (a copy-pasted layer): still two fingerprints
    twice = _fingerprints(tmp_path, BUGGY.replace("        self.drop = nn.Dropout(0.9)\n",
                                                  "        self.drop = nn.Dropout(0.9)\n" * 2))
    assert len(set(twice.values())) == len(twice) >= 2


def test_sarif_reports_unreadable_inputs_as_notifications(tmp_path):
    write(tmp_path, "binary.py", b"\x00\x01\x02")
    result = run_cli(["--format", "sarif", "binary.py", "missing.py"], tmp_path)
    assert result.returncode == 2, result
    sarif_validator().validate(result.json)
    (invocation,) = result.json["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any("missing.py" in n for n in notes) and any("binary.py" in n for n in notes)


@pytest.mark.slow
def test_onnx_finding_has_a_logical_location_and_no_region(outputs):
    onnx_results = [r for r in outputs["sarif"]["runs"][0]["results"]
                    if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".onnx")]
    assert onnx_results
    for result in onnx_results:
        location = result["locations"][0]
        assert "region" not in location["physicalLocation"]
        assert location["logicalLocations"][0]["name"] == "fc1"


def test_github_escaping():
    assert escape_data("90% of units\r\nnext") == "90%25 of units%0D%0Anext"
    assert escape_data("a: b, c") == "a: b, c"  # the message keeps colons and commas
    assert escape_property("dir,x/a:b.py%\n") == "dir%2Cx/a%3Ab.py%25%0A"
    assert escape_property("%3A") == "%253A"  # escaped once, percent first


def test_github_annotations(tmp_path):
    write(tmp_path, "odd, name:1.py", BUGGY)
    result = run_cli(["--format", "github", "odd, name:1.py"], tmp_path)
    assert result.returncode == 1, result
    (line,) = result.stdout.splitlines()
    head, message = line.split("::", 2)[1:]
    assert head == (f"warning file=odd%2C name%3A1.py,line={BUGGY_LINE},col=21,endLine={BUGGY_LINE},"
                    "endColumn=36,title=NN007 dropout-keep-drop-confusion")
    assert "drops 90%25 of units" in message and "%0Ahint: " in message and "\n" not in message
    assert "::" not in message


def test_github_annotates_run_errors_once(tmp_path):
    write(tmp_path, "binary.py", b"\x00\x01\x02")  # an NN902 finding, and a run error
    write(tmp_path, "net.py", BUGGY)
    write(tmp_path, "model.onnx", b"not read: onnx is missing")
    write(tmp_path, "fake/onnx/__init__.py", "raise ModuleNotFoundError('No module named onnx', name='onnx')\n")
    result = run_cli(["--format", "github", "binary.py", "net.py", "model.onnx", "gone, 100%.py"], tmp_path,
                     env=cli_env(PYTHONPATH=str(tmp_path / "fake")))
    assert result.returncode == 2, result
    lines = result.stdout.splitlines()
    assert [line.split("::")[1].split(",")[0] for line in lines] == [
        "error file=binary.py", "warning file=net.py", "error", "error file=model.onnx"]
    # an input that does not exist names no file; a linted file's error is annotated on it
    assert lines[2] == "::error::gone, 100%25.py: no such file or directory"
    assert lines[3] == ("::error file=model.onnx::linting ONNX files needs the onnx package (onnx is missing): "
                        "pip install 'nnlint[onnx]'")
    # stderr still says each error, and not the one its finding already says
    assert [line for line in result.stderr_lines if "binary.py" in line] == []
    assert any("model.onnx: linting ONNX files" in line for line in result.stderr_lines)
    assert any("gone, 100%.py: no such file" in line for line in result.stderr_lines)


def test_run_errors_name_a_linted_file_only():
    result = LintResult(errors=["a: b.py: internal error (KeyError: 'x'); please report it",
                                "dir: cannot read folder (Permission denied); skipped",
                                "internal error in --trace (ValueError); please report it"],
                        paths=["a: b.py", "dir/c.py"])
    out = io.StringIO()
    REPORTERS["github"](result, out)
    assert out.getvalue().splitlines() == [
        "::error file=a%3A b.py::internal error (KeyError: 'x'); please report it",
        "::error::dir: cannot read folder (Permission denied); skipped",
        "::error::internal error in --trace (ValueError); please report it"]


def _finding_kind(finding: dict) -> str:
    return "cell" if "cell" in finding else "node" if finding["node"] is not None else "line"


@pytest.mark.slow
def test_gitlab_one_issue_per_finding(outputs):
    issues, findings = outputs["gitlab"], outputs["json"]["findings"]
    assert isinstance(issues, list) and len(issues) == len(findings) > 20
    kinds = set()
    for issue, finding in zip(issues, findings):
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["check_name"] == finding["code"]
        assert issue["description"].startswith(finding["code"] + ": ")
        assert finding["message"] in issue["description"] and finding["hint"] in issue["description"]
        assert issue["severity"] == {"error": "major", "warning": "minor", "info": "info"}[finding["severity"]]
        assert issue["location"]["path"] == finding["path"]
        lines = issue["location"]["lines"]
        kind = _finding_kind(finding)
        kinds.add((kind, finding["path"].rsplit(".", 1)[1]))
        if kind == "cell":  # the notebook's lines are JSON: the cell and line are in the description
            assert lines == {"begin": 1}
            assert f"cell {finding['cell']['number']}, line {finding['cell']['line']}: " in issue["description"]
        elif kind == "node":  # ONNX: no line, the node named
            assert lines == {"begin": 1} and f"node {finding['node']}: " in issue["description"]
        else:
            assert lines["begin"] == finding["line"] and lines.get("end", finding["line"]) == finding["end_line"]
    assert kinds == {("cell", "ipynb"), ("node", "onnx"), ("line", "py")}
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)  # GitLab keys its issues on it
    assert fingerprints == [r["partialFingerprints"]["nnlintFingerprint/v1"]
                            for r in outputs["sarif"]["runs"][0]["results"]]


def _gitlab(tmp_path, text: str) -> dict:
    write(tmp_path, "net.py", text)
    issues = run_cli(["--format", "gitlab", "net.py"], tmp_path).json
    return {(i["check_name"], i["location"]["lines"]["begin"]): i["fingerprint"] for i in issues}


def test_gitlab_fingerprints_survive_lines_moving_and_tell_findings_apart(tmp_path):
    before = _gitlab(tmp_path, TWO_RULES)
    moved = _gitlab(tmp_path, "# a comment\n\n" + TWO_RULES)
    assert len(before) == 2 and {code for code, _ in before} == {"NN003", "NN007"}
    assert moved == {(code, line + 2): fingerprint for (code, line), fingerprint in before.items()}
    twice = _gitlab(tmp_path, BUGGY.replace("        self.drop = nn.Dropout(0.9)\n",
                                            "        self.drop = nn.Dropout(0.9)\n" * 2))
    assert len(set(twice.values())) == len(twice) == 2


@pytest.mark.slow
def test_junit_one_failure_per_finding(outputs):
    root, findings = outputs["junit"], outputs["json"]["findings"]
    assert root.tag == "testsuites" and root.get("name") == "nnlint"
    assert root.get("tests") == root.get("failures") == str(len(findings)) and root.get("errors") == "0"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == list(dict.fromkeys(f["path"] for f in findings))
    cases = [c for s in suites for c in s.findall("testcase")]
    assert len(cases) == len(findings)
    for suite in suites:
        assert suite.get("tests") == suite.get("failures") == str(len(suite.findall("testcase")))
    kinds = set()
    for case, finding in zip(cases, findings):
        (failure,) = case
        assert failure.tag == "failure" and failure.get("type") == finding["code"]
        assert failure.get("message") == finding["message"]
        assert case.get("name") == f"nnlint.{finding['code']}" and case.get("file") == finding["path"]
        assert case.get("classname") == finding["path"].rsplit(".", 1)[0]
        assert failure.text.endswith(f"{finding['message']}\nhint: {finding['hint']}")
        kind = _finding_kind(finding)
        kinds.add(kind)
        if kind == "line":
            assert (case.get("line"), case.get("column")) == (str(finding["line"]), str(finding["column"]))
            assert failure.text.startswith(f"line {finding['line']}, col {finding['column']}, ")
        else:
            assert case.get("line") is None
            assert failure.text.startswith(f"cell {finding['cell']['number']}, line {finding['cell']['line']}, "
                                           if kind == "cell" else f"node {finding['node']}, ")
    assert kinds == {"cell", "node", "line"}


def test_junit_escapes_and_reports_run_errors(tmp_path):
    write(tmp_path, 'a<&"b>.py', BUGGY)
    result = run_cli(["--format", "junit", 'a<&"b>.py', 'no<&"such>.py'], tmp_path)
    assert result.returncode == 2, result
    root = ET.fromstring(result.stdout)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "1")
    found, missing = root.findall("testsuite")
    assert found.get("name") == 'a<&"b>.py' and found[0].get("classname") == 'a<&"b>'
    assert found[0][0].get("type") == "NN007"
    assert missing.get("name") == "nnlint" and missing.get("errors") == "1"
    (error,) = missing[0]
    assert error.tag == "error" and error.get("message") == error.text == 'no<&"such>.py: no such file or directory'


def test_junit_escapes_messages_and_says_a_clean_run_passed():
    finding = Finding(code="NN007", name="dropout-keep-drop-confusion", severity=Severity.WARNING,
                      confidence=Confidence.CERTAIN, message='x < 1 && y > "2"\x1b[0m', path="m.py", line=3, column=5)
    out = io.StringIO()
    REPORTERS["junit"](LintResult(findings=[finding], paths=["m.py"]), out)
    text = out.getvalue()
    assert '&lt; 1 &amp;&amp; y &gt; &quot;2&quot;\\x1b[0m"' in text  # the attribute, escaped
    (failure,) = ET.fromstring(text).iter("failure")
    assert failure.get("message") == 'x < 1 && y > "2"\\x1b[0m'  # XML cannot carry ESC: written as \x1b
    assert failure.text.startswith('line 3, col 5, x < 1 && y > "2"')
    clean = io.StringIO()
    REPORTERS["junit"](LintResult(paths=["m.py"]), clean)
    root = ET.fromstring(clean.getvalue())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")
    (case,) = root.iter("testcase")
    assert case.get("name") == "No errors found" and len(case) == 0
