"""The command line: ``nnlint [OPTIONS] PATH...``, ``nnlint rules``, ``nnlint explain RULE``,
``nnlint review`` (:mod:`nnlint.review`).

Exit codes: 0 when no finding reaches the failing severity (or with ``--exit-zero``), 1
otherwise, 2 for a usage error, a configuration error, an input that could not be read, or a
bug in nnlint (one line, never a traceback: CI must not mistake a crash for findings), also
with ``--exit-zero``, which only keeps findings from failing, as ruff's does.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Optional, Sequence, TextIO

from nnlint import __version__, files
from nnlint.config import ConfigError
from nnlint.errors import internal_error
from nnlint.levels import Severity

_RANK = {s.value: s.rank for s in Severity}


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the terminal's width as shutil would find it, but without
    importing shutil (and with it lzma and locale): argparse makes a formatter for every
    option it registers, so that import was on every run (3.5 ms of the pre-commit path)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)  # argparse's own margin


def _columns() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, ValueError, OSError):  # no terminal: shutil's fallback
        return 80


#: The lint's PATH help (``nnlint review`` gives its own: its default is the changed files).
_PATHS_HELP = ("files or folders to lint (folders recursively); '-' reads standard input; none: the current folder "
               "when run from a terminal, else nothing")


def _parser(paths_help: str = _PATHS_HELP) -> argparse.ArgumentParser:
    from nnlint.report import REPORTERS

    parser = argparse.ArgumentParser(
        prog="nnlint", formatter_class=_HelpFormatter,
        description="Find the documented training pitfalls in neural-network code.",
        epilog="Also: `nnlint rules` lists the rules, `nnlint explain RULE` documents one, `nnlint review` "
               "reviews a GitHub pull request, `nnlint clean` removes the caches under the current folder.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    parser.add_argument("--format", choices=sorted(REPORTERS), default="text", help="output format (default: text)")
    parser.add_argument("--stdin-filename", metavar="NAME",
                        help="the name (and kind: .py, .ipynb) of the code read from standard input; it is linted "
                             "as if it lay there (configuration, imports)")
    parser.add_argument("--output-file", "-o", metavar="PATH",
                        help="write the report to this file (its folders are created) instead of standard output")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when findings reach --fail-on (errors still exit 2)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="only the findings: no summary line, no warnings (errors are still shown)")
    parser.add_argument("--statistics", action="store_true",
                        help="instead of the findings, how many each rule has: count, code, name (text or json)")
    parser.add_argument("--diff-base", metavar="REF",
                        help="report only findings on lines changed since the merge base of REF and HEAD (git "
                             "diff, working tree included); with no PATH, lint the changed files")
    parser.add_argument("--diff", metavar="FILE",
                        help="report only findings on lines this unified diff adds ('-': standard input; paths "
                             "relative to the current folder); with no PATH, lint the changed files")
    parser.add_argument("--select", action="append", metavar="RULES",
                        help="only these rules: codes, code prefixes or slugs, comma-separated (replaces the config)")
    parser.add_argument("--ignore", action="append", metavar="RULES", help="skip these rules (added to the config)")
    parser.add_argument("--config", metavar="PATH", help="read settings from this TOML file instead of pyproject.toml")
    parser.add_argument("--fail-on", choices=["error", "warning", "info"],
                        help="lowest severity that makes the exit code 1 (default: warning)")
    parser.add_argument("--task", choices=["regression", "classification"],
                        help="what the models are trained for, when the code does not say")
    parser.add_argument("--report-unused-suppressions", action="store_true",
                        help="report `# nnlint: ignore[...]` comments that silence nothing (NN903)")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", help="processes to use (default: one per core)")
    parser.add_argument("--no-color", action="store_true", help="no colours (also: NO_COLOR=1)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the cache of findings (also: NNLINT_NO_CACHE=1)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="keep the cache here instead of .nnlint_cache in the project root")
    trace = parser.add_argument_group("trace", "confirm findings with a tiny forward pass (needs nnlint[trace])")
    trace.add_argument("--trace", action="store_true",
                       help="rebuild each model from the code or graph (never running the code) and mark every "
                            "finding confirmed, refuted or inconclusive, with the measurement")
    trace.add_argument("--trace-import", action="store_true",
                       help="EXECUTES YOUR CODE: for model classes --trace cannot rebuild, import the module that "
                            "defines the class and trace the real model, in a subprocess with a time and memory "
                            "limit (implies --trace)")
    trace.add_argument("--device", metavar="DEVICE", help="torch device for --trace (default: cuda when available)")
    trace.add_argument("--trace-memory", metavar="SIZE",
                       help="memory a traced model may need (parameters, inputs, activations), as declared, before "
                            "it is built: 2GB, 512MB, 1.5GiB or a number of megabytes (default: 2GB); a bigger "
                            "model's findings are inconclusive")
    trace.add_argument("--sample", metavar="FILE", help="real inputs for --trace: an .npy or .npz array (no pickles)")
    trace.add_argument("--hide-refuted", action="store_true", help="leave out findings the trace refuted")
    trace.add_argument("--report", metavar="HTML", help="write the trace's measurements as a self-contained HTML page")
    parser.add_argument("--version", action="version", version=f"nnlint {__version__}")
    return parser


def _review_parser() -> argparse.ArgumentParser:
    from nnlint import review

    parser = _parser(paths_help="files or folders to lint, kept to the pull request's added lines (default: the "
                                "files it changes)")
    parser.prog = "nnlint review"
    parser.description = ("Post one review of the findings on the lines a pull request adds (GitHub). Without "
                          "PATH, lints the files the pull request changes.")
    parser.epilog = None
    review.add_options(parser)
    return parser


def run() -> None:
    """The ``nnlint`` command: :func:`main`, then the process ends without tearing Python down.

    Teardown frees every module and object one by one (onnx and numpy: 20 ms), and so would
    freeing the last graph linted (half a second for a million nodes), which ``kept`` holds
    instead: neither changes anything once the report is written. The output is flushed
    first; if that fails (a closed pipe), Python exits as usual and says so.
    """
    kept: list = []
    code = main(keep=kept)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        sys.exit(code)
    os._exit(code)


def main(argv: Optional[Sequence[str]] = None, keep: Optional[list] = None) -> int:
    """``keep``: see :func:`nnlint.engine.lint`."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command = _subcommand(args)
        if command is not None:
            at = args.index(command)
            rest = args[:at] + args[at + 1:]  # options may come before the subcommand too
            if command == "review":
                return _check(rest, keep, review=True)
            if command == "clean":
                return _clean(rest)
            return _rules(rest) if command == "rules" else _explain(rest)
        return _check(args, keep)
    except ConfigError as exc:
        print(f"nnlint: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)  # one line, whatever a name holds
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug outside one file's analysis (those are NN999): one line, exit 2
        print(f"nnlint: error: {internal_error(exc)}", file=sys.stderr)
        return 2


def _subcommand(args: list[str]) -> Optional[str]:
    """``rules`` or ``explain`` as the first word that is not an option (``nnlint --format json
    rules``); a file or folder of that name in the current folder is a path to lint instead."""
    for i, arg in enumerate(args):
        if arg.startswith("-"):
            continue
        if i and args[i - 1] in _VALUED and "=" not in args[i - 1]:
            continue  # the value of an option (--format json)
        return arg if arg in ("rules", "explain", "review", "clean") and not os.path.exists(arg) else None
    return None


#: Options of the lint command that take a value.
_VALUED = {"--cache-dir", "--repo", "--pr", "--api-url", "--token", "--max-comments", "--comment-author", "--diff-base", "--diff", "--format", "--stdin-filename", "--output-file", "-o", "--select", "--ignore", "--config", "--fail-on", "--task", "--jobs", "-j", "--device",
           "--sample", "--report", "--trace-memory"}


def _check(argv: list[str], keep: Optional[list], review: bool = False) -> int:
    """The lint command, or with ``review`` the ``nnlint review`` command: the same lint, kept to
    the pull request's added lines, then posted (:mod:`nnlint.review`)."""
    from nnlint import config, engine

    args = (_review_parser() if review else _parser()).parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    pull = None
    if review:
        from nnlint import review as reviewing

        pull = reviewing.pull_request(args)
    changes = _changes(args)
    if pull is not None and changes is None:
        changes = pull.changes()
    if changes is not None and not args.paths and args.stdin_filename is None:
        paths = _changed_paths(changes, args.quiet)
    else:
        paths = default_paths(args.paths, args.stdin_filename, _interactive())
    if not paths:
        return 0  # pre-commit with nothing staged, an empty file list, or a script that named nothing
    if args.statistics and args.format not in ("text", "json"):
        raise ConfigError(f"--statistics is written as text or json, not {args.format}")
    stdin = _standard_input(paths, args.stdin_filename)
    if stdin is not None:
        paths = [stdin[0]]
    settings = config.load(args.config, paths[0])
    if args.fail_on:
        settings.fail_on = args.fail_on
    if args.task:
        settings.task = args.task
    checks = engine.selected_checks(settings, _split(args.select), _split(args.ignore))
    tracing = args.trace or args.trace_import or args.report is not None
    if not tracing and (args.device or args.sample or args.hide_refuted or args.trace_memory):
        raise ConfigError("--device, --sample, --trace-memory and --hide-refuted need --trace")
    memory = _memory(args.trace_memory)
    out = _output(args.output_file)
    try:
        with files.standard_input(Path(stdin[0]), stdin[1]) if stdin is not None else nullcontext():
            return _lint(args, paths, settings, checks, tracing, memory, out, keep, changes, pull)
    finally:
        if out is not sys.stdout:
            out.close()


def _changes(args: argparse.Namespace):
    """The change whose added lines alone are reported (``--diff-base``, ``--diff``), or None."""
    if args.diff_base is not None and args.diff is not None:
        raise ConfigError("--diff-base and --diff both name the change: give one")
    if args.diff == "-" and ("-" in args.paths or args.stdin_filename is not None):
        raise ConfigError("--diff - and '-' both read standard input: give the diff as a file")
    if args.diff is None and args.diff_base is None:
        return None
    from nnlint import changes

    return changes.read(args.diff) if args.diff is not None else changes.from_git(args.diff_base)


def _changed_paths(changes, quiet: bool) -> list[str]:
    """The changed files nnlint lints (by kind, as a folder walk picks them)."""
    from nnlint.discovery import SUFFIXES

    paths = [p for p in changes.paths() if Path(p).suffix.lower() in SUFFIXES]
    if not paths and not quiet:
        print("nnlint: the change leaves no Python, notebook or ONNX file to lint", file=sys.stderr)
    return paths


def default_paths(paths: list[str], stdin_filename: Optional[str], interactive: bool) -> list[str]:
    """The paths to lint. As ruff does, ``--stdin-filename`` alone reads standard input, and no
    path at all lints the current folder when a person runs nnlint at a terminal
    (``interactive``: standard input and output are terminals). Otherwise no path lints
    nothing: pre-commit with nothing staged runs the hook without files (and with standard
    input on /dev/null), and a script that named nothing gets no surprise run."""
    if paths:
        return paths
    if stdin_filename is not None:
        return ["-"]
    return ["."] if interactive else []


def _interactive() -> bool:
    """Whether a person runs nnlint at a terminal: standard input and output both terminals
    (pre-commit gives a hook /dev/null as input, even when its output is a pseudo-terminal)."""
    try:
        return sys.stdin is not None and sys.stdout is not None and sys.stdin.isatty() and sys.stdout.isatty()
    except (OSError, ValueError):  # a closed stream
        return False


def _standard_input(paths: list[str], name: Optional[str]) -> Optional[tuple[str, bytes]]:
    """The name and bytes of the code read from standard input, when the path is ``-``. At most
    one byte over the source size cap is read: the engine refuses the rest as it does a file."""
    if "-" not in paths:
        if name is not None:
            raise ConfigError("--stdin-filename names the code read from standard input: give '-' as the path")
        return None
    if len(paths) > 1:
        raise ConfigError("'-' (standard input) is linted alone, without other paths")
    name = name if name is not None else "-"
    if name.lower().endswith(".onnx"):
        raise ConfigError(f"--stdin-filename {name}: ONNX models are not read from standard input; name the file")
    if not name.strip() or name.endswith(("/", os.sep)) or os.path.isdir(name):
        raise ConfigError(f"--stdin-filename {name!r}: a file name is needed")
    if sys.stdin is None:
        raise ConfigError("'-': there is no standard input to read")
    from nnlint.source import MAX_BYTES

    try:
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"'-': cannot read standard input ({getattr(exc, 'strerror', None) or exc})") from None
    return name, data


