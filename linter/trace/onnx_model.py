"""An ONNX graph, run by :class:`~nnlint.trace.onnx_exec.OnnxExecutor`, speaking the IR's op ids.

The measurements and the confirmations address ops by their id in the IR the ONNX frontend
built; this adapter maps each op to the node it came from (by node name) and each value to
the node's first output, so the same ``measure`` serves source models and exported graphs.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from nnlint.ir import ModelGraph, OpKind
from nnlint.trace.budget import Budget, OverBudget, size_text
from nnlint.trace.errors import CannotBuild, CannotRunAlone
from nnlint.trace.onnx_exec import OnnxExecutor

#: Integer inputs are fed values in [0, this): valid indices for any embedding, and the range
#: of raw uint8 pixels for image inputs (which the raw-input rules care about).
_INTEGER_RANGE = {torch.uint8: 256}
_SMALL_INDEX = 2


class OnnxGraph(nn.Module):
    def __init__(self, graph: ModelGraph, device: torch.device, batch: int = 8,
                 budget: Optional[Budget] = None) -> None:
        super().__init__()
        self.graph = graph
        self.device = device
        #: a remedy's edits the executor honours (:func:`~nnlint.trace.remedy.set_node_value`)
        overrides = {op.origin.graph_node: op.attrs["onnx_overrides"] for op in graph.ops.values()
                     if "onnx_overrides" in op.attrs and op.origin is not None and op.origin.graph_node}
        self.executor = OnnxExecutor(graph.artifact, device, batch, budget=budget or Budget(batch=batch),
                                     overrides=overrides)
        self.broken: dict[int, str] = {}
        self.init_notes: dict[int, str] = {}
        self.specs = {}
        by_name = {name: (shape, dtype) for name, shape, dtype in self.executor.input_specs()}
        for op_id in graph.inputs:
            name = graph.ops[op_id].label
            if name not in by_name:
                raise CannotBuild(f"graph input '{name}' has no usable type")
            self.specs[op_id] = (name, *by_name[name])
        self.output_of: dict[int, str] = {}
        for op in graph.ops.values():
            if op.kind is not OpKind.INPUT and op.origin is not None and op.origin.graph_node:
                output = self.executor.node_output(op.origin.graph_node)
                if output:
                    self.output_of[op.id] = output
        self.steps = dict.fromkeys(self.output_of)  # the ops this model can report values for
        self._ops_of: dict[str, list[int]] = {}  # node output -> the ops that report it
        for op_id, name in self.output_of.items():
            self._ops_of.setdefault(name, []).append(op_id)
        self.mode_free = self.executor.mode_free()  # one pass serves both modes (see measure)
        self._check_activations(budget or Budget(batch=batch), batch)

    def _check_activations(self, budget: Budget, batch: int) -> None:
        """:class:`~nnlint.trace.budget.OverBudget` when the activations of one sample, scaled
        to the trace's batch, exceed the budget: every node output, which a training pass keeps
        for its backward pass, measured by a pass at batch 1 that stops once they pass the
        budget's share of one sample. A node that fails here fails the real passes too, which
        report it."""
        feeds = {name: tensor for (name, _, _), tensor in
                 zip(self.specs.values(), self.make_inputs(1, torch.Generator().manual_seed(0)).values())}
        try:
            with torch.no_grad():
                total = self.executor.activation_total(feeds, budget.limit // max(batch, 1))
        except OverBudget:
            share = budget.limit // max(batch, 1)
            raise OverBudget(f"the model needs more than {size_text(share)} of activations for one sample (a pass at "
                             f"batch 1 stopped there), over the {size_text(budget.limit)} --trace-memory budget at "
                             f"batch {batch}") from None
        except Exception:
            return
        budget.check(total * batch, f"activations at batch {batch}")

    def make_inputs(self, batch: int, generator: torch.Generator, scale: float = 1.0) -> dict[int, torch.Tensor]:
        made = {}
        for op_id, (_, shape, dtype) in self.specs.items():
            shape = (batch, *shape[1:]) if shape else shape
            if dtype.is_floating_point:
                made[op_id] = (torch.randn(shape, generator=generator) * scale).to(dtype).to(self.device)
            elif dtype == torch.bool:
                made[op_id] = torch.randint(0, 2, shape, generator=generator).bool().to(self.device)
            else:
                high = _INTEGER_RANGE.get(dtype, _SMALL_INDEX)
                made[op_id] = torch.randint(0, high, shape, generator=generator).to(dtype).to(self.device)
        return made

    def forward(self, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        values = self.executor({self.specs[op_id][0]: tensor for op_id, tensor in inputs.items()})
        found = {op_id: tensor for op_id, tensor in inputs.items()}
        for op_id, name in self.output_of.items():
            value = values.get(name)
            if isinstance(value, torch.Tensor):
                found[op_id] = value
        return found

    def stream(self, inputs: dict[int, torch.Tensor], visit: Callable[[int, object], None]) -> None:
        """What ``forward`` returns, handed to ``visit(op_id, value)`` value by value instead, each
        let go once no later node reads it (the executor's ``visit``): the scale sweep reads a
        range and needs no value kept."""
        for op_id, tensor in inputs.items():
            visit(op_id, tensor)
        ops_of = self._ops_of

        def computed(name: str, value: object) -> None:
            for op_id in ops_of.get(name, ()):
                visit(op_id, value)

        left = self.executor({self.specs[op_id][0]: tensor for op_id, tensor in inputs.items()}, computed)
        for op_id, name in self.output_of.items():  # nodes folded into constants: never run
            if isinstance(left.get(name), torch.Tensor):
                visit(op_id, left[name])

    def run_op(self, op_id: int, args: list[torch.Tensor]) -> Optional[torch.Tensor]:
        """The op's node on a first input of our choosing, its weights as they are; None, with
        the reason kept in ``broken``, when the node reads a value only the whole graph computes."""
        node = self.graph.ops[op_id].origin.graph_node
        try:
            return self.executor.run_node(node, args[0])
        except CannotRunAlone as exc:
            self.broken[op_id] = str(exc)
            return None

    def params(self, op_id: int) -> list[nn.Parameter]:
        op = self.graph.ops[op_id]
        return self.executor.params_of(op.origin.graph_node) if op.origin is not None and op.origin.graph_node else []

    def runnable_outputs(self) -> list[int]:
        return [i for i in self.graph.outputs if i in self.output_of]
