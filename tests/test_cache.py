"""The cache of findings (.nnlint_cache): a hit gives what a fresh analysis gives, an edit to
anything the analysis read invalidates it, and an entry not signed with this user's key is
never trusted."""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, cli_env, run_cli, write

from .test_findings_across_files import _MODEL, _TRAIN


def _env(tmp_path: Path, **extra):
    return cli_env(**{"XDG_CACHE_HOME": str(tmp_path / "xdg"), "NNLINT_NO_CACHE": None, **extra})


def _lint(project: Path, tmp_path: Path, *args: str, **extra):
    result = run_cli(["--format", "json", *args], project, env=_env(tmp_path, **extra))
    assert result.returncode in (0, 1), str(result)
    return result


def _entries(project: Path) -> list[Path]:
    folder = project / ".nnlint_cache"
    return sorted(p for p in folder.iterdir() if len(p.name) == 64) if folder.is_dir() else []


def _payload(entry: Path) -> dict:
    from nnlint import cache

    return json.loads(cache._inflate(entry.read_bytes()[len(cache._MAGIC) + 32:]))


def _findings_entries(project: Path) -> list[Path]:
    """The entries of linted files (not the outlines of the modules they import)."""
    return [p for p in _entries(project) if "unit" in _payload(p)]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    write(project, "pyproject.toml", "[project]\nname = 'p'\n")
    write(project, "model.py", _MODEL)
    write(project, "train.py", _TRAIN)
    return project


def _codes(result) -> list[tuple]:
    return [(f["path"], f["line"], f["code"]) for f in result.json["findings"]]


def test_a_hit_equals_a_miss_over_the_examples_and_fixtures(tmp_path):
    project = tmp_path / "proj"
    write(project, "pyproject.toml", "[project]\nname = 'p'\n")
    for part in ("buggy", "correct"):
        shutil.copytree(REPO_ROOT / "tests" / "fixtures" / part, project / part)
    shutil.copytree(REPO_ROOT / "examples", project / "examples")
    fresh = _lint(project, tmp_path, "--no-cache", ".")
    assert not (project / ".nnlint_cache").exists()
    cold = _lint(project, tmp_path, ".")
    stored = {p: p.stat().st_mtime_ns for p in _entries(project)}
    assert len(stored) >= 40
    warm = _lint(project, tmp_path, ".")
    assert fresh.json["findings"] and fresh.stdout == cold.stdout == warm.stdout
    assert fresh.returncode == cold.returncode == warm.returncode
    assert {p: p.stat().st_mtime_ns for p in _entries(project)} == stored  # all hits: nothing written again
    text = run_cli([".", "--statistics"], project, env=_env(tmp_path))  # another reporter, the same entries
    assert text.stdout == run_cli([".", "--statistics", "--no-cache"], project, env=_env(tmp_path)).stdout


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    """The project, for nnlint's ``main()`` run in this process with a cache of its own."""
    project = _project(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("NNLINT_NO_CACHE", raising=False)
    monkeypatch.chdir(project)
    yield project
    gc.enable()  # main() turns the collector off for its run


def test_a_warm_run_parses_nothing(in_process, monkeypatch, capsys):
    from nnlint.cli import main

    assert main(["--format", "json", "train.py"]) == 1
    cold = capsys.readouterr().out

    def parse(*args, **kwargs):
        raise AssertionError("parsed a file the cache holds")

    monkeypatch.setattr("nnlint.frontends.project.parse", parse)
    assert main(["--format", "json", "train.py"]) == 1
    assert capsys.readouterr().out == cold


@pytest.mark.parametrize("effect", ["", "nn.Module.dump_patches = True\n"], ids=["indexed", "run-whole"])
def test_an_edited_file_reads_the_modules_it_imports_from_their_outlines(in_process, monkeypatch, capsys, effect):
    """A pre-commit run on an edited train.py: model.py, unchanged, is read from the outline the
    first run kept (by statement, or, with a top-level effect, whole without its functions)."""
    from nnlint import source
    from nnlint.cli import main

    (in_process / "model.py").write_text(_MODEL + effect, encoding="utf-8")
    assert main(["--format", "json", "train.py"]) == 1
    capsys.readouterr()
    (in_process / "train.py").write_text(_TRAIN + "# edited\n", encoding="utf-8")
    indexed = []
    monkeypatch.setattr(source, "index", lambda *args: indexed.append(args) or None)
    assert main(["--format", "json", "train.py"]) == 1
    edited = capsys.readouterr().out
    assert indexed == []  # model.py was not parsed to be indexed
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(in_process.parent / "xdg"))
    monkeypatch.chdir(in_process)
    assert main(["--format", "json", "--no-cache", "train.py"]) == 1
    assert capsys.readouterr().out == edited and "NN109" in edited


