"""The engine: files in, findings out. It knows no pitfall.

For each file it parses once (through the project, so imports between project files are
joined), builds the program with the frontend, runs the selected checks, and turns what they
report into findings. Suppressions and per-file ignores are applied at the end, over all
files, so a comment in ``model.py`` can silence a finding that the analysis of ``train.py``
made. Many files are split across processes, one per core.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from nnlint import files, registry, suppressions
from nnlint.check import Check, GraphCheck, ProgramCheck, Sink, Subject
from nnlint.config import ConfigError, Settings
from nnlint.discovery import Unit, discover, matcher
from nnlint.ir import Origin
from nnlint.levels import Confidence, Severity
from nnlint.errors import AnalysisLimit, SourceSyntaxError, UnreadableFile, UnsupportedSyntax, internal_error

if TYPE_CHECKING:
    from nnlint.cache import Cache
    from nnlint.findings import Finding
    from nnlint.frontends.project import Project

#: Engine findings about the input itself, not a pitfall.
SYNTAX_ERROR = ("NN901", "syntax-error")
UNREADABLE = ("NN902", "unreadable-file")
UNUSED_SUPPRESSION = ("NN903", "unused-suppression")
ANALYSIS_LIMIT = ("NN904", "analysis-limit")
UNSAFE_EXTERNAL_DATA = ("NN905", "unsafe-external-data")
MISSING_EXTERNAL_DATA = ("NN906", "missing-external-data")
ONNX_CHECKER = ("NN907", "onnx-checker")
INTERNAL_ERROR = ("NN999", "internal-error")

#: What ``nnlint explain`` says of them.
ENGINE_CODES = {
    SYNTAX_ERROR: "The file is not valid Python (CPython's parser says where); it is not analysed, the other files are.",
    UNREADABLE: "The file cannot be read as Python source: binary, not UTF-8, over 5 MB, or unreadable; or it is not "
                "read: a symlink out of the project, a loop, a FIFO or a device. Exit code 2.",
    UNUSED_SUPPRESSION: "A `# nnlint: ignore[...]` or `# noqa: NN...` comment silences nothing; reported only with "
                        "--report-unused-suppressions.",
    ANALYSIS_LIMIT: "The file (or part of it) could not be analysed: an expression nested too deeply, valid "
                    "Python that nnlint's parser (libcst) does not read, a file of more than 80,000 tokens (a big "
                    "literal), or an analysis that ran past its time budget. nnlint stays silent about it (info).",
    UNSAFE_EXTERNAL_DATA: "An ONNX initializer's external data lies outside the model's folder (an absolute path or "
                          "one with '..'); nnlint refuses to read it. The rest of the graph is still linted.",
    MISSING_EXTERNAL_DATA: "An ONNX initializer's external data file is missing or too short; weight checks skip it.",
    ONNX_CHECKER: "The model fails onnx.checker (info); nnlint lints what it can parse anyway. Not run on graphs "
                  "over 100,000 nodes, where the checker grows faster than linearly.",
    INTERNAL_ERROR: "A bug in nnlint while analysing the file; the other files are still linted. Please report it.",
}

PARALLEL_MIN_FILES = 8
#: By default, fewer bytes than this are linted in one process: each worker starts by reading
#: again what the files import, which ten small scripts' analysis does not repay.
PARALLEL_MIN_BYTES = 100_000
#: What a file weighs in a worker's share beside its bytes: its analysis costs something however small it is.
_FILE_WEIGHT = 2_000


@dataclass
class LintResult:
    findings: list["Finding"] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each; the run exits 2
    notes: list[str] = field(default_factory=list)
    files: int = 0
    paths: list[str] = field(default_factory=list)  # the linted files, as the findings show them


def selected_checks(settings: Settings, select: Optional[list[str]] = None, ignore: Optional[list[str]] = None) -> list[type[Check]]:
    """The checks that ``select`` minus ``ignore`` name; an unknown selector is an error that
    names where it was written (the option, or the configuration file and its key)."""
    config = "" if settings.source is None else f"{settings.source}: " if settings.source.name != "pyproject.toml" \
        else f"{settings.source} [tool.nnlint]: "

    def find(selector: str, where: str) -> list[type[Check]]:
        matched = registry.find(selector)
        if not matched:
            shown = " ".join(selector.splitlines())
            raise ConfigError(f"{where}unknown rule selector '{shown}' (see `nnlint rules`)")
        return matched

    chosen: dict[str, type[Check]] = {}
    for selector in select if select is not None else settings.select:
        chosen.update({c.code: c for c in find(selector, "" if select is not None else f"{config}'select': ")})
    for selector in settings.ignore:
        for check in find(selector, f"{config}'ignore': "):
            chosen.pop(check.code, None)
    for selector in ignore or []:
        for check in find(selector, "--ignore: "):
            chosen.pop(check.code, None)
    for pattern, selectors in settings.per_file_ignores.items():
        for selector in selectors:
            find(selector, f"{config}'per-file-ignores' {' '.join(pattern.splitlines())!r}: ")
    return sorted(chosen.values(), key=lambda c: c.code)


def lint(
    paths: list[str],
    settings: Settings,
    checks: list[type[Check]],
    jobs: Optional[int] = None,
    report_unused: bool = False,
    subjects: Optional[dict] = None,
    keep: Optional[list] = None,
    cache: Optional["Cache"] = None,
) -> LintResult:
    """Lint ``paths``. ``subjects`` (for ``--trace``) collects what each finding is about; the
    analysis then stays in this process, where the graphs it built live. ``keep`` receives
    the last ONNX graph built instead of freeing it, for a caller that ends the process next
    (nor is what the last Python file's analysis left collected then).
    ``cache`` (:mod:`nnlint.cache`) gives the findings of Python files whose inputs are
    unchanged since a run stored them, and keeps those of the others; not with ``subjects``."""
    with files.allowed(files.roots_for(paths)):  # every read stays inside these (nnlint.files)
        return _lint(paths, settings, checks, jobs, report_unused, subjects, keep,
                     cache if subjects is None else None)


def _lint(paths: list[str], settings: Settings, checks: list[type[Check]], jobs: Optional[int],
          report_unused: bool, subjects: Optional[dict], keep: Optional[list],
          cache: Optional["Cache"] = None) -> LintResult:
    found = discover(paths, settings)
    result = LintResult(errors=list(found.errors), notes=list(found.notes))
    python = [u for u in found.units if u.kind in ("python", "notebook")]
    graphs = [u for u in found.units if u.kind == "onnx"]
    result.files = len(python) + len(graphs)
    result.paths = [u.path for u in python + graphs]
    workers = 1 if subjects is not None else min(jobs or usable_cores(), usable_cores())
    stored: dict[int, list["Finding"]] = {}  # by the file's place in ``python``
    stored_tasks: set[str] = set()
    if cache is not None:
        display = {u.abspath: u.path for u in python}
        for i, unit in enumerate(python):
            hit = cache.lookup(unit, display)
            if hit is not None:
                stored[i] = hit[0]
                stored_tasks.update(hit[1])
    todo = [u for i, u in enumerate(python) if i not in stored]
    if jobs is None and workers > 1 and len(todo) >= PARALLEL_MIN_FILES and sum(_sizes(todo)) < PARALLEL_MIN_BYTES:
        workers = 1
    made, tasks = _run(todo, settings, checks, workers, subjects, result.errors, python, cache, keep is not None)
    # in the order the files were found, cached or not (_finish keeps the first of equal findings)
    linted = iter(made)
    raw = [f for i in range(len(python)) for f in (stored[i] if i in stored else next(linted))]
    tasks.update(stored_tasks)
    if cache is not None:
        cache.prune()
    if graphs:
        try:
            from nnlint.onnx_units import lint_onnx_units  # imports onnx and numpy: only for .onnx files
        except ImportError as exc:
            result.errors.extend(f"{u.path}: linting ONNX files needs the onnx package ({exc.name} is missing): "
                                 "pip install 'nnlint[onnx]'" for u in graphs)
        else:
            try:
                raw.extend(lint_onnx_units(graphs, settings, checks, tasks, result.notes, subjects, keep))
            except Exception as exc:  # per-graph bugs are NN999 there; this is the stage itself
                result.errors.append(internal_error(exc, "while linting the ONNX files (their findings are missing)"))
    try:
        result.findings = _finish(raw, python + graphs, settings, report_unused, {c.code for c in checks})
    except Exception as exc:  # the findings as made, without suppressions, rather than none
        result.errors.append(internal_error(exc, "while applying suppressions (the findings are shown unfiltered)"))
        result.findings = sorted(raw, key=lambda f: f.sort_key())
    for f in result.findings:
        if f.code in (UNREADABLE[0], INTERNAL_ERROR[0]):
            result.errors.append(f"{f.path}: {f.message}")
    return result


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or ``taskset`` sets
    it), not the machine's: more workers than cores only share them, and each repeats the
    imports and the parse of the files the others import (``-j 64`` on 2 cores ran 15x slower)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counted is not None:
        return counted() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _run(units: list[Unit], settings: Settings, checks: list[type[Check]], jobs: int,
         subjects: Optional[dict] = None, errors: Optional[list[str]] = None, everything: Optional[list[Unit]] = None,
         cache: Optional["Cache"] = None, ends: bool = False) -> tuple[list[list["Finding"]], set[str]]:
    """The findings of each of ``units`` (a list per file, in order), and the tasks
    (regression, classification) the training code's losses imply. A worker that dies (killed
    for memory) stops the pool: the files of the shares not finished then have no findings,
    said in ``errors``, a line per share.
    ``everything``: all the files asked about, when ``units`` are those the cache did not have.
    ``ends``: the caller ends the process once the report is written (see :func:`lint_units`)."""
    everything = units if everything is None else everything
    if not units:
        return [], set()
    if jobs <= 1 or len(units) < PARALLEL_MIN_FILES:
        return lint_units(units, everything, settings, checks, subjects, cache, ends)
    from concurrent.futures import ProcessPoolExecutor  # 30 ms to import: only for many files
    from multiprocessing import get_context

    # The workers are forked from this process: what it has imported they need not import
    # again each (libcst, the frontends and the finding's class: most of a small run's time).
    import nnlint.ast_to_cst  # noqa: F401
    import nnlint.findings  # noqa: F401
    import nnlint.frontends.project  # noqa: F401
    import nnlint.frontends.python  # noqa: F401

    # Each worker lints one share: a contiguous run of the files in the order found, which keeps
    # a folder's files (and what they import) in one process, as one process would read them
    # (one file's analysis can change what an imported module holds for the next). The shares
    # are cut by size, not by count: halves by count left a core idle on timm, whose tests and
    # layers cost a fraction of its model zoo.
    shares = _shares(units, jobs)
    made: list[list["Finding"]] = []
    tasks: set[str] = set()
    with ProcessPoolExecutor(max_workers=len(shares), mp_context=get_context("fork")) as pool:
        futures = [pool.submit(lint_units, share, everything, settings, checks, None, cache) for share in shares]
        for share, future in zip(shares, futures):
            try:
                part, found = future.result()
            except Exception as exc:
                if errors is None:
                    raise
                errors.append(f"{share[0].path}: " + internal_error(
                    exc, f"in the worker pool, which stopped; the findings of this file and the {len(share) - 1} "
                         "after it in its share are missing"))
                part, found = [[] for _ in share], set()
            made.extend(part)
            tasks.update(found)
    if cache is not None:
        cache.written += len(units)  # stored by the workers: counted here, where the cache is pruned
    return made, tasks


def _sizes(units: list[Unit]) -> list[int]:
    sizes = []
    for unit in units:
        try:
            sizes.append(unit.abspath.stat().st_size)
        except OSError:
            sizes.append(0)  # unreadable: its finding says so, at no cost
    return sizes


def _shares(units: list[Unit], jobs: int) -> list[list[Unit]]:
    """``units`` cut into at most ``jobs`` contiguous runs of about equal weight: a file weighs
    its size and :data:`_FILE_WEIGHT`."""
    weights = [size + _FILE_WEIGHT for size in _sizes(units)]
    total = sum(weights)
    shares: list[list[Unit]] = [[]]
    done = 0
    for unit, weight in zip(units, weights):
        if shares[-1] and done >= total * len(shares) / jobs:
            shares.append([])
        shares[-1].append(unit)
        done += weight
    return shares


def lint_units(units: list[Unit], everything: list[Unit], settings: Settings, checks: list[type[Check]],
               subjects: Optional[dict] = None, cache: Optional["Cache"] = None,
               ends: bool = False) -> tuple[list[list["Finding"]], set[str]]:
    """Lint ``units`` in this process (their findings, a list per file); ``everything`` is the
    whole set of files asked about (for display paths). With ``ends`` (this process ends once the report is written), what
    the last file left is not collected: nothing would use the memory, and the collection
    scans every object the file's analysis made (60 ms of a one-file run on timm's train.py)."""
    from nnlint.frontends.project import Project  # libcst: not needed when only graphs are linted

    project = Project({u.abspath: u.path for u in everything}, record=cache is not None, outlines=cache)
    requested = {u.path for u in everything}
    tasks: set[str] = set()
    return [_lint_kept(unit, project, requested, settings, checks, tasks, subjects, cache,
                       not (ends and unit is units[-1])) for unit in units], tasks


def _lint_kept(unit: Unit, project: "Project", requested: set[str], settings: Settings, checks: list[type[Check]],
               tasks: set[str], subjects: Optional[dict], cache: Optional["Cache"], collect: bool) -> list["Finding"]:
    """One file's findings, stored in ``cache`` with what its analysis relied on; then the
    file's own tree is let go (unless --trace, which builds from it after the run) and, with
    ``collect``, what its analysis left."""
    found: set[str] = set()
    made = _lint_one(unit, project, requested, settings, checks, found, subjects)
    if cache is not None:
        cache.store(unit, project, made, found)
    if subjects is None:  # --trace builds from the graphs and trees after the run
        try:
            project.release(unit.abspath)
        except UnreadableFile:
            pass  # a link out of the project, a loop: never loaded
        if collect:
            _collect()
    tasks.update(found)
    return made


def _collect() -> None:
    """Free what a file's analysis left in reference cycles: its program, graphs and values,
    and its tree if the project let go of it. ``nnlint`` runs with the automatic collector
    off (it would rescan every live object again and again, the modules kept for later
    importers included); the young generations this scans hold only what was made since the
    last file, so the cost follows the file, and the memory no longer grows with every file."""
    import gc

    gc.collect(1)


def _lint_one(unit: Unit, project: "Project", requested: set[str], settings: Settings, checks: list[type[Check]],
              tasks: set[str], subjects: Optional[dict] = None) -> list["Finding"]:
    try:
        info = project.load(unit.abspath)
    except UnreadableFile as exc:
        return [engine_finding(UNREADABLE, Severity.ERROR, f"cannot read: {exc}", unit.path)]
    except UnsupportedSyntax as exc:
        return [engine_finding(ANALYSIS_LIMIT, Severity.INFO, str(exc), unit.path)]
    except SourceSyntaxError as exc:
        found = engine_finding(SYNTAX_ERROR, Severity.ERROR, f"syntax error: {exc.message}", unit.path, exc.line,
                               exc.column)
        code = project.notebooks.get(unit.abspath.resolve())
        return [with_cell(found, code) if code is not None else found]

    from nnlint.frontends.python import analyze

    findings: list[Finding] = _left_out_cells(info.source.notebook, unit.path)
    wanting: set[tuple] = set()
    sink = finding_sink(findings, requested, project.source_for, subjects, wanting)
    try:
        program = analyze(info, project, settings.task)
        tasks.update(g.setup.task for g in program.models() if g.setup.task)
        tasks.update(program.declared_tasks)
        if program.setup.loss_task():
            tasks.add(program.setup.loss_task())
        run_checks(program, checks, settings, sink)
        if wanting:
            from nnlint.callers import given_by_callers

            given_by_callers(unit, project, findings, wanting, subjects, matcher(settings.test_files, settings.root),
                             _context_of(unit, project, settings, checks))
    except RecursionError:
        findings.append(engine_finding(ANALYSIS_LIMIT, Severity.INFO,
                                        "an expression is nested too deeply to analyse; the rest of the file was skipped",
                                        unit.path))
    except AnalysisLimit as exc:
        findings.append(engine_finding(ANALYSIS_LIMIT, Severity.INFO, str(exc), unit.path))
    except Exception as exc:  # a bug in nnlint must not hide the other files' findings
        findings.append(
            engine_finding(INTERNAL_ERROR, Severity.ERROR,
                            f"internal error ({type(exc).__name__}: {exc}); please report it", unit.path)
        )
    return findings


def _context_of(unit: Unit, project: "Project", settings: Settings, checks: list[type[Check]]):
    """The analysis of a script beside ``unit`` as context (:mod:`nnlint.callers`): its
    findings on ``unit`` alone, with their subjects and those still wanting a value."""
    from nnlint.frontends.python import analyze

    def context_of(path: Path, deadline: float) -> tuple[list["Finding"], dict, set]:
        made: list["Finding"] = []
        context: dict = {}
        still: set[tuple] = set()
        program = analyze(project.load(path), project, settings.task, deadline)
        run_checks(program, checks, settings, finding_sink(made, {unit.path}, project.source_for, context, still))
        return made, context, still

    return context_of


def _left_out_cells(code, path: str) -> list["Finding"]:
    """A notebook's cells that were not linted: NN901 where IPython would reject the cell too."""
    if code is None:
        return []
    return [with_cell(engine_finding(kind, severity, cell.message, path, cell.line, cell.column), code)
            for kind, severity, cells in ((SYNTAX_ERROR, Severity.ERROR, code.errors),
                                          (ANALYSIS_LIMIT, Severity.INFO, code.skipped))
            for cell in cells]


