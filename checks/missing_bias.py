"""NN003 missing-bias."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ACTIVATIONS, NORMS, SHAPE_ONLY, WEIGHTED, ModelGraph, Op, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_TRANSPARENT = SHAPE_ONLY | {OpKind.DROPOUT, OpKind.POOL}
_NO_SHIFT = ACTIVATIONS
_OUTPUT_ACTIVATIONS = frozenset({OpKind.SIGMOID, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.TANH})


def _literal_false(op: Op) -> bool:
    """Whether the layer's constructor call says ``bias=False`` literally."""
    node = op.origin.node if op.origin else None
    for arg in getattr(node, "args", ()):
        if arg.keyword is not None and arg.keyword.value in ("bias", "use_bias"):
            return type(arg.value).__name__ == "Name" and arg.value.value == "False"  # libcst.Name
    return False


def _no_shift_before(op: Op) -> bool:
    """Ops whose output carries no learned shift into the next layer."""
    if op.kind in WEIGHTED:
        return op.attrs.get("bias") is False
    return op.kind in ACTIVATIONS or op.kind in (OpKind.INPUT, OpKind.EMBEDDING)


def _transparent(op: Op) -> bool:
    """Ops to look through; not a placeholder (``nn.Identity`` where a norm may go): what
    another configuration puts there is unknown, so the pattern stops at it."""
    return op.kind in _TRANSPARENT and not op.attrs.get("placeholder")


def _linear_chain(op: Op) -> bool:
    """Looking forward, a bias-free layer composes with this one (W2 W1 x): look past it too."""
    return _transparent(op) or (op.kind in WEIGHTED and op.attrs.get("bias") is False)


def _at_output(graph: ModelGraph, op: Op, after: list[Op]) -> bool:
    """The layer computes the model's output: directly (through reshapes, dropout, pooling), or
    through the final activation alone (a Sigmoid or Softmax that is the output)."""
    if not after:
        return graph.passes_to_output(op, _transparent)
    return all(o.kind in _OUTPUT_ACTIVATIONS and graph.passes_to_output(o, _transparent) for o in after)


class MissingBias(GraphCheck):
    """
    ## What it does
    Flags a Linear or convolution layer built with `bias=False` (Keras: `use_bias=False`; TF1
    graph code, as `info`: a `tf.matmul(x, W)` or `tf.nn.conv2d` by a weight variable with no
    bias variable added to it, which tutorials leave out for brevity) when nothing next to it
    supplies a learned shift: no BatchNorm, LayerNorm, GroupNorm or InstanceNorm directly
    before or after it, and no layer with a bias after it before the next activation (two
    linear maps compose into one, as in LoRA's A and B).

    ## Why is this bad?
    Without a bias a layer computes `y = Wx`: every unit's decision boundary must pass through
    the origin, and a following ReLU cannot move its threshold. Adding a bias to every layer
    is standard advice. Dropping it is right only where a normalisation supplies the shift:
    `Conv(bias=False)` followed by BatchNorm (DCGAN, ResNet) or bias-free transformer blocks
    with LayerNorm on the residual stream (nanoGPT). Those stay silent, and so does every
    bias-free layer of a model that uses that idiom somewhere (DCGAN's first and last
    convolutions follow the design of the rest), and a layer whose surroundings nnlint
    cannot see: an unknown call or module next to it (`build_norm_layer(cfg, c)`, a library
    block), or an identity placeholder (`norm_layer=nn.Identity`, a factory that returns
    `nn.Identity()` for "no norm"), which another configuration fills with a norm. A layer whose builder (a helper function, a constructor) has a branch that
    adds a normalisation, switched off by its arguments in this call
    (`if apply_batchnorm: block.add(BatchNormalization())`), is `info`: the author wrote the
    bias-free + norm idiom and chose per call. In ONNX graphs the finding is `info`: exporters fold BatchNorm into the layer
    before it and can drop the folded bias when it is all zeros, so a bias-free export may
    come from correct code. A layer whose weights are never trained (frozen with
    `requires_grad_(False)`, or left out of every optimizer) learns nothing, shift or not, and
    is left alone too, as is a model the code never trains (no loss, optimizer, backward or
    fit anywhere, only applied to data, say to show what a linear map does) is left alone.

    A bias-free output layer (the model's last weighted layer, before at most its final
    Sigmoid/Softmax/Tanh) is `info`: there a constant shift is often learned elsewhere (a ReLU
    unit that is always active carries one) or irrelevant by design: a WGAN critic's shift
    cancels in `mean(D(real)) - mean(D(fake))`, a learned distance (LPIPS's 1x1 weighting)
    must give zero for a zero difference, a classifier's per-class offset is only a prior.
    It stays a warning when the model is trained for regression (an MSE/L1-type loss, or
    `--task regression`): the targets' mean is then what the bias has to learn.

    ## Example
    ```python
    self.net = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 1))
    ```

    ## Use instead
    ```python
    self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
    # or keep bias=False and normalise right after it:
    self.net = nn.Sequential(nn.Linear(16, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 1))
    ```
    """

    code = "NN003"
    name = "missing-bias"
    message = "{layer} has no bias and {after}: nothing supplies the learned shift (y = Wx + b)"
    hint = "give the layer a bias (drop bias=False or use_bias=False; in TF1 graph code add + b), or put a BatchNorm/LayerNorm right after it"
    traceable = True
    measures = frozenset({M.ZERO_INPUT})
    reads_sizes = False  # a bias-free layer maps 0 to 0 at any width
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters())
"""
        ),
        Bad(
            """
