"""Precision and recall of nnlint on code nobody on the team wrote.

Two manifests in ``benchmarks/eval/`` name public programs by repository and commit; the
programs themselves are never committed, only the manifests and the team's verdicts:

- ``correct.toml``: correct public repositories (tutorials, courses, research code, Keras and
  TensorFlow). Every warning and error nnlint raises there is judged in ``ledger.csv``
  (true, false or debatable, with a one-line reason). Precision per repository is the share
  of judged findings that are true; the known false alarms still raised are listed, and so
  are findings the ledger does not know, to be judged before a change lands.
- ``faults.toml``: real faulty programs from fault benchmarks and Q&A threads, each labelled
  with its pitfalls and lines, with the fixed version where one exists. Recall per pitfall is
  the share of programs where nnlint reports that rule (anywhere in the program, and on a
  labelled line); the fixed versions must stay free of the labelled rules.

The programs come from a local folder of snapshots (``--snapshots``): a repository
``owner/name`` at ``SNAPSHOTS/owner+name/repo`` (a git directory, as the team's fetch tool
leaves it), ``SNAPSHOTS/owner+name/.git`` or a bare ``SNAPSHOTS/owner+name``; code taken
from a Q&A page at ``SNAPSHOTS/<file>`` as the manifest names it, checked against its sha256.
Each repository is extracted at its commit into ``--work`` (reused while the commit is the
same) and linted there, so finding paths are relative to the repository root, as in the
ledger. Each faulty program is linted alone, in a folder of its own, so no two are joined
into one project.

Usage:
    python benchmarks/eval_real.py --snapshots DIR [--work DIR] [--nnlint PATH]
        [--only correct|faults] [--faults FILE] [--repo OWNER/NAME ...] [--json OUT]
        [--unjudged-limit N]

This script uses the standard library only and does not import nnlint: ``--nnlint`` picks the
command (default: the ``nnlint`` beside this interpreter), so two installs (before and after
a change) can be compared on the same snapshots.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

EVAL = Path(__file__).resolve().parent / "eval"
JUDGED = ("true", "false", "debatable")
REPORTED = ("warning", "error")  # infos are advice: the ledger judges what fails a run
NEAR = 2  # a finding this many lines from a labelled line is on it (statements span lines)
STAMP = ".eval-commit"
LINTED = (".py", ".ipynb", ".onnx")
CORE = {"NN001", "NN002", "NN003", "NN004", "NN005", "NN006", "NN007"}  # the pitfalls --trace measures first
TRACE: list[str] = []  # ["--trace"] with --trace: every lint also measures its findings
SETTINGS = {"pyproject.toml", ".gitignore"}


class Missing(Exception):
    """A program's snapshot is not in the snapshots folder (or not at the manifest's commit)."""


def git_dir(snapshots: Path, repo: str) -> Path:
    base = snapshots / repo.replace("/", "+")
    for candidate in (base / "repo", base / "repo" / ".git", base / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    raise Missing(f"{repo}: no snapshot at {base} (fetch it first)")


def git(gdir: Path, *args: str, text: bool = True) -> str | bytes:
    done = subprocess.run(["git", f"--git-dir={gdir}", *args], capture_output=True, text=text)
    if done.returncode:
        err = done.stderr if text else done.stderr.decode("utf-8", "replace")
        raise Missing(f"{gdir}: git {' '.join(args[:2])}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    return done.stdout


def extract(snapshots: Path, work: Path, repo: str, commit: str) -> Path:
    """The repository's tree at ``commit`` under ``work``; reused while the commit matches."""
    dest = work / f"{repo.replace('/', '+')}@{commit[:12]}"
    stamp = dest / STAMP
    if stamp.is_file() and stamp.read_text().strip() == commit:
        return dest
    gdir = git_dir(snapshots, repo)
    git(gdir, "cat-file", "-e", f"{commit}^{{commit}}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # Only what nnlint reads, blob by blob: snapshots lack their largest files, so ``git
    # archive`` would stop at the first one; symbolic links are left out.
    listing = git(gdir, "ls-tree", "-r", "-z", commit).split("\0")
    wanted = {}
    for entry in filter(None, listing):
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000" and (path.endswith(LINTED) or Path(path).name in SETTINGS):
            wanted.setdefault(sha, []).append(path)
    batch = subprocess.run(["git", f"--git-dir={gdir}", "cat-file", "--batch"], capture_output=True,
                           input="".join(f"{sha}\n" for sha in wanted).encode())
    out, at = batch.stdout, 0
    for sha in wanted:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        at = header_end + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        for path in wanted[sha]:
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(out[at:at + size])
        at += size + 1
    (dest / ".git").touch()  # the repository's root, as in a clone: imports are followed up to it
    stamp.write_text(commit + "\n")
    return dest


def lint(nnlint: list[str], cwd: Path, paths: list[str]) -> dict:
    done = subprocess.run([*nnlint, "--format", "json", "--no-color", *TRACE, *paths], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    try:
        return json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"findings": [], "summary": {"errors": [f"nnlint exited {done.returncode}: {tail[0]}"]}}


# --- correct code ------------------------------------------------------------------------


def load_ledger() -> dict[tuple[str, str, int, str], tuple[str, str]]:
    ledger = {}
    path = EVAL / "ledger.csv"
    if not path.exists():
        return ledger
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["repo"], row["path"], int(row["line"] or 0), row["code"])
            if row["verdict"] not in JUDGED:
                sys.exit(f"ledger.csv: {key}: verdict must be one of {', '.join(JUDGED)}, not {row['verdict']!r}")
            ledger[key] = (row["verdict"], row["reason"])
    return ledger


