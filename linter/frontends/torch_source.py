"""The PyTorch frontend: Python source -> model graphs and training setup.

It teaches the abstract interpreter torch's API (tables in :mod:`torch_api`): constructing
a layer gives a :class:`Layer`; calling a model on symbolic tensors builds its
:class:`ModelGraph` op by op, inlining submodules, ``nn.Sequential`` and ``nn.ModuleList``
loops; losses, data loaders, init calls and raw data sets are recorded as they are met.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

from nnlint.frontends import torch_api as api
from nnlint.frontends.names import dotted
from nnlint.frontends.interpreter import (
    UNKNOWN,
    BudgetExceeded,
    Frame,
    Interpreter,
    is_static,
    origin_of,
)
from nnlint.frontends.program import Program, loss_record
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
    Loss,
    Namespace,
    NoGrad,
    Optimizer,
    Param,
    Parameters,
    RawData,
    Tensor,
    Transforms,
)
from nnlint.ir import ModelGraph, OpKind, Origin

_TORCHVISION_DATASETS = ("torchvision.datasets.", "torchvision.datasets.mnist.", "torchvision.datasets.cifar.")
_TRANSFORM_PREFIXES = ("torchvision.transforms.v2.", "torchvision.transforms.")
_SCALERS = {"StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "Normalizer", "scale", "normalize",
            "minmax_scale", "robust_scale", "maxabs_scale", "QuantileTransformer", "PowerTransformer"}
_RAW_TABULAR = {"sklearn.datasets.fetch_california_housing": "California housing features (raw units)"}
_TO_TENSOR = {"torch.tensor", "torch.from_numpy", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor",
              "numpy.array", "numpy.asarray", "numpy.float32"}


class TorchInterpreter(Interpreter):
    def __init__(self, project: Project, entry: ModuleInfo, program: Program) -> None:
        super().__init__(project, entry)
        self.program = program
        self._recorded: set[tuple[int, str]] = set()
        self.class_instances: dict[str, Instance] = {}
        self.assign_names: dict[int, str] = {}  # id(call node) -> the names it is assigned to
        self.no_grad = 0  # > 0 inside torch.no_grad() / inference_mode()
        self.call_arguments: dict[int, list[int]] = {}  # model-call op -> id() of its arguments
        self.call_argument_names: dict[int, list] = {}  # model-call op -> its arguments' plain names
        self.events = _Events()  # what the current unit of training code does

    # ------------------------------------------------------------------ helpers

    def record_once(self, node: cst.CSTNode, tag: str = "") -> bool:
        """True the first time a fact (``tag``) is recorded for a node, False after."""
        key = (id(node), tag)
        if key in self._recorded:
            return False
        self._recorded.add(key)
        return True

    def star_provides(self, module: str, name: str) -> bool:
        qualname = f"{module}.{name}"
        return any(qualname in table for table in (api.LAYERS, api.CONTAINERS, api.FUNCTIONS, api.LOSSES))

    def missing_param(self, name: str, frame: Frame) -> Any:
        """Unbound parameters of code (``forward``, ``train``) may be tensors; of constructors, not."""
        if name in ("self", "cls") or frame.name == "__init__":
            return UNKNOWN
        op = frame.graph.add(OpKind.INPUT, name)
        return Tensor(frame.graph, op.id)

    def on_bind(self, name: str, value: Any, frame: Frame, owner: Any = None) -> None:
        if isinstance(value, Layer) and not value.label:
            value.label = f"self.{name}" if isinstance(owner, Instance) and owner is frame.self_obj else name
        if owner is None and not frame.in_graph and isinstance(value, Layer) and value.children is not None and value.qualname == "torch.nn.Sequential":
            self.sequential_model(value, name)

    # ------------------------------------------------------------------ attributes, indexing

    def get_attr(self, obj: Any, name: str, node: cst.CSTNode, frame: Frame) -> Any:
        if name in ("backward", "zero_grad") and not isinstance(obj, (Instance, ClassRef)):
            return Bound(obj, name)  # loss.backward(), optimizer.zero_grad(): on values we may not know
        if isinstance(obj, Optimizer):
            return Bound(obj, name)
        if isinstance(obj, Layer):
            if isinstance(obj.children, dict) and name in obj.children:
                return obj.children[name]
            if name in ("weight", "bias"):
                return Param(obj, name)
            if name in obj.attrs:
                return obj.attrs[name]
            return Bound(obj, name)
        if isinstance(obj, Instance) and obj.cls.is_nn_module and name not in obj.attrs:
            if name in ("weight", "bias"):
                return Param(UNKNOWN, name)
            found = obj.cls.lookup(name)
            return Bound(obj, name) if found is UNKNOWN or isinstance(found, FunctionRef) else found  # nn.Module API
        if isinstance(obj, Param):
            return obj if name == "data" else Bound(obj, name)
        if isinstance(obj, Namespace):
            return obj.values.get(name, UNKNOWN)
        if isinstance(obj, Dataset) and name in ("data", "train_data") and obj.name in api.IMAGE_DATASETS:
            return RawData(f"{obj.name} .data (uint8 pixels, 0-255)", node, frame.module.path)
        if isinstance(obj, Tensor):
            if name in ("values", "T", "mT", "data"):
                return obj
            return Bound(obj, name)
        if isinstance(obj, RawData):
            if name in ("data", "values"):
                return obj  # sklearn Bunch.data, DataFrame.values: the same raw numbers
            return UNKNOWN if name in ("target", "targets", "feature_names", "DESCR") else Bound(obj, name)
        if isinstance(obj, (ArgParser, Dataset)):
            return Bound(obj, name)
        return super().get_attr(obj, name, node, frame)

    def index(self, owner: Any, key: Any, node: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(owner, Layer) and owner.children is not None:
            return super().index(owner.children, key, node, frame)
        if isinstance(owner, Tensor):
            return self.tensor_op(frame, OpKind.RESHAPE, "getitem", [owner], node, model=owner.model)
        if isinstance(owner, RawData):
            return owner
        return super().index(owner, key, node, frame)

    def iterate(self, value: Any) -> Optional[list]:
        if isinstance(value, Layer) and value.children is not None:
            return super().iterate(value.children)
        return super().iterate(value)

    def binary(self, op: Any, left: Any, right: Any, node: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(left, RawData) or isinstance(right, RawData):
            # dividing, subtracting a mean, multiplying by a factor: the data is being scaled
            raw = left if isinstance(left, RawData) else right
            return UNKNOWN if op in (cst.Divide, cst.Subtract, cst.Multiply, cst.FloorDivide) else raw
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            kind = _TENSOR_BINOPS_KIND.get(op, OpKind.UNKNOWN)
            const = right if not isinstance(right, Tensor) else left if not isinstance(left, Tensor) else None
            attrs = {"const": const if is_static(const) else UNKNOWN} if const is not None else {}
            return self.tensor_op(frame, kind, kind.value, [left, right], node, attrs)
        return super().binary(op, left, right, node, frame)

    # ------------------------------------------------------------------ calls

    def call(self, func: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if _CLIP_KEYWORDS.intersection(kwargs) and any(v not in (None, 0, UNKNOWN) for k, v in kwargs.items()
                                                        if k in _CLIP_KEYWORDS):
            self.program.clips_gradients = True  # Trainer(gradient_clip_val=0.25) and kin
        if isinstance(func, External) and func.qualname == "builtins.isinstance" and len(args) == 2:
            return self.isinstance_of(args[0], args[1])
        if isinstance(func, External) and not func.qualname.startswith(("builtins.", "math.")):
            return self.call_external(func.qualname, args, kwargs, node, frame)
        if isinstance(func, Layer):
            return self.apply_layer(func, args, frame, node)
        if isinstance(func, Instance) and func.cls.is_nn_module:
            return self.call_model(func, args, kwargs, node, frame)
        if isinstance(func, ClassRef):
            return self.instantiate(func, args, kwargs, node, frame)
        if isinstance(func, Loss):
            self.use_loss(func, args, node, frame)
            return UNKNOWN
        if isinstance(func, Tensor):
            return UNKNOWN
        return super().call(func, args, kwargs, node, frame)

    def isinstance_of(self, value: Any, types: Any) -> Any:
        """``isinstance(m, nn.Linear)`` for layers and model objects; UNKNOWN otherwise."""
        options = types if isinstance(types, (tuple, list)) else [types]
        if isinstance(value, Layer):
            answers = [self._layer_is(value, t) for t in options]
        elif isinstance(value, Instance):
            answers = [self._instance_is(value.cls, t) for t in options]
        else:
            return UNKNOWN
        if True in answers:
            return True
        return UNKNOWN if UNKNOWN in answers else False

    @staticmethod
    def _layer_is(layer: Layer, t: Any) -> Any:
        if isinstance(t, ClassRef):
            return False
        if not isinstance(t, External):
            return UNKNOWN
        name = t.qualname.rsplit(".", 1)[-1]
        if t.qualname in ("torch.nn.Module", "torch.nn.modules.module.Module"):
            return True
        if not t.qualname.startswith("torch.nn."):
            return UNKNOWN
        if name in _ABSTRACT_LAYERS:
            return layer.short.startswith(_ABSTRACT_LAYERS[name])
        return layer.short == name

    def _instance_is(self, cls: ClassRef, t: Any) -> Any:
        if isinstance(t, ClassRef):
            return t is cls or any(isinstance(b, ClassRef) and self._instance_is(b, t) is True for b in cls.bases)
        if isinstance(t, External):
            if t.qualname in api.MODULE_BASES:
                return cls.is_nn_module
            return any(isinstance(b, External) and b.qualname == t.qualname for b in cls.bases) or UNKNOWN
        return UNKNOWN

    def call_external(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        qualname = api.canonical(qualname)
        if qualname in api.LAYERS:
            return self.make_layer(qualname, args, kwargs, node, frame)
        if qualname in api.CONTAINERS:
            return self.make_container(qualname, args, kwargs, node, frame)
        if qualname in ("collections.OrderedDict", "typing.OrderedDict"):
            return dict(args[0]) if args and isinstance(args[0], list) and all(isinstance(p, tuple) and len(p) == 2 for p in args[0]) else ({} if not args else UNKNOWN)
        if qualname in api.LOSSES:
            loss = Loss(qualname, api.LOSSES[qualname], node, frame.module.path)
            if qualname.startswith("torch.nn.functional."):
                self.use_loss(loss, args, node, frame)
                return UNKNOWN
            self.program.declared_tasks.add(loss.task)  # constructing a loss says what the code trains for
            return loss
        if qualname in api.FUNCTIONS:
            return self.functional(qualname, api.FUNCTIONS[qualname], args, kwargs, node, frame)
        if qualname in api.SHAPE_FUNCTIONS:
            tensors = [a for a in args if isinstance(a, Tensor)]
            if tensors:
                return self.tensor_op(frame, OpKind.RESHAPE, qualname, tensors[:1], node, model=tensors[0].model)
            raw = [a for a in args if isinstance(a, RawData)]
            return raw[0] if raw else UNKNOWN
        if qualname.startswith("torch.nn.init."):
            self.init_call(qualname.rsplit(".", 1)[-1], args, kwargs, node, frame)
            return UNKNOWN
        if qualname in ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
                        "torch.nn.utils.clip_grad.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_value_"):
            self.program.clips_gradients = True
            return UNKNOWN
        if qualname in api.OPTIMIZERS:
            return self.record_optimizer(qualname, args, kwargs, node, frame)
        if qualname in ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad") or (
                qualname in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and args and args[0] is False):
            return NoGrad()
        if qualname in api.DATALOADER:
            self.record_loader(args, kwargs, node, frame)
            return UNKNOWN
        if qualname in api.TENSOR_DATASET:
            self.raw_sink([*args, *kwargs.values()], node, frame, "a TensorDataset")
            return Dataset("TensorDataset", None, None, None, node)
        if qualname.startswith(_TORCHVISION_DATASETS):
            return self.make_dataset(qualname.rsplit(".", 1)[-1], args, kwargs, node)
        if qualname.startswith(_TRANSFORM_PREFIXES):
            return self.make_transform(qualname.rsplit(".", 1)[-1], args, kwargs, node)
        if qualname in ("argparse.ArgumentParser",):
            return ArgParser()
        if qualname == "dataclasses.field":
            return kwargs.get("default", UNKNOWN)
        if qualname in _RAW_TABULAR:
            return RawData(_RAW_TABULAR[qualname], node, frame.module.path)
        if qualname in _TO_TENSOR or qualname.startswith("torch.nn.Parameter"):
            first = args[0] if args else UNKNOWN
            if isinstance(first, (RawData, Tensor)):
                return first
            if qualname.startswith("torch.") and qualname != "torch.nn.Parameter":
                op = frame.graph.add(OpKind.CONSTANT, qualname, origin=origin_of(frame, node))
                return Tensor(frame.graph, op.id)
            return UNKNOWN
        if qualname.rsplit(".", 1)[-1] in _SCALERS and qualname.startswith("sklearn."):
            return UNKNOWN
        if qualname.startswith(("torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.arange", "torch.full")):
            op = frame.graph.add(OpKind.CONSTANT, qualname, origin=origin_of(frame, node))
            return Tensor(frame.graph, op.id)
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Instance) and value.cls.is_nn_module and frame.in_graph is False:
                self.model_graph(value)  # passed to unknown code (an optimizer, a trainer): still a model
        tensors = [a for a in args if isinstance(a, Tensor)]
        if tensors and qualname.startswith("torch."):
            return self.tensor_op(frame, OpKind.UNKNOWN, qualname, tensors, node)
        return UNKNOWN

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if name == "backward":
            self.events.backward = True
            return None
        if name == "zero_grad":
            self.events.zero_grad = True
            return None
        if isinstance(obj, Optimizer):
            if name == "step" and node is not None and self.loops:  # one step alone accumulates nothing
                self.events.steps.append({"origin": origin_of(frame, node), "optimizer": obj.record["type_name"]})
            return UNKNOWN
        if isinstance(obj, (Instance, Layer)) and name in ("train", "eval"):
            mode = args[0] if name == "train" and args else kwargs.get("mode", True) if name == "train" else False
            if isinstance(obj, Layer) or obj.cls.is_nn_module:
                obj.mode = None if mode is UNKNOWN else ("train" if truthy(mode) else "eval")
                return obj
        if isinstance(obj, Tensor):
            return self.tensor_method(obj, name, args, kwargs, node, frame)
        if isinstance(obj, RawData):
            if name in ("div", "div_", "sub", "sub_", "mul", "mul_", "true_divide", "normalize"):
                return UNKNOWN
            return obj  # .float(), .view(), .reshape(), .astype() ... keep the raw scale
        if isinstance(obj, Param):
            fn = {"fill_": "constant_", "zero_": "zeros_", "normal_": "normal_", "uniform_": "uniform_",
                  "copy_": "copy_"}.get(name)
            if fn is not None:
                self.record_init(obj, fn, args, kwargs, node, frame, tensor_method=True)
            return UNKNOWN
        if isinstance(obj, Layer):
            if name in ("to", "cuda", "cpu", "train", "eval", "float", "double", "half", "requires_grad_"):
                return obj
            if name == "apply" and args:
                self.apply_fn(self.submodules(obj), args[0], frame)
                return obj
            if name == "modules":
                return self.submodules(obj)
            if name == "parameters" and obj.graph is not None:
                return Parameters(obj.graph)
            if name in ("append", "extend", "add_module") and isinstance(obj.children, list):
                items = args[-1:] if name != "extend" else (self.iterate(args[0]) or [UNKNOWN])
                obj.children.extend(items)
                return None
            return UNKNOWN
        if isinstance(obj, ArgParser):
            if name == "add_argument":
                self.add_argument(obj, args, kwargs)
            elif name == "set_defaults":
                obj.defaults.update({k: v for k, v in kwargs.items() if k not in ("*", "**")})
            elif name in ("parse_args", "parse_known_args"):
                ns = Namespace(dict(obj.defaults))
                return ns if name == "parse_args" else (ns, UNKNOWN)
            elif name == "add_argument_group" or name == "add_mutually_exclusive_group":
                return obj
            return UNKNOWN
        if isinstance(obj, Instance) and obj.cls.is_nn_module:
            if name in ("to", "cuda", "cpu", "train", "eval", "float", "double", "half", "requires_grad_"):
                return obj
            if name == "modules":
                return self.submodules(obj)
            if name == "apply" and args:
                self.apply_fn(self.submodules(obj), args[0], frame)
                return obj
            if name in ("parameters", "named_parameters") and not frame.in_graph:
                return Parameters(self.model_graph(obj))
            if name == "forward":
                return self.call_model(obj, args, kwargs, node, frame)
            if name in ("add_module", "register_module") and len(args) == 2 and isinstance(args[0], str):
                self.on_bind(args[0], args[1], frame, owner=obj)
                obj.attrs[args[0]] = args[1]
                return None
        return super().call_method(obj, name, args, kwargs, node, frame)

    # ------------------------------------------------------------------ layers and graphs

    def make_layer(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Layer:
        kind, params, defaults = api.LAYERS[qualname]
        attrs: dict[str, Any] = dict(defaults)
        if "*" in kwargs or "**" in kwargs:
            attrs = {k: UNKNOWN for k in (*params, *defaults)}
        for name, value in zip(params, args):
            attrs[name] = value
        attrs.update({k: v for k, v in kwargs.items() if k not in ("*", "**")})
        layer = Layer(qualname, kind, attrs, node, frame.module.path)
        if len(self.program.layers) < 10_000:
            self.program.layers.append(layer)
        return layer

    def make_container(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Layer:
        if qualname == "torch.nn.ModuleDict":
            children: Any = args[0] if args and isinstance(args[0], dict) else ({} if not args else None)
        elif qualname == "torch.nn.Sequential" and len(args) == 1 and isinstance(args[0], dict):
            children = list(args[0].values())
        elif qualname == "torch.nn.Sequential":
            children = None if "*" in kwargs else list(args)
        else:
            children = (self.iterate(args[0]) if args else [])
        container = Layer(qualname, OpKind.UNKNOWN, {}, node, frame.module.path)
        if isinstance(children, dict):
            children = dict(children)
            container.children = children
            for key, child in children.items():
                self._label_child(child, container, key)
        elif children is not None:
            container.children = list(children)
            for i, child in enumerate(container.children):
                self._label_child(child, container, i)
        return container

    @staticmethod
    def _label_child(child: Any, parent: Layer, key: Any) -> None:
        """Children are labelled relative to their container: ``[2]`` becomes ``self.net[2]``."""
        if isinstance(child, Layer) and not child.label:
            child.label = f"[{key!r}]" if isinstance(key, str) else f"[{key}]"
            child.parent = parent

    @staticmethod
    def label_of(layer: Layer, parent: Optional[Layer] = None) -> str:
        return layer.full_label(parent)

    def sequential_model(self, layer: Layer, name: str) -> None:
        """A ``nn.Sequential`` bound to a name outside any class is a model of its own."""
        if layer.graph is not None:
            return
        graph = ModelGraph(name=name, path=layer.path, is_model=True)
        layer.graph = graph
        layer.mode = "train"
        x = Tensor(graph, graph.add(OpKind.INPUT, "input").id)
        frame = Frame(self.entry, graph, {}, in_graph=True)
        out = self.apply_layer(layer, [x], frame, None)
        if isinstance(out, Tensor):
            graph.outputs = [out.op]
        graph.inputs = [x.op]
        graph.instantiated = True
        self.program.graphs.append(graph)
        self.program.instantiated.append(graph)

    def apply_layer(self, layer: Layer, args: list, frame: Frame, node: Optional[cst.CSTNode], parent: Optional[Layer] = None) -> Any:
        graph = frame.graph
        x = args[0] if args else UNKNOWN
        if not frame.in_graph and layer.graph is not None:
            return self.model_output(layer.graph, args, node, frame, layer.mode)
        if layer.qualname == "torch.nn.Sequential" and layer.children is not None:
            for child in layer.children:
                if isinstance(child, Layer):
                    x = self.apply_layer(child, [x], frame, None, parent=layer)
                elif isinstance(child, Instance) and child.cls.is_nn_module:
                    x = self.call_model(child, [x], {}, node, frame)
                else:
                    x = self.tensor_op(frame, OpKind.UNKNOWN, "?", [x] if isinstance(x, Tensor) else [], node)
            return x
        if layer.children is not None or layer.qualname in api.CONTAINERS:
            return self.tensor_op(frame, OpKind.UNKNOWN, layer.qualname, [a for a in args if isinstance(a, Tensor)], node)
        inputs = [x.op] if isinstance(x, Tensor) and x.graph is graph else []
        attrs = dict(layer.attrs)
        attrs["inits"] = layer.inits  # shared: init calls made after the graph was built still count
        op = graph.add(layer.kind, layer.qualname, inputs, attrs=attrs, origin=Origin(layer.path, layer.node),
                       label=self.label_of(layer, parent))
        out = Tensor(graph, op.id, model=x.model if isinstance(x, Tensor) else None)
        if layer.kind is OpKind.RNN or layer.qualname.endswith("MultiheadAttention"):
            rest = graph.add(OpKind.UNKNOWN, "rnn-state", [op.id])
            return (out, Tensor(graph, rest.id))
        return out

    def call_model(self, inst: Instance, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if frame.in_graph and inst.cls.name.lower().endswith(("norm", "normalization")):
            # a project's own LayerNorm/RMSNorm class (nanoGPT, LLaMA): a norm, whatever its code
            tensors = [a for a in args if isinstance(a, Tensor)][:1]
            op = frame.graph.add(OpKind.LAYER_NORM, inst.cls.name, [t.op for t in tensors if t.graph is frame.graph],
                                 origin=origin_of(frame, node), label=inst.cls.name)
            return Tensor(frame.graph, op.id)
        if frame.in_graph and not inst.building:
            forward = forward_of(inst.cls)
            if not isinstance(forward, FunctionRef):
                return self.tensor_op(frame, OpKind.UNKNOWN, inst.cls.name, [a for a in args if isinstance(a, Tensor)], node)
            inst.building = True
            try:
                return self.call_function(forward, [inst, *args], kwargs, frame, graph=frame.graph)
            finally:
                inst.building = False
        graph = self.model_graph(inst)
        return self.model_output(graph, args, node, frame, inst.mode)

    def model_output(self, graph: ModelGraph, args: list, node: Optional[cst.CSTNode], frame: Frame,
                     mode: Optional[str] = None) -> Tensor:
        """The result of calling a model from training code: a tensor tagged with the model."""
        if self.no_grad and mode == "train" and node is not None and self.record_once(node):
            layers = sorted({op.type_name.rsplit(".", 1)[-1] for op in graph.find(OpKind.DROPOUT, OpKind.BATCH_NORM)})
            if layers:
                self.program.train_mode_evaluations.append(
                    {"origin": origin_of(frame, node), "model": graph.name, "layers": layers})
        for raw in (a for a in args if isinstance(a, RawData)):
            self.raw_reaches(raw, node, frame, f"the model {graph.name}")
        inputs = [a.op for a in args if isinstance(a, Tensor) and a.graph is frame.graph]
        op = frame.graph.add(OpKind.UNKNOWN, f"{graph.name}(...)", inputs, attrs={"model_call": graph})
        self.call_arguments[op.id] = [id(a) for a in args]  # criterion(model(x), x): a reconstruction
        if isinstance(node, cst.Call):  # by name too, for values nnlint does not know (a batch from a loader)
            self.call_argument_names[op.id] = [dotted(a.value) for a in node.args if a.keyword is None]
        return Tensor(frame.graph, op.id, model=graph)

    def model_graph(self, inst: Instance) -> ModelGraph:
        """Build (once) the graph of a model instance by running its forward on symbolic inputs."""
        if inst.graph is not None:
            return inst.graph
        graph = ModelGraph(name=inst.cls.name, path=inst.cls.module.path, is_model=True)
        inst.graph = graph
        self.program.graphs.append(graph)
        forward = forward_of(inst.cls)
        if not isinstance(forward, FunctionRef):
            graph.complete = False
            return graph
        frame = Frame(forward.module, graph, {}, self_obj=inst, in_graph=True, name="forward")
        self.bind_params(forward.node, [inst], {}, frame)
        graph.inputs = [op.id for op in graph.find(OpKind.INPUT)]
        inst.building = True
        try:
            result = self.run_function(forward.node, frame)
        except BudgetExceeded:
            raise
        except Exception:
            graph.complete = False
            return graph
        finally:
            inst.building = False
        outputs = result if isinstance(result, (tuple, list)) else [result]
        graph.outputs = [t.op for t in outputs if isinstance(t, Tensor) and t.graph is graph]
        return graph

    def instantiate(self, cls: ClassRef, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if not cls.is_nn_module:
            cls.is_nn_module = any(self.is_module_base(b) for b in cls.bases)
        if cls.is_nn_module and isinstance(frame.self_obj, Instance) and frame.self_obj.cls.is_nn_module:
            self.program.submodule_classes.add(cls.name)  # built inside another module
        inst = super().instantiate(cls, args, kwargs, node, frame)
        if cls.is_nn_module and frame.self_obj is None and not frame.in_graph:
            inst.mode = "train"  # a new module is in training mode
            graph = self.model_graph(inst)
            graph.instantiated = True
            if graph not in self.program.instantiated:
                self.program.instantiated.append(graph)
        return inst

    def is_module_base(self, base: Any) -> bool:
        if isinstance(base, External):
            return base.qualname in api.MODULE_BASES
        if isinstance(base, ClassRef):
            return base.is_nn_module or any(self.is_module_base(b) for b in base.bases)
        return False

    def define_class(self, node: cst.ClassDef, frame: Frame) -> ClassRef:
        cls = super().define_class(node, frame)
        cls.is_nn_module = any(self.is_module_base(b) for b in cls.bases)
        return cls

    def submodules(self, obj: Any) -> list:
        """``module.modules()``: the object itself and every layer below it, in order."""
        out: list = []
        seen: set[int] = set()

        def visit(value: Any) -> None:
            if id(value) in seen or len(out) > 4096:
                return
            seen.add(id(value))
            if isinstance(value, Layer):
                out.append(value)
                children = value.children.values() if isinstance(value.children, dict) else (value.children or [])
                for child in children:
                    visit(child)
            elif isinstance(value, Instance) and value.cls.is_nn_module:
                out.append(value)
                for attr in value.attrs.values():
                    visit(attr)

        visit(obj)
        return out

    def apply_fn(self, modules: list, fn: Any, frame: Frame) -> None:
        for module in modules:
            if isinstance(fn, FunctionRef):
                self.call_function(fn, [module], {}, frame, graph=frame.graph)  # not an inlining budget matter
            elif isinstance(fn, Bound) and isinstance(fn.obj, Instance):
                self.call_method(fn.obj, fn.name, [module], {}, None, frame)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ tensors

    def tensor_op(self, frame: Frame, kind: OpKind, type_name: str, inputs: list, node: Optional[cst.CSTNode],
                  attrs: Optional[dict] = None, model: Optional[ModelGraph] = None) -> Tensor:
        graph = frame.graph
        ids = [t.op for t in inputs if isinstance(t, Tensor) and t.graph is graph]
        op = graph.add(kind, type_name, ids, attrs=attrs or {}, origin=origin_of(frame, node))
        return Tensor(graph, op.id, model=model)

    def functional(self, qualname: str, kind: OpKind, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        raw = [a for a in args if isinstance(a, RawData)]
        if raw and kind in (OpKind.DIV, OpKind.SUB, OpKind.MUL):
            return UNKNOWN
        attrs: dict[str, Any] = {}
        if kind is OpKind.DROPOUT:
            attrs["p"] = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
            default_training = qualname.startswith("torch.nn.functional.")
            given = "training" in kwargs or "train" in kwargs or len(args) > 2
            attrs["training"] = kwargs.get("training", kwargs.get("train", args[2] if len(args) > 2 else (True if default_training else UNKNOWN)))
            attrs["training_given"] = given or not default_training  # torch.dropout has no default
        if kind in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX):
            attrs["dim"] = kwargs.get("dim", args[1] if len(args) > 1 else None)
        if kind is OpKind.LINEAR:
            attrs["bias"] = (args[2] if len(args) > 2 else kwargs.get("bias", None)) is not None
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors and not any(isinstance(a, Tensor) for a in kwargs.values()):
            return UNKNOWN
        if not tensors:
            tensors = [v for v in kwargs.values() if isinstance(v, Tensor)][:1]
        inputs = tensors if kind in (OpKind.CONCAT, OpKind.MATMUL, OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV) else tensors[:1]
        keep_model = kind in (OpKind.DROPOUT,) and tensors[0].model is not None
        return self.tensor_op(frame, kind, qualname, inputs, node, attrs, model=tensors[0].model if keep_model else None)

    def tensor_method(self, t: Tensor, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if name in api.SHAPE_METHODS:
            return self.tensor_op(frame, OpKind.RESHAPE, name, [t], node, model=t.model)
        kind = api.METHODS.get(name)
        if kind is not None:
            attrs: dict[str, Any] = {}
            if kind in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX):
                attrs["dim"] = kwargs.get("dim", args[0] if args else None)
            others = [a for a in args if isinstance(a, Tensor)]
            return self.tensor_op(frame, kind, name, [t, *others], node, attrs)
        if name in ("size", "dim", "item", "numel", "tolist", "numpy", "backward", "shape"):
            return UNKNOWN
        return self.tensor_op(frame, OpKind.UNKNOWN, name, [t], node)

    # ------------------------------------------------------------------ training setup

    def use_loss(self, loss: Loss, args: list, node: cst.CSTNode, frame: Frame) -> None:
        """A loss applied to a prediction: tie it to the model that produced the prediction."""
        pred = args[0] if args else UNKNOWN
        record = loss_record(loss.qualname, loss.task, Origin(loss.path, loss.node))
        target = args[1] if len(args) > 1 else None
        ids, names = self._arguments_of(pred) if isinstance(pred, Tensor) else ([], [])
        target_name = dotted(node.args[1].value) if isinstance(node, cst.Call) and len(node.args) > 1 else None
        if (isinstance(target, (Tensor, RawData)) and id(target) in ids) or (target_name and target_name in names):
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
        elif self.record_once(loss.node):
            self.program.setup.losses.append(record)

    def _arguments_of(self, t: Tensor) -> tuple[list[int], list]:
        """(id()s, plain names) of the arguments of the model call ``t`` comes from (through reshapes)."""
        op = t.graph.ops[t.op]
        for _ in range(8):
            if op.attrs.get("model_call") and op.id in self.call_arguments:
                return self.call_arguments[op.id], self.call_argument_names.get(op.id, [])
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
        op = graph.ops[t.op]
        while op.kind in (OpKind.RESHAPE, OpKind.IDENTITY) and len(op.inputs) == 1:
            op = graph.ops[op.inputs[0]]
        if op.kind not in _APPLIED or len(op.inputs) != 1:
            return None
        source = graph.ops[op.inputs[0]]
        while source.kind in (OpKind.RESHAPE, OpKind.IDENTITY) and len(source.inputs) == 1:
            source = graph.ops[source.inputs[0]]
        model = source.attrs.get("model_call")
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

    def record_loader(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        if not self.record_once(node):
            return
        dataset = kwargs.get("dataset", args[0] if args else UNKNOWN)
        self.raw_sink([dataset], node, frame, "a DataLoader")
        unknown_kwargs = "**" in kwargs
        batch_size = kwargs.get("batch_size", args[1] if len(args) > 1 else (UNKNOWN if unknown_kwargs else 1))
        shuffle = kwargs.get("shuffle", args[2] if len(args) > 2 else (UNKNOWN if unknown_kwargs else False))
        sampler = kwargs.get("sampler", kwargs.get("batch_sampler"))
        self.program.setup.loaders.append(
            {
                "origin": origin_of(frame, node),
                "batch_size": batch_size,
                "shuffle": shuffle,
                "shuffle_given": "shuffle" in kwargs or len(args) > 2,
                "sampler": sampler is not None,
                "drop_last": kwargs.get("drop_last", UNKNOWN if unknown_kwargs else False),
                "dataset": dataset,
                "map_style": self._map_style(dataset),
                "name": self._current_target(node),
            }
        )

    def record_optimizer(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """An optimizer with its hyperparameters, on its model when ``model.parameters()`` says which."""
        if not self.record_once(node):
            return Optimizer({"type_name": qualname})
        params = kwargs.get("params", args[0] if args else UNKNOWN)
        record = {
            "type_name": qualname,
            "origin": origin_of(frame, node),
            "lr": kwargs.get("lr", args[1] if len(args) > 1 else None),  # None: the optimizer's default
            "momentum": kwargs.get("momentum"),
            "weight_decay": kwargs.get("weight_decay"),
            "nesterov": kwargs.get("nesterov"),
        }
        if isinstance(params, Parameters):
            params.graph.setup.optimizers.append(record)
        else:
            self.program.setup.optimizers.append(record)
        return Optimizer(record)

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
                    raw = RawData(f"{value.name} images through {' -> '.join(t.names)} (float 0-255)", t.node, frame.module.path)
                    self.raw_reaches(raw, t.node, frame, sink)

    def raw_reaches(self, raw: RawData, node: Optional[cst.CSTNode], frame: Frame, sink: str) -> None:
        if node is None or not self.record_once(node, "raw"):
            return
        self.program.raw_inputs.append(
            {"what": raw.what, "origin": Origin(raw.path, raw.node), "sink": sink, "at": origin_of(frame, node)}
        )

    def init_call(self, fn: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        target = args[0] if args else kwargs.get("tensor", UNKNOWN)
        if isinstance(target, Param):
            self.record_init(target, fn, args[1:], kwargs, node, frame)

    def record_init(self, param: Param, fn: str, args: list, kwargs: dict, node: cst.Call, frame: Frame,
                    tensor_method: bool = False) -> None:
        if not isinstance(param.layer, Layer):
            return
        param.layer.inits.append(
            {"fn": fn, "param": param.name, "args": list(args), "kwargs": dict(kwargs),
             "origin": origin_of(frame, node), "method": tensor_method, "certain": self.uncertain == 0}
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

    # ------------------------------------------------------------------ entry point

    def analyze(self) -> None:
        """Run the module, then every function and model class it defines that nothing ran."""
        module = self.entry
        try:
            self.unit(lambda: self.module_globals(module))
            glob = module.globals
            for value in list(glob.values()):
                if isinstance(value, ClassRef) and value.module is module and value.is_nn_module:
                    self.class_graph(value)
            for value in list(glob.values()):
                if isinstance(value, FunctionRef) and value.module is module and value.node not in self.inlined:
                    self.standalone(value, None)
                elif isinstance(value, ClassRef) and value.module is module:
                    self.standalone_methods(value)
        except BudgetExceeded:
            for graph in self.program.graphs:
                graph.complete = False

    def exec_with(self, contexts: list, body: Any, frame: Frame) -> None:
        quiet = any(isinstance(c, NoGrad) for c in contexts)
        self.no_grad += quiet
        try:
            super().exec_with(contexts, body, frame)
        finally:
            self.no_grad -= quiet

    def run_function(self, node: cst.FunctionDef, frame: Frame) -> Any:
        quiet = any((dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
                    .endswith(("no_grad", "inference_mode")) for d in node.decorators)
        self.no_grad += quiet
        try:
            return super().run_function(node, frame)
        finally:
            self.no_grad -= quiet

    def assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Attribute) and target.attr.value == "grad":
            self.events.zero_grad = True  # p.grad = None clears gradients by hand
        super().assign(target, value, frame)

    def gave_up(self) -> None:
        self.events.complete = False

    def unit(self, run: Any) -> None:
        """Run one unit of code (the module, or a function nothing called) and judge its loop."""
        outer, self.events = self.events, _Events()
        try:
            run()
        finally:
            events, self.events = self.events, outer
            if events.steps and events.backward and not events.zero_grad and events.complete:
                self.program.uncleared_steps.extend(events.steps)

    def class_graph(self, cls: ClassRef) -> None:
        """Analyse a model class from its definition, with default constructor arguments."""
        inst = Instance(cls)
        init = cls.lookup("__init__")
        if isinstance(init, FunctionRef):
            frame = Frame(cls.module, ModelGraph(name=cls.name, path=cls.module.path), {}, in_graph=True)
            self.call_function(init, [inst], {}, frame)
        self.program.class_graphs[cls.name] = self.model_graph(inst)
        self.class_instances[cls.name] = inst

    def standalone(self, func: FunctionRef, self_obj: Any) -> None:
        graph = ModelGraph(name=func.node.name.value, path=func.module.path)
        frame = Frame(func.module, graph, {}, self_obj=self_obj, name=func.node.name.value)
        self.bind_params(func.node, [self_obj] if self_obj is not None else [], {}, frame)
        try:
            self.unit(lambda: self.run_function(func.node, frame))
        except BudgetExceeded:
            raise
        except Exception:
            return
        if graph.ops:
            self.program.graphs.append(graph)

    def standalone_methods(self, cls: ClassRef) -> None:
        inst = self.class_instances.get(cls.name) or Instance(cls)
        for name, value in list(cls.attrs.items()):
            if isinstance(value, FunctionRef) and name not in ("__init__", "forward", "call") and value.node not in self.inlined:
                self.standalone(value, inst)


class _Events:
    """What one unit of training code does to gradients."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.backward = False
        self.zero_grad = False
        self.complete = True  # False when a call was not followed: a zero_grad may hide there


