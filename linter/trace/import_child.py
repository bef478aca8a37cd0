"""The ``--trace-import`` subprocess: import the user's model class, build it, measure it.

``python -m nnlint.trace.import_child REQUEST.json REPLY.json``. This is the only place where
nnlint runs the user's code, and only when the user asked for it: the parent
(:mod:`nnlint.trace.import_mode`) starts it with a time limit and watches its memory; here the
address space is capped too (on the CPU: CUDA reserves more address space than it uses). The
file is analysed again, exactly as the lint did, so the op ids the reply speaks of are the
lint's own; the reply is JSON (never a pickle), and the user's prints go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

MIB = 1 << 20
#: How an allocation refused by the address-space cap reads: torch's allocator, the dynamic
#: loader (torch's own libraries), the C library.
_OUT_OF_MEMORY = ("can't allocate memory", "cannot allocate memory", "failed to map segment")


class ImportFailure(Exception):
    """Why the model could not be imported, built or run: one line for the finding."""


def main(argv: list[str]) -> int:
    request_path, reply_path = argv
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    _limit_memory(request["memory_mb"], request["device"])
    os.dup2(2, 1)  # the user's code may print: never into anything the parent reads
    try:
        reply = _trace(request)
    except ImportFailure as exc:
        reply = {"error": str(exc)}
    except MemoryError:
        reply = {"error": f"ran out of memory under the {request['memory_mb']} MiB cap (import-memory)"}
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        from nnlint.trace.errors import one_line

        reply = {"error": f"{type(exc).__name__}: {one_line(exc, 300)}"}
        if any(words in str(exc).lower() for words in _OUT_OF_MEMORY):  # under the address-space cap
            reply = {"error": f"ran out of memory under the {request['memory_mb']} MiB cap (import-memory; "
                              f"torch alone maps about 700 MiB) ({one_line(exc, 120)})"}
    Path(reply_path).write_text(json.dumps(reply), encoding="utf-8")
    return 0


def _limit_memory(megabytes: int, device: str) -> None:
    if device.startswith("cuda"):
        return  # the parent's watch on resident memory is the cap there
    import resource

    limit = megabytes * MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _trace(request: dict) -> dict:
    import torch

    from nnlint.trace.errors import CannotBuild
    from nnlint.trace.measure import measure
    from nnlint.trace.measurements import Measure

    graph, places, project = _analyse(request)
    cls, defining = _import_class(graph.name, project, request["file"])
    from nnlint.trace.imported_model import ImportedModel, Recorder

    recorder = Recorder({place[0] for place in places.values()})
    device = torch.device(request["device"])
    torch.manual_seed(0)
    args, kwargs = _arguments(request["args"], request["kwargs"], defining, graph.name)
    with recorder.constructing():
        try:
            module = cls(*args, **kwargs)
        except TypeError as exc:
            raise ImportFailure(f"{graph.name}(...) could not be constructed ({exc}): give its arguments as args "
                                f"and kwargs in [tool.nnlint.trace.models.{graph.name}]") from None
    if not isinstance(module, torch.nn.Module):
        raise ImportFailure(f"{graph.name} is not a torch.nn.Module: the import mode traces PyTorch models only")
    try:
        model = ImportedModel(module, graph, recorder, places, device, request["input_shape"])
    except CannotBuild as exc:
        raise ImportFailure(str(exc)) from None
    sample = None
    if request["sample"]:
        from nnlint.trace.run import load_sample

        sample = load_sample(Path(request["sample"]))[1]
    trace = measure(model, graph, device, request["batch"], sample, frozenset(map(Measure, request["measures"])))
    trace.built = "imported"
    return {"trace": trace.as_json(), "broken": {str(k): v for k, v in model.broken.items()}}


def _analyse(request: dict) -> tuple[Any, dict, Any]:
    """The lint's graph again (the same file, the same analysis: the same op ids), and each
    op's place in the code: resolved file, line, column."""
    from nnlint.frontends.project import Project
    from nnlint.frontends.python import analyze

    abspath = Path(request["file"])
    project = Project({abspath: request["shown"]})
    program = analyze(project.load(abspath), project, request["task"])
    index = request["graph_index"]
    graph = program.graphs[index] if index < len(program.graphs) else None
    if graph is None or graph.name != request["graph"] or len(graph.ops) != request["op_count"]:
        raise ImportFailure(f"{abspath.name} changed while it was being traced")
    places = {}
    columns = sys.version_info >= (3, 11)  # older frames know the line of a call, not its column
    for op in graph.ops.values():
        source = project.source_for(op.origin.path) if op.origin is not None and op.origin.node is not None else None
        span = source.span(op.origin.node) if source is not None else None
        if span is not None:
            places[op.id] = (str(source.abspath.resolve()), span[0], span[1] if columns else 0)
    return graph, places, project


