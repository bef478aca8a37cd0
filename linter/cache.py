"""The lint cache: each file's findings, kept in ``.nnlint_cache/`` and reused while nothing
they came from has changed.

An entry holds the findings one file's analysis made (before suppressions, which are applied
afresh on every run) and every fact of the file system that analysis relied on, as the
project recorded them (:class:`nnlint.frontends.project.Project`): the digest of each file
read (the file itself and the project modules it imports, transitively), the name each is
shown under, where each path led, the project root of each folder, and the ``.py`` names of
each folder an import looked in. An entry is used only when every fact still holds, so an
edit to ``model.py`` re-lints ``train.py``, which imports it, and a new ``model.py`` beside
it (which an import would now find) does too. The entry's name is a digest of the file, its
display path, and everything else the findings depend on: nnlint's version and its own
sources, Python's and libcst's versions, the settings (the configuration as resolved, the
selected rules, ``--task``) and the current folder.

A second kind of entry holds the outline of a module a linted file imports (not one linted
itself), by the digest of its text (a notebook's code): its top-level statements, the names each binds and the
lines of its functions (:func:`nnlint.statements.outline`), or for a module run whole, the
lines of its functions. It depends on nothing but that text, nnlint's own sources and
Python's version, so a run that lints an edited ``train.py`` (a pre-commit hook on a staged
change) reads the unchanged modules it imports from their outlines instead of parsing them
whole, and parses only the parts its analysis runs.

nnlint lints untrusted pull requests, whose checkout may carry a crafted ``.nnlint_cache/``
that would hide findings. So every entry is signed with an HMAC whose key lives outside any
project, once per user (``$XDG_CACHE_HOME/nnlint/key``, mode 0600); an entry whose signature
does not match, or that is corrupt, truncated or malformed, is ignored and overwritten, never
trusted and never an error. Without a key there is no cache. The folder is read through
:mod:`nnlint.files`: a ``.nnlint_cache`` that is a symlink is not used, and no entry is
followed out of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from nnlint import __version__, files
from nnlint.errors import TIMED_OUT

if TYPE_CHECKING:
    from nnlint.config import Settings
    from nnlint.discovery import Unit
    from nnlint.findings import Finding
    from nnlint.frontends.project import Project

#: The cache folder's name in the project root.
FOLDER = ".nnlint_cache"
#: The entries kept: past this, the oldest written are removed down to four fifths of it.
MAX_ENTRIES = 10_000
#: An entry larger than this is neither written nor read.
MAX_ENTRY_BYTES = 4_000_000
_MAGIC = b"NNLC1"
_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by nnlint.\n"
        "# For information about cache directory tags, see https://bford.info/cachedir/\n")
#: Engine codes whose findings are not reused: an I/O error or a bug may not recur. Nor is an
#: analysis stopped by its wall-time budget (an NN904 saying :data:`~nnlint.errors.TIMED_OUT`):
#: that depends on the machine's load, and a quieter run may finish it. A step budget's NN904,
#: the same on every machine, is kept.
_NOT_KEPT = {"NN902", "NN999"}


class Cache:
    """The cache of one run: where its entries live, the key that signs them, and what the
    run has already checked of the file system (each fact once)."""

    def __init__(self, folder: Path, key: bytes, settings: "Settings", codes: list[str]) -> None:
        self.folder = folder
        self._key = key
        build = _build()
        self._settings = _fingerprint(settings, codes, build)
        #: what an outline depends on besides the module's bytes: this nnlint and Python's parser
        self._outlines = hashlib.sha256("\0".join(("outline", __version__, build, sys.version)).encode()).hexdigest()
        self._known: dict[tuple[str, str], str] = {}
        self.written = 0

    # -- reading ---------------------------------------------------------------------------

    def lookup(self, unit: "Unit", display: dict[Path, str]) -> Optional[tuple[list["Finding"], set[str]]]:
        """The findings and tasks stored for ``unit``, if every fact they relied on still
        holds; else None (a miss, whatever the reason)."""
        try:
            entry = self._entry(unit)
            if entry is None or not all(self._holds(kind, path, value, display) for kind, path, value in entry["facts"]):
                return None
            return [_finding(f) for f in entry["findings"]], set(entry["tasks"])
        except Exception:  # a malformed entry that passed the signature (an older nnlint's bug): a miss
            return None

    def _entry(self, unit: "Unit") -> Optional[dict]:
        entry = self._read(self._name(unit))
        if not isinstance(entry, dict) or entry.get("unit") != [str(unit.abspath), unit.path, unit.kind]:
            return None
        return entry

    def _read(self, name: str) -> object:
        """The entry ``name`` holds, if it is one this user's key signed; else None."""
        try:
            data = files.read_bytes(self.folder / name, MAX_ENTRY_BYTES, (self.folder,))
        except (OSError, files.UnreadableFile):
            return None
        mac, payload = data[len(_MAGIC):len(_MAGIC) + 32], data[len(_MAGIC) + 32:]
        if not data.startswith(_MAGIC) or not hmac.compare_digest(mac, self._sign(name, payload)):
            return None  # corrupt, or not written with this user's key: never trusted
        return json.loads(_inflate(payload))

    def outline(self, digest: str) -> object:
        """The outline kept for an imported module whose text has this digest
        (:func:`nnlint.source.parse`), or None."""
        try:
            entry = self._read(self._outline_name(digest))
            return entry.get("outline") if isinstance(entry, dict) and entry.get("digest") == digest else None
        except Exception:  # a malformed entry that passed the signature: a miss
            return None

    def keep_outline(self, digest: str, data: object) -> None:
        """Keep an imported module's outline (never an error)."""
        try:
            self._write(self._outline_name(digest), {"digest": digest, "outline": data})
        except Exception:
            return

    def _holds(self, kind: str, path: str, value: str, display: dict[Path, str]) -> bool:
        if kind == "shown":  # the name it is shown under if asked about, else "" (findings in it dropped)
            return value == display.get(Path(path), "")
        known = self._known.get((kind, path))
        if known is None:
            known = self._known[(kind, path)] = _observe(kind, path)
        return known == value

    # -- writing ---------------------------------------------------------------------------

    def store(self, unit: "Unit", project: "Project", findings: list["Finding"], tasks: set[str]) -> None:
        """Keep ``unit``'s findings with the facts its analysis relied on (never an error)."""
        if any(f.code in _NOT_KEPT or (f.code == "NN904" and f.message.startswith(TIMED_OUT)) for f in findings):
            return
        try:
            resolved = files.resolve(unit.abspath)
            facts = []
            for kind, path in sorted(project.relied_on(resolved)):
                if kind == "module":
                    continue  # the module's own facts stand for it
                if kind == "read":
                    value = project.digests.get(Path(path))
                elif kind == "shown":
                    value = project.display_paths.get(Path(path), "")
                else:
                    value = self._known.get((kind, path)) or self._known.setdefault((kind, path), _observe(kind, path))
                if value is None:
                    return  # a file the analysis read without a digest: cannot be checked again
                facts.append([kind, path, value])
            entry = {"unit": [str(unit.abspath), unit.path, unit.kind], "facts": facts,
                     "findings": [f.as_json() for f in findings], "tasks": sorted(tasks)}
            self._write(self._name(unit), entry)
        except Exception:  # a cache that cannot be written is no cache, never a failed run
            return

    def _write(self, name: str, entry: dict) -> None:
        payload = zlib.compress(json.dumps(entry, separators=(",", ":")).encode(), 1)
        data = _MAGIC + self._sign(name, payload) + payload
        if len(data) <= MAX_ENTRY_BYTES and _prepare(self.folder):
            _write(self.folder / name, data)
            self.written += 1

    def prune(self) -> None:
        """Keep at most :data:`MAX_ENTRIES` entries, the newest written."""
        if not self.written:
            return
        try:
            entries = [e for e in os.scandir(self.folder) if len(e.name) == 64 and e.is_file(follow_symlinks=False)]
            if len(entries) <= MAX_ENTRIES:
                return
            entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
            for entry in entries[: len(entries) - MAX_ENTRIES * 4 // 5]:
                os.unlink(entry.path)
        except OSError:
            pass

    def _name(self, unit: "Unit") -> str:
        return hashlib.sha256("\0".join((self._settings, str(unit.abspath), unit.path, unit.kind)).encode()).hexdigest()

    def _outline_name(self, digest: str) -> str:
        return hashlib.sha256("\0".join((self._outlines, digest)).encode()).hexdigest()

    def _sign(self, name: str, payload: bytes) -> bytes:
        return hmac.new(self._key, name.encode() + b"\0" + payload, hashlib.sha256).digest()


def _finding(data: dict) -> "Finding":
    """A finding as :meth:`Finding.as_json` wrote it."""
    from nnlint.findings import Finding
    from nnlint.levels import Confidence, Severity

    return Finding(**{**data, "severity": Severity(data["severity"]), "confidence": Confidence(data["confidence"])})


def open_cache(root: Path, folder: Optional[Path], settings: "Settings", codes: list[str],
               notes: list[str]) -> Optional[Cache]:
    """The cache for a run in the project at ``root`` (``folder``: ``--cache-dir``), or None
    when there can be none: no key, or a ``.nnlint_cache`` that is a link or not a folder."""
    named = folder is not None
    folder = Path(os.path.abspath(folder if named else root / FOLDER))
    try:  # the folders above it may be links (/tmp on macOS): entries are checked against its real place
        folder = folder.parent.resolve() / folder.name
    except (OSError, RuntimeError):
        return None
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        info = None
    except OSError:
        return None
    if info is not None and not stat.S_ISDIR(info.st_mode) and not (named and os.path.isdir(folder)):
        notes.append(f"{folder} is {'a symlink' if stat.S_ISLNK(info.st_mode) else 'not a folder'}; the cache is "
                     "not used")
        return None
    key = user_key()
    if key is None:
        return None
    if named and info is not None:
        try:
            folder = folder.resolve()  # a folder the user named may be a link
        except (OSError, RuntimeError):
            return None
    return Cache(folder, key, settings, codes)


def user_key() -> Optional[bytes]:
    """This user's signing key, made once (32 random bytes, mode 0600), outside any project."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(os.path.expanduser("~"), ".cache")
                                                 if os.path.expanduser("~") != "~" else None)
    if not base or not os.path.isabs(base):
        return None
    path = os.path.join(base, "nnlint", "key")
    for _ in range(2):
        key = _read_key(path)
        if key is not None:
            return key
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                os.write(fd, os.urandom(32))
            finally:
                os.close(fd)
            try:
                os.link(temporary, path)  # atomic, and never over a key another process made first
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        except OSError:
            return None
    return None


def _read_key(path: str) -> Optional[bytes]:
    """The key at ``path``: a regular file of this user's, not a link, readable by nobody else."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
            return None
        key = os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)
    return key if len(key) == 32 else None


