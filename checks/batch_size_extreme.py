"""NN006 batch-size-extreme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program, is_training_loader, trains_by_code
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence


def _whole(loader: dict, size: Any) -> bool:
    """``batch_size=len(ds)`` / ``X_train.shape[0]`` / ``X_train.size(0)`` of the loader's own data:
    the same value, a tensor it holds, or a name its data set was built from."""
    of, name = getattr(size, "of", None), getattr(size, "name", None)
    if type(size).__name__ != "Rows":
        return False
    dataset = loader["dataset"]
    if of is not None and (of is dataset or any(of is part for part in getattr(dataset, "parts", ()))):
        return True
    return name is not None and name in loader.get("dataset_names", ())


class BatchSizeExtreme(ProgramCheck):
    """
    ## What it does
    Flags training data loaders whose batch size breaks or cripples training:
    - batch size 1 when the model has BatchNorm (batch statistics of one sample);
    - a last batch of exactly one sample (`drop_last=False`) with BatchNorm over features;
    - a batch as large as the whole data set (one update per epoch), by number or written as
      the data's own size (`batch_size=len(train_set)`, `X_train.shape[0]`, `X_train.size(0)`;
      not with L-BFGS, which needs the full batch);
    - a batch larger than `max-batch-size` (default 8192; `info`).

    `DataLoader` defaults to `batch_size=1` when none is given. A loader feeds training when
    it shuffles, when its name says so, or when a loop over it calls `backward()`; a finding
    whose training premise rests on the name alone (or on nothing) is `info` (`possible`).

    ## Why is this bad?
    BatchNorm normalises each feature over the batch: after a Linear/Dense layer a batch of one
    sample has one value per channel, the output is zero (or PyTorch raises "Expected more
    than 1 value per channel when training"); that is an `error`. After a convolution it
    normalises over the spatial positions of the one image and trains (pix2pix and CycleGAN
    do): `info`. The functional `F.batch_norm` on a reshaped tensor (AdaIN, instance norm)
    has its own batch axis and is not judged. Very large batches
    generalise worse and take few steps per epoch; single-sample batches give noisy,
    slow updates. 16 to 128 is the usual range; 32 is a good start. Evaluation loaders, and
    micro-batches with gradient accumulation, are not reported.

    ## Example
    ```python
    model = nn.Sequential(nn.Linear(10, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
    loader = DataLoader(train_set, batch_size=1, shuffle=True)
    ```

    ## Use instead
    ```python
    loader = DataLoader(train_set, batch_size=32, shuffle=True, drop_last=True)
    ```
    """

    code = "NN006"
    name = "batch-size-extreme"
    message = "{problem}"
    hint = "train with batches of 16-128 (start at 32); use drop_last=True when the model has BatchNorm"
    traceable = True
    measures = frozenset({M.BATCH_OF_ONE})
    frameworks = ("pytorch", "keras")
    options = {"max-batch-size": 8192}

    bad = [
        Bad(
            """
import torch.nn as nn
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(10, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
train_loader = DataLoader(train_set, batch_size=1, shuffle=True)
"""
        ),
        Bad(
            """
import argparse
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=60000)
args = parser.parse_args()

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))

