"""NN005 unnormalized-input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.check import Bad, Good, ProgramCheck
from nnlint.frontends.program import Program
from nnlint.ir import SHAPE_ONLY, WEIGHTED, ModelGraph, Op, OpKind
from nnlint.levels import Confidence, Severity
from nnlint.trace.measurements import Measure
from nnlint.trace.verdict import HEALTHY_STD, Verdict, confirmed, inconclusive, refuted

if TYPE_CHECKING:
    from nnlint.trace.evidence import Evidence
    from nnlint.trace.remedy import Remedy
    from nnlint.trace.records import ModelTrace

#: Sample values beyond this are raw (pixels, prices); within NORMALISED_LIMIT they are scaled.
RAW_LIMIT = 10.0
NORMALISED_LIMIT = 5.0
#: The values an integer graph input's type can hold, where that range is itself a raw scale:
#: narrow types store raw measurements (8-bit pixels, 16-bit audio, depth or medical images).
#: int32/int64 are left out: they as often hold ids, counts or 0/1 flags, and their range says
#: nothing about the values.
DTYPE_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767)}
#: "Far outside" the healthy band: a first layer's activation std beyond this factor of its edges.
FAR = 10.0


class UnnormalizedInput(ProgramCheck):
    """
    ## What it does
    Flags raw-scale data on its way into a model: the `uint8` pixels of a torchvision data
    set's `.data` (0-255) cast to float and fed to a model, a `TensorDataset` or a
    `DataLoader` without `/ 255` or standardisation; a transform pipeline that turns images
    into float tensors without scaling (`PILToTensor` then `ToDtype(torch.float32)` without
    `scale=True`); images read with PIL, OpenCV, imageio, scikit-image or
    `torchvision.io.read_image` (uint8), and pixel CSVs of published data sets (`mnist_train.csv`),
    (`info`: the scale is read from the file's name) reaching a model, a `TensorDataset`'s inputs or a `DataLoader` (also as what a `Dataset`
    class's `__getitem__` returns); raw tabular features (scikit-learn's California housing,
    Boston housing, breast cancer and wine tables, as a `Bunch`, `return_X_y=True` or split by
    `train_test_split`, and Keras' `boston_housing.load_data()`) used unscaled, also through
    scikit-learn's Keras wrappers (`KerasClassifier(build_fn=...).fit(x, y)`, in a
    `GridSearchCV` or `RandomizedSearchCV` too), or fed to the placeholder a TF1 graph's first
    weighted layer reads by a training step's `sess.run(train_op, feed_dict={x: X, ...})`. A division, a subtraction or a scaling transform on the way is a scaling,
    also as the model's own first step (`x / 255` in `forward`, a Keras `Rescaling` or
    `Normalization` layer, in a nested model too).

    ## Why is this bad?
    Inputs of size 255 (or house prices in the hundreds of thousands) multiply the first
    layer's pre-activations by the same factor: activations saturate, gradients explode and
    the learning rate that suits the other layers is far too large for the first. Inputs
    should be in [0, 1] or [-1, 1], or have mean 0 and std 1, with the same transform at
    test time. `transforms.ToTensor()` already scales to [0, 1], and data scaled in another
    file is not reported. A model whose first layer is a BatchNormalization/LayerNormalization,
    or has one right after its first layer, normalises the raw scale itself: `info`. So is a
    model whose first step nnlint cannot read (a `torch.hub` or `timm` model, an unknown
    module), which may scale its input itself. Data bound for a `DataLoader` or a data set is
    judged against the model the file trains, when it trains one.

    ## Example
    ```python
    train = datasets.MNIST("data", train=True, download=True)
    x = train.data.float().view(-1, 784)
    loader = DataLoader(TensorDataset(x, train.targets), batch_size=64, shuffle=True)
    ```

    ## Use instead
    ```python
    x = (train.data.float() / 255.0 - 0.1307) / 0.3081
    ```
    """

    code = "NN005"
    name = "unnormalized-input"
    message = "{what} reaches {sink} unscaled: {fix}"
    hint = "scale inputs to [0, 1] or standardise them (transforms.ToTensor/Normalize, StandardScaler, x / 255)"
    traceable = True  # from --sample, an ONNX input's dtype, or the model fed its inputs' range
    measures = frozenset({Measure.LAYERS})
    reads_sizes = False  # compared with scaled inputs at the same width
    frameworks = ("pytorch", "keras", "onnx")

    bad = [
        Bad(
            """
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

