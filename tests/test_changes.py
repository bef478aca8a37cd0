"""Changed lines only: ``--diff FILE|-`` and ``--diff-base REF`` keep the findings on the lines
a change added (renames, deletions, binary files and notebooks included)."""

from __future__ import annotations

import io
import os
import json
import shutil
import subprocess
import sys

import pytest

from nnlint import changes, cli
from nnlint.notebook import file_lines

# Each Dropout(0.9) line is one NN007 finding.
OLD = """\
import torch.nn as nn

model = nn.Sequential(
    nn.Linear(784, 256),
    nn.ReLU(),
    nn.Dropout(0.9),
    nn.Linear(256, 10),
)
"""
NEW = OLD.replace("    nn.Linear(256, 10),\n", "    nn.Linear(256, 64),\n    nn.Dropout(0.9),\n    nn.Linear(64, 10),\n")


def lint_json(monkeypatch, capsys, *argv) -> list[dict]:
    code = cli.main(["--format", "json", *argv])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    return json.loads(out.out)["findings"]


def git(root, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "net.py").write_text(OLD)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "feature")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_only_the_added_line_is_reported(repo, monkeypatch, capsys):
    (repo / "net.py").write_text(NEW)
    assert [f["line"] for f in lint_json(monkeypatch, capsys, "net.py")] == [6, 8]
    assert [f["line"] for f in lint_json(monkeypatch, capsys, "--diff-base", "main")] == [8]
    assert [f["line"] for f in lint_json(monkeypatch, capsys, "--diff-base", "main", "net.py")] == [8]


def test_diff_on_standard_input_equals_diff_base(repo, monkeypatch, capsys):
    (repo / "net.py").write_text(NEW)
    git(repo, "commit", "-q", "-am", "more dropout")
    diff = git(repo, "diff", "main...HEAD")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(diff.encode())))
    assert [f["line"] for f in lint_json(monkeypatch, capsys, "--diff", "-")] == [8]
    (repo / "change.diff").write_text(diff)
    assert [f["line"] for f in lint_json(monkeypatch, capsys, "--diff", "change.diff")] == [8]


def test_merge_base_ignores_what_the_base_branch_did_since(repo, monkeypatch, capsys):
    """Lines the base branch added after the fork are not the branch's change."""
    git(repo, "checkout", "-q", "main")
    (repo / "other.py").write_text(OLD)
    git(repo, "add", "other.py")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "feature")
    (repo / "net.py").write_text(NEW)
    assert [(f["path"], f["line"]) for f in lint_json(monkeypatch, capsys, "--diff-base", "main")] == [("net.py", 8)]


def test_renamed_file_is_known_by_its_new_path(repo, monkeypatch, capsys):
    git(repo, "mv", "net.py", "model.py")
    (repo / "model.py").write_text(NEW)
    git(repo, "commit", "-q", "-am", "rename and edit")
    assert [(f["path"], f["line"]) for f in lint_json(monkeypatch, capsys, "--diff-base", "main")] == [("model.py", 8)]


