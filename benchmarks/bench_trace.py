"""How long ``--trace`` takes per model, against one plain forward pass of the same model.

Three models: a small MLP rebuilt from source code (the IR path), and a ResNet-50-sized CNN
exported to ONNX twice (the executor path, 25.6M parameters, 224x224 inputs): as
``torch.onnx.export`` writes an eval-mode model by default, batch norm folded into the
convolutions (a graph that computes the same in both modes, so its training pass serves as its
evaluation pass), and with constant folding off, 53 BatchNormalization nodes kept (both passes
run, and the batch of one). For each, in one run and on one device: the trace (rebuild + every
measurement: training pass with backward and optimizer step, evaluation passes, zero-input and
dropout probes, the x1..x1000 scale sweep, a batch of one) against one plain ``model(x)`` of
the torch module at the trace's batch of 8, both after torch is imported and after a warm-up,
timed alternately so that a busy machine slows both alike. Prints medians and the median of
the per-pair ratios; the goal is at most 10x.

    python benchmarks/bench_trace.py [--device cuda] [--repeat N] [--threads N]
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
from nnlint.trace.build import BuiltGraph
from nnlint.trace.measure import measure
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads for torch (default: torch's); 1 steadies the numbers on a shared machine")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "mlp.py"
        source.write_text(MLP_SOURCE)
        project = Project({source: "mlp.py"})
        graph = analyze(project.load(source), project).graphs[0]
        mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).to(device).eval()
        rows = [("small MLP (source)", *paired(lambda: measure(BuiltGraph(graph, device), graph, device),
                                               plain_forward(mlp, torch.randn(8, 64, device=device)), args.repeat))]

        net = resnet50().eval()
        x = torch.randn(8, 3, 224, 224, device=device)
        for name, folding in (("ResNet-50 (ONNX, BN folded)", True), ("ResNet-50 (ONNX, BN nodes)", False)):
            path = folder / "resnet50.onnx"
            torch.onnx.export(net.cpu(), (torch.randn(1, 3, 224, 224),), str(path), dynamo=False,
                              do_constant_folding=folding, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
            onnx_graph = convert(load(path), "resnet50.onnx", None).graphs[0]
            rows.append((name, *paired(lambda g=onnx_graph: measure(OnnxGraph(g, device), g, device),
                                       plain_forward(net.to(device), x), args.repeat)))
    print(f"device: {device}, batch 8, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeat}")
    print(f"{'model':<30}{'trace':>10}{'forward':>10}{'ratio':>8}")
    for name, trace, forward, ratio in rows:
        print(f"{name:<30}{trace * 1000:>8.1f}ms{forward * 1000:>8.1f}ms{ratio:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
