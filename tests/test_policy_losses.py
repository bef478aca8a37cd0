"""Policy-gradient and Q-learning losses: training code takes the log of the probability a
model gives to the action taken, picked by an index only the environment knows
(``probs.gather(1, actions)``, ``probs[a]``). The lint follows the pick and the call into the
model (NN002 on the log); ``--trace`` runs the model's layers in place of the call, picks with
stand-in indices, and never confirms on values that are not the model's probabilities."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.lint_helpers import lint_source

POLICY = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class PolicyNet(nn.Module):
    def __init__(self, state_dim, hidden_dim, action_dim):
        super().__init__()
        self.fc1 = nn.Linear(state_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, action_dim)

    def forward(self, x):
        return F.softmax(self.fc2(F.relu(self.fc1(x))), dim=1)
"""

# an agent class nothing in the file constructs or calls: its method reads what __init__ sets
AGENT = POLICY + """

class Agent:
    def __init__(self, state_dim, hidden_dim, action_dim, lr, gamma):
        self.policy_net = PolicyNet(state_dim, hidden_dim, action_dim)
        self.optimizer = torch.optim.Adam(self.policy_net.parameters(), lr=lr)
        self.gamma = gamma

    def update(self, rewards, states, actions):
        G = 0
        self.optimizer.zero_grad()
        for i in reversed(range(len(rewards))):
            state = torch.tensor([states[i]], dtype=torch.float)
            action = torch.tensor([actions[i]]).view(-1, 1)
            log_prob = torch.log(self.policy_net(state).gather(1, action))
            G = self.gamma * G + rewards[i]
            (-log_prob * G).backward()
        self.optimizer.step()
"""

# the same loss in a function given the model, spelled with torch.gather and a method .log()
FUNCTION = POLICY + """

def reinforce_loss(policy, states, actions, returns):
    picked = torch.gather(policy(states), 1, actions.unsqueeze(1)).squeeze(1)
    return -(picked.log() * returns).mean()


policy = PolicyNet(4, 64, 2)
loss = reinforce_loss(policy, torch.randn(8, 4), torch.zeros(8, dtype=torch.long), torch.ones(8))
"""

# an actor-critic whose policy head is a method inlined where it is called
ACTOR_CRITIC = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 256)
        self.fc_pi = nn.Linear(256, 2)
        self.fc_v = nn.Linear(256, 1)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=0.0002)

    def pi(self, x, softmax_dim=0):
        return F.softmax(self.fc_pi(F.relu(self.fc1(x))), dim=softmax_dim)

    def v(self, x):
        return self.fc_v(F.relu(self.fc1(x)))

    def train_net(self, s, a, td_target):
        delta = td_target - self.v(s)
        pi_a = self.pi(s, softmax_dim=1).gather(1, a)
        loss = -torch.log(pi_a) * delta.detach() + F.smooth_l1_loss(self.v(s), td_target.detach())
        self.optimizer.zero_grad()
        loss.mean().backward()
        self.optimizer.step()
"""

# a policy that clamps its probabilities below 1 only (zeros stay zero), its log taken on rows of
# a rollout kept in lists and handed to an update function
CAPPED = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 32)
        self.fc_actor = nn.Linear(32, 3)

    def forward(self, x):
        return F.softmax(self.fc_actor(F.relu(self.fc1(x))), dim=1).clamp(max=1 - 1e-20)


def update(policies, actions, rewards, optimiser):
    loss = 0
    for i in reversed(range(len(rewards))):
        log_prob = policies[i].gather(1, actions[i]).log()
        loss = loss - log_prob * rewards[i]
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()


def train(env):
    model = ActorCritic()
    optimiser = torch.optim.RMSprop(model.parameters(), lr=1e-4)
    for episode in range(100):
        policies, actions, rewards = [], [], []
        state, done = env.reset(), False
        while not done:
            policy = model(torch.tensor([state], dtype=torch.float32))
            action = policy.multinomial(1)
            state, reward, done, _ = env.step(action.item())
            policies.append(policy)
            actions.append(action)
            rewards.append(reward)
        update(policies, actions, rewards, optimiser)
"""

# near misses: the stable spellings, a probability kept off zero (also by an in-place clamp), the
# largest probability (at least 1/n), a model that returns two values, and no log at all
NEAR_MISSES = POLICY + """
from torch.distributions import Categorical


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 64)
        self.pi = nn.Linear(64, 2)
        self.v = nn.Linear(64, 1)

    def forward(self, x):
        h = F.relu(self.body(x))
        return F.softmax(self.pi(h), dim=-1), self.v(h)


def losses(policy, two_heads, states, actions, eps):
    probs = policy(states)
    a = torch.log(probs.gather(1, actions).clamp(min=1e-8))
    b = torch.log(probs.gather(1, actions) + 1e-10)
    c = torch.log(probs.max(1)[0])
    d = Categorical(probs).log_prob(actions.squeeze(1))
    e = probs.gather(1, actions) * 2.0
    f = F.log_softmax(nn.Linear(4, 2)(states), dim=1).gather(1, actions)
    g = torch.log(two_heads(states)[1].abs() + 1)
    dist = policy(states).gather(1, actions)
    dist.data.clamp_(0.01, 0.99)  # in place: the log below reads the clamped values
    h = dist.log()
    i = torch.clamp(probs, eps, 1.0).log()  # a floor known only at run time may be above 0
    return a, b, c, d, e, f, g, h, i


losses(PolicyNet(4, 64, 2), TwoHeads(), torch.randn(8, 4), torch.zeros(8, 1, dtype=torch.long), 1e-6)
"""


