"""Custom pyfunc models (PythonModel) served by the Python worker: what such a model
computes is its own business, so requests are batched together only when the model says
its rows are independent, and its answers keep MLflow's shape, missing values included."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from helpers import pinned, unique_name

pytestmark = pytest.mark.mlship_only

READY_TIMEOUT_S = 180

CENTERED = '''
import mlflow
import pandas as pd


class Centered(mlflow.pyfunc.PythonModel):
    """Not row-wise: each row's answer depends on every row of the request."""

    def predict(self, context, model_input, params=None):
        x = model_input["x"].to_numpy(dtype=float)
        return x - x.mean()


mlflow.models.set_model(Centered())
'''

LABELS = '''
import mlflow
import numpy as np
import pandas as pd


class Labels(mlflow.pyfunc.PythonModel):
    """A string column with missing values beside a numeric one."""

    def predict(self, context, model_input, params=None):
        x = model_input["x"].to_numpy(dtype=float)
        label = pd.Series(["pos" if v > 0 else None for v in x], dtype=object)
        label[x < -1] = np.nan
        return pd.DataFrame({"label": label, "score": x * 2})


mlflow.models.set_model(Labels())
'''


def _pickled(tmp_path, code):
    """The model the code sets, as an instance pickled by value (loader mlflow.pyfunc.model),
    as a PythonModel defined in a notebook is logged."""
    import importlib.util

    import cloudpickle

    module_name = unique_name("model").replace("-", "_")
    script = tmp_path / f"{module_name}.py"
    script.write_text(code.replace("mlflow.models.set_model(", "MODEL = ("))
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)
    return module.MODEL


def _log(tmp_path, server, code, metadata=None) -> str:
    mlflow.set_tracking_uri(server.url)
    name = unique_name("pyfunc")
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=_pickled(tmp_path, code),
            registered_model_name=name,
            input_example=pd.DataFrame({"x": [1.0, 2.0]}),
            metadata=metadata,
            pip_requirements=pinned("mlflow", "cloudpickle"),
        )
    return name


def _deploy(server, model, **spec) -> str:
    dep = unique_name("pydep")
    r = requests.post(f"{server.url}/api/v1/deployments", json={"name": dep, "model": f"models:/{model}/1", **spec}, timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        d = requests.get(f"{server.url}/api/v1/deployments/{dep}", timeout=10).json()
        if d["status"]["state"] == "ready":
            return dep
        assert d["status"]["state"] != "failed" and time.monotonic() < deadline, d
        time.sleep(0.2)


def _max_batch(server, dep) -> int:
    return requests.get(f"{server.url}/v2/models/{dep}/config", timeout=10).json()["max_batch_size"]


def test_a_custom_model_is_not_batched_across_requests(server, tmp_path):
    dep = _deploy(server, _log(tmp_path, server, CENTERED), workers=1)
    try:

        def call(i):
            x = [float(i), float(2 * i + 1), float(i * i % 7)]
            r = requests.post(
                f"{server.url}/deployments/{dep}/invocations",
                json={"dataframe_split": {"columns": ["x"], "data": [[v] for v in x]}},
                timeout=120,
            )
            assert r.status_code == 200, r.text
            want = np.asarray(x) - np.mean(x)
            return np.allclose(r.json()["predictions"], want, rtol=0, atol=1e-12)

        with ThreadPoolExecutor(max_workers=64) as pool:
            own = list(pool.map(call, range(160)))
        assert own.count(False) == 0, f"{own.count(False)} of {len(own)} answers computed from other requests' rows"
        assert _max_batch(server, dep) == 0
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=60)


def test_a_model_that_declares_itself_row_wise_is_batched(server, tmp_path):
    dep = _deploy(server, _log(tmp_path, server, CENTERED, metadata={"mlship_batchable": True}), workers=1)
    try:
        assert _max_batch(server, dep) == 32
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=60)


def test_missing_strings_are_null_in_every_answer(server, tmp_path):
    """None in a string column is null, as MLflow's scoring server answers; NaN there is
    null too (MLflow writes a bare NaN, which is not JSON)."""
    dep = _deploy(server, _log(tmp_path, server, LABELS), workers=1)
    try:
        x = [1.0, 0.0, -2.0]
        r = requests.post(
            f"{server.url}/deployments/{dep}/invocations",
            json={"dataframe_split": {"columns": ["x"], "data": [[v] for v in x]}},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "predictions": [{"label": "pos", "score": 2.0}, {"label": None, "score": 0.0}, {"label": None, "score": -4.0}]
        }
        body = {"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": x}]}
        r = requests.post(f"{server.url}/v2/models/{dep}/infer", json=body, timeout=60)
        assert r.status_code == 200, r.text
        outs = {o["name"]: o for o in r.json()["outputs"]}
        assert outs["label"]["datatype"] == "BYTES"
        assert outs["label"]["data"] == ["pos", None, None]
        r = requests.post(f"{server.url}/v1/models/{dep}:predict", json={"instances": [{"x": v} for v in x]}, timeout=60)
        assert r.status_code == 200, r.text
        assert "nan" not in r.text
        assert [p["label"] for p in r.json()["predictions"]] == ["pos", None, None]
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=60)


ZIPS = '''
import mlflow
import pandas as pd


class Zips(mlflow.pyfunc.PythonModel):
    """Echoes a zip code beside a count, as the model was handed them."""

    def predict(self, context, model_input, params=None):
        return pd.DataFrame({
            "key": model_input["zip"] + "/" + model_input["rooms"].astype(str),
            "zip_type": [type(z).__name__ for z in model_input["zip"]],
        })


mlflow.models.set_model(Zips())
'''


def test_csv_is_read_with_the_signature_types(server, tmp_path):
    """MLflow reads CSV with the signature's types: zip codes in a string column stay
    strings, leading zeros and all; a field that is not its column's type is a 400 that
    names the row and the column."""
    mlflow.set_tracking_uri(server.url)
    name = unique_name("zips")
    example = pd.DataFrame({"zip": ["02139", "94110"], "rooms": [3, 4], "area": [50.5, 80.0]})
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=_pickled(tmp_path, ZIPS),
                                registered_model_name=name, input_example=example, pip_requirements=pinned("mlflow", "cloudpickle"))
    dep = _deploy(server, name)
    url = f"{server.url}/deployments/{dep}/invocations"
    csv = "zip,rooms,area\n02139,3,50.5\n00501,1,\n"
    r = requests.post(url, data=csv, headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [{"key": "02139/3", "zip_type": "str"}, {"key": "00501/1", "zip_type": "str"}]

    r = requests.post(url, data="zip,rooms,area\n02139,3,50.5\n00501,two,1\n", headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    assert 'row 2, column "rooms": "two" is not an integer' in r.json()["message"], r.text
