"""The Keras/TensorFlow frontend: the IR and training setup it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlint.frontends.keras_source import analyze
from nnlint.frontends.project import Project
from nnlint.ir import OpKind


def build(tmp_path: Path, files: dict[str, str], entry: str = "main.py"):
    for name, code in files.items():
        (tmp_path / name).write_text(code.lstrip("\n"), encoding="utf-8")
    project = Project({})
    return analyze(project.load(tmp_path / entry), project)


def kinds(graph):
    return [op.kind for op in graph.ops.values() if op.kind is not OpKind.INPUT]


@pytest.mark.parametrize("imports,prefix", [
    ("import keras", "keras."),
    ("import tensorflow as tf", "tf.keras."),
    ("from tensorflow import keras", "keras."),
])
def test_sequential_spellings_and_activation_ops(tmp_path, imports, prefix):
    program = build(tmp_path, {"main.py": f"""
{imports}
model = {prefix}Sequential([{prefix}layers.Dense(16, activation="relu"), {prefix}layers.Dense(3, activation="softmax")])
model.compile(optimizer={prefix}optimizers.Adam(learning_rate=1e-3), loss="categorical_crossentropy")
model.fit(x, y, batch_size=64)
"""})
    [graph] = program.models()
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR, OpKind.SOFTMAX]
    assert graph.ops[1].attrs["out_features"] == 16
    [loss] = graph.setup.losses
    assert (loss["task"], loss["from_logits"]) == ("classification", False)
    assert [o["lr"] for o in graph.setup.optimizers] == [1e-3]
    assert [(l["batch_size"], l["shuffle"]) for l in program.setup.loaders] == [(64, True)]


def test_add_api_functional_api_and_subclassed_models(tmp_path):
    program = build(tmp_path, {"main.py": """
from tensorflow import keras
from tensorflow.keras import layers

seq = keras.Sequential()
seq.add(layers.Dense(8, use_bias=False))
seq.add(layers.BatchNormalization())

inputs = keras.Input(shape=(4,))
outputs = layers.Dense(2)(layers.Dense(8, activation="tanh")(inputs))
functional = keras.Model(inputs=inputs, outputs=outputs)

