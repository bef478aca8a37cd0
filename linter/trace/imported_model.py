"""A user's own ``nn.Module``, imported (``--trace-import``), speaking the IR's op ids.

Only ever used in the import subprocess. The IR knows each op by where the code writes it:
a layer by its constructor call (``nn.Linear(64, 10)`` in ``__init__``), a function or
operator by its call in ``forward`` (``F.relu(...)``, ``a + b``). The recorder ties the live
model to those places:

- while the model is constructed, every library module remembers the position (file, line,
  column) of the constructor call in the user's code that made it;
- while it runs, global module hooks catch each library layer's output (containers such as
  ``nn.Sequential`` are seen through, and nothing inside a library layer is recorded), and a
  ``TorchFunctionMode`` catches each torch function, tensor method and operator together with
  the position of the user's code that called it.

An op is measured when exactly one recorded value matches its place and name (or a layer
reused ``n`` times matches ``n`` ops in order); every other op is left out with the reason,
so its findings stay inconclusive rather than borrowing another op's numbers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nnlint.frontends import torch_api as api
from nnlint.ir import ModelGraph, Op, OpKind
from nnlint.trace.build import configured_shapes, input_spec, layer_params, spatial_candidates
from nnlint.trace.errors import CannotBuild, one_line

K = OpKind
Place = tuple[str, int, int]  # resolved file, 1-based line, 1-based column
Key = tuple[str, Place, str]  # ("layer" | "call", place, name)

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
#: Operator methods as torch reports them, by the name the IR gives the op.
_OPERATORS = {"add": "add", "radd": "add", "iadd": "add", "sub": "sub", "rsub": "sub", "isub": "sub",
              "mul": "mul", "rmul": "mul", "imul": "mul", "truediv": "div", "rtruediv": "div", "itruediv": "div",
              "div": "div", "matmul": "matmul", "rmatmul": "matmul", "getitem": "getitem"}


def call_name(name: str) -> str:
    """``__radd__`` -> ``add``, ``relu_`` -> ``relu``: one spelling for the IR and torch."""
    bare = name.strip("_")
    return _OPERATORS.get(bare, bare) if name.startswith("__") else bare


def op_key(op: Op, place: Place) -> Key:
    """How the recorder will see ``op``: a layer by its constructor, anything else by its call."""
    short = op.type_name.rsplit(".", 1)[-1]
    if api.canonical(op.type_name) in api.LAYERS:
        return "layer", place, short
    return "call", place, call_name(short)


class Recorder(TorchFunctionMode):
    """Where each library layer was built, and what each layer and call produced, by place."""

    def __init__(self, user_files: set[str]) -> None:
        super().__init__()
        self.user_files = user_files
        self.wanted: set[Key] = set()  # the places and names of the IR's ops: nothing else is kept
        self.built_at: dict[nn.Module, Place] = {}
        self.seen: dict[Key, list[tuple[Any, Optional[nn.Module]]]] = {}
        self._library: dict[type, bool] = {}
        self._depth = 0  # library layers entered: nothing inside one is the user's code
        self._recording = False

    # ------------------------------------------------------------------ construction

    def constructing(self) -> "_Patch":
        """While active, every ``nn.Module`` built remembers the user's constructor call."""
        recorder = self
        original = nn.Module.__init__

        def init(module: nn.Module, *args: Any, **kwargs: Any) -> None:
            original(module, *args, **kwargs)
            place = recorder._caller(sys._getframe(1))
            if place is not None and module not in recorder.built_at:
                recorder.built_at[module] = place

        return _Patch(nn.Module, "__init__", original, init)

    # ------------------------------------------------------------------ running

    def recording(self) -> "_Recording":
        return _Recording(self)

    def _pre_hook(self, module: nn.Module, args: Any) -> None:
        if self._recording and self._is_library(module):
            self._depth += 1

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if not self._recording or not self._is_library(module):
            return
        self._depth -= 1
        place = self.built_at.get(module)
        key = ("layer", place, type(module).__name__)
        if self._depth == 0 and key in self.wanted:
            self.seen.setdefault(key, []).append((_snapshot(output), module))

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        result = func(*args, **(kwargs or {}))
        if self._recording and self._depth == 0:
            name = getattr(func, "__name__", None)
            place = self._caller(sys._getframe(1)) if name else None
            key = ("call", place, call_name(name)) if place is not None else None
            if key in self.wanted:
                self.seen.setdefault(key, []).append((_snapshot(result), None))
        return result

    def _is_library(self, module: nn.Module) -> bool:
        """A layer whose class the user did not write (torch's, or a third party's), and not a
        container: it is one op in the IR, and its insides are not the user's code."""
        kind = type(module)
        if kind not in self._library:
            file = getattr(sys.modules.get(kind.__module__), "__file__", None)
            user = file is not None and str(Path(file).resolve()) in self.user_files
            self._library[kind] = not user and not issubclass(kind, _CONTAINERS)
        return self._library[kind]

    def _caller(self, frame: Any) -> Optional[Place]:
        """The position of the innermost call made from the user's files."""
        while frame is not None:
            file = frame.f_code.co_filename
            if file in self.user_files:
                return _position(frame)
            frame = frame.f_back
        return None


