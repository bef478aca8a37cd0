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


def test_a_model_whose_first_step_nnlint_cannot_read_is_info(tmp_path):
    # a torch.hub model may letterbox and scale its input itself (YOLOv5's AutoShape does)
    code = '''
import torch
from PIL import Image
from torch import nn
from mylib import Preprocess

hub = torch.hub.load("ultralytics/yolov5", "yolov5s")
img = Image.open("street.jpg")
hub(img)

class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = Preprocess()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(self.pre(x))

class Known(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))

Wrapped()(img)
Known()(img)
'''
    findings = [f for f in lint_source(tmp_path, code) if f.code == "NN005"]
    assert _nn005(findings) == [(8, Severity.INFO), (27, Severity.INFO), (28, Severity.WARNING)]
    assert "cannot read" in findings[0].message


def test_a_loader_of_raw_pixels_is_judged_against_the_model_the_file_trains(tmp_path):
    code = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

train = datasets.MNIST("data", train=True, download=True)
loader = DataLoader(TensorDataset(train.data.float(), train.targets), batch_size=64, shuffle=True)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3, bias=False)
        self.bn = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 26 * 26, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))

model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
'''
    assert _nn005(lint_source(tmp_path, code)) == [(7, Severity.INFO)]
    plain = code.replace("self.bn(self.conv(x))", "self.conv(x)")  # no norm after the first layer
    assert _nn005(lint_source(tmp_path, plain)) == [(7, Severity.WARNING)]
