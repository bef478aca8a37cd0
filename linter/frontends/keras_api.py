"""What the frontend knows of Keras (Keras 3 ``keras.*``, ``tensorflow.keras`` and ``tf.keras``).

Every spelling is canonicalised to ``keras.<module>.<Name>`` before the lookup, so
``tf.keras.layers.Dense``, ``tensorflow.keras.layers.Dense`` and ``keras.layers.Dense`` are one
entry. A layer's ``activation=`` becomes an op of its own after the layer.
"""

from __future__ import annotations

import re
from typing import Optional

from nnlint.ir import OpKind

K = OpKind
_PREFIX = re.compile(r"^(?:tensorflow\.(?:python\.)?|tf\.)?keras\.(?:src\.)?")

#: layer -> (kind, positional parameter names)
LAYERS: dict[str, tuple[OpKind, tuple[str, ...]]] = {
    "Dense": (K.LINEAR, ("units", "activation", "use_bias", "kernel_initializer")),
    "Identity": (K.IDENTITY, ()),
    "Conv1D": (K.CONV, ("filters", "kernel_size", "strides", "padding")),
    "Conv2D": (K.CONV, ("filters", "kernel_size", "strides", "padding")),
    "Conv3D": (K.CONV, ("filters", "kernel_size", "strides", "padding")),
    "Conv2DTranspose": (K.CONV_TRANSPOSE, ("filters", "kernel_size", "strides", "padding")),
    "BatchNormalization": (K.BATCH_NORM, ()),
    "LayerNormalization": (K.LAYER_NORM, ()),
    "GroupNormalization": (K.GROUP_NORM, ()),
    "Dropout": (K.DROPOUT, ("rate",)),
    "SpatialDropout1D": (K.DROPOUT, ("rate",)),
    "SpatialDropout2D": (K.DROPOUT, ("rate",)),
    "AlphaDropout": (K.DROPOUT, ("rate",)),
    "Flatten": (K.RESHAPE, ()),
    "Reshape": (K.RESHAPE, ()),
    "Permute": (K.RESHAPE, ()),
    "MaxPooling1D": (K.POOL, ()), "MaxPooling2D": (K.POOL, ()), "AveragePooling2D": (K.POOL, ()),
    "GlobalAveragePooling1D": (K.POOL, ()), "GlobalAveragePooling2D": (K.POOL, ()),
    "GlobalMaxPooling2D": (K.POOL, ()), "MaxPool2D": (K.POOL, ()),
    "Embedding": (K.EMBEDDING, ("input_dim", "output_dim")),
    "LSTM": (K.RNN, ("units",)), "GRU": (K.RNN, ("units",)), "SimpleRNN": (K.RNN, ("units",)),
    "ReLU": (K.RELU, ()), "LeakyReLU": (K.LEAKY_RELU, ()), "ELU": (K.ELU, ()),
    "Softmax": (K.SOFTMAX, ()),
    "Rescaling": (K.MUL, ("scale", "offset")),  # input scaling inside the model
    "Normalization": (K.SUB, ()),  # (x - mean) / std inside the model
}

#: activation names (strings, keras.activations.X, tf.nn.X) -> kind; "linear" and None mean none
ACTIVATIONS: dict[str, OpKind] = {
    "relu": K.RELU, "relu6": K.RELU6, "leaky_relu": K.LEAKY_RELU, "elu": K.ELU, "selu": K.SELU,
    "gelu": K.GELU, "swish": K.SILU, "silu": K.SILU, "softplus": K.SOFTPLUS, "sigmoid": K.SIGMOID,
    "hard_sigmoid": K.SIGMOID, "tanh": K.TANH, "softmax": K.SOFTMAX, "log_softmax": K.LOG_SOFTMAX,
}

