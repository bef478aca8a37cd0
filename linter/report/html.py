"""``--report trace.html``: one self-contained page of what ``--trace`` measured.

The page is read offline, often as a CI artifact of an untrusted pull request, so it has no
scripts, no external fonts or images, and every string from the trace is escaped (the inline
SVG must also stay well-formed XML). Values a chart cannot place (None, NaN, Inf, zero or
negative on a log axis) are marked and listed, never dropped silently: they are usually the bug.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from nnlint.trace.records import Histogram, LayerRecord, ModelTrace, TracedFinding
from nnlint.trace.verdict import HEALTHY_STD, HEALTHY_UPDATE

STD_BAND = HEALTHY_STD  # training-mode activation std that neither vanishes nor explodes
RATIO_BAND = HEALTHY_UPDATE  # update / weight per step: learning, but not thrashing
MAX_X_LABELS = 48  # past this many layers only every k-th name is written under a chart
MAX_LABEL = 60  # characters of a layer's name written under a chart (its tooltip has it all)
_CHAR_W = 6.4  # px per character of an 11px axis label (a generous average, so none is cut)
_LABEL_ANGLE = math.radians(50)  # the axis labels' slant
AXIS_DECADES = (-12, 12)  # a log axis never spans more, so one 1e300 cannot flatten the band
MAX_NOTE_NAMES = 12  # names listed in a chart's "not drawn" note before "and N more"
STATUSES = ("confirmed", "refuted", "inconclusive")
_SEVERITIES = ("error", "warning", "info")
_FLAGGED = ' class="flagged"'  # the attribute on a table row of a layer with findings
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 1100, 380, 64, 96, 34, 112  # chart geometry (px)

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;
 margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:24px}h2{font-size:20px;border-bottom:2px solid #cbd5e0;padding-bottom:4px;margin-top:40px}
h3{font-size:16px;margin:24px 0 6px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #e2e8f0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#edf2f7}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.flagged td{background:#fffbea}tr.flagged td:first-child{box-shadow:inset 4px 0 #dd6b20}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 color:#fff;background:#718096;white-space:nowrap}
.badge.confirmed,.badge.error{background:#c53030}.badge.refuted{background:#2f855a}
.badge.inconclusive,.badge.warning{background:#b7791f}.badge.info{background:#2b6cb0}
.alert{border:2px solid #c53030;background:#fff5f5;padding:8px 12px;border-radius:6px;margin:8px 0}
.note{color:#4a5568;font-size:13px;margin:2px 0 8px}.warn{color:#c05621;font-weight:600}
.bad{color:#c53030;font-weight:600}code,.code{font-family:ui-monospace,Menlo,Consolas,monospace}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{font-weight:600;color:#4a5568}dl.meta dd{margin:0;overflow-wrap:anywhere}
td.msg{max-width:380px;overflow-wrap:anywhere}
.grid{display:flex;flex-wrap:wrap;gap:8px}
figure.hist{margin:0;border:1px solid #e2e8f0;border-radius:4px;padding:4px 6px;width:200px}
figure.hist.flagged{border:2px solid #dd6b20}
figure.hist figcaption{font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
svg text{font-family:system-ui,sans-serif}svg.chart{width:100%;height:auto;max-width:1100px}
svg .band{fill:#38a169;fill-opacity:.16;stroke:#38a169;stroke-opacity:.5;stroke-dasharray:4 3}
svg .grid{stroke:#e2e8f0}svg .axis{fill:none;stroke:#4a5568}svg .line{fill:none;stroke:#a0aec0}
svg .ok{fill:#2b6cb0}svg .out{fill:#dd6b20}svg .cross{fill:#c53030;font-weight:700}
svg .ring{fill:none;stroke:#c53030;stroke-width:2}svg .fcode{fill:#c53030;font-size:11px;font-weight:700}
svg .tick{fill:#4a5568;font-size:11px}svg .bars{fill:#4a5568}
"""


