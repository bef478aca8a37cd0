"""libcst trees built from CPython's :mod:`ast`: the trees nnlint analyses.

Parsing with libcst costs about ten times CPython's own parser: most of libcst's time goes into
the whitespace, comma and parenthesis nodes a lossless tree keeps, and nnlint reads none of
them (it reports, it never rewrites code). So every file (a linted one, :mod:`nnlint.source`;
an imported module's statements and function bodies as they run, :mod:`nnlint.statements` and
:mod:`nnlint.bodies`) is parsed with :mod:`ast` and converted to the libcst nodes the
interpreter reads, with libcst's default whitespace and no parentheses: code rendered from a
converted tree (``code_for_node``) is not the source, ``(a + b) * c`` renders as
``a + b * c``. The positions come from ast and are kept in a table beside the tree; for the
nodes findings point at (calls, names, attributes, operations, subscripts, statements,
definitions) they are libcst's, which exclude the parentheses around a node as ast's do (a
parenthesized tuple's and a generator's include them in ast).

The conversion gives the tree libcst would, apart from what the interpreter never reads
(whitespace, comments, the spelling of strings, ``a; b`` on one line as two statements, a
one-line block as an indented one, ``"a" f"{x}"`` as one f-string): ``tests/test_ast_to_cst.py``
compares both on real code. Syntax it does not convert (``match``, ``type`` aliases, type
parameters) raises :class:`Unconvertible`; the caller then parses with libcst.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import re
import tokenize
from typing import Any, Optional

import libcst as cst

from nnlint.statements import plain_line_breaks

#: node -> (line, column, end line, end column): lines 1-based, columns 0-based, as libcst's
#: PositionProvider gives them, relative to the text converted
Positions = dict


@functools.cache
def _maker(cls: type) -> Any:
    """A function making a ``cls`` node from keyword arguments, without libcst's validation and
    with shared defaults (a default made by a factory is made once: libcst's nodes are
    immutable). The conversion only makes what CPython's parser accepted, and making nodes is
    most of its time: the function is generated for the class, one slot write per field and no
    loop, about three times faster than a generic constructor. Made once per class."""
    # the function's own names end in two underscores, which no field's name does (a field named
    # ``cls``, as MatchClass has, must not hide the class)
    namespace: dict[str, Any] = {"new__": object.__new__, "cls__": cls}
    params, writes = [], []
    for i, f in enumerate(dataclasses.fields(cls)):
        namespace[f"d{i}__"] = f.default if f.default is not dataclasses.MISSING else \
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        namespace[f"s{i}__"] = getattr(cls, f.name).__set__  # the slot's own setter: frozen nodes refuse setattr
        params.append(f"{f.name}=d{i}__")
        writes.append(f"    s{i}__(node__, {f.name})\n")
    signature = f"*, {', '.join(params)}" if params else ""
    exec(f"def make__({signature}):\n    node__ = new__(cls__)\n{''.join(writes)}    return node__\n", namespace)
    return namespace["make__"]


class _Makers:
    """``_new.Call(func=..., args=...)``: the :func:`_maker` of the libcst class of that name,
    generated at first use."""

    def __getattr__(self, name: str) -> Any:
        make = _maker(getattr(cst, name))
        setattr(self, name, make)
        return make


_new = _Makers()


def _node(cls: type, /, **values: Any) -> Any:
    """A node of a class chosen at run time (an operator's, a ``try`` 's kind)."""
    return _maker(cls)(**values)


class Unconvertible(Exception):
    """Syntax the conversion does not cover: parse the text with libcst instead."""


_BINARY = {ast.Add: cst.Add, ast.Sub: cst.Subtract, ast.Mult: cst.Multiply, ast.Div: cst.Divide,
           ast.FloorDiv: cst.FloorDivide, ast.Mod: cst.Modulo, ast.Pow: cst.Power, ast.MatMult: cst.MatrixMultiply,
           ast.LShift: cst.LeftShift, ast.RShift: cst.RightShift, ast.BitOr: cst.BitOr, ast.BitXor: cst.BitXor,
           ast.BitAnd: cst.BitAnd}
_AUGMENTED = {ast.Add: cst.AddAssign, ast.Sub: cst.SubtractAssign, ast.Mult: cst.MultiplyAssign,
              ast.Div: cst.DivideAssign, ast.FloorDiv: cst.FloorDivideAssign, ast.Mod: cst.ModuloAssign,
              ast.Pow: cst.PowerAssign, ast.MatMult: cst.MatrixMultiplyAssign, ast.LShift: cst.LeftShiftAssign,
              ast.RShift: cst.RightShiftAssign, ast.BitOr: cst.BitOrAssign, ast.BitXor: cst.BitXorAssign,
              ast.BitAnd: cst.BitAndAssign}
_UNARY = {ast.USub: cst.Minus, ast.UAdd: cst.Plus, ast.Not: cst.Not, ast.Invert: cst.BitInvert}
_COMPARE = {ast.Eq: cst.Equal, ast.NotEq: cst.NotEqual, ast.Lt: cst.LessThan, ast.LtE: cst.LessThanEqual,
            ast.Gt: cst.GreaterThan, ast.GtE: cst.GreaterThanEqual, ast.In: cst.In, ast.NotIn: cst.NotIn,
            ast.Is: cst.Is, ast.IsNot: cst.IsNot}
_CONVERSIONS = {-1: None, 115: "s", 114: "r", 97: "a"}


def libcst_positions(module: cst.Module) -> Positions:
    """The positions table of a module libcst parsed (its position metadata, which costs about
    twice its parse: asked for only when a finding needs it)."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    found = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {key: (r.start.line, r.start.column, r.end.line, r.end.column) for key, r in found.items()}


