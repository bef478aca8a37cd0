"""The ``--trace`` HTML report: a self-contained, well-formed page that survives hostile and broken data."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from nnlint.report.html import _CHAR_W, MAX_X_LABELS, render
from nnlint.trace.records import (
    Histogram,
    LayerRecord,
    ModelTrace,
    ScaleProbe,
    Stats,
    TracedFinding,
)

SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"
QUOTES = "\"&'"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


# ----------------------------------------------------------------------------- building traces


def stats(std, mean=0.0, nonfinite=False) -> Stats:
    return Stats(mean=mean, std=std, min=-1.0, max=1.0, zero_fraction=0.25, saturated_fraction=0.0,
                 nonfinite=nonfinite)


def hist(n=10) -> Histogram:
    return Histogram(edges=[i / n - 0.5 for i in range(n + 1)], counts=[(i * (n - i)) for i in range(n)])


def finding(code, status, op_id, line=10, severity="warning", message="msg", evidence="ev") -> TracedFinding:
    return TracedFinding(code=code, name=f"name-{code}", severity=severity, message=message, line=line,
                         op_id=op_id, status=status, evidence=evidence)


def mlp() -> ModelTrace:
    """A 4-layer MLP: fc1 healthy, relu, fc2 with a vanishing std and a huge update ratio, head."""
    layers = {
        1: LayerRecord(1, "fc1", "linear", stats(1.0), stats(0.9), grad_norm=0.5, update_ratio=1e-3,
                       weight_hist=hist(), act_hist=hist()),
        2: LayerRecord(2, "act1", "relu", stats(0.6), stats(0.6), act_hist=hist()),
        3: LayerRecord(3, "fc2", "linear", stats(1e-5), stats(1e-5), grad_norm=3.0, update_ratio=0.3,
                       weight_hist=hist(), act_hist=hist()),
        4: LayerRecord(4, "head", "linear", stats(40.0), stats(38.0), grad_norm=1.0, update_ratio=2e-3,
                       weight_hist=hist(), act_hist=hist()),
    }
    findings = [
        finding("NN031", "confirmed", 3, line=12, message="lr 10.0 is too high", evidence="update ratio 0.3"),
        finding("NN044", "refuted", 1, line=7),
        finding("NN022", "inconclusive", 4, line=None),
        finding("NN050", "confirmed", None, line=30, severity="error"),
    ]
    return ModelTrace("MLP", "train.py", "cpu", batch=4, input_shapes=[[4, 784]], layers=layers,
                      scales=[ScaleProbe(1.0, None, {1: 3.0}), ScaleProbe(1e4, 3, {1: 3e4})],
                      loss="CrossEntropyLoss", optimizer="SGD(lr=10.0)", train_eval_change=0.04,
                      loss_probes={"4": {"classes": 10, "floor": 0.0, "grad_as_written": 1e-8, "grad_fixed": 0.9}},
                      findings=findings)


def failed() -> ModelTrace:
    return ModelTrace("Broken", "broken.py", "cpu", problem="BatchNorm1d needs batch > 1", batch_one_error="boom",
                      findings=[finding("NN013", "inconclusive", 5)])


def hostile() -> ModelTrace:
    layers = {0: LayerRecord(0, HOSTILE, QUOTES, stats(1.0), update_ratio=1e-3, weight_hist=hist()),
              1: LayerRecord(1, QUOTES + "\x00\x1b", HOSTILE, stats(3.0))}
    f = TracedFinding(HOSTILE, QUOTES, HOSTILE, HOSTILE, None, 0, HOSTILE, QUOTES)
    return ModelTrace(HOSTILE, QUOTES, HOSTILE, input_shapes=[[1, 2]], layers=layers, loss=HOSTILE,
                      optimizer=QUOTES, error=HOSTILE, scales=[ScaleProbe(1.0, 1)], findings=[f],
                      batch_one_error=HOSTILE, loss_probes={0: {HOSTILE: QUOTES}})


def broken_values() -> ModelTrace:
    """Every way a value can fail to sit on a log axis, plus histograms that make no sense."""
    nan, inf = float("nan"), float("inf")
    layers = {
        0: LayerRecord(0, "ok", "linear", stats(1.0), update_ratio=1e-3, weight_hist=hist()),
        1: LayerRecord(1, "nan_layer", "linear", stats(nan, mean=nan, nonfinite=True), update_ratio=nan,
                       weight_hist=Histogram(edges=[nan, inf], counts=[nan])),
        2: LayerRecord(2, "inf_layer", "relu", stats(inf, nonfinite=True), update_ratio=inf,
                       act_hist=Histogram(edges=[], counts=[])),
        3: LayerRecord(3, "zero_layer", "relu", stats(0.0), update_ratio=0.0,
                       act_hist=Histogram(edges=[0.0, 1.0], counts=[0, 0, 0])),
        4: LayerRecord(4, "neg_layer", "linear", stats(-2.0), update_ratio=-1e-3),
        5: LayerRecord(5, "unmeasured", "linear"),
        6: LayerRecord(6, "tiny", "linear", stats(5e-324), update_ratio=1e300),
    }
    return ModelTrace("Broken values", "x.py", "cpu", layers=layers, train_eval_change=nan,
                      scales=[ScaleProbe(inf, 1, {0: nan}), ScaleProbe(nan)],
                      findings=[finding("NN060", "confirmed", 1), finding("NN061", "confirmed", 99)])


def deep(n: int) -> ModelTrace:
    layers = {i: LayerRecord(i, f"backbone.block{i // 3}.conv{i % 3}", "conv2d",
                             stats(10 ** (2.5 * math.sin(i / 20))), update_ratio=10 ** (-3 + math.cos(i / 15)),
                             weight_hist=hist(), act_hist=hist())
              for i in range(n)}
    return ModelTrace(f"Deep{n}", "deep.py", "cpu", layers=layers, findings=[finding("NN070", "confirmed", n // 2)])


# ----------------------------------------------------------------------------- reading the page


class Page(HTMLParser):
    """Checks that tags nest, and collects what the assertions need: attributes, spans, text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []  # (tag, attribute, value)
        self.text: list[str] = []
        self.badges: list[tuple[str, str]] = []  # (class, text)
        self._badge: str | None = None
        self.feed(html)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        self.attrs += [(tag, k, v) for k, v in attrs]
        cls = dict(attrs).get("class") or ""
        if tag == "span" and "badge" in cls.split():
            self._badge = cls
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._badge is not None:
            self.badges.append((self._badge, data))
            self._badge = None