def test_pure_rename_and_deletion_report_nothing(repo, monkeypatch, capsys):
    (repo / "gone.py").write_text(OLD)
    git(repo, "add", "gone.py")
    git(repo, "commit", "-q", "-m", "two")
    git(repo, "mv", "net.py", "moved.py")
    git(repo, "rm", "-q", "gone.py")
    git(repo, "commit", "-q", "-m", "move and delete")
    assert cli.main(["--diff-base", "HEAD~1"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "leaves no Python, notebook or ONNX file" in out.err


def test_binary_file_keeps_all_its_findings(repo, monkeypatch, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    model = helper.make_model(helper.make_graph(
        [helper.make_node("Dropout", ["x"], ["y"], ratio=0.9, name="drop")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]), opset_imports=[helper.make_opsetid("", 11)])
    onnx.save(model, str(repo / "model.onnx"))
    git(repo, "add", "model.onnx")
    found = lint_json(monkeypatch, capsys, "--diff-base", "main")
    assert found and {f["path"] for f in found} == {"model.onnx"} and "NN007" in {f["code"] for f in found}
    assert all(f["line"] is None for f in found)


def notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                  "source": c.splitlines(keepends=True)} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_notebook_cells_are_mapped_to_the_diff_lines(repo, monkeypatch, capsys):
    first = "import torch.nn as nn\n"
    (repo / "nb.ipynb").write_text(notebook(first, OLD.split("\n", 1)[1]))
    git(repo, "add", "nb.ipynb")
    git(repo, "commit", "-q", "-m", "notebook")
    (repo / "nb.ipynb").write_text(notebook(first, NEW.split("\n", 1)[1]))
    everything = lint_json(monkeypatch, capsys, "nb.ipynb")
    assert [f["cell"] for f in everything] == [{"number": 2, "line": 5}, {"number": 2, "line": 7}]
    kept = lint_json(monkeypatch, capsys, "--diff-base", "HEAD")
    assert [f["cell"] for f in kept] == [{"number": 2, "line": 7}]


def test_file_lines_of_notebook_sources():
    text = notebook("a = 1\nb = 2\n", "c = '[{,:}\\\"'\n")
    lines = text.splitlines()
    mapped = file_lines(text)
    assert [lines[n - 1].strip() for n in mapped[1]] == ['"a = 1\\n",', '"b = 2\\n"']
    assert lines[mapped[2][0] - 1].strip().startswith('"c = ')
    # a source written as one string: its lines share the file line; metadata "source" is not a cell's
    doc = json.dumps({"cells": [{"cell_type": "markdown", "source": "# t", "metadata": {"source": ["x"]}},
                                {"cell_type": "code", "source": "x = 1\ny = 2"}]}, indent=1)
    assert file_lines(doc)[2] == [doc.splitlines().index('   "source": "x = 1\\ny = 2"') + 1] * 2
    assert 1 in file_lines(doc) and len(file_lines(doc)[1]) == 1
    # nbformat 3: cells inside worksheets, the source called "input"
    old = json.dumps({"worksheets": [{"cells": [{"cell_type": "code", "input": ["p\n", "q"]}]},
                                     {"cells": [{"cell_type": "code", "input": ["r"]}]}]}, indent=1)
    assert [len(v) for v in file_lines(old).values()] == [2, 1]
    assert file_lines('{"cells": [{"source": ["a",') == {1: [1]}  # a cut document: what was read


def test_diff_without_git_prefixes():
    text = "--- net.py\n+++ net.py\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"
    parsed = changes.parse(text)
    assert parsed.added == {"net.py": frozenset({2})} and parsed.shown == {"net.py": frozenset({1, 2, 3})}


@pytest.mark.parametrize("argv, message", [
    (["--diff-base", "no-such-ref"], "--diff-base no-such-ref: git diff failed"),
    (["--diff-base=--output=x"], "a ref cannot start with '-'"),
    (["--diff-base", "main", "--diff", "x.diff"], "give one"),
    (["--diff", "missing.diff"], "--diff missing.diff: cannot read it"),
    (["--diff", "-", "-"], "both read standard input"),
])
def test_bad_change_is_one_error_line(repo, capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_text_that_is_not_a_diff_is_one_error_line(repo, monkeypatch, capsys):
    (repo / "x.diff").write_text("hello, this is not a diff\n")
    assert cli.main(["--diff", "x.diff"]) == 2
    assert "the diff cannot be read" in capsys.readouterr().err


def test_a_diff_over_the_cap_is_refused_unread(repo, monkeypatch, capsys):
    (repo / "net.py").write_text(NEW)
    monkeypatch.setattr(changes, "MAX_DIFF_BYTES", 64)
    assert cli.main(["--diff-base", "main"]) == 2
    err = capsys.readouterr().err
    assert "--diff-base main: the diff is over" in err and len(err.strip().splitlines()) == 1


def test_a_git_that_hangs_is_stopped(repo, monkeypatch, capsys, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nexec sleep 30\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(changes, "GIT_SECONDS", 0.5)
    assert cli.main(["--diff-base", "main"]) == 2
    assert "git took over 0.5 s to write the diff" in capsys.readouterr().err
