"""Settings: ``[tool.nnlint]`` in the nearest ``pyproject.toml`` (or ``--config``), then the CLI.

The table is validated with pydantic (unknown keys and bad values are errors that name
them); the result is a plain :class:`Settings`, so a run without configuration never imports
pydantic (it costs more than parsing a training script).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional


#: A configuration file larger than this is not read.
MAX_CONFIG_BYTES = 1_000_000

#: pytest's own conventions for test code.
TEST_FILES = ("test_*.py", "*_test.py", "conftest.py", "tests/", "test/")


class ConfigError(Exception):
    """A problem with the configuration; the message is one line for the user."""


@dataclass
class Settings:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    fail_on: str = "warning"
    task: Optional[str] = None  # "regression" or "classification": what every model is trained for
    check_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> options
    ignore_nodes: list[str] = field(default_factory=list)  # glob patterns on ONNX node names
    #: gitignore-style patterns of test code, where pitfall findings are info (toy models check mechanics)
    test_files: list[str] = field(default_factory=lambda: list(TEST_FILES))
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # model path -> {"task": ...}
    #: ``[tool.nnlint.trace]``: import-timeout, import-memory, per-class models (as the schema names them)
    trace: dict[str, Any] = field(default_factory=dict)
    root: Path = field(default_factory=Path.cwd)  # where relative patterns are anchored
    source: Optional[Path] = None  # the file the settings came from


def find_pyproject(start: Path) -> Optional[Path]:
    start = Path(os.path.abspath(start))
    try:  # the folder a file is named in (a file named may be a link loop or lead anywhere)
        start = (start if start.is_dir() else start.parent).resolve()
    except (OSError, RuntimeError):
        return None
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if os.path.lexists(candidate):  # a link or a FIFO too: the read refuses it with one line
            return candidate
    return None


def load(config: Optional[str], first_path: Optional[str]) -> Settings:
    """Settings from ``--config`` or the nearest pyproject.toml above the first path (or cwd)."""
    if config is not None:
        path = Path(config)
        if not path.exists():
            raise ConfigError(f"{config}: no such configuration file")
        explicit = True
    else:
        found = find_pyproject(Path(first_path) if first_path else Path.cwd())
        if found is None:
            return Settings()
        path, explicit = found, False
    from nnlint import files

    # A found pyproject.toml is part of the repository: read only if it leads nowhere outside its
    # folder; a --config file is named by the user. Either way a regular file, of bounded size.
    within = (Path(os.path.abspath(path)).parent if not explicit else Path(Path(os.path.abspath(path)).anchor),)
    if sys.version_info >= (3, 11):  # imported only when there is a file to read (6 ms)
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(files.read_bytes(path, MAX_CONFIG_BYTES, within).decode("utf-8"))
    except (OSError, UnicodeDecodeError, files.UnreadableFile) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (RecursionError, MemoryError):  # tomllib recurses once per nested array or table
        raise ConfigError(f"{path}: invalid TOML: nested too deeply to read") from None
    tool = data.get("tool")
    if tool is not None and not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table (got {_shown(tool)})")
    if path.name == "pyproject.toml":
        table = (tool or {}).get("nnlint")
        if table is None:
            return Settings(root=path.parent, source=path)
        where = f"{path} [tool.nnlint]"
    else:
        table = (tool or {}).get("nnlint", data) if explicit else data
        where = str(path)
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table (got {_shown(table)})")
    return _validate(table, where, path)


def _shown(value: Any, limit: int = 40) -> str:
    """A configured value as the message quotes it: one line, cut short."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: A union member's tag in pydantic's error locations (``list[int]``), not a key the user wrote.
_UNION_TAG = re.compile(r"^[a-z_-]+\[.*\]$")


def _key(loc: tuple) -> str:
    """``trace.models.Net.input-shape[0]``: the error's location as the TOML names it."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not _UNION_TAG.match(str(part)):
            part = str(part) if str(part).isprintable() else json.dumps(str(part))[1:-1]  # "\r", as TOML writes it
            key += f".{part}" if key else part
    return key


def _problem(err: dict) -> str:
    """pydantic's message in the configuration's words: ``must be a table``, not the schema's
    class names."""
    if err["type"] in ("model_type", "dict_type"):
        message = "must be a table"
    else:
        message = re.sub(r"^Input should be a valid ", "must be a ", err["msg"])
        message = re.sub(r"^Input should be ", "must be ", message).replace("must be a integer", "must be an integer")
    return f"{message} (got {_shown(err.get('input'))})" if "input" in err else message


def _validate(table: dict, where: str, path: Path) -> Settings:
    from pydantic import ValidationError

    from nnlint.config_schema import schema

    try:
        parsed = schema().model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key(err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}: unknown key '{key}'") from None
        raise ConfigError(f"{where}: '{key}': {_problem(err)}") from None
    options = {}
    for name, value in parsed:
        if hasattr(value, "model_dump") and name not in ("per_file_ignores", "models", "trace"):
            options[name.replace("_", "-")] = value.model_dump(by_alias=True)
    return Settings(
        select=parsed.select if parsed.select is not None else ["ALL"],
        ignore=list(parsed.ignore) + list(parsed.extend_ignore),
        exclude=list(parsed.exclude) + list(parsed.extend_exclude),
        per_file_ignores=dict(parsed.per_file_ignores),
        fail_on=parsed.fail_on,
        task=parsed.task,
        check_options=options,
        ignore_nodes=list(parsed.ignore_nodes),
        test_files=list(parsed.test_files) if parsed.test_files is not None else list(TEST_FILES),
        models={path: model.model_dump() for path, model in parsed.models.items()},
        trace=parsed.trace.model_dump(),
        root=path.parent,
        source=path,
    )
