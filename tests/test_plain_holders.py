"""A Sequential held by a plain class (an RL agent's ``self.policy_model``, a trainer's
``self.net``) is a model of its own, as one bound to a name is: its layers and their inits are
checked even where no method of the class calls it, also on the fresh-model side of an ``if load:``.
Near misses: the same with a sound init, an init under a further unknown condition, and a
Sequential inside an ``nn.Module``, which stays part of that module's model (reported once)."""

from __future__ import annotations

import pytest

from tests.lint_helpers import lint_source

AGENT = """
import torch
import torch.nn as nn


class Agent:
    def __init__(self, state_dim, n_actions, hidden=128):
        self.policy_model = nn.Sequential(
            nn.Linear(state_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, n_actions), nn.Softmax(dim=-1))

        def init_weights(m):
            if type(m) == nn.Linear:
                INIT

        self.policy_model.apply(init_weights)
        self.optimizer = torch.optim.Adam(self.policy_model.parameters(), lr=1e-3)
"""


@pytest.mark.parametrize("init", ["m.weight.data.fill_(0.0)", "nn.init.zeros_(m.weight)", "nn.init.constant_(m.weight, 0.5)"])
def test_a_constant_init_of_an_agent_s_model_is_flagged(tmp_path, init):
    found = [f for f in lint_source(tmp_path, AGENT.replace("INIT", init)) if f.code == "NN004"]
    assert found and all("self.policy_model[0]" in f.message or "self.policy_model[2]" in f.message for f in found)


@pytest.mark.parametrize("init", ["nn.init.kaiming_uniform_(m.weight)", "nn.init.zeros_(m.bias)"])
def test_a_sound_init_of_an_agent_s_model_is_not(tmp_path, init):
    assert [f for f in lint_source(tmp_path, AGENT.replace("INIT", init)) if f.code == "NN004"] == []


def test_a_sequential_inside_a_module_stays_part_of_its_model(tmp_path):
    code = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 64, bias=False), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, x):
        return self.body(x)


model = Net()
optimizer = torch.optim.Adam(model.parameters())
"""
    found = [f for f in lint_source(tmp_path, code) if f.code == "NN003"]
    assert len(found) == 1 and "self.body[0]" in found[0].message


LOADED_OR_FRESH = """
import torch
import torch.nn as nn


class Agent:
    def __init__(self, state_dim, n_actions, load_model=False, zero_init=False):
        if load_model:
            self.policy_model = torch.load("policy.pt")
        else:
            self.policy_model = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU(), nn.Linear(64, n_actions))
            INIT
        self.optimizer = torch.optim.Adam(self.policy_model.parameters(), lr=1e-3)
"""


def test_an_init_on_the_fresh_side_of_a_load_branch_is_judged(tmp_path):
    """The model exists only where the else branch built it, and the init runs there too."""
    code = LOADED_OR_FRESH.replace("INIT", "for m in self.policy_model:\n                if isinstance(m, nn.Linear):\n"
                                           "                    nn.init.zeros_(m.weight)")
    assert [f for f in lint_source(tmp_path, code) if f.code == "NN004"]


def test_an_init_under_a_further_unknown_condition_is_not(tmp_path):
    """``if zero_init:`` inside the branch that built the model: it may not run."""
    code = LOADED_OR_FRESH.replace("INIT", "if zero_init:\n                nn.init.zeros_(self.policy_model[0].weight)")
    assert [f for f in lint_source(tmp_path, code) if f.code == "NN004"] == []
