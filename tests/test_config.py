"""Configuration: ``[tool.nnlint]`` in the nearest pyproject.toml, ``--config``, and config errors."""

from __future__ import annotations

import pytest

from .conftest import BUGGY, CLEAN, ERROR_DROPOUT, MODEL_RELU, TWO_RULES, run_cli, write

#: A training loader with batches of 2048: silent by default (max-batch-size 8192), NN006 info at 1000.
LOADER_2048 = """\
import torch.nn as nn
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 2))
train_loader = DataLoader(train_set, batch_size=2048, shuffle=True)
"""


def pyproject(tmp_path, body: str, folder: str = "."):
    return write(tmp_path, f"{folder}/pyproject.toml", "[project]\nname = \"demo\"\n\n" + body)


# ----------------------------------------------------------------------------- keys that work


@pytest.mark.parametrize(
    "table, expected",
    [
        ("", ["NN003", "NN007"]),
        ('select = ["NN007"]', ["NN007"]),
        ('select = ["missing-bias"]', ["NN003"]),
        ('select = ["NN0"]', ["NN003", "NN007"]),
        ('select = []', []),
        ('ignore = ["NN007"]', ["NN003"]),
        ('ignore = ["dropout-keep-drop-confusion"]', ["NN003"]),
        ('extend-ignore = ["NN003"]', ["NN007"]),
        ('ignore = ["NN003"]\nextend-ignore = ["NN007"]', []),
        ('select = ["NN003", "NN007"]\nignore = ["NN007"]', ["NN003"]),
    ],
)
def test_select_and_ignore_from_pyproject(tmp_path, table, expected):
    pyproject(tmp_path, f"[tool.nnlint]\n{table}\n")
    write(tmp_path, "two.py", TWO_RULES)
    result = run_cli(["--format", "json", "two.py"], tmp_path)
    assert result.codes() == expected, result
    assert result.returncode == (1 if expected else 0)


def test_cli_select_replaces_config_select_and_cli_ignore_adds(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nselect = ["NN003"]\n')
    write(tmp_path, "two.py", TWO_RULES)
    assert run_cli(["--format", "json", "--select", "NN007", "two.py"], tmp_path).codes() == ["NN007"]
    pyproject(tmp_path, '[tool.nnlint]\nignore = ["NN003"]\n')
    assert run_cli(["--format", "json", "two.py"], tmp_path).codes() == ["NN007"]
    assert run_cli(["--format", "json", "--ignore", "NN007", "two.py"], tmp_path).codes() == []


def test_pyproject_without_nnlint_table_means_defaults(tmp_path):
    pyproject(tmp_path, "[tool.black]\nline-length = 100\n")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "bug.py"], tmp_path)
    assert result.returncode == 1 and result.codes() == ["NN007"], result


def test_nearest_pyproject_above_the_first_path_wins_over_cwd(tmp_path):
    # cwd has a config that would select everything; the project's own config ignores NN007
    pyproject(tmp_path, '[tool.nnlint]\nselect = ["ALL"]\n')
    pyproject(tmp_path, '[tool.nnlint]\nignore = ["NN007"]\n', folder="proj")
    write(tmp_path, "proj/src/deep/two.py", TWO_RULES)
    result = run_cli(["--format", "json", "proj/src/deep/two.py"], tmp_path)
    assert result.codes() == ["NN003"], result
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.codes() == ["NN003"], result
    # from inside the project, the same config applies
    result = run_cli(["--format", "json", "two.py"], tmp_path / "proj/src/deep")
    assert result.codes() == ["NN003"], result