def render(traces: list[ModelTrace], title: str = "nnlint trace") -> str:
    """The whole page: a table of contents when there is more than one model, then a section each."""
    toc = _toc(traces) if len(traces) > 1 else ""
    body = "".join(_section(t, f"model-{i}") for i, t in enumerate(traces))
    if not traces:
        body = '<p class="note">No models were traced.</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{_esc(title)}</h1>{toc}{body}</body></html>\n"
    )


# --- values -----------------------------------------------------------------------------------


def _esc(value: object) -> str:
    """Escape data for HTML text, attributes and inline SVG; characters XML forbids become U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", str(value)), quote=True)


def _float(value: object) -> float | None:
    """The value as a float, or None: the trace JSON comes back from code we do not trust."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def _plain(x: float | None, percent: bool = False) -> str:
    """A number as plain text (safe unescaped: digits, signs and the words NaN and Inf only)."""
    if x is None:
        return "—"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "−Inf"
    return f"{x:.1%}" if percent else f"{x:.3g}"


def _num(value: object, percent: bool = False) -> str:
    """A measurement for a table cell; missing and non-finite values become words, not errors."""
    x = _float(value)
    if value is not None and x is None:
        return _esc(value)
    text = _plain(x, percent)
    return text if x is None or math.isfinite(x) else f'<span class="bad">{text}</span>'


def _loggable(value: object) -> tuple[float | None, str]:
    """The value if a log axis can place it, else None and the reason the chart's note gives."""
    x = _float(value)
    if value is None or x is None:
        return None, "not measured"
    if math.isnan(x) or math.isinf(x) or x <= 0:
        return None, _plain(x)
    return x, ""


def _short(name: str, width: int = MAX_LABEL) -> str:
    """Axis labels keep the end of names longer than any real layer path: ``…block7.conv2``
    tells layers apart, a prefix does not. The chart's margins grow to fit the rest whole."""
    return name if len(name) <= width else "…" + name[1 - width:]


def _model_name(trace: ModelTrace) -> str:
    """``house_prices.py: Regressor``: the file and the class (a graph of code outside any
    class, the file alone), so two models of one name in two files are told apart."""
    file = re.split(r"[/\\]", str(trace.path))[-1]
    model = str(trace.model)
    if not file or model == file:
        return model
    return file if model.startswith("<") else f"{file}: {model}"


# --- page parts -------------------------------------------------------------------------------


def _toc(traces: Sequence[ModelTrace]) -> str:
    """Links to each model's section, with its finding counts, so a long page can be navigated."""
    items = "".join(
        f'<li><a href="#model-{i}">{_esc(_model_name(t))}</a> {_status_counts(t.findings)}</li>'
        for i, t in enumerate(traces)
    )
    return f"<nav><h3>Models</h3><ol>{items}</ol></nav>"


def _badge(kind: str, allowed: Sequence[str], text: str = "") -> str:
    """A coloured label; the CSS class comes from a fixed list so data can never add classes."""
    cls = kind if kind in allowed else "other"
    return f'<span class="badge {cls}">{text}{_esc(kind)}</span>'


def _status_counts(findings: Sequence[TracedFinding]) -> str:
    """One badge per status that occurs, e.g. "2 confirmed", for the TOC and section headers."""
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.status] = counts.get(f.status, 0) + 1
    return " ".join(_badge(s, STATUSES, f"{n} ") for s, n in counts.items())


def _section(trace: ModelTrace, sid: str) -> str:
    """One model: header and findings always (a model that failed still needs its why), then data."""
    layers = list(trace.layers.values())
    # op id -> position, also by its string: after a JSON round trip dict keys are strings
    index = {key: i for i, rec in enumerate(layers) for key in (rec.op_id, str(rec.op_id))}
    flagged: dict[int, list[int]] = {}  # layer position -> positions of its findings
    for n, f in enumerate(trace.findings):
        if f.op_id in index:
            flagged.setdefault(index[f.op_id], []).append(n)
    body = _measurements(layers, flagged, trace.findings, sid) if layers else ""
    return (
        f'<section id="{sid}"><h2>{_esc(_model_name(trace))} {_status_counts(trace.findings)}</h2>'
        f"{_header(trace)}{_findings_table(trace.findings, layers, index, sid)}{body}"
        f"{_loss_probes(trace, layers, index)}{_sweep(trace, layers, index)}</section>\n"
    )