def finding_sink(findings: list["Finding"], requested: set[str], source_for,
                 subjects: Optional[dict[tuple, tuple[Check, Subject]]] = None,
                 wanting: Optional[set[tuple]] = None) -> Sink:
    """What checks report into: a finding with its position (source) or node (graph). With
    ``subjects`` (``--trace``), each finding's check and subject are kept by its identity.
    ``wanting`` receives the identities of findings whose claim rests on a value only the run
    has (:meth:`Check.unmeasurable`): a caller of the code may give it (:mod:`nnlint.callers`)."""

    def sink(check: Check, origin: Origin, message: str, severity: Severity, confidence: Confidence,
             subject: Subject) -> None:
        if origin.path not in requested:
            if subject.also is None or subject.also.path not in requested:
                return  # context read from a file nobody asked about
            message = f"{message} (at {_place(origin, source_for)})"
            origin = subject.also  # the layer's file is not linted, the loss's is: shown at the loss
        from nnlint.findings import Finding

        source = source_for(origin.path)
        line, col, end_line, end_col = _span(origin, source) or (None, None, None, None)
        finding = Finding(code=check.code, name=check.name, severity=severity, confidence=confidence, message=message,
                          path=origin.path, line=line, column=col, end_line=end_line, end_column=end_col,
                          node=origin.graph_node)
        if source is not None and source.notebook:
            finding = source.notebook.as_run(with_cell(finding, source.notebook))
        findings.append(finding)
        if subjects is not None:
            subjects.setdefault(finding.subject_key(), (check, subject))
        if wanting is not None and check.unmeasurable(subject.fields):
            wanting.add(finding.identity())

    return sink


