"""A submodule built again with the same arguments is a copy of the first build, and the
findings are those of building it every time (``nnlint.frontends.module_reuse``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from nnlint.cli import main
from nnlint.frontends import module_reuse
from nnlint.frontends.module_reuse import ModuleReuse

HERE = Path(__file__).parent

_BLOCKS = '''
import torch
import torch.nn as nn


class Mlp(nn.Module):
    def __init__(self, dim, hidden, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, drop=0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * 4, drop)
        self.scale = nn.Parameter(torch.ones(dim) * 1e-5)

    def forward(self, x):
        return x + self.scale * self.mlp(self.norm(x))
'''


def _lint(root: Path, monkeypatch, capsys, reuse: bool = True) -> list[dict]:
    real = ModuleReuse.build
    monkeypatch.setattr(ModuleReuse, "build", real if reuse else lambda self, *args: args[-1]())
    monkeypatch.chdir(root)
    main(["--format", "json", "--no-color", "--no-cache", "-j", "1", "."])
    return json.loads(capsys.readouterr().out)["findings"]


def _both(root: Path, monkeypatch, capsys) -> tuple[list[dict], list[dict]]:
    return _lint(root, monkeypatch, capsys), _lint(root, monkeypatch, capsys, reuse=False)


def _copies(monkeypatch) -> list[str]:
    """The names of the classes whose submodules were copies of an earlier build."""
    copied: list[str] = []
    real = module_reuse._replay

    def replay(interp, built, graph):
        copy = real(interp, built, graph)
        copied.append(built.inst.cls.name)
        return copy

    monkeypatch.setattr(module_reuse, "_replay", replay)
    return copied


def test_blocks_built_alike_are_copied_and_the_findings_are_those_of_building_each(tmp_path, monkeypatch, capsys):
    (tmp_path / "model.py").write_text(_BLOCKS + '''

class Net(nn.Module):
    def __init__(self, depth=12, dim=64):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(dim, drop=0.9) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.blocks(x).mean(1))


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
''', encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert "Block" in copies  # the later blocks were copies
    assert reused == built
    assert any(f["code"] == "NN007" and f["line"] == 11 for f in reused), reused  # Dropout(0.9), in every block


def _net(between: str) -> str:
    return _BLOCKS + f'''
CFG = {{"drop": 0.0}}


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Mlp(64, 256, CFG["drop"])
        self.second = Mlp(64, 256, CFG["drop"])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64)
{between}
        self.b = Block(64)

    def forward(self, x):
        return self.b(self.a(x))
'''


_GLOBAL = '''
class Settings:
    drop = 0.0


def dropout(dim):
    return nn.Dropout(Settings.drop)


class Gated(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.drop = dropout(dim)

    def forward(self, x):
        return self.drop(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Gated(64)
        Settings.drop = 0.9  # a class attribute the next build reads
        self.b = Gated(64)

    def forward(self, x):
        return self.b(self.a(x))
'''


def test_a_write_to_a_class_attribute_between_two_builds_builds_again(tmp_path, monkeypatch, capsys):
    (tmp_path / "model.py").write_text("import torch.nn as nn\n" + _GLOBAL, encoding="utf-8")
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert [f["line"] for f in reused if f["code"] == "NN007"] == [8]  # the second build's Dropout(0.9)


@pytest.mark.parametrize("write", [
    '        CFG["drop"] = 0.9',  # a global dict
    '        Block.extra = nn.Dropout(0.9)',  # a class
])
def test_a_write_the_next_build_may_read_stops_reuse(tmp_path, monkeypatch, capsys, write):
    (tmp_path / "model.py").write_text(_net(write), encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert "Block" not in copies and "Mlp" in copies  # Holder's two Mlps are alike


def test_writes_to_self_and_to_locals_keep_reuse(tmp_path, monkeypatch, capsys):
    (tmp_path / "model.py").write_text(_net('        parts = []\n        parts.append(1)\n        self.n = 2'),
                                       encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert "Block" in copies


def test_an_argument_that_is_an_object_is_never_reused(tmp_path, monkeypatch, capsys):
    (tmp_path / "model.py").write_text(_BLOCKS + '''

class Config:
    def __init__(self, drop):
        self.drop = drop


class Uses(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.drop = nn.Dropout(cfg.drop)

    def forward(self, x):
        return self.drop(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        cfg = Config(0.0)
        self.a = Uses(cfg)
        cfg.drop = 0.9
        self.b = Uses(cfg)

    def forward(self, x):
        return self.b(self.a(x))
''', encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert "Uses" not in copies
    assert [f["line"] for f in reused if f["code"] == "NN007"] == [37]


def test_a_build_that_met_the_call_limit_is_reused_only_under_the_same_stack():
    """The interpreter stops following calls at a recursion or at its depth limit: a build
    that met neither is reused where its deepest call stays under the limit and it calls no
    function running already; one that met one only under the very same stack."""
    f, g, h = object(), object(), object()
    interp = SimpleNamespace(stack=[f], MAX_DEPTH=12)
    calls = module_reuse._Calls(interp, [(g, 1, False), (h, 4, False)])  # three calls deeper at most
    assert calls.same_at(SimpleNamespace(stack=[object()] * 8, MAX_DEPTH=12))
    assert not calls.same_at(SimpleNamespace(stack=[object()] * 9, MAX_DEPTH=12))  # 9 + 3 reaches 12
    assert not calls.same_at(SimpleNamespace(stack=[g], MAX_DEPTH=12))  # g would be a recursion
    limited = module_reuse._Calls(interp, [(g, 1, False), (f, 2, True)])
    assert limited.same_at(SimpleNamespace(stack=[f], MAX_DEPTH=12))
    assert not limited.same_at(SimpleNamespace(stack=[g], MAX_DEPTH=12))


def test_the_examples_and_fixtures_give_the_same_findings_with_and_without_reuse(tmp_path, monkeypatch, capsys):
    import shutil

    for folder in ("examples", "tests/fixtures"):
        shutil.copytree(HERE.parent / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.onnx"))
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert len(reused) > 50


def test_a_copy_is_the_block_as_its_constructor_left_it_not_as_the_code_changed_it_since(tmp_path, monkeypatch):
    """The first block is put in eval mode after it is built; the second, built alike, is a
    copy of the first as built: in the mode a new module has."""
    from nnlint.frontends.project import Project
    from nnlint.frontends.torch_source import analyze

    (tmp_path / "main.py").write_text(_BLOCKS + '''

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64)
        self.a.eval()
        self.b = Block(64)

    def forward(self, x):
        return self.b(self.a(x))
''', encoding="utf-8")
    copies = _copies(monkeypatch)
    project = Project({})
    program = analyze(project.load(tmp_path / "main.py"), project)
    assert "Block" in copies
    norms = [layer for layer in program.layers if layer.qualname == "torch.nn.LayerNorm"]
    assert len(norms) >= 2
    first, second = norms[-2:]
    assert first.mode == "eval"
    assert second.mode is None and second is not first
