"""The README's quick start: `nnlint examples/` reports the six pitfalls it says, exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_example_reports_what_the_readme_says():
    result = subprocess.run([sys.executable, "-m", "nnlint", "--format", "json", "examples/"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    codes = sorted(f["code"] for f in json.loads(result.stdout)["findings"])
    assert codes == ["NN001", "NN002", "NN004", "NN005", "NN006", "NN007"]
    assert "reports six pitfalls" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_configuration_example_in_the_readme_is_valid(tmp_path):
    block = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration")[1].split("```toml\n")[1]
    (tmp_path / "pyproject.toml").write_text(block.split("```")[0], encoding="utf-8")
    (tmp_path / "m.py").write_text("import torch.nn as nn\nd = nn.Dropout(0.9)\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nnlint", "--format", "json", "m.py"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["NN007"]


def test_the_readme_rule_table_matches_the_registered_checks():
    """README's "What it finds" table lists every check once, with its code, slug and default severity."""
    from nnlint import registry

    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## What it finds")[1].split("\n\n")[1]
    rows = [line.split("|")[1:4] for line in section.splitlines() if line.startswith("| NN")]
    table = {code.strip(): (name.strip().strip("`"), severity.strip().split(" ")[0]) for code, name, severity in rows}
    checks = {c.code: (c.name, c.severity.value) for c in registry.all_checks()}
    assert table == checks
