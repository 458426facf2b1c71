"""Serving: deployments that follow an alias, driven by the clients users have.

A scikit-learn model is logged and registered with the mlflow client, deployed by alias,
and queried through the Open Inference Protocol (tritonclient, binary and JSON), MLflow's
/invocations (every input format) and KServe v1. Every answer must equal scikit-learn's
own prediction exactly.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from helpers import assert_mlflow_error, pinned, raw_request, unique_name
from mlflow.models import infer_signature

pytestmark = pytest.mark.mlship_only

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


# --------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------


def test_deployment_reports_what_it_serves(server, registered, deployed):
    d = requests.get(deployment_url(server, deployed), timeout=10).json()
    assert d["status"]["state"] == "ready"
    primary = d["status"]["models"][0]
    assert primary["role"] == "primary"
    assert primary["model"] == registered
    assert primary["version"] == "1"
    assert primary["runtime"] == "python"
    listed = requests.get(deployment_url(server), timeout=10).json()["deployments"]
    assert deployed in [x["name"] for x in listed]


def test_oip_json_equals_sklearn(server, deployed, models, data):
    X, _ = data
    rows = X.to_numpy()[:7]
    got, body = oip_values(oip_infer(server, deployed, rows))
    assert body["id"] == "req-1"
    assert body["model_name"] == deployed
    assert body["model_version"] == "1"
    assert got.tolist() == models["1"].predict(X.iloc[:7]).tolist()


def test_oip_metadata_health_and_config(server, deployed):
    assert requests.get(server.url + "/v2/health/live", timeout=10).status_code == 200
    assert requests.get(server.url + f"/v2/models/{deployed}/ready", timeout=10).status_code == 200
    meta = requests.get(server.url + "/v2", timeout=10).json()
    assert "binary_tensor_data" in meta["extensions"]
    m = requests.get(server.url + f"/v2/models/{deployed}", timeout=10).json()
    assert m["name"] == deployed
    assert "1" in m["versions"]
    cfg = requests.get(server.url + f"/v2/models/{deployed}/config", timeout=10)
    assert cfg.status_code == 200, cfg.text
    assert cfg.json()["name"] == deployed


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_equals_sklearn(server, deployed, models, data, binary):
    import tritonclient.http as httpclient

    X, _ = data
    rows = X.to_numpy()[10:42]
    client = httpclient.InferenceServerClient(url=f"{server.host}:{server.port}")
    assert client.is_server_live()
    assert client.is_model_ready(deployed)
    inp = httpclient.InferInput("input-0", list(rows.shape), "FP64")
    inp.set_data_from_numpy(rows, binary_data=binary)
    meta = client.get_model_metadata(deployed)
    out_name = meta["outputs"][0]["name"] if meta.get("outputs") else None
    outputs = [httpclient.InferRequestedOutput(out_name, binary_data=binary)] if out_name else None
    result = client.infer(deployed, inputs=[inp], outputs=outputs)
    name = out_name or result.get_response()["outputs"][0]["name"]
    got = result.as_numpy(name).reshape(-1)
    assert got.tolist() == models["1"].predict(X.iloc[10:42]).tolist()


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


@pytest.mark.parametrize(
    "fmt", ["dataframe_split", "dataframe_records", "instances", "inputs_columns", "inputs_rows", "csv"]
)
def test_invocations_every_format_equals_sklearn(server, deployed, models, data, fmt):
    X, _ = data
    df = X.iloc[50:59]
    bodies = {
        "dataframe_split": {"dataframe_split": df.to_dict(orient="split")},
        "dataframe_records": {"dataframe_records": df.to_dict(orient="records")},
        "instances": {"instances": df.to_dict(orient="records")},
        "inputs_columns": {"inputs": df.to_dict(orient="list")},
        "inputs_rows": {"inputs": df.to_numpy().tolist()},
    }
    if fmt == "csv":
        r = _invocations(server, deployed, _csv(df), "text/csv")
    else:
        r = _invocations(server, deployed, bodies[fmt])
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": models["1"].predict(df).tolist()}


def test_kserve_v1_equals_sklearn(server, deployed, models, data):
    X, _ = data
    df = X.iloc[60:65]
    r = requests.post(
        server.url + f"/v1/models/{deployed}:predict", json={"instances": df.to_numpy().tolist()}, timeout=60
    )
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == models["1"].predict(df).tolist()
    assert requests.get(server.url + f"/v1/models/{deployed}", timeout=10).json()["ready"] is True


def test_metrics_and_payload_log(server, deployed, data):
    X, _ = data
    oip_values(oip_infer(server, deployed, X.to_numpy()[:1]))
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert f'mlship_inference_requests_total{{deployment="{deployed}"' in text
    assert "mlship_inference_compute_duration_seconds_bucket" in text
    assert f'mlship_deployment_ready{{deployment="{deployed}"}} 1' in text
    deadline = time.monotonic() + 10
    while True:
        page = requests.get(deployment_url(server, deployed) + "/payloads?limit=1000", timeout=10).json()
        if page["payloads"]:
            break
        assert time.monotonic() < deadline, "no payload logged"
        time.sleep(0.1)
    rec = page["payloads"][-1]
    assert rec["version"] == "1" and rec["role"] == "primary"
    assert rec["request"]["inputs"][0]["shape"][-1] == N_FEATURES
    assert "outputs" in rec["response"]


# --------------------------------------------------------------------------------------------
# Following an alias
# --------------------------------------------------------------------------------------------


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


def test_alias_move_under_traffic_fails_no_request(server, registered, models, data):
    X, _ = data
    client = mlflow.MlflowClient(server.url)
    name = unique_name("follow")
    client.set_registered_model_alias(registered, "staging-" + name, "1")
    create_deployment(server, {"name": name, "model": f"models:/{registered}@staging-{name}", "workers": 1})
    try:
        with Traffic(server, name, X, models) as traffic:
            _wait(lambda: traffic.count("1") >= 20, "answers from version 1")
            client.set_registered_model_alias(registered, "staging-" + name, "2")
            _wait(lambda: traffic.count("2") >= 20, "answers from version 2")
            before = traffic.count("1")
            time.sleep(0.5)
            assert traffic.count("1") == before, "version 1 still answered after the switch"
        assert traffic.failures == [], traffic.failures[:5]
        d = requests.get(deployment_url(server, name), timeout=10).json()
        assert d["status"]["models"][0]["version"] == "2"
    finally:
        delete_deployment(server, name)


def _log_broken_version(name, tmp_path) -> str:
    """A version whose MLmodel names a loader module that does not exist."""
    model_dir = tmp_path / "broken-model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_no_such_module\n    python_version: \"3.11\"\n"
    )
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return str(mv.version)


def test_broken_version_leaves_the_old_one_serving(server, registered, models, data, tmp_path):
    X, _ = data
    client = mlflow.MlflowClient(server.url)
    name = unique_name("broken")
    client.set_registered_model_alias(registered, "canary-" + name, "1")
    create_deployment(server, {"name": name, "model": f"models:/{registered}@canary-{name}", "workers": 1})
    try:
        broken = _log_broken_version(registered, tmp_path)
        with Traffic(server, name, X, models, clients=2) as traffic:
            client.set_registered_model_alias(registered, "canary-" + name, broken)

            def failed():
                d = requests.get(deployment_url(server, name), timeout=10).json()
                return d["status"]["models"][0].get("error")

            _wait(failed, "the broken version's load error")
            time.sleep(0.3)
        assert traffic.failures == [], traffic.failures[:5]
        assert set(traffic.versions) == {"1"}
        d = requests.get(deployment_url(server, name), timeout=10).json()
        assert d["status"]["state"] == "ready"
        assert d["status"]["models"][0]["version"] == "1"
        assert "mlship_no_such_module" in d["status"]["models"][0]["error"]
        client.set_registered_model_alias(registered, "canary-" + name, "1")
    finally:
        delete_deployment(server, name)


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _worker_pids(server, model_marker="mlship_worker.py"):
    """The Python workers the server started: descendants, since each runs in a sandbox
    that the server starts (bubblewrap), whose processes stand between them."""
    out = subprocess.run(["pgrep", "-f", model_marker], capture_output=True, text=True).stdout.split()
    pids = []
    for pid in map(int, out):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap":
                continue  # the sandbox's own processes name the script too
        except OSError:
            continue
        p = _parent(pid)
        while p > 1 and p != server.proc.pid:
            p = _parent(p)
        if p == server.proc.pid:
            pids.append(pid)
    return pids


def test_worker_killed_under_traffic_is_replaced(server, registered, models, data):
    X, _ = data
    name = unique_name("kill")
    before = set(_worker_pids(server))
    create_deployment(server, {"name": name, "model": f"models:/{registered}/1", "workers": 2})
    try:
        mine = [p for p in _worker_pids(server) if p not in before]
        assert len(mine) == 2, mine
        with Traffic(server, name, X, models) as traffic:
            _wait(lambda: traffic.count("1") >= 20, "traffic")
            os.kill(mine[0], signal.SIGKILL)
            seen = traffic.count("1")
            _wait(lambda: traffic.count("1") >= seen + 50, "answers after the kill")
            _wait(lambda: len([p for p in _worker_pids(server) if p not in before]) == 2, "a replacement worker")
        assert traffic.failures == [], traffic.failures[:5]
        assert mine[0] not in _worker_pids(server)
    finally:
        delete_deployment(server, name)


def test_canary_and_shadow(server, registered, models, data):
    X, _ = data
    name = unique_name("split")
    create_deployment(
        server,
        {
            "name": name,
            "model": f"models:/{registered}/1",
            "workers": 1,
            "canary": {"model": f"models:/{registered}/2", "weight": 0.5},
            "shadow": {"model": f"models:/{registered}/2", "share": 1},
            "payload_log": {"sample_rate": 1},
        },
    )
    try:
        _wait(
            lambda: len(requests.get(deployment_url(server, name), timeout=10).json()["status"]["models"]) == 3
            and all(m.get("version") for m in requests.get(deployment_url(server, name), timeout=10).json()["status"]["models"]),
            "canary and shadow loaded",
        )
        versions = {}
        for _ in range(60):
            got, body = oip_values(oip_infer(server, name, X.to_numpy()[:2]))
            v = body["model_version"]
            assert got.tolist() == models[v].predict(X.iloc[:2]).tolist()
            versions[v] = versions.get(v, 0) + 1
        assert set(versions) == {"1", "2"}, versions
        deadline = time.monotonic() + 10
        while True:
            page = requests.get(deployment_url(server, name) + "/payloads?limit=1000", timeout=10).json()
            roles = {p["role"] for p in page["payloads"]}
            if "shadow" in roles:
                break
            assert time.monotonic() < deadline, roles
            time.sleep(0.1)
    finally:
        delete_deployment(server, name)


# --------------------------------------------------------------------------------------------
# R
# --------------------------------------------------------------------------------------------

_R_TRAIN = """
model <- lm(mpg ~ wt + hp, data = mtcars)
saveRDS(model, file.path(commandArgs(TRUE)[1], "model.rds"))
new <- data.frame(wt = c(2.5, 3.1, 4.2), hp = c(110, 150, 230))
writeLines(sprintf("%.17g", predict(model, newdata = new)), commandArgs(TRUE)[2])
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed (make deps installs r-base-core)")
def test_r_model_served_by_the_r_worker(server, tmp_path):
    model_dir = tmp_path / "rmodel"
    model_dir.mkdir()
    expected_path = tmp_path / "expected.txt"
    subprocess.run(["Rscript", "-e", _R_TRAIN, str(model_dir), str(expected_path)], check=True, timeout=120)
    expected = [float(x) for x in expected_path.read_text().split()]
    name = unique_name("rlm")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    client = mlflow.MlflowClient()
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    dep = unique_name("rdep")
    d = create_deployment(server, {"name": dep, "model": f"models:/{name}/{mv.version}", "workers": 1})
    try:
        assert d["status"]["models"][0]["runtime"] == "r"
        body = {"dataframe_split": {"columns": ["wt", "hp"], "data": [[2.5, 110], [3.1, 150], [4.2, 230]]}}
        r = _invocations(server, dep, body)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == expected
    finally:
        delete_deployment(server, dep)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def _infer_raw(server, deployment, body: bytes, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return raw_request(server, "POST", f"/v2/models/{deployment}/infer", body, h)


def _oip(shape, datatype, data, name="x"):
    return json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}).encode()


