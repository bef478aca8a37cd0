"""The evaluation's manifests and ledger stay well-formed (``benchmarks/eval/``).

``benchmarks/eval_real.py`` trusts them: a ledger row with a typo in its verdict, a program
labelled with a rule that does not exist, or a repository reserved for the independent
evaluation would each quietly skew the figures the README reports.
"""

from __future__ import annotations

import csv
import re
import sys

import pytest

from nnlint.registry import all_checks

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent / "benchmarks" / "eval"
KINDS = {"notebooks", "research", "tutorial", "keras", "tf2", "library"}
FRAMEWORKS = {"pytorch", "keras", "tf1", "tf2", "onnx"}
HEX40 = re.compile(r"[0-9a-f]{40}")
HEX64 = re.compile(r"[0-9a-f]{64}")
# Kept for an independent evaluation: no manifest may name them.
RESERVED_REPOS = {
    "wardat-isu/deeplocalize", "foreverzyh/tensorflow-program-bugs", "neuralint/neuralint",
    "orderlab/traincheck-evaluation-workloads", "dlfaults/howrealarethey", "thedeepchecker/thedeepchecker",
    "bentrevett/pytorch-seq2seq", "bentrevett/pytorch-sentiment-analysis", "d2l-ai/d2l-en",
    "facebookresearch/dit", "jcjohnson/pytorch-examples", "karpathy/makemore",
    "lucidrains/denoising-diffusion-pytorch", "lucidrains/vit-pytorch", "openai/improved-diffusion",
    "pytorch/ignite", "rasbt/llms-from-scratch", "rasbt/deeplearning-models", "tensorflow/docs",
    "udacity/deep-learning-v2-pytorch",
}
RESERVED_QUESTIONS = set("""
31556268 31627380 31880720 33641799 33699174 33712178 33969059 34311586 34673164 35078027
38648195 39217567 39487825 39525358 42821125 43239467 43636736 44066044 44164749 45002504
45337371 45378493 45442843 46577203 47352366 47724077 48221692 48251943 48385830 48594888
48723158 48934338 50079585 50306988 50481178 51749207 51930566 52800582 55328966 58609115
58844149 59278771 59325381 60335387""".split())


