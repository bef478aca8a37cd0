"""An imported module whose top level only binds names is read statement by statement: the
statements that bind the names the training code reads are parsed and run, the others never
are. The findings are those of running the whole module (checked against a run with the
statement index turned off), and a finding shown at an imported layer names its true line."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from nnlint import source as source_module
from nnlint import statements as statements_module
from nnlint.cli import main
from nnlint.statements import index


def _index(text: str):
    return index(ast.parse(text), text)


# ------------------------------------------------------------------ what the index accepts

def test_each_name_is_bound_by_its_statement_with_its_lines():
    text = ('"""Doc."""\nimport os.path\nfrom torch import nn as tnn\n\n\n@wrap(1)\n@other\n'
            'class Net(tnn.Module):\n    pass\n\nA, (B, *C) = 1, (2, 3)\nD: int = 4; E = 5\nasync def f():\n    pass\n')
    found = _index(text)
    assert found is not None
    assert {name: found.statements[i].first for name, i in found.binder.items()} == {
        "os": 2, "tnn": 3, "Net": 6, "A": 11, "B": 11, "C": 11, "D": 12, "E": 12, "f": 13}
    assert [(s.first, s.last) for s in found.statements] == [(1, 1), (2, 2), (3, 3), (6, 9), (11, 11), (12, 12),
                                                              (13, 14)]


def test_if_and_try_blocks_are_one_statement_and_handlers_do_not_bind():
    text = ("try:\n    from apex import fused\n    HAS_APEX = True\nexcept ImportError:\n    fused = None\n"
            "    HAS_APEX = False\nif HAS_APEX:\n    norm = fused\nelse:\n    norm = None\n")
    found = _index(text)
    assert found is not None
    assert found.binder == {"fused": 0, "HAS_APEX": 0, "norm": 1}


def test_a_package_imported_again_for_a_submodule_is_one_binding():
    # `import torch.utils.checkpoint` binds `torch` to the package, as `import torch` does
    found = _index("import torch\nimport os, torch.utils.checkpoint\nimport torch.nn.functional\n")
    assert found is not None and found.binder == {"torch": 0, "os": 1}


@pytest.mark.parametrize("text", [
    "import torch\ntorch.manual_seed(0)\n",
    "import torch\ntorch = None\n",
    "import numpy as torch\nimport torch\n",
    "import torch\nfrom . import torch\n",
    "import torch\ntry:\n    import torch.compile\nexcept ImportError:\n    pass\n",  # a call for its effect
    "CONFIG = {}\nCONFIG['lr'] = 0.1\n",  # an item assignment
    "class A:\n    pass\nA.size = 3\n",  # an attribute assignment
    "__all__ = ['a']\n__all__ += ['b']\n",  # augmented
    "from .layers import *\n",
    "x = 1\ndel x\n",
    "for i in range(3):\n    pass\n",
    "with open('f') as f:\n    data = f.read()\n",
    "if DEBUG:\n    raise ImportError\n",
    "def f():\n    pass\ndef f():\n    return 1\n",  # bound twice
    "from a import f\nif X:\n    f = None\n",
    "y = [n := 3]\n",
    "a = 1\rb = 2\r",  # old Mac line breaks: ast's lines and a split of the text could disagree
])
def test_anything_but_plain_bindings_reads_the_module_whole(text):
    assert _index(text) is None


def test_a_node_of_a_statement_parsed_alone_has_its_place_in_the_file():
    text = "import os\n\n# a comment\n@deco\ndef f(a,\n      b):\n    return  a + b\n\n\nX = [1,\n     2]\n"
    found = _index(text)
    stub = found.parsed(1)[0]  # the def, its body left out until read (nnlint.bodies)
    ret = found.bodies.load(stub).body.body[0].body[0]  # `return  a + b`
    assert found.span(ret.value) == (7, 13, 7, 18)
    element = found.parsed(2)[0].body[0].value.elements[1]  # X's 2, parsed after the span above
    assert found.span(element.value) == (11, 6, 11, 7)


# ------------------------------------------------------------------ what is parsed and found

_MODEL = '''"""Layers and the classifier the training script builds."""
import torch.nn as nn

try:
    from fancy_norms import FusedNorm
except ImportError:
    FusedNorm = None

DROPOUT = 0.1
_REGISTRY = {}


def register(cls):
    return cls


class Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)


@register
class Classifier(nn.Module):
    """A small head."""

    def __init__(self, width=WIDTH):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(32, width), nn.ReLU(), nn.Linear(width, 1), nn.Sigmoid())

    def forward(self, x):
        return self.head(x)


def make_classifier():
    return Classifier(width=WIDTH)


WIDTH = 64
'''

_TRAINS = {
    "from_import.py": "from model import Classifier\nmodel = Classifier()\n",
    "module_attr.py": "import model as m\nmodel = m.Classifier()\n",
    "factory.py": "from model import make_classifier\nmodel = make_classifier()\n",
}

_LOOP = """import torch
import torch.nn as nn

criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
"""


def _lint(root: Path, name: str, monkeypatch, capsys, whole: bool = False) -> tuple[list[dict], set[int]]:
    """The findings, and the first lines of the statements of model.py that were parsed."""
    parsed: set[int] = set()
    real = statements_module.Statements.parsed

    def spy(self, i):
        parsed.add(self.statements[i].first)
        return real(self, i)

    monkeypatch.setattr(statements_module.Statements, "parsed", spy)
    if whole:
        monkeypatch.setattr(source_module, "index", lambda tree, text: None)
    monkeypatch.chdir(root)
    main(["--format", "json", "--no-color", "--no-cache", name])
    return json.loads(capsys.readouterr().out)["findings"], parsed


def _setup(root: Path) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    (root / "model.py").write_text(_MODEL, encoding="utf-8")
    for name, head in _TRAINS.items():
        (root / name).write_text(head + _LOOP, encoding="utf-8")


@pytest.mark.parametrize("name", sorted(_TRAINS))
def test_only_the_statements_the_training_code_reads_are_parsed(tmp_path, monkeypatch, capsys, name):
    _setup(tmp_path)
    findings, parsed = _lint(tmp_path, name, monkeypatch, capsys)
    [finding] = [f for f in findings if f["code"] == "NN109"]
    assert finding["path"] == name
    assert finding["message"].endswith("(at model.py:29)")  # the layer's own line, found in its statement
    # the import of nn, the class and the width it reads below; not the rest
    assert {2, 23, 39} <= parsed
    assert not parsed & {1, 4, 9, 10, 17}


@pytest.mark.parametrize("name", sorted(_TRAINS))
def test_the_findings_are_those_of_running_the_whole_module(tmp_path, monkeypatch, capsys, name):
    _setup(tmp_path)
    lazy, _ = _lint(tmp_path, name, monkeypatch, capsys)
    whole, parsed = _lint(tmp_path, name, monkeypatch, capsys, whole=True)
    assert not parsed  # the index was off: the module was parsed whole
    assert lazy == whole


def test_a_module_with_a_top_level_effect_runs_whole(tmp_path, monkeypatch, capsys):
    # a near miss: the registry filled at import is what Python would see, so the module runs
    _setup(tmp_path)
    (tmp_path / "model.py").write_text(_MODEL + "_REGISTRY['classifier'] = Classifier\n", encoding="utf-8")
    findings, parsed = _lint(tmp_path, "from_import.py", monkeypatch, capsys)
    assert not parsed
    assert [f["message"] for f in findings if f["code"] == "NN109"][0].endswith("(at model.py:29)")


def test_a_statement_reads_only_the_names_bound_above_it_while_the_module_runs(tmp_path, monkeypatch, capsys):
    # `Classifier(width=WIDTH)` at the top level, above WIDTH: Python would fail there, and
    # running the whole module nnlint does not know the width; read statement by statement, the
    # same (WIDTH is not run early)
    _setup(tmp_path)
    (tmp_path / "model.py").write_text(_MODEL.replace("\n\nWIDTH = 64\n", "\n\nDEFAULT = make_classifier()\nWIDTH = 64\n"),
                                       encoding="utf-8")
    (tmp_path / "default.py").write_text("from model import DEFAULT as model\n" + _LOOP, encoding="utf-8")
    lazy, _ = _lint(tmp_path, "default.py", monkeypatch, capsys)
    whole, _ = _lint(tmp_path, "default.py", monkeypatch, capsys, whole=True)
    assert lazy == whole
