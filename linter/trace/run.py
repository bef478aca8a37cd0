"""``--trace``: rebuild the model each finding concerns, measure it once, let the check judge.

The lint runs first, in this process (the graphs it built are needed here). Then, for every
finding, the model it concerns is found (the finding's graph, the graph holding its op, the
model its message names, or the file's only model); each model is rebuilt once (from the IR,
or the ONNX graph as it is) and measured once (:mod:`nnlint.trace.measure`), taking what its
findings' checks read (``Check.measures``; everything for ``--report``), and the check's
``confirm`` turns the measurements into ``confirmed``, ``refuted`` or ``inconclusive`` with
one line of evidence. Imports torch: only ever loaded for ``--trace``.

Where a check states a remedy (``Check.remedy``), the model is also rebuilt with that remedy
applied and measured, when the check reads it: the verdict compares the two. Where the
measurement's precondition fails on the model as written (``Check.precondition``: no gradient,
a constant input), the other findings' remedies on the same model are applied to both, one at
a time and then all together, and the evidence names the one that restored it; when none
does, the verdict is inconclusive and names the cause. Each variant is built and measured
once per model, for all the findings that read it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch

from nnlint import files
from nnlint.check import Check, Subject
from nnlint.errors import UnreadableFile
from nnlint.ir import ModelGraph, Op, OpKind, Origin
from nnlint.trace import keras_build
from nnlint.trace.budget import DEFAULT_BYTES, Budget, OverBudget
from nnlint.trace.build import BuiltGraph, SharedLayers
from nnlint.trace.errors import CannotBuild, one_line
from nnlint.trace.evidence import Evidence, SampleSummary
from nnlint.trace.import_mode import ImportRequest, trace_by_import
from nnlint.trace.measure import measure, seed
from nnlint.trace.measurements import ALL, Measure
from nnlint.trace.records import ModelTrace, TracedFinding
from nnlint.trace.remedy import Remedy, redrawn_constant_inits, remedied
from nnlint.trace.stand_ins import STAND_IN
from nnlint.trace.verdict import INCONCLUSIVE, REFUTED, Verdict, inconclusive, unconfirmable

if TYPE_CHECKING:
    from nnlint.findings import Finding
    from nnlint.frontends.program import Program

#: A ``--sample`` file larger than this is not read (a batch of inputs, not a data set).
MAX_SAMPLE_BYTES = 256 * 1024 * 1024


#: Where no single other remedy restores a measurement, all of them are tried together (and
#: pruned to those needed) when a model has at most this many: each try is a rebuild.
MAX_JOINT_REMEDIES = 6


class TraceError(Exception):
    """A trace option that cannot be honoured (no CUDA, an unreadable sample): exit 2."""


@dataclass
class TraceOptions:
    device: Optional[str] = None  # "cuda", "cpu", "cuda:1"; None picks cuda when available
    sample: Optional[Path] = None
    hide_refuted: bool = False
    batch: int = 8
    import_code: bool = False  # --trace-import: import the classes the IR cannot rebuild
    report: bool = False  # --report: every measurement, for the charts, not only what findings need
    memory: int = DEFAULT_BYTES  # --trace-memory, bytes: a model declared bigger is not built
    #: ``[tool.nnlint.trace]`` as :class:`~nnlint.config.Settings` holds it, and where it was read
    settings: dict = field(default_factory=dict)
    config_root: Path = field(default_factory=Path.cwd)

    def model_setting(self, graph: ModelGraph) -> dict:
        """``[tool.nnlint.trace.models]`` for a class: ``"path/file.py:Net"`` first, then ``"Net"``."""
        models = self.settings.get("models", {})
        try:
            where = Path(graph.path).resolve().relative_to(self.config_root.resolve()).as_posix()
        except ValueError:
            where = None
        return models.get(f"{where}:{graph.name}") or models.get(graph.name) or {}


@dataclass
class _Model:
    trace: Optional[ModelTrace]
    why_no_trace: Optional[str]
    broken: dict[int, str]
    caveats: dict[int, str]
    #: op id -> a size the code leaves unknown and the trace stood in for ("in_features unknown:
    #: traced with 32"); a finding on that op depends on it and stays inconclusive
    stand_ins: dict[int, str] = field(default_factory=dict)
    #: ops whose own argument is a stand-in (a dropout rate fed at run time): every finding on
    #: them depends on it, whatever the check reads
    own_stand_ins: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # what holds for every finding (the part traced)
    #: the graph as traced where it differs from the IR's: training code with the models it calls
    #: run in place of the calls (:mod:`nnlint.trace.model_calls`); the op ids of the IR's graph
    #: are its own
    graph: Optional[ModelGraph] = None
    #: op id -> the names of the arguments stood in for (``Check.reads_size_of`` weighs them)
    stood_fields: dict[int, frozenset[str]] = field(default_factory=dict)


def resolve_device(name: Optional[str]) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise TraceError(f"--device {name!r} is not a torch device (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TraceError(f"--device {name}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise TraceError(f"--device {name}: only cpu and cuda are supported")
    return device


def trace_findings(findings: list["Finding"], subjects: dict[tuple, tuple[Check, Subject]],
                   options: TraceOptions) -> tuple[list["Finding"], list[ModelTrace]]:
    """The findings with their ``trace`` filled in, and the measured models (for the report)."""
    device = resolve_device(options.device)
    sample, sample_tensor = load_sample(options.sample, options.memory) if options.sample else (None, None)
    located = [_locate(finding, subjects) for finding in findings]
    needs: dict[int, set[Measure]] = {}  # id(graph) -> what its findings' checks read
    for entry in located:
        if entry is not None and entry[2] is not None and (entry[0].measures or options.report) \
                and _unmeasurable(entry[0], entry[1], options) is None:
            needs.setdefault(id(entry[2]), set()).update(ALL if options.report else entry[0].measures)
    models: dict[int, _Model] = {}
    remedies, model_remedies = _remedies(located, needs)
    shared = SharedLayers()  # a model's layers, lent to its remedies' variants
    variants = _Variants(device, options, sample_tensor, needs, shared)
    for entry in located:  # the model a finding on the training code trains, for the report
        trained = _trained(entry[1], entry[2]) if entry is not None and options.report else None
        if trained is not None and id(trained) not in models:
            models[id(trained)] = _trace_model(trained, entry[1].program, device, options, sample_tensor, ALL, shared)
    traced: list[Finding] = []
    alone: dict[tuple[int, int], Optional[_Model]] = {}  # (graph, op) -> the op traced on its own
    for index, (finding, entry) in enumerate(zip(findings, located)):
        if entry is None:  # an engine finding (syntax error, unreadable file): nothing to trace
            traced.append(finding)
            continue
        check, subject, graph, op = entry
        why = _unmeasurable(check, subject, options)
        if why is not None:  # nothing to build a model for
            traced.append(finding.replace(trace=inconclusive(why).as_json(device.type)))
            continue
        model = None
        if graph is not None and id(graph) in needs:
            if id(graph) not in models:
                models[id(graph)] = _trace_model(graph, subject.program, device, options, sample_tensor,
                                                 frozenset(needs[id(graph)]), shared)
            model = models[id(graph)]
            unmeasured = model.trace is None or op is None or op.id not in model.trace.layers
            if unmeasured and op is not None and check.measures <= _LOCAL:
                key = (id(graph), op.id)  # the model is not rebuilt: a local measurement needs only the op
                if key not in alone:
                    why = model.why_no_trace or _why_not_run(model, graph, op) or (model.trace.problem if model.trace else None)
                    alone[key] = _trace_alone(graph, op, why, device, options)
                model = alone[key] or model
        evidence = Evidence(
            trace=model.trace if model else None, op=op, graph=(model.graph if model else None) or graph,
            fields=subject.fields, sample=sample,
            why_no_trace=model.why_no_trace if model else "no model could be tied to this finding",
            why_not_run=_why_not_run(model, graph, op),
            caveat=model.caveats.get(op.id) if model and op is not None else None,
        )
        mine = remedies.get(index)
        if model is not None and variants.can_vary(graph, model, mine):
            evidence.remedy = mine
            evidence.variant = variants.varied(graph, (), check.measures)
            others = [r for r in model_remedies.get(id(graph), []) if mine is None or r.key != mine.key]
            verdict = _judge_with_remedies(check, evidence, variants, others, graph)
        else:
            verdict = _judge(check, evidence)
        verdict = _with_stand_ins(verdict, model, op, check, subject.fields)
        shown = _shown_on(graph, op, subject, models) or model
        if shown is not None and shown.trace is not None:
            inside = op is not None and graph is not None and graph.is_model and graph.ops.get(op.id) is op
            place = None if inside or op is None else f"{_outside(graph)}, line {finding.line}"
            shown.trace.findings.append(TracedFinding(
                finding.code, finding.name, finding.severity.value, finding.message, finding.line,
                op.id if inside else None, verdict.status, verdict.evidence, place))
        if options.hide_refuted and verdict.status == REFUTED:
            continue
        traced.append(finding.replace(trace=verdict.as_json(device.type if check.traceable else None)))
    # a graph of training code traced for its finding, shown with the model it trains instead, has no section
    return traced, [m.trace for m in models.values() if m.trace is not None and m.trace.findings]


def _unmeasurable(check: Check, subject: Subject, options: TraceOptions) -> Optional[str]:
    """Why the finding cannot be measured whatever its model (:meth:`Check.unmeasurable`);
    never with ``--trace-import``, where the user's own class, built with the arguments the
    settings give it, has the value."""
    return None if options.import_code else check.unmeasurable(subject.fields)


def _remedies(located: list, needs: dict[int, set[Measure]]) -> tuple[dict[int, Remedy], dict[int, list[Remedy]]]:
    """Each traced finding's remedy by its position in ``located``, and every remedy stated for a
    model by ``id(graph)`` (those another finding on the model may need)."""
    by_finding: dict[int, Remedy] = {}
    by_model: dict[int, list[Remedy]] = {}
    for index, entry in enumerate(located):
        if entry is None or entry[2] is None or id(entry[2]) not in needs or not entry[0].measures:
            continue
        check, subject, graph, op = entry
        try:
            remedy = check.remedy(graph, op, subject.fields)
        except Exception:  # a bug in a remedy must not lose the finding: it is judged as written
            remedy = None
        if remedy is not None:
            by_finding[index] = remedy
            known = by_model.setdefault(id(graph), [])
            if all(r.key != remedy.key for r in known):
                known.append(remedy)
    return by_finding, by_model


class _Variants:
    """The model with some remedies applied, rebuilt and measured once per set of remedies."""

    def __init__(self, device: torch.device, options: TraceOptions, sample: Optional[torch.Tensor],
                 needs: dict[int, set[Measure]], shared: SharedLayers) -> None:
        self.device, self.options, self.sample, self.needs, self.shared = device, options, sample, needs, shared
        self.cache: dict[tuple, Optional[ModelTrace]] = {}

    @staticmethod
    def can_vary(graph: Optional[ModelGraph], model: _Model, remedy: Optional[Remedy] = None) -> bool:
        """Remedies edit the IR: only a model rebuilt from it or an ONNX graph run from it (not an
        imported class) can be measured with them, and only where the remedy's edit changes what
        that model computes (:func:`fits`); with no remedy, a model rebuilt from PyTorch or TF1 source."""
        if graph is None or model.trace is None:
            return False
        if model.trace.built == "onnx":
            return remedy is not None and fits(remedy, graph)
        return model.trace.built == "rebuilt" and graph.artifact is None and \
            (fits(remedy, graph) if remedy is not None else not keras_build.is_keras(graph))

    def trace(self, graph: ModelGraph, remedies: tuple[Remedy, ...],
              needs: Optional[frozenset[Measure]] = None) -> Optional[ModelTrace]:
        """The model with ``remedies`` applied, measured for ``needs`` (a check's own measures;
        by default all its model's findings read), once per set of remedies and needs."""
        needs = frozenset(needs) if needs else frozenset(self.needs[id(graph)])
        key = (id(graph), frozenset(r.key for r in remedies), needs)
        wider = next((k for k in self.cache if k[:2] == key[:2] and k[2] >= needs), None)
        if wider is not None:  # measured for more already: every measurement is seeded alike
            return self.cache[wider]
        if key not in self.cache:
            setting = self.options.model_setting(graph)
            try:
                twin = remedied(graph, remedies)
            except Exception:  # an edit that does not fit this graph: no counterfactual
                self.cache[key] = None
                return None
            model = _rebuild(twin, self.device, Budget(self.options.memory, self.options.batch), self.sample,
                             setting.get("input_shape"), needs, self.shared)
            ok = model.trace is not None and not model.trace.problem and not model.trace.error
            self.cache[key] = model.trace if ok else None
        return self.cache[key]

    def lazily(self, graph: ModelGraph, remedies: tuple[Remedy, ...], needs: frozenset[Measure]):
        return lambda: self.trace(graph, remedies, needs)

    def varied(self, graph: ModelGraph, remedies: tuple[Remedy, ...], needs: frozenset[Measure]):
        """``Evidence.variant``: the model with ``remedies`` and the edits a check asks for."""
        return lambda edits: self.trace(graph, remedies + tuple(edits), needs)


def _judge_with_remedies(check: Check, evidence: Evidence, variants: _Variants, others: list[Remedy],
                         graph: ModelGraph) -> Verdict:
    """The verdict on the model as written against it with the finding's remedy; where the
    measurement's precondition fails, the same with other findings' remedies applied to both.
    ``graph`` is the IR's graph, which remedies edit (the evidence's may be the graph as traced)."""
    mine = (evidence.remedy,) if evidence.remedy is not None and evidence.remedy.edit is not None else ()
    if mine:
        evidence.remedied = variants.lazily(graph, mine, check.measures)
    try:
        cause = check.precondition(evidence) if evidence.missing(need_op=evidence.op is not None) is None else None
    except Exception as exc:
        return inconclusive(f"internal error while checking the trace ({type(exc).__name__}: {exc}); please report it")
    if cause is None:
        return _judge(check, evidence)
    helpers = [r for r in others if r.edit is not None and fits(r, graph)]

    def restored(extra: tuple[Remedy, ...]) -> Optional[Evidence]:
        trace = variants.trace(graph, extra, check.measures)
        if trace is None:
            return None
        again = dataclasses.replace(evidence, trace=trace, also_fixed=extra,
                                    variant=variants.varied(graph, extra, check.measures),
                                    remedied=variants.lazily(graph, extra + mine, check.measures) if mine else None)
        try:
            return again if check.precondition(again) is None else None
        except Exception:
            return None

    found = next((e for e in map(restored, [(r,) for r in helpers]) if e is not None), None)
    if found is None and 1 < len(helpers) <= MAX_JOINT_REMEDIES:
        found = restored(tuple(helpers))
        for remedy in helpers if found is not None else ():  # keep only the remedies it needs
            fewer = tuple(r for r in found.also_fixed if r is not remedy)
            found = restored(fewer) or found
    redraw = redrawn_constant_inits(graph) if found is None else None
    if redraw is not None and all(r.key != redraw.key for r in mine):
        found = restored((redraw,)) or (restored((*helpers, redraw)) if 0 < len(helpers) < MAX_JOINT_REMEDIES else None)
    if found is None:
        tried = " (no other finding's remedy restores it)" if helpers else ""
        return inconclusive(f"{cause}: the measurement cannot show the problem{tried}")
    verdict = _judge(check, found)
    named = " and ".join(r.named() for r in found.also_fixed)
    return Verdict(verdict.status, f"with {named}, {verdict.evidence}")


def fits(remedy: Remedy, graph: ModelGraph) -> bool:
    """The remedy's edit changes what this model, rebuilt, computes: any edit of a model rebuilt
    from source; for an ONNX graph a value its nodes read; for a Keras model its inputs or a
    Keras layer's own argument."""
    if graph.artifact is not None:
        return remedy.onnx
    return remedy.inputs_only or remedy.keras or not keras_build.is_keras(graph)


def _with_stand_ins(verdict: Verdict, model: Optional[_Model], op: Optional[Op], check: Check, fields: dict) -> Verdict:
    """A verdict measured with stand-ins says which; a finding on a layer whose own size was
    stood in is inconclusive where the check's measurement depends on that size."""
    if model is None or model.trace is None:
        return verdict
    if op is not None and op.id in model.stand_ins and (
            check.reads_size_of(fields, model.stood_fields.get(op.id, frozenset())) or op.id in model.own_stand_ins):
        return inconclusive(f"{model.stand_ins[op.id]}, and the finding depends on that layer's sizes")
    if verdict.status == INCONCLUSIVE:
        return verdict
    said = list(dict.fromkeys([*model.notes, *model.stand_ins.values()]))  # each said once
    return Verdict(verdict.status, f"{verdict.evidence} ({'; '.join(said)})") if said else verdict


def _trained(subject: Subject, graph: Optional[ModelGraph]) -> Optional[ModelGraph]:
    """The model that training code (a graph that is not a model: a loop, a module) trains."""
    if graph is None or graph.is_model or graph.artifact is not None:
        return None
    if subject.graph is not None and subject.graph.is_model:
        return subject.graph
    return subject.program.single_model() if subject.program is not None else None


def _outside(graph: Optional[ModelGraph]) -> str:
    """What the code of a finding outside the model is: training code where it calls a model
    (a loop feeding its output to the loss), else a helper of its own (a softmax function)."""
    calls = graph is not None and any("model_call" in op.attrs for op in graph.ops.values())
    return "training code" if calls else "code outside the model"


def _shown_on(graph: Optional[ModelGraph], op: Optional[Op], subject: Subject, models: dict) -> Optional[_Model]:
    """The traced model a finding on training code is shown with in the report (None: its own)."""
    trained = _trained(subject, graph)
    return models.get(id(trained)) if trained is not None and op is not None else None


def _why_not_run(model: Optional[_Model], graph: Optional[ModelGraph], op: Optional[Op]) -> Optional[str]:
    """Why the finding's op, or for a finding about the whole model its output, was not run."""
    if model is None or graph is None:
        return None
    if op is not None:
        return model.broken.get(op.id) or _broken_upstream(model, graph, op)
    return next((model.broken[i] for i in graph.outputs if i in model.broken), None)


def _broken_upstream(model: _Model, graph: ModelGraph, op: Op) -> Optional[str]:
    """Why an op feeding ``op`` was not run, where ``op`` itself records no reason (a dropout
    after a layer the trace does not rebuild)."""
    broken = graph.walk_backward(op, lambda o: not model.broken.get(o.id))
    return model.broken[broken[0].id] if broken else None


def _locate(finding: "Finding", subjects: dict[tuple, tuple[Check, Subject]]) -> Optional[tuple]:
    """(check, subject, graph, op) of a check's finding; None for the engine's own findings."""
    entry = subjects.get(finding.subject_key())
    return None if entry is None else (*entry, *locate(entry[1]))


def _judge(check: Check, evidence: Evidence) -> Verdict:
    if not check.traceable:
        return unconfirmable(check)
    try:
        return check.confirm(evidence)
    except Exception as exc:  # a bug in a confirmation must not lose the finding
        return inconclusive(f"internal error while confirming ({type(exc).__name__}: {exc}); please report it")


def locate(subject: Subject) -> tuple[Optional[ModelGraph], Optional[Op]]:
    """The graph and op a finding concerns, from what its check knew."""
    op = subject.op
    graphs = list(subject.program.graphs) if subject.program is not None else []
    if op is None:  # reported at a place in the code: the op built there, if any
        op = _built_at(graphs, subject.origin)
    if op is not None:
        home = next((g for g in graphs if g.ops.get(op.id) is op), subject.graph)
        return home, op
    if subject.graph is not None:
        return subject.graph, None
    named = subject.fields.get("model")
    chosen = next((g for g in graphs if g.is_model and named is not None and g.name == named), None)
    return chosen or _declaring(graphs, subject.origin) or (
        subject.program.single_model() if subject.program is not None else None), None


def _built_at(graphs: list[ModelGraph], origin: Origin) -> Optional[Op]:
    """The op made at ``origin``: the one built by that source node, or for a graph file
    (ONNX) the op of that graph node, whose label is the node's name (an input's label is
    the input's name: only the ops of nodes count)."""
    node, graph_node = origin.node, origin.graph_node
    if node is not None:
        return next((o for g in graphs for o in g.ops.values() if o.origin is not None
                     and o.origin.node is node and o.origin.path == origin.path), None)
    if graph_node is None:
        return None
    return next((o for g in graphs if g.path == origin.path for o in g.ops.values()
                 if o.label == graph_node and o.kind is not OpKind.INPUT), None)


def _declaring(graphs: list[ModelGraph], origin: Origin) -> Optional[ModelGraph]:
    """The one model whose training setup (optimizer, loss, data) was declared at ``origin``
    (``model.compile(optimizer=...)``, ``model.fit(batch_size=...)``)."""
    if origin.node is None:
        return None
    found = [g for g in graphs if g.is_model and any(
        isinstance(record.get("origin"), Origin) and record["origin"].node is origin.node
        for record in (*g.setup.optimizers, *g.setup.losses, *g.setup.loaders))]
    return found[0] if len(found) == 1 else None


def _trace_model(graph: ModelGraph, program: Optional["Program"], device: torch.device, options: TraceOptions,
                 sample: Optional[torch.Tensor], needs: frozenset[Measure], shared: Optional[SharedLayers] = None) -> _Model:
    """The rebuilt model measured; with ``--trace-import``, the user's own class instead where
    the rebuild is not faithful (and the import works)."""
    setting = options.model_setting(graph)
    model = _rebuild(graph, device, Budget(options.memory, options.batch), sample, setting.get("input_shape"), needs,
                     shared)
    faithful = model.trace is not None and not (model.broken or model.trace.problem or model.trace.error)
    if not options.import_code or faithful or graph.artifact is not None or program is None:
        return model
    why_not = _not_importable(graph, program)
    if why_not is None:
        imported = trace_by_import(_request(graph, program, device, options, setting, needs),
                                   options.settings.get("import_timeout", 120.0))
        if imported.trace is not None:
            return _Model(imported.trace, None, imported.broken, {})
        why_not = imported.error
    if model.trace is None:
        return _Model(None, f"{model.why_no_trace}; {why_not}", {}, {})
    model.broken = {op_id: f"{why}; {why_not}" for op_id, why in model.broken.items()}
    for field_name in ("problem", "error"):  # whichever says why the rebuild falls short
        if getattr(model.trace, field_name):
            setattr(model.trace, field_name, f"{getattr(model.trace, field_name)}; {why_not}")
    return model


def _rebuild(graph: ModelGraph, device: torch.device, budget: Budget, sample: Optional[torch.Tensor],
             input_shape: Optional[list], needs: frozenset[Measure], shared: Optional[SharedLayers] = None) -> _Model:
    """The model rebuilt and measured. torch's warnings about the user's calls (an implicit
    softmax dimension, a lazy module) are not nnlint's output: they are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _rebuild_quietly(graph, device, budget, sample, input_shape, needs, shared)


def _rebuild_quietly(graph: ModelGraph, device: torch.device, budget: Budget, sample: Optional[torch.Tensor],
                     input_shape: Optional[list], needs: frozenset[Measure], shared: Optional[SharedLayers]) -> _Model:
    seed(device, 0)  # the layers' default initialisation: the same model, the same verdicts
    batch = budget.batch
    try:
        if graph.artifact is not None:
            from nnlint.trace.onnx_model import OnnxGraph

            built = OnnxGraph(graph, device, batch, budget)
        else:
            built = BuiltGraph(graph, device, input_shape, budget, shared)
    except CannotBuild as exc:
        return _Model(None, f"the model could not be rebuilt: {exc}", {}, {})
    except OverBudget as exc:
        return _Model(None, f"the model was not built: {exc}", {}, {})
    except Exception as exc:  # a bug in the builder must not lose the findings
        return _Model(None, f"internal error while rebuilding the model ({type(exc).__name__}: {exc}); "
                            "please report it", {}, {})
    trace = measure(built, built.graph, device, batch, sample, needs)  # the builder's graph: fed inputs added
    for op_id in (*built.broken, *getattr(built, "fed", ())):  # stood in for by random inputs: not their values
        trace.layers.pop(op_id, None)
    trace.built = "onnx" if graph.artifact is not None else "rebuilt"
    inlined = getattr(built, "inlined", graph)
    return _Model(trace, None, dict(built.broken), dict(built.init_notes), dict(getattr(built, "stand_ins", {})),
                  set(getattr(built, "own_stand_ins", ())), list(getattr(built, "notes", [])),
                  inlined if inlined is not graph else None,
                  {op_id: frozenset(names) for op_id, names in getattr(built, "stood_fields", {}).items()})


#: measurements of one op on an input of the trace's choosing (a dropout on all-ones): they need
#: nothing from the rest of the model
_LOCAL = frozenset({Measure.DROPOUT})


def _trace_alone(graph: ModelGraph, op: Op, why: Optional[str], device: torch.device,
                 options: TraceOptions) -> Optional[_Model]:
    """A dropout of constant rate measured on its own, fed a stand-in input, where the model
    around it cannot be rebuilt (an input size only known at run time, an unknown backbone, a
    recurrent layer): the share of units it zeroes does not depend on the rest. The dropout a
    recurrent or attention layer applies inside (``nn.LSTM(..., dropout=0.8)``) is measured as
    a ``Dropout`` of its rate. None for any other op."""
    if graph.ops.get(op.id) is not op or graph.artifact is not None:
        return None
    inner = op.kind is not OpKind.DROPOUT
    rate = op.attrs.get("dropout" if inner else "p")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        return None
    layers = op.attrs.get("num_layers", 1)
    if inner and op.kind is OpKind.RNN and not (isinstance(layers, int) and layers > 1):
        return None  # one layer (or a number only the run has): PyTorch applies no dropout between layers
    source = Op(max(graph.ops) + 1, OpKind.INPUT, "input", label="input")
    alone = Op(op.id, OpKind.DROPOUT, "torch.nn.Dropout", {"p": rate, "call": ([rate], {})}, [source.id], op.origin,
               op.label) if inner else dataclasses.replace(op, inputs=[source.id])
    solo = dataclasses.replace(graph, ops={source.id: source, op.id: alone},
                               inputs=[source.id], outputs=[op.id], is_model=False, _consumers=None, _by_kind=None)
    model = _rebuild(solo, device, Budget(options.memory, options.batch), None, [STAND_IN],
                     frozenset({Measure.DROPOUT}))
    if model.trace is None or model.trace.problem or model.trace.error:
        return None
    reason = (why or "").removeprefix("the model could not be rebuilt: ").removeprefix("the model was not built: ") \
        or f"{op.describe()} is applied to a value the trace does not have"
    what = f"the dropout inside {op.describe()}, as a Dropout(p={rate:g})," if inner else op.describe()
    model.notes.append(f"the model is not rebuilt ({reason}): {what} measured alone, on {STAND_IN} units")
    return model


def _not_importable(graph: ModelGraph, program: "Program") -> Optional[str]:
    """Why ``--trace-import`` cannot help with this graph, checked before starting Python."""
    if keras_build.is_keras(graph):
        return "--trace-import traces PyTorch classes only (not Keras models)"
    if Path(graph.path).suffix.lower() == ".ipynb" or Path(program.path).suffix.lower() == ".ipynb":
        return "--trace-import cannot import from a notebook"
    if not graph.is_model or not _defines_class(Path(graph.path), graph.name):
        return f"--trace-import imports model classes, and {graph.name} is not one (a model built in place)"
    return None


def _defines_class(path: Path, name: str) -> bool:
    """``class Name`` at the top level of the file the graph was read from."""
    from nnlint.source import MAX_BYTES

    try:  # through nnlint.files, as the analysis read it
        text = files.read_bytes(path, MAX_BYTES).decode("utf-8", errors="replace")
    except (OSError, UnreadableFile):
        return False
    return re.search(rf"^class\s+{re.escape(name)}\b", text, re.MULTILINE) is not None


def _request(graph: ModelGraph, program: "Program", device: torch.device, options: TraceOptions,
             setting: dict, needs: frozenset[Measure]) -> ImportRequest:
    return ImportRequest(
        file=str(Path(program.path).resolve()), shown=program.path, graph=graph.name,
        graph_index=program.graphs.index(graph), op_count=len(graph.ops), task=graph.setup.task,
        args=list(setting.get("args", [])), kwargs=dict(setting.get("kwargs", {})),
        input_shape=setting.get("input_shape"), device=str(device), batch=options.batch,
        sample=str(options.sample.resolve()) if options.sample else None,
        memory_mb=options.settings.get("import_memory", 4096), measures=sorted(need.value for need in needs),
    )


def load_sample(path: Path, limit: int = DEFAULT_BYTES) -> tuple[SampleSummary, torch.Tensor]:
    """An ``.npy`` array, or the first array of an ``.npz`` (``x``/``X``/``inputs`` first when
    present), refused before loading when its declared size exceeds ``limit`` bytes
    (:mod:`nnlint.trace.sample`). Never a pickle: object arrays are refused from the header."""
    import numpy as np

    from nnlint.trace.sample import SampleRefused, read_array

    if path.suffix not in (".npy", ".npz"):
        raise TraceError(f"--sample {path}: only .npy and .npz files are read (never pickles)")
    try:  # named on the command line: it may lie anywhere, but must be a regular file of bounded size
        fd, _ = files.open_regular(path, MAX_SAMPLE_BYTES, (Path(Path(os.path.abspath(path)).anchor),))
    except UnreadableFile as exc:
        raise TraceError(f"--sample {path}: cannot read it ({exc})") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            array = read_array(handle, limit)
    except SampleRefused as exc:
        raise TraceError(f"--sample {path}: {exc}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise TraceError(f"--sample {path}: cannot read it ({one_line(exc)})") from None
    if array.dtype.kind not in "biuf" or array.ndim == 0 or array.size == 0:
        raise TraceError(f"--sample {path}: expected a non-empty numeric array, got {array.dtype} {array.shape}")
    values = array.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise TraceError(f"--sample {path}: no finite values")
    summary = SampleSummary(
        name=path.name, shape=tuple(array.shape), dtype=str(array.dtype), min=float(finite.min()),
        max=float(finite.max()), mean=float(finite.mean()), std=float(finite.std()),
        integral=bool(np.all(finite == np.round(finite))),
    )
    tensor = torch.from_numpy(np.ascontiguousarray(array.astype(np.float32)))
    return summary, tensor.reshape(tensor.shape[0], -1) if tensor.ndim == 1 else tensor
