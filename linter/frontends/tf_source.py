"""TensorFlow 1 graph code: placeholders, variables and ``tf.*`` ops, with no model class.

TF1 programs (and TF2 programs written through ``tf.compat.v1``) build their network as
tensors: ``x = tf.placeholder(...)``, ``W = tf.Variable(tf.zeros([784, 10]))``,
``tf.nn.relu(tf.matmul(x, W) + b)``, then a loss, ``tf.train.AdamOptimizer(lr).minimize(loss)``
and ``sess.run(..., feed_dict={...})``. This mixin maps them into the IR the checks read:
``tf.matmul`` (or ``@``) with a variable is a LINEAR op (``tf.nn.conv2d`` a CONV) carrying
the variable's initializer, and adding a bias variable gives it its bias; ``tf.layers.*`` and
``tf.contrib.layers.*`` are their Keras layers; the losses are tied to the tensor they read, and
the graph that holds a loss becomes a model. Any other ``tf.*`` op on tensors is an UNKNOWN op:
it breaks a pattern where it stands and leaves the rest of the graph checked.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

from nnlint.frontends import keras_api as kapi
from nnlint.frontends.interpreter import UNKNOWN, Frame, origin_of
from nnlint.frontends.names import dotted
from nnlint.frontends.torch_source import TorchInterpreter, even_number, recorded_call
from nnlint.frontends.values import Bound, Optimizer, RawData, Tensor
from nnlint.ir import TRAINABLE, WEIGHTED, ModelGraph, OpKind
from nnlint.ir.signs import NONNEG

_V1 = ("tensorflow.compat.v1.", "tensorflow.compat.v2.", "tensorflow.v1.")

#: tensors that initialise a variable -> (init function, positional parameter names after the shape)
_INIT_TENSORS = {
    "zeros": ("zeros_", ()), "ones": ("ones_", ()), "fill": ("constant_", ("value",)),
    "random_normal": ("normal_", ("mean", "stddev")), "random.normal": ("normal_", ("mean", "stddev")),
    "truncated_normal": ("trunc_normal_", ("mean", "stddev")),
    "random.truncated_normal": ("trunc_normal_", ("mean", "stddev")),
    "random_uniform": ("uniform_", ("minval", "maxval")), "random.uniform": ("uniform_", ("minval", "maxval")),
}
#: functions of an input and a weight variable: a layer (its bias, if any, added to it)
_WEIGHTED_NAMES = ("matmul", "linalg.matmul", "nn.conv2d", "nn.conv1d", "nn.xw_plus_b")
_WEIGHTED_CALLS = frozenset(f"tensorflow.{name}" for name in _WEIGHTED_NAMES)
#: initializer objects (``tf.get_variable(initializer=...)``) -> (init function, positional parameters)
_INITIALIZERS = {
    "zeros_initializer": ("zeros_", ()), "ones_initializer": ("ones_", ()),
    "constant_initializer": ("constant_", ("value",)),
    "random_normal_initializer": ("normal_", ("mean", "stddev")),
    "truncated_normal_initializer": ("trunc_normal_", ("mean", "stddev")),
    "random_uniform_initializer": ("uniform_", ("minval", "maxval")),
    "glorot_uniform_initializer": ("xavier_uniform_", ()), "glorot_normal_initializer": ("xavier_normal_", ()),
    "contrib.layers.xavier_initializer": ("xavier_uniform_", ()),
}
_INIT_DEFAULTS = {"mean": 0.0, "stddev": 1.0, "minval": 0.0, "maxval": 1.0, "value": 0.0}

#: TF1 optimizers -> (the optimizer they are, default learning rate or None when required)
_OPTIMIZERS = {
    "GradientDescentOptimizer": ("SGD", None), "MomentumOptimizer": ("SGD", None),
    "AdamOptimizer": ("Adam", 0.001), "AdagradOptimizer": ("Adagrad", None),
    "RMSPropOptimizer": ("RMSprop", None), "AdadeltaOptimizer": ("Adadelta", 0.001),
}

#: ``tf.layers.*`` / ``tf.contrib.layers.*`` functions -> (Keras layer, their keyword names -> Keras's)
_LAYERS = {
    "layers.dense": ("Dense", {}), "layers.conv1d": ("Conv1D", {}), "layers.conv2d": ("Conv2D", {}),
    "layers.conv3d": ("Conv3D", {}), "layers.conv2d_transpose": ("Conv2DTranspose", {}),
    "layers.dropout": ("Dropout", {}), "layers.batch_normalization": ("BatchNormalization", {}),
    "layers.flatten": ("Flatten", {}), "layers.max_pooling2d": ("MaxPooling2D", {}),
    "layers.average_pooling2d": ("AveragePooling2D", {}),
    "contrib.layers.fully_connected": ("Dense", {"num_outputs": "units"}),
    "contrib.layers.conv2d": ("Conv2D", {"num_outputs": "filters"}),
    "contrib.layers.flatten": ("Flatten", {}), "contrib.layers.batch_norm": ("BatchNormalization", {}),
}
_CONTRIB_KWARGS = {"activation_fn": "activation", "weights_initializer": "kernel_initializer", "stride": "strides", "rate": "dilation_rate",
                   "weights_regularizer": "kernel_regularizer"}
#: contrib layers' positional parameters after ``inputs`` (they differ from the Keras layers')
_CONTRIB_POSITIONS = {
    "contrib.layers.fully_connected": ("num_outputs", "activation_fn", "normalizer_fn"),
    "contrib.layers.conv2d": ("num_outputs", "kernel_size", "stride", "padding", "data_format", "rate",
                              "activation_fn", "normalizer_fn"),
}

#: losses on logits or predictions -> (the keyword naming the model's output, its position)
_LOSSES = {
    "nn.softmax_cross_entropy_with_logits": ("classification", "logits", 1),
    "nn.softmax_cross_entropy_with_logits_v2": ("classification", "logits", 1),
    "nn.sparse_softmax_cross_entropy_with_logits": ("classification", "logits", 1),
    "nn.sigmoid_cross_entropy_with_logits": ("classification", "logits", 1),
    "losses.softmax_cross_entropy": ("classification", "logits", 1),
    "losses.sparse_softmax_cross_entropy": ("classification", "logits", 1),
    "losses.sigmoid_cross_entropy": ("classification", "logits", 1),
    "losses.mean_squared_error": ("regression", "predictions", 1),
    "losses.absolute_difference": ("regression", "predictions", 1),
    "losses.huber_loss": ("regression", "predictions", 1),
}
#: element-wise errors whose argument is ``y - prediction``: hand-written regression losses
_ERRORS = {"square", "math.square", "abs", "math.abs", "nn.l2_loss", "pow", "math.pow"}

#: ``tf.*`` names under which an unknown call may build a layer (variables of its own).
_MAY_HOLD_WEIGHTS = ("layers.", "contrib.", "keras.", "nn.rnn_cell.", "nn.dynamic_rnn", "nn.bidirectional_dynamic_rnn",
                     "rnn.", "estimator.", "compat.", "Module", "experimental.")

#: other tensor functions with a kind the checks know
_SHAPES = {"reshape": OpKind.RESHAPE, "squeeze": OpKind.RESHAPE, "expand_dims": OpKind.RESHAPE,
           "identity": OpKind.IDENTITY, "nn.max_pool": OpKind.POOL, "nn.avg_pool": OpKind.POOL,
           "concat": OpKind.CONCAT, "nn.leaky_relu": OpKind.LEAKY_RELU, "nn.relu6": OpKind.RELU6,
           "nn.selu": OpKind.SELU}

_EVAL_WORDS = ("test", "val", "eval", "valid")

#: The name of a TF1 graph once it holds a loss (messages say "... the output of <name>").
GRAPH_NAME = "the TensorFlow graph"


def tf_name(qualname: str) -> Optional[str]:
    """``tf.compat.v1.layers.dense`` -> ``layers.dense``; None for names outside TensorFlow."""
    for prefix in _V1:
        if qualname.startswith(prefix):
            return qualname[len(prefix):]
    return qualname[len("tensorflow."):] if qualname.startswith("tensorflow.") else None


class TrainOp:
    """``optimizer.minimize(loss)``: running it trains."""


class _InitValue:
    """A tensor built to initialise a variable (``tf.zeros(shape)``) or an initializer object."""

    def __init__(self, record: dict, shape: Any) -> None:
        self.record, self.shape = record, shape


class StaticShape(list):
    """``W.get_shape()`` of a variable or placeholder whose shape the code states: its sizes
    (``None`` for a placeholder's batch), read as ``.as_list()`` or by index, as a reshape's
    target (``tf.reshape(x, [-1, W.get_shape().as_list()[0]])``) reads them."""


class TensorFlowCode(TorchInterpreter):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tf_graphs: list[ModelGraph] = []  # graphs holding TF1 tensors, in the order met
        self.keep_probs: dict[tuple[int, int], int] = {}  # (graph, placeholder op) -> the dropout it feeds
        self.loss_ops: set[tuple[int, int]] = set()  # (graph, op) of the losses

    # ------------------------------------------------------------------ calls

    def tf_call(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """A ``tf.*`` call of TF1 graph code; ``NotImplemented`` for the ones left to the caller."""
        name = tf_name(qualname)
        if name is None:
            return NotImplemented
        if name.startswith("layers.") and name[7:] in kapi.LAYERS:
            # TF1's layer classes (tf.layers.Dense, tf.layers.Dropout(rate)) are Keras' layers
            return self.keras_layer(name[7:], args, kwargs, node, frame)  # type: ignore[attr-defined]
        if name in ("placeholder", "placeholder_with_default"):
            shape = kwargs.get("shape", args[1] if len(args) > 1 else None)
            return self._new_tensor(frame, OpKind.INPUT, f"tensorflow.{name}", node, {"shape": shape})
        if name in _INIT_TENSORS:
            fn, params = _INIT_TENSORS[name]
            shape = kwargs.get("shape", args[0] if args else UNKNOWN)
            return _InitValue(_record(fn, params, args[1:], kwargs), shape)
        if name == "constant" and "shape" in kwargs and isinstance(args[0] if args else None, (int, float)):
            return _InitValue({"fn": "constant_", "args": [], "kwargs": {"val": args[0]}}, kwargs["shape"])
        if name in _INITIALIZERS or name.rsplit(".", 1)[-1] in _INITIALIZERS:
            fn, params = _INITIALIZERS.get(name) or _INITIALIZERS[name.rsplit(".", 1)[-1]]
            return _InitValue(_record(fn, params, args, kwargs), UNKNOWN)
        if name in ("Variable", "get_variable"):
            return self._variable(name, args, kwargs, node, frame)
        if name.startswith("train.") and name[6:] in _OPTIMIZERS:
            return self._optimizer(name[6:], args, kwargs, node, frame)
        if name in _LAYERS:
            return self._layer(name, args, kwargs, node, frame)
        if name in _WEIGHTED_NAMES:
            return self._weighted(name, args, kwargs, node, frame)
        if name in ("add", "math.add", "nn.bias_add") and len(args) == 2:
            return self.binary(cst.Add, args[0], args[1], node, frame)
        if name in _LOSSES:
            return self._loss(name, args, kwargs, node, frame)
        if name in _ERRORS:
            return self._error(name, args, kwargs, node, frame)
        return NotImplemented

    def tf_other(self, qualname: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """Any other ``tf.*`` function of tensors: its kind where the checks know one, else an
        UNKNOWN op that breaks a pattern where it stands (``tf.clip_by_value``, ``tf.reduce_mean``)."""
        name = tf_name(qualname)
        tensors = [a for a in [*args, *kwargs.values()] if isinstance(a, Tensor)]
        if name is None or not tensors:
            return NotImplemented
        attrs = {"sign": NONNEG} if _never_negative(name, args, kwargs) else {}
        if not name.startswith(_MAY_HOLD_WEIGHTS):
            attrs["weightless"] = True  # tf.reduce_mean, tf.nn.relu: a function of its tensors
        if name in _SHAPES:
            attrs["call"] = recorded_call(args, kwargs, tensors[:1])  # for --trace: the shape, window
        return self.tensor_op(frame, _SHAPES.get(name, OpKind.UNKNOWN), qualname, tensors[:1] if name in _SHAPES else tensors,
                              node, attrs)

    def tensor_method(self, t: Tensor, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if name == "get_shape" and not args and not kwargs:
            shape = _stated_shape(t)
            if shape is not None:
                return StaticShape(shape)
        return super().tensor_method(t, name, args, kwargs, node, frame)

    def call_method(self, obj: Any, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        if isinstance(obj, StaticShape) and name == "as_list" and not args:
            return list(obj)
        return super().call_method(obj, name, args, kwargs, node, frame)

    def _new_tensor(self, frame: Frame, kind: OpKind, type_name: str, node: cst.CSTNode, attrs: dict) -> Tensor:
        if all(g is not frame.graph for g in self.tf_graphs):
            self.tf_graphs.append(frame.graph)
        return self.tensor_op(frame, kind, type_name, [], node, attrs)

    def _variable(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Tensor:
        if name == "Variable":
            value = kwargs.get("initial_value", args[0] if args else UNKNOWN)
            shape = value.shape if isinstance(value, _InitValue) else UNKNOWN
        else:  # get_variable(name, shape, dtype, initializer): Glorot uniform by default
            value = kwargs.get("initializer", args[3] if len(args) > 3 else None)
            shape = kwargs.get("shape", args[1] if len(args) > 1 else UNKNOWN)
            if value is None:
                value = _InitValue({"fn": "xavier_uniform_", "args": [], "kwargs": {}}, shape)
        init = None
        if isinstance(value, _InitValue):
            init = {**value.record, "param": "weight", "origin": origin_of(frame, node), "method": False,
                    "certain": self.uncertain == 0}
        shape = list(shape) if isinstance(shape, (list, tuple)) else None
        return self._new_tensor(frame, OpKind.CONSTANT, f"tensorflow.{name}", node,
                                {"variable": True, "shape": shape, "init": init})

    def _weighted(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``tf.matmul(x, W)``, ``tf.nn.conv2d(x, W, ...)``: a layer when W is a variable."""
        x = args[0] if args else kwargs.get("a", kwargs.get("input", kwargs.get("x", UNKNOWN)))
        w = args[1] if len(args) > 1 else kwargs.get("b", kwargs.get("filters", kwargs.get("filter", kwargs.get("weights"))))
        weight = _variable_op(w)
        if not isinstance(x, Tensor) or weight is None or _variable_op(x) is not None:
            tensors = [t for t in (x, w) if isinstance(t, Tensor)]
            return self.tensor_op(frame, OpKind.MATMUL, f"tensorflow.{name}", tensors, node) if tensors else UNKNOWN
        shape = weight.attrs.get("shape") or []
        attrs: dict[str, Any] = {"inits": [weight.attrs["init"]] if weight.attrs.get("init") else []}
        sizes = [s if isinstance(s, int) else None for s in shape]
        if name.startswith("nn.conv") and len(sizes) >= 3:
            kind = OpKind.CONV
            attrs.update(out_features=sizes[-1], in_channels=sizes[-2], kernel_size=tuple(sizes[:-2]))
        else:
            kind = OpKind.LINEAR
            if len(sizes) == 2:
                attrs.update(in_features=sizes[0], out_features=sizes[1])
        if name == "nn.xw_plus_b":
            attrs["bias"] = True
        attrs["call"] = recorded_call(args, kwargs, [x])  # for --trace: a convolution's strides and padding
        out = self.tensor_op(frame, kind, f"tensorflow.{name}", [x], node, attrs)
        w_name = dotted(node.args[1].value) if isinstance(node, cst.Call) and len(node.args) > 1 else \
            dotted(node.right) if isinstance(node, cst.BinaryOperation) else None
        out.graph.ops[out.op].label = w_name or ""  # the layer is known by its weight: W1 (matmul)
        return out

    def binary(self, op: Any, left: Any, right: Any, node: cst.CSTNode, frame: Frame) -> Any:
        if op is cst.MatrixMultiply and isinstance(left, Tensor) and _variable_op(right) is not None:
            return self._weighted("matmul", [left, right], {}, node, frame)  # type: ignore[arg-type]
        if op is cst.Add:  # tf.matmul(x, W) + b: the layer's bias
            for layer, bias in ((left, right), (right, left)):
                found = _variable_op(bias)
                if isinstance(layer, Tensor) and found is not None and _per_unit(found.attrs.get("shape")):
                    target = layer.graph.ops[layer.op]
                    if target.kind in (OpKind.LINEAR, OpKind.CONV) and target.type_name.startswith("tensorflow.") \
                            and "bias" not in target.attrs:
                        target.attrs["bias"] = True
                        if found.attrs.get("init"):  # the bias starts as its variable does (--trace)
                            target.attrs["inits"] = [*target.attrs.get("inits", []), {**found.attrs["init"], "param": "bias"}]
                        return layer
        out = super().binary(op, left, right, node, frame)
        if op is cst.Power and isinstance(right, (int, float)) and right == 2 and isinstance(left, Tensor):
            self._tie_error("square", left, node, frame, out)  # (y - prediction) ** 2
        return out

    def _layer(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``tf.layers.dense(x, 10, activation=tf.nn.relu)`` is ``Dense(10, activation="relu")(x)``."""
        short, renamed = _LAYERS[name]
        x = args[0] if args else kwargs.get("inputs", UNKNOWN)
        if name in _CONTRIB_POSITIONS:  # fully_connected(x, n, None): the None is activation_fn
            kwargs = {**dict(zip(_CONTRIB_POSITIONS[name], args[1:])), **kwargs}
            args = args[:1]
        contrib = _CONTRIB_KWARGS if name.startswith("contrib.") else {}
        rest = {renamed.get(k, contrib.get(k, k)): v for k, v in kwargs.items() if k != "inputs"}
        if name.startswith("contrib."):
            if rest.get("normalizer_fn") is not None or "*" in kwargs or "**" in kwargs:
                return self.tensor_op(frame, OpKind.UNKNOWN, f"tensorflow.{name}", [x], node)
            if short in ("Dense", "Conv2D"):
                rest.setdefault("activation", "relu")  # contrib's layers apply a ReLU unless told otherwise
        if short == "Dropout":
            rest.setdefault("rate", args[1] if len(args) > 1 else 0.5)
            args = args[:1]
        layer = self.keras_layer(short, list(args[1:]), rest, node, frame)  # type: ignore[attr-defined]
        layer.label = f"tf.{name}"
        return self.apply_layer(layer, [x], frame, node)

    def _optimizer(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Optimizer:
        kind, default = _OPTIMIZERS[name]
        lr = kwargs.get("learning_rate", args[0] if args else default)
        momentum = kwargs.get("momentum", args[1] if len(args) > 1 and name == "MomentumOptimizer" else None)
        record = {
            "type_name": f"tensorflow.train.{kind}",
            "origin": origin_of(frame, node),
            "lr": lr if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None,
            "momentum": 0.0 if name == "GradientDescentOptimizer" else momentum,
            "weight_decay": None,
            "nesterov": kwargs.get("use_nesterov"),
        }
        if self.record_once(node):
            self.program.setup.optimizers.append(record)
        return Optimizer(record)

    # ------------------------------------------------------------------ losses

    def _loss(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        task, keyword, index = _LOSSES[name]
        prediction = kwargs.get(keyword, args[index] if len(args) > index else UNKNOWN)
        tensors = [a for a in [*args, *kwargs.values()] if isinstance(a, Tensor)]
        if not tensors:
            return UNKNOWN
        out = self.tensor_op(frame, OpKind.UNKNOWN, f"tensorflow.{name}", tensors, node, {"weightless": True})
        if isinstance(prediction, Tensor) and prediction.graph is frame.graph:
            self.tie_loss(frame, f"tensorflow.{name}", task, prediction, node, out)
        return out

    def _error(self, name: str, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> Any:
        """``tf.square(y - prediction)``: a hand-written regression loss on the tensor that is not
        a placeholder (the targets are fed, the prediction is computed by the graph)."""
        arg = args[0] if args else UNKNOWN
        attrs = {"sign": NONNEG, "weightless": True} if _never_negative(name, args, kwargs) else {"weightless": True}
        out = self.tensor_op(frame, OpKind.UNKNOWN, f"tensorflow.{name}", [arg], node, attrs) if isinstance(arg, Tensor) \
            else UNKNOWN
        if isinstance(arg, Tensor) and (name not in ("pow", "math.pow") or (len(args) > 1 and args[1] == 2)):
            self._tie_error(name, arg, node, frame, out)
        return out

    def _tie_error(self, name: str, arg: Tensor, node: cst.CSTNode, frame: Frame, out: Any) -> None:
        """The loss of ``error(y - prediction)``, when one side is fed and the other computed."""
        diff = arg.graph.ops[arg.op]
        if diff.kind is not OpKind.SUB or len(diff.inputs) != 2 or all(g is not arg.graph for g in self.tf_graphs):
            return  # TF1 graph code only: a PyTorch loss is read where it is applied to a model's output
        sides = [arg.graph.unshape(arg.graph.ops[i]) for i in diff.inputs]
        fed = [s.kind is OpKind.INPUT for s in sides]
        if fed.count(True) == 1 and self._computed(arg.graph, sides[fed.index(False)]):
            prediction = Tensor(arg.graph, sides[fed.index(False)].id)
            self.tie_loss(frame, "tensorflow.squared_error" if "abs" not in name else "tensorflow.absolute_error",
                          "regression", prediction, node, out)

    @staticmethod
    def _computed(graph: ModelGraph, op: Any) -> bool:
        """Whether ``op`` comes out of a layer (a weighted op among its ancestors)."""
        return op.kind in (OpKind.LINEAR, OpKind.CONV) or any(
            o.kind in (OpKind.LINEAR, OpKind.CONV) for o in graph.walk_backward(op, lambda o: o.kind not in (OpKind.LINEAR, OpKind.CONV)))

    def tie_loss(self, frame: Frame, type_name: str, task: str, prediction: Tensor, node: cst.CSTNode, out: Any) -> None:
        """The graph holding a loss is a model: its loss reads ``prediction``."""
        graph = prediction.graph
        if isinstance(out, Tensor):
            self.loss_ops.add((id(graph), out.op))
        if not self.record_once(node, "tf-loss"):
            return
        graph.setup.losses.append({"type_name": type_name, "task": task, "origin": origin_of(frame, node),
                                   "input": prediction.op})
        self.program.declared_tasks.add(task)
        self.mark_model(graph)

    def minimizes_only_tensors(self, loss: Tensor) -> bool:
        """Whether the variables a loss depends on are all data, none a layer's weights: style
        transfer optimises the pixels of an image fed to convolutions with constant kernels. A
        variable counts as data only where every op that reads it is a ``matmul``/``conv`` taking
        it as the input beside a non-variable kernel; any other use (``embedding_lookup``,
        ``nce_loss``, an addition) could be a weight's, and a layer or an op nnlint does not
        know (it may hide a layer) says no."""
        graph = loss.graph
        reached = [graph.ops[loss.op]]
        graph.walk_backward(reached[0], lambda op: reached.append(op) is None)  # every op the loss reads
        variables = {op.id for op in reached if op.attrs.get("variable")}
        if not variables:
            return False
        for op in reached:
            if op.kind in TRAINABLE or op.kind is OpKind.UNKNOWN and not op.attrs.get("weightless"):
                return False
            used = [i for i, source in enumerate(op.inputs) if source in variables]
            if used and (op.kind is not OpKind.MATMUL or used != [0]):
                return False
        return True

    def mark_model(self, graph: ModelGraph) -> None:
        """A graph with a loss, or one an optimizer minimizes, is a model."""
        if not graph.is_model:
            graph.is_model = graph.instantiated = True
            if graph.name.startswith("<module"):
                graph.name = GRAPH_NAME
            if all(g is not graph for g in self.program.instantiated):
                self.program.instantiated.append(graph)

    # ------------------------------------------------------------------ dropout and sessions

    def tf1_keep_prob(self, dropout: Tensor, keep: Any) -> bool:
        """``tf.nn.dropout(h, keep_prob)`` with a placeholder: TF1's keep probability, fed per run."""
        if isinstance(keep, Tensor) and keep.graph is dropout.graph and keep.graph.ops[keep.op].kind is OpKind.INPUT:
            self.keep_probs[(id(keep.graph), keep.op)] = dropout.op
            return True
        return False

    def session_run(self, fetches: Any, feeds: Any, node: cst.Call, frame: Frame) -> None:
        """``sess.run(accuracy, feed_dict={..., keep_prob: 0.5})``: dropout left on to evaluate."""
        if not isinstance(feeds, dict):
            return
        fetched = fetches if isinstance(fetches, (list, tuple)) else list(fetches.values()) if isinstance(fetches, dict) else [fetches]
        if any(isinstance(f, TrainOp) for f in fetched):
            self.raw_fed(feeds, node, frame)
            return  # a training step: dropout belongs there
        tensors = [f for f in fetched if isinstance(f, Tensor)]
        text = cst.Module([]).code_for_node(node).lower()
        for key, value in feeds.items():
            if not isinstance(key, Tensor) or not isinstance(value, (int, float)) or not 0 < value < 1:
                continue
            dropout = self.keep_probs.get((id(key.graph), key.op))
            if dropout is None:
                continue
            reached = [t for t in tensors if t.graph is key.graph and _reaches(t.graph, t.op, dropout)]
            losses = [t for t in reached if self._is_loss(t)]
            if reached and (len(losses) < len(reached) or any(w in text for w in _EVAL_WORDS)) and self.record_once(node, "keep"):
                self.program.train_mode_evaluations.append({
                    "origin": origin_of(frame, node), "model": key.graph.name if key.graph.is_model else GRAPH_NAME,
                    "layers": ["dropout"],
                    "how": f"with keep_prob fed {value:g}: dropout still drops units; feed keep_prob: 1.0 to evaluate"})

    def raw_fed(self, feeds: dict, node: cst.Call, frame: Frame) -> None:
        """``sess.run(train_op, feed_dict={x: X_raw, ...})``: raw-scale data (a published table,
        pixels as loaded) fed to a placeholder that a weighted layer reads, in a training step."""
        for key, value in feeds.items():
            if not isinstance(value, RawData) or not isinstance(key, Tensor):
                continue
            graph = key.graph
            if graph.ops[key.op].kind is OpKind.INPUT and any(op.kind in WEIGHTED for op in graph.consumers(graph.ops[key.op])):
                self.raw_reaches(value, node, frame, "sess.run(feed_dict=...)", graph, key.op)

    def _is_loss(self, t: Tensor) -> bool:
        graph = t.graph
        if (id(graph), t.op) in self.loss_ops:
            return True
        losses = {op for g, op in self.loss_ops if g == id(graph)}
        return bool(graph.walk_backward(graph.ops[t.op], lambda o: o.id not in losses))

    def session_call(self, func: Any, args: list, kwargs: dict, node: cst.Call, frame: Frame) -> None:
        """``sess.run(fetches, feed_dict)``, ``tensor.eval(feed_dict=...)``, ``train_op.run(feed_dict=...)``."""
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in ("run", "eval"):
            return
        if isinstance(func, Bound) and isinstance(func.obj, (Tensor, TrainOp)):
            self.session_run(func.obj, kwargs.get("feed_dict", args[0] if args else None), node, frame)
        elif func is UNKNOWN and node.func.attr.value == "run" and args:
            self.session_run(args[0], kwargs.get("feed_dict", args[1] if len(args) > 1 else None), node, frame)

    def finish_tf(self) -> None:
        """TF1 graphs are checked like the functions' graphs (unstable softmax on any tensor code).
        A layer written as ``tf.matmul(x, W)`` (or ``tf.nn.conv2d``) has a bias exactly where the
        code adds a bias variable to it, as ``Dense(use_bias=False)`` says it outright: by now
        every ``+ b`` has been read, so a layer without one is bias-free."""
        for graph in self.tf_graphs:
            if all(g is not graph for g in self.program.graphs):
                self.program.graphs.append(graph)
            for op in graph.find(OpKind.LINEAR, OpKind.CONV):
                if op.type_name in _WEIGHTED_CALLS and "bias" not in op.attrs:
                    op.attrs["bias"] = False


def _record(fn: str, params: tuple, args: list, kwargs: dict) -> dict:
    """An init record in the torch-style form the bad-init rule reads."""
    values = {p: kwargs.get(p, args[i] if i < len(args) else _INIT_DEFAULTS[p]) for i, p in enumerate(params)}
    if fn in ("normal_", "trunc_normal_"):
        return {"fn": fn, "args": [], "kwargs": {"mean": values["mean"], "std": values["stddev"]}}
    if fn == "uniform_":
        return {"fn": fn, "args": [], "kwargs": {"a": values["minval"], "b": values["maxval"]}}
    if fn == "constant_":
        return {"fn": fn, "args": [], "kwargs": {"val": values["value"]}}
    return {"fn": fn, "args": [], "kwargs": {}}


def _stated_shape(t: Tensor) -> Optional[list]:
    """The shape the code states for a variable (``tf.Variable(tf.random_normal([3136, 1024]))``)
    or a placeholder (``[None, 784]``), every size known but a placeholder's ``None``; else None."""
    op = t.graph.ops[t.op]
    shape = op.attrs.get("shape")
    stated = op.attrs.get("variable") or (op.kind is OpKind.INPUT and op.type_name.startswith("tensorflow.placeholder"))
    if not stated or not isinstance(shape, (list, tuple)):
        return None
    if not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape):
        return None
    return list(shape)


def _per_unit(shape: Any) -> bool:
    """A variable added to a layer's output is its bias when it holds one value per unit:
    ``[n]``, or ``[1, n]`` (``[1, 1, 1, c]``) that broadcasts over the batch as ``[n]`` does.
    A shape not stated is taken as such, as a bias variable of unknown shape is."""
    if not shape:
        return True
    return all(d == 1 for d in shape[:-1])


def _variable_op(value: Any) -> Any:
    """The op of a ``tf.Variable`` / ``tf.get_variable`` tensor, or None."""
    if isinstance(value, Tensor):
        op = value.graph.ops[value.op]
        if op.attrs.get("variable"):
            return op
    return None


def _reaches(graph: ModelGraph, start: int, target: int) -> bool:
    """Whether op ``target`` is ``start`` or among its ancestors."""
    return start == target or any(o.id == target for o in graph.walk_backward(graph.ops[start], lambda o: o.id != target))


def _never_negative(name: str, args: list, kwargs: dict) -> bool:
    """``tf.square``, ``tf.abs``, ``tf.sqrt``, ``tf.pow(x, 2.0)``: values that are never negative."""
    short = name.rsplit(".", 1)[-1]
    if short in ("square", "abs", "sqrt", "norm"):
        return True
    exponent = kwargs.get("y", args[1] if len(args) > 1 else None)
    return short == "pow" and even_number(exponent)