"""The measurements of one traced model, as plain data.

The trace fills these in (in this process, or in the ``--trace-import`` subprocess, which
sends them back as JSON: never a pickle); the checks' ``confirm`` methods and the HTML report
read them. No torch here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Optional


@dataclass
class Histogram:
    edges: list[float]  # len(counts) + 1 bin edges
    counts: list[int]


@dataclass
class Stats:
    """Summary of one tensor over the whole tiny batch."""

    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float  # exactly 0.0
    saturated_fraction: float  # within 1e-3 of the op's bounds (sigmoid/tanh/softmax); 0 elsewhere
    nonfinite: bool  # any NaN or Inf
    #: how differently the units respond: std across units (dim 1) of the batch-centred outputs,
    #: averaged over samples; 0 when every unit computes the same function (a constant init)
    unit_spread: Optional[float] = None
    #: max |difference| of any sample's values from the first sample's (over the batch): 0 when
    #: the op computes the same on every input (a layer behind a constant-0 init); None unknown
    sample_spread: Optional[float] = None


@dataclass
class LayerRecord:
    """One op of the model, as measured. ``op_id`` is the IR op's id."""

    op_id: int
    name: str  # what messages call it: the source label or the ONNX node name
    kind: str  # the IR kind's value ("linear", "relu", ...)
    train: Optional[Stats] = None  # training-mode forward
    eval: Optional[Stats] = None  # evaluation-mode forward
    eval_repeat_differs: Optional[bool] = None  # two eval-mode passes on the same input differ
    zero_input_max: Optional[float] = None  # max |output| when the whole input is zero
    #: a biased layer before a batch norm: max |change| of the norm's training-mode output when
    #: the bias is shifted (by about the layer's output std), over max |output|
    bias_effect: Optional[float] = None
    dropped_train: Optional[float] = None  # dropout: fraction of an all-ones input zeroed, training mode
    dropped_eval: Optional[float] = None  # the same after eval()
    grad_norm: Optional[float] = None  # of the layer's weight after one backward pass
    update_ratio: Optional[float] = None  # mean |update| / mean |weight| after one optimizer step
    weight_hist: Optional[Histogram] = None
    act_hist: Optional[Histogram] = None  # training-mode activations


@dataclass
class ScaleProbe:
    """The forward pass at one input scale (x1, x10, ...): where values first stop being finite."""

    scale: float
    first_nonfinite: Optional[int] = None  # op id of the first op whose output has NaN/Inf
    max_abs: dict[int, float] = field(default_factory=dict)  # op id -> max |value| (finite ops only)
    nonfinite: list[int] = field(default_factory=list)  # every op whose output has NaN/Inf


@dataclass
class TracedFinding:
    """A finding as the report shows it: beside the layer (``op_id``) it concerns."""

    code: str
    name: str
    severity: str
    message: str
    line: Optional[int]
    op_id: Optional[int]
    status: str  # confirmed / refuted / inconclusive
    evidence: str
    #: where a finding on code outside the model sits ("training code, line 18": a softmax in
    #: the training loop); ``op_id`` is then None, since no layer of the model is concerned
    place: Optional[str] = None


@dataclass
class ModelTrace:
    """Everything measured on one model. ``problem`` says why nothing (or part) could be run."""

    model: str  # the model's name in the IR
    path: str
    device: str
    batch: int = 0
    input_shapes: list[list[int]] = field(default_factory=list)
    layers: dict[int, LayerRecord] = field(default_factory=dict)
    scales: list[ScaleProbe] = field(default_factory=list)
    loss: Optional[str] = None  # the loss used for the backward pass, as named by the code
    optimizer: Optional[str] = None  # e.g. "SGD(lr=10.0)"
    train_eval_change: Optional[float] = None  # mean |train - eval| / mean |eval| at the output
    batch_one_error: Optional[str] = None  # what a training-mode forward on one sample raised
    #: op id of a softmax/sigmoid feeding a loss -> the loss as written against its stable form
    loss_probes: dict[int, dict] = field(default_factory=dict)
    #: op id of an output fed to a classification loss -> that loss as written on the op's own
    #: (evaluation-mode) output with random class targets: {"value": ..., "grad": ...}
    written_losses: dict[int, dict] = field(default_factory=dict)
    error: Optional[str] = None  # an exception the rebuilt model raised
    problem: Optional[str] = None  # why the model could not be built or run
    findings: list[TracedFinding] = field(default_factory=list)
    #: how the model was obtained: "rebuilt" from the code, the "onnx" graph as it is, or
    #: "imported" (--trace-import ran the user's class)
    built: str = "rebuilt"

    def layer(self, op_id: int) -> Optional[LayerRecord]:
        return self.layers.get(op_id)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelTrace":
        """The inverse of :meth:`as_json` (JSON turns the op-id keys into strings). Unknown keys
        are refused with ``TypeError``/``KeyError``/``ValueError``, so a malformed reply from
        the import subprocess is an error the caller reports, never a half-read trace."""
        data = dict(data)
        layers = {int(k): _record(LayerRecord, v) for k, v in data.pop("layers", {}).items()}
        scales = [ScaleProbe(p["scale"], p.get("first_nonfinite"), {int(k): v for k, v in p.get("max_abs", {}).items()},
                             list(p.get("nonfinite", []))) for p in data.pop("scales", [])]
        probes = {int(k): dict(v) for k, v in data.pop("loss_probes", {}).items()}
        written = {int(k): dict(v) for k, v in data.pop("written_losses", {}).items()}
        found = [TracedFinding(**f) for f in data.pop("findings", [])]
        return cls(**data, layers=layers, scales=scales, loss_probes=probes, written_losses=written, findings=found)


def _record(kind: type, data: dict):
    """A dataclass from its ``asdict`` form, nested Stats and Histograms included."""
    nested = {f.name: f.type for f in fields(kind)}
    values = {}
    for key, value in data.items():
        annotation = str(nested[key])
        if value is not None and "Stats" in annotation:
            value = Stats(**value)
        elif value is not None and "Histogram" in annotation:
            value = Histogram(**value)
        values[key] = value
    return kind(**values)