class _Patch:
    def __init__(self, owner: Any, name: str, original: Any, replacement: Any) -> None:
        self.owner, self.name, self.original, self.replacement = owner, name, original, replacement

    def __enter__(self) -> None:
        setattr(self.owner, self.name, self.replacement)

    def __exit__(self, *exc: Any) -> None:
        setattr(self.owner, self.name, self.original)


class _Recording:
    """Global module hooks and the function mode, for one forward pass."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.handles: list = []

    def __enter__(self) -> Recorder:
        recorder = self.recorder
        recorder.seen = {}
        recorder._depth = 0
        recorder._recording = True
        self.handles = [nn.modules.module.register_module_forward_pre_hook(recorder._pre_hook),
                        nn.modules.module.register_module_forward_hook(recorder._hook)]
        recorder.__enter__()
        return recorder

    def __exit__(self, *exc: Any) -> None:
        self.recorder.__exit__(*exc)
        self.recorder._recording = False
        for handle in self.handles:
            handle.remove()


_POSITIONS: dict[Any, list] = {}


def _position(frame: Any) -> Optional[Place]:
    """File, line and column of the instruction a frame is executing (Python 3.11+ keeps
    columns; before that the column is unknown, 0, and only the line can match)."""
    code = frame.f_code
    if not hasattr(code, "co_positions"):
        return code.co_filename, frame.f_lineno, 0
    if code not in _POSITIONS:
        _POSITIONS[code] = list(code.co_positions())
    line, _, column, _ = _POSITIONS[code][frame.f_lasti // 2]
    return (code.co_filename, line, column + 1) if line is not None and column is not None else None


def _snapshot(value: Any) -> Optional[torch.Tensor]:
    """The value as it is now: a later in-place op (``nn.ReLU(inplace=True)``, ``x += y``) must
    not rewrite what was recorded. ``clone`` keeps the autograd graph."""
    tensor = _first_tensor(value)
    return tensor.clone() if tensor is not None else None


def _first_tensor(value: Any) -> Optional[torch.Tensor]:
    """A layer's value as the IR sees it: an RNN's output, not its state."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value:
        return _first_tensor(value[0])
    return None


@dataclass
class Matching:
    """Which recorded values are which ops'."""

    values: dict[int, torch.Tensor] = field(default_factory=dict)
    layers: dict[int, nn.Module] = field(default_factory=dict)
    missing: dict[int, str] = field(default_factory=dict)  # op id -> why it has no value


