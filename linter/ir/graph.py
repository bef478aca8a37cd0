"""Ops, model graphs and the training setup that goes with a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Optional

from nnlint.ir.kinds import SHAPE_ONLY, OpKind


@dataclass(slots=True)
class Origin:
    """Where an op or declaration comes from.

    ``node`` is the frontend's handle on the source (a libcst node); the position is worked
    out only when a finding is reported, because position metadata costs more than parsing.
    """

    path: str
    node: Any = None
    graph_node: Optional[str] = None  # the node name, for graph frontends


@dataclass(frozen=True, slots=True)
class InputRef:
    """In a recorded call (``attrs["call"]``), the op's input number ``index`` stands here."""

    index: int


@dataclass(slots=True)
class Op:
    """One operation. Facts frontends record in ``attrs`` for the checks include ``bias``,
    ``placeholder`` (an identity module such as ``nn.Identity``: it computes nothing here, but
    it stands where another configuration puts a layer, a norm say) and ``optional_norm`` (a
    branch of the code that built the op, ruled out by its arguments, would add a norm) and
    ``trained`` (False when the layer's weights stay as they are: frozen, or in no optimizer) and
    ``weightless`` (an ``UNKNOWN`` op that is a tensor function or method, not a module: whatever
    it computes, it holds no weights) and ``foreign`` (the op reads a tensor made outside the
    graph: an ``nn.Parameter`` or buffer of the module, say)."""

    id: int
    kind: OpKind
    type_name: str
    attrs: dict = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)
    origin: Optional[Origin] = None
    label: str = ""

    def describe(self) -> str:
        """Human name for messages: ``self.fc2 (Linear)`` or just ``ReLU``; the last dotted part
        of the name before any parenthesis (a model's call ``self.policy(...)`` is ``policy(...)``,
        not the ``)`` a split at its last dot would give)."""
        head, call, rest = self.type_name.partition("(")
        short = head.rsplit(".", 1)[-1] + call + rest
        if self.label and self.label != short:
            return f"{self.label} ({short})"
        if ".functional." in self.type_name:
            return f"F.{short}"
        return f"torch.{short}" if self.type_name == f"torch.{short}" else short


@dataclass
class TrainingSetup:
    """What the code declares around a model: loss, optimizer, data."""

    losses: list[dict] = field(default_factory=list)  # {"kind", "type_name", "origin", "attrs"}
    optimizers: list[dict] = field(default_factory=list)
    loaders: list[dict] = field(default_factory=list)
    task: Optional[str] = None  # "regression" / "classification" when declared or inferred
    #: False when the code that builds the model trains nothing at all (no loss, optimizer,
    #: backward or fit anywhere): it only applies the model (to show a map, to time it), so its
    #: weights are whatever they were set to; None when it does train, or may elsewhere.
    trained: Optional[bool] = None

    def loss_task(self) -> Optional[str]:
        """The task the losses imply, or None when they disagree or there are none."""
        tasks = {loss["task"] for loss in self.losses if loss.get("task")}
        return tasks.pop() if len(tasks) == 1 else None


