"""A finding that rests on a function's argument (``Dropout(rate=keep_prob)``) takes the value
from a script beside the file that calls it, when the file is linted alone (a pre-commit run
on the staged module); scripts elsewhere, or that only mention it, change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli, write
from .lint_helpers import lint_paths

_KERAS_MODULE = """
import tensorflow.keras as K


def build_model(nx, layers, activations, lambtha, keep_prob):
    model = K.Sequential()
    for width, activation in zip(layers, activations):
        model.add(K.layers.Dense(width, activation=activation,
                                 kernel_regularizer=K.regularizers.l2(lambtha)))
        model.add(K.layers.Dropout(keep_prob))
    model.build((None, nx))
    return model
"""

# how course exercises import a module whose file name is no identifier
_DUNDER_MAIN = """
build_model = __import__('0-sequential').build_model

if __name__ == '__main__':
    network = build_model(784, [256, 256, 10], ['relu', 'relu', 'softmax'], 0.001, 0.95)
    network.summary()
"""

_TORCH_MODULE = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, n_in, keep_prob):
        super().__init__()
        self.fc1 = nn.Linear(n_in, 128)
        self.drop = nn.Dropout(keep_prob)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(self.drop(self.fc1(x).relu()))
"""

_TORCH_TRAIN = """
import importlib

import torch

nets = importlib.import_module("nets")
model = nets.Net(784, keep_prob={value})
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
"""


def _nn007(findings, path):
    return [f for f in findings if f.code == "NN007" and f.path.endswith(path)]


def test_a_course_exercise_takes_the_rate_from_its_main_script(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN)
    [alone] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert alone.severity.value == "warning" and "drops 95% of units" in alone.message


@pytest.mark.parametrize("value, shown", [("0.8", "drops 80% of units"), ("0.3", "drops 30% of units")])
def test_a_model_class_takes_the_rate_from_the_training_script(tmp_path, value, shown):
    write(tmp_path, "nets.py", _TORCH_MODULE)
    write(tmp_path, "train.py", _TORCH_TRAIN.format(value=value))
    [alone] = _nn007(lint_paths([tmp_path / "nets.py"], cwd=tmp_path), "nets.py")
    assert shown in alone.message
    assert alone.severity.value == ("warning" if value == "0.8" else "info")


def test_linted_together_the_value_is_the_same_whichever_file_comes_first(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "a_main.py", _DUNDER_MAIN)  # before the module in name order
    write(tmp_path, "z_main.py", _DUNDER_MAIN)  # and after it
    found = _nn007(lint_paths([tmp_path], cwd=tmp_path), "0-sequential.py")
    assert [f.severity.value for f in found] == ["warning"] and "95%" in found[0].message


@pytest.mark.parametrize("main", [
    "# build_model from 0-sequential is called by the grader\n",  # names it, calls nothing
    "build_model = __import__('0-sequential').build_model\nimport sys\n"
    "build_model(784, [64], ['relu'], 0.0, float(sys.argv[1]))\n",  # a value only the run has
    "build_model = __import__('0-sequential').build_model\nbuild_model(784, [64], ['relu'], 0.0, 0.5)\n",
])
def test_a_script_that_gives_no_value_leaves_the_finding_as_it_was(tmp_path, main):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", main)
    [alone] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert alone.severity.value == "info" and "a keep probability's share" in alone.message


