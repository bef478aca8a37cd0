"""Collects the checks: every ``Check`` subclass in a module of :mod:`nnlint.checks`.

Dropping a module into ``checks/`` registers it; there is no table to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from nnlint.check import Check


@lru_cache(maxsize=1)
def all_checks() -> tuple[type[Check], ...]:
    import nnlint.checks as package

    found: list[type[Check]] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Check) and value.__module__ == module.__name__:
                found.append(value)
    codes = [c.code for c in found]
    names = [c.name for c in found]
    if len(set(codes)) != len(codes) or len(set(names)) != len(names):
        raise RuntimeError("two checks share a code or a name")
    return tuple(sorted(found, key=lambda c: c.code))


def find(selector: str) -> list[type[Check]]:
    """Checks matched by a code (``NN003``), a code prefix (``NN0``), a slug, or ``ALL``."""
    if selector.upper() == "ALL":
        return list(all_checks())
    by_name = [c for c in all_checks() if c.name == selector.lower()]
    if by_name:
        return by_name
    return [c for c in all_checks() if c.code.startswith(selector.upper())] if selector[:2].upper() == "NN" else []


def lookup(code_or_name: str) -> type[Check] | None:
    for check in all_checks():
        if code_or_name.upper() == check.code or code_or_name.lower() == check.name:
            return check
    return None
