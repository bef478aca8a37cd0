"""Small ONNX models built in memory for the ONNX tests, and byte-level inputs that are not models.

Every builder returns an ``onnx.ModelProto`` that passes ``onnx.checker.check_model`` with
``full_check=True`` (shape inference included), so a finding about it is about the graph, not
about a broken file. The graph structure is written in ONNX's textual syntax
(``onnx.parser``); weights are numpy arrays added as initializers afterwards.

Node names follow one convention: ``fc*``/``head*`` for Gemm, ``conv*`` for Conv, ``bn*`` for
BatchNormalization, ``act*`` for activations, ``drop*`` for Dropout, ``sm`` for Softmax.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
import onnx
import onnx.parser
from onnx import helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "onnx"

OPSET = 13
HEADER = f'<ir_version: 8, opset_import: ["" : {OPSET}]>'
HEADER_OPSET7 = '<ir_version: 4, opset_import: ["" : 7]>'

IN, HIDDEN, OUT = 16, 32, 4

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 2097152\n"
)


# --------------------------------------------------------------------------------------- basics


def build(text: str, initializers: Optional[Mapping[str, np.ndarray]] = None, check: bool = True) -> onnx.ModelProto:
    """Parse ``text`` (ONNX textual syntax) and add ``initializers`` (name -> numpy array)."""
    model = onnx.parser.parse_model(text)
    for name, value in (initializers or {}).items():
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model


def save(model: onnx.ModelProto, path: Path | str) -> Path:
    """Serialize ``model`` to ``path`` (inline weights), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def he(gen: np.random.Generator, out_features: int, in_features: int) -> np.ndarray:
    """A Gemm weight (transB=1 layout: [out, in]) drawn from N(0, 2 / fan_in): He init."""
    return gen.normal(0.0, np.sqrt(2.0 / in_features), size=(out_features, in_features)).astype(np.float32)


def small_bias(gen: np.random.Generator, n: int) -> np.ndarray:
    return gen.uniform(-0.1, 0.1, size=(n,)).astype(np.float32)


def scalar(value: float) -> np.ndarray:
    return np.array(value, dtype=np.float32)


# ------------------------------------------------------------------------------- MLP (Gemm) models


def mlp(
    first_bias: bool = True,
    w1: Optional[np.ndarray] = None,
    names: tuple[str, str, str] = ("fc1", "act1", "fc2"),
    seed: int = 0,
) -> onnx.ModelProto:
    """X[N,16] -> Gemm ``fc1`` (W1 [32,16], optional B1) -> Relu ``act1`` -> Gemm ``fc2`` (W2, B2) -> Y[N,4].

    Defaults: He-initialised weights, small random biases, no pitfall at all.
    """
    gen = rng(seed)
    fc1, act1, fc2 = names
    first = f"[{fc1}] H = Gemm<transB=1>(X, W1, B1)" if first_bias else f"[{fc1}] H = Gemm<transB=1>(X, W1)"
    text = f"""
    {HEADER}
    mlp (float[N, {IN}] X) => (float[N, {OUT}] Y)
    {{
        {first}
        [{act1}] A = Relu(H)
        [{fc2}] Y = Gemm<transB=1>(A, W2, B2)
    }}
    """
    inits = {"W1": he(gen, HIDDEN, IN) if w1 is None else np.asarray(w1, dtype=np.float32)}
    if first_bias:
        inits["B1"] = small_bias(gen, HIDDEN)
    inits["W2"] = he(gen, OUT, HIDDEN)
    inits["B2"] = small_bias(gen, OUT)
    return build(text, inits)


def zeros_w1() -> np.ndarray:
    return np.zeros((HIDDEN, IN), dtype=np.float32)


def nan_w1(seed: int = 0) -> np.ndarray:
    weight = he(rng(seed + 100), HIDDEN, IN)
    weight[3, 5] = np.nan
    return weight