class ImportedModel(nn.Module):
    """The interface :func:`~nnlint.trace.measure.measure` expects, over the user's module."""

    def __init__(self, module: nn.Module, graph: ModelGraph, recorder: Recorder, places: dict[int, Place],
                 device: torch.device, input_shape: Optional[list] = None) -> None:
        super().__init__()
        self.module = module
        self.graph = graph
        self.recorder = recorder
        self.device = device
        self.keys = {op_id: op_key(graph.ops[op_id], place) for op_id, place in places.items()}
        self.ops_at: dict[Key, list[int]] = {}  # the ops each recorded place and name may be, in order
        for op_id in sorted(self.keys):
            self.ops_at.setdefault(self.keys[op_id], []).append(op_id)
        recorder.wanted = set(self.ops_at)
        self.init_notes: dict[int, str] = {}
        shapes = configured_shapes(graph, input_shape)
        self.specs = {i: input_spec(graph, graph.ops[i], shapes.get(i)) for i in graph.inputs}
        self.to(device)
        self._layers: dict[int, nn.Module] = {}
        self.broken = self._fit_inputs(set(shapes))
        for op in graph.ops.values():
            if op.kind is not K.INPUT and op.id not in self.keys:
                self.broken[op.id] = f"{op.describe()} has no place in the code to find it by in the imported model"
        self.steps = {op_id: None for op_id in self.keys if op_id not in self.broken}

    def make_inputs(self, batch: int, generator: torch.Generator, scale: float = 1.0) -> dict[int, torch.Tensor]:
        return {i: spec.make(batch, generator, self.device, scale) for i, spec in self.specs.items()}

    def forward(self, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        matched = self._run(inputs)
        return {**inputs, **matched.values}

    def run_op(self, op_id: int, args: list[torch.Tensor]) -> Optional[torch.Tensor]:
        """The layer alone on an input of our choosing; None for a function (it has no weights)."""
        layer = self._layers.get(op_id)
        return _first_tensor(layer(args[0])) if layer is not None else None

    def params(self, op_id: int) -> list[nn.Parameter]:
        return layer_params(self._layers.get(op_id))

    def runnable_outputs(self) -> list[int]:
        return [i for i in self.graph.outputs if i in self.steps]

    # ------------------------------------------------------------------ matching

    def _run(self, inputs: dict[int, torch.Tensor]) -> Matching:
        with self.recorder.recording() as recorder:
            output = self.module(*(inputs[i] for i in self.graph.inputs))
        matched = self._match(recorder.seen)
        out = _first_tensor(output)
        if len(self.graph.outputs) == 1 and out is not None:  # what forward returns is the model's output
            matched.values[self.graph.outputs[0]] = out
            matched.missing.pop(self.graph.outputs[0], None)
        return matched

    def _match(self, seen: dict[Key, list]) -> Matching:
        matched = Matching()
        for key, op_ids in self.ops_at.items():
            found = seen.get(key, [])
            where = f"{Path(key[1][0]).name}:{key[1][1]}"
            if not found:
                for op_id in op_ids:
                    matched.missing[op_id] = (f"{self.graph.ops[op_id].describe()} ({where}) was not seen running "
                                              f"in the imported model's forward")
                continue
            if len(found) != len(op_ids):
                for op_id in op_ids:
                    matched.missing[op_id] = (f"{self.graph.ops[op_id].describe()} ({where}) ran {len(found)} times "
                                              f"for {len(op_ids)} op(s) in the analysis: which run is which is unknown")
                continue
            for op_id, (value, layer) in zip(op_ids, found):
                if value is None:
                    matched.missing[op_id] = f"{self.graph.ops[op_id].describe()} ({where}) returned no tensor"
                    continue
                matched.values[op_id] = value
                if layer is not None:
                    matched.layers[op_id] = layer
        return matched

    def _fit_inputs(self, configured: set[int]) -> dict[int, str]:
        """A dry run (batch 2, eval, no grad) at the first spatial size the model accepts; the
        ops it never matched are left out, with the reason."""
        error = None
        for specs in spatial_candidates(self.specs, configured):
            self.specs = specs
            self.eval()
            try:
                with torch.no_grad():
                    matched = self._run(self.make_inputs(2, torch.Generator().manual_seed(0)))
            except Exception as exc:  # the shape does not fit: try the next size
                error = exc
                continue
            finally:
                self.train()
            self._layers = matched.layers
            return matched.missing
        raise CannotBuild(f"the imported {self.graph.name} fails on every input the trace tried "
                          f"({type(error).__name__}: {one_line(error)}); set input-shape in "
                          f"[tool.nnlint.trace.models.{self.graph.name}]")