train = datasets.MNIST("data", train=True, download=True)
x = train.data.float().view(-1, 784)
loader = DataLoader(TensorDataset(x, train.targets), batch_size=64, shuffle=True)
"""
        ),
        Bad(
            """
import torch
from torchvision.transforms import v2
from torchvision.datasets import CIFAR10
from torch.utils.data import DataLoader

tf = v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32)])
loader = DataLoader(CIFAR10("data", train=True, transform=tf), batch_size=128, shuffle=True)
"""
        ),
        Bad(
            """
import keras
(x_train, y_train), _ = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x_train.astype("float32"), y_train, epochs=3)
""",
            frontend="keras-source",
        ),
        Bad(
            """
import tensorflow as tf
(images, labels), _ = tf.keras.datasets.cifar10.load_data()
net = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
net.fit(x=images.reshape(-1, 3072), y=labels)
""",
            frontend="keras-source",
        ),
    ]
    good = [
        Good(
            """
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets, transforms

train = datasets.MNIST("data", train=True, download=True)
x = train.data.float().view(-1, 784) / 255.0
loader = DataLoader(TensorDataset(x, train.targets), batch_size=64, shuffle=True)
tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
test = DataLoader(datasets.MNIST("data", train=False, transform=tf), batch_size=1000)
"""
        ),
        Good(
            """
import torch
from torchvision.transforms import v2
from torchvision.datasets import CIFAR10
from torch.utils.data import DataLoader

tf = v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True)])
loader = DataLoader(CIFAR10("data", train=True, transform=tf), batch_size=128, shuffle=True)
"""
        ),
        Good(
            """