def _output(path: Optional[str]) -> TextIO:
    """Where the report goes: ``--output-file`` (opened before the lint, so a path that cannot be
    written costs no run; its missing folders are created, as ruff does), else standard output."""
    if path is None:
        return sys.stdout
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")
    except FileExistsError:  # mkdir met a file where a folder must be
        raise ConfigError(f"--output-file {path}: cannot write it (a file stands where a folder is needed)") from None
    except OSError as exc:
        raise ConfigError(f"--output-file {path}: cannot write it ({exc.strerror or exc})") from None


def _lint(args: argparse.Namespace, paths: list[str], settings, checks, tracing: bool, memory: Optional[int],
          out: TextIO, keep: Optional[list], changes=None, pull=None) -> int:
    from nnlint import engine
    from nnlint.report import REPORTERS, run_errors, statistics

    # The automatic cyclic collector would rescan millions of live objects (the modules kept for
    # later importers) again and again: 15-20% of the run, superlinear on big graphs. The engine
    # collects what each file's analysis left, once the file is done (engine._collect).
    gc.disable()
    subjects: Optional[dict] = {} if tracing else None
    notes: list[str] = []
    cache = None if tracing or pull is not None else _cache(args, paths, settings, checks, notes)
    result = engine.lint(paths, settings, checks, args.jobs, args.report_unused_suppressions, subjects, keep, cache)
    result.notes[:0] = notes
    if changes is not None:
        result.findings = [f for f in result.findings if changes.keeps(f)]
    if tracing:
        try:
            _trace(result, subjects, args, settings, memory)
        except ConfigError:
            raise
        except Exception as exc:  # the lint's findings stand without their verdicts
            result.errors.append(internal_error(exc, "in --trace (the findings are shown untraced)"))
    if pull is not None:
        from nnlint import review

        review.post(result, changes, pull, args)
    if not args.quiet:
        for note in result.notes:
            print(f"nnlint: warning: {note}", file=sys.stderr)
    color = out is sys.stdout and not args.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    try:
        if args.statistics:
            statistics.write(result, out, args.format, summary=not args.quiet)
        elif args.quiet and args.format == "text":
            REPORTERS[args.format](result, out, color=color, summary=False)
        else:
            REPORTERS[args.format](result, out, color=color)
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the findings still reach the log, one plain line each
        _plain(result, out)
        result.errors.append(internal_error(exc, f"in the {args.format} report (the findings are listed plainly)"))
    for error in run_errors.unreported(result):
        print(f"nnlint: error: {error}", file=sys.stderr)
    if result.errors:
        return 2
    if args.exit_zero:
        return 0
    threshold = _RANK[settings.fail_on]
    return 1 if any(f.severity.rank >= threshold for f in result.findings) else 0


