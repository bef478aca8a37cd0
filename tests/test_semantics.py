"""Semantics that false alarms come from: signs, shapes, the module tree, evaluation, bias
sources, model size and import resolution. Each section has cases that must still fire and
near misses that must stay silent, in the spellings real code uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint_helpers import lint_source


def found(tmp_path: Path, code: str, rule: str, name: str = "example.py") -> list:
    return [f for f in lint_source(tmp_path, code, name=name) if f.code == rule]


# ---------------------------------------------------------------- signs: exp that cannot overflow

_SOFTMAX_OF = """
import torch
import torch.nn.functional as F

def weights(x, k, s, sigma=1.0):
    e = {expr}
    return e / e.sum(dim=-1, keepdim=True)
"""

_TOP_LEVEL = """
import torch
x = torch.randn(4, 8)
k = torch.arange(8.0)
s = 2.0
sigma = float(input())
e = {expr}
w = e / torch.sum(e, dim=-1, keepdim=True)
"""

_NEVER_POSITIVE = [
    "torch.exp(-0.5 * (k / s) ** 2)",
    "torch.exp(-(k ** 2) / (2 * s ** 2))",
    "torch.exp(-x.abs())",
    "torch.exp(-torch.abs(x))",
    "torch.exp(-F.relu(x))",
    "(-x.relu()).exp()",
    "torch.exp(x - x.max(dim=-1, keepdim=True).values)",
    "torch.exp(x - x.max(dim=-1, keepdim=True)[0])",
    "torch.exp(x - torch.logsumexp(x, dim=-1, keepdim=True))",
    "torch.exp(F.logsigmoid(x))",
    "torch.exp(F.log_softmax(x, dim=-1))",
    "torch.exp(-x * x)",
    "torch.exp(-torch.square(x) / 2)",
    # a Gaussian kernel over a scalar nnlint cannot evaluate: its sign is read off how it is written
    "torch.exp(-x ** 2 / (2 * sigma ** 2))",
    "torch.exp(-(x * x) / (2.0 * float(abs(sigma)) + 1e-6))",
]

_MAYBE_POSITIVE = [
    "torch.exp(x)",
    "torch.exp(2 * x)",
    "torch.exp(-x)",
    "torch.exp(0.5 * (k / s) ** 2)",
    "torch.exp(-x + 1)",
]


@pytest.mark.parametrize("template", [_SOFTMAX_OF, _TOP_LEVEL])
@pytest.mark.parametrize("expr", _NEVER_POSITIVE)
def test_exp_of_a_nonpositive_value_cannot_overflow(tmp_path, template, expr):
    assert found(tmp_path, template.format(expr=expr), "NN002") == []


@pytest.mark.parametrize("template", [_SOFTMAX_OF, _TOP_LEVEL])
@pytest.mark.parametrize("expr", _MAYBE_POSITIVE)
def test_exp_of_a_value_that_may_be_large_still_fires(tmp_path, template, expr):
    assert len(found(tmp_path, template.format(expr=expr), "NN002")) == 1


def test_sign_analysis_in_a_helper_and_a_forward(tmp_path):
    code = """
import torch
from torch import nn

def gaussian(d, sigma):
    return torch.exp(-0.5 * (d / sigma) ** 2)

