"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=NN001 slug::message`` (a
warning is ``::warning``, an info ``::notice``). The message carries the hint on a second
line. Escaping is GitHub's (``@actions/core``'s ``escapeData`` and ``escapeProperty``):
in the message ``%``, CR and LF; in a property value also ``:`` and ``,``. A notebook
finding is annotated on the ``.ipynb`` file, its cell and line named in the message (the
file's own lines are JSON); an ONNX finding on the ``.onnx`` file, naming its node.

The run's errors that no finding reports (:mod:`nnlint.report.run_errors`: a worker that
died, an input that does not exist) follow as ``::error`` commands, on the file when the
error is about a linted file (``::error file=F::message``), else with no file; they are
also on stderr, as in every format.
"""

from __future__ import annotations

from typing import TextIO

from nnlint.report import rules, run_errors
from nnlint.report.placed import placed

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write(result, stream: TextIO, color: bool = False) -> None:
    for finding in result.findings:
        stream.write(annotation(finding) + "\n")
    for path, message in run_errors.located(result):
        where = "" if path is None else f" file={escape_property(path)}"
        stream.write(f"::error{where}::{escape_data(message)}\n")


def annotation(finding) -> str:
    props = {"file": finding.path}
    message = placed(finding)
    if finding.cell is None and finding.line is not None:
        props["line"] = finding.line
        if finding.column is not None:
            props["col"] = finding.column
        if finding.end_line is not None:
            props["endLine"] = finding.end_line
            if finding.end_column is not None:
                props["endColumn"] = finding.end_column
    props["title"] = f"{finding.code} {finding.name}"
    hint = rules.hint(finding.code)
    if hint:
        message = f"{message}\nhint: {hint}"
    fields = ",".join(f"{key}={escape_property(str(value))}" for key, value in props.items())
    return f"::{COMMANDS[finding.severity.value]} {fields}::{escape_data(message)}"