def finding_key(repo: str, f: dict) -> tuple[str, str, int, str]:
    path = f["path"][2:] if f["path"].startswith("./") else f["path"]
    return repo, path, f["line"] or 0, f["code"]


def evaluate_correct(args, nnlint: list[str], repos: list[dict]) -> dict:
    ledger = load_ledger()
    rows, unjudged, gone, problems, false_alarms = [], [], [], [], []
    seen: set = set()

    def one(entry: dict):
        try:
            root = extract(args.snapshots, args.work, entry["name"], entry["commit"])
        except Missing as exc:
            return entry, None, str(exc)
        paths = entry.get("paths") or ["."]
        absent = [p for p in paths if not (root / p).exists()]
        if absent:
            return entry, None, f"{entry['name']}: not in the snapshot: {', '.join(absent)}"
        return entry, lint(nnlint, root, paths), None

    # one repository at a time: nnlint uses every core itself
    for entry, result, problem in map(one, repos):
        name = entry["name"]
        if problem:
            problems.append(problem)
            continue
        problems += [f"{name}: {e}" for e in result["summary"].get("errors", [])]
        tally = Counter()
        for f in result["findings"]:
            tally[f["severity"]] += 1
            if f["severity"] not in REPORTED:
                continue
            key = finding_key(name, f)
            seen.add(key)
            verdict = ledger.get(key, ("unjudged", ""))[0]
            tally[verdict] += 1
            if verdict == "false":
                false_alarms.append((key, ledger[key][1]))
            if verdict == "unjudged":
                unjudged.append((key, f["severity"], f["message"]))
        rows.append((name, result["summary"].get("files", 0), tally))
    names = {e["name"] for e in repos}
    gone = sorted((k, v) for k, v in ledger.items() if k[0] in names and k not in seen)
    return {"rows": rows, "unjudged": unjudged, "gone": gone, "problems": problems,
            "false_alarms": false_alarms}


def precision(tally: Counter) -> str:
    judged = sum(tally[v] for v in JUDGED)
    return f"{tally['true'] / judged:.0%}" if judged else "-"


