"""Loading an ONNX model safely, and reading its weights without loading them all at once.

The file's bytes are read through :mod:`nnlint.files` (a regular file inside the project,
size capped) and the graph is parsed from them with ONNX's schema alone (:mod:`onnx_proto`;
or :mod:`onnx_nodes` does, a chunk of nodes at a time, for the linter, and keeps large
initializers serialized, read in place: :mod:`onnx_tensors`). Of the onnx package only its
checker is used, loaded alone (:func:`_checker`): given the file before the linter parses it
when the model holds no large weights, else the model without them. External weights
are never loaded by onnx. nnlint reads them itself, one tensor at a time through a memory map, and only
from files inside the model's folder: an absolute location or one that climbs out with
``..`` is refused (an untrusted pull request must not make nnlint read ``/etc/passwd``).
Imported only when an ``.onnx`` file is linted (numpy costs about 60 ms).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Optional

import numpy as np

from nnlint import files
from nnlint.errors import UnreadableFile
from nnlint.frontends import onnx_nodes, onnx_tensors
from nnlint.frontends.onnx_nodes import ParsedNodes, StreamedNodes
from nnlint.frontends.onnx_proto import ModelProto, TensorProto, attribute_value
from nnlint.frontends.onnx_tensors import FLOAT_TYPES, WeightStats

#: A protobuf holds at most 2 GB; a larger .onnx file is not a model onnx can parse.
MAX_MODEL_BYTES = (1 << 31) - 1
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"

_CONSTANT_OPS = {"Constant", "ConstantOfShape"}


class LfsPointer(Exception):
    """The file is a Git LFS pointer, not the model."""


@dataclass
class WeightProblem:
    """An initializer whose data cannot (or must not) be read."""

    code: tuple[str, str]
    tensor: str
    message: str


@dataclass
class LoadedModel:
    """The model; when it was loaded with ``streamed``, ``model`` holds no nodes and ``nodes``
    parses them as they are read."""

    model: ModelProto
    folder: Path
    problems: list[WeightProblem] = field(default_factory=list)
    checker_error: Optional[str] = None
    nodes: ParsedNodes | StreamedNodes | None = None
    #: The initializers: ``model.graph.initializer``, unless ``streamed`` loading kept them
    #: apart (``onnx_nodes.StreamedTensors``; a large one is then only its fields without
    #: raw_data: see ``raw``).
    initializers: Any = None
    #: name -> (serialized tensor, start, end of its raw data in it), for large streamed ones.
    raw: dict[str, tuple[bytes, int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.nodes is None:
            self.nodes = ParsedNodes(self.model.graph.node)
        if self.initializers is None:
            self.initializers = self.model.graph.initializer


def load(path: Path, check_nodes_limit: int = 100_000, streamed: bool = False) -> LoadedModel:
    """Parse the model; :class:`UnreadableFile` or :class:`LfsPointer` when it is not one.

    ``streamed``: leave the nodes serialized, to be parsed a chunk at a time by one pass over
    ``nodes`` (see :mod:`onnx_nodes`); the linter's conversion needs no more, the trace does.
    """
    data = _read(path)
    if data.startswith(LFS_MAGIC):
        raise LfsPointer
    if not data:
        raise UnreadableFile("cannot read ONNX model: empty file")
    nodes = small = initializers = None
    real = files.resolve(path)
    verdict: list[Optional[str]] = []
    if streamed:
        holder = [data]
        del data  # read() lets the bytes go once parsed

        def check_first() -> None:
            """No large weights: the checker reads the file itself, before the linter parses it,
            so its C++ model (ten times the file for small nodes) is gone when the linter's is made."""
            verdict.append(_check(str(real)))

        try:  # a chunk that fails later reads the file again (through nnlint.files) for onnx's message
            model, nodes, small, initializers = onnx_nodes.read(holder, lambda: _parse(_read(path)),
                                                                onnx_tensors.BIG, check_first, check_nodes_limit)
        except Exception:  # not a model: onnx says why, as it always has
            nodes = None
            data = _read(path)
    if nodes is None:
        model = _parse(data)
        nodes = ParsedNodes(model.graph.node)
        del data
    if not model.HasField("graph") or not (len(nodes) or model.graph.output):
        raise UnreadableFile("cannot read ONNX model: the protobuf holds no graph (not an ONNX model)")
    loaded = LoadedModel(model, real.parent, nodes=nodes, initializers=small)
    checked = len(nodes) <= check_nodes_limit
    if initializers:
        for_checker = _split_initializers(loaded, initializers, checked)
        if checked:
            loaded.checker_error = _check(onnx_nodes.checker_copy(model, nodes.serialized,
                                                                  small.serialized + for_checker))
    elif verdict:
        loaded.checker_error = verdict[0]
    elif checked:  # no large weights: the file is what the checker should see, read by its own code
        loaded.checker_error = _check(str(real))
    return loaded