BAD_OIP = {
    "count_disagrees_with_shape": _oip([1, N_FEATURES], "FP64", [0.5] * (N_FEATURES - 1)),
    "string_in_fp64": _oip([1, 2], "FP64", ["a", "b"]),
    "unknown_datatype": _oip([1, 2], "FP128", [1, 2]),
    "negative_dim": _oip([-1, 2], "FP64", [1, 2]),
    "huge_dims": _oip([1 << 40, 1 << 40], "FP64", [1]),
    "ragged_nested": _oip([2, 2], "FP64", [[1, 2], [3]]),
    "deep_nesting": b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": ' + b"[" * 100000 + b"]" * 100000 + b"}]}",
    "not_json": b"\x80\x81 not json",
    "no_inputs": b"{}",
    "wrong_feature_count": _oip([1, 3], "FP64", [1, 2, 3]),
    "int_out_of_range": _oip([1], "INT8", [300]),
}


@pytest.mark.parametrize("case", sorted(BAD_OIP))
def test_bad_oip_requests_get_clear_4xx(server, deployed, data, case):
    r = _infer_raw(server, deployed, BAD_OIP[case])
    assert 400 <= r.status < 500, (r.status, r.body[:500])
    assert "error" in json.loads(r.body), r.body[:500]
    X, _ = data
    oip_values(oip_infer(server, deployed, X.to_numpy()[:1]))  # still serving


