"""--trace for unnormalized-input (NN005) without --sample: where the API that loads the data fixes
its range (an image decoder's uint8 pixels), the model fed inputs over that range is measured
against it fed them scaled (the remedy); data of unknown range stays inconclusive."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from tests.test_trace import traced  # noqa: E402

CONV = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        return self.head(x.mean(dim=(2, 3)))

model = Net()
"""


def nn005(tmp_path: Path, code: str, **options) -> list:
    path = tmp_path / "train.py"
    path.write_text(code)
    return [f for f in traced(path, **options) if f.code == "NN005"]


@pytest.mark.parametrize("loading, by", [
    # PIL, through numpy and from_numpy
    ("import numpy as np\nfrom PIL import Image\n"
     "x = torch.from_numpy(np.asarray(Image.open('a.png'), dtype=np.float32)).permute(2, 0, 1)[None]",
     "Image.open()"),
    # OpenCV
    ("import cv2\nframe = cv2.imread('a.png')\nx = torch.tensor(frame).permute(2, 0, 1).unsqueeze(0).float()",
     "cv2.imread()"),
    # torchvision's decoder
    ("from torchvision.io import read_image\nx = read_image('a.png').float().unsqueeze(0)", "io.read_image()"),
    # PILToTensor then a float cast
    ("import torchvision.transforms as T\nfrom PIL import Image\nx = T.PILToTensor()(Image.open('a.png')).float()[None]",
     "Image.open()"),
])
def test_pixels_whose_decoder_fixes_their_range_are_confirmed_by_experiment(tmp_path, loading, by):
    findings = nn005(tmp_path, CONV + loading + "\nscores = model(x)\n")
    assert len(findings) == 1, findings
    trace = findings[0].trace
    assert trace["status"] == "confirmed", trace
    evidence = trace["evidence"]
    assert f"inputs as loaded span 0-255 (by {by})" in evidence
    assert "self.conv1 (Conv2d)'s activation std" in evidence and "with the inputs scaled to [0, 1]" in evidence
    raw, scaled = (float(v) for v in __import__("re").findall(r"std ([\d.e+]+) \(healthy.*?, ([\d.e+]+) with", evidence)[0])
    assert raw > 20 and scaled < 2 and raw / scaled > 100  # the same model, only the inputs' scale differs


def test_torchvision_data_and_keras_load_data_are_confirmed(tmp_path):
    torch_code = """
import torch
from torch import nn
from torchvision.datasets import MNIST

train = MNIST("data", train=True, download=True)
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 10))
out = net(train.data.float())
"""
    findings = nn005(tmp_path, torch_code)
    assert [f.trace["status"] for f in findings] == ["confirmed"], findings
    assert "by torchvision's MNIST.data" in findings[0].trace["evidence"]
    assert "of its tanh saturated" in findings[0].trace["evidence"]  # the bounded activation after the layer
    keras_code = """
import keras
(x_train, y_train), _ = keras.datasets.mnist.load_data()
clf = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                        keras.layers.Dense(10, activation="softmax")])
clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
clf.fit(x_train.astype("float32"), y_train, epochs=2)
"""
    findings = nn005(tmp_path, keras_code)
    assert [f.trace["status"] for f in findings] == ["confirmed"], findings
    assert "by keras.datasets.mnist.load_data()" in findings[0].trace["evidence"]


def test_data_of_unknown_range_stays_inconclusive(tmp_path):
    csv = CONV.replace("nn.Conv2d(3, 8, 3)", "nn.Linear(784, 8)").replace(".mean(dim=(2, 3))", "") + """
import pandas as pd
frame = pd.read_csv("data/mnist_test.csv")
x = torch.tensor(frame.iloc[:, 1:].values, dtype=torch.float32)
scores = model(x)
"""
    findings = nn005(tmp_path, csv)  # a pixel CSV: the range is read from the file's name, not from an API
    assert findings and all(f.trace["status"] == "inconclusive" and "--sample" in f.trace["evidence"]
                            for f in findings), findings


