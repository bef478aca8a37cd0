"""How long ``--trace`` takes per model, against one plain forward pass of the same model.

The issue's bar: per model, excluding torch's import, at most 10x one plain forward pass or
25 ms, whichever is larger, on the same device. What is timed is the whole per-model trace as
``nnlint --trace`` runs it: ``trace_findings`` on the findings of a lint of the model's file
(the lint itself is done once, before the clock), so the rebuild, the measurements its
findings' checks read, and the counterfactual second measurement of each finding's remedy
(``Check.remedy``: the final activation removed, the dropout rate inverted, a sane learning
rate) are all in it. Each model carries findings whose checks have remedies.

Two models, each written by this script into a temporary folder (no path is read): a small
MLP as source code (the IR path: its layers constructed and initialised as torch does), and a
ResNet-50-sized CNN (25.6M parameters, 224x224 inputs) with a dropout head, exported to ONNX
as torch recommends for training (``TrainingMode.TRAINING``, constant folding off: its Dropout
and 53 BatchNormalization nodes are kept; an eval-mode export drops the Dropout, and with it
the finding, so the trace would have nothing to do). Each against one plain ``model(x)`` of the same torch
module at the trace's batch of 8, both after torch is imported and after a warm-up, timed
alternately so that a busy machine slows both alike. ``--report`` times the trace with every
measurement (what ``--report`` takes) as well.

    python benchmarks/bench_trace.py [--device cuda] [--repeat N] [--threads N] [--models mlp,resnet] [--report]
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

from nnlint.config import Settings
from nnlint.engine import lint, selected_checks
from nnlint.trace.run import TraceOptions, trace_findings

#: The bar: the trace takes at most this many plain forward passes, or FLOOR_S, whichever is larger
RATIO, FLOOR_S = 10, 0.025

MLP_SOURCE = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.9), nn.Linear(256, 256), nn.ReLU(),
                      nn.Linear(256, 1), nn.ReLU())
optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
criterion = nn.MSELoss()
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""


def mlp() -> nn.Module:
    """The module MLP_SOURCE builds."""
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.9), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 1), nn.ReLU())


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
    """ResNet-50's layers, with a head that drops 90% (a keep probability passed as the rate):
    a finding the trace measures against its remedy."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(inplanes, planes, stride if i == 0 else 1))
            inplanes = planes * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.9), nn.Linear(2048, 1000)]
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


def models(folder: Path, device: torch.device, wanted: set[str]):
    """(key, name, the model's file, the torch module, its input) per model wanted."""
    if "mlp" in wanted:
        source = folder / "mlp.py"
        source.write_text(MLP_SOURCE)
        yield "mlp", "small MLP (source)", source, mlp().eval().to(device), torch.randn(8, 64, device=device)
    if "resnet" in wanted:
        path = folder / "resnet.onnx"
        net = resnet50()
        torch.onnx.export(net, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                          input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        yield "resnet", "ResNet-50 (ONNX, training)", path, net.eval().to(device), torch.randn(8, 3, 224, 224, device=device)


def traced_run(path: Path, device: torch.device, report: bool):
    """The file linted once; the returned call runs ``--trace`` on its findings, as the CLI does."""
    settings = Settings()
    subjects: dict = {}
    findings = lint([str(path)], settings, selected_checks(settings), subjects=subjects).findings
    options = TraceOptions(device=str(device), report=report)

    def run() -> list:
        return trace_findings(findings, subjects, options)[0]

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads for torch (default: torch's); 1 steadies the numbers on a shared machine")
    parser.add_argument("--models", default="mlp,resnet", help="which models, comma-separated (default: both)")
    parser.add_argument("--report", action="store_true", help="also time the trace with every measurement (--report)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    modes = [("--trace", False)] + ([("--trace --report", True)] if args.report else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, name, path, module, x in models(Path(tmp), device, set(args.models.split(","))):
            forward = plain_forward(module, x)
            for label, report in modes:
                run = traced_run(path, device, report)
                verdicts = ", ".join(f"{f.code} {f.trace['status']}" for f in run() if f.trace)
                print(f"{name} {label}: {verdicts}", file=sys.stderr)
                rows.append((name, label, *paired(run, forward, args.repeat)))
    print(f"device: {device}, batch 8, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeat}; bar: trace <= max({RATIO}x forward, {FLOOR_S * 1000:.0f} ms)")
    print(f"{'model':<30}{'mode':<18}{'trace ms':>10}{'forward ms':>12}{'ratio':>8}{'bar ms':>9}  meets")
    for name, label, trace_s, forward_s, ratio in rows:
        bar = max(RATIO * forward_s, FLOOR_S)
        print(f"{name:<30}{label:<18}{trace_s * 1000:>10.1f}{forward_s * 1000:>12.2f}{ratio:>7.1f}x"
              f"{bar * 1000:>9.1f}  {'yes' if trace_s <= bar else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
