"""How long ``--trace`` takes per model, against one plain forward pass of the same model.

Two models: a small MLP rebuilt from source code (the IR path), and a ResNet-50-sized CNN
exported to ONNX (the executor path, 25.6M parameters, 224x224 inputs). For each, in one run
and on one device: the trace (rebuild + every measurement: training pass with backward and
optimizer step, evaluation passes, zero-input and dropout probes, the x1..x1000 scale sweep,
a batch of one) against one plain ``model(x)`` at the trace's batch of 8, both timed after
torch is imported and after a warm-up. Prints the ratio; the goal is at most 10x.

    python benchmarks/bench_trace.py [--device cuda]
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


def timed(fn, repeat: int) -> float:
    fn()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain_forward(model: nn.Module, x: torch.Tensor):
    def run() -> None:
        with torch.no_grad():
            model(x)
    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "mlp.py"
        source.write_text(MLP_SOURCE)
        project = Project({source: "mlp.py"})
        graph = analyze(project.load(source), project).graphs[0]
        mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).to(device).eval()
        rows = [("small MLP (source)", timed(lambda: measure(BuiltGraph(graph, device), graph, device), args.repeat),
                 timed(plain_forward(mlp, torch.randn(8, 64, device=device)), args.repeat))]

        net = resnet50().eval()
        path = folder / "resnet50.onnx"
        torch.onnx.export(net, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        loaded = load(path)
        onnx_graph = convert(loaded, "resnet50.onnx", None).graphs[0]
        net = net.to(device)
        rows.append(("ResNet-50 (ONNX)", timed(lambda: measure(OnnxGraph(onnx_graph, device), onnx_graph, device), args.repeat),
                     timed(plain_forward(net, torch.randn(8, 3, 224, 224, device=device)), args.repeat)))
    print(f"device: {device}, batch 8, torch {torch.__version__}, median of {args.repeat}")
    print(f"{'model':<22}{'trace':>10}{'forward':>10}{'ratio':>8}")
    for name, trace, forward in rows:
        print(f"{name:<22}{trace * 1000:>8.1f}ms{forward * 1000:>8.1f}ms{trace / forward:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
