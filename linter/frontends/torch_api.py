"""What the PyTorch frontend knows of torch's API, as tables.

Keys are fully qualified names (``torch.nn.Linear``) or tensor-method names; the
interpreter resolves every import spelling and alias to these before looking them up.
Extending the frontend to a new layer or function is one line here.
"""

from __future__ import annotations

from nnlint.ir import OpKind
from nnlint.ir.signs import NONNEG, NONPOS

K = OpKind

#: nn layer class -> (kind, positional parameter names, defaults of the attrs checks read).
LAYERS: dict[str, tuple[OpKind, tuple[str, ...], dict]] = {}


def _layers(names: str, kind: OpKind, params: tuple[str, ...], **defaults) -> None:
    for name in names.split():
        LAYERS[f"torch.nn.{name}"] = (kind, params, defaults)


_layers("Linear", K.LINEAR, ("in_features", "out_features", "bias"), bias=True)
_layers("LazyLinear", K.LINEAR, ("out_features", "bias"), bias=True)
_layers(
    "Conv1d Conv2d Conv3d",
    K.CONV,
    ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"),
    bias=True,
)
_layers("LazyConv1d LazyConv2d LazyConv3d", K.CONV, ("out_channels", "kernel_size"), bias=True)
_layers(
    "ConvTranspose1d ConvTranspose2d ConvTranspose3d",
    K.CONV_TRANSPOSE,
    ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias"),
    bias=True,
)
_layers("BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm LazyBatchNorm1d LazyBatchNorm2d",
        K.BATCH_NORM, ("num_features", "eps", "momentum", "affine"), affine=True)
_layers("LayerNorm", K.LAYER_NORM, ("normalized_shape", "eps", "elementwise_affine", "bias"), elementwise_affine=True)
_layers("RMSNorm", K.LAYER_NORM, ("normalized_shape", "eps", "elementwise_affine"), elementwise_affine=True)
_layers("GroupNorm", K.GROUP_NORM, ("num_groups", "num_channels", "eps", "affine"), affine=True)
_layers("InstanceNorm1d InstanceNorm2d InstanceNorm3d", K.INSTANCE_NORM, ("num_features", "eps", "momentum", "affine"),
        affine=False)
_layers("Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout", K.DROPOUT, ("p", "inplace"), p=0.5)
_layers("ReLU", K.RELU, ("inplace",))
_layers("ReLU6", K.RELU6, ("inplace",))
_layers("LeakyReLU PReLU RReLU", K.LEAKY_RELU, ())
_layers("ELU CELU", K.ELU, ())
_layers("SELU", K.SELU, ())
_layers("GELU", K.GELU, ())
_layers("SiLU Mish", K.SILU, ())
_layers("Softplus", K.SOFTPLUS, ())
_layers("Sigmoid", K.SIGMOID, ())
_layers("Tanh", K.TANH, ())
_layers("Softmax", K.SOFTMAX, ("dim",))
_layers("LogSoftmax", K.LOG_SOFTMAX, ("dim",))
_layers("Flatten", K.RESHAPE, ("start_dim", "end_dim"), start_dim=1, end_dim=-1)
_layers("Unflatten", K.RESHAPE, ())
_layers("Identity", K.IDENTITY, ())
_layers(
    "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d "
    "AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d",
    K.POOL,
    (),
)
_layers("Embedding EmbeddingBag", K.EMBEDDING, ("num_embeddings", "embedding_dim"))
_layers("LSTM GRU RNN", K.RNN, ("input_size", "hidden_size", "num_layers"), bias=True, dropout=0.0)
_layers("MultiheadAttention", K.UNKNOWN, ("embed_dim", "num_heads", "dropout"), dropout=0.0)
_layers("TransformerEncoderLayer TransformerDecoderLayer", K.UNKNOWN, ("d_model", "nhead", "dim_feedforward", "dropout"),
        dropout=0.1)
_layers("Transformer", K.UNKNOWN, ("d_model", "nhead", "num_encoder_layers", "num_decoder_layers",
                                   "dim_feedforward", "dropout"), dropout=0.1)

#: Containers: their children become ops in order.
CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}

#: Base classes that make a class an ``nn.Module`` (Lightning modules are modules too).
MODULE_BASES = {
    "torch.nn.Module",
    "torch.nn.modules.module.Module",
    "torch.nn.Sequential",
    "torch.nn.ModuleList",
    "torch.nn.ModuleDict",
    "pytorch_lightning.LightningModule",
    "lightning.LightningModule",
    "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.LightningModule",
    "pytorch_lightning.core.LightningModule",
}

