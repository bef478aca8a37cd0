"""The pre-commit hook, run for real with ``pre-commit try-repo``.

try-repo clones a git repository. To test the work in progress (including files not yet
committed, such as a new ``.pre-commit-hooks.yaml``) without touching the real index, the
working tree of this repository is copied into a temporary git repository first; pre-commit
then pip-installs it into its own environment (about a minute, from the package index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BUGGY, CLEAN, REPO_ROOT, git, snapshot_repo, write

HOOKS_FILE = REPO_ROOT / ".pre-commit-hooks.yaml"


def test_hooks_manifest_declares_the_nnlint_hook():
    yaml = pytest.importorskip("yaml")  # installed with pre-commit
    assert HOOKS_FILE.is_file(), "the repository root must have .pre-commit-hooks.yaml"
    hooks = yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    [hook] = [h for h in hooks if h.get("id") == "nnlint"]
    [graph_hook] = [h for h in hooks if h.get("id") == "nnlint-onnx"]
    assert graph_hook["files"] == r"\.onnx$" and graph_hook["entry"] == "nnlint"
    assert hook["entry"] == "nnlint"
    assert hook["language"] == "python"
    assert hook["types_or"] == ["python", "jupyter"]
    assert hook.get("name")


def test_hooks_manifest_is_valid_for_pre_commit():
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS_FILE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _pip_config() -> dict[str, str]:
    """Keep the user's pip configuration (package index) when HOME is replaced."""
    if os.environ.get("PIP_CONFIG_FILE"):
        return {}
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    for candidate in (xdg / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
        if candidate.is_file():
            return {"PIP_CONFIG_FILE": str(candidate)}
    return {}


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A committed copy of this repository's working tree, and a clean environment for pre-commit."""
    base = tmp_path_factory.mktemp("precommit")
    repo = snapshot_repo(base / "nnlint-repo")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--no-gpg-sign", "-m", "snapshot", cwd=repo)
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "XDG_CACHE_HOME")}
    env.update(_pip_config())
    env.update(HOME=str(home), PRE_COMMIT_HOME=str(base / "cache"), PRE_COMMIT_COLOR="never",
               GIT_CONFIG_NOSYSTEM="1", VIRTUALENV_OVERRIDE_APP_DATA=str(base / "venv-app-data"))
    return repo, env, base


def _project(base: Path, name: str, files: dict[str, str]) -> Path:
    project = base / name
    project.mkdir()
    git("init", "-q", cwd=project)
    for path, text in files.items():
        write(project, path, text)
    git("add", "-A", cwd=project)
    return project


def _try_repo(repo: Path, project: Path, env: dict, files: list[str], hook: str = "nnlint") -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(repo), hook, "--verbose", "--files", *files],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_hook_fails_on_a_buggy_staged_file(hook_repo):
    repo, env, base = hook_repo
    project = _project(base, "buggy-project", {"buggy.py": BUGGY})
    proc = _try_repo(repo, project, env, ["buggy.py"])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Failed" in output, output
    assert "buggy.py:8:" in output and "NN007" in output, output
    assert "Traceback" not in output


@pytest.mark.slow
def test_hook_passes_on_a_clean_staged_file_and_skips_non_python(hook_repo):
    repo, env, base = hook_repo
    # notes.txt would be an NN901 syntax error if the hook passed it to nnlint (types: [python])
    project = _project(base, "clean-project", {"clean.py": CLEAN, "notes.txt": "nn.Dropout(0.9) (\n"})
    proc = _try_repo(repo, project, env, ["clean.py", "notes.txt"])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Passed" in output, output
    assert "NN9" not in output and "NN007" not in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_onnx_hook_fails_on_a_buggy_model_and_skips_lfs_pointers(hook_repo):
    import onnx
    import onnx.parser

    repo, env, base = hook_repo
    project = _project(base, "onnx-project", {
        "pointer.onnx": "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
        "clean.py": CLEAN,
    })
    model = onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) <float ratio = {0.9}> {
    y = Dropout(x, ratio)
}
""")
    onnx.save_model(model, str(project / "buggy.onnx"))
    git("add", "-A", cwd=project)
    proc = _try_repo(repo, project, env, ["buggy.onnx", "pointer.onnx", "clean.py"], hook="nnlint-onnx")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "buggy.onnx" in output and "NN007" in output, output
    assert "LFS" in output, output
    assert "Traceback" not in output
    lfs_only = _try_repo(repo, project, env, ["pointer.onnx"], hook="nnlint-onnx")
    assert lfs_only.returncode == 0, lfs_only.stdout + lfs_only.stderr
