"""How many tokens a file holds, judged before any parser reads it.

libcst's parser is the slow part of linting a file: about 25 µs and several KB per token, so
a 300 KB list literal of 100,000 numbers takes 4 s and 400 MB, and a 4.9 MB one minutes and
10 GB. CPython's parser, which runs first, is ten times faster but also builds the whole tree.
A regular expression counts tokens far more cheaply (0.04 s for 80,000), counting a string or
a comment as one token, as a parser does; it runs only on a file with more characters than the
budget has tokens (a token takes at least one character), so ordinary files pay nothing.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Optional

#: The most tokens a file may hold to be parsed and analysed: about 2 s and 250 MB in libcst,
#: as much again for positions when the file has a finding (timm's vision_transformer.py has 31,000).
MAX_TOKENS = 80_000

#: A string (with its prefix) or a comment is one token, a name or number one, any other
#: character one. ``re`` compiles it on first use (half a millisecond), for a file long enough.
_TOKEN = (
    r"""[rRbBuUfFtT]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
    r"|#[^\n]*|[\w.]+|\S"
)


def too_many_tokens(text: str) -> Optional[str]:
    """Why ``text`` is too large to parse (one line), or None when it is within the budget."""
    if len(text) <= MAX_TOKENS:
        return None
    count = sum(1 for _ in islice(re.finditer(_TOKEN, text), MAX_TOKENS + 1))
    if count <= MAX_TOKENS:
        return None
    return (f"too large to analyse (more than {MAX_TOKENS:,} tokens: a big literal or generated code; "
            "parsing it would take minutes); not analysed")