def _split_initializers(loaded: LoadedModel, serialized: list[bytes], checked: bool) -> list[bytes]:
    """Parse the large streamed initializers into ``loaded`` (without their raw data, read in
    place later), after the small ones; they as onnx.checker is to see them: as they
    are, but one whose raw data is long enough as an empty tensor of its name and type (the
    checker reads a tensor's data only to see that it is long enough for its shape)."""
    for_checker = []
    for data in serialized:
        tensor, span = onnx_tensors.split(data)
        loaded.initializers.append(tensor)
        if span is None:
            for_checker.append(bytes(data))
            continue
        loaded.raw[tensor.name] = (data, *span)
        if not checked:
            continue
        itemsize = onnx_tensors.FLOAT_TYPES.get(tensor.data_type, np.dtype("u1")).itemsize
        dims = list(tensor.dims)
        if tensor.data_type in FLOAT_TYPES and dims and span[1] - span[0] >= itemsize * int(np.prod(dims)):
            stub = TensorProto()
            stub.CopyFrom(tensor)
            stub.dims[0] = 0
            stub.raw_data = b""
            for_checker.append(stub.SerializeToString())
        else:  # not a float tensor, or too short: the checker sees it whole, and says so
            for_checker.append(bytes(data))
    return for_checker


def _read(path: Path) -> bytes:
    """The model file's bytes, through :mod:`nnlint.files` (a regular file inside the project,
    at most the 2 GB a protobuf can hold)."""
    return files.read_bytes(path, MAX_MODEL_BYTES)


def _parse(data: bytes) -> ModelProto:
    try:  # what onnx.load_model_from_string does, which never loads external data: nnlint reads it
        return ModelProto.FromString(data)
    except Exception as exc:  # protobuf's DecodeError and friends: not a model
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableFile(f"cannot read ONNX model: not a valid ONNX protobuf ({reason})") from None


def _check(model: str | bytes) -> Optional[str]:
    """onnx.checker's verdict on a model: the resolved path of the file nnlint just read and
    vetted, or the serialized model without its large weights (see :func:`_split_initializers`).
    What ``onnx.checker.check_model`` does with either, without its defaults' arguments (the
    same in every onnx release): its C++ checker parses the model and checks it. The parsed
    model is freed after, and so is the heap it held (:func:`_release_freed`)."""
    checker = _checker()
    try:
        if isinstance(model, str):
            checker.check_model_path(model)
        else:
            checker.check_model(model)
    except Exception as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    finally:
        _release_freed()
    return None


def _checker() -> ModuleType:
    """onnx's C++ checker module, the only part of the onnx package the linter uses.

    ``import onnx`` runs the package's ``__init__``, which imports ``ml_dtypes`` and onnx's
    Python helpers: 0.13 s on a quiet machine, over a second on a loaded one, and 30 MB,
    for a checker that is one call into the extension module. So, as :mod:`onnx_proto` does
    for the schema, the extension is loaded from the package's folder without running the
    package, under its own name, in ``sys.modules``, where ``import onnx`` finds it later
    (onnx imports it by name only, and an extension cannot be initialised twice in a process).
    When onnx is already imported, or the extension is not where the package keeps it, the
    package's own way is taken."""
    name = "onnx.onnx_cpp2py_export"
    if name not in sys.modules and "onnx" not in sys.modules:
        spec = importlib.util.find_spec("onnx")  # finds the package without importing it
        folders = spec.submodule_search_locations if spec is not None else None
        finder = importlib.machinery.FileFinder(folders[0], (importlib.machinery.ExtensionFileLoader,
                                                             importlib.machinery.EXTENSION_SUFFIXES)) if folders else None
        found = finder.find_spec(name) if finder is not None else None
        if found is not None and isinstance(found.loader, importlib.machinery.ExtensionFileLoader):
            module = importlib.util.module_from_spec(found)
            found.loader.exec_module(module)
            sys.modules[name] = module
    if name not in sys.modules:
        import onnx.checker  # noqa: F401  (an unusual install: the package's way)
    return sys.modules[name].checker


