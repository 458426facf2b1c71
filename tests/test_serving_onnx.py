"""The native ONNX runtime: a scikit-learn model converted with skl2onnx and logged with
mlflow.onnx.log_model is registered, deployed, and answers with onnxruntime's results."""

from __future__ import annotations

import time

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import requests
from helpers import unique_name

pytestmark = pytest.mark.mlship_only

N_FEATURES = 20


@pytest.fixture(scope="module")
def onnx_model():
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = make_classification(n_samples=600, n_features=N_FEATURES, n_informative=8, n_classes=3, random_state=1)
    X = X.astype(np.float32)
    clf = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y)
    onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    return onx, X


@pytest.fixture(scope="module")
def reference(onnx_model):
    import onnxruntime as ort

    onx, _ = onnx_model
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess


@pytest.fixture(scope="module")
def deployed_onnx(server, onnx_model):
    onx, _ = onnx_model
    name = unique_name("onnx-gb")
    with mlflow.start_run():
        mlflow.onnx.log_model(onx, name="model", registered_model_name=name)
    dep = unique_name("onnxdep")
    r = requests.post(f"{server.url}/api/v1/deployments", json={"name": dep, "model": f"models:/{name}/1"}, timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while True:
        d = requests.get(f"{server.url}/api/v1/deployments/{dep}", timeout=10).json()
        if d["status"]["state"] == "ready":
            break
        assert d["status"]["state"] != "failed" and time.monotonic() < deadline, d
        time.sleep(0.1)
    assert d["status"]["models"][0]["runtime"] == "onnx"
    yield dep
    requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=30)


def _check(outputs, expected_label, expected_proba):
    got = {o["name"]: o for o in outputs}
    assert np.asarray(got["label"]["data"]).tolist() == expected_label.tolist()
    proba = np.asarray(got["probabilities"]["data"], dtype=np.float32).reshape(expected_proba.shape)
    np.testing.assert_allclose(proba, expected_proba, rtol=1e-5, atol=1e-6)


