"""NN004 bad-init."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from nnlint.check import Bad, Good, GraphCheck
from nnlint.ir import ACTIVATIONS, NORMS, SHAPE_ONLY, WEIGHTED, ModelGraph, Op, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure as M
from nnlint.trace.stand_ins import OUTPUT_SIZES
from nnlint.trace.verdict import HEALTHY_STD, Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy

_TRANSPARENT = SHAPE_ONLY | {OpKind.DROPOUT, OpKind.POOL}
_CONSTANT = {"zeros_": 0.0, "ones_": 1.0, "constant_": None}
#: Units whose outputs differ by less than this share of the layer's std compute one function:
#: float32 sums over thousands of terms, ordered differently per channel block, differ by about
#: 1e-6 of their size, while units an init tells apart differ by a sizeable share of it.
SYMMETRIC = 1e-4


def _transparent(op: Op) -> bool:
    return op.kind in _TRANSPARENT


def _within_layer(op: Op) -> bool:
    """What stands between two weighted layers: reshapes, dropout, pooling, activations, norms."""
    return op.kind in _TRANSPARENT or op.kind in ACTIVATIONS or op.kind in NORMS


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _confirm_halving(evidence: Evidence) -> Verdict:
    """Xavier before a ReLU: the ReLU keeps half of the signal's second moment, and Xavier's
    gain of 1 does not give it back (He's gain of 2 does)."""
    graph, op = evidence.graph, evidence.op
    relus = [o for o in graph.walk_forward(op, _transparent) if o.kind is OpKind.RELU]
    before, after = evidence.layer(op).train, evidence.layer(relus[0]).train if relus and evidence.layer(relus[0]) else None
    if after is None:
        return inconclusive(f"the ReLU after {op.describe()} was not measured")
    ratio = (after.std**2 + after.mean**2) / max(before.std**2 + before.mean**2, 1e-30)
    shown = f"the ReLU after {op.describe()} keeps {ratio:.0%} of the signal's second moment"
    return confirmed(f"{shown}: it shrinks at every such layer") if ratio < 0.6 else refuted(shown)


def _arg(init: dict, index: int, name: str, default: Any) -> Any:
    args, kwargs = init["args"], init["kwargs"]
    return kwargs.get(name, args[index] if len(args) > index else default)


def _fan_in(op: Op) -> Optional[int]:
    a = op.attrs
    if op.kind is OpKind.LINEAR:
        n = a.get("in_features")
        return n if isinstance(n, int) and n > 0 else None
    if op.kind is OpKind.CONV:
        channels, kernel, groups = a.get("in_channels"), a.get("kernel_size"), a.get("groups", 1)
        if not isinstance(channels, int) or not isinstance(groups, int) or groups < 1:
            return None
        if isinstance(kernel, int):
            kernel = (kernel,)  # a conservative fan-in: one kernel dimension
        if not isinstance(kernel, (tuple, list)) or not all(isinstance(k, int) for k in kernel):
            return None
        return channels // groups * math.prod(kernel)
    return None


class BadInit(GraphCheck):
    """
    ## What it does
    Flags weight initialisations that make signals vanish or explode, or that keep units
    identical:
    - a constant (`zeros_`, `ones_`, `constant_`, `.fill_()`, `.zero_()`) on the weight of
      a hidden Linear or convolution layer;
    - `normal_`/`uniform_`/`trunc_normal_` with a standard deviation at least 3x what He
      initialisation gives for the layer's fan-in (`normal_(0, 1)` on a wide layer);
    - Xavier/Glorot initialisation, without a gain, on a layer that feeds a ReLU (`info`);
    - in ONNX graphs, weights that are one constant everywhere (also through
      `ConstantOfShape`), that contain NaN or Inf, or that look untrained (zero mean,
      Gaussian or uniform shape) with a std at least 3x the He std for the fan-in.

    ## Why is this bad?
    Units that start with the same weights compute the same thing and get the same gradient,
    so they stay identical: the layer behaves like a single unit, and with ReLU and zero
    weights nothing learns at all. A standard deviation far above `sqrt(2 / fan_in)`
    multiplies the activations' scale at every layer until they overflow or saturate.
    Xavier assumes a symmetric activation; ReLU halves the variance at every layer, which is
    why He (`kaiming_*`) initialisation exists.

    Zero or constant initialisation of the *last* layer of a model or of a residual branch
    (zero-init residuals, LoRA's B matrix, zero heads) is a deliberate idiom and stays silent,
    as do biases set to zero, norms' weights set to one and small stds such as
    `normal_(0, 0.02)`.

    ## Example
    ```python
    nn.init.zeros_(self.hidden.weight)
    nn.init.normal_(self.fc.weight, 0.0, 1.0)  # fan-in 784
    ```

    ## Use instead
    ```python
    nn.init.kaiming_normal_(self.hidden.weight, nonlinearity="relu")
    nn.init.zeros_(self.hidden.bias)
    ```
    """

    code = "NN004"
    name = "bad-init"
    severity = Severity.ERROR
    message = "{problem}"
    hint = "use nn.init.kaiming_normal_/kaiming_uniform_ (ReLU) or xavier_* (tanh/sigmoid); keep constants for biases"
    traceable = True
    measures = frozenset({M.UNITS})
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch.nn as nn
import torch.nn.functional as F

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 64)
        self.out = nn.Linear(64, 1)
        nn.init.zeros_(self.hidden.weight)

    def forward(self, x):
        return self.out(F.relu(self.hidden(x)))
