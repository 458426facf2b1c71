"""Records how MLflow's scoring server writes model results, for predictions_test.go.

Run with a Python that has mlflow (3.x), pandas and numpy:

    python predictions.py > predictions.jsonl

Each line holds a case name (predictions_test.go builds the same result as a runtime
response) and the body MLflow's predictions_to_json writes for it.
"""

import io
import json
import sys

import numpy as np
import pandas as pd
from mlflow.pyfunc.scoring_server import predictions_to_json

CASES = {
    "int64 vector": np.array([1, -2, 3], dtype=np.int64),
    "float64 matrix": np.array([[0.1, 1.0], [1e-7, 1e20]]),
    "float64 special": np.array([np.nan, np.inf, -np.inf, -0.0]),
    "float32 vector": np.array([0.1, 0.5, 3.4e38], dtype=np.float32),
    "bool vector": np.array([True, False]),
    "string vector": np.array(["a", "b\"c"]),
    "unicode strings": np.array(["\u00e9\U0001F600", "\x00\x7f\b\f\n/"]),
    "scalar": np.array(2.5),
    "int32 rank 3": np.arange(8, dtype=np.int32).reshape(2, 2, 2),
    "table": pd.DataFrame({"label": np.array([1, 0], dtype=np.int64), "score": [0.25, np.nan], "name": ["x", "y"]}),
    "table of float32 and bool": pd.DataFrame({"p": np.array([0.1, 0.2], dtype=np.float32), "\u00e9": [True, False]}),
    "table with list column": pd.DataFrame({"v": [np.array([1.0, 2.0]), np.array([3.0, 4.0])]}),
    "named series": pd.Series([1.5, 2.5], name="prediction"),
    "unnamed series": pd.Series([1, 2], dtype=np.int64),
    "dict": {"a": np.array([1, 2]), "b": np.array([[0.5], [1.5]])},
    "empty": np.zeros((0, 3)),
}

for name, result in CASES.items():
    out = io.StringIO()
    predictions_to_json(result, out)
    sys.stdout.write(json.dumps({"name": name, "mlflow": out.getvalue()}) + "\n")
