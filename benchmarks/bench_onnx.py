"""Speed and memory benchmark for nnlint on ONNX models, against onnx.load.

Linting an ONNX model should cost about what loading it costs: lint time
within 1.5x of ``onnx.load``, growing linearly with the number of nodes, and
peak memory within 1.5x of ``onnx.load``. This script checks all three in one run.

It builds, in a temporary folder, node-heavy graphs (default about 10k, 100k
and 1M nodes of a repeating MLP block with tiny shared 4x4 weights) and one
weight-heavy model (default ~400 MB of He-scaled float32 Gemm weights stored
as external data in weights.bin). For each file it runs, in separate processes:

  baseline  python -c "import onnx, sys; onnx.load(sys.argv[1])" FILE
            (for the external-data model this also reads the weights, which
            is the fair floor for any check that looks at them)
  nnlint    nnlint --no-color FILE

Each is run 3 times (``--runs``) back to back; the table shows the median wall
time and the MAXIMUM peak RSS over the runs. ``python -c "import onnx"`` alone
is measured too: the fixed start-up cost both sides pay (nnlint pays its own
imports as well). Generation time is printed but is not part of any measurement.

Peak RSS is ``os.wait4``'s ru_maxrss of the measured process, spawned by a tiny
stdlib-only launcher, not by this script: Linux keeps the pre-exec high-water RSS
in a child's ru_maxrss, so children of this script (which peaks at ~0.6 GB while
building the 1M-node graph) would all report at least that. If nnlint ever lints
one file in several processes, ru_maxrss gives the largest, not the sum; the
launcher's own ~11 MB is the floor of every figure.
nnlint exits 1 when it reports findings, which is fine; other exit codes are
printed with the first line of stderr. The files are in the page cache after
generation, so no run pays for disk reads. This script does not import nnlint.

Usage (with the project's venv, so ``nnlint`` is found next to python):
    .venv/bin/python benchmarks/bench_onnx.py [--sizes 10000,100000] [--weights-mb 400]
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET, IR_VERSION, DIM = 17, 8, 4
MB = 2**20
BASELINE = "import onnx, sys; onnx.load(sys.argv[1])"
LAUNCHER = """\
import os, sys, time
out = os.open(os.devnull, os.O_WRONLY)
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, out, 1)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""
# As in bench_lint.py: let Python use and write .pyc caches the way users run it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["NO_COLOR"] = "1"


def make_model(name, inputs, outputs, initializers):
    graph = helper.make_graph([], name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="bench_onnx")
    model.ir_version = IR_VERSION
    return model


