"""Jupyter notebooks: linted cell by cell as one program; findings name the cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


# Cells in the spellings IPython accepts; each ``# expect`` names the cell line NN007 must be reported at.
IPYTHON_CELLS = [
    ("code", ["%matplotlib inline\n", "%load_ext autoreload\n", "%autoreload 2\n", "import torch.nn as nn\n"]),
    ("code", "!pip install -q torch\nfiles = !ls data\nx = %time sum([1, 2])\nd1 = nn.Dropout(0.9)  # expect 4\n"),
    ("code", "%pip install numpy \\\n    scipy \\\n    pandas\nd2 = nn.Dropout(0.8)  # expect 4\n"),
    ("code", "%%time\nd3 = nn.Dropout(0.9)  # expect 2\n"),
    ("code", ["%%capture captured\n", "import torch\n", "d4 = nn.Dropout(  # expect 3\n", "    0.9)\n"]),
    ("code", "  \n\n%%timeit -n 1 -r 1\nd5 = nn.Dropout(0.9)  # expect 4\n"),
    ("code", "%%bash\necho 'not python ('\n"),
    ("code", "%%writefile helper.py\nimport torch.nn as nn\nhidden = nn.Dropout(0.9)\n"),
    ("markdown", "%%time is a cell magic"),
    ("code", "nn.Linear?\n??nn.Linear\nnn.Dropout??\nd6 = nn.Dropout(0.9)  # expect 4\n"),
    ("code", "    y = 1\n    d7 = nn.Dropout(0.9)  # expect 2\n"),
    ("code", "get_ipython().run_line_magic('matplotlib', 'inline')\nd8 = nn.Dropout(0.9)  # expect 2\n"),
    ("code", ""),
    ("code", []),
    ("code", "n = 3\nprint('%d'\n%(n))\nd9 = nn.Dropout(0.9)  # expect 4\n"),
    ("code", "pip install -q torch"),
    ("code", ["cd data"]),
    ("code", "import sys\nif 'google.colab' in sys.modules:\n    !pip install -q torch \\\n        torchvision\n"
             "d10 = nn.Dropout(0.9)  # expect 5\n"),
    ("code", "%%time\n%time warm = 1\n\n%%capture\nd11 = nn.Dropout(0.9)  # expect 5\n"),
    ("code", "%%time\n%%capture out\nd12 = nn.Dropout(0.9)  # expect 3\n"),
]


def expected_cells(cells: list) -> list[dict]:
    found = []
    for number, (kind, source) in enumerate(cells, start=1):
        for line, text in enumerate(("".join(source) if isinstance(source, list) else source).splitlines(), start=1):
            if kind == "code" and "# expect " in text:
                assert int(text.rsplit("# expect ", 1)[1]) == line  # the annotation states its own line
                found.append({"number": number, "line": line})
    return found


def test_ipython_syntax_is_converted_as_ipython_does_and_lines_map_to_their_cells(tmp_path):
    result = run_cli(["--format", "json", notebook(tmp_path, "magics.ipynb", IPYTHON_CELLS)], tmp_path)
    findings = result.json["findings"]
    assert [f["code"] for f in findings] == ["NN007"] * 12, findings
    assert [f["cell"] for f in findings] == expected_cells(IPYTHON_CELLS)


def test_the_same_cells_as_a_string_or_a_list_of_lines(tmp_path):
    as_lists = [(kind, source.splitlines(keepends=True) if isinstance(source, str) else source)
                for kind, source in IPYTHON_CELLS]
    as_strings = [(kind, "".join(source) if isinstance(source, list) else source) for kind, source in IPYTHON_CELLS]
    a = run_cli(["--format", "json", notebook(tmp_path, "lists.ipynb", as_lists)], tmp_path).json["findings"]
    b = run_cli(["--format", "json", notebook(tmp_path, "strings.ipynb", as_strings)], tmp_path).json["findings"]
    assert [(f["line"], f["cell"]) for f in a] == [(f["line"], f["cell"]) for f in b] and len(a) == 12


def test_a_cell_ipython_rejects_is_nn901_and_the_other_cells_are_still_linted(tmp_path):
    cells = [
        ("code", "import torch.nn as nn\n"),
        ("code", "x = (\n"),
        ("code", "d = nn.Dropout(0.9)\n"),
        ("code", "%%time\nok = 1\nbad = = 2\n"),
        ("code", "# automagic applies to one-line cells only\npip install torch\n"),
        ("code", "    def f(:\n        pass\n"),
        ("code", "e = nn.Dropout(0.95)\n"),
    ]
    result = run_cli(["--format", "json", notebook(tmp_path, "bad.ipynb", cells)], tmp_path)
    assert result.returncode == 1, result  # syntax errors are findings, not unreadable input
    got = [(f["code"], f["cell"]["number"], f["cell"]["line"]) for f in result.json["findings"]]
    assert got == [("NN901", 2, 1), ("NN007", 3, 1), ("NN901", 4, 3), ("NN901", 5, 2), ("NN901", 6, 1),
                   ("NN007", 7, 1)], got
    text = run_cli(["--no-color", "bad.ipynb"], tmp_path).stdout
    assert "bad.ipynb:cell 4:3:" in text and "bad = = 2" in text  # the snippet shows the cell as written


def test_a_finding_on_a_magic_line_shows_the_cell_as_written(tmp_path):
    cells = [("code", "import torch.nn as nn\n%time drop = nn.Dropout(0.9)\nd = nn.Dropout(0.9)\n")]
    text = run_cli(["--no-color", notebook(tmp_path, "t.ipynb", cells)], tmp_path).stdout
    assert "t.ipynb:cell 1:3:" in text and "d = nn.Dropout(0.9)" in text and "get_ipython" not in text


@pytest.mark.parametrize("raw", [
    '{"cells": [{"cell_type": "code", "source": {"a": 1}}]}',
    '{"cells": [{"cell_type": "code", "source": ["x = 1\\n", 2]}]}',
    '{"cells": [{"cell_type": "code", "source": null}]}',
    '{"cells": {"cell_type": "code"}}',
    '{"cells": ["x = 1"]}',
    '[1, 2]',
    '"a string"',
    "[" * 100_000 + "]" * 100_000,
    '{"cells": [{"cell_type": "code", "source": ' + "[" * 50_000 + "]" * 50_000 + "}]}",
    "",
    '{"worksheets": [{"cells": "x"}]}',
], ids=["dict-source", "non-string-line", "null-source", "cells-dict", "cell-string", "array", "string",
        "deeply-nested", "nested-source", "empty", "worksheet-cells-string"])
def test_a_malformed_notebook_is_one_clear_line(tmp_path, raw):
    result = run_cli(["--format", "json", notebook(tmp_path, "odd.ipynb", [], raw=raw)], tmp_path)
    assert result.returncode == 2, result
    [finding] = result.json["findings"]
    assert finding["code"] == "NN902" and "not a valid Jupyter notebook" in finding["message"], finding
    assert "\n" not in finding["message"]


def test_a_cell_the_transformer_raises_on_is_nn901_for_that_cell(monkeypatch):
    from nnlint import ipython_input, notebook as reader

    class Failing:
        def transform_cell(self, cell):
            if "boom" in cell:
                raise IndexError("list index out of range")
            return cell

    monkeypatch.setattr(ipython_input, "_manager", lambda: Failing())
    cells = [{"cell_type": "code", "source": "a = 1\n"}, {"cell_type": "code", "source": "x = 1\nboom\n"},
             {"cell_type": "code", "source": "b = 2\n"}]
    code = reader.read(Path("n.ipynb"), json.dumps({"cells": cells}))
    [error] = code.errors
    assert code.cell_of(error.line) == (2, 1) and "IndexError" in error.message
    assert code.text.splitlines() == ["a = 1", "", "", "b = 2"]


def test_an_nbformat_3_notebook_is_linted(tmp_path):
    # 2012-2015 notebooks keep their cells in worksheets, a code cell's source under "input"
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "markdown", "source": ["# Dropout"]},
                   {"cell_type": "code", "language": "python", "outputs": [],
                    "input": ["import torch.nn as nn\n", "%matplotlib inline\n", "drop = nn.Dropout(0.9)\n"]}]},
        {"cells": [{"cell_type": "code", "language": "python", "outputs": [], "input": "keep = nn.Dropout(0.2)\n"}]}]}
    path = notebook(tmp_path, "old.ipynb", [], raw=json.dumps(old))
    result = run_cli(["--format", "json", path], tmp_path)
    [finding] = result.json["findings"]
    assert (finding["code"], finding["cell"]) == ("NN007", {"number": 2, "line": 3}), finding


def _with_outputs(tmp_path: Path, outputs: list) -> list:
    """The CELLS notebook with ``outputs`` saved on the cell that builds the ReLU-ended regressor."""
    document = json.loads((tmp_path / notebook(tmp_path, "run.ipynb", CELLS)).read_text(encoding="utf-8"))
    for cell in document["cells"]:
        cell["outputs"] = []
    document["cells"][3]["outputs"] = outputs
    (tmp_path / "run.ipynb").write_text(json.dumps(document), encoding="utf-8")
    return run_cli(["--format", "json", "run.ipynb"], tmp_path).json["findings"]


def test_a_finding_in_a_cell_that_raised_when_last_run_is_info(tmp_path):
    # a demonstration of an error ("this will error"): the cell's code did not run as written
    [finding] = _with_outputs(tmp_path, [{"output_type": "error", "ename": "RuntimeError", "evalue": "dtype",
                                          "traceback": []}])
    assert (finding["code"], finding["severity"], finding["confidence"]) == ("NN001", "info", "possible")
    assert "this cell raised RuntimeError when the notebook was last run" in finding["message"]


@pytest.mark.parametrize("outputs", [
    [{"output_type": "stream", "name": "stderr", "text": ["RuntimeError: printed, not raised\n"]}],
    [{"output_type": "execute_result", "data": {"text/plain": ["Sequential(...)"]}, "metadata": {},
      "execution_count": 3}],
])
def test_a_cell_whose_output_shows_no_exception_keeps_its_severity(tmp_path, outputs):
    [finding] = _with_outputs(tmp_path, outputs)
    assert (finding["code"], finding["severity"]) == ("NN001", "error")