def _measurements(layers: list[LayerRecord], flagged: dict[int, list[int]], findings, sid: str) -> str:
    """The charts, histograms and layer table of a model with at least one measured layer."""
    codes = {i: [findings[n].code for n in ns] for i, ns in flagged.items()}
    last = len(layers) - 1
    std_points = [(rec, rec.train.std if rec.train else None, codes.get(i, []), _std_not_a_finding(rec, i == last))
                  for i, rec in enumerate(layers)]
    ratio_points = [(rec, rec.update_ratio, codes.get(i, []), _RATIO_NOT_A_FINDING)
                    for i, rec in enumerate(layers) if rec.update_ratio is not None]
    parts = []
    if std_points:
        parts.append(
            f"<h3>Activation standard deviation per layer</h3>"
            f'<p class="note">Healthy band {STD_BAND[0]:g} – {STD_BAND[1]:g} shaded; orange points are outside it; '
            f"red rings mark layers with findings. An orange point without a ring is not a finding: hover it "
            f"for why.</p>{_log_chart(std_points, STD_BAND, 'activation std (train)')}")
    if ratio_points:
        parts.append(
            f"<h3>Update-to-parameter ratio per layer</h3>"
            f'<p class="note">Healthy band {RATIO_BAND[0]:g} – {RATIO_BAND[1]:g} shaded, after one optimizer step. '
            f"{_RATIO_NOT_A_FINDING[0].upper()}{_RATIO_NOT_A_FINDING[1:]}.</p>"
            f"{_log_chart(ratio_points, RATIO_BAND, 'update / weight')}")
    for attr, title in (("weight_hist", "Weight histograms"), ("act_hist", "Activation histograms (train)")):
        if any(getattr(rec, attr) is not None for rec in layers):
            parts.append(f"<h3>{title}</h3>{_histograms(layers, attr, codes)}")
    parts.append(f"<h3>Layers</h3>{_layer_table(layers, flagged, findings, sid)}")
    return "".join(parts)


#: Why a layer's point outside the update band is no finding: one step from a fresh init says
#: little about training; the learning rate is flagged where the code sets one outside the
#: documented ranges, and then the finding's ring is on the chart.
_RATIO_NOT_A_FINDING = ("a ratio outside the band after one step from a fresh init is not a finding by itself: "
                        "the learning rate is judged from the code's optimizer settings")


def _std_not_a_finding(rec: LayerRecord, last: bool) -> str:
    """Why a layer's activation std outside the healthy band is no finding of its own."""
    if rec.kind in ("softmax", "sigmoid", "tanh", "log_softmax"):
        return "a bounded output: its spread is set by its range, not by the init"
    if last:
        return "the model's output: its scale follows the targets, which the trace does not have"
    if rec.kind == "input":
        return "the trace's random input"
    if rec.kind in ("relu", "relu6", "leaky_relu", "dropout", "pool", "reshape", "identity"):
        return "it follows the layer before it, where a finding would be"
    return ("the band is a guide from one random batch, not a rule: nnlint reports a pitfall only where "
            "the code matches one and the trace measures it")


_BUILT = {"rebuilt": "rebuilt from the code (none of it run)", "onnx": "the ONNX graph, run by nnlint's executor",
          "imported": "your class, imported with --trace-import (your code ran)"}


