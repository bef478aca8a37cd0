"""Hostile input to the analysis: constant folding that explodes, big literals, deep nesting.

Each attack is a file a pull request could add, linted through the CLI beside a control file
with a real finding, in a subprocess whose address space is capped: a blow-up fails the test
(MemoryError, or the timeout), never the machine. Every run must end within the time bound,
with no traceback and no NN999, and the control file's finding must still be reported.
The near misses at the end check that ordinary folding still works within the budgets.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnlint.frontends.interpreter import Interpreter

from .conftest import cli_env
from .lint_helpers import lint_source

#: A real finding (NN007) that must survive whatever its neighbour does.
CONTROL = "import torch.nn as nn\nd = nn.Dropout(0.9)\n"
SECONDS = 10  # the bound on a whole run (the bar: 10 s for a file under the size limit)
MEMORY = 1_500_000_000  # bytes of address space for the run


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def lint_hostile(tmp_path: Path, name: str, text: str) -> tuple[list[dict], float]:
    """Lint ``text`` (as ``name``) beside the control file; the findings and the seconds taken."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "control.py").write_text(CONTROL, encoding="utf-8")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "nnlint", "--format", "json", "."],
        cwd=tmp_path, env=cli_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=SECONDS * 6, preexec_fn=_cap_memory,
    )
    elapsed = time.monotonic() - start
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # findings (the control's), not a crash
    findings = json.loads(proc.stdout)["findings"]
    assert not [f for f in findings if f["code"] == "NN999"], findings
    assert [(f["path"], f["code"]) for f in findings if f["path"] == "control.py"] == [("control.py", "NN007")]
    assert elapsed < SECONDS, f"{name} took {elapsed:.1f} s"
    return [f for f in findings if f["path"] == name], elapsed


def _lines(first: str, line: str, count: int = 40, last: str = "") -> str:
    return first + line * count + last


#: name -> source: folding that would grow without bound (2**40 bits, 2**40 characters, ...).
RUNAWAY = {
    "square.py": _lines("x = 3\n", "x = x * x\n"),
    "double_string.py": _lines("s = 'ab'\n", "s = s + s\n"),
    "double_string_augmented.py": _lines("s = 'ab'\n", "s += s\n"),
    "double_list.py": _lines("xs = [1, 2]\n", "xs = xs + xs\n"),
    "double_list_in_place.py": _lines("xs = [1]\n", "xs += xs\n"),
    "extend_itself.py": _lines("xs = [0] * 64\n", "xs.extend(xs)\n", 40, "n = len(xs)\n"),
    "shared_nesting.py": _lines("x = [0, 0]\n", "x = [x, x]\n", 40, "y = str(x)\nz = sorted([x, x])\nw = x == [x, x]\n"),
    "shared_tuple_key.py": _lines("t = (1, 1)\n", "t = (t, t)\n", 40, "d = {t: 1}\nv = d.get(t)\n"),
    "deep_value.py": _lines("x = 0\n", "x = [x]\n", 3000, "y = str(x)\nz = x == [x]\n"),
    "cycle.py": "x = [0]\nx.append(x)\ny = str(x)\nz = x == [x]\nw = sorted([x, x])\n",
    "power.py": "x = 2 ** 10**9\ny = 10**9\nz = 2 ** y\nw = pow(2, y)\n",
    "power_chain.py": _lines("x = 7\n", "x = x ** 64\n", 10),
    "shift.py": "x = 1 << 10**9\ny = 1\ny <<= 10**9\n",
    "string_times.py": "s = 'a' * 10**10\nt = 10**10 * 'a'\nu = b'a' * 10**10\n",
    "list_times.py": "xs = [0] * 10**9\nys = 10**9 * [0]\nzs = (0,) * 10**9\n",
    "list_times_chain.py": _lines("xs = [0, 1]\n", "xs = xs * 64\n", 10),
    "huge_range.py": "for i in range(10**12):\n    x = i\nr = list(range(10**12))\nn = len(range(10**30))\n"
                     "s = sum(range(10**12))\nm = [i for i in range(10**12)]\n",
    "replace.py": _lines("s = 'ab'\n", "s = s.replace('a', s)\n", 40, "t = 'xy'.replace('', s)\n"),
    "join_format.py": _lines("s = 'a{}'\n", "s = s.format(s) + ''.join([s, s, s]) + f'{s}{s}'\n"),
    "int_of_string.py": _lines("s = '9'\n", "s = s + s\n", 20, "n = int(s)\nm = n * n\n"),
    "str_of_int.py": _lines("n = 10 ** 60\n", "n = n * n\n", 12, "s = str(n)\nt = s + s\n"),
    "round.py": "x = round(7, -10**9)\ny = round(2.5, 10**12)\n",
    "hex_literal.py": "x = 0x" + "f" * 200_000 + "\ny = x * x\nz = str(x)\n",
    "long_string.py": "s = '" + "ab" * 150_000 + "'\nt = s + s\nu = s.split('a')\nv = s.replace('a', s)\n",
    "comprehension.py": _lines("xs = [0, 1, 2, 3]\n", "xs = [a + b for a in xs for b in xs]\n", 12),
    "nested_loops.py": "t = []\nfor i in range(256):\n    for j in range(256):\n        for k in range(256):\n"
                       "            t.append((i, j, k))\n",
}


@pytest.mark.parametrize("name", sorted(RUNAWAY))
def test_runaway_folding_is_bounded(tmp_path: Path, name: str) -> None:
    findings, _ = lint_hostile(tmp_path, name, RUNAWAY[name])
    assert all(f["severity"] == "info" for f in findings), findings  # at most an NN904 line


