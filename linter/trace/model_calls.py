"""Training code traced through the models it calls.

In the IR, training code's call of a model (``probs = self.policy_net(state)``) is one opaque
op that names the model's graph. A finding on that code (the log of a probability the model
returns, picked by the action taken) is about values the model computes, so the trace runs
the model's own ops in place of the call: a copy of the model's graph, fed what the code
passes it. Each call site gets its own copy, with layers of its own: two calls of one model
are traced as two models built alike, not as one set of weights (what the findings on training
code measure, the range of what a model returns, does not depend on which draw). Copies of an op are made
once per call site and trace run, so a remedy's variant borrows their layers as it borrows the
model's own (see :class:`~nnlint.trace.build.SharedLayers`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.ir.kinds import TRAINABLE

#: a model larger than this is left as a call: the finding on the training code is then traced
#: as before, from what the call returns
MAX_MODEL_OPS = 2000
#: and no graph grows past this many ops by copies (a loop calling many models)
MAX_COPIED_OPS = 10000

#: (call op id, id of the model's op) -> (the model's op, its copy); the op kept alive
Copies = dict[tuple[int, int], tuple[Op, Op]]


def inline_model_calls(graph: ModelGraph, copies: Optional[Copies] = None) -> tuple[ModelGraph, list[str]]:
    """A copy of ``graph`` in which each call of a model with one input runs the model's ops,
    its one output or each output the code unpacked becoming what the model computes there, and
    what to say in the evidence. A tensor the code makes from data the analysis
    does not follow (``torch.tensor([state])``, ``torch.from_numpy(obs)``) and passes to a model
    or a layer becomes an input of the trace, fed as the layer's own input would be. A model
    graph, an exported graph or code with neither is returned as it is."""
    if graph.is_model or graph.artifact is not None:
        return graph, []
    calls = {op.id: op.attrs["model_call"] for op in graph.ops.values() if _inlinable(op, graph)}
    if sum(len(model.ops) for model in calls.values()) > MAX_COPIED_OPS:
        calls = {}
    fed = _data_made_at_run_time(graph, set(calls))
    if not calls and not fed:
        return graph, []
    copies = {} if copies is None else copies
    taken = set(graph.ops) | {copy.id for _, copy in copies.values()}
    next_id = max(taken) + 1
    ops: dict[int, Op] = {}
    notes: list[str] = []
    mappings: dict[int, dict[int, int]] = {}  # call op id -> the model's op ids -> their copies
    inputs_added: list[int] = []
    for op in graph.ops.values():  # creation order stays a topological order: the model's ops before the call
        if "output" in op.attrs and op.inputs and op.inputs[0] in mappings:  # logits, value = model(x)
            ops[op.id] = _passing_on(op, mappings[op.inputs[0]][calls[op.inputs[0]].outputs[op.attrs["output"]]])
            continue
        if op.id in fed:  # torch.tensor(state), torch.from_numpy(obs): fed as the model's input is
            notes.append(f"{op.describe()}(...) (data made at run time) fed random inputs shaped for the layers it "
                         "is passed to")
            op = replace(op, kind=OpKind.INPUT)
        model = calls.get(op.id)
        if model is not None:
            # a call passed nothing the analysis follows (Keras running a hand-written loss on
            # the model's predictions): the copy of the model's input is an input of the trace
            mapping = {model.inputs[0]: op.inputs[0]} if op.inputs else {}
            for inner in model.ops.values():
                if inner.id in mapping:
                    continue
                inputs = [mapping[i] for i in inner.inputs]
                entry = copies.get((op.id, id(inner)))
                if entry is None or entry[0] is not inner or entry[1].inputs != inputs or entry[1].id in ops:
                    entry = (inner, replace(inner, id=next_id, inputs=inputs))
                    copies[op.id, id(inner)] = entry
                    next_id += 1
                ops[entry[1].id] = entry[1]
                mapping[inner.id] = entry[1].id
                if inner.kind is OpKind.INPUT:
                    inputs_added.append(entry[1].id)
            mappings[op.id] = mapping
            notes.append(f"{op.label or model.name}(...) traced through {model.name}'s layers")
            op = _passing_on(op, mapping[model.outputs[0]])
        ops[op.id] = op
    return replace(graph, ops=ops, inputs=[*graph.inputs, *inputs_added], _consumers=None, _by_kind=None), notes


def _passing_on(op: Op, source: int) -> Op:
    """``op`` (a call, or an output unpacked from one) as an identity of what the copy computes."""
    return replace(op, kind=OpKind.IDENTITY, type_name="torch.nn.Identity", attrs={"call": ([], {})}, inputs=[source])


def _data_made_at_run_time(graph: ModelGraph, calls: set[int]) -> set[int]:
    """Tensors the code makes from data the analysis does not follow (``torch.tensor([state])``,
    ``torch.from_numpy(obs).float()``: a constant op of no input) that reach, through reshapes,
    a model call or a layer with weights: the trace feeds them as that layer's input."""
    fed = set()
    for op in graph.ops.values():
        if op.id in calls or op.kind in TRAINABLE:
            source = graph.unshape(graph.ops[op.inputs[0]]) if op.inputs else None
            if source is not None and source.kind is OpKind.CONSTANT and not source.inputs:
                fed.add(source.id)
    return fed


def _inlinable(op: Op, graph: ModelGraph) -> bool:
    """A call of a model built from source whose one input the code passes (or that passes it
    nothing the analysis follows) and whose output it uses: its one output, or each of several
    as the code unpacks them (``attrs["output"]``); the model's graph has no other input (an
    argument it reads from elsewhere)."""
    model = op.attrs.get("model_call")
    if not isinstance(model, ModelGraph) or model.artifact is not None or len(op.inputs) > 1:
        return False
    if len(model.inputs) != 1 or not model.outputs or len(model.ops) > MAX_MODEL_OPS:
        return False
    if len(model.outputs) > 1 and not all("output" in user.attrs for user in graph.consumers(op)):
        return False
    if any(inner.kind is OpKind.INPUT and inner.id != model.inputs[0] for inner in model.ops.values()):
        return False
    return all(out in model.ops and out != model.inputs[0] for out in model.outputs)
