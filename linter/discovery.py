"""Paths on the command line -> the files to lint.

Folders are walked recursively, skipping hidden folders, virtual environments (by name or
by their ``pyvenv.cfg``) and build output, what ``.gitignore`` files say and the configured ``exclude`` patterns (gitignore
syntax, relative to the configuration's folder). The ``.gitignore`` matcher (pathspec) is
imported only when a folder is walked: pre-commit passes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from nnlint.config import Settings

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
    errors: list[str] = field(default_factory=list)  # inputs that do not exist: exit 2
    notes: list[str] = field(default_factory=list)  # one line each, on stderr


class _Ignores:
    """Gitignore-style matching for configured excludes and the .gitignore files met."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.root.resolve()
        self.exclude = _spec(settings.exclude) if settings.exclude else None
        self.gitignores: dict[Path, Any] = {}

    def excluded(self, path: Path, is_dir: bool) -> bool:
        if self.exclude is not None and _matches(self.exclude, self.root, path, is_dir):
            return True
        return any(_matches(spec, base, path, is_dir) for base, spec in self.gitignores.items()
                   if base == path.parent or base in path.parents)

    def enter(self, folder: Path) -> None:
        gitignore = folder / ".gitignore"
        if gitignore.is_file():
            try:
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return
            self.gitignores[folder] = _spec(lines)


def matcher(patterns: list[str], root: Path):
    """A test ``path -> bool`` for gitignore-style patterns relative to ``root`` (pathspec is
    imported on the first call, and not at all without patterns)."""
    if not patterns:
        return lambda path: False
    root = root.resolve()
    specs: list[Any] = []

    def matches(path: Path) -> bool:
        if not specs:
            specs.append(_spec(patterns))
        return _matches(specs[0], root, path.resolve(), False)

    return matches


def _spec(lines: list[str]) -> Any:
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(lines)


def _matches(spec: Any, base: Path, path: Path, is_dir: bool) -> bool:
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
        if not path.exists():
            found.errors.append(f"{given}: no such file or directory")
            continue
        if path.is_file():
            resolved = path.resolve()
            if settings.exclude:
                ignores = ignores or _Ignores(settings)
                if ignores.exclude is not None and _matches(ignores.exclude, ignores.root, resolved, False):
                    continue
            if resolved not in seen:
                seen.add(resolved)
                found.units.append(Unit(given, resolved, SUFFIXES.get(path.suffix.lower(), "python")))
            continue
        ignores = ignores or _Ignores(settings)
        before = len(found.units)
        for unit in _walk(path, ignores):
            if unit.abspath not in seen:
                seen.add(unit.abspath)
                found.units.append(unit)
        if len(found.units) == before:
            found.notes.append(f"{given}: no Python, notebook or ONNX files found")
    return found


def _repository_root(folder: Path) -> Optional[Path]:
    return next((p for p in (folder, *folder.parents) if (p / ".git").exists()), None)


def _walk(top: Path, ignores: _Ignores) -> list[Unit]:
    units: list[Unit] = []
    top_abs = top.resolve()
    repo = _repository_root(top_abs)
    if repo is not None:  # .gitignore files above the walked folder apply inside it too
        for folder in reversed(top_abs.parents[: len(top_abs.relative_to(repo).parts)]):
            ignores.enter(folder)
    for folder, dirs, files in os.walk(top_abs):
        here = Path(folder)
        ignores.enter(here)
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and d not in _SKIP_DIRS and not (here / d / "pyvenv.cfg").is_file()
            and not ignores.excluded(here / d, True)
        )
        for name in sorted(files):
            kind = SUFFIXES.get(os.path.splitext(name)[1].lower())
            if kind is None:
                continue
            absolute = here / name
            if ignores.excluded(absolute, False):
                continue
            shown = os.path.join(str(top), os.path.relpath(absolute, top_abs))
            units.append(Unit(os.path.normpath(shown), absolute, kind))
    return units
