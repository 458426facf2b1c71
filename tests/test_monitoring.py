"""Drift monitoring on live traffic: a deployed model's payloads are profiled in windows and
compared with the registered dataset its training run logged; drift on the shifted columns
only, a webhook that fires once, gauges, and `mlship drift list`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import mlflow
import pytest
import requests
from helpers import mlship, pinned, unique_name
from mlflow.models import infer_signature

pytestmark = pytest.mark.mlship_only

SHIFTED = ["alcohol", "color_intensity", "proline"]



class Webhook:
    """A local HTTP server that records the drift notifications it receives."""

    def __init__(self):
        calls = self.calls = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/drift"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def webhook():
    w = Webhook()
    yield w
    w.close()


@pytest.fixture(scope="module")
def hook_server(tmp_path_factory):
    """A server allowed to call webhooks on loopback, where the test's receiver listens:
    by default the server refuses to connect to loopback and private addresses."""
    from conftest import Server

    srv = Server("mlship", tmp_path_factory.mktemp("hooks"), ["--allowed-outbound", "127.0.0.1/32"])
    srv.start()
    prev = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    yield srv
    mlflow.set_tracking_uri(prev)
    srv.stop()


def test_a_webhook_on_loopback_is_refused_by_default(server):
    for url in ["http://127.0.0.1:9/drift", "http://localhost:9/drift", "http://[::ffff:127.0.0.1]:9/drift",
                "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/hook", "http://0.0.0.0:9/drift"]:
        spec = {"name": unique_name("hooked"), "model": "models:/nothing/1", "monitoring": {"webhook": url}}
        r = requests.post(f"{server.url}/api/v1/deployments", json=spec, timeout=10)
        assert r.status_code == 400, (url, r.status_code, r.text)
        body = r.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "--allowed-outbound" in body["message"], body


def wait_windows(server, dep, n, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        ws = requests.get(f"{server.url}/api/v1/deployments/{dep}/drift?limit=100", timeout=10).json()["windows"]
        if len(ws) >= n:
            return ws
        assert time.monotonic() < deadline, f"{len(ws)} windows after {timeout}s, want {n}"
        time.sleep(0.2)


def test_live_traffic_drift_found_on_the_shifted_columns_only(hook_server, tmp_path, webhook):
    server = hook_server
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    frame = load_wine(as_frame=True).frame
    X = frame.drop(columns=["target"])
    data_name = unique_name("wine")
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    ds = json.loads(mlship(server, "data", "add", data_name, str(path), "-o", "json").stdout)

    model_name = unique_name("wine-clf")
    clf = LogisticRegression(max_iter=5000).fit(X, frame["target"])
    with mlflow.start_run():
        source = HTTPDatasetSource(url=f"{server.url}/api/v1/datasets/{data_name}/versions/1")
        mlflow.log_input(MetaDataset(source=source, name=data_name, digest=ds["mlflow_digest"]), context="training")
        mlflow.sklearn.log_model(clf, name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=model_name, signature=infer_signature(X, clf.predict(X)))

    dep = unique_name("monitored")
    mlship(
        server, "deploy", "create", dep, f"models:/{model_name}/1", "--workers", "1", "--wait", "3m",
        "--payload-sample-rate", "1", "--drift-window", "300ms", "--drift-min-rows", str(len(X)),
        "--drift-webhook", webhook.url,
    )  # fmt: skip

    def send(df):
        r = requests.post(
            f"{server.url}/deployments/{dep}/invocations", json={"dataframe_split": df.to_dict(orient="split")}, timeout=60
        )
        assert r.status_code == 200, r.text

    try:
        send(X)  # the training data itself: no drift
        first = wait_windows(server, dep, 1)[0]
        assert first["rows"] == len(X)
        assert first["drifted_columns"] == [] and first["dataset_drift"] is False, first
        assert first["reference"] == f"{data_name}/1"
        assert webhook.calls == []

        shifted = X.copy()
        for col in SHIFTED:
            shifted[col] = shifted[col] + 2 * shifted[col].std()
        send(shifted)
        second = wait_windows(server, dep, 2)[0]
        assert sorted(second["drifted_columns"]) == sorted(SHIFTED), second
        deadline = time.monotonic() + 20
        while not webhook.calls:
            assert time.monotonic() < deadline, "the webhook was not called"
            time.sleep(0.1)
        assert webhook.calls[0]["event"] == "drift_detected"
        assert sorted(webhook.calls[0]["window"]["drifted_columns"]) == sorted(SHIFTED)

        send(shifted)  # still drifting: no second call
        wait_windows(server, dep, 3)
        time.sleep(1)
        assert len(webhook.calls) == 1, webhook.calls

        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        assert f'mlship_drift_detected{{column="alcohol",deployment="{dep}"}} 1' in metrics
        assert f'mlship_drift_detected{{column="hue",deployment="{dep}"}} 0' in metrics
        listed = json.loads(mlship(server, "drift", "list", dep, "-o", "json").stdout)["windows"]
        assert len(listed) == 3 and listed[0]["report"]["columns"]
        table = mlship(server, "drift", "list", dep).stdout
        assert "alcohol" in table
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=60)
