"""A notebook cell as the Python IPython runs, one line for each line of the cell.

IPython (imported here, so only when a notebook is linted) turns its own syntax into
Python before compiling a cell: ``%magic`` and ``!cmd`` become one
``get_ipython().run_line_magic(...)`` / ``.system(...)`` line, ``x?`` a help call, a
``%%magic`` cell one ``run_cell_magic`` call holding the body as a string. nnlint needs
the same Python with the cell's line numbers, so:

* IPython's transformers that fold a magic continued with ``\\`` into one line are wrapped
  to put blank lines back after it, and leading blank lines (which IPython drops) are kept;
* a cell magic that runs its body as Python in the kernel (``%%time``, see
  :data:`PYTHON_CELL_MAGICS`) keeps the body, converted the same way (IPython's magic
  transforms it too), under a blank first line; any other (``%%bash``, ``%%writefile``)
  becomes blank lines: its body is not Python;
* a cell of one line that is not Python and starts with the name of a magic or alias
  IPython defines (``pip install x``, ``cd data``) is that magic: IPython's automagic,
  which applies to one-line cells only. IPython would not apply it where the name is a
  variable, which nnlint cannot know: it assumes automagic applies (that line is not
  Python either way). One-line cells that are Python (``ls``) stay Python.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

#: IPython's built-in cell magics that run their body as Python in the kernel's namespace
#: (``%%python``/``%%script`` run another process; ``%%html``, ``%%bash``... are not Python).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

_NEWLINES = re.compile(r"\r\n|\r|\n")


class CellError(Exception):
    """IPython's transformer raised on the cell: IPython could not run it either."""


class LinesChanged(Exception):
    """IPython's transform changed the cell's line count in a way nnlint does not undo."""


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as Python's tokenizer counts them (``\\f`` is not a line break)."""
    lines = _NEWLINES.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def to_python(lines: list[str]) -> list[str]:
    """The Python IPython runs for a cell of ``lines``; as many lines, each at its place."""
    lead = 0
    while lead < len(lines) and not lines[lead].strip():
        lead += 1  # IPython drops leading blank lines: keep them as they are
    rest = lines[lead:]
    if not rest:
        return [""] * len(lines)
    try:
        out = _manager().transform_cell("\n".join(rest) + "\n")
    except Exception as exc:  # a bug in IPython's transformer must not stop the notebook
        raise CellError(f"IPython cannot transform this cell ({type(exc).__name__}: {exc})") from None
    magic = _cell_magic(out) if rest[0].lstrip().startswith("%%") else None
    if magic is not None:
        name, body = magic
        converted = [""] + (to_python(split_lines(body)) if name in PYTHON_CELL_MAGICS else [""] * (len(rest) - 1))
    else:
        converted = split_lines(out)
        if len(converted) == 1:
            converted = [_automagic(converted[0])]
    if len(converted) != len(rest):
        raise LinesChanged(f"IPython's transform of this cell changed its line count ({len(rest)} to "
                           f"{len(converted)}); the cell was not analysed")
    return [""] * lead + converted


def _cell_magic(code: str) -> tuple[str, str] | None:
    """(name, body) when ``code`` is IPython's one ``get_ipython().run_cell_magic(name, line, body)``."""
    try:
        [statement] = ast.parse(code).body
    except (SyntaxError, ValueError):
        return None
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run_cell_magic"
            and len(call.args) == 3 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)):
        return None
    return call.args[0].value, call.args[2].value


def _automagic(line: str) -> str:
    """IPython's automagic for a one-line cell: ``pip install x`` is ``%pip install x``."""
    try:
        ast.parse(line)
        return line  # Python: IPython runs it as such unless a magic has the name, harmless either way
    except (SyntaxError, ValueError):
        pass
    from IPython.core.splitinput import split_user_input

    pre, esc, name, rest = split_user_input(line)
    if esc or name not in _line_magics() or (rest and rest[0] in "=,"):
        return line  # as IPython's prefilter: an assignment is never a magic
    # the call IPython's MagicHandler writes
    _, _, argument = f"{name} {rest}".partition(" ")
    return f"{pre}get_ipython().run_line_magic({name!r}, {argument!r})"


@lru_cache(maxsize=1)
def _line_magics() -> frozenset[str]:
    """The line magics and aliases a fresh IPython defines (what automagic can call)."""
    import inspect

    from IPython.core import magics
    from IPython.core.alias import default_aliases

    names = {name for _, cls in inspect.getmembers(magics, inspect.isclass)
             if isinstance(getattr(cls, "magics", None), dict) for name in cls.magics.get("line", ())}
    return frozenset(names | {alias for alias, _ in default_aliases()})


@lru_cache(maxsize=1)
def _manager():
    """IPython's TransformerManager, its token transforms keeping the line count."""
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    manager.token_transformers = [_line_keeping(cls) for cls in manager.token_transformers]
    return manager


def _line_keeping(cls: type) -> type:
    """``cls``, which replaces a construct continued over several lines by one line, with
    blank lines put back after that line (the construct is a whole statement, so they are
    harmless) so that every later line keeps its number."""

    class LineKeeping(cls):
        def transform(self, lines):
            out = super().transform(lines)
            missing = len(lines) - len(out)
            if missing <= 0:
                return out
            at = self.start_line + 1
            return out[:at] + ["\n"] * missing + out[at:]

    LineKeeping.__name__ = LineKeeping.__qualname__ = cls.__name__
    return LineKeeping
