"""Running the engine in-process on source text or fixture files."""

from __future__ import annotations

from pathlib import Path

from nnlint import engine, registry
from nnlint.config import Settings


def lint_paths(paths: list[Path], settings: Settings | None = None, cwd: Path | None = None):
    settings = settings or Settings(root=cwd or Path.cwd())
    return engine.lint([str(p) for p in paths], settings, list(registry.all_checks()), jobs=1).findings


def lint_source(tmp_path: Path, code: str, name: str = "example.py", **settings):
    path = tmp_path / name
    path.write_text(code.lstrip("\n"), encoding="utf-8")
    return lint_paths([path], Settings(root=tmp_path, **settings))


def lint_onnx_text(tmp_path: Path, text: str, name: str = "example.onnx", **settings):
    """Lint a model written in ONNX's textual syntax (``onnx.parser``)."""
    import onnx
    import onnx.parser

    path = tmp_path / name
    onnx.save_model(onnx.parser.parse_model(text), str(path))
    return lint_paths([path], Settings(root=tmp_path, **settings))
