"""--trace verdicts as experiments: each finding measured against the model with its remedy,
and, where another finding's fault hides it (a final ReLU that kills the gradient, a constant-0
init that freezes what follows), with that finding's remedy as well, named in the evidence.

Each model below holds two bugs where one masks the other; every finding must come out
``confirmed``, never ``refuted``. Near misses: a clean model confirms nothing, and a constant
input that no finding explains leaves the verdict inconclusive with the cause, not refuted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.test_trace import verdicts_by_code  # noqa: E402

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom torch import optim\n\n"


def verdicts(tmp_path: Path, source: str) -> dict[str, list[dict]]:
    path = tmp_path / "model.py"
    path.write_text(HEADER + source)
    return verdicts_by_code(path)


def assert_confirmed_with(found: dict, code: str, helper: str | None) -> None:
    """Every finding of ``code`` is confirmed; where ``helper`` is given, by its remedy."""
    assert code in found, found
    for trace in found[code]:
        assert trace["status"] == "confirmed", (code, trace)
        if helper is not None:
            assert trace["evidence"].startswith("with ") and f"({helper})" in trace["evidence"], (code, trace)


DEAD_RELU_ADAM = [
    """
class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.out = nn.Linear(32, 1)
        nn.init.constant_(self.out.bias, -5.0)

    def forward(self, x):
        return F.relu(self.out(F.relu(self.fc1(x))))


model = Regressor()
optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
loss_fn = nn.MSELoss()


def step(x, y):
    optimizer.zero_grad()
    loss_fn(model(x), y).backward()
    optimizer.step()
""",
    """
class Price(nn.Module):
    def __init__(self, width=24):
        super().__init__()
        self.body = nn.Linear(10, width)
        self.head = nn.Linear(width, 1)
        self.act = nn.ReLU()
        self.head.bias.data.fill_(-4.0)

    def forward(self, x):
        h = torch.relu(self.body(x))
        return self.act(self.head(h))


net = Price()
opt = optim.AdamW(net.parameters(), lr=0.5)
for x, y in loader:
    opt.zero_grad()
    F.mse_loss(net(x), y).backward()
    opt.step()
""",
]


@pytest.mark.parametrize("source", DEAD_RELU_ADAM)
def test_a_final_relu_that_kills_the_gradient_does_not_refute_the_learning_rate(tmp_path, source):
    found = verdicts(tmp_path, source)
    assert_confirmed_with(found, "NN105", "NN001")
    assert "final" in found["NN105"][0]["evidence"] and "removed" in found["NN105"][0]["evidence"]
    assert_confirmed_with(found, "NN001", None)


ZERO_INIT_EVAL = [
    ("NN004", """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 32)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(32, 3)
        nn.init.zeros_(self.hidden.weight)
        nn.init.zeros_(self.hidden.bias)

    def forward(self, x):
        return self.head(self.drop(torch.relu(self.hidden(x))))


net = Net()
criterion = nn.CrossEntropyLoss()


def fit(batches, val):
    for x, y in batches:
        criterion(net(x), y).backward()
    with torch.no_grad():
        for x, y in val:
            print(net(x).argmax(1))
"""),
    # batch norm differs between modes even on a constant input (batch statistics against
    # running ones): not masked, confirmed as written
    (None, """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 16)
        self.norm = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 4)
        self.fc.weight.data.zero_()

    def forward(self, x):
        return self.out(F.relu(self.norm(F.relu(self.fc(x)))))


tagger = Tagger()
loss = nn.CrossEntropyLoss()


def run(train, test):
    for x, y in train:
        loss(tagger(x), y).backward()
    with torch.no_grad():
        for x, _ in test:
            scores = tagger(x)
"""),
]


@pytest.mark.parametrize("helper, source", ZERO_INIT_EVAL)
def test_a_constant_zero_init_does_not_refute_missing_eval_mode(tmp_path, helper, source):
    found = verdicts(tmp_path, source)
    assert_confirmed_with(found, "NN112", helper)
    assert_confirmed_with(found, "NN004", None)


ZERO_INIT_BCE = [
    """
class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 32)
        self.head = nn.Linear(32, 1)
        nn.init.zeros_(self.hidden.weight)
        nn.init.zeros_(self.hidden.bias)

    def forward(self, x):
        return torch.sigmoid(self.head(torch.relu(self.hidden(x))))


det = Detector()
bce = nn.BCELoss()


def train(x, y):
    bce(det(x), y).backward()
""",
    """
class Spam(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(30, 8), nn.ReLU())
        self.final = nn.Linear(8, 1)
        self.squash = nn.Sigmoid()
        nn.init.constant_(self.layers[0].weight, 0.0)
        nn.init.constant_(self.layers[0].bias, 0.0)

    def forward(self, x):
        return self.squash(self.final(self.layers(x)))