def print_correct(res: dict, limit: int) -> None:
    print("## Correct code: warnings and errors judged in ledger.csv\n")
    head = ("repository", "files", "error", "warning", "info", "true", "false", "debatable", "unjudged", "precision")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    total = Counter()
    for name, files, t in res["rows"]:
        total.update(t)
        total["files"] += files
        print(f"| {name} | {files} | {t['error']} | {t['warning']} | {t['info']} | {t['true']} | {t['false']} | "
              f"{t['debatable']} | {t['unjudged']} | {precision(t)} |")
    t = total
    print(f"| **all {len(res['rows'])}** | {t['files']} | {t['error']} | {t['warning']} | {t['info']} | {t['true']} | "
          f"{t['false']} | {t['debatable']} | {t['unjudged']} | {precision(t)} |")
    print(f"\nPrecision: {t['true']} true of {sum(t[v] for v in JUDGED)} judged ({precision(t)}; "
          f"debatable counted as not true); {t['false']} known false alarms; {t['unjudged']} not judged yet.")
    if res["false_alarms"]:
        print(f"\n### Known false alarms still raised ({len(res['false_alarms'])})\n")
        for (repo, path, line, code), reason in res["false_alarms"]:
            print(f"{repo},{path},{line},{code}  ({reason})")
    if res["unjudged"]:
        print(f"\n### Findings the ledger does not know yet ({len(res['unjudged'])}): judge them in ledger.csv\n")
        for (repo, path, line, code), severity, message in res["unjudged"][:limit]:
            print(f"{repo},{path},{line},{code}  [{severity}] {message}")
        if len(res["unjudged"]) > limit:
            print(f"... and {len(res['unjudged']) - limit} more (--unjudged-limit)")
    if res["gone"]:
        lost = Counter(v[0] for _, v in res["gone"])
        print(f"\n### Ledger findings no longer raised: {dict(lost)}")
        for (repo, path, line, code), (verdict, reason) in res["gone"]:
            if verdict != "false":  # a false alarm gone is the point; a true finding gone is a loss
                print(f"{verdict}: {repo},{path},{line},{code}  ({reason})")


# --- faulty programs -----------------------------------------------------------------------


def lint_program(args, nnlint: list[str], program: dict, which: str):
    """The findings on a program's buggy (``which="buggy"``) or fixed version, with the
    findings of its labelled rules at any severity. A file of a repository is linted inside
    its repository's tree, so the modules it imports are joined as a user's run joins them."""
    spec = program if which == "buggy" else program["fixed"]
    if "file" in spec:
        source = args.snapshots / spec["file"]
        if not source.is_file():
            raise Missing(f"{program['id']}: no file {source}")
        data = source.read_bytes()
        if spec.get("sha256") and hashlib.sha256(data).hexdigest() != spec["sha256"]:
            raise Missing(f"{program['id']}: {source} does not match the manifest's sha256")
        root = args.work / "_programs" / program["id"] / which
        root.mkdir(parents=True, exist_ok=True)
        (root / source.name).write_bytes(data)
        target = source.name
    else:
        root = extract(args.snapshots, args.work, spec.get("repo", program.get("repo")),
                       spec.get("commit", program.get("commit")))
        target = spec["path"]
        if not (root / target).is_file():
            raise Missing(f"{program['id']}: {target} is not in the snapshot")
    result = lint(nnlint, root, [target])
    problems = result["summary"].get("errors", [])
    if problems:
        raise Missing(f"{program['id']}: {problems[0]}")
    mine = [f for f in result["findings"] if Path(f["path"]) == Path(target)]
    return [f for f in mine if f["severity"] in REPORTED or f["name"] in rules_of(program)
            or (TRACE and f["code"] in CORE)]


def rules_of(program: dict) -> set[str]:
    return {p["rule"] for p in program.get("pitfalls", [])}


def evaluate_faults(args, nnlint: list[str], programs: list[dict]) -> dict:
    per_rule = defaultdict(Counter)
    outcomes, problems = [], []

    def one(program: dict):
        try:
            buggy = lint_program(args, nnlint, program, "buggy")
            fixed = lint_program(args, nnlint, program, "fixed") if program.get("fixed") else None
        except Missing as exc:
            return program, None, None, str(exc)
        return program, buggy, fixed, None

    # one at a time: programs share extracted repositories
    for program, buggy, fixed, problem in map(one, programs):
        if problem:
            problems.append(problem)
            continue
        labels = program.get("pitfalls", [])
        found_any = False
        for label in labels:
            rule, lines = label["rule"], label.get("lines", [])
            hits = [f for f in buggy if f["name"] == rule]
            on_line = [f for f in hits if any(abs((f["line"] or 0) - n) <= NEAR for n in lines)] if lines else hits
            per_rule[rule]["programs"] += 1
            per_rule[rule]["found"] += bool(hits)
            per_rule[rule]["on line"] += bool(on_line)
            per_rule[rule]["info only"] += bool(hits) and all(f["severity"] == "info" for f in hits)
            found_any |= bool(hits)
        still = [f for f in fixed or [] if f["name"] in rules_of(program)]
        other = [f for f in fixed or [] if f["name"] not in rules_of(program) and f["severity"] in REPORTED]
        outcomes.append({"id": program["id"], "framework": program.get("framework", "?"),
                         "labels": sorted(rules_of(program)), "found": found_any,
                         "verdicts": [verdict_of(f) for f in buggy if f["code"] in CORE and f.get("trace")],
                         "fixed_confirmed": [verdict_of(f) for f in fixed or [] if (f.get("trace") or {}).get("status") == "confirmed"],
                         "buggy": sorted({f["name"] for f in buggy}),
                         "fixed": None if fixed is None else {"labelled": sorted({f["name"] for f in still}), "other": len(other),
                                                              "other_rules": sorted({f["name"] for f in other})}})
    return {"per_rule": per_rule, "outcomes": outcomes, "problems": problems}