class Sub(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(1, activation="sigmoid")

    def call(self, x):
        return self.d(x)

sub = Sub()
"""})
    by_name = {g.name: g for g in program.models()}
    assert kinds(by_name["seq"]) == [OpKind.LINEAR, OpKind.BATCH_NORM]
    assert by_name["seq"].ops[1].attrs["bias"] is False
    assert kinds(by_name["functional"]) == [OpKind.LINEAR, OpKind.TANH, OpKind.LINEAR]
    assert kinds(by_name["Sub"]) == [OpKind.LINEAR, OpKind.SIGMOID]


def test_a_model_built_in_one_module_and_compiled_in_another(tmp_path):
    program = build(tmp_path, {
        "model.py": "import keras\n\ndef build():\n    return keras.Sequential([keras.layers.Dense(1)])\n",
        "main.py": "from model import build\nnet = build()\nnet.compile(optimizer='adam', loss='mse')\n",
    })
    [graph] = program.models()
    assert graph.setup.task == "regression" and graph.path.endswith("model.py")


def test_raw_keras_arrays_are_tracked_until_scaled(tmp_path):
    program = build(tmp_path, {"main.py": """
import keras
(x, y), _ = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
model.fit(x.reshape(-1, 784).astype("float32"), y)
model.fit(x / 255.0, y)
"""})
    assert [flow["sink"] for flow in program.raw_inputs] == ["model.fit()"]


def test_models_on_unknown_backbones_stay_unknown(tmp_path):
    """Two heads on a pretrained backbone nnlint cannot see must not merge into one model."""
    program = build(tmp_path, {"main.py": """
import keras
from keras import layers
first = keras.Model(backbone.input, layers.Dense(3, activation="softmax")(backbone(backbone.input)))
first.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
second = keras.Model(backbone.input, layers.Dense(1, activation="sigmoid")(backbone(backbone.input)))
second.compile(optimizer="adam", loss="binary_crossentropy")
"""})
    assert program.models() == []


@pytest.mark.parametrize("first, shape", [
    ("keras.Input(shape=(16,))", (16,)),
    ("keras.layers.Input((16,))", (16,)),
    ("keras.layers.InputLayer(shape=(16,))", (16,)),
    ("keras.layers.InputLayer(input_shape=(16,))", (16,)),
    ("keras.layers.InputLayer(batch_shape=(None, 16))", (16,)),
    ("keras.Input(shape=size)", None),  # not a constant: the input, with no shape
])
def test_a_sequential_opened_by_an_input_takes_its_shape(tmp_path, first, shape):
    """Keras 3's own spelling, Sequential([keras.Input(shape=...), ...]): the input of the
    model, not an unknown first layer."""
    program = build(tmp_path, {"main.py": f"""
import keras
size = read_size()
model = keras.Sequential([{first}, keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
"""})
    [graph] = program.models()
    assert kinds(graph) == [OpKind.LINEAR, OpKind.RELU, OpKind.LINEAR]
    [op] = [graph.ops[i] for i in graph.inputs]
    assert op.attrs.get("shape") == shape
    assert graph.ops[1].label == "model[1]"  # its place in the list the user wrote


@pytest.mark.parametrize("imports,dense,conv", [
    ("from keras.layers.core import Dense\nfrom keras.layers.convolutional import Convolution2D",
     "Dense(output_dim=8, init='zero')", "Convolution2D(4, 3, 3, border_mode='same', bias=False)"),
    ("from tensorflow.keras.layers import Dense, Conv2D",
     "Dense(8, kernel_initializer='zeros')", "Conv2D(4, (3, 3), padding='same', use_bias=False)"),
    ("from tensorflow.python.keras.layers.core import Dense\nfrom keras.src.layers.convolutional.conv2d import Conv2D",
     "Dense(units=8, kernel_initializer='zeros')", "Conv2D(filters=4, kernel_size=(3, 3), padding='same', use_bias=False)"),
])
def test_keras_1_2_and_3_spellings_build_one_graph(tmp_path, imports, dense, conv):
    """Implementation module paths and Keras 1 argument names mean the layers of today."""
    program = build(tmp_path, {"main.py": f"""
from keras.models import Sequential
{imports}
model = Sequential()
model.add({conv})
model.add({dense})
"""})
    [graph] = program.models()
    conv_op, dense_op = [graph.ops[i] for i in (1, 2)]
    assert (conv_op.kind, conv_op.type_name, conv_op.attrs["bias"]) == (OpKind.CONV, "keras.layers.Conv2D", False)
    assert conv_op.attrs["keras"]["kernel_size"] == (3, 3) and conv_op.attrs["keras"]["padding"] == "same"
    assert (dense_op.attrs["out_features"], [i["fn"] for i in dense_op.attrs["inits"]]) == (8, ["zeros_"])


@pytest.mark.parametrize("optimizer,name,lr", [
    ("SGD(lr=0.5, decay=1e-6)", "SGD", 0.5),
    ("optimizers.sgd(lr=0.5)", "SGD", 0.5),
    ("optimizers.Adam(learning_rate=0.5)", "Adam", 0.5),
    ("adam_v2.Adam(0.5)", "Adam", 0.5),
])
def test_keras_2_optimizer_spellings(tmp_path, optimizer, name, lr):
    program = build(tmp_path, {"main.py": f"""
from keras import optimizers
from keras.optimizers import SGD
from keras.optimizers.optimizer_v2 import adam as adam_v2
from keras.models import Sequential
from keras.layers import Dense
model = Sequential([Dense(1)])
model.compile(loss="mse", optimizer={optimizer})
"""})
    [record] = program.optimizers()
    assert (record["type_name"], record["lr"], record["weight_decay"]) == (f"keras.optimizers.{name}", lr, None)


@pytest.mark.parametrize("layer", [
    "tf.matmul(x, W) + b",
    "tf.add(tf.matmul(x, W), b)",
    "tf.nn.bias_add(x @ W, b)",
    "tf.nn.xw_plus_b(x, W, b)",
])
def test_tf1_variables_and_matmul_make_a_linear_layer(tmp_path, layer):
    """TF1 graph code: a matmul with a variable is a layer carrying the variable's init, its bias added."""
    program = build(tmp_path, {"main.py": f"""
import tensorflow.compat.v1 as tf
x = tf.placeholder(tf.float32, [None, 20])
target = tf.placeholder(tf.float32, [None, 5])
W = tf.Variable(tf.random_normal([20, 5], stddev=0.5))
b = tf.Variable(tf.zeros([5]))
out = tf.nn.relu({layer})
tf.train.AdamOptimizer().minimize(tf.reduce_mean(tf.square(target - out)))
"""})
    [graph] = program.models()
    [linear] = graph.find(OpKind.LINEAR)
    assert (linear.attrs["in_features"], linear.attrs["out_features"], linear.attrs["bias"]) == (20, 5, True)
    [init] = [i for i in linear.attrs["inits"] if i["param"] == "weight"]
    assert (init["fn"], init["kwargs"]["std"]) == ("normal_", 0.5)
    assert all(i["param"] == "bias" for i in linear.attrs["inits"] if i is not init)  # b's own init, for --trace
    [loss] = graph.setup.losses
    assert (loss["task"], graph.ops[loss["input"]].kind) == ("regression", OpKind.RELU)
    assert [(o["type_name"], o["lr"]) for o in program.optimizers()] == [("tensorflow.train.Adam", 0.001)]


def test_tf1_conv_and_get_variable(tmp_path):
    program = build(tmp_path, {"main.py": """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 28, 28, 1])
kernel = tf.get_variable("k", [5, 5, 1, 32])
h = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")), ksize=[1, 2, 2, 1],
                   strides=[1, 2, 2, 1], padding="SAME")
flat = tf.reshape(h, [-1, 14 * 14 * 32])
unknown = tf.some_new_op(flat)
logits = tf.layers.dense(unknown, 10)
loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
"""})
    [graph] = program.models()
    assert kinds(graph) == [OpKind.CONSTANT, OpKind.CONV, OpKind.RELU, OpKind.POOL, OpKind.RESHAPE, OpKind.UNKNOWN,
                            OpKind.LINEAR, OpKind.UNKNOWN]
    [conv] = graph.find(OpKind.CONV)
    assert (conv.attrs["in_channels"], conv.attrs["kernel_size"], conv.attrs["out_features"]) == (1, (5, 5), 32)
    assert conv.attrs["inits"][0]["fn"] == "xavier_uniform_"  # get_variable's default
    assert conv.attrs["bias"] is False  # no bias variable added to it: bias-free (missing-bias says so, as info)


@pytest.mark.parametrize("first, build_call, width", [
    ("keras.layers.Dense(8)", "model.build((None, 784))", (784,)),
    ("keras.layers.Dense(8)", "model.build(input_shape=[None, 20])", (20,)),
    ("keras.layers.Dense(8, input_shape=(16,))", "model.build((None, 784))", (16,)),  # the layer's own says it
    ("keras.layers.Dense(8)", "model.build(shape)", None),  # not a constant
    ("keras.layers.Dense(8)", "model.build()", None),
])
def test_model_build_states_the_first_layers_input(tmp_path, first, build_call, width):
    program = build(tmp_path, {"main.py": f"""
import keras
shape = read_shape()
model = keras.Sequential()
model.add({first})
model.add(keras.layers.Dense(1))
{build_call}
"""})
    [graph] = program.models()
    assert graph.ops[1].attrs["keras"].get("input_shape") == width