"""
        ),
        Bad(
            """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
for m in model.modules():
    if isinstance(m, nn.Linear):
        torch.nn.init.normal_(m.weight, mean=0.0, std=1.0)
"""
        ),
        Bad(
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float[4,4] w = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, float[4] b = {0.0, 0.0, 0.0, 0.0}> {
    y = Gemm(x, w, b)
}
""",
            frontend="onnx",
        ),
        Bad(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu", kernel_initializer="zeros"), layers.Dense(1)])
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation="tanh", kernel_initializer=tf.keras.initializers.Constant(0.5)),
    tf.keras.layers.Dense(1),
])
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch.nn as nn

softmax_regression = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(dim=1))
nn.init.zeros_(softmax_regression[1].weight)  # the output layer: its units learn from different targets
"""
        ),
        Good(
            """
import torch.nn as nn
import torch.nn.functional as F

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 64)
        self.bn = nn.BatchNorm1d(64)
        self.out = nn.Linear(64, 1)
        nn.init.kaiming_normal_(self.hidden.weight, nonlinearity="relu")
        nn.init.zeros_(self.hidden.bias)
        nn.init.constant_(self.bn.weight, 1)
        nn.init.zeros_(self.out.weight)  # zero-initialised head: a deliberate idiom

    def forward(self, x):
        return self.out(F.relu(self.bn(self.hidden(x))))
"""
        ),
        Good(
            """
import torch.nn as nn

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                                  nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z)

def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)

netG = Generator()
netG.apply(weights_init)
"""
        ),
        Good(
            """
