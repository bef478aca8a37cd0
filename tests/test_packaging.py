"""The wheel: build it from a copy of the working tree, install it into a fresh venv, use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nnlint import __version__

from .conftest import BUGGY, CLEAN, REPO_ROOT, cli_env, snapshot_repo, write

pytestmark = pytest.mark.slow


def _run(args, cwd, timeout=600, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout)
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = snapshot_repo(base / "src")  # builds write build/ and *.egg-info: not into the real tree
    dist = base / "dist"
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, source], base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = dist.glob("nnlint-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel (and its dependencies) installed; returns its bin dir."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    proc = _run([sys.executable, "-m", "venv", venv], venv.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    proc = _run([bindir / "python", "-m", "pip", "install", "--quiet", wheel], venv.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return bindir


def test_wheel_contains_only_the_nnlint_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = f"nnlint-{__version__}.dist-info/"
        assert all(n.startswith(("nnlint/", dist_info)) for n in names), [
            n for n in names if not n.startswith(("nnlint/", dist_info))]
        entry_points = archive.read(dist_info + "entry_points.txt").decode()
    assert "nnlint = nnlint.cli:run" in entry_points.replace("  ", " ")
    # every module of the source tree is in the wheel, under its package name
    expected = {f"nnlint/{p.relative_to(REPO_ROOT / 'linter').as_posix()}" for p in (REPO_ROOT / "linter").rglob("*.py")}
    expected |= {f"nnlint/checks/{p.name}" for p in (REPO_ROOT / "checks").glob("*.py")}
    expected = {e for e in expected if "__pycache__" not in e}
    assert expected <= set(names), sorted(expected - set(names))


def test_installed_version(installed, tmp_path):
    proc = _run([installed / "nnlint", "--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"nnlint {__version__}"


def test_installed_cli_lints(installed, tmp_path):
    write(tmp_path, "buggy.py", BUGGY)
    write(tmp_path, "clean.py", CLEAN)
    proc = _run([installed / "nnlint", "--format", "json", "buggy.py", "clean.py"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    document = json.loads(proc.stdout)
    assert [(f["path"], f["code"]) for f in document["findings"]] == [("buggy.py", "NN007")]
    proc = _run([installed / "nnlint", "clean.py"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_installed_rules_and_docs_match_the_source(installed, tmp_path):
    proc = _run([installed / "nnlint", "rules", "--format", "json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    installed_codes = [r["code"] for r in json.loads(proc.stdout)]
    from nnlint import registry

    assert installed_codes == [c.code for c in registry.all_checks()]
    proc = _run([installed / "nnlint", "explain", "dropout-keep-drop-confusion"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "## What it does" in proc.stdout and "## Use instead" in proc.stdout


def test_installed_package_layout(installed, tmp_path):
    probe = (
        "import importlib.util, json, sysconfig, pathlib\n"
        "import nnlint, nnlint.checks, nnlint.report, nnlint.frontends, nnlint.ir, nnlint.cli\n"
        "site = pathlib.Path(sysconfig.get_paths()['purelib'])\n"
        "print(json.dumps({\n"
        "  'nnlint': nnlint.__file__,\n"
        "  'checks': nnlint.checks.__file__,\n"
        "  'linter_spec': importlib.util.find_spec('linter') is not None,\n"
        "  'checks_spec': importlib.util.find_spec('checks') is not None,\n"
        "  'site': str(site),\n"
        "  'top_level': sorted(p.name for p in site.iterdir()),\n"
        "}))\n"
    )
    proc = _run([installed / "python", "-c", probe], tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    site = Path(info["site"])
    assert Path(info["nnlint"]).parent == site / "nnlint", "nnlint must come from the venv, not the source tree"
    assert Path(info["checks"]).parent == site / "nnlint" / "checks"
    assert not info["linter_spec"] and not info["checks_spec"]
    assert not {"linter", "checks", "linter.py", "checks.py"} & set(info["top_level"]), info["top_level"]