#: Keras modules of tensor functions (``keras.ops.log``; Keras 2's backend, ``K.log``, in which
#: hand-written losses are often written), which compute what TensorFlow's of the same names do
FUNCTION_MODULES = ("keras.ops.", "keras.backend.")
#: TensorFlow and Keras tensor functions -> kind (``tf.exp``, ``tf.math.exp``, ``keras.ops.exp``)
FUNCTIONS: dict[str, OpKind] = {}
for _name, _kind in {
    "exp": K.EXP, "log": K.LOG, "softmax": K.SOFTMAX, "log_softmax": K.LOG_SOFTMAX, "relu": K.RELU,
    "sigmoid": K.SIGMOID, "tanh": K.TANH, "reduce_sum": K.REDUCE_SUM, "reduce_max": K.REDUCE_MAX,
    "reduce_logsumexp": K.LOGSUMEXP, "logsumexp": K.LOGSUMEXP, "sum": K.REDUCE_SUM, "max": K.REDUCE_MAX,
    "matmul": K.MATMUL, "gelu": K.GELU, "elu": K.ELU, "softplus": K.SOFTPLUS,
}.items():
    for _prefix in ("tensorflow.", "tensorflow.math.", "tensorflow.nn.", "keras.activations.", *FUNCTION_MODULES):
        FUNCTIONS[_prefix + _name] = _kind

#: loss names (strings and classes, snake_case) -> task
LOSSES = {
    "mse": "regression", "mean_squared_error": "regression", "mae": "regression",
    "mean_absolute_error": "regression", "huber": "regression", "log_cosh": "regression", "logcosh": "regression",
    "binary_crossentropy": "classification", "categorical_crossentropy": "classification",
    "sparse_categorical_crossentropy": "classification", "binary_focal_crossentropy": "classification",
}

OPTIMIZERS = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion"}

#: Keras 2's lowercase aliases of its optimizer classes (``keras.optimizers.sgd(lr=0.1)``)
OPTIMIZER_ALIASES = {name.lower(): name for name in OPTIMIZERS}

#: Keras 1/2 layer names -> (the Keras 3 layer, its own positional parameters or None for the new ones)
LEGACY_LAYERS: dict[str, tuple[str, Optional[tuple[str, ...]]]] = {
    "Convolution1D": ("Conv1D", ("filters", "filter_length")),
    "Convolution2D": ("Conv2D", ("filters", "nb_row", "nb_col")),
    "Convolution3D": ("Conv3D", ("filters", "kernel_dim1", "kernel_dim2", "kernel_dim3")),
    "Deconvolution2D": ("Conv2DTranspose", ("filters", "nb_row", "nb_col")),
    "MaxPool1D": ("MaxPooling1D", None), "AvgPool2D": ("AveragePooling2D", None),
    "GlobalAvgPool2D": ("GlobalAveragePooling2D", None), "GlobalMaxPool2D": ("GlobalMaxPooling2D", None),
}

#: Keras 1/2 keyword arguments -> their Keras 3 names (``Dense(output_dim=64, init="zero")``)
LEGACY_KWARGS = {
    "init": "kernel_initializer", "W_regularizer": "kernel_regularizer", "border_mode": "padding",
    "subsample": "strides", "nb_filter": "filters", "bias": "use_bias",
}

#: Keras 1 initializer names -> Keras 2+ names
LEGACY_INITIALIZERS = {"zero": "zeros", "one": "ones", "uniform": "random_uniform", "normal": "random_normal"}

#: Keras data sets whose load_data() returns raw 0-255 pixel arrays
IMAGE_DATASETS = {"mnist", "fashion_mnist", "cifar10", "cifar100"}

MODEL_CLASSES = {"keras.Model", "keras.models.Model", "keras.Sequential", "keras.models.Sequential"}


def canonical(qualname: str) -> Optional[str]:
    """``keras.<module>.<Name>`` for any Keras spelling, None for other names.

    Keras 2 and standalone Keras also export layers and optimizers from their implementation
    modules (``keras.layers.core.Dense``, ``keras.layers.convolutional.Conv2D``,
    ``keras.optimizers.optimizer_v2.adam.Adam``): the lowercase module path between the
    package and the class is dropped, so every spelling meets one table entry.
    """
    match = _PREFIX.match(qualname)
    if match is None:
        return None
    rest = qualname[match.end():]
    package, _, tail = rest.partition(".")
    if package in ("layers", "optimizers") and "." in tail:
        *modules, name = tail.split(".")
        if name[:1].isupper() and modules != ["legacy"] and modules != ["experimental"] and \
                all(m.islower() or "_" in m for m in modules):
            rest = f"{package}.{name}"
    return f"keras.{rest}"


def snake(name: str) -> str:
    """``MeanSquaredError`` -> ``mean_squared_error`` (Keras names a loss both ways)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