def load(name: str) -> dict:
    return tomllib.loads((EVAL / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def repos() -> list[dict]:
    return load("correct.toml")["repo"]


@pytest.fixture(scope="module")
def programs() -> list[dict]:
    return load("faults.toml")["program"]


def test_correct_repositories_are_pinned_and_not_reserved(repos):
    names = [r["name"] for r in repos]
    assert len(names) == len(set(names)), "a repository is listed twice"
    assert len(repos) >= 31, "at least 25 repositories beyond the six the README started with"
    for r in repos:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", r["name"]), r
        assert HEX40.fullmatch(r["commit"]), r["name"]
        assert r["kind"] in KINDS, r["name"]
        assert r.get("note"), r["name"]
        assert r["name"].lower() not in RESERVED_REPOS, r["name"]
        assert all(not p.startswith("/") and ".." not in Path(p).parts for p in r.get("paths", [])), r["name"]


def test_every_ledger_row_is_a_judged_finding_of_a_listed_repository(repos):
    names = {r["name"] for r in repos}
    codes = {c.code for c in all_checks()}
    with (EVAL / "ledger.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["repo", "path", "line", "code", "verdict", "reason"]
        keys = set()
        for row in reader:
            key = (row["repo"], row["path"], row["line"], row["code"])
            assert key not in keys, f"judged twice: {key}"
            keys.add(key)
            assert row["repo"] in names, key
            assert row["verdict"] in {"true", "false", "debatable"}, key
            assert row["reason"].strip(), key
            assert row["line"].isdigit(), key
            assert row["code"] in codes or re.fullmatch(r"NN9\d\d", row["code"]), key
    assert keys, "the ledger judges nothing"


def test_faulty_programs_are_labelled_located_and_not_reserved(programs):
    assert len(programs) >= 100
    check_programs(programs)


CORE = {"output-activation-regression", "unstable-softmax", "missing-bias", "bad-init", "unnormalized-input",
        "batch-size-extreme", "dropout-keep-drop-confusion"}

#: the held-out sets in the order they were collected: (manifest, at least this many programs,
#: at least this many repositories, at least this many PyTorch and Keras programs, how new its
#: repositories are: 0 files not in an earlier manifest, 1 also no repository of correct.toml,
#: 2 no repository of any earlier manifest at all)
HELDOUT = [
    ("heldout.toml", 10, 1, (0, 0), 0),
    ("heldout2.toml", 5, 1, (0, 0), 0),
    ("heldout3.toml", 24, 12, (0, 0), 0),
    ("heldout4.toml", 9, 8, (0, 0), 0),
    ("heldout5.toml", 16, 12, (7, 5), 1),
    ("heldout6.toml", 16, 12, (8, 5), 2),
    ("heldout7.toml", 30, 24, (14, 8), 2),
    ("heldout8.toml", 8, 4, (0, 0), 2),
    ("heldout9.toml", 16, 12, (4, 7), 2),
    ("heldout10.toml", 11, 10, (9, 2), 2),
    ("heldout11.toml", 15, 13, (6, 6), 2),
    ("heldout12.toml", 15, 15, (7, 5), 2),
    ("heldout13.toml", 10, 10, (8, 1), 2),
    ("heldout14.toml", 12, 9, (0, 5), 2),
    ("heldout15.toml", 10, 10, (10, 0), 2),
    ("heldout16.toml", 12, 12, (0, 4), 2),
    ("heldout17.toml", 10, 10, (7, 3), 2),
    ("heldout18.toml", 10, 10, (1, 4), 2),
]


@pytest.mark.parametrize("index", range(len(HELDOUT)), ids=[h[0] for h in HELDOUT])
def test_heldout_programs_are_labelled_located_and_new(programs, repos, index):
    """Each held-out set obeys the faulty programs' rules, stays within the core seven pitfalls
    that --trace measures, and shares no program (id or repository file) with faults.toml or an
    earlier held-out set; the later sets also cover both main frameworks, and the sixth shares
    no repository at all, so none of its programs can have been read while tuning on them."""
    name, count, repo_count, (torch_count, keras_count), newness = HELDOUT[index]
    held = load(name)["program"]
    assert len(held) >= count
    check_programs(held)
    assert len({p.get("repo") for p in held}) >= repo_count
    frameworks = [p["framework"] for p in held]
    assert frameworks.count("pytorch") >= torch_count and frameworks.count("keras") >= keras_count
    assert all(label["rule"] in CORE for p in held for label in p["pitfalls"])
    earlier = programs + [p for other, *_ in HELDOUT[:index] for p in load(other)["program"]]
    known = {p["id"] for p in earlier}
    located = {(p.get("repo"), p.get("path"), p.get("file")) for p in earlier}
    earlier_repos = {p["repo"].lower() for p in earlier if "repo" in p} | {r["name"].lower() for r in repos}
    correct = {r["name"].lower() for r in repos}
    for p in held:
        assert p["id"] not in known, p["id"]
        assert (p.get("repo"), p.get("path"), p.get("file")) not in located, p["id"]
        if newness >= 1:  # not a repository the precision figures call correct
            assert p["repo"].lower() not in correct, p["id"]
        if newness >= 2:
            assert p["repo"].lower() not in earlier_repos, p["id"]


def check_programs(programs: list[dict]) -> None:
    slugs = {c.name for c in all_checks()}
    ids = [p["id"] for p in programs]
    assert len(ids) == len(set(ids)), "two programs share an id"
    for p in programs:
        assert p["framework"] in FRAMEWORKS, p["id"]
        assert p.get("source") and p.get("note"), p["id"]
        if "file" in p:
            assert HEX64.fullmatch(p["sha256"]) and p["url"].startswith("https://"), p["id"]
            assert not set(re.findall(r"\d{8}", p["url"] + p["file"] + p["id"])) & RESERVED_QUESTIONS, p["id"]
        else:
            assert HEX40.fullmatch(p["commit"]) and p["path"], p["id"]
            assert p["repo"].lower() not in RESERVED_REPOS, p["id"]
        for label in p["pitfalls"]:
            assert label["rule"] in slugs, (p["id"], label["rule"])
            assert all(isinstance(n, int) and n > 0 for n in label.get("lines", [])), p["id"]
        fixed = p.get("fixed")
        if fixed:
            assert ("file" in fixed and HEX64.fullmatch(fixed.get("sha256", ""))) or "path" in fixed, p["id"]
