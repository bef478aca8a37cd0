"""What the ONNX frontend reads of each node, read a chunk of nodes at a time, field by field.

Reading a field of a parsed node from Python costs more than parsing it: each node is a
wrapper object, and each of its ``input`` and ``output`` lists another, about 0.2 us apiece
(read that way, the fields took a third of the time to convert a million-node graph). So :func:`from_serialized` has the
protobuf library read the fields the frontend needs (input, output, name, op_type, domain)
for a whole chunk in one message: the chunk's serialized nodes one after the other, each
followed by a separator, parsed with a schema that makes each of those fields a repeated
string. Protobuf appends the values of a field met again to the field's list (and keeps
the last of a single-valued one), so each field's list is its nodes' values in order, a
separator after each node's. The separator is the string ``"\\x00"``; a node holding that
very value would cut its list in the wrong place, so its count is checked, and a chunk
where it is off is read node by node (:func:`from_protos`), as is a model parsed whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

#: The NodeProto fields read, by number.
_FIELDS = {"input": 1, "output": 2, "name": 3, "op_type": 4, "domain": 7}
_SEPARATOR_VALUE = "\x00"
#: Each field, with the separator as its value (tag, length 1, the byte 0).
_SEPARATOR = b"".join(bytes([number << 3 | 2, 1, 0]) for number in _FIELDS.values())


@dataclass(slots=True)
class NodeColumns:
    """A chunk of nodes, one list per field; ``start`` is the index of its first node in the
    graph, and ``protos`` are its nodes parsed, for the few kinds whose attributes count."""

    start: int
    op_types: list[str]
    inputs: list[list[str]]
    outputs: list[list[str]]
    names: list[str]
    domains: list[str]
    protos: Sequence


@lru_cache(maxsize=1)
def _fields_model() -> type:
    """A message type with each field read as a repeated string, under its NodeProto number."""
    proto = descriptor_pb2.FileDescriptorProto(name="nnlint_node_fields.proto", package="nnlint", syntax="proto2")
    field = descriptor_pb2.FieldDescriptorProto
    message = proto.message_type.add(name="NodeFields")
    for name, number in _FIELDS.items():
        message.field.add(name=name, number=number, label=field.LABEL_REPEATED, type=field.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nnlint.NodeFields"))


def from_serialized(serialized: list[bytes], protos: Sequence, start: int) -> NodeColumns:
    """The columns of nodes ``serialized`` (already parsed as ``protos``: parsing checked them)."""
    fields = _fields_model().FromString(_SEPARATOR.join(serialized) + _SEPARATOR)
    count = len(serialized)
    inputs = _groups(fields.input[:], count)
    outputs = _groups(fields.output[:], count)
    op_types, names, domains = (_lasts(values[:], count) for values in (fields.op_type, fields.name, fields.domain))
    if inputs is None or outputs is None or op_types is None or names is None or domains is None:
        return from_protos(protos, start)  # a value is the separator itself
    return NodeColumns(start, op_types, inputs, outputs, names, domains, protos)


def from_protos(protos: Sequence, start: int) -> NodeColumns:
    """The columns of parsed nodes, read node by node."""
    return NodeColumns(start, [node.op_type for node in protos], [node.input[:] for node in protos],
                       [node.output[:] for node in protos], [node.name for node in protos],
                       [node.domain for node in protos], protos)


def _groups(values: list[str], count: int) -> Optional[list[list[str]]]:
    """``values`` cut after each separator: the values of each of ``count`` nodes, or None
    when a value is the separator."""
    if values.count(_SEPARATOR_VALUE) != count:
        return None
    if len(values) == 2 * count and values[1::2].count(_SEPARATOR_VALUE) == count:
        return [[value] for value in values[0::2]]  # one value per node, the usual output
    groups, begin, find = [], 0, values.index
    for _ in range(count):
        end = find(_SEPARATOR_VALUE, begin)
        groups.append(values[begin:end])
        begin = end + 1
    return groups


def _lasts(values: list[str], count: int) -> Optional[list[str]]:
    """The value of a single-valued field for each of ``count`` nodes: the last one written
    (as protobuf reads a field written twice), "" for none; None when a value is the separator."""
    if len(values) == count:
        return [""] * count  # only separators (each node has one): the field is never set
    if len(values) == 2 * count and values[1::2].count(_SEPARATOR_VALUE) == count \
            and values.count(_SEPARATOR_VALUE) == count:
        return values[0::2]  # one value per node
    groups = _groups(values, count)
    return None if groups is None else [group[-1] if group else "" for group in groups]
