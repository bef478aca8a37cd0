"""Speed benchmark for nnlint: one file inside a large package repository, cold.

pre-commit runs nnlint on the staged files only, inside the repository they belong to. A
training script there imports the package (``from timm.models import create_model``), and
nnlint follows those imports to join the model, the loss and the optimizer to the training
loop. This measures what that costs: ``nnlint FILE`` run from the repository's root against a
bare ``python -c "import libcst; libcst.parse_module(...)"`` of the same file under the same
interpreter (the floor of any libcst-based linter: interpreter start, libcst import, one
parse). The bar is at most 2x.

Whole-process runs, interleaved after one warm-up each (so a loaded machine slows both alike),
medians of wall time and of each process's peak memory (RSS). With ``--compare OTHER_NNLINT``
a second nnlint (an older version's venv) runs in the same rounds, so the two ratios come from
the same run. Standard library only; it does not import nnlint.

Usage (with the project's venv, so ``nnlint`` is found next to python), e.g. on timm:
    git clone https://github.com/huggingface/pytorch-image-models timm-repo
    .venv/bin/python benchmarks/bench_one_file.py --repo timm-repo --file train.py
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lint import interpreter_of  # noqa: E402  (the python nnlint's script runs under)

BASELINE = "import libcst, sys; libcst.parse_module(open(sys.argv[1], encoding='utf-8').read())"
# As in bench_lint.py: run from bytecode caches, as an installed package does.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["NO_COLOR"] = "1"
ENV["NNLINT_NO_CACHE"] = "1"  # cold runs: what a first run or a changed file costs (bench_cache.py times the cache)
BAR = 2.0


def timed(cmd: list[str], cwd: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", help="the repository's root folder (nnlint runs from there)")
    parser.add_argument("--file", help="the file to lint, relative to --repo (e.g. train.py)")
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")),
                        help="nnlint executable (default: next to this python)")
    parser.add_argument("--compare", help="another nnlint executable to run in the same rounds (an older version)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    if not args.repo or not args.file:
        parser.print_usage(sys.stderr)
        print("Both --repo DIR and --file REL are needed: a fetched copy of a large package repository and a "
              "training script inside it, e.g. --repo pytorch-image-models --file train.py (there is no default).",
              file=sys.stderr)
        return 2
    path = Path(args.repo, args.file)
    if not path.is_file():
        print(f"Not a file: {path}", file=sys.stderr)
        return 2
    tools = {"nnlint": args.nnlint, **({"compared": args.compare} if args.compare else {})}
    for name, exe in tools.items():
        if not os.access(exe, os.X_OK):
            print(f"Not found or not executable: {exe} (pip install -e . in the project venv, or pass --{name})",
                  file=sys.stderr)
            return 2

    python = interpreter_of(args.nnlint)
    cmds = {name: [exe, args.file] for name, exe in tools.items()}
    cmds["baseline"] = [python, "-c", BASELINE, args.file]
    lines = path.read_bytes().count(b"\n")
    print(f"{args.file} in {args.repo} ({lines} lines), cold, median of {args.runs} interleaved runs")
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    for name, cmd in cmds.items():
        timed(cmd, args.repo)  # warm-up: bytecode caches, the page cache
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            results[name].append(timed(cmd, args.repo))
    medians = {}
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[1] for r in runs)
        codes = sorted({r[2] for r in runs})
        medians[name] = seconds
        flag = "" if set(codes) <= {0, 1} else "   <-- unexpected exit code, run it by hand: " + " ".join(cmds[name])
        print(f"  {name:<9} {seconds * 1000:9.1f} ms  {peak:7.1f} MiB peak   exit codes {codes}{flag}")
    for name in tools:
        ratio = medians[name] / medians["baseline"]
        print(f"  ratio {name}/baseline = {ratio:.2f}x   (bar <= {BAR:g}x: {'met' if ratio <= BAR else 'NOT met'})")
    print(f"  baseline python: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