def test_a_script_in_another_folder_is_not_read(tmp_path):
    write(tmp_path, "pkg/0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "main_files/0-main.py", _DUNDER_MAIN)
    [alone] = _nn007(lint_paths([tmp_path / "pkg" / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert alone.severity.value == "info"


def test_the_scripts_own_findings_are_not_reported(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN + "import torch\nopt = torch.optim.SGD([], lr=50.0)\n")
    findings = lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path)
    assert {Path(f.path).name for f in findings} == {"0-sequential.py"}


def test_a_broken_script_beside_it_changes_nothing(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", "build_model = __import__('0-sequential').build_model\nbuild_model(784,\n")
    result = run_cli(["--format", "json", "0-sequential.py"], tmp_path)
    [alone] = [f for f in result.json["findings"] if f["code"] == "NN007"]
    assert alone["severity"] == "info" and not result.json["summary"].get("errors")


def test_a_changed_script_relints_the_module_from_the_cache(tmp_path):
    project = tmp_path / "proj"
    write(project, "pyproject.toml", "[project]\nname = 'p'\n")
    write(project, "0-sequential.py", _KERAS_MODULE)
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "NNLINT_NO_CACHE": None}
    from .conftest import cli_env

    def severity():
        result = run_cli(["--format", "json", "0-sequential.py"], project, env=cli_env(**env))
        return [f["severity"] for f in result.json["findings"] if f["code"] == "NN007"]

    assert severity() == ["info"]
    write(project, "0-main.py", _DUNDER_MAIN)  # a new script: the folder's listing changed
    assert severity() == ["warning"]
    write(project, "0-main.py", _DUNDER_MAIN.replace("0.95", "0.5"))
    assert severity() == ["info"]


@pytest.mark.parametrize("spelling", [
    "__import__('0-sequential').build_model",
    "getattr(__import__('0-sequential'), 'build_model')",
    "__import__('importlib').import_module('0-sequential').build_model",
])
def test_a_module_imported_by_name_is_followed_in_a_whole_folder_run(tmp_path, spelling):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN.replace("__import__('0-sequential').build_model", spelling))
    [found] = _nn007(lint_paths([tmp_path], cwd=tmp_path), "0-sequential.py")
    assert "drops 95% of units" in found.message


@pytest.mark.parametrize("name", ["'../0-sequential'", "'.0-sequential'", "'0-sequential/x'", "MODULE", "''"])
def test_a_name_that_is_a_path_or_unknown_imports_nothing(tmp_path, name):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", "import sys\nMODULE = sys.argv[1]\n"
          + _DUNDER_MAIN.replace("'0-sequential'", name))
    [found] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert found.severity.value == "info"


def test_the_trace_measures_the_value_the_script_gives(tmp_path):
    pytest.importorskip("torch")
    from .test_trace import traced

    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    [alone] = [f for f in traced(tmp_path / "0-sequential.py") if f.code == "NN007"]
    assert alone.trace["status"] == "inconclusive" and "run-time argument" in alone.trace["evidence"]
    write(tmp_path, "0-main.py", _DUNDER_MAIN)
    [given] = [f for f in traced(tmp_path / "0-sequential.py") if f.code == "NN007"]
    assert given.trace["status"] == "confirmed", given.trace
    assert "unknown" not in given.trace["evidence"]  # model.build((None, 784)) gives the input width


def test_the_finding_names_the_script_whose_value_it_took(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN)
    [found] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert found.message.endswith("(with the arguments 0-main.py passes)")


def test_scripts_that_disagree_give_no_value(tmp_path):
    write(tmp_path, "nets.py", _TORCH_MODULE)
    write(tmp_path, "train.py", _TORCH_TRAIN.format(value="0.2"))
    write(tmp_path, "finetune.py", _TORCH_TRAIN.format(value="0.9"))
    [alone] = _nn007(lint_paths([tmp_path / "nets.py"], cwd=tmp_path), "nets.py")
    assert alone.severity.value == "info" and "a keep probability's share" in alone.message


def test_a_test_file_is_not_a_caller_whose_value_counts(tmp_path):
    write(tmp_path, "nets.py", _TORCH_MODULE)
    write(tmp_path, "test_nets.py", _TORCH_TRAIN.format(value="0.999"))
    [alone] = _nn007(lint_paths([tmp_path / "nets.py"], cwd=tmp_path), "nets.py")
    assert alone.severity.value == "info"


@pytest.mark.parametrize("mention", [
    "# nets are built in nets.py\n",  # a comment naming the file
    "networks = {}\nnets_config = 1\n",  # the stem inside other names
])
def test_a_script_that_only_mentions_the_name_is_not_analysed(tmp_path, mention):
    from nnlint.callers import importers

    assert not importers("nets").search(mention)
    for spelling in ("import nets", "from nets import Net", "from .nets import Net", "from pkg.nets import Net",
                     "__import__('nets')", 'importlib.import_module("nets")'):
        assert importers("nets").search(spelling), spelling


def test_the_scripts_share_one_time_budget(tmp_path, monkeypatch):
    import nnlint.callers as callers

    monkeypatch.setattr(callers, "SECONDS", 0.0)  # spent before the first script: none is analysed
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN)
    [alone] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert alone.severity.value == "info"


def test_a_relative_import_by_name_imports_nothing(tmp_path):
    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN.replace(
        "__import__('0-sequential')", "__import__('0-sequential', globals(), locals(), ['build_model'], 1)"))
    [found] = _nn007(lint_paths([tmp_path / "0-sequential.py"], cwd=tmp_path), "0-sequential.py")
    assert found.severity.value == "info"


