"""Linting ``.onnx`` files: load safely, convert to the IR, run the graph checks.

Imported only when an ``.onnx`` file is linted: numpy and ONNX's protobuf schema (and
onnx's checker extension) cost 60-200 ms to import, which the pre-commit path for
Python files must not pay. The task a model is trained for
comes, in this order, from its entry in ``[tool.nnlint.models]``, from ``--task`` or the
configured ``task``, from the model's metadata (``task`` property), or from the training
scripts linted in the same run when their losses agree.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Optional

from nnlint.config import Settings
from nnlint.discovery import Unit
from nnlint.engine import (
    INTERNAL_ERROR,
    ONNX_CHECKER,
    UNREADABLE,
    engine_finding,
    finding_sink,
    run_checks,
)
from nnlint.frontends import onnx_graph, onnx_load
from nnlint.levels import Severity
from nnlint.errors import UnreadableFile

if TYPE_CHECKING:
    from nnlint.check import Check
    from nnlint.findings import Finding

_TASKS = ("regression", "classification")


def lint_onnx_units(units: list[Unit], settings: Settings, checks: list[type["Check"]], script_tasks: set[str],
                    notes: list[str], subjects: Optional[dict] = None, keep: Optional[list] = None) -> list["Finding"]:
    """``keep``: where the last unit's program goes instead of being freed (see ``engine.lint``)."""
    findings: list[Finding] = []
    for unit in units:
        if keep is not None:
            keep.clear()  # the previous graph goes before the next is built
        with _cyclic_gc_paused():
            findings.extend(_lint_unit(unit, settings, checks, script_tasks, notes, subjects, keep))
    return findings


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a graph is read and checked; the caller's setting
    comes back after.

    A graph's IR is millions of live objects that form no garbage cycle, and every full
    collection rescans them all: with the collector on, converting a million-node graph takes
    twice as long. The command line runs without it anyway; this keeps library callers as fast.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lint_unit(unit: Unit, settings: Settings, checks: list[type["Check"]], script_tasks: set[str],
               notes: list[str], subjects: Optional[dict], keep: Optional[list]) -> list["Finding"]:
    findings: list[Finding] = []
    try:
        loaded = onnx_load.load(unit.abspath, streamed=subjects is None)  # the trace needs the whole model
    except onnx_load.LfsPointer:
        notes.append(f"{unit.path}: a Git LFS pointer, not the model (run `git lfs pull`): skipped")
        return findings
    except UnreadableFile as exc:
        return [_unreadable(exc, unit)]
    try:
        program = onnx_graph.convert(loaded, unit.path, _task(unit, settings, loaded, script_tasks))
        if keep is not None:
            keep.append(program)
        run_checks(program, checks, settings, finding_sink(findings, {unit.path}, lambda path: None, subjects))
    except UnreadableFile as exc:  # a streamed node does not parse: the file is broken after all
        return [_unreadable(exc, unit)]
    except Exception as exc:  # a bug in nnlint must not hide the other files' findings
        findings.append(engine_finding(INTERNAL_ERROR, Severity.ERROR,
                                       f"internal error ({type(exc).__name__}: {exc}); please report it", unit.path))
    for problem in loaded.problems:
        findings.append(engine_finding(problem.code, Severity.ERROR, problem.message, unit.path, node=problem.tensor))
    if loaded.checker_error:
        findings.append(engine_finding(ONNX_CHECKER, Severity.INFO,
                                       f"fails onnx.checker ({loaded.checker_error}); linted anyway", unit.path))
    return findings


def _unreadable(exc: UnreadableFile, unit: Unit) -> "Finding":
    message = str(exc) if str(exc).startswith("cannot read") else f"cannot read: {exc}"
    return engine_finding(UNREADABLE, Severity.ERROR, message, unit.path)


def _task(unit: Unit, settings: Settings, loaded: onnx_load.LoadedModel, script_tasks: set[str]) -> Optional[str]:
    try:
        relative = unit.abspath.relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        relative = None
    for key, entry in settings.models.items():
        if key in (relative, unit.path) and entry.get("task"):
            return entry["task"]
    if settings.task:
        return settings.task
    declared = onnx_load.metadata(loaded.model).get("task", "").lower()
    if declared in _TASKS:
        return declared
    return next(iter(script_tasks)) if len(script_tasks) == 1 else None
