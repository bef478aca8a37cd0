"""Opening the files a repository delivers: the one gate every read of user-controlled input
goes through.

nnlint runs on untrusted pull requests (pre-commit, CI, a review bot), and a pull request can
deliver a symlink as easily as a file: to ``~/.git-credentials`` (whose first line would be
printed in a code frame), to ``/dev/zero`` (read until memory runs out), to itself (a loop), or
a FIFO (opening it blocks forever). So a file is read only when

* its resolved path lies inside an allowed root: the project roots of the paths named on the
  command line, and the folders named there (a file named there is judged by where it leads);
* the descriptor actually opened (without following a final symlink, and non-blocking, so a
  FIFO cannot stall the open) is a regular file, checked with ``fstat`` before any byte is read;
* its size on that descriptor is within the caller's cap, and the read itself stops at the
  cap, so a file growing underneath cannot exceed it.

Anything else raises :class:`Refused`, one line naming the reason and never the content. The
module imports only ``os`` and ``stat``: it is on the pre-commit path.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

from nnlint.errors import UnreadableFile

#: The roots reads are allowed under, set by :func:`allowed` (the engine, from the command line).
_roots: tuple[Path, ...] = ()

#: The file read from standard input (``nnlint - --stdin-filename NAME``): its place, as
#: :func:`standard_input` resolved it, and its bytes. Set for the whole run, report included.
_stdin: Optional[tuple[Path, bytes]] = None

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


class Refused(UnreadableFile):
    """The file is not read: a link outside the allowed roots, a loop, a special file, too large."""


def project_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` with a ``pyproject.toml`` or ``.git``, else the
    folder itself."""
    start = path if path.is_dir() else path.parent
    return next((folder for folder in (start, *start.parents) if marks_project(folder)), start)


def marks_project(folder: Path) -> bool:
    """Whether ``folder`` is a project's root: it holds a ``pyproject.toml`` or ``.git``."""
    return (folder / "pyproject.toml").is_file() or (folder / ".git").exists()


def roots_for(paths: Iterable[str]) -> tuple[Path, ...]:
    """The allowed roots for a run over ``paths``: each one's project root and git repository
    (its ``.gitignore`` files apply), and each folder named. A named file is not a root
    itself: a symlink named by pre-commit is judged by where it leads, like one met in a walk."""
    roots: list[Path] = []
    for given in paths:
        absolute = Path(os.path.abspath(given))
        folder = absolute if absolute.is_dir() else absolute.parent
        try:
            folder = folder.resolve()
        except (OSError, RuntimeError):
            continue
        repository = next((p for p in (folder, *folder.parents) if os.path.lexists(p / ".git")), folder)
        for root in (folder, project_root(folder), repository):
            if root not in roots:
                roots.append(root)
    return tuple(roots)


@contextmanager
def allowed(roots: Iterable[Path]) -> Iterator[None]:
    """Within the block, every read must lie under ``roots`` (the engine's run). Outside any such
    block a file must lie under the project root of the folder it is named in."""
    global _roots
    before, _roots = _roots, tuple(roots)
    try:
        yield
    finally:
        _roots = before


@contextmanager
def standard_input(place: Path, data: bytes) -> Iterator[None]:
    """Within the block, the file at ``place`` is ``data`` (standard input), whether or not a
    file lies there: every read of it gets these bytes, never the disk's. It stands at that
    place, so the project around it (imports, configuration) is the one there."""
    global _stdin
    before, _stdin = _stdin, (_place(Path(place)), data)
    try:
        yield
    finally:
        _stdin = before


def is_standard_input(path: Path) -> bool:
    return _stdin is not None and _place(Path(path)) == _stdin[0]


def _place(path: Path) -> Path:
    """``path`` made absolute with the links of the folders above it followed; it need not exist."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.parent.resolve() / absolute.name
    except (OSError, RuntimeError):
        return absolute


def inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(within(path, root) for root in roots)


def within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies under it, read from their (absolute, normalised) names as
    ``folder in path.parents`` reads them, without making a path object per parent."""
    name, top = os.fspath(path), os.fspath(folder)
    return name == top or name.startswith(top if top.endswith(os.sep) else top + os.sep)


def may_list(folder: Path) -> bool:
    """Whether ``folder``, its links followed, lies under the allowed roots: nnlint lists no
    folder outside the project."""
    try:
        real = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return inside(real, _roots or (project_root(folder),))


def resolve(path: Path, roots: Optional[Iterable[Path]] = None) -> Path:
    """``path`` with every link followed, if it lies under the allowed roots; else :class:`Refused`.
    The file read from standard input is its own place: nothing on the disk is followed."""
    if is_standard_input(path):
        return _stdin[0]
    try:
        real = Path(path).resolve(strict=True)
    except FileNotFoundError:
        raise Refused("a dangling symlink; not read" if os.path.islink(path) else "no such file") from None
    except RuntimeError:  # Python < 3.13 reports a symlink loop so
        raise Refused("a symlink loop; not read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("a symlink loop; not read") from None
        raise Refused(exc.strerror or str(exc)) from None
    allowed = tuple(roots) if roots is not None else _roots or (project_root(Path(os.path.abspath(path)).parent),)
    if not inside(real, allowed):
        raise Refused("a link to a file outside the project; not read")
    return real


def open_regular(path: Path, limit: int, roots: Optional[Iterable[Path]] = None) -> tuple[int, int]:
    """A descriptor on ``path`` (checked as :func:`resolve` does) that is a regular file of at
    most ``limit`` bytes, and its size. The caller closes it."""
    real = resolve(path, roots)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the final component became a link after it was resolved
            raise Refused("a symlink that changed while being read; not read") from None
        raise Refused(exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise Refused(f"{kind}, not a regular file; not read")
        if info.st_size > limit:
            raise Refused(f"file too large to lint ({info.st_size:,} bytes; limit {limit:,})")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def read_bytes(path: Path, limit: int, roots: Optional[Iterable[Path]] = None) -> bytes:
    """The bytes of a regular file under the allowed roots, at most ``limit`` of them; else
    :class:`Refused` (or :class:`UnreadableFile` for an I/O error), one line saying why."""
    if is_standard_input(path):
        data = _stdin[1]
        if len(data) > limit:
            raise Refused(f"standard input too large to lint (more than {limit:,} bytes)")
        return data
    fd, size = open_regular(path, limit, roots)
    try:
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, max(size + 1, 1 << 24)))  # one read, and no join, for the whole file
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise Refused(f"file too large to lint (more than {limit:,} bytes)")
    return data
