"""Hostile repositories: what a pull request can deliver must not leak, stall or crash nnlint.

Each case is a git repository built in a temporary folder the way a pull request delivers it
(files and symlinks committed; a FIFO, which git cannot store, made in the working tree), with a
control file that has a real finding. nnlint runs as a subprocess with a timeout, as CI runs
it, and every case asserts: no traceback, the exit code, one line naming the file, the control
file still linted, and nothing from outside the project printed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CliResult, cli_env, git, run_cli, write

pytestmark = pytest.mark.skipif(os.name != "posix" or shutil.which("git") is None,
                                reason="symlinks, FIFOs and git are needed")

#: The control: NN007 on line 2 wherever it is linted.
CONTROL = "import torch.nn as nn\nd = nn.Dropout(0.9)\n"
#: What lies outside the project; it must never appear in what nnlint prints.
SECRET = "ghp_0utside5ecret7oken"
#: Outside code that would also give findings if it were read (and show its first line).
OUTSIDE_CODE = f'TOKEN = "{SECRET}"\nimport torch.nn as nn\nleak = nn.Dropout(0.95)\n'
#: A hostile case answers quickly; the timeout is the hang detector.
TIMEOUT = 60


def _project(tmp_path: Path, files: dict[str, str], links: dict[str, str] = {}) -> Path:
    """``tmp_path/proj``, a committed git repository holding ``control.py``, ``files`` and the
    symlinks ``links`` (name -> target, as written in the link)."""
    proj = tmp_path / "proj"
    proj.mkdir()
    git("init", "-q", cwd=proj)
    write(proj, "control.py", CONTROL)
    for name, text in files.items():
        write(proj, name, text)
    for name, target in links.items():
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, proj / name)
    git("add", "-A", cwd=proj)
    git("commit", "-q", "-m", "pull request", cwd=proj)
    return proj


def _outside(tmp_path: Path, name: str = "creds", text: str = OUTSIDE_CODE) -> Path:
    return write(tmp_path / "outside", name, text)


def _lint(proj: Path, *args: str) -> CliResult:
    result = run_cli(list(args) or ["."], cwd=proj, timeout=TIMEOUT)
    assert "NN999" not in result.stdout + result.stderr, result
    return result


def _assert_control_linted(result: CliResult) -> None:
    assert "control.py:2:5: NN007" in result.stdout, result


def _assert_one_line(result: CliResult, name: str, reason: str) -> None:
    """Exactly one finding line names ``name``, and says ``reason``; no code frame under it."""
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{name}:")]
    assert len(lines) == 1, result
    assert "NN902" in lines[0] and reason in lines[0], result
    assert not [line for line in result.stdout.splitlines() if line.startswith(f"{name}:") and "|" in line], result


def _assert_no_secret(result: CliResult) -> None:
    assert SECRET not in result.stdout and SECRET not in result.stderr, result
    assert "leak" not in result.stdout, result


# ------------------------------------------------------------------------------------- links out


@pytest.mark.parametrize("named", [False, True], ids=["walked", "named-by-pre-commit"])
@pytest.mark.parametrize("link", ["p.py", "sub/deep/p.py", "nb.ipynb"])
def test_a_symlink_to_a_file_outside_the_project_is_not_read(tmp_path, named, link):
    outside = _outside(tmp_path)
    depth = "../" * link.count("/")
    proj = _project(tmp_path, {}, {link: f"{depth}../outside/{outside.name}"})
    result = _lint(proj, *([link, "control.py"] if named else []))
    assert result.returncode == 2, result  # an input that could not be read
    _assert_one_line(result, link, "a link to a file outside the project")
    _assert_no_secret(result)
    _assert_control_linted(result)


def test_a_symlink_inside_the_project_is_linted_like_its_target(tmp_path):
    """The near miss: a link that stays inside the project is an ordinary file."""
    proj = _project(tmp_path, {"src/real.py": CONTROL.replace("0.9", "0.95")}, {"alias.py": "src/real.py"})
    result = _lint(proj, "alias.py", "control.py")
    assert result.returncode == 1, result
    assert "alias.py:2:5: NN007" in result.stdout and "0.95" in result.stdout, result
    _assert_control_linted(result)


def test_a_symlinked_file_does_not_lead_imports_out_of_the_project(tmp_path):
    """Through ``train.py -> ../outside/train.py``, ``from helper import ...`` would open the
    outside ``helper.py``: an audit hook watches every open."""
    _outside(tmp_path, "helper.py", OUTSIDE_CODE + "class Net(nn.Module):\n    pass\n")
    _outside(tmp_path, "train.py", "from helper import Net\nmodel = Net()\n")
    proj = _project(tmp_path, {}, {"train.py": "../outside/train.py"})
    probe = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event == 'open' and args and 'outside' in str(args[0]):\n"
        "        sys.__stderr__.write('@@OPENED@@ ' + str(args[0]) + '\\n')\n"
        "sys.addaudithook(hook)\n"
        "from nnlint.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for args in (["."], ["train.py", "control.py"]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=proj, env=cli_env(), capture_output=True,
                              text=True, timeout=TIMEOUT)
        result = CliResult(args, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "@@OPENED@@" not in proc.stderr, result
        assert result.returncode == 2, result
        _assert_one_line(result, "train.py", "outside the project")
        _assert_no_secret(result)
        _assert_control_linted(result)


def test_a_symlinked_folder_is_not_walked_out_of_the_project_or_in_a_loop(tmp_path):
    _outside(tmp_path, "leak.py")
    proj = _project(tmp_path, {}, {"vendor": "../outside", "loop": ".", "sub/up": ".."})
    result = _lint(proj)
    assert result.returncode == 1, result  # nothing unreadable: a symlinked folder is simply not walked
    _assert_no_secret(result)
    _assert_control_linted(result)
    assert result.stdout.count("NN007") == 1, result


def test_a_gitignore_that_is_a_link_out_of_the_project_is_not_read(tmp_path):
    _outside(tmp_path, "ignore", f"{SECRET}\n")
    proj = _project(tmp_path, {}, {".gitignore": "../outside/ignore"})
    result = _lint(proj)
    assert result.returncode == 1, result  # git would not follow it either; the files are linted
    [note] = [line for line in result.stderr_lines if ".gitignore" in line]
    assert "outside the project" in note, result
    _assert_no_secret(result)
    _assert_control_linted(result)


# --------------------------------------------------------------------- devices, FIFOs and loops


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("name", ["x.py", pytest.param("m.onnx", marks=pytest.mark.slow), "nb.ipynb"])
def test_a_symlink_to_dev_zero_is_refused_at_once(tmp_path, name):
    if name.endswith(".onnx"):
        pytest.importorskip("onnx")
    proj = _project(tmp_path, {}, {name: "/dev/zero"})
    for args in ([], [name, "control.py"]):
        result = _lint(proj, *args)  # read until memory runs out, it would not end within the timeout
        assert result.returncode == 2, result
        _assert_one_line(result, name, "not read")
        _assert_control_linted(result)


def test_a_pyproject_that_is_a_link_to_a_device_is_one_line(tmp_path):
    proj = _project(tmp_path, {}, {"pyproject.toml": "/dev/zero"})
    result = _lint(proj)
    assert result.returncode == 2, result
    assert any("pyproject.toml" in line and "cannot read" in line for line in result.stderr_lines), result


@pytest.mark.parametrize("named", [False, True], ids=["walked", "named"])
def test_a_symlink_loop_is_one_line(tmp_path, named):
    proj = _project(tmp_path, {}, {"a.py": "a.py", "b.py": "c.py", "c.py": "b.py"})
    result = _lint(proj, *(["a.py", "b.py", "control.py"] if named else []))
    assert result.returncode == 2, result
    _assert_one_line(result, "a.py", "symlink loop")
    _assert_one_line(result, "b.py", "symlink loop")
    _assert_control_linted(result)


def test_a_dangling_symlink_is_one_line(tmp_path):
    proj = _project(tmp_path, {}, {"gone.py": "nowhere/gone.py"})
    result = _lint(proj)
    assert result.returncode == 2, result
    _assert_one_line(result, "gone.py", "dangling symlink")
    _assert_control_linted(result)


@pytest.mark.parametrize("named", [False, True], ids=["walked", "named"])
@pytest.mark.parametrize("name", ["x.py", "sub/nb.ipynb", "m.onnx"])
def test_a_fifo_does_not_hang_nnlint(tmp_path, named, name):
    if name.endswith(".onnx"):
        pytest.importorskip("onnx")
    proj = _project(tmp_path, {})
    (proj / name).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(proj / name)  # nobody writes to it: opening it for reading would block forever
    result = _lint(proj, *([name, "control.py"] if named else []))
    assert result.returncode == 2, result
    _assert_one_line(result, name, "a FIFO, not a regular file")
    _assert_control_linted(result)


def test_an_unreadable_subfolder_is_one_line(tmp_path):
    proj = _project(tmp_path, {"locked/model.py": CONTROL})
    locked = proj / "locked"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("permissions are not enforced for this user (root)")
        result = _lint(proj)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.returncode == 2, result
    lines = [line for line in result.stderr_lines if "locked" in line]
    assert len(lines) == 1 and "cannot read folder" in lines[0], result
    _assert_control_linted(result)


# ------------------------------------------------------------------------- ignore patterns


def test_a_gitignore_line_git_rejects_is_dropped_with_one_line(tmp_path):
    proj = _project(tmp_path, {".gitignore": "!\nignored.py\n", "ignored.py": CONTROL, "kept.py": CONTROL})
    result = _lint(proj)
    assert result.returncode == 1, result
    [note] = [line for line in result.stderr_lines if ".gitignore" in line]
    assert "invalid pattern '!'" in note, result
    assert "ignored.py" not in result.stdout, result  # the file's other patterns still apply
    assert "kept.py:2:5: NN007" in result.stdout, result
    _assert_control_linted(result)


@pytest.mark.parametrize("patterns", ['["!"]', '["!", "ignored.py"]', '["\\\\"]'])
def test_an_exclude_pattern_that_cannot_be_compiled_is_a_configuration_error(tmp_path, patterns):
    config = f"[project]\nname = 'x'\n\n[tool.nnlint]\nexclude = {patterns}\n"
    proj = _project(tmp_path, {"pyproject.toml": config, "ignored.py": CONTROL})
    for args in ([], ["control.py", "ignored.py"]):
        result = _lint(proj, *args)
        assert result.returncode == 2, result  # a configuration error
        [line] = [line for line in result.stderr_lines if "exclude" in line]
        assert "pyproject.toml" in line and "invalid pattern" in line, result
        _assert_control_linted(result)
        assert ("ignored.py" in result.stdout) == ("ignored.py" not in patterns), result


# ------------------------------------------------------------------------ shadowing packages


TRAIN = """\
import torch
import torch.nn as nn
from torch import optim

model = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 1))
optimizer = optim.Adam(model.parameters())
drop = torch.nn.Dropout(0.9)
"""


@pytest.mark.parametrize("package", [
    {"torch/__init__.py": "def seed_everything(seed):\n    return seed\n"},
    {"torch/__init__.py": "", "torch/utils_local.py": "X = 1\n"},
    {"torch/callbacks.py": "X = 1\n"},  # a bare folder: a namespace portion, never torch
])
def test_a_local_torch_package_does_not_silence_the_project(tmp_path, package):
    proj = _project(tmp_path, {"train.py": TRAIN, "scripts/fit.py": TRAIN, **package})
    result = _lint(proj)
    assert result.returncode == 1, result
    for script in ("train.py", "scripts/fit.py"):
        assert f"{script}:5:23: NN003" in result.stdout, result
        assert f"{script}:7:8: NN007" in result.stdout, result
    _assert_control_linted(result)


def test_a_local_torch_that_defines_the_names_used_still_shadows_torch(tmp_path):
    """The near miss: a ``torch.py`` that defines ``nn`` is what a script beside it imports:
    unknown. The control at the root does not see it (``app/`` is not on its path)."""
    proj = _project(tmp_path, {"app/train.py": TRAIN, "app/torch.py": "class nn:\n    pass\n\n\noptim = None\n"})
    result = _lint(proj)
    assert "app/train.py" not in result.stdout, result
    assert result.returncode == 1, result
    _assert_control_linted(result)


def test_a_framework_checkout_that_reexports_its_api_is_read_as_the_framework(tmp_path):
    """keras' own repository: ``keras/__init__.py`` re-exports its API with ``from keras.api
    import *``. Names that come only through such a star import are the framework's (the
    re-export is not executed), so a guide in the checkout is read as Keras code, the same
    whatever was linted before it."""
    package = {
        "keras/__init__.py": "import os\n__path__.append(os.path.join(os.path.dirname(__file__), 'api'))\n"
                             "from keras.api import *\n",
        "keras/api/__init__.py": "from keras.src import layers\nfrom keras.src.models import Sequential\n",
        "keras/src/__init__.py": "",
        "keras/src/layers.py": "class Dense:\n    def __init__(self, units, activation=None):\n        self.units = units\n",
        "keras/src/models.py": "class Sequential:\n    def __init__(self, layers=()):\n        self.layers = layers\n",
    }
    guide = ("import keras\nfrom keras import layers\n\nmodel = keras.Sequential([layers.Dense(8, activation='relu'),"
             " layers.Dense(1, activation='relu')])\nmodel.compile(loss='mse', optimizer='adam')\nmodel.fit(x, y)\n")
    proj = _project(tmp_path, {**package, "guides/a.py": guide, "guides/b.py": guide})
    result = _lint(proj)
    for name in ("guides/a.py", "guides/b.py"):
        assert f"{name}:4:" in result.stdout and "NN001" in result.stdout, result
    _assert_control_linted(result)


# ------------------------------------------------------------------------ ONNX external data


@pytest.mark.parametrize("entry,value", [("offset", "-8"), ("offset", "99999999"), ("length", "-1"),
                                         ("offset", "ten")])
def test_a_bad_external_data_offset_is_one_line_and_the_graph_is_still_linted(tmp_path, entry, value):
    pytest.importorskip("onnx")
    import onnx

    from . import onnx_builders as ob

    proj = _project(tmp_path, {})
    path = ob.save_external(ob.external_model(), proj / "model.onnx")
    model = onnx.load(str(path), load_external_data=False)
    [tensor] = [t for t in model.graph.initializer if t.name == ob.EXTERNAL_INITIALIZER]
    entries = {e.key: e for e in tensor.external_data}
    if entry not in entries:
        entries[entry] = tensor.external_data.add(key=entry)
    entries[entry].value = value
    onnx.save_model(model, str(path))
    result = _lint(proj, "--format", "json", ".")
    found = result.json["findings"]
    assert [f["code"] for f in found if f["path"] == "model.onnx" and f["code"].startswith("NN9")] == ["NN906"], result
    assert any(f["code"] == "NN007" and f["node"] == "drop1" for f in found), result  # the rest is kept
    assert not any(f["code"] == "NN004" for f in found), result  # the bad tensor was not read
    assert result.returncode == 1, result
