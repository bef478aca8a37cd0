"""NN108 dropout-always-active."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ModelGraph, OpKind
from nnlint.trace.measurements import Measure as M
from nnlint.trace.verdict import Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence


class DropoutAlwaysActive(GraphCheck):
    """
    ## What it does
    Flags `F.dropout(x, p)` in a model's `forward` called without `training=`: the
    functional form defaults to `training=True`, so `model.eval()` does not turn it off.
    Two spellings do the same: `nn.Dropout(p)(x)` built and applied inside `forward` (a
    module nobody registered, so `eval()` never reaches it), and
    `F.scaled_dot_product_attention(..., dropout_p=p)` with a `dropout_p` that does not
    depend on `self.training`.

    ## Why is this bad?
    The dropout layer (`nn.Dropout`) follows the module's mode; the function does not. Left
    on at evaluation, it zeroes a random fraction of the units on every prediction: metrics are
    noisy and pessimistic, and two runs on the same input disagree. Passing
    `training=True` on purpose (Monte-Carlo dropout, Tacotron's prenet) is not reported, nor
    is a call that only runs in training mode (`if self.training: x = F.dropout(x, p)`,
    `F.dropout(x, p) if self.training else x`).

    ## Example
    ```python
    def forward(self, x):
        return self.fc(F.dropout(x, 0.5))
    ```

    ## Use instead
    ```python
    def forward(self, x):
        return self.fc(F.dropout(x, 0.5, training=self.training))  # or an nn.Dropout layer
    ```
    """

    code = "NN108"
    name = "dropout-always-active"
    message = "{call} in {model}.forward {why}: it stays on after model.eval()"
    hint = "pass training=self.training, or use an nn.Dropout module, which follows train()/eval()"
    traceable = True
    measures = frozenset({M.EVAL, M.DROPOUT})
    reads_sizes = False  # train and eval passes are compared at the same width

    bad = [
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        return self.fc(F.dropout(x, 0.5))
"""
        ),
        Bad(
            """
import torch
from torch.nn import functional

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10, 2)

    def forward(self, x):
        h = functional.dropout(self.fc(x), p=0.2)
        return h
"""
        ),
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class Head(nn.Module):
    def __init__(self, p=0.3):
        super().__init__()
        self.p = p
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        if not self.training:
            x = F.dropout(x, self.p)  # the eval branch: on exactly when it should be off
        elif self.p > 0:
            x = x * 2
        if self.p:
            x = F.dropout(x, self.p)  # guarded by the rate, not by the mode
        return self.out(x)
"""
        ),
        Bad(
            """
import torch.nn as nn

class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = nn.Dropout(p=0.5)(x)
        return self.fc(x)
"""
        ),
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class Attention(nn.Module):
    def __init__(self, p=0.1):
        super().__init__()
        self.qkv = nn.Linear(64, 192)
        self.p = p

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.p, is_causal=True)
"""
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        x = F.dropout(x, 0.5, self.training)
        x = F.dropout(x, p=0.1, training=True)  # Monte-Carlo dropout, on purpose
        return self.fc(x)
"""
        ),
        Good(
            """
import torch
from torch.nn import functional as F

class Block(torch.nn.Module):
    def __init__(self, rate=0.2):
        super().__init__()
        self.rate = rate
        self.proj = torch.nn.Linear(32, 32)

    def forward(self, x):
        if self.training:
            x = F.dropout(x, self.rate)
        if self.training and self.rate > 0:
            x = F.dropout(x, p=self.rate)
        if not self.training:
            pass
        else:
            x = torch.nn.functional.dropout(x, self.rate)
        if self.rate == 0 or not self.training:
            return self.proj(x)
        else:
            x = F.dropout(x, self.rate)
        h = F.dropout(x, 0.1) if self.training else x
        return self.proj(h)
"""
        ),
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

class Attention(nn.Module):
    def __init__(self, p=0.1):
        super().__init__()
        self.qkv = nn.Linear(64, 192)
        self.p = p

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=True)
        self.drop = nn.Dropout(self.p)  # registered on the module: follows eval()
        return self.drop(y)
"""
        ),
    ]


    def confirm(self, evidence: Evidence) -> Verdict:
        """Two evaluation-mode passes on the same input: a dropout that stays on makes them differ."""
        from nnlint.trace.evidence import zeroed_by

        missing = evidence.missing()
        if missing:
            return missing
        record = evidence.layer()
        dropped = zeroed_by(evidence, training=False)
        if record.eval_repeat_differs or (dropped is not None and dropped > 0):
            return confirmed(f"after eval() {evidence.op.describe()} still zeroed {dropped or 0:.1%} of units, and two "
                             "evaluation passes on the same input differ")
        if dropped is None and record.eval_repeat_differs is None:  # neither measured: nothing shows it off
            return inconclusive(evidence.why_not_run or f"{evidence.op.describe()} could not be run after eval()")
        return refuted(f"after eval() {evidence.op.describe()} is the identity")

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model:
            return
        for op in graph.find(OpKind.DROPOUT):
            if ".functional." in op.type_name and op.attrs.get("training_given") is False \
                    and not op.attrs.get("train_only"):  # under `if self.training:` it is off in eval mode
                call = op.attrs.get("spelled") or "F." + op.type_name.rsplit(".", 1)[-1]
                self.report(op, call=call, model=graph.name, why=op.attrs.get("why", "has no training= argument"))
