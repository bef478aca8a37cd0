"""A finding whose layer sits in a module the linted file imports, and whose premise is that
file's training code (the loss the layer feeds), is shown at the loss when only the training
file is linted (a pre-commit run on train.py), and at the layer otherwise."""

from __future__ import annotations

import pytest

from .conftest import run_cli, write

_MODEL = """import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())

    def forward(self, x):
        return self.head(x)
"""

_TRAIN = """import torch
import torch.nn as nn
from model import Classifier

model = Classifier()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
"""


def _setup(tmp_path):
    (tmp_path / "model.py").write_text(_MODEL, encoding="utf-8")
    (tmp_path / "train.py").write_text(_TRAIN, encoding="utf-8")


def test_the_training_file_alone_gets_the_finding_at_its_loss(tmp_path):
    _setup(tmp_path)
    [finding] = [f for f in run_cli(["--format", "json", "train.py"], tmp_path).json["findings"]
                 if f["code"] == "NN109"]
    assert (finding["path"], finding["line"]) == ("train.py", 6)
    assert finding["message"].endswith("(at model.py:7)")


def test_with_the_model_file_linted_too_it_is_shown_once_at_the_layer(tmp_path):
    _setup(tmp_path)
    findings = [f for f in run_cli(["--format", "json", "train.py", "model.py"], tmp_path).json["findings"]
                if f["code"] == "NN109"]
    assert [(f["path"], f["line"]) for f in findings] == [("model.py", 7)]
    assert "(at " not in findings[0]["message"]


def test_findings_about_the_model_alone_stay_in_its_file(tmp_path):
    # a bias-free layer is model.py's matter, whatever train.py does: not shown at train.py
    _setup(tmp_path)
    (tmp_path / "model.py").write_text(_MODEL.replace("nn.Linear(32, 64)", "nn.Linear(32, 64, bias=False)"),
                                       encoding="utf-8")
    alone = {f["code"] for f in run_cli(["--format", "json", "train.py"], tmp_path).json["findings"]}
    both = {f["code"] for f in run_cli(["--format", "json", "train.py", "model.py"], tmp_path).json["findings"]}
    assert "NN003" not in alone and "NN109" in alone
    assert {"NN003", "NN109"} <= both


def test_a_module_beside_the_script_shadows_a_folder_of_its_name_further_up(tmp_path):
    """``LeNet/train.py`` runs with ``LeNet/`` first on the path: ``from LeNet import LeNet``
    is the class of ``LeNet/LeNet.py``, not that file as a submodule of the folder ``LeNet``
    at the project root (a module file has no submodules)."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n", encoding="utf-8")
    (tmp_path / "LeNet").mkdir()
    (tmp_path / "LeNet" / "LeNet.py").write_text(_MODEL.replace("Classifier", "LeNet"), encoding="utf-8")
    (tmp_path / "LeNet" / "train.py").write_text(_TRAIN.replace("from model import Classifier", "from LeNet import LeNet")
                                                 .replace("Classifier()", "LeNet()"), encoding="utf-8")
    found = [f for f in run_cli(["--format", "json", "LeNet/train.py"], tmp_path).json["findings"] if f["code"] == "NN109"]
    assert [(f["path"], f["line"]) for f in found] == [("LeNet/train.py", 6)]


def test_a_package_s_submodule_is_still_imported_by_name(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n", encoding="utf-8")
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "nets" / "model.py").write_text(_MODEL, encoding="utf-8")
    (tmp_path / "train.py").write_text(_TRAIN.replace("from model import Classifier", "from nets import model")
                                       .replace("Classifier()", "model.Classifier()"), encoding="utf-8")
    found = [f for f in run_cli(["--format", "json", "train.py"], tmp_path).json["findings"] if f["code"] == "NN109"]
    assert [(f["path"], f["line"]) for f in found] == [("train.py", 6)]


def _project(root, files: dict[str, str]) -> None:
    write(root, "pyproject.toml", "[project]\nname = 'p'\n")
    for name, text in files.items():
        write(root, name, text)


def test_a_package_attribute_comes_before_its_submodule_of_the_same_name(tmp_path):
    """``from utils import train`` where ``utils/__init__.py`` does ``from utils.train import
    train``: Python reads the package's attribute, the function, not the submodule."""
    _project(tmp_path, {
        "utils/__init__.py": "from utils.train import train\n",
        "utils/train.py": "import torch\n\n\ndef train(model):\n    return torch.optim.Adam(model.parameters(), lr=0.5)\n",
        "main.py": "import torch.nn as nn\nfrom utils import train\n\ntrain(nn.Linear(4, 1))\n",
    })
    found = [f for f in run_cli(["--format", "json", "main.py", "utils/train.py"], tmp_path).json["findings"]
             if f["code"] == "NN105"]
    assert [(f["path"], f["line"]) for f in found] == [("utils/train.py", 5)]