def regression_relu_output(seed: int = 0) -> onnx.ModelProto:
    """X[N,8] -> Gemm ``fc1`` -> Relu ``act1`` -> Gemm ``out`` -> Relu ``out_relu`` -> Y[N,1].

    A regression network whose output cannot go negative (NN001 once the task is regression).
    """
    gen = rng(seed)
    text = f"""
    {HEADER}
    regressor (float[N, 8] X) => (float[N, 1] Y)
    {{
        [fc1] H = Gemm<transB=1>(X, W1, B1)
        [act1] A = Relu(H)
        [out] O = Gemm<transB=1>(A, W2, B2)
        [out_relu] Y = Relu(O)
    }}
    """
    return build(text, {"W1": he(gen, 32, 8), "B1": small_bias(gen, 32), "W2": he(gen, 1, 32), "B2": small_bias(gen, 1)})


# ------------------------------------------------------------------------------------ Conv models


def conv_bn(conv_bias: bool, seed: int = 0) -> onnx.ModelProto:
    """X[1,3,8,8] -> Conv ``conv1`` (8 filters 3x3, optional bias) -> BatchNormalization ``bn1`` -> Relu ``act1``."""
    gen = rng(seed)
    conv = (
        "[conv1] C = Conv<kernel_shape=[3, 3], pads=[1, 1, 1, 1]>(X, W, B)"
        if conv_bias
        else "[conv1] C = Conv<kernel_shape=[3, 3], pads=[1, 1, 1, 1]>(X, W)"
    )
    text = f"""
    {HEADER}
    convnet (float[1, 3, 8, 8] X) => (float[1, 8, 8, 8] Y)
    {{
        {conv}
        [bn1] N = BatchNormalization(C, scale, shift, mean, var)
        [act1] Y = Relu(N)
    }}
    """
    inits = {"W": gen.normal(0.0, np.sqrt(2.0 / 27), size=(8, 3, 3, 3)).astype(np.float32)}
    if conv_bias:
        inits["B"] = small_bias(gen, 8)
    inits.update(
        scale=np.ones(8, np.float32),
        shift=np.zeros(8, np.float32),
        mean=gen.normal(0.0, 0.1, 8).astype(np.float32),
        var=gen.uniform(0.5, 1.5, 8).astype(np.float32),
    )
    return build(text, inits)


# --------------------------------------------------------------------------------- Dropout models


def dropout_opset7(ratio: float, seed: int = 0) -> onnx.ModelProto:
    """Opset 7: Gemm ``fc1`` -> Dropout ``drop1`` (attribute ``ratio``) -> Gemm ``fc2``."""
    gen = rng(seed)
    text = f"""
    {HEADER_OPSET7}
    dropnet (float[N, {IN}] X) => (float[N, {OUT}] Y)
    {{
        [fc1] H = Gemm<transB=1>(X, W1, B1)
        [act1] A = Relu(H)
        [drop1] D = Dropout<ratio={ratio!r}>(A)
        [fc2] Y = Gemm<transB=1>(D, W2, B2)
    }}
    """
    return build(
        text,
        {"W1": he(gen, HIDDEN, IN), "B1": small_bias(gen, HIDDEN), "W2": he(gen, OUT, HIDDEN), "B2": small_bias(gen, OUT)},
    )


def dropout_opset13(ratio: float, seed: int = 0, names: tuple[str, ...] = ("fc1", "act1", "drop1", "fc2")) -> onnx.ModelProto:
    """Opset 13: Gemm -> Relu -> Dropout (ratio = second input, a scalar initializer) -> Gemm."""
    gen = rng(seed)
    fc1, act1, drop1, fc2 = names
    text = f"""
    {HEADER}
    dropnet (float[N, {IN}] X) => (float[N, {OUT}] Y)
    {{
        [{fc1}] H = Gemm<transB=1>(X, W1, B1)
        [{act1}] A = Relu(H)
        [{drop1}] D = Dropout(A, ratio)
        [{fc2}] Y = Gemm<transB=1>(D, W2, B2)
    }}
    """
    return build(
        text,
        {"W1": he(gen, HIDDEN, IN), "B1": small_bias(gen, HIDDEN), "W2": he(gen, OUT, HIDDEN), "B2": small_bias(gen, OUT),
         "ratio": scalar(ratio)},
    )


