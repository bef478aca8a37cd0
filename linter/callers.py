"""A function's arguments as the scripts beside its file give them.

A file that defines a model-building function and never calls it is analysed standalone: its
parameters are unknown, and a finding whose claim rests on one (``Dropout(rate=keep_prob)``)
can only say so (info, and an inconclusive trace). The value is often one file away: a course
exercise's ``0-main.py`` calls ``build_model(784, ..., 0.95)`` on ``__import__("0-sequential")``,
a ``train.py`` calls the ``model.py`` beside it. Linted alone (a pre-commit run on the staged
file), the file would never see them.

So when such a finding is made, the scripts in the file's folder that import its module (the
folder a script run there imports it from) are analysed too, as context, and where that
folder is a package (``lstm/model.py`` beside ``lstm/__init__.py``), the scripts beside the
package that import it (``main.py``'s ``from lstm import LSTM``): of what their
analysis finds, only findings on the linted file count, and one made with the value in hand
replaces the standalone finding at the same place, naming the script. Scripts that disagree
(one passes 0.2, another 0.999) leave the standalone finding as it was, and test files are
not callers whose values count. Nothing else is added: the scripts' own findings, and findings
the value alone would make, are theirs to report when they are linted. The search is bounded
(files read, scripts analysed, one time budget for all of them) and runs only for files with
such a finding.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from nnlint.check import Check, Subject
    from nnlint.discovery import Unit
    from nnlint.findings import Finding
    from nnlint.frontends.project import Project

#: The most files of the folder read to find the scripts, and the most scripts analysed.
MAX_READ = 64
MAX_SCRIPTS = 8
#: Wall time for all of a file's scripts together (each is also bounded by its own analysis budget).
SECONDS = 3.0

#: What a script's analysis gives: its findings on the linted file, their checks and subjects
#: (by identity), and the identities of those that still lack the value.
Context = tuple[list["Finding"], dict, set]


def importers(stem: str) -> re.Pattern:
    """An import of the module ``stem``: ``import stem``, ``from stem import``, ``from .stem``,
    ``from pkg.stem``, or its name quoted (``__import__("0-sequential")``)."""
    name = re.escape(stem)
    return re.compile(rf"\bimport\s+{name}\b|\bfrom\s+[\w.]*?\b{name}\s+import\b|\bfrom\s+\.+{name}\b|[\"']{name}[\"']")


def package_importers(package: str) -> re.Pattern:
    """An import of the package ``package`` or of a module in it: ``import package``,
    ``from package import``, ``from package.model import``."""
    name = re.escape(package)
    return re.compile(rf"\bimport\s+{name}\b|\bfrom\s+{name}(\.[\w.]+)?\s+import\b")


def _scripts(unit: "Unit", project: "Project") -> list[Path]:
    """The scripts that may call ``unit`` 's code: beside it, then beside its package."""
    found = project.scripts_naming(unit.abspath, importers(unit.abspath.stem), MAX_READ, MAX_SCRIPTS)
    folder = unit.abspath.parent
    if len(found) < MAX_SCRIPTS and (folder / "__init__.py").is_file() and folder.name.isidentifier():
        found += project.scripts_naming(unit.abspath, package_importers(folder.name), MAX_READ,
                                        MAX_SCRIPTS - len(found), folder.parent)
    return found


def given_by_callers(unit: "Unit", project: "Project", findings: list["Finding"], wanting: set[tuple],
                     subjects: Optional[dict[tuple, tuple["Check", "Subject"]]], is_test: Callable[[Path], bool],
                     context_of: Callable[[Path, float], Context]) -> None:
    """Replace, in ``findings``, each finding of ``wanting`` that the scripts beside ``unit``
    make, all with the same value, with that finding (its subject too, for ``--trace``).
    ``context_of(path, deadline)`` analyses one script as context."""
    deadline = time.monotonic() + SECONDS
    candidates: dict[tuple, list[tuple["Finding", tuple, str]]] = {}
    for path in _scripts(unit, project):
        if is_test(path) or time.monotonic() > deadline:
            continue
        try:
            made, context, still = context_of(path, deadline)
        except Exception:  # context only: a script nnlint cannot analyse gives no value, whatever the cause
            continue
        mine: dict[tuple, "Finding"] = {}
        for found in made:  # the first at each place (a loop's layers share their line)
            if found.identity() in wanting and found.identity() not in still:
                mine.setdefault(found.identity(), found)
        for key, found in mine.items():
            candidates.setdefault(key, []).append((found, context[found.subject_key()], path.name))
    for key, made in candidates.items():
        if len({found.message for found, _, _ in made}) != 1:
            continue  # the scripts give different values: none is the value
        found, subject, script = made[0]
        at = next(i for i, f in enumerate(findings) if f.identity() == key)
        findings[at] = found.replace(message=f"{found.message} (with the arguments {script} passes)")
        if subjects is not None:
            subjects[findings[at].subject_key()] = subject