#: Functions (torch.X, torch.nn.functional.X, torch.special.X) and tensor methods -> kind.
FUNCTIONS: dict[str, OpKind] = {}
for _name, _kind in {
    "relu": K.RELU, "relu_": K.RELU, "relu6": K.RELU6, "leaky_relu": K.LEAKY_RELU, "prelu": K.LEAKY_RELU,
    "elu": K.ELU, "celu": K.ELU, "selu": K.SELU, "gelu": K.GELU, "silu": K.SILU, "mish": K.SILU,
    "softplus": K.SOFTPLUS, "sigmoid": K.SIGMOID, "tanh": K.TANH, "softmax": K.SOFTMAX,
    "log_softmax": K.LOG_SOFTMAX, "exp": K.EXP, "log": K.LOG, "sum": K.REDUCE_SUM, "max": K.REDUCE_MAX,
    "amax": K.REDUCE_MAX, "logsumexp": K.LOGSUMEXP, "dropout": K.DROPOUT, "dropout1d": K.DROPOUT,
    "dropout2d": K.DROPOUT, "dropout3d": K.DROPOUT, "alpha_dropout": K.DROPOUT,
    "feature_alpha_dropout": K.DROPOUT, "linear": K.LINEAR, "conv1d": K.CONV, "conv2d": K.CONV,
    "conv3d": K.CONV, "layer_norm": K.LAYER_NORM, "rms_norm": K.LAYER_NORM, "batch_norm": K.BATCH_NORM,
    "group_norm": K.GROUP_NORM, "instance_norm": K.INSTANCE_NORM, "max_pool1d": K.POOL,
    "max_pool2d": K.POOL, "max_pool3d": K.POOL, "avg_pool1d": K.POOL, "avg_pool2d": K.POOL,
    "avg_pool3d": K.POOL, "adaptive_avg_pool1d": K.POOL, "adaptive_avg_pool2d": K.POOL,
    "adaptive_max_pool2d": K.POOL, "cat": K.CONCAT, "concat": K.CONCAT, "stack": K.CONCAT,
    "matmul": K.MATMUL, "mm": K.MATMUL, "bmm": K.MATMUL, "add": K.ADD, "sub": K.SUB, "subtract": K.SUB,
    "mul": K.MUL, "multiply": K.MUL, "div": K.DIV, "divide": K.DIV, "true_divide": K.DIV,
}.items():
    for _prefix in ("torch.", "torch.nn.functional.", "torch.special."):
        FUNCTIONS[_prefix + _name] = _kind
FUNCTIONS["torch.nn.functional.dropout"] = K.DROPOUT

#: Tensor methods that compute (``x.relu()``, ``x.exp()``, ``x.sum(1)``).
METHODS: dict[str, OpKind] = {
    "relu": K.RELU, "relu_": K.RELU, "sigmoid": K.SIGMOID, "sigmoid_": K.SIGMOID, "tanh": K.TANH,
    "tanh_": K.TANH, "softmax": K.SOFTMAX, "log_softmax": K.LOG_SOFTMAX, "exp": K.EXP, "exp_": K.EXP,
    "log": K.LOG, "log_": K.LOG, "sum": K.REDUCE_SUM, "max": K.REDUCE_MAX, "amax": K.REDUCE_MAX,
    "logsumexp": K.LOGSUMEXP, "matmul": K.MATMUL, "mm": K.MATMUL, "bmm": K.MATMUL, "add": K.ADD, "sub": K.SUB,
    "mul": K.MUL, "div": K.DIV, "add_": K.ADD, "sub_": K.SUB, "mul_": K.MUL, "div_": K.DIV,
}

#: Functions and methods with no op kind of their own whose output sign is known whatever the
#: input (read by the IR's sign analysis: ``exp(-x.abs())`` cannot overflow).
SIGNS: dict[str, str] = {name: NONNEG for name in "abs absolute square sqrt rsqrt norm cosh".split()}
SIGNS.update({name: NONPOS for name in "logsigmoid log_sigmoid".split()})

#: Tensor methods that pick some of a tensor's values by an index (``probs.gather(1, actions)``):
#: each value picked is one of the input's, unchanged, so a log of picked softmax probabilities
#: is a log of softmax probabilities.
SELECTIONS = frozenset("gather take_along_dim index_select take masked_select".split())

