"""Reporters: views of the same findings. Each module renders one format; this table is the
registry the ``--format`` option offers (a new format is a module and one line here).

A format's module is imported when its report is written, not when nnlint starts: the
pre-commit path pays only for the text reporter."""

from __future__ import annotations

from importlib import import_module
from typing import Callable

#: format name -> the module (in this package) whose ``write(result, stream, color)`` renders it
_MODULES = {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "rdjson": "rdjson",
            "gitlab": "gitlab", "junit": "junit"}


def _writer(module: str) -> Callable[..., None]:
    def write(*args, **kwargs) -> None:
        import_module(f"nnlint.report.{module}").write(*args, **kwargs)

    write.__name__ = f"{module}.write"
    return write


#: format name -> writer(result, stream, color)
REPORTERS: dict[str, Callable[..., None]] = {name: _writer(module) for name, module in _MODULES.items()}