def _header(trace: ModelTrace) -> str:
    """What was run, and how: the facts needed to reproduce or distrust the numbers below."""
    shapes = ", ".join("×".join(_esc(d) for d in shape) for shape in trace.input_shapes) or "—"
    rows = [
        ("path", f"<code>{_esc(trace.path)}</code>"), ("model", _BUILT.get(trace.built, _esc(trace.built))),
        ("device", _esc(trace.device)),
        ("batch", _esc(trace.batch)), ("input shapes", shapes),
        ("loss", _esc(trace.loss) if trace.loss else "—"),
        ("optimizer", _esc(trace.optimizer) if trace.optimizer else "—"),
        ("train/eval output change", _num(trace.train_eval_change, percent=True)),
    ]
    if trace.batch_one_error:
        rows.append(("batch of one (train mode)", f'<span class="bad">raised: {_esc(trace.batch_one_error)}</span>'))
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    alerts = "".join(
        f'<div class="alert"><strong>{label}:</strong> {_esc(text)}</div>'
        for label, text in (("Could not trace", trace.problem), ("Forward pass raised", trace.error))
        if text
    )
    return f'{alerts}<dl class="meta">{meta}</dl>'


def _layer_ref(finding: TracedFinding, layers: list[LayerRecord], index: dict, sid: str) -> str:
    """A link to a finding's layer row, or why there is none (training code, model-level, or
    not measured)."""
    op_id, place = finding.op_id, getattr(finding, "place", None)
    if place:
        return f'<span class="note">{_esc(place)}</span>'
    if op_id is None:
        return "— (whole model)"
    if op_id not in index:
        return f"op {_esc(op_id)} (not measured)"
    rec = layers[index[op_id]]
    return f'<a href="#{sid}-l{index[op_id]}">{_esc(rec.name)}</a> <span class="note">{_esc(rec.kind)}</span>'


def _findings_table(findings: list[TracedFinding], layers: list[LayerRecord], index: dict, sid: str) -> str:
    """Every finding with its verdict and evidence, linked to the layer it concerns."""
    if not findings:
        return ""
    rows = "".join(
        f'<tr id="{sid}-f{n}"><td class="code">{_esc(f.code)}</td><td>{_esc(f.name)}</td>'
        f"<td>{_badge(f.severity, _SEVERITIES)}</td><td>{_badge(f.status, STATUSES)}</td>"
        f'<td class="msg">{_esc(f.message)}</td><td class="msg">{_esc(f.evidence)}</td>'
        f"<td>{_layer_ref(f, layers, index, sid)}</td>"
        f'<td class="n">{_esc(f.line) if f.line is not None else "—"}</td></tr>'
        for n, f in enumerate(findings)
    )
    head = "<tr><th>code</th><th>name</th><th>severity</th><th>status</th><th>message</th>" \
           "<th>evidence</th><th>layer</th><th>line</th></tr>"
    return f"<h3>Findings</h3><table>{head}{rows}</table>"