@pytest.mark.parametrize("bad", [
    {"statements": [[1, 999, ["Classifier"], []]]}, {"statements": [["1", 2, ["Classifier"], []]]},
    {"statements": [[1, 2, ["not a name"], []]]}, {"statements": [[1, 2, ["a"], [["f", 3, 2, True]]]]},
    {"statements": [[1, 2, ["a"], [["f", 1, 2, 1]]]]}, {"defs": [[1, 1, 2, True]]}, {"defs": None},
    {"other": []}, {"statements": [], "defs": []}, [], "x",
], ids=lambda bad: json.dumps(bad)[:40])
def test_an_outline_that_does_not_fit_the_module_is_read_afresh(tmp_path, bad):
    """A signed outline whose data is not an outline of the module (an older nnlint's bug) is a miss."""
    project = _project(tmp_path)
    truth = _lint(project, tmp_path, "train.py")
    [outline] = [p for p in _entries(project) if "outline" in _payload(p)]
    from nnlint import cache

    payload = _payload(outline)
    payload["outline"] = bad
    packed = __import__("zlib").compress(json.dumps(payload).encode())
    key = (tmp_path / "xdg" / "nnlint" / "key").read_bytes()
    import hashlib
    import hmac

    outline.write_bytes(cache._MAGIC + hmac.new(key, outline.name.encode() + b"\0" + packed, hashlib.sha256).digest()
                        + packed)
    (project / "train.py").write_text(_TRAIN + "# edited\n", encoding="utf-8")
    assert _codes(_lint(project, tmp_path, "train.py")) == _codes(truth)


def test_editing_an_imported_module_relints_its_importer(tmp_path):
    project = _project(tmp_path)
    assert ("train.py", 6, "NN109") in _codes(_lint(project, tmp_path, "train.py"))
    (project / "model.py").write_text(_MODEL.replace(", nn.Sigmoid()", ""), encoding="utf-8")
    assert ("train.py", 6, "NN109") not in _codes(_lint(project, tmp_path, "train.py"))
    (project / "model.py").write_text(_MODEL, encoding="utf-8")
    assert ("train.py", 6, "NN109") in _codes(_lint(project, tmp_path, "train.py"))


def test_a_module_read_statement_by_statement_is_a_fact_whole(tmp_path):
    # only the class of model.py is parsed and run (its helpers are not read): the file's bytes
    # are still what the result relied on, so an edit anywhere in it relints train.py
    project = _project(tmp_path)
    helper = "\n\ndef unused_helper():\n    return 1\n"
    write(project, "model.py", helper + _MODEL + helper.replace("unused", "other"))
    assert ("train.py", 6, "NN109") in _codes(_lint(project, tmp_path, "train.py"))
    write(project, "model.py", helper + _MODEL.replace(", nn.Sigmoid()", "") + helper.replace("unused", "other"))
    assert ("train.py", 6, "NN109") not in _codes(_lint(project, tmp_path, "train.py"))


def test_a_module_that_an_import_would_now_find_relints_the_importer(tmp_path):
    # train.py imports ``model``: first from a package folder, then a model.py beside it wins
    project = _project(tmp_path)
    (project / "model.py").unlink()
    write(project, "model/__init__.py", _MODEL.replace(", nn.Sigmoid()", ""))
    assert ("train.py", 6, "NN109") not in _codes(_lint(project, tmp_path, "train.py"))
    write(project, "model.py", _MODEL)
    assert ("train.py", 6, "NN109") in _codes(_lint(project, tmp_path, "train.py"))


def test_the_files_named_with_it_are_part_of_the_key(tmp_path):
    # the finding is shown at the loss when train.py is linted alone, at the layer otherwise
    project = _project(tmp_path)
    alone = _lint(project, tmp_path, "train.py")
    both = _lint(project, tmp_path, "train.py", "model.py")
    assert ("model.py", 7, "NN109") in _codes(both) and ("train.py", 6, "NN109") not in _codes(both)
    assert _lint(project, tmp_path, "train.py").stdout == alone.stdout
    assert _lint(project, tmp_path, "train.py", "model.py").stdout == both.stdout


def test_a_module_named_by_its_absolute_path_is_asked_about(tmp_path):
    # an imported module not asked about is shown by its absolute path; named so, it is asked
    # about: the same name, but its findings are now kept there
    project = _project(tmp_path)
    model = str((project / "model.py").resolve())
    _lint(project, tmp_path, "train.py")
    both = _lint(project, tmp_path, "train.py", model)
    assert (model, 7, "NN109") in _codes(both)
    assert both.stdout == _lint(project, tmp_path, "--no-cache", "train.py", model).stdout


