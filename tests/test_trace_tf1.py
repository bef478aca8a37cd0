"""--trace on TensorFlow 1 graph code (placeholders, variables, ``tf.matmul``, ``tf.nn.conv2d``,
``sess.run``): rebuilt in torch with TensorFlow's layout and the variables' own initializers,
then measured like any other model. Near misses: a clean graph confirms nothing, and a dropout
whose keep probability (or rate) is fed at run time is traced with a stand-in rate that the evidence
names and that a finding on that dropout cannot rest on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nnlint.frontends.project import Project  # noqa: E402
from nnlint.frontends.python import analyze  # noqa: E402
from nnlint.trace.build import BuiltGraph  # noqa: E402

from tests.test_trace import verdicts_by_code  # noqa: E402

CPU = torch.device("cpu")


def verdicts(tmp_path: Path, source: str) -> dict[str, list[dict]]:
    path = tmp_path / "graph.py"
    path.write_text(textwrap.dedent(source))
    return verdicts_by_code(path)


def tf_graph(tmp_path: Path, source: str):
    path = tmp_path / "graph.py"
    path.write_text(textwrap.dedent(source))
    project = Project({path: path.name})
    program = analyze(project.load(path), project, None)
    return next(g for g in program.graphs if any(op.type_name.startswith("tensorflow.") for op in g.ops.values()))


LOGISTIC = """
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.zeros([784, 10]))
b = tf.Variable(tf.zeros([10]))
pred = tf.nn.softmax(tf.matmul(x, W) + b)
cost = tf.reduce_mean(-tf.reduce_sum(y * tf.log(pred), reduction_indices=1))
optimizer = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
"""

CONV = """
import tensorflow.compat.v1 as tf

def weight(shape):
    return tf.Variable(tf.truncated_normal(shape, stddev=0.1))

def bias(shape):
    return tf.Variable(tf.constant(0.1, shape=shape))

images = tf.placeholder(tf.float32, shape=[None, 784])
labels = tf.placeholder(tf.float32, shape=[None, 10])
keep_prob = tf.placeholder(tf.float32)
grid = tf.reshape(images, [-1, 28, 28, 1])
conv = tf.nn.relu(tf.nn.conv2d(grid, weight([5, 5, 1, 16]), strides=[1, 1, 1, 1], padding="SAME") + bias([16]))
pooled = tf.nn.max_pool(conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
flat = tf.reshape(pooled, [-1, 14 * 14 * 16])
hidden = tf.nn.relu(tf.matmul(flat, weight([14 * 14 * 16, 64])) + bias([64]))
dropped = tf.nn.dropout(hidden, keep_prob)
W_out = weight([64, 10])
probs = tf.nn.softmax(tf.matmul(dropped, W_out) + bias([10]))
loss = -tf.reduce_sum(labels * tf.log(probs))
step = tf.train.AdamOptimizer(1e-4).minimize(loss)
sess = tf.Session()
for batch_x, batch_y in batches:
    sess.run(step, feed_dict={images: batch_x, labels: batch_y, keep_prob: 0.5})
"""


def test_log_of_softmax_in_a_logistic_regression_is_confirmed_with_its_zero_init_redrawn(tmp_path):
    (trace,) = verdicts(tmp_path, LOGISTIC)["NN002"]
    assert trace["status"] == "confirmed", trace
    assert trace["evidence"].startswith("with the constant initial weights of W drawn at random instead"), trace
    assert "log_softmax in place of log" in trace["evidence"], trace


@pytest.mark.parametrize("dropout", [
    "tf.nn.dropout(hidden, keep_prob)",
    "tf.nn.dropout(hidden, rate=keep_prob)",  # TF2's spelling with a fed rate
])
def test_a_conv_graph_with_a_fed_keep_probability_is_rebuilt_and_confirmed(tmp_path, dropout):
    (trace,) = verdicts(tmp_path, CONV.replace("tf.nn.dropout(hidden, keep_prob)", dropout))["NN002"]
    assert trace["status"] == "confirmed", trace
    assert "dropout's p unknown: traced with 0.5" in trace["evidence"], trace


def test_ops_keep_tensorflow_layout_and_the_variables_inits(tmp_path):
    graph = tf_graph(tmp_path, CONV)
    built = BuiltGraph(graph, CPU)
    assert not built.broken.keys() & {op.id for op in graph.ops.values() if op.kind.name in ("CONV", "LINEAR", "POOL")}
    values = built(built.make_inputs(2, torch.Generator().manual_seed(0)))
    shapes = {op.type_name: tuple(values[i].shape) for i, op in graph.ops.items() if i in values}
    assert shapes["tensorflow.nn.conv2d"] == (2, 28, 28, 16)  # "SAME", channels last
    assert shapes["tensorflow.nn.max_pool"] == (2, 14, 14, 16)
    conv = next(i for i, op in graph.ops.items() if op.type_name == "tensorflow.nn.conv2d")
    weight, bias = built.params(conv)
    assert float(bias.detach().min()) == float(bias.detach().max()) == pytest.approx(0.1)  # tf.constant(0.1)
    assert 0.07 < float(weight.detach().std()) < 0.11  # truncated normal, stddev 0.1


def test_a_placeholder_nothing_reads_is_not_fed(tmp_path):
    graph = tf_graph(tmp_path, """
    import tensorflow as tf
    training = tf.placeholder(tf.bool)
    x = tf.placeholder(tf.float32, [None, 20])
    W = tf.Variable(tf.random_normal([20, 3]))
    out = tf.nn.softmax(tf.matmul(x, W))
    """)
    built = BuiltGraph(graph, CPU)
    assert not built.broken and list(s.shape for s in built.specs.values()) == [(1, 20)]


def test_a_clean_graph_confirms_nothing(tmp_path):
    found = verdicts(tmp_path, """
    import tensorflow as tf

    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.placeholder(tf.float32, [None, 10])
    W1 = tf.Variable(tf.random_normal([784, 128], stddev=0.05))  # He: sqrt(2 / 784)
    b1 = tf.Variable(tf.zeros([128]))
    h = tf.nn.relu(tf.matmul(x, W1) + b1)
    W2 = tf.get_variable("W2", shape=[128, 10], initializer=tf.contrib.layers.xavier_initializer())
    logits = tf.matmul(h, W2)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.001).minimize(loss)
    """)
    assert all(t["status"] != "confirmed" for traces in found.values() for t in traces), found


def test_a_reshape_to_a_variable_s_stated_shape_is_rebuilt(tmp_path):
    """``tf.reshape(x, [-1, W.get_shape().as_list()[0]])`` (the TensorFlow-Examples idiom before
    a dense layer): the variable's stated shape gives the target, so the graph is rebuilt whole
    and its std-1 init is measured; a placeholder's stated shape reads the same way."""
    found = verdicts(tmp_path, """
    import tensorflow as tf

    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.placeholder(tf.float32, [None, 10])
    weights = {
        "wc1": tf.Variable(tf.random_normal([5, 5, 1, 32])),
        "wd1": tf.Variable(tf.random_normal([14 * 14 * 32, 256])),
        "out": tf.Variable(tf.random_normal([256, 10])),
    }
    image = tf.reshape(x, shape=[-1, 28, 28, 1])
    conv = tf.nn.relu(tf.nn.conv2d(image, weights["wc1"], strides=[1, 1, 1, 1], padding="SAME"))
    pooled = tf.nn.max_pool(conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    flat = tf.reshape(pooled, [-1, weights["wd1"].get_shape().as_list()[0]])
    hidden = tf.nn.relu(tf.matmul(flat, weights["wd1"]))
    logits = tf.matmul(hidden, weights["out"])
    cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=y))
    train = tf.train.AdamOptimizer(0.001).minimize(cost)
    """)
    assert found["NN004"] and all(v["status"] == "confirmed" for v in found["NN004"]), found["NN004"]
    graph = tf_graph(tmp_path, """
    import tensorflow as tf

    x = tf.placeholder(tf.float32, [None, 784])
    flat = tf.reshape(x, [-1, x.get_shape().as_list()[1]])
    """)
    reshapes = [op for op in graph.ops.values() if op.type_name == "tensorflow.reshape"]
    assert [op.attrs["call"][0][1] for op in reshapes] == [[-1, 784]], reshapes


