"""Code known to run in one mode only: a branch under `self.training` never runs after eval(),
and an explicit `model.train()` right before sampling under no_grad chooses the mode."""

from __future__ import annotations

from .lint_helpers import lint_source


def _lines(findings, code):
    return sorted(f.line for f in findings if f.code == code)


def test_dropout_under_the_training_flag_is_off_in_eval(tmp_path):
    code = '''
import torch.nn as nn
import torch.nn.functional as F

class Tower(nn.Module):
    def __init__(self, drop=0.25):
        super().__init__()
        self.drop = drop
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 2)

    def forward(self, x):
        x = self.a(x)
        if self.training and self.drop:
            x = F.dropout(x, self.drop)                          # line 14: train only
        y = x if not self.training else F.dropout(x, 0.1)        # line 15: train only
        if not (self.drop == 0 or not self.training):
            y = F.dropout(y, self.drop)                          # line 17: train only
        if self.drop or self.training:
            y = F.dropout(y, self.drop)                          # line 19: either may hold
        z = F.dropout(y, 0.5)                                    # line 20: always on
        return self.b(z)
'''
    assert _lines(lint_source(tmp_path, code), "NN108") == [19, 20]


def test_another_objects_training_flag_is_not_this_modules_mode(tmp_path):
    code = '''
import torch
import torch.nn.functional as F

class Wrapper(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x, other):
        if other.training:
            x = F.dropout(x, 0.3)                                # line 12: someone else's mode
        return self.fc(x)
'''
    assert _lines(lint_source(tmp_path, code), "NN108") == [12]


_MODEL = '''
import torch
from torch import nn, optim

net = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
opt = optim.SGD(net.parameters(), lr=0.01)
for step in range(500):
    opt.zero_grad()
    nn.functional.mse_loss(net(x), y).backward()
    opt.step()
'''


def test_train_chosen_right_before_sampling_is_monte_carlo_dropout(tmp_path):
    code = _MODEL + '''
net.train()
draws = []
with torch.no_grad():
    for _ in range(50):
        draws.append(net(grid))

net.train(True)
samples = []
for k in range(20):
    with torch.inference_mode():
        samples.append(net(grid))
'''
    assert _lines(lint_source(tmp_path, code), "NN112") == []


def test_train_chosen_in_a_class_model_before_repeated_draws(tmp_path):
    code = '''
import torch
import torch.nn as nn

class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.2), nn.Linear(16, 1))

    def forward(self, x):
        return self.body(x)

def predictive(model, x, n=30):
    model.train()
    with torch.no_grad():
        return torch.stack([model(x) for _ in range(n)])

def fit(model, data):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in data:
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()

m = Regressor()
fit(m, loader)
bands = predictive(m, x_test)
'''
    assert _lines(lint_source(tmp_path, code), "NN112") == []


def test_train_followed_by_training_then_evaluation_is_still_reported(tmp_path):
    code = _MODEL + '''
for epoch in range(5):
    net.train()
    for xb, yb in loader:
        opt.zero_grad()
        nn.functional.mse_loss(net(xb), yb).backward()
        opt.step()
    with torch.no_grad():
        for xv, yv in val_loader:
            err = net(xv)                                        # line 19: eval() forgotten
'''
    assert _lines(lint_source(tmp_path, code), "NN112") == [19]


def test_train_then_one_evaluation_or_unknown_training_is_still_reported(tmp_path):
    code = _MODEL + '''
net.train()
with torch.no_grad():
    once = net(x_val)                                            # line 13: not sampled repeatedly

net.train()
run_epochs(net, loader)
with torch.no_grad():
    for xv in val_batches:
        out = net(xv)                                            # line 19: trained by code not followed
'''
    assert _lines(lint_source(tmp_path, code), "NN112") == [13, 19]


_ALWAYS_ON = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(DROP)

model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in train_loader:
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
with torch.no_grad():
    for x, y in test_loader:
        accuracy = (model(x).argmax(1) == y).float().mean()
'''


def test_eval_mode_is_not_advised_where_it_changes_nothing(tmp_path):
    # F.dropout without training= stays on after eval() (NN108 says so); eval() would not help
    for drop in ("F.dropout(F.relu(self.fc1(x)), 0.5)", "F.dropout(self.fc1(x), p=0.3, training=True)"):
        findings = lint_source(tmp_path, _ALWAYS_ON.replace("DROP", drop))
        assert _lines(findings, "NN112") == [], drop


def test_eval_mode_is_advised_where_dropout_follows_it(tmp_path):
    # an nn.Dropout built inside forward is a fresh module, always in training mode: not here
    for drop in ("F.dropout(self.fc1(x), 0.5, training=self.training)",
                 "F.dropout(self.fc1(x), 0.5, self.training)"):
        findings = lint_source(tmp_path, _ALWAYS_ON.replace("DROP", drop))
        assert _lines(findings, "NN112") == [22], drop
