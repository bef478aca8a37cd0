"""A project: the files nnlint was asked about and the project modules they import.

``from model import Net`` in ``train.py`` is resolved to ``model.py`` when that file lies
inside the project root (the nearest folder above with a ``pyproject.toml`` or ``.git``),
so a model and the loss that trains it are joined. Nothing outside the root is read (every
read goes through :mod:`nnlint.files`, so a symlinked file cannot lead the imports out of the
project), and nothing is ever executed.

A project module named like a framework nnlint reads (a ``torch/`` package of helpers)
shadows it only as Python's import would: a regular module or package found first on the
search path, never a bare folder (a namespace portion loses to the installed framework).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from nnlint import files
from nnlint.errors import SourceSyntaxError, UnreadableFile, UnsupportedSyntax
from nnlint.files import project_root
from nnlint.source import MAX_BYTES, Outlines, SourceFile, decode, parse

if TYPE_CHECKING:
    import re

    from nnlint import notebook

#: The installed frameworks whose APIs nnlint reads: a project module of the same name replaces
#: one only where Python would import it, and only for the names it defines.
FRAMEWORKS = frozenset({"torch", "tensorflow", "keras"})


@dataclass(eq=False)
class ModuleInfo:
    source: SourceFile
    globals: dict[str, Any] = field(default_factory=dict)
    star_modules: list[str] = field(default_factory=list)  # ``from <not a project module> import *``
    #: ``from <project module> import *``: (name, level) of the modules whose public names it
    #: binds, found and read when a name the module does not bind itself is first looked up
    project_stars: list[tuple[str, int]] = field(default_factory=list)
    executed: bool = False
    graph: Any = None  # the tensor code of its top level (a script's, a notebook's cells)
    #: names bound once by a plain top-level ``from x import name`` (frontends.exports), once read
    plain_imports: Optional[dict[str, Any]] = None
    #: the folders ``import name`` looks in from this module (Project._search_path), once worked out
    search_path: Optional[list[Path]] = None
    #: (dotted name, level) -> the project file it imports or None (Project.locate_module), once found
    located: dict[tuple[str, int], Optional[Path]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def folder(self) -> Path:
        return self.source.abspath.parent


class Project:
    def __init__(self, display_paths: dict[Path, str], record: bool = False, outlines: Optional[Outlines] = None) -> None:
        # absolute path -> the path as it is shown to the user
        self.display_paths = display_paths
        self.modules: dict[Path, Optional[ModuleInfo]] = {}
        self.notebooks: dict[Path, notebook.NotebookCode] = {}  # kept even when the code fails to parse
        self._roots: dict[Path, Path] = {}
        self._real: dict[Path, Path] = {}  # a path given to load -> where its links lead (files.resolve)
        #: With ``record`` (for :mod:`nnlint.cache`): per module, the facts of the file system that
        #: reading it and resolving its imports relied on, as (kind, path) pairs: ``read`` (its
        #: bytes, whose digest is in ``digests``), ``shown`` (the name it is shown under),
        #: ``resolve`` (where a path leads), ``root`` (a folder's project root), ``dir`` (the
        #: ``.py`` names of a folder an import looked in) and ``module`` (a project module an
        #: import found, whose own facts count too). A file's findings hold while they do.
        self.facts: Optional[dict[Path, set[tuple[str, str]]]] = {} if record else None
        self.digests: dict[Path, str] = {}
        #: where imported modules' outlines are kept between runs (the cache; it records, too)
        self.outlines = outlines if record else None
        #: the modules some file's import statement found: they stay parsed (see :meth:`release`)
        self.imported: set[Path] = set()

    def _note(self, owner: Path, kind: str, path: Path) -> None:
        if self.facts is not None:
            self.facts.setdefault(owner, set()).add((kind, str(path)))

    def relied_on(self, abspath: Path) -> set[tuple[str, str]]:
        """The facts the analysis of the file at (resolved) ``abspath`` relied on: its own and
        those of every project module it imports, transitively."""
        assert self.facts is not None
        facts: set[tuple[str, str]] = set()
        todo, seen = [abspath], {abspath}
        while todo:
            for kind, path in self.facts.get(todo.pop(), ()):
                facts.add((kind, path))
                if kind == "module" and Path(path) not in seen:
                    seen.add(Path(path))
                    todo.append(Path(path))
        return facts

    def load(self, abspath: Path, imported: bool = False) -> ModuleInfo:
        """Parse a file once; raises UnreadableFile (also for a link out of the project, a
        loop, a FIFO or a device) or SourceSyntaxError. A module only ``imported`` (not one
        nnlint was asked about) may be read statement by statement (:mod:`nnlint.statements`)."""
        given = abspath
        abspath = self._real.get(given) or self._real.setdefault(given, files.resolve(given))
        for kind, path in (("resolve", given), ("read", abspath), ("shown", abspath)):
            self._note(abspath, kind, path)
        cached = self.modules.get(abspath)
        if cached is not None:
            return cached
        shown = self.display_paths.get(abspath) or str(abspath)
        text = decode(self._read(abspath))
        code = None
        if abspath.suffix.lower() == ".ipynb":
            from nnlint import notebook  # only where a notebook is read

            code = self.notebooks[abspath] = notebook.read(abspath, text)
            text = code.text
        info = ModuleInfo(parse(shown, abspath, text, imported=imported and abspath not in self.display_paths,
                                outlines=self.outlines))
        info.source.notebook = code
        self.modules[abspath] = info
        return info

    def release(self, abspath: Path) -> None:
        """Let go of a file linted, unless a file read so far imports it (then the next
        importer may need it too): a leaf of the imports (a script, a model file) is parsed for
        its own findings alone, which are made by now (their positions worked out; the
        suppressions are read from the text). Should a later file import it after all, it is
        parsed and run again, as in a run (or a worker's share) that never linted it."""
        resolved = files.resolve(abspath)
        if resolved not in self.imported:
            self.modules.pop(resolved, None)
            self.notebooks.pop(resolved, None)

    def _read(self, abspath: Path) -> bytes:
        """The file's bytes; recording, their digest (or why they could not be read)."""
        try:
            raw = files.read_bytes(abspath, MAX_BYTES)
        except UnreadableFile as exc:
            if self.facts is not None:
                from nnlint.cache import unreadable

                self.digests[abspath] = unreadable(exc)
            raise
        if self.facts is not None:
            from nnlint.cache import digest

            self.digests[abspath] = digest(raw)
        return raw

    def scripts_naming(self, abspath: Path, names_it: "re.Pattern", most_read: int, most: int,
                       folder: Optional[Path] = None) -> list[Path]:
        """The ``.py`` files in ``folder`` (by default the one beside ``abspath``: the folder a
        script run there imports it from) whose text ``names_it`` matches, at most ``most`` of
        them, of the first ``most_read`` files in name order. Each is read through
        :mod:`nnlint.files`, and recorded for ``abspath`` 's cache entry, as the folder's listing is."""
        folder = abspath.parent if folder is None else folder
        if not files.may_list(folder):
            return []
        self._note(abspath, "dir", folder)
        try:
            names = sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".py"))
        except OSError:
            return []
        found = []
        for name in names[:most_read]:
            path = folder / name
            if path == abspath or not _is_file(path):
                continue
            self._note(abspath, "read", path)
            try:
                text = decode(self._read(path))
            except UnreadableFile:
                continue
            if names_it.search(text):
                found.append(path)
                self._note(abspath, "module", files.resolve(path))  # its imports' facts count too
                if len(found) == most:
                    break
        return found

    def source_for(self, path: str) -> Optional[SourceFile]:
        """The parsed file shown as ``path``, if it was loaded."""
        return next((m.source for m in self.modules.values() if m is not None and m.path == path), None)

    def _root_of(self, folder: Path) -> Path:
        """The project root (:func:`project_root`); where no marker names one, for a module of
        a package, the folder that holds its top package: ``lstm/__init__.py`` importing
        ``lstm.model`` is run from there, as ``sys.path`` has it (reads stay inside the run's
        roots all the same: :mod:`nnlint.files`)."""
        if folder not in self._roots:
            root = project_root(folder)
            if root == folder and not files.marks_project(folder):
                while _is_file(root / "__init__.py") and root.parent != root:
                    root = root.parent
            self._roots[folder] = root
        return self._roots[folder]

    def _search_path(self, importer: ModuleInfo, root: Path) -> list[Path]:
        """Where ``import name`` looks, as Python 3 does: the folders that can be on ``sys.path``.

        A script's own folder is ``sys.path[0]``, so a ``torch.py`` beside a script shadows torch
        for it. A module inside a package (a folder with ``__init__.py``) is imported through
        its package: its folder is not on the path, and a sibling ``torch.py`` is
        ``package.torch``, not ``torch``. A package module that is also run as a script (it
        has an ``if __name__ == "__main__":`` block) keeps its folder. Above it, the folders up
        to the project root that are not packages themselves, and the root.
        """
        if importer.search_path is None:
            folders = [importer.folder, *[p for p in importer.folder.parents if files.within(p, root)]]
            script = "__main__" in importer.source.text
            importer.search_path = [f for i, f in enumerate(folders)
                                    if f == root or not self._is_file(importer, f / "__init__.py") or (i == 0 and script)]
        return importer.search_path

    def _is_file(self, importer: ModuleInfo, path: Path) -> bool:
        self._note(importer.source.abspath, "dir", path.parent)
        return _is_file(path)

    def find_module(self, importer: ModuleInfo, dotted_name: str, level: int) -> Optional[ModuleInfo]:
        """The project file for ``dotted_name`` imported from ``importer``, if there is one."""
        return self.module_at(self.locate_module(importer, dotted_name, level))

    def module_at(self, resolved: Optional[Path]) -> Optional[ModuleInfo]:
        """The project module at ``resolved`` (a :meth:`locate_module` result), read once; None
        for no path or a file that cannot be read as Python."""
        if resolved is None:
            return None
        if resolved in self.modules and self.modules[resolved] is None:
            return None  # known to be unreadable
        try:
            return self.load(resolved, imported=True)
        except (UnreadableFile, SourceSyntaxError, UnsupportedSyntax):
            self.modules[resolved] = None
            return None

    def locate_module(self, importer: ModuleInfo, dotted_name: str, level: int) -> Optional[Path]:
        """The path of the project file for ``dotted_name`` imported from ``importer``, without
        reading it; None where Python would not import a project file (or one outside the
        project)."""
        key = (dotted_name, level)
        if key not in importer.located:  # the same answer, with the same facts noted for the importer
            importer.located[key] = self._locate(importer, dotted_name, level)
        return importer.located[key]

    def _locate(self, importer: ModuleInfo, dotted_name: str, level: int) -> Optional[Path]:
        if not dotted_name and level == 0:
            return None
        root = self._root_of(importer.folder)
        self._note(importer.source.abspath, "root", importer.folder)
        if level:
            bases = [importer.folder.parents[level - 2] if level > 1 else importer.folder]
        else:
            bases = self._search_path(importer, root)
        parts = dotted_name.split(".") if dotted_name else []
        for base in bases:
            if not level and parts[0] in FRAMEWORKS and len(parts) > 1 \
                    and not all(self._is_file(importer, base.joinpath(*parts[:i], "__init__.py")) for i in range(1, len(parts))):
                continue  # a bare folder named torch/ is a namespace portion: the installed torch wins
            candidate = base.joinpath(*parts) if parts else base
            for path in (candidate.with_suffix(".py") if parts else None, candidate / "__init__.py"):
                if path is None or not self._is_file(importer, path):
                    continue
                self._note(importer.source.abspath, "resolve", path)
                try:
                    resolved = files.resolve(path)
                except UnreadableFile:
                    return None  # a link out of the project or a loop: never read
                if not files.within(resolved, root):
                    return None  # never read outside the project
                self._note(importer.source.abspath, "module", resolved)
                self.imported.add(resolved)
                return resolved
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder that cannot be searched
        return False