def _fingerprint(settings: "Settings", codes: list[str], build: str) -> str:
    """Everything besides the files that a file's findings depend on, as one digest."""
    import dataclasses

    fields = {k: v for k, v in dataclasses.asdict(settings).items() if k != "fail_on"}  # applied after
    libcst = _libcst()
    described = json.dumps({"nnlint": __version__, "build": build, "python": sys.version, "libcst": libcst,
                            "settings": fields, "checks": sorted(codes), "cwd": os.getcwd()},
                           sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def _libcst() -> str:
    """Which libcst parses: where it is installed and its version file, found without importing
    it (a warm run parses nothing) nor importlib.metadata (90 ms)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("libcst")
        if spec is None or spec.origin is None:
            return "?"
        folder = os.path.dirname(spec.origin)
        with open(os.path.join(folder, "_version.py"), "rb") as version:
            return f"{folder}:{version.read(4096).decode('utf-8', 'replace')}"
    except (OSError, ImportError, ValueError):
        return "?"


def _build() -> str:
    """nnlint's own sources by name, size and modification time: an edited checkout is another nnlint."""
    import nnlint
    import nnlint.checks

    seen = []
    for package in (nnlint, nnlint.checks):
        for folder, _, names in os.walk(os.path.dirname(package.__file__)):
            for name in sorted(names):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(folder, name))
                    seen.append(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(seen)).encode()).hexdigest()


