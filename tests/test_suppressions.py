"""Inline suppressions and ``--report-unused-suppressions`` (NN903)."""

from __future__ import annotations

import pytest

from .conftest import MODEL_RELU, TRAIN_MSE, run_cli, write

TEMPLATE = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout(0.9){comment}

    def forward(self, x):
        return self.fc(self.drop(x))
"""


SILENCING = [
    "  # nnlint: ignore[NN007]",
    "  # nnlint: ignore[nn007]",
    "  # nnlint: ignore[dropout-keep-drop-confusion]",
    "  # nnlint: ignore[NN003, NN007]",
    "  # nnlint: ignore[missing-bias,dropout-keep-drop-confusion]",
    "  # nnlint: ignore",
    "  # noqa: NN007",
    "  # noqa:NN007",
    "  # NOQA: NN007",
    "  # noqa: E501, NN007",
    "  # noqa",
    "  # keep 10%, see paper  # nnlint: ignore[NN007]",
]
NOT_SILENCING = [
    "",
    "  # noqa: E501",
    "  # noqa: F401,E501",
    "  # nnlint: ignore[NN003]",
    "  # nnlint: ignore[missing-bias]",
    "  # nnlint: ignore[NN002]",
    "  # type: ignore",
    "  # pylint: disable=all",
]

MULTILINE = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.drop = nn.Dropout({first}
            0.9,{middle}
        ){last}

    def forward(self, x):
        return self.fc(self.drop(x))
"""
MULTILINE_COMMENTS = ["  # nnlint: ignore[NN007]", "  # noqa: NN007", "  # noqa", "  # nnlint: ignore"]
WHERE = ["first", "middle", "last"]


def _variants() -> dict[str, str]:
    """Every single-file case, linted together in one run (one process instead of thirty)."""
    files = {f"line_{i:02d}.py": TEMPLATE.format(comment=c) for i, c in enumerate(SILENCING + NOT_SILENCING)}
    files["other_line.py"] = TEMPLATE.format(comment="").replace(
        "        self.fc = nn.Linear(100, 10)\n", "        self.fc = nn.Linear(100, 10)  # nnlint: ignore[NN007]\n")
    files["multi_none.py"] = MULTILINE.format(first="", middle="", last="")
    for i, comment in enumerate(MULTILINE_COMMENTS):
        for where in WHERE:
            parts = dict.fromkeys(WHERE, "")
            parts[where] = comment
            files[f"multi_{where}_{i}.py"] = MULTILINE.format(**parts)
    return files


@pytest.fixture(scope="module")
def linted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suppressions")
    for name, source in _variants().items():
        write(folder, name, source)
    result = run_cli(["--format", "json", "--jobs", "1", "."], folder)
    assert result.json["summary"]["files"] == len(_variants()), result
    by_file: dict[str, list[dict]] = {name: [] for name in _variants()}
    for finding in result.json["findings"]:
        by_file[finding["path"]].append(finding)
    return by_file


def lint(tmp_path, source, *options):
    write(tmp_path, "net.py", source)
    return run_cli(["--format", "json", *options, "net.py"], tmp_path)


def test_the_template_is_flagged_without_a_comment(tmp_path):
    result = lint(tmp_path, TEMPLATE.format(comment=""))
    assert result.codes() == ["NN007"] and result.returncode == 1, result


def test_a_silenced_finding_gives_exit_0(tmp_path):
    result = lint(tmp_path, TEMPLATE.format(comment="  # nnlint: ignore[NN007]"))
    assert result.codes() == [] and result.returncode == 0, result


@pytest.mark.parametrize("index", range(len(SILENCING)), ids=[c.strip() for c in SILENCING])
def test_suppression_on_the_reported_line(linted, index):
    assert linted[f"line_{index:02d}.py"] == []


@pytest.mark.parametrize("index", range(len(NOT_SILENCING)), ids=[c.strip() or "no-comment" for c in NOT_SILENCING])
def test_comments_that_do_not_name_the_rule_do_not_silence_it(linted, index):
    findings = linted[f"line_{len(SILENCING) + index:02d}.py"]
    assert [(f["code"], f["line"]) for f in findings] == [("NN007", 8)]


def test_suppression_on_another_line_does_not_silence(linted):
    assert [f["code"] for f in linted["other_line.py"]] == ["NN007"]


