"""Measure a rebuilt model: the numbers that confirmations and the HTML report read.

Tiny and seeded: a batch of 8 synthetic inputs (or rows of ``--sample``), one training-mode
forward pass with one backward pass and one optimizer step, two evaluation-mode passes (one
where the graph has no dropout; none of its own where no op depends on the mode, see
``mode_free``), a zero-input pass per weighted layer, each biased layer before a batch norm
run with its bias shifted, an input-scale sweep (x1 to x1000, TensorFuzz's idea), a batch of
one in training mode where batch norm is present, and the loss probes: the loss the code wrote
against its stable form, and a classification loss on the output it is fed. The weights are restored
after the optimizer step, so every pass sees the model as initialised. Only the measurements
asked for are taken (:mod:`~nnlint.trace.measurements`), each from its own seed.

The model adapter (:class:`~nnlint.trace.build.BuiltGraph`, the ONNX adapter, an imported
module's) gives ``make_inputs``, ``forward``, ``run_op``, ``params``, ``runnable_outputs``,
``steps`` and ``broken``; ``mode_free`` and ``stream`` where it can, which save passes and
memory without changing a number.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional

import torch
import torch.nn.functional as F

from nnlint.ir import ModelGraph, OpKind
from nnlint.ir.kinds import WEIGHTED
from nnlint.trace import keras_build
from nnlint.trace.errors import one_line
from nnlint.trace.measurements import ALL, Measure, closure
from nnlint.trace.records import LayerRecord, ModelTrace, ScaleProbe
from nnlint.trace.summary import histogram, stats

K = OpKind
SCALES = (1.0, 10.0, 100.0, 1000.0)
#: Histograms are kept for this many layers at most (the report shows them as small multiples).
MAX_HISTOGRAMS = 64

_LOSSES = {
    "MSELoss": "mse_loss", "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss",
    "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
}
_OPTIMIZERS = {"SGD", "Adam", "AdamW", "Adamax", "Adagrad", "RMSprop", "NAdam", "RAdam", "Adadelta"}
#: Ops whose activations (and weights) the report draws as histograms.
_HISTOGRAM_KINDS = WEIGHTED | {K.RELU, K.TANH, K.SIGMOID, K.SOFTMAX}


def measure(model: Any, graph: ModelGraph, device: torch.device, batch: int = 8,
            sample: Optional[torch.Tensor] = None, needs: frozenset[Measure] = ALL) -> ModelTrace:
    """``model`` is a rebuilt graph (:class:`~nnlint.trace.build.BuiltGraph` or the ONNX adapter);
    ``needs`` the measurements to take (with what they are computed from), all by default."""
    needs = closure(needs)
    trace = ModelTrace(model=graph.name, path=graph.path, device=device.type, batch=batch)
    if not model.steps:
        trace.problem = next(iter(model.broken.values()), "the graph computes nothing")
        return trace
    seed(device, 0)
    inputs = _inputs(model, batch, sample)
    trace.input_shapes = [list(t.shape) for t in inputs.values()]
    names = {op.id: op.describe() if graph.ops[op.id].kind is not K.INPUT else op.label or "input"
             for op in graph.ops.values()}
    try:
        values = _train_pass(model, graph, inputs, trace, names, needs)
        if Measure.EVAL in needs:
            seed(device, 1)
            values = _eval_passes(model, graph, inputs, trace, values)
        if Measure.ZERO_INPUT in needs:
            _zero_inputs(model, graph, values, trace)
        if Measure.BIAS in needs:
            _bias_probes(model, graph, values, trace)
        if Measure.DROPOUT in needs:
            seed(device, 2)
            _dropout_probes(model, graph, values, trace)
        if Measure.SWEEP in needs:
            seed(device, 3)
            _scale_sweep(model, batch, trace, values)
        if Measure.BATCH_OF_ONE in needs:
            seed(device, 4)
            _batch_of_one(model, graph, trace)
        if Measure.LOSS_PROBES in needs:
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


def _train_pass(model: Any, graph: ModelGraph, inputs: dict, trace: ModelTrace, names: dict,
                needs: frozenset[Measure]) -> dict:
    """Forward in training mode, then (as asked) one backward pass and one optimizer step,
    undone; returns the training-mode values. The running statistics the forward pass moves
    are put back too. It starts without gradients: a remedy's variant may share its layers
    with the model as written (:class:`~nnlint.trace.build.SharedLayers`)."""
    model.train()  # every module, whatever mode it came in: later phases switch with _mode()
    for parameter in model.parameters():
        parameter.grad = None
    kept = itertools.chain(model.parameters(), model.buffers()) if Measure.STEP in needs else model.buffers()
    with _put_back(kept) as saved:
        values = model(inputs)
        hist_budget = MAX_HISTOGRAMS if Measure.HISTOGRAMS in needs else 0
        units = Measure.UNITS in needs
        for op_id, value in values.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                continue
            kind = graph.ops[op_id].kind
            summary = stats(value, kind, units=units and kind in WEIGHTED)
            record = LayerRecord(op_id, names[op_id], kind.value, train=summary)
            if kind in _HISTOGRAM_KINDS:
                if hist_budget > 0:
                    record.act_hist = histogram(value)
                    params = model.params(op_id)
                    if params:
                        record.weight_hist = histogram(params[0])
                    hist_budget -= 1
            trace.layers[op_id] = record
        detached = {op_id: value.detach() for op_id, value in values.items()}
        output = _output(model, values) if Measure.GRADIENTS in needs else None
        if output is None:
            return detached
        loss, trace.loss = _loss(graph, output)
        if not loss.requires_grad:  # nothing trainable before the output
            return detached
        weighted = {op_id: ps for op_id, ps in ((i, model.params(i)) for i in values) if ps}
        loss.backward()
        for op_id, ps in weighted.items():
            if ps[0].grad is not None and op_id in trace.layers:
                trace.layers[op_id].grad_norm = _finite(ps[0].grad.norm())
        if Measure.STEP not in needs:
            for parameter in model.parameters():
                parameter.grad = None
            return detached
        initial = {id(tensor): value for tensor, value in saved}
        before = {op_id: initial[id(ps[0])] for op_id, ps in weighted.items()}
        optimizer, trace.optimizer = _optimizer(graph, model)
        optimizer.step()
        for op_id, ps in weighted.items():
            if op_id in trace.layers:
                scale = before[op_id].abs().mean()
                change = (ps[0].detach() - before[op_id]).abs().mean()
                trace.layers[op_id].update_ratio = _finite(change / scale) if scale > 0 else None
        optimizer.zero_grad(set_to_none=True)
        return detached


def _eval_passes(model: Any, graph: ModelGraph, inputs: dict, trace: ModelTrace, train_values: dict) -> dict:
    """Evaluation-mode passes on the same input: eval statistics, and (where the graph has a
    dropout) whether a second pass differs; without a dropout the one pass is its own repeat.
    A model whose every op computes the same in both modes (``mode_free``: an ONNX inference
    export, a rebuilt MLP) has had its evaluation pass already: the training pass's values and
    statistics are its own. Models that cannot tell (an imported module) run it. Returns the
    evaluation-mode values."""
    _mode(model, False)
    mode_free = getattr(model, "mode_free", False)
    if mode_free:
        first, second = train_values, None
    else:
        with torch.no_grad():
            first = model(inputs)
            second = model(inputs) if any(True for _ in graph.find(K.DROPOUT)) else None
    for op_id, value in first.items():
        record = trace.layers.get(op_id)
        if record is None or not value.is_floating_point():
            continue
        if mode_free and record.train is not None:
            record.eval = dataclasses.replace(record.train, unit_spread=None)  # what stats(units=False) gives
        else:
            record.eval = stats(value, graph.ops[op_id].kind, units=False)
        record.eval_repeat_differs = second is not None and not torch.equal(value, second[op_id])
    out_id = _output_id(model, first)
    if out_id is not None and out_id in train_values:
        a, b = train_values[out_id].float(), first[out_id].float()
        denominator = b.abs().mean()
        trace.train_eval_change = _finite((a - b).abs().mean() / denominator) if denominator > 0 else None
    return first


def _zero_inputs(model: Any, graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Each weighted layer applied to an all-zero input: without a bias the output is exactly 0."""
    _mode(model, False)
    with torch.no_grad():
        for op_id in list(values):
            op = graph.ops[op_id]
            if op.kind not in WEIGHTED or len(op.inputs) != 1 or op.inputs[0] not in values or op_id in model.broken:
                continue
            out = _on_zeros(model, op_id, values[op.inputs[0]])
            if out is not None and op_id in trace.layers:
                trace.layers[op_id].zero_input_max = _finite(out.abs().max())


