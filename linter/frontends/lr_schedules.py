"""Learning-rate schedules that set the lr themselves, so an optimizer's constructor lr is not the
one training uses: a schedule function returning the lr (Keras ``LearningRateScheduler``), torch's
``LambdaLR``, ``OneCycleLR`` and ``CyclicLR`` (which take ``max_lr``), a loop assigning
``param_groups[i]["lr"]``, and learning-rate finders.

A schedule is a *sweep* (a learning-rate range test) when its function raises a power or an
exponential of the epoch: the lrs that the rest of the file uses may be read off that sweep.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst
from nnlint.cst_walk import walk
from nnlint.frontends.names import dotted
from nnlint.ir import Origin

#: torch schedulers whose lr is not the optimizer's: the key names their peak argument, if any
TORCH_OVERRIDES = {
    "torch.optim.lr_scheduler.LambdaLR": None,
    "torch.optim.lr_scheduler.OneCycleLR": ("max_lr", 1),
    "torch.optim.lr_scheduler.CyclicLR": ("max_lr", 2),
}

#: called names (lowercase, no underscores) of learning-rate finders: torch-lr-finder, fastai, Lightning
_FINDERS = {"lrfinder", "lrfind", "findlr", "lrrangetest"}


def record(optimizers: Optional[list], how: str, origin: Origin, sweep: bool, max_lr: Any = None) -> dict:
    """A schedule's entry in the program; ``optimizers`` None: it is not known which it drives."""
    return {"optimizers": optimizers, "how": how, "origin": origin, "sweep": sweep, "max_lr": max_lr}


class Schedule:
    """A schedule object not yet tied to its optimizer (a Keras callback, until ``fit`` gets it)."""

    def __init__(self, entry: dict) -> None:
        self.entry = entry

    def drives(self, optimizers: list[dict]) -> None:
        if self.entry["optimizers"] is None:
            self.entry["optimizers"] = []
        self.entry["optimizers"].extend(optimizers)


def is_finder(node: cst.Call) -> bool:
    func = node.func  # the callee's last name is enough, and cheap: this runs on every call
    last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    return last.replace("_", "").lower() in _FINDERS


def function_node(value: Any, node: cst.Call, index: int, keyword: str) -> Optional[cst.CSTNode]:
    """The lambda or def passed as argument ``index`` / ``keyword`` of ``node``."""
    if hasattr(value, "node") and isinstance(value.node, cst.FunctionDef):
        return value.node
    args = [a for a in node.args if a.keyword is None]
    given = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == keyword), None)
    expr = given if given is not None else (args[index].value if len(args) > index else None)
    return expr if isinstance(expr, cst.Lambda) else None


def shape(fn: Optional[cst.CSTNode], lr_param: bool) -> tuple[bool, bool]:
    """(overrides, sweeps) for a schedule function. With ``lr_param`` the function receives the
    current lr as its second parameter: one that uses it scales the optimizer's lr, it does not
    override it. An unknown function overrides (we cannot say what it returns)."""
    if fn is None:
        return True, False
    params = [p.name.value for p in fn.params.params]
    body = fn.body
    names = _names(body)
    overrides = not (lr_param and len(params) > 1 and params[1] in names)
    sweeps = bool(params) and _grows(body, params[0])
    return overrides, sweeps


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in walk([node]) if isinstance(n, cst.Name)}


def _grows(body: cst.CSTNode, step: str) -> bool:
    """A power or an exponential whose exponent reads the step: ``1e-7 * 10 ** (epoch / 20)``."""
    for n in walk([body]):
        if isinstance(n, cst.BinaryOperation):
            if isinstance(n.operator, cst.Power) and step in _names(n.right):
                return True
        elif isinstance(n, cst.Call):
            name = (dotted(n.func) or "").rsplit(".", 1)[-1]
            if name in ("exp", "pow", "power") and any(step in _names(a.value) for a in n.args[-1:]):
                return True
    return False