def _span(origin: Origin, source) -> Optional[tuple]:
    """(line, column, end line, end column) of ``origin`` in its parsed ``source``, if known."""
    return source.span(origin.node) if source is not None and origin.node is not None else None


def _place(origin: Origin, source_for) -> str:
    """``model.py:16``: where an op is, for a finding shown elsewhere."""
    span = _span(origin, source_for(origin.path))
    path = origin.path
    if os.path.isabs(path):  # a module the linted file imports: named from where nnlint runs
        relative = os.path.relpath(path)
        path = relative if not relative.startswith("..") else os.path.basename(path)
    return f"{path}:{span[0]}" if span else path


def with_cell(finding: "Finding", code) -> "Finding":
    """A notebook finding: add the cell and the line within it."""
    if finding.line is None:
        return finding
    number, line = code.cell_of(finding.line)
    return finding.replace(cell={"number": number, "line": line})


def run_checks(program, checks: list[type[Check]], settings: Settings, sink: Sink) -> None:
    for check_cls in checks:
        check = check_cls(sink, settings.check_options.get(check_cls.name))
        check.program = program
        if isinstance(check, GraphCheck):
            for graph in program.graphs:
                check.graph = graph
                check.check(graph)
        elif isinstance(check, ProgramCheck):
            check.check(program)


