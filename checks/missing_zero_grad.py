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
    included) inside the loop that steps. Each optimizer counts on its own (a GAN loop that zeroes only one of its two
    optimizers steps the other on accumulated gradients), and so does each path: a
    `zero_grad()` in the `if amp:` branch does not clear for the `else:` branch that steps.
    An object nnlint cannot see (an optimizer passed in as a parameter, a library's optimizer
    built on `model.parameters()`) counts when its `.step()` follows `backward()` in a loop
    and nothing at all is cleared on its path (it might be a scheduler, an EMA).

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
    message = "{optimizer}.step() after backward() but its gradients are never cleared on this path: they accumulate across steps"
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
        Bad(
            """
import torch

generator, critic = torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)
opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4)
opt_c = torch.optim.Adam(critic.parameters(), lr=2e-4)
for real in loader:
    critic_loss = critic(generator(noise).detach()).mean() - critic(real).mean()
    critic_loss.backward()
    opt_c.step()
    opt_g.zero_grad()
    (-critic(generator(noise)).mean()).backward()
    opt_g.step()
"""
        ),
        Bad(
            """
def epoch(net, optimizer, batches, scaler, use_amp):
    for inputs, targets in batches:
        loss = (net(inputs) - targets).pow(2).mean()
        if use_amp:
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
"""
        ),
        Bad(
            """
from torch.nn.functional import mse_loss
from analoglib.optim import AnalogAdam

layer = make_layer()
opt = AnalogAdam(layer.parameters(), lr=0.01)
for epoch in range(50):
    mse_loss(layer(x), y).backward()
    opt.step()
"""
        ),
    ]
    good = [
        Good(
            """
import torch

generator, critic = torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)
opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4)
opt_c = torch.optim.Adam(critic.parameters(), lr=2e-4)
schedule = torch.optim.lr_scheduler.StepLR(opt_g, 10)
for real in loader:
    opt_c.zero_grad(set_to_none=True)
    critic_loss = critic(generator(noise).detach()).mean() - critic(real).mean()
    critic_loss.backward()
    opt_c.step()
    generator.zero_grad()
    (-critic(generator(noise)).mean()).backward()
    opt_g.step()
    schedule.step()
"""
        ),
        Good(
            """
def epoch(net, optimizer, batches, scaler, use_amp, scheduler):
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = (net(inputs) - targets).pow(2).mean()
        if use_amp:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
"""
        ),
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
