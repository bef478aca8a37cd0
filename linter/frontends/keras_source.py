"""The Keras/TensorFlow frontend, on the same abstract interpreter as the PyTorch one.

``Sequential([...])`` and ``.add()``, the functional API (``keras.Input`` ... ``keras.Model``),
subclassed ``keras.Model`` (its ``call`` is its forward), ``compile(loss=..., optimizer=...)``
with strings or objects, ``fit(batch_size=..., shuffle=...)``, initializers, ``Rescaling``
and ``Normalization`` layers, and ``keras.datasets.*.load_data()`` arrays. A layer's
``activation=`` becomes an op of its own, so the graph checks see it like an ``nn.ReLU``.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

from nnlint.frontends import keras_api as kapi
from nnlint.frontends import lr_schedules as lrs
from nnlint.frontends import tables
from nnlint.frontends.interpreter import UNKNOWN, Frame, origin_of
from nnlint.frontends.program import Program, loss_record
from nnlint.frontends.project import ModuleInfo, Project
from nnlint.frontends.tf_source import TensorFlowCode, TrainOp, tf_name
from nnlint.frontends.names import call_argument, dotted
from nnlint.frontends.values import Bound, External, FunctionRef, Instance, Layer, Optimizer, RawData, Rows, Tensor
from nnlint.ir import ModelGraph, OpKind, Origin


class KerasInterpreter(TensorFlowCode):
    def __init__(self, project: Project, entry: ModuleInfo, program: Program) -> None:
        super().__init__(project, entry, program)
        self.sequentials: list[Layer] = []  # built once the whole file has run (.add() comes later)
        self.trained: set[int] = set()  # ids of the model graphs fit() or train_on_batch() is called on
        self.parts: list[tuple[ModelGraph, ModelGraph]] = []  # (a model, a model it is nested in)
        self.loaded: list[ModelGraph] = []  # models given saved weights (load_weights)

    # ------------------------------------------------------------------ calls

    def call_external(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        name = kapi.canonical(qualname)
        short = qualname.rsplit(".", 1)[-1]
        if short in _SKLEARN_WRAPPERS and (name or qualname).startswith(("keras.wrappers.", "scikeras.")):
            return _Wrapped(short)  # KerasClassifier(build_fn=build_model): fit() trains what build_fn builds
        if qualname in _SEARCHES and isinstance(kwargs.get("estimator", args[0] if args else None), _Wrapped):
            return kwargs.get("estimator", args[0] if args else None)  # a search fits the estimator it is given
        if name is None and tf_name(qualname) is not None:
            qualname = f"tensorflow.{tf_name(qualname)}"  # tf.compat.v1.nn.relu is tf.nn.relu
            found = self.tf_call(qualname, args, kwargs, node, frame)
            if found is not NotImplemented:
                return found
        function = kapi.FUNCTIONS.get(name if name is not None and name.startswith("keras.") else qualname)
        if function is not None:
            return self.functional(qualname, function, args, kwargs, node, frame)
        if name is None:
            if qualname in ("tensorflow.nn.dropout", "tf.nn.dropout"):
                return self.tf_dropout(args, kwargs, node, frame)
            found = self.tf_other(qualname, args, kwargs, node, frame)
            if found is not NotImplemented:
                return found
            return super().call_external(qualname, args, kwargs, node, frame)
        if name == "keras.layers.Activation":
            return self.activation_layer(args, kwargs, node, frame)
        module, _, short = name.rpartition(".")
        if name in ("keras.Sequential", "keras.models.Sequential"):
            return self.sequential(args, kwargs, node, frame)
        if name in ("keras.Model", "keras.models.Model"):
            return self.functional_model(args, kwargs, node, frame)
        if name in ("keras.Input", "keras.layers.Input", "keras.layers.InputLayer"):
            graph = ModelGraph(name=_FUNCTIONAL, path=frame.module.path)
            return Tensor(graph, graph.add(OpKind.INPUT, "keras.Input", attrs={"shape": _input_shape(args, kwargs)}).id)
        if module == "keras.layers" and (short in kapi.LAYERS or short in kapi.LEGACY_LAYERS):
            return self.keras_layer(short, args, kwargs, node, frame)
        if module == "keras.losses":
            return _KerasLoss(short, kwargs.get("from_logits") is True)
        if module in ("keras.optimizers", "keras.optimizers.legacy", "keras.optimizers.experimental") \
                and (short in kapi.OPTIMIZERS or short in kapi.OPTIMIZER_ALIASES):
            return self.keras_optimizer(kapi.OPTIMIZER_ALIASES.get(short, short), args, kwargs, node, frame)
        if name == "keras.callbacks.LearningRateScheduler":
            return self.keras_lr_schedule(args, kwargs, node, frame)
        if module == "keras.initializers":
            return _Initializer(short, args, kwargs)
        if module == "keras.regularizers" and short.lower() in ("l2", "l1_l2"):
            factor = kwargs.get("l2", args[0] if args and short.lower() == "l2" else (0.01 if short.lower() == "l2" else None))
            return _Regularizer(factor)
        if module.startswith("keras.datasets.") and short == "load_data":
            data = module.rsplit(".", 1)[-1]
            if data in kapi.IMAGE_DATASETS:
                raw = RawData(f"keras {data}.load_data() images (uint8 pixels, 0-255)", node, frame.module.path,
                              bounds=(0, 255), by=f"keras.datasets.{data}.load_data()")
                return ((raw, UNKNOWN), (raw, UNKNOWN))
            if name in tables.LOADERS:  # keras.datasets.boston_housing
                raw = tables.raw(name, node, frame.module.path)
                return ((raw, UNKNOWN), (raw, UNKNOWN))
        return UNKNOWN

    def call(self, func: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if isinstance(func, Layer) and func.qualname.startswith("keras.layers.") and args:
            return self.apply_layer(func, args, frame, node)
        if isinstance(node, cst.Call):
            self.session_call(func, args, kwargs, node, frame)
        if isinstance(func, External) and func.qualname == "builtins.int" and len(args) == 1 and isinstance(args[0], Rows):
            return args[0]  # int(X.shape[0]): still the number of samples
        tensors = [a for a in args if isinstance(a, Tensor) and self._graph_code(a.graph)]
        if func is UNKNOWN and tensors:  # a custom layer or helper nnlint cannot read: unknown here, not beyond
            return self.opaque(func, args, kwargs, node, Frame(frame.module, tensors[0].graph, {}))
        return super().call(func, args, kwargs, node, frame)

    def call_function(self, func: FunctionRef, args: list, kwargs: dict, frame: Frame,
                      graph: Optional[ModelGraph] = None) -> Any:
        """A helper that builds part of a Keras functional or TF1 graph (``conv_block(x, 64)``) runs
        at every call, however often it is called: each call adds layers."""
        if any(isinstance(a, Tensor) and self._graph_code(a.graph) for a in [*args, *kwargs.values()]):
            self.inlined.pop(func.node, None)
        return super().call_function(func, args, kwargs, frame, graph)

    def _graph_code(self, graph: ModelGraph) -> bool:
        """Tensors of a Keras functional model being built, or of TF1 graph code."""
        return graph.name == _FUNCTIONAL or any(g is graph for g in self.tf_graphs)

    def get_attr(self, obj: Any, name: str, node: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(obj, _Wrapped):
            return Bound(obj, name)  # search.fit, called next
        return super().get_attr(obj, name, node, frame)

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if isinstance(obj, _Wrapped) and name == "fit":
            x = kwargs.get("X", kwargs.get("x", args[0] if args else UNKNOWN))
            if isinstance(x, RawData):
                self.raw_reaches(x, node, frame, f"{obj.name}.fit()")
            return UNKNOWN
        if isinstance(obj, Optimizer) and name == "minimize":
            loss = kwargs.get("loss", args[0] if args else None)
            if isinstance(loss, Tensor) and any(g is loss.graph for g in self.tf_graphs):
                self.loss_ops.add((id(loss.graph), loss.op))  # what an optimizer minimizes is a loss
                self.mark_model(loss.graph)
                if self.minimizes_only_tensors(loss):
                    obj.record["tensors"] = True  # style transfer's image, an adversarial input: not weights
            return TrainOp()
        graph = self.keras_graph(obj)
        if graph is not None and name == "add" and isinstance(obj, Layer) and args:
            self._label_child(args[0], obj, len(obj.children))
            obj.children.append(args[0])
            return None
        if graph is not None and name == "compile":
            self.compile(graph, args, kwargs, node, frame)
            return None
        if graph is not None and name == "build" and isinstance(obj, Layer) and obj.children:
            _state_input_shape(obj.children[0], kwargs.get("input_shape", args[0] if args else None))
            return None
        if graph is not None and name == "fit":
            self.trained.add(id(graph))
            self.fit(graph, obj, args, kwargs, node, frame)
            return UNKNOWN
        if graph is not None and name in ("fit_generator", "train_on_batch"):
            self.trained.add(id(graph))
        if graph is not None and name == "load_weights":
            self.loaded.append(graph)
        return super().call_method(obj, name, args, kwargs, node, frame)

    def layer_class_kind(self, qualname: str) -> Optional[OpKind]:
        name = kapi.canonical(qualname)
        module, _, short = (name or "").rpartition(".")
        if module == "keras.layers" and short in kapi.LAYERS:
            return kapi.LAYERS[short][0]
        return super().layer_class_kind(qualname)

    def is_module_base(self, base: Any) -> bool:
        if isinstance(base, External) and kapi.canonical(base.qualname) in kapi.MODEL_CLASSES:
            return True
        return super().is_module_base(base)

    # ------------------------------------------------------------------ layers and models

    def keras_layer(self, short: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Layer:
        short, legacy_params = kapi.LEGACY_LAYERS.get(short, (short, None))
        kind, params = kapi.LAYERS[short]
        attrs: dict[str, Any] = {"bias": True}
        named = _legacy_arguments(short, dict(zip(legacy_params or params, args)),
                                  {k: v for k, v in kwargs.items() if k not in ("*", "**")})
        if "units" in named or "filters" in named:
            attrs["out_features"] = named.get("units", named.get("filters"))
        if "use_bias" in named:
            attrs["bias"] = named["use_bias"]
        if kind is OpKind.IDENTITY:
            attrs["placeholder"] = True  # layers.Identity stands where another configuration puts a layer
        if kind is OpKind.DROPOUT:
            attrs["p"] = named.get("rate", UNKNOWN)
        if kind in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX):
            attrs["dim"] = named.get("axis", -1)  # Keras normalises over the last axis by default
        if short == "Rescaling" and isinstance(named.get("scale"), (int, float)):
            attrs["const"] = named["scale"]  # x * scale (+ offset): a multiplication by a constant, as x * 0.1 is
        activation = _activation(named.get("activation"))
        if activation is None and not _is_linear(named.get("activation")):
            activation = OpKind.UNKNOWN  # a custom activation: something nnlint cannot read ends the layer
        if activation is not None:
            attrs["activation"] = activation
        #: the constant arguments by Keras's parameter names, for --trace to rebuild the layer
        attrs["keras"] = {k: v for k, v in ((k, _constant(v)) for k, v in named.items()) if v is not None}
        layer = Layer(f"keras.layers.{short}", kind, attrs, node, frame.module.path)
        regularizer = named.get("kernel_regularizer")
        if isinstance(regularizer, str) and regularizer.lower() == "l2":
            regularizer = _Regularizer(0.01)  # Keras's default L2 factor
        if isinstance(regularizer, _Regularizer) and isinstance(regularizer.factor, (int, float)):
            self.program.regularizers.append({"origin": Origin(frame.module.path, node), "l2": regularizer.factor,
                                              "layer": f"keras.layers.{short}"})
        initializer = named.get("kernel_initializer")
        if initializer is not None:
            record = _init_record(initializer)
            if record is not None:
                layer.inits.append({**record, "param": "weight", "origin": Origin(frame.module.path, node),
                                    "method": False, "certain": self.uncertain == 0})
        if len(self.program.layers) < 10_000:
            self.program.layers.append(layer)
        return layer

    def activation_layer(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``layers.Activation("relu")``: an activation as a layer of its own."""
        kind = _activation(kwargs.get("activation", args[0] if args else None))
        if kind is None:
            return UNKNOWN
        layer = Layer("keras.layers.Activation", kind, _axis(kind), node, frame.module.path)
        return layer

    def apply_layer(self, layer: Layer, args: list, frame: Frame, node: Optional[cst.CSTNode], parent=None) -> Any:
        if not layer.qualname.startswith("keras.layers."):
            return super().apply_layer(layer, args, frame, node, parent)
        x = args[0] if args else UNKNOWN
        graph = x.graph if isinstance(x, Tensor) else frame.graph
        inputs = [x.op] if isinstance(x, Tensor) else []
        attrs = {k: v for k, v in layer.attrs.items() if k != "activation"}
        attrs["inits"] = layer.inits
        label = self.label_of(layer, parent)
        op = graph.add(layer.kind, layer.qualname, inputs, attrs, Origin(layer.path, layer.node), label)
        activation = layer.attrs.get("activation")
        if activation is not None:
            op = graph.add(activation, f"keras.activations.{activation.value}", [op.id], _axis(activation),
                           Origin(layer.path, layer.node), f"{label} activation={activation.value!r}")
        return Tensor(graph, op.id)

    def sequential(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Layer:
        layers = args[0] if args else kwargs.get("layers", [])
        children = list(layers) if isinstance(layers, (list, tuple)) else []
        model = Layer("keras.Sequential", OpKind.UNKNOWN, {}, node, frame.module.path, children=children)
        model.graph = ModelGraph(name=self.assign_names.get(id(node), "") or "Sequential", path=frame.module.path,
                                 is_model=True, instantiated=True)
        model.mode = None  # Keras runs train/eval modes itself (fit, evaluate, predict)
        model.label = model.graph.name
        for i, child in enumerate(children):
            self._label_child(child, model, i)
        self.program.graphs.append(model.graph)
        self.program.instantiated.append(model.graph)
        self.sequentials.append(model)
        return model

    def build_sequentials(self) -> None:
        for model in self.sequentials:
            graph = model.graph
            children = list(model.children)
            given = _sequential_input(children[0]) if children else None
            if given is not None:  # Sequential([keras.Input(shape=...), ...]): the model's input
                children = children[1:]
            x = Tensor(graph, graph.add(OpKind.INPUT, "input", attrs={"shape": given} if given else None).id)
            graph.inputs = [x.op]
            frame = Frame(self.entry, graph, {}, in_graph=True)
            for child in children:
                if isinstance(child, Layer) and child.children is not None and child.graph is not None:
                    x = self.tensor_op(frame, OpKind.UNKNOWN, child.qualname, [x], None)  # a nested model
                    self.parts.append((child.graph, graph))
                elif isinstance(child, Layer):
                    x = self.apply_layer(child, [x], frame, None, parent=model)
                else:
                    x = self.tensor_op(frame, OpKind.UNKNOWN, "?", [x], None)
            graph.outputs = [x.op] if isinstance(x, Tensor) else []

    def functional_model(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        outputs = kwargs.get("outputs", args[1] if len(args) > 1 else UNKNOWN)
        if not isinstance(outputs, Tensor) or outputs.graph.name != _FUNCTIONAL:
            return UNKNOWN  # not built from keras.Input (a pretrained backbone, say): the model is unknown
        graph = outputs.graph
        graph.name = self.assign_names.get(id(node), "") or "Model"
        graph.outputs = [outputs.op]
        graph.inputs = [op.id for op in graph.find(OpKind.INPUT)]
        graph.is_model = graph.instantiated = True
        self.program.graphs.append(graph)
        self.program.instantiated.append(graph)
        model = Layer("keras.Model", OpKind.UNKNOWN, {}, node, frame.module.path, children=[])
        model.graph = graph
        return model

    def keras_graph(self, obj: Any) -> Optional[ModelGraph]:
        """The model graph behind a Keras model value (Sequential, functional or subclassed)."""
        if isinstance(obj, Layer) and obj.qualname in ("keras.Sequential", "keras.Model"):
            return obj.graph
        if isinstance(obj, Instance) and obj.cls.is_nn_module and self._keras_class(obj.cls):
            return self.model_graph(obj)
        return None

    def _keras_class(self, cls) -> bool:
        return any(isinstance(b, External) and kapi.canonical(b.qualname) in kapi.MODEL_CLASSES for b in cls.bases) or \
            any(hasattr(b, "bases") and self._keras_class(b) for b in cls.bases)

    # ------------------------------------------------------------------ training setup

    def compile(self, graph: ModelGraph, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        loss = kwargs.get("loss", args[1] if len(args) > 1 else None)
        optimizer = kwargs.get("optimizer", args[0] if args else None)
        origin = origin_of(frame, node)
        losses = loss if isinstance(loss, (list, tuple)) else [loss]
        if len(losses) == 1:  # one loss for one output: several outputs need a per-output mapping
            record = _loss_record(losses[0], origin)
            if record is not None:
                graph.setup.losses.append(record)
                self.program.declared_tasks.add(record["task"])
        if len(losses) == 1 and isinstance(losses[0], FunctionRef):
            self.custom_loss(graph, losses[0], node, frame)
        if isinstance(optimizer, str) and optimizer.lower() in {o.lower() for o in kapi.OPTIMIZERS}:
            name = next(o for o in kapi.OPTIMIZERS if o.lower() == optimizer.lower())
            optimizer = self.keras_optimizer(name, [], {}, node, frame)
        if isinstance(optimizer, Optimizer) and optimizer.record not in graph.setup.optimizers:
            graph.setup.optimizers.append(optimizer.record)

    def custom_loss(self, graph: ModelGraph, loss: FunctionRef, node: cst.Call, frame: Frame) -> None:
        """A loss written as a function (``def loss(y_true, y_pred): ... K.log(y_pred)``), run
        as Keras runs it: on the labels and on what the model returns. What it computes from
        ``y_pred`` is then computed from the model's last layer, as a PyTorch loss on
        ``model(x)`` is (a log of a softmax output is a log of a softmax); run as a function
        nothing calls, its ``y_pred`` would be any tensor. Its graph is a training-code graph
        of its own, named after the function."""
        if loss.node is None or not self.record_once(node, "custom loss"):
            return  # (a function libcst could not read: what it computes is unknown)
        params = [*loss.node.params.posonly_params, *loss.node.params.params]
        if len(params) < 2 or any(p.default is None for p in params[2:]):
            return  # not a (y_true, y_pred) function: a loss factory's own arguments, a method
        code = ModelGraph(name=loss.node.name.value, path=loss.module.path)
        inner = Frame(loss.module, code, {}, name=loss.node.name.value)
        labels = Tensor(code, code.add(OpKind.INPUT, params[0].name.value).id)
        predictions = self.model_output(graph, [], None, inner)
        self.unit(lambda: self.call_function(loss, [labels, predictions], {}, inner))
        self.program.graphs.append(code)

    def keras_optimizer(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Optimizer:
        record = {
            "type_name": f"keras.optimizers.{name}",
            "origin": origin_of(frame, node),
            "lr": kwargs.get("learning_rate", kwargs.get("lr", args[0] if args else None)),
            "momentum": kwargs.get("momentum", 0.0 if name == "SGD" else None),
            "weight_decay": kwargs.get("weight_decay"),
            "nesterov": kwargs.get("nesterov"),
        }
        if not isinstance(record["lr"], (int, float)):
            record["lr"] = None
        if self.record_once(node):
            self.program.setup.optimizers.append(record)
        return Optimizer(record)

    def keras_lr_schedule(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``LearningRateScheduler(fn)``: fn(epoch[, lr]) returns the lr; one that ignores the
        current lr overrides the optimizer's. Tied to the optimizers of the model whose fit() gets it."""
        fn = lrs.function_node(kwargs.get("schedule", args[0] if args else UNKNOWN), node, 0, "schedule")
        overrides, sweeps = lrs.shape(fn, lr_param=True)
        if not overrides:
            return UNKNOWN
        entry = lrs.record(None, "LearningRateScheduler", origin_of(frame, node), sweeps)
        if self.record_once(node, "lr schedule"):
            self.program.lr_schedules.append(entry)
        return lrs.Schedule(entry)

    def fit(self, graph: ModelGraph, model: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        callbacks = kwargs.get("callbacks")
        for callback in callbacks if isinstance(callbacks, (list, tuple)) else []:
            if isinstance(callback, lrs.Schedule):
                callback.drives(graph.setup.optimizers)
        x = kwargs.get("x", args[0] if args else UNKNOWN)
        y = kwargs.get("y", args[1] if len(args) > 1 else UNKNOWN)
        if x is y and x is not UNKNOWN:  # fit(x, x): an autoencoder reconstructing its input
            for loss in graph.setup.losses:
                loss["reconstruction"] = True
        if isinstance(x, RawData) and not _scales_inputs(graph, model):
            self.raw_reaches(x, node, frame, f"{graph.name}.fit()", graph)
        if not self.record_once(node):
            return
        size = kwargs.get("batch_size", 32 if "**" not in kwargs else UNKNOWN)
        self.program.setup.loaders.append({
            # batch_size=len(X) / X.shape[0] of fit's own arrays: the whole training set in one batch
            "dataset_names": {dotted(e) for e in (call_argument(node, 0, "x"), call_argument(node, 1, "y"))
                              if e is not None} - {None},
            "origin": origin_of(frame, node),
            "batch_size": size,
            "shuffle": kwargs.get("shuffle", True),
            "shuffle_given": "shuffle" in kwargs,
            "sampler": False,
            "drop_last": False,
            "dataset": x if isinstance(x, (Tensor, RawData)) else None,  # never UNKNOWN: len(unknown) is not it
            # arrays can be shuffled by fit; an explicit shuffle=False on them is the pitfall
            "map_style": not isinstance(x, Tensor),
            "name": "train (fit)",
        })

    def tf_dropout(self, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``tf.nn.dropout``: TF2 takes ``rate`` (drop), TF1 took ``keep_prob`` (keep)."""
        x = args[0] if args else kwargs.get("x", UNKNOWN)
        if "rate" in kwargs:
            p = kwargs["rate"]
        elif isinstance(kwargs.get("keep_prob"), (int, float)):
            p = 1 - kwargs["keep_prob"]  # the TF1 spelling is right: it says keep
        else:
            p = UNKNOWN  # positional: TF1 keep_prob or TF2 rate, we cannot tell
        if not isinstance(x, Tensor):
            return UNKNOWN
        attrs = {"p": p, "training_given": True}
        if isinstance(kwargs.get("keep_prob"), (int, float)) and "rate" not in kwargs:
            attrs["keep_prob"] = kwargs["keep_prob"]  # spelled as a keep probability: NN007 says it so
        out = self.tensor_op(frame, OpKind.DROPOUT, "tensorflow.nn.dropout", [x], node, attrs)
        keep = kwargs.get("keep_prob", args[1] if len(args) > 1 and "rate" not in kwargs else None)
        if self.tf1_keep_prob(out, keep):  # a placeholder: graph-mode TF1, whose second argument is keep_prob
            out.graph.ops[out.op].attrs["keep_placeholder"] = True
        rate = kwargs.get("rate")
        if isinstance(rate, Tensor) and rate.graph is out.graph and rate.graph.ops[rate.op].kind is OpKind.INPUT:
            out.graph.ops[out.op].attrs["rate_placeholder"] = True  # rate=dr, fed per run: a value only the run has
        return out

    def analyze(self) -> None:
        super().analyze()
        self.build_sequentials()
        self.drop_unused_losses()
        self.finish_tf()

    def drop_unused_losses(self) -> None:
        """A model compiled but never trained itself never minimises the loss it was compiled
        with, so that loss is not its training setup: a model only trained inside another one
        (a GAN's generator, trained through the generator+discriminator stack), or one given
        saved weights to predict with. Where the code shows neither, the compile stands: the
        model may be trained where nnlint cannot see."""
        unused = [part for part, whole in self.parts if id(whole) in self.trained]
        for graph in [*unused, *self.loaded]:
            if id(graph) not in self.trained:
                graph.setup.losses.clear()


#: The name of a graph started by keras.Input, until keras.Model names it.
_FUNCTIONAL = "<keras inputs>"


class _KerasLoss:
    def __init__(self, name: str, from_logits: bool) -> None:
        self.name, self.from_logits = name, from_logits


#: scikit-learn wrappers of a Keras model (Keras 2's keras.wrappers.scikit_learn, scikeras)
_SKLEARN_WRAPPERS = ("KerasClassifier", "KerasRegressor")
#: scikit-learn searches that fit the estimator they are given, on the data their fit() gets
_SEARCHES = {f"sklearn.model_selection.{n}" for n in ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
                                                     "HalvingRandomSearchCV")}


class _Wrapped:
    """A Keras model behind a scikit-learn wrapper (or a search over one): its ``fit`` trains
    the model the wrapped function builds, on the data it is given."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Regularizer:
    def __init__(self, factor: Any) -> None:
        self.factor = factor


class _Initializer:
    def __init__(self, name: str, args: list, kwargs: dict) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs


def _axis(kind: OpKind) -> dict:
    """A Keras softmax activation normalises over the last axis."""
    return {"dim": -1} if kind in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX) else {}


def _legacy_arguments(short: str, named: dict, kwargs: dict) -> dict:
    """A layer's arguments by their Keras 3 names, whatever Keras version the code was written for.

    Keras 1 and 2 spelled several of them differently: ``Dense(output_dim=64, init="zero")``,
    ``Convolution2D(32, 3, 3, border_mode="same", W_regularizer=l2(0.01))``, ``Dropout(p=0.5)``.
    """
    for key, value in kwargs.items():
        if short == "Dense" and key == "output_dim":
            key = "units"
        elif _is_dropout(short) and key == "p":
            key = "rate"
        named[kapi.LEGACY_KWARGS.get(key, key)] = value
    rows, cols = named.pop("nb_row", None), named.pop("nb_col", None)
    length = named.pop("filter_length", None)
    if rows is not None and cols is not None:
        named.setdefault("kernel_size", (rows, cols))
    elif length is not None:
        named.setdefault("kernel_size", length)
    dims = [named.pop(f"kernel_dim{i}", None) for i in (1, 2, 3)]
    if all(d is not None for d in dims):
        named.setdefault("kernel_size", tuple(dims))
    return named


def _is_dropout(short: str) -> bool:
    return kapi.LAYERS.get(short, (None,))[0] is OpKind.DROPOUT


def _activation(value: Any) -> Optional[OpKind]:
    if isinstance(value, str):
        return kapi.ACTIVATIONS.get(value.lower())
    if isinstance(value, External):
        return kapi.ACTIVATIONS.get(value.qualname.rsplit(".", 1)[-1].lower())
    return None


def _is_linear(value: Any) -> bool:
    """No activation: ``None``, ``"linear"`` or ``keras.activations.linear``."""
    if isinstance(value, External):
        value = value.qualname.rsplit(".", 1)[-1]
    return value is None or (isinstance(value, str) and value.lower() == "linear")


def _loss_name(loss: Any) -> Optional[tuple[str, bool]]:
    if isinstance(loss, str):  # "mse", "MSE", or a class name: loss="CategoricalCrossentropy"
        return (loss.lower() if loss.islower() or loss.isupper() else kapi.snake(loss)), False
    if isinstance(loss, _KerasLoss):
        return kapi.snake(loss.name), loss.from_logits
    if isinstance(loss, External):
        short = loss.qualname.rsplit(".", 1)[-1]
        return (short.lower() if short.isupper() else kapi.snake(short)), False
    return None


def _loss_record(loss: Any, origin: Origin) -> Optional[dict]:
    named = _loss_name(loss)
    if named is None:
        return None
    name, from_logits = named
    task = kapi.LOSSES.get(name)
    if task is None:
        return None
    record = loss_record(f"keras.losses.{name}", task, origin)
    record["from_logits"] = from_logits
    return record


def _constant(value: Any) -> Any:
    """A number, string, bool or (nested) tuple of them as it is; None for anything else."""
    if isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, (tuple, list)):
        items = [_constant(v) for v in value]
        return tuple(items) if all(i is not None or v is None for i, v in zip(items, value)) else None
    return None


def _init_record(initializer: Any) -> Optional[dict]:
    """A Keras kernel initializer as the torch-style init record the bad-init rules read."""
    if isinstance(initializer, str):
        name, args, kwargs = initializer.lower(), [], {}
        name = kapi.LEGACY_INITIALIZERS.get(name, name)
    elif isinstance(initializer, _Initializer):
        name, args, kwargs = kapi.snake(initializer.name), initializer.args, initializer.kwargs
    else:
        return None
    if name in ("zeros", "ones"):
        return {"fn": f"{name}_", "args": [], "kwargs": {}}
    if name == "constant":
        return {"fn": "constant_", "args": [], "kwargs": {"val": kwargs.get("value", args[0] if args else 0.0)}}
    if name == "random_normal":
        return {"fn": "normal_", "args": [], "kwargs": {"mean": kwargs.get("mean", 0.0),
                                                        "std": kwargs.get("stddev", args[1] if len(args) > 1 else 0.05)}}
    if name == "random_uniform":
        return {"fn": "uniform_", "args": [], "kwargs": {"a": kwargs.get("minval", -0.05), "b": kwargs.get("maxval", 0.05)}}
    if name in ("glorot_uniform", "glorot_normal"):
        return {"fn": "xavier_uniform_" if name.endswith("uniform") else "xavier_normal_", "args": [], "kwargs": {}}
    return None


_SCALING_LAYERS = ("keras.layers.Rescaling", "keras.layers.Normalization")
_RESHAPING = (OpKind.RESHAPE, OpKind.IDENTITY)  # Flatten/Reshape before the scaling layer change no values


def _scales_inputs(graph: ModelGraph, model: Any) -> bool:
    """Whether the model starts with a Rescaling or Normalization layer (scaling inside)."""
    if isinstance(model, Layer) and model.qualname == "keras.Sequential":  # its graph is built at the end
        layers = [c for c in model.children if isinstance(c, Layer)]
        first = next((c for c in layers if c.kind not in _RESHAPING), None)
        return first is not None and first.qualname in _SCALING_LAYERS
    first_op = next((op for op in graph.ops.values() if op.kind is not OpKind.INPUT and op.kind not in _RESHAPING), None)
    return first_op is not None and first_op.type_name in _SCALING_LAYERS


def _state_input_shape(first: Any, batch_shape: Any) -> None:
    """``model.build((None, 784))`` states a Sequential's input as its first layer's
    ``input_shape=(784,)`` would: recorded there unless that layer states its own."""
    shape = _constant(batch_shape)
    keras = first.attrs.get("keras") if isinstance(first, Layer) else None
    if isinstance(keras, dict) and isinstance(shape, (tuple, list)) and len(shape) > 1 \
            and not {"input_shape", "input_dim", "batch_input_shape", "batch_shape"} & keras.keys():
        keras["input_shape"] = tuple(shape[1:])


def _input_shape(args: list, kwargs: dict) -> Any:
    """One sample's shape from ``keras.Input(shape)`` or ``InputLayer(shape=/input_shape=/batch_shape=)``."""
    shape = _constant(kwargs.get("shape", kwargs.get("input_shape", args[0] if args else None)))
    batch = _constant(kwargs.get("batch_shape", kwargs.get("batch_input_shape")))
    if shape is None and isinstance(batch, (list, tuple)) and batch:
        shape = tuple(batch[1:])
    return shape


def _sequential_input(child: Any) -> Optional[Any]:
    """The shape a ``keras.Input`` opening a Sequential's layer list gives; () when its shape is
    not a constant; None when the first layer is not a ``keras.Input``."""
    if not isinstance(child, Tensor):
        return None
    op = child.graph.ops.get(child.op)
    if op is None or op.kind is not OpKind.INPUT or op.type_name != "keras.Input" or len(child.graph.ops) != 1:
        return None
    return op.attrs.get("shape") or ()


def analyze(entry: ModuleInfo, project: Project, task: Optional[str] = None,
            deadline: Optional[float] = None) -> Program:
    """Analyse a Python file written with PyTorch, Keras, or both; by ``deadline``
    (``time.monotonic()``) at the latest, where the caller shares its own budget out."""
    program = Program(path=entry.path)
    interpreter = KerasInterpreter(project, entry, program)
    if deadline is not None:
        interpreter.deadline = min(interpreter.deadline, deadline)
    interpreter.analyze()
    program.finish(task)
    return program
