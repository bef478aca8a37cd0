"""ONNX models as input: reading them safely, reporting what cannot be read, and the graph pitfalls.

Most cases lint in-process through ``nnlint.cli.main`` (onnx and numpy are imported once, so the
file stays fast); the cases about the process itself (exit codes seen by a shell, stderr lines,
files never opened) run ``python -m nnlint`` in a subprocess. Models are built in memory by
:mod:`tests.onnx_builders` and written to ``tmp_path``; the real-world models come from
``../shared/corpus/onnx`` (skipped where that corpus is absent).
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import pytest

from nnlint.cli import main

from . import onnx_builders as ob
from .conftest import BUGGY, BUGGY_LINE, REPO_ROOT, CliResult, cli_env, run_cli, write

CORPUS = ob.CORPUS
CORPUS_MODELS = sorted(p.name for p in CORPUS.glob("*.onnx")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_MODELS, reason=f"the ONNX corpus is not at {CORPUS}")

FINDING_KEYS = {"code", "name", "severity", "confidence", "message", "path", "line", "column", "end_line", "hint",
                "end_column", "node", "trace", "fix"}

TRAIN_MSE_ONLY = """\
import torch
import torch.nn as nn

criterion = nn.MSELoss()


def train(model, loader, optimizer):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
"""


# ---------------------------------------------------------------------------------------- helpers


def lint(args, cwd: Path) -> CliResult:
    """``nnlint ARGS`` in-process with ``cwd`` as the working folder; stdout/stderr captured."""
    args = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    result = CliResult(args, code, out.getvalue(), err.getvalue())
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, str(result)
    return result


def lint_json(cwd: Path, *args) -> CliResult:
    return lint(["--format", "json", *args], cwd)


def of(result: CliResult, code: str | None = None, path: str | None = None) -> list[dict]:
    """The findings of ``result`` (JSON), optionally only those with ``code`` / for ``path``."""
    return [f for f in result.json["findings"]
            if (code is None or f["code"] == code) and (path is None or f["path"] == path)]


def codes(result: CliResult, path: str | None = None) -> list[str]:
    return [f["code"] for f in of(result, path=path)]


def nodes(result: CliResult, code: str) -> list[str]:
    return sorted(f["node"] for f in of(result, code))


def save(tmp_path: Path, name: str, model: onnx.ModelProto) -> Path:
    return ob.save(model, tmp_path / name)


# ---------------------------------------------------------------------------- output and exit codes


def test_json_finding_for_a_graph_node(tmp_path):
    save(tmp_path, "sub/net.onnx", ob.dropout_opset13(0.9))
    result = lint_json(tmp_path, "sub/net.onnx")
    assert result.returncode == 1, result
    [finding] = result.json["findings"]
    assert set(finding) == FINDING_KEYS
    assert finding["code"] == "NN007" and finding["name"] == "dropout-keep-drop-confusion"
    assert finding["path"] == "sub/net.onnx"  # as given on the command line
    assert finding["node"] == "drop1"
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (None, None, None, None)
    assert finding["trace"] is None and finding["fix"] is None


def test_path_is_kept_as_given(tmp_path):
    save(tmp_path, "models/net.onnx", ob.dropout_opset13(0.9))
    (tmp_path / "work").mkdir()
    result = lint_json(tmp_path / "work", "../models/net.onnx")
    assert [(f["code"], f["path"]) for f in result.json["findings"]] == [("NN007", "../models/net.onnx")], result


def test_unnamed_node_is_named_by_op_type_and_index(tmp_path):
    model = ob.unnamed_dropout(0.9)
    assert [n.name for n in model.graph.node] == ["fc1", "act1", "", "fc2"]
    save(tmp_path, "net.onnx", model)
    result = lint_json(tmp_path, "net.onnx")
    assert nodes(result, "NN007") == ["Dropout#2"], result


def test_clean_model_has_no_finding_and_exits_0(tmp_path):
    save(tmp_path, "net.onnx", ob.mlp())
    result = lint_json(tmp_path, "net.onnx")
    assert result.json["findings"] == [], result
    assert result.returncode == 0


def test_text_output_in_a_subprocess(tmp_path):
    save(tmp_path, "net.onnx", ob.dropout_opset13(0.9))
    result = run_cli(["net.onnx"], tmp_path)
    assert result.returncode == 1, result
    assert "net.onnx" in result.stdout and "NN007" in result.stdout, result
    clean = run_cli(["clean.onnx"], save(tmp_path, "clean.onnx", ob.mlp()).parent)
    assert clean.returncode == 0, clean


def test_folder_with_onnx_and_python_files(tmp_path):
    save(tmp_path, "proj/net.onnx", ob.dropout_opset13(0.9))
    write(tmp_path, "proj/bug.py", BUGGY)
    result = run_cli(["--format", "json", "proj"], tmp_path)
    assert result.returncode == 1, result
    onnx_path, py_path = os.path.join("proj", "net.onnx"), os.path.join("proj", "bug.py")
    assert [(f["code"], f["node"]) for f in of(result, path=onnx_path)] == [("NN007", "drop1")], result
    [py] = of(result, path=py_path)
    assert (py["code"], py["line"], py["node"]) == ("NN007", BUGGY_LINE, None)


def test_onnx_and_python_files_mixed_on_the_command_line(tmp_path):
    save(tmp_path, "net.onnx", ob.dropout_opset13(0.9))
    write(tmp_path, "bug.py", BUGGY)
    result = lint_json(tmp_path, "bug.py", "net.onnx")
    assert result.returncode == 1, result
    assert codes(result, "net.onnx") == ["NN007"] and codes(result, "bug.py") == ["NN007"], result


# ------------------------------------------------------------------------------- unreadable inputs


@pytest.mark.parametrize("kind", sorted(ob.NOT_A_MODEL))
def test_unreadable_model_is_nn902_and_the_rest_is_linted(tmp_path, kind):
    write(tmp_path, "bad.onnx", ob.NOT_A_MODEL[kind]())
    save(tmp_path, "net.onnx", ob.dropout_opset13(0.9))
    write(tmp_path, "bug.py", BUGGY)
    result = lint_json(tmp_path, "bad.onnx", "net.onnx", "bug.py")
    assert result.returncode == 2, result
    [bad] = of(result, path="bad.onnx")
    assert (bad["code"], bad["name"], bad["severity"]) == ("NN902", "unreadable-file", "error"), result
    assert bad["message"].startswith("cannot read"), bad
    assert codes(result, "net.onnx") == ["NN007"], result
    assert codes(result, "bug.py") == ["NN007"], result


def test_unreadable_model_exit_code_in_a_subprocess(tmp_path):
    write(tmp_path, "bad.onnx", ob.truncated_model_bytes())
    save(tmp_path, "net.onnx", ob.dropout_opset13(0.9))
    result = run_cli(["bad.onnx", "net.onnx"], tmp_path)
    assert result.returncode == 2, result
    assert "bad.onnx" in result.stdout + result.stderr, result
    assert "NN007" in result.stdout, result


def test_git_lfs_pointer_is_skipped_with_one_line_on_stderr(tmp_path):
    write(tmp_path, "x.onnx", ob.LFS_POINTER)
    result = run_cli(["--format", "json", "x.onnx"], tmp_path)
    assert result.returncode == 0, result
    assert result.json["findings"] == [], result
    assert len(result.stderr_lines) == 1 and "LFS" in result.stderr_lines[0], result


def test_git_lfs_pointer_next_to_a_real_model(tmp_path):
    write(tmp_path, "models/x.onnx", ob.LFS_POINTER)
    save(tmp_path, "models/net.onnx", ob.dropout_opset13(0.9))
    result = lint_json(tmp_path, "models")
    assert result.returncode == 1, result
    assert [(Path(f["path"]).name, f["code"]) for f in result.json["findings"]] == [("net.onnx", "NN007")], result
    assert sum("LFS" in line for line in result.stderr_lines) == 1, result


# --------------------------------------------------------------------------------- onnx.checker


def _checker_fails(path: Path) -> bool:
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError:
        return True
    return False


def test_model_failing_the_checker_is_still_linted(tmp_path):
    model = ob.dropout_opset13(0.9)
    bogus = model.graph.node[0].attribute.add()  # an attribute without a type: the checker rejects it
    bogus.name = "alpha"
    bogus.f = 1.0
    path = save(tmp_path, "net.onnx", model)
    assert _checker_fails(path)
    result = lint_json(tmp_path, "net.onnx")
    assert result.returncode == 1, result
    [checker] = of(result, "NN907")
    assert (checker["name"], checker["severity"]) == ("onnx-checker", "info"), checker
    assert "checker" in checker["message"].lower(), checker
    assert nodes(result, "NN007") == ["drop1"], result
    assert not of(result, "NN902") and not of(result, "NN999"), result


#: Loads a model as the linter does, then imports onnx and asks its checker too.
CHECK_THEN_IMPORT_ONNX = """\
import sys
from pathlib import Path
from nnlint.frontends import onnx_load
for name in sys.argv[1:]:
    print(name, onnx_load.load(Path(name), streamed=True).checker_error)
