"""``--trace-import``: measure a model class the IR cannot rebuild by importing the user's code.

Opt-in, because it executes code: the module that defines the class is imported (its top level
runs), the class is constructed with the arguments in ``[tool.nnlint.trace.models.<Class>]``,
and the measurements are the same as for a rebuilt model. It all happens in a subprocess
(:mod:`nnlint.trace.import_child`) in its own session, killed at the time limit
(``import-timeout``) or when its resident memory passes ``import-memory`` (on the CPU the
child's address space is capped at that size as well). Only the JSON reply comes back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from nnlint.trace.errors import one_line
from nnlint.trace.records import ModelTrace

POLL_SECONDS = 0.05


@dataclass
class ImportRequest:
    """What the subprocess needs to find the graph again and to build and feed the model."""

    file: str  # the linted file, absolute
    shown: str  # its path as the lint shows it
    graph: str
    graph_index: int
    op_count: int
    task: Optional[str]
    args: list
    kwargs: dict
    input_shape: Optional[list]
    device: str
    batch: int
    sample: Optional[str]
    memory_mb: int
    measures: list[str]  # the measurements to take (``Measure`` values)


@dataclass
class ImportedTrace:
    trace: Optional[ModelTrace]
    broken: dict[int, str]  # op id -> why the imported model gave it no value
    error: Optional[str]  # why there is no trace at all


def trace_by_import(request: ImportRequest, timeout: float) -> ImportedTrace:
    with tempfile.TemporaryDirectory(prefix="nnlint-import-") as folder:
        request_path, reply_path, log_path = (Path(folder) / name for name in ("request.json", "reply.json", "log"))
        request_path.write_text(json.dumps(asdict(request)), encoding="utf-8")
        with open(log_path, "wb") as log:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "nnlint.trace.import_child", str(request_path), str(reply_path)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                )
            except OSError as exc:
                return ImportedTrace(None, {}, f"--trace-import could not start Python ({exc.strerror or exc})")
            stopped = _wait(process, timeout, request.memory_mb)
            _kill(process)  # whatever the user's code left running in the session (loader workers)
        if stopped is not None:
            return ImportedTrace(None, {}, f"--trace-import: {request.graph} {stopped}")
        if not reply_path.is_file():
            return ImportedTrace(None, {}, f"--trace-import: the subprocess for {request.graph} exited with code "
                                           f"{process.returncode} ({_last_line(log_path)})")
        return _read_reply(reply_path, request.graph)


def _wait(process: subprocess.Popen, timeout: float, memory_mb: int) -> Optional[str]:
    """None when the subprocess exits by itself; else why it must be stopped."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            return f"did not finish within {timeout:g} s (import-timeout in [tool.nnlint.trace])"
        if _resident_mb(process.pid) > memory_mb:
            return f"used more than {memory_mb} MiB of memory (import-memory in [tool.nnlint.trace])"
        time.sleep(POLL_SECONDS)
    return None


def _kill(process: subprocess.Popen) -> None:
    """The subprocess's whole session: the child, if still running, and anything it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:  # nothing left in the session
        pass
    process.wait()


def _resident_mb(pid: int) -> float:
    """Resident memory from /proc (0 where there is none: the time limit still holds)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _read_reply(path: Path, name: str) -> ImportedTrace:
    try:
        reply = json.loads(path.read_text(encoding="utf-8"))
        if "error" in reply:
            return ImportedTrace(None, {}, f"--trace-import: {reply['error']}")
        broken = {int(k): str(v) for k, v in reply["broken"].items()}
        return ImportedTrace(ModelTrace.from_json(reply["trace"]), broken, None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return ImportedTrace(None, {}, f"--trace-import: unreadable reply for {name} ({one_line(exc)})")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no output"
