"""A function's arguments as the scripts beside its file give them.

A file that defines a model-building function and never calls it is analysed standalone: its
parameters are unknown, and a finding whose claim rests on one (``Dropout(rate=keep_prob)``)
can only say so (info, and an inconclusive trace). The value is often one file away: a course
exercise's ``0-main.py`` calls ``build_model(784, ..., 0.95)`` on ``__import__("0-sequential")``,
a ``train.py`` calls the ``model.py`` beside it. Linted alone (a pre-commit run on the staged
file), the file would never see them.

So when such a finding is made, the scripts in the file's folder that name its module (the
folder a script run there imports it from) are analysed too, as context: of what their
analysis finds, only findings on the linted file count, and one made with the value in hand
replaces the standalone finding at the same place. Nothing else is added: the scripts' own
findings, and findings the value alone would make, are theirs to report when they are linted.
The search is bounded (:data:`MAX_SCRIPTS`), and runs only for files with such a finding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from nnlint.errors import AnalysisLimit, SourceSyntaxError, UnreadableFile, UnsupportedSyntax

if TYPE_CHECKING:
    from nnlint.check import Check, Subject
    from nnlint.config import Settings
    from nnlint.discovery import Unit
    from nnlint.findings import Finding
    from nnlint.frontends.project import Project

#: The most scripts read as context for one file (a folder of a hundred model files that all
#: import each other would otherwise be analysed once per file).
MAX_SCRIPTS = 8


def given_by_callers(unit: "Unit", project: "Project", settings: "Settings", checks: list[type["Check"]],
                     findings: list["Finding"], wanting: set[tuple],
                     subjects: Optional[dict[tuple, tuple["Check", "Subject"]]]) -> None:
    """Replace, in ``findings``, each finding of ``wanting`` that a script beside ``unit``
    makes with the value known (its subject too, for ``--trace``)."""
    from nnlint.engine import finding_sink, run_checks
    from nnlint.frontends.python import analyze

    for path in project.scripts_naming(unit.abspath, MAX_SCRIPTS):
        made: list["Finding"] = []
        context: dict = {}
        still: set[tuple] = set()
        try:
            info = project.load(path)
            run_checks(analyze(info, project, settings.task), checks, settings,
                       finding_sink(made, {unit.path}, project.source_for, context, still))
        except (UnreadableFile, SourceSyntaxError, UnsupportedSyntax, AnalysisLimit, RecursionError):
            continue  # context only: the script's own problems are its own lint's to report
        for found in made:
            key = found.identity()
            if key not in wanting or key in still:
                continue  # not a finding the value was wanted for, or the script lacks it too
            at = next(i for i, f in enumerate(findings) if f.identity() == key)
            findings[at] = found
            wanting.discard(key)
            if subjects is not None:
                subjects[key] = context[key]
        if not wanting:
            return