print("imported:", "onnx" in sys.modules, "ml_dtypes" in sys.modules)
import onnx, onnx.checker, onnx.defs, onnx.shape_inference
for name in sys.argv[1:]:
    try:
        onnx.checker.check_model(name)
        print(name, None)
    except onnx.checker.ValidationError as exc:
        print(name, str(exc).strip().splitlines()[0][:300])
print("opsets:", onnx.defs.onnx_opset_version() > 0)
"""


def test_the_checker_runs_without_the_onnx_package_which_imports_after(tmp_path):
    """The linter loads onnx's checker extension alone (not ml_dtypes and the package's
    helpers); its verdicts are onnx.checker's, and onnx imported later in the process works."""
    bad = ob.dropout_opset13(0.9)
    bogus = bad.graph.node[0].attribute.add()  # an attribute without a type: the checker rejects it
    bogus.name, bogus.f = "alpha", 1.0
    paths = [str(save(tmp_path, "bad.onnx", bad)), str(save(tmp_path, "good.onnx", ob.dropout_opset13(0.9)))]
    run = subprocess.run([sys.executable, "-c", CHECK_THEN_IMPORT_ONNX, *paths], capture_output=True, text=True,
                         env=cli_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2] == "imported: False False", lines
    assert lines[:2] == lines[3:5], lines  # the linter's verdicts are onnx's
    assert lines[0] != f"{paths[0]} None" and lines[1] == f"{paths[1]} None", lines
    assert lines[5] == "opsets: True", lines