def _layer_table(layers: list[LayerRecord], flagged: dict[int, list[int]], findings, sid: str) -> str:
    """All measurements per layer; rows of layers with findings are highlighted and link to them."""
    rows = []
    for i, rec in enumerate(layers):
        t, e = rec.train, rec.eval
        nonfinite = [m for m, s in (("train", t), ("eval", e)) if s is not None and s.nonfinite]
        std = _float(t.std) if t else None
        std_cls = "" if std is None or STD_BAND[0] <= std <= STD_BAND[1] else "warn"
        ratio = _float(rec.update_ratio)
        ratio_cls = "" if ratio is None or RATIO_BAND[0] <= ratio <= RATIO_BAND[1] else "warn"
        cells = [_num(t.mean), f'<span class="{std_cls}">{_num(t.std)}</span>', _num(t.min), _num(t.max),
                 _num(t.zero_fraction, True), _num(t.saturated_fraction, True)] if t else ["—"] * 6
        cells += [f'<span class="bad">{", ".join(nonfinite)}</span>' if nonfinite else "no",
                  _num(e.std) if e else "—", _num(rec.grad_norm), f'<span class="{ratio_cls}">{_num(ratio)}</span>']
        found = " ".join(f'<a class="code bad" href="#{sid}-f{n}">{_esc(findings[n].code)}</a>' for n in flagged.get(i, []))
        rows.append(
            f'<tr id="{sid}-l{i}"{_FLAGGED if i in flagged else ""}><td class="n">{i}</td>'
            f"<td>{_esc(rec.name)}</td><td>{_esc(rec.kind)}</td>"
            + "".join(f'<td class="n">{c}</td>' for c in cells) + f"<td>{found}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in (
        "#", "name", "kind", "mean", "std", "min", "max", "zero", "saturated", "NaN/Inf", "eval std",
        "grad norm", "update ratio", "findings"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _op_name(op: object, layers: list[LayerRecord], index: dict) -> str:
    """The layer's name for an op id, or the bare id when the trace has no record of it."""
    return _esc(layers[index[op]].name) if op in index else f"op {_esc(op)}"


def _loss_probes(trace: ModelTrace, layers: list[LayerRecord], index: dict) -> str:
    """The loss as written against its stable form, per softmax/sigmoid feeding it; the probe's
    keys differ by loss, so they are shown as they come rather than as fixed columns."""
    if not trace.loss_probes:
        return ""
    rows = "".join(
        f"<tr><td>{_op_name(op, layers, index)}</td><td>"
        + ", ".join(f"{_esc(k)} = {_num(v)}" for k, v in probe.items()) + "</td></tr>"
        for op, probe in trace.loss_probes.items()
    )
    return f"<h3>Loss probes</h3><table><tr><th>layer feeding the loss</th><th>measured</th></tr>{rows}</table>"


def _sweep(trace: ModelTrace, layers: list[LayerRecord], index: dict) -> str:
    """Input scale -> the first layer that overflowed: where a model stops tolerating big inputs."""
    if not trace.scales:
        return ""
    rows = []
    for probe in trace.scales:
        op = probe.first_nonfinite
        where = ('<span class="note">finite</span>' if op is None
                 else f'<span class="bad">{_op_name(op, layers, index)}</span>')
        finite = [x for x in map(_float, probe.max_abs.values()) if x is not None and math.isfinite(x)]
        rows.append(f'<tr><td class="n">×{_num(probe.scale)}</td><td>{where}</td>'
                    f'<td class="n">{_num(max(finite)) if finite else "—"}</td></tr>')
    head = "<tr><th>input scale</th><th>first layer with NaN/Inf</th><th>largest finite |value|</th></tr>"
    return f"<h3>Input-scale sweep</h3><table>{head}{''.join(rows)}</table>"


# --- SVG --------------------------------------------------------------------------------------


def _svg(width: int, height: int, body: str, label: str, cls: str = "") -> str:
    """An inline SVG root; the namespace keeps each block a standalone, parseable XML document."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{_esc(label)}">{body}</svg>')


def _log_chart(points: list[tuple[LayerRecord, object, list[str], str]], band: tuple[float, float],
               ylabel: str) -> str:
    """One value per layer on a log y axis against a shaded healthy band, layers in trace order.

    ``points``: (layer, value, its findings' codes, why a value outside the band is no finding).
    Values a log axis cannot place get a red cross on the baseline and a line in the note below,
    so a layer that went NaN is shown where it is rather than silently missing. The margins
    grow with the longest name written under the axis, so no name is cut.
    """
    placed = [_loggable(v) for _, v, _, _ in points]
    exps = [math.log10(x) for x, _ in placed if x is not None] + [math.log10(b) for b in band]
    lo, hi = max(math.floor(min(exps)), AXIS_DECADES[0]), min(math.ceil(max(exps)), AXIS_DECADES[1])
    n = len(points)
    label_every = math.ceil(n / MAX_X_LABELS)
    longest = max((len(_short(rec.name)) for i, (rec, *_) in enumerate(points) if i % label_every == 0), default=0)
    reach = longest * _CHAR_W  # a label's length along its slant
    bottom = max(_BOTTOM, math.ceil(16 + reach * math.sin(_LABEL_ANGLE) + 12))
    step = (_W - _LEFT - _RIGHT) / n
    left = max(_LEFT, math.ceil(reach * math.cos(_LABEL_ANGLE) - step / 2 + 8))  # the first label's reach
    step = (_W - left - _RIGHT) / n
    height = _TOP + (_H - _TOP - _BOTTOM) + bottom
    plot_h = height - _TOP - bottom
    base = _TOP + plot_h

    def row(exponent: float) -> float:
        """The pixel row of 10**exponent: exponents, because the decade of 5e-324 underflows to 0."""
        return _TOP + (hi - exponent) / (hi - lo) * plot_h

    def y(value: float) -> float:
        """Values beyond the axis are pinned to its edge (their tooltip keeps the true value)."""
        return row(min(max(math.log10(value), lo), hi))

    out = [_log_axes(lo, hi, band, ylabel, row, left, base)]
    out.append(_runs([(left + (i + 0.5) * step, None if x is None else y(x)) for i, (x, _) in enumerate(placed)]))
    radius = 4 if n <= 100 else 2.5
    skipped, pinned = [], []
    for i, ((rec, _, codes, why_not), (x, why)) in enumerate(zip(points, placed)):
        cx, cy, name = left + (i + 0.5) * step, base if x is None else y(x), _esc(rec.name)
        if x is None:
            skipped.append(f"{name} ({_esc(why)})")
            out.append(f'<text class="cross" x="{cx:.1f}" y="{base + 5}" text-anchor="middle">×'
                       f"<title>{name}: {_esc(why)} (not drawn on the log axis)</title></text>")
        else:
            if not 10.0**lo <= x <= 10.0**hi:
                pinned.append(name)
            inside = band[0] <= x <= band[1]
            said = "" if inside else (f"; outside the healthy band: see {_esc(', '.join(codes))}" if codes
                                      else f"; outside the healthy band, not a finding: {_esc(why_not)}")
            out.append(f'<circle class="{"ok" if inside else "out"}" cx="{cx:.1f}" cy="{cy:.1f}" '
                       f'r="{radius}"><title>{name} ({_esc(rec.kind)}): {x:.3g}{said}</title></circle>')
        if codes:
            out.append(f'<circle class="ring" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius + 4}"/>'
                       f'<text class="fcode" x="{cx:.1f}" y="{cy - radius - 8:.1f}" text-anchor="middle">'
                       f"{_esc(', '.join(codes))}<title>{name}: {_esc(', '.join(codes))}</title></text>")
        if i % label_every == 0:
            out.append(f'<text class="tick" transform="rotate(-50 {cx:.1f} {base + 16})" x="{cx:.1f}" '
                       f'y="{base + 16}" text-anchor="end">{_esc(_short(rec.name))}<title>{name}</title></text>')
    notes = []
    if label_every > 1:
        notes.append(f"{n} layers: one name in {label_every} is written on the axis; hover a point for its name.")
    if skipped:
        more = f" and {len(skipped) - MAX_NOTE_NAMES} more" if len(skipped) > MAX_NOTE_NAMES else ""
        notes.append(f'<span class="warn">{len(skipped)} of {n} not drawn on the log axis</span> '
                     f"(× on the baseline): {', '.join(skipped[:MAX_NOTE_NAMES])}{more}.")
    if pinned:
        notes.append(f"{len(pinned)} beyond 1e{lo}..1e{hi}, drawn on the axis edge: "
                     f"{', '.join(pinned[:MAX_NOTE_NAMES])}{' …' if len(pinned) > MAX_NOTE_NAMES else ''}.")
    note = "".join(f'<p class="note">{t}</p>' for t in notes)
    return _svg(_W, height, "".join(out), ylabel, "chart") + note


def _log_axes(lo: int, hi: int, band: tuple[float, float], ylabel: str, y, left: int, base: float) -> str:
    """The band, decade grid lines and axes; ``y`` maps a decade exponent to a pixel row.

    At most about ten decades are labelled, so values spanning 1e-300..1e300 stay readable.
    """
    top, bottom = y(math.log10(band[1])), y(math.log10(band[0]))
    out = [(f'<rect class="band" x="{left}" y="{top:.1f}" width="{_W - left - _RIGHT}" height="{bottom - top:.1f}">'
            f"<title>healthy band {band[0]:g} – {band[1]:g}</title></rect>"
            f'<text class="tick" x="{_W - _RIGHT + 6}" y="{(top + bottom) / 2 + 4:.1f}">healthy</text>')]
    for k in range(lo, hi + 1, max(1, math.ceil((hi - lo) / 10))):
        out.append(f'<line class="grid" x1="{left}" x2="{_W - _RIGHT}" y1="{y(k):.1f}" y2="{y(k):.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{y(k) + 4:.1f}" text-anchor="end">'
                   f'{"1" if k == 0 else f"1e{k}"}</text>')
    mid = (_TOP + base) / 2
    out.append(f'<path class="axis" d="M{left},{_TOP}V{base:.1f}H{_W - _RIGHT}"/>'
               f'<text class="tick" transform="rotate(-90 14 {mid:.1f})" x="14" y="{mid:.1f}" text-anchor="middle">'
               f"{_esc(ylabel)}</text>")
    return "".join(out)


def _runs(xy: list[tuple[float, float | None]]) -> str:
    """A faint line through consecutive drawn points, broken where a value is missing."""
    paths, current = [], []
    for x, y in xy + [(0.0, None)]:
        if y is not None:
            current.append(f"{x:.1f},{y:.1f}")
        elif current:
            if len(current) > 1:
                paths.append("M" + "L".join(current))
            current = []
    return f'<path class="line" d="{" ".join(paths)}"/>' if paths else ""


def _histograms(layers: list[LayerRecord], attr: str, codes: dict[int, list[str]]) -> str:
    """Small multiples, one per layer that has the histogram; flagged layers get an orange frame."""
    cells = []
    for i, rec in enumerate(layers):
        hist = getattr(rec, attr)
        if hist is None:
            continue
        found = " ".join(codes.get(i, []))
        cap = f'<span class="bad code">{_esc(found)}</span> ' if found else ""
        cells.append(f'<figure class="hist{" flagged" if found else ""}"><figcaption title="{_esc(rec.name)}">'
                     f"{cap}{_esc(rec.name)}</figcaption>{_histogram(hist, rec.name)}</figure>")
    return f'<div class="grid">{"".join(cells)}</div>'


def _histogram(hist: Histogram, name: str) -> str:
    """Bars by bin index (the trace's bins are equal-width), the value range written underneath."""
    w, h, plot_h = 188, 84, 62
    counts = [c if c is not None and math.isfinite(c) and c > 0 else 0.0 for c in map(_float, hist.counts)]
    top = max(counts, default=0.0)
    if top <= 0:
        return _svg(w, h, f'<text class="tick" x="{w / 2}" y="{h / 2}" text-anchor="middle">empty</text>', name)
    bw = w / len(counts)
    bars = "".join(f"M{i * bw:.1f},{plot_h}v{-c / top * plot_h:.1f}h{bw:.1f}V{plot_h}z"
                   for i, c in enumerate(counts) if c > 0)
    span = _span(_float(hist.edges[0]), _float(hist.edges[-1])) if hist.edges else "no edges"
    body = (f'<path class="bars" d="{bars}"><title>{_esc(name)}: {int(sum(counts))} values</title></path>'
            f'<line class="axis" x1="0" x2="{w}" y1="{plot_h}" y2="{plot_h}"/>'
            f'<text class="tick" x="{w / 2}" y="{h - 4}" text-anchor="middle">{span}</text>')
    return _svg(w, h, body, name)


def _span(lo: float | None, hi: float | None) -> str:
    """A histogram's range with just enough digits that its two ends differ (0.1 … 0.1 says nothing)."""
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{_plain(lo)} … {_plain(hi)}"
    digits = next((d for d in range(3, 10) if f"{lo:.{d}g}" != f"{hi:.{d}g}"), 3)
    return f"{lo:.{digits}g} … {hi:.{digits}g}"