#: Tensor methods and functions that only move, reshape, re-type or pick values.
SHAPE_METHODS = frozenset(
    "view view_as reshape reshape_as flatten unflatten permute transpose t squeeze unsqueeze contiguous "
    "expand expand_as to float double half bfloat16 type cuda cpu detach clone requires_grad_ "
    "narrow chunk split select movedim".split()
) | SELECTIONS
SHAPE_FUNCTIONS = frozenset(
    f"torch.{n}" for n in "flatten reshape permute transpose squeeze unsqueeze t clone narrow chunk split select".split()
) | {f"torch.{n}" for n in SELECTIONS}

#: Loss classes and functions -> the task they imply.
_REGRESSION = "MSELoss L1Loss SmoothL1Loss HuberLoss".split()
_CLASSIFICATION = "CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss MultiLabelSoftMarginLoss".split()
LOSSES: dict[str, str] = {f"torch.nn.{n}": "regression" for n in _REGRESSION}
LOSSES.update({f"torch.nn.{n}": "classification" for n in _CLASSIFICATION})
LOSSES.update(
    {f"torch.nn.functional.{n}": "regression" for n in "mse_loss l1_loss smooth_l1_loss huber_loss".split()}
)
LOSSES.update(
    {
        f"torch.nn.functional.{n}": "classification"
        for n in "cross_entropy nll_loss binary_cross_entropy binary_cross_entropy_with_logits".split()
    }
)

DATALOADER = {"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"}
#: Base classes of map-style (indexable) data sets, which a DataLoader can shuffle.
MAP_DATASETS = {"torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset"}
TENSOR_DATASET = {"torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset"}

#: torchvision data sets whose ``.data`` holds raw uint8 pixels, and their sizes (train, test).
IMAGE_DATASETS: dict[str, tuple[int, int]] = {
    "MNIST": (60000, 10000),
    "FashionMNIST": (60000, 10000),
    "KMNIST": (60000, 10000),
    "QMNIST": (60000, 10000),
    "EMNIST": (0, 0),
    "CIFAR10": (50000, 10000),
    "CIFAR100": (50000, 10000),
    "SVHN": (73257, 26032),
}

#: Transforms: those that scale pixels to [0, 1] or standardise, and those that keep raw values.
SCALING_TRANSFORMS = {"ToTensor", "Normalize", "ConvertImageDtype", "ToImageTensor"}
RAW_TRANSFORMS = {"PILToTensor", "ToImage", "pil_to_tensor"}

#: torch.optim classes; the keyword names of their hyperparameters are torch's own.
OPTIMIZERS = {
    f"torch.optim.{name}"
    for name in "SGD Adam AdamW Adamax Adadelta Adagrad RMSprop Rprop LBFGS NAdam RAdam SparseAdam ASGD".split()
}


def canonical(qualname: str) -> str:
    """``torch.nn.modules.linear.Linear`` and ``torch.nn.modules.Linear`` are ``torch.nn.Linear``."""
    if qualname.startswith("torch.nn.modules."):
        return "torch.nn." + qualname.rsplit(".", 1)[-1]
    return qualname

#: Calls that return the same model, wrapped for speed or devices: the model flows through.
MODEL_WRAPPERS = {
    "torch.compile", "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
    "torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.distributed.DistributedDataParallel",
    "torch.nn.SyncBatchNorm.convert_sync_batchnorm",
}


def is_model_factory(qualname: str) -> bool:
    """A library call that builds a model nnlint cannot read: ``torchvision.models.resnet18``,
    ``timm.create_model``, ``torch.hub.load``."""
    if qualname in ("timm.create_model", "torch.hub.load"):
        return True
    prefix, _, name = qualname.rpartition(".")
    modules = all(part[:1].islower() for part in prefix.split("."))  # not a weights enum's method
    return prefix.startswith("torchvision.models") and modules and name[:1].islower() \
        and not name.startswith(("get_", "list_"))

#: torchvision classification models whose forward ends with this attribute (the head people
#: replace for transfer learning), by name prefix (the architecture's family).
_HEADS = {
    "fc": "resnet resnext wide_resnet regnet googlenet shufflenet",
    "classifier": "vgg alexnet densenet mobilenet efficientnet convnext mnasnet squeezenet maxvit",
    "heads": "vit",
    "head": "swin",
}


def pretrained_head(qualname: str) -> str | None:
    """The attribute a torchvision classifier's forward ends with (``fc``, ``classifier``), or None."""
    prefix, _, name = qualname.rpartition(".")
    if prefix != "torchvision.models":
        return None  # detection, segmentation, video models: their forward ends elsewhere
    return next((attr for attr, families in _HEADS.items() if name.startswith(tuple(families.split()))), None)
