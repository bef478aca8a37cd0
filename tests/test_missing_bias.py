"""missing-bias (NN003): where a bias-free layer's shift is missing, where it comes from
elsewhere, and where nnlint cannot see which holds (it says less there)."""

from __future__ import annotations

from .lint_helpers import lint_source


def _bias(tmp_path, code: str, name: str = "example.py") -> list[tuple[int, str]]:
    return [(f.line, f.severity.value) for f in lint_source(tmp_path, code, name) if f.code == "NN003"]


# ---------------------------------------------------------------- the output layer

def test_wgan_critic_output_without_bias_is_advice(tmp_path):
    code = """
import torch
import torch.nn as nn

class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 64, 4, 2, 1), nn.LeakyReLU(0.2))
        self.score = nn.Conv2d(64, 1, 3, padding=1, bias=False)

    def forward(self, img):
        return self.score(self.features(img))

critic = Critic()
opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
for real, fake in loader:
    loss = -torch.mean(critic(real)) + torch.mean(critic(fake))
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
    assert _bias(tmp_path, code) == [(8, "info")]


def test_classifier_head_without_bias_is_advice(tmp_path):
    torch_head = """
import torch.nn as nn

net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10, bias=False), nn.LogSoftmax(dim=1))
criterion = nn.NLLLoss()
"""
    keras_head = """
from tensorflow import keras

model = keras.Sequential([
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(10, activation="softmax", use_bias=False),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
"""
    assert _bias(tmp_path, torch_head) == [(3, "info")]
    assert _bias(tmp_path, keras_head, "head.py") == [(5, "info")]


def test_regression_output_without_bias_still_warns(tmp_path):
    torch_mse = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1, bias=False))
loss_fn = nn.MSELoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for x, y in loader:
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
    keras_mse = """
import tensorflow as tf

inputs = tf.keras.Input(shape=(13,))
h = tf.keras.layers.Dense(64, activation="relu")(inputs)
price = tf.keras.layers.Dense(1, use_bias=False)(h)
model = tf.keras.Model(inputs, price)
model.compile(optimizer="adam", loss="mse")
"""
    assert _bias(tmp_path, torch_mse) == [(4, "warning")]
    assert _bias(tmp_path, keras_mse, "price.py") == [(5, "warning")]


def test_hidden_layer_without_bias_still_warns(tmp_path):
    code = """
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 10, bias=False))
criterion = nn.CrossEntropyLoss()
"""
    assert _bias(tmp_path, code) == [(3, "warning"), (3, "info")]


# ---------------------------------------------------------------- models the code never trains

_SHOWN = """
import torch
import torch.nn as nn

points = torch.randn(500, 2)
model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 2))
with torch.no_grad():
    mapped = model(points)
{training}
"""


def test_model_only_applied_to_data_is_left_alone(tmp_path):
    assert _bias(tmp_path, _SHOWN.format(training="print(mapped.shape)")) == []
    keras_shown = """
import numpy as np
from tensorflow import keras

layer_map = keras.Sequential([keras.layers.Dense(2, use_bias=False, activation="tanh"), keras.layers.Dense(2)])
grid = np.random.randn(100, 2)
warped = layer_map.predict(grid)
"""
    assert _bias(tmp_path, keras_shown, "shown.py") == []


def test_any_sign_of_training_keeps_the_warning(tmp_path):
    trainings = [
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
        "loss = nn.MSELoss()(model(points), points)\nloss.backward()",
        "from mylib.loops import train\ntrain(model, points)",
        "import lightning as L\nL.Trainer(max_epochs=3).fit(model)",
        "mapped.sum().backward()",
    ]
    for i, training in enumerate(trainings):
        assert _bias(tmp_path, _SHOWN.format(training=training), f"t{i}.py") == [(5, "warning")], training


def test_a_class_another_file_may_train_keeps_the_warning(tmp_path):
    code = """
import torch.nn as nn

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 32, bias=False)
        self.out = nn.Linear(32, 8)

    def forward(self, x):
        return self.out(self.proj(x).relu())

if __name__ == "__main__":
    print(Encoder())
"""
    assert _bias(tmp_path, code) == [(6, "warning")]


# ---------------------------------------------------------------- a norm switched off by an argument

_KERAS_HELPER = """
import tensorflow as tf

