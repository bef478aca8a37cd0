"""A finding's message, prefixed with where it is when its file's own lines cannot say so: a
notebook's cell and line (the ``.ipynb`` file's lines are JSON), an ONNX graph's node. Shared
by the reporters that locate a finding by file and line only (github, gitlab, rdjson) and by
``nnlint review``'s comments."""

from __future__ import annotations


def placed(finding) -> str:
    message = finding.message
    if finding.cell is not None:
        message = f"cell {finding.cell['number']}, line {finding.cell['line']}: {message}"
    if finding.node is not None:
        message = f"node {finding.node}: {message}"
    return message