def test_pyproject_from_cwd_is_not_used_for_paths_elsewhere(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nignore = ["NN007"]\n', folder="here")
    write(tmp_path, "elsewhere/bug.py", BUGGY)
    result = run_cli(["--format", "json", "../elsewhere/bug.py"], tmp_path / "here")
    assert result.codes() == ["NN007"], result


@pytest.mark.parametrize("content", ['ignore = ["NN007"]\n', '[tool.nnlint]\nignore = ["NN007"]\n'])
def test_config_option_reads_plain_toml(tmp_path, content):
    write(tmp_path, "settings/nnlint.toml", content)
    write(tmp_path, "two.py", TWO_RULES)
    result = run_cli(["--format", "json", "--config", "settings/nnlint.toml", "two.py"], tmp_path)
    assert result.codes() == ["NN003"], result


def test_config_option_replaces_pyproject(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nignore = ["NN003"]\n')
    write(tmp_path, "other.toml", 'ignore = ["NN007"]\n')
    write(tmp_path, "two.py", TWO_RULES)
    result = run_cli(["--format", "json", "--config", "other.toml", "two.py"], tmp_path)
    assert result.codes() == ["NN003"], result


def test_config_option_with_missing_file(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--config", "nope.toml", "bug.py"], tmp_path)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1 and "nope.toml" in result.stderr_lines[0], result
    assert "NN007" not in result.stdout


@pytest.mark.parametrize(
    "table, fail_on_option, code",
    [
        ('fail-on = "error"', [], 0),
        ('fail-on = "error"', ["--fail-on", "warning"], 1),
        ('fail-on = "warning"', [], 1),
        ('fail-on = "info"', ["--fail-on", "error"], 0),
    ],
)
def test_fail_on_from_config_and_cli_override(tmp_path, table, fail_on_option, code):
    pyproject(tmp_path, f"[tool.nnlint]\n{table}\n")
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli([*fail_on_option, "bug.py"], tmp_path)
    assert result.returncode == code, result
    assert "NN007" in result.stdout


def test_fail_on_error_still_fails_on_errors(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nfail-on = "error"\n')
    write(tmp_path, "bad.py", ERROR_DROPOUT)
    assert run_cli(["bad.py"], tmp_path).returncode == 1


def test_task_regression(tmp_path):
    write(tmp_path, "model.py", MODEL_RELU)  # no loss in sight: nnlint cannot tell the task
    assert run_cli(["--format", "json", "model.py"], tmp_path).codes() == []
    pyproject(tmp_path, '[tool.nnlint]\ntask = "regression"\n')
    result = run_cli(["--format", "json", "model.py"], tmp_path)
    assert result.codes() == ["NN001"], result
    pyproject(tmp_path, '[tool.nnlint]\ntask = "classification"\n')
    assert run_cli(["--format", "json", "model.py"], tmp_path).codes() == []


def test_per_check_table(tmp_path):
    write(tmp_path, "loader.py", LOADER_2048)
    assert run_cli(["--format", "json", "loader.py"], tmp_path).codes() == []
    pyproject(tmp_path, "[tool.nnlint.batch-size-extreme]\nmax-batch-size = 1000\n")
    result = run_cli(["--format", "json", "--fail-on", "info", "loader.py"], tmp_path)
    assert result.returncode == 1, result
    [finding] = result.json["findings"]
    assert finding["code"] == "NN006" and finding["severity"] == "info"
    assert "1000" in finding["message"] and "2048" in finding["message"]
    pyproject(tmp_path, "[tool.nnlint.batch-size-extreme]\nmax-batch-size = 4096\n")
    assert run_cli(["--format", "json", "loader.py"], tmp_path).codes() == []


def test_per_file_ignores(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nper-file-ignores = { "scripts/*.py" = ["NN007"], "legacy/**" = ["missing-bias", "NN007"] }\n')
    write(tmp_path, "scripts/two.py", TWO_RULES)
    write(tmp_path, "legacy/old/two.py", TWO_RULES)
    write(tmp_path, "src/two.py", TWO_RULES)
    result = run_cli(["--format", "json", "."], tmp_path)
    got = sorted((f["path"], f["code"]) for f in result.json["findings"])
    assert got == [("scripts/two.py", "NN003"), ("src/two.py", "NN003"), ("src/two.py", "NN007")], result


def test_per_file_ignores_are_relative_to_the_config_not_cwd(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nper-file-ignores = { "scripts/*.py" = ["NN007"] }\n', folder="proj")
    write(tmp_path, "proj/scripts/bug.py", BUGGY)
    write(tmp_path, "proj/src/bug.py", BUGGY)
    result = run_cli(["--format", "json", "proj/scripts/bug.py", "proj/src/bug.py"], tmp_path)
    assert [f["path"] for f in result.json["findings"]] == ["proj/src/bug.py"], result


def test_exclude_and_extend_exclude_in_folder_walk(tmp_path):
    pyproject(tmp_path, '[tool.nnlint]\nexclude = ["generated/"]\nextend-exclude = ["*_pb2.py", "scratch.py"]\n',
              folder="proj")
    write(tmp_path, "proj/src/model.py", BUGGY)
    write(tmp_path, "proj/generated/model.py", BUGGY)
    write(tmp_path, "proj/src/generated/model.py", BUGGY)
    write(tmp_path, "proj/src/api_pb2.py", BUGGY)
    write(tmp_path, "proj/scratch.py", BUGGY)
    for cwd, arg, shown in ((tmp_path / "proj", ".", "src/model.py"), (tmp_path, "proj", "proj/src/model.py")):
        result = run_cli(["--format", "json", arg], cwd)
        assert [f["path"] for f in result.json["findings"]] == [shown], result
        assert result.json["summary"]["files"] == 1


# ----------------------------------------------------------------------------- config errors


def assert_config_error(result, *needles):
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr_lines) == 1, result
    line = result.stderr_lines[0]
    for needle in needles:
        assert needle in line, (needle, line)
    assert "NN007" not in result.stdout, "no linting with a broken configuration"


@pytest.mark.parametrize(
    "body, needles",
    [
        ('[tool.nnlint]\nbogus = 1\n', ["bogus"]),
        ('[tool.nnlint]\nselect = ["NN007"]\nexlude = ["x"]\n', ["exlude"]),
        ('[tool.nnlint]\nfail-on = "fatal"\n', ["fail-on"]),
        ('[tool.nnlint]\ntask = "banana"\n', ["task"]),
        ('[tool.nnlint]\nselect = "NN007"\n', ["select"]),
        ('[tool.nnlint]\nexclude = 3\n', ["exclude"]),
        ('[tool.nnlint]\nper-file-ignores = ["tests/*.py"]\n', ["per-file-ignores"]),
        ('[tool.nnlint]\nper-file-ignores = { "tests/*.py" = "NN007" }\n', ["per-file-ignores"]),
        ('[tool.nnlint.batch-size-extreme]\nmax-batch-size = "lots"\n', ["max-batch-size"]),
        ('[tool.nnlint.batch-size-extreme]\nmax-batch-size = 1.5\n', ["max-batch-size"]),
        ('[tool.nnlint.batch-size-extreme]\nmax-batchsize = 3\n', ["max-batchsize"]),
        ('[tool.nnlint.no-such-check]\nx = 3\n', ["no-such-check"]),
        ('[tool.nnlint]\nselect = ["NN777"]\n', ["NN777"]),
        ('[tool.nnlint]\nignore = ["no-such-rule"]\n', ["no-such-rule"]),
        ('[tool.nnlint]\nper-file-ignores = { "tests/*.py" = ["NOPE9"] }\n', ["NOPE9"]),
        ('[tool]\nnnlint = 5\n', ["pyproject.toml"]),
        ('[tool.nnlint\nselect = ["NN007"]\n', ["pyproject.toml"]),
        ('[tool.nnlint]\nselect = ["NN007"\n', ["pyproject.toml"]),
        ('[tool.nnlint.batch-size-extreme]\nmax-batch-size = true\n', ["max-batch-size"]),
        ('[tool.nnlint.batch-size-extreme]\nmax-batch-size = "1000"\n', ["max-batch-size"]),
    ],
)
def test_bad_pyproject_is_a_one_line_error(tmp_path, body, needles):
    write(tmp_path, "pyproject.toml", body)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["bug.py"], tmp_path)
    assert_config_error(result, *needles)


@pytest.mark.parametrize(
    "body, needles",
    [
        ('bogus = 1\n', ["bogus", "bad.toml"]),
        ('fail-on = "never"\n', ["fail-on", "bad.toml"]),
        ('select = [\n', ["bad.toml"]),
        ('[tool.nnlint]\nignore = "NN007"\n', ["ignore", "bad.toml"]),
    ],
)
def test_bad_config_file_is_a_one_line_error(tmp_path, body, needles):
    write(tmp_path, "bad.toml", body)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--config", "bad.toml", "bug.py"], tmp_path)
    assert_config_error(result, *needles)


def test_non_utf8_pyproject_is_a_one_line_error(tmp_path):
    write(tmp_path, "pyproject.toml", b'[tool.nnlint]\n# caf\xe9\nselect = ["NN007"]\n')
    write(tmp_path, "bug.py", BUGGY)
    assert_config_error(run_cli(["bug.py"], tmp_path), "pyproject.toml")


def test_config_error_with_json_format_is_still_one_line_on_stderr(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.nnlint]\nbogus = 1\n")
    write(tmp_path, "clean.py", CLEAN)
    result = run_cli(["--format", "json", "clean.py"], tmp_path)
    assert_config_error(result, "bogus")
    assert result.stdout == ""


def test_config_error_on_a_folder(tmp_path):
    write(tmp_path, "proj/pyproject.toml", "[tool.nnlint]\nfail-on = 3\n")
    write(tmp_path, "proj/pkg/bug.py", BUGGY)
    result = run_cli(["proj"], tmp_path)
    assert_config_error(result, "fail-on")


@pytest.mark.parametrize("key, value", [("fail_on", '"info"'), ("test_files", "[]"), ("extend_ignore", '["NN003"]')])
def test_keys_are_spelled_as_documented_with_hyphens(tmp_path, key, value):
    pyproject(tmp_path, f"[tool.nnlint]\n{key} = {value}\n")
    write(tmp_path, "model.py", MODEL_RELU)
    assert_config_error(run_cli(["model.py"], tmp_path), f"unknown key '{key}'")
