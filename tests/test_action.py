"""The GitHub Action (``action.yml`` and its scripts in ``action/``): the inputs reach nnlint as
the workflow set them, never as shell code, and import-mode tracing is off unless asked for.

The scripts run here with stand-ins for ``nnlint`` and ``python`` on the PATH, which record
the arguments they get."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def test_composite_action_passes_inputs_as_environment_only():
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], "an input spliced into a script runs as shell code"
    assert ACTION["inputs"]["trace-import"]["default"] == "false"
    assert ACTION["inputs"]["token"]["default"] == "${{ github.token }}"
    named = {m for step in ACTION["runs"]["steps"] for value in (step.get("env") or {}).values()
             for m in re.findall(r"inputs\.([\w-]+)", str(value))}
    named |= {m for step in ACTION["runs"]["steps"] for value in (step.get("with") or {}).values()
              for m in re.findall(r"inputs\.([\w-]+)", str(value))}
    assert named == set(ACTION["inputs"]), "every input is used, and only inputs that exist"


@pytest.fixture
def stubs(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    log = tmp_path / "calls.jsonl"
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name in ("nnlint", "python"):
        stub = bin_ / name
        stub.write_text(f"#!/usr/bin/env bash\nprintf '%s\\0' {name} \"$@\" >> '{log}'\nprintf '\\n' >> '{log}'\n")
        stub.chmod(0o755)
    return bin_, log


def run_script(stubs, script: str, **env: str) -> list[list[str]]:
    bin_, log = stubs
    full = {"PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTION_PATH": str(ROOT), **env}
    done = subprocess.run(["bash", str(ROOT / "action" / script)], env=full, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [line.split("\0")[:-1] for line in log.read_text().splitlines() if line]
    log.write_text("")
    return calls


def env_of(step_name: str, **inputs: str) -> dict[str, str]:
    """The step's environment as GitHub would set it for these inputs (the others at their defaults)."""
    [step] = [s for s in ACTION["runs"]["steps"] if s.get("name") == step_name]
    values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | inputs
    env = {}
    for key, expression in step["env"].items():
        match = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", expression)
        if match:
            env[key] = values[match.group(1)]
        elif key == "NNLINT_TRACE":  # ${{ inputs.trace == 'true' || inputs.trace-import == 'true' }}
            env[key] = json.dumps(values["trace"] == "true" or values["trace-import"] == "true")
    env.pop("GITHUB_TOKEN", None)
    return env


def test_review_defaults(stubs):
    [call] = run_script(stubs, "review.sh", **env_of("Review"))
    assert call == ["nnlint", "review", "--no-cache", "--max-comments", "20", "--fail-on", "warning", "--"]


def test_review_with_every_input(stubs):
    env = env_of("Review", paths="src  models/net.onnx", format="sarif", **{"output-file": "out dir/n.sarif",
                 "max-comments": "5", "fail-on": "error", "exit-zero": "true", "trace": "true"})
    [call] = run_script(stubs, "review.sh", **env)
    assert call == ["nnlint", "review", "--no-cache", "--max-comments", "5", "--fail-on", "error", "--format", "sarif",
                    "--output-file", "out dir/n.sarif", "--exit-zero", "--trace", "--", "src", "models/net.onnx"]


def test_import_mode_only_when_asked_and_inputs_are_not_shell_code(stubs):
    [call] = run_script(stubs, "review.sh", **env_of("Review", trace="true"))
    assert "--trace-import" not in call
    [call] = run_script(stubs, "review.sh", **env_of("Review", **{"trace-import": "true"}))
    assert "--trace-import" in call
    [call] = run_script(stubs, "review.sh", **env_of("Review", paths="$(touch pwned) `id` ;rm"))
    assert call[call.index("--"):] == ["--", "$(touch", "pwned)", "`id`", ";rm"]
    assert not Path("pwned").exists()


def test_format_without_output_file_is_an_error(stubs):
    bin_, _ = stubs
    env = {"PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", **env_of("Review", format="sarif")}
    done = subprocess.run(["bash", str(ROOT / "action" / "review.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "needs an output-file" in done.stdout


def test_install_uses_the_actions_own_copy(stubs):
    [call] = run_script(stubs, "install.sh", **env_of("Install nnlint"))
    assert call == ["python", "-m", "pip", "install", "--quiet", f"{ROOT}[onnx]"]
    calls = run_script(stubs, "install.sh", **env_of("Install nnlint", **{"trace-import": "true"}))
    assert calls[0][-2:] == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert calls[1][-1] == f"{ROOT}[trace]"


def test_readme_workflow_uses_the_action_as_it_is():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### The GitHub Action")[1]
    workflow = yaml.safe_load(section.split("```yaml\n")[1].split("```")[0])
    steps = workflow["jobs"]["review"]["steps"]
    [checkout] = [s for s in steps if s["uses"].startswith("actions/checkout")]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert checkout["with"]["persist-credentials"] is False
    [ours] = [s for s in steps if s["uses"].startswith("OWNER/nnlint@")]
    assert set(ours["with"]) <= set(ACTION["inputs"])
    assert workflow["permissions"]["pull-requests"] == "write" and workflow["permissions"]["contents"] == "read"