def write(tmp_path: Path, code: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def line_of(code: str, text: str) -> int:
    return next(n for n, line in enumerate(code.lstrip("\n").splitlines(), 1) if text in line)


@pytest.mark.parametrize("code, where", [(AGENT, "torch.log(self.policy_net"), (FUNCTION, "picked.log()"),
                                         (ACTOR_CRITIC, "torch.log(pi_a)"), (CAPPED, "policies[i].gather(1"),
                                         (CAPPED.replace("clamp(max=1 - 1e-20)", "clamp(0.0, 1.0)"),
                                          "policies[i].gather(1")],
                         ids=["agent-method", "function-of-the-model", "inlined-method", "clamped-below-one",
                              "clamped-at-zero"])
def test_log_of_a_picked_probability_is_flagged(tmp_path, code, where):
    found = [f for f in lint_source(tmp_path, code) if f.code == "NN002"]
    assert [f.line for f in found] == [line_of(code, where)]
    assert "log" in found[0].message


def test_near_misses_stay_silent(tmp_path):
    assert [f for f in lint_source(tmp_path, NEAR_MISSES) if f.code == "NN002"] == []


def test_a_method_of_an_unconstructed_class_does_not_read_default_arguments(tmp_path):
    """``__init__``'s arguments are unknown when nothing here constructs the class: a default
    learning rate a caller may override is not read as the one used."""
    code = """
import torch
import torch.nn as nn

class Trainer:
    def __init__(self, model, lr=10.0):
        self.model = model
        self.optimizer = torch.optim.SGD(nn.Linear(4, 2).parameters(), lr=lr)

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.mse_loss(nn.Linear(4, 2)(x), y)
        loss.backward()
        self.optimizer.step()
"""
    assert [f for f in lint_source(tmp_path, code) if f.name == "learning-rate-range"] == []


# ---------------------------------------------------------------------- --trace

torch = pytest.importorskip("torch")

from tests.test_trace import verdicts_by_code  # noqa: E402


@pytest.mark.parametrize("code", [AGENT, FUNCTION, ACTOR_CRITIC], ids=["agent-method", "function-of-the-model",
                                                                       "inlined-method"])
def test_the_trace_runs_the_model_and_confirms_the_underflow(tmp_path, code):
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert "picks by an index known only at run time: traced over every value it could pick" in verdict["evidence"]
    assert "Inf/NaN" in verdict["evidence"]


def test_the_model_call_is_traced_through_the_model(tmp_path):
    [verdict] = verdicts_by_code(write(tmp_path, AGENT))["NN002"]
    assert "PolicyNet(...) traced through PolicyNet's layers" in verdict["evidence"]
    assert "torch.tensor(...) (data made at run time) fed random inputs" in verdict["evidence"]
    # the counterfactual: the model returns log_softmax, the code's log goes
    assert "with log_softmax in place of log(F.softmax) in PolicyNet it stays finite" in verdict["evidence"]


def test_the_inlined_policy_is_measured_against_its_remedy(tmp_path):
    [verdict] = verdicts_by_code(write(tmp_path, ACTOR_CRITIC))["NN002"]
    assert "with log_softmax in place of log(F.softmax) it stays finite" in verdict["evidence"]


def test_a_subscript_by_the_actions_is_traced_over_every_value(tmp_path):
    """``probs[torch.arange(n), actions]``: a subscript by a tensor picks, as gather does."""
    code = FUNCTION.replace("torch.gather(policy(states), 1, actions.unsqueeze(1)).squeeze(1)",
                            "policy(states)[torch.arange(len(actions)), actions]")
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert "getitem picks by an index known only at run time" in verdict["evidence"]


@pytest.mark.parametrize("index", ["np.random.choice(len(probs), p=probs.detach().numpy())", "sampled", "self_action"])
def test_a_subscript_by_an_index_the_analysis_has_no_value_for_is_traced_over_every_value(tmp_path, index):
    """``probs[np.random.choice(...)]``, ``probs[a]`` of an argument: one index only the run has."""
    code = POLICY + f"""
import numpy as np


def act(policy, state, sampled, self_action):
    probs = policy(torch.Tensor(state))
    return torch.log(probs[{index}])


policy = PolicyNet(4, 64, 2)
loss = act(policy, observation, choice, action)  # values of the environment's: not followed
"""
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert "getitem picks by an index known only at run time" in verdict["evidence"]


def test_a_log_after_a_part_traced_alone_is_not_confirmed(tmp_path):
    """A slice the trace does not rebuild (``probs[:, 0]``): the part after it is traced alone,
    fed random values, whose log is NaN at any scale. That says nothing of the softmax."""
    code = POLICY + """

def loss(states):
    policy = PolicyNet(4, 64, 2)
    return torch.log(policy(states)[:, 0])
"""
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] == "inconclusive", verdict
    assert "not traced as probabilities" in verdict["evidence"]


