"""NN107 unshuffled-training-data."""

from __future__ import annotations

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program, is_training_loader
from nnlint.levels import Confidence, Severity

class UnshuffledTrainingData(ProgramCheck):
    """
    ## What it does
    Flags a training `DataLoader` (a torchvision training set, or a loader named like
    `train_loader`) over a map-style data set (torchvision, `TensorDataset`, a subclass of
    `torch.utils.data.Dataset`) that does not shuffle: `shuffle` omitted or False, and no
    sampler. Iterable data sets, which a loader cannot shuffle, are not reported. A
    `shuffle=False` written out (in `DataLoader` or Keras's `fit`) is a choice, for time
    series or reproducible tests, and is reported as `info` only. A run that trains on one
    batch (Lightning's `fast_dev_run=True`, `limit_train_batches=1` with `max_epochs=1`,
    `max_steps=1`), as smoke tests and bug reports do, has no order to shuffle.

    ## Why is this bad?
    Without shuffling every epoch sees the batches in the same order, and a data set stored
    by class or by source gives minibatches that are not representative: the loss swings from
    batch to batch and the model drifts towards whatever came last. A sampler (for example
    `DistributedSampler` or a weighted sampler) does its own shuffling and is not reported,
    nor are evaluation loaders.

    ## Example
    ```python
    train_loader = DataLoader(train_set, batch_size=64)
    ```

    ## Use instead
    ```python
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    ```
    """

    code = "NN107"
    name = "unshuffled-training-data"
    message = "training data loader does not shuffle ({why}): each epoch sees the same batch order"
    hint = "pass shuffle=True (or a sampler that shuffles) to the training DataLoader"
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch
from torch.utils.data import DataLoader, Dataset

class Pairs(Dataset):
    def __len__(self):
        return 100

    def __getitem__(self, i):
        return torch.randn(3), 0

train_loader = DataLoader(Pairs(), batch_size=64)
"""
        ),
        Bad(
            """
import torch
from torchvision import datasets, transforms
data = datasets.MNIST("data", train=True, transform=transforms.ToTensor())
loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=False)
"""
        ),
        Bad(
            """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.fit(x_train, y_train, shuffle=False)
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
SHUFFLE = False
model.fit(x=x_train, y=y_train, epochs=3, shuffle=SHUFFLE)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
from torch.utils.data import DataLoader, IterableDataset
from torch.utils.data.distributed import DistributedSampler

class Stream(IterableDataset):
    def __iter__(self):
        yield from range(10)

stream_train_loader = DataLoader(Stream(), batch_size=4)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
dist_loader = DataLoader(train_set, batch_size=64, sampler=DistributedSampler(train_set))
test_loader = DataLoader(test_set, batch_size=1000)
"""
        ),
        Good(
            """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.fit(x_train, y_train)  # Keras shuffles by default
""",
            frontend="keras-source",
        ),
    ]

    def check(self, program: Program) -> None:
        if program.one_batch:
            return  # a smoke test that trains on a single batch: there is no order to shuffle
        for loader in program.setup.loaders:
            if loader["shuffle"] is not False or loader["sampler"] or is_training_loader(loader) is not True:
                continue
            if not loader["map_style"]:
                continue  # an iterable data set cannot be shuffled by the loader (and may shuffle itself)
            if type(loader["batch_size"]).__name__ == "Rows":
                continue  # batch_size=len(data): one batch, whose order does not matter (batch-size-extreme's case)
            if loader.get("shuffle_given"):
                # written out: a choice (time series, reproducible tests), so advice only
                self.report(loader["origin"], Severity.INFO, Confidence.POSSIBLE, why="shuffle=False")
            else:
                self.report(loader["origin"], why="shuffle is not set; DataLoader's default is False")