def parse(text: str) -> tuple[cst.Module, Positions]:
    """The module ``text`` holds and its nodes' positions; :class:`Unconvertible` for syntax the
    conversion does not cover, ``SyntaxError`` (and the like) as :func:`ast.parse` raises them."""
    return convert(ast.parse(text), text)


def convert(tree: ast.Module, text: str) -> tuple[cst.Module, Positions]:
    """:func:`parse` of a text ast has parsed already. Lines must end in ``\n`` or ``\r\n``
    (a lone ``\r`` would make ast's line numbers and the text's disagree): else
    :class:`Unconvertible`."""
    if not plain_line_breaks(text):
        raise Unconvertible("line breaks of a lone carriage return")
    try:
        return _Converter(text).module(tree)
    except TypeError as exc:  # a node made with a field its class lacks: the conversion's bug, libcst reads it
        raise Unconvertible(str(exc)) from None


class _Converter:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.positions: Positions = {}
        #: lines where ast's offset is not libcst's column: ast counts UTF-8 bytes, libcst
        #: characters, and a form feed sets libcst's column back to 0
        self.wide = {i for i, line in enumerate(self.lines, 1) if not line.isascii() or "\f" in line} \
            if not text.isascii() or "\f" in text else set()

    # ------------------------------------------------------------------ positions

    def _column(self, line: int, offset: int) -> int:
        """ast's column (UTF-8 bytes) as characters, as libcst counts them."""
        if line not in self.wide:
            return offset
        before = self.lines[line - 1].encode("utf-8")[:offset].decode("utf-8", "replace")
        return len(before) - before.rfind("\f") - 1

    def _at(self, node: cst.CSTNode, source: Any) -> cst.CSTNode:
        line, end_line = source.lineno, source.end_lineno or source.lineno
        column, end_column = source.col_offset, source.end_col_offset or source.col_offset
        if self.wide:
            column, end_column = self._column(line, column), self._column(end_line, end_column)
        self.positions[node] = (line, column, end_line, end_column)
        return node

    def _between(self, node: cst.CSTNode, first: Any, last: Any) -> cst.CSTNode:
        """A node with no ast counterpart, from ``first`` 's start to ``last`` 's end."""
        start, end = self.positions.get(first), self.positions.get(last)
        if start is not None and end is not None:
            self.positions[node] = (start[0], start[1], end[2], end[3])
        return node

    def _name(self, name: str, source: Any) -> cst.Name:
        """The name of a ``def`` or ``class`` at its place: the word after the keyword."""
        node = _new.Name(value=name)
        text = self.lines[source.lineno - 1] if 0 < source.lineno <= len(self.lines) else ""
        keyword = "class" if isinstance(source, ast.ClassDef) else "def"
        found = re.compile(rf"\b{keyword}\s+({re.escape(name)})\b").search(text)
        if found is not None:
            self.positions[node] = (source.lineno, self._column(source.lineno, len(text[:found.start(1)].encode("utf-8"))),
                                    source.lineno, self._column(source.lineno, len(text[:found.end(1)].encode("utf-8"))))
        return node

    def _written(self, source: ast.Constant) -> str:
        """A number's text as written, where ast's position gives it (not always inside an
        f-string); else as Python writes the value."""
        text = ""
        if source.end_lineno == source.lineno and 0 < source.lineno <= len(self.lines):
            line = self.lines[source.lineno - 1].encode("utf-8")
            text = line[source.col_offset:source.end_col_offset].decode("utf-8", "replace")
        if text[:1] and text[0] in "0123456789.":
            return text
        value = source.value
        try:
            return repr(value.imag) + "j" if isinstance(value, complex) else repr(value)
        except ValueError:  # an int of more digits than str() gives
            raise Unconvertible("a number too long to write") from None

    def _wrapped(self, source: ast.expr) -> bool:
        """Whether the text of ``source`` is one pair of parentheses around the rest (``(a, b)``;
        not ``(a), b`` nor ``(a), (b)``)."""
        if not self._starts_with(source, "("):
            return False
        first, last = source.lineno, source.end_lineno or source.lineno
        raw = [line.encode("utf-8") for line in self.lines[first - 1:last]]
        raw[-1] = raw[-1][:source.end_col_offset]
        raw[0] = raw[0][source.col_offset:]
        text = b"\n".join(raw).decode("utf-8", "replace")
        try:
            tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.OP]
        except (tokenize.TokenError, SyntaxError):
            return False
        depth = 0
        for i, token in enumerate(tokens):
            if token.string in ("(", "[", "{"):
                depth += 1
            elif token.string in (")", "]", "}"):
                depth -= 1
            if depth == 0:  # the first parenthesis closes here: around everything only if last
                return i == len(tokens) - 1
        return False

    def _starts_with(self, source: Any, char: str) -> bool:
        line = self.lines[source.lineno - 1] if 0 < source.lineno <= len(self.lines) else ""
        return line.encode("utf-8")[source.col_offset:source.col_offset + 1] == char.encode()

    # ------------------------------------------------------------------ statements

    def module(self, tree: ast.Module) -> tuple[cst.Module, Positions]:
        return _new.Module(body=[self.statement(s) for s in tree.body]), self.positions

    def block(self, statements: list[ast.stmt]) -> cst.IndentedBlock:
        return _new.IndentedBlock(body=[self.statement(s) for s in statements])

    def statement(self, source: ast.stmt) -> cst.BaseStatement:
        method = getattr(self, "s_" + type(source).__name__, None)
        if method is not None:  # a compound statement
            return self._at(method(source), source)
        small = getattr(self, "small_" + type(source).__name__, None)
        if small is None:
            raise Unconvertible(type(source).__name__)
        node = self._at(small(source), source)
        return self._at(_new.SimpleStatementLine(body=[node]), source)

    def small_Expr(self, s: ast.Expr) -> cst.Expr:
        return _new.Expr(value=self.expr(s.value))

    def small_Assign(self, s: ast.Assign) -> cst.Assign:
        targets = [self._between(_new.AssignTarget(target=(t := self.expr(x))), t, t) for x in s.targets]
        return _new.Assign(targets=targets, value=self.expr(s.value))

    def small_AnnAssign(self, s: ast.AnnAssign) -> cst.AnnAssign:
        return _new.AnnAssign(target=self.expr(s.target), annotation=_new.Annotation(annotation=self.expr(s.annotation)),
                             value=self.expr(s.value) if s.value is not None else None)

    def small_AugAssign(self, s: ast.AugAssign) -> cst.AugAssign:
        return _new.AugAssign(target=self.expr(s.target), operator=_AUGMENTED[type(s.op)](), value=self.expr(s.value))

    def small_Return(self, s: ast.Return) -> cst.Return:
        return _new.Return(value=self.expr(s.value) if s.value is not None else None)

    def small_Pass(self, s: ast.Pass) -> cst.Pass:
        return _new.Pass()

    def small_Break(self, s: ast.Break) -> cst.Break:
        return _new.Break()

    def small_Continue(self, s: ast.Continue) -> cst.Continue:
        return _new.Continue()

    def small_Raise(self, s: ast.Raise) -> cst.Raise:
        return _new.Raise(exc=self.expr(s.exc) if s.exc is not None else None,
                         cause=_new.From(item=self.expr(s.cause)) if s.cause is not None else None)

    def small_Assert(self, s: ast.Assert) -> cst.Assert:
        return _new.Assert(test=self.expr(s.test), msg=self.expr(s.msg) if s.msg is not None else None)

    def small_Delete(self, s: ast.Delete) -> cst.Del:
        targets = [self.expr(t) for t in s.targets]
        return _new.Del(target=targets[0] if len(targets) == 1 else _new.Tuple(elements=[_new.Element(value=t) for t in targets]))

    def small_Global(self, s: ast.Global) -> cst.Global:
        return _new.Global(names=[_new.NameItem(name=_new.Name(value=n)) for n in s.names])

    def small_Nonlocal(self, s: ast.Nonlocal) -> cst.Nonlocal:
        return _new.Nonlocal(names=[_new.NameItem(name=_new.Name(value=n)) for n in s.names])

    def small_Import(self, s: ast.Import) -> cst.Import:
        return _new.Import(names=[self._alias(a) for a in s.names])

    def small_ImportFrom(self, s: ast.ImportFrom) -> cst.ImportFrom:
        names: Any = _new.ImportStar() if any(a.name == "*" for a in s.names) else [self._alias(a) for a in s.names]
        return _new.ImportFrom(module=_dotted(s.module) if s.module else None, names=names,
                              relative=[_new.Dot() for _ in range(s.level or 0)])

    def _alias(self, alias: ast.alias) -> cst.ImportAlias:
        return _new.ImportAlias(name=_dotted(alias.name),
                               asname=_new.AsName(name=_new.Name(value=alias.asname)) if alias.asname else None)

    def s_If(self, s: ast.If) -> cst.If:
        orelse: Any = None
        if len(s.orelse) == 1 and isinstance(s.orelse[0], ast.If) and self._starts_with(s.orelse[0], "e") \
                and s.orelse[0].lineno != s.lineno:
            orelse = self._at(self.s_If(s.orelse[0]), s.orelse[0])  # ``elif``: the If itself, as libcst has it
        elif s.orelse:
            orelse = _new.Else(body=self.block(s.orelse))
        return _new.If(test=self.expr(s.test), body=self.block(s.body), orelse=orelse)

    def s_For(self, s: ast.For) -> cst.For:
        return _new.For(target=self.expr(s.target), iter=self.expr(s.iter), body=self.block(s.body),
                       orelse=_new.Else(body=self.block(s.orelse)) if s.orelse else None)

    def s_AsyncFor(self, s: ast.AsyncFor) -> cst.For:
        return self.s_For(s).with_changes(asynchronous=_new.Asynchronous())  # type: ignore[arg-type]

    def s_While(self, s: ast.While) -> cst.While:
        return _new.While(test=self.expr(s.test), body=self.block(s.body),
                         orelse=_new.Else(body=self.block(s.orelse)) if s.orelse else None)

    def s_With(self, s: ast.With) -> cst.With:
        items = [_new.WithItem(item=self.expr(i.context_expr),
                              asname=_new.AsName(name=self.expr(i.optional_vars)) if i.optional_vars is not None else None)
                 for i in s.items]
        return _new.With(items=items, body=self.block(s.body))

    def s_AsyncWith(self, s: ast.AsyncWith) -> cst.With:
        return self.s_With(s).with_changes(asynchronous=_new.Asynchronous())  # type: ignore[arg-type]

    def s_Try(self, s: ast.Try, handler: type = cst.ExceptHandler, node: type = cst.Try) -> Any:
        handlers = [self._at(_node(handler, body=self.block(h.body), type=self.expr(h.type) if h.type is not None else None,
                                     name=_new.AsName(name=_new.Name(value=h.name)) if h.name else None), h)
                    for h in s.handlers]
        return _node(node, body=self.block(s.body), handlers=handlers,
                    orelse=_new.Else(body=self.block(s.orelse)) if s.orelse else None,
                    finalbody=_new.Finally(body=self.block(s.finalbody)) if s.finalbody else None)

    def s_TryStar(self, s: Any) -> cst.TryStar:
        return self.s_Try(s, cst.ExceptStarHandler, cst.TryStar)

    def s_FunctionDef(self, s: ast.FunctionDef) -> cst.FunctionDef:
        if getattr(s, "type_params", None):
            raise Unconvertible("type parameters")
        return _new.FunctionDef(name=self._name(s.name, s), params=self.parameters(s.args), body=self.block(s.body),
                               decorators=[_new.Decorator(decorator=self.expr(d)) for d in s.decorator_list],
                               returns=_new.Annotation(annotation=self.expr(s.returns)) if s.returns is not None else None)

    def s_AsyncFunctionDef(self, s: ast.AsyncFunctionDef) -> cst.FunctionDef:
        return self.s_FunctionDef(s).with_changes(asynchronous=_new.Asynchronous())  # type: ignore[arg-type]

    def s_ClassDef(self, s: ast.ClassDef) -> cst.ClassDef:
        if getattr(s, "type_params", None):
            raise Unconvertible("type parameters")
        return _new.ClassDef(name=self._name(s.name, s), body=self.block(s.body), bases=self._arguments(s.bases, []),
                            keywords=self._arguments([], s.keywords),
                            decorators=[_new.Decorator(decorator=self.expr(d)) for d in s.decorator_list])

    def parameters(self, a: ast.arguments) -> cst.Parameters:
        positional = [*a.posonlyargs, *a.args]
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        params = [self._param(p, d) for p, d in zip(positional, defaults)]
        star_arg: Any = self._param(a.vararg, None, "*") if a.vararg is not None else \
            (_new.ParamStar() if a.kwonlyargs else cst.MaybeSentinel.DEFAULT)
        return _new.Parameters(
            posonly_params=params[:len(a.posonlyargs)], params=params[len(a.posonlyargs):], star_arg=star_arg,
            kwonly_params=[self._param(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults)],
            star_kwarg=self._param(a.kwarg, None, "**") if a.kwarg is not None else None,
            posonly_ind=_new.ParamSlash() if a.posonlyargs else cst.MaybeSentinel.DEFAULT)

    def _param(self, arg: ast.arg, default: Optional[ast.expr], star: str = "") -> cst.Param:
        node = _new.Param(name=_new.Name(value=arg.arg), star=star or cst.MaybeSentinel.DEFAULT,
                         annotation=_new.Annotation(annotation=self.expr(arg.annotation)) if arg.annotation else None,
                         default=self.expr(default) if default is not None else None)
        return self._at(node, arg)

    # ------------------------------------------------------------------ expressions

    def expr(self, source: ast.expr) -> cst.BaseExpression:
        method = getattr(self, "e_" + type(source).__name__, None)
        if method is None:
            raise Unconvertible(type(source).__name__)
        return self._at(method(source), source)

    def e_Name(self, e: ast.Name) -> cst.Name:
        return _new.Name(value=e.id)

    def e_Constant(self, e: ast.Constant) -> cst.BaseExpression:
        value = e.value
        if value is None or isinstance(value, bool):
            return _new.Name(value=str(value))
        if value is Ellipsis:
            return _new.Ellipsis()
        if isinstance(value, (int, float, complex)):  # as written: libcst keeps ``0x1F``, ``1e-3``, ``2j``
            kind = cst.Integer if isinstance(value, int) else cst.Float if isinstance(value, float) else cst.Imaginary
            return _node(kind, value=self._written(e))
        if isinstance(value, (str, bytes)):
            return _new.SimpleString(value=repr(value))
        raise Unconvertible(f"constant {type(value).__name__}")

    def e_JoinedStr(self, e: ast.JoinedStr) -> cst.FormattedString:
        return _new.FormattedString(parts=self._formatted_parts(e), start='f"', end='"')

    def _formatted_parts(self, e: ast.JoinedStr) -> list:
        parts: list = []
        for value in e.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                text = repr(value.value)[1:-1].replace("{", "{{").replace("}", "}}").replace('"', '\\"')
                parts.append(_new.FormattedStringText(value=text))
            elif isinstance(value, ast.FormattedValue):
                spec = self._formatted_parts(value.format_spec) if isinstance(value.format_spec, ast.JoinedStr) else None
                parts.append(_new.FormattedStringExpression(expression=self.expr(value.value),
                                                           conversion=_CONVERSIONS.get(value.conversion), format_spec=spec))
            else:
                raise Unconvertible("f-string part")
        return parts

    def e_Attribute(self, e: ast.Attribute) -> cst.Attribute:
        return _new.Attribute(value=self.expr(e.value), attr=_new.Name(value=e.attr))

    def e_Call(self, e: ast.Call) -> cst.Call:
        return _new.Call(func=self.expr(e.func), args=self._arguments(e.args, e.keywords))

    def _arguments(self, args: list[ast.expr], keywords: list[ast.keyword]) -> list[cst.Arg]:
        """Positional and keyword arguments in the order they are written, as libcst keeps them."""
        made = []
        for item in sorted([*args, *keywords], key=lambda x: (x.lineno, x.col_offset)):
            if isinstance(item, ast.keyword):
                value = self.expr(item.value)
                arg = _new.Arg(value=value, star="**") if item.arg is None else \
                    _new.Arg(value=value, keyword=_new.Name(value=item.arg), equal=_new.AssignEqual())
                made.append(self._at(arg, item))
            elif isinstance(item, ast.Starred):
                made.append(self._at(_new.Arg(value=self.expr(item.value), star="*"), item))
            else:
                value = self.expr(item)
                made.append(self._between(_new.Arg(value=value), value, value))
        return made

    def e_Subscript(self, e: ast.Subscript) -> cst.Subscript:
        index = e.slice
        items = index.elts if isinstance(index, ast.Tuple) and index.elts and not self._wrapped(index) else [index]
        return _new.Subscript(value=self.expr(e.value), slice=[_new.SubscriptElement(slice=self._slice(i)) for i in items])

    def _slice(self, item: ast.expr) -> cst.BaseSlice:
        if isinstance(item, ast.Slice):
            return _new.Slice(lower=self.expr(item.lower) if item.lower is not None else None,
                             upper=self.expr(item.upper) if item.upper is not None else None,
                             step=self.expr(item.step) if item.step is not None else None)
        if isinstance(item, ast.Starred):
            return _new.Index(value=self.expr(item.value), star="*")
        return _new.Index(value=self.expr(item))

    def e_BinOp(self, e: ast.BinOp) -> cst.BinaryOperation:
        return _new.BinaryOperation(left=self.expr(e.left), operator=_BINARY[type(e.op)](), right=self.expr(e.right))

    def e_UnaryOp(self, e: ast.UnaryOp) -> cst.UnaryOperation:
        return _new.UnaryOperation(operator=_UNARY[type(e.op)](), expression=self.expr(e.operand))

    def e_BoolOp(self, e: ast.BoolOp) -> cst.BooleanOperation:
        operator = cst.And if isinstance(e.op, ast.And) else cst.Or
        values = [self.expr(v) for v in e.values]
        node = _new.BooleanOperation(left=values[0], operator=operator(), right=values[1])
        for value in values[2:]:  # ``a and b and c`` is ``(a and b) and c``
            self._between(node, values[0], node.right)
            node = _new.BooleanOperation(left=node, operator=operator(), right=value)
        return node

    def e_Compare(self, e: ast.Compare) -> cst.Comparison:
        return _new.Comparison(left=self.expr(e.left), comparisons=[
            _new.ComparisonTarget(operator=_COMPARE[type(op)](), comparator=self.expr(c)) for op, c in zip(e.ops, e.comparators)])

    def e_IfExp(self, e: ast.IfExp) -> cst.IfExp:
        return _new.IfExp(test=self.expr(e.test), body=self.expr(e.body), orelse=self.expr(e.orelse))

    def e_Lambda(self, e: ast.Lambda) -> cst.Lambda:
        return _new.Lambda(params=self.parameters(e.args), body=self.expr(e.body))

    def e_NamedExpr(self, e: ast.NamedExpr) -> cst.NamedExpr:
        return _new.NamedExpr(target=self.expr(e.target), value=self.expr(e.value))

    def _elements(self, items: list[ast.expr]) -> list:
        return [self._at(_new.StarredElement(value=self.expr(i.value)), i) if isinstance(i, ast.Starred)
                else self._between(_new.Element(value=(v := self.expr(i))), v, v) for i in items]

    def e_Tuple(self, e: ast.Tuple) -> cst.Tuple:
        if not e.elts:
            return _new.Tuple(elements=[], lpar=[_new.LeftParen()], rpar=[_new.RightParen()])
        return _new.Tuple(elements=self._elements(e.elts))

    def e_List(self, e: ast.List) -> cst.List:
        return _new.List(elements=self._elements(e.elts))

    def e_Set(self, e: ast.Set) -> cst.Set:
        return _new.Set(elements=self._elements(e.elts))

    def e_Dict(self, e: ast.Dict) -> cst.Dict:
        return _new.Dict(elements=[_new.StarredDictElement(value=self.expr(v)) if k is None
                         else _new.DictElement(key=self.expr(k), value=self.expr(v)) for k, v in zip(e.keys, e.values)])

    def _comprehension(self, generators: list[ast.comprehension]) -> cst.CompFor:
        inner: Optional[cst.CompFor] = None
        for g in reversed(generators):
            inner = _new.CompFor(target=self.expr(g.target), iter=self.expr(g.iter),
                                ifs=[_new.CompIf(test=self.expr(i)) for i in g.ifs], inner_for_in=inner,
                                asynchronous=_new.Asynchronous() if g.is_async else None)
        assert inner is not None
        return inner

    def e_ListComp(self, e: ast.ListComp) -> cst.ListComp:
        return _new.ListComp(elt=self.expr(e.elt), for_in=self._comprehension(e.generators))

    def e_SetComp(self, e: ast.SetComp) -> cst.SetComp:
        return _new.SetComp(elt=self.expr(e.elt), for_in=self._comprehension(e.generators))

    def e_GeneratorExp(self, e: ast.GeneratorExp) -> cst.GeneratorExp:
        return _new.GeneratorExp(elt=self.expr(e.elt), for_in=self._comprehension(e.generators))

    def e_DictComp(self, e: ast.DictComp) -> cst.DictComp:
        return _new.DictComp(key=self.expr(e.key), value=self.expr(e.value), for_in=self._comprehension(e.generators))

    def e_Await(self, e: ast.Await) -> cst.Await:
        return _new.Await(expression=self.expr(e.value))

    def e_Yield(self, e: ast.Yield) -> cst.Yield:
        return _new.Yield(value=self.expr(e.value) if e.value is not None else None)

    def e_YieldFrom(self, e: ast.YieldFrom) -> cst.Yield:
        return _new.Yield(value=_new.From(item=self.expr(e.value)))


def _dotted(name: str) -> cst.BaseExpression:
    """``a.b.c`` as libcst spells a module name: Attribute(Attribute(a, b), c)."""
    head, *rest = name.split(".")
    node: cst.BaseExpression = _new.Name(value=head)
    for part in rest:
        node = _new.Attribute(value=node, attr=_new.Name(value=part))
    return node