def _cache(args: argparse.Namespace, paths: list[str], settings, checks, notes: list[str]):
    """The run's cache (:mod:`nnlint.cache`), or None: asked not to, standard input, or none can be had."""
    if args.no_cache or os.environ.get("NNLINT_NO_CACHE", "") not in ("", "0") or files.is_standard_input(Path(paths[0])):
        return None
    from nnlint import cache

    root = files.project_root(Path(os.path.abspath(paths[0])))
    folder = Path(args.cache_dir) if args.cache_dir is not None else None
    return cache.open_cache(root, folder, settings, [c.code for c in checks], notes)


def _clean(argv: list[str]) -> int:
    from nnlint import cache

    parser = argparse.ArgumentParser(prog="nnlint clean",
                                     description=f"Remove the caches ({cache.FOLDER}) at and under these folders.")
    parser.add_argument("folders", nargs="*", metavar="FOLDER", default=["."], help="default: the current folder")
    args = parser.parse_args(argv)
    for removed in cache.clean(args.folders):
        print(f"removed {removed}", file=sys.stderr)
    return 0


def _plain(result, out: TextIO) -> None:
    """The findings as ``path:line:column: CODE [severity] message``, for a reporter that failed."""
    for f in result.findings:
        where = ":".join(str(n) for n in (f.line, f.column) if n is not None)
        out.write(f"{f.path}{':' + where if where else ''}: {f.code} [{f.severity.value}] {f.message}\n")


