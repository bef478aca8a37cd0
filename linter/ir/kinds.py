"""Framework-neutral operation kinds and the families checks reason about."""

from __future__ import annotations

from enum import Enum


class OpKind(str, Enum):
    INPUT = "input"
    CONSTANT = "constant"
    LINEAR = "linear"
    CONV = "conv"
    CONV_TRANSPOSE = "conv_transpose"
    EMBEDDING = "embedding"
    RNN = "rnn"
    BATCH_NORM = "batch_norm"
    LAYER_NORM = "layer_norm"
    GROUP_NORM = "group_norm"
    INSTANCE_NORM = "instance_norm"
    DROPOUT = "dropout"
    RELU = "relu"
    RELU6 = "relu6"
    LEAKY_RELU = "leaky_relu"
    ELU = "elu"
    SELU = "selu"
    GELU = "gelu"
    SILU = "silu"
    SOFTPLUS = "softplus"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    EXP = "exp"
    LOG = "log"
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MATMUL = "matmul"
    REDUCE_SUM = "reduce_sum"
    REDUCE_MAX = "reduce_max"
    LOGSUMEXP = "logsumexp"
    RESHAPE = "reshape"
    POOL = "pool"
    CONCAT = "concat"
    IDENTITY = "identity"
    UNKNOWN = "unknown"


#: Layers with a weight matrix or kernel (and usually a bias).
WEIGHTED = frozenset({OpKind.LINEAR, OpKind.CONV, OpKind.CONV_TRANSPOSE})

#: Normalisations; with their affine shift they make a preceding or following bias redundant.
NORMS = frozenset({OpKind.BATCH_NORM, OpKind.LAYER_NORM, OpKind.GROUP_NORM, OpKind.INSTANCE_NORM})

#: Ops that hold weights of their own: layers, normalisations (their affine scale and shift),
#: embeddings and recurrent cells.
TRAINABLE = WEIGHTED | NORMS | {OpKind.EMBEDDING, OpKind.RNN}

#: Element-wise nonlinearities.
ACTIVATIONS = frozenset(
    {
        OpKind.RELU,
        OpKind.RELU6,
        OpKind.LEAKY_RELU,
        OpKind.ELU,
        OpKind.SELU,
        OpKind.GELU,
        OpKind.SILU,
        OpKind.SOFTPLUS,
        OpKind.SIGMOID,
        OpKind.TANH,
        OpKind.SOFTMAX,
        OpKind.LOG_SOFTMAX,
    }
)

#: Operations that move values around without changing them (for the purpose of the checks).
SHAPE_ONLY = frozenset({OpKind.RESHAPE, OpKind.IDENTITY})