def test_oip_v2_equals_onnxruntime(server, deployed_onnx, onnx_model, reference):
    _, X = onnx_model
    rng = np.random.default_rng()
    rows = (X[rng.integers(0, len(X), 16)] + rng.normal(0, 0.1, (16, N_FEATURES))).astype(np.float32)
    label, proba = reference.run(None, {"X": rows})
    body = {"inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
    r = requests.post(f"{server.url}/v2/models/{deployed_onnx}/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    _check(r.json()["outputs"], label, proba)
    meta = requests.get(f"{server.url}/v2/models/{deployed_onnx}", timeout=10).json()
    assert meta["platform"] == "onnx_onnxv1"
    assert [i["name"] for i in meta["inputs"]] == ["X"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_equals_onnxruntime(server, deployed_onnx, onnx_model, reference, binary):
    import tritonclient.http as httpclient

    _, X = onnx_model
    rows = X[:32]
    label, proba = reference.run(None, {"X": rows})
    client = httpclient.InferenceServerClient(url=f"{server.host}:{server.port}")
    inp = httpclient.InferInput("X", list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows, binary_data=binary)
    outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer(deployed_onnx, inputs=[inp], outputs=outs)
    assert result.as_numpy("label").tolist() == label.tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_compressed_request(server, deployed_onnx, onnx_model, reference, binary, algorithm):
    import tritonclient.http as httpclient

    _, X = onnx_model
    rows = X[40:56]
    label, proba = reference.run(None, {"X": rows})
    client = httpclient.InferenceServerClient(url=f"{server.host}:{server.port}")
    inp = httpclient.InferInput("X", list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows, binary_data=binary)
    outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer(deployed_onnx, inputs=[inp], outputs=outs, request_compression_algorithm=algorithm)
    assert result.as_numpy("label").tolist() == label.tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba, rtol=1e-5, atol=1e-6)


def test_compressed_bodies_on_every_inference_route(server, deployed_onnx, onnx_model):
    import gzip
    import json
    import zlib

    _, X = onnx_model
    rows = X[:2].tolist()
    calls = {
        f"/v2/models/{deployed_onnx}/infer": {
            "inputs": [{"name": "X", "shape": [2, N_FEATURES], "datatype": "FP32", "data": sum(rows, [])}]
        },
        f"/deployments/{deployed_onnx}/invocations": {"inputs": {"X": rows}},
        f"/v1/models/{deployed_onnx}:predict": {"instances": rows},
    }
    for path, body in calls.items():
        raw = json.dumps(body).encode()
        for encoding, data in (("gzip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
            r = requests.post(
                f"{server.url}{path}",
                data=data,
                headers={"Content-Type": "application/json", "Content-Encoding": encoding},
                timeout=30,
            )
            assert r.status_code == 200, (path, encoding, r.text)
        r = requests.post(
            f"{server.url}{path}", data=raw, headers={"Content-Type": "application/json", "Content-Encoding": "br"}, timeout=30
        )
        assert r.status_code == 415, (path, r.text)
        assert "br" in r.text
        # a few kilobytes that inflate past the 64 MiB request limit
        bomb = gzip.compress(b" " * (65 << 20), compresslevel=9)
        r = requests.post(
            f"{server.url}{path}",
            data=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            timeout=60,
        )
        assert r.status_code == 413, (path, r.text)


def test_wrong_method_on_infer_is_a_json_405(server, deployed_onnx):
    for path in (f"/v2/models/{deployed_onnx}/infer", f"/v2/models/{deployed_onnx}/versions/1/infer"):
        r = requests.get(f"{server.url}{path}", timeout=10)
        assert r.status_code == 405, r.text
        assert r.headers["Content-Type"].startswith("application/json")
        assert "POST" in r.json()["error"]
        assert r.headers["Allow"] == "POST"


def test_bool_data_for_an_fp32_input_is_400(server, deployed_onnx):
    inp = {"name": "X", "shape": [1, N_FEATURES], "datatype": "BOOL", "data": [True] * N_FEATURES}
    r = requests.post(f"{server.url}/v2/models/{deployed_onnx}/infer", json={"inputs": [inp]}, timeout=30)
    assert r.status_code == 400, r.text
    assert "FP32" in r.json()["error"] and "BOOL" in r.json()["error"]


def test_invocations_equals_onnxruntime(server, deployed_onnx, onnx_model, reference):
    _, X = onnx_model
    rows = X[100:110]
    label, proba = reference.run(None, {"X": rows})
    r = requests.post(
        f"{server.url}/deployments/{deployed_onnx}/invocations", json={"inputs": {"X": rows.tolist()}}, timeout=30
    )
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert preds["label"] == label.tolist()
    np.testing.assert_allclose(np.asarray(preds["probabilities"], dtype=np.float32), proba, rtol=1e-5, atol=1e-6)


def test_wrong_input_name_and_shape_are_400(server, deployed_onnx):
    for inp in (
        {"name": "nope", "shape": [1, N_FEATURES], "datatype": "FP32", "data": [0.0] * N_FEATURES},
        {"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [0.0] * 3},
    ):
        r = requests.post(f"{server.url}/v2/models/{deployed_onnx}/infer", json={"inputs": [inp]}, timeout=30)
        assert r.status_code == 400, r.text
        assert "error" in r.json()


def test_mlship_serve_a_bare_onnx_file(onnx_model, reference, tmp_path):
    import os
    import socket
    import subprocess
    from pathlib import Path

    onx, X = onnx_model
    path = tmp_path / "gb.onnx"
    path.write_bytes(onx.SerializeToString())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = os.environ.get("MLSHIP_BIN") or str(Path(__file__).resolve().parent.parent / "bin" / "mlship")
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([binary, "serve", str(path), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        rows = X[:5]
        label, proba = reference.run(None, {"X": rows})
        body = {"inputs": [{"name": "X", "shape": [5, N_FEATURES], "datatype": "FP32", "data": rows.ravel().tolist()}]}
        r = requests.post(url + "/v2/models/gb/infer", json=body, timeout=30)
        assert r.status_code == 200, r.text
        _check(r.json()["outputs"], label, proba)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
