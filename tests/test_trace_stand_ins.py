"""--trace with stand-ins: a size on the data's side of a layer that the code leaves unknown
(``Net(X.shape[1])``, ``nn.Embedding(len(vocab), 32)``) is traced with a small stand-in, and the
part of a model after an op the trace cannot rebuild (a torchvision or timm backbone) is traced
alone; both are said in the evidence. A finding on a stood-in layer itself stays inconclusive."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from nnlint.config import Settings  # noqa: E402
from nnlint.engine import lint, selected_checks  # noqa: E402
from nnlint.trace.run import TraceOptions, trace_findings  # noqa: E402

from tests.test_trace import traced as traced_file  # noqa: E402


def traced(tmp_path, code: str) -> dict:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(code))
    return {(f.code, f.line): f.trace for f in traced_file(path)}


def only(findings: dict, code: str) -> dict:
    [trace] = [t for (c, _), t in findings.items() if c == code]
    return trace


FIRST_LINEAR_FROM_DATA = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.fc1 = nn.Linear(n_in, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.relu(self.fc3(x))

X = load_features()
model = Net(X.shape[1])
loss_fn = nn.MSELoss()
for epoch in range(10):
    loss = loss_fn(model(X), y)
    loss.backward()
"""

SEQUENTIAL_KEYWORDS = """
import torch.nn as nn

n_features = len(columns)
model = nn.Sequential(
    nn.Linear(in_features=n_features, out_features=64),
    nn.ReLU(),
    nn.Dropout(p=0.8),
    nn.Linear(64, 1),
)
criterion = nn.MSELoss()
for xb, yb in loader:
    criterion(model(xb), yb).backward()
"""

EMBEDDING_FROM_VOCAB = """
import torch
from torch import nn

class Tagger(nn.Module):
    def __init__(self, vocab_size, dim=32):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim)
        self.drop = nn.Dropout(0.9)
        self.out = nn.Linear(dim, 5)

    def forward(self, tokens):
        return self.out(self.drop(self.emb(tokens)))

vocab = build_vocab(corpus)
model = Tagger(len(vocab))
"""

CONV_CHANNELS_FROM_DATA = """
import torch.nn as nn

class ConvNet(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, kernel_size=3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout2d(0.85)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.drop(self.pool(self.conv(x)))
        return self.fc(x.flatten(1))

model = ConvNet(images.shape[1])
"""


def test_an_unknown_first_linear_input_size_is_a_stand_in_said_in_the_evidence(tmp_path):
    relu = only(traced(tmp_path, FIRST_LINEAR_FROM_DATA), "NN001")
    assert relu["status"] == "confirmed", relu
    assert "self.fc1's in_features unknown: traced with 32" in relu["evidence"]