class Smoother(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        w = gaussian(self.proj(x), 2.0)
        w = w / w.sum(dim=-1, keepdim=True)
        e = torch.exp(self.proj(x))
        return w, e / e.sum(dim=-1, keepdim=True)
"""
    hits = found(tmp_path, code, "NN002")
    assert [f.line for f in hits] == [16]


# ---------------------------------------------------------------- shapes: which axis a softmax normalises

_POOLING = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Pool(nn.Module):
    def __init__(self, h=16):
        super().__init__()
        self.score = nn.Linear(h, 1)

    def forward(self, x):
        {body}
        return weights

model = Pool()
"""

_OVER_POSITIONS = [
    "weights = F.softmax(self.score(x).squeeze(-1), dim=1)",
    "weights = torch.softmax(self.score(x).squeeze(-1), dim=-1)",
    "weights = self.score(x).squeeze(-1).softmax(dim=-1)",
    "weights = torch.softmax(torch.squeeze(self.score(x), -1), -1)",
    "weights = F.softmax(self.score(x).view(x.size(0), -1), dim=1)",
    "weights = F.softmax(self.score(x).transpose(1, 2), dim=-1)",
    "weights = F.softmax(self.score(x).transpose(-1, -2), dim=-1)",
    "weights = F.softmax(self.score(x).permute(0, 2, 1), dim=2) if False else F.softmax(self.score(x).squeeze(2), dim=1)",
    "s = self.score(x)\n        weights = F.softmax(s.flatten(1), dim=1)",
    "weights = F.softmax(self.score(x), dim=1)",  # (N, T, 1) over T, or (N, 1): not known
]

_OVER_ONE_UNIT = [
    "weights = F.softmax(self.score(x), dim=-1)",
    "weights = self.score(x).softmax(-1)",
    "weights = torch.softmax(self.score(x).unsqueeze(-2), dim=-1)",
    "weights = F.softmax(self.score(x.flatten(1)), dim=1)",
    "weights = F.softmax(self.score(x.view(x.size(0), -1)), dim=1)",
    "weights = nn.Softmax(dim=-1)(self.score(x))",
    "h = self.score(x.mean(dim=1))\n        weights = F.softmax(h.view(-1, 1), dim=1)",
]


@pytest.mark.parametrize("body", _OVER_POSITIONS)
def test_softmax_over_positions_is_not_over_one_unit(tmp_path, body):
    hits = found(tmp_path, _POOLING.format(body=body), "NN110")
    assert [f for f in hits if f.severity.value != "info"] == []


@pytest.mark.parametrize("body", _OVER_ONE_UNIT)
def test_softmax_over_a_one_wide_axis_fires(tmp_path, body):
    hits = found(tmp_path, _POOLING.format(body=body), "NN110")
    assert [f.severity.value for f in hits] == ["error"], body


def test_softmax_dim1_on_a_one_unit_layer_of_unknown_rank_is_only_info(tmp_path):
    code = """
import torch.nn as nn
head = nn.Sequential(nn.Linear(20, 1), nn.Softmax(dim=1))
"""
    assert [f.severity.value for f in found(tmp_path, code, "NN110")] == ["info"]


def test_top_level_attention_pooling_in_notebook_style(tmp_path):
    code = """
import torch
import torch.nn as nn
score = nn.Linear(32, 1)
h = torch.randn(8, 10, 32)
alpha = torch.softmax(score(h).squeeze(-1), dim=1)
pooled = torch.sum(alpha.unsqueeze(-1) * h, dim=1)
bad = torch.softmax(score(h), dim=2)
"""
    hits = found(tmp_path, code, "NN110")
    assert [(f.line, f.severity.value) for f in hits] == [(7, "error")]


def test_shapes_propagate_through_common_ops(tmp_path):
    from nnlint.frontends.project import Project
    from nnlint.frontends.torch_source import analyze
    from nnlint.ir.shapes import Shape, shape_of

    code = """
import torch
import torch.nn as nn
fc = nn.Linear(32, 4)
x = torch.randn(8, 10, 32)
a = fc(x)
b = a.transpose(1, 2)
c = b.reshape(8, -1)
d = torch.cat([a, a], dim=1)
e = a.mean(dim=1)
f = a.sum(-1, keepdim=True)
g = a.permute(2, 0, 1).unsqueeze(0)
h = torch.stack([e, e], dim=0)
i = nn.Flatten()(a)
"""
    (tmp_path / "main.py").write_text(code.lstrip("\n"), encoding="utf-8")
    project = Project({})
    program = analyze(project.load(tmp_path / "main.py"), project)
    module = next(g for g in program.graphs if g.name.startswith("<module"))
    shapes = [shape_of(op) for op in module.ops.values() if op.origin is not None and op.kind.value != "constant"]
    assert shapes == [
        Shape((8, 10, 4)), Shape((8, 4, 10)), Shape((8, 40)), Shape((8, 20, 4)), Shape((8, 4)),
        Shape((8, 10, 1)), Shape((4, 8, 10)), Shape((1, 4, 8, 10)), Shape((2, 8, 4)), Shape((8, 40)),
    ]


# ---------------------------------------------------------------- imports resolve as Python resolves them

_USES_TORCH = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters())
"""


def _write(root: Path, files: dict[str, str]) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    for name, code in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code.lstrip("\n"), encoding="utf-8")


_USES_TF = """
import tensorflow as tf