def parse(html: str) -> Page:
    page = Page(html)
    assert page.errors == []
    return page


def svgs(html: str) -> list[ET.Element]:
    blocks = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    return [ET.fromstring(b) for b in blocks]


def charts(html: str) -> list[ET.Element]:
    return [s for s in svgs(html) if s.get("class") == "chart"]


def title_of(el: ET.Element) -> str:
    t = el.find(f"{SVG_NS}title")
    return "" if t is None else (t.text or "")


def points(chart: ET.Element) -> dict[str, float]:
    """Drawn point -> its y coordinate, keyed by the layer name its tooltip starts with."""
    return {title_of(c).split(" (")[0]: float(c.get("cy")) for c in chart.iter(f"{SVG_NS}circle")
            if c.get("class") in ("ok", "out")}


def band(chart: ET.Element) -> tuple[float, float]:
    rects = [r for r in chart.iter(f"{SVG_NS}rect") if r.get("class") == "band"]
    assert len(rects) == 1
    y, h = float(rects[0].get("y")), float(rects[0].get("height"))
    return y, y + h


def all_reports():
    return [mlp(), failed(), hostile(), broken_values(), deep(300)]


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("traces", [[], [mlp()], [failed()], [hostile()], [broken_values()], [deep(1)],
                                    [deep(300)], [deep(500)], all_reports()],
                         ids=["none", "mlp", "failed", "hostile", "broken", "one", "300", "500", "all"])
def test_page_is_well_formed_and_self_contained(traces):
    html = render(traces)
    page = parse(html)
    for svg in svgs(html):  # each inline SVG is a standalone XML document
        assert svg.tag == f"{SVG_NS}svg"
    assert "<script" not in html.lower()
    assert "javascript:" not in html.lower()
    assert "url(" not in html and "@import" not in html
    # the only absolute URI is the SVG namespace; links are fragments into the page
    assert set(re.findall(r"https?://[^\"' >]*", html)) <= {"http://www.w3.org/2000/svg"}
    assert html.count("http://") == html.count('xmlns="http://www.w3.org/2000/svg"')
    assert not [a for a in page.attrs if a[1] in ("src", "srcset", "action", "xlink:href", "data", "poster")]
    assert all(v.startswith("#") for tag, k, v in page.attrs if k == "href")
    assert not [a for a in page.attrs if a[1].startswith("on")]  # no event handlers


