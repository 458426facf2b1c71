"""Records what MLflow's scoring server makes of request bodies, for conformance_test.go.

Run with a Python that has mlflow (3.x), pandas and numpy:

    python oracle.py > conformance.jsonl

Each line holds a case (content type and body) and MLflow's answer: the data the model
would be given (a DataFrame's columns, an array, or a dict of arrays, with dtypes and
values) and the params, or the status, error code and message of the error. A case may
carry a deviation: why mlship answers differently on purpose.
"""

import json
import math
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ErrorCode
from mlflow.pyfunc import scoring_server

CASES = [
    # Content types.
    ("application/json", '{"inputs": [1, 2]}', None),
    ("application/json; charset=utf-8", '{"inputs": [1, 2]}', None),
    ("application/json; charset=UTF-8", '{"inputs": [1, 2]}', None),
    ("application/json; charset=latin-1", '{"inputs": [1, 2]}', None),
    ("application/json; format=pandas-split", '{"inputs": [1, 2]}', None),
    ("text/plain", "1,2", None),
    ("application/python-pickle", "x", None),
    ("application/x-www-form-urlencoded", "a=1", None),
    ("text/csv", "a,b\n1,2\n", None),
    ("text/csv; charset=utf-8", "a,b\n1,2\n", None),
    ("application/csv", "a,b\n1,2\n", "MLflow's documentation names application/csv but its code refuses it; mlship reads it as CSV"),
    ("application/vnd.apache.parquet", "PAR1", "mlship does not read Parquet"),
    # The envelope.
    ("application/json", "[1, 2]", None),
    ("application/json", "1", None),
    ("application/json", '"a"', None),
    ("application/json", "{}", None),
    ("application/json", '{"foo": [1]}', None),
    ("application/json", '{"inputs": [1], "instances": [1]}', None),
    ("application/json", '{"dataframe_split": {"data": [[1]]}, "dataframe_records": [{"a": 1}]}', None),
    ("application/json", '{"inputs": [1], "params": {"k": 1, "t": "x"}}', None),
    ("application/json", '{"inputs": [1], "foo": "ignored"}', None),
    ("application/json", '{"inputs": [1]', None),
    ("application/json", '{"messages": [{"role": "user", "content": "hi"}]}', "mlship does not serve MLflow's unwrapped LLM formats"),
    # dataframe_split.
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, true, "x"], [2, false, "y"]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [[1], [null]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [[null], [null]]}}', "an all-null column is FP64 NaN where pandas keeps objects"),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]], "index": [7]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]], "index": [7, 8]}}', "pandas repeats a single row to fill a longer index; mlship refuses an index of another length"),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]], "index": [7]}}', None),
    ("application/json", '{"dataframe_split": {"data": [[1, 2], [3]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [1, 2]}}', None),
    ("application/json", '{"dataframe_split": {"data": [[1, 2], [3, 4]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "extra": 1, "data": [[1]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"]}}', None),
    ("application/json", '{"dataframe_split": [[1, 2]]}', None),
    ("application/json", '{"dataframe_split": 5}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [["x"], [1]]}}', "pandas keeps a column of strings and numbers as objects; mlship refuses it"),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [["x"], [null]]}}', "pandas keeps None in a column of strings; a tensor of strings cannot hold it"),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [[1e400], [-1.5e-7]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a"], "data": [[NaN], [Infinity]]}}', None),
    ("application/json", '{"dataframe_split": {"columns": ["a", "b"], "data": []}}', "pandas makes columns of objects without rows; mlship makes them FP64"),
    # dataframe_records.
    ("application/json", '{"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}', None),
    ("application/json", '{"dataframe_records": [{"b": 1.5, "a": 1}, {"a": 2, "c": 3}]}', None),
    ("application/json", '{"dataframe_records": [{"a": true}, {"a": false}]}', None),
    ("application/json", '{"dataframe_records": {"a": 1}}', None),
    ("application/json", '{"dataframe_records": "x"}', None),
    ("application/json", '{"dataframe_records": [{"a": [1, 2]}]}', "pandas keeps a list in a cell; mlship's columns hold scalars"),
    # instances.
    ("application/json", '{"instances": [[1, 2], [3, 4]]}', None),
    ("application/json", '{"instances": [1.5, 2]}', None),
    ("application/json", '{"instances": ["a", "b"]}', None),
    ("application/json", '{"instances": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4}]}', None),
    ("application/json", '{"instances": [{"a": [1, 2]}, {"a": [3, 4]}]}', None),
    ("application/json", '{"instances": [{"a": 1, "b": 2}, {"a": 3}]}', None),
    ("application/json", '{"instances": [[1, 2], [3]]}', None),
    # inputs.
    ("application/json", '{"inputs": [[1, 2, 3], [4, 5, 6]]}', None),
    ("application/json", '{"inputs": [[1.0, 2], [3, 4]]}', None),
    ("application/json", '{"inputs": [true, false]}', None),
    ("application/json", '{"inputs": {"a": [1, 2], "b": [[0.5], [1.5]]}}', None),
    ("application/json", '{"inputs": {"a": [1, 2], "b": [1, 2, 3]}}', None),
    ("application/json", '{"inputs": 5}', None),
    ("application/json", '{"inputs": []}', None),
    ("application/json", '{"inputs": [[1, 2], [3]]}', None),
    ("application/json", '{"inputs": [1, null]}', "numpy keeps None among numbers as objects; mlship reads it as NaN"),
    # CSV.
    ("text/csv", "a,b,c\n1,2.5,x\n3,4,y\n", None),
    ("text/csv", "a,b\n1,\n2,3\n", None),
    ("text/csv", "a,b\nTrue,x\nFalse,\n", "pandas reads the empty field as NaN in a column of strings; mlship keeps it as an empty string"),
    ("text/csv", "a\nNA\n1.5\nnan\n", None),
    ("text/csv", "a,b\n1,2\n3,4,5\n", None),
    ("text/csv", "a,b\n1,2\n3\n", "pandas fills a short row with NaN; mlship refuses it"),
    ("text/csv", "a,b\n\n1,2\n\n3,4\n", None),
    ("text/csv", ",a,a\n0,1,2\n", None),
    ("text/csv", '"x,y",b\n"1,5",2\n', None),
    ("text/csv", "a\n1e3\n-2\n", None),
    ("text/csv", "a\n9223372036854775808\n", "pandas reads an integer over int64 as uint64; mlship as FP64"),
    ("text/csv", "a,b\n", "pandas makes columns of objects without rows; mlship makes them FP64"),
    ("text/csv", "", None),
    ("text/csv", 'a,b\n"multi\nline",1\n', None),
    ("text/csv", "a,b\n x , 1 \n", None),
    ("text/csv", "a\nTRUE\nfalse\n", None),
    ("text/csv", "a\n1\n2", None),
]