from torch import nn
import torch.nn.functional as F

class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, bias=False)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.head(x.mean((2, 3)))
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float[4,4] w = {0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1}, float[4,4] w2 = {0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1, 0.5, -0.3, 0.2, 0.1}, float[4] b2 = {0.0, 0.0, 0.0, 0.0}> {
    h = Gemm(x, w)
    r = Relu(h)
    y = Gemm(r, w2, b2)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(32, activation="relu", use_bias=False), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
inputs = tf.keras.Input(shape=(8,))
h = tf.keras.layers.Dense(16, use_bias=False, activation="tanh")(inputs)
model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(h))
model.fit(x_train, y_train, epochs=5)
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
W1 = tf.Variable(tf.random_normal([784, 256], stddev=0.01))
hidden = tf.nn.relu(tf.matmul(x, W1))
W2 = tf.Variable(tf.random_normal([256, 10], stddev=0.01))
b2 = tf.Variable(tf.zeros([10]))
logits = tf.matmul(hidden, W2) + b2
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits=logits, labels=y))
train = tf.train.AdamOptimizer(1e-3).minimize(loss)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
W1 = tf.Variable(tf.random_normal([784, 256], stddev=0.01))
b1 = tf.Variable(tf.zeros([1, 256]))
hidden = tf.nn.relu(tf.matmul(x, W1) + b1)
W2 = tf.Variable(tf.random_normal([256, 10], stddev=0.01))
logits = tf.nn.bias_add(tf.matmul(hidden, W2), tf.Variable(tf.zeros([10])))
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits=logits, labels=y))
train = tf.train.AdamOptimizer(1e-3).minimize(loss)
""",
            frontend="keras-source",
        ),
        Good(
            """
import torch.nn as nn

# DCGAN-style: the BatchNorm's shift replaces the bias
model = nn.Sequential(
    nn.Conv2d(3, 64, 4, 2, 1, bias=False),
    nn.BatchNorm2d(64),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(64, 1, 4, 1, 0, bias=False),
    nn.Sigmoid(),
)
"""
        ),
        Good(
            """
import torch.nn as nn