model = tf.keras.Sequential([tf.keras.layers.Dense(8, use_bias=False, activation="relu"), tf.keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
"""


@pytest.mark.parametrize("shadow,code", [("torch.py", _USES_TORCH), ("tensorflow.py", _USES_TF)])
@pytest.mark.parametrize("importer", ["pkg/model.py", "pkg/sub/model.py"])
def test_a_framework_named_module_inside_a_package_does_not_shadow_its_siblings(tmp_path, shadow, code, importer):
    from tests.lint_helpers import lint_paths
    from nnlint.config import Settings

    package = Path(importer).parent
    files = {importer: code, str(package / shadow): "def helper():\n    return 1\n"}
    for folder in [package, *package.parents][:-1]:
        files[str(folder / "__init__.py")] = ""
    _write(tmp_path, files)
    hits = [f for f in lint_paths([tmp_path / importer], Settings(root=tmp_path)) if f.code == "NN003"]
    assert len(hits) == 1  # torch is torch: the model is read


@pytest.mark.parametrize("where", ["", "pkg/"])
def test_a_torch_py_beside_a_script_shadows_torch_for_that_script(tmp_path, where):
    from tests.lint_helpers import lint_paths
    from nnlint.config import Settings

    script = _USES_TORCH + '\nif __name__ == "__main__":\n    print(model)\n'
    files = {f"{where}train.py": script, f"{where}torch.py": "class nn:\n    pass\n"}
    if where:
        files["pkg/__init__.py"] = ""
    _write(tmp_path, files)
    hits = [f for f in lint_paths([tmp_path / where / "train.py"], Settings(root=tmp_path)) if f.code == "NN003"]
    assert hits == []  # torch here is the project's torch.py: nothing is known of its nn


def test_plain_project_imports_still_join_files_across_folders(tmp_path):
    from tests.lint_helpers import lint_paths
    from nnlint.config import Settings

    head = ("import torch\nimport torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(16, 64, bias=BIAS), nn.ReLU(), nn.Linear(64, 1))\n"
            "optimizer = torch.optim.Adam(model.parameters())\n")
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/settings.py": "BIAS = False\n",
        "pkg/model.py": "from pkg.settings import BIAS\n" + head,
        "pkg/relative.py": "from .settings import BIAS\n" + head,
        "scripts/settings.py": "BIAS = False\n",
        "scripts/train.py": "from settings import BIAS\n" + head,
    })
    for entry in ("pkg/model.py", "pkg/relative.py", "scripts/train.py"):
        hits = [f for f in lint_paths([tmp_path / entry], Settings(root=tmp_path)) if f.code == "NN003"]
        assert len(hits) == 1, entry


# ---------------------------------------------------------------- learning rate: toys are not deep models

_TOYS = [
    """
import torch
model = torch.nn.Linear(4, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.1)
""",
    """
import torch
from torch import nn

class LogisticRegression(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.linear = nn.Linear(n, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))

model = LogisticRegression(8)
optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
""",
    """
import torch
from torch import nn, optim

def make():
    return nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())

net = make()
opt = optim.RMSprop(net.parameters(), lr=0.2)
""",
]

_DEEP = [
    """
import torch
from torch import nn
model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=0.1)
""",
    """
import torch
from torch import nn

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x

model = MLP()
optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
""",
    """
import torch
from torch import nn

class Raw(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))  # weights outside any layer
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(torch.tanh(x @ self.w))

