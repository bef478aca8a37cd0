"""What the analysis of one file (with the project modules it imports) found.

``graphs`` holds every dataflow graph built: model graphs (``is_model``) and the tensor code
of plain functions. ``setup`` holds the training declarations that could not be tied to one
model; :meth:`Program.finish` ties them to the model when there is exactly one candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from nnlint.ir import ModelGraph, Origin, TrainingSetup


@dataclass
class Program:
    path: str
    graphs: list[ModelGraph] = field(default_factory=list)
    setup: TrainingSetup = field(default_factory=TrainingSetup)
    #: model graphs created by the code (``model = Net()``), as opposed to class definitions
    instantiated: list[ModelGraph] = field(default_factory=list)
    #: class name -> graph analysed from the class definition with its defaults
    class_graphs: dict[str, ModelGraph] = field(default_factory=dict)
    #: classes used inside another module: their graphs are not whole models
    submodule_classes: set[str] = field(default_factory=set)
    #: every layer constructed, used or not (for checks of constructor arguments)
    layers: list = field(default_factory=list)
    #: the code clips gradients (clip_grad_norm_/clip_grad_value_): large SGD steps are tamed
    clips_gradients: bool = False
    #: training runs on one batch only (a smoke test or bug report: Trainer(fast_dev_run=True),
    #: limit_train_batches=1 with max_epochs=1): the order of batches cannot matter
    one_batch: bool = False
    #: optimizer steps after backward() in code that never clears gradients: {"origin", "optimizer"}
    uncleared_steps: list[dict] = field(default_factory=list)
    #: models with dropout/batch norm called under no_grad in training mode: {"origin", "model", "layers"}
    train_mode_evaluations: list[dict] = field(default_factory=list)
    #: L2 penalties declared on layers (Keras kernel_regularizer): {"origin", "l2", "layer"}
    regularizers: list[dict] = field(default_factory=list)
    #: tasks of the losses the code constructs, used or not (a hint for graphs linted beside it)
    declared_tasks: set[str] = field(default_factory=set)
    #: raw-scale data reaching a model or a data set: {"what", "origin", "sink", "at", "model" (or None)}
    raw_inputs: list[dict] = field(default_factory=list)
    #: the code shows some sign of training (a loss, an optimizer, backward, fit, a model handed
    #: to code nnlint does not follow), or the analysis gave up somewhere: it may train
    trains: bool = False
    #: schedules that set the lr themselves (frontends.lr_schedules.record)
    lr_schedules: list[dict] = field(default_factory=list)

    def lr_schedule_of(self, optimizer: dict) -> Optional[dict]:
        """The schedule that overrides this optimizer's lr, if any (one that names no optimizer
        may drive any of them)."""
        for schedule in self.lr_schedules:
            if schedule["optimizers"] is None or any(o is optimizer for o in schedule["optimizers"]):
                return schedule
        return None

    def optimizers(self) -> list[dict]:
        """Every optimizer declared in the file, on a model or not, once each."""
        found, seen = [], set()
        for setup in [self.setup, *(g.setup for g in self.models())]:
            for record in setup.optimizers:
                if id(record) not in seen:
                    seen.add(id(record))
                    found.append(record)
        return found

    def models(self) -> list[ModelGraph]:
        return [g for g in self.graphs if g.is_model]

    def candidates(self) -> list[ModelGraph]:
        """The models the training code in this file most plausibly trains."""
        if self.instantiated:
            return self.instantiated
        return [g for name, g in self.class_graphs.items() if name not in self.submodule_classes]

    def single_model(self) -> Optional[ModelGraph]:
        found = self.candidates()
        return found[0] if len(found) == 1 else None

    def finish(self, task: Optional[str]) -> None:
        """Mark submodule graphs, tie unattached declarations to the only model, if any, and
        give a model fed a published table that table's width."""
        for graph in self.models():
            # a class built inside another module is a part, unless the training code builds it alone
            graph.top_level = graph.name not in self.submodule_classes or (
                graph in self.instantiated and graph is not self.class_graphs.get(graph.name)
            )
        only = self.single_model()
        if only is not None:
            for mine, theirs in ((only.setup.losses, self.setup.losses), (only.setup.optimizers, self.setup.optimizers),
                                 (only.setup.loaders, self.setup.loaders)):
                mine.extend(record for record in theirs if all(record is not m for m in mine))
        for graph in self.models():
            graph.setup.task = task or graph.setup.loss_task()
        if not self.trains:
            for graph in self.instantiated:  # a class read from its definition may be trained by its importers
                graph.setup.trained = False
        self._table_widths()

    def _table_widths(self) -> None:
        """A model fed a published table (a raw-input flow whose range is given per column)
        reads as many features as the table has columns: its one input records that width
        (``data_width``), which --trace gives it where the code leaves the input size to run
        time (``Dense(64, input_shape=(X.shape[1],))``, ``nn.Linear(X.shape[1], 64)``)."""
        for flow in self.raw_inputs:
            model, bounds = flow.get("model"), flow.get("range")
            if model is not None and bounds is not None and isinstance(bounds[0], (list, tuple)) and len(model.inputs) == 1:
                model.ops[model.inputs[0]].attrs.setdefault("data_width", len(bounds[0]))


def loss_record(qualname: str, task: str, origin: Origin) -> dict:
    return {"type_name": qualname, "task": task, "origin": origin}


_EVAL_WORDS = ("test", "val", "eval", "valid", "infer", "predict")


def is_training_loader(loader: dict) -> Optional[bool]:
    """Whether a loader record feeds training: True, False, or None when the code does not say."""
    name = loader["name"].lower()
    train = getattr(loader["dataset"], "train", None)  # a torchvision data set's train flag
    if any(word in name for word in _EVAL_WORDS) or train is False:
        return False
    if loader["shuffle"] is True or "train" in name or train is True or loader.get("trains"):
        return True
    return None


def trains_by_code(loader: dict) -> bool:
    """The code itself says the loader feeds training (a loop over it runs backward(), a data
    set's train=True, shuffle=True), not only its name: a finding can rest on it."""
    return bool(loader.get("trains") or getattr(loader["dataset"], "train", None) is True or loader["shuffle"] is True)
