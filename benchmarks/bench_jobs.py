"""How nnlint's time grows with the number of files, and whether its worker pool pays.

For 1, 10, 100 and 1000 Python files (taken in path order from the folders given; fewer when
they hold fewer), it times ``nnlint FILES`` as users run it (the default: one process per
core from 8 files up) against ``nnlint -j1 FILES`` in the same run, interleaved, and prints
the ratio: the pool must never be slower than one process (a ratio above 1.0 is flagged).
With ``--flake8 PYTHON`` (a python with flake8 installed) flake8 runs on the same files too.

Usage (with the project's venv, so ``nnlint`` is found next to python):
    .venv/bin/python benchmarks/bench_jobs.py --folder CORPUS [--folder MORE] [--flake8 PY]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lint import bench, report  # noqa: E402  (the shared timing helpers)

COUNTS = (1, 10, 100, 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", action="append", required=True, help="a folder of Python code (repeatable)")
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")))
    parser.add_argument("--flake8", metavar="PYTHON", help="a python with flake8 installed, to compare")
    parser.add_argument("--runs", type=int, default=3, help="runs per command and count (default 3)")
    args = parser.parse_args()
    missing = [f for f in args.folder if not Path(f).is_dir()]
    if missing:
        sys.exit(f"not a folder: {', '.join(missing)} (give folders of Python code, e.g. clones of public "
                 "training repositories)")
    files = sorted(str(p) for folder in args.folder for p in Path(folder).rglob("*.py") if p.is_file())
    print(f"{len(files)} Python files under {', '.join(args.folder)}")
    for count in COUNTS:
        chosen = files[:count]
        if not chosen or (count > len(files) and count != COUNTS[0] and len(files) < count // 2):
            print(f"\n{count} files: skipped (only {len(files)})")
            continue
        cmds = {"default": [args.nnlint, "--no-color", *chosen], "-j1": [args.nnlint, "--no-color", "-j1", *chosen]}
        if args.flake8:
            cmds["flake8"] = [args.flake8, "-m", "flake8", "--exit-zero", *chosen]
        results = bench(cmds, args.runs)
        print(f"\n{len(chosen)} files:")
        base = results["-j1"][0]
        for name, (seconds, codes) in results.items():
            ratio = seconds / base
            flag = "   <-- the pool is slower than one process" if name == "default" and ratio > 1.05 else ""
            report(name, cmds[name], seconds, codes, f"  ({ratio:.2f}x -j1){flag}")


if __name__ == "__main__":
    main()