def test_multiline_expression_is_flagged(linted):
    [finding] = linted["multi_none.py"]
    assert finding["code"] == "NN007"
    assert finding["line"] == 8 and finding["end_line"] == 10


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("index", range(len(MULTILINE_COMMENTS)), ids=[c.strip() for c in MULTILINE_COMMENTS])
def test_suppression_on_any_line_of_a_multiline_expression(linted, where, index):
    assert linted[f"multi_{where}_{index}.py"] == []


def test_each_finding_needs_its_own_suppression(tmp_path):
    source = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.a = nn.Dropout(0.9)  # nnlint: ignore[NN007]
        self.b = nn.Dropout(0.8)
        self.c = nn.Dropout(0.75)  # noqa

    def forward(self, x):
        return self.fc(self.c(self.b(self.a(x))))
"""
    result = lint(tmp_path, source)
    assert [(f["code"], f["line"]) for f in result.json["findings"]] == [("NN007", 9)], result


def test_suppression_in_the_model_file_silences_a_cross_file_finding(tmp_path):
    write(tmp_path, "model.py", MODEL_RELU.replace(
        "return F.relu(self.out(F.relu(self.hidden(x))))",
        "return F.relu(self.out(F.relu(self.hidden(x))))  # nnlint: ignore[output-activation-regression]"))
    write(tmp_path, "train.py", TRAIN_MSE)
    result = run_cli(["--format", "json", "--report-unused-suppressions", "model.py", "train.py"], tmp_path)
    assert result.codes() == [], result
    assert result.returncode == 0


# ----------------------------------------------------------------------------- unused suppressions

UNUSED = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)  # nnlint: ignore[NN007]
        self.drop = nn.Dropout(0.9)  # nnlint: ignore[NN007]
        self.drop2 = nn.Dropout(0.2)  # nnlint: ignore
        self.drop3 = nn.Dropout(0.1)  # noqa: E501
        self.drop4 = nn.Dropout(0.1)  # noqa

    def forward(self, x):
        return self.fc(self.drop4(self.drop3(self.drop2(self.drop(x)))))
"""


def test_unused_suppressions_are_not_reported_by_default(tmp_path):
    result = lint(tmp_path, UNUSED)
    assert result.codes() == [], result
    assert result.returncode == 0


def test_report_unused_suppressions(tmp_path):
    result = lint(tmp_path, UNUSED, "--report-unused-suppressions")
    got = [(f["code"], f["name"], f["line"]) for f in result.json["findings"]]
    # line 7 names NN007 where there is none; line 9 is a bare nnlint ignore that silences nothing;
    # the used one (line 8) and other linters' / bare noqa comments are not reported
    assert got == [("NN903", "unused-suppression", 7), ("NN903", "unused-suppression", 9)], result
    assert result.returncode == 1
    finding = result.json["findings"][0]
    assert finding["column"] == UNUSED.splitlines()[6].index("#") + 1


def test_unused_suppression_in_text_output(tmp_path):
    write(tmp_path, "net.py", UNUSED)
    result = run_cli(["--report-unused-suppressions", "net.py"], tmp_path)
    assert "net.py:7:" in result.stdout and "NN903" in result.stdout, result
    assert result.returncode == 1


def test_unused_suppression_of_a_rule_that_is_not_running_is_not_reported(tmp_path):
    result = lint(tmp_path, UNUSED, "--report-unused-suppressions", "--select", "NN003")
    assert [f["line"] for f in result.json["findings"]] == [9], result  # only the bare ignore


def test_unused_noqa_with_an_nnlint_code_is_reported(tmp_path):
    source = TEMPLATE.format(comment="").replace(
        "self.fc = nn.Linear(100, 10)", "self.fc = nn.Linear(100, 10)  # noqa: NN007"
    ).replace("nn.Dropout(0.9)", "nn.Dropout(0.9)  # noqa: NN007")
    result = lint(tmp_path, source, "--report-unused-suppressions")
    assert [(f["code"], f["line"]) for f in result.json["findings"]] == [("NN903", 7)], result


def test_a_comment_on_the_statement_covers_findings_inside_it(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n"
        "model = nn.Sequential(  # nnlint: ignore[NN007]\n"
        "    nn.Linear(4, 8),\n"
        "    nn.Dropout(0.9),\n"
        ")\n"
        "def build():  # nnlint: ignore[NN007]\n"
        "    return nn.Dropout(0.9)\n",
        encoding="utf-8",
    )
    result = run_cli(["--format", "json", "m.py"], tmp_path)
    # the statement-level comment covers line 4; a comment on a def line does not cover its body
    assert [(f["code"], f["line"]) for f in result.json["findings"]] == [("NN007", 7)], result