@pytest.mark.parametrize("change", [
    lambda p: (p / "pyproject.toml").write_text("[project]\nname = 'p'\n[tool.nnlint]\nignore = ['NN109']\n"),
    lambda p: (p / "pyproject.toml").write_text("[project]\nname = 'p'\n[tool.nnlint]\ntask = 'regression'\n"),
], ids=["ignore", "task"])
def test_a_configuration_change_is_another_key(tmp_path, change):
    project = _project(tmp_path)
    before = _lint(project, tmp_path, ".")
    change(project)
    after = _lint(project, tmp_path, ".")
    assert after.stdout == _lint(project, tmp_path, ".", "--no-cache").stdout
    assert len(_entries(project)) == 4  # two files, under two settings each
    if "ignore" in (project / "pyproject.toml").read_text():
        assert "NN109" in {c for _, _, c in _codes(before)} and "NN109" not in {c for _, _, c in _codes(after)}


def test_options_that_change_findings_are_keys_too(tmp_path):
    project = _project(tmp_path)
    everything = _lint(project, tmp_path, ".")
    selected = _lint(project, tmp_path, ".", "--select", "NN003")
    assert {f["code"] for f in selected.json["findings"]} <= {"NN003"}
    assert _lint(project, tmp_path, ".").stdout == everything.stdout


def test_an_entry_signed_with_another_key_is_ignored_and_replaced(tmp_path):
    project = _project(tmp_path)
    truth = _lint(project, tmp_path, "train.py")
    [entry] = _findings_entries(project)
    # Forge an entry with no findings, signed with a key that is not this user's.
    forged = tmp_path / "forger"
    _lint(project, forged, "train.py")
    assert _findings_entries(project) == [entry]  # the same name: the name is no secret
    from nnlint import cache

    data = entry.read_bytes()
    payload = json.loads(cache._inflate(data[len(cache._MAGIC) + 32:]))
    payload["findings"] = []
    packed = __import__("zlib").compress(json.dumps(payload).encode())
    other_key = (forged / "xdg" / "nnlint" / "key").read_bytes()
    import hashlib
    import hmac

    mac = hmac.new(other_key, entry.name.encode() + b"\0" + packed, hashlib.sha256).digest()
    entry.write_bytes(cache._MAGIC + mac + packed)
    assert _lint(project, tmp_path, "train.py").stdout == truth.stdout
    assert entry.read_bytes() != cache._MAGIC + mac + packed  # overwritten with a signed one
    # The forger's own key would have accepted it: the signature is what refused it.
    entry.write_bytes(cache._MAGIC + mac + packed)
    assert _lint(project, forged, "train.py").json["findings"] == []


@pytest.mark.parametrize("garbage", [b"", b"NNLC1", b"NNLC1" + b"\0" * 32 + b"x" * 100, b"{}", os.urandom(300)],
                         ids=["empty", "magic", "zeros", "json", "random"])
def test_a_corrupt_entry_is_ignored(tmp_path, garbage):
    project = _project(tmp_path)
    truth = _lint(project, tmp_path, ".")
    for entry in _entries(project):
        entry.write_bytes(garbage)
    result = _lint(project, tmp_path, ".")
    assert result.stdout == truth.stdout and result.stderr == truth.stderr


def test_a_symlinked_cache_folder_is_not_used(tmp_path):
    project = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".nnlint_cache").symlink_to(elsewhere)
    truth = _lint(project, tmp_path, ".", "--no-cache")
    result = _lint(project, tmp_path, ".")
    assert result.stdout == truth.stdout
    assert list(elsewhere.iterdir()) == []
    assert "the cache is not used" in result.stderr


def test_an_entry_that_is_a_link_is_not_followed(tmp_path):
    project = _project(tmp_path)
    truth = _lint(project, tmp_path, "train.py")
    [entry] = _findings_entries(project)
    outside = tmp_path / "outside"
    outside.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(outside)
    assert _lint(project, tmp_path, "train.py").stdout == truth.stdout
    assert not entry.is_symlink()  # replaced by a file of its own


def test_no_cache_writes_nothing(tmp_path):
    project = _project(tmp_path)
    _lint(project, tmp_path, "--no-cache", ".")
    _lint(project, tmp_path, ".", NNLINT_NO_CACHE="1")
    assert not (project / ".nnlint_cache").exists()
    assert not (tmp_path / "xdg").exists()


def test_the_folder_is_tagged_and_ignored_by_git(tmp_path):
    project = _project(tmp_path)
    _lint(project, tmp_path, ".")
    folder = project / ".nnlint_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    key = tmp_path / "xdg" / "nnlint" / "key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32


