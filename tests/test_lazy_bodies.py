"""An imported module is parsed without its function bodies: each body is parsed from its own
lines the first time the interpreter reads the function (nnlint.bodies). The bodies parsed
alone are the whole parse's, their nodes have their places in the file, a method nothing calls
is never parsed, and the findings are those of the whole parse (checked against a run with the
skeleton turned off) on decorated methods, properties, class and static methods, nested
classes, class attributes and ``super()`` calls."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import libcst as cst
import pytest

from nnlint import bodies as bodies_module
from nnlint.bodies import Bodies
from nnlint.cli import main
from nnlint.statements import split_lines
from tests.test_lazy_statements import _LOOP  # the same training loop around the imported model

_SPELLINGS = '''"""Shapes a package writes its classes in."""
import functools


class Outer(Base, metaclass=Meta):
    """Doc."""

    SIZE = 3
    names: list = []

    @property
    def size(self):
        """The size."""
        return self.SIZE

    @functools.lru_cache(
        maxsize=None,
    )
    def cached(self, x,
               y=2):  # a comment on the signature
        value = """a string
whose lines start at column 0"""
        return value

    @staticmethod
    def helper(a): return a

    @classmethod
    async def build(cls):
        return cls()

    class Inner:
        def method(self):
            return super().method()

    def after(self):
        if self.SIZE:
            pass
        return 1


if FLAG:
    def choose():
        return 1
elif OTHER:
    def choose():
        return 2
else:
\tdef choose():
\t\treturn 3

try:
    def guarded():
        return 4
except ImportError:
    def guarded():
        return 5
finally:
    def closing():
        return 6
'''


def _bodies(text: str) -> tuple[Bodies, cst.Module]:
    found = Bodies(split_lines(text))
    return found, found.parse(1, len(found.lines), found.defs(ast.parse(text).body))


def _defs(module: cst.Module) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []
    bodies_module._cst_defs(module.body, found)
    return found


def _code(node: cst.CSTNode) -> str:
    """What a function's code means (as ast reads it): libcst keeps a block's indentation
    relative to the module's first one, which differs between the whole file and the lines
    parsed alone, so the whitespace of the two trees need not be the same."""
    return ast.dump(ast.parse(cst.Module(body=[]).code_for_node(node)))


def test_each_function_is_left_out_and_the_lines_keep_their_numbers():
    found, skeleton = _bodies(_SPELLINGS)
    stubs = {d.name.value for d in _defs(skeleton) if d in found.stubs}
    assert stubs == {"size", "cached", "helper", "build", "method", "after", "choose", "guarded", "closing"}
    for stub in found.stubs:  # `def name(): pass`
        assert _code(stub) == _code(cst.parse_module(f"def {stub.name.value}(): pass\n").body[0])
    for stub in _defs(skeleton):  # each keeps its place: the line of its first decorator, or of its def
        assert found.span(stub)[0] == found.stubs[stub].first


def test_a_body_parsed_alone_is_the_whole_parse_and_its_nodes_keep_their_places():
    found, skeleton = _bodies(_SPELLINGS)
    whole = cst.parse_module(_SPELLINGS)
    from libcst.metadata import MetadataWrapper, PositionProvider

    wrapper = MetadataWrapper(whole, unsafe_skip_copy=True)
    places = wrapper.resolve(PositionProvider)
    for stub, real in zip(_defs(skeleton), _defs(whole)):
        assert stub in found.stubs
        loaded = found.load(stub)
        assert loaded.name.value == real.name.value
        assert _code(loaded) == _code(real)
        assert found.load(stub) is loaded  # parsed once
        for mine, theirs in ((loaded.body.body[-1], real.body.body[-1]), (loaded.name, real.name)):
            rng = places[theirs]
            assert found.span(mine) == (rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)


def test_crlf_lines_and_a_module_libcst_would_read_differently_fall_back_to_the_whole_parse(monkeypatch):
    text = "class A:\r\n    def f(self):\r\n        return 1\r\n"
    found, skeleton = _bodies(text)
    [stub] = found.stubs
    assert _code(found.load(stub)) == _code(cst.parse_module(text).body[0].body.body[0])
    # when the defs libcst finds are not those the lines were taken from, nothing is left out
    monkeypatch.setattr(bodies_module, "_cst_defs", lambda body, out: None)
    found, module = _bodies(text)
    assert not found.stubs and ast.dump(ast.parse(module.code)) == ast.dump(ast.parse(text))


# ------------------------------------------------------------------ what a lint parses and finds

_MODEL = '''"""A classifier written with the class features packages use."""
import torch.nn as nn


def register(name):
    def wrap(cls):
        return cls
    return wrap


class Base(nn.Module):
    WIDTH = 64

    def __init__(self):
        super().__init__()

    @staticmethod
    def hidden(width):
        return nn.Linear(32, width)

    @classmethod
    def from_width(cls, width=None):
        return cls(width or cls.WIDTH)

    @property
    def size(self):
        return self.WIDTH

    def unused(self):
        return nn.Linear(1, 1)


@register("classifier")
class Classifier(Base):
    """The head."""

    class Config:
        depth = 2

        def describe(self):
            return "config"

    def __init__(self, width):
        super().__init__()
        self.head = nn.Sequential(self.hidden(width), nn.ReLU(), nn.Linear(width, 1),
                                  self.activation())

    @staticmethod
    def activation():
        return nn.Sigmoid()

    @register(
        "forward"
    )
    def forward(self, x):
        return self.head(x)

    async def later(self):
        return 1
'''

_TRAINS = {
    "classmethod.py": "from model import Classifier\nmodel = Classifier.from_width()\n",
    "class_attribute.py": "from model import Classifier\nmodel = Classifier(Classifier.WIDTH)\n",
    "module_attr.py": "import model as m\nmodel = m.Classifier(64)\n",
}

def _lint(root: Path, name: str, monkeypatch, capsys, whole: bool = False) -> tuple[list[dict], set[str]]:
    """The findings, and the names of the functions whose bodies were parsed on their own."""
    loaded: set[str] = set()
    real = Bodies.load

    def spy(self, stub):
        loaded.add(stub.name.value)
        return real(self, stub)

    def parse_whole(self, first, last, defs):  # libcst's own parse of every line, nothing left out
        module = cst.parse_module("".join(self.lines[first - 1:last]))
        self._parts.append((module, first - 1, None))
        return module

    monkeypatch.setattr(Bodies, "load", spy)
    if whole:
        monkeypatch.setattr(Bodies, "parse", parse_whole)
    monkeypatch.chdir(root)
    main(["--format", "json", "--no-color", "--no-cache", name])
    return json.loads(capsys.readouterr().out)["findings"], loaded


def _setup(root: Path, model: str = _MODEL) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    (root / "model.py").write_text(model, encoding="utf-8")
    for name, head in _TRAINS.items():
        (root / name).write_text(head + _LOOP, encoding="utf-8")


@pytest.mark.parametrize("effect", [False, True])
@pytest.mark.parametrize("name", sorted(_TRAINS))
def test_only_the_functions_that_run_are_parsed_and_the_findings_are_the_whole_parse(
        tmp_path, monkeypatch, capsys, name, effect):
    # with a top-level effect the module is not read statement by statement: it runs whole,
    # its function bodies still left out until read
    _setup(tmp_path, _MODEL + ("_REGISTRY = {}\n_REGISTRY['classifier'] = Classifier\n" if effect else ""))
    lazy, loaded = _lint(tmp_path, name, monkeypatch, capsys)
    assert not loaded & {"unused", "size", "describe", "later"}
    if name == "classmethod.py":  # the factory is read; what cls(...) makes there is not followed
        assert "from_width" in loaded
    else:
        [finding] = [f for f in lazy if f["code"] == "NN109"]
        assert finding["message"].endswith("(at model.py:50)")  # the Sigmoid's line, in a body parsed alone
        assert {"__init__", "hidden", "activation", "forward"} <= loaded
        assert "from_width" not in loaded
    whole, none = _lint(tmp_path, name, monkeypatch, capsys, whole=True)
    assert not none
    assert lazy == whole


def test_a_linted_file_is_parsed_whole(tmp_path, monkeypatch, capsys):
    _setup(tmp_path, _MODEL + "\nmodel = Classifier(64)\n" + _LOOP)
    findings, loaded = _lint(tmp_path, "model.py", monkeypatch, capsys)
    assert not loaded
    assert any(f["code"] == "NN109" and f["path"] == "model.py" for f in findings)


def test_a_body_libcst_cannot_read_makes_its_calls_unknown(tmp_path, monkeypatch, capsys):
    _setup(tmp_path)
    real = Bodies.load
    monkeypatch.setattr(Bodies, "load", lambda self, stub: None if stub.name.value == "activation"
                        else real(self, stub))
    monkeypatch.chdir(tmp_path)
    main(["--format", "json", "--no-color", "--no-cache", "module_attr.py"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert not [f for f in findings if f["code"] == "NN109"]  # the activation is not known: no guess


def test_a_decorator_continued_from_a_line_of_its_own_keeps_its_function_whole():
    text = "class A:\n    @ \\\n    deco\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2\n"
    found, skeleton = _bodies(text)
    assert {d.name.value for d in found.stubs} == {"g"}
    [f, g] = _defs(skeleton)
    assert found.span(f.name)[0] == 4 and found.span(g.name)[0] == 7  # the lines keep their numbers