def test_a_script_linked_from_outside_the_project_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    write(outside, "0-main.py", _DUNDER_MAIN)
    project = tmp_path / "project"
    write(project, "pyproject.toml", "[project]\nname = 'p'\n")
    write(project, "0-sequential.py", _KERAS_MODULE)
    (project / "0-main.py").symlink_to(outside / "0-main.py")
    result = run_cli(["--format", "json", "0-sequential.py"], project)
    [alone] = [f for f in result.json["findings"] if f["code"] == "NN007"]
    assert alone["severity"] == "info" and not result.json["summary"].get("errors")


def test_a_fifo_beside_the_file_is_skipped(tmp_path):
    import os

    write(tmp_path, "0-sequential.py", _KERAS_MODULE)
    write(tmp_path, "0-main.py", _DUNDER_MAIN)
    os.mkfifo(tmp_path / "1-main.py")  # a reader that opened it would block
    result = run_cli(["--format", "json", "0-sequential.py"], tmp_path, timeout=60)
    [found] = [f for f in result.json["findings"] if f["code"] == "NN007"]
    assert found["severity"] == "warning"


_PACKAGED_MODEL = """
import torch.nn as nn


class LSTMNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(input_size=config.embed_size, hidden_size=32, num_layers=2,
                            dropout=config.dropout_keep)
        self.dropout = nn.Dropout(self.config.dropout_keep)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(self.dropout(h[-1]))
"""

_PACKAGE_INIT = "from lstm.model import LSTMNet\nfrom lstm.config import Config\n"
_CONFIG = "class Config(object):\n    embed_size = 12\n    dropout_keep = {value}\n"
_HELPERS_INIT = "from helpers.train import train\n"  # the package's name ``train`` is the function
_HELPERS_TRAIN = """
import torch


def train(model_cls, config):
    model = model_cls(config)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, optimizer
"""
_MAIN = """
from lstm import LSTMNet, Config
from helpers import train

if __name__ == "__main__":
    train(model_cls=LSTMNet, config=Config)
"""


def _packaged(tmp_path, value="0.8"):
    write(tmp_path, "pyproject.toml", "[project]\nname = 'p'\n")  # the project around the package
    write(tmp_path, "lstm/__init__.py", _PACKAGE_INIT)
    write(tmp_path, "lstm/model.py", _PACKAGED_MODEL)
    write(tmp_path, "lstm/config.py", _CONFIG.format(value=value))
    write(tmp_path, "helpers/__init__.py", _HELPERS_INIT)
    write(tmp_path, "helpers/train.py", _HELPERS_TRAIN)
    write(tmp_path, "main.py", _MAIN)


@pytest.mark.parametrize("value, severity", [("0.8", "warning"), ("0.3", "info")])
def test_a_package_s_module_takes_the_value_from_the_script_beside_the_package(tmp_path, value, severity):
    """``lstm/model.py`` linted alone: ``main.py`` beside the package imports it by the
    package's name and passes the config class through a helper package's function."""
    _packaged(tmp_path, value)
    found = _nn007(lint_paths([tmp_path / "lstm" / "model.py"], cwd=tmp_path), "model.py")
    assert [f.line for f in found] == [9, 11]
    assert all(f.severity.value == severity for f in found)
    if value == "0.8":
        assert all("drops 80% of units" in f.message and "(with the arguments main.py passes)" in f.message
                   for f in found)


def test_a_script_beside_a_plain_folder_is_not_read(tmp_path):
    """Without ``__init__.py`` the folder is no package the script beside it imports by name."""
    _packaged(tmp_path)
    (tmp_path / "lstm" / "__init__.py").unlink()
    found = _nn007(lint_paths([tmp_path / "lstm" / "model.py"], cwd=tmp_path), "model.py")
    assert [f.severity.value for f in found] == ["info", "info"]


def test_the_trace_measures_the_dropout_inside_a_recurrent_layer_alone(tmp_path):
    pytest.importorskip("torch")
    _packaged(tmp_path)
    result = run_cli(["--format", "json", "--no-cache", "--trace", "--select", "NN007", "lstm/model.py"], tmp_path)
    traces = {f["line"]: f["trace"] for f in result.json["findings"]}
    assert traces[9]["status"] == "confirmed"
    assert "the dropout inside self.lstm (LSTM), as a Dropout(p=0.8), measured alone" in traces[9]["evidence"]
    assert "recurrent and attention layers are not rebuilt" in traces[9]["evidence"]
    assert traces[11]["status"] == "confirmed"
    assert "is applied to a value the trace does not have" in traces[11]["evidence"]
