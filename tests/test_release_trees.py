"""Between files, the engine lets go of what it no longer needs: the tree of a file no file has
imported (so far), and what each file's analysis left in reference cycles. Neither changes a
finding: a file let go and imported later is parsed again."""

from __future__ import annotations

import gc
from pathlib import Path

from nnlint import engine, registry
from nnlint.config import Settings
from nnlint.frontends.project import ModuleInfo, Project
from nnlint.ir import ModelGraph

# the model file sorts before the script that imports it, so it is linted (and let go) first
_LAYERS = """import torch.nn as nn


class Scorer(nn.Module):
    def __init__(self, width=48):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, bias=True),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.out = nn.Sequential(nn.Flatten(), nn.LazyLinear(1), nn.Sigmoid())

    def forward(self, images):
        return self.out(self.body(images))
"""

_TRAIN = """import torch
from torch import nn
from layers import Scorer

net = Scorer(width=32)
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.SGD(net.parameters(), lr=0.01)
for images, labels in batches:
    opt.zero_grad()
    loss = loss_fn(net(images), labels)
    loss.backward()
    opt.step()
"""

_SCRIPT = """import torch.nn as nn

head = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.95), nn.Linear(8, 2))
"""


def _write(tmp_path: Path) -> list[Path]:
    files = {"layers.py": _LAYERS, "train.py": _TRAIN, "zz_script.py": _SCRIPT}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [tmp_path / name for name in files]


def _lint(tmp_path: Path, paths: list[Path]) -> list[tuple]:
    result = engine.lint([str(p) for p in paths], Settings(root=tmp_path), list(registry.all_checks()), jobs=1)
    return sorted((f.code, f.path, f.line, f.column, f.message) for f in result.findings)


def test_a_leaf_is_let_go_and_an_imported_module_kept(tmp_path):
    layers, train, script = _write(tmp_path)
    project = Project({p: p.name for p in (layers, train, script)})
    importer = project.load(train)
    assert project.find_module(importer, "layers", 0) is project.load(layers)
    project.load(script)
    for path in (layers, train, script):
        project.release(path)
    assert set(project.modules) == {layers.resolve()}  # train.py imports it: kept for the next importer


def test_a_file_let_go_before_its_importer_gives_the_same_findings(tmp_path, monkeypatch):
    paths = _write(tmp_path)
    released = _lint(tmp_path, paths)
    # the layer the training loss makes a finding of is in layers.py, parsed again for train.py
    assert any(code == "NN109" and path.endswith("layers.py") for code, path, *_ in released)
    assert any(path.endswith("layers.py") and line == 8 for _, path, line, *_ in released)  # the conv's bias
    assert any(path.endswith("zz_script.py") for _, path, *_ in released)
    monkeypatch.setattr(Project, "release", lambda self, abspath: None)
    assert _lint(tmp_path, paths) == released
    assert _lint(tmp_path, list(reversed(paths))) == released


def test_what_a_files_analysis_leaves_is_freed_between_files(tmp_path):
    paths = _write(tmp_path)
    enabled = gc.isenabled()
    gc.disable()  # as the command line runs
    try:
        gc.collect()
        _lint(tmp_path, paths)
        modules = [Path(o.path).name for o in gc.get_objects() if isinstance(o, ModuleInfo)]
        graphs = {Path(o.path).name for o in gc.get_objects() if isinstance(o, ModelGraph)}
    finally:
        if enabled:
            gc.enable()
    # the scripts' trees, values and graphs are gone; layers.py stays with the project (its first
    # tree, let go before train.py imported it, is gone too)
    assert modules == ["layers.py"]
    assert graphs <= {"layers.py"}


def test_a_run_that_ends_the_process_next_does_not_collect_after_its_last_file(tmp_path, monkeypatch):
    # the command line (which passes `keep`) ends the process once the report is written:
    # collecting what the last file left would free memory nothing uses
    paths = _write(tmp_path)
    collected: list[int] = []
    monkeypatch.setattr(engine, "_collect", lambda: collected.append(1))
    checks = list(registry.all_checks())
    plain = engine.lint([str(p) for p in paths], Settings(root=tmp_path), checks, jobs=1)
    assert len(collected) == len(paths)
    collected.clear()
    ending = engine.lint([str(p) for p in paths], Settings(root=tmp_path), checks, jobs=1, keep=[])
    assert len(collected) == len(paths) - 1
    assert sorted(map(repr, ending.findings)) == sorted(map(repr, plain.findings))
