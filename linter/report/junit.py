"""``--format junit``: JUnit XML, as ruff writes it, for CI systems that show test reports
(GitLab's ``artifacts:reports:junit``, Jenkins, Azure Pipelines).

``<testsuites name="nnlint">`` holds one ``<testsuite>`` per file with findings (named by its
path), one ``<testcase>`` per finding: ``name`` ``nnlint.CODE``, ``classname`` the path
without its suffix (ruff's choice), ``file``, and ``line``/``column`` where the finding has a
source position; its ``<failure>`` has the message as ``message``, the code as ``type``, and
as text where it is (line and column, a notebook's cell, an ONNX graph's node), the message
and the rule's hint. With no finding, one passing testcase says so (``No errors found``, as
ruff). The run's errors that no finding reports (:mod:`nnlint.report.run_errors`) are
testcases with an ``<error>``, in their file's suite or in a suite named ``nnlint``.

The XML is built with :mod:`xml.etree.ElementTree`, which escapes text and attributes; the
characters XML 1.0 cannot carry at all (control characters, lone surrogates from an
undecodable file name) are written as Python escapes (``\\x1b``) instead.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import Optional, TextIO

from nnlint.report import rules, run_errors

PROGRAM = "nnlint"
#: what XML 1.0 forbids (its Char production), tab, newline and carriage return aside
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write(result, stream: TextIO, color: bool = False) -> None:
    root = document(result)
    ET.indent(root, space="    ")
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")


def document(result) -> ET.Element:
    suites: dict[str, list[ET.Element]] = {}
    for finding in result.findings:
        suites.setdefault(finding.path, []).append(_failure(finding))
    for path, message in run_errors.located(result):
        suites.setdefault(path or PROGRAM, []).append(_error(path, message))
    if not suites:
        case = ET.Element("testcase", name="No errors found", classname=PROGRAM)
        suites[PROGRAM] = [case]
    root = ET.Element("testsuites", name=PROGRAM)
    for name, cases in suites.items():
        suite = ET.SubElement(root, "testsuite", name=name)
        suite.extend(cases)
        _count(suite)
    _count(root)
    for element in root.iter():
        element.attrib = {key: _xml(value) for key, value in element.attrib.items()}
        if element.text is not None:
            element.text = _xml(element.text)
    return root


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def _failure(finding) -> ET.Element:
    case = _case(f"{PROGRAM}.{finding.code}", finding.path)
    message, where = finding.message, []
    if finding.cell is not None:
        where.append(f"cell {finding.cell['number']}, line {finding.cell['line']}")
    elif finding.line is not None:
        case.set("line", str(finding.line))
        where.append(f"line {finding.line}")
        if finding.column is not None:
            case.set("column", str(finding.column))
            where.append(f"col {finding.column}")
    if finding.node is not None:
        where.append(f"node {finding.node}")
    hint = rules.hint(finding.code)
    text = ", ".join(where + [message]) + (f"\nhint: {hint}" if hint else "")
    failure = ET.SubElement(case, "failure", message=message, type=finding.code)
    failure.text = text
    return case


def _error(path: Optional[str], message: str) -> ET.Element:
    case = _case(f"{PROGRAM}.error", path)
    error = ET.SubElement(case, "error", message=message, type="error")
    error.text = message
    return case


def _case(name: str, path: Optional[str]) -> ET.Element:
    if path is None:
        return ET.Element("testcase", name=name, classname=PROGRAM)
    return ET.Element("testcase", name=name, classname=PurePath(path).with_suffix("").as_posix(), file=path)


def _count(element: ET.Element) -> None:
    """``tests``, ``failures`` and ``errors`` over the testcases below ``element``."""
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    element.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
