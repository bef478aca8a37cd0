"""Inputs that are not clean Python: nnlint reports them and still lints the other files."""

from __future__ import annotations

import re

import pytest

from .conftest import BUGGY, BUGGY_LINE, CLEAN, MODEL_RELU, MODEL_RELU_LINE, TRAIN_MSE, run_cli, write


def findings_of(result, path):
    return [f for f in result.json["findings"] if f["path"] == path]


# ----------------------------------------------------------------------------- syntax errors

SYNTAX_CASES = {
    # name: (source, expected line); the expected line is where CPython puts the error
    "last-line": ("import torch.nn as nn\n\nmodel = = nn.Linear(4, 2)\n", 3),
    "open-operator-last-line": ("import torch.nn as nn\n\n\ndef f(x):\n    return x +\n", 5),
    "double-assign-mid-file": ("import torch.nn as nn\n\nmodel = = nn.Linear(4, 2)\nprint(model)\nx = 1\n", 3),
    "missing-colon": ("import torch.nn as nn\n\n\ndef train(model)\n    return model\n", 4),
    "bad-operator": ("import torch.nn as nn\n\n\nmodel = nn.Linear(4, 2) +* 3\nprint(model)\n", 4),
}


def test_syntax_error_is_a_finding_and_other_files_are_linted(tmp_path):
    source, line = SYNTAX_CASES["last-line"]
    compile_line = _cpython_line(source)
    assert compile_line == line
    write(tmp_path, "broken.py", source)
    write(tmp_path, "bug.py", BUGGY)
    write(tmp_path, "model.py", MODEL_RELU)
    write(tmp_path, "train.py", TRAIN_MSE)
    result = run_cli(["--format", "json", "broken.py", "bug.py", "model.py", "train.py"], tmp_path)
    assert result.returncode == 1, result
    [syntax] = findings_of(result, "broken.py")
    assert (syntax["code"], syntax["name"], syntax["severity"]) == ("NN901", "syntax-error", "error")
    assert syntax["line"] == line
    assert [f["code"] for f in findings_of(result, "bug.py")] == ["NN007"]
    assert [f["code"] for f in findings_of(result, "model.py")] == ["NN001"]
    assert result.json["summary"]["files"] == 4


def test_syntax_error_in_text_output(tmp_path):
    write(tmp_path, "broken.py", SYNTAX_CASES["last-line"][0])
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["broken.py", "bug.py"], tmp_path)
    assert result.returncode == 1, result
    assert "broken.py:3:" in result.stdout and "NN901 [error]" in result.stdout
    assert f"bug.py:{BUGGY_LINE}:" in result.stdout


def test_syntax_error_in_a_walked_folder(tmp_path):
    write(tmp_path, "proj/a_broken.py", "def f(:\n    pass\n")
    write(tmp_path, "proj/z_bug.py", BUGGY)
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.codes() == ["NN901", "NN007"], result


def _cpython_line(source: str) -> int:
    try:
        compile(source, "x.py", "exec")
    except SyntaxError as exc:
        return exc.lineno
    raise AssertionError("the fixture must be invalid Python")


@pytest.mark.parametrize(
    "case",
    [
        "last-line",
        "open-operator-last-line",
        "double-assign-mid-file",
        "missing-colon",
        "bad-operator",
    ],
)
def test_syntax_error_reports_the_line_of_the_error(tmp_path, case):
    source, line = SYNTAX_CASES[case]
    assert _cpython_line(source) == line
    write(tmp_path, "broken.py", source)
    result = run_cli(["--format", "json", "broken.py"], tmp_path)
    [finding] = result.json["findings"]
    assert finding["code"] == "NN901"
    assert finding["line"] == line, finding


# ----------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00", "binary"),
        (b"import torch\x00\x01\x02\x03\n", "binary"),
        ("# caf\u00e9: Latin-1 text\nx = 1\n".encode("latin-1"), "UTF-8"),
        (b"import torch.nn as nn\nname = '\xff\xfe'\n", "UTF-8"),
    ],
    ids=["elf", "nul-bytes", "latin-1", "invalid-utf8"],
)
def test_unreadable_file_is_nn902_and_exit_2(tmp_path, content, words):
    write(tmp_path, "x.py", content)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "x.py", "bug.py"], tmp_path)
    assert result.returncode == 2, result
    [unreadable] = findings_of(result, "x.py")
    assert (unreadable["code"], unreadable["name"], unreadable["severity"]) == ("NN902", "unreadable-file", "error")
    assert words.lower() in unreadable["message"].lower()
    assert "\n" not in unreadable["message"]
    assert [f["code"] for f in findings_of(result, "bug.py")] == ["NN007"]


