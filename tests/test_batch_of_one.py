"""batch-size-extreme (NN006): a batch of one breaks BatchNorm only where each channel then has
one value (after a Linear/Dense); after a convolution it normalises over the image's positions."""

from __future__ import annotations

from nnlint.levels import Severity

from .lint_helpers import lint_source


def _nn006(findings):
    return sorted((f.line, f.severity) for f in findings if f.code == "NN006")


def test_feature_batch_norm_at_batch_one_is_an_error(tmp_path):
    code = '''
import torch
from torch import nn
from torch.utils.data import DataLoader

class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 50)
        self.norm = nn.BatchNorm1d(50)
        self.out = nn.Linear(50, 3)

    def forward(self, x):
        return self.out(torch.relu(self.norm(self.fc(x))))

model = Mlp()
train_loader = DataLoader(train_data, batch_size=1, shuffle=True)
'''
    assert _nn006(lint_source(tmp_path, code)) == [(16, Severity.ERROR)]


def test_conv_batch_norm_at_batch_one_is_info(tmp_path):
    code = '''
import torch.nn as nn
from torch.utils.data import DataLoader

generator = nn.Sequential(
    nn.Conv2d(3, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
    nn.ConvTranspose2d(64, 3, 4, 2, 1), nn.Tanh(),
)
train_loader = DataLoader(pairs, batch_size=1, shuffle=True, num_workers=4)
'''
    assert _nn006(lint_source(tmp_path, code)) == [(8, Severity.INFO)]


def test_functional_batch_norm_on_a_reshape_is_not_a_batch_of_one(tmp_path):
    code = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

class AdaptiveNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, mean, std):
        b, c, h, w = x.size()
        flat = x.contiguous().view(1, b * c, h, w)
        normed = F.batch_norm(flat, None, None, std, mean, training=True)
        return self.conv(normed.view(b, c, h, w))

net = AdaptiveNorm(64)
loader = DataLoader(images, batch_size=1, shuffle=True)
'''
    assert _nn006(lint_source(tmp_path, code)) == []


def test_keras_dense_and_conv_batch_norm(tmp_path):
    code = '''
from tensorflow import keras
from tensorflow.keras import layers

dense = keras.Sequential([layers.Dense(32), layers.BatchNormalization(), layers.Dense(1)])
dense.compile(optimizer="adam", loss="mse")
dense.fit(x, y, batch_size=1)
'''
    assert _nn006(lint_source(tmp_path, code)) == [(6, Severity.ERROR)]
    conv = '''
import keras
from keras import layers

net = keras.Sequential([layers.Conv2D(16, 3), layers.BatchNormalization(), layers.ReLU(),
                        layers.GlobalAveragePooling2D(), layers.Dense(10)])
net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
net.fit(images, labels, batch_size=1, epochs=3)
'''
    assert _nn006(lint_source(tmp_path, conv)) == [(7, Severity.INFO)]