def _observe(kind: str, path: str) -> str:
    """The fact ``kind`` of ``path`` as the file system has it now (the values the project noted)."""
    if kind == "read":
        from nnlint.source import MAX_BYTES

        try:
            return digest(files.read_bytes(Path(path), MAX_BYTES))
        except files.UnreadableFile as exc:
            return unreadable(exc)
    if kind == "resolve":
        try:
            return str(files.resolve(Path(path)))
        except files.UnreadableFile as exc:
            return unreadable(exc)
    if kind == "root":
        return str(files.project_root(Path(path)))
    if kind == "dir":
        return _listing(path)
    raise ValueError(f"unknown fact {kind!r}")


def digest(data: bytes) -> str:
    """What a file's bytes are compared by."""
    return hashlib.sha256(data).hexdigest()


def unreadable(exc: Exception) -> str:
    """The digest of a file that could not be read: why not."""
    return "!" + str(exc)


def _listing(folder: str) -> str:
    """The names in ``folder`` an import could name (``NAME.py``, ``NAME``; any ``.py`` file, as
    ``__import__("0-sequential")`` names one) and what each is (file, folder, link and where to):
    all a probe of ``folder/NAME.py`` or ``folder/NAME/__init__.py``, or a look for the scripts
    beside a file (:mod:`nnlint.callers`), can see of it."""
    try:
        with os.scandir(folder) as entries:
            seen = []
            for entry in entries:
                stem = entry.name[:-3] if entry.name.endswith(".py") else entry.name
                if not (stem.isidentifier() or entry.name.endswith(".py")):
                    continue  # no import names it (.nnlint_cache, .git, notes.txt)
                link = os.readlink(entry.path) if entry.is_symlink() else ""
                seen.append(f"{entry.name}\0{entry.is_file()}\0{entry.is_dir()}\0{link}")
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "not a folder"
    except OSError as exc:
        return f"!{exc.errno}"
    return hashlib.sha256("\n".join(sorted(seen)).encode()).hexdigest()


