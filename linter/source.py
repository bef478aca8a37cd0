"""Reading and parsing one Python file.

CPython's parser reads every file; its tree is converted to the libcst nodes the analysis reads
(:mod:`nnlint.ast_to_cst`), with the nodes' positions. Where the conversion does not cover the
syntax, libcst parses the file, and its position metadata, which costs about twice its parse,
is computed the first time a finding asks (:meth:`SourceFile.span`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

from nnlint import files
from nnlint.errors import SourceSyntaxError, UnreadableFile, UnsupportedSyntax
from nnlint.bodies import Bodies, defs_data, defs_from
from nnlint.statements import Statements, from_outline, index, outline, plain_line_breaks, split_lines
from nnlint.token_budget import too_many_tokens

if TYPE_CHECKING:
    import libcst as cst

#: Files larger than this are not parsed (a generated or vendored file, not training code).
MAX_BYTES = 5_000_000


@dataclass
class SourceFile:
    path: str  # as the user gave it (or as discovered under a given folder)
    abspath: Path
    text: str
    parsed: Optional[cst.Module]  # None until read whole, for a module read statement by statement
    notebook: Optional[Any] = None  # NotebookCode, for a .ipynb file: maps lines to cells
    #: an imported module's top level, parsed one statement at a time as its names are read
    statements: Optional[Statements] = None
    #: an imported module's function bodies, parsed as they are read (nnlint.bodies)
    bodies: Optional[Bodies] = None
    #: node -> (line, column, end line, end column), columns 0-based: from the conversion
    #: (nnlint.ast_to_cst), or worked out from libcst's tree when a finding first asks
    _positions: Optional[dict] = field(default=None, repr=False)

    @property
    def module(self) -> cst.Module:
        """The libcst tree of the whole file (of a module read statement by statement, its
        statements, every one parsed now: the nodes the interpreter runs)."""
        if self.parsed is None:
            assert self.statements is not None
            self.parsed = self.statements.tree()
        return self.parsed

    def span(self, node: cst.CSTNode) -> Optional[tuple[int, int, int, int]]:
        """1-based (line, column, end_line, end_column) of a node of this file's tree."""
        if self.statements is not None:
            return self.statements.span(node)
        if self.bodies is not None:  # an imported module: every part of it parsed by Bodies, which places them
            return self.bodies.span(node)
        if self._positions is None:
            from nnlint.ast_to_cst import libcst_positions

            self._positions = libcst_positions(self.module)
        place = self._positions.get(node)
        if place is None:
            return None
        return place[0], place[1] + 1, place[2], place[3] + 1


def read_text(abspath: Path) -> str:
    """The file's text, or :class:`UnreadableFile` saying in one line why not (read through
    :mod:`nnlint.files`: a link outside the project, a FIFO or a device is never read)."""
    return decode(files.read_bytes(abspath, MAX_BYTES))