def downsample(filters, size, {flag}=True):
    block = tf.keras.Sequential()
    block.add(tf.keras.layers.Conv2D(filters, size, strides=2, padding="same", use_bias=False))
    if {test}:
        block.add({optional})
    block.add(tf.keras.layers.LeakyReLU())
    return block

first = downsample(64, 4, {flag}=False)
optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
"""


def test_norm_switched_off_in_a_keras_helper_is_advice(tmp_path):
    for i, (flag, test, optional) in enumerate([
        ("apply_batchnorm", "apply_batchnorm", "tf.keras.layers.BatchNormalization()"),
        ("norm", "norm and filters >= 64", "tf.keras.layers.LayerNormalization(epsilon=1e-5)"),
        ("plain", "not plain", "tf.keras.layers.GroupNormalization(groups=8)"),
    ]):
        code = _KERAS_HELPER.format(flag=flag, test=test, optional=optional)
        if flag == "plain":  # the flag inverted: True switches the norm off
            code = code.replace("plain=True", "plain=False").replace("plain=False)", "plain=True)")
        assert _bias(tmp_path, code, f"k{i}.py") == [(5, "info")], flag


def test_other_layers_switched_off_keep_the_warning(tmp_path):
    code = _KERAS_HELPER.format(flag="apply_dropout", test="apply_dropout", optional="tf.keras.layers.Dropout(0.5)")
    assert _bias(tmp_path, code) == [(5, "warning")]


def test_norm_switched_off_in_torch_builders_is_advice(tmp_path):
    helper = """
import torch
import torch.nn as nn

def block(n_in, n_out, normalize=True):
    layers = [nn.Conv2d(n_in, n_out, 4, 2, 1, bias=False)]
    if normalize:
        layers.append(nn.InstanceNorm2d(n_out))
    layers.append(nn.LeakyReLU(0.2))
    return layers

model = nn.Sequential(*block(3, 64, normalize=False), nn.Conv2d(64, 1, 3))
opt = torch.optim.Adam(model.parameters())
"""
    module = """
import torch
import torch.nn as nn

class ConvUnit(nn.Module):
    def __init__(self, c_in, c_out, norm_layer=None):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm = norm_layer(c_out) if norm_layer is not None else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return torch.relu(x)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unit = ConvUnit(3, 16)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.unit(x).mean((2, 3)))

net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
"""
    flag = """
import torch
import torch.nn as nn

class Stem(nn.Module):
    def __init__(self, use_bn=False):
        super().__init__()
        self.use_bn = use_bn
        self.conv = nn.Conv2d(3, 32, 3, bias=False)
        if use_bn:
            self.bn = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv(x)
        if self.use_bn:
            x = self.bn(x)
        return self.fc(x.relu().mean((2, 3)))

stem = Stem()
opt = torch.optim.SGD(stem.parameters(), lr=0.1)
"""
    assert _bias(tmp_path, helper, "helper.py") == [(5, "info")]
    assert _bias(tmp_path, module, "module.py") == [(7, "info")]
    assert _bias(tmp_path, flag, "flag.py") == [(8, "info")]


def test_builder_without_a_norm_branch_keeps_the_warning(tmp_path):
    code = """
import torch
import torch.nn as nn

def block(n_in, n_out, dropout=False):
    layers = [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout2d(0.1))
    return layers

model = nn.Sequential(*block(3, 16), *block(16, 32), nn.Flatten(), nn.LazyLinear(10))
opt = torch.optim.Adam(model.parameters())
"""
    assert _bias(tmp_path, code) == [(5, "warning")]


# ---------------------------------------------------------------- a norm from elsewhere

_TRAIN = "\nopt = torch.optim.AdamW(model.parameters(), lr=3e-4)\n"


def test_norm_slot_filled_by_configuration_is_not_judged(tmp_path):
    default_identity = """
import torch
import torch.nn as nn

class ConvNormAct(nn.Module):
    def __init__(self, c_in, c_out, norm_layer=nn.Identity):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm = norm_layer(c_out)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))

model = nn.Sequential(ConvNormAct(3, 16), ConvNormAct(16, 32, norm_layer=nn.Identity), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(32, 10))
"""
    factory = """