model = Raw()
optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
""",
    """
import torch
from torch import nn

class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 1)

    def forward(self, x):
        return self.linear(mystery(x))  # a call nnlint cannot see into: maybe more layers

model = Wrapped()
optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
""",
]


# toys by size: every layer's width is static and the whole model has a few dozen weights
_SMALL = [
    """
import numpy as np
import tensorflow as tf
l0 = tf.keras.layers.Dense(units=4, input_shape=[1])
l1 = tf.keras.layers.Dense(units=4)
l2 = tf.keras.layers.Dense(units=1)
model = tf.keras.Sequential([l0, l1, l2])
model.compile(loss="mean_squared_error", optimizer=tf.keras.optimizers.Adam(0.1))
""",
    """
import torch
from torch import nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(input_size=5, hidden_size=5, batch_first=True)

    def forward(self, hidden, x):
        x = x.view(1, 1, 5)
        out, hidden = self.rnn(x, hidden)
        return hidden, out.view(-1, 5)

model = Model()
optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
""",
]

# near misses: as small in depth, but wide, or of a size nnlint cannot read
_NOT_SMALL = [
    _SMALL[0].replace("units=4", "units=64"),
    _SMALL[1].replace("hidden_size=5", "hidden_size=128").replace("view(-1, 5)", "view(-1, 128)"),
    _SMALL[1].replace("hidden_size=5", "hidden_size=args.hidden").replace("import torch\n", "import torch\nargs = parse()\n"),
]


@pytest.mark.parametrize("code", _SMALL)
def test_a_large_rate_on_a_model_of_a_few_dozen_weights_is_only_info(tmp_path, code):
    found_ = found(tmp_path, code, "NN105")
    assert [f.severity.value for f in found_] == ["info"]
    assert "weights often trains" in found_[0].message


@pytest.mark.parametrize("code", _NOT_SMALL)
def test_a_large_rate_on_a_wide_or_unsized_small_model_warns(tmp_path, code):
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["warning"]


@pytest.mark.parametrize("code", _TOYS)
def test_a_large_rate_on_a_toy_model_is_only_info(tmp_path, code):
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["info"]


def test_an_optimizer_over_bare_tensors_is_not_judged(tmp_path):
    # hand-made weights or a latent being optimised: nnlint cannot tell, so it says nothing
    code = """
import torch
w = torch.randn(3, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.Adam([w, b], lr=0.1)
"""
    assert found(tmp_path, code, "NN105") == []


_TF1_IMAGE = """
import numpy as np
import tensorflow as tf

vgg_w = tf.constant(np.load("vgg.npy"))
image = tf.Variable(tf.random_normal([1, 224, 224, 3]), name="image")
features = tf.nn.relu(tf.nn.conv2d(image, vgg_w, strides=[1, 1, 1, 1], padding="SAME"))
target = tf.constant(np.load("target.npy"))
loss = tf.reduce_mean(tf.square(features - target))
train = tf.train.AdamOptimizer(2.0).minimize(loss)
"""


def test_a_tf1_optimizer_over_an_input_image_is_not_judged(tmp_path):
    # style transfer: the only variable is the image, fed through constant weights
    assert found(tmp_path, _TF1_IMAGE, "NN105") == []


@pytest.mark.parametrize("old, new", [
    # a trained kernel beside the image
    ('vgg_w = tf.constant(np.load("vgg.npy"))', 'vgg_w = tf.Variable(tf.truncated_normal([3, 3, 3, 64], stddev=0.1))'),
    # a layer on fed data
    ('tf.nn.relu(tf.nn.conv2d(image, vgg_w, strides=[1, 1, 1, 1], padding="SAME"))',
     'tf.layers.conv2d(tf.placeholder(tf.float32, [None, 224, 224, 3]), 64, 3)'),
    # word2vec: variables read by functions (an embedding table, NCE weights) are weights
    ('features = tf.nn.relu(tf.nn.conv2d(image, vgg_w, strides=[1, 1, 1, 1], padding="SAME"))',
     'features = tf.nn.embedding_lookup(image, tf.placeholder(tf.int32, [20]))'),
])
def test_a_tf1_optimizer_over_weights_is_judged(tmp_path, old, new):
    code = _TF1_IMAGE.replace(old, new, 1)
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["warning"]


@pytest.mark.parametrize("code", _DEEP)
def test_a_large_rate_on_a_deeper_or_unseen_model_warns(tmp_path, code):
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["warning"]


def test_a_rate_far_above_the_range_warns_even_on_a_toy(tmp_path):
    code = "import torch\nmodel = torch.nn.Linear(4, 1)\nopt = torch.optim.Adam(model.parameters(), lr=0.5)\n"
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["warning"]


def test_a_tiny_rate_on_a_toy_still_warns(tmp_path):
    code = "import torch\nmodel = torch.nn.Linear(4, 1)\nopt = torch.optim.Adam(model.parameters(), lr=1e-9)\n"
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["warning"]


# ---------------------------------------------------------------- module tree and evaluation under no_grad

_NET = """
import torch
from torch import nn

encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout({p}))

