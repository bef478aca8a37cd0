"""The libcst trees :mod:`nnlint.ast_to_cst` builds from ast equal libcst's own, on real code,
in everything the interpreter reads, and their positions are libcst's."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from nnlint import ast_to_cst

ROOT = Path(__file__).resolve().parents[1]
#: what a lossless tree keeps and the interpreter never reads
_LAYOUT = {"whitespace", "lpar", "rpar", "comma", "semicolon", "colon", "equal", "header", "footer", "leading_lines",
           "lines_after_decorators", "newline", "indent", "trailing_whitespace", "default_indent", "default_newline",
           "has_trailing_newline", "encoding", "first_line", "whitespace_before_colon", "start", "end", "quote",
           "second_colon"}
_LITERALS = (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float, cst.Imaginary)
_POSITIONED = (cst.Call, cst.Attribute, cst.Name, cst.BinaryOperation, cst.Subscript, cst.For, cst.If,
               cst.FunctionDef, cst.ClassDef)


def _layout(name: str) -> bool:
    return name in _LAYOUT or "whitespace" in name


def _statements(body) -> list:
    """A block's statements with ``a; b`` lines split, as the conversion writes them."""
    out = []
    for s in body:
        if isinstance(s, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            out.extend(s.body)
        else:
            out.append(s)
    return out


def _norm(value):
    return None if value is cst.MaybeSentinel.DEFAULT or value == "" else value


def _formatted(node) -> list:
    """The expressions of an f-string, or of the adjacent strings it is written beside (ast
    joins ``"a" f"{x}"`` into one f-string; neither has a value the interpreter folds)."""
    if isinstance(node, cst.ConcatenatedString):
        return _formatted(node.left) + _formatted(node.right)
    if isinstance(node, cst.FormattedString):
        return [p.expression for p in node.parts if isinstance(p, cst.FormattedStringExpression)]
    return []


def _has_formatted(node) -> bool:
    return isinstance(node, cst.FormattedString) or (
        isinstance(node, cst.ConcatenatedString) and (_has_formatted(node.left) or _has_formatted(node.right)))


def same(ours, theirs, where: str, positions: tuple) -> None:
    ours, theirs = _norm(ours), _norm(theirs)
    if _has_formatted(theirs):
        assert isinstance(ours, cst.FormattedString), where
        same(_formatted(ours), _formatted(theirs), where + ".parts", positions)
        return
    if isinstance(theirs, _LITERALS):
        assert isinstance(ours, _LITERALS) and ours.evaluated_value == theirs.evaluated_value, where
        return
    if isinstance(theirs, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        assert isinstance(ours, (cst.IndentedBlock, cst.SimpleStatementSuite)), where
        same(_statements(ours.body), _statements(theirs.body), where, positions)
        return
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)), where
        if theirs and isinstance(theirs[0], (cst.BaseStatement, cst.BaseSmallStatement)):
            ours, theirs = _statements(ours), _statements(theirs)
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            same(a, b, f"{where}[{i}]", positions)
        return
    if isinstance(theirs, cst.CSTNode):
        assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
        if isinstance(theirs, _POSITIONED):
            mine, other = positions[0].get(ours), positions[1].get(theirs)
            assert mine is not None or not isinstance(theirs, (cst.Call, cst.For, cst.If, cst.FunctionDef)), where
            if mine is not None:  # (a module's dotted name in an import has none: no finding points there)
                assert mine == (other.start.line, other.start.column, other.end.line, other.end.column), where
        for name in theirs.__dataclass_fields__:
            if not _layout(name):
                same(getattr(ours, name), getattr(theirs, name), f"{where}.{name}", positions)
        return
    assert ours == theirs, where


def _sources() -> list[Path]:
    found = sorted((ROOT / "linter").rglob("*.py")) + sorted((ROOT / "checks").glob("*.py")) \
        + sorted((ROOT / "tests" / "fixtures").rglob("*.py"))
    return [p for p in found if "__pycache__" not in p.parts]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_conversion_is_libcst_s_tree(path):
    text = path.read_text(encoding="utf-8")
    try:
        theirs = cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("libcst cannot read it")
    ours, table = ast_to_cst.parse(text)
    their_positions = MetadataWrapper(theirs, unsafe_skip_copy=True).resolve(PositionProvider)
    same(ours.body, theirs.body, path.name, (table, their_positions))