@needs_corpus
def test_corpus_model_failing_the_checker_is_still_linted():
    path = CORPUS / "tutorials-super_resolution.onnx"
    assert _checker_fails(path)
    shown = os.path.relpath(path, REPO_ROOT)
    result = lint_json(REPO_ROOT, shown)
    assert result.returncode != 2, result
    [checker] = of(result, "NN907")
    assert (checker["name"], checker["severity"], checker["path"]) == ("onnx-checker", "info", shown), checker
    assert "checker" in checker["message"].lower(), checker
    assert not of(result, "NN902") and not of(result, "NN999"), result


# ---------------------------------------------------------------------------------- external data

#: Runs nnlint and reports every attempt (through Python) to open the outside file.
AUDIT_PROBE = r"""
import sys

WATCHED = sys.argv.pop(1)

def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        name = args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else args[0]
        if WATCHED in name:
            sys.__stderr__.write("@@OPENED@@ " + name + "\n")

sys.addaudithook(hook)
from nnlint.cli import main
sys.exit(main(sys.argv[1:]))
"""

OUTSIDE = "outside-5f2c9a.bin"


def _external_project(tmp_path: Path) -> Path:
    path = ob.save_external(ob.external_model(), tmp_path / "proj" / "model.onnx")
    assert ob.EXTERNAL_INITIALIZER in ob.external_entries(path)
    return path


def test_external_data_inside_the_folder_is_read(tmp_path):
    """The control for the unsafe cases: the same zero weights, stored safely, give NN004."""
    _external_project(tmp_path)
    result = lint_json(tmp_path / "proj", "model.onnx")
    assert result.returncode == 1, result
    assert nodes(result, "NN004") == ["fc1"], result
    assert nodes(result, "NN007") == ["drop1"], result
    assert not of(result, "NN905") and not of(result, "NN906") and not of(result, "NN902"), result


