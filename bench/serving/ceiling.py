"""The most one Python process answers for the benchmark's model with batches of one row: the
model loaded as a server's scikit-learn runtime loads it (mlflow.sklearn.load_model) and its
predict called on the measured row in a loop, with no server, no HTTP and no decoding. A server
with one Python worker and batches of one answers no more requests a second than this loop makes
calls: each request costs it this call and more around it.

Usage: python ceiling.py MODEL_DIR ROW_JSON SECONDS; prints one JSON object."""

import json
import sys
import time

import mlflow.sklearn
import numpy as np

model_dir, row, seconds = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
model = mlflow.sklearn.load_model(model_dir)
x = np.array([row], dtype=np.float64)
for _ in range(200):  # warm-up: first calls allocate and import lazily
    model.predict(x)
calls, cpu0, t0 = 0, time.process_time(), time.perf_counter()
while (elapsed := time.perf_counter() - t0) < seconds:
    for _ in range(100):
        model.predict(x)
    calls += 100
cpu = time.process_time() - cpu0
print(json.dumps({"calls_per_s": calls / elapsed, "cpu_ms_per_call": 1000 * cpu / calls, "calls": calls}))