def test_mlp_header_bands_and_point_placement():
    html = render([mlp()], title="run 1")
    page = parse(html)
    text = "".join(page.text)
    for fact in ("train.py", "CrossEntropyLoss", "SGD(lr=10.0)", "4×784", "run 1"):
        assert fact in text
    std, ratio = charts(html)
    assert "0.5 – 2" in title_of(next(r for r in std.iter(f"{SVG_NS}rect")))
    assert "0.0001 – 0.01" in title_of(next(r for r in ratio.iter(f"{SVG_NS}rect")))
    top, bottom = band(std)
    ys = points(std)
    assert set(ys) == {"fc1", "act1", "fc2", "head"}
    assert top < ys["fc1"] < bottom and top < ys["act1"] < bottom  # std 1.0 and 0.6 sit in the band
    assert ys["fc2"] > bottom and ys["head"] < top  # 1e-5 below it, 40 above (y grows downwards)
    classes = {title_of(c).split(" (")[0]: c.get("class") for c in std.iter(f"{SVG_NS}circle") if title_of(c)}
    assert classes == {"fc1": "ok", "act1": "ok", "fc2": "out", "head": "out"}
    assert set(points(ratio)) == {"fc1", "fc2", "head"}  # act1 has no update ratio
    top, bottom = band(ratio)
    assert points(ratio)["fc2"] < top < points(ratio)["fc1"] < bottom
    assert "not drawn on the log axis" not in html  # every value was drawable


def test_statuses_and_severities_are_badges():
    page = parse(render([mlp()]))
    assert ("badge confirmed", "confirmed") in page.badges
    assert ("badge refuted", "refuted") in page.badges
    assert ("badge inconclusive", "inconclusive") in page.badges
    assert ("badge error", "error") in page.badges
    assert ("badge confirmed", "2 confirmed") in page.badges  # the section header's count


def test_findings_sit_beside_their_layers():
    html = render([mlp()])
    rows = dict(re.findall(r'<tr id="model-0-l(\d+)"(.*?)</tr>', html, flags=re.DOTALL))
    assert rows["2"].startswith(' class="flagged"') and "NN031" in rows["2"] and "fc2" in rows["2"]
    assert rows["0"].startswith(' class="flagged"') and "NN044" in rows["0"]
    assert not rows["1"].startswith(' class="flagged"') and "NN0" not in rows["1"]
    assert '<a class="code bad" href="#model-0-f0">NN031</a>' in rows["2"]  # links to its finding row
    findings = dict(re.findall(r'<tr id="model-0-f(\d+)">(.*?)</tr>', html, flags=re.DOTALL))
    assert 'href="#model-0-l2">fc2</a>' in findings["0"] and ">12</td>" in findings["0"]
    assert "(whole model)" in findings["3"]
    std = charts(html)[0]
    codes = [t.text for t in std.iter(f"{SVG_NS}text") if t.get("class") == "fcode"]
    assert sorted(codes) == ["NN022", "NN031", "NN044"]
    assert len([c for c in std.iter(f"{SVG_NS}circle") if c.get("class") == "ring"]) == 3
    ring = next(c for c in std.iter(f"{SVG_NS}circle") if c.get("class") == "ring")
    point = next(c for c in std.iter(f"{SVG_NS}circle") if c.get("class") in ("ok", "out"))
    assert (ring.get("cx"), ring.get("cy")) == (point.get("cx"), point.get("cy"))  # fc1 (NN044) is first
    assert re.search(r'<figure class="hist flagged">.*?NN031.*?fc2</figcaption>', html)


def test_failed_model_still_gets_its_section():
    html = render([failed()])
    page = parse(html)
    assert re.search(r'<div class="alert"><strong>Could not trace:</strong> BatchNorm1d needs batch &gt; 1</div>',
                     html)
    assert "NN013" in "".join(page.text) and "op 5 (not measured)" in html
    assert svgs(html) == []
    for empty in ("<h3>Activation", "<h3>Update", "histograms", "<h3>Layers", "<h3>Input-scale", "No "):
        assert empty not in html  # sections with nothing to show are left out, not said empty


