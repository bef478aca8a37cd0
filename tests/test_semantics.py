"""Semantics that false alarms come from: signs, shapes, the module tree, evaluation, bias
sources, model size and import resolution. Each section has cases that must still fire and
near misses that must stay silent, in the spellings real code uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint_helpers import lint_source


def found(tmp_path: Path, code: str, rule: str, name: str = "example.py") -> list:
    return [f for f in lint_source(tmp_path, code, name=name) if f.code == rule]


# ---------------------------------------------------------------- signs: exp that cannot overflow

_SOFTMAX_OF = """
import torch
import torch.nn.functional as F

def weights(x, k, s):
    e = {expr}
    return e / e.sum(dim=-1, keepdim=True)
"""

_TOP_LEVEL = """
import torch
x = torch.randn(4, 8)
k = torch.arange(8.0)
s = 2.0
e = {expr}
w = e / torch.sum(e, dim=-1, keepdim=True)
"""

_NEVER_POSITIVE = [
    "torch.exp(-0.5 * (k / s) ** 2)",
    "torch.exp(-(k ** 2) / (2 * s ** 2))",
    "torch.exp(-x.abs())",
    "torch.exp(-torch.abs(x))",
    "torch.exp(-F.relu(x))",
    "(-x.relu()).exp()",
    "torch.exp(x - x.max(dim=-1, keepdim=True).values)",
    "torch.exp(x - x.max(dim=-1, keepdim=True)[0])",
    "torch.exp(x - torch.logsumexp(x, dim=-1, keepdim=True))",
    "torch.exp(F.logsigmoid(x))",
    "torch.exp(F.log_softmax(x, dim=-1))",
    "torch.exp(-x * x)",
    "torch.exp(-torch.square(x) / 2)",
]

_MAYBE_POSITIVE = [
    "torch.exp(x)",
    "torch.exp(2 * x)",
    "torch.exp(-x)",
    "torch.exp(0.5 * (k / s) ** 2)",
    "torch.exp(x - k)",
    "torch.exp(-x + 1)",
]


@pytest.mark.parametrize("template", [_SOFTMAX_OF, _TOP_LEVEL])
@pytest.mark.parametrize("expr", _NEVER_POSITIVE)
def test_exp_of_a_nonpositive_value_cannot_overflow(tmp_path, template, expr):
    assert found(tmp_path, template.format(expr=expr), "NN002") == []


@pytest.mark.parametrize("template", [_SOFTMAX_OF, _TOP_LEVEL])
@pytest.mark.parametrize("expr", _MAYBE_POSITIVE)
def test_exp_of_a_value_that_may_be_large_still_fires(tmp_path, template, expr):
    assert len(found(tmp_path, template.format(expr=expr), "NN002")) == 1


def test_sign_analysis_in_a_helper_and_a_forward(tmp_path):
    code = """
import torch
from torch import nn

def gaussian(d, sigma):
    return torch.exp(-0.5 * (d / sigma) ** 2)

class Smoother(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        w = gaussian(self.proj(x), 2.0)
        w = w / w.sum(dim=-1, keepdim=True)
        e = torch.exp(self.proj(x))
        return w, e / e.sum(dim=-1, keepdim=True)
"""
    hits = found(tmp_path, code, "NN002")
    assert [f.line for f in hits] == [16]
