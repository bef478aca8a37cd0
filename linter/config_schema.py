"""The pydantic schema of ``[tool.nnlint]``, built once from the registered checks.

Every check that declares ``options`` gets its own sub-table, named by its slug
(``[tool.nnlint.batch-size-extreme]``), typed from the defaults it declares.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from nnlint import registry


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, strict=True)


class ModelTable(_Strict):
    """``[tool.nnlint.models] "path/model.onnx" = { task = "regression" }``."""

    task: Optional[Literal["regression", "classification"]] = None


class TracedModelTable(_Strict):
    """``[tool.nnlint.trace.models.Net]``: how ``--trace`` builds and feeds one model class."""

    args: list[Any] = []  # constructor arguments, for --trace-import
    kwargs: dict[str, Any] = {}
    #: one sample's shape, without the batch dimension; a list of shapes for several inputs
    input_shape: Optional[Union[list[int], list[list[int]]]] = None


class TraceTable(_Strict):
    """``[tool.nnlint.trace]``."""

    import_timeout: float = Field(default=120.0, gt=0)  # seconds per model imported by --trace-import
    import_memory: int = Field(default=4096, gt=0)  # MiB of address space for that subprocess
    models: dict[str, TracedModelTable] = {}  # "Net" or "path/model.py:Net"


class NnlintTable(_Strict):
    select: Optional[list[str]] = None
    ignore: list[str] = []
    extend_ignore: list[str] = []
    exclude: list[str] = []
    extend_exclude: list[str] = []
    per_file_ignores: dict[str, list[str]] = {}
    fail_on: Literal["error", "warning", "info"] = "warning"
    task: Optional[Literal["regression", "classification"]] = None
    ignore_nodes: list[str] = []
    test_files: Optional[list[str]] = None
    models: dict[str, ModelTable] = {}
    trace: TraceTable = TraceTable()


@lru_cache(maxsize=1)
def schema() -> type[BaseModel]:
    fields = {}
    for check in registry.all_checks():
        if not check.options:
            continue
        sub = create_model(
            f"Options_{check.code}",
            __base__=_Strict,
            **{key.replace("-", "_"): (type(default), default) for key, default in check.options.items()},
        )
        fields[check.name.replace("-", "_")] = (sub, Field(default_factory=sub, alias=check.name))
    return create_model("NnlintConfig", __base__=NnlintTable, **fields)