def engine_finding(kind: tuple[str, str], severity: Severity, message: str, path: str,
                   line: Optional[int] = None, column: Optional[int] = None, node: Optional[str] = None) -> "Finding":
    from nnlint.findings import Finding

    message = " ".join(message.split())  # one line, whatever an exception's text held
    return Finding(code=kind[0], name=kind[1], severity=severity, confidence=Confidence.CERTAIN, message=message,
                   path=path, line=line, column=column, end_line=line, end_column=column, node=node)


def _finish(raw: list["Finding"], units: list[Unit], settings: Settings, report_unused: bool,
            enabled: set[str]) -> list["Finding"]:
    """Deduplicate, apply suppressions and per-file ignores, report unused suppressions, sort.

    Analyses of several files can make the same finding (a model file's own, and a script's
    that builds the model with the values it passes): the first made is kept, in the order
    the files were found, whether one process analysed them or several, and whether they
    came from the cache or not (see :func:`_run`). (What an analysis makes can still differ
    between one process and several where one file's analysis changes an imported module for
    the files after it in the same process.)"""
    unique: dict[tuple, Finding] = {}
    for finding in raw:
        unique.setdefault(finding.identity(), finding)
    by_path = {u.path: u for u in units}
    sups: dict[str, suppressions.FileSuppressions] = {}

    def file_sups(path: str) -> suppressions.FileSuppressions:
        if path not in sups:
            unit = by_path.get(path)
            try:  # read again (in this process) through nnlint.files, as the analysis read it
                from nnlint.source import read_text

                text = read_text(unit.abspath) if unit and unit.kind != "onnx" else ""
                if unit is not None and unit.kind == "notebook":
                    from nnlint import notebook  # only where a notebook is linted

                    text = notebook.read(unit.abspath, text).text
            except (OSError, UnicodeDecodeError, UnreadableFile):
                text = ""
            sups[path] = suppressions.parse(text)
        return sups[path]

    in_tests = matcher(settings.test_files, settings.root)
    kept = []
    for finding in unique.values():
        unit = by_path.get(finding.path)
        if unit is not None and not finding.code.startswith("NN9") and finding.severity != Severity.INFO \
                and in_tests(unit.abspath):
            # Tests train toy models to check mechanics (a learning rate saved and reloaded, a
            # bias-free layer, an unshuffled loader), not for quality: advice, not a failure.
            finding = finding.replace(severity=Severity.INFO, confidence=Confidence.POSSIBLE)
        if _per_file_ignored(finding, by_path.get(finding.path), settings):
            continue
        if finding.node and any(fnmatch.fnmatchcase(finding.node, p) for p in settings.ignore_nodes):
            continue
        if finding.code not in (UNREADABLE[0], SYNTAX_ERROR[0]) and file_sups(finding.path).suppress(
            finding.code, finding.name, finding.line, finding.end_line
        ):
            continue
        kept.append(finding)
    unparsed = {f.path for f in unique.values() if f.code in (UNREADABLE[0], SYNTAX_ERROR[0])}
    if report_unused:
        for unit in (u for u in units if u.path not in unparsed and u.kind != "onnx"):
            for sup in file_sups(unit.path).unused():
                if sup.codes is not None and not all(_enabled(code, enabled) for code in sup.codes):
                    continue  # names a rule that is not running: not evidence of anything
                kept.append(
                    engine_finding(UNUSED_SUPPRESSION, Severity.WARNING, f"unused suppression '{sup.text}'",
                                    unit.path, sup.line, sup.column)
                )
    return sorted(kept, key=lambda f: f.sort_key())


def _enabled(code_or_name: str, enabled: set[str]) -> bool:
    check = registry.lookup(code_or_name)
    return check is not None and check.code in enabled


def _per_file_ignored(finding: "Finding", unit: Optional[Unit], settings: Settings) -> bool:
    if not settings.per_file_ignores or unit is None:
        return False
    try:
        rel = unit.abspath.relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        rel = Path(unit.path).as_posix()
    for pattern, selectors in settings.per_file_ignores.items():
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(unit.path).as_posix(), pattern):
            for selector in selectors:
                if any(c.code == finding.code for c in registry.find(selector)):
                    return True
    return False
