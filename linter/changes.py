"""Changed lines: the lines a change added, so that a run reports only what the change brings.

The change is a unified diff: read from a file or standard input (``--diff``), or made by git
against the merge base of a ref (``--diff-base``). The diff is parsed with unidiff (imported
only here). A finding is kept when its line is one the diff added; a finding without a line
(an ONNX graph's, a file that cannot be read) when its file changed at all. A renamed file is
known by its new path, a deleted file has nothing to keep, a binary file (an ``.onnx`` model)
that changed keeps all its findings. A notebook's finding names a cell and a line in it: its
line in the ``.ipynb`` file, which the diff shows as JSON, comes from :func:`nnlint.notebook.file_lines`.

Paths in the diff are relative to the folder nnlint runs in (git is asked for ``--relative``
paths), as the paths of the findings are.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from nnlint.config import ConfigError

#: A diff larger than this is refused (one line) rather than held in memory.
MAX_DIFF_BYTES = 64_000_000
#: How long git may take to write the diff.
GIT_SECONDS = 60


@dataclass
class Changes:
    #: path (posix, relative to the folder nnlint runs in) -> the new file's lines the diff added
    added: dict[str, frozenset[int]] = field(default_factory=dict)
    #: path -> the new file's lines the diff shows (added or context): where a review may comment
    shown: dict[str, frozenset[int]] = field(default_factory=dict)
    #: changed binary files: every finding in them is the change's
    binary: set[str] = field(default_factory=set)

    def paths(self) -> list[str]:
        """The files the change leaves with new content, in the diff's order."""
        return [path for path in {**self.added, **dict.fromkeys(self.binary)} if os.path.isfile(path)]

    def keeps(self, finding) -> bool:
        key = relative(finding.path)
        if key in self.binary:
            return True
        added = self.added.get(key)
        if not added:
            return False
        line = self.file_line(finding)
        return line is None or line in added

    def file_line(self, finding) -> Optional[int]:
        """The finding's line in its file as the diff numbers it (a notebook's JSON line)."""
        if finding.cell is None or finding.line is None:
            return finding.line
        lines = _notebook_lines(finding.path).get(finding.cell["number"], [])
        at = finding.cell["line"] - 1
        return lines[at] if 0 <= at < len(lines) else None


def parse(text: str) -> Changes:
    """The changes a unified diff describes; :class:`ConfigError` when it is not one."""
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    try:
        patch = PatchSet(text)
    except UnidiffParseError as exc:
        raise ConfigError(f"the diff cannot be read: {exc}") from None
    if not len(patch) and text.strip():
        raise ConfigError("the diff cannot be read: it describes no file (is it a unified diff?)")
    changes = Changes()
    for patched in patch:
        if patched.is_removed_file:
            continue
        key = relative(_target(patched))
        if patched.is_binary_file:
            changes.binary.add(key)
            continue
        added, shown = set(), set()
        for hunk in patched:
            for line in hunk:
                if line.target_line_no is None:
                    continue
                shown.add(line.target_line_no)
                if line.is_added:
                    added.add(line.target_line_no)
        if added:
            changes.added[key] = frozenset(added)
            changes.shown[key] = frozenset(shown)
    return changes


def read(source: str) -> Changes:
    """``--diff``: a unified diff from a file, or from standard input when ``source`` is ``-``."""
    import sys

    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_DIFF_BYTES + 1)
        else:
            with open(source, "rb") as stream:
                data = stream.read(MAX_DIFF_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--diff {source}: cannot read it ({exc.strerror or exc})") from None
    return parse(_decoded(data, f"--diff {source}"))


def from_git(ref: str) -> Changes:
    """``--diff-base REF``: what the working tree changed since the merge base of ``REF`` and
    ``HEAD`` (a branch's own changes, not those made on ``REF`` since it forked), committed or
    not. git writes the diff with fixed prefixes and no external diff or text conversion
    programs, whatever its configuration says."""
    if ref.startswith("-"):
        raise ConfigError(f"--diff-base {ref}: a ref cannot start with '-'")
    command = ["git", "-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv",
               "--src-prefix=a/", "--dst-prefix=b/", "--find-renames", "--relative", "--merge-base", ref, "--"]
    import tempfile
    import threading

    with tempfile.TemporaryFile() as errors:
        try:
            git = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError:
            raise ConfigError("--diff-base needs git, which is not installed") from None
        timer = threading.Timer(GIT_SECONDS, git.kill)  # a hung git is stopped, not waited for
        timer.start()
        try:
            data = git.stdout.read(MAX_DIFF_BYTES + 1)  # a diff over the cap is refused unread
            if len(data) > MAX_DIFF_BYTES:
                git.kill()
            git.stdout.close()
            code = git.wait()
        finally:
            timed_out = not timer.is_alive() and git.returncode is not None and git.returncode < 0 \
                and len(data) <= MAX_DIFF_BYTES
            timer.cancel()
        if timed_out:
            raise ConfigError(f"--diff-base {ref}: git took over {GIT_SECONDS} s to write the diff")
        if code != 0 and len(data) <= MAX_DIFF_BYTES:
            errors.seek(0)
            reason = errors.read(10_000).decode("utf-8", "replace").strip().splitlines()
            raise ConfigError(f"--diff-base {ref}: git diff failed ({reason[0] if reason else f'exit {code}'})")
    return parse(_decoded(data, f"--diff-base {ref}"))


def _decoded(data: bytes, where: str) -> str:
    if len(data) > MAX_DIFF_BYTES:
        raise ConfigError(f"{where}: the diff is over {MAX_DIFF_BYTES // 1_000_000} MB")
    return data.decode("utf-8", "surrogateescape")


def _target(patched) -> str:
    """The new file's path: unidiff's ``path`` drops git's ``a/``/``b/`` prefixes; a diff made
    without them (``diff -u old new``) names the new file as written."""
    target = patched.target_file
    if target.startswith("b/") and patched.source_file.startswith(("a/", "/dev/null")):
        return target[2:]
    return patched.path if target == "/dev/null" else target


def relative(path: str) -> str:
    """A path as the diff writes it: relative to the folder nnlint runs in, with ``/``."""
    return Path(os.path.relpath(os.path.abspath(path))).as_posix()


@lru_cache(maxsize=64)
def _notebook_lines(path: str) -> dict[int, list[int]]:
    from nnlint import notebook
    from nnlint.errors import UnreadableFile
    from nnlint.source import read_text

    try:
        return notebook.file_lines(read_text(Path(path)))
    except (OSError, UnicodeDecodeError, ValueError, UnreadableFile):
        return {}
