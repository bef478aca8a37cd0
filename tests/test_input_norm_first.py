"""unnormalized-input (NN005) is info when the model normalises its input in its first layers."""

from __future__ import annotations

from nnlint.levels import Severity

from .lint_helpers import lint_source


def _nn005(findings):
    return sorted((f.line, f.severity) for f in findings if f.code == "NN005")


def test_keras_models_that_normalise_first(tmp_path):
    code = '''
from tensorflow import keras

(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
bn_first = keras.models.Sequential([
    keras.layers.Flatten(input_shape=[32, 32, 3]),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(100, activation="elu"),
    keras.layers.Dense(10, activation="softmax"),
])
bn_first.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
bn_first.fit(x_train, y_train, epochs=5)
bn_after = keras.Sequential()
bn_after.add(keras.layers.Flatten())
bn_after.add(keras.layers.Dense(64))
bn_after.add(keras.layers.BatchNormalization())
bn_after.add(keras.layers.Activation("relu"))
bn_after.add(keras.layers.Dense(10, activation="softmax"))
bn_after.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
bn_after.fit(x_train, y_train)
late = keras.Sequential([
    keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(64),
    keras.layers.BatchNormalization(), keras.layers.Dense(10, activation="softmax"),
])
late.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
late.fit(x_train, y_train)
'''
    assert _nn005(lint_source(tmp_path, code)) == [(11, Severity.INFO), (19, Severity.INFO), (25, Severity.WARNING)]


def test_torch_model_with_a_leading_norm(tmp_path):
    code = '''
import torch
from torch import nn
from torchvision import datasets

train = datasets.MNIST("data", train=True, download=True)
pixels = train.data.float().view(-1, 784)

class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(784)
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(self.norm(x))

plain = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
Normed()(pixels)
plain(pixels)
'''
    assert _nn005(lint_source(tmp_path, code)) == [(18, Severity.INFO), (19, Severity.WARNING)]
