"""Measure a rebuilt model: the numbers that confirmations and the HTML report read.

Tiny and seeded: a batch of 8 synthetic inputs (or rows of ``--sample``), one training-mode
forward pass with one backward pass and one optimizer step, two evaluation-mode passes, a
zero-input pass per weighted layer, an input-scale sweep (x1 to x1000, TensorFuzz's idea),
a batch of one in training mode where batch norm is present, and the loss probes that
compare the loss the code wrote with its stable form. The weights are restored after the
optimizer step, so every pass sees the model as initialised.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Optional

import torch
import torch.nn.functional as F

from nnlint.ir import ModelGraph, OpKind
from nnlint.ir.kinds import WEIGHTED
from nnlint.trace import keras_build
from nnlint.trace.errors import one_line
from nnlint.trace.records import Histogram, LayerRecord, ModelTrace, ScaleProbe, Stats

K = OpKind
SCALES = (1.0, 10.0, 100.0, 1000.0)
BINS = 30
#: Activations larger than this are summarised from evenly spaced samples (per batch row).
SUBSAMPLE = 1 << 18
#: Histograms are kept for this many layers at most (the report shows them as small multiples).
MAX_HISTOGRAMS = 64

_LOSSES = {
    "MSELoss": "mse_loss", "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss",
    "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
}
_OPTIMIZERS = {"SGD", "Adam", "AdamW", "Adamax", "Adagrad", "RMSprop", "NAdam", "RAdam", "Adadelta"}
_BOUNDED = {K.SIGMOID: (0.0, 1.0), K.TANH: (-1.0, 1.0)}
#: Ops whose activations (and weights) the report draws as histograms.
_HISTOGRAM_KINDS = WEIGHTED | {K.RELU, K.TANH, K.SIGMOID, K.SOFTMAX}


def measure(model: Any, graph: ModelGraph, device: torch.device, batch: int = 8,
            sample: Optional[torch.Tensor] = None) -> ModelTrace:
    """``model`` is a rebuilt graph (:class:`~nnlint.trace.build.BuiltGraph` or the ONNX adapter)."""
    trace = ModelTrace(model=graph.name, path=graph.path, device=device.type, batch=batch)
    if not model.steps:
        trace.problem = next(iter(model.broken.values()), "the graph computes nothing")
        return trace
    torch.manual_seed(0)
    inputs = _inputs(model, batch, sample)
    trace.input_shapes = [list(t.shape) for t in inputs.values()]
    names = {op.id: op.describe() if graph.ops[op.id].kind is not K.INPUT else op.label or "input"
             for op in graph.ops.values()}
    try:
        trained = _train_pass(model, graph, inputs, trace, names)
        values = _eval_passes(model, graph, inputs, trace, trained)
        _zero_inputs(model, graph, values, trace)
        _dropout_probes(model, graph, values, trace)
        _scale_sweep(model, batch, trace, values)
        _batch_of_one(model, graph, trace)
        _loss_probes(graph, values, trace)
    except Exception as exc:  # the rebuilt model itself fails: say so, never crash the lint
        trace.error = f"{type(exc).__name__}: {one_line(exc, 300)}"
    return trace


def _inputs(model: Any, batch: int, sample: Optional[torch.Tensor]) -> dict[int, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    inputs = model.make_inputs(batch, generator)
    if sample is not None and len(inputs) == 1:
        (op_id, synthetic), = inputs.items()
        rows = sample[:batch].to(synthetic.device)
        if rows[0].numel() == synthetic[0].numel() and synthetic.is_floating_point():
            inputs[op_id] = rows.reshape(rows.shape[0], *synthetic.shape[1:]).to(synthetic.dtype)
    return inputs


def _train_pass(model: Any, graph: ModelGraph, inputs: dict, trace: ModelTrace, names: dict) -> dict:
    """Forward in training mode, one backward pass, one optimizer step (then undone); returns
    the training-mode values."""
    model.train()
    saved = copy.deepcopy(model.state_dict())
    values = model(inputs)
    hist_budget = MAX_HISTOGRAMS
    for op_id, value in values.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            continue
        kind = graph.ops[op_id].kind
        record = LayerRecord(op_id, names[op_id], kind.value, train=stats(value, kind))
        if kind in _HISTOGRAM_KINDS:
            if hist_budget > 0:
                record.act_hist = histogram(value)
                params = model.params(op_id)
                if params:
                    record.weight_hist = histogram(params[0])
                hist_budget -= 1
        trace.layers[op_id] = record
    detached = {op_id: value.detach() for op_id, value in values.items()}
    output = _output(model, values)
    if output is None:
        return detached
    loss, trace.loss = _loss(graph, output)
    if not loss.requires_grad:  # nothing trainable before the output
        return detached
    weighted = {op_id: ps for op_id, ps in ((i, model.params(i)) for i in values) if ps}
    before = {op_id: ps[0].detach().clone() for op_id, ps in weighted.items()}
    loss.backward()
    for op_id, ps in weighted.items():
        if ps[0].grad is not None and op_id in trace.layers:
            trace.layers[op_id].grad_norm = _finite(ps[0].grad.norm())
    optimizer, trace.optimizer = _optimizer(graph, model)
    optimizer.step()
    for op_id, ps in weighted.items():
        if op_id in trace.layers:
            scale = before[op_id].abs().mean()
            change = (ps[0].detach() - before[op_id]).abs().mean()
            trace.layers[op_id].update_ratio = _finite(change / scale) if scale > 0 else None
    optimizer.zero_grad(set_to_none=True)
    model.load_state_dict(saved)
    return detached


def _eval_passes(model: Any, graph: ModelGraph, inputs: dict, trace: ModelTrace, train_values: dict) -> dict:
    """Evaluation-mode passes on the same input: eval statistics, and (where the graph has a
    dropout) whether a second pass differs. Returns the evaluation-mode values."""
    torch.manual_seed(1)
    model.eval()
    with torch.no_grad():
        first = model(inputs)
        second = model(inputs) if any(True for _ in graph.find(K.DROPOUT)) else first
    for op_id, value in first.items():
        record = trace.layers.get(op_id)
        if record is None or not value.is_floating_point():
            continue
        record.eval = stats(value, graph.ops[op_id].kind)
        record.eval_repeat_differs = not torch.equal(value, second[op_id])
    out_id = _output_id(model, first)
    if out_id is not None and out_id in train_values:
        a, b = train_values[out_id].float(), first[out_id].float()
        denominator = b.abs().mean()
        trace.train_eval_change = _finite((a - b).abs().mean() / denominator) if denominator > 0 else None
    model.train()
    return first


def _zero_inputs(model: Any, graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Each weighted layer applied to an all-zero input: without a bias the output is exactly 0."""
    model.eval()
    with torch.no_grad():
        for op_id in list(values):
            op = graph.ops[op_id]
            if op.kind not in WEIGHTED or len(op.inputs) != 1 or op.inputs[0] not in values:
                continue
            zeros = torch.zeros_like(values[op.inputs[0]])
            out = model.run_op(op_id, [zeros])
            if out is not None and op_id in trace.layers:
                trace.layers[op_id].zero_input_max = _finite(out.abs().max())
    model.train()


