"""Models exported by PyTorch's two exporters (see fixtures/onnx/export_models.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import run_cli

EXPORTS = Path(__file__).parent / "fixtures" / "onnx"
EXPORTERS = ["torchscript", "dynamo"]


def _copy(tmp_path: Path, name: str) -> str:
    for path in EXPORTS.glob(f"{name}*"):
        shutil.copy(path, tmp_path / path.name)  # the dynamo export's .onnx.data comes along
    return name


def _findings(result):
    return sorted((f["code"], f["severity"]) for f in result.json["findings"])


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_healthy_model_is_clean(tmp_path, exporter):
    result = run_cli(["--format", "json", _copy(tmp_path, f"healthy_mlp.{exporter}.onnx")], tmp_path)
    assert result.returncode == 0 and result.json["findings"] == [], result


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.slow
def test_relu_output_is_an_error_only_for_regression(tmp_path, exporter):
    model = _copy(tmp_path, f"relu_regressor.{exporter}.onnx")
    assert run_cli(["--format", "json", model], tmp_path).json["findings"] == []
    assert _findings(run_cli(["--format", "json", "--task", "regression", model], tmp_path)) == [("NN001", "error")]
    (tmp_path / "train.py").write_text("import torch.nn as nn\ncriterion = nn.MSELoss()\n", encoding="utf-8")
    joined = run_cli(["--format", "json", model, "train.py"], tmp_path)
    assert _findings(joined) == [("NN001", "error")], joined


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_zero_weights_are_found_also_in_external_data(tmp_path, exporter):
    result = run_cli(["--format", "json", _copy(tmp_path, f"convnet.{exporter}.onnx")], tmp_path)
    errors = [f for f in result.json["findings"] if f["severity"] != "info"]
    assert [(f["code"], "fc.weight" in f["message"]) for f in errors] == [("NN004", True)], result
    # BatchNorm is folded by both exporters; dynamo also drops conv1's all-zero folded bias,
    # which is why a bias-free layer in a graph is only advice
    assert all(f["code"] == "NN003" for f in result.json["findings"] if f["severity"] == "info")
