"""Shared helpers for the CLI-level tests: run ``nnlint`` in a subprocess, write fixture files.

The tests import the helpers with ``from .conftest import ...`` (``tests`` is a package, so
this is the same module object pytest loaded) or use the fixtures of the same names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Small PyTorch-looking programs (torch is not installed; nnlint never imports it).
# ---------------------------------------------------------------------------------------------

#: NN007 (warning): nn.Dropout(0.9) on line 8, the call starts at column 21.
BUGGY = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout(0.9)

    def forward(self, x):
        return self.fc(self.drop(x))
"""
BUGGY_LINE = 8
BUGGY_COLUMN = BUGGY.splitlines()[BUGGY_LINE - 1].index("nn.Dropout") + 1

#: NN003 (missing-bias) on line 3 and NN007 (dropout-keep-drop-confusion) on line 10 (the
#: model is trained: a model only applied to data has no bias to miss).
TWO_RULES = BUGGY.replace(
    "import torch.nn as nn\n",
    "import torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 1))\n",
    1,
) + "\nmodel(x).pow(2).mean().backward()\n"

#: NN007 at error severity: a dropout that drops everything.
ERROR_DROPOUT = BUGGY.replace("nn.Dropout(0.9)", "nn.Dropout(1.0)")

#: NN006 at info severity: a training batch above the default max-batch-size (8192).
INFO_LOADER = """\
import torch.nn as nn
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 2))
train_loader = DataLoader(train_set, batch_size=10000, shuffle=True)
"""

#: No finding.
CLEAN = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.fc(self.drop(x))
"""

#: A regression model whose output goes through ReLU (NN001 once a regression loss is seen).
MODEL_RELU = """\
import torch.nn as nn
import torch.nn.functional as F


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return F.relu(self.out(F.relu(self.hidden(x))))
"""
MODEL_RELU_LINE = 12

#: Trains the model of ``model.py`` with MSELoss.
TRAIN_MSE = """\
import torch
import torch.nn as nn

from model import Regressor

model = Regressor()
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""

ANSI_ESCAPE = "\x1b["


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def codes(self) -> list[str]:
        """Codes of the findings in --format json output."""
        return [f["code"] for f in self.json["findings"]]

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return f"nnlint {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def cli_env(**extra: Optional[str]) -> dict[str, str]:
    """The environment for nnlint: this one, without NO_COLOR/FORCE_COLOR, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "PYTHONWARNINGS")}
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cli(
    args: Iterable[str],
    cwd: Path | str,
    env: Optional[dict[str, str]] = None,
    timeout: float = 120,
    allow_traceback: bool = False,
) -> CliResult:
    """Run ``python -m nnlint ARGS`` in ``cwd`` with pipes (never a tty).

    Every call checks that nothing printed a Python traceback: nnlint must never crash.
    """
    args = [str(a) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "nnlint", *args],
        cwd=str(cwd),
        env=env if env is not None else cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result = CliResult(args, proc.returncode, proc.stdout, proc.stderr)
    if not allow_traceback:
        assert "Traceback" not in proc.stderr, str(result)
        assert "Traceback" not in proc.stdout, str(result)
    return result


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """Write ``text`` (dedented) or raw ``bytes`` to ``tmp_path / name``, creating folders."""
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def git(*args: str, cwd: Path | str, env: Optional[dict[str, str]] = None) -> str:
    base = dict(os.environ if env is None else env)
    base.update(
        GIT_AUTHOR_NAME="nnlint tests", GIT_AUTHOR_EMAIL="tests@example.invalid",
        GIT_COMMITTER_NAME="nnlint tests", GIT_COMMITTER_EMAIL="tests@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
    )
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=base, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def snapshot_repo(dest: Path) -> Path:
    """Copy this repository's working tree (tracked and untracked, not ignored) to ``dest``.

    The copy is what the repository would be once the work in progress is committed; the
    pre-commit and packaging tests use it so that they neither touch the real index nor
    write build output into the real tree.
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    dest.mkdir(parents=True, exist_ok=True)
    for raw in listing.stdout.split(b"\0"):
        if not raw:
            continue
        rel = raw.decode()
        source = REPO_ROOT / rel
        if not source.is_file() or "__pycache__" in source.parts:
            continue  # deleted in the working tree, or bytecode
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


# Fixtures of the same names, for tests that prefer them.


@pytest.fixture(name="run_cli")
def _run_cli_fixture():
    return run_cli


@pytest.fixture(name="write")
def _write_fixture():
    return write
