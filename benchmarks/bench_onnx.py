"""Speed and memory benchmark for nnlint on ONNX models, against onnx.load.

Linting an ONNX model should cost about what loading it costs: lint time
within 1.5x of ``onnx.load``, growing linearly with the number of nodes, and
peak memory within 1.5x of ``onnx.load``. This script checks all three in one run.

It builds, in a temporary folder, node-heavy graphs (default about 10k, 100k
and 1M nodes of a repeating MLP block with tiny shared 4x4 weights), a graph
of ~100k nodes with its own small weight and bias per block (66,668 initializers),
a model with ~1.3 GB of He-scaled float32 Gemm weights stored inline, and one
with ~400 MB of such weights stored as external data in weights.bin. For each
file it runs, in separate processes:

  baseline  python -c "import onnx, sys; onnx.load(sys.argv[1])" FILE
            (for the external-data model this also reads the weights, which
            is the fair floor for any check that looks at them)
  nnlint    nnlint --no-color FILE

Each is run 3 times (``--runs``), interleaved with the others; the table shows the median wall
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
    .venv/bin/python benchmarks/bench_onnx.py [--sizes 10000,100000] [--small-inits 100000]
        [--inline-mb 1300] [--weights-mb 400] [--tmp FOLDER] [--compare OTHER_NNLINT]
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


def small_inits(path, approx_nodes):
    """Blocks of Relu(x@W_i + b_i), each with its own 4x4 weight and bias: 3 nodes and 2
    initializers a block (100k nodes: 66,668 small initializers), the shape of an unrolled
    or many-headed export where every tensor is tiny and the per-tensor cost is what counts."""
    rng = np.random.default_rng(0)
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", DIM]) for n in ("x", "y")]
    model = make_model("small_inits", io[:1], io[1:], [])
    nodes, inits, x, make = model.graph.node, model.graph.initializer, "x", helper.make_node
    for i in range(max(1, approx_nodes // 3)):
        p = f"b{i}_"
        inits.extend([numpy_helper.from_array((rng.standard_normal((DIM, DIM)) * 0.7).astype(np.float32), p + "W"),
                      numpy_helper.from_array(np.full(DIM, 0.01, np.float32), p + "b")])
        nodes.extend([make("MatMul", [x, p + "W"], [p + "mm"], name=p + "mm"),
                      make("Add", [p + "mm", p + "b"], [p + "add"], name=p + "add"),
                      make("Relu", [p + "add"], [p + "out"], name=p + "relu")])
        x = p + "out"
    nodes.append(make("Identity", [x], ["y"], name="out"))
    onnx.save_model(model, path)
    return len(nodes)


def _varint(value):
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def inline_heavy(path, weights_mb, width=4096):
    """Gemm+Relu layers of He-scaled width x width float32 weights stored inline (raw_data),
    as exporters write a model under 2 GB. Written field by field, one weight at a time, so
    the generator never holds the model: a ModelProto is its fields' encodings one after the
    other, and a repeated field is its elements' (tag 5 of GraphProto, initializer)."""
    layers = max(1, round(weights_mb * MB / (width * width * 4)))
    nodes, x = [], "x"
    for i in range(layers):
        nodes += [helper.make_node("Gemm", [x, f"W{i}", f"B{i}"], [f"gemm{i}"], name=f"gemm{i}", transB=1),
                  helper.make_node("Relu", [f"gemm{i}"], [f"h{i}"], name=f"relu{i}")]
        x = f"h{i}"
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", width]) for n in ("x", x)]
    biases = [numpy_helper.from_array(np.zeros(width, np.float32), f"B{i}") for i in range(layers)]
    head = make_model("inline_heavy", io[:1], io[1:], biases)
    head.graph.node.extend(nodes)
    graph = head.graph.SerializeToString()
    head.ClearField("graph")

    def weight(i, data):
        return TensorProto(name=f"W{i}", dims=[width, width], data_type=TensorProto.FLOAT, raw_data=data)

    sizes = [weight(i, bytes(width * width * 4)).ByteSize() for i in range(layers)]
    length = len(graph) + sum(1 + len(_varint(n)) + n for n in sizes)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(head.SerializeToString())
        f.write(b"\x3a" + _varint(length) + graph)  # field 7 (graph), length-delimited
        for i in range(layers):
            w = rng.standard_normal((width, width), dtype=np.float32)
            w *= np.float32(math.sqrt(2.0 / width))
            data = weight(i, w.tobytes()).SerializeToString()
            del w
            f.write(b"\x2a" + _varint(len(data)) + data)  # field 5 of GraphProto (initializer)
            del data
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


