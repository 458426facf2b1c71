"""Serving: deployments that follow an alias, driven by the clients users have.

A scikit-learn model is logged and registered with the mlflow client, deployed by alias,
and queried through the Open Inference Protocol (tritonclient, binary and JSON), MLflow's
/invocations (every input format) and KServe v1. Every answer must equal scikit-learn's
own prediction exactly. Following an alias under traffic is in test_serving_traffic.py,
the command line (`mlship deploy`, `mlship serve`) in test_serving_cli.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import mlflow
import pytest
import requests
from helpers import raw_request, unique_name
# The module fixtures (data, models, registered, deployed) are used by name.
from serving_common import (  # noqa: F401
    N_FEATURES, data, models, registered, deployed, deployment_url, create_deployment,
    delete_deployment, oip_infer, oip_values, _invocations, _csv,
)

pytestmark = pytest.mark.mlship_only


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