def _on_zeros(model: Any, op_id: int, like: torch.Tensor) -> Optional[torch.Tensor]:
    """The op on zeros shaped like ``like``, from one sample where it takes one: every sample of
    an all-zero input is the same, and a Linear's rows and a convolution's samples are computed
    apart, so one gives the batch's answer for an eighth of the work (a ResNet's forward pass).
    Where the first axis is not the batch (an unbatched convolution, a Gemm that transposes its
    input) one sample does not fit and the whole batch runs."""
    if like.dim() > 1 and like.shape[0] > 1:
        try:
            return model.run_op(op_id, [torch.zeros_like(like[:1])])
        except Exception:  # does not fit: the whole batch decides, as it would alone
            pass
    return model.run_op(op_id, [torch.zeros_like(like)])


def _bias_probes(model: Any, graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Each biased layer whose output reaches a batch norm through reshapes alone, run with the
    ops after it up to the norm, in training mode (batch statistics), on the layer's own input:
    with its bias as it is and with it shifted by a random offset per unit about as large as
    the layer's outputs (not zeroed: biases often start at zero, Keras's always). The bias and
    the running statistics are put back."""
    probes = []  # (op id, the ops from it to its norm, its bias)
    for op_id in list(values):
        op = graph.ops[op_id]
        if op.kind not in WEIGHTED or len(op.inputs) != 1 or op.inputs[0] not in values or op_id not in trace.layers:
            continue
        chain = graph.batch_norm_after(op)
        params = model.params(op_id)
        if chain is not None and len(params) >= 2:
            probes.append((op_id, [op_id, *(o.id for o in chain)], params[1]))
    if not probes:
        return
    _mode(model, True)
    with _put_back(model.buffers()):  # each pass moves the norms' running statistics
        for op_id, chain, bias in probes:
            x, record = values[graph.ops[op_id].inputs[0]], trace.layers[op_id]
            scale = (record.train.std if record.train is not None else 1.0) or 1.0
            shift = torch.randn(bias.shape, generator=torch.Generator().manual_seed(5)).to(bias) * scale
            with _put_back([bias]), torch.no_grad():
                kept = _run_chain(model, chain, x)
                bias.add_(shift)
                shifted = _run_chain(model, chain, x)
            if kept is not None and shifted is not None and kept.shape == shifted.shape:
                size = kept.abs().max()
                record.bias_effect = _finite((kept - shifted).abs().max() / size) if size > 0 else None


def _run_chain(model: Any, op_ids: list[int], x: torch.Tensor) -> Optional[torch.Tensor]:
    """Ops that each read the one before, run one after another on ``x``; None where one cannot
    be run alone (an imported model's function)."""
    for op_id in op_ids:
        x = model.run_op(op_id, [x])
        if x is None:
            return None
    return x


def _dropout_probes(model: Any, graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Each dropout on an all-ones input of its input's shape, in both modes: the fraction zeroed."""
    with torch.no_grad():
        for op_id in list(values):
            op = graph.ops[op_id]
            if op.kind is not K.DROPOUT or len(op.inputs) != 1 or op.inputs[0] not in values or op_id not in trace.layers \
                    or op_id in model.broken:  # a dropout the part after it is traced without: fed, never run
                continue
            ones = torch.ones_like(values[op.inputs[0]])
            for training in (True, False):
                _mode(model, training)
                out = model.run_op(op_id, [ones])
                fraction = float((out == 0).float().mean()) if out is not None and out.numel() else None
                setattr(trace.layers[op_id], "dropped_train" if training else "dropped_eval", fraction)


def _scale_sweep(model: Any, batch: int, trace: ModelTrace, unscaled: dict) -> None:
    """The same inputs scaled x1..x1000 in eval mode: the first op whose output stops being finite.
    x1 is the evaluation pass already made (the same seeded inputs); the others are streamed,
    each value's range read as it is computed and the value let go, and listed in x1's order."""
    position = {op_id: index for index, op_id in enumerate(unscaled)}
    _mode(model, False)
    with torch.no_grad():
        for scale in SCALES:
            ranges: dict[int, tuple[float, float]] = {}

            def read(op_id: int, value: Any) -> None:
                if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                    ranges[op_id] = tuple(v.item() for v in torch.aminmax(value))  # one pass; NaN propagates

            if scale == 1.0:
                for op_id, value in unscaled.items():
                    read(op_id, value)
            else:
                _stream(model, model.make_inputs(batch, torch.Generator().manual_seed(0), scale=scale), read)
            probe = ScaleProbe(scale)
            for op_id in sorted(ranges, key=lambda i: position.get(i, len(position))):
                low, high = ranges[op_id]
                if not (math.isfinite(low) and math.isfinite(high)):
                    if probe.first_nonfinite is None:
                        probe.first_nonfinite = op_id
                    probe.nonfinite.append(op_id)
                else:
                    probe.max_abs[op_id] = max(-low, high)
            trace.scales.append(probe)


def _batch_of_one(model: Any, graph: ModelGraph, trace: ModelTrace) -> None:
    """Batch norm in training mode on one sample: PyTorch refuses (too few values per channel)."""
    if not any(True for _ in graph.find(K.BATCH_NORM)):
        return
    _mode(model, True)
    with _put_back(model.buffers()):  # a forward without gradients changes the running statistics only
        try:
            with torch.no_grad():
                model(model.make_inputs(1, torch.Generator().manual_seed(0)))
        except Exception as exc:  # what the user's training run would raise
            trace.batch_one_error = one_line(exc)


def _loss_probes(graph: ModelGraph, values: dict, trace: ModelTrace) -> None:
    """Where a softmax feeds cross-entropy, or a sigmoid feeds BCE: the loss as written against
    its stable form, on the layer's own (evaluation-mode) logits. Where any output feeds a
    classification loss: that loss on the output as it is."""
    for loss in graph.setup.losses:
        fn = _functional_name(loss)
        pred = graph.prediction(loss)
        if pred is None or pred.id not in graph.ops or graph.ops[pred.id] is not pred:
            continue
        output = values.get(pred.id)
        if fn in ("cross_entropy", "nll_loss") and isinstance(output, torch.Tensor) and output.is_floating_point() \
                and output.dim() == 2:
            trace.written_losses[pred.id] = _written_loss(fn, output)
        if not pred.inputs:
            continue
        logits = values.get(pred.inputs[0])
        if logits is None or not logits.is_floating_point() or logits.dim() != 2:
            continue
        if pred.kind is K.SOFTMAX and fn == "cross_entropy":
            trace.loss_probes[pred.id] = _softmax_ce_probe(logits)
        elif pred.kind is K.SIGMOID and fn == "binary_cross_entropy":
            trace.loss_probes[pred.id] = _sigmoid_bce_probe(logits)


def _written_loss(fn_name: str, output: torch.Tensor) -> dict:
    """A classification loss on an output as the code feeds it, with random class targets: its
    value and the norm of the gradient it gives the output."""
    x = output.detach().float().cpu().clone().requires_grad_(True)
    target = torch.randint(0, x.shape[1], (x.shape[0],), generator=torch.Generator().manual_seed(3))
    loss = getattr(F, fn_name)(x, target)
    loss.backward()
    return {"value": _finite(loss.detach()), "grad": _finite(x.grad.norm())}


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


def _stream(model: Any, inputs: dict, visit: Callable[[int, Any], None]) -> None:
    """``model.stream`` where the adapter has one (each value let go once consumed), else
    ``forward``'s values one by one (an adapter that cannot stream, such as an imported module)."""
    stream = getattr(model, "stream", None)
    if stream is None:
        for op_id, value in model(inputs).items():
            visit(op_id, value)
    else:
        stream(inputs, visit)


def seed(device: torch.device, value: int) -> None:
    """What ``torch.manual_seed`` does for the generators this device's passes draw from.
    ``torch.manual_seed`` also queues a seed for CUDA before it is initialised, formatting the
    caller's stack each time: a tenth of a small model's trace."""
    torch.default_generator.manual_seed(value)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(value)


def _mode(model: Any, training: bool) -> None:
    """Training or evaluation mode, switched only when it changes (``train()`` walks every
    module); the training pass sets every module's mode first, so the root's flag is theirs."""
    if model.training != training:
        model.train(training)


@contextmanager
def _put_back(tensors: Iterable[torch.Tensor]) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Each tensor's value copied on entry and put back in place on leaving, however the block
    ends; the block gets the (tensor, copy) pairs."""
    saved = [(t, t.detach().clone()) for t in tensors]
    try:
        yield saved
    finally:
        with torch.no_grad():
            for tensor, copy in saved:
                tensor.copy_(copy)


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


def _finite(value: Any) -> Optional[float]:
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None
