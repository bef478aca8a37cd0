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