class Model(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.encoder(x))

model = Model(encoder)
model.train()
"""

_EVAL_FIRES = [
    # notebook-style top level: a loss under no_grad
    "with torch.no_grad():\n    val_loss = nn.functional.cross_entropy(encoder(x_val), y_val)\n",
    # a helper that scores predictions
    "def validate():\n    with torch.no_grad():\n        return (encoder(x_val).argmax(1) == y_val).float().mean()\n\nvalidate()\n",
    # a loop of metrics
    "for xb, yb in val_batches:\n    with torch.no_grad():\n        _, predicted = torch.max(encoder(xb), 1)\n",
    # a loss or a metric named as one, computed by the model itself or from its output
    "with torch.no_grad():\n    _, loss = encoder(xb)\n",
    "with torch.no_grad():\n    out = encoder(xb)\n    valAccuracy = out.mean()\n",
    # held-out data: by the loader's name or the batch's
    "with torch.no_grad():\n    for xb in enumerate(tqdm(test_dl)):\n        out = encoder(xb)\n",
    "with torch.no_grad():\n    pred = encoder(X_valid)\n",
    # eval() then train() again: back in training mode
    "model.eval()\nmodel.train()\nwith torch.no_grad():\n    acc = model.encoder(x_val).argmax(1)\n",
]

_EVAL_SILENT = [
    # eval() reaches the submodule, by attribute or kept in a variable
    "model.eval()\nwith torch.no_grad():\n    acc = model.encoder(x_val).argmax(1)\n",
    "enc = model.encoder\nmodel.eval()\nwith torch.no_grad():\n    acc = enc(x_val).argmax(1)\n",
    "model.eval()\nwith torch.no_grad():\n    acc = encoder(x_val).argmax(1)\n",
    # no_grad that only generates inputs for a model being trained (GAN), or samples
    "with torch.no_grad():\n    fake = encoder(z)\nloss = nn.functional.mse_loss(model.head(fake), target)\nloss.backward()\n",
    "with torch.no_grad():\n    samples = encoder(z)\nsave_image(samples, 'out.png')\n",
    # names that merely contain the words: values, interval, retrieval
    "with torch.no_grad():\n    values = encoder(interval_batch)\n",
]


@pytest.mark.parametrize("tail", _EVAL_FIRES)
def test_evaluation_in_training_mode_fires(tmp_path, tail):
    assert len(found(tmp_path, _NET.format(p=0.3) + tail, "NN112")) == 1, tail


@pytest.mark.parametrize("tail", _EVAL_SILENT)
def test_eval_reaches_submodules_and_no_grad_alone_is_not_evaluation(tmp_path, tail):
    assert found(tmp_path, _NET.format(p=0.3) + tail, "NN112") == [], tail


@pytest.mark.parametrize("p", ["0", "0.0", "p=0.0", "CONFIG['dropout']"])
def test_a_dropout_of_probability_zero_is_no_dropout(tmp_path, p):
    code = "CONFIG = {'dropout': 0.0}\n" + _NET.format(p=p) + _EVAL_FIRES[0]
    assert found(tmp_path, code, "NN112") == []


def test_a_submodule_called_twice_is_one_layer(tmp_path):
    code = """
