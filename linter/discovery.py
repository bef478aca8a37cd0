"""Paths on the command line -> the files to lint.

Folders are walked recursively, skipping hidden folders, virtual environments (by name or
by their ``pyvenv.cfg``) and build output, what ``.gitignore`` files say and the configured ``exclude`` patterns (gitignore
syntax, relative to the configuration's folder). The ``.gitignore`` matcher (pathspec) is
imported only when a folder is walked: pre-commit passes files.

A repository is untrusted input: symlinked folders are not followed (no loops, nothing outside
the project), a folder that cannot be listed is one line, ``.gitignore`` files are read through
:mod:`nnlint.files`, and a pattern git would reject (``!``) is dropped with one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from nnlint import files
from nnlint.config import Settings

#: A ``.gitignore`` larger than this is not read (its patterns are then not applied).
MAX_GITIGNORE_BYTES = 1_000_000
SUFFIXES = {".py": "python", ".pyi": "python", ".ipynb": "notebook", ".onnx": "onnx"}
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "env", "build", "dist", "_build"}


@dataclass(frozen=True)
class Unit:
    path: str  # as shown to the user: relative paths stay relative
    abspath: Path
    kind: str  # "python", "notebook", "onnx"


@dataclass
class Discovery:
    units: list[Unit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # inputs that do not exist or cannot be listed: exit 2
    notes: list[str] = field(default_factory=list)  # one line each, on stderr


class _Ignores:
    """Gitignore-style matching for configured excludes and the .gitignore files met."""

    def __init__(self, settings: Settings, found: Discovery) -> None:
        self.root = settings.root.resolve()
        self.found = found
        self.exclude = None
        if settings.exclude:
            self.exclude, bad = _spec(settings.exclude)
            where = f"{settings.source}: " if settings.source else ""
            found.errors.extend(f"{where}exclude: invalid pattern '{p}' ({reason}); ignored" for p, reason in bad)
        self.gitignores: dict[Path, Any] = {}

    def excluded(self, path: Path, is_dir: bool) -> bool:
        if self.exclude is not None and _matches(self.exclude, self.root, path, is_dir):
            return True
        return any(_matches(spec, base, path, is_dir) for base, spec in self.gitignores.items()
                   if base == path.parent or base in path.parents)

    def enter(self, folder: Path) -> None:
        gitignore = folder / ".gitignore"
        if folder in self.gitignores or not os.path.lexists(gitignore):
            return
        self.gitignores[folder] = None
        try:
            raw = files.read_bytes(gitignore, MAX_GITIGNORE_BYTES)
        except files.UnreadableFile as exc:
            self.found.notes.append(f"{_shown(gitignore)}: cannot read: {exc}; its patterns are not applied")
            return
        spec, bad = _spec(raw.decode("utf-8", errors="replace").splitlines())
        self.found.notes.extend(f"{_shown(gitignore)}: invalid pattern '{p}' ({reason}); ignored" for p, reason in bad)
        self.gitignores[folder] = spec


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it, as the user sees files."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def matcher(patterns: list[str], root: Path):
    """A test ``path -> bool`` for gitignore-style patterns relative to ``root`` (pathspec is
    imported on the first call, and not at all without patterns)."""
    if not patterns:
        return lambda path: False
    root = root.resolve()
    specs: list[Any] = []

    def matches(path: Path) -> bool:
        if not specs:
            specs.append(_spec(patterns)[0])
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: match the path as named
            resolved = Path(os.path.abspath(path))
        return _matches(specs[0], root, resolved, False)

    return matches


def _spec(lines: list[str]) -> tuple[Any, list[tuple[str, str]]]:
    """The matcher for ``lines``, and the (pattern, reason) of each line pathspec rejects (git
    ignores such a line: ``!`` alone, a trailing backslash); those are left out."""
    from pathspec import GitIgnoreSpec

    try:
        return GitIgnoreSpec.from_lines(lines), []
    except ValueError:
        pass
    good, bad = [], []
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except ValueError as exc:
            bad.append((line.strip()[:80], str(exc).splitlines()[0][:120] if str(exc) else "invalid"))
        else:
            good.append(line)
    return GitIgnoreSpec.from_lines(good), bad


def _matches(spec: Any, base: Path, path: Path, is_dir: bool) -> bool:
    if spec is None:
        return False
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        return False
    return bool(spec.match_file(rel + "/" if is_dir else rel))


def discover(paths: list[str], settings: Settings) -> Discovery:
    found = Discovery()
    ignores: Optional[_Ignores] = None
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        stdin = files.is_standard_input(path)  # read from standard input: no file need lie there
        if not stdin and not path.exists() and not os.path.islink(given):  # a dangling link or a loop is reported when read
            found.errors.append(f"{given}: no such file or directory")
            continue
        if stdin or not path.is_dir():  # a file, or a FIFO or device: nnlint.files refuses those with one line
            try:
                resolved = files.resolve(path) if stdin else path.resolve()
            except (OSError, RuntimeError):  # a symlink loop
                resolved = Path(os.path.abspath(given))
            if settings.exclude:
                ignores = ignores or _Ignores(settings, found)
                if ignores.exclude is not None and _matches(ignores.exclude, ignores.root, resolved, False):
                    continue
            if resolved not in seen:
                seen.add(resolved)
                found.units.append(Unit(given, resolved, SUFFIXES.get(path.suffix.lower(), "python")))
            continue
        ignores = ignores or _Ignores(settings, found)
        before = len(found.units)
        for unit in _walk(path, ignores, found):
            if unit.abspath not in seen:
                seen.add(unit.abspath)
                found.units.append(unit)
        if len(found.units) == before:
            found.notes.append(f"{given}: no Python, notebook or ONNX files found")
    return found


def _repository_root(folder: Path) -> Optional[Path]:
    return next((p for p in (folder, *folder.parents) if os.path.lexists(p / ".git")), None)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder that cannot be searched
        return False


def _walk(top: Path, ignores: _Ignores, found: Discovery) -> list[Unit]:
    """The files to lint under ``top``. ``os.walk`` does not follow symlinked folders, so a
    walk can neither loop nor leave the tree; a symlinked file is listed, and judged where it
    is read (:mod:`nnlint.files`)."""
    units: list[Unit] = []
    top_abs = top.resolve()
    repo = _repository_root(top_abs)
    if repo is not None:  # .gitignore files above the walked folder apply inside it too
        for folder in reversed(top_abs.parents[: len(top_abs.relative_to(repo).parts)]):
            ignores.enter(folder)

    def unlisted(exc: OSError) -> None:
        where = os.path.join(str(top), os.path.relpath(exc.filename, top_abs)) if exc.filename else str(top)
        found.errors.append(f"{os.path.normpath(where)}: cannot read folder ({exc.strerror or exc}); skipped")

    for folder, dirs, names in os.walk(top_abs, onerror=unlisted):
        here = Path(folder)
        ignores.enter(here)
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and d not in _SKIP_DIRS and not _is_file(here / d / "pyvenv.cfg")
            and not ignores.excluded(here / d, True)
        )
        for name in sorted(names):
            kind = SUFFIXES.get(os.path.splitext(name)[1].lower())
            if kind is None:
                continue
            absolute = here / name
            if ignores.excluded(absolute, False):
                continue
            shown = os.path.join(str(top), os.path.relpath(absolute, top_abs))
            units.append(Unit(os.path.normpath(shown), absolute, kind))
    return units