class Block(nn.Module):
    # pre-LN transformer MLP: LayerNorm before, residual after
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        return x + self.proj(nn.functional.gelu(self.fc(self.ln(x))))
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Conv2D(16, 3, use_bias=False), layers.BatchNormalization(), layers.Activation("relu")])
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """``bias=True``: where the code passed ``bias`` by position (Linear's third argument, a
        convolution's eighth), there."""
        from nnlint.trace.remedy import Remedy, set_call

        if op is None or graph.ops.get(op.id) is not op or not op.type_name.startswith("torch.nn."):
            return None
        position = 2 if op.kind is OpKind.LINEAR else 7
        return Remedy(self.code, f"a bias added to {op.describe()}", (self.code, op.id),
                      lambda g: set_call(g, op.id, position, "bias", True))

    def confirm(self, evidence: Evidence) -> Verdict:
        """The layer on an all-zero input: with no bias its output is exactly zero; with the
        bias added, it is not."""
        missing = evidence.missing()
        if missing:
            return missing
        peak = evidence.layer().zero_input_max
        if peak is None:
            return inconclusive(evidence.why_not_run or f"{evidence.op.describe()} could not be run on a zero input")
        if peak == 0.0:
            shown = f"{evidence.op.describe()} maps an all-zero input to exactly 0: nothing shifts its output"
            fixed = evidence.fixed_layer()
            if fixed is not None and fixed.zero_input_max and evidence.remedy is not None:
                shown += f"; with {evidence.remedy.what} it gives max |y| = {fixed.zero_input_max:.3g}"
            return confirmed(shown)
        return refuted(f"{evidence.op.describe()} gives max |y| = {peak:.3g} on an all-zero input: it has a shift")

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model or not graph.complete or not graph.top_level:
            return  # a submodule is checked inside the model that uses it, where its context is known
        if graph.setup.trained is False:
            return  # the code only applies the model (to show a linear map): it learns nothing, shift or not
        candidates = []
        by_design = False  # the model uses bias=False next to a norm: its other bias-free layers share the design
        for op in graph.find(*WEIGHTED):
            if op.attrs.get("bias") is not False or op.attrs.get("trained") is False:
                continue  # a layer that has a bias, or whose weights are fixed (frozen, in no optimizer)
            from_graph = op.origin is not None and op.origin.graph_node is not None  # an ONNX node
            # a layer class, or TF1 graph code's layer: a matmul (conv2d) by a weight variable, to
            # which the code adds no bias variable
            layer_class = (op.type_name.startswith("torch.nn.") and ".functional." not in op.type_name) or \
                op.type_name.startswith(("keras.layers.", "tensorflow."))
            if not (from_graph or layer_class):
                continue  # F.linear(x, w) without a bias is deliberate (tied weights, projections)
            before = graph.walk_backward(op, _transparent)
            after = graph.walk_forward(op, _linear_chain)
            if any(o.kind in NORMS for o in before + after):
                by_design = True
            else:
                candidates.append((op, before, after))
        if by_design:
            return
        for op, before, after in candidates:
            if not all(_no_shift_before(o) for o in before):
                continue  # an input nnlint cannot see through, or a biased layer whose shift passes on (W b)
            if not graph.instantiated and not _literal_false(op):
                continue  # a class read from its definition: bias comes from its caller's arguments
            # Exporters fold BatchNorm into the layer before it and may drop an all-zero folded
            # bias (an untrained BatchNorm's): in a graph the correct bias=False + norm idiom can
            # look bias-free, so graph findings are advice.
            level = (Severity.INFO, Confidence.POSSIBLE) if op.origin.graph_node is not None else (None, None)
            if op.attrs.get("optional_norm"):
                level = (Severity.INFO, Confidence.POSSIBLE)  # another call of its builder adds the norm
            if op.type_name.startswith("tensorflow."):
                # a layer written by hand (tf.matmul(x, W)) without its "+ b": tutorials leave it out
                # to keep the code short, and their MNIST nets still train well: advice
                level = (Severity.INFO, Confidence.POSSIBLE)
            if graph.top_level and _at_output(graph, op, after):
                if graph.setup.task != "regression":
                    level = (Severity.INFO, Confidence.POSSIBLE)  # a shift at the output is rarely needed
                self.report(op, *level, layer=op.describe(), after=f"produces the output of {graph.name}")
            elif after and all(o.kind in _NO_SHIFT for o in after):
                described = " and ".join(sorted({o.describe() for o in after}))
                self.report(op, *level, layer=op.describe(), after=f"feeds {described}")