class Meta:
    def _is_signature_from_type_hint(self):
        return False

    def get_params_schema(self):
        return None


class Recorder:
    metadata = Meta()

    def predict(self, data, params=None):
        self.data, self.params = data, params
        return np.zeros(1)


def values(a):
    out = []
    for v in np.asarray(a, dtype=object).ravel().tolist():
        if isinstance(v, float) and not math.isfinite(v):
            v = repr(v)  # "nan", "inf", "-inf"
        elif isinstance(v, bytes):
            v = v.decode()
        out.append(v)
    return out


def array(name, a):
    a = np.asarray(a)
    return {"name": name, "dtype": str(a.dtype), "shape": list(a.shape), "values": values(a)}


def describe(data):
    # Column names are written with str(): pandas' default names are the integers 0, 1,
    # ..., which mlship gives as the strings "0", "1", ...
    if isinstance(data, pd.DataFrame):
        return {"kind": "columns", "tensors": [
            {"name": str(c), "dtype": str(data[c].dtype), "shape": [len(data)], "values": values(data[c].to_numpy())}
            for c in data.columns]}
    if isinstance(data, dict):
        return {"kind": "tensors", "tensors": [array(k, v) for k, v in data.items()]}
    return {"kind": "tensor", "tensors": [array("", data)]}


def run(content_type, body):
    model = Recorder()
    try:
        r = scoring_server.invocations(body.encode(), content_type, model, None)
    except MlflowException as e:
        code = e.error_code if isinstance(e.error_code, str) else ErrorCode.Name(e.error_code)
        return {"status": e.get_http_status_code(), "code": code, "message": e.message}
    if r.status != 200:
        return {"status": r.status, "message": r.response}
    out = describe(model.data)
    out["status"] = 200
    if model.params is not None:
        out["params"] = model.params
    return out


for content_type, body, deviation in CASES:
    line = {"content_type": content_type, "body": body, "mlflow": run(content_type, body)}
    if deviation:
        line["deviation"] = deviation
    sys.stdout.write(json.dumps(line) + "\n")