model = Net()
data = datasets.MNIST("data", train=True, transform=transforms.ToTensor())
loader = DataLoader(data, batch_size=args.batch_size, shuffle=True)
"""
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Activation("relu"), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, batch_size=1)
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
BATCH = 1
model = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(1)])
model.fit(x, y, epochs=5, batch_size=BATCH)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(10, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True, drop_last=True)
test_loader = DataLoader(test_set, batch_size=1)  # inference one sample at a time
"""
        ),
        Good(
            """
# nanoGPT-style micro-batches with gradient accumulation: no DataLoader, no finding
batch_size = 12
gradient_accumulation_steps = 40
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
model.fit(x, y)  # Keras's default batch size is 32
""",
            frontend="keras-source",
        ),
    ]


    def confirm(self, evidence: Evidence) -> Verdict:
        """One training-mode forward pass on a single sample, where batch norm is the problem.
        A batch too large has no experiment: what it costs is the number of updates per epoch,
        a count the code fixes, and generalisation, which only training on the real data shows;
        comparing updates at the written and a usual batch size on synthetic inputs would come
        out the same for every model, so it could never refute the finding."""
        if "BatchNorm" not in evidence.fields.get("problem", ""):
            return inconclusive("no measurement on synthetic inputs shows how the batch size affects training: "
                                "it costs updates per epoch (a count the code fixes) and generalisation "
                                "(which needs the real data and a whole training run)")
        missing = evidence.missing(need_op=False)
        if missing:
            return missing
        error = evidence.trace.batch_one_error
        if error:
            return confirmed(f"a training-mode forward pass on 1 sample raises: {error}")
        return inconclusive("a training-mode forward pass on 1 sample runs (the spatial positions give the "
                            "statistics), but they describe one sample only")

    def check(self, program: Program) -> None:
        bn_model, per_feature = None, False
        for graph in program.candidates():
            norms = [op for op in graph.find(OpKind.BATCH_NORM) if ".functional." not in op.type_name]
            if norms and (bn_model is None or (not per_feature and any(_per_feature(graph, op) for op in norms))):
                bn_model, per_feature = graph.name, any(_per_feature(graph, op) for op in norms)
        # L-BFGS needs the whole data set in each step: a full batch is its design
        full_batch_ok = any(o["type_name"].endswith("LBFGS") for o in program.optimizers())
        for loader in program.setup.loaders:
            self._judge(loader, bn_model, per_feature, full_batch_ok)

    def _judge(self, loader: dict, bn_model: Any, per_feature: bool = False, full_batch_ok: bool = False) -> None:
        size = loader["batch_size"]
        training = is_training_loader(loader)
        # a premise read from the loader's name alone (or from nothing) is a guess: advice only
        sure = (Severity.WARNING, Confidence.LIKELY) if trains_by_code(loader) else (Severity.INFO, Confidence.POSSIBLE)
        if training is not False and not full_batch_ok and _whole(loader, size):
            self.report(loader["origin"], *sure, problem=(
                f"the batch size is the number of samples in {size.name or 'the data set'}: the whole training set in "
                "one batch, one update per epoch"))
            return
        if not isinstance(size, int) or isinstance(size, bool) or size < 1 or training is False:
            return
        at = loader["origin"]
        dataset = loader["dataset"]
        n = getattr(dataset, "size", None)
        error = (Severity.ERROR, Confidence.LIKELY) if trains_by_code(loader) else (Severity.INFO, Confidence.POSSIBLE)
        if size == 1 and training and bn_model and per_feature:
            self.report(at, *error, model=bn_model, problem=(
                f"training batches of 1 sample, but {bn_model} has BatchNorm over features: one value per "
                "channel, which PyTorch refuses in training mode (Keras normalises it to zero)"))
        elif size == 1 and training and bn_model:
            self.report(at, Severity.INFO, Confidence.POSSIBLE, model=bn_model, problem=(
                f"training batches of 1 sample with BatchNorm in {bn_model}: it normalises over the spatial "
                "positions of one image (as pix2pix and CycleGAN train), and its running statistics follow single samples"))
        elif n and size >= n:
            self.report(at, *sure, problem=(
                f"batch size {size} covers the whole training set of {n} samples: one update per epoch"))
        elif n and training and bn_model and per_feature and loader["drop_last"] is False and n % size == 1:
            self.report(at, *error, model=bn_model, problem=(
                f"{n} samples in batches of {size} leave a last batch of 1 sample, and {bn_model} has BatchNorm: "
                "set drop_last=True"))
        elif size > self.opts["max-batch-size"]:
            self.report(at, Severity.INFO, Confidence.POSSIBLE, problem=(
                f"batch size {size} is above {self.opts['max-batch-size']}: large batches generalise worse and "
                "need a retuned learning rate"))


def _per_feature(graph: ModelGraph, op: Op) -> bool:
    """A batch norm over features (after a Linear/Dense): at batch 1 each channel has one value.
    After a convolution it normalises over the spatial positions too, and one sample still trains."""
    return bool(op.inputs) and graph.unshape(graph.ops[op.inputs[0]]).kind is OpKind.LINEAR