HOUSING = """
import torch
from torch import nn
from sklearn.datasets import fetch_california_housing

data = fetch_california_housing()
x = torch.tensor(data.data, dtype=torch.float32)
net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
pred = net(x)
"""


def test_a_published_table_is_fed_each_column_over_its_documented_range(tmp_path):
    """scikit-learn's California housing is fixed data: each column spread over its own range
    (population up to 35682 beside latitudes near 35), against each scaled by its largest value."""
    [finding] = nn005(tmp_path, HOUSING)
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "inputs as loaded are 8 columns, each spread uniformly over its documented min-max range (up to 35682)" in finding.trace["evidence"]
    assert "with each column scaled into [-1, 1] by its largest magnitude" in finding.trace["evidence"]


def test_a_model_stating_another_width_than_the_table_stays_inconclusive(tmp_path):
    """A first layer of 3 inputs fed the 8-column table: the code is wrong or reads it some way
    nnlint does not follow, so no column's range is given to the input; some of the table's
    columns picked out (``data.data[:, cols]``) are no longer the table, and give no finding."""
    code = HOUSING.replace("nn.Linear(8, 16)", "nn.Linear(3, 16)")
    [finding] = nn005(tmp_path, code)
    assert finding.trace["status"] == "inconclusive", finding.trace
    assert "the model reads 3 features and the table has 8 columns" in finding.trace["evidence"]
    assert nn005(tmp_path, code.replace("data.data", "data.data[:, cols]")) == []


def test_scaled_pixels_give_no_finding(tmp_path):
    code = CONV + """
import torchvision.transforms as T
from PIL import Image
x = T.ToTensor()(Image.open("a.png")).unsqueeze(0)
y = T.Compose([T.PILToTensor(), T.ConvertImageDtype(torch.float32)])(Image.open("b.png"))[None]
scores = model(x)
more = model(y)
"""
    assert nn005(tmp_path, code) == []


def test_a_sample_still_decides(tmp_path):
    scaled = tmp_path / "scaled.npy"
    np.save(scaled, np.random.default_rng(0).uniform(0, 1, size=(8, 3, 32, 32)).astype(np.float32))
    code = CONV + "import cv2\nx = torch.tensor(cv2.imread('a.png')).permute(2, 0, 1).unsqueeze(0).float()\nmodel(x)\n"
    findings = nn005(tmp_path, code, sample=scaled)
    assert [f.trace["status"] for f in findings] == ["refuted"], findings
    assert findings[0].trace["evidence"].startswith("sample scaled.npy")


def test_a_model_whose_width_comes_from_the_table_is_traced_as_wide_as_the_table(tmp_path):
    """``input_shape=(X_train.shape[1],)``: the width is the table's, 13 columns for the Boston
    data, so the model is traced that wide (said) and fed each column over its range."""
    code = """
from sklearn.datasets import load_boston
from sklearn.model_selection import train_test_split
from tensorflow import keras

X, y = load_boston(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y)
model = keras.Sequential([keras.layers.Dense(64, activation="relu", input_shape=(X_train.shape[1],)),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(X_train, y_train, epochs=10)
"""
    [finding] = nn005(tmp_path, code)
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "inputs as loaded are 13 columns" in finding.trace["evidence"]
    assert "in_features unknown: traced with 13" in finding.trace["evidence"]


def test_every_published_table_gives_one_range_per_named_column():
    """The tables' ranges are data typed in by hand: each column named once, with a low at or
    below its high, and the largest column the one the lint names."""
    from nnlint.frontends import tables

    for loader, table in tables.LOADERS.items():
        assert len(table.columns) == len(set(table.columns)) == len(table.lows) == len(table.highs), loader
        assert all(low <= high for low, high in zip(table.lows, table.highs)), loader
    assert tables.BOSTON.largest() == "TAX up to 711"
    assert tables.CALIFORNIA.largest() == "Population up to 35682"
    assert len(tables.BREAST_CANCER.columns) == 30 and "mean radius" in tables.BREAST_CANCER.columns