@pytest.mark.parametrize("bias_shape, fused", [
    ("[10]", True), ("[1, 10]", True),  # one value per unit, broadcast over the batch
    ("[784, 10]", False), ("[5, 10]", False),  # a value per row or per sample: no layer's bias
])
def test_a_bias_variable_broadcast_from_one_row_is_the_layer_s_bias(tmp_path, bias_shape, fused):
    graph = tf_graph(tmp_path, LOGISTIC.replace("tf.zeros([10])", f"tf.random.normal({bias_shape})"))
    [layer] = [op for op in graph.ops.values() if op.type_name == "tensorflow.matmul"]
    assert (layer.attrs.get("bias") is True) is fused


def test_a_logistic_regression_with_a_row_bias_is_rebuilt_and_confirmed(tmp_path):
    (trace,) = verdicts(tmp_path, LOGISTIC.replace("tf.zeros([10])", "tf.random.normal([1, 10])"))["NN002"]
    assert trace["status"] == "confirmed", trace


def test_logits_an_input_sweep_cannot_spread_enough_refute_nothing(tmp_path):
    """Five layers drawn at std 0.01 shrink a thousandfold input to logits near 0: the sweep
    never reaches the spread at which exp underflows, so log(softmax) staying finite shows
    nothing (never refuted): the last layer's weights are grown instead, as training grows them."""
    layers = "\n".join(
        f"W{i} = tf.Variable(tf.truncated_normal([{a}, {b}], stddev=0.01))\n"
        f"b{i} = tf.Variable(tf.zeros([{b}]))\n"
        f"h{i} = tf.nn.relu(tf.matmul(h{i - 1}, W{i}) + b{i})"
        for i, (a, b) in enumerate([(784, 200), (200, 200), (200, 200), (200, 200)], start=1))
    source = f"""
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 784])
t = tf.placeholder(tf.float32, [None, 10])
h0 = x
{layers}
W5 = tf.Variable(tf.truncated_normal([200, 10], stddev=0.01))
b5 = tf.Variable(tf.zeros([10]))
y = tf.nn.softmax(tf.matmul(h4, W5) + b5)
loss = tf.reduce_mean(-tf.reduce_sum(t * tf.log(y), axis=1))
step = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
"""
    (trace,) = verdicts(tmp_path, source)["NN002"]
    assert trace["status"] != "refuted", trace
    # either the experiment training runs (the last layer's weights grown) or the reason there is none
    assert "W5 (matmul)'s weights x1000" in trace["evidence"] or "short of the spread of 104" in trace["evidence"]