def _arguments(args: list, kwargs: dict, defining: Any, model: str) -> tuple[list, dict]:
    """The constructor's arguments from the configuration, where a table ``{ call = "Name",
    args = [...], kwargs = {...} }`` stands for an object: ``Name(*args, **kwargs)``, with
    ``Name`` looked up in the module that defines the model class (``GPTConfig`` beside
    ``GPT``) or imported by its dotted path (``mypackage.configs.Small``). Nested calls are
    made innermost first; any other table is a plain dict."""
    where = f"[tool.nnlint.trace.models.{model}]"

    def value(item: Any) -> Any:
        if isinstance(item, list):
            return [value(v) for v in item]
        if not isinstance(item, dict):
            return item
        if "call" not in item:
            return {k: value(v) for k, v in item.items()}
        name, extra = item["call"], set(item) - {"call", "args", "kwargs"}
        if not isinstance(name, str) or extra or not isinstance(item.get("args", []), list) \
                or not isinstance(item.get("kwargs", {}), dict):
            raise ImportFailure(f"{where}: a call is {{ call = \"Name\", args = [...], kwargs = {{...}} }}, "
                                f"not {item}")
        target = _named(name, defining, where)
        try:
            return target(*value(item.get("args", [])), **value(item.get("kwargs", {})))
        except Exception as exc:  # the user's constructor: its own words
            from nnlint.trace.errors import one_line

            raise ImportFailure(f"{where}: {name}(...) raised {type(exc).__name__}: {one_line(exc)}") from None

    return value(args), value(kwargs)


def _named(name: str, defining: Any, where: str) -> Any:
    """``name`` in the defining module, or a dotted ``package.module.Name`` imported."""
    import importlib

    if "." not in name:
        found = getattr(defining, name, None)
    else:
        module_name, _, attribute = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attribute, None)
        except ImportError as exc:
            raise ImportFailure(f"{where}: cannot import {module_name} for {name} ({exc})") from None
    if not callable(found):
        shown = Path(defining.__file__).name if "." not in name and getattr(defining, "__file__", None) else name
        raise ImportFailure(f"{where}: {name} is not something to call in {shown}")
    return found


def _import_class(name: str, project: Any, unit: str) -> tuple[type, Any]:
    """The class named ``name`` from the project file that defines it (the linted file first),
    and that module."""
    import libcst as cst

    modules = sorted((m for m in project.modules.values() if m is not None),
                     key=lambda m: str(m.source.abspath) != unit)
    defining = [m for m in modules if any(isinstance(s, cst.ClassDef) and s.name.value == name
                                          for s in m.source.module.body)]
    if not defining:
        raise ImportFailure(f"class {name} is not defined at the top level of a project file")
    path = defining[0].source.abspath.resolve()
    if path.suffix != ".py":
        raise ImportFailure(f"{path.name}: only .py files can be imported (not notebooks)")
    try:
        module = _import_file(path)
    except MemoryError:
        raise
    except BaseException as exc:  # whatever the module's top level raises
        from nnlint.trace.errors import one_line

        raise ImportFailure(f"importing {path.name} raised {type(exc).__name__}: {one_line(exc)}") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ImportFailure(f"{path.name} has no class {name} once imported")
    return cls, module


def _import_file(path: Path) -> Any:
    """A package's module by its dotted name (so its relative imports work); a plain file as a
    module of its own, with its folder on ``sys.path`` as when it is run as a script."""
    import importlib
    import importlib.util

    top = path.parent
    while (top / "__init__.py").is_file():
        top = top.parent
    sys.path.insert(0, str(path.parent))
    if top != path.parent:
        sys.path.insert(0, str(top))
        parts = path.with_suffix("").relative_to(top).parts
        if all(part.isidentifier() for part in parts):
            return importlib.import_module(".".join(parts))
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "_nnlint_imported_model"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