def test_binary_sizes_that_overrun_the_body(server, deployed):
    header = json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "parameters": {"binary_data_size": 64}}]}
    ).encode()
    r = _infer_raw(server, deployed, header + b"\0" * 16, {"Inference-Header-Content-Length": str(len(header))})
    assert r.status == 400, r.body[:300]


def test_unknown_models_are_404(server):
    for target in ("/v2/models/..%2F..%2Fx/infer", "/v2/models/nope/infer", "/v1/models/..%2Fx:predict"):
        r = raw_request(server, "POST", target, _oip([1], "FP64", [1]), {"Content-Type": "application/json"})
        assert r.status == 404, (target, r.status, r.body[:300])
    r = raw_request(server, "POST", "/deployments/..%2F..%2Fx/invocations", b"{}", {"Content-Type": "application/json"})
    assert r.status == 404, r.body[:300]


@pytest.mark.parametrize(
    "content_type,body,status",
    [
        ("application/python-pickle", b"\x80\x04K\x01.", 415),
        ("application/octet-stream", b"\x80\x04K\x01.", 415),
        ("application/json; format=pandas-split", b"{}", 415),
        ("application/json", b'{"dataframe_split": {"columns": ["a"], "data": [[1]]}, "inputs": [1]}', 400),
        ("application/json", b"[1, 2, 3]", 400),
        ("text/csv", b"a,b\n1,2\n3\n", 400),
    ],
)
def test_bad_invocations_get_mlflow_errors(server, deployed, content_type, body, status):
    r = raw_request(server, "POST", f"/deployments/{deployed}/invocations", body, {"Content-Type": content_type})
    assert r.status == status, r.body[:500]
    assert json.loads(r.body)["error_code"] == "BAD_REQUEST", r.body[:500]