def _release_freed() -> None:
    """Give the heap back that the checker's C++ model freed.

    onnx's C++ parse of a graph of small nodes and tensors takes about ten times the file's
    size in many small allocations, and glibc's malloc keeps the heap they leave; Python's
    objects live in pages of their own, so the linter's graph would come on top of it.
    ``malloc_trim`` returns it (glibc only: elsewhere nothing is done)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Weights:
    """The model's constant tensors by name: initializers and Constant/ConstantOfShape outputs."""

    def __init__(self, loaded: LoadedModel) -> None:
        """Made before the pass over ``loaded.nodes``: a streamed model's nodes are read once,
        and its constants must be known first."""
        self.loaded = loaded
        #: Initializers by name, as their position in ``loaded.initializers`` (the last of a
        #: name, as in a dict of them): tens of thousands of small ones may stay serialized.
        self._initializers: dict[str, int] = {}
        self._external: list[int] = []  # the positions of those whose data is external (see check_external)
        for index, tensor in enumerate(loaded.initializers):
            self._initializers[tensor.name] = index
            if tensor.data_location == TensorProto.EXTERNAL:
                self._external.append(index)
        self._constants: dict[str, TensorProto] = {}  # Constant outputs (an initializer of the name comes first)
        self.fills: dict[str, float] = {}  # ConstantOfShape outputs: one value everywhere
        for node in loaded.nodes.of_types(_CONSTANT_OPS):
            if not node.output:
                continue
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if node.op_type == "ConstantOfShape":
                array = _small_array(value) if value is not None else np.zeros(1, np.float32)
                if array is not None and array.size == 1:
                    self.fills[node.output[0]] = float(array.reshape(-1)[0])
            elif value is not None and node.output[0] not in self._initializers:
                self._constants.setdefault(node.output[0], value)
        self._refused: set[str] = set()
        self.aliases: dict[str, tuple[str, Optional[tuple[int, ...]]]] = {}  # name -> (source, dims)
        #: Every name above, in one set: the ONNX frontend asks about each input of each node.
        self.names: set[str] = {*self._initializers, *self._constants, *self.fills}
        # Tensors and fills never change, so what is read from them is kept: a graph may
        # repeat one block (and its Dropout ratio or weight) a million times.
        self._scalars: dict[str, Optional[float]] = {}
        self._dims: dict[str, Optional[tuple[int, ...]]] = {}

    def tensor(self, name: str) -> Optional[TensorProto]:
        """The initializer or ``Constant`` output of this name."""
        index = self._initializers.get(name)
        return self._constants.get(name) if index is None else self.loaded.initializers[index]

    def alias(self, name: str, source: str, dims: Optional[tuple[int, ...]]) -> None:
        """``Transpose(W)`` and kin: the same values under another name (and shape)."""
        source, _ = self.aliases.get(source, (source, None))
        self.aliases[name] = (source, dims)
        self.names.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def scalar(self, name: str) -> Optional[float]:
        """The value of a one-element constant (a Dropout ratio input, a scaling factor)."""
        name = self.aliases.get(name, (name, None))[0]
        if name not in self._scalars:
            self._scalars[name] = self._scalar(name)
        return self._scalars[name]

    def _scalar(self, name: str) -> Optional[float]:
        if name in self.fills:
            return self.fills[name]
        tensor = self.tensor(name)
        if tensor is None or _is_external(tensor):
            return None
        array = _small_array(tensor)
        return float(array.reshape(-1)[0]) if array is not None and array.size == 1 else None

    def dims(self, name: str) -> Optional[tuple[int, ...]]:
        if name in self.aliases:
            return self.aliases[name][1]
        return self.own_dims(name)

    def own_dims(self, name: str) -> Optional[tuple[int, ...]]:
        """The shape of the initializer or ``Constant`` output of this name (not of an alias)."""
        if name not in self._dims:
            tensor = self.tensor(name)
            self._dims[name] = tuple(tensor.dims) if tensor is not None else None
        return self._dims[name]

    def source(self, name: str) -> str:
        """The constant whose values ``name`` holds: itself, or what it aliases."""
        return self.aliases.get(name, (name, None))[0]

    def facts(self, names: set[str]) -> dict[str, tuple[Optional[tuple[int, ...]], Optional[WeightStats]]]:
        """The shape and statistics of each constant of ``names`` (as :meth:`source` gives
        them): the initializers among them parsed at once, the small float ones summarised in
        one batch, the others one by one. Nothing is kept: a graph may hold tens of thousands
        of weights, each used once (a shape cached for each cost more than its tensor)."""
        shapes: dict[str, tuple[int, ...]] = {}
        stats = onnx_tensors.summarise_many(self._small_floats(names, shapes))
        return {name: (shapes[name] if name in shapes else self.own_dims(name),
                       stats[name] if name in stats else self._stats(name)) for name in names}

    def _stats(self, name: str) -> Optional[WeightStats]:
        if name in self.fills:
            value = self.fills[name]
            return WeightStats(0, value, not np.isfinite(value), value, 0.0, 0.0)
        tensor = self.tensor(name)
        if tensor is None or tensor.data_type not in FLOAT_TYPES:
            return None
        values = self._values(tensor)
        return None if values is None else onnx_tensors.summarise(values)

    def _small_floats(self, names: set[str], shapes: dict) -> Iterator[tuple[str, Any]]:
        """The float initializers among ``names`` held inline and parsed, to be summarised in
        one batch: their raw data and dtype, or (other layouts) their values; the shape of
        every initializer among ``names`` goes into ``shapes``."""
        large, fills, initializers = self.loaded.raw, self.fills, self.loaded.initializers
        found = sorted((position, name) for name, position in zip(names, map(self._initializers.get, names))
                       if position is not None)
        positions = [position for position, _ in found]
        tensors = initializers.take(positions) if hasattr(initializers, "take") else map(initializers.__getitem__,
                                                                                           positions)
        for (_, name), tensor in zip(found, tensors):  # the names asked for: no string of their own
            dtype = FLOAT_TYPES.get(tensor.data_type)
            shapes[name] = tuple(tensor.dims)
            if dtype is None or name in fills or _is_external(tensor) or name in large:
                continue
            if tensor.HasField("raw_data") and not tensor.HasField("segment"):
                raw = tensor.raw_data
                if len(raw) == dtype.itemsize * math.prod(tensor.dims):  # else malformed: no statistics
                    yield name, (raw, dtype)
                continue
            array = _small_array(tensor)
            if array is not None:
                yield name, array

    def array(self, name: str) -> np.ndarray | None:
        """The whole of an initializer or ``Constant`` output, for the trace, which needs the values themselves.

        External data goes through the same checks as the statistics (inside the model's folder,
        present, long enough); a refusal is recorded as a problem and gives None, as does a
        malformed tensor.
        """
        tensor = self.tensor(name)
        if tensor is None:
            return None
        if not _is_external(tensor):
            return _small_array(tensor, self._raw(tensor))
        inline = self._read_external(tensor)
        if inline is None:
            return None
        array = _small_array(inline)
        if array is None:
            self._problem(("NN906", "missing-external-data"), tensor.name,
                          f"initializer '{tensor.name}': external data does not match its type and shape")
        return array

    def _read_external(self, tensor: TensorProto) -> TensorProto | None:
        """A copy of ``tensor`` with its external bytes inlined, so numpy_helper decodes any dtype it knows."""
        data = self._map_external(tensor, None)
        if data is None:
            return None
        inline = TensorProto()
        inline.CopyFrom(tensor)
        del inline.external_data[:]
        inline.data_location = TensorProto.DEFAULT
        inline.raw_data = bytes(data)
        return inline

    def _raw(self, tensor: TensorProto) -> Optional[memoryview]:
        """The raw data of a large inline tensor kept serialized, in place; None for others."""
        if self.loaded.raw.get(tensor.name) is None or self.tensor(tensor.name) is not tensor:
            return None
        data, start, end = self.loaded.raw[tensor.name]
        return memoryview(data)[start:end]

    def _values(self, tensor: TensorProto) -> Optional[np.ndarray]:
        """A float tensor's values, flat, without a copy: decoded inline data, or external data
        through a memory map."""
        if not _is_external(tensor):
            array = _small_array(tensor, self._raw(tensor))
            return None if array is None else array.reshape(-1)
        dtype = FLOAT_TYPES[tensor.data_type]
        count = int(np.prod(tensor.dims)) if tensor.dims else 1
        raw = self._map_external(tensor, count * dtype.itemsize)
        return None if raw is None else raw.view(dtype)

    def _map_external(self, tensor: TensorProto, length: Optional[int]) -> Optional[np.ndarray]:
        """The tensor's external bytes, memory-mapped (``length`` of them; by default what its
        ``length`` entry or the rest of the file says), from inside the model's folder only.
        A refused, missing or short file is recorded as a problem and gives None."""
        location = self._external_file(tensor)
        if location is None:
            return None
        info = {e.key: e.value for e in tensor.external_data}
        try:
            offset = int(info.get("offset", 0) or 0)
            declared = int(info["length"]) if info.get("length") else None
        except ValueError:
            self._problem(("NN906", "missing-external-data"), tensor.name,
                          f"initializer '{tensor.name}': external data offset or length is not a number")
            return None
        if offset < 0 or (declared is not None and declared < 0):
            self._problem(("NN906", "missing-external-data"), tensor.name,
                          f"initializer '{tensor.name}': negative external data offset or length")
            return None
        try:  # a regular file inside the model's folder, checked on the descriptor that is mapped
            fd, size = files.open_regular(location, MAX_MODEL_BYTES * 64, (self.loaded.folder.resolve(),))
        except UnreadableFile as exc:
            self._problem(("NN906", "missing-external-data"), tensor.name,
                          f"initializer '{tensor.name}': external data file '{info.get('location')}': {exc}")
            return None
        with os.fdopen(fd, "rb") as handle:
            if length is None:
                length = declared if declared is not None else size - offset
            if length < 0 or size < offset + length:
                self._problem(("NN906", "missing-external-data"), tensor.name,
                              f"initializer '{tensor.name}': external file '{info.get('location')}' is shorter than "
                              "the tensor it should hold")
                return None
            if not length:
                return np.empty(0, np.uint8)
            try:  # the map keeps its own reference to the file: closing the handle is safe
                return np.memmap(handle, dtype=np.uint8, mode="r", offset=offset, shape=(length,))
            except (OSError, ValueError, OverflowError) as exc:
                self._problem(("NN906", "missing-external-data"), tensor.name,
                              f"initializer '{tensor.name}': cannot read external data ({exc})")
                return None

    def _external_file(self, tensor: TensorProto) -> Optional[Path]:
        info = {e.key: e.value for e in tensor.external_data}
        where = info.get("location", "")
        folder = self.loaded.folder.resolve()
        try:
            target = (folder / where).resolve() if "\0" not in where else folder
        except (OSError, RuntimeError):  # a symlink loop: refused when opened
            target = folder / where
        if not where or "\0" in where or os.path.isabs(where) or (target != folder and folder not in target.parents):
            self._problem(("NN905", "unsafe-external-data"), tensor.name,
                          f"initializer '{tensor.name}' points outside the model's folder ('{where[:200]}'): not read")
            return None
        if not os.path.lexists(target):
            self._problem(("NN906", "missing-external-data"), tensor.name,
                          f"initializer '{tensor.name}': external data file '{where}' not found")
            return None
        return target

    def _problem(self, code: tuple[str, str], tensor, message: str) -> None:
        if isinstance(tensor, bytes):
            tensor = tensor.decode("utf-8", "replace")
        if tensor not in self._refused:
            self._refused.add(tensor)
            self.loaded.problems.append(WeightProblem(code, tensor, message))

    def check_external(self) -> None:
        """Vet every external location once, so refused and missing files are reported."""
        for index in self._external:
            self._external_file(self.loaded.initializers[index])


def _is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


def _small_array(tensor: TensorProto, raw: Optional[memoryview] = None) -> Optional[np.ndarray]:
    try:
        return onnx_tensors.to_array(tensor, raw)
    except Exception:  # malformed tensor data: no statistics
        return None


def metadata(model: ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def attribute(node: Any, name: str, default: Any = None) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            return attribute_value(attr)
    return default