def test_keyword_spelling_in_a_sequential(tmp_path):
    drop = only(traced(tmp_path, SEQUENTIAL_KEYWORDS), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "in_features unknown: traced with 32" in drop["evidence"]


def test_an_unknown_vocabulary_is_a_stand_in(tmp_path):
    drop = only(traced(tmp_path, EMBEDDING_FROM_VOCAB), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "self.emb's num_embeddings unknown: traced with 32" in drop["evidence"]


def test_unknown_conv_channels_are_taken_from_a_stand_in_image(tmp_path):
    drop = only(traced(tmp_path, CONV_CHANNELS_FROM_DATA), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "self.conv's in_channels unknown: traced with 3" in drop["evidence"]


def test_a_finding_on_the_stood_in_layer_itself_stays_inconclusive(tmp_path):
    """An init's scale (Xavier's, before a ReLU) is judged against the layer's fan-in, the stand-in here (a
    constant init is judged at any width: test_a_constant_init_is_judged_whatever_the_stood_in_sizes)."""
    code = FIRST_LINEAR_FROM_DATA.replace(
        "        self.fc3 = nn.Linear(32, 1)\n",
        "        self.fc3 = nn.Linear(32, 1)\n        nn.init.xavier_uniform_(self.fc1.weight)\n")
    findings = traced(tmp_path, code)
    init = only(findings, "NN004")
    assert init["status"] == "inconclusive", init
    assert "in_features unknown" in init["evidence"] and "depends on that layer" in init["evidence"]


def test_a_bias_free_layer_of_run_time_widths_is_judged_at_the_stand_ins(tmp_path):
    """A bias-free regression MLP whose widths are all arguments: a layer without a bias maps
    0 to 0 at any width in and out, so the stand-ins are said, not held against the finding
    (an init's scale is: test_a_finding_on_the_stood_in_layer_itself_stays_inconclusive)."""
    code = """
    import torch
    import torch.nn as nn

    class MLP(nn.Module):
        def __init__(self, n_in, hidden, n_out):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(n_in, hidden, bias=False), nn.ReLU(),
                                        nn.Linear(hidden, n_out, bias=False))

        def forward(self, x):
            return self.layers(x)

    def train(model, loader):
        optimizer = torch.optim.Adam(model.parameters())
        for x, y in loader:
            loss = nn.MSELoss()(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """
    findings = [t for (c, _), t in traced(tmp_path, code).items() if c == "NN003"]
    assert len(findings) == 2 and all(t["status"] == "confirmed" for t in findings), findings
    assert any("out_features unknown: traced with 10" in t["evidence"] for t in findings), findings


ACTIONS_HEAD = """
import torch
import torch.nn as nn

class QNet(nn.Module):
    def __init__(self, n_actions):
        super().__init__()
        self.fc1 = nn.Sequential(nn.Linear(8, 256), nn.Tanh())
        self.final = nn.Linear(256, n_actions)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                INIT

    def forward(self, x):
        return self.final(FEATURES)

def train(model, loader):
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in loader:
        loss = nn.MSELoss()(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""


@pytest.mark.parametrize("features", ["self.fc1(x)", "torch.sin(self.fc1(x))", "torch.cos(self.fc1(x)) * 2"])
def test_an_explicit_scale_on_a_layer_of_run_time_outputs_is_judged_at_the_stand_in(tmp_path, features):
    """N(0, 1) weights are judged against the fan-in, which the code states: how many outputs
    the layer gives (actions, here) does not change each output's std."""
    code = ACTIONS_HEAD.replace("INIT", "m.weight.data.normal_(0, 1)").replace("FEATURES", features)
    inits = {line: t for (c, line), t in traced(tmp_path, code).items() if c == "NN004"}
    assert inits and all(t["status"] == "confirmed" for t in inits.values()), inits
    assert any("self.final's out_features unknown: traced with 10" in t["evidence"] for t in inits.values())


@pytest.mark.parametrize("problem, stood, reads", [
    ("w weight initialised with std 1, 7x the He std 0.141 for its fan-in of 100", {"out_features"}, False),
    ("w weight initialised with std 1, 7x the He std 0.141 for its fan-in of 100", {"out_channels"}, False),
    ("w weight initialised with std 1, 7x the He std 0.141 for its fan-in of 100", {"in_features"}, True),
    ("w weight initialised with std 1, 7x the He std 0.141 for its fan-in of 100", {"in_features", "out_features"}, True),
    ("w feeds a ReLU but uses Xavier/Glorot init", {"out_features"}, True),  # its scale counts the outputs
    ("w weight 'weight' is the constant 0 everywhere", {"in_features"}, False),
])
def test_which_stand_ins_an_init_finding_depends_on(problem, stood, reads):
    from nnlint.checks.bad_init import BadInit

    assert BadInit(lambda *a: None).reads_size_of({"problem": problem}, frozenset(stood)) is reads


def test_a_conv_block_of_run_time_channels_is_traced_with_stand_in_maps(tmp_path):
    code = """
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, in_ch, out_ch):
            super().__init__()
            self.conv1 = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(out_channels=out_ch, in_channels=out_ch, kernel_size=3, padding=1)

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.conv1(x))))
    """
    [bias] = [t for (c, _), t in traced(tmp_path, code).items() if c == "NN003"]
    assert bias["status"] == "confirmed", bias
    assert "self.conv1's in_channels unknown: traced with 3, out_channels unknown: traced with 16" in bias["evidence"]


TORCHVISION_HEAD = """
import torch.nn as nn
import torchvision

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights="DEFAULT")
        self.backbone.fc = nn.Identity()
        self.drop = nn.Dropout(p=0.95)
        self.head = nn.Linear(512, 10)

    def forward(self, x):
        return self.head(self.drop(self.backbone(x)))

model = Classifier()
criterion = nn.CrossEntropyLoss()
for xb, yb in loader:
    criterion(model(xb), yb).backward()
"""

TIMM_HEAD = """
import timm
import torch
from torch import nn

class Model(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.encoder = timm.create_model(name, pretrained=True, num_classes=0)
        self.head = nn.Sequential(nn.Dropout(0.9), nn.Linear(self.encoder.num_features, 5))

    def forward(self, images):
        features = self.encoder(images)
        return self.head(features)

model = Model("efficientnet_b0")
"""


def test_the_head_behind_a_torchvision_backbone_is_traced_alone(tmp_path):
    drop = only(traced(tmp_path, TORCHVISION_HEAD), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "traced the part after self.backbone alone" in drop["evidence"]
    assert "inputs of 512 per sample" in drop["evidence"]  # the width the head's Linear takes


def test_the_head_behind_a_timm_encoder_of_unknown_width_gets_a_stand_in(tmp_path):
    drop = only(traced(tmp_path, TIMM_HEAD), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "traced the part after self.encoder alone" in drop["evidence"]
    assert "in_features unknown: traced with 32" in drop["evidence"]


HEADED_FACTORIES = [
    """
import torch.nn as nn
import torchvision

def densenet121(num_classes, pretrained=False):
    net = torchvision.models.densenet121(pretrained=pretrained)
    width = net.classifier.in_features
    net.classifier = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Dropout(p=0.85),
                                   nn.Linear(width, num_classes), nn.Sigmoid())
    return net
""",
    """
from collections import OrderedDict
from torch import nn
from torchvision import models

def build(n_out=4):
    backbone = models.resnet34(weights=None)
    backbone.fc = nn.Sequential(OrderedDict([("drop", nn.Dropout(0.9)), ("out", nn.Linear(512, n_out))]))
    return backbone
""",
]


@pytest.mark.parametrize("code", HEADED_FACTORIES)
def test_a_library_model_given_a_new_head_in_a_factory_is_traced_in_part(tmp_path, code):
    """A factory that gives a torchvision model a new head, used from another file: the head's
    dropout is measured behind the backbone, which the evidence names."""
    drop = only(traced(tmp_path, code), "NN007")
    assert drop["status"] == "confirmed", drop
    assert "traced the part after torchvision.models." in drop["evidence"], drop
    assert "with p=0.1" in drop["evidence"] or "with p=0.15" in drop["evidence"], drop


def test_a_new_head_adds_no_finding_of_its_own(tmp_path):
    """Near miss: the same factory with a sane rate and a sigmoid output (no loss is known in the
    file) is as silent with its head read as a model as it was without."""
    findings = traced(tmp_path, HEADED_FACTORIES[0].replace("p=0.85", "p=0.3"))
    assert findings == {}, findings


TUPLE_OP_NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Matting(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.pred = nn.Conv2d(16, 1, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        pooled, where = F.max_pool2d(h, kernel_size=2, stride=2, return_indices=True)
        h = F.relu(self.conv2(pooled))
        h = F.max_unpool2d(h, where, kernel_size=2, stride=2)
        return torch.sigmoid(self.pred(h))

model = Matting()
"""


def test_an_op_that_returns_several_values_does_not_fail_the_whole_trace(tmp_path):
    """``max_pool2d(..., return_indices=True)`` returns a tuple: the trace does not follow it, and
    what comes before it is still measured (before, the whole model failed to run)."""
    init = only(traced(tmp_path, TUPLE_OP_NET), "NN004")
    assert "failed to run" not in init["evidence"], init
    assert init["status"] == "confirmed", init


KERAS_UNKNOWN_BEFORE_CONV = """
from keras.layers import Input, Conv1D, MaxPooling1D, UpSampling1D
from keras.models import Model

signal = Input(shape=(128, 12))
h = Conv1D(64, 9, activation="relu", padding="same")(signal)
h = MaxPooling1D(2, padding="same")(h)
h = UpSampling1D(size=2)(h)
out = Conv1D(12, 9, activation="relu", padding="same")(h)
net = Model(signal, out)
net.compile(optimizer="adam", loss="mse")
net.fit(standardised, standardised, epochs=10)
"""


def test_the_part_after_an_unknown_keras_layer_is_fed_channels_last(tmp_path):
    """A Keras Conv1D after a layer the trace does not rebuild (UpSampling1D) takes
    (steps, channels): the part after it is traced alone in that layout."""
    relu = only(traced(tmp_path, KERAS_UNKNOWN_BEFORE_CONV), "NN001")
    assert relu["status"] == "confirmed", relu
    assert "traced the part after UpSampling1D alone" in relu["evidence"], relu


def test_a_part_that_reads_around_the_unknown_op_is_not_cut(tmp_path):
    """A residual sum of the unknown block and its input: the part after the block is not
    computed from it alone, so it is not traced as a part; the dropout, whose share of zeros
    needs nothing else, is measured alone and says so."""
    code = """
    import torch.nn as nn

    class Residual(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block
            self.drop = nn.Dropout(0.9)

        def forward(self, x):
            return self.drop(self.block(x) + x)

    model = Residual(make_block())
    """
    drop = only(traced(tmp_path, code), "NN007")
    assert drop["status"] == "confirmed" and "self.drop (Dropout) measured alone" in drop["evidence"], drop
    assert "traced the part" not in drop["evidence"]


CNN = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.fc = nn.Linear(8 * 26 * 26, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        return self.fc(x.view(x.size(0), -1))

model = Net()
"""

LOOP_AT_MODULE_LEVEL = CNN + """
for images, labels in loader:
    probs = F.softmax(model(images), dim=1)
    loss = F.cross_entropy(probs, labels)
    loss.backward()
"""

LOOP_IN_A_FUNCTION = CNN + """
criterion = nn.CrossEntropyLoss()

def train_epoch(net, batches):
    for xb, yb in batches:
        out = torch.softmax(net(xb), 1)
        criterion(out, yb).backward()

train_epoch(model, loader)
"""


@pytest.mark.parametrize("code", [LOOP_AT_MODULE_LEVEL, LOOP_IN_A_FUNCTION])
def test_a_finding_on_the_training_loop_is_reported_with_the_model_never_on_a_layer(tmp_path, code):
    from nnlint.report.html import render

    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(code))
    settings = Settings()
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    findings, traces = trace_findings(result.findings, subjects, TraceOptions(device="cpu", report=True))
    [line] = [f.line for f in findings if f.code == "NN103"]
    assert [t.model for t in traces] == ["Net"]  # the training code's own graph has no section
    [shown] = [f for f in traces[0].findings if f.code == "NN103"]
    assert shown.op_id is None and shown.place == f"training code, line {line}"
    html = render(traces)
    assert "train.py: Net" in html and f"training code, line {line}" in html
    assert 'class="ring"' not in html and "hist flagged" not in html


def test_a_helper_outside_the_model_is_named_as_such(tmp_path):
    code = CNN + """
def softmax_weights(scores):
    e = torch.exp(scores)
    return e / e.sum()
"""
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(code))
    settings = Settings()
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    findings, traces = trace_findings(result.findings, subjects, TraceOptions(device="cpu", report=True))
    [line] = [f.line for f in findings if f.code == "NN002"]
    [shown] = [f for t in traces for f in t.findings if f.code == "NN002"]
    assert shown.op_id is None and shown.place == f"code outside the model, line {line}"
    assert [t.model for t in traces] == ["Net"]


def test_the_part_traced_alone_starts_where_a_layer_gives_its_shape(tmp_path):
    """A reduction between the unknown encoder and the head: the head is fed what its Linear takes."""
    code = """
    import torch
    from torch import nn
    from encoders.vision import PatchEncoder

    class DepthHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = PatchEncoder(dim=256)
            self.out = nn.Linear(256, 1)

        def forward(self, x):
            pooled = self.encoder(x).mean(dim=1)
            return torch.relu(self.out(pooled))

    head = DepthHead()
    loss = nn.functional.l1_loss(head(x), depth)
    """
    relu = only(traced(tmp_path, code), "NN001")
    assert relu["status"] == "confirmed", relu
    assert "traced the part after self.encoder and its mean alone" in relu["evidence"]
    assert "inputs of 256 per sample" in relu["evidence"]


def test_the_op_stood_in_for_is_not_measured_as_itself(tmp_path):
    """The random input fed to the head is not the backbone's output: no record of it is kept."""
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(TORCHVISION_HEAD))
    settings = Settings()
    subjects: dict = {}
    result = lint([str(path)], settings, selected_checks(settings), subjects=subjects)
    _, [trace] = trace_findings(result.findings, subjects, TraceOptions(device="cpu", report=True))
    names = [record.name for record in trace.layers.values()]
    assert "self.drop (Dropout)" in names and "self.head (Linear)" in names
    assert not any(name.split(" ")[0] in ("backbone", "self.backbone") for name in names), names


# Keras and TF1 models whose first layer never states its input size: a Dense reading it is
# sized to a stand-in width, said in the evidence; a placeholder's own shape is used as given.

KERAS_SEQUENTIAL_NO_INPUT_SHAPE = """
from tensorflow import keras

model = keras.Sequential([
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.9),
    keras.layers.Dense(1, activation="relu"),
])
model.compile(optimizer="adam", loss="mse")
model.fit(features, targets, epochs=3)
"""

KERAS_ADDED_LAYERS = """
import tensorflow as tf

net = tf.keras.models.Sequential()
net.add(tf.keras.layers.Dense(32, activation="tanh"))
net.add(tf.keras.layers.Dropout(0.75))
net.add(tf.keras.layers.Dense(10, activation="softmax"))
net.compile(optimizer="adam", loss="categorical_crossentropy")
net.fit(x_train, y_train)
"""

KERAS_FUNCTIONAL_UNKNOWN_WIDTH = """
from tensorflow import keras
from tensorflow.keras import layers

inputs = keras.Input(shape=(None,))
hidden = layers.Dense(128, activation="relu")(inputs)
hidden = layers.Dropout(rate=0.85)(hidden)
outputs = layers.Dense(3)(hidden)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""

TF1_PLACEHOLDER_UNKNOWN_WIDTH = """
import tensorflow as tf

x = tf.placeholder(tf.float32, shape=[None, None])
y = tf.placeholder(tf.float32, shape=[None, 1])
h = tf.layers.dense(x, 256, activation=tf.nn.relu)
pred = tf.layers.dense(h, 1, activation=tf.nn.relu)
cost = tf.reduce_mean(tf.square(y - pred))
tf.train.AdamOptimizer(1e-3).minimize(cost)
"""

TF1_COMPAT_NO_SHAPE = """
import tensorflow.compat.v1 as tf1

tf1.disable_eager_execution()
inputs = tf1.placeholder(tf1.float32)
labels = tf1.placeholder(tf1.int64, [None])
dense = tf1.layers.dense(inputs, 100, activation=tf1.nn.relu)
dense = tf1.layers.dropout(dense, rate=0.8, training=True)
logits = tf1.layers.dense(dense, 10)
loss = tf1.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
"""


@pytest.mark.parametrize("code, rule, layer", [
    (KERAS_SEQUENTIAL_NO_INPUT_SHAPE, "NN001", "model[0]"),
    (KERAS_SEQUENTIAL_NO_INPUT_SHAPE, "NN007", "model[0]"),
    (KERAS_ADDED_LAYERS, "NN007", "net[0]"),
    (KERAS_FUNCTIONAL_UNKNOWN_WIDTH, "NN007", "Dense's"),
    (TF1_PLACEHOLDER_UNKNOWN_WIDTH, "NN001", "tf.layers.dense"),
    (TF1_COMPAT_NO_SHAPE, "NN007", "dense"),
])
def test_a_keras_or_tf1_input_of_unknown_width_is_a_stand_in(tmp_path, code, rule, layer):
    trace = only(traced(tmp_path, code), rule)
    assert trace["status"] == "confirmed", trace
    assert "in_features unknown: traced with 32" in trace["evidence"], trace
    assert layer in trace["evidence"], trace


def test_a_placeholder_of_known_width_is_traced_as_declared(tmp_path):
    code = TF1_PLACEHOLDER_UNKNOWN_WIDTH.replace("[None, None]", "[None, 13]")
    trace = only(traced(tmp_path, code), "NN001")
    assert trace["status"] == "confirmed", trace
    assert "unknown" not in trace["evidence"], trace


def test_a_constant_init_on_the_stood_in_dense_itself_is_confirmed_saying_so(tmp_path):
    """Its units are identical at any width: the stand-in is said, not a reason to doubt."""
    code = KERAS_SEQUENTIAL_NO_INPUT_SHAPE.replace(
        'Dense(64, activation="relu")', 'Dense(64, activation="relu", kernel_initializer="zeros")')
    findings = traced(tmp_path, code)
    init = only(findings, "NN004")
    assert init["status"] == "confirmed", init
    assert "in_features unknown: traced with 32" in init["evidence"], init
    assert only(findings, "NN001")["status"] == "confirmed"


@pytest.mark.parametrize("code", [
    """
    import torch
    import torch.nn as nn

    class Policy(nn.Module):
        def __init__(self, n_actions):
            super().__init__()
            self.body = nn.Linear(8, 32)
            self.head = nn.Linear(32, n_actions)

        def forward(self, x):
            return torch.log(torch.softmax(self.head(torch.relu(self.body(x))), dim=1))

    policy = Policy(env.action_space.n)
    """,
    """
    import tensorflow as tf

    X = tf.placeholder(tf.float32, [None, 8])
    W1 = tf.get_variable("W1", shape=[8, 32], initializer=tf.contrib.layers.xavier_initializer())
    W2 = tf.get_variable("W2", shape=[32, env.action_space.n], initializer=tf.contrib.layers.xavier_initializer())
    action_pred = tf.nn.softmax(tf.matmul(tf.nn.relu(tf.matmul(X, W1)), W2))
    loss = -tf.reduce_sum(Y * tf.log(action_pred))
    """,
])
def test_a_number_of_outputs_known_at_run_time_stands_in_behind_the_finding(tmp_path, code):
    """A policy head of env.action_space.n outputs: the log of its softmax underflows for any
    number of actions over one, so it is traced with a stand-in number, said in the evidence."""
    trace = only(traced(tmp_path, code), "NN002")
    assert trace["status"] == "confirmed", trace
    assert "out_features unknown: traced with 10" in trace["evidence"], trace


def test_a_dropout_is_measured_alone_where_its_model_cannot_be_rebuilt(tmp_path):
    """A channels-first convolution of no input shape: the model is not rebuilt, but the share
    of units a dropout zeroes needs nothing from it; the output-activation finding, which does,
    stays inconclusive with the reason."""
    found = traced(tmp_path, """
    from tensorflow import keras

    model = keras.Sequential([keras.layers.Conv1D(16, 3, data_format="channels_first"), keras.layers.Flatten(),
                              keras.layers.Dropout(0.9), keras.layers.Dense(1, activation="relu")])
    model.compile(optimizer="adam", loss="mse")
    """)
    dropout = only(found, "NN007")
    assert dropout["status"] == "confirmed", dropout
    assert "measured alone, on 32 units" in dropout["evidence"] and "Conv1D" in dropout["evidence"], dropout
    output = only(found, "NN001")
    assert output["status"] == "inconclusive" and "Conv1D" in output["evidence"], output


KERAS_TOKENIZED_TEXT = """
import tensorflow as tf
from tensorflow.keras.preprocessing.text import Tokenizer

tokenizer = Tokenizer(num_words=None)
tokenizer.fit_on_texts(texts)
vocab_size = len(tokenizer.word_index) + 1
model = tf.keras.Sequential([
    tf.keras.layers.Embedding(vocab_size, 64),
    tf.keras.layers.GlobalAveragePooling1D(),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dropout(0.9),
    tf.keras.layers.Dense(1, activation="relu"),
])
model.compile(optimizer="adam", loss="mse")
"""

KERAS_ADDED_EMBEDDING = """
from keras import layers, models

net = models.Sequential()
net.add(layers.Embedding(input_dim=10000, output_dim=16))
net.add(layers.GlobalAveragePooling1D())
net.add(layers.Dense(16, activation="relu"))
net.add(layers.Dense(1))
net.add(layers.Activation("relu"))
net.compile(optimizer="rmsprop", loss="mean_squared_error")
"""

KERAS_FUNCTIONAL_TOKENS = """
import keras
from keras import layers

words = sorted(set(corpus.split()))
inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(len(words) + 1, 128)(inputs)
x = layers.Flatten()(x)
x = layers.Dense(64, activation="relu", kernel_initializer="zeros")(x)
x = layers.Dropout(rate=0.8)(x)
outputs = layers.Dense(1, activation="relu")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
"""


@pytest.mark.parametrize("code, rule, said", [
    (KERAS_TOKENIZED_TEXT, "NN001", ["model[0]'s input_length unknown: traced with 16",
                                     "num_embeddings unknown: traced with 32"]),
    (KERAS_TOKENIZED_TEXT, "NN007", ["model[0]'s input_length unknown: traced with 16",
                                     "num_embeddings unknown: traced with 32"]),
    (KERAS_ADDED_EMBEDDING, "NN001", ["net[0]'s input_length unknown: traced with 16"]),
    (KERAS_FUNCTIONAL_TOKENS, "NN001", ["Embedding's input_length unknown: traced with 16",
                                        "num_embeddings unknown: traced with 32",
                                        "Dense's in_features unknown: traced with 2048"]),
    (KERAS_FUNCTIONAL_TOKENS, "NN007", ["Embedding's input_length unknown: traced with 16"]),
])
def test_a_keras_embedding_of_unknown_length_or_vocabulary_is_traced_with_stand_ins(tmp_path, code, rule, said):
    """An Embedding with no input_length (and a vocabulary only known at run time) is fed
    SEQUENCE_LENGTH token ids below a stand-in vocabulary; the findings behind it are measured,
    and the evidence names each stand-in."""
    trace = only(traced(tmp_path, code), rule)
    assert trace["status"] == "confirmed", trace
    for words in said:
        assert words in trace["evidence"], trace
    if code is KERAS_ADDED_EMBEDDING:  # a vocabulary the code states is no stand-in
        assert "num_embeddings" not in trace["evidence"], trace


def test_a_constant_init_on_a_layer_sized_by_the_stood_in_length_is_confirmed_saying_so(tmp_path):
    """After a Flatten, the first Dense's width is the stand-in length times the embedding's; a
    constant init makes its units identical at that width as at any other, which the evidence
    says; with the steps pooled away the Dense's width is the embedding's own."""
    found = traced(tmp_path, KERAS_FUNCTIONAL_TOKENS)
    init = only(found, "NN004")
    assert init["status"] == "confirmed", init
    assert "in_features unknown: traced with 2048" in init["evidence"], init
    pooled = traced(tmp_path, KERAS_FUNCTIONAL_TOKENS.replace("layers.Flatten()", "layers.GlobalMaxPooling1D()")
                    .replace("GlobalMaxPooling1D", "GlobalAveragePooling1D"))
    init = only(pooled, "NN004")
    assert init["status"] == "confirmed", init
    assert "in_features unknown" not in init["evidence"], init


def test_a_keep_probability_near_miss_behind_a_stood_in_embedding_is_refuted(tmp_path):
    """A rate read from a name that says keep but dropping 30%: reported as advice, and the
    measurement on the model rebuilt with the stand-ins does not confirm it."""
    code = KERAS_TOKENIZED_TEXT.replace("Dropout(0.9)", "Dropout(rate=keep_prob)").replace(
        "vocab_size = ", "keep_prob = 0.3\nvocab_size = ")
    trace = only(traced(tmp_path, code), "NN007")
    assert trace["status"] == "refuted", trace
    assert "input_length unknown: traced with 16" in trace["evidence"], trace


def test_clean_text_models_behind_stood_in_embeddings_confirm_nothing(tmp_path):
    from nnlint.trace.build import BuiltGraph

    from tests.test_trace_keras import CPU, keras_graph

    for code in (KERAS_TOKENIZED_TEXT, KERAS_FUNCTIONAL_TOKENS):
        clean = code.replace('Dense(1, activation="relu")', "Dense(1)").replace("Dropout(0.9)", "Dropout(0.2)") \
            .replace("Dropout(rate=0.8)", "Dropout(rate=0.2)").replace(', kernel_initializer="zeros"', "")
        found = traced(tmp_path, clean)
        assert not [t for t in found.values() if t["status"] == "confirmed"], found
        graph = keras_graph(tmp_path, clean)  # silent because clean, not because it was not rebuilt
        assert not BuiltGraph(graph, CPU).broken


def test_token_ids_stay_below_the_vocabulary_stated_or_stood_in(tmp_path):
    from nnlint.trace.build import BuiltGraph

    from tests.test_trace_keras import CPU, keras_graph

    stated = keras_graph(tmp_path, KERAS_ADDED_EMBEDDING, name="net")
    built = BuiltGraph(stated, CPU)
    spec = built.specs[stated.inputs[0]]
    assert spec.shape == (1, 16) and spec.integer_below == 10000 and not built.broken
    unknown = keras_graph(tmp_path, KERAS_TOKENIZED_TEXT)
    built = BuiltGraph(unknown, CPU)
    spec = built.specs[unknown.inputs[0]]
    assert spec.shape == (1, 16) and spec.integer_below == 32 and not built.broken
    embedding = next(layer for layer in built.layers.values() if isinstance(layer, torch.nn.Embedding))
    assert embedding.num_embeddings == 32
    configured = BuiltGraph(unknown, CPU, [40])  # input-shape in the configuration: its length, no stand-in
    assert configured.specs[unknown.inputs[0]].shape == (1, 40) and configured.specs[unknown.inputs[0]].integer_below == 32
    assert "input_length" not in " ".join(configured.stand_ins.values())
    assert "num_embeddings unknown: traced with 32" in " ".join(configured.stand_ins.values())
    stated_length = keras_graph(tmp_path, KERAS_TOKENIZED_TEXT.replace("Embedding(vocab_size, 64)",
                                                                       "Embedding(vocab_size, 64, input_length=50)"))
    assert BuiltGraph(stated_length, CPU).specs[stated_length.inputs[0]].shape == (1, 50)


LOSS_MODULE = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class SoftTargetCrossEntropy(nn.Module):
    def __init__(self):
        super(SoftTargetCrossEntropy, self).__init__()

    def forward(self, logits, soft_targets):
        probs = F.softmax(logits, dim=1)
        return (-soft_targets * torch.log(probs)).sum(dim=1).mean()
"""


def test_a_module_without_weights_is_fed_a_free_width_as_a_helper_is(tmp_path):
    """A hand-written loss as an ``nn.Module``: nothing in it fixes its inputs' width, and any
    width shows the log of a softmax underflowing."""
    found = traced(tmp_path, LOSS_MODULE)
    log = only(found, "NN002")
    assert log["status"] == "confirmed", log
    assert "log_softmax" in log["evidence"], log


def test_the_stable_loss_module_confirms_nothing(tmp_path):
    """Near miss: the same loss with ``log_softmax`` is neither flagged nor confirmed."""
    stable = LOSS_MODULE.replace("probs = F.softmax(logits, dim=1)", "log_probs = F.log_softmax(logits, dim=1)")
    found = traced(tmp_path, stable.replace("torch.log(probs)", "log_probs"))
    assert not any(t and t["status"] == "confirmed" for t in found.values()), found
    assert "NN002" not in {code for code, _ in found}, found


LOG_OF_UNFOLLOWED_LOGITS = """
import torch
import torch.nn as nn
from heads import build_model

model = build_model()
softmax = nn.Softmax(dim=-1)
criterion = nn.NLLLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, label in loader:
    entity, context = model(x)
    log_probs = torch.log(softmax(entity + context))
    loss = criterion(log_probs, label)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def test_a_softmax_on_logits_the_analysis_does_not_follow_is_fed_its_own_input(tmp_path):
    """The softmax is applied to the sum of an unknown model's outputs: it is fed random logits
    and runs itself, so the log sees probabilities (not random values standing for them, whose
    negatives would make the log NaN at the first scale)."""
    log = only(traced(tmp_path, LOG_OF_UNFOLLOWED_LOGITS), "NN002")
    assert log["status"] == "confirmed", log
    assert "fed random inputs of 10 per sample" in log["evidence"], log
    assert "at input scale x1 " not in log["evidence"], log


def test_the_stable_form_on_unfollowed_logits_is_not_flagged(tmp_path):
    """Near miss: the same loop with LogSoftmax."""
    stable = LOG_OF_UNFOLLOWED_LOGITS.replace("softmax = nn.Softmax(dim=-1)", "log_softmax = nn.LogSoftmax(dim=-1)")
    stable = stable.replace("torch.log(softmax(entity + context))", "log_softmax(entity + context)")
    found = traced(tmp_path, stable)
    assert "NN002" not in {code for code, _ in found}, found
    assert not any(t and t["status"] == "confirmed" for t in found.values()), found


@pytest.mark.parametrize("code", [
    """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.hidden = nn.Linear(n_in, 64)
            self.out = nn.Linear(64, 1)
            nn.init.zeros_(self.hidden.weight)

        def forward(self, x):
            return self.out(nn.functional.relu(self.hidden(x)))

    net = Net(X.shape[1])
    """,
    """
    import tensorflow as tf

    class Model(tf.keras.Model):
        def __init__(self, n_classes):
            super().__init__()
            self.dense1 = tf.keras.layers.Dense(64, activation="relu", kernel_initializer="zeros")
            self.dense2 = tf.keras.layers.Dense(n_classes)

        def call(self, x):
            return self.dense2(self.dense1(x))
    """,
])
def test_a_constant_init_is_judged_whatever_the_stood_in_sizes(tmp_path, code):
    """Every unit of a constant-initialised layer computes the same at any width: the finding
    does not depend on its stood-in input size (nor on a stood-in number of outputs after it)."""
    trace = only(traced(tmp_path, code), "NN004")
    assert trace["status"] == "confirmed", trace
    assert "responds identically" in trace["evidence"]


def test_a_keras_dense_of_run_time_units_is_a_stand_in(tmp_path):
    """``Dense(n_classes)`` of a builder's argument: 10 units stand in, said in the evidence, and
    the dropout before it is measured."""
    code = """
    from tensorflow import keras

    def build(n_hidden, n_classes):
        model = keras.Sequential([
            keras.layers.Dense(n_hidden, activation="relu", input_shape=(20,)),
            keras.layers.Dropout(0.8),
            keras.layers.Dense(n_classes, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model
    """
    findings = traced(tmp_path, code)
    dropout = only(findings, "NN007")
    assert dropout["status"] == "confirmed", dropout
    assert "out_features unknown: traced with 10" in dropout["evidence"], dropout


def test_rows_of_the_input_data_are_traced_as_the_data(tmp_path):
    """``s[index]`` with a run-time slice (a minibatch of the collected states) before the
    model: the data is random either way, so its part is traced as all of it."""
    code = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(4, 64)
            self.l2 = nn.Linear(64, 2)

        def pi(self, x, softmax_dim=0):
            return F.softmax(self.l2(F.relu(self.l1(x))), dim=softmax_dim)

    def update(actor, s, a, batch_size, i):
        index = slice(i * batch_size, (i + 1) * batch_size)
        prob_a = actor.pi(s[index], softmax_dim=1).gather(1, a[index])
        return torch.log(prob_a).mean()

    update(Actor(), torch.randn(64, 4), torch.zeros(64, 1, dtype=torch.long), 16, 0)
    """
    trace = only(traced(tmp_path, code), "NN002")
    assert trace["status"] == "confirmed", trace
    assert "getitem of the input data traced as the data itself" in trace["evidence"], trace


def test_a_concatenation_of_the_model_s_tensors_is_replayed(tmp_path):
    """``torch.cat([h, g], 1)`` (a skip connection, a dense block) takes its tensors in a list:
    they are the op's inputs, replayed, so the model is traced whole, not cut at the cat."""
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.c = nn.Conv2d(16, 1, 3, padding=1)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.c(torch.cat((h, torch.relu(self.b(h))), dim=1))

    model = Net()
    """
    trace = only(traced(tmp_path, code), "NN003")
    assert trace["status"] == "confirmed", trace
    assert "alone" not in trace["evidence"] and "outside the traced graph" not in trace["evidence"], trace


BRANCHES = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Actor(nn.Module):
    def __init__(self, history):
        super().__init__()
        self.history = history
        self.fc = nn.Linear(1, 64)
        self.conv = nn.Conv1d(1, 16, kernel_size=4)
        self.out = nn.Linear(64 + 16 * 5, 6)

    def forward(self, s):
        scalar = F.relu(self.fc(s[:, 0:1, -1]))
        series = F.relu(self.conv(s[:, 1:2, :].view(-1, 1, self.history))).flatten(start_dim=1)
        return self.out(torch.cat([scalar, series], dim=1))

    def loss(self, states, actions, advantages):
        probs = F.softmax(self.forward(states), dim=1)
        return torch.sum(-advantages * actions * LOG)
"""


@pytest.mark.parametrize("log, status", [("torch.log(probs)", "confirmed"),
                                         ("torch.log(probs + 1e-6)", None)])  # guarded: no finding
def test_the_head_after_branches_one_of_which_cannot_be_rebuilt_is_traced_alone(tmp_path, log, status):
    """A branch's view(-1, 1, self.history) has a size only the run has: the concatenation
    of the branches is read by a Linear of known width, so the part from there on (the
    policy's log of softmax, with the loss's advantages and actions) is traced alone."""
    found = [t for (c, _), t in traced(tmp_path, BRANCHES.replace("LOG", log)).items() if c == "NN002"]
    if status is None:
        assert found == []
        return
    [trace] = found
    assert trace["status"] == status, trace
    assert "traced the part after view and its torch.cat alone" in trace["evidence"]
    assert "fed random inputs of 144 per sample" in trace["evidence"]


CATEGORICAL = """
import torch
import torch.nn as nn
import torch.nn.functional as F

N_ATOMS = 51

class C51(nn.Module):
    def __init__(self, state_size=8, action_size=4):
        super().__init__()
        self.action_size = action_size
        self.fc = nn.Linear(state_size, 64)
        self.value = nn.Linear(64, N_ATOMS)
        self.advantage = nn.Linear(64, action_size * N_ATOMS)

    def forward(self, state):
        batch_size = BATCH
        x = F.relu(self.fc(state))
        value = self.value(x).view(batch_size, 1, N_ATOMS)
        advantage = self.advantage(x).view((batch_size, -1, N_ATOMS))
        q = value + advantage - advantage.mean(dim=1, keepdim=True)
        return F.softmax(q.view(-1, N_ATOMS), dim=1).view(-1, self.action_size, N_ATOMS)

def learn(model, states, actions, target):
    probs = model(states)[range(len(actions)), actions]
    return -(probs.log() * target).sum(1).mean()

model = C51()
loss = learn(model, observations, taken, projected)
"""


@pytest.mark.parametrize("batch", ["state.size(0)", "state.shape[0]", "state.size()[0]"])
def test_a_view_sized_by_the_batch_keeps_its_input_s_batch(tmp_path, batch):
    """``view(batch_size, 1, n)`` with ``batch_size = state.size(0)``: a categorical DQN's
    distribution head is rebuilt (the view's first size is the batch of what it reshapes), and
    the probabilities picked by the run's actions are measured."""
    found = [t for (c, _), t in traced(tmp_path, CATEGORICAL.replace("BATCH", batch)).items() if c == "NN002"]
    [trace] = found
    assert trace["status"] == "confirmed", trace
    assert "known only at run time" not in trace["evidence"].split("(")[0]
