"""nnlint.cst_walk yields what libcst's visitor visits, in the same order."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from nnlint.cst_walk import walk

ROOT = Path(__file__).resolve().parent.parent
#: what the analysis looks for in a walk: expressions (calls, names), statements, arguments
READ = (cst.BaseExpression, cst.BaseStatement, cst.BaseSmallStatement, cst.Arg, cst.Param, cst.Decorator,
        cst.BaseElement, cst.BaseDictElement, cst.Name, cst.CompFor, cst.ExceptHandler, cst.AssignTarget)


class _Order(cst.CSTVisitor):
    def __init__(self) -> None:
        self.seen: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.seen.append(node)
        return True


def _sources() -> list[Path]:
    found = sorted((ROOT / "tests" / "fixtures").rglob("*.py")) + sorted((ROOT / "linter" / "frontends").glob("*.py"))
    return [p for p in found if "__pycache__" not in p.parts]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_walk_is_the_visitor_s_order(path):
    try:
        module = cst.parse_module(path.read_text(encoding="utf-8"))
    except cst.ParserSyntaxError:
        pytest.skip("libcst cannot read it")
    order = _Order()
    module.visit(order)
    theirs = [id(n) for n in order.seen if isinstance(n, READ)]
    ours = [id(n) for n in walk([module]) if isinstance(n, READ)]
    assert ours == theirs


@pytest.mark.parametrize("code", [
    "x = a if f(b) else g(c)\n", "f(key=g(), *h())\n", "@d(1)\nclass C(B, metaclass=M):\n    x = y\n",
    "try:\n    pass\nexcept E(1) as e:\n    g()\n", "@d\ndef f(a: int = g()) -> h():\n    return k()\n",
    "{k(): v() for k in a if p()}\n", "lambda q=r(): s(q)\n",
    "def f(a=g1(), /, b=g2(), *c, d=g3(), **e):\n    pass\n", "lambda a=g1(), /, b=g2(): 0\n",
    "match x:\n    case [y] if g(y):\n        h()\n", "type X[T: f()] = g()\n",
    "class A[T: f()](B(), k=g()):\n    pass\n", "@d()\ndef k[T: g()](a=h()) -> r():\n    pass\n",
])
def test_fields_declared_out_of_source_order_are_walked_in_source_order(code):
    module = cst.parse_module(code)
    order = _Order()
    module.visit(order)
    assert [n for n in walk([module]) if isinstance(n, cst.Call)] == [n for n in order.seen if isinstance(n, cst.Call)]


def test_a_skipped_class_is_neither_yielded_nor_entered():
    module = cst.parse_module("f()\ndef g():\n    h()\nclass C:\n    def m(self):\n        k()\n    j()\n")
    calls = [n.func.value for n in walk([module], skip=(cst.FunctionDef,)) if isinstance(n, cst.Call)]
    assert calls == ["f", "j"]
