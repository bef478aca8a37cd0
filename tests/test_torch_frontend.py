"""The PyTorch frontend: what it resolves statically, checked on the IR it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlint.frontends.project import Project
from nnlint.frontends.torch_source import analyze
from nnlint.ir import OpKind
from nnlint.ir.shapes import Shape


def build(tmp_path: Path, files: dict[str, str], entry: str = "main.py"):
    for name, code in files.items():
        (tmp_path / name).write_text(code.lstrip("\n"), encoding="utf-8")
    project = Project({})
    return analyze(project.load(tmp_path / entry), project)


def model(program, name):
    found = [g for g in program.models() if g.name == name]
    assert found, [g.name for g in program.models()]
    return found[-1]


def kinds(graph):
    return [op.kind for op in graph.ops.values() if op.kind is not OpKind.INPUT]


@pytest.mark.parametrize(
    "imports,expression",
    [
        ("import torch.nn as nn", "nn.Sequential(nn.Linear(3, 4), nn.ReLU())"),
        ("import torch", "torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())"),
        ("from torch import nn", "nn.Sequential(nn.Linear(3, 4), nn.ReLU())"),
        ("from torch.nn import Linear as L, ReLU as R, Sequential as S", "S(L(3, 4), R())"),
        ("from torch.nn import *", "Sequential(Linear(3, 4), ReLU())"),
        ("import torch.nn as tnn\nimport torch.nn.modules", "tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU())"),
    ],
)
def test_import_spellings(tmp_path, imports, expression):
    program = build(tmp_path, {"main.py": f"{imports}\nmodel = {expression}\n"})
    graph = model(program, "model")
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU]
    assert graph.ops[1].attrs["in_features"] == 3


def test_alias_spellings_of_sequential(tmp_path):
    program = build(tmp_path, {"main.py": """
from torch.nn import Linear as L, ReLU as R, Sequential as S
model = S(L(3, 4), R(), L(4, 1))
"""})
    graph = model(program, "model")
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR]
    assert graph.ops[1].attrs["in_features"] == 3


def test_hyperparameters_through_constants_argparse_dicts_dataclasses_defaults(tmp_path):
    program = build(tmp_path, {"main.py": """
import argparse
from dataclasses import dataclass, field
import torch.nn as nn

HIDDEN = 16 * 2

@dataclass
class Cfg:
    width: int = 7
    drop: float = field(default=0.25)

parser = argparse.ArgumentParser()
parser.add_argument("--out-dim", "-o", type=int, default=5)
parser.add_argument("--bias", action="store_true")
args = parser.parse_args()
SETTINGS = {"p": 0.1, "sizes": [3, HIDDEN]}

def make(n_in, n_out=HIDDEN, *, p=SETTINGS["p"]):
    return nn.Sequential(nn.Linear(n_in, n_out, bias=args.bias), nn.Dropout(p))

class Net(nn.Module):
    def __init__(self, cfg=Cfg(width=9)):
        super().__init__()
        self.a = make(SETTINGS["sizes"][0])
        self.b = nn.Linear(HIDDEN, cfg.width)
        self.c = nn.Linear(cfg.width, args.out_dim)
        self.d = nn.Dropout(cfg.drop)

    def forward(self, x):
        return self.c(self.d(self.b(self.a(x))))

model = Net()
"""})
    graph = next(g for g in program.instantiated if g.name == "Net")
    ops = [op for op in graph.ops.values() if op.kind is not OpKind.INPUT]
    assert [op.kind for op in ops] == [OpKind.LINEAR, OpKind.DROPOUT, OpKind.LINEAR, OpKind.DROPOUT, OpKind.LINEAR]
    assert ops[0].attrs == {"in_features": 3, "out_features": 32, "bias": False, "inits": [],
                            "call": ([3, 32], {"bias": False}),  # the constructor call, resolved, for --trace
                            "out_shape": Shape((32,), ranked=False),  # the last axis: the layer's width
                            "module": ops[0].attrs["module"], "grads": {}}
    assert ops[1].attrs["p"] == 0.1
    assert ops[2].attrs["out_features"] == 9  # keyword argument overrides the dataclass default
    assert ops[3].attrs["p"] == 0.25
    assert ops[4].attrs["out_features"] == 5  # argparse default


def test_layers_built_in_loops_modulelist_and_comprehensions(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn
import torch.nn.functional as F

class MLP(nn.Module):
    def __init__(self, sizes=(8, 16, 16, 1)):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        blocks = []
        for i in range(2):
            blocks += [nn.Linear(1, 1), nn.Tanh()]
        self.tail = nn.Sequential(*blocks)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.tail(self.layers[-1](x))
"""})
    graph = model(program, "MLP")
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR,
                            OpKind.LINEAR, OpKind.TANH, OpKind.LINEAR, OpKind.TANH]
    assert graph.ops[graph.outputs[0]].kind is OpKind.TANH
    assert graph.ops[1].label == "self.layers[0]"