def test_unreadable_file_in_text_output_is_one_line(tmp_path):
    write(tmp_path, "x.py", b"\x00\x01\x02binary\xff\xfe")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["x.py", "bug.py"], tmp_path)
    assert result.returncode == 2, result
    lines = result.stdout.splitlines()
    mentions = [i for i, line in enumerate(lines) if "x.py" in line]
    assert len(mentions) == 1, result
    [index] = mentions
    assert re.fullmatch(r"x\.py(:\d+:\d+)?: NN902 \[error\] .+", lines[index]), lines[index]
    assert lines[index + 1].strip() == "", "no source excerpt under an unreadable file"
    assert f"bug.py:{BUGGY_LINE}:" in result.stdout
    assert "x.py" not in result.stderr or len(result.stderr_lines) == 1


def test_unreadable_file_in_a_walked_folder(tmp_path):
    write(tmp_path, "proj/data.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path, "proj/bug.py", BUGGY)
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.returncode == 2, result
    assert sorted(result.codes()) == ["NN007", "NN902"]


def test_huge_file_is_nn902(tmp_path):
    big = write(tmp_path, "huge.py", b"# padding\n" * 520_000)  # 5.2 MB of valid Python
    assert big.stat().st_size > 5_000_000
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "huge.py", "bug.py"], tmp_path, timeout=60)
    assert result.returncode == 2, result
    [finding] = findings_of(result, "huge.py")
    assert finding["code"] == "NN902"
    assert "large" in finding["message"] or "big" in finding["message"], finding
    assert [f["code"] for f in findings_of(result, "bug.py")] == ["NN007"]


def test_empty_and_bom_files(tmp_path):
    write(tmp_path, "empty.py", "")
    write(tmp_path, "bom.py", b"\xef\xbb\xbf" + BUGGY.encode())
    result = run_cli(["--format", "json", "empty.py", "bom.py"], tmp_path)
    assert [(f["path"], f["code"], f["line"]) for f in result.json["findings"]] == [("bom.py", "NN007", BUGGY_LINE)]
    assert result.returncode == 1


# ----------------------------------------------------------------------------- paths


def test_missing_path(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["nope.py", "bug.py"], tmp_path)
    assert result.returncode == 2, result
    assert result.stderr_lines == ["nnlint: error: nope.py: no such file or directory"], result
    assert f"bug.py:{BUGGY_LINE}:" in result.stdout  # the other file is still linted


def test_missing_path_alone(tmp_path):
    result = run_cli(["--format", "json", "missing/dir"], tmp_path)
    assert result.returncode == 2, result
    assert result.stderr_lines == ["nnlint: error: missing/dir: no such file or directory"], result


def test_a_missing_path_alone_is_one_error_line_and_no_summary(tmp_path):
    result = run_cli(["nope.py"], tmp_path)
    assert result.returncode == 2, result
    assert result.stderr_lines == ["nnlint: error: nope.py: no such file or directory"], result
    assert result.stdout == "", result  # no "All checks passed (0 files linted)"


def test_a_clean_file_beside_a_missing_one_does_not_claim_all_checks_passed(tmp_path):
    write(tmp_path, "clean.py", "x = 1\n")
    result = run_cli(["clean.py", "nope.py"], tmp_path)
    assert result.returncode == 2, result
    assert result.stdout.strip() == "No findings in 1 file linted; 1 input could not be read.", result


def test_folder_without_python_files(tmp_path):
    write(tmp_path, "docs/readme.md", "# nn.Dropout(0.9)\n")
    write(tmp_path, "docs/data.csv", "a,b\n1,2\n")
    result = run_cli(["docs"], tmp_path)
    assert result.returncode == 0, result
    assert len(result.stderr_lines) == 1, result
    assert "warning" in result.stderr_lines[0] and "docs" in result.stderr_lines[0]
    assert "NN" not in result.stdout


def test_empty_folder_next_to_a_real_one(tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path, "src/bug.py", BUGGY)
    result = run_cli(["--format", "json", "empty", "src"], tmp_path)
    assert result.returncode == 1, result
    assert len(result.stderr_lines) == 1 and "empty" in result.stderr_lines[0]
    assert result.codes() == ["NN007"]