import torch
from torch import nn

class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))

model = Tied()
opt = torch.optim.Adam(model.parameters(), lr=0.1)
"""
    assert [f.severity.value for f in found(tmp_path, code, "NN105")] == ["info"]


# ---------------------------------------------------------------- saturating layers: one stack, not a graph

_TWO_TOWERS = """
import torch
from torch import nn

class Towers(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
        self.b = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
        self.head = nn.Linear(8, 1)

    def forward(self, x, y):
        return self.head(torch.cat([{left}, {right}], dim=1))

model = Towers()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss = nn.functional.mse_loss(model(x, y), t)
"""


@pytest.mark.parametrize("left, right", [("self.a(x)", "self.b(y)"), ("self.a(x)", "self.a(y)")])
def test_sigmoid_layers_on_separate_paths_are_not_one_stack(tmp_path, left, right):
    # two towers of two tanh layers each, or one tower applied to two inputs: depth 2, not 4
    assert found(tmp_path, _TWO_TOWERS.format(left=left, right=right), "NN102") == []


def test_sigmoid_layers_stacked_on_one_path_still_count(tmp_path):
    # the second tower reads the first's output: one path of four tanh layers
    code = _TWO_TOWERS.format(left="self.a(x)", right="self.b(torch.cat([self.a(x), x[:, :4]], dim=1))")
    [finding] = found(tmp_path, code, "NN102")
    assert finding.message.startswith("4 hidden layers")


_TF_KERNEL = """
import tensorflow as tf

def blur_kernel(radius, sigma):
    x = tf.cast(tf.range(-radius, radius + 1), tf.float32)
    k = tf.exp({expr})
    return k / tf.reduce_sum(k)
"""


@pytest.mark.parametrize("expr, fires", [
    ("-tf.pow(x, 2.0) / (2.0 * tf.pow(tf.cast(sigma, tf.float32), 2.0))", False),
    ("-tf.square(x) / (2.0 * sigma * sigma)", False),
    ("x / (2.0 * sigma)", True),  # sigma's sign is unknown and x may be large
])
def test_tensorflow_gaussian_kernels_cannot_overflow(tmp_path, expr, fires):
    assert len(found(tmp_path, _TF_KERNEL.format(expr=expr), "NN002")) == int(fires)


def test_the_deepest_stack_is_found_without_recursion_however_deep():
    # a hostile or generated graph of thousands of layers must not reach Python's recursion limit
    from nnlint.checks.saturating_hidden_activation import _deepest_stack
    from nnlint.ir import ModelGraph, OpKind

    graph = ModelGraph(name="deep", path="deep.onnx", is_model=True)
    previous, hidden = graph.add(OpKind.INPUT, "input").id, []
    for _ in range(5000):
        layer = graph.add(OpKind.LINEAR, "Linear", [previous])
        hidden.append(graph.add(OpKind.SIGMOID, "Sigmoid", [layer.id]))
        previous = hidden[-1].id
    assert _deepest_stack(graph, hidden) == hidden


# ---------------------------------------------------------------- Keras: a compile loss the model never minimises

_GAN = """
import numpy as np
from keras.models import Sequential
from keras.layers import Dense, Activation

def generator():
    model = Sequential()
    model.add(Dense(64, input_dim=100))
    model.add(Activation("relu"))
    model.add(Dense(784))
    model.add(Activation("tanh"))
    return model

def discriminator():
    model = Sequential()
    model.add(Dense(64, input_dim=784))
    model.add(Activation("relu"))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    return model

g = generator()
d = discriminator()
stack = Sequential()
stack.add(g)
stack.add(d)
g.compile(loss="binary_crossentropy", optimizer="SGD")
stack.compile(loss="binary_crossentropy", optimizer="SGD")
d.compile(loss="binary_crossentropy", optimizer="SGD")
for step in range(100):
    noise = np.random.uniform(-1, 1, (32, 100))
    d.train_on_batch(np.concatenate([real[step], g.predict(noise)]), labels)
    stack.train_on_batch(noise, np.ones(32))
"""


@pytest.mark.parametrize("code", [
    _GAN,
    # a model compiled to predict with saved weights
    _GAN.split("g = generator()")[0] + 'g = generator()\ng.compile(loss="binary_crossentropy", optimizer="SGD")\n'
    'g.load_weights("generator.h5")\nimages = g.predict(np.random.uniform(-1, 1, (8, 100)))\n',
])
def test_a_compile_loss_the_model_never_minimises_is_not_judged(tmp_path, code):
    assert found(tmp_path, code, "NN110") == []


@pytest.mark.parametrize("code", [
    _GAN.replace("stack.train_on_batch(noise, np.ones(32))", "g.train_on_batch(noise, real[step])"),  # trained itself
    _GAN.replace("    stack.train_on_batch(noise, np.ones(32))\n", ""),  # the stack is never trained either
    # compiled, no saved weights in sight: it may be trained where nnlint cannot see
    _GAN.split("g = generator()")[0] + 'g = generator()\ng.compile(loss="binary_crossentropy", optimizer="SGD")\n'
    'images = g.predict(np.random.uniform(-1, 1, (8, 100)))\n',
])
def test_a_compile_loss_the_model_may_minimise_is_judged(tmp_path, code):
    assert [f.line for f in found(tmp_path, code, "NN110")] == [10]


# ---------------------------------------------------------------- a training run of one batch

_SMOKE = """
import torch
from torch.utils.data import DataLoader, TensorDataset
from lightning.pytorch import LightningModule, Trainer

class Boring(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(32, 2)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.layer.parameters(), lr=0.1)

train_loader = DataLoader(TensorDataset(features, labels), batch_size=2)
trainer = Trainer({run})
trainer.fit(Boring(), train_dataloaders=train_loader)
"""


@pytest.mark.parametrize("run", ["fast_dev_run=True", "limit_train_batches=1, max_epochs=1", "max_steps=1"])
def test_a_run_of_one_batch_has_no_order_to_shuffle(tmp_path, run):
    assert found(tmp_path, _SMOKE.format(run=run), "NN107") == []


@pytest.mark.parametrize("run", ["max_epochs=5", "limit_train_batches=1, max_epochs=10", "fast_dev_run=False"])
def test_a_run_of_several_batches_is_judged(tmp_path, run):
    assert [f.severity.value for f in found(tmp_path, _SMOKE.format(run=run), "NN107")] == ["warning"]


# ---------------------------------------------------------------- a "model" with nothing to train

_HARNESS = """
import numpy as np
import keras

inputs = keras.Input(shape=(256,))
outputs = LAYER(inputs)
model = keras.Model(inputs, outputs)
model.compile(loss="mse", optimizer="sgd")
model.fit(np.random.normal(size=(128, 256)), np.random.normal(size=(128, OUT)), epochs=1)
"""


@pytest.mark.parametrize("layer, out", [("keras.layers.Softmax()", "256"), ("keras.layers.ELU()", "256")])
def test_a_model_with_no_weights_learns_no_task_to_get_wrong(tmp_path, layer, out):
    # a layer benchmark wraps one activation in a Model: nothing is trained
    code = _HARNESS.replace("LAYER", layer).replace("OUT", out)
    assert [f for f in found(tmp_path, code, "NN110") + found(tmp_path, code, "NN001")] == []


@pytest.mark.parametrize("layer, out, rule", [
    ("keras.layers.Dense(10, activation='softmax')", "10", "NN110"),
    ("keras.layers.Dense(1, activation='elu')", "1", "NN001"),
])
def test_a_model_with_weights_before_the_same_output_is_judged(tmp_path, layer, out, rule):
    code = _HARNESS.replace("LAYER", layer).replace("OUT", out)
    assert [f.code for f in found(tmp_path, code, rule)] == [rule]
