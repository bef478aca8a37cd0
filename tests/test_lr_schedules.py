"""learning-rate-range (NN105) where something else sets the lr: schedules that override it,
per-step param_groups assignments, range tests, and optimizers over plain tensors."""

from __future__ import annotations

from nnlint.levels import Severity

from .lint_helpers import lint_source


def _nn105(findings):
    return sorted((f.line, f.severity) for f in findings if f.code == "NN105")


def test_torch_schedules_that_set_the_lr(tmp_path):
    code = '''
import torch
from torch import nn, optim
from torch.optim import lr_scheduler

net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))  # deep enough not to be a toy
warm = optim.AdamW(net.parameters(), lr=1e-9)
sched = lr_scheduler.LambdaLR(warm, lambda step: min(1.0, step / 1000) * 3e5)
cyc = optim.SGD(net.parameters(), lr=1e-8, momentum=0.9)
c = torch.optim.lr_scheduler.CyclicLR(cyc, base_lr=1e-4, max_lr=0.05)
one = optim.Adam(net.parameters(), lr=5.0)
o = lr_scheduler.OneCycleLR(one, 0.004, total_steps=1000)
peak = optim.Adam(net.parameters(), lr=1e-3)
p = lr_scheduler.OneCycleLR(optimizer=peak, max_lr=0.9, total_steps=1000)
decayed = optim.Adam(net.parameters(), lr=0.4)
d = lr_scheduler.StepLR(decayed, step_size=10, gamma=0.5)
'''
    # OneCycleLR's max_lr is judged where it is given; StepLR decays from the constructor's lr
    assert _nn105(lint_source(tmp_path, code)) == [(13, Severity.WARNING), (14, Severity.WARNING)]


def test_param_group_assignments_set_the_lr(tmp_path):
    code = '''
import torch

model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.5)
other = torch.optim.RMSprop(model.parameters(), lr=0.3)
plain = torch.optim.Adam(model.parameters(), lr=0.7)

def set_lr(optimizer, value):
    for group in optimizer.param_groups:
        group["lr"] = value

for it in range(100):
    set_lr(opt, 1e-3 * min(1, it / 10))
    other.param_groups[0]["lr"] = 2e-4
    plain.param_groups[0]["weight_decay"] = 0.0
'''
    assert _nn105(lint_source(tmp_path, code)) == [(6, Severity.WARNING)]


def test_an_lr_assignment_on_an_unknown_optimizer_may_drive_any(tmp_path):
    code = '''
import torch

def adjust(optimizer, epoch):
    for g in optimizer.param_groups:
        g['lr'] = 0.1 * (0.1 ** (epoch // 30))

net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
sgd = torch.optim.Adam(net.parameters(), lr=0.2)
'''
    assert _nn105(lint_source(tmp_path, code)) == []


def test_a_range_test_in_the_file_makes_other_lrs_info(tmp_path):
    code = '''
import torch
from torch_lr_finder import LRFinder

model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
probe = torch.optim.SGD(model.parameters(), lr=1e-9, momentum=0.9)
finder = LRFinder(model, probe, torch.nn.MSELoss())
finder.range_test(loader, end_lr=1, num_iter=100)
final = torch.optim.Adam(model.parameters(), lr=2e-7)
'''
    assert _nn105(lint_source(tmp_path, code)) == [(8, Severity.INFO)]


def test_optimizers_over_plain_tensors_are_not_judged(tmp_path):
    code = '''
import torch
from torch import optim

gen = load_generator()
latent = gen.mean_latent(4096).detach().clone()
latent.requires_grad = True
noises = [n.detach().clone() for n in gen.make_noise()]
opt = optim.Adam([latent] + noises, lr=0.1)
image = content.clone().requires_grad_(True)
lbfgs = optim.LBFGS([image])
delta = torch.zeros_like(x, requires_grad=True)
attack = torch.optim.Adam([delta], lr=0.5)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
weights = optim.Adam([{"params": net.parameters()}], lr=0.5)
direct = optim.Adam(net.parameters(), lr=0.5)
'''
    assert _nn105(lint_source(tmp_path, code)) == [(14, Severity.WARNING), (15, Severity.WARNING)]


def test_keras_schedulers(tmp_path):
    code = '''
import tensorflow as tf
from tensorflow import keras
from keras.callbacks import LearningRateScheduler, ReduceLROnPlateau

def build():
    return keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])

sweep = build()
sweep.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-8, momentum=0.9), loss="mse")
sweep.fit(x, y, epochs=100, callbacks=[LearningRateScheduler(lambda epoch: 1e-8 * 10 ** (epoch / 20))])

def step_schedule(epoch):
    return 1e-3 if epoch < 10 else 1e-4

fixed = build()
fixed.compile(optimizer=tf.keras.optimizers.Adam(0.5), loss="mse")
fixed.fit(x, y, callbacks=[tf.keras.callbacks.LearningRateScheduler(step_schedule)])

scaled = build()
scaled.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.4), loss="mse")
scaled.fit(x, y, callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.95), ReduceLROnPlateau()])

chosen = build()
chosen.compile(optimizer=keras.optimizers.SGD(learning_rate=5e-7, momentum=0.9), loss="mse")
chosen.fit(x, y, epochs=500)
'''
    # the sweep's own start and the overriding step schedule are not judged; the schedule that
    # scales the optimizer's lr keeps it (info, as the file sweeps); so does the lr picked after the sweep
    assert _nn105(lint_source(tmp_path, code)) == [(20, Severity.INFO), (24, Severity.INFO)]
