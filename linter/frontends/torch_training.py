"""The training code around a model: losses, optimizers, data, inits and the loop itself.

The half of the PyTorch frontend that reads what the code does *with* a model: which loss it
is trained with (and what the code applies between the model and the loss), optimizers and
their hyperparameters, data loaders and raw data, init calls, argparse defaults, and per unit
of code the gradient events (``backward``, ``step``, ``zero_grad``), ``no_grad`` contexts and
the model's train/eval mode that the loop rules judge. :class:`TorchInterpreter` builds on it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

import libcst as cst
from nnlint.cst_walk import walk
from nnlint.frontends import lr_schedules as lrs
from nnlint.frontends import torch_api as api
from nnlint.frontends.interpreter import LOOP, UNKNOWN, Frame, Interpreter, origin_of
from nnlint.frontends.names import call_argument, dotted, identifier_words
from nnlint.frontends.program import Program, is_training_loader, loss_record
from nnlint.frontends.project import ModuleInfo, Project
from nnlint.frontends.values import (
    ArgParser,
    Bound,
    ClassRef,
    Dataset,
    External,
    FunctionRef,
    Instance,
    Layer,
    Loader,
    Loss,
    NoGrad,
    Optimizer,
    Param,
    Parameters,
    Pretrained,
    RawData,
    Tensor,
    Transforms,
)
from nnlint.ir import ModelGraph, OpKind, Origin
from nnlint.ir.kinds import SHAPE_ONLY


class TrainingCode(Interpreter):
    def __init__(self, project: Project, entry: ModuleInfo, program: Program) -> None:
        super().__init__(project, entry)
        self.program = program
        self._recorded: set[tuple[int, str]] = set()
        self.assign_names: dict[int, str] = {}  # id(call node) -> the names it is assigned to
        self.no_grad = 0  # > 0 inside torch.no_grad() / inference_mode()
        self.phases: list[str] = []  # the evaluation phases being run: for phase in ("train", "val")
        #: id(parameter value) -> (the value, "train"/"eval"): net.train() on a parameter; the value
        #: is kept so that its id cannot be reused by another object while the analysis runs
        self.param_modes: dict[int, tuple[Any, str]] = {}
        self.events = _Events()  # what the current unit of training code does
        self.quiet_blocks: list[_QuietBlock] = []  # the no_grad blocks being run, innermost last
        #: backward()/step() calls seen, and models handed to code not followed (which may train them)
        self.training_steps = 0
        self.data_loops = 0  # > 0 while running the body of a loop over a data loader or held-out data
        #: id(model) -> (the model, ``training_steps`` when the code last put it in train()); the
        #: model is kept so that its id cannot be reused by another object during the analysis
        self.train_chosen: dict[int, tuple[Any, int]] = {}
        self._optimizers: dict[int, dict] = {}  # id(constructor call) -> its optimizer record

    def record_once(self, node: cst.CSTNode, tag: str = "") -> bool:
        """True the first time a fact (``tag``) is recorded for a node, False after."""
        key = (id(node), tag)
        if key in self._recorded:
            return False
        self._recorded.add(key)
        return True

    def note_training(self, func: Any, args: list, kwargs: dict) -> None:
        """Whether a call shows that the program trains something (``Program.trains``): a
        training method (``backward``, ``step``, ``fit``, ``minimize``...) on any object, a loss
        or optimizer from any library, or a model handed to a function nnlint does not follow
        (a trainer, a ``train(model)`` imported from elsewhere)."""
        if isinstance(func, External) and not func.qualname.startswith(("builtins.", "math.", "torch.")) and any(
                isinstance(v, (Instance, Pretrained)) or isinstance(v, Layer) and v.graph is not None
                for v in [*args, *kwargs.values()]):
            self.hands_model_away()
        if self.program.trains:
            return
        if isinstance(func, Bound):
            self.program.trains = func.name in _TRAINING_METHODS
        elif isinstance(func, External) and not func.qualname.startswith(("builtins.", "math.")):
            parts = func.qualname.split(".")
            self.program.trains = bool(_TRAINING_MODULES.intersection(parts[:-1])) or parts[-1] in _TRAINING_METHODS \
                or parts[-1].endswith(("Loss", "Optimizer", "Trainer", "GradientTape")) \
                or any(isinstance(v, (Instance, Pretrained)) or isinstance(v, Layer) and v.graph is not None
                       for v in [*args, *kwargs.values()])

    def gave_up(self) -> None:
        self.events.complete = False
        self.program.trains = True  # code not followed may train
        self.hands_model_away()

    def hands_model_away(self) -> None:
        """Hook: a model goes to code nnlint does not follow (which may train it its own way)."""

    def note_call_keywords(self, kwargs: dict) -> None:
        """``Trainer(gradient_clip_val=0.25)`` and kin: the code clips gradients somewhere.
        ``Trainer(fast_dev_run=True)``, or one batch of one epoch (``limit_train_batches=1,
        max_epochs=1``, or ``max_steps=1``): training sees a single batch."""
        if any(k in _CLIP_KEYWORDS and v not in (None, 0, UNKNOWN) for k, v in kwargs.items()):
            self.program.clips_gradients = True
        if kwargs.get("fast_dev_run") is True or kwargs.get("max_steps") == 1 \
                or kwargs.get("limit_train_batches") == 1 and kwargs.get("max_epochs") == 1:
            self.program.one_batch = True

    # ------------------------------------------------------------------ losses, optimizers, data

    def use_loss(self, loss: Loss, args: list, node: cst.CSTNode, frame: Frame) -> None:
        """A loss applied to a prediction: tie it to the model that produced the prediction."""
        self.evaluates()
        pred = args[0] if args else UNKNOWN
        record = loss_record(loss.qualname, loss.task, Origin(loss.path, loss.node))
        target = args[1] if len(args) > 1 else None
        arguments, names = self._arguments_of(pred) if isinstance(pred, Tensor) else ([], [])
        target_name = dotted(node.args[1].value) if isinstance(node, cst.Call) and len(node.args) > 1 else None
        if (isinstance(target, (Tensor, RawData)) and any(target is a for a in arguments)) \
                or (target_name and target_name in names):
            record["reconstruction"] = True
        if isinstance(pred, Tensor) and pred.model is not None:
            self._attach(pred.model, record)
        elif isinstance(pred, Tensor) and not pred.graph.is_model and self._derived_from_model(pred):
            applied = self._applied_activation(pred)
            if applied is not None:  # loss(torch.sigmoid(model(x)), y): the model plus one activation
                activation, model = applied
                record["applied"] = activation
                self._attach(model, record)
            # otherwise the prediction was transformed in ways we do not follow: tie it to nothing
        elif isinstance(pred, Tensor) and pred.graph is frame.graph and (
                pred.graph.is_model or not self._derived_from_model(pred)):
            # a loss computed inside a module's forward (a model that returns its loss, a loss
            # module) or in a loss helper on its parameters (def loss_fn(logits, y)): what it
            # receives is the op that computed ``pred`` in that graph
            record["input"] = pred.op
            self._attach(pred.graph, record)
        elif self.record_once(loss.node):
            self.program.setup.losses.append(record)

    @staticmethod
    def _arguments_of(t: Tensor) -> tuple[list, list]:
        """(values, plain names) of the arguments of the model call ``t`` comes from (through reshapes)."""
        op = t.graph.ops[t.op]
        for _ in range(8):
            if op.attrs.get("model_call") and "arguments" in op.attrs:
                return op.attrs["arguments"], op.attrs["argument_names"]
            if len(op.inputs) != 1:
                return [], []
            op = t.graph.ops[op.inputs[0]]
        return [], []

    @staticmethod
    def _attach(model: ModelGraph, record: dict) -> None:
        if all(r["origin"].node is not record["origin"].node for r in model.setup.losses):
            model.setup.losses.append(record)

    @staticmethod
    def _applied_activation(t: Tensor) -> Optional[tuple[Any, ModelGraph]]:
        """(activation op, model) when ``t`` is one activation applied to a model's output."""
        graph = t.graph
        op = graph.unshape(graph.ops[t.op])
        if op.kind not in _APPLIED or len(op.inputs) != 1:
            return None
        model = graph.unshape(graph.ops[op.inputs[0]]).attrs.get("model_call")
        return (op, model) if isinstance(model, ModelGraph) else None

    @staticmethod
    def _derived_from_model(t: Tensor) -> bool:
        graph, stack, seen = t.graph, [t.op], set()
        while stack:
            op = graph.ops[stack.pop()]
            if op.id in seen:
                continue
            seen.add(op.id)
            if op.attrs.get("model_call"):
                return True
            stack.extend(op.inputs)
        return False

    def record_loader(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if not self.record_once(node):
            return next((Loader(r) for r in self.program.setup.loaders if r["origin"].node is node), UNKNOWN)
        dataset = kwargs.get("dataset", args[0] if args else UNKNOWN)
        self.raw_sink([dataset, self._sample_of(dataset, frame)], node, frame, "a DataLoader")
        unknown_kwargs = "**" in kwargs
        batch_size = kwargs.get("batch_size", args[1] if len(args) > 1 else (UNKNOWN if unknown_kwargs else 1))
        shuffle = kwargs.get("shuffle", args[2] if len(args) > 2 else (UNKNOWN if unknown_kwargs else False))
        sampler = kwargs.get("sampler", kwargs.get("batch_sampler"))
        record = {
                "origin": origin_of(frame, node),
                "batch_size": batch_size,
                "shuffle": shuffle,
                "shuffle_given": "shuffle" in kwargs or len(args) > 2,
                "sampler": sampler is not None,
                "drop_last": kwargs.get("drop_last", UNKNOWN if unknown_kwargs else False),
                "dataset": dataset,
                "map_style": self._map_style(dataset),
                "name": self._current_target(node),
                "dataset_names": _names_in(call_argument(node, 0, "dataset")) | _names_in(getattr(dataset, "node", None)),
                "trains": False,  # a loop over it runs backward()
            }
        self.program.setup.loaders.append(record)
        return Loader(record)

    def loop_over(self, value: Any, run: Any, source: Optional[cst.BaseExpression] = None) -> None:
        """``for x, y in loader:`` with ``backward()`` in the body: the loader feeds training.
        Under no_grad, a loop over evaluation data (a loader that is not for training, or one
        named for validation or testing: ``val_loader``, ``enumerate(tqdm(test_dl))``) evaluates."""
        held_out = evaluation_data(value, source)
        if self.quiet_blocks and held_out:
            self.evaluates()
        if held_out or isinstance(value, Loader):
            self.data_loops += 1  # a loop over data, not repeated draws (see call_mode)
            try:
                return self._loop_over_data(value, run, source)
            finally:
                self.data_loops -= 1
        return super().loop_over(value, run, source)

    def _loop_over_data(self, value: Any, run: Any, source: Optional[cst.BaseExpression]) -> None:
        if not isinstance(value, Loader):
            return super().loop_over(value, run, source)
        before, self.events.backward = self.events.backward, False
        try:
            run()
        finally:
            if self.events.backward:
                value.record["trains"] = True
            self.events.backward = self.events.backward or before

    def _sample_of(self, dataset: Any, frame: Frame) -> Any:
        """The input a project ``Dataset`` class's ``__getitem__`` returns (its first element)."""
        if not isinstance(dataset, Instance) or not isinstance(dataset.cls.lookup("__getitem__"), FunctionRef):
            return UNKNOWN
        item = self.call_function(dataset.cls.lookup("__getitem__"), [dataset, UNKNOWN], {}, frame)
        if isinstance(item, (tuple, list)) and item:
            item = item[0]
        return item if isinstance(item, RawData) else UNKNOWN

    def record_optimizer(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """An optimizer with its hyperparameters, on its model when ``model.parameters()`` says which."""
        if not self.record_once(node):
            return Optimizer(self._optimizers.get(id(node), {"type_name": qualname}))
        params = kwargs.get("params", args[0] if args else UNKNOWN)
        record = {
            "type_name": qualname,
            "origin": origin_of(frame, node),
            "lr": kwargs.get("lr", args[1] if len(args) > 1 else None),  # None: the optimizer's default
            "momentum": kwargs.get("momentum"),
            "weight_decay": kwargs.get("weight_decay"),
            "nesterov": kwargs.get("nesterov"),
        }
        self._optimizers[id(node)] = record  # the same optimizer when this code runs again
        if self._plain_tensors(node.args[0].value if node.args and node.args[0].keyword is None else None, frame):
            record["tensors"] = True  # [latent] + noises, [input_img]: plain tensors, not a model's weights
        if isinstance(params, Parameters) and params.layer is not None:
            record["param_layer"] = params.layer.kind  # one bare layer: a model of one layer
            self.program.setup.optimizers.append(record)
        elif isinstance(params, Parameters) and params.graph is not None:
            params.graph.setup.optimizers.append(record)
        else:
            self.program.setup.optimizers.append(record)
        return Optimizer(record)

    def _plain_tensors(self, expr: Optional[cst.BaseExpression], frame: Frame) -> bool:
        """Whether an optimizer's params are tensors of their own, not a model's parameters: a
        list of them (``[image]``), or such lists joined with ``+`` to lists we cannot see into."""
        parts: list[cst.BaseExpression] = []
        while isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            parts.append(expr.right)
            expr = expr.left
        if expr is None or not all(isinstance(p, (cst.List, cst.Tuple, cst.Name, cst.Attribute)) for p in [expr, *parts]):
            return False  # evaluate again only what has no effects
        values = [self.eval(part, frame) for part in [expr, *parts]]
        lists = [v for v in values if isinstance(v, (list, tuple))]
        weights = (Parameters, Param, dict, Layer, Instance)
        return bool(lists) and any(lists) and all(v is UNKNOWN for v in values if not isinstance(v, (list, tuple))) \
            and not any(isinstance(item, weights) for v in lists for item in v)

    def _map_style(self, dataset: Any) -> bool:
        """A data set known to be indexable (so shuffle=True is possible): not an iterable one."""
        if isinstance(dataset, Dataset):
            return True
        cls = dataset.cls if isinstance(dataset, Instance) else None
        return cls is not None and self._derives(cls, api.MAP_DATASETS)

    def _derives(self, cls: ClassRef, bases: set[str]) -> bool:
        for base in cls.bases:
            if isinstance(base, External) and base.qualname in bases:
                return True
            if isinstance(base, ClassRef) and self._derives(base, bases):
                return True
        return False

    def _current_target(self, node: cst.CSTNode) -> str:
        return self.assign_names.get(id(node), "")

    def exec_small(self, small: cst.CSTNode, frame: Frame) -> None:
        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
            names = " ".join(t.target.value for t in small.targets if isinstance(t.target, cst.Name))
            names += " ".join(t.target.attr.value for t in small.targets if isinstance(t.target, cst.Attribute))
            if names:
                self.assign_names[id(small.value)] = names
        super().exec_small(small, frame)

    def make_dataset(self, name: str, args: list, kwargs: dict, node: cst.Call) -> Any:
        split = kwargs.get("split")
        default = True if name in api.IMAGE_DATASETS and split is None else UNKNOWN
        train = kwargs.get("train", args[1] if len(args) > 1 and split is None else (split == "train" if isinstance(split, str) else default))
        sizes = api.IMAGE_DATASETS.get(name)
        size = None
        if sizes and isinstance(train, bool) and sizes[0]:
            size = sizes[0] if train else sizes[1]
        transform = kwargs.get("transform", args[2] if len(args) > 2 else None)
        return Dataset(name, size, train if isinstance(train, bool) else None, transform, node)

    def make_transform(self, name: str, args: list, kwargs: dict, node: cst.Call) -> Any:
        if name == "Compose":
            names: list[str] = []
            unscaled = False
            for item in (args[0] if args and isinstance(args[0], list) else []):
                if isinstance(item, Transforms):
                    names.extend(item.names)
                    unscaled = unscaled or item.unscaled_cast
                else:
                    names.append("?")
            if not args or not isinstance(args[0], list):
                names = ["?"]
            return Transforms(names, node, unscaled)
        if name == "ToDtype":
            scale = kwargs.get("scale", args[1] if len(args) > 1 else False)
            dtype = args[0] if args else kwargs.get("dtype")
            is_float = isinstance(dtype, External) and dtype.qualname in ("torch.float32", "torch.float", "torch.float16", "torch.float64")
            if scale is True:
                return Transforms(["ToDtype(scale)"], node)
            return Transforms(["ToDtype"], node, unscaled_cast=is_float and scale is False)
        return Transforms([name], node)

    def raw_sink(self, values: list, node: cst.CSTNode, frame: Frame, sink: str) -> None:
        for value in values:
            if isinstance(value, RawData):
                self.raw_reaches(value, node, frame, sink)
            elif isinstance(value, Dataset) and isinstance(value.transform, Transforms):
                t = value.transform
                if t.unscaled_cast and not any(n in api.SCALING_TRANSFORMS or n == "ToDtype(scale)" for n in t.names) \
                        and "?" not in t.names and any(n in api.RAW_TRANSFORMS for n in t.names):
                    raw = RawData(f"{value.name} images through {' -> '.join(t.names)} (float 0-255)", t.node,
                                  frame.module.path, bounds=(0, 255), by=f"{value.name} through {' -> '.join(t.names)}")
                    self.raw_reaches(raw, t.node, frame, sink)

    def raw_reaches(self, raw: RawData, node: Optional[cst.CSTNode], frame: Frame, sink: str,
                    model: Optional[ModelGraph] = None, input_op: Optional[int] = None) -> None:
        """``raw`` reaches ``sink`` (at ``node``); ``input_op``: the model's input it is fed to,
        where the model has several (a TF1 graph's placeholders)."""
        if node is None or not self.record_once(node, "raw"):
            return
        self.program.raw_inputs.append(
            {"what": raw.what, "origin": Origin(raw.path, raw.node), "sink": sink, "at": origin_of(frame, node),
             "guess": raw.guess, "model": model, "range": raw.bounds, "loaded_by": raw.by, "input": input_op}
        )

    def init_call(self, fn: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        if fn in _DEPRECATED_INITS:
            fn += "_"  # nn.init.constant, init.xavier_uniform: torch's old spellings, same functions
        target = args[0] if args else kwargs.get("tensor", UNKNOWN)
        if isinstance(target, Param):
            self.record_init(target, fn, args[1:], kwargs, node, frame)

    def record_init(self, param: Param, fn: str, args: list, kwargs: dict, node: cst.Call, frame: Frame,
                    tensor_method: bool = False) -> None:
        if not isinstance(param.layer, Layer):
            return
        # certain where no branch of unknown condition is open, or only those the layer was built
        # in: then the init runs wherever the layer exists (the fresh-model side of an ``if load:``)
        certain = self.uncertain == 0 or (bool(param.layer.branches) and param.layer.branches == self.open_branches())
        param.layer.inits.append(
            {"fn": fn, "param": param.name, "args": list(args), "kwargs": dict(kwargs),
             "origin": origin_of(frame, node), "method": tensor_method, "certain": certain}
        )

    def add_argument(self, parser: ArgParser, args: list, kwargs: dict) -> None:
        names = [a for a in args if isinstance(a, str)]
        dest = kwargs.get("dest")
        if not isinstance(dest, str):
            longs = [n for n in names if n.startswith("--")]
            chosen = longs[0] if longs else (names[0] if names else None)
            if chosen is None:
                return
            dest = chosen.lstrip("-").replace("-", "_")
        action = kwargs.get("action")
        if "default" in kwargs:
            default = kwargs["default"]
            kind = kwargs.get("type")
            if isinstance(default, str) and isinstance(kind, External) and kind.qualname in ("builtins.int", "builtins.float"):
                try:  # argparse passes string defaults through type=
                    default = int(default) if kind.qualname == "builtins.int" else float(default)
                except ValueError:
                    default = UNKNOWN
        elif action == "store_true":
            default = False
        elif action == "store_false":
            default = True
        else:
            default = None
        parser.defaults[dest] = default

    # ------------------------------------------------------------------ the loop

    def exec_with(self, contexts: list, body: Any, frame: Frame) -> None:
        quiet = any(isinstance(c, NoGrad) for c in contexts)
        self.no_grad += quiet
        if quiet:
            self.quiet_blocks.append(_QuietBlock(len(frame.returns)))
        try:
            super().exec_with(contexts, body, frame)
        finally:
            self.no_grad -= quiet
            if quiet:
                self._close_quiet_block(frame)

    def run_iteration(self, item: Any, body: Any, frame: Frame) -> None:
        """``for phase in ("train", "val"):``: the iteration named for evaluation evaluates."""
        phase = isinstance(item, str) and item.lower() in _EVAL_PHASES
        if phase:
            self.phases.append(item)
        try:
            super().run_iteration(item, body, frame)
        finally:
            if phase:
                self.phases.pop()

    def evaluation(self, args: list) -> Optional[str]:
        """How the code says a model call evaluates: under no_grad, in a phase named for
        evaluation, on ``Variable(x, volatile=True)`` (PyTorch < 0.4's no_grad); None if it does not."""
        if self.no_grad:
            return "under no_grad"
        if self.phases:
            return f"in the {self.phases[-1]!r} phase"
        if any(isinstance(a, Tensor) and _volatile(a) for a in args):
            return "on volatile Variables (no_grad)"
        return None

    def run_function(self, node: cst.FunctionDef, frame: Frame) -> Any:
        quiet = any((dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
                    .endswith(("no_grad", "inference_mode")) for d in node.decorators)
        self.no_grad += quiet
        if quiet:
            self.quiet_blocks.append(_QuietBlock(0))
        try:
            return super().run_function(node, frame)
        finally:
            self.no_grad -= quiet
            if quiet:
                self._close_quiet_block(frame)

    def evaluates(self) -> None:
        """The code under no_grad scores the model (a loss, a metric): it is an evaluation."""
        for block in self.quiet_blocks:
            block.evaluates = True

    def train_mode_call(self, record: dict) -> None:
        """A model with dropout/batch norm called under no_grad in training mode: a finding only
        if the no_grad block turns out to evaluate it (decided when the block ends)."""
        if self.quiet_blocks:
            self.quiet_blocks[-1].calls.append(record)

    def _close_quiet_block(self, frame: Frame) -> None:
        """A no_grad block that computed a loss or a metric, or returns tensors (predictions),
        evaluates; one that only samples, generates inputs for another model or updates an
        average does not. An inner block's calls are judged with the block around it."""
        block = self.quiet_blocks.pop()
        if any(isinstance(v, Tensor) for v in frame.returns[block.returns:]):
            block.evaluates = True
        if block.evaluates:
            self.program.train_mode_evaluations.extend(block.calls)
        elif self.quiet_blocks:
            self.quiet_blocks[-1].calls.extend(block.calls)

    def lr_scheduler(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        """``LambdaLR(opt, ...)``, ``OneCycleLR(opt, max_lr=...)``: the optimizer's own lr is not used."""
        optimizer = kwargs.get("optimizer", args[0] if args else UNKNOWN)
        peak = lrs.TORCH_OVERRIDES[qualname]
        max_lr = kwargs.get(peak[0], args[peak[1]] if len(args) > peak[1] else None) if peak else None
        fn = lrs.function_node(kwargs.get("lr_lambda", args[1] if len(args) > 1 else UNKNOWN), node, 1, "lr_lambda")
        sweep = peak is None and lrs.shape(fn, lr_param=False)[1]
        self.add_lr_schedule(optimizer, qualname.rsplit(".", 1)[-1], node, frame, sweep, max_lr)

    def add_lr_schedule(self, optimizer: Any, how: str, node: cst.CSTNode, frame: Frame, sweep: bool,
                        max_lr: Any = None) -> None:
        if self.record_once(node, "lr schedule"):
            records = [optimizer.record] if isinstance(optimizer, Optimizer) else None
            self.program.lr_schedules.append(lrs.record(records, how, origin_of(frame, node), sweep, max_lr))

    def assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Attribute) and target.attr.value == "grad":
            self.events.clear(None, self.branch_path)  # p.grad = None clears gradients by hand
        if self.quiet_blocks and isinstance(target, (cst.Name, cst.Tuple, cst.List)) and _scores(target):
            self.evaluates()  # _, loss = model(x, targets); val_acc = ...: a loss or metric, named as one
        if isinstance(target, cst.Subscript) and self.subscript_key(target, frame) == "lr":
            groups = self.eval(target.value, frame)  # opt.param_groups[0]["lr"] = ..., g["lr"] = ... in a loop
            if isinstance(groups, Bound) and groups.name == "param_groups":
                self.add_lr_schedule(groups.obj, "param_groups[...]['lr'] assignment", target, frame, False)
        super().assign(target, value, frame)

    def set_mode(self, model: Any, mode: Optional[str]) -> None:
        """``model.train()`` / ``model.eval()``: remember when the code chose training mode."""
        model.mode = mode
        if mode == "train":
            self.train_chosen[id(model)] = (model, self.training_steps)
        else:
            self.train_chosen.pop(id(model), None)

    def call_mode(self, model: Any) -> Optional[str]:
        """The mode a call of ``model`` is judged in; None when the code chose it on purpose.

        ``model.train()`` with no training step since, then the model called in a loop of draws
        (not over data batches): the code
        samples a model with its dropout on (Monte-Carlo dropout), it did not forget eval()."""
        if model.mode == "train" and self.loops and not self.data_loops \
                and self.train_chosen.get(id(model), (None, None))[1] == self.training_steps:
            return None
        return model.mode

    def unit(self, run: Any) -> None:
        """Run one unit of code (the module, or a function nothing called) and judge its loop."""
        outer, self.events = self.events, _Events()
        try:
            run()
        finally:
            events, self.events = self.events, outer
            if events.backward and events.complete:
                self.program.uncleared_steps.extend(events.uncleared())


class _QuietBlock:
    """A ``torch.no_grad()`` block (or decorated function) while it runs."""

    def __init__(self, returns: int) -> None:
        self.returns = returns  # how many values the frame had returned when the block began
        self.evaluates = False
        self.calls: list[dict] = []  # train-mode model calls waiting for the verdict


class _Events:
    """What one unit of training code does to gradients.

    Each step and each clearing remembers the optimizer (its record; None for a clearing of
    every gradient: ``model.zero_grad()``, ``p.grad = None``, an object nnlint cannot see) and
    the branches it ran in. A step is cleared by a clearing of its optimizer (or of everything)
    on a path that can run with it: not in another branch of the same ``if``. A step of an
    object nnlint cannot see is cleared by any clearing, since it may be any optimizer.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[dict, Any, dict]] = []  # (finding record, optimizer, branches)
        self.clearings: list[tuple[Any, dict]] = []  # (optimizer or None, branches)
        self.backward = False
        self.complete = True  # False when a call was not followed: a zero_grad may hide there

    def step(self, optimizer: Any, origin: Origin, path: list, shown: str) -> None:
        self.steps.append(({"origin": origin, "optimizer": shown}, optimizer, dict(path)))

    def clear(self, optimizer: Optional[dict], path: list) -> None:
        self.clearings.append((optimizer, dict(path)))

    def uncleared(self) -> list[dict]:
        """The steps no clearing covers; of the objects nnlint cannot see, only the first in
        its loop, and none in a loop where a known optimizer's step is reported (after
        ``opt.step()`` may come ``scheduler.step()``, which is no optimizer)."""
        found, loops = [], set()
        steps = sorted(self.steps, key=lambda s: s[1] is UNKNOWN)  # known optimizers first
        for record, optimizer, path in steps:
            if any(_same_path(path, where) and (which is None or which is optimizer or optimizer is UNKNOWN)
                   for which, where in self.clearings):
                continue
            loop = next((key for key, branch in reversed(path.items()) if branch == LOOP), None)
            if optimizer is UNKNOWN and loop in loops:
                continue
            loops.add(loop)
            found.append(record)
        return found


def _same_path(step: dict, clearing: dict) -> bool:
    """A clearing runs with a step: inside every loop around the step (a clearing in another
    loop, or once before it, does not clear each iteration), and no ``if`` puts them in
    different branches."""
    return all(clearing.get(key) == branch if branch == LOOP else key not in clearing or clearing[key] == branch
               for key, branch in step.items())


def _volatile(t: Tensor) -> bool:
    """``Variable(x, volatile=True)``, moved or reshaped since (``.cuda()``, ``.view(...)``)."""
    op = t.graph.ops[t.op]
    for _ in range(16):
        if op.attrs.get("volatile"):
            return True
        if op.kind not in SHAPE_ONLY or len(op.inputs) != 1:
            return False
        op = t.graph.ops[op.inputs[0]]
    return False


def _names_in(node: Optional[cst.CSTNode]) -> set[str]:
    """Dotted names mentioned in an expression (``TensorDataset(torch.tensor(X_train), y)``:
    X_train, y, ...), to tie ``batch_size=len(X_train)`` to the data set built from it."""
    if node is None:
        return set()
    names: set[str] = set()
    for n in walk([node]):
        if isinstance(n, cst.Name):
            names.add(n.value)
        elif isinstance(n, cst.Attribute):
            name = dotted(n)
            if name:
                names.add(name)
    return names


def truthy(value: Any) -> bool:
    return bool(value) if isinstance(value, (bool, int, float, str, type(None))) else True


#: Names of the evaluation phase in ``for phase in ("train", "val")`` loops.
_EVAL_PHASES = frozenset({"val", "valid", "validation", "test", "eval", "evaluation", "dev"})

#: Activations the training code may apply between a model and its loss.
_APPLIED = {OpKind.SIGMOID, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.RELU, OpKind.TANH, OpKind.SOFTPLUS}

#: nn.init's deprecated names without the trailing underscore (they still work, with a warning).
_DEPRECATED_INITS = frozenset(
    "uniform normal constant xavier_uniform xavier_normal kaiming_uniform kaiming_normal orthogonal sparse eye dirac".split())

#: Methods that train (or set up training) whatever object they are called on.
_TRAINING_METHODS = frozenset({"backward", "step", "fit", "fit_generator", "train_on_batch", "compile", "minimize",
                               "apply_gradients", "gradient", "train_step", "training_step"})
#: Module path parts under which libraries keep losses and optimizers.
_TRAINING_MODULES = frozenset({"optim", "optimizers", "losses", "loss", "train", "optimizer"})

_CLIP_KEYWORDS = {"gradient_clip_val", "max_grad_norm", "clip_grad_norm", "grad_clip", "clip_norm"}


def evaluation_data(value: Any, source: Optional[cst.BaseExpression]) -> bool:
    """An iterable or batch of evaluation data: a loader known not to feed training, or one
    whose name (under ``enumerate``/``tqdm``/``iter`` wrappers) says validation or testing."""
    if isinstance(value, Loader) and is_training_loader(value.record) is False:
        return True
    while isinstance(source, cst.Call) and source.args:  # enumerate(tqdm(val_loader)), iter(dl)
        source = source.args[0].value
    name = (dotted(source) or "") if source is not None else ""
    words = identifier_words(name.rsplit(".", 1)[-1])
    return bool(words & _HELD_OUT) and "train" not in words


#: Words that name held-out data: ``val_loader``, ``x_test``, ``validLoader``, ``dev_batches``.
_HELD_OUT = {"val", "valid", "validation", "test", "testing", "eval", "evaluation", "dev", "holdout", "heldout"}


def _scores(target: cst.BaseExpression) -> bool:
    """An assignment target named as a loss or a metric (``loss``, ``val_acc``, ``n_correct``)."""
    names = [target] if isinstance(target, cst.Name) else [e.value for e in target.elements]  # type: ignore[attr-defined]
    return any(isinstance(name, cst.Name) and _names_a_score(name.value) for name in names)


@lru_cache(maxsize=4096)
def _names_a_score(name: str) -> bool:
    return bool(identifier_words(name) & _SCORE_WORDS)


#: Words that name a loss or a metric of predictions.
_SCORE_WORDS = {"loss", "losses", "acc", "accuracy", "correct", "error", "err", "metric", "metrics", "score",
                "ppl", "perplexity", "precision", "recall", "auc", "mse", "mae", "nll", "bleu"}
