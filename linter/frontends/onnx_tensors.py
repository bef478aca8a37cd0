"""An ONNX model's weights, decoded and summarised without float64 copies of them.

The bad-init rules read five facts of a weight: NaN/Inf anywhere, one value everywhere,
mean, std and excess kurtosis (for "looks untrained"). The first two are exact: a min and a
max over the whole tensor, in its own dtype, in chunks (a NaN makes both NaN, an Inf shows
as one of them). The moments of a large tensor come from a fixed-size sample of contiguous
blocks spread over it (``SAMPLE`` elements), which gives the std to about 0.1% for any
size: the rules compare it with 3x He's std, and print three digits. Small tensors, often
tens of thousands of them in one model, are summarised in batches: concatenated, then
reduced segment by segment (``np.add.reduceat``), so a tensor costs no numpy calls of its own.

A large inline tensor is kept serialized: :func:`split` parses its other fields and notes
where its ``raw_data`` is, so its bytes are read in place (as external data is) and never
copied into a second protobuf. Native dtypes are decoded here (``onnx.numpy_helper`` imports
the whole onnx package); the others are left to onnx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from nnlint.frontends.onnx_proto import TensorProto

#: A serialized initializer at least this large is kept serialized (see :func:`split`).
BIG = 1 << 20
#: Elements a large tensor's moments are computed from: SAMPLE_BLOCKS blocks spread over it.
SAMPLE = 1 << 20
SAMPLE_BLOCKS = 256
#: Elements reduced at once: by chunks for min/max, by batches for small tensors.
CHUNK = 1 << 22

FLOAT_TYPES = {TensorProto.FLOAT: np.dtype("<f4"), TensorProto.DOUBLE: np.dtype("<f8"),
               TensorProto.FLOAT16: np.dtype("<f2")}
_RAW = {**FLOAT_TYPES, TensorProto.UINT8: np.dtype("u1"), TensorProto.INT8: np.dtype("i1"),
        TensorProto.UINT16: np.dtype("<u2"), TensorProto.INT16: np.dtype("<i2"), TensorProto.INT32: np.dtype("<i4"),
        TensorProto.INT64: np.dtype("<i8"), TensorProto.BOOL: np.dtype("?"), TensorProto.UINT32: np.dtype("<u4"),
        TensorProto.UINT64: np.dtype("<u8")}
_TYPED = {TensorProto.FLOAT: "float_data", TensorProto.DOUBLE: "double_data", TensorProto.INT32: "int32_data",
          TensorProto.INT64: "int64_data"}
_RAW_DATA = 9  # TensorProto.raw_data's field number


@dataclass(slots=True)
class WeightStats:
    """A summary of one weight tensor: enough for the bad-init rules, without keeping the data."""

    size: int
    constant: Optional[float]  # the single value of a constant tensor
    nonfinite: bool
    mean: float
    std: float
    excess_kurtosis: float


def to_array(tensor: Any, raw: Optional[memoryview] = None) -> np.ndarray:
    """The tensor's values (``raw``: its raw data, when :func:`split` kept it apart); raises
    on malformed data, as ``onnx.numpy_helper.to_array`` does."""
    dtype = _RAW.get(tensor.data_type)
    if dtype is not None and not tensor.HasField("segment"):
        if raw is not None or tensor.HasField("raw_data"):
            data = raw if raw is not None else tensor.raw_data
            return np.frombuffer(data, dtype).reshape(tuple(tensor.dims))
        field = _TYPED.get(tensor.data_type)
        if field is not None:
            return np.asarray(getattr(tensor, field), dtype.newbyteorder("=")).reshape(tuple(tensor.dims))
    from onnx import numpy_helper  # the rarer dtypes and layouts: onnx knows them all

    return numpy_helper.to_array(tensor)


def split(serialized: bytes) -> tuple[Any, Optional[tuple[int, int]]]:
    """A large serialized tensor as its fields without ``raw_data`` (parsed) and where the raw
    data lies in ``serialized`` (start, end); (the whole tensor parsed, None) when it has none
    or is not large."""
    if len(serialized) >= BIG:
        span = _raw_span(serialized)
        if span is not None:
            tag_start, start, end = span
            header = TensorProto.FromString(serialized[:tag_start] + serialized[end:])
            return header, (start, end)
    return TensorProto.FromString(serialized), None


def _raw_span(data: bytes) -> Optional[tuple[int, int, int]]:
    """(tag start, value start, end) of the one ``raw_data`` field among a tensor's top-level
    fields; None when there is none, or more than one (protobuf keeps the last), or the bytes
    do not read (the protobuf parse then says why)."""
    found, pos, size = None, 0, len(data)
    try:
        while pos < size:
            field_start = pos
            key, pos = _varint(data, pos)
            wire = key & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(data, pos)
                if key >> 3 == _RAW_DATA:
                    if found is not None:
                        return None
                    found = (field_start, pos, pos + length)
                pos += length
            else:
                return None
    except IndexError:
        return None
    return found if pos == size else None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def summarise(values: np.ndarray) -> Optional[WeightStats]:
    """One float tensor, flattened, of any size: exact min/max over all of it, moments from
    a sample when it is larger than ``SAMPLE``."""
    size = values.size
    if size == 0:
        return None
    low = high = None
    for start in range(0, size, CHUNK):
        chunk = values[start : start + CHUNK]
        low = chunk.min() if low is None else min(low, chunk.min())
        high = chunk.max() if high is None else max(high, chunk.max())
    nonfinite = not (np.isfinite(low) and np.isfinite(high))
    if not nonfinite and low == high:
        return WeightStats(size, float(low), False, float(low), 0.0, 0.0)
    sample = _sample(values).astype(np.float64)
    if nonfinite:
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return WeightStats(0, None, True, 0.0, 0.0, 0.0)
    mean = float(sample.mean())
    centred = sample - mean
    squares = centred * centred
    var = float(squares.mean())
    kurt = float((squares * squares).mean()) / (var * var) - 3.0 if var > 0 else 0.0
    return WeightStats(size, None, nonfinite, mean, var**0.5, kurt)


def _sample(values: np.ndarray) -> np.ndarray:
    """``SAMPLE`` elements in ``SAMPLE_BLOCKS`` contiguous blocks spread evenly over ``values``
    (blocks, not a stride: a stride that is a multiple of a row would read one column)."""
    if values.size <= SAMPLE:
        return values
    block = SAMPLE // SAMPLE_BLOCKS
    starts = np.linspace(0, values.size - block, SAMPLE_BLOCKS).astype(np.int64)
    return np.concatenate([values[s : s + block] for s in starts])


def summarise_many(tensors: Iterable[tuple[str, Any]]) -> dict[str, Optional[WeightStats]]:
    """Small float tensors by name, summarised a batch at a time: each is its values, or its
    raw data and dtype (``(bytes, dtype)``: the raw data of a batch is joined and decoded at
    once). Float32 batches; float64 tensors in float64 batches, so no value changes."""
    result: dict[str, Optional[WeightStats]] = {}
    batches: dict[tuple, tuple[list[str], list, list[int]]] = {}  # (dtype, raw?) -> names, parts, [size]
    for name, values in tensors:
        raw = isinstance(values, tuple)
        dtype = values[1] if raw else values.dtype
        size = len(values[0]) // dtype.itemsize if raw else values.size
        if size == 0:
            result[name] = None
            continue
        key = (dtype.str, raw)
        names, parts, total = batches.setdefault(key, ([], [], [0]))
        names.append(name)
        parts.append(values[0] if raw else values.reshape(-1))
        total[0] += size
        if total[0] >= CHUNK:  # batches stay small: their temporaries too
            _batch(key, names, parts, result)
            names.clear()
            parts.clear()
            total[0] = 0
    for key, (names, parts, _) in batches.items():
        if names:
            _batch(key, names, parts, result)
    return result


def _batch(key: tuple, names: list[str], parts: list, result: dict) -> None:
    source, raw = np.dtype(key[0]), key[1]
    dtype = np.float64 if source.itemsize == 8 else np.float32
    if raw:
        values = np.frombuffer(b"".join(parts), source)
        counts = np.fromiter((len(p) // source.itemsize for p in parts), np.int64, len(parts))
    else:
        values = np.concatenate(parts)
        counts = np.fromiter((p.size for p in parts), np.int64, len(parts))
    decoded, values = values, values.astype(dtype, copy=False)
    starts = np.zeros(len(parts), np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    low, high = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    finite = np.isfinite(low) & np.isfinite(high)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf segments: summarised alone below
        mean = np.add.reduceat(values, starts, dtype=np.float64) / counts
        centred = values - np.repeat(mean.astype(dtype), counts)
        np.multiply(centred, centred, out=centred)
        var = np.add.reduceat(centred, starts, dtype=np.float64) / counts
        np.multiply(centred, centred, out=centred)
        fourth = np.add.reduceat(centred, starts, dtype=np.float64) / counts
    rows = zip(names, finite.tolist(), low.tolist(), high.tolist(), counts.tolist(), starts.tolist(), mean.tolist(),
               var.tolist(), fourth.tolist())
    for name, ok, lo, hi, count, start, mu, v, m4 in rows:
        if not ok:  # NaN or Inf: the finite values' moments, as ever
            result[name] = summarise(decoded[start : start + count])
        elif lo == hi:
            result[name] = WeightStats(count, lo, False, lo, 0.0, 0.0)
        else:
            result[name] = WeightStats(count, None, False, mu, v**0.5, m4 / (v * v) - 3.0 if v > 0 else 0.0)
