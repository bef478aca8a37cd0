"""The memory a trace may use (``--trace-memory``), judged from declared sizes before allocating.

A model file says how big its layers are, and nothing stops it from saying ``Linear(40000,
40000)`` (6.4 GB of weights) or an ONNX input of 2^62 features. The trace builds what the code
declares, so each size is checked first: a layer's parameters by constructing it on torch's
``meta`` device (shapes without storage, the real class's own arithmetic), an ONNX initializer
by its declared dims, an input by its shape at the trace's batch, the activations by the
values of the first (batch 2) pass scaled to the trace's batch. Over the budget, the model is
not built and its findings are inconclusive with the size that stopped it. Kept free of torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Enough for the models a laptop trains, far below what a laptop has (the backward pass and
#: the optimizer's state come on top of the parameters).
DEFAULT_BYTES = 2 * 10**9

_UNITS = {"": 10**6, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
          "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")


class OverBudget(Exception):
    """The model, as declared, needs more memory than the budget: the whole model is not built."""


def parse_size(text: str) -> int:
    """``2GB``, ``512MB``, ``1.5 GiB`` or a plain number of megabytes, as bytes; ValueError
    (one line) for anything else."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"'{text}' is not a size (write 2GB, 512MB, 1.5GiB, or a number of megabytes)")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 10**6:
        raise ValueError(f"'{text}' is under 1 MB")
    return size


def size_text(nbytes: float) -> str:
    """``6.4 GB``: decimal units, two significant digits at most."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(nbytes)} bytes"


@dataclass(frozen=True)
class Budget:
    limit: int = DEFAULT_BYTES  # bytes
    batch: int = 8  # the batch the measurements run at

    def check(self, nbytes: float, what: str) -> None:
        """OverBudget when ``nbytes`` of ``what`` (``parameters``, ``activations``, ...) exceed it."""
        if nbytes > self.limit:
            raise OverBudget(f"the model needs about {size_text(nbytes)} of {what}, over the "
                             f"{size_text(self.limit)} --trace-memory budget")


def product(sizes) -> int:
    total = 1
    for size in sizes:
        total *= max(int(size), 0)
    return total
