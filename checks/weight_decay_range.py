"""NN106 weight-decay-range."""

from __future__ import annotations

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program

#: AdamW decouples weight decay from the gradient: its useful values are much larger.
_DECOUPLED = {"AdamW"}
_L2_MAX = 0.01
_DECOUPLED_MAX = 0.5


class WeightDecayRange(ProgramCheck):
    """
    ## What it does
    Flags an L2 weight decay large enough to stop learning: `weight_decay` above 0.01 for
    SGD, Adam, RMSprop and the other optimizers that add it to the gradient (and a Keras
    `kernel_regularizer=l2(...)` above 0.01), and above 0.5 for AdamW, whose decay is
    decoupled from the gradient.

    ## Why is this bad?
    L2 regularisation pulls every weight towards zero on each step. Usual values are 1e-6
    to 1e-3 (5e-4 for ImageNet-style SGD); at 0.1 the pull dominates the gradient and the
    model underfits. AdamW is different: its decay is applied to the weights directly and is
    not scaled by the adaptive step, so 0.01 to 0.1 is normal there (nanoGPT uses 0.1).

    ## Example
    ```python
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.1)
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    ```
    """

    code = "NN106"
    name = "weight-decay-range"
    message = "{optimizer} with weight_decay={wd:g}: {why}"
    hint = "use 1e-6..1e-3 for L2 decay, or AdamW (decoupled decay) for values like 0.01-0.1"
    frameworks = ("pytorch", "keras")

    bad = [
        Bad(
            """
import torch
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.1)
"""
        ),
        Bad(
            """
from torch import nn, optim
CONFIG = {"wd": 0.05}
net = nn.Linear(3, 1)
opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=CONFIG["wd"])
"""
        ),
        Bad(
            """
import keras
model = keras.Sequential([keras.layers.Dense(8, kernel_regularizer=keras.regularizers.l2(0.5)), keras.layers.Dense(1)])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Dense(8, kernel_regularizer=tf.keras.regularizers.L2(l2=0.1))])
model.compile(optimizer=tf.keras.optimizers.Adam(1e-3, weight_decay=0.05), loss="mse")
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch
model = torch.nn.Linear(3, 1)
a = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1)
b = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
"""
        ),
        Good(
            """
import keras
model = keras.Sequential([keras.layers.Dense(8, kernel_regularizer="l2"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.004), loss="mse")
""",
            frontend="keras-source",
        ),
    ]

    def check(self, program: Program) -> None:
        for penalty in program.regularizers:
            if penalty["l2"] > _L2_MAX:
                self.report(penalty["origin"], optimizer=f"{penalty['layer'].rsplit('.', 1)[-1]} kernel_regularizer",
                            wd=penalty["l2"], why=f"an L2 penalty above {_L2_MAX:g} dominates the gradient and the "
                                                  "model underfits")
        for optimizer in program.optimizers():
            kind = optimizer["type_name"].rsplit(".", 1)[-1]
            wd = optimizer["weight_decay"]
            if kind == "LBFGS" or not isinstance(wd, (int, float)) or isinstance(wd, bool):
                continue
            if kind in _DECOUPLED and wd > _DECOUPLED_MAX:
                self.report(optimizer["origin"], optimizer=kind, wd=wd,
                            why=f"decoupled decay above {_DECOUPLED_MAX:g} shrinks the weights faster than they learn")
            elif kind not in _DECOUPLED and wd > _L2_MAX:
                self.report(optimizer["origin"], optimizer=kind, wd=wd,
                            why=f"L2 decay above {_L2_MAX:g} dominates the gradient and the model underfits "
                                "(AdamW decouples decay if a large value is intended)")