def _dropout_probes(model: Any, graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Each dropout on an all-ones input of its input's shape, in both modes: the fraction zeroed."""
    with torch.no_grad():
        for op_id in list(values):
            op = graph.ops[op_id]
            if op.kind is not K.DROPOUT or len(op.inputs) != 1 or op.inputs[0] not in values or op_id not in trace.layers:
                continue
            ones = torch.ones_like(values[op.inputs[0]])
            for training in (True, False):
                model.train(training)
                out = model.run_op(op_id, [ones])
                fraction = float((out == 0).float().mean()) if out is not None and out.numel() else None
                setattr(trace.layers[op_id], "dropped_train" if training else "dropped_eval", fraction)
    model.train()


def _scale_sweep(model: Any, batch: int, trace: ModelTrace, unscaled: dict) -> None:
    """The same inputs scaled x1..x1000 in eval mode: the first op whose output stops being finite.
    x1 is the evaluation pass already made (the same seeded inputs)."""
    model.eval()
    with torch.no_grad():
        for scale in SCALES:
            values = unscaled if scale == 1.0 else model(
                model.make_inputs(batch, torch.Generator().manual_seed(0), scale=scale))
            probe = ScaleProbe(scale)
            for op_id, value in values.items():
                if not value.is_floating_point() or not value.numel():
                    continue
                low, high = (float(v) for v in torch.aminmax(value))  # one pass; NaN propagates
                if not (math.isfinite(low) and math.isfinite(high)):
                    if probe.first_nonfinite is None:
                        probe.first_nonfinite = op_id
                    probe.nonfinite.append(op_id)
                else:
                    probe.max_abs[op_id] = max(-low, high)
            trace.scales.append(probe)
    model.train()


def _batch_of_one(model: Any, graph: ModelGraph, trace: ModelTrace) -> None:
    """Batch norm in training mode on one sample: PyTorch refuses (too few values per channel)."""
    if not any(True for _ in graph.find(K.BATCH_NORM)):
        return
    model.train()
    saved = copy.deepcopy(model.state_dict())
    try:
        with torch.no_grad():
            model(model.make_inputs(1, torch.Generator().manual_seed(0)))
    except Exception as exc:  # what the user's training run would raise
        trace.batch_one_error = one_line(exc)
    finally:
        model.load_state_dict(saved)


def _loss_probes(graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Where a softmax feeds cross-entropy, or a sigmoid feeds BCE: the loss as written against
    its stable form, on the layer's own (evaluation-mode) logits."""
    for loss in graph.setup.losses:
        fn = _functional_name(loss)
        pred = graph.prediction(loss)
        if pred is None or pred.id not in graph.ops or graph.ops[pred.id] is not pred or not pred.inputs:
            continue
        logits = values.get(pred.inputs[0])
        if logits is None or not logits.is_floating_point() or logits.dim() != 2:
            continue
        if pred.kind is K.SOFTMAX and fn == "cross_entropy":
            trace.loss_probes[pred.id] = _softmax_ce_probe(logits)
        elif pred.kind is K.SIGMOID and fn == "binary_cross_entropy":
            trace.loss_probes[pred.id] = _sigmoid_bce_probe(logits)


def _softmax_ce_probe(logits: torch.Tensor) -> dict:
    """Cross-entropy on softmax probabilities: its floor for perfect logits, and the gradient it
    gives the logits against cross-entropy on the logits themselves."""
    z = logits.detach().float().cpu()
    classes = z.shape[1]
    target = z.argmax(dim=1)
    perfect = F.one_hot(target, classes).float() * 1000.0
    floor = float(F.cross_entropy(torch.softmax(perfect, dim=1), target))
    wrong = (target + 1) % classes

    def grad(apply_softmax: bool) -> float:
        x = z.clone().requires_grad_(True)
        F.cross_entropy(torch.softmax(x, dim=1) if apply_softmax else x, wrong).backward()
        return float(x.grad.norm())

    return {"classes": classes, "floor": floor, "grad_as_written": grad(True), "grad_fixed": grad(False)}


def _sigmoid_bce_probe(logits: torch.Tensor) -> dict:
    """BCE on sigmoid outputs at logits x100, where wrong confident predictions saturate: the
    fraction of elements left with no gradient, against BCEWithLogits on the same logits."""
    z = (logits.detach().float().cpu() * 100.0)
    target = (z < 0).float()  # every prediction confidently wrong

    def dead(as_written: bool) -> float:
        x = z.clone().requires_grad_(True)
        loss = F.binary_cross_entropy(torch.sigmoid(x), target) if as_written else \
            F.binary_cross_entropy_with_logits(x, target)
        loss.backward()
        return float((x.grad.abs() < 1e-12).float().mean())

    return {"scale": 100.0, "dead_as_written": dead(True), "dead_fixed": dead(False)}


# ---------------------------------------------------------------------- pieces


def _output_id(model: Any, values: dict) -> Optional[int]:
    outs = [i for i in model.runnable_outputs() if i in values and values[i].is_floating_point()]
    return outs[0] if outs else None


def _output(model: Any, values: dict) -> Optional[torch.Tensor]:
    out_id = _output_id(model, values)
    return values[out_id] if out_id is not None else None


def _functional_name(loss: dict) -> str:
    """``torch.nn.MSELoss`` and ``F.mse_loss`` alike: ``mse_loss``."""
    short = loss["type_name"].rsplit(".", 1)[-1]
    if loss["type_name"].startswith("keras."):
        return keras_build.loss_name(short, loss.get("from_logits") is True)
    return _LOSSES.get(short, short)


def _loss(graph: ModelGraph, output: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The loss the code declares, on random targets; a mean-square surrogate when it has none
    (or one the trace cannot compute), so one step can still be taken."""
    generator = torch.Generator().manual_seed(2)
    for loss in graph.setup.losses:
        fn_name = _functional_name(loss)
        if fn_name not in _LOSSES.values():
            continue
        fn = getattr(F, fn_name)
        pred = output
        applied = loss.get("applied")
        if applied is not None and applied.kind in (K.SIGMOID, K.RELU, K.TANH):
            pred = {K.SIGMOID: torch.sigmoid, K.RELU: torch.relu, K.TANH: torch.tanh}[applied.kind](output)
        try:
            if fn_name in ("cross_entropy", "nll_loss"):
                if pred.dim() < 2:
                    continue
                target = torch.randint(0, pred.shape[1], (pred.shape[0],), generator=generator).to(pred.device)
            elif fn_name.startswith("binary"):
                target = torch.randint(0, 2, pred.shape, generator=generator).float().to(pred.device)
            else:
                target = torch.randn(pred.shape, generator=generator).to(pred.device)
            return fn(pred, target), loss["type_name"].rsplit(".", 1)[-1]
        except (RuntimeError, ValueError):
            continue  # e.g. BCELoss on values outside [0, 1]: the surrogate below
    return 0.5 * output.float().pow(2).mean(), "surrogate: mean square of the output"


def _optimizer(graph: ModelGraph, model: Any) -> tuple[torch.optim.Optimizer, str]:
    """The optimizer the code declares with its learning rate, momentum and weight decay;
    Adam(lr=1e-3) when it declares none the trace can build."""
    for record in graph.setup.optimizers:
        name = record.get("type_name", "").rsplit(".", 1)[-1]
        if name not in _OPTIMIZERS and name not in keras_build.OPTIMIZER_NAMES:
            continue
        kwargs = {}
        for key in ("lr", "momentum", "weight_decay", "nesterov"):
            value = record.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) or (key == "nesterov" and isinstance(value, bool)):
                kwargs[key] = value
        if "lr" not in kwargs and record.get("lr") is not None:
            continue  # a learning rate only known at run time: do not invent one
        if record.get("type_name", "").startswith("keras."):
            name, kwargs = keras_build.optimizer(name, kwargs)
        try:
            optimizer = getattr(torch.optim, name)(model.parameters(), **kwargs)
        except (TypeError, ValueError):
            continue
        shown = ", ".join(f"{k}={v}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in kwargs.items())
        return optimizer, f"{name}({shown})"
    return torch.optim.Adam(model.parameters(), lr=1e-3), "Adam(lr=0.001), the trace's default"


def stats(value: torch.Tensor, kind: OpKind) -> Stats:
    """Exact min, max and NaN/Inf; the moments and fractions from at most SUBSAMPLE evenly
    spaced samples of a big activation (a ResNet's early layers hold millions of values)."""
    x = value.detach().float()
    whole = x
    if x.numel() == 0:
        return Stats(float("nan"), float("nan"), float("nan"), float("nan"), 0.0, 0.0, False)
    low, high = (float(v) for v in torch.aminmax(x))
    nonfinite = not (math.isfinite(low) and math.isfinite(high))
    if x.numel() > SUBSAMPLE and x.dim() >= 2 and not nonfinite:
        step = -(-x[0].numel() // (SUBSAMPLE // x.shape[0]))
        x = x.reshape(x.shape[0], -1)[:, ::step]
    good = x[torch.isfinite(x)] if nonfinite else x.reshape(-1)
    if good.numel() == 0:
        return Stats(float("nan"), float("nan"), float("nan"), float("nan"), 0.0, 0.0, True)
    saturated = 0.0
    if kind in _BOUNDED:
        low, high = _BOUNDED[kind]
        saturated = float(((good - low).abs() < 1e-3).float().mean() + ((high - good).abs() < 1e-3).float().mean())
    elif kind is K.SOFTMAX and x.dim() >= 2:
        saturated = float((x.amax(dim=-1) > 1 - 1e-3).float().mean())
    unit_spread = None
    if whole.dim() >= 2 and whole.shape[1] > 1 and whole.shape[0] > 1 and not nonfinite:
        units = whole.reshape(whole.shape[0], whole.shape[1], -1)  # positions kept apart from units
        units = units[:, :, :: max(1, units.numel() // SUBSAMPLE)]
        unit_spread = float((units - units.mean(dim=0, keepdim=True)).std(dim=1, unbiased=False).mean())
    if nonfinite:
        low, high = float(good.min()), float(good.max())
    return Stats(
        mean=float(good.mean()), std=float(good.std(unbiased=False)), min=low, max=high,
        zero_fraction=float((x == 0).float().mean()), saturated_fraction=saturated, nonfinite=nonfinite,
        unit_spread=unit_spread,
    )


def histogram(value: torch.Tensor) -> Optional[Histogram]:
    x = value.detach().float().flatten()
    x = x[torch.isfinite(x)]
    if x.numel() == 0:
        return None
    low, high = float(x.min()), float(x.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(x.cpu(), bins=BINS, min=low, max=high)
    step = (high - low) / BINS
    return Histogram([low + i * step for i in range(BINS + 1)], [int(c) for c in counts])


def _finite(value: Any) -> Optional[float]:
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None