clf = Spam()


def train(x, y):
    F.binary_cross_entropy(clf(x), y).backward()
""",
]


@pytest.mark.parametrize("source", ZERO_INIT_BCE)
def test_a_constant_zero_init_does_not_refute_unstable_bce(tmp_path, source):
    found = verdicts(tmp_path, source)
    assert "NN109" in found, found
    for trace in found["NN109"]:
        assert trace["status"] == "confirmed" and "(NN004)" in trace["evidence"], trace


ONE_UNIT_LOG_SOFTMAX = [
    """
class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        return torch.log(F.softmax(self.fc(x), dim=1))
""",
    """
class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.score = nn.Linear(16, 1)
        self.probs = nn.Softmax(dim=1)

    def forward(self, x):
        return self.probs(self.score(F.relu(self.body(x)))).log()
""",
]


@pytest.mark.parametrize("source", ONE_UNIT_LOG_SOFTMAX)
def test_a_softmax_over_one_unit_does_not_refute_log_of_softmax(tmp_path, source):
    found = verdicts(tmp_path, source + "\nscorer = Scorer()\n")
    assert_confirmed_with(found, "NN002", "NN110")
    assert "log_softmax" in found["NN002"][0]["evidence"] and "stays finite" in found["NN002"][0]["evidence"]


CORE_PAIRS = """
class TwoZero(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(12, 24)
        self.b = nn.Linear(24, 24)
        self.c = nn.Linear(24, 1)
        nn.init.zeros_(self.a.weight)
        self.b.weight.data.zero_()

    def forward(self, x):
        return F.relu(self.c(torch.relu(self.b(torch.relu(self.a(x))))))


class ZeroRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.Linear(8, 16)
        self.o = nn.Linear(16, 4)
        nn.init.constant_(self.h.weight, 0.0)

    def forward(self, x):
        return F.softmax(F.relu(self.o(F.relu(self.h(x)))), dim=1)


class ZeroLog(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.Linear(8, 16)
        self.o = nn.Linear(16, 4)
        self.h.weight.data.fill_(0.0)

    def forward(self, x):
        return torch.log(torch.softmax(self.o(torch.relu(self.h(x))), 1))


m1, m2, m3 = TwoZero(), ZeroRelu(), ZeroLog()
mse = nn.MSELoss()


def train(x, y):
    mse(m1(x), y).backward()
    m2(x)
    m3(x)
"""


def test_pairs_of_the_core_seven_masked_by_a_constant_init(tmp_path):
    """NN004 hides NN001 (a constant output), NN002 (constant logits: no overflow at any scale,
    both spellings) and a second NN004 (a layer fed a constant shows identical units anyway)."""
    found = verdicts(tmp_path, CORE_PAIRS)
    assert_confirmed_with(found, "NN001", "NN004")
    assert_confirmed_with(found, "NN002", "NN004")
    assert len(found["NN002"]) == 2
    inits = found["NN004"]
    assert len(inits) == 4 and all(t["status"] == "confirmed" for t in inits), inits
    assert sum(t["evidence"].startswith("with a He init for self.a") for t in inits) == 1, inits
    assert all("they differ" in t["evidence"] for t in inits), inits


NOT_MASKED = """
class ZeroDrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.Linear(10, 32)
        self.drop = nn.Dropout(0.8)
        self.o = nn.Linear(32, 3)
        nn.init.zeros_(self.h.weight)
        nn.init.zeros_(self.h.bias)

    def forward(self, x):
        return self.o(self.drop(F.relu(self.h(x))))


class ZeroNoBias(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.Linear(10, 32)
        self.o = nn.Linear(32, 3, bias=False)
        self.h.weight.data.fill_(0.0)
        self.h.bias.data.fill_(0.0)

    def forward(self, x):
        return self.o(torch.tanh(self.h(x)))


a, b = ZeroDrop(), ZeroNoBias()
"""


def test_a_constant_init_before_a_dropout_or_a_biasless_layer_masks_neither(tmp_path):
    """A layer fed a constant 0 (NN004 upstream) still shows its own fault: the dropout's mask
    is measured on the units, the missing bias by a zero-input probe. Both stay confirmed on
    their own remedy alone, and no other finding's remedy is applied where none is needed."""
    found = verdicts(tmp_path, NOT_MASKED)
    for code in ("NN007", "NN003", "NN004"):
        assert_confirmed_with(found, code, None)
        assert all(not t["evidence"].startswith("with ") for t in found[code]), found[code]
    assert len(found["NN004"]) == 2
    assert "; with p=0.2 for self.drop (Dropout)" in found["NN007"][0]["evidence"]


def test_remedies_are_named_on_single_bugs_too(tmp_path):
    """One bug alone: confirmed against its own remedy, the remedy named after the measurement."""
    found = verdicts(tmp_path, """
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 12, bias=False)
        self.b = nn.Linear(12, 2)
        self.drop = nn.Dropout(p=0.9)

    def forward(self, x):
        return self.b(self.drop(torch.relu(self.a(x))))


small = Small()
""")
    assert_confirmed_with(found, "NN007", None)
    assert re.search(r"zeroed 9\d\.\d% of units; with p=0\.1 for self\.drop \(Dropout\) \d+\.\d%$",
                     found["NN007"][0]["evidence"]), found["NN007"]
    assert_confirmed_with(found, "NN003", None)
    assert "with a bias added to self.a (Linear) it gives max |y| =" in found["NN003"][0]["evidence"]


def test_clean_models_confirm_nothing(tmp_path):
    found = verdicts(tmp_path, """
class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 1)
        self.drop = nn.Dropout(0.2)
        nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.fc1(x))))


model = Clean()
optimizer = optim.Adam(model.parameters(), lr=1e-3)
model.train()
for x, y in loader:
    optimizer.zero_grad()
    F.mse_loss(model(x), y).backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    preds = model(x)
""")
    assert all(t["status"] != "confirmed" for traces in found.values() for t in traces), found


def test_a_constant_init_no_finding_flags_is_drawn_at_random_and_said(tmp_path):
    """A zero-initialised output layer is an idiom (no NN004) that the first step moves off, but
    at init the log(softmax) behind it sees a constant: the trace draws those weights at random,
    as training would move them, and says so in the evidence."""
    found = verdicts(tmp_path, """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.out = nn.Linear(16, 4)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        return torch.log(F.softmax(self.out(F.relu(self.body(x))), dim=-1))


head = Head()
""")
    assert "NN004" not in found
    (trace,) = found["NN002"]
    assert trace["status"] == "confirmed", trace
    assert trace["evidence"].startswith("with the constant initial weights of self.out drawn at random instead"), trace


def test_a_constant_input_nothing_explains_is_inconclusive_not_refuted(tmp_path):
    """The constant comes from the forward itself, not from an init: nothing restores it, and the
    verdict says so instead of refuting."""
    found = verdicts(tmp_path, """
class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        h = F.relu(self.body(x))
        return torch.log(F.softmax(self.out(h * 0.0), dim=-1))


probe = Probe()
""")
    (trace,) = found["NN002"]
    assert trace["status"] == "inconclusive", trace
    assert "is the same on every sample" in trace["evidence"] and "cannot show" in trace["evidence"], trace


def test_logits_a_tanh_caps_are_grown_as_training_grows_them_never_refuted(tmp_path):
    """The input sweep cannot push logits behind a tanh past the underflow point (only trained
    weights do): a sweep that stays finite there is no measurement of the fault, so the
    experiment grows the head's weights instead, against log_softmax at the same weights."""
    found = verdicts(tmp_path, """
class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(24, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return torch.log(F.softmax(self.head(torch.tanh(self.body(x))), dim=-1))


policy = Policy()
""")
    (trace,) = found["NN002"]
    assert trace["status"] == "confirmed", trace
    assert trace["evidence"].startswith("with self.head (Linear)'s weights x1000"), trace
    assert "with log_softmax in place of log(F.softmax) it stays finite" in trace["evidence"], trace


def test_a_softmax_of_scores_the_input_sweep_cannot_move_is_never_refuted(tmp_path):
    """Scores computed from token ids through embeddings do not grow when the inputs are scaled
    (ids are indices): a hand-written softmax that stays finite over the sweep was not
    measured at large scores, so it is inconclusive, not refuted."""
    found = verdicts(tmp_path, """
class SkipGram(nn.Module):
    def __init__(self):
        super().__init__()
        self.center = nn.Embedding(100, 16)
        self.context = nn.Embedding(100, 16)

    def forward(self, center_words, target_words, all_words):
        center = self.center(center_words)
        score = self.context(target_words).bmm(center.transpose(1, 2)).squeeze(2)
        scores = self.context(all_words).bmm(center.transpose(1, 2)).squeeze(2)
        return -torch.log(torch.exp(score) / torch.sum(torch.exp(scores), 1).unsqueeze(1))


model = SkipGram()
""")
    (trace,) = found["NN002"]
    assert trace["status"] == "inconclusive", trace
    assert "scaling the inputs does not move it" in trace["evidence"], trace