@dataclass
class ModelGraph:
    """A dataflow graph: ops in creation order, inputs and outputs as op ids.

    ``complete`` is False when the frontend met something it could not follow (a dynamic
    layer list, an unknown call on the model's path); checks that need the whole picture stay
    silent then. ``is_model`` separates networks from plain tensor code in helper functions.
    ``top_level`` is False for a module used inside another one: its output is not the end.
    ``instantiated`` graphs come from code that builds the model with its actual arguments;
    the others are read from a class definition with its defaults.
    """

    name: str
    path: str
    ops: dict[int, Op] = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    is_model: bool = False
    instantiated: bool = False  # created by the code (model = Net(...)), not only read from a class
    top_level: bool = True
    complete: bool = True
    setup: TrainingSetup = field(default_factory=TrainingSetup)
    artifact: Any = field(default=None, repr=False)  # the file a graph frontend read (ONNX), for --trace
    _consumers: Optional[dict[int, Op | list[Op]]] = field(default=None, repr=False)  # one op, or a list of 2+
    _by_kind: Optional[dict[OpKind, list[Op]]] = field(default=None, repr=False)

    def add(self, kind: OpKind, type_name: str, inputs: Iterable[int] = (), attrs: Optional[dict] = None,
            origin: Optional[Origin] = None, label: str = "") -> Op:
        inputs = inputs if isinstance(inputs, list) else list(inputs)
        op = Op(len(self.ops), kind, type_name, {} if attrs is None else attrs, inputs, origin, label)
        self.ops[op.id] = op
        self._consumers = None
        self._by_kind = None
        return op

    def find(self, *kinds: OpKind) -> Iterator[Op]:
        """The ops of these kinds, in creation order (indexed once: checks call this a lot)."""
        if self._by_kind is None:
            index: dict[OpKind, list[Op]] = {}
            for op in self.ops.values():
                ops = index.get(op.kind)
                if ops is None:  # not setdefault(kind, []): that makes a list per op
                    ops = index[op.kind] = []
                ops.append(op)
            self._by_kind = index
        lists = [self._by_kind[kind] for kind in set(kinds) if kind in self._by_kind]
        if len(lists) == 1:
            return iter(list(lists[0]))  # one kind present: already in creation order
        return iter(sorted([op for ops in lists for op in ops], key=attrgetter("id")))

    def producers(self, op: Op) -> list[Op]:
        return [self.ops[i] for i in op.inputs]

    def consumers(self, op: Op) -> list[Op]:
        """The ops that read ``op``, in creation order (a fresh list: callers may change it).

        The index keeps a lone consumer as itself, not in a list: most ops have one, and
        a graph can have millions of ops.
        """
        if self._consumers is None:
            consumers: dict[int, Op | list[Op]] = {}
            get = consumers.get
            for other in self.ops.values():
                for i in other.inputs:
                    found = get(i)
                    if found is None:
                        consumers[i] = other
                    elif found.__class__ is list:
                        found.append(other)
                    else:
                        consumers[i] = [found, other]
            self._consumers = consumers
        found = self._consumers.get(op.id)
        if found is None:
            return []
        return list(found) if found.__class__ is list else [found]

    def is_output(self, op: Op) -> bool:
        return op.id in self.outputs

    def batch_norm_after(self, op: Op) -> Optional[list[Op]]:
        """The ops from ``op``'s output to the batch norm it reaches through reshapes alone, each
        the lone reader of the one before (at most 16), the norm last; None when it reaches none.
        (What redundant-bias-before-norm reports, and what the trace runs to confirm it.)"""
        chain: list[Op] = []
        after = op
        for _ in range(16):
            consumers = self.consumers(after)
            if len(consumers) != 1:
                return None
            after = consumers[0]
            chain.append(after)
            if after.kind is OpKind.BATCH_NORM:
                return chain
            if after.kind not in SHAPE_ONLY:
                return None
        return None

    def walk_forward(self, op: Op, through: Callable[[Op], bool]) -> list[Op]:
        """The ops reached from ``op`` skipping those ``through`` accepts (e.g. reshapes)."""
        return self._walk(op, through, self.consumers)

    def walk_backward(self, op: Op, through: Callable[[Op], bool]) -> list[Op]:
        return self._walk(op, through, self.producers)

    @staticmethod
    def _walk(op: Op, through: Callable[[Op], bool], step: Callable[[Op], list[Op]]) -> list[Op]:
        reached, seen, stack = [], {op.id}, list(step(op))
        while stack:
            nxt = stack.pop()
            if nxt.id in seen:
                continue
            seen.add(nxt.id)
            if through(nxt):
                stack.extend(step(nxt))
            else:
                reached.append(nxt)
        return reached

    def prediction(self, loss: dict) -> Optional[Op]:
        """The op whose values a loss receives: an activation the training code applied to the
        model's output, or the model's own single output (through reshapes). None if unknown."""
        if "applied" in loss:
            return loss["applied"]
        if "input" in loss:
            return self.unshape(self.ops[loss["input"]])
        if len(self.outputs) == 1:
            return self.unshape(self.ops[self.outputs[0]])
        return None

    def unshape(self, op: Op, also: Iterable[OpKind] = ()) -> Op:
        """The op that computed ``op``'s values, looking back through reshapes (and ``also``)."""
        through = SHAPE_ONLY.union(also)
        while op.kind in through and len(op.inputs) == 1:
            op = self.ops[op.inputs[0]]
        return op

    def computed_by(self, op: Op) -> tuple[ModelGraph, Op]:
        """The op that computed ``op``'s values and the graph it is in: through reshapes, and
        into the model that a call in training code runs (``probs = policy(s)``: the policy's
        single output; ``logits, value = model(s)``: the output unpacked, an op whose
        ``attrs["output"]`` says which)."""
        graph, op = self, self.unshape(op)
        for _ in range(8):  # models calling models: bounded by the nesting
            index = op.attrs.get("output") if op.kind is OpKind.UNKNOWN and len(op.inputs) == 1 else None
            call = graph.unshape(graph.ops[op.inputs[0]]) if index is not None else op
            model = call.attrs.get("model_call")
            if not isinstance(model, ModelGraph) or (index is None and len(model.outputs) != 1):
                break
            index = index or 0
            if index >= len(model.outputs) or model.outputs[index] not in model.ops:
                break
            graph, op = model, model.unshape(model.ops[model.outputs[index]])
        return graph, op

    def passes_to_output(self, op: Op, through: Callable[[Op], bool]) -> bool:
        """True when ``op`` (or an op it reaches only via ``through`` ops) is a graph output."""
        if self.is_output(op):
            return True
        seen, stack = {op.id}, self.consumers(op)
        while stack:
            nxt = stack.pop()
            if nxt.id in seen or not through(nxt):
                continue
            seen.add(nxt.id)
            if self.is_output(nxt):
                return True
            stack.extend(self.consumers(nxt))
        return False
