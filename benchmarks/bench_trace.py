"""How long ``--trace`` takes per model, against one plain forward pass of the same model.

Four models: a small MLP rebuilt from source code (the IR path: its layers are constructed and
initialised as torch does), the same MLP exported to ONNX (its weights are read, not drawn), and
a ResNet-50-sized CNN exported to ONNX twice (the executor path, 25.6M parameters, 224x224
inputs): as ``torch.onnx.export`` writes an eval-mode model by default, batch norm folded into
the convolutions (a graph that computes the same in both modes, so its training pass serves as
its evaluation pass), and with constant folding off, 53 BatchNormalization nodes kept (both
passes run, and the batch of one).

A trace takes what its findings' checks read (``Check.measures``), so its cost depends on the
findings. For each model this prints, in one run and on one device: the trace with every
measurement (what ``--report`` takes: training pass with backward and optimizer step,
evaluation passes, zero-input and dropout probes, the x1..x1000 scale sweep, a batch of one,
histograms), the trace for each check's measurements alone (one finding of that check), and the
rebuild alone; each against one plain ``model(x)`` of the torch module at the trace's batch of
8, both after torch is imported and after a warm-up, timed alternately so that a busy machine
slows both alike. Prints the median of the per-pair ratios (and the medians in ms for the full
trace); the goal is at most 10x.

    python benchmarks/bench_trace.py [--device cuda] [--repeat N] [--threads N] [--models mlp,onnx-mlp,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from nnlint.frontends.onnx_graph import convert
from nnlint.frontends.onnx_load import load
from nnlint.frontends.project import Project
from nnlint.frontends.python import analyze
from nnlint.registry import all_checks
from nnlint.trace.build import BuiltGraph
from nnlint.trace.measure import measure
from nnlint.trace.measurements import ALL, closure
from nnlint.trace.onnx_model import OnnxGraph

MLP_SOURCE = """
import torch.nn as nn

model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
"""


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * 4
        self.body = nn.Sequential(
            nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.skip = nn.Identity() if stride == 1 and inplanes == out else nn.Sequential(
            nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def resnet50() -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(inplanes, planes, stride if i == 0 else 1))
            inplanes = planes * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def paired(trace, forward, repeat: int) -> tuple[float, float, float]:
    """Median trace time, median forward time, median of the per-pair ratios."""
    trace(), forward()  # warm-up (allocator, kernels)
    pairs = [(_timed(trace), _timed(forward)) for _ in range(repeat)]
    return (statistics.median(t for t, _ in pairs), statistics.median(f for _, f in pairs),
            statistics.median(t / f for t, f in pairs))


def plain_forward(model: nn.Module, x: torch.Tensor):
    def run() -> None:
        with torch.no_grad():
            model(x)
    return run


def check_rows() -> list[tuple[str, frozenset]]:
    """One row per distinct set of measurements a traceable check reads, named by its checks."""
    by_needs: dict[frozenset, list[str]] = {}
    for check in all_checks():
        if check.measures:
            by_needs.setdefault(frozenset(check.measures), []).append(check.name)
    return [(", ".join(names), needs) for needs, names in sorted(by_needs.items(), key=lambda item: len(closure(item[0])))]


def models(folder: Path, device: torch.device):
    """(name, make the trace's model, its IR graph, the torch module, its input) per model."""
    source = folder / "mlp.py"
    source.write_text(MLP_SOURCE)
    project = Project({source: "mlp.py"})
    graph = analyze(project.load(source), project).graphs[0]
    mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    yield "mlp", "small MLP (source)", lambda: BuiltGraph(graph, device), graph, mlp.to(device), torch.randn(8, 64, device=device)
    exports = [("onnx-mlp", "small MLP (ONNX)", mlp.cpu(), (1, 64), True)]
    net = resnet50().eval()
    exports += [("resnet-folded", "ResNet-50 (ONNX, BN folded)", net, (1, 3, 224, 224), True),
                ("resnet-bn", "ResNet-50 (ONNX, BN nodes)", net, (1, 3, 224, 224), False)]
    for key, name, module, shape, folding in exports:
        path = folder / f"{key}.onnx"
        torch.onnx.export(module.cpu(), (torch.randn(*shape),), str(path), dynamo=False,
                          do_constant_folding=folding, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        onnx_graph = convert(load(path), path.name, None).graphs[0]
        yield (key, name, lambda g=onnx_graph: OnnxGraph(g, device), onnx_graph, module.to(device),
               torch.randn(8, *shape[1:], device=device))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads for torch (default: torch's); 1 steadies the numbers on a shared machine")
    parser.add_argument("--models", default="mlp,onnx-mlp,resnet-folded,resnet-bn",
                        help="which models, comma-separated (default: all four)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    rows = [("everything (--report)", ALL), *check_rows()]
    columns = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, name, build, graph, module, x in models(Path(tmp), device):
            if key not in args.models.split(","):
                continue
            forward = plain_forward(module, x)
            column = {}
            for label, needs in rows:
                print(f"{name}: {label}", file=sys.stderr)
                column[label] = paired(lambda n=needs: measure(build(), graph, device, needs=n), forward, args.repeat)
            column["rebuild alone"] = paired(build, forward, args.repeat)
            columns.append((name, column))
    print(f"device: {device}, batch 8, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeat}; trace time / one plain forward pass")
    width = max(len(label) for label, _ in rows) + 2
    print(f"{'':<{width}}" + "".join(f"{name:>30}" for name, _ in columns))
    for label in [label for label, _ in rows] + ["rebuild alone"]:
        print(f"{label:<{width}}" + "".join(f"{column[label][2]:>29.1f}x" for _, column in columns))
    print(f"{'(ms: full trace / forward)':<{width}}" + "".join(
        f"{column[rows[0][0]][0] * 1000:>20.1f} / {column[rows[0][0]][1] * 1000:.2f}" for _, column in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
