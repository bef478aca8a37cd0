"""Imports are followed when a name they bind is read, not when the import runs: a training
script inside a package repository reads the modules its training code uses, not the whole
package (a pre-commit run on one file). The findings are those of following everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnlint.cli import main
from nnlint.frontends import project as project_module

_FACTORY = """import torch.nn as nn


def build_classifier(width=64):
    return nn.Sequential(nn.Linear(32, width), nn.ReLU(), nn.Linear(width, 1), nn.Sigmoid())
"""

#: modules the package also exports, that nothing in the training scripts reads
_OTHER = """import torch.nn as nn


class Backbone{n}(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)

    def forward(self, x):
        return self.body(x)
"""

_INIT = """from .factory import build_classifier
from .resnet import *
from .vit import *
from . import mixer
"""

_TRAINS = {
    "from_package.py": """import torch
import torch.nn as nn
from zoo import build_classifier, Backbone1

model = build_classifier()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
""",
    "module_alias.py": """import torch
import zoo.factory as factory
from torch import nn

net = factory.build_classifier(width=16)
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.SGD(net.parameters(), lr=0.1)


def train(batches):
    for inputs, targets in batches:
        opt.zero_grad()
        loss_fn(net(inputs), targets).backward()
        opt.step()
""",
    "inside_function.py": """import torch


def main():
    from zoo.factory import build_classifier
    model = build_classifier()
    criterion = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in data:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()


if __name__ == "__main__":
    main()
""",
}


def _repo(root: Path) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'zoo'\n", encoding="utf-8")
    pkg = root / "zoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(_INIT, encoding="utf-8")
    (pkg / "factory.py").write_text(_FACTORY, encoding="utf-8")
    for n, name in enumerate(("resnet", "vit", "mixer")):
        (pkg / f"{name}.py").write_text(_OTHER.format(n=n), encoding="utf-8")
    for name, text in _TRAINS.items():
        (root / name).write_text(text, encoding="utf-8")


def _lint(root: Path, name: str, monkeypatch, capsys) -> tuple[list[dict], set[str]]:
    parsed: set[str] = set()
    load = project_module.Project.load

    def spy(self, abspath, **how):
        parsed.add(Path(abspath).resolve().relative_to(root.resolve()).as_posix())
        return load(self, abspath, **how)

    monkeypatch.setattr(project_module.Project, "load", spy)
    monkeypatch.chdir(root)
    main(["--format", "json", "--no-color", name])
    return json.loads(capsys.readouterr().out)["findings"], parsed


@pytest.mark.parametrize("name", sorted(_TRAINS))
def test_the_model_is_followed_through_the_package_and_nothing_else_is_read(tmp_path, monkeypatch, capsys, name):
    _repo(tmp_path)
    findings, parsed = _lint(tmp_path, name, monkeypatch, capsys)
    assert [(f["code"], f["path"]) for f in findings if f["code"] == "NN109"] == [("NN109", name)]
    assert "zoo/factory.py" in parsed
    assert not parsed & {"zoo/vit.py", "zoo/mixer.py"}  # exported, never read by the training code


def test_an_import_nothing_reads_is_never_parsed(tmp_path, monkeypatch, capsys):
    _repo(tmp_path)
    (tmp_path / "unused.py").write_text("import zoo\nfrom zoo.factory import build_classifier\nx = 1\n",
                                        encoding="utf-8")
    _, parsed = _lint(tmp_path, "unused.py", monkeypatch, capsys)
    assert parsed == {"unused.py"}


@pytest.mark.parametrize("rebinding", [
    "build_classifier = wrap(build_classifier)\n",  # rebound after the import: the package is run
    "if DEBUG:\n    from .debug import build_classifier\n",
    "def build_classifier():\n    return None\n",
])
def test_a_name_the_package_binds_again_is_read_by_running_the_package(tmp_path, monkeypatch, capsys, rebinding):
    # near misses of the re-export shortcut: the package's own binding may not be the import's,
    # so the package runs as Python would run it, and the result is only what that run knows
    _repo(tmp_path)
    (tmp_path / "zoo" / "__init__.py").write_text(_INIT + rebinding, encoding="utf-8")
    findings, parsed = _lint(tmp_path, "from_package.py", monkeypatch, capsys)
    assert "zoo/__init__.py" in parsed  # the whole package ran (its star imports are read when a name
    # nothing else binds is looked up: `wrap`, `DEBUG`)
    assert not [f for f in findings if f["code"] == "NN109"]  # the model is no longer known for sure


_STAR_USERS = {
    # a name the package binds itself: its star-imported modules are not read
    "from_package_star.py": "from zoo import *\n",
    # a name only a star import of the module binds
    "from_module_star.py": "from zoo.factory import *\n",
}
# (every name bound: a name nothing binds is looked up in the star-imported modules too, as
# Python would, and that reads them)
_STAR_TRAINING = """import torch
model = build_classifier()
criterion = torch.nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters())


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
"""


@pytest.mark.parametrize("name", sorted(_STAR_USERS))
def test_a_star_import_is_read_when_a_name_it_binds_is_used(tmp_path, monkeypatch, capsys, name):
    _repo(tmp_path)
    (tmp_path / name).write_text(_STAR_USERS[name] + _STAR_TRAINING, encoding="utf-8")
    findings, parsed = _lint(tmp_path, name, monkeypatch, capsys)
    assert [(f["code"], f["path"]) for f in findings if f["code"] == "NN109"] == [("NN109", name)]
    assert "zoo/factory.py" in parsed
    assert not parsed & {"zoo/resnet.py", "zoo/vit.py", "zoo/mixer.py"}


def test_a_star_import_of_a_model_class_is_followed_into_its_module(tmp_path, monkeypatch, capsys):
    _repo(tmp_path)
    (tmp_path / "zoo" / "heads.py").write_text(
        "import torch.nn as nn\n\n\nclass Regressor(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(8, 1)\n\n    def forward(self, x):\n        return nn.functional.relu(self.fc(x))\n",
        encoding="utf-8")
    (tmp_path / "zoo" / "all_heads.py").write_text("from .heads import *\nfrom .vit import *\n", encoding="utf-8")
    (tmp_path / "regress.py").write_text(
        "import torch\nfrom zoo.all_heads import *\nmodel = Regressor()\nloss_fn = torch.nn.MSELoss()\n"
        "for x, y in loader:\n    loss_fn(model(x), y).backward()\n", encoding="utf-8")  # loader: read in both
    findings, parsed = _lint(tmp_path, "regress.py", monkeypatch, capsys)
    assert [f["code"] for f in findings if f["code"] == "NN001"] == ["NN001"]
    assert "zoo/heads.py" in parsed


def test_a_hub_that_star_imports_the_package_and_reads_nothing_parses_nothing_else(tmp_path, monkeypatch, capsys):
    """torch.hub's hubconf.py: ``from zoo import *`` binds every model for torch.hub to find;
    nothing in the file reads them, so no module of the package is read."""
    _repo(tmp_path)
    (tmp_path / "hubconf.py").write_text("dependencies = ['torch']\nfrom zoo import *\n", encoding="utf-8")
    _, parsed = _lint(tmp_path, "hubconf.py", monkeypatch, capsys)
    assert parsed == {"hubconf.py"}
