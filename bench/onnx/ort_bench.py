"""onnxruntime's side of bench/onnx: the same models, the same inputs, one thread.

    python ort_bench.py INPUTS.f32 ROWS FEATURES SECONDS MODEL.onnx...

INPUTS.f32 holds ROWS×FEATURES little-endian float32s, written by the Go side. Prints one
JSON object per model: load time, resident memory per session, latency per row at
batch 1 and rows per second at batch ROWS.
"""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def options():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.log_severity_level = 3
    return o


def timed(fn, seconds):
    """Calls fn until seconds have passed; returns calls and elapsed seconds."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


def bench(path, x, seconds):
    data = open(path, "rb").read()
    before = rss_bytes()
    copies = 10
    start = time.perf_counter()
    sessions = [ort.InferenceSession(data, options(), providers=["CPUExecutionProvider"])
                for _ in range(copies)]
    load_ms = (time.perf_counter() - start) / copies * 1e3
    mem = (rss_bytes() - before) / copies
    sess = sessions[0]
    name = sess.get_inputs()[0].name
    rows = [x[i:i + 1] for i in range(len(x))]
    for r in rows[:100]:
        sess.run(None, {name: r})
    i = 0

    def one():
        nonlocal i
        sess.run(None, {name: rows[i % len(rows)]})
        i += 1

    n, elapsed = timed(one, seconds)
    batch1_us = elapsed / n * 1e6
    sess.run(None, {name: x})
    n, elapsed = timed(lambda: sess.run(None, {name: x}), seconds)
    return {"model": os.path.basename(path), "load_ms": load_ms, "rss_bytes": mem,
            "batch1_us_per_row": batch1_us, "batch_rows_per_s": n * len(x) / elapsed,
            "version": ort.__version__}


def main():
    path, rows, features, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    x = np.fromfile(path, dtype="<f4").reshape(rows, features)
    for model in sys.argv[5:]:
        print(json.dumps(bench(model, x, seconds)), flush=True)


if __name__ == "__main__":
    main()
