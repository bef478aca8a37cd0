"""NN111 missing-zero-grad."""

from __future__ import annotations

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.levels import Severity


class MissingZeroGrad(ProgramCheck):
    """
    ## What it does
    Flags a training loop (a step inside a `for` or `while`, here or in a caller) that calls
    `loss.backward()` and `optimizer.step()` but never clears the gradients: no `optimizer.zero_grad()`, no `model.zero_grad()`, no
    `param.grad = None`, anywhere in the code that runs the loop (helper functions it calls
    included).

    ## Why is this bad?
    PyTorch adds each `backward()` into `.grad`. Without clearing, step *n* uses the sum of
    all gradients so far: the effective learning rate grows every step and training
    diverges. Clearing only every *k* steps is gradient accumulation and is fine, as is
    `zero_grad(set_to_none=True)` before or after `step()`. Framework-managed loops
    (Lightning's Trainer, Hugging Face's Trainer) clear gradients themselves and are not
    reported; nor is a loop whose helpers nnlint could not follow.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```
    """

    code = "NN111"
    name = "missing-zero-grad"
    severity = Severity.ERROR
    message = "{optimizer}.step() after backward() but gradients are never cleared: they accumulate across steps"
    hint = "call optimizer.zero_grad() (set_to_none=True is fine) once per step, before backward()"

    bad = [
        Bad(
            """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.MSELoss()
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""
        ),
        Bad(
            """
import torch
import torch.nn.functional as F

def train_one_epoch(model, optimizer, loader):
    model.train()
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

def main():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        train_one_epoch(model, opt, loader)

main()
"""
        ),
    ]
    good = [
        Good(
            """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
accumulation = 4
for step, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accumulation
    loss.backward()
    if (step + 1) % accumulation == 0:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
"""
        ),
        Good(
            """
import torch

model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for x, y in loader:
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    for p in model.parameters():
        p.grad = None
"""
        ),
    ]

    def check(self, program: Program) -> None:
        for step in program.uncleared_steps:
            self.report(step["origin"], optimizer=step["optimizer"].rsplit(".", 1)[-1])
