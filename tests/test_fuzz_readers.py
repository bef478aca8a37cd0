"""Property-based fuzzing of the readers a pull request can feed: notebooks, TOML configs, ONNX.

The property, for any input: nnlint answers (exit 0, 1 or 2), never with a traceback, an
internal error (NN999, or the top level's "internal error" line) or an exception escaping
``main``; a bad input is one line naming its file (NN902 for a notebook or a model, a
configuration error naming the file for a config). Runs in-process through ``nnlint.cli.main``
(the CLI's whole path, without a new Python per example), with few examples and a deadline:
the suite's fuzz budget is seconds, not minutes.
"""

from __future__ import annotations

import io
import json
import math
import random
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlint.cli import main

FUZZ = settings(max_examples=40, deadline=2000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def lint(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--no-color", *args])
    return code, out.getvalue(), err.getvalue()


def assert_answered(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), (code, out, err)
    for text in (out, err):
        assert "Traceback" not in text and "internal error" not in text and "NN999" not in text, (out, err)
    if code == 2:
        assert err.strip() or "NN902" in out, (out, err)  # the reason, in one line of either


# ---------------------------------------------------------------------------------- notebooks

#: No lone surrogates: JSON can carry them ("\ud800"), but nnlint writes none itself.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | TEXT
NOTEBOOK_KEYS = st.sampled_from(["cells", "cell_type", "source", "input", "outputs", "output_type", "ename",
                                 "worksheets", "metadata", "nbformat", "code", "markdown", "error"])
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) |
                       st.dictionaries(NOTEBOOK_KEYS | TEXT, inner, max_size=4), max_leaves=25)
CODE_LINES = st.sampled_from(["import torch.nn as nn\n", "d = nn.Dropout(0.9)\n", "%matplotlib inline\n",
                              "!pip install torch\n", "x?\n", "def f(:\n", "x = (", "\n", "%%bash\n", "\t  y = 1\n"])


@st.composite
def valid_notebooks(draw) -> dict:
    cells = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["code", "code", "markdown", "raw"]))
        cell = {"cell_type": kind, "metadata": {}, "source": draw(st.lists(CODE_LINES, max_size=4))}
        if kind == "code":
            cell["outputs"] = draw(st.lists(st.sampled_from([
                {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []},
                {"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]), max_size=2))
        cells.append(cell)
    if draw(st.booleans()):
        return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for cell in cells:  # nbformat 3: "input" in worksheets
        cell["input"] = cell.pop("source")
    return {"worksheets": [{"cells": cells}], "metadata": {}, "nbformat": 3}


def replace_somewhere(document, value, path: list[int]):
    """``document`` with the node that ``path`` picks (child indexes, modulo) replaced by ``value``."""
    if not path or not isinstance(document, (list, dict)) or not document:
        return value
    if isinstance(document, list):
        index = path[0] % len(document)
        return [replace_somewhere(v, value, path[1:]) if i == index else v for i, v in enumerate(document)]
    key = list(document)[path[0] % len(document)]
    return {k: replace_somewhere(v, value, path[1:]) if k == key else v for k, v in document.items()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def lint_notebook(folder: Path, text: str) -> None:
    path = folder / "nb.ipynb"
    path.write_text(text, encoding="utf-8")
    assert_answered(*lint("--format", "json", str(path)))


@FUZZ
@given(document=JSONISH)
def test_any_json_as_a_notebook(workdir, document):
    lint_notebook(workdir, json.dumps(document))


@FUZZ
@given(document=valid_notebooks(), value=JSONISH, path=st.lists(st.integers(0, 20), max_size=6))
def test_mutated_notebooks(workdir, document, value, path):
    lint_notebook(workdir, json.dumps(replace_somewhere(document, value, path)))


@FUZZ
@given(document=valid_notebooks(), cut=st.integers(0, 10_000), junk=st.text(max_size=5))
def test_damaged_notebook_text(workdir, document, cut, junk):
    text = json.dumps(document)
    cut %= len(text) + 1
    lint_notebook(workdir, text[:cut] + junk + text[cut:][len(junk):])


# ------------------------------------------------------------------------------------ configs

CONFIG_KEYS = st.sampled_from([
    "select", "ignore", "extend-ignore", "exclude", "extend-exclude", "per-file-ignores", "fail-on", "task",
    "ignore-nodes", "test-files", "models", "trace", "import-timeout", "import-memory", "input-shape", "args",
    "kwargs", "batch-size-extreme", "max-batch-size", "NN007", "ALL", "regression", "*.py", "tool", "nnlint"])
TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
    | CONFIG_KEYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CONFIG_KEYS | TEXT, inner, max_size=3),
    max_leaves=12)


def toml(value) -> str:
    """A TOML inline value (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value) if isinstance(value, int) else json.dumps(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) and "e" not in repr(value) else f"{value:.6e}"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def lint_with_config(folder: Path, text: str) -> None:
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    (folder / "ctl.py").write_text("import torch.nn as nn\nd = nn.Dropout(0.9)\n", encoding="utf-8")
    code, out, err = lint("--format", "json", str(folder / "ctl.py"))
    assert_answered(code, out, err)
    if code == 2:  # a configuration error: one line naming the file
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "pyproject.toml" in lines[0], err


@FUZZ
@given(table=st.dictionaries(CONFIG_KEYS | TEXT, TOML_VALUES, max_size=5))
def test_any_nnlint_table(tmp_path_factory, table):
    folder = tmp_path_factory.mktemp("cfg")
    lint_with_config(folder, "[tool.nnlint]\n" + "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in table.items()))


@FUZZ
@given(key=CONFIG_KEYS, sub=st.sampled_from(["trace", "models", "per-file-ignores", "batch-size-extreme",
                                             "trace.models.Net", "tool"]), value=TOML_VALUES)
def test_any_value_in_a_sub_table(tmp_path_factory, key, sub, value):
    folder = tmp_path_factory.mktemp("cfg")
    lint_with_config(folder, f"[tool.nnlint.{sub}]\n{json.dumps(key)} = {toml(value)}\n")


@FUZZ
@given(text=st.text(st.sampled_from('[]{}="., \n#tool nnlint select 1\'\\'), max_size=60))
def test_any_text_as_a_pyproject(tmp_path_factory, text):
    lint_with_config(tmp_path_factory.mktemp("cfg"), text)


# --------------------------------------------------------------------------------------- onnx

onnx = pytest.importorskip("onnx")
from tests import onnx_builders as ob  # noqa: E402  (needs onnx and numpy)

SMALL_MODELS = [ob.dropout_opset13(0.9).SerializeToString(), ob.conv_bn(True).SerializeToString(),
                ob.log_of_softmax().SerializeToString()]


def lint_model(folder: Path, data: bytes) -> None:
    path = folder / "m.onnx"
    path.write_bytes(data)
    code, out, err = lint("--format", "json", str(path))
    assert_answered(code, out, err)
    if code == 2:
        assert "m.onnx" in out + err and "NN902" in out, (out, err)


@FUZZ
@given(data=st.binary(max_size=512))
def test_any_bytes_as_a_model(workdir, data):
    lint_model(workdir, data)


@FUZZ
@given(which=st.integers(0, len(SMALL_MODELS) - 1), seed=st.integers(0, 2**32), rounds=st.integers(1, 3))
def test_mutated_models(workdir, which, seed, rounds):
    data, gen = SMALL_MODELS[which], random.Random(seed)
    for _ in range(rounds):
        data, _ = ob.mutate(data, gen) if data else (data, "")
    lint_model(workdir, data)
