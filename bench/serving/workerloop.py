"""Where one Python worker's time goes, on the benchmark's model and row, with no server:
scikit-learn's predict alone (as ceiling.py calls it); the worker's serve loop in process (frames read from memory,
replies written to /dev/null); and the worker as the server runs it, over its pipes, fed by
this process with 1 and with 2 requests in flight. What the loop adds to predict is the
worker's own Python; what the pipes add to the loop is their system calls and wake-ups.

Usage: python workerloop.py WORK_DIR [SECONDS], WORK_DIR being a directory `go run
./bench/serving --keep` kept (model/sklearn/gbc and model/expected.json). Prints one JSON
object, in microseconds a request and requests a second."""

import io
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "runtimes" / "python"))
import mlship_worker  # noqa: E402
import numpy as np  # noqa: E402

work, seconds = Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
model_dir = work / "model" / "sklearn" / "gbc"
row = json.loads((work / "model" / "expected.json").read_text())["rows"][0]
payload = np.array([row], dtype=np.float64).tobytes()
header = json.dumps({"op": "predict", "layout": "tensors", "inputs": [
    {"name": "input-0", "datatype": "FP64", "shape": [1, len(row)], "nbytes": len(payload)}]}, separators=(",", ":")).encode()
frame = struct.pack("<I", len(header)) + header + payload


def timed(step, n):
    """Microseconds a call of step over n calls, after n // 10 unmeasured."""
    for _ in range(n // 10):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n * 1e6


import mlflow.sklearn  # noqa: E402

worker = mlship_worker.Worker(str(model_dir))
sklearn_model = mlflow.sklearn.load_model(str(model_dir))  # as ceiling.py loads it
x = np.array([row], dtype=np.float64)
null = os.open(os.devnull, os.O_WRONLY)


def serve_loop_us(n):
    t = time.perf_counter()
    mlship_worker.serve(io.BufferedReader(io.BytesIO(frame * n), buffer_size=1 << 16), null, worker)
    return (time.perf_counter() - t) / n * 1e6


# Alternated, twice each, the lower kept: the machine's other load falls on both alike.
n = max(1000, int(seconds * 4000 / 2))
predict_us = loop_us = float("inf")
for _ in range(2):
    predict_us = min(predict_us, timed(lambda: sklearn_model.predict(x), n))
    loop_us = min(loop_us, serve_loop_us(n))


def over_pipes(in_flight):
    """Requests a second of the worker in its own process, fed over its stdin and stdout."""
    p = subprocess.Popen([sys.executable, str(ROOT / "runtimes" / "python" / "mlship_worker.py"), str(model_dir)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    rd, wfd = p.stdout, p.stdin.fileno()

    def reply():
        h = json.loads(rd.read(struct.unpack("<I", rd.read(4))[0]))
        rest = sum(o.get("nbytes", 0) for o in h.get("outputs", []) if isinstance(o, dict))
        if rest:
            rd.read(rest)
        return h

    if not reply().get("ok"):
        raise SystemExit("the worker did not load the model")
    for _ in range(in_flight):
        os.write(wfd, frame)
    done, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        if not reply().get("ok"):
            raise SystemExit("the worker refused the request")
        os.write(wfd, frame)
        done += 1
    p.stdin.close()
    p.wait()
    return done / elapsed


print(json.dumps({
    "predict_us": round(predict_us, 1),
    "serve_loop_us": round(loop_us, 1),
    "worker_python_us": round(loop_us - predict_us, 1),
    "over_pipes_1_in_flight_per_s": round(over_pipes(1)),
    "over_pipes_2_in_flight_per_s": round(over_pipes(2)),
}))