import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu", kernel_initializer="he_normal", bias_initializer="zeros"),
                          layers.Dense(1, kernel_initializer="zeros")])
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """He initialisation (``kaiming_normal_`` for ReLU) of the layer's weight in place of the
        code's init; None for weights read from a graph file (NaN, constant: there is no init)."""
        from nnlint.trace.remedy import Remedy, set_weight_init

        if op is None or graph.ops.get(op.id) is not op or "weight_stats" in op.attrs:
            return None
        return Remedy(self.code, f"a He init for {op.describe()}", (self.code, op.id),
                      lambda g: set_weight_init(g, op.id, "kaiming_normal_", {"nonlinearity": "relu"}))

    def precondition(self, evidence: Evidence) -> Optional[str]:
        """A layer fed one value on every sample shows neither different units nor a spread."""
        from nnlint.trace.evidence import constant_input

        return constant_input(evidence)

    def reads_size_of(self, fields: dict, stood: frozenset[str] = frozenset()) -> bool:
        """A scale is judged against the fan-in, so a stand-in for the number of outputs alone
        leaves each output's std as measured (not so for Xavier, whose scale counts them too);
        a constant weight makes every unit the same, and NaN weights give NaN, at any width."""
        claim = fields.get("problem", "")
        if "constant" in claim or "NaN" in claim:
            return False
        return not (stood and stood <= OUTPUT_SIZES and "Xavier" not in claim)

    def confirm(self, evidence: Evidence) -> Verdict:
        """The layer's output on unit-variance inputs, judged for what the finding claims:
        NaN, identical units (a constant init), or a std outside the healthy 0.5-2.0 band."""
        missing = evidence.missing()
        if missing:
            return missing
        op, s = evidence.op, evidence.layer().train
        if evidence.caveat:
            return inconclusive(f"the rebuilt {op.describe()} may differ from the code: {evidence.caveat}")
        claim = evidence.fields.get("problem", "")
        band = f"the healthy {HEALTHY_STD[0]:g}-{HEALTHY_STD[1]:g} band"
        if "NaN" in claim:
            if s.nonfinite:
                return confirmed(f"the outputs of {op.describe()} contain NaN or Inf")
            return refuted(f"the outputs of {op.describe()} are finite")
        if "constant" in claim:
            if s.unit_spread is None:
                return inconclusive(f"the units of {op.describe()} could not be compared")
            if s.unit_spread <= SYMMETRIC * max(s.std, 1e-12) + 1e-12:
                shown = (f"every unit of {op.describe()} responds identically to the inputs (spread across "
                         f"units {s.unit_spread:.2g}): symmetry is never broken")
                fixed = evidence.fixed_layer()
                if fixed is None or fixed.train is None or fixed.train.unit_spread is None or evidence.remedy is None:
                    return confirmed(shown)
                if fixed.train.unit_spread <= SYMMETRIC * max(fixed.train.std, 1e-12) + 1e-12:
                    return inconclusive(f"{shown}, and with {evidence.remedy.what} as well: something else makes "
                                        "the units identical")
                return confirmed(f"{shown}; with {evidence.remedy.what} they differ (spread {fixed.train.unit_spread:.3g})")
            groups = _groups(op)
            if groups > 1:  # units of different groups read different channels: they may differ anyway
                return inconclusive(f"the units of {op.describe()} differ (spread {s.unit_spread:.3g}), but its "
                                    f"{groups} groups read different channels: the spread across groups cannot show "
                                    "whether the units within one are identical")
            return refuted(f"the units of {op.describe()} respond differently (spread {s.unit_spread:.3g})")
        if "Xavier" in claim:
            return _confirm_halving(evidence)
        if HEALTHY_STD[0] <= s.std <= HEALTHY_STD[1]:
            return refuted(f"activation std {s.std:.3g} after {op.describe()}, inside {band}")
        fixed = evidence.fixed_layer()
        if fixed is not None and fixed.train is not None and evidence.remedy is not None:
            return confirmed(f"activation std {s.std:.3g} after {op.describe()}, outside {band}; with "
                             f"{evidence.remedy.what} it is {fixed.train.std:.3g}")
        return confirmed(f"activation std {s.std:.3g} after {op.describe()}, outside {band}")

    def check(self, graph: ModelGraph) -> None:
        if not graph.is_model:
            return
        quiet: set[int] = set()  # ids of graph layers' attrs that gave no finding
        for op in graph.find(*WEIGHTED):
            if "weight_stats" in op.attrs:
                # Layers of one weight may share their attrs (the ONNX frontend does): one verdict for all.
                if id(op.attrs) not in quiet and not self._judge_values(op, op.attrs["weight_stats"]):
                    quiet.add(id(op.attrs))
                continue
            inits = [i for i in op.attrs.get("inits", ()) if i["param"] == "weight"]
            if inits and inits[-1]["certain"]:
                self._judge(graph, op, inits[-1])

    def _judge_values(self, op: Op, stats) -> bool:
        """Weights read from a graph file: NaN/Inf, one value everywhere, or an exploding std.
        True when reported; the verdict depends on ``op.attrs`` alone."""
        if stats is None:
            return False
        weight = op.attrs.get("weight")
        if stats.nonfinite:
            self.report(op, Severity.ERROR, Confidence.CERTAIN,
                        problem=f"{op.describe()} weight '{weight}' contains NaN or Inf: every output becomes NaN")
            return True
        if stats.constant is not None:
            self.report(op, Severity.ERROR, Confidence.CERTAIN, problem=(
                f"{op.describe()} weight '{weight}' is the constant {stats.constant:g} everywhere: all its units "
                "compute the same function and never become different"))
            return True
        if "fan_in" in op.attrs and stats.std > 0:
            he = math.sqrt(2.0 / op.attrs["fan_in"])
            untrained = abs(stats.mean) < 0.1 * stats.std and -1.5 < stats.excess_kurtosis < 0.5
            if untrained and stats.std >= 3 * he:
                self.report(op, Severity.WARNING, Confidence.LIKELY, problem=(
                    f"{op.describe()} weight '{weight}' has std {stats.std:.3g}, {stats.std / he:.0f}x the He std "
                    f"{he:.3g} for its fan-in of {op.attrs['fan_in']}: activations grow that much per layer"))
                return True
        return False

    def _judge(self, graph: ModelGraph, op: Op, init: dict) -> None:
        """Judge the last init of the layer's weight (only inits made on every path count)."""
        fn = init["fn"]
        origin = init["origin"]
        after = graph.walk_forward(op, _transparent)
        if fn in _CONSTANT:
            value = _CONSTANT[fn] if _CONSTANT[fn] is not None else _number(_arg(init, 0, "val", None))
            # hidden: its output reaches another weighted layer through activations and norms alone;
            # the output layer (softmax regression included) learns from zero, as does a residual branch
            reached = graph.walk_forward(op, _within_layer)
            hidden = reached and all(o.kind in WEIGHTED for o in reached)
            if value is None or not hidden:
                return  # the output layer or a residual branch: zero-init is an idiom there
            relu = any(o.kind is OpKind.RELU for o in after) and value == 0
            problem = (f"{op.describe()} weight initialised to the constant {value:g}: all its units compute the same "
                       "function and receive the same update, so they never become different")
            if relu:
                problem += "; with ReLU after it, no gradient flows at all"
            self.report(origin, about=op, problem=problem)
            return
        if fn in ("normal_", "uniform_", "trunc_normal_"):
            std = self._std(fn, init)
            fan_in = _fan_in(op)
            if std is None or fan_in is None:
                return
            he = math.sqrt(2.0 / fan_in)
            if std >= 3 * he:
                self.report(origin, Severity.WARNING, about=op, problem=(
                    f"{op.describe()} weight initialised with std {std:.3g}, {std / he:.0f}x the He std {he:.3g} for "
                    f"its fan-in of {fan_in}: activations grow about that much per layer and explode or saturate"))
            return
        if fn in ("xavier_uniform_", "xavier_normal_"):
            gain = _arg(init, 0, "gain", 1.0)
            if gain == 1.0 and any(o.kind is OpKind.RELU for o in after):
                self.report(origin, Severity.INFO, Confidence.POSSIBLE, about=op, problem=(
                    f"{op.describe()} feeds a ReLU but uses Xavier/Glorot init, which assumes a symmetric activation: "
                    "the variance halves at each ReLU layer; He (kaiming_*) init is made for ReLU"))

    @staticmethod
    def _std(fn: str, init: dict) -> Optional[float]:
        if fn in ("normal_", "trunc_normal_"):
            return _number(_arg(init, 1, "std", 1.0))
        low, high = _number(_arg(init, 0, "a", 0.0)), _number(_arg(init, 1, "b", 1.0))
        if init["method"]:
            low, high = _number(_arg(init, 0, "from", 0.0)), _number(_arg(init, 1, "to", 1.0))
        if low is None or high is None:
            return None
        return abs(high - low) / math.sqrt(12)


def _groups(op: Op) -> int:
    """A convolution's number of groups (``groups=`` in torch, the ONNX ``group`` attribute); 1
    where it has none or it is not known."""
    groups = op.attrs.get("groups")
    if groups is None and op.attrs.get("call") is not None:
        args, kwargs = op.attrs["call"]
        groups = kwargs.get("groups", args[6] if len(args) > 6 else 1)
    return groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 1 else 1