# ----------------------------------------------------------------------------- pathological code


@pytest.mark.parametrize(
    "expression",
    ["[" * 900 + "]" * 900, "-" * 3000 + "1", "a." * 2000 + "b", "f(" * 900 + ")" * 900],
    ids=["lists", "unary", "attributes", "calls"],
)
def test_deep_code_does_not_crash_and_others_are_linted(tmp_path, expression):
    write(tmp_path, "deep.py", "import torch\nx = " + expression + "\n")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "deep.py", "bug.py"], tmp_path, timeout=60)
    assert result.returncode in (0, 1, 2), result
    assert [f["code"] for f in findings_of(result, "bug.py")] == ["NN007"]


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_deeply_nested_parentheses_do_not_crash(tmp_path, jobs):
    write(tmp_path, "deep.py", "x = " + "(" * 5000 + ")" * 5000 + "\n")
    for i in range(8):  # enough files for --jobs 4 to use worker processes
        write(tmp_path, f"m{i}.py", BUGGY if i == 0 else CLEAN)
    result = run_cli(["--format", "json", "--jobs", jobs, "."], tmp_path, timeout=60)
    assert result.returncode in (1, 2), result  # a crash is a negative code (signal) or a traceback
    [deep] = findings_of(result, "deep.py")
    assert deep["code"] in ("NN901", "NN902", "NN999"), deep
    assert [f["code"] for f in findings_of(result, "m0.py")] == ["NN007"], result


def test_cross_file_model_and_loss(tmp_path):
    write(tmp_path, "model.py", MODEL_RELU)
    write(tmp_path, "train.py", TRAIN_MSE)
    for args in (["model.py", "train.py"], ["train.py", "model.py"], ["."]):
        result = run_cli(["--format", "json", *args], tmp_path)
        assert result.returncode == 1, result
        assert [(f["code"], f["path"], f["line"]) for f in result.json["findings"]] == [
            ("NN001", "model.py", MODEL_RELU_LINE)
        ], result
        assert "MSELoss" in result.json["findings"][0]["message"]


def test_deeply_nested_unary_operators_do_not_crash(tmp_path):
    write(tmp_path, "deep.py", "import torch\nx = " + "not " * 20000 + "x\n")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "deep.py", "bug.py"], tmp_path, timeout=60)
    assert result.returncode in (1, 2), result  # a crash is a negative code (signal)
    [deep] = findings_of(result, "deep.py")
    assert deep["code"] in ("NN901", "NN902", "NN999"), deep
    assert [f["code"] for f in findings_of(result, "bug.py")] == ["NN007"], result


def test_a_pep263_coding_declaration_is_honoured(tmp_path):
    source = "# -*- coding: iso-8859-1 -*-\nimport torch.nn as nn\nname = 'caf\xe9'\nd = nn.Dropout(0.9)\n"
    (tmp_path / "latin.py").write_bytes(source.encode("iso-8859-1"))
    result = run_cli(["--format", "json", "latin.py"], tmp_path)
    assert [f["code"] for f in result.json["findings"]] == ["NN007"], result


def test_valid_python_the_parser_cannot_read_is_advice_not_an_error(tmp_path):
    """A ``match`` statement is parsed by libcst (nnlint.ast_to_cst does not convert it), whose
    grammar lacks an annotated parenthesized name: advice, and the other files are linted."""
    write(tmp_path, "odd.py", "def f():\n    x: int = 1\n    match x:\n        case 1:\n            (x): int = 2\n")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "odd.py", "bug.py"], tmp_path)
    odd = [f for f in result.json["findings"] if f["path"] == "odd.py"]
    assert [(f["code"], f["severity"]) for f in odd] == [("NN904", "info")], result
    assert any(f["path"] == "bug.py" for f in result.json["findings"])


def test_valid_python_only_libcst_cannot_read_is_read(tmp_path):
    """Without a ``match``, the file is read from CPython's tree: nothing is left unread."""
    write(tmp_path, "odd.py", "import torch.nn as nn\n\n\ndef f():\n    x: int = 1\n    (x): int = 2\n"
                              "    return nn.Dropout(0.9)\n\n\nf()\n")
    result = run_cli(["--format", "json", "odd.py"], tmp_path)
    assert [f["code"] for f in result.json["findings"]] == ["NN007"], result
