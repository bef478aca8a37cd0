"""A model's nodes, parsed a chunk at a time, so a graph of millions is never parsed whole.

``onnx.load`` parses the whole file into one protobuf arena that lives as long as the model:
about 400 bytes a node, seven times the file for a graph of small nodes. The linter needs a
node only while it converts it. So :func:`read` parses the file with a two-field schema that
keeps each node and initializer serialized (about 60 bytes a node, 100 a 4x4 weight) and
every other field as it was, parses that rest as the ``ModelProto`` (without nodes or
initializers: :class:`StreamedTensors` parses those a chunk at a time when they are read,
or a few at once by position), and :meth:`StreamedNodes.columns` parses the
nodes 2,000 at a time, dropping each chunk's bytes once parsed, and reads the fields the
linter needs from each chunk in bulk (see :mod:`onnx_columns`). Every byte is parsed by the protobuf library with ONNX's schema either way, each chunk wrapped in a
``ModelProto`` so it is parsed at the depth it has in the file; when a chunk does not parse,
``onnx.load`` itself is asked, so a broken file is reported exactly as before.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterator, Optional, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from nnlint.frontends import onnx_columns, onnx_tensors
from nnlint.frontends.onnx_columns import NodeColumns
from nnlint.frontends.onnx_proto import ModelProto, NodeProto, TensorProto

#: Nodes parsed at once: large enough that the per-chunk cost vanishes (under 1%), small
#: enough that a chunk's parsed nodes and its fields' strings (about 0.5 MB) stay in the
#: processor's cache while the frontend reads them (20,000 made a million-node lint 13% slower).
CHUNK = 2_000


@lru_cache(maxsize=1)
def _serialized_nodes_model() -> type:
    """A message type that reads a ModelProto with its graph's nodes and initializers (field 7,
    then 1 and 5) as bytes.

    Every other field is unknown to it, and the protobuf library keeps unknown fields and
    writes them back in their order, so serializing it without its nodes gives the model
    without its nodes.
    """
    proto = descriptor_pb2.FileDescriptorProto(name="nnlint_serialized_nodes.proto", package="nnlint", syntax="proto2")
    field = descriptor_pb2.FieldDescriptorProto
    graph = proto.message_type.add(name="SerializedNodesGraph")
    graph.field.add(name="node", number=1, label=field.LABEL_REPEATED, type=field.TYPE_BYTES)
    graph.field.add(name="initializer", number=5, label=field.LABEL_REPEATED, type=field.TYPE_BYTES)
    model = proto.message_type.add(name="SerializedNodesModel")
    model.field.add(name="graph", number=7, label=field.LABEL_OPTIONAL, type=field.TYPE_MESSAGE,
                    type_name=".nnlint.SerializedNodesGraph")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nnlint.SerializedNodesModel"))


class ParsedNodes:
    """The nodes of a model parsed whole (``onnx.load``): one chunk."""

    def __init__(self, nodes: Sequence[NodeProto]) -> None:
        self._nodes = nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def columns(self) -> Iterator[NodeColumns]:
        yield onnx_columns.from_protos(self._nodes, 0)

    def of_types(self, op_types: set[str]) -> Iterator[NodeProto]:
        """The nodes of these op types, in order."""
        return (node for node in self._nodes if node.op_type in op_types)


class StreamedNodes:
    """The nodes of a model read by :func:`read`: serialized until :meth:`columns` parses them.

    ``on_error`` is called when a node does not parse; it raises what loading the whole
    model raises. :meth:`columns` can run once: it frees what it has parsed.
    """

    def __init__(self, serialized: list[bytes], on_error: Callable[[], None]) -> None:
        self._serialized = serialized
        self._on_error = on_error

    def __len__(self) -> int:
        return len(self._serialized)

    @property
    def serialized(self) -> list[bytes]:
        """The nodes, serialized; until :meth:`columns` has run."""
        return self._serialized

    def columns(self) -> Iterator[NodeColumns]:
        """The nodes, parsed and read in bulk, a chunk at a time (see :mod:`onnx_columns`)."""
        serialized = self._serialized
        for start in range(0, len(serialized), CHUNK):
            end = min(start + CHUNK, len(serialized))
            part = serialized[start:end]
            yield onnx_columns.from_serialized(part, self._parse(part), start)
            serialized[start:end] = [b""] * (end - start)  # parsed: its bytes are not needed again

    def of_types(self, op_types: set[str]) -> Iterator[NodeProto]:
        """The nodes of these op types, in order, parsing only nodes that hold an op type's
        name at all (an op type is stored as its bytes, so this misses none). Chunks without
        any of the names are skipped whole: most nodes are never looked at one by one."""
        names = [op_type.encode() for op_type in op_types]
        serialized = self._serialized
        for start in range(0, len(serialized), CHUNK):
            part = serialized[start : start + CHUNK]
            if not _holds(b"".join(part), names):
                continue
            for data in part:
                if _holds(data, names):
                    [node] = self._parse([data])
                    if node.op_type in op_types:
                        yield node

    def _parse(self, serialized: list[bytes]) -> Sequence[NodeProto]:
        return _parse("node", serialized, self._on_error)


class StreamedTensors:
    """The initializers of a model read by :func:`read`: the small ones serialized (a 4x4
    float weight is about 100 bytes so, 330 parsed and 160 more for a Python wrapper, for
    each of the tens of thousands some graphs hold), parsed a chunk at a time when iterated
    and one at a time when asked for by position; then the large ones, parsed by the caller
    (see ``onnx_tensors.split``) and appended, in the order the file has them.

    ``on_error`` is called when a tensor does not parse, as for :class:`StreamedNodes`.
    """

    def __init__(self, serialized: list[bytes], on_error: Callable[[], None]) -> None:
        self.serialized = serialized
        self._on_error = on_error
        self._parsed: list[TensorProto] = []

    def append(self, tensor: TensorProto) -> None:
        self._parsed.append(tensor)

    def __len__(self) -> int:
        return len(self.serialized) + len(self._parsed)

    def __getitem__(self, index: int) -> TensorProto:
        if index < len(self.serialized):
            return _parse("initializer", [self.serialized[index]], self._on_error)[0]
        return self._parsed[index - len(self.serialized)]

    def take(self, positions: list[int]) -> Iterator[TensorProto]:
        """The tensors at these positions (ascending), the serialized ones parsed at once."""
        count = len(self.serialized)
        yield from _parse("initializer", [self.serialized[i] for i in positions if i < count], self._on_error)
        yield from (self._parsed[i - count] for i in positions if i >= count)

    def __iter__(self) -> Iterator[TensorProto]:
        serialized = self.serialized
        for start in range(0, len(serialized), CHUNK):
            yield from _parse("initializer", serialized[start : start + CHUNK], self._on_error)
        yield from self._parsed


def _parse(field: str, serialized: list[bytes], on_error: Callable[[], None]) -> Sequence:
    """Serialized nodes or initializers (``field`` of GraphProto), parsed at the depth they
    have in the file: wrapped in a model."""
    wrapper = _serialized_nodes_model()()
    getattr(wrapper.graph, field).extend(serialized)
    try:
        return getattr(ModelProto.FromString(wrapper.SerializeToString()).graph, field)
    except Exception:  # protobuf's DecodeError and friends: the file is broken here
        on_error()
        raise


def _holds(data: bytes, names: list[bytes]) -> bool:
    # bytes.find, not ``in``: ``in`` first tries each name as an integer, and fails slowly
    return any(data.find(name) != -1 for name in names)


def read(holder: list[bytes], on_error: Callable[[], None], large: int, check: Optional[Callable[[], None]] = None,
         check_nodes_limit: int = 0) -> tuple[ModelProto, StreamedNodes, StreamedTensors, list]:
    """The model without its nodes and initializers, its nodes, its small initializers, and
    its large initializers (``large`` serialized bytes or more), all serialized, from the file's bytes (read
    by the caller through :mod:`nnlint.files`, and handed over in ``holder``, which this
    empties). Where the file's layout allows (``onnx_tensors.cut_large``), the large
    initializers are views into those bytes, which they keep, and are never copied; else the
    bytes go as soon as they are parsed, so no more than two copies of the weights live at
    once, as in ``onnx.load``. Raises on bytes that are not a model, or hold no graph (the
    caller then asks onnx). ``check`` is called when the model holds no large initializer and
    at most ``check_nodes_limit`` nodes, while nothing but the file's bytes is held: onnx's
    checker then reads the file itself, and the heap its C++ model frees is reused by what
    follows, not left around it."""
    data = holder.pop()
    big: list = []
    cut = onnx_tensors.cut_large(data, large)
    if cut is not None:  # the large initializers stay in the file's bytes, read in place from there
        view = memoryview(data)
        big = [view[start:end] for start, end in cut[1]]
        data = cut[0]
    whole = _serialized_nodes_model().FromString(data)
    if not whole.HasField("graph"):
        raise ValueError("no graph")
    if check is not None and not big and len(whole.graph.node) <= check_nodes_limit \
            and all(len(tensor) < large for tensor in whole.graph.initializer):
        del whole  # read again after the check (a small graph: little time)
        check()
        whole = _serialized_nodes_model().FromString(data)
    del data
    serialized = list(whole.graph.node)
    del whole.graph.node[:]
    initializers = list(whole.graph.initializer)
    del whole.graph.initializer[:]
    big += [data for data in initializers if len(data) >= large]
    small = StreamedTensors([data for data in initializers if len(data) < large], on_error)
    del initializers
    model = ModelProto.FromString(whole.SerializeToString())  # what is left is small: no nodes, no weights
    return model, StreamedNodes(serialized, on_error), small, big


def checker_copy(model: ModelProto, nodes: list[bytes], initializers: list[bytes]) -> bytes:
    """The model serialized again from its parts, for onnx.checker (``initializers`` as the
    checker should see them). A serialized message followed by another of its type reads as
    the two merged: the graph's repeated fields are concatenated, in order."""
    wrapper = _serialized_nodes_model()()
    wrapper.graph.node.extend(nodes)
    wrapper.graph.initializer.extend(initializers)
    return model.SerializeToString() + wrapper.SerializeToString()
