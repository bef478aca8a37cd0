"""The command line: paths, options, output formats, subcommands and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from nnlint import __version__

from .conftest import (
    ANSI_ESCAPE,
    BUGGY,
    BUGGY_COLUMN,
    BUGGY_LINE,
    CLEAN,
    ERROR_DROPOUT,
    INFO_LOADER,
    MODEL_RELU,
    MODEL_RELU_LINE,
    TRAIN_MSE,
    TWO_RULES,
    cli_env,
    run_cli,
    write,
)

FINDING_LINE = re.compile(r"^(?P<path>\S+?):(?P<line>\d+):(?P<col>\d+): (?P<code>NN\d{3}) \[(?P<sev>error|warning|info)\] (?P<msg>.+)$")
SUMMARY_FOUND = re.compile(r"^Found (?P<n>\d+) findings? \((?P<parts>[^)]*)\) in (?P<m>\d+) files?\.$")
SUMMARY_CLEAN = re.compile(r"^All checks passed \((?P<m>\d+) files? linted\)\.$")

def finding_lines(stdout: str) -> list[re.Match]:
    return [m for m in map(FINDING_LINE.match, stdout.splitlines()) if m]


def underlined(stdout: str, line_number: int) -> str:
    """The text of the excerpt of ``line_number`` that stands right above the carets."""
    lines = stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if re.match(rf"^\s*{line_number} \| ", line))
    source, carets = lines[index], lines[index + 1]
    match = re.search(r"\^+", carets)
    assert match, carets
    return source[match.start():match.end()]


# ----------------------------------------------------------------------------- basics


def test_no_paths_exits_0_without_output(tmp_path):
    write(tmp_path, "bug.py", BUGGY)  # present in cwd, but not asked about
    result = run_cli([], tmp_path)
    assert result.returncode == 0, result
    assert result.stdout == ""
    assert result.stderr == ""


def test_version(tmp_path):
    result = run_cli(["--version"], tmp_path)
    assert result.returncode == 0, result
    assert result.stdout.strip() == f"nnlint {__version__}"


def test_help_mentions_options(tmp_path):
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0, result
    for option in ("--format", "--select", "--ignore", "--config", "--no-color", "--fail-on", "--version",
                   "--jobs", "--report-unused-suppressions", "--stdin-filename", "--output-file", "--exit-zero",
                   "--quiet", "--statistics"):
        assert option in result.stdout, option


def test_clean_file_exits_0_with_summary(tmp_path):
    write(tmp_path, "clean.py", CLEAN)
    result = run_cli(["clean.py"], tmp_path)
    assert result.returncode == 0, result
    lines = result.stdout.strip().splitlines()
    assert lines == ["All checks passed (1 file linted)."], result
    assert result.stderr == ""


def test_text_output_layout(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["bug.py"], tmp_path)
    assert result.returncode == 1, result
    lines = result.stdout.rstrip("\n").splitlines()
    header = FINDING_LINE.match(lines[0])
    assert header, lines[0]
    assert header["path"] == "bug.py"
    assert (int(header["line"]), int(header["col"])) == (BUGGY_LINE, BUGGY_COLUMN)
    assert (header["code"], header["sev"]) == ("NN007", "warning")
    assert "90%" in header["msg"]

    source_line = BUGGY.splitlines()[BUGGY_LINE - 1]
    # the source line, then a caret line under the flagged expression, then the hint
    src_index = next(i for i, line in enumerate(lines) if line.endswith(source_line))
    assert src_index > 0
    src_row, caret_row = lines[src_index], lines[src_index + 1]
    assert re.match(rf"^\s*{BUGGY_LINE} \| ", src_row), src_row
    text_start = src_row.index("| ") + 2
    caret_start = caret_row.index("^")
    assert caret_row[:caret_start].strip() in ("|", ""), caret_row
    carets = caret_row[caret_start:].rstrip()
    assert set(carets) == {"^"}
    flagged = "nn.Dropout(0.9)"
    assert caret_start - text_start == source_line.index(flagged)
    assert len(carets) == len(flagged)
    hint = [line for line in lines if line.lstrip().startswith("= hint:")]
    assert len(hint) == 1 and src_index < lines.index(hint[0]), result
    assert len(hint[0].split("= hint:", 1)[1].strip()) > 10
    assert SUMMARY_FOUND.match(lines[-1]), lines[-1]
    assert lines[-1] == "Found 1 finding (1 warning) in 1 file."
    assert underlined(result.stdout, BUGGY_LINE) == flagged


def test_caret_is_under_the_flagged_code_in_tab_indented_files(tmp_path):
    source = BUGGY.replace("        ", "\t\t").replace("    ", "\t")
    assert "\t\tself.drop = nn.Dropout(0.9)" in source
    write(tmp_path, "tabs.py", source)
    result = run_cli(["tabs.py"], tmp_path)
    assert result.returncode == 1, result
    assert f"tabs.py:{BUGGY_LINE}:15: NN007" in result.stdout  # columns count characters: two tabs + 12
    assert underlined(result.stdout, BUGGY_LINE) == "nn.Dropout(0.9)", result


def test_summary_counts_findings_and_files(tmp_path):
    write(tmp_path, "a.py", BUGGY)
    write(tmp_path, "b.py", ERROR_DROPOUT)
    write(tmp_path, "c.py", CLEAN)
    result = run_cli(["a.py", "b.py", "c.py"], tmp_path)
    assert result.returncode == 1, result
    summary = result.stdout.strip().splitlines()[-1]
    match = SUMMARY_FOUND.match(summary)
    assert match, summary
    assert match["n"] == "2" and match["m"] == "3"
    assert "1 error" in match["parts"] and "1 warning" in match["parts"]


def test_findings_sorted_by_path_then_line(tmp_path):
    write(tmp_path, "b.py", TWO_RULES)
    write(tmp_path, "a.py", TWO_RULES)
    write(tmp_path, "sub/c.py", BUGGY)
    result = run_cli(["sub", "b.py", "a.py"], tmp_path)
    keys = [(m["path"], int(m["line"]), m["code"]) for m in finding_lines(result.stdout)]
    assert keys == sorted(keys)
    assert [k[0] for k in keys] == ["a.py", "a.py", "b.py", "b.py", "sub/c.py"], result
    # the same order, whatever order the paths are given in, in text and JSON
    again = run_cli(["a.py", "sub", "b.py"], tmp_path)
    assert again.stdout == result.stdout
    js = run_cli(["--format", "json", "b.py", "sub", "a.py"], tmp_path).json
    assert [(f["path"], f["line"], f["code"]) for f in js["findings"]] == keys


# ----------------------------------------------------------------------------- discovery


def test_folder_is_walked_recursively(tmp_path):
    write(tmp_path, "proj/a.py", BUGGY)
    write(tmp_path, "proj/pkg/deeper/b.py", BUGGY)
    write(tmp_path, "proj/pkg/notes.txt", "nn.Dropout(0.9)\n")
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.returncode == 1, result
    assert sorted(f["path"] for f in result.json["findings"]) == ["proj/a.py", "proj/pkg/deeper/b.py"]
    assert result.json["summary"]["files"] == 2


@pytest.mark.parametrize("folder", [".hidden", ".git", ".venv", "venv", "env", "build", "dist", "node_modules",
                                    "site-packages", "__pycache__"])
def test_folder_walk_skips_hidden_venv_and_build_dirs(tmp_path, folder):
    write(tmp_path, "proj/main.py", CLEAN)
    write(tmp_path, f"proj/{folder}/bug.py", BUGGY)
    write(tmp_path, f"proj/src/{folder}/bug.py", BUGGY)
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.returncode == 0, result
    assert result.json["findings"] == []
    assert result.json["summary"]["files"] == 1


def test_folder_walk_honours_gitignore(tmp_path):
    write(tmp_path, "proj/.gitignore", "ignored.py\ngenerated/\n")
    write(tmp_path, "proj/kept.py", BUGGY)
    write(tmp_path, "proj/ignored.py", BUGGY)
    write(tmp_path, "proj/generated/model.py", BUGGY)
    write(tmp_path, "proj/sub/.gitignore", "local_*.py\n")
    write(tmp_path, "proj/sub/local_scratch.py", BUGGY)
    write(tmp_path, "proj/sub/shared.py", BUGGY)
    result = run_cli(["--format", "json", "proj"], tmp_path)
    paths = sorted(f["path"] for f in result.json["findings"])
    assert paths == ["proj/kept.py", "proj/sub/shared.py"], result




def test_gitignore_of_the_repository_root_applies_when_walking_a_subfolder(tmp_path):
    write(tmp_path, "repo/.gitignore", "gen/\n*_generated.py\n")
    (tmp_path / "repo/.git").mkdir()
    write(tmp_path, "repo/src/ok.py", BUGGY)
    write(tmp_path, "repo/src/gen/model.py", BUGGY)
    write(tmp_path, "repo/src/net_generated.py", BUGGY)
    result = run_cli(["--format", "json", "src"], tmp_path / "repo")
    assert [f["path"] for f in result.json["findings"]] == ["src/ok.py"], result


def test_gitignore_of_the_repository_root_applies_when_walking_cwd(tmp_path):
    write(tmp_path, "repo/.gitignore", "gen/\n")
    (tmp_path / "repo/.git").mkdir()
    write(tmp_path, "repo/src/ok.py", BUGGY)
    write(tmp_path, "repo/src/gen/model.py", BUGGY)
    result = run_cli(["--format", "json", "."], tmp_path / "repo/src")
    assert [f["path"] for f in result.json["findings"]] == ["ok.py"], result


def test_same_file_given_twice_is_linted_once(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "bug.py", "bug.py", "."], tmp_path)
    assert result.codes() == ["NN007"], result
    assert result.json["summary"]["files"] == 1


# ----------------------------------------------------------------------------- select / ignore


SELECT_CASES = [
    ([], ["NN003", "NN007"]),
    (["--select", "NN007"], ["NN007"]),
    (["--select", "nn007"], ["NN007"]),
    (["--select", "NN0"], ["NN003", "NN007"]),
    (["--select", "NN00"], ["NN003", "NN007"]),
    (["--select", "missing-bias"], ["NN003"]),
    (["--select", "ALL"], ["NN003", "NN007"]),
    (["--select", "NN003,dropout-keep-drop-confusion"], ["NN003", "NN007"]),
    (["--select", "NN001", "--select", "NN007"], ["NN007"]),
    (["--select", "NN001,NN002"], []),
    (["--ignore", "NN007"], ["NN003"]),
    (["--ignore", "missing-bias"], ["NN007"]),
    (["--ignore", "NN0"], []),
    (["--ignore", "NN003,NN007"], []),
    (["--ignore", "NN003", "--ignore", "dropout-keep-drop-confusion"], []),
    (["--select", "NN0", "--ignore", "NN003"], ["NN007"]),
]


@pytest.mark.parametrize(
    "options, expected",
    [pytest.param(options, expected, id=" ".join(options) or "defaults") for options, expected in SELECT_CASES],
)
def test_select_and_ignore(tmp_path, options, expected):
    write(tmp_path, "two.py", TWO_RULES)
    result = run_cli(["--format", "json", *options, "two.py"], tmp_path)
    assert result.codes() == expected, result
    assert result.returncode == (1 if expected else 0)


@pytest.mark.parametrize("option", ["--select", "--ignore"])
@pytest.mark.parametrize("selector", ["NN999", "no-such-rule", "E501"])
def test_unknown_selector_is_a_usage_error(tmp_path, option, selector):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli([option, f"NN007,{selector}", "bug.py"], tmp_path)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1, result
    assert selector in result.stderr_lines[0]
    assert "NN007" not in result.stdout


# ----------------------------------------------------------------------------- exit codes / fail-on


@pytest.mark.parametrize(
    "source, options, code",
    [
        (BUGGY, [], 1),  # warning, default fail-on warning
        (BUGGY, ["--fail-on", "warning"], 1),
        (BUGGY, ["--fail-on", "error"], 0),
        (BUGGY, ["--fail-on", "info"], 1),
        (ERROR_DROPOUT, ["--fail-on", "error"], 1),
        (ERROR_DROPOUT, [], 1),
        (INFO_LOADER, [], 0),  # info does not reach the default
        (INFO_LOADER, ["--fail-on", "warning"], 0),
        (INFO_LOADER, ["--fail-on", "info"], 1),
        (CLEAN, ["--fail-on", "info"], 0),
    ],
)
def test_fail_on_decides_exit_code(tmp_path, source, options, code):
    write(tmp_path, "x.py", source)
    result = run_cli([*options, "--format", "json", "x.py"], tmp_path)
    assert result.returncode == code, result
    if source is not CLEAN:
        assert result.json["findings"], "the fixture must produce a finding"


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "xml", "x.py"],
        ["--fail-on", "fatal", "x.py"],
        ["--no-such-option", "x.py"],
        ["--jobs", "0", "x.py"],
        ["--jobs", "many", "x.py"],
        ["--select"],
        ["--config"],
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    write(tmp_path, "x.py", BUGGY)
    result = run_cli(args, tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.strip(), result
    assert "NN007" not in result.stdout


def test_jobs_gives_the_same_output_as_one_process(tmp_path):
    for i in range(10):
        write(tmp_path, f"proj/m{i:02d}.py", BUGGY if i % 2 else CLEAN)
    write(tmp_path, "proj/zz/model.py", MODEL_RELU)
    write(tmp_path, "proj/zz/train.py", TRAIN_MSE)
    write(tmp_path, "proj/aa/two.py", TWO_RULES)
    one = run_cli(["--format", "json", "--jobs", "1", "proj"], tmp_path)
    many = run_cli(["--format", "json", "-j", "4", "proj"], tmp_path)
    assert one.returncode == many.returncode == 1
    assert one.stdout == many.stdout
    codes = one.codes()
    assert codes.count("NN007") == 6 and "NN001" in codes and "NN003" in codes, one


# ----------------------------------------------------------------------------- colour


def test_no_ansi_escapes_through_pipes(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    for args in (["bug.py"], ["--no-color", "bug.py"], ["--format", "json", "bug.py"]):
        result = run_cli(args, tmp_path)
        assert result.returncode == 1
        assert ANSI_ESCAPE not in result.stdout
        assert ANSI_ESCAPE not in result.stderr


def _run_on_tty(args: list[str], cwd, env) -> tuple[int, str]:
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "nnlint", *args], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) in (0, 1)
    assert "Traceback" not in stderr
    return proc.returncode, b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_only_on_a_tty_and_never_with_no_color(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    code, out = _run_on_tty(["bug.py"], tmp_path, cli_env())
    assert code == 1 and "NN007" in out
    assert ANSI_ESCAPE in out, "a terminal gets colours"
    code, out = _run_on_tty(["--no-color", "bug.py"], tmp_path, cli_env())
    assert code == 1 and "NN007" in out
    assert ANSI_ESCAPE not in out
    code, out = _run_on_tty(["bug.py"], tmp_path, cli_env(NO_COLOR="1"))
    assert code == 1 and "NN007" in out
    assert ANSI_ESCAPE not in out


# ----------------------------------------------------------------------------- JSON


def test_json_output_shape(tmp_path):
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", "bug.py"], tmp_path)
    assert result.returncode == 1, result
    document = result.json
    assert set(document) == {"version", "findings", "summary"}
    assert document["version"] == __version__
    [finding] = document["findings"]
    assert set(finding) == {"code", "name", "severity", "confidence", "message", "path", "line", "column",
                            "end_line", "end_column", "node", "trace", "fix", "hint"}
    assert finding["code"] == "NN007"
    assert finding["name"] == "dropout-keep-drop-confusion"
    assert finding["severity"] == "warning"
    assert finding["confidence"] in ("certain", "likely", "possible")
    assert finding["path"] == "bug.py"
    assert (finding["line"], finding["column"]) == (BUGGY_LINE, BUGGY_COLUMN)
    assert finding["end_line"] == BUGGY_LINE
    assert finding["end_column"] > finding["column"]
    assert finding["node"] is None and finding["trace"] is None and finding["fix"] is None
    assert "Dropout" in finding["message"]
    assert ANSI_ESCAPE not in result.stdout


def test_json_line_and_column_are_one_based(tmp_path):
    write(tmp_path, "top.py", "import torch.nn as nn\nlayer = nn.Dropout(0.9)\n")
    result = run_cli(["--format", "json", "top.py"], tmp_path)
    [finding] = result.json["findings"]
    assert finding["line"] == 2
    assert finding["column"] == "layer = nn.Dropout(0.9)".index("nn.Dropout") + 1 == 9


@pytest.mark.parametrize("given", ["bug.py", "./bug.py", "sub/deep/bug.py", "../proj/bug.py"])
def test_json_path_is_as_given(tmp_path, given):
    write(tmp_path, "proj/bug.py", BUGGY)
    write(tmp_path, "proj/sub/deep/bug.py", BUGGY)
    result = run_cli(["--format", "json", given], tmp_path / "proj")
    assert [f["path"] for f in result.json["findings"]] == [given], result


def test_json_absolute_path_stays_absolute(tmp_path):
    path = write(tmp_path, "bug.py", BUGGY)
    result = run_cli(["--format", "json", str(path)], tmp_path)
    assert [f["path"] for f in result.json["findings"]] == [str(path)]


def test_json_summary_and_no_findings(tmp_path):
    write(tmp_path, "clean.py", CLEAN)
    result = run_cli(["--format", "json", "clean.py"], tmp_path)
    assert result.returncode == 0, result
    document = result.json
    assert set(document) == {"version", "findings", "summary"}
    assert document["findings"] == []
    assert document["summary"]["files"] == 1
    assert document["summary"]["findings"] == 0


def test_cross_file_finding_in_json(tmp_path):
    write(tmp_path, "model.py", MODEL_RELU)
    write(tmp_path, "train.py", TRAIN_MSE)
    result = run_cli(["--format", "json", "model.py", "train.py"], tmp_path)
    assert result.returncode == 1, result
    [finding] = [f for f in result.json["findings"] if f["code"] == "NN001"]
    assert finding["path"] == "model.py"
    assert finding["line"] == MODEL_RELU_LINE
    assert finding["severity"] == "error"


# ----------------------------------------------------------------------------- subcommands


def test_rules_table(tmp_path):
    result = run_cli(["rules"], tmp_path)
    assert result.returncode == 0, result
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["CODE", "NAME", "SEVERITY", "FRAMEWORKS", "TRACE"]
    rows = [line.split() for line in lines[1:]]
    codes = [row[0] for row in rows]
    assert codes == sorted(codes)
    assert {"NN001", "NN002", "NN003", "NN004", "NN005", "NN006", "NN007"} <= set(codes)
    by_code = {row[0]: row for row in rows}
    assert by_code["NN007"][1:3] == ["dropout-keep-drop-confusion", "warning"]
    assert by_code["NN001"][1:3] == ["output-activation-regression", "error"]
    assert by_code["NN003"][1] == "missing-bias"
    for row in rows:
        assert re.fullmatch(r"NN\d{3}", row[0])
        assert row[2] in ("error", "warning", "info")
        assert "pytorch" in row[3]
        assert row[4] in ("yes", "no")
    # the columns line up under the header
    name_column = lines[0].index("NAME")
    assert all(line[name_column - 2:name_column] == "  " and line[name_column] != " " for line in lines[1:])


def test_rules_json_matches_table(tmp_path):
    result = run_cli(["rules", "--format", "json"], tmp_path)
    assert result.returncode == 0, result
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and rows
    table = run_cli(["rules"], tmp_path).stdout.strip().splitlines()[1:]
    assert [r["code"] for r in rows] == [line.split()[0] for line in table]
    for row in rows:
        assert {"code", "name", "severity", "frameworks"} <= set(row)
        assert isinstance(row["frameworks"], list)
    assert {r["code"]: r["name"] for r in rows}["NN007"] == "dropout-keep-drop-confusion"


@pytest.mark.parametrize("rule", ["NN007", "nn007", "dropout-keep-drop-confusion", "NN001", "missing-bias"])
def test_explain_prints_documentation(tmp_path, rule):
    result = run_cli(["explain", rule], tmp_path)
    assert result.returncode == 0, result
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert section in result.stdout, section
    positions = [result.stdout.index(s) for s in ("## What it does", "## Why is this bad?", "## Example", "## Use instead")]
    assert positions == sorted(positions)


def test_explain_code_and_slug_agree(tmp_path):
    by_code = run_cli(["explain", "NN007"], tmp_path)
    by_slug = run_cli(["explain", "dropout-keep-drop-confusion"], tmp_path)
    assert by_code.stdout == by_slug.stdout
    assert "NN007" in by_code.stdout and "dropout-keep-drop-confusion" in by_code.stdout
    other = run_cli(["explain", "NN003"], tmp_path)
    assert other.stdout != by_code.stdout


@pytest.mark.parametrize("rule", ["NN998", "no-such-rule", "NN0"])
def test_explain_unknown_rule(tmp_path, rule):
    result = run_cli(["explain", rule], tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1, result
    assert rule in result.stderr_lines[0]


@pytest.mark.parametrize("rule,name", [("NN901", "syntax-error"), ("unused-suppression", "NN903"), ("NN999", "internal-error")])
def test_explain_engine_codes(tmp_path, rule, name):
    result = run_cli(["explain", rule], tmp_path)
    assert result.returncode == 0, result
    assert name in result.stdout.splitlines()[0]


def test_explain_without_rule_is_a_usage_error(tmp_path):
    result = run_cli(["explain"], tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""


def test_options_may_come_before_the_subcommand(tmp_path):
    listed = run_cli(["--format", "json", "rules"], tmp_path)
    assert listed.returncode == 0, listed
    assert json.loads(listed.stdout)[0]["code"] == "NN001"
    explained = run_cli(["--no-color", "explain", "NN003"], tmp_path)
    assert explained.returncode == 0 and explained.stdout.startswith("# missing-bias (NN003)"), explained


def test_a_folder_named_like_a_subcommand_is_linted(tmp_path):
    write(tmp_path, "rules/train.py", "import torch.nn as nn\nd = nn.Dropout(0.9)\n")
    result = run_cli(["rules"], tmp_path)
    assert "rules/train.py" in result.stdout and "NN007" in result.stdout, result


def test_pitfall_catalogue_is_the_rules_documentation():
    """docs/pitfalls.md is `nnlint explain --all`: regenerate it when a rule's docs change."""
    from pathlib import Path

    from nnlint import registry
    from nnlint.cli import catalogue

    shipped = (Path(__file__).resolve().parent.parent / "docs" / "pitfalls.md").read_text(encoding="utf-8")
    assert shipped == catalogue(), "run: nnlint explain --all > docs/pitfalls.md"
    assert shipped.count("\n## ") == len(registry.all_checks())


def test_explain_needs_a_rule_or_all(tmp_path):
    result = run_cli(["explain"], tmp_path)
    assert result.returncode == 2 and "give one rule, or --all" in result.stderr