def test_huge_body_is_413(server, deployed):
    big = b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [' + b"1," * (40 << 20) + b"1]}]}"
    try:
        r = _infer_raw(server, deployed, big)
        assert r.status == 413, r.body[:300]
    except (ConnectionError, socket.error):
        pass  # the server may close the connection while the client still sends
    assert requests.get(server.url + "/v2/health/live", timeout=10).status_code == 200


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def _mlship(server, *args, check=True):
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    p = subprocess.run([binary, *args, "--server", server.url], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_deploy_cli_create_list_show_delete(server, registered):
    name = unique_name("cli")
    out = json.loads(_mlship(server, "deploy", "create", name, f"models:/{registered}/1", "--workers", "1", "--wait", "3m", "-o", "json").stdout)
    assert out["status"]["state"] == "ready"
    listed = json.loads(_mlship(server, "deploy", "list", "-o", "json").stdout)["deployments"]
    assert name in [d["name"] for d in listed]
    table = _mlship(server, "deploy", "show", name).stdout
    assert "ready" in table and f"/v2/models/{name}/infer" in table
    _mlship(server, "deploy", "delete", name)
    missing = _mlship(server, "deploy", "show", name, check=False)
    assert missing.returncode == 3, (missing.returncode, missing.stderr)
    dup = _mlship(server, "deploy", "create", "../../x", f"models:/{registered}/1", check=False)
    assert dup.returncode != 0 and "invalid deployment name" in dup.stderr


def _raising_version(tmp_path) -> str:
    """Registers a pyfunc model whose loader raises, and returns models:/NAME/1."""
    model_dir = tmp_path / "raising-model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_raising_loader\n    code: code\n    python_version: \"3.11\"\n"
    )
    (model_dir / "code" / "mlship_raising_loader.py").write_text(
        "def _load_pyfunc(path):\n    raise RuntimeError('this model refuses to load')\n"
    )
    name = unique_name("raising")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return f"models:/{name}/1"


def test_deploy_cli_create_again_after_a_failed_load(server, registered, tmp_path):
    bad, good, name = _raising_version(tmp_path), f"models:/{registered}/1", unique_name("again")
    try:
        # --wait sees the load fail, and deletes what it created.
        p = _mlship(server, "deploy", "create", name, bad, "--workers", "1", "--wait", "3m", check=False)
        assert p.returncode != 0 and "this model refuses to load" in p.stderr, p.stderr
        assert "was deleted" in p.stderr, p.stderr
        assert _mlship(server, "deploy", "show", name, check=False).returncode == 3
        # --keep-failed keeps it; creating it again over the failed one replaces it.
        p = _mlship(server, "deploy", "create", name, bad, "--workers", "1", "--wait", "3m", "--keep-failed", check=False)
        assert p.returncode != 0 and "was deleted" not in p.stderr, p.stderr
        assert json.loads(_mlship(server, "deploy", "show", name, "-o", "json").stdout)["status"]["state"] == "failed"
        out = _mlship(server, "deploy", "create", name, good, "--workers", "1", "--wait", "3m", "-o", "json").stdout
        assert json.loads(out)["status"]["state"] == "ready"
        # A deployment that serves is never replaced by a creation.
        dup = _mlship(server, "deploy", "create", name, bad, check=False)
        assert dup.returncode != 0 and "already exists" in dup.stderr, dup.stderr
        r = requests.post(deployment_url(server), json={"name": name, "model": bad}, timeout=30)
        assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS", "already exists")
        assert wait_ready(server, name)["spec"]["model"] == good
    finally:
        delete_deployment(server, name)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def standalone(server, tmp_path):
    """Starts `mlship serve` processes and stops them after the test."""
    procs = []

    def start(*args):
        port = _free_port()
        binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(MLSHIP_PYTHON=sys.executable, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true")
        log = open(tmp_path / f"serve-{port}.log", "wb")
        p = subprocess.Popen(
            [binary, "serve", *args, "--port", str(port), "--cache-dir", str(tmp_path / "cache"), "--workers", "1",
             "--worker-env", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        procs.append(p)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert p.poll() is None, (tmp_path / f"serve-{port}.log").read_text()[-3000:]
            try:
                if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / f"serve-{port}.log").read_text()[-3000:]
            time.sleep(0.2)

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def test_mlship_serve_by_alias_from_the_server(server, registered, models, data, standalone):
    X, _ = data
    url = standalone(f"models:/{registered}@production", "--server", server.url)
    assert requests.get(url + "/ping", timeout=10).status_code == 200
    assert requests.get(url + "/version", timeout=10).status_code == 200
    df = X.iloc[:4]
    r = requests.post(url + "/invocations", json={"dataframe_split": df.to_dict(orient="split")}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": models["1"].predict(df).tolist()}
    r = requests.post(
        url + f"/v2/models/{registered}/infer",
        json={"inputs": [{"name": "x", "shape": [4, N_FEATURES], "datatype": "FP64", "data": df.to_numpy().ravel().tolist()}]},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == models["1"].predict(df).tolist()
    assert "mlship_inference_requests_total" in requests.get(url + "/metrics", timeout=10).text


def _serve(tmp_path, *args, **kw):
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLSHIP_PYTHON=sys.executable)
    cmd = [binary, "serve", *args, "--port", str(_free_port()), "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    return cmd, env


def test_mlship_serve_a_local_model_that_cannot_load_exits_1(tmp_path):
    """Its files will not change, so it exits as `mlflow models serve` does, not 503 forever."""
    model_dir = tmp_path / "raising-model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_raising_loader\n    code: code\n"
    )
    (model_dir / "code" / "mlship_raising_loader.py").write_text(
        "def _load_pyfunc(path):\n    raise RuntimeError('this model refuses to load')\n"
    )
    (tmp_path / "garbage.onnx").write_bytes(b"not an onnx model")
    for path, says in [(model_dir, "this model refuses to load"), (tmp_path / "garbage.onnx", "invalid ONNX model")]:
        cmd, env = _serve(tmp_path, str(path))
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=READY_TIMEOUT_S)
        assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
        last = p.stderr.strip().splitlines()[-1]
        assert last.startswith("mlship: ") and "cannot be served" in last and says in last, last


def test_mlship_serve_by_alias_outlives_a_version_that_cannot_load(server, tmp_path):
    """An alias may move to a version that loads, so a models:/ reference keeps serving 503."""
    cmd, env = _serve(tmp_path, _raising_version(tmp_path), "--server", server.url)
    port = cmd[cmd.index("--port") + 1]
    with open(tmp_path / "serve.log", "wb") as log:
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: b"failed to load" in (tmp_path / "serve.log").read_bytes(), "the load error")
        time.sleep(1)
        assert p.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=10).status_code == 503
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_mlship_serve_a_local_directory(models, data, standalone, tmp_path):
    X, _ = data
    path = tmp_path / "local-model"
    mlflow.sklearn.save_model(
        models["2"], str(path), signature=infer_signature(X, models["2"].predict(X)), skops_trusted_types=TRUSTED,
        pip_requirements=pinned("scikit-learn", "skops"),
    )
    url = standalone(str(path))
    df = X.iloc[5:8]
    r = requests.post(url + "/invocations", data=_csv(df), headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": models["2"].predict(df).tolist()}
    r = requests.post(url + "/v1/models/local-model:predict", json={"instances": df.to_numpy().tolist()}, timeout=60)
    assert r.status_code == 200, r.text
