"""Raw-scale data fed to a TF1 graph by ``sess.run(train_op, feed_dict={x: X, ...})``: the
placeholder a weighted layer reads gets the data as loaded (a published table's columns, pixels
0-255), and --trace measures that placeholder alone (the graph's other placeholders, labels and
a fed dropout rate, keep their own inputs). Near misses: data scaled first, data fed only to
evaluate, data fed to the labels' placeholder."""

from __future__ import annotations

import pytest

from .conftest import write
from .lint_helpers import lint_paths

GRAPH = """
import numpy as np
import tensorflow as tf
{load}

x = tf.compat.v1.placeholder(tf.float32, shape=[None, {width}])
y = tf.compat.v1.placeholder(tf.float32, shape=[None, 1])
rate = tf.compat.v1.placeholder(tf.float32)
w1 = tf.Variable(tf.random.normal([{width}, 32], stddev=0.1))
b1 = tf.Variable(tf.zeros([32]))
hidden = tf.nn.dropout(tf.nn.relu(tf.matmul(x, w1) + b1), rate=rate)
w2 = tf.Variable(tf.random.normal([32, 1], stddev=0.1))
b2 = tf.Variable(tf.zeros([1]))
pred = tf.matmul(hidden, w2) + b2
loss = tf.reduce_mean(tf.square(pred - y))
train = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)
with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for step in range(100):
        {run}
"""

TABLE = "(x_train, y_train), (x_test, y_test) = tf.keras.datasets.boston_housing.load_data()\ny_train = y_train.reshape(-1, 1)"
PIXELS = ("(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()\n"
          "x_train = x_train.reshape(60000, 784)\ny_train = y_train.reshape(-1, 1)")
TRAIN = "sess.run([train, loss], feed_dict={x: x_train, y: y_train, rate: 0.3})"


def _nn005(tmp_path, load, run=TRAIN, width=13):
    path = write(tmp_path, "graph.py", GRAPH.format(load=load, run=run, width=width))
    return [f for f in lint_paths([path], cwd=tmp_path) if f.code == "NN005"]


@pytest.mark.parametrize("load, width, what", [(TABLE, 13, "Boston housing"), (PIXELS, 784, "pixels")])
def test_raw_data_fed_in_a_training_step_is_flagged_at_the_run(tmp_path, load, width, what):
    [found] = _nn005(tmp_path, load, width=width)
    assert what.lower() in found.message.lower() and "sess.run(feed_dict=...)" in found.message
    assert found.severity.value == "warning"


@pytest.mark.parametrize("load, run", [
    (TABLE + "\nx_train = (x_train - x_train.mean(0)) / x_train.std(0)", TRAIN),  # standardised first
    (PIXELS + "\nx_train = x_train / 255.0", TRAIN),
    (TABLE, "sess.run(loss, feed_dict={x: x_train, y: y_train, rate: 0.0})"),  # evaluated, not trained
    (TABLE, "sess.run(train, feed_dict={x: np.zeros((8, 13)), y: x_train, rate: 0.3})"),  # the labels' placeholder
])
def test_scaled_evaluated_or_label_feeds_are_not(tmp_path, load, run):
    assert _nn005(tmp_path, load, run) == []


def test_the_trace_spreads_the_fed_placeholder_alone_over_the_table(tmp_path):
    pytest.importorskip("torch")
    from .test_trace import traced

    path = write(tmp_path, "graph.py", GRAPH.format(load=TABLE, run=TRAIN, width=13))
    [found] = [f for f in traced(path) if f.code == "NN005"]
    assert found.trace["status"] == "confirmed", found.trace
    assert "13 columns" in found.trace["evidence"] and "dropout's p unknown: traced with 0.5" in found.trace["evidence"]