import torch
import torch.nn as nn

def make_norm(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(8, channels)
    return nn.Identity()

class Head(nn.Module):
    def __init__(self, channels, norm="none"):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = make_norm(norm, channels)
        self.cls = nn.Conv2d(channels, 4, 1)

    def forward(self, x):
        return self.cls(torch.relu(self.norm(self.conv(x))))

model = Head(64)
"""
    library = """
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

class Stem(nn.Module):
    def __init__(self, norm_cfg, act="GELU"):
        super().__init__()
        self.proj = nn.Linear(48, 96, bias=False)
        self.norm = build_norm_layer(norm_cfg, 96)[1]
        self.act = getattr(nn, act)()
        self.out = nn.Linear(96, 10)

    def forward(self, x):
        return self.out(self.act(self.norm(self.proj(x))))

model = Stem(dict(type="LN"))
"""
    keras_identity = """
import tensorflow as tf
from tensorflow.keras import layers

def conv_block(x, filters, norm=None):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = (norm or layers.Identity)()(x)
    return layers.ReLU()(x)

inputs = tf.keras.Input((32, 32, 3))
model = tf.keras.Model(inputs, layers.Dense(10)(layers.GlobalAveragePooling2D()(conv_block(inputs, 32))))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
"""
    for i, code in enumerate([default_identity + _TRAIN, factory + _TRAIN, library + _TRAIN, keras_identity]):
        assert _bias(tmp_path, code, f"slot{i}.py") == [], i


def test_known_non_norm_next_to_the_layer_keeps_the_warning(tmp_path):
    identity_elsewhere = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, bias=False)
        self.act = nn.ReLU()
        self.skip = nn.Identity()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.conv(x))
        return self.fc(self.skip(x).mean((2, 3)))

model = Net()
"""
    assert _bias(tmp_path, identity_elsewhere + _TRAIN) == [(7, "warning")]


# ---------------------------------------------------------------- weights that are never trained

_PROBE = """
import itertools
import torch
import torch.nn as nn

class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.lift = nn.Linear(16, 64, bias=False)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.lift(x))

model = Probe()
{freeze}
for x, y in loader:
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

_ALL = "opt = torch.optim.Adam(model.parameters(), lr=1e-3)"


def test_frozen_or_unoptimised_layers_are_left_alone(tmp_path):
    spellings = [
        "model.lift.requires_grad_(False)\n" + _ALL,
        "model.lift.weight.requires_grad = False\n" + _ALL,
        "for p in model.lift.parameters():\n    p.requires_grad = False\n" + _ALL,
        "for param in model.lift.parameters():\n    param.requires_grad_(False)\n"
        "opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)",
        "opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)",
        "opt = torch.optim.Adam([{'params': model.head[1].parameters()}, {'params': model.head[3].parameters(), 'lr': 1e-4}])",
        "opt = torch.optim.AdamW(list(model.head[1].parameters()) + list(model.head[3].parameters()))",
        "opt = torch.optim.SGD(itertools.chain(model.head[1].parameters(), model.head[3].parameters()), lr=0.1)",
    ]
    for i, freeze in enumerate(spellings):
        assert _bias(tmp_path, _PROBE.format(freeze=freeze), f"frozen{i}.py") == [], freeze


def test_trained_or_unknown_weights_keep_the_warning(tmp_path):
    spellings = [
        _ALL,
        # a GAN-style toggle: frozen for one step, trained in the next
        "for p in model.parameters():\n    p.requires_grad = False\nfor p in model.parameters():\n    p.requires_grad = True\n" + _ALL,
        "model.lift.requires_grad_(args.freeze)\n" + _ALL,
        "if args.freeze:\n    model.lift.requires_grad_(False)\n" + _ALL,
        "opt = torch.optim.Adam([{'params': model.head.parameters()}, {'params': model.lift.parameters(), 'lr': 1e-4}])",
        "opt = torch.optim.Adam(model.head.parameters())\nfrom mylib import fit\nfit(model, loader)",
        "opt = torch.optim.Adam(params, lr=1e-3)",
    ]
    for i, freeze in enumerate(spellings):
        assert _bias(tmp_path, _PROBE.format(freeze=freeze), f"trained{i}.py") == [(8, "warning")], freeze
