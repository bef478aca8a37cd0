"""NN104 plain-sgd."""

from __future__ import annotations

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.levels import Confidence, Severity


class PlainSgd(ProgramCheck):
    """
    ## What it does
    Reports `torch.optim.SGD` used without momentum. This is advice (`info`).

    ## Why is this bad?
    Plain SGD follows each noisy minibatch gradient on its own: it crawls along ravines and
    stalls on plateaus. Momentum (0.9 is the usual value), Nesterov momentum, RMSProp, Adagrad
    or Adam reach the same loss in far fewer steps, which is why they are the defaults in
    practice. SGD without momentum is fine when you know you want it (some convex problems,
    tiny models, or matching a paper's exact recipe): silence the finding then.

    ## Example
    ```python
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ```
    """

    code = "NN104"
    name = "plain-sgd"
    severity = Severity.INFO
    confidence = Confidence.CERTAIN
    message = "SGD without momentum: use momentum=0.9 (or Nesterov, RMSProp, Adam) to train much faster"
    hint = "add momentum=0.9 (and nesterov=True), or use Adam/AdamW"
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
"""
        ),
        Bad(
            """
from torch import nn, optim
MOMENTUM = 0.0
model = nn.Linear(3, 1)
opt = optim.SGD(params=model.parameters(), lr=0.1, momentum=MOMENTUM)
"""
        ),
        Bad(
            """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.01), loss="mse")
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
adam = torch.optim.Adam(model.parameters(), lr=1e-3)
"""
        ),
        Good(
            """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True), loss="mse")
""",
            frontend="keras-source",
        ),
    ]

    def check(self, program: Program) -> None:
        for optimizer in program.optimizers():
            if optimizer["type_name"] not in ("torch.optim.SGD", "keras.optimizers.SGD", "tensorflow.train.SGD"):
                continue
            momentum = optimizer["momentum"]
            if momentum is None or (isinstance(momentum, (int, float)) and not isinstance(momentum, bool) and momentum == 0):
                self.report(optimizer["origin"])