def verdict_of(finding: dict) -> dict:
    trace = finding["trace"]
    return {"code": finding["code"], "line": finding["line"], "status": trace["status"],
            "evidence": trace.get("evidence", "")}


def print_verdicts(res: dict) -> None:
    """With --trace: each core finding's verdict on the faulty programs. A finding is
    traceable when the trace rebuilt the part of the model it concerns, so an inconclusive
    verdict whose evidence says the model was not rebuilt is not counted against the trace."""
    per = defaultdict(Counter)
    rest = []
    for o in res["outcomes"]:
        for v in o["verdicts"]:
            c = per[v["code"]]
            kind = v["status"]
            if kind == "inconclusive" and not_rebuilt(v["evidence"]):
                kind = "not rebuilt"
            c[kind] += 1
            if kind != "confirmed":
                rest.append((o["id"], v, kind))
    print("\n## Trace verdicts on the faulty programs (core pitfalls)\n")
    print("| pitfall | findings | not rebuilt | traceable | confirmed | refuted | inconclusive |\n|---|---|---|---|---|---|---|")
    total = Counter()
    for code, c in sorted(per.items()):
        total.update(c)
        traceable = c["confirmed"] + c["refuted"] + c["inconclusive"]
        print(f"| {code} | {sum(c.values())} | {c['not rebuilt']} | {traceable} | {c['confirmed']} | {c['refuted']} | {c['inconclusive']} |")
    traceable = total["confirmed"] + total["refuted"] + total["inconclusive"]
    share = f" ({total['confirmed'] / traceable:.0%} of traceable)" if traceable else ""
    print(f"| **all** | {sum(total.values())} | {total['not rebuilt']} | {traceable} | {total['confirmed']}{share} | "
          f"{total['refuted']} | {total['inconclusive']} |")
    if total:
        print(f"\nConfirmed: {total['confirmed']} of {sum(total.values())} core findings "
              f"({total['confirmed'] / sum(total.values()):.0%}), {total['confirmed']} of {traceable} traceable.")
    for pid, v, kind in rest:
        print(f"  {pid} {v['code']} line {v['line']}: {kind}: {v['evidence'][:160]}")
    fixed = [(o["id"], v) for o in res["outcomes"] for v in o["fixed_confirmed"]]
    print(f"Confirmed findings on the fixed versions: {len(fixed)}"
          + "".join(f"\n  {pid} {v['code']} line {v['line']}: {v['evidence'][:160]}" for pid, v in fixed))


#: evidence saying the model around a finding was not rebuilt (a limit of the trace's rebuild,
#: not a measurement); the remaining inconclusive verdicts are the trace's to answer for
NOT_REBUILT = ("the model could not be rebuilt", "the model was not built")


def not_rebuilt(evidence: str) -> bool:
    return any(s in evidence for s in NOT_REBUILT)


