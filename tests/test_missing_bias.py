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
