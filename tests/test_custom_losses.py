"""Keras losses written by hand: ``model.compile(loss=fn)`` runs ``fn(y_true, y_pred)`` on the
model's predictions, so a log in it is a log of what the model's last layer returns. The lint
follows the loss into the model (NN002 on ``K.log(y_pred)`` of a softmax output); ``--trace``
runs the model's layers in the loss's place and measures the log against ``log_softmax``."""

from __future__ import annotations

import pytest

from tests.lint_helpers import lint_source

# Keras 2: the backend's log, a Sequential model, the loss passed by keyword
BACKEND = """
from keras.models import Sequential
from keras.layers import Dense
import keras.backend as K
import numpy as np


def masked_crossentropy(y_true, y_pred):
    mask = K.cast(y_true > 0, dtype='float32')
    out = mask * y_true * K.log(y_pred)
    return -K.sum(out) / K.sum(mask)


model = Sequential([Dense(64, activation='relu', input_shape=(20,)), Dense(10, activation='softmax')])
model.compile(optimizer='adam', loss=masked_crossentropy, metrics=['accuracy'])
model.fit(np.random.rand(100, 20), np.random.rand(100, 10), epochs=2)
"""

# tf.keras: the functional API, a loss made by a factory (a closure), passed by position
FACTORY = """
import numpy as np
import tensorflow as tf
from tensorflow import keras


def weighted_crossentropy(weights):
    def loss(y_true, y_pred):
        return -tf.reduce_sum(weights * y_true * tf.math.log(y_pred), axis=-1)
    return loss


inputs = keras.Input(shape=(12,))
hidden = keras.layers.Dense(32, activation="relu")(inputs)
outputs = keras.layers.Dense(4, activation="softmax")(hidden)
model = keras.Model(inputs, outputs)
model.compile("adam", weighted_crossentropy(np.ones(4)))
model.fit(np.random.rand(64, 12), np.eye(4)[np.random.randint(0, 4, 64)], epochs=3)
"""

# Keras 3: keras.ops, the softmax as a layer of its own
OPS = """
import keras
from keras import layers, ops


def categorical_nll(y_true, y_pred):
    return -ops.sum(y_true * ops.log(y_pred), axis=-1)


model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"), layers.Dense(3),
                          layers.Activation("softmax")])
model.compile(optimizer="sgd", loss=categorical_nll)
"""

# near misses: the prediction clipped or shifted off zero, a model with no softmax, a log
# in a metric (never minimised), and a loss on the logits
NEAR_MISSES = """
import keras.backend as K
from keras.models import Sequential
from keras.layers import Dense


def clipped(y_true, y_pred):
    y_pred = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
    return -K.sum(y_true * K.log(y_pred), axis=-1)


def shifted(y_true, y_pred):
    return -K.sum(y_true * K.log(y_pred + 1e-7), axis=-1)


def log_cosh(y_true, y_pred):
    return K.mean(K.log((K.exp(y_pred - y_true) + K.exp(y_true - y_pred)) / 2))


def confidence(y_true, y_pred):
    return K.mean(K.log(y_pred))


classifier = Sequential([Dense(32, activation='relu', input_shape=(6,)), Dense(3, activation='softmax')])
classifier.compile(optimizer='adam', loss=clipped, metrics=[confidence])
other = Sequential([Dense(32, activation='relu', input_shape=(6,)), Dense(3, activation='softmax')])
other.compile(optimizer='adam', loss=shifted)
regressor = Sequential([Dense(32, activation='relu', input_shape=(6,)), Dense(1)])
regressor.compile(optimizer='adam', loss=log_cosh)
"""


def line_of(code: str, text: str) -> int:
    return next(n for n, line in enumerate(code.lstrip("\n").splitlines(), 1) if text in line)


@pytest.mark.parametrize("code, where", [(BACKEND, "K.log(y_pred)"), (FACTORY, "tf.math.log(y_pred)"),
                                         (OPS, "ops.log(y_pred)")], ids=["keras-backend", "tf-keras-factory", "keras3-ops"])
def test_a_log_of_the_predictions_of_a_softmax_model_is_flagged(tmp_path, code, where):
    found = [f for f in lint_source(tmp_path, code) if f.code == "NN002"]
    assert [f.line for f in found] == [line_of(code, where)]
    assert "log of model's output, which ends in" in found[0].message


def test_near_misses_stay_silent(tmp_path):
    assert [f for f in lint_source(tmp_path, NEAR_MISSES) if f.code == "NN002"] == []


def test_a_loss_that_is_not_a_function_of_the_labels_and_predictions_is_not_run(tmp_path):
    """A loss object's class or a function of other arguments is not run as ``fn(y_true, y_pred)``."""
    code = BACKEND.replace("def masked_crossentropy(y_true, y_pred):", "def masked_crossentropy(y_pred):")
    code = code.replace("mask = K.cast(y_true > 0, dtype='float32')", "mask = 1.0").replace("* y_true ", "")
    assert [f for f in lint_source(tmp_path, code) if f.code == "NN002"] == []


# ---------------------------------------------------------------------- --trace

torch = pytest.importorskip("torch")

from tests.test_trace import verdicts_by_code  # noqa: E402


@pytest.mark.parametrize("code, softmax", [(BACKEND, "model[1] activation='softmax' (softmax)"),
                                           (FACTORY, "Dense activation='softmax' (softmax)")],
                         ids=["keras-backend", "tf-keras-factory"])
def test_the_trace_runs_the_model_in_the_loss_and_measures_the_remedy(tmp_path, code, softmax):
    path = tmp_path / "train.py"
    path.write_text(code.lstrip("\n"))
    [verdict] = verdicts_by_code(path)["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert "model(...) traced through model's layers" in verdict["evidence"]
    assert "log outputs Inf/NaN" in verdict["evidence"]
    assert f"with log_softmax in place of log({softmax}) in model it stays finite" in verdict["evidence"], verdict
