"""The PyTorch frontend: Python source -> model graphs and training setup.

It teaches the abstract interpreter torch's API (tables in :mod:`torch_api`): constructing
a layer gives a :class:`Layer`; calling a model on symbolic tensors builds its
:class:`ModelGraph` op by op, inlining submodules, ``nn.Sequential`` and ``nn.ModuleList``
loops; losses, data loaders, init calls and raw data sets are recorded as they are met.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import libcst as cst
from nnlint.cst_walk import walk
from nnlint.frontends import lr_schedules as lrs
from nnlint.frontends import tables
from nnlint.frontends import torch_api as api
from nnlint.frontends.interpreter import (
    IMPORTERS,
    UNKNOWN,
    AnalysisTimeout,
    BudgetExceeded,
    Frame,
    is_static,
    origin_of,
)
from nnlint.frontends.module_reuse import ModuleReuse
from nnlint.frontends.names import call_argument, dotted, identifier_words
from nnlint.frontends.program import Program
from nnlint.frontends.project import ModuleInfo, Project
from nnlint.frontends.torch_shapes import layer_shape, op_shape
from nnlint.frontends.torch_training import evaluation_data, TrainingCode, truthy
from nnlint.frontends.values import (
    ArgParser,
    Bound,
    ClassRef,
    Dataset,
    EveryParam,
    External,
    FunctionRef,
    Instance,
    Layer,
    Loader,
    Loss,
    Namespace,
    NoGrad,
    Optimizer,
    Param,
    Parameters,
    Pretrained,
    Super,
    RawData,
    Rows,
    Tensor,
    Transforms,
)
from nnlint.ir import NORMS, InputRef, ModelGraph, OpKind, Origin
from nnlint.ir.shapes import Shape, shape_of
from nnlint.ir.signs import NONNEG, NONPOS

_TORCHVISION_DATASETS = ("torchvision.datasets.", "torchvision.datasets.mnist.", "torchvision.datasets.cifar.")
_TRANSFORM_PREFIXES = ("torchvision.transforms.v2.", "torchvision.transforms.")
_SCALERS = {"StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "Normalizer", "scale", "normalize",
            "minmax_scale", "robust_scale", "maxabs_scale", "QuantileTransformer", "PowerTransformer"}
#: splitters that return each array they are given cut in two (train, test), in order
_SPLITTERS = {"sklearn.model_selection.train_test_split", "sklearn.cross_validation.train_test_split"}
#: Image readers that return uint8 pixels (0-255).
_IMAGE_READERS = {"PIL.Image.open", "cv2.imread", "imageio.imread", "imageio.v2.imread", "imageio.v3.imread",
                  "skimage.io.imread", "torchvision.io.read_image", "torchvision.io.decode_image"}
#: Array functions that move pixels around without scaling them.
_KEEP_SCALE = {f"numpy.{n}" for n in "expand_dims transpose moveaxis stack concatenate reshape flip squeeze "
               "ascontiguousarray float32".split()}
#: Published pixel data sets that come as CSV files of 0-255 values (Kaggle's MNIST and kin).
_PIXEL_CSV_WORDS = ("mnist", "cifar", "sign_mnist")
#: torchvision's functional transforms that scale pixels (to [0, 1], or standardise).
_SCALING_FUNCTIONS = {"to_tensor", "normalize", "convert_image_dtype", "to_dtype"}
_TO_TENSOR = {"torch.tensor", "torch.from_numpy", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor",
              "numpy.array", "numpy.asarray", "numpy.float32"}


class TorchInterpreter(TrainingCode):
    def __init__(self, project: Project, entry: ModuleInfo, program: Program) -> None:
        super().__init__(project, entry, program)
        self.class_instances: dict[str, Instance] = {}
        #: per function being run: the branches its arguments ruled out, with their frames
        self.ruled_out_norms: list[list[tuple[Any, Frame]]] = []
        #: library models given a new head (``model.fc = nn.Sequential(...)``), by id: each is a
        #: model of the file's even where no code here trains it (see ``analyze``)
        self.new_heads: dict[int, Pretrained] = {}
        #: the calls of a ruled-out branch, by its statements' ids (the statements kept, so the ids
        #: stay theirs): a model zoo runs the same builder for each of its variants, and walking a
        #: libcst tree costs far more than reading the result again
        self._branch_calls: dict[tuple[int, ...], tuple[Any, list[cst.Call]]] = {}
        self.optimizers_seen = False  # a torch optimizer is built somewhere
        self.optimized_unknown = False  # ... over parameters nnlint cannot tie to modules, or a model goes to unknown code
        self.forwards = 0  # > 0 while a module's forward runs (layers built there are fresh)
        self.reuse = ModuleReuse()  # submodules built again with the same arguments are copied

    # ------------------------------------------------------------------ branches ruled out

    def run_function(self, node: cst.FunctionDef, frame: Frame) -> Any:
        """Run a function; if a branch its arguments rule out would have built or applied a
        normalisation (``if apply_batchnorm: add(BatchNormalization())`` called with False),
        the layers it builds and the ops it adds carry ``optional_norm``: in another call the
        norm is there, and which call a layer's neighbourhood stands for is the caller's choice."""
        layers, ops = len(self.program.layers), len(frame.graph.ops)
        self.ruled_out_norms.append([])
        try:
            return super().run_function(node, frame)
        finally:
            skipped = self.ruled_out_norms.pop()
            built = len(self.program.layers) > layers or len(frame.graph.ops) > ops
            # the branches are read only for a function that built something (walking them is
            # most of the cost of a script's many config-flag ifs)
            if built and any(self.normalises(c.func, f) for nodes, f in skipped for c in self._calls_of(nodes)):
                for layer in self.program.layers[layers:]:
                    layer.attrs["optional_norm"] = True
                for i in range(ops, len(frame.graph.ops)):
                    frame.graph.ops[i].attrs["optional_norm"] = True

    # ------------------------------------------------------------------ which weights are trained


    def set_requires_grad(self, obj: Any, value: Any) -> None:
        """``module.requires_grad_(False)``, ``p.requires_grad = False`` over a module's parameters,
        ``layer.weight.requires_grad = False`` (a bias-free layer's only parameter): noted on each
        layer reached, as the value assigned (UNKNOWN when not a static bool or in a branch nnlint
        cannot decide), so that freezing undone elsewhere (GAN loops toggle it) is seen too."""
        if isinstance(obj, Param):
            layer = obj.layer
            modules = [layer] if isinstance(layer, Layer) and obj.name == "weight" and layer.attrs.get("bias") is False else []
        elif isinstance(obj, EveryParam):
            modules = obj.modules
        elif isinstance(obj, (Layer, Instance)):
            modules = [obj]
        else:
            return
        seen = value if isinstance(value, bool) and not self.uncertain else UNKNOWN
        for module in modules:
            for layer in self.submodules(module):
                if isinstance(layer, Layer):
                    layer.grads.setdefault("requires_grad", []).append(seen)

    def record_optimizer(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """Also note which layers the optimizer trains, when its parameters say which modules."""
        self.optimizers_seen = True
        modules = _modules_of(kwargs.get("params", args[0] if args else UNKNOWN))
        if modules is None:
            self.optimized_unknown = True
        for module in modules or []:
            for layer in self.submodules(module):
                if isinstance(layer, Layer):
                    layer.grads["optimized"] = True
        return super().record_optimizer(qualname, args, kwargs, node, frame)

    def hands_model_away(self) -> None:
        self.optimized_unknown = True  # the code it goes to may build its own optimizer

    def mark_untrained(self) -> None:
        """Once the file has run: ``trained = False`` on the ops of layers whose weights stay as
        they are: frozen (requires_grad only ever set to False), or left out of every optimizer
        when every optimizer's parameters are known."""
        known = self.optimizers_seen and not self.optimized_unknown
        graphs = {id(g): g for g in [*self.program.graphs, *self.program.instantiated, *self.program.class_graphs.values()]}
        fixed: dict[int, bool] = {}  # constructor call -> whether every model built here leaves it untrained
        for graph in (g for g in graphs.values() if g.instantiated):
            for op in graph.ops.values():
                grads = op.attrs.get("grads")
                if grads is None or op.origin is None:
                    continue
                assigned = grads.get("requires_grad")
                untrained = bool(assigned and all(v is False for v in assigned)) or (known and not grads.get("optimized"))
                fixed[id(op.origin.node)] = fixed.get(id(op.origin.node), True) and untrained
                if untrained:
                    op.attrs["trained"] = False
        for graph in (g for g in graphs.values() if not g.instantiated):
            # a class read from its definition has layers of its own: they share the fate of the
            # same constructor calls in the models the code builds, if it builds any
            for op in graph.ops.values():
                if op.origin is not None and fixed.get(id(op.origin.node)):
                    op.attrs["trained"] = False

    def _calls_of(self, nodes: Any) -> list[cst.Call]:
        key = tuple(map(id, nodes))
        if key not in self._branch_calls:
            self._branch_calls[key] = (nodes, _calls_in(nodes))
        return self._branch_calls[key][1]

    def skipped(self, nodes: Any, frame: Frame) -> None:
        if self.ruled_out_norms:
            self.ruled_out_norms[-1].append((nodes, frame))  # judged when the function ends

    def normalises(self, func: cst.BaseExpression, frame: Frame) -> bool:
        """Whether a call's callee (a name or attribute path, read without side effects) is a
        normalisation: a norm layer class, a norm layer or norm module object, or a value nnlint
        cannot name (a parameter left None, a factory) whose name says norm (``norm_layer``,
        ``self.bn1``, ``make_norm``)."""
        root = func
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name):
            return False
        value = self.eval(func, frame)
        if isinstance(value, External):
            return self.layer_class_kind(value.qualname) in NORMS
        if isinstance(value, Layer):
            return value.kind in NORMS
        if isinstance(value, Instance):
            return value.cls.name.lower().endswith(("norm", "normalization"))
        if value is None or value is UNKNOWN or isinstance(value, (Bound, FunctionRef)):
            last = func.attr.value if isinstance(func, cst.Attribute) else func.value
            return bool(_NORM_WORDS.intersection(_words(last)))
        return False

    def layer_class_kind(self, qualname: str) -> Optional[OpKind]:
        """The op kind of a layer class by its qualified name, None if not a known layer."""
        found = api.LAYERS.get(api.canonical(qualname))
        return found[0] if found else None

    # ------------------------------------------------------------------ helpers

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
        if isinstance(value, Pretrained) and not value.name:
            value.name = f"self.{name}" if owner is not None and owner is frame.self_obj else name
        if isinstance(value, Layer) and not value.label:
            value.label = f"self.{name}" if isinstance(owner, Instance) and owner is frame.self_obj else name
        if isinstance(value, Layer) and isinstance(owner, Instance):
            value.fresh = False  # self.drop = nn.Dropout(p), even in forward: a submodule, it follows eval()
        if isinstance(value, Layer) and value.children is not None and value.qualname == "torch.nn.Sequential" \
                and not frame.in_graph:
            if owner is None:
                self.sequential_model(value, name)
            elif isinstance(owner, Instance) and not owner.cls.is_nn_module:
                # an agent or trainer (a plain class) holding self.policy_net = nn.Sequential(...):
                # the Sequential is a model of its own, as one bound to a name is
                self.sequential_model(value, f"self.{name}")

    def assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Attribute) and target.attr.value == "requires_grad":
            self.set_requires_grad(self.eval(target.value, frame), value)  # p.requires_grad = False
        if isinstance(target, cst.Attribute):
            owner = self.eval(target.value, frame)
            if isinstance(owner, Pretrained):  # model.fc = nn.Linear(512, 1): a new head
                if isinstance(value, Layer) and not value.label:
                    value.label = dotted(target) or target.attr.value
                owner.attrs[target.attr.value] = value
                if target.attr.value == owner.head and isinstance(value, (Layer, Instance)):
                    self.new_heads[id(owner)] = owner
                return
        super().assign(target, value, frame)

    # ------------------------------------------------------------------ attributes, indexing

    def get_attr(self, obj: Any, name: str, node: cst.CSTNode, frame: Frame) -> Any:
        if name == "__class__" and isinstance(obj, (Layer, Instance)):
            return self.type_of(obj)
        if name == "__name__" and isinstance(obj, (External, ClassRef)):  # m.__class__.__name__ (DCGAN's weights_init)
            return obj.name if isinstance(obj, ClassRef) else obj.qualname.rsplit(".", 1)[-1]
        if name in ("backward", "zero_grad", "param_groups") and not isinstance(obj, (Instance, ClassRef)):
            return Bound(obj, name)  # loss.backward(), optimizer.zero_grad(): on values we may not know
        if isinstance(obj, (Optimizer, Loss)):
            return Bound(obj, name)
        if isinstance(obj, Pretrained):
            return obj.attrs[name] if name in obj.attrs else Bound(obj, name)
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
        if isinstance(obj, EveryParam):
            return Bound(obj, name)  # p.requires_grad_(False) in a loop over parameters
        if isinstance(obj, Namespace):
            return obj.values.get(name, UNKNOWN)
        if isinstance(obj, Dataset) and name in ("data", "train_data") and obj.name in api.IMAGE_DATASETS:
            return RawData(f"{obj.name} .data (uint8 pixels, 0-255)", node, frame.module.path,
                           bounds=(0, 255), by=f"torchvision's {obj.name}.data")
        if isinstance(obj, Tensor):
            if name in ("values", "T", "mT", "data"):
                return obj
            return Bound(obj, name)
        if isinstance(obj, RawData):
            if name in ("data", "values", "iloc", "loc"):
                return obj  # sklearn Bunch.data, DataFrame.values / .iloc[...]: the same raw numbers
            return UNKNOWN if name in ("target", "targets", "feature_names", "DESCR") else Bound(obj, name)
        if isinstance(obj, (ArgParser, Dataset)):
            return Bound(obj, name)
        return super().get_attr(obj, name, node, frame)

    def index(self, owner: Any, key: Any, node: cst.CSTNode, frame: Frame) -> Any:
        named_shape = isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute) and node.value.attr.value == "shape"
        if key == 0 and not isinstance(key, bool) and (named_shape or (isinstance(owner, Bound) and owner.name == "shape")):
            of = owner.obj if isinstance(owner, Bound) else UNKNOWN
            if isinstance(of, (Tensor, RawData)) or of is UNKNOWN:  # X.shape[0], x.size()[0]: the number of samples
                return Rows(of, dotted(node.value.value) if named_shape else None)
        if isinstance(owner, Bound) and owner.name == "param_groups":
            return owner  # one group stands for them all: what matters is whose groups they are
        if isinstance(owner, Layer) and owner.children is not None:
            return super().index(owner.children, key, node, frame)
        if isinstance(owner, Tensor):
            attrs = {"picks": True} if self._picks(key, node, frame) else {}
            return self.tensor_op(frame, OpKind.RESHAPE, "getitem", [owner], node, attrs, model=owner.model)
        if isinstance(owner, RawData):
            if owner.per_column and (not isinstance(node, cst.Subscript) or len(node.slice) != 1 or isinstance(key, str)):
                return UNKNOWN  # some of a table's columns (X[:, 5], df["RM"]): which, and so their scale, is not followed
            return owner  # rows, or pixels: the same raw scale
        return super().index(owner, key, node, frame)

    def _picks(self, key: Any, node: cst.CSTNode, frame: Frame) -> bool:
        """Whether ``x[key]`` picks values by a tensor of indices (``probs[action]``,
        ``probs[range(n), actions]``), or by one index the analysis has no value for
        (``probs[np.random.choice(...)]``, an argument), which only the run knows, rather than slicing."""
        if isinstance(key, Tensor):
            return True
        if not isinstance(node, cst.Subscript):
            return False
        indices = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)]
        if key is UNKNOWN and any(isinstance(i, (cst.Name, cst.Attribute, cst.Call)) for i in indices):
            return True  # probs[a], probs[range(n), actions]: an index of the run's (never evaluated twice: a call may build ops)
        if len(node.slice) < 2:
            return False
        names = [i for i in indices if isinstance(i, (cst.Name, cst.Attribute))]
        return any(isinstance(self.eval(n, frame), Tensor) for n in names)

    def unpack(self, value: Any, count: int, frame: Frame) -> Optional[list]:
        """``values, indices = torch.max(x, dim=1)``: the first element is the maximum.
        ``logits, value = self.model(states)``: each output of a model whose forward returns
        that many (an actor-critic's two heads)."""
        if isinstance(value, Tensor) and value.graph is frame.graph:
            outputs = self.model_outputs(value, count, frame)
            if outputs:
                return outputs
        if count == 2 and isinstance(value, Tensor) and value.graph is frame.graph:
            op = value.graph.ops[value.op]
            call = op.attrs.get("call")
            if op.kind is OpKind.REDUCE_MAX and call and (len(call[0]) > 1 or "dim" in call[1]):
                return [self.tensor_op(frame, OpKind.RESHAPE, "getitem", [value], None, model=value.model), UNKNOWN]
        return super().unpack(value, count, frame)

    def loop_item(self, value: Any, stmt: cst.For, frame: Frame) -> Any:
        """``for p in model.parameters()``: p is each parameter of the model; ``for row in x:``
        over a tensor of the code being read: each row is a slice of ``x``."""
        if isinstance(value, Parameters) and value.modules:
            return EveryParam(value.modules)
        if isinstance(value, Tensor) and value.graph is frame.graph:
            return self.tensor_op(frame, OpKind.RESHAPE, "getitem", [value], stmt.iter, {"each_row": True},
                                  model=value.model)
        return super().loop_item(value, stmt, frame)

    def iterate(self, value: Any) -> Optional[list]:
        if isinstance(value, Bound) and value.name == "param_groups":
            return [value]
        if isinstance(value, Layer) and value.children is not None:
            return super().iterate(value.children)
        return super().iterate(value)

    def binary(self, op: Any, left: Any, right: Any, node: cst.CSTNode, frame: Frame) -> Any:
        if op is cst.Add and isinstance(left, Parameters) and isinstance(right, Parameters):
            return _join([left, right])  # list(a.parameters()) + list(b.parameters())
        if isinstance(left, RawData) or isinstance(right, RawData):
            # dividing, subtracting a mean, multiplying by a factor: the data is being scaled
            raw = left if isinstance(left, RawData) else right
            return UNKNOWN if op in (cst.Divide, cst.Subtract, cst.Multiply, cst.FloorDivide) else raw
        if op is cst.Power and isinstance(left, Tensor) and is_static(right) and not isinstance(right, Tensor):
            # x ** 2: replayed as x.pow(2); an even power is never negative
            even = even_number(right)
            return self.tensor_op(frame, OpKind.UNKNOWN, "pow", [left], node,
                                  {"call": recorded_call([left, right], {}, [left]), "weightless": True,
                                   **({"sign": NONNEG} if even else {})})
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            kind = _TENSOR_BINOPS_KIND.get(op, OpKind.UNKNOWN)
            const = right if not isinstance(right, Tensor) else left if not isinstance(left, Tensor) else None
            attrs = {"const": const if is_static(const) else UNKNOWN, "const_left": const is left} if const is not None else {}
            if attrs and attrs["const"] is UNKNOWN and isinstance(node, cst.BinaryOperation):
                written = expression_sign(node.left if const is left else node.right)
                if written is not None:
                    attrs["const_sign"] = written  # x / (2 * sigma ** 2): the scalar's sign, read off the code
            return self.tensor_op(frame, kind, kind.value, [left, right], node, {**attrs, "weightless": True})
        return super().binary(op, left, right, node, frame)

    def unary(self, operator: cst.BaseUnaryOp, value: Any, node: cst.CSTNode, frame: Frame) -> Any:
        """``-x`` on a tensor is ``x * -1``: a MUL by a constant, which the sign analysis and the
        trace both understand."""
        if isinstance(value, Tensor) and isinstance(operator, cst.Minus):
            return self.tensor_op(frame, OpKind.MUL, OpKind.MUL.value, [value], node, {"const": -1, "const_left": False})
        if isinstance(value, Tensor) and isinstance(operator, cst.Plus):
            return value
        return super().unary(operator, value, node, frame)

    # ------------------------------------------------------------------ calls

    def call(self, func: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        self.note_call_keywords(kwargs)
        self.note_training(func, args, kwargs)
        if isinstance(node, cst.Call) and lrs.is_finder(node):  # LRFinder(model, optimizer, ...), tuner.lr_find(model)
            optimizer = next((a for a in [*args, *kwargs.values()] if isinstance(a, Optimizer)), UNKNOWN)
            self.add_lr_schedule(optimizer, "a learning-rate finder", node, frame, True)
        if isinstance(func, External) and func.qualname == "builtins.isinstance" and len(args) == 2:
            return self.isinstance_of(args[0], args[1])
        if isinstance(func, External) and func.qualname == "builtins.type" and len(args) == 1:
            return self.type_of(args[0])
        if isinstance(func, External) and func.qualname in ("builtins.enumerate", "builtins.iter") and args \
                and isinstance(args[0], Loader):
            return args[0]  # enumerate(loader): the loader's batches, numbered
        rows = self.rows_of(func, args, kwargs, node)
        if rows is not None:
            return rows
        joined = _joined_parameters(func, args)
        if joined is not None:
            return joined
        if isinstance(func, External) and not func.qualname.startswith(("builtins.", "math.")) \
                and func.qualname not in IMPORTERS:
            return self.call_external(func.qualname, args, kwargs, node, frame)
        if isinstance(func, Layer):
            return self.apply_layer(func, args, frame, node)
        if isinstance(func, Instance) and func.cls.is_nn_module:
            return self.call_model(func, args, kwargs, node, frame)
        if isinstance(func, Pretrained):
            return self.call_pretrained(func, args, kwargs, node, frame)
        if isinstance(func, ClassRef):
            return self.instantiate(func, args, kwargs, node, frame)
        if isinstance(func, Loss):
            self.use_loss(func, args, node, frame)
            return UNKNOWN
        if isinstance(func, Tensor):
            return self.parameter_model_call(func, args, node, frame)
        if isinstance(func, Transforms):  # transform(img): raw pixels stay raw unless a step scales them
            raw = args[0] if args and isinstance(args[0], RawData) else None
            keeps = "?" not in func.names and not any(n in api.SCALING_TRANSFORMS or n == "ToDtype(scale)" for n in func.names)
            return raw if raw is not None and keeps else UNKNOWN
        if func is UNKNOWN and any(isinstance(v, (Instance, Layer)) for v in [*args, *kwargs.values()]):
            self.training_steps += 1  # a model handed to a function we cannot follow may be trained there
        result = super().call(func, args, kwargs, node, frame)
        if result is UNKNOWN and frame.in_graph and (func is UNKNOWN or isinstance(func, Bound) and func.obj is UNKNOWN):
            return self.opaque(func, args, kwargs, node, frame)
        return result

    @staticmethod
    def rows_of(func: Any, args: list, kwargs: dict, node: cst.Call) -> Optional[Rows]:
        """``len(ds)``, ``X.size(0)``: the number of samples in a data set or tensor, kept
        symbolic so that ``batch_size=len(X_train)`` reads as the whole data set."""
        if not isinstance(node, cst.Call) or kwargs:
            return None
        if isinstance(func, External) and func.qualname == "builtins.len" and len(args) == 1 and len(node.args) == 1:
            if isinstance(args[0], (Tensor, RawData, Dataset, Instance)) or args[0] is UNKNOWN:
                return Rows(args[0], dotted(node.args[0].value))
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "size" and args == [0]:
            owner = func.obj if isinstance(func, Bound) else UNKNOWN
            if isinstance(owner, (Tensor, RawData)) or owner is UNKNOWN:
                return Rows(owner, dotted(node.func.value))
        return None

    def _numpy_draw(self, node: Optional[cst.CSTNode], frame: Frame) -> Optional[dict]:
        """``torch.tensor(np.random.normal(0, 0.01, (784, 10)))``: the draw and its static
        shape, as a CONSTANT op records them; None for any other argument."""
        inner = node.args[0].value if isinstance(node, cst.Call) and node.args and not node.args[0].star else None
        if not isinstance(inner, cst.Call) or not all(_plain(a.value) and not a.star for a in inner.args):
            return None
        func = self.eval(inner.func, frame)
        draw = _NUMPY_DRAWS.get(func.qualname) if isinstance(func, External) else None
        if draw is None:
            return None
        args = [self.eval(a.value, frame) for a in inner.args if a.keyword is None]
        kwargs = {a.keyword.value: self.eval(a.value, frame) for a in inner.args if a.keyword is not None}
        kind, first, second = draw
        if func.qualname.endswith(("randn", "rand")):  # the sizes one by one
            sizes = args
        elif func.qualname.endswith(("zeros", "ones", "random", "standard_normal")):
            sizes = kwargs.get("shape", kwargs.get("size", args[0] if args else None))
        else:  # normal(loc, scale, size), uniform(low, high, size)
            names = ("loc", "scale") if kind == "normal" else ("low", "high")
            first = kwargs.get(names[0], args[0] if args else first)
            second = kwargs.get(names[1], args[1] if len(args) > 1 else second)
            sizes = kwargs.get("size", args[2] if len(args) > 2 else None)
        sizes = [sizes] if isinstance(sizes, int) else sizes
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (first, second))
        if not numbers or not isinstance(sizes, (list, tuple)) or not sizes \
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
            return None
        return {"out_shape": Shape(tuple(sizes)), "draw": (kind, float(first), float(second))}

    def opaque(self, func: Any, args: list, kwargs: dict, node: Optional[cst.CSTNode], frame: Frame,
               name: Optional[str] = None) -> Any:
        """A call nnlint cannot see into (a torchvision or timm backbone, an imported class, a
        library function) on tensors of the model being built: its result is a tensor computed
        by an UNKNOWN op. The chain breaks there and only there: the layers after it are still
        wired, so a final ReLU or a Dropout in the head is still read, while a pattern that
        would have to pass through the unknown op stays silent."""
        tensors = [a for a in [*args, *kwargs.values()] if isinstance(a, Tensor) and a.graph is frame.graph]
        if not tensors:
            return UNKNOWN
        func_node = node.func if isinstance(node, cst.Call) else None
        if isinstance(func_node, cst.Call):  # CustomLayer(units)(x): named by its class
            func_node = func_node.func
        name = (dotted(func_node) if func_node is not None else None) or name or "<unknown>"
        return self.tensor_op(frame, OpKind.UNKNOWN, name, tensors, node)

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
    def type_of(value: Any) -> Any:
        """``type(m)`` / ``m.__class__`` of a layer (its torch class) or a model object (its class)."""
        if isinstance(value, Layer):
            return External(value.qualname)
        if isinstance(value, Instance):
            return value.cls
        return UNKNOWN

    def compare(self, op: cst.BaseCompOp, left: Any, right: Any) -> Any:
        """``type(m) == nn.Linear``, ``type(m) in (nn.Linear, nn.Conv2d)``, ``type(m) is not Net``."""
        def same(a: Any, b: Any) -> Any:
            if isinstance(a, External) and isinstance(b, External):
                return api.canonical(a.qualname) == api.canonical(b.qualname)
            if isinstance(a, (External, ClassRef)) and isinstance(b, (External, ClassRef)):
                return a is b
            return UNKNOWN

        if isinstance(left, (External, ClassRef)):
            if isinstance(op, (cst.Equal, cst.NotEqual, cst.Is, cst.IsNot)) and isinstance(right, (External, ClassRef)):
                found = same(left, right)
                return found if found is UNKNOWN or isinstance(op, (cst.Equal, cst.Is)) else not found
            if isinstance(op, (cst.In, cst.NotIn)) and isinstance(right, (tuple, list)):
                answers = [same(left, r) for r in right]
                found = True if True in answers else UNKNOWN if UNKNOWN in answers else False
                return found if found is UNKNOWN or isinstance(op, cst.In) else not found
        return super().compare(op, left, right)

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
        if qualname in api.MODEL_WRAPPERS and args and isinstance(args[0], (Instance, Layer, Pretrained)):
            return args[0]  # torch.compile(model), DistributedDataParallel(model): the same model
        if api.is_model_factory(qualname):
            return Pretrained(qualname, api.pretrained_head(qualname))
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
        if qualname == "torch.nn.functional.scaled_dot_product_attention" and frame.in_graph:
            return self.attention_dropout(args, kwargs, node, frame)
        if qualname in api.SHAPE_FUNCTIONS:
            tensors = [a for a in args if isinstance(a, Tensor)]
            if tensors:
                return self.tensor_op(frame, OpKind.RESHAPE, qualname, tensors[:1], node,
                                      {"call": recorded_call(args, kwargs, tensors[:1])}, model=tensors[0].model)
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
        if qualname in lrs.TORCH_OVERRIDES:
            self.lr_scheduler(qualname, args, kwargs, node, frame)
            return UNKNOWN
        if qualname in ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad") or (
                qualname in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and args and args[0] is False):
            return NoGrad()
        if qualname in api.DATALOADER:
            return self.record_loader(args, kwargs, node, frame)
        if args and isinstance(args[0], Loader) and qualname.split(".")[0] in ("tqdm", "rich", "itertools"):
            return args[0]  # tqdm(loader): the same batches
        if qualname in api.TENSOR_DATASET:
            self.raw_sink(args[:1], node, frame, "a TensorDataset")  # the inputs; the labels come after
            rows = {self._rows_of(a) for a in args}
            size = rows.pop() if len(rows) == 1 else None  # all tensors agree on their first dimension
            return Dataset("TensorDataset", size, None, None, node, parts=list(args))
        if qualname.startswith(_TORCHVISION_DATASETS):
            return self.make_dataset(qualname.rsplit(".", 1)[-1], args, kwargs, node)
        if qualname in _IMAGE_READERS:
            reader = '.'.join(qualname.rsplit('.', 2)[-2:])
            return RawData(f"image pixels from {reader}() (uint8, 0-255)", node, frame.module.path,
                           bounds=(0, 255), by=f"{reader}()")
        if args and isinstance(args[0], RawData) and (qualname in _KEEP_SCALE or (
                qualname.startswith("cv2.") and qualname != "cv2.normalize")):
            return args[0]  # cv2.resize(img, ...), np.expand_dims(img, 0): still 0-255
        if qualname == "pandas.read_csv" and args and isinstance(args[0], str) \
                and any(w in args[0].lower() for w in _PIXEL_CSV_WORDS):
            return RawData(f"pixel values from {args[0].rsplit('/', 1)[-1]} (0-255)", node, frame.module.path, guess=True)
        if ".functional." in qualname and qualname.startswith(_TRANSFORM_PREFIXES):
            name = qualname.rsplit(".", 1)[-1]  # TF.to_tensor(img) scales; TF.pil_to_tensor(img), TF.resize keep 0-255
            raw = args[0] if args and isinstance(args[0], RawData) else None
            scaled = name in _SCALING_FUNCTIONS and not (name == "to_dtype" and kwargs.get("scale") is not True)
            return raw if raw is not None and not scaled else UNKNOWN
        if qualname.startswith(_TRANSFORM_PREFIXES):
            return self.make_transform(qualname.rsplit(".", 1)[-1], args, kwargs, node)
        if qualname in ("argparse.ArgumentParser",):
            return ArgParser()
        if qualname == "dataclasses.field":
            return kwargs.get("default", UNKNOWN)
        if qualname in tables.LOADERS:
            raw = tables.raw(qualname, node, frame.module.path)
            return (raw, UNKNOWN) if kwargs.get("return_X_y") is True else raw
        if qualname in _SPLITTERS and args and any(isinstance(a, RawData) for a in args):
            # X_train, X_test, y_train, y_test = train_test_split(X, y): raw rows stay raw
            return tuple(part for a in args for part in ((a, a) if isinstance(a, RawData) else (UNKNOWN, UNKNOWN)))
        if qualname in ("torch.autograd.Variable", "torch.autograd.variable.Variable"):
            first = args[0] if args else UNKNOWN
            if kwargs.get("volatile") is True:  # PyTorch < 0.4: a volatile input evaluates, like no_grad
                return self.tensor_op(frame, OpKind.RESHAPE if isinstance(first, Tensor) else OpKind.CONSTANT,
                                      "Variable", [first], node, {"volatile": True},
                                      model=first.model if isinstance(first, Tensor) else None)
            return first if isinstance(first, (Tensor, RawData)) else UNKNOWN
        if qualname in _TO_TENSOR or qualname.startswith("torch.nn.Parameter"):
            first = args[0] if args else UNKNOWN
            if isinstance(first, Tensor) and qualname.startswith("torch.nn.Parameter"):
                _mark_weight(first)
            if isinstance(first, (RawData, Tensor)):
                return first
            if qualname.startswith("torch.") and qualname != "torch.nn.Parameter":
                drawn = self._numpy_draw(node, frame)  # torch.tensor(np.random.normal(0, 0.01, (784, 10)))
                op = frame.graph.add(OpKind.CONSTANT, qualname, attrs=drawn or {}, origin=origin_of(frame, node))
                if kwargs.get("requires_grad") is True:
                    op.attrs["weight"] = True
                return Tensor(frame.graph, op.id)
            return UNKNOWN
        if qualname.rsplit(".", 1)[-1] in _SCALERS and qualname.startswith("sklearn."):
            return UNKNOWN
        if qualname.startswith(("torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.arange", "torch.full")):
            op = frame.graph.add(OpKind.CONSTANT, qualname, attrs={"rows": _rows(qualname, args, kwargs),
                                                                  "out_shape": _static_shape(qualname, args, kwargs),
                                                                  "draw": _TORCH_DRAWS.get(qualname.rsplit(".", 1)[-1])},
                                 origin=origin_of(frame, node))
            if kwargs.get("requires_grad") is True:
                op.attrs["weight"] = True
            return Tensor(frame.graph, op.id)
        if (args[:1] and isinstance(args[0], Parameters)) or isinstance(kwargs.get("params"), Parameters) \
                or _parameters_call(_first_argument(node)):
            # a library's optimizer (aihwkit's AnalogSGD, apex's FusedAdam) is built on a model's
            # parameters: its steps are watched, its hyperparameters not read
            return Optimizer({"type_name": qualname, "guessed": True})
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Instance) and value.cls.is_nn_module and frame.in_graph is False:
                self.model_graph(value)  # passed to unknown code (an optimizer, a trainer): still a model
            if isinstance(value, (Instance, Layer)) and not frame.in_graph:
                self.training_steps += 1  # the unknown code may train it
        tensors = [a for a in args if isinstance(a, Tensor)]
        if tensors and qualname.startswith("torch."):  # its arguments kept, as a method's are (torch.clamp(x, max=1))
            return self.tensor_op(frame, OpKind.UNKNOWN, qualname, tensors, node,
                                  {"call": recorded_call(args, kwargs, tensors), "weightless": True,
                                   **_sign_of(qualname.rsplit(".", 1)[-1]), **_clamp_floor(qualname, args[1:], kwargs)})
        if frame.in_graph:  # a library's function or module (einops, timm, torchvision) on the model's tensors
            return self.opaque(None, args, kwargs, node, frame)
        return UNKNOWN

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if name == "requires_grad_" and isinstance(obj, (Layer, Instance, EveryParam, Param)):
            self.set_requires_grad(obj, args[0] if args else kwargs.get("requires_grad", True))
            return obj
        if name == "requires_grad_" and isinstance(obj, Tensor) and (args[0] if args else kwargs.get("requires_grad", True)) is True:
            _mark_weight(obj)  # W = torch.randn(784, 10) * 0.01; W.requires_grad_(): a weight trained by hand
            return obj
        if name == "backward":
            self.events.backward = True
            self.training_steps += 1
            return None
        if name == "zero_grad":
            self.events.clear(obj.record if isinstance(obj, Optimizer) else None, self.branch_path)
            return None
        if name == "step" and node is not None and self.loops:  # one step alone accumulates nothing
            stepped = self._stepped_optimizer(obj, args, kwargs)
            if stepped is not None:
                shown = obj.record["type_name"] if isinstance(obj, Optimizer) else stepped["type_name"] \
                    if isinstance(stepped, dict) else dotted(node.func.value) if isinstance(node.func, cst.Attribute) else None
                self.events.step(stepped, origin_of(frame, node), self.branch_path, shown or "optimizer")
        if isinstance(obj, Optimizer):
            if name == "step":
                self.training_steps += 1
            return UNKNOWN
        if isinstance(obj, Pretrained):
            return self.pretrained_method(obj, name, args, kwargs, frame)
        if isinstance(obj, Loss):  # criterion.cuda(), criterion.to(device): the same loss; .forward(p, y) applies it
            if name in _SAME_OBJECT:
                return obj
            if name in ("forward", "__call__"):
                self.use_loss(obj, args, node, frame)
            return UNKNOWN
        if name in ("train", "eval") and self._is_parameter(obj):  # def fit(net, ...): net.train()
            mode = args[0] if name == "train" and args else kwargs.get("mode", True) if name == "train" else False
            self.param_modes[id(obj)] = (obj, "unknown" if mode is UNKNOWN else ("train" if truthy(mode) else "eval"))
            return obj
        if isinstance(obj, (Instance, Layer)) and name in ("train", "eval"):
            mode = args[0] if name == "train" and args else kwargs.get("mode", True) if name == "train" else False
            if isinstance(obj, Layer) or obj.cls.is_nn_module:
                for module in self.submodules(obj):  # train()/eval() reach every submodule
                    self.set_mode(module, None if mode is UNKNOWN else ("train" if truthy(mode) else "eval"))
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
            if name in _SAME_OBJECT:
                return obj
            if name == "apply" and args:
                self.apply_fn(self.submodules(obj), args[0], frame)
                return obj
            if name == "modules":
                return self.submodules(obj)
            if name == "forward":  # seq.forward(x): the same as seq(x)
                return self.apply_layer(obj, args, frame, node)
            if name == "parameters" and obj.graph is not None:
                return Parameters(obj.graph, modules=[obj])
            if name == "parameters" and obj.children is None and obj.qualname not in api.CONTAINERS:
                return Parameters(None, layer=obj, modules=[obj])
            if name == "parameters":
                return Parameters(None, modules=[obj])  # a container inside a model: model.features.parameters()
            if name in ("append", "extend", "add_module") and isinstance(obj.children, list):
                items = args[-1:] if name != "extend" else (self.iterate(args[0]) or [UNKNOWN])
                if name == "add_module" and len(args) == 2 and isinstance(args[0], str) \
                        and isinstance(args[1], Layer) and not args[1].label:
                    args[1].label = f"{obj.full_label()}.{args[0]}"  # seq.add_module("fc", ...): seq.fc
                obj.children.extend(items)
                if obj.graph is not None:  # seq = nn.Sequential(); seq.add_module(...): the model grows
                    self._build_sequential(obj)
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
                return Parameters(self.model_graph(obj), modules=[obj] if name == "parameters" else None)
            if name == "forward":
                return self.call_model(obj, args, kwargs, node, frame)
            if name == "__sequential_init__":
                layers = list(args[0].values()) if len(args) == 1 and isinstance(args[0], dict) else list(args)
                for i, layer in enumerate(layers):
                    if isinstance(layer, Layer) and not layer.label:
                        layer.label = f"{obj.cls.name}[{i}]"
                obj.attrs[_SEQUENCE] = layers
                return None
            if name in ("add_module", "register_module") and len(args) == 2 and isinstance(args[0], str):
                self.on_bind(args[0], args[1], frame, owner=obj)
                obj.attrs[args[0]] = args[1]
                return None
        return super().call_method(obj, name, args, kwargs, node, frame)

    @staticmethod
    def _is_parameter(value: Any) -> bool:
        """A function parameter nothing bound (read as a symbolic input): a model, a tensor, anything."""
        return isinstance(value, Tensor) and value.graph.ops[value.op].kind is OpKind.INPUT

    def parameter_model_call(self, func: Tensor, args: list, node: cst.CSTNode, frame: Frame) -> Any:
        """``net(x)`` on a parameter the code put in a mode (``net.train()``): a model whose layers
        are unknown; its output is a tensor nnlint cannot read (UNKNOWN for other parameters).
        Evaluated in training mode, whether dropout or batch norm misbehave is a guess."""
        if id(func) not in self.param_modes:
            return UNKNOWN
        how = self.evaluation(args)
        if how and self.param_modes[id(func)][1] == "train" and node is not None and self.record_once(node, "guess"):
            name = func.graph.ops[func.op].type_name
            record = {"origin": origin_of(frame, node), "model": name, "layers": [],
                      "how": f"{how} in training mode: call {name}.eval() first", "guess": True}
            if self.no_grad:
                self.train_mode_call(record)  # judged with its no_grad block: evaluation, or sampling
            else:
                self.program.train_mode_evaluations.append(record)
        return self.tensor_op(frame, OpKind.UNKNOWN, func.graph.ops[func.op].type_name,
                              [a for a in args if isinstance(a, Tensor)], node)

    def _stepped_optimizer(self, obj: Any, args: list, kwargs: dict) -> Optional[Any]:
        """The optimizer a ``.step()`` call updates: the record of a known one, ``UNKNOWN`` for an
        object nnlint cannot see (a parameter, a library's object) stepped without arguments after
        ``backward()`` (what an optimizer does), None when it is no optimizer step."""
        if isinstance(obj, Optimizer):  # one built by a library on the parameters: any clearing may be its
            return UNKNOWN if obj.record.get("guessed") else obj.record
        given = [a for a in [*args, *kwargs.values()] if isinstance(a, Optimizer)]
        if given:  # scaler.step(optimizer): the optimizer's step, through the scaler
            return UNKNOWN if given[0].record.get("guessed") else given[0].record
        unseen = obj is UNKNOWN or (isinstance(obj, Tensor) and obj.graph.ops[obj.op].kind is OpKind.INPUT)
        return UNKNOWN if unseen and not args and not kwargs and self.events.backward else None

    # ------------------------------------------------------------------ layers and graphs

    def make_layer(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Layer:
        kind, params, defaults = api.LAYERS[qualname]
        attrs: dict[str, Any] = dict(defaults)
        if "*" in kwargs or "**" in kwargs:
            attrs = {k: UNKNOWN for k in (*params, *defaults)}
        for name, value in zip(params, args):
            attrs[name] = value
        attrs.update({k: v for k, v in kwargs.items() if k not in ("*", "**")})
        if "*" not in kwargs and "**" not in kwargs:
            attrs["call"] = (list(args), dict(kwargs))  # for --trace, which rebuilds the layer
        if kind is OpKind.IDENTITY:
            attrs["placeholder"] = True  # nn.Identity stands where another configuration puts a layer
        layer = Layer(qualname, kind, attrs, node, frame.module.path, fresh=self.forwards > 0,
                      branches=self.open_branches() if self.uncertain else ())
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
        self._build_sequential(layer)
        graph.instantiated = True
        self.program.graphs.append(graph)
        self.program.instantiated.append(graph)

    def _build_sequential(self, layer: Layer) -> None:
        """(Re)build the graph of a Sequential model from its children as they are now."""
        graph = layer.graph
        graph.ops.clear()
        graph._consumers = graph._by_kind = None
        x = Tensor(graph, graph.add(OpKind.INPUT, "input").id)
        frame = Frame(self.entry, graph, {}, in_graph=True)
        out = self.apply_layer(layer, [x], frame, None)
        graph.outputs = [out.op] if isinstance(out, Tensor) else []
        graph.inputs = [x.op]

    def apply_layer(self, layer: Layer, args: list, frame: Frame, node: Optional[cst.CSTNode], parent: Optional[Layer] = None) -> Any:
        graph = frame.graph
        x = args[0] if args else UNKNOWN
        if not frame.in_graph and layer.graph is not None:
            return self.model_output(layer.graph, args, node, frame, self.call_mode(layer))
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
        if layer.fresh and layer.kind is OpKind.DROPOUT and layer.qualname == "torch.nn.Dropout" and inputs:
            return self.fresh_dropout(layer, x, frame, node)
        attrs = dict(layer.attrs)
        attrs["inits"] = layer.inits  # shared: init calls made after the graph was built still count
        attrs["grads"] = layer.grads  # shared too: freezing and optimizers come after the model is built
        attrs["module"] = id(layer)  # one module called several times in forward: ops of one layer
        attrs["out_shape"] = layer_shape(layer.kind, layer.short, layer.attrs,
                                         shape_of(graph.ops[inputs[0]]) if inputs else None)
        op = graph.add(layer.kind, layer.qualname, inputs, attrs=attrs, origin=Origin(layer.path, layer.node),
                       label=self.label_of(layer, parent))
        out = Tensor(graph, op.id, model=x.model if isinstance(x, Tensor) else None)
        if layer.kind is OpKind.RNN or layer.qualname.endswith("MultiheadAttention"):
            rest = graph.add(OpKind.UNKNOWN, "rnn-state", [op.id], attrs={"weightless": True})
            return (out, Tensor(graph, rest.id))
        return out

    def fresh_dropout(self, layer: Layer, x: Tensor, frame: Frame, node: Optional[cst.CSTNode]) -> Tensor:
        """``nn.Dropout(p)(x)`` in a forward: a module nobody registered, so ``model.eval()`` never
        reaches it; it is ``F.dropout(x, p)`` with training left at True, and is read as that."""
        p = layer.attrs.get("p", 0.5)
        attrs = {"p": p, "training": True, "training_given": False, "call": ([InputRef(0), p], {}),
                 "spelled": f"a new {layer.short}(...)", "why": "is built and applied on the spot, where no eval() reaches it"}
        return self.tensor_op(frame, OpKind.DROPOUT, "torch.nn.functional.dropout", [x], layer.node or node, attrs,
                              model=x.model)

    def attention_dropout(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``F.scaled_dot_product_attention(q, k, v, dropout_p=...)``: the attention (unknown to the
        IR) followed by the dropout on its weights, which no mode turns off: only a ``dropout_p``
        that depends on ``self.training`` (``p if self.training else 0.0``) is gated."""
        tensors = [a for a in args if isinstance(a, Tensor)]
        out = self.tensor_op(frame, OpKind.UNKNOWN, "torch.nn.functional.scaled_dot_product_attention", tensors, node)
        p = kwargs.get("dropout_p", args[4] if len(args) > 4 else 0.0)
        expr = call_argument(node, 4, "dropout_p")
        if expr is None or p == 0:
            return out
        gated = self._gated(expr)
        attrs = {"p": p, "training": UNKNOWN if gated else True, "training_given": gated,
                 "spelled": "F.scaled_dot_product_attention", "why": "has dropout_p= not gated on self.training"}
        return self.tensor_op(frame, OpKind.DROPOUT, "torch.nn.functional.scaled_dot_product_attention", [out],
                              node, attrs, model=tensors[0].model if tensors else None)

    def _gated(self, expr: cst.BaseExpression) -> bool:
        """Whether a dropout probability as written may depend on the mode: a conditional, a
        mention of ``training``, or a local name whose assignments in the running function do
        (``p = self.p if self.training else 0.0``); a name the function does not assign (a
        parameter) is unknown, and counts as gated."""
        if isinstance(expr, (cst.IfExp, cst.BooleanOperation)) or "training" in _mentioned(expr):
            return True
        if not isinstance(expr, cst.Name):
            return False
        values = _assigned_in(self.stack[-1], expr.value) if self.stack else []
        return not values or any(self._gated(v) for v in values if not isinstance(v, cst.Name) or v.value != expr.value)

    def call_model(self, inst: Instance, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if frame.in_graph and inst.cls.name.lower().endswith(("norm", "normalization")):
            # a project's own LayerNorm/RMSNorm class (nanoGPT, LLaMA): a norm, whatever its code
            tensors = [a for a in args if isinstance(a, Tensor)][:1]
            op = frame.graph.add(OpKind.LAYER_NORM, inst.cls.name, [t.op for t in tensors if t.graph is frame.graph],
                                 origin=origin_of(frame, node), label=inst.cls.name)
            return Tensor(frame.graph, op.id)
        if frame.in_graph and not inst.building and self._sequence(inst) is not None:
            return self._run_sequence(self._sequence(inst), args[0] if args else UNKNOWN, frame, node)
        if frame.in_graph and not inst.building:
            forward = forward_of(inst.cls)
            if not isinstance(forward, FunctionRef):
                return self.tensor_op(frame, OpKind.UNKNOWN, inst.cls.name, [a for a in args if isinstance(a, Tensor)], node)
            inst.building = True
            self.forwards += 1
            try:
                return self.call_function(forward, [inst, *args], kwargs, frame, graph=frame.graph)
            finally:
                inst.building = False
                self.forwards -= 1
        graph = self.model_graph(inst)
        return self.model_output(graph, args, node, frame, self.call_mode(inst))

    def call_pretrained(self, model: Pretrained, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """A library model on tensors: its body is an UNKNOWN op; a head the code put in place
        of the one its forward ends with (``model.fc = ...``) is applied after it."""
        if not frame.in_graph:
            if model.graph is None:
                model.graph = self.pretrained_graph(model)
            return self.model_output(model.graph, args, node, frame, model.mode)
        x = self.opaque(None, args, kwargs, node, frame, name=model.qualname)  # by its library name where no call names it
        head = model.attrs.get(model.head) if model.head else None
        if isinstance(x, Tensor) and isinstance(head, Layer):
            return self.apply_layer(head, [x], frame, None)
        if isinstance(x, Tensor) and isinstance(head, Instance) and head.cls.is_nn_module:
            return self.call_model(head, [x], {}, node, frame)
        return x

    def pretrained_graph(self, model: Pretrained) -> ModelGraph:
        """The graph of a library model the training code uses directly (``model(x)``)."""
        graph = ModelGraph(name=model.name or model.qualname.rsplit(".", 1)[-1], path=self.entry.path, is_model=True)
        frame = Frame(self.entry, graph, {}, in_graph=True, name="forward")
        x = Tensor(graph, graph.add(OpKind.INPUT, "input").id)
        out = self.call_pretrained(model, [x], {}, None, frame)  # type: ignore[arg-type]
        graph.inputs = [x.op]
        graph.outputs = [out.op] if isinstance(out, Tensor) else []
        graph.instantiated = True
        model.mode = model.mode or "train"
        self.program.graphs.append(graph)
        self.program.instantiated.append(graph)
        return graph

    def pretrained_method(self, model: Pretrained, name: str, args: list, kwargs: dict, frame: Frame) -> Any:
        if name in ("train", "eval"):
            mode = args[0] if name == "train" and args else kwargs.get("mode", True) if name == "train" else False
            model.mode = None if mode is UNKNOWN else ("train" if truthy(mode) else "eval")
            return model
        if name in ("to", "cuda", "cpu", "float", "double", "half", "requires_grad_"):
            return model
        if name in ("parameters", "named_parameters") and not frame.in_graph:
            if model.graph is None:
                model.graph = self.pretrained_graph(model)
            return Parameters(model.graph)
        if name == "modules":
            return self.submodules(model)
        if name == "apply" and args:
            self.apply_fn(self.submodules(model), args[0], frame)
            return model
        if name == "forward":
            return self.call_pretrained(model, args, kwargs, None, frame)  # type: ignore[arg-type]
        return UNKNOWN

    def model_output(self, graph: ModelGraph, args: list, node: Optional[cst.CSTNode], frame: Frame,
                     mode: Optional[str] = None) -> Tensor:
        """The result of calling a model from training code: a tensor tagged with the model."""
        how = self.evaluation(args)
        if how and mode == "train" and node is not None and self.record_once(node):
            layers = sorted({op.type_name.rsplit(".", 1)[-1] for op in graph.find(OpKind.DROPOUT, OpKind.BATCH_NORM)
                             if _follows_mode(op)})
            if layers:
                record = {"origin": origin_of(frame, node), "model": graph.name, "layers": layers,
                          "how": f"{how} in training mode: call {graph.name}.eval() first"}
                if not self.no_grad:  # a phase named for evaluation, a volatile input: the code says so itself
                    self.program.train_mode_evaluations.append(record)
                else:
                    self.train_mode_call(record)
                    if isinstance(node, cst.Call) and any(evaluation_data(UNKNOWN, a.value) for a in node.args):
                        self.evaluates()  # net(x_val), model(test_images): predictions on held-out data
        for raw in (a for a in args if isinstance(a, RawData)):
            self.raw_reaches(raw, node, frame, f"the model {graph.name}", graph)
        inputs = [a.op for a in args if isinstance(a, Tensor) and a.graph is frame.graph]
        # its arguments, for criterion(model(x), x) (a reconstruction); by name too, for values
        # nnlint does not know (a batch from a loader)
        names = [dotted(a.value) for a in node.args if a.keyword is None] if isinstance(node, cst.Call) else []
        op = frame.graph.add(OpKind.UNKNOWN, f"{graph.name}(...)", inputs,
                             attrs={"model_call": graph, "arguments": list(args), "argument_names": names})
        return Tensor(frame.graph, op.id, model=graph)

    def model_outputs(self, t: Tensor, count: int, frame: Frame) -> Optional[list]:
        """The outputs of the model call ``t`` is, one tensor each, where its forward returns
        ``count`` of them. Each is an op of its own (``attrs["output"]``: which one), opaque to
        the checks that look through reshapes at a model's call (a loss on the value head is
        not a loss on the model's single output); ``ModelGraph.computed_by`` follows it into
        the model's output."""
        model = t.graph.ops[t.op].attrs.get("model_call")
        if not isinstance(model, ModelGraph) or count < 2 or len(model.outputs) != count:
            return None
        return [Tensor(frame.graph, frame.graph.add(OpKind.UNKNOWN, f"{model.name}(...)[{i}]", [t.op],
                                                     attrs={"output": i, "weightless": True}).id)
                for i in range(count)]

    def model_graph(self, inst: Instance) -> ModelGraph:
        """Build (once) the graph of a model instance by running its forward on symbolic inputs."""
        if inst.graph is not None:
            return inst.graph
        graph = ModelGraph(name=inst.cls.name, path=inst.cls.module.path, is_model=True)
        inst.graph = graph
        self.program.graphs.append(graph)
        forward = forward_of(inst.cls)
        layers = self._sequence(inst)
        if layers is not None:
            frame = Frame(inst.cls.module, graph, {}, self_obj=inst, in_graph=True, name="forward")
            x = Tensor(graph, graph.add(OpKind.INPUT, "input").id)
            graph.inputs = [x.op]
            out = self._run_sequence(layers, x, frame, None)
            graph.outputs = [out.op] if isinstance(out, Tensor) else []
            return graph
        if not isinstance(forward, FunctionRef) or forward.node is None:
            graph.complete = False
            return graph
        frame = Frame(forward.module, graph, {}, self_obj=inst, in_graph=True, name="forward")
        frame.owner = forward.owner
        self.bind_params(forward.node, [inst], {}, frame)
        graph.inputs = [op.id for op in graph.find(OpKind.INPUT)]
        inst.building = True
        self.forwards += 1
        try:
            result = self.run_function(forward.node, frame)
        except BudgetExceeded:
            raise
        except Exception:
            graph.complete = False
            return graph
        finally:
            inst.building = False
            self.forwards -= 1
        outputs = result if isinstance(result, (tuple, list)) else [result]
        graph.outputs = [t.op for t in outputs if isinstance(t, Tensor) and t.graph is graph]
        return graph

    def instantiate(self, cls: ClassRef, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if not cls.is_nn_module:
            cls.is_nn_module = any(self.is_module_base(b) for b in cls.bases)
        if cls.is_nn_module and isinstance(frame.self_obj, Instance) and frame.self_obj.cls.is_nn_module:
            self.program.submodule_classes.add(cls.name)  # built inside another module
            return self.reuse.build(self, cls, args, kwargs, frame,
                                    lambda: super(TorchInterpreter, self).instantiate(cls, args, kwargs, node, frame))
        inst = super().instantiate(cls, args, kwargs, node, frame)
        if cls.is_nn_module and frame.self_obj is None and not frame.in_graph:
            inst.mode = "train"  # a new module is in training mode
            graph = self.model_graph(inst)
            graph.instantiated = True
            if graph not in self.program.instantiated:
                self.program.instantiated.append(graph)
        return inst

    @staticmethod
    def _rows_of(value: Any) -> Optional[int]:
        """The first dimension of a tensor the code created with a static shape (torch.randn(1001, 8))."""
        if isinstance(value, Tensor):
            rows = value.graph.ops[value.op].attrs.get("rows")
            return rows if isinstance(rows, int) else None
        return None

    def external_super(self, obj: Super, name: str) -> Any:
        """``super().__init__(*layers)`` in a subclass of ``nn.Sequential``: the layers, in order."""
        if name == "__init__" and self._derives(obj.cls, {"torch.nn.Sequential"}):
            return Bound(obj.obj, "__sequential_init__")
        return UNKNOWN

    def _sequence(self, inst: Instance) -> Optional[list]:
        """The layers of an ``nn.Sequential`` subclass that has no forward of its own."""
        layers = inst.attrs.get(_SEQUENCE)
        return layers if isinstance(layers, list) and not isinstance(forward_of(inst.cls), FunctionRef) else None

    def _run_sequence(self, layers: list, x: Any, frame: Frame, node: Optional[cst.CSTNode]) -> Any:
        for child in layers:
            if isinstance(child, Layer):
                x = self.apply_layer(child, [x], frame, None)
            elif isinstance(child, Instance) and child.cls.is_nn_module:
                x = self.call_model(child, [x], {}, node, frame)
            else:
                x = self.tensor_op(frame, OpKind.UNKNOWN, "?", [x] if isinstance(x, Tensor) else [], node)
        return x

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
            elif isinstance(value, Pretrained):  # the layers the code put in, at least
                for attr in value.attrs.values():
                    visit(attr)
            elif isinstance(value, list):
                for item in value:
                    visit(item)

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
        if self.quiet_blocks and type_name.rsplit(".", 1)[-1] in _METRICS:
            self.evaluates()  # preds.argmax(1), torch.max(out, 1): scoring predictions
        ids = [t.op for t in inputs if isinstance(t, Tensor) and t.graph is graph]
        attrs = attrs or {}
        if len(ids) < sum(isinstance(t, Tensor) for t in inputs):
            attrs["foreign"] = True  # x @ self.w: a tensor from outside the graph (a parameter, a buffer)
        attrs["out_shape"] = op_shape(kind, type_name, [shape_of(graph.ops[i]) for i in ids], attrs.get("call"), attrs)
        if frame.in_graph and any(_implies_training(test, side, frame) for test, side in frame.conditions):
            attrs["train_only"] = True  # under `if self.training:`: this op never runs in eval mode
        op = graph.add(kind, type_name, ids, attrs=attrs, origin=origin_of(frame, node))
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
        if kind is OpKind.MATMUL and len(args) == 2 and args[0] is UNKNOWN and isinstance(args[1], Tensor):
            rows = _hand_weight_rows(args[1])
            if rows is not None:  # torch.mm(X.view(-1, 784), W) of data nnlint does not follow: the model's input
                graph = args[1].graph
                data = graph.add(OpKind.INPUT, "data", attrs={"sample_shape": (rows,)}, origin=origin_of(frame, node))
                args = [Tensor(graph, data.id), args[1]]
        tensors = [a for a in args if isinstance(a, Tensor)]
        if kind is OpKind.CONCAT and args and isinstance(args[0], (list, tuple)):
            tensors = [a for a in args[0] if isinstance(a, Tensor)]  # torch.cat([a, b], dim=1)
            if len(tensors) != len(args[0]):
                return UNKNOWN
        if not tensors and not any(isinstance(a, Tensor) for a in kwargs.values()):
            return UNKNOWN
        if not tensors:
            tensors = [v for v in kwargs.values() if isinstance(v, Tensor)][:1]
        inputs = tensors if kind in (OpKind.CONCAT, OpKind.MATMUL, OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV) else tensors[:1]
        attrs["call"] = recorded_call(args, kwargs, inputs)
        kind = self._exp_of_log_softmax(kind, inputs[0], attrs, frame)
        keep_model = kind in (OpKind.DROPOUT,) and tensors[0].model is not None
        return self.tensor_op(frame, kind, qualname, inputs, node, attrs, model=tensors[0].model if keep_model else None)

    def tensor_method(self, t: Tensor, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if name in api.SHAPE_METHODS:
            return self.tensor_op(frame, OpKind.RESHAPE, name, [t], node, {"call": recorded_call([t, *args], kwargs, [t])},
                                  model=t.model)
        kind = api.METHODS.get(name)
        if kind is not None:
            attrs: dict[str, Any] = {}
            if kind in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX):
                attrs["dim"] = kwargs.get("dim", args[0] if args else None)
            others = [a for a in args if isinstance(a, Tensor)]
            attrs["call"] = recorded_call([t, *args], kwargs, [t, *others])
            kind = self._exp_of_log_softmax(kind, t, attrs, frame)
            result = self.tensor_op(frame, kind, name, [t, *others], node, attrs)
            self._in_place(name, node, result, frame)
            return result
        if name == "size" and not args and not kwargs:
            return Bound(t, "shape")  # x.size() is x.shape
        if name in ("size", "dim", "item", "numel", "tolist", "numpy", "backward", "shape"):
            return UNKNOWN
        result = self.tensor_op(frame, OpKind.UNKNOWN, name, [t], node,  # a tensor method: no weights of its own
                                {"call": recorded_call([t, *args], kwargs, [t]), "weightless": True, **_sign_of(name),
                                 **_clamp_floor(name, args, kwargs)})
        self._in_place(name, node, result, frame)
        return result

    def _in_place(self, name: str, node: cst.CSTNode, result: Tensor, frame: Frame) -> None:
        """``x.exp_()``, ``x.clamp_(0.01, 0.99)``, ``x.data.clamp_(...)``: an in-place method
        changes the variable's values, so ``x`` is the result from here on (a log of ``x`` after
        a clamp is not a log of what was clamped)."""
        if not name.endswith("_") or not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return
        target = node.func.value
        while isinstance(target, cst.Attribute) and target.attr.value == "data":
            target = target.value
        if isinstance(target, cst.Name):
            self.assign(target, result, frame)

    @staticmethod
    def _exp_of_log_softmax(kind: OpKind, x: Any, attrs: dict, frame: Frame) -> OpKind:
        """``torch.exp(log_softmax(z))`` is ``softmax(z)``: probabilities, spelled stably."""
        if kind is not OpKind.EXP or not isinstance(x, Tensor) or x.graph is not frame.graph:
            return kind
        source = x.graph.unshape(x.graph.ops[x.op])
        if source.kind is not OpKind.LOG_SOFTMAX:
            return kind
        attrs["dim"] = source.attrs.get("dim")
        return OpKind.SOFTMAX

    # ------------------------------------------------------------------ entry point

    def analyze(self) -> None:
        """Run the module, then every function and model class it defines that nothing ran."""
        module = self.entry
        try:
            self.unit(lambda: self.module_globals(module))
            if module.graph is not None and module.graph.ops:
                self.program.graphs.append(module.graph)  # top-level tensor code: scripts, notebooks
            glob = module.globals
            for value in list(glob.values()):
                if isinstance(value, ClassRef) and value.module is module and value.is_nn_module:
                    self.class_graph(value)
            for value in list(glob.values()):
                if isinstance(value, FunctionRef) and value.module is module and value.node not in self.inlined:
                    self.standalone(value, None)
                elif isinstance(value, ClassRef) and value.module is module:
                    self.standalone_methods(value)
            self.headed_models()
        except AnalysisTimeout:
            raise  # the engine reports the file as NN904
        except BudgetExceeded:
            self.program.trains = True  # the rest of the file was not read
            self.optimized_unknown = True
            for graph in self.program.graphs:
                graph.complete = False
        self.mark_untrained()

    def headed_models(self) -> None:
        """A library model given a new head that no code here calls or trains (a factory such as
        ``def resnet50(n): m = torchvision.models.resnet50(); m.fc = nn.Sequential(...); return m``,
        used from another file) is still a model of this file: its graph is the unknown body
        followed by the head, as when training code calls it, so the head's layers are in a model
        that ``--trace`` can rebuild in part (the head, fed stand-in features)."""
        for model in self.new_heads.values():
            if model.graph is None:
                model.graph = self.pretrained_graph(model)

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
        frame.owner = func.owner
        self.bind_params(func.node, [self_obj] if self_obj is not None else [], {}, frame)
        for param in (*func.node.params.params, *func.node.params.kwonly_params):
            if isinstance(param.default, cst.Name) and param.default.value == "None":
                frame.locals[param.name.value] = UNKNOWN  # val_loader=None: nothing says no caller passes one
        try:
            self.unit(lambda: self.run_function(func.node, frame))
        except BudgetExceeded:
            raise
        except Exception:
            return
        if graph.ops:
            self.program.graphs.append(graph)

    def standalone_methods(self, cls: ClassRef) -> None:
        """The methods nothing here called, on an instance of their class. A plain class (an RL
        agent holding ``self.policy_net``, a trainer holding ``self.model``) is constructed by
        its ``__init__`` with every argument unknown, so its methods read the models and
        optimizers it sets, as they would after any caller's construction; values that come
        from the arguments stay unknown (never the defaults, which a caller may override)."""
        inst = self.class_instances.get(cls.name)
        if inst is None:
            inst = Instance(cls)
            init = cls.lookup("__init__")
            if isinstance(init, FunctionRef) and not cls.is_nn_module:
                frame = Frame(cls.module, ModelGraph(name=cls.name, path=cls.module.path), {}, name="__init__")
                try:
                    self.unit(lambda: self.call_function(init, [inst], {"**": UNKNOWN}, frame))
                except BudgetExceeded:
                    raise
                except Exception:
                    inst = Instance(cls)
        for name, value in list(cls.attrs.items()):
            if isinstance(value, FunctionRef) and name not in ("__init__", "forward", "call") and value.node not in self.inlined:
                self.standalone(value, inst)


def _modules_of(params: Any) -> Optional[list]:
    """The modules an optimizer's parameters come from: ``model.head.parameters()``, lists of
    them, param groups (``[{"params": ...}, ...]``); None when any part is not known."""
    if isinstance(params, Parameters):
        return params.modules or None
    if isinstance(params, dict):
        return _modules_of(params.get("params", UNKNOWN))
    if isinstance(params, (list, tuple)) and params:
        parts = [_modules_of(p) for p in params]
        return None if any(p is None for p in parts) else [m for p in parts for m in p]
    return None


def _join(parts: list) -> Parameters:
    modules = [m for p in parts for m in p.modules] if all(p.modules for p in parts) else None
    return Parameters(None, modules=modules)


def _joined_parameters(func: Any, args: list) -> Optional[Parameters]:
    """``list(m.parameters())``, ``filter(fn, m.parameters())`` (a subset: frozen ones dropped),
    ``itertools.chain(a.parameters(), b.parameters())``: the same parameters, still tied to
    their modules."""
    if not isinstance(func, External):
        return None
    if func.qualname in ("builtins.list", "builtins.tuple") and len(args) == 1 and isinstance(args[0], Parameters):
        return args[0]
    if func.qualname == "builtins.filter" and len(args) == 2 and isinstance(args[1], Parameters):
        return args[1]
    if func.qualname in ("itertools.chain", "itertools.chain.from_iterable") and args \
            and all(isinstance(a, Parameters) for a in args):
        return _join(args)
    return None


def _calls_in(nodes: Any) -> list[cst.Call]:
    """The calls in some statements or expressions, in order."""
    # a function defined there is not run there
    return [node for node in walk(nodes, skip=(cst.FunctionDef,)) if isinstance(node, cst.Call)]


#: Words that name a normalisation in identifiers (``norm_layer``, ``bn1``, ``BatchNorm``).
_NORM_WORDS = frozenset({"norm", "bn", "batchnorm", "layernorm", "groupnorm", "instancenorm", "normalization",
                         "normalisation", "ln", "gn"})


def _words(name: str) -> set[str]:
    """``build_norm_layer`` -> {build, norm, layer}; ``BatchNorm2d`` -> {batch, norm, 2d, batchnorm2d...}:
    an identifier's words, split at underscores, digits and capitals, lower-cased."""
    return identifier_words(name) | {re.sub(r"\d+$", "", p.lower()) for p in name.split("_") if p}


def _mentioned(expr: cst.CSTNode) -> set[str]:
    """The plain names and attribute names an expression mentions."""
    return {node.value for node in walk([expr]) if isinstance(node, cst.Name)}


def _assigned_in(function: cst.CSTNode, name: str) -> list[cst.BaseExpression]:
    """The expressions ``name = ...`` assigns anywhere in a function's body."""
    found: list[cst.BaseExpression] = []
    for n in walk([function]):
        if isinstance(n, cst.Assign):
            if any(isinstance(t.target, cst.Name) and t.target.value == name for t in n.targets):
                found.append(n.value)
        elif isinstance(n, cst.AnnAssign):
            if isinstance(n.target, cst.Name) and n.target.value == name and n.value is not None:
                found.append(n.value)
    return found


def _first_argument(node: Any) -> Optional[cst.BaseExpression]:
    if isinstance(node, cst.Call):
        for arg in node.args:
            if arg.keyword is None and not arg.star or arg.keyword is not None and arg.keyword.value == "params":
                return arg.value
    return None


def _parameters_call(expr: Optional[cst.BaseExpression]) -> bool:
    """``model.parameters()`` spelled out, on a model nnlint may not know (a library's layer)."""
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
        and expr.func.attr.value in ("parameters", "named_parameters")


def _rows(qualname: str, args: list, kwargs: dict) -> Optional[int]:
    """The first dimension of ``torch.randn(N, ...)``, ``torch.zeros((N, ...))``, ``torch.randint(lo, hi, (N,))``."""
    if qualname.endswith(("arange", "full")):
        return None
    shape = kwargs.get("size", args[0] if args else None)
    if isinstance(shape, (tuple, list)):
        shape = shape[0] if shape else None
    return shape if isinstance(shape, int) and not isinstance(shape, bool) and shape > 0 else None


#: Tensor operations that turn predictions into a metric (class picks, top-k, equality).
_METRICS = frozenset({"argmax", "argmin", "topk", "eq", "max", "accuracy"})


def _follows_mode(op: Any) -> bool:
    """Whether ``model.eval()`` changes what the op does: not for a dropout of probability 0,
    nor for ``F.dropout(x, p)`` whose ``training`` is a constant (always on, or always off;
    dropout-always-active reports the first); under ``if self.training:`` it does."""
    if _inactive(op):
        return False
    return not (op.kind is OpKind.DROPOUT and isinstance(op.attrs.get("training"), bool)
                and not op.attrs.get("train_only"))


def _inactive(op: Any) -> bool:
    """A dropout whose probability is a static 0 (``nn.Dropout(0)``, ``dropout=0.0`` by config):
    it drops nothing in either mode."""
    p = op.attrs.get("p")
    return op.kind is OpKind.DROPOUT and isinstance(p, (int, float)) and not isinstance(p, bool) and p == 0


#: How the tensor-creating functions draw their values: (distribution, its two parameters).
_TORCH_DRAWS = {"randn": ("normal", 0.0, 1.0), "rand": ("uniform", 0.0, 1.0), "zeros": ("uniform", 0.0, 0.0),
                "ones": ("uniform", 1.0, 1.0), "empty": ("uniform", 0.0, 0.0)}


#: numpy's draws: their name, the distribution, and the defaults of its two parameters.
_NUMPY_DRAWS = {"numpy.random.normal": ("normal", 0.0, 1.0), "numpy.random.uniform": ("uniform", 0.0, 1.0),
                "numpy.random.randn": ("normal", 0.0, 1.0), "numpy.random.standard_normal": ("normal", 0.0, 1.0),
                "numpy.random.rand": ("uniform", 0.0, 1.0), "numpy.random.random": ("uniform", 0.0, 1.0),
                "numpy.zeros": ("uniform", 0.0, 0.0), "numpy.ones": ("uniform", 1.0, 1.0)}


#: what a weight made by hand goes through between its draw and its use: scaling by a number,
#: a cast, a move
_ON_THE_WAY = frozenset({"float", "double", "half", "to", "cuda", "cpu", "type", "contiguous", "detach", "clone"})


def _drawn(tensor: Tensor) -> Optional[Any]:
    """The CONSTANT op a tensor was drawn by (``torch.randn(784, 10) * 0.01``,
    ``torch.from_numpy(np.random.normal(...)).float()``), else None."""
    op = tensor.graph.ops.get(tensor.op)
    while op is not None and len(op.inputs) == 1 and (
            op.kind in (OpKind.MUL, OpKind.DIV, OpKind.ADD, OpKind.SUB)
            or (op.kind is OpKind.RESHAPE and op.type_name in _ON_THE_WAY)):
        op = tensor.graph.ops.get(op.inputs[0])
    return op if op is not None and op.kind is OpKind.CONSTANT and not op.inputs and op.attrs.get("draw") else None


def _mark_weight(tensor: Tensor) -> None:
    """A tensor made with a static shape and trained by hand (``requires_grad``, a Parameter):
    the trace can make it, as the code does (drawn weights, :mod:`nnlint.trace.build`)."""
    op = _drawn(tensor)
    if op is not None:
        op.attrs["weight"] = True


def _hand_weight_rows(tensor: Tensor) -> Optional[int]:
    """The rows of a 2-D weight made and trained by hand (:func:`_mark_weight`), else None."""
    op = _drawn(tensor)
    dims = getattr(op.attrs.get("out_shape"), "dims", ()) if op is not None else ()
    if op is None or not op.attrs.get("weight") or len(dims) != 2:
        return None
    return dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None


def _plain(node: cst.BaseExpression) -> bool:
    """An argument made of names and numbers only: evaluating it again runs nothing."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.Attribute)):
        return True
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(_plain(e.value) for e in node.elements)
    if isinstance(node, cst.UnaryOperation):
        return _plain(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return _plain(node.left) and _plain(node.right)
    return False


def _static_shape(qualname: str, args: list, kwargs: dict) -> Optional[Shape]:
    """``torch.randn(4, 8)``, ``torch.zeros((4, 8))``: the shape, when every size is a constant."""
    if qualname.endswith(("arange", "full", "_like", "randint")):
        return None
    sizes = kwargs.get("size", args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)
    if isinstance(sizes, (tuple, list)) and sizes and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        return Shape(tuple(sizes))
    return None


def _sign_of(name: str) -> dict:
    """``{"sign": ...}`` for a function or method without an op kind whose output range is
    known (``abs``, ``logsigmoid``), else ``{}``."""
    sign = api.SIGNS.get(name)
    return {"sign": sign} if sign is not None else {}


#: Methods of a module (or loss) that return the module itself, moved or cast.
_SAME_OBJECT = frozenset({"to", "cuda", "cpu", "train", "eval", "float", "double", "half", "requires_grad_"})

#: Where an ``nn.Sequential`` subclass keeps the layers it passed to ``super().__init__``.
_SEQUENCE = "__nnlint_sequence__"

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


def recorded_call(args: list, kwargs: dict, inputs: list) -> tuple[list, dict]:
    """A call's arguments with each tensor replaced by its :class:`InputRef`, for --trace to replay,
    also inside a list or tuple (``torch.cat([a, b], 1)``).

    ``inputs`` are the tensors that become the op's inputs, in order; a tensor that is not
    among them (from another graph) stays a ``Tensor`` and makes the call unreplayable.
    """

    def ref(value: Any) -> Any:
        if isinstance(value, Tensor):
            for index, t in enumerate(inputs):
                if t is value:
                    return InputRef(index)
        if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
            return type(value)(ref(v) for v in value)
        return value

    return [ref(a) for a in args], {k: ref(v) for k, v in kwargs.items()}


def _implies_training(test: cst.BaseExpression, side: bool, frame: Frame) -> bool:
    """Whether ``test`` having come out ``side`` means the module runs in training mode:
    ``self.training``, ``self.training and p > 0``, ``not self.training`` false, and so on."""
    if isinstance(test, cst.Attribute) and test.attr.value == "training":
        owner = test.value
        return side and isinstance(owner, cst.Name) and frame.self_obj is not None \
            and frame.locals.get(owner.value) is frame.self_obj
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _implies_training(test.expression, not side, frame)
    if isinstance(test, cst.BooleanOperation):
        # `a and b` true means both are true; `a or b` false means both are false
        if isinstance(test.operator, cst.And) == side:
            return _implies_training(test.left, side, frame) or _implies_training(test.right, side, frame)
    return False


def forward_of(cls: ClassRef) -> Any:
    """A module's forward: ``forward`` in PyTorch, ``call`` in a subclassed Keras model."""
    forward = cls.lookup("forward")
    return forward if isinstance(forward, FunctionRef) else cls.lookup("call")


def even_number(value: Any) -> bool:
    """2, 4, 2.0: an exponent that makes any base non-negative."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer() \
        and int(value) % 2 == 0


def expression_sign(expr: cst.BaseExpression) -> Optional[str]:
    """The sign of a scalar expression nnlint cannot evaluate, read off how it is written:
    ``2 * sigma ** 2``, ``tf.pow(s, 2.0)``, ``abs(t) + 1e-8`` are never negative whatever the
    names hold; anything else is unknown (None)."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        return NONNEG if expr.evaluated_value >= 0 else NONPOS
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = expression_sign(expr.expression)
        return None if inner is None else (NONPOS if inner == NONNEG else NONNEG)
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Power):
            exponent = expr.right.evaluated_value if isinstance(expr.right, (cst.Integer, cst.Float)) else None
            return NONNEG if even_number(exponent) else None
        left, right = expression_sign(expr.left), expression_sign(expr.right)
        if left is None or right is None:
            return None
        if isinstance(expr.operator, (cst.Multiply, cst.Divide)):
            return NONNEG if left == right else NONPOS
        if isinstance(expr.operator, cst.Add):
            return left if left == right else None
        return None
    if isinstance(expr, cst.Call):
        name = (dotted(expr.func) or "").rsplit(".", 1)[-1]
        args = [a.value for a in expr.args if a.keyword is None]
        if name in ("pow", "power") and len(args) == 2 and isinstance(args[1], (cst.Integer, cst.Float)):
            return NONNEG if even_number(args[1].evaluated_value) else None
        if name in _NONNEG_CALLS:
            return NONNEG
        if name in _SAME_SIGN_CALLS and args:
            return expression_sign(args[0])
    return None


#: Calls whose value is never negative, and casts that keep their argument's sign.
_NONNEG_CALLS = frozenset({"square", "abs", "fabs", "absolute", "sqrt", "exp", "softplus", "sigmoid", "relu", "norm"})
_SAME_SIGN_CALLS = frozenset({"float", "to_float", "cast", "convert_to_tensor", "tensor", "as_tensor", "float32"})


def _clamp_floor(name: str, args: list, kwargs: dict) -> dict:
    """``{"floor": lower bound}`` for a clamp or clip (``x.clamp(max=1)``, ``torch.clip(x, 0, 1)``,
    in place too) whose lower bound is a number or absent (None), its other arguments ``args``;
    {} for anything else, or a bound known only at run time."""
    if name.rsplit(".", 1)[-1].rstrip("_") not in ("clamp", "clip"):
        return {}
    floor = kwargs["min"] if "min" in kwargs else args[0] if args else None
    return {"floor": floor} if floor is None or (isinstance(floor, (int, float)) and not isinstance(floor, bool)) else {}