def two_dropouts(first: str, second: str, ratio: float = 0.9, seed: int = 0) -> onnx.ModelProto:
    """Gemm -> Relu -> Dropout ``first`` -> Gemm -> Relu -> Dropout ``second`` -> Gemm: two NN007 at ratio 0.9."""
    gen = rng(seed)
    text = f"""
    {HEADER}
    twodrops (float[N, {IN}] X) => (float[N, {OUT}] Y)
    {{
        [body_fc] H = Gemm<transB=1>(X, W1, B1)
        [body_act] A = Relu(H)
        [{first}] D = Dropout(A, ratio)
        [head_fc] H2 = Gemm<transB=1>(D, W2, B2)
        [head_act] A2 = Relu(H2)
        [{second}] D2 = Dropout(A2, ratio)
        [out] Y = Gemm<transB=1>(D2, W3, B3)
    }}
    """
    return build(
        text,
        {"W1": he(gen, HIDDEN, IN), "B1": small_bias(gen, HIDDEN), "W2": he(gen, HIDDEN, HIDDEN),
         "B2": small_bias(gen, HIDDEN), "W3": he(gen, OUT, HIDDEN), "B3": small_bias(gen, OUT), "ratio": scalar(ratio)},
    )


def unnamed_dropout(ratio: float = 0.9, seed: int = 0) -> onnx.ModelProto:
    """Node 0 Gemm ``fc1``, node 1 Relu ``act1``, node 2 an UNNAMED Dropout, node 3 Gemm ``fc2``."""
    return dropout_opset13(ratio, seed, names=("fc1", "act1", "", "fc2"))


# --------------------------------------------------------------------------------- Softmax models


def _softmax_model(body: str, seed: int = 0) -> onnx.ModelProto:
    gen = rng(seed)
    text = f"""
    {HEADER}
    classifier (float[N, {IN}] X) => (float[N, 10] Y)
    {{
        [fc1] Z = Gemm<transB=1>(X, W1, B1)
        {body}
    }}
    """
    return build(text, {"W1": he(gen, 10, IN), "B1": small_bias(gen, 10)})


def log_of_softmax() -> onnx.ModelProto:
    """Gemm -> Softmax ``sm`` -> Log ``log``: the unstable log-probabilities (NN002)."""
    return _softmax_model("[sm] P = Softmax<axis=1>(Z)\n        [log] Y = Log(P)")


def log_softmax() -> onnx.ModelProto:
    """Gemm -> LogSoftmax ``logsm``: the stable way."""
    return _softmax_model("[logsm] Y = LogSoftmax<axis=1>(Z)")


def relu_then_softmax() -> onnx.ModelProto:
    """Gemm -> Relu ``act1`` -> Softmax ``sm``: logits clipped at 0 (NN002)."""
    return _softmax_model("[act1] R = Relu(Z)\n        [sm] Y = Softmax<axis=1>(R)")


def plain_softmax() -> onnx.ModelProto:
    """Gemm -> Softmax ``sm``: fine."""
    return _softmax_model("[sm] Y = Softmax<axis=1>(Z)")


# ---------------------------------------------------------------------------------- external data


def external_model(seed: int = 0) -> onnx.ModelProto:
    """Gemm ``fc1`` (W1 all zeros, large enough to go to external data) -> Relu -> Gemm ``fc2`` -> Relu
    -> Dropout ``drop1`` (ratio 0.9) -> Gemm ``fc3``.

    With W1 read, NN004 (constant-zero hidden weights) fires on ``fc1``; NN007 fires on ``drop1``
    whatever happens to W1. Only W1 (2048 bytes) is above the 1024-byte threshold of
    :func:`save_external`.
    """
    gen = rng(seed)
    text = f"""
    {HEADER}
    extnet (float[N, {IN}] X) => (float[N, {OUT}] Y)
    {{
        [fc1] H = Gemm<transB=1>(X, W1, B1)
        [act1] A = Relu(H)
        [fc2] H2 = Gemm<transB=1>(A, W2, B2)
        [act2] A2 = Relu(H2)
        [drop1] D = Dropout(A2, ratio)
        [fc3] Y = Gemm<transB=1>(D, W3, B3)
    }}
    """
    return build(
        text,
        {"W1": zeros_w1(), "B1": small_bias(gen, HIDDEN), "W2": he(gen, 8, HIDDEN), "B2": small_bias(gen, 8),
         "W3": he(gen, OUT, 8), "B3": small_bias(gen, OUT), "ratio": scalar(0.9)},
    )