@pytest.mark.parametrize("where", ["parent", "absolute", "dotdot-inside-path"])
def test_unsafe_external_data_location_is_never_opened(tmp_path, where):
    path = _external_project(tmp_path)
    outside = tmp_path / OUTSIDE
    outside.write_bytes(bytes(ob.EXTERNAL_BYTES))  # zeros: read, they would give NN004 on fc1
    location = {"parent": f"../{OUTSIDE}", "absolute": str(outside), "dotdot-inside-path": f"sub/../../{OUTSIDE}"}[where]
    ob.relocate_external(path, ob.EXTERNAL_INITIALIZER, location)
    proc = subprocess.run(
        [sys.executable, "-c", AUDIT_PROBE, OUTSIDE, "--format", "json", "model.onnx"],
        cwd=tmp_path / "proj", env=cli_env(), capture_output=True, text=True, timeout=120,
    )
    result = CliResult(["--format", "json", "model.onnx"], proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, result
    assert "@@OPENED@@" not in proc.stderr, result
    [unsafe] = of(result, "NN905")
    assert (unsafe["name"], unsafe["severity"]) == ("unsafe-external-data", "error"), unsafe
    assert ob.EXTERNAL_INITIALIZER in unsafe["message"], unsafe
    assert not of(result, "NN004"), result  # the outside zeros were not read
    assert nodes(result, "NN007") == ["drop1"], result  # the rest of the graph is linted
    assert not of(result, "NN902") and not of(result, "NN999"), result
    assert result.returncode == 1, result  # the model itself was read: findings, not an unreadable input


def test_missing_external_data_file(tmp_path):
    path = _external_project(tmp_path)
    (path.parent / "weights.bin").unlink()
    result = lint_json(tmp_path / "proj", "model.onnx")
    missing = of(result, "NN906")
    assert missing, result
    assert all((f["name"], f["severity"]) == ("missing-external-data", "error") for f in missing), result
    assert any(ob.EXTERNAL_INITIALIZER in f["message"] or "weights.bin" in f["message"] for f in missing), result
    assert not of(result, "NN004"), result
    assert nodes(result, "NN007") == ["drop1"], result
    assert not of(result, "NN902") and not of(result, "NN999"), result
    assert result.returncode == 1, result


# ------------------------------------------------------------------------------------------- fuzz

FUZZ_SEED = 20240611
FUZZ_MODELS = ["onnx-pc_Conv2d.onnx", "onnx-pc_Linear.onnx", "onnx-pc_BatchNorm2d_eval.onnx",
               "ortex-mnist_cntk.onnx", "onnx-light_squeezenet.onnx"]
FUZZ_PER_MODEL = 40
FUZZ_SECONDS_PER_RUN = 10


class _FuzzTimeout(BaseException):
    """Raised by the alarm; a BaseException so that nnlint's `except Exception` cannot swallow it."""


def _on_alarm(signum, frame):
    raise _FuzzTimeout()


@needs_corpus
def test_fuzzed_models_never_crash(tmp_path):
    gen = random.Random(FUZZ_SEED)
    failures: list[str] = []
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    runs = 0
    try:
        for name in FUZZ_MODELS:
            original = (CORPUS / name).read_bytes()
            for i in range(FUZZ_PER_MODEL):
                data, how = ob.mutate(original, gen)
                path = tmp_path / f"{Path(name).stem}-{i:02d}.onnx"
                path.write_bytes(data)
                out, err = io.StringIO(), io.StringIO()
                signal.alarm(FUZZ_SECONDS_PER_RUN)
                try:
                    with redirect_stdout(out), redirect_stderr(err):
                        code = main(["--format", "json", str(path)])
                except _FuzzTimeout:
                    failures.append(f"{path.name} ({name}, {how}): still running after {FUZZ_SECONDS_PER_RUN} s")
                    continue
                except BaseException:
                    failures.append(f"{path.name} ({name}, {how}): raised\n{traceback.format_exc()}")
                    continue
                finally:
                    signal.alarm(0)
                runs += 1
                problem = _fuzz_problem(code, out.getvalue(), err.getvalue())
                if problem:
                    failures.append(f"{path.name} ({name}, {how}): {problem}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not failures, f"{len(failures)} of {len(FUZZ_MODELS) * FUZZ_PER_MODEL} mutants:\n" + "\n".join(failures[:20])
    assert runs == len(FUZZ_MODELS) * FUZZ_PER_MODEL


def _fuzz_problem(code, stdout: str, stderr: str) -> str | None:
    if code not in (0, 1, 2):
        return f"exit code {code!r}"
    if "Traceback" in stdout or "Traceback" in stderr:
        return f"a traceback was printed:\n{stderr[-2000:]}"
    try:
        document = json.loads(stdout)
    except ValueError:
        return f"stdout is not JSON: {stdout[:300]!r}"
    internal = [f["message"] for f in document["findings"] if f["code"] == "NN999"]
    if internal:
        return f"NN999 internal error: {internal[0]}"
    return None


# ------------------------------------------------------------------------------------------ corpus


@pytest.fixture(scope="module")
def corpus_run() -> CliResult:
    """One run of nnlint over the whole corpus folder, as given relative to the repository root."""
    return run_cli(["--format", "json", os.path.relpath(CORPUS, REPO_ROOT)], REPO_ROOT, timeout=300)


def _corpus_findings(result: CliResult, model: str) -> list[dict]:
    return [f for f in result.json["findings"] if Path(f["path"]).name == model]


@needs_corpus
def test_corpus_run_is_not_an_input_error(corpus_run):
    assert corpus_run.returncode in (0, 1), corpus_run
    prefix = os.path.relpath(CORPUS, REPO_ROOT)
    assert all(f["path"].startswith(prefix) for f in corpus_run.json["findings"]), corpus_run


@needs_corpus
@pytest.mark.parametrize("model", CORPUS_MODELS)
def test_corpus_model_is_read_without_internal_error(corpus_run, model):
    bad = [f for f in _corpus_findings(corpus_run, model) if f["code"] in ("NN902", "NN999")]
    assert not bad, bad


@needs_corpus
@pytest.mark.parametrize("model", [m for m in CORPUS_MODELS if m.startswith("onnx-light_")])
def test_constant_weights_of_light_models_are_bad_init(corpus_run, model):
    found = [f for f in _corpus_findings(corpus_run, model) if f["code"] == "NN004"]
    assert found, f"no NN004 in {model}: {[f['code'] for f in _corpus_findings(corpus_run, model)]}"
    assert all(f["node"] for f in found), found


@needs_corpus
def test_trained_weights_are_not_bad_init(corpus_run):
    assert "ortex-mnist_cntk.onnx" in CORPUS_MODELS
    assert [f for f in _corpus_findings(corpus_run, "ortex-mnist_cntk.onnx") if f["code"] == "NN004"] == []


# ----------------------------------------------------------------------------------- graph pitfalls


def test_gemm_without_bias_before_relu_is_missing_bias(tmp_path):
    save(tmp_path, "net.onnx", ob.mlp(first_bias=False))
    result = lint_json(tmp_path, "net.onnx")
    [finding] = of(result, "NN003")
    assert (finding["name"], finding["node"]) == ("missing-bias", "fc1"), finding
    # advice in a graph: exporters fold BatchNorm and can drop an all-zero folded bias
    assert (finding["severity"], finding["confidence"]) == ("info", "possible"), finding
    assert result.returncode == 0, result


def test_gemm_with_bias_is_not_missing_bias(tmp_path):
    save(tmp_path, "net.onnx", ob.mlp(first_bias=True))
    assert not of(lint_json(tmp_path, "net.onnx"), "NN003")


def test_conv_without_bias_before_batchnorm_is_fine(tmp_path):
    save(tmp_path, "net.onnx", ob.conv_bn(conv_bias=False))
    result = lint_json(tmp_path, "net.onnx")
    assert not of(result, "NN003") and not of(result, "NN101"), result


def test_conv_bias_before_batchnorm_is_redundant(tmp_path):
    save(tmp_path, "net.onnx", ob.conv_bn(conv_bias=True))
    result = lint_json(tmp_path, "net.onnx")
    [finding] = of(result, "NN101")
    assert (finding["name"], finding["severity"], finding["node"]) == ("redundant-bias-before-norm", "info", "conv1")
    assert result.returncode == 0, result  # info only


@pytest.mark.parametrize("build", [ob.dropout_opset7, ob.dropout_opset13], ids=["opset7-attribute", "opset13-input"])
def test_dropout_ratio_09_drops_most_units(tmp_path, build):
    save(tmp_path, "net.onnx", build(0.9))
    result = lint_json(tmp_path, "net.onnx")
    assert nodes(result, "NN007") == ["drop1"], result
    assert result.returncode == 1, result


@pytest.mark.parametrize("build", [ob.dropout_opset7, ob.dropout_opset13], ids=["opset7-attribute", "opset13-input"])
def test_dropout_ratio_05_is_fine(tmp_path, build):
    save(tmp_path, "net.onnx", build(0.5))
    assert not of(lint_json(tmp_path, "net.onnx"), "NN007")


def test_log_of_softmax_is_unstable(tmp_path):
    save(tmp_path, "net.onnx", ob.log_of_softmax())
    result = lint_json(tmp_path, "net.onnx")
    found = of(result, "NN002")
    assert len(found) == 1 and found[0]["node"] in ("log", "sm"), result


def test_log_softmax_is_fine(tmp_path):
    save(tmp_path, "net.onnx", ob.log_softmax())
    assert not of(lint_json(tmp_path, "net.onnx"), "NN002")


def test_relu_before_softmax_is_unstable(tmp_path):
    save(tmp_path, "net.onnx", ob.relu_then_softmax())
    result = lint_json(tmp_path, "net.onnx")
    found = of(result, "NN002")
    assert len(found) == 1 and found[0]["node"] in ("sm", "act1"), result


def test_softmax_of_logits_is_fine(tmp_path):
    save(tmp_path, "net.onnx", ob.plain_softmax())
    assert not of(lint_json(tmp_path, "net.onnx"), "NN002")


def test_all_zero_hidden_weights_are_bad_init(tmp_path):
    save(tmp_path, "net.onnx", ob.mlp(w1=ob.zeros_w1()))
    result = lint_json(tmp_path, "net.onnx")
    assert nodes(result, "NN004") == ["fc1"], result
    assert result.returncode == 1, result


def test_he_initialised_weights_are_fine(tmp_path):
    save(tmp_path, "net.onnx", ob.mlp())
    assert not of(lint_json(tmp_path, "net.onnx"), "NN004")


def test_nan_in_weights_is_bad_init(tmp_path):
    weight = ob.nan_w1()
    assert np.isnan(weight).sum() == 1
    save(tmp_path, "net.onnx", ob.mlp(w1=weight))
    result = lint_json(tmp_path, "net.onnx")
    assert nodes(result, "NN004") == ["fc1"], result


def test_relu_output_with_mse_in_the_training_script(tmp_path):
    save(tmp_path, "model.onnx", ob.regression_relu_output())
    write(tmp_path, "train.py", TRAIN_MSE_ONLY)
    result = lint_json(tmp_path, "model.onnx", "train.py")
    [finding] = of(result, "NN001")
    assert (finding["path"], finding["node"]) == ("model.onnx", "out_relu"), finding
    assert result.returncode == 1, result


def test_relu_output_alone_is_not_judged(tmp_path):
    save(tmp_path, "model.onnx", ob.regression_relu_output())
    result = lint_json(tmp_path, "model.onnx")
    assert not of(result, "NN001"), result


def test_relu_output_with_task_regression(tmp_path):
    save(tmp_path, "model.onnx", ob.regression_relu_output())
    result = lint_json(tmp_path, "--task", "regression", "model.onnx")
    assert nodes(result, "NN001") == ["out_relu"], result
    assert result.returncode == 1, result


# ------------------------------------------------------------------------------------------ config


def test_ignore_nodes_by_glob(tmp_path):
    save(tmp_path, "net.onnx", ob.two_dropouts("body_drop", "head_drop"))
    before = lint_json(tmp_path, "net.onnx")
    assert nodes(before, "NN007") == ["body_drop", "head_drop"], before
    write(tmp_path, "pyproject.toml", '[tool.nnlint]\nignore-nodes = ["head_*"]\n')
    after = lint_json(tmp_path, "net.onnx")
    assert nodes(after, "NN007") == ["body_drop"], after
    assert after.returncode == 1, after


def test_ignore_nodes_can_silence_everything(tmp_path):
    save(tmp_path, "net.onnx", ob.two_dropouts("head_drop1", "head_drop2"))
    write(tmp_path, "pyproject.toml", '[tool.nnlint]\nignore-nodes = ["head_*"]\n')
    result = lint_json(tmp_path, "net.onnx")
    assert not of(result, "NN007"), result
    assert result.returncode == 0, result


def test_task_per_model_relative_to_the_config_folder(tmp_path):
    save(tmp_path, "models/reg.onnx", ob.regression_relu_output())
    save(tmp_path, "models/other.onnx", ob.regression_relu_output())
    write(tmp_path, "pyproject.toml", '[tool.nnlint.models]\n"models/reg.onnx" = { task = "regression" }\n')
    result = lint_json(tmp_path / "models", "reg.onnx", "other.onnx")  # run from below the config's folder
    assert [(f["path"], f["node"]) for f in of(result, "NN001")] == [("reg.onnx", "out_relu")], result
    assert result.returncode == 1, result


def test_task_per_model_at_the_config_folder(tmp_path):
    save(tmp_path, "model.onnx", ob.regression_relu_output())
    write(tmp_path, "pyproject.toml", '[tool.nnlint.models]\n"model.onnx" = { task = "regression" }\n')
    result = lint_json(tmp_path, "model.onnx")
    assert nodes(result, "NN001") == ["out_relu"], result
