"""Jupyter notebooks: linted cell by cell as one program; findings name the cell."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_cli


def notebook(tmp_path: Path, name: str, cells: list, raw: str | None = None) -> str:
    document = {"cells": [{"cell_type": kind, "metadata": {}, "source": source} for kind, source in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / name).write_text(raw if raw is not None else json.dumps(document), encoding="utf-8")
    return name


CELLS = [
    ("markdown", "# Regression"),
    ("code", ["%matplotlib inline\n", "!pip install torch\n", "import torch.nn as nn\n"]),
    ("code", "%%bash\necho 'not python ('\n"),
    ("code", ["%%time\n", "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.ReLU())\n"]),
    ("code", ["model?\n", "loss = nn.MSELoss()(model(x), y)\n", "drop = nn.Dropout(0.9)  # nnlint: ignore[NN007]\n"]),
]


def test_findings_name_the_cell_and_magics_do_not_break_parsing(tmp_path):
    result = run_cli(["--format", "json", notebook(tmp_path, "train.ipynb", CELLS)], tmp_path)
    assert result.returncode == 1, result
    [finding] = result.json["findings"]
    assert (finding["code"], finding["cell"]) == ("NN001", {"number": 4, "line": 2})
    assert finding["line"] == 7  # counted through the joined code cells (the blanked %%bash cell included)
    text = run_cli(["--no-color", "train.ipynb"], tmp_path)
    assert "train.ipynb:cell 4:2:" in text.stdout and "nn.ReLU())" in text.stdout


def test_python_findings_have_no_cell_key(tmp_path):
    (tmp_path / "m.py").write_text("import torch.nn as nn\nd = nn.Dropout(0.9)\n", encoding="utf-8")
    [finding] = run_cli(["--format", "json", "m.py"], tmp_path).json["findings"]
    assert "cell" not in finding


def test_a_notebook_imports_the_module_beside_it(tmp_path):
    (tmp_path / "model.py").write_text(
        "import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(3, 1)\n\n    def forward(self, x):\n        return nn.functional.relu(self.fc(x))\n",
        encoding="utf-8")
    name = notebook(tmp_path, "explore.ipynb", [("code", "from model import Net\nimport torch\n"),
                                                ("code", "net = Net()\nloss = torch.nn.L1Loss()(net(x), y)\n")])
    result = run_cli(["--format", "json", name, "model.py"], tmp_path)
    assert [(f["code"], f["path"]) for f in result.json["findings"]] == [("NN001", "model.py")], result


def test_syntax_error_in_a_cell_and_a_broken_notebook(tmp_path):
    bad_cell = notebook(tmp_path, "a.ipynb", [("code", "import torch\n"), ("code", "x = (\n")])
    broken = notebook(tmp_path, "b.ipynb", [], raw="{not json")
    result = run_cli(["--format", "json", bad_cell, broken], tmp_path)
    assert result.returncode == 2, result
    by_path = {f["path"]: f for f in result.json["findings"]}
    assert by_path["a.ipynb"]["code"] == "NN901" and by_path["a.ipynb"]["cell"]["number"] == 2
    assert by_path["b.ipynb"]["code"] == "NN902" and "notebook" in by_path["b.ipynb"]["message"]


def test_a_magic_alone_in_a_block_keeps_the_cell_valid(tmp_path):
    name = notebook(tmp_path, "colab.ipynb", [("code", "import sys\nif 'google.colab' in sys.modules:\n    %pip install -q torch\n"),
                                              ("code", "import torch.nn as nn\nd = nn.Dropout(0.9)\n")])
    result = run_cli(["--format", "json", name], tmp_path)
    assert [f["code"] for f in result.json["findings"]] == ["NN007"], result