def test_the_same_finding_made_by_two_analyses_is_the_same_whatever_the_jobs(tmp_path):
    """A model file's own analysis cannot know the config a script passes (info); the script's
    analysis, first in the order the files are found, can (warning). One process or a pool of
    workers keeps the same one: the pool's findings come in that order too."""
    _project(tmp_path, {
        "nets/__init__.py": "",
        "nets/model.py": "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, config):\n"
                         "        super().__init__()\n        self.drop = nn.Dropout(config.keep_prob)\n",
        "zz_main.py": "from nets.model import Net\n\n\nclass Config:\n    keep_prob = 0.9\n\n\nnet = Net(Config)\n",
        **{f"{name}.py": "x = 1\n" for name in "abcdefgh"},  # enough files for the worker pool
    })
    for jobs in ("1", "2"):
        found = [(f["line"], f["severity"]) for f in
                 run_cli(["--format", "json", "--no-cache", "-j", jobs, "."], tmp_path).json["findings"]
                 if f["code"] == "NN007"]
        assert found == [(7, "warning")], jobs


def test_without_a_project_marker_a_package_imports_from_the_folder_holding_it(tmp_path):
    """No pyproject.toml nor .git: ``pkg/__init__.py`` 's ``from pkg.model import Net`` is
    found from the folder that holds ``pkg``, as ``sys.path`` has it for ``main.py``."""
    write(tmp_path, "pkg/__init__.py", "from pkg.model import Net\n")
    write(tmp_path, "pkg/model.py", "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, keep):\n"
                                    "        super().__init__()\n        self.drop = nn.Dropout(keep)\n")
    write(tmp_path, "main.py", "from pkg import Net\n\nnet = Net(0.9)\n")
    found = [(f["path"], f["line"], f["severity"]) for f in
             run_cli(["--format", "json", "--no-cache", "main.py", "pkg/model.py"], tmp_path).json["findings"]
             if f["code"] == "NN007"]
    assert found == [("pkg/model.py", 7, "warning")]


def test_the_pool_shares_are_runs_of_the_files_in_order_cut_by_size(tmp_path):
    """Each worker lints a contiguous run of the files (a folder's files, and what they
    import, stay in one process), the runs cut by size rather than by count, and empty files
    still spread over the workers."""
    from nnlint.discovery import Unit
    from nnlint.engine import _FILE_WEIGHT, _shares

    sizes = [30_000, 10, 10, 10, 10, 10, 10, 10, 30_000, 10_000]
    units = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"m{i}.py"
        path.write_text("x" * size, encoding="utf-8")
        units.append(Unit(f"m{i}.py", path, "python"))
    shares = _shares(units, 2)
    assert [u for share in shares for u in share] == units
    assert [len(share) for share in shares] == [8, 2]  # not 5 and 5: a big file outweighs seven small ones
    empty = [Unit(f"e{i}.py", tmp_path / f"e{i}.py", "python") for i in range(8)]
    for unit in empty:
        unit.abspath.write_text("", encoding="utf-8")
    assert [len(share) for share in _shares(empty, 2)] == [4, 4]
    assert _FILE_WEIGHT > 0


def test_a_few_small_files_are_linted_in_one_process_unless_jobs_are_asked_for(tmp_path, monkeypatch):
    """Workers each read again what the files import: under 100 kB of files the pool costs
    more than it saves, so the default is one process; ``-j 2`` still makes the pool."""
    from nnlint import engine, registry
    from nnlint.config import Settings

    if engine.usable_cores() < 2:
        pytest.skip("one usable core: no worker pool")
    for name in "abcdefgh":
        write(tmp_path, f"{name}.py", "x = 1\n")
    pooled: list[int] = []
    real = engine._shares
    monkeypatch.setattr(engine, "_shares", lambda units, jobs: pooled.append(jobs) or real(units, jobs))
    settings = Settings(root=tmp_path)
    paths = [str(tmp_path / f"{name}.py") for name in "abcdefgh"]
    engine.lint(paths, settings, list(registry.all_checks()), jobs=None)
    assert pooled == []
    engine.lint(paths, settings, list(registry.all_checks()), jobs=2)
    assert pooled == [2]