def _inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    data = inflater.decompress(payload, 16 * MAX_ENTRY_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("entry too large")
    return data


def _prepare(folder: Path) -> bool:
    """The cache folder, made when missing, with its CACHEDIR.TAG and a ``.gitignore`` of ``*``
    (so it is never committed); False when it is not a plain folder."""
    try:
        os.makedirs(folder, exist_ok=True)
        if os.path.islink(folder) and folder.name == FOLDER:
            return False
        for name, text in (("CACHEDIR.TAG", _TAG), (".gitignore", "# Made by nnlint: never committed.\n*\n")):
            if not os.path.lexists(folder / name):
                _write(folder / name, text.encode())
        return True
    except OSError:
        return False


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then renamed over it."""
    import tempfile

    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def clean(folders: list[str]) -> list[str]:
    """``nnlint clean``: remove every ``.nnlint_cache`` at or under ``folders`` (a link of that
    name is removed, never followed); the ones removed."""
    import shutil

    removed = []
    for top in folders:
        for folder, subfolders, _ in os.walk(top):
            if FOLDER in subfolders:
                target = os.path.join(folder, FOLDER)
                if os.path.islink(target):
                    os.unlink(target)
                else:
                    shutil.rmtree(target)
                removed.append(target)
            subfolders[:] = [d for d in subfolders if d not in (FOLDER, ".git")]
    return removed