def test_a_policy_whose_logits_a_tanh_caps_is_confirmed_with_its_head_grown(tmp_path):
    """Tanh hidden layers and a head scaled down at init: no input scale pushes the logits, so
    the input sweep alone cannot show the underflow (never a refutation). The experiment is the
    growth training brings: the head's weights x1000, the log against log_softmax at the same
    weights, through the model the code calls."""
    [verdict] = verdicts_by_code(write(tmp_path, TANH_POLICY))["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert "with self.action_head (Linear)'s weights x1000" in verdict["evidence"]
    assert "with log_softmax in place of log(torch.softmax) in DiscretePolicy it stays finite" in verdict["evidence"]


def test_a_softmax_of_a_tanh_itself_is_never_confirmed(tmp_path):
    """Logits that are a tanh's outputs stay within [-1, 1] whatever the weights: no probability
    can underflow, and no weight of the model can be grown to make one."""
    code = TANH_POLICY.replace("torch.softmax(self.action_head(torch.tanh(self.hidden(x))), dim=1)",
                               "torch.softmax(torch.tanh(self.action_head(torch.tanh(self.hidden(x)))), dim=1)")
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] != "confirmed", verdict


TANH_POLICY = """
import torch
import torch.nn as nn


class DiscretePolicy(nn.Module):
    def __init__(self, state_dim, action_num):
        super().__init__()
        self.hidden = nn.Linear(state_dim, 128)
        self.action_head = nn.Linear(128, action_num)
        self.action_head.weight.data.mul_(0.1)

    def forward(self, x):
        return torch.softmax(self.action_head(torch.tanh(self.hidden(x))), dim=1)

    def get_log_prob(self, x, actions):
        return torch.log(self.forward(x).gather(1, actions.long().unsqueeze(1)))
"""


# an actor-critic with two heads, (logits, value)
TWO_HEADS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 64)
        self.pi = nn.Linear(64, 2)
        self.v = nn.Linear(64, 1)

    def forward(self, x):
        h = F.relu(self.body(x))
        return self.pi(h), self.v(h)
"""

# the probabilities as its first output, unpacked from the call in a loss
TWO_OUTPUTS = TWO_HEADS.replace("return self.pi(h), self.v(h)", "return F.softmax(self.pi(h), dim=1), self.v(h)") + """

def losses(model, states, actions, returns):
    probs, values = model(states)
    critic = F.mse_loss(values.squeeze(1), returns)
    actor = -(torch.log(probs.gather(1, actions)).squeeze(1) * (returns - values.squeeze(1).detach())).mean()
    return actor + critic


losses(TwoHeads(), torch.randn(8, 4), torch.zeros(8, 1, dtype=torch.long), torch.randn(8))
"""

# the logits unpacked, the softmax taken in the code and its log in a loop over the rows
ENTROPY_BY_ROW = TWO_HEADS + """

class Agent:
    def __init__(self):
        self.model = TwoHeads()

    def entropy(self, states):
        logits, values = self.model.forward(states)
        dists = F.softmax(logits, dim=1)
        total = []
        for dist in dists:
            total.append(-torch.sum(dist * torch.log(dist)))
        return torch.stack(total).sum()
"""


@pytest.mark.parametrize("code, where, said", [
    (TWO_OUTPUTS, "torch.log(probs.gather(1, actions))", "TwoHeads(...) traced through TwoHeads's layers"),
    (ENTROPY_BY_ROW, "torch.log(dist)", "a loop over a tensor's rows traced over all of them at once"),
], ids=["unpacked-probabilities", "rows-of-unpacked-logits"])
def test_the_outputs_of_a_two_headed_model_are_followed(tmp_path, code, where, said):
    found = [f for f in lint_source(tmp_path, code) if f.code == "NN002"]
    assert [f.line for f in found] == [line_of(code, where)]
    [verdict] = verdicts_by_code(write(tmp_path, code))["NN002"]
    assert verdict["status"] == "confirmed", verdict
    assert said in verdict["evidence"]


def test_the_value_head_of_a_two_headed_model_is_not_its_probabilities(tmp_path):
    """Which output the code unpacked matters: the log of the value head is no log of a softmax."""
    code = TWO_OUTPUTS.replace("torch.log(probs.gather(1, actions))", "torch.log(values)")
    assert [f for f in lint_source(tmp_path, code) if f.code == "NN002"] == []