def test_hostile_strings_are_escaped_everywhere():
    html = render([hostile(), mlp()], title=HOSTILE)
    page = parse(html)
    assert HOSTILE not in html and QUOTES not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&quot;&amp;&#x27;" in html
    assert HOSTILE in "".join(page.text)  # shown as text, so the reader sees the name as it was
    assert "badge other" in html  # an unknown status gets a neutral class, not one named by the data
    assert not [v for _, k, v in page.attrs if k == "class" and "<" in (v or "")]
    titles = [title_of(el) for svg in svgs(html) for el in svg.iter()]
    assert HOSTILE in "".join(titles)  # the SVG tooltip carries the full name, escaped in the markup
    assert "\x00" not in html and "\x1b" not in html  # not allowed in XML: replaced


def test_undrawable_values_are_marked_and_noted():
    html = render([broken_values()])
    parse(html)
    std, ratio = charts(html)
    assert set(points(std)) == {"ok", "tiny"}
    assert set(points(ratio)) == {"ok", "tiny"}
    crosses = [title_of(t) for t in std.iter(f"{SVG_NS}text") if t.get("class") == "cross"]
    assert len(crosses) == 5 and all("not drawn on the log axis" in t for t in crosses)
    note = re.search(r"5 of 7 not drawn on the log axis</span> \(× on the baseline\): (.*?)</p>", html)
    assert note is not None
    for part in ("nan_layer (NaN)", "inf_layer (Inf)", "zero_layer (0)", "neg_layer (-2)", "unmeasured (not measured)"):
        assert part in note.group(1)
    assert "4 of 6 not drawn on the log axis" in html  # the ratio chart: unmeasured has no ratio
    # 5e-324 and 1e300 are pinned to the edge of a 1e-12..1e12 axis, so the bands stay visible
    assert "1 beyond 1e-12..1e1, drawn on the axis edge: tiny." in html  # std 5e-324
    assert "1 beyond 1e-4..1e12, drawn on the axis edge: tiny." in html  # update ratio 1e300
    for chart in (std, ratio):
        top, bottom = band(chart)
        assert bottom - top > 10 and points(chart)["tiny"] in (34.0, 268.0)  # the plot's top or bottom row
    assert any(t.get("class") == "ring" for t in std.iter(f"{SVG_NS}circle"))  # NN060 on the NaN layer
    assert "op 99 (not measured)" in html
    assert '×<span class="bad">Inf</span></td><td><span class="bad">nan_layer</span></td><td class="n">—</td>' in html
    assert '<span class="bad">NaN</span>' in html and '<span class="bad">Inf</span>' in html
    row = re.search(r'<tr id="model-0-l1".*?</tr>', html, flags=re.DOTALL).group(0)
    assert '<span class="bad">train</span>' in row  # the NaN/Inf column


def test_many_layers_cap_axis_labels():
    html = render([deep(300)])
    std, ratio = charts(html)
    for chart in (std, ratio):
        labels = [t for t in chart.iter(f"{SVG_NS}text") if (t.get("transform") or "").startswith("rotate(-50")]
        assert 1 < len(labels) <= MAX_X_LABELS
        assert all(t.text == title_of(t) and t.text.startswith("backbone.block") for t in labels)  # whole
        assert_labels_fit(chart, labels)
        assert len(points(chart)) == 300
    assert "300 layers: one name in 7 is written on the axis" in html
    assert html.count('<figure class="hist') == 600


def assert_labels_fit(chart, labels) -> None:
    """Each slanted label, at a generous width per character, stays inside the chart."""
    height = float(chart.get("viewBox").split()[3])
    for t in labels:
        reach = len(t.text) * _CHAR_W
        assert float(t.get("x")) - reach * math.cos(math.radians(50)) >= 0, t.text
        assert float(t.get("y")) + reach * math.sin(math.radians(50)) <= height, t.text


def test_long_layer_names_are_written_whole_and_the_chart_grows_to_fit_them():
    trace = mlp()
    long_name = "encoder.layers.11.attention.output.dense"
    trace.layers[1].name = long_name
    std, ratio = charts(render([trace]))
    for chart in (std, ratio):
        labels = [t for t in chart.iter(f"{SVG_NS}text") if (t.get("transform") or "").startswith("rotate(-50")]
        assert long_name in [t.text for t in labels]
        assert_labels_fit(chart, labels)