def test_big_list_literal_is_judged_before_parsing(tmp_path: Path) -> None:
    """A 4.9 MB list literal took libcst 4.5 minutes and 10 GB; it is now one NN904 line."""
    text = "sizes = [" + ", ".join(["12345"] * 700_000) + "]\n"
    assert 4_000_000 < len(text) < 5_000_000  # under the 5 MB size limit: parsed, were it not judged first
    findings, elapsed = lint_hostile(tmp_path, "table.py", text)
    assert [(f["code"], f["severity"]) for f in findings] == [("NN904", "info")]
    assert "too large to analyse" in findings[0]["message"] and "80,000 tokens" in findings[0]["message"]
    assert elapsed < 5


@pytest.mark.parametrize("body", [
    "weights = {" + ", ".join(f"{i}: {i}.5" for i in range(60_000)) + "}\n",  # 2 MB of dict
    "x = 0\n" + "x = [x]\n" * 30_000,  # nesting built statement by statement
    "rows = [\n" + "    [1, 2, 3, 4, 5, 6, 7, 8],\n" * 40_000 + "]\n",
])
def test_many_tokens_are_judged_before_parsing(tmp_path: Path, body: str) -> None:
    findings, _ = lint_hostile(tmp_path, "generated.py", body)
    assert [f["code"] for f in findings] == ["NN904"]


@pytest.mark.slow
def test_literal_under_the_token_budget_is_still_read(tmp_path: Path) -> None:
    """Just under the budget, the file is parsed and analysed (its own finding is reported)."""
    text = CONTROL.replace("d =", "e =") + "table = [" + ", ".join(["1"] * 39_000) + "]\n"
    findings, _ = lint_hostile(tmp_path, "table.py", text)
    assert [f["code"] for f in findings] == ["NN007"]


@pytest.mark.parametrize("text", [
    "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n",
    "x = " + "[" * 10_000 + "]" * 10_000 + "\n",
    "x = " + "-" * 10_000 + "1\n",
    "x = " + " + ".join(["a"] * 20_000) + "\n",
    "x = a" + ".b" * 50_000 + "\n",
    "x = " + "1 if a else " * 5_000 + "1\n",
])
def test_deep_nesting_is_refused_by_cpython_first(tmp_path: Path, text: str) -> None:
    """Nesting CPython cannot compile is a syntax error (one line), found before libcst runs."""
    findings, _ = lint_hostile(tmp_path, "deep.py", text)
    assert [f["code"] for f in findings] == ["NN901"]


@pytest.mark.parametrize("text", [
    "x = " + "[" * 199 + "1" + "]" * 199 + "\ny = str(x)\n",
    "x = a" + ".b" * 900 + "\n",
])
def test_deep_nesting_python_accepts_is_an_analysis_limit(tmp_path: Path, text: str) -> None:
    findings, _ = lint_hostile(tmp_path, "deep.py", text)
    assert [(f["code"], f["severity"]) for f in findings] in ([], [("NN904", "info")])


def test_wall_time_budget_gives_nn904(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the wall-time budget a file gets one NN904 line; its partial analysis is not reported."""
    monkeypatch.setattr(Interpreter, "MAX_SECONDS", 0.0)
    monkeypatch.setattr(Interpreter, "CLOCK_EVERY", 1)
    findings = lint_source(tmp_path, CONTROL)
    assert [(f.code, f.severity.value) for f in findings] == [("NN904", "info")]
    assert "took longer than its budget" in findings[0].message


# ------------------------------------------------------------------ near misses: folding still works


@pytest.mark.parametrize("code", [
    "import torch.nn as nn\nhidden = 4 * 64\np = hidden / 256 - 0.1\nd = nn.Dropout(p)\n",
    "import torch.nn as nn\nbig = 10 ** 30\np = (big * 9) // big / 10\nd = nn.Dropout(p)\n",
    "import torch.nn as nn\nfactor = 3 ** 2\nd = nn.Dropout(factor / 10)\n",
    "import torch.nn as nn\nrates = [0.1, 0.2] * 32 + [0.9]\nd = nn.Dropout(rates[-1])\n",
    "import torch.nn as nn\nrates = [" + ", ".join(["0.25"] * 3000) + ", 0.9]\nd = nn.Dropout(rates[-1])\n",
    "import torch.nn as nn\nrates = {'enc': 0.9, 'dec': 0.1}\nkey = 'e' + 'nc'\nd = nn.Dropout(rates[key])\n",
    "import torch.nn as nn\nsizes = [i * 0.3 for i in range(4)]\nd = nn.Dropout(round(sizes[3], 1))\n",
])
def test_ordinary_folding_still_works(tmp_path: Path, code: str) -> None:
    findings = lint_source(tmp_path, code)
    assert [f.code for f in findings] == ["NN007"], code


def test_folded_layer_sizes_still_reach_the_model(tmp_path: Path) -> None:
    """``hidden = 4 * 64`` folds into the layer: the model's dropout after it is still judged."""
    code = (
        "import torch.nn as nn\n"
        "hidden = 4 * 64\n"
        "sizes = [784] + [hidden] * 3 + [10]\n"
        "layers = []\n"
        "for a, b in zip(sizes, sizes[1:]):\n"
        "    layers += [nn.Linear(a, b), nn.ReLU()]\n"
        "model = nn.Sequential(*layers, nn.Dropout(0.95))\n"
    )
    findings = lint_source(tmp_path, code)
    assert "NN007" in [f.code for f in findings]