def decode(raw: bytes) -> str:
    """A file's bytes as source text, or :class:`UnreadableFile` saying in one line why not."""
    if b"\0" in raw[:8192]:
        raise UnreadableFile("binary file, not Python source")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        declared = _declared_encoding(raw)
        if declared is not None:
            try:
                return raw.decode(declared)
            except (UnicodeDecodeError, LookupError):
                pass
        raise UnreadableFile(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _declared_encoding(raw: bytes) -> Optional[str]:
    """The PEP 263 coding cookie (``# -*- coding: latin-1 -*-``), if the file declares one."""
    import io
    import tokenize

    try:
        encoding, lines = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        return None
    return encoding if any(b"coding" in line for line in lines) else None


class Outlines(Protocol):
    """Where the outlines of imported modules are kept between runs (:class:`nnlint.cache.Cache`):
    by the digest of the text parsed (a notebook's code, not its file's bytes), what reading it
    statement by statement needs (its index), or for a module run whole, its functions' lines."""

    def outline(self, digest: str) -> Any: ...

    def keep_outline(self, digest: str, data: Any) -> None: ...


def parse(path: str, abspath: Path, text: str, imported: bool = False,
          outlines: Optional[Outlines] = None) -> SourceFile:
    """Parse text; invalid Python raises :class:`SourceSyntaxError`.

    An ``imported`` module (one nnlint follows an import to, not one it lints) whose top level
    only binds names is indexed, not parsed with libcst: its statements are parsed as they are
    needed (:mod:`nnlint.statements`). Any other imported module is parsed without its
    function bodies, each parsed when it is read (:mod:`nnlint.bodies`). With ``outlines``, an
    imported module whose outline a run kept (for the same text) is not parsed at all until its
    parts are read: a pre-commit run on an edited file reads the unchanged modules it imports
    from their outlines.

    CPython's own parser reads the text first: it is ten times faster than libcst, reports
    the exact line of a syntax error, and refuses nesting that would crash libcst's native
    parser (a process crash, not an exception). What CPython cannot parse cannot run anyway.
    """
    digest = None
    if imported and outlines is not None:
        import hashlib  # here: OpenSSL's library is 4 MB of a run that keeps no cache

        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    known = outlines.outline(digest) if digest is not None else None
    if known is not None:  # the same text read whole before, by this nnlint: checked and parsed then
        found = _outlined(path, abspath, text, known)
        if found is not None:
            return found
    too_large = too_many_tokens(text)  # before either parser: their cost grows with the tokens
    if too_large is not None:
        raise UnsupportedSyntax(too_large)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise SourceSyntaxError(exc.msg, exc.lineno, exc.offset) from None
    except (RecursionError, MemoryError):
        raise SourceSyntaxError("too deeply nested for Python to parse", None, None) from None
    except ValueError as exc:  # null bytes and the like
        raise SourceSyntaxError(str(exc), None, None) from None
    bodies = defs = None
    if imported:
        statements = index(tree, text)
        if statements is not None:
            if digest is not None:
                outlines.keep_outline(digest, {"statements": outline(statements)})
            return SourceFile(path=path, abspath=abspath, text=text, parsed=None, statements=statements,
                              bodies=statements.bodies)
        if plain_line_breaks(text):
            bodies = Bodies(split_lines(text))
            defs = bodies.defs(tree.body)
            if digest is not None:  # (an outline is kept where one was looked up)
                outlines.keep_outline(digest, {"defs": defs_data(defs)})
    return _parsed(path, abspath, text, tree, bodies, defs)


def _outlined(path: str, abspath: Path, text: str, known: Any) -> Optional[SourceFile]:
    """The module from its kept outline (see :func:`parse`); None where the data is not an outline
    of this text (then it is parsed afresh)."""
    if not isinstance(known, dict) or len(known) != 1:
        return None
    if "statements" in known:
        statements = from_outline(known["statements"], text)
        if statements is None:
            return None
        return SourceFile(path=path, abspath=abspath, text=text, parsed=None, statements=statements,
                          bodies=statements.bodies)
    if not plain_line_breaks(text):
        return None
    bodies = Bodies(split_lines(text))
    defs = defs_from(known.get("defs"), len(bodies.lines))
    return None if defs is None else _parsed(path, abspath, text, None, bodies, defs)


def _parsed(path: str, abspath: Path, text: str, tree: Optional[ast.Module], bodies: Optional[Bodies],
            defs: Optional[list]) -> SourceFile:
    """The file parsed with libcst's nodes: whole, converted from ``tree``; or, for an imported
    module run whole, through ``bodies`` without the functions ``defs`` lists."""
    import libcst as cst  # here, not above: a run whose files the cache has parses nothing

    if bodies is None:
        assert tree is not None
        from nnlint import ast_to_cst

        try:  # libcst's nodes from ast's tree (a third of libcst's own parse), positions with them
            module, positions = ast_to_cst.convert(tree, text)
            return SourceFile(path=path, abspath=abspath, text=text, parsed=module, _positions=positions)
        except (ast_to_cst.Unconvertible, RecursionError):
            pass  # syntax the conversion does not cover: libcst reads it
    try:
        module = bodies.parse(1, len(bodies.lines), defs or []) if bodies is not None \
            else cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError) as exc:
        # CPython accepted the file: it is valid Python that libcst's grammar does not cover
        detail = str(getattr(exc, "message", exc)).strip().splitlines()[0][:120]
        raise UnsupportedSyntax(f"valid Python that nnlint's parser (libcst) cannot read ({detail}); not analysed") \
            from None
    return SourceFile(path=path, abspath=abspath, text=text, parsed=module, bodies=bodies)