def test_toc_only_with_several_models_and_sweep_table():
    one = render([mlp()])
    assert "<nav>" not in one
    several = render([mlp(), failed()])
    assert '<a href="#model-0">train.py: MLP</a>' in several and '<a href="#model-1">broken.py: Broken</a>' in several
    assert '<section id="model-1">' in several
    sweep = one[one.index("Input-scale sweep"):]
    assert re.search(r"×1</td><td><span class=\"note\">finite</span>", sweep)
    assert re.search(r"×1e\+04</td><td><span class=\"bad\">fc2</span></td><td class=\"n\">3e\+04", sweep)
    assert "No models were traced." in render([])


def test_loss_probes_and_batch_of_one():
    html = render([mlp(), failed()])
    probes = html[html.index("<h3>Loss probes</h3>"):html.index("Input-scale sweep")]
    assert "<td>head</td>" in probes  # the probe's op id came back from JSON as the string "4"
    assert "grad_as_written = 1e-08, grad_fixed = 0.9" in probes
    assert html.count("<h3>Loss probes</h3>") == 1  # the failed model has none: no empty table
    assert '<span class="bad">raised: boom</span>' in html


def test_layers_keyed_by_strings_after_json_still_match_findings():
    trace = mlp()
    trace.layers = {str(k): v for k, v in trace.layers.items()}
    html = render([trace])
    assert 'href="#model-0-l2">fc2</a>' in html


def test_same_code_on_two_layers_links_each_to_its_own_finding():
    trace = mlp()
    trace.findings.append(finding("NN031", "refuted", 4))
    html = render([trace])
    rows = dict(re.findall(r'<tr id="model-0-l(\d+)"(.*?)</tr>', html, flags=re.DOTALL))
    assert 'href="#model-0-f0">NN031</a>' in rows["2"] and 'href="#model-0-f4">NN031</a>' in rows["3"]


def test_a_finding_on_training_code_is_shown_as_such_never_on_a_layer():
    trace = mlp()
    trace.findings = [TracedFinding("NN103", "softmax-before-cross-entropy", "warning", "F.softmax feeds cross_entropy",
                                    18, None, "inconclusive", "ev", place="training code, line 18")]
    html = render([trace])
    row = re.search(r'<tr id="model-0-f0">(.*?)</tr>', html, flags=re.DOTALL).group(1)
    assert "training code, line 18" in row and "href=\"#model-0-l" not in row
    assert "class=\"flagged\"" not in html and "hist flagged" not in html  # no layer row, no histogram frame
    for chart in charts(html):
        assert not [c for c in chart.iter(f"{SVG_NS}circle") if c.get("class") == "ring"]
        assert not [t for t in chart.iter(f"{SVG_NS}text") if t.get("class") == "fcode"]


def test_out_of_band_points_say_why_they_are_or_are_not_findings():
    trace = mlp()
    trace.findings = [f for f in trace.findings if f.op_id != 4]  # the head keeps no finding
    std, ratio = charts(render([trace]))
    titles = {title_of(c).split(" (")[0]: title_of(c) for c in std.iter(f"{SVG_NS}circle") if c.get("class") == "out"}
    assert "see NN031" in titles["fc2"]  # 1e-5: the finding's own layer
    assert "not a finding: the model's output" in titles["head"]  # 40: the last layer
    healthy = [title_of(c) for c in std.iter(f"{SVG_NS}circle") if c.get("class") == "ok"]
    assert healthy and not any("healthy band" in t for t in healthy)
    ratios = {title_of(c).split(" (")[0]: title_of(c) for c in ratio.iter(f"{SVG_NS}circle") if c.get("class") == "out"}
    assert "see NN031" in ratios["fc2"] and set(ratios) == {"fc2"}  # 0.3; the others are in the band


def test_sections_are_headed_by_file_and_class():
    html = render([mlp()])
    assert re.search(r"<h2>train\.py: MLP <span", html)
    module = ModelTrace("<module /src/train.py>", "/src/train.py", "cpu", findings=[finding("NN1", "confirmed", None)])
    assert re.search(r"<h2>train\.py <span", render([module]))
