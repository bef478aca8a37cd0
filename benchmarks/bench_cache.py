"""Benchmark of nnlint's cache (.nnlint_cache): a whole repository cold and warm, and one file
in it, as pre-commit lints it.

The repository is copied to a temporary folder first (its ``.git`` left out, an empty one put
in its place so the project root is the same), so neither the cache nor the edits touch it,
and the signing key lives in a temporary ``XDG_CACHE_HOME``. Every measurement is a whole
process; the commands of one comparison run interleaved, round after round, after one
warm-up, and medians are compared, so read the ratios, not the times.

Whole repository (``nnlint .``):
  cold        no cache (``--no-cache``)
  filling     an empty cache (``nnlint clean`` first): the cold run plus writing the entries
  warm        every file unchanged since the run before
  one edit    one file edited (``--file``, else the first file found): it and the files that
              import it are linted again, the others come from the cache
One file (``nnlint FILE``, with ``--file``), against a bare ``import libcst`` and parse of it:
  cold        no cache
  warm        unchanged since the run before
  edited      the file edited since the run before (a pre-commit run on a staged change)

Bars (issue 15): warm at least 5x faster than cold on the whole repository; one file in a
large repository with a warm cache at most 1.2x the bare import and parse.

Usage (with the project's venv):
    .venv/bin/python benchmarks/bench_cache.py --repo PATH/TO/pytorch-image-models --file train.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = "import libcst, sys; libcst.parse_module(open(sys.argv[1], encoding='utf-8').read())"
MISSING = """\
Benchmark input not found: {path}
Give a local copy of a large Python repository, e.g. a clone of
https://github.com/huggingface/pytorch-image-models (timm), and a file in it:
    python benchmarks/bench_cache.py --repo pytorch-image-models --file train.py
"""


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, int, bytes]:
    """Seconds, exit code and standard output (kept in a file: the time is the process's)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL).returncode
        seconds = time.perf_counter() - start
        out.seek(0)
        return seconds, rc, out.read()


def rounds(steps: dict, runs: int, cwd: Path, env: dict, same: tuple = ()) -> dict[str, list[float]]:
    """Run ``steps`` (name -> (prepare or None, command)) in order, ``runs`` times after a
    warm-up round; the seconds of each. The steps named in ``same`` must print the same
    findings in every round (the cache gives what a fresh run gives)."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(runs + 1):
        printed = {}
        for name, (prepare, cmd) in steps.items():
            if prepare is not None:
                prepare(round_)
            seconds, rc, printed[name] = timed(cmd, cwd, env)
            if rc not in (0, 1):
                sys.exit(f"{' '.join(cmd)} exited {rc}")
            if round_:
                times[name].append(seconds)
        equal = {name: json.loads(printed[name])["findings"] == json.loads(printed[same[0]])["findings"]
                 for name in same}
        print(f"  round {round_}{' (warm-up)' if not round_ else ''}: done"
              + (f"; findings equal to {same[0]}'s: {equal}" if same else ""), file=sys.stderr)
    return times


def show(times: dict[str, list[float]], base: str) -> None:
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        ratio = medians[base] / median if name != base else 1.0
        print(f"  {name:12s} median {median:7.2f} s  ({len(times[name])} runs: "
              f"{', '.join(f'{t:.2f}' for t in times[name])})  {base}/this = {ratio:.2f}x")


def copy_repository(repo: Path, into: Path) -> Path:
    target = into / repo.name
    shutil.copytree(repo, target, symlinks=True, ignore=shutil.ignore_patterns(".git", ".nnlint_cache"))
    if (repo / ".git").exists():
        (target / ".git").mkdir()
    return target


def edit(path: Path):
    """A step that changes ``path`` (a comment at its end, another each round)."""
    original = path.read_bytes()

    def prepare(round_: int) -> None:
        path.write_bytes(original + f"\n# edited for the benchmark, round {round_} {time.time_ns()}\n".encode())

    return prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="a repository (folder) to lint whole")
    parser.add_argument("--file", metavar="REL", help="a file in it, relative to it: the one-file runs and the edit")
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")),
                        help="the nnlint executable (default: the one beside this python)")
    parser.add_argument("--runs", type=int, default=3, help="measured rounds of the whole-repository runs")
    parser.add_argument("--file-runs", type=int, default=5, help="measured rounds of the one-file runs")
    parser.add_argument("--skip-whole", action="store_true", help="only the one-file runs")
    parser.add_argument("--jobs", "-j", type=int, help="passed to nnlint")
    args = parser.parse_args()
    repo = Path(args.repo)
    if not repo.is_dir():
        sys.exit(MISSING.format(path=repo))
    if args.file is not None and not (repo / args.file).is_file():
        sys.exit(MISSING.format(path=repo / args.file))
    if not Path(args.nnlint).exists():
        sys.exit(f"nnlint not found at {args.nnlint}: give --nnlint")
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as scratch:
        work = copy_repository(repo, Path(scratch))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "NNLINT_NO_CACHE")}
        env.update(NO_COLOR="1", XDG_CACHE_HOME=str(Path(scratch) / "xdg"))
        nnlint = [args.nnlint, "-q", "--format", "json"] + (["-j", str(args.jobs)] if args.jobs else [])
        clean = lambda _: subprocess.run([args.nnlint, "clean"], cwd=work, env=env, capture_output=True)  # noqa: E731
        edited = args.file or next(str(p.relative_to(work)) for p in sorted(work.rglob("*.py")))
        files = sum(1 for _ in work.rglob("*.py"))
        print(f"{repo} ({files} .py files), copied to {work}; edited file: {edited}")

        if not args.skip_whole:
            print("whole repository: nnlint .")
            times = rounds({
                "cold": (None, nnlint + ["--no-cache", "."]),
                "filling": (clean, nnlint + ["."]),
                "warm": (None, nnlint + ["."]),
                "one edit": (edit(work / edited), nnlint + ["."]),
            }, args.runs, work, env, same=("cold", "filling", "warm"))
            show(times, "cold")

        if args.file is not None:
            print(f"one file: nnlint {args.file}")
            times = rounds({
                "import+parse": (None, [python, "-c", BASELINE, args.file]),
                "cold": (None, nnlint + ["--no-cache", args.file]),
                "warm": (None, nnlint + [args.file]),
                "edited": (edit(work / args.file), nnlint + [args.file]),
            }, args.file_runs, work, env)  # the baseline prints nothing to compare
            show(times, "import+parse")
            base = statistics.median(times["import+parse"])
            for name in ("cold", "warm", "edited"):
                print(f"  {name}/import+parse = {statistics.median(times[name]) / base:.2f}x")


if __name__ == "__main__":
    main()
