"""Draws fresh inputs for every corpus model and runs onnxruntime on them.

    python reference.py MODELS_DIR SEED [ROWS] > cases.json

Writes a JSON list of cases (see cases.py). The Go tests run this with a new seed each
time and check that the engine gives onnxruntime's outputs.
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort

from cases import draw, run_case


def main():
    models_dir, seed = sys.argv[1], int(sys.argv[2])
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(os.path.join(models_dir, "manifest.json")) as f:
        manifest = json.load(f)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    cases = []
    for i, spec in enumerate(manifest["models"]):
        name = spec["name"]
        sess = ort.InferenceSession(os.path.join(models_dir, name + ".onnx"), opts,
                                    providers=["CPUExecutionProvider"])
        rng = np.random.default_rng([seed, i])
        n = rows or spec["rows"]
        feeds = {inp["name"]: draw(inp, n, rng) for inp in spec["inputs"]}
        cases.append(run_case(sess, name, feeds))
    json.dump(cases, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