def test_forward_wiring_functional_torch_and_tensor_methods(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch
import torch.nn as nn
from torch.nn import functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = torch.relu(self.fc(x)).view(-1, 4)
        h = F.dropout(h, 0.2, training=self.training)
        return h.softmax(dim=-1)
"""})
    graph = model(program, "Net")
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.RESHAPE, OpKind.DROPOUT, OpKind.SOFTMAX]
    out = graph.ops[graph.outputs[0]]
    assert out.kind is OpKind.SOFTMAX and out.attrs["dim"] == -1


def test_submodules_are_inlined_and_marked(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        return x + self.fc(self.norm(x))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(8) for _ in range(3)])

    def forward(self, x):
        return self.blocks(x)
"""})
    net = model(program, "Net")
    assert kinds(net).count(OpKind.LAYER_NORM) == 3 and kinds(net).count(OpKind.ADD) == 3
    assert net.top_level and not model(program, "Block").top_level


def test_training_setup_joined_across_files(tmp_path):
    program = build(tmp_path, {
        "config.py": "BATCH = 1\nLR = 0.5\n",
        "model.py": """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(x)
""",
        "train.py": """
import torch
from torch.utils.data import DataLoader
from config import BATCH, LR
import model as models

net = models.Net()
opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9, weight_decay=1e-4)
train_loader = DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True)
loss = torch.nn.functional.mse_loss(net(x).squeeze(-1), y)
""",
    }, entry="train.py")
    graph = model(program, "Net")
    assert graph.setup.task == "regression"
    assert [(o["lr"], o["momentum"], o["weight_decay"]) for o in graph.setup.optimizers] == [(0.5, 0.9, 1e-4)]
    assert [(l["batch_size"], l["shuffle"], l["drop_last"], l["name"]) for l in graph.setup.loaders] == [
        (1, True, True, "train_loader")
    ]


def test_an_activation_applied_by_the_training_code_is_tied_to_the_model(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch
import torch.nn as nn
model = nn.Sequential(nn.Linear(3, 1))
loss = nn.MSELoss()(torch.sigmoid(model(x)), y)
"""})
    graph = model(program, "model")
    [loss] = graph.setup.losses
    assert graph.setup.task == "regression" and loss["applied"].kind is OpKind.SIGMOID


def test_other_transformations_of_the_prediction_are_not_tied(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn
model = nn.Sequential(nn.Linear(3, 1))
loss = nn.MSELoss()(model(x) * scale + shift, y)
"""})
    assert model(program, "model").setup.losses == []


def test_unknown_values_stay_unknown(tmp_path):
    program = build(tmp_path, {"main.py": """
import os
import torch.nn as nn
width = int(os.environ["WIDTH"])
model = nn.Sequential(nn.Linear(3, width), nn.Dropout(float(os.environ["P"])))
"""})
    graph = model(program, "model")
    from nnlint.frontends.values import UNKNOWN
    assert graph.ops[1].attrs["out_features"] is UNKNOWN
    assert graph.ops[2].attrs["p"] is UNKNOWN


