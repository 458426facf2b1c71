"""Models, deployments and clients shared by the serving tests: a scikit-learn regressor
with two registered versions, deployments by alias, and helpers that send and check requests."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from helpers import pinned, unique_name
from mlflow.models import infer_signature


REPO_ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 20
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
READY_TIMEOUT_S = 180
# Tree models hold sklearn's node storage, which skops loads only when trusted.
TRUSTED = ["sklearn.tree._tree.Tree"]


# --------------------------------------------------------------------------------------------
# Models and deployments
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=400, n_features=N_FEATURES, noise=0.5, random_state=0)
    return pd.DataFrame(X, columns=COLUMNS), y


def _fit(data, n_estimators):
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = data
    return GradientBoostingRegressor(n_estimators=n_estimators, max_depth=3, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def models(data):
    """Two different regressors: version 1 and version 2 of the served model."""
    return {"1": _fit(data, 20), "2": _fit(data, 40)}


def _log_version(name, model, X, experiment_id=None):
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            signature=infer_signature(X, model.predict(X)),
            skops_trusted_types=TRUSTED,
            pip_requirements=pinned("scikit-learn", "skops"),
        )
    return str(info.registered_model_version)


@pytest.fixture(scope="module")
def registered(server, models, data):
    """A registered model with versions 1 and 2; the alias production names version 1."""
    X, _ = data
    name = unique_name("regressor")
    client = mlflow.MlflowClient(server.url)
    for v in ("1", "2"):
        assert _log_version(name, models[v], X) == v
    client.set_registered_model_alias(name, "production", "1")
    return name


def deployment_url(server, name=""):
    return f"{server.url}/api/v1/deployments" + (f"/{name}" if name else "")


def create_deployment(server, spec) -> dict:
    r = requests.post(deployment_url(server), json=spec, timeout=30)
    assert r.status_code == 200, r.text
    return wait_ready(server, spec["name"])


def wait_ready(server, name, timeout=READY_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        d = requests.get(deployment_url(server, name), timeout=10).json()
        if d["status"]["state"] == "ready":
            return d
        assert d["status"]["state"] != "failed", d
        assert time.monotonic() < deadline, f"deployment not ready after {timeout}s: {d}"
        time.sleep(0.2)


def delete_deployment(server, name):
    requests.delete(deployment_url(server, name), timeout=60)


@pytest.fixture(scope="module")
def deployed(server, registered):
    """A deployment of registered@production, logging every payload."""
    name = unique_name("dep")
    create_deployment(
        server,
        {"name": name, "model": f"models:/{registered}@production", "workers": 2, "payload_log": {"sample_rate": 1}},
    )
    yield name
    delete_deployment(server, name)


def oip_infer(server, deployment, rows, version=None):
    body = {
        "id": "req-1",
        "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}],
    }
    path = f"/v2/models/{deployment}" + (f"/versions/{version}" if version else "") + "/infer"
    return requests.post(server.url + path, json=body, timeout=60)


def oip_values(resp):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["outputs"]) == 1, body
    return np.asarray(body["outputs"][0]["data"], dtype=np.float64), body


def _invocations(server, deployed, body, content_type="application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(
        server.url + f"/deployments/{deployed}/invocations",
        data=data,
        headers={"Content-Type": content_type},
        timeout=60,
    )


def _csv(df):
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


class Traffic:
    """Clients that send OIP requests back to back and check every answer."""

    def __init__(self, server, deployment, X, models, clients=4):
        self.server, self.deployment = server, deployment
        self.rows = X.to_numpy()[:3]
        self.expected = {v: m.predict(X.iloc[:3]).tolist() for v, m in models.items()}
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.versions: dict[str, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self):
        session = requests.Session()
        while not self.stop.is_set():
            body = {"inputs": [{"name": "x", "shape": [3, N_FEATURES], "datatype": "FP64", "data": self.rows.ravel().tolist()}]}
            try:
                r = session.post(f"{self.server.url}/v2/models/{self.deployment}/infer", json=body, timeout=60)
            except requests.RequestException as e:
                with self.lock:
                    self.failures.append(repr(e))
                continue
            with self.lock:
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code} {r.text[:300]}")
                    continue
                out = r.json()
                v = out.get("model_version")
                if out["outputs"][0]["data"] != self.expected.get(v):
                    self.failures.append(f"wrong answer from version {v}")
                self.versions[v] = self.versions.get(v, 0) + 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def count(self, version):
        with self.lock:
            return self.versions.get(version, 0)


def _wait(cond, what, timeout=READY_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
