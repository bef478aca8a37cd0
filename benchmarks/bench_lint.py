"""Speed benchmark for nnlint: cold start on one file, throughput on a folder.

nnlint is meant to run from pre-commit on every commit, so its latency is
felt all the time. This script measures two things in one run:

(a) Cold start: ``nnlint FILE`` on one ~300-line training script versus a
    bare ``python -c "import libcst; libcst.parse_module(...)" FILE`` under
    the same interpreter. The baseline is the floor any libcst-based linter
    pays (interpreter start, libcst import, one parse); nnlint should stay
    within 1.5x of it.
(b) Throughput: ``nnlint FOLDER`` over a folder of real training code versus
    Fixit 2 with its built-in rules (``fixit --rules fixit.rules lint``),
    another libcst-based linter: nnlint should be at least 2x faster; and,
    with ``--flake8``, versus flake8 with its default checks on the same
    folder (a whole repository: nnlint should be at least as fast, cold).

Runs are interleaved after one warm-up each; medians of wall time are
reported. Both tools exit nonzero when they find problems, which is fine;
their exit codes are printed, and codes other than 0/1 are flagged.
This script uses the standard library only and does not import nnlint.

Usage (with the project's venv, so ``nnlint`` is found next to python):
    .venv/bin/python benchmarks/bench_lint.py --file TRAIN.py --folder FOLDER --fixit FIXIT_PYTHON \
        [--flake8 FLAKE8_PYTHON]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASELINE = "import libcst, sys; libcst.parse_module(open(sys.argv[1], encoding='utf-8').read())"
# Installed packages run from .pyc files (pip compiles wheels; Python caches other imports).
# A PYTHONDONTWRITEBYTECODE=1 inherited from a sandbox would make an editable nnlint recompile
# its sources on every start while libcst's bytecode was written at install time: drop it so
# both tools run as users run them. The warm-up run writes the caches.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["NO_COLOR"] = "1"
ENV["NNLINT_NO_CACHE"] = "1"  # cold runs: what a first run or a changed file costs (bench_cache.py times the cache)

CORPUS_HELP = """\
Benchmark input not found: {path}
Get real training code first, e.g. clone https://github.com/karpathy/nanoGPT
and https://github.com/pytorch/examples somewhere, then run:
    python benchmarks/bench_lint.py --file nanoGPT/train.py --folder examples
"""


def interpreter_of(script):
    """The python a console script runs under (its shebang), else ours."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode("utf-8", "replace")
    except OSError:
        return sys.executable
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and Path(parts[0]).name.startswith("python") and Path(parts[0]).exists():
            return parts[0]
    return sys.executable


def timed(cmd):
    start = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV).returncode
    return time.perf_counter() - start, rc


def bench(cmds, runs):
    """Warm each command up once, then run them interleaved ``runs`` times.

    Returns {name: (median seconds, sorted set of exit codes)}.
    """
    times = {name: [] for name in cmds}
    codes = {name: set() for name in cmds}
    for name, cmd in cmds.items():
        codes[name].add(timed(cmd)[1])
    for _ in range(runs):
        for name, cmd in cmds.items():
            seconds, rc = timed(cmd)
            times[name].append(seconds)
            codes[name].add(rc)
    return {name: (statistics.median(times[name]), sorted(codes[name])) for name in cmds}


def report(name, cmd, seconds, codes, extra=""):
    flag = "" if set(codes) <= {0, 1} else "   <-- unexpected exit code, run it by hand: " + " ".join(cmd)
    print(f"  {name:<9} {seconds * 1000:9.1f} ms{extra}   exit codes {codes}{flag}")


def count_python(folder):
    files = sorted(p for p in Path(folder).rglob("*.py") if p.is_file())
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    return len(files), lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")),
                        help="nnlint executable (default: next to this python)")
    parser.add_argument("--fixit", required=True, help="python with fixit installed (python -m venv V && V/bin/pip install fixit)")
    parser.add_argument("--file", required=True, help="one training script for the cold-start test")
    parser.add_argument("--folder", required=True, help="folder of training code for the throughput test")
    parser.add_argument("--runs", type=int, default=10, help="cold-start runs per command (default 10)")
    parser.add_argument("--folder-runs", type=int, default=3, help="throughput runs per command (default 3)")
    parser.add_argument("--flake8", metavar="PYTHON", help="a python with flake8 installed: the folder against it too")
    args = parser.parse_args()

    for path in (args.file, args.folder):
        if not Path(path).exists():
            print(CORPUS_HELP.format(path=path), file=sys.stderr)
            return 2
    for exe, hint in ((args.nnlint, "pip install -e . in the project venv, or pass --nnlint"),
                      (args.fixit, "python3 -m venv V && V/bin/pip install fixit, then pass --fixit V/bin/python"),
                      (args.flake8, "python3 -m venv F && F/bin/pip install flake8, then pass --flake8 F/bin/python")):
        if exe is not None and not os.access(exe, os.X_OK):
            print(f"Not found or not executable: {exe}\n({hint})", file=sys.stderr)
            return 2

    python = interpreter_of(args.nnlint)
    with open(args.file, "rb") as f:
        file_lines = f.read().count(b"\n")
    print(f"(a) cold start on {args.file} ({file_lines} lines), median of {args.runs} runs")
    cmds = {"nnlint": [args.nnlint, args.file], "baseline": [python, "-c", BASELINE, args.file]}
    res = bench(cmds, args.runs)
    for name in cmds:
        report(name, cmds[name], *res[name])
    ratio = res["nnlint"][0] / res["baseline"][0]
    print(f"  ratio nnlint/baseline = {ratio:.2f}x   (goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")
    print(f"  baseline python: {python}")

    n_files, n_lines = count_python(args.folder)
    print(f"\n(b) throughput on {args.folder} ({n_files} .py files, {n_lines} lines), median of {args.folder_runs} runs")
    cmds = {"nnlint": [args.nnlint, args.folder],
            "fixit": [args.fixit, "-m", "fixit", "--rules", "fixit.rules", "lint", args.folder]}
    if args.flake8:
        cmds["flake8"] = [args.flake8, "-m", "flake8", args.folder]
    res = bench(cmds, args.folder_runs)
    for name in cmds:
        seconds = res[name][0]
        report(name, cmds[name], *res[name], extra=f" {n_lines / seconds:10.0f} lines/s")
    ratio = res["fixit"][0] / res["nnlint"][0]
    print(f"  ratio fixit/nnlint = {ratio:.2f}x   (goal >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    if args.flake8:
        ratio = res["nnlint"][0] / res["flake8"][0]
        print(f"  ratio nnlint/flake8 = {ratio:.2f}x   (goal <= 1x: {'met' if ratio <= 1 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