def test_hostile_code_terminates(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn
def f(n):
    return f(n + 1)
x = f(0)
class A(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = A()
    def forward(self, x):
        return self.a(x)
while True:
    m = A()
layers = []
for i in range(10 ** 9):
    layers.append(nn.Linear(1, 1))
"""})
    assert program is not None


def test_imports_outside_the_project_root_are_not_read(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("import torch.nn as nn\nclass Net(nn.Module):\n    pass\n", encoding="utf-8")
    project_dir = tmp_path / "proj"
    project_dir.mkdir()
    (project_dir / "pyproject.toml").write_text("", encoding="utf-8")
    (project_dir / "main.py").write_text("from outside import Net\nmodel = Net()\n", encoding="utf-8")
    project = Project({})
    analyze(project.load(project_dir / "main.py"), project)
    assert outside.resolve() not in project.modules


def test_a_module_level_raise_ends_the_module_without_an_error(tmp_path):
    program = build(tmp_path, {"main.py": """
import sys
import torch.nn as nn
model = nn.Sequential(nn.Linear(3, 1), nn.ReLU())
if sys.platform == "win32":
    raise ImportError("not supported")
raise SystemExit
other = nn.Linear(1, 1)
"""})
    assert [g.name for g in program.models()] == ["model"]


def test_super_runs_the_parent_init_and_forward(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn
import torch.nn.functional as F

class Base(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.body = nn.Linear(8, width)

    def forward(self, x):
        return F.relu(self.body(x))

class Head(Base):
    def __init__(self):
        super(Head, self).__init__(width=32)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return self.out(super().forward(x))

model = Head()
"""})
    graph = next(g for g in program.instantiated if g.name == "Head")
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR]
    assert graph.ops[1].attrs["out_features"] == 32


def test_sequential_subclasses_that_pass_layers_to_super(tmp_path):
    program = build(tmp_path, {"main.py": """
import torch.nn as nn

class ConvNormAct(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvNormAct(3, 16)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))

model = Net()
"""})
    graph = next(g for g in program.instantiated if g.name == "Net")
    assert kinds(graph)[:3] == [OpKind.CONV, OpKind.BATCH_NORM, OpKind.RELU]
    block = next(g for g in program.models() if g.name == "ConvNormAct")
    assert kinds(block) == [OpKind.CONV, OpKind.BATCH_NORM, OpKind.RELU] and not block.top_level


@pytest.mark.parametrize("wrap", ["torch.compile(net)", "torch.nn.DataParallel(net)",
                                  "torch.nn.parallel.DistributedDataParallel(net, device_ids=[0])"])
def test_wrapped_models_keep_their_loss(tmp_path, wrap):
    program = build(tmp_path, {"main.py": f"""
import torch
import torch.nn as nn
net = nn.Sequential(nn.Linear(3, 1))
model = {wrap}
loss = nn.MSELoss()(model(x), y)
"""})
    [graph] = program.models()
    assert graph.setup.task == "regression" and [l["type_name"] for l in graph.setup.losses] == ["torch.nn.MSELoss"]


def test_unknown_backbone_breaks_the_chain_only_where_it_stands(tmp_path):
    """A call nnlint cannot see into is one UNKNOWN op on the model's tensors: the layers after
    it are wired to it, whatever spelling made it (a library factory, an imported class)."""
    program = build(tmp_path, {"main.py": """
import torch
import torchvision
from torch import nn
from elsewhere import Encoder

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torchvision.models.resnet18()
        self.b = Encoder(64)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        h = self.b(self.a(x))
        return torch.sigmoid(self.head(h.flatten(1)))

net = Net()
"""})
    graph = model(program, "Net")
    assert kinds(graph) == [OpKind.UNKNOWN, OpKind.UNKNOWN, OpKind.RESHAPE, OpKind.LINEAR, OpKind.SIGMOID]
    out = graph.ops[graph.outputs[0]]
    chain = [out.kind]
    while out.inputs:
        out = graph.ops[out.inputs[0]]
        chain.append(out.kind)
    assert chain[-1] is OpKind.INPUT and len(chain) == 6


def test_replaced_head_of_a_library_model_is_its_output(tmp_path):
    program = build(tmp_path, {"main.py": """
import torchvision
from torch import nn
model = torchvision.models.mobilenet_v2(weights=None)
model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 3))
out = model(batch)
"""})
    graph = model(program, "model")
    assert kinds(graph) == [OpKind.UNKNOWN, OpKind.DROPOUT, OpKind.LINEAR]
    assert graph.ops[graph.outputs[0]].label == "model.classifier[1]"
