"""NN112 missing-eval-mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy


class MissingEvalMode(ProgramCheck):
    """
    ## What it does
    Flags a model with dropout or batch norm that is evaluated (called under
    `torch.no_grad()` or `torch.inference_mode()`, or in a function decorated with them,
    where the block computes a loss or a metric on it or returns its predictions) while it
    is known to be in training mode: created or put in `train()` and not switched with
    `model.eval()` (or `model.train(False)`, which reach every submodule) since. A no_grad
    block that only samples, feeds a generator's output to a discriminator being trained,
    or updates an average is training, not evaluation; a dropout of probability 0 drops nothing,
    and one that `eval()` does not switch off (`F.dropout` without `training=`, an `nn.Dropout`
    built inside `forward`) is dropout-always-active's finding, not a missing `eval()`.
    The same holds on PyTorch < 0.4's `Variable(x, volatile=True)` and in the `"val"`/`"test"`
    iteration of a `for phase in ("train", "val")` loop. A model that a function receives as a
    parameter and puts in `train()` itself is followed into the helpers it is passed to; its
    layers are unknown there, so that finding is `info`.
    In TensorFlow 1 graph code: a `sess.run`/`.eval` that fetches an evaluation tensor (not the
    training op, not only the loss) downstream of `tf.nn.dropout(h, keep_prob)` while feeding
    `keep_prob` below 1.

    ## Why is this bad?
    In training mode dropout keeps zeroing units and batch norm normalises with the
    statistics of the evaluation batch and updates its running averages with them:
    validation metrics are noisy and pessimistic, and evaluating on a different data set
    silently changes the model. Where nnlint cannot tell the mode (a function that receives the
    model from elsewhere, Lightning's validation steps, which the Trainer runs in eval mode),
    it says nothing. Nor does it report a model put in `train()` explicitly, with no training
    step since, and then called repeatedly under `no_grad`: that samples its dropout on
    purpose (Monte-Carlo dropout).

    ## Example
    ```python
    model.train()
    ...
    with torch.no_grad():
        accuracy = (model(x_val).argmax(1) == y_val).float().mean()
    ```

    ## Use instead
    ```python
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_val).argmax(1) == y_val).float().mean()
    model.train()
    ```
    """

    code = "NN112"
    name = "missing-eval-mode"
    message = "{model} (with {layers}) is evaluated {how}"
    hint = "call model.eval() before evaluating and model.train() before training again"
    traceable = True
    measures = frozenset({M.EVAL})
    reads_sizes = False  # train and eval passes are compared at the same width
    frameworks = ("pytorch", "keras")  # Keras/TF: TF1's keep_prob fed below 1 to evaluate

    bad = [
        Bad(
            """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
with torch.no_grad():
    val_logits = model(x_val)
    accuracy = (val_logits.argmax(1) == y_val).float().mean()
"""
        ),
        Bad(
            """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 8)
        self.bn = nn.BatchNorm1d(8)

    def forward(self, x):
        return self.bn(self.fc(x))

@torch.no_grad()
def evaluate(model, data):
    return model(data).mean()

def main():
    net = Net()
    net.train()
    evaluate(net, x_val)

main()
"""
        ),
        Bad(
            """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 10])
keep_prob = tf.placeholder(tf.float32)
W = tf.Variable(tf.truncated_normal([10, 2], stddev=0.1))
logits = tf.matmul(tf.nn.dropout(x, keep_prob), W)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
print(sess.run(accuracy, feed_dict={x: test_x, keep_prob: 0.5}))
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow.compat.v1 as tf
images = tf.placeholder(tf.float32, [None, 784])
keep = tf.placeholder(tf.float32)
hidden = tf.nn.dropout(tf.layers.dense(images, 128, activation=tf.nn.relu), keep_prob=keep)
predictions = tf.argmax(tf.layers.dense(hidden, 10), 1)
validation = {images: x_val, keep: 0.8}
labels = predictions.eval(feed_dict=validation)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 10])
keep_prob = tf.placeholder(tf.float32)
W = tf.Variable(tf.truncated_normal([10, 2], stddev=0.1))
logits = tf.matmul(tf.nn.dropout(x, keep_prob), W)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
sess.run([train_op, accuracy], feed_dict={x: batch_x, keep_prob: 0.5})
print(sess.run(loss, feed_dict={x: batch_x, keep_prob: 0.5}))
print(accuracy.eval(feed_dict={x: test_x, keep_prob: 1.0}))
""",
            frontend="keras-source",
        ),
        Good(
            """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
model.eval()
with torch.no_grad():
    val_logits = model(x_val)
model.train(False)
with torch.inference_mode():
    test_logits = model(x_test)

def evaluate(net, data):
    with torch.no_grad():
        return net(data)  # mode unknown here: the caller decides
"""
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """``model.eval()`` before evaluating: not a change to the model, and what the
        evaluation-mode pass the verdict compares against already is."""
        from nnlint.trace.remedy import Remedy

        return Remedy(self.code, f"{fields.get('model', 'the model')}.eval() before evaluating",
                      (self.code, fields.get("model")))

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """The layers that differ between modes must see something: a dropout fed only zeros
        gives the same output in both (a batch norm differs even on a constant input: batch
        statistics against running ones)."""
        graph, trace = evidence.graph, evidence.trace
        if graph is None or trace is None:
            return None
        fed = []
        for op in graph.find(OpKind.DROPOUT, OpKind.BATCH_NORM):
            record = trace.layers.get(op.inputs[0]) if op.inputs else None
            if record is None or record.train is None:
                return None  # not measured: the comparison decides
            s = record.train
            blank = op.kind is OpKind.DROPOUT and s.max == s.min == 0.0
            fed.append((op, blank))
        if fed and all(blank for _, blank in fed):
            return f"every dropout of the model is fed only zeros ({fed[0][0].describe()} among them)"
        return None

    def confirm(self, evidence: Evidence) -> Verdict:
        """The model's output in training mode against evaluation mode, on the same input."""
        missing = evidence.missing(need_op=False)
        if missing:
            return missing
        change = evidence.trace.train_eval_change
        if change is None:
            why = f": {evidence.why_not_run}" if evidence.why_not_run else ""
            return inconclusive(f"the model's output could not be compared between modes{why}")
        name = evidence.graph.name if evidence.graph is not None else "the model"
        if change > 1e-6:
            return confirmed(f"on the same input, training-mode outputs of {name} differ from evaluation-mode "
                             f"outputs by {change:.1%} (mean relative difference)")
        return refuted(f"training-mode and evaluation-mode outputs of {name} are the same")

    def check(self, program: Program) -> None:
        known = {id(call["origin"].node) for call in program.train_mode_evaluations if not call.get("guess")}
        for call in program.train_mode_evaluations:
            if call.get("guess") and id(call["origin"].node) in known:
                continue  # the same call, also run with the model its caller passes: that finding says more
            how = call.get("how") or f"under no_grad in training mode: call {call['model']}.eval() first"
            if call.get("guess"):  # a model passed in as a parameter: its layers are not known
                self.report(call["origin"], Severity.INFO, Confidence.POSSIBLE, model=call["model"],
                            layers="any dropout or batch norm", how=how)
            else:
                self.report(call["origin"], model=call["model"], layers="/".join(call["layers"]), how=how)
