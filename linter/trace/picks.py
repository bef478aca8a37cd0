"""Selections by an index known only at run time, traced over every value they could pick.

Policy-gradient and Q-learning code picks one value per row of what a model returns:
``probs.gather(1, actions)``, ``probs[action]``, ``probs[range(n), actions]``. The actions come
from the environment, so the trace cannot have them. Which value the run picks is unknown, but
it is one of the input's: so the pick is traced as all of them. A measurement of the picked
values then speaks for every choice of index: an underflow among them is one some action meets
(the code's log of it goes to -inf), and none among them means no pick can meet one, so a
verdict either way is sound, where a random index could pick around the problem. What follows
the pick sees more values than the code's, along the picked axis; broadcasting or a reduction
there may differ, and an op that no longer fits is not run (its findings say so).
"""

from __future__ import annotations

from typing import Callable

import torch

from nnlint.frontends.torch_api import SELECTIONS
from nnlint.ir import Op

Step = Callable[[list[torch.Tensor]], torch.Tensor]


def every_candidate(op: Op) -> tuple[Step, str]:
    """The step passing the whole input on, and what the evidence says."""
    if op.attrs.get("each_row"):
        return (lambda xs: xs[0]), "a loop over a tensor's rows traced over all of them at once"
    return (lambda xs: xs[0]), f"{op.describe()} picks by an index known only at run time: traced over every value it could pick"


def is_selection(op: Op) -> bool:
    """``gather``, ``torch.gather``, ``index_select``, ``take``..., a subscript the analysis saw
    pick by a tensor (``attrs["picks"]``), or a loop's row of a tensor (``attrs["each_row"]``:
    ``for dist in dists``, whose body runs on every row)."""
    return op.type_name.rsplit(".", 1)[-1] in SELECTIONS or bool(op.attrs.get("picks") or op.attrs.get("each_row"))