def measure(cmds, python, runs):
    """For each of ``cmds``: median seconds, max peak RSS (MB), exit codes and first stderr
    line over ``runs`` runs, the commands interleaved (run 1 of each, then run 2 of each...)
    so that a change in the machine's load falls on all of them alike."""
    results = [([], [], set(), "") for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            res = subprocess.run([python, "-c", LAUNCHER, *cmd], capture_output=True, text=True, env=ENV)
            seconds, maxrss_kb, rc = res.stdout.split()
            times, rss, codes, err = results[i]
            times.append(float(seconds))
            rss.append(int(maxrss_kb) / 1024)
            codes.add(int(rc))
            results[i] = (times, rss, codes, err or next(iter(res.stderr.splitlines()), ""))
    return [(statistics.median(t), max(r), sorted(c), e) for t, r, c, e in results]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnlint", default=str(Path(sys.executable).with_name("nnlint")),
                        help="nnlint executable (default: next to this python)")
    parser.add_argument("--compare", help="a second nnlint executable (say, of the code before a change), run "
                                          "interleaved with the first; its ratios are printed too")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="approximate node counts, comma-separated")
    parser.add_argument("--small-inits", type=int, default=100000,
                        help="approximate nodes of the model with 2 small initializers per 3 nodes (0: none)")
    parser.add_argument("--inline-mb", type=float, default=1300, help="inline weights of the weight-heavy model "
                        "(default 1300; it needs about 3x that in memory while measured; 0: none)")
    parser.add_argument("--weights-mb", type=float, default=400, help="weights of the external-data model (default 400)")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    parser.add_argument("--tmp", help="folder for the generated models (default: a temporary folder)")
    args = parser.parse_args()
    for exe in filter(None, (args.nnlint, args.compare)):
        if not os.access(exe, os.X_OK):
            print(f"Not found or not executable: {exe} (pip install -e . in the venv, or pass --nnlint)", file=sys.stderr)
            return 2
    if args.tmp and not os.path.isdir(args.tmp):
        print(f"--tmp: not a folder: {args.tmp}", file=sys.stderr)
        return 2
    python = sys.executable
    lints = [[args.nnlint, "--no-color"]] + ([[args.compare, "--no-color"]] if args.compare else [])

    with tempfile.TemporaryDirectory(prefix="bench_onnx_", dir=args.tmp) as tmp:
        models = []  # (label, path, nodes)
        generators = [(f"nodes~{size}", f"nodes_{size}.onnx", node_heavy, size)
                      for size in (int(s) for s in args.sizes.split(",") if s.strip())]
        if args.small_inits > 0:
            generators.append((f"inits~{args.small_inits}", "small_inits.onnx", small_inits, args.small_inits))
        if args.inline_mb > 0:
            generators.append(("inline", "inline.onnx", inline_heavy, args.inline_mb))
        for label, name, generate, size in generators:
            path = os.path.join(tmp, name)
            start = time.perf_counter()
            n = generate(path, size)
            print(f"generated {name}: {n} nodes, {os.path.getsize(path) / MB:.0f} MB in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
            if n <= 20000 and label != "inline":
                onnx.checker.check_model(path)
            models.append((label, path, n))
        if args.weights_mb > 0:
            path = os.path.join(tmp, "weights.onnx")
            start = time.perf_counter()
            n = weight_heavy(path, args.weights_mb)
            print(f"generated {Path(path).name} + weights.bin in {time.perf_counter() - start:.1f} s", flush=True)
            onnx.checker.check_model(path)
            models.append(("weights", path, n))

        [(seconds, rss, _, _)] = measure([[python, "-c", "import onnx"]], python, args.runs)
        print(f"\nfixed cost: python -c 'import onnx' {seconds:.2f} s, {rss:.0f} MB peak RSS")
        print(f"median time of {args.runs} interleaved runs, max peak RSS over them; goals: ratios <= 1.5x"
              + ("; 'cmp' columns: --compare" if args.compare else "") + "\n")
        print(f"{'model':<14}{'nodes':>9}{'file MB':>9}{'ext MB':>8}{'load s':>8}{'nnlint s':>9}{'ratio':>7}"
              f"{'load MB':>9}{'nnlint MB':>10}{'ratio':>7}" + (f"{'cmp s':>8}{'ratio':>7}{'cmp MB':>8}{'ratio':>7}"
                                                               if args.compare else ""))
        per_node, notes = [], []
        for label, path, n in models:
            ext_mb = Path(path).with_name("weights.bin").stat().st_size / MB if label == "weights" else 0.0
            base, *lint = measure([[python, "-c", BASELINE, path]] + [[*cmd, path] for cmd in lints], python, args.runs)
            line = f"{label:<14}{n:>9}{os.path.getsize(path) / MB:>9.1f}{ext_mb:>8.0f}{base[0]:>8.2f}"
            for i, res in enumerate(lint):
                width = (9, 10) if i == 0 else (8, 8)
                line += f"{res[0]:>{width[0]}.2f}{res[0] / base[0]:>6.2f}x"
                if i == 0:
                    line += f"{base[1]:>9.0f}"
                line += f"{res[1]:>{width[1]}.0f}{res[1] / base[1]:>6.2f}x"
            print(line, flush=True)
            if base[2] != [0]:
                notes.append(f"{label}: onnx.load exit codes {base[2]}: {base[3]}")
            for res, cmd in zip(lint, lints):
                if not set(res[2]) <= {0, 1}:
                    notes.append(f"{label}: {cmd[0]} exit codes {res[2]}: {res[3]}")
                elif "skipped" in res[3]:
                    notes.append(f"{label}: {cmd[0]} did not lint the model: {res[3]}")
            if label.startswith("nodes"):
                per_node.append((n, base[0], lint[0][0]))
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
