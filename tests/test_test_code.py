"""Test code: pitfall findings in files pytest would collect are info, not failures.

Tests build toy models to check mechanics (an optimizer's state saved and reloaded with
``lr=1.0``, a bias-free layer, a loader left unshuffled), not to train them well; on public
repositories those were a third of all false alarms. ``test-files`` in ``[tool.nnlint]``
changes the patterns (``test-files = []`` lints tests as training code).
"""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli, write

ADAM_LR_1 = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=1.0)
"""


def _severities(tmp_path, *args):
    result = run_cli(["--format", "json", *args], cwd=tmp_path)
    return {f["path"]: (f["severity"], f["confidence"]) for f in json.loads(result.stdout)["findings"]
            if f["code"] == "NN105"}, result.returncode


@pytest.mark.parametrize("path", ["tests/test_optim.py", "pkg/tests/helpers.py", "test/unit/case.py",
                                  "src/optim_test.py", "conftest.py", "test_optim.py"])
def test_a_finding_in_test_code_is_info(tmp_path, path):
    write(tmp_path, path, ADAM_LR_1)
    found, code = _severities(tmp_path, ".")
    assert found == {path: ("info", "possible")}
    assert code == 0  # info does not fail the run (default --fail-on warning)


@pytest.mark.parametrize("path", ["train.py", "test.py", "testing/loop.py", "latest.py", "contest/run.py"])
def test_training_code_beside_tests_keeps_its_severity(tmp_path, path):
    write(tmp_path, path, ADAM_LR_1)
    write(tmp_path, "tests/test_optim.py", ADAM_LR_1)
    found, code = _severities(tmp_path, ".")
    assert found["tests/test_optim.py"] == ("info", "possible")
    assert found[path][0] == "warning"
    assert code == 1


def test_files_named_on_the_command_line_are_judged_by_their_place_in_the_project(tmp_path):
    write(tmp_path, "tests/test_optim.py", ADAM_LR_1)
    found, _ = _severities(tmp_path, "tests/test_optim.py")  # as pre-commit passes them
    assert found == {"tests/test_optim.py": ("info", "possible")}


def test_test_files_setting_replaces_the_patterns(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.nnlint]\ntest-files = ["experiments/toy_*.py"]\n')
    write(tmp_path, "tests/test_optim.py", ADAM_LR_1)
    write(tmp_path, "experiments/toy_adam.py", ADAM_LR_1)
    found, _ = _severities(tmp_path, ".")
    assert found["tests/test_optim.py"][0] == "warning"
    assert found["experiments/toy_adam.py"] == ("info", "possible")


def test_an_empty_test_files_setting_lints_tests_as_training_code(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.nnlint]\ntest-files = []\n")
    write(tmp_path, "tests/test_optim.py", ADAM_LR_1)
    found, code = _severities(tmp_path, ".")
    assert found["tests/test_optim.py"][0] == "warning" and code == 1


def test_syntax_errors_in_tests_stay_errors(tmp_path):
    write(tmp_path, "tests/test_broken.py", "def f(:\n")
    result = run_cli(["--format", "json", "."], cwd=tmp_path)
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["severity"]) == ("NN901", "error")