def node_heavy(path, approx_nodes):
    """Blocks of x + Dropout(LayerNorm(Relu(x@W1+b1)@W2+b2)), Softmax at the end; 8 nodes per block."""
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array((rng.standard_normal((DIM, DIM)) * 0.7).astype(np.float32), n) for n in ("W1", "W2")]
    init += [numpy_helper.from_array(np.full(DIM, v, np.float32), n) for n, v in
             (("b1", 0.01), ("b2", 0.01), ("gamma", 1.0), ("beta", 0.0))]
    init.append(numpy_helper.from_array(np.array(0.1, np.float32), "ratio"))
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", DIM]) for n in ("x", "y")]
    model = make_model("node_heavy", io[:1], io[1:], init)
    nodes, x, make = model.graph.node, "x", helper.make_node  # appended per block: no 1M-item list
    for i in range(max(1, approx_nodes // 8)):
        p = f"b{i}_"
        nodes.extend([make("MatMul", [x, "W1"], [p + "mm1"], name=p + "mm1"),
                      make("Add", [p + "mm1", "b1"], [p + "add1"], name=p + "add1"),
                      make("Relu", [p + "add1"], [p + "relu"], name=p + "relu"),
                      make("MatMul", [p + "relu", "W2"], [p + "mm2"], name=p + "mm2"),
                      make("Add", [p + "mm2", "b2"], [p + "add2"], name=p + "add2"),
                      make("LayerNormalization", [p + "add2", "gamma", "beta"], [p + "ln"], name=p + "ln", axis=-1),
                      make("Dropout", [p + "ln", "ratio"], [p + "drop"], name=p + "drop"),
                      make("Add", [x, p + "drop"], [p + "out"], name=p + "res")])
        x = p + "out"
    nodes.append(make("Softmax", [x], ["y"], name="softmax", axis=-1))
    onnx.save_model(model, path)
    return len(nodes)


def weight_heavy(path, weights_mb, layers=4):
    """Gemm+Relu layers of square He-scaled weights, streamed one at a time into weights.bin."""
    width = max(64, round(math.sqrt(weights_mb * MB / 4 / layers) / 64) * 64)
    rng = np.random.default_rng(0)
    nodes, init, x, offset = [], [], "x", 0
    with open(Path(path).with_name("weights.bin"), "wb") as f:
        for i in range(layers):
            w = rng.standard_normal((width, width), dtype=np.float32)
            w *= np.float32(math.sqrt(2.0 / width))
            f.write(w.data)
            tensor = TensorProto(name=f"W{i}", dims=w.shape, data_type=TensorProto.FLOAT,
                                 data_location=TensorProto.EXTERNAL)
            for key, value in (("location", "weights.bin"), ("offset", offset), ("length", w.nbytes)):
                tensor.external_data.add(key=key, value=str(value))
            offset += w.nbytes
            init += [tensor, numpy_helper.from_array(np.zeros(width, np.float32), f"B{i}")]
            nodes += [helper.make_node("Gemm", [x, f"W{i}", f"B{i}"], [f"gemm{i}"], name=f"gemm{i}", transB=1),
                      helper.make_node("Relu", [f"gemm{i}"], [f"h{i}"], name=f"relu{i}")]
            x = f"h{i}"
            del w
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", width]) for n in ("x", x)]
    model = make_model("weight_heavy", io[:1], io[1:], init)
    model.graph.node.extend(nodes)
    onnx.save_model(model, path)
    return len(nodes)


def measure(cmd, python, runs):
    """Median seconds, max peak RSS (MB), exit codes and first stderr line of ``cmd`` over ``runs`` runs."""
    times, rss, codes, err = [], [], set(), ""
    for _ in range(runs):
        res = subprocess.run([python, "-c", LAUNCHER, *cmd], capture_output=True, text=True, env=ENV)
        seconds, maxrss_kb, rc = res.stdout.split()
        times.append(float(seconds))
        rss.append(int(maxrss_kb) / 1024)
        codes.add(int(rc))
        err = err or next(iter(res.stderr.splitlines()), "")
    return statistics.median(times), max(rss), sorted(codes), err


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")),
                        help="nnlint executable (default: next to this python)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="approximate node counts, comma-separated")
    parser.add_argument("--weights-mb", type=float, default=400, help="weights of the external-data model (default 400)")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    args = parser.parse_args()
    if not os.access(args.nnlint, os.X_OK):
        print(f"Not found or not executable: {args.nnlint} (pip install -e . in the venv, or pass --nnlint)", file=sys.stderr)
        return 2
    nnlint, python = [args.nnlint, "--no-color"], sys.executable

    with tempfile.TemporaryDirectory(prefix="bench_onnx_") as tmp:
        models = []  # (label, path, nodes)
        for size in (int(s) for s in args.sizes.split(",") if s.strip()):
            path = os.path.join(tmp, f"nodes_{size}.onnx")
            start = time.perf_counter()
            n = node_heavy(path, size)
            print(f"generated {Path(path).name}: {n} nodes in {time.perf_counter() - start:.1f} s", flush=True)
            if n <= 20000:
                onnx.checker.check_model(path)
            models.append((f"nodes~{size}", path, n))
        if args.weights_mb > 0:
            path = os.path.join(tmp, "weights.onnx")
            start = time.perf_counter()
            n = weight_heavy(path, args.weights_mb)
            print(f"generated {Path(path).name} + weights.bin in {time.perf_counter() - start:.1f} s", flush=True)
            onnx.checker.check_model(path)
            models.append(("weights", path, n))

        seconds, rss, _, _ = measure([python, "-c", "import onnx"], python, args.runs)
        print(f"\nfixed cost: python -c 'import onnx' {seconds:.2f} s, {rss:.0f} MB peak RSS")
        print(f"median time of {args.runs} runs, max peak RSS over them; goals: ratios <= 1.5x\n")
        print(f"{'model':<14}{'nodes':>9}{'file MB':>9}{'ext MB':>8}{'load s':>8}{'nnlint s':>9}{'ratio':>7}"
              f"{'load MB':>9}{'nnlint MB':>10}{'ratio':>7}")
        per_node, notes = [], []
        for label, path, n in models:
            ext_mb = Path(path).with_name("weights.bin").stat().st_size / MB if label == "weights" else 0.0
            base = measure([python, "-c", BASELINE, path], python, args.runs)
            lint = measure([*nnlint, path], python, args.runs)
            print(f"{label:<14}{n:>9}{os.path.getsize(path) / MB:>9.1f}{ext_mb:>8.0f}{base[0]:>8.2f}{lint[0]:>9.2f}"
                  f"{lint[0] / base[0]:>6.2f}x{base[1]:>9.0f}{lint[1]:>10.0f}{lint[1] / base[1]:>6.2f}x", flush=True)
            if base[2] != [0]:
                notes.append(f"{label}: onnx.load exit codes {base[2]}: {base[3]}")
            if not set(lint[2]) <= {0, 1}:
                notes.append(f"{label}: nnlint exit codes {lint[2]}: {lint[3]}")
            elif "skipped" in lint[3]:
                notes.append(f"{label}: nnlint did not lint the model: {lint[3]}")
            if label != "weights":
                per_node.append((n, base[0], lint[0]))
        for note in notes:
            print("  " + note)

    if per_node:
        print("\nlinearity (ms per 1k nodes; 'marginal' is the slope from the previous size, so start-up cancels out)")
        slopes = []
        for i, (n, load_s, lint_s) in enumerate(per_node):
            line = f"  {n:>9} nodes: onnx.load {load_s / n * 1e6:7.2f}  nnlint {lint_s / n * 1e6:7.2f}"
            if i:
                dn, prev = n - per_node[i - 1][0], per_node[i - 1]
                slopes.append((lint_s - prev[2]) / dn * 1e6)
                line += f"   marginal: onnx.load {(load_s - prev[1]) / dn * 1e6:7.2f}  nnlint {slopes[-1]:7.2f}"
            print(line)
        if len(slopes) >= 2 and slopes[0] > 0:
            growth = slopes[-1] / slopes[0]
            print(f"  nnlint marginal cost, last/first interval: {growth:.2f}x (linear ~1x; > 1.5x looks superlinear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
