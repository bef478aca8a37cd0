"""Speed rule: linting Python never imports torch, onnx, numpy or IPython (IPython is for
notebooks only), and a run without configuration does not import pydantic, findings or not.

Each case runs ``nnlint.cli.main([...])`` in a fresh interpreter and prints which of those
modules ended up in ``sys.modules``. Since torch, onnx and numpy may not be installed at all,
a meta-path hook also records every *attempt* to import them (an ``import torch`` inside a
``try`` that fails here would still cost seconds where torch is installed).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import BUGGY, CLEAN, MODEL_RELU, TRAIN_MSE, cli_env, write

HEAVY = ("torch", "onnx", "numpy", "pydantic", "IPython")

PROBE = r"""
import json, sys

HEAVY = {heavy!r}
attempts = []

class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            attempts.append(name)
        return None

sys.meta_path.insert(0, Recorder())

from nnlint.cli import main

code = main({argv!r})
sys.stdout.flush()
loaded = sorted(m for m in HEAVY if m in sys.modules)
print("\n@@PROBE@@" + json.dumps({{"code": code, "loaded": loaded, "attempted": sorted(set(attempts))}}))
"""


def probe(tmp_path, argv: list[str], heavy: tuple[str, ...] = HEAVY) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy, argv=argv)],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    marker = proc.stdout.rindex("@@PROBE@@")
    report = json.loads(proc.stdout[marker + len("@@PROBE@@"):])
    report["output"] = proc.stdout[:marker]
    return report


def heavy_seen(report: dict, names: tuple[str, ...]) -> list[str]:
    return sorted({m.split(".")[0] for m in report["loaded"] + report["attempted"]} & set(names))


@pytest.mark.parametrize(
    "files, argv, code",
    [
        ({"clean.py": CLEAN}, ["clean.py"], 0),
        ({"bug.py": BUGGY}, ["bug.py"], 1),
        ({"bug.py": BUGGY}, ["--format", "json", "bug.py"], 1),
        ({"src/model.py": MODEL_RELU, "src/train.py": TRAIN_MSE, "src/clean.py": CLEAN}, ["src"], 1),
        ({"bug.py": BUGGY, "pyproject.toml": '[tool.nnlint]\nignore = ["NN003"]\n'}, ["bug.py"], 1),
    ],
    ids=["clean", "buggy", "buggy-json", "folder-cross-file", "with-config"],
)
def test_linting_never_imports_torch_onnx_or_numpy(tmp_path, files, argv, code):
    for name, text in files.items():
        write(tmp_path, name, text)
    report = probe(tmp_path, argv)
    assert report["code"] == code, report
    assert heavy_seen(report, ("torch", "onnx", "numpy", "IPython")) == [], report


def test_a_notebook_imports_ipython_and_the_probe_sees_it(tmp_path):
    """IPython converts notebook cells: imported for a notebook (and the probe is not blind to it)."""
    cell = {"cell_type": "code", "metadata": {}, "source": "%matplotlib inline\nimport torch\n"}
    write(tmp_path, "explore.ipynb", json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    report = probe(tmp_path, ["explore.ipynb"])
    assert report["code"] == 0, report
    assert heavy_seen(report, ("torch", "onnx", "numpy", "IPython")) == ["IPython"], report


def test_config_validation_is_seen_by_the_probe(tmp_path):
    """The probe is not blind: it sees pydantic when a configuration must be validated."""
    write(tmp_path, "clean.py", CLEAN)
    write(tmp_path, "pyproject.toml", '[tool.nnlint]\nignore = ["NN003"]\n')
    report = probe(tmp_path, ["clean.py"])
    assert report["code"] == 0
    assert "pydantic" in report["loaded"], report


def test_clean_file_with_no_config_does_not_import_pydantic_for_rules(tmp_path):
    """`nnlint rules` and `nnlint --version`-like paths stay light too."""
    report = probe(tmp_path, ["rules"])
    assert report["code"] == 0 and "NN007" in report["output"]
    assert heavy_seen(report, HEAVY) == [], report


@pytest.mark.parametrize("argv", [["clean.py"], ["."], ["--format", "json", "clean.py"]])
def test_clean_file_with_no_config_does_not_import_pydantic(tmp_path, argv):
    write(tmp_path, "clean.py", CLEAN)
    report = probe(tmp_path, argv)
    assert report["code"] == 0, report
    assert "All checks passed" in report["output"] or '"findings": []' in report["output"]
    assert heavy_seen(report, HEAVY) == [], report


def test_trace_with_nothing_to_measure_does_not_import_torch(tmp_path):
    """`--trace` where no finding's rule has a confirmation (plain SGD, NN104) measures nothing."""
    write(tmp_path, "opt.py", "import torch\nmodel = torch.nn.Linear(3, 1)\n"
                               "opt = torch.optim.SGD(model.parameters(), lr=0.01)\n")
    report = probe(tmp_path, ["--trace", "--format", "json", "opt.py"])
    assert heavy_seen(report, ("torch", "numpy", "onnx")) == []
    [finding] = json.loads(report["output"])["findings"]
    assert finding["code"] == "NN104"
    assert finding["trace"] == {"status": "inconclusive", "evidence": "plain-sgd has no trace confirmation",
                                "device": None}


def test_trace_with_a_finding_to_measure_imports_torch(tmp_path):
    pytest.importorskip("torch")
    write(tmp_path, "net.py", "import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.9))\n")
    report = probe(tmp_path, ["--trace", "--format", "json", "net.py"])
    assert "torch" in heavy_seen(report, ("torch",))
    assert json.loads(report["output"])["findings"][0]["trace"]["status"] == "confirmed"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "rdjson", "gitlab", "junit"])
def test_findings_do_not_import_pydantic(tmp_path, fmt):
    """A finding is a plain dataclass: only a configuration to validate brings pydantic in."""
    write(tmp_path, "bug.py", BUGGY)
    report = probe(tmp_path, ["--format", fmt, "bug.py"])
    assert report["code"] == 1, report
    assert heavy_seen(report, HEAVY) == [], report


def test_a_run_that_keeps_no_cache_does_not_load_openssl(tmp_path):
    """hashlib (OpenSSL's library: 4 MB of a 37 MB run) is for the cache's digests and keys only,
    also where an imported module is read (its outline is looked up only with a cache)."""
    write(tmp_path, "model.py", MODEL_RELU)
    write(tmp_path, "train.py", TRAIN_MSE)
    report = probe(tmp_path, ["--no-cache", "train.py"], heavy=("hashlib",))
    assert report["code"] == 1 and "NN" in report["output"], report
    assert report["loaded"] == [], report
    cached = probe(tmp_path, ["train.py"], heavy=("hashlib",))  # the probe sees it where the cache needs it
    assert cached["loaded"] == ["hashlib"], cached