def truthy(value: Any) -> bool:
    return bool(value) if isinstance(value, (bool, int, float, str, type(None))) else True


#: Activations the training code may apply between a model and its loss.
_APPLIED = {OpKind.SIGMOID, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.RELU, OpKind.TANH, OpKind.SOFTPLUS}

_CLIP_KEYWORDS = {"gradient_clip_val", "max_grad_norm", "clip_grad_norm", "grad_clip", "clip_norm"}

#: torch's abstract layer bases, for isinstance(m, nn.modules.batchnorm._BatchNorm) and kin.
_ABSTRACT_LAYERS = {
    "_BatchNorm": ("BatchNorm", "SyncBatchNorm"),
    "_NormBase": ("BatchNorm", "SyncBatchNorm", "InstanceNorm"),
    "_InstanceNorm": ("InstanceNorm",),
    "_ConvNd": ("Conv", "LazyConv"),
    "_ConvTransposeNd": ("ConvTranspose",),
    "_DropoutNd": ("Dropout", "AlphaDropout", "FeatureAlphaDropout"),
    "RNNBase": ("LSTM", "GRU", "RNN"),
}

_TENSOR_BINOPS_KIND = {
    cst.Add: OpKind.ADD,
    cst.Subtract: OpKind.SUB,
    cst.Multiply: OpKind.MUL,
    cst.Divide: OpKind.DIV,
    cst.MatrixMultiply: OpKind.MATMUL,
}


def analyze(entry: ModuleInfo, project: Project, task: Optional[str] = None) -> Program:
    program = Program(path=entry.path)
    TorchInterpreter(project, entry, program).analyze()
    program.finish(task)
    return program


def forward_of(cls: ClassRef) -> Any:
    """A module's forward: ``forward`` in PyTorch, ``call`` in a subclassed Keras model."""
    forward = cls.lookup("forward")
    return forward if isinstance(forward, FunctionRef) else cls.lookup("call")