EXTERNAL_INITIALIZER = "W1"
EXTERNAL_BYTES = HIDDEN * IN * 4


def save_external(model: onnx.ModelProto, path: Path, location: str = "weights.bin") -> Path:
    """Save with the large initializers in ``location`` next to the model (onnx's own API)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=1024)
    return path


def external_entries(path: Path) -> dict[str, dict[str, str]]:
    """initializer name -> its ``external_data`` key/values, read without loading the data."""
    model = onnx.load(str(path), load_external_data=False)
    return {
        t.name: {e.key: e.value for e in t.external_data}
        for t in model.graph.initializer
        if t.data_location == onnx.TensorProto.EXTERNAL
    }


def relocate_external(path: Path, name: str, location: str) -> None:
    """Point initializer ``name``'s external data at ``location`` and re-save the model as is."""
    model = onnx.load(str(path), load_external_data=False)
    [tensor] = [t for t in model.graph.initializer if t.name == name]
    assert tensor.data_location == onnx.TensorProto.EXTERNAL and not tensor.HasField("raw_data")
    for entry in tensor.external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save_model(model, str(path))  # tensors without raw_data are written as they are
    assert external_entries(path)[name]["location"] == location


# ------------------------------------------------------------------------------ not-a-model bytes


def truncated_model_bytes() -> bytes:
    """The first half of a real model's bytes (the corpus's MNIST model; a built one without the corpus)."""
    real = CORPUS / "ortex-mnist_cntk.onnx"
    data = real.read_bytes() if real.is_file() else mlp().SerializeToString()
    return data[: len(data) // 2]


def random_bytes(seed: int = 1234, size: int = 4096) -> bytes:
    return random.Random(seed).randbytes(size)


def tensor_bytes() -> bytes:
    """A valid protobuf, but a TensorProto, not a model."""
    return helper.make_tensor("t", onnx.TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]).SerializeToString()


def node_bytes() -> bytes:
    """A valid protobuf, but a NodeProto, not a model."""
    return helper.make_node("Relu", ["x"], ["y"], name="relu").SerializeToString()


NOT_A_MODEL = {
    "truncated": truncated_model_bytes,
    "random-bytes": random_bytes,
    "empty": lambda: b"",
    "tensor-proto": tensor_bytes,
    "node-proto": node_bytes,
}


# ---------------------------------------------------------------------------------------- fuzzing


def mutate(data: bytes, gen: random.Random) -> tuple[bytes, str]:
    """One random byte-level mutation of ``data``: flip, insert, delete or truncate."""
    data = bytearray(data)
    kind = gen.choice(["flip", "flip", "insert", "delete", "truncate"])
    if kind == "flip":
        positions = [gen.randrange(len(data)) for _ in range(gen.randint(1, 8))]
        for pos in positions:
            data[pos] ^= gen.randrange(1, 256)
        return bytes(data), f"flip at {positions}"
    if kind == "insert":
        pos = gen.randrange(len(data) + 1)
        chunk = gen.randbytes(gen.randint(1, 16))
        data[pos:pos] = chunk
        return bytes(data), f"insert {chunk.hex()} at {pos}"
    if kind == "delete":
        pos = gen.randrange(len(data))
        length = gen.randint(1, 32)
        del data[pos : pos + length]
        return bytes(data), f"delete {length} at {pos}"
    cut = gen.randrange(len(data))
    return bytes(data[:cut]), f"truncate to {cut}"
