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
from typing import Any, Iterable, Iterator, Optional

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
            header = TensorProto.FromString(bytes(serialized[:tag_start]) + bytes(serialized[end:]))
            return header, (start, end)
    return TensorProto.FromString(serialized), None


def _raw_span(data: bytes) -> Optional[tuple[int, int, int]]:
    """(tag start, value start, end) of the one ``raw_data`` field among a tensor's top-level
    fields; None when there is none, or more than one (protobuf keeps the last), or the bytes
    do not read (the protobuf parse then says why)."""
    found = None
    try:
        for number, wire, field_start, start, end in _fields(data, 0, len(data)):
            if number == _RAW_DATA and wire == 2:
                if found is not None:
                    return None
                found = (field_start, start, end)
    except ValueError:
        return None
    return found


def cut_large(data: bytes, large: int, max_fields: int = 20_000) -> Optional[tuple[bytes, list[tuple[int, int]]]]:
    """The model ``data`` without its graph's initializers of ``large`` bytes or more, and
    where those lie in ``data`` (start, end of each serialized tensor), so that they are read
    in place and never copied: protobuf copies every field it parses. None when there are
    none, when the graph has more than ``max_fields`` fields (walking a graph of many nodes
    field by field in Python would cost more than the copy), or the layout is not the usual
    one: one graph field (7) holding them (field 5). The protobuf parse then does it all."""
    try:
        graphs = [(f, s, e) for number, wire, f, s, e in _fields(data, 0, len(data)) if number == 7 and wire == 2]
        if len(graphs) != 1:
            return None
        graph_tag, start, end = graphs[0]
        cuts, kept, pos = [], [], start
        for count, (number, wire, field_start, value_start, value_end) in enumerate(_fields(data, start, end)):
            if count > max_fields:
                return None
            if number == 5 and wire == 2 and value_end - value_start >= large:
                kept.append(data[pos:field_start])
                cuts.append((value_start, value_end))
                pos = value_end
    except ValueError:
        return None
    if not cuts:
        return None
    kept.append(data[pos:end])
    graph = b"".join(kept)
    rest = b"".join([data[:graph_tag], b"\x3a", _encode_varint(len(graph)), graph, data[end:]])
    return rest, cuts


def _fields(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """The fields of the message in ``data[pos:end]``: (number, wire type, start of its tag,
    start and end of its value). ValueError where they do not read."""
    while pos < end:
        field_start = pos
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, value_end = _varint(data, pos)
        elif wire == 1:
            value_end = pos + 8
        elif wire == 5:
            value_end = pos + 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            value_end = pos + length
        else:
            raise ValueError("unsupported wire type")
        if value_end > end:
            raise ValueError("field past the end")
        yield key >> 3, wire, field_start, pos, value_end
        pos = value_end


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


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
