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


_DROP = """
class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.drop = nn.Dropout({read})

    def forward(self, x):
        return self.drop(self.fc(x))
"""


def _between(setup: str, read: str, change: str, after: str = "") -> str:
    """Two blocks built alike inside one model, with ``change`` between them: the block reads
    its dropout through ``read``, which the change sets to 0.9 (an NN007 finding)."""
    return "import torch\nimport torch.nn as nn\n" + setup + _DROP.format(read=read) + f'''

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64)
{change}
        self.b = Block(64)

    def forward(self, x):
        return self.b(self.a(x))
{after}'''


#: Programs where a block built again after a change must not be a copy of the first: the
#: findings with reuse must be those of building each block (the second block's dropout of
#: 0.9 is an NN007 finding at the block's ``nn.Dropout``).
_CHANGED = {
    "a global dict, through an alias in a helper": _between(
        'CFG = {"drop": 0.0}\n\n\ndef tweak():\n    c = CFG\n    c["drop"] = 0.9\n', 'CFG["drop"]', "        tweak()"),
    "a global list, grown with +=": _between(
        'CFG = {"ps": [0.0]}\n', 'CFG["ps"][-1]', '        CFG["ps"] += [0.9]'),
    "a global object, through its method": _between(
        "class Config:\n    def __init__(self):\n        self.drop = 0.0\n\n    def set(self, p):\n"
        "        self.drop = p\n\n\nCFG = Config()\n", "CFG.drop", "        CFG.set(0.9)"),
    "a class attribute": _between(
        "class Settings:\n    drop = 0.0\n", "Settings.drop", "        Settings.drop = 0.9"),
    "a global rebound at module level between two models": _between(
        "P = 0.0\n", "P", "        pass", after="\n\none = Net()\nP = 0.9\ntwo = Net()\n"),
    "a table read through a closure": _between(
        "def _table(p):\n    t = {\"drop\": p}\n\n    def read():\n        return t[\"drop\"]\n\n    return read, t\n\n\n"
        "read, TABLE = _table(0.0)\n", "read()", '        TABLE["drop"] = 0.9'),
}


@pytest.mark.parametrize("name", sorted(_CHANGED))
def test_a_block_built_after_what_it_reads_changed_is_built_again(tmp_path, monkeypatch, capsys, name):
    source = _CHANGED[name]
    (tmp_path / "model.py").write_text(source, encoding="utf-8")
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    dropout = next(i for i, line in enumerate(source.splitlines(), 1) if "nn.Dropout(" in line)
    assert [f["line"] for f in reused if f["code"] == "NN007"] == [dropout], (name, reused)


def test_a_table_read_unchanged_keeps_reuse(tmp_path, monkeypatch, capsys):
    """A global lookup table (timm's ``_ACT_LAYERS = dict(relu=nn.ReLU, ...)``) read by every
    block is compared, not a reason to build again; writes to ``self`` and to locals between
    two builds change nothing a build reads."""
    (tmp_path / "model.py").write_text(_between(
        'ACTS = {"relu": nn.ReLU, "gelu": nn.GELU}\nCFG = {"drop": 0.9}\n', 'CFG["drop"]',
        "        parts = []\n        parts.append(ACTS[\"relu\"])\n        self.n = 2"), encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert "Block" in copies


@pytest.mark.parametrize("first, second, read", [("nn.Identity", "nn.Dropout", "p(0.9)"), ("[0.0]", "[0.9]", "p[0]")])
def test_builds_with_different_arguments_are_not_copies(tmp_path, monkeypatch, capsys, first, second, read):
    """Two names of the framework are two keys, however short-lived the values that stood for
    them; a list argument (which the caller may change, or share with the instance) is never
    reused."""
    (tmp_path / "model.py").write_text(f'''import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, p):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.drop = nn.Dropout({read})

    def forward(self, x):
        return self.drop(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64, {first})
        self.b = Block(64, {second})

    def forward(self, x):
        return self.b(self.a(x))
''', encoding="utf-8")
    copies = _copies(monkeypatch)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built and "Block" not in copies
    assert [f["line"] for f in reused if f["code"] == "NN007"] == [8]


def test_a_module_imported_while_the_first_block_is_built_is_not_run_again(tmp_path, monkeypatch, capsys):
    """A module whose top level changes a table runs once, when first imported: the block
    built before and the one built after it read the table as it then is."""
    (tmp_path / "cfg.py").write_text('CFG = {"p": 0.0}\n', encoding="utf-8")
    (tmp_path / "plugin.py").write_text('import cfg\n\ncfg.CFG["p"] = 0.9\n\n\ndef hello():\n    return 1\n',
                                        encoding="utf-8")
    (tmp_path / "model.py").write_text(_between("import cfg\nimport plugin\n", 'cfg.CFG["p"]', "        plugin.hello()"),
                                       encoding="utf-8")
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built
    assert any(f["code"] == "NN007" for f in reused)


REVIEWED = HERE / "fixtures" / "module_reuse"


@pytest.mark.parametrize("name", sorted(p.name for p in REVIEWED.iterdir()))
def test_programs_a_review_found_give_the_findings_of_building_each_block(tmp_path, monkeypatch, capsys, name):
    """Builds under ``no_grad`` (which marks the open block as evaluating), a loss computed in a
    constructor (attached to the graph it runs in), a first build that loads a module (steps a
    second build does not take), probes in a forward: a copy would record less than a run."""
    import shutil

    source = REVIEWED / name
    if source.is_dir():
        shutil.copytree(source, tmp_path / name)
    else:
        shutil.copy(source, tmp_path / name)
    reused, built = _both(tmp_path, monkeypatch, capsys)
    assert reused == built


def test_an_op_a_copied_layer_made_names_the_copy(tmp_path, monkeypatch):
    """A layer applied in a constructor (a shape probe) tags its op with the layer's id, which
    tells one layer called twice from two alike layers: a copied probe's op names the copy."""
    from nnlint.frontends.project import Project
    from nnlint.frontends.torch_source import analyze

    (tmp_path / "main.py").write_text((REVIEWED / "probe_in_init.py").read_text(encoding="utf-8"), encoding="utf-8")
    copies = _copies(monkeypatch)
    project = Project({})
    program = analyze(project.load(tmp_path / "main.py"), project)
    assert "Probe" in copies
    made = [op.attrs["module"] for op in next(g for g in program.graphs if g.name == "make").ops.values()
            if "module" in op.attrs]
    assert len(made) == 2 and made[0] != made[1]
    assert set(made) <= {id(layer) for layer in program.layers}


def test_a_build_that_met_the_call_limit_is_reused_only_under_the_same_stack():
    """The interpreter stops following calls at a recursion or at its depth limit: a build
    that met neither is reused where its deepest call stays under the limit and it calls no
    function running already; one that met one only under the very same stack."""
    f, g, h = object(), object(), object()
    interp = SimpleNamespace(stack=[f], MAX_DEPTH=12)
    calls = module_reuse._Calls(interp, [(g, 0, False), (h, 3, False)])  # three calls deeper at most
    assert calls.same_at(SimpleNamespace(stack=[object()] * 8, MAX_DEPTH=12))
    assert not calls.same_at(SimpleNamespace(stack=[object()] * 9, MAX_DEPTH=12))  # 9 + 3 reaches 12
    assert not calls.same_at(SimpleNamespace(stack=[g], MAX_DEPTH=12))  # g would be a recursion
    limited = module_reuse._Calls(interp, [(g, 0, False), (f, 1, True)])
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
