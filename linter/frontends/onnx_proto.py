"""ONNX's protobuf schema without the onnx package: the linter parses models with it alone.

``import onnx`` costs far more than parsing a small model (its ``__init__`` imports
``ml_dtypes``, the C++ extension, the reference helpers: 0.13 s on a quiet machine, 1-2 s on
a loaded one), and the linter needs only the message classes of the generated module
``onnx/onnx_ml_pb2.py``, which imports protobuf alone. So that file is executed under
another name, without running the package's ``__init__``; it registers the schema in
protobuf's default pool, where ``onnx.onnx_ml_pb2`` registers the same file again if onnx is
imported later (for the trace), and both get the same message classes.
When onnx is already imported, or the generated file is not where the package keeps it,
the package's own module is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any


def _schema() -> ModuleType:
    for name in ("onnx.onnx_ml_pb2", "onnx.onnx_pb2"):
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.find_spec("onnx")  # finds the package without importing it
    folder = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
    for stem in ("onnx_ml_pb2", "onnx_pb2"):
        location = os.path.join(folder, stem + ".py") if folder else None
        if location and os.path.isfile(location):
            name = f"nnlint._onnx_schema.{stem}"
            if name in sys.modules:
                return sys.modules[name]
            module_spec = importlib.util.spec_from_file_location(name, location)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            sys.modules[name] = module
            return module
    return importlib.import_module("onnx.onnx_ml_pb2")  # an unusual install: the package's way


schema = _schema()
ModelProto = schema.ModelProto
GraphProto = schema.GraphProto
NodeProto = schema.NodeProto
TensorProto = schema.TensorProto
AttributeProto = schema.AttributeProto

_SINGLE = {AttributeProto.FLOAT: "f", AttributeProto.INT: "i", AttributeProto.STRING: "s",
           AttributeProto.TENSOR: "t", AttributeProto.GRAPH: "g", AttributeProto.SPARSE_TENSOR: "sparse_tensor",
           AttributeProto.TYPE_PROTO: "tp"}
_REPEATED = {AttributeProto.FLOATS: "floats", AttributeProto.INTS: "ints", AttributeProto.STRINGS: "strings",
             AttributeProto.TENSORS: "tensors", AttributeProto.GRAPHS: "graphs",
             AttributeProto.SPARSE_TENSORS: "sparse_tensors", AttributeProto.TYPE_PROTOS: "type_protos"}


def attribute_value(attr: Any) -> Any:
    """What ``onnx.helper.get_attribute_value`` gives, for the types it knows; an attribute
    of no known type (which the checker rejects) gives None rather than an error."""
    if attr.ref_attr_name:
        raise ValueError(f"Cannot get value of reference attribute: {attr}")
    if attr.type in _SINGLE:
        return getattr(attr, _SINGLE[attr.type])
    if attr.type in _REPEATED:
        return list(getattr(attr, _REPEATED[attr.type]))
    if attr.type == AttributeProto.UNDEFINED:
        return None
    raise ValueError(f"Unsupported ONNX attribute: {attr}")