import keras
(x_train, y_train), _ = keras.datasets.mnist.load_data()
scaled = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(10)])
scaled.fit(x_train, y_train)
plain = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
plain.fit(x_train / 255.0, y_train)
""",
            frontend="keras-source",
        ),
    ]


    def remedy(self, graph: ModelGraph, op: Optional[Op], fields: dict) -> Optional[Remedy]:
        """The data scaled into [-1, 1] by its largest magnitude (pixels / 255; a table's
        columns each by its own), where the API that loads it fixes its range; the model itself
        is unchanged."""
        from nnlint.trace.remedy import Remedy, set_input_range

        span, only = fields.get("range"), fields.get("input")
        if span is None or (len(graph.inputs) != 1 if only is None else only not in graph.ops):
            return None  # data fed to a graph of several inputs is measured only where the code names the one
        if isinstance(span[0], (list, tuple)):  # a table: (lows, highs) per column
            sizes = [max(abs(lo), abs(hi)) or 1.0 for lo, hi in zip(*span)]
            low, high = (tuple(v / size for v, size in zip(bound, sizes)) for bound in span)
            what = "each column scaled into [-1, 1] by its largest magnitude"
        else:
            size = max(abs(span[0]), abs(span[1]))
            if not size:
                return None
            low, high = span[0] / size, span[1] / size
            what = f"the inputs scaled to [{low:g}, {high:g}]"
        return Remedy(self.code, what, (self.code, "inputs", low, high, only),
                      lambda g: set_input_range(g, low, high, only), inputs_only=True)

    def confirm(self, evidence: Evidence) -> Verdict:
        """Real data shows its scale: the ``--sample`` array's range, mean and std. Without it,
        where the API that loads the data fixes its range (an image decoder's uint8 pixels, a
        published table's columns), an experiment: the model fed inputs spread over that range against it fed them scaled (the
        remedy), read at its first weighted layer. An integer ONNX graph input of a narrow type
        (uint8 pixels) that reaches the layer through casts and reshapes alone has its type's
        range as its scale; nothing else can be judged."""
        sample = evidence.sample
        if sample is None and evidence.fields.get("range") is not None and evidence.remedy is not None:
            return _as_loaded(evidence)
        if sample is None:
            source = _integer_source(evidence.graph, evidence.op)
            dtype = source.attrs["dtype"] if source is not None else None
            if dtype in DTYPE_RANGES:
                low, high = DTYPE_RANGES[dtype]
                span = f"{low}-{high}" if low >= 0 else f"{low} to {high}"
                return confirmed(f"{dtype} input '{source.label}': values span {span} by its dtype, "
                                 f"unscaled before {evidence.op.describe()}")
            unbounded = f"{dtype} input '{source.label}': its dtype does not tell the values' scale; " if dtype else ""
            return inconclusive(f"{unbounded}confirming needs the data: pass --sample FILE.npy (inputs as the code loads them)")
        seen = (f"sample {sample.name}: values {sample.min:g} to {sample.max:g}, mean {sample.mean:.3g}, "
                f"std {sample.std:.3g}")
        if max(abs(sample.min), abs(sample.max)) > RAW_LIMIT or sample.std > RAW_LIMIT / 2:
            whole = "whole numbers, " if sample.integral else ""
            return confirmed(f"{seen}: {whole}raw scale, not normalised")
        if max(abs(sample.min), abs(sample.max)) <= NORMALISED_LIMIT and sample.std <= NORMALISED_LIMIT / 2:
            return refuted(f"{seen}: already on a normalised scale")
        return inconclusive(f"{seen}: neither clearly raw nor normalised")

    def check(self, program: Program) -> None:
        for flow in program.raw_inputs:
            pixels = "pixel" in flow["what"] or "images" in flow["what"]
            fix = ("divide by 255 (torchvision's ToTensor/Normalize, or a Keras Rescaling layer)" if pixels
                   else "standardise with (x - mean) / std (StandardScaler)")
            # source code's data bound for a loader or a data set feeds the model the file trains,
            # if it has one (an ONNX flow names its first layer itself)
            model = flow["model"] or program.single_model() if "model" in flow else None
            first = _first_op(model) if model is not None else None
            if first is not None and _normalises_first(model, first):
                self.report(flow["at"], Severity.INFO, Confidence.POSSIBLE, what=flow["what"], sink=flow["sink"],
                            fix=f"its first layers normalise them, which takes most of the harm; still, {fix}")
            elif first is not None and _scales_first(first):
                continue  # the model scales its own input first (x / 255 in forward, a Normalization layer)
            elif first is not None and first.kind is OpKind.UNKNOWN and not first.attrs.get("weightless"):
                # a library model (torch.hub, timm) or a module nnlint cannot read: it may scale its input itself
                self.report(flow["at"], Severity.INFO, Confidence.POSSIBLE, what=flow["what"], sink=flow["sink"],
                            fix=f"the model's first step is one nnlint cannot read (a library model, an unknown "
                                f"module), which may scale its input itself; if not, {fix}")
            else:
                level = (Severity.INFO, Confidence.POSSIBLE) if flow.get("guess") else (None, None)  # scale read from a file name
                # data fed to a model the flow names (Keras fit) concerns that model: its first op
                # ties the finding to it for --trace, where the file holds more than one
                named = first if flow.get("model") is not None and not isinstance(flow["at"], Op) else None
                self.report(flow["at"], *level, about=named, what=flow["what"], sink=flow["sink"], fix=fix,
                            range=flow.get("range"), loaded_by=flow.get("loaded_by"), input=flow.get("input"))


def _as_loaded(evidence: Evidence) -> Verdict:
    """The experiment for data whose range its loader fixes: the first weighted layer's
    activation std with the inputs spread over that range, and with them scaled (the remedy).
    Confirmed when the raw range puts it far outside the healthy band and the scaled one does not;
    inconclusive otherwise (the range alone does not show harm: the data may)."""
    from nnlint.trace.remedy import Remedy, set_input_range

    missing = evidence.missing(need_op=False)
    if missing is not None:
        return missing
    low, high = evidence.fields["range"]
    if isinstance(low, (list, tuple)):  # a table: a range per column, for a model as wide as the table
        low, high = tuple(low), tuple(high)
        spread = f"{len(low)} columns, each spread uniformly over its documented min-max range (up to {max(high):g})"
        spans = f"are {spread}"
    else:
        spread = f"{low:g}-{high:g}"
        spans = f"span {spread}"
    only = evidence.fields.get("input")
    loaded = Remedy("NN005", f"the inputs as loaded ({spread})", ("NN005", "loaded", low, high, only),
                    lambda g: set_input_range(g, low, high, only), inputs_only=True)
    raw, fixed = evidence.variant((loaded,)) if evidence.variant is not None else None, evidence.fixed
    width = raw.input_shapes[0][-1] if raw is not None and raw.input_shapes else None
    if isinstance(low, tuple) and width is not None and width != len(low):  # another stated width: other columns
        return inconclusive(f"the model reads {width} features and the table has {len(low)} columns: which "
                            "columns it reads is not known; confirming needs the data: pass --sample FILE.npy")
    layer = _first_weighted(evidence.graph, raw, fixed)
    if layer is None:
        return inconclusive("no weighted layer of the model could be measured with the inputs as loaded: "
                            "confirming needs the data: pass --sample FILE.npy (inputs as the code loads them)")
    raw_std, fixed_std = raw.layers[layer.id].train.std, fixed.layers[layer.id].train.std
    healthy = f"healthy {HEALTHY_STD[0]:g}-{HEALTHY_STD[1]:g}"
    by = evidence.fields.get("loaded_by")
    seen = (f"inputs as loaded {spans}{f' (by {by})' if by else ''}: {layer.describe()}'s activation "
            f"std {raw_std:.3g} ({healthy}){_saturation(evidence.graph, layer, raw)}, {fixed_std:.3g} with "
            f"{evidence.remedy.what}{_saturation(evidence.graph, layer, fixed)}")
    if _far_outside(raw_std) and not _far_outside(fixed_std):
        return confirmed(seen)
    return inconclusive(f"{seen}: the range alone does not show harm; pass --sample FILE.npy to judge the data")


def _first_weighted(graph: ModelGraph, *traces: Optional["ModelTrace"]) -> Optional[Op]:
    """The model's first weighted layer (graph order), where each trace measured it."""
    first = next((op for op in graph.ops.values() if op.kind in WEIGHTED), None)
    if first is None or any(t is None or t.layers.get(first.id) is None or t.layers[first.id].train is None
                            for t in traces):
        return None
    return first