def test_cache_dir_names_the_folder(tmp_path):
    project = _project(tmp_path)
    truth = _lint(project, tmp_path, ".")
    _lint(project, tmp_path, ".", "--cache-dir", str(tmp_path / "mine"))
    assert len([p for p in (tmp_path / "mine").iterdir() if len(p.name) == 64]) == 2
    assert _lint(project, tmp_path, ".", "--cache-dir", str(tmp_path / "mine")).stdout == truth.stdout


def test_standard_input_is_not_cached(tmp_path):
    import subprocess
    import sys

    project = _project(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "nnlint", "-", "--stdin-filename", "train.py"], cwd=project,
                          input=_TRAIN, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert "NN109" in proc.stdout
    assert not (project / ".nnlint_cache").exists()


def test_clean_removes_the_caches_under_the_folder(tmp_path):
    project = _project(tmp_path)
    _lint(project, tmp_path, ".")
    nested = project / "sub"
    write(nested, "pyproject.toml", "[project]\nname = 's'\n")
    write(nested, "train.py", _TRAIN)
    _lint(nested, tmp_path, ".")
    assert (nested / ".nnlint_cache").is_dir()
    outside = tmp_path / "outside"
    write(outside, "keep.txt", "not a cache\n")
    (project / "linked").mkdir()
    (project / "linked" / ".nnlint_cache").symlink_to(outside)
    result = run_cli(["clean"], project, env=_env(tmp_path))
    assert result.returncode == 0
    assert not (project / ".nnlint_cache").exists() and not (nested / ".nnlint_cache").exists()
    assert not os.path.lexists(project / "linked" / ".nnlint_cache")  # the link, never what it leads to
    assert (outside / "keep.txt").exists() and (project / "train.py").exists()


def test_a_timed_out_analysis_is_not_kept(in_process, monkeypatch, capsys):
    """A wall-time NN904 says how loaded the machine was: the next run analyses the file again."""
    from nnlint.cli import main
    from nnlint.frontends.interpreter import Interpreter

    with monkeypatch.context() as slow:
        slow.setattr(Interpreter, "MAX_SECONDS", 0.0)
        slow.setattr(Interpreter, "CLOCK_EVERY", 1)
        main(["--format", "json", "train.py"])
        timed_out = json.loads(capsys.readouterr().out)["findings"]
    assert [f["code"] for f in timed_out] == ["NN904"] and _entries(in_process) == []
    assert main(["--format", "json", "train.py"]) == 1  # analysed in full this time
    assert "NN904" not in {f["code"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert _entries(in_process)


def test_a_finding_from_the_cache_keeps_its_place_among_the_files(tmp_path):
    """Two analyses make the same finding (the model file's own, with its default; the
    script's, with the value it passes): the first file's is kept, whether the other file was
    analysed again or taken from the cache."""
    from .conftest import cli_env, run_cli, write

    write(tmp_path, "pyproject.toml", "[project]\nname = 'p'\n")
    write(tmp_path, "model.py", "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, p=0.8):\n"
                                "        super().__init__()\n        self.d = nn.Dropout(p)\n")
    write(tmp_path, "train.py", "from model import Net\n\nnet = Net(p=0.95)\n")
    env = cli_env(NNLINT_NO_CACHE=None)

    def messages(*extra):
        found = run_cli(["--format", "json", *extra, "model.py", "train.py"], tmp_path, env=env).json["findings"]
        return [f["message"] for f in found if f["code"] == "NN007"]

    fresh = messages("--no-cache")
    assert messages() == fresh  # the cache written
    write(tmp_path, "train.py", "from model import Net\n\nnet = Net(p=0.95)\n# edited\n")
    assert messages() == fresh == messages("--no-cache")  # model.py from the cache, train.py analysed again


def test_an_outline_is_found_by_the_text_parsed(tmp_path, monkeypatch):
    """Not by a file's bytes: a notebook's outline describes its code, not its JSON."""
    from nnlint import source

    class Kept(dict):
        def outline(self, digest):
            return self.get(digest)

        def keep_outline(self, digest, data):
            self[digest] = data

    kept = Kept()
    fresh = source.parse("model.py", tmp_path / "model.py", _MODEL, imported=True, outlines=kept)
    assert len(kept) == 1
    monkeypatch.setattr(source, "index", lambda *args: pytest.fail("parsed to be indexed"))
    outlined = source.parse("model.py", tmp_path / "model.py", _MODEL, imported=True, outlines=kept)
    assert [(s.first, s.last, s.names) for s in outlined.statements.statements] \
        == [(s.first, s.last, s.names) for s in fresh.statements.statements]
    monkeypatch.undo()
    source.parse("other.py", tmp_path / "other.py", _MODEL + "x = 1\n", imported=True, outlines=kept)
    assert len(kept) == 2
