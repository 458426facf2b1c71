"""The native ONNX runtime: a scikit-learn model converted with skl2onnx and logged with
mlflow.onnx.log_model is registered, deployed, and answers with onnxruntime's results."""

from __future__ import annotations

import time

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import requests
from helpers import pinned, unique_name

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
        mlflow.onnx.log_model(onx, name="model", registered_model_name=name, pip_requirements=pinned("onnx"))
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


# ---- k nearest neighbours and text pipelines, as skl2onnx converts them ----------------------


def _deploy(server, onx, prefix):
    name = unique_name(prefix)
    with mlflow.start_run():
        mlflow.onnx.log_model(onx, name="model", registered_model_name=name, pip_requirements=pinned("onnx"))
    dep = unique_name(prefix + "dep")
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
    return dep


TEXTS = [
    "the cat sat on the mat",
    "Dogs bark at the quick brown fox",
    "a naïve CAT, an éclair!",
    "",
    "dog dog DOG cat",
    "well-known e-mail from the U.S.A.",
    "ΣΟΦΙΑ and straße",
]


@pytest.fixture(scope="module")
def text_model():
    """A TF-IDF and logistic regression pipeline over one text column: skl2onnx writes
    StringNormalizer, Tokenizer and TfIdfVectorizer. The model served is the converter's
    default; onnxruntime runs the same model with a locale this machine surely has."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(3)
    words = np.array(" ".join(TEXTS).split() + ["fish", "bird", "tree"])
    docs = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(300)]
    y = [("cat" in d.lower()) + ("dog" in d.lower()) for d in docs]
    vec = TfidfVectorizer(ngram_range=(1, 2))
    clf = LogisticRegression(max_iter=500)
    pipe = make_pipeline(vec, clf).fit(docs, y)
    types = [("text", StringTensorType([None, 1]))]
    served = to_onnx(pipe, initial_types=types, options={id(clf): {"zipmap": False}})
    ref = to_onnx(pipe, initial_types=types, options={id(clf): {"zipmap": False}, id(vec): {"locale": "C.UTF-8"}})
    import onnxruntime as ort

    sess = ort.InferenceSession(ref.SerializeToString(), providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in served.graph.node}
    assert {"StringNormalizer", "Tokenizer", "TfIdfVectorizer"} <= ops, ops
    return served, sess


@pytest.fixture(scope="module")
def deployed_text(server, text_model):
    dep = _deploy(server, text_model[0], "onnx-text")
    yield dep
    requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=30)


def test_text_pipeline_oip_equals_onnxruntime(server, deployed_text, text_model):
    _, sess = text_model
    rows = np.array(TEXTS, dtype=object).reshape(-1, 1)
    label, proba = sess.run(None, {"text": rows})
    inp = {"name": "text", "shape": [len(TEXTS), 1], "datatype": "BYTES", "data": TEXTS}
    r = requests.post(f"{server.url}/v2/models/{deployed_text}/infer", json={"inputs": [inp]}, timeout=30)
    assert r.status_code == 200, r.text
    _check(r.json()["outputs"], label, proba)
    meta = requests.get(f"{server.url}/v2/models/{deployed_text}", timeout=10).json()
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1, 1]}]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_text_pipeline_tritonclient_equals_onnxruntime(server, deployed_text, text_model, binary):
    import tritonclient.http as httpclient

    _, sess = text_model
    rows = np.array(TEXTS, dtype=object).reshape(-1, 1)
    label, proba = sess.run(None, {"text": rows})
    client = httpclient.InferenceServerClient(url=f"{server.host}:{server.port}")
    inp = httpclient.InferInput("text", list(rows.shape), "BYTES")
    inp.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=object).reshape(-1, 1), binary_data=binary)
    outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer(deployed_text, inputs=[inp], outputs=outs)
    assert result.as_numpy("label").tolist() == label.tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba, rtol=1e-5, atol=1e-6)


def test_text_pipeline_invocations_equals_onnxruntime(server, deployed_text, text_model):
    _, sess = text_model
    label, proba = sess.run(None, {"text": np.array(TEXTS, dtype=object).reshape(-1, 1)})
    url = f"{server.url}/deployments/{deployed_text}/invocations"
    for body in ({"dataframe_split": {"columns": ["text"], "data": [[t] for t in TEXTS]}},
                 {"dataframe_records": [{"text": t} for t in TEXTS]},
                 {"inputs": {"text": [[t] for t in TEXTS]}}):
        r = requests.post(url, json=body, timeout=30)
        assert r.status_code == 200, (body, r.text)
        preds = r.json()["predictions"]
        assert preds["label"] == label.tolist()
        np.testing.assert_allclose(np.asarray(preds["probabilities"], dtype=np.float32), proba, rtol=1e-5, atol=1e-6)
    csv = "text\n" + "\n".join(f'"{t}"' for t in TEXTS) + "\n"
    r = requests.post(url, data=csv.encode(), headers={"Content-Type": "text/csv"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"]["label"] == label.tolist()


def test_text_pipeline_refuses_numbers(server, deployed_text):
    inp = {"name": "text", "shape": [1, 1], "datatype": "FP32", "data": [1.5]}
    r = requests.post(f"{server.url}/v2/models/{deployed_text}/infer", json={"inputs": [inp]}, timeout=30)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("options", [None, {"zipmap": False}], ids=["zipmap", "nozipmap"])
def test_knn_classifier_equals_onnxruntime(server, options):
    """skl2onnx's default conversion of k nearest neighbours: Scan computes the distances to
    the training rows, TopK picks the nearest."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification
    from sklearn.neighbors import KNeighborsClassifier

    X, y = make_classification(n_samples=200, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=4)
    X = X.astype(np.float32)
    onx = to_onnx(KNeighborsClassifier(5, weights="distance").fit(X, y), X[:1], options=options)
    assert {"Scan", "TopK"} <= {n.op_type for n in onx.graph.node}
    dep = _deploy(server, onx, "onnx-knn")
    try:
        rows = np.random.default_rng().normal(0, 1.5, (12, 5)).astype(np.float32)
        sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
        label, proba = sess.run(None, {"X": rows})
        if isinstance(proba, list):  # ZipMap: a list of {class: probability}
            proba = np.array([[p[k] for k in sorted(p)] for p in proba], dtype=np.float32)
        r = requests.post(f"{server.url}/deployments/{dep}/invocations", json={"inputs": rows.tolist()}, timeout=30)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        got = {k: np.asarray(v) for k, v in preds.items()}
        names = ("label", "probabilities") if options else ("output_label", "output_probability")
        assert got[names[0]].tolist() == label.tolist()
        np.testing.assert_allclose(got[names[1]].astype(np.float32), proba, rtol=1e-5, atol=1e-6)
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=30)


def test_csv_of_digits_to_a_string_input_stays_strings(server, deployed_text, text_model):
    """CSV columns take the types of the model's inputs: digits with leading zeros sent
    to a string input are strings, as the graph takes them, not integers it refuses."""
    _, sess = text_model
    zips = ["02139", "00501", "94110"]
    label, proba = sess.run(None, {"text": np.array(zips, dtype=object).reshape(-1, 1)})
    r = requests.post(f"{server.url}/deployments/{deployed_text}/invocations", data="text\n" + "\n".join(zips) + "\n",
                      headers={"Content-Type": "text/csv"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"]["label"] == label.tolist()
    np.testing.assert_allclose(np.asarray(r.json()["predictions"]["probabilities"], dtype=np.float32), proba, rtol=1e-5, atol=1e-6)