def test_a_field_may_have_any_name():
    """A field named like the generated constructor's own names (MatchClass's ``cls``) is a field."""
    name = cst.Name("P")
    assert ast_to_cst._node(cst.MatchClass, cls=name).cls is name


@pytest.mark.parametrize("code", [
    "from m import *\n", "from . import *\n", "def f(*, a):\n    pass\n", "def f(a, /):\n    pass\n",
    "try:\n    pass\nexcept* E:\n    pass\n", "async def f():\n    async with a as b:\n        yield\n",
])
def test_rare_syntax_converts_to_libcst_s_tree(code):
    """Nodes with no field (``*`` alone) or made from a class chosen at run time are made too."""
    ours, table = ast_to_cst.parse(code)
    theirs = cst.parse_module(code)
    their_positions = MetadataWrapper(theirs, unsafe_skip_copy=True).resolve(PositionProvider)
    same(ours.body, theirs.body, code, (table, their_positions))


@pytest.mark.parametrize("code, kind", [
    ("x[a, b]", 2), ("x[(a, b)]", 1), ("x[1:2, ::3]", 2), ("x[()]", 1),
])
def test_a_subscript_by_a_tuple_is_split_as_libcst_splits_it(code, kind):
    ours, _ = ast_to_cst.parse(code)
    theirs = cst.parse_module(code)
    assert len(ours.body[0].body[0].value.slice) == len(theirs.body[0].body[0].value.slice) == kind


def test_unicode_before_a_node_counts_characters_as_libcst_does():
    code = "s = 'é€'; y = f(x)\n"
    ours, table = ast_to_cst.parse(code)
    call = ours.body[1].body[0].value
    assert table[call] == (1, 14, 1, 18)


@pytest.mark.parametrize("code", ["match x:\n    case 1:\n        pass\n"])
def test_syntax_it_does_not_cover_is_said(code):
    with pytest.raises(ast_to_cst.Unconvertible):
        ast_to_cst.parse(code)


@pytest.mark.parametrize("number", ["0x1F", "1e-3", "2j", "1_000", "0o17", ".5", "10**3", "f'{1e3:.2f}'"])
def test_numbers_keep_their_spelling_and_value(number):
    ours, _ = ast_to_cst.parse(f"x = {number}\n")
    theirs = cst.parse_module(f"x = {number}\n")
    same(ours.body, theirs.body, number, ({}, {}))



@pytest.mark.parametrize("code", [
    "x[(a), b]", "x[(1, 2), 3]", "x[(i), :]", "x[(t - 1), 1:3]", "x[(a), (b)]", "x[(a, b)]", "x[((a, b))]",
    "x[f(a), b]", "x[(a)]",
])
def test_a_subscript_whose_first_index_is_parenthesized(code):
    ours, table = ast_to_cst.parse(code + "\n")
    theirs = cst.parse_module(code + "\n")
    same(ours.body, theirs.body, code, (table, MetadataWrapper(theirs, unsafe_skip_copy=True).resolve(PositionProvider)))


@pytest.mark.parametrize("code", ["class s:\n    pass\n", "class ss(object):\n    pass\n",
                                  "async def c():\n    pass\n", "async def nc():\n    pass\n",
                                  "\fx = torch.nn.Dropout(0.9)\n", "\fdef f():\n    return g(1)\n"])
def test_names_and_columns_are_where_libcst_puts_them(code):
    ours, table = ast_to_cst.parse(code)
    theirs = cst.parse_module(code)
    places = MetadataWrapper(theirs, unsafe_skip_copy=True).resolve(PositionProvider)
    same(ours.body, theirs.body, code, (table, places))
    defined = ours.body[0]
    if isinstance(defined, (cst.ClassDef, cst.FunctionDef)):
        other = places[theirs.body[0].name]
        assert table[defined.name] == (other.start.line, other.start.column, other.end.line, other.end.column)