def print_faults(res: dict) -> None:
    outcomes = res["outcomes"]
    print("\n## Faulty programs: recall per pitfall\n")
    print("| pitfall | programs | found | found on a labelled line | found only as info |\n|---|---|---|---|---|")
    for rule, c in sorted(res["per_rule"].items()):
        print(f"| {rule} | {c['programs']} | {c['found']} ({c['found'] / c['programs']:.0%}) | {c['on line']} | "
              f"{c['info only']} |")
    by_fw = defaultdict(Counter)
    for o in outcomes:
        by_fw[o["framework"]]["programs"] += 1
        by_fw[o["framework"]]["found"] += o["found"]
        by_fw[o["framework"]]["in catalogue"] += bool(o["labels"])
    print("\n| framework | programs | with a catalogue pitfall | category found |\n|---|---|---|---|")
    total = Counter()
    for fw, c in sorted(by_fw.items()):
        total.update(c)
        print(f"| {fw} | {c['programs']} | {c['in catalogue']} | {c['found']} ({c['found'] / c['programs']:.0%}) |")
    if outcomes:
        print(f"| **all** | {total['programs']} | {total['in catalogue']} | {total['found']} "
              f"({total['found'] / total['programs']:.0%}) |")
    fixed = [o for o in outcomes if o["fixed"] is not None]
    flagged = [o for o in fixed if o["fixed"]["labelled"]]
    noisy = [o for o in fixed if o["fixed"]["other"]]
    print(f"\nFixed versions: {len(fixed)}; still flagged with the labelled rule: {len(flagged)}"
          + "".join(f"\n  {o['id']}: {', '.join(o['fixed']['labelled'])}" for o in flagged))
    print(f"Fixed versions with another warning or error: {len(noisy)}"
          + "".join(f"\n  {o['id']}: {', '.join(o['fixed']['other_rules'])}" for o in noisy))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshots", type=Path, required=True,
                    help="folder of snapshots: a clone of owner/name at SNAPSHOTS/owner+name (see above)")
    ap.add_argument("--work", type=Path, help="where programs are extracted (default: a temporary folder)")
    ap.add_argument("--nnlint", help="the nnlint command to evaluate (default: the one beside this python)")
    ap.add_argument("--only", choices=("correct", "faults"))
    ap.add_argument("--repo", action="append", help="only this repository of correct.toml (repeatable)")
    ap.add_argument("--faults", type=Path, default=EVAL / "faults.toml",
                    help="the manifest of faulty programs (default: benchmarks/eval/faults.toml; "
                         "benchmarks/eval/heldout.toml is the held-out set)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--unjudged-limit", type=int, default=200)
    ap.add_argument("--trace", action="store_true",
                    help="lint with --trace and report each core finding's verdict on the faulty programs")
    args = ap.parse_args()
    if args.trace:
        TRACE.append("--trace")
    temporary = None
    if args.work is None:
        temporary = tempfile.TemporaryDirectory(prefix="nnlint-eval-")
        args.work = Path(temporary.name)
    args.work = args.work.resolve()
    nnlint = [args.nnlint] if args.nnlint else [str(Path(sys.executable).with_name("nnlint"))]
    if not shutil.which(nnlint[0]):
        sys.exit(f"eval_real.py: no nnlint command at {nnlint[0]} (pass --nnlint)")
    out = {}
    if args.only in (None, "correct"):
        repos = tomllib.loads((EVAL / "correct.toml").read_text())["repo"]
        if args.repo:
            unknown = set(args.repo) - {r["name"] for r in repos}
            if unknown:
                sys.exit(f"eval_real.py: not in correct.toml: {', '.join(sorted(unknown))}")
            repos = [r for r in repos if r["name"] in args.repo]
        out["correct"] = evaluate_correct(args, nnlint, repos)
        print_correct(out["correct"], args.unjudged_limit)
    if args.only in (None, "faults") and not args.repo:
        programs = tomllib.loads(args.faults.read_text())["program"]
        out["faults"] = evaluate_faults(args, nnlint, programs)
        print_faults(out["faults"])
        if TRACE:
            print_verdicts(out["faults"])
    problems = [p for part in out.values() for p in part["problems"]]
    if problems:
        print(f"\n{len(problems)} programs could not be evaluated:")
        for p in problems:
            print(f"  {p}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=lambda o: dict(o) if isinstance(o, Counter) else str(o)))
    if temporary:
        temporary.cleanup()
    if problems:
        sys.exit(1)  # figures over part of the manifests are not the figures the README reports


if __name__ == "__main__":
    main()
