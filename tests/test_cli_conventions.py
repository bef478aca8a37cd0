"""Ruff's command-line conventions: '-' and --stdin-filename, --output-file, --exit-zero,
--quiet, --statistics, a missing path, and no path at a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnlint.cli import default_paths

from .conftest import BUGGY, CLEAN, TWO_RULES, cli_env, run_cli, write

FIXTURES = Path(__file__).parent / "fixtures"


def run_stdin(args: list[str], cwd: Path, data: bytes) -> subprocess.CompletedProcess:
    """``python -m nnlint ARGS`` with ``data`` on standard input (pipes, never a tty)."""
    proc = subprocess.run([sys.executable, "-m", "nnlint", *args], cwd=str(cwd), env=cli_env(), input=data,
                          capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc


def findings(stdout: bytes) -> list[dict]:
    return json.loads(stdout)["findings"]


# ----------------------------------------------------------------------------- standard input

@pytest.mark.parametrize("name", ["dropout_spellings.py", "keras_spellings.py", "tf1_logits.py",
                                  "softmax_variants.py", "autoencoders.py"])
def test_stdin_gives_the_findings_of_the_file(name):
    folder = FIXTURES / "buggy"
    named = run_stdin(["--format", "json", name], folder, b"")
    piped = run_stdin(["--format", "json", "-", "--stdin-filename", name], folder, (folder / name).read_bytes())
    assert named.returncode == piped.returncode, (named, piped)
    assert findings(piped.stdout) == findings(named.stdout)
    assert all(f["path"] == name for f in findings(piped.stdout))


def test_stdin_imports_resolve_beside_its_name():
    """The model lives in model.py; train.py read from stdin still sees it."""
    folder = FIXTURES / "buggy" / "cross_file"
    named = run_stdin(["--format", "json", "train.py"], folder, b"")
    piped = run_stdin(["--format", "json", "-", "--stdin-filename", "train.py"], folder,
                      (folder / "train.py").read_bytes())
    assert findings(named.stdout), "the fixture must have a cross-file finding"
    assert findings(piped.stdout) == findings(named.stdout)


def test_stdin_is_read_not_the_file_of_that_name(tmp_path):
    """An editor sends the unsaved buffer: the disk's version (clean here) is not read, and the
    excerpt shows the piped line."""
    write(tmp_path, "net.py", CLEAN)
    proc = run_stdin(["-", "--stdin-filename", "net.py"], tmp_path, BUGGY.encode())
    assert proc.returncode == 1, proc
    text = proc.stdout.decode()
    assert text.startswith("net.py:") and "NN007" in text and "nn.Dropout(0.9)" in text, text
    clean = run_stdin(["-", "--stdin-filename", "net.py"], tmp_path, CLEAN.encode())
    assert clean.returncode == 0 and clean.stdout.decode() == "All checks passed (1 file linted).\n", clean


def test_stdin_needs_no_file_there_and_defaults_to_dash(tmp_path):
    proc = run_stdin(["-", "--stdin-filename", "sub/new_script.py", "--format", "json"], tmp_path, BUGGY.encode())
    assert proc.returncode == 1
    assert {f["path"] for f in findings(proc.stdout)} == {"sub/new_script.py"}
    bare = run_stdin(["-", "--format", "json"], tmp_path, BUGGY.encode())
    assert bare.returncode == 1 and {f["path"] for f in findings(bare.stdout)} == {"-"}
    alone = run_stdin(["--stdin-filename", "x.py", "--format", "json"], tmp_path, BUGGY.encode())  # as ruff
    assert alone.returncode == 1 and {f["path"] for f in findings(alone.stdout)} == {"x.py"}


def test_stdin_notebook(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# notes"]},
             {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [], "source": BUGGY}]
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    write(tmp_path, "saved.ipynb", notebook)
    named = run_stdin(["--format", "json", "saved.ipynb"], tmp_path, b"")
    piped = run_stdin(["--format", "json", "-", "--stdin-filename", "saved.ipynb"], tmp_path, notebook)
    assert findings(named.stdout) and findings(piped.stdout) == findings(named.stdout)
    assert findings(piped.stdout)[0]["cell"]["number"] == 2
    text = run_stdin(["-", "--stdin-filename", "piped.ipynb"], tmp_path, notebook).stdout.decode()
    assert text.startswith("piped.ipynb:cell 2:"), text


def test_stdin_over_the_cap_is_refused_like_a_file(tmp_path):
    big = b"x = 1\n" * 900_000  # 5.4 MB: over the 5 MB source cap
    proc = run_stdin(["-", "--stdin-filename", "big.py"], tmp_path, big)
    assert proc.returncode == 2
    assert "standard input too large to lint" in proc.stdout.decode(), proc
    assert proc.stdout.decode().startswith("big.py: NN902")


@pytest.mark.parametrize("args, message", [
    (["-", "--stdin-filename", "model.onnx"], "ONNX models are not read from standard input"),
    (["-", "other.py"], "linted alone"),
    (["other.py", "--stdin-filename", "x.py"], "give '-' as the path"),
    (["-", "--stdin-filename", "sub/"], "a file name is needed"),
])
def test_stdin_misuse_is_one_error_line(tmp_path, args, message):
    write(tmp_path, "other.py", CLEAN)
    proc = run_stdin(args, tmp_path, BUGGY.encode())
    assert proc.returncode == 2 and proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnlint: error: ") and message in lines[0], lines


# ----------------------------------------------------------------------------- --output-file

def test_output_file_creates_folders_and_keeps_stdout_empty(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["bug.py", "--format", "json", "--output-file", "reports/deep/nnlint.json"], tmp_path)
    assert result.returncode == 1 and result.stdout == "" and result.stderr == ""
    document = json.loads((tmp_path / "reports/deep/nnlint.json").read_text(encoding="utf-8"))
    assert [f["code"] for f in document["findings"]] == ["NN007"]


def test_output_file_text_has_no_colour_and_errors_stay_on_stderr(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["bug.py", "missing.py", "-o", "out.txt"], tmp_path, env=cli_env(FORCE_COLOR="1"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "nnlint: error: missing.py: no such file or directory"
    written = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert written.startswith("bug.py:") and "\033[" not in written


def test_output_file_that_cannot_be_written_is_one_line_before_linting(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    write(tmp_path, "a_file", "x")
    for target in ("a_file/report.txt", "."):
        result = run_cli(["bug.py", "--output-file", target], tmp_path)
        assert result.returncode == 2 and result.stdout == "", result
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"nnlint: error: --output-file {target}: cannot write it")


# ----------------------------------------------------------------------------- --exit-zero

def test_exit_zero_with_findings_clean_and_errors(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    write(tmp_path, "clean.py", CLEAN)
    found = run_cli(["bug.py", "--exit-zero"], tmp_path)
    assert found.returncode == 0 and "NN007" in found.stdout and found.stdout.rstrip().endswith("in 1 file.")
    clean = run_cli(["clean.py", "--exit-zero"], tmp_path)
    assert clean.returncode == 0 and clean.stdout == "All checks passed (1 file linted).\n"
    broken = run_cli(["bug.py", "nope.py", "--exit-zero"], tmp_path)  # an input error still fails
    assert broken.returncode == 2 and "nope.py: no such file" in broken.stderr
    usage = run_cli(["bug.py", "--exit-zero", "--select", "NOPE"], tmp_path)
    assert usage.returncode == 2


# ----------------------------------------------------------------------------- --quiet

@pytest.mark.slow
def test_quiet_prints_findings_without_summary(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    write(tmp_path, "clean.py", CLEAN)
    loud = run_cli(["bug.py"], tmp_path)
    quiet = run_cli(["bug.py", "-q"], tmp_path)
    assert quiet.returncode == loud.returncode == 1
    assert quiet.stdout.rstrip("\n") == loud.stdout.rstrip("\n").rsplit("\n", 1)[0].rstrip("\n")
    assert "Found" not in quiet.stdout and "NN007" in quiet.stdout
    clean = run_cli(["clean.py", "--quiet"], tmp_path)
    assert clean.returncode == 0 and clean.stdout == "" and clean.stderr == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    noted = run_cli(["empty", "clean.py"], tmp_path)
    assert "warning: empty: no Python" in noted.stderr
    silenced = run_cli(["empty", "clean.py", "--quiet"], tmp_path)
    assert silenced.stderr == "" and silenced.stdout == ""
    as_json = run_cli(["bug.py", "-q", "--format", "json"], tmp_path)  # the document is whole
    assert json.loads(as_json.stdout)["summary"]["findings"] == 1


# ----------------------------------------------------------------------------- --statistics

def test_statistics_counts_per_rule_most_frequent_first(tmp_path):
    write(tmp_path, "a.py", TWO_RULES)
    write(tmp_path, "b.py", BUGGY)
    full = json.loads(run_cli([".", "--format", "json"], tmp_path).stdout)["findings"]
    expected: dict[str, int] = {}
    for f in full:
        expected[f["code"]] = expected.get(f["code"], 0) + 1
    assert len(expected) >= 2 and sorted(expected.values()) != [1] * len(expected)
    result = run_cli([".", "--statistics"], tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    rows = [line.split("\t") for line in lines[:-1]]
    assert {code.strip(): int(count) for count, code, _ in rows} == expected
    assert [int(count) for count, _, _ in rows] == sorted(expected.values(), reverse=True)
    names = {f["code"]: f["name"] for f in full}
    assert all(name == names[code.strip()] for _, code, name in rows)
    assert lines[-1].startswith(f"Found {len(full)} findings")
    as_json = json.loads(run_cli([".", "--statistics", "--format", "json"], tmp_path).stdout)
    assert [(r["code"], r["count"]) for r in as_json] == [(c.strip(), int(n)) for n, c, _ in rows]
    assert run_cli([".", "--statistics", "-q"], tmp_path).stdout.splitlines() == lines[:-1]


def test_statistics_on_a_clean_file(tmp_path):
    write(tmp_path, "clean.py", CLEAN)
    text = run_cli(["clean.py", "--statistics"], tmp_path)
    assert text.returncode == 0 and text.stdout == "All checks passed (1 file linted).\n"
    as_json = run_cli(["clean.py", "--statistics", "--format", "json"], tmp_path)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    other = run_cli(["clean.py", "--statistics", "--format", "sarif"], tmp_path)
    assert other.returncode == 2 and other.stdout == ""
    assert other.stderr.splitlines() == ["nnlint: error: --statistics is written as text or json, not sarif"]


# ----------------------------------------------------------------------------- paths

def test_missing_path_is_one_error_line(tmp_path):
    result = run_cli(["nope.py"], tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["nnlint: error: nope.py: no such file or directory"]


def test_default_paths():
    assert default_paths([], None, interactive=True) == ["."]
    assert default_paths([], None, interactive=False) == []  # pre-commit with nothing, a CI script
    assert default_paths(["a.py"], None, interactive=True) == ["a.py"]
    assert default_paths([], "x.py", interactive=False) == ["-"]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_path_at_a_terminal_lints_the_current_folder(tmp_path):
    import pty

    write(tmp_path, "bug.py", BUGGY)
    leader, follower = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "nnlint", "--no-color"], cwd=str(tmp_path), env=cli_env(),
                          stdin=follower, stdout=follower, stderr=subprocess.PIPE) as proc:
        os.close(follower)  # the child holds the terminal; reading it while the child runs keeps it from blocking
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        proc.wait(timeout=120)
        errors = proc.stderr.read()
    os.close(leader)
    assert proc.returncode == 1 and not errors, (errors, output)
    text = output.decode().replace("\r\n", "\n")
    assert "bug.py:" in text and "NN007" in text and "in 1 file." in text, text