def _memory(text: Optional[str]) -> Optional[int]:
    """``--trace-memory`` in bytes (None: the default)."""
    if text is None:
        return None
    from nnlint.trace.budget import parse_size  # free of torch

    try:
        return parse_size(text)
    except ValueError as exc:
        raise ConfigError(f"--trace-memory: {exc}") from None


def _trace(result, subjects: dict, args: argparse.Namespace, settings, memory: Optional[int]) -> None:
    """Confirm the findings in place; write the HTML report when asked. torch is imported only
    when something will be measured: a finding of a check that has a confirmation, a report,
    or an option that needs torch to be checked (``--device``, ``--sample``)."""
    if not (args.report or args.device or args.sample or args.trace_import) and not _traceable(result.findings):
        result.findings = _unmeasured(result.findings)
        return
    try:
        from nnlint.trace.run import TraceError, TraceOptions, trace_findings
    except ImportError as exc:
        raise ConfigError(f"--trace needs torch ({exc.name} is missing): pip install 'nnlint[trace]'") from None
    options = TraceOptions(device=args.device, sample=Path(args.sample) if args.sample else None,
                           hide_refuted=args.hide_refuted, import_code=args.trace_import,
                           report=args.report is not None, settings=settings.trace, config_root=settings.root,
                           **({"memory": memory} if memory is not None else {}))
    try:
        result.findings, traces = trace_findings(result.findings, subjects, options)
    except TraceError as exc:
        raise ConfigError(str(exc)) from None
    if args.report:
        from nnlint.report.html import render

        try:
            Path(args.report).write_text(render(traces), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--report {args.report}: cannot write it ({exc.strerror or exc})") from None


def _traceable(findings) -> bool:
    from nnlint import registry

    return any(getattr(registry.lookup(f.code), "traceable", False) for f in findings)


def _unmeasured(findings) -> list:
    """The verdicts of a trace that has nothing to measure: each finding of a check without a
    confirmation says so (an engine finding, such as a syntax error, has no verdict)."""
    from nnlint import registry
    from nnlint.trace.verdict import unconfirmable  # free of torch

    return [f if (check := registry.lookup(f.code)) is None
            else f.replace(trace=unconfirmable(check).as_json(None)) for f in findings]


def _rules(argv: list[str]) -> int:
    from nnlint import registry

    parser = argparse.ArgumentParser(prog="nnlint rules", description="List the rules.")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--no-color", action="store_true", help="accepted for symmetry; the table has no colour")
    args = parser.parse_args(argv)
    rows = [
        {"code": c.code, "name": c.name, "severity": c.severity.value, "frameworks": list(c.frameworks),
         "traceable": c.traceable}
        for c in registry.all_checks()
    ]
    if args.format == "json":
        import json

        print(json.dumps(rows, indent=2))
        return 0
    header = ("CODE", "NAME", "SEVERITY", "FRAMEWORKS", "TRACE")
    table = [header] + [
        (r["code"], r["name"], r["severity"], ",".join(r["frameworks"]), "yes" if r["traceable"] else "no") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _explain(argv: list[str]) -> int:
    from nnlint import registry

    parser = argparse.ArgumentParser(prog="nnlint explain", description="Show a rule's documentation.")
    parser.add_argument("rule", metavar="CODE|SLUG", nargs="?")
    parser.add_argument("--all", action="store_true",
                        help="every rule's documentation, as one Markdown catalogue (docs/pitfalls.md)")
    parser.add_argument("--no-color", action="store_true", help="accepted for symmetry; the text has no colour")
    args = parser.parse_args(argv)
    if args.all == (args.rule is not None):
        parser.error("give one rule, or --all")
    if args.all:
        print(catalogue(), end="")
        return 0
    check = registry.lookup(args.rule)
    if check is None:
        from nnlint.engine import ENGINE_CODES

        for (code, name), text in ENGINE_CODES.items():
            if args.rule.upper() == code or args.rule.lower() == name:
                print(f"# {name} ({code})\n\nReported by the engine about the input itself, not a pitfall.\n\n{text}")
                return 0
        print(f"nnlint: error: unknown rule '{args.rule}' (see `nnlint rules`)", file=sys.stderr)
        return 2
    print(_rule_text(check))
    return 0


def _rule_text(check, level: str = "#") -> str:
    return (f"{level} {check.name} ({check.code})\n\nSeverity: {check.severity.value}. Frameworks: "
            f"{', '.join(check.frameworks)}.\n\n{check.documentation()}")


def catalogue() -> str:
    """The pitfall catalogue: every rule's documentation, in code order, one Markdown file.
    ``docs/pitfalls.md`` is this text (a test keeps them equal)."""
    from nnlint import registry

    parts = ["# The pitfall catalogue\n\nEvery rule nnlint checks, as `nnlint explain` documents it: what it "
             "finds, why it harms training, an example, what to write instead, and where its thresholds come "
             "from. Generated by `nnlint explain --all`.\n"]
    for check in registry.all_checks():
        text = _rule_text(check, "##").replace("\n## ", "\n### ")
        parts.append(text.rstrip() + "\n")
    return "\n".join(parts)