def _saturation(graph: ModelGraph, layer: Op, trace: "ModelTrace") -> str:
    """The fraction saturated of the bounded activation (tanh, sigmoid) right after the layer."""
    after = next((op for op in graph.consumers(layer) if op.kind in (OpKind.TANH, OpKind.SIGMOID)), None)
    record = trace.layers.get(after.id) if after is not None else None
    if record is None or record.train is None:
        return ""
    return f", {record.train.saturated_fraction:.0%} of its {after.kind.value} saturated"


def _far_outside(std: float) -> bool:
    return std > HEALTHY_STD[1] * FAR or std < HEALTHY_STD[0] / FAR


def _integer_source(graph: Optional[ModelGraph], op: Optional[Op]) -> Optional[Op]:
    """The integer graph input (one whose ``dtype`` the frontend recorded) that reaches ``op``
    through casts and reshapes alone, as the ONNX frontend's raw-input flows do; or None."""
    if graph is None or op is None:
        return None
    todo, seen = list(op.inputs), set()
    while todo:
        source = graph.ops.get(todo.pop())
        if source is None or source.id in seen:
            continue
        seen.add(source.id)
        if source.kind is OpKind.INPUT and source.attrs.get("dtype"):
            return source
        if source.kind in (OpKind.RESHAPE, OpKind.IDENTITY):
            todo.extend(source.inputs)
    return None


def _first_op(graph: ModelGraph) -> Optional[Op]:
    """The first op of ``graph`` that computes something (not its input, not a reshape)."""
    return next((op for op in graph.ops.values() if op.kind is not OpKind.INPUT and op.kind not in SHAPE_ONLY), None)


def _scales_first(first: Op) -> bool:
    """The model's first computation rescales its input, as scaling before the model would:
    a division (``x / 255`` in ``forward``), a subtraction (``x - mean``, a Keras
    ``Normalization``), a multiplication by a constant under 1 (``x * 0.1``, a Keras ``Rescaling``)."""
    if first.kind in (OpKind.DIV, OpKind.SUB):
        return True
    if first.kind is OpKind.MUL:
        factor = first.attrs.get("const")
        return isinstance(factor, (int, float)) and not isinstance(factor, bool) and abs(factor) < 1
    return False


def _normalises_first(graph: ModelGraph, first: Op) -> bool:
    """A BatchNorm/LayerNorm as the model's first layer, or right after its first weighted layer:
    the raw scale is normalised away before (or right after) one layer sees it."""
    if first.kind in _INPUT_NORMS:
        return True
    readers = graph.consumers(first)
    return first.kind in WEIGHTED and len(readers) == 1 and readers[0].kind in _INPUT_NORMS


_INPUT_NORMS = {OpKind.BATCH_NORM, OpKind.LAYER_NORM}
